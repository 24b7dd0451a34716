/* bench_solve.c - one-thread throughput of rkin_solver on the peer model
 * (the six-compartment benchmark model, docs/sources.md): N patients x 4 cycles of 7400 MBq, kidney
 * TIA per cycle, on the CVODES and the exact path; prints patients/s,
 * CVODES steps per cycle and the max relative error vs the exact path.
 *
 *   bench_solve [N] [rtol] [atol]      (default 1000 1e-6 1e-9) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/init.h"
#include "solve/solve.h"
#include "../peer.h"
#include "bench_args.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int run(rkin_model *m, rkin_path path, double rtol, double atol,
               size_t n, const double *k, double *tia, long *steps,
               double *secs)
{
  rkin_solve_opts o;
  rkin_err err;
  rkin_solver *s;
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose dose = { 0, PEER_DOSE_MBQ, 0, 0, 0, 0, 0, 0 };
  int kid = PEER_KIDNEY, rc = 0;
  size_t i, c;
  double t;
  rkin_solve_opts_default(&o);
  o.rtol = rtol;
  o.atol = atol;
  o.path = path;
  s = rkin_solver_new(m, &o, &err);
  if (!s || rkin_dosing_add(d, &dose, &err)) {
    fprintf(stderr, "bench_solve: %s\n", err.msg);
    rkin_solver_free(s);
    rkin_dosing_free(d);
    return 1;
  }
  *steps = 0;
  t = now();
  for (i = 0; i < n && !rc; i++) {
    double y[PEER_NSTATE] = {0};
    for (c = 0; c < PEER_NCYCLE && !rc; c++) {
      rkin_solve_req rq = {0};
      rkin_solve_res rs = {0};
      rq.t0 = 0;
      rq.t1 = PEER_CYCLE_H;
      rq.y0 = y;
      rq.params = k + i * PEER_NPAR;
      rq.dosing = d;
      rq.tia = &kid;
      rq.n_tia = 1;
      rs.tia = tia + i * PEER_NCYCLE + c;
      rs.y_end = y;
      rc = rkin_solver_run(s, &rq, &rs, &err);
      *steps += rs.n_steps;
    }
  }
  *secs = now() - t;
  if (rc) fprintf(stderr, "bench_solve: %s\n", err.msg);
  rkin_solver_free(s);
  rkin_dosing_free(d);
  return rc != 0;
}

int main(int argc, char **argv)
{
  bench_help(argc, argv,
             "usage: bench_solve [N=1000] [RTOL=1e-6] [ATOL=1e-9]\n"
             "  one-thread rkin_solver throughput on the six-compartment "
             "peer model:\n  N patients x 4 cycles of 7400 MBq, kidney TIA "
             "per cycle, CVODES and exact\n  paths; patients/s, steps per "
             "cycle, max relative error vs exact. No peer.\n");
  rkin_init();   /* GSL reports errors as codes, never aborts */
  size_t n = (size_t)bench_long("bench_solve", argc, argv, 1, "N", 1000, 1,
                                100000000), i;
  double rtol = bench_double("bench_solve", argc, argv, 2, "RTOL", 1e-6,
                             1e-15, 1);
  double atol = bench_double("bench_solve", argc, argv, 3, "ATOL", 1e-9, 0,
                             1e6);
  double *k = malloc(n * PEER_NPAR * sizeof *k);
  double *ex = malloc(n * PEER_NCYCLE * sizeof *ex);
  double *cv = malloc(n * PEER_NCYCLE * sizeof *cv);
  double se, sc, maxrel = 0;
  long steps;
  rkin_err err;
  rkin_model *m = peer_model(&err);
  if (!m || !k || !ex || !cv) {
    fprintf(stderr, "bench_solve: %s\n", m ? "out of memory" : err.msg);
    return 1;
  }
  peer_population(n, k);
  if (run(m, RKIN_PATH_EXACT, rtol, atol, n, k, ex, &steps, &se)
      || run(m, RKIN_PATH_CVODES, rtol, atol, n, k, cv, &steps, &sc))
    return 1;
  for (i = 0; i < n * PEER_NCYCLE; i++) {
    double r = fabs(cv[i] / ex[i] - 1);
    if (r > maxrel) maxrel = r;
  }
  printf("bench_solve: N=%zu x %d cycles, rtol %g atol %g\n", n,
         PEER_NCYCLE, rtol, atol);
  printf("  exact : %.4f s  %10.0f patients/s\n", se, n / se);
  printf("  cvodes: %.4f s  %10.0f patients/s  %.1f steps/cycle  "
         "max rel err vs exact %.2e\n", sc, n / sc,
         (double)steps / (n * PEER_NCYCLE), maxrel);
  printf("  patient 1 kidney TIA (exact): %.10g %.10g %.10g %.10g MBq h\n",
         ex[0], ex[1], ex[2], ex[3]);
  rkin_model_free(m);
  free(k);
  free(ex);
  free(cv);
  return 0;
}
