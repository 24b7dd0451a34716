/* expr.h - expression graph of a model's equations, compiled to a tape.
 *
 * A graph is an arena of nodes. Constructors hash-cons (an identical node is
 * returned, not built again: common-subexpression elimination) and fold
 * constants (2*3 -> 6, x*1 -> x, x+0 -> x, x*0 -> 0). Nodes are ints;
 * a negative node means an earlier construction failed (the error sticks to
 * the graph and is reported by rkin_graph_error). */
#ifndef RKIN_EXPR_H
#define RKIN_EXPR_H

#include <stddef.h>

#include "err.h"

typedef enum {
  RKIN_OP_CONST,  /* a number */
  RKIN_OP_TIME,   /* t, h */
  RKIN_OP_STATE,  /* y[i] */
  RKIN_OP_PARAM,  /* p[i] */
  RKIN_OP_NEG,
  RKIN_OP_ADD,
  RKIN_OP_SUB,
  RKIN_OP_MUL,
  RKIN_OP_DIV,
  RKIN_OP_POW,
  RKIN_OP_EXP,
  RKIN_OP_LOG,
  RKIN_OP_SQRT,
  RKIN_OP_ABS,
  RKIN_OP_MIN,
  RKIN_OP_MAX
} rkin_op;

typedef int rkin_node;
typedef struct rkin_graph rkin_graph;

rkin_graph *rkin_graph_new(void);
void rkin_graph_free(rkin_graph *g);
/* 0, or the first construction error (message in err). */
int rkin_graph_error(const rkin_graph *g, rkin_err *err);
size_t rkin_graph_size(const rkin_graph *g);

rkin_node rkin_expr_const(rkin_graph *g, double v);
rkin_node rkin_expr_time(rkin_graph *g);
rkin_node rkin_expr_state(rkin_graph *g, int i);
rkin_node rkin_expr_param(rkin_graph *g, int i);
rkin_node rkin_expr_unary(rkin_graph *g, rkin_op op, rkin_node a);
rkin_node rkin_expr_binary(rkin_graph *g, rkin_op op, rkin_node a, rkin_node b);

/* Symbolic derivative d f / d x, x a STATE, PARAM or TIME leaf. */
rkin_node rkin_expr_diff(rkin_graph *g, rkin_node f, rkin_node x);

rkin_op rkin_expr_op(const rkin_graph *g, rkin_node n);
/* 1 and *v set when n is a constant. */
int rkin_expr_is_const(const rkin_graph *g, rkin_node n, double *v);
/* 1 when n depends on the leaf x (STATE i, PARAM i or TIME). */
int rkin_expr_depends(const rkin_graph *g, rkin_node n, rkin_node x);
/* 1 when n depends on any STATE leaf / on TIME. */
int rkin_expr_has_state(const rkin_graph *g, rkin_node n);
int rkin_expr_has_time(const rkin_graph *g, rkin_node n);

/* Writes n as infix text ("kPI * P - kIP * I") into buf, naming leaves
 * through the arrays given (NULL arrays print y[i] / p[i]); for messages. */
void rkin_expr_format(const rkin_graph *g, rkin_node n,
                      const char *const *state_names,
                      const char *const *param_names, char *buf, size_t size);

/* A compiled, flat instruction list evaluating several output nodes at
 * once, each shared subexpression once. Independent of the graph once made;
 * immutable, so threads may share one. */
typedef struct rkin_tape rkin_tape;

rkin_tape *rkin_tape_compile(const rkin_graph *g, const rkin_node *out,
                             size_t n_out, rkin_err *err);
void rkin_tape_free(rkin_tape *tp);
size_t rkin_tape_nwork(const rkin_tape *tp);   /* doubles of scratch */
size_t rkin_tape_nout(const rkin_tape *tp);
size_t rkin_tape_ninstr(const rkin_tape *tp);
/* out[k] = value of output k at (t, y, p); work has rkin_tape_nwork
 * doubles. Returns -1 - k for the first output k that is not finite,
 * else 0 (all finite). */
int rkin_tape_eval(const rkin_tape *tp, double t, const double *y,
                   const double *p, double *work, double *out);

#endif
