/* uncert_chain.c - propagation from the per-point measurement model through
 * the TAC fit, TIA, mass, absorbed dose and BED to cumulative dose and BED
 * over cycles: first order (delta method, with the budget by source) and
 * Monte Carlo (Gear et al., EJNMMI 2018;45:2456; GUM JCGM 100:2008 eq. 13
 * for correlated inputs; JCGM 101:2008 for the Monte Carlo route).
 *
 * Both routes evaluate one function F of the input vector
 *
 *   theta = (p_1 .. p_C, Q, v, rc_max, v50, k, density, s, ab, T_rep)
 *
 * p_c the curve parameters of cycle c fitted to the activities at the
 * nominal Q and RC (weights from the counts only), s the relative scale of
 * the S value (1). The shared factors enter exactly as multipliers,
 * TIA_c = integral(p_c) Q0 RC(v0) / (Q RC(v)), and Q, v and the recovery
 * curve appear once for all cycles, so cycles are correlated through
 * them. Inputs of different sources are independent, so the delta
 * variance J Sigma J^T splits exactly into one term per source. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "dose/dosimetry.h"
#include "dose/doserate.h"
#include "dose/gfactor.h"
#include "dose/radiobio.h"
#include "uncert/uncert.h"

#define MAXTH (RKIN_UNC_MAX_CYCLES * RKIN_TAC_MAX_PAR + 10)
#define MAXOUT (3 * RKIN_UNC_MAX_CYCLES + 3)
#define MC_MAX_DRAWS 1000000

/* The problem after checking: nominal values and where each input sits. */
typedef struct {
  const rkin_unc_chain *ch;
  const rkin_nuclide *nuc;
  int np;                       /* curve parameters per cycle */
  size_t nc, nth, nout;
  double q0, rc0;               /* nominal calibration and recovery */
  int i_q, i_v, i_rc, i_rho, i_s, i_ab, i_trep;
  double th0[MAXTH];
  double cov[MAXTH][RKIN_TAC_MAX_PAR];   /* block of each p_c row */
  double var[MAXTH];            /* variance of scalar inputs */
  int src[MAXTH];               /* source of each input */
  double *rel[RKIN_UNC_MAX_CYCLES];      /* per-point count SD, relative */
  unsigned warn[RKIN_UNC_MAX_CYCLES];    /* nominal fits' warning bits */
} chain;

/* Output index: tia c, dose c, bed c, then mass, cum dose, cum bed. */
#define O_TIA(c) (3 * (c))
#define O_DOSE(c) (3 * (c) + 1)
#define O_BED(c) (3 * (c) + 2)
#define O_MASS(nc) (3 * (nc))
#define O_CUMD(nc) (3 * (nc) + 1)
#define O_CUMB(nc) (3 * (nc) + 2)

static int curve_terms(rkin_tac_model m, const double *p, double *c,
                       double *b)
{
  switch (m) {
  case RKIN_TAC_MONO: c[0] = p[0]; b[0] = p[1]; return 1;
  case RKIN_TAC_BI:
    c[0] = p[0]; b[0] = p[1]; c[1] = p[2]; b[1] = p[3]; return 2;
  case RKIN_TAC_UPWASH:
    c[0] = p[0]; b[0] = p[1]; c[1] = -p[0]; b[1] = p[2]; return 2;
  case RKIN_TAC_TRI:
    c[0] = p[0]; b[0] = p[1]; c[1] = p[2]; b[1] = p[3];
    c[2] = -(p[0] + p[2]); b[2] = p[4]; return 3;
  default: return 0;
  }
}

/* F: every output from one input vector. */
static int eval(const chain *k, const double *th, double *out, double *g,
                rkin_err *err)
{
  const rkin_unc_chain *ch = k->ch;
  const char *reg = ch->region ? ch->region : "region";
  double q = th[k->i_q], v = th[k->i_v], rc = 1.0, mass, s, cd = 0.0,
         cb = 0.0;
  size_t c;
  int rcode;
  if (!(q > 0.0) || !(v > 0.0) || !(th[k->i_rho] > 0.0))
    return rkin_err_set(err, RKIN_ERANGE, "%s: calibration %g, volume %g or "
                        "density %g not > 0", reg, q, v, th[k->i_rho]);
  if (ch->meas.rc) {
    rkin_unc_rc cur = *ch->meas.rc;
    memcpy(cur.p, th + k->i_rc, sizeof cur.p);
    rc = rkin_unc_rc_eval(&cur, v, NULL, NULL);
    if (!(rc > 0.0) || !isfinite(rc))
      return rkin_err_set(err, RKIN_ERANGE, "%s: recovery %g at %g mL", reg,
                          rc, v);
  }
  mass = th[k->i_rho] * v / 1000.0;
  if (ch->dose.kind == RKIN_UNC_DOSE_LED)
    rcode = rkin_dosimetry_s_led(k->nuc, mass, reg, &s, err);
  else
    rcode = rkin_dosimetry_scale_self(ch->dose.s_e, ch->dose.s_p,
                                      ch->dose.m_ref_kg, mass, reg, &s, err);
  if (rcode) return rcode;
  s *= th[k->i_s];
  for (c = 0; c < k->nc; c++) {
    const double *p = th + c * (size_t)k->np;
    double tia = rkin_tac_integral(ch->model, p) * k->q0 * k->rc0 / (q * rc)
                 * (ch->meas.per_ml ? v / ch->meas.v_ml : 1.0);
    double d = tia * s, bed = NAN;
    out[O_TIA(c)] = tia;
    out[O_DOSE(c)] = d;
    cd += d;
    if (ch->lq.ab_gy > 0.0) {
      double cc[RKIN_TAC_MAX_PAR], bb[RKIN_TAC_MAX_PAR], gc;
      rkin_doserate r;
      rkin_lq lq;
      int nt = curve_terms(ch->model, p, cc, bb);
      lq.ab_gy = th[k->i_ab];
      lq.trep_h = th[k->i_trep];
      if ((rcode = rkin_doserate_set(&r, (size_t)nt, cc, bb, reg, err)) ||
          (rcode = rkin_gfactor_sum(&r, lq.trep_h, &gc, err)) ||
          (rcode = rkin_radiobio_bed(d, gc, &lq, reg, &bed, err)))
        return rcode;
      if (g) g[c] = gc;
      cb += bed;
    }
    out[O_BED(c)] = bed;
  }
  out[O_MASS(k->nc)] = mass;
  out[O_CUMD(k->nc)] = cd;
  out[O_CUMB(k->nc)] = ch->lq.ab_gy > 0.0 ? cb : NAN;
  for (c = 0; c < k->nout; c++)
    if (!isfinite(out[c]) && !(ch->lq.ab_gy <= 0.0 &&
                               (c == O_CUMB(k->nc) || c % 3 == 2)))
      return rkin_err_set(err, RKIN_ENONFINITE, "%s: output %zu not finite",
                          reg, c);
  return 0;
}

/* Activities of cycle c at the nominal factors from counts (scaled by
 * f[i], 1 for the nominal data) and the fit. */
static int fit_cycle(const chain *k, size_t c, const double *f,
                     rkin_tac_cand *cand, rkin_err *err)
{
  const rkin_unc_cycle *cy = &k->ch->cyc[c];
  double t[RKIN_TAC_MAX_POINTS], a[RKIN_TAC_MAX_POINTS],
      sd[RKIN_TAC_MAX_POINTS];
  rkin_tac_data d;
  rkin_tac_opts o;
  size_t i;
  int rc;
  for (i = 0; i < cy->n; i++) {
    double cts = cy->pt[i].counts * (f ? f[i] : 1.0);
    t[i] = cy->pt[i].t_h;
    a[i] = cts * (k->ch->meas.per_ml ? k->ch->meas.v_ml : 1.0) /
           cy->pt[i].t_acq_s / (k->q0 * k->rc0);
    sd[i] = a[i] * k->rel[c][i];
    if (!(a[i] > 0.0))
      return rkin_err_set(err, RKIN_ERANGE, "cycle %zu point %zu: drawn "
                          "counts not > 0", c + 1, i + 1);
  }
  d.n = cy->n;
  d.t = t;
  d.a = a;
  d.sd = sd;
  d.nuclide = k->ch->nuclide;
  rkin_tac_opts_default(&o);
  o.models = 1u << k->ch->model;
  if ((rc = rkin_tac_fit_one(&d, &o, k->ch->model, cand, err)))
    return rc;
  if (cand->status != RKIN_TAC_OK)
    return rkin_err_set(err, RKIN_EOPTIM, "%s cycle %zu: the %s fit did not "
                        "give parameters (%s)", k->ch->region ? k->ch->region
                        : "region", c + 1, rkin_tac_model_name(k->ch->model),
                        cand->note);
  return 0;
}

static void chain_free(chain *k)
{
  size_t c;
  for (c = 0; c < RKIN_UNC_MAX_CYCLES; c++) free(k->rel[c]);
}

static int chk(double x, int pos, const char *what, rkin_err *err)
{
  if (!isfinite(x) || (pos ? !(x > 0.0) : !(x >= 0.0)))
    return rkin_err_set(err, RKIN_EINVAL, "uncertainty chain: %s %g, "
                        "expected %s", what, x,
                        pos ? "> 0" : ">= 0");
  return 0;
}

/* Checks the chain, fits the nominal data, fills k. */
static int chain_setup(const rkin_unc_chain *ch, chain *k, rkin_err *err)
{
  const rkin_unc_meas *m;
  size_t c, i;
  int rc;
  memset(k, 0, sizeof *k);
  if (!ch || !ch->cyc)
    return rkin_err_set(err, RKIN_EINVAL, "uncertainty chain: no cycles");
  m = &ch->meas;
  k->ch = ch;
  if (ch->model != RKIN_TAC_MONO && ch->model != RKIN_TAC_BI &&
      ch->model != RKIN_TAC_UPWASH && ch->model != RKIN_TAC_TRI)
    return rkin_err_set(err, RKIN_EINVAL, "uncertainty chain: model %d, "
                        "expected mono, bi, upwash or tri", ch->model);
  if (ch->n_cycles < 1 || ch->n_cycles > RKIN_UNC_MAX_CYCLES)
    return rkin_err_set(err, RKIN_EINVAL, "uncertainty chain: %zu cycles, "
                        "expected 1..%d", ch->n_cycles, RKIN_UNC_MAX_CYCLES);
  if (!(k->nuc = rkin_nuclide_find(ch->nuclide ? ch->nuclide : "", err)))
    return err ? err->code : RKIN_ENOTFOUND;
  if ((rc = chk(m->cal, 1, "calibration factor (cps/MBq)", err)) ||
      (rc = chk(m->u_cal, 0, "calibration SD", err)) ||
      (rc = chk(m->v_ml, 1, "volume (mL)", err)) ||
      (rc = chk(m->u_v_ml, 0, "volume SD", err)) ||
      (rc = chk(ch->dose.density, 1, "density (g/mL)", err)) ||
      (rc = chk(ch->dose.u_density, 0, "density SD", err)) ||
      (rc = chk(ch->dose.u_s_rel, 0, "S-value relative SD", err)) ||
      (rc = chk(ch->lq.ab_gy, 0, "alpha/beta (Gy)", err)) ||
      (rc = chk(ch->lq.u_ab_gy, 0, "alpha/beta SD", err)) ||
      (rc = chk(ch->lq.u_trep_h, 0, "repair half-time SD", err)))
    return rc;
  if (ch->lq.ab_gy > 0.0 && (rc = chk(ch->lq.trep_h, 1,
                                      "repair half-time (h)", err)))
    return rc;
  if (ch->dose.kind == RKIN_UNC_DOSE_S &&
      ((rc = chk(ch->dose.m_ref_kg, 1, "reference mass (kg)", err)) ||
       (rc = chk(ch->dose.s_e, 0, "S value, electrons", err)) ||
       (rc = chk(ch->dose.s_p, 0, "S value, photons", err))))
    return rc;
  if (ch->level != 0.0 && !(ch->level > 0.0 && ch->level < 1.0))
    return rkin_err_set(err, RKIN_EINVAL, "interval level %g, expected in "
                        "(0, 1)", ch->level);
  k->np = rkin_tac_model_npar(ch->model);
  k->nc = ch->n_cycles;
  k->nout = 3 * k->nc + 3;
  k->q0 = m->cal;
  k->rc0 = 1.0;
  if (m->rc) {
    k->rc0 = rkin_unc_rc_eval(m->rc, m->v_ml, NULL, NULL);
    if (!(k->rc0 > 0.0) || !isfinite(k->rc0))
      return rkin_err_set(err, RKIN_ERANGE, "recovery %g at %g mL, expected "
                          "> 0", k->rc0, m->v_ml);
  }
  for (c = 0; c < k->nc; c++) {
    const rkin_unc_cycle *cy = &ch->cyc[c];
    rkin_tac_cand cand;
    if (cy->n < 1 || cy->n > RKIN_TAC_MAX_POINTS || !cy->pt) {
      chain_free(k);
      return rkin_err_set(err, RKIN_EINVAL, "cycle %zu: %zu points, expected "
                          "1..%d", c + 1, cy->n, RKIN_TAC_MAX_POINTS);
    }
    if (!(k->rel[c] = malloc(cy->n * sizeof(double)))) {
      chain_free(k);
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    }
    for (i = 0; i < cy->n; i++) {
      rkin_unc_activity a;
      if ((rc = rkin_unc_activity_of(&cy->pt[i], m, &a, err))) {
        rkin_err_prefix(err, "cycle %zu point %zu: ", c + 1, i + 1);
        chain_free(k);
        return rc;
      }
      k->rel[c][i] = a.u_rel[RKIN_UNC_COUNTS];
    }
    if ((rc = fit_cycle(k, c, NULL, &cand, err))) {
      chain_free(k);
      return rc;
    }
    k->warn[c] = cand.warn;
    for (i = 0; i < (size_t)k->np; i++) {
      size_t j, r = c * (size_t)k->np + i;
      k->th0[r] = cand.p[i];
      k->src[r] = RKIN_UNC_COUNTS;
      for (j = 0; j < (size_t)k->np; j++)
        k->cov[r][j] = cand.has_cov ? cand.cov[i * k->np + j] : 0.0;
    }
    if (!cand.has_cov) {
      chain_free(k);
      return rkin_err_set(err, RKIN_EOPTIM, "cycle %zu: the fit has no "
                          "covariance (%s)", c + 1, cand.note);
    }
  }
  i = k->nc * (size_t)k->np;
  k->i_q = (int)i;   k->th0[i] = m->cal;  k->var[i] = m->u_cal * m->u_cal;
  k->src[i++] = RKIN_UNC_CALIB;
  k->i_v = (int)i;   k->th0[i] = m->v_ml; k->var[i] = m->u_v_ml * m->u_v_ml;
  k->src[i++] = RKIN_UNC_VOLUME;
  k->i_rc = (int)i;
  for (c = 0; c < 3; c++) {
    k->th0[i] = m->rc ? m->rc->p[c] : 1.0;
    k->src[i++] = RKIN_UNC_RECOVERY;
  }
  k->i_rho = (int)i; k->th0[i] = ch->dose.density;
  k->var[i] = ch->dose.u_density * ch->dose.u_density;
  k->src[i++] = RKIN_UNC_DENSITY;
  k->i_s = (int)i;   k->th0[i] = 1.0;
  k->var[i] = ch->dose.u_s_rel * ch->dose.u_s_rel;
  k->src[i++] = RKIN_UNC_SVALUE;
  k->i_ab = (int)i;  k->th0[i] = ch->lq.ab_gy;
  k->var[i] = ch->lq.ab_gy > 0.0 ? ch->lq.u_ab_gy * ch->lq.u_ab_gy : 0.0;
  k->src[i++] = RKIN_UNC_AB;
  k->i_trep = (int)i; k->th0[i] = ch->lq.ab_gy > 0.0 ? ch->lq.trep_h : 1.0;
  k->var[i] = ch->lq.ab_gy > 0.0 ? ch->lq.u_trep_h * ch->lq.u_trep_h : 0.0;
  k->src[i++] = RKIN_UNC_TREP;
  k->nth = i;
  return 0;
}

/* Covariance entry of inputs a, b (block diagonal by source). */
static double cov_of(const chain *k, size_t a, size_t b)
{
  size_t npc = k->nc * (size_t)k->np;
  if (a < npc && b < npc) {
    if (a / k->np != b / k->np) return 0.0;   /* cycles independent */
    return k->cov[a][b % k->np];
  }
  if (a >= (size_t)k->i_rc && a < (size_t)k->i_rc + 3 &&
      b >= (size_t)k->i_rc && b < (size_t)k->i_rc + 3)
    return k->ch->meas.rc ? k->ch->meas.rc->cov[(a - k->i_rc) * 3 +
                                                (b - k->i_rc)] : 0.0;
  return a == b && a >= npc ? k->var[a] : 0.0;
}

static void put_q(rkin_unc_q *q, double v)
{
  int s;
  q->value = v;
  q->u = q->lo = q->hi = NAN;
  for (s = 0; s < RKIN_UNC_NSRC; s++) q->var[s] = NAN;
}

static rkin_unc_q *out_q(rkin_unc_result *r, size_t nc, size_t o)
{
  if (o == O_MASS(nc)) return &r->mass;
  if (o == O_CUMD(nc)) return &r->cum_dose;
  if (o == O_CUMB(nc)) return &r->cum_bed;
  switch (o % 3) {
  case 0: return &r->tia[o / 3];
  case 1: return &r->dose[o / 3];
  default: return &r->bed[o / 3];
  }
}

static void fill_nominal(const chain *k, const double *y, const double *g,
                         rkin_unc_result *r)
{
  size_t o, c;
  memset(r, 0, sizeof *r);
  r->n_cycles = k->nc;
  for (o = 0; o < k->nout; o++) put_q(out_q(r, k->nc, o), y[o]);
  r->mass_kg = y[O_MASS(k->nc)];
  for (c = 0; c < k->nc; c++) {
    r->g[c] = k->ch->lq.ab_gy > 0.0 ? g[c] : NAN;
    r->fit_warn[c] = k->warn[c];
  }
}

static double zq(const rkin_unc_chain *ch)
{
  double lv = ch->level > 0.0 ? ch->level : 0.95;
  return gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * lv);
}

int rkin_unc_delta(const rkin_unc_chain *ch, rkin_unc_result *r,
                   rkin_err *err)
{
  chain k;
  double J[MAXOUT][MAXTH];
  double y0[MAXOUT], g[RKIN_UNC_MAX_CYCLES], th[MAXTH], yp[MAXOUT],
      ym[MAXOUT];
  size_t a, b, o;
  int rc;
  double z;
  if ((rc = chain_setup(ch, &k, err))) return rc;
  if ((rc = eval(&k, k.th0, y0, g, err))) goto done;
  fill_nominal(&k, y0, g, r);
  /* central differences, step relative to the input (1e-6) */
  memcpy(th, k.th0, sizeof th);
  for (a = 0; a < k.nth; a++) {
    double h = 1e-6 * (fabs(k.th0[a]) > 0.0 ? fabs(k.th0[a]) : 1.0);
    th[a] = k.th0[a] + h;
    if ((rc = eval(&k, th, yp, NULL, err))) goto done;
    th[a] = k.th0[a] - h;
    if ((rc = eval(&k, th, ym, NULL, err))) goto done;
    th[a] = k.th0[a];
    for (o = 0; o < k.nout; o++) J[o][a] = (yp[o] - ym[o]) / (2.0 * h);
  }
  z = zq(ch);
  for (o = 0; o < k.nout; o++) {
    rkin_unc_q *q = out_q(r, k.nc, o);
    double tot = 0.0;
    int s;
    if (!isfinite(q->value)) continue;
    for (s = 0; s < RKIN_UNC_NSRC; s++) q->var[s] = 0.0;
    for (a = 0; a < k.nth; a++)
      for (b = 0; b < k.nth; b++) {
        double cab;
        if (k.src[a] != k.src[b]) continue;   /* sources independent */
        cab = cov_of(&k, a, b);
        if (cab != 0.0) q->var[k.src[a]] += J[o][a] * cab * J[o][b];
      }
    for (s = 0; s < RKIN_UNC_NSRC; s++) {
      if (q->var[s] < 0.0) q->var[s] = 0.0;   /* rounding of a PSD form */
      tot += q->var[s];
    }
    q->u = sqrt(tot);
    q->lo = q->value - z * q->u;
    q->hi = q->value + z * q->u;
  }
done:
  chain_free(&k);
  return rc;
}

/* Gaussian draw redrawn while <= 0 (bounded). */
static int draw_pos(gsl_rng *g, double m, double sd, double *x)
{
  int i;
  for (i = 0; i < 1000; i++) {
    *x = m + (sd > 0.0 ? gsl_ran_gaussian_ziggurat(g, sd) : 0.0);
    if (*x > 0.0) return 0;
  }
  return -1;
}

/* Keeps the first failure of a draw (the others are counted only); 1. */
static int keep_first(rkin_err *first, const rkin_err *e)
{
  if (!first->code && e->code) *first = *e;
  return 1;
}

int rkin_unc_mc(const rkin_unc_chain *ch, size_t n_draws,
                unsigned long seed, rkin_unc_result *r, rkin_err *err)
{
  chain k;
  double y0[MAXOUT], g[RKIN_UNC_MAX_CYCLES], th[MAXTH], y[MAXOUT];
  double *store = NULL, L[9] = {0};
  gsl_rng *rng = NULL;
  size_t d, o, c, i, ok = 0, failed = 0;
  int rc;
  rkin_err first;      /* the first failed draw's reason, for the message */
  double lv = ch && ch->level > 0.0 ? ch->level : 0.95;
  if (n_draws < 100 || n_draws > MC_MAX_DRAWS)
    return rkin_err_set(err, RKIN_EINVAL, "Monte Carlo: %zu draws, expected "
                        "100..%d", n_draws, MC_MAX_DRAWS);
  if ((rc = chain_setup(ch, &k, err))) return rc;
  if ((rc = eval(&k, k.th0, y0, g, err))) goto done;
  fill_nominal(&k, y0, g, r);
  if (ch->meas.rc) {   /* Cholesky factor of the recovery covariance */
    gsl_matrix_view mv;
    memcpy(L, ch->meas.rc->cov, sizeof L);
    mv = gsl_matrix_view_array(L, 3, 3);
    if (gsl_linalg_cholesky_decomp1(&mv.matrix)) {
      rc = rkin_err_set(err, RKIN_ERANGE, "recovery curve covariance not "
                        "positive definite");
      goto done;
    }
  }
  store = malloc(n_draws * k.nout * sizeof(double));
  rng = gsl_rng_alloc(gsl_rng_mt19937);
  if (!store || !rng) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "Monte Carlo: out of memory for %zu "
                      "draws", n_draws);
    goto done;
  }
  gsl_rng_set(rng, seed);
  rkin_err_clear(&first);
  for (d = 0; d < n_draws; d++) {
    int bad = 0;
    memcpy(th, k.th0, sizeof th);
    for (c = 0; c < k.nc && !bad; c++) {
      const rkin_unc_cycle *cy = &ch->cyc[c];
      double f[RKIN_TAC_MAX_POINTS];
      rkin_tac_cand cand;
      rkin_err e2;
      for (i = 0; i < cy->n; i++)
        f[i] = 1.0 + gsl_ran_gaussian_ziggurat(rng, k.rel[c][i]);
      rkin_err_clear(&e2);
      if (fit_cycle(&k, c, f, &cand, &e2)) bad = keep_first(&first, &e2);
      else memcpy(th + c * (size_t)k.np, cand.p, (size_t)k.np * sizeof(double));
    }
    if (!bad) {
      bad |= draw_pos(rng, ch->meas.cal, ch->meas.u_cal, &th[k.i_q]);
      bad |= draw_pos(rng, ch->meas.v_ml, ch->meas.u_v_ml, &th[k.i_v]);
      bad |= draw_pos(rng, ch->dose.density, ch->dose.u_density,
                      &th[k.i_rho]);
      th[k.i_s] = 1.0 + gsl_ran_gaussian_ziggurat(rng, ch->dose.u_s_rel);
      if (ch->lq.ab_gy > 0.0) {
        bad |= draw_pos(rng, ch->lq.ab_gy, ch->lq.u_ab_gy, &th[k.i_ab]);
        bad |= draw_pos(rng, ch->lq.trep_h, ch->lq.u_trep_h, &th[k.i_trep]);
      }
      if (ch->meas.rc) {
        double zz[3];
        for (i = 0; i < 3; i++) zz[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        for (i = 0; i < 3; i++) {
          size_t j;
          double s = 0.0;
          for (j = 0; j <= i; j++) s += L[i * 3 + j] * zz[j];
          th[k.i_rc + i] = ch->meas.rc->p[i] + s;
        }
      }
    }
    if (!bad) {
      rkin_err e2;
      rkin_err_clear(&e2);
      if (eval(&k, th, y, NULL, &e2)) bad = keep_first(&first, &e2);
    }
    if (bad) {
      failed++;
      continue;
    }
    for (o = 0; o < k.nout; o++) store[o * n_draws + ok] = y[o];
    ok++;
  }
  r->n_draws = ok;
  r->n_failed = failed;
  if ((double)failed > 0.01 * (double)n_draws) {
    rc = rkin_err_set(err, RKIN_EOPTIM, "Monte Carlo: %zu of %zu draws "
                      "failed (fit or a non-positive input), more than 1 "
                      "%%; the first: %s", failed, n_draws, first.code
                      ? first.msg : "a drawn input not > 0");
    goto done;
  }
  for (o = 0; o < k.nout; o++) {
    rkin_unc_q *q = out_q(r, k.nc, o);
    double *col = store + o * n_draws;
    if (!isfinite(q->value)) continue;
    q->u = gsl_stats_sd(col, 1, ok);
    gsl_sort(col, 1, ok);
    q->lo = gsl_stats_quantile_from_sorted_data(col, 1, ok, 0.5 - 0.5 * lv);
    q->hi = gsl_stats_quantile_from_sorted_data(col, 1, ok, 0.5 + 0.5 * lv);
  }
done:
  free(store);
  if (rng) gsl_rng_free(rng);
  chain_free(&k);
  return rc;
}
