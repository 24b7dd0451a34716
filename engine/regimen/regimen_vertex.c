/* regimen_vertex.c - the optimiser's shortcut on the augmented route: the
 * front-loaded vertex plan, certified, instead of a multi-start search.
 *
 * Why it is usually the optimum: every cumulative dose and BED grows with
 * each activity, and on models where a cycle's tumour BED is convex and
 * an organ's dose per GBq does not grow with the activity (saturable
 * uptake), concentrating activity pays; the optimum then gives as many
 * cycles at max_gbq as the limits allow and one partial cycle x on the
 * binding limit. Cycle c's state depends on a_1..a_c only, so the K - 1
 * full cycles are solved once (shared by every K) and x is found by
 * Newton steps on the last cycle alone, with its exact derivative from a
 * one-direction forward sensitivity.
 *
 * The plan is accepted only with a certificate, else the caller runs the
 * full search (regimen_opt.c):
 * - KKT at the vertex: one limit binds, the others are slack, the partial
 *   cycle lies strictly inside [lo, max], and for every full cycle the
 *   reduced gradient dT/da - lambda dg/da (lambda = T'(x) / g'(x) from the
 *   partial cycle) is positive with a margin that covers the carry-over
 *   between cycles (the full cycles' slopes are cycle 1's, exact from its
 *   sensitivity; later full cycles differ from it by the carry-over only,
 *   whose size rho is measured as the relative difference of cycle 2 and
 *   cycle 1 at the same activity).
 * - No other plan length, no other local optimum of this length and no
 *   caller's start does better on a surrogate: every cycle as a cycle from
 *   the empty state, its doses and BEDs cubic Hermite in the activity
 *   through the three solved activities lo, x and max (values and
 *   sensitivities), searched by SLSQP for every K from a uniform and a
 *   front-loaded start (the built-in rules' plans, which cost cycle
 *   solves, are first decided on the surrogate itself and made on the
 *   truth only when they come within RULE_SAFE). A rival within the
 *   margin sends the patient to the full search of the rival lengths
 *   only, which must beat the vertex plan; each of those starts from the
 *   surrogate's optimum of its length (warm), not from the cold uniform
 *   and front-loaded plans.
 * The full search remains for any model where this structure fails (e.g.
 * a saturable tumour, where spreading activity pays, or cycles so close
 * that one carries into the next). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <nlopt.h>

#include "regimen/regimen_impl.h"

/* Relative margin of the certificate: carry-over and the surrogate's
 * interpolation must stay well inside it (MARGIN_RHO times rho). */
#define MARGIN_MIN 1e-3
#define MARGIN_RHO 50.0
/* How near a rule's plan decided on the surrogate may come to the vertex
 * plan's threshold before its plan on the truth is made: the surrogate's
 * interpolation moves the rules' decisions (PP-PRRT's dose per GBq),
 * their objective by up to 6 % in 3,000 bench patients. */
#define RULE_SAFE 0.1

/* One node of the surrogate: a cycle's doses and BEDs (nr each) and their
 * derivatives by its activity, at activity a (GBq). */
typedef struct {
  double a;
  double *d, *b, *gd, *gb;
} vx_node;

typedef struct {
  rg_ws *ws;
  size_t i, n, nr, m, nl;
  const rkin_regimen_rule *u;
  double lo, hi, zs, slack;
  double *sc;             /* rg_cycle_aug_sens scratch (one direction) */
  vx_node nd[3];          /* lo, x, hi */
  const vx_node *ps[3];   /* the surrogate's nodes in order (nn) */
  size_t nn;
  /* surrogate search */
  size_t k;               /* its plan length */
  double *cd, *cb;        /* nr cumulative values, surrogate */
  double *gdd, *gbd;      /* nr x k derivatives, surrogate */
} vx_ctx;

/* The limited value (regimen_opt.c value_of) and its derivative along
 * a direction with dose derivative dd and BED derivative db. */
static double lim_value(const vx_ctx *v, int bed, double d, double b)
{
  if (!(v->zs > 0)) return bed ? b : d;
  return bed ? b + v->zs * (2 * b - d) : d * (1 + v->zs);
}

static double lim_deriv(const vx_ctx *v, int bed, double dd, double db)
{
  if (!(v->zs > 0)) return bed ? db : dd;
  return bed ? db * (1 + 2 * v->zs) - v->zs * dd : dd * (1 + v->zs);
}

static double target(const vx_ctx *v, size_t j)
{
  return v->u->limits[j].limit_gy * (1 + v->slack);
}

/* phi_j = limited value - target for cumulative cd, cb; the largest. */
static double worst_phi(const vx_ctx *v, const double *cd, const double *cb,
                        double *phi)
{
  double w = -HUGE_VAL;
  size_t j;
  for (j = 0; j < v->nl; j++) {
    const rkin_regimen_limit *l = &v->u->limits[j];
    phi[j] = lim_value(v, l->bed, cd[l->region], cb[l->region])
             - target(v, j);
    if (phi[j] > w) w = phi[j];
  }
  return w;
}

/* Cubic Hermite through the nodes (ps, by activity): value and derivative
 * of region q's per-cycle dose (bed 0) or BED (bed 1) at activity a. */
static void hermite(const vx_ctx *v, double a, int bed, size_t q,
                    double *val, double *der)
{
  size_t s = 0;
  const vx_node *p, *r;
  while (s + 2 < v->nn && a > v->ps[s + 1]->a) s++;
  p = v->ps[s];
  r = v->ps[s + 1];
  double h = r->a - p->a, t = (a - p->a) / h;
  double y0 = bed ? p->b[q] : p->d[q], y1 = bed ? r->b[q] : r->d[q];
  double m0 = (bed ? p->gb[q] : p->gd[q]) * h;
  double m1 = (bed ? r->gb[q] : r->gd[q]) * h;
  double t2 = t * t, t3 = t2 * t;
  *val = (2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + t) * m0
         + (-2 * t3 + 3 * t2) * y1 + (t3 - t2) * m1;
  *der = ((6 * t2 - 6 * t) * y0 + (3 * t2 - 4 * t + 1) * m0
          + (-6 * t2 + 6 * t) * y1 + (3 * t2 - 2 * t) * m1) / h;
}

/* Surrogate cumulative values of a plan x (k cycles) and derivatives. */
static void sur_eval(vx_ctx *v, const double *x)
{
  size_t q, c, k = v->k;
  for (q = 0; q < v->nr; q++) {
    v->cd[q] = v->cb[q] = 0;
    for (c = 0; c < k; c++) {
      double val, der;
      hermite(v, x[c], 0, q, &val, &der);
      v->cd[q] += val;
      v->gdd[q * k + c] = der;
      hermite(v, x[c], 1, q, &val, &der);
      v->cb[q] += val;
      v->gbd[q * k + c] = der;
    }
  }
}

static double sur_obj(unsigned k, const double *x, double *grad, void *d)
{
  vx_ctx *v = d;
  size_t o = v->u->objective;
  sur_eval(v, x);
  if (grad) memcpy(grad, v->gbd + o * k, k * sizeof *grad);
  return v->cb[o];
}

typedef struct {
  vx_ctx *v;
  size_t j;
} vx_con;

static double sur_con(unsigned k, const double *x, double *grad, void *d)
{
  vx_con *cc = d;
  vx_ctx *v = cc->v;
  const rkin_regimen_limit *l = &v->u->limits[cc->j];
  size_t q = l->region, c;
  sur_eval(v, x);
  if (grad)
    for (c = 0; c < k; c++)
      grad[c] = lim_deriv(v, l->bed, v->gdd[q * k + c], v->gbd[q * k + c]);
  return lim_value(v, l->bed, v->cd[q], v->cb[q]) - target(v, cc->j);
}

/* Surrogate: every limit holds at x (k cycles). */
static int sur_feasible(vx_ctx *v, const double *x)
{
  double phi[16];
  size_t j;
  sur_eval(v, x);
  worst_phi(v, v->cd, v->cb, phi);
  for (j = 0; j < v->nl; j++)
    if (phi[j] > 1e-9 * v->u->limits[j].limit_gy) return 0;
  return 1;
}

/* Largest value in [v->lo, v->hi] of x[c] keeping x feasible (x[c] = lo
 * feasible on entry), by bisection: the surrogate is cheap. */
static void sur_raise(vx_ctx *v, double *x, size_t c)
{
  double lo = v->lo, hi = v->hi;
  size_t it;
  x[c] = hi;
  if (sur_feasible(v, x)) return;
  for (it = 0; it < 60; it++) {
    x[c] = 0.5 * (lo + hi);
    if (sur_feasible(v, x)) lo = x[c];
    else hi = x[c];
  }
  x[c] = lo;
}

/* The best surrogate objective over k-cycle plans (-HUGE_VAL: none is
 * feasible): SLSQP from a uniform and a front-loaded plan on the limits.
 * xb (k, may be NULL) receives the plan that gives it. */
static double sur_best(vx_ctx *v, size_t k, double *xb)
{
  double best = -HUGE_VAL, x[64], lb[64], ub[64];
  vx_con cc[16];
  size_t c, s, j;
  v->k = k;
  for (c = 0; c < k; c++) x[c] = v->lo;
  if (!sur_feasible(v, x)) return best;
  for (s = 0; s < 2; s++) {
    nlopt_opt opt;
    double f, lo = v->lo, hi = v->hi;
    size_t it;
    if (s == 0) {   /* uniform, as high as the limits allow */
      for (it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        for (c = 0; c < k; c++) x[c] = mid;
        if (sur_feasible(v, x)) lo = mid;
        else hi = mid;
      }
      for (c = 0; c < k; c++) x[c] = lo;
    } else {        /* front-loaded: each in turn as high as allowed */
      for (c = 0; c < k; c++) x[c] = v->lo;
      for (c = 0; c < k; c++) sur_raise(v, x, c);
    }
    sur_eval(v, x);
    if (v->cb[v->u->objective] > best) {
      best = v->cb[v->u->objective];
      if (xb) memcpy(xb, x, k * sizeof *xb);
    }
    if (!(opt = nlopt_create(NLOPT_LD_SLSQP, (unsigned)k))) continue;
    for (c = 0; c < k; c++) {
      lb[c] = v->lo;
      ub[c] = v->hi;
    }
    nlopt_set_lower_bounds(opt, lb);
    nlopt_set_upper_bounds(opt, ub);
    nlopt_set_max_objective(opt, sur_obj, v);
    for (j = 0; j < v->nl; j++) {
      cc[j].v = v;
      cc[j].j = j;
      nlopt_add_inequality_constraint(opt, sur_con, &cc[j],
                                      1e-10 * v->u->limits[j].limit_gy);
    }
    nlopt_set_xtol_rel(opt, 1e-10);
    nlopt_set_ftol_rel(opt, 1e-12);
    nlopt_set_maxeval(opt, 200);
    nlopt_optimize(opt, x, &f);
    nlopt_destroy(opt);
    if (sur_feasible(v, x) && v->cb[v->u->objective] > best) {
      best = v->cb[v->u->objective];
      if (xb) memcpy(xb, x, k * sizeof *xb);
    }
  }
  return best;
}

/* Surrogate objective of a caller's start as the full search takes it
 * (regimen_opt.c candidate): scaled down onto the limits, no activity
 * below lo; -HUGE_VAL when that is impossible. */
static double sur_start(vx_ctx *v, const double *s, size_t k)
{
  double x[64], mn = HUGE_VAL, lo, hi = 1;
  size_t c, it;
  v->k = k;
  for (c = 0; c < k; c++) mn = fmin(mn, s[c]);
  if (sur_feasible(v, s)) return v->cb[v->u->objective];
  lo = v->lo / mn;
  for (c = 0; c < k; c++) x[c] = s[c] * lo;
  if (!sur_feasible(v, x)) return -HUGE_VAL;
  for (it = 0; it < 60; it++) {
    double mid = 0.5 * (lo + hi);
    for (c = 0; c < k; c++) x[c] = s[c] * mid;
    if (sur_feasible(v, x)) lo = mid;
    else hi = mid;
  }
  for (c = 0; c < k; c++) x[c] = s[c] * lo;
  sur_eval(v, x);
  return v->cb[v->u->objective];
}

/* Surrogate objective of a plan as given (no scaling). */
static double sur_plain(vx_ctx *v, const double *x, size_t k)
{
  v->k = k;
  sur_eval(v, x);
  return v->cb[v->u->objective];
}

/* One cycle from state y (in: start, out: end) at a GBq: doses, BEDs and,
 * with sens, their derivatives by a into node. */
static int solve_cycle(vx_ctx *v, double *y, double a, int sens,
                       vx_node *nd, rkin_err *err)
{
  double S[64] = {0}, w = 1;
  nd->a = a;
  if (!sens)
    return rg_cycle(v->ws, v->i, y, 1000 * a, NULL, nd->d, NULL, nd->b, 0,
                    NULL, NULL, err);
  return rg_cycle_aug_sens(v->ws, v->i, y, S, 1000 * a, &w, 1, nd->d, nd->b,
                           nd->gd, nd->gb, v->sc, err);
}

/* A cycle of a rule's plan on the surrogate (from the empty state: no
 * carry-over): doses and BEDs from the nodes, G from BED = D + G D^2 /
 * (a/b). */
static int sur_cycle(void *ctx, double a, double *dose, double *g,
                     double *bed, rkin_err *err)
{
  vx_ctx *v = ctx;
  size_t q;
  (void)err;
  for (q = 0; q < v->nr; q++) {
    double der, ab = v->ws->r->sp.regions[q].lq.ab_gy;
    hermite(v, a, 0, q, &dose[q], &der);
    hermite(v, a, 1, q, &bed[q], &der);
    g[q] = dose[q] > 0 ? (bed[q] - dose[q]) * ab / (dose[q] * dose[q]) : 0;
  }
  return RKIN_OK;
}

/* A caller's start s (ks cycles) on the surrogate as the full search
 * takes it (clamped to [lo, max], scaled onto the limits). */
static double sur_clamped(vx_ctx *v, const double *s, size_t ks)
{
  double plan[64] = {0};
  size_t c;
  for (c = 0; c < ks; c++) plan[c] = fmin(fmax(s[c], v->lo), v->hi);
  return sur_start(v, plan, ks);
}

/* Whether a rule's plan might come above thr on the surrogate: the rules
 * decide on surrogate cycles instead of solved ones, and a plan counts
 * when it comes within RULE_SAFE of thr (a rule that fails there counts
 * too). */
static int rules_near(vx_ctx *v, const rg_starts *st, double thr)
{
  double plan[64];
  size_t j, ks;
  rkin_err e;
  for (j = 0; j < st->n; j++) {
    if (rg_rule_plan_by(v->ws->r, v->i, &st->rules[j], sur_cycle, v, plan,
                        &ks, &e))
      return 1;
    if (ks && sur_clamped(v, plan, ks) > thr * (1 - RULE_SAFE)) return 1;
  }
  return 0;
}

/* Outcome: 1 certified (plan in act, *kk, *obj), 0 not (full search), or
 * a negative code (a solve failed: err). */
static int vertex(vx_ctx *v, rg_starts *st, double *act, size_t *kk,
                  double *obj, uint64_t *search, double *warm,
                  rkin_err *err)
{
  size_t n = v->n, nr = v->nr, m = v->m, nl = v->nl, o = v->u->objective;
  size_t c, q, j, cstar = 0, it, jb = 0, kk2, kc;
  uint64_t rival;
  int corner = 0;
  double *y = calloc(2 * n + 10 * nr, sizeof *y), *y1 = y + n;
  double *cd = y1 + n, *cb = cd + nr, *pd = cb + nr, *pb = pd + nr;
  double *c1d = pb + nr, *c1b = c1d + nr, *c2d = c1b + nr, *c2b = c2d + nr;
  double *tmpd = c2b + nr, *tmpb = tmpd + nr;
  double phi[16], dphi[16], rho = 0, margin, x, xlo = 0, xhi, lam, sbest;
  double scand, plan[64], xc = 0;
  vx_node part;
  int rc = 0;
  if (!y) return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  /* full cycles at max from the empty state until a limit is passed */
  for (c = 0; c < m; c++) {
    vx_node *nd = &v->nd[2];
    double *dd = c == 0 ? nd->d : c2d, *bb = c == 0 ? nd->b : c2b;
    memcpy(pd, cd, nr * sizeof *pd);
    memcpy(pb, cb, nr * sizeof *pb);
    memcpy(y1, y, n * sizeof *y1);
    if (c == 0) {
      if ((rc = solve_cycle(v, y, v->hi, 1, nd, err))) goto done;
    } else {
      vx_node tmp = {v->hi, c2d, c2b, NULL, NULL};
      if ((rc = solve_cycle(v, y, v->hi, 0, &tmp, err))) goto done;
    }
    for (q = 0; q < nr; q++) {
      if (c == 1) {   /* carry-over: cycle 2 against cycle 1 */
        double r1 = fabs(c2d[q] - c1d[q]) / fmax(fabs(c1d[q]), 1e-300);
        double r2 = fabs(c2b[q] - c1b[q]) / fmax(fabs(c1b[q]), 1e-300);
        rho = fmax(rho, fmax(r1, r2));
      }
      cd[q] += dd[q];
      cb[q] += bb[q];
    }
    if (c == 0) {
      memcpy(c1d, nd->d, nr * sizeof *c1d);
      memcpy(c1b, nd->b, nr * sizeof *c1b);
    }
    if (worst_phi(v, cd, cb, phi) > 0) {
      cstar = c + 1;
      break;
    }
  }
  if (cstar == 1) {   /* rho from a second cycle at max all the same */
    vx_node tmp = {v->hi, c2d, c2b, NULL, NULL};
    if ((rc = solve_cycle(v, y, v->hi, 0, &tmp, err))) goto done;
    for (q = 0; q < nr; q++)
      rho = fmax(rho, fmax(fabs(c2d[q] - c1d[q]) / fmax(fabs(c1d[q]), 1e-300),
                           fabs(c2b[q] - c1b[q]) / fmax(fabs(c1b[q]),
                                                        1e-300)));
  }
  if (!cstar) {
    /* every cycle at max is feasible: certified if the objective grows
     * with every activity (cycle 1's slope, a margin for carry-over) */
    margin = fmax(MARGIN_MIN, MARGIN_RHO * rho);
    if (!(v->nd[2].gb[o] > margin * v->nd[2].b[o] / v->hi)) goto done;
    for (c = 0; c < m; c++) act[c] = v->hi;
    *kk = m;
    *obj = cb[o];
    rc = 1;
    goto done;
  }
  /* the partial cycle cstar from y1 (state after cstar - 1 full cycles),
   * prefix sums pd, pb: Newton on the first limit reached, bracketed in
   * [xlo feasible, xhi not] */
  part.d = v->nd[1].d;
  part.b = v->nd[1].b;
  part.gd = v->nd[1].gd;
  part.gb = v->nd[1].gb;
  xhi = v->hi;
  x = v->hi;
  for (j = 0; j < nl; j++) {
    /* the cycle's share F(a) = al a + be a^2: 0 at a = 0, its value F1
     * at max and cycle 1's slope there (scaled by F1 over cycle 1's
     * value, for the carry-over); linear when that has no root */
    const rkin_regimen_limit *l = &v->u->limits[j];
    size_t q = l->region;
    double f0 = lim_value(v, l->bed, pd[q], pb[q]), hi = v->hi;
    double f1 = lim_value(v, l->bed, cd[q], cb[q]), r = target(v, j) - f0;
    double v1 = lim_value(v, l->bed, v->nd[2].d[q], v->nd[2].b[q]);
    double s1 = lim_deriv(v, l->bed, v->nd[2].gd[q], v->nd[2].gb[q]);
    double be, al, disc, xq;
    if (!(f1 > target(v, j) && f1 > f0)) continue;
    s1 *= v1 > 0 ? (f1 - f0) / v1 : 1;
    be = (s1 * hi - (f1 - f0)) / (hi * hi);
    al = (f1 - f0) / hi - be * hi;
    disc = al * al + 4 * be * r;
    xq = al > 0 && disc >= 0 ? 2 * r / (al + sqrt(disc)) : -1;
    x = fmin(x, xq > 0 && xq <= hi ? xq : hi * r / (f1 - f0));
  }
  if (x < v->lo) x = v->lo;
  for (it = 0; it < 40; it++) {
    double worst = -HUGE_VAL, tol = HUGE_VAL, tn = HUGE_VAL;
    memcpy(y, y1, n * sizeof *y);
    if ((rc = solve_cycle(v, y, x, 1, &part, err))) goto done;
    for (q = 0; q < nr; q++) {
      cd[q] = pd[q] + part.d[q];
      cb[q] = pb[q] + part.b[q];
    }
    worst = worst_phi(v, cd, cb, phi);
    for (j = 0; j < nl; j++) tol = fmin(tol, 1e-9 * v->u->limits[j].limit_gy);
    for (j = 0; j < nl; j++) {
      const rkin_regimen_limit *l = &v->u->limits[j];
      double xn;
      dphi[j] = lim_deriv(v, l->bed, part.gd[l->region], part.gb[l->region]);
      /* aimed at the middle of the window [-tol, 0] that ends the search
       * (aimed at its edge, a converged step lands beyond it about half
       * the time and the search creeps) */
      xn = x - (phi[j] + 0.5 * tol) / dphi[j];
      if (dphi[j] > 0 && xn < tn) tn = xn;
    }
    if (worst <= 0) {
      xlo = x;
      if (worst >= -tol) break;
    } else {
      xhi = x;
      if (x <= v->lo) {                /* even lo passes a limit */
        corner = 1;
        break;
      }
    }
    if (xhi - xlo <= 1e-13 * v->hi) break;
    x = tn > xlo && tn < xhi ? tn : 0.5 * (xlo + xhi);
    if (x < v->lo) x = v->lo;
  }
  if (corner) {
    /* no partial cycle fits: the candidate is cstar - 1 cycles at max
     * (the corner of the shorter plans), certified if the objective grows
     * with every activity and the surrogate finds no longer plan near it */
    margin = fmax(MARGIN_MIN, MARGIN_RHO * rho);
    if (cstar < 2 || !(v->nd[2].gb[o] > margin * v->nd[2].b[o] / v->hi))
      goto done;
    kc = cstar - 1;
    memcpy(cd, pd, nr * sizeof *cd);
    memcpy(cb, pb, nr * sizeof *cb);
    goto surrogate;
  }
  if (worst_phi(v, cd, cb, phi) > 0 || x != xlo) goto done;
  /* the plan is scored and checked on what a plain solve (the run's
   * replay) gives at x: its steps differ from the sensitivity solve's at
   * the tolerance, so x is pulled back onto the target if needed */
  for (it = 0;; it++) {
    vx_node pl = {x, tmpd, tmpb, NULL, NULL};
    double wp;
    size_t jw = 0;
    memcpy(y, y1, n * sizeof *y);
    if ((rc = solve_cycle(v, y, x, 0, &pl, err))) goto done;
    for (q = 0; q < nr; q++) {
      cd[q] = pd[q] + tmpd[q];
      cb[q] = pb[q] + tmpb[q];
    }
    wp = worst_phi(v, cd, cb, phi);
    if (wp <= 0) break;
    for (j = 0; j < nl; j++)
      if (phi[j] > phi[jw]) jw = j;
    if (it == 3 || !(dphi[jw] > 0)) goto done;
    x -= 1.01 * wp / dphi[jw];
  }
  /* KKT at the vertex */
  margin = fmax(MARGIN_MIN, MARGIN_RHO * rho);
  if (!(x > v->lo * (1 + margin)) || !(x < v->hi * (1 - margin))) goto done;
  for (j = 0; j < nl; j++)
    if (phi[j] > phi[jb]) jb = j;
  for (j = 0; j < nl; j++)
    if (j != jb && !(phi[j] < -margin * v->u->limits[j].limit_gy)) goto done;
  {
    const rkin_regimen_limit *l = &v->u->limits[jb];
    double gx = lim_deriv(v, l->bed, part.gd[l->region], part.gb[l->region]);
    double gh = lim_deriv(v, l->bed, v->nd[2].gd[l->region],
                          v->nd[2].gb[l->region]);
    double th = v->nd[2].gb[o];
    if (!(gx > 0) || !(part.gb[o] > 0)) goto done;
    lam = part.gb[o] / gx;
    if (cstar > 1 && !(th - lam * gh > margin * th)) goto done;
  }
  kc = cstar;
  xc = x;
surrogate:
  /* the surrogate: nodes lo (solved from the empty state), the partial
   * cycle x (as if from it), max (cycle 1) */
  memset(y, 0, n * sizeof *y);
  if ((rc = solve_cycle(v, y, v->lo, 1, &v->nd[0], err))) goto done;
  v->nd[1].a = x;
  v->nn = 0;
  v->ps[v->nn++] = &v->nd[0];
  if (!corner) v->ps[v->nn++] = &v->nd[1];
  v->ps[v->nn++] = &v->nd[2];
  for (c = 0; c < kc; c++) plan[c] = c + 1 < kc || corner ? v->hi : xc;
  scand = sur_plain(v, plan, kc);
  rival = 0;
  for (kk2 = 1; kk2 <= m; kk2++) {
    sbest = sur_best(v, kk2, warm ? warm + (kk2 - 1) * m : NULL);
    if (sbest > scand * (1 + margin) || (kk2 != kc
                                         && sbest > scand * (1 - margin)))
      rival |= (uint64_t)1 << (kk2 - 1);
  }
  /* the caller's starts; the rules' plans (cycle solves) only when a
   * search needs them or they may come near the vertex plan */
  if (st && st->n
      && (st->made || !st->rules || rival
          || rules_near(v, st, scand * (1 - margin)))) {
    if ((rc = rg_starts_get(v->ws, v->i, st, m, err))) goto done;
    for (c = 0; c < st->n; c++) {
      const double *s = st->plan + c * m;
      size_t ks = 0;
      while (ks < m && s[ks] > 0) ks++;
      if (ks && sur_clamped(v, s, ks) > scand * (1 - margin))
        rival |= (uint64_t)1 << (ks - 1);
    }
  }
  /* the vertex plan, feasible on plain solves: the optimum, or the plan
   * the search of the rival lengths must beat */
  for (c = 0; c < kc; c++) plan[c] = c + 1 < kc || corner ? v->hi : xc;
  memset(act, 0, m * sizeof *act);
  memcpy(act, plan, kc * sizeof *act);
  *kk = kc;
  *obj = cb[o];
  *search = rival;
  rc = !rival;
done:
  free(y);
  return rc;
}

/* v for patient i and rule u, its doubles in *mem (to free); 1 when the
 * shortcut does not apply (no mem), or a negative code. */
static int vx_setup(vx_ctx *v, rg_ws *ws, size_t i,
                    const rkin_regimen_rule *u, double **mem, rkin_err *err)
{
  rkin_regimen *r = ws->r;
  size_t nr = r->nr, s;
  memset(v, 0, sizeof *v);
  *mem = NULL;
  if (u->max_cycles > 64 || u->n_limits > 16 || u->n_limits == 0)
    return 1;
  v->ws = ws;
  v->i = i;
  v->n = r->n;
  v->nr = nr;
  v->m = u->max_cycles;
  v->nl = u->n_limits;
  v->u = u;
  v->lo = fmax(u->min_gbq, u->min_cycle_gbq);
  v->hi = u->max_gbq > 0 ? u->max_gbq : 100.0;
  v->slack = -10 * r->sp.opts.rtol;
  v->zs = u->confidence > 0.5 && u->plan_u_rel > 0
              ? gsl_cdf_ugaussian_Pinv(u->confidence) * u->plan_u_rel
              : 0.0;
  if (!(v->lo > 0) || !(v->lo < v->hi) || r->n > 64) return 1;
  *mem = calloc(14 * nr + 2 * nr * v->m + rg_aug_sens_size(r, 1),
                sizeof **mem);
  if (!*mem) return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  for (s = 0; s < 3; s++) {
    v->nd[s].d = *mem + 4 * nr * s;
    v->nd[s].b = v->nd[s].d + nr;
    v->nd[s].gd = v->nd[s].b + nr;
    v->nd[s].gb = v->nd[s].gd + nr;
  }
  v->cd = *mem + 12 * nr;
  v->cb = v->cd + nr;
  v->gdd = v->cb + nr;
  v->gbd = v->gdd + nr * v->m;
  v->sc = v->gbd + nr * v->m;
  return 0;
}

int rg_opt_vertex(rg_ws *ws, size_t i, const rkin_regimen_rule *u,
                  rg_starts *st, double *act, size_t *kk, double *obj,
                  uint64_t *search, double *warm, rkin_err *err)
{
  vx_ctx v;
  double *mem;
  int rc;
  *search = u->max_cycles >= 64 ? ~(uint64_t)0
            : ((uint64_t)1 << u->max_cycles) - 1;
  *kk = 0;
  if ((rc = vx_setup(&v, ws, i, u, &mem, err))) return rc > 0 ? 0 : rc;
  if (warm) memset(warm, 0, v.m * v.m * sizeof *warm);
  rc = vertex(&v, st, act, kk, obj, search, warm, err);
  free(mem);
  if (rc == 1) ws->n_vertex++;
  else if (!rc && *kk) ws->n_vertex_partial++;
  return rc;
}

/* rg_vertex_rule_plan's cycles: sur_cycle, each cycle's values kept. */
typedef struct {
  vx_ctx *v;
  double *d, *g, *b;
  size_t c;
} vx_rec;

static int rec_cycle(void *ctx, double a, double *dose, double *g,
                     double *bed, rkin_err *err)
{
  vx_rec *x = ctx;
  size_t nr = x->v->nr;
  int rc = sur_cycle(x->v, a, dose, g, bed, err);
  memcpy(x->d + x->c * nr, dose, nr * sizeof *dose);
  memcpy(x->g + x->c * nr, g, nr * sizeof *g);
  memcpy(x->b + x->c * nr, bed, nr * sizeof *bed);
  x->c++;
  return rc;
}

int rg_vertex_rule_plan(rg_ws *ws, size_t i, const rkin_regimen_rule *u,
                        double x, const rkin_regimen_rule *rule,
                        double *act, size_t *k, double *dose, double *g,
                        double *bed, rkin_err *err)
{
  vx_ctx v;
  vx_rec rec;
  double *mem, *y;
  size_t s;
  int rc;
  *k = 0;
  if ((rc = vx_setup(&v, ws, i, u, &mem, err)))
    return rc > 0 ? rkin_err_set(err, RKIN_EINVAL, "regimen: the vertex "
                                 "shortcut does not apply to this rule")
                  : rc;
  if (!(y = calloc(v.n, sizeof *y))) {
    free(mem);
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  }
  /* nodes lo, x (when inside), max, each from the empty state */
  v.nn = 0;
  for (s = 0; s < 3 && !rc; s++) {
    double a = s == 0 ? v.lo : s == 1 ? x : v.hi;
    if (s == 1 && !(x > v.lo && x < v.hi)) continue;
    memset(y, 0, v.n * sizeof *y);
    rc = solve_cycle(&v, y, a, 1, &v.nd[s], err);
    v.ps[v.nn++] = &v.nd[s];
  }
  rec = (vx_rec){&v, dose, g, bed, 0};
  if (!rc)
    rc = rg_rule_plan_by(ws->r, i, rule, rec_cycle, &rec, act, k, err);
  free(y);
  free(mem);
  return rc;
}
