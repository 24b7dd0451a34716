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

#include "dosing.h"
#include "err.h"
#include "model.h"
#include "solve.h"

/* Parameters of n patients, row-major n x n_params:
 * k = theta * exp(omega * z), omega = sqrt(ln(1 + cv^2)), z ~ N(0,1) from
 * GSL's MT19937 seeded with `seed`, drawn patient by patient in parameter
 * order. cv[j] = 0 keeps parameter j at theta[j]. theta NULL: the model's
 * defaults. Errors: cv < 0 or non-finite, theta <= 0 where cv > 0. */
int rkin_vpop_sample(const rkin_model *m, const double *theta,
                     const double *cv, unsigned long seed, size_t n,
                     double *params, rkin_err *err);

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
  rkin_progress_fn progress;    /* called from the calling thread; may be NULL */
  void *progress_ud;
} rkin_cohort_spec;

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
 * itself fails only on bad arguments (RKIN_EINVAL) or resources. */
int rkin_cohort_run(const rkin_cohort_spec *spec, rkin_cohort_res *res,
                    rkin_err *err);

/* Number of online processors (at least 1). */
int rkin_ncores(void);

#endif
