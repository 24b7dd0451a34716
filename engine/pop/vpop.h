/* vpop.h - virtual cohorts: sample patients from a model with log-normal
 * between-patient variability, and simulate every patient through a cycle
 * schedule in parallel, collecting per-cycle TIAs.
 *
 * Results do not depend on the number of threads: patients are sampled in
 * one sequential stream before any thread starts, and each patient's result
 * has its own slot. */
#ifndef RKIN_VPOP_H
#define RKIN_VPOP_H

#include <stddef.h>

#include "core/dosing.h"
#include "core/err.h"
#include "core/model.h"
#include "solve/solve.h"

/* Parameters of n patients, row-major n x n_params:
 * k = theta * exp(omega * z), omega = sqrt(ln(1 + cv^2)), z ~ N(0,1) from
 * GSL's MT19937 seeded with `seed`, drawn patient by patient in parameter
 * order. cv[j] = 0 keeps parameter j at theta[j]. theta NULL: the model's
 * defaults. Errors: cv < 0 or non-finite, theta <= 0 where cv > 0. */
int rkin_vpop_sample(const rkin_model *m, const double *theta,
                     const double *cv, unsigned long seed, size_t n,
                     double *params, rkin_err *err);

/* The same stream in pieces (a cohort streamed in chunks): draw(n) gives
 * the next n patients of rkin_vpop_sample's sequence (params NULL: drawn
 * and dropped). new checks as rkin_vpop_sample and copies theta and cv. */
typedef struct rkin_vpop_sampler rkin_vpop_sampler;
rkin_vpop_sampler *rkin_vpop_sampler_new(const rkin_model *m,
                                         const double *theta,
                                         const double *cv,
                                         unsigned long seed, rkin_err *err);
void rkin_vpop_sampler_draw(rkin_vpop_sampler *s, size_t n, double *params);
void rkin_vpop_sampler_free(rkin_vpop_sampler *s);

typedef void (*rkin_progress_fn)(size_t done, size_t total, void *ud);

typedef struct {
  const rkin_model *model;
  rkin_solve_opts opts;
  size_t n_patients;
  const double *params;         /* n_patients x n_params, row-major */
  size_t n_cycles;
  double cycle_h;               /* each cycle is integrated over [0, cycle_h] */
  const rkin_dosing *dosing;    /* one cycle's doses, times from cycle start */
  const double *cycle_scale;    /* n_cycles factors on every dose amount
                                   (and rate); NULL: all 1 */
  const int *tia;               /* quantities (solve.h indexing) */
  size_t n_tia;
  int threads;                  /* 0: all cores */
  rkin_progress_fn progress;    /* from the calling thread; may be NULL */
  void *progress_ud;
  size_t first_id;              /* messages number patient i as
                                   first_id + i + 1 (a block of a larger
                                   cohort); 0 for a whole cohort */
  size_t batch;                 /* patients integrated together as one
                                   CVODES system (solve/cv_batch.h), in
                                   groups of consecutive patients; 0:
                                   RKIN_COHORT_BATCH, 1: one by one */
} rkin_cohort_spec;

/* The default batch size, chosen on the 6-state peer cohort of
 * tests/bench/bench_cohort (--profile 64, callgrind, instructions of the
 * cohort's worker per patient): B = 1 9.17e6, 4 4.93e6, 8 4.16e6, 16
 * 3.74e6 (2.45x fewer than one by one), 32 3.57e6; steps per patient and
 * cycle 350, 388, 402, 411, 423 (a batch steps as its most demanding
 * patient). Past 16 the gain is 5 % for twice the memory and coarser
 * work-sharing between threads. */
#define RKIN_COHORT_BATCH 16

typedef struct {
  double *tia;     /* n_patients x n_cycles x n_tia; NaN for a failed patient */
  int *status;     /* n_patients: 0 or the RKIN_E code of that patient */
  long n_steps;    /* total CVODES steps (0 on the exact path) */
  size_t n_failed;
  size_t first_failed;  /* lowest failed patient index (0-based) */
  rkin_err first;       /* its error */
} rkin_cohort_res;

/* Simulates every patient: cycle c starts from the end state of cycle c-1
 * plus the cycle's doses; the TIAs are integrals over that cycle. A failing
 * patient is recorded in status and does not stop the others; the call
 * itself fails only on bad arguments (RKIN_EINVAL) or resources.
 * On the CVODES path, groups of `batch` consecutive patients (by their
 * number in the whole cohort, first_id + i + 1: 1..B, B+1..2B, ..., so
 * the same groups whatever the threads or blocks the cohort is run in)
 * are integrated as one system
 * when the model and the schedule allow it (rkin_cvbatch_refusal) and
 * their dose times agree; each patient's result is then within the
 * tolerances of its own run, not bit-identical to it. A group whose
 * integration fails is rerun patient by patient, so a failing patient is
 * reported as without batches and the others get their one-by-one
 * results. n_steps counts a batch's steps once for each patient in it. */
int rkin_cohort_run(const rkin_cohort_spec *spec, rkin_cohort_res *res,
                    rkin_err *err);

/* The size of the groups rkin_cohort_run integrates together for spec: 1
 * when it runs patients one by one (not the CVODES path, a model or
 * schedule cv_batch.h does not cover, batch 1), else batch (0: the
 * default). A caller that splits a cohort into blocks (MPI ranks, chunks)
 * at multiples of it keeps the groups, hence the results, of the whole. */
size_t rkin_cohort_batch(const rkin_cohort_spec *spec);

/* ------------------------------------------------ population models
 *
 * A population model gives each patient i
 *   covariates  c_i: sampled from per-covariate distributions linked by a
 *               Gaussian copula with correlation R (or given per patient,
 *               e.g. read from a CSV), then `derive`d covariates (BSA from
 *               weight and height, ...);
 *   eta_i ~ N(0, Omega): Omega the covariance of the log-scale random
 *               effects over the model's parameters (zero rows: none),
 *               drawn as L z with L the Cholesky factor (GSL);
 *   p_ij = theta_j * prod_k f_k(c_ik) * exp(eta_ij)  (fixed-form effects),
 *          unless the `individual` function sets parameter j.
 *
 * Random numbers: patient i has its own MT19937 stream seeded from (seed,
 * i) through a SplitMix64 mix, and draws first one z per model parameter
 * (eta), then the covariates. So a patient's values depend only on the
 * seed, its index and the model: not on n, not on the thread count, and
 * adding a covariate does not change anyone's eta. */

typedef enum {
  RKIN_DIST_NORMAL,      /* mean, sd of the value */
  RKIN_DIST_LOGNORMAL,   /* mean, sd of the value (not of its log) */
  RKIN_DIST_UNIFORM      /* on [lo, hi] */
} rkin_dist;

typedef struct {
  const char *name;      /* for messages */
  rkin_dist dist;
  double mean, sd;
  double lo, hi;         /* truncation (uniform: the range); +-INFINITY for
                            none. A draw outside is redrawn, the whole
                            covariate vector at once (keeps the copula) */
} rkin_covdist;

typedef enum {
  RKIN_EFFECT_POWER,     /* (c / ref)^beta */
  RKIN_EFFECT_EXP,       /* exp(beta (c - ref)) */
  RKIN_EFFECT_LINEAR     /* 1 + beta (c - ref) */
} rkin_effect_kind;

typedef struct {
  size_t param;          /* model parameter index */
  size_t cov;            /* covariate index (derived ones follow the
                            sampled ones) */
  rkin_effect_kind kind;
  double ref, beta;
} rkin_effect;

/* A compiled function of the patient's inputs: the outputs of an
 * rkin_model whose states are ignored (evaluated at t = 0, y = 0). Its
 * parameter k reads input slot arg[k] of u = [theta (n_params), eta
 * (n_params), covariates (n_cov + n_derived)]; its output k writes slot
 * out[k] (a model parameter for `individual`, a derived covariate index
 * k' in [0, n_derived) for `derive`). fn NULL: no function. Built in Lua
 * by tracing a function once (dsl/l_population.c); no Lua runs here. */
typedef struct {
  const rkin_model *fn;
  const size_t *arg;     /* rkin_model_nparams(fn) slots */
  const size_t *out;     /* rkin_model_noutputs(fn) targets */
} rkin_pop_fn;

typedef struct {
  const rkin_model *model;
  const double *theta;        /* n_params typical values; NULL: defaults */
  const double *omega;        /* n_params x n_params, row-major, covariance
                                 of eta (log scale); NULL: no variability */
  size_t n_cov;               /* sampled or given covariates */
  const char *const *cov_names;
  const rkin_covdist *cov;    /* n_cov distributions; NULL: covariates
                                 must be given (rkin_pop_sample cov_in) */
  const double *cov_corr;     /* n_cov x n_cov correlation of the copula;
                                 NULL: independent */
  size_t n_derived;
  const char *const *derived_names;
  rkin_pop_fn derive;         /* inputs: covariates; outputs: derived */
  size_t n_effects;
  const rkin_effect *effects;
  rkin_pop_fn individual;     /* outputs: model parameters */
  int threads;                /* 0: all cores; results do not depend on it */
} rkin_pop_spec;

/* Checks the spec: sizes and indices, omega symmetric positive
 * semi-definite with its non-zero block positive definite, covariate
 * correlation a valid correlation matrix (unit diagonal, |r| <= 1,
 * positive definite), distributions sane. Messages name the matrix, the
 * entry (by parameter / covariate names) and why. */
int rkin_pop_check(const rkin_pop_spec *ps, rkin_err *err);

/* Samples n patients. cov_in: NULL to sample covariates from ps->cov,
 * else n x n_cov given values (a CSV), used as they are. Outputs (row-
 * major, any may be NULL): params n x n_params, eta n x n_params, cov
 * n x (n_cov + n_derived). A non-finite or failing function value, or a
 * non-finite parameter, is an error naming the patient (1-based), the
 * parameter or covariate, and the inputs. */
int rkin_pop_sample(const rkin_pop_spec *ps, unsigned long seed, size_t n,
                    const double *cov_in, double *params, double *eta,
                    double *cov, rkin_err *err);

/* Patients first + 1 .. first + n of the same sample (a block of it, e.g.
 * one MPI rank's): the same values as rows first .. first + n - 1 of
 * rkin_pop_sample's, written to rows 0 .. n - 1 of the outputs; cov_in
 * holds the block's n rows. Messages number patients in the whole. */
int rkin_pop_sample_block(const rkin_pop_spec *ps, unsigned long seed,
                          size_t first, size_t n, const double *cov_in,
                          double *params, double *eta, double *cov,
                          rkin_err *err);

/* Reads a per-patient table from a CSV file (RFC 4180 through
 * core/csv.h: quoted fields, CRLF, a UTF-8 BOM; header line of column
 * names; one patient per record; blank lines and lines starting with '#'
 * skipped). Every `need` column must be present (else an error naming
 * the file, line 1 and the column, listing the header), and every cell of
 * it a number (else file:line, column). `want` columns are optional:
 * found[k] says whether column want[k] exists; cells of a found column
 * must be numbers. On success *values is malloc'd, n_rows x (n_need +
 * n_want) row-major (absent want columns NaN), *lines (may be NULL) the
 * file line of each row; the caller frees both. */
int rkin_pop_read_csv(const char *path, size_t n_need,
                      const char *const *need, size_t n_want,
                      const char *const *want, int *found, size_t *n_rows,
                      double **values, size_t **lines, rkin_err *err);

/* Checks a table read by rkin_pop_read_csv against the population: each
 * covariate (columns 0 .. ps->n_cov - 1 of each row of `stride` values)
 * inside the [lo, hi] its distribution declares (when ps->cov is given;
 * RKIN_ERANGE), and, when id_col >= 0, no id given twice (RKIN_EINVAL).
 * Messages name path:line (lines from the reader), the column and the
 * value. */
int rkin_pop_check_table(const rkin_pop_spec *ps, const char *path,
                         const double *values, size_t n_rows, size_t stride,
                         const size_t *lines, long id_col, rkin_err *err);

/* Number of online processors (at least 1). */
int rkin_ncores(void);

#endif
