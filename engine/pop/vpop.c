/* vpop.c - sampling virtual patients and simulating cohorts in parallel. */
#include "pop/vpop.h"
#include "solve/cv_batch.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int rkin_ncores(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

struct rkin_vpop_sampler {
  const rkin_model *m;
  size_t np;
  double *th, *cv;      /* copies: n_params each */
  gsl_rng *rng;
};

void rkin_vpop_sampler_free(rkin_vpop_sampler *s)
{
  if (!s) return;
  if (s->rng) gsl_rng_free(s->rng);
  free(s->th);
  free(s);
}

/* The checks of rkin_vpop_sample's cv and theta. */
static int check_sampling(const rkin_model *m, const double *th,
                          const double *cv, rkin_err *err)
{
  size_t np = rkin_model_nparams(m), j;

  for (j = 0; j < np; j++) {
    double c = cv ? cv[j] : 0.0;
    if (!isfinite(c) || c < 0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "cohort: cv of parameter '%s' must be a finite "
                          "number >= 0 (got %g)",
                          rkin_model_param_name(m, j), c);
    if (c > 0 && !(th[j] > 0))
      return rkin_err_set(err, RKIN_EINVAL,
                          "cohort: parameter '%s' has cv %g, so its typical "
                          "value must be > 0 for log-normal variability "
                          "(got %g)",
                          rkin_model_param_name(m, j), c, th[j]);
  }
  return RKIN_OK;
}

rkin_vpop_sampler *rkin_vpop_sampler_new(const rkin_model *m,
                                         const double *theta,
                                         const double *cv,
                                         unsigned long seed, rkin_err *err)
{
  size_t np = rkin_model_nparams(m), j;
  const double *th = theta ? theta : rkin_model_defaults(m);
  rkin_vpop_sampler *s;
  if (check_sampling(m, th, cv, err)) return NULL;
  s = calloc(1, sizeof *s);
  if (!s || !(s->th = malloc(2 * (np ? np : 1) * sizeof *s->th)) ||
      !(s->rng = gsl_rng_alloc(gsl_rng_mt19937))) {
    rkin_vpop_sampler_free(s);
    rkin_err_set(err, RKIN_ENOMEM, "cohort: out of memory");
    return NULL;
  }
  s->m = m;
  s->np = np;
  s->cv = s->th + np;
  for (j = 0; j < np; j++) {
    s->th[j] = th[j];
    s->cv[j] = cv ? cv[j] : 0.0;
  }
  gsl_rng_set(s->rng, seed);
  return s;
}

void rkin_vpop_sampler_draw(rkin_vpop_sampler *s, size_t n, double *params)
{
  size_t i, j, np = s->np;
  for (i = 0; i < n; i++)
    for (j = 0; j < np; j++) {
      double c = s->cv[j];
      double omega = sqrt(log1p(c * c));
      /* A z is drawn for every parameter, so adding variability to one
       * parameter does not change the others' draws. */
      double z = gsl_ran_gaussian_ziggurat(s->rng, 1.0);
      if (params) params[i * np + j] = c > 0 ? s->th[j] * exp(omega * z)
                                             : s->th[j];
    }
}

int rkin_vpop_sample(const rkin_model *m, const double *theta,
                     const double *cv, unsigned long seed, size_t n,
                     double *params, rkin_err *err)
{
  rkin_vpop_sampler *s = rkin_vpop_sampler_new(m, theta, cv, seed, err);
  if (!s) return err->code;
  rkin_vpop_sampler_draw(s, n, params);
  rkin_vpop_sampler_free(s);
  return RKIN_OK;
}

/* Shared by the workers of one cohort run. */
typedef struct {
  const rkin_cohort_spec *spec;
  rkin_cohort_res *res;
  rkin_dosing **cycle_dosing;   /* n_cycles schedules (scaled), shared */
  atomic_size_t next;           /* next patient to take */
  atomic_size_t done;
  atomic_long steps;
  atomic_int setup_code;        /* a worker could not create its solver */
  rkin_err setup_err;
  pthread_mutex_t lock;
} cohort_job;

/* One patient through all cycles; writes its TIA slots. */
static int run_patient(cohort_job *job, rkin_solver *s, size_t i,
                       double *y, double *tia, rkin_mevcarry *carry,
                       long *steps, rkin_err *err)
{
  const rkin_cohort_spec *sp = job->spec;
  size_t ns = rkin_model_nstates(sp->model), c;
  const double *p = sp->params + i * rkin_model_nparams(sp->model);
  memset(y, 0, ns * sizeof *y);
  rkin_mevcarry_clear(carry);
  for (c = 0; c < sp->n_cycles; c++) {
    rkin_solve_req rq = {0};
    rkin_solve_res rs = {0};
    int rc;
    rq.t0 = 0.0;
    rq.t1 = sp->cycle_h;
    rq.y0 = y;
    rq.params = p;
    rq.dosing = job->cycle_dosing[c];
    rq.tia = sp->tia;
    rq.n_tia = sp->n_tia;
    rs.tia = tia + c * sp->n_tia;
    rs.y_end = y;    /* the next cycle starts where this one ended */
    rq.ev_carry = carry;   /* and so do the model's events (NULL: none) */
    rc = rkin_solver_run(s, &rq, &rs, err);
    *steps += rs.n_steps;
    if (rc) return rkin_err_prefix(err, "patient %zu, cycle %zu: ",
                                   sp->first_id + i + 1,
                                   c + 1);
  }
  return RKIN_OK;
}

/* Patient i alone; records its status (and, failing, NaN TIAs). */
static void one_patient(cohort_job *job, rkin_solver *s, size_t i,
                        double *y, rkin_mevcarry *carry, long *steps)
{
  const rkin_cohort_spec *sp = job->spec;
  size_t per = sp->n_cycles * sp->n_tia, k;
  double *tia = job->res->tia + i * per;
  rkin_err err;
  int rc = run_patient(job, s, i, y, tia, carry, steps, &err);
  job->res->status[i] = rc;
  if (rc) {
    for (k = 0; k < per; k++) tia[k] = NAN;
    pthread_mutex_lock(&job->lock);
    /* Keep the lowest failing index, whatever the thread timing. */
    if (!job->res->n_failed || i < job->res->first_failed) {
      job->res->first = err;
      job->res->first_failed = i;
    }
    job->res->n_failed++;
    pthread_mutex_unlock(&job->lock);
  }
}

/* Patients i0 .. i0 + nb - 1 as one system through every cycle (yb: nb x
 * n_states scratch). 0 when done (statuses 0); otherwise the caller runs
 * them one by one. */
static int batch_patients(cohort_job *job, rkin_cvbatch *cb, size_t i0,
                          size_t nb, double *yb, long *steps)
{
  const rkin_cohort_spec *sp = job->spec;
  size_t ns = rkin_model_nstates(sp->model), np = rkin_model_nparams(sp->model);
  size_t per = sp->n_cycles * sp->n_tia, c, k;
  rkin_err err;
  memset(yb, 0, nb * ns * sizeof *yb);
  for (c = 0; c < sp->n_cycles; c++) {
    long st = 0;
    int rc = rkin_cvbatch_run(cb, nb, sp->params + i0 * np, yb,
                              job->cycle_dosing[c], 0.0, sp->cycle_h,
                              sp->tia, sp->n_tia,
                              job->res->tia + i0 * per + c * sp->n_tia, per,
                              &st, &err);
    *steps += st * (long)nb;
    if (rc) return rc;
  }
  for (k = 0; k < nb; k++) job->res->status[i0 + k] = 0;
  return 0;
}

/* The batch size runs take: 1 when the model, the options or the
 * schedule are not covered by cv_batch.h (the exact path, events,
 * conditions, a sparse Newton matrix, steady-state or reset records). */
size_t rkin_cohort_batch(const rkin_cohort_spec *sp)
{
  size_t B = sp->batch ? sp->batch : RKIN_COHORT_BATCH;
  if (B < 2 || rkin_cvbatch_refusal(sp->model, &sp->opts, sp->dosing))
    return 1;
  return B;
}

static void *worker(void *arg)
{
  cohort_job *job = arg;
  const rkin_cohort_spec *sp = job->spec;
  size_t ns = rkin_model_nstates(sp->model), B = rkin_cohort_batch(sp);
  rkin_err err;
  rkin_solver *s = rkin_solver_new(sp->model, &sp->opts, &err);
  double *y = malloc(ns * (B > 1 ? B : 1) * sizeof *y + 1);
  long steps = 0;
  rkin_mevcarry *carry = rkin_model_events(sp->model) ? rkin_mevcarry_new()
                                                      : NULL;
  rkin_cvbatch *cb = s && B > 1 ? rkin_cvbatch_new(sp->model, &sp->opts,
                                                   &err)
                                : NULL;

  if (!s || !y || (rkin_model_events(sp->model) && !carry)
      || (B > 1 && !cb)) {
    pthread_mutex_lock(&job->lock);
    if (!job->setup_code) {
      /* err is the solver's or the batch's when either was not made */
      if (s && (B < 2 || cb))
        rkin_err_set(&err, RKIN_ENOMEM, "cohort: out of memory");
      job->setup_code = err.code;
      job->setup_err = err;
    }
    pthread_mutex_unlock(&job->lock);
    atomic_store(&job->next, sp->n_patients);   /* stop everyone */
  } else {
    /* Batch j holds the patients whose index in the whole cohort
     * (first_id + i) is in [j B, (j + 1) B): the groups, hence the
     * results, are the same whatever the threads, MPI ranks or streamed
     * chunks the cohort is split into. */
    size_t off = sp->first_id % B;
    for (;;) {
      size_t j = atomic_fetch_add(&job->next, 1), i, e, nb, k;
      i = j * B > off ? j * B - off : 0;
      if (i >= sp->n_patients) break;
      e = (j + 1) * B - off;
      nb = (e < sp->n_patients ? e : sp->n_patients) - i;
      /* a batch that cannot be run or fails: one by one */
      if (nb < 2 || batch_patients(job, cb, i, nb, y, &steps))
        for (k = 0; k < nb; k++) one_patient(job, s, i + k, y, carry, &steps);
      atomic_fetch_add(&job->done, nb);
    }
  }
  atomic_fetch_add(&job->steps, steps);
  free(y);
  rkin_mevcarry_free(carry);
  rkin_cvbatch_free(cb);
  rkin_solver_free(s);
  return NULL;
}

/* The cycle's doses with every amount and rate multiplied by scale. */
static rkin_dosing *scaled_dosing(const rkin_dosing *d, double scale,
                                  rkin_err *err)
{
  rkin_dosing *out = rkin_dosing_new();
  size_t i, n = d ? rkin_dosing_nrecords(d) : 0;
  if (!out) {
    rkin_err_set(err, RKIN_ENOMEM, "cohort: out of memory");
    return NULL;
  }
  for (i = 0; i < n; i++) {
    rkin_dose r = *rkin_dosing_record(d, i);
    r.amount *= scale;
    r.rate *= scale;
    if (rkin_dosing_add(out, &r, err)) {
      rkin_dosing_free(out);
      return NULL;
    }
  }
  return out;
}

static int check_spec(const rkin_cohort_spec *sp, rkin_err *err)
{
  size_t c, ns, no;
  if (!sp->model || !sp->params || !sp->n_patients || !sp->n_cycles)
    return rkin_err_set(err, RKIN_EINVAL,
                        "cohort: a model, parameters, at least one patient "
                        "and one cycle are required");
  if (!(sp->cycle_h > 0) || !isfinite(sp->cycle_h))
    return rkin_err_set(err, RKIN_EINVAL,
                        "cohort: cycle length must be a finite number > 0 h "
                        "(got %g)", sp->cycle_h);
  for (c = 0; sp->cycle_scale && c < sp->n_cycles; c++)
    if (!isfinite(sp->cycle_scale[c]) || sp->cycle_scale[c] < 0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "cohort: activity factor of cycle %zu must be a "
                          "finite number >= 0 (got %g)", c + 1,
                          sp->cycle_scale[c]);
  ns = rkin_model_nstates(sp->model);
  no = rkin_model_noutputs(sp->model);
  for (c = 0; c < sp->n_tia; c++)
    if (sp->tia[c] < 0 || (size_t)sp->tia[c] >= ns + no)
      return rkin_err_set(err, RKIN_EINVAL,
                          "cohort: TIA quantity %zu has index %d, outside "
                          "the model's %zu states and %zu outputs", c + 1,
                          sp->tia[c], ns, no);
  if (sp->dosing) return rkin_dosing_check(sp->dosing, ns, err);
  return RKIN_OK;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int rkin_cohort_run(const rkin_cohort_spec *sp, rkin_cohort_res *res,
                    rkin_err *err)
{
  cohort_job job;
  pthread_t *tid = NULL;
  int nt, started = 0, rc, t;
  size_t c;

  rc = check_spec(sp, err);
  if (rc) return rc;
  memset(&job, 0, sizeof job);
  job.spec = sp;
  job.res = res;
  res->n_failed = 0;
  res->n_steps = 0;
  rkin_err_clear(&res->first);
  atomic_init(&job.next, 0);
  atomic_init(&job.done, 0);
  atomic_init(&job.steps, 0);
  atomic_init(&job.setup_code, 0);
  pthread_mutex_init(&job.lock, NULL);

  job.cycle_dosing = calloc(sp->n_cycles, sizeof *job.cycle_dosing);
  nt = sp->threads > 0 ? sp->threads : rkin_ncores();
  if ((size_t)nt > sp->n_patients) nt = (int)sp->n_patients;
  tid = calloc((size_t)nt, sizeof *tid);
  if (!job.cycle_dosing || !tid) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "cohort: out of memory");
    goto done;
  }
  for (c = 0; c < sp->n_cycles; c++) {
    double f = sp->cycle_scale ? sp->cycle_scale[c] : 1.0;
    job.cycle_dosing[c] = scaled_dosing(sp->dosing, f, err);
    if (!job.cycle_dosing[c]) {
      rc = err ? err->code : RKIN_ENOMEM;
      goto done;
    }
  }

  for (t = 0; t < nt; t++, started++)
    if (pthread_create(&tid[t], NULL, worker, &job)) break;
  if (!started) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "cohort: could not start a thread");
    goto done;
  }
  while (sp->progress && atomic_load(&job.done) < sp->n_patients
         && !job.setup_code) {
    sp->progress(atomic_load(&job.done), sp->n_patients, sp->progress_ud);
    sleep_ms(100);
  }
  for (t = 0; t < started; t++) pthread_join(tid[t], NULL);
  if (sp->progress && !job.setup_code)
    sp->progress(sp->n_patients, sp->n_patients, sp->progress_ud);
  res->n_steps = atomic_load(&job.steps);
  if (job.setup_code) {
    if (err) *err = job.setup_err;
    rc = job.setup_code;
  }

done:
  for (c = 0; job.cycle_dosing && c < sp->n_cycles; c++)
    rkin_dosing_free(job.cycle_dosing[c]);
  free(job.cycle_dosing);
  free(tid);
  pthread_mutex_destroy(&job.lock);
  return rc;
}
