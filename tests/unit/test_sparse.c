/* test_sparse.c - the sparse Jacobian of large models: the compressed-column
 * pattern and values against finite differences of the right-hand side,
 * the CVODES Newton matrix in sparse (KLU) form against the dense one
 * entry by entry, sparse and dense solutions of a 200-state model against
 * each other (and a linear one against the exact path), the AUTO choice
 * and bad option values. The model is tests/large.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "solve/cvodes_path.h"
#include "solve/solve.h"
#include "../large.h"
#include "../peer.h"
#include "../tap.h"

/* A positive, uneven state: amounts from 1 to ~1000 MBq. */
static void some_state(size_t n, double *y)
{
  size_t i;
  for (i = 0; i < n; i++) y[i] = 1.0 + 1000.0 * fabs(sin(1.3 * (double)i));
}

/* Pattern well-formed, values equal to central differences of the
 * right-hand side, and every entry outside it exactly 0 there (a function
 * that does not use y_j does not change when y_j does). */
static void test_pattern(void)
{
  large_model lm;
  rkin_err err = { 0 };
  size_t n, nnz, i, j, k, bad_order = 0, bad_val = 0, bad_zero = 0;
  const size_t *cp;
  const int *ri;
  double *y, *p, *val, *work, *fp, *fm, *J;
  if (!ok(large_build(40, 0, &lm, &err) == 0, "200-state model builds")) {
    diag("%s", err.msg);
    return;
  }
  n = rkin_model_nstates(lm.m);
  nnz = rkin_model_jac_nnz(lm.m);
  cp = rkin_model_jac_colptr(lm.m);
  ri = rkin_model_jac_rowind(lm.m);
  is_int((long)n, 200, "40 organs x 5 compartments = 200 states");
  /* per organ: V 4 (+ P's row), I 4, F 4, B 3, L 3 column entries, the
   * plasma column 1 + 1 per organ: a few per column, not n */
  ok(nnz > n && nnz < 8 * n, "nnz = %zu: a few per column (n = %zu)", nnz,
     n);
  is_int((long)cp[0], 0, "colptr[0] = 0");
  is_int((long)cp[n], (long)nnz, "colptr[n] = nnz");
  for (j = 0; j < n; j++)
    for (k = cp[j]; k < cp[j + 1]; k++)
      if (ri[k] < 0 || (size_t)ri[k] >= n
          || (k > cp[j] && ri[k] <= ri[k - 1]))
        bad_order++;
  is_int((long)bad_order, 0, "row indices in range and ascending per column");

  y = malloc(n * sizeof *y);
  fp = malloc(n * sizeof *fp);
  fm = malloc(n * sizeof *fm);
  J = calloc(n * n, sizeof *J);
  val = malloc(nnz * sizeof *val);
  work = malloc(rkin_model_nwork(lm.m) * sizeof *work);
  p = (double *)rkin_model_defaults(lm.m);
  some_state(n, y);
  is_int(rkin_model_jac_sparse(lm.m, 2.0, y, p, val, work), 0,
         "sparse Jacobian finite");
  for (j = 0; j < n; j++)
    for (k = cp[j]; k < cp[j + 1]; k++) J[(size_t)ri[k] + j * n] = val[k];
  for (j = 0; j < n; j++) {
    double yj = y[j], h = 1e-4 * yj;
    y[j] = yj + h;
    rkin_model_rhs(lm.m, 2.0, y, p, fp, work);
    y[j] = yj - h;
    rkin_model_rhs(lm.m, 2.0, y, p, fm, work);
    y[j] = yj;
    for (i = 0; i < n; i++) {
      double fd = (fp[i] - fm[i]) / (2 * h), a = J[i + j * n];
      int in = 0;
      for (k = cp[j]; k < cp[j + 1]; k++) in |= (size_t)ri[k] == i;
      if (!in && fp[i] != fm[i]) {
        if (bad_zero++ < 3)
          diag("  d f_%zu / d y_%zu = %g outside the pattern", i, j, fd);
      } else if (in && !(fabs(fd - a) <= 1e-7 * fabs(a) + 1e-12)) {
        if (bad_val++ < 3)
          diag("  J[%zu][%zu] = %.17g, central difference %.17g", i, j, a,
               fd);
      }
    }
  }
  /* The rhs is at most quadratic in y (kon F (Bmax - B)): the central
   * difference is exact up to rounding, so 1e-7 relative is strict. */
  is_int((long)bad_val, 0, "every pattern entry = central difference of the "
         "rhs (rel. 1e-7)");
  is_int((long)bad_zero, 0, "no rhs entry depends on a state outside the "
         "pattern");

  /* The dense Jacobian (scattered from the same tape) agrees. */
  {
    double *D = malloc(n * n * sizeof *D);
    size_t diff = 0;
    rkin_model_jac(lm.m, 2.0, y, p, D, work);
    for (i = 0; i < n * n; i++) diff += D[i] != J[i];
    is_int((long)diff, 0, "dense Jacobian = sparse one entry by entry");
    free(D);
  }
  free(y);
  free(fp);
  free(fm);
  free(J);
  free(val);
  free(work);
  large_free(&lm);
}

static rkin_cvpath *cvpath(const rkin_model *m, rkin_jacobian jac)
{
  rkin_solve_opts o;
  rkin_err err = { 0 };
  rkin_cvpath *c;
  rkin_solve_opts_default(&o);
  o.jacobian = jac;
  c = rkin_cvpath_new(m, &o, &err);
  if (!c) diag("cvpath: %s", err.msg);
  return c;
}

/* I - gamma J of the whole system (states, then integrals of three
 * states), sparse against dense: same arithmetic on the same values, so
 * equal. */
static void newton_model(const rkin_model *m, const char *what)
{
  rkin_err err = { 0 };
  rkin_cvpath *cs = NULL, *cd = NULL;
  int tia[3] = { 0, 2, 1 };
  size_t n = rkin_model_nstates(m), nsys = n + 3, i, diff = 0, nz = 0;
  double *y = NULL, *Ms = NULL, *Md = NULL;
  const double *p = rkin_model_defaults(m);
  cs = cvpath(m, RKIN_JAC_SPARSE);
  cd = cvpath(m, RKIN_JAC_DENSE);
  y = malloc(nsys * sizeof *y);
  Ms = malloc(nsys * nsys * sizeof *Ms);
  Md = malloc(nsys * nsys * sizeof *Md);
  if (!cs || !cd || !y || !Ms || !Md) {
    ok(0, "%s: set-up", what);
    goto done;
  }
  ok(rkin_cvpath_sparse(cs) && !rkin_cvpath_sparse(cd),
     "%s: one sparse, one dense", what);
  some_state(nsys, y);
  if (rkin_cvpath_begin(cs, p, tia, 3, &err)
      || rkin_cvpath_begin(cd, p, tia, 3, &err)
      || rkin_cvpath_newton_matrix(cs, 1.5, y, 0.37, Ms, &err)
      || rkin_cvpath_newton_matrix(cd, 1.5, y, 0.37, Md, &err)) {
    ok(0, "%s: Newton matrices (%s)", what, err.msg);
    goto done;
  }
  for (i = 0; i < nsys * nsys; i++) {
    nz += Md[i] != 0;
    if (Ms[i] != Md[i] && diff++ < 3)
      diag("  M[%zu][%zu]: sparse %.17g, dense %.17g", i % nsys, i / nsys,
           Ms[i], Md[i]);
  }
  ok(nz > nsys, "%s: the dense matrix has %zu nonzeros", what, nz);
  is_int((long)diff, 0, "%s: sparse I - gamma J = dense entry by entry "
         "(%zu equations, TIA rows included)", what, nsys);
done:
  rkin_cvpath_free(cs);
  rkin_cvpath_free(cd);
  free(y);
  free(Ms);
  free(Md);
}

static void newton_case(int linear, size_t n_org, const char *what)
{
  large_model lm;
  rkin_err err = { 0 };
  if (large_build(n_org, linear, &lm, &err)) {
    ok(0, "%s: model builds (%s)", what, err.msg);
    return;
  }
  newton_model(lm.m, what);
  large_free(&lm);
}

/* No decay, and states without a term in themselves: the pattern must
 * add the diagonal (I - gamma J needs it) before, between and after a
 * column's entries (b's column holds row c only: the diagonal goes
 * before it; c's holds row a only: after it).
 * a' = -k a + k2 c, b' = k a, c' = k b. */
static void newton_no_diagonal(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0), b = rkin_expr_state(g, 1);
  rkin_node c = rkin_expr_state(g, 2), k = rkin_expr_param(g, 0);
  rkin_node k2 = rkin_expr_param(g, 1), d[3];
  const char *sn[3] = { "a", "b", "c" }, *pn[2] = { "k", "k2" };
  double pv[2] = { 0.3, 0.05 };
  rkin_model_spec sp = { .name = "chain", .n_states = 3, .states = sn,
                         .deriv = d, .n_params = 2, .params = pn,
                         .values = pv };
  rkin_err err = { 0 };
  rkin_model *m;
#define MUL(x, y) rkin_expr_binary(g, RKIN_OP_MUL, (x), (y))
  d[0] = rkin_expr_binary(g, RKIN_OP_SUB, MUL(k2, c), MUL(k, a));
  d[1] = MUL(k, a);
  d[2] = MUL(k, b);
#undef MUL
  m = rkin_model_new(&sp, g, &err);
  if (!ok(m != NULL, "3-state chain builds")) {
    diag("%s", err.msg);
    return;
  }
  is_int((long)rkin_model_jac_nnz(m), 4, "chain: 4 structural nonzeros, "
         "b's and c's diagonals not among them");
  newton_model(m, "3-state chain without diagonal");
  {
    /* k2 = NaN: the only non-finite entry is d a'/dc, dense index
     * 0 + 2 * 3 = 6 (its sparse index is 3). */
    double y[3] = { 1, 2, 3 }, p[2] = { 0.3, NAN }, v[4], J[9];
    double *w = malloc(rkin_model_nwork(m) * sizeof *w);
    is_int(rkin_model_jac_sparse(m, 0, y, p, v, w), -7,
           "non-finite sparse entry reported by its dense index (-1 - 6)");
    is_int(rkin_model_jac(m, 0, y, p, J, w), -7, "... as the dense one");
    free(w);
  }
  rkin_model_free(m);
}

/* 7.4 GBq into plasma, outputs at four times, TIAs of three states. */
static int run(const rkin_model *m, rkin_path path, rkin_jacobian jac,
               double *yout, double *tia, long *steps)
{
  static const double times[4] = { 1, 24, 168, 672 };
  static const int qi[3] = { 0, 13, 199 };
  rkin_solve_opts o;
  rkin_solve_req rq = { 0 };
  rkin_solve_res rs = { 0 };
  rkin_dose d = { .time = 0, .amount = 7400, .cmt = 0, .evid = 1 };
  rkin_dosing *ds = rkin_dosing_new();
  rkin_err err = { 0 };
  rkin_solver *s;
  int rc;
  rkin_solve_opts_default(&o);
  o.path = path;
  o.jacobian = jac;
  o.rtol = 1e-8;
  o.atol = 1e-8;
  rkin_dosing_add(ds, &d, &err);
  rq.t0 = 0;
  rq.t1 = 672;
  rq.dosing = ds;
  rq.times = times;
  rq.n_times = 4;
  rq.tia = qi;
  rq.n_tia = rkin_model_nstates(m) > 199 ? 3 : 2;
  rs.y = yout;
  rs.tia = tia;
  s = rkin_solver_new(m, &o, &err);
  rc = s ? rkin_solver_run(s, &rq, &rs, &err) : -1;
  if (rc) diag("run: %s", err.msg);
  *steps = rs.n_steps;
  rkin_solver_free(s);
  rkin_dosing_free(ds);
  return rc;
}

static size_t compare(const double *a, const double *b, size_t n,
                      double rel, double abs_tol, const char *what)
{
  size_t i, bad = 0;
  for (i = 0; i < n; i++)
    if (!(fabs(a[i] - b[i]) <= rel * fabs(b[i]) + abs_tol) && bad++ < 3)
      diag("  %s[%zu]: %.12g vs %.12g", what, i, a[i], b[i]);
  return bad;
}

static void test_solutions(void)
{
  large_model lm, ll;
  rkin_err err = { 0 };
  size_t n;
  double *ys, *yd, ts[3], td[3];
  long ss = 0, sd = 0;
  if (large_build(40, 0, &lm, &err) || large_build(10, 1, &ll, &err)) {
    ok(0, "models build (%s)", err.msg);
    return;
  }
  n = rkin_model_nstates(lm.m);
  ys = calloc(4 * n, sizeof *ys);
  yd = calloc(4 * n, sizeof *yd);
  ok(run(lm.m, RKIN_PATH_CVODES, RKIN_JAC_SPARSE, ys, ts, &ss) == 0
     && run(lm.m, RKIN_PATH_CVODES, RKIN_JAC_DENSE, yd, td, &sd) == 0,
     "200-state nonlinear model: sparse and dense runs succeed");
  diag("  steps: sparse %ld, dense %ld", ss, sd);
  /* Same Newton matrices up to rounding: the two runs differ by far less
   * than the tolerance (rtol 1e-8); 1e-6 leaves room for step choices. */
  is_int((long)compare(ys, yd, 4 * n, 1e-6, 1e-6, "y"), 0,
         "sparse = dense states at 1, 24, 168, 672 h (rel. 1e-6)");
  is_int((long)compare(ts, td, 3, 1e-6, 1e-6, "tia"), 0,
         "sparse = dense TIAs of P, I_2, L_39 (rel. 1e-6)");
  ok(ys[3 * n + 3 * 5 + 3] > 1e-3,
     "the bound compartments fill (B_3 at 672 h = %g MBq)",
     ys[3 * n + 3 * 5 + 3]);

  /* Linear variant (50 states): sparse CVODES, whose right-hand side is
   * the row-compressed sparse Jacobian, against the exact path. */
  n = rkin_model_nstates(ll.m);
  ok(rkin_model_is_linear(ll.m), "linear variant is linear");
  ok(run(ll.m, RKIN_PATH_CVODES, RKIN_JAC_SPARSE, ys, ts, &ss) == 0
     && run(ll.m, RKIN_PATH_EXACT, RKIN_JAC_AUTO, yd, td, &sd) == 0,
     "50-state linear model: sparse CVODES and exact runs succeed");
  is_int((long)compare(ys, yd, 4 * n, 1e-5, 1e-5, "y"), 0,
         "linear: sparse CVODES = exact path (rel. 1e-5 at rtol 1e-8)");
  is_int((long)compare(ts, td, 2, 1e-5, 1e-5, "tia"), 0,
         "linear: sparse CVODES TIAs = exact ones (rel. 1e-5)");
  free(ys);
  free(yd);
  large_free(&lm);
  large_free(&ll);
}

/* CVODES forward sensitivities (by the dose amount) with the KLU Newton
 * solver: the staggered corrector factors the same sparse matrix, so the
 * sensitivities equal the dense run's and a central difference of two
 * sparse runs (amount 7400 +- 7.4 MBq). */
static int run_sens(const rkin_model *m, rkin_jacobian jac, double amount,
                    double *y, double *dy)
{
  static const double times[4] = { 1, 24, 168, 672 };
  rkin_solve_opts o;
  rkin_solve_req rq = { 0 };
  rkin_solve_res rs = { 0 };
  rkin_sens_req sq = { 0 };
  rkin_sens_res sr = { 0 };
  rkin_dose d = { .time = 0, .amount = amount, .cmt = 0, .evid = 1 };
  rkin_dosing *ds = rkin_dosing_new();
  rkin_err err = { 0 };
  rkin_solver *s;
  double one = 1.0;
  int rc;
  rkin_solve_opts_default(&o);
  o.path = RKIN_PATH_CVODES;
  o.jacobian = jac;
  o.rtol = 1e-9;
  o.atol = 1e-10;
  rkin_dosing_add(ds, &d, &err);
  rq.t0 = 0;
  rq.t1 = 672;
  rq.dosing = ds;
  rq.times = times;
  rq.n_times = 4;
  rs.y = y;
  sq.n_dir = 1;
  sq.damt = &one;
  sr.dy = dy;
  s = rkin_solver_new(m, &o, &err);
  rc = !s ? -1 : dy ? rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err)
                    : rkin_solver_run(s, &rq, &rs, &err);
  if (rc) diag("run_sens: %s", err.msg);
  rkin_solver_free(s);
  rkin_dosing_free(ds);
  return rc;
}

static void test_sens_sparse(void)
{
  large_model lm;
  rkin_err err = { 0 };
  size_t n, i;
  double *y, *ys, *yd, *yp, *ym, *fd;
  if (large_build(40, 0, &lm, &err)) {
    ok(0, "model builds (%s)", err.msg);
    return;
  }
  n = rkin_model_nstates(lm.m);
  y = calloc(4 * n, sizeof *y);
  ys = calloc(4 * n, sizeof *ys);
  yd = calloc(4 * n, sizeof *yd);
  yp = calloc(4 * n, sizeof *yp);
  ym = calloc(4 * n, sizeof *ym);
  fd = calloc(4 * n, sizeof *fd);
  ok(run_sens(lm.m, RKIN_JAC_SPARSE, 7400, y, ys) == 0
     && run_sens(lm.m, RKIN_JAC_DENSE, 7400, y, yd) == 0
     && run_sens(lm.m, RKIN_JAC_SPARSE, 7407.4, yp, NULL) == 0
     && run_sens(lm.m, RKIN_JAC_SPARSE, 7392.6, ym, NULL) == 0,
     "200-state model: sensitivity runs (sparse, dense) succeed");
  for (i = 0; i < 4 * n; i++) fd[i] = (yp[i] - ym[i]) / 14.8;
  is_int((long)compare(ys, yd, 4 * n, 1e-6, 1e-9, "dy/dA"), 0,
         "sparse = dense sensitivities by the dose amount (rel. 1e-6)");
  is_int((long)compare(ys, fd, 4 * n, 1e-4, 1e-7, "dy/dA"), 0,
         "sparse sensitivities = central differences (rel. 1e-4)");
  free(y); free(ys); free(yd); free(yp); free(ym); free(fd);
  large_free(&lm);
}

static void test_options(void)
{
  large_model lm;
  rkin_model *pm;
  rkin_err err = { 0 };
  rkin_solve_opts o;
  rkin_solver *s;
  if (large_build(40, 0, &lm, &err) || !(pm = peer_model(&err))) {
    ok(0, "models build (%s)", err.msg);
    return;
  }
  rkin_solve_opts_default(&o);
  is_int(o.jacobian, RKIN_JAC_AUTO, "default jacobian: AUTO");
  s = rkin_solver_new(lm.m, &o, &err);
  ok(s && rkin_solver_jacobian(s) == RKIN_JAC_SPARSE,
     "AUTO: sparse for 200 states (>= %d, sparse)", RKIN_SPARSE_MIN_STATES);
  rkin_solver_free(s);
  s = rkin_solver_new(pm, &o, &err);
  ok(s && rkin_solver_jacobian(s) == RKIN_JAC_DENSE, "AUTO: dense for 6");
  rkin_solver_free(s);
  {
    /* 12 states all coupled through their sum: every entry nonzero. */
    rkin_graph *g = rkin_graph_new();
    rkin_node d[12], sum = rkin_expr_const(g, 0.0);
    const char *sn[12] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
                           "k", "l" };
    const char *pn[1] = { "kc" };
    double pv[1] = { 0.1 };
    rkin_model_spec sp = { .name = "full", .n_states = 12, .states = sn,
                           .deriv = d, .n_params = 1, .params = pn,
                           .values = pv };
    rkin_model *fm;
    large_model l2;
    int i;
    for (i = 0; i < 12; i++)
      sum = rkin_expr_binary(g, RKIN_OP_ADD, sum, rkin_expr_state(g, i));
    for (i = 0; i < 12; i++)
      d[i] = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                              rkin_expr_binary(g, RKIN_OP_SUB,
                                               rkin_expr_state(g, i),
                                               rkin_expr_binary(
                                                 g, RKIN_OP_MUL, sum, sum)));
    fm = rkin_model_new(&sp, g, &err);
    if (!fm) diag("full model: %s", err.msg);
    s = fm ? rkin_solver_new(fm, &o, &err) : NULL;
    ok(s && rkin_model_jac_nnz(fm) == 144
       && rkin_solver_jacobian(s) == RKIN_JAC_DENSE,
       "AUTO: dense for 12 states with a full Jacobian (nnz 144)");
    rkin_solver_free(s);
    rkin_model_free(fm);
    if (!large_build(2, 0, &l2, &err)) {
      s = rkin_solver_new(l2.m, &o, &err);
      ok(s && rkin_solver_jacobian(s) == RKIN_JAC_SPARSE,
         "AUTO: sparse for 10 states with %zu of 100 entries",
         rkin_model_jac_nnz(l2.m));
      rkin_solver_free(s);
      large_free(&l2);
    }
  }
  o.jacobian = RKIN_JAC_SPARSE;
  s = rkin_solver_new(pm, &o, &err);
  ok(s && rkin_solver_jacobian(s) == RKIN_JAC_SPARSE,
     "SPARSE asked: sparse even for 6 states");
  rkin_solver_free(s);
  o.jacobian = (rkin_jacobian)7;
  s = rkin_solver_new(pm, &o, &err);
  ok(!s && err.code == RKIN_EINVAL, "jacobian = 7 refused");
  like(err.msg, "solver option jacobian = 7 is invalid (expected AUTO, "
       "DENSE or SPARSE)", "... with a message naming the option");
  rkin_solver_free(s);
  rkin_model_free(pm);
  large_free(&lm);
}

/* The 6-state peer model with a sparse Newton matrix: four cycles equal
 * the dense run (a small model exercises KLU on a nearly full pattern). */
static void test_small_sparse(void)
{
  rkin_err err = { 0 };
  rkin_model *m = peer_model(&err);
  rkin_solve_opts o;
  rkin_solver *s[2];
  static const double times[3] = { 24, 168, 1344 };
  static const int qi[2] = { PEER_KIDNEY, 0 };
  double y[2][18], q[2][2];
  int k, rc = 0;
  rkin_dose d = { .time = 0, .amount = PEER_DOSE_MBQ, .cmt = 0, .evid = 1 };
  rkin_dosing *ds = rkin_dosing_new();
  rkin_dosing_add(ds, &d, &err);
  for (k = 0; k < 2; k++) {
    rkin_solve_req rq = { 0 };
    rkin_solve_res rs = { 0 };
    rkin_solve_opts_default(&o);
    o.path = RKIN_PATH_CVODES;
    o.jacobian = k ? RKIN_JAC_DENSE : RKIN_JAC_SPARSE;
    rq.t1 = PEER_CYCLE_H;
    rq.dosing = ds;
    rq.times = times;
    rq.n_times = 3;
    rq.tia = qi;
    rq.n_tia = 2;
    rs.y = y[k];
    rs.tia = q[k];
    s[k] = rkin_solver_new(m, &o, &err);
    if (!s[k] || rkin_solver_run(s[k], &rq, &rs, &err)) rc = -1;
    rkin_solver_free(s[k]);
  }
  ok(rc == 0, "peer model: sparse and dense runs");
  is_int((long)compare(y[0], y[1], 18, 1e-7, 1e-7, "y"), 0,
         "peer model: sparse = dense states (rel. 1e-7)");
  is_int((long)compare(q[0], q[1], 2, 1e-7, 1e-7, "tia"), 0,
         "peer model: sparse = dense TIAs (rel. 1e-7)");
  rkin_dosing_free(ds);
  rkin_model_free(m);
}

/* rkin_expr_leaves on f = p3 y5 + ifelse(y2 > p1, y7, exp(y4)) + t y5:
 * states {2, 4, 5, 7} (y5 twice, listed once), parameters {1, 3}; the
 * condition's and both branches' leaves count. */
static void test_leaves(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node y2 = rkin_expr_state(g, 2), y5 = rkin_expr_state(g, 5);
  rkin_node y7 = rkin_expr_state(g, 7), p1 = rkin_expr_param(g, 1);
  rkin_node y4 = rkin_expr_state(g, 4);
  rkin_node p3 = rkin_expr_param(g, 3), f, c;
  int *v = NULL;
  size_t n = 0;
  c = rkin_expr_binary(g, RKIN_OP_GT, y2, p1);
  f = rkin_expr_binary(g, RKIN_OP_ADD,
                       rkin_expr_binary(g, RKIN_OP_MUL, p3, y5),
                       rkin_expr_ifelse(g, c, y7,
                                        rkin_expr_unary(g, RKIN_OP_EXP, y4)));
  f = rkin_expr_binary(g, RKIN_OP_ADD, f,
                       rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_time(g),
                                        y5));
  ok(rkin_expr_leaves(g, f, RKIN_OP_STATE, &v, &n) == 0 && n == 4
     && v[0] == 2 && v[1] == 4 && v[2] == 5 && v[3] == 7,
     "leaves: states 2, 4, 5, 7");
  free(v);
  ok(rkin_expr_leaves(g, f, RKIN_OP_PARAM, &v, &n) == 0 && n == 2
     && v[0] == 1 && v[1] == 3, "leaves: parameters 1, 3");
  free(v);
  ok(rkin_expr_leaves(g, rkin_expr_time(g), RKIN_OP_STATE, &v, &n) == 0
     && n == 0 && v == NULL, "leaves: none below t");
  ok(rkin_expr_leaves(g, f, RKIN_OP_TIME, &v, &n) == RKIN_EINVAL
     && rkin_expr_leaves(g, 99999, RKIN_OP_STATE, &v, &n) == RKIN_EINVAL,
     "leaves: a kind other than state/param or a bad node is refused");
  rkin_graph_free(g);
}

int main(void)
{
  rkin_init();
  test_leaves();
  test_pattern();
  newton_case(0, 40, "200-state nonlinear");
  newton_case(1, 10, "50-state linear");
  newton_no_diagonal();
  test_solutions();
  test_sens_sparse();
  test_options();
  test_small_sparse();
  done_testing();
  return exit_status();
}
