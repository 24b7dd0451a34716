/* bench_saem_pbpk.c - SAEM beside FOCE-I on a nonlinear PBPK simulation
 * (issue 20): N subjects (default 100) simulated from a three-state
 * radioligand model with saturable tissue binding, solved by CVODES
 * (the binding term makes it nonlinear: no exact path):
 *   P' = -(kpt + kel) P + ktp F
 *   F' = kpt P - ktp F - kon F (bmax - B) + koff B
 *   B' = kon F (bmax - B) - koff B,        observed: tissue T = F + B,
 * a bolus into P at three dose levels (10, 60, 300: from linear to
 * saturated binding), 7 images over 168 h, 10 % proportional error;
 * kel = exp(lKel + eta1), bmax = exp(lBmax + eta2), kon = exp(lKon) (no
 * eta: SAEM's numerical M-step). Both fits with the covariance step
 * (SAEM: linearisation, or with SA SEs as asked); prints the estimates
 * and SEs side by side, each difference in units of the FOCE-I SE, both
 * OFVs (FOCE-I's, SAEM's by importance sampling with its Monte Carlo SE,
 * FOCE-I's at the SAEM estimates) and the CPU time of each fit
 * (clock(): on a loaded machine wall time says nothing).
 *
 *
 * At 12 and 40 subjects the FOCE-I covariance step used to report R not
 * positive definite along the Omega variances. Not the design: at 12
 * subjects the OFV's second difference along each variance is clearly
 * positive and stable at relative steps 1e-2 to 1e-1 (OMEGA(1,1) 1698,
 * 1724, 1740; OMEGA(2,2) 4394, 4624, 4679: SEs ~0.034 and ~0.021 at
 * estimates 0.065 and 0.031), but at the covariance step's relative step
 * 1e-3 it was -1168 and 36: the OFV on the CVODES path carries noise of
 * a few 1e-6 (at rtol 1e-8 and 1e-10 alike: the EBE re-search counts
 * too), 4 noise / h^2 beyond the curvature. The covariance step now
 * sizes its steps on the CVODES path by the OFV's rise (popcov.c
 * COV_DOFV). Mode "diag" prints those second differences and slices.
 *
 *   bench_saem_pbpk [N_SUBJ [THREADS [SE]]]  (default 100, 1, "lin";
 *                                             SE "lin": SAEM's SEs by
 *                                             linearisation; "sa":
 *                                             SAEM's SEs by SA; "diag":
 *                                             FOCE-I, then the OFV's
 *                                             second differences and
 *                                             slices along each Omega
 *                                             variance, no SAEM) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core/init.h"
#include "core/model.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "pop/saem.h"
#include "solve/solve.h"
#include "../simsubj.h"
#include "bench_args.h"

enum { KEL, KPT, KTP, KON, KOFF, BMAX, NPAR };
static const double TRUTH_TH[3] = {-2.3, 3.0, -3.9};  /* lKel lBmax lKon */
static const double TRUTH_OM[2] = {0.09, 0.0625};
static const double TRUTH_SG = 0.10;

static rkin_model *pbpk_model(void)
{
  static const char *const st[] = {"P", "F", "B"};
  static const char *const pa[NPAR] = {"kel", "kpt", "ktp", "kon", "koff",
                                       "bmax"};
  static const double val[NPAR] = {0.1, 0.5, 0.2, 0.02, 0.01, 20};
  static const char *const on[] = {"T"};
  rkin_graph *g = rkin_graph_new();
  rkin_node y[3], k[NPAR], d[3], out[1], bind, pf, fp;
  rkin_model_spec sp;
  int i;
  for (i = 0; i < 3; i++) y[i] = rkin_expr_state(g, i);
  for (i = 0; i < NPAR; i++) k[i] = rkin_expr_param(g, i);
  /* bind = kon F (bmax - B) - koff B */
  bind = rkin_expr_binary(
      g, RKIN_OP_SUB,
      rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_binary(g, RKIN_OP_MUL,
                                                        k[KON], y[1]),
                       rkin_expr_binary(g, RKIN_OP_SUB, k[BMAX], y[2])),
      rkin_expr_binary(g, RKIN_OP_MUL, k[KOFF], y[2]));
  pf = rkin_expr_binary(g, RKIN_OP_MUL, k[KPT], y[0]);
  fp = rkin_expr_binary(g, RKIN_OP_MUL, k[KTP], y[1]);
  d[0] = rkin_expr_binary(g, RKIN_OP_SUB,
                          rkin_expr_binary(g, RKIN_OP_SUB, fp, pf),
                          rkin_expr_binary(g, RKIN_OP_MUL, k[KEL], y[0]));
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB,
                          rkin_expr_binary(g, RKIN_OP_SUB, pf, fp), bind);
  d[2] = bind;
  out[0] = rkin_expr_binary(g, RKIN_OP_ADD, y[1], y[2]);
  memset(&sp, 0, sizeof sp);
  sp.name = "pbpk_saturable";
  sp.n_states = 3;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = NPAR;
  sp.params = pa;
  sp.values = val;
  sp.n_outputs = 1;
  sp.outputs = on;
  sp.output_expr = out;
  return rkin_model_new(&sp, g, NULL);
}

static int pbpk_psi(const double *th, const double *eta, const double *cov,
                    double *psi, void *ud, rkin_err *err)
{
  const rkin_model *m = ud;
  (void)cov;
  (void)err;
  memcpy(psi, rkin_model_defaults(m), NPAR * sizeof *psi);
  psi[KEL] = exp(th[0] + eta[0]);
  psi[BMAX] = exp(th[1] + eta[1]);
  psi[KON] = exp(th[2]);
  return 0;
}

static char *pbpk_simulate(const rkin_model *m, const rkin_solve_opts *so,
                           size_t n)
{
  static const double tt[7] = {1, 4, 12, 24, 48, 96, 168};
  static const double doses[3] = {10, 60, 300};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_solver *s = rkin_solver_new(m, so, NULL);
  size_t cap = 128 + n * 8 * 64, len = 0, i, j;
  char *text = malloc(cap);
  double psi[NPAR], out[7];
  gsl_rng_set(r, 2020);
  len += (size_t)snprintf(text + len, cap - len, "ID,TIME,DV,AMT,CMT\n");
  for (i = 0; i < n; i++) {
    double eta[2], amt = doses[i % 3];
    rkin_dosing *dose = rkin_dosing_new();
    rkin_dose d0;
    memset(&d0, 0, sizeof d0);
    d0.amount = amt;
    rkin_dosing_add(dose, &d0, NULL);
    eta[0] = gsl_ran_gaussian(r, sqrt(TRUTH_OM[0]));
    eta[1] = gsl_ran_gaussian(r, sqrt(TRUTH_OM[1]));
    pbpk_psi(TRUTH_TH, eta, NULL, psi, (void *)m, NULL);
    simsubj_solve(s, psi, dose, tt[6], tt, 7, NULL, out, NULL);
    len += (size_t)snprintf(text + len, cap - len, "%zu,0,.,%g,1\n", i + 1,
                            amt);
    for (j = 0; j < 7; j++)
      len += (size_t)snprintf(text + len, cap - len, "%zu,%g,%.6g,.,.\n",
                              i + 1, tt[j], out[j]
                              * (1 + gsl_ran_gaussian(r, TRUTH_SG)));
    rkin_dosing_free(dose);
  }
  rkin_solver_free(s);
  gsl_rng_free(r);
  return text;
}

/* Diagnosis of the covariance step (mode "diag"): at the FOCE-I
 * estimates, the OFV's second difference along each Omega variance at
 * relative steps 1e-3 (the covariance step's) to 1e-1, at the fit's
 * CVODES tolerance and at 100 x tighter; then the slice of the OFV along
 * each variance at 1/4 ... 4 times the estimate. */
static void diag(const rkin_popmodel *pm0, const rkin_data *d,
                 const rkin_popfit_opts *o, const rkin_popfit *ff)
{
  static const double rel[5] = {1e-3, 3e-3, 1e-2, 3e-2, 1e-1};
  static const double fac[7] = {0.25, 0.5, 0.75, 1, 1.5, 2, 4};
  rkin_popmodel pm = *pm0;
  rkin_solve_opts so = *pm0->solve;
  rkin_err err;
  double om[4], f0, fp, fm;
  int tight, k, i;
  for (tight = 0; tight < 2; tight++) {
    if (tight) {
      so.rtol *= 1e-2;
      so.atol *= 1e-2;
      pm.solve = &so;
    }
    if (rkin_popest_ofv(&pm, d, o, ff->theta, ff->omega, ff->sigma, &f0,
                        NULL, NULL, &err)) {
      printf("diag: %s\n", err.msg);
      return;
    }
    for (k = 0; k < 2; k++)
      for (i = 0; i < 5; i++) {
        double h = rel[i] * ff->omega[3 * k];
        memcpy(om, ff->omega, sizeof om);
        om[3 * k] += h;
        rkin_popest_ofv(&pm, d, o, ff->theta, om, ff->sigma, &fp, NULL,
                        NULL, &err);
        om[3 * k] -= 2 * h;
        rkin_popest_ofv(&pm, d, o, ff->theta, om, ff->sigma, &fm, NULL,
                        NULL, &err);
        printf("diag rtol %.0e: OMEGA(%d,%d) step %.0e relative: d2 OFV = "
               "%.6g (OFV %.9f %+.3g %+.3g)\n", so.rtol, k + 1, k + 1,
               rel[i], (fp - 2 * f0 + fm) / (h * h), f0, fp - f0, fm - f0);
      }
  }
  for (k = 0; k < 2; k++)
    for (i = 0; i < 7; i++) {
      memcpy(om, ff->omega, sizeof om);
      om[3 * k] *= fac[i];
      rkin_popest_ofv(&pm, d, o, ff->theta, om, ff->sigma, &fp, NULL, NULL,
                      &err);
      printf("diag slice OMEGA(%d,%d) = %.5f: OFV - OFV(estimate) = %.4f\n",
             k + 1, k + 1, om[3 * k], fp - f0);
    }
}

int main(int argc, char **argv)
{
  static const char *const tn[] = {"lKel", "lBmax", "lKon"};
  double th0[] = {-2.0, 2.7, -3.5}, om0[] = {0.2, 0, 0, 0.2}, sg0[] = {0.2};
  static const char *const ses[] = {"lin", "sa", "diag", NULL};
  size_t n;
  int threads, sa, dg;
  const char *se;
  rkin_model *m;
  rkin_solve_opts so;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_saem_opts sao;
  rkin_saem_info in;
  rkin_popfit ff, fs;
  rkin_err err;
  rkin_data *d;
  char *text;
  clock_t c0;
  double cf, cs, truth[6];
  size_t k;
  int rcf, rcs;
  bench_help(argc, argv,
             "usage: bench_saem_pbpk [N_SUBJ=100 [THREADS=1 "
             "[SE=lin|sa|diag]]]\n"
             "  SAEM beside FOCE-I (both with the covariance step) on N_SUBJ "
             "subjects\n  simulated from a 3-state saturable-binding PBPK "
             "model on CVODES;\n  THREADS 0: all cores; SE lin: SAEM's SEs "
             "by linearisation, sa: by\n  stochastic approximation, diag: "
             "FOCE-I then the OFV's second differences\n  along each Omega "
             "variance, no SAEM. No peer.\n");
  n = (size_t)bench_long("bench_saem_pbpk", argc, argv, 1, "N_SUBJ", 100, 3,
                         1000000);
  threads = (int)bench_long("bench_saem_pbpk", argc, argv, 2, "THREADS", 1,
                            0, 4096);
  se = bench_word("bench_saem_pbpk", argc, argv, 3, "SE", "lin", ses);
  sa = !strcmp(se, "sa");
  dg = !strcmp(se, "diag");
  bench_max_args("bench_saem_pbpk", argc, argv, 3);
  setvbuf(stdout, NULL, _IOLBF, 0);   /* progress visible in a log */
  rkin_init();
  m = pbpk_model();
  if (!m || n < 3) {
    fprintf(stderr, "bench_saem_pbpk: %s\n", m ? "N_SUBJ >= 3" : "model");
    return 1;
  }
  rkin_solve_opts_default(&so);
  so.path = RKIN_PATH_CVODES;
  so.rtol = 1e-8;
  so.atol = 1e-10;
  text = pbpk_simulate(m, &so, n);
  d = rkin_data_parse(text, strlen(text), "pbpk_sim.csv", NULL, &err);
  free(text);
  if (!d) {
    fprintf(stderr, "bench_saem_pbpk: %s\n", err.msg);
    return 1;
  }
  simsubj_popmodel(&pm, m, 0, &so, 3, tn, th0, om0, pbpk_psi, m, sg0);
  rkin_popfit_opts_default(&o);
  o.threads = threads;
  printf("PBPK with saturable binding (CVODES), %zu subjects x 7 images, "
         "doses 10/60/300; threads %d\n", n, threads);
  c0 = clock();
  rcf = rkin_popfit_run(&pm, d, &o, &ff, &err);
  cf = (double)(clock() - c0) / CLOCKS_PER_SEC;
  if (dg) {
    printf("FOCE-I: %s; OFV %.6f; omega %.5f %.5f; covariance step: %s\n",
           ff.status ? ff.err.msg : "ok", ff.ofv, ff.omega[0], ff.omega[3],
           ff.cov_status ? ff.cov_err.msg : "ok");
    fflush(stdout);
    if (!rcf && !ff.status) diag(&pm, d, &o, &ff);
    return 0;
  }
  rkin_saem_opts_default(&sao);
  if (sa) sao.se = RKIN_SAEM_SE_SA;
  c0 = clock();
  rcs = rkin_popfit_saem(&pm, d, &o, &sao, &fs, &in, &err);
  cs = (double)(clock() - c0) / CLOCKS_PER_SEC;
  if (rcf || ff.status || rcs || fs.status) {
    printf("FOCE-I: %s; SAEM: %s\n", rcf || ff.status ? ff.err.msg : "ok",
           rcs || fs.status ? fs.err.msg : "ok");
    return 1;
  }
  /* a failed covariance step still leaves the estimates and OFVs: they
   * are printed, the SEs as nan with the reason */
  if (ff.cov_status) printf("FOCE-I SEs: %s\n", ff.cov_err.msg);
  if (fs.cov_status) printf("SAEM SEs: %s\n", fs.cov_err.msg);
  truth[0] = TRUTH_TH[0];
  truth[1] = TRUTH_TH[1];
  truth[2] = TRUTH_TH[2];
  truth[3] = TRUTH_OM[0];
  truth[4] = TRUTH_OM[1];
  truth[5] = TRUTH_SG;
  printf("%-12s %9s | %9s %8s | %9s %8s | %s\n", "parameter", "true",
         "FOCE-I", "SE", "SAEM", sa ? "SE (SA)" : "SE (lin)",
         "|SAEM - FOCE-I| / SE(FOCE-I)");
  for (k = 0; k < 6; k++) {
    static const char *const nm[6] = {"lKel", "lBmax", "lKon", "OMEGA(1,1)",
                                      "OMEGA(2,2)", "SIGMA_PROP"};
    double ef = k < 3 ? ff.theta[k] : k == 3 ? ff.omega[0]
                : k == 4 ? ff.omega[3] : ff.sigma[0];
    double es = k < 3 ? fs.theta[k] : k == 3 ? fs.omega[0]
                : k == 4 ? fs.omega[3] : fs.sigma[0];
    double sf = ff.cov_status == 0 && k < ff.n_est ? ff.se[k] : NAN;
    double ss = fs.cov_status == 0 && k < fs.n_est ? fs.se[k] : NAN;
    printf("%-12s %9.4f | %9.4f %8.4f | %9.4f %8.4f | %.2f\n", nm[k],
           truth[k], ef, sf, es, ss, fabs(es - ef) / sf);
  }
  printf("OFV: FOCE-I %.3f; SAEM by importance sampling %.3f (Monte Carlo "
         "SE %.3f); FOCE-I objective at the SAEM estimates %.3f\n", ff.ofv,
         in.ofv_imp, in.ofv_imp_se, in.ofv_focei);
  printf("CPU time (clock()): FOCE-I %.1f s (%d evaluations), SAEM %.1f s "
         "(%d iterations, IMP and covariance step included)\n", cf,
         ff.n_eval, cs, in.n_iter);
  printf("TIMING bench_saem_pbpk subjects=%zu focei_cpu_s=%.3f "
         "saem_cpu_s=%.3f\n", n, cf, cs);
  rkin_saem_info_free(&in);
  rkin_popfit_free(&ff);
  rkin_popfit_free(&fs);
  rkin_data_free(d);
  rkin_model_free(m);
  return 0;
}
