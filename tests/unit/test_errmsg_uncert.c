/* test_errmsg_uncert.c - error messages of the uncertainty module
 * (engine/uncert: recovery curve, measurement model, the chain by delta
 * and Monte Carlo, a course, the next activity, red marrow, VOI and
 * single time point), provoked one by one through the C functions and
 * their text asserted (issue 22 item 3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "uncert/uncert.h"
#include "../tap.h"
#include "../errmsg.h"

static void test_rc(void)
{
  const double v[4] = {1, 4, 16, 64}, rc[4] = {0.3, 0.6, 0.8, 0.9};
  const double sd[4] = {0.02, 0.02, 0.02, 0.02};
  double vbad[4] = {1, 4, 16, 64}, rbad[4] = {0.3, 0.6, 0.8, 0.9};
  double sbad[4] = {0.02, 0.02, 0.02, 0.02}, u;
  rkin_unc_rc out;
  BAD(rkin_unc_rc_fit(4, NULL, rc, sd, &out, &err), RKIN_EINVAL,
      "recovery curve: no table", "recovery fit: no table");
  BAD(rkin_unc_rc_fit(3, v, rc, NULL, &out, &err), RKIN_EINVAL,
      "recovery curve: 3 rows, expected 4..32 (3 parameters and the residual "
      "scale)", "recovery fit: 3 rows without sd");
  vbad[2] = -16;
  BAD(rkin_unc_rc_fit(4, vbad, rc, sd, &out, &err), RKIN_EINVAL,
      "recovery curve row 3: volume -16 mL, expected > 0", "recovery fit: "
      "a negative volume");
  vbad[2] = 4;
  BAD(rkin_unc_rc_fit(4, vbad, rc, sd, &out, &err), RKIN_EINVAL,
      "recovery curve rows 2 and 3: the same volume 4 mL", "recovery fit: a "
      "volume twice");
  rbad[1] = 0;
  BAD(rkin_unc_rc_fit(4, v, rbad, sd, &out, &err), RKIN_EINVAL,
      "recovery curve row 2: recovery 0, expected > 0", "recovery fit: a "
      "zero recovery");
  sbad[3] = 0;
  BAD(rkin_unc_rc_fit(4, v, rc, sbad, &out, &err), RKIN_EINVAL,
      "recovery curve row 4: sd 0, expected > 0", "recovery fit: a zero sd");
  /* a step from 1e-9 to 1 between 16 and 64 mL: no sigmoid fits */
  {
    const double step[4] = {1e-9, 1e-9, 1e-9, 1};
    BAD(rkin_unc_rc_fit(4, v, step, sd, &out, &err), RKIN_EOPTIM,
        "recovery curve: the fit of rc_max / (1 + (v50/v)^k) did not "
        "converge (exceeded max number of iterations)", "recovery fit: a "
        "step no sigmoid follows");
  }
  BAD(rkin_unc_volume_voxel(0, 4, &u, &err), RKIN_EINVAL,
      "volume 0 mL, expected > 0", "volume by voxel: a zero volume");
  BAD(rkin_unc_volume_voxel(10, -4, &u, &err), RKIN_EINVAL,
      "voxel size -4 mm, expected > 0", "volume by voxel: a negative voxel");
  BAD(rkin_unc_volume_voxel(0.01, 4, &u, &err), RKIN_ERANGE,
      "voxel 4 mm not smaller than the radius 1.33", "volume by voxel: a "
      "voxel larger than the volume");
}

static void test_activity(void)
{
  rkin_unc_point pt = {24, 1e6, 1000, 0.03}, p;
  rkin_unc_meas m = {.cal = 10, .u_cal = 0.5, .v_ml = 100, .u_v_ml = 5};
  rkin_unc_meas mm;
  rkin_unc_rc flat = {.p = {-1, 10, 1}};
  rkin_unc_activity a;
  p = pt; p.t_h = -1;
  BAD(rkin_unc_activity_of(&p, &m, &a, &err), RKIN_EINVAL, "time -1 h, "
      "expected >= 0", "activity: a negative time");
  p = pt; p.counts = 0;
  BAD(rkin_unc_activity_of(&p, &m, &a, &err), RKIN_EINVAL, "counts 0 at 24 "
      "h, expected > 0", "activity: zero counts");
  p = pt; p.t_acq_s = 0;
  BAD(rkin_unc_activity_of(&p, &m, &a, &err), RKIN_EINVAL, "acquisition "
      "time 0 s at 24 h, expected > 0", "activity: a zero acquisition time");
  p = pt; p.u_extra_rel = -0.1;
  BAD(rkin_unc_activity_of(&p, &m, &a, &err), RKIN_EINVAL, "extra relative "
      "SD -0.1 at 24 h, expected >= 0", "activity: a negative extra SD");
  mm = m; mm.v_ml = 0;
  BAD(rkin_unc_activity_of(&pt, &mm, &a, &err), RKIN_EINVAL, "volume 0 +- 5 "
      "mL, expected > 0 and SD >= 0", "activity: a zero volume");
  mm = m; mm.rc = &flat;
  BAD(rkin_unc_activity_of(&pt, &mm, &a, &err), RKIN_ERANGE, "recovery "
      "coefficient -0.909091 at 100 mL, expected > 0", "activity: a negative "
      "recovery");
}

/* A liver: 4 points of a mono-exponential, Lu-177 LED. */
static rkin_unc_point PT[4];
static rkin_unc_cycle CY[2];

static void chain(rkin_unc_chain *ch)
{
  const double t[4] = {4, 24, 72, 168};
  size_t i;
  for (i = 0; i < 4; i++) {
    PT[i].t_h = t[i];
    PT[i].t_acq_s = 1200;
    PT[i].counts = 100 * exp(-0.012 * t[i]) * 10 * 1200;
    PT[i].u_extra_rel = 0.03;
  }
  CY[0].n = 4;
  CY[0].pt = PT;
  CY[1] = CY[0];
  memset(ch, 0, sizeof *ch);
  ch->nuclide = "Lu-177";
  ch->region = "liver";
  ch->model = RKIN_TAC_MONO;
  ch->meas.cal = 10;
  ch->meas.u_cal = 0.5;
  ch->meas.v_ml = 1500;
  ch->meas.u_v_ml = 50;
  ch->dose.kind = RKIN_UNC_DOSE_LED;
  ch->dose.density = 1.05;
  ch->lq.ab_gy = 2.5;
  ch->lq.trep_h = 1.5;
  ch->n_cycles = 1;
  ch->cyc = CY;
}

static void test_chain(void)
{
  rkin_unc_chain ch, c;
  rkin_unc_result r;
  rkin_unc_point bad[4];
  rkin_unc_cycle cb;
  rkin_unc_rc flat = {.p = {-1, 10, 1}};
  chain(&ch);
  rkin_err_clear(&err);
  is_int(rkin_unc_delta(&ch, &r, &err), 0, "the base chain runs (%s)",
         err.msg);
  c = ch; c.cyc = NULL;
  BAD(rkin_unc_delta(&c, &r, &err), RKIN_EINVAL, "uncertainty chain: no "
      "cycles", "chain: no cycles");
  c = ch; c.n_cycles = 13;
  BAD(rkin_unc_delta(&c, &r, &err), RKIN_EINVAL, "uncertainty chain: 13 "
      "cycles, expected 1..12", "chain: 13 cycles");
  c = ch; c.level = 1.5;
  BAD(rkin_unc_delta(&c, &r, &err), RKIN_EINVAL, "interval level 1.5, "
      "expected in (0, 1)", "chain: a level above 1");
  c = ch; c.meas.rc = &flat;
  BAD(rkin_unc_delta(&c, &r, &err), RKIN_ERANGE, "recovery -0.993377 at "
      "1500 mL, expected > 0", "chain: a negative recovery");
  c = ch; c.meas.cal = 0;
  BAD(rkin_unc_delta(&c, &r, &err), RKIN_EINVAL, "calibration factor "
      "(cps/MBq) 0, expected > 0", "chain: a zero calibration");
  cb.n = 0;
  cb.pt = PT;
  c = ch; c.cyc = &cb;
  BAD(rkin_unc_delta(&c, &r, &err), RKIN_EINVAL, "cycle 1: 0 points, "
      "expected 1..64", "chain: a cycle without points");
  memcpy(bad, PT, sizeof bad);
  bad[2].counts = -5;
  cb.n = 4;
  cb.pt = bad;
  BAD(rkin_unc_delta(&c, &r, &err), RKIN_EINVAL, "cycle 1 point 3: counts "
      "-5 at 72 h, expected > 0", "chain: negative counts at a point");
  /* Monte Carlo */
  BAD(rkin_unc_mc(&ch, 10, 1, &r, &err), RKIN_EINVAL, "Monte Carlo: 10 "
      "draws, expected 100..", "Monte Carlo: too few draws");
  {
    rkin_unc_rc nd = {.p = {0.9, 5, 1.5},
                      .cov = {1, 0, 0, 0, -1, 0, 0, 0, 1}};
    c = ch; c.meas.rc = &nd;
    BAD(rkin_unc_mc(&c, 100, 1, &r, &err), RKIN_ERANGE, "recovery curve "
        "covariance not positive definite", "Monte Carlo: a recovery "
        "covariance with a negative variance");
  }
  /* one point for the two parameters of a mono-exponential */
  cb.n = 1;
  cb.pt = PT;
  c = ch; c.cyc = &cb;
  BAD(rkin_unc_delta(&c, &r, &err), RKIN_EOPTIM, "liver cycle 1: the mono "
      "fit did not give parameters (not tried: 2 parameters need at least 2 "
      "points (have 1))", "chain: one point for a mono-exponential");
  /* Draws that fail: the share is refused, naming the first's reason. A
   * relative SD of 0.8 per point draws counts <= 0 (1 + N(0, 0.8) <= 0:
   * 11 % of points); a recovery curve whose rc_max has SD 1 about 0.9
   * draws recoveries <= 0 (18 %). */
  {
    rkin_unc_point noisy[4];
    rkin_unc_rc wide = {.p = {0.9, 5, 1.5},
                        .cov = {1, 0, 0, 0, 1e-6, 0, 0, 0, 1e-6}};
    size_t i;
    memcpy(noisy, PT, sizeof noisy);
    for (i = 0; i < 4; i++) noisy[i].u_extra_rel = 0.8;
    cb.n = 4;
    cb.pt = noisy;
    c = ch; c.cyc = &cb;
    BAD(rkin_unc_mc(&c, 200, 1, &r, &err), RKIN_EOPTIM, "Monte Carlo: 71 "
        "of 200 draws failed (fit or a non-positive input), more than 1 %; "
        "the first: cycle 1 point 2: drawn counts not > 0",
        "Monte Carlo: noisy counts");
    is_int((long)r.n_failed, 71, "... the failed draws counted");
    c = ch; c.meas.rc = &wide;
    BAD(rkin_unc_mc(&c, 200, 1, &r, &err), RKIN_EOPTIM, "; the first: "
        "liver: recovery -0.563842 at 1521.33 mL", "Monte Carlo: recoveries "
        "drawn <= 0");
  }
}

static void test_course(void)
{
  const double d[2] = {5, 4}, g[2] = {0.9, 0.9};
  double db[2] = {5, 4}, ub[2] = {0.1, 0.1}, gb[2] = {0.9, 0.9};
  rkin_unc_course c = {.n = 2, .dose_gy = d, .g = g, .ab_gy = 2.5,
                       .u_cal_rel = 0.05}, x;
  rkin_unc_course_result r;
  x = c; x.n = 0;
  BAD(rkin_unc_course_delta(&x, &r, &err), RKIN_EINVAL, "course: 0 cycles, "
      "expected 1..12", "course: no cycles");
  x = c; x.u_mass_rel = -0.1;
  BAD(rkin_unc_course_delta(&x, &r, &err), RKIN_EINVAL, "course: shared "
      "relative SD -0.1 (volume), expected >= 0", "course: a negative shared "
      "SD");
  x = c; x.ab_gy = 0;
  BAD(rkin_unc_course_delta(&x, &r, &err), RKIN_EINVAL, "course: "
      "alpha/beta 0 +- 0 Gy, expected > 0 and SD >= 0", "course: a zero "
      "alpha/beta");
  db[1] = 0;
  x = c; x.dose_gy = db;
  BAD(rkin_unc_course_delta(&x, &r, &err), RKIN_EINVAL, "course cycle 2: "
      "dose 0 Gy, expected > 0", "course: a zero dose");
  ub[0] = -1;
  x = c; x.u_rel = ub;
  BAD(rkin_unc_course_delta(&x, &r, &err), RKIN_EINVAL, "course cycle 1: "
      "relative SD -1, expected >= 0", "course: a negative cycle SD");
  gb[1] = 1.5;
  x = c; x.g = gb;
  BAD(rkin_unc_course_delta(&x, &r, &err), RKIN_EINVAL, "course cycle 2: G "
      "1.5, expected in [0, 1]", "course: G above 1");
  x = c; x.level = 1;
  BAD(rkin_unc_course_delta(&x, &r, &err), RKIN_EINVAL, "course: level 1, "
      "expected in (0, 1)", "course: level 1");
}

static void test_next(void)
{
  const double d[1] = {5}, g[1] = {0.9};
  rkin_unc_next n, x;
  double a, ub, bed, u;
  int over;
  memset(&n, 0, sizeof n);
  n.past.n = 1;
  n.past.dose_gy = d;
  n.past.g = g;
  n.past.ab_gy = 2.5;
  n.gy_per_mbq = 0.001;
  n.u_gy_per_mbq_rel = 0.1;
  n.g_next = 0.9;
  n.limit_bed_gy = 40;
  n.level = 0.9;
  BAD(rkin_unc_next_activity(NULL, &a, &ub, &over, &err), RKIN_EINVAL,
      "next activity: no input", "next: no input");
  BAD(rkin_unc_next_activity(&n, NULL, &ub, &over, &err), RKIN_EINVAL,
      "next activity: no output", "next: no output");
  x = n; x.past.g = NULL;
  BAD(rkin_unc_next_activity(&x, &a, &ub, &over, &err), RKIN_EINVAL,
      "next activity: 1 past cycles (with doses and G), expected 0..11",
      "next: past cycles without G");
  x = n; x.u_gy_per_mbq_rel = -0.1;
  BAD(rkin_unc_next_activity(&x, &a, &ub, &over, &err), RKIN_EINVAL,
      "next activity: relative SD -0.1 of the dose per activity, expected "
      ">= 0", "next: a negative SD");
  x = n; x.g_next = 2;
  BAD(rkin_unc_next_activity(&x, &a, &ub, &over, &err), RKIN_EINVAL,
      "next activity: G 2, expected in [0, 1]", "next: G above 1");
  x = n; x.past.ab_gy = 0;
  BAD(rkin_unc_next_activity(&x, &a, &ub, &over, &err), RKIN_EINVAL,
      "next activity: alpha/beta 0 Gy, expected > 0", "next: a zero "
      "alpha/beta");
  x = n; x.limit_bed_gy = 0;
  BAD(rkin_unc_next_activity(&x, &a, &ub, &over, &err), RKIN_EINVAL,
      "next activity: BED limit 0 Gy, expected > 0", "next: a zero limit");
  x = n; x.level = 0.3;
  BAD(rkin_unc_next_activity(&x, &a, &ub, &over, &err), RKIN_EINVAL,
      "next activity: level 0.3, expected in [0.5, 1) (one-sided)",
      "next: a level below 0.5");
  BAD(rkin_unc_next_bed(&n, -1, &bed, &u, NULL, &err), RKIN_EINVAL,
      "next activity: activity -1 MBq, expected >= 0", "next BED: a "
      "negative activity");
}

static void test_marrow(void)
{
  rkin_unc_marrow m = {.nuclide = "Lu-177", .c_tia_blood = 0.01,
                       .rmblr = 1, .m_rm_kg = 1.17, .level = 0.95}, x;
  rkin_unc_marrow_result r;
  BAD(rkin_unc_marrow_dose(NULL, &r, &err), RKIN_EINVAL, "red marrow: no "
      "input", "marrow: no input");
  x = m; x.rmblr = -1;
  BAD(rkin_unc_marrow_dose(&x, &r, &err), RKIN_EINVAL, "red marrow: RMBLR "
      "-1 +- 0, expected > 0 and SD >= 0", "marrow: a negative RMBLR");
  x = m; x.tia_wb = 100;
  BAD(rkin_unc_marrow_dose(&x, &r, &err), RKIN_EINVAL, "red marrow: a "
      "whole-body TIA needs S(RM <- remainder of body) > 0 for the "
      "cross-dose", "marrow: a whole-body TIA without a cross S value");
  x = m; x.level = 1;
  BAD(rkin_unc_marrow_dose(&x, &r, &err), RKIN_EINVAL, "red marrow: level "
      "1, expected in (0, 1)", "marrow: level 1");
}

static void test_voi_stp(void)
{
  rkin_unc_voi v, x;
  rkin_unc_q d, b;
  rkin_unc_stp s;
  memset(&v, 0, sizeof v);
  v.dose_gy = 10;
  v.bed_gy = NAN;
  x = v; x.u_rel[RKIN_UNC_VOLUME] = -0.1;
  BAD(rkin_unc_voi_delta(&x, &d, &b, &err), RKIN_EINVAL, "VOI uncertainty: "
      "relative SD -0.1 (volume), expected >= 0", "VOI: a negative SD");
  x = v; x.bed_gy = 12; x.ab_gy = -3;
  BAD(rkin_unc_voi_delta(&x, &d, &b, &err), RKIN_EINVAL, "VOI uncertainty: "
      "alpha/beta -3 +- 0 Gy (expected > 0, SD >= 0)", "VOI: a negative "
      "alpha/beta");
  x = v; x.level = 1;
  BAD(rkin_unc_voi_delta(&x, &d, &b, &err), RKIN_EINVAL, "VOI uncertainty: "
      "level 1 (expected in (0, 1))", "VOI: level 1");
  BAD(rkin_unc_stp_tia((rkin_unc_stp_method)5, 96, 100, 0.05, 60, 0.2, 0.95,
                       &s, &err), RKIN_EINVAL, "single time point: method 5, "
      "expected haenscheid or poplambda", "STP: an unknown method");
  BAD(rkin_unc_stp_tia(RKIN_UNC_STP_HAENSCHEID, 0, 100, 0.05, 60, 0.2, 0.95,
                       &s, &err), RKIN_EINVAL, "single time point: time 0 h, "
      "expected > 0", "STP: time 0");
  BAD(rkin_unc_stp_tia(RKIN_UNC_STP_HAENSCHEID, 96, -1, 0.05, 60, 0.2, 0.95,
                       &s, &err), RKIN_EINVAL, "single time point: activity "
      "-1 MBq, expected > 0", "STP: a negative activity");
  BAD(rkin_unc_stp_tia(RKIN_UNC_STP_HAENSCHEID, 96, 100, -0.05, 60, 0.2,
                       0.95, &s, &err), RKIN_EINVAL, "single time point: "
      "relative SD -0.05 of the activity, expected >= 0", "STP: a negative "
      "SD");
  BAD(rkin_unc_stp_tia(RKIN_UNC_STP_HAENSCHEID, 96, 100, 0.05, 60, 4, 0.95,
                       &s, &err), RKIN_EINVAL, "single time point: half-life "
      "CV 4, expected 0..3", "STP: a CV of 400 %");
  BAD(rkin_unc_stp_tia(RKIN_UNC_STP_HAENSCHEID, 96, 100, 0.05, 60, 0.2, 1,
                       &s, &err), RKIN_EINVAL, "single time point: level 1, "
      "expected in (0, 1)", "STP: level 1");
}

int main(void)
{
  rkin_init();
  test_rc();
  test_activity();
  test_chain();
  test_course();
  test_next();
  test_marrow();
  test_voi_stp();
  done_testing();
  return exit_status();
}
