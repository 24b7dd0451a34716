/* popest.c - population fit: specification checks, set-up, the outer
 * optimisation of theta / Omega / sigma on a transformed scale, and the
 * results (estimates, EBEs, diagnostics, shrinkage). */
#include "pop/popest_impl.h"
#include "pop/saem.h"

#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rkin_popfit_opts_default(rkin_popfit_opts *o)
{
  memset(o, 0, sizeof *o);
  o->method = RKIN_POP_FOCEI;
  o->covariance = 1;
  o->threads = 0;
  o->max_eval = 3000;
  o->xtol = 1e-6;
  o->eta_step = 0;
}

/* ------------------------------------------------------------ set-up */

static int check_spec(const rkin_popmodel *pm, rkin_err *err)
{
  size_t k;
  if (!pm)
    return rkin_err_set(err, RKIN_EINVAL, "population model: NULL");
  if (!pm->model == !pm->predict)
    return rkin_err_set(err, RKIN_EINVAL, "population model: give either a "
                        "model (solved by rkin_solver) or a predictor "
                        "callback, not %s", pm->model ? "both" : "neither");
  if (pm->model && !pm->n_endpoints) {
    size_t no = rkin_model_noutputs(pm->model);
    size_t ns = rkin_model_nstates(pm->model);
    if (pm->output >= 0 ? (size_t)pm->output >= no
                        : (size_t)(-1 - pm->output) >= ns)
      return rkin_err_set(err, RKIN_EINVAL, "population model: observed "
                          "quantity %d is not an output (0..%zu) or a state "
                          "(-1..-%zu) of model '%s'", pm->output, no,
                          ns, rkin_model_name(pm->model));
  } else if (!pm->model && pm->n_psi == 0) {
    return rkin_err_set(err, RKIN_EINVAL, "population model: n_psi must be "
                        "> 0 with a predictor callback");
  }
  if (!pm->indiv == !(pm->graph && pm->psi_expr))
    return rkin_err_set(err, RKIN_EINVAL, "population model: give either "
                        "an individual-parameter callback or expressions "
                        "(graph + psi_expr), not %s",
                        pm->indiv ? "both" : "neither");
  if (pm->n_eta == 0 || pm->n_eta > POP_MAX_ETA)
    return rkin_err_set(err, RKIN_EINVAL, "population model: n_eta = %zu "
                        "(expected 1 to %d random effects)", pm->n_eta,
                        POP_MAX_ETA);
  if (!pm->omega_init || (pm->n_theta && !pm->theta_init)
      || (!pm->sigma_init && !pm->n_endpoints))
    return rkin_err_set(err, RKIN_EINVAL, "population model: theta_init, "
                        "omega_init and sigma_init are required");
  for (k = 0; k < pm->n_theta; k++) {
    double lo = pm->theta_lower ? pm->theta_lower[k] : -HUGE_VAL;
    double hi = pm->theta_upper ? pm->theta_upper[k] : HUGE_VAL;
    double v = pm->theta_init[k];
    if (!isfinite(v) || isnan(lo) || isnan(hi) || v < lo || v > hi
        || lo >= hi)
      return rkin_err_set(err, RKIN_EINVAL, "population model: theta %s = "
                          "%g with bounds [%g, %g] (expected a finite "
                          "initial value inside lower < upper)",
                          pm->theta_names ? pm->theta_names[k] : "?", v,
                          lo, hi);
  }
  /* error models and sigma: pop_res_setup (popres.c) */
  return RKIN_OK;
}

/* Whether a covariate the model uses changes between the records of sj
 * (its parameters are then piecewise constant in time); every record
 * must give each one (it applies over the interval the record ends). */
static int time_varying(const pop *p, const rkin_data_subject *sj, int *tv,
                        rkin_err *err)
{
  size_t r, k, nc = rkin_data_ncovariates(p->data);
  *tv = 0;
  for (r = 0; r < sj->n_rec; r++)
    for (k = 0; k < p->pm->n_cov; k++) {
      size_t c = (size_t)p->cov_idx[k];
      double v = sj->rec_cov[r * nc + c];
      if (isnan(v))
        return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column %d (%s): "
                            "covariate missing on a record of subject ID "
                            "%g (a covariate the model uses needs a value "
                            "on every record: it applies over the interval "
                            "each record ends)", rkin_data_name(p->data),
                            sj->rec_line[r],
                            rkin_data_covariate_column(p->data, c),
                            p->pm->cov_names[k], sj->id);
      if (r && v != sj->rec_cov[(r - 1) * nc + c]) *tv = 1;
    }
  return RKIN_OK;
}

static int map_data(pop *p, rkin_err *err)
{
  const rkin_popmodel *pm = p->pm;
  size_t s, k, off = 0;
  p->n_subj = rkin_data_nsubjects(p->data);
  if (p->n_subj == 0)
    return rkin_err_set(err, RKIN_EINVAL, "population fit: no subjects");
  p->cov_idx = malloc((pm->n_cov ? pm->n_cov : 1) * sizeof *p->cov_idx);
  p->obs_off = malloc(p->n_subj * sizeof *p->obs_off);
  p->tv = calloc(p->n_subj, sizeof *p->tv);
  if (!p->cov_idx || !p->obs_off || !p->tv)
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  for (k = 0; k < pm->n_cov; k++) {
    p->cov_idx[k] = rkin_data_covariate_index(p->data, pm->cov_names[k],
                                              err);
    if (p->cov_idx[k] < 0) return rkin_err_prefix(err, "population model: ");
  }
  for (s = 0; s < p->n_subj; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    p->obs_off[s] = off;
    off += sj->n_obs;
    if (sj->n_obs > p->max_obs) p->max_obs = sj->n_obs;
    for (k = 0; k < pm->n_cov; k++)
      if (isnan(sj->cov[p->cov_idx[k]]))
        return rkin_err_set(err, RKIN_EINVAL, "subject ID %g (line %zu): "
                            "covariate %s is missing on all its records",
                            sj->id, sj->line, pm->cov_names[k]);
    if (pm->n_cov && pm->model) {
      int rc = time_varying(p, sj, &p->tv[s], err);
      if (rc) return rc;
    }
  }
  p->n_obs = off;
  if (pm->model) {
    int rc = rkin_data_check_states(p->data, rkin_model_nstates(pm->model),
                                    NULL, err);
    if (!rc) rc = rkin_data_check_model(p->data, pm->model, err);
    if (rc) return rc;
    /* A model starts from zero state, so without a dose every prediction
     * is 0: say so here rather than as a failed EBE search. */
    for (s = 0; s < p->n_subj; s++) {
      const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
      size_t g, nev = 0;
      for (g = 0; g < sj->n_seg; g++)
        nev += rkin_dosing_nevents(sj->seg[g].dosing)
               + (size_t)rkin_dosing_needs_model(sj->seg[g].dosing);
      if (nev == 0)
        return rkin_err_set(err, RKIN_EINVAL, "subject ID %g (line %zu) has "
                            "no dose records (none with AMT > 0): the model "
                            "starts from zero, so every prediction would be "
                            "0; give its doses (EVID 1, AMT, CMT)", sj->id,
                            sj->line);
    }
  }
  return RKIN_OK;
}

/* One tape for psi and its eta-derivatives (psi_deta). */
static int compile_dpsi(pop *p, rkin_err *err)
{
  const rkin_popmodel *pm = p->pm;
  size_t np = p->n_psi, q = p->n_eta, k;
  size_t nl = p->n_theta + p->n_eta + p->n_cov;
  rkin_node *nodes = malloc(np * (1 + q) * sizeof *nodes);
  if (!nodes) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  memcpy(nodes, pm->psi_expr, np * sizeof *nodes);
  memcpy(nodes + np, pm->psi_deta, np * q * sizeof *nodes);
  for (k = 0; k < np * q; k++) {
    rkin_node d = pm->psi_deta[k];
    if (d < 0 || (size_t)d >= rkin_graph_size(pm->graph)
        || rkin_expr_has_state(pm->graph, d)
        || rkin_expr_has_time(pm->graph, d)
        || rkin_expr_max_param(pm->graph, d) >= (int)nl) {
      free(nodes);
      return rkin_err_set(err, RKIN_EINVAL, "population model: psi_deta "
                          "entry (%zu,%zu) = node %d is not an expression "
                          "of theta, eta and covariates", k / q + 1,
                          k % q + 1, d);
    }
  }
  p->tape_d = rkin_tape_compile(pm->graph, nodes, np * (1 + q), err);
  free(nodes);
  return p->tape_d ? RKIN_OK : (err ? err->code : RKIN_EINVAL);
}

static int compile_psi(pop *p, rkin_err *err)
{
  const rkin_popmodel *pm = p->pm;
  size_t k, np = p->n_theta + p->n_eta + p->n_cov;
  if (!pm->graph) return RKIN_OK;
  for (k = 0; k < p->n_psi; k++) {
    int mx = rkin_expr_max_param(pm->graph, pm->psi_expr[k]);
    if (rkin_expr_has_state(pm->graph, pm->psi_expr[k])
        || rkin_expr_has_time(pm->graph, pm->psi_expr[k]))
      return rkin_err_set(err, RKIN_EINVAL, "population model: the "
                          "expression of individual parameter %zu uses a "
                          "state or time (expected theta, eta and "
                          "covariates only)", k + 1);
    if (mx >= (int)np)
      return rkin_err_set(err, RKIN_EINVAL, "population model: the "
                          "expression of individual parameter %zu uses "
                          "parameter leaf %d (expected < %zu: theta, eta, "
                          "covariates)", k + 1, mx, np);
  }
  p->tape = rkin_tape_compile(pm->graph, pm->psi_expr, p->n_psi, err);
  if (!p->tape) return err ? err->code : RKIN_EINVAL;
  return pm->psi_deta ? compile_dpsi(p, err) : RKIN_OK;
}

/* An eta that changes no individual parameter makes Omega unidentifiable;
 * probed at the initial theta for the first subject. */
static int check_etas_used(pop *p, rkin_err *err)
{
  pop_ws *w = &p->ws[0];
  size_t q = p->n_eta, k, j;
  double eta[POP_MAX_ETA] = {0}, *base = malloc(p->n_psi * sizeof *base);
  int rc;
  if (!base) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  w->slot = 0;             /* IOV: the first occasion's etas are eta */
  rc = pop_psi(w, 0, eta, err);
  if (!rc) memcpy(base, w->psi, p->n_psi * sizeof *base);
  for (k = 0; !rc && k < q; k++) {
    int used = 0;
    double d;
    for (d = -0.1; d <= 0.1 && !rc && !used; d += 0.2) {
      eta[k] = d;
      rc = pop_psi(w, 0, eta, err);
      for (j = 0; !rc && j < p->n_psi; j++) used |= w->psi[j] != base[j];
    }
    eta[k] = 0;
    w->slot = -1;
    if (!rc && !used)
      rc = rkin_err_set(err, RKIN_EINVAL, "population model: eta %s "
                        "changes no individual parameter (an eta the "
                        "parameter builder does not use)",
                        p->pm->eta_names ? p->pm->eta_names[k] : "?");
  }
  free(base);
  return rc;
}

void pop_free(pop *p)
{
  int t;
  if (!p) return;
  pop_pool_stop(p);
  free(p->dist_buf);
  for (t = 0; p->ws && t < p->n_threads; t++) pop_ws_free(&p->ws[t]);
  free(p->ws);
  rkin_tape_free(p->tape);
  rkin_tape_free(p->tape_d);
  free(p->cov_idx);
  free(p->tv);
  free(p->obs_off);
  free(p->theta);
  free(p->L);
  free(p->sigma);
  free(p->eta_hat);
  free(p->ofv_i);
  free(p->status);
  free(p->ebe_modes);
  free(p->ebe_dofv);
  free(p->ebe_S);
  free(p->serr);
  free(p->pred);
  free(p->ipred);
  free(p->res);
  free(p->iwres);
  free(p->cwres);
  free(p->psi_i);
  pop_param_free(p);
  pop_iov_free(p);
  free(p->ang_work);
  pop_res_free(p);
  free(p);
}

static int n_cores(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static pop *pop_new_local(const rkin_popmodel *pm, const rkin_data *data,
                          const rkin_popfit_opts *opts, rkin_err *err)
{
  pop *p;
  size_t q;
  int t, rc = check_spec(pm, err);
  if (rc) return NULL;
  if (!data) {
    rkin_err_set(err, RKIN_EINVAL, "population fit: NULL dataset");
    return NULL;
  }
  p = calloc(1, sizeof *p);
  if (!p) {
    rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    return NULL;
  }
  p->pm = pm;
  p->data = data;
  if (opts) p->opts = *opts;
  else rkin_popfit_opts_default(&p->opts);
  p->n_theta = pm->n_theta;
  p->n_eta = q = pm->n_eta;
  p->n_cov = pm->n_cov;
  p->n_psi = pm->model ? rkin_model_nparams(pm->model) : pm->n_psi;
  p->n_sol = pm->model ? (pm->output >= 0 ? rkin_model_noutputs(pm->model)
                                          : rkin_model_nstates(pm->model))
                       : 0;
  rc = map_data(p, err);
  p->subj_lo = 0;
  p->subj_hi = p->n_subj;
  if (!rc && p->opts.gather) {
    if (!p->opts.agree || p->opts.subj_lo > p->opts.subj_hi
        || p->opts.subj_hi > p->n_subj)
      rc = rkin_err_set(err, RKIN_EINVAL, "population fit over several "
                        "processes: subjects [%zu, %zu) of %zu (expected a "
                        "range within them, and an agree function)",
                        p->opts.subj_lo, p->opts.subj_hi, p->n_subj);
    p->subj_lo = p->opts.subj_lo;
    p->subj_hi = p->opts.subj_hi;
    if (!rc) rc = pop_dist_setup(p, err);
  }
  if (!rc) rc = pop_res_setup(p, err);   /* n_sigma, sigma, n_sol */
  if (!rc) rc = compile_psi(p, err);
  if (rc) goto fail;
  p->theta = calloc(p->n_theta + 1, sizeof *p->theta);
  p->L = calloc(q * q, sizeof *p->L);
  p->ofv_i = calloc(p->n_subj, sizeof *p->ofv_i);
  p->status = calloc(p->n_subj, sizeof *p->status);
  p->ebe_modes = calloc(p->n_subj, sizeof *p->ebe_modes);
  p->ebe_dofv = calloc(p->n_subj, sizeof *p->ebe_dofv);
  p->serr = calloc(p->n_subj, sizeof *p->serr);
  p->pred = calloc(p->n_obs, sizeof *p->pred);
  p->ipred = calloc(p->n_obs, sizeof *p->ipred);
  p->res = calloc(p->n_obs, sizeof *p->res);
  p->iwres = calloc(p->n_obs, sizeof *p->iwres);
  p->cwres = calloc(p->n_obs, sizeof *p->cwres);
  p->psi_i = calloc(p->n_subj * p->n_psi, sizeof *p->psi_i);
  if (!p->theta || !p->L || !p->ofv_i
      || !p->status || !p->serr || !p->pred || !p->ipred || !p->res
      || !p->iwres || !p->cwres || !p->psi_i || !p->ebe_modes
      || !p->ebe_dofv) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    goto fail;
  }
  if (p->n_theta) memcpy(p->theta, pm->theta_init, p->n_theta * sizeof(double));
  rc = pop_cholesky(pm->omega_init, q, p->L, "population model: omega",
                    err);
  if (!rc) rc = pop_param_setup(p, err);
  if (!rc) rc = pop_iov_setup(p, err);        /* n_ei, Li */
  if (rc) goto fail;
  p->eta_hat = calloc(p->n_subj * p->n_ei, sizeof *p->eta_hat);
  p->ebe_S = calloc(p->n_subj * p->n_ei * p->n_ei + 1, sizeof *p->ebe_S);
  if (!p->eta_hat || !p->ebe_S) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    goto fail;
  }
  pop_iov_expand(p);
  p->ang_work = malloc(q * q * sizeof *p->ang_work);
  if (!p->ang_work) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    goto fail;
  }
  p->eta_step = p->opts.eta_step > 0 ? p->opts.eta_step : 1e-4;
  if (p->opts.eta_step <= 0 && pm->model && pm->solve
      && pm->solve->path == RKIN_PATH_CVODES)
    p->eta_step = 1e-3;
  t = p->opts.threads > 0 ? p->opts.threads : n_cores();
  if ((size_t)t > p->subj_hi - p->subj_lo)
    t = p->subj_hi > p->subj_lo ? (int)(p->subj_hi - p->subj_lo) : 1;
  p->ws = calloc((size_t)t, sizeof *p->ws);
  if (!p->ws) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    goto fail;
  }
  for (p->n_threads = 0; p->n_threads < t; p->n_threads++) {
    rc = pop_ws_init(p, &p->ws[p->n_threads], err);
    if (rc) {
      p->n_threads++;
      goto fail;
    }
  }
  /* The default CVODES tolerance of the path decides the FD step too. */
  if (p->opts.eta_step <= 0 && p->ws[0].solver
      && rkin_solver_path(p->ws[0].solver) == RKIN_PATH_CVODES)
    p->eta_step = 1e-3;
  rc = check_etas_used(p, err);
  if (!rc) rc = pop_pool_start(p, err);
  if (rc) goto fail;
  return p;
fail:
  pop_free(p);
  return NULL;
}

/* Over several processes, the set-up's outcome is agreed: a process
 * that failed alone (memory) must not leave the others waiting in the
 * first pass's gather. */
pop *pop_new(const rkin_popmodel *pm, const rkin_data *data,
             const rkin_popfit_opts *opts, rkin_err *err)
{
  pop *p = pop_new_local(pm, data, opts, err);
  int rc;
  if (!opts || !opts->gather || !opts->agree) return p;
  rc = opts->agree(p ? RKIN_OK : (err && err->code ? err->code
                                                  : RKIN_EINVAL),
                   err, opts->dist_ud);
  if (rc && p) {
    pop_free(p);
    p = NULL;
  }
  return p;
}

/* ------------------------------------------------- transformed scale */

/* x: theta / |theta0| (bounds likewise), Omega through its Cholesky factor
 * (log of the diagonal, off-diagonals as they are), log sigma. Unbounded
 * and smooth, so Omega stays positive definite and SDs positive. */
typedef struct {
  pop *p;
  nlopt_opt opt;
  size_t n;
  double *scale;
  int n_eval;
  double best;
  double *xbest;
  int failed;
  rkin_err ferr;
} outer_ctx;

static void x_to_params(const outer_ctx *o, const double *x)
{
  pop_x_apply(o->p, o->scale, x);
}

static double outer_obj(unsigned n, const double *x, double *grad, void *d)
{
  outer_ctx *o = d;
  double ofv;
  int rc;
  (void)grad;
  x_to_params(o, x);
  o->n_eval++;
  rc = pop_pass(o->p, POP_TASK_OFV, &ofv, &o->ferr);
  if (rc) {
    /* Stop cleanly; the best point so far is kept. */
    o->failed = 1;
    nlopt_force_stop(o->opt);
    return HUGE_VAL;
  }
  if (ofv < o->best) {
    o->best = ofv;
    memcpy(o->xbest, x, n * sizeof *x);
  }
  return ofv;
}

/* ------------------------------------------------------------ results */

int pop_alloc_fit(const pop *p, rkin_popfit *fit)
{
  size_t q = p->n_eta, s;
  int has_cens = 0;
  fit->n_subj = p->n_subj;
  fit->n_obs = p->n_obs;
  fit->n_theta = p->n_theta;
  fit->n_eta = q;
  fit->n_sigma = p->n_sigma;
  fit->n_psi = p->n_psi;
  fit->n_est = p->n_est;
  fit->theta = calloc(p->n_theta + 1, sizeof(double));
  fit->omega = calloc(q * q, sizeof(double));
  fit->sigma = calloc(p->n_sigma, sizeof(double));
  fit->eta = calloc(p->n_subj * q, sizeof(double));
  fit->psi = calloc(p->n_subj * p->n_psi, sizeof(double));
  fit->ofv_i = calloc(p->n_subj, sizeof(double));
  fit->eta_shrink = calloc(q, sizeof(double));
  fit->dv = calloc(p->n_obs, sizeof(double));
  fit->time = calloc(p->n_obs, sizeof(double));
  fit->id = calloc(p->n_obs, sizeof(double));
  fit->pred = calloc(p->n_obs, sizeof(double));
  fit->ipred = calloc(p->n_obs, sizeof(double));
  fit->res = calloc(p->n_obs, sizeof(double));
  fit->iwres = calloc(p->n_obs, sizeof(double));
  fit->cwres = calloc(p->n_obs, sizeof(double));
  fit->ebe_modes = calloc(p->n_subj, sizeof(int));
  fit->ebe_dofv = calloc(p->n_subj, sizeof(double));
  if (!fit->ebe_modes || !fit->ebe_dofv) return RKIN_ENOMEM;
  fit->endpoint = calloc(p->n_obs + 1, sizeof(int));
  for (s = 0; s < p->n_subj; s++)
    if (rkin_data_subject_at(p->data, s)->cens) has_cens = 1;
  if (has_cens && !(fit->cens = calloc(p->n_obs + 1, sizeof(int))))
    return RKIN_ENOMEM;
  fit->n_endpoints = p->n_ep;
  if (!fit->endpoint || pop_iov_alloc_fit(p, fit)) return RKIN_ENOMEM;
  return fit->theta && fit->omega && fit->sigma && fit->eta && fit->psi
         && fit->ofv_i && fit->eta_shrink && fit->dv && fit->time && fit->id
         && fit->pred && fit->ipred && fit->res && fit->iwres && fit->cwres
         ? RKIN_OK : RKIN_ENOMEM;
}

void rkin_popfit_free(rkin_popfit *fit)
{
  size_t k;
  if (!fit) return;
  for (k = 0; fit->est_names && k < fit->n_est; k++) free(fit->est_names[k]);
  free(fit->est_names);
  free(fit->theta);
  free(fit->omega);
  free(fit->sigma);
  free(fit->est);
  free(fit->se);
  free(fit->rse);
  free(fit->cov);
  free(fit->cov_r);
  free(fit->cov_s);
  free(fit->cov_sandwich);
  free(fit->corr);
  free(fit->eta);
  free(fit->psi);
  free(fit->ofv_i);
  free(fit->eta_shrink);
  free(fit->dv);
  free(fit->time);
  free(fit->id);
  free(fit->pred);
  free(fit->ipred);
  free(fit->res);
  free(fit->iwres);
  free(fit->cwres);
  free(fit->ebe_modes);
  free(fit->ebe_dofv);
  free(fit->endpoint);
  free(fit->cens);
  free(fit->occ_value);
  free(fit->occ_eta);
  free(fit->occ);
  memset(fit, 0, sizeof *fit);
}

void pop_omega_of(const pop *p, double *omega)
{
  size_t q = p->n_eta, a, b, c;
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++) {
      double t = 0;
      for (c = 0; c <= (a < b ? a : b); c++)
        t += p->L[a * q + c] * p->L[b * q + c];
      /* a fixed element is its given value, not L L' rounded */
      omega[a * q + b] = p->om_fix && p->om_fix[a * q + b]
                         ? p->pm->omega_init[a * q + b] : t;
    }
}

/* Copies the estimates, EBEs and diagnostics of the last DIAG pass. */
void pop_fill_counts(const pop *p, rkin_popfit *fit)
{
  int t;
  for (t = 0; t < p->n_threads; t++) {
    fit->n_pred += p->ws[t].n_pred;
    fit->n_pred_sens += p->ws[t].n_pred_sens;
    fit->n_ebe_newton += p->ws[t].n_newton;
    fit->n_ebe_fallback += p->ws[t].n_newton_fail;
    fit->n_ebe_bobyqa += p->ws[t].n_bobyqa;
    fit->n_ebe_floor += p->ws[t].n_floor;
    fit->n_ebe_floor_sr1 += p->ws[t].n_floor_sr1;
  }
}

void pop_fill_fit(const pop *p, rkin_popfit *fit, double ofv)
{
  size_t q = p->n_eta, s, j, k;
  double *col = malloc((p->n_subj > p->n_obs ? p->n_subj : p->n_obs)
                       * sizeof *col);
  fit->ofv = ofv;
  fit->m2ll = ofv + (double)p->n_lik * log(2 * M_PI);
  memcpy(fit->theta, p->theta, p->n_theta * sizeof(double));
  pop_omega_of(p, fit->omega);
  memcpy(fit->sigma, p->sigma, p->n_sigma * sizeof(double));
  for (s = 0; s < p->n_subj; s++)     /* IOV: the first occasion's */
    memcpy(fit->eta + s * q, p->eta_hat + s * p->n_ei, q * sizeof(double));
  memcpy(fit->psi, p->psi_i, p->n_subj * p->n_psi * sizeof(double));
  memcpy(fit->ofv_i, p->ofv_i, p->n_subj * sizeof(double));
  memcpy(fit->pred, p->pred, p->n_obs * sizeof(double));
  memcpy(fit->ipred, p->ipred, p->n_obs * sizeof(double));
  memcpy(fit->res, p->res, p->n_obs * sizeof(double));
  memcpy(fit->iwres, p->iwres, p->n_obs * sizeof(double));
  memcpy(fit->cwres, p->cwres, p->n_obs * sizeof(double));
  memcpy(fit->ebe_modes, p->ebe_modes, p->n_subj * sizeof(int));
  memcpy(fit->ebe_dofv, p->ebe_dofv, p->n_subj * sizeof(double));
  fit->n_multimodal = 0;
  for (s = 0; s < p->n_subj; s++) fit->n_multimodal += p->ebe_modes[s] > 1;
  for (s = 0; s < p->n_subj; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    for (j = 0; j < sj->n_obs; j++) {
      fit->dv[p->obs_off[s] + j] = sj->dv[j];
      fit->time[p->obs_off[s] + j] = sj->time[j];
      fit->id[p->obs_off[s] + j] = sj->id;
      fit->endpoint[p->obs_off[s] + j] = p->obs_ep[p->obs_off[s] + j] + 1;
      if (fit->cens) fit->cens[p->obs_off[s] + j] = sj->cens[j];
    }
  }
  /* Shrinkage (Savic & Karlsson 2009, AAPS J 11:558): eta from the SD of
   * the EBEs over subjects, epsilon from the SD of IWRES. */
  if (col) {
    for (k = 0; k < q; k++) {
      for (s = 0; s < p->n_subj; s++) col[s] = fit->eta[s * q + k];
      fit->eta_shrink[k] = p->n_subj > 1
        ? 1 - gsl_stats_sd(col, 1, p->n_subj) / sqrt(fit->omega[k * q + k])
        : NAN;
    }
    /* over the records with residuals (not censored or dropped) */
    for (j = k = 0; j < p->n_obs; j++)
      if (isfinite(p->iwres[j])) col[k++] = p->iwres[j];
    fit->eps_shrink = k > 1 ? 1 - gsl_stats_sd(col, 1, k) : NAN;
    free(col);
  }
  pop_iov_fill(p, fit);
}

int pop_set_natural(pop *p, const double *theta, const double *omega,
                       const double *sigma, rkin_err *err)
{
  size_t k;
  for (k = 0; k < p->n_theta; k++) p->theta[k] = theta[k];
  for (k = 0; k < p->n_sigma; k++) {
    if (!((sigma[k] > 0 || !p->sig_pos[k]) && isfinite(sigma[k])))
      return rkin_err_set(err, RKIN_EINVAL, "sigma[%zu] = %g (expected %s)",
                          k, sigma[k], p->sig_pos[k] ? "a residual SD > 0"
                          : "a finite exponent");
    p->sigma[k] = sigma[k];
  }
  return pop_cholesky(omega, p->n_eta, p->L, "omega", err);
}

int rkin_popest_ofv(const rkin_popmodel *pm, const rkin_data *data,
                    const rkin_popfit_opts *opts, const double *theta,
                    const double *omega, const double *sigma, double *ofv,
                    double *m2ll, double *ofv_i, rkin_err *err)
{
  pop *p = pop_new(pm, data, opts, err);
  int rc;
  if (!p) return err ? err->code : RKIN_EINVAL;
  rc = pop_set_natural(p, theta, omega, sigma, err);
  if (!rc) rc = pop_pass(p, POP_TASK_OFV, ofv, err);
  if (!rc && m2ll) *m2ll = *ofv + (double)p->n_lik * log(2 * M_PI);
  if (!rc && ofv_i) memcpy(ofv_i, p->ofv_i, p->n_subj * sizeof *ofv_i);
  pop_free(p);
  return rc;
}

static int outer_run(pop *p, rkin_popfit *fit, rkin_err *err)
{
  outer_ctx o;
  nlopt_opt opt = NULL;
  double *x = NULL, *lo = NULL, *hi = NULL, f0, fmin;
  size_t k, n;
  nlopt_result r;
  int rc;
  memset(&o, 0, sizeof o);
  o.p = p;
  o.n = n = p->n_est;
  o.best = HUGE_VAL;
  o.scale = malloc((p->n_theta + 1) * sizeof *o.scale);
  o.xbest = malloc((n + 1) * sizeof *o.xbest);
  x = malloc((n + 1) * sizeof *x);
  lo = malloc((n + 1) * sizeof *lo);
  hi = malloc((n + 1) * sizeof *hi);
  opt = nlopt_create(NLOPT_LN_BOBYQA, (unsigned)(n ? n : 1));
  if (!o.scale || !o.xbest || !x || !lo || !hi || !opt) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    goto done;
  }
  for (k = 0; k < p->n_theta; k++) {
    double t0 = p->pm->theta_init[k];
    o.scale[k] = t0 != 0 ? fabs(t0) : 1;
  }
  pop_x_setup(p, o.scale, x, lo, hi);
  x_to_params(&o, x);
  /* The initial estimates must give an objective: else the model or the
   * data is wrong, not the optimiser. */
  rc = pop_pass(p, POP_TASK_OFV, &f0, err);
  if (rc) {
    rkin_err_prefix(err, "population fit at the initial estimates: ");
    goto done;
  }
  o.best = f0;
  memcpy(o.xbest, x, n * sizeof *x);
  if (n == 0) {           /* everything fixed: nothing to estimate */
    fit->stop = "every parameter fixed";
    rc = RKIN_OK;
    goto done;
  }
  nlopt_set_lower_bounds(opt, lo);
  nlopt_set_upper_bounds(opt, hi);
  nlopt_set_min_objective(opt, outer_obj, &o);
  nlopt_set_xtol_abs1(opt, p->opts.xtol > 0 ? p->opts.xtol : 1e-6);
  nlopt_set_maxeval(opt, p->opts.max_eval > 0 ? p->opts.max_eval : 3000);
  nlopt_set_initial_step1(opt, 0.1);
  o.opt = opt;
  p->ebe_track = 1;    /* EBE searches track their modes (popsubj.c) */
  r = nlopt_optimize(opt, x, &fmin);
  p->ebe_track = 0;
  fit->stop = nlopt_result_to_string(r);
  fit->n_eval = o.n_eval;
  if (o.failed) {
    fit->status = o.ferr.code ? o.ferr.code : RKIN_EOPTIM;
    fit->err = o.ferr;
    rkin_err_prefix(&fit->err, "population fit stopped after %d "
                    "evaluations (last good estimates kept): ", o.n_eval);
  } else if (r == NLOPT_MAXEVAL_REACHED) {
    fit->status = rkin_err_set(&fit->err, RKIN_EOPTIM, "population fit did "
                               "not converge in %d evaluations (last "
                               "estimates kept)", o.n_eval);
  } else if (r < 0 && r != NLOPT_ROUNDOFF_LIMITED) {
    const char *why = nlopt_get_errmsg(opt);
    fit->status = rkin_err_set(&fit->err, RKIN_EOPTIM, "population fit: "
                               "NLopt BOBYQA failed: %s (%s)%s",
                               nlopt_result_to_string(r), why ? why :
                               "no reason given", r == NLOPT_INVALID_ARGS
                               ? ": the bounds of a free theta must be at "
                               "least 0.2 x its initial value apart (the "
                               "first step is 0.1 x it each way); widen "
                               "them or fix the theta" : "");
  }
  x_to_params(&o, o.xbest);
  rc = RKIN_OK;
done:
  if (opt) nlopt_destroy(opt);
  free(o.scale);
  free(o.xbest);
  free(x);
  free(lo);
  free(hi);
  return rc;
}

int pop_fit_begin(const rkin_popmodel *pm, const rkin_data *data,
                  const rkin_popfit_opts *opts, rkin_popfit *fit,
                  const char *who, pop **out, rkin_err *err)
{
  pop *p;
  int rc;
  *out = NULL;
  if (!fit) return rkin_err_set(err, RKIN_EINVAL, "%s: NULL result (expected "
                                "a rkin_popfit to fill)", who);
  memset(fit, 0, sizeof *fit);
  fit->cov_status = rkin_err_set(&fit->cov_err, RKIN_EINVAL, "covariance "
                                 "step not run (not asked for, or the fit "
                                 "stopped before it)");
  p = pop_new(pm, data, opts, err);
  if (!p) {
    fit->status = err ? err->code : RKIN_EINVAL;
    if (err) fit->err = *err;
    return fit->status;
  }
  rc = pop_alloc_fit(p, fit) ? rkin_err_set(err, RKIN_ENOMEM, "out of "
                                            "memory") : RKIN_OK;
  /* over several processes: none may go on alone */
  if ((rc = pop_agree(p, rc, err))) {
    pop_free(p);
    fit->status = rc;
    if (err) fit->err = *err;
    return rc;
  }
  *out = p;
  return RKIN_OK;
}

int rkin_popfit_run(const rkin_popmodel *pm, const rkin_data *data,
                    const rkin_popfit_opts *opts, rkin_popfit *fit,
                    rkin_err *err)
{
  pop *p;
  double ofv;
  int rc;
  if (opts && opts->method == RKIN_POP_SAEM)
    return rkin_popfit_saem(pm, data, opts, NULL, fit, NULL, err);
  rc = pop_fit_begin(pm, data, opts, fit, "rkin_popfit_run", &p, err);
  if (rc) return rc;
  rc = outer_run(p, fit, err);
  if (rc) {
    fit->status = rc;
    fit->err = *err;
    pop_free(p);
    return rc;
  }
  /* EBEs and diagnostics at the estimates (FO: post hoc EBEs). */
  rc = pop_pass(p, POP_TASK_DIAG, &ofv, &fit->err);
  if (rc) {
    if (!fit->status) fit->status = rc;
    pop_omega_of(p, fit->omega);
    memcpy(fit->theta, p->theta, p->n_theta * sizeof(double));
    memcpy(fit->sigma, p->sigma, p->n_sigma * sizeof(double));
  } else {
    pop_fill_fit(p, fit, ofv);
    fit->n_boundary = pop_boundary(p, fit->omega, &fit->boundary);
    if (fit->n_boundary && p->opts.covariance && fit->status == 0) {
      fit->cov_status = rkin_err_set(&fit->cov_err, RKIN_ERANGE,
                                     "covariance step not run: %s",
                                     fit->boundary.msg);
    } else if (p->opts.covariance && fit->status == 0 && p->n_est) {
      rkin_err_clear(&fit->cov_err);
      fit->cov_status = pop_covariance(p, fit, &fit->cov_err);
    }
  }
  pop_fill_counts(p, fit);
  pop_free(p);
  return RKIN_OK;
}
