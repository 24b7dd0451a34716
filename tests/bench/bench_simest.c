/* bench_simest.c - simulation-estimation of the population-fit features of
 * issues 8 and 14 (tests/simest.h): for each feature (IOV, M3 with ~30 %
 * BLQ, power error, block Omega, two endpoints) N_SETS datasets of N_SUBJ
 * subjects simulated from known parameters and fitted by FOCE-I with the
 * covariance step (closed-form predictions). Prints, per parameter: true
 * value, mean estimate, relative bias %, empirical SD vs mean SE, and the
 * coverage % of the 95 % Wald intervals (sandwich SE).
 *
 *   bench_simest [N_SETS [N_SUBJ [THREADS [FEATURE]]]]
 *       (default 100, 40, 0 = all cores, all features; FEATURE 0-4 runs
 *       one; fixed seeds) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/init.h"
#include "../simest.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
  int n_sets = argc > 1 ? atoi(argv[1]) : 100;
  size_t n_subj = argc > 2 ? (size_t)atoi(argv[2]) : 40;
  int threads = argc > 3 ? atoi(argv[3]) : 0;
  int only = argc > 4 ? atoi(argv[4]) : -1, feat, bad = 0;
  rkin_init();
  if (n_sets < 1 || n_subj < 2 || only >= SE_NFEAT) {
    fprintf(stderr, "bench_simest: bad arguments\n");
    return 1;
  }
  for (feat = 0; feat < SE_NFEAT; feat++) {
    se_spec sp;
    se_acc a = {0};
    double t0 = now();
    size_t k;
    if (only >= 0 && feat != only) continue;
    if (se_run(feat, n_sets, n_subj, threads, 20261203UL + (unsigned)feat,
               &sp, &a)) {
      fprintf(stderr, "bench_simest: %s: simulation failed\n",
              SE_FEAT[feat]);
      bad = 1;
      continue;
    }
    t0 = now() - t0;
    printf("\n%s: %d datasets x %zu subjects, FOCE-I + covariance step; "
           "%d converged with a covariance step; %.1f %% of records BLQ; "
           "%.1f s\n", SE_FEAT[feat], a.n_sets, n_subj, a.n_ok,
           100.0 * (double)a.n_blq / (double)(a.n_obs ? a.n_obs : 1), t0);
    printf("%-14s %9s %9s %8s %8s %8s %7s\n", "parameter", "true", "mean",
           "bias %", "emp.SD", "mean SE", "cov. %");
    for (k = 0; k < sp.n_par && a.n_ok > 0; k++) {
      double mean = a.sum[k] / a.n_ok;
      double var = a.n_ok > 1 ? (a.sum2[k] - a.n_ok * mean * mean)
                                / (a.n_ok - 1) : 0;
      printf("%-14s %9.4f %9.4f %8.2f %8.4f %8.4f %7.1f\n", sp.names[k],
             sp.truth[k], mean, 100 * se_bias(&sp, &a, k),
             sqrt(var > 0 ? var : 0), a.sum_se[k] / a.n_ok,
             100 * se_coverage(&a, k));
    }
    printf("TIMING bench_simest feature=%d sets=%d subjects=%zu total_s="
           "%.3f\n", feat, n_sets, n_subj, t0);
    if (a.n_ok == 0) bad = 1;
  }
  return bad;
}
