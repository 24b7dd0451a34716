/* model_python.c - a model's right-hand side and outputs as Python source
 * (model_python.h). */
#include "core/model_python.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

#define MAX_NEST 40    /* nesting before a temporary (Python's parser) */

typedef struct {
  const rkin_model *m;
  const rkin_graph *g;
  char *buf;
  size_t len, cap;
  int oom;
  int *temp;           /* node -> temporary number (0: none) */
  int *uses, *need;
} pygen;

static void put(pygen *x, const char *s)
{
  size_t n = strlen(s);
  if (x->oom) return;
  if (rkin_grow((void **)&x->buf, &x->cap, x->len + n + 1, 1)) {
    x->oom = 1;
    return;
  }
  memcpy(x->buf + x->len, s, n + 1);
  x->len += n;
}

static void putf(pygen *x, const char *fmt, ...)
{
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(x, tmp);
}

/* A Python string literal of s (names may hold any character). */
static void put_str(pygen *x, const char *s)
{
  char c[8];
  put(x, "\"");
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      c[0] = '\\';
      c[1] = (char)ch;
      c[2] = '\0';
    } else if (ch < 32 || ch == 127) {
      snprintf(c, sizeof c, "\\x%02x", ch);
    } else {
      c[0] = (char)ch;
      c[1] = '\0';
    }
    put(x, c);
  }
  put(x, "\"");
}

static void put_num(pygen *x, double v)
{
  char b[40];
  int prec;
  if (v != v) {
    put(x, "math.nan");
    return;
  }
  if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
    put(x, v > 0 ? "math.inf" : "(-math.inf)");
    return;
  }
  for (prec = 15; prec < 17; prec++) {
    snprintf(b, sizeof b, "%.*g", prec, v);
    if (strtod(b, NULL) == v) break;
  }
  if (prec == 17) snprintf(b, sizeof b, "%.17g", v);
  if (v < 0) putf(x, "(%s)", b);
  else put(x, b);
}

static int nkids(const rkin_graph *g, rkin_node n)
{
  int k = 0;
  while (k < 3 && rkin_expr_arg(g, n, k) >= 0) k++;
  return k;
}

static void expr(pygen *x, rkin_node n, int top);

static void arg(pygen *x, rkin_node n, int k)
{
  expr(x, rkin_expr_arg(x->g, n, k), 0);
}

static void infix(pygen *x, rkin_node n, const char *op)
{
  put(x, "(");
  arg(x, n, 0);
  put(x, op);
  arg(x, n, 1);
  put(x, ")");
}

static void call(pygen *x, rkin_node n, const char *fn, int nargs)
{
  int k;
  put(x, fn);
  put(x, "(");
  for (k = 0; k < nargs; k++) {
    if (k) put(x, ", ");
    arg(x, n, k);
  }
  put(x, ")");
}

/* Node n in Python; a node with a temporary is v<k> unless top. */
static void expr(pygen *x, rkin_node n, int top)
{
  double v;
  rkin_op op = rkin_expr_op(x->g, n);
  if (!top && x->temp[n]) {
    putf(x, "v%d", x->temp[n]);
    return;
  }
  switch (op) {
  case RKIN_OP_CONST:
    rkin_expr_is_const(x->g, n, &v);
    put_num(x, v);
    return;
  case RKIN_OP_TIME: put(x, "t"); return;
  case RKIN_OP_STATE: putf(x, "y[%d]", rkin_expr_index(x->g, n)); return;
  case RKIN_OP_PARAM: putf(x, "p[%d]", rkin_expr_index(x->g, n)); return;
  case RKIN_OP_NEG: put(x, "(-"); arg(x, n, 0); put(x, ")"); return;
  case RKIN_OP_ADD: infix(x, n, " + "); return;
  case RKIN_OP_SUB: infix(x, n, " - "); return;
  case RKIN_OP_MUL: infix(x, n, " * "); return;
  case RKIN_OP_DIV: infix(x, n, " / "); return;
  case RKIN_OP_POW: call(x, n, "_pow", 2); return;
  case RKIN_OP_EXP: call(x, n, "math.exp", 1); return;
  case RKIN_OP_LOG: call(x, n, "math.log", 1); return;
  case RKIN_OP_SQRT: call(x, n, "math.sqrt", 1); return;
  case RKIN_OP_ABS: call(x, n, "abs", 1); return;
  case RKIN_OP_MIN: call(x, n, "min", 2); return;
  case RKIN_OP_MAX: call(x, n, "max", 2); return;
  case RKIN_OP_SIGN: call(x, n, "_sign", 1); return;
  case RKIN_OP_STEP: call(x, n, "_step", 1); return;
  case RKIN_OP_LT: infix(x, n, " < "); return;
  case RKIN_OP_LE: infix(x, n, " <= "); return;
  case RKIN_OP_GT: infix(x, n, " > "); return;
  case RKIN_OP_GE: infix(x, n, " >= "); return;
  case RKIN_OP_AND: infix(x, n, " and "); return;
  case RKIN_OP_OR: infix(x, n, " or "); return;
  case RKIN_OP_NOT: put(x, "(not "); arg(x, n, 0); put(x, ")"); return;
  case RKIN_OP_IFELSE:
    put(x, "(");
    arg(x, n, 1);
    put(x, " if ");
    arg(x, n, 0);
    put(x, " else ");
    arg(x, n, 2);
    put(x, ")");
    return;
  case RKIN_OP_SIN: call(x, n, "math.sin", 1); return;
  case RKIN_OP_COS: call(x, n, "math.cos", 1); return;
  case RKIN_OP_TAN: call(x, n, "math.tan", 1); return;
  case RKIN_OP_ASIN: call(x, n, "math.asin", 1); return;
  case RKIN_OP_ACOS: call(x, n, "math.acos", 1); return;
  case RKIN_OP_ATAN: call(x, n, "math.atan", 1); return;
  case RKIN_OP_FLOOR: call(x, n, "math.floor", 1); return;
  case RKIN_OP_CEIL: call(x, n, "math.ceil", 1); return;
  case RKIN_OP_FACT: call(x, n, "_fact", 1); return;
  }
  put(x, "math.nan");
}

/* def fn(t, y, p): the roots' values in a list; subexpressions used twice
 * or nested deeper than MAX_NEST become temporaries, children first. */
static void function(pygen *x, const char *fn, size_t n,
                     const rkin_node *roots, double lambda)
{
  size_t ng = rkin_graph_size(x->g), i;
  int k, nt = 0;
  memset(x->uses, 0, ng * sizeof *x->uses);
  memset(x->temp, 0, ng * sizeof *x->temp);
  memset(x->need, 0, ng * sizeof *x->need);
  for (i = 0; i < n; i++) x->need[roots[i]] = 1;
  for (k = (int)ng - 1; k >= 0; k--) {
    int j, nk = nkids(x->g, k);
    if (!x->need[k]) continue;
    for (j = 0; j < nk; j++) {
      rkin_node c = rkin_expr_arg(x->g, k, j);
      x->need[c] = 1;
      x->uses[c]++;
    }
  }
  putf(x, "\ndef %s(t, y, p):\n", fn);
  for (k = 0; k < (int)ng; k++) {
    int j, nk, d = 0;
    if (!x->need[k]) continue;
    nk = nkids(x->g, k);
    if (nk == 0) continue;        /* leaves: depth 1, no temporaries */
    for (j = 0; j < nk; j++) {
      rkin_node c = rkin_expr_arg(x->g, k, j);
      int dc = x->temp[c] || nkids(x->g, c) == 0 ? 1 : x->need[c];
      if (dc > d) d = dc;
    }
    x->need[k] = d + 1;
    if (x->uses[k] >= 2 || x->need[k] > MAX_NEST) {
      x->temp[k] = ++nt;
      x->need[k] = 1;
      putf(x, "    v%d = ", nt);
      expr(x, k, 1);
      put(x, "\n");
    }
  }
  put(x, "    return [\n");
  for (i = 0; i < n; i++) {
    put(x, "        ");
    expr(x, roots[i], 0);
    if (lambda > 0) {
      put(x, " - ");
      put_num(x, lambda);
      putf(x, " * y[%zu]", i);
    }
    put(x, ",\n");
  }
  put(x, "    ]\n");
}

static void names(pygen *x, const char *var, size_t n,
                  const char *(*name)(const rkin_model *, size_t))
{
  size_t i;
  putf(x, "%s = [", var);
  for (i = 0; i < n; i++) {
    if (i) put(x, ", ");
    put_str(x, name(x->m, i));
  }
  put(x, "]\n");
}

char *rkin_model_python(const rkin_model *m, rkin_err *err)
{
  pygen x;
  size_t ns = rkin_model_nstates(m), np = rkin_model_nparams(m),
         no = rkin_model_noutputs(m), ng, i;
  const double *def = rkin_model_defaults(m);
  rkin_node *roots;
  memset(&x, 0, sizeof x);
  x.m = m;
  x.g = rkin_model_graph(m);
  ng = rkin_graph_size(x.g);
  x.temp = calloc(ng + 1, sizeof *x.temp);
  x.uses = calloc(ng + 1, sizeof *x.uses);
  x.need = calloc(ng + 1, sizeof *x.need);
  roots = calloc(ns + no + 1, sizeof *roots);
  if (!x.temp || !x.uses || !x.need || !roots) x.oom = 1;
  put(&x, "# Generated by radiokin (rkin_model_python) from model ");
  put_str(&x, rkin_model_name(m));
  put(&x, ": its right-hand side\n# and outputs, time in hours.\n");
  if (rkin_model_events(m))
    put(&x, "# not written: the model's events\n");
  if (rkin_model_has_dose_mods(m))
    put(&x, "# not written: the model's dose modifiers\n");
  put(&x, "import math\n\n");
  names(&x, "STATES", ns, rkin_model_state_name);
  names(&x, "PARAMS", np, rkin_model_param_name);
  names(&x, "OUTPUTS", no, rkin_model_output_name);
  put(&x, "DEFAULTS = [");
  for (i = 0; i < np; i++) {
    if (i) put(&x, ", ");
    put_num(&x, def[i]);
  }
  put(&x, "]\nLAMBDA = ");
  put_num(&x, rkin_model_lambda(m));
  put(&x, "\n\n\ndef _pow(a, b):\n    return math.pow(a, b)\n\n\n"
          "def _sign(a):\n    return 1.0 if a > 0 else -1.0 if a < 0 else "
          "0.0\n\n\ndef _step(a):\n    return 1.0 if a > 0 else 0.0 if "
          "a < 0 else 0.5\n\n\ndef _fact(a):\n    return math.gamma(a + 1)"
          "\n\n");
  if (!x.oom) {
    for (i = 0; i < ns; i++) roots[i] = rkin_model_deriv_node(m, i);
    function(&x, "rhs", ns, roots, rkin_model_lambda(m));
    for (i = 0; i < no; i++) roots[i] = rkin_model_output_node(m, i);
    function(&x, "outputs", no, roots, 0);
  }
  free(x.temp);
  free(x.uses);
  free(x.need);
  free(roots);
  if (x.oom) {
    free(x.buf);
    rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory writing it "
                 "as Python", rkin_model_name(m));
    return NULL;
  }
  return x.buf;
}
