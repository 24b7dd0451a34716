/* test_expath_tri.c - the exact path's cheap eigendecompositions
 * (engine/solve/exact_path.c): a triangular system matrix by substitution
 * (eig_triangular) and a 2 x 2 one with exchange in closed form (eig_2x2,
 * against the biexponential two-compartment solution, both state orders,
 * GSL's route and differences of the closed form; complex eigenvalues
 * left to GSL). Triangular: against the closed form of a
 * three-compartment chain (Bateman 1910), against GSL's general route
 * on the same matrix, its forward sensitivities against central
 * differences of the closed form,
 * and the fall-backs: back-flow (not triangular), equal coupled rates
 * (defective), nearly equal rates (ill-conditioned V), equal uncoupled
 * rates. The model's parameters are the nine entries of A, so any matrix
 * can be given. */
#include <math.h>
#include <string.h>

#include "core/init.h"
#include "core/model.h"
#include "solve/exact_path.h"
#include "../tap.h"

enum { N = 3, NT = 6 };
static const double times[NT] = {0.5, 1, 2, 5, 10, 24};

/* y' = P y, P the n x n (n = 2 or 3) parameters row by row. */
static rkin_model *matrix_model(int n)
{
  static const char *const st[N] = {"y0", "y1", "y2"};
  static const char *const pa3[N * N] = {"p00", "p01", "p02", "p10", "p11",
                                         "p12", "p20", "p21", "p22"};
  static const char *const pa2[4] = {"p00", "p01", "p10", "p11"};
  static const double val[N * N] = {0};
  rkin_graph *g = rkin_graph_new();
  rkin_node d[N];
  rkin_model_spec sp;
  rkin_err err;
  rkin_model *m;
  int i, j;
  for (i = 0; i < n; i++) {
    d[i] = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, i * n),
                            rkin_expr_state(g, 0));
    for (j = 1; j < n; j++)
      d[i] = rkin_expr_binary(g, RKIN_OP_ADD, d[i],
                              rkin_expr_binary(g, RKIN_OP_MUL,
                                               rkin_expr_param(g, i * n + j),
                                               rkin_expr_state(g, j)));
  }
  memset(&sp, 0, sizeof sp);
  sp.name = n == 3 ? "matrix3" : "matrix2";
  sp.n_states = (size_t)n;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = (size_t)(n * n);
  sp.params = n == 3 ? pa3 : pa2;
  sp.values = val;
  m = rkin_model_new(&sp, g, &err);
  if (!m) diag("model: %s", err.msg);
  return m;
}

/* The chain 0 -> 1 -> 2 with rates k (distinct), 100 units in 0 at t = 0:
 * amount of compartment c at t. */
static double bateman(const double *k, int c, double t)
{
  double s = 0, pre = 100;
  int i, j;
  for (i = 0; i < c; i++) pre *= k[i];
  for (i = 0; i <= c; i++) {
    double den = 1;
    for (j = 0; j <= c; j++)
      if (j != i) den *= k[j] - k[i];
    s += exp(-k[i] * t) / den;
  }
  return pre * s;
}

/* A of the chain; rev: the states in reverse order (A upper triangular). */
static void chain_matrix(const double *k, int rev, double *A)
{
  double L[N * N] = {0};
  int i, j;
  L[0] = -k[0];
  L[3] = k[0];
  L[4] = -k[1];
  L[7] = k[1];
  L[8] = -k[2];
  for (i = 0; i < N; i++)
    for (j = 0; j < N; j++)
      A[i * N + j] = rev ? L[(N - 1 - i) * N + (N - 1 - j)] : L[i * N + j];
}

typedef struct {
  double y[NT * N];  /* stride N whatever the model's size */
  int k, n;          /* 0: N states */
} rec;

static void keep(void *ctx, const double *y)
{
  rec *r = ctx;
  memcpy(r->y + r->k++ * N, y, (r->n ? (size_t)r->n : N) * sizeof *y);
}

/* The states at `times` from y0, through e at parameters A; the route
 * that served in *route. */
static int run(rkin_expath *e, const double *A, const double *y0, rec *r,
               int *route)
{
  double y[N], rate[N] = {0};
  rkin_err err;
  int rc = rkin_expath_begin(e, A, NULL, 0, &err);
  memcpy(y, y0, sizeof y);
  r->k = 0;
  if (!rc) rc = rkin_expath_advance(e, 0, times[NT - 1], y, rate, times, NT,
                                    keep, r, NULL, &err);
  if (rc) diag("exact path: %s", err.msg);
  *route = rkin_expath_eig_route(e);
  return rc;
}

/* Largest difference of the chain's states (rev: reversed) from the
 * closed form, relative to the largest state at that time: the eigen-
 * route's round-off is relative to the state vector's size (a tiny
 * component left in the first compartment carries that absolute error). */
static double chain_err(const rec *r, const double *k, int rev, int ncomp)
{
  double worst = 0;
  int t, c;
  for (t = 0; t < NT; t++) {
    double big = 0;
    for (c = 0; c < ncomp; c++) big = fmax(big, bateman(k, c, times[t]));
    for (c = 0; c < ncomp; c++) {
      double want = bateman(k, c, times[t]);
      double got = r->y[t * N + (rev ? N - 1 - c : c)];
      worst = fmax(worst, fabs(got - want) / big);
    }
  }
  return worst;
}

static void test_chain(rkin_expath *e, int rev)
{
  static const double k[N] = {0.9, 0.2, 0.05};
  double A[N * N], y0[N] = {0}, worst = 0;
  rec r1 = {{0}, 0, 0}, r2 = {{0}, 0, 0};
  int route, i, rc;
  const char *dir = rev ? "upper" : "lower";
  chain_matrix(k, rev, A);
  y0[rev ? N - 1 : 0] = 100;
  rc = run(e, A, y0, &r1, &route);
  ok(!rc && route == 1, "%s triangular chain: substitution route", dir);
  worst = chain_err(&r1, k, rev, N);
  ok(worst < 1e-13, "%s chain = Bateman closed form (max diff %.2g of the "
     "largest state, tol 1e-13)", dir, worst);
  /* the same matrix through GSL's eigensolver */
  rkin_expath_eig_general(e, 1);
  rc = run(e, A, y0, &r2, &route);
  rkin_expath_eig_general(e, 0);
  ok(!rc && route == 2, "%s chain: GSL's route when asked", dir);
  worst = 0;
  for (i = 0; i < NT; i++) {
    double big = 0;
    int c;
    for (c = 0; c < N; c++) big = fmax(big, fabs(r2.y[i * N + c]));
    for (c = 0; c < N; c++)
      worst = fmax(worst, fabs(r1.y[i * N + c] - r2.y[i * N + c]) / big);
  }
  ok(worst < 1e-13, "%s chain: substitution = GSL route (max diff %.2g of "
     "the largest state, tol 1e-13)", dir, worst);
}

/* dy/dk_j by the exact path's forward sensitivities (directions: dA/dk_j
 * in the nine parameters) vs central differences of the closed form. */
static void test_sens(rkin_expath *e, int rev)
{
  static const double k[N] = {0.9, 0.2, 0.05};
  double A[N * N], dir[N * N * N], y[N] = {0}, S[N * N] = {0}, rate[N] = {0};
  double worst = 0;
  rec r = {{0}, 0, 0};
  rkin_err err;
  int j, c, t, rc;
  chain_matrix(k, rev, A);
  for (j = 0; j < N; j++) {       /* dA/dk_j = (A(k + e_j) - A(k)) */
    double kp[N], Ap[N * N];
    int l;
    memcpy(kp, k, sizeof kp);
    kp[j] += 1;
    chain_matrix(kp, rev, Ap);
    for (l = 0; l < N * N; l++) dir[j * N * N + l] = Ap[l] - A[l];
  }
  y[rev ? N - 1 : 0] = 100;
  r.k = 0;
  rc = rkin_expath_begin_sens(e, A, dir, N, &err);
  if (!rc) rc = rkin_expath_advance_sens(e, 0, times[NT - 1], y, S, rate,
                                         NULL, times, NT, keep, &r, &err);
  ok(!rc && rkin_expath_eig_route(e) == 1,
     "%s chain sensitivities: substitution route", rev ? "upper" : "lower");
  if (rc) diag("%s", err.msg);
  /* S is only the final one: rerun segment by segment for each time */
  for (t = 0; !rc && t < NT; t++) {
    double yy[N] = {0}, SS[N * N] = {0};
    yy[rev ? N - 1 : 0] = 100;
    rc = rkin_expath_begin_sens(e, A, dir, N, &err);
    if (!rc) rc = rkin_expath_advance_sens(e, 0, times[t], yy, SS, rate,
                                           NULL, NULL, 0, keep, &r, &err);
    for (c = 0; !rc && c < N; c++)
      for (j = 0; j < N; j++) {
        double kp[N], km[N], h = 1e-5 * k[j], want, got;
        memcpy(kp, k, sizeof kp);
        memcpy(km, k, sizeof km);
        kp[j] += h;
        km[j] -= h;
        want = (bateman(kp, c, times[t]) - bateman(km, c, times[t]))
               / (2 * h);
        got = SS[(rev ? N - 1 - c : c) * N + j];
        worst = fmax(worst, fabs(got - want) / (fabs(want) + 1e-6));
      }
  }
  ok(!rc && worst < 1e-7, "%s chain: dy/dk = differences of the closed "
     "form (max rel %.2g, tol 1e-7)", rev ? "upper" : "lower", worst);
}

static void test_fallbacks(rkin_expath *e)
{
  double A[N * N], y0[N] = {100, 0, 0}, worst = 0;
  rec r = {{0}, 0, 0};
  int route, rc, t;
  /* back-flow 1 -> 0: not triangular */
  {
    static const double k[N] = {0.9, 0.2, 0.05};
    chain_matrix(k, 0, A);
    A[1] = 0.1;
    A[4] -= 0.1;
    rc = run(e, A, y0, &r, &route);
    ok(!rc && route == 2, "back-flow (A not triangular): GSL's route");
  }
  /* equal coupled rates: defective A; scaling and squaring serves, the
   * first two states have the closed form 100 e^-kt, 100 k t e^-kt */
  {
    static const double k[N] = {0.3, 0.3, 0.05};
    chain_matrix(k, 0, A);
    rc = run(e, A, y0, &r, &route);
    ok(!rc && route == 2, "k1 = k2 (defective): left to GSL's route");
    for (t = 0; t < NT; t++) {
      double x = times[t], e0 = 100 * exp(-0.3 * x), e1 = 0.3 * x * e0;
      worst = fmax(worst, fabs(r.y[t * N] - e0) / e0);
      worst = fmax(worst, fabs(r.y[t * N + 1] - e1) / e1);
    }
    ok(worst < 1e-12, "k1 = k2: closed form (max rel %.2g, tol 1e-12)",
       worst);
  }
  /* nearly equal: V ill-conditioned, refused (scaling and squaring) */
  {
    static const double k[N] = {0.3 * (1 + 1e-9), 0.3, 0.05};
    chain_matrix(k, 0, A);
    rc = run(e, A, y0, &r, &route);
    ok(!rc && route == 1, "k1 = k2 (1 + 1e-9): substitution tried");
    worst = 0;
    for (t = 0; t < NT; t++) {
      double x = times[t], e0 = 100 * exp(-k[0] * x);
      /* written without the cancellation of e^-k0x - e^-k1x */
      double e1 = 100 * k[0] * exp(-k[1] * x) * expm1(-(k[0] - k[1]) * x)
                  / (k[1] - k[0]);
      worst = fmax(worst, fabs(r.y[t * N + 1] - e1) / e1);
      worst = fmax(worst, fabs(r.y[t * N] - e0) / e0);
    }
    /* the eigen-route would lose ~1e-7 to cancellation here */
    ok(worst < 1e-12, "k1 ~ k2: V refused, closed form kept (max rel "
       "%.2g, tol 1e-12)", worst);
  }
  /* equal uncoupled rates (diagonal A): eigenvectors are the axes */
  {
    double y1[N] = {100, 50, 20};
    memset(A, 0, sizeof A);
    A[0] = A[4] = -0.3;
    A[8] = -0.1;
    rc = run(e, A, y1, &r, &route);
    ok(!rc && route == 1, "diagonal A with a repeated entry: substitution");
    worst = 0;
    for (t = 0; t < NT; t++) {
      worst = fmax(worst, fabs(r.y[t * N] / (100 * exp(-0.3 * times[t]))
                               - 1));
      worst = fmax(worst, fabs(r.y[t * N + 1] / (50 * exp(-0.3 * times[t]))
                               - 1));
      worst = fmax(worst, fabs(r.y[t * N + 2] / (20 * exp(-0.1 * times[t]))
                               - 1));
    }
    ok(worst < 1e-13, "diagonal A: y e^(a t) (max rel %.2g, tol 1e-13)",
       worst);
  }
}

/* Two compartments with exchange, A = [[-(k10 + k12), k21], [k12, -k21]]
 * (rev: the states swapped): not triangular, 2 x 2 closed form. 100 units
 * in the central compartment; the biexponential closed form with the
 * rates alpha > beta, roots of l^2 + (k10 + k12 + k21) l + k10 k21. */
static void two_matrix(const double *k, int rev, double *A)
{
  double L[4];
  int i, j;
  L[0] = -(k[0] + k[1]);
  L[1] = k[2];
  L[2] = k[1];
  L[3] = -k[2];
  for (i = 0; i < 2; i++)
    for (j = 0; j < 2; j++)
      A[i * 2 + j] = rev ? L[(1 - i) * 2 + (1 - j)] : L[i * 2 + j];
}

static double biexp(const double *k, int c, double t)
{
  double sum = k[0] + k[1] + k[2];
  double al = (sum + sqrt(sum * sum - 4 * k[0] * k[2])) / 2;
  double be = k[0] * k[2] / al;
  if (c == 0)
    return 100 * ((al - k[2]) * exp(-al * t) + (k[2] - be) * exp(-be * t))
           / (al - be);
  return 100 * k[1] * (exp(-be * t) - exp(-al * t)) / (al - be);
}

static void test_two(rkin_expath *e, int rev)
{
  static const double k[3] = {0.3, 0.5, 0.1};
  double A[4], y[2] = {0}, rate[2] = {0}, dir[3 * 4], yg[NT * N];
  double worst = 0, wg = 0, ws = 0;
  const char *which = rev ? "swapped" : "central first";
  rkin_err err;
  rec r = {{0}, 0, 2};
  int t, c, j, rc;
  two_matrix(k, rev, A);
  for (j = 0; j < 3; j++) {
    double kp[3], Ap[4];
    int l;
    memcpy(kp, k, sizeof kp);
    kp[j] += 1;
    two_matrix(kp, rev, Ap);
    for (l = 0; l < 4; l++) dir[j * 4 + l] = Ap[l] - A[l];
  }
  for (c = 0; c < 2; c++) {       /* GSL's route first, for comparison */
    rkin_expath_eig_general(e, !c);
    memset(y, 0, sizeof y);
    y[rev] = 100;
    r.k = 0;
    rc = rkin_expath_begin(e, A, NULL, 0, &err);
    if (!rc) rc = rkin_expath_advance(e, 0, times[NT - 1], y, rate, times,
                                      NT, keep, &r, NULL, &err);
    if (rc) diag("%s", err.msg);
    if (!c) memcpy(yg, r.y, sizeof yg);
  }
  ok(!rc && rkin_expath_eig_route(e) == 3, "two compartments (%s): 2 x 2 "
     "closed-form route", which);
  for (t = 0; t < NT; t++) {
    double big = fmax(biexp(k, 0, times[t]), biexp(k, 1, times[t]));
    for (c = 0; c < 2; c++) {
      double got = r.y[t * N + (rev ? 1 - c : c)];
      worst = fmax(worst, fabs(got - biexp(k, c, times[t])) / big);
      wg = fmax(wg, fabs(got - yg[t * N + (rev ? 1 - c : c)]) / big);
    }
  }
  ok(worst < 1e-13, "two compartments (%s) = biexponential closed form "
     "(max diff %.2g of the larger state, tol 1e-13)", which, worst);
  ok(wg < 1e-13, "two compartments (%s): closed form = GSL route (max diff "
     "%.2g, tol 1e-13)", which, wg);
  for (t = 0; !rc && t < NT; t++) {
    double S[2 * 3] = {0};
    memset(y, 0, sizeof y);
    y[rev] = 100;
    rc = rkin_expath_begin_sens(e, A, dir, 3, &err);
    if (!rc) rc = rkin_expath_advance_sens(e, 0, times[t], y, S, rate, NULL,
                                           NULL, 0, keep, &r, &err);
    for (c = 0; !rc && c < 2; c++)
      for (j = 0; j < 3; j++) {
        double kp[3], km[3], h = 1e-5 * k[j], want, got;
        memcpy(kp, k, sizeof kp);
        memcpy(km, k, sizeof km);
        kp[j] += h;
        km[j] -= h;
        want = (biexp(kp, c, times[t]) - biexp(km, c, times[t])) / (2 * h);
        got = S[(rev ? 1 - c : c) * 3 + j];
        ws = fmax(ws, fabs(got - want) / (fabs(want) + 1e-6));
      }
  }
  ok(!rc && ws < 1e-7, "two compartments (%s): dy/dk = differences of the "
     "closed form (max rel %.2g, tol 1e-7)", which, ws);
  /* complex eigenvalues (a damped rotation): left to GSL's route */
  {
    double R[4] = {-0.1, -1, 1, -0.1};
    memset(y, 0, sizeof y);
    y[0] = 1;
    r.k = 0;
    rc = rkin_expath_begin(e, R, NULL, 0, &err);
    if (!rc) rc = rkin_expath_advance(e, 0, times[NT - 1], y, rate, times,
                                      NT, keep, &r, NULL, &err);
    worst = 0;
    for (t = 0; t < NT; t++) {
      double f = exp(-0.1 * times[t]);
      worst = fmax(worst, fabs(r.y[t * N] - f * cos(times[t])) / f);
      worst = fmax(worst, fabs(r.y[t * N + 1] - f * sin(times[t])) / f);
    }
    ok(!rc && rkin_expath_eig_route(e) == 2 && worst < 1e-12,
       "complex eigenvalues: GSL's route, e^-0.1t (cos t, sin t) (max diff "
       "%.2g, tol 1e-12)", worst);
  }
}

/* eig_triangular's copy unrolled for two states against its general
 * copy, which a third, uncoupled state selects: the 2 x 2 block's
 * eigenvectors, inverse and states come from the same operations (the
 * third state adds exact zeros), so both must agree to the bit, lower and
 * upper triangular. */
static void test_two_in_three(int rev)
{
  static const double A2l[4] = {-0.9, 0, 0.9, -0.2};
  static const double A3l[9] = {-0.9, 0, 0, 0.9, -0.2, 0, 0, 0, -0.05};
  rkin_model *m2 = matrix_model(2), *m3 = matrix_model(3);
  rkin_err err;
  rkin_expath *e2 = m2 ? rkin_expath_new(m2, &err) : NULL;
  rkin_expath *e3 = m3 ? rkin_expath_new(m3, &err) : NULL;
  double A2[4], A3[9], y2[N] = {0}, y3[N] = {0};
  rec r2 = {{0}, 0, 2}, r3 = {{0}, 0, 0};
  int rt2 = 0, rt3 = 0, rc = !e2 || !e3, i, j, diff = 0;
  /* rev: the pair's order reversed (A upper triangular); state 2 stays */
  for (i = 0; i < 2; i++)
    for (j = 0; j < 2; j++) {
      int a = rev ? 1 - i : i, b = rev ? 1 - j : j;
      A2[i * 2 + j] = A2l[a * 2 + b];
      A3[i * 3 + j] = A3l[a * 3 + b];
    }
  for (i = 0; i < 3; i++) {
    if (i < 2) A3[i * 3 + 2] = 0;
    A3[6 + i] = A3l[6 + i];
  }
  y2[rev ? 1 : 0] = y3[rev ? 1 : 0] = 100;
  if (!rc) rc = run(e2, A2, y2, &r2, &rt2);
  if (!rc) rc = run(e3, A3, y3, &r3, &rt3);
  for (i = 0; !rc && i < NT; i++)
    for (j = 0; j < 2; j++) diff += r2.y[i * N + j] != r3.y[i * N + j];
  ok(!rc && rt2 == 1 && rt3 == 1 && diff == 0, "%s triangular, 2 states "
     "(unrolled substitution) = the same pair inside 3 states (general), "
     "to the bit (%d of %d values differ; routes %d, %d)",
     rev ? "upper" : "lower", diff, 2 * NT, rt2, rt3);
  rkin_expath_free(e2);
  rkin_expath_free(e3);
  rkin_model_free(m2);
  rkin_model_free(m3);
}

int main(void)
{
  rkin_model *m;
  rkin_expath *e;
  rkin_err err;
  rkin_init();
  m = matrix_model(3);
  e = m ? rkin_expath_new(m, &err) : NULL;
  if (!e) {
    ok(0, "exact path set up");
    return exit_status();
  }
  test_chain(e, 0);
  test_chain(e, 1);
  test_sens(e, 0);
  test_sens(e, 1);
  test_fallbacks(e);
  rkin_expath_free(e);
  rkin_model_free(m);
  m = matrix_model(2);
  e = m ? rkin_expath_new(m, &err) : NULL;
  if (!e) {
    ok(0, "two-state exact path set up");
    return exit_status();
  }
  test_two(e, 0);
  test_two(e, 1);
  rkin_expath_free(e);
  rkin_model_free(m);
  test_two_in_three(0);
  test_two_in_three(1);
  done_testing();
  return exit_status();
}
