/* saem.c - SAEM population estimation (see saem.h): MCMC kernels, the
 * stochastic approximation, the M-step, importance-sampling objective and
 * the chained refinement. Uses the fit's set-up, predictions and
 * per-observation likelihood (popest.c, popsubj.c, popres.c). */
#include "pop/saem.h"
#include "pop/popest_impl.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Iterations of MCMC at the initial estimates before the first update
 * (the chains leave eta = 0 first). */
#define SAEM_PRE 5
/* Random-walk scales: target acceptance and limits. */
#define ACC_TARGET 0.4
#define D_MIN 1e-3
#define D_MAX 10.0
/* Simulated annealing: a variance falls by at most this factor per
 * iteration in the first half of the exploration. */
#define ANNEAL 0.95
/* Value of a proposal whose prediction fails: rejected. */
#define BAD HUGE_VAL

void rkin_saem_opts_default(rkin_saem_opts *o)
{
  memset(o, 0, sizeof *o);
  o->burn = 300;
  o->iter = 200;
  o->chains = 1;
  o->seed = 1;
  o->n_prior = 2;
  o->n_comp = 2;
  o->n_block = 2;
  o->imp_samples = 1000;
  o->imp_df = 5;
  o->then = -1;
  o->se = RKIN_SAEM_SE_LIN;
  o->se_iter = 300;
}

typedef struct saem saem;
typedef void (*job_fn)(saem *S, int t, size_t s);

struct saem {
  pop *p;
  rkin_saem_opts o;
  size_t q, ns, nc, rows;
  size_t qe;                   /* etas per chain state: n_ei (with IOV the
                                  occasion copies follow the user's etas) */
  int mu_of[POP_MAX_ETA];      /* theta mu-referenced by eta k, or -1 */
  int *is_mu;                  /* per theta: mu-referenced */
  size_t n_nm, *nm;            /* free thetas without closed form */
  int *sig_cf;                 /* per sigma: 1 closed form, 0 numerical,
                                  -1 fixed */
  size_t n_sn, *sn;            /* numerical sigmas */
  double *eta;                 /* ns x nc x qe: the chains */
  double *cy;                  /* ns x nc: -2 log p(y | eta) */
  double *fc;                  /* ns x nc x rows: predictions there */
  gsl_rng **rng;               /* ns x nc, then ns for the IS */
  unsigned long *acc, *tries;  /* ns x (2 + qe) */
  double dcomp[POP_MAX_ETA], dblock;
  double s1[POP_MAX_ETA], s2[POP_MAX_ETA * POP_MAX_ETA], *ssig;
  double *fbuf;                /* n_threads x rows */
  double *obj_i;               /* ns: per-subject results of a job */
  double *se_i;
  int *st;                     /* ns: status of a job */
  rkin_err *er;
  int pre;                     /* MCMC before the first update */
  /* pool */
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  pthread_t th[64];
  int n_th, busy, quit;
  unsigned long gen;
  job_fn job;
  int no_gather;               /* 1: jobs keep their results local */
  struct sa_state *sa;         /* standard errors by SA (sa_*) */
};

/* ------------------------------------------------------------ threads */

/* Thread t's share of this process's subjects [subj_lo, subj_hi) (all of
 * them unless the fit runs over several processes). */
static void share(saem *S, int t)
{
  size_t s;
  for (s = S->p->subj_lo + (size_t)t; s < S->p->subj_hi;
       s += (size_t)S->n_th)
    S->job(S, t, s);
}

typedef struct {
  saem *S;
  int t;
} targ;

static void *worker(void *a)
{
  saem *S = ((targ *)a)->S;
  int t = ((targ *)a)->t;
  unsigned long seen = 0;
  free(a);
  for (;;) {
    pthread_mutex_lock(&S->mu);
    while (S->gen == seen && !S->quit) pthread_cond_wait(&S->go, &S->mu);
    if (S->quit) {
      pthread_mutex_unlock(&S->mu);
      return NULL;
    }
    seen = S->gen;
    pthread_mutex_unlock(&S->mu);
    share(S, t);
    pthread_mutex_lock(&S->mu);
    if (--S->busy == 0) pthread_cond_signal(&S->done);
    pthread_mutex_unlock(&S->mu);
  }
}

static void dist_gather(saem *S, job_fn f);

static void run_job(saem *S, job_fn f)
{
  S->job = f;
  if (S->n_th > 1) {
    pthread_mutex_lock(&S->mu);
    S->busy = S->n_th - 1;
    S->gen++;
    pthread_cond_broadcast(&S->go);
    pthread_mutex_unlock(&S->mu);
  }
  share(S, 0);
  if (S->n_th > 1) {
    pthread_mutex_lock(&S->mu);
    while (S->busy > 0) pthread_cond_wait(&S->done, &S->mu);
    pthread_mutex_unlock(&S->mu);
  }
  if (S->p->opts.gather && !S->no_gather) dist_gather(S, f);
}

static void pool_start(saem *S)
{
  int t, want = S->p->n_threads;
  pthread_mutex_init(&S->mu, NULL);
  pthread_cond_init(&S->go, NULL);
  pthread_cond_init(&S->done, NULL);
  if (want > 64) want = 64;
  S->n_th = 1;
  for (t = 1; t < want; t++) {
    targ *a = malloc(sizeof *a);
    if (!a) break;
    a->S = S;
    a->t = t;
    if (pthread_create(&S->th[t], NULL, worker, a)) {
      free(a);
      break;
    }
    S->n_th = t + 1;
  }
}

static void pool_stop(saem *S)
{
  int t;
  pthread_mutex_lock(&S->mu);
  S->quit = 1;
  pthread_cond_broadcast(&S->go);
  pthread_mutex_unlock(&S->mu);
  for (t = 1; t < S->n_th; t++) pthread_join(S->th[t], NULL);
  pthread_mutex_destroy(&S->mu);
  pthread_cond_destroy(&S->go);
  pthread_cond_destroy(&S->done);
}

/* ------------------------------------------------------------ helpers */

/* A 64-bit mix (splitmix64's finaliser) for independent stream seeds. */
static unsigned long mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return (unsigned long)(x ? x : 1);
}

/* -2 log p(y_s | eta) without constants (f: predictions into f). */
static int cond_m2ll(saem *S, int t, size_t s, const double *eta, double *f,
                     double *val, rkin_err *err)
{
  pop *p = S->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t j, n = sj->n_obs;
  double v = 0;
  rkin_res_obs o;
  int rc = pop_predict(&p->ws[t], s, eta, f, err);
  if (rc) return rc;
  for (j = 0; j < n; j++) {
    if ((rc = pop_obs(p, s, j, f[j], f[p->has_scale ? n + j : j], &o, err)))
      return rc;
    v += o.c;
  }
  if (!isfinite(v))
    return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: likelihood "
                        "is not finite", sj->id);
  *val = v;
  return RKIN_OK;
}

/* Etas subject s has: with IOV its own, then the occasion etas of its
 * further occasions; the slots of occasions it lacks (at the end of the
 * n_ei) are kept at 0 and out of every sum. */
static size_t n_act(const pop *p, size_t s)
{
  return p->n_iov ? p->n_eta + (p->occ_n[s] - 1) * p->n_iov : p->n_eta;
}

/* z'z, z = Li^-1 eta over the first n etas (Li's leading block is the
 * factor of Omega_i's leading block). */
static double prior_q(const pop *p, size_t n, const double *eta, double *z)
{
  size_t q = p->n_ei, a, b;
  double zz = 0;
  for (a = 0; a < n; a++) {
    double t = eta[a];
    for (b = 0; b < a; b++) t -= p->Li[a * q + b] * z[b];
    z[a] = t / p->Li[a * q + a];
    zz += z[a] * z[a];
  }
  return zz;
}

static void l_times(const pop *p, size_t n, const double *z, double *eta)
{
  size_t q = p->n_ei, a, b;
  for (a = 0; a < n; a++) {
    double t = 0;
    for (b = 0; b <= a; b++) t += p->Li[a * q + b] * z[b];
    eta[a] = t;
  }
}

/* ------------------------------------------------------------ MCMC */

/* One Metropolis-Hastings step: accept eta_new when u < exp(-(J' - J)/2),
 * J the -2 log posterior (cond + prior) or, for prior proposals, cond
 * alone. */
static int mh(gsl_rng *r, double jnew, double jold)
{
  if (!(jnew < BAD)) return 0;
  if (jnew <= jold) return 1;
  return log(gsl_rng_uniform_pos(r)) < -0.5 * (jnew - jold);
}

static void mcmc_job(saem *S, int t, size_t s)
{
  pop *p = S->p;
  size_t q = n_act(p, s), qe = S->qe, c, k, a, rows = S->rows;
  double *ftry = S->fbuf + (size_t)t * rows;
  double et[POP_MAX_ETA] = {0}, z[POP_MAX_ETA], x[POP_MAX_ETA];
  unsigned long *acc = S->acc + s * (2 + qe), *tr = S->tries + s * (2 + qe);
  S->st[s] = RKIN_OK;
  for (c = 0; c < S->nc; c++) {
    size_t id = s * S->nc + c;
    double *eta = S->eta + id * qe, *fcur = S->fc + id * rows;
    gsl_rng *r = S->rng[id];
    double cy, pq, cn;
    int m, rc;
    rc = cond_m2ll(S, t, s, eta, fcur, &cy, &S->er[s]);
    if (rc) {
      S->st[s] = rc;
      return;
    }
    pq = prior_q(p, q, eta, z);
    /* kernel 1: the prior */
    for (m = 0; m < S->o.n_prior; m++) {
      for (k = 0; k < q; k++) x[k] = gsl_ran_gaussian_ziggurat(r, 1.0);
      l_times(p, q, x, et);
      tr[0]++;
      if (cond_m2ll(S, t, s, et, ftry, &cn, &S->er[s])) cn = BAD;
      if (mh(r, cn, cy)) {
        acc[0]++;
        memcpy(eta, et, q * sizeof *et);
        memcpy(fcur, ftry, rows * sizeof *ftry);
        cy = cn;
        pq = prior_q(p, q, eta, z);
      }
    }
    /* kernel 2: one component at a time */
    for (m = 0; m < S->o.n_comp; m++)
      for (k = 0; k < q; k++) {
        double pn, sd = 0;
        for (a = 0; a <= k; a++)
          sd += p->Li[k * qe + a] * p->Li[k * qe + a];
        memcpy(et, eta, q * sizeof *et);
        et[k] += S->dcomp[k] * sqrt(sd) * gsl_ran_gaussian_ziggurat(r, 1.0);
        tr[2 + k]++;
        if (cond_m2ll(S, t, s, et, ftry, &cn, &S->er[s])) cn = BAD;
        pn = prior_q(p, q, et, x);
        if (mh(r, cn + pn, cy + pq)) {
          acc[2 + k]++;
          memcpy(eta, et, q * sizeof *et);
          memcpy(fcur, ftry, rows * sizeof *ftry);
          cy = cn;
          pq = pn;
        }
      }
    /* kernel 3: the whole vector, scaled by L */
    for (m = 0; m < S->o.n_block; m++) {
      double pn;
      for (k = 0; k < q; k++) x[k] = S->dblock * gsl_ran_gaussian_ziggurat(r, 1.0);
      l_times(p, q, x, et);
      for (k = 0; k < q; k++) et[k] += eta[k];
      tr[1]++;
      if (cond_m2ll(S, t, s, et, ftry, &cn, &S->er[s])) cn = BAD;
      pn = prior_q(p, q, et, x);
      if (mh(r, cn + pn, cy + pq)) {
        acc[1]++;
        memcpy(eta, et, q * sizeof *et);
        memcpy(fcur, ftry, rows * sizeof *ftry);
        cy = cn;
        pq = pn;
      }
    }
    S->cy[id] = cy;
  }
  rkin_err_clear(&S->er[s]);
}

/* Adapts the random-walk scales from this iteration's acceptance (sums in
 * subject order: the same for any thread count). */
static void adapt(saem *S, double *rates)
{
  size_t q = S->qe, s, k;
  for (k = 0; k < 2 + q; k++) {
    unsigned long a = 0, n = 0;
    double rate;
    for (s = 0; s < S->ns; s++) {
      a += S->acc[s * (2 + q) + k];
      n += S->tries[s * (2 + q) + k];
    }
    rate = n ? (double)a / (double)n : ACC_TARGET;
    if (k == 0) rates[0] = rate;
    else if (k == 1) rates[2] = rate;
    else rates[1] += rate / (double)q;
    if (k == 0) continue;
    {
      double *d = k == 1 ? &S->dblock : &S->dcomp[k - 2];
      *d *= 1 + 0.4 * (rate - ACC_TARGET);
      if (*d < D_MIN) *d = D_MIN;
      if (*d > D_MAX) *d = D_MAX;
    }
  }
  memset(S->acc, 0, S->ns * (2 + q) * sizeof *S->acc);
  memset(S->tries, 0, S->ns * (2 + q) * sizeof *S->tries);
}

/* ------------------------------------------------------------ set-up */

/* theta j is mu-referenced by eta k when psi(theta + d e_j, eta) equals
 * psi(theta, eta + d e_k) for several subjects and etas (to rounding):
 * then eta k is additive to theta j on the scale psi reads them. */
static int shifts_equal(saem *S, size_t j, size_t k, rkin_err *err)
{
  pop *p = S->p;
  pop_ws *w = &p->ws[0];
  size_t q = S->q, np = p->n_psi, i, l, e;
  size_t subj[3] = {0, S->ns / 2, S->ns - 1};
  static const double eval[2] = {0.137, -0.291}, d = 0.3;
  double eta[POP_MAX_ETA] = {0}, *a = malloc(np * sizeof *a);
  double th0 = p->theta[j];
  int same = 1;
  if (!a) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  for (i = 0; same && i < 3; i++)
    for (e = 0; same && e < 2; e++) {
      for (l = 0; l < q; l++) eta[l] = eval[e] * (double)(l + 1) / (double)q;
      p->theta[j] = th0 + d;
      if (pop_psi(w, subj[i], eta, err)) {
        same = 0;
        break;
      }
      memcpy(a, w->psi, np * sizeof *a);
      p->theta[j] = th0;
      eta[k] += d;
      if (pop_psi(w, subj[i], eta, err)) {
        same = 0;
        break;
      }
      for (l = 0; l < np; l++)
        if (!(fabs(a[l] - w->psi[l])
              <= 1e-9 * fmax(fabs(a[l]), fabs(w->psi[l])) + 1e-300))
          same = 0;
    }
  p->theta[j] = th0;
  free(a);
  rkin_err_clear(err);
  return same;
}

static int theta_fixed(const pop *p, size_t j)
{
  return p->pm->theta_fix && p->pm->theta_fix[j];
}

static int sigma_fixed(const pop *p, size_t k)
{
  return p->pm->sigma_fix && p->pm->sigma_fix[k];
}

static int setup(saem *S, rkin_err *err)
{
  pop *p = S->p;
  size_t q = S->q, j, k, a, b, s, e;
  S->is_mu = calloc(p->n_theta + 1, sizeof *S->is_mu);
  S->nm = calloc(p->n_theta + 1, sizeof *S->nm);
  S->sig_cf = calloc(p->n_sigma + 1, sizeof *S->sig_cf);
  S->sn = calloc(p->n_sigma + 1, sizeof *S->sn);
  S->ssig = calloc(p->n_sigma + 1, sizeof *S->ssig);
  if (!S->is_mu || !S->nm || !S->sig_cf || !S->sn || !S->ssig)
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  for (k = 0; k < q; k++) {
    S->mu_of[k] = -1;
    /* an occasion eta has mean 0: it never carries a theta */
    if (p->n_iov && p->iov_idx[k] >= 0) continue;
    for (j = 0; j < p->n_theta && S->mu_of[k] < 0; j++)
      if (!S->is_mu[j] && shifts_equal(S, j, k, err)) {
        S->mu_of[k] = (int)j;
        S->is_mu[j] = 1;
      }
  }
  for (j = 0; j < p->n_theta; j++)
    if (!S->is_mu[j] && !theta_fixed(p, j)) S->nm[S->n_nm++] = j;
  /* Omega: a fixed variance inside a block with estimated covariances has
   * no closed-form update. */
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++)
      if (a != b && pop_same_block(p, a, b) && p->om_fix[a * q + a]
          && !p->om_fix[a * q + b])
        return rkin_err_set(err, RKIN_EINVAL, "SAEM: omega(%zu,%zu) is "
                            "fixed but the covariances of its block are "
                            "estimated; fix the whole block or none of it",
                            a + 1, a + 1);
  /* sigma: one-parameter models (additive, proportional) without
   * censored records are closed form */
  for (e = 0; e < p->n_ep; e++) {
    const pop_ep *ep = &p->ep[e];
    int cens = 0;
    for (s = 0; s < p->n_obs; s++)
      if ((size_t)p->obs_ep[s] == e && p->obs_kind[s] == POP_OBS_CENS)
        cens = 1;
    for (k = ep->sig_off; k < ep->sig_off + ep->n_sig; k++) {
      S->sig_cf[k] = sigma_fixed(p, k) ? -1
                     : (ep->n_sig == 1 && !cens
                        && (ep->res == RKIN_RES_ADD
                            || ep->res == RKIN_RES_PROP));
      if (S->sig_cf[k] == 0) S->sn[S->n_sn++] = k;
    }
  }
  if (S->n_nm > 64 || S->n_sn > 64)
    return rkin_err_set(err, RKIN_EINVAL, "SAEM: %zu thetas and %zu sigma "
                        "parameters without a closed-form update (expected "
                        "at most 64 each)", S->n_nm, S->n_sn);
  return RKIN_OK;
}

/* ------------------------------------------------------------ M-step */

static double mu_k(const saem *S, size_t k)
{
  return S->mu_of[k] >= 0 ? S->p->theta[S->mu_of[k]] : 0;
}

static void clamp_theta(const pop *p, size_t j)
{
  const rkin_popmodel *pm = p->pm;
  if (pm->theta_lower && p->theta[j] < pm->theta_lower[j])
    p->theta[j] = pm->theta_lower[j];
  if (pm->theta_upper && p->theta[j] > pm->theta_upper[j])
    p->theta[j] = pm->theta_upper[j];
}

/* Statistics of this iteration's samples into s1n (mean of u), s2n (mean
 * of u u'), sgn (closed-form sigma^2 estimates at these samples). With
 * IOV, the entries of two occasion etas are means over every (subject,
 * occasion): each occasion's copy is one draw of N(0, Omega_iov), so the
 * M-step's variance is their mean square (mu = 0). */
static int stats(saem *S, double *s1n, double *s2n, double *sgn,
                 rkin_err *err)
{
  pop *p = S->p;
  size_t q = S->q, s, c, a, b, j, k;
  double u[POP_MAX_ETA], *cnt = calloc(p->n_sigma + 1, sizeof *cnt);
  double nn = (double)(S->ns * S->nc), no = 0;
  rkin_res_obs o;
  if (!cnt) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  for (s = 0; p->n_iov && s < S->ns; s++) no += (double)p->occ_n[s];
  no *= (double)S->nc;
  memset(s1n, 0, q * sizeof *s1n);
  memset(s2n, 0, q * q * sizeof *s2n);
  memset(sgn, 0, p->n_sigma * sizeof *sgn);
  for (s = 0; s < S->ns; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    size_t n = sj->n_obs;
    for (c = 0; c < S->nc; c++) {
      size_t id = s * S->nc + c;
      const double *f = S->fc + id * S->rows;
      const double *e = S->eta + id * S->qe;
      for (a = 0; a < q; a++) u[a] = e[a] + mu_k(S, a);
      for (a = 0; a < q; a++) {
        int ia = p->n_iov && p->iov_idx[a] >= 0;
        s1n[a] += u[a] / nn;
        for (b = 0; b < q; b++)
          if (!ia || p->iov_idx[b] < 0) s2n[a * q + b] += u[a] * u[b] / nn;
      }
      for (k = 0; p->n_iov && k < p->occ_n[s]; k++) {
        /* occasion k's copies: slot 0 the user's etas, else after them */
        const double *ek = k ? e + q + (k - 1) * p->n_iov : NULL;
        for (a = 0; a < q; a++) {
          double ua;
          if (p->iov_idx[a] < 0) continue;
          ua = ek ? ek[p->iov_idx[a]] : e[a];
          for (b = 0; b < q; b++)
            if (p->iov_idx[b] >= 0)
              s2n[a * q + b] += ua * (ek ? ek[p->iov_idx[b]] : e[b]) / no;
        }
      }
      for (j = 0; j < n; j++) {
        size_t g = p->obs_off[s] + j;
        const pop_ep *ep = &p->ep[p->obs_ep[g]];
        int rc;
        k = ep->sig_off;
        if (p->obs_kind[g] != POP_OBS_NORMAL || S->sig_cf[k] != 1) continue;
        rc = pop_obs(p, s, j, f[j], f[p->has_scale ? n + j : j], &o, err);
        if (rc) {
          free(cnt);
          return rc;
        }
        /* V = sigma^2 g^2: r^2 / g^2 estimates sigma^2 */
        sgn[k] += o.r * o.r / o.V * p->sigma[k] * p->sigma[k];
        cnt[k] += 1;
      }
    }
  }
  for (k = 0; k < p->n_sigma; k++)
    if (S->sig_cf[k] == 1) sgn[k] = cnt[k] > 0 ? sgn[k] / cnt[k]
                                               : p->sigma[k] * p->sigma[k];
  free(cnt);
  return RKIN_OK;
}

/* mu-referenced thetas and Omega from the statistics. Within a block,
 * the free means given the known ones by generalised least squares;
 * Omega = E[(u - mu)(u - mu)'], zero across blocks, FIX kept. */
static int update_omega(saem *S, int anneal, rkin_err *err)
{
  pop *p = S->p;
  size_t q = S->q, a, b, c;
  double om[POP_MAX_ETA * POP_MAX_ETA], old[POP_MAX_ETA * POP_MAX_ETA];
  double mu[POP_MAX_ETA];
  int freemu[POP_MAX_ETA];
  pop_omega_of(p, old);
  for (a = 0; a < q; a++) {
    freemu[a] = S->mu_of[a] >= 0 && !theta_fixed(p, (size_t)S->mu_of[a]);
    mu[a] = freemu[a] ? S->s1[a] : mu_k(S, a);
  }
  /* GLS correction: mu_F = s1_F - Om_FR Om_RR^-1 (s1_R - mu_R), per block */
  for (a = 0; a < q; a++) {
    size_t R[POP_MAX_ETA], nr = 0;
    if (!freemu[a]) continue;
    for (b = 0; b < q; b++)
      if (b != a && !freemu[b] && pop_same_block(p, a, b)
          && old[a * q + b] != 0)
        R[nr++] = b;
    if (nr) {
      double M[POP_MAX_ETA * POP_MAX_ETA], v[POP_MAX_ETA];
      gsl_matrix_view Mv = gsl_matrix_view_array(M, nr, nr);
      gsl_vector_view vv = gsl_vector_view_array(v, nr);
      for (b = 0; b < nr; b++) {
        v[b] = S->s1[R[b]] - mu[R[b]];
        for (c = 0; c < nr; c++) M[b * nr + c] = old[R[b] * q + R[c]];
      }
      if (!gsl_linalg_cholesky_decomp1(&Mv.matrix)
          && !gsl_linalg_cholesky_svx(&Mv.matrix, &vv.vector))
        for (b = 0; b < nr; b++) mu[a] -= old[a * q + R[b]] * v[b];
    }
  }
  for (a = 0; a < q; a++)
    if (freemu[a]) {
      size_t j = (size_t)S->mu_of[a];
      p->theta[j] = mu[a];
      clamp_theta(p, j);
      mu[a] = p->theta[j];
    }
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++) {
      double v = S->s2[a * q + b] - S->s1[a] * mu[b] - mu[a] * S->s1[b]
                 + mu[a] * mu[b];
      if (!pop_same_block(p, a, b)) v = 0;
      if (p->om_fix[a * q + b]) v = p->pm->omega_init[a * q + b];
      om[a * q + b] = v;
    }
  for (a = 0; a < q; a++) {
    double lo = anneal ? ANNEAL * old[a * q + a] : 0;
    double floor_v = 1e-12 * p->sd0[a] * p->sd0[a];
    if (lo < floor_v) lo = floor_v;
    if (!p->om_fix[a * q + a] && om[a * q + a] < lo) {
      /* keep the correlations: scale row and column */
      double f = sqrt(lo / fmax(om[a * q + a], 1e-300));
      for (b = 0; b < q; b++)
        if (b != a) {
          om[a * q + b] *= f;
          om[b * q + a] *= f;
        }
      om[a * q + a] = lo;
    }
  }
  for (a = 0; a < q; a++)     /* exact symmetry */
    for (b = 0; b < a; b++) om[b * q + a] = om[a * q + b];
  if (pop_cholesky(om, q, p->L, "SAEM: omega", err)) {
    /* rounding in a (near) singular block: a small ridge */
    for (a = 0; a < q; a++) om[a * q + a] *= 1 + 1e-8;
    return pop_cholesky(om, q, p->L, "SAEM: omega", err);
  }
  return RKIN_OK;
}

/* The complete-data objective over the numerical sigmas (predictions
 * fixed at the current samples). */
typedef struct {
  saem *S;
  int fail;
  rkin_err err;
} nm_ctx;

static double sig_obj(unsigned n, const double *x, double *g, void *d)
{
  nm_ctx *c = d;
  saem *S = c->S;
  pop *p = S->p;
  size_t i, s, ch, j;
  double v = 0;
  rkin_res_obs o;
  (void)g;
  for (i = 0; i < n; i++) {
    size_t k = S->sn[i];
    p->sigma[k] = p->sig_pos[k] ? exp(x[i]) : x[i];
  }
  for (s = 0; s < S->ns; s++) {
    size_t nobs = rkin_data_subject_at(p->data, s)->n_obs;
    for (ch = 0; ch < S->nc; ch++) {
      const double *f = S->fc + (s * S->nc + ch) * S->rows;
      for (j = 0; j < nobs; j++) {
        if (pop_obs(p, s, j, f[j], f[p->has_scale ? nobs + j : j], &o,
                    &c->err))
          return 1e100;
        v += o.c;
      }
    }
  }
  return isfinite(v) ? v : 1e100;
}

static void cond_job(saem *S, int t, size_t s)
{
  size_t c;
  double v, tot = 0;
  S->st[s] = RKIN_OK;
  for (c = 0; c < S->nc; c++) {
    size_t id = s * S->nc + c;
    if ((S->st[s] = cond_m2ll(S, t, s, S->eta + id * S->qe,
                              S->fbuf + (size_t)t * S->rows, &v, &S->er[s])))
      return;
    tot += v;
  }
  S->obj_i[s] = tot;
}

static double theta_obj(unsigned n, const double *x, double *g, void *d)
{
  nm_ctx *c = d;
  saem *S = c->S;
  pop *p = S->p;
  size_t i, s;
  double v = 0;
  (void)g;
  for (i = 0; i < n; i++) {
    size_t j = S->nm[i];
    double sc = fabs(p->pm->theta_init[j]) > 0 ? fabs(p->pm->theta_init[j])
                                                : 1;
    p->theta[j] = x[i] * sc;
  }
  run_job(S, cond_job);
  for (s = 0; s < S->ns; s++) {
    if (S->st[s]) return 1e100;
    v += S->obj_i[s];
  }
  return isfinite(v) ? v : 1e100;
}

/* One Newton step on the complete-data objective J (-2 log L at the
 * current samples) over the thetas without closed form, from x: g and H
 * by central differences (step NEWTON_H on the scaled thetas), xn = x -
 * H^-1 g. With the SA step this is a stochastic Newton-Raphson, whose
 * fixed point E[H^-1 g] = 0 is the score equation of the marginal
 * likelihood (Fisher's identity), at 2n^2 + 1 passes instead of an
 * optimisation's dozens. 0 when H is not positive definite, a pass fails
 * or the step leaves the bounds or exceeds NEWTON_MAX: the caller then
 * maximises instead. */
#define NEWTON_H 1e-3
#define NEWTON_MAX 0.5
static int newton(nm_ctx *c, size_t n, const double *x, const double *lo,
                  const double *hi, double *xn)
{
  double H[64 * 64], g[64], xp[64], f0, fp, fm, fpp, fpm, fmp, fmm;
  size_t i, j;
  double h = NEWTON_H;
  if (n > 16) return 0;
  memcpy(xp, x, n * sizeof *x);
  f0 = theta_obj((unsigned)n, xp, NULL, c);
  if (!(f0 < 1e100)) return 0;
  for (i = 0; i < n; i++) {
    xp[i] = x[i] + h;
    fp = theta_obj((unsigned)n, xp, NULL, c);
    xp[i] = x[i] - h;
    fm = theta_obj((unsigned)n, xp, NULL, c);
    xp[i] = x[i];
    if (!(fp < 1e100 && fm < 1e100)) return 0;
    g[i] = (fp - fm) / (2 * h);
    H[i * n + i] = (fp - 2 * f0 + fm) / (h * h);
    for (j = 0; j < i; j++) {
      xp[i] = x[i] + h;
      xp[j] = x[j] + h;
      fpp = theta_obj((unsigned)n, xp, NULL, c);
      xp[j] = x[j] - h;
      fpm = theta_obj((unsigned)n, xp, NULL, c);
      xp[i] = x[i] - h;
      fmm = theta_obj((unsigned)n, xp, NULL, c);
      xp[j] = x[j] + h;
      fmp = theta_obj((unsigned)n, xp, NULL, c);
      xp[i] = x[i];
      xp[j] = x[j];
      if (!(fpp < 1e100 && fpm < 1e100 && fmm < 1e100 && fmp < 1e100))
        return 0;
      H[i * n + j] = H[j * n + i] = (fpp - fpm - fmp + fmm) / (4 * h * h);
    }
  }
  {
    gsl_matrix_view Hm = gsl_matrix_view_array(H, n, n);
    gsl_vector_view gv = gsl_vector_view_array(g, n);
    if (gsl_linalg_cholesky_decomp1(&Hm.matrix)
        || gsl_linalg_cholesky_svx(&Hm.matrix, &gv.vector))
      return 0;
  }
  for (i = 0; i < n; i++) {
    if (!(fabs(g[i]) <= NEWTON_MAX)) return 0;
    xn[i] = x[i] - g[i];
    if (xn[i] < lo[i] || xn[i] > hi[i]) return 0;
  }
  return 1;
}

/* The SA step x += gamma (xt - x) towards a target xt over the
 * parameters without closed form (n of them): for the thetas a Newton
 * step on the complete-data objective at the current samples (newton()),
 * else (sigmas, or when that step is refused) its maximiser. */
static void nm_step(saem *S, int thetas, double gamma)
{
  pop *p = S->p;
  size_t n = thetas ? S->n_nm : S->n_sn, i;
  double x[64], x0[64], lo[64], hi[64], fmin;
  nlopt_opt opt;
  nm_ctx c;
  if (n == 0 || n > 64) return;
  memset(&c, 0, sizeof c);
  c.S = S;
  for (i = 0; i < n; i++) {
    if (thetas) {
      size_t j = S->nm[i];
      double sc = fabs(p->pm->theta_init[j]) > 0
                  ? fabs(p->pm->theta_init[j]) : 1;
      x[i] = p->theta[j] / sc;
      lo[i] = p->pm->theta_lower ? p->pm->theta_lower[j] / sc : -HUGE_VAL;
      hi[i] = p->pm->theta_upper ? p->pm->theta_upper[j] / sc : HUGE_VAL;
    } else {
      size_t k = S->sn[i];
      x[i] = p->sig_pos[k] ? log(p->sigma[k]) : p->sigma[k];
      lo[i] = -HUGE_VAL;
      hi[i] = HUGE_VAL;
    }
  }
  memcpy(x0, x, n * sizeof *x);
  if (thetas && newton(&c, n, x0, lo, hi, x)) goto step;
  memcpy(x, x0, n * sizeof *x);
  opt = nlopt_create(n >= 2 ? NLOPT_LN_BOBYQA : NLOPT_LN_COBYLA,
                     (unsigned)n);
  if (!opt) return;
  nlopt_set_lower_bounds(opt, lo);
  nlopt_set_upper_bounds(opt, hi);
  nlopt_set_min_objective(opt, thetas ? theta_obj : sig_obj, &c);
  nlopt_set_xtol_abs1(opt, 1e-7);
  nlopt_set_maxeval(opt, 200);
  nlopt_set_initial_step1(opt, 0.05);
  if (nlopt_optimize(opt, x, &fmin) < 0 || !(fmin < 1e100))
    memcpy(x, x0, n * sizeof *x);
  nlopt_destroy(opt);
step:
  for (i = 0; i < n; i++) {
    double v = x0[i] + gamma * (x[i] - x0[i]);
    if (thetas) {
      size_t j = S->nm[i];
      double sc = fabs(p->pm->theta_init[j]) > 0
                  ? fabs(p->pm->theta_init[j]) : 1;
      p->theta[j] = v * sc;
      clamp_theta(p, j);
    } else {
      size_t k = S->sn[i];
      p->sigma[k] = p->sig_pos[k] ? exp(v) : v;
    }
  }
}

/* One M-step after the statistics were averaged with step gamma. */
static int mstep(saem *S, double gamma, int anneal, rkin_err *err)
{
  pop *p = S->p;
  size_t q = S->q, k, id;
  double mu_old[POP_MAX_ETA];
  int rc;
  for (k = 0; k < p->n_sigma; k++)
    if (S->sig_cf[k] == 1) {
      double v = S->ssig[k], old = p->sigma[k] * p->sigma[k];
      if (anneal && v < ANNEAL * old) v = ANNEAL * old;
      if (v > 0) p->sigma[k] = sqrt(v);
    }
  nm_step(S, 0, gamma);
  for (k = 0; k < q; k++) mu_old[k] = mu_k(S, k);
  if ((rc = update_omega(S, anneal, err))) return rc;
  pop_iov_expand(p);        /* IOV: the subjects' factor Li from L */
  /* the chains keep u = mu + eta: shift eta by the change of mu */
  for (id = 0; id < S->ns * S->nc; id++)
    for (k = 0; k < q; k++) S->eta[id * S->qe + k] -= mu_k(S, k) - mu_old[k];
  nm_step(S, 1, gamma);
  return RKIN_OK;
}

/* ------------------------------------------------------------ IMP */

static void imp_job(saem *S, int t, size_t s)
{
  pop *p = S->p;
  pop_ws *w = &p->ws[t];
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t q = n_act(p, s), qe = S->qe, n = sj->n_obs, j, a, b, c, m;
  size_t M = (size_t)S->o.imp_samples;
  double A[POP_MAX_ETA * POP_MAX_ETA], LA[POP_MAX_ETA * POP_MAX_ETA];
  double Mm[POP_MAX_ETA * POP_MAX_ETA], zh[POP_MAX_ETA], x[POP_MAX_ETA];
  double dz[POP_MAX_ETA], z[POP_MAX_ETA], et[POP_MAX_ETA] = {0}, ldM = 0;
  double nu = S->o.imp_df, lmax = -HUGE_VAL, s1 = 0, s2 = 0, lq0;
  double *lw = NULL, *ftry = S->fbuf + (size_t)t * S->rows;
  gsl_rng *r = S->rng[S->ns * S->nc + s];
  rkin_res_obs o;
  rkin_err *err = &S->er[s];
  int rc;
  const double *eh = p->eta_hat + s * qe;
  S->st[s] = RKIN_OK;
  rc = pop_predict_grad(w, s, eh, w->f, w->G, err);
  memset(A, 0, sizeof A);
  for (j = 0; !rc && j < n; j++) {
    size_t js = p->has_scale ? n + j : j;
    const double *g = w->G + j * qe, *gs = w->G + js * qe;
    if ((rc = pop_obs(p, s, j, w->f[j], w->f[js], &o, err))) break;
    for (a = 0; a < q; a++)
      for (b = 0; b < q; b++)
        A[a * q + b] += o.w_ff * g[a] * g[b]
                        + o.w_fs * (g[a] * gs[b] + gs[a] * g[b])
                        + o.w_ss * gs[a] * gs[b];
  }
  if (rc) goto fail;
  /* M = I + L'AL: the precision of the whitened eta (FOCE-I) */
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++) {
      double tt = 0;
      for (c = b; c < q; c++) tt += A[a * q + c] * p->Li[c * qe + b];
      LA[a * q + b] = tt;
    }
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++) {
      double tt = a == b ? 1 : 0;
      for (c = a; c < q; c++) tt += p->Li[c * qe + a] * LA[c * q + b];
      Mm[a * q + b] = tt;
    }
  {
    gsl_matrix_view mv = gsl_matrix_view_array(Mm, q, q);
    if (gsl_linalg_cholesky_decomp1(&mv.matrix)) {
      rc = rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: importance "
                        "sampling: I + L'G'V^-1GL is not positive definite",
                        sj->id);
      goto fail;
    }
  }
  for (a = 0; a < q; a++) ldM += 2 * log(Mm[a * q + a]);
  prior_q(p, q, eh, zh);
  lw = malloc(M * sizeof *lw);
  if (!lw) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    goto fail;
  }
  lq0 = nu > 0 ? gsl_sf_lngamma((nu + (double)q) / 2) - gsl_sf_lngamma(nu / 2)
                 - 0.5 * (double)q * log(nu * M_PI) + 0.5 * ldM
               : -0.5 * (double)q * log(2 * M_PI) + 0.5 * ldM;
  for (m = 0; m < M; m++) {
    double d2 = 0, sc = 1, cy, zz = 0, lq;
    for (a = 0; a < q; a++) {
      x[a] = gsl_ran_gaussian_ziggurat(r, 1.0);
      d2 += x[a] * x[a];
    }
    if (nu > 0) sc = sqrt(nu / gsl_ran_chisq(r, nu));
    /* dz = R'^-1 x, M = R R' (R lower): back substitution */
    for (a = q; a-- > 0;) {
      double tt = x[a];
      for (b = a + 1; b < q; b++) tt -= Mm[b * q + a] * dz[b];
      dz[a] = tt / Mm[a * q + a];
    }
    for (a = 0; a < q; a++) {
      z[a] = zh[a] + sc * dz[a];
      zz += z[a] * z[a];
    }
    d2 *= sc * sc;
    lq = nu > 0 ? lq0 - 0.5 * (nu + (double)q) * log1p(d2 / nu)
                : lq0 - 0.5 * d2;
    l_times(p, q, z, et);
    if (cond_m2ll(S, t, s, et, ftry, &cy, err)) {
      lw[m] = -HUGE_VAL;
      continue;
    }
    lw[m] = -0.5 * cy - 0.5 * zz - 0.5 * (double)q * log(2 * M_PI) - lq;
    if (lw[m] > lmax) lmax = lw[m];
  }
  rkin_err_clear(err);
  if (!(lmax > -HUGE_VAL)) {
    rc = rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: importance "
                      "sampling: no sample gave a prediction", sj->id);
    goto fail;
  }
  for (m = 0; m < M; m++) {
    double e = lw[m] > -HUGE_VAL ? exp(lw[m] - lmax) : 0;
    s1 += e;
    s2 += e * e;
  }
  {
    double mean = s1 / (double)M, var = s2 / (double)M - mean * mean;
    if (var < 0) var = 0;
    S->obj_i[s] = -2 * (lmax + log(mean));
    S->se_i[s] = 2 * sqrt(var / (double)M) / mean;
  }
  free(lw);
  return;
fail:
  free(lw);
  S->st[s] = rc;
}

/* ------------------------------------------------------------ processes */

/* Items [subj_lo, subj_hi) of `item` bytes of every process's `all` (one
 * item per subject) into every process's `all` (popfit opts gather). */
static int gather_subj(saem *S, void *all, size_t item, rkin_err *err)
{
  pop *p = S->p;
  size_t lo = p->subj_lo, hi = p->subj_hi, len = (hi - lo) * item;
  char *mine = NULL;
  int rc;
  /* MPI forbids a send buffer inside the receive buffer: a copy */
  if (len && !(mine = malloc(len))) {
    /* still take part, sending nothing: the sizes then disagree and the
     * others fail as well rather than wait */
    p->opts.gather(NULL, 0, all, S->ns * item, p->opts.dist_ud, err);
    return rkin_err_set(err, RKIN_ENOMEM, "SAEM: out of memory "
                        "(gathering subjects)");
  }
  if (len) memcpy(mine, (char *)all + lo * item, len);
  rc = p->opts.gather(mine, len, all, S->ns * item, p->opts.dist_ud, err);
  free(mine);
  return rc;
}

static void mcmc_job(saem *S, int t, size_t s);
static void cond_job(saem *S, int t, size_t s);
static void imp_job(saem *S, int t, size_t s);
static int first_fail(saem *S, rkin_err *err);

/* After a job over this process's subjects: the per-subject results the
 * rest of the iteration reads, from every process, in subject order
 * (why not reduced partial sums: see popdist.c). The status last: when
 * some subject failed, every process gathers the messages too; a failed
 * gather marks every subject failed with its message. */
static void dist_gather(saem *S, job_fn f)
{
  size_t nc = S->nc, s;
  rkin_err err;
  int rc = RKIN_OK, failed = 0;
  rkin_err_clear(&err);
  if (f == mcmc_job) {
    rc = gather_subj(S, S->eta, nc * S->qe * sizeof *S->eta, &err);
    if (!rc) rc = gather_subj(S, S->fc, nc * S->rows * sizeof *S->fc, &err);
    if (!rc) rc = gather_subj(S, S->cy, nc * sizeof *S->cy, &err);
    if (!rc) rc = gather_subj(S, S->acc, (2 + S->qe) * sizeof *S->acc, &err);
    if (!rc)
      rc = gather_subj(S, S->tries, (2 + S->qe) * sizeof *S->tries, &err);
  } else if (f == cond_job || f == imp_job) {
    rc = gather_subj(S, S->obj_i, sizeof *S->obj_i, &err);
    if (!rc && f == imp_job)
      rc = gather_subj(S, S->se_i, sizeof *S->se_i, &err);
  }
  if (!rc) rc = gather_subj(S, S->st, sizeof *S->st, &err);
  for (s = 0; !rc && s < S->ns; s++) failed |= S->st[s] != 0;
  if (!rc && failed) rc = gather_subj(S, S->er, sizeof *S->er, &err);
  if (rc)
    for (s = 0; s < S->ns; s++) {
      S->st[s] = rc;
      S->er[s] = err;
    }
}

/* ------------------------------------------------------------ SA SEs */

/* Standard errors by stochastic approximation of the observed Fisher
 * information (see saem.h). The complete data are (y_i, u_i) with u = mu
 * + eta for the mu-referenced thetas, so
 *   l_i = log p(y_i | eta_i; other thetas, sigma) + log N(eta_i; 0, Omega)
 * and the mu-referenced thetas and Omega enter only the second term: their
 * score and Hessian are closed form (P = Omega^-1, e = eta):
 *   d/dmu_k = (Pe)_k,  d2/dmu_k dmu_l = -P_kl,
 *   d/dOmega_i = -tr(P E_i)/2 + e'P E_i P e/2,
 *   d2/dOmega_i dOmega_j = tr(P E_i P E_j)/2 - e'P E_i P E_j P e,
 *   d2/dmu_k dOmega_i = -(P E_i P e)_k,
 * E_i the symmetric unit matrix of element i (both (a,b) and (b,a)).
 * The other thetas and the sigma SDs ("likelihood parameters") enter the
 * first term only: its derivatives by central differences (step 1e-3
 * relative), over points solved for every subject and chain; a point
 * that moves only sigmas reuses the chain's predictions. The means over
 * the draws of every subject, D_i = mean(dl_i) and G_i = mean(d2 l_i +
 * dl_i dl_i'), give I = sum_i (D_i D_i' - G_i). */
enum { SA_MU, SA_OM, SA_TH, SA_SG };

typedef struct sa_state {
  size_t n, nl, npt;
  int *kind;          /* n: SA_* */
  size_t *ia, *ib;    /* n: eta k (SA_MU), theta, sigma; Omega (a, b) */
  size_t *li;         /* nl: places of the likelihood parameters */
  double *h;          /* nl: their steps */
  double *v0;         /* nl: their values at the estimates */
  double *lv;         /* ns x nc x npt: log p(y | eta) at the points */
  double *D, *G;      /* ns x n, ns x n x n: sums over the draws */
  double *scr;        /* n_threads x (n + n x n) scratch */
  double P[POP_MAX_ETA * POP_MAX_ETA];
  int pt, resolve;
  unsigned long draws; /* per subject: iterations x chains */
} sa_state;

static void sa_free(sa_state *a)
{
  if (!a) return;
  free(a->kind);
  free(a->ia);
  free(a->ib);
  free(a->li);
  free(a->h);
  free(a->v0);
  free(a->lv);
  free(a->D);
  free(a->G);
  free(a->scr);
  free(a);
}

/* The point's perturbation of likelihood parameter l: +1, -1 or 0. */
static int sa_sign(const sa_state *a, int pt, size_t l)
{
  size_t i, j, k;
  if (pt == 0) return 0;
  k = (size_t)pt - 1;
  if (k < 2 * a->nl) return k / 2 == l ? (k % 2 ? -1 : 1) : 0;
  k -= 2 * a->nl;
  /* pairs i > j, four points each: ++, +-, -+, -- */
  for (i = 1; i < a->nl; i++)
    for (j = 0; j < i; j++) {
      if (k < 4) {
        if (l == i) return k < 2 ? 1 : -1;
        if (l == j) return k % 2 ? -1 : 1;
        return 0;
      }
      k -= 4;
    }
  return 0;
}

/* p's likelihood parameters at point pt (0: the estimates). */
static void sa_set(saem *S, int pt)
{
  sa_state *a = S->sa;
  pop *p = S->p;
  size_t l;
  a->resolve = 0;
  for (l = 0; l < a->nl; l++) {
    size_t i = a->li[l];
    int sg = sa_sign(a, pt, l);
    double v = a->v0[l] + sg * a->h[l];
    if (a->kind[i] == SA_TH) {
      p->theta[a->ia[i]] = v;
      if (sg) a->resolve = 1;
    } else {
      p->sigma[a->ia[i]] = v;
    }
  }
  a->pt = pt;
}

/* log p(y | eta) (constants dropped) of every chain of subject s at the
 * current point. */
static void sa_lik_job(saem *S, int t, size_t s)
{
  sa_state *a = S->sa;
  pop *p = S->p;
  size_t c, j, n = rkin_data_subject_at(p->data, s)->n_obs;
  for (c = 0; c < S->nc; c++) {
    size_t id = s * S->nc + c;
    double v = 0;
    int rc = RKIN_OK;
    if (a->resolve) {
      rc = cond_m2ll(S, t, s, S->eta + id * S->qe,
                     S->fbuf + (size_t)t * S->rows, &v, &S->er[s]);
    } else {
      const double *f = S->fc + id * S->rows;
      rkin_res_obs o;
      for (j = 0; !rc && j < n; j++) {
        rc = pop_obs(p, s, j, f[j], f[p->has_scale ? n + j : j], &o,
                     &S->er[s]);
        v += o.c;
      }
      if (!rc && !isfinite(v))
        rc = rkin_err_set(&S->er[s], RKIN_ENONFINITE, "subject ID %g: "
                          "likelihood is not finite",
                          rkin_data_subject_at(p->data, s)->id);
    }
    if (rc) {
      S->st[s] = rc;
      return;
    }
    a->lv[id * a->npt + (size_t)a->pt] = -0.5 * v;
  }
}

/* x = E_i y for parameter i, an Omega element (a, b). */
static void sa_e_times(size_t q, size_t ea, size_t eb, const double *y,
                       double *x)
{
  memset(x, 0, q * sizeof *x);
  if (ea == eb) {
    x[ea] = y[ea];
  } else {
    x[ea] = y[eb];
    x[eb] = y[ea];
  }
}

/* tr(P E_i P E_j) and (Pe)' E_i P E_j (Pe) for Omega elements i, j. */
static void sa_om_om(const double *P, size_t q, size_t a, size_t b,
                     size_t c, size_t d, const double *pe, double *tr,
                     double *quad)
{
  /* E_i = sum over (r, s) in {(a,b), (b,a)} (one pair when a == b) of
   * e_r e_s': tr(P e_r e_s' P e_u e_v') = P_su P_vr, (Pe)' e_r e_s' P
   * e_u e_v' (Pe) = pe_r P_su pe_v */
  size_t ri[2] = {a, b}, si[2] = {b, a}, ui[2] = {c, d}, vi[2] = {d, c};
  size_t ni = a == b ? 1 : 2, nj = c == d ? 1 : 2, x, y;
  *tr = *quad = 0;
  for (x = 0; x < ni; x++)
    for (y = 0; y < nj; y++) {
      *tr += P[si[x] * q + ui[y]] * P[vi[y] * q + ri[x]];
      *quad += pe[ri[x]] * P[si[x] * q + ui[y]] * pe[vi[y]];
    }
}

/* pe = P e over the user's q etas. */
static void sa_pe(const double *P, size_t q, const double *e, double *pe)
{
  size_t k, l;
  for (k = 0; k < q; k++) {
    double v = 0;
    for (l = 0; l < q; l++) v += P[k * q + l] * e[l];
    pe[k] = v;
  }
}

/* pe = P v, v the q-vector holding one further occasion's copy eo (n_iov
 * etas) at the occasion etas' places and 0 elsewhere. */
static void sa_occ_pe(const pop *p, const double *P, size_t q,
                      const double *eo, double *pe)
{
  double v[POP_MAX_ETA];
  size_t k;
  for (k = 0; k < q; k++) v[k] = p->iov_idx[k] >= 0 ? eo[p->iov_idx[k]] : 0;
  sa_pe(P, q, v, pe);
}

/* Score g and Hessian H of every chain's draw of subject s, added to the
 * subject's sums: D += g, G += H + g g'. With IOV the complete data hold
 * the further occasions' copies too: log N(eta_ik; 0, Omega_iov) over
 * them adds to the score and Hessian of the occasion block's elements
 * the same closed forms at each copy (their mean is 0: no mu term). */
static void sa_acc_job(saem *S, int t, size_t s)
{
  sa_state *a = S->sa;
  const pop *p = S->p;
  size_t q = S->q, n = a->n, c, i, j, k, l, m, npt = a->npt;
  double *g = a->scr + (size_t)t * (n + n * n), *H = g + n;
  double pe[POP_MAX_ETA], x[POP_MAX_ETA];
  double po[POP_MAX_ETA][POP_MAX_ETA]; /* P times each further copy */
  double *D = a->D + s * n, *G = a->G + s * n * n;
  for (c = 0; c < S->nc; c++) {
    size_t id = s * S->nc + c;
    const double *e = S->eta + id * S->qe, *lv = a->lv + id * npt;
    size_t ko, no = p->n_iov ? p->occ_n[s] : 1;
    sa_pe(a->P, q, e, pe);
    memset(H, 0, n * n * sizeof *H);
    for (i = 0; i < n; i++) {
      size_t ia = a->ia[i], ib = a->ib[i];
      if (a->kind[i] == SA_MU) {
        g[i] = pe[ia];
      } else if (a->kind[i] == SA_OM) {
        double mab = pe[ia] * pe[ib] - a->P[ia * q + ib];
        g[i] = ia == ib ? 0.5 * mab : mab;
      }
    }
    /* IOV: the further occasions' copies (ko >= 1), each a draw of
     * N(0, Omega_iov): the score of an occasion-block element gains the
     * same term at every copy (P is block diagonal, so P over the copy
     * padded with zeros is P_iov times it) */
    for (ko = 1; ko < no; ko++) {
      sa_occ_pe(p, a->P, q, e + q + (ko - 1) * p->n_iov, po[ko - 1]);
      for (i = 0; i < n; i++)
        if (a->kind[i] == SA_OM && p->iov_idx[a->ia[i]] >= 0) {
          size_t ia = a->ia[i], ib = a->ib[i];
          double mab = po[ko - 1][ia] * po[ko - 1][ib] - a->P[ia * q + ib];
          g[i] += ia == ib ? 0.5 * mab : mab;
        }
    }
    /* the likelihood parameters: central differences */
    for (l = 0; l < a->nl; l++) {
      size_t il = a->li[l], pp = 1 + 2 * l, pm = 2 + 2 * l;
      g[il] = (lv[pp] - lv[pm]) / (2 * a->h[l]);
      H[il * n + il] = (lv[pp] - 2 * lv[0] + lv[pm]) / (a->h[l] * a->h[l]);
    }
    {
      size_t base = 1 + 2 * a->nl;
      for (l = 1; l < a->nl; l++)
        for (m = 0; m < l; m++, base += 4) {
          double v = (lv[base] - lv[base + 1] - lv[base + 2] + lv[base + 3])
                     / (4 * a->h[l] * a->h[m]);
          H[a->li[l] * n + a->li[m]] = H[a->li[m] * n + a->li[l]] = v;
        }
    }
    /* the closed-form block (mu-referenced thetas, Omega) */
    for (i = 0; i < n; i++) {
      if (a->kind[i] != SA_MU && a->kind[i] != SA_OM) continue;
      for (j = 0; j <= i; j++) {
        double v;
        if (a->kind[j] != SA_MU && a->kind[j] != SA_OM) continue;
        if (a->kind[i] == SA_MU && a->kind[j] == SA_MU) {
          v = -a->P[a->ia[i] * q + a->ia[j]];
        } else if (a->kind[i] == SA_OM && a->kind[j] == SA_OM) {
          double tr, quad;
          sa_om_om(a->P, q, a->ia[i], a->ib[i], a->ia[j], a->ib[j], pe, &tr,
                   &quad);
          v = 0.5 * tr - quad;
          /* both in the occasion block: every further copy's term too */
          if (p->n_iov && p->iov_idx[a->ia[i]] >= 0
              && p->iov_idx[a->ia[j]] >= 0)
            for (ko = 1; ko < no; ko++) {
              sa_om_om(a->P, q, a->ia[i], a->ib[i], a->ia[j], a->ib[j],
                       po[ko - 1], &tr, &quad);
              v += 0.5 * tr - quad;
            }
        } else {
          /* -(P E_om P e)_k */
          size_t om = a->kind[i] == SA_OM ? i : j, mu = om == i ? j : i;
          sa_e_times(q, a->ia[om], a->ib[om], pe, x);
          v = 0;
          for (k = 0; k < q; k++) v += a->P[a->ia[mu] * q + k] * x[k];
          v = -v;
        }
        H[i * n + j] = H[j * n + i] = v;
      }
    }
    for (i = 0; i < n; i++) {
      D[i] += g[i];
      for (j = 0; j < n; j++) G[i * n + j] += H[i * n + j] + g[i] * g[j];
    }
  }
}

/* Sets up the parameters (the covariance step's: free thetas, free Omega
 * elements of the lower triangle, free sigmas) and the buffers. */
static int sa_setup(saem *S, rkin_err *err)
{
  pop *p = S->p;
  size_t q = S->q, n = p->n_est, i = 0, j, k, a_, b_, l = 0, nt;
  sa_state *a = calloc(1, sizeof *a);
  if (!a) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  S->sa = a;
  a->n = n;
  a->kind = calloc(n + 1, sizeof *a->kind);
  a->ia = calloc(n + 1, sizeof *a->ia);
  a->ib = calloc(n + 1, sizeof *a->ib);
  a->li = calloc(n + 1, sizeof *a->li);
  a->h = calloc(n + 1, sizeof *a->h);
  a->v0 = calloc(n + 1, sizeof *a->v0);
  if (!a->kind || !a->ia || !a->ib || !a->li || !a->h || !a->v0)
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  for (j = 0; j < p->n_theta; j++) {
    if (theta_fixed(p, j)) continue;
    a->kind[i] = SA_TH;
    a->ia[i] = j;
    for (k = 0; k < q; k++)
      if (S->mu_of[k] == (int)j) {
        a->kind[i] = SA_MU;
        a->ia[i] = k;
      }
    i++;
  }
  for (a_ = 0; a_ < q; a_++)
    for (b_ = 0; b_ <= a_; b_++)
      if (pop_omega_free(p, a_, b_)) {
        a->kind[i] = SA_OM;
        a->ia[i] = a_;
        a->ib[i] = b_;
        i++;
      }
  for (k = 0; k < p->n_sigma; k++)
    if (!sigma_fixed(p, k)) {
      a->kind[i] = SA_SG;
      a->ia[i] = k;
      i++;
    }
  if (i != n)
    return rkin_err_set(err, RKIN_EINVAL, "SAEM standard errors: %zu "
                        "parameters found, %zu estimated", i, n);
  for (i = 0; i < n; i++)
    if (a->kind[i] == SA_TH || a->kind[i] == SA_SG) {
      double v = a->kind[i] == SA_TH ? p->theta[a->ia[i]]
                                     : p->sigma[a->ia[i]];
      a->li[l] = i;
      a->v0[l] = v;
      a->h[l] = 1e-3 * (fabs(v) > 1e-2 ? fabs(v) : 1e-2);
      l++;
    }
  a->nl = l;
  a->npt = 1 + 2 * l * l;
  nt = (size_t)(p->n_threads > 64 ? 64 : p->n_threads);
  a->lv = calloc(S->ns * S->nc * a->npt, sizeof *a->lv);
  a->D = calloc(S->ns * n + 1, sizeof *a->D);
  a->G = calloc(S->ns * n * n + 1, sizeof *a->G);
  a->scr = calloc(nt * (n + n * n) + 1, sizeof *a->scr);
  if (!a->lv || !a->D || !a->G || !a->scr)
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  {
    /* P = Omega^-1 from L */
    double om[POP_MAX_ETA * POP_MAX_ETA];
    gsl_matrix_view m = gsl_matrix_view_array(om, q, q);
    pop_omega_of(p, om);
    if (gsl_linalg_cholesky_decomp1(&m.matrix))
      return rkin_err_set(err, RKIN_ERANGE, "SAEM standard errors: Omega "
                          "is not positive definite");
    gsl_linalg_cholesky_invert(&m.matrix);
    memcpy(a->P, om, q * q * sizeof *om);
  }
  return RKIN_OK;
}

/* The observed information by SA at p's estimates into info (n_est^2):
 * se_iter MCMC iterations at fixed parameters (the chains continue from
 * their last states), each followed by the derivatives at every draw.
 * Over several processes each works its own subjects without gathers
 * (nothing global moves while the parameters are fixed); their sums are
 * gathered at the end and added in subject order. */
static int sa_fisher(saem *S, double *info, rkin_err *err)
{
  pop *p = S->p;
  sa_state *a;
  size_t n, s, i, j;
  int it, pt, rc = RKIN_OK, grc;
  double N;
  rc = sa_setup(S, err);
  rc = pop_agree(p, rc, err);
  if (rc) return rc;
  a = S->sa;
  n = a->n;
  S->no_gather = 1;
  for (s = 0; s < S->ns; s++) S->st[s] = RKIN_OK;
  for (it = 0; it < S->o.se_iter && !rc; it++) {
    run_job(S, mcmc_job);
    /* fixed kernels: no adaptation while averaging */
    memset(S->acc, 0, S->ns * (2 + S->qe) * sizeof *S->acc);
    memset(S->tries, 0, S->ns * (2 + S->qe) * sizeof *S->tries);
    for (pt = 0; pt < (int)a->npt && !(rc = first_fail(S, NULL)); pt++) {
      sa_set(S, pt);
      run_job(S, sa_lik_job);
    }
    sa_set(S, 0);
    if (!rc && !(rc = first_fail(S, NULL))) run_job(S, sa_acc_job);
    a->draws += S->nc;
  }
  S->no_gather = 0;
  /* the sums and the statuses of every process's subjects */
  if (p->opts.gather) {
    grc = gather_subj(S, a->D, n * sizeof *a->D, err);
    if (!grc) grc = gather_subj(S, a->G, n * n * sizeof *a->G, err);
    if (grc) return grc;
    dist_gather(S, sa_acc_job);
  }
  if ((rc = first_fail(S, err))) {
    rkin_err_prefix(err, "SAEM standard errors: ");
    return rc;
  }
  N = (double)a->draws;
  memset(info, 0, n * n * sizeof *info);
  for (s = 0; s < S->ns; s++) {
    const double *D = a->D + s * n, *G = a->G + s * n * n;
    for (i = 0; i < n; i++)
      for (j = 0; j < n; j++)
        info[i * n + j] += D[i] / N * (D[j] / N) - G[i * n + j] / N;
  }
  return RKIN_OK;
}

/* ------------------------------------------------------------ driver */

static void trace_row(const saem *S, double *row)
{
  const pop *p = S->p;
  memcpy(row, p->theta, p->n_theta * sizeof *row);
  pop_omega_of(p, row + p->n_theta);
  memcpy(row + p->n_theta + S->q * S->q, p->sigma,
         p->n_sigma * sizeof *row);
}

static int first_fail(saem *S, rkin_err *err)
{
  size_t s;
  for (s = 0; s < S->ns; s++)
    if (S->st[s]) {
      if (err) *err = S->er[s];
      return S->st[s];
    }
  return RKIN_OK;
}

static void saem_free(saem *S)
{
  size_t i;
  if (S->rng)
    for (i = 0; i < S->ns * S->nc + S->ns; i++)
      if (S->rng[i]) gsl_rng_free(S->rng[i]);
  free(S->rng);
  free(S->is_mu);
  free(S->nm);
  free(S->sig_cf);
  free(S->sn);
  free(S->ssig);
  free(S->eta);
  free(S->cy);
  free(S->fc);
  free(S->acc);
  free(S->tries);
  free(S->fbuf);
  free(S->obj_i);
  free(S->se_i);
  free(S->st);
  free(S->er);
  sa_free(S->sa);
}

static int saem_alloc(saem *S, rkin_err *err)
{
  pop *p = S->p;
  size_t i, nr = S->ns * S->nc + S->ns;
  S->eta = calloc(S->ns * S->nc * S->qe, sizeof *S->eta);
  S->cy = calloc(S->ns * S->nc, sizeof *S->cy);
  S->fc = calloc(S->ns * S->nc * S->rows, sizeof *S->fc);
  S->rng = calloc(nr, sizeof *S->rng);
  S->acc = calloc(S->ns * (2 + S->qe), sizeof *S->acc);
  S->tries = calloc(S->ns * (2 + S->qe), sizeof *S->tries);
  S->fbuf = calloc((size_t)(p->n_threads > 64 ? 64 : p->n_threads) * S->rows,
                   sizeof *S->fbuf);
  S->obj_i = calloc(S->ns, sizeof *S->obj_i);
  S->se_i = calloc(S->ns, sizeof *S->se_i);
  S->st = calloc(S->ns, sizeof *S->st);
  S->er = calloc(S->ns, sizeof *S->er);
  if (!S->eta || !S->cy || !S->fc || !S->rng || !S->acc || !S->tries
      || !S->fbuf || !S->obj_i || !S->se_i || !S->st || !S->er)
    return rkin_err_set(err, RKIN_ENOMEM, "SAEM: out of memory");
  /* a stream per (subject, chain), then one per subject for the IS */
  for (i = 0; i < nr; i++) {
    uint64_t key = (uint64_t)S->o.seed * 0x100000001b3ULL + (uint64_t)i;
    if (!(S->rng[i] = gsl_rng_alloc(gsl_rng_taus2)))
      return rkin_err_set(err, RKIN_ENOMEM, "SAEM: out of memory");
    gsl_rng_set(S->rng[i], mix(key ^ mix((uint64_t)S->o.seed)));
  }
  for (i = 0; i < S->qe; i++) S->dcomp[i] = 0.5;
  S->dblock = 0.3;
  return RKIN_OK;
}

static int check_opts(const rkin_saem_opts *o, rkin_err *err)
{
  if (o->burn < 0 || o->iter < 1 || o->burn > 1000000 || o->iter > 1000000)
    return rkin_err_set(err, RKIN_EINVAL, "SAEM: burn = %d, iter = %d "
                        "(expected burn >= 0 and iter >= 1, each at most "
                        "1e6)", o->burn, o->iter);
  if (o->chains < 1 || o->chains > 1000)
    return rkin_err_set(err, RKIN_EINVAL, "SAEM: chains = %d (expected 1 "
                        "to 1000)", o->chains);
  if (o->n_prior < 0 || o->n_comp < 0 || o->n_block < 0
      || o->n_prior + o->n_comp + o->n_block == 0 || o->n_prior > 100
      || o->n_comp > 100 || o->n_block > 100)
    return rkin_err_set(err, RKIN_EINVAL, "SAEM: kernel moves %d, %d, %d "
                        "(expected 0 to 100 each, not all 0)", o->n_prior,
                        o->n_comp, o->n_block);
  if (o->imp_samples < 0 || o->imp_samples > 10000000 || o->imp_df < 0
      || o->imp_df > 1000)
    return rkin_err_set(err, RKIN_EINVAL, "SAEM: imp_samples = %d, imp_df "
                        "= %d (expected 0 to 1e7, and 0 to 1000)",
                        o->imp_samples, o->imp_df);
  if ((o->se != RKIN_SAEM_SE_LIN && o->se != RKIN_SAEM_SE_SA)
      || o->se_iter < 1 || o->se_iter > 1000000)
    return rkin_err_set(err, RKIN_EINVAL, "SAEM: se = %d, se_iter = %d "
                        "(expected %d linearisation or %d stochastic "
                        "approximation, and 1 to 1e6 iterations)", o->se,
                        o->se_iter, RKIN_SAEM_SE_LIN, RKIN_SAEM_SE_SA);
  if (o->then != -1 && (o->then < RKIN_POP_FO || o->then > RKIN_POP_LAPLACEI))
    return rkin_err_set(err, RKIN_EINVAL, "SAEM: then = %d (expected -1 or "
                        "an estimation method)", o->then);
  return RKIN_OK;
}

static int info_alloc(const pop *p, const saem *S, rkin_saem_info *in)
{
  size_t q = p->n_eta;
  in->n_iter = S->o.burn + S->o.iter;
  in->n_par = p->n_theta + q * q + p->n_sigma;
  in->theta = calloc(p->n_theta + 1, sizeof(double));
  in->omega = calloc(q * q, sizeof(double));
  in->sigma = calloc(p->n_sigma + 1, sizeof(double));
  in->ofv_imp_i = calloc(p->n_subj, sizeof(double));
  in->trace = calloc((size_t)in->n_iter * in->n_par, sizeof(double));
  in->mu_ref = calloc(q, sizeof(int));
  return in->theta && in->omega && in->sigma && in->ofv_imp_i && in->trace
         && in->mu_ref ? RKIN_OK : RKIN_ENOMEM;
}

void rkin_saem_info_free(rkin_saem_info *in)
{
  if (!in) return;
  free(in->theta);
  free(in->omega);
  free(in->sigma);
  free(in->ofv_imp_i);
  free(in->trace);
  free(in->mu_ref);
  memset(in, 0, sizeof *in);
}

/* The SAEM iterations; p holds the estimates afterwards. */
static int iterate(saem *S, rkin_saem_info *in, rkin_err *err)
{
  pop *p = S->p;
  size_t q = S->q, k;
  int it, n_it = S->o.burn + S->o.iter, rc;
  double s1n[POP_MAX_ETA], s2n[POP_MAX_ETA * POP_MAX_ETA], *sgn;
  sgn = calloc(p->n_sigma + 1, sizeof *sgn);
  if (!sgn) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  for (it = -SAEM_PRE; it < n_it; it++) {
    double rates[3] = {0, 0, 0}, gamma;
    run_job(S, mcmc_job);
    if ((rc = first_fail(S, err))) {
      rkin_err_prefix(err, it < 0 ? "SAEM at the initial estimates: "
                                  : "SAEM iteration %d: ", it + 1);
      free(sgn);
      return rc;
    }
    adapt(S, rates);
    in->accept_prior = rates[0];
    in->accept_comp = rates[1];
    in->accept_block = rates[2];
    if (it < 0) continue;
    gamma = it < S->o.burn ? 1.0 : 1.0 / (double)(it - S->o.burn + 1);
    if ((rc = stats(S, s1n, s2n, sgn, err))) {
      free(sgn);
      return rc;
    }
    for (k = 0; k < q; k++) S->s1[k] += gamma * (s1n[k] - S->s1[k]);
    for (k = 0; k < q * q; k++) S->s2[k] += gamma * (s2n[k] - S->s2[k]);
    for (k = 0; k < p->n_sigma; k++)
      if (S->sig_cf[k] == 1) S->ssig[k] += gamma * (sgn[k] - S->ssig[k]);
    rc = mstep(S, gamma, it < S->o.burn / 2, err);
    if (rc) {
      rkin_err_prefix(err, "SAEM iteration %d: ", it + 1);
      free(sgn);
      return rc;
    }
    trace_row(S, in->trace + (size_t)it * in->n_par);
  }
  free(sgn);
  return RKIN_OK;
}

/* Importance-sampling objective at p's estimates and EBEs. */
static int imp(saem *S, rkin_saem_info *in, rkin_err *err)
{
  size_t s;
  double v = 0, se2 = 0;
  int rc;
  run_job(S, imp_job);
  if ((rc = first_fail(S, err))) return rc;
  for (s = 0; s < S->ns; s++) {
    v += S->obj_i[s];
    se2 += S->se_i[s] * S->se_i[s];
    in->ofv_imp_i[s] = S->obj_i[s];
  }
  in->ofv_imp = v;
  in->ofv_imp_se = sqrt(se2);
  return RKIN_OK;
}

/* The chained method from the SAEM estimates. */
static int chain(const rkin_popmodel *pm, const rkin_data *data,
                 const rkin_popfit_opts *opts, int method,
                 const rkin_saem_info *in, const pop_ep *ep, size_t n_ep,
                 rkin_popfit *fit, rkin_err *err)
{
  rkin_popmodel m2 = *pm;
  rkin_popfit_opts o2;
  rkin_pop_endpoint eps[64];
  size_t e;
  if (opts) o2 = *opts;
  else rkin_popfit_opts_default(&o2);
  o2.method = (rkin_pop_method)method;
  m2.theta_init = in->theta;
  m2.omega_init = in->omega;
  if (pm->n_endpoints) {
    if (pm->n_endpoints > 64)     /* refused before SAEM runs, too */
      return rkin_err_set(err, RKIN_EINVAL, "SAEM: %zu endpoints, but a "
                          "chained method (then) takes at most 64",
                          pm->n_endpoints);
    for (e = 0; e < pm->n_endpoints && e < n_ep; e++) {
      eps[e] = pm->endpoints[e];
      eps[e].sigma_init = in->sigma + ep[e].sig_off;
    }
    m2.endpoints = eps;
  } else {
    m2.sigma_init = in->sigma;
  }
  return rkin_popfit_run(&m2, data, &o2, fit, err);
}

int rkin_popfit_saem(const rkin_popmodel *pm, const rkin_data *data,
                     const rkin_popfit_opts *opts, const rkin_saem_opts *so,
                     rkin_popfit *fit, rkin_saem_info *info, rkin_err *err)
{
  saem S;
  rkin_saem_info own;
  rkin_saem_info *in = info ? info : &own;
  pop *p;
  double ofv;
  int rc, then;
  pop_ep *ep_copy = NULL;
  size_t n_ep = 0;
  int sa_rc;
  rkin_err sa_err;
  if (!fit) return rkin_err_set(err, RKIN_EINVAL, "rkin_popfit_saem: NULL "
                                "result");
  memset(fit, 0, sizeof *fit);
  memset(in, 0, sizeof *in);
  memset(&S, 0, sizeof S);
  fit->cov_status = rkin_err_set(&fit->cov_err, RKIN_EINVAL, "covariance "
                                 "step not run (not asked for, or the fit "
                                 "stopped before it)");
  if (so) S.o = *so;
  else rkin_saem_opts_default(&S.o);
  if ((rc = check_opts(&S.o, err))) {
    fit->status = rc;
    fit->err = *err;
    return rc;
  }
  then = S.o.then;
  /* the chained fit's endpoints live in a fixed array: refuse more before
   * SAEM has run, with the fit marked failed */
  if (then >= 0 && pm && pm->n_endpoints > 64) {
    fit->status = rkin_err_set(err, RKIN_EINVAL, "SAEM: %zu endpoints, but "
                               "a chained method (then) takes at most 64",
                               pm->n_endpoints);
    fit->err = *err;
    return fit->status;
  }
  p = pop_new(pm, data, opts, err);
  if (!p) {
    fit->status = err ? err->code : RKIN_EINVAL;
    if (err) fit->err = *err;
    return fit->status;
  }
  /* EBEs, diagnostics and the covariance step: FOCE-I's */
  p->opts.method = RKIN_POP_FOCEI;
  S.p = p;
  S.q = p->n_eta;
  S.qe = p->n_ei;
  S.ns = p->n_subj;
  S.nc = (size_t)S.o.chains;
  S.rows = (p->max_obs ? p->max_obs : 1) * (p->has_scale ? 2 : 1);
  rc = pop_alloc_fit(p, fit) ? rkin_err_set(err, RKIN_ENOMEM, "out of "
                                            "memory") : RKIN_OK;
  if (!rc) rc = setup(&S, err);
  if (!rc) rc = saem_alloc(&S, err);
  if (!rc) rc = info_alloc(p, &S, in) ? rkin_err_set(err, RKIN_ENOMEM,
                                                     "out of memory")
                                      : RKIN_OK;
  if (rc) goto fail_early;
  {
    size_t k;
    for (k = 0; k < S.q; k++) in->mu_ref[k] = S.mu_of[k];
  }
  pool_start(&S);
  rc = iterate(&S, in, &fit->err);
  if (rc) {
    /* stopped: the last estimates are kept, reported failed */
    fit->status = rc;
    memcpy(fit->theta, p->theta, p->n_theta * sizeof(double));
    pop_omega_of(p, fit->omega);
    memcpy(fit->sigma, p->sigma, p->n_sigma * sizeof(double));
    pool_stop(&S);
    goto done;
  }
  fit->n_eval = in->n_iter;
  fit->stop = "SAEM: all iterations run";
  memcpy(in->theta, p->theta, p->n_theta * sizeof(double));
  pop_omega_of(p, in->omega);
  memcpy(in->sigma, p->sigma, p->n_sigma * sizeof(double));
  in->ofv_imp = in->ofv_imp_se = NAN;
  /* the EBE searches start from the chains' last states */
  {
    size_t s2;
    for (s2 = 0; s2 < S.ns; s2++)
      memcpy(p->eta_hat + s2 * S.qe, S.eta + s2 * S.nc * S.qe,
             S.qe * sizeof(double));
  }
  rc = pop_pass(p, POP_TASK_DIAG, &ofv, &fit->err);
  if (!rc) {
    in->ofv_focei = ofv;
    pop_fill_fit(p, fit, ofv);
    if (S.o.imp_samples > 0) {
      rc = imp(&S, in, &fit->err);
      if (!rc) {
        fit->ofv = in->ofv_imp;
        fit->m2ll = in->ofv_imp + (double)p->n_lik * log(2 * M_PI);
        memcpy(fit->ofv_i, in->ofv_imp_i, p->n_subj * sizeof(double));
      }
    }
  }
  /* SEs by stochastic approximation: more sampling, so before the
   * threads stop */
  rkin_err_clear(&sa_err);
  sa_rc = RKIN_EINVAL;
  if (!rc && then < 0 && p->opts.covariance && S.o.se == RKIN_SAEM_SE_SA
      && p->n_est && !pop_boundary(p, fit->omega, &sa_err)) {
    double *I = malloc(p->n_est * p->n_est * sizeof *I);
    rkin_err_clear(&sa_err);
    sa_rc = I ? sa_fisher(&S, I, &sa_err)
              : rkin_err_set(&sa_err, RKIN_ENOMEM, "out of memory");
    if (!sa_rc) sa_rc = pop_cov_from_info(p, fit, I, &sa_err);
    free(I);
  }
  pool_stop(&S);
  if (rc) {
    fit->status = rc;
    memcpy(fit->theta, p->theta, p->n_theta * sizeof(double));
    pop_omega_of(p, fit->omega);
    memcpy(fit->sigma, p->sigma, p->n_sigma * sizeof(double));
    goto done;
  }
  fit->n_boundary = pop_boundary(p, fit->omega, &fit->boundary);
  if (then < 0 && p->opts.covariance) {
    if (fit->n_boundary) {
      fit->cov_status = rkin_err_set(&fit->cov_err, RKIN_ERANGE,
                                     "covariance step not run: %s",
                                     fit->boundary.msg);
    } else if (p->n_est && S.o.se == RKIN_SAEM_SE_SA) {
      fit->cov_status = sa_rc;
      fit->cov_err = sa_err;
    } else if (p->n_est) {
      rkin_err_clear(&fit->cov_err);
      fit->cov_status = pop_covariance(p, fit, &fit->cov_err);
    }
  }
  if (then >= 0) {
    n_ep = p->n_ep;
    ep_copy = malloc((n_ep + 1) * sizeof *ep_copy);
    if (ep_copy) memcpy(ep_copy, p->ep, n_ep * sizeof *ep_copy);
  }
done:
  saem_free(&S);
  pop_free(p);
  if (then >= 0 && fit->status == 0) {
    if (!ep_copy) {
      rc = rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    } else {
      rkin_popfit_free(fit);
      rc = chain(pm, data, opts, then, in, ep_copy, n_ep, fit, err);
    }
    free(ep_copy);
    if (!info) rkin_saem_info_free(&own);
    return rc;
  }
  free(ep_copy);
  if (!info) rkin_saem_info_free(&own);
  return RKIN_OK;
fail_early:
  fit->status = rc;
  fit->err = *err;
  saem_free(&S);
  pop_free(p);
  if (!info) rkin_saem_info_free(&own);
  else rkin_saem_info_free(in);
  return rc;
}
