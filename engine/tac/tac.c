/* tac.c - TIA from one region's time-activity data: input checks, the
 * trapezoid fallback, model selection by AICc / Akaike weights, model
 * averaging and the parametric bootstrap interval. */
#include "tac/tac_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "core/nuclide.h"

#define ALL_MODELS ((1u << RKIN_TAC_NMODELS) - 1u)

void rkin_tac_opts_default(rkin_tac_opts *o)
{
  memset(o, 0, sizeof *o);
  o->models = ALL_MODELS;
  o->cv = 0.0;
  o->criterion = RKIN_TAC_AICC;
  o->level = 0.95;
  o->seed = 1;
  o->trap_a0 = RKIN_TAC_TRAP_ZERO;
  o->maxeval = 1000;
}

static int check_times(const rkin_tac_data *d, rkin_err *err)
{
  size_t i;
  for (i = 0; i < d->n; i++) {
    double t = d->t[i];
    if (!isfinite(t))
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC data: time of point %zu is %g: expected a "
                          "finite number of hours", i + 1, t);
    if (t < 0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC data: time of point %zu is negative (%g h): "
                          "expected hours after administration, >= 0",
                          i + 1, t);
    if (i > 0 && t == d->t[i - 1])
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC data: duplicate time %g h at points %zu and "
                          "%zu: expected one activity per time point", t, i,
                          i + 1);
    if (i > 0 && t < d->t[i - 1])
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC data: times not increasing: point %zu at %g h "
                          "follows %g h: expected points sorted by time",
                          i + 1, t, d->t[i - 1]);
  }
  return 0;
}

static int check_values(const rkin_tac_data *d, rkin_err *err)
{
  size_t i, last_pos = d->n;
  for (i = 0; i < d->n; i++) {
    double a = d->a[i];
    if (!isfinite(a))
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC data: activity of point %zu (t = %g h) is %g: "
                          "expected a finite number of MBq", i + 1, d->t[i],
                          a);
    if (a < 0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC data: activity of point %zu (t = %g h) is "
                          "negative (%g MBq): expected > 0", i + 1, d->t[i],
                          a);
    if (a > 0) last_pos = i;
    if (d->sd && !(isfinite(d->sd[i]) && d->sd[i] > 0))
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC data: sd of point %zu (t = %g h) is %g MBq: "
                          "expected a finite number > 0", i + 1, d->t[i],
                          d->sd[i]);
  }
  if (last_pos == d->n)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC data: all %zu activities are 0 MBq: expected "
                        "at least one > 0", d->n);
  for (i = 0; i < last_pos; i++)
    if (d->a[i] == 0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC data: activity of point %zu (t = %g h) is 0 "
                          "MBq but a later point is > 0: zero is allowed "
                          "only at late times, after the last positive "
                          "activity", i + 1, d->t[i]);
  return 0;
}

int rkin_tac_check(const rkin_tac_data *d, double *lambda_phys, rkin_err *err)
{
  const rkin_nuclide *nuc;
  int rc;
  if (!d || d->n < 1 || !d->t || !d->a)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC data: no time points: expected at least 1 "
                        "(time, activity) pair");
  if (d->n > RKIN_TAC_MAX_POINTS)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC data: %zu time points: at most %d supported",
                        d->n, RKIN_TAC_MAX_POINTS);
  if ((rc = check_times(d, err)) || (rc = check_values(d, err))) return rc;
  if (!d->nuclide)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC data: nuclide not given: expected a name such "
                        "as \"Lu-177\"");
  if (!(nuc = rkin_nuclide_find(d->nuclide, err)))
    return rkin_err_prefix(err, "TAC data: ");
  if (lambda_phys) *lambda_phys = rkin_nuclide_lambda(nuc);
  return 0;
}

void tac_trap(const rkin_tac_data *d, double lp, const rkin_tac_opts *o,
              rkin_tac_cand *c)
{
  size_t i, n = d->n;
  double var = 0, tail = d->a[n - 1] / lp;
  int known = d->sd || o->cv > 0;
  tac_cand_reset(c, RKIN_TAC_TRAP);
  c->tia = 0;
  for (i = 0; i < n; i++) {
    /* TIA is linear in the activities: sum coef_i a_i */
    double lo = i > 0 ? d->t[i - 1] : 0.0, hi = i + 1 < n ? d->t[i + 1]
                                                          : d->t[i];
    double coef = 0.5 * (hi - lo);
    if (i == 0)
      coef += o->trap_a0 == RKIN_TAC_TRAP_FLAT ? 0.5 * d->t[0] : 0.0;
    if (i + 1 == n) coef += 1.0 / lp;
    c->tia += coef * d->a[i];
    if (known) {
      double s = d->sd ? d->sd[i] : o->cv * d->a[i];
      var += coef * coef * s * s;
    }
    c->resid[i] = 0;
  }
  c->status = RKIN_TAC_OK;
  c->tail_share = tail / c->tia;
  c->k = 0;
  if (known) {
    double z = tac_quantile(o->level > 0 && o->level < 1 ? o->level : 0.95,
                            0);
    c->tia_se = sqrt(var);
    c->tia_lo = c->tia - z * c->tia_se;
    c->tia_hi = c->tia + z * c->tia_se;
  } else {
    tac_note(c->note, sizeof c->note,
             "no SE: the trapezoid needs sd or a known cv");
  }
}

int rkin_tac_fit_one(const rkin_tac_data *d, const rkin_tac_opts *o,
                     rkin_tac_model m, rkin_tac_cand *c, rkin_err *err)
{
  double lp, w[RKIN_TAC_MAX_POINTS];
  rkin_tac_opts def;
  int rc;
  if (!o) {
    rkin_tac_opts_default(&def);
    o = &def;
  }
  if ((unsigned)m >= RKIN_TAC_NMODELS)
    return rkin_err_set(err, RKIN_EINVAL, "TAC fit: model %d unknown", m);
  if ((rc = rkin_tac_check(d, &lp, err))) return rc;
  if (m == RKIN_TAC_TRAP) {
    tac_trap(d, lp, o, c);
  } else {
    tac_weights(d, o->cv, w);
    tac_fit_cand(d, w, lp, o, m, c);
  }
  return 0;
}

static double crit_value(const rkin_tac_cand *c, rkin_tac_criterion k)
{
  return k == RKIN_TAC_AICC ? c->aicc : c->aic;
}

/* Ranked: converged, eligible (see eligible()) and with a defined
 * criterion. */
static int rankable(const rkin_tac_cand *c, rkin_tac_criterion k)
{
  return c->status == RKIN_TAC_OK && !(c->warn & RKIN_TAC_W_INELIGIBLE)
         && isfinite(crit_value(c, k));
}

/* Akaike weights over the ranked candidates (Burnham & Anderson 2002,
 * eq. 2.14); returns how many were ranked. */
static int weigh(rkin_tac_result *r, rkin_tac_criterion k)
{
  double best = HUGE_VAL, sum = 0;
  int m, nr = 0;
  for (m = 0; m < RKIN_TAC_TRAP; m++) {
    rkin_tac_cand *c = &r->cand[m];
    c->weight = NAN;
    if (rankable(c, k)) {
      nr++;
      if (crit_value(c, k) < best) {
        best = crit_value(c, k);
        r->chosen = (rkin_tac_model)m;
      }
    }
  }
  for (m = 0; m < RKIN_TAC_TRAP; m++) {
    rkin_tac_cand *c = &r->cand[m];
    if (rankable(c, k)) {
      c->weight = exp(-0.5 * (crit_value(c, k) - best));
      sum += c->weight;
    }
  }
  for (m = 0; m < RKIN_TAC_TRAP; m++)
    if (isfinite(r->cand[m].weight)) r->cand[m].weight /= sum;
  return nr;
}

/* Model-averaged TIA and its unconditional SE (Burnham & Anderson 2002,
 * eq. 4.9): sum w_i sqrt(se_i^2 + (tia_i - avg)^2). */
static void average(rkin_tac_result *r)
{
  double avg = 0, se = 0;
  int m;
  for (m = 0; m < RKIN_TAC_TRAP; m++)
    if (isfinite(r->cand[m].weight)) avg += r->cand[m].weight * r->cand[m].tia;
  for (m = 0; m < RKIN_TAC_TRAP; m++) {
    const rkin_tac_cand *c = &r->cand[m];
    if (isfinite(c->weight))
      se += c->weight * sqrt(c->tia_se * c->tia_se
                             + (c->tia - avg) * (c->tia - avg));
  }
  r->tia_avg = avg;
  r->tia_avg_se = se;
}

/* A converged candidate with k >= n (k counting the residual scale when it
 * is estimated) has no residual degree of freedom left: its parameters are
 * not identifiable from these points, and AIC rewards the vanishing
 * residual (-n log(chi2/n) grows without bound), so it would win any
 * ranking it entered. Flagged here and kept out of every ranking. Returns
 * how many converged candidates stay eligible. */
static int eligible(rkin_tac_result *r, int scale_est)
{
  int m, ne = 0;
  for (m = 0; m < RKIN_TAC_TRAP; m++) {
    rkin_tac_cand *c = &r->cand[m];
    if (c->status != RKIN_TAC_OK) continue;
    if (c->k >= (int)r->n) {
      c->warn |= RKIN_TAC_W_INELIGIBLE;
      r->warn |= RKIN_TAC_W_INELIGIBLE;
      tac_note(c->note, sizeof c->note,
               "not eligible: k = %d parameters (%d of the curve%s) with "
               "n = %zu points: not identifiable from these data, never "
               "selected", c->k, c->k - scale_est,
               scale_est ? " + the residual scale" : "", r->n);
    } else {
      ne++;
    }
  }
  return ne;
}

static void select_model(rkin_tac_result *r, const rkin_tac_opts *o,
                         int scale_est)
{
  rkin_tac_criterion k = o->criterion;
  int m, nok, nr;
  char undef[80] = "";
  nok = eligible(r, scale_est);
  for (m = 0; m < RKIN_TAC_TRAP; m++) {
    rkin_tac_cand *c = &r->cand[m];
    if (c->status == RKIN_TAC_OK && !(c->warn & RKIN_TAC_W_INELIGIBLE)
        && !isfinite(c->aicc)) {
      size_t len = strlen(undef);     /* ", "-joined: notes split on ";" */
      c->warn |= RKIN_TAC_W_AICC_UNDEF;
      if (k == RKIN_TAC_AICC)
        snprintf(undef + len, sizeof undef - len, "%s%s (k = %d)",
                 len ? ", " : "", rkin_tac_model_name((rkin_tac_model)m),
                 c->k);
    }
  }
  r->criterion_used = k;
  if (nok == 0) {
    int any = 0;
    for (m = 0; m < RKIN_TAC_TRAP; m++)
      any |= r->cand[m].status == RKIN_TAC_OK;
    r->chosen = RKIN_TAC_TRAP;
    r->warn |= RKIN_TAC_W_FALLBACK;
    tac_note(r->notes, sizeof r->notes,
             any ? "no eligible parametric curve (each converged one has as "
                   "many parameters as points): trapezoid + physical-decay "
                   "tail used"
                 : "no parametric curve could be fitted: trapezoid + "
                   "physical-decay tail used");
    return;
  }
  nr = weigh(r, k);
  if (k == RKIN_TAC_AICC && undef[0]) {
    r->warn |= RKIN_TAC_W_AICC_UNDEF;
    if (nr < 2 && nok >= 2) {
      k = r->criterion_used = RKIN_TAC_AIC;
      nr = weigh(r, k);
      tac_note(r->notes, sizeof r->notes,
               "AICc undefined for %s with n = %zu points (needs n >= k + "
               "2): the eligible candidates ranked by AIC instead", undef,
               r->n);
    } else {
      tac_note(r->notes, sizeof r->notes,
               "AICc undefined for %s with n = %zu points (needs n >= k + "
               "2): not ranked", undef, r->n);
    }
  }
  if (nr == 0) {
    /* nothing rankable: the simplest eligible converged curve, said
     * plainly */
    for (m = RKIN_TAC_TRAP - 1; m >= 0; m--)
      if (r->cand[m].status == RKIN_TAC_OK
          && !(r->cand[m].warn & RKIN_TAC_W_INELIGIBLE)
          && (nr == 0 || r->cand[m].np <= r->cand[r->chosen].np)) {
        r->chosen = (rkin_tac_model)m;
        nr = -1;
      }
    tac_note(r->notes, sizeof r->notes,
             "no candidate could be ranked (information criterion "
             "undefined): %s chosen as the simplest eligible converged "
             "curve", rkin_tac_model_name(r->chosen));
  } else {
    average(r);
  }
}

static void bootstrap(const rkin_tac_data *d, const rkin_tac_opts *o,
                      double lp, rkin_tac_result *r)
{
  const rkin_tac_cand *c = &r->cand[r->chosen];
  double a[RKIN_TAC_MAX_POINTS], w[RKIN_TAC_MAX_POINTS], *tia;
  double sc = d->sd ? 1.0 : o->cv > 0 ? o->cv : sqrt(c->s2);
  rkin_tac_data db = *d;
  rkin_tac_cand cb;
  gsl_rng *rng;
  int b, nt = 0;
  size_t i;
  if (r->chosen == RKIN_TAC_TRAP || !isfinite(sc)) return;
  tia = malloc((size_t)o->boot * sizeof *tia);
  rng = gsl_rng_alloc(gsl_rng_mt19937);
  if (!tia || !rng) {
    free(tia);
    if (rng) gsl_rng_free(rng);
    tac_note(r->notes, sizeof r->notes, "bootstrap skipped: out of memory");
    return;
  }
  gsl_rng_set(rng, o->seed);
  db.a = a;
  for (b = 0; b < o->boot; b++) {
    for (i = 0; i < d->n; i++) {
      double f = rkin_tac_curve(c->model, c->p, d->t[i]);
      double s = d->sd ? d->sd[i] : sc * f;
      int tries = 0;
      /* a simulated activity must stay positive: redraw (truncation) */
      do a[i] = f + gsl_ran_gaussian(rng, s);
      while (!(a[i] > 0) && ++tries < 100);
      if (!(a[i] > 0)) a[i] = f;
    }
    tac_weights(&db, o->cv, w);
    tac_fit_cand(&db, w, lp, o, c->model, &cb);
    if (cb.status == RKIN_TAC_OK) tia[nt++] = cb.tia;
  }
  r->boot_failed = o->boot - nt;
  if (nt >= 2) {
    double lv = o->level > 0 && o->level < 1 ? o->level : 0.95;
    gsl_sort(tia, 1, (size_t)nt);
    r->boot_lo = gsl_stats_quantile_from_sorted_data(tia, 1, (size_t)nt,
                                                     0.5 - 0.5 * lv);
    r->boot_hi = gsl_stats_quantile_from_sorted_data(tia, 1, (size_t)nt,
                                                     0.5 + 0.5 * lv);
  }
  if (r->boot_failed > 0)
    tac_note(r->notes, sizeof r->notes,
             "bootstrap: %d of %d refits failed and were left out",
             r->boot_failed, o->boot);
  gsl_rng_free(rng);
  free(tia);
}

static void summarise(const rkin_tac_data *d, const rkin_tac_opts *o,
                      unsigned models, rkin_tac_result *r)
{
  const rkin_tac_cand *c = &r->cand[r->chosen];
  size_t n = d->n;
  int m;
  r->tia = c->tia;
  r->tia_se = c->tia_se;
  r->tia_lo = c->tia_lo;
  r->tia_hi = c->tia_hi;
  if (o->average && isfinite(r->tia_avg)) {
    double z = tac_quantile(o->level > 0 && o->level < 1 ? o->level : 0.95,
                            0);
    r->tia = r->tia_avg;
    r->tia_se = r->tia_avg_se;
    r->tia_lo = r->tia - z * r->tia_se;
    r->tia_hi = r->tia + z * r->tia_se;
  }
  r->warn |= c->warn;
  if (n >= 2 && d->a[n - 1] > d->a[n - 2]) {
    r->warn |= RKIN_TAC_W_RISING;
    tac_note(r->notes, sizeof r->notes,
             "activity rises at the last point (t = %g h): TIA "
             "extrapolation unreliable, %.1f %% of the TIA lies beyond it",
             d->t[n - 1], 100.0 * c->tail_share);
  } else if (c->tail_share > 0.5) {
    r->warn |= RKIN_TAC_W_EXTRAP;
    tac_note(r->notes, sizeof r->notes,
             "%.1f %% of the TIA lies beyond the last point (t = %g h)",
             100.0 * c->tail_share, d->t[n - 1]);
  }
  if (!isfinite(r->tia_se)) r->warn |= RKIN_TAC_W_NOSE;
  /* Every candidate's note, not only the chosen one's: a candidate listed
   * with its TIA and weight (held at physical decay, not eligible, no SE)
   * must carry its flags wherever it is shown. Models the caller did not
   * request stay out. */
  for (m = 0; m < RKIN_TAC_NMODELS; m++) {
    const rkin_tac_cand *x = &r->cand[m];
    if (x->status == RKIN_TAC_FAILED || x->status == RKIN_TAC_DEGENERATE)
      r->warn |= x->warn;
    if (x->note[0] && (m == RKIN_TAC_TRAP ? m == (int)r->chosen
                                          : (models & (1u << m)) != 0))
      tac_note(r->notes, sizeof r->notes, "%s: %s",
               rkin_tac_model_name((rkin_tac_model)m), x->note);
  }
}

int rkin_tac_fit(const rkin_tac_data *d, const rkin_tac_opts *o,
                 rkin_tac_result *r, rkin_err *err)
{
  double lp, w[RKIN_TAC_MAX_POINTS];
  unsigned models;
  rkin_tac_opts def;
  int m, rc;
  if (!o) {
    rkin_tac_opts_default(&def);
    o = &def;
  }
  models = o->models ? o->models : ALL_MODELS;
  if (models & ~ALL_MODELS)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC fit: model mask 0x%x has unknown bits "
                        "(expected bits 0..%d)", models,
                        RKIN_TAC_NMODELS - 1);
  if (!(o->cv >= 0) || !isfinite(o->cv))
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC fit: cv = %g: expected a known proportional "
                        "error > 0, or 0 to estimate it", o->cv);
  if (o->boot < 0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC fit: boot = %d: expected >= 0 refits", o->boot);
  if ((rc = rkin_tac_check(d, &lp, err))) return rc;
  memset(r, 0, sizeof *r);
  r->n = d->n;
  r->lambda_phys = lp;
  r->tia_avg = r->tia_avg_se = r->boot_lo = r->boot_hi = NAN;
  tac_weights(d, o->cv, w);
  for (m = 0; m < RKIN_TAC_TRAP; m++) {
    rkin_tac_cand *c = &r->cand[m];
    if (models & (1u << m)) {
      tac_fit_cand(d, w, lp, o, (rkin_tac_model)m, c);
    } else {
      tac_cand_reset(c, (rkin_tac_model)m);
      tac_note(c->note, sizeof c->note, "not requested");
    }
    if (c->status == RKIN_TAC_NOT_TRIED) c->warn |= RKIN_TAC_W_NOT_TRIED;
  }
  tac_trap(d, lp, o, &r->cand[RKIN_TAC_TRAP]);
  select_model(r, o, d->sd == NULL && !(o->cv > 0));
  summarise(d, o, models, r);
  if (o->boot > 0) bootstrap(d, o, lp, r);
  return 0;
}
