/* poppass.c - a pass over all subjects of a population fit, shared out
 * over a pool of worker threads that lives as long as the fit; and the
 * Cholesky factor of Omega that a pass runs at. Called by the fit driver
 * (popest.c) and the covariance step (popcov.c); calls down to the
 * per-subject work (popsubj.c). */
#include "pop/popest_impl.h"

#include <gsl/gsl_linalg.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

struct pop_pool {
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  pthread_t *th;
  int n_started;
  unsigned long gen;
  int busy, quit;
  pop_task task;
};

/* ------------------------------------------------------------ threads */

static void work_share(pop *p, int t, pop_task task)
{
  size_t s;
  for (s = p->subj_lo + (size_t)t; s < p->subj_hi;
       s += (size_t)p->n_threads)
    pop_subject(&p->ws[t], s, task);
}

static void *worker(void *arg)
{
  pop_ws *w = arg;
  pop *p = w->p;
  struct pop_pool *pl = p->pool;
  int t = (int)(w - p->ws);
  unsigned long seen = 0;
  for (;;) {
    pop_task task;
    pthread_mutex_lock(&pl->mu);
    while (pl->gen == seen && !pl->quit) pthread_cond_wait(&pl->go, &pl->mu);
    if (pl->quit) {
      pthread_mutex_unlock(&pl->mu);
      break;
    }
    seen = pl->gen;
    task = pl->task;
    pthread_mutex_unlock(&pl->mu);
    work_share(p, t, task);
    pthread_mutex_lock(&pl->mu);
    if (--pl->busy == 0) pthread_cond_signal(&pl->done);
    pthread_mutex_unlock(&pl->mu);
  }
  return NULL;
}

int pop_pool_start(pop *p, rkin_err *err)
{
  struct pop_pool *pl = calloc(1, sizeof *pl);
  int t;
  if (!pl) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  p->pool = pl;
  pthread_mutex_init(&pl->mu, NULL);
  pthread_cond_init(&pl->go, NULL);
  pthread_cond_init(&pl->done, NULL);
  if (p->n_threads <= 1) return RKIN_OK;
  pl->th = calloc((size_t)p->n_threads, sizeof *pl->th);
  if (!pl->th) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  for (t = 1; t < p->n_threads; t++) {
    if (pthread_create(&pl->th[t], NULL, worker, &p->ws[t])) {
      p->n_threads = t;   /* run with the threads we got */
      break;
    }
    pl->n_started = t;
  }
  return RKIN_OK;
}

void pop_pool_stop(pop *p)
{
  struct pop_pool *pl = p->pool;
  int t;
  if (!pl) return;
  pthread_mutex_lock(&pl->mu);
  pl->quit = 1;
  pthread_cond_broadcast(&pl->go);
  pthread_mutex_unlock(&pl->mu);
  for (t = 1; t <= pl->n_started; t++) pthread_join(pl->th[t], NULL);
  pthread_mutex_destroy(&pl->mu);
  pthread_cond_destroy(&pl->go);
  pthread_cond_destroy(&pl->done);
  free(pl->th);
  free(pl);
  p->pool = NULL;
}

int pop_pass(pop *p, pop_task task, double *ofv, rkin_err *err)
{
  struct pop_pool *pl = p->pool;
  size_t s;
  double sum = 0;
  pop_iov_expand(p);     /* IOV: the subjects' factor from L */
  if (p->n_threads > 1) {
    pthread_mutex_lock(&pl->mu);
    pl->task = task;
    pl->busy = p->n_threads - 1;
    pl->gen++;
    pthread_cond_broadcast(&pl->go);
    pthread_mutex_unlock(&pl->mu);
  }
  work_share(p, 0, task);
  if (p->n_threads > 1) {
    pthread_mutex_lock(&pl->mu);
    while (pl->busy > 0) pthread_cond_wait(&pl->done, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
  }
  p->n_pass++;
  if (p->opts.gather) {
    int rc = pop_dist_gather(p, task, err);
    if (rc) return rc;
  }
  for (s = 0; s < p->n_subj; s++) {
    if (p->status[s]) {
      if (err) *err = p->serr[s];
      return p->status[s];
    }
    sum += p->ofv_i[s];
  }
  *ofv = sum;
  return RKIN_OK;
}

/* ------------------------------------------------------------ parameters */

int pop_cholesky(const double *omega, size_t n, double *L, const char *what,
                 rkin_err *err)
{
  gsl_matrix_view m = gsl_matrix_view_array(L, n, n);
  size_t a, b;
  for (a = 0; a < n; a++)
    for (b = 0; b < n; b++) {
      if (!isfinite(omega[a * n + b]))
        return rkin_err_set(err, RKIN_EINVAL, "%s(%zu,%zu) = %g is not "
                            "finite", what, a + 1, b + 1, omega[a * n + b]);
      if (omega[a * n + b] != omega[b * n + a])
        return rkin_err_set(err, RKIN_EINVAL, "%s is not symmetric: entry "
                            "(%zu,%zu) = %g but (%zu,%zu) = %g", what,
                            a + 1, b + 1, omega[a * n + b], b + 1, a + 1,
                            omega[b * n + a]);
      L[a * n + b] = omega[a * n + b];
    }
  if (gsl_linalg_cholesky_decomp1(&m.matrix))
    return rkin_err_set(err, RKIN_EINVAL, "%s is not positive definite "
                        "(expected variances > 0 and |correlations| < 1)",
                        what);
  for (a = 0; a < n; a++)
    for (b = a + 1; b < n; b++) L[a * n + b] = 0;
  return RKIN_OK;
}

