/* simest.h - simulation-estimation of the population-fit features of
 * issue 14, shared by tests/bench/bench_simest.c (100 datasets per
 * feature) and tests/unit/test_simest.c (a few, in make check): datasets
 * simulated from known parameters with a one-compartment oral model
 * (the Bateman function of each segment's dose: ka = exp(lKa + e_ka),
 * CL = exp(lCl + e_cl), V = CL / exp(lKe): Theophylline per kg; 4.5
 * mg/kg; 10 samples over 24 h),
 * fitted by FOCE-I (Laplace-I for none here) with the covariance step;
 * per parameter the mean estimate, relative bias and the coverage of the
 * 95 % Wald interval (SE from the sandwich).
 *
 * Features: IOV (two occasions, a reset dose at 48 h, an occasion eta on
 * CL), M3 with ~30 % of the records below the LLOQ, power error (SD = b
 * f^c), a full 2 x 2 Omega block (correlation 0.5), and two endpoints
 * (concentration, additive error; an effect E = exp(lE) C, proportional
 * error, DVID 2). */
#ifndef RKIN_TESTS_SIMEST_H
#define RKIN_TESTS_SIMEST_H

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop/data.h"
#include "pop/popest.h"

enum { SE_IOV, SE_M3, SE_POW, SE_BLOCK, SE_TWO, SE_NFEAT };
#define SE_MAXP 10

static const char *const SE_FEAT[SE_NFEAT] = {"IOV", "M3 (30 % BLQ)",
                                              "power error", "block Omega",
                                              "two endpoints"};
static const double SE_TIMES[10] = {0.25, 0.5, 1, 2, 3.5, 5, 7, 9, 12, 24};
static const double SE_TH[4] = {-2.5, 0.5, -3.2, 0.7};  /* lKe lKa lCl lE */
static const double SE_LLOQ = 3.6;

typedef struct {
  int feat;
  size_t n_par;
  double truth[SE_MAXP];
  const char *names[SE_MAXP];
} se_spec;

/* psi = (ka, cl, v); eta (e_ka, e_cl[, k_cl]): the occasion eta on CL. */
static inline int se_psi(const double *th, const double *eta,
                         const double *cov, double *psi, void *ud,
                         rkin_err *err)
{
  const int *feat = ud;
  (void)cov;
  (void)err;
  psi[0] = exp(th[1] + eta[0]);
  psi[1] = exp(th[2] + eta[1] + (*feat == SE_IOV ? eta[2] : 0));
  psi[2] = exp(th[2] + eta[1] - th[0]);
  psi[3] = *feat == SE_TWO ? exp(th[3]) : 1;
  return 0;
}

static inline double se_bateman(double dose, const double *psi, double t)
{
  double ke = psi[1] / psi[2];
  if (t <= 0) return 0;
  return dose * psi[0] / (psi[2] * (psi[0] - ke))
         * (exp(-ke * t) - exp(-psi[0] * t));
}

/* Each segment's observations from its first dose; DVID 2: the effect. */
static inline int se_pred(const rkin_data_subject *s, const double *psi,
                          double *f, void *ud, rkin_err *err)
{
  size_t g, k;
  (void)ud;
  for (g = 0; g < s->n_seg; g++) {
    const rkin_dose *r = rkin_dosing_record(s->seg[g].dosing, 0);
    if (!r) return rkin_err_set(err, RKIN_EINVAL, "no dose");
    for (k = s->seg[g].first_obs; k < s->seg[g].first_obs + s->seg[g].n_obs;
         k++) {
      f[k] = se_bateman(r->amount, psi, s->time[k] - r->time);
      if (s->dvid && s->dvid[k] == 2) f[k] *= psi[3];
    }
  }
  return 0;
}

static inline void se_setup(int feat, se_spec *sp)
{
  size_t n = 0;
  memset(sp, 0, sizeof *sp);
  sp->feat = feat;
#define P(nm, v) (sp->names[n] = (nm), sp->truth[n++] = (v))
  P("lKe", SE_TH[0]);
  P("lKa", SE_TH[1]);
  P("lCl", SE_TH[2]);
  if (feat == SE_TWO) P("lE", SE_TH[3]);
  P("OMEGA(ka)", 0.25);
  if (feat == SE_BLOCK) P("OMEGA(cl,ka)", 0.5 * 0.5 * 0.3);
  P("OMEGA(cl)", 0.09);
  if (feat == SE_IOV) P("OMEGA(k_cl)", 0.04);
  if (feat == SE_POW) {
    P("SIGMA_PROP", 0.15);
    P("SIGMA_POW_EXP", 0.7);
  } else {
    P("SIGMA_ADD", 0.5);
  }
  if (feat == SE_TWO) P("SIGMA_PROP(2)", 0.1);
#undef P
  sp->n_par = n;
}

/* CSV text of one simulated dataset (malloc'd); *n_blq, *n_obs counted. */
static inline char *se_simulate(const se_spec *sp, gsl_rng *r,
                                size_t n_subj, size_t *n_blq, size_t *n_obs)
{
  size_t cap = 256 + n_subj * 48 * 80, len = 0, i, j, k;
  char *t = malloc(cap);
  int feat = sp->feat;
  double rho = feat == SE_BLOCK ? 0.5 : 0;
  *n_blq = *n_obs = 0;
  if (!t) return NULL;
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV,AMT,EVID,CMT,OCC,"
                          "DVID,LLOQ\n");
  for (i = 0; i < n_subj; i++) {
    double z1 = gsl_ran_ugaussian(r), z2 = gsl_ran_ugaussian(r), e[3];
    size_t n_occ = feat == SE_IOV ? 2 : 1;
    e[0] = 0.5 * z1;
    e[1] = 0.3 * (rho * z1 + sqrt(1 - rho * rho) * z2);
    for (k = 0; k < n_occ; k++) {
      double t0 = 48.0 * (double)k, psi[4];
      int feat_v = feat;
      e[2] = feat == SE_IOV ? 0.2 * gsl_ran_ugaussian(r) : 0;
      se_psi(SE_TH, e, NULL, psi, &feat_v, NULL);
      len += (size_t)snprintf(t + len, cap - len, "%zu,%g,.,4.5,%d,1,%zu,"
                              "1,.\n", i + 1, t0, k ? 4 : 1, k + 1);
      for (j = 0; j < 10; j++) {
        double c = se_bateman(4.5, psi, SE_TIMES[j]), y;
        int ep;
        for (ep = 1; ep <= (feat == SE_TWO ? 2 : 1); ep++) {
          double f = ep == 2 ? c * psi[3] : c;
          double sd = feat == SE_POW ? 0.15 * pow(f, 0.7)
                      : ep == 2 ? 0.1 * f : 0.5;
          y = f + sd * gsl_ran_ugaussian(r);
          (*n_obs)++;
          if (feat == SE_M3 && y < SE_LLOQ) {
            (*n_blq)++;
            len += (size_t)snprintf(t + len, cap - len, "%zu,%g,.,.,0,2,"
                                    "%zu,1,%g\n", i + 1, t0 + SE_TIMES[j],
                                    k + 1, SE_LLOQ);
          } else {
            len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.6f,.,0,"
                                    "2,%zu,%d,.\n", i + 1, t0 + SE_TIMES[j],
                                    y, k + 1, ep);
          }
        }
      }
    }
  }
  return t;
}

/* The population model of feature sp (initial values 10-50 % off the
 * truth, as a modeller would start). Storage in *st. */
typedef struct {
  int feat;
  double th0[4], om0[9], sg0[4];
  int eta_occ[3], block[3];
  rkin_pop_endpoint ep[2];
  double sg_ep1[1], sg_ep2[1];
} se_store;

static inline void se_model(const se_spec *sp, se_store *st,
                            rkin_popmodel *pm)
{
  int feat = sp->feat;
  size_t q = feat == SE_IOV ? 3 : 2;
  memset(st, 0, sizeof *st);
  memset(pm, 0, sizeof *pm);
  st->feat = feat;
  st->th0[0] = SE_TH[0] + 0.1;
  st->th0[1] = SE_TH[1] - 0.1;
  st->th0[2] = SE_TH[2] + 0.1;
  st->th0[3] = SE_TH[3] - 0.2;
  st->om0[0] = 0.4;
  st->om0[q + 1] = 0.15;
  if (feat == SE_BLOCK) st->om0[1] = st->om0[q] = 0.02;
  if (feat == SE_IOV) {
    st->om0[8] = 0.08;
    st->eta_occ[2] = 1;
    pm->eta_occ = st->eta_occ;
  }
  pm->predict = se_pred;
  pm->predict_ud = &st->feat;
  pm->n_psi = 4;
  pm->n_theta = feat == SE_TWO ? 4 : 3;
  pm->theta_init = st->th0;
  pm->n_eta = q;
  pm->omega_init = st->om0;
  pm->omega_diag = feat != SE_BLOCK;
  pm->indiv = se_psi;
  pm->indiv_ud = &st->feat;
  if (feat == SE_POW) {
    pm->res = RKIN_RES_POW;
    st->sg0[0] = 0.2;
    st->sg0[1] = 0.9;
  } else {
    pm->res = RKIN_RES_ADD;
    st->sg0[0] = 0.7;
  }
  pm->sigma_init = st->sg0;
  if (feat == SE_TWO) {
    st->sg_ep1[0] = 0.7;
    st->sg_ep2[0] = 0.15;
    st->ep[0].res = RKIN_RES_ADD;
    st->ep[0].sigma_init = st->sg_ep1;
    st->ep[1].res = RKIN_RES_PROP;
    st->ep[1].sigma_init = st->sg_ep2;
    pm->n_endpoints = 2;
    pm->endpoints = st->ep;
  }
  pm->blq = RKIN_BLQ_M3;
}

/* Accumulated results of one feature. */
typedef struct {
  int n_sets, n_ok;
  double sum[SE_MAXP], sum2[SE_MAXP], sum_se[SE_MAXP];
  int cover[SE_MAXP];
  size_t n_blq, n_obs;
} se_acc;

/* Simulates and fits n_sets datasets of feature feat (seeded); 0, or -1
 * when a dataset could not be made. */
static inline int se_run(int feat, int n_sets, size_t n_subj, int threads,
                         unsigned long seed, se_spec *sp, se_acc *acc)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  se_store st;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  int i;
  size_t k;
  if (!r) return -1;
  se_setup(feat, sp);
  se_model(sp, &st, &pm);
  memset(acc, 0, sizeof *acc);
  rkin_popfit_opts_default(&o);
  o.threads = threads;
  gsl_rng_set(r, seed);
  for (i = 0; i < n_sets; i++) {
    size_t nb, no;
    char *text = se_simulate(sp, r, n_subj, &nb, &no);
    rkin_err err;
    rkin_data *d = text ? rkin_data_parse(text, strlen(text), "sim.csv",
                                          NULL, &err) : NULL;
    rkin_popfit f;
    free(text);
    if (!d) {
      gsl_rng_free(r);
      return -1;
    }
    acc->n_sets++;
    acc->n_blq += nb;
    acc->n_obs += no;
    rkin_popfit_run(&pm, d, &o, &f, &err);
    if (f.status == 0 && f.cov_status == 0 && f.n_est == sp->n_par) {
      acc->n_ok++;
      for (k = 0; k < sp->n_par; k++) {
        double e = f.est[k] - sp->truth[k];
        acc->sum[k] += f.est[k];
        acc->sum2[k] += f.est[k] * f.est[k];
        acc->sum_se[k] += f.se[k];
        acc->cover[k] += fabs(e) <= 1.96 * f.se[k];
      }
    } else {
      fprintf(stderr, "simest %s set %d: %s\n", SE_FEAT[feat], i,
              f.status ? f.err.msg : f.cov_err.msg);
    }
    rkin_popfit_free(&f);
    rkin_data_free(d);
  }
  gsl_rng_free(r);
  return 0;
}

static inline double se_bias(const se_spec *sp, const se_acc *a, size_t k)
{
  double mean = a->sum[k] / a->n_ok;
  return (mean - sp->truth[k]) / fabs(sp->truth[k]);
}

static inline double se_coverage(const se_acc *a, size_t k)
{
  return (double)a->cover[k] / a->n_ok;
}

#endif
