/* tape.c - an expression graph flattened to an instruction list.
 *
 * Only nodes reachable from the outputs are kept, in graph order (children
 * first), so every shared subexpression is computed once. The work array
 * starts with the leaves, copied in at each call, so instructions are pure
 * arithmetic on work slots and the dispatch loop runs only over operators:
 *
 *   [ y (ny) | p (np) | t | constants (nc) | one slot per instruction ]
 */
#include "core/expr.h"
#include "core/expr_impl.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/tape_impl.h"

static int is_square(const rkin_graph *g, const rkin_expr_node *e)
{
  return e->op == RKIN_OP_POW && g->nodes[e->b].op == RKIN_OP_CONST
         && g->nodes[e->b].v == 2.0;
}

static int has_kids(int op)
{
  return op >= RKIN_OP_NEG;
}

static int has_two(int op)
{
  return rkin_expr_nkids(op) >= 2;
}

/* Marks what the outputs need: one backward pass suffices because every
 * child has a smaller index than its parent. */
static void mark(const rkin_graph *g, int *slot, size_t top)
{
  size_t k = top;
  while (k-- > 0) {
    const rkin_expr_node *e = &g->nodes[k];
    if (slot[k] < 0 || !has_kids(e->op)) continue;
    slot[e->a] = 0;
    if (has_two(e->op) && !is_square(g, e)) slot[e->b] = 0;
    if (e->op == RKIN_OP_IFELSE) slot[e->c] = 0;
  }
}

/* Sizes the leaf area from the marked leaves. */
static void count_leaves(const rkin_graph *g, const int *slot, size_t top,
                         rkin_tape *tp)
{
  size_t k;
  for (k = 0; k < top; k++) {
    const rkin_expr_node *e = &g->nodes[k];
    if (slot[k] < 0) continue;
    if (e->op == RKIN_OP_STATE && (size_t)e->a + 1 > tp->ny)
      tp->ny = (size_t)e->a + 1;
    else if (e->op == RKIN_OP_PARAM && (size_t)e->a + 1 > tp->np)
      tp->np = (size_t)e->a + 1;
    else if (e->op == RKIN_OP_CONST)
      tp->nc++;
    else if (has_kids(e->op))
      tp->n_instr++;
  }
}

/* Gives every marked node its work slot and writes constants and
 * instructions. */
static void lay_out(const rkin_graph *g, int *slot, size_t top,
                    rkin_tape *tp)
{
  size_t k, nc = 0, ni = 0, cbase = tp->ny + tp->np + 1;
  size_t ibase = cbase + tp->nc;
  for (k = 0; k < top; k++) {
    const rkin_expr_node *e = &g->nodes[k];
    instr *in;
    if (slot[k] < 0) continue;
    switch ((rkin_op)e->op) {
    case RKIN_OP_STATE: slot[k] = e->a; continue;
    case RKIN_OP_PARAM: slot[k] = (int)tp->ny + e->a; continue;
    case RKIN_OP_TIME: slot[k] = (int)(tp->ny + tp->np); continue;
    case RKIN_OP_CONST:
      tp->consts[nc] = e->v;
      slot[k] = (int)(cbase + nc++);
      continue;
    default:
      break;
    }
    in = &tp->code[ni];
    slot[k] = (int)(ibase + ni++);
    in->op = is_square(g, e) ? T_SQR : e->op;
    in->a = slot[e->a];
    in->b = has_two(e->op) && !is_square(g, e) ? slot[e->b] : 0;
    if (e->op == RKIN_OP_IFELSE) tp->third[ni - 1] = slot[e->c];
  }
}

rkin_tape *rkin_tape_compile(const rkin_graph *g, const rkin_node *out,
                             size_t n_out, rkin_err *err)
{
  rkin_tape *tp = NULL;
  int *slot = NULL;
  size_t k, top = 0;
  if (!g) {
    rkin_err_set(err, RKIN_EINVAL, "tape: expression graph is NULL");
    return NULL;
  }
  if (g->err.code) {
    rkin_graph_error(g, err);
    return NULL;
  }
  if (n_out > 0 && !out) {
    rkin_err_set(err, RKIN_EINVAL, "tape: %zu outputs but no node array",
                 n_out);
    return NULL;
  }
  for (k = 0; k < n_out; k++) {
    if (out[k] < 0 || (size_t)out[k] >= g->n) {
      rkin_err_set(err, RKIN_EINVAL, "tape: output %zu is node %d, not a "
                   "node of the graph (0..%zu)", k, out[k],
                   g->n ? g->n - 1 : 0);
      return NULL;
    }
    if ((size_t)out[k] + 1 > top) top = (size_t)out[k] + 1;
  }
  tp = calloc(1, sizeof *tp);
  slot = malloc((top ? top : 1) * sizeof *slot);
  if (!tp || !slot) goto nomem;
  for (k = 0; k < top; k++) slot[k] = -1;
  for (k = 0; k < n_out; k++) slot[out[k]] = 0;
  mark(g, slot, top);
  count_leaves(g, slot, top, tp);
  tp->n_out = n_out;
  tp->consts = malloc((tp->nc ? tp->nc : 1) * sizeof *tp->consts);
  tp->code = malloc((tp->n_instr ? tp->n_instr : 1) * sizeof *tp->code);
  tp->out_slot = malloc((n_out ? n_out : 1) * sizeof *tp->out_slot);
  if (!tp->consts || !tp->code || !tp->out_slot) goto nomem;
  for (k = 0; k < top; k++)
    if (slot[k] >= 0 && g->nodes[k].op == RKIN_OP_IFELSE) {
      if (!(tp->third = calloc(tp->n_instr, sizeof *tp->third))) goto nomem;
      break;
    }
  lay_out(g, slot, top, tp);
  for (k = 0; k < n_out; k++) tp->out_slot[k] = slot[out[k]];
  free(slot);
  return tp;
nomem:
  free(slot);
  rkin_tape_free(tp);
  rkin_err_set(err, RKIN_ENOMEM, "tape: out of memory compiling %zu outputs",
               n_out);
  return NULL;
}

void rkin_tape_free(rkin_tape *tp)
{
  if (!tp) return;
  free(tp->consts);
  free(tp->code);
  free(tp->out_slot);
  free(tp->third);
  free(tp);
}

size_t rkin_tape_nwork(const rkin_tape *tp)
{
  return tp ? tp->ny + tp->np + 1 + tp->nc + tp->n_instr : 0;
}

size_t rkin_tape_nout(const rkin_tape *tp)
{
  return tp ? tp->n_out : 0;
}

size_t rkin_tape_ninstr(const rkin_tape *tp)
{
  return tp ? tp->n_instr : 0;
}

int rkin_tape_eval(const rkin_tape *tp, double t, const double *y,
                   const double *p, double *work, double *out)
{
  const instr *in = tp->code, *end = tp->code + tp->n_instr;
  double *w = work + tp->ny + tp->np + 1 + tp->nc;
  size_t k, n_out = tp->n_out;
  int bad = 0;
  if (tp->fn) {
    tp->fn(t, y, p, out);
    goto check;
  }
  if (tp->ny) memcpy(work, y, tp->ny * sizeof *work);
  if (tp->np) memcpy(work + tp->ny, p, tp->np * sizeof *work);
  work[tp->ny + tp->np] = t;
  if (tp->nc) memcpy(work + tp->ny + tp->np + 1, tp->consts,
                     tp->nc * sizeof *work);
  for (; in < end; in++, w++) {
    double a = work[in->a], b = work[in->b];
    switch (in->op) {
    case T_NEG: *w = -a; break;
    case T_ADD: *w = a + b; break;
    case T_SUB: *w = a - b; break;
    case T_MUL: *w = a * b; break;
    case T_DIV: *w = a / b; break;
    case T_POW: *w = pow(a, b); break;
    case T_EXP: *w = exp(a); break;
    case T_LOG: *w = log(a); break;
    case T_SQRT: *w = sqrt(a); break;
    case T_ABS: *w = fabs(a); break;
    case T_MIN: *w = rkin_expr_apply2(RKIN_OP_MIN, a, b); break;
    case T_MAX: *w = rkin_expr_apply2(RKIN_OP_MAX, a, b); break;
    case T_SIGN: *w = rkin_expr_apply1(RKIN_OP_SIGN, a); break;
    case T_STEP: *w = rkin_expr_apply1(RKIN_OP_STEP, a); break;
    case T_SQR: *w = a * a; break;
    case T_LT: case T_LE: case T_GT: case T_GE: case T_AND: case T_OR:
      *w = rkin_expr_apply2((rkin_op)in->op, a, b);
      break;
    case T_NOT: *w = rkin_expr_apply1(RKIN_OP_NOT, a); break;
    case T_SIN: *w = sin(a); break;
    case T_COS: *w = cos(a); break;
    case T_TAN: *w = tan(a); break;
    case T_ASIN: *w = asin(a); break;
    case T_ACOS: *w = acos(a); break;
    case T_ATAN: *w = atan(a); break;
    case T_FLOOR: *w = floor(a); break;
    case T_CEIL: *w = ceil(a); break;
    case T_FACT: *w = tgamma(a + 1.0); break;
    /* Both values were computed (a tape has no jumps); only the chosen
     * one reaches the result, so a NaN in the other branch is harmless. */
    case T_IFELSE:
      *w = a != 0 ? (isnan(a) ? a : b) : work[tp->third[in - tp->code]];
      break;
    }
  }
  for (k = 0; k < n_out; k++) out[k] = work[tp->out_slot[k]];
check:
  /* Independent compares, no serial chain: one branch for all outputs. */
  for (k = 0; k < n_out; k++) bad |= !(fabs(out[k]) <= DBL_MAX);
  if (!bad) return 0;
  for (k = 0; k < n_out; k++)
    if (!isfinite(out[k])) return -1 - (int)k;
  return 0;
}
