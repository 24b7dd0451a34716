/* steady.c - steady states of dose records (NONMEM SS = 1 / 2) for the
 * rkin_solver walk (solve.c): the periodic solution of x = Phi(x), Phi the
 * map over one dosing interval, by Newton (one LU solve on the exact path,
 * chord Newton with a finite-difference Jacobian on CVODES), and the
 * constant-infusion steady state f(x) + r = 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>

#include "solve/cvodes_path.h"
#include "solve/solve_impl.h"

/* Newton iterations for a steady state on the CVODES path (the exact
 * path needs one). */
#define SS_MAX_IT 50
/* Iterations a finite-difference Jacobian is used for (chord Newton). */
#define SS_RENEW 8

/* Segments here have no output times. */
static void no_emit(void *ctx, const double *y)
{
  (void)ctx;
  (void)y;
}

/* One integration from ts to te of y with rates r, no outputs, its
 * integrals discarded: the history a steady state is built from. */
static int ss_advance(rkin_solver *s, double ts, double te, double *y,
                      const double *r, long *steps, rkin_err *err)
{
  if (s->cap_ss_q) memset(s->ss_q, 0, s->cap_ss_q * sizeof *s->ss_q);
  if (s->use_cv)
    return rkin_cvpath_advance(s->cv, ts, te, y, r, NULL, 0, no_emit, s,
                               s->ss_q, steps, err);
  return rkin_expath_advance(s->ex, ts, te, y, r, NULL, 0, no_emit, s,
                             s->ss_q, err);
}

/* out = the state len h after a dose of e (into cmt) given at ts in state
 * x, within a steady state of interval ii (with_dose 0: no dose, for the
 * exact path's e^(A ii) columns). An infusion overlapping later intervals
 * is folded into one interval: (m+1) rates over [0, rem), m after. */
static int ss_map(rkin_solver *s, const rkin_dose_eff *e, int cmt,
                  double ii, double ts, double len, const double *x,
                  double *out, int with_dose, long *steps, rkin_err *err)
{
  double rem, t1 = ts + len;
  int rc, m;
  memcpy(out, x, s->n * sizeof *x);
  memset(s->ss_r, 0, s->n * sizeof *s->ss_r);
  if (with_dose && e->rate > 0) {
    m = rkin_dosing_ss_split(e->dur, ii, &rem);
    if (rem > 0) {
      double te = rem < len ? ts + rem : t1;
      s->ss_r[cmt] = (m + 1) * e->rate;
      rc = ss_advance(s, ts, te, out, s->ss_r, steps, err);
      if (rc || te == t1) return rc;
    }
    s->ss_r[cmt] = m * e->rate;
    return ss_advance(s, ts + rem, t1, out, s->ss_r, steps, err);
  }
  if (with_dose) out[cmt] += e->amount;
  return ss_advance(s, ts, t1, out, s->ss_r, steps, err);
}

/* Solves M dx = g in place of g: M n x n row-major in ss_J, replaced by
 * its LU factors when factor is 1, else those factors are used again. */
static int ss_lu(rkin_solver *s, size_t rec, int factor, rkin_err *err)
{
  size_t n = s->n, i, j;
  double umin = HUGE_VAL, jmax = 0;
  int sign;
  gsl_matrix_view M = gsl_matrix_view_array(s->ss_J, n, n);
  gsl_vector_view g = gsl_vector_view_array(s->ss_g, n);
  if (factor) {
    for (i = 0; i < n * n; i++) jmax = fmax(jmax, fabs(s->ss_J[i]));
    gsl_linalg_LU_decomp(&M.matrix, s->ss_perm, &sign);
    for (i = 0; i < n; i++)
      umin = fmin(umin, fabs(gsl_matrix_get(&M.matrix, i, i)));
  }
  if (factor && !(umin > 1e-13 * (jmax > 1 ? jmax : 1)))
    return rkin_err_set(err, RKIN_ERANGE, "dose record %zu: model '%s' "
                        "has no steady state (its equations are "
                        "singular, smallest pivot %g: some amount never "
                        "decays)", rec + 1, rkin_model_name(s->m), umin);
  gsl_linalg_LU_svx(&M.matrix, s->ss_perm, &g.vector);
  for (j = 0; j < n; j++)
    if (!isfinite(s->ss_g[j]))
      return rkin_err_set(err, RKIN_ENONFINITE, "dose record %zu: the "
                          "steady state of state '%s' is not finite",
                          rec + 1, rkin_model_state_name(s->m, j));
  return RKIN_OK;
}

/* The largest real part (modulus 0) or modulus (modulus 1) of the
 * eigenvalues of shift I - a, a n x n row-major. A steady state is the
 * limit of repeated dosing only when every mode decays: the model's
 * Jacobian has real parts < 0 (constant infusion), the interval map's
 * Jacobian moduli < 1 (periodic). An unstable fixed point still solves
 * the equations (with negative amounts for a growing linear model), so it
 * is refused. NaN when the eigenvalues cannot be computed. */
static double ss_growth(const double *a, size_t n, double shift, int modulus,
                        int *nomem)
{
  gsl_eigen_nonsymm_workspace *ws = gsl_eigen_nonsymm_alloc(n);
  gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
  gsl_matrix *w = gsl_matrix_alloc(n, n);
  double worst = -HUGE_VAL;
  size_t i, j;
  *nomem = !ws || !ev || !w;
  if (!*nomem) {
    for (i = 0; i < n; i++)
      for (j = 0; j < n; j++)
        gsl_matrix_set(w, i, j, (i == j ? shift : 0) - a[i * n + j]);
    if (gsl_eigen_nonsymm(w, ev, ws)) {
      worst = NAN;
    } else {
      for (i = 0; i < n; i++) {
        gsl_complex l = gsl_vector_complex_get(ev, i);
        double v = modulus ? hypot(GSL_REAL(l), GSL_IMAG(l)) : GSL_REAL(l);
        if (!(v < worst)) worst = v;
      }
    }
  }
  if (ws) gsl_eigen_nonsymm_free(ws);
  if (ev) gsl_vector_complex_free(ev);
  if (w) gsl_matrix_free(w);
  return worst;
}

static int ss_refuse_growth(const rkin_solver *s, size_t rec, int periodic,
                            double g, int nomem, rkin_err *err)
{
  if (nomem)
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for the "
                        "eigenvalues of a steady state");
  /* On CVODES dPhi/dx is a finite difference, good to about sqrt(rtol):
   * a slowly decaying mode must not be taken for a growing one. */
  double one = 1 + (s->use_cv ? 10 * sqrt(s->o.rtol) : 0);
  if (periodic ? g < one : g < 0) return RKIN_OK;    /* NaN refused */
  if (periodic)
    return rkin_err_set(err, RKIN_ERANGE, "dose record %zu: model '%s' has "
                        "no steady state: over one dosing interval some "
                        "amount grows by a factor %g (expected < 1 for "
                        "every mode; does a rate have the wrong sign?)",
                        rec + 1, rkin_model_name(s->m), g);
  return rkin_err_set(err, RKIN_ERANGE, "dose record %zu: model '%s' has no "
                      "constant-infusion steady state: its Jacobian has an "
                      "eigenvalue of real part %g /h (expected < 0 for "
                      "every mode; does a rate have the wrong sign?)",
                      rec + 1, rkin_model_name(s->m), g);
}

/* ss_J = I - dPhi/dx at x (f = Phi(x)), row-major: columns of e^(A ii)
 * on the exact path, forward differences on CVODES (x is restored). */
static int ss_jacobian(rkin_solver *s, const rkin_dose_eff *e, int cmt,
                       double ii, double ts, double *x, const double *f,
                       long *steps, rkin_err *err)
{
  size_t n = s->n, i, j;
  double *J = s->ss_J;
  int rc;
  for (j = 0; j < n; j++) {
    /* column j of J = dPhi/dx_j, into g for the moment */
    double h = 1, *col = s->ss_g;
    if (!s->use_cv) {
      memset(col, 0, n * sizeof *col);
      col[j] = 1;
      if ((rc = ss_map(s, e, cmt, ii, ts, ii, col, col, 0, steps, err)))
        return rc;
    } else {
      double xj = x[j], scale = fmax(fabs(x[j]), fabs(f[j]));
      for (i = 0; i < n; i++) scale = fmax(scale, 1e-3 * fabs(f[i]));
      h = sqrt(s->o.rtol) * scale + sqrt(s->o.atol);
      x[j] = xj + h;
      rc = ss_map(s, e, cmt, ii, ts, ii, x, col, 1, steps, err);
      x[j] = xj;
      if (rc) return rc;
      for (i = 0; i < n; i++) col[i] = (col[i] - f[i]) / h;
    }
    for (i = 0; i < n; i++) J[i * n + j] = (i == j) - col[i];
  }
  return RKIN_OK;
}

static int ss_converged(const rkin_solver *s, const double *x,
                        const double *dx)
{
  size_t i;
  for (i = 0; i < s->n; i++)
    if (!(fabs(dx[i]) <= 10 * (s->o.rtol * fabs(x[i]) + s->o.atol)))
      return 0;
  return 1;
}

/* The periodic steady state of record rec (dose e) into ss_x: the
 * amounts at its time t, the earlier doses given at t + lag - k ii. First
 * the amounts x just before a dose: Newton on x - Phi(x) = 0, Phi the map
 * over one interval; Phi is affine on the exact path (Jacobian e^(A ii),
 * one step from 0 is the solution); on CVODES its Jacobian is taken by
 * finite differences. Then from the last dose, at t + lag - ii, to t. */
int rkin_ss_periodic(rkin_solver *s, const rkin_dose *r, size_t rec,
                     const rkin_dose_eff *e, double t, long *steps,
                     rkin_err *err)
{
  size_t n = s->n, i;
  double *x = s->ss_x, *f = s->ss_f, *J = s->ss_J, ii = r->ii;
  double ts = t + e->lag - ii;    /* the last earlier dose */
  double growth = 0;              /* of the latest fresh Jacobian */
  int it, rc, cmt = r->cmt;
  memset(x, 0, n * sizeof *x);
  for (it = 1; it <= SS_MAX_IT; it++) {
    /* chord Newton: the Jacobian of the first iterate, renewed every
     * SS_RENEW iterations (each costs n + 1 intervals on CVODES) */
    int fresh = it % SS_RENEW == 1;
    if ((rc = ss_map(s, e, cmt, ii, ts, ii, x, f, 1, steps, err))) return rc;
    if (fresh && (rc = ss_jacobian(s, e, cmt, ii, ts, x, f, steps, err)))
      return rc;
    if (fresh) {
      /* J = I - dPhi/dx: the moduli of dPhi's eigenvalues */
      int nomem;
      growth = ss_growth(J, n, 1, 1, &nomem);
      if (nomem) return ss_refuse_growth(s, rec, 1, growth, 1, err);
    }
    for (i = 0; i < n; i++) s->ss_g[i] = f[i] - x[i];
    if ((rc = ss_lu(s, rec, fresh, err))) return rc;
    for (i = 0; i < n; i++) x[i] += s->ss_g[i];
    if (!s->use_cv || ss_converged(s, x, s->ss_g)) {
      if ((rc = ss_refuse_growth(s, rec, 1, growth, 0, err))) return rc;
      /* on to t (with the lag, part of an interval; without it a whole
       * one, which also lands CVODES on a trajectory of its own) */
      memcpy(s->ss_xp, x, n * sizeof *x);
      return ss_map(s, e, cmt, ii, ts, ii - e->lag, x, x, 1, steps, err);
    }
  }
  return rkin_err_set(err, RKIN_ESOLVER, "dose record %zu: the steady "
                      "state (ss = %d, ii = %g h) of model '%s' did not "
                      "converge in %d Newton iterations on the CVODES path "
                      "(tolerance 10 (rtol |x| + atol), rtol = %g)",
                      rec + 1, r->ss, r->ii, rkin_model_name(s->m),
                      SS_MAX_IT, s->o.rtol);
}

/* The constant-infusion steady state (ii = 0): f(t, x) + r = 0 by Newton
 * with the model's exact Jacobian; one step for a linear model. */
int rkin_ss_constant(rkin_solver *s, const rkin_dose *r, size_t rec,
                     const rkin_dose_eff *e, double t, rkin_err *err)
{
  size_t n = s->n, i, j;
  double *x = s->ss_x, *f = s->ss_f, *Jc = s->ss_Jc, growth;
  int it, rc;
  memset(x, 0, n * sizeof *x);
  for (it = 1; it <= SS_MAX_IT; it++) {
    rc = rkin_model_rhs(s->m, t, x, s->p, f, s->work);
    if (!rc) rc = rkin_model_jac(s->m, t, x, s->p, Jc, s->work) ? -1 : 0;
    if (rc)
      return rkin_err_set(err, RKIN_ENONFINITE, "dose record %zu: model "
                          "'%s' is not finite on the way to the constant-"
                          "infusion steady state", rec + 1,
                          rkin_model_name(s->m));
    for (i = 0; i < n; i++) {
      s->ss_g[i] = f[i] + (i == (size_t)r->cmt ? e->rate : 0);
      for (j = 0; j < n; j++) s->ss_J[i * n + j] = -Jc[i + j * n];
    }
    {
      /* ss_J = -(the model's Jacobian at this iterate), row-major */
      int nomem;
      growth = ss_growth(s->ss_J, n, 0, 0, &nomem);
      if (nomem) return ss_refuse_growth(s, rec, 0, growth, 1, err);
    }
    if ((rc = ss_lu(s, rec, 1, err))) return rc;
    for (i = 0; i < n; i++) x[i] += s->ss_g[i];
    if (rkin_model_is_linear(s->m) || ss_converged(s, x, s->ss_g))
      return ss_refuse_growth(s, rec, 0, growth, 0, err);
  }
  return rkin_err_set(err, RKIN_ESOLVER, "dose record %zu: the constant-"
                      "infusion steady state of model '%s' did not "
                      "converge in %d Newton iterations", rec + 1,
                      rkin_model_name(s->m), SS_MAX_IT);
}


/* One integration from ts to te of y and its sensitivities S (n x
 * n_dir) with rates r: on CVODES the run's sensitivity module carries S
 * instead of the run's own (rkin_cvpath_sens_scratch). */
static int ss_advance_sens(rkin_solver *s, double ts, double te, double *y,
                           double *S, const double *r, long *steps,
                           rkin_err *err)
{
  int rc;
  if (!s->use_cv)
    return rkin_expath_advance_sens(s->ex, ts, te, y, S, r, NULL, NULL, 0,
                                    no_emit, s, err);
  if (s->cap_ss_q) memset(s->ss_q, 0, s->cap_ss_q * sizeof *s->ss_q);
  rkin_cvpath_sens_scratch(s->cv, S);
  rc = rkin_cvpath_advance(s->cv, ts, te, y, r, NULL, 0, no_emit, s,
                           s->ss_q, steps, err);
  rkin_cvpath_sens_scratch(s->cv, NULL);
  return rc;
}

/* Sensitivities over len h from (y, S) after the dose (F: AMT dF at a
 * bolus; for an infusion the switch from m + 1 to m running infusions at
 * rem moves by AMT dF / R, adding AMT dF). */
static int ss_sens_map(rkin_solver *s, const rkin_dose *r,
                       const rkin_dose_eff *e, const double *dF, double ts,
                       double len, double *y, double *S, long *steps,
                       rkin_err *err)
{
  size_t nd = s->n_dir, c = (size_t)r->cmt, d;
  double rem, t1 = ts + len;
  int rc, m;
  memset(s->ss_r, 0, s->n * sizeof *s->ss_r);
  if (e->rate > 0) {
    m = rkin_dosing_ss_split(e->dur, r->ii, &rem);
    if (rem > 0) {
      double te = rem < len ? ts + rem : t1;
      s->ss_r[c] = (m + 1) * e->rate;
      rc = ss_advance_sens(s, ts, te, y, S, s->ss_r, steps, err);
      if (rc || te == t1) return rc;
      for (d = 0; dF && d < nd; d++) S[c * nd + d] += r->amount * dF[d];
    }
    s->ss_r[c] = m * e->rate;
    return ss_advance_sens(s, ts + rem, t1, y, S, s->ss_r, steps, err);
  }
  y[c] += e->amount;
  for (d = 0; dF && d < nd; d++) S[c * nd + d] += r->amount * dF[d];
  return ss_advance_sens(s, ts, t1, y, S, s->ss_r, steps, err);
}

/* Solves (I - E~) X = X in place for the n_dir columns of X (n x n_dir),
 * I - E~ the LU factors in ss_J. */
static void ss_lu_cols(rkin_solver *s, double *X)
{
  gsl_matrix_view M = gsl_matrix_view_array(s->ss_J, s->n, s->n);
  size_t d, nd = s->n_dir;
  for (d = 0; d < nd; d++) {
    gsl_vector_view col = gsl_vector_view_array_with_stride(X + d, nd,
                                                            s->n);
    gsl_linalg_LU_svx(&M.matrix, s->ss_perm, &col.vector);
  }
}

/* CVODES: the fixed point S = G(S) = E S + P of the sensitivities over
 * one interval from (x_p, S), E = dPhi/dx. G is evaluated by CVODES's own
 * sensitivities (E exact to its tolerances), but the matrix I - E~ the
 * states' chord Newton left factored in ss_J is a finite difference
 * taken at an earlier iterate: it serves as the preconditioner of S += (I
 * - E~)^-1 (G(S) - S), whose fixed point does not depend on it (implicit
 * function theorem on x = Phi(x, p): dx/dp = (I - E)^-1 dPhi/dp). A
 * correction that does not shrink 5-fold takes E~ afresh at x_p. Starts
 * from ss_S = (I - E~)^-1 P. */
static int ss_sens_fixed_point(rkin_solver *s, const rkin_dose *r,
                               size_t rec, const rkin_dose_eff *e,
                               const double *dF, double ts, long *steps,
                               rkin_err *err)
{
  size_t n = s->n, nd = s->n_dir, i;
  double *S = s->ss_S, *G = s->ss_T, *y = s->ss_f;
  double *xb = s->ss_T + n * nd, *fb = xb + n, prev = HUGE_VAL;
  int it, rc, renewed = 0;
  for (it = 1; it <= SS_MAX_IT; it++) {
    double worst = 0;
    memcpy(y, s->ss_xp, n * sizeof *y);
    memcpy(G, S, n * nd * sizeof *G);
    if ((rc = ss_sens_map(s, r, e, dF, ts, r->ii, y, G, steps, err)))
      return rc;
    for (i = 0; i < n * nd; i++) G[i] -= S[i];
    ss_lu_cols(s, G);
    for (i = 0; i < n * nd; i++) {
      S[i] += G[i];
      worst = fmax(worst, fabs(G[i]) / (10 * (s->o.rtol * fabs(S[i])
                                              + s->o.atol)));
    }
    if (!isfinite(worst)) break;
    if (worst <= 1) return RKIN_OK;
    if (!renewed && worst > 0.2 * prev) {
      /* the amounts before a dose, and Phi there (y: one interval on) */
      memcpy(xb, s->ss_xp, n * sizeof *xb);
      memcpy(fb, y, n * sizeof *fb);
      rkin_cvpath_sens_hold(s->cv, 1);
      rc = ss_jacobian(s, e, r->cmt, r->ii, ts, xb, fb, steps, err);
      rkin_cvpath_sens_hold(s->cv, 0);
      if (rc) return rc;
      memset(s->ss_g, 0, n * sizeof *s->ss_g);
      if ((rc = ss_lu(s, rec, 1, err))) return rc;
      renewed = 1;
    }
    prev = worst;
  }
  return rkin_err_set(err, RKIN_ESOLVER, "dose record %zu: the "
                      "sensitivities of the steady state (ss = %d, ii = %g "
                      "h) did not converge in %d iterations on the CVODES "
                      "path (tolerance 10 (rtol |S| + atol), rtol = %g)",
                      rec + 1, r->ss, r->ii, SS_MAX_IT, s->o.rtol);
}

/* Sensitivities of the periodic steady state: with x_p = Phi(x_p) the
 * amounts before a dose, S_p = E S_p + P, P the sensitivities one
 * interval after the dose from (x_p, S = 0), E = dPhi/dx; on the exact
 * path solved with the factors of I - E rkin_ss_periodic left in ss_J
 * (Phi is affine), on CVODES iterated to CVODES' own fixed point
 * (ss_sens_fixed_point). Then on over ii - lag to the record's time, and
 * the lag moves that point in the cycle: S -= dALAG (f(y) + r) there.
 * Into ss_S (n x n_dir). */
int rkin_ss_sens(rkin_solver *s, const rkin_dose *r, size_t rec,
                 const rkin_dose_eff *e, double t, long *steps,
                 rkin_err *err)
{
  size_t n = s->n, nd = s->n_dir, c = (size_t)r->cmt, i, j, d;
  double *y = s->ss_f, *S = s->ss_S, ts = t + e->lag - r->ii, rem;
  const double *dm = s->sens_mods ? rkin_rec_dmods(s, rec) : NULL;
  const double *dF = dm ? dm + (RKIN_MOD_F * n + c) * nd : NULL;
  const double *dL = dm ? dm + (RKIN_MOD_LAG * n + c) * nd : NULL;
  int rc;
  if (r->rate < 0)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: sensitivities "
                        "of a steady state with a modelled rate or "
                        "duration are not implemented (use finite "
                        "differences)", rec + 1);
  memcpy(y, s->ss_xp, n * sizeof *y);
  memset(S, 0, n * nd * sizeof *S);
  if ((rc = ss_sens_map(s, r, e, dF, ts, r->ii, y, S, steps, err)))
    return rc;
  ss_lu_cols(s, S);
  if (s->use_cv
      && (rc = ss_sens_fixed_point(s, r, rec, e, dF, ts, steps, err)))
    return rc;
  memcpy(y, s->ss_xp, n * sizeof *y);
  if ((rc = ss_sens_map(s, r, e, dF, ts, r->ii - e->lag, y, S, steps,
                        err)))
    return rc;
  if (dL) {
    /* the input in force at the end of the window */
    double rin = 0, *f = s->ss_g;
    if (e->rate > 0) {
      int m = rkin_dosing_ss_split(e->dur, r->ii, &rem);
      rin = (rem > r->ii - e->lag ? m + 1 : m) * e->rate;
    }
    if (s->use_cv) {
      if (rkin_model_rhs(s->m, t, y, s->p, f, s->work))
        return rkin_err_set(err, RKIN_ENONFINITE, "dose record %zu: the "
                            "model is not finite at the steady state",
                            rec + 1);
    } else {
      for (i = 0; i < n; i++) {
        f[i] = 0;
        for (j = 0; j < n; j++) f[i] += s->Asens[i * n + j] * y[j];
      }
    }
    f[c] += rin;
    for (i = 0; i < n; i++)
      for (d = 0; d < nd; d++) S[i * nd + d] -= dL[d] * f[i];
  }
  for (i = 0; i < n * nd; i++)
    if (!isfinite(S[i]))
      return rkin_err_set(err, RKIN_ENONFINITE, "dose record %zu: the "
                          "steady-state sensitivities are not finite",
                          rec + 1);
  return RKIN_OK;
}
