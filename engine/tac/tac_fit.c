/* tac_fit.c - weighted least-squares fit of one candidate curve with NLopt
 * (L-BFGS with bounds, analytic gradient), its covariance, TIA and AIC.
 *
 * The optimiser works on internal coordinates that keep the problem well
 * scaled and the curve physical: amplitudes as log A; the slowest rate as
 * (l - l_phys) T >= 0 with T the last time, so the physical-decay bound is
 * an exact NLopt bound; each faster rate as log of its excess over the
 * next slower one, so the rates stay ordered and labels cannot swap. */
#include "tac/tac_impl.h"

#include <math.h>
#include <string.h>

#include <nlopt.h>

#define MP RKIN_TAC_MAX_PAR
#define GTOL 1e-4        /* projected gradient / (1 + chi2) at a minimum */
#define AMP_SPAN 15.0    /* log-amplitude bounds around log max(a) */
#define MAX_STARTS 3

typedef struct {
  rkin_tac_model m;
  const tac_shape *sh;
  const double *t, *y, *w;
  size_t n;
  double lp, T;          /* physical rate, time scale */
  int nevals;
} fitctx;

void tac_cand_reset(rkin_tac_cand *c, rkin_tac_model m)
{
  int j;
  size_t i;
  memset(c, 0, sizeof *c);
  c->model = m;
  c->status = RKIN_TAC_NOT_TRIED;
  c->np = rkin_tac_model_npar(m);
  for (j = 0; j < MP; j++) c->p[j] = c->se[j] = NAN;
  for (i = 0; i < RKIN_TAC_MAX_POINTS; i++) c->resid[i] = NAN;
  c->chi2 = c->s2 = c->r2 = c->aic = c->aicc = c->weight = NAN;
  c->map_obj = NAN;
  c->tia = c->tia_se = c->tia_lo = c->tia_hi = c->tail_share = NAN;
}

/* Internal x -> natural p, with G = dp/dx (np x np, row-major). */
static void to_natural(const fitctx *c, const double *x, double *p, double *G)
{
  int np = c->sh->np, j, k;
  memset(G, 0, sizeof(double) * (size_t)(np * np));
  for (j = 0; j < np; j++) {
    int pv = c->sh->prev[j];
    if (!c->sh->is_rate[j]) {
      p[j] = exp(x[j]);
      G[j * np + j] = p[j];
    } else if (pv < 0) {
      p[j] = c->lp + x[j] / c->T;
      G[j * np + j] = 1.0 / c->T;
    } else {
      double e = exp(x[j]);
      p[j] = p[pv] + e;
      for (k = 0; k < np; k++) G[j * np + k] = G[pv * np + k];
      G[j * np + j] = e;
    }
  }
}

/* Natural p -> internal x, clamped into the bounds. */
static void to_internal(const fitctx *c, const double *p, const double *lb,
                        const double *ub, double *x)
{
  int j;
  for (j = 0; j < c->sh->np; j++) {
    int pv = c->sh->prev[j];
    if (!c->sh->is_rate[j])
      x[j] = log(p[j] > 0 ? p[j] : 1e-300);
    else if (pv < 0)
      x[j] = (p[j] - c->lp) * c->T;
    else
      x[j] = log(p[j] > p[pv] ? p[j] - p[pv] : 1e-300);
    if (x[j] < lb[j]) x[j] = lb[j];
    if (x[j] > ub[j]) x[j] = ub[j];
  }
}

static double objective(unsigned q, const double *x, double *grad, void *data)
{
  fitctx *c = data;
  double p[MP], G[MP * MP], d[MP], chi2 = 0;
  int np = (int)q, j, k;
  size_t i;
  to_natural(c, x, p, G);
  if (grad) memset(grad, 0, q * sizeof *grad);
  for (i = 0; i < c->n; i++) {
    double r = c->y[i] - tac_eval(c->m, p, c->t[i], grad ? d : NULL);
    chi2 += c->w[i] * r * r;
    if (grad)
      for (j = 0; j < np; j++) {
        double dfdx = 0;
        for (k = j; k < np; k++) dfdx += d[k] * G[k * np + j];
        grad[j] -= 2.0 * c->w[i] * r * dfdx;
      }
  }
  c->nevals++;
  return chi2;
}

/* Log-linear regression of log a on t over points i0..i1 (inclusive,
 * positive activities): a = A e^(-l t). */
static void loglin(const fitctx *c, size_t i0, size_t i1, double *A, double *l)
{
  double st = 0, sy = 0, stt = 0, sty = 0, m = (double)(i1 - i0 + 1);
  size_t i;
  for (i = i0; i <= i1; i++) {
    double ly = log(c->y[i]);
    st += c->t[i];
    sy += ly;
    stt += c->t[i] * c->t[i];
    sty += c->t[i] * ly;
  }
  *l = -(m * sty - st * sy) / (m * stt - st * st);
  *A = exp((sy + *l * st) / m);
}

/* Slowest rate never starts at or below physical decay. */
static double slow_rate(const fitctx *c, double l)
{
  return l > c->lp + 0.01 / c->T ? l : c->lp + 0.1 / c->T;
}

/* Start values by log-linear regression and curve peeling. */
static int starts(const fitctx *c, double s[][MP])
{
  size_t npos = c->n, i, ipk = 0;
  double Am, lm, As, ls, tmin = c->T, t0;
  while (npos > 0 && !(c->y[npos - 1] > 0)) npos--;
  for (i = 0; i < npos; i++) {
    if (c->y[i] > c->y[ipk]) ipk = i;
    if (c->t[i] > 0 && c->t[i] < tmin) tmin = c->t[i];
  }
  t0 = c->t[0] > 0 ? c->t[0] : tmin;
  if (npos >= 2) {
    loglin(c, 0, npos - 1, &Am, &lm);
    /* the slow phase from the last two positive points */
    ls = log(c->y[npos - 2] / c->y[npos - 1])
         / (c->t[npos - 1] - c->t[npos - 2]);
  } else {
    Am = c->y[0];
    lm = ls = c->lp + 1.0 / c->T;
  }
  lm = slow_rate(c, lm);
  ls = slow_rate(c, ls);
  As = c->y[npos - 1] * exp(ls * c->t[npos - 1]);
  switch (c->m) {
  case RKIN_TAC_MONO:
    s[0][0] = Am;
    s[0][1] = lm;
    return 1;
  case RKIN_TAC_UPWASH: {
    double e = exp(-ls * t0) - c->y[0] / As, lu = -log(e) / t0;
    if (!(e > 0) || !(lu > 1.5 * ls)) lu = fmax(2.0 * ls, 3.0 / tmin);
    s[0][0] = As;
    s[0][1] = ls;
    s[0][2] = lu;
    /* the start a SciPy reference fit uses, time scale generalised */
    s[1][0] = 1.2 * Am;
    s[1][1] = lm;
    s[1][2] = fmax(2.0 * lm, 1.0 / tmin);
    return 2;
  }
  case RKIN_TAC_BI:
  case RKIN_TAC_TRI: {
    double Af = 0, lf = 0, r0, r1;
    /* peel the slow phase off the earliest point(s) */
    r0 = c->y[0] - As * exp(-ls * c->t[0]);
    r1 = npos > 3 ? c->y[1] - As * exp(-ls * c->t[1]) : -1;
    if (r0 > 0 && r1 > 0 && r0 > r1) {
      lf = log(r0 / r1) / (c->t[1] - c->t[0]);
      Af = r0 * exp(lf * c->t[0]);
    }
    if (!(lf > 1.5 * ls) || !(Af > 0)) {
      lf = fmax(3.0 * ls, 1.0 / tmin);
      Af = 0.3 * As;
    }
    s[0][0] = As;
    s[0][1] = ls;
    s[0][2] = Af;
    s[0][3] = lf;
    s[1][0] = 0.8 * Am;
    s[1][1] = c->lp + 0.7 * (lm - c->lp);
    s[1][2] = 0.4 * Am;
    s[1][3] = 3.0 * lm + 1.0 / c->T;
    if (c->m == RKIN_TAC_BI) return 2;
    s[0][4] = s[1][4] = fmax(3.0 * lf, 3.0 / tmin);
    /* from an uptake-washout shape: most of A in the slow phase */
    s[2][0] = 0.8 * As;
    s[2][1] = ls;
    s[2][2] = 0.2 * As;
    s[2][3] = fmax(2.0 * ls, 0.5 / tmin);
    s[2][4] = fmax(4.0 * ls, 3.0 / tmin);
    return 3;
  }
  default:
    return 0;
  }
}

static void bounds(const fitctx *c, double *lb, double *ub)
{
  double ymax = 0, tmin = c->T;
  size_t i;
  int j;
  for (i = 0; i < c->n; i++) {
    if (c->y[i] > ymax) ymax = c->y[i];
    if (c->t[i] > 0 && c->t[i] < tmin) tmin = c->t[i];
  }
  for (j = 0; j < c->sh->np; j++) {
    if (!c->sh->is_rate[j]) {
      lb[j] = log(ymax) - AMP_SPAN;
      ub[j] = log(ymax) + AMP_SPAN;
    } else if (c->sh->prev[j] < 0) {
      lb[j] = 0;                      /* l = l_phys: biological rate 0 */
      ub[j] = 100.0 * c->T / tmin;
    } else {
      lb[j] = log(1e-4 / c->T);       /* rates merged: a simpler curve */
      ub[j] = log(100.0 / tmin);      /* too fast to be seen in the data */
    }
  }
}

/* Largest gradient component that the bounds do not explain. */
static double proj_grad(const double *x, const double *g, const double *lb,
                        const double *ub, int q)
{
  double worst = 0;
  int j;
  for (j = 0; j < q; j++) {
    double gj = g[j];
    if (x[j] <= lb[j] && gj > 0) gj = 0;
    if (x[j] >= ub[j] && gj < 0) gj = 0;
    if (fabs(gj) > worst) worst = fabs(gj);
  }
  return worst;
}

/* No coordinate on a bound other than the physical-decay one. */
static int interior(const double *x, const double *lb, const double *ub,
                    const fitctx *c)
{
  int j;
  for (j = 0; j < c->sh->np; j++) {
    double span = ub[j] - lb[j];
    int slow = c->sh->is_rate[j] && c->sh->prev[j] < 0;
    if ((!slow && x[j] - lb[j] < 1e-7 * span) || ub[j] - x[j] < 1e-7 * span)
      return 0;
  }
  return 1;
}

/* One NLopt run from x. NLopt's stopping rules alone do not prove a
 * minimum, and L-BFGS may report FAILURE or ROUNDOFF_LIMITED when its line
 * search stalls at one: convergence is decided by the projected gradient. */
static int run(nlopt_opt opt, fitctx *fc, double *x, const double *lb,
               const double *ub, double *f, int *conv)
{
  double gr[MP];
  int np = fc->sh->np;
  nlopt_result res = nlopt_optimize(opt, x, f);
  *f = objective((unsigned)np, x, gr, fc);
  *conv = res != NLOPT_MAXEVAL_REACHED && res != NLOPT_MAXTIME_REACHED
          && res != NLOPT_INVALID_ARGS && res != NLOPT_OUT_OF_MEMORY
          && res != NLOPT_FORCED_STOP && isfinite(*f)
          && proj_grad(x, gr, lb, ub, np) <= GTOL * (1 + *f);
  return res;
}

/* AIC / AICc from chi2 (Burnham & Anderson 2002, eqs. 2.1 and 2.14). */
static void info_criteria(rkin_tac_cand *c, const double *w, size_t n,
                          int scale_est)
{
  double m2ll = 0, dn = (double)n;
  size_t i;
  for (i = 0; i < n; i++) m2ll += log(2.0 * M_PI / w[i]);
  if (scale_est) {
    if (!(c->chi2 > 0) || (int)n <= c->k - 1) return;
    m2ll += dn * log(c->chi2 / dn) + dn;
  } else {
    m2ll += c->chi2;
  }
  c->aic = m2ll + 2.0 * c->k;
  if ((int)n - c->k - 1 > 0)
    c->aicc = c->aic + 2.0 * c->k * (c->k + 1) / (dn - c->k - 1);
}

/* Covariance, SEs, TIA with SE and interval. */
static void uncertainty(rkin_tac_cand *c, const fitctx *fc, double level,
                        int scale_est)
{
  double b[RKIN_TAC_MAX_POINTS * MP], cov[MP * MP], d[MP], g[MP], var = 0;
  int free_j[MP], q = 0, j, k;
  size_t i, n = fc->n;
  double dof = 0;
  for (j = 0; j < c->np; j++)
    if (!(c->fixed & (1u << j))) free_j[q++] = j;
  for (i = 0; i < n; i++) {
    double sw = sqrt(fc->w[i]);
    tac_eval(c->model, c->p, fc->t[i], d);
    for (k = 0; k < q; k++) b[i * (size_t)q + (size_t)k] = sw * d[free_j[k]];
  }
  c->s2 = 1.0;
  if (scale_est) {
    if ((int)n <= q) {
      tac_note(c->note, sizeof c->note,
               "no SE: residual variance not estimable with %zu points and "
               "%d free parameters (give sd or cv)", n, q);
      c->warn |= RKIN_TAC_W_NOSE;
      c->s2 = NAN;
      return;
    }
    dof = (double)n - q;
    c->s2 = c->chi2 / dof;
  }
  if (tac_covariance(b, n, (size_t)q, cov) != 0) {
    /* a curve whose parameters the points cannot pin down is not a
     * candidate worth ranking: it mimics a simpler one */
    tac_note(c->note, sizeof c->note,
             "parameters not identifiable from these points (singular "
             "J^T W J): not ranked");
    c->warn |= RKIN_TAC_W_DEGENERATE;
    c->status = RKIN_TAC_DEGENERATE;
    return;
  }
  tac_integral_from(c->model, c->p, 0.0, g);
  for (j = 0; j < c->np; j++) c->se[j] = 0.0;
  for (j = 0; j < q; j++) {
    c->se[free_j[j]] = sqrt(c->s2 * cov[j * q + j]);
    for (k = 0; k < q; k++)
      var += g[free_j[j]] * cov[j * q + k] * g[free_j[k]];
  }
  c->tia_se = sqrt(c->s2 * var);
  for (j = 0; j < q; j++)
    for (k = 0; k < q; k++)
      c->cov[free_j[j] * c->np + free_j[k]] = c->s2 * cov[j * q + k];
  c->has_cov = 1;
  c->dof = dof;
  {
    double z = tac_quantile(level, dof);
    c->tia_lo = c->tia - z * c->tia_se;
    c->tia_hi = c->tia + z * c->tia_se;
  }
}

/* Which internal coordinates ended on a bound: the slowest rate on its
 * lower bound is held at physical decay; any other bound means the curve
 * collapsed to a simpler one. */
static int classify(rkin_tac_cand *c, const fitctx *fc, double *x,
                    const double *lb, const double *ub)
{
  int j, degenerate = 0;
  for (j = 0; j < c->np; j++) {
    int slow = fc->sh->is_rate[j] && fc->sh->prev[j] < 0;
    double span = ub[j] - lb[j];
    if (slow && x[j] < 1e-8) {
      x[j] = 0;
      c->fixed |= 1u << j;
      c->warn |= RKIN_TAC_W_PHYS;
      tac_note(c->note, sizeof c->note,
               "effective rate %s wanted slower than physical decay "
               "(biological rate < 0): held at l_phys = %.6g /h",
               rkin_tac_par_name(c->model, j), fc->lp);
    } else if ((!slow && x[j] - lb[j] < 1e-7 * span)
               || ub[j] - x[j] < 1e-7 * span) {
      degenerate = 1;
      tac_note(c->note, sizeof c->note,
               "%s reached its bound: the curve collapsed to a simpler one",
               rkin_tac_par_name(c->model, j));
    }
  }
  return degenerate;
}

void tac_fit_cand(const rkin_tac_data *d, const double *w, double lp,
                  const rkin_tac_opts *o, rkin_tac_model m, rkin_tac_cand *c)
{
  fitctx fc;
  double lb[MP], ub[MP], s[MAX_STARTS][MP], x[MP], best[MP], G[MP * MP];
  double fbest = HUGE_VAL, ybar = 0, sst = 0, ssr = 0;
  /* res_best 0 (no NLopt result has that value): no start was better
   * than another, e.g. an objective not finite anywhere */
  int ns, k, np = rkin_tac_model_npar(m), conv_best = 0, res_best = 0;
  int res_last = NLOPT_FAILURE, any_finite = 0;
  int scale_est = d->sd == NULL && !(o->cv > 0);
  nlopt_opt opt;
  size_t i;

  tac_cand_reset(c, m);
  if (d->n < (size_t)np) {
    tac_note(c->note, sizeof c->note,
             "not tried: %d parameters need at least %d points (have %zu)",
             np, np, d->n);
    return;
  }
  fc.m = m;
  fc.sh = tac_shape_of(m);
  fc.t = d->t;
  fc.y = d->a;
  fc.w = w;
  fc.n = d->n;
  fc.lp = lp;
  fc.T = d->t[d->n - 1];
  fc.nevals = 0;
  bounds(&fc, lb, ub);
  ns = starts(&fc, s);

  opt = nlopt_create(NLOPT_LD_LBFGS, (unsigned)np);
  if (!opt) {
    c->status = RKIN_TAC_FAILED;
    tac_note(c->note, sizeof c->note, "NLopt could not be created");
    return;
  }
  nlopt_set_min_objective(opt, objective, &fc);
  nlopt_set_lower_bounds(opt, lb);
  nlopt_set_upper_bounds(opt, ub);
  nlopt_set_xtol_rel(opt, 1e-10);
  nlopt_set_ftol_rel(opt, 1e-13);
  /* L-BFGS keeps 10-20 update pairs by default: far more than a problem
   * of <= 5 parameters needs, and most of its time goes to them */
  nlopt_set_vector_storage(opt, (unsigned)np);
  nlopt_set_maxeval(opt, o->maxeval > 0 ? o->maxeval : 1000);
  for (k = 0; k < ns; k++) {
    double f = HUGE_VAL;
    int res, conv = 0;
    to_internal(&fc, s[k], lb, ub, x);
    res = run(opt, &fc, x, lb, ub, &f, &conv);
    if (!conv && res != NLOPT_MAXEVAL_REACHED)   /* restart once, in place */
      res = run(opt, &fc, x, lb, ub, &f, &conv);
    res_last = res;
    if (isfinite(f)) any_finite = 1;
    if ((conv && !conv_best) || (conv == conv_best && f < fbest)) {
      fbest = f;
      conv_best = conv;
      res_best = res;
      memcpy(best, x, sizeof x);
    }
    /* an interior minimum from the peeling start is accepted as it is:
     * further starts only help when a fit collapsed or stalled */
    if (conv && interior(x, lb, ub, &fc)) break;
  }
  nlopt_destroy(opt);
  if (res_best == 0) res_best = res_last;
  c->nlopt_result = res_best;
  c->nevals = fc.nevals;
  if (!conv_best) {
    const char *why = nlopt_result_to_string((nlopt_result)res_best);
    c->status = RKIN_TAC_FAILED;
    c->warn |= RKIN_TAC_W_NOCONV;
    if (!why) why = "with an unknown result";
    if (!any_finite)
      tac_note(c->note, sizeof c->note,
               "did not converge: the weighted sum of squares is not "
               "finite at any start (activities too large or too spread "
               "to square in double precision; NLopt %s after %d "
               "evaluations): no estimate", why, fc.nevals);
    else
      tac_note(c->note, sizeof c->note,
               "did not converge (NLopt %s after %d evaluations): no "
               "estimate", why, fc.nevals);
    return;
  }
  c->status = classify(c, &fc, best, lb, ub) ? RKIN_TAC_DEGENERATE
                                               : RKIN_TAC_OK;
  if (c->status == RKIN_TAC_DEGENERATE) c->warn |= RKIN_TAC_W_DEGENERATE;
  to_natural(&fc, best, c->p, G);
  c->chi2 = objective((unsigned)np, best, NULL, &fc);
  for (i = 0; i < d->n; i++) ybar += d->a[i] / (double)d->n;
  for (i = 0; i < d->n; i++) {
    c->resid[i] = d->a[i] - tac_eval(m, c->p, d->t[i], NULL);
    ssr += c->resid[i] * c->resid[i];
    sst += (d->a[i] - ybar) * (d->a[i] - ybar);
  }
  c->r2 = sst > 0 ? 1.0 - ssr / sst : NAN;
  c->k = np + scale_est;
  for (k = 0; k < np; k++)
    if (c->fixed & (1u << k)) c->k--;
  c->tia = tac_integral_from(m, c->p, 0.0, NULL);
  c->tail_share = tac_integral_from(m, c->p, d->t[d->n - 1], NULL) / c->tia;
  info_criteria(c, w, d->n, scale_est);
  uncertainty(c, &fc, o->level > 0 && o->level < 1 ? o->level : 0.95,
              scale_est);
}
