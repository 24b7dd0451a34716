/* imaging.c - simulated imaging with proportional error, and the TIA, dose,
 * G and BED estimated from it (see imaging.h). */
#include "tac/imaging.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "dose/doserate.h"
#include "dose/gfactor.h"
#include "tac/tac.h"

/* Activities below this fraction of the region's highest measured value
 * are below detection. */
#define DETECT_REL 1e-9
/* Known cv the fit assumes for error-free imaging (see estimate_fit). */
#define IMAGING_CV_EXACT 0.01

struct rkin_imaging_ws {
  gsl_rng *rng;
  gsl_rng *shared;     /* EANM shared factors, its own stream */
};

/* Stream tags of the shared factors (kept apart from the cycle index). */
#define TAG_SHARED 0x5eedca1bULL

int rkin_imaging_check(const rkin_imaging *img, double interval_h,
                       rkin_err *err)
{
  size_t k;
  if (!img) return RKIN_OK;
  if (img->method != RKIN_IMAGING_TRUTH && img->method != RKIN_IMAGING_FIT
      && img->method != RKIN_IMAGING_STP)
    return rkin_err_set(err, RKIN_EINVAL, "imaging: unknown method %d",
                        (int)img->method);
  if (img->method == RKIN_IMAGING_TRUTH) return RKIN_OK;
  if (img->model != RKIN_IMAGING_PROP && img->model != RKIN_IMAGING_EANM)
    return rkin_err_set(err, RKIN_EINVAL, "imaging: unknown error model %d",
                        (int)img->model);
  if (img->model == RKIN_IMAGING_EANM) {
    const double v[3] = {img->cal_cv, img->rc_cv, img->volume_cv};
    static const char *const nm[3] = {"cal_cv", "rc_cv", "volume_cv"};
    int j;
    for (j = 0; j < 3; j++)
      if (!isfinite(v[j]) || v[j] < 0 || v[j] > 1)
        return rkin_err_set(err, RKIN_EINVAL, "imaging: %s = %g, expected "
                            "a fraction in [0, 1] (0.05 for 5 %%)", nm[j],
                            v[j]);
  }
  if (!isfinite(img->cv) || img->cv < 0)
    return rkin_err_set(err, RKIN_EINVAL, "imaging: cv must be a finite "
                        "number >= 0 (a fraction: 0.10 for 10 %%; got %g)",
                        img->cv);
  if (img->cv > 1)
    return rkin_err_set(err, RKIN_ERANGE, "imaging: cv %g is above 1; it "
                        "is a fraction (0.10 for 10 %%), not a percentage",
                        img->cv);
  if (!img->n_times || img->n_times > RKIN_TAC_MAX_POINTS || !img->times_h)
    return rkin_err_set(err, RKIN_EINVAL, "imaging: 1 to %d time points "
                        "needed (got %zu)", RKIN_TAC_MAX_POINTS,
                        img->n_times);
  for (k = 0; k < img->n_times; k++) {
    double t = img->times_h[k];
    if (!isfinite(t) || t <= 0 || t >= interval_h)
      return rkin_err_set(err, RKIN_EINVAL, "imaging: times_h[%zu] = %g h, "
                          "expected in (0, %g) h (after the administration, "
                          "before the next cycle)", k + 1, t, interval_h);
    if (k && t <= img->times_h[k - 1])
      return rkin_err_set(err, RKIN_EINVAL, "imaging: times_h[%zu] = %g h "
                          "is not after times_h[%zu] = %g h", k + 1, t, k,
                          img->times_h[k - 1]);
  }
  if (img->method == RKIN_IMAGING_FIT) {
    /* The fit never selects a curve with as many parameters as points
     * (tac.h): a design in which every requested curve has would end in
     * the trapezoid for every patient, silently. */
    unsigned models = img->tac_models ? img->tac_models
                                      : (1u << RKIN_TAC_TRAP) - 1u;
    int m, fewest = RKIN_TAC_MAX_PAR + 1, which = RKIN_TAC_TRAP;
    for (m = 0; m < RKIN_TAC_TRAP; m++)
      if ((models & (1u << m)) && rkin_tac_model_npar(m) < fewest) {
        fewest = rkin_tac_model_npar(m);
        which = m;
      }
    if (which != RKIN_TAC_TRAP && img->n_times <= (size_t)fewest)
      return rkin_err_set(err, RKIN_EINVAL, "imaging: %zu time point%s "
                          "cannot identify a fitted curve (%s has %d "
                          "parameters): give at least %d, or method "
                          "\"stp\"", img->n_times,
                          img->n_times == 1 ? "" : "s",
                          rkin_tac_model_name((rkin_tac_model)which), fewest,
                          fewest + 1);
  }
  return RKIN_OK;
}

rkin_imaging_ws *rkin_imaging_ws_new(rkin_err *err)
{
  rkin_imaging_ws *ws = malloc(sizeof *ws);
  if (ws) {
    ws->rng = gsl_rng_alloc(gsl_rng_mt19937);
    ws->shared = gsl_rng_alloc(gsl_rng_mt19937);
    if (!ws->rng || !ws->shared) {
      if (ws->rng) gsl_rng_free(ws->rng);
      if (ws->shared) gsl_rng_free(ws->shared);
      free(ws);
      ws = NULL;
    }
  }
  if (!ws) rkin_err_set(err, RKIN_ENOMEM, "imaging: out of memory");
  return ws;
}

void rkin_imaging_ws_free(rkin_imaging_ws *ws)
{
  if (!ws) return;
  gsl_rng_free(ws->rng);
  gsl_rng_free(ws->shared);
  free(ws);
}

/* splitmix64 finaliser: nearby (seed, patient, cycle) triples give
 * unrelated MT19937 seeds. */
static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void rkin_imaging_seed(rkin_imaging_ws *ws, const rkin_imaging *img,
                       size_t patient, size_t cycle)
{
  uint64_t s = mix(mix(mix((uint64_t)img->seed) ^ (uint64_t)patient)
                   ^ (uint64_t)cycle);
  gsl_rng_set(ws->rng, (unsigned long)(s ? s : 1));
}

void rkin_imaging_noise(rkin_imaging_ws *ws, const rkin_imaging *img,
                        size_t n, double *a)
{
  double sigma;
  size_t k;
  if (!(img->cv > 0)) return;
  sigma = sqrt(log1p(img->cv * img->cv));
  for (k = 0; k < n; k++)
    a[k] *= exp(sigma * gsl_ran_gaussian_ziggurat(ws->rng, 1.0)
                - 0.5 * sigma * sigma);
}

/* A log-normal factor of mean 1 and coefficient of variation cv. */
static double lognormal1(gsl_rng *rng, double cv)
{
  double sigma;
  if (!(cv > 0)) return 1.0;
  sigma = sqrt(log1p(cv * cv));
  return exp(sigma * gsl_ran_gaussian_ziggurat(rng, 1.0) - 0.5 * sigma * sigma);
}

/* Seeds the shared stream of (patient, key): key 0 the patient's
 * calibration, key 1 + region its recovery and volume. */
static void seed_shared(rkin_imaging_ws *ws, const rkin_imaging *img,
                        size_t patient, size_t key)
{
  uint64_t s = mix(mix(mix((uint64_t)img->seed ^ TAG_SHARED)
                       ^ (uint64_t)patient) ^ (uint64_t)key);
  gsl_rng_set(ws->shared, (unsigned long)(s ? s : 1));
}

void rkin_imaging_shared(rkin_imaging_ws *ws, const rkin_imaging *img,
                         size_t patient, size_t region, double *f_act,
                         double *f_mass)
{
  double f_q, f_rc, f_v;
  *f_act = *f_mass = 1.0;
  if (img->model != RKIN_IMAGING_EANM) return;
  seed_shared(ws, img, patient, 0);
  f_q = lognormal1(ws->shared, img->cal_cv);
  seed_shared(ws, img, patient, 1 + (size_t)region);
  f_rc = lognormal1(ws->shared, img->rc_cv);
  f_v = lognormal1(ws->shared, img->volume_cv);
  *f_act = 1.0 / (f_q * f_rc);
  *f_mass = f_v;
}

void rkin_imaging_shared_u(const rkin_imaging *img, double *u_act_rel,
                           double *u_mass_rel)
{
  *u_act_rel = *u_mass_rel = 0.0;
  if (!img || img->method == RKIN_IMAGING_TRUTH
      || img->model != RKIN_IMAGING_EANM)
    return;
  *u_act_rel = sqrt(img->cal_cv * img->cal_cv + img->rc_cv * img->rc_cv);
  *u_mass_rel = img->volume_cv;
}

/* The chosen parametric curve as exponential terms (amplitude, rate). */
static size_t curve_terms(const rkin_tac_cand *c, double *amp, double *rate)
{
  const double *p = c->p;
  switch (c->model) {
  case RKIN_TAC_MONO:
    amp[0] = p[0], rate[0] = p[1];
    return 1;
  case RKIN_TAC_BI:
    amp[0] = p[0], rate[0] = p[1], amp[1] = p[2], rate[1] = p[3];
    return 2;
  case RKIN_TAC_UPWASH:
    amp[0] = p[0], rate[0] = p[1], amp[1] = -p[0], rate[1] = p[2];
    return 2;
  case RKIN_TAC_TRI:
    amp[0] = p[0], rate[0] = p[1], amp[1] = p[2], rate[1] = p[3];
    amp[2] = -(p[0] + p[2]), rate[2] = p[4];
    return 3;
  default:
    return 0;
  }
}

/* G of the trapezoid fallback: the points joined from (0, 0), then
 * physical decay (what the trapezoid TIA assumes). */
static int trap_g(const rkin_imaging *img, const double *a, double s,
                  double lp, double trep, double *g, rkin_err *err)
{
  double t[RKIN_TAC_MAX_POINTS + 1], r[RKIN_TAC_MAX_POINTS + 1];
  size_t k;
  t[0] = 0, r[0] = 0;
  for (k = 0; k < img->n_times; k++) {
    t[k + 1] = img->times_h[k];
    r[k + 1] = a[k] * s;
  }
  return rkin_gfactor_aux_sampled(img->n_times + 1, t, r, trep, lp, g, NULL,
                                  err);
}

static int estimate_fit(const rkin_imaging *img, const rkin_nuclide *nuc,
                        const double *a, double s, const rkin_lq *lq,
                        const char *where, rkin_imaging_est *out,
                        rkin_err *err)
{
  rkin_tac_data d = {0};
  rkin_tac_opts o;
  rkin_tac_result res;
  rkin_doserate dr;
  double amp[3], rate[3];
  size_t nt;
  int rc;
  d.n = img->n_times;
  d.t = img->times_h;
  d.a = a;
  d.nuclide = nuc->name;
  rkin_tac_opts_default(&o);
  if (img->tac_models) o.models = img->tac_models;
  /* The clinic's fit knows its imaging error. Error-free imaging (cv 0)
   * has no scale to estimate: a nominal known cv keeps it out of the
   * parameter count (any known cv gives the same curve; 1 % keeps the
   * weighted residuals of an exact fit well above rounding). */
  o.cv = img->cv > 0 ? img->cv : IMAGING_CV_EXACT;
  if ((rc = rkin_tac_fit(&d, &o, &res, err)))
    return rkin_err_prefix(err, "%s: ", where);
  out->tia = res.tia;
  /* the counting term: the fit's SE under the known cv (none when the
   * images are exact; the trapezoid has no SE: then cv, one image's) */
  out->u_rel = !(img->cv > 0) ? 0.0
               : (isfinite(res.tia_se) && res.tia > 0) ? res.tia_se / res.tia
               : img->cv;
  out->dose = res.tia * s;
  if (res.chosen == RKIN_TAC_TRAP)
    return trap_g(img, a, s, res.lambda_phys, lq->trep_h, &out->g, err);
  nt = curve_terms(&res.cand[res.chosen], amp, rate);
  if ((rc = rkin_doserate_from_tac_s(&dr, s, nt, amp, rate, where, err)))
    return rc;
  return rkin_gfactor_sum(&dr, lq->trep_h, &out->g, err);
}

int rkin_imaging_estimate(const rkin_imaging *img, const rkin_nuclide *nuc,
                          const double *a, double s_gy_per_mbqh,
                          const rkin_lq *lq, const char *where,
                          rkin_imaging_est *out, rkin_err *err)
{
  size_t k, n = 0;
  double top = 0;
  int rc;
  for (k = 0; k < img->n_times; k++) {
    if (!isfinite(a[k]))
      return rkin_err_set(err, RKIN_ENONFINITE, "%s: measured activity %g "
                          "MBq at %g h", where, a[k], img->times_h[k]);
    if (a[k] > top) top = a[k];
  }
  /* Below detection (rounding-level activity, e.g. blood days after the
   * administration) reads as 0; only late points may be 0. */
  for (k = 0; k < img->n_times; k++)
    if (a[k] > DETECT_REL * top) {
      if (n < k)
        return rkin_err_set(err, RKIN_ERANGE, "%s: activity below "
                            "detection at %g h but not at %g h", where,
                            img->times_h[n], img->times_h[k]);
      n = k + 1;
    }
  out->u_rel = 0;
  if (!n) {
    out->tia = out->dose = out->g = out->bed = 0;
    return RKIN_OK;
  }
  if (img->method == RKIN_IMAGING_STP) {
    double t = img->times_h[img->n_times - 1];
    rkin_tac_stp stp;
    if (n < img->n_times) {     /* gone by the single time point */
      out->tia = out->dose = out->g = out->bed = 0;
      return RKIN_OK;
    }
    if ((rc = rkin_tac_stp_haenscheid(t, a[img->n_times - 1], 0, 0.95,
                                      &stp, err)))
      return rkin_err_prefix(err, "%s: ", where);
    out->tia = stp.tia;
    out->u_rel = img->cv;    /* one image's error; the method's own
                              * (the half-life assumed) is not counted */
    out->dose = stp.tia * s_gy_per_mbqh;
    rc = rkin_gfactor_mono(log(2.0) / t, lq->trep_h, &out->g, err);
  } else {
    double z[RKIN_TAC_MAX_POINTS];
    for (k = 0; k < img->n_times; k++) z[k] = k < n ? a[k] : 0.0;
    rc = estimate_fit(img, nuc, z, s_gy_per_mbqh, lq, where, out, err);
  }
  if (rc) return rc;
  out->bed = out->dose * (1 + out->g * out->dose / lq->ab_gy);
  if (!isfinite(out->bed))
    return rkin_err_set(err, RKIN_ENONFINITE, "%s: estimated BED is not "
                        "finite (dose %g Gy, G %g)", where, out->dose,
                        out->g);
  return RKIN_OK;
}
