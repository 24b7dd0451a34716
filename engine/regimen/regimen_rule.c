/* regimen_rule.c - the built-in rules (empiric, PP-PRRT, ILUMINET) as
 * decisions on what is known after each cycle, their checks, and the plan
 * a rule gives when it decides from the truth (starting points for the
 * optimiser). docs/sources.md ("Regimens") describes the trials they
 * imitate (ILUMINET NCT01456078, PP-PRRT NCT02754297). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "regimen/regimen_impl.h"
#include "uncert/uncert.h"

/* Larger values are taken as a unit mistake (MBq for GBq, cGy for Gy). */
#define MAX_GBQ 100.0
#define MAX_LIMIT_GY 200.0

void rkin_regimen_rule_default(rkin_regimen_rule *rule)
{
  memset(rule, 0, sizeof *rule);
  rule->kind = RKIN_RULE_EMPIRIC;
  rule->max_cycles = 4;
  rule->activity_gbq = 7.4;
  rule->n_cycles = 4;
  rule->reduce_last = 1;
  rule->min_cycle_gbq = 1.0;
}

static int check_gbq(double v, const char *what, int zero_ok, rkin_err *err)
{
  if (!isfinite(v) || v < 0 || (!zero_ok && v == 0))
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: %s must be a "
                        "finite number %s 0 GBq (got %g)", what,
                        zero_ok ? ">=" : ">", v);
  if (v > MAX_GBQ)
    return rkin_err_set(err, RKIN_ERANGE, "regimen rule: %s = %g GBq is "
                        "implausible; activities are in GBq (7.4, not "
                        "7400)", what, v);
  return RKIN_OK;
}

static int check_gy(double v, const char *what, rkin_err *err)
{
  if (!isfinite(v) || v <= 0)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: %s must be a "
                        "finite number > 0 Gy (got %g)", what, v);
  if (v > MAX_LIMIT_GY)
    return rkin_err_set(err, RKIN_ERANGE, "regimen rule: %s = %g Gy is "
                        "implausible for an organ limit; is it in cGy or "
                        "mGy? Limits are in Gy (23, not 2300)", what, v);
  return RKIN_OK;
}

static int check_region_index(const rkin_regimen *r, size_t q,
                              const char *what, rkin_err *err)
{
  if (q >= r->nr)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: %s region %zu, "
                        "but there are %zu regions", what, q + 1, r->nr);
  return RKIN_OK;
}

static int check_bounds(const rkin_regimen_rule *u, int need_max,
                        rkin_err *err)
{
  int rc;
  if ((rc = check_gbq(u->min_gbq, "min_gbq", 1, err))
      || (rc = check_gbq(u->max_gbq, "max_gbq", !need_max, err)))
    return rc;
  if (u->max_gbq > 0 && u->min_gbq > u->max_gbq)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: min_gbq %g > "
                        "max_gbq %g", u->min_gbq, u->max_gbq);
  return RKIN_OK;
}

static int check_planned(const rkin_regimen_rule *u, rkin_err *err)
{
  if (u->n_cycles < 1 || u->n_cycles > u->max_cycles)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: n_cycles %zu must "
                        "be in [1, max_cycles = %zu]", u->n_cycles,
                        u->max_cycles);
  return RKIN_OK;
}

static int check_optimised(const rkin_regimen *r, const rkin_regimen_rule *u,
                           rkin_err *err)
{
  size_t j;
  int rc;
  if ((rc = check_region_index(r, u->objective, "objective", err))
      || (rc = check_bounds(u, 1, err)))
    return rc;
  if (!u->n_limits || !u->limits)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: the optimiser "
                        "needs at least one limit (e.g. kidney BED)");
  for (j = 0; j < u->n_limits; j++)
    if ((rc = check_region_index(r, u->limits[j].region, "limit", err))
        || (rc = check_gy(u->limits[j].limit_gy, "limit", err)))
      return rc;
  if (u->min_cycle_gbq > u->max_gbq)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: min_cycle_gbq %g "
                        "> max_gbq %g: no cycle could be given",
                        u->min_cycle_gbq, u->max_gbq);
  return RKIN_OK;
}

/* 0 (unset) or 0.5: the point estimate; above: PP-PRRT and ILUMINET
 * only, whose decisions from measured cycles have an uncertainty. */
static int check_confidence(const rkin_regimen_rule *u, rkin_err *err)
{
  double c = u->confidence;
  if (c == 0 || c == 0.5) return RKIN_OK;
  if (!isfinite(c) || c < 0.5 || c >= 1)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: confidence %g, "
                        "expected a one-sided level in [0.5, 1) (0.5: the "
                        "point estimate, 0.95: the 95 %% upper bound)", c);
  if (!isfinite(u->plan_u_rel) || u->plan_u_rel < 0 || u->plan_u_rel > 1)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: plan_u_rel %g, "
                        "expected a relative SD in [0, 1]", u->plan_u_rel);
  if (u->kind == RKIN_RULE_OPTIMISED) return RKIN_OK;
  if (u->kind != RKIN_RULE_PP_PRRT && u->kind != RKIN_RULE_ILUMINET)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: confidence %g "
                        "applies to the PP-PRRT, ILUMINET and optimised "
                        "rules only (the others decide on no estimate)", c);
  if (u->max_cycles > RKIN_UNC_MAX_CYCLES)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: confidence %g "
                        "propagates over at most %d cycles, max_cycles is "
                        "%zu", c, RKIN_UNC_MAX_CYCLES, u->max_cycles);
  return RKIN_OK;
}

int rg_rule_check(const rkin_regimen *r, const rkin_regimen_rule *u,
                  rkin_err *err)
{
  int rc;
  if (!u) return rkin_err_set(err, RKIN_EINVAL, "regimen: no rule given");
  if ((rc = check_confidence(u, err))) return rc;
  if (u->max_cycles < 1 || u->max_cycles > 1000)
    return rkin_err_set(err, RKIN_EINVAL, "regimen rule: max_cycles must "
                        "be in [1, 1000] (got %zu)", u->max_cycles);
  if ((rc = check_gbq(u->min_cycle_gbq, "min_cycle_gbq", 1, err)))
    return rc;
  switch (u->kind) {
  case RKIN_RULE_EMPIRIC:
    if ((rc = check_gbq(u->activity_gbq, "activity_gbq", 0, err)))
      return rc;
    return check_planned(u, err);
  case RKIN_RULE_PP_PRRT:
    if ((rc = check_region_index(r, u->region, "PP-PRRT", err))
        || (rc = check_gy(u->target_gy, "target_gy", err))
        || (rc = check_bounds(u, 0, err)) || (rc = check_planned(u, err)))
      return rc;
    if (!isfinite(u->first_gy_per_gbq) || u->first_gy_per_gbq < 0)
      return rkin_err_set(err, RKIN_EINVAL, "regimen rule: "
                          "first_gy_per_gbq must be >= 0 (got %g)",
                          u->first_gy_per_gbq);
    if (u->first_gy_per_gbq == 0 && !u->first_each)
      return check_gbq(u->activity_gbq, "activity_gbq (cycle 1 without a "
                       "pre-therapy estimate)", 0, err);
    return RKIN_OK;
  case RKIN_RULE_ILUMINET:
    if ((rc = check_region_index(r, u->region, "ILUMINET", err))
        || (rc = check_gy(u->bed_limit_gy, "bed_limit_gy", err))
        || (rc = check_bounds(u, 0, err)))
      return rc;
    if ((rc = check_gbq(u->activity_gbq, "activity_gbq", 0, err)))
      return rc;
    if (u->activity_gbq < u->min_cycle_gbq)
      return rkin_err_set(err, RKIN_EINVAL, "regimen rule: ILUMINET cycles "
                          "of activity_gbq = %g GBq are below min_cycle_gbq "
                          "= %g GBq, the smallest useful cycle",
                          u->activity_gbq, u->min_cycle_gbq);
    return RKIN_OK;
  case RKIN_RULE_OPTIMISED:
    return check_optimised(r, u, err);
  case RKIN_RULE_CUSTOM:
    if (!u->decide)
      return rkin_err_set(err, RKIN_EINVAL, "regimen rule: a custom rule "
                          "needs a decide function");
    return RKIN_OK;
  }
  return rkin_err_set(err, RKIN_EINVAL, "regimen rule: unknown kind %d",
                      (int)u->kind);
}

static double clamp(const rkin_regimen_rule *u, double a)
{
  if (a < u->min_gbq) a = u->min_gbq;
  if (u->max_gbq > 0 && a > u->max_gbq) a = u->max_gbq;
  return a;
}

/* Dose per GBq of the watched region in the last cycle, as measured. */
static int last_per_gbq(const rkin_regimen_rule *u,
                        const rkin_regimen_state *k, double *per)
{
  size_t c = k->cycles_given - 1;
  const char *nm = k->regions[u->region].name;
  *per = k->dose_gy[c * k->n_regions + u->region] / k->activity_gbq[c];
  if (!(*per > 0) || !isfinite(*per))
    return rkin_err_set(k->err, RKIN_ERANGE, "%s dose per GBq of cycle %zu "
                        "is %g Gy/GBq (dose %g Gy, %g GBq): the rule cannot "
                        "plan from it", nm, c + 1, *per,
                        k->dose_gy[c * k->n_regions + u->region],
                        k->activity_gbq[c]);
  return RKIN_OK;
}

/* The watched region's measured course so far as an uncertainty course
 * (uncert.h): doses, counting SDs and G of the cycles given (past must
 * hold 3 x RKIN_UNC_MAX_CYCLES doubles), the shared SDs of the imaging
 * model (calibration and recovery scale the activity; the volume the
 * mass). with_bed: alpha/beta of the region, exact (no SD given). */
static int measured_course(const rkin_regimen_rule *u,
                           const rkin_regimen_state *k, int with_bed,
                           double *buf, rkin_unc_course *c)
{
  size_t i, nr = k->n_regions, n = k->cycles_given;
  double *d = buf, *ur = buf + RKIN_UNC_MAX_CYCLES,
         *g = buf + 2 * RKIN_UNC_MAX_CYCLES;
  if (n + 1 > RKIN_UNC_MAX_CYCLES)
    return rkin_err_set(k->err, RKIN_EINVAL, "confidence: %zu cycles, at "
                        "most %d propagated", n + 1, RKIN_UNC_MAX_CYCLES);
  memset(c, 0, sizeof *c);
  for (i = 0; i < n; i++) {
    d[i] = k->dose_gy[i * nr + u->region];
    ur[i] = k->u_rel ? k->u_rel[i * nr + u->region] : 0.0;
    g[i] = k->g[i * nr + u->region];
  }
  c->n = n;
  c->dose_gy = d;
  c->u_rel = ur;
  c->g = with_bed ? g : NULL;
  c->u_cal_rel = k->u_act_rel;
  c->u_mass_rel = k->u_mass_rel;
  c->ab_gy = k->regions[u->region].lq.ab_gy;
  return RKIN_OK;
}

/* Upper bound of the cumulative dose when the m remaining cycles each
 * give dose dn, predicted from the last measured cycle L (its dose per
 * GBq): every prediction is L's measurement scaled, so their own errors
 * are L's, correlation 1 (GUM eq. 13): the own-error variance is
 * sum_{i<L} (u_i D_i)^2 + (u_L (D_L + m dn))^2, not m independent terms;
 * the shared terms come from the course. */
static int dose_upper(const rkin_unc_course *past, size_t m, double dn,
                      double z, double *ub, rkin_err *err)
{
  double d[RKIN_UNC_MAX_CYCLES], ur[RKIN_UNC_MAX_CYCLES], t = 0.0, uL, own;
  rkin_unc_course c = *past;
  rkin_unc_course_result r;
  size_t i, n = past->n;
  int rc, s;
  if (!n) {
    *ub = 0;
    return RKIN_OK;
  }
  for (i = 0; i < n; i++) {
    d[i] = past->dose_gy[i];
    ur[i] = past->u_rel[i];
  }
  uL = ur[n - 1];
  own = d[n - 1];
  ur[n - 1] = 0.0;               /* its term is added below, with the
                                  * predictions' */
  for (i = 0; dn > 0 && i < m; i++, n++) {
    d[n] = dn;
    ur[n] = 0.0;
    own += dn;
  }
  c.n = n;
  c.dose_gy = d;
  c.u_rel = ur;
  c.g = NULL;
  if ((rc = rkin_unc_course_delta(&c, &r, err))) return rc;
  r.cum_dose.var[RKIN_UNC_COUNTS] += uL * uL * own * own;
  for (s = 0; s < RKIN_UNC_NSRC; s++) t += r.cum_dose.var[s];
  *ub = r.cum_dose.value + z * sqrt(t);
  return RKIN_OK;
}

/* PP-PRRT at a confidence: the dose dn of each of the m remaining cycles
 * with cumulative dose + z u = target (u grows with dn: bisection to a
 * relative 1e-10); 0 when the past alone reaches it. */
static int pp_prrt_conf(const rkin_regimen_rule *u,
                        const rkin_regimen_state *k, size_t m, double per,
                        double *next)
{
  double buf[3 * RKIN_UNC_MAX_CYCLES], z, lo = 0, hi, ub;
  rkin_unc_course past;
  int rc, it;
  if (k->cycles_given + m > RKIN_UNC_MAX_CYCLES)
    return rkin_err_set(k->err, RKIN_EINVAL, "confidence: %zu planned "
                        "cycles, at most %d propagated",
                        k->cycles_given + m, RKIN_UNC_MAX_CYCLES);
  if ((rc = measured_course(u, k, 0, buf, &past))) return rc;
  z = gsl_cdf_ugaussian_Pinv(u->confidence);
  if ((rc = dose_upper(&past, m, 0, z, &ub, k->err))) return rc;
  *next = 0;
  if (ub >= u->target_gy) return RKIN_OK;
  /* the point-estimate share is an upper bound (z >= 0) */
  hi = (u->target_gy - k->cum_dose_gy[u->region]) / (double)m;
  for (it = 0; it < 200 && hi - lo > 1e-10 * hi; it++) {
    double mid = 0.5 * (lo + hi);
    if ((rc = dose_upper(&past, m, mid, z, &ub, k->err))) return rc;
    if (ub <= u->target_gy) lo = mid;
    else hi = mid;
  }
  if (lo > 0) *next = clamp(u, lo / per);
  return RKIN_OK;
}

/* PP-PRRT: the remaining dose shared over the remaining planned cycles,
 * at the dose per GBq measured in the previous cycle. */
static int pp_prrt(const rkin_regimen_rule *u, const rkin_regimen_state *k,
                   double *next)
{
  size_t c = k->cycles_given, nn = u->n_cycles;
  double remaining, per;
  int rc;
  *next = 0;
  if (c >= nn || c >= k->max_cycles) return RKIN_OK;
  if (c == 0) {
    double k0 = u->first_each ? u->first_each[k->patient]
                              : u->first_gy_per_gbq;
    *next = k0 > 0 ? clamp(u, u->target_gy / (double)nn / k0)
                   : clamp(u, u->activity_gbq);
    return RKIN_OK;
  }
  remaining = u->target_gy - k->cum_dose_gy[u->region];
  if (!(remaining > 0)) return RKIN_OK;
  if ((rc = last_per_gbq(u, k, &per))) return rc;
  if (u->confidence > 0.5) return pp_prrt_conf(u, k, nn - c, per, next);
  *next = clamp(u, remaining / (double)(nn - c) / per);
  return RKIN_OK;
}

/* ILUMINET at a confidence: the upper bound of the cumulative BED, past
 * cycles plus the next (predicted from the last cycle's dose per GBq and
 * G), held at the limit (rkin_unc_next_activity). The prediction is the
 * last cycle's measurement scaled, so its error is that cycle's own
 * (from_last: correlation 1), not an independent draw. */
static int iluminet_conf(const rkin_regimen_rule *u,
                         const rkin_regimen_state *k, double *next)
{
  double buf[3 * RKIN_UNC_MAX_CYCLES], per, a_mbq, ub;
  size_t c = k->cycles_given;
  rkin_unc_next x;
  int rc, over;
  *next = 0;
  memset(&x, 0, sizeof x);
  if ((rc = measured_course(u, k, 1, buf, &x.past))) return rc;
  if ((rc = last_per_gbq(u, k, &per))) return rc;
  x.gy_per_mbq = per / 1000;
  x.u_gy_per_mbq_rel = 0.0;
  x.from_last = 1;
  x.g_next = x.past.g[c - 1];
  x.limit_bed_gy = u->bed_limit_gy;
  x.level = u->confidence;
  if ((rc = rkin_unc_next_activity(&x, &a_mbq, &ub, &over, k->err)))
    return rkin_err_prefix(k->err, "%s: ", k->regions[u->region].name);
  if (over) return RKIN_OK;
  if (!u->reduce_last || a_mbq / 1000 >= u->activity_gbq) {
    *next = u->activity_gbq;
    return RKIN_OK;
  }
  *next = a_mbq / 1000;
  if (*next < u->min_gbq || *next < u->min_cycle_gbq || *next <= 0)
    *next = 0;
  return RKIN_OK;
}

/* ILUMINET: the fixed activity until the cumulative BED reaches the limit;
 * with reduce_last, a cycle that would cross the limit is cut to the
 * remaining budget, predicted from the previous cycle's dose per GBq and G
 * (exact for a linear model when cycles do not overlap); a cut below
 * min_cycle_gbq (or min_gbq) is not worth an administration: the course
 * stops. */
static int iluminet(const rkin_regimen_rule *u, const rkin_regimen_state *k,
                    double *next)
{
  size_t c = k->cycles_given, nr = k->n_regions;
  const rkin_region *rg = &k->regions[u->region];
  double cum, per, g, d, bed, dn;
  int rc, over;
  *next = 0;
  if (c >= k->max_cycles) return RKIN_OK;
  if (c == 0) {
    *next = u->activity_gbq;
    return RKIN_OK;
  }
  if (u->confidence > 0.5) {
    /* A reduced cycle used the budget: it was the last. */
    if (u->reduce_last && k->activity_gbq[c - 1] < u->activity_gbq)
      return RKIN_OK;
    return iluminet_conf(u, k, next);
  }
  cum = k->cum_bed_gy[u->region];
  if (cum >= u->bed_limit_gy) return RKIN_OK;
  if (!u->reduce_last) {
    *next = u->activity_gbq;
    return RKIN_OK;
  }
  /* A reduced cycle used the budget: it was the last. */
  if (k->activity_gbq[c - 1] < u->activity_gbq) return RKIN_OK;
  if ((rc = last_per_gbq(u, k, &per))) return rc;
  g = k->g[(c - 1) * nr + u->region];
  d = u->activity_gbq * per;
  bed = d * (1 + g * d / rg->lq.ab_gy);
  if (cum + bed <= u->bed_limit_gy) {
    *next = u->activity_gbq;
    return RKIN_OK;
  }
  if ((rc = rkin_radiobio_budget(cum, u->bed_limit_gy, g, &rg->lq, rg->name,
                                 &dn, &over, k->err)))
    return rc;
  *next = dn / per;
  if (*next < u->min_gbq || *next < u->min_cycle_gbq || *next <= 0)
    *next = 0;
  return RKIN_OK;
}

int rg_rule_decide(const rkin_regimen_rule *u, const rkin_regimen_state *k,
                   double *next)
{
  switch (u->kind) {
  case RKIN_RULE_EMPIRIC:
    *next = k->cycles_given < u->n_cycles ? u->activity_gbq : 0;
    return RKIN_OK;
  case RKIN_RULE_PP_PRRT:
    return pp_prrt(u, k, next);
  case RKIN_RULE_ILUMINET:
    return iluminet(u, k, next);
  default:
    return rkin_err_set(k->err, RKIN_EINVAL, "regimen rule: kind %d has no "
                        "built-in decision", (int)u->kind);
  }
}

/* One cycle of the truth for rg_rule_plan: state y carried over. */
typedef struct {
  rg_ws *ws;
  size_t i;
  double *y;
} truth_ctx;

static int truth_cycle(void *ctx, double a, double *dose, double *g,
                       double *bed, rkin_err *err)
{
  truth_ctx *t = ctx;
  return rg_cycle(t->ws, t->i, t->y, 1000 * a, NULL, dose, g, bed, 0, NULL,
                  NULL, err);
}

int rg_rule_plan_by(const rkin_regimen *r, size_t i,
                    const rkin_regimen_rule *u, rg_cycle_fn fn, void *ctx,
                    double *act, size_t *kk, rkin_err *err)
{
  size_t nr = r->nr, mc = u->max_cycles, c, q;
  double *dose = malloc((3 * mc + 2) * nr * sizeof *dose);
  double *bed = dose + mc * nr, *g = bed + mc * nr;
  double *cumd = g + mc * nr, *cumb = cumd + nr;
  rkin_regimen_state k = {0};
  int rc = RKIN_OK;
  if (!dose) return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  memset(cumd, 0, 2 * nr * sizeof *cumd);
  k.patient = i;
  k.max_cycles = mc;
  k.interval_h = r->sp.interval_h;
  k.n_regions = nr;
  k.regions = r->sp.regions;
  k.activity_gbq = act;
  k.dose_gy = dose;
  k.bed_gy = bed;
  k.g = g;
  k.cum_dose_gy = cumd;
  k.cum_bed_gy = cumb;
  k.err = err;
  for (c = 0; c <= mc; c++) {
    double a;
    k.cycles_given = c;
    if ((rc = rg_rule_decide(u, &k, &a))) break;
    if (!(a > 0) || c == mc) break;
    act[c] = a;
    /* the empiric rule decides on the count alone: nothing to solve */
    if (u->kind == RKIN_RULE_EMPIRIC) continue;
    if ((rc = fn(ctx, a, dose + c * nr, g + c * nr, bed + c * nr, err)))
      break;
    for (q = 0; q < nr; q++) {
      cumd[q] += dose[c * nr + q];
      cumb[q] += bed[c * nr + q];
    }
  }
  *kk = c;
  for (; c < mc; c++) act[c] = 0;
  free(dose);
  return rc;
}

int rg_rule_plan(rg_ws *ws, size_t i, const rkin_regimen_rule *u,
                 double *act, size_t *kk, rkin_err *err)
{
  rkin_regimen *r = ws->r;
  truth_ctx t = {ws, i, ws->aux};
  int rc;
  rkin_mevcarry *carry = NULL, *outer = ws->carry;
  if (rkin_model_events(r->sp.model) && !(carry = rkin_mevcarry_new()))
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  /* the plan's cycles carry the model's events from one to the next */
  ws->carry = carry;
  memset(t.y, 0, r->n * sizeof *t.y);
  rc = rg_rule_plan_by(r, i, u, truth_cycle, &t, act, kk, err);
  ws->carry = outer;
  rkin_mevcarry_free(carry);
  return rc;
}

int rg_starts_get(rg_ws *ws, size_t i, rg_starts *s, size_t m,
                  rkin_err *err)
{
  size_t j, k;
  int rc = RKIN_OK;
  if (!s || !s->rules || s->made) return RKIN_OK;
  for (j = 0; j < s->n && !rc; j++)
    rc = rg_rule_plan(ws, i, &s->rules[j], s->plan + j * m, &k, err);
  if (!rc) {
    s->made = 1;
    ws->n_rule_plans++;
  }
  return rc;
}
