/* expr.h - expression graph of a model's equations, compiled to a tape.
 *
 * A graph is an arena of nodes. Constructors hash-cons (an identical node is
 * returned, not built again: common-subexpression elimination) and fold
 * constants (2*3 -> 6, x*1 -> x, x+0 -> x, x*0 -> 0, 0/x -> 0). Nodes are ints;
 * a negative node means an earlier construction failed (the error sticks to
 * the graph and is reported by rkin_graph_error). */
#ifndef RKIN_EXPR_H
#define RKIN_EXPR_H

#include <stddef.h>

#include "core/err.h"

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
  RKIN_OP_MAX,
  RKIN_OP_SIGN,   /* -1, 0 or 1; derivative taken as 0 */
  RKIN_OP_STEP,   /* Heaviside: 0 below 0, 1/2 at 0, 1 above; derivative 0 */
  /* Conditions (boolean nodes, valued 1 or 0; NaN when an operand is NaN).
   * They are no numbers: arithmetic on them is refused, and their only
   * consumers are AND, OR, NOT and the condition of IFELSE. */
  RKIN_OP_LT,
  RKIN_OP_LE,
  RKIN_OP_GT,
  RKIN_OP_GE,
  RKIN_OP_AND,
  RKIN_OP_OR,
  RKIN_OP_NOT,
  RKIN_OP_IFELSE, /* ifelse(c, a, b): a where c holds, else b */
  /* Functions of the MathML that SBML models use (after IFELSE so the
   * numbers above stay); floor and ceiling have derivative 0, and so has
   * factorial (MathML defines it on integers, so in a model its argument
   * is piecewise constant; evaluated as tgamma(x + 1)). */
  RKIN_OP_SIN,
  RKIN_OP_COS,
  RKIN_OP_TAN,
  RKIN_OP_ASIN,
  RKIN_OP_ACOS,
  RKIN_OP_ATAN,
  RKIN_OP_FLOOR,
  RKIN_OP_CEIL,
  RKIN_OP_FACT
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
/* ifelse(cond, a, b): cond must be a condition (a comparison, AND, OR or
 * NOT), a and b numbers; otherwise RKIN_EINVAL recorded in the graph.
 * Folds when cond is constant or a == b. Comparisons and AND/OR are made
 * by rkin_expr_binary, NOT by rkin_expr_unary; a comparison of two
 * constants stays a condition (it folds inside ifelse). */
rkin_node rkin_expr_ifelse(rkin_graph *g, rkin_node cond, rkin_node a,
                           rkin_node b);
/* 1 when n is a condition (boolean node). */
int rkin_expr_is_bool(const rkin_graph *g, rkin_node n);
/* The comparison nodes reachable from f[0..nf-1] that depend on a state or
 * on time (the switching surfaces of a right-hand side), in graph order,
 * into a malloc'd array (*out, *n_out; NULL and 0 when there are none).
 * RKIN_ENOMEM or 0. */
int rkin_expr_switches(const rkin_graph *g, const rkin_node *f, size_t nf,
                       rkin_node **out, size_t *n_out);

/* Symbolic derivative d f / d x, x a STATE, PARAM or TIME leaf.
 * Where f is not differentiable the result is a one-sided or averaged
 * choice: abs' = sign (0 at 0); min/max follow the selected argument and
 * average the two at a tie; sign' = step' = 0; ifelse(c, a, b)' =
 * ifelse(c, a', b') (piecewise: the switch itself contributes nothing;
 * the integrator stops at it). A condition has no derivative. */
rkin_node rkin_expr_diff(rkin_graph *g, rkin_node f, rkin_node x);

/* The op of n; (rkin_op)-1 for an invalid node. */
rkin_op rkin_expr_op(const rkin_graph *g, rkin_node n);
/* Child k (0, 1, or 2 for IFELSE: cond, a, b) of an operator node, or -1
 * when it has none. */
rkin_node rkin_expr_arg(const rkin_graph *g, rkin_node n, int k);
/* Index i of a STATE or PARAM leaf, or -1 for any other node. */
int rkin_expr_index(const rkin_graph *g, rkin_node n);
/* Highest STATE / PARAM index n uses, or -1 when it uses none. */
int rkin_expr_max_state(const rkin_graph *g, rkin_node n);
int rkin_expr_max_param(const rkin_graph *g, rkin_node n);
/* n with every STATE leaf replaced by 0, folded: a constant 0 result proves
 * n vanishes at y = 0 (no input term). RKIN_ENONFINITE, not recorded in
 * the graph, when a fold meets y = 0 outside its domain (log y); other
 * negative values are graph errors. */
rkin_node rkin_expr_zero_states(rkin_graph *g, rkin_node n);
/* Name of an op as formatted ("add", "exp", ...); for messages. */
const char *rkin_expr_op_name(rkin_op op);
/* 1 and *v set when n is a constant. */
int rkin_expr_is_const(const rkin_graph *g, rkin_node n, double *v);
/* 1 when n depends on the leaf x (STATE i, PARAM i or TIME). */
int rkin_expr_depends(const rkin_graph *g, rkin_node n, rkin_node x);
/* The indices of the STATE (kind RKIN_OP_STATE) or PARAM leaves below
 * n, ascending, each once, into a malloc'd array (*out, *n_out; NULL and
 * 0 for none): one walk of n's cone, so a Jacobian's entries are found in
 * O(nonzeros), not O(n^2). RKIN_EINVAL, RKIN_ENOMEM or 0. */
int rkin_expr_leaves(const rkin_graph *g, rkin_node n, rkin_op kind,
                     int **out, size_t *n_out);
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
/* Arithmetic instructions (leaves and constants are copied into the work
 * array at each call, not executed). */
size_t rkin_tape_ninstr(const rkin_tape *tp);
/* out[k] = value of output k at (t, y, p), y and p at least as long as the
 * highest state / parameter index used + 1; work has rkin_tape_nwork
 * doubles. Returns -1 - k for the first output k that is not finite,
 * else 0 (all finite). */
int rkin_tape_eval(const rkin_tape *tp, double t, const double *y,
                   const double *p, double *work, double *out);

#endif
