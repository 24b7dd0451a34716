/* sbml_import.c - an SBML model (read by libSBML) as a radiokin model.
 *
 * Every SBML symbol (compartment, species, parameter, species reference,
 * reaction) gets two values in the expression graph: its value at t0 (a
 * function of the parameters only; initial values, initial assignments and
 * assignment rules resolved through their dependencies) and its value at
 * time t (states, parameters, time). Both are built lazily by recursion
 * with a mark per symbol, so dependency order comes for free and a cycle is
 * found when a symbol is met again while it is being built. See sbml.h for
 * the semantics. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bzlib.h>
#include <libxml/xmlreader.h>
#include <sbml/SBMLTypes.h>
#include <sbml/compress/unzip.h>
#include <zlib.h>

#include "sbml/sbml.h"
#include "sbml/sbml_impl.h"

#define MAX_WARN 50
#define MAX_DEPTH 200         /* nesting of inlined function calls */

enum { MODE_INIT, MODE_DYN };
enum { UNSEEN, BUSY, DONE };

typedef struct {
  const char *id;             /* points into libSBML's document */
  int kind;                   /* 'c', 's', 'p', 'r' (reaction), 'f'
                                 (species reference) */
  const SBase_t *el;
  const ASTNode_t *ia, *arule, *rrule;
  char *name;                 /* the model's name */
  int comp;                   /* species: index of its compartment */
  int hosu, boundary, constant, zero_dim;
  int reacts;                 /* species changed by a reaction */
  int evtarget;               /* assigned by an event */
  const char *cf;             /* species: conversion factor id, or NULL */
  int state;                  /* state index or -1 */
  int shifted;                /* state holds value - initial value */
  int param;                  /* parameter index or -1 */
  int output;                 /* 1: an output */
  int mark[2];
  rkin_node val[2];           /* SBML value (what math sees) at t0 / t */
  rkin_node amount0;          /* species: amount at t0 */
  int dmark;                  /* state_deriv: UNSEEN, BUSY, DONE */
  rkin_node deriv;            /* states: d/dt (h), from its decay term on */
} sym;

typedef struct scope {
  size_t n;
  const char *const *names;
  const rkin_node *nodes;
  const struct scope *up;
} scope;

typedef struct {
  Model_t *m;
  rkin_graph *g;
  rkin_err *err;
  int rc;
  size_t n_sym;
  sym *s;
  size_t *order;             /* symbol indices sorted by id */
  double hours;              /* hours per model time unit */
  /* radiokin parameters */
  size_t np, cap_p;
  char **pnames;
  double *pvals;
  size_t ns;                 /* states */
  int depth;
  int derivs_ready;          /* states' initial values known (rateOf) */
  double lam;                /* the nuclide's decay per hour, or 0 */
  rkin_sbml_result *res;
  const char *path;
} ctx;

/* ------------------------------------------------------------ messages */

static int fail(ctx *c, int code, const char *fmt, ...)
{
  if (c->rc == 0) {
    va_list ap;
    char buf[RKIN_ERR_MSG];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->rc = rkin_err_set(c->err, code, "%s: %s", c->path, buf);
  }
  return c->rc;
}

static void warn(rkin_sbml_result *r, const char *fmt, ...)
{
  char buf[RKIN_ERR_MSG], **w;
  va_list ap;
  if (r->n_warn >= MAX_WARN) return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  w = realloc(r->warn, (r->n_warn + 1) * sizeof *w);
  if (!w) return;
  r->warn = w;
  if ((w[r->n_warn] = strdup(buf))) r->n_warn++;
}

static const char *kind_name(int k)
{
  switch (k) {
  case 'c': return "compartment";
  case 's': return "species";
  case 'p': return "parameter";
  case 'r': return "reaction";
  default: return "species reference";
  }
}

static unsigned line_of(const sym *s)
{
  return s->el ? SBase_getLine(s->el) : 0;
}

/* ------------------------------------------------------------- symbols */

static const ctx *sort_ctx;

static int cmp_id(const void *a, const void *b)
{
  return strcmp(sort_ctx->s[*(const size_t *)a].id,
                sort_ctx->s[*(const size_t *)b].id);
}

static int find(const ctx *c, const char *id)
{
  size_t lo = 0, hi = c->n_sym;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int d = strcmp(c->s[c->order[mid]].id, id);
    if (d == 0) return (int)c->order[mid];
    if (d < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

static int add_param(ctx *c, const char *name, double v)
{
  if (c->np == c->cap_p) {
    size_t cap = c->cap_p ? 2 * c->cap_p : 32;
    char **n = realloc(c->pnames, cap * sizeof *n);
    double *pv;
    if (!n) return -1;
    c->pnames = n;
    if (!(pv = realloc(c->pvals, cap * sizeof *pv))) return -1;
    c->pvals = pv;
    c->cap_p = cap;
  }
  if (!(c->pnames[c->np] = strdup(name))) return -1;
  c->pvals[c->np] = v;
  return (int)c->np++;
}

/* ---------------------------------------------------------------- math */

static rkin_node value_of(ctx *c, int i, int mode);
static rkin_node conv(ctx *c, const ASTNode_t *a, int mode, const scope *sc,
                      const char *where);

static rkin_node rate_init(ctx *c, int i, const char *where);
static rkin_node rate_dyn(ctx *c, int i, const char *where);

static rkin_node K(ctx *c, double v) { return rkin_expr_const(c->g, v); }
static rkin_node B(ctx *c, rkin_op op, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(c->g, op, a, b);
}
static rkin_node U(ctx *c, rkin_op op, rkin_node a)
{
  return rkin_expr_unary(c->g, op, a);
}

/* A number from a condition (true = 1), a condition from a number
 * (non-zero = true): exporters use both ways. */
static rkin_node num(ctx *c, rkin_node n)
{
  if (n >= 0 && rkin_expr_is_bool(c->g, n))
    return rkin_expr_ifelse(c->g, n, K(c, 1), K(c, 0));
  return n;
}

static rkin_node cond(ctx *c, rkin_node n)
{
  if (n < 0 || rkin_expr_is_bool(c->g, n)) return n;
  return B(c, RKIN_OP_OR, B(c, RKIN_OP_LT, n, K(c, 0)),
           B(c, RKIN_OP_GT, n, K(c, 0)));
}

static rkin_node relation(ctx *c, int type, rkin_node a, rkin_node b)
{
  a = num(c, a);
  b = num(c, b);
  switch (type) {
  case AST_RELATIONAL_LT: return B(c, RKIN_OP_LT, a, b);
  case AST_RELATIONAL_LEQ: return B(c, RKIN_OP_LE, a, b);
  case AST_RELATIONAL_GT: return B(c, RKIN_OP_GT, a, b);
  case AST_RELATIONAL_GEQ: return B(c, RKIN_OP_GE, a, b);
  case AST_RELATIONAL_EQ:
    return B(c, RKIN_OP_AND, B(c, RKIN_OP_LE, a, b), B(c, RKIN_OP_GE, a, b));
  default: /* NEQ */
    return B(c, RKIN_OP_OR, B(c, RKIN_OP_LT, a, b), B(c, RKIN_OP_GT, a, b));
  }
}

static rkin_node child(ctx *c, const ASTNode_t *a, unsigned k, int mode,
                       const scope *sc, const char *where)
{
  return num(c, conv(c, ASTNode_getChild(a, k), mode, sc, where));
}

static rkin_node exp_(ctx *c, rkin_node x) { return U(c, RKIN_OP_EXP, x); }
static rkin_node log_(ctx *c, rkin_node x) { return U(c, RKIN_OP_LOG, x); }
static rkin_node inv(ctx *c, rkin_node x) { return B(c, RKIN_OP_DIV, K(c, 1), x); }

/* Hyperbolic functions and their inverses through exp, log and sqrt. */
static rkin_node hyper(ctx *c, int type, rkin_node x)
{
  rkin_node e, em;
  switch (type) {
  case AST_FUNCTION_SINH: case AST_FUNCTION_COSH: case AST_FUNCTION_TANH:
  case AST_FUNCTION_SECH: case AST_FUNCTION_CSCH: case AST_FUNCTION_COTH:
    e = exp_(c, x);
    em = exp_(c, U(c, RKIN_OP_NEG, x));
    if (type == AST_FUNCTION_SINH)
      return B(c, RKIN_OP_DIV, B(c, RKIN_OP_SUB, e, em), K(c, 2));
    if (type == AST_FUNCTION_COSH)
      return B(c, RKIN_OP_DIV, B(c, RKIN_OP_ADD, e, em), K(c, 2));
    if (type == AST_FUNCTION_TANH)
      return B(c, RKIN_OP_DIV, B(c, RKIN_OP_SUB, e, em),
               B(c, RKIN_OP_ADD, e, em));
    if (type == AST_FUNCTION_SECH)
      return B(c, RKIN_OP_DIV, K(c, 2), B(c, RKIN_OP_ADD, e, em));
    if (type == AST_FUNCTION_CSCH)
      return B(c, RKIN_OP_DIV, K(c, 2), B(c, RKIN_OP_SUB, e, em));
    return B(c, RKIN_OP_DIV, B(c, RKIN_OP_ADD, e, em),
             B(c, RKIN_OP_SUB, e, em));
  case AST_FUNCTION_ARCSINH: case AST_FUNCTION_ARCCSCH:
    if (type == AST_FUNCTION_ARCCSCH) x = inv(c, x);
    return log_(c, B(c, RKIN_OP_ADD, x,
                     U(c, RKIN_OP_SQRT, B(c, RKIN_OP_ADD,
                                          B(c, RKIN_OP_MUL, x, x), K(c, 1)))));
  case AST_FUNCTION_ARCCOSH: case AST_FUNCTION_ARCSECH:
    if (type == AST_FUNCTION_ARCSECH) x = inv(c, x);
    return log_(c, B(c, RKIN_OP_ADD, x,
                     U(c, RKIN_OP_SQRT, B(c, RKIN_OP_SUB,
                                          B(c, RKIN_OP_MUL, x, x), K(c, 1)))));
  default: /* ARCTANH, ARCCOTH */
    if (type == AST_FUNCTION_ARCCOTH) x = inv(c, x);
    return B(c, RKIN_OP_MUL, K(c, 0.5),
             log_(c, B(c, RKIN_OP_DIV, B(c, RKIN_OP_ADD, K(c, 1), x),
                       B(c, RKIN_OP_SUB, K(c, 1), x))));
  }
}

/* Trigonometric functions, their inverses, floor and ceiling. */
static rkin_node trig(ctx *c, int type, rkin_node x)
{
  switch (type) {
  case AST_FUNCTION_SIN: return U(c, RKIN_OP_SIN, x);
  case AST_FUNCTION_COS: return U(c, RKIN_OP_COS, x);
  case AST_FUNCTION_TAN: return U(c, RKIN_OP_TAN, x);
  case AST_FUNCTION_SEC: return inv(c, U(c, RKIN_OP_COS, x));
  case AST_FUNCTION_CSC: return inv(c, U(c, RKIN_OP_SIN, x));
  case AST_FUNCTION_COT: return inv(c, U(c, RKIN_OP_TAN, x));
  case AST_FUNCTION_ARCSIN: return U(c, RKIN_OP_ASIN, x);
  case AST_FUNCTION_ARCCOS: return U(c, RKIN_OP_ACOS, x);
  case AST_FUNCTION_ARCTAN: return U(c, RKIN_OP_ATAN, x);
  case AST_FUNCTION_ARCSEC: return U(c, RKIN_OP_ACOS, inv(c, x));
  case AST_FUNCTION_ARCCSC: return U(c, RKIN_OP_ASIN, inv(c, x));
  case AST_FUNCTION_ARCCOT: return U(c, RKIN_OP_ATAN, inv(c, x));
  case AST_FUNCTION_FLOOR: return U(c, RKIN_OP_FLOOR, x);
  default: return U(c, RKIN_OP_CEIL, x);
  }
}

/* A user function: its body with the arguments bound to the call's
 * values; only the arguments and global symbols are visible in it. */
static rkin_node call(ctx *c, const ASTNode_t *a, int mode, const scope *sc,
                      const char *where)
{
  const char *fname = ASTNode_getName(a);
  FunctionDefinition_t *fd = Model_getFunctionDefinitionById(c->m, fname);
  unsigned na, k;
  const char **names;
  rkin_node *nodes, r;
  scope inner;
  if (!fd || !FunctionDefinition_getBody(fd))
    return fail(c, RKIN_EINVAL, "%s: unknown function '%s'", where,
                fname ? fname : "?");
  na = FunctionDefinition_getNumArguments(fd);
  if (na != ASTNode_getNumChildren(a))
    return fail(c, RKIN_EINVAL, "%s: function '%s' takes %u arguments "
                "(called with %u)", where, fname, na,
                ASTNode_getNumChildren(a));
  if (c->depth >= MAX_DEPTH)
    return fail(c, RKIN_EINVAL, "%s: function '%s' nests deeper than %d "
                "calls (recursive definition?)", where, fname, MAX_DEPTH);
  names = malloc((na + 1) * sizeof *names);
  nodes = malloc((na + 1) * sizeof *nodes);
  if (!names || !nodes) {
    free(names);
    free(nodes);
    return fail(c, RKIN_ENOMEM, "out of memory");
  }
  for (k = 0; k < na; k++) {
    names[k] = ASTNode_getName(FunctionDefinition_getArgument(fd, k));
    nodes[k] = conv(c, ASTNode_getChild(a, k), mode, sc, where);
  }
  inner.n = na;
  inner.names = names;
  inner.nodes = nodes;
  inner.up = NULL;
  c->depth++;
  r = conv(c, FunctionDefinition_getBody(fd), mode, &inner, where);
  c->depth--;
  free(names);
  free(nodes);
  return r;
}

static rkin_node name_node(ctx *c, const char *name, int mode,
                           const scope *sc, const char *where)
{
  const scope *p;
  size_t k;
  int i;
  for (p = sc; p; p = p->up)
    for (k = 0; k < p->n; k++)
      if (p->names[k] && strcmp(p->names[k], name) == 0) return p->nodes[k];
  i = find(c, name);
  if (i < 0)
    return fail(c, RKIN_EINVAL, "%s: unknown symbol '%s'", where, name);
  return value_of(c, i, mode);
}

static rkin_node conv(ctx *c, const ASTNode_t *a, int mode, const scope *sc,
                      const char *where)
{
  int type;
  unsigned n, k;
  rkin_node x, y;
  if (c->rc) return c->rc;
  if (!a) return fail(c, RKIN_EINVAL, "%s: no math", where);
  type = ASTNode_getType(a);
  n = ASTNode_getNumChildren(a);
  switch (type) {
  case AST_INTEGER: return K(c, (double)ASTNode_getInteger(a));
  case AST_REAL: case AST_REAL_E: case AST_RATIONAL:
    return K(c, ASTNode_getReal(a));
  case AST_CONSTANT_E: return K(c, M_E);
  case AST_CONSTANT_PI: return K(c, M_PI);
  case AST_CONSTANT_TRUE: return K(c, 1);
  case AST_CONSTANT_FALSE: return K(c, 0);
  case AST_NAME_AVOGADRO: return K(c, 6.02214179e23);
  case AST_NAME_TIME:
    if (mode == MODE_INIT) return K(c, 0);
    return B(c, RKIN_OP_DIV, rkin_expr_time(c->g), K(c, c->hours));
  case AST_NAME: return name_node(c, ASTNode_getName(a), mode, sc, where);
  case AST_FUNCTION: return call(c, a, mode, sc, where);
  case AST_PLUS:
    x = K(c, 0);
    for (k = 0; k < n; k++) x = B(c, RKIN_OP_ADD, x, child(c, a, k, mode, sc, where));
    return x;
  case AST_TIMES:
    x = K(c, 1);
    for (k = 0; k < n; k++) x = B(c, RKIN_OP_MUL, x, child(c, a, k, mode, sc, where));
    return x;
  case AST_MINUS:
    if (n == 1) return U(c, RKIN_OP_NEG, child(c, a, 0, mode, sc, where));
    if (n != 2) break;
    return B(c, RKIN_OP_SUB, child(c, a, 0, mode, sc, where),
             child(c, a, 1, mode, sc, where));
  case AST_DIVIDE:
    if (n != 2) break;
    return B(c, RKIN_OP_DIV, child(c, a, 0, mode, sc, where),
             child(c, a, 1, mode, sc, where));
  case AST_POWER: case AST_FUNCTION_POWER:
    if (n != 2) break;
    return B(c, RKIN_OP_POW, child(c, a, 0, mode, sc, where),
             child(c, a, 1, mode, sc, where));
  case AST_FUNCTION_ROOT:
    if (n == 1) return U(c, RKIN_OP_SQRT, child(c, a, 0, mode, sc, where));
    if (n != 2) break;
    x = child(c, a, 0, mode, sc, where);
    {
      double deg;
      if (rkin_expr_is_const(c->g, x, &deg) && deg == 2)
        return U(c, RKIN_OP_SQRT, child(c, a, 1, mode, sc, where));
    }
    return B(c, RKIN_OP_POW, child(c, a, 1, mode, sc, where), inv(c, x));
  case AST_FUNCTION_EXP:
    if (n != 1) break;
    return exp_(c, child(c, a, 0, mode, sc, where));
  case AST_FUNCTION_LN:
    if (n != 1) break;
    return log_(c, child(c, a, 0, mode, sc, where));
  case AST_FUNCTION_LOG:
    if (n == 1)
      return B(c, RKIN_OP_DIV, log_(c, child(c, a, 0, mode, sc, where)),
               K(c, log(10.0)));
    if (n != 2) break;
    x = child(c, a, 0, mode, sc, where);
    return B(c, RKIN_OP_DIV, log_(c, child(c, a, 1, mode, sc, where)),
             log_(c, x));
  case AST_FUNCTION_ABS:
    if (n != 1) break;
    return U(c, RKIN_OP_ABS, child(c, a, 0, mode, sc, where));
  case AST_FUNCTION_MAX: case AST_FUNCTION_MIN:
    if (n == 0) break;
    x = child(c, a, 0, mode, sc, where);
    for (k = 1; k < n; k++)
      x = B(c, type == AST_FUNCTION_MAX ? RKIN_OP_MAX : RKIN_OP_MIN, x,
            child(c, a, k, mode, sc, where));
    return x;
  case AST_FUNCTION_SINH: case AST_FUNCTION_COSH: case AST_FUNCTION_TANH:
  case AST_FUNCTION_SECH: case AST_FUNCTION_CSCH: case AST_FUNCTION_COTH:
  case AST_FUNCTION_ARCSINH: case AST_FUNCTION_ARCCOSH:
  case AST_FUNCTION_ARCTANH: case AST_FUNCTION_ARCSECH:
  case AST_FUNCTION_ARCCSCH: case AST_FUNCTION_ARCCOTH:
    if (n != 1) break;
    return hyper(c, type, child(c, a, 0, mode, sc, where));
  case AST_FUNCTION_SIN: case AST_FUNCTION_COS: case AST_FUNCTION_TAN:
  case AST_FUNCTION_SEC: case AST_FUNCTION_CSC: case AST_FUNCTION_COT:
  case AST_FUNCTION_ARCSIN: case AST_FUNCTION_ARCCOS:
  case AST_FUNCTION_ARCTAN: case AST_FUNCTION_ARCSEC:
  case AST_FUNCTION_ARCCSC: case AST_FUNCTION_ARCCOT:
  case AST_FUNCTION_FLOOR: case AST_FUNCTION_CEILING:
    if (n != 1) break;
    return trig(c, type, child(c, a, 0, mode, sc, where));
  case AST_FUNCTION_FACTORIAL:
    if (n != 1) break;
    return U(c, RKIN_OP_FACT, child(c, a, 0, mode, sc, where));
  case AST_FUNCTION_QUOTIENT: case AST_FUNCTION_REM: {
    rkin_node q;
    if (n != 2) break;
    x = child(c, a, 0, mode, sc, where);
    y = child(c, a, 1, mode, sc, where);
    /* the integer part of x / y (truncated toward 0), as C's fmod */
    q = B(c, RKIN_OP_DIV, x, y);
    q = B(c, RKIN_OP_MUL, U(c, RKIN_OP_SIGN, q),
          U(c, RKIN_OP_FLOOR, U(c, RKIN_OP_ABS, q)));
    if (type == AST_FUNCTION_QUOTIENT) return q;
    return B(c, RKIN_OP_SUB, x, B(c, RKIN_OP_MUL, y, q));
  }
  case AST_LOGICAL_AND: case AST_LOGICAL_OR: case AST_LOGICAL_XOR:
    if (n == 0) return K(c, type == AST_LOGICAL_AND ? 1 : 0);
    x = cond(c, conv(c, ASTNode_getChild(a, 0), mode, sc, where));
    for (k = 1; k < n; k++) {
      y = cond(c, conv(c, ASTNode_getChild(a, k), mode, sc, where));
      if (type == AST_LOGICAL_AND) x = B(c, RKIN_OP_AND, x, y);
      else if (type == AST_LOGICAL_OR) x = B(c, RKIN_OP_OR, x, y);
      else
        x = B(c, RKIN_OP_OR, B(c, RKIN_OP_AND, x, U(c, RKIN_OP_NOT, y)),
              B(c, RKIN_OP_AND, U(c, RKIN_OP_NOT, x), y));
    }
    return x;
  case AST_LOGICAL_IMPLIES:
    if (n != 2) break;
    x = cond(c, conv(c, ASTNode_getChild(a, 0), mode, sc, where));
    y = cond(c, conv(c, ASTNode_getChild(a, 1), mode, sc, where));
    return B(c, RKIN_OP_OR, U(c, RKIN_OP_NOT, x), y);
  case AST_LOGICAL_NOT:
    if (n != 1) break;
    return U(c, RKIN_OP_NOT, cond(c, conv(c, ASTNode_getChild(a, 0), mode,
                                           sc, where)));
  case AST_RELATIONAL_EQ: case AST_RELATIONAL_NEQ: case AST_RELATIONAL_LT:
  case AST_RELATIONAL_LEQ: case AST_RELATIONAL_GT: case AST_RELATIONAL_GEQ:
    if (n < 2) {
      if (n == 1 || type == AST_RELATIONAL_NEQ) return K(c, n == 1);
      break;
    }
    x = -1;
    for (k = 0; k + 1 < n; k++) {
      y = relation(c, type, conv(c, ASTNode_getChild(a, k), mode, sc, where),
                   conv(c, ASTNode_getChild(a, k + 1), mode, sc, where));
      x = x == -1 ? y : B(c, RKIN_OP_AND, x, y);
    }
    return x;
  case AST_FUNCTION_PIECEWISE:
    /* value1 cond1 value2 cond2 ... [otherwise]: built from the end */
    if (n == 0) break;
    if (n % 2) {
      x = child(c, a, n - 1, mode, sc, where);
      n--;
    } else {
      /* no otherwise: undefined where no piece holds; 0 there (a NaN
       * would stop the solver), and said so */
      warn(c->res, "%s: %s: piecewise without otherwise is 0 where no "
           "piece holds", c->path, where);
      x = K(c, 0);
    }
    while (n >= 2) {
      rkin_node v = child(c, a, n - 2, mode, sc, where);
      rkin_node q = cond(c, conv(c, ASTNode_getChild(a, n - 1), mode, sc,
                                 where));
      x = rkin_expr_ifelse(c->g, q, v, x);
      n -= 2;
    }
    return x;
  case AST_FUNCTION_DELAY:
    return fail(c, RKIN_EINVAL, "%s: the delay function (csymbol delay) "
                "is not supported", where);
  case AST_FUNCTION_RATE_OF: {
    const ASTNode_t *x = n == 1 ? ASTNode_getChild(a, 0) : NULL;
    int i = x && ASTNode_getType(x) == AST_NAME ? find(c, ASTNode_getName(x))
                                                : -1;
    const scope *p;
    size_t q;
    /* a local parameter of a kinetic law is constant; a function's
     * argument is an expression, not a symbol */
    for (p = sc; x && ASTNode_getType(x) == AST_NAME && p; p = p->up)
      for (q = 0; q < p->n; q++)
        if (p->names[q] && strcmp(p->names[q], ASTNode_getName(x)) == 0) {
          if (rkin_expr_op(c->g, p->nodes[q]) == RKIN_OP_PARAM) return K(c, 0);
          return fail(c, RKIN_EINVAL, "%s: rateOf of the function argument "
                      "'%s' is not supported", where, p->names[q]);
        }
    if (i < 0 || c->s[i].kind == 'r' || c->s[i].kind == 'f')
      return fail(c, RKIN_EINVAL, "%s: rateOf takes the name of a "
                  "compartment, species or parameter", where);
    return mode == MODE_INIT ? rate_init(c, i, where) : rate_dyn(c, i, where);
  }
  default:
    break;
  }
  {
    char *txt = SBML_formulaToL3String(a);
    fail(c, RKIN_EINVAL, "%s: MathML '%s' (%s) is not supported", where,
         ASTNode_getName(a) ? ASTNode_getName(a) : "?", txt ? txt : "?");
    free(txt);
  }
  return c->rc;
}

/* ------------------------------------------------------------ values */

static const char *math_where(ctx *c, const sym *s, const char *what,
                              char *buf, size_t size)
{
  (void)c;
  snprintf(buf, size, "%s of %s '%s' (line %u)", what, kind_name(s->kind),
           s->id, line_of(s));
  return buf;
}

/* The value of a compartment, species or parameter given by its
 * attributes (NaN when none is set). */
static rkin_node attr_value(ctx *c, sym *s, int mode)
{
  char wb[256];
  switch (s->kind) {
  case 'c': {
    const Compartment_t *cp = (const Compartment_t *)s->el;
    if (Compartment_isSetSize(cp)) return K(c, Compartment_getSize(cp));
    if (s->zero_dim) return K(c, 1);
    break;
  }
  case 'p': {
    const Parameter_t *p = (const Parameter_t *)s->el;
    if (Parameter_isSetValue(p)) return K(c, Parameter_getValue(p));
    break;
  }
  case 'f': {
    const SpeciesReference_t *r = (const SpeciesReference_t *)s->el;
    return K(c, SpeciesReference_getStoichiometry(r));
  }
  case 's': {
    const Species_t *sp = (const Species_t *)s->el;
    rkin_node size = value_of(c, s->comp, mode);
    if (Species_isSetInitialAmount(sp)) {
      rkin_node amt = K(c, Species_getInitialAmount(sp));
      return s->hosu || s->zero_dim ? amt : B(c, RKIN_OP_DIV, amt, size);
    }
    if (Species_isSetInitialConcentration(sp)) {
      rkin_node conc = K(c, Species_getInitialConcentration(sp));
      return s->hosu && !s->zero_dim ? B(c, RKIN_OP_MUL, conc, size) : conc;
    }
    break;
  }
  default:
    break;
  }
  return fail(c, RKIN_EINVAL, "%s has no value (no initial value, "
              "initial assignment or rule)",
              math_where(c, s, "value", wb, sizeof wb));
}

/* Amount of a species from its SBML value v (amount or concentration). */
static rkin_node amount_from(ctx *c, sym *s, rkin_node v, int mode)
{
  if (s->hosu || s->zero_dim) return v;
  return B(c, RKIN_OP_MUL, v, value_of(c, s->comp, mode));
}

static rkin_node value_from_amount(ctx *c, sym *s, rkin_node amt, int mode)
{
  if (s->hosu || s->zero_dim) return amt;
  return B(c, RKIN_OP_DIV, amt, value_of(c, s->comp, mode));
}

static rkin_node reaction_rate(ctx *c, int i, int mode);

/* The amount of species i at t0. */
static rkin_node species_amount0(ctx *c, int i)
{
  return amount_from(c, &c->s[i], value_of(c, i, MODE_INIT), MODE_INIT);
}

static rkin_node value_of(ctx *c, int i, int mode)
{
  sym *s = &c->s[i];
  rkin_node v;
  char wb[256];
  if (c->rc) return c->rc;
  if (s->mark[mode] == DONE) return s->val[mode];
  if (s->mark[mode] == BUSY)
    return fail(c, RKIN_EINVAL, "%s '%s' (line %u) depends on itself "
                "through its %s (a cycle of initial assignments or "
                "assignment rules)", kind_name(s->kind), s->id, line_of(s),
                mode == MODE_INIT ? "initial value" : "rules");
  s->mark[mode] = BUSY;
  if (s->kind == 'r') {
    v = reaction_rate(c, i, mode);
  } else if (mode == MODE_INIT) {
    if (s->ia)
      v = num(c, conv(c, s->ia, MODE_INIT, NULL,
                      math_where(c, s, "initial assignment", wb, sizeof wb)));
    else if (s->arule)
      v = num(c, conv(c, s->arule, MODE_INIT, NULL,
                      math_where(c, s, "assignment rule", wb, sizeof wb)));
    else if (s->param >= 0)
      v = rkin_expr_param(c->g, s->param);
    else
      v = attr_value(c, s, MODE_INIT);
  } else if (s->arule) {
    v = num(c, conv(c, s->arule, MODE_DYN, NULL,
                    math_where(c, s, "assignment rule", wb, sizeof wb)));
  } else if (s->state >= 0) {
    /* a species changed by reactions holds its amount; a rate-rule
     * variable holds its value */
    rkin_node y = rkin_expr_state(c->g, s->state);
    if (s->shifted) {
      rkin_node base = s->kind == 's' && !s->rrule ? s->amount0
                                                   : value_of(c, i, MODE_INIT);
      y = B(c, RKIN_OP_ADD, y, base);
    }
    v = s->kind == 's' && !s->rrule ? value_from_amount(c, s, y, MODE_DYN) : y;
  } else if (s->kind == 's' && !s->zero_dim && !s->hosu) {
    /* a species nothing changes keeps its amount (its concentration
     * follows a changing compartment) */
    v = value_from_amount(c, s, species_amount0(c, i), MODE_DYN);
  } else {
    v = value_of(c, i, MODE_INIT);
  }
  if (c->rc) return c->rc;
  if (v < 0) {
    rkin_graph_error(c->g, c->err);
    c->rc = c->err ? c->err->code : RKIN_EINVAL;
    return rkin_err_prefix(c->err, "%s: %s: ", c->path,
                           math_where(c, s, "value", wb, sizeof wb));
  }
  s->val[mode] = v;
  s->mark[mode] = DONE;
  return v;
}

/* ------------------------------------------------------------ reactions */

typedef struct {
  size_t n;
  const char **names;
  rkin_node *nodes;
} locals;

static rkin_node reaction_rate(ctx *c, int i, int mode)
{
  sym *s = &c->s[i];
  Reaction_t *r = (Reaction_t *)s->el;
  KineticLaw_t *kl = Reaction_getKineticLaw(r);
  unsigned k, nl;
  scope sc;
  locals lc = {0};
  rkin_node v;
  char wb[256];
  if (!kl || !KineticLaw_getMath(kl)) {
    /* no rate: the reaction changes nothing */
    if (mode == MODE_DYN)
      warn(c->res, "%s:%u: reaction '%s' has no kinetic law math: rate 0",
           c->path, line_of(s), s->id);
    return K(c, 0);
  }
  nl = KineticLaw_getNumParameters(kl);    /* L2 parameters, L3 local ones */
  lc.names = calloc(nl + 1, sizeof *lc.names);
  lc.nodes = calloc(nl + 1, sizeof *lc.nodes);
  if (!lc.names || !lc.nodes) {
    free(lc.names);
    free(lc.nodes);
    return fail(c, RKIN_ENOMEM, "out of memory");
  }
  for (k = 0; k < nl; k++) {
    Parameter_t *p = KineticLaw_getParameter(kl, k);
    const char *pid = Parameter_getId(p);
    char pname[512];
    int idx;
    snprintf(pname, sizeof pname, "%s.%s", s->id, pid);
    lc.names[k] = pid;
    /* the parameter was made on the first visit (INIT or DYN) */
    for (idx = 0; idx < (int)c->np; idx++)
      if (strcmp(c->pnames[idx], pname) == 0) break;
    if (idx == (int)c->np) {
      if (!Parameter_isSetValue(p)) {
        free(lc.names);
        free(lc.nodes);
        return fail(c, RKIN_EINVAL, "local parameter '%s' of reaction '%s' "
                    "(line %u) has no value", pid, s->id,
                    SBase_getLine((const SBase_t *)p));
      }
      if (find(c, pname) >= 0 || add_param(c, pname,
                                          Parameter_getValue(p)) < 0) {
        free(lc.names);
        free(lc.nodes);
        return fail(c, RKIN_EINVAL, "local parameter name '%s' collides or "
                    "out of memory", pname);
      }
    }
    lc.nodes[k] = rkin_expr_param(c->g, idx);
  }
  sc.n = nl;
  sc.names = lc.names;
  sc.nodes = lc.nodes;
  sc.up = NULL;
  v = num(c, conv(c, KineticLaw_getMath(kl), mode, &sc,
                  math_where(c, s, "kinetic law", wb, sizeof wb)));
  free(lc.names);
  free(lc.nodes);
  return v;
}

/* Stoichiometry of a species reference as a value at time t. */
static rkin_node stoich(ctx *c, SpeciesReference_t *sr, const char *rid)
{
  char wb[256];
  if (SpeciesReference_isSetStoichiometryMath(sr)) {
    StoichiometryMath_t *sm = SpeciesReference_getStoichiometryMath(sr);
    snprintf(wb, sizeof wb, "stoichiometryMath of species '%s' in reaction "
             "'%s' (line %u)", SpeciesReference_getSpecies(sr), rid,
             SBase_getLine((const SBase_t *)sr));
    return num(c, conv(c, StoichiometryMath_getMath(sm), MODE_DYN, NULL, wb));
  }
  if (SpeciesReference_isSetId(sr)) {
    int i = find(c, SpeciesReference_getId(sr));
    if (i >= 0) return value_of(c, i, MODE_DYN);
  }
  if (!SpeciesReference_isSetStoichiometry(sr)
      && SBase_getLevel((const SBase_t *)sr) >= 3)
    return fail(c, RKIN_EINVAL, "species '%s' in reaction '%s' (line %u) "
                "has no stoichiometry", SpeciesReference_getSpecies(sr), rid,
                SBase_getLine((const SBase_t *)sr));
  return K(c, SpeciesReference_getStoichiometry(sr));
}

/* ---------------------------------------------------------- time unit */

static int unit_code(const char *u, double *hours)
{
  static const struct { const char *name; double h; } t[] = {
    {"s", 1.0 / 3600}, {"min", 1.0 / 60}, {"h", 1.0}, {"d", 24.0}};
  size_t k;
  for (k = 0; k < 4; k++)
    if (strcmp(u, t[k].name) == 0) {
      *hours = t[k].h;
      return 0;
    }
  return -1;
}

/* Seconds per unit of a unit id (base unit or UnitDefinition), 0 when it
 * is not a time. */
static double unit_seconds(Model_t *m, const char *uid)
{
  UnitDefinition_t *ud;
  double f;
  if (strcmp(uid, "second") == 0) return 1.0;
  ud = Model_getUnitDefinitionById(m, uid);
  if (!ud || UnitDefinition_getNumUnits(ud) != 1) return 0.0;
  {
    Unit_t *u = UnitDefinition_getUnit(ud, 0);
    if (Unit_getKind(u) != UNIT_KIND_SECOND || Unit_getExponentAsDouble(u) != 1)
      return 0.0;
    f = Unit_getMultiplier(u) * pow(10.0, Unit_getScale(u));
  }
  return f;
}

static int time_unit(ctx *c, const rkin_sbml_opts *o)
{
  Model_t *m = c->m;
  rkin_sbml_result *r = c->res;
  const char *decl = NULL;
  double sec = 0.0;
  if (Model_isSetTimeUnits(m)) decl = Model_getTimeUnits(m);
  else if (SBase_getLevel((SBase_t *)m) < 3 && Model_getUnitDefinitionById(m, "time"))
    decl = "time";
  if (decl) {
    sec = unit_seconds(m, decl);
    if (sec <= 0.0)
      return fail(c, RKIN_EINVAL, "the model's time unit '%s' is not a "
                  "multiple of seconds", decl);
    r->time_declared = 1;
  }
  if (o && o->time_unit) {
    double h;
    if (unit_code(o->time_unit, &h))
      return fail(c, RKIN_EINVAL, "time_unit must be \"s\", \"min\", \"h\" "
                  "or \"d\" (got \"%s\")", o->time_unit);
    if (decl && fabs(sec / 3600.0 - h) > 1e-12 * h)
      return fail(c, RKIN_EINVAL, "time_unit \"%s\" contradicts the file, "
                  "whose time unit '%s' is %g s", o->time_unit, decl, sec);
    c->hours = h;
    snprintf(r->time_unit, sizeof r->time_unit, "%s", o->time_unit);
  } else if (decl) {
    c->hours = sec / 3600.0;
  } else {
    c->hours = 1.0 / 3600;
    warn(r, "%s: the model declares no time unit; taking seconds (the SBML "
         "default); give time_unit if its rates are per minute, hour or "
         "day", c->path);
  }
  if (!r->time_unit[0]) {
    const char *nm = "other";
    if (fabs(c->hours * 3600 - 1) < 1e-12) nm = "s";
    else if (fabs(c->hours * 60 - 1) < 1e-12) nm = "min";
    else if (fabs(c->hours - 1) < 1e-12) nm = "h";
    else if (fabs(c->hours / 24 - 1) < 1e-12) nm = "d";
    snprintf(r->time_unit, sizeof r->time_unit, "%s", nm);
  }
  r->hours_per_unit = c->hours;
  return 0;
}

/* ---------------------------------------------------------- validation */

/* Consistency errors that leave the model's meaning intact (a species in a
 * kinetic law not listed as a modifier, as SimBiology writes,
 * or a dangling unit reference: the math does not use units), warnings;
 * errors only with opts->strict. */
static int lenient(unsigned id)
{
  return id == 21121    /* species in a kinetic law, not a modifier */
         || id == 10313;  /* a unit attribute naming no unit definition */
}

/* "short message (id N): the detail naming the element" from libSBML's
 * message, whose last lines (after "Reference: ...") name the element. */
static void error_text(const XMLError_t *e, char *buf, size_t size)
{
  const char *msg = XMLError_getMessage(e), *ref, *detail = NULL;
  const char *sh = XMLError_getShortMessage(e);
  size_t len;
  char *p;
  if (msg && (ref = strstr(msg, "Reference:")) && (detail = strchr(ref, '\n')))
    detail++;
  snprintf(buf, size, "%s (libSBML %u): %s", sh && *sh ? sh : "error",
           XMLError_getErrorId(e), detail ? detail : msg ? msg : "");
  for (p = buf; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  len = strlen(buf);
  while (len && isspace((unsigned char)buf[len - 1])) buf[--len] = 0;
}

/* libSBML's unit check assumes math its other checks accept: on a divide
 * of one argument, or a rule's formula read with an unknown node, it
 * crashed (SIGSEGV; a C++ exception through C, abort: found by
 * fuzzing). So it runs alone, after the others, and only when they found
 * no error but lenient 21121 (a species missing from a reaction's
 * modifiers, units intact). */
static int units_checkable(SBMLDocument_t *d)
{
  unsigned k, n = SBMLDocument_getNumErrors(d);
  for (k = 0; k < n; k++) {
    const XMLError_t *e = (const XMLError_t *)SBMLDocument_getError(d, k);
    unsigned sev = XMLError_getSeverity(e);
    if ((sev == LIBSBML_SEV_ERROR || sev == LIBSBML_SEV_FATAL)
        && XMLError_getErrorId(e) != 21121)
      return 0;
  }
  return 1;
}

/* libSBML's checks: the unit check alone (units set) or all the others;
 * modelling-practice advice (declare units, ...) is no consistency */
static void set_checks(SBMLDocument_t *d, int units)
{
  static const int other[] = {
      LIBSBML_CAT_GENERAL_CONSISTENCY, LIBSBML_CAT_IDENTIFIER_CONSISTENCY,
      LIBSBML_CAT_MATHML_CONSISTENCY, LIBSBML_CAT_SBO_CONSISTENCY,
      LIBSBML_CAT_OVERDETERMINED_MODEL};
  size_t k;
  for (k = 0; k < sizeof other / sizeof *other; k++)
    SBMLDocument_setConsistencyChecks(d, (SBMLErrorCategory_t)other[k],
                                      !units);
  SBMLDocument_setConsistencyChecks(d, LIBSBML_CAT_MODELING_PRACTICE, 0);
  SBMLDocument_setConsistencyChecks(d, LIBSBML_CAT_UNITS_CONSISTENCY, units);
}

static int check_document(ctx *c, SBMLDocument_t *d, const rkin_sbml_opts *o)
{
  unsigned k, n = SBMLDocument_getNumErrors(d);
  int strict = o && o->strict;
  for (k = 0; k < n; k++) {
    const XMLError_t *e = (const XMLError_t *)SBMLDocument_getError(d, k);
    unsigned sev = XMLError_getSeverity(e);
    int units = XMLError_getCategory(e) == LIBSBML_CAT_UNITS_CONSISTENCY;
    int error = sev == LIBSBML_SEV_ERROR || sev == LIBSBML_SEV_FATAL;
    char buf[RKIN_ERR_MSG - 64];
    error_text(e, buf, sizeof buf);
    if ((error && (strict || !lenient(XMLError_getErrorId(e))))
        || (units && strict))
      return fail(c, RKIN_EINVAL, "line %u: %s", XMLError_getLine(e), buf);
    if (error || sev == LIBSBML_SEV_WARNING)
      warn(c->res, "%s:%u: %s", c->path, XMLError_getLine(e), buf);
  }
  return 0;
}

/* --------------------------------------------------------------- build */

static char *dupname(ctx *c, const char *a, const char *b)
{
  size_t la = strlen(a), lb = b ? strlen(b) : 0;
  char *s = malloc(la + lb + 2);
  if (!s) {
    fail(c, RKIN_ENOMEM, "out of memory");
    return NULL;
  }
  memcpy(s, a, la);
  if (b) {
    s[la] = '.';
    memcpy(s + la + 1, b, lb + 1);
  } else {
    s[la] = 0;
  }
  return s;
}

static const char *nm(const SBase_t *el, const char *id, int has_name,
                      const char *name)
{
  (void)el;
  return has_name && name && *name ? name : id;
}

/* An event's id for messages ("number 3 (no id)" without one), in buf
 * (32 bytes) unless it has an id. */
static const char *event_id(Event_t *ev, unsigned k, char *buf)
{
  if (Event_isSetId(ev) && *Event_getId(ev)) return Event_getId(ev);
  snprintf(buf, 32, "number %u (no id)", k + 1);
  return buf;
}

/* Collects the symbols with their rules and initial assignments. */
static int collect(ctx *c)
{
  Model_t *m = c->m;
  unsigned nc = Model_getNumCompartments(m), nsp = Model_getNumSpecies(m),
           npar = Model_getNumParameters(m), nr = Model_getNumReactions(m),
           k, j, total = nc + nsp + npar + nr;
  size_t i = 0;
  for (k = 0; k < nr; k++) {
    Reaction_t *r = Model_getReaction(m, k);
    total += Reaction_getNumReactants(r) + Reaction_getNumProducts(r);
  }
  c->s = calloc(total + 1, sizeof *c->s);
  c->order = calloc(total + 1, sizeof *c->order);
  if (!c->s || !c->order) return fail(c, RKIN_ENOMEM, "out of memory");
  for (k = 0; k < nc; k++, i++) {
    Compartment_t *cp = Model_getCompartment(m, k);
    c->s[i].id = Compartment_getId(cp);
    c->s[i].kind = 'c';
    c->s[i].el = (const SBase_t *)cp;
    c->s[i].constant = Compartment_getConstant(cp);
    c->s[i].zero_dim = Compartment_isSetSpatialDimensions(cp)
                       && Compartment_getSpatialDimensionsAsDouble(cp) == 0;
  }
  for (k = 0; k < nsp; k++, i++) {
    Species_t *sp = Model_getSpecies(m, k);
    c->s[i].id = Species_getId(sp);
    c->s[i].kind = 's';
    c->s[i].el = (const SBase_t *)sp;
    c->s[i].hosu = Species_getHasOnlySubstanceUnits(sp);
    c->s[i].boundary = Species_getBoundaryCondition(sp);
    c->s[i].constant = Species_getConstant(sp);
    /* L3: the species' conversion factor, else the model's */
    c->s[i].cf = Species_isSetConversionFactor(sp)
                     ? Species_getConversionFactor(sp)
                     : Model_isSetConversionFactor(m)
                         ? Model_getConversionFactor(m) : NULL;
  }
  for (k = 0; k < npar; k++, i++) {
    Parameter_t *p = Model_getParameter(m, k);
    c->s[i].id = Parameter_getId(p);
    c->s[i].kind = 'p';
    c->s[i].el = (const SBase_t *)p;
    c->s[i].constant = Parameter_getConstant(p);
  }
  for (k = 0; k < nr; k++, i++) {
    Reaction_t *r = Model_getReaction(m, k);
    c->s[i].id = Reaction_getId(r);
    c->s[i].kind = 'r';
    c->s[i].el = (const SBase_t *)r;
    if (Reaction_isSetFast(r) && Reaction_getFast(r))
      return fail(c, RKIN_EINVAL, "reaction '%s' (line %u) is fast; fast "
                  "reactions are not supported", c->s[i].id,
                  SBase_getLine((SBase_t *)r));
    for (j = 0; j < Reaction_getNumReactants(r) + Reaction_getNumProducts(r);
         j++) {
      unsigned nre = Reaction_getNumReactants(r);
      SpeciesReference_t *sr = j < nre ? Reaction_getReactant(r, j)
                                       : Reaction_getProduct(r, j - nre);
      if (!SpeciesReference_isSetId(sr)) continue;
      c->s[i + 1].id = SpeciesReference_getId(sr);
      c->s[i + 1].kind = 'f';
      c->s[i + 1].el = (const SBase_t *)sr;
      c->s[i + 1].constant = SpeciesReference_getConstant(sr);
      i++;
    }
  }
  c->n_sym = i;
  for (i = 0; i < c->n_sym; i++) {
    c->order[i] = i;
    c->s[i].state = c->s[i].param = -1;
  }
  sort_ctx = c;
  qsort(c->order, c->n_sym, sizeof *c->order, cmp_id);
  for (i = 1; i < c->n_sym; i++)
    if (strcmp(c->s[c->order[i]].id, c->s[c->order[i - 1]].id) == 0)
      return fail(c, RKIN_EINVAL, "id '%s' is used twice",
                  c->s[c->order[i]].id);
  /* species: their compartments */
  for (i = 0; i < c->n_sym; i++)
    if (c->s[i].kind == 's') {
      const char *cid = Species_getCompartment((const Species_t *)c->s[i].el);
      int ci = find(c, cid);
      if (ci < 0 || c->s[ci].kind != 'c')
        return fail(c, RKIN_EINVAL, "species '%s' (line %u): unknown "
                    "compartment '%s'", c->s[i].id, line_of(&c->s[i]), cid);
      /* a 0-dimensional compartment still converts with its size when it
       * has one (L3; without one its size is 1, attr_value) */
      c->s[i].comp = ci;
    }
  /* rules and initial assignments */
  for (k = 0; k < Model_getNumRules(m); k++) {
    Rule_t *r = Model_getRule(m, k);
    int si;
    if (Rule_isAlgebraic(r))
      return fail(c, RKIN_EINVAL, "algebraic rule (line %u) is not "
                  "supported", SBase_getLine((SBase_t *)r));
    si = find(c, Rule_getVariable(r));
    if (si < 0 || c->s[si].kind == 'r')
      return fail(c, RKIN_EINVAL, "rule (line %u) sets unknown variable "
                  "'%s'", SBase_getLine((SBase_t *)r), Rule_getVariable(r));
    if (c->s[si].arule || c->s[si].rrule)
      return fail(c, RKIN_EINVAL, "'%s' has two rules (line %u)",
                  c->s[si].id, SBase_getLine((SBase_t *)r));
    if (!Rule_getMath(r)) {
      /* SBML L3V2: a rule without math has no effect */
      warn(c->res, "%s:%u: the rule for '%s' has no math: ignored", c->path,
           SBase_getLine((SBase_t *)r), c->s[si].id);
      continue;
    }
    if (Rule_isAssignment(r)) c->s[si].arule = Rule_getMath(r);
    else c->s[si].rrule = Rule_getMath(r);
  }
  for (k = 0; k < Model_getNumInitialAssignments(m); k++) {
    InitialAssignment_t *ia = Model_getInitialAssignment(m, k);
    int si = find(c, InitialAssignment_getSymbol(ia));
    if (si < 0 || c->s[si].kind == 'r')
      return fail(c, RKIN_EINVAL, "initial assignment (line %u) to unknown "
                  "symbol '%s'", SBase_getLine((SBase_t *)ia),
                  InitialAssignment_getSymbol(ia));
    if (!InitialAssignment_getMath(ia)) {
      warn(c->res, "%s:%u: the initial assignment to '%s' has no math: "
           "ignored", c->path, SBase_getLine((SBase_t *)ia), c->s[si].id);
      continue;
    }
    c->s[si].ia = InitialAssignment_getMath(ia);
  }
  /* event assignments: their variables become states */
  for (k = 0; k < Model_getNumEvents(m); k++) {
    Event_t *ev = Model_getEvent(m, k);
    char eb[32];
    for (j = 0; j < Event_getNumEventAssignments(ev); j++) {
      EventAssignment_t *ea = Event_getEventAssignment(ev, j);
      int si = find(c, EventAssignment_getVariable(ea));
      if (si < 0 || c->s[si].kind == 'r')
        return fail(c, RKIN_EINVAL, "event '%s' (line %u): assignment to "
                    "unknown variable '%s'", event_id(ev, k, eb),
                    SBase_getLine((SBase_t *)ea),
                    EventAssignment_getVariable(ea));
      if (c->s[si].arule)
        return fail(c, RKIN_EINVAL, "event '%s' (line %u): '%s' is set by "
                    "an assignment rule and cannot be assigned by an event",
                    event_id(ev, k, eb), SBase_getLine((SBase_t *)ea),
                    c->s[si].id);
      if (EventAssignment_getMath(ea)) c->s[si].evtarget = 1;
    }
  }
  if (Model_getNumConstraints(m))
    warn(c->res, "%s: %u constraints ignored", c->path,
         Model_getNumConstraints(m));
  return 0;
}

/* Names: Compartment.Species (SBML names, else ids), other symbols by
 * name; a name that is not unique falls back to the id. */
static int name_symbols(ctx *c)
{
  size_t i, j;
  for (i = 0; i < c->n_sym; i++) {
    sym *s = &c->s[i];
    const SBase_t *el = s->el;
    const char *own = nm(el, s->id, SBase_isSetName(el), SBase_getName(el));
    if (s->kind == 's') {
      const sym *cs = &c->s[s->comp];
      s->name = dupname(c, nm(cs->el, cs->id, SBase_isSetName(cs->el),
                              SBase_getName(cs->el)), own);
    } else {
      s->name = dupname(c, own, NULL);
    }
    if (!s->name) return c->rc;
  }
  for (i = 0; i < c->n_sym; i++)
    for (j = i + 1; j < c->n_sym; j++)
      if (strcmp(c->s[i].name, c->s[j].name) == 0) {
        size_t k;
        for (k = 0; k < 2; k++) {
          sym *s = &c->s[k ? j : i];
          if (strcmp(s->name, s->id) != 0) {
            warn(c->res, "%s: name '%s' of %s '%s' is not unique; using its "
                 "id", c->path, s->name, kind_name(s->kind), s->id);
            free(s->name);
            if (!(s->name = dupname(c, s->id, NULL))) return c->rc;
          }
        }
      }
  for (i = 0; i < c->n_sym; i++)
    for (j = i + 1; j < c->n_sym; j++)
      if (strcmp(c->s[i].name, c->s[j].name) == 0)
        return fail(c, RKIN_EINVAL, "name collision: %s '%s' and %s '%s' "
                    "are both called '%s'", kind_name(c->s[i].kind),
                    c->s[i].id, kind_name(c->s[j].kind), c->s[j].id,
                    c->s[i].name);
  return 0;
}

/* 1 when math a names a symbol, time or a function. */
static int uses_symbols(const ASTNode_t *a)
{
  unsigned k;
  int t = ASTNode_getType(a);
  if (t == AST_NAME || t == AST_NAME_TIME || t == AST_FUNCTION
      || t == AST_FUNCTION_DELAY || t == AST_FUNCTION_RATE_OF)
    return 1;
  for (k = 0; k < ASTNode_getNumChildren(a); k++)
    if (uses_symbols(ASTNode_getChild(a, k))) return 1;
  return 0;
}

/* Which symbols are states, parameters, outputs. */
static int classify(ctx *c)
{
  size_t i;
  unsigned k, j;
  /* species changed by reactions */
  for (k = 0; k < Model_getNumReactions(c->m); k++) {
    Reaction_t *r = Model_getReaction(c->m, k);
    unsigned nre = Reaction_getNumReactants(r);
    for (j = 0; j < nre + Reaction_getNumProducts(r); j++) {
      SpeciesReference_t *sr = j < nre ? Reaction_getReactant(r, j)
                                       : Reaction_getProduct(r, j - nre);
      int si = find(c, SpeciesReference_getSpecies(sr));
      if (si < 0 || c->s[si].kind != 's')
        return fail(c, RKIN_EINVAL, "reaction '%s' (line %u): unknown "
                    "species '%s'", Reaction_getId(r),
                    SBase_getLine((SBase_t *)sr),
                    SpeciesReference_getSpecies(sr));
      if (!c->s[si].boundary && !c->s[si].constant) c->s[si].reacts = 1;
    }
  }
  for (i = 0; i < c->n_sym; i++) {
    sym *s = &c->s[i];
    if (s->kind == 'r') continue;
    if (s->rrule || (s->kind == 's' && s->reacts && !s->arule)
        || s->evtarget) {
      if (s->constant && (s->rrule || s->evtarget))
        return fail(c, RKIN_EINVAL, "%s '%s' (line %u) is constant but has "
                    "a %s", kind_name(s->kind), s->id, line_of(s),
                    s->rrule ? "rate rule" : "event assignment");
      s->state = (int)c->ns++;
    } else if (s->kind == 'p' && !s->arule && s->ia && !uses_symbols(s->ia)) {
      /* an initial assignment of a number (as radiokin writes values that
       * 15 digits do not give exactly): still a parameter */
      rkin_node v = num(c, conv(c, s->ia, MODE_INIT, NULL, s->id));
      double x;
      if (c->rc) return c->rc;
      if (!rkin_expr_is_const(c->g, v, &x))
        return fail(c, RKIN_EINVAL, "parameter '%s' (line %u): initial "
                    "assignment is not a number", s->id, line_of(s));
      s->ia = NULL;
      if ((s->param = add_param(c, s->name, x)) < 0)
        return fail(c, RKIN_ENOMEM, "out of memory");
    } else if (s->kind == 'p' && !s->arule && !s->ia) {
      const Parameter_t *p = (const Parameter_t *)s->el;
      if (!Parameter_isSetValue(p))
        return fail(c, RKIN_EINVAL, "parameter '%s' (line %u) has no value",
                    s->id, line_of(s));
      if ((s->param = add_param(c, s->name, Parameter_getValue(p))) < 0)
        return fail(c, RKIN_ENOMEM, "out of memory");
    } else if (s->kind == 'c' && !s->arule && !s->ia
               && Compartment_isSetSize((const Compartment_t *)s->el)) {
      /* a constant size is a parameter (a covariate of a cohort) */
      s->param = add_param(c, s->name,
                           Compartment_getSize((const Compartment_t *)s->el));
      if (s->param < 0) return fail(c, RKIN_ENOMEM, "out of memory");
    } else {
      s->output = s->kind != 'f';
    }
  }
  return 0;
}

/* --------------------------------------------------- derivatives, rateOf */

/* d/dt (per hour) of the state of symbol i: its rate rule, or what the
 * reactions add to a species (stoichiometry x rate x conversion factor),
 * after the decay term emit put in s->deriv; built once, on demand (a
 * rateOf may ask for it while another derivative is built). The sums keep
 * the order of the reactions and their species references. */
static rkin_node state_deriv(ctx *c, int i)
{
  sym *s = &c->s[i];
  unsigned r, j;
  char wb[256];
  rkin_node d;
  if (c->rc) return c->rc;
  if (s->dmark == DONE) return s->deriv;
  if (s->dmark == BUSY)
    return fail(c, RKIN_EINVAL, "rateOf: the rate of change of %s '%s' "
                "(line %u) depends on itself (an algebraic loop)",
                kind_name(s->kind), s->id, line_of(s));
  s->dmark = BUSY;
  d = s->deriv;
  if (s->rrule) {
    rkin_node x = num(c, conv(c, s->rrule, MODE_DYN, NULL,
                              math_where(c, s, "rate rule", wb, sizeof wb)));
    d = B(c, RKIN_OP_ADD, d, B(c, RKIN_OP_DIV, x, K(c, c->hours)));
  } else if (s->kind == 's' && s->reacts) {
    for (r = 0; r < Model_getNumReactions(c->m) && !c->rc; r++) {
      Reaction_t *re = Model_getReaction(c->m, r);
      unsigned nre = Reaction_getNumReactants(re);
      rkin_node rate = -1;
      for (j = 0; j < nre + Reaction_getNumProducts(re) && !c->rc; j++) {
        SpeciesReference_t *sr = j < nre ? Reaction_getReactant(re, j)
                                         : Reaction_getProduct(re, j - nre);
        rkin_node flux;
        if (find(c, SpeciesReference_getSpecies(sr)) != i) continue;
        if (rate < 0) rate = value_of(c, find(c, Reaction_getId(re)),
                                      MODE_DYN);
        flux = B(c, RKIN_OP_MUL, stoich(c, sr, Reaction_getId(re)), rate);
        flux = B(c, RKIN_OP_DIV, flux, K(c, c->hours));
        if (s->cf) {
          /* a conversion factor scales the reactions' extent to the
           * species' substance (SBML L3) */
          int fi = find(c, s->cf);
          if (fi < 0 || c->s[fi].kind != 'p')
            return fail(c, RKIN_EINVAL, "species '%s' (line %u): "
                        "conversion factor '%s' is not a parameter", s->id,
                        line_of(s), s->cf);
          flux = B(c, RKIN_OP_MUL, flux, value_of(c, fi, MODE_DYN));
        }
        d = B(c, j < nre ? RKIN_OP_SUB : RKIN_OP_ADD, d, flux);
      }
    }
  }
  if (c->rc) return c->rc;
  s->deriv = d;
  s->dmark = DONE;
  return d;
}

/* rateOf(symbol i) at time t, per model time unit: the symbol's value
 * differentiated along the states' derivatives (decay included) and time
 * (chain rule on the expression graph). */
static rkin_node rate_dyn(ctx *c, int i, const char *where)
{
  rkin_node v = value_of(c, i, MODE_DYN), d;
  int *idx = NULL;
  size_t n = 0, k, q;
  if (c->rc) return c->rc;
  if (!c->derivs_ready)
    return fail(c, RKIN_EINVAL, "%s: rateOf is used where the initial "
                "state is not known yet", where);
  if (rkin_expr_leaves(c->g, v, RKIN_OP_STATE, &idx, &n))
    return fail(c, RKIN_ENOMEM, "out of memory");
  d = rkin_expr_diff(c->g, v, rkin_expr_time(c->g));
  for (k = 0; k < n && !c->rc; k++) {
    rkin_node f = -1, y = rkin_expr_state(c->g, idx[k]);
    for (q = 0; q < c->n_sym; q++)
      if (c->s[q].state == idx[k]) f = state_deriv(c, (int)q);
    if (f < 0) break;
    if (c->lam > 0) f = B(c, RKIN_OP_SUB, f, B(c, RKIN_OP_MUL, K(c, c->lam), y));
    d = B(c, RKIN_OP_ADD, d, B(c, RKIN_OP_MUL, rkin_expr_diff(c->g, v, y), f));
  }
  free(idx);
  if (c->rc) return c->rc;
  return B(c, RKIN_OP_MUL, d, K(c, c->hours));
}

/* rateOf(symbol i) at t0 (initial assignments), from the t0 values:
 * a rate rule's value, or what the reactions add to a species (as a
 * concentration when the math sees one); 0 for what nothing changes. */
static rkin_node rate_init(ctx *c, int i, const char *where)
{
  sym *s = &c->s[i];
  unsigned r, j;
  rkin_node dn;
  char wb[256];
  if (s->rrule)
    return num(c, conv(c, s->rrule, MODE_INIT, NULL,
                       math_where(c, s, "rate rule", wb, sizeof wb)));
  if (s->arule)
    return fail(c, RKIN_EINVAL, "%s: rateOf of '%s', set by an assignment "
                "rule, at t0 is not supported", where, s->id);
  if (s->kind != 's') return K(c, 0);
  dn = K(c, 0);
  for (r = 0; s->reacts && r < Model_getNumReactions(c->m) && !c->rc; r++) {
    Reaction_t *re = Model_getReaction(c->m, r);
    unsigned nre = Reaction_getNumReactants(re);
    for (j = 0; j < nre + Reaction_getNumProducts(re) && !c->rc; j++) {
      SpeciesReference_t *sr = j < nre ? Reaction_getReactant(re, j)
                                       : Reaction_getProduct(re, j - nre);
      rkin_node st, flux;
      if (find(c, SpeciesReference_getSpecies(sr)) != i) continue;
      if (SpeciesReference_isSetStoichiometryMath(sr))
        return fail(c, RKIN_EINVAL, "%s: rateOf at t0 of a species with "
                    "stoichiometryMath is not supported", where);
      st = SpeciesReference_isSetId(sr)
               ? value_of(c, find(c, SpeciesReference_getId(sr)), MODE_INIT)
               : K(c, SpeciesReference_getStoichiometry(sr));
      flux = B(c, RKIN_OP_MUL, st, value_of(c, find(c, Reaction_getId(re)),
                                            MODE_INIT));
      if (s->cf) flux = B(c, RKIN_OP_MUL, flux, value_of(c, find(c, s->cf),
                                                         MODE_INIT));
      dn = B(c, j < nre ? RKIN_OP_SUB : RKIN_OP_ADD, dn, flux);
    }
  }
  if (s->hosu || s->zero_dim) return dn;
  {
    /* d(n / V) = dn / V - n dV / V^2 */
    rkin_node V = value_of(c, s->comp, MODE_INIT);
    rkin_node dV = rate_init(c, s->comp, where);
    rkin_node n0 = species_amount0(c, i);
    return B(c, RKIN_OP_SUB, B(c, RKIN_OP_DIV, dn, V),
             B(c, RKIN_OP_DIV, B(c, RKIN_OP_MUL, n0, dV),
               B(c, RKIN_OP_MUL, V, V)));
  }
}

/* ---------------------------------------------------------------- events */

typedef struct {
  size_t n;
  rkin_model_event *ev;
  int *target;          /* every event's assignments, one after another */
  rkin_node *value;
  rkin_node *raw;       /* the SBML values assigned (before conversion) */
  char **names;
} evbuild;

static void evbuild_free(evbuild *b)
{
  size_t k;
  for (k = 0; b->names && k < b->n; k++) free(b->names[k]);
  free(b->names);
  free(b->ev);
  free(b->target);
  free(b->value);
  free(b->raw);
}

/* The value a state takes when an event assigns v to symbol s (the
 * amount of a species whose math value is a concentration, at the
 * compartment's size then; minus the initial value of a shifted state). */
static rkin_node assigned_state(ctx *c, int i, rkin_node v)
{
  sym *s = &c->s[i];
  if (s->kind == 's' && !s->rrule) {
    v = amount_from(c, s, v, MODE_DYN);
    return s->shifted ? B(c, RKIN_OP_SUB, v, s->amount0) : v;
  }
  return s->shifted ? B(c, RKIN_OP_SUB, v, value_of(c, i, MODE_INIT)) : v;
}

/* 1 when species s's state holds its concentration (a rate rule on a
 * concentration). */
static int holds_conc(const sym *s)
{
  return s->kind == 's' && s->rrule && !s->hosu && !s->zero_dim;
}

/* The species of compartment ci whose states hold concentrations. */
static size_t conc_states_in(ctx *c, int ci)
{
  size_t i, n = 0;
  if (ci < 0 || c->s[ci].kind != 'c') return 0;
  for (i = 0; i < c->n_sym; i++)
    if (c->s[i].kind == 's' && c->s[i].comp == ci && holds_conc(&c->s[i]))
      n++;
  return n;
}

/* When an event sets compartment ci to size x, the amounts in it stay
 * (SBML): a state holding a concentration is rescaled by old / new size;
 * a concentration the same event assigns is an amount at the old size
 * too (all of an event's values are computed before any is assigned), so
 * it is rescaled the same way. Appends to the event's assignments
 * (first: its first; a: the next free slot). */
static void rescale_conc(ctx *c, evbuild *b, rkin_model_event *v, int ci,
                         rkin_node x, size_t first, size_t *a)
{
  size_t i, j;
  for (i = 0; i < c->n_sym; i++) {
    sym *s = &c->s[i];
    size_t mine = *a;
    rkin_node conc;
    if (s->kind != 's' || s->comp != ci || !holds_conc(s)) continue;
    for (j = first; j < *a; j++)
      if (b->target[j] == s->state) mine = j;
    conc = mine < *a ? b->raw[mine] : value_of(c, (int)i, MODE_DYN);
    conc = B(c, RKIN_OP_DIV, B(c, RKIN_OP_MUL, conc,
                               value_of(c, ci, MODE_DYN)), x);
    if (mine == *a) {
      b->target[(*a)++] = s->state;
      v->n_assign++;
    }
    b->value[mine] = assigned_state(c, (int)i, conc);
  }
}

/* The model's events as radiokin model events (states by then known and
 * their initial values built). Times: delays are in the model's time
 * unit, radiokin's in hours. */
static int build_events(ctx *c, evbuild *b)
{
  Model_t *m = c->m;
  unsigned ne = Model_getNumEvents(m), k, j;
  size_t na = 0, a = 0;
  char wb[300];
  for (k = 0; k < ne; k++) {
    Event_t *e = Model_getEvent(m, k);
    na += Event_getNumEventAssignments(e);
    for (j = 0; j < Event_getNumEventAssignments(e); j++)
      na += conc_states_in(c, find(c, EventAssignment_getVariable(
                                          Event_getEventAssignment(e, j))));
  }
  b->n = ne;
  b->ev = calloc(ne + 1, sizeof *b->ev);
  b->names = calloc(ne + 1, sizeof *b->names);
  b->target = calloc(na + 1, sizeof *b->target);
  b->value = calloc(na + 1, sizeof *b->value);
  b->raw = calloc(na + 1, sizeof *b->raw);
  if (!b->ev || !b->names || !b->target || !b->value || !b->raw)
    return fail(c, RKIN_ENOMEM, "out of memory");
  for (k = 0; k < ne && !c->rc; k++) {
    Event_t *e = Model_getEvent(m, k);
    rkin_model_event *v = &b->ev[k];
    Trigger_t *tr = Event_getTrigger(e);
    unsigned level = SBase_getLevel((SBase_t *)e);
    unsigned line = SBase_getLine((SBase_t *)e);
    char eb[32];
    if (!(b->names[k] = strdup(event_id(e, k, eb))))
      return fail(c, RKIN_ENOMEM, "out of memory");
    v->name = b->names[k];
    snprintf(wb, sizeof wb, "trigger of event '%s' (line %u)", v->name, line);
    if (!tr || !Trigger_getMath(tr)) {
      warn(c->res, "%s: %s has no math: the event never fires", c->path, wb);
      v->trigger = B(c, RKIN_OP_LT, K(c, 1), K(c, 0));
    } else {
      v->trigger = cond(c, conv(c, Trigger_getMath(tr), MODE_DYN, NULL, wb));
    }
    /* Level 2 has neither attribute: an event cannot fire at t0 and its
     * trigger need not stay true */
    v->initial_value = level >= 3 && tr ? Trigger_getInitialValue(tr) : 1;
    v->persistent = level >= 3 && tr ? Trigger_getPersistent(tr) : 1;
    v->from_trigger = Event_getUseValuesFromTriggerTime(e) != 0;
    v->delay = v->priority = -1;
    if (Event_isSetDelay(e) && Delay_getMath(Event_getDelay(e))) {
      snprintf(wb, sizeof wb, "delay of event '%s' (line %u)", v->name, line);
      v->delay = B(c, RKIN_OP_MUL, num(c, conv(c, Delay_getMath(
                     Event_getDelay(e)), MODE_DYN, NULL, wb)), K(c, c->hours));
    }
    if (Event_isSetPriority(e) && Priority_getMath(Event_getPriority(e))) {
      snprintf(wb, sizeof wb, "priority of event '%s' (line %u)", v->name,
               line);
      v->priority = num(c, conv(c, Priority_getMath(Event_getPriority(e)),
                                MODE_DYN, NULL, wb));
    }
    v->target = b->target + a;
    v->value = b->value + a;
    for (j = 0; j < Event_getNumEventAssignments(e) && !c->rc; j++) {
      EventAssignment_t *ea = Event_getEventAssignment(e, j);
      int si = find(c, EventAssignment_getVariable(ea));
      rkin_node x;
      if (!EventAssignment_getMath(ea)) {
        warn(c->res, "%s:%u: event '%s': the assignment to '%s' has no "
             "math: ignored", c->path, SBase_getLine((SBase_t *)ea),
             v->name, EventAssignment_getVariable(ea));
        continue;
      }
      snprintf(wb, sizeof wb, "assignment to '%s' of event '%s' (line %u)",
               EventAssignment_getVariable(ea), v->name,
               SBase_getLine((SBase_t *)ea));
      x = num(c, conv(c, EventAssignment_getMath(ea), MODE_DYN, NULL, wb));
      if (c->rc) break;
      b->target[a] = c->s[si].state;
      b->raw[a] = x;
      b->value[a++] = assigned_state(c, si, x);
      v->n_assign++;
    }
    /* after all of the event's own assignments (so it may set a species
     * and its compartment) */
    for (j = 0; j < Event_getNumEventAssignments(e) && !c->rc; j++) {
      EventAssignment_t *ea = Event_getEventAssignment(e, j);
      int si = find(c, EventAssignment_getVariable(ea));
      if (EventAssignment_getMath(ea) && c->s[si].kind == 'c') {
        size_t q;
        for (q = (size_t)(v->target - b->target); q < a; q++)
          if (b->target[q] == c->s[si].state) break;
        /* the new size: the value assigned (before the shift) */
        rescale_conc(c, b, v, si, b->raw[q], (size_t)(v->target - b->target),
                     &a);
      }
    }
  }
  return c->rc;
}

static int emit(ctx *c, const rkin_sbml_opts *o)
{
  evbuild evb = {0};
  size_t i, no = 0, k;
  rkin_node *deriv = NULL, *onodes = NULL;
  char **snames = NULL, **onames = NULL;
  rkin_model_spec spec;
  double lam = o && o->nuclide ? rkin_nuclide_lambda(o->nuclide) : 0.0;
  size_t ns = c->ns ? c->ns : 1;
  deriv = calloc(ns, sizeof *deriv);
  snames = calloc(ns, sizeof *snames);
  onodes = calloc(2 * c->n_sym + 1, sizeof *onodes);
  onames = calloc(2 * c->n_sym + 1, sizeof *onames);
  if (!deriv || !snames || !onodes || !onames) {
    fail(c, RKIN_ENOMEM, "out of memory");
    goto done;
  }
  for (k = 0; k < ns; k++) deriv[k] = K(c, 0);
  /* initial values of the states, before any dynamic value */
  for (i = 0; i < c->n_sym && !c->rc; i++) {
    sym *s = &c->s[i];
    double v0;
    rkin_node init;
    if (s->state < 0) continue;
    init = value_of(c, (int)i, MODE_INIT);
    if (c->rc) break;
    if (s->kind == 's' && !s->rrule) init = amount_from(c, s, init, MODE_INIT);
    s->amount0 = init;
    s->shifted = !(rkin_expr_is_const(c->g, init, &v0) && v0 == 0.0);
    snames[s->state] = s->shifted ? malloc(strlen(s->name) + 8) : strdup(s->name);
    if (!snames[s->state]) {
      fail(c, RKIN_ENOMEM, "out of memory");
      break;
    }
    if (s->shifted) {
      sprintf(snames[s->state], "delta(%s)", s->name);
      s->output = 1;
    }
    s->deriv = K(c, 0);
    if (s->kind == 's' && !s->rrule) {
      if (lam > 0.0 && s->shifted)
        s->deriv = U(c, RKIN_OP_NEG, B(c, RKIN_OP_MUL, K(c, lam), s->amount0));
    } else if (lam > 0.0) {
      fail(c, RKIN_EINVAL, "nuclide: %s '%s' is a state set by a rate rule "
           "or an event; decay is added only to species",
           kind_name(s->kind), s->id);
    }
  }
  if (c->rc) goto done;
  if (c->ns == 0) snames[0] = strdup("(no state)");
  /* derivatives: rate rules (d value / d t_model; radiokin's time is
   * hours) and reactions (d amount / d t = sum stoichiometry x rate) */
  c->derivs_ready = 1;
  c->lam = lam;
  for (i = 0; i < c->n_sym && !c->rc; i++)
    if (c->s[i].state >= 0)
      deriv[c->s[i].state] = state_deriv(c, (int)i);
  if (c->rc) goto done;
  /* outputs: values of rule-set or derived symbols (species as amounts) */
  for (i = 0; i < c->n_sym && !c->rc; i++) {
    sym *s = &c->s[i];
    rkin_node v;
    if (!s->output) continue;
    if (s->kind == 's' && s->state >= 0 && !s->rrule)
      v = B(c, RKIN_OP_ADD, rkin_expr_state(c->g, s->state), s->amount0);
    else if (s->kind == 's' && !s->rrule && !s->arule)
      v = species_amount0(c, (int)i);
    else if (s->kind == 's' && !s->rrule)
      v = amount_from(c, s, value_of(c, (int)i, MODE_DYN), MODE_DYN);
    else
      v = value_of(c, (int)i, MODE_DYN);
    onodes[no] = v;
    onames[no] = strdup(s->name);
    if (!onames[no++]) fail(c, RKIN_ENOMEM, "out of memory");
  }
  /* reaction rates per hour, so their integrals over hours are amounts */
  for (i = 0; o && o->fluxes && i < c->n_sym && !c->rc; i++) {
    sym *s = &c->s[i];
    if (s->kind != 'r') continue;
    onodes[no] = B(c, RKIN_OP_DIV, value_of(c, (int)i, MODE_DYN),
                   K(c, c->hours));
    onames[no] = malloc(strlen(s->name) + 6);
    if (!onames[no]) {
      fail(c, RKIN_ENOMEM, "out of memory");
      break;
    }
    sprintf(onames[no++], "flux:%s", s->name);
  }
  if (c->rc || build_events(c, &evb)) goto done;
  if (rkin_graph_error(c->g, c->err)) {
    c->rc = c->err ? c->err->code : RKIN_EINVAL;
    rkin_err_prefix(c->err, "%s: ", c->path);
    goto done;
  }
  memset(&spec, 0, sizeof spec);
  spec.name = Model_isSetName(c->m) && *Model_getName(c->m)
                  ? Model_getName(c->m)
                  : Model_isSetId(c->m) ? Model_getId(c->m) : "sbml";
  spec.nuclide = o ? o->nuclide : NULL;
  spec.n_states = ns;
  spec.states = (const char *const *)snames;
  spec.deriv = deriv;
  spec.n_params = c->np;
  spec.params = (const char *const *)c->pnames;
  spec.values = c->pvals;
  spec.n_outputs = no;
  spec.outputs = (const char *const *)onames;
  spec.output_expr = onodes;
  c->res->model = rkin_model_new(&spec, c->g, c->err);
  c->g = NULL;
  if (c->res->model && evb.n
      && rkin_model_set_events(c->res->model, evb.ev, evb.n, c->err)) {
    rkin_model_free(c->res->model);
    c->res->model = NULL;
  }
  if (!c->res->model) {
    c->rc = c->err ? c->err->code : RKIN_EINVAL;
    rkin_err_prefix(c->err, "%s: ", c->path);
  }
done:
  evbuild_free(&evb);
  for (k = 0; snames && k < ns; k++) free(snames[k]);
  for (k = 0; onames && k < no; k++) free(onames[k]);
  free(snames);
  free(onames);
  free(deriv);
  free(onodes);
  return c->rc;
}

/* Decay-like reactions when a nuclide is also given: decay twice. */
static void warn_decay(ctx *c, const rkin_sbml_opts *o)
{
  unsigned k;
  if (!o || !o->nuclide) return;
  for (k = 0; k < Model_getNumReactions(c->m); k++) {
    Reaction_t *r = Model_getReaction(c->m, k);
    const char *names[2];
    int j;
    names[0] = Reaction_getId(r);
    names[1] = Reaction_isSetName(r) ? Reaction_getName(r) : "";
    for (j = 0; j < 2; j++) {
      char low[256];
      size_t l;
      snprintf(low, sizeof low, "%s", names[j] ? names[j] : "");
      for (l = 0; low[l]; l++) low[l] = (char)tolower((unsigned char)low[l]);
      if (strstr(low, "decay") || strstr(low, "phys")) {
        warn(c->res, "%s: reaction '%s' looks like physical decay and "
             "nuclide %s adds decay too (decay counted twice?)", c->path,
             names[j], o->nuclide->name);
        return;
      }
    }
  }
}

static int export_symbols(ctx *c)
{
  size_t i, n = 0;
  rkin_sbml_result *r = c->res;
  r->sym = calloc(c->n_sym + 1 + c->np, sizeof *r->sym);
  if (!r->sym) return fail(c, RKIN_ENOMEM, "out of memory");
  for (i = 0; i < c->n_sym; i++) {
    const sym *s = &c->s[i];
    rkin_sbml_symbol *o;
    if (s->kind == 'f') continue;
    o = &r->sym[n++];
    o->id = strdup(s->id);
    o->name = strdup(s->name);
    o->plain = SBase_isSetName(s->el) ? strdup(SBase_getName(s->el)) : NULL;
    o->kind = s->kind;
    o->where = s->state >= 0 && !s->shifted ? 's' : s->output ? 'o'
               : s->param >= 0 ? 'p' : 0;
    o->hosu = s->hosu || s->zero_dim;
    o->boundary = s->kind == 's' && (s->boundary || s->constant);
    o->holds_conc = s->kind == 's' && s->rrule && !s->hosu && !s->zero_dim;
    o->compartment = s->kind == 's' ? strdup(c->s[s->comp].name) : NULL;
    {
      const char *u = NULL;
      if (s->kind == 'p' && Parameter_isSetUnits((const Parameter_t *)s->el))
        u = Parameter_getUnits((const Parameter_t *)s->el);
      else if (s->kind == 'c'
               && Compartment_isSetUnits((const Compartment_t *)s->el))
        u = Compartment_getUnits((const Compartment_t *)s->el);
      else if (s->kind == 's'
               && Species_isSetSubstanceUnits((const Species_t *)s->el))
        u = Species_getSubstanceUnits((const Species_t *)s->el);
      o->units = u ? strdup(u) : NULL;
    }
    if (!o->id || !o->name) return fail(c, RKIN_ENOMEM, "out of memory");
  }
  r->n_sym = n;
  return 0;
}

/* Messages for a dose (or y0) naming something that is not a state: a
 * boundary, constant or rule-set species, a species solved as delta(..),
 * another name of a state. */
static int add_notes(ctx *c)
{
  size_t i, n = 0, cap = 3 * c->n_sym + 1;
  const char **names = calloc(cap, sizeof *names);
  char **notes = calloc(cap, sizeof *notes);
  int rc = 0;
  if (!names || !notes) {
    rc = fail(c, RKIN_ENOMEM, "out of memory");
    goto done;
  }
  for (i = 0; i < c->n_sym; i++) {
    const sym *s = &c->s[i];
    char buf[600], amb[600];
    const char *alias[2];
    int k, ambiguous;
    if (s->kind != 's' && s->kind != 'c' && s->kind != 'p') continue;
    if (s->state >= 0 && !s->shifted) {
      snprintf(buf, sizeof buf, "another name of the state '%s' (use that "
               "name)", s->name);
    } else if (s->state >= 0) {
      snprintf(buf, sizeof buf, "its initial value is not 0, so it is "
               "solved as its change 'delta(%s)'; a dose to 'delta(%s)' adds "
               "to it", s->name, s->name);
    } else if (s->kind == 's' && s->boundary) {
      snprintf(buf, sizeof buf, "a boundary species (boundaryCondition = "
               "true): no reaction changes its amount, so no dose can");
    } else if (s->kind == 's' && s->constant) {
      snprintf(buf, sizeof buf, "a constant species: its amount cannot "
               "change, so no dose can");
    } else if (s->arule) {
      snprintf(buf, sizeof buf, "set by an assignment rule (an output), "
               "not a state");
    } else if (s->kind == 's') {
      snprintf(buf, sizeof buf, "no reaction or rule changes this species "
               "(an output), so a dose would have no effect");
    } else {
      snprintf(buf, sizeof buf, "a %s, not a species", kind_name(s->kind));
    }
    alias[0] = s->id;
    alias[1] = SBase_isSetName(s->el) ? SBase_getName(s->el) : NULL;
    ambiguous = 0;
    if (alias[1]) {
      size_t j;
      for (j = 0; j < c->n_sym && !ambiguous; j++)
        if (j != i && SBase_isSetName(c->s[j].el)
            && strcmp(SBase_getName(c->s[j].el), alias[1]) == 0) {
          snprintf(amb, sizeof amb, "the SBML name of several symbols; "
                   "write Compartment.Species (such as '%s')", s->name);
          ambiguous = 1;
        }
    }
    for (k = 0; k < 3 && n < cap; k++) {
      const char *a = k < 2 ? alias[k] : s->name;
      if (!a || (k < 2 && strcmp(a, s->name) == 0)) continue;
      if (k == 2 && s->state >= 0 && !s->shifted) continue;
      names[n] = a;
      if (!(notes[n++] = strdup(k == 1 && ambiguous ? amb : buf))) {
        rc = fail(c, RKIN_ENOMEM, "out of memory");
        goto done;
      }
    }
  }
  if (rkin_model_set_state_notes(c->res->model, n, names,
                                 (const char *const *)notes, c->err))
    rc = c->rc = c->err ? c->err->code : RKIN_ENOMEM;
done:
  for (i = 0; notes && i < n; i++) free(notes[i]);
  free(notes);
  free(names);
  return rc;
}

/* Elements nested deeper than MAX_XML_DEPTH are refused before libSBML
 * reads the file: libSBML builds its XML tree and its MathML trees by
 * recursion (100,000 nested operators overflow the stack) and its unit
 * check takes time growing faster than the square of the nesting (1 s
 * for 1,200 nested operators, minutes for 5,000). A real model's deepest
 * formula is far below: an element is 5 levels under <sbml> before its
 * <math>. libxml2's streaming reader finds the depth without building
 * anything; a file it cannot parse is left to libSBML's messages. It is
 * fed the text libSBML will read: libSBML picks its decompressor by the
 * name's ending (".gz" zlib, ".bz2" libbz2, ".zip" the first file of the
 * archive through its bundled minizip; anything else read as it is), so
 * the same libraries decompress here (zlib's gzread reads a plain file
 * as it is). */
#define MAX_XML_DEPTH 200
/* libSBML reads an operator of n arguments as n - 1 nested binary ones,
 * ((a1 + a2) + a3) + ..., so 5,000 terms in one <apply> are 5,000 levels
 * of its recursion; 400,000 overflowed its reader's stack (4 MB) and its
 * checks take time growing with the square of the depth (19 s for
 * 100,000). The depth as libSBML will read it is counted here too: an
 * element 1 below its deepest child, an <apply> of n > 2 arguments
 * n - 2 more (sbml_formula.c bounds it again with calls inlined). */
#define MAX_MATH_DEPTH 5000

typedef struct {
  int kind;                   /* 'g' zlib (plain or .gz), 'b' .bz2, 'z' .zip */
  gzFile gz;
  BZFILE *bz;
  unzFile zip;
} xml_src;

static int ends_with(const char *s, const char *end)
{
  size_t n = strlen(s), m = strlen(end);
  return n >= m && strcmp(s + n - m, end) == 0;
}

static int xml_read(void *arg, char *buf, int len)
{
  xml_src *z = arg;
  int got;
  if (z->kind == 'b') {
    got = BZ2_bzread(z->bz, buf, len);
  } else if (z->kind == 'z') {
    got = unzReadCurrentFile(z->zip, buf, (unsigned)len);
  } else {
    got = gzread(z->gz, buf, (unsigned)len);
  }
  return got < 0 ? -1 : got;
}

static int xml_close(void *arg)
{
  xml_src *z = arg;
  if (z->gz) gzclose(z->gz);
  if (z->bz) BZ2_bzclose(z->bz);
  if (z->zip) {
    unzCloseCurrentFile(z->zip);
    unzClose(z->zip);
  }
  free(z);
  return 0;
}

/* The decompressing source of path, or NULL when it cannot be opened
 * (libSBML then names the problem). */
static xml_src *xml_open(const char *path)
{
  xml_src *z = calloc(1, sizeof *z);
  if (!z) return NULL;
  if (ends_with(path, ".bz2")) {
    z->kind = 'b';
    z->bz = BZ2_bzopen(path, "rb");
    if (z->bz) return z;
  } else if (ends_with(path, ".zip")) {
    z->kind = 'z';
    z->zip = unzOpen(path);
    if (z->zip && unzGoToFirstFile(z->zip) == UNZ_OK
        && unzOpenCurrentFile(z->zip) == UNZ_OK)
      return z;
    if (z->zip) unzClose(z->zip);
  } else {
    z->kind = 'g';
    z->gz = gzopen(path, "rb");
    if (z->gz) return z;
  }
  free(z);
  return NULL;
}

static void xml_quiet(void *arg, const char *msg, xmlParserSeverities sev,
                      xmlTextReaderLocatorPtr loc)
{
  (void)arg;
  (void)msg;
  (void)sev;
  (void)loc;
}

int sbml_check_nesting(const char *path, rkin_err *err)
{
  xml_src *z = xml_open(path);
  xmlTextReaderPtr r;
  int deep = 0, line = 0, bline = 0;
  /* per open element: its child elements, its deepest child as read,
   * whether it is an <apply> */
  long kids[MAX_XML_DEPTH + 1], below[MAX_XML_DEPTH + 1], bin = 0;
  int lines[MAX_XML_DEPTH + 1];
  char apply[MAX_XML_DEPTH + 1];
  if (!z) return 0;
  /* on failure xmlReaderForIO has closed z through xml_close */
  r = xmlReaderForIO(xml_read, xml_close, z, path, NULL,
                     XML_PARSE_NONET | XML_PARSE_NOERROR |
                     XML_PARSE_NOWARNING);
  if (!r) return 0;
  xmlTextReaderSetErrorHandler(r, xml_quiet, NULL);
  while (xmlTextReaderRead(r) == 1) {
    int type = xmlTextReaderNodeType(r), d = xmlTextReaderDepth(r);
    int closes = type == XML_READER_TYPE_END_ELEMENT;
    if (type == XML_READER_TYPE_ELEMENT) {
      const xmlChar *name = xmlTextReaderConstLocalName(r);
      if (d >= MAX_XML_DEPTH) {
        deep = d + 1;
        line = xmlTextReaderGetParserLineNumber(r);
        break;
      }
      if (d > 0) kids[d - 1]++;
      kids[d] = below[d] = 0;
      apply[d] = name && strcmp((const char *)name, "apply") == 0;
      lines[d] = xmlTextReaderGetParserLineNumber(r);
      closes = xmlTextReaderIsEmptyElement(r);
    }
    if (closes && d >= 0 && d <= MAX_XML_DEPTH) {
      long args = apply[d] ? kids[d] - 1 : 0;
      long own = 1 + below[d] + (args > 2 ? args - 2 : 0);
      if (d > 0 && own > below[d - 1]) below[d - 1] = own;
      if (apply[d] && own > MAX_MATH_DEPTH) {
        bin = own;
        bline = lines[d];
        break;
      }
    }
  }
  xmlFreeTextReader(r);
  if (deep)
    return rkin_err_set(err, RKIN_ERANGE, "%s: line %d: elements nested %d "
                        "deep (at most %d supported: a formula this deep is "
                        "not a model's)", path, line, deep, MAX_XML_DEPTH);
  if (bin)
    return rkin_err_set(err, RKIN_ERANGE, "%s: line %d: a formula %ld "
                        "deep as libSBML reads it, an operator of n "
                        "arguments as n - 1 nested binary ones (at most %d "
                        "supported)", path, bline, bin, MAX_MATH_DEPTH);
  return 0;
}

int rkin_sbml_load(const char *path, const rkin_sbml_opts *opts,
                   rkin_sbml_result *res, rkin_err *err)
{
  ctx c;
  SBMLDocument_t *d;
  size_t i;
  if (!path || !res)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_sbml_load: NULL argument");
  memset(res, 0, sizeof *res);
  memset(&c, 0, sizeof c);
  c.err = err;
  c.res = res;
  c.path = path;
  if ((c.rc = sbml_check_nesting(path, err))) return c.rc;
  d = readSBML(path);
  if (!d) return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
  if (SBMLDocument_getNumErrorsWithSeverity(d, LIBSBML_SEV_ERROR)
      + SBMLDocument_getNumErrorsWithSeverity(d, LIBSBML_SEV_FATAL)) {
    check_document(&c, d, opts);
    goto out;
  }
  res->level = (int)SBMLDocument_getLevel(d);
  res->version = (int)SBMLDocument_getVersion(d);
  if (!SBMLDocument_getModel(d)) {
    fail(&c, RKIN_EINVAL, "the document has no model");
    goto out;
  }
  if (sbml_comp_used(d)) {
    if ((c.rc = sbml_comp_flatten(d, path, err))) goto out;
    res->flattened = 1;
  }
  {
    const XMLNamespaces_t *ns = SBMLDocument_getNamespaces(d);
    int k;
    for (k = 0; ns && k < XMLNamespaces_getLength(ns); k++) {
      char *uri = XMLNamespaces_getURI(ns, k);
      if (uri && strstr(uri, "sbml.org/sbml/level3/version") && strstr(uri, "/core") == NULL
          && SBMLDocument_getPackageRequired(d, uri)) {
        fail(&c, RKIN_EINVAL, "package '%s' is required and not supported",
             uri);
        free(uri);
        goto out;
      }
      free(uri);
    }
  }
  {
    char skip[RKIN_ERR_MSG / 2];
    if ((c.rc = sbml_check_formulas(SBMLDocument_getModel(d), path, err,
                                    skip, sizeof skip)))
      goto out;
    if (*skip) {
      if (opts && opts->strict) {
        fail(&c, RKIN_ERANGE, "strict: %s", skip);
        goto out;
      }
      warn(res, "%s: %s", path, skip);
    }
    set_checks(d, 0);
    SBMLDocument_checkConsistency(d);
    if (!*skip && units_checkable(d)) {
      set_checks(d, 1);
      SBMLDocument_checkConsistency(d);
    } else if (!*skip) {
      warn(res, "%s: units not checked: libSBML's other checks found "
           "errors", path);
    }
  }
  if (check_document(&c, d, opts)) goto out;
  c.m = SBMLDocument_getModel(d);
  res->n_reactions = Model_getNumReactions(c.m);
  res->n_rules = Model_getNumRules(c.m);
  res->n_initial_assignments = Model_getNumInitialAssignments(c.m);
  res->n_functions = Model_getNumFunctionDefinitions(c.m);
  res->n_events = Model_getNumEvents(c.m);
  if (!(c.g = rkin_graph_new())) {
    fail(&c, RKIN_ENOMEM, "out of memory");
    goto out;
  }
  if (time_unit(&c, opts) || collect(&c) || name_symbols(&c)
      || classify(&c))
    goto out;
  warn_decay(&c, opts);
  if (emit(&c, opts) || add_notes(&c)) goto out;
  export_symbols(&c);
out:
  rkin_graph_free(c.g);
  for (i = 0; i < c.n_sym; i++) free(c.s[i].name);
  free(c.s);
  free(c.order);
  for (i = 0; i < c.np; i++) free(c.pnames[i]);
  free(c.pnames);
  free(c.pvals);
  SBMLDocument_free(d);
  if (c.rc) rkin_sbml_result_free(res);
  return c.rc;
}

void rkin_sbml_result_free(rkin_sbml_result *r)
{
  size_t i;
  if (!r) return;
  rkin_model_free(r->model);
  for (i = 0; i < r->n_sym; i++) {
    free(r->sym[i].id);
    free(r->sym[i].name);
    free(r->sym[i].plain);
    free(r->sym[i].compartment);
    free(r->sym[i].units);
  }
  free(r->sym);
  for (i = 0; i < r->n_warn; i++) free(r->warn[i]);
  free(r->warn);
  memset(r, 0, sizeof *r);
}
