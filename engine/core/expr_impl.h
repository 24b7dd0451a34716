/* expr_impl.h - the node layout shared by expr.c and tape.c (private, not
 * installed). */
#ifndef RKIN_EXPR_IMPL_H
#define RKIN_EXPR_IMPL_H

#include <stdint.h>

#include "core/expr.h"

enum {
  RKIN_EXPR_HAS_STATE = 1,
  RKIN_EXPR_HAS_TIME = 2,
  RKIN_EXPR_HAS_PARAM = 4,
  RKIN_EXPR_BOOL = 8        /* the node itself is a condition; not inherited */
};

/* One node. a, b (and c for IFELSE: a the condition, b, c the values):
 * children (operators) or the index (STATE, PARAM). The
 * summary fields are filled once, from the children, so that dependency
 * questions cost O(1): smask/pmask have bit (i mod 64) set for every state
 * / parameter i below the node. */
typedef struct {
  unsigned char op;
  unsigned char flags;
  int a, b, c;
  int max_state, max_param;
  double v;
  uint64_t smask, pmask;
} rkin_expr_node;

struct rkin_graph {
  rkin_expr_node *nodes;   /* children always precede their parents */
  size_t n, cap;
  int *table;              /* open addressing, node + 1, 0 = empty */
  size_t tcap;
  int max_state, max_param;
  rkin_err err;            /* the first construction error */
};

/* Number of children of op: 0 (leaves), 1, 2 or 3 (IFELSE). */
int rkin_expr_nkids(int op);

double rkin_expr_apply1(rkin_op op, double a);
double rkin_expr_apply2(rkin_op op, double a, double b);

#endif
