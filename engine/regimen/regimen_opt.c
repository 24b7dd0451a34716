/* regimen_opt.c - per-patient activity optimisation (NLopt): the
 * activities a_1..a_K maximising the cumulative BED of one region subject
 * to cumulative dose / BED limits of others, each a_c in [min, max].
 *
 * Eigen route: the state after cycle c's administration is
 * y0_c = sum_{k<=c} a_k v_{c-k}, v_m = Phi^m e (e the injection column,
 * MBq per GBq), so each cycle's D = tau . y0_c is linear and its
 * I = y0_c' W y0_c quadratic in the activities; BED = D + 2 I / (a/b).
 * Exact gradients, SLSQP. Augmented route (any model, e.g. saturable
 * uptake): each evaluation solves the K cycles with CVODES forward
 * sensitivities by the K activities (rg_cycle_aug_sens), so the
 * cumulative doses and BEDs come with exact gradients: SLSQP, and the
 * line searches onto the limits take safeguarded Newton steps. COBYLA
 * without gradients (rule->optimiser RKIN_OPT_COBYLA) remains available.
 *
 * Maximising a convex function is not a convex problem: local searches
 * start from a uniform plan scaled onto the limits, a front-loaded plan,
 * and the caller's plans (the built-in rules'); every candidate is made
 * feasible by scaling down and the best feasible one is kept, so the
 * result is never worse than a feasible start. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <nlopt.h>

#include "regimen/regimen_impl.h"

/* Relative slack allowed on a limit by the final feasibility test: the
 * plan returned satisfies every limit to this rounding level. */
#define FEAS_REL 1e-12

/* An activity within this relative distance of a bound is on it; a limit
 * within it of its target binds (kkt_vertex, the warm starts). */
#define BOUND_REL 1e-6
/* Relative margin of kkt_vertex's strict inequalities: far above the
 * sensitivities' error (the solver's rtol). */
#define KKT_MARGIN 1e-3

/* What an evaluation on the augmented route must give: values only, the
 * derivative along a line's direction (one sensitivity), or the gradient
 * (one sensitivity per cycle). */
enum { NEED_VAL, NEED_DIR, NEED_FULL, NEED_N };

/* The cycle states of the last plan evaluated for one need: after j
 * cycles (j = 0..k) the states, their sensitivities, the cumulative doses
 * and BEDs and their derivatives, so a plan that differs from it only
 * from cycle j on (a line search moving the later cycles) restarts there. */
typedef struct {
  size_t nd;          /* directions: 0, 1 or k */
  size_t kk;          /* the k it was made for (NEED_DIR, NEED_FULL) */
  size_t nvalid;      /* cycles of x evaluated */
  double *x, *dir;    /* the plan, the line's direction (NEED_DIR) */
  double *y, *S, *cd, *cb, *gd, *gb;   /* (k + 1) boundaries */
  rkin_mevcarry **ev; /* (k + 1) boundaries: the model's events (triggers,
                         pending executions with their sensitivities), as
                         the plain cycles carry them; NULL without events */
} pcache;

typedef struct {
  rg_ws *ws;
  size_t i, k, n, nr;
  const rkin_regimen_rule *u;
  int linear;
  int grad;           /* augmented route with sensitivity gradients */
  double *v;          /* k x n (linear) */
  pcache pc[NEED_N]; /* augmented route with gradients */
  double *sc;         /* rg_cycle_aug_sens scratch */
  double *w;          /* k: one cycle's activity along the directions */
  double *cd, *cb, *cgd, *cgb;  /* one cycle's doses, BEDs (nr), their
                                   derivatives (nr x k) */
  double *gdd, *gbd;  /* nr: derivatives along a line (NEED_DIR) */
  double *y0, *z;     /* k x n each (linear) */
  double *cum_d, *cum_b;       /* nr */
  double *gd, *gb;             /* nr x k */
  double *xlast;               /* k */
  rkin_mevcarry *ev;           /* eval_aug's events (NULL: none) */
  double slack;                /* relative allowance on a limit */
  double lo;                   /* smallest activity of a given cycle:
                                  max(min_gbq, min_cycle_gbq) */
  double zs;                   /* z x plan_u_rel: a limit holds the upper
                                  bound (rule confidence); 0: the value */
  int valid, code;
  rkin_err err;
} opt_ctx;

static void eval_linear(opt_ctx *o, const double *x)
{
  rkin_regimen *r = o->ws->r;
  size_t n = o->n, k = o->k, c, j, l, q, m;
  const double *kern = r->kern + o->i * r->stride, *phi = kern;
  for (c = 0; c < k; c++) {
    double *y = o->y0 + c * n;
    for (j = 0; j < n; j++) {
      double acc = 0;
      if (c)
        for (l = 0; l < n; l++) acc += phi[j * n + l] * o->y0[(c - 1) * n + l];
      y[j] = acc + x[c] * o->v[j];
    }
  }
  for (q = 0; q < o->nr; q++) {
    const double *tau = kern + n * n + q * (n + n * n), *w = tau + n;
    double ab = r->sp.regions[q].lq.ab_gy, d = 0, in = 0;
    double *gd = o->gd + q * k, *gb = o->gb + q * k;
    memset(gd, 0, k * sizeof *gd);
    memset(gb, 0, k * sizeof *gb);
    for (c = 0; c < k; c++) {
      const double *y = o->y0 + c * n;
      double *z = o->z + c * n;
      for (j = 0; j < n; j++) {
        double acc = 0;
        for (l = 0; l < n; l++) acc += w[j * n + l] * y[l];
        z[j] = acc;
        d += tau[j] * y[j];
        in += y[j] * acc;
      }
      for (m = 0; m <= c; m++) {     /* d y0_c / d a_m = v_{c-m} */
        const double *vv = o->v + (c - m) * n;
        double td = 0, tz = 0;
        for (j = 0; j < n; j++) {
          td += tau[j] * vv[j];
          tz += z[j] * vv[j];
        }
        gd[m] += td;
        gb[m] += td + 4 * tz / ab;
      }
    }
    o->cum_d[q] = d;
    o->cum_b[q] = d + 2 * in / ab;
  }
}

static void eval_aug(opt_ctx *o, const double *x)
{
  rkin_regimen *r = o->ws->r;
  size_t c, q, nr = o->nr;
  double *y = o->y0, *dose = o->z, *bed = dose + nr;
  memset(y, 0, o->n * sizeof *y);
  memset(o->cum_d, 0, nr * sizeof *o->cum_d);
  memset(o->cum_b, 0, nr * sizeof *o->cum_b);
  /* the plan starts afresh; its events go on from cycle to cycle */
  rkin_mevcarry_clear(o->ev);
  o->ws->carry = o->ev;
  for (c = 0; c < o->k && !o->code; c++) {
    int rc = rg_cycle(o->ws, o->i, y, 1000 * x[c], NULL, dose, NULL, bed, 0,
                      NULL, NULL, &o->err);
    if (rc) {
      o->code = rc;
      break;
    }
    for (q = 0; q < nr; q++) {
      o->cum_d[q] += dose[q];
      o->cum_b[q] += bed[q];
    }
  }
  o->ws->carry = NULL;
  (void)r;
}

/* Boundary j of a cache: pointers to its arrays. */
typedef struct {
  double *y, *S, *cd, *cb, *gd, *gb;
} bnd;

static bnd boundary(const opt_ctx *o, const pcache *pc, size_t j)
{
  size_t n = o->n, nr = o->nr, nd = pc->nd;
  bnd b;
  b.y = pc->y + j * n;
  b.S = pc->S + j * n * nd;
  b.cd = pc->cd + j * nr;
  b.cb = pc->cb + j * nr;
  b.gd = pc->gd + j * nr * nd;
  b.gb = pc->gb + j * nr * nd;
  return b;
}

/* Evaluates cycles j0..k-1 of x into pc (need: what it carries). */
static void cache_run(opt_ctx *o, pcache *pc, const double *x, int need,
                      const double *dir)
{
  size_t k = o->k, n = o->n, nr = o->nr, nd, j0 = 0, c, q, m;
  nd = need == NEED_FULL ? k : need == NEED_DIR ? 1 : 0;
  if (pc->nd != nd || (need != NEED_VAL && pc->kk != k)
      || (need == NEED_DIR && memcmp(dir, pc->dir, k * sizeof *dir))) {
    pc->nvalid = 0;
    pc->nd = nd;
    pc->kk = k;
    if (need == NEED_DIR) memcpy(pc->dir, dir, k * sizeof *dir);
  }
  while (j0 < pc->nvalid && j0 < k && x[j0] == pc->x[j0]) j0++;
  if (j0 == 0) {
    bnd b0 = boundary(o, pc, 0);
    memset(b0.y, 0, n * sizeof *b0.y);
    memset(b0.S, 0, n * nd * sizeof *b0.S);
    memset(b0.cd, 0, nr * sizeof *b0.cd);
    memset(b0.cb, 0, nr * sizeof *b0.cb);
    memset(b0.gd, 0, nr * nd * sizeof *b0.gd);
    memset(b0.gb, 0, nr * nd * sizeof *b0.gb);
  }
  if (j0 < k) pc->nvalid = j0;
  if (j0 == 0 && pc->ev) rkin_mevcarry_clear(pc->ev[0]);
  for (c = j0; c < k && !o->code; c++) {
    bnd a = boundary(o, pc, c), b = boundary(o, pc, c + 1);
    int rc;
    /* the cycle takes up the events from its start boundary and leaves
     * them at its end one */
    if (pc->ev) {
      if ((rc = rkin_mevcarry_copy(pc->ev[c + 1], pc->ev[c],
                                   o->ws->r->aug, &o->err))) {
        o->code = rc;
        break;
      }
      o->ws->carry = pc->ev[c + 1];
    }
    memcpy(b.y, a.y, n * sizeof *b.y);
    memcpy(b.S, a.S, n * nd * sizeof *b.S);
    memcpy(b.cd, a.cd, nr * sizeof *b.cd);
    memcpy(b.cb, a.cb, nr * sizeof *b.cb);
    memcpy(b.gd, a.gd, nr * nd * sizeof *b.gd);
    memcpy(b.gb, a.gb, nr * nd * sizeof *b.gb);
    if (need == NEED_VAL) {
      rc = rg_cycle(o->ws, o->i, b.y, 1000 * x[c], NULL, o->cd, NULL, o->cb,
                    0, NULL, NULL, &o->err);
    } else {
      for (m = 0; m < nd; m++)
        o->w[m] = need == NEED_DIR ? dir[c] : (m == c ? 1.0 : 0.0);
      rc = rg_cycle_aug_sens(o->ws, o->i, b.y, b.S, 1000 * x[c], o->w, nd,
                             o->cd, o->cb, o->cgd, o->cgb, o->sc, &o->err);
    }
    o->ws->carry = NULL;
    if (rc) {
      o->code = rc;
      break;
    }
    for (q = 0; q < nr; q++) {
      b.cd[q] += o->cd[q];
      b.cb[q] += o->cb[q];
      for (m = 0; m < nd; m++) {
        b.gd[q * nd + m] += o->cgd[q * nd + m];
        b.gb[q * nd + m] += o->cgb[q * nd + m];
      }
    }
    pc->x[c] = x[c];
    pc->nvalid = c + 1;
  }
}

/* A cache holding x's first k cycles (and, for a need, what it needs). */
static int cache_hit(const opt_ctx *o, const pcache *pc, const double *x)
{
  return pc->nvalid >= o->k && (pc->nd == 0 || pc->kk == o->k)
         && !memcmp(x, pc->x, o->k * sizeof *x);
}

/* Results of x after k cycles from pc into the context. */
static void cache_load(opt_ctx *o, const pcache *pc, int need)
{
  bnd b = boundary(o, pc, o->k);
  size_t q, k = o->k;
  memcpy(o->cum_d, b.cd, o->nr * sizeof *o->cum_d);
  memcpy(o->cum_b, b.cb, o->nr * sizeof *o->cum_b);
  if (need == NEED_FULL) {
    memcpy(o->gd, b.gd, o->nr * k * sizeof *o->gd);
    memcpy(o->gb, b.gb, o->nr * k * sizeof *o->gb);
  } else if (need == NEED_DIR) {
    for (q = 0; q < o->nr; q++) {
      o->gdd[q] = b.gd[q];
      o->gbd[q] = b.gb[q];
    }
  }
}

/* The augmented route with gradients: x evaluated for `need`, from the
 * cycle where it departs from the last plan evaluated for it; values
 * alone from any cache that holds x. */
static void eval_need(opt_ctx *o, const double *x, int need,
                      const double *dir)
{
  pcache *pc = &o->pc[need];
  if (need == NEED_VAL) {
    int h;
    for (h = NEED_FULL; h >= NEED_VAL; h--)
      if (cache_hit(o, &o->pc[h], x)) {
        cache_load(o, &o->pc[h], NEED_VAL);
        return;
      }
  } else if (cache_hit(o, pc, x) && (need != NEED_DIR
             || !memcmp(dir, pc->dir, o->k * sizeof *dir))) {
    cache_load(o, pc, need);
    return;
  }
  cache_run(o, pc, x, need, dir);
  if (!o->code) cache_load(o, pc, need);
}

static void eval(opt_ctx *o, const double *x)
{
  if (o->valid && !memcmp(x, o->xlast, o->k * sizeof *x)) return;
  if (o->grad) {
    eval_need(o, x, NEED_VAL, NULL);
    return;
  }
  if (o->linear) eval_linear(o, x);
  else eval_aug(o, x);
  memcpy(o->xlast, x, o->k * sizeof *x);
  o->valid = 1;
}

/* The limited value: the cumulative dose or BED, or at a confidence its
 * upper bound under a relative error s shared by every planned dose (all
 * doses scale by one factor f): dD/df = D, dBED/df = D + 4 I / (a/b) =
 * 2 BED - D, so upper = D (1 + z s) or BED + z s (2 BED - D), still linear
 * / quadratic in the activities (GUM eq. 13, correlation 1). */
static double value_of(const opt_ctx *o, size_t q, int bed)
{
  if (!(o->zs > 0)) return bed ? o->cum_b[q] : o->cum_d[q];
  return bed ? o->cum_b[q] + o->zs * (2 * o->cum_b[q] - o->cum_d[q])
             : o->cum_d[q] * (1 + o->zs);
}

static double objective(unsigned k, const double *x, double *grad, void *d)
{
  opt_ctx *o = d;
  /* with or without grad: SLSQP's values must all come from the same
   * solves (with sensitivities), whose steps differ from a plain solve's
   * at the tolerance */
  if (o->grad) eval_need(o, x, NEED_FULL, NULL);
  else eval(o, x);
  if (grad) memcpy(grad, o->gb + o->u->objective * k, k * sizeof *grad);
  return o->code ? 0 : o->cum_b[o->u->objective];
}

typedef struct {
  opt_ctx *o;
  const rkin_regimen_limit *lim;
} con_ctx;

/* The gradient of value_of by the activities (after eval). */
static void value_grad(const opt_ctx *o, size_t q, int bed, double *grad)
{
  const double *gd = o->gd + q * o->k, *gb = o->gb + q * o->k;
  size_t c;
  if (!(o->zs > 0))
    memcpy(grad, bed ? gb : gd, o->k * sizeof *grad);
  else
    for (c = 0; c < o->k; c++)
      grad[c] = bed ? gb[c] * (1 + 2 * o->zs) - o->zs * gd[c]
                    : gd[c] * (1 + o->zs);
}

/* The largest value a limit allows: the limit, less the augmented
 * route's reproducibility margin (slack < 0). */
static double limit_target(const opt_ctx *o, const rkin_regimen_limit *l)
{
  return l->limit_gy * (1 + (o->slack < 0 ? o->slack : 0));
}

static double constraint(unsigned k, const double *x, double *grad, void *d)
{
  con_ctx *cc = d;
  opt_ctx *o = cc->o;
  size_t q = cc->lim->region;
  (void)k;
  /* with or without grad: SLSQP's values must all come from the same
   * solves (with sensitivities), whose steps differ from a plain solve's
   * at the tolerance */
  if (o->grad) eval_need(o, x, NEED_FULL, NULL);
  else eval(o, x);
  if (grad) value_grad(o, q, cc->lim->bed, grad);
  return o->code ? 0 : value_of(o, q, cc->lim->bed)
                       - limit_target(o, cc->lim);
}

static int feasible(opt_ctx *o, const double *x)
{
  size_t j;
  eval(o, x);
  if (o->code) return 0;
  for (j = 0; j < o->u->n_limits; j++) {
    const rkin_regimen_limit *l = &o->u->limits[j];
    if (value_of(o, l->region, l->bed) > l->limit_gy * (1 + o->slack))
      return 0;
  }
  return 1;
}

/* Largest t in [0, 1] with base + t dir feasible (written to xs), or -1
 * when base itself is not; the limits grow with t (activities, doses and
 * BEDs are non-negative and dir >= 0).
 *
 * Eigen route: every cumulative dose is linear and every cumulative BED
 * quadratic in t, so three evaluations give each limit's polynomial and
 * its largest root directly (then a few ulp-level shrinks absorb the
 * rounding). Augmented route: bisection to a relative 1e-9 in t. */
#define LINE_BISECT 30

static void line_point(const opt_ctx *o, const double *base,
                       const double *dir, double t, double *xs)
{
  size_t c;
  for (c = 0; c < o->k; c++) xs[c] = base[c] + t * dir[c];
}

static double quad_root(double c0, double c1, double c2, double lim)
{
  double r = lim - c0, disc;
  if (r <= 0) return 0;
  if (!(c2 > 1e-300 * (c1 > 0 ? c1 : 1))) return c1 > 0 ? r / c1 : HUGE_VAL;
  disc = c1 * c1 + 4 * c2 * r;
  return 2 * r / (c1 + sqrt(disc));      /* the positive root, stably */
}

static double line_exact(opt_ctx *o, const double *base, const double *dir,
                         double *xs)
{
  double f0[16], f1[16], fh[16], t = 1;
  size_t j, nl = o->u->n_limits, it;
  for (j = 0; j < 3; j++) {
    double tt = j == 0 ? 0 : j == 1 ? 1 : 0.5, *f = j == 0 ? f0
                                                 : j == 1 ? f1 : fh;
    size_t l;
    line_point(o, base, dir, tt, xs);
    eval(o, xs);
    for (l = 0; l < nl; l++)
      f[l] = value_of(o, o->u->limits[l].region, o->u->limits[l].bed);
  }
  for (j = 0; j < nl; j++) {
    /* f(t) = c0 + c1 t + c2 t^2 through t = 0, 1/2, 1 */
    double c0 = f0[j], c2 = 2 * (f1[j] - 2 * fh[j] + f0[j]);
    double c1 = f1[j] - f0[j] - c2, r;
    if (c2 < 0) c2 = 0;
    r = quad_root(c0, c1, c2, o->u->limits[j].limit_gy);
    if (r < t) t = r;
  }
  for (it = 0; it < 60; it++) {
    line_point(o, base, dir, t, xs);
    if (feasible(o, xs)) return t;
    t *= 1 - 1e-12 * (double)(1u << (it < 30 ? it : 30));
  }
  return 0;
}

/* Augmented route with gradients: the first t at which a limit is
 * reached, by Newton steps on phi_j(t) = value_j - target_j (dphi_j/dt =
 * grad_j . dir from the sensitivities) kept inside the bracket [lo
 * feasible, hi not], else bisection; stops on a feasible point within
 * 1e-9 of its binding limit. Called with t = 0 feasible, t = 1 not; the
 * steps start from t0 in (0, 1] (a guess near the limit saves steps). */
static double line_newton(opt_ctx *o, const double *base, const double *dir,
                          double *xs, double t0)
{
  double lo = 0, hi = 1, t = t0, tol = HUGE_VAL;
  size_t it, j, nl = o->u->n_limits;
  for (j = 0; j < nl; j++) tol = fmin(tol, 1e-9 * o->u->limits[j].limit_gy);
  for (it = 0; it < 60 && hi - lo > 1e-13; it++) {
    double tn = HUGE_VAL, worst = -HUGE_VAL;
    line_point(o, base, dir, t, xs);
    eval_need(o, xs, NEED_DIR, dir);
    if (o->code) return -1;
    for (j = 0; j < nl; j++) {
      const rkin_regimen_limit *l = &o->u->limits[j];
      size_t q = l->region;
      double phi = value_of(o, q, l->bed) - limit_target(o, l);
      /* d value_of / dt along the line (see value_of) */
      double dd = o->gdd[q], db = o->gbd[q];
      double dphi = !(o->zs > 0) ? (l->bed ? db : dd)
                    : l->bed ? db * (1 + 2 * o->zs) - o->zs * dd
                             : dd * (1 + o->zs);
      if (phi > worst) worst = phi;
      /* aimed at the middle of the window [-tol, 0] (as in
       * regimen_vertex.c) */
      if (dphi > 0 && t - (phi + 0.5 * tol) / dphi < tn)
        tn = t - (phi + 0.5 * tol) / dphi;
    }
    if (worst <= 0) {
      lo = t;
      if (worst >= -tol) break;
    } else {
      hi = t;
    }
    t = tn > lo && tn < hi ? tn : 0.5 * (lo + hi);
  }
  line_point(o, base, dir, lo, xs);
  return lo;
}

/* line_max with the Newton steps from t0 (augmented route with
 * gradients). */
static double line_max_from(opt_ctx *o, const double *base,
                            const double *dir, double *xs, double t0)
{
  double lo = 0, hi = 1;
  size_t it;
  line_point(o, base, dir, 1, xs);
  if (feasible(o, xs)) return 1;
  line_point(o, base, dir, 0, xs);
  if (!feasible(o, xs)) return -1;
  if (o->linear) return line_exact(o, base, dir, xs);
  if (o->grad) return line_newton(o, base, dir, xs, t0);
  for (it = 0; it < LINE_BISECT; it++) {
    double mid = 0.5 * (lo + hi);
    line_point(o, base, dir, mid, xs);
    if (feasible(o, xs)) lo = mid;
    else hi = mid;
  }
  line_point(o, base, dir, lo, xs);
  return lo;
}

static double line_max(opt_ctx *o, const double *base, const double *dir,
                       double *xs)
{
  return line_max_from(o, base, dir, xs, 1.0);
}

/* Largest t in [lo, hi] with x0 * t feasible (x0 scaled into xs), or -1. */
static double scale_onto(opt_ctx *o, const double *x0, double lo, double hi,
                         double *xs)
{
  double base[64], dir[64], t;
  size_t c;
  for (c = 0; c < o->k; c++) {
    base[c] = x0[c] * lo;
    dir[c] = x0[c] * (hi - lo);
  }
  t = line_max(o, base, dir, xs);
  return t < 0 ? -1 : lo + t * (hi - lo);
}

static double amax(const rkin_regimen_rule *u)
{
  return u->max_gbq > 0 ? u->max_gbq : 100.0;
}

/* Makes x feasible by scaling it down, else (a cycle at o->lo, which
 * scaling would take below it) by shrinking its activities above o->lo
 * alike; 0 when neither can. */
static int make_feasible(opt_ctx *o, double *x, double *tmp)
{
  double mn = HUGE_VAL, t, base[64], dir[64];
  size_t c;
  if (feasible(o, x)) return 1;
  for (c = 0; c < o->k; c++)
    if (x[c] > 0 && x[c] < mn) mn = x[c];
  t = scale_onto(o, x, mn < HUGE_VAL && o->lo > 0 ? o->lo / mn : 0.0, 1.0,
                 tmp);
  if (t >= 0) {
    memcpy(x, tmp, o->k * sizeof *x);
    if (feasible(o, x)) return 1;
  }
  if (o->code || !(o->lo > 0)) return 0;
  for (c = 0; c < o->k; c++) {
    base[c] = o->lo;
    dir[c] = fmax(x[c] - o->lo, 0);
  }
  if (line_max(o, base, dir, tmp) < 0) return 0;
  memcpy(x, tmp, o->k * sizeof *x);
  return feasible(o, x);
}

static int local_search(opt_ctx *o, double *x)
{
  nlopt_opt opt = nlopt_create(o->linear || o->grad ? NLOPT_LD_SLSQP
                                                  : NLOPT_LN_COBYLA,
                               (unsigned)o->k);
  double lb[64], ub[64], f;
  con_ctx cc[16];
  size_t c, j;
  nlopt_result res;
  /* With solved values SLSQP cannot resolve the limits and the objective
   * below the solver's own error (its rtol), which a tighter tolerance
   * turns into a "roundoff-limited" stop. */
  double ctol = o->grad ? fmax(1e-10, o->ws->r->sp.opts.rtol) : 1e-10;
  if (!opt) return RKIN_ENOMEM;
  for (c = 0; c < o->k; c++) {
    lb[c] = o->lo;
    ub[c] = amax(o->u);
    if (x[c] < lb[c]) x[c] = lb[c];
    if (x[c] > ub[c]) x[c] = ub[c];
  }
  nlopt_set_lower_bounds(opt, lb);
  nlopt_set_upper_bounds(opt, ub);
  nlopt_set_max_objective(opt, objective, o);
  for (j = 0; j < o->u->n_limits && j < 16; j++) {
    cc[j].o = o;
    cc[j].lim = &o->u->limits[j];
    nlopt_add_inequality_constraint(opt, constraint, &cc[j],
                                    ctol * cc[j].lim->limit_gy);
  }
  nlopt_set_xtol_rel(opt, 1e-10);
  nlopt_set_ftol_rel(opt, o->grad ? 0.1 * ctol : 1e-12);
  nlopt_set_maxeval(opt, o->linear ? 300 : o->grad ? 100 : 150);
  if (!o->linear && !o->grad)
    nlopt_set_initial_step1(opt, 0.1 * amax(o->u));
  res = nlopt_optimize(opt, x, &f);
  nlopt_destroy(opt);
  (void)res;    /* any end point is checked for feasibility by the caller */
  return o->code;
}

typedef struct {
  double *best;        /* max_cycles */
  size_t best_k;
  double best_f;
} best_plan;

/* Scores x as the run will give it: its trailing zero activities are
 * cycles not given, so the plan is scored over the cycles up to its last
 * positive one (a k-cycle evaluation would count the previous cycle's
 * tail over intervals that never come). */
static void keep_if_better(opt_ctx *o, const double *x, best_plan *b)
{
  size_t k = o->k, kt = k;
  while (kt > 0 && !(x[kt - 1] > 0)) kt--;
  if (kt < k) {
    o->k = kt;
    o->valid = 0;
  }
  eval(o, x);
  if (!o->code && o->cum_b[o->u->objective] > b->best_f) {
    b->best_f = o->cum_b[o->u->objective];
    b->best_k = kt;
    memset(b->best, 0, o->u->max_cycles * sizeof *b->best);
    memcpy(b->best, x, kt * sizeof *x);
  }
  if (kt < k) {
    o->k = k;
    o->valid = 0;
  }
}

/* A starting plan x0 of o->k activities, made feasible, is a candidate
 * itself; the best of them (in `lead`) is later polished by one local
 * search. Local searches from every start cost several times more and
 * rarely end elsewhere: the objective and the limits are both convex and
 * increasing in the activities, so the starts lie on the limit surface
 * near the same optimum. */
static void candidate(opt_ctx *o, const double *x0, best_plan *b,
                      best_plan *lead, double *x, double *tmp)
{
  memcpy(x, x0, o->k * sizeof *x);
  if (!make_feasible(o, x, tmp)) return;
  keep_if_better(o, x, b);
  keep_if_better(o, x, lead);
}

static int polish(opt_ctx *o, const best_plan *lead, best_plan *b,
                  double *x, double *tmp)
{
  int rc;
  if (lead->best_f == -HUGE_VAL) return RKIN_OK;
  memcpy(x, lead->best, o->k * sizeof *x);
  if ((rc = local_search(o, x))) return rc;
  if (make_feasible(o, x, tmp)) keep_if_better(o, x, b);
  /* NLopt returns its best point within the constraint tolerance; the
   * last iterate, slightly outside a limit, scaled back onto it may be
   * better still */
  if (o->grad && o->pc[NEED_FULL].nvalid >= o->k
      && o->pc[NEED_FULL].kk == o->k) {
    memcpy(x, o->pc[NEED_FULL].x, o->k * sizeof *x);
    if (make_feasible(o, x, tmp)) keep_if_better(o, x, b);
  }
  return o->code;
}

static int ctx_init(opt_ctx *o, rg_ws *ws, size_t i,
                    const rkin_regimen_rule *u, size_t k)
{
  rkin_regimen *r = ws->r;
  size_t n = r->n, nr = r->nr, m = u->max_cycles, c, j, l;
  memset(o, 0, sizeof *o);
  o->ws = ws;
  o->i = i;
  o->k = k;
  o->n = n;
  o->nr = nr;
  o->u = u;
  o->linear = r->kstatus[i] == 0;
  o->grad = !o->linear && u->optimiser != RKIN_OPT_COBYLA;
  /* A CVODES solution is reproducible only to its tolerance (the run
   * replays the plan with a solver in another state), so on the
   * augmented route the plan keeps clear of each limit by 10 rtol. */
  o->slack = o->linear ? FEAS_REL : -10 * r->sp.opts.rtol;
  o->lo = fmax(u->min_gbq, u->min_cycle_gbq);
  o->zs = u->confidence > 0.5 && u->plan_u_rel > 0
              ? gsl_cdf_ugaussian_Pinv(u->confidence) * u->plan_u_rel
              : 0.0;
  o->v = calloc(m * n, sizeof *o->v);
  o->y0 = calloc(m * n + n, sizeof *o->y0);
  o->z = calloc(m * n + 2 * nr, sizeof *o->z);
  o->cum_d = calloc(2 * nr, sizeof *o->cum_d);
  o->gd = calloc(2 * nr * m, sizeof *o->gd);
  o->xlast = calloc(m, sizeof *o->xlast);
  if (!o->v || !o->y0 || !o->z || !o->cum_d || !o->gd || !o->xlast)
    return RKIN_ENOMEM;
  if (o->grad) {
    int h;
    o->sc = calloc(rg_aug_sens_size(r, k), sizeof *o->sc);
    o->cd = calloc(4 * nr + 2 * nr * k + k, sizeof *o->cd);
    if (!o->sc || !o->cd) return RKIN_ENOMEM;
    o->cb = o->cd + nr;
    o->gdd = o->cb + nr;
    o->gbd = o->gdd + nr;
    o->cgd = o->gbd + nr;
    o->cgb = o->cgd + nr * k;
    o->w = o->cgb + nr * k;
    for (h = 0; h < NEED_N; h++) {
      pcache *pc = &o->pc[h];
      size_t nb = k + 1;
      pc->x = calloc(2 * k + nb * (n + n * k + 2 * nr + 2 * nr * k),
                     sizeof *pc->x);
      if (!pc->x) return RKIN_ENOMEM;
      pc->dir = pc->x + k;
      pc->y = pc->dir + k;
      pc->S = pc->y + nb * n;
      pc->cd = pc->S + nb * n * k;
      pc->cb = pc->cd + nb * nr;
      pc->gd = pc->cb + nb * nr;
      pc->gb = pc->gd + nb * nr * k;
      if (rkin_model_events(r->sp.model)) {
        if (!(pc->ev = calloc(nb, sizeof *pc->ev))) return RKIN_ENOMEM;
        for (c = 0; c < nb; c++)
          if (!(pc->ev[c] = rkin_mevcarry_new())) return RKIN_ENOMEM;
      }
    }
  }
  if (rkin_model_events(r->sp.model) && !(o->ev = rkin_mevcarry_new()))
    return RKIN_ENOMEM;
  o->cum_b = o->cum_d + nr;
  o->gb = o->gd + nr * m;
  if (o->linear) {
    const double *phi = r->kern + i * r->stride;
    o->v[r->sp.inject] = 1000.0;         /* MBq per GBq */
    for (c = 1; c < m; c++)
      for (j = 0; j < n; j++) {
        double acc = 0;
        for (l = 0; l < n; l++) acc += phi[j * n + l] * o->v[(c - 1) * n + l];
        o->v[c * n + j] = acc;
      }
  }
  return RKIN_OK;
}

static void ctx_free(opt_ctx *o)
{
  free(o->v);
  free(o->y0);
  free(o->z);
  free(o->cum_d);
  free(o->gd);
  free(o->xlast);
  free(o->sc);
  free(o->cd);
  int h;
  size_t c;
  for (h = 0; h < NEED_N; h++) {
    for (c = 0; o->pc[h].ev && c <= o->k; c++)
      rkin_mevcarry_free(o->pc[h].ev[c]);
    free(o->pc[h].ev);
    free(o->pc[h].x);
  }
  rkin_mevcarry_free(o->ev);
}

/* x (o->k activities, every limit held) is a vertex where the first-order
 * conditions of a strict local maximum hold: one limit binds, the others
 * are slack by KKT_MARGIN, one activity lies strictly inside its bounds
 * and the others on theirs, and every multiplier is positive by
 * KKT_MARGIN (lambda = dT/dx / dg/dx from the inner activity; a cycle at
 * max needs dT/da - lambda dg/da > 0, one at lo < 0). k active
 * constraints with positive multipliers: no feasible direction improves T
 * to first order, so a local search from x would end at x. Exact
 * gradients from the sensitivities (carry-over included). */
static int kkt_vertex(opt_ctx *o, const double *x)
{
  const rkin_regimen_rule *u = o->u;
  size_t k = o->k, j, c, jb = 0, nb = 0, mi = 0, ni = 0;
  double gt[64], gl[64], hi = amax(u), lam;
  eval_need(o, x, NEED_FULL, NULL);
  if (o->code) return 0;
  for (j = 0; j < u->n_limits; j++) {
    const rkin_regimen_limit *l = &u->limits[j];
    double phi = value_of(o, l->region, l->bed) - limit_target(o, l);
    if (phi >= -BOUND_REL * l->limit_gy) {
      jb = j;
      nb++;
    } else if (!(phi < -KKT_MARGIN * l->limit_gy)) {
      return 0;
    }
  }
  for (c = 0; c < k; c++)
    if (x[c] > o->lo * (1 + BOUND_REL) && x[c] < hi * (1 - BOUND_REL)) {
      mi = c;
      ni++;
    }
  if (nb != 1 || ni != 1) return 0;
  memcpy(gt, o->gb + u->objective * k, k * sizeof *gt);
  value_grad(o, u->limits[jb].region, u->limits[jb].bed, gl);
  if (!(gl[mi] > 0) || !(gt[mi] > 0)) return 0;
  lam = gt[mi] / gl[mi];
  for (c = 0; c < k; c++) {
    double red = gt[c] - lam * gl[c];
    if (c == mi) continue;
    if (x[c] >= hi * (1 - BOUND_REL) ? !(red > KKT_MARGIN * fabs(gt[c]))
                                     : !(red < -KKT_MARGIN * fabs(gt[c])))
      return 0;
  }
  return 1;
}

/* Cycles a start plan holds (its leading positive activities). */
static size_t start_cycles(const double *s, size_t m)
{
  size_t k = 0;
  while (k < m && s[k] > 0) k++;
  return k;
}

/* Every start for k cycles: uniform, front-loaded, the caller's. With a
 * warm plan (k activities: the vertex shortcut's surrogate optimum of this
 * length, regimen_vertex.c) it stands for the first two, the starts its
 * surrogate search began from: the local search then starts near the
 * optimum, and the front-loaded start's k line searches are saved (when
 * it cannot be made feasible, the two starts after all). When that start
 * stays the best and is a strict local maximum (kkt_vertex), the local
 * search is not run. */
static int try_k(opt_ctx *o, const rg_starts *st, const double *warm, best_plan *b, double *x, double *x0,
                 double *tmp)
{
  const rkin_regimen_rule *u = o->u;
  size_t k = o->k, m = u->max_cycles, c, s;
  double hi = amax(u), lead_plan[64], dir[64];
  best_plan lead = {lead_plan, 0, -HUGE_VAL};
  double warm_f = -HUGE_VAL;
  int pass, at_vertex = 0;
  /* onto the limits: first only its activities strictly between the
   * bounds shrink (cycles at max and at lo stay, so a vertex stays one),
   * else every activity above lo alike (a plain scaling could not keep a
   * cycle at lo) */
  for (pass = 0; warm && pass < 2 && lead.best_f == -HUGE_VAL; pass++) {
    double dmax = 0;
    for (c = 0; c < k; c++) {
      int at_lo = warm[c] <= o->lo * (1 + BOUND_REL);
      int at_hi = warm[c] >= hi * (1 - BOUND_REL);
      int fixed = pass == 0 && (at_lo || at_hi);
      x[c] = fixed && at_hi ? hi : o->lo;
      dir[c] = fixed ? 0 : warm[c] - o->lo;
      dmax = fmax(dmax, dir[c]);
    }
    /* the ray goes on to max: the surrogate's plan may stop short of the
     * limit that binds on the solved model; the search starts from the
     * warm plan itself, near that limit */
    for (c = 0; c < k && dmax > 0; c++) dir[c] *= (hi - o->lo) / dmax;
    if (line_max_from(o, x, dir, x0, dmax > 0 ? dmax / (hi - o->lo) : 1.0)
        >= 0)
      candidate(o, x0, b, &lead, x, tmp);
    if (o->code) return o->code;
  }
  if (warm && lead.best_f > -HUGE_VAL) {
    o->ws->n_warm++;
    warm_f = lead.best_f;
    at_vertex = kkt_vertex(o, lead.best);
    if (o->code) return o->code;
    goto caller;
  }
  for (c = 0; c < k; c++) x0[c] = 1.0;
  if (scale_onto(o, x0, o->lo, hi, x) >= 0) {
    memcpy(x0, x, k * sizeof *x);
    candidate(o, x0, b, &lead, x, tmp);
  }
  if (o->code) return o->code;
  /* front-loaded: each cycle in turn at max until the limits, the later
   * ones at the smallest given activity */
  for (c = 0; c < k; c++) {
    x0[c] = o->lo;
    dir[c] = 0;
  }
  for (c = 0; c < k; c++) {
    double t;
    dir[c] = hi - o->lo;
    t = line_max(o, x0, dir, x);   /* a_c alone, earlier ones fixed */
    dir[c] = 0;
    if (t < 0) break;
    x0[c] = o->lo + t * (hi - o->lo);
    if (t < 1) break;
  }
  candidate(o, x0, b, &lead, x, tmp);
  if (o->code) return o->code;
caller:
  for (s = 0; st && s < st->n; s++) {
    const double *sp = st->plan + s * m;
    if (start_cycles(sp, m) != k) continue;
    /* a rule's cycle below the smallest given activity is raised to it
     * (and the plan scaled back onto the limits) */
    for (c = 0; c < k; c++) x0[c] = fmax(sp[c], o->lo);
    candidate(o, x0, b, &lead, x, tmp);
    if (o->code) return o->code;
  }
  /* a local search from a strict local maximum stays there */
  if (at_vertex && lead.best_f == warm_f) {
    o->ws->n_kkt++;
    return RKIN_OK;
  }
  return polish(o, &lead, b, x, tmp);
}

int rg_optimise(rg_ws *ws, size_t i, const rkin_regimen_rule *u,
                rg_starts *st, double *act, size_t *kk, double *obj,
                rkin_err *err)
{
  size_t m = u->max_cycles, k;
  best_plan b;
  double *x = calloc(3 * m + m * m, sizeof *x), *x0 = x + m, *tmp = x0 + m;
  double *warm = NULL;   /* the shortcut's surrogate plans, by length */
  uint64_t search = ~(uint64_t)0;   /* plan lengths to search */
  int rc = RKIN_OK;
  if (m > 64 || u->n_limits > 16) {
    free(x);
    return rkin_err_set(err, RKIN_EINVAL, "regimen optimiser: at most 64 "
                        "cycles and 16 limits (got %zu, %zu)", m,
                        u->n_limits);
  }
  b.best = act;
  b.best_k = 0;
  b.best_f = -HUGE_VAL;
  memset(act, 0, m * sizeof *act);
  if (!x) return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  /* (the vertex certificate bounds the carry-over between cycles of a
   * smooth model; a model's events are not covered: the full search) */
  if (ws->r->kstatus[i] != 0 && u->optimiser == RKIN_OPT_GRADIENT
      && !rkin_model_events(ws->r->sp.model)) {
    double f = -HUGE_VAL;
    warm = tmp + m;
    rc = rg_opt_vertex(ws, i, u, st, act, &b.best_k, &f, &search, warm,
                       err);
    if (rc < 0) {
      free(x);
      return rc;
    }
    if (rc == 1) {
      free(x);
      *kk = b.best_k;
      if (obj) *obj = f;
      return RKIN_OK;
    }
    rc = RKIN_OK;
    if (b.best_k) b.best_f = f;   /* the vertex plan to beat */
    else memset(act, 0, m * sizeof *act);
  }
  /* a search takes the starts of its plan lengths */
  if (search && (rc = rg_starts_get(ws, i, st, m, err))) {
    free(x);
    return rc;
  }
  /* Every plan length is searched on its own: a k-cycle search that
   * drives its last activities to 0 ends at a shorter plan that it did
   * not optimise (see keep_if_better). */
  for (k = m; k >= 1 && !rc; k--) {
    opt_ctx o;
    if (!(search >> (k - 1) & 1)) continue;
    if (ctx_init(&o, ws, i, u, k)) {
      rc = rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
    } else if ((rc = try_k(&o, st, warm && warm[(k - 1) * m] > 0
                                   ? warm + (k - 1) * m : NULL,
                           &b, x, x0, tmp))) {
      *err = o.err;
    }
    ctx_free(&o);
  }
  free(x);
  if (rc) return rc;
  /* A plan's trailing zero activities are cycles not given. */
  while (b.best_k > 0 && !(act[b.best_k - 1] > 0)) b.best_k--;
  *kk = b.best_k;
  if (obj) *obj = b.best_k ? b.best_f : 0;
  return RKIN_OK;
}

int rkin_regimen_optimise(rkin_regimen *r, size_t patient,
                          const rkin_regimen_rule *rule, size_t n_starts,
                          const double *starts, double *act_gbq,
                          size_t *n_cycles, double *obj_bed, rkin_err *err)
{
  rg_ws ws;
  rkin_regimen_rule u;
  rg_starts st = {n_starts, (double *)starts, NULL, 1};
  int rc;
  if (!rule) return rkin_err_set(err, RKIN_EINVAL, "regimen: no rule");
  u = *rule;
  u.kind = RKIN_RULE_OPTIMISED;
  if ((rc = rg_rule_check(r, &u, err))) return rc;
  if (patient >= r->sp.n_patients)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: patient %zu is out of "
                        "range (the cohort has %zu patients)", patient + 1,
                        r->sp.n_patients);
  if (r->kstatus[patient] < 0)
    return rkin_err_set(err, r->kstatus[patient], "%s", r->kmsg[patient]);
  if ((rc = rg_ws_init(&ws, r, err))) return rc;
  rc = rg_optimise(&ws, patient, &u, &st, act_gbq, n_cycles, obj_bed, err);
  rg_ws_clear(&ws);
  return rc;
}

int rkin_regimen_evaluate(rkin_regimen *r, size_t patient, size_t k,
                          const double *act_gbq, double *cum_dose_gy,
                          double *cum_bed_gy, rkin_err *err)
{
  rg_ws ws;
  size_t nr = r->nr, c, q;
  double *y, *dose, *bed;
  int rc = RKIN_OK;
  if (patient >= r->sp.n_patients)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: patient %zu is out of "
                        "range (the cohort has %zu patients)", patient + 1,
                        r->sp.n_patients);
  if (r->kstatus[patient] < 0)
    return rkin_err_set(err, r->kstatus[patient], "%s", r->kmsg[patient]);
  if ((rc = rg_ws_init(&ws, r, err))) return rc;
  /* the model's events go on from cycle to cycle */
  if (rkin_model_events(r->sp.model) && !(ws.carry = rkin_mevcarry_new())) {
    rg_ws_clear(&ws);
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  }
  y = ws.aux;
  dose = y + r->n;
  bed = dose + nr;
  memset(y, 0, r->n * sizeof *y);
  if (cum_dose_gy) memset(cum_dose_gy, 0, nr * sizeof *cum_dose_gy);
  if (cum_bed_gy) memset(cum_bed_gy, 0, nr * sizeof *cum_bed_gy);
  for (c = 0; c < k && !rc; c++) {
    if (!isfinite(act_gbq[c]) || act_gbq[c] < 0) {
      rc = rkin_err_set(err, RKIN_EINVAL, "regimen: activity of cycle %zu "
                        "is %g GBq", c + 1, act_gbq[c]);
      break;
    }
    rc = rg_cycle(&ws, patient, y, 1000 * act_gbq[c], NULL, dose, NULL, bed,
                  0, NULL, NULL, err);
    for (q = 0; q < nr && !rc; q++) {
      if (cum_dose_gy) cum_dose_gy[q] += dose[q];
      if (cum_bed_gy) cum_bed_gy[q] += bed[q];
    }
  }
  rkin_mevcarry_free(ws.carry);
  ws.carry = NULL;
  rg_ws_clear(&ws);
  return rc;
}
