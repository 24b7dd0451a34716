/* test_popsens_ev.c - a converged FOCE-I fit of a model with a
 * state-triggered event (tests/evpop.h: a "rescue" infusion starting when
 * A falls below 4, its time moving with both etas' subjects) on the
 * CVODES path: df/deta from forward sensitivities across the event (the
 * default) against the same fit with df/deta by central differences
 * (fd_grad), 6 simulated subjects (seed 14), no covariance step. Checked:
 *  - both fits converge;
 *  - at each fit's estimates the two routes' objectives agree within
 *    1e-4, the central differences' truncation error (eta step 1e-3;
 *    the tolerance of test_popsens_cv, measured here 9e-6): this is where
 *    sensitivities across the event that were wrong would show (a dropped
 *    crossing-time term moves the OFV by units);
 *  - the converged -2LL agree within 1e-3 and every estimate (theta,
 *    Omega, sigma) within 3e-3: the two optimisers stop independently
 *    (BOBYQA, xtol 1e-6 on the transformed scale); measured 7e-5 on the
 *    -2LL (each fit stops ~7e-5 above its own minimum) and 8.5e-4 on lD,
 *    the least determined estimate (4 post-event samples per subject),
 *    so the tolerances leave a factor 3-14. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/init.h"
#include "../evpop.h"
#include "../tap.h"

/* The largest absolute difference of the estimates of a and b. */
static double est_diff(const rkin_popfit *a, const rkin_popfit *b)
{
  double e = 0;
  size_t i;
  for (i = 0; i < a->n_theta; i++)
    e = fmax(e, fabs(a->theta[i] - b->theta[i]));
  for (i = 0; i < a->n_eta * a->n_eta; i++)
    e = fmax(e, fabs(a->omega[i] - b->omega[i]));
  for (i = 0; i < a->n_sigma; i++)
    e = fmax(e, fabs(a->sigma[i] - b->sigma[i]));
  return e;
}

int main(void)
{
  rkin_err err;
  rkin_model *m;
  rkin_data *d;
  rkin_popmodel pm;
  rkin_popfit f[2];
  rkin_popfit_opts o;
  double cpu[2], gap = 0;
  int k, j, good = 1;
  rkin_init();
  m = evpop_model();
  d = m ? evpop_data(m, 6, 14, &err) : NULL;
  if (!d) {
    printf("Bail out! %s\n", m ? err.msg : "model");
    return 1;
  }
  evpop_popmodel(&pm, m);
  rkin_popfit_opts_default(&o);
  o.method = RKIN_POP_FOCEI;
  o.threads = 1;
  o.covariance = 0;
  o.ebe_starts = RKIN_EBE_SINGLE;
  memset(f, 0, sizeof f);
  for (k = 0; k < 2; k++) {
    int rc;
    o.fd_grad = k;
    cpu[k] = (double)clock();
    rc = rkin_popfit_run(&pm, d, &o, &f[k], &err);
    cpu[k] = ((double)clock() - cpu[k]) / CLOCKS_PER_SEC;
    good &= ok(rc == 0 && f[k].status == 0 && f[k].theta, "%s: FOCE-I "
               "converged (%s; -2LL %.8f, lk %.6f lD %.6f, %d evaluations, "
               "%lu solves, %lu with sensitivities, CPU %.2f s)",
               k ? "central differences" : "sensitivities",
               rc ? err.msg : f[k].status ? f[k].err.msg : f[k].stop,
               f[k].m2ll, f[k].theta ? f[k].theta[0] : NAN,
               f[k].theta ? f[k].theta[1] : NAN, f[k].n_eval, f[k].n_pred,
               f[k].n_pred_sens, cpu[k]);
  }
  for (k = 0; good && k < 2; k++) {
    double ofv[2];
    for (j = 0; j < 2; j++) {
      o.fd_grad = j;
      if (rkin_popest_ofv(&pm, d, &o, f[k].theta, f[k].omega, f[k].sigma,
                          &ofv[j], NULL, NULL, &err)) {
        ofv[j] = NAN;
        diag("OFV: %s", err.msg);
      }
    }
    if (!(fabs(ofv[0] - ofv[1]) <= gap)) gap = fabs(ofv[0] - ofv[1]);
    diag("at the %s estimates: OFV %.9f (sensitivities), %.9f "
         "(differences)", k ? "differences'" : "sensitivities'", ofv[0],
         ofv[1]);
  }
  ok(good && gap <= 1e-4, "OFV by sensitivities across the event = by "
     "central differences at both fits' estimates (largest difference "
     "%.2g, tolerance 1e-4)", gap);
  ok(good && fabs(f[0].m2ll - f[1].m2ll) <= 1e-3, "converged -2LL "
     "%.8f (sensitivities) = %.8f (differences) (difference %.2g, "
     "tolerance 1e-3)", f[0].m2ll, f[1].m2ll, f[0].m2ll - f[1].m2ll);
  ok(good && est_diff(&f[0], &f[1]) <= 3e-3, "estimates agree (largest "
     "difference %.2g, tolerance 3e-3: lk %.6f/%.6f lD %.6f/%.6f "
     "omega %.6f/%.6f %.6f/%.6f sigma %.6f/%.6f)",
     good ? est_diff(&f[0], &f[1]) : NAN,
     good ? f[0].theta[0] : NAN, good ? f[1].theta[0] : NAN,
     good ? f[0].theta[1] : NAN, good ? f[1].theta[1] : NAN,
     good ? f[0].omega[0] : NAN, good ? f[1].omega[0] : NAN,
     good ? f[0].omega[3] : NAN, good ? f[1].omega[3] : NAN,
     good ? f[0].sigma[0] : NAN, good ? f[1].sigma[0] : NAN);
  rkin_popfit_free(&f[0]);
  rkin_popfit_free(&f[1]);
  rkin_data_free(d);
  rkin_model_free(m);
  done_testing();
  return exit_status();
}
