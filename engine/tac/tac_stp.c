/* tac_stp.c - TIA from one or two time points: Haenscheid's formula, a
 * population effective half-life, and MAP estimation under a population
 * prior (NLME-style single-time-point dosimetry). */
#include "tac/tac_impl.h"

#include <math.h>
#include <string.h>

#include <nlopt.h>

#define MP RKIN_TAC_MAX_PAR
#define GTOL 1e-4
#define ETA_MAX 40.0   /* |eta| bound: keeps exp() finite */

static int check_point(const char *who, double t, double a, double sd,
                       double level, rkin_err *err)
{
  if (!(isfinite(t) && t > 0))
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: time t = %g h: expected a finite time > 0", who,
                        t);
  if (!(isfinite(a) && a > 0))
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: activity A(t) = %g MBq: expected a finite "
                        "activity > 0", who, a);
  if (!(isfinite(sd) && sd >= 0))
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: sd = %g MBq: expected >= 0 (0 = unknown)", who,
                        sd);
  if (!(level > 0 && level < 1))
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: level = %g: expected 0 < level < 1", who, level);
  return 0;
}

static void stp_interval(rkin_tac_stp *o, double var, double level)
{
  double z = tac_quantile(level, 0);
  o->tia_se = var > 0 ? sqrt(var) : NAN;
  o->tia_lo = o->tia - z * o->tia_se;
  o->tia_hi = o->tia + z * o->tia_se;
}

int rkin_tac_stp_haenscheid(double t, double a, double sd, double level,
                            rkin_tac_stp *o, rkin_err *err)
{
  int rc = check_point("Haenscheid STP", t, a, sd, level, err);
  double f = 2.0 * t / M_LN2;
  if (rc) return rc;
  o->tia = a * f;
  stp_interval(o, sd * sd * f * f, level);
  return 0;
}

int rkin_tac_stp_poplambda(double t, double a, double sd, double l,
                           double l_sd, double level, rkin_tac_stp *o,
                           rkin_err *err)
{
  int rc = check_point("population-half-life STP", t, a, sd, level, err);
  double e, dl;
  if (rc) return rc;
  if (!(isfinite(l) && l > 0))
    return rkin_err_set(err, RKIN_EINVAL,
                        "population-half-life STP: effective rate l = %g /h:"
                        " expected > 0", l);
  if (!(isfinite(l_sd) && l_sd >= 0))
    return rkin_err_set(err, RKIN_EINVAL,
                        "population-half-life STP: l_sd = %g /h: expected "
                        ">= 0", l_sd);
  e = exp(l * t);
  o->tia = a * e / l;
  dl = a * e * (t / l - 1.0 / (l * l));
  stp_interval(o, (e / l) * (e / l) * sd * sd + dl * dl * l_sd * l_sd,
               level);
  return 0;
}

typedef struct {
  const rkin_tac_prior *pr;
  const rkin_tac_data *d;
  const double *w;
  double lp;
  int q, idx[MP];        /* estimated parameters (omega > 0) */
} mapctx;

/* p(eta): log-normal amplitudes and biological rates. */
static void map_params(const mapctx *c, const double *eta, double *p,
                       double *dpde)
{
  int np = rkin_tac_model_npar(c->pr->model), j, k;
  const tac_shape *sh = tac_shape_of(c->pr->model);
  for (j = 0; j < np; j++) p[j] = c->pr->typ[j];
  for (k = 0; k < c->q; k++) {
    j = c->idx[k];
    if (sh->is_rate[j]) {
      p[j] = c->lp + (c->pr->typ[j] - c->lp) * exp(eta[k]);
      dpde[k] = p[j] - c->lp;
    } else {
      p[j] = c->pr->typ[j] * exp(eta[k]);
      dpde[k] = p[j];
    }
  }
}

static double map_objective(unsigned q, const double *eta, double *grad,
                            void *data)
{
  const mapctx *c = data;
  double p[MP], dpde[MP], d[MP], f = 0;
  size_t i;
  int k;
  map_params(c, eta, p, dpde);
  if (grad) memset(grad, 0, q * sizeof *grad);
  for (i = 0; i < c->d->n; i++) {
    double r = c->d->a[i] - tac_eval(c->pr->model, p, c->d->t[i], d);
    f += c->w[i] * r * r;
    if (grad)
      for (k = 0; k < c->q; k++)
        grad[k] -= 2.0 * c->w[i] * r * d[c->idx[k]] * dpde[k];
  }
  for (k = 0; k < c->q; k++) {
    double om = c->pr->omega[c->idx[k]];
    f += eta[k] * eta[k] / (om * om);
    if (grad) grad[k] += 2.0 * eta[k] / (om * om);
  }
  return f;
}

static double proj_grad(const double *x, const double *g, const double *lb,
                        const double *ub, int q)
{
  double worst = 0;
  int j;
  for (j = 0; j < q; j++) {
    double gj = g[j];
    if ((x[j] <= lb[j] && gj > 0) || (x[j] >= ub[j] && gj < 0)) gj = 0;
    if (fabs(gj) > worst) worst = fabs(gj);
  }
  return worst;
}

static int check_prior(const rkin_tac_prior *pr, const rkin_tac_data *d,
                       double lp, rkin_err *err)
{
  int np, j;
  if (!pr || (unsigned)pr->model >= RKIN_TAC_TRAP)
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC MAP: prior model must be mono, bi, upwash or "
                        "tri");
  np = rkin_tac_model_npar(pr->model);
  for (j = 0; j < np; j++) {
    const char *nm = rkin_tac_par_name(pr->model, j);
    int rate = tac_shape_of(pr->model)->is_rate[j];
    if (!(isfinite(pr->typ[j]) && pr->typ[j] > (rate ? lp : 0)))
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC MAP: typical %s = %g: expected %s", nm,
                          pr->typ[j],
                          rate ? "an effective rate above physical decay"
                               : "an amplitude > 0 MBq");
    if (!(isfinite(pr->omega[j]) && pr->omega[j] >= 0))
      return rkin_err_set(err, RKIN_EINVAL,
                          "TAC MAP: omega of %s = %g: expected a finite SD "
                          ">= 0 of the log-normal variability", nm,
                          pr->omega[j]);
  }
  /* Upwash and tri subtract their fastest term: with the rates out of
   * order the typical curve is negative and so is its TIA. */
  if (pr->model == RKIN_TAC_UPWASH || pr->model == RKIN_TAC_TRI)
    for (j = 0; j < np; j++) {
      int pv = tac_shape_of(pr->model)->prev[j];
      if (tac_shape_of(pr->model)->is_rate[j] && pv >= 0 &&
          !(pr->typ[j] > pr->typ[pv]))
        return rkin_err_set(err, RKIN_EINVAL,
                            "TAC MAP: typical %s = %g /h: expected faster "
                            "than %s = %g /h (%s rates in increasing "
                            "order)", rkin_tac_par_name(pr->model, j),
                            pr->typ[j], rkin_tac_par_name(pr->model, pv),
                            pr->typ[pv], rkin_tac_model_name(pr->model));
    }
  if (!d->sd && !(isfinite(pr->cv) && pr->cv > 0))
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC MAP: residual cv = %g: expected > 0 when the "
                        "data carry no sd", pr->cv);
  return 0;
}

/* SEs from the inverse Gauss-Newton Hessian of -2 log posterior / 2. */
static void map_uncertainty(const mapctx *c, const double *eta, double level,
                            rkin_tac_cand *o)
{
  double b[(RKIN_TAC_MAX_POINTS + MP) * MP], cov[MP * MP], p[MP], dpde[MP];
  double d[MP], g[MP], var = 0, z = tac_quantile(level, 0);
  size_t i, n = c->d->n, q = (size_t)c->q;
  int j, k;
  map_params(c, eta, p, dpde);
  memset(b, 0, sizeof b);
  for (i = 0; i < n; i++) {
    tac_eval(c->pr->model, p, c->d->t[i], d);
    for (k = 0; k < c->q; k++)
      b[i * q + (size_t)k] = sqrt(c->w[i]) * d[c->idx[k]] * dpde[k];
  }
  for (k = 0; k < c->q; k++)
    b[(n + (size_t)k) * q + (size_t)k] = 1.0 / c->pr->omega[c->idx[k]];
  for (j = 0; j < o->np; j++) o->se[j] = 0;
  if (tac_covariance(b, n + q, q, cov) != 0) {
    o->warn |= RKIN_TAC_W_NOSE;
    tac_note(o->note, sizeof o->note, "no SE: singular posterior Hessian");
    return;
  }
  tac_integral_from(o->model, o->p, 0.0, g);
  for (j = 0; j < c->q; j++) {
    o->se[c->idx[j]] = fabs(dpde[j]) * sqrt(cov[j * c->q + j]);
    for (k = 0; k < c->q; k++)
      var += g[c->idx[j]] * dpde[j] * cov[j * c->q + k] * g[c->idx[k]]
             * dpde[k];
  }
  o->tia_se = sqrt(var);
  o->tia_lo = o->tia - z * o->tia_se;
  o->tia_hi = o->tia + z * o->tia_se;
}

int rkin_tac_map(const rkin_tac_data *d, const rkin_tac_prior *pr,
                 double level, rkin_tac_cand *o, rkin_err *err)
{
  double lp, w[RKIN_TAC_MAX_POINTS], eta[MP] = {0}, lb[MP], ub[MP], gr[MP];
  double f = HUGE_VAL, dpde[MP];
  mapctx c;
  nlopt_opt opt = NULL;
  int rc, res = 0, j, conv = 0;
  size_t i;

  if ((rc = rkin_tac_check(d, &lp, err))) return rc;
  if ((rc = check_prior(pr, d, lp, err))) return rc;
  if (!(level > 0 && level < 1))
    return rkin_err_set(err, RKIN_EINVAL,
                        "TAC MAP: level = %g: expected 0 < level < 1", level);
  tac_cand_reset(o, pr->model);
  tac_weights(d, pr->cv, w);
  c.pr = pr;
  c.d = d;
  c.w = w;
  c.lp = lp;
  c.q = 0;
  for (j = 0; j < o->np; j++)
    if (pr->omega[j] > 0) c.idx[c.q++] = j;
  if (c.q > 0) {
    for (j = 0; j < c.q; j++) {
      lb[j] = -ETA_MAX;
      ub[j] = ETA_MAX;
    }
    opt = nlopt_create(NLOPT_LD_LBFGS, (unsigned)c.q);
    if (!opt)
      return rkin_err_set(err, RKIN_ENOMEM, "TAC MAP: NLopt not created");
    nlopt_set_min_objective(opt, map_objective, &c);
    nlopt_set_lower_bounds(opt, lb);
    nlopt_set_upper_bounds(opt, ub);
    nlopt_set_xtol_rel(opt, 1e-10);
    nlopt_set_ftol_rel(opt, 1e-13);
    nlopt_set_vector_storage(opt, (unsigned)c.q);   /* see tac_fit.c */
    nlopt_set_maxeval(opt, 2000);
    /* as in tac_fit.c: the projected gradient decides convergence, and a
     * stalled L-BFGS line search gets one restart in place */
    for (j = 0; j < 2 && !conv; j++) {
      res = nlopt_optimize(opt, eta, &f);
      f = map_objective((unsigned)c.q, eta, gr, &c);
      conv = res != NLOPT_MAXEVAL_REACHED && res != NLOPT_INVALID_ARGS
             && res != NLOPT_OUT_OF_MEMORY && isfinite(f)
             && proj_grad(eta, gr, lb, ub, c.q) <= GTOL * (1 + f);
    }
    nlopt_destroy(opt);
    o->nlopt_result = res;
    if (!conv) {
      o->status = RKIN_TAC_FAILED;
      o->warn |= RKIN_TAC_W_NOCONV;
      return rkin_err_set(err, RKIN_EOPTIM,
                          "TAC MAP: posterior maximisation did not converge "
                          "(NLopt %s, gradient left %g): no estimate",
                          nlopt_result_to_string((nlopt_result)res),
                          proj_grad(eta, gr, lb, ub, c.q));
    }
  }
  map_params(&c, eta, o->p, dpde);
  o->status = RKIN_TAC_OK;
  o->k = c.q;
  o->chi2 = 0;
  for (i = 0; i < d->n; i++) {
    o->resid[i] = d->a[i] - tac_eval(pr->model, o->p, d->t[i], NULL);
    o->chi2 += w[i] * o->resid[i] * o->resid[i];
  }
  o->s2 = 1.0;
  o->tia = tac_integral_from(pr->model, o->p, 0.0, NULL);
  o->tail_share = tac_integral_from(pr->model, o->p, d->t[d->n - 1], NULL)
                  / o->tia;
  if (c.q > 0) {
    map_uncertainty(&c, eta, level, o);
  } else {                  /* every parameter held: the prior curve */
    for (j = 0; j < o->np; j++) o->se[j] = 0;
    o->tia_se = 0;
    o->tia_lo = o->tia_hi = o->tia;
  }
  return 0;
}
