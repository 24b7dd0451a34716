/* popsens_cli.h - what the FOCE-I sensitivity benchmarks share
 * (bench_popsens.c, bench_popsens_ev.c): their command line ([N_SUBJ]
 * [both|sens|fd]), which fits a mode runs, and one fit timed in wall
 * and CPU time (CPU, clock(), is the figure to compare on a loaded
 * machine). */
#ifndef RKIN_BENCH_POPSENS_CLI_H
#define RKIN_BENCH_POPSENS_CLI_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pop/popest.h"
#include "bench_args.h"

/* Reads N_SUBJ (default n_default, at least 3) and the mode; exits 0
 * after the usage for --help / -h and 2 on bad input (bench_args.h).
 * Returns -1 (go on). */
static int popsens_cli(int argc, char **argv, const char *prog,
                       const char *usage, size_t n_default, size_t *n,
                       const char **mode)
{
  static const char *const modes[] = {"both", "sens", "fd", NULL};
  bench_help(argc, argv, usage);
  *n = (size_t)bench_long(prog, argc, argv, 1, "N_SUBJ", (long)n_default, 3,
                          1000000);
  *mode = bench_word(prog, argc, argv, 2, "MODE", "both", modes);
  return -1;
}

/* Fit k (0: CVODES sensitivities, 1: central differences) runs in mode. */
static int popsens_wanted(const char *mode, int k)
{
  return !((k == 0 && !strcmp(mode, "fd")) ||
           (k == 1 && !strcmp(mode, "sens")));
}

static double popsens_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* rkin_popfit_run timed: *wall and *cpu in seconds. */
static int popsens_fit(const rkin_popmodel *pm, const rkin_data *d,
                       const rkin_popfit_opts *o, rkin_popfit *f,
                       double *wall, double *cpu, rkin_err *err)
{
  int rc;
  *wall = popsens_now();
  *cpu = (double)clock();
  rc = rkin_popfit_run(pm, d, o, f, err);
  *cpu = ((double)clock() - *cpu) / CLOCKS_PER_SEC;
  *wall = popsens_now() - *wall;
  return rc;
}

#endif
