/* regimen_run.c - the cycle loop: the rule decides for every patient
 * (serially, in the calling thread: a Lua rule is safe), then one cycle of
 * all treated patients is solved in parallel with its imaging, then the
 * next decision. Per-patient failures are recorded, never fatal. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regimen/regimen_impl.h"

typedef struct {
  rkin_regimen *r;
  const rkin_regimen_rule *rule;
  const rkin_imaging *img;     /* NULL or TRUTH: estimates = truth */
  rkin_regimen_res *res;
  double *y;                   /* n_patients x n: state before the cycle */
  double *next;                /* n_patients: this cycle's GBq, 0: none */
  size_t cycle;
  double *plan;                /* OPTIMISED: n_patients x max_cycles */
  size_t *plan_k;
  rkin_mevcarry **carry;       /* n_patients, for a model with events:
                                  each patient's events between cycles */
} run_ctx;

static void fail_patient(rkin_regimen_res *res, size_t i, int code,
                         const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void fail_patient(rkin_regimen_res *res, size_t i, int code,
                         const char *fmt, ...)
{
  char buf[RKIN_ERR_MSG + 128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  res->status[i] = code ? code : RKIN_EINVAL;
  free(res->message[i]);
  res->message[i] = malloc(strlen(buf) + 1);
  if (res->message[i]) strcpy(res->message[i], buf);
}

static int imaging_on(const run_ctx *x)
{
  return x->img && x->img->method != RKIN_IMAGING_TRUTH;
}

static int imaged(const run_ctx *x, size_t q)
{
  return !imaging_on(x) || !x->img->imaged || x->img->imaged[q];
}

/* Imaging estimates of patient i's cycle c into the est arrays. */
static int estimate_cycle(run_ctx *x, rg_ws *ws, size_t i, size_t c,
                          const double *act, rkin_err *err)
{
  rkin_regimen *r = x->r;
  rkin_regimen_res *res = x->res;
  size_t nr = r->nr, nt = x->img->n_times, q;
  size_t off = (i * res->max_cycles + c) * nr;
  double *a = ws->aux + nr * nt;
  if (!ws->img && !(ws->img = rkin_imaging_ws_new(err))) return err->code;
  /* seeded by the patient's number in the whole cohort */
  rkin_imaging_seed(ws->img, x->img, r->sp.first_id + i, c);
  for (q = 0; q < nr; q++) {
    const rkin_region *rg = &r->sp.regions[q];
    rkin_imaging_est e;
    double f_act, f_mass;
    size_t k;
    int rc;
    if (!imaged(x, q)) {
      res->tia_est[off + q] = res->dose_est[off + q] = NAN;
      res->g_est[off + q] = res->bed_est[off + q] = NAN;
      res->u_rel_est[off + q] = NAN;
      continue;
    }
    memcpy(a, act + q * nt, nt * sizeof *a);
    /* per-image counting error first (the stream of the PROP model, so
     * its draws are unchanged), then the factors shared over cycles */
    rkin_imaging_noise(ws->img, x->img, nt, a);
    rkin_imaging_shared(ws->img, x->img, i, q, &f_act, &f_mass);
    for (k = 0; k < nt; k++) a[k] *= f_act;
    /* local deposition: S ~ 1 / m, the mass from the segmented volume */
    if ((rc = rkin_imaging_estimate(x->img, rkin_model_nuclide(r->sp.model),
                                    a, r->s[q] / f_mass, &rg->lq, rg->name,
                                    &e, err)))
      return rkin_err_prefix(err, "imaging: ");
    res->u_rel_est[off + q] = e.u_rel;
    res->tia_est[off + q] = e.tia;
    res->dose_est[off + q] = e.dose;
    res->g_est[off + q] = e.g;
    res->bed_est[off + q] = e.bed;
  }
  return RKIN_OK;
}

static void cycle_task(void *ctx, rg_ws *ws, size_t i)
{
  run_ctx *x = ctx;
  rkin_regimen *r = x->r;
  rkin_regimen_res *res = x->res;
  size_t c = x->cycle, nr = r->nr, off = (i * res->max_cycles + c) * nr;
  size_t nt = imaging_on(x) ? x->img->n_times : 0;
  double *act = nt ? ws->aux : NULL;
  rkin_err err;
  int rc;
  if (res->status[i] || !(x->next[i] > 0)) return;
  /* the patient's pending event executions go on into this cycle */
  ws->carry = x->carry ? x->carry[i] : NULL;
  rc = rg_cycle(ws, i, x->y + i * r->n, 1000 * x->next[i],
                res->tia_true + off, res->dose_true + off, res->g_true + off,
                res->bed_true + off, nt, nt ? x->img->times_h : NULL, act,
                &err);
  ws->carry = NULL;
  if (!rc && nt) rc = estimate_cycle(x, ws, i, c, act, &err);
  if (rc) {
    fail_patient(res, i, rc, "patient %zu, cycle %zu: %s", RG_ID(x->r, i), c + 1,
                 err.msg);
    return;
  }
  if (!nt) {
    memcpy(res->tia_est + off, res->tia_true + off, nr * sizeof(double));
    memcpy(res->dose_est + off, res->dose_true + off, nr * sizeof(double));
    memcpy(res->g_est + off, res->g_true + off, nr * sizeof(double));
    memcpy(res->bed_est + off, res->bed_true + off, nr * sizeof(double));
    memset(res->u_rel_est + off, 0, nr * sizeof(double));
  }
  res->activity_gbq[i * res->max_cycles + c] = x->next[i];
  res->n_cycles[i] = c + 1;
}

/* Starting plans of the built-in rules that the rule's fields define,
 * decided from the truth (made when the optimiser needs them); then the
 * optimiser. */
static void plan_task(void *ctx, rg_ws *ws, size_t i)
{
  run_ctx *x = ctx;
  const rkin_regimen_rule *u = x->rule;
  size_t mc = u->max_cycles;
  double *starts = calloc(3 * mc, sizeof *starts);
  rkin_regimen_rule b[3], uo = *u;
  rg_starts st = {0, starts, b, 0};
  rkin_err err;
  int rc = RKIN_OK, j;
  for (j = 0; j < 3; j++) {
    b[j] = *u;
    b[j].confidence = 0;   /* the starts are the rules' point plans on the
                            * truth; the optimiser scales them onto its
                            * limits */
  }
  if (x->res->status[i]) goto done;
  if (!starts) {
    fail_patient(x->res, i, RKIN_ENOMEM, "patient %zu: out of memory",
                 RG_ID(x->r, i));
    goto done;
  }
  if (u->activity_gbq > 0 && u->n_cycles > 0)
    b[st.n++].kind = RKIN_RULE_EMPIRIC;
  if (u->target_gy > 0 && u->n_cycles > 0) b[st.n++].kind = RKIN_RULE_PP_PRRT;
  if (u->bed_limit_gy > 0 && u->activity_gbq > 0)
    b[st.n++].kind = RKIN_RULE_ILUMINET;
  /* at a confidence, the planned doses carry the imaging model's shared
   * relative SDs (the plan is made on the model the images would give) */
  if (uo.plan_u_rel == 0) {
    double ua, um;
    rkin_imaging_shared_u(x->img, &ua, &um);
    uo.plan_u_rel = sqrt(ua * ua + um * um);
  }
  rc = rg_optimise(ws, i, &uo, &st, x->plan + i * mc, x->plan_k + i, NULL,
                   &err);
  if (rc)
    fail_patient(x->res, i, rc, "patient %zu: optimiser: %s", RG_ID(x->r, i),
                 err.msg);
done:
  free(starts);
}

/* Fills `known` for patient i from the estimates so far. */
static void known_fill(const run_ctx *x, size_t i, rkin_regimen_state *k,
                       double *cumd, double *cumb, rkin_err *err)
{
  const rkin_regimen *r = x->r;
  const rkin_regimen_res *res = x->res;
  size_t mc = res->max_cycles, nr = r->nr, c, q, nc = res->n_cycles[i];
  const double *d = res->dose_est + i * mc * nr;
  const double *b = res->bed_est + i * mc * nr;
  for (q = 0; q < nr; q++) {
    cumd[q] = cumb[q] = 0;
    for (c = 0; c < nc; c++) {
      cumd[q] += d[c * nr + q];
      cumb[q] += b[c * nr + q];
    }
  }
  memset(k, 0, sizeof *k);
  k->patient = i;
  k->cycles_given = nc;
  k->max_cycles = mc;
  k->interval_h = r->sp.interval_h;
  k->n_regions = nr;
  k->regions = r->sp.regions;
  k->activity_gbq = res->activity_gbq + i * mc;
  k->dose_gy = d;
  k->bed_gy = b;
  k->g = res->g_est + i * mc * nr;
  k->cum_dose_gy = cumd;
  k->cum_bed_gy = cumb;
  k->u_rel = res->u_rel_est + i * mc * nr;
  rkin_imaging_shared_u(x->img, &k->u_act_rel, &k->u_mass_rel);
  k->n_cov = r->sp.n_cov;
  k->covariates = r->sp.n_cov ? r->sp.covariates + i * r->sp.n_cov : NULL;
  k->cov_names = r->sp.cov_names;
  k->err = err;
}

/* The decisions before cycle `x->cycle` (0-based); returns how many
 * patients are treated. */
static size_t decide_all(run_ctx *x, double *cumd, double *cumb)
{
  const rkin_regimen_rule *u = x->rule;
  rkin_regimen_res *res = x->res;
  size_t i, c = x->cycle, treated = 0;
  for (i = 0; i < res->n_patients; i++) {
    rkin_regimen_state k;
    rkin_err err;
    double a = 0;
    int rc = RKIN_OK;
    if (res->status[i] || (c > 0 && !(x->next[i] > 0))) {
      x->next[i] = 0;
      continue;
    }
    rkin_err_clear(&err);
    known_fill(x, i, &k, cumd, cumb, &err);
    if (u->kind == RKIN_RULE_OPTIMISED)
      a = c < x->plan_k[i] ? x->plan[i * u->max_cycles + c] : 0;
    else if (u->kind == RKIN_RULE_CUSTOM)
      rc = u->decide(u->ud, &k, &a);
    else
      rc = rg_rule_decide(u, &k, &a);
    x->next[i] = 0;
    if (rc) {
      fail_patient(res, i, rc, "patient %zu, before cycle %zu: rule "
                   "failed: %s", RG_ID(x->r, i), c + 1,
                   err.msg[0] ? err.msg : "(no message)");
    } else if (!isfinite(a) || a < 0) {
      fail_patient(res, i, RKIN_EINVAL, "patient %zu, before cycle %zu: "
                   "the rule returned %g GBq; expected an activity >= 0 "
                   "(0 stops)", RG_ID(x->r, i), c + 1, a);
    } else if (a > 100) {
      fail_patient(res, i, RKIN_ERANGE, "patient %zu, before cycle %zu: "
                   "the rule returned %g GBq, implausible; activities are "
                   "in GBq (7.4, not 7400)", RG_ID(x->r, i), c + 1, a);
    } else if (a > 0 && c >= u->max_cycles) {
      fail_patient(res, i, RKIN_ERANGE, "patient %zu: the rule asks for "
                   "cycle %zu but max_cycles is %zu (the cap); a rule must "
                   "return 0 to stop", RG_ID(x->r, i), c + 1,
                   u->max_cycles);
    } else {
      x->next[i] = a;
      treated += a > 0;
    }
  }
  return treated;
}

static void res_reset(rkin_regimen *r, const run_ctx *x)
{
  rkin_regimen_res *res = x->res;
  size_t n = res->n_patients, nc = n * res->max_cycles, nv = nc * r->nr, i;
  memset(res->n_cycles, 0, n * sizeof *res->n_cycles);
  memset(res->activity_gbq, 0, nc * sizeof(double));
  memset(res->tia_true, 0, nv * sizeof(double));
  memset(res->dose_true, 0, nv * sizeof(double));
  memset(res->g_true, 0, nv * sizeof(double));
  memset(res->bed_true, 0, nv * sizeof(double));
  memset(res->tia_est, 0, nv * sizeof(double));
  memset(res->dose_est, 0, nv * sizeof(double));
  memset(res->g_est, 0, nv * sizeof(double));
  memset(res->bed_est, 0, nv * sizeof(double));
  memset(res->u_rel_est, 0, nv * sizeof(double));
  res->n_failed = 0;
  res->n_steps = 0;
  for (i = 0; i < n; i++) {
    free(res->message[i]);
    res->message[i] = NULL;
    res->status[i] = 0;
    if (r->kstatus[i] < 0)
      fail_patient(res, i, r->kstatus[i], "%s", r->kmsg[i]);
  }
}

static int check_run(rkin_regimen *r, const rkin_regimen_rule *u,
                     const rkin_imaging *img, const rkin_regimen_res *res,
                     rkin_err *err)
{
  int rc;
  if ((rc = rg_rule_check(r, u, err))
      || (rc = rkin_imaging_check(img, r->sp.interval_h, err)))
    return rc;
  if (!res || res->n_patients != r->sp.n_patients
      || res->n_regions != r->nr || res->max_cycles != u->max_cycles)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: results sized for %zu "
                        "patients x %zu cycles x %zu regions, run needs "
                        "%zu x %zu x %zu",
                        res ? res->n_patients : 0, res ? res->max_cycles : 0,
                        res ? res->n_regions : 0, r->sp.n_patients,
                        u->max_cycles, r->nr);
  if (img && img->method != RKIN_IMAGING_TRUTH && img->imaged
      && (u->kind == RKIN_RULE_PP_PRRT || u->kind == RKIN_RULE_ILUMINET)
      && !img->imaged[u->region])
    return rkin_err_set(err, RKIN_EINVAL, "regimen: the rule watches "
                        "region '%s', which is not imaged",
                        r->sp.regions[u->region].name);
  return RKIN_OK;
}

int rkin_regimen_run(rkin_regimen *r, const rkin_regimen_rule *rule,
                     const rkin_imaging *img, rkin_regimen_res *res,
                     rkin_err *err)
{
  run_ctx x = {0};
  size_t n = r->sp.n_patients, i, steps = 0, total;
  double *cum = NULL;
  long steps0 = r->steps_total;
  int rc;
  if ((rc = check_run(r, rule, img, res, err))) return rc;
  x.r = r;
  x.rule = rule;
  x.img = img;
  x.res = res;
  x.y = calloc(n * r->n, sizeof *x.y);
  x.next = calloc(n, sizeof *x.next);
  cum = malloc(2 * r->nr * sizeof *cum);
  if (rule->kind == RKIN_RULE_OPTIMISED) {
    x.plan = calloc(n * rule->max_cycles, sizeof *x.plan);
    x.plan_k = calloc(n, sizeof *x.plan_k);
  }
  if (rkin_model_events(r->sp.model)
      && (x.carry = calloc(n + 1, sizeof *x.carry)))
    for (i = 0; i < n; i++)
      if (!(x.carry[i] = rkin_mevcarry_new())) {
        rc = rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
        goto done;
      }
  if (!x.y || !x.next || !cum
      || (rkin_model_events(r->sp.model) && !x.carry)
      || (rule->kind == RKIN_RULE_OPTIMISED && (!x.plan || !x.plan_k))) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
    goto done;
  }
  res_reset(r, &x);
  total = rule->max_cycles + (rule->kind == RKIN_RULE_OPTIMISED);
  if (rule->kind == RKIN_RULE_OPTIMISED) {
    if ((rc = rg_parallel(r, n, plan_task, &x, err))) goto done;
    if (r->sp.progress) r->sp.progress(++steps, total, r->sp.progress_ud);
  }
  for (x.cycle = 0; x.cycle <= rule->max_cycles; x.cycle++) {
    if (!decide_all(&x, cum, cum + r->nr)) break;
    if ((rc = rg_parallel(r, n, cycle_task, &x, err))) goto done;
    if (r->sp.progress && steps + 1 < total)
      r->sp.progress(++steps, total, r->sp.progress_ud);
  }
  if (r->sp.progress) r->sp.progress(total, total, r->sp.progress_ud);
  for (i = 0; i < n; i++) res->n_failed += res->status[i] != 0;
  res->n_steps = r->steps_total - steps0;
done:
  for (i = 0; x.carry && i < n; i++) rkin_mevcarry_free(x.carry[i]);
  free(x.carry);
  free(x.y);
  free(x.next);
  free(x.plan);
  free(x.plan_k);
  free(cum);
  return rc;
}
