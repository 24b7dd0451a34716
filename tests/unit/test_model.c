/* test_model.c - compiled models: RHS, exact Jacobian, linearity, checks. */
#include <math.h>
#include <stdint.h>

#include "core/init.h"
#include "core/model.h"
#include "../tap.h"

/* The six-compartment 177Lu benchmark model (docs/sources.md). */
enum { P, I, K, L, T, R, NS };
enum { kPI, kIP, kPK, kKP, kPL, kLP, kPT, kTP, kPR, kRP, kU, NP };
static const char *const states[NS] = { "P", "I", "K", "L", "T", "R" };
static const char *const params[NP] = { "kPI", "kIP", "kPK", "kKP", "kPL",
                                        "kLP", "kPT", "kTP", "kPR", "kRP",
                                        "kU" };
/* Typical values, /h (peers/README.md s.2 table). */
static const double values[NP] = { 0.60, 0.40, 0.030, 0.012, 0.040, 0.015,
                                   0.030, 0.004, 0.15, 0.030, 0.50 };
/* peers/README.md s.2: lambda = ln 2 / (6.647 * 24) h^-1 */
static const double LAM = 0.00434498759189575;

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

static rkin_node prm(rkin_graph *g, int i)
{
  return rkin_expr_param(g, i);
}

static rkin_node st(rkin_graph *g, int i)
{
  return rkin_expr_state(g, i);
}

/* Biological part of the peer model, written as a modeller would: inflow
 * from plasma minus outflow, plasma the balance of all exchanges. */
static void build_6c(rkin_graph *g, rkin_node *d)
{
  static const int org[5] = { I, K, L, T, R };
  static const int kin[5] = { kPI, kPK, kPL, kPT, kPR };
  static const int kout[5] = { kIP, kKP, kLP, kTP, kRP };
  rkin_node out_sum = prm(g, kU), back = -1;
  int j;
  for (j = 0; j < 5; j++) {
    rkin_node ret = mul(g, prm(g, kout[j]), st(g, org[j]));
    d[org[j]] = sub(g, mul(g, prm(g, kin[j]), st(g, P)), ret);
    out_sum = add(g, out_sum, prm(g, kin[j]));
    back = back < 0 ? ret : add(g, back, ret);
  }
  d[P] = add(g, mul(g, rkin_expr_unary(g, RKIN_OP_NEG, out_sum), st(g, P)),
             back);
}

static rkin_model_spec spec_6c(const rkin_node *d)
{
  rkin_model_spec s;
  memset(&s, 0, sizeof s);
  s.name = "lu177_6c";
  s.nuclide = rkin_nuclide_find("Lu-177", NULL);
  s.n_states = NS;
  s.states = states;
  s.deriv = d;
  s.n_params = NP;
  s.params = params;
  s.values = values;
  return s;
}

static uint64_t rng = 88172645463325252ULL;

static double urand(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

/* peers/pbpk_model.c derivs(), transcribed (AUC_K row left out). */
static void peer_rhs(const double *k, const double *y, double *yd)
{
  yd[0] = -(k[kPI] + k[kPK] + k[kPL] + k[kPT] + k[kPR] + k[kU] + LAM) * y[P]
          + k[kIP] * y[I] + k[kKP] * y[K] + k[kLP] * y[L] + k[kTP] * y[T]
          + k[kRP] * y[R];
  yd[1] = k[kPI] * y[P] - (k[kIP] + LAM) * y[I];
  yd[2] = k[kPK] * y[P] - (k[kKP] + LAM) * y[K];
  yd[3] = k[kPL] * y[P] - (k[kLP] + LAM) * y[L];
  yd[4] = k[kPT] * y[P] - (k[kTP] + LAM) * y[T];
  yd[5] = k[kPR] * y[P] - (k[kRP] + LAM) * y[R];
}

/* peers/pbpk_model.c jac(), column-major J[i + j*n]. */
static void peer_jac(const double *k, double *J)
{
  int n = NS, i;
#define JJ(i, j) J[(j) * n + (i)]
  for (i = 0; i < n * n; i++) J[i] = 0;
  JJ(0, 0) = -(k[kPI] + k[kPK] + k[kPL] + k[kPT] + k[kPR] + k[kU] + LAM);
  JJ(0, 1) = k[kIP]; JJ(0, 2) = k[kKP]; JJ(0, 3) = k[kLP];
  JJ(0, 4) = k[kTP]; JJ(0, 5) = k[kRP];
  JJ(1, 0) = k[kPI]; JJ(1, 1) = -(k[kIP] + LAM);
  JJ(2, 0) = k[kPK]; JJ(2, 2) = -(k[kKP] + LAM);
  JJ(3, 0) = k[kPL]; JJ(3, 3) = -(k[kLP] + LAM);
  JJ(4, 0) = k[kPT]; JJ(4, 4) = -(k[kTP] + LAM);
  JJ(5, 0) = k[kPR]; JJ(5, 5) = -(k[kRP] + LAM);
#undef JJ
}

static int close_rel(double got, double want, double rel)
{
  return fabs(got - want) <= rel * fabs(want) || (want == 0 && got == 0);
}

static void test_peer_model(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node d[NS], kid;
  rkin_model_spec s;
  rkin_model *m;
  rkin_err err;
  double y[NS], k[NP], yd[NS], want[NS], J[NS * NS], Jw[NS * NS];
  double A[NS * NS], C[NS], *work, out[1];
  const char *outname[1] = { "kidney" };
  int i, bad;

  build_6c(g, d);
  kid = st(g, K);
  s = spec_6c(d);
  s.n_outputs = 1;
  s.outputs = outname;
  s.output_expr = &kid;
  m = rkin_model_new(&s, g, &err);
  if (!ok(m != NULL, "six-compartment 177Lu model builds")) {
    diag("%s", err.msg);
    return;
  }
  is_int((long)rkin_model_nstates(m), NS, "6 states");
  is_int((long)rkin_model_nparams(m), NP, "11 parameters");
  is_double(rkin_model_lambda(m), LAM, 1e-14,
            "lambda = ln 2 / (6.647 d) (peers/README.md s.2)");
  work = malloc(rkin_model_nwork(m) * sizeof *work);

  /* A random point: activities up to 7400 MBq, rates 0.5x..2x typical. */
  for (i = 0; i < NS; i++) y[i] = 7400 * urand();
  for (i = 0; i < NP; i++) k[i] = values[i] * (0.5 + 1.5 * urand());
  is_int(rkin_model_rhs(m, 3.0, y, k, yd, work), 0, "rhs finite");
  peer_rhs(k, y, want);
  for (i = 0, bad = 0; i < NS; i++)
    if (!close_rel(yd[i], want[i], 1e-14)) {
      bad++;
      diag("  ydot[%s] = %.17g, peer %.17g", states[i], yd[i], want[i]);
    }
  ok(bad == 0, "rhs equals peers/pbpk_model.c derivs (rel. 1e-14)");

  is_int(rkin_model_jac(m, 3.0, y, k, J, work), 0, "Jacobian finite");
  peer_jac(k, Jw);
  for (i = 0, bad = 0; i < NS * NS; i++)
    if (!close_rel(J[i], Jw[i], 1e-14)) {
      bad++;
      diag("  J[%d] = %.17g, peer %.17g", i, J[i], Jw[i]);
    }
  ok(bad == 0, "Jacobian equals peers/pbpk_model.c jac, column-major, "
     "structural zeros exactly 0 (rel. 1e-14)");
  ok(rkin_model_is_linear(m), "peer model is linear: y' = A(p) y");
  ok(rkin_model_outputs_linear(m), "output K is linear");
  is_int(rkin_model_linear_matrix(m, k, A, &err), 0, "A(p) evaluates");
  for (i = 0, bad = 0; i < NS * NS; i++)
    if (!close_rel(A[(i % NS) * NS + i / NS], Jw[i], 1e-14)) bad++;
  ok(bad == 0, "A(p) row-major equals the peer Jacobian (rel. 1e-14)");
  is_int(rkin_model_linear_matrix(m, NULL, A, &err), 0, "A(defaults)");
  is_double(A[K * NS + K], -(values[kKP] + LAM), 1e-14,
            "A[K][K] at defaults = -(kKP + lambda)");
  is_int(rkin_model_output_matrix(m, k, C, &err), 0, "C(p) evaluates");
  ok(C[K] == 1 && C[P] == 0 && C[R] == 0, "C = e_K");
  is_int(rkin_model_outputs(m, 0, y, k, out, work), 0, "outputs finite");
  is_double(out[0], y[K], 0, "output kidney = K");

  is_int(rkin_model_state_index(m, "T", &err), T, "state T has index 4");
  is_int(rkin_model_param_index(m, "kU", &err), kU, "param kU index 10");
  is_int(rkin_model_output_index(m, "kidney", &err), 0, "output index 0");
  is_int(rkin_model_state_index(m, "Q", &err), -1, "unknown state");
  like(err.msg, "unknown state 'Q'; known states: P, I, K, L, T, R",
       "message lists the known states");
  is_int(err.code, RKIN_ENOTFOUND, "code RKIN_ENOTFOUND");
  rkin_model_param_index(m, "kXX", &err);
  like(err.msg, "unknown parameter 'kXX'; known parameters: kPI, kIP",
       "message lists the known parameters");
  rkin_model_output_index(m, "liver", &err);
  like(err.msg, "unknown output 'liver'; known outputs: kidney",
       "message lists the known outputs");
  ok(strcmp(rkin_model_state_name(m, K), "K") == 0
       && rkin_model_state_name(m, NS) == NULL, "state names");
  ok(rkin_model_defaults(m)[kPK] == 0.030, "defaults copied");

  rkin_model_explain(m, K, 12, &err);
  like(err.msg, "state 'K': d/dt = kPK * P - kKP * K is not finite",
       "explain names the state and its derivative");
  like(err.msg, "at t = 12 h", "explain gives the time");
  is_int(rkin_model_explain(m, 9, 0, &err), RKIN_EINVAL, "explain range");
  free(work);
  rkin_model_free(m);
}

/* One-state model dy/dt = f, built by the caller in a fresh graph. */
static rkin_model *one_state(rkin_graph *g, rkin_node f, rkin_err *err)
{
  static const char *const sn[] = { "A" };
  static const char *const pn[] = { "k", "Bmax" };
  static const double pv[] = { 0.5, 100 };
  rkin_model_spec s;
  memset(&s, 0, sizeof s);
  s.name = "one";
  s.n_states = 1;
  s.states = sn;
  s.deriv = &f;
  s.n_params = 2;
  s.params = pn;
  s.values = pv;
  return rkin_model_new(&s, g, err);
}

static void test_nonlinear(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node d[NS];
  rkin_model_spec s;
  rkin_model *m;
  rkin_err err;
  double A[NS * NS];
  int saved;

  /* Saturable kidney uptake kPK * P * (1 - K / Bmax), Bmax = kU here. */
  build_6c(g, d);
  saved = d[K];
  d[K] = sub(g, mul(g, mul(g, prm(g, kPK), st(g, P)),
                    sub(g, rkin_expr_const(g, 1),
                        rkin_expr_binary(g, RKIN_OP_DIV, st(g, K),
                                         prm(g, kU)))),
             mul(g, prm(g, kKP), st(g, K)));
  (void)saved;
  s = spec_6c(d);
  m = rkin_model_new(&s, g, &err);
  ok(m && !rkin_model_is_linear(m), "saturable uptake: not linear");
  is_int(rkin_model_linear_matrix(m, NULL, A, &err), RKIN_ENOTLINEAR,
         "A(p) refused with RKIN_ENOTLINEAR");
  like(err.msg, "state 'K': d(dK/dt)/dP = kPK * (1 - K / kU) depends on the "
       "states", "message shows the state-dependent partial");
  rkin_model_free(m);

  g = rkin_graph_new();
  m = one_state(g, sub(g, rkin_expr_const(g, 1), mul(g, prm(g, 0),
                                                    st(g, 0))), &err);
  ok(m && !rkin_model_is_linear(m), "constant input 1 - k*A: not linear");
  rkin_model_linear_matrix(m, NULL, A, &err);
  like(err.msg, "dA/dt at zero states is 1, not 0 (an input term)",
       "message names the input term");
  rkin_model_free(m);

  g = rkin_graph_new();
  m = one_state(g, rkin_expr_unary(g, RKIN_OP_NEG,
                                   mul(g, mul(g, prm(g, 0), st(g, 0)),
                                       rkin_expr_time(g))), &err);
  ok(m && !rkin_model_is_linear(m), "-k*A*t: time-varying, not linear");
  rkin_model_linear_matrix(m, NULL, A, &err);
  like(err.msg, "depends on time", "message says time");
  rkin_model_free(m);

  /* log A is undefined at A = 0: not linear, and no graph error. */
  g = rkin_graph_new();
  m = one_state(g, rkin_expr_unary(g, RKIN_OP_LOG, st(g, 0)), &err);
  ok(m && !rkin_model_is_linear(m), "log A: builds, not linear");
  rkin_model_free(m);

  /* k * A / Bmax is linear although written with a division. */
  g = rkin_graph_new();
  m = one_state(g, rkin_expr_binary(g, RKIN_OP_DIV, mul(g, prm(g, 0),
                                                        st(g, 0)),
                                    prm(g, 1)), &err);
  ok(m && rkin_model_is_linear(m), "k * A / Bmax: linear");
  is_int(rkin_model_linear_matrix(m, NULL, A, &err), 0, "A(p) evaluates");
  is_double(A[0], 0.5 / 100, 1e-15, "A = k / Bmax");
  rkin_model_free(m);

  /* Non-finite derivative at run time: rhs returns -1 - i. */
  g = rkin_graph_new();
  m = one_state(g, rkin_expr_binary(g, RKIN_OP_DIV, prm(g, 0), st(g, 0)),
                &err);
  {
    double y = 0, yd, w[8], p[2] = { 0.5, 100 };
    ok(rkin_model_nwork(m) <= 8, "small work");
    is_int(rkin_model_rhs(m, 0, &y, p, &yd, w), -1, "k / A at A = 0: -1");
    rkin_model_explain(m, 0, 2.5, &err);
    like(err.msg, "state 'A': d/dt = k / A is not finite (NaN or Inf) at "
         "t = 2.5 h", "explain message");
    is_int(rkin_model_jac(m, 0, &y, p, &yd, w), -1,
           "Jacobian -k / A^2 at A = 0: -1");
  }
  rkin_model_free(m);

  /* A(p) with an infinite rate: the entry is named. */
  g = rkin_graph_new();
  m = one_state(g, rkin_expr_unary(g, RKIN_OP_NEG, mul(g, prm(g, 0),
                                                       st(g, 0))), &err);
  {
    double p[2] = { INFINITY, 1 };
    is_int(rkin_model_linear_matrix(m, p, A, &err), RKIN_ENONFINITE,
           "A(p) with k = Inf: RKIN_ENONFINITE");
    like(err.msg, "system matrix entry d(dA/dt)/dA is not finite (-inf)",
         "message names the entry");
  }
  rkin_model_free(m);

  /* An output P * K is not linear; C(p) is refused. */
  g = rkin_graph_new();
  build_6c(g, d);
  s = spec_6c(d);
  {
    const char *on[2] = { "sumPK", "prodPK" };
    rkin_node oe[2];
    double C[2 * NS];
    oe[0] = add(g, st(g, P), st(g, K));
    oe[1] = mul(g, st(g, P), st(g, K));
    s.n_outputs = 2;
    s.outputs = on;
    s.output_expr = oe;
    m = rkin_model_new(&s, g, &err);
    ok(m && rkin_model_is_linear(m) && !rkin_model_outputs_linear(m),
       "linear model, nonlinear output P * K");
    is_int(rkin_model_output_matrix(m, NULL, C, &err), RKIN_ENOTLINEAR,
           "C(p) refused");
    like(err.msg, "output 'prodPK': d(prodPK)/dP = K depends on the states",
         "message names the output and the partial");
  }
  rkin_model_free(m);
}

/* Each rkin_model_new check, provoked on purpose. */
static void expect_fail(rkin_model_spec *s, rkin_graph *g, const char *msg,
                        const char *name)
{
  rkin_err err;
  rkin_model *m;
  rkin_err_clear(&err);
  m = rkin_model_new(s, g, &err);
  ok(m == NULL && err.code < 0, "%s: rejected", name);
  like(err.msg, msg, "%s: message", name);
  rkin_model_free(m);
}

static void test_errors(void)
{
  rkin_node d[NS];
  rkin_model_spec s;
  rkin_graph *g;
  const char *dup_s[NS] = { "P", "I", "K", "L", "K", "R" };
  const char *empty_s[NS] = { "P", "I", "", "L", "T", "R" };
  const char *dup_p[NP], *clash_p[NP], *outs[2] = { "a", "a" };
  const char *out_k[1] = { "K" };
  double bad_v[NP];
  rkin_node o[2];

  memcpy(dup_p, params, sizeof dup_p);
  dup_p[7] = "kPI";
  memcpy(clash_p, params, sizeof clash_p);
  clash_p[3] = "T";
  memcpy(bad_v, values, sizeof bad_v);
  bad_v[5] = NAN;

#define FRESH() (g = rkin_graph_new(), build_6c(g, d), s = spec_6c(d))
  FRESH();
  expect_fail(NULL, g, "model spec is NULL", "NULL spec");
  FRESH();
  expect_fail(&s, NULL, "expression graph is NULL", "NULL graph");
  rkin_graph_free(g);
  FRESH();
  s.name = "";
  expect_fail(&s, g, "model name is empty", "empty model name");
  FRESH();
  s.n_states = 0;
  expect_fail(&s, g, "model 'lu177_6c' has no states", "no states");
  FRESH();
  s.states = empty_s;
  expect_fail(&s, g, "state 3 has an empty name", "empty state name");
  FRESH();
  s.states = dup_s;
  expect_fail(&s, g, "duplicate state name 'K' (state 3 and 5)",
              "duplicate state");
  FRESH();
  s.params = dup_p;
  expect_fail(&s, g, "duplicate parameter name 'kPI' (parameter 1 and 8)",
              "duplicate parameter");
  FRESH();
  s.params = clash_p;
  expect_fail(&s, g, "parameter 'T' has the name of a state",
              "parameter named like a state");
  FRESH();
  o[0] = o[1] = st(g, K);
  s.n_outputs = 2;
  s.outputs = outs;
  s.output_expr = o;
  expect_fail(&s, g, "duplicate output name 'a'", "duplicate output");
  FRESH();
  o[0] = st(g, K);
  s.n_outputs = 1;
  s.outputs = out_k;
  s.output_expr = o;
  expect_fail(&s, g, "output 'K' has the name of a state",
              "output named like a state");
  FRESH();
  d[L] = -1;
  expect_fail(&s, g, "derivative of state 'L' is not a valid expression",
              "invalid derivative node");
  FRESH();
  d[T] = st(g, 9);
  expect_fail(&s, g, "derivative of state 'T' uses state y[9], but the "
              "model has 6 states", "derivative uses an unknown state");
  FRESH();
  d[T] = prm(g, 11);
  expect_fail(&s, g, "derivative of state 'T' uses parameter p[11], but the "
              "model has 11 parameters", "derivative uses an unknown param");
  FRESH();
  s.values = bad_v;
  expect_fail(&s, g, "parameter 'kLP' has value nan; expected a finite "
              "number", "non-finite parameter value");
  FRESH();
  rkin_expr_const(g, INFINITY);
  expect_fail(&s, g, "model 'lu177_6c': constant inf is not finite",
              "graph carrying an error");
  FRESH();
  o[0] = 999999;
  s.n_outputs = 1;
  s.outputs = outs;
  s.output_expr = o;
  expect_fail(&s, g, "output 'a' is not a valid expression", "bad output");
#undef FRESH
}

/* Conditions: on a state or on time the model is piecewise and goes to
 * CVODES (not linear, its comparison a switching surface); on parameters
 * only it stays linear with A(p) of the selected branch; even an input
 * that vanishes at y = 0 (ifelse(A > 1, 1, 0)) is not linear. */
static void test_conditions(void)
{
  rkin_graph *g;
  rkin_model *m;
  rkin_err err;
  rkin_node a, f;
  double A[1], gsw[1], y[1], w[64], yd[1], J[1];
  double pv[2];

  /* A' = -ifelse(A > Bmax, k, 2 k) A */
  g = rkin_graph_new();
  a = st(g, 0);
  f = rkin_expr_unary(g, RKIN_OP_NEG,
                      mul(g, rkin_expr_ifelse(g,
                                              rkin_expr_binary(g, RKIN_OP_GT,
                                                               a, prm(g, 1)),
                                              prm(g, 0),
                                              mul(g, rkin_expr_const(g, 2),
                                                  prm(g, 0))), a));
  m = one_state(g, f, &err);
  ok(m && !rkin_model_is_linear(m), "ifelse on a state: not linear");
  is_int(rkin_model_linear_matrix(m, NULL, A, &err), RKIN_ENOTLINEAR,
         "A(p) refused");
  like(err.msg, "switch where A > Bmax (a condition on the states)",
       "message names the condition");
  ok(rkin_model_nswitches(m) == 1, "one switching surface");
  pv[0] = 0.5;
  pv[1] = 100;
  y[0] = 130;
  ok(rkin_model_switches(m, 0, y, pv, gsw, w) == 0 && gsw[0] == 30,
     "root function A - Bmax = 30 at A = 130");
  rkin_model_rhs(m, 0, y, pv, yd, w);
  rkin_model_jac(m, 0, y, pv, J, w);
  ok(yd[0] == -65 && J[0] == -0.5, "above: A' = -k A = -65, J = -k");
  y[0] = 80;
  rkin_model_rhs(m, 0, y, pv, yd, w);
  rkin_model_jac(m, 0, y, pv, J, w);
  ok(yd[0] == -80 && J[0] == -1, "below: A' = -2k A = -80, J = -2k "
     "(the Jacobian is piecewise)");
  rkin_model_free(m);

  /* A' = -ifelse(Bmax > 50, k, 2 k) A: parameters only */
  g = rkin_graph_new();
  a = st(g, 0);
  f = rkin_expr_unary(g, RKIN_OP_NEG,
                      mul(g, rkin_expr_ifelse(g,
                                              rkin_expr_binary(g, RKIN_OP_GT,
                                                               prm(g, 1),
                                                  rkin_expr_const(g, 50)),
                                              prm(g, 0),
                                              mul(g, rkin_expr_const(g, 2),
                                                  prm(g, 0))), a));
  m = one_state(g, f, &err);
  ok(m && rkin_model_is_linear(m) && rkin_model_nswitches(m) == 0,
     "ifelse on parameters only: linear, no switching surface");
  pv[1] = 100;
  ok(rkin_model_linear_matrix(m, pv, A, &err) == 0 && A[0] == -0.5,
     "A(p) = -k for Bmax = 100");
  pv[1] = 10;
  ok(rkin_model_linear_matrix(m, pv, A, &err) == 0 && A[0] == -1,
     "A(p) = -2k for Bmax = 10");
  {
    /* dA/dk along direction (1, 0) and dA/dBmax along (0, 1): the
     * selected branch's derivative, 0 for the threshold parameter */
    double dir[4] = { 1, 0, 0, 1 }, dA[2];
    ok(rkin_model_linear_dparams(m, pv, dir, 2, dA, NULL, &err) == 0
       && dA[0] == -2 && dA[1] == 0, "dA/dk = -2 on the Bmax <= 50 branch, "
       "dA/dBmax = 0 (got %g, %g)", dA[0], dA[1]);
    pv[1] = 100;
    ok(rkin_model_linear_dparams(m, pv, dir, 2, dA, NULL, &err) == 0
       && dA[0] == -1 && dA[1] == 0, "dA/dk = -1 on the other branch");
  }
  rkin_model_free(m);

  /* A' = -k A + ifelse(A > 1, 1, 0): zero at A = 0, still not linear */
  g = rkin_graph_new();
  a = st(g, 0);
  f = add(g, rkin_expr_unary(g, RKIN_OP_NEG, mul(g, prm(g, 0), a)),
          rkin_expr_ifelse(g, rkin_expr_binary(g, RKIN_OP_GT, a,
                                               rkin_expr_const(g, 1)),
                           rkin_expr_const(g, 1), rkin_expr_const(g, 0)));
  m = one_state(g, f, &err);
  ok(m && !rkin_model_is_linear(m), "a switched input on a state is not "
     "linear although it vanishes at A = 0");
  rkin_model_free(m);

  /* a condition as a derivative */
  g = rkin_graph_new();
  f = rkin_expr_binary(g, RKIN_OP_GT, st(g, 0), prm(g, 1));
  m = one_state(g, f, &err);
  ok(m == NULL, "a condition as a derivative is refused");
  like(err.msg, "derivative of state 'A' is a condition (true/false), not a "
       "number", "message");
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  test_peer_model();
  test_nonlinear();
  test_errors();
  test_conditions();
  done_testing();
  return exit_status();
}
