/* expr.c - expression graph: hash-consed, constant-folded nodes, symbolic
 * derivatives, infix formatting. The tape lives in tape.c. */
#include "core/expr.h"
#include "core/expr_impl.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES0 64
#define TABLE0 128

static const char *const op_names[] = {
  "const", "time", "state", "param", "neg", "add", "sub", "mul", "div",
  "pow", "exp", "log", "sqrt", "abs", "min", "max", "sign", "step",
  "lt", "le", "gt", "ge", "and", "or", "not", "ifelse",
  "sin", "cos", "tan", "asin", "acos", "atan", "floor", "ceil", "factorial"
};

const char *rkin_expr_op_name(rkin_op op)
{
  if ((unsigned)op >= sizeof op_names / sizeof op_names[0]) return "?";
  return op_names[op];
}

rkin_graph *rkin_graph_new(void)
{
  rkin_graph *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->nodes = malloc(NODES0 * sizeof *g->nodes);
  g->table = calloc(TABLE0, sizeof *g->table);
  if (!g->nodes || !g->table) {
    rkin_graph_free(g);
    return NULL;
  }
  g->cap = NODES0;
  g->tcap = TABLE0;
  g->max_state = -1;
  g->max_param = -1;
  return g;
}

void rkin_graph_free(rkin_graph *g)
{
  if (!g) return;
  free(g->nodes);
  free(g->table);
  free(g);
}

int rkin_graph_error(const rkin_graph *g, rkin_err *err)
{
  if (!g) return rkin_err_set(err, RKIN_EINVAL, "expression graph is NULL");
  if (g->err.code == 0) return 0;
  if (err) *err = g->err;
  return g->err.code;
}

size_t rkin_graph_size(const rkin_graph *g)
{
  return g ? g->n : 0;
}

/* Records the first error only: later ones are usually its consequences. */
static int fail(rkin_graph *g, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(rkin_graph *g, int code, const char *fmt, ...)
{
  if (g->err.code == 0) {
    va_list ap;
    va_start(ap, fmt);
    g->err.code = code;
    vsnprintf(g->err.msg, sizeof g->err.msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

static int is_unary(rkin_op op)
{
  return op == RKIN_OP_NEG || op == RKIN_OP_EXP || op == RKIN_OP_LOG
         || op == RKIN_OP_SQRT || op == RKIN_OP_ABS || op == RKIN_OP_SIGN
         || op == RKIN_OP_STEP || op == RKIN_OP_NOT
         || (op >= RKIN_OP_SIN && op <= RKIN_OP_FACT);
}

static int is_compare(rkin_op op)
{
  return op == RKIN_OP_LT || op == RKIN_OP_LE || op == RKIN_OP_GT
         || op == RKIN_OP_GE;
}

static int is_logic(rkin_op op)
{
  return op == RKIN_OP_AND || op == RKIN_OP_OR || op == RKIN_OP_NOT;
}

static int is_binary(rkin_op op)
{
  return op == RKIN_OP_ADD || op == RKIN_OP_SUB || op == RKIN_OP_MUL
         || op == RKIN_OP_DIV || op == RKIN_OP_POW || op == RKIN_OP_MIN
         || op == RKIN_OP_MAX || is_compare(op) || op == RKIN_OP_AND
         || op == RKIN_OP_OR;
}

int rkin_expr_nkids(int op)
{
  if (op == RKIN_OP_IFELSE) return 3;
  if (is_binary((rkin_op)op)) return 2;
  return is_unary((rkin_op)op) ? 1 : 0;
}

/* a op b equals b op a, so both spellings share one node. */
static int commutes(rkin_op op)
{
  return op == RKIN_OP_ADD || op == RKIN_OP_MUL || op == RKIN_OP_MIN
         || op == RKIN_OP_MAX || op == RKIN_OP_AND || op == RKIN_OP_OR;
}

static uint64_t mix(uint64_t h)
{
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static uint64_t key_hash(int op, int a, int b, int c, double v)
{
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  if (commutes((rkin_op)op) && a > b) {
    int t = a;
    a = b;
    b = t;
  }
  return mix(bits ^ mix(((uint64_t)(unsigned)op << 56)
                        ^ ((uint64_t)(unsigned)a << 28) ^ (unsigned)b)
             ^ mix((uint64_t)(unsigned)c));
}

static int same_key(const rkin_expr_node *x, int op, int a, int b, int c,
                    double v)
{
  if (x->op != op) return 0;
  if (op == RKIN_OP_CONST) return memcmp(&x->v, &v, sizeof v) == 0;
  if (x->c != c) return 0;
  if (x->a == a && x->b == b) return 1;
  return commutes((rkin_op)op) && x->a == b && x->b == a;
}

static int grow_table(rkin_graph *g)
{
  size_t cap = g->tcap * 2, i;
  int *t = calloc(cap, sizeof *t);
  if (!t) return RKIN_ENOMEM;
  for (i = 0; i < g->n; i++) {
    const rkin_expr_node *x = &g->nodes[i];
    size_t h = key_hash(x->op, x->a, x->b, x->c, x->v) & (cap - 1);
    while (t[h]) h = (h + 1) & (cap - 1);
    t[h] = (int)i + 1;
  }
  free(g->table);
  g->table = t;
  g->tcap = cap;
  return 0;
}

/* Returns the existing node with this key, or appends a new one whose
 * summary (flags, masks, max indices) is taken from its children. c is
 * the third child of IFELSE, 0 for every other op. */
static rkin_node intern3(rkin_graph *g, int op, int a, int b, int c,
                         double v)
{
  size_t h = key_hash(op, a, b, c, v) & (g->tcap - 1);
  rkin_expr_node *x;
  while (g->table[h]) {
    if (same_key(&g->nodes[g->table[h] - 1], op, a, b, c, v))
      return g->table[h] - 1;
    h = (h + 1) & (g->tcap - 1);
  }
  if (g->n >= (size_t)INT_MAX - 1)
    return fail(g, RKIN_ENOMEM, "expression graph too large (%zu nodes)",
                g->n);
  if (g->n == g->cap) {
    size_t cap = g->cap * 2;
    rkin_expr_node *nn = realloc(g->nodes, cap * sizeof *nn);
    if (!nn)
      return fail(g, RKIN_ENOMEM, "out of memory growing the expression "
                  "graph past %zu nodes", g->n);
    g->nodes = nn;
    g->cap = cap;
  }
  x = &g->nodes[g->n];
  memset(x, 0, sizeof *x);
  x->op = (unsigned char)op;
  x->a = a;
  x->b = b;
  x->c = c;
  x->v = v;
  x->max_state = -1;
  x->max_param = -1;
  if (op == RKIN_OP_TIME) {
    x->flags = RKIN_EXPR_HAS_TIME;
  } else if (op == RKIN_OP_STATE) {
    x->flags = RKIN_EXPR_HAS_STATE;
    x->smask = (uint64_t)1 << (a & 63);
    x->max_state = a;
    if (a > g->max_state) g->max_state = a;
  } else if (op == RKIN_OP_PARAM) {
    x->flags = RKIN_EXPR_HAS_PARAM;
    x->pmask = (uint64_t)1 << (a & 63);
    x->max_param = a;
    if (a > g->max_param) g->max_param = a;
  } else if (op != RKIN_OP_CONST) {
    int k, nk = rkin_expr_nkids(op), kids[3] = { a, b, c };
    for (k = 0; k < nk; k++) {
      const rkin_expr_node *kid;
      if (kids[k] < 0) continue;
      kid = &g->nodes[kids[k]];
      x->flags |= kid->flags;
      x->smask |= kid->smask;
      x->pmask |= kid->pmask;
      if (kid->max_state > x->max_state) x->max_state = kid->max_state;
      if (kid->max_param > x->max_param) x->max_param = kid->max_param;
    }
    x->flags &= (unsigned char)~RKIN_EXPR_BOOL;
    if (is_compare((rkin_op)op) || is_logic((rkin_op)op))
      x->flags |= RKIN_EXPR_BOOL;
  }
  g->table[h] = (int)g->n + 1;
  g->n++;
  if (2 * g->n > g->tcap && grow_table(g))
    return fail(g, RKIN_ENOMEM, "out of memory growing the expression "
                "graph's hash table");
  return (rkin_node)g->n - 1;
}

static rkin_node intern(rkin_graph *g, int op, int a, int b, double v)
{
  return intern3(g, op, a, b, 0, v);
}

/* A negative child is the result of an earlier failure, which is already
 * recorded; an index past the end is a caller's mistake. */
static int check_child(rkin_graph *g, rkin_node n, const char *op)
{
  if (n < 0) {
    if (g->err.code) return g->err.code;
    return fail(g, RKIN_EINVAL, "operand of %s is an invalid node (%d)", op,
                n);
  }
  if ((size_t)n >= g->n)
    return fail(g, RKIN_EINVAL, "operand of %s is node %d, but the graph has "
                "%zu nodes", op, n, g->n);
  return 0;
}

static int node_ok(const rkin_graph *g, rkin_node n)
{
  return g && n >= 0 && (size_t)n < g->n;
}

rkin_node rkin_expr_const(rkin_graph *g, double v)
{
  if (!g) return RKIN_EINVAL;
  if (!isfinite(v))
    return fail(g, RKIN_EINVAL, "constant %g is not finite; expected a "
                "finite number", v);
  return intern(g, RKIN_OP_CONST, 0, 0, v);
}

rkin_node rkin_expr_time(rkin_graph *g)
{
  if (!g) return RKIN_EINVAL;
  return intern(g, RKIN_OP_TIME, 0, 0, 0.0);
}

rkin_node rkin_expr_state(rkin_graph *g, int i)
{
  if (!g) return RKIN_EINVAL;
  if (i < 0)
    return fail(g, RKIN_EINVAL, "state index %d is negative; expected >= 0",
                i);
  return intern(g, RKIN_OP_STATE, i, 0, 0.0);
}

rkin_node rkin_expr_param(rkin_graph *g, int i)
{
  if (!g) return RKIN_EINVAL;
  if (i < 0)
    return fail(g, RKIN_EINVAL, "parameter index %d is negative; expected "
                ">= 0", i);
  return intern(g, RKIN_OP_PARAM, i, 0, 0.0);
}

/* NaN stays NaN in all four (x * 0), so the tape can report it. */
static double sign_of(double x)
{
  return x > 0 ? 1.0 : x < 0 ? -1.0 : x * 0.0;
}

static double step_of(double x)
{
  return x > 0 ? 1.0 : x < 0 ? 0.0 : 0.5 + x * 0.0;
}

static double min_of(double a, double b)
{
  return a < b || isnan(a) ? a : b;
}

static double max_of(double a, double b)
{
  return a > b || isnan(a) ? a : b;
}

double rkin_expr_apply1(rkin_op op, double a)
{
  switch (op) {
  case RKIN_OP_NEG: return -a;
  case RKIN_OP_EXP: return exp(a);
  case RKIN_OP_LOG: return log(a);
  case RKIN_OP_SQRT: return sqrt(a);
  case RKIN_OP_ABS: return fabs(a);
  case RKIN_OP_SIGN: return sign_of(a);
  case RKIN_OP_STEP: return step_of(a);
  case RKIN_OP_NOT: return isnan(a) ? a : a == 0 ? 1.0 : 0.0;
  case RKIN_OP_SIN: return sin(a);
  case RKIN_OP_COS: return cos(a);
  case RKIN_OP_TAN: return tan(a);
  case RKIN_OP_ASIN: return asin(a);
  case RKIN_OP_ACOS: return acos(a);
  case RKIN_OP_ATAN: return atan(a);
  case RKIN_OP_FLOOR: return floor(a);
  case RKIN_OP_CEIL: return ceil(a);
  case RKIN_OP_FACT: return tgamma(a + 1.0);
  default: return NAN;
  }
}

double rkin_expr_apply2(rkin_op op, double a, double b)
{
  switch (op) {
  case RKIN_OP_ADD: return a + b;
  case RKIN_OP_SUB: return a - b;
  case RKIN_OP_MUL: return a * b;
  case RKIN_OP_DIV: return a / b;
  case RKIN_OP_POW: return pow(a, b);
  case RKIN_OP_MIN: return min_of(a, b);
  case RKIN_OP_MAX: return max_of(a, b);
  /* A NaN operand gives NaN, so that it reaches the output instead of
   * silently choosing a branch. */
  case RKIN_OP_LT: return isnan(a) || isnan(b) ? NAN : a < b ? 1.0 : 0.0;
  case RKIN_OP_LE: return isnan(a) || isnan(b) ? NAN : a <= b ? 1.0 : 0.0;
  case RKIN_OP_GT: return isnan(a) || isnan(b) ? NAN : a > b ? 1.0 : 0.0;
  case RKIN_OP_GE: return isnan(a) || isnan(b) ? NAN : a >= b ? 1.0 : 0.0;
  case RKIN_OP_AND: return isnan(a) || isnan(b) ? NAN
                           : (a != 0 && b != 0) ? 1.0 : 0.0;
  case RKIN_OP_OR: return isnan(a) || isnan(b) ? NAN
                          : (a != 0 || b != 0) ? 1.0 : 0.0;
  default: return NAN;
  }
}

static int const_of(const rkin_graph *g, rkin_node n, double *v)
{
  if (g->nodes[n].op != RKIN_OP_CONST) return 0;
  *v = g->nodes[n].v;
  return 1;
}

static int is_value(const rkin_graph *g, rkin_node n, double want)
{
  double v;
  return const_of(g, n, &v) && v == want;
}

static rkin_node fold_const(rkin_graph *g, double r, const char *op, double a,
                            double b, int binary)
{
  if (isfinite(r)) return intern(g, RKIN_OP_CONST, 0, 0, r);
  if (binary)
    return fail(g, RKIN_ENONFINITE, "constant expression %s(%g, %g) gives "
                "%g; expected a finite number", op, a, b, r);
  return fail(g, RKIN_ENONFINITE, "constant expression %s(%g) gives %g; "
              "expected a finite number", op, a, r);
}

static int is_cond(const rkin_graph *g, rkin_node n)
{
  return (g->nodes[n].flags & RKIN_EXPR_BOOL) != 0;
}

/* Conditions and numbers do not mix: a condition is an operand of AND, OR,
 * NOT and the first operand of IFELSE only, a number of everything else. */
static int check_kind(rkin_graph *g, rkin_op op, rkin_node n, int want_cond)
{
  if (want_cond && !is_cond(g, n))
    return fail(g, RKIN_EINVAL, "operand of %s is a number, not a "
                "condition; expected a comparison (lt, le, gt, ge) or "
                "and/or/not of comparisons", rkin_expr_op_name(op));
  if (!want_cond && is_cond(g, n))
    return fail(g, RKIN_EINVAL, "operand of %s is a condition (%s), not a "
                "number; a condition selects a value through "
                "ifelse(cond, a, b)", rkin_expr_op_name(op),
                rkin_expr_op_name((rkin_op)g->nodes[n].op));
  return 0;
}

/* The value of a condition built from constants only: 1 and *v set. */
static int const_cond(const rkin_graph *g, rkin_node n, double *v)
{
  const rkin_expr_node *e = &g->nodes[n];
  double a, b;
  if (e->flags & (RKIN_EXPR_HAS_STATE | RKIN_EXPR_HAS_TIME
                  | RKIN_EXPR_HAS_PARAM))
    return 0;
  if (e->op == RKIN_OP_CONST) {
    *v = e->v;
    return 1;
  }
  if (!is_compare((rkin_op)e->op) && !is_logic((rkin_op)e->op)) return 0;
  if (!const_cond(g, e->a, &a)) return 0;
  if (e->op == RKIN_OP_NOT) {
    *v = rkin_expr_apply1(RKIN_OP_NOT, a);
    return 1;
  }
  if (!const_cond(g, e->b, &b)) return 0;
  *v = rkin_expr_apply2((rkin_op)e->op, a, b);
  return 1;
}

rkin_node rkin_expr_unary(rkin_graph *g, rkin_op op, rkin_node a)
{
  int rc;
  double va;
  if (!g) return RKIN_EINVAL;
  if (!is_unary(op))
    return fail(g, RKIN_EINVAL, "'%s' is not a unary operator; expected "
                "neg, exp, log, sqrt, abs, sign, step, not, sin, cos, tan, "
                "asin, acos, atan, floor, ceil or factorial",
                rkin_expr_op_name(op));
  if ((rc = check_child(g, a, rkin_expr_op_name(op)))) return rc;
  if ((rc = check_kind(g, op, a, op == RKIN_OP_NOT))) return rc;
  if (op == RKIN_OP_NOT) {
    rkin_op inv[] = { RKIN_OP_GE, RKIN_OP_GT, RKIN_OP_LE, RKIN_OP_LT };
    const rkin_expr_node e = g->nodes[a];
    /* not(a < b) is a >= b for numbers; NaN gives NaN either way. */
    if (is_compare((rkin_op)e.op))
      return intern(g, inv[e.op - RKIN_OP_LT], e.a, e.b, 0.0);
    if (e.op == RKIN_OP_NOT) return e.a;
    return intern(g, op, a, 0, 0.0);
  }
  if (const_of(g, a, &va))
    return fold_const(g, rkin_expr_apply1(op, va), rkin_expr_op_name(op), va,
                      0, 0);
  /* exp(log x) is left alone: it is not x for x <= 0. */
  if (op == RKIN_OP_NEG && g->nodes[a].op == RKIN_OP_NEG)
    return g->nodes[a].a;
  if ((op == RKIN_OP_ABS || op == RKIN_OP_SIGN) && g->nodes[a].op == op)
    return a;
  return intern(g, op, a, 0, 0.0);
}

/* Identities that hold for every finite operand. x * 0 and 0 / x are
 * folded to 0 as well, although Inf * 0 is NaN: the tape reports any
 * non-finite operand where it first appears, and without these folds a
 * linear model written as k * P / V could not be recognised as linear. */
static rkin_node simplify2(rkin_graph *g, rkin_op op, rkin_node a,
                          rkin_node b)
{
  switch (op) {
  case RKIN_OP_ADD:
    if (is_value(g, a, 0)) return b;
    if (is_value(g, b, 0)) return a;
    break;
  case RKIN_OP_SUB:
    if (is_value(g, b, 0)) return a;
    if (is_value(g, a, 0)) return rkin_expr_unary(g, RKIN_OP_NEG, b);
    break;
  case RKIN_OP_MUL:
    if (is_value(g, a, 0) || is_value(g, b, 0))
      return intern(g, RKIN_OP_CONST, 0, 0, 0.0);
    if (is_value(g, a, 1)) return b;
    if (is_value(g, b, 1)) return a;
    if (is_value(g, a, -1)) return rkin_expr_unary(g, RKIN_OP_NEG, b);
    if (is_value(g, b, -1)) return rkin_expr_unary(g, RKIN_OP_NEG, a);
    break;
  case RKIN_OP_DIV:
    if (is_value(g, b, 1)) return a;
    if (is_value(g, a, 0)) return a;
    break;
  case RKIN_OP_POW:
    if (is_value(g, b, 1)) return a;
    if (is_value(g, b, 0) || is_value(g, a, 1))
      return intern(g, RKIN_OP_CONST, 0, 0, 1.0);
    break;
  case RKIN_OP_MIN:
  case RKIN_OP_MAX:
    if (a == b) return a;
    break;
  default:
    break;
  }
  return -1 - INT_MAX;
}

rkin_node rkin_expr_binary(rkin_graph *g, rkin_op op, rkin_node a,
                           rkin_node b)
{
  int rc;
  double va, vb;
  rkin_node r;
  if (!g) return RKIN_EINVAL;
  if (!is_binary(op))
    return fail(g, RKIN_EINVAL, "'%s' is not a binary operator; expected "
                "add, sub, mul, div, pow, min, max, lt, le, gt, ge, and or "
                "or", rkin_expr_op_name(op));
  if ((rc = check_child(g, a, rkin_expr_op_name(op)))) return rc;
  if ((rc = check_child(g, b, rkin_expr_op_name(op)))) return rc;
  if ((rc = check_kind(g, op, a, is_logic(op)))
      || (rc = check_kind(g, op, b, is_logic(op))))
    return rc;
  /* Conditions are not folded to numbers (that would make them numbers);
   * a constant one is decided where it is used, in ifelse. */
  if (is_compare(op) || is_logic(op))
    return a == b && op == RKIN_OP_AND ? a : intern(g, op, a, b, 0.0);
  if (const_of(g, a, &va) && const_of(g, b, &vb))
    return fold_const(g, rkin_expr_apply2(op, va, vb), rkin_expr_op_name(op),
                      va, vb, 1);
  r = simplify2(g, op, a, b);
  if (r != -1 - INT_MAX) return r;
  return intern(g, op, a, b, 0.0);
}

rkin_node rkin_expr_ifelse(rkin_graph *g, rkin_node cond, rkin_node a,
                           rkin_node b)
{
  int rc;
  double v;
  if (!g) return RKIN_EINVAL;
  if ((rc = check_child(g, cond, "ifelse")) || (rc = check_child(g, a, "ifelse"))
      || (rc = check_child(g, b, "ifelse")))
    return rc;
  if (!is_cond(g, cond))
    return fail(g, RKIN_EINVAL, "the condition of ifelse is a number (%s), "
                "not a condition; expected a comparison (lt, le, gt, ge) or "
                "and/or/not of comparisons",
                rkin_expr_op_name((rkin_op)g->nodes[cond].op));
  if ((rc = check_kind(g, RKIN_OP_IFELSE, a, 0))
      || (rc = check_kind(g, RKIN_OP_IFELSE, b, 0)))
    return rc;
  if (a == b) return a;
  if (const_cond(g, cond, &v)) return v != 0 ? a : b;
  return intern3(g, RKIN_OP_IFELSE, cond, a, b, 0.0);
}

int rkin_expr_is_bool(const rkin_graph *g, rkin_node n)
{
  return node_ok(g, n) && is_cond(g, n);
}

int rkin_expr_switches(const rkin_graph *g, const rkin_node *f, size_t nf,
                       rkin_node **out, size_t *n_out)
{
  size_t k, top = 0, cnt = 0;
  unsigned char *need;
  rkin_node *list;
  *out = NULL;
  *n_out = 0;
  for (k = 0; k < nf; k++)
    if (node_ok(g, f[k]) && (size_t)f[k] + 1 > top) top = (size_t)f[k] + 1;
  if (!top) return 0;
  if (!(need = calloc(top, 1))) return RKIN_ENOMEM;
  for (k = 0; k < nf; k++)
    if (node_ok(g, f[k])) need[f[k]] = 1;
  /* Children precede parents: one backward pass marks what f reaches. */
  for (k = top; k-- > 0;) {
    const rkin_expr_node *e = &g->nodes[k];
    int nk = rkin_expr_nkids(e->op);
    if (!need[k]) continue;
    if (nk > 0) need[e->a] = 1;
    if (nk > 1) need[e->b] = 1;
    if (nk > 2) need[e->c] = 1;
    if (is_compare((rkin_op)e->op)
        && (e->flags & (RKIN_EXPR_HAS_STATE | RKIN_EXPR_HAS_TIME)))
      cnt++;
  }
  if (!cnt) {
    free(need);
    return 0;
  }
  if (!(list = malloc(cnt * sizeof *list))) {
    free(need);
    return RKIN_ENOMEM;
  }
  cnt = 0;
  for (k = 0; k < top; k++) {
    const rkin_expr_node *e = &g->nodes[k];
    if (need[k] && is_compare((rkin_op)e->op)
        && (e->flags & (RKIN_EXPR_HAS_STATE | RKIN_EXPR_HAS_TIME)))
      list[cnt++] = (rkin_node)k;
  }
  free(need);
  *out = list;
  *n_out = cnt;
  return 0;
}

/* ------------------------------------------------------------ queries */

rkin_op rkin_expr_op(const rkin_graph *g, rkin_node n)
{
  if (!node_ok(g, n)) return (rkin_op)-1;
  return (rkin_op)g->nodes[n].op;
}

rkin_node rkin_expr_arg(const rkin_graph *g, rkin_node n, int k)
{
  rkin_op op;
  if (!node_ok(g, n)) return -1;
  op = (rkin_op)g->nodes[n].op;
  if (k == 0 && rkin_expr_nkids(op) >= 1) return g->nodes[n].a;
  if (k == 1 && rkin_expr_nkids(op) >= 2) return g->nodes[n].b;
  if (k == 2 && rkin_expr_nkids(op) >= 3) return g->nodes[n].c;
  return -1;
}

int rkin_expr_index(const rkin_graph *g, rkin_node n)
{
  if (!node_ok(g, n)) return -1;
  if (g->nodes[n].op != RKIN_OP_STATE && g->nodes[n].op != RKIN_OP_PARAM)
    return -1;
  return g->nodes[n].a;
}

int rkin_expr_max_state(const rkin_graph *g, rkin_node n)
{
  return node_ok(g, n) ? g->nodes[n].max_state : -1;
}

int rkin_expr_max_param(const rkin_graph *g, rkin_node n)
{
  return node_ok(g, n) ? g->nodes[n].max_param : -1;
}

int rkin_expr_is_const(const rkin_graph *g, rkin_node n, double *v)
{
  double x;
  if (!node_ok(g, n) || !const_of(g, n, &x)) return 0;
  if (v) *v = x;
  return 1;
}

int rkin_expr_has_state(const rkin_graph *g, rkin_node n)
{
  return node_ok(g, n) && (g->nodes[n].flags & RKIN_EXPR_HAS_STATE);
}

int rkin_expr_has_time(const rkin_graph *g, rkin_node n)
{
  return node_ok(g, n) && (g->nodes[n].flags & RKIN_EXPR_HAS_TIME);
}

/* Exact answer for graphs with leaf indices >= 64, where the masks only
 * filter (defined with the derivative's memo below). */
static int depends_exact(const rkin_graph *g, rkin_node n, rkin_node x);

int rkin_expr_depends(const rkin_graph *g, rkin_node n, rkin_node x)
{
  const rkin_expr_node *e, *l;
  if (!node_ok(g, n) || !node_ok(g, x)) return 0;
  e = &g->nodes[n];
  l = &g->nodes[x];
  switch ((rkin_op)l->op) {
  case RKIN_OP_TIME:
    return (e->flags & RKIN_EXPR_HAS_TIME) != 0;
  case RKIN_OP_STATE:
    if (!(e->smask & ((uint64_t)1 << (l->a & 63)))) return 0;
    return g->max_state < 64 ? 1 : depends_exact(g, n, x);
  case RKIN_OP_PARAM:
    if (!(e->pmask & ((uint64_t)1 << (l->a & 63)))) return 0;
    return g->max_param < 64 ? 1 : depends_exact(g, n, x);
  default:
    return 0;
  }
}

/* ------------------------------------------------------------ derivative */

/* The memo of one derivative, a small hash map from node to result: a
 * derivative visits only the nodes below f that may depend on x, so its
 * cost must not grow with the whole graph (an array indexed by node, set
 * up per call, made the n^2 entries of a Jacobian cost O(n^2 graph)). */
typedef struct {
  int *key, *val;   /* key -1: empty */
  size_t cap, n;
} imap;

static size_t imap_slot(const imap *m, int k)
{
  size_t h = (size_t)((uint32_t)k * 2654435761u) & (m->cap - 1);
  while (m->key[h] != -1 && m->key[h] != k) h = (h + 1) & (m->cap - 1);
  return h;
}

static int imap_get(const imap *m, int k, int *v)
{
  size_t h;
  if (!m->cap) return 0;
  h = imap_slot(m, k);
  if (m->key[h] != k) return 0;
  *v = m->val[h];
  return 1;
}

/* 0, or -1 out of memory (the caller then goes on without the memo). */
static int imap_put(imap *m, int k, int v)
{
  size_t h, i;
  if (2 * (m->n + 1) > m->cap) {
    imap b;
    b.cap = m->cap ? 2 * m->cap : 64;
    b.n = 0;
    b.key = malloc(b.cap * sizeof *b.key);
    b.val = malloc(b.cap * sizeof *b.val);
    if (!b.key || !b.val) {
      free(b.key);
      free(b.val);
      return -1;
    }
    for (i = 0; i < b.cap; i++) b.key[i] = -1;
    for (i = 0; i < m->cap; i++)
      if (m->key[i] != -1) {
        h = imap_slot(&b, m->key[i]);
        b.key[h] = m->key[i];
        b.val[h] = m->val[i];
        b.n++;
      }
    free(m->key);
    free(m->val);
    *m = b;
  }
  h = imap_slot(m, k);
  if (m->key[h] != k) m->n++;
  m->key[h] = k;
  m->val[h] = v;
  return 0;
}

typedef struct {
  imap d;     /* node -> its derivative */
  imap dep;   /* node -> 1 / 0: depends on x (graphs with indices >= 64) */
} diff_ctx;

/* rkin_expr_depends, memoised over one derivative: with leaf indices >= 64
 * the masks only filter, and the exact answer is the OR over the kids. */
static int dep(const rkin_graph *g, diff_ctx *memo, rkin_node n, rkin_node x)
{
  const rkin_expr_node *e = &g->nodes[n], *l = &g->nodes[x];
  int r = 0, k, nk, kids[3];
  if (l->op == RKIN_OP_TIME) return (e->flags & RKIN_EXPR_HAS_TIME) != 0;
  if (l->op == RKIN_OP_STATE) {
    if (!(e->smask & ((uint64_t)1 << (l->a & 63)))) return 0;
    if (g->max_state < 64) return 1;
  } else if (l->op == RKIN_OP_PARAM) {
    if (!(e->pmask & ((uint64_t)1 << (l->a & 63)))) return 0;
    if (g->max_param < 64) return 1;
  } else {
    return 0;
  }
  if (n == x) return 1;
  nk = rkin_expr_nkids(e->op);
  if (n < x || nk == 0) return 0;
  if (imap_get(&memo->dep, n, &r)) return r;
  kids[0] = e->a;
  kids[1] = e->b;
  kids[2] = e->c;
  for (k = 0; k < nk && !r; k++) r = dep(g, memo, kids[k], x);
  imap_put(&memo->dep, n, r);   /* out of memory: recomputed next time */
  return r;
}

static int cmp_int(const void *a, const void *b)
{
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

int rkin_expr_leaves(const rkin_graph *g, rkin_node n, rkin_op kind,
                     int **out, size_t *n_out)
{
  imap seen = { 0 };
  int *stack = NULL, *res = NULL, v;
  size_t ns = 0, cs = 0, nr = 0, cr = 0;
  int rc = 0;
  *out = NULL;
  *n_out = 0;
  if (!node_ok(g, n) || (kind != RKIN_OP_STATE && kind != RKIN_OP_PARAM))
    return RKIN_EINVAL;
  /* depth-first over the nodes below n whose summary holds such a leaf */
#define PUSH(x)                                                          \
  do {                                                                   \
    if (ns == cs) {                                                      \
      int *t = realloc(stack, (cs = cs ? 2 * cs : 64) * sizeof *t);      \
      if (!t) { rc = RKIN_ENOMEM; goto done; }                           \
      stack = t;                                                         \
    }                                                                    \
    stack[ns++] = (x);                                                   \
  } while (0)
  PUSH(n);
  while (ns) {
    const rkin_expr_node *e = &g->nodes[stack[--ns]];
    int node = stack[ns], k, nk = rkin_expr_nkids(e->op);
    if (kind == RKIN_OP_STATE ? e->max_state < 0 : e->max_param < 0)
      continue;
    if (imap_get(&seen, node, &v)) continue;
    if (imap_put(&seen, node, 1)) { rc = RKIN_ENOMEM; goto done; }
    if (e->op == (unsigned char)kind) {
      if (nr == cr) {
        int *t = realloc(res, (cr = cr ? 2 * cr : 16) * sizeof *t);
        if (!t) { rc = RKIN_ENOMEM; goto done; }
        res = t;
      }
      res[nr++] = e->a;
      continue;
    }
    for (k = 0; k < nk; k++) PUSH(k == 0 ? e->a : k == 1 ? e->b : e->c);
  }
#undef PUSH
  if (nr) qsort(res, nr, sizeof *res, cmp_int);
  *out = res;
  *n_out = nr;
  res = NULL;
done:
  free(res);
  free(stack);
  free(seen.key);
  free(seen.val);
  return rc;
}

/* A walk over the part of n's cone the masks let through, each node once:
 * O(that part), not O(graph) - a linear model of a few hundred states asks
 * this for every coefficient and parameter. */
static int depends_exact(const rkin_graph *g, rkin_node n, rkin_node x)
{
  diff_ctx memo;
  int r;
  memset(&memo, 0, sizeof memo);
  r = dep(g, &memo, n, x);
  free(memo.dep.key);
  free(memo.dep.val);
  return r;
}

#define UNSET (-1 - INT_MAX)

static rkin_node c_(rkin_graph *g, double v)
{
  return rkin_expr_const(g, v);
}

static rkin_node add_(rkin_graph *g, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, RKIN_OP_ADD, a, b);
}

static rkin_node sub_(rkin_graph *g, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, RKIN_OP_SUB, a, b);
}

static rkin_node mul_(rkin_graph *g, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, RKIN_OP_MUL, a, b);
}

static rkin_node div_(rkin_graph *g, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, RKIN_OP_DIV, a, b);
}

static rkin_node un_(rkin_graph *g, rkin_op op, rkin_node a)
{
  return rkin_expr_unary(g, op, a);
}

static rkin_node diff_rec(rkin_graph *g, diff_ctx *memo, rkin_node n,
                          rkin_node x);

static rkin_node diff_pow(rkin_graph *g, diff_ctx *memo, rkin_node n,
                          rkin_node x)
{
  rkin_node a = g->nodes[n].a, b = g->nodes[n].b, da, db;
  double c;
  if (!dep(g, memo, b, x)) {
    /* b' = 0: b * a^(b - 1) * a', also right for a < 0 (no log). */
    rkin_node bm1, f;
    da = diff_rec(g, memo, a, x);
    bm1 = const_of(g, b, &c) ? c_(g, c - 1) : sub_(g, b, c_(g, 1));
    f = mul_(g, b, rkin_expr_binary(g, RKIN_OP_POW, a, bm1));
    return mul_(g, f, da);
  }
  db = diff_rec(g, memo, b, x);
  if (!dep(g, memo, a, x))
    return mul_(g, n, mul_(g, db, un_(g, RKIN_OP_LOG, a)));
  da = diff_rec(g, memo, a, x);
  return mul_(g, n, add_(g, mul_(g, db, un_(g, RKIN_OP_LOG, a)),
                         div_(g, mul_(g, b, da), a)));
}

/* d min(a, b) = a' H(b - a) + b' H(a - b): exact away from the tie (one
 * factor is 1, the other 0), the mean of a' and b' at it. */
static rkin_node diff_minmax(rkin_graph *g, diff_ctx *memo, rkin_node n,
                             rkin_node x)
{
  rkin_node a = g->nodes[n].a, b = g->nodes[n].b;
  rkin_node da = diff_rec(g, memo, a, x), db = diff_rec(g, memo, b, x);
  rkin_node hab = un_(g, RKIN_OP_STEP, sub_(g, a, b));
  rkin_node hba = un_(g, RKIN_OP_STEP, sub_(g, b, a));
  if (g->nodes[n].op == RKIN_OP_MIN)
    return add_(g, mul_(g, da, hba), mul_(g, db, hab));
  return add_(g, mul_(g, da, hab), mul_(g, db, hba));
}

static rkin_node diff_op(rkin_graph *g, diff_ctx *memo, rkin_node n,
                         rkin_node x)
{
  const rkin_expr_node e = g->nodes[n];  /* a copy: g->nodes may move */
  rkin_node da, db;
  switch ((rkin_op)e.op) {
  case RKIN_OP_CONST:
  case RKIN_OP_TIME:
  case RKIN_OP_STATE:
  case RKIN_OP_PARAM:
    return c_(g, n == x ? 1.0 : 0.0);
  case RKIN_OP_NEG:
    return un_(g, RKIN_OP_NEG, diff_rec(g, memo, e.a, x));
  case RKIN_OP_ADD:
  case RKIN_OP_SUB:
    da = diff_rec(g, memo, e.a, x);
    db = diff_rec(g, memo, e.b, x);
    return rkin_expr_binary(g, (rkin_op)e.op, da, db);
  case RKIN_OP_MUL:
    da = diff_rec(g, memo, e.a, x);
    db = diff_rec(g, memo, e.b, x);
    return add_(g, mul_(g, da, e.b), mul_(g, e.a, db));
  case RKIN_OP_DIV:
    da = diff_rec(g, memo, e.a, x);
    if (!dep(g, memo, e.b, x)) return div_(g, da, e.b);
    db = diff_rec(g, memo, e.b, x);
    return div_(g, sub_(g, mul_(g, da, e.b), mul_(g, e.a, db)),
                mul_(g, e.b, e.b));
  case RKIN_OP_POW:
    return diff_pow(g, memo, n, x);
  case RKIN_OP_EXP:
    return mul_(g, n, diff_rec(g, memo, e.a, x));
  case RKIN_OP_LOG:
    return div_(g, diff_rec(g, memo, e.a, x), e.a);
  case RKIN_OP_SQRT:
    return div_(g, diff_rec(g, memo, e.a, x), mul_(g, c_(g, 2), n));
  case RKIN_OP_ABS:
    return mul_(g, un_(g, RKIN_OP_SIGN, e.a), diff_rec(g, memo, e.a, x));
  case RKIN_OP_MIN:
  case RKIN_OP_MAX:
    return diff_minmax(g, memo, n, x);
  case RKIN_OP_SIGN:
  case RKIN_OP_STEP:
  case RKIN_OP_FLOOR:
  case RKIN_OP_CEIL:
  case RKIN_OP_FACT:
    return c_(g, 0);
  case RKIN_OP_SIN:
    return mul_(g, un_(g, RKIN_OP_COS, e.a), diff_rec(g, memo, e.a, x));
  case RKIN_OP_COS:
    return mul_(g, un_(g, RKIN_OP_NEG, un_(g, RKIN_OP_SIN, e.a)),
                diff_rec(g, memo, e.a, x));
  case RKIN_OP_TAN: {
    rkin_node cs = un_(g, RKIN_OP_COS, e.a);
    return div_(g, diff_rec(g, memo, e.a, x), mul_(g, cs, cs));
  }
  case RKIN_OP_ASIN:
  case RKIN_OP_ACOS: {
    rkin_node r = un_(g, RKIN_OP_SQRT, sub_(g, c_(g, 1), mul_(g, e.a, e.a)));
    rkin_node d = div_(g, diff_rec(g, memo, e.a, x), r);
    return e.op == RKIN_OP_ASIN ? d : un_(g, RKIN_OP_NEG, d);
  }
  case RKIN_OP_ATAN:
    return div_(g, diff_rec(g, memo, e.a, x),
                add_(g, c_(g, 1), mul_(g, e.a, e.a)));
  case RKIN_OP_IFELSE:
    da = diff_rec(g, memo, e.b, x);
    db = diff_rec(g, memo, e.c, x);
    return rkin_expr_ifelse(g, e.a, da, db);
  case RKIN_OP_LT: case RKIN_OP_LE: case RKIN_OP_GT: case RKIN_OP_GE:
  case RKIN_OP_AND: case RKIN_OP_OR: case RKIN_OP_NOT:
    return fail(g, RKIN_EINVAL, "cannot differentiate a condition (%s); "
                "only the values of ifelse have derivatives",
                rkin_expr_op_name((rkin_op)e.op));
  }
  return fail(g, RKIN_EINVAL, "cannot differentiate node %d (op %d)", n,
              e.op);
}

static rkin_node diff_rec(rkin_graph *g, diff_ctx *memo, rkin_node n,
                          rkin_node x)
{
  rkin_node r;
  if (imap_get(&memo->d, n, &r)) return r;
  r = dep(g, memo, n, x) ? diff_op(g, memo, n, x) : c_(g, 0.0);
  if (r >= 0) imap_put(&memo->d, n, r);  /* out of memory: recomputed */
  return r;
}

rkin_node rkin_expr_diff(rkin_graph *g, rkin_node f, rkin_node x)
{
  diff_ctx memo;
  rkin_node r;
  int rc, k;
  if (!g) return RKIN_EINVAL;
  if ((rc = check_child(g, f, "diff"))) return rc;
  if ((rc = check_child(g, x, "diff"))) return rc;
  k = g->nodes[x].op;
  if (k != RKIN_OP_STATE && k != RKIN_OP_PARAM && k != RKIN_OP_TIME)
    return fail(g, RKIN_EINVAL, "cannot differentiate with respect to a "
                "'%s' node; expected a state, parameter or time leaf",
                rkin_expr_op_name((rkin_op)k));
  memset(&memo, 0, sizeof memo);
  /* The masks settle most entries of a sparse Jacobian: no memo then. */
  if (!rkin_expr_depends(g, f, x)) return c_(g, 0.0);
  r = diff_rec(g, &memo, f, x);
  free(memo.d.key);
  free(memo.d.val);
  free(memo.dep.key);
  free(memo.dep.val);
  return r;
}

/* ------------------------------------------------------------ y = 0 */

static rkin_node zero_rec(rkin_graph *g, rkin_node *memo, rkin_node n)
{
  rkin_expr_node e;
  if (memo[n] != UNSET) return memo[n];
  e = g->nodes[n];
  if (!(e.flags & RKIN_EXPR_HAS_STATE))
    memo[n] = n;
  else if (e.op == RKIN_OP_STATE)
    memo[n] = c_(g, 0.0);
  else if (is_unary((rkin_op)e.op))
    memo[n] = un_(g, (rkin_op)e.op, zero_rec(g, memo, e.a));
  else if (e.op == RKIN_OP_IFELSE) {
    rkin_node c = zero_rec(g, memo, e.a), a = zero_rec(g, memo, e.b);
    memo[n] = rkin_expr_ifelse(g, c, a, zero_rec(g, memo, e.c));
  } else {
    rkin_node a = zero_rec(g, memo, e.a);
    memo[n] = rkin_expr_binary(g, (rkin_op)e.op, a, zero_rec(g, memo, e.b));
  }
  return memo[n];
}

rkin_node rkin_expr_zero_states(rkin_graph *g, rkin_node f)
{
  rkin_node *memo, r;
  int rc, k, had;
  if (!g) return RKIN_EINVAL;
  if ((rc = check_child(g, f, "zero_states"))) return rc;
  memo = malloc(((size_t)f + 1) * sizeof *memo);
  if (!memo)
    return fail(g, RKIN_ENOMEM, "out of memory substituting y = 0 in node %d",
                f);
  for (k = 0; k <= f; k++) memo[k] = UNSET;
  had = g->err.code;
  r = zero_rec(g, memo, f);
  free(memo);
  if (!had && g->err.code == RKIN_ENONFINITE) {
    /* log(0) and the like: y = 0 is outside the domain, which answers the
     * question (not zero); the graph itself is fine. */
    rkin_err_clear(&g->err);
    return RKIN_ENONFINITE;
  }
  return r;
}

/* ------------------------------------------------------------ format */

typedef struct {
  char *buf;
  size_t size, len;  /* len may pass size: the text is then cut */
} writer;

static void put(writer *w, const char *s)
{
  size_t n = strlen(s);
  if (w->len < w->size) {
    size_t room = w->size - w->len;
    memcpy(w->buf + w->len, s, n < room ? n : room);
  }
  w->len += n;
}

/* Binding strength: sums 1, products 2, unary minus 3, power 4, atoms 5. */
static int prec(const rkin_graph *g, rkin_node n)
{
  const rkin_expr_node *e = &g->nodes[n];
  switch ((rkin_op)e->op) {
  case RKIN_OP_CONST: return e->v < 0 || signbit(e->v) ? 3 : 5;
  case RKIN_OP_ADD:
  case RKIN_OP_SUB: return 1;
  case RKIN_OP_MUL:
  case RKIN_OP_DIV: return 2;
  case RKIN_OP_NEG: return 3;
  case RKIN_OP_POW: return 4;
  case RKIN_OP_LT: case RKIN_OP_LE: case RKIN_OP_GT: case RKIN_OP_GE:
    return 0;
  default: return 5;
  }
}

static void fmt_rec(const rkin_graph *g, rkin_node n, const char *const *sn,
                    const char *const *pn, writer *w);

static void fmt_paren(const rkin_graph *g, rkin_node n, int paren,
                      const char *const *sn, const char *const *pn,
                      writer *w)
{
  if (paren) put(w, "(");
  fmt_rec(g, n, sn, pn, w);
  if (paren) put(w, ")");
}

static void fmt_rec(const rkin_graph *g, rkin_node n, const char *const *sn,
                    const char *const *pn, writer *w)
{
  const rkin_expr_node *e = &g->nodes[n];
  char tmp[40];
  int p = prec(g, n);
  if (w->len >= w->size) return;  /* already cut: do not walk on */
  switch ((rkin_op)e->op) {
  case RKIN_OP_CONST:
    snprintf(tmp, sizeof tmp, "%.15g", e->v);
    put(w, tmp);
    return;
  case RKIN_OP_TIME:
    put(w, "t");
    return;
  case RKIN_OP_STATE:
  case RKIN_OP_PARAM: {
    const char *const *names = e->op == RKIN_OP_STATE ? sn : pn;
    if (names && names[e->a]) {
      put(w, names[e->a]);
    } else {
      snprintf(tmp, sizeof tmp, "%s[%d]", e->op == RKIN_OP_STATE ? "y" : "p",
               e->a);
      put(w, tmp);
    }
    return;
  }
  case RKIN_OP_NEG:
    put(w, "-");
    fmt_paren(g, e->a, prec(g, e->a) < 2, sn, pn, w);
    return;
  case RKIN_OP_ADD:
  case RKIN_OP_SUB:
  case RKIN_OP_MUL:
  case RKIN_OP_DIV: {
    static const char *const sym[] = { " + ", " - ", " * ", " / " };
    int right_strict = e->op == RKIN_OP_SUB || e->op == RKIN_OP_DIV;
    fmt_paren(g, e->a, prec(g, e->a) < p, sn, pn, w);
    put(w, sym[e->op - RKIN_OP_ADD]);
    fmt_paren(g, e->b, prec(g, e->b) < p
                         || (right_strict && prec(g, e->b) == p), sn, pn, w);
    return;
  }
  case RKIN_OP_POW:
    fmt_paren(g, e->a, prec(g, e->a) <= p, sn, pn, w);
    put(w, "^");
    fmt_paren(g, e->b, prec(g, e->b) < p, sn, pn, w);
    return;
  case RKIN_OP_LT: case RKIN_OP_LE: case RKIN_OP_GT: case RKIN_OP_GE: {
    static const char *const sym[] = { " < ", " <= ", " > ", " >= " };
    fmt_rec(g, e->a, sn, pn, w);
    put(w, sym[e->op - RKIN_OP_LT]);
    fmt_rec(g, e->b, sn, pn, w);
    return;
  }
  case RKIN_OP_IFELSE:
    put(w, "ifelse(");
    fmt_rec(g, e->a, sn, pn, w);
    put(w, ", ");
    fmt_rec(g, e->b, sn, pn, w);
    put(w, ", ");
    fmt_rec(g, e->c, sn, pn, w);
    put(w, ")");
    return;
  case RKIN_OP_MIN:
  case RKIN_OP_MAX:
  case RKIN_OP_AND:
  case RKIN_OP_OR:
    put(w, rkin_expr_op_name((rkin_op)e->op));
    put(w, "(");
    fmt_rec(g, e->a, sn, pn, w);
    put(w, ", ");
    fmt_rec(g, e->b, sn, pn, w);
    put(w, ")");
    return;
  default:
    put(w, rkin_expr_op_name((rkin_op)e->op));
    put(w, "(");
    fmt_rec(g, e->a, sn, pn, w);
    put(w, ")");
    return;
  }
}

void rkin_expr_format(const rkin_graph *g, rkin_node n,
                      const char *const *state_names,
                      const char *const *param_names, char *buf, size_t size)
{
  writer w;
  if (!buf || size == 0) return;
  w.buf = buf;
  w.size = size - 1;
  w.len = 0;
  if (!node_ok(g, n)) {
    snprintf(buf, size, "<invalid node %d>", n);
    return;
  }
  fmt_rec(g, n, state_names, param_names, &w);
  if (w.len > w.size) {
    /* Mark the cut so a reader does not take the text as complete. */
    size_t end = w.size >= 3 ? w.size - 3 : 0;
    memcpy(buf + end, "...", w.size - end);
    buf[w.size] = '\0';
  } else {
    buf[w.len] = '\0';
  }
}
