/* bench_uncert.c - uncertainty figures of issue 19 (not part of make
 * check): the delta method for 10,000 patients x 5 regions (target under
 * 1 s on one core) and Monte Carlo with 1,000 draws per region (target
 * under 30 s; timed for the 5 regions of N_MC patients and given per
 * region). Each region: 4 SPECT time points, one cycle, a mono-exponential
 * curve, calibration 5 %, volume 10 %, a recovery curve, LED with BED.
 * CPU seconds of the process.
 *
 *   bench_uncert [patients] [mc_patients]   (default 10000 and 2) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uncert/uncert.h"
#include "bench_args.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
  long np, nmc, p;
  const double t[4] = {4, 24, 72, 168};
  const double rv[6] = {0.5, 1.15, 2.57, 5.58, 11.49, 26.52};
  const double vol[5] = {150, 1500, 180, 20, 5};   /* kidneys .. lesions */
  double ry[6], rsd[6], t0, t1, sink = 0.0;
  rkin_unc_rc rc;
  rkin_err e;
  int k, i, r;
  bench_help(argc, argv,
             "usage: bench_uncert [PATIENTS=10000] [MC_PATIENTS=2]\n"
             "  uncertainty of the absorbed dose, 5 regions per patient (4 "
             "SPECT points,\n  mono-exponential, calibration, volume, "
             "recovery, LED with BED): delta\n  method for PATIENTS, Monte "
             "Carlo (1,000 draws per region) for\n  MC_PATIENTS; CPU "
             "seconds of the process. No peer.\n");
  np = bench_long("bench_uncert", argc, argv, 1, "PATIENTS", 10000, 1,
                  100000000);
  nmc = bench_long("bench_uncert", argc, argv, 2, "MC_PATIENTS", 2, 0,
                   100000000);
  bench_max_args("bench_uncert", argc, argv, 2);
  for (i = 0; i < 6; i++) {
    ry[i] = 0.95 / (1.0 + pow(1.5 / rv[i], 1.2));
    rsd[i] = 0.02;
  }
  if (rkin_unc_rc_fit(6, rv, ry, rsd, &rc, &e) < 0) {
    fprintf(stderr, "bench_uncert: %s\n", e.msg);
    return 1;
  }
  for (k = 0; k < 2; k++) {
    long n = k == 0 ? np : nmc, done = 0;
    rkin_unc_result *res = malloc(sizeof *res);
    if (n == 0) {
      free(res);
      continue;
    }
    t0 = now();
    for (p = 0; p < n; p++)
      for (r = 0; r < 5; r++) {
        rkin_unc_point pt[4];
        rkin_unc_cycle cy;
        rkin_unc_chain ch;
        double lam = 0.01 + 0.002 * (double)((p * 7 + r) % 10), a0 = 50.0;
        double rcv = rkin_unc_rc_eval(&rc, vol[r], NULL, NULL);
        memset(&ch, 0, sizeof ch);
        for (i = 0; i < 4; i++) {
          pt[i].t_h = t[i];
          pt[i].t_acq_s = 1200.0;
          pt[i].counts = a0 * exp(-lam * t[i]) * 10.0 * rcv * 1200.0;
          pt[i].u_extra_rel = 0.03;
        }
        cy.n = 4;
        cy.pt = pt;
        ch.nuclide = "Lu-177";
        ch.region = "region";
        ch.model = RKIN_TAC_MONO;
        ch.meas.cal = 10.0;
        ch.meas.u_cal = 0.5;
        ch.meas.v_ml = vol[r];
        ch.meas.u_v_ml = 0.1 * vol[r];
        ch.meas.rc = &rc;
        ch.dose.kind = RKIN_UNC_DOSE_LED;
        ch.dose.density = 1.05;
        ch.lq.ab_gy = 2.6;
        ch.lq.trep_h = 2.8;
        ch.n_cycles = 1;
        ch.cyc = &cy;
        if ((k == 0 ? rkin_unc_delta(&ch, res, &e)
                    : rkin_unc_mc(&ch, 1000, (unsigned long)(p * 5 + r + 1),
                                  res, &e)) < 0) {
          fprintf(stderr, "bench_uncert: patient %ld region %d: %s\n", p, r,
                  e.msg);
          return 1;
        }
        sink += res->dose[0].u;
        done++;
      }
    t1 = now();
    if (k == 0)
      printf("delta method, %ld patients x 5 regions: %8.3f s  (target "
             "< 1 s)\n", n, t1 - t0);
    else
      printf("Monte Carlo, 1000 draws, %ld regions:       %8.3f s  (%.4f s "
             "per region; target < 30 s)\n", done, t1 - t0,
             (t1 - t0) / (double)done);
    free(res);
  }
  return sink > 0.0 ? 0 : 1;
}
