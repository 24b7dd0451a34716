/* uncert_meas.c - the measurement model of one time point: recovery curve
 * fitted to a sphere-phantom table, volume uncertainty from a one-voxel
 * boundary change, activity from counts with its uncertainty by source
 * (Gear et al., EJNMMI 2018;45:2456, sections on activity quantification,
 * recovery coefficients and volumes). */
#include <math.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>

#include "uncert/uncert.h"

static const char *const src_names[RKIN_UNC_NSRC] = {
  "counts", "calibration", "recovery", "volume", "density", "s_value",
  "alpha_beta", "t_rep", "half_life", "blood", "rmblr", "marrow_mass",
  "whole_body", "activity", "lung_shunt",
};

const char *rkin_unc_source_name(int s)
{
  return s >= 0 && s < RKIN_UNC_NSRC ? src_names[s] : NULL;
}

double rkin_unc_rc_eval(const rkin_unc_rc *c, double v, double grad[3],
                        double *drc_dv)
{
  double m = c->p[0], v50 = c->p[1], k = c->p[2];
  double x = pow(v50 / v, k);          /* (v50/v)^k */
  double den = 1.0 + x, rc = m / den;
  if (grad) {
    grad[0] = 1.0 / den;
    grad[1] = -m / (den * den) * k * x / v50;
    grad[2] = -m / (den * den) * x * log(v50 / v);
  }
  if (drc_dv) *drc_dv = m / (den * den) * k * x / v;
  return rc;
}

/* The fit runs in q = ln p so every parameter stays positive. */
typedef struct {
  size_t n;
  const double *v, *rc;
} rc_data;

static int rc_f(const gsl_vector *q, void *ctx, gsl_vector *f)
{
  const rc_data *d = ctx;
  rkin_unc_rc c;
  size_t i;
  for (i = 0; i < 3; i++) c.p[i] = exp(gsl_vector_get(q, i));
  for (i = 0; i < d->n; i++)
    gsl_vector_set(f, i, rkin_unc_rc_eval(&c, d->v[i], NULL, NULL) - d->rc[i]);
  return GSL_SUCCESS;
}

static int rc_df(const gsl_vector *q, void *ctx, gsl_matrix *J)
{
  const rc_data *d = ctx;
  rkin_unc_rc c;
  size_t i, j;
  for (i = 0; i < 3; i++) c.p[i] = exp(gsl_vector_get(q, i));
  for (i = 0; i < d->n; i++) {
    double g[3];
    rkin_unc_rc_eval(&c, d->v[i], g, NULL);
    for (j = 0; j < 3; j++) gsl_matrix_set(J, i, j, g[j] * c.p[j]);
  }
  return GSL_SUCCESS;
}

int rkin_unc_rc_fit(size_t n, const double *v, const double *rc,
                    const double *sd, rkin_unc_rc *out, rkin_err *err)
{
  rc_data d = {n, v, rc};
  gsl_multifit_nlinear_fdf fdf;
  gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
  gsl_multifit_nlinear_workspace *w = NULL;
  gsl_vector *q0 = NULL, *wt = NULL;
  gsl_matrix *cov = NULL;
  double rcmax = 0.0, v50, chi2;
  size_t i, j;
  int info = 0, st, rcode = 0;
  if (!out || !v || !rc)
    return rkin_err_set(err, RKIN_EINVAL, "recovery curve: no table");
  if (n < (sd ? 3u : 4u) || n > RKIN_UNC_RC_MAX)
    return rkin_err_set(err, RKIN_EINVAL,
                        "recovery curve: %zu rows, expected %d..%d (3 "
                        "parameters%s)", n, sd ? 3 : 4, RKIN_UNC_RC_MAX,
                        sd ? "" : " and the residual scale");
  for (i = 0; i < n; i++) {
    if (!isfinite(v[i]) || v[i] <= 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "recovery curve row %zu: volume "
                          "%g mL, expected > 0", i + 1, v[i]);
    if (!isfinite(rc[i]) || rc[i] <= 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "recovery curve row %zu: "
                          "recovery %g, expected > 0", i + 1, rc[i]);
    if (sd && (!isfinite(sd[i]) || sd[i] <= 0.0))
      return rkin_err_set(err, RKIN_EINVAL, "recovery curve row %zu: sd %g, "
                          "expected > 0", i + 1, sd[i]);
    for (j = 0; j < i; j++)
      if (v[j] == v[i])
        return rkin_err_set(err, RKIN_EINVAL, "recovery curve rows %zu and "
                            "%zu: the same volume %g mL", j + 1, i + 1, v[i]);
    if (rc[i] > rcmax) rcmax = rc[i];
  }
  /* start: the plateau a little above the largest value, v50 where the
   * table first passes half of it */
  v50 = v[0];
  for (i = 0; i < n; i++)
    if (rc[i] >= 0.5 * rcmax && (v50 == v[0] || v[i] < v50)) v50 = v[i];
  q0 = gsl_vector_alloc(3);
  wt = gsl_vector_alloc(n);
  cov = gsl_matrix_alloc(3, 3);
  w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &par, n, 3);
  if (!q0 || !wt || !cov || !w) {
    rcode = rkin_err_set(err, RKIN_ENOMEM, "recovery curve: out of memory");
    goto done;
  }
  gsl_vector_set(q0, 0, log(1.05 * rcmax));
  gsl_vector_set(q0, 1, log(v50));
  gsl_vector_set(q0, 2, 0.0);
  for (i = 0; i < n; i++) gsl_vector_set(wt, i, sd ? 1.0 / (sd[i] * sd[i]) : 1.0);
  fdf.f = rc_f;
  fdf.df = rc_df;
  fdf.fvv = NULL;
  fdf.n = n;
  fdf.p = 3;
  fdf.params = &d;
  gsl_multifit_nlinear_winit(q0, wt, &fdf, w);
  st = gsl_multifit_nlinear_driver(500, 1e-12, 1e-12, 1e-12, NULL, NULL,
                                   &info, w);
  if (st != GSL_SUCCESS) {
    rcode = rkin_err_set(err, RKIN_EOPTIM, "recovery curve: the fit of "
                         "rc_max / (1 + (v50/v)^k) did not converge (%s)",
                         gsl_strerror(st));
    goto done;
  }
  gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, cov);
  {
    gsl_vector *f = gsl_multifit_nlinear_residual(w);   /* weighted */
    gsl_blas_ddot(f, f, &chi2);
  }
  out->chi2 = chi2;
  out->dof = (int)n - 3;
  for (i = 0; i < 3; i++)
    out->p[i] = exp(gsl_vector_get(gsl_multifit_nlinear_position(w), i));
  /* covariance of p = diag(p) cov_q diag(p); scale chi2/dof without sd */
  for (i = 0; i < 3; i++)
    for (j = 0; j < 3; j++) {
      double s = sd ? 1.0 : chi2 / out->dof;
      out->cov[i * 3 + j] = gsl_matrix_get(cov, i, j) * out->p[i] * out->p[j] * s;
    }
  for (i = 0; i < 9; i++)
    if (!isfinite(out->cov[i])) {
      rcode = rkin_err_set(err, RKIN_ENONFINITE, "recovery curve: the "
                           "parameters are not determined by the table "
                           "(singular covariance)");
      goto done;
    }
done:
  if (w) gsl_multifit_nlinear_free(w);
  gsl_vector_free(q0);
  gsl_vector_free(wt);
  gsl_matrix_free(cov);
  return rcode;
}

int rkin_unc_volume_voxel(double v_ml, double voxel_mm, double *u_ml,
                          rkin_err *err)
{
  double r, d;
  if (!isfinite(v_ml) || v_ml <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "volume %g mL, expected > 0", v_ml);
  if (!isfinite(voxel_mm) || voxel_mm <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "voxel size %g mm, expected > 0",
                        voxel_mm);
  r = cbrt(3.0 * v_ml * 1000.0 / (4.0 * M_PI));   /* mm */
  d = voxel_mm;
  if (d >= r)
    return rkin_err_set(err, RKIN_ERANGE, "voxel %g mm not smaller than "
                        "the radius %g mm of a %g mL volume", d, r, v_ml);
  /* (V(r+d) - V(r-d)) / 2 in mm^3, to mL */
  *u_ml = (4.0 * M_PI * r * r * d + 4.0 / 3.0 * M_PI * d * d * d) / 1000.0;
  return 0;
}

/* Relative SD of RC from the curve's covariance (g^T C g) and from the
 * volume (dRC/dv u_v), both relative to RC. */
static void rc_unc(const rkin_unc_rc *c, double v, double u_v, double *rc,
                   double *u_curve, double *u_vol)
{
  double g[3], dv, s = 0.0;
  size_t i, j;
  *rc = rkin_unc_rc_eval(c, v, g, &dv);
  for (i = 0; i < 3; i++)
    for (j = 0; j < 3; j++) s += g[i] * c->cov[i * 3 + j] * g[j];
  *u_curve = sqrt(s > 0.0 ? s : 0.0) / *rc;
  *u_vol = fabs(dv) * u_v / *rc;
}

int rkin_unc_activity_of(const rkin_unc_point *pt, const rkin_unc_meas *m,
                         rkin_unc_activity *o, rkin_err *err)
{
  double rc = 1.0, uc = 0.0, uv = 0.0, s = 0.0;
  int k;
  if (!(pt->t_h >= 0.0) || !isfinite(pt->t_h))
    return rkin_err_set(err, RKIN_EINVAL, "time %g h, expected >= 0", pt->t_h);
  if (!(pt->counts > 0.0) || !isfinite(pt->counts))
    return rkin_err_set(err, RKIN_EINVAL, "counts %g at %g h, expected > 0",
                        pt->counts, pt->t_h);
  if (!(pt->t_acq_s > 0.0) || !isfinite(pt->t_acq_s))
    return rkin_err_set(err, RKIN_EINVAL, "acquisition time %g s at %g h, "
                        "expected > 0", pt->t_acq_s, pt->t_h);
  if (!(pt->u_extra_rel >= 0.0) || !isfinite(pt->u_extra_rel))
    return rkin_err_set(err, RKIN_EINVAL, "extra relative SD %g at %g h, "
                        "expected >= 0", pt->u_extra_rel, pt->t_h);
  if (!(m->cal > 0.0) || !isfinite(m->cal) || !(m->u_cal >= 0.0) ||
      !isfinite(m->u_cal))
    return rkin_err_set(err, RKIN_EINVAL, "calibration factor %g +- %g "
                        "cps/MBq, expected > 0 and SD >= 0", m->cal, m->u_cal);
  if (!(m->v_ml > 0.0) || !isfinite(m->v_ml) || !(m->u_v_ml >= 0.0) ||
      !isfinite(m->u_v_ml))
    return rkin_err_set(err, RKIN_EINVAL, "volume %g +- %g mL, expected > 0 "
                        "and SD >= 0", m->v_ml, m->u_v_ml);
  if (m->rc) rc_unc(m->rc, m->v_ml, m->u_v_ml, &rc, &uc, &uv);
  if (!(rc > 0.0) || !isfinite(rc))
    return rkin_err_set(err, RKIN_ERANGE, "recovery coefficient %g at %g mL, "
                        "expected > 0", rc, m->v_ml);
  memset(o, 0, sizeof *o);
  o->rc = rc;
  {
    double total = m->per_ml ? pt->counts * m->v_ml : pt->counts;
    o->a_mbq = total / pt->t_acq_s / (m->cal * rc);
    /* relative variances add for a product/quotient of independent
     * factors; counts per mL x v: the volume enters as v / RC(v) */
    o->u_rel[RKIN_UNC_COUNTS] = sqrt(1.0 / total +
                                     pt->u_extra_rel * pt->u_extra_rel);
    /* d ln A / dv = 1/v - RC'/RC; RC' >= 0 for the fitted sigmoid */
    if (m->per_ml) uv = fabs(m->u_v_ml / m->v_ml - uv);
  }
  o->u_rel[RKIN_UNC_CALIB] = m->u_cal / m->cal;
  o->u_rel[RKIN_UNC_RECOVERY] = uc;
  o->u_rel[RKIN_UNC_VOLUME] = uv;
  for (k = 0; k < RKIN_UNC_NSRC; k++) s += o->u_rel[k] * o->u_rel[k];
  o->u_rel_total = sqrt(s);
  return 0;
}
