/* tcp.c - Poisson TCP with alpha spread, LKB NTCP. */
#include "dose/tcp.h"

#include <math.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_randist.h>

const rkin_lkb rkin_lkb_kidney_burman1991 = {
  28.0, 0.10, 0.70,
  "Burman 1991 IJROBP 21:123 kidney, clinical nephritis: TD50 28 Gy, "
  "m 0.10, n 0.70 (C; primary U)"};

static int check_tcp(const rkin_tcp *p, rkin_err *err)
{
  if (!p) return rkin_err_set(err, RKIN_EINVAL, "TCP: no parameters");
  if (!isfinite(p->alpha_mean) || p->alpha_mean <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TCP: alpha_mean = %g /Gy, expected > 0",
                        p->alpha_mean);
  if (!isfinite(p->alpha_sd) || p->alpha_sd < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TCP: alpha_sd = %g /Gy, expected >= 0", p->alpha_sd);
  if (!isfinite(p->ab_gy) || p->ab_gy <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TCP: alpha/beta = %g Gy, expected > 0", p->ab_gy);
  if (!isfinite(p->clonogens_per_l) || p->clonogens_per_l <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TCP: clonogens_per_l = %g, expected > 0",
                        p->clonogens_per_l);
  if (!isfinite(p->volume_l) || p->volume_l <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TCP: volume_l = %g L, expected > 0", p->volume_l);
  return RKIN_OK;
}

typedef struct {
  double ln_n0, bed, mean, sd;
} tcp_ctx;

/* exp(-N0 e^(-alpha BED)) with N0 e^(-alpha BED) = e^(ln N0 - alpha BED):
 * N0 = density x volume can overflow (1e300/L x 1e10 L) where its log
 * cannot, and inf x e^(-800) = inf x 0 would be NaN. */
static double tcp_alpha(double alpha, double ln_n0, double bed)
{
  return exp(-exp(ln_n0 - alpha * bed));
}

static double tcp_integrand(double alpha, void *p)
{
  const tcp_ctx *c = p;
  return gsl_ran_gaussian_pdf(alpha - c->mean, c->sd) *
         tcp_alpha(alpha, c->ln_n0, c->bed);
}

int rkin_tcp_poisson(double dose_gy, double g, const rkin_tcp *p,
                     double *tcp, rkin_err *err)
{
  tcp_ctx c;
  gsl_integration_workspace *w;
  gsl_function f = {tcp_integrand, &c};
  double lo, hi, val, abserr, norm;
  int rc, st;
  if ((rc = check_tcp(p, err))) return rc;
  if (!isfinite(dose_gy) || dose_gy < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TCP: dose %g Gy, expected finite and >= 0", dose_gy);
  if (!isfinite(g) || g < 0.0 || g > 1.0)
    return rkin_err_set(err, RKIN_EINVAL, "TCP: G = %g, expected 0..1", g);
  c.ln_n0 = log(p->clonogens_per_l) + log(p->volume_l);
  c.bed = dose_gy * (1.0 + g * dose_gy / p->ab_gy);
  c.mean = p->alpha_mean;
  c.sd = p->alpha_sd;
  if (c.sd == 0.0) {
    *tcp = tcp_alpha(c.mean, c.ln_n0, c.bed);
    return RKIN_OK;
  }
  /* Ten standard deviations hold the normal to far below 1e-12. */
  lo = fmax(0.0, c.mean - 10.0 * c.sd);
  hi = c.mean + 10.0 * c.sd;
  if (!(w = gsl_integration_workspace_alloc(500)))
    return rkin_err_set(err, RKIN_ENOMEM, "TCP: out of memory");
  st = gsl_integration_qag(&f, lo, hi, 1e-13, 1e-10, 500, GSL_INTEG_GAUSS61,
                           w, &val, &abserr);
  gsl_integration_workspace_free(w);
  if (st && st != GSL_EROUND)
    return rkin_err_set(err, RKIN_ENONFINITE,
                        "TCP: quadrature over alpha failed (%s)",
                        gsl_strerror(st));
  norm = gsl_cdf_gaussian_Q(-c.mean, c.sd);   /* P(alpha > 0) */
  *tcp = fmin(1.0, fmax(0.0, val / norm));
  return RKIN_OK;
}

static int check_lkb(const rkin_lkb *p, rkin_err *err)
{
  if (!p) return rkin_err_set(err, RKIN_EINVAL, "NTCP: no parameters");
  if (!isfinite(p->td50_gy) || p->td50_gy <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "NTCP (LKB): TD50 = %g Gy, expected > 0", p->td50_gy);
  if (!isfinite(p->m) || p->m <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "NTCP (LKB): m = %g, expected > 0", p->m);
  if (!isfinite(p->n) || p->n <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "NTCP (LKB): n = %g, expected > 0", p->n);
  return RKIN_OK;
}

int rkin_ntcp_lkb(double eqd2_gy, const rkin_lkb *p, double *ntcp,
                  rkin_err *err)
{
  int rc;
  if ((rc = check_lkb(p, err))) return rc;
  if (!isfinite(eqd2_gy) || eqd2_gy < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "NTCP (LKB): EQD2 %g Gy, expected finite and >= 0",
                        eqd2_gy);
  *ntcp = gsl_cdf_ugaussian_P((eqd2_gy - p->td50_gy) / (p->m * p->td50_gy));
  return RKIN_OK;
}

int rkin_ntcp_lkb_dvh(size_t n_bins, const double *eqd2_gy,
                      const double *vol_frac, const rkin_lkb *p,
                      double *ntcp, rkin_err *err)
{
  double s = 0.0, vsum = 0.0;
  size_t i;
  int rc;
  if ((rc = check_lkb(p, err))) return rc;
  if (!n_bins || !eqd2_gy || !vol_frac)
    return rkin_err_set(err, RKIN_EINVAL, "NTCP (LKB): empty DVH");
  for (i = 0; i < n_bins; i++) {
    if (!isfinite(eqd2_gy[i]) || eqd2_gy[i] < 0.0 ||
        !isfinite(vol_frac[i]) || vol_frac[i] < 0.0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "NTCP (LKB): DVH bin %zu (dose %g Gy, volume "
                          "fraction %g), expected both finite and >= 0",
                          i + 1, eqd2_gy[i], vol_frac[i]);
    s += vol_frac[i] * pow(eqd2_gy[i], 1.0 / p->n);
    vsum += vol_frac[i];
  }
  if (fabs(vsum - 1.0) > 1e-6)
    return rkin_err_set(err, RKIN_EINVAL,
                        "NTCP (LKB): DVH volume fractions sum to %g, "
                        "expected 1", vsum);
  return rkin_ntcp_lkb(pow(s, p->n), p, ntcp, err);
}
