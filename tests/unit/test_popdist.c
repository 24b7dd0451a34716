/* test_popdist.c - a population fit over several processes through the
 * engine's hooks (rkin_popfit_opts subj_lo / subj_hi, gather, agree),
 * without MPI: K threads play K processes, each running the whole fit
 * on its block of subjects, and the gathers go through shared memory.
 * Every process must end with the one-process fit to the last bit (OFV,
 * estimates, SEs, EBEs, tables), for K = 2, 3 and 13 (more processes
 * than Theophylline's 12 subjects), for the fit and for an evaluation
 * with the covariance step; a process whose set-up fails stops all of
 * them with its message. (tests/mpi.lua runs the same over MPI ranks.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "../tap.h"
#include "../theoph.h"

#define MAX_PROC 16

/* The "communicator": K processes, a barrier, a slot each. */
typedef struct {
  int k;
  pthread_barrier_t bar;
  const void *mine[MAX_PROC];
  size_t len[MAX_PROC];
  int rc[MAX_PROC];
  rkin_err err[MAX_PROC];
  long gathers[MAX_PROC];
} comm;

typedef struct {
  comm *c;
  int rank;
} proc;

static int gather(const void *mine, size_t len, void *all, size_t total,
                  void *ud, rkin_err *err)
{
  proc *pr = ud;
  comm *c = pr->c;
  size_t off = 0;
  int r, rc = RKIN_OK;
  c->mine[pr->rank] = mine;
  c->len[pr->rank] = len;
  c->gathers[pr->rank]++;
  pthread_barrier_wait(&c->bar);
  for (r = 0; r < c->k; r++) off += c->len[r];
  if (off != total)
    rc = rkin_err_set(err, RKIN_EINVAL, "gather: %zu bytes, %zu expected",
                      off, total);
  for (r = 0, off = 0; !rc && r < c->k; r++) {
    if (c->len[r]) memcpy((char *)all + off, c->mine[r], c->len[r]);
    off += c->len[r];
  }
  pthread_barrier_wait(&c->bar);   /* the slots may be reused after this */
  return rc;
}

static int agree(int rc, rkin_err *err, void *ud)
{
  proc *pr = ud;
  comm *c = pr->c;
  int r, first = -1;
  c->rc[pr->rank] = rc;
  c->err[pr->rank] = *err;
  pthread_barrier_wait(&c->bar);
  for (r = 0; r < c->k && first < 0; r++)
    if (c->rc[r]) first = r;
  if (first >= 0)
    rkin_err_set(err, c->rc[first], "process %d: %s", first,
                 c->err[first].msg);
  pthread_barrier_wait(&c->bar);
  return first >= 0 ? c->rc[first] : RKIN_OK;
}

typedef struct {
  proc pr;
  const rkin_popmodel *pm;
  const rkin_data *d;
  int evaluate, bad_range;
  int rc;
  rkin_err err;
  rkin_popfit fit;
} job;

static void *run_proc(void *arg)
{
  job *j = arg;
  comm *c = j->pr.c;
  size_t n = rkin_data_nsubjects(j->d), q, extra, r = (size_t)j->pr.rank;
  rkin_popfit_opts o;
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  o.covariance = 1;
  /* contiguous blocks, in process order, the first n % k one more */
  q = n / (size_t)c->k;
  extra = n % (size_t)c->k;
  o.subj_lo = r * q + (r < extra ? r : extra);
  o.subj_hi = o.subj_lo + q + (r < extra ? 1 : 0);
  if (j->bad_range && j->pr.rank == 1) o.subj_hi = n + 5;
  o.gather = gather;
  o.agree = agree;
  o.dist_ud = &j->pr;
  rkin_err_clear(&j->err);
  j->rc = j->evaluate
          ? rkin_popfit_evaluate(j->pm, j->d, &o, NULL, NULL, NULL, &j->fit,
                                 &j->err)
          : rkin_popfit_run(j->pm, j->d, &o, &j->fit, &j->err);
  return NULL;
}

static int same(const double *a, const double *b, size_t n)
{
  return n == 0 || (a && b && memcmp(a, b, n * sizeof *a) == 0);
}

/* Whether fit b is fit a to the last bit. */
static int same_fit(const rkin_popfit *a, const rkin_popfit *b)
{
  size_t ne = a->n_est;
  return a->status == b->status && a->n_eval == b->n_eval
         && same(&a->ofv, &b->ofv, 1) && same(a->theta, b->theta, a->n_theta)
         && same(a->omega, b->omega, a->n_eta * a->n_eta)
         && same(a->sigma, b->sigma, a->n_sigma)
         && a->cov_status == b->cov_status && a->n_est == b->n_est
         && (a->cov_status || (same(a->se, b->se, ne)
                                && same(a->cov, b->cov, ne * ne)))
         && same(a->eta, b->eta, a->n_subj * a->n_eta)
         && same(a->psi, b->psi, a->n_subj * a->n_psi)
         && same(a->ofv_i, b->ofv_i, a->n_subj)
         && same(a->eta_shrink, b->eta_shrink, a->n_eta)
         && same(&a->eps_shrink, &b->eps_shrink, 1)
         && same(a->pred, b->pred, a->n_obs)
         && same(a->ipred, b->ipred, a->n_obs)
         && same(a->iwres, b->iwres, a->n_obs)
         && same(a->cwres, b->cwres, a->n_obs)
         && a->n_multimodal == b->n_multimodal
         && a->cov_multimodal == b->cov_multimodal;
}

/* K processes; returns how many ended with the reference fit. */
static int run_k(int k, const rkin_popmodel *pm, const rkin_data *d,
                 int evaluate, int bad_range, const rkin_popfit *ref,
                 job *jobs, long *gathers)
{
  comm c;
  pthread_t th[MAX_PROC];
  int r, n_same = 0;
  memset(&c, 0, sizeof c);
  c.k = k;
  pthread_barrier_init(&c.bar, NULL, (unsigned)k);
  for (r = 0; r < k; r++) {
    memset(&jobs[r], 0, sizeof jobs[r]);
    jobs[r].pr.c = &c;
    jobs[r].pr.rank = r;
    jobs[r].pm = pm;
    jobs[r].d = d;
    jobs[r].evaluate = evaluate;
    jobs[r].bad_range = bad_range;
    pthread_create(&th[r], NULL, run_proc, &jobs[r]);
  }
  for (r = 0; r < k; r++) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&c.bar);
  for (r = 0; r < k; r++)
    n_same += ref && jobs[r].rc == 0 && same_fit(ref, &jobs[r].fit);
  *gathers = c.gathers[0];
  return n_same;
}

int main(void)
{
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_popfit ref, ref_ev;
  rkin_err err;
  rkin_data *d;
  job jobs[MAX_PROC];
  static const int ks[] = {2, 3, 13};
  size_t i;
  int r, rc;
  long gathers;
  rkin_init();
  plan(10);
  d = theoph_data(".", &err);
  if (!d) {
    diag("%s", err.msg);
    return 1;
  }
  theoph_popmodel_cf(&pm);
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  rc = rkin_popfit_run(&pm, d, &o, &ref, &err);
  ok(rc == 0 && ref.status == 0 && ref.cov_status == 0, "one process: "
     "Theophylline FOCE-I fit with its covariance step (%s)",
     rc ? err.msg : ref.status ? ref.err.msg
     : ref.cov_status ? ref.cov_err.msg : "ok");
  rc = rkin_popfit_evaluate(&pm, d, &o, NULL, NULL, NULL, &ref_ev, &err);
  ok(rc == 0 && ref_ev.status == 0, "one process: evaluation at the "
     "initial estimates (%s)", rc ? err.msg : "ok");

  for (i = 0; i < sizeof ks / sizeof *ks; i++) {
    int n = run_k(ks[i], &pm, d, 0, 0, &ref, jobs, &gathers);
    ok(n == ks[i], "%d processes: every one ends with the one-process fit "
       "to the last bit (%d of %d; %ld gathers, %d evaluations)", ks[i], n,
       ks[i], gathers, ref.n_eval);
    for (r = 0; r < ks[i]; r++) rkin_popfit_free(&jobs[r].fit);
  }
  for (i = 0; i < sizeof ks / sizeof *ks; i++) {
    int n = run_k(ks[i], &pm, d, 1, 0, &ref_ev, jobs, &gathers);
    ok(n == ks[i], "%d processes: the evaluation with its covariance step "
       "equal to the one-process one (%d of %d)", ks[i], n, ks[i]);
    for (r = 0; r < ks[i]; r++) rkin_popfit_free(&jobs[r].fit);
  }
  /* process 1 of 3 given a range beyond the data: its set-up fails, and
   * every process stops with its message (none waits in a gather) */
  run_k(3, &pm, d, 0, 1, NULL, jobs, &gathers);
  {
    int all = 1;
    for (r = 0; r < 3; r++) {
      all &= jobs[r].rc != 0 && strstr(jobs[r].err.msg, "process 1: "
                                       "population fit over several "
                                       "processes: subjects [4, 17) of "
                                       "12") != NULL;
      rkin_popfit_free(&jobs[r].fit);
    }
    ok(all, "a process whose set-up fails stops all 3 with its message "
       "(%s)", jobs[0].err.msg);
    ok(gathers == 0, "... before any gather (%ld)", gathers);
  }
  rkin_popfit_free(&ref);
  rkin_popfit_free(&ref_ev);
  rkin_data_free(d);
  return exit_status();
}
