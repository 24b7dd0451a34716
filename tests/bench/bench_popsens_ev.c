/* bench_popsens_ev.c - FOCE-I (with the covariance step) of a population
 * model with a state-triggered event (tests/evpop.h: one-compartment
 * elimination, a "rescue" infusion starting when A falls below 4, its
 * time moving with each subject's etas),
 * CVODES path, df/deta from forward sensitivities across the events
 * (default) and from central differences of the predictions (opts
 * fd_grad), on the same simulated data in the same run: CPU time
 * (clock(), the figure to compare on a loaded machine) and wall time,
 * outer evaluations, solves, -2LL, every estimate with its SE, and the
 * largest differences between the routes.
 *
 *   bench_popsens_ev [N_SUBJ=20] [both|sens|fd]   (one thread) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "../evpop.h"
#include "popsens_cli.h"

int main(int argc, char **argv)
{
  size_t n, i;
  const char *mode;
  rkin_model *m;
  rkin_data *d;
  rkin_err err;
  rkin_popmodel pm;
  rkin_popfit f[2];
  double t[2], cpu[2], de = 0, ds = 0;
  int k, ran[2] = {0, 0};
  k = popsens_cli(argc, argv, "bench_popsens_ev",
                  "usage: bench_popsens_ev [N_SUBJ=20] [both|sens|fd]\n"
                  "  FOCE-I + covariance step of a one-compartment model "
                  "with a state-triggered\n  rescue-infusion event on "
                  "CVODES, with forward sensitivities across the events\n"
                  "  (sens) and central differences (fd)\n", 20, &n, &mode);
  if (k >= 0) return k;
  bench_max_args("bench_popsens_ev", argc, argv, 2);
  rkin_init();
  m = evpop_model();
  d = m ? evpop_data(m, n, 14, &err) : NULL;
  if (!d) {
    fprintf(stderr, "bench_popsens_ev: %s\n", m ? err.msg : "model failed");
    return 1;
  }
  evpop_popmodel(&pm, m);
  printf("one-compartment model with a state-triggered rescue infusion "
         "(event, CVODES), %zu subjects x 8 samples, FOCE-I + covariance "
         "step, one thread (true lk %.4f lD %.4f, omega %.2f %.2f, sigma "
         "%.2f)\n", n,
         EVPOP_TH[0], EVPOP_TH[1], EVPOP_OM[0], EVPOP_OM[1], EVPOP_SIG);
  memset(f, 0, sizeof f);
  for (k = 0; k < 2; k++) {
    rkin_popfit_opts o;
    if (!popsens_wanted(mode, k)) continue;
    rkin_popfit_opts_default(&o);
    o.method = RKIN_POP_FOCEI;
    o.threads = 1;
    o.fd_grad = k;      /* 0: CVODES sensitivities, 1: central differences */
    ran[k] = popsens_fit(&pm, d, &o, &f[k], &t[k], &cpu[k], &err) == 0;
    printf("%-26s %s (%s)  -2LL %.9f  evals %d  solves %lu (with "
           "sensitivities %lu)  cov %s  %.2f s (CPU %.2f s)\n",
           k ? "central differences" : "CVODES sensitivities",
           !ran[k] || f[k].status ? "FAILED" : "ok",
           !ran[k] ? err.msg : f[k].status ? f[k].err.msg
           : f[k].stop ? f[k].stop : "", f[k].m2ll, f[k].n_eval, f[k].n_pred,
           f[k].n_pred_sens, f[k].cov_status ? "failed" : "ok", t[k], cpu[k]);
    if (f[k].cov_status) printf("  covariance step: %s\n", f[k].cov_err.msg);
    for (i = 0; f[k].est && i < f[k].n_est; i++)
      printf("  %-12s %.8f  SE %.6f\n", f[k].est_names[i], f[k].est[i],
             f[k].se ? f[k].se[i] : NAN);
    printf("TIMING bench_popsens_ev gradient=%s subjects=%zu threads=1 "
           "seconds=%.4f cpu_s=%.4f evals=%d\n", k ? "fd" : "sens", n, t[k],
           cpu[k], f[k].n_eval);
  }
  if (!strcmp(mode, "both") && ran[0] && ran[1] && f[0].est && f[1].est) {
    for (i = 0; i < f[0].n_est && i < f[1].n_est; i++) {
      de = fmax(de, fabs(f[0].est[i] - f[1].est[i]));
      if (f[0].se && f[1].se) ds = fmax(ds, fabs(f[0].se[i] - f[1].se[i]));
    }
    printf("-2LL difference (sensitivities - differences) %.2e; max "
           "|estimate difference| %.2e; max |SE difference| %.2e; CPU "
           "speed-up of sensitivities %.2fx\n", f[0].m2ll - f[1].m2ll, de,
           ds, cpu[1] / cpu[0]);
  }
  rkin_popfit_free(&f[0]);
  rkin_popfit_free(&f[1]);
  rkin_data_free(d);
  rkin_model_free(m);
  return 0;
}
