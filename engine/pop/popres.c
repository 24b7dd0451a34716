/* popres.c - residual error models and the per-observation likelihood of a
 * population fit (popres.h), and the fit's endpoints: which error model,
 * sigma parameters and model output each observation record uses, and
 * how its censoring enters (pop_res_setup, pop_obs). */
#include "pop/popest_impl.h"

#include <gsl/gsl_sf_erf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t rkin_res_nparams(rkin_res_model res)
{
  switch (res) {
  case RKIN_RES_ADD: case RKIN_RES_PROP: return 1;
  case RKIN_RES_COMB: case RKIN_RES_COMB1: case RKIN_RES_POW: return 2;
  case RKIN_RES_ADD_POW: case RKIN_RES_ADD_POW1: return 3;
  }
  return 0;
}

/* Which of a, b, c a model has. */
static int has_a(rkin_res_model r)
{
  return r == RKIN_RES_ADD || r == RKIN_RES_COMB || r == RKIN_RES_COMB1
         || r == RKIN_RES_ADD_POW || r == RKIN_RES_ADD_POW1;
}

static int has_c(rkin_res_model r)
{
  return r == RKIN_RES_POW || r == RKIN_RES_ADD_POW
         || r == RKIN_RES_ADD_POW1;
}

const char *rkin_res_param_name(rkin_res_model res, size_t k)
{
  size_t n = rkin_res_nparams(res);
  if (k >= n) return NULL;
  if (!has_a(res)) k++;        /* no a: parameter 0 is b */
  return k == 0 ? "ADD" : k == 1 ? "PROP" : "POW_EXP";
}

int rkin_res_param_positive(rkin_res_model res, size_t k)
{
  return !(has_c(res) && k + 1 == rkin_res_nparams(res));
}

/* SD of the error model at s and its first two s-derivatives. Combined2
 * forms through V = a^2 + b^2 |s|^(2c); combined1 forms directly. */
static int sd_of(rkin_res_model res, const double *sig, double s,
                 double *sd, double *sd_s, double *sd_ss)
{
  double a = 0, b = 0, c = 1, u = fabs(s), sgn = s < 0 ? -1 : 1;
  size_t i = 0;
  if (has_a(res)) a = sig[i++];
  if (res != RKIN_RES_ADD) b = sig[i++];
  if (has_c(res)) c = sig[i++];
  if (res == RKIN_RES_COMB1 || res == RKIN_RES_ADD_POW1) {
    double uc = c == 1 ? u : pow(u, c);
    *sd = a + b * uc;
    *sd_s = c == 1 ? b * sgn : b * c * pow(u, c - 1) * sgn;
    *sd_ss = c == 1 ? 0 : b * c * (c - 1) * pow(u, c - 2);
  } else {
    /* P = |s|^(2c) and its derivatives; c = 1 exactly for PROP, COMB. */
    double P, P1, P2, V, V1, V2;
    if (c == 1) {
      P = s * s;
      P1 = 2 * s;
      P2 = 2;
    } else {
      P = pow(u, 2 * c);
      P1 = 2 * c * pow(u, 2 * c - 1) * sgn;
      P2 = 2 * c * (2 * c - 1) * pow(u, 2 * c - 2);
    }
    /* additive: no |s| term, also where s^2 overflows (0 inf is NaN);
     * a non-finite s is still refused (as by the additive route) */
    if (b == 0 && isfinite(s)) P = P1 = P2 = 0;
    V = a * a + b * b * P;
    V1 = b * b * P1;
    V2 = b * b * P2;
    if (!(V > 0)) return RKIN_ERANGE;
    *sd = sqrt(V);
    *sd_s = V1 / (2 * *sd);
    *sd_ss = (V2 / 2 - *sd_s * *sd_s) / *sd;
  }
  if (!(*sd > 0)) return RKIN_ERANGE;
  return isfinite(*sd_s) && isfinite(*sd_ss) ? RKIN_OK : RKIN_ENONFINITE;
}

/* log V, remembered per thread for the last V: with an additive error
 * model V is the same for every observation of an evaluation, and the
 * logarithm was 2 % of a FOCE-I fit's instructions. Same bits as log(V). */
static _Thread_local double memo_V = -1, memo_log_V;

static double log_var(double V)
{
  if (V != memo_V) {
    memo_log_V = log(V);
    memo_V = V;
  }
  return memo_log_V;
}

/* The additive model, observed, natural scale: the SD is a, so every
 * s-derivative is zero and the general route below (about 400
 * instructions) reduces to a few divisions. Same bits as that route
 * (test_popres pins it against combined2 with b = 0, which takes it), up
 * to the sign of the zero s-derivatives; its errors too: there the zero
 * V_s multiplies q = 1/V - r^2/V^2 and t below, which must be finite (q
 * is whenever t and c are). */
static int eval_add(double a, double y, double f, double s, rkin_res_obs *o)
{
  double V = a * a, sd, r, c_m, t;
  if (!isfinite(s) || !(V > 0)) return RKIN_ERANGE; /* a^2 + 0 s^2 */
  sd = sqrt(V);
  V = sd * sd;     /* an infinite sd: c is too (there V_s is NaN) */
  r = y - f;
  c_m = -2 * r / V;
  t = 2 * r * r / (V * V * V) - 1 / (V * V);
  o->c = r * r / V + log_var(V);
  o->r = r;
  o->V = V;
  o->dm = 1;
  o->c_f = c_m;
  o->c_s = o->c_fs = o->c_ss = o->w_fs = o->w_ss = 0;
  o->c_ff = 2 / V;
  o->w_ff = 1 / V;
  if (!isfinite(o->c) || !isfinite(c_m) || !isfinite(o->w_ff)
      || !isfinite(o->c_ff) || !isfinite(t))
    return RKIN_ENONFINITE;
  return RKIN_OK;
}

int rkin_res_eval(rkin_res_model res, int log_scale, const double *sig,
                  double y, double f, double s, int cens, double limit,
                  rkin_res_obs *o)
{
  double sd, sd_s, sd_ss, m, m_f, m_ff, V;
  int rc;
  if (res == RKIN_RES_ADD && !log_scale && !cens)
    return eval_add(sig[0], y, f, s, o);
  memset(o, 0, sizeof *o);
  if (log_scale) {
    /* log y = log f + eps: the mean is log f, the SD the constant a. */
    if (!(f > 0) || !((cens ? limit : y) > 0)) return RKIN_ERANGE;
    m = log(f);
    m_f = 1 / f;
    m_ff = -1 / (f * f);
    sd = sig[0];
    sd_s = sd_ss = 0;
    if (!(sd > 0)) return RKIN_ERANGE;
  } else {
    m = f;
    m_f = 1;
    m_ff = 0;
    rc = sd_of(res, sig, s, &sd, &sd_s, &sd_ss);
    if (rc) return rc;
  }
  V = sd * sd;
  o->V = V;
  o->dm = m_f;
  if (!cens) {
    double r = (log_scale ? log(y) : y) - m;
    double V_s = 2 * sd * sd_s, V_ss = 2 * (sd_s * sd_s + sd * sd_ss);
    double c_m = -2 * r / V, q = 1 / V - r * r / (V * V);
    o->r = r;
    o->c = r * r / V + log_var(V);
    o->c_f = c_m * m_f;
    o->c_s = V_s * q;
    o->c_ff = 2 * m_f * m_f / V + c_m * m_ff;
    o->c_fs = 2 * r * m_f * V_s / (V * V);
    o->c_ss = V_ss * q + V_s * V_s * (2 * r * r / (V * V * V) - 1 / (V * V));
    o->w_ff = m_f * m_f / V;
    o->w_ss = V_s * V_s / (2 * V * V);
  } else {
    /* M3: c = -2 log Phi(z), z = sign (L - m) / sd. log Phi and
     * lambda = phi / Phi through erfc's logarithm and the normal hazard
     * (gsl_sf_hazard(x) = phi(x) / Q(x), and Phi(z) = Q(-z)), finite far
     * into either tail. */
    double sg = cens > 0 ? 1 : -1, r = (log_scale ? log(limit) : limit) - m;
    double z = sg * r / sd, lam = gsl_sf_hazard(-z);
    double c_z = -2 * lam, c_zz = 2 * lam * (z + lam);
    double z_m = -sg / sd, z_s = -z * sd_s / sd, z_ms = sg * sd_s / (sd * sd);
    double z_ss = z * (2 * sd_s * sd_s / (sd * sd) - sd_ss / sd);
    double z_f = z_m * m_f, z_ff = z_m * m_ff, z_fs = z_ms * m_f;
    o->r = r;
    o->c = -2 * (gsl_sf_log_erfc(-z / M_SQRT2) - M_LN2);
    o->c_f = c_z * z_f;
    o->c_s = c_z * z_s;
    o->c_ff = c_zz * z_f * z_f + c_z * z_ff;
    o->c_fs = c_zz * z_f * z_s + c_z * z_fs;
    o->c_ss = c_zz * z_s * z_s + c_z * z_ss;
    o->w_ff = c_zz * z_f * z_f / 2;
    o->w_fs = c_zz * z_f * z_s / 2;
    o->w_ss = c_zz * z_s * z_s / 2;
  }
  if (!isfinite(o->c) || !isfinite(o->c_f) || !isfinite(o->c_s)
      || !isfinite(o->w_ff) || !isfinite(o->w_ss) || !isfinite(o->c_ff)
      || !isfinite(o->c_fs) || !isfinite(o->c_ss))
    return RKIN_ENONFINITE;
  return RKIN_OK;
}

/* ------------------------------------------------ endpoints of a fit */

static int check_endpoint(const pop *p, const rkin_pop_endpoint *e,
                          size_t k, size_t ne, rkin_err *err)
{
  const rkin_model *m = p->pm->model;
  size_t n = rkin_res_nparams(e->res), i;
  char where[48] = "";
  if (ne > 1) snprintf(where, sizeof where, " of endpoint %zu", k + 1);
  if (n == 0)
    return rkin_err_set(err, RKIN_EINVAL, "population model: error model "
                        "%d%s is not one of additive, proportional, "
                        "combined (2 forms), power, additive + power",
                        (int)e->res, where);
  if (e->log_scale && e->res != RKIN_RES_ADD)
    return rkin_err_set(err, RKIN_EINVAL, "population model: on the log "
                        "scale only the additive error model is supported "
                        "(it is proportional on the natural scale)%s",
                        where);
  if (!e->sigma_init)
    return rkin_err_set(err, RKIN_EINVAL, "population model: sigma_init%s "
                        "is required", where);
  for (i = 0; i < n; i++) {
    double v = e->sigma_init[i];
    if (!isfinite(v) || (rkin_res_param_positive(e->res, i) && v <= 0))
      return rkin_err_set(err, RKIN_EINVAL, "population model: sigma[%zu] "
                          "= %g (expected %s), the %s parameter%s", i, v,
                          rkin_res_param_positive(e->res, i)
                          ? "a residual SD > 0" : "a finite exponent",
                          rkin_res_param_name(e->res, i), where);
  }
  if (e->scale_var != 0) {
    if (!m || !p->pm->n_endpoints || e->output < 0 || e->scale_var < 0
        || (size_t)e->scale_var > rkin_model_noutputs(m)
        || e->res == RKIN_RES_ADD || e->log_scale)
      return rkin_err_set(err, RKIN_EINVAL, "population model: endpoint "
                          "%zu: scale_var %d (expected 1..%zu: the SD "
                          "scales with model output scale_var - 1; with a "
                          "model, endpoints observing outputs and an error "
                          "model other than additive)", k + 1,
                          e->scale_var, m ? rkin_model_noutputs(m) : 0);
  }
  if (m && p->pm->n_endpoints) {
    size_t no = rkin_model_noutputs(m), ns = rkin_model_nstates(m);
    if (e->output >= 0 ? (size_t)e->output >= no
                       : (size_t)(-1 - e->output) >= ns)
      return rkin_err_set(err, RKIN_EINVAL, "population model: endpoint "
                          "%zu observes %d, not an output (0 .. %zu - 1) "
                          "or a state (-1 .. -%zu) of model '%s'", k + 1,
                          e->output, no, ns, rkin_model_name(m));
    if ((e->output >= 0) != (p->pm->endpoints[0].output >= 0))
      return rkin_err_set(err, RKIN_EINVAL, "population model: endpoint "
                          "%zu observes %s but endpoint 1 %s: the "
                          "endpoints must all be model outputs or all "
                          "states", k + 1, e->output >= 0 ? "an output" :
                          "a state", e->output >= 0 ? "a state" :
                          "an output");
  }
  return RKIN_OK;
}

/* Endpoint of observation j of subject sj (see rkin_pop_endpoint). */
static int endpoint_of(const pop *p, const rkin_data_subject *sj, size_t j,
                       rkin_err *err)
{
  size_t e, ne = p->n_ep;
  int states = p->ep[0].output < 0;
  if (ne == 1) return 0;
  if (sj->output && sj->output[j] >= 0) {
    int o = sj->output[j];
    if (p->pm->data_outputs)
      o = (size_t)o < p->pm->n_data_outputs ? p->pm->data_outputs[o] : -1;
    for (e = 0; p->pm->model && !states && o >= 0 && e < ne; e++)
      if (p->ep[e].output == o) return (int)e;
    return rkin_err_set(err, RKIN_EINVAL, "subject ID %g (line %zu): the "
                        "record observes output %d (DVID / CMT), which no "
                        "endpoint of the fit predicts", sj->id,
                        sj->obs_line[j], sj->output[j] + 1);
  }
  if (sj->dvid && sj->dvid[j] >= 1) {
    if ((size_t)sj->dvid[j] <= ne) return sj->dvid[j] - 1;
    return rkin_err_set(err, RKIN_EINVAL, "subject ID %g (line %zu): DVID "
                        "%d, but the fit has %zu endpoints (DVID 1..%zu)",
                        sj->id, sj->obs_line[j], sj->dvid[j], ne, ne);
  }
  if (p->pm->model && states && sj->cmt[j] >= 0)
    for (e = 0; e < ne; e++)
      if (p->ep[e].output == -1 - sj->cmt[j]) return (int)e;
  return rkin_err_set(err, RKIN_EINVAL, "subject ID %g (line %zu): the fit "
                      "has %zu endpoints, and the record selects none (give "
                      "DVID, or a CMT naming an observed output or state)",
                      sj->id, sj->obs_line[j], ne);
}

int pop_res_setup(pop *p, rkin_err *err)
{
  const rkin_popmodel *pm = p->pm;
  rkin_pop_endpoint one;
  const rkin_pop_endpoint *eps = pm->endpoints;
  size_t ne = pm->n_endpoints, e, k, s, j, g = 0;
  int rc, n_cens = 0;
  if (!ne) {
    memset(&one, 0, sizeof one);
    one.output = pm->output;
    one.res = pm->res;
    one.log_scale = pm->log_scale;
    one.sigma_init = pm->sigma_init;
    eps = &one;
    ne = 1;
  } else if (!eps) {
    return rkin_err_set(err, RKIN_EINVAL, "population model: n_endpoints "
                        "= %zu but no endpoints", ne);
  }
  if (pm->blq != RKIN_BLQ_M3 && pm->blq != RKIN_BLQ_M1
      && pm->blq != RKIN_BLQ_DV && pm->blq != RKIN_BLQ_M4)
    return rkin_err_set(err, RKIN_EINVAL, "population model: blq = %d "
                        "(expected M3, M4, M1 or DV)", (int)pm->blq);
  if (pm->blq == RKIN_BLQ_M4 && p->opts.method != RKIN_POP_LAPLACE
      && p->opts.method != RKIN_POP_LAPLACEI)
    return rkin_err_set(err, RKIN_EINVAL, "population fit: blq = M4 needs "
                        "method laplace or laplacei (its likelihood enters "
                        "through exact second derivatives, as NONMEM's M4 "
                        "with LAPLACIAN)");
  p->n_ep = ne;
  p->ep = calloc(ne, sizeof *p->ep);
  if (!p->ep) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  p->n_sigma = 0;
  for (e = 0; e < ne; e++) {
    rc = check_endpoint(p, &eps[e], e, ne, err);
    if (rc) return rc;
    p->ep[e].output = eps[e].output;
    p->ep[e].res = eps[e].res;
    p->ep[e].log_scale = eps[e].log_scale;
    p->ep[e].sig_off = p->n_sigma;
    p->ep[e].n_sig = rkin_res_nparams(eps[e].res);
    p->ep[e].scale_col = pm->n_endpoints && eps[e].scale_var > 0
                         ? eps[e].scale_var - 1 : -1;
    if (p->ep[e].scale_col >= 0) p->has_scale = 1;
    p->n_sigma += p->ep[e].n_sig;
  }
  if (pm->model)
    p->n_sol = p->ep[0].output >= 0 ? rkin_model_noutputs(pm->model)
                                    : rkin_model_nstates(pm->model);
  p->sigma = calloc(p->n_sigma, sizeof *p->sigma);
  p->sig_pos = calloc(p->n_sigma, sizeof *p->sig_pos);
  p->obs_ep = calloc(p->n_obs ? p->n_obs : 1, sizeof *p->obs_ep);
  p->obs_kind = calloc(p->n_obs ? p->n_obs : 1, sizeof *p->obs_kind);
  if (!p->sigma || !p->sig_pos || !p->obs_ep || !p->obs_kind)
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  for (e = 0; e < ne; e++)
    for (k = 0; k < p->ep[e].n_sig; k++) {
      p->sigma[p->ep[e].sig_off + k] = eps[e].sigma_init[k];
      p->sig_pos[p->ep[e].sig_off + k] =
        rkin_res_param_positive(eps[e].res, k);
    }
  p->n_lik = 0;
  for (s = 0; s < p->n_subj; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    for (j = 0; j < sj->n_obs; j++, g++) {
      int cens = sj->cens ? sj->cens[j] : 0, ep = endpoint_of(p, sj, j, err);
      if (ep < 0) return ep;
      p->obs_ep[g] = ep;
      p->obs_kind[g] = !cens || pm->blq == RKIN_BLQ_DV ? POP_OBS_NORMAL
                       : pm->blq == RKIN_BLQ_M1 ? POP_OBS_DROP
                       : POP_OBS_CENS;
      n_cens += p->obs_kind[g] == POP_OBS_CENS;
      if (p->obs_kind[g] == POP_OBS_NORMAL) p->n_lik++;
      if (p->ep[ep].log_scale && p->obs_kind[g] != POP_OBS_DROP
          && !((p->obs_kind[g] == POP_OBS_CENS ? sj->limit[j] : sj->dv[j])
               > 0))
        return rkin_err_set(err, RKIN_EINVAL, "subject ID %g (line %zu): "
                            "%s = %g, but the log-scale error model needs "
                            "%s > 0", sj->id, sj->obs_line[j],
                            p->obs_kind[g] == POP_OBS_CENS ? "the limit"
                            : "DV", p->obs_kind[g] == POP_OBS_CENS
                            ? sj->limit[j] : sj->dv[j],
                            p->obs_kind[g] == POP_OBS_CENS ? "it" : "DV");
    }
  }
  if (n_cens && p->opts.method == RKIN_POP_FO)
    return rkin_err_set(err, RKIN_EINVAL, "population fit: FO cannot use "
                        "the %d censored records (M3 likelihood): use "
                        "FOCE-I, or blq = M1 to drop them", n_cens);
  return RKIN_OK;
}

void pop_res_free(pop *p)
{
  free(p->ep);
  free(p->sig_pos);
  free(p->obs_ep);
  free(p->obs_kind);
  p->ep = NULL;
  p->sig_pos = p->obs_ep = NULL;
  p->obs_kind = NULL;
}

size_t pop_scale_col(const pop *p, size_t s, size_t j)
{
  int c = p->ep[p->obs_ep[p->obs_off[s] + j]].scale_col;
  return c >= 0 ? (size_t)c : pop_obs_col(p, s, j);
}

size_t pop_obs_col(const pop *p, size_t s, size_t j)
{
  int out = p->ep[p->obs_ep[p->obs_off[s] + j]].output;
  return out >= 0 ? (size_t)out : (size_t)(-1 - out);
}

int pop_obs(const pop *p, size_t s, size_t j, double f, double sv,
            rkin_res_obs *o, rkin_err *err)
{
  size_t g = p->obs_off[s] + j;
  const pop_ep *e = &p->ep[p->obs_ep[g]];
  const rkin_data_subject *sj;
  int kind = p->obs_kind[g], rc;
  if (kind == POP_OBS_DROP) {
    memset(o, 0, sizeof *o);
    o->V = 1;
    o->dm = 1;
    return RKIN_OK;
  }
  sj = rkin_data_subject_at(p->data, s);
  rc = (p->pm->blq == RKIN_BLQ_M4 ? rkin_res_eval_m4 : rkin_res_eval)(
         e->res, e->log_scale, p->sigma + e->sig_off, sj->dv[j], f, sv,
         kind == POP_OBS_CENS ? sj->cens[j] : 0,
         kind == POP_OBS_CENS ? sj->limit[j] : NAN, o);
  if (rc == RKIN_ERANGE)
    return rkin_err_set(err, rc, "subject ID %g (line %zu): prediction %g: "
                        "the residual variance is not > 0%s", sj->id,
                        sj->obs_line[j], f, e->log_scale
                        ? " or the prediction is not > 0 (log scale)" : "");
  if (rc)
    return rkin_err_set(err, rc, "subject ID %g (line %zu): prediction %g: "
                        "the observation's likelihood is not finite",
                        sj->id, sj->obs_line[j], f);
  return RKIN_OK;
}

void pop_sigma_name(const pop *p, size_t k, char *buf, size_t n)
{
  size_t e;
  for (e = 0; e + 1 < p->n_ep && k >= p->ep[e + 1].sig_off; e++) {}
  if (p->n_ep > 1)
    snprintf(buf, n, "SIGMA_%s(%zu)", rkin_res_param_name(
               p->ep[e].res, k - p->ep[e].sig_off), e + 1);
  else
    snprintf(buf, n, "SIGMA_%s", rkin_res_param_name(
               p->ep[e].res, k - p->ep[e].sig_off));
}

int pop_res_sd(rkin_res_model res, const double *sig, double s, double *sd,
               double *sd_s, double *sd_ss)
{
  return sd_of(res, sig, s, sd, sd_s, sd_ss);
}
