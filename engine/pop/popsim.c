/* popsim.c - simulation from a population model over a dataset's design
 * (popsim.h). Each worker thread owns a fit state (pop_new with one
 * thread: its own solver and psi tape) and takes whole replicates; each
 * (replicate, subject) pair seeds its own generator, so the result is the
 * same for any thread count. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "pop/popest_impl.h"
#include "pop/popsim.h"

static uint64_t splitmix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t rkin_popsim_stream_seed(uint64_t seed, size_t r, size_t i)
{
  return splitmix64(splitmix64(splitmix64(seed) ^ (uint64_t)r) ^
                    (uint64_t)i);
}

typedef struct {
  const rkin_popmodel *pm;
  const rkin_data *data;
  const rkin_popsim_opts *o;
  rkin_popsim *out;
  pthread_mutex_t mu;
  size_t next;
  int rc;                 /* the lowest failed replicate's error */
  size_t fail_rep;
  rkin_err err;
} sim_ctx;

/* A fit state for simulation: one thread, no covariance step. */
static pop *sim_pop(const sim_ctx *c, rkin_err *err)
{
  rkin_popfit_opts fo;
  pop *p;
  rkin_popfit_opts_default(&fo);
  fo.threads = 1;
  fo.covariance = 0;
  p = pop_new(c->pm, c->data, &fo, err);
  return p;
}

/* Replicate r into out->dv: p's parameters set to the replicate's. With
 * IOV a subject draws all n_ei etas from blockdiag(Omega, Omega_iov, ...):
 * its own etas, then a fresh copy of the occasion etas for each further
 * occasion (the slots of occasions it lacks change no prediction). */
static int sim_rep(pop *p, const sim_ctx *c, size_t r, double *f,
                   double *z, double *eta, gsl_rng *g, rkin_err *err)
{
  const rkin_popsim_opts *o = c->o;
  size_t q = p->n_eta, qe, s, j, a, b;
  const double *th = o->rep_theta ? o->rep_theta + r * p->n_theta : o->theta;
  const double *om = o->rep_omega ? o->rep_omega + r * q * q : o->omega;
  const double *sg = o->rep_sigma ? o->rep_sigma + r * p->n_sigma : o->sigma;
  int rc = pop_set_natural(p, th, om, sg, err);
  if (rc) return rkin_err_prefix(err, "replicate %zu: ", r + 1);
  pop_iov_expand(p);
  qe = p->n_ei;
  for (s = 0; s < p->n_subj; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    uint64_t sd = rkin_popsim_stream_seed(o->seed, r, s);
    gsl_rng_set(g, (unsigned long)(uint32_t)(sd ^ (sd >> 32)));
    for (a = 0; a < qe; a++) z[a] = gsl_ran_gaussian_ziggurat(g, 1.0);
    for (a = 0; a < qe; a++) {
      eta[a] = 0;
      for (b = 0; b <= a; b++) eta[a] += p->Li[a * qe + b] * z[b];
    }
    rc = pop_predict(&p->ws[0], s, eta, f, err);
    if (rc) return rkin_err_prefix(err, "replicate %zu: ", r + 1);
    for (j = 0; j < sj->n_obs; j++) {
      size_t gi = p->obs_off[s] + j;
      const pop_ep *e = &p->ep[p->obs_ep[gi]];
      double y = f[j];
      if (!o->no_residual) {
        rkin_res_obs ro;
        double sv = p->has_scale ? f[sj->n_obs + j] : f[j], eps;
        rc = rkin_res_eval(e->res, e->log_scale, p->sigma + e->sig_off,
                           f[j], f[j], sv, 0, NAN, &ro);
        if (rc)
          return rkin_err_set(err, rc, "replicate %zu: subject ID %g (line "
                              "%zu): prediction %g: the residual SD is not "
                              "> 0 and finite", r + 1, sj->id,
                              sj->obs_line[j], f[j]);
        eps = gsl_ran_gaussian_ziggurat(g, 1.0) * sqrt(ro.V);
        y = e->log_scale ? f[j] * exp(eps) : f[j] + eps;
      }
      c->out->dv[r * p->n_obs + gi] = y;
    }
  }
  return RKIN_OK;
}

static void fail(sim_ctx *c, size_t r, int rc, const rkin_err *e)
{
  pthread_mutex_lock(&c->mu);
  if (!c->rc || r < c->fail_rep) {
    c->rc = rc;
    c->fail_rep = r;
    c->err = *e;
  }
  pthread_mutex_unlock(&c->mu);
}

static void *worker(void *arg)
{
  sim_ctx *c = arg;
  rkin_err e;
  pop *p;
  double *f = NULL, *z = NULL, *eta = NULL;
  gsl_rng *g = NULL;
  int rc;
  rkin_err_clear(&e);
  /* set-ups one at a time: they read the shared model and dataset */
  pthread_mutex_lock(&c->mu);
  p = sim_pop(c, &e);
  pthread_mutex_unlock(&c->mu);
  if (!p) {
    fail(c, 0, e.code ? e.code : RKIN_EINVAL, &e);
    return NULL;
  }
  f = malloc((2 * p->max_obs + 1) * sizeof *f);
  z = malloc((p->n_ei + 1) * sizeof *z);
  eta = malloc((p->n_ei + 1) * sizeof *eta);
  g = gsl_rng_alloc(gsl_rng_mt19937);
  if (!f || !z || !eta || !g) {
    rc = rkin_err_set(&e, RKIN_ENOMEM, "simulation: out of memory");
    fail(c, 0, rc, &e);
    goto done;
  }
  for (;;) {
    size_t r;
    pthread_mutex_lock(&c->mu);
    r = c->next++;
    if (c->rc && r > c->fail_rep) r = c->o->n_rep;
    pthread_mutex_unlock(&c->mu);
    if (r >= c->o->n_rep) break;
    rc = sim_rep(p, c, r, f, z, eta, g, &e);
    if (rc) fail(c, r, rc, &e);
  }
done:
  gsl_rng_free(g);
  free(f);
  free(z);
  free(eta);
  pop_free(p);
  return NULL;
}

/* PRED: every subject at eta = 0 with the base parameters. */
static int typical(sim_ctx *c, rkin_err *err)
{
  pop *p = sim_pop(c, err);
  double *f, *eta;
  size_t s;
  int rc;
  if (!p) return err->code ? err->code : RKIN_EINVAL;
  f = malloc((2 * p->max_obs + 1) * sizeof *f);
  eta = calloc(p->n_ei + 1, sizeof *eta);
  rc = f && eta ? pop_set_natural(p, c->o->theta, c->o->omega, c->o->sigma,
                                  err)
       : rkin_err_set(err, RKIN_ENOMEM, "simulation: out of memory");
  for (s = 0; !rc && s < p->n_subj; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    rc = pop_predict(&p->ws[0], s, eta, f, err);
    if (!rc)
      memcpy(c->out->pred + p->obs_off[s], f, sj->n_obs * sizeof *f);
  }
  for (s = 0; !rc && s < p->n_obs; s++)
    c->out->endpoint[s] = p->obs_ep[s] + 1;
  c->out->n_sigma = p->n_sigma;
  if (rc) rkin_err_prefix(err, "typical prediction (PRED): ");
  free(f);
  free(eta);
  pop_free(p);
  return rc;
}

int rkin_popsim_run(const rkin_popmodel *pm, const rkin_data *data,
                    const rkin_popsim_opts *opts, rkin_popsim *out,
                    rkin_err *err)
{
  sim_ctx c;
  pthread_t *th = NULL;
  size_t n_obs, k, started = 0;
  int t, rc;
  if (!out) return rkin_err_set(err, RKIN_EINVAL, "simulation: NULL result");
  memset(out, 0, sizeof *out);
  if (!pm || !data || !opts)
    return rkin_err_set(err, RKIN_EINVAL, "simulation: NULL argument");
  if (opts->n_rep < 1)
    return rkin_err_set(err, RKIN_EINVAL, "simulation: %zu replicates "
                        "(expected >= 1)", opts->n_rep);
  if (!opts->theta || !opts->omega || !opts->sigma)
    return rkin_err_set(err, RKIN_EINVAL, "simulation: the parameters "
                        "(theta, omega, sigma) are required");
  n_obs = rkin_data_nobs(data);
  if (n_obs && opts->n_rep > ((size_t)1 << 40) / n_obs)
    return rkin_err_set(err, RKIN_ERANGE, "simulation: %zu replicates of "
                        "%zu observations are too many", opts->n_rep, n_obs);
  out->n_rep = opts->n_rep;
  out->n_obs = n_obs;
  out->n_subj = rkin_data_nsubjects(data);
  out->dv = malloc((opts->n_rep * n_obs + 1) * sizeof *out->dv);
  out->pred = malloc((n_obs + 1) * sizeof *out->pred);
  out->endpoint = malloc((n_obs + 1) * sizeof *out->endpoint);
  if (!out->dv || !out->pred || !out->endpoint)
    return rkin_err_set(err, RKIN_ENOMEM, "simulation: out of memory for "
                        "%zu x %zu values", opts->n_rep, n_obs);
  memset(&c, 0, sizeof c);
  c.pm = pm;
  c.data = data;
  c.o = opts;
  c.out = out;
  rkin_err_clear(&c.err);
  rc = typical(&c, err);
  if (rc) return rc;
  pthread_mutex_init(&c.mu, NULL);
  t = opts->threads > 0 ? opts->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (t < 1) t = 1;
  if ((size_t)t > opts->n_rep) t = (int)opts->n_rep;
  if (t > 1 && !(th = calloc((size_t)t, sizeof *th))) t = 1;
  for (k = 1; k < (size_t)t; k++)
    if (pthread_create(&th[k], NULL, worker, &c) == 0) started = k;
    else break;
  worker(&c);
  for (k = 1; k <= started; k++) pthread_join(th[k], NULL);
  free(th);
  pthread_mutex_destroy(&c.mu);
  if (c.rc) {
    if (err) *err = c.err;
    return c.rc;
  }
  return RKIN_OK;
}

void rkin_popsim_free(rkin_popsim *out)
{
  if (!out) return;
  free(out->dv);
  free(out->pred);
  free(out->endpoint);
  memset(out, 0, sizeof *out);
}
