/* vpop_pop.c - population models: correlated log-normal random effects,
 * covariates from a Gaussian copula or given per patient, fixed-form and
 * traced covariate effects; sampled patient by patient, in parallel, with
 * per-patient random streams (see vpop.h). */
#include "pop/vpop.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Redraws of a covariate vector outside its truncation bounds before the
 * bounds are declared (practically) unsatisfiable. */
#define MAX_TRIES 100000

/* --------------------------------------------------------- the matrices */

/* A lower Cholesky factor over the `k` active rows `idx` of a matrix. */
typedef struct {
  size_t k;
  size_t *idx;
  gsl_matrix *l;
} chol;

static void chol_free(chol *c)
{
  free(c->idx);
  gsl_matrix_free(c->l);
  c->idx = NULL;
  c->l = NULL;
}

static const char *nm(const char *const *names, size_t i, char *buf,
                      size_t size)
{
  if (names && names[i]) return names[i];
  snprintf(buf, size, "#%zu", i + 1);
  return buf;
}

/* Smallest eigenvalue of the active block (for the message saying why a
 * matrix is not positive definite); NaN when it cannot be computed. */
static double min_eigen(const gsl_matrix *a)
{
  size_t k = a->size1;
  gsl_matrix *b = gsl_matrix_alloc(k, k);
  gsl_vector *ev = gsl_vector_alloc(k);
  gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(k);
  double v = NAN;
  if (b && ev && w) {
    gsl_matrix_memcpy(b, a);
    if (!gsl_eigen_symm(b, ev, w)) v = gsl_vector_min(ev);
  }
  gsl_eigen_symm_free(w);
  gsl_vector_free(ev);
  gsl_matrix_free(b);
  return v;
}

/* Checks a symmetric matrix (what: "omega" / "covariate correlation") and
 * factors its block over the rows with a non-zero diagonal. corr: the
 * diagonal must be 1. */
static int factor(const double *a, size_t n, const char *const *names,
                  const char *what, int corr, chol *out, rkin_err *err)
{
  size_t i, j, k = 0;
  char b1[32], b2[32];
  memset(out, 0, sizeof *out);
  for (i = 0; i < n; i++) {
    double d = a[i * n + i];
    if (!isfinite(d) || d < 0 || (corr && d != 1.0))
      return rkin_err_set(err, RKIN_EINVAL,
                          "population: %s[%s][%s] = %g: a diagonal entry "
                          "must be %s", what, nm(names, i, b1, sizeof b1),
                          nm(names, i, b1, sizeof b1), d,
                          corr ? "1" : "a finite variance >= 0");
    for (j = 0; j < n; j++) {
      double x = a[i * n + j], y = a[j * n + i];
      double s = sqrt(a[i * n + i] * a[j * n + j]);
      if (!isfinite(x))
        return rkin_err_set(err, RKIN_EINVAL, "population: %s[%s][%s] is "
                            "not finite", what, nm(names, i, b1, sizeof b1),
                            nm(names, j, b2, sizeof b2));
      if (fabs(x - y) > 1e-12 * (fabs(x) + fabs(y)))
        return rkin_err_set(err, RKIN_EINVAL,
                            "population: %s is not symmetric: [%s][%s] = %g "
                            "but [%s][%s] = %g", what,
                            nm(names, i, b1, sizeof b1),
                            nm(names, j, b2, sizeof b2), x,
                            nm(names, j, b2, sizeof b2),
                            nm(names, i, b1, sizeof b1), y);
      if (i != j && fabs(x) > s * (1 + 1e-12))
        return rkin_err_set(err, RKIN_EINVAL,
                            "population: %s is not positive definite: "
                            "%s[%s][%s] = %g implies a correlation of %g "
                            "between %s and %s (|r| must be < 1)%s", what,
                            what,
                            nm(names, i, b1, sizeof b1),
                            nm(names, j, b2, sizeof b2), x,
                            s > 0 ? x / s : INFINITY,
                            nm(names, i, b1, sizeof b1),
                            nm(names, j, b2, sizeof b2),
                            s > 0 ? "" : "; one of them has no variance");
    }
    if (a[i * n + i] > 0) k++;
  }
  out->k = k;
  if (!k) return RKIN_OK;
  out->idx = malloc(k * sizeof *out->idx);
  out->l = gsl_matrix_alloc(k, k);
  if (!out->idx || !out->l) {
    chol_free(out);
    return rkin_err_set(err, RKIN_ENOMEM, "population: out of memory");
  }
  for (i = 0, k = 0; i < n; i++)
    if (a[i * n + i] > 0) out->idx[k++] = i;
  for (i = 0; i < k; i++)
    for (j = 0; j < k; j++)
      gsl_matrix_set(out->l, i, j, a[out->idx[i] * n + out->idx[j]]);
  {
    double ev = min_eigen(out->l);
    if (gsl_linalg_cholesky_decomp1(out->l)) {
      size_t p;
      char list[256] = "";
      for (p = 0; p < k; p++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", p ? ", " : "",
                 nm(names, out->idx[p], b1, sizeof b1));
      }
      chol_free(out);
      return rkin_err_set(err, RKIN_EINVAL,
                          "population: %s over %s is not positive definite "
                          "(its smallest eigenvalue is %g): the correlations "
                          "given are not possible together; lower some of "
                          "them", what, list, ev);
    }
  }
  return RKIN_OK;
}

/* ----------------------------------------------------------- the check */

static int check_dist(const rkin_covdist *d, const char *name, rkin_err *err)
{
  double lo = d->lo, hi = d->hi, p;
  if (isnan(lo) || isnan(hi) || lo > hi)
    return rkin_err_set(err, RKIN_EINVAL, "population: covariate '%s': "
                        "bounds [%g, %g] are not an interval", name, lo, hi);
  switch (d->dist) {
  case RKIN_DIST_UNIFORM:
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
      return rkin_err_set(err, RKIN_EINVAL, "population: covariate '%s': a "
                          "uniform distribution needs finite min < max (got "
                          "[%g, %g])", name, lo, hi);
    return RKIN_OK;
  case RKIN_DIST_NORMAL:
    if (!isfinite(d->mean) || !isfinite(d->sd) || d->sd < 0)
      return rkin_err_set(err, RKIN_EINVAL, "population: covariate '%s': a "
                          "normal distribution needs a finite mean and sd "
                          ">= 0 (got %g, %g)", name, d->mean, d->sd);
    if (d->sd == 0) p = d->mean >= lo && d->mean <= hi;
    else p = gsl_cdf_gaussian_P(hi - d->mean, d->sd)
             - gsl_cdf_gaussian_P(lo - d->mean, d->sd);
    break;
  case RKIN_DIST_LOGNORMAL: {
    double s2, mu;
    if (!(d->mean > 0) || !isfinite(d->mean) || !isfinite(d->sd) ||
        d->sd < 0)
      return rkin_err_set(err, RKIN_EINVAL, "population: covariate '%s': a "
                          "lognormal distribution needs mean > 0 and sd >= 0 "
                          "(got %g, %g)", name, d->mean, d->sd);
    s2 = log1p(d->sd * d->sd / (d->mean * d->mean));
    mu = log(d->mean) - s2 / 2;
    if (s2 == 0) p = d->mean >= lo && d->mean <= hi;
    else p = gsl_cdf_lognormal_P(hi > 0 ? hi : 0, mu, sqrt(s2))
             - gsl_cdf_lognormal_P(lo > 0 ? lo : 0, mu, sqrt(s2));
    break;
  }
  default:
    return rkin_err_set(err, RKIN_EINVAL, "population: covariate '%s': "
                        "unknown distribution %d", name, (int)d->dist);
  }
  if (!(p >= 1e-3))
    return rkin_err_set(err, RKIN_EINVAL, "population: covariate '%s': the "
                        "bounds [%g, %g] keep only a fraction %g of its "
                        "distribution (mean %g, sd %g); widen them", name,
                        lo, hi, p, d->mean, d->sd);
  return RKIN_OK;
}

static int check_fn(const rkin_pop_spec *ps, const rkin_pop_fn *f,
                    const char *what, size_t n_slots, size_t n_targets,
                    rkin_err *err)
{
  size_t k, np, no;
  if (!f->fn) return RKIN_OK;
  np = rkin_model_nparams(f->fn);
  no = rkin_model_noutputs(f->fn);
  if ((np && !f->arg) || (no && !f->out))
    return rkin_err_set(err, RKIN_EINVAL, "population: %s: input or output "
                        "slots missing", what);
  for (k = 0; k < np; k++)
    if (f->arg[k] >= n_slots)
      return rkin_err_set(err, RKIN_EINVAL, "population: %s: input '%s' "
                          "reads slot %zu of %zu", what,
                          rkin_model_param_name(f->fn, k), f->arg[k],
                          n_slots);
  for (k = 0; k < no; k++)
    if (f->out[k] >= n_targets)
      return rkin_err_set(err, RKIN_EINVAL, "population: %s: output '%s' "
                          "writes target %zu of %zu", what,
                          rkin_model_output_name(f->fn, k), f->out[k],
                          n_targets);
  (void)ps;
  return RKIN_OK;
}

static const char *cov_name(const rkin_pop_spec *ps, size_t k)
{
  if (k < ps->n_cov) return ps->cov_names ? ps->cov_names[k] : "?";
  return ps->derived_names ? ps->derived_names[k - ps->n_cov] : "?";
}

/* Everything but the matrices. */
static int check_plain(const rkin_pop_spec *ps, rkin_err *err)
{
  size_t np, nc, k;
  if (!ps || !ps->model)
    return rkin_err_set(err, RKIN_EINVAL, "population: a model is required");
  np = rkin_model_nparams(ps->model);
  nc = ps->n_cov + ps->n_derived;
  if ((ps->n_cov && !ps->cov_names) || (ps->n_derived && !ps->derived_names))
    return rkin_err_set(err, RKIN_EINVAL, "population: covariate names are "
                        "required");
  for (k = 0; ps->theta && k < np; k++)
    if (!isfinite(ps->theta[k]))
      return rkin_err_set(err, RKIN_EINVAL, "population: theta of '%s' is "
                          "not finite", rkin_model_param_name(ps->model, k));
  for (k = 0; ps->cov && k < ps->n_cov; k++) {
    int rc = check_dist(&ps->cov[k], cov_name(ps, k), err);
    if (rc) return rc;
  }
  for (k = 0; k < ps->n_effects; k++) {
    const rkin_effect *e = &ps->effects[k];
    if (e->param >= np || e->cov >= nc)
      return rkin_err_set(err, RKIN_EINVAL, "population: effect %zu names "
                          "parameter %zu / covariate %zu, outside the "
                          "model's %zu parameters / %zu covariates", k + 1,
                          e->param, e->cov, np, nc);
    if (!isfinite(e->ref) || !isfinite(e->beta) ||
        (e->kind == RKIN_EFFECT_POWER && !(e->ref > 0)) ||
        e->kind > RKIN_EFFECT_LINEAR)
      return rkin_err_set(err, RKIN_EINVAL, "population: effect of '%s' on "
                          "'%s': ref %g and beta %g must be finite (ref > 0 "
                          "for a power effect)", cov_name(ps, e->cov),
                          rkin_model_param_name(ps->model, e->param), e->ref,
                          e->beta);
  }
  if (check_fn(ps, &ps->derive, "derived covariates", 2 * np + ps->n_cov,
               ps->n_derived, err) ||
      check_fn(ps, &ps->individual, "individual", 2 * np + nc, np, err))
    return err ? err->code : RKIN_EINVAL;
  for (k = 0; k < ps->n_derived; k++) {
    size_t j, no = ps->derive.fn ? rkin_model_noutputs(ps->derive.fn) : 0;
    int set = 0;
    for (j = 0; j < no; j++) set |= ps->derive.out[j] == k;
    if (!set)
      return rkin_err_set(err, RKIN_EINVAL, "population: derived covariate "
                          "'%s' is not computed by the derive function",
                          cov_name(ps, ps->n_cov + k));
  }
  return RKIN_OK;
}

static int check_all(const rkin_pop_spec *ps, chol *om, chol *cr,
                     rkin_err *err)
{
  int rc = check_plain(ps, err);
  const char *const *pn;
  size_t np, j;
  memset(om, 0, sizeof *om);
  memset(cr, 0, sizeof *cr);
  if (rc) return rc;
  np = rkin_model_nparams(ps->model);
  pn = NULL;
  if (ps->omega) {
    const char **names = malloc((np ? np : 1) * sizeof *names);
    if (!names) return rkin_err_set(err, RKIN_ENOMEM, "population: out of "
                                    "memory");
    for (j = 0; j < np; j++)
      names[j] = rkin_model_param_name(ps->model, j);
    pn = names;
    rc = factor(ps->omega, np, pn, "omega", 0, om, err);
    free(names);
    if (rc) return rc;
    for (j = 0; ps->theta && j < om->k; j++)
      if (!(ps->theta[om->idx[j]] > 0)) {
        rkin_err_set(err, RKIN_EINVAL, "population: parameter '%s' has "
                     "log-normal variability, so its typical value must be "
                     "> 0 (got %g)",
                     rkin_model_param_name(ps->model, om->idx[j]),
                     ps->theta[om->idx[j]]);
        chol_free(om);
        return RKIN_EINVAL;
      }
  }
  if (ps->cov_corr && ps->n_cov) {
    rc = factor(ps->cov_corr, ps->n_cov, ps->cov_names,
                "covariate correlation", 1, cr, err);
    if (rc) chol_free(om);
  }
  return rc;
}

int rkin_pop_check(const rkin_pop_spec *ps, rkin_err *err)
{
  chol om, cr;
  int rc = check_all(ps, &om, &cr, err);
  chol_free(&om);
  chol_free(&cr);
  return rc;
}

/* -------------------------------------------------------- one patient */

/* SplitMix64 finaliser: nearby (seed, i) give unrelated stream seeds. */
static unsigned long mix_seed(unsigned long seed, size_t i)
{
  uint64_t z = (uint64_t)seed + 0x9e3779b97f4a7c15ULL * ((uint64_t)i + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (unsigned long)z;
}

typedef struct {
  const rkin_pop_spec *ps;
  const chol *om, *cr;
  const double *theta;
  unsigned long seed;
  size_t base;             /* patients base + 1 .. base + n (a block) */
  size_t n;
  const double *cov_in;
  double *params, *eta, *cov;
  atomic_size_t next;
  pthread_mutex_t lock;
  int code;               /* of the lowest failing patient */
  size_t failed;          /* its index + 1; 0: none */
  rkin_err first;
} pop_job;

typedef struct {
  gsl_rng *rng;
  double *z, *u, *out, *work, *y, *p;
} pop_ws;

static void ws_free(pop_ws *w)
{
  gsl_rng_free(w->rng);
  free(w->z);
  free(w->u);
  free(w->out);
  free(w->work);
  free(w->y);
  free(w->p);
}

static size_t fn_max(const rkin_pop_fn *f, size_t (*count)(const rkin_model *))
{
  return f->fn ? count(f->fn) : 0;
}

static int ws_alloc(pop_ws *w, const rkin_pop_spec *ps)
{
  size_t np = rkin_model_nparams(ps->model);
  size_t nu = 2 * np + ps->n_cov + ps->n_derived;
  size_t nout = fn_max(&ps->derive, rkin_model_noutputs);
  size_t nwork = fn_max(&ps->derive, rkin_model_nwork);
  size_t ny = fn_max(&ps->derive, rkin_model_nstates);
  size_t npf = fn_max(&ps->derive, rkin_model_nparams);
  size_t a = fn_max(&ps->individual, rkin_model_noutputs);
  if (a > nout) nout = a;
  if ((a = fn_max(&ps->individual, rkin_model_nwork)) > nwork) nwork = a;
  if ((a = fn_max(&ps->individual, rkin_model_nstates)) > ny) ny = a;
  if ((a = fn_max(&ps->individual, rkin_model_nparams)) > npf) npf = a;
  memset(w, 0, sizeof *w);
  w->rng = gsl_rng_alloc(gsl_rng_mt19937);
  w->z = calloc(np + ps->n_cov + 1, sizeof *w->z);
  w->u = calloc(nu + 1, sizeof *w->u);
  w->out = calloc(nout + 1, sizeof *w->out);
  w->work = calloc(nwork + 1, sizeof *w->work);
  w->y = calloc(ny + 1, sizeof *w->y);
  w->p = calloc(npf + 1, sizeof *w->p);
  return w->rng && w->z && w->u && w->out && w->work && w->y && w->p;
}

/* Evaluates f on the inputs u into w->out; names the failing output. */
static int eval_fn(const rkin_pop_fn *f, pop_ws *w, const char *what,
                   rkin_err *err)
{
  size_t k, np = rkin_model_nparams(f->fn);
  int rc;
  for (k = 0; k < np; k++) w->p[k] = w->u[f->arg[k]];
  rc = rkin_model_outputs(f->fn, 0.0, w->y, w->p, w->out, w->work);
  if (rc) {
    size_t o = (size_t)(-1 - rc);
    char buf[200] = "";
    for (k = 0; k < np && strlen(buf) < 150; k++) {
      size_t len = strlen(buf);
      snprintf(buf + len, sizeof buf - len, "%s%s = %g", k ? ", " : "",
               rkin_model_param_name(f->fn, k), w->p[k]);
    }
    return rkin_err_set(err, RKIN_ENONFINITE, "%s returns a non-finite "
                        "'%s' (inputs: %s)", what,
                        rkin_model_output_name(f->fn, o), buf);
  }
  return RKIN_OK;
}

/* Draws the covariate vector into u (slots from c0) from the copula. */
static int draw_covariates(const pop_job *job, pop_ws *w, double *c,
                           rkin_err *err)
{
  const rkin_pop_spec *ps = job->ps;
  size_t nc = ps->n_cov, k, j, tries;
  double *z = w->z + rkin_model_nparams(ps->model);
  for (tries = 0; tries < MAX_TRIES; tries++) {
    int inside = 1;
    for (k = 0; k < nc; k++) z[k] = gsl_ran_gaussian_ziggurat(w->rng, 1.0);
    /* z <- L z over the correlated block, last row first (in place). */
    for (k = job->cr->k; k-- > 0;) {
      double s = 0;
      for (j = 0; j <= k; j++)
        s += gsl_matrix_get(job->cr->l, k, j) * z[job->cr->idx[j]];
      z[job->cr->idx[k]] = s;
    }
    for (k = 0; k < nc && inside; k++) {
      const rkin_covdist *d = &ps->cov[k];
      double x;
      if (d->dist == RKIN_DIST_NORMAL) {
        x = d->mean + d->sd * z[k];
      } else if (d->dist == RKIN_DIST_LOGNORMAL) {
        double s2 = log1p(d->sd * d->sd / (d->mean * d->mean));
        x = exp(log(d->mean) - s2 / 2 + sqrt(s2) * z[k]);
      } else {
        x = d->lo + (d->hi - d->lo) * gsl_cdf_ugaussian_P(z[k]);
      }
      c[k] = x;
      inside = x >= d->lo && x <= d->hi;
    }
    if (inside) return RKIN_OK;
  }
  return rkin_err_set(err, RKIN_EINVAL, "covariate truncation bounds "
                      "rejected %d draws in a row; widen them or lower the "
                      "covariate correlations", MAX_TRIES);
}

static int one_patient(pop_job *job, pop_ws *w, size_t i, rkin_err *err)
{
  const rkin_pop_spec *ps = job->ps;
  const rkin_model *m = ps->model;
  size_t np = rkin_model_nparams(m), nc = ps->n_cov;
  size_t j, k, no;
  double *th = w->u, *eta = w->u + np, *c = w->u + 2 * np;
  double *p = job->params ? job->params + i * np : NULL;
  int rc;

  gsl_rng_set(w->rng, mix_seed(job->seed, job->base + i));
  memcpy(th, job->theta, np * sizeof *th);
  /* One z per parameter whatever omega says, then the covariates. */
  for (j = 0; j < np; j++) w->z[j] = gsl_ran_gaussian_ziggurat(w->rng, 1.0);
  for (j = 0; j < np; j++) eta[j] = 0;
  for (k = 0; k < job->om->k; k++) {
    double s = 0;
    for (j = 0; j <= k; j++)
      s += gsl_matrix_get(job->om->l, k, j) * w->z[job->om->idx[j]];
    eta[job->om->idx[k]] = s;
  }
  if (job->cov_in) {
    for (k = 0; k < nc; k++) {
      c[k] = job->cov_in[i * nc + k];
      if (!isfinite(c[k]))
        return rkin_err_set(err, RKIN_EINVAL, "covariate '%s' is not a "
                            "finite number", cov_name(ps, k));
    }
  } else if (nc) {
    if (!ps->cov)
      return rkin_err_set(err, RKIN_EINVAL, "covariate '%s' has no "
                          "distribution to sample from (give it one, or "
                          "read the covariates from a table)",
                          cov_name(ps, 0));
    if ((rc = draw_covariates(job, w, c, err))) return rc;
  }
  if (ps->derive.fn) {
    if ((rc = eval_fn(&ps->derive, w, "the derive function", err))) return rc;
    no = rkin_model_noutputs(ps->derive.fn);
    for (k = 0; k < no; k++) c[nc + ps->derive.out[k]] = w->out[k];
  }
  /* Fixed-form effects, then the individual function overrides. */
  if (!p) return RKIN_OK;
  for (j = 0; j < np; j++) p[j] = th[j] * exp(eta[j]);
  for (k = 0; k < ps->n_effects; k++) {
    const rkin_effect *e = &ps->effects[k];
    double x = c[e->cov], f;
    if (e->kind == RKIN_EFFECT_POWER) f = pow(x / e->ref, e->beta);
    else if (e->kind == RKIN_EFFECT_EXP) f = exp(e->beta * (x - e->ref));
    else f = 1 + e->beta * (x - e->ref);
    if (!(f > 0) || !isfinite(f))
      return rkin_err_set(err, RKIN_EINVAL, "the effect of covariate '%s' = "
                          "%g on '%s' gives a factor %g (must be finite and "
                          "> 0)", cov_name(ps, e->cov), x,
                          rkin_model_param_name(m, e->param), f);
    p[e->param] *= f;
  }
  if (ps->individual.fn) {
    if ((rc = eval_fn(&ps->individual, w, "the individual function", err)))
      return rc;
    no = rkin_model_noutputs(ps->individual.fn);
    for (k = 0; k < no; k++) p[ps->individual.out[k]] = w->out[k];
  }
  for (j = 0; j < np; j++)
    if (!isfinite(p[j]))
      return rkin_err_set(err, RKIN_ENONFINITE, "parameter '%s' is not "
                          "finite (theta %g, eta %g)",
                          rkin_model_param_name(m, j), th[j], eta[j]);
  return RKIN_OK;
}

static void *pop_worker(void *arg)
{
  pop_job *job = arg;
  const rkin_pop_spec *ps = job->ps;
  size_t np = rkin_model_nparams(ps->model);
  size_t nct = ps->n_cov + ps->n_derived;
  pop_ws w;
  rkin_err err;
  int okay = ws_alloc(&w, ps);
  for (;;) {
    size_t i = atomic_fetch_add(&job->next, 1);
    int rc;
    if (i >= job->n) break;
    rkin_err_clear(&err);
    if (!okay) rc = rkin_err_set(&err, RKIN_ENOMEM, "out of memory");
    else rc = one_patient(job, &w, i, &err);
    if (!rc) {
      if (job->eta) memcpy(job->eta + i * np, w.u + np, np * sizeof(double));
      if (job->cov && nct)
        memcpy(job->cov + i * nct, w.u + 2 * np, nct * sizeof(double));
      continue;
    }
    rkin_err_prefix(&err, "population: patient %zu: ", job->base + i + 1);
    pthread_mutex_lock(&job->lock);
    /* Keep the lowest failing patient, whatever the thread timing. */
    if (!job->failed || i + 1 < job->failed) {
      job->failed = i + 1;
      job->code = rc;
      job->first = err;
    }
    pthread_mutex_unlock(&job->lock);
  }
  ws_free(&w);
  return NULL;
}

int rkin_pop_sample(const rkin_pop_spec *ps, unsigned long seed, size_t n,
                    const double *cov_in, double *params, double *eta,
                    double *cov, rkin_err *err)
{
  return rkin_pop_sample_block(ps, seed, 0, n, cov_in, params, eta, cov,
                               err);
}

int rkin_pop_sample_block(const rkin_pop_spec *ps, unsigned long seed,
                          size_t first, size_t n, const double *cov_in,
                          double *params, double *eta, double *cov,
                          rkin_err *err)
{
  chol om, cr;
  pop_job job;
  pthread_t *tid = NULL;
  double *theta = NULL;
  int rc, nt, t, started = 0;
  size_t np;

  rc = check_all(ps, &om, &cr, err);
  if (rc) return rc;
  np = rkin_model_nparams(ps->model);
  memset(&job, 0, sizeof job);
  if (!n) goto done;
  if (!cov_in && ps->n_cov && !ps->cov) {
    rc = rkin_err_set(err, RKIN_EINVAL, "population: covariate '%s' has no "
                      "distribution to sample from (give it one, or read "
                      "the covariates from a table)", ps->cov_names[0]);
    goto done;
  }
  theta = malloc((np ? np : 1) * sizeof *theta);
  nt = ps->threads > 0 ? ps->threads : rkin_ncores();
  if ((size_t)nt > n) nt = (int)n;
  tid = calloc((size_t)nt, sizeof *tid);
  if (!theta || !tid) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "population: out of memory");
    goto done;
  }
  if (np) memcpy(theta, ps->theta ? ps->theta : rkin_model_defaults(ps->model),
                 np * sizeof *theta);
  job.ps = ps;
  job.om = &om;
  job.cr = &cr;
  job.theta = theta;
  job.seed = seed;
  job.base = first;
  job.n = n;
  job.cov_in = cov_in;
  job.params = params;
  job.eta = eta;
  job.cov = cov;
  atomic_init(&job.next, 0);
  pthread_mutex_init(&job.lock, NULL);
  for (t = 0; t < nt; t++, started++)
    if (pthread_create(&tid[t], NULL, pop_worker, &job)) break;
  if (!started) pop_worker(&job);   /* no thread: do it here */
  for (t = 0; t < started; t++) pthread_join(tid[t], NULL);
  pthread_mutex_destroy(&job.lock);
  if (job.failed) {
    if (err) *err = job.first;
    rc = job.code;
  }

done:
  free(tid);
  free(theta);
  chol_free(&om);
  chol_free(&cr);
  return rc;
}
