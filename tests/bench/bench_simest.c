/* bench_simest.c - simulation-estimation of the population-fit features of
 * issues 8 and 14 (tests/simest.h): for each feature (IOV, M3 with ~30 %
 * BLQ, power error, block Omega, two endpoints) N_SETS datasets of N_SUBJ
 * subjects simulated from known parameters and fitted by FOCE-I with the
 * covariance step (closed-form predictions). Prints, per parameter: true
 * value, mean estimate, relative bias %, empirical SD vs mean SE, and the
 * coverage % of the 95 % Wald intervals (sandwich SE).
 *
 * Mode "saem" (issue 20): every dataset is fitted by FOCE-I and by SAEM
 * (pop/saem.h defaults: 300 + 200 iterations, 1 chain, no IMP objective,
 * SEs by linearisation; "saem-sa": SEs by stochastic approximation
 * instead, 300 iterations), and the two tables are printed side by side:
 * bias and 95 % coverage of SAEM beside FOCE-I on the same data.
 *
 *   bench_simest [N_SETS [N_SUBJ [THREADS [FEATURE [MODE]]]]]
 *       (default 100, 40, 0 = all cores, all features (-1), FOCE-I only;
 *       FEATURE 0-4 runs one; MODE focei | saem | saem-sa; fixed seeds) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/init.h"
#include "pop/saem.h"
#include "../simest.h"
#include "bench_args.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void add(const se_spec *sp, se_acc *a, const rkin_popfit *f)
{
  size_t k;
  a->n_ok++;
  for (k = 0; k < sp->n_par; k++) {
    double e = f->est[k] - sp->truth[k];
    a->sum[k] += f->est[k];
    a->sum2[k] += f->est[k] * f->est[k];
    a->sum_se[k] += f->se[k];
    a->cover[k] += fabs(e) <= 1.96 * f->se[k];
  }
}

static double emp_sd(const se_acc *a, size_t k)
{
  double mean = a->sum[k] / a->n_ok;
  double var = a->n_ok > 1 ? (a->sum2[k] - a->n_ok * mean * mean)
                             / (a->n_ok - 1) : 0;
  return sqrt(var > 0 ? var : 0);
}

/* FOCE-I and SAEM on the same n_sets datasets of feature feat. */
static int run_both(int feat, int n_sets, size_t n_subj, int threads,
                    unsigned long seed, int sa, se_spec *sp, se_acc *af,
                    se_acc *as, double *tf, double *ts)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  se_store st;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts so;
  int i;
  if (!r) return -1;
  se_setup(feat, sp);
  se_model(sp, &st, &pm);
  memset(af, 0, sizeof *af);
  memset(as, 0, sizeof *as);
  rkin_popfit_opts_default(&o);
  o.threads = threads;
  rkin_saem_opts_default(&so);
  so.imp_samples = 0;
  if (sa) so.se = RKIN_SAEM_SE_SA;
  gsl_rng_set(r, seed);
  *tf = *ts = 0;
  for (i = 0; i < n_sets; i++) {
    size_t nb, no;
    char *text = se_simulate(sp, r, n_subj, &nb, &no);
    rkin_err err;
    rkin_data *d = text ? rkin_data_parse(text, strlen(text), "sim.csv",
                                          NULL, &err) : NULL;
    rkin_popfit f;
    double t0;
    free(text);
    if (!d) {
      gsl_rng_free(r);
      return -1;
    }
    af->n_sets++;
    as->n_sets++;
    af->n_blq += nb;
    af->n_obs += no;
    t0 = now();
    rkin_popfit_run(&pm, d, &o, &f, &err);
    *tf += now() - t0;
    if (f.status == 0 && f.cov_status == 0 && f.n_est == sp->n_par)
      add(sp, af, &f);
    else
      fprintf(stderr, "simest %s set %d FOCE-I: %s\n", SE_FEAT[feat], i,
              f.status ? f.err.msg : f.cov_err.msg);
    rkin_popfit_free(&f);
    so.seed = 1 + (unsigned long)i;
    t0 = now();
    rkin_popfit_saem(&pm, d, &o, &so, &f, NULL, &err);
    *ts += now() - t0;
    if (f.status == 0 && f.cov_status == 0 && f.n_est == sp->n_par)
      add(sp, as, &f);
    else
      fprintf(stderr, "simest %s set %d SAEM: %s\n", SE_FEAT[feat], i,
              f.status ? f.err.msg : f.cov_err.msg);
    rkin_popfit_free(&f);
    rkin_data_free(d);
  }
  gsl_rng_free(r);
  return 0;
}

int main(int argc, char **argv)
{
  static const char *const modes[] = {"focei", "saem", "saem-sa", NULL};
  int n_sets, threads, only, feat, bad = 0, saem;
  size_t n_subj;
  const char *mode;
  bench_help(argc, argv,
             "usage: bench_simest [N_SETS=100 [N_SUBJ=40 [THREADS=0 "
             "[FEATURE=-1\n                    [MODE=focei|saem|saem-sa]]]]]"
             "\n"
             "  simulation-estimation: per feature (0 IOV, 1 M3 BLQ, 2 power "
             "error,\n  3 block Omega, 4 two endpoints; -1 all) N_SETS "
             "datasets of N_SUBJ\n  subjects fitted by FOCE-I (+ SAEM in "
             "mode saem / saem-sa): bias,\n  empirical SD vs mean SE, 95 % "
             "Wald coverage. THREADS 0: all cores. No peer.\n");
  n_sets = (int)bench_long("bench_simest", argc, argv, 1, "N_SETS", 100, 1,
                           1000000);
  n_subj = (size_t)bench_long("bench_simest", argc, argv, 2, "N_SUBJ", 40, 2,
                              1000000);
  threads = (int)bench_long("bench_simest", argc, argv, 3, "THREADS", 0, 0,
                            4096);
  only = (int)bench_long("bench_simest", argc, argv, 4, "FEATURE", -1, -1,
                         SE_NFEAT - 1);
  mode = bench_word("bench_simest", argc, argv, 5, "MODE", "focei", modes);
  bench_max_args("bench_simest", argc, argv, 5);
  saem = strcmp(mode, "saem") == 0 || strcmp(mode, "saem-sa") == 0;
  rkin_init();
  if (n_sets < 1 || n_subj < 2 || only >= SE_NFEAT
      || (!saem && strcmp(mode, "focei") != 0)) {
    fprintf(stderr, "bench_simest: bad arguments\n");
    return 1;
  }
  for (feat = 0; feat < SE_NFEAT; feat++) {
    se_spec sp;
    se_acc a = {0}, b = {0};
    double t0 = now(), tf = 0, ts = 0;
    size_t k;
    if (only >= 0 && feat != only) continue;
    if (saem) {
      if (run_both(feat, n_sets, n_subj, threads,
                   20261203UL + (unsigned)feat, strcmp(mode, "saem-sa") == 0,
                   &sp, &a, &b, &tf, &ts)) {
        fprintf(stderr, "bench_simest: %s: simulation failed\n",
                SE_FEAT[feat]);
        bad = 1;
        continue;
      }
      printf("\n%s: %d datasets x %zu subjects; FOCE-I + covariance step: "
             "%d usable, %.1f s; SAEM (SEs by %s): %d usable, %.1f s "
             "(wall clock); %.1f %% of records BLQ\n", SE_FEAT[feat],
             a.n_sets, n_subj, a.n_ok, tf,
             strcmp(mode, "saem-sa") == 0 ? "stochastic approximation"
                                          : "linearisation",
             b.n_ok, ts,
             100.0 * (double)a.n_blq / (double)(a.n_obs ? a.n_obs : 1));
      printf("%-14s %9s | %9s %8s %8s %8s %7s | %9s %8s %8s %8s %7s\n",
             "parameter", "true", "FOCE-I", "bias %", "emp.SD", "mean SE",
             "cov. %", "SAEM", "bias %", "emp.SD", "mean SE", "cov. %");
      for (k = 0; k < sp.n_par; k++) {
        printf("%-14s %9.4f |", sp.names[k], sp.truth[k]);
        if (a.n_ok > 0)
          printf(" %9.4f %8.2f %8.4f %8.4f %7.1f |", a.sum[k] / a.n_ok,
                 100 * se_bias(&sp, &a, k), emp_sd(&a, k),
                 a.sum_se[k] / a.n_ok, 100 * se_coverage(&a, k));
        else
          printf(" %9s %8s %8s %8s %7s |", "-", "-", "-", "-", "-");
        if (b.n_ok > 0)
          printf(" %9.4f %8.2f %8.4f %8.4f %7.1f\n", b.sum[k] / b.n_ok,
                 100 * se_bias(&sp, &b, k), emp_sd(&b, k),
                 b.sum_se[k] / b.n_ok, 100 * se_coverage(&b, k));
        else
          printf(" %9s %8s %8s %8s %7s\n", "-", "-", "-", "-", "-");
      }
      printf("TIMING bench_simest feature=%d sets=%d subjects=%zu "
             "focei_s=%.3f saem_s=%.3f mode=%s\n", feat, n_sets, n_subj, tf,
             ts, mode);
      if (a.n_ok == 0) bad = 1;
      continue;
    }
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
      printf("%-14s %9.4f %9.4f %8.2f %8.4f %8.4f %7.1f\n", sp.names[k],
             sp.truth[k], a.sum[k] / a.n_ok, 100 * se_bias(&sp, &a, k),
             emp_sd(&a, k), a.sum_se[k] / a.n_ok, 100 * se_coverage(&a, k));
    }
    printf("TIMING bench_simest feature=%d sets=%d subjects=%zu total_s="
           "%.3f\n", feat, n_sets, n_subj, t0);
    if (a.n_ok == 0) bad = 1;
  }
  return bad;
}
