/* popm4.c - Beal's M4 likelihood of an observation (popres.h): the M3
 * likelihood conditional on the value being positive, with its exact
 * first and second derivatives in the prediction f and the SD's variable
 * s (the Laplace methods use them directly). */
#include "pop/popest_impl.h"

#include <gsl/gsl_sf_erf.h>
#include <math.h>
#include <string.h>

/* log Phi(x) and log Q(x) = log Phi(-x), finite far into both tails. */
static double log_Phi(double x)
{
  return gsl_sf_log_erfc(-x / M_SQRT2) - M_LN2;
}

static double log_phi(double x)
{
  return -0.5 * x * x - 0.5 * log(2 * M_PI);
}

/* A quantity q(f, s) and its derivatives. */
typedef struct { double v, f, s, ff, fs, ss; } d2;

/* x = k / sd(s) + x0 / sd(s) shapes: z = (L - m) / sd, m = f: z_f = -1 /
 * sd, z_s = -z sd_s / sd, z_ff = 0, z_fs = sd_s / sd^2, z_ss = z (2
 * sd_s^2 / sd^2 - sd_ss / sd). sg = -1 gives z = (m - L) / sd. */
static d2 zeta(double L, double m, double sg, double sd, double sd_s,
               double sd_ss)
{
  d2 z;
  z.v = sg * (L - m) / sd;
  z.f = -sg / sd;
  z.s = -z.v * sd_s / sd;
  z.ff = 0;
  z.fs = sg * sd_s / (sd * sd);
  z.ss = z.v * (2 * sd_s * sd_s / (sd * sd) - sd_ss / sd);
  return z;
}

/* c += k * g(x(f, s)) with g's derivatives g1, g2 in x. */
static void add_chain(rkin_res_obs *o, double k, double g, double g1,
                      double g2, const d2 *x)
{
  o->c += k * g;
  o->c_f += k * g1 * x->f;
  o->c_s += k * g1 * x->s;
  o->c_ff += k * (g2 * x->f * x->f + g1 * x->ff);
  o->c_fs += k * (g2 * x->f * x->s + g1 * x->fs);
  o->c_ss += k * (g2 * x->s * x->s + g1 * x->ss);
}

/* -2 log(Phi(a) - Phi(b)), a = (L - m) / sd > b = -m / sd, into o. */
static int add_interval(rkin_res_obs *o, const d2 *a, const d2 *b)
{
  double lp, ga, gb, gaa, gbb, gab;
  if (b->v >= 0) {            /* both in the upper tail: Q(b) - Q(a) */
    double qa = log_Phi(-a->v), qb = log_Phi(-b->v);
    lp = qb + log1p(-exp(qa - qb));
  } else if (a->v <= 0) {     /* both in the lower tail */
    double pa = log_Phi(a->v), pb = log_Phi(b->v);
    lp = pa + log1p(-exp(pb - pa));
  } else {
    lp = log(1 - exp(log_Phi(-a->v)) - exp(log_Phi(b->v)));
  }
  if (!isfinite(lp)) return RKIN_ENONFINITE;
  ga = exp(log_phi(a->v) - lp);
  gb = -exp(log_phi(b->v) - lp);
  gaa = -a->v * ga - ga * ga;
  gbb = -b->v * gb - gb * gb;
  gab = -ga * gb;
  o->c += -2 * lp;
  o->c_f += -2 * (ga * a->f + gb * b->f);
  o->c_s += -2 * (ga * a->s + gb * b->s);
  o->c_ff += -2 * (gaa * a->f * a->f + 2 * gab * a->f * b->f
                   + gbb * b->f * b->f + ga * a->ff + gb * b->ff);
  o->c_fs += -2 * (gaa * a->f * a->s + gab * (a->f * b->s + a->s * b->f)
                   + gbb * b->f * b->s + ga * a->fs + gb * b->fs);
  o->c_ss += -2 * (gaa * a->s * a->s + 2 * gab * a->s * b->s
                   + gbb * b->s * b->s + ga * a->ss + gb * b->ss);
  return RKIN_OK;
}

int rkin_res_eval_m4(rkin_res_model res, int log_scale, const double *sig,
                     double y, double f, double s, int cens, double limit,
                     rkin_res_obs *o)
{
  double sd, sd_s, sd_ss, lam;
  d2 u;
  int rc;
  if (log_scale)          /* positive by construction: M4 is M3 */
    return rkin_res_eval(res, log_scale, sig, y, f, s, cens, limit, o);
  if (cens <= 0) {
    /* observed, or above the limit: the Gaussian / M3 term */
    rc = rkin_res_eval(res, 0, sig, y, f, s, cens, limit, o);
    if (rc) return rc;
    rc = pop_res_sd(res, sig, s, &sd, &sd_s, &sd_ss);
    if (rc) return rc;
  } else {
    d2 a, b;
    if (!(limit > 0)) return RKIN_ERANGE;
    rc = pop_res_sd(res, sig, s, &sd, &sd_s, &sd_ss);
    if (rc) return rc;
    memset(o, 0, sizeof *o);
    o->r = limit - f;
    o->V = sd * sd;
    o->dm = 1;
    a = zeta(limit, f, 1, sd, sd_s, sd_ss);
    b = zeta(0, f, 1, sd, sd_s, sd_ss);
    rc = add_interval(o, &a, &b);
    if (rc) return rc;
  }
  /* + 2 log Phi(u), u = f / sd: the probability of a positive value */
  u = zeta(0, f, -1, sd, sd_s, sd_ss);
  lam = exp(log_phi(u.v) - log_Phi(u.v));     /* phi / Phi */
  add_chain(o, 2, log_Phi(u.v), lam, -lam * (u.v + lam), &u);
  /* (used by the Laplace methods only) */
  o->w_ff = o->c_ff / 2;
  o->w_fs = o->c_fs / 2;
  o->w_ss = o->c_ss / 2;
  if (!isfinite(o->c) || !isfinite(o->c_f) || !isfinite(o->c_s)
      || !isfinite(o->c_ff) || !isfinite(o->c_fs) || !isfinite(o->c_ss))
    return RKIN_ENONFINITE;
  return RKIN_OK;
}
