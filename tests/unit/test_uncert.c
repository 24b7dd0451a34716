/* test_uncert.c - the measurement model per time point and the propagation
 * of its uncertainty to TIA, dose, BED and cumulative BED
 * (engine/uncert/). Expected numbers are computed here by hand from the
 * formulas named in each test; statistical checks are seeded. */
#include <math.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core/init.h"
#include "core/nuclide.h"
#include "dose/dosimetry.h"
#include "dose/radiobio.h"
#include "uncert/uncert.h"
#include "../tap.h"

/* A sphere-phantom recovery table generated from rc_max 0.95, v50 1.5 mL,
 * k 1.2 (noise free), sd 0.02 per row. */
static const double RC_V[] = {0.5, 1.15, 2.57, 5.58, 11.49, 26.52};
static const double RC_P[] = {0.95, 1.5, 1.2};
static double RC_Y[6], RC_SD[6] = {0.02, 0.02, 0.02, 0.02, 0.02, 0.02};
static rkin_unc_rc RC;

static double rc_true(double v)
{
  return RC_P[0] / (1.0 + pow(RC_P[1] / v, RC_P[2]));
}

static void test_rc(void)
{
  rkin_unc_rc c, c2;
  rkin_err e = {0, ""};
  double sd2[6], g[3], dv, h = 1e-6;
  size_t i;
  int j;
  for (i = 0; i < 6; i++) {
    RC_Y[i] = rc_true(RC_V[i]);
    sd2[i] = 2.0 * RC_SD[i];
  }
  ok(rkin_unc_rc_fit(6, RC_V, RC_Y, RC_SD, &c, &e) == 0, "recovery fit");
  for (j = 0; j < 3; j++)
    is_double(c.p[j], RC_P[j], 1e-6, "recovery parameter %d "
              "recovered from noise-free data", j);
  ok(c.chi2 < 1e-16 && c.dof == 3, "chi2 %g dof %d", c.chi2, c.dof);
  /* covariance (J^T W J)^-1: doubling every sd multiplies it by 4 */
  ok(rkin_unc_rc_fit(6, RC_V, RC_Y, sd2, &c2, &e) == 0, "refit, sd x 2");
  for (j = 0; j < 9; j += 4)
    is_double(c2.cov[j], 4.0 * c.cov[j], 1e-6,
              "covariance diagonal %d scales with sd^2", j / 4);
  /* dRC/dp and dRC/dv against central differences */
  rkin_unc_rc_eval(&c, 3.0, g, &dv);
  for (j = 0; j < 3; j++) {
    rkin_unc_rc a = c, b = c;
    a.p[j] += h;
    b.p[j] -= h;
    is_double(g[j], (rkin_unc_rc_eval(&a, 3.0, NULL, NULL) -
                     rkin_unc_rc_eval(&b, 3.0, NULL, NULL)) / (2 * h), 1e-7,
              "dRC/dp%d", j);
  }
  is_double(dv, (rkin_unc_rc_eval(&c, 3.0 + h, NULL, NULL) -
                 rkin_unc_rc_eval(&c, 3.0 - h, NULL, NULL)) / (2 * h), 1e-7,
            "dRC/dv");
  /* bad tables */
  {
    double vb[6] = {0.5, 1.15, 1.15, 5.58, 11.49, 26.52};
    ok(rkin_unc_rc_fit(6, vb, RC_Y, RC_SD, &c2, &e) == RKIN_EINVAL &&
       strstr(e.msg, "rows 2 and 3"), "repeated volume named: %s", e.msg);
    ok(rkin_unc_rc_fit(2, RC_V, RC_Y, RC_SD, &c2, &e) == RKIN_EINVAL,
       "two rows refused: %s", e.msg);
    ok(rkin_unc_rc_fit(3, RC_V, RC_Y, NULL, &c2, &e) == RKIN_EINVAL,
       "three rows without sd refused (scale needs a fourth)");
  }
  RC = c;
}

static void test_volume_activity(void)
{
  rkin_err e = {0, ""};
  double u, v10 = 4.0 / 3.0 * M_PI * 1.0;   /* r = 10 mm: 4.18879 mL */
  rkin_unc_point pt = {24.0, 1e6, 1000.0, 0.03};
  rkin_unc_meas m = {10.0, 0.4, 3.0, 0.3, &RC, 0};
  rkin_unc_activity a;
  double rc, hi, lo;
  ok(rkin_unc_volume_voxel(v10, 2.0, &u, &e) == 0, "voxel volume SD");
  /* (V(12 mm) - V(8 mm)) / 2 by hand */
  is_double(u, 4.0 / 3.0 * M_PI * (1728.0 - 512.0) / 2.0 / 1000.0, 1e-12,
            "one-voxel boundary change of a 10 mm sphere, 2 mm voxels");
  ok(rkin_unc_volume_voxel(v10, 10.0, &u, &e) == RKIN_ERANGE,
     "voxel as large as the radius refused: %s", e.msg);
  ok(rkin_unc_activity_of(&pt, &m, &a, &e) == 0, "activity");
  rc = rkin_unc_rc_eval(&RC, 3.0, NULL, NULL);
  is_double(a.a_mbq, 1e6 / 1000.0 / (10.0 * rc), 1e-9, "A = C/t/(Q RC)");
  is_double(a.u_rel[RKIN_UNC_COUNTS], sqrt(1e-6 + 0.03 * 0.03), 1e-12,
            "counts: Poisson and extra in quadrature");
  is_double(a.u_rel[RKIN_UNC_CALIB], 0.04, 1e-12, "calibration u(Q)/Q");
  hi = rkin_unc_rc_eval(&RC, 3.0 + 1e-5, NULL, NULL);
  lo = rkin_unc_rc_eval(&RC, 3.0 - 1e-5, NULL, NULL);
  is_double(a.u_rel[RKIN_UNC_VOLUME], (hi - lo) / 2e-5 * 0.3 / rc, 1e-7,
            "volume through RC: dRC/dv u(v) / RC");
  ok(a.u_rel[RKIN_UNC_RECOVERY] > 0.0, "recovery curve term %g",
     a.u_rel[RKIN_UNC_RECOVERY]);
  is_double(a.u_rel_total,
            sqrt(pow(a.u_rel[0], 2) + pow(a.u_rel[1], 2) + pow(a.u_rel[2], 2) +
                 pow(a.u_rel[3], 2)), 1e-12, "total in quadrature");
  pt.counts = 0.0;
  ok(rkin_unc_activity_of(&pt, &m, &a, &e) == RKIN_EINVAL &&
     strstr(e.msg, "counts"), "zero counts refused: %s", e.msg);
}

/* A kidney: 150 mL, density 1.05, LED of Lu-177; counts from a curve. */
#define MAXP 16
typedef struct {
  rkin_unc_point pt[RKIN_UNC_MAX_CYCLES][MAXP];
  rkin_unc_cycle cy[RKIN_UNC_MAX_CYCLES];
  rkin_unc_chain ch;
} patient;

static double curve(rkin_tac_model m, const double *p, double t)
{
  return rkin_tac_curve(m, p, t);
}

static void make_patient(patient *P, rkin_tac_model m, const double *p,
                         size_t n, const double *t, double extra,
                         size_t ncyc, double u_cal_rel, double u_v_rel)
{
  size_t c, i;
  double rc;
  memset(P, 0, sizeof *P);
  P->ch.nuclide = "Lu-177";
  P->ch.region = "kidney";
  P->ch.model = m;
  P->ch.meas.cal = 10.0;
  P->ch.meas.u_cal = u_cal_rel * 10.0;
  P->ch.meas.v_ml = 150.0;
  P->ch.meas.u_v_ml = u_v_rel * 150.0;
  P->ch.meas.rc = &RC;
  P->ch.dose.kind = RKIN_UNC_DOSE_LED;
  P->ch.dose.density = 1.05;
  P->ch.dose.u_density = 0.0;
  P->ch.lq.ab_gy = 2.6;
  P->ch.lq.trep_h = 2.8;
  rc = rkin_unc_rc_eval(&RC, 150.0, NULL, NULL);
  for (c = 0; c < ncyc; c++) {
    for (i = 0; i < n; i++) {
      P->pt[c][i].t_h = t[i];
      P->pt[c][i].t_acq_s = 1200.0;
      P->pt[c][i].counts = curve(m, p, t[i]) * 10.0 * rc * 1200.0;
      P->pt[c][i].u_extra_rel = extra;
    }
    P->cy[c].n = n;
    P->cy[c].pt = P->pt[c];
  }
  P->ch.n_cycles = ncyc;
  P->ch.cyc = P->cy;
}

static const double T4[] = {4, 24, 72, 168};
static const double PMONO[] = {100.0, 0.012};

/* A fully correlated calibration error: scaling Q scales TIA by exactly
 * 1/factor; its variance is (TIA u(Q)/Q)^2, added to the count term; over
 * cycles it adds (sum D_c)^2 (u/Q)^2, not sum D_c^2 (u/Q)^2. */
static void test_calibration(void)
{
  patient P;
  rkin_unc_result r0, r1, r2;
  rkin_err e = {0, ""};
  double sum2 = 0.0;
  size_t c;
  make_patient(&P, RKIN_TAC_MONO, PMONO, 4, T4, 0.05, 3, 0.0, 0.0);
  ok(rkin_unc_delta(&P.ch, &r0, &e) == 0, "delta, no calibration SD: %s",
     e.msg);
  P.ch.meas.u_cal = 0.05 * P.ch.meas.cal;
  ok(rkin_unc_delta(&P.ch, &r1, &e) == 0, "delta, calibration SD 5 %%");
  is_double(r1.tia[0].value, r0.tia[0].value, 1e-9,
            "calibration SD leaves the estimate");
  is_double(r1.tia[0].var[RKIN_UNC_CALIB],
            pow(0.05 * r1.tia[0].value, 2), 1e-6,
            "TIA: calibration adds exactly (TIA u/Q)^2");
  is_double(r1.tia[0].u * r1.tia[0].u - r0.tia[0].u * r0.tia[0].u,
            pow(0.05 * r1.tia[0].value, 2), 1e-6,
            "TIA: total variance grows by exactly that");
  is_double(r1.dose[0].var[RKIN_UNC_CALIB],
            pow(0.05 * r1.dose[0].value, 2), 1e-6,
            "dose: calibration (D u/Q)^2");
  for (c = 0; c < 3; c++) sum2 += pow(r1.dose[c].value, 2);
  is_double(r1.cum_dose.var[RKIN_UNC_CALIB],
            pow(0.05 * r1.cum_dose.value, 2), 1e-6,
            "cumulative dose over 3 cycles: (sum D)^2 (u/Q)^2, fully "
            "correlated (not %g)", 0.0025 * sum2);
  /* Q x 1.1 -> TIA / 1.1 */
  P.ch.meas.cal *= 1.1;
  P.ch.meas.u_cal *= 1.1;
  ok(rkin_unc_delta(&P.ch, &r2, &e) == 0, "delta, Q x 1.1");
  is_double(r2.tia[0].value, r1.tia[0].value / 1.1, 1e-6,
            "Q x 1.1 divides the TIA by exactly 1.1");
  is_double(r2.tia[0].u / r2.tia[0].value, r1.tia[0].u / r1.tia[0].value,
            1e-6, "relative uncertainty unchanged");
  /* budget: sources sum to u^2 */
  {
    double s = 0.0;
    int k;
    for (k = 0; k < RKIN_UNC_NSRC; k++) s += r1.cum_bed.var[k];
    is_double(s, r1.cum_bed.u * r1.cum_bed.u, 1e-12,
              "budget of cumulative BED sums to u^2");
  }
}

/* A 3 mL lesion, where recovery matters: volume and recovery-curve terms
 * by hand (TIA ~ 1/RC(v); LED dose ~ 1/(RC(v) v)); count noise of
 * different cycles independent, so its cumulative variance is the sum. */
static void test_lesion(void)
{
  patient P;
  rkin_unc_result r;
  rkin_err e = {0, ""};
  double g[3], dv, rc, crc = 0.0, uv = 0.3, want;
  size_t i, j;
  make_patient(&P, RKIN_TAC_MONO, PMONO, 4, T4, 0.05, 2, 0.03, 0.0);
  P.ch.meas.v_ml = 3.0;
  P.ch.meas.u_v_ml = uv;
  ok(rkin_unc_delta(&P.ch, &r, &e) == 0, "lesion: delta: %s", e.msg);
  rc = rkin_unc_rc_eval(&RC, 3.0, g, &dv);
  for (i = 0; i < 3; i++)
    for (j = 0; j < 3; j++) crc += g[i] * RC.cov[i * 3 + j] * g[j];
  want = pow(r.tia[0].value * dv / rc * uv, 2);
  is_double(r.tia[0].var[RKIN_UNC_VOLUME], want, 1e-5,
            "TIA volume term (TIA dRC/dv u_v / RC)^2");
  want = pow(r.dose[0].value * (dv / rc + 1.0 / 3.0) * uv, 2);
  is_double(r.dose[0].var[RKIN_UNC_VOLUME], want, 1e-5,
            "dose volume term (D (dRC/dv / RC + 1/v) u_v)^2: recovery and "
            "mass correlated");
  want = pow(r.tia[0].value, 2) * crc / (rc * rc);
  is_double(r.tia[0].var[RKIN_UNC_RECOVERY], want, 1e-5,
            "TIA recovery-curve term TIA^2 g^T C g / RC^2");
  is_double(r.cum_dose.var[RKIN_UNC_COUNTS],
            r.dose[0].var[RKIN_UNC_COUNTS] + r.dose[1].var[RKIN_UNC_COUNTS],
            1e-9, "count noise of cycles independent: variances add");
  is_double(r.cum_dose.var[RKIN_UNC_VOLUME],
            pow(sqrt(r.dose[0].var[RKIN_UNC_VOLUME]) +
                sqrt(r.dose[1].var[RKIN_UNC_VOLUME]), 2), 1e-9,
            "shared volume: standard uncertainties add");
}

/* Counts per mL (the image's value) x volume: the volume scales the
 * activity (1/v - RC'/RC) and cancels from the LED dose but for RC. */
static void test_per_ml(void)
{
  patient P;
  rkin_unc_result r;
  rkin_unc_activity a;
  rkin_err e = {0, ""};
  double dv, rc, uv = 0.3;
  size_t i, j;
  make_patient(&P, RKIN_TAC_MONO, PMONO, 4, T4, 0.05, 1, 0.03, 0.0);
  P.ch.meas.v_ml = 3.0;
  P.ch.meas.u_v_ml = uv;
  P.ch.meas.per_ml = 1;
  for (i = 0; i < 1; i++)
    for (j = 0; j < 4; j++) P.pt[i][j].counts /= 3.0;   /* per mL */
  ok(rkin_unc_delta(&P.ch, &r, &e) == 0, "per mL: delta: %s", e.msg);
  rc = rkin_unc_rc_eval(&RC, 3.0, NULL, &dv);
  is_double(r.tia[0].var[RKIN_UNC_VOLUME],
            pow(r.tia[0].value * (1.0 / 3.0 - dv / rc) * uv, 2), 1e-5,
            "per mL: TIA volume term (TIA (1/v - RC'/RC) u_v)^2");
  is_double(r.dose[0].var[RKIN_UNC_VOLUME],
            pow(r.dose[0].value * dv / rc * uv, 2), 1e-5,
            "per mL: LED dose volume term (D RC'/RC u_v)^2: the mass "
            "cancels the volume");
  ok(rkin_unc_activity_of(&P.pt[0][1], &P.ch.meas, &a, &e) == 0,
     "per mL: activity");
  is_double(a.a_mbq, P.pt[0][1].counts * 3.0 / 1200.0 / (10.0 * rc), 1e-12,
            "A = (C/mL) v / t / (Q RC)");
  is_double(a.u_rel[RKIN_UNC_VOLUME], fabs(uv / 3.0 - dv / rc * uv), 1e-7,
            "per mL: activity volume term");
}

/* Independent count noise averages down: 12 points instead of 3 over the
 * same span; the calibration term does not. */
static void test_average_down(void)
{
  patient A, B;
  rkin_unc_result ra, rb;
  rkin_err e = {0, ""};
  double t3[] = {24, 72, 168}, t12[12];
  size_t i;
  for (i = 0; i < 12; i++) t12[i] = 24.0 + 144.0 * (double)i / 11.0;
  make_patient(&A, RKIN_TAC_MONO, PMONO, 3, t3, 0.05, 1, 0.05, 0.0);
  make_patient(&B, RKIN_TAC_MONO, PMONO, 12, t12, 0.05, 1, 0.05, 0.0);
  ok(rkin_unc_delta(&A.ch, &ra, &e) == 0 && rkin_unc_delta(&B.ch, &rb, &e) == 0,
     "delta, 3 and 12 points");
  diag("count share of u(TIA)/TIA: 3 points %.4f, 12 points %.4f",
       sqrt(ra.tia[0].var[RKIN_UNC_COUNTS]) / ra.tia[0].value,
       sqrt(rb.tia[0].var[RKIN_UNC_COUNTS]) / rb.tia[0].value);
  {
    double q = sqrt(rb.tia[0].var[RKIN_UNC_COUNTS] /
                    ra.tia[0].var[RKIN_UNC_COUNTS]);
    ok(q > 0.4 && q < 0.65, "count SD ratio 12 vs 3 points %.3f (about "
       "sqrt(3/12) = 0.5)", q);
  }
  is_double(sqrt(rb.tia[0].var[RKIN_UNC_CALIB]) / rb.tia[0].value,
            sqrt(ra.tia[0].var[RKIN_UNC_CALIB]) / ra.tia[0].value, 1e-9,
            "calibration share does not average down");
}

static void compare(const char *what, const rkin_unc_q *d, const rkin_unc_q *m,
                    double tol)
{
  double rv = m->u * m->u / (d->u * d->u);
  ok(fabs(rv - 1.0) < tol, "%s: variance MC/delta %.4f (delta u %.4g, MC u "
     "%.4g), within %.0f %%", what, rv, d->u, m->u, 100 * tol);
}

/* Delta method against Monte Carlo, 1e5 draws, near-linear cases. */
static void test_delta_mc(void)
{
  patient P;
  rkin_unc_result rd, rm;
  rkin_err e = {0, ""};
  double t6[] = {1, 4, 24, 48, 96, 168};
  double pbi[] = {60.0, 0.01, 80.0, 0.15};
  make_patient(&P, RKIN_TAC_MONO, PMONO, 4, T4, 0.05, 2, 0.03, 0.05);
  /* alpha/beta 2.6 +- 0.2 Gy: BED is near-linear in it; with +- 0.5 Gy
   * (CV 19 %) the curvature of 1/(alpha/beta) puts the Monte Carlo BED
   * variance about 5 % above the delta method's */
  P.ch.lq.u_ab_gy = 0.2;
  P.ch.lq.u_trep_h = 0.3;
  P.ch.dose.u_density = 0.02;
  ok(rkin_unc_delta(&P.ch, &rd, &e) == 0, "mono: delta");
  ok(rkin_unc_mc(&P.ch, 100000, 7, &rm, &e) == 0, "mono: Monte Carlo 1e5: %s",
     e.msg);
  ok(rm.n_failed == 0, "mono: no failed draw (%zu)", rm.n_failed);
  compare("mono TIA", &rd.tia[0], &rm.tia[0], 0.03);
  compare("mono dose", &rd.dose[0], &rm.dose[0], 0.03);
  compare("mono BED", &rd.bed[0], &rm.bed[0], 0.03);
  compare("mono cumulative BED, 2 cycles", &rd.cum_bed, &rm.cum_bed, 0.03);
  make_patient(&P, RKIN_TAC_BI, pbi, 6, t6, 0.03, 1, 0.03, 0.05);
  ok(rkin_unc_delta(&P.ch, &rd, &e) == 0, "bi: delta: %s", e.msg);
  ok(rkin_unc_mc(&P.ch, 100000, 11, &rm, &e) == 0, "bi: Monte Carlo 1e5: %s",
     e.msg);
  compare("bi TIA", &rd.tia[0], &rm.tia[0], 0.03);
  compare("bi dose", &rd.dose[0], &rm.dose[0], 0.03);
  /* where they part: two points, 30 % noise each; the extrapolated tail
   * 1/l is far from linear in the noise */
  {
    double t2[] = {4, 24};
    make_patient(&P, RKIN_TAC_MONO, PMONO, 2, t2, 0.30, 1, 0.0, 0.0);
    ok(rkin_unc_delta(&P.ch, &rd, &e) == 0, "2 points 30 %%: delta");
    ok(rkin_unc_mc(&P.ch, 20000, 3, &rm, &e) == 0,
       "2 points 30 %%: Monte Carlo: %s", e.msg);
    diag("2 points, 30 %% per point: delta u(TIA)/TIA %.3f, MC %.3f, MC "
         "interval %.0f..%.0f around %.0f", rd.tia[0].u / rd.tia[0].value,
         rm.tia[0].u / rm.tia[0].value, rm.tia[0].lo, rm.tia[0].hi,
         rm.tia[0].value);
    ok(fabs(rm.tia[0].u * rm.tia[0].u / (rd.tia[0].u * rd.tia[0].u) - 1.0) >
       0.10, "there the delta method is off by more than 10 %% in variance");
  }
}

/* Coverage: 1,000 simulated patients with known truth. */
static void test_coverage(void)
{
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  size_t n = 1000, covered = 0, done = 0, i, j;
  gsl_rng_set(g, 2026);
  for (i = 0; i < n; i++) {
    patient P;
    rkin_unc_result r;
    rkin_err e = {0, ""};
    double l = 0.012 * exp(0.3 * gsl_ran_gaussian(g, 1.0));
    double a0 = 60.0 + 80.0 * gsl_rng_uniform(g);
    double p[2] = {a0, l < 0.005 ? 0.005 : l};
    double v_true = 150.0 * exp(0.2 * gsl_ran_gaussian(g, 1.0));
    double q_true = 10.0 * (1.0 + 0.03 * gsl_ran_gaussian(g, 1.0));
    double v_meas = v_true * (1.0 + 0.05 * gsl_ran_gaussian(g, 1.0));
    double rc_true_v = rkin_unc_rc_eval(&RC, v_true, NULL, NULL);
    double s, d_true;
    make_patient(&P, RKIN_TAC_MONO, p, 4, T4, 0.05, 1, 0.03, 0.05);
    P.ch.meas.v_ml = v_meas;
    P.ch.meas.u_v_ml = 0.05 * v_meas;
    for (j = 0; j < 4; j++) {
      double mean = curve(RKIN_TAC_MONO, p, T4[j]) * q_true * rc_true_v *
                    1200.0;
      P.pt[0][j].counts = (double)gsl_ran_poisson(g, mean) *
                          (1.0 + 0.05 * gsl_ran_gaussian(g, 1.0));
    }
    if (rkin_unc_delta(&P.ch, &r, &e)) continue;
    done++;
    rkin_dosimetry_s_led(lu, 1.05 * v_true / 1000.0, "kidney", &s, NULL);
    d_true = rkin_tac_integral(RKIN_TAC_MONO, p) * s;
    if (d_true >= r.dose[0].lo && d_true <= r.dose[0].hi) covered++;
  }
  gsl_rng_free(g);
  ok(done == n, "all %zu simulated patients analysed (%zu)", n, done);
  ok(covered >= 930 && covered <= 970, "95 %% interval of kidney dose covers "
     "the truth in %zu of %zu patients (93-97 %%)", covered, done);
}

/* A course from given doses: independent terms in quadrature, shared
 * terms linearly, by hand; and the same cumulative dose variance as the
 * full chain gives from counts. */
static void test_course(void)
{
  double d[2] = {3.0, 2.0}, u[2] = {0.1, 0.05}, g[2] = {0.1, 0.2};
  rkin_unc_course c = {2, d, u, g, 0.05, 0.03, 0.0, 2.6, 0.5, 0.95};
  rkin_unc_course_result r;
  rkin_err e = {0, ""};
  double k1 = 1 + 2 * 0.1 * 3 / 2.6, k2 = 1 + 2 * 0.2 * 2 / 2.6, want;
  ok(rkin_unc_course_delta(&c, &r, &e) == 0, "course");
  is_double(r.cum_dose.u, sqrt(0.09 + 0.01 + 0.0034 * 25), 1e-12,
            "cumulative dose: sqrt(0.3^2 + 0.1^2 + (0.05^2 + 0.03^2) 5^2)");
  want = pow(k1 * 0.3, 2) + pow(k2 * 0.1, 2) +
         0.0034 * pow(k1 * 3 + k2 * 2, 2) +
         pow((0.1 * 9 + 0.2 * 4) / (2.6 * 2.6) * 0.5, 2);
  is_double(r.cum_bed.u, sqrt(want), 1e-12, "cumulative BED by hand");
  is_double(r.cum_bed.value, 3 * (1 + 0.3 / 2.6) + 2 * (1 + 0.4 / 2.6),
            1e-12, "cumulative BED value");
  is_double(r.cum_dose_at[0].u, r.dose[0].u, 1e-12,
            "through cycle 1 = cycle 1");
  is_double(r.bed[1].var[RKIN_UNC_AB],
            pow(0.2 * 4 / (2.6 * 2.6) * 0.5, 2), 1e-12,
            "cycle 2 alpha/beta term");
  is_double(r.cum_dose.hi - r.cum_dose.value, 1.959963984540054 * r.cum_dose.u,
            1e-9, "95 %% interval");
  u[1] = -1.0;
  ok(rkin_unc_course_delta(&c, &r, &e) == RKIN_EINVAL &&
     strstr(e.msg, "cycle 2"), "negative SD named: %s", e.msg);
  /* against the chain: 3 cycles, calibration 5 %% */
  {
    patient P;
    rkin_unc_result rc;
    double dd[3], uu[3];
    size_t i;
    make_patient(&P, RKIN_TAC_MONO, PMONO, 4, T4, 0.05, 3, 0.05, 0.0);
    ok(rkin_unc_delta(&P.ch, &rc, &e) == 0, "chain for the course check");
    for (i = 0; i < 3; i++) {
      dd[i] = rc.dose[i].value;
      uu[i] = sqrt(rc.dose[i].var[RKIN_UNC_COUNTS]) / dd[i];
    }
    c.n = 3;
    c.dose_gy = dd;
    c.u_rel = uu;
    c.g = NULL;
    c.u_mass_rel = 0.0;
    /* the recovery curve is shared too: pass it as a shared term */
    c.u_s_rel = sqrt(rc.cum_dose.var[RKIN_UNC_RECOVERY]) / rc.cum_dose.value;
    ok(rkin_unc_course_delta(&c, &r, &e) == 0, "course of the chain's doses");
    is_double(r.cum_dose.u, rc.cum_dose.u, 1e-6,
              "same cumulative dose uncertainty as the chain");
    ok(isnan(r.cum_bed.value), "no G: no BED");
  }
}

/* Next activity at a confidence level: the point estimate at level 0.5
 * (rkin_radiobio_budget's answer), the upper bound on the limit at 0.95. */
static void test_next(void)
{
  double d[2] = {8.0, 7.0}, u[2] = {0.08, 0.1}, g[2] = {0.05, 0.06};
  rkin_unc_next x;
  rkin_lq lq = {2.6, 2.8};
  rkin_err e = {0, ""};
  double a50, a95, ub, dn, bed_past;
  int over;
  memset(&x, 0, sizeof x);
  x.past.n = 2;
  x.past.dose_gy = d;
  x.past.u_rel = u;
  x.past.g = g;
  x.past.u_cal_rel = 0.05;
  x.past.u_mass_rel = 0.05;
  x.past.ab_gy = 2.6;
  x.past.u_ab_gy = 0.3;
  x.gy_per_mbq = 8.0 / 7400.0;
  x.u_gy_per_mbq_rel = 0.1;
  x.g_next = 0.055;
  x.limit_bed_gy = 40.0;
  x.level = 0.5;
  ok(rkin_unc_next_activity(&x, &a50, &ub, &over, &e) == 0 && !over,
     "next activity, level 0.5: %s", e.msg);
  bed_past = 8.0 * (1 + 0.05 * 8.0 / 2.6) + 7.0 * (1 + 0.06 * 7.0 / 2.6);
  rkin_radiobio_budget(bed_past, 40.0, 0.055, &lq, "kidney", &dn, NULL,
                       NULL);
  is_double(a50, dn / x.gy_per_mbq, 1e-8,
            "level 0.5 = the point-estimate budget (rkin_radiobio_budget)");
  x.level = 0.95;
  ok(rkin_unc_next_activity(&x, &a95, &ub, &over, &e) == 0, "level 0.95");
  is_double(ub, 40.0, 1e-8, "at 0.95 the upper bound sits on the limit");
  ok(a95 < a50, "0.95 gives less activity (%.0f < %.0f MBq)", a95, a50);
  {
    double dd[3] = {8.0, 7.0, a95 * x.gy_per_mbq}, uu[3] = {0.08, 0.1, 0.1},
           gg[3] = {0.05, 0.06, 0.055};
    rkin_unc_course c = x.past;
    rkin_unc_course_result r;
    c.n = 3;
    c.dose_gy = dd;
    c.u_rel = uu;
    c.g = gg;
    rkin_unc_course_delta(&c, &r, &e);
    is_double(r.cum_bed.value + 1.6448536269514722 * r.cum_bed.u, 40.0, 1e-8,
              "BED + z(0.95) u = limit, recomputed from the course");
  }
  x.limit_bed_gy = 20.0;
  ok(rkin_unc_next_activity(&x, &a95, &ub, &over, &e) == 0 && over &&
     a95 == 0.0, "past above the limit at 0.95: over, no activity");
  x.level = 0.4;
  ok(rkin_unc_next_activity(&x, &a95, &ub, &over, &e) == RKIN_EINVAL,
     "level below 0.5 refused: %s", e.msg);
}

/* The next cycle predicted from the last cycle's measured dose per
 * activity (from_last) against a Monte Carlo of the same measurement model:
 * past cycle c measured as D_c (1 + e_c) and the prediction as D_n (1 +
 * e_L) (1 + x), both times the shared calibration, mass and S-value
 * factors (1 + e_cal)(1 + e_m)(1 + e_s), alpha/beta drawn too; the
 * estimated cumulative BED's variance over 2e5 draws equals the delta
 * method's u^2 within Monte Carlo error (SE of a variance ~ sqrt(2/N)
 * = 0.3 %; the relative SDs are small so the model is nearly linear).
 * The former independent treatment of the prediction misses the
 * covariance 2 k_L D_L k_n D_n u_L^2 and fails the same check. */
static void test_next_corr(void)
{
  double d[3] = {6.0, 5.5, 5.0}, u[3] = {0.03, 0.03, 0.08},
         g[3] = {0.05, 0.06, 0.055};
  const double a_last = 7400.0, act = 6000.0, ux = 0.02;
  const double ucal = 0.02, umass = 0.02, us = 0.01, ab = 2.6, uab = 0.1;
  rkin_unc_next x;
  rkin_err e = {0, ""};
  double bed, u_delta, var[RKIN_UNC_NSRC], u_indep, dn, cov;
  const size_t N = 200000;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  double s1 = 0.0, s2 = 0.0;
  size_t k, i;
  memset(&x, 0, sizeof x);
  x.past.n = 3;
  x.past.dose_gy = d;
  x.past.u_rel = u;
  x.past.g = g;
  x.past.u_cal_rel = ucal;
  x.past.u_mass_rel = umass;
  x.past.u_s_rel = us;
  x.past.ab_gy = ab;
  x.past.u_ab_gy = uab;
  x.gy_per_mbq = d[2] / a_last;
  x.u_gy_per_mbq_rel = ux;
  x.g_next = 0.055;
  x.limit_bed_gy = 40.0;
  x.level = 0.95;
  x.from_last = 1;
  ok(rkin_unc_next_bed(&x, act, &bed, &u_delta, var, &e) == 0,
     "next BED with the prediction from the last cycle: %s", e.msg);
  dn = act * x.gy_per_mbq;
  cov = 2.0 * (1 + 2 * g[2] * d[2] / ab) * d[2] * (1 + 2 * 0.055 * dn / ab)
        * dn * u[2] * u[2];
  gsl_rng_set(rng, 20260);
  for (k = 0; k < N; k++) {
    double sh = (1 + gsl_ran_gaussian(rng, ucal)) *
                (1 + gsl_ran_gaussian(rng, umass)) *
                (1 + gsl_ran_gaussian(rng, us));
    double abk = ab + gsl_ran_gaussian(rng, uab), el = 0.0, b = 0.0, dk;
    for (i = 0; i < 3; i++) {
      double ei = gsl_ran_gaussian(rng, u[i]);
      if (i == 2) el = ei;
      dk = d[i] * (1 + ei) * sh;
      b += dk * (1 + g[i] * dk / abk);
    }
    dk = dn * (1 + el) * (1 + gsl_ran_gaussian(rng, ux)) * sh;
    b += dk * (1 + 0.055 * dk / abk);
    s1 += b;
    s2 += b * b;
  }
  gsl_rng_free(rng);
  {
    double m = s1 / N, v = s2 / N - m * m, se = v * sqrt(2.0 / (N - 1));
    double vd = u_delta * u_delta;
    ok(fabs(vd - v) < 4.0 * se + 0.003 * v,
       "from_last: delta variance %.5f vs Monte Carlo %.5f (SE %.5f)", vd, v,
       se);
    is_double(m, bed, 2e-3, "Monte Carlo mean = the predicted BED (rel "
              "2e-3: second-order bias of the quadratic BED)");
    /* the same course with the prediction taken as independent */
    x.from_last = 0;
    x.u_gy_per_mbq_rel = sqrt(u[2] * u[2] + ux * ux);
    ok(rkin_unc_next_bed(&x, act, NULL, &u_indep, NULL, &e) == 0,
       "independent prediction: %s", e.msg);
    ok(fabs(u_indep * u_indep - v) > 10.0 * se,
       "the independent treatment misses the covariance: %.5f vs MC %.5f",
       u_indep * u_indep, v);
    is_double(vd - u_indep * u_indep, cov, 1e-9,
              "the difference is 2 k_L D_L k_n D_n u_L^2");
  }
  /* the activity found sits on the limit with this u */
  {
    double a95, ub, b2, u2;
    x.from_last = 1;
    x.u_gy_per_mbq_rel = ux;
    ok(rkin_unc_next_activity(&x, &a95, &ub, NULL, &e) == 0, "next activity "
       "from_last: %s", e.msg);
    rkin_unc_next_bed(&x, a95, &b2, &u2, NULL, &e);
    is_double(b2 + 1.6448536269514722 * u2, 40.0, 1e-8,
              "from_last: BED + z(0.95) u = limit at the activity found");
    x.past.n = 0;
    ok(rkin_unc_next_activity(&x, &a95, &ub, NULL, &e) == RKIN_EINVAL &&
       strstr(e.msg, "needs at least one past cycle"),
       "from_last without a past cycle refused: %s", e.msg);
    x.past.n = 3;
    ok(rkin_unc_next_bed(&x, -1.0, &b2, &u2, NULL, &e) == RKIN_EINVAL,
       "negative activity refused: %s", e.msg);
  }
}

/* Red marrow from blood (Hindorf et al. 2010): terms by hand. */
static void test_marrow(void)
{
  rkin_unc_marrow m = {"Lu-177", 0.05, 0.004, 1.0, 0.2, 1.17, 0.2,
                       20000.0, 1000.0, 2e-6, 0.1, 0.05, 0.95};
  rkin_unc_marrow_result r;
  rkin_err e = {0, ""};
  double s, trm = 0.05 * 1.0 * 1170.0, dself, dcross;
  ok(rkin_unc_marrow_dose(&m, &r, &e) == 0, "marrow: %s", e.msg);
  rkin_dosimetry_s_led(rkin_nuclide_find("Lu-177", NULL), 1.17, "rm", &s,
                       NULL);
  dself = trm * s;
  dcross = (20000.0 - trm) * 2e-6;
  is_double(r.tia_rm.value, trm, 1e-12, "TIA_RM = c RMBLR m (58.5 MBq h)");
  is_double(r.self.value, dself, 1e-12, "self-dose = TIA_RM S_LED(m)");
  is_double(r.cross.value, dcross, 1e-12,
            "cross-dose = (TIA_WB - TIA_RM) S(RM <- RB)");
  ok(r.self.var[RKIN_UNC_MARROW_MASS] < 1e-12 * r.self.var[RKIN_UNC_BLOOD],
     "self-dose does not depend on the marrow mass (it cancels)");
  is_double(r.self.var[RKIN_UNC_BLOOD], pow(dself * 0.004 / 0.05, 2), 1e-6,
            "self: blood term");
  is_double(r.self.var[RKIN_UNC_SVALUE], pow(dself * 0.05, 2), 1e-6,
            "self: S-value term");
  is_double(r.cross.var[RKIN_UNC_WHOLEBODY], pow(2e-6 * 1000.0, 2), 1e-6,
            "cross: whole-body term");
  is_double(r.cross.var[RKIN_UNC_MARROW_MASS],
            pow(2e-6 * 0.05 * 1000.0 * 0.2, 2), 1e-6, "cross: mass term");
  is_double(r.total.var[RKIN_UNC_RMBLR],
            pow((dself - 2e-6 * trm) * 0.2, 2), 1e-6,
            "total: RMBLR raises self and lowers cross (correlated)");
  m.tia_wb = 10.0;
  ok(rkin_unc_marrow_dose(&m, &r, &e) == RKIN_ERANGE &&
     strstr(e.msg, "exceeds the whole body"), "marrow TIA > whole body "
     "refused: %s", e.msg);
  m.tia_wb = 20000.0;
  m.rmblr = 0.0;
  ok(rkin_unc_marrow_dose(&m, &r, &e) == RKIN_EINVAL &&
     strstr(e.msg, "RMBLR"), "RMBLR 0 refused: %s", e.msg);
}

/* Single time point. */
static void test_stp(void)
{
  rkin_unc_stp s;
  rkin_err e = {0, ""};
  double m1 = 0.0, m2 = 0.0, t = 96.0, th = 60.0, cv = 0.3, sl;
  size_t i, n = 200000;
  ok(rkin_unc_stp_tia(RKIN_UNC_STP_HAENSCHEID, 72.0, 10.0, 0.05, 72.0, 0.0,
                      0.95, &s, &e) == 0, "Haenscheid");
  is_double(s.tia, 10.0 * 2 * 72.0 / M_LN2, 1e-9, "TIA = A 2t/ln2");
  ok(fabs(s.bias_rel) < 1e-12, "exact when T_eff = t");
  is_double(s.u, s.tia * 0.05, 1e-9, "only the measurement then");
  ok(rkin_unc_stp_tia(RKIN_UNC_STP_HAENSCHEID, t, 10.0, 0.0, th, 0.0, 0.95,
                      &s, &e) == 0, "Haenscheid, T_eff 60 h at 96 h");
  {
    double l = M_LN2 / th;
    is_double(s.bias_rel, exp(l * t) / l / (2 * t / M_LN2) - 1.0, 1e-9,
              "bias = e^(lt)/l / (2t/ln2) - 1 by hand");
  }
  /* Gauss-Hermite against a fine trapezoid rule over z in -14..14
   * (sampling is too noisy here: ln r has a heavy tail) */
  ok(rkin_unc_stp_tia(RKIN_UNC_STP_HAENSCHEID, t, 10.0, 0.0, th, cv, 0.95,
                      &s, &e) == 0, "Haenscheid, CV 30 %%");
  sl = sqrt(log1p(cv * cv));
  {
    double h = 28.0 / (double)n;
    for (i = 0; i <= n; i++) {
      double z = -14.0 + h * (double)i, tp = th * exp(sl * z);
      double l = M_LN2 / tp, lr = l * t - log(l) - log(2 * t / M_LN2);
      double w = exp(-0.5 * z * z) / sqrt(2 * M_PI) * h *
                 (i == 0 || i == n ? 0.5 : 1.0);
      m1 += w * lr;
      m2 += w * lr * lr;
    }
  }
  m2 = sqrt(m2 - m1 * m1);
  is_double(s.bias_rel, exp(m1) - 1.0, 1e-6, "bias %.6f vs trapezoid %.6f",
            s.bias_rel, exp(m1) - 1);
  is_double(s.u_rel_method, m2, 1e-6, "SD of ln(true/estimate) %.6f vs "
            "trapezoid %.6f", s.u_rel_method, m2);
  ok(rkin_unc_stp_tia(RKIN_UNC_STP_POPLAMBDA, t, 10.0, 0.04, th, 0.0, 0.95,
                      &s, &e) == 0 && fabs(s.bias_rel) < 1e-12,
     "population half-life without spread: no bias");
  ok(rkin_unc_stp_tia(RKIN_UNC_STP_POPLAMBDA, t, 10.0, 0.04, th, cv, 0.95,
                      &s, &e) == 0, "population half-life, CV 30 %%");
  is_double(s.u, s.tia * sqrt(s.u_rel_method * s.u_rel_method + 0.0016),
            1e-9, "u combines method and measurement");
  ok(rkin_unc_stp_tia(RKIN_UNC_STP_POPLAMBDA, t, 10.0, 0.04, -1.0, cv, 0.95,
                      &s, &e) == RKIN_EINVAL && strstr(e.msg, "half-life"),
     "negative half-life refused: %s", e.msg);
}

static void test_errors(void)
{
  patient P;
  rkin_unc_result r;
  rkin_err e = {0, ""};
  make_patient(&P, RKIN_TAC_MONO, PMONO, 4, T4, 0.05, 1, 0.03, 0.05);
  P.ch.meas.cal = -1.0;
  ok(rkin_unc_delta(&P.ch, &r, &e) == RKIN_EINVAL &&
     strstr(e.msg, "calibration"), "negative calibration: %s", e.msg);
  make_patient(&P, RKIN_TAC_MONO, PMONO, 4, T4, 0.05, 1, 0.03, 0.05);
  P.pt[0][2].counts = NAN;
  ok(rkin_unc_delta(&P.ch, &r, &e) == RKIN_EINVAL &&
     strstr(e.msg, "cycle 1 point 3"), "NaN counts named: %s", e.msg);
  make_patient(&P, RKIN_TAC_MONO, PMONO, 4, T4, 0.05, 1, 0.03, 0.05);
  ok(rkin_unc_mc(&P.ch, 10, 1, &r, &e) == RKIN_EINVAL, "10 draws refused");
  P.ch.nuclide = "Xx-999";
  ok(rkin_unc_delta(&P.ch, &r, &e) != 0, "unknown nuclide: %s", e.msg);
}

int main(void)
{
  rkin_init();
  test_rc();
  test_volume_activity();
  test_calibration();
  test_lesion();
  test_per_ml();
  test_average_down();
  test_delta_mc();
  test_coverage();
  test_course();
  test_marrow();
  test_next();
  test_next_corr();
  test_stp();
  test_errors();
  done_testing();
  return exit_status();
}
