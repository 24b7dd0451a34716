/* test_tac.c - time-activity curve fits, model selection, TIA uncertainty,
 * single-time-point methods and MAP (engine/tac*.c). */
#include <math.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core/init.h"
#include "core/nuclide.h"
#include "tac/tac.h"
#include "tac/tac_impl.h"
#include "../tap.h"

#define LP_LU 0.00434498759189575 /* ln 2 / (6.647 d): nuclide.c */

static rkin_tac_data data(size_t n, const double *t, const double *a,
                          const double *sd)
{
  rkin_tac_data d = {n, t, a, sd, "Lu-177"};
  return d;
}

static void sample(rkin_tac_model m, const double *p, size_t n,
                   const double *t, double *a)
{
  size_t i;
  for (i = 0; i < n; i++) a[i] = rkin_tac_curve(m, p, t[i]);
}

/* Noise-free data from each candidate: the fit must return the generating
 * parameters (rel. 1e-6) and the TIA computed by hand from them. */
static void test_recovery(void)
{
  static const struct {
    rkin_tac_model m;
    size_t n;
    double t[10], p[5], tia;   /* tia: hand-computed analytic integral */
  } cs[] = {
    /* 100/0.02 = 5000 */
    {RKIN_TAC_MONO, 5, {1, 4, 24, 72, 168}, {100, 0.02}, 5000.0},
    /* 80/0.015 + 50/0.2 = 5333.333... + 250 */
    {RKIN_TAC_BI, 8, {1, 2, 4, 8, 24, 48, 72, 168}, {80, 0.015, 50, 0.2},
     5583.333333333333},
    /* 120 (1/0.012 - 1/0.3) = 120 (83.333... - 3.333...) */
    {RKIN_TAC_UPWASH, 5, {1, 4, 24, 72, 168}, {120, 0.012, 0.3}, 9600.0},
    /* 100/0.01 + 60/0.08 - 160/0.5 = 10000 + 750 - 320 */
    {RKIN_TAC_TRI, 10, {0.5, 1, 2, 4, 8, 24, 48, 72, 120, 168},
     {100, 0.01, 60, 0.08, 0.5}, 10430.0},
  };
  size_t k;
  for (k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    double a[10];
    rkin_tac_data d;
    rkin_tac_opts o;
    rkin_tac_cand c;
    rkin_err err;
    const char *nm = rkin_tac_model_name(cs[k].m);
    int j, rc;
    sample(cs[k].m, cs[k].p, cs[k].n, cs[k].t, a);
    d = data(cs[k].n, cs[k].t, a, NULL);
    rkin_tac_opts_default(&o);
    o.cv = 0.1;
    rc = rkin_tac_fit_one(&d, &o, cs[k].m, &c, &err);
    ok(rc == 0 && c.status == RKIN_TAC_OK, "%s: noise-free fit converges",
       nm);
    for (j = 0; j < c.np; j++)
      is_double(c.p[j], cs[k].p[j], 1e-6,
                "%s: %s recovered (noise-free data, rel. 1e-6)", nm,
                rkin_tac_par_name(cs[k].m, j));
    is_double(c.tia, cs[k].tia, 1e-6,
              "%s: TIA = hand-computed analytic integral (rel. 1e-6)", nm);
    is_double(rkin_tac_integral(cs[k].m, cs[k].p), cs[k].tia, 1e-12,
              "%s: rkin_tac_integral = hand-computed value (rel. 1e-12)",
              nm);
    ok(c.chi2 < 1e-12, "%s: chi2 of the noise-free fit ~ 0 (< 1e-12)", nm);
  }
}

/* Effective clearance slower than physical decay: the rate is held at
 * l_phys and A is the weighted least-squares amplitude for that fixed rate,
 * A = sum(w y e) / sum(w e^2) with e = exp(-l_phys t) (linear LS). */
static void test_physical_bound(void)
{
  double t[4] = {4, 24, 72, 168}, a[4], w, num = 0, den = 0;
  double p[2] = {100, 0.5 * LP_LU};
  rkin_tac_data d;
  rkin_tac_opts o;
  rkin_tac_cand c;
  rkin_tac_result r;
  size_t i;
  sample(RKIN_TAC_MONO, p, 4, t, a);
  a[1] *= 1.03;                        /* some misfit */
  d = data(4, t, a, NULL);
  rkin_tac_opts_default(&o);
  o.cv = 0.1;
  rkin_tac_fit_one(&d, &o, RKIN_TAC_MONO, &c, NULL);
  ok(c.status == RKIN_TAC_OK && (c.warn & RKIN_TAC_W_PHYS),
     "mono slower than physical decay: flagged");
  ok(c.p[1] == LP_LU, "held rate equals l_phys exactly");
  like(c.note, "biological rate < 0", "note says biological rate < 0");
  for (i = 0; i < 4; i++) {
    double e = exp(-LP_LU * t[i]);
    w = 1.0 / (0.01 * a[i] * a[i]);
    num += w * a[i] * e;
    den += w * e * e;
  }
  is_double(c.p[0], num / den, 1e-8,
            "amplitude = closed-form LS amplitude at l_phys (rel. 1e-8)");
  is_double(c.tia, num / den / LP_LU, 1e-8,
            "TIA = A / l_phys: physical tail (rel. 1e-8)");
  ok(c.se[1] == 0 && c.k == 1, "held rate: SE 0, not counted by AIC");
  rkin_tac_fit(&d, &o, &r, NULL);
  ok(r.warn & RKIN_TAC_W_PHYS, "result carries the physical-decay warning");
}

/* Seeded noisy data: in clear cases (many points, 3-5 % noise, curves
 * far apart) the Akaike weights choose the generating model. Threshold
 * 90 % of 200 data sets each (the rates found are printed). */
static void test_selection(void)
{
  static const struct {
    rkin_tac_model m;
    size_t n;
    double t[10], p[5], cv;
  } cs[] = {
    {RKIN_TAC_MONO, 8, {2, 4, 8, 24, 48, 72, 120, 168}, {100, 0.02}, 0.05},
    {RKIN_TAC_UPWASH, 8, {1, 2, 4, 8, 24, 72, 120, 168}, {100, 0.02, 0.3},
     0.05},
    {RKIN_TAC_BI, 10, {0.5, 1, 2, 4, 8, 24, 48, 72, 120, 168},
     {60, 0.01, 100, 0.25}, 0.03},
  };
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  size_t k, i;
  gsl_rng_set(rng, 20240611);
  for (k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    int rep, hit = 0, wsum_ok = 1;
    for (rep = 0; rep < 200; rep++) {
      double a[10], sd[10], ws = 0;
      rkin_tac_data d;
      rkin_tac_opts o;
      rkin_tac_result r;
      int m;
      for (i = 0; i < cs[k].n; i++) {
        double f = rkin_tac_curve(cs[k].m, cs[k].p, cs[k].t[i]);
        sd[i] = cs[k].cv * f;
        a[i] = f + gsl_ran_gaussian(rng, sd[i]);
      }
      d = data(cs[k].n, cs[k].t, a, sd);
      rkin_tac_opts_default(&o);
      o.models = (1u << RKIN_TAC_MONO) | (1u << RKIN_TAC_BI)
                 | (1u << RKIN_TAC_UPWASH);
      rkin_tac_fit(&d, &o, &r, NULL);
      hit += r.chosen == cs[k].m;
      for (m = 0; m < RKIN_TAC_NMODELS; m++)
        if (isfinite(r.cand[m].weight)) ws += r.cand[m].weight;
      if (fabs(ws - 1) > 1e-12) wsum_ok = 0;
    }
    diag("%s data: chosen in %d of 200", rkin_tac_model_name(cs[k].m), hit);
    ok(hit >= 180, "%s data: AICc picks %s in >= 90 %% of 200 seeded sets",
       rkin_tac_model_name(cs[k].m), rkin_tac_model_name(cs[k].m));
    ok(wsum_ok, "%s data: Akaike weights sum to 1 (1e-12)",
       rkin_tac_model_name(cs[k].m));
  }
  gsl_rng_free(rng);
}

/* Coverage of the 95 % interval by simulation: 1000 seeded data sets from
 * a known curve with known sd; the interval must contain the true TIA in
 * 92.5-97.5 % of them (binomial SD at 95 %: 0.69 %, so the band is about
 * +-3.6 SD: a correct method fails it with probability < 1e-3). */
static void test_coverage(rkin_tac_model m, const double *p, size_t n,
                          const double *t, double cv, int use_sd)
{
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  double truth = rkin_tac_integral(m, p);
  int rep, in = 0, fits = 0;
  size_t i;
  gsl_rng_set(rng, 42);
  for (rep = 0; rep < 1000; rep++) {
    double a[10], sd[10];
    rkin_tac_data d;
    rkin_tac_opts o;
    rkin_tac_cand c;
    for (i = 0; i < n; i++) {
      double f = rkin_tac_curve(m, p, t[i]);
      sd[i] = cv * f;
      a[i] = f + gsl_ran_gaussian(rng, sd[i]);
    }
    d = data(n, t, a, use_sd ? sd : NULL);
    rkin_tac_opts_default(&o);
    o.cv = use_sd ? 0 : cv;
    rkin_tac_fit_one(&d, &o, m, &c, NULL);
    if (c.status != RKIN_TAC_OK || !isfinite(c.tia_se)) continue;
    fits++;
    in += c.tia_lo <= truth && truth <= c.tia_hi;
  }
  diag("%s coverage: %d of %d (%s)", rkin_tac_model_name(m), in, fits,
       use_sd ? "sd given" : "known cv");
  ok(fits == 1000, "%s: all 1000 noisy fits converge with an SE",
     rkin_tac_model_name(m));
  ok(in >= 925 && in <= 975,
     "%s: 95 %% TIA interval covers the truth in 92.5-97.5 %% of 1000",
     rkin_tac_model_name(m));
  gsl_rng_free(rng);
}

/* AICc needs n >= k + 2; with 4 points only mono has it, so the ranking
 * falls back to AIC and says so. */
static void test_aicc_undefined(void)
{
  double t[4] = {4, 24, 72, 168}, a[4], p[3] = {300, 0.015, 0.2};
  rkin_tac_data d;
  rkin_tac_opts o;
  rkin_tac_result r;
  sample(RKIN_TAC_UPWASH, p, 4, t, a);
  a[2] *= 1.05;
  d = data(4, t, a, NULL);
  rkin_tac_opts_default(&o);
  o.cv = 0.1;
  rkin_tac_fit(&d, &o, &r, NULL);
  ok(!isfinite(r.cand[RKIN_TAC_UPWASH].aicc)
     && isfinite(r.cand[RKIN_TAC_MONO].aicc),
     "n = 4: AICc undefined for upwash (k = 3), defined for mono (k = 2)");
  ok(r.criterion_used == RKIN_TAC_AIC && (r.warn & RKIN_TAC_W_AICC_UNDEF),
     "n = 4: ranking falls back to AIC with a warning");
  like(r.notes, "AICc undefined for", "note names the AICc problem");
  ok(r.cand[RKIN_TAC_TRI].status == RKIN_TAC_NOT_TRIED,
     "tri (5 parameters) not tried with 4 points");
  like(r.cand[RKIN_TAC_TRI].note, "need at least 5 points",
       "note says why tri was not tried");
  ok(r.chosen == RKIN_TAC_UPWASH, "uptake-washout data: upwash chosen");
  /* Burnham & Anderson 2002 eq. 4.1: averaged TIA = sum w_i TIA_i */
  {
    double avg = 0;
    int m;
    for (m = 0; m < RKIN_TAC_NMODELS; m++)
      if (isfinite(r.cand[m].weight)) avg += r.cand[m].weight * r.cand[m].tia;
    is_double(r.tia_avg, avg, 1e-12, "model-averaged TIA = sum w_i TIA_i");
    o.average = 1;
    rkin_tac_fit(&d, &o, &r, NULL);
    is_double(r.tia, avg, 1e-12, "average option reports the averaged TIA");
  }
}

/* Eligibility: a candidate with k >= n (k counting the estimated residual
 * scale) is flagged and never ranked or chosen. The data: bi-exponential
 * 200 e^-0.01t + 300 e^-0.3t at 5 times, perturbed by +3, -3, +2, -1, +1 %.
 * With the scale estimated, bi has k = 5 = n; only mono has an AICc, so
 * ranking falls back to AIC, where bi's 1-dof near-interpolation wins
 * (AIC 27.9 against mono's 55.0): the engine used to choose it. */
static void test_eligibility(void)
{
  double t[5] = {1, 4, 24, 72, 168}, p[4] = {200, 0.01, 300, 0.3}, a[5];
  double f[5] = {1.03, 0.97, 1.02, 0.99, 1.01};
  double t2[2] = {24, 96}, a2[2] = {100, 40};
  double t4[4] = {4, 24, 72, 168}, p4[2] = {100, 0.5 * LP_LU}, a4[4];
  rkin_tac_data d;
  rkin_tac_opts o;
  rkin_tac_result r;
  const rkin_tac_cand *bi = &r.cand[RKIN_TAC_BI];
  size_t i;
  for (i = 0; i < 5; i++) a[i] = rkin_tac_curve(RKIN_TAC_BI, p, t[i]) * f[i];
  d = data(5, t, a, NULL);
  rkin_tac_opts_default(&o);                 /* cv 0: scale estimated */
  rkin_tac_fit(&d, &o, &r, NULL);
  ok(bi->status == RKIN_TAC_OK && bi->k == 5,
     "bi on 5 points, scale estimated: converged with k = 4 + 1 = 5");
  ok(bi->warn & RKIN_TAC_W_INELIGIBLE, "... flagged not eligible (k = n)");
  ok(isnan(bi->weight), "... no Akaike weight");
  ok(r.chosen != RKIN_TAC_BI, "... and never chosen (chosen: %s)",
     rkin_tac_model_name(r.chosen));
  ok(r.chosen == RKIN_TAC_MONO && isfinite(r.cand[RKIN_TAC_MONO].weight),
     "... mono, the one eligible candidate ranked, chosen");
  like(bi->note, "not eligible: k = 5 parameters (4 of the curve + the "
       "residual scale) with n = 5 points: not identifiable",
       "candidate note says which model and why");
  like(r.notes, "bi: not eligible", "result notes list it too");
  ok(r.warn & RKIN_TAC_W_INELIGIBLE, "result carries the flag");
  if (r.cand[RKIN_TAC_TRI].status == RKIN_TAC_OK)
    ok(r.cand[RKIN_TAC_TRI].warn & RKIN_TAC_W_INELIGIBLE,
       "tri (k = 6 > n = 5) flagged not eligible");
  else
    ok(1, "tri did not converge to a rankable curve here");

  /* known cv: bi has k = 4 = n - 1, eligible (AICc undefined: AIC) */
  o.cv = 0.1;
  rkin_tac_fit(&d, &o, &r, NULL);
  ok(!(bi->warn & RKIN_TAC_W_INELIGIBLE) && isfinite(bi->weight),
     "known cv: bi with k = 4 < n = 5 is eligible and ranked");
  ok(bi->warn & RKIN_TAC_W_AICC_UNDEF,
     "... its own aicc_undefined flag set (n < k + 2)");

  /* two points, cv known: mono has k = 2 = n (an exact interpolation) */
  d = data(2, t2, a2, NULL);
  rkin_tac_fit(&d, &o, &r, NULL);
  ok(r.cand[RKIN_TAC_MONO].warn & RKIN_TAC_W_INELIGIBLE,
     "2 points: mono (k = 2) not eligible");
  ok(r.chosen == RKIN_TAC_TRAP && (r.warn & RKIN_TAC_W_FALLBACK),
     "... trapezoid fallback, flagged");
  like(r.notes, "no eligible parametric curve", "... and said why");
  ok((r.cand[RKIN_TAC_BI].warn & RKIN_TAC_W_NOT_TRIED)
     && r.cand[RKIN_TAC_BI].status == RKIN_TAC_NOT_TRIED,
     "bi with 2 points: not tried, flagged");

  /* A candidate held at physical decay that is not chosen still carries
   * its flag and note (mono data slower than physical decay, 3 % misfit
   * at 24 h: mono chosen, upwash held with a weight < 0.05). */
  for (i = 0; i < 4; i++) a4[i] = rkin_tac_curve(RKIN_TAC_MONO, p4, t4[i]);
  a4[1] *= 1.03;
  d = data(4, t4, a4, NULL);
  rkin_tac_fit(&d, &o, &r, NULL);
  ok(r.chosen != RKIN_TAC_UPWASH
     && r.cand[RKIN_TAC_UPWASH].status == RKIN_TAC_OK
     && (r.cand[RKIN_TAC_UPWASH].warn & RKIN_TAC_W_PHYS),
     "upwash held at physical decay, not chosen: flagged on its candidate");
  like(r.notes, "upwash: effective rate lw wanted slower than physical",
       "... and its note is in the result notes");
  o.models = 1u << RKIN_TAC_MONO;
  rkin_tac_fit(&d, &o, &r, NULL);
  like(r.cand[RKIN_TAC_BI].note, "not requested",
       "unrequested candidate: note 'not requested'");
  ok((r.cand[RKIN_TAC_BI].warn & RKIN_TAC_W_NOT_TRIED)
     && !strstr(r.notes, "bi:"),
     "... flagged not_tried, kept out of the result notes");
  ok(!strcmp(rkin_tac_warn_name(RKIN_TAC_W_PHYS), "held_at_physical"),
     "flag name of the physical-decay hold");
  ok(!strcmp(rkin_tac_warn_name(RKIN_TAC_W_INELIGIBLE), "not_eligible"),
     "flag name of an ineligible candidate");
  ok(rkin_tac_warn_name(1u << RKIN_TAC_NWARN) == NULL
     && rkin_tac_warn_name(3) == NULL, "no name for unknown or several bits");
}

/* AIC, AICc and Akaike weights recomputed by hand from the residuals
 * (Burnham & Anderson 2002, eqs. 2.1, 2.14 and 2.15): Gaussian -2 log L
 * = sum log(2 pi sigma_i^2) + sum (r_i / sigma_i)^2 with sigma_i = cv a_i
 * known, or with the scale estimated (MLE s^2 = chi2 / n, one more
 * parameter): sum log(2 pi a_i^2) + n log(chi2 / n) + n. k = free curve
 * parameters (+1 for the scale); AICc = AIC + 2k(k+1)/(n-k-1);
 * w_m = exp(-(AICc_m - min)/2) / sum. Tolerance rel. 1e-9. */
static void test_aic_by_hand(void)
{
  double t[7] = {1, 4, 12, 24, 48, 96, 168}, a[7];
  double p[3] = {200, 0.015, 0.25};
  double noise[7] = {1.06, 0.95, 1.03, 0.97, 1.04, 0.98, 1.02};
  int pass;
  for (pass = 0; pass < 2; pass++) {
    double cv = pass == 0 ? 0.1 : 0.0, crit[RKIN_TAC_NMODELS];
    double best = HUGE_VAL, wsum = 0;
    rkin_tac_data d;
    rkin_tac_opts o;
    rkin_tac_result r;
    size_t i;
    int m, nr = 0;
    sample(RKIN_TAC_UPWASH, p, 7, t, a);
    for (i = 0; i < 7; i++) a[i] *= noise[i];
    d = data(7, t, a, NULL);
    rkin_tac_opts_default(&o);
    o.cv = cv;
    o.models = (1u << RKIN_TAC_MONO) | (1u << RKIN_TAC_BI)
               | (1u << RKIN_TAC_UPWASH);
    rkin_tac_fit(&d, &o, &r, NULL);
    for (m = 0; m < RKIN_TAC_TRAP; m++) {
      const rkin_tac_cand *c = &r.cand[m];
      double chi2 = 0, m2ll = 0, aic;
      int k = c->np + (cv > 0 ? 0 : 1), j;
      crit[m] = NAN;
      if (c->status != RKIN_TAC_OK) continue;
      for (j = 0; j < c->np; j++)
        if (c->fixed & (1u << j)) k--;
      for (i = 0; i < 7; i++) {
        double s = (cv > 0 ? cv : 1.0) * a[i];
        double res = a[i] - rkin_tac_curve((rkin_tac_model)m, c->p, t[i]);
        chi2 += res * res / (s * s);
        m2ll += log(2 * M_PI * s * s);
      }
      m2ll += cv > 0 ? chi2 : 7 * log(chi2 / 7) + 7;
      aic = m2ll + 2 * k;
      is_double(c->aic, aic, 1e-9, "%s %s: AIC = -2 log L + 2k by hand "
                "(k = %d, rel. 1e-9)", cv > 0 ? "known cv" : "scale est.",
                rkin_tac_model_name((rkin_tac_model)m), k);
      crit[m] = aic + 2.0 * k * (k + 1) / (7.0 - k - 1);
      is_double(c->aicc, crit[m], 1e-9, "%s %s: AICc = AIC + 2k(k+1)/(n-k-1)"
                " by hand (rel. 1e-9)", cv > 0 ? "known cv" : "scale est.",
                rkin_tac_model_name((rkin_tac_model)m));
      best = fmin(best, crit[m]);
      nr++;
    }
    for (m = 0; m < RKIN_TAC_TRAP; m++)
      if (isfinite(crit[m])) wsum += exp(-0.5 * (crit[m] - best));
    for (m = 0; m < RKIN_TAC_TRAP; m++)
      if (isfinite(crit[m]))
        is_double(r.cand[m].weight, exp(-0.5 * (crit[m] - best)) / wsum,
                  1e-9, "%s %s: Akaike weight exp(-dAICc/2)/sum by hand",
                  cv > 0 ? "known cv" : "scale est.",
                  rkin_tac_model_name((rkin_tac_model)m));
    ok(nr >= 2, "%s: at least two candidates ranked (%d)",
       cv > 0 ? "known cv" : "scale est.", nr);
  }
}

/* Trapezoid + physical tail by hand, and the fallback with one point. */
static void test_trapezoid(void)
{
  double t[2] = {24, 72}, a[2] = {100, 50}, sd[2] = {10, 5};
  /* 0.5*24*100 + 0.5*48*(100+50) + 50/l_phys */
  double want = 1200 + 3600 + 50 / LP_LU;
  /* coefficients 12+24 = 36 and 24 + 1/l_phys: var = 36^2 10^2 + ... */
  double var = 36.0 * 36 * 100 + pow(24 + 1 / LP_LU, 2) * 25;
  rkin_tac_data d = data(2, t, a, sd);
  rkin_tac_opts o;
  rkin_tac_cand c;
  rkin_tac_result r;
  rkin_tac_opts_default(&o);
  rkin_tac_fit_one(&d, &o, RKIN_TAC_TRAP, &c, NULL);
  is_double(c.tia, want, 1e-12, "trapezoid (A(0) = 0) + tail by hand");
  is_double(c.tia_se, sqrt(var), 1e-12, "trapezoid SE by hand");
  is_double(c.tail_share, 50 / LP_LU / want, 1e-12,
            "trapezoid tail share by hand");
  o.trap_a0 = RKIN_TAC_TRAP_FLAT;
  rkin_tac_fit_one(&d, &o, RKIN_TAC_TRAP, &c, NULL);
  is_double(c.tia, want + 1200, 1e-12, "trapezoid with A(0) = A(t1)");
  d.n = 1;
  rkin_tac_opts_default(&o);
  rkin_tac_fit(&d, &o, &r, NULL);
  ok(r.chosen == RKIN_TAC_TRAP && (r.warn & RKIN_TAC_W_FALLBACK),
     "one point: no curve fitted, trapezoid fallback flagged");
  is_double(r.tia, 1200 + 100 / LP_LU, 1e-12,
            "one point: 0.5*24*100 + 100/l_phys");
  like(r.notes, "trapezoid + physical-decay tail used", "fallback note");
}

/* Non-convergence is reported, never a number as if fine. */
static void test_noconv(void)
{
  double t[5] = {1, 4, 24, 72, 168}, a[5], p[3] = {120, 0.012, 0.3};
  rkin_tac_data d;
  rkin_tac_opts o;
  rkin_tac_cand c;
  rkin_tac_result r;
  sample(RKIN_TAC_UPWASH, p, 5, t, a);
  a[0] *= 1.4;
  d = data(5, t, a, NULL);
  rkin_tac_opts_default(&o);
  o.cv = 0.1;
  o.maxeval = 2;
  rkin_tac_fit_one(&d, &o, RKIN_TAC_UPWASH, &c, NULL);
  ok(c.status == RKIN_TAC_FAILED && isnan(c.tia) && isnan(c.p[0]),
     "2 evaluations: FAILED, TIA and parameters NaN");
  like(c.note, "did not converge", "note says it did not converge");
  rkin_tac_fit(&d, &o, &r, NULL);
  ok(r.chosen == RKIN_TAC_TRAP && (r.warn & RKIN_TAC_W_NOCONV)
     && (r.warn & RKIN_TAC_W_FALLBACK),
     "all candidates fail: trapezoid fallback, both warnings set");
  like(r.notes, "did not converge", "result notes say so");
}

/* A rising last point is warned about with the extrapolated share. */
static void test_rising(void)
{
  double t[4] = {4, 24, 72, 168}, a[4] = {20, 60, 90, 100};
  rkin_tac_data d = data(4, t, a, NULL);
  rkin_tac_opts o;
  rkin_tac_result r;
  rkin_tac_opts_default(&o);
  o.cv = 0.1;
  rkin_tac_fit(&d, &o, &r, NULL);
  ok(r.warn & RKIN_TAC_W_RISING, "rising last point flagged");
  like(r.notes, "rises at the last point (t = 168 h)", "note names t");
  like(r.notes, "% of the TIA lies beyond it", "note gives the share");
  ok(r.cand[r.chosen].tail_share > 0.5,
     "chosen curve's extrapolated share > 50 %% here");
}

static void test_bootstrap(void)
{
  double t[5] = {1, 4, 24, 72, 168}, a[5], p[3] = {120, 0.012, 0.3};
  double noise[5] = {1.03, 0.97, 1.02, 0.96, 1.04};
  rkin_tac_data d;
  rkin_tac_opts o;
  rkin_tac_result r1, r2;
  size_t i;
  sample(RKIN_TAC_UPWASH, p, 5, t, a);
  for (i = 0; i < 5; i++) a[i] *= noise[i];
  d = data(5, t, a, NULL);
  rkin_tac_opts_default(&o);
  o.cv = 0.05;
  o.boot = 400;
  o.seed = 7;
  o.models = 1u << RKIN_TAC_UPWASH;
  rkin_tac_fit(&d, &o, &r1, NULL);
  rkin_tac_fit(&d, &o, &r2, NULL);
  ok(r1.boot_lo == r2.boot_lo && r1.boot_hi == r2.boot_hi,
     "bootstrap with the same seed is reproducible");
  ok(r1.boot_lo < r1.tia && r1.tia < r1.boot_hi,
     "bootstrap interval contains the estimate");
  /* near-linear problem (5 % noise): percentile and Wald widths agree
   * within 25 % */
  is_double(r1.boot_hi - r1.boot_lo, r1.tia_hi - r1.tia_lo, 0.25,
            "bootstrap width ~ delta-method width (rel. 0.25)");
}

/* Single-time-point formulas against hand-computed values. */
static void test_stp(void)
{
  rkin_tac_stp s;
  rkin_err err;
  double l = log(2.0) / 48.0, p[2];
  /* Haenscheid: 100 MBq at 48 h: 100 * 96 / 0.69314718 = 13849.8 */
  rkin_tac_stp_haenscheid(48, 100, 5, 0.95, &s, NULL);
  is_double(s.tia, 13849.8, 1e-5, "Haenscheid 100 MBq at 48 h = 13849.8");
  is_double(s.tia_se, 5 * 96 / log(2.0), 1e-12, "Haenscheid SE = sd 2t/ln2");
  /* exact for a mono-exponential whose half-life is the imaging time */
  p[0] = 250;
  p[1] = l;
  rkin_tac_stp_haenscheid(48, rkin_tac_curve(RKIN_TAC_MONO, p, 48), 0, 0.95,
                          &s, NULL);
  is_double(s.tia, rkin_tac_integral(RKIN_TAC_MONO, p), 1e-12,
            "Haenscheid exact when T_eff = t (Haenscheid 2018)");
  ok(isnan(s.tia_se), "no sd: SE NaN");
  /* population rate 0.01 /h, 50 MBq at 72 h: 50 e^0.72 / 0.01
   * = 5000 * 2.0544332 = 10272.17 */
  rkin_tac_stp_poplambda(72, 50, 0, 0.01, 0, 0.95, &s, NULL);
  is_double(s.tia, 10272.17, 1e-6, "population rate: 50 e^0.72/0.01");
  rkin_tac_stp_poplambda(72, 50, 0, 0.01, 0.001, 0.95, &s, NULL);
  /* dTIA/dl = 50 e^0.72 (72/0.01 - 1/1e-4) = -2876.2 * ... by hand */
  is_double(s.tia_se, fabs(50 * exp(0.72) * (7200 - 10000)) * 0.001, 1e-12,
            "population rate SE from l_sd (delta method)");
  ok(rkin_tac_stp_haenscheid(-1, 100, 0, 0.95, &s, &err) == RKIN_EINVAL,
     "Haenscheid: negative time rejected");
  like(err.msg, "time t = -1 h", "message names the time");
  ok(rkin_tac_stp_poplambda(24, 100, 0, 0, 0, 0.95, &s, &err)
     == RKIN_EINVAL, "population rate 0 rejected");
  like(err.msg, "effective rate l = 0", "message names the rate");
  ok(rkin_tac_stp_haenscheid(24, NAN, 0, 0.95, &s, &err) == RKIN_EINVAL,
     "Haenscheid: NaN activity rejected");
  like(err.msg, "activity A(t) = nan", "message names the activity");
}

/* MAP: a very tight prior returns the prior; a flat prior returns the
 * weighted least-squares fit. */
static void test_map(void)
{
  double t[4] = {4, 24, 72, 168}, a[4], p[3] = {150, 0.02, 0.25}, sd[4];
  double noise[4] = {1.05, 0.96, 1.03, 0.98};
  rkin_tac_prior pr;
  rkin_tac_data d;
  rkin_tac_cand c, ls;
  rkin_tac_opts o;
  rkin_err err;
  size_t i;
  int j, rc;
  sample(RKIN_TAC_UPWASH, p, 4, t, a);
  for (i = 0; i < 4; i++) a[i] *= noise[i];
  memset(&pr, 0, sizeof pr);
  pr.model = RKIN_TAC_UPWASH;
  pr.typ[0] = 100;
  pr.typ[1] = 0.03;
  pr.typ[2] = 0.4;
  pr.cv = 0.1;
  for (j = 0; j < 3; j++) pr.omega[j] = 1e-7;
  d = data(1, t + 1, a + 1, NULL);
  rc = rkin_tac_map(&d, &pr, 0.95, &c, &err);
  ok(rc == 0 && c.status == RKIN_TAC_OK, "MAP, tight prior, 1 point: ok");
  for (j = 0; j < 3; j++)
    is_double(c.p[j], pr.typ[j], 1e-6, "tight prior returns typical %s "
              "(rel. 1e-6)", rkin_tac_par_name(pr.model, j));
  ok(c.tia_se < 1e-3 * c.tia, "tight prior: TIA SE ~ 0");
  /* flat prior, known sd (10 % of each point): the posterior is the
   * weighted least-squares likelihood (with cv x predicted the MAP is the
   * extended least-squares estimate instead: checked in test_map_prop) */
  for (i = 0; i < 4; i++) sd[i] = 0.1 * a[i];
  d = data(4, t, a, sd);
  for (j = 0; j < 3; j++) pr.omega[j] = 1e4;
  rc = rkin_tac_map(&d, &pr, 0.95, &c, &err);
  rkin_tac_opts_default(&o);
  rkin_tac_fit_one(&d, &o, RKIN_TAC_UPWASH, &ls, NULL);
  ok(rc == 0 && ls.status == RKIN_TAC_OK, "flat prior MAP and LS fit ok");
  for (j = 0; j < 3; j++)
    is_double(c.p[j], ls.p[j], 1e-5, "flat prior returns the LS %s "
              "(rel. 1e-5)", rkin_tac_par_name(pr.model, j));
  is_double(c.tia, ls.tia, 1e-5, "flat prior: TIA = LS TIA (rel. 1e-5)");
  is_double(c.tia_se, ls.tia_se, 1e-3,
            "flat prior: TIA SE = LS delta-method SE (rel. 1e-3)");
  /* one point between: the posterior mode lies between prior and data */
  for (j = 0; j < 3; j++) pr.omega[j] = 0.3;
  d = data(1, t + 2, a + 2, NULL);
  rc = rkin_tac_map(&d, &pr, 0.95, &c, &err);
  ok(rc == 0 && isfinite(c.tia_se) && c.tia_se > 0,
     "one point, 30 %% BSV: TIA with a finite SE");
  pr.typ[1] = LP_LU * 0.5;
  ok(rkin_tac_map(&d, &pr, 0.95, &c, &err) == RKIN_EINVAL,
     "MAP: typical rate below physical decay rejected");
  like(err.msg, "typical lw = ", "message names the parameter");
  /* Rates swapped: 100 (e^-0.4t - e^-0.03t) < 0 for every t > 0, TIA
   * 100 (1/0.4 - 1/0.03) = -3083 MBq h: must be refused, not returned. */
  pr.typ[1] = 0.4;
  pr.typ[2] = 0.03;
  ok(rkin_tac_map(&d, &pr, 0.95, &c, &err) == RKIN_EINVAL,
     "MAP: upwash prior with lw > lu (negative curve) rejected");
  like(err.msg, "typical lu = 0.03 /h: expected faster than lw = 0.4",
       "message names both rates");
  pr.typ[2] = 0.4;
  pr.typ[1] = 0.03;
  pr.cv = 0;
  ok(rkin_tac_map(&d, &pr, 0.95, &c, &err) == RKIN_EINVAL,
     "MAP: no sd and no cv rejected");
  like(err.msg, "residual cv = 0", "message names cv");
}

/* -2 log posterior of a MAP prior by hand (tac.h, rkin_tac_map): eta of
 * the estimated parameters (omega > 0) in order; proportional error
 * s = cv f on the prediction with its log term, or s = sd when given. */
static double hand_m2lp(const rkin_tac_prior *pr, const rkin_tac_data *d,
                        const double *eta)
{
  double p[5], obj = 0;
  int j, k = 0, np = rkin_tac_model_npar(pr->model);
  size_t i;
  for (j = 0; j < np; j++) {
    int rate = j % 2 == 1 || (pr->model == RKIN_TAC_UPWASH && j == 2)
               || (pr->model == RKIN_TAC_TRI && j == 4);
    p[j] = pr->typ[j];
    if (pr->omega[j] > 0) {
      p[j] = rate ? LP_LU + (pr->typ[j] - LP_LU) * exp(eta[k])
                  : pr->typ[j] * exp(eta[k]);
      obj += eta[k] * eta[k] / (pr->omega[j] * pr->omega[j]);
      k++;
    }
  }
  for (i = 0; i < d->n; i++) {
    double f = rkin_tac_curve(pr->model, p, d->t[i]);
    double s = d->sd ? d->sd[i] : pr->cv * f;
    obj += (d->a[i] - f) * (d->a[i] - f) / (s * s) + log(s * s);
  }
  return obj;
}

/* eta of the estimate c (inverse of the prior's parametrisation). */
static void hand_eta(const rkin_tac_prior *pr, const rkin_tac_cand *c,
                     double *eta)
{
  int j, k = 0, np = rkin_tac_model_npar(pr->model);
  for (j = 0; j < np; j++)
    if (pr->omega[j] > 0) {
      int rate = j % 2 == 1 || (pr->model == RKIN_TAC_UPWASH && j == 2)
                 || (pr->model == RKIN_TAC_TRI && j == 4);
      eta[k++] = rate ? log((c->p[j] - LP_LU) / (pr->typ[j] - LP_LU))
                      : log(c->p[j] / pr->typ[j]);
    }
}

/* Largest |d obj / d eta_k| of the hand objective, central differences
 * (step 1e-5). */
static double hand_grad(const rkin_tac_prior *pr, const rkin_tac_data *d,
                        const double *eta, int q)
{
  double e[5], worst = 0;
  int k;
  for (k = 0; k < q; k++) {
    double up, dn;
    memcpy(e, eta, sizeof e);
    e[k] = eta[k] + 1e-5;
    up = hand_m2lp(pr, d, e);
    e[k] = eta[k] - 1e-5;
    dn = hand_m2lp(pr, d, e);
    worst = fmax(worst, fabs(up - dn) / 2e-5);
  }
  return worst;
}

/* The search a single start makes: steepest descent with Armijo
 * backtracking on the hand objective from eta = 0 (central-difference
 * gradient), which stays in the basin of the start. */
static double local_from_prior_mode(const rkin_tac_prior *pr,
                                    const rkin_tac_data *d, int q)
{
  double x[5] = {0}, g[5], y[5], f = hand_m2lp(pr, d, x), step = 1e-2;
  int it, k;
  for (it = 0; it < 200000; it++) {
    double gg = 0, fy;
    for (k = 0; k < q; k++) {
      double e[5];
      memcpy(e, x, sizeof e);
      e[k] += 1e-6;
      g[k] = hand_m2lp(pr, d, e);
      e[k] -= 2e-6;
      g[k] = (g[k] - hand_m2lp(pr, d, e)) / 2e-6;
      gg += g[k] * g[k];
    }
    if (sqrt(gg) < 1e-7) break;
    for (;;) {
      for (k = 0; k < q; k++) y[k] = x[k] - step * g[k];
      fy = hand_m2lp(pr, d, y);
      if (fy <= f - 1e-4 * step * gg || step < 1e-14) break;
      step *= 0.5;
    }
    if (!(fy < f)) break;
    memcpy(x, y, sizeof x);
    f = fy;
    step *= 2;
  }
  return f;
}

/* MAP with the proportional error on the prediction (cv x f, with its log
 * term): objective and optimum against hand calculation, SE against the
 * expected information, and a bimodal posterior. */
static void test_map_prop(void)
{
  double t = 24, a, eta[5], lo = -3, hi = 3, u, f, g;
  rkin_tac_prior pr;
  rkin_tac_data d;
  rkin_tac_cand c;
  rkin_err err;
  int it;
  memset(&pr, 0, sizeof pr);
  /* 1. mono, amplitude only (omega_l = 0), one point 30 % above the
   * typical curve. d/deta of (u - 1)^2/cv^2 + ln(cv^2 f^2) + eta^2/om^2
   * with u = a/f, df/deta = f: 2 (1 - u (u - 1)/cv^2) + 2 eta/om^2, so
   * the mode solves g(eta) = 1 - u(u-1)/cv^2 + eta/om^2 = 0 (bisection;
   * g rises from -inf to +inf, one root here as g' > 0 on the bracket). */
  pr.model = RKIN_TAC_MONO;
  pr.typ[0] = 100;
  pr.typ[1] = 0.02;
  pr.omega[0] = 0.3;
  pr.cv = 0.1;
  a = 1.3 * 100 * exp(-0.02 * t);
  d = data(1, &t, &a, NULL);
  for (it = 0; it < 200; it++) {
    double mid = 0.5 * (lo + hi);
    f = 100 * exp(mid) * exp(-0.02 * t);
    u = a / f;
    g = 1 - u * (u - 1) / (pr.cv * pr.cv) + mid / (0.3 * 0.3);
    if (g > 0) hi = mid;
    else lo = mid;
  }
  ok(rkin_tac_map(&d, &pr, 0.95, &c, &err) == 0, "MAP, cv x predicted: ok");
  is_double(c.p[0], 100 * exp(0.5 * (lo + hi)), 1e-9,
            "mode = root of 1 - u(u-1)/cv^2 + eta/omega^2 (bisection, "
            "rel. 1e-9)");
  hand_eta(&pr, &c, eta);
  is_double(c.map_obj, hand_m2lp(&pr, &d, eta), 1e-12,
            "map_obj = (a-f)^2/(cv f)^2 + ln (cv f)^2 + eta^2/om^2 by hand");
  /* expected information of eta: (df/f)^2 (1/cv^2 + 2) + 1/om^2, with
   * df/f = 1; TIA = A/l so sd(TIA) = TIA sd(eta) */
  is_double(c.tia_se, c.tia / sqrt(1 / (0.1 * 0.1) + 2 + 1 / (0.3 * 0.3)),
            1e-9, "TIA SE = TIA / sqrt(1/cv^2 + 2 + 1/omega^2) (rel. 1e-9)");
  /* 2. both parameters, three points: stationary point of the hand
   * objective, same objective value */
  {
    double tt[3] = {4, 24, 96}, aa[3] = {130, 60, 12};
    pr.omega[1] = 0.4;
    d = data(3, tt, aa, NULL);
    ok(rkin_tac_map(&d, &pr, 0.95, &c, &err) == 0, "MAP mono, 2 etas: ok");
    hand_eta(&pr, &c, eta);
    is_double(c.map_obj, hand_m2lp(&pr, &d, eta), 1e-12,
              "... map_obj equals the hand objective at the estimate");
    ok(hand_grad(&pr, &d, eta, 2) < 1e-5,
       "... and the hand objective is stationary there (|grad| %.2g)",
       hand_grad(&pr, &d, eta, 2));
  }
  /* a late point below detection (0 MBq) is data too: finite result */
  {
    double tz[3] = {4, 24, 168}, az[3] = {130, 60, 0};
    d = data(3, tz, az, NULL);
    ok(rkin_tac_map(&d, &pr, 0.95, &c, &err) == 0 && isfinite(c.tia)
       && c.tia > 0 && isfinite(c.map_obj),
       "MAP with a late 0 MBq point: finite TIA %.6g", c.tia);
  }
  /* 3. Bimodal: bi prior 200 e^-0.01t + 300 e^-0.1t, omega 0.5 on all
   * four etas, cv 0.1, one point at 4 h at 5 x the typical value. Either
   * term can take up the excess: the single L-BFGS search from eta = 0
   * (tac_map_run with 1 start, as the engine did before) ends in the
   * worse mode (-2 log posterior 28.65 when written, TIA +172 %); the
   * multi-start must find the better one (26.81), flag the disagreement
   * and name the prior-mode start. A second case with the point 50 x
   * below the prior at 24 h (omega 0.4) has a mode that a steepest
   * descent from eta = 0 on the hand objective misses (99.9 against
   * 70.3): the engine must return the better one too. */
  {
    double tb = 4, ab, worse;
    rkin_tac_cand c1;
    int j;
    memset(&pr, 0, sizeof pr);
    pr.model = RKIN_TAC_BI;
    pr.typ[0] = 200;
    pr.typ[1] = 0.01;
    pr.typ[2] = 300;
    pr.typ[3] = 0.1;
    for (j = 0; j < 4; j++) pr.omega[j] = 0.5;
    pr.cv = 0.1;
    ab = 5 * rkin_tac_curve(RKIN_TAC_BI, pr.typ, tb);
    d = data(1, &tb, &ab, NULL);
    ok(tac_map_run(&d, &pr, 0.95, 1, &c1, &err) == 0
       && rkin_tac_map(&d, &pr, 0.95, &c, &err) == 0,
       "bimodal MAP: single start and multi-start ok");
    hand_eta(&pr, &c, eta);
    diag("single start: %.6g (TIA %.6g); multi-start: %.6g (TIA %.6g)",
         c1.map_obj, c1.tia, c.map_obj, c.tia);
    ok(c.map_obj < c1.map_obj - 1.0,
       "multi-start mode beats the single search from eta = 0 by > 1 "
       "(%.4g < %.4g)", c.map_obj, c1.map_obj);
    ok(!(c1.warn & RKIN_TAC_W_MULTIMODAL),
       "... which alone could not tell (no flag)");
    is_double(c.map_obj, hand_m2lp(&pr, &d, eta), 1e-12,
              "... its map_obj is the hand objective at its estimate");
    ok(hand_grad(&pr, &d, eta, 4) < 1e-4,
       "... at a stationary point of the hand objective");
    ok(c.warn & RKIN_TAC_W_MULTIMODAL, "... modes disagree: flagged");
    like(c.note, "(from the prior mode)", "... note names the prior-mode "
         "start's other mode: %s", c.note);
    tb = 24;
    for (j = 0; j < 4; j++) pr.omega[j] = 0.4;
    ab = 0.02 * rkin_tac_curve(RKIN_TAC_BI, pr.typ, tb);
    worse = local_from_prior_mode(&pr, &d, 4);
    ok(rkin_tac_map(&d, &pr, 0.95, &c, &err) == 0, "second case: ok");
    hand_eta(&pr, &c, eta);
    ok(c.map_obj < worse - 1.0 && hand_grad(&pr, &d, eta, 4) < 1e-4,
       "... stationary, and better than a steepest descent from eta = 0 "
       "(%.4g < %.4g)", c.map_obj, worse);
  }
}

static void expect_bad(const rkin_tac_data *d, const char *part,
                       const char *what)
{
  rkin_tac_result r;
  rkin_err err;
  rkin_err_clear(&err);
  ok(rkin_tac_fit(d, NULL, &r, &err) < 0, "bad input rejected: %s", what);
  like(err.msg, part, "message for %s", what);
}

static void test_bad_input(void)
{
  double t[3] = {4, 24, 72}, a[3] = {100, 80, 40}, sd[3] = {1, 0, 1};
  double tdup[3] = {4, 24, 24}, tneg[3] = {-1, 24, 72};
  double tdown[3] = {4, 72, 24}, tnan[3] = {4, NAN, 72};
  double aneg[3] = {100, -5, 40}, azero[3] = {100, 0, 40};
  double alate[3] = {100, 50, 0}, anan[3] = {100, NAN, 40};
  rkin_tac_data d = data(0, t, a, NULL);
  rkin_tac_result r;
  rkin_tac_model m;
  rkin_err err;
  expect_bad(&d, "no time points", "0 points");
  d = data(3, tdup, a, NULL);
  expect_bad(&d, "duplicate time 24 h at points 2 and 3", "duplicate time");
  d = data(3, tneg, a, NULL);
  expect_bad(&d, "time of point 1 is negative (-1 h)", "negative time");
  d = data(3, tdown, a, NULL);
  expect_bad(&d, "times not increasing: point 3", "unsorted times");
  d = data(3, tnan, a, NULL);
  expect_bad(&d, "time of point 2 is nan", "NaN time");
  d = data(3, t, aneg, NULL);
  expect_bad(&d, "activity of point 2 (t = 24 h) is negative", "negative a");
  d = data(3, t, azero, NULL);
  expect_bad(&d, "zero is allowed only at late times", "zero before > 0");
  d = data(3, t, anan, NULL);
  expect_bad(&d, "activity of point 2 (t = 24 h) is nan", "NaN activity");
  d = data(3, t, a, sd);
  expect_bad(&d, "sd of point 2 (t = 24 h) is 0 MBq", "zero sd");
  d = data(3, t, a, NULL);
  d.nuclide = "Lu-178";
  expect_bad(&d, "TAC data: ", "unknown nuclide");
  rkin_tac_fit(&d, NULL, &r, &err);
  like(err.msg, "Lu-178", "unknown nuclide message names it");
  d.nuclide = NULL;
  expect_bad(&d, "nuclide not given", "no nuclide");
  d = data(3, t, alate, NULL);
  ok(rkin_tac_fit(&d, NULL, &r, &err) == 0, "zero at the last time accepted");
  ok(rkin_tac_model_find("quad", &m, &err) == RKIN_ENOTFOUND,
     "unknown model name rejected");
  like(err.msg, "unknown TAC model 'quad'", "message names the model");
}

/* Issue 12: activities near DBL_MAX made a fit's note print "NLopt
 * (null)" (no start better than another, the result code unset). */
static void test_huge_activities(void)
{
  double t[6] = {4, 24, 48, 72, 120, 168};
  double a[6] = {1e308, 1e200, 1e100, 1e50, 1, 0.5};
  size_t n, k, nulls = 0, said = 0;
  for (n = 3; n <= 6; n += 3) {
    rkin_tac_data d = data(n, t, a, NULL);
    rkin_tac_result r;
    rkin_err err;
    if (rkin_tac_fit(&d, NULL, &r, &err) != 0) continue;
    for (k = 0; k < RKIN_TAC_NMODELS; k++) {
      nulls += strstr(r.cand[k].note, "(null)") != NULL;
      said += strstr(r.cand[k].note, "not finite at any start (") != NULL
              && strstr(r.cand[k].note, "NLopt FAILURE after") != NULL;
    }
  }
  ok(nulls == 0, "activities up to 1e308: no note prints a NULL string");
  ok(said >= 2, "... a failed candidate says its objective was not finite "
     "and the NLopt result (%zu notes)", said);
}

/* Model averaging: the averaged TIA and its unconditional SE against
 * Burnham & Anderson 2002 (Model Selection and Multimodel Inference, 2nd
 * ed., eq. 2.14 for the Akaike weights, eq. 4.9 for the SE):
 *   w_i = exp(-D_i/2) / sum exp(-D_j/2), D_i = AICc_i - min AICc,
 *   avg = sum w_i tia_i,  SE = sum w_i sqrt(se_i^2 + (tia_i - avg)^2),
 * (Buckland et al. 1997, Biometrics 53:603; B&A's revised eq. 6.12,
 * sqrt(sum w_i (se_i^2 + (tia_i - avg)^2)), is another estimator, not the
 * one tac.c documents), computed here from the candidates' own AICc, TIA
 * and SE (rel. tol. 1e-12: the same sums in another order). The data are chosen so that
 * two candidates share the weight and the between-model term changes the
 * SE by 0.13 %, 1e9 times the tolerance. */
static void test_average_se(void)
{
  static const double t[10] = {0.5, 1, 2, 4, 8, 24, 48, 72, 120, 168};
  double p[4] = {100, 0.01, 0, 0.25};
  double a[10], sd[10], best = HUGE_VAL, wsum = 0, avg = 0, se = 0;
  double w[RKIN_TAC_NMODELS], within = 0, lo = 1;
  rkin_tac_data d;
  rkin_tac_opts o;
  rkin_tac_result r;
  rkin_err err;
  int m, ranked = 0, big = 0, wt_ok = 1, step;
  size_t i;
  rkin_tac_opts_default(&o);
  o.models = (1u << RKIN_TAC_MONO) | (1u << RKIN_TAC_BI);
  o.average = 1;
  /* Exact bi-exponential data with a growing fast component: the first
   * amplitude where mono and bi both keep >= 10 % of the weight (the fast
   * phase is just detectable). Deterministic: no random numbers. */
  for (step = 1; step <= 60; step++) {
    p[2] = step;
    for (i = 0; i < 10; i++) {
      a[i] = rkin_tac_curve(RKIN_TAC_BI, p, t[i]);
      sd[i] = 0.05 * a[i];
    }
    d = data(10, t, a, sd);
    if (rkin_tac_fit(&d, &o, &r, &err)) break;
    lo = fmin(r.cand[RKIN_TAC_MONO].weight, r.cand[RKIN_TAC_BI].weight);
    if (lo >= 0.1) break;
  }
  if (!(lo >= 0.1)) {
    ok(0, "a data set where mono and bi share the weight (%s)", err.msg);
    return;
  }
  diag("averaging: fast amplitude %g, weights mono %.3f, bi %.3f", p[2],
       r.cand[RKIN_TAC_MONO].weight, r.cand[RKIN_TAC_BI].weight);
  for (m = 0; m < RKIN_TAC_TRAP; m++)
    if (r.cand[m].status == RKIN_TAC_OK && isfinite(r.cand[m].aicc)
        && r.cand[m].aicc < best)
      best = r.cand[m].aicc;
  for (m = 0; m < RKIN_TAC_TRAP; m++) {
    w[m] = 0;
    if (r.cand[m].status == RKIN_TAC_OK && isfinite(r.cand[m].aicc)) {
      w[m] = exp(-0.5 * (r.cand[m].aicc - best));
      wsum += w[m];
      ranked++;
    }
  }
  for (m = 0; m < RKIN_TAC_TRAP; m++) {
    w[m] /= wsum;
    if (w[m] > 0.05) big++;
    if (w[m] > 0 && fabs(r.cand[m].weight - w[m]) > 1e-12) wt_ok = 0;
    if (w[m] > 0) avg += w[m] * r.cand[m].tia;
  }
  for (m = 0; m < RKIN_TAC_TRAP; m++)
    if (w[m] > 0) {
      double dev = r.cand[m].tia - avg;
      se += w[m] * sqrt(r.cand[m].tia_se * r.cand[m].tia_se + dev * dev);
      within += w[m] * r.cand[m].tia_se;
    }
  diag("averaging: %d ranked, %d with weight > 0.05; avg %.2f, SE %.3f "
       "(without the between-model term %.3f)", ranked, big, avg, se,
       within);
  ok(ranked >= 2 && big >= 2, "at least two candidates share the weight");
  ok(wt_ok, "Akaike weights = exp(-D/2)/sum (B&A eq. 2.14, 1e-12)");
  is_double(r.tia_avg, avg, 1e-12, "averaged TIA = sum w_i TIA_i");
  is_double(r.tia_avg_se, se, 1e-12, "averaged SE = sum w_i sqrt(se_i^2 + "
            "(TIA_i - avg)^2) (B&A eq. 4.9)");
  is_double(r.tia, avg, 1e-12, "average on: reported TIA is the average");
  is_double(r.tia_se, se, 1e-12, "... and its SE the unconditional one");
  ok(se - within > 1e-4 * se, "the between-model term adds > 0.01 %% here "
     "(%.3f %%), >> the 1e-12 tolerance (power of the check)",
     100 * (se / within - 1));
  /* Bounds from the norm of (se_i, TIA_i - avg) alone, whatever the
   * weights: Minkowski gives SE >= |sum w_i (se_i, |dev_i|)| = sqrt(W^2 +
   * B^2), the triangle inequality SE <= W + B (W = sum w_i se_i, B = sum
   * w_i |dev_i|). Here sqrt(W^2 + B^2) exceeds W by ~5e-4 relative, so a
   * SE without the between-model term (= W) falls below it. */
  {
    double b = 0, lo_b;
    for (m = 0; m < RKIN_TAC_TRAP; m++)
      if (w[m] > 0) b += w[m] * fabs(r.cand[m].tia - avg);
    lo_b = sqrt(within * within + b * b);
    diag("averaging: W %.4f, B %.4f, sqrt(W^2 + B^2) %.4f, W + B %.4f",
         within, b, lo_b, within + b);
    ok(r.tia_avg_se >= lo_b * (1 - 1e-12) && lo_b > within * (1 + 1e-6)
       && r.tia_avg_se <= (within + b) * (1 + 1e-12), "averaged SE %.4f in "
       "[sqrt(W^2 + B^2), W + B] (Minkowski, triangle; rel 1e-12)",
       r.tia_avg_se);
  }
}

/* Delta-method TIA SE of a mono-exponential fit, by hand: exact data from
 * A e^{-l t} with known sd_i, so the estimates are (A, l) and SE^2 = g'
 * (J'WJ)^-1 g with J_i = (e^{-l t_i}, -A t_i e^{-l t_i}), W = diag
 * 1/sd_i^2 and g = dTIA/d(A, l) = (1/l, -A/l^2) (TIA = A/l). Rel. tol.
 * 1e-6 (fit convergence). A wrong dTIA/dl or a dropped covariance term
 * moves the SE by far more: both are computed and shown outside. */
static void test_delta_se(void)
{
  static const double t[5] = {1, 4, 24, 72, 168};
  const double A = 100, l = 0.02;
  double a[5], sd[5], m00 = 0, m01 = 0, m11 = 0, det, c00, c01, c11;
  double g0 = 1 / l, g1 = -A / (l * l), se, se_nocov, se_badg;
  rkin_tac_data d;
  rkin_tac_opts o;
  rkin_tac_cand c;
  rkin_err err;
  size_t i;
  for (i = 0; i < 5; i++) {
    double e = exp(-l * t[i]), j0 = e, j1 = -A * t[i] * e, w;
    a[i] = A * e;
    sd[i] = 0.05 * a[i];
    w = 1 / (sd[i] * sd[i]);
    m00 += w * j0 * j0;
    m01 += w * j0 * j1;
    m11 += w * j1 * j1;
  }
  det = m00 * m11 - m01 * m01;
  c00 = m11 / det;
  c01 = -m01 / det;
  c11 = m00 / det;
  se = sqrt(g0 * g0 * c00 + 2 * g0 * g1 * c01 + g1 * g1 * c11);
  se_nocov = sqrt(g0 * g0 * c00 + g1 * g1 * c11);
  se_badg = sqrt(g0 * g0 * c00 + 2 * g0 * (-A / l) * c01
                 + (A / l) * (A / l) * c11);
  d = data(5, t, a, sd);
  rkin_tac_opts_default(&o);
  ok(rkin_tac_fit_one(&d, &o, RKIN_TAC_MONO, &c, &err) == 0
     && c.status == RKIN_TAC_OK, "mono fit of exact data with known sd");
  is_double(c.tia, A / l, 1e-6, "TIA = A/l = 5000");
  is_double(c.tia_se, se, 1e-6, "TIA SE = sqrt(g' (J'WJ)^-1 g) by hand "
            "(%.4f)", se);
  ok(fabs(se_nocov / se - 1) > 1e-3 && fabs(se_badg / se - 1) > 1e-3,
     "... without the covariance (%.4f) or with dTIA/dl = -A/l (%.4f) it "
     "would differ by > 0.1 %% (power of the check)", se_nocov, se_badg);
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  double tm[5] = {1, 4, 24, 72, 168}, pm[2] = {100, 0.02};
  double tu[6] = {1, 4, 24, 48, 96, 168}, pu[3] = {120, 0.015, 0.3};
  test_recovery();
  test_physical_bound();
  test_selection();
  test_coverage(RKIN_TAC_MONO, pm, 5, tm, 0.05, 1);
  test_coverage(RKIN_TAC_UPWASH, pu, 6, tu, 0.05, 0);
  test_aicc_undefined();
  test_eligibility();
  test_aic_by_hand();
  test_trapezoid();
  test_noconv();
  test_rising();
  test_bootstrap();
  test_stp();
  test_map();
  test_map_prop();
  test_bad_input();
  test_huge_activities();
  test_average_se();
  test_delta_se();
  done_testing();
  return exit_status();
}
