/* test_paths.c - the two solver back-ends called directly, not through
 * rkin_solver: engine/solve/exact_path.c (matrix exponential) and
 * engine/solve/cvodes_path.c (CVODES), on a two-compartment chain with a
 * closed-form solution, TIA accumulated over several segments, an input
 * rate, the TIA to infinity, forward sensitivities, and their error
 * messages. */
#include <math.h>
#include <string.h>

#include "core/init.h"
#include "core/model.h"
#include "solve/cvodes_path.h"
#include "solve/exact_path.h"
#include "solve/solve.h"
#include "../tap.h"

/* A TAP TODO: a known bug reported, not fixed here (automake counts
 * "not ok # TODO" as an expected failure, "ok # TODO" as unexpected). */
static void todo_ok(int pass, const char *why, const char *what)
{
  tap_run++;
  printf("%sok %d - %s # TODO %s\n", pass ? "" : "not ", tap_run, what, why);
  fflush(stdout);
}

/* dA1/dt = -k1 A1 + (rate), dA2/dt = k1 A1 - k2 A2; output tot = A1 + A2;
 * with `nonlin` a second output A1^2. No nuclide: the rates are all. */
static rkin_model *chain(int nonlin)
{
  static const char *states[] = {"A1", "A2"}, *params[] = {"k1", "k2"};
  static const char *outs[] = {"tot", "sq"};
  static const double values[] = {0.3, 0.05};
  rkin_graph *g = rkin_graph_new();
  rkin_node a1 = rkin_expr_state(g, 0), a2 = rkin_expr_state(g, 1);
  rkin_node k1 = rkin_expr_param(g, 0), k2 = rkin_expr_param(g, 1);
  rkin_node d[2], o[2];
  rkin_model_spec sp = {0};
  rkin_err err;
  rkin_model *m;
  rkin_node f1 = rkin_expr_binary(g, RKIN_OP_MUL, k1, a1);
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, f1);
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, f1,
                          rkin_expr_binary(g, RKIN_OP_MUL, k2, a2));
  o[0] = rkin_expr_binary(g, RKIN_OP_ADD, a1, a2);
  o[1] = rkin_expr_binary(g, RKIN_OP_MUL, a1, a1);
  sp.name = nonlin ? "chain_sq" : "chain";
  sp.n_states = 2;
  sp.states = states;
  sp.deriv = d;
  sp.n_params = 2;
  sp.params = params;
  sp.values = values;
  sp.n_outputs = nonlin ? 2 : 1;
  sp.outputs = outs;
  sp.output_expr = o;
  m = rkin_model_new(&sp, g, &err);
  if (!m) diag("model: %s", err.msg);
  return m;
}

/* dA/dt = -k A^2: not linear. */
static rkin_model *quadratic(void)
{
  static const char *states[] = {"A"}, *params[] = {"k"};
  static const double values[] = {0.1};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0), d;
  rkin_model_spec sp = {0};
  d = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(
        g, RKIN_OP_MUL, rkin_expr_param(g, 0),
        rkin_expr_binary(g, RKIN_OP_MUL, a, a)));
  sp.name = "quadratic";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  return rkin_model_new(&sp, g, NULL);
}

/* dA1 = -a A1 - w A2, dA2 = w A1 - a A2: eigenvalues -a +- i w. */
static rkin_model *rotation(void)
{
  static const char *states[] = {"X", "Y"}, *params[] = {"a", "w"};
  static const double values[] = {0.1, 1.0};
  rkin_graph *g = rkin_graph_new();
  rkin_node x = rkin_expr_state(g, 0), y = rkin_expr_state(g, 1);
  rkin_node a = rkin_expr_param(g, 0), w = rkin_expr_param(g, 1), d[2];
  rkin_model_spec sp = {0};
  d[0] = rkin_expr_binary(g, RKIN_OP_SUB,
                          rkin_expr_unary(g, RKIN_OP_NEG,
                                          rkin_expr_binary(g, RKIN_OP_MUL,
                                                           a, x)),
                          rkin_expr_binary(g, RKIN_OP_MUL, w, y));
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB,
                          rkin_expr_binary(g, RKIN_OP_MUL, w, x),
                          rkin_expr_binary(g, RKIN_OP_MUL, a, y));
  sp.name = "rotation";
  sp.n_states = 2;
  sp.states = states;
  sp.deriv = d;
  sp.n_params = 2;
  sp.params = params;
  sp.values = values;
  return rkin_model_new(&sp, g, NULL);
}

/* Closed forms of the chain from A1(0) = a0, A2(0) = 0 (Bateman). */
static double a1_of(double a0, double k1, double t)
{
  return a0 * exp(-k1 * t);
}

static double a2_of(double a0, double k1, double k2, double t)
{
  return a0 * k1 / (k2 - k1) * (exp(-k1 * t) - exp(-k2 * t));
}

static double int_a1(double a0, double k1, double t)
{
  return a0 * -expm1(-k1 * t) / k1;
}

static double int_a2(double a0, double k1, double k2, double t)
{
  return a0 * k1 / (k2 - k1) * (-expm1(-k1 * t) / k1 + expm1(-k2 * t) / k2);
}

typedef struct {
  size_t n, dim;
  double y[8][4];
} emits;

static void on_emit(void *ctx, const double *y)
{
  emits *e = ctx;
  if (e->n < 8) memcpy(e->y[e->n], y, e->dim * sizeof *y);
  e->n++;
}

typedef int (*advance_fn)(void *path, double ts, double te, double *y,
                          const double *rate, const double *tout,
                          size_t n_tout, rkin_emit_fn emit, void *ctx,
                          double *q, long *steps, rkin_err *err);

static int adv_exact(void *path, double ts, double te, double *y,
                     const double *rate, const double *tout, size_t n_tout,
                     rkin_emit_fn emit, void *ctx, double *q, long *steps,
                     rkin_err *err)
{
  (void)steps;
  return rkin_expath_advance(path, ts, te, y, rate, tout, n_tout, emit, ctx,
                             q, err);
}

static int adv_cvodes(void *path, double ts, double te, double *y,
                      const double *rate, const double *tout, size_t n_tout,
                      rkin_emit_fn emit, void *ctx, double *q, long *steps,
                      rkin_err *err)
{
  return rkin_cvpath_advance(path, ts, te, y, rate, tout, n_tout, emit, ctx,
                             q, steps, err);
}

/* One back-end against the closed forms: states at output times, TIA of
 * A1, A2 and tot accumulated over two segments [0, 10], [10, 48], then an
 * input rate into A1 over [48, 60]. tol: relative (1e-12 exact, 1e-6
 * CVODES at rtol 1e-10, atol 1e-12). */
static void check_path(const char *name, void *path, advance_fn adv,
                       double tol, long *steps)
{
  const double k1 = 0.3, k2 = 0.05, a0 = 100, R = 5;
  const double t1[2] = {2, 6}, t2[1] = {24};
  double y[2] = {a0, 0}, q[3] = {0, 0, 0}, rate[2] = {0, 0}, b1, b2, r1;
  emits e;
  rkin_err err;
  int rc;
  memset(&e, 0, sizeof e);
  e.dim = 2;
  rc = adv(path, 0, 10, y, rate, t1, 2, on_emit, &e, q, steps, &err);
  rc |= adv(path, 10, 48, y, rate, t2, 1, on_emit, &e, q, steps, &err);
  ok(rc == 0 && e.n == 3, "%s: two segments ran, 3 outputs emitted", name);
  is_double(e.y[0][0], a1_of(a0, k1, 2), tol, "%s: A1(2) = a0 e^-k1t", name);
  is_double(e.y[1][1], a2_of(a0, k1, k2, 6), tol, "%s: A2(6) (Bateman)",
            name);
  is_double(e.y[2][1], a2_of(a0, k1, k2, 24), tol, "%s: A2(24) in the "
            "second segment", name);
  is_double(y[0], a1_of(a0, k1, 48), tol, "%s: A1(48) at the end", name);
  is_double(q[0], int_a1(a0, k1, 48), tol, "%s: int_0^48 A1 accumulated "
            "over both segments", name);
  is_double(q[1], int_a2(a0, k1, k2, 48), tol, "%s: int_0^48 A2", name);
  is_double(q[2], int_a1(a0, k1, 48) + int_a2(a0, k1, k2, 48), tol,
            "%s: int_0^48 of the output tot = A1 + A2", name);
  /* Input R into A1 over [48, 60]: A1 = A1(48) e^-k1 s + R/k1 (1 - e^-k1 s).
   * A1's integral: the decaying part plus R/k1 (s - (1 - e^-k1 s)/k1). */
  b1 = y[0];
  b2 = q[0];
  rate[0] = R;
  rc = adv(path, 48, 60, y, rate, NULL, 0, NULL, NULL, q, steps, &err);
  r1 = b1 * exp(-k1 * 12) + R / k1 * -expm1(-k1 * 12);
  ok(rc == 0, "%s: a segment with an input rate ran", name);
  is_double(y[0], r1, tol, "%s: A1 under a constant input R (closed form)",
            name);
  is_double(q[0] - b2, b1 * -expm1(-k1 * 12) / k1
            + R / k1 * (12 + expm1(-k1 * 12) / k1), tol,
            "%s: its integral over the input segment", name);
}

static void test_exact(void)
{
  rkin_model *m = chain(0), *mq = chain(1), *nl = quadratic();
  rkin_model *rot = rotation();
  rkin_expath *e;
  rkin_err err;
  const double p[2] = {0.3, 0.05}, y0[2] = {100, 0};
  const int tia[3] = {0, 1, 2}, bad_tia[1] = {3};
  double out[3], y[2], S[4], dir[2] = {1, 0};
  double p0[2] = {0.3, 0};
  emits em;
  if (!m || !mq || !nl || !rot) {
    ok(0, "test models built");
    return;
  }
  e = rkin_expath_new(m, &err);
  ok(e != NULL, "exact path created for the linear chain");
  if (!e) return;
  ok(rkin_expath_begin(e, p, tia, 3, &err) == 0, "exact: begin");
  check_path("exact", e, adv_exact, 1e-12, NULL);

  /* TIA to infinity: -A^-1 y0 = a0/k1, a0/k2, and their sum. */
  ok(rkin_expath_tia_inf(e, p, y0, tia, 3, out, &err) == 0,
     "exact: TIA to infinity");
  is_double(out[0], 100 / 0.3, 1e-13, "exact: int_0^inf A1 = a0/k1");
  is_double(out[1], 100 / 0.05, 1e-13, "exact: int_0^inf A2 = a0/k2");
  is_double(out[2], 100 / 0.3 + 100 / 0.05, 1e-13,
            "exact: int_0^inf tot = sum");
  is_int(rkin_expath_tia_inf(e, p0, y0, tia, 3, out, &err), RKIN_ERANGE,
         "exact: k2 = 0 (A2 never decays): TIA to infinity refused");
  like(err.msg, "the system matrix is singular", "... message: singular");
  like(err.msg, "add physical decay or elimination", "... and the remedy");

  /* Sensitivities along k1: dA1/dk1 = -t a0 e^-k1 t. */
  ok(rkin_expath_begin_sens(e, p, dir, 1, &err) == 0, "exact: begin_sens");
  y[0] = 100;
  y[1] = 0;
  S[0] = S[1] = 0;
  memset(&em, 0, sizeof em);
  ok(rkin_expath_advance_sens(e, 0, 8, y, S, (const double[2]){0, 0}, NULL,
                              NULL, 0, NULL, NULL, &err) == 0,
     "exact: advance with sensitivities");
  is_double(S[0], -8 * 100 * exp(-0.3 * 8), 1e-10,
            "exact: dA1(8)/dk1 = -t a0 e^-k1t");
  /* dA2/dk1 by differentiating the Bateman form: a0 [k2/(k2-k1)^2 (e^-k1t
   * - e^-k2t) - k1/(k2-k1) t e^-k1t]. */
  is_double(S[1], 100 * (0.05 / (0.0625) * (exp(-2.4) - exp(-0.4))
                         - 0.3 / (-0.25) * 8 * exp(-2.4)), 1e-10,
            "exact: dA2(8)/dk1 (Bateman differentiated by hand)");
  is_int(rkin_expath_begin_sens(e, p, dir, 0, &err), RKIN_EINVAL,
         "exact: 0 sensitivity directions refused");
  like(err.msg, "sensitivities along 0 directions", "... message says so");
  rkin_expath_free(e);
  rkin_expath_free(NULL);

  e = rkin_expath_new(mq, &err);
  ok(e != NULL, "exact path created for a model with a nonlinear output");
  if (e) {
    /* C is built only when every output is linear, so the TIA of the
     * linear output 'tot' is refused too, and the message calls 'tot'
     * nonlinear: wrong (a linear output could be integrated, or the
     * message should name 'sq'). Reported, not fixed here. */
    int rc = rkin_expath_begin(e, p, tia + 2, 1, &err);
    todo_ok(rc == RKIN_OK || !strstr(err.msg, "output 'tot'"),
            "exact_path.c refuses every output TIA when one output is "
            "nonlinear and calls the linear 'tot' not linear",
            "exact: TIA of the linear output 'tot' accepted, or the "
            "message names the nonlinear 'sq'");
    is_int(rkin_expath_begin(e, p, bad_tia, 1, &err), RKIN_ENOTLINEAR,
           "exact: the TIA of the nonlinear output refused");
    like(err.msg, "tia[0]: output 'sq' of model 'chain_sq' is not linear",
         "... message names the output and the model");
    like(err.msg, "use the CVODES path", "... and the remedy");
    rkin_expath_free(e);
  }
  e = rkin_expath_new(nl, &err);
  ok(e == NULL && err.code == RKIN_ENOTLINEAR, "exact path refuses the "
     "nonlinear dA/dt = -k A^2");
  like(err.msg, "exact path: ", "... message prefixed 'exact path: '");
  e = rkin_expath_new(rot, &err);
  ok(e != NULL, "exact path created for the rotation");
  if (e) {
    is_int(rkin_expath_begin_sens(e, (const double[2]){0.1, 1.0}, dir, 1,
                                  &err), RKIN_ERANGE,
           "exact: sensitivities with complex eigenvalues refused");
    like(err.msg, "sensitivities need A with real eigenvalues",
         "... message says why");
    like(err.msg, "(model 'rotation')", "... and names the model");
    rkin_expath_free(e);
  }
  /* Growth: k1 = -100 /h makes A1 e^{100 t}, not finite after 10 h. */
  e = rkin_expath_new(m, &err);
  if (e) {
    const double pg[2] = {-100, 0.05};
    y[0] = 100;
    y[1] = 0;
    rkin_expath_begin(e, pg, NULL, 0, &err);
    ok(rkin_expath_advance(e, 0, 10, y, (const double[2]){0, 0}, NULL, 0,
                           NULL, NULL, NULL, &err) < 0,
       "exact: a state growing as e^{100 t} over 10 h fails");
    like(err.msg, "rates too large?", "... message suggests the cause");
    like(err.msg, "model 'chain'", "... and names the model");
    rkin_expath_free(e);
  }
  rkin_model_free(m);
  rkin_model_free(mq);
  rkin_model_free(nl);
  rkin_model_free(rot);
}

static void test_cvodes(void)
{
  rkin_model *m = chain(1), *nl = quadratic();
  rkin_solve_opts o;
  rkin_cvpath *c;
  rkin_err err;
  const double p[2] = {0.3, 0.05}, k[1] = {0.1};
  const int tia[3] = {0, 1, 2}, tq[1] = {0};
  double y[2], q[3] = {0}, yq[1] = {10}, qq[1] = {0};
  long steps = 0;
  if (!m || !nl) {
    ok(0, "test models built");
    return;
  }
  rkin_solve_opts_default(&o);
  o.rtol = 1e-10;
  o.atol = 1e-12;
  c = rkin_cvpath_new(m, &o, &err);
  ok(c != NULL, "CVODES path created");
  if (!c) return;
  ok(rkin_cvpath_begin(c, p, tia, 3, &err) == 0, "cvodes: begin");
  /* rel. 1e-6: rtol 1e-10, atol 1e-12 on values down to 5e-5. */
  check_path("cvodes", c, adv_cvodes, 1e-6, &steps);
  ok(steps > 0, "cvodes: steps counted (%ld)", steps);
  rkin_cvpath_free(c);
  rkin_cvpath_free(NULL);

  /* Two outputs integrated at once, the second nonlinear: int tot and
   * int A1^2 = a0^2 (1 - e^{-2 k1 T}) / (2 k1). */
  c = rkin_cvpath_new(m, &o, &err);
  if (c) {
    const int two[2] = {3, 2};
    y[0] = 100;
    y[1] = 0;
    q[0] = q[1] = 0;
    ok(rkin_cvpath_begin(c, p, two, 2, &err) == 0
       && rkin_cvpath_advance(c, 0, 48, y, (const double[2]){0, 0}, NULL, 0,
                              NULL, NULL, q, &steps, &err) == 0,
       "cvodes: outputs sq and tot integrated together");
    is_double(q[0], 1e4 * -expm1(-0.6 * 48) / 0.6, 1e-6,
              "cvodes: int_0^48 sq = a0^2 (1 - e^-2k1T)/(2 k1)");
    is_double(q[1], 100 * -expm1(-0.3 * 48) / 0.3
                    + 100 * 0.3 / (0.05 - 0.3)
                      * (-expm1(-0.3 * 48) / 0.3 + expm1(-0.05 * 48) / 0.05),
              1e-6, "cvodes: int_0^48 tot alongside");
    rkin_cvpath_free(c);
  }

  /* The nonlinear model the exact path refuses: dA/dt = -k A^2 has
   * A = a0 / (1 + k a0 t), integral log(1 + k a0 t) / k. */
  c = rkin_cvpath_new(nl, &o, &err);
  ok(c && rkin_cvpath_begin(c, k, tq, 1, &err) == 0,
     "cvodes: the nonlinear model runs");
  if (c) {
    ok(rkin_cvpath_advance(c, 0, 20, yq, (const double[1]){0}, NULL, 0,
                           NULL, NULL, qq, &steps, &err) == 0,
       "cvodes: advance the nonlinear model");
    is_double(yq[0], 10 / (1 + 0.1 * 10 * 20), 1e-7,
              "cvodes: A(20) = a0/(1 + k a0 t)");
    is_double(qq[0], log(1 + 0.1 * 10 * 20) / 0.1, 1e-7,
              "cvodes: int A = ln(1 + k a0 t)/k");
    rkin_cvpath_free(c);
  }
  /* A blow-up: dA/dt = -k A^2 with k < 0 from A = 10 diverges at t = 1. */
  c = rkin_cvpath_new(nl, &o, &err);
  if (c) {
    const double kneg[1] = {-0.1};
    y[0] = 10;
    qq[0] = 0;
    rkin_cvpath_begin(c, kneg, tq, 1, &err);
    ok(rkin_cvpath_advance(c, 0, 5, y, (const double[1]){0}, NULL, 0,
                           NULL, NULL, qq, &steps, &err) < 0,
       "cvodes: a solution that blows up at t = 1 h fails");
    like(err.msg, "state 'A': d/dt = -k * A * A is not finite",
         "... message names the state and its derivative");
    like(err.msg, "model 'quadratic'", "... and the model");
    rkin_cvpath_free(c);
  }
  /* Too few steps allowed: CVODES gives up, and says where and why. */
  o.max_steps = 3;
  c = rkin_cvpath_new(nl, &o, &err);
  if (c) {
    y[0] = 10;
    qq[0] = 0;
    rkin_cvpath_begin(c, k, tq, 1, &err);
    ok(rkin_cvpath_advance(c, 0, 1000, y, (const double[1]){0}, NULL, 0,
                           NULL, NULL, qq, &steps, &err) < 0,
       "cvodes: max_steps 3 over 1000 h fails");
    like(err.msg, "CVODES failed at t = ", "... message: where CVODES "
         "failed");
    like(err.msg, "model 'quadratic'", "... and which model");
    rkin_cvpath_free(c);
  }
  (void)q;
  rkin_model_free(m);
  rkin_model_free(nl);
}

int main(void)
{
  rkin_init();
  test_exact();
  test_cvodes();
  done_testing();
  return exit_status();
}
