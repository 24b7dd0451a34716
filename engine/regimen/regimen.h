/* regimen.h - personalised cycle regimens over a cohort: a cycle is one
 * administration (activity chosen by a rule) followed by integration over
 * the cycle interval from the previous cycle's end state. Per cycle and
 * region: true TIA, absorbed dose, Lea-Catcheside G and BED; what the
 * clinic would measure (simulated imaging, imaging.h) drives the rule; the
 * truth scores the outcome. Rules: empiric, PP-PRRT (cumulative kidney dose
 * target), ILUMINET (cumulative kidney BED limit), per-patient optimised
 * (NLopt, regimen_opt.c) or a caller's callback.
 *
 * Routes (chosen per cohort, reported by rkin_regimen_route):
 * - linear model, linear outputs, bolus administration: each patient's
 *   system matrix is diagonalised once (GSL gsl_eigen_nonsymmv); then per
 *   region D = tau . y0 and I = y0' W y0 over [0, interval] exactly, where
 *   I = int R q, q' = R - mu q (G = 2 I / D^2), as finite double sums over
 *   the eigenvalues. A cycle costs O(n^2) flops. A patient whose
 *   eigenvectors are ill-conditioned (not diagonalisable) falls back to:
 * - the augmented model: the model plus per region q' = R - mu q and
 *   I' = R q, solved by CVODES (any model, infusions, nonlinear kinetics).
 *
 * Units: activity GBq in rules (MBq inside the model), time h, dose Gy.
 * Results do not depend on the thread count: each patient's values and its
 * imaging noise (seeded per patient and cycle) are its own. */
#ifndef RKIN_REGIMEN_H
#define RKIN_REGIMEN_H

#include <stddef.h>

#include "core/err.h"
#include "tac/imaging.h"
#include "core/model.h"
#include "dose/radiobio.h"
#include "solve/solve.h"
#include "pop/vpop.h"

/* A region scored per cycle: an organ or a tumour. */
typedef struct {
  const char *name;        /* "kidney": messages and result keys */
  int quantity;            /* solve.h indexing: state i, or n_states + k
                              for output k (MBq) */
  double mass_kg;          /* > 0 */
  double s_gy_per_mbqh;    /* 0: local energy deposition from the model's
                              nuclide and mass_kg (dosimetry.h) */
  rkin_lq lq;              /* alpha/beta and T_rep (organ.h) */
} rkin_region;

typedef struct {
  const rkin_model *model;
  rkin_solve_opts opts;    /* path CVODES forces the augmented route */
  size_t n_patients;
  const double *params;    /* n_patients x n_params, row-major */
  size_t n_cov;            /* covariates handed to rules, may be 0 */
  const double *covariates;        /* n_patients x n_cov */
  const char *const *cov_names;    /* n_cov */
  size_t n_regions;
  const rkin_region *regions;
  int inject;              /* state receiving the activity */
  double carrier_per_mbq;  /* > 0: each administration also gives
                              carrier_per_mbq x the activity (MBq) into
                              state `carrier` (the unlabelled ligand of
                              the injected mass, in the model's amount
                              unit), as a second record with the same
                              time and infusion length (the model's dose
                              modifiers apply to it); 0: none. Forces the
                              augmented route. */
  int carrier;             /* state of the carrier (!= inject) */
  double infusion_h;       /* 0: bolus at the cycle start; > 0: an
                              infusion lasting infusion_h h, the dosed
                              state's F scaling its rate (RATE -2 with
                              D = infusion_h) */
  double interval_h;       /* administration to next administration */
  int threads;             /* 0: all cores */
  rkin_progress_fn progress;   /* NULL: none; called by rkin_regimen_run
                                  in the calling thread after the plan
                                  (optimiser) and after each cycle */
  void *progress_ud;
  size_t first_id;         /* the patients are first_id + 1, ... of a
                              larger cohort (a block of it): messages and
                              imaging noise streams use those numbers;
                              0 for a whole cohort */
} rkin_regimen_spec;

typedef enum {
  RKIN_ROUTE_EIGEN,        /* linear closed form */
  RKIN_ROUTE_AUGMENTED     /* model + auxiliary states, CVODES */
} rkin_route;

typedef struct rkin_regimen rkin_regimen;

/* Checks the spec, picks the route and prepares every patient (in
 * parallel). The spec's arrays and the model must outlive the object.
 * A patient whose preparation fails is recorded and reported by every run
 * (its id and message); the call fails only on bad input or resources. */
rkin_regimen *rkin_regimen_new(const rkin_regimen_spec *spec, rkin_err *err);
void rkin_regimen_free(rkin_regimen *r);
rkin_route rkin_regimen_route(const rkin_regimen *r);
/* Patients that fell back from the eigen route to the augmented one. */
size_t rkin_regimen_nfallback(const rkin_regimen *r);

/* What a rule knows after `cycles_given` cycles of one patient: the
 * measured (estimated) doses, BEDs and G factors of every region, its
 * covariates. Arrays are cycles_given x n_regions, row-major. Regions
 * not imaged are NaN in the estimates. */
typedef struct {
  size_t patient;              /* 0-based; messages say patient + 1 */
  size_t cycles_given;         /* 0 before the first cycle */
  size_t max_cycles;           /* the cap: ask for no cycle beyond it */
  double interval_h;
  size_t n_regions;
  const rkin_region *regions;
  const double *activity_gbq;  /* cycles_given */
  const double *dose_gy;
  const double *bed_gy;
  const double *g;
  const double *cum_dose_gy;   /* n_regions */
  const double *cum_bed_gy;    /* n_regions */
  const double *u_rel;         /* cycles_given x n_regions: relative SD of
                                  each estimated dose from the images' own
                                  (counting) error, independent between
                                  cycles; 0 for the truth */
  double u_act_rel, u_mass_rel;/* relative SDs shared by every cycle and
                                  dose of the patient's region (imaging
                                  model EANM: calibration and recovery;
                                  volume, i.e. mass); 0 otherwise */
  size_t n_cov;
  const double *covariates;    /* n_cov */
  const char *const *cov_names;
  rkin_err *err;               /* a failing rule writes its message here */
} rkin_regimen_state;

/* A rule: sets the next activity (GBq, 0 = stop), returns 0, or non-zero
 * after filling known->err. Called between cycles, serially, in the
 * calling thread (never during a solve), so it may run Lua. */
typedef int (*rkin_regimen_decide_fn)(void *ud,
                                      const rkin_regimen_state *known,
                                      double *next_activity_gbq);

typedef enum {
  RKIN_RULE_EMPIRIC,       /* activity_gbq for n_cycles cycles */
  RKIN_RULE_PP_PRRT,       /* cumulative dose of `region` to target_gy */
  RKIN_RULE_ILUMINET,      /* activity_gbq until cumulative BED limit */
  RKIN_RULE_OPTIMISED,     /* per-patient NLopt plan on the true model */
  RKIN_RULE_CUSTOM         /* decide(ud, ...) */
} rkin_rule_kind;

/* A constraint of the optimiser, also scored in results. */
typedef struct {
  size_t region;
  int bed;                 /* 1: cumulative BED <= limit; 0: absorbed dose */
  double limit_gy;         /* > 0 */
} rkin_regimen_limit;

/* The optimiser's method on the augmented route (the eigen route always
 * uses SLSQP with its closed-form gradients). */
typedef enum {
  RKIN_OPT_GRADIENT,       /* SLSQP, gradients from CVODES forward
                              sensitivities (default); first the
                              certified front-loaded plan
                              (regimen_vertex.c), which settles most
                              patients of a saturable-uptake model with a
                              few cycle solves */
  RKIN_OPT_COBYLA,         /* COBYLA, derivative-free */
  RKIN_OPT_GRADIENT_SEARCH /* RKIN_OPT_GRADIENT without the shortcut: the
                              multi-start search for every patient */
} rkin_opt_method;

typedef struct {
  rkin_rule_kind kind;
  size_t max_cycles;       /* cap, >= 1 */
  double activity_gbq;     /* empiric and ILUMINET per cycle; PP-PRRT
                              cycle 1 without a pre-therapy estimate */
  size_t n_cycles;         /* empiric: cycles; PP-PRRT: planned cycles */
  size_t region;           /* PP-PRRT / ILUMINET: the organ watched */
  double target_gy;        /* PP-PRRT cumulative absorbed dose */
  double bed_limit_gy;     /* ILUMINET cumulative BED */
  int reduce_last;         /* ILUMINET: cut the last cycle to the budget */
  double min_gbq, max_gbq; /* per-cycle bounds (max 0: none; needed by
                              the optimiser) */
  double min_cycle_gbq;    /* smallest useful cycle (default 1 GBq):
                              ILUMINET stops rather than give a reduced
                              last cycle below it, and the optimiser gives
                              no cycle below it. About 1/7 of a standard
                              7.4 GBq cycle: in ILUMINET (NCT01456078) a
                              7.4 GBq cycle gave a median 4.5 Gy kidney
                              dose, so 1 GBq adds some 0.6 Gy, within the
                              uncertainty of the cumulative BED it would
                              "use up", while it costs a whole
                              administration (and, for the optimiser, a
                              vanishing cycle only buys the scoring of
                              one more interval of the previous cycle's
                              tail). 0: no minimum. */
  double first_gy_per_gbq; /* PP-PRRT pre-therapy dose per GBq for cycle
                              1; 0: cycle 1 gets activity_gbq */
  const double *first_each;/* n_patients per-patient estimates, or NULL */
  size_t objective;        /* OPTIMISED: region whose BED is maximised */
  size_t n_limits;
  const rkin_regimen_limit *limits;
  double confidence;       /* PP-PRRT, ILUMINET, OPTIMISED: level in
                              [0.5, 1) at which the watched cumulative
                              dose / BED is held at the target / limit:
                              0 or 0.5 the point estimate (the rules as
                              published), e.g. 0.95 its upper bound
                              estimate + z u, z = Phi^-1(level), u by
                              first-order propagation (uncert.h
                              rkin_unc_course) of the estimates' counting
                              SDs (independent between cycles) and the
                              shared ones (fully correlated). Decisions
                              from the truth have u = 0. OPTIMISED: each
                              limit holds the upper bound of the planned
                              course under plan_u_rel. */
  double plan_u_rel;       /* OPTIMISED: relative SD shared by every
                              planned dose (calibration, recovery, mass);
                              rkin_regimen_run fills it from the imaging
                              model when 0 (rkin_imaging_shared_u) */
  rkin_opt_method optimiser;       /* OPTIMISED, augmented route */
  rkin_regimen_decide_fn decide;   /* CUSTOM */
  void *ud;
} rkin_regimen_rule;

/* Sensible defaults: empiric 4 x 7.4 GBq, max_cycles 4, reduce_last 1,
 * min_cycle_gbq 1. */
void rkin_regimen_rule_default(rkin_regimen_rule *rule);

/* Results: arrays n_patients x max_cycles (x n_regions), row-major.
 * Cycles not given are 0 (activities, true and estimated values). */
typedef struct {
  size_t n_patients, max_cycles, n_regions;
  size_t *n_cycles;        /* cycles given */
  double *activity_gbq;
  double *tia_true, *dose_true, *g_true, *bed_true;  /* MBq h, Gy, -, Gy */
  double *tia_est, *dose_est, *g_est, *bed_est;      /* imaging; NaN for a
                                                       region not imaged */
  double *u_rel_est;       /* relative SD of dose_est from the images'
                              counting error (rkin_imaging_est.u_rel) */
  int *status;             /* 0 or the patient's RKIN_E code */
  char **message;          /* NULL or the patient's failure message */
  size_t n_failed;
  long n_steps;            /* CVODES steps (augmented route) */
} rkin_regimen_res;

int rkin_regimen_res_alloc(rkin_regimen_res *res, size_t n_patients,
                           size_t max_cycles, size_t n_regions,
                           rkin_err *err);
void rkin_regimen_res_free(rkin_regimen_res *res);

/* Runs every patient through the rule, cycle by cycle: the rule decides
 * for every patient (serially), then one cycle of all patients is solved
 * in parallel, with imaging. img NULL: decisions from the truth. A failing
 * patient (rule error, bad activity, a rule asking beyond max_cycles,
 * solver failure) keeps its earlier cycles and gets a status and message
 * naming it and the cycle; the others go on. */
int rkin_regimen_run(rkin_regimen *r, const rkin_regimen_rule *rule,
                     const rkin_imaging *img, rkin_regimen_res *res,
                     rkin_err *err);

/* Per-patient optimisation (regimen_opt.c): activities a_1..a_K (K <=
 * rule->max_cycles, each in [min_gbq, max_gbq]) maximising the cumulative
 * BED of rule->objective subject to rule->limits, on the true model.
 * Linear route: BED is a quadratic in the activities (SLSQP with exact
 * gradients); augmented route: first the certified front-loaded plan
 * (regimen_vertex.c, RKIN_OPT_GRADIENT), else each evaluation solves the
 * cycles, with CVODES forward sensitivities by the activities for SLSQP,
 * or without for COBYLA (rule->optimiser).
 * Every K is tried; `starts` (n_starts x max_cycles, zero-padded) are
 * extra starting plans (e.g. the built-in rules'): a feasible start is
 * itself a candidate, so the result is never worse than it. K = 0 (no
 * cycle) when no plan is feasible. obj_bed may be NULL. */
int rkin_regimen_optimise(rkin_regimen *r, size_t patient,
                          const rkin_regimen_rule *rule, size_t n_starts,
                          const double *starts, double *act_gbq,
                          size_t *n_cycles, double *obj_bed, rkin_err *err);

/* True cumulative dose and BED of every region for a plan of K
 * activities (GBq) of one patient, without imaging: n_regions values each
 * (either may be NULL). */
int rkin_regimen_evaluate(rkin_regimen *r, size_t patient, size_t k,
                          const double *act_gbq, double *cum_dose_gy,
                          double *cum_bed_gy, rkin_err *err);

#endif
