/* tac.h - time-activity curves from sparse imaging: sum-of-exponential fits
 * with model selection, time-integrated activity (TIA) with uncertainty,
 * single-time-point methods and population-prior MAP estimation.
 *
 * Activities already include physical decay, so every effective rate is
 * held >= the nuclide's physical decay constant (biological rate >= 0).
 * Units: t in h, activity in MBq, rates in 1/h, TIA in MBq h. */
#ifndef RKIN_TAC_H
#define RKIN_TAC_H

#include <stddef.h>

#include "core/err.h"

#define RKIN_TAC_MAX_POINTS 64   /* sparse imaging: a handful of scans */
#define RKIN_TAC_MAX_PAR 5

/* Candidate curves; natural parameters in the order given. */
typedef enum {
  RKIN_TAC_MONO = 0,  /* A e^-l t                          (A, l) */
  RKIN_TAC_BI,        /* A1 e^-l1 t + A2 e^-l2 t, l1 < l2   (A1, l1, A2, l2) */
  RKIN_TAC_UPWASH,    /* A (e^-lw t - e^-lu t), lw < lu     (A, lw, lu) */
  RKIN_TAC_TRI,       /* A1 e^-l1 t + A2 e^-l2 t - (A1+A2) e^-l3 t,
                       * l1 < l2 < l3: bi-exponential washout with an uptake
                       * phase, starting at 0             (A1, l1, A2, l2, l3) */
  RKIN_TAC_TRAP,      /* trapezoid through the points + physical-decay tail
                       * (non-parametric fallback, not ranked by AIC) */
  RKIN_TAC_NMODELS
} rkin_tac_model;

/* Status of one candidate. */
enum {
  RKIN_TAC_NOT_TRIED = 0,  /* not requested, or more parameters than points */
  RKIN_TAC_OK,             /* converged; parameters and TIA valid */
  RKIN_TAC_FAILED,         /* optimiser did not converge: no numbers */
  RKIN_TAC_DEGENERATE      /* converged onto a simpler curve (a component
                            * vanished or two rates merged): not ranked */
};

/* Warning bits (rkin_tac_cand.warn, rkin_tac_result.warn). */
enum {
  RKIN_TAC_W_PHYS = 1 << 0,       /* wanted biological rate < 0: slowest
                                   * rate held at physical decay */
  RKIN_TAC_W_RISING = 1 << 1,     /* activity rises at the last point */
  RKIN_TAC_W_NOCONV = 1 << 2,     /* a candidate did not converge */
  RKIN_TAC_W_FALLBACK = 1 << 3,   /* no parametric fit: trapezoid used */
  RKIN_TAC_W_AICC_UNDEF = 1 << 4, /* AICc undefined (n <= k + 1) */
  RKIN_TAC_W_NOSE = 1 << 5,       /* covariance not available */
  RKIN_TAC_W_DEGENERATE = 1 << 6, /* a candidate collapsed */
  RKIN_TAC_W_EXTRAP = 1 << 7,     /* more than half the TIA lies beyond the
                                   * last point */
  RKIN_TAC_W_INELIGIBLE = 1 << 8, /* k >= n: as many parameters (the
                                   * residual scale included) as points, so
                                   * not identifiable from these data:
                                   * never ranked nor chosen */
  RKIN_TAC_W_NOT_TRIED = 1 << 9,  /* not requested, or fewer points than
                                   * natural parameters */
  RKIN_TAC_W_MULTIMODAL = 1 << 10, /* MAP: searches from different starts
                                    * ended in different posterior modes
                                    * (the best is kept) */
  RKIN_TAC_NWARN = 11
};

typedef enum { RKIN_TAC_AICC = 0, RKIN_TAC_AIC } rkin_tac_criterion;

/* Trapezoid start: activity at t = 0 taken as 0 (organ uptake) or as the
 * first measured value (whole body, blood). */
typedef enum { RKIN_TAC_TRAP_ZERO = 0, RKIN_TAC_TRAP_FLAT } rkin_tac_trap_a0;

/* The data of one region. */
typedef struct {
  size_t n;             /* number of time points, 1..RKIN_TAC_MAX_POINTS */
  const double *t;      /* h, >= 0, strictly increasing */
  const double *a;      /* MBq, > 0; zeros allowed only after the last
                         * positive value (below detection at late times) */
  const double *sd;     /* MBq, > 0, or NULL: proportional error model */
  const char *nuclide;  /* "Lu-177", see nuclide.h */
} rkin_tac_data;

typedef struct {
  unsigned models;      /* bit (1 << model) per candidate; 0 = all */
  double cv;            /* no sd: sigma_i = cv a_i with cv known (> 0), or
                         * 0 = scale estimated from the residuals */
  rkin_tac_criterion criterion;
  int average;          /* 1: reported TIA is the Akaike-weighted average */
  double level;         /* interval level, default 0.95 */
  int boot;             /* parametric bootstrap refits of the chosen model
                         * (0 = none); percentile interval */
  unsigned long seed;   /* bootstrap RNG seed (GSL mt19937) */
  rkin_tac_trap_a0 trap_a0;
  int maxeval;          /* NLopt evaluation limit per start */
} rkin_tac_opts;

/* One candidate's fit. Arrays indexed by natural parameter (see
 * rkin_tac_model) and by data point. */
typedef struct {
  rkin_tac_model model;
  int status;                    /* RKIN_TAC_OK ... */
  int np;                        /* natural parameters */
  int k;                         /* parameters counted by AIC (np - fixed,
                                  * + 1 when the scale is estimated) */
  double p[RKIN_TAC_MAX_PAR];    /* estimates */
  double se[RKIN_TAC_MAX_PAR];   /* standard errors (0 for a held rate) */
  unsigned fixed;                /* bit j: p[j] held at a bound */
  double chi2;                   /* weighted residual sum of squares */
  double s2;                     /* residual variance factor applied to the
                                  * covariance (1 when sigma is known) */
  double r2;                     /* unweighted R^2 */
  double resid[RKIN_TAC_MAX_POINTS];  /* a_i - f(t_i) */
  double aic, aicc;              /* NaN when undefined */
  double map_obj;                /* MAP: -2 log posterior at the estimate,
                                  * as defined at rkin_tac_map; NaN
                                  * otherwise */
  double weight;                 /* Akaike weight, NaN when not ranked */
  double cov[RKIN_TAC_MAX_PAR * RKIN_TAC_MAX_PAR];
                                 /* covariance of p, np x np row-major,
                                  * s2 applied, rows and columns of held
                                  * parameters 0; valid when has_cov */
  int has_cov;
  double dof;                    /* residual degrees of freedom of the
                                  * intervals (0: normal quantile) */
  double tia, tia_se;            /* MBq h; se NaN when not available */
  double tia_lo, tia_hi;         /* interval at opts.level */
  double tail_share;             /* share of TIA beyond the last point */
  unsigned warn;                 /* RKIN_TAC_W_* bits of this candidate */
  int nlopt_result, nevals;
  char note[400];                /* why not tried / failed / held / not
                                  * eligible, "; "-separated */
} rkin_tac_cand;

typedef struct {
  size_t n;
  double lambda_phys;                 /* 1/h */
  rkin_tac_cand cand[RKIN_TAC_NMODELS];
  rkin_tac_model chosen;
  rkin_tac_criterion criterion_used;
  double tia, tia_se, tia_lo, tia_hi; /* chosen (or averaged) */
  double tia_avg, tia_avg_se;         /* Akaike-weighted average */
  double boot_lo, boot_hi;            /* bootstrap interval, NaN if none */
  int boot_failed;                    /* bootstrap refits that failed */
  unsigned warn;
  char notes[1600];                   /* warnings as text, "; "-separated:
                                       * the result's, then every tried
                                       * candidate's note "model: ..." */
} rkin_tac_result;

void rkin_tac_opts_default(rkin_tac_opts *o);

const char *rkin_tac_model_name(rkin_tac_model m);   /* "mono", ... */
int rkin_tac_model_find(const char *name, rkin_tac_model *m, rkin_err *err);
int rkin_tac_model_npar(rkin_tac_model m);
/* The natural parameter names of a model ("A1", "l1", ...). */
const char *rkin_tac_par_name(rkin_tac_model m, int j);

/* Short name of one RKIN_TAC_W_* bit ("held_at_physical", ...), NULL for
 * an unknown bit: flags printed per candidate row. */
const char *rkin_tac_warn_name(unsigned bit);

/* Checks data; on success *lambda_phys is the nuclide's decay rate. */
int rkin_tac_check(const rkin_tac_data *d, double *lambda_phys,
                   rkin_err *err);

/* Fits every requested candidate, ranks them, picks one. Returns 0 when a
 * TIA could be given (possibly the trapezoid fallback: see r->warn);
 * errors only for bad input.
 *
 * Eligibility: a candidate counts k parameters (free natural parameters,
 * + 1 when the residual scale is estimated). With k >= n points its
 * parameters and scale are not identifiable from the data (an exact or
 * all-but-exact interpolation whose information criterion rewards the
 * lack of residual): it is flagged RKIN_TAC_W_INELIGIBLE with a note and
 * never ranked or chosen, whatever the criterion. The rest are ranked by
 * AICc; when fewer than two eligible candidates have one, by AIC. No
 * eligible converged candidate: the trapezoid, flagged. Every candidate
 * keeps its own warn bits and note. */
int rkin_tac_fit(const rkin_tac_data *d, const rkin_tac_opts *o,
                 rkin_tac_result *r, rkin_err *err);

/* Fits one parametric candidate (or the trapezoid). */
int rkin_tac_fit_one(const rkin_tac_data *d, const rkin_tac_opts *o,
                     rkin_tac_model m, rkin_tac_cand *c, rkin_err *err);

/* The mono-exponential candidate of rkin_tac_fit for activities without
 * sd (proportional error; cv known or not), fitted in closed form for A
 * and by a one-dimensional Newton search for l (the voxel fast path):
 * returns 1 with *A (MBq), *l (1/h, >= lp) and *held (1: l held at the
 * physical rate lp, as rkin_tac_fit holds it), the same minimum that
 * rkin_tac_fit's mono candidate reaches; 0 when the case is not a clean
 * interior or held minimum (a zero or non-finite activity, times not
 * increasing, no convergence, a rate or amplitude at rkin_tac_fit's
 * bounds): call rkin_tac_fit then. */
int rkin_tac_mono_quick(size_t n, const double *t, const double *a,
                        double lp, double *A, double *l, int *held);

/* Value of a fitted candidate's curve at t (the trapezoid interpolates and
 * decays physically after the last point; needs the data). */
double rkin_tac_curve(rkin_tac_model m, const double *p, double t);
/* Analytic integral 0..inf of a parametric curve. */
double rkin_tac_integral(rkin_tac_model m, const double *p);

/* ---- single time point ---- */

typedef struct {
  double tia, tia_se;   /* MBq h; se NaN without sd */
  double tia_lo, tia_hi;
} rkin_tac_stp;

/* Haenscheid et al. 2018: TIA = A(t) 2 t / ln 2 (exact for a mono-
 * exponential whose effective half-life equals t). sd may be 0 (unknown). */
int rkin_tac_stp_haenscheid(double t, double a, double sd, double level,
                            rkin_tac_stp *out, rkin_err *err);

/* Population effective rate: TIA = A(t) e^(l t) / l; l_sd (>= 0) adds the
 * spread of the population rate to the SE. */
int rkin_tac_stp_poplambda(double t, double a, double sd, double l,
                           double l_sd, double level, rkin_tac_stp *out,
                           rkin_err *err);

/* Population model for MAP: typical natural parameters (effective rates),
 * log-normal between-subject variability of the amplitudes and of the
 * biological rates (l - l_phys), residual error. */
typedef struct {
  rkin_tac_model model;            /* MONO, BI, UPWASH or TRI */
  double typ[RKIN_TAC_MAX_PAR];    /* typical natural parameters */
  double omega[RKIN_TAC_MAX_PAR];  /* SD of eta; 0 holds the parameter */
  double cv;                       /* proportional residual error (used when
                                    * the data carry no sd) */
} rkin_tac_prior;

/* Maximum a-posteriori individual parameters from 1+ points. Minimises
 *
 *   -2 log posterior = sum_i [ (a_i - f_i)^2 / s_i^2 + ln s_i^2 ]
 *                      + sum_k eta_k^2 / omega_k^2        (+ a constant)
 *
 * (c->map_obj; the constant n ln 2pi + sum_k ln(2 pi omega_k^2) is left
 * out), f_i the model at t_i for p(eta). Residual error: s_i = sd_i when
 * the data carry sd; otherwise s_i = cv f_i, proportional to the
 * PREDICTION as in NLME practice (not to the observation, which would
 * make the weights depend on the noise of the very point they weigh),
 * and since this variance depends on the parameters its log-determinant
 * term ln s_i^2 = ln cv^2 + 2 ln f_i stays in the objective.
 *
 * The search (NLopt L-BFGS) runs from several starts: the prior mode
 * (eta = 0), the population curve scaled to the data (amplitudes times the
 * geometric mean of a/f), each component of a sum of exponentials alone
 * scaled to the data, and a log-linear fit of the data carried by the
 * slowest term; then 32 points of a Sobol sequence over eta_k in
 * +-6 omega_k. The lowest converged objective is kept; when another
 * start converged to a different, higher mode, RKIN_TAC_W_MULTIMODAL is
 * set and the note gives both objectives and the TIA difference.
 *
 * SEs from the inverse expected information of the posterior (the
 * proportional error contributes (df/f)^2 (1/cv^2 + 2) per point); TIA SE
 * by the delta method. Results in c (model = prior model, aic/aicc/weight
 * NaN). */
int rkin_tac_map(const rkin_tac_data *d, const rkin_tac_prior *pr,
                 double level, rkin_tac_cand *c, rkin_err *err);

/* Pointwise confidence band of a fitted curve at the n times t (h): f(t)
 * -+ z sqrt(d(t)^T cov d(t)), d = df/dp (delta method), z the quantile of
 * the t distribution with c->dof degrees of freedom (normal when 0) at
 * `level`. Needs c->has_cov (RKIN_EINVAL otherwise, e.g. a trapezoid or a
 * fit without SE). */
int rkin_tac_band(const rkin_tac_cand *c, double level, const double *t,
                  size_t n, double *lo, double *hi, rkin_err *err);

#endif
