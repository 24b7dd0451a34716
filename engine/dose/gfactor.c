/* gfactor.c - Lea-Catcheside G factor: closed forms, the double sum,
 * nested quadrature and auxiliary states.
 *
 * Derivation of the double sum (used by rkin_gfactor_sum). With
 * R(t) = sum_j c_j exp(-b_j t), the inner integral is, for mu != b_j,
 *   q(t) = int_0^t R(w) exp(-mu (t - w)) dw
 *        = sum_j c_j exp(-mu t) int_0^t exp((mu - b_j) w) dw
 *        = sum_j c_j (exp(-b_j t) - exp(-mu t)) / (mu - b_j).
 * The outer integral of each pair (i, j) is then
 *   int_0^inf c_i exp(-b_i t) c_j (exp(-b_j t) - exp(-mu t)) / (mu - b_j) dt
 *   = c_i c_j / (mu - b_j) x (1 / (b_i + b_j) - 1 / (b_i + mu))
 *   = c_i c_j / (mu - b_j) x (mu - b_j) / ((b_i + b_j)(b_i + mu))
 *   = c_i c_j / ((b_i + b_j)(b_i + mu)).
 * The factor (mu - b_j) cancels, so the result is also the limit for
 * mu = b_j (where q has a t exp(-mu t) term): no special case is needed.
 * Hence I = sum_i sum_j c_i c_j / ((b_i + b_j)(b_i + mu)), a finite double
 * sum, D = sum_j c_j / b_j and G = 2 I / D^2. For one term, G = 2 c^2 /
 * (2 b (b + mu)) x b^2 / c^2 = b / (b + mu), the mono-exponential form.
 * For c = (R0, -R0), b = (lc, lu) the sum simplifies to the uptake form
 * lc lu (lc + lu + mu) / ((lc + lu)(lc + mu)(lu + mu)). */
#include "dose/gfactor.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_interp.h>
#include <gsl/gsl_odeiv2.h>

static int check_trep(double trep_h, rkin_err *err)
{
  if (!isfinite(trep_h) || trep_h <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "G factor: repair half-time trep_h = %g h, expected "
                        "> 0", trep_h);
  return RKIN_OK;
}

static int check_rate(double l, const char *name, rkin_err *err)
{
  if (!isfinite(l) || l <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "G factor: %s = %g /h does not decay (infinite TIA "
                        "and dose); expected > 0", name, l);
  return RKIN_OK;
}

int rkin_gfactor_mono(double lambda_per_h, double trep_h, double *g,
                      rkin_err *err)
{
  int rc;
  double mu;
  if ((rc = check_trep(trep_h, err))) return rc;
  if ((rc = check_rate(lambda_per_h, "lambda_per_h", err))) return rc;
  mu = M_LN2 / trep_h;
  *g = lambda_per_h / (lambda_per_h + mu);
  return RKIN_OK;
}

int rkin_gfactor_uptake(double lambda_c_per_h, double lambda_u_per_h,
                        double trep_h, double *g, rkin_err *err)
{
  double a = lambda_c_per_h, u = lambda_u_per_h, mu;
  int rc;
  if ((rc = check_trep(trep_h, err))) return rc;
  if ((rc = check_rate(a, "clearance lambda_c_per_h", err))) return rc;
  if ((rc = check_rate(u, "uptake lambda_u_per_h", err))) return rc;
  mu = M_LN2 / trep_h;
  *g = a * u * (a + u + mu) / ((a + u) * (a + mu) * (u + mu));
  return RKIN_OK;
}

int rkin_gfactor_sum(const rkin_doserate *r, double trep_h, double *g,
                     rkin_err *err)
{
  double mu, d, s = 0.0;
  size_t i, j;
  int rc;
  if ((rc = check_trep(trep_h, err))) return rc;
  if ((rc = rkin_doserate_check(r, "G factor", err))) return rc;
  mu = M_LN2 / trep_h;
  for (i = 0; i < r->n; i++) {
    double row = 0.0;
    for (j = 0; j < r->n; j++) row += r->c[j] / (r->b[i] + r->b[j]);
    s += r->c[i] * row / (r->b[i] + mu);
  }
  d = rkin_doserate_total(r);
  *g = 2.0 * s / (d * d);
  return RKIN_OK;
}

int rkin_gfactor_from_aux(double dose_gy, double i_gy2, double *g,
                          rkin_err *err)
{
  if (!isfinite(dose_gy) || dose_gy <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "G factor: auxiliary dose D = %g Gy, expected > 0",
                        dose_gy);
  if (!isfinite(i_gy2) || i_gy2 < 0.0 ||
      i_gy2 > 0.5 * dose_gy * dose_gy * (1.0 + 1e-9))
    return rkin_err_set(err, RKIN_EINVAL,
                        "G factor: auxiliary integral I = %g Gy^2 outside "
                        "[0, D^2/2 = %g] (dose rate negative or states "
                        "not integrated together?)", i_gy2,
                        0.5 * dose_gy * dose_gy);
  *g = 2.0 * i_gy2 / (dose_gy * dose_gy);
  if (*g > 1.0) *g = 1.0;
  return RKIN_OK;
}

/* ------------------------------------------------ nested quadrature */

typedef struct {
  rkin_rate_fn rate;
  void *ctx;
  double mu, t;          /* t: the current outer time */
  int failed;            /* callback failure or non-finite rate */
  double bad_t, bad_r;
  int inner_status;      /* first failing inner quadrature's GSL status */
  double inner_t;        /* and its outer time */
  gsl_integration_workspace *inner;
} quad_ctx;

static double rate_at(quad_ctx *q, double t)
{
  double r = 0.0;
  if (q->failed) return 0.0;
  if (q->rate(t, &r, q->ctx) || !isfinite(r)) {
    q->failed = 1;
    q->bad_t = t;
    q->bad_r = r;
    return 0.0;
  }
  return r;
}

static double inner_fn(double w, void *p)
{
  quad_ctx *q = p;
  return rate_at(q, w) * exp(-q->mu * (q->t - w));
}

static double outer_fn(double t, void *p)
{
  quad_ctx *q = p;
  gsl_function f = {inner_fn, q};
  double r = rate_at(q, t), val = 0.0, abserr;
  int st;
  if (r == 0.0 || t == 0.0) return 0.0;
  q->t = t;
  st = gsl_integration_qag(&f, 0.0, t, 0.0, 1e-11, 1000, GSL_INTEG_GAUSS41,
                           q->inner, &val, &abserr);
  if (st && !q->inner_status) {
    q->inner_status = st;
    q->inner_t = t;
  }
  return r * val;
}

static double dose_fn(double t, void *p) { return rate_at(p, t); }

int rkin_gfactor_quad(rkin_rate_fn rate, void *ctx, double trep_h,
                      double *g, double *dose_gy, rkin_err *err)
{
  quad_ctx q = {0};
  gsl_integration_workspace *outer = NULL;
  gsl_function fo = {outer_fn, &q}, fd = {dose_fn, &q};
  double d = 0.0, i = 0.0, abserr;
  int rc, st1, st2;
  if (!rate) return rkin_err_set(err, RKIN_EINVAL, "G factor: no rate");
  if ((rc = check_trep(trep_h, err))) return rc;
  q.rate = rate;
  q.ctx = ctx;
  q.mu = M_LN2 / trep_h;
  q.inner = gsl_integration_workspace_alloc(1000);
  outer = gsl_integration_workspace_alloc(1000);
  if (!q.inner || !outer) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "G factor: out of memory");
    goto done;
  }
  st1 = gsl_integration_qagiu(&fd, 0.0, 0.0, 1e-11, 1000, outer, &d,
                              &abserr);
  st2 = gsl_integration_qagiu(&fo, 0.0, 0.0, 1e-10, 1000, outer, &i,
                              &abserr);
  if (q.failed) {
    rc = rkin_err_set(err, RKIN_EINVAL,
                      "G factor: dose rate failed or not finite at t = %g "
                      "h (R = %g Gy/h)", q.bad_t, q.bad_r);
    goto done;
  }
  if ((st1 && st1 != GSL_EROUND) || (st2 && st2 != GSL_EROUND)) {
    rc = rkin_err_set(err, RKIN_ENONFINITE,
                      "G factor: quadrature failed (%s); does the dose "
                      "rate decay to 0 (finite TIA)?",
                      gsl_strerror(st1 ? st1 : st2));
    goto done;
  }
  /* The inner integral runs over [0, t] of a smooth integrand; round-off
   * (GSL_EROUND) at the requested 1e-11 is tolerable, anything else is
   * not. */
  if (q.inner_status && q.inner_status != GSL_EROUND) {
    rc = rkin_err_set(err, RKIN_ENONFINITE,
                      "G factor: inner quadrature failed at t = %g h (%s)",
                      q.inner_t, gsl_strerror(q.inner_status));
    goto done;
  }
  if (dose_gy) *dose_gy = d;
  rc = rkin_gfactor_from_aux(d, i, g, err);
done:
  gsl_integration_workspace_free(q.inner);
  gsl_integration_workspace_free(outer);
  return rc;
}

/* ------------------------------------------------ auxiliary states */

typedef struct {
  rkin_rate_fn rate;
  void *ctx;
  double mu;
  int failed;
  double bad_t, bad_r;
} aux_ctx;

/* y = (D, q, I). */
static int aux_rhs(double t, const double y[], double dy[], void *p)
{
  aux_ctx *a = p;
  double r = 0.0;
  if (a->rate(t, &r, a->ctx) || !isfinite(r)) {
    a->failed = 1;
    a->bad_t = t;
    a->bad_r = r;
    return GSL_EBADFUNC;
  }
  dy[0] = r;
  dy[1] = r - a->mu * y[1];
  dy[2] = r * y[1];
  return GSL_SUCCESS;
}

int rkin_gfactor_aux(rkin_rate_fn rate, void *ctx, double trep_h,
                     double t_end_h, double tail_rate_per_h, double *g,
                     double *dose_gy, rkin_err *err)
{
  aux_ctx a = {0};
  gsl_odeiv2_system sys = {aux_rhs, NULL, 3, &a};
  gsl_odeiv2_driver *drv;
  double y[3] = {0.0, 0.0, 0.0}, t = 0.0, rt = 0.0;
  int rc, st;
  if (!rate) return rkin_err_set(err, RKIN_EINVAL, "G factor: no rate");
  if ((rc = check_trep(trep_h, err))) return rc;
  if (!isfinite(t_end_h) || t_end_h <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "G factor: t_end_h = %g h, expected > 0", t_end_h);
  if (!isfinite(tail_rate_per_h) || tail_rate_per_h < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "G factor: tail rate %g /h, expected >= 0 (0: no "
                        "tail)", tail_rate_per_h);
  a.rate = rate;
  a.ctx = ctx;
  a.mu = M_LN2 / trep_h;
  drv = gsl_odeiv2_driver_alloc_y_new(&sys, gsl_odeiv2_step_rk8pd,
                                      1e-3, 1e-15, 1e-12);
  if (!drv) return rkin_err_set(err, RKIN_ENOMEM, "G factor: out of memory");
  gsl_odeiv2_driver_set_nmax(drv, 1000000);
  st = gsl_odeiv2_driver_apply(drv, &t, t_end_h, y);
  gsl_odeiv2_driver_free(drv);
  if (a.failed)
    return rkin_err_set(err, RKIN_EINVAL,
                        "G factor: dose rate failed or not finite at t = %g "
                        "h (R = %g Gy/h)", a.bad_t, a.bad_r);
  if (st != GSL_SUCCESS)
    return rkin_err_set(err, RKIN_ESOLVER,
                        "G factor: auxiliary-state integration stopped at "
                        "t = %g h (%s)", t, gsl_strerror(st));
  if (tail_rate_per_h > 0.0) {
    double b = tail_rate_per_h;
    if (rate(t_end_h, &rt, ctx) || !isfinite(rt))
      return rkin_err_set(err, RKIN_EINVAL,
                          "G factor: dose rate failed at t_end = %g h",
                          t_end_h);
    y[0] += rt / b;
    y[2] += rt * y[1] / (b + a.mu) + rt * rt / (2.0 * b * (b + a.mu));
  }
  if (dose_gy) *dose_gy = y[0];
  return rkin_gfactor_from_aux(y[0], y[2], g, err);
}

typedef struct {
  const gsl_interp *interp;
  gsl_interp_accel *acc;
  const double *t, *r;
} sampled_ctx;

static int sampled_rate(double t, double *r, void *p)
{
  sampled_ctx *s = p;
  /* The integrator may probe a hair past the last sample. */
  double tt = t > s->t[s->interp->size - 1] ? s->t[s->interp->size - 1] : t;
  *r = gsl_interp_eval(s->interp, s->t, s->r, tt, s->acc);
  return 0;
}

int rkin_gfactor_aux_sampled(size_t n, const double *t_h,
                             const double *rate_gy_h, double trep_h,
                             double tail_rate_per_h, double *g,
                             double *dose_gy, rkin_err *err)
{
  sampled_ctx s = {0};
  gsl_interp *ip;
  size_t k;
  int rc;
  if (!t_h || !rate_gy_h || n < 2)
    return rkin_err_set(err, RKIN_EINVAL,
                        "G factor: %zu dose-rate samples, expected >= 2",
                        t_h && rate_gy_h ? n : 0);
  if (t_h[0] != 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "G factor: first sample at t = %g h, expected 0",
                        t_h[0]);
  for (k = 0; k < n; k++) {
    if (k && !(t_h[k] > t_h[k - 1]))
      return rkin_err_set(err, RKIN_EINVAL,
                          "G factor: sample %zu time %g h not after %g h",
                          k + 1, t_h[k], t_h[k - 1]);
    if (!isfinite(rate_gy_h[k]) || rate_gy_h[k] < 0.0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "G factor: sample %zu dose rate %g Gy/h, "
                          "expected finite and >= 0", k + 1, rate_gy_h[k]);
  }
  ip = gsl_interp_alloc(n >= 3 ? gsl_interp_steffen : gsl_interp_linear, n);
  s.acc = gsl_interp_accel_alloc();
  if (!ip || !s.acc) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "G factor: out of memory");
    goto done;
  }
  gsl_interp_init(ip, t_h, rate_gy_h, n);
  s.interp = ip;
  s.t = t_h;
  s.r = rate_gy_h;
  rc = rkin_gfactor_aux(sampled_rate, &s, trep_h, t_h[n - 1],
                        tail_rate_per_h, g, dose_gy, err);
done:
  gsl_interp_accel_free(s.acc);
  if (ip) gsl_interp_free(ip);
  return rc;
}
