/* test_expr.c - expression graph: folding, CSE, derivatives, tape, format. */
#include <math.h>
#include <stdint.h>

#include "core/init.h"
#include "core/expr.h"
#include "../tap.h"

#define NS 3   /* states used by the random expressions */
#define NP 2   /* parameters */

/* ------------------------------------------------------------ helpers */

static int is_str(const char *got, const char *want, const char *name)
{
  int pass = ok(strcmp(got, want) == 0, "%s", name);
  if (!pass) diag("  got '%s', want '%s'", got, want);
  return pass;
}

static rkin_node add(rkin_graph *g, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, RKIN_OP_ADD, a, b);
}

static rkin_node sub(rkin_graph *g, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, RKIN_OP_SUB, a, b);
}

static rkin_node mul(rkin_graph *g, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, RKIN_OP_MUL, a, b);
}

static rkin_node dvd(rkin_graph *g, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, RKIN_OP_DIV, a, b);
}

static rkin_node cst(rkin_graph *g, double v)
{
  return rkin_expr_const(g, v);
}

/* Reference evaluator, written against the public accessors only, so the
 * tape is compared with an independent walk of the graph. */
static double eval(const rkin_graph *g, rkin_node n, double t,
                   const double *y, const double *p)
{
  double a, b, v;
  rkin_op op = rkin_expr_op(g, n);
  switch (op) {
  case RKIN_OP_CONST: rkin_expr_is_const(g, n, &v); return v;
  case RKIN_OP_TIME: return t;
  case RKIN_OP_STATE: return y[rkin_expr_index(g, n)];
  case RKIN_OP_PARAM: return p[rkin_expr_index(g, n)];
  default: break;
  }
  a = eval(g, rkin_expr_arg(g, n, 0), t, y, p);
  if (op == RKIN_OP_IFELSE)
    return a != 0 ? eval(g, rkin_expr_arg(g, n, 1), t, y, p)
                  : eval(g, rkin_expr_arg(g, n, 2), t, y, p);
  b = rkin_expr_arg(g, n, 1) >= 0 ? eval(g, rkin_expr_arg(g, n, 1), t, y, p)
                                  : 0.0;
  switch (op) {
  case RKIN_OP_NEG: return -a;
  case RKIN_OP_ADD: return a + b;
  case RKIN_OP_SUB: return a - b;
  case RKIN_OP_MUL: return a * b;
  case RKIN_OP_DIV: return a / b;
  case RKIN_OP_POW: return pow(a, b);
  case RKIN_OP_EXP: return exp(a);
  case RKIN_OP_LOG: return log(a);
  case RKIN_OP_SQRT: return sqrt(a);
  case RKIN_OP_ABS: return fabs(a);
  case RKIN_OP_MIN: return a < b ? a : b;
  case RKIN_OP_MAX: return a > b ? a : b;
  case RKIN_OP_SIGN: return a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0;
  case RKIN_OP_STEP: return a > 0 ? 1.0 : a < 0 ? 0.0 : 0.5;
  case RKIN_OP_LT: return a < b;
  case RKIN_OP_LE: return a <= b;
  case RKIN_OP_GT: return a > b;
  case RKIN_OP_GE: return a >= b;
  case RKIN_OP_AND: return a != 0 && b != 0;
  case RKIN_OP_OR: return a != 0 || b != 0;
  case RKIN_OP_NOT: return a == 0;
  case RKIN_OP_SIN: return sin(a);
  case RKIN_OP_COS: return cos(a);
  case RKIN_OP_TAN: return tan(a);
  case RKIN_OP_ASIN: return asin(a);
  case RKIN_OP_ACOS: return acos(a);
  case RKIN_OP_ATAN: return atan(a);
  case RKIN_OP_FLOOR: return floor(a);
  case RKIN_OP_CEIL: return ceil(a);
  case RKIN_OP_FACT: return tgamma(a + 1);
  default: return NAN;
  }
}

/* Seeded xorshift64*: the same expressions on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double urand(void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ULL) >> 11)
         / 9007199254740992.0;   /* 2^53: uniform in [0, 1) */
}

static int irand(int n)
{
  return (int)(urand() * n);
}

static rkin_node gen(rkin_graph *g, int depth);

/* A subexpression that is positive everywhere, so log, sqrt, division and
 * real powers stay in their domain. */
static rkin_node gen_pos(rkin_graph *g, int depth)
{
  rkin_node a = gen(g, depth);
  switch (irand(3)) {
  case 0: return add(g, cst(g, 0.5), mul(g, a, a));
  case 1: return rkin_expr_unary(g, RKIN_OP_EXP, dvd(g, a, cst(g, 4)));
  default:
    return add(g, cst(g, 0.25), rkin_expr_unary(g, RKIN_OP_ABS, a));
  }
}

static rkin_node gen_leaf(rkin_graph *g)
{
  static const double consts[] = { 0, 1, -1, 2, 0.5, -1.5, 3 };
  switch (irand(4)) {
  case 0: return rkin_expr_param(g, irand(NP));
  case 1: return irand(4) ? rkin_expr_state(g, irand(NS)) : rkin_expr_time(g);
  case 2: return cst(g, consts[irand(7)]);
  default: return rkin_expr_state(g, irand(NS));
  }
}

static rkin_node gen(rkin_graph *g, int depth)
{
  static const double expo[] = { 2, 3, 0.5, -1, 1.5, -0.5 };
  if (depth <= 0 || urand() < 0.2) return gen_leaf(g);
  switch (irand(15)) {
  case 0: return rkin_expr_unary(g, RKIN_OP_NEG, gen(g, depth - 1));
  case 1: return add(g, gen(g, depth - 1), gen(g, depth - 1));
  case 2: return sub(g, gen(g, depth - 1), gen(g, depth - 1));
  case 3:
  case 4: return mul(g, gen(g, depth - 1), gen(g, depth - 1));
  case 5: return dvd(g, gen(g, depth - 1), gen_pos(g, depth - 1));
  case 6:
    return rkin_expr_binary(g, RKIN_OP_POW, gen_pos(g, depth - 1),
                            irand(2) ? cst(g, expo[irand(6)])
                                     : dvd(g, gen(g, depth - 2), cst(g, 3)));
  case 7:
    return rkin_expr_unary(g, RKIN_OP_EXP,
                           dvd(g, gen(g, depth - 1), cst(g, 3)));
  case 8: return rkin_expr_unary(g, RKIN_OP_LOG, gen_pos(g, depth - 1));
  case 9: return rkin_expr_unary(g, RKIN_OP_SQRT, gen_pos(g, depth - 1));
  case 10: return rkin_expr_unary(g, RKIN_OP_ABS, gen(g, depth - 1));
  case 11:
    return rkin_expr_binary(g, RKIN_OP_MIN, gen(g, depth - 1),
                            gen(g, depth - 1));
  case 12:
    return rkin_expr_binary(g, RKIN_OP_MAX, gen(g, depth - 1),
                            gen(g, depth - 1));
  case 13:
    return mul(g, rkin_expr_unary(g, RKIN_OP_SIGN, gen(g, depth - 1)),
               gen(g, depth - 1));
  default:
    return mul(g, rkin_expr_unary(g, RKIN_OP_STEP, gen(g, depth - 1)),
               gen(g, depth - 1));
  }
}

/* Value of f with leaf `which` (0..NS-1 state, NS..NS+NP-1 param, NS+NP
 * time) moved by h. */
static double eval_at(const rkin_graph *g, rkin_node f, int which, double h,
                      double t, const double *y, const double *p)
{
  double yy[NS], pp[NP];
  memcpy(yy, y, sizeof yy);
  memcpy(pp, p, sizeof pp);
  if (which < NS) yy[which] += h;
  else if (which < NS + NP) pp[which - NS] += h;
  else t += h;
  return eval(g, f, t, yy, pp);
}

/* Fourth-order central difference (Richardson on two steps): truncation
 * O(h^4) ~ 1e-12 at h = 1e-3, rounding ~ 1e-13 |f| / h. Returns 0 when the
 * two underlying differences disagree, i.e. a kink (abs, min, max, sign,
 * step) lies within 2h and the derivative is not defined there. */
static int central_diff(const rkin_graph *g, rkin_node f, int which,
                        double t, const double *y, const double *p,
                        double *d)
{
  const double h = 1e-3;
  double d1 = (eval_at(g, f, which, h, t, y, p)
               - eval_at(g, f, which, -h, t, y, p)) / (2 * h);
  double d2 = (eval_at(g, f, which, 2 * h, t, y, p)
               - eval_at(g, f, which, -2 * h, t, y, p)) / (4 * h);
  if (!isfinite(d1) || !isfinite(d2)) return 0;
  if (fabs(d1 - d2) > 1e-2 * (1 + fabs(d1))) return 0;
  *d = (4 * d1 - d2) / 3;
  return 1;
}

static rkin_node leaf_of(rkin_graph *g, int which)
{
  if (which < NS) return rkin_expr_state(g, which);
  if (which < NS + NP) return rkin_expr_param(g, which - NS);
  return rkin_expr_time(g);
}

/* Checks every partial of f at a random point against finite differences.
 * Returns the number of partials compared, or -1 on a mismatch. */
static int check_partials(rkin_graph *g, rkin_node f, const char *label)
{
  double y[NS], p[NP], t, d, fd;
  int which, compared = 0, i;
  for (i = 0; i < NS; i++) y[i] = 0.5 + 1.5 * urand();
  for (i = 0; i < NP; i++) p[i] = 0.5 + 1.5 * urand();
  t = 0.5 + 1.5 * urand();
  if (!isfinite(eval(g, f, t, y, p))) return 0;
  for (which = 0; which < NS + NP + 1; which++) {
    rkin_node df = rkin_expr_diff(g, f, leaf_of(g, which));
    if (df < 0) {
      diag("%s: diff failed (%d)", label, df);
      return -1;
    }
    d = eval(g, df, t, y, p);
    if (!central_diff(g, f, which, t, y, p, &fd)) continue;
    /* Tolerance 1e-6 relative to max(1, |d|): the difference formula's
     * error (above) is far smaller unless f is badly conditioned. */
    if (!(fabs(d - fd) <= 1e-6 * fmax(1.0, fabs(d)))) {
      char buf[400];
      rkin_expr_format(g, f, NULL, NULL, buf, sizeof buf);
      diag("%s: leaf %d: symbolic %.15g vs FD %.15g; f = %s", label, which,
           d, fd, buf);
      return -1;
    }
    compared++;
  }
  return compared;
}

/* ------------------------------------------------------------ tests */

static void test_folding(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node x = rkin_expr_state(g, 0), k = rkin_expr_param(g, 0);
  rkin_node zero = cst(g, 0), one = cst(g, 1), n, m;
  double v = 0;
  size_t size;

  ok(rkin_expr_is_const(g, mul(g, cst(g, 2), cst(g, 3)), &v) && v == 6,
     "fold: 2 * 3 -> 6");
  ok(rkin_expr_is_const(g, rkin_expr_unary(g, RKIN_OP_EXP, zero), &v)
       && v == 1, "fold: exp(0) -> 1");
  ok(rkin_expr_is_const(g, sub(g, cst(g, 1), cst(g, 3)), &v) && v == -2,
     "fold: 1 - 3 -> -2");
  ok(add(g, x, zero) == x && add(g, zero, x) == x, "fold: x + 0, 0 + x -> x");
  ok(sub(g, x, zero) == x, "fold: x - 0 -> x");
  ok(mul(g, x, one) == x && mul(g, one, x) == x, "fold: x * 1, 1 * x -> x");
  ok(dvd(g, x, one) == x, "fold: x / 1 -> x");
  ok(rkin_expr_is_const(g, mul(g, x, zero), &v) && v == 0
       && rkin_expr_is_const(g, mul(g, zero, x), &v) && v == 0,
     "fold: x * 0, 0 * x -> 0");
  ok(rkin_expr_is_const(g, dvd(g, zero, k), &v) && v == 0, "fold: 0 / k -> 0");
  n = rkin_expr_unary(g, RKIN_OP_NEG, x);
  ok(sub(g, zero, x) == n, "fold: 0 - x -> neg x (the same node)");
  ok(rkin_expr_unary(g, RKIN_OP_NEG, n) == x, "fold: neg neg x -> x");
  ok(rkin_expr_binary(g, RKIN_OP_POW, x, one) == x, "fold: x^1 -> x");
  ok(rkin_expr_is_const(g, rkin_expr_binary(g, RKIN_OP_POW, x, zero), &v)
       && v == 1, "fold: x^0 -> 1");
  m = rkin_expr_unary(g, RKIN_OP_EXP, rkin_expr_unary(g, RKIN_OP_LOG, x));
  ok(rkin_expr_op(g, m) == RKIN_OP_EXP, "exp(log x) is not folded (x <= 0)");

  /* CSE: building the same expression again adds no node. */
  n = add(g, mul(g, k, x), rkin_expr_unary(g, RKIN_OP_SQRT, x));
  size = rkin_graph_size(g);
  m = add(g, mul(g, k, x), rkin_expr_unary(g, RKIN_OP_SQRT, x));
  is_int(m, n, "CSE: the same expression twice is the same node");
  is_int((long)rkin_graph_size(g), (long)size, "CSE: graph did not grow");
  ok(mul(g, x, k) == mul(g, k, x) && add(g, k, x) == add(g, x, k),
     "CSE: k * x and x * k share a node (commutative)");
  ok(sub(g, x, k) != sub(g, k, x), "CSE: x - k and k - x differ");
  ok(rkin_expr_state(g, 0) == x && cst(g, 2) == cst(g, 2)
       && rkin_expr_time(g) == rkin_expr_time(g), "CSE: leaves are shared");
  ok(rkin_graph_error(g, NULL) == 0, "no error recorded");
  rkin_graph_free(g);
}

static void test_dependencies(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node x = rkin_expr_state(g, 0), k = rkin_expr_param(g, 0);
  rkin_node t = rkin_expr_time(g), f = mul(g, k, x), h = add(g, k, t);
  rkin_node y6, y70, u, d;
  double v;

  ok(rkin_expr_has_state(g, f) && !rkin_expr_has_time(g, f),
     "k x: has a state, no time");
  ok(!rkin_expr_has_state(g, h) && rkin_expr_has_time(g, h),
     "k + t: no state, has time");
  ok(rkin_expr_depends(g, f, k) && rkin_expr_depends(g, f, x)
       && !rkin_expr_depends(g, f, t), "k x depends on k and x, not t");
  ok(!rkin_expr_depends(g, f, rkin_expr_param(g, 1)),
     "k x does not depend on p[1]");
  is_int(rkin_expr_max_state(g, f), 0, "max state of k x is 0");
  is_int(rkin_expr_max_param(g, h), 0, "max param of k + t is 0");
  is_int(rkin_expr_max_state(g, h), -1, "k + t uses no state");
  /* 70 = 6 mod 64: the 64-bit summary cannot tell y[6] from y[70], the
   * exact walk must. */
  y6 = rkin_expr_state(g, 6);
  y70 = rkin_expr_state(g, 70);
  u = mul(g, y70, y70);
  ok(!rkin_expr_depends(g, u, y6) && rkin_expr_depends(g, u, y70),
     "y[70]^2 depends on y[70], not y[6] (indices >= 64)");
  d = rkin_expr_diff(g, u, y6);
  ok(rkin_expr_is_const(g, d, &v) && v == 0, "d y[70]^2 / d y[6] = 0");
  is_int(rkin_expr_max_state(g, u), 70, "max state 70");
  rkin_graph_free(g);
}

/* Every op's derivative at random points, one check per op. */
static void test_each_op(void)
{
  static const rkin_op un[] = { RKIN_OP_NEG, RKIN_OP_EXP, RKIN_OP_LOG,
                                RKIN_OP_SQRT, RKIN_OP_ABS };
  static const rkin_op bin[] = { RKIN_OP_ADD, RKIN_OP_SUB, RKIN_OP_MUL,
                                 RKIN_OP_DIV, RKIN_OP_POW, RKIN_OP_MIN,
                                 RKIN_OP_MAX };
  size_t i;
  int r, rep;
  for (i = 0; i < sizeof un / sizeof un[0]; i++) {
    rkin_graph *g = rkin_graph_new();
    /* u = x0 * p0 + x1^2 + 0.1: positive, and varies with x, p */
    rkin_node x0 = rkin_expr_state(g, 0), x1 = rkin_expr_state(g, 1);
    rkin_node u = add(g, add(g, mul(g, x0, rkin_expr_param(g, 0)),
                             mul(g, x1, x1)), cst(g, 0.1));
    rkin_node f = rkin_expr_unary(g, un[i], u);
    for (r = 0, rep = 0; rep < 20 && r >= 0; rep++) {
      int c = check_partials(g, f, rkin_expr_op_name(un[i]));
      r = c < 0 ? -1 : r + c;
    }
    ok(r > 0, "d %s(u) matches a 4th-order central difference "
       "(rel. 1e-6, 20 random points, %d partials)",
       rkin_expr_op_name(un[i]), r);
    rkin_graph_free(g);
  }
  for (i = 0; i < sizeof bin / sizeof bin[0]; i++) {
    rkin_graph *g = rkin_graph_new();
    rkin_node x0 = rkin_expr_state(g, 0), x1 = rkin_expr_state(g, 1);
    rkin_node k = rkin_expr_param(g, 1), t = rkin_expr_time(g);
    rkin_node u = add(g, mul(g, x0, k), cst(g, 0.2));
    rkin_node v = add(g, mul(g, x1, t), dvd(g, x0, cst(g, 3)));
    rkin_node f = rkin_expr_binary(g, bin[i], u, v);
    for (r = 0, rep = 0; rep < 20 && r >= 0; rep++) {
      int c = check_partials(g, f, rkin_expr_op_name(bin[i]));
      r = c < 0 ? -1 : r + c;
    }
    ok(r > 0, "d %s(u, v) matches a 4th-order central difference "
       "(rel. 1e-6, 20 random points, %d partials)",
       rkin_expr_op_name(bin[i]), r);
    rkin_graph_free(g);
  }
}

/* The MathML functions SBML models use: derivatives against finite
 * differences on v = u / (1 + u) in (0, 1) (inside asin/acos's domain),
 * and the tape's values against libm. */
static void test_mathml_ops(void)
{
  static const rkin_op un[] = { RKIN_OP_SIN, RKIN_OP_COS, RKIN_OP_TAN,
                                RKIN_OP_ASIN, RKIN_OP_ACOS, RKIN_OP_ATAN };
  static const rkin_op all[] = { RKIN_OP_SIN, RKIN_OP_COS, RKIN_OP_TAN,
                                 RKIN_OP_ASIN, RKIN_OP_ACOS, RKIN_OP_ATAN,
                                 RKIN_OP_FLOOR, RKIN_OP_CEIL, RKIN_OP_FACT };
  static double (*const fn[])(double) = { sin, cos, tan, asin, acos, atan,
                                          floor, ceil };
  size_t i;
  int r, rep;
  for (i = 0; i < sizeof un / sizeof un[0]; i++) {
    rkin_graph *g = rkin_graph_new();
    rkin_node x0 = rkin_expr_state(g, 0), x1 = rkin_expr_state(g, 1);
    rkin_node u = add(g, add(g, mul(g, x0, rkin_expr_param(g, 0)),
                             mul(g, x1, x1)), cst(g, 0.1));
    rkin_node v = dvd(g, u, add(g, u, cst(g, 1)));
    rkin_node f = rkin_expr_unary(g, un[i], v);
    for (r = 0, rep = 0; rep < 20 && r >= 0; rep++) {
      int c = check_partials(g, f, rkin_expr_op_name(un[i]));
      r = c < 0 ? -1 : r + c;
    }
    ok(r > 0, "d %s(v) matches a 4th-order central difference "
       "(rel. 1e-6, 20 random points, %d partials)",
       rkin_expr_op_name(un[i]), r);
    rkin_graph_free(g);
  }
  {
    rkin_graph *g = rkin_graph_new();
    rkin_node out[9], x = rkin_expr_state(g, 0);
    double y[1] = { 0.37 }, got[9], *work;
    rkin_tape *tp;
    for (i = 0; i < 9; i++) {
      /* factorial at 3.7 + 0.3 = 4: 24; the others at 0.37 */
      rkin_node arg = all[i] == RKIN_OP_FACT ? add(g, cst(g, 3.63), x) : x;
      out[i] = rkin_expr_unary(g, all[i], arg);
    }
    tp = rkin_tape_compile(g, out, 9, NULL);
    work = calloc(rkin_tape_nwork(tp), sizeof *work);
    rkin_tape_eval(tp, 0, y, NULL, work, got);
    for (i = 0; i < 8; i++)
      ok(got[i] == fn[i](0.37), "tape %s(0.37) = libm's (%.17g)",
         rkin_expr_op_name(all[i]), got[i]);
    is_double(got[8], 24.0, 1e-12, "tape factorial(4) = 24");
    ok(rkin_expr_is_const(g, rkin_expr_diff(g, out[6], x), NULL)
       && rkin_expr_is_const(g, rkin_expr_diff(g, out[8], x), NULL),
       "floor and factorial: derivative 0 (piecewise constant)");
    free(work);
    rkin_tape_free(tp);
    rkin_graph_free(g);
  }
}

static void test_special_derivatives(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node x = rkin_expr_state(g, 0), k = rkin_expr_param(g, 0);
  rkin_node a = rkin_expr_unary(g, RKIN_OP_ABS, x);
  rkin_node mn = rkin_expr_binary(g, RKIN_OP_MIN, mul(g, cst(g, 2), x),
                                  mul(g, cst(g, 3), x));
  rkin_node da = rkin_expr_diff(g, a, x), dm = rkin_expr_diff(g, mn, x);
  rkin_node pw = rkin_expr_binary(g, RKIN_OP_POW, x, cst(g, 3));
  rkin_node dp = rkin_expr_diff(g, pw, x);
  double y0 = 0, p0 = 1, v;
  char buf[200];

  ok(rkin_expr_is_const(g, rkin_expr_diff(g, rkin_expr_unary(
       g, RKIN_OP_SIGN, x), x), &v) && v == 0, "d sign(x) = 0 (a.e.)");
  ok(rkin_expr_is_const(g, rkin_expr_diff(g, rkin_expr_unary(
       g, RKIN_OP_STEP, x), x), &v) && v == 0, "d step(x) = 0 (a.e.)");
  is_double(eval(g, da, 0, &y0, &p0), 0, 0, "d|x| at x = 0 is 0, not NaN");
  /* min(2x, 3x) at x = 0 is a tie: documented mean (2 + 3) / 2. */
  is_double(eval(g, dm, 0, &y0, &p0), 2.5, 1e-15,
            "d min(2x, 3x) at the tie x = 0 is the mean 2.5");
  y0 = -1;
  is_double(eval(g, dm, 0, &y0, &p0), 3, 1e-15,
            "d min(2x, 3x) at x = -1 is 3 (exact selection)");
  rkin_expr_format(g, dp, NULL, NULL, buf, sizeof buf);
  like(buf, "3 * y[0]^2", "d x^3 = 3 * x^2 (constant exponent rule)");
  ok(rkin_expr_is_const(g, rkin_expr_diff(g, mul(g, k, x), rkin_expr_time(g)),
                        &v) && v == 0, "d(k x)/dt = 0");
  ok(rkin_expr_diff(g, mul(g, k, x), k) == x, "d(k x)/dk = x (folded)");
  rkin_graph_free(g);
}

static void test_random(void)
{
  int e, bad = 0, compared = 0, skipped = 0, tape_bad = 0, tried = 0;
  rkin_graph *g = rkin_graph_new();
  rkin_node outs[300];
  int n_out = 0;
  for (e = 0; e < 400; e++) {
    char label[32];
    rkin_node f = gen(g, 5);
    int c;
    snprintf(label, sizeof label, "expr %d", e);
    if (rkin_graph_error(g, NULL)) {
      rkin_err err;
      rkin_graph_error(g, &err);
      diag("generator produced an error: %s", err.msg);
      bad++;
      break;
    }
    c = check_partials(g, f, label);
    tried++;
    if (c < 0) bad++;
    else if (c == 0) skipped++;
    else compared += c;
    if (n_out < 300) outs[n_out++] = f;
  }
  ok(bad == 0, "400 random expressions: every partial w.r.t. 3 states, 2 "
     "params and t matches a 4th-order central difference (rel. 1e-6); "
     "%d partials compared, %d expressions skipped (non-finite or kinks)",
     compared, skipped);
  ok(compared > 1000, "enough partials compared (%d > 1000)", compared);

  /* One tape for 300 outputs: same values as the recursive walk. */
  {
    rkin_err err;
    rkin_tape *tp = rkin_tape_compile(g, outs, (size_t)n_out, &err);
    double y[NS] = { 0.7, 1.3, 1.9 }, p[NP] = { 0.6, 1.4 }, t = 1.1;
    double *work, *res;
    int k;
    ok(tp != NULL, "tape of 300 outputs compiles");
    work = malloc(rkin_tape_nwork(tp) * sizeof *work);
    res = malloc((size_t)n_out * sizeof *res);
    ok(rkin_tape_ninstr(tp) <= rkin_graph_size(g)
         && rkin_tape_nout(tp) == (size_t)n_out,
       "tape keeps at most the graph's %zu nodes (%zu instructions)",
       rkin_graph_size(g), rkin_tape_ninstr(tp));
    rkin_tape_eval(tp, t, y, p, work, res);
    for (k = 0; k < n_out; k++) {
      double want = eval(g, outs[k], t, y, p);
      /* Same operations in the same order: equal, except that the tape
       * squares by one multiplication where pow may round differently
       * in the last place; 1e-12 relative allows that to propagate. */
      if (isfinite(want)
          && !(fabs(res[k] - want) <= 1e-12 * fmax(1, fabs(want))))
        tape_bad++;
    }
    ok(tape_bad == 0, "tape equals the recursive evaluation on 300 random "
       "expressions (rel. 1e-12)");
    free(work);
    free(res);
    rkin_tape_free(tp);
  }
  rkin_graph_free(g);
}

static void test_tape(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node y0 = rkin_expr_state(g, 0), y1 = rkin_expr_state(g, 1);
  rkin_node k = rkin_expr_param(g, 0);
  rkin_node sh = mul(g, k, y0);
  rkin_node out[3];
  rkin_err err;
  rkin_tape *tp;
  double y[2] = { 2, 3 }, p[1] = { 0.5 }, w[16], r[3];

  out[0] = add(g, sh, y1);
  out[1] = sub(g, sh, rkin_expr_unary(g, RKIN_OP_LOG, y1));
  out[2] = dvd(g, sh, y1);
  tp = rkin_tape_compile(g, out, 3, &err);
  /* mul, add, log, sub, div: the shared k*y0 once; leaves are no
   * instructions (they are copied into the work array). */
  is_int((long)rkin_tape_ninstr(tp), 5, "shared k*y0 evaluated once "
         "(5 instructions)");
  /* y0, y1, k, t and the 5 results */
  is_int((long)rkin_tape_nwork(tp), 9, "work: 4 leaves + 5 results");
  is_int(rkin_tape_eval(tp, 0, y, p, w, r), 0, "finite outputs return 0");
  is_double(r[0], 4, 0, "out 0 = 0.5*2 + 3");
  is_double(r[1], 1 - log(3), 1e-15, "out 1 = 1 - log 3");
  y[1] = 0;
  is_int(rkin_tape_eval(tp, 0, y, p, w, r), -2, "log(0) = -Inf in output 1 "
         "-> returns -1 - 1");
  y[1] = -1;
  is_int(rkin_tape_eval(tp, 0, y, p, w, r), -2, "log(-1) = NaN in output 1 "
         "-> -2");
  y[1] = 3;
  p[0] = INFINITY;
  is_int(rkin_tape_eval(tp, 0, y, p, w, r), -1, "Inf parameter: first "
         "output reported (-1)");
  rkin_tape_free(tp);

  out[1] = 12345;
  ok(rkin_tape_compile(g, out, 3, &err) == NULL, "invalid output node");
  like(err.msg, "output 1 is node 12345", "message names the output");
  rkin_graph_free(g);
}

static void test_format(void)
{
  const char *sn[] = { "P", "K" }, *pn[] = { "kPK", "kKP", "V" };
  rkin_graph *g = rkin_graph_new();
  rkin_node P = rkin_expr_state(g, 0), K = rkin_expr_state(g, 1);
  rkin_node kPK = rkin_expr_param(g, 0), kKP = rkin_expr_param(g, 1);
  rkin_node V = rkin_expr_param(g, 2);
  char buf[128], small[12];
#define FMT(n) (rkin_expr_format(g, (n), sn, pn, buf, sizeof buf), buf)
  is_str(FMT(sub(g, mul(g, kPK, P), mul(g, kKP, K))), "kPK * P - kKP * K",
         "products inside a difference need no parentheses");
  is_str(FMT(sub(g, P, sub(g, K, V))), "P - (K - V)", "a - (b - c)");
  is_str(FMT(sub(g, sub(g, P, K), V)), "P - K - V", "(a - b) - c");
  is_str(FMT(mul(g, add(g, P, K), V)), "(P + K) * V", "(a + b) * c");
  is_str(FMT(dvd(g, P, mul(g, K, V))), "P / (K * V)", "a / (b * c)");
  is_str(FMT(rkin_expr_unary(g, RKIN_OP_NEG, add(g, P, K))), "-(P + K)",
         "-(a + b)");
  is_str(FMT(rkin_expr_binary(g, RKIN_OP_POW, add(g, P, cst(g, 1)),
                              cst(g, 2))), "(P + 1)^2", "(a + 1)^2");
  is_str(FMT(rkin_expr_binary(g, RKIN_OP_POW,
                              rkin_expr_unary(g, RKIN_OP_NEG, P), cst(g, 2))),
         "(-P)^2", "(-a)^2");
  is_str(FMT(rkin_expr_binary(g, RKIN_OP_POW, P, cst(g, -0.5))), "P^(-0.5)",
         "negative exponent in parentheses");
  is_str(FMT(rkin_expr_binary(g, RKIN_OP_MAX, rkin_expr_unary(
           g, RKIN_OP_EXP, rkin_expr_time(g)), cst(g, 0.25))),
         "max(exp(t), 0.25)", "functions and time");
  rkin_expr_format(g, add(g, mul(g, kPK, P), K), NULL, NULL, buf, sizeof buf);
  is_str(buf, "p[0] * y[0] + y[1]", "NULL name arrays print p[i] / y[i]");
  rkin_expr_format(g, sub(g, mul(g, kPK, P), mul(g, kKP, K)), sn, pn, small,
                   sizeof small);
  is_str(small, "kPK * P ...", "a cut text ends in ... within the buffer");
#undef FMT
  rkin_graph_free(g);
}

static void test_errors(void)
{
  rkin_err err;
  rkin_graph *g = rkin_graph_new();
  rkin_node x;

  ok(rkin_expr_state(g, -1) < 0, "negative state index rejected");
  is_int(rkin_graph_error(g, &err), RKIN_EINVAL, "error sticks to the graph");
  like(err.msg, "state index -1 is negative", "message names the index");
  x = rkin_expr_state(g, 0);
  ok(x >= 0, "later valid constructions still work");
  rkin_expr_param(g, -3);
  rkin_graph_error(g, &err);
  like(err.msg, "state index -1", "the first error is the one reported");
  rkin_graph_free(g);

  g = rkin_graph_new();
  ok(rkin_expr_param(g, -3) < 0, "negative parameter index rejected");
  rkin_graph_error(g, &err);
  like(err.msg, "parameter index -3 is negative", "param message");
  rkin_graph_free(g);

  g = rkin_graph_new();
  x = rkin_expr_state(g, 0);
  ok(rkin_expr_unary(g, RKIN_OP_ADD, x) < 0, "add is not unary");
  rkin_graph_error(g, &err);
  like(err.msg, "'add' is not a unary operator", "message names the op");
  rkin_graph_free(g);

  g = rkin_graph_new();
  x = rkin_expr_state(g, 0);
  ok(rkin_expr_binary(g, RKIN_OP_EXP, x, x) < 0, "exp is not binary");
  rkin_graph_error(g, &err);
  like(err.msg, "'exp' is not a binary operator", "message names the op");
  rkin_graph_free(g);

  g = rkin_graph_new();
  ok(cst(g, NAN) < 0, "NaN constant rejected");
  rkin_graph_error(g, &err);
  like(err.msg, "constant nan is not finite", "message gives the value");
  rkin_graph_free(g);

  g = rkin_graph_new();
  ok(cst(g, -INFINITY) < 0, "-Inf constant rejected");
  rkin_graph_error(g, &err);
  like(err.msg, "constant -inf is not finite", "message gives the value");
  rkin_graph_free(g);

  g = rkin_graph_new();
  ok(dvd(g, cst(g, 1), cst(g, 0)) < 0, "folding 1 / 0 rejected");
  is_int(rkin_graph_error(g, &err), RKIN_ENONFINITE, "code RKIN_ENONFINITE");
  like(err.msg, "div(1, 0) gives inf", "message shows the folded expression");
  rkin_graph_free(g);

  g = rkin_graph_new();
  x = rkin_expr_state(g, 0);
  ok(add(g, x, 77) < 0, "child past the end rejected");
  rkin_graph_error(g, &err);
  like(err.msg, "operand of add is node 77, but the graph has 1 nodes",
       "message names the node and the graph size");
  rkin_graph_free(g);

  g = rkin_graph_new();
  x = rkin_expr_state(g, 0);
  ok(mul(g, x, -5) < 0, "negative child rejected");
  rkin_graph_error(g, &err);
  like(err.msg, "operand of mul is an invalid node (-5)", "message");
  rkin_graph_free(g);

  g = rkin_graph_new();
  x = rkin_expr_state(g, 0);
  ok(rkin_expr_diff(g, x, add(g, x, cst(g, 1))) < 0,
     "diff w.r.t. a non-leaf rejected");
  rkin_graph_error(g, &err);
  like(err.msg, "cannot differentiate with respect to a 'add' node",
       "message names the op");
  rkin_graph_free(g);

  ok(rkin_graph_error(NULL, &err) == RKIN_EINVAL, "NULL graph");
  like(err.msg, "graph is NULL", "NULL graph message");
}

/* Conditions and ifelse: values on both sides of each switch, through the
 * tape and the reference walk; derivatives piecewise; folding; the
 * switching surfaces found; mixing numbers and conditions refused. */
static void test_conditionals(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node x = rkin_expr_state(g, 0), y = rkin_expr_state(g, 1);
  rkin_node k = rkin_expr_param(g, 0), t = rkin_expr_time(g);
  rkin_node c2 = cst(g, 2), c5 = cst(g, 5);
  rkin_node gt = rkin_expr_binary(g, RKIN_OP_GT, x, c2);
  rkin_node le = rkin_expr_binary(g, RKIN_OP_LE, t, c5);
  rkin_node both = rkin_expr_binary(g, RKIN_OP_AND, gt, le);
  rkin_node any = rkin_expr_binary(g, RKIN_OP_OR, gt, le);
  /* f = ifelse(x > 2 and t <= 5, k x^2, -y); h = ifelse(x > 2 or t <= 5,
   * 1, 3 y); n = ifelse(not(x > 2), x, 7) */
  rkin_node f = rkin_expr_ifelse(g, both, mul(g, k, mul(g, x, x)),
                                 rkin_expr_unary(g, RKIN_OP_NEG, y));
  rkin_node h = rkin_expr_ifelse(g, any, cst(g, 1), mul(g, cst(g, 3), y));
  rkin_node nt = rkin_expr_unary(g, RKIN_OP_NOT, gt);
  rkin_node n = rkin_expr_ifelse(g, nt, x, cst(g, 7));
  rkin_node out[3], *sw = NULL;
  size_t nsw = 0;
  double pv[1] = { 1.5 }, w[256], o[3];
  rkin_err err;
  rkin_tape *tp;
  static const struct { double x, y, t, f, h, n; } pts[] = {
    /* x > 2, t <= 5: k x^2 = 1.5 * 9 */
    { 3, 4, 1, 13.5, 1, 7 },
    /* x > 2, t > 5: -y; or holds */
    { 3, 4, 6, -4, 1, 7 },
    /* x = 2 exactly: not > 2 */
    { 2, 4, 1, -4, 1, 2 },
    /* x < 2, t > 5: neither */
    { 1, 4, 6, -4, 12, 1 },
    /* t = 5 exactly: <= holds */
    { 3, 4, 5, 13.5, 1, 7 },
  };
  size_t i;
  ok(f >= 0 && h >= 0 && n >= 0, "conditional expressions built");
  ok(rkin_expr_is_bool(g, gt) && rkin_expr_is_bool(g, both)
     && rkin_expr_is_bool(g, nt) && !rkin_expr_is_bool(g, f),
     "comparisons, and/or/not are conditions; ifelse is a number");
  is_int(rkin_expr_op(g, nt), RKIN_OP_LE, "not(x > 2) is x <= 2");
  out[0] = f;
  out[1] = h;
  out[2] = n;
  tp = rkin_tape_compile(g, out, 3, &err);
  ok(tp != NULL, "tape compiles");
  for (i = 0; tp && i < sizeof pts / sizeof pts[0]; i++) {
    double yv[2];
    yv[0] = pts[i].x;
    yv[1] = pts[i].y;
    ok(rkin_tape_eval(tp, pts[i].t, yv, pv, w, o) == 0
       && o[0] == pts[i].f && o[1] == pts[i].h && o[2] == pts[i].n,
       "x = %g, t = %g: f = %g (%g), h = %g (%g), n = %g (%g)", pts[i].x,
       pts[i].t, o[0], pts[i].f, o[1], pts[i].h, o[2], pts[i].n);
    ok(eval(g, f, pts[i].t, yv, pv) == pts[i].f
       && eval(g, h, pts[i].t, yv, pv) == pts[i].h,
       "reference walk agrees at x = %g, t = %g", pts[i].x, pts[i].t);
  }
  {
    /* A NaN in a comparison reaches the output (no silent branch). */
    double yv[2] = { NAN, 1 };
    ok(rkin_tape_eval(tp, 1, yv, pv, w, o) == -1, "NaN condition: output 0 "
       "reported not finite");
  }
  rkin_tape_free(tp);
  {
    /* ifelse(x > 0, log x, 0) at x = -1: the untaken log(-1) = NaN does
     * not reach the result. */
    rkin_node lg = rkin_expr_ifelse(g, rkin_expr_binary(g, RKIN_OP_GT, x,
                                                        cst(g, 0)),
                                    rkin_expr_unary(g, RKIN_OP_LOG, x),
                                    cst(g, 0));
    double yv[2] = { -1, 0 };
    tp = rkin_tape_compile(g, &lg, 1, &err);
    ok(tp && rkin_tape_eval(tp, 0, yv, pv, w, o) == 0 && o[0] == 0,
       "the untaken branch's NaN (log of -1) does not reach the value");
    yv[0] = M_E;
    ok(tp && rkin_tape_eval(tp, 0, yv, pv, w, o) == 0
       && fabs(o[0] - 1) < 1e-15, "the taken branch: log e = 1");
    rkin_tape_free(tp);
  }

  {
    /* d f / dx = ifelse(c, 2 k x, 0); d f / dy = ifelse(c, 0, -1). */
    rkin_node dx = rkin_expr_diff(g, f, x), dy = rkin_expr_diff(g, f, y);
    rkin_node dt = rkin_expr_diff(g, f, t);
    double yv[2] = { 3, 4 }, v;
    ok(eval(g, dx, 1, yv, pv) == 9.0 && eval(g, dx, 6, yv, pv) == 0.0,
       "df/dx = 2 k x on the first branch, 0 on the second");
    ok(eval(g, dy, 1, yv, pv) == 0.0 && eval(g, dy, 6, yv, pv) == -1.0,
       "df/dy = 0, then -1");
    ok(rkin_expr_is_const(g, dt, &v) && v == 0.0,
       "df/dt = 0: time appears only in the condition");
  }

  ok(rkin_expr_ifelse(g, gt, x, x) == x, "ifelse(c, a, a) folds to a");
  ok(rkin_expr_ifelse(g, rkin_expr_binary(g, RKIN_OP_LT, c2, c5), x, y) == x
     && rkin_expr_ifelse(g, rkin_expr_binary(g, RKIN_OP_GE, c2, c5), x, y)
            == y, "a constant condition folds to its branch");
  {
    rkin_node z = rkin_expr_zero_states(g, n);
    double v;
    ok(rkin_expr_is_const(g, z, &v) && v == 0.0,
       "zero states: ifelse(0 <= 2, 0, 7) = 0");
  }

  /* not(x > 2) became the comparison x <= 2: a surface of its own. */
  ok(rkin_expr_switches(g, out, 3, &sw, &nsw) == 0 && nsw == 3
     && sw[0] == gt && sw[1] == le && sw[2] == nt,
     "switching surfaces: x > 2, t <= 5, x <= 2");
  free(sw);
  {
    rkin_node pc = rkin_expr_binary(g, RKIN_OP_GT, k, c2);
    rkin_node pf = rkin_expr_ifelse(g, pc, x, y);
    ok(rkin_expr_switches(g, &pf, 1, &sw, &nsw) == 0 && nsw == 0 && !sw,
       "a condition on parameters only is no switching surface");
  }
  {
    char buf[200];
    rkin_expr_format(g, f, NULL, NULL, buf, sizeof buf);
    is_str(buf, "ifelse(and(y[0] > 2, t <= 5), p[0] * y[0] * y[0], "
           "-y[1])", "format of ifelse");
  }
  rkin_graph_free(g);

  /* Mixing numbers and conditions. */
  g = rkin_graph_new();
  x = rkin_expr_state(g, 0);
  gt = rkin_expr_binary(g, RKIN_OP_GT, x, cst(g, 1));
  ok(rkin_expr_ifelse(g, x, x, cst(g, 1)) < 0, "ifelse with a number as "
     "condition rejected");
  rkin_graph_error(g, &err);
  like(err.msg, "the condition of ifelse is a number (state), not a "
       "condition", "message says what the condition was");
  rkin_graph_free(g);

  g = rkin_graph_new();
  x = rkin_expr_state(g, 0);
  gt = rkin_expr_binary(g, RKIN_OP_GT, x, cst(g, 1));
  ok(add(g, gt, x) < 0, "arithmetic on a condition rejected");
  rkin_graph_error(g, &err);
  like(err.msg, "operand of add is a condition (gt), not a number",
       "message");
  rkin_graph_free(g);

  g = rkin_graph_new();
  x = rkin_expr_state(g, 0);
  ok(rkin_expr_binary(g, RKIN_OP_AND, x, x) < 0, "and of numbers rejected");
  rkin_graph_error(g, &err);
  like(err.msg, "operand of and is a number, not a condition", "message");
  rkin_graph_free(g);

  g = rkin_graph_new();
  x = rkin_expr_state(g, 0);
  gt = rkin_expr_binary(g, RKIN_OP_GT, x, cst(g, 1));
  ok(rkin_expr_ifelse(g, gt, gt, x) < 0, "a condition as a value rejected");
  ok(rkin_expr_diff(g, gt, x) < 0, "a condition has no derivative");
  rkin_graph_free(g);
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  test_folding();
  test_dependencies();
  test_each_op();
  test_mathml_ops();
  test_special_derivatives();
  test_random();
  test_tape();
  test_format();
  test_errors();
  test_conditionals();
  done_testing();
  return exit_status();
}
