/* test_popres.c - residual error models, censored (BLQ) observations and
 * several endpoints in a population fit: each model's per-observation
 * -2LL contribution against its closed form (the nlmixr2 / rxode2
 * variance definitions written out again here), its derivatives against
 * finite differences, the FOCE-I objective at fixed parameters against an
 * independent computation (explicit mode search, FOCE-I term written
 * directly), the CENS / LLOQ columns, simulation-estimation of every
 * model, M3 vs M1 vs ignoring BLQ, and a two-endpoint fit. */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/model.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "pop/popres.h"
#include "../tap.h"

/* --------------------------------------------------- closed forms */

/* Variance of each model (rxode2 tests/testthat/test-focei-variances.R:
 * combined2 Var = a^2 + b^2 (f^c)^2, combined1 Var = (a + b f^c)^2). */
static double var_of(rkin_res_model m, const double *sg, double f)
{
  switch (m) {
  case RKIN_RES_ADD: return sg[0] * sg[0];
  case RKIN_RES_PROP: return sg[0] * sg[0] * f * f;
  case RKIN_RES_COMB: return sg[0] * sg[0] + sg[1] * sg[1] * f * f;
  case RKIN_RES_COMB1: return (sg[0] + sg[1] * f) * (sg[0] + sg[1] * f);
  case RKIN_RES_POW: return pow(sg[0] * pow(f, sg[1]), 2);
  case RKIN_RES_ADD_POW:
    return sg[0] * sg[0] + sg[1] * sg[1] * pow(pow(f, sg[2]), 2);
  case RKIN_RES_ADD_POW1: return pow(sg[0] + sg[1] * pow(f, sg[2]), 2);
  }
  return NAN;
}

/* dV/df by its own closed form per model. */
static double dvar_of(rkin_res_model m, const double *sg, double f)
{
  switch (m) {
  case RKIN_RES_ADD: return 0;
  case RKIN_RES_PROP: return 2 * sg[0] * sg[0] * f;
  case RKIN_RES_COMB: return 2 * sg[1] * sg[1] * f;
  case RKIN_RES_COMB1: return 2 * (sg[0] + sg[1] * f) * sg[1];
  case RKIN_RES_POW:
    return 2 * sg[1] * sg[0] * sg[0] * pow(f, 2 * sg[1] - 1);
  case RKIN_RES_ADD_POW:
    return 2 * sg[2] * sg[1] * sg[1] * pow(f, 2 * sg[2] - 1);
  case RKIN_RES_ADD_POW1:
    return 2 * (sg[0] + sg[1] * pow(f, sg[2])) * sg[1] * sg[2]
           * pow(f, sg[2] - 1);
  }
  return NAN;
}

/* -2 log L of one observation, no constants; cens 1 / -1: M3 with
 * gsl_cdf_ugaussian_P directly (fine away from the far tail). */
static double m2ll_of(rkin_res_model m, int lg, const double *sg, double y,
                      double f, int cens, double lim)
{
  double V = lg ? sg[0] * sg[0] : var_of(m, sg, f);
  double yt = lg ? log(cens ? lim : y) : cens ? lim : y;
  double ft = lg ? log(f) : f;
  if (cens) return -2 * log(gsl_cdf_ugaussian_P(cens * (yt - ft) / sqrt(V)));
  return (yt - ft) * (yt - ft) / V + log(V);
}

static const struct {
  rkin_res_model m;
  const char *name;
  double sg[3];
} MODELS[] = {
  {RKIN_RES_ADD, "additive", {0.7}},
  {RKIN_RES_PROP, "proportional", {0.15}},
  {RKIN_RES_COMB, "combined2", {0.4, 0.12}},
  {RKIN_RES_COMB1, "combined1", {0.4, 0.12}},
  {RKIN_RES_POW, "power", {0.2, 0.7}},
  {RKIN_RES_ADD_POW, "add+power (combined2)", {0.3, 0.2, 0.6}},
  {RKIN_RES_ADD_POW1, "add+power (combined1)", {0.3, 0.2, 0.6}},
};
#define N_MODELS (sizeof MODELS / sizeof MODELS[0])

static void test_closed_forms(void)
{
  static const double ys[3] = {3.1, 7.9, 12.5}, fs[3] = {2.5, 8.3, 11.0};
  size_t i, k;
  int cens;
  for (i = 0; i < N_MODELS; i++) {
    const double *sg = MODELS[i].sg;
    rkin_res_model m = MODELS[i].m;
    double worst = 0, worst_d = 0, worst_w = 0, worst_2 = 0;
    for (cens = -1; cens <= 1; cens++)
      for (k = 0; k < 3; k++) {
        rkin_res_obs o, op, om;
        double f = fs[k], y = ys[k], h = 1e-5 * f, want, fd, fd2, V, w;
        int rc = rkin_res_eval(m, 0, sg, y, f, f, cens, y, &o);
        if (rc) {
          worst = HUGE_VAL;
          continue;
        }
        want = m2ll_of(m, 0, sg, y, f, cens, y);
        worst = fmax(worst, fabs(o.c - want));
        /* total derivative along s = f, and the second, by differences */
        rkin_res_eval(m, 0, sg, y, f + h, f + h, cens, y, &op);
        rkin_res_eval(m, 0, sg, y, f - h, f - h, cens, y, &om);
        fd = (op.c - om.c) / (2 * h);
        fd2 = (op.c - 2 * o.c + om.c) / (h * h);
        worst_d = fmax(worst_d, fabs(o.c_f + o.c_s - fd) / (1 + fabs(fd)));
        worst_2 = fmax(worst_2, fabs(o.c_ff + 2 * o.c_fs + o.c_ss - fd2)
                                / (1 + fabs(fd2)));
        if (!cens) {
          /* FOCE-I weight: 1/V + V'^2 / (2 V^2) (Fisher information) */
          V = var_of(m, sg, f);
          w = 1 / V + pow(dvar_of(m, sg, f), 2) / (2 * V * V);
          worst_w = fmax(worst_w, fabs(o.w_ff + 2 * o.w_fs + o.w_ss - w)
                                  / w);
          worst = fmax(worst, fabs(o.V - V) / V);
          worst = fmax(worst, fabs(o.r - (y - f)));
        }
      }
    ok(worst < 1e-12, "%s: -2LL contribution, V and r equal the closed "
       "form (quantified, below and above a limit; abs. 1e-12; worst "
       "%.2g)", MODELS[i].name, worst);
    ok(worst_d < 1e-7 && worst_2 < 1e-4, "%s: dc/df and d2c/df2 equal "
       "central differences (rel. 1e-7, 1e-4; worst %.2g, %.2g)",
       MODELS[i].name, worst_d, worst_2);
    ok(worst_w < 1e-12, "%s: FOCE-I weight equals 1/V + V'^2/(2V^2) with "
       "V' in closed form (rel. 1e-12; worst %.2g)", MODELS[i].name,
       worst_w);
  }
  {
    /* Log-transform-both-sides: (log y - log f)^2 / a^2 + log a^2, and
     * M3 on the log scale. */
    static const double a[1] = {0.3};
    rkin_res_obs o, op, om;
    double f = 4, y = 5.2, h = 1e-5, want = pow(log(y) - log(f), 2)
                                            / 0.09 + log(0.09);
    rkin_res_eval(RKIN_RES_ADD, 1, a, y, f, f, 0, NAN, &o);
    is_double(o.c, want, 1e-13, "log scale: -2LL contribution");
    is_double(o.w_ff, 1 / (0.09 * f * f), 1e-13, "log scale: FOCE-I "
              "weight 1 / (a^2 f^2)");
    rkin_res_eval(RKIN_RES_ADD, 1, a, y, f, f, 1, 2.0, &o);
    is_double(o.c, m2ll_of(RKIN_RES_ADD, 1, a, y, f, 1, 2.0), 1e-13,
              "log scale, below LLOQ 2: -2 log Phi((log 2 - log f) / a)");
    rkin_res_eval(RKIN_RES_ADD, 1, a, y, f + h, f + h, 1, 2.0, &op);
    rkin_res_eval(RKIN_RES_ADD, 1, a, y, f - h, f - h, 1, 2.0, &om);
    is_double(o.c_f, (op.c - om.c) / (2 * h), 1e-7, "log scale, BLQ: "
              "dc/df vs central difference");
    ok(rkin_res_eval(RKIN_RES_ADD, 1, a, y, -1, -1, 0, NAN, &o)
       == RKIN_ERANGE, "log scale: a prediction <= 0 is RKIN_ERANGE");
  }
  {
    /* Far tail: log Phi(z) ~ -z^2/2 - log(-z) - log(2 pi)/2 - 1/z^2 for
     * z -> -inf (Mills' ratio expansion), where Phi itself underflows. */
    static const double a[1] = {1};
    rkin_res_obs o;
    double z = -45, want = -2 * (-z * z / 2 - log(-z) - 0.5 * log(2 * M_PI)
                                 - 1 / (z * z) + 2.5 / pow(z, 4));
    int rc = rkin_res_eval(RKIN_RES_ADD, 0, a, 0, 45, 45, 1, 0, &o);
    ok(rc == 0, "M3 45 SDs above the LLOQ: finite");
    is_double(o.c, want, 1e-9, "M3 far tail: -2 log Phi(-45) from the "
              "asymptotic series");
    is_double(o.c_f, 2 * (-z - 1 / z + 2 / pow(z, 3)), 1e-6, "M3 far tail: dc/df = 2 lambda / SD, lambda = "
              "phi/Phi ~ -z - 1/z + 2/z^3");
  }
  {
    static const double bad[2] = {-0.5, 0.2};
    rkin_res_obs o;
    ok(rkin_res_eval(RKIN_RES_COMB1, 0, bad, 1, 1, 1, 0, NAN, &o)
       == RKIN_ERANGE, "combined1 with a + b f <= 0: RKIN_ERANGE");
    ok(rkin_res_nparams(RKIN_RES_ADD_POW1) == 3
       && strcmp(rkin_res_param_name(RKIN_RES_POW, 1), "POW_EXP") == 0
       && strcmp(rkin_res_param_name(RKIN_RES_POW, 0), "PROP") == 0
       && !rkin_res_param_positive(RKIN_RES_POW, 1)
       && rkin_res_param_positive(RKIN_RES_ADD_POW, 1),
       "parameter counts, names and signs");
  }
}

/* The additive model's own route (popres.c eval_add) against the general
 * one, which combined2 with b = 0 takes with the same arithmetic
 * (a^2 + 0 s^2): every field equal to the bit (== also equates the
 * zeros' signs), and the same return code where the general route
 * refuses (s not finite, a = 0, a variance whose cube or square
 * underflows, a SD that overflows). s = 1e200 (s^2 overflows): the
 * general route drops the 0 s^2 term, as the additive route never has it. */
static void test_additive_route(void)
{
  static const double ys[] = {3.1, 0, -2.5, 1e6, 7.25};
  static const double fs[] = {2.5, 1e-3, 4.0, -3.0, 7.25};
  static const double as[] = {0.7, 1e-3, 31.0, 0, 1e-60, 1e-90, 1e200};
  static const double ss[] = {2.5, -4.0, 0, NAN, INFINITY, 1e200};
  size_t i, j, k, n = 0, same = 0, bad = 0;
  for (i = 0; i < sizeof as / sizeof *as; i++)
    for (j = 0; j < sizeof ys / sizeof *ys; j++)
      for (k = 0; k < sizeof ss / sizeof *ss; k++) {
        double sg[2] = {as[i], 0};
        double s = k == 0 ? fs[j] : ss[k];
        rkin_res_obs o, g;
        int ra = rkin_res_eval(RKIN_RES_ADD, 0, sg, ys[j], fs[j], s, 0, NAN,
                               &o);
        int rg = rkin_res_eval(RKIN_RES_COMB, 0, sg, ys[j], fs[j], s, 0,
                               NAN, &g);
        n++;
        bad += ra != 0;
        if (ra != rg) {
          diag("a %g y %g f %g s %g: additive %d, general %d", as[i], ys[j],
               fs[j], s, ra, rg);
          continue;
        }
        if (ra || (o.c == g.c && o.r == g.r && o.V == g.V && o.dm == g.dm
                   && o.c_f == g.c_f && o.c_s == g.c_s && o.w_ff == g.w_ff
                   && o.w_fs == g.w_fs && o.w_ss == g.w_ss
                   && o.c_ff == g.c_ff && o.c_fs == g.c_fs
                   && o.c_ss == g.c_ss))
          same++;
        else
          diag("a %g y %g f %g s %g: fields differ (c %.17g vs %.17g)",
               as[i], ys[j], fs[j], s, o.c, g.c);
      }
  ok(same == n && bad > 0 && bad < n, "additive error model: its own "
     "route equals the general one (combined2, b = 0) in every field and "
     "return code, %zu of %zu cases (%zu refused)", same, n, bad);
}

/* ------------------------------------------------- datasets: CENS */

static rkin_data *parse(const char *text, rkin_err *err)
{
  return rkin_data_parse(text, strlen(text), "t.csv", NULL, err);
}

static void test_columns(void)
{
  rkin_err err;
  rkin_data *d = parse("ID,TIME,DV,CENS,LLOQ\n"
                       "1,1,5,0,.\n"
                       "1,2,0.5,1,.\n"        /* DV is the LLOQ */
                       "1,3,0.2,1,0.4\n"      /* LLOQ column wins */
                       "1,4,0.1,,0.3\n"       /* DV < LLOQ, no CENS */
                       "1,5,.,,0.3\n"         /* missing DV, LLOQ */
                       "1,6,9,-1,.\n"         /* above the ULOQ 9 */
                       "1,7,0.1,0,0.3\n"      /* CENS 0 wins */
                       "1,8,0.5,,0.3\n", &err);  /* DV >= LLOQ */
  const rkin_data_subject *s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(d && s && s->cens && s->limit && s->n_obs == 8, "CENS / LLOQ read "
     "(%s)", d ? "ok" : err.msg);
  if (s && s->cens) {
    ok(s->cens[0] == 0 && s->cens[1] == 1 && s->cens[2] == 1
       && s->cens[3] == 1 && s->cens[4] == 1 && s->cens[5] == -1
       && s->cens[6] == 0 && s->cens[7] == 0, "censoring flags 0 1 1 1 1 "
       "-1 0 0");
    ok(isnan(s->limit[0]) && s->limit[1] == 0.5 && s->limit[2] == 0.4
       && s->limit[3] == 0.3 && s->limit[4] == 0.3 && s->limit[5] == 9
       && isnan(s->limit[6]) && isnan(s->limit[7]), "limits: DV, the LLOQ "
       "column, ULOQ in DV");
    ok(s->dv[4] == 0.3, "a missing DV below an LLOQ reads as the LLOQ");
  }
  rkin_data_free(d);
  d = parse("ID,TIME,DV\n1,1,5\n", &err);
  s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(s && !s->cens && !s->limit, "no CENS / LLOQ column: no arrays");
  rkin_data_free(d);
  d = parse("ID,TIME,DV,CENS\n1,1,5,2\n", &err);
  ok(!d && strstr(err.msg, "t.csv:2") && strstr(err.msg, "CENS"),
     "CENS 2 rejected naming file, line and column (%s)", err.msg);
  rkin_data_free(d);
  d = parse("ID,TIME,DV,LLOQ\n1,1,5,-1\n", &err);
  ok(!d && strstr(err.msg, "t.csv:2") && strstr(err.msg, "LLOQ"),
     "LLOQ <= 0 rejected (%s)", err.msg);
  rkin_data_free(d);
  d = parse("ID,TIME,DV,CENS\n1,1,.,1\n", &err);
  ok(!d && strstr(err.msg, "t.csv:2") && strstr(err.msg, "censored"),
     "a censored record without DV or LLOQ rejected (%s)", err.msg);
  rkin_data_free(d);
}

/* -------------------------------- a one-eta model, written twice */

/* f = th0 exp(-k t), k = th1 exp(eta), on DVID 1 (or no DVID); on DVID 2
 * a second endpoint f2 = th2 f + 1. The
 * library sees this through callbacks; the test's own objective computes
 * it again below. */
static int m_psi(const double *th, const double *eta, const double *cov,
                 double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)err;
  psi[0] = th[0];
  psi[1] = th[1] * exp(eta[0]);
  psi[2] = *(const size_t *)ud > 2 ? th[2] : 0;  /* n_theta */
  return 0;
}

static double m_f(const double *psi, double t, int dvid)
{
  double f = psi[0] * exp(-psi[1] * t);
  return dvid == 2 ? psi[2] * f + 1 : f;
}

static int m_pred(const rkin_data_subject *s, const double *psi, double *f,
                  void *ud, rkin_err *err)
{
  size_t k;
  (void)ud;
  (void)err;
  for (k = 0; k < s->n_obs; k++)
    f[k] = m_f(psi, s->time[k], s->dvid ? s->dvid[k] : 1);
  return 0;
}

typedef struct {
  const rkin_data_subject *s;
  const double *th;
  double om;
  const rkin_pop_endpoint *ep;    /* per DVID - 1 */
  const double *const *sg;        /* sigma of each endpoint */
  rkin_blq_method blq;
} ref_ctx;

static double ref_f(const ref_ctx *c, double eta, size_t k, double *g)
{
  double psi[3] = {c->th[0], c->th[1] * exp(eta), c->th[2]};
  int dv = c->s->dvid ? c->s->dvid[k] : 1;
  double t = c->s->time[k], f = m_f(psi, t, dv);
  /* df/deta = -k t f1, times th2 on DVID 2 */
  if (g) *g = -psi[1] * t * (dv == 2 ? f - 1 : f);
  return f;
}

static int ref_cens(const ref_ctx *c, size_t k)
{
  int cs = c->s->cens ? c->s->cens[k] : 0;
  return c->blq == RKIN_BLQ_DV ? 0 : cs;
}

/* eta^2/omega + sum_j c_j, c_j by the closed forms above. */
static double ref_inner(double eta, void *v)
{
  const ref_ctx *c = v;
  double val = eta * eta / c->om;
  size_t k;
  for (k = 0; k < c->s->n_obs; k++) {
    int e = c->s->dvid ? c->s->dvid[k] - 1 : 0, cs = ref_cens(c, k);
    double f = ref_f(c, eta, k, NULL);
    if (cs && c->blq == RKIN_BLQ_M1) continue;
    val += m2ll_of(c->ep[e].res, c->ep[e].log_scale, c->sg[e],
                   c->s->dv[k], f, cs, cs ? c->s->limit[k] : 0);
  }
  return val;
}

/* The mode by a grid then Brent, the FOCE-I term: A = sum_j w_j g_j^2,
 * w_j = 1/V + V'^2/(2V^2) (Gaussian; on the log scale 1/(a^2 f^2)), or
 * for a censored record (1/2) c''(z) (dz/df)^2 with c(z) = -2 log Phi(z),
 * c'' = 2 lambda (z + lambda), lambda = phi(z)/Phi(z), dz/df by central
 * differences of z. */
static double ref_focei(const ref_ctx *c)
{
  gsl_min_fminimizer *mz = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
  gsl_function F;
  double m = 0, A = 0;
  size_t k;
  int it;
  F.function = ref_inner;
  F.params = (void *)c;
  for (it = 0; it <= 120; it++) {
    double e = -3 + it * 0.05;
    if (ref_inner(e, F.params) < ref_inner(m, F.params)) m = e;
  }
  gsl_min_fminimizer_set(mz, &F, m, m - 0.05, m + 0.05);
  for (it = 0; it < 200; it++) {
    double lo, hi;
    gsl_min_fminimizer_iterate(mz);
    m = gsl_min_fminimizer_x_minimum(mz);
    lo = gsl_min_fminimizer_x_lower(mz);
    hi = gsl_min_fminimizer_x_upper(mz);
    if (gsl_min_test_interval(lo, hi, 1e-12, 0) == GSL_SUCCESS) break;
  }
  gsl_min_fminimizer_free(mz);
  for (k = 0; k < c->s->n_obs; k++) {
    int e = c->s->dvid ? c->s->dvid[k] - 1 : 0, cs = ref_cens(c, k);
    const double *sg = c->sg[e];
    rkin_res_model md = c->ep[e].res;
    int lg = c->ep[e].log_scale;
    double g, f = ref_f(c, m, k, &g), w;
    if (cs && c->blq == RKIN_BLQ_M1) continue;
    if (!cs) {
      double V = lg ? sg[0] * sg[0] : var_of(md, sg, f);
      w = lg ? 1 / (V * f * f)
             : 1 / V + pow(dvar_of(md, sg, f), 2) / (2 * V * V);
    } else {
      double L = c->s->limit[k], h = 1e-6 * f, z, zp, zm, lam;
#define ZOF(ff) (cs * ((lg ? log(L) : L) - (lg ? log(ff) : (ff))) \
                 / (lg ? sg[0] : sqrt(var_of(md, sg, (ff)))))
      z = ZOF(f);
      zp = ZOF(f + h);
      zm = ZOF(f - h);
#undef ZOF
      lam = gsl_ran_ugaussian_pdf(z) / gsl_cdf_ugaussian_P(z);
      w = lam * (z + lam) * pow((zp - zm) / (2 * h), 2);
    }
    A += w * g * g;
  }
  return ref_inner(m, (void *)c) + log(1 + c->om * A);
}

static double ref_ofv(const rkin_data *d, const double *th, double om,
                      const rkin_pop_endpoint *ep, const double *const *sg,
                      rkin_blq_method blq)
{
  double total = 0;
  size_t s;
  for (s = 0; s < rkin_data_nsubjects(d); s++) {
    ref_ctx c = {rkin_data_subject_at(d, s), th, om, ep, sg, blq};
    total += ref_focei(&c);
  }
  return total;
}

static void popmodel(rkin_popmodel *pm, const double *th, const double *om,
                     const rkin_pop_endpoint *ep, size_t n_ep)
{
  memset(pm, 0, sizeof *pm);
  pm->predict = m_pred;
  pm->n_psi = 3;
  static const size_t n2 = 2, n3 = 3;
  /* theta2 only with the second endpoint (else nothing depends on it) */
  pm->n_theta = n_ep > 1 ? 3 : 2;
  pm->indiv_ud = (void *)(n_ep > 1 ? &n3 : &n2);
  pm->theta_init = th;
  pm->n_eta = 1;
  pm->omega_init = om;
  pm->indiv = m_psi;
  pm->n_endpoints = n_ep;
  pm->endpoints = ep;
}

/* Simulated CSV: n subjects, times below, endpoint DVID 1 (and 2 when
 * ep[1] is given); DV below lloq (> 0) censored with CENS 1, DV = LLOQ. */
static char *simulate(gsl_rng *r, size_t n, const double *th, double om,
                      const rkin_pop_endpoint *ep, size_t n_ep, double lloq)
{
  static const double times[] = {0.5, 1, 2, 4, 6, 8, 12, 16};
  size_t cap = 64 + n * 8 * 2 * 64, len = 0, i, j;
  int e;
  char *t = malloc(cap);
  len += (size_t)snprintf(t + len, cap - len, "ID,TIME,DV,DVID,CENS\n");
  for (i = 0; i < n; i++) {
    double eta = gsl_ran_gaussian(r, sqrt(om));
    double psi[3] = {th[0], th[1] * exp(eta), th[2]};
    for (j = 0; j < 8; j++)
      for (e = 0; e < (int)n_ep; e++) {
        const double *sg = ep[e].sigma_init;
        double f = m_f(psi, times[j], e + 1), y;
        int cs = 0;
        if (ep[e].log_scale)
          y = f * exp(gsl_ran_gaussian(r, sg[0]));
        else
          y = f + gsl_ran_gaussian(r, sqrt(var_of(ep[e].res, sg, f)));
        if (lloq > 0 && e == 0 && y < lloq) {
          y = lloq;
          cs = 1;
        }
        len += (size_t)snprintf(t + len, cap - len, "%zu,%g,%.10g,%d,%d\n",
                                i + 1, times[j], y, e + 1, cs);
      }
  }
  return t;
}

/* OFV at fixed parameters = the independent computation, every model. */
static void test_ofv_fixed(void)
{
  static const double th[3] = {12, 0.25, 0.5}, om[1] = {0.09};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_popfit_opts o;
  size_t i;
  gsl_rng_set(r, 14);
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  o.covariance = 0;
  for (i = 0; i < N_MODELS + 1; i++) {
    rkin_pop_endpoint ep[1];
    static const double lsg[1] = {0.2};
    const double *sg[1];
    rkin_popmodel pm;
    rkin_err err;
    rkin_data *d;
    char *text;
    double ofv = NAN, m2ll = NAN, want;
    int rc;
    memset(ep, 0, sizeof ep);
    ep[0].res = i < N_MODELS ? MODELS[i].m : RKIN_RES_ADD;
    ep[0].log_scale = i == N_MODELS;
    ep[0].sigma_init = i < N_MODELS ? MODELS[i].sg : lsg;
    sg[0] = ep[0].sigma_init;
    text = simulate(r, 6, th, om[0], ep, 1, 0);
    d = parse(text, &err);
    popmodel(&pm, th, om, ep, 1);
    rc = rkin_popest_ofv(&pm, d, &o, th, om, sg[0], &ofv, &m2ll, NULL,
                         &err);
    want = ref_ofv(d, th, om[0], ep, sg, RKIN_BLQ_M3);
    ok(rc == 0 && fabs(ofv - want) < 1e-6, "%s: FOCE-I OFV at fixed "
       "parameters %.9f = independent %.9f (abs. 1e-6)%s%s",
       i < N_MODELS ? MODELS[i].name : "log-transform-both-sides", ofv,
       want, rc ? ": " : "", rc ? err.msg : "");
    is_double(m2ll - ofv, 48 * log(2 * M_PI), 1e-12, "-2LL = OFV + N log "
              "2 pi, N = 48 observations");
    rkin_data_free(d);
    free(text);
  }
  gsl_rng_free(r);
}

/* ------------------------------------------------- M3, M1, ignore */

static void test_blq(void)
{
  static const double th[3] = {12, 0.25, 0.5}, om[1] = {0.16};
  static const double sg_add[1] = {0.5};
  rkin_pop_endpoint ep[1];
  const double *sg[1] = {sg_add};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_popfit_opts o;
  rkin_popmodel pm;
  rkin_err err;
  rkin_data *d;
  char *text;
  double ofv, want, n_blq = 0, n_all = 0;
  int rc, m, set;
  const int n_sets = 20;
  double mean[3][3] = {{0}}, mean_sg[3] = {0}, om_sample = 0;
  static const char *const names[3] = {"M3", "M1", "ignored (DV = LLOQ)"};
  size_t s, k;
  memset(ep, 0, sizeof ep);
  ep[0].res = RKIN_RES_ADD;
  ep[0].sigma_init = sg_add;
  gsl_rng_set(r, 3);
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  o.covariance = 0;
  /* The OFV with censored records at fixed parameters, M3 and M1. */
  text = simulate(r, 8, th, om[0], ep, 1, 1.0);
  d = parse(text, &err);
  popmodel(&pm, th, om, ep, 1);
  for (m = 0; m < 2; m++) {
    pm.blq = m ? RKIN_BLQ_M1 : RKIN_BLQ_M3;
    rc = rkin_popest_ofv(&pm, d, &o, th, om, sg_add, &ofv, NULL, NULL,
                         &err);
    want = ref_ofv(d, th, om[0], ep, sg, pm.blq);
    ok(rc == 0 && fabs(ofv - want) < 1e-6, "%s: FOCE-I OFV with BLQ "
       "records %.9f = independent %.9f (abs. 1e-6)", names[m], ofv, want);
  }
  {
    double m2ll, ofv2;
    pm.blq = RKIN_BLQ_M3;
    rkin_popest_ofv(&pm, d, &o, th, om, sg_add, &ofv2, &m2ll, NULL, &err);
    for (s = 0; s < rkin_data_nsubjects(d); s++) {
      const rkin_data_subject *sj = rkin_data_subject_at(d, s);
      for (k = 0; k < sj->n_obs; k++) n_blq += sj->cens[k] != 0;
    }
    is_double(m2ll - ofv2, (64 - n_blq) * log(2 * M_PI), 1e-12, "M3: "
              "-2LL - OFV counts only the %g quantified records", 64 - n_blq);
  }
  {
    /* M3 with an SD that depends on f (combined2, power): z depends on
     * f through the SD too, and the FOCE-I weight has a cross term */
    static const double sgc[2] = {0.3, 0.1}, sgp[2] = {0.2, 0.5};
    rkin_pop_endpoint epc[1];
    const double *sgv[1];
    for (m = 0; m < 2; m++) {
      epc[0] = ep[0];
      epc[0].res = m ? RKIN_RES_POW : RKIN_RES_COMB;
      epc[0].sigma_init = sgv[0] = m ? sgp : sgc;
      popmodel(&pm, th, om, epc, 1);
      pm.blq = RKIN_BLQ_M3;
      rc = rkin_popest_ofv(&pm, d, &o, th, om, sgv[0], &ofv, NULL, NULL,
                           &err);
      want = ref_ofv(d, th, om[0], epc, sgv, RKIN_BLQ_M3);
      ok(rc == 0 && fabs(ofv - want) < 1e-6, "M3 with %s error: FOCE-I "
         "OFV %.9f = independent %.9f (abs. 1e-6)", m ? "power"
         : "combined2", ofv, want);
    }
    popmodel(&pm, th, om, ep, 1);
  }
  o.method = RKIN_POP_FO;
  rc = rkin_popest_ofv(&pm, d, &o, th, om, sg_add, &ofv, NULL, NULL, &err);
  ok(rc == RKIN_EINVAL && strstr(err.msg, "FO") && strstr(err.msg, "M1"),
     "FO with M3 records rejected (%s)", err.msg);
  o.method = RKIN_POP_FOCEI;
  rkin_data_free(d);
  free(text);
  n_blq = 0;

  /* Simulation-estimation: ~30 % below the LLOQ. */
  for (set = 0; set < n_sets; set++) {
    gsl_rng *c = gsl_rng_clone(r);
    double e1 = 0, e2 = 0;
    text = simulate(r, 40, th, om[0], ep, 1, 1.3);
    /* the etas simulate drew (each subject: eta, then 8 residuals) */
    for (s = 0; s < 40; s++) {
      double e = gsl_ran_gaussian(c, sqrt(om[0]));
      e1 += e / 40;
      e2 += e * e / 40;
      for (k = 0; k < 8; k++) gsl_ran_gaussian(c, 1);
    }
    gsl_rng_free(c);
    om_sample += (e2 - e1 * e1) / n_sets;
    d = parse(text, &err);
    for (s = 0; s < rkin_data_nsubjects(d); s++) {
      const rkin_data_subject *sj = rkin_data_subject_at(d, s);
      for (k = 0; k < sj->n_obs; k++) {
        n_blq += sj->cens[k] != 0;
        n_all++;
      }
    }
    for (m = 0; m < 3; m++) {
      rkin_popfit f;
      pm.blq = m == 0 ? RKIN_BLQ_M3 : m == 1 ? RKIN_BLQ_M1 : RKIN_BLQ_DV;
      rc = rkin_popfit_run(&pm, d, &o, &f, &err);
      if (rc || f.status) {
        diag("%s set %d: %s", names[m], set, rc ? err.msg : f.err.msg);
        mean[m][0] = NAN;
      } else {
        mean[m][0] += (f.theta[0] - th[0]) / th[0] / n_sets;
        mean[m][1] += (f.theta[1] - th[1]) / th[1] / n_sets;
        mean[m][2] += f.omega[0] / n_sets;
        mean_sg[m] += (f.sigma[0] - sg_add[0]) / sg_add[0] / n_sets;
        if (set == 0 && m == 0) {
          size_t nb = 0, nn = 0;
          for (k = 0; k < f.n_obs; k++) {
            nb += f.cens && f.cens[k] == 1 && isnan(f.iwres[k])
                  && isnan(f.cwres[k]) && isfinite(f.ipred[k]);
            nn += f.cens && f.cens[k] == 0 && isfinite(f.cwres[k]);
          }
          ok(nb + nn == f.n_obs && nb > 0, "M3 fit: BLQ records marked "
             "(cens 1, IPRED, no IWRES/CWRES: %zu), the others with "
             "residuals (%zu)", nb, nn);
        }
      }
      rkin_popfit_free(&f);
    }
    rkin_data_free(d);
    free(text);
  }
  diag("BLQ fraction %.1f %% over %d sets of 40 subjects x 8 times",
       100 * n_blq / n_all, n_sets);
  ok(n_blq / n_all > 0.2 && n_blq / n_all < 0.4, "about 30 %% BLQ");
  /* omega against the sample variance of the etas drawn (the truth
   * varies from set to set by sqrt(2/40) = 22 %) */
  for (m = 0; m < 3; m++) mean[m][2] = mean[m][2] / om_sample - 1;
  diag("mean sample variance of the simulated etas %.4f (omega %.4f)",
       om_sample, om[0]);
  for (m = 0; m < 3; m++)
    diag("%s: relative bias th0 %+.3f, k %+.3f, sigma %+.3f; omega vs "
         "the etas' sample variance %+.3f", names[m], mean[m][0],
         mean[m][1], mean_sg[m], mean[m][2]);
  ok(fabs(mean[0][1]) < 0.01 && fabs(mean[0][0]) < 0.01
     && fabs(mean[0][2]) < 0.1 && fabs(mean_sg[0]) < 0.05,
     "M3 recovers the parameters (|mean relative bias| th0, k < 1 %%, "
     "sigma < 5 %%, omega vs the sample variance < 10 %%)");
  /* Dropping (M1) keeps the late records whose noise is positive, and
   * DV = LLOQ raises them: both slow the elimination rate down. */
  ok(fabs(mean[0][1]) < 0.5 * fabs(mean[1][1]) && fabs(mean[0][1])
     < 0.5 * fabs(mean[2][1]) && fabs(mean_sg[0]) < 0.5 * fabs(mean_sg[2]),
     "M3 is less biased than M1 and than ignoring the BLQ records "
     "(elimination rate k: less than half of theirs; sigma: less than "
     "half of ignoring's)");
  gsl_rng_free(r);
}

/* --------------------------------------- fits: every error model */

static void test_fit_models(void)
{
  static const double th[3] = {12, 0.25, 0.5}, om[1] = {0.09};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_popfit_opts o;
  size_t i, k;
  gsl_rng_set(r, 21);
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  for (i = 0; i < N_MODELS; i++) {
    rkin_pop_endpoint ep[1];
    rkin_popmodel pm;
    rkin_popfit f;
    rkin_err err;
    rkin_data *d;
    char *text;
    double start[3], thi[3] = {10, 0.3, 0.5}, omi[1] = {0.2};
    size_t ns = rkin_res_nparams(MODELS[i].m);
    int good, rc;
    memset(ep, 0, sizeof ep);
    ep[0].res = MODELS[i].m;
    ep[0].sigma_init = MODELS[i].sg;
    text = simulate(r, 150, th, om[0], ep, 1, 0);
    d = parse(text, &err);
    for (k = 0; k < ns; k++)
      start[k] = rkin_res_param_positive(MODELS[i].m, k)
                 ? MODELS[i].sg[k] * 1.5 : MODELS[i].sg[k] + 0.2;
    ep[0].sigma_init = start;
    popmodel(&pm, thi, omi, ep, 1);
    rc = rkin_popfit_run(&pm, d, &o, &f, &err);
    good = rc == 0 && f.status == 0 && f.cov_status == 0;
    if (good) {
      /* within 3 SE of the truth (theta2 is unidentified: f2 unused,
       * so skipped) */
      double worst = 0;
      for (k = 0; k < f.n_est; k++) {
        double truth = k < 2 ? th[k] : k == 2 ? om[0] : MODELS[i].sg[k - 3];
        worst = fmax(worst, fabs(f.est[k] - truth) / f.se[k]);
        diag("  %s %-14s %10.5f (truth %.5f, SE %.5f)", MODELS[i].name,
             f.est_names[k], f.est[k], truth, f.se[k]);
      }
      ok(worst < 3.5, "%s: fit of 150 simulated subjects recovers every "
         "parameter within 3.5 SE (worst %.2f SE)", MODELS[i].name, worst);
    } else {
      ok(0, "%s: fit failed: %s", MODELS[i].name, rc ? err.msg
         : f.status ? f.err.msg : f.cov_err.msg);
    }
    rkin_popfit_free(&f);
    rkin_data_free(d);
    free(text);
  }
  gsl_rng_free(r);
}

/* ------------------------------------------------ two endpoints */

static void test_two_endpoints(void)
{
  static const double th[3] = {12, 0.25, 0.5}, om[1] = {0.09};
  static const double sg1[1] = {0.12}, sg2[2] = {0.3, 0.6};
  rkin_pop_endpoint ep[2];
  const double *sg[2] = {sg1, sg2 + 1};
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_popfit_opts o;
  rkin_popmodel pm;
  rkin_popfit f;
  rkin_err err;
  rkin_data *d;
  char *text;
  double ofv, want, sig[2], tr[6], worst = 0;
  size_t k;
  int rc;
  memset(ep, 0, sizeof ep);
  ep[0].res = RKIN_RES_PROP;        /* endpoint 1: proportional */
  ep[0].sigma_init = sg1;
  ep[1].res = RKIN_RES_POW;         /* endpoint 2: power, b = 0.3, c = 0.6 */
  ep[1].sigma_init = sg2;
  sg[1] = sg2;
  gsl_rng_set(r, 77);
  rkin_popfit_opts_default(&o);
  o.threads = 2;
  text = simulate(r, 8, th, om[0], ep, 2, 0);
  d = parse(text, &err);
  popmodel(&pm, th, om, ep, 2);
  sig[0] = sg1[0];
  sig[1] = sg2[0];
  {
    double sg3[3] = {sg1[0], sg2[0], sg2[1]};
    rc = rkin_popest_ofv(&pm, d, &o, th, om, sg3, &ofv, NULL, NULL, &err);
  }
  want = ref_ofv(d, th, om[0], ep, sg, RKIN_BLQ_M3);
  ok(rc == 0 && fabs(ofv - want) < 1e-6, "two endpoints (DVID 1 "
     "proportional, DVID 2 power): FOCE-I OFV at fixed parameters %.9f = "
     "independent %.9f (abs. 1e-6)%s", ofv, want, rc ? err.msg : "");
  {
    /* swapping the endpoints' error models changes it: DVID selects */
    rkin_pop_endpoint sw[2];
    double sg3[3] = {sg2[0], sg2[1], sg1[0]}, ofv2 = 0;
    sw[0] = ep[1];
    sw[1] = ep[0];
    popmodel(&pm, th, om, sw, 2);
    rkin_popest_ofv(&pm, d, &o, th, om, sg3, &ofv2, NULL, NULL, &err);
    ok(fabs(ofv2 - ofv) > 1, "the endpoints' error models swapped: another "
       "OFV (%.3f vs %.3f)", ofv2, ofv);
  }
  rkin_data_free(d);
  free(text);
  (void)sig;

  /* Fit of 120 subjects: both endpoints' sigmas and theta2 recovered. */
  text = simulate(r, 120, th, om[0], ep, 2, 0);
  d = parse(text, &err);
  {
    static const double thi[3] = {10, 0.3, 0.4}, omi[1] = {0.2};
    static const double s1i[1] = {0.2}, s2i[2] = {0.5, 0.8};
    rkin_pop_endpoint epi[2];
    epi[0] = ep[0];
    epi[1] = ep[1];
    epi[0].sigma_init = s1i;
    epi[1].sigma_init = s2i;
    popmodel(&pm, thi, omi, epi, 2);
    rc = rkin_popfit_run(&pm, d, &o, &f, &err);
  }
  tr[0] = th[0];
  tr[1] = th[1];
  tr[2] = th[2];
  tr[3] = om[0];
  tr[4] = sg1[0];
  tr[5] = sg2[0];
  ok(rc == 0 && f.status == 0 && f.cov_status == 0 && f.n_est == 7,
     "two-endpoint fit converged with a covariance step (%s)", rc ? err.msg
     : f.status ? f.err.msg : f.cov_status ? f.cov_err.msg : f.stop);
  if (rc == 0 && f.status == 0 && f.cov_status == 0) {
    for (k = 0; k < 7; k++) {
      double truth = k < 6 ? tr[k] : sg2[1];
      worst = fmax(worst, fabs(f.est[k] - truth) / f.se[k]);
      diag("  two endpoints %-14s %10.5f (truth %.5f, SE %.5f)",
           f.est_names[k], f.est[k], truth, f.se[k]);
    }
    ok(worst < 3.5, "two endpoints: every parameter within 3.5 SE of the "
       "truth (worst %.2f)", worst);
    ok(strcmp(f.est_names[4], "SIGMA_PROP(1)") == 0
       && strcmp(f.est_names[6], "SIGMA_POW_EXP(2)") == 0
       && f.n_endpoints == 2 && f.endpoint[0] == 1 && f.endpoint[1] == 2,
       "sigma names carry the endpoint; records carry theirs");
  }
  rkin_popfit_free(&f);

  /* A DVID past the endpoints, endpoints of mixed kinds. */
  popmodel(&pm, th, om, ep, 1);
  rc = rkin_popest_ofv(&pm, d, &o, th, om, sg1, &ofv, NULL, NULL, &err);
  ok(rc == 0, "one endpoint: every record belongs to it, whatever its "
     "DVID");
  rkin_data_free(d);
  free(text);
  d = parse("ID,TIME,DV,DVID\n1,1,5,1\n1,2,4,3\n", &err);
  popmodel(&pm, th, om, ep, 2);
  {
    double sg3[3] = {sg1[0], sg2[0], sg2[1]};
    rc = rkin_popest_ofv(&pm, d, &o, th, om, sg3, &ofv, NULL, NULL, &err);
  }
  ok(rc == RKIN_EINVAL && strstr(err.msg, "line 3")
     && strstr(err.msg, "DVID 3"), "a DVID past the endpoints is rejected "
     "naming the line (%s)", err.msg);
  rkin_data_free(d);
  gsl_rng_free(r);
}

/* ------------------------------- SD scaling with another output */

/* dA/dt = -k A; outputs c = A / v (observed) and g = k A / v (the
 * variable the SD scales with: SD = b g, nlmixr2's propF). */
static rkin_model *sv_model(void)
{
  static const char *const st[] = {"A"}, *const pa[] = {"k", "v"};
  static const char *const on[] = {"c", "g"};
  static const double val[] = {0.2, 10};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0), k = rkin_expr_param(g, 0);
  rkin_node v = rkin_expr_param(g, 1), d[1], out[2];
  rkin_model_spec sp;
  memset(&sp, 0, sizeof sp);
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL,
                                                          k, a));
  out[0] = rkin_expr_binary(g, RKIN_OP_DIV, a, v);
  out[1] = rkin_expr_binary(g, RKIN_OP_MUL, k, out[0]);
  sp.name = "sv";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 2;
  sp.params = pa;
  sp.values = val;
  sp.n_outputs = 2;
  sp.outputs = on;
  sp.output_expr = out;
  return rkin_model_new(&sp, g, NULL);
}

static int sv_psi(const double *th, const double *eta, const double *cov,
                  double *psi, void *ud, rkin_err *err)
{
  (void)cov;
  (void)ud;
  (void)err;
  psi[0] = th[0] * exp(eta[0]);
  psi[1] = th[1];
  return 0;
}

typedef struct {
  const rkin_data_subject *s;
  double k0, v, om, b;
} sv_ctx;

/* f = 100 / v exp(-k t), s = k f, k = k0 exp(eta); by hand. */
static double sv_inner(double eta, void *vp)
{
  const sv_ctx *c = vp;
  double val = eta * eta / c->om, k = c->k0 * exp(eta);
  size_t j;
  for (j = 0; j < c->s->n_obs; j++) {
    double f = 100 / c->v * exp(-k * c->s->time[j]), sv = k * f;
    double V = c->b * c->b * sv * sv, r = c->s->dv[j] - f;
    val += r * r / V + log(V);
  }
  return val;
}

static double sv_focei(const sv_ctx *c)
{
  gsl_min_fminimizer *mz = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
  gsl_function F;
  double m = 0, A = 0, k;
  size_t j;
  int it;
  F.function = sv_inner;
  F.params = (void *)c;
  for (it = 0; it <= 120; it++) {
    double e = -3 + it * 0.05;
    if (sv_inner(e, F.params) < sv_inner(m, F.params)) m = e;
  }
  gsl_min_fminimizer_set(mz, &F, m, m - 0.05, m + 0.05);
  for (it = 0; it < 200; it++) {
    gsl_min_fminimizer_iterate(mz);
    m = gsl_min_fminimizer_x_minimum(mz);
    if (gsl_min_test_interval(gsl_min_fminimizer_x_lower(mz),
                              gsl_min_fminimizer_x_upper(mz), 1e-12, 0)
        == GSL_SUCCESS)
      break;
  }
  gsl_min_fminimizer_free(mz);
  k = c->k0 * exp(m);
  for (j = 0; j < c->s->n_obs; j++) {
    double t = c->s->time[j], f = 100 / c->v * exp(-k * t), sv = k * f;
    double gf = -k * t * f, gs = k * f + k * gf;  /* d/deta of f, k f */
    double V = c->b * c->b * sv * sv, Vs = 2 * c->b * c->b * sv;
    A += gf * gf / V + Vs * Vs * gs * gs / (2 * V * V);
  }
  return sv_inner(m, (void *)c) + log(1 + c->om * A);
}

static void test_scale_var(void)
{
  static const double th[2] = {0.2, 10}, om[1] = {0.09}, sg[1] = {0.1};
  static const double times[] = {0.5, 1, 2, 4, 8, 12};
  rkin_model *m = sv_model();
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_pop_endpoint ep[1];
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_data_opts dop = {.n_states = 1};
  rkin_err err;
  rkin_data *d;
  size_t cap = 8192, len = 0, i, j;
  char *text = malloc(cap);
  double ofv = NAN, ofv_fd = NAN, want = 0;
  int rc, rc2;
  gsl_rng_set(r, 9);
  len += (size_t)snprintf(text + len, cap - len, "ID,TIME,AMT,EVID,DV\n");
  for (i = 0; i < 8; i++) {
    double k = th[0] * exp(gsl_ran_gaussian(r, 0.3));
    len += (size_t)snprintf(text + len, cap - len, "%zu,0,100,1,.\n", i + 1);
    for (j = 0; j < 6; j++) {
      double f = 100 / th[1] * exp(-k * times[j]);
      len += (size_t)snprintf(text + len, cap - len, "%zu,%g,.,0,%.10g\n",
                              i + 1, times[j], f + gsl_ran_gaussian(
                                r, sg[0] * k * f));
    }
  }
  d = rkin_data_parse(text, len, "sv.csv", &dop, &err);
  memset(ep, 0, sizeof ep);
  ep[0].output = 0;
  ep[0].res = RKIN_RES_PROP;
  ep[0].sigma_init = sg;
  ep[0].scale_var = 2;                  /* SD = b g, g = model output 1 */
  memset(&pm, 0, sizeof pm);
  pm.model = m;
  pm.n_theta = 2;
  pm.theta_init = th;
  pm.n_eta = 1;
  pm.omega_init = om;
  pm.indiv = sv_psi;
  pm.n_endpoints = 1;
  pm.endpoints = ep;
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  rc = d ? rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv, NULL, NULL, &err)
         : -1;
  if (rc) diag("%s", err.msg);
  o.fd_grad = 1;
  rc2 = d ? rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv_fd, NULL, NULL,
                            &err) : -1;
  for (i = 0; d && i < rkin_data_nsubjects(d); i++) {
    sv_ctx c = {rkin_data_subject_at(d, i), th[0], th[1], om[0], sg[0]};
    want += sv_focei(&c);
  }
  ok(rc == 0 && fabs(ofv - want) < 1e-6, "SD scaling with another output "
     "(propF: SD = b g, g = k c): FOCE-I OFV %.9f = independent %.9f "
     "(abs. 1e-6; exact-path sensitivities)", ofv, want);
  ok(rc2 == 0 && fabs(ofv_fd - want) < 1e-5, "the same with finite-"
     "difference gradients %.9f (abs. 1e-5)", ofv_fd);
  ep[0].res = RKIN_RES_ADD;
  rc = rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv, NULL, NULL, &err);
  ok(rc == RKIN_EINVAL && strstr(err.msg, "scale_var"), "an additive "
     "model with scale_var rejected (%s)", err.msg);
  ep[0].res = RKIN_RES_PROP;
  ep[0].scale_var = 3;
  rc = rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv, NULL, NULL, &err);
  ok(rc == RKIN_EINVAL && strstr(err.msg, "scale_var 3"), "scale_var past "
     "the outputs rejected");
  rkin_data_free(d);
  rkin_model_free(m);
  free(text);
  gsl_rng_free(r);
}

int main(void)
{
  rkin_init();
  test_closed_forms();
  test_additive_route();
  test_columns();
  test_ofv_fixed();
  test_blq();
  test_fit_models();
  test_two_endpoints();
  test_scale_var();
  done_testing();
  return exit_status();
}
