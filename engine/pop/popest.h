/* popest.h - population (nonlinear mixed-effects) estimation: FO and FOCE
 * with interaction, empirical Bayes estimates, covariance step,
 * goodness-of-fit diagnostics.
 *
 * Model, NONMEM's way: subject i has random effects eta_i ~ N(0, Omega);
 * its model parameters psi_i = g(theta, eta_i, cov_i); observation j is
 * y_ij = f_ij(psi_i) + eps_ij with Var(eps_ij) = V(f_ij) of one of the
 * error models of popres.h (additive, proportional, combined in both
 * forms, power), optionally with y and f on the log scale (then additive
 * only), per endpoint; censored records by M3 (popres.h) or dropped (M1).
 * f comes from rkin_solver_run
 * (one model output or state at the observation times) or from a
 * caller's closed-form predictor.
 *
 * Objective: ofv = -2 log L without the constant N log(2 pi) (NONMEM's
 * OFV); m2ll = ofv + N log(2 pi), the -2 log-likelihood nlme / R report.
 *   FO:     y_i ~ N(f(0), G0 Omega G0' + V(f(0))), G = df/deta.
 *   FOCE-I: Laplace at the EBE eta^ with the first-order Hessian
 *           (Wang 2007, J Pharmacokinet Pharmacodyn 34:575, eq. for
 *           FOCE-I): sum_j [r_j^2/V_j + log V_j] + eta^' Omega^-1 eta^
 *           + log det(I + L' G' V^-1 G L), Omega = L L', V and G at eta^.
 * df/deta: forward sensitivities of the solution along dpsi/deta
 * (rkin_solver_run_sens) on either path (exact: analytic; CVODES: its
 * sensitivity module); dpsi/deta from psi_deta, else by central
 * differences of the cheap parameter builder. Central differences of the
 * predictions for a predictor callback, complex eigenvalues, or what the
 * sensitivities cannot serve (steady-state records on CVODES, dose
 * modifiers or CVODES with time-varying covariates).
 * Call rkin_init() first: a non-positive-definite Omega or R matrix is
 * detected through GSL's return codes. */
#ifndef RKIN_POPEST_H
#define RKIN_POPEST_H

#include <stddef.h>

#include "pop/data.h"
#include "pop/popres.h"
#include "core/err.h"
#include "core/expr.h"
#include "core/model.h"
#include "solve/solve.h"

/* One endpoint of a fit of several (PK + PD, parent + metabolite, blood
 * + kidney): the quantity it predicts and its own error model. An
 * observation record belongs to the endpoint whose output it selects
 * (sj->output: DVID, or CMT naming an output); otherwise to endpoint
 * DVID - 1 (a dataset read without output names); otherwise, for a
 * state endpoint, to the one observing the record's CMT; a record
 * matching none is an error naming its line. */
typedef struct {
  int output;                 /* model output (>= 0) or state -1 - k;
                                 with a predictor: free (the predictor
                                 reads sj->dvid itself) */
  rkin_res_model res;
  int log_scale;              /* 1: log(y) = log(f) + eps, additive */
  const double *sigma_init;   /* rkin_res_nparams(res) values: a, b, c */
  /* 0: the SD scales with the prediction; k >= 1: with model output
   * k - 1 at the same time instead (nlmixr2 propF / powF: SD = b g, b
   * g^c, a + ...); a model, output endpoints and a model other than
   * additive only. */
  int scale_var;
} rkin_pop_endpoint;
/* FO; FOCE-I (interaction: the residual variance at the EBE); FOCE
 * (NONMEM's FOCE without INTERACTION: the residual variance at eta = 0);
 * Laplace and Laplace-I (true second derivatives of the individual
 * objective at the EBE instead of FOCE's first-order Hessian; without /
 * with interaction). Appended in this order: FO and FOCE-I keep their
 * values. */
typedef enum { RKIN_POP_FO, RKIN_POP_FOCEI, RKIN_POP_FOCE,
               RKIN_POP_LAPLACE, RKIN_POP_LAPLACEI,
               RKIN_POP_SAEM /* saem.h; rkin_popfit_run: its defaults */
} rkin_pop_method;
/* Starts of the inner search for each subject's EBE (its mode of eta).
 * MULTI (default): on the first pass and in the final (diagnostic) one
 * the previous EBE, eta = 0, the FO-linearised mode and +-2 SDs of Omega
 * along each axis, the lowest local minimum kept; in the outer search's
 * passes between, the previous EBE (the mode found so far) only; in
 * the covariance step's, the EBE at the estimates only for a subject
 * whose final scan found one mode, else the EBE at the estimates, eta = 0
 * and the linearised mode. SINGLE: the previous
 * EBE only in every pass (eta = 0 when that search fails). SCAN: all of
 * MULTI's starts in every pass. */
typedef enum { RKIN_EBE_MULTI, RKIN_EBE_SINGLE, RKIN_EBE_SCAN }
  rkin_ebe_starts;
/* The covariance step's matrix (NONMEM's $COV MATRIX=): the sandwich
 * R^-1 S R^-1, R^-1 or S^-1. */
typedef enum { RKIN_COV_SANDWICH, RKIN_COV_R, RKIN_COV_S } rkin_cov_matrix;

/* Individual parameters psi (n_psi) from theta, eta and the subject's
 * covariates (in popmodel.cov_names order). Called from worker threads
 * at once: must be re-entrant. Returns 0, or a negative RKIN_E code with
 * a message in err. */
typedef int (*rkin_pop_indiv_fn)(const double *theta, const double *eta,
                                 const double *cov, double *psi, void *ud,
                                 rkin_err *err);

/* A closed-form predictor replacing the solver: f[k] for every
 * observation k of subject s given psi. Re-entrant, as above. */
typedef int (*rkin_pop_pred_fn)(const rkin_data_subject *s,
                                const double *psi, double *f, void *ud,
                                rkin_err *err);

typedef struct {
  /* Predictions: either a model (psi are its parameters, n_psi its
   * parameter count) observed through output `output` (>= 0) or state
   * -1 - output, solved with `solve` (NULL: defaults with rtol 1e-8)... */
  const rkin_model *model;
  int output;
  const rkin_solve_opts *solve;
  /* ... or a closed-form predictor (model NULL). */
  rkin_pop_pred_fn predict;
  void *predict_ud;
  size_t n_psi;                   /* with predict only */
  const char *const *psi_names;   /* with predict: for messages; NULL */

  size_t n_theta;
  const char *const *theta_names; /* NULL: THETA1.. */
  const double *theta_init;
  const double *theta_lower;      /* NULL or -HUGE_VAL entries: unbounded */
  const double *theta_upper;

  size_t n_eta;
  const char *const *eta_names;   /* NULL: ETA1.. */
  const double *omega_init;       /* n_eta x n_eta, symmetric positive
                                     definite, row-major */
  int omega_diag;                 /* 1: off-diagonals fixed at 0 */
  /* Block-diagonal Omega: a label per eta (n_eta), etas with the same
   * label form a block whose covariances are estimated; elements across
   * blocks are 0. NULL: diagonal (omega_diag) or one full block. */
  const int *omega_block;
  /* FIX (NULL: none): theta_fix[n_theta], omega_fix[n_eta x n_eta] (an
   * element fixes both (a,b) and (b,a); a covariance only with its whole
   * block), sigma_fix[n_sigma]: nonzero keeps the initial value. */
  const int *theta_fix;
  const int *omega_fix;
  const int *sigma_fix;
  /* Between-occasion variability (IOV; NULL: none): eta_occ[n_eta],
   * nonzero marks an occasion eta. Each record carries an occasion index
   * (the integer dataset column occ_name, NULL: "OCC"); a subject has one
   * value of an occasion eta per occasion it has, all independent with the
   * variance (and block) the eta has in Omega, NONMEM's BLOCK SAME. The
   * parameter builder sees n_eta etas: an occasion eta is the value of
   * the record's occasion, so individual parameters change with OCC as
   * with a time-varying covariate; a predictor callback is called once
   * per occasion and gives that occasion's observations. An occasion eta
   * may not share an Omega block with an eta that is not one. */
  const int *eta_occ;
  const char *occ_name;

  size_t n_cov;                   /* covariates the builder uses, looked */
  const char *const *cov_names;   /* up in the dataset by name */

  /* psi: a C callback, or expressions (graph + n_psi nodes) whose PARAM
   * leaf i is theta[i] for i < n_theta, eta[i - n_theta] next, then the
   * covariates; one of the two. */
  rkin_pop_indiv_fn indiv;
  void *indiv_ud;
  const rkin_graph *graph;
  const rkin_node *psi_expr;
  /* Optional with expressions: d psi_k / d eta_j as nodes of graph,
   * n_psi x n_eta row-major (rkin_expr_diff of psi_expr[k] by PARAM leaf
   * n_theta + j), for exact df/deta on the exact path; NULL: central
   * differences of psi. */
  const rkin_node *psi_deta;

  rkin_res_model res;
  int log_scale;                  /* 1: log(y) = log(f) + eps, additive */
  const double *sigma_init;       /* SDs: add {a}, prop {b}, comb {a, b} */

  /* Several endpoints (n_endpoints > 0): then output, res, log_scale and
   * sigma_init above are unused; sigma is the endpoints' parameters one
   * after the other. The outputs must be all model outputs or all
   * states. */
  size_t n_endpoints;
  const rkin_pop_endpoint *endpoints;
  rkin_blq_method blq;            /* censored records (data.h CENS/LLOQ) */
  /* The model output each dataset output (sj->output, the index into the
   * output_names the dataset was read with) is; NULL: the same index
   * (read with the model's outputs in their order). */
  const int *data_outputs;
  size_t n_data_outputs;
} rkin_popmodel;

typedef struct {
  rkin_pop_method method;
  int covariance;        /* 1: run the covariance step (default 1) */
  int threads;           /* 0: all cores (default) */
  int max_eval;          /* outer objective evaluations (default 3000) */
  double xtol;           /* outer: step on the transformed scale (1e-6) */
  double eta_step;       /* finite-difference step on eta (1e-4; 1e-3 on
                            the CVODES path) */
  int fd_grad;           /* 1: df/deta by finite differences also where
                            the exact path gives it analytically (default
                            0: forward sensitivities, see below) */
  rkin_ebe_starts ebe_starts; /* default RKIN_EBE_MULTI */
  int inner_lbfgs;       /* 1: each inner (EBE) search by LBFGS alone;
                            default 0: a Newton search first (the
                            Gauss-Newton Hessian plus a per-subject
                            secant correction), LBFGS when it fails */
  rkin_cov_matrix cov_matrix; /* the covariance giving the SEs (default
                                 RKIN_COV_SANDWICH, NONMEM's) */
  /* A fit run by several processes at once (MPI ranks; the caller does
   * the communication, the engine knows nothing of it). gather NULL
   * (default): one process works every subject. Else each process runs
   * the same fit with the same data and options, works only subjects
   * [subj_lo, subj_hi) in every pass (the processes' ranges contiguous
   * and in process order, covering all subjects; empty ones allowed),
   * and the per-subject results travel through two collective calls,
   * made by every process the same times in the same order:
   * gather(mine, len, all, total): every process's `len` bytes at mine,
   * concatenated in process order into all (`total` bytes, their sum)
   * on every process; agree(rc, err): 0 when every process passed rc =
   * 0, else the lowest failing process's code with its message in err.
   * Both return 0 or a negative RKIN_E code with err set. */
  size_t subj_lo, subj_hi;
  int (*gather)(const void *mine, size_t len, void *all, size_t total,
                void *ud, rkin_err *err);
  int (*agree)(int rc, rkin_err *err, void *ud);
  void *dist_ud;
} rkin_popfit_opts;

void rkin_popfit_opts_default(rkin_popfit_opts *o);

typedef struct {
  int status;            /* 0 converged; else the RKIN_E code of `err`:
                            the estimates are the last good ones */
  rkin_err err;
  const char *stop;      /* NLopt's reason ("xtol reached", ...) */
  int n_eval;            /* outer objective evaluations */
  /* Solutions of one subject's model (ODE models; every thread, the
   * covariance step included): plain predictions, and those with
   * forward sensitivities (df/deta). */
  unsigned long n_pred, n_pred_sens;
  /* Inner (EBE) searches: those the Newton search ended, and those it
   * handed to LBFGS (a failed line search, no convergence in 50
   * iterations, e.g. at a bound); 0 and 0 with inner_lbfgs. Those
   * LBFGS failed in turn went to BOBYQA (n_ebe_bobyqa). */
  unsigned long n_ebe_newton, n_ebe_fallback, n_ebe_bobyqa;
  /* Of n_ebe_newton, the searches ended on the solver's noise floor
   * (popsubj.c NEWTON_DEC), and the secant updates of the Hessian taken
   * from the step they ended on (0: such an update is noise, skipped). */
  unsigned long n_ebe_floor, n_ebe_floor_sr1;
  /* The covariance step's share of the counts above (included in them):
   * OFV passes (points), solves, EBE searches, and the process CPU
   * seconds it took (clock(): every thread). */
  int cov_n_points;
  unsigned long cov_n_pred, cov_n_pred_sens;
  unsigned long cov_n_ebe_newton, cov_n_ebe_fallback, cov_n_ebe_bobyqa;
  double cov_cpu_s;
  double ofv;            /* NONMEM's OFV (no N log 2 pi) */
  double m2ll;           /* -2 log L incl. N log 2 pi */
  size_t n_subj, n_obs, n_theta, n_eta, n_sigma, n_psi;
  double *theta;         /* n_theta */
  double *omega;         /* n_eta x n_eta */
  double *sigma;         /* n_sigma SDs */

  /* Estimates near a boundary (a variance tending to 0, an |Omega
   * correlation| above 0.99): n_boundary of them, named in `boundary`;
   * the covariance step is then not run. */
  int n_boundary;
  rkin_err boundary;

  /* Covariance step, over the n_est estimated (not fixed) parameters:
   * theta, then Omega's estimated elements of the lower triangle row by
   * row (within blocks), then the sigma SDs. cov_status != 0: not done or
   * failed (message in cov_err). */
  int cov_status;
  rkin_err cov_err;
  size_t n_est;
  char **est_names;      /* "lKa", "OMEGA(2,1)", "SIGMA(1)" */
  double *est;           /* n_est */
  double *se, *rse;      /* from the chosen matrix (opts cov_matrix,
                            default the sandwich R^-1 S R^-1); rse in % */
  double *cov;           /* n_est^2: the chosen covariance */
  double *cov_sandwich;  /* n_est^2: R^-1 S R^-1 (NaN: R not PD) */
  double *cov_r;         /* n_est^2: R^-1 (NaN: R not PD) */
  double *cov_s;         /* n_est^2: S^-1 (NaN: S singular) */
  int cov_ok;            /* bits: 1 sandwich, 2 R^-1, 4 S^-1 computed */
  double *corr;          /* n_est^2: correlation of the chosen one */
  double cond;           /* max/min eigenvalue of corr (NONMEM's) */
  double cond_r;         /* max/min eigenvalue of R (inf: not PD) */

  /* Per subject (rows in dataset order). */
  double *eta;           /* n_subj x n_eta: EBEs (FO: also computed) */
  double *psi;           /* n_subj x n_psi: individual parameters */
  double *ofv_i;         /* n_subj: contributions to ofv */
  double *eta_shrink;    /* n_eta: 1 - SD(eta^) / omega, fraction */
  /* Robust EBEs, from the final pass: the number of different local modes
   * the starts of each subject ended in (1: all agree) and how much higher
   * the worst one's objective (-2 log joint density) was than the mode
   * kept; n_multimodal subjects had more than one. cov_multimodal: the
   * covariance step's evaluations in which some subject had more than
   * one (its EBEs are then the lowest of several starts as well). */
  int *ebe_modes;
  double *ebe_dofv;
  size_t n_multimodal;
  size_t cov_multimodal;
  double eps_shrink;     /* 1 - SD(IWRES) */

  /* Per observation (dataset order). PRED at eta = 0, IPRED at eta^,
   * both on the natural scale; residuals on the error model's scale. */
  double *dv, *time, *id;
  double *pred, *ipred, *res, *iwres, *cwres;
  /* Per observation: its endpoint (1-based; n_endpoints of them) and,
   * when the dataset has CENS / LLOQ, its censoring (0, 1 below, -1
   * above the limit; else NULL). Censored (M3) and dropped (M1) records
   * have no RES, IWRES or CWRES (NaN). */
  size_t n_endpoints;
  int *endpoint;
  int *cens;
  /* IOV (eta_occ): n_occ, the most occasions of a subject (0 without
   * IOV); occ_value (n_subj x n_occ) their OCC values in increasing
   * order, NaN past a subject's own; occ_eta (n_subj x n_occ x n_eta)
   * every eta at each occasion (an occasion eta its value there, the
   * others repeated; NaN past the subject's occasions); occ (n_obs) the
   * OCC of each observation. `eta` above holds the first occasion's.
   * eta_shrink of an occasion eta is over all (subject, occasion). */
  size_t n_occ;
  double *occ_value, *occ_eta, *occ;
} rkin_popfit;

/* Fits the model to the data. Returns 0 when the fit ran (check
 * fit->status: an error during estimation stops cleanly and keeps the
 * last good estimates) or a negative code for an invalid specification:
 * omega not positive definite, an eta that no parameter uses, an unknown
 * covariate or one missing for a subject, bounds that exclude the
 * initial value, a dose to a state the model lacks, ... *fit is filled in
 * both cases and must be released with rkin_popfit_free. */
int rkin_popfit_run(const rkin_popmodel *pm, const rkin_data *data,
                    const rkin_popfit_opts *opts, rkin_popfit *fit,
                    rkin_err *err);
void rkin_popfit_free(rkin_popfit *fit);

/* The objective at given parameters (theta, omega n_eta x n_eta, sigma
 * SDs) with EBEs re-estimated: no outer optimisation. *ofv as in
 * rkin_popfit; m2ll may be NULL; ofv_i (n_subj) may be NULL. */
int rkin_popest_ofv(const rkin_popmodel *pm, const rkin_data *data,
                    const rkin_popfit_opts *opts, const double *theta,
                    const double *omega, const double *sigma, double *ofv,
                    double *m2ll, double *ofv_i, rkin_err *err);

/* Evaluation without estimation (NONMEM's MAXEVAL=0, nlmixr2's "posthoc"):
 * *fit as rkin_popfit_run leaves it, at the given parameters instead of
 * estimates: OFV, per-subject OFV, EBEs, PRED / IPRED / RES / IWRES /
 * CWRES, shrinkage; the covariance step there when opts->covariance.
 * theta (n_theta), omega (n_eta x n_eta) and sigma (SDs): NULL takes the
 * model's initial values. fit->n_eval is 0 and fit->stop says
 * "evaluation". Returns 0 with fit->status 0, or a negative code (also in
 * fit->status) when the specification, the values or a subject fails;
 * release *fit with rkin_popfit_free in every case. */
int rkin_popfit_evaluate(const rkin_popmodel *pm, const rkin_data *data,
                         const rkin_popfit_opts *opts, const double *theta,
                         const double *omega, const double *sigma,
                         rkin_popfit *fit, rkin_err *err);

/* Writes the parameter table (name, estimate, SE, RSE %) and the
 * observation table (ID, TIME, DV, PRED, IPRED, RES, IWRES, CWRES, then
 * ENDPOINT with several endpoints, CENS when the fit has censoring, OCC
 * with occasion etas, and the record's EBEs ETA1..ETAn: an occasion eta
 * at the record's occasion) as CSV text into malloc'd strings; NA for a
 * value that is not there; the caller frees. */
int rkin_popfit_table_csv(const rkin_popfit *fit, char **params,
                          char **obs, rkin_err *err);

#endif
