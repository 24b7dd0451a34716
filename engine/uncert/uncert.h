/* uncert.h - uncertainty of the dosimetry chain, from the camera's counts
 * to cumulative BED, after the EANM guidance on uncertainty analysis for
 * molecular radiotherapy (Gear et al., EJNMMI 2018;45:2456-2474; law of
 * propagation of uncertainty of the GUM, JCGM 100:2008, eq. 10 and 13).
 *
 * Measurement model of one time point (the guidance's activity model):
 *
 *   A_i = (C_i / t_acq,i) / (Q x RC(v))
 *
 * C_i counts in the VOI, t_acq,i acquisition time (s), Q the calibration
 * factor (cps/MBq), RC(v) the recovery coefficient of a VOI of volume v
 * (mL) from a recovery curve fitted to the user's sphere-phantom table.
 * Sources, each reported separately (rkin_unc_source):
 *   counts       Poisson statistics 1/sqrt(C_i) (+ an optional extra
 *                relative SD per point): independent between points;
 *   calibration  u(Q): one factor for every point and cycle of the
 *                patient, fully correlated, so it scales TIA exactly;
 *   recovery     the recovery curve's fit covariance, shared;
 *   volume       u(v) (a CV or a one-voxel boundary change), shared: it
 *                enters RC(v) and the mass, both correlated;
 *   density, s_value, alpha_beta, t_rep, half_life (single time point).
 *
 * Propagation: each cycle's TAC is fitted to the activities at the nominal
 * Q and RC with weights 1/u_counts^2 (so the fit's covariance is the count
 * noise propagated, not an estimated scale); the shared factors multiply
 * the fitted curve exactly (TIA ~ 1/(Q RC)), and their variance is added
 * through the same Jacobian, never as independent noise per point. The
 * outputs (per-cycle TIA, dose, BED; cumulative dose and BED) are
 * differentiated numerically (central differences) with respect to every
 * input, and the first-order (delta) variance is split by source. The
 * Monte Carlo route draws every input (seeded GSL mt19937), refits each
 * cycle and reports the draws' SD and percentile interval.
 *
 * Units: t h, activity MBq, TIA MBq h, volume mL, density g/mL, mass kg,
 * dose and BED Gy. */
#ifndef RKIN_UNCERT_H
#define RKIN_UNCERT_H

#include <stddef.h>

#include "core/err.h"
#include "core/nuclide.h"
#include "tac/tac.h"

#define RKIN_UNC_MAX_CYCLES 12
#define RKIN_UNC_RC_MAX 32       /* rows of a recovery table */

/* Uncertainty sources (rkin_unc_q.var[]). */
typedef enum {
  RKIN_UNC_COUNTS = 0,
  RKIN_UNC_CALIB,
  RKIN_UNC_RECOVERY,
  RKIN_UNC_VOLUME,
  RKIN_UNC_DENSITY,
  RKIN_UNC_SVALUE,
  RKIN_UNC_AB,
  RKIN_UNC_TREP,
  RKIN_UNC_HALFLIFE,
  RKIN_UNC_BLOOD,         /* blood concentration TIA (red marrow) */
  RKIN_UNC_RMBLR,         /* red-marrow-to-blood concentration ratio */
  RKIN_UNC_MARROW_MASS,
  RKIN_UNC_WHOLEBODY,     /* whole-body TIA */
  RKIN_UNC_ACTIVITY,      /* administered activity (dose calibrator) */
  RKIN_UNC_LSF,           /* lung shunt fraction (TARE) */
  RKIN_UNC_NSRC
} rkin_unc_source;

/* "counts", "calibration", "recovery", "volume", "density", "s_value",
 * "alpha_beta", "t_rep", "half_life", "blood", "rmblr", "marrow_mass",
 * "whole_body", "activity", "lung_shunt"; NULL when out of range. */
const char *rkin_unc_source_name(int s);

/* ---- recovery curve ---- */

/* RC(v) = rc_max / (1 + (v50 / v)^k), p = {rc_max, v50 (mL), k}: the
 * sigmoid rise of a sphere's recovery with its volume. Fitted by weighted
 * least squares (GSL multifit_nlinear, Levenberg-Marquardt); the
 * covariance is (J^T W J)^-1, times chi2/dof when no SDs are given. */
typedef struct {
  double p[3];
  double cov[9];   /* row-major */
  double chi2;
  int dof;
} rkin_unc_rc;

/* n >= 3 rows (4+ without sd), v_ml > 0 and distinct, 0 < rc, sd > 0 or
 * sd NULL (scale from the residuals, needs n >= 4). Errors name the row. */
int rkin_unc_rc_fit(size_t n, const double *v_ml, const double *rc,
                    const double *sd, rkin_unc_rc *out, rkin_err *err);

/* RC at v; grad (may be NULL) receives dRC/dp, *drc_dv (may be NULL)
 * dRC/dv. */
double rkin_unc_rc_eval(const rkin_unc_rc *c, double v_ml, double grad[3],
                        double *drc_dv);

/* Standard uncertainty of a volume from a one-voxel change of its
 * boundary: the sphere of volume v (radius r) grown and shrunk by one
 * voxel edge d, u(v) = (V(r + d) - V(r - d)) / 2 = 4 pi r^2 d + (4/3) pi
 * d^3. v in mL, voxel edge in mm. Errors: v <= 0, d <= 0, d >= r. */
int rkin_unc_volume_voxel(double v_ml, double voxel_mm, double *u_ml,
                          rkin_err *err);

/* ---- measurement model of one time point ---- */

typedef struct {
  double t_h;          /* time after administration, h (>= 0) */
  double counts;       /* counts in the VOI (> 0) */
  double t_acq_s;      /* acquisition time, s (> 0) */
  double u_extra_rel;  /* extra relative SD of the counts beyond Poisson
                        * (e.g. reconstruction), >= 0 */
} rkin_unc_point;

/* Quantities shared by every time point and cycle of a patient's region.
 * per_ml = 0: a point's `counts` are the counts in the VOI, A = C / t /
 * (Q RC(v)). per_ml = 1: they are the mean count density in the VOI
 * (counts per mL, the image's value), A = C v / t / (Q RC(v)): the volume
 * then scales the activity too (and cancels from a local-deposition dose
 * except through RC); Poisson statistics use the VOI's total C v. */
typedef struct {
  double cal, u_cal;          /* calibration factor cps/MBq, its SD */
  double v_ml, u_v_ml;        /* VOI volume and its SD */
  const rkin_unc_rc *rc;      /* NULL: no recovery correction (RC = 1) */
  int per_ml;
} rkin_unc_meas;

/* One point's activity and its relative standard uncertainties by source
 * (counts, calibration, recovery, volume; the others 0). */
typedef struct {
  double a_mbq;
  double rc;
  double u_rel[RKIN_UNC_NSRC];
  double u_rel_total;         /* quadrature sum (sources independent) */
} rkin_unc_activity;

int rkin_unc_activity_of(const rkin_unc_point *pt, const rkin_unc_meas *m,
                         rkin_unc_activity *out, rkin_err *err);

/* ---- the chain ---- */

typedef enum { RKIN_UNC_DOSE_LED = 0, RKIN_UNC_DOSE_S } rkin_unc_dose_kind;

typedef struct {
  rkin_unc_dose_kind kind;
  /* LED: the nuclide's non-penetrating energy deposited in the mass.
   * S: S(m) = s_e m_ref/m + s_p (m_ref/m)^(2/3) (rkin_dosimetry_scale_self)
   * Gy/(MBq h) with a relative SD u_s_rel of the S value itself. */
  double s_e, s_p, m_ref_kg, u_s_rel;
  double density, u_density;  /* g/mL; mass = density x v */
} rkin_unc_dose;

typedef struct {
  double ab_gy, u_ab_gy;      /* alpha/beta; ab_gy = 0: no BED */
  double trep_h, u_trep_h;
} rkin_unc_lq;

typedef struct {
  size_t n;
  const rkin_unc_point *pt;
} rkin_unc_cycle;

typedef struct {
  const char *nuclide;
  const char *region;          /* names the region in messages */
  rkin_tac_model model;        /* MONO, BI, UPWASH or TRI */
  rkin_unc_meas meas;
  rkin_unc_dose dose;
  rkin_unc_lq lq;
  size_t n_cycles;             /* 1..RKIN_UNC_MAX_CYCLES */
  const rkin_unc_cycle *cyc;
  double level;                /* interval level, default 0.95 (0) */
} rkin_unc_chain;

/* One result: estimate, standard uncertainty, interval at the level and
 * (delta method) the variance from each source, which sum to u^2. */
typedef struct {
  double value, u, lo, hi;
  double var[RKIN_UNC_NSRC];   /* NaN for Monte Carlo */
} rkin_unc_q;

typedef struct {
  size_t n_cycles;
  double mass_kg;
  rkin_unc_q tia[RKIN_UNC_MAX_CYCLES], dose[RKIN_UNC_MAX_CYCLES],
      bed[RKIN_UNC_MAX_CYCLES];
  rkin_unc_q mass, cum_dose, cum_bed;   /* cum_bed NaN without LQ */
  double g[RKIN_UNC_MAX_CYCLES];        /* protraction factor per cycle */
  unsigned fit_warn[RKIN_UNC_MAX_CYCLES];
                                        /* RKIN_TAC_W_* bits of each
                                         * cycle's nominal fit: a rate held
                                         * at physical decay has SE 0, so
                                         * the count term is then too
                                         * small */
  size_t n_draws, n_failed;             /* Monte Carlo */
} rkin_unc_result;

/* First-order (delta) propagation with the budget. Intervals value -+ z u
 * with z the normal quantile. */
int rkin_unc_delta(const rkin_unc_chain *ch, rkin_unc_result *r,
                   rkin_err *err);

/* Monte Carlo: n_draws (>= 100) draws of every input (Gaussian; volume,
 * density, alpha/beta, T_rep and the calibration redrawn while <= 0;
 * recovery-curve parameters from their covariance), each cycle refitted.
 * value = the nominal (delta) estimate, u = SD of the draws, lo/hi the
 * percentiles. A draw whose fit fails is counted in n_failed and dropped;
 * more than 1 % failed is an error. */
int rkin_unc_mc(const rkin_unc_chain *ch, size_t n_draws,
                unsigned long seed, rkin_unc_result *r, rkin_err *err);

/* ---- a course from doses already computed ---- */

/* Cycles' absorbed doses D_c with the relative SD of each from its own TIA
 * (fit or counts: independent between cycles) and relative SDs shared by
 * every cycle of the patient's region (calibration, mass, S value: fully
 * correlated, so they add linearly over cycles). BED_c = D_c (1 + G_c D_c /
 * (alpha/beta)); first order: dBED/dD = 1 + 2 G D / ab, dBED/dab = -G D^2 /
 * ab^2. For tables of doses (scripts/dose.lua) rather than counts. */
typedef struct {
  size_t n;                  /* cycles, 1..RKIN_UNC_MAX_CYCLES */
  const double *dose_gy;     /* > 0 */
  const double *u_rel;       /* independent relative SD per cycle, or NULL */
  const double *g;           /* G per cycle in [0, 1], or NULL: no BED */
  double u_cal_rel, u_mass_rel, u_s_rel;   /* shared relative SDs, >= 0 */
  double ab_gy, u_ab_gy;     /* alpha/beta (> 0 with g) and its SD */
  double level;              /* 0: 0.95 */
} rkin_unc_course;

typedef struct {
  size_t n;
  rkin_unc_q dose[RKIN_UNC_MAX_CYCLES], bed[RKIN_UNC_MAX_CYCLES];
  rkin_unc_q cum_dose, cum_bed;   /* cumulative over cycles 1..n */
  rkin_unc_q cum_dose_at[RKIN_UNC_MAX_CYCLES], cum_bed_at[RKIN_UNC_MAX_CYCLES];
                                  /* cumulative through cycle c */
} rkin_unc_course_result;

int rkin_unc_course_delta(const rkin_unc_course *c,
                          rkin_unc_course_result *r, rkin_err *err);

/* The next cycle's activity at a confidence level: the largest activity A
 * whose cumulative BED, past cycles plus the next (dose A x gy_per_mbq),
 * stays under the limit at its one-sided upper bound,
 *   BED_cum(A) + z u(A) <= limit,   z = Phi^-1(level),
 * with u from rkin_unc_course_delta: the past cycles' own terms, the next
 * cycle's own relative SD u_gy_per_mbq_rel, and the shared terms of `past`
 * (calibration, mass, S value: the same for the next cycle) and
 * alpha/beta. level 0.5 is the point estimate (rkin_radiobio_budget's
 * answer). BED_cum + z u grows with A, so A is found by bisection to a
 * relative 1e-10. *over = 1 (A = 0) when the past alone reaches the
 * limit at that level. */
typedef struct {
  rkin_unc_course past;        /* past.n may be 0 (first cycle); past.g
                                * required when past.n > 0 */
  double gy_per_mbq, u_gy_per_mbq_rel;
  double g_next;               /* G of the next cycle, [0, 1] */
  double limit_bed_gy;         /* > 0 */
  double level;                /* one-sided, [0.5, 1) */
  int from_last;               /* 1: gy_per_mbq is the last past cycle's
                                * measured dose per activity (D_n = A
                                * D_last / A_last), so the prediction
                                * carries the last cycle's own error
                                * (past.u_rel[n-1], correlation 1 with it)
                                * and u_gy_per_mbq_rel is an independent
                                * extra term (the true change between
                                * cycles); 0: an independent prediction
                                * (e.g. a scout scan) of relative SD
                                * u_gy_per_mbq_rel. Needs past.n >= 1. */
} rkin_unc_next;

int rkin_unc_next_activity(const rkin_unc_next *x, double *activity_mbq,
                           double *bed_upper_gy, int *over, rkin_err *err);

/* The predicted cumulative BED (past cycles plus the next at activity_mbq)
 * and its first-order standard uncertainty under the model of x (level and
 * limit unused): with from_last the own-error variance of the sum gains
 * the covariance 2 k_L D_L k_n D_n u_L^2 of the last cycle and the
 * prediction (k = dBED/dD = 1 + 2 G D / (alpha/beta)). var (may be NULL)
 * receives the variance by source. */
int rkin_unc_next_bed(const rkin_unc_next *x, double activity_mbq,
                      double *bed_gy, double *u_gy,
                      double var[RKIN_UNC_NSRC], rkin_err *err);

/* ---- red marrow from blood ---- */

/* Blood-based red-marrow dosimetry (EANM guidelines, Hindorf et al.,
 * EJNMMI 2010;37:1238): the marrow's TIA from the blood's,
 *   TIA_RM = c_bl x RMBLR x m_RM        (c_bl: blood TIA per mL, MBq h/mL;
 *                                        m_RM in g, 1 g of marrow taken as
 *                                        1 mL, as radiokin.organdose does)
 * self-dose by local deposition of the nuclide's non-penetrating energy,
 *   D_self = TIA_RM x S_LED(m_RM)       (= c_bl RMBLR E_np k: m_RM cancels)
 * and the cross-dose from the remainder of the body,
 *   D_cross = (TIA_WB - TIA_RM) x S(RM <- RB)
 * with S(RM <- RB) the user's (phantom, patient-scaled) S value; 0 or no
 * whole-body TIA: no cross-dose. Sources independent; delta method. */
typedef struct {
  const char *nuclide;
  double c_tia_blood, u_c_tia_blood;  /* MBq h / mL */
  double rmblr, u_rmblr;
  double m_rm_kg, u_m_rm_kg;
  double tia_wb, u_tia_wb;            /* MBq h; 0: no cross-dose */
  double s_cross, u_s_cross_rel;      /* Gy/(MBq h), relative SD */
  double u_s_self_rel;                /* relative SD of the self S value */
  double level;                       /* 0: 0.95 */
} rkin_unc_marrow;

typedef struct {
  rkin_unc_q tia_rm, self, cross, total;
} rkin_unc_marrow_result;

int rkin_unc_marrow_dose(const rkin_unc_marrow *m,
                         rkin_unc_marrow_result *r, rkin_err *err);

/* ---- a VOI of a voxel dose map ---- */

/* The mean dose and mean BED of a VOI of voxel maps, each source a
 * relative SD u_rel[s] of every voxel's dose at once (calibration,
 * recovery, the VOI's mass from its volume, the administered activity:
 * factors common to the VOI). Dose: u^2 = D^2 sum u_s^2. BED: every voxel
 * BED_v = D_v + G_v D_v^2 / (alpha/beta), so scaling the doses by (1 + e)
 * changes the mean BED by e (2 BED - D) to first order, exactly whatever
 * the voxels' G and doses: u^2 = (2 BED - D)^2 sum u_s^2 (+ the mean
 * BED's own alpha/beta term, -(BED - D) u_ab / ab, when ab_gy > 0).
 * bed_gy NaN: no BED. Intervals value -+ z u, z the normal quantile at
 * level (0: 0.95). */
typedef struct {
  double dose_gy;                 /* > 0 */
  double bed_gy;                  /* >= dose_gy, or NaN */
  double u_rel[RKIN_UNC_NSRC];    /* >= 0 each */
  double bed_u_gy[RKIN_UNC_NSRC]; /* > 0: that source's standard
                                   * uncertainty of the mean BED given
                                   * directly (Gy), for a source that is
                                   * no common dose scale (the VOI grown
                                   * and shrunk by one voxel); 0: from
                                   * u_rel by the rule above */
  double ab_gy, u_ab_gy;          /* ab_gy 0: alpha/beta exact */
  double level;
} rkin_unc_voi;

int rkin_unc_voi_delta(const rkin_unc_voi *x, rkin_unc_q *dose,
                       rkin_unc_q *bed, rkin_err *err);

/* ---- single time point ---- */

/* Effective half-life of the population: log-normal with median
 * t_half_h and geometric CV cv (SD of ln T = sqrt(ln(1 + cv^2))). */
typedef enum { RKIN_UNC_STP_HAENSCHEID = 0, RKIN_UNC_STP_POPLAMBDA } rkin_unc_stp_method;

typedef struct {
  double tia, u;          /* MBq h: the method's estimate (not corrected)
                           * and its standard uncertainty tia x u_ln,
                           * u_ln^2 = u_rel_method^2 + u_rel_meas^2 */
  double lo, hi;          /* tia exp(E[ln r] -+ z u_ln): asymmetric */
  double bias_rel;        /* exp(E[ln r]) - 1, r = true / estimate over
                           * the population */
  double u_rel_method;    /* SD of ln r: the spread of half-lives */
  double u_rel_meas;      /* relative SD of A(t) (measurement model) */
} rkin_unc_stp;

/* TIA from one activity a (MBq) at t (h) with relative uncertainty
 * u_a_rel (rkin_unc_activity_of) by Haenscheid et al. (J Nucl Med 2018;
 * 59:75: TIA = A(t) 2 t / ln 2) or by the population's median half-life
 * (TIA = A(t) e^(l t) / l, l = ln 2 / t_half). The true TIA of a mono-
 * exponential patient is A(t) e^(l_p t) / l_p; the log of its ratio r to
 * the estimate is averaged over the population's log-normal half-lives by
 * 40-point Gauss-Hermite quadrature (GSL). Logs, because r itself has no
 * finite moments over a log-normal population (r ~ e^(ln 2 t / T) for a
 * short T). */
int rkin_unc_stp_tia(rkin_unc_stp_method m, double t_h, double a_mbq,
                     double u_a_rel, double t_half_h, double cv,
                     double level, rkin_unc_stp *out, rkin_err *err);

#endif
