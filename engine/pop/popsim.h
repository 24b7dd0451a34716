/* popsim.h - simulation from a population model at given (estimated)
 * parameters over the design of a dataset: the same subjects, doses,
 * observation times, covariates and endpoints, N times (visual predictive
 * checks, simulation-estimation, prediction intervals).
 *
 * Replicate r, subject i: eta ~ N(0, Omega_r), the individual parameters
 * and predictions f as a fit computes them (time-varying covariates
 * included), then each observation y = f + SD(f) eps (y = f exp(a eps) on
 * the log scale), eps ~ N(0, 1), with the endpoint's error model
 * (popres.h) at sigma_r. Between-occasion variability (occasion etas,
 * popiov.c): each occasion of a subject draws its own occasion etas from
 * their variance in Omega_r, the subject's other etas once. Each
 * (replicate, subject) pair draws from its own generator seeded from
 * (seed, r, i), so the numbers do not depend on the thread count or on
 * the order the work is done in. Parameter uncertainty: the caller may
 * give each replicate its own theta, Omega and sigma (drawn from the
 * covariance step's matrix, for instance). */
#ifndef RKIN_POPSIM_H
#define RKIN_POPSIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "pop/data.h"
#include "pop/popest.h"

typedef struct {
  size_t n_rep;             /* replicates (>= 1) */
  uint64_t seed;
  int threads;              /* 0: all cores */
  /* The parameters (natural scale: theta, Omega n_eta x n_eta, sigma in
   * the fit's order) of every replicate... */
  const double *theta, *omega, *sigma;
  /* ... unless these are given (non-NULL): replicate r's are
   * rep_theta + r n_theta, rep_omega + r n_eta^2, rep_sigma + r n_sigma. */
  const double *rep_theta, *rep_omega, *rep_sigma;
  int no_residual;          /* 1: y = f (individual predictions) */
} rkin_popsim_opts;

typedef struct {
  size_t n_rep, n_obs, n_subj, n_sigma;
  double *dv;               /* n_rep x n_obs, dataset order */
  double *pred;             /* n_obs: f at eta = 0 with theta (the
                               typical prediction, PRED) */
  int *endpoint;            /* n_obs: 1-based endpoint */
} rkin_popsim;

/* Simulates; 0, or a negative RKIN_E code with err naming the replicate
 * and the subject (the lowest replicate that failed). *out must be
 * released with rkin_popsim_free in every case. */
int rkin_popsim_run(const rkin_popmodel *pm, const rkin_data *data,
                    const rkin_popsim_opts *opts, rkin_popsim *out,
                    rkin_err *err);
void rkin_popsim_free(rkin_popsim *out);

/* The seed of the generator of replicate r, subject i (splitmix64 of the
 * three; exposed for tests). */
uint64_t rkin_popsim_stream_seed(uint64_t seed, size_t r, size_t i);

#endif
