/* bench_popsens.c - the PBPK population-fit benchmark of issue 14: FOCE-I
 * with the covariance step on a 7-state nonlinear (saturable binding)
 * PBPK model solved by CVODES, df/deta from CVODES forward sensitivities
 * (the default) and by central differences of the predictions (opts
 * fd_grad), on the same simulated data in the same run: both times,
 * outer evaluations, -2LL and estimates, and the speed-up.
 *
 * Model (amounts in nmol, rates /h): plasma P exchanging with
 * interstitium I, rest of body R, kidney free KF and tumour free TF;
 * kidney and tumour bind saturably, d(bound)/dt = kon free (Bmax - bound)
 * - koff bound (bound KB, TB); renal elimination kU P. 100 subjects, a
 * bolus of 10, 30 or 100 nmol into P (in turn, so the saturation is
 * identifiable), plasma sampled at 9 times over 72 h with a 10 %
 * proportional error; log-normal IIV on kU (omega 0.09) and on the
 * kidney uptake kPK (omega 0.0625). theta = (log kU, log BmaxK, log kPK).
 * Wall and CPU time of each fit (CPU time, clock(), is the figure to
 * compare on a loaded machine), the solves, every estimate with its SE,
 * and the largest differences of estimates and SEs between the routes.
 *
 *   bench_popsens [N_SUBJ=100] [both|sens|fd] [MAX_EVAL]
 *   (one thread each; prints TIMING lines). "sens" or "fd" runs one fit
 *   only and MAX_EVAL caps its outer evaluations (the covariance step
 *   still runs): a small, repeatable run for callgrind profiles. */
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
#include "../simsubj.h"
#include "popsens_cli.h"

enum { P, I, KF, KB, TF, TB, R, NS };
enum { KPI, KIP, KPK, KKP, KPT, KTP, KPR, KRP, KU, KONK, BMAXK, KONT,
       BMAXT, KOFF, NP };

static const double TYPICAL[NP] = {0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.3,
                                   0.1, 0.4, 0.05, 20, 0.1, 5, 0.05};
static const double TH_TRUE[3] = {-0.916290731874155 /* log 0.4 */,
                                  2.995732273553991 /* log 20 */,
                                  -1.6094379124341003 /* log 0.2 */};
static const double OM_TRUE[2] = {0.09, 0.0625}, SIG_TRUE = 0.10;
static const double TIMES[9] = {0.25, 0.5, 1, 2, 4, 8, 24, 48, 72};

static rkin_node bin(rkin_graph *g, rkin_op op, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, op, a, b);
}

/* k * y */
static rkin_node flux(rkin_graph *g, rkin_node *k, rkin_node *y, int ki,
                      int yi)
{
  return bin(g, RKIN_OP_MUL, k[ki], y[yi]);
}

static rkin_model *pbpk_model(void)
{
  static const char *const st[NS] = {"P", "I", "KF", "KB", "TF", "TB", "R"};
  static const char *const pa[NP] = {"kPI", "kIP", "kPK", "kKP", "kPT",
                                     "kTP", "kPR", "kRP", "kU", "konK",
                                     "BmaxK", "konT", "BmaxT", "koff"};
  rkin_graph *g = rkin_graph_new();
  rkin_node y[NS], k[NP], d[NS], bindK, bindT, out, in;
  rkin_model_spec sp;
  int i;
  for (i = 0; i < NS; i++) y[i] = rkin_expr_state(g, i);
  for (i = 0; i < NP; i++) k[i] = rkin_expr_param(g, i);
  /* saturable binding: kon free (Bmax - bound) - koff bound */
  bindK = bin(g, RKIN_OP_SUB,
              bin(g, RKIN_OP_MUL, flux(g, k, y, KONK, KF),
                  bin(g, RKIN_OP_SUB, k[BMAXK], y[KB])),
              flux(g, k, y, KOFF, KB));
  bindT = bin(g, RKIN_OP_SUB,
              bin(g, RKIN_OP_MUL, flux(g, k, y, KONT, TF),
                  bin(g, RKIN_OP_SUB, k[BMAXT], y[TB])),
              flux(g, k, y, KOFF, TB));
  out = bin(g, RKIN_OP_ADD, flux(g, k, y, KPI, P), flux(g, k, y, KPK, P));
  out = bin(g, RKIN_OP_ADD, out, flux(g, k, y, KPT, P));
  out = bin(g, RKIN_OP_ADD, out, flux(g, k, y, KPR, P));
  out = bin(g, RKIN_OP_ADD, out, flux(g, k, y, KU, P));
  in = bin(g, RKIN_OP_ADD, flux(g, k, y, KIP, I), flux(g, k, y, KKP, KF));
  in = bin(g, RKIN_OP_ADD, in, flux(g, k, y, KTP, TF));
  in = bin(g, RKIN_OP_ADD, in, flux(g, k, y, KRP, R));
  d[P] = bin(g, RKIN_OP_SUB, in, out);
  d[I] = bin(g, RKIN_OP_SUB, flux(g, k, y, KPI, P), flux(g, k, y, KIP, I));
  d[KF] = bin(g, RKIN_OP_SUB,
              bin(g, RKIN_OP_SUB, flux(g, k, y, KPK, P),
                  flux(g, k, y, KKP, KF)), bindK);
  d[KB] = bindK;
  d[TF] = bin(g, RKIN_OP_SUB,
              bin(g, RKIN_OP_SUB, flux(g, k, y, KPT, P),
                  flux(g, k, y, KTP, TF)), bindT);
  d[TB] = bindT;
  d[R] = bin(g, RKIN_OP_SUB, flux(g, k, y, KPR, P), flux(g, k, y, KRP, R));
  memset(&sp, 0, sizeof sp);
  sp.name = "pbpk7_sat";
  sp.n_states = NS;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = NP;
  sp.params = pa;
  sp.values = TYPICAL;
  return rkin_model_new(&sp, g, NULL);
}

/* psi: the typical values, kU and kPK log-normal, BmaxK = exp(theta2). */
static int pbpk_psi(const double *th, const double *eta, const double *cov,
                    double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  memcpy(psi, TYPICAL, NP * sizeof *psi);
  psi[KU] = exp(th[0] + eta[0]);
  psi[BMAXK] = exp(th[1]);
  psi[KPK] = exp(th[2] + eta[1]);
  return 0;
}

/* CSV text of n simulated subjects (fixed seed); NULL on failure. */
static char *simulate(const rkin_model *m, size_t n)
{
  static const double doses[3] = {10, 30, 100};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_solver *s = rkin_solver_new(m, NULL, NULL);
  size_t cap = 128 + n * 10 * 64, len = 0, i, j;
  char *text = malloc(cap);
  double psi[NP], y[9 * NS];
  int bad = !r || !s || !text;
  gsl_rng_set(r, 14);
  if (!bad)
    len += (size_t)snprintf(text + len, cap - len, "ID,TIME,DV,AMT,CMT\n");
  for (i = 0; !bad && i < n; i++) {
    rkin_dosing *dose = rkin_dosing_new();
    rkin_dose d0;
    double eta[2];
    eta[0] = gsl_ran_gaussian(r, sqrt(OM_TRUE[0]));
    eta[1] = gsl_ran_gaussian(r, sqrt(OM_TRUE[1]));
    pbpk_psi(TH_TRUE, eta, NULL, psi, NULL, NULL);
    memset(&d0, 0, sizeof d0);
    d0.amount = doses[i % 3];
    rkin_dosing_add(dose, &d0, NULL);
    bad = simsubj_solve(s, psi, dose, TIMES[8], TIMES, 9, y, NULL, NULL) != 0;
    rkin_dosing_free(dose);
    len += (size_t)snprintf(text + len, cap - len, "%zu,0,.,%g,1\n", i + 1,
                            doses[i % 3]);
    for (j = 0; j < 9; j++)
      len += (size_t)snprintf(text + len, cap - len, "%zu,%g,%.6g,.,1\n",
                              i + 1, TIMES[j], y[j * NS + P]
                              * (1 + gsl_ran_gaussian(r, SIG_TRUE)));
  }
  rkin_solver_free(s);
  gsl_rng_free(r);
  if (bad) {
    free(text);
    return NULL;
  }
  return text;
}

/* Each estimate with its SE (the sandwich, NONMEM's default). */
static void print_se(const rkin_popfit *f)
{
  size_t i;
  for (i = 0; f->est && i < f->n_est; i++)
    printf("  %-12s %.8f  SE %s%.6f\n", f->est_names[i], f->est[i],
           f->se ? "" : "(none) ", f->se ? f->se[i] : NAN);
}

/* The two routes side by side: the largest absolute difference of the
 * estimates, and of the SEs (absolute and relative to the SE). */
static void compare(const rkin_popfit *f)
{
  double de = 0, ds = 0, dr = 0;
  size_t i;
  if (!f[0].est || !f[1].est || f[0].n_est != f[1].n_est) {
    printf("estimates not comparable (one fit has none)\n");
    return;
  }
  for (i = 0; i < f[0].n_est; i++) {
    de = fmax(de, fabs(f[0].est[i] - f[1].est[i]));
    if (f[0].se && f[1].se) {
      ds = fmax(ds, fabs(f[0].se[i] - f[1].se[i]));
      dr = fmax(dr, fabs(f[0].se[i] - f[1].se[i]) / fabs(f[1].se[i]));
    }
  }
  printf("max |estimate difference| %.2e; max |SE difference| %.2e "
         "(%.2f %% of the SE)%s\n", de, ds, 100 * dr,
         f[0].se && f[1].se ? "" : " (SEs missing in one fit)");
}

int main(int argc, char **argv)
{
  static const char *const tn[] = {"lkU", "lBmaxK", "lkPK"};
  double th0[3], om0[4] = {0.15, 0, 0, 0.15}, sg0[1] = {0.15};
  size_t n;
  const char *mode;
  int max_eval;
  rkin_model *m;
  char *text;
  rkin_data *d;
  rkin_err err;
  rkin_popmodel pm;
  rkin_popfit f[2];
  double t[2], cpu[2];
  int k, rc[2];
  k = popsens_cli(argc, argv, "bench_popsens",
                  "usage: bench_popsens [N_SUBJ=100] [both|sens|fd] "
                  "[MAX_EVAL]\n"
                  "  FOCE-I + covariance step of a 7-state saturable PBPK on "
                  "CVODES,\n  with forward sensitivities (sens) and central "
                  "differences (fd);\n  MAX_EVAL caps the outer evaluations "
                  "(a small run for profiles)\n", 100, &n, &mode);
  if (k >= 0) return k;
  max_eval = (int)bench_long("bench_popsens", argc, argv, 3, "MAX_EVAL", 0,
                             0, 100000000);
  bench_max_args("bench_popsens", argc, argv, 3);
  /* line-buffered: a long run shows each route's result as it ends */
  setvbuf(stdout, NULL, _IOLBF, 0);
  rkin_init();
  m = pbpk_model();
  text = m ? simulate(m, n) : NULL;
  d = text ? rkin_data_parse(text, strlen(text), "pbpk7_sim.csv", NULL, &err)
           : NULL;
  if (!d) {
    fprintf(stderr, "bench_popsens: %s\n", !m ? "model failed"
            : !text ? "simulation failed" : err.msg);
    return 1;
  }
  th0[0] = TH_TRUE[0] + 0.2;
  th0[1] = TH_TRUE[1] - 0.2;
  th0[2] = TH_TRUE[2] + 0.2;
  /* the plasma amount (state P) observed */
  simsubj_popmodel(&pm, m, -1 - P, NULL, 3, tn, th0, om0, pbpk_psi, NULL,
                   sg0);
  printf("7-state saturable-binding PBPK (CVODES), %zu subjects x 9 plasma "
         "samples, FOCE-I + covariance step, one thread (true lkU %.4f "
         "lBmaxK %.4f lkPK %.4f, omega %.4f %.4f, sigma %.2f)\n", n,
         TH_TRUE[0], TH_TRUE[1], TH_TRUE[2], OM_TRUE[0], OM_TRUE[1],
         SIG_TRUE);
  memset(f, 0, sizeof f);
  for (k = 0; k < 2; k++) {
    rkin_popfit_opts o;
    if (!popsens_wanted(mode, k)) continue;
    rkin_popfit_opts_default(&o);
    o.threads = 1;
    if (max_eval > 0) o.max_eval = max_eval;
    o.fd_grad = k;      /* 0: CVODES sensitivities, 1: central differences */
    rc[k] = popsens_fit(&pm, d, &o, &f[k], &t[k], &cpu[k], &err);
    printf("%-26s %s  -2LL %.9f  evals %d  lkU %.8f lBmaxK %.8f lkPK %.8f "
           "omega %.8f %.8f sigma %.8f  cov %s  %.2f s (CPU %.2f s)\n",
           k ? "central differences" : "CVODES sensitivities",
           rc[k] || f[k].status ? "FAILED" : "ok", f[k].m2ll, f[k].n_eval,
           f[k].theta ? f[k].theta[0] : NAN, f[k].theta ? f[k].theta[1] : NAN,
           f[k].theta ? f[k].theta[2] : NAN, f[k].omega ? f[k].omega[0] : NAN,
           f[k].omega ? f[k].omega[3] : NAN, f[k].sigma ? f[k].sigma[0] : NAN,
           f[k].cov_status ? "failed" : "ok", t[k], cpu[k]);
    printf("  fit CPU %.2f s, covariance step CPU %.2f s: %d OFV passes, "
           "%lu solves (%lu with sensitivities), EBE searches %lu Newton, "
           "%lu to LBFGS, %lu to BOBYQA (whole run %lu, %lu, %lu)\n",
           cpu[k] - f[k].cov_cpu_s, f[k].cov_cpu_s, f[k].cov_n_points,
           f[k].cov_n_pred + f[k].cov_n_pred_sens, f[k].cov_n_pred_sens,
           f[k].cov_n_ebe_newton, f[k].cov_n_ebe_fallback,
           f[k].cov_n_ebe_bobyqa, f[k].n_ebe_newton, f[k].n_ebe_fallback,
           f[k].n_ebe_bobyqa);
    if (f[k].cov_status) printf("  covariance step: %s\n", f[k].cov_err.msg);
    print_se(&f[k]);
    printf("TIMING bench_popsens gradient=%s subjects=%zu threads=1 "
           "seconds=%.4f cpu_s=%.4f evals=%d solves=%lu sens_solves=%lu "
           "cpu_per_eval_s=%.4f fit_cpu_s=%.4f cov_cpu_s=%.4f cov_points=%d\n",
           k ? "fd" : "sens", n, t[k], cpu[k], f[k].n_eval, f[k].n_pred,
           f[k].n_pred_sens, f[k].n_eval > 0 ? cpu[k] / f[k].n_eval : NAN,
           cpu[k] - f[k].cov_cpu_s, f[k].cov_cpu_s, f[k].cov_n_points);
  }
  if (strcmp(mode, "both")) goto out;
  compare(f);
  /* central differences of step 1e-3 on the CVODES path carry a
   * truncation error of about 1e-4 in the OFV (test_popsens_cv) */
  printf("-2LL difference (sensitivities - differences) %.2e (%s 1e-3); "
         "speed-up of sensitivities over central differences %.2fx wall, "
         "%.2fx CPU (fit %.2fx, covariance step %.2fx)\n",
         f[0].m2ll - f[1].m2ll,
         fabs(f[0].m2ll - f[1].m2ll) < 1e-3 ? "within" : "NOT within",
         t[1] / t[0], cpu[1] / cpu[0],
         (cpu[1] - f[1].cov_cpu_s) / (cpu[0] - f[0].cov_cpu_s),
         f[1].cov_cpu_s / f[0].cov_cpu_s);
out:
  rkin_popfit_free(&f[0]);
  rkin_popfit_free(&f[1]);
  rkin_data_free(d);
  free(text);
  rkin_model_free(m);
  return 0;
}
