/* regimen.c - the regimen object: spec checks, route choice, per-patient
 * preparation in parallel, thread workspaces, the one-cycle step and the
 * result arrays. The cycle loop is in regimen_run.c. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>

#include "dose/dosimetry.h"
#include "regimen/regimen_impl.h"
#include "tac/tac.h"
#include "pop/vpop.h"

static int check_region(const rkin_regimen_spec *sp, size_t q, rkin_err *err)
{
  const rkin_region *rg = &sp->regions[q];
  size_t n = rkin_model_nstates(sp->model);
  size_t no = rkin_model_noutputs(sp->model);
  const char *nm = rg->name && *rg->name ? rg->name : "(unnamed)";
  size_t k;
  int rc;
  if (!rg->name || !*rg->name)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: region %zu has no name",
                        q + 1);
  for (k = 0; k < q; k++)
    if (!strcmp(sp->regions[k].name, rg->name))
      return rkin_err_set(err, RKIN_EINVAL, "regimen: region '%s' is given "
                          "twice", nm);
  if (rg->quantity < 0 || (size_t)rg->quantity >= n + no)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: region '%s': quantity "
                        "%d is outside the model's %zu states and %zu "
                        "outputs", nm, rg->quantity, n, no);
  if (!(rg->mass_kg > 0) || !isfinite(rg->mass_kg))
    return rkin_err_set(err, RKIN_EINVAL, "regimen: region '%s': mass_kg "
                        "must be a finite number > 0 (got %g)", nm,
                        rg->mass_kg);
  if (rg->mass_kg > 200)
    return rkin_err_set(err, RKIN_ERANGE, "regimen: region '%s': mass %g "
                        "kg is more than a whole body; is it in g?", nm,
                        rg->mass_kg);
  if (!isfinite(rg->s_gy_per_mbqh) || rg->s_gy_per_mbqh < 0)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: region '%s': S value "
                        "%g Gy/(MBq h), expected >= 0 (0: local "
                        "deposition)", nm, rg->s_gy_per_mbqh);
  if (rg->s_gy_per_mbqh == 0 && !rkin_model_nuclide(sp->model))
    return rkin_err_set(err, RKIN_EINVAL, "regimen: region '%s': model "
                        "'%s' has no nuclide, so an S value is needed", nm,
                        rkin_model_name(sp->model));
  if ((rc = rkin_radiobio_check(&rg->lq, nm, err)))
    return rkin_err_prefix(err, "regimen: ");
  return RKIN_OK;
}

static int check_spec(const rkin_regimen_spec *sp, rkin_err *err)
{
  size_t n, q, i;
  int rc;
  if (!sp || !sp->model || !sp->params || !sp->n_patients)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: a model, parameters "
                        "and at least one patient are required");
  n = rkin_model_nstates(sp->model);
  if (!sp->n_regions || !sp->regions)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: at least one region "
                        "(organ or tumour) is required");
  for (q = 0; q < sp->n_regions; q++)
    if ((rc = check_region(sp, q, err))) return rc;
  if (sp->inject < 0 || (size_t)sp->inject >= n)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: inject state %d is "
                        "outside the model's %zu states", sp->inject, n);
  if (!isfinite(sp->carrier_per_mbq) || sp->carrier_per_mbq < 0)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: carrier amount per MBq "
                        "must be a finite number >= 0 (got %g)",
                        sp->carrier_per_mbq);
  if (sp->carrier_per_mbq > 0 && (sp->carrier < 0 || (size_t)sp->carrier >= n
                                  || sp->carrier == sp->inject))
    return rkin_err_set(err, RKIN_EINVAL, "regimen: carrier state %d must "
                        "be one of the model's %zu states other than the "
                        "inject state %d", sp->carrier, n, sp->inject);
  if (!(sp->interval_h > 0) || !isfinite(sp->interval_h))
    return rkin_err_set(err, RKIN_EINVAL, "regimen: interval_h must be a "
                        "finite number > 0 (got %g)", sp->interval_h);
  if (!isfinite(sp->infusion_h) || sp->infusion_h < 0
      || sp->infusion_h >= sp->interval_h)
    return rkin_err_set(err, RKIN_EINVAL, "regimen: infusion_h must be in "
                        "[0, interval_h) (got %g h)", sp->infusion_h);
  if (sp->n_cov && (!sp->covariates || !sp->cov_names))
    return rkin_err_set(err, RKIN_EINVAL, "regimen: %zu covariates "
                        "announced but no values or names", sp->n_cov);
  for (i = 0; i < sp->n_patients * rkin_model_nparams(sp->model); i++)
    if (!isfinite(sp->params[i]))
      return rkin_err_set(err, RKIN_EINVAL, "regimen: patient %zu: "
                          "parameter '%s' is not finite",
                          sp->first_id +
                            i / rkin_model_nparams(sp->model) + 1,
                          rkin_model_param_name(sp->model,
                            i % rkin_model_nparams(sp->model)));
  return RKIN_OK;
}

static int uses_output(const rkin_regimen_spec *sp)
{
  size_t q, n = rkin_model_nstates(sp->model);
  for (q = 0; q < sp->n_regions; q++)
    if ((size_t)sp->regions[q].quantity >= n) return 1;
  return 0;
}

static rkin_route pick_route(const rkin_regimen_spec *sp)
{
  const rkin_model *m = sp->model;
  /* the eigen route gives a bolus into `inject` as it is: a model whose
   * doses are changed by F, ALAG, R or D, a carrier dose or events take the
   * augmented route, where the solver applies them */
  if (sp->opts.path == RKIN_PATH_CVODES || sp->infusion_h > 0
      || sp->carrier_per_mbq > 0 || rkin_model_has_dose_mods(m)
      || rkin_model_events(m)
      || !rkin_model_is_linear(m) || rkin_model_nstates(m) > RG_EIGEN_MAX
      || (uses_output(sp) && !rkin_model_outputs_linear(m)))
    return RKIN_ROUTE_AUGMENTED;
  return RKIN_ROUTE_EIGEN;
}

/* ------------------------------------------------------------ workspaces */

static size_t scratch_size(const rkin_regimen *r)
{
  size_t n = r->n, nr = r->nr, no = rkin_model_noutputs(r->sp.model);
  size_t na = n + 2 * nr, nt = RKIN_TAC_MAX_POINTS;
  size_t kern = n * n + nr * n + no * n + n;
  size_t aug = na + nr + nt * na + nt * no;
  return kern > aug ? kern : aug;
}

int rg_ws_init(rg_ws *ws, rkin_regimen *r, rkin_err *err)
{
  memset(ws, 0, sizeof *ws);
  ws->r = r;
  ws->aux = malloc(((r->nr + 1) * (RKIN_TAC_MAX_POINTS + 8) + 4 * r->n)
                   * sizeof *ws->aux);
  if (!(ws->buf = malloc(scratch_size(r) * sizeof *ws->buf)) || !ws->aux) {
    rg_ws_clear(ws);
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  }
  return RKIN_OK;
}

void rg_ws_clear(rg_ws *ws)
{
  rkin_solver_free(ws->solver);
  rkin_imaging_ws_free(ws->img);
  if (ws->eig) gsl_eigen_nonsymmv_free(ws->eig);
  free(ws->buf);
  free(ws->aux);
  memset(ws, 0, sizeof *ws);
}

typedef struct {
  rkin_regimen *r;
  size_t n;
  rg_task_fn fn;
  void *ctx;
  atomic_size_t next;
  atomic_long steps;
  atomic_int fail;
  rkin_err err;
  pthread_mutex_t lock;
} par_job;

/* Patients are taken in small chunks: a linear-route cycle costs well
 * under a microsecond, so one atomic per patient would dominate. */
#define CHUNK 16

static void *par_worker(void *arg)
{
  par_job *job = arg;
  rg_ws ws;
  rkin_err err;
  if (rg_ws_init(&ws, job->r, &err)) {
    pthread_mutex_lock(&job->lock);
    if (!job->fail) job->err = err;
    job->fail = RKIN_ENOMEM;
    pthread_mutex_unlock(&job->lock);
    return NULL;
  }
  for (;;) {
    size_t i0 = atomic_fetch_add(&job->next, CHUNK), i;
    if (i0 >= job->n) break;
    for (i = i0; i < i0 + CHUNK && i < job->n; i++) job->fn(job->ctx, &ws, i);
  }
  atomic_fetch_add(&job->steps, ws.steps);
  rg_ws_clear(&ws);
  return NULL;
}

int rg_parallel(rkin_regimen *r, size_t n, rg_task_fn fn, void *ctx,
                rkin_err *err)
{
  par_job job;
  pthread_t tid[256];
  int nt = r->sp.threads > 0 ? r->sp.threads : rkin_ncores(), t, started = 0;
  if (nt > 256) nt = 256;
  if ((size_t)nt > (n + CHUNK - 1) / CHUNK) nt = (int)((n + CHUNK - 1) / CHUNK);
  if (nt < 1) nt = 1;
  memset(&job, 0, sizeof job);
  job.r = r;
  job.n = n;
  job.fn = fn;
  job.ctx = ctx;
  atomic_init(&job.next, 0);
  atomic_init(&job.steps, 0);
  atomic_init(&job.fail, 0);
  pthread_mutex_init(&job.lock, NULL);
  if (nt == 1) {
    par_worker(&job);
    started = 1;
  } else {
    for (t = 0; t < nt; t++, started++)
      if (pthread_create(&tid[t], NULL, par_worker, &job)) break;
    for (t = 0; t < started; t++) pthread_join(tid[t], NULL);
  }
  pthread_mutex_destroy(&job.lock);
  r->steps_total += atomic_load(&job.steps);
  if (!started)
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: could not start a "
                        "thread");
  if (job.fail) {
    if (err) *err = job.err;
    return job.fail;
  }
  return RKIN_OK;
}

int rg_cycle(rg_ws *ws, size_t i, double *y, double a_mbq, double *tia,
             double *dose, double *g, double *bed, size_t n_times,
             const double *img_t, double *img_act, rkin_err *err)
{
  if (ws->r->kstatus[i] == 0)
    return rg_cycle_eigen(ws, i, y, a_mbq, tia, dose, g, bed, n_times, img_t,
                          img_act);
  return rg_cycle_aug(ws, i, y, a_mbq, tia, dose, g, bed, n_times, img_t,
                      img_act, err);
}

/* ------------------------------------------------------------ setup */

static char *dup_msg(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void prepare_one(void *ctx, rg_ws *ws, size_t i)
{
  rkin_regimen *r = ctx;
  rkin_err err;
  int rc = rg_kernel_build(ws, i, &err);
  r->kstatus[i] = rc;
  if (rc < 0) r->kmsg[i] = dup_msg(err.msg);
}

static int compute_s(rkin_regimen *r, rkin_err *err)
{
  size_t q;
  for (q = 0; q < r->nr; q++) {
    const rkin_region *rg = &r->sp.regions[q];
    int rc;
    r->s[q] = rg->s_gy_per_mbqh;
    if (r->s[q] == 0
        && (rc = rkin_dosimetry_s_led(rkin_model_nuclide(r->sp.model),
                                      rg->mass_kg, rg->name, &r->s[q], err)))
      return rc;
  }
  return RKIN_OK;
}

rkin_regimen *rkin_regimen_new(const rkin_regimen_spec *spec, rkin_err *err)
{
  rkin_regimen *r;
  size_t i, np;
  if (check_spec(spec, err)) return NULL;
  if (!(r = calloc(1, sizeof *r))) goto nomem;
  r->sp = *spec;
  r->n = rkin_model_nstates(spec->model);
  r->np = np = rkin_model_nparams(spec->model);
  r->nr = spec->n_regions;
  r->route = pick_route(spec);
  r->s = malloc(r->nr * sizeof *r->s);
  r->kstatus = calloc(spec->n_patients, sizeof *r->kstatus);
  r->kmsg = calloc(spec->n_patients, sizeof *r->kmsg);
  if (!r->s || !r->kstatus || !r->kmsg) goto nomem;
  if (compute_s(r, err)) goto fail;
  (void)np;
  if (r->route == RKIN_ROUTE_EIGEN) {
    r->stride = rg_kernel_stride(r->n, r->nr);
    if (!(r->kern = malloc(spec->n_patients * r->stride * sizeof *r->kern)))
      goto nomem;
    if (rg_parallel(r, spec->n_patients, prepare_one, r, err)) goto fail;
    for (i = 0; i < spec->n_patients; i++) r->n_fallback += r->kstatus[i] == 1;
  } else {
    for (i = 0; i < spec->n_patients; i++) r->kstatus[i] = 1;
  }
  if ((r->route == RKIN_ROUTE_AUGMENTED || r->n_fallback)
      && rg_aug_build(r, err))
    goto fail;
  return r;
nomem:
  rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
fail:
  rkin_regimen_free(r);
  return NULL;
}

void rkin_regimen_free(rkin_regimen *r)
{
  size_t i;
  if (!r) return;
  for (i = 0; r->kmsg && i < r->sp.n_patients; i++) free(r->kmsg[i]);
  free(r->kmsg);
  free(r->kstatus);
  free(r->kern);
  free(r->s);
  rkin_model_free(r->aug);
  free(r->aug_q);
  free(r);
}

rkin_route rkin_regimen_route(const rkin_regimen *r)
{
  return r->route;
}

size_t rkin_regimen_nfallback(const rkin_regimen *r)
{
  return r->n_fallback;
}

/* ------------------------------------------------------------ results */

int rkin_regimen_res_alloc(rkin_regimen_res *res, size_t n_patients,
                           size_t max_cycles, size_t n_regions,
                           rkin_err *err)
{
  size_t nc = n_patients * max_cycles, nv = nc * n_regions;
  memset(res, 0, sizeof *res);
  res->n_patients = n_patients;
  res->max_cycles = max_cycles;
  res->n_regions = n_regions;
  res->n_cycles = calloc(n_patients, sizeof *res->n_cycles);
  res->activity_gbq = calloc(nc, sizeof(double));
  res->tia_true = calloc(nv, sizeof(double));
  res->dose_true = calloc(nv, sizeof(double));
  res->g_true = calloc(nv, sizeof(double));
  res->bed_true = calloc(nv, sizeof(double));
  res->tia_est = calloc(nv, sizeof(double));
  res->dose_est = calloc(nv, sizeof(double));
  res->g_est = calloc(nv, sizeof(double));
  res->bed_est = calloc(nv, sizeof(double));
  res->u_rel_est = calloc(nv, sizeof(double));
  res->status = calloc(n_patients, sizeof *res->status);
  res->message = calloc(n_patients, sizeof *res->message);
  if (!res->n_cycles || !res->activity_gbq || !res->tia_true
      || !res->dose_true || !res->g_true || !res->bed_true || !res->tia_est
      || !res->dose_est || !res->g_est || !res->bed_est || !res->u_rel_est || !res->status
      || !res->message) {
    rkin_regimen_res_free(res);
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory for %zu "
                        "patients x %zu cycles", n_patients, max_cycles);
  }
  return RKIN_OK;
}

void rkin_regimen_res_free(rkin_regimen_res *res)
{
  size_t i;
  if (!res) return;
  for (i = 0; res->message && i < res->n_patients; i++) free(res->message[i]);
  free(res->message);
  free(res->n_cycles);
  free(res->activity_gbq);
  free(res->tia_true);
  free(res->dose_true);
  free(res->g_true);
  free(res->bed_true);
  free(res->tia_est);
  free(res->dose_est);
  free(res->g_est);
  free(res->bed_est);
  free(res->u_rel_est);
  free(res->status);
  memset(res, 0, sizeof *res);
}
