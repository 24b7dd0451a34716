/* popboot.h - the nonparametric bootstrap of a population fit: subjects
 * resampled with replacement (optionally within strata), the resampled
 * dataset as CSV text, and percentile and BCa confidence intervals
 * (Efron B, J Am Stat Assoc 1987;82:171-185; Efron & Tibshirani, An
 * Introduction to the Bootstrap, 1993, ch. 14). */
#ifndef RKIN_POPBOOT_H
#define RKIN_POPBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Replicate r's draw of n subjects: pick[i] is the subject (0-based,
 * dataset order) taking place i. Without strata every place draws from
 * all n; with strata (a label per subject) place i draws from the
 * subjects of subject i's stratum, so every stratum keeps its size. The
 * generator is seeded from (seed, r) alone. */
int rkin_boot_pick(size_t n, const double *strata, uint64_t seed, size_t r,
                   size_t *pick, rkin_err *err);

/* The CSV text of a resampled dataset: the header of the NONMEM-style
 * dataset text[0, len) (`name` for messages), then for each place k the
 * records of subject pick[k] (subjects in order of first appearance; a
 * subject's records are contiguous) with ID k + 1, so a subject drawn
 * twice is two subjects. Comment lines are dropped. *out is malloc'd and
 * NUL-terminated. */
int rkin_boot_resample_csv(const char *text, size_t len, const char *name,
                           const size_t *pick, size_t n, char **out,
                           size_t *out_len, rkin_err *err);

typedef struct {
  size_t n;               /* finite replicates used */
  double lo, hi;          /* percentile interval */
  double bca_lo, bca_hi;  /* BCa interval (NaN when undefined: every
                             replicate on one side of the estimate, or no
                             jackknife) */
  double z0, a;           /* bias correction and acceleration */
  double alpha_lo, alpha_hi; /* BCa's adjusted percentile levels */
} rkin_boot_ci;

/* Intervals of level `level` (0.9: 5 % and 95 %) from the replicates'
 * values rep[0, n_rep) (NaN: a failed replicate, skipped) around the
 * original estimate est. Percentile: the alpha/2 and 1 - alpha/2
 * quantiles of the replicates (linear interpolation between order
 * statistics, R's type 7). BCa: z0 = Phi^-1(share of replicates below
 * est, ties counted half), acceleration a = sum d^3 / (6 (sum d^2)^1.5)
 * with d = mean(jack) - jack[i] over the n_jack leave-one-subject-out
 * estimates, and the quantiles at Phi(z0 + (z0 + z) / (1 - a (z0 + z)))
 * for z = Phi^-1(alpha/2), Phi^-1(1 - alpha/2). jack NULL: BCa with
 * a = 0 (bias-corrected percentile). At least 2 finite replicates. */
int rkin_boot_interval(const double *rep, size_t n_rep, double est,
                       const double *jack, size_t n_jack, double level,
                       rkin_boot_ci *ci, rkin_err *err);

#endif
