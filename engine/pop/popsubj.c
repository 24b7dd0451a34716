/* popsubj.c - one subject of a population fit: individual parameters,
 * predictions and their eta-derivatives, the empirical Bayes estimate
 * (inner optimisation) and the subject's FO / FOCE-I objective term and
 * diagnostics. */
#include "pop/popest_impl.h"
#include "pop/chol2.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inner objective value standing for "no prediction here": large but
 * finite, so a line search backs off instead of failing outright. */
#define INNER_BAD 1e100
/* n_eta <= POP_MAX_ETA (checked when the fit is set up), so per-eta
 * scratch lives on the stack. */

int pop_ws_init(pop *p, pop_ws *w, rkin_err *err)
{
  /* with an SD variable other than the prediction, f and G carry it as
   * max_obs more rows */
  size_t q = p->n_ei, n = (p->max_obs ? p->max_obs : 1)
                           * (p->has_scale ? 2 : 1);
  size_t np = p->n_theta + p->n_eta + p->n_cov, nq = n > q ? n : q;
  memset(w, 0, sizeof *w);
  w->p = p;
  w->cov_rec = -1;
  w->slot = -1;
  if (p->pm->model) {
    rkin_solve_opts so;
    if (p->pm->solve) {
      so = *p->pm->solve;
    } else {
      rkin_solve_opts_default(&so);
      /* Finite differences on eta need smooth, tight predictions. */
      so.rtol = 1e-8;
      so.atol = 1e-12;
    }
    w->solver = rkin_solver_new(p->pm->model, &so, err);
    if (!w->solver) return err ? err->code : RKIN_ESOLVER;
    w->rtol = so.rtol;
  }
  w->pvec = malloc((np ? np : 1) * sizeof *w->pvec);
  w->twork = malloc(((p->tape ? rkin_tape_nwork(p->tape) : 0)
                     + (p->tape_d ? rkin_tape_nwork(p->tape_d) : 0) + 1)
                    * sizeof *w->twork);
  w->psi = malloc(p->n_psi * sizeof *w->psi);
  w->sol = malloc(n * (p->n_sol ? p->n_sol : 1) * sizeof *w->sol);
  w->f = malloc(n * sizeof *w->f);
  w->fp = malloc(n * sizeof *w->fp);
  w->fm = malloc(n * sizeof *w->fm);
  w->f0 = malloc(n * sizeof *w->f0);
  w->fo = malloc(n * sizeof *w->fo);
  w->fl = malloc(n * sizeof *w->fl);
  w->Gl1 = malloc(n * q * sizeof *w->Gl1);
  w->Gl2 = malloc(n * q * sizeof *w->Gl2);
  w->G = malloc(n * q * sizeof *w->G);
  w->eta = malloc(q * sizeof *w->eta);
  w->etap = malloc(q * sizeof *w->etap);
  w->m1 = malloc(q * q * sizeof *w->m1);
  w->m2 = malloc(nq * q * sizeof *w->m2);
  w->v1 = malloc(n * sizeof *w->v1);
  w->v2 = malloc(n * sizeof *w->v2);
  w->C = malloc(n * n * sizeof *w->C);
  /* Outputs of any form: their sensitivities follow by the chain rule;
   * on the CVODES path from CVODES' forward sensitivities (a request they
   * cannot serve, e.g. a steady-state record, falls back to differences). */
  w->sens = p->pm->model && !p->opts.fd_grad;
  w->dpsi = malloc(q * p->n_psi * sizeof *w->dpsi);
  w->psi2 = malloc(p->n_psi * (1 + q) * sizeof *w->psi2);
  w->dsol = malloc(n * (p->n_sol ? p->n_sol : 1) * q * sizeof *w->dsol);
  w->last_eta = malloc(q * sizeof *w->last_eta);
  w->S_in = malloc(q * q * sizeof *w->S_in);
  w->S_best = malloc(q * q * sizeof *w->S_best);
  w->inner = nlopt_create(NLOPT_LD_LBFGS, (unsigned)q);
  w->inner_df = nlopt_create(NLOPT_LN_BOBYQA, (unsigned)q);
  if (!w->pvec || !w->twork || !w->psi || !w->sol || !w->f || !w->fp
      || !w->f0 || !w->fo || !w->fl || !w->Gl1 || !w->Gl2
      || !w->fm || !w->G || !w->eta || !w->etap || !w->m1 || !w->m2
      || !w->v1 || !w->v2 || !w->C || !w->inner || !w->inner_df
      || !w->dpsi || !w->psi2 || !w->dsol || !w->last_eta || !w->S_in
      || !w->S_best)
    return rkin_err_set(err, RKIN_ENOMEM, "population fit: out of memory "
                        "for a thread's workspace");
  /* EBEs feed finite-difference covariance steps: converge tightly. */
  nlopt_set_xtol_abs1(w->inner, 1e-9);
  nlopt_set_ftol_abs(w->inner, 1e-12);
  nlopt_set_maxeval(w->inner, 400);
  nlopt_set_xtol_abs1(w->inner_df, 1e-9);
  nlopt_set_maxeval(w->inner_df, 2000);
  nlopt_set_initial_step1(w->inner_df, 0.5);
  {
    double lo[POP_MAX_ETA], hi[POP_MAX_ETA];
    size_t k;
    for (k = 0; k < q; k++) {
      lo[k] = -POP_Z_MAX;
      hi[k] = POP_Z_MAX;
    }
    nlopt_set_lower_bounds(w->inner, lo);
    nlopt_set_upper_bounds(w->inner, hi);
    nlopt_set_lower_bounds(w->inner_df, lo);
    nlopt_set_upper_bounds(w->inner_df, hi);
  }
  return RKIN_OK;
}

void pop_ws_free(pop_ws *w)
{
  if (!w) return;
  rkin_solver_free(w->solver);
  if (w->inner) nlopt_destroy(w->inner);
  if (w->inner_df) nlopt_destroy(w->inner_df);
  free(w->pvec);
  free(w->twork);
  free(w->psi);
  free(w->sol);
  free(w->f);
  free(w->fp);
  free(w->fm);
  free(w->f0);
  free(w->fo);
  free(w->fl);
  free(w->Gl1);
  free(w->Gl2);
  free(w->G);
  free(w->eta);
  free(w->etap);
  free(w->m1);
  free(w->m2);
  free(w->v1);
  free(w->v2);
  free(w->C);
  free(w->dpsi);
  free(w->psi2);
  free(w->dsol);
  free(w->last_eta);
  free(w->S_in);
  free(w->S_best);
  free(w->rpar);
  free(w->rdir);
  rkin_data_pwbuf_free(&w->pw);
  memset(w, 0, sizeof *w);
}

static const char *psi_name(const pop *p, size_t k, char *buf, size_t n)
{
  if (p->pm->model) return rkin_model_param_name(p->pm->model, k);
  if (p->pm->psi_names) return p->pm->psi_names[k];
  snprintf(buf, n, "psi[%zu]", k);
  return buf;
}

/* The covariates psi takes: the subject's, or those of record
 * w->cov_rec (time-varying). */
static void set_cov(const pop_ws *w, const rkin_data_subject *sj,
                    double *cov)
{
  const pop *p = w->p;
  size_t k, nc = rkin_data_ncovariates(p->data);
  for (k = 0; k < p->n_cov; k++)
    cov[k] = w->cov_rec < 0 ? sj->cov[p->cov_idx[k]]
             : sj->rec_cov[(size_t)w->cov_rec * nc + (size_t)p->cov_idx[k]];
}

/* pop_psi's inputs but eta: theta and the covariates into w->pvec */
static void psi_inputs(pop_ws *w, const rkin_data_subject *sj)
{
  pop *p = w->p;
  memcpy(w->pvec, p->theta, p->n_theta * sizeof *w->pvec);
  set_cov(w, sj, w->pvec + p->n_theta + p->n_eta);
}

/* pop_psi once psi_inputs has run (psi_fd: five psi for one set-up) */
static int psi_at(pop_ws *w, size_t s, const rkin_data_subject *sj,
                  const double *eta, rkin_err *err)
{
  pop *p = w->p;
  double *cov = w->pvec + p->n_theta + p->n_eta;
  size_t k;
  char nb[32];
  int rc;
  pop_iov_user_eta(w, s, eta, w->pvec + p->n_theta);
  if (p->tape) {
    rc = rkin_tape_eval(p->tape, 0, NULL, w->pvec, w->twork, w->psi);
    if (rc < 0) {
      k = (size_t)(-1 - rc);
      return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: individual "
                          "parameter %s = %g is not finite", sj->id,
                          psi_name(p, k, nb, sizeof nb), w->psi[k]);
    }
    return RKIN_OK;
  }
  rc = p->pm->indiv(p->theta, w->pvec + p->n_theta, cov, w->psi,
                    p->pm->indiv_ud, err);
  if (rc) return rkin_err_prefix(err, "subject ID %g: ", sj->id);
  for (k = 0; k < p->n_psi; k++)
    if (!isfinite(w->psi[k]))
      return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: individual "
                          "parameter %s = %g is not finite", sj->id,
                          psi_name(p, k, nb, sizeof nb), w->psi[k]);
  return RKIN_OK;
}

int pop_psi(pop_ws *w, size_t s, const double *eta, rkin_err *err)
{
  const rkin_data_subject *sj = rkin_data_subject_at(w->p->data, s);
  psi_inputs(w, sj);
  return psi_at(w, s, sj, eta, err);
}

static int check_pred(const pop *p, size_t s, const double *f,
                      rkin_err *err);
static int psi_and_deriv(pop_ws *w, size_t s, const double *eta,
                         rkin_err *err);
static int psi_fd(pop_ws *w, size_t s, const double *eta, rkin_err *err);

/* psi at every record of subject s (time-varying covariates) into
 * w->rpar, with dpsi/deta into w->rdir when with_dir; once per distinct
 * row of the covariates the model uses. w->psi (and w->dpsi) are left at
 * the subject's first values. */
static int record_psi(pop_ws *w, size_t s, const double *eta, int with_dir,
                      rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t np = p->n_psi, nd = p->n_ei * np, nc, r, k;
  int rc = RKIN_OK;
  nc = rkin_data_ncovariates(p->data);
  if (sj->n_rec * np > w->cap_rpar) {
    double *q = realloc(w->rpar, sj->n_rec * np * sizeof *q);
    if (!q) goto nomem;
    w->rpar = q;
    w->cap_rpar = sj->n_rec * np;
  }
  if (with_dir && sj->n_rec * nd > w->cap_rdir) {
    double *q = realloc(w->rdir, sj->n_rec * nd * sizeof *q);
    if (!q) goto nomem;
    w->rdir = q;
    w->cap_rdir = sj->n_rec * nd;
  }
  for (r = 0; r < sj->n_rec && !rc; r++) {
    int same = r > 0;
    for (k = 0; same && k < p->n_cov; k++) {
      size_t c = (size_t)p->cov_idx[k];
      same = sj->rec_cov[r * nc + c] == sj->rec_cov[(r - 1) * nc + c];
    }
    if (same && p->n_iov)     /* IOV: the occasion's eta from here on */
      same = pop_iov_rec_slot(p, s, r) == pop_iov_rec_slot(p, s, r - 1);
    if (same) {
      memcpy(w->rpar + r * np, w->rpar + (r - 1) * np, np * sizeof *w->rpar);
      if (with_dir)
        memcpy(w->rdir + r * nd, w->rdir + (r - 1) * nd,
               nd * sizeof *w->rdir);
      continue;
    }
    w->cov_rec = (long)r;
    rc = !with_dir ? pop_psi(w, s, eta, err)
         : p->tape_d ? psi_and_deriv(w, s, eta, err)
                     : psi_fd(w, s, eta, err);
    if (rc) rkin_err_prefix(err, "line %zu: ", sj->rec_line[r]);
    memcpy(w->rpar + r * np, w->psi, np * sizeof *w->psi);
    if (with_dir) memcpy(w->rdir + r * nd, w->dpsi, nd * sizeof *w->dpsi);
  }
  w->cov_rec = -1;
  if (rc) return rc;
  return !with_dir ? pop_psi(w, s, eta, err)
         : p->tape_d ? psi_and_deriv(w, s, eta, err)
                     : psi_fd(w, s, eta, err);
nomem:
  return rkin_err_set(err, RKIN_ENOMEM, "subject ID %g: out of memory for "
                      "time-varying covariates", sj->id);
}

/* The solver request for segment sg's observations of subject sj, run
 * from the segment's start to its last observation at parameters psi
 * (events at that last time applied), the rest zero. */
static void segment_req(rkin_solve_req *rq, const rkin_data_subject *sj,
                        const rkin_data_segment *sg, const double *psi)
{
  memset(rq, 0, sizeof *rq);
  rq->t0 = sg->t0;
  rq->t1 = sj->time[sg->first_obs + sg->n_obs - 1];
  rq->params = psi;
  rq->dosing = sg->dosing;
  rq->times = sj->time + sg->first_obs;
  rq->n_times = sg->n_obs;
  rq->out_rec = sj->obs_rec + sg->first_obs;
  rq->events_at_t1 = 1;
}

/* Predictions of subject s at eta into f (natural scale). */
static int predict(pop_ws *w, size_t s, const double *eta, double *f,
                   rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t g, k;
  int rc = pop_psi(w, s, eta, err);
  if (rc) return rc;
  if (p->pm->model && p->tv[s] && (rc = record_psi(w, s, eta, 0, err)))
    return rc;
  if (!p->pm->model && p->n_iov && p->occ_n[s] > 1) {
    /* IOV: once per occasion, keeping that occasion's observations */
    size_t j, off = p->obs_off[s];
    for (g = 0; g < p->occ_n[s] && !rc; g++) {
      w->slot = (long)g;
      rc = pop_psi(w, s, eta, err);
      if (!rc) rc = p->pm->predict(sj, w->psi, w->fo, p->pm->predict_ud,
                                   err);
      if (rc) rkin_err_prefix(err, "subject ID %g: ", sj->id);
      for (j = 0; !rc && j < sj->n_obs; j++)
        if ((size_t)p->obs_slot[off + j] == g) f[j] = w->fo[j];
    }
    w->slot = -1;
    if (!rc) rc = pop_psi(w, s, eta, err);
    if (rc) return rc;
  } else if (!p->pm->model) {
    rc = p->pm->predict(sj, w->psi, f, p->pm->predict_ud, err);
    if (rc) return rkin_err_prefix(err, "subject ID %g: ", sj->id);
  } else {
    int out = p->ep[0].output;    /* all outputs or all states */
    w->n_pred++;
    for (g = 0; g < sj->n_seg; g++) {
      const rkin_data_segment *sg = &sj->seg[g];
      rkin_solve_req rq;
      rkin_solve_res rs;
      if (!sg->n_obs) continue;
      memset(&rs, 0, sizeof rs);
      segment_req(&rq, sj, sg, w->psi);
      if (p->tv[s]
          && (rc = rkin_data_segment_params(sj, g, w->rpar, p->n_psi, NULL,
                                            0, &rq, NULL, &w->pw, err)))
        return rc;
      if (out >= 0) rs.out = w->sol;
      else rs.y = w->sol;
      rc = rkin_solver_run(w->solver, &rq, &rs, err);
      if (rc) return rkin_err_prefix(err, "subject ID %g: ", sj->id);
      for (k = 0; k < sg->n_obs; k++) {
        size_t j = sg->first_obs + k;
        f[j] = w->sol[k * p->n_sol + pop_obs_col(p, s, j)];
        if (p->has_scale)
          f[sj->n_obs + j] = w->sol[k * p->n_sol + pop_scale_col(p, s, j)];
      }
    }
  }
  return check_pred(p, s, f, err);
}

int pop_predict(pop_ws *w, size_t s, const double *eta, double *f,
                rkin_err *err)
{
  return predict(w, s, eta, f, err);
}

/* Every prediction finite (and > 0 on the log scale). */
static int check_pred(const pop *p, size_t s, const double *f,
                      rkin_err *err)
{
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t k;
  for (k = 0; k < sj->n_obs; k++) {
    if (!isfinite(f[k]))
      return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: prediction "
                          "at time %g h (line %zu) is not finite",
                          sj->id, sj->time[k], sj->obs_line[k]);
    if (p->ep[p->obs_ep[p->obs_off[s] + k]].log_scale && f[k] <= 0)
      return rkin_err_set(err, RKIN_ERANGE, "subject ID %g: prediction %g "
                          "at time %g h (line %zu) is not > 0, but the "
                          "error model is on the log scale", sj->id, f[k],
                          sj->time[k], sj->obs_line[k]);
  }
  return RKIN_OK;
}

/* Step of the central differences of psi in eta: psi is smooth and cheap
 * and exact to rounding, so truncation (h^2) and rounding (eps / h) both
 * stay near 1e-11 relative. */
#define PSI_STEP 1e-5

/* psi (w->psi) and dpsi/deta (w->dpsi) of subject s at eta from the
 * expression tape with the symbolic derivatives. */
static int psi_and_deriv(pop_ws *w, size_t s, const double *eta,
                         rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t np = p->n_psi, q = p->n_eta, k, d;
  double *cov = w->pvec + p->n_theta + p->n_eta, *out = w->psi2;
  int rc;
  memcpy(w->pvec, p->theta, p->n_theta * sizeof *w->pvec);
  pop_iov_user_eta(w, s, eta, w->pvec + p->n_theta);
  set_cov(w, sj, cov);
  rc = rkin_tape_eval(p->tape_d, 0, NULL, w->pvec, w->twork, out);
  if (rc < 0)
    return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: individual "
                        "parameter or its eta-derivative (entry %d) is not "
                        "finite", sj->id, -1 - rc);
  memcpy(w->psi, out, np * sizeof *out);
  /* the tape's d/d(user eta) onto the subject's etas (IOV: the
   * occasion's; the other occasions' etas do not move psi here) */
  if (p->n_ei > q) memset(w->dpsi, 0, p->n_ei * np * sizeof *w->dpsi);
  for (k = 0; k < np; k++)
    for (d = 0; d < q; d++)
      w->dpsi[pop_iov_int(w, s, d) * np + k] = out[np + k * q + d];
  return RKIN_OK;
}

/* psi (w->psi) and dpsi/deta (w->dpsi) of subject s at eta, the
 * derivatives by central differences. */
static int psi_fd(pop_ws *w, size_t s, const double *eta, rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t q = p->n_ei, np = p->n_psi, l, d;
  int rc = RKIN_OK;
  memcpy(w->etap, eta, q * sizeof *eta);
  psi_inputs(w, sj);            /* only eta moves below */
  for (d = 0; !rc && d < q; d++) {
    w->etap[d] = eta[d] + PSI_STEP;
    rc = psi_at(w, s, sj, w->etap, err);
    if (rc) break;
    memcpy(w->psi2, w->psi, np * sizeof *w->psi);
    w->etap[d] = eta[d] - PSI_STEP;
    rc = psi_at(w, s, sj, w->etap, err);
    for (l = 0; !rc && l < np; l++)
      w->dpsi[d * np + l] = (w->psi2[l] - w->psi[l]) / (2 * PSI_STEP);
    w->etap[d] = eta[d];
  }
  return rc ? rc : psi_at(w, s, sj, eta, err);
}

/* f at eta and G = df/deta from the solver's forward sensitivities along
 * the columns of dpsi/deta. Any failure sends the caller to finite
 * differences, which report a genuine error themselves. */
static int predict_sens(pop_ws *w, size_t s, const double *eta, double *f,
                        double *G, rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t q = p->n_ei, g, k, d, col;
  int out = p->ep[0].output, rc;     /* all outputs or all states */
  const double *dir = w->dpsi;
  rc = p->tape_d ? psi_and_deriv(w, s, eta, err) : psi_fd(w, s, eta, err);
  if (!rc && p->tv[s]) rc = record_psi(w, s, eta, 1, err);
  w->n_pred_sens++;
  for (g = 0; !rc && g < sj->n_seg; g++) {
    const rkin_data_segment *sg = &sj->seg[g];
    rkin_solve_req rq;
    rkin_solve_res rs;
    if (!sg->n_obs) continue;
    memset(&rs, 0, sizeof rs);
    segment_req(&rq, sj, sg, w->psi);
    if (p->tv[s]
        && (rc = rkin_data_segment_params(sj, g, w->rpar, p->n_psi, w->rdir,
                                          q, &rq, &dir, &w->pw, err)))
      break;
    if (out >= 0) rs.out = w->sol;
    else rs.y = w->sol;
    rc = rkin_solver_run_sens(w->solver, &rq, dir, q, &rs,
                              out >= 0 ? NULL : w->dsol,
                              out >= 0 ? w->dsol : NULL, err);
    for (k = 0; !rc && k < sg->n_obs; k++) {
      size_t j = sg->first_obs + k, sc;
      col = pop_obs_col(p, s, j);
      f[j] = w->sol[k * p->n_sol + col];
      for (d = 0; d < q; d++)
        G[j * q + d] = w->dsol[(k * p->n_sol + col) * q + d];
      if (!p->has_scale) continue;
      sc = pop_scale_col(p, s, j);
      f[sj->n_obs + j] = w->sol[k * p->n_sol + sc];
      for (d = 0; d < q; d++)
        G[(sj->n_obs + j) * q + d] = w->dsol[(k * p->n_sol + sc) * q + d];
    }
  }
  return rc ? rc : check_pred(p, s, f, err);
}

/* f at eta and G = df/deta (n_obs x n_eta): forward sensitivities where
 * the solver has them, else central differences. */
static int predict_grad(pop_ws *w, size_t s, const double *eta, double *f,
                        double *G, rkin_err *err)
{
  pop *p = w->p;
  size_t q = p->n_ei, j, k;
  size_t n = rkin_data_subject_at(p->data, s)->n_obs * (p->has_scale ? 2 : 1);
  double h = p->eta_step;
  int rc;
  if (w->sens && !predict_sens(w, s, eta, f, G, err)) return RKIN_OK;
  rc = predict(w, s, eta, f, err);
  for (k = 0; !rc && k < q; k++) {
    memcpy(w->etap, eta, q * sizeof *eta);
    w->etap[k] = eta[k] + h;
    rc = predict(w, s, w->etap, w->fp, err);
    w->etap[k] = eta[k] - h;
    if (!rc) rc = predict(w, s, w->etap, w->fm, err);
    for (j = 0; !rc && j < n; j++)
      G[j * q + k] = (w->fp[j] - w->fm[j]) / (2 * h);
  }
  return rc;
}

/* The variable the SD of observation j of subject s is evaluated at
 * (row js of f: the prediction itself or another output): without
 * interaction (FOCE, Laplace; w->noint) the one at eta = 0 (w->f0), which
 * does not move with eta, as NONMEM's methods without INTERACTION; callers
 * then drop the s-derivatives (c_s, w_fs, w_ss). */
static double sd_var(const pop_ws *w, size_t js)
{
  return w->noint ? w->f0[js] : w->f[js];
}

/* z = L^-1 eta (in w->etap); returns z'z = eta' Omega^-1 eta. With
 * winv non-NULL also winv = Omega^-1 eta. */
static double eta_quad(pop_ws *w, const double *eta, double *winv)
{
  pop *p = w->p;
  size_t q = p->n_ei, k;
  gsl_matrix_view L = gsl_matrix_view_array(p->Li, q, q);
  gsl_vector_view z = gsl_vector_view_array(w->etap, q);
  double zz = 0;
  memcpy(w->etap, eta, q * sizeof *eta);
  gsl_blas_dtrsv(CblasLower, CblasNoTrans, CblasNonUnit, &L.matrix,
                 &z.vector);
  for (k = 0; k < q; k++) zz += w->etap[k] * w->etap[k];
  if (winv) {
    gsl_vector_view wv = gsl_vector_view_array(winv, q);
    memcpy(winv, w->etap, q * sizeof *winv);
    gsl_blas_dtrsv(CblasLower, CblasTrans, CblasNonUnit, &L.matrix,
                   &wv.vector);
  }
  return zz;
}

/* eta = L z. */
static void eta_of_z(const pop *p, const double *z, double *eta)
{
  size_t q = p->n_ei, a, b;
  for (a = 0; a < q; a++) {
    double t = 0;
    for (b = 0; b <= a; b++) t += p->Li[a * q + b] * z[b];
    eta[a] = t;
  }
}

/* -2 log of the joint density of y_i and eta (no constants), over the
 * whitened z = L^-1 eta: the prior term is z'z, so every direction has
 * unit scale and the bounds below mean "so many SDs of Omega". The
 * minimiser is the EBE. */
static double inner_obj(unsigned n, const double *x, double *grad, void *d)
{
  pop_ws *w = d;
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, w->subj);
  size_t q = n, j, k, c;
  double val = 0, ge[POP_MAX_ETA] = {0};
  rkin_res_obs o;
  int rc;
  eta_of_z(p, x, w->eta);
  if (grad) rc = predict_grad(w, w->subj, w->eta, w->f, w->G, &w->ferr);
  else rc = predict(w, w->subj, w->eta, w->f, &w->ferr);
  w->last_ok = grad && !rc;
  w->last_subj = w->subj;
  memcpy(w->last_eta, w->eta, q * sizeof *w->eta);
  if (rc) {
    w->fail = 1;
    for (k = 0; grad && k < q; k++) grad[k] = 0;
    return INNER_BAD;
  }
  for (k = 0; k < q; k++) val += x[k] * x[k];
  for (j = 0; j < sj->n_obs; j++) {
    /* popres.c: c_j and its f- and s-derivatives; s, the SD's variable,
     * is f itself unless an endpoint names another output (then row
     * n + j). */
    size_t js = p->has_scale ? sj->n_obs + j : j;
    if (pop_obs(p, w->subj, j, w->f[j], sd_var(w, js), &o, &w->ferr)) {
      w->fail = 1;
      for (k = 0; grad && k < q; k++) grad[k] = 0;
      return INNER_BAD;
    }
    if (w->noint) o.c_s = 0;
    val += o.c;
    for (k = 0; grad && k < q; k++)
      ge[k] += o.c_f * w->G[j * q + k] + o.c_s * w->G[js * q + k];
  }
  /* d/dz = L' d/deta. */
  for (k = 0; grad && k < q; k++) {
    double t = 2 * x[k];
    for (c = k; c < q; c++) t += p->Li[c * q + k] * ge[c];
    grad[k] = t;
  }
  return isfinite(val) ? val : INNER_BAD;
}

static int marginal_cov(pop_ws *w, size_t s, const double *eta, double *ld,
                        size_t *n_inc, rkin_err *err);

/* Newton search of the inner objective: at most this many iterations, and
 * converged when the Newton step is below NEWTON_XTOL in every whitened
 * direction (the LBFGS search's own tolerance) and the gradient is small
 * (newton_grad_small), or on the noise floor (newton_floor). */
#define NEWTON_MAX_IT 50
#define NEWTON_XTOL 1e-9
/* The noise floor. Predictions carry a relative error ~ rel (CVODES: its
 * rtol; the exact path and closed forms: NEWTON_ROUND, rounding of the
 * matrix exponential or formula, a few hundred ulps), so J moves by up
 * to rel E, E = sum_j |f c_f| + |s c_s| (newton_eval): a sum of
 * elasticities, free of units and of the constant sum log V that made
 * the earlier scale (1 + |J|) loosen with the data's units. Between two
 * nearby points the errors are mostly shared (the same steps), so the
 * noise a line search sees is a small fraction NEWTON_DEC of that. The
 * search ends there when the full step is refused (the line search
 * backtracks or fails) while the decrease the quadratic model predicts
 * for it, -slope / 2 = gz' H^-1 gz / 2, is at most NEWTON_DEC rel E:
 * further iterations would only creep along the noise, and a hand-over
 * to LBFGS and BOBYQA spends solves near the same point. A noise-free
 * objective takes full steps there and stops by NEWTON_XTOL. NEWTON_DEC
 * measured on Theophylline (E ~ 50-100): at rtol 1e-8 (test_popsens_cv)
 * 1e-4 hands over 20 of 1092 searches of the covariance step (5e-5: 28;
 * the old scale 17), at rtol 1e-6 (popiov.lua) the OFV stays 6.6e-7 off
 * the exact path's (2e-4: 3.8e-6, over the test's 2e-6). Guard: an H
 * that overestimates the curvature (a secant correction from noise)
 * makes -slope / 2 small however far the mode is; so the decrease at the
 * prior's curvature alone, |gz|^2 / 4, must also be at most NEWTON_GUARD
 * times the floor (H >= 2 I, and the true Hessian too where the data
 * terms are convex, so |gz|^2 / 4 bounds the decrease left whatever H
 * is). At the floor it was at most 56 times -slope / 2 (Theophylline,
 * largest curvature ~ 110 in z). Without it a secant correction of
 * 1e10 I stopped searches 0.19 from the mode, and one of 1e12 I (via
 * NEWTON_XTOL) 0.5 (test_popnewton). */
#define NEWTON_DEC 1e-4
#define NEWTON_GUARD 1e3
#define NEWTON_ROUND 1e-13

/* The relative error of the predictions of the last solve (newton_floor) */
static double pred_rel(const pop_ws *w)
{
  return w->solver && rkin_solver_path(w->solver) == RKIN_PATH_CVODES
         ? w->rtol : NEWTON_ROUND;
}

/* The guard: 1 when the gradient gz at a point of noise scale rel E is
 * small enough for a stop. */
static int newton_grad_small(size_t q, const double *gz, double relE)
{
  double gg = 0;
  size_t a;
  for (a = 0; a < q; a++) gg += gz[a] * gz[a];
  return 0.25 * gg <= NEWTON_GUARD * NEWTON_DEC * relE;
}

/* 1 when a refused full step of predicted decrease -slope / 2 at a point
 * of gradient gz and noise scale rel E is on the noise floor. */
static int newton_floor(size_t q, double slope, const double *gz,
                        double relE)
{
  return -0.5 * slope <= NEWTON_DEC * relE
         && newton_grad_small(q, gz, relE);
}

/* newton_eval's data terms for observations j0.. of subject s while each
 * is observed under the additive model on the natural scale (not M4),
 * all with one SD a: popres.c's eval_add route of pop_obs written out,
 * the variance's V, 1 / V, log V once per evaluation instead of a call
 * chain per observation (a quarter of a Theophylline fit's instructions).
 * The same operations in the same order, so the same bits (test_popest
 * pins it against pop_obs); an observation it cannot take, or whose terms
 * are not all finite, is left to the general loop, which also words the
 * error. Returns the first observation not taken. */
static inline __attribute__((always_inline)) size_t
add_terms_q(pop_ws *w, size_t s, const rkin_data_subject *sj, size_t q,
            double *val, double *ge, double *A, double *E)
{
  pop *p = w->p;
  size_t off = p->obs_off[s], j, a, b, so;
  double V, sd, lv, iV, c_ff, iV2, V3, v = *val, esum = *E;
  double gel[POP_MAX_ETA], Al[POP_MAX_ETA * POP_MAX_ETA];
  if (!sj->n_obs || p->pm->blq == RKIN_BLQ_M4) return 0;
  so = p->ep[p->obs_ep[off]].sig_off;
  V = p->sigma[so] * p->sigma[so];
  if (!(V > 0)) return 0;
  sd = sqrt(V);
  V = sd * sd;
  lv = log(V);
  iV = 1 / V;
  c_ff = 2 / V;
  iV2 = 1 / (V * V);
  V3 = V * V * V;
  if (!isfinite(iV) || !isfinite(c_ff)) return 0;
  /* the sums in locals (q a constant: registers), stored at the end */
  for (a = 0; a < q; a++) {
    gel[a] = ge[a];
    for (b = 0; b < q; b++) Al[a * q + b] = A[a * q + b];
  }
  for (j = 0; j < sj->n_obs; j++) {
    const pop_ep *e = &p->ep[p->obs_ep[off + j]];
    const double *g = w->G + j * q;
    double r, c, c_m, t;
    if (p->obs_kind[off + j] != POP_OBS_NORMAL || e->res != RKIN_RES_ADD
        || e->log_scale || e->sig_off != so
        || !isfinite(sd_var(w, p->has_scale ? sj->n_obs + j : j)))
      break;
    r = sj->dv[j] - w->f[j];
    c_m = -2 * r / V;
    t = 2 * r * r / V3 - iV2;
    c = r * r / V + lv;
    if (!isfinite(c) || !isfinite(c_m) || !isfinite(t)) break;
    v += c;
    esum += fabs(w->f[j] * c_m);   /* newton_eval's E; c_s = 0 here */
    for (a = 0; a < q; a++) {
      double wg = iV * g[a];
      gel[a] += c_m * g[a];
      for (b = 0; b < q; b++) Al[a * q + b] += 2 * (wg * g[b]);
    }
  }
  *val = v;
  *E = esum;
  for (a = 0; a < q; a++) {
    ge[a] = gel[a];
    for (b = 0; b < q; b++) A[a * q + b] = Al[a * q + b];
  }
  return j;
}

/* add_terms_q unrolled for two etas (a population PK fit's usual
 * number), and general. */
static size_t add_terms(pop_ws *w, size_t s, const rkin_data_subject *sj,
                        size_t q, double *val, double *ge, double *A,
                        double *E)
{
  if (q == 2) return add_terms_q(w, s, sj, 2, val, ge, A, E);
  return add_terms_q(w, s, sj, q, val, ge, A, E);
}

/* The inner objective J at z (whitened eta) for the Newton search: f and
 * G at eta = L z into w->f, w->G (marked as the last evaluation, as
 * inner_obj does), J, its z-gradient gz, its eta-gradient ge of the data
 * terms, and their Gauss-Newton Hessian on the eta scale A = 2 sum_j
 * [w_ff g g' + w_fs (g gs' + gs g') + w_ss gs gs'] (popres.h: positive
 * semi-definite), and E = sum_j |f c_f| + |s c_s|, J's change per unit
 * relative error of the predictions (newton_floor). Non-zero when there
 * is no finite value. */
static int newton_eval(pop_ws *w, size_t s, const double *z, double *J,
                       double *gz, double *ge, double *A, double *E)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t q = p->n_ei, j, a, b, c;
  double val = 0;
  rkin_res_obs o;
  int rc;
  eta_of_z(p, z, w->eta);
  rc = predict_grad(w, s, w->eta, w->f, w->G, &w->ferr);
  w->last_ok = !rc;
  w->last_subj = s;
  memcpy(w->last_eta, w->eta, q * sizeof *w->eta);
  if (rc) return rc;
  memset(ge, 0, q * sizeof *ge);
  memset(A, 0, q * q * sizeof *A);
  *E = 0;
  for (a = 0; a < q; a++) val += z[a] * z[a];
  for (j = add_terms(w, s, sj, q, &val, ge, A, E); j < sj->n_obs; j++) {
    size_t js = p->has_scale ? sj->n_obs + j : j;
    const double *g = w->G + j * q, *gs = w->G + js * q;
    if ((rc = pop_obs(p, s, j, w->f[j], sd_var(w, js), &o, &w->ferr)))
      return rc;
    if (w->noint) o.c_s = o.w_fs = o.w_ss = 0;
    val += o.c;
    *E += fabs(w->f[j] * o.c_f) + fabs(w->f[js] * o.c_s);
    if (o.c_s == 0 && o.w_fs == 0 && o.w_ss == 0) {
      /* the SD does not move with eta (additive, or no interaction):
       * the terms in gs add exact zeros (G is finite), so they are
       * left out; the same sums but for the sign of a zero */
      for (a = 0; a < q; a++) {
        double wg = o.w_ff * g[a];
        ge[a] += o.c_f * g[a];
        for (b = 0; b < q; b++) A[a * q + b] += 2 * (wg * g[b]);
      }
      continue;
    }
    for (a = 0; a < q; a++) {
      ge[a] += o.c_f * g[a] + o.c_s * gs[a];
      for (b = 0; b < q; b++)
        A[a * q + b] += 2 * (o.w_ff * g[a] * g[b]
                             + o.w_fs * (g[a] * gs[b] + gs[a] * g[b])
                             + o.w_ss * gs[a] * gs[b]);
    }
  }
  if (!isfinite(val)) return RKIN_ENONFINITE;
  for (a = 0; a < q; a++) {   /* d/dz = L' d/deta */
    double t = 2 * z[a];
    for (c = a; c < q; c++) t += p->Li[c * q + a] * ge[c];
    gz[a] = t;
  }
  *J = val;
  return RKIN_OK;
}

/* Newton step dz = -H^-1 gz with H = 2 I + L' (A + S) L, the Hessian of
 * the inner objective in z: the Gauss-Newton part A and the secant
 * estimate S of the rest (the predictions' curvature times the residuals,
 * and c's second derivatives beyond their expectation). When A + S is not
 * positive definite enough S is dropped (reset to 0): 2 I + L' A L always
 * is. */
static void newton_step(const pop *p, const double *A, double *S,
                        const double *gz, double *H, double *dz)
{
  size_t q = p->n_ei, a, b, c, d;
  int tries;
  for (tries = 0; tries < 2; tries++) {
    gsl_matrix_view Hm = gsl_matrix_view_array(H, q, q);
    gsl_vector_view x = gsl_vector_view_array(dz, q);
    for (a = 0; a < q; a++)
      for (b = 0; b <= a; b++) {
        double t = 0;
        for (c = a; c < q; c++)
          for (d = b; d < q; d++)
            t += p->Li[c * q + a] * (A[c * q + d] + S[c * q + d])
                 * p->Li[d * q + b];
        H[a * q + b] = H[b * q + a] = t + (a == b ? 2 : 0);
      }
    if (q == 2) {             /* GSL's operations, written out (chol2.h) */
      double mg[2] = {-gz[0], -gz[1]};
      if (!pop_chol2_solve(H, mg, dz)) return;
    } else if (!gsl_linalg_cholesky_decomp1(&Hm.matrix)) {
      for (a = 0; a < q; a++) dz[a] = -gz[a];
      gsl_linalg_cholesky_svx(&Hm.matrix, &x.vector);
      return;
    }
    memset(S, 0, q * q * sizeof *S);
  }
}

/* Local search of the inner objective from z (whitened eta), in place, by
 * Newton's method with a backtracking (Armijo) line search. The Hessian is
 * the Gauss-Newton one of the FOCE-I term plus a symmetric rank-one
 * secant correction S (structured quasi-Newton, as Dennis, Gay & Welsch
 * 1981, ACM TOMS 7:348, for nonlinear least squares), kept per subject
 * from one search to the next: between outer evaluations the parameters
 * move little, so a search from the previous EBE starts with a near-exact
 * Hessian. Every evaluation brings f and G (the FOCE-I term needs them at
 * the EBE anyway), and the search ends at its last evaluation. Returns
 * the minimum, INNER_BAD when it fails (a non-finite value it cannot back
 * off from, no convergence, e.g. at a bound): LBFGS then takes over.
 */
static double newton_search(pop_ws *w, size_t s, double *z)
{
  pop *p = w->p;
  size_t q = p->n_ei, a, b, it;
  double *S = p->ebe_S + s * q * q;
  double J, Jt, E, Et, gz[POP_MAX_ETA], gzt[POP_MAX_ETA], ge[POP_MAX_ETA];
  double get[POP_MAX_ETA], dz[POP_MAX_ETA], zt[POP_MAX_ETA];
  double se[POP_MAX_ETA], r[POP_MAX_ETA];
  double *A = w->m1, *At = w->m2, *H = w->C;
  for (a = 0; a < q; a++)
    if (!(fabs(z[a]) < POP_Z_MAX)) z[a] = 0;
  if (newton_eval(w, s, z, &J, gz, ge, A, &E)) return INNER_BAD;
  for (it = 0; it < NEWTON_MAX_IT; it++) {
    double slope = 0, dmax = 0, t = 1, rs = 0, rr = 0, ss = 0;
    int ls, ok = 0, noise;
    newton_step(p, A, S, gz, H, dz);
    for (a = 0; a < q; a++) {
      slope += gz[a] * dz[a];
      if (fabs(dz[a]) > dmax) dmax = fabs(dz[a]);
    }
    /* the same guard: an overestimated H shortens the step too */
    if (dmax <= NEWTON_XTOL && newton_grad_small(q, gz, pred_rel(w) * E))
      return J;
    if (!(slope < 0)) return INNER_BAD;
    /* a step leaving the bounds is shortened to end just inside them
     * (far from the mode the Gauss-Newton curvature can be small) */
    for (a = 0; a < q; a++) {
      double room = (dz[a] > 0 ? POP_Z_MAX - z[a] : POP_Z_MAX + z[a])
                    * (1 - 1e-9);
      if (fabs(dz[a]) * t > room) t = room / fabs(dz[a]);
    }
    for (ls = 0; ls < 30 && !ok; ls++, t *= 0.5) {
      for (a = 0; a < q; a++) {
        zt[a] = z[a] + t * dz[a];
        if (!(fabs(zt[a]) < POP_Z_MAX)) return INNER_BAD;
      }
      /* rounding of J near the minimum: a rise of a few ulps passes */
      ok = !newton_eval(w, s, zt, &Jt, gzt, get, At, &Et)
           && Jt <= J + 1e-4 * t * slope + 1e-13 * (1 + fabs(J));
    }
    if (!ok) {
      /* converged to the noise floor: z again as the last evaluation */
      if (newton_floor(q, slope, gz, pred_rel(w) * E)
          && !newton_eval(w, s, z, &Jt, gzt, get, At, &Et)) {
        w->n_floor++;
        return Jt;
      }
      return INNER_BAD;
    }
    t *= 2;
    /* a backtracked step with a negligible predicted decrease: on the
     * noise floor, where more iterations only creep (zt is kept, being
     * the last evaluation) */
    noise = t < 1 && newton_floor(q, slope, gz, pred_rel(w) * E);
    /* secant pair on the eta scale: se = L (t dz), the data terms'
     * gradient change y; S takes y - At se (what Gauss-Newton misses) */
    for (a = 0; a < q; a++) {
      double u = 0;
      for (b = 0; b <= a; b++) u += p->Li[a * q + b] * t * dz[b];
      se[a] = u;
    }
    for (a = 0; a < q; a++) {
      double u = get[a] - ge[a];
      for (b = 0; b < q; b++) u -= (At[a * q + b] + S[a * q + b]) * se[b];
      r[a] = u;
      rs += u * se[a];
      rr += u * u;
      ss += se[a] * se[a];
    }
    /* not from a step on the noise floor: its y is mostly noise, and S
     * goes on to the subject's next search (n_floor_sr1 counts any) */
    if (fabs(rs) > 1e-8 * sqrt(rr * ss) && !noise) {
      for (a = 0; a < q; a++)
        for (b = 0; b < q; b++) S[a * q + b] += r[a] * r[b] / rs;
      w->n_floor_sr1 += (unsigned long)noise;
    }
    memcpy(z, zt, q * sizeof *z);
    memcpy(gz, gzt, q * sizeof *gz);
    memcpy(ge, get, q * sizeof *ge);
    memcpy(A, At, q * q * sizeof *A);
    J = Jt;
    E = Et;
    if (noise) {
      w->n_floor++;
      return J;
    }
  }
  return INNER_BAD;
}

/* One local search of the inner objective from z (whitened eta), in
 * place: Newton (unless opts.inner_lbfgs), LBFGS when it fails, then BOBYQA (no gradient) from the same start when LBFGS
 * fails (a noisy finite-difference gradient near a bound or a kink can
 * stall its line search). Returns the minimum, INNER_BAD on failure. */
static double inner_search(pop_ws *w, size_t s, double *z)
{
  pop *p = w->p;
  size_t q = p->n_ei, k;
  double z0[POP_MAX_ETA], minf = INNER_BAD;
  int attempt;
  memcpy(z0, z, q * sizeof *z);
  if (!p->opts.inner_lbfgs) {
    w->subj = s;
    w->fail = 0;
    minf = newton_search(w, s, z);
    if (minf < INNER_BAD) {
      w->n_newton++;
      return minf;
    }
    w->n_newton_fail++;
  }
  for (attempt = 0; attempt < 2; attempt++) {
    nlopt_opt opt = attempt == 0 ? w->inner : w->inner_df;
    nlopt_result r;
    if (attempt == 1) w->n_bobyqa++;
    memcpy(z, z0, q * sizeof *z);
    for (k = 0; k < q; k++)
      if (!(fabs(z[k]) < POP_Z_MAX)) z[k] = 0;
    w->subj = s;
    w->fail = 0;
    nlopt_set_min_objective(opt, inner_obj, w);
    minf = INNER_BAD;
    r = nlopt_optimize(opt, z, &minf);
    /* LBFGS reports round-off when it cannot improve a converged point. */
    if ((r > 0 || r == NLOPT_ROUNDOFF_LIMITED) && minf < INNER_BAD)
      return minf;
  }
  return INNER_BAD;
}

/* The FO-linearised conditional mode, whitened: with f, G at eta = 0 and
 * C = G Omega G' + V, eta = Omega G' C^-1 (y - f), so z = L' G' C^-1
 * (y - f) = B' C^-1 r with B = G L (marginal_cov leaves B in w->m2, the
 * Cholesky factor of C in w->C and r in w->v1). The mode a subject would
 * have if the model were linear in eta: a start in the right basin when
 * the data pull far from the population. */
static int linear_mode(pop_ws *w, size_t s, double *z, rkin_err *err)
{
  pop *p = w->p;
  size_t q = p->n_ei, n = 0, j, k;
  double zero[POP_MAX_ETA] = {0}, ld;
  int rc = predict_grad(w, s, zero, w->f, w->G, err);
  /* over the Gaussian observations (censored ones have no residual) */
  if (!rc) rc = marginal_cov(w, s, NULL, &ld, &n, err);
  if (rc) return rc;
  for (k = 0; !n && k < q; k++) z[k] = 0;
  if (!n) return RKIN_OK;
  {
    gsl_matrix_view Cm = gsl_matrix_view_array(w->C, n, n);
    gsl_vector_view x = gsl_vector_view_array(w->v1, n);
    gsl_linalg_cholesky_svx(&Cm.matrix, &x.vector);
  }
  for (k = 0; k < q; k++) {
    double t = 0;
    for (j = 0; j < n; j++) t += w->m2[j * q + k] * w->v1[j];
    z[k] = t;
  }
  return RKIN_OK;
}

/* Starting points of the inner search beyond the previous EBE and zero:
 * +-EBE_SCAN_Z prior SDs along each whitened axis. */
#define EBE_SCAN_Z 2.0
/* Two local minima are different modes when their whitened etas differ by
 * more than this (far above the search's 1e-9 tolerance) and their
 * objectives by more than EBE_MODE_DOFV. */
#define EBE_MODE_DZ 1e-3
#define EBE_MODE_DOFV 1e-6

/* The EBE of subject s into w->eta and p->eta_hat[s]: the lowest of the
 * local searches from several starts (previous EBE, zero, the linearised
 * mode; with `scan` also +-2 SDs along each axis), as a search from one
 * start can end in a distant local mode with a much higher objective.
 * RKIN_EBE_SINGLE: the previous EBE only, zero when that fails. Records
 * how many different modes were found and how much higher the worst was
 * in p->ebe_modes[s], p->ebe_dofv[s]. */
static int ebe(pop_ws *w, size_t s, int scan, rkin_err *err)
{
  pop *p = w->p;
  size_t q = p->n_ei, k, i, n_start = 0, n_modes = 0;
  double starts[2 * POP_MAX_ETA + 3][POP_MAX_ETA], zbest[POP_MAX_ETA];
  double modes[2 * POP_MAX_ETA + 3][POP_MAX_ETA], fmode[2 * POP_MAX_ETA + 3];
  double best = INNER_BAD, worst = -HUGE_VAL;
  double *Ssub = p->ebe_S + s * q * q;
  /* MULTI inside the outer search, between its scan passes (the first
   * and the final one), tracks each subject's mode from its previous EBE
   * as SINGLE does: the scan found the lowest mode, and a search from
   * every extra start in every outer evaluation would triple the cost of
   * a fit. Evaluations and the covariance step use all the starts. */
  int single = p->opts.ebe_starts == RKIN_EBE_SINGLE
               || (p->opts.ebe_starts == RKIN_EBE_MULTI && !scan
                   && p->ebe_track);
  rkin_err lerr;
  /* MULTI in the covariance step: its points lie within 1e-3 (relative)
   * of the estimates, where the final pass's scan searched every start
   * and found each subject's modes. A subject with one mode there keeps
   * it under so small a change: its search starts from its EBE alone. A
   * subject with several modes there gets every start at every point
   * (one of them may become the lowest). */
  if (!single && !scan && p->opts.ebe_starts == RKIN_EBE_MULTI
      && p->cov_modes && p->cov_modes[s] == 1)
    single = 1;
  /* Every start's Newton search begins with the subject's secant
   * correction as it is now; the one of the start whose mode is kept
   * goes on to the next search (so that a scan of extra starts leaves
   * the same state as one start reaching the same mode). */
  memcpy(w->S_in, Ssub, q * q * sizeof *Ssub);
  memcpy(w->S_best, Ssub, q * q * sizeof *Ssub);
  eta_quad(w, p->eta_hat + s * q, NULL);     /* z = L^-1 eta in etap */
  memcpy(starts[n_start++], w->etap, q * sizeof(double));
  memset(starts[n_start++], 0, q * sizeof(double));
  if (!single && !linear_mode(w, s, starts[n_start], &lerr)) n_start++;
  for (k = 0; !single && scan && k < q; k++) {
    memset(starts[n_start], 0, q * sizeof(double));
    starts[n_start++][k] = EBE_SCAN_Z;
    memset(starts[n_start], 0, q * sizeof(double));
    starts[n_start++][k] = -EBE_SCAN_Z;
  }
  for (i = 0; i < n_start; i++) {
    double z[POP_MAX_ETA], f;
    size_t m;
    int dup = 0;
    /* A start equal to one already searched (zero on the first pass). */
    for (m = 0; m < i && !dup; m++)
      dup = !memcmp(starts[m], starts[i], q * sizeof(double));
    if (dup) continue;
    memcpy(z, starts[i], q * sizeof *z);
    memcpy(Ssub, w->S_in, q * q * sizeof *Ssub);
    f = inner_search(w, s, z);
    if (f >= INNER_BAD) continue;
    if (f < best) {
      best = f;
      memcpy(zbest, z, q * sizeof *z);
      memcpy(w->S_best, Ssub, q * q * sizeof *Ssub);
    }
    for (m = 0; m < n_modes; m++) {
      double dz = 0;
      for (k = 0; k < q; k++)
        if (fabs(z[k] - modes[m][k]) > dz) dz = fabs(z[k] - modes[m][k]);
      if (dz <= EBE_MODE_DZ || fabs(f - fmode[m]) <= EBE_MODE_DOFV) break;
    }
    if (m == n_modes) {
      memcpy(modes[n_modes], z, q * sizeof *z);
      fmode[n_modes++] = f;
    }
    if (single) break;   /* the previous EBE converged: done */
  }
  if (best >= INNER_BAD) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    if (w->fail && w->ferr.code) {
      *err = w->ferr;
      return rkin_err_prefix(err, "EBE: ");
    }
    return rkin_err_set(err, RKIN_EOPTIM, "subject ID %g: the EBE "
                        "(inner optimisation over eta) failed from every "
                        "start", sj->id);
  }
  for (i = 0; i < n_modes; i++)
    if (fmode[i] - best > worst) worst = fmode[i] - best;
  p->ebe_modes[s] = (int)n_modes;
  p->ebe_dofv[s] = n_modes > 1 ? worst : 0;
  memcpy(Ssub, w->S_best, q * q * sizeof *Ssub);
  eta_of_z(p, zbest, w->eta);
  memcpy(p->eta_hat + s * q, w->eta, q * sizeof *w->eta);
  return RKIN_OK;
}

/* Cholesky of the k x k SPD matrix a (in place); log det into *ld. */
static int chol_logdet(double *a, size_t k, double *ld)
{
  gsl_matrix_view m = gsl_matrix_view_array(a, k, k);
  size_t i;
  int rc = gsl_linalg_cholesky_decomp1(&m.matrix);
  if (rc) return rc;
  *ld = 0;
  for (i = 0; i < k; i++) *ld += 2 * log(a[i * k + i]);
  return 0;
}

/* FOCE-I term at eta (f and G there are in w->f, w->G). The Hessian of
 * the joint -2 log density is approximated by its expectation,
 * 2 (Omega^-1 + sum_j [g g'/V + dV dV'/(2 V^2)]) (Almquist et al. 2015,
 * J Pharmacokinet Pharmacodyn 42:191, the FOCE-I of NONMEM); the log-det
 * is taken of I + L' A L = L' (Omega^-1 + A) L, so Omega is never
 * inverted. */
static int foce_term(pop_ws *w, size_t s, const double *eta, double *ofv,
                     rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t q = p->n_ei, j, a, b, c;
  double val = eta_quad(w, eta, NULL), ld;
  double *A = w->m1, *LA = w->m2;
  rkin_res_obs o;
  int rc;
  memset(A, 0, q * q * sizeof *A);
  for (j = 0; j < sj->n_obs; j++) {
    size_t js = p->has_scale ? sj->n_obs + j : j;
    const double *g = w->G + j * q, *gs = w->G + js * q;
    if ((rc = pop_obs(p, s, j, w->f[j], sd_var(w, js), &o, err))) return rc;
    if (w->noint) o.w_fs = o.w_ss = 0;
    /* (f, s) weights (popres.h); gs = g when the SD scales with f */
    val += o.c;
    if (o.w_fs == 0 && o.w_ss == 0) {
      /* exact zeros dropped, as in newton_eval */
      for (a = 0; a < q; a++) {
        double wg = o.w_ff * g[a];
        for (b = 0; b < q; b++) A[a * q + b] += wg * g[b];
      }
      continue;
    }
    for (a = 0; a < q; a++)
      for (b = 0; b < q; b++)
        A[a * q + b] += o.w_ff * g[a] * g[b]
                        + o.w_fs * (g[a] * gs[b] + gs[a] * g[b])
                        + o.w_ss * gs[a] * gs[b];
  }
  /* LA = A L, then M = I + L' (A L) into A. */
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++) {
      double t = 0;
      for (c = b; c < q; c++) t += A[a * q + c] * p->Li[c * q + b];
      LA[a * q + b] = t;
    }
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++) {
      double t = a == b ? 1 : 0;
      for (c = a; c < q; c++) t += p->Li[c * q + a] * LA[c * q + b];
      A[a * q + b] = t;
    }
  if (chol_logdet(A, q, &ld))
    return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: FOCE-I "
                        "Hessian I + L'G'V^-1GL is not positive definite",
                        sj->id);
  *ofv = val + ld;
  if (!isfinite(*ofv))
    return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: objective "
                        "term is not finite", sj->id);
  return RKIN_OK;
}

/* C = Gt Omega Gt' + diag(V) for subject s (f, G in w->f / w->G), its
 * Cholesky factor in w->C, residuals yt - E with E = ft - Gt eta in v1.
 * eta NULL: FO, E = ft. Over the Gaussian observations only (censored and
 * dropped ones have no residual): *n_inc of them, in order. */
static int marginal_cov(pop_ws *w, size_t s, const double *eta, double *ld,
                        size_t *n_inc, rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t q = p->n_ei, n = 0, j, k, c;
  double *B = w->m2, r, gtb[POP_MAX_ETA];
  rkin_res_obs o;
  int rc;
  for (j = 0; j < sj->n_obs; j++) {
    if (p->obs_kind[p->obs_off[s] + j] != POP_OBS_NORMAL) continue;
    if ((rc = pop_obs(p, s, j, w->f[j],
                      sd_var(w, p->has_scale ? sj->n_obs + j : j), &o, err)))
      return rc;
    r = o.r;
    for (k = 0; k < q; k++) gtb[k] = w->G[j * q + k] * o.dm;
    for (k = 0; eta && k < q; k++) r += gtb[k] * eta[k];
    w->v1[n] = r;
    w->v2[n] = o.V;
    /* B = Gt L, row n. */
    for (k = 0; k < q; k++) {
      double t = 0;
      for (c = k; c < q; c++) t += gtb[c] * p->Li[c * q + k];
      B[n * q + k] = t;
    }
    n++;
  }
  *n_inc = n;
  if (!n) {
    *ld = 0;
    return RKIN_OK;
  }
  {
    gsl_matrix_view Bm = gsl_matrix_view_array(B, n, q);
    gsl_matrix_view Cm = gsl_matrix_view_array(w->C, n, n);
    gsl_matrix_set_zero(&Cm.matrix);
    for (j = 0; j < n; j++) w->C[j * n + j] = w->v2[j];
    gsl_blas_dsyrk(CblasLower, CblasNoTrans, 1.0, &Bm.matrix, 1.0,
                   &Cm.matrix);
  }
  if (chol_logdet(w->C, n, ld))
    return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: marginal "
                        "covariance G Omega G' + V is not positive definite",
                        sj->id);
  return RKIN_OK;
}

/* FO term: log det C + r' C^-1 r at eta = 0 (f, G in w->f / w->G). */
static int fo_term(pop_ws *w, size_t s, double *ofv, rkin_err *err)
{
  size_t n, j;
  double ld, q = 0;
  int rc = marginal_cov(w, s, NULL, &ld, &n, err);
  if (rc) return rc;
  if (n) {
    gsl_matrix_view Cm = gsl_matrix_view_array(w->C, n, n);
    gsl_vector_view x = gsl_vector_view_array(w->v1, n);
    gsl_blas_dtrsv(CblasLower, CblasNoTrans, CblasNonUnit, &Cm.matrix,
                   &x.vector);
  }
  for (j = 0; j < n; j++) q += w->v1[j] * w->v1[j];
  *ofv = ld + q;
  /* a squared residual may overflow: refuse +inf rather than sum it */
  if (!isfinite(ld + q))
    return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: objective "
                        "term is not finite",
                        rkin_data_subject_at(w->p->data, s)->id);
  return RKIN_OK;
}

/* Per-observation diagnostics at the EBE in w->eta (f, G there). */
static int diagnostics(pop_ws *w, size_t s, rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t n, off = p->obs_off[s], j, i = 0;
  double ld, zero[POP_MAX_ETA] = {0};
  rkin_res_obs o;
  int rc = marginal_cov(w, s, w->eta, &ld, &n, err);
  if (rc) return rc;
  /* CWRES (Hooker et al. 2007, Pharm Res 24:2187): the FOCE marginal
   * residual decorrelated by the Cholesky factor of its covariance. */
  if (n) {
    gsl_matrix_view Cm = gsl_matrix_view_array(w->C, n, n);
    gsl_vector_view x = gsl_vector_view_array(w->v1, n);
    gsl_blas_dtrsv(CblasLower, CblasNoTrans, CblasNonUnit, &Cm.matrix,
                   &x.vector);
  }
  /* Censored and dropped records have no residuals (NaN; the tables
   * mark them by CENS). */
  for (j = 0; j < sj->n_obs; j++) {
    int normal = p->obs_kind[off + j] == POP_OBS_NORMAL;
    p->ipred[off + j] = w->f[j];
    p->iwres[off + j] = p->cwres[off + j] = NAN;
    if (!normal) continue;
    if ((rc = pop_obs(p, s, j, w->f[j],
                      w->f[p->has_scale ? sj->n_obs + j : j], &o, err)))
      return rc;
    p->iwres[off + j] = o.r / sqrt(o.V);
    p->cwres[off + j] = w->v1[i++];
  }
  rc = pop_psi(w, s, w->eta, err);
  if (rc) return rc;
  memcpy(p->psi_i + s * p->n_psi, w->psi, p->n_psi * sizeof *w->psi);
  rc = predict(w, s, zero, w->fp, err);
  if (rc) return rc;
  for (j = 0; j < sj->n_obs; j++) {
    int lg = p->ep[p->obs_ep[off + j]].log_scale;
    p->pred[off + j] = w->fp[j];
    /* on the error model's scale, as IWRES */
    p->res[off + j] = p->obs_kind[off + j] != POP_OBS_NORMAL ? NAN
                      : lg ? (w->fp[j] > 0 ? log(sj->dv[j]) - log(w->fp[j])
                                           : NAN)
                      : sj->dv[j] - w->fp[j];
  }
  return RKIN_OK;
}

/* Step of the central differences of G in z giving the curvature of the
 * predictions (whitened scale: prior SD 1); ten finite-difference steps
 * on eta when G comes from them (CVODES). */
#define LAPLACE_STEP 1e-4

/* Laplace term at the EBE eta (Wolfinger 1993, Biometrika 80:791; NONMEM's
 * METHOD=COND LAPLACIAN): with J(z) the inner objective (-2 log joint
 * density without 2 pi, whitened, prior term z'z), -2 log of the Laplace
 * approximation of the integral over eta is J(z^) + log det(H / 2), H
 * the true second derivative of J at z^. H = 2 I + L' A L + K: A =
 * sum_j [c_ff g g' + c_fs (g gs' + gs g') + c_ss gs gs'] from the exact
 * second derivatives of each observation's term (popres.h: Gaussian, M3,
 * M4), and the curvature of the predictions K = sum_j [c_f d2f/dz2 + c_s
 * d2s/dz2] by central differences of G in z. A model linear in eta has
 * K = 0: the term is then exact to rounding whatever the likelihood. In
 * z, Omega's determinant is already in H / 2 = I + .... f and G at the
 * EBE stay in w->f, w->G. */
static int laplace_term(pop_ws *w, size_t s, const double *eta, double *ofv,
                        rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t q = p->n_ei, n = sj->n_obs, a, b, c, j;
  double z[POP_MAX_ETA], zp[POP_MAX_ETA], ep[POP_MAX_ETA], gz[POP_MAX_ETA];
  double *H = w->m1, *A = w->m2, J, ld;
  double h = p->eta_step > 1e-4 ? 10 * p->eta_step : LAPLACE_STEP;
  rkin_res_obs o;
  int rc;
  eta_quad(w, eta, NULL);
  memcpy(z, w->etap, q * sizeof *z);
  w->subj = s;
  w->fail = 0;
  J = inner_obj((unsigned)q, z, gz, w);     /* f, G at the EBE */
  if (w->fail || !(J < INNER_BAD)) {
    *err = w->ferr;
    return rkin_err_prefix(err, "Laplace: ");
  }
  /* A (eta scale), c_f and c_s per observation into v1, v2 */
  memset(A, 0, q * q * sizeof *A);
  for (j = 0; j < n; j++) {
    size_t js = p->has_scale ? n + j : j;
    const double *g = w->G + j * q, *gs = w->G + js * q;
    if ((rc = pop_obs(p, s, j, w->f[j], sd_var(w, js), &o, err))) return rc;
    if (w->noint) o.c_s = o.c_fs = o.c_ss = 0;
    w->v1[j] = o.c_f;
    w->v2[j] = o.c_s;
    for (a = 0; a < q; a++)
      for (b = 0; b < q; b++)
        A[a * q + b] += o.c_ff * g[a] * g[b]
                        + o.c_fs * (g[a] * gs[b] + gs[a] * g[b])
                        + o.c_ss * gs[a] * gs[b];
  }
  /* H / 2 = I + L' (A / 2) L */
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++) {
      double t = 0;
      size_t d;
      for (c = a; c < q; c++)
        for (d = b; d < q; d++)
          t += p->Li[c * q + a] * A[c * q + d] * p->Li[d * q + b];
      H[a * q + b] = (a == b ? 1 : 0) + t / 2;
    }
  /* + K / 2: dG/dz_a by central differences, K(a, b) = sum_j c_f
   * (dG_j/dz_a) . L(:, b) (+ the s rows), symmetrised */
  for (a = 0; a < q; a++) {
    memcpy(zp, z, q * sizeof *z);
    zp[a] = z[a] + h;
    eta_of_z(p, zp, ep);
    rc = predict_grad(w, s, ep, w->fl, w->Gl1, err);
    zp[a] = z[a] - h;
    eta_of_z(p, zp, ep);
    if (!rc) rc = predict_grad(w, s, ep, w->fl, w->Gl2, err);
    if (rc) return rkin_err_prefix(err, "Laplace: ");
    for (b = 0; b < q; b++) {
      double t = 0;
      for (j = 0; j < n; j++) {
        size_t js = p->has_scale ? n + j : j;
        for (c = b; c < q; c++) {
          double dg = (w->Gl1[j * q + c] - w->Gl2[j * q + c]) / (2 * h);
          double ds = (w->Gl1[js * q + c] - w->Gl2[js * q + c]) / (2 * h);
          t += (w->v1[j] * dg + w->v2[j] * ds) * p->Li[c * q + b];
        }
      }
      H[a * q + b] += t / 4;     /* (K + K') / 2, halved */
      H[b * q + a] += t / 4;
    }
  }
  if (chol_logdet(H, q, &ld))
    return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: Laplace: the "
                        "second derivative of the individual objective at "
                        "the EBE is not positive definite", sj->id);
  *ofv = J + ld;
  if (!isfinite(*ofv))
    return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: objective "
                        "term is not finite", sj->id);
  return RKIN_OK;
}

void pop_subject(pop_ws *w, size_t s, pop_task task)
{
  pop *p = w->p;
  rkin_err *err = &p->serr[s];
  double ofv = 0;
  int rc = RKIN_OK;
  rkin_pop_method m = p->opts.method;
  int laplace = m == RKIN_POP_LAPLACE || m == RKIN_POP_LAPLACEI;
  rkin_err_clear(err);
  w->noint = 0;
  if (m == RKIN_POP_FOCE || m == RKIN_POP_LAPLACE) {
    double zero[POP_MAX_ETA] = {0};
    rc = predict(w, s, zero, w->f0, err);
    w->noint = !rc;
  }
  if (!rc && (m != RKIN_POP_FO || task == POP_TASK_DIAG)) {
    /* The scan of extra starts: in every pass when asked, else on the
     * first pass (later ones start from its modes) and at the end. */
    int scan = p->opts.ebe_starts == RKIN_EBE_SCAN
               || task == POP_TASK_DIAG || p->n_pass == 0;
    w->last_ok = 0;
    rc = ebe(w, s, scan, err);
    if (!rc && laplace) rc = laplace_term(w, s, w->eta, &ofv, err);
    /* f and G exactly at the EBE (the optimiser's last call may be
     * elsewhere). */
    if (!rc && !(w->last_ok && w->last_subj == s
                 && !memcmp(w->last_eta, w->eta, p->n_ei * sizeof *w->eta)))
      rc = predict_grad(w, s, w->eta, w->f, w->G, err);
    if (!rc && (m == RKIN_POP_FOCEI || m == RKIN_POP_FOCE))
      rc = foce_term(w, s, w->eta, &ofv, err);
    if (!rc && task == POP_TASK_DIAG) rc = diagnostics(w, s, err);
  }
  if (!rc && m == RKIN_POP_FO) {
    double zero[POP_MAX_ETA] = {0};
    rc = predict_grad(w, s, zero, w->f, w->G, err);
    if (!rc) rc = fo_term(w, s, &ofv, err);
  }
  p->status[s] = rc;
  p->ofv_i[s] = rc ? NAN : ofv;
}

/* For SAEM (saem.c): predictions with df/deta at any eta (predictions
 * alone: pop_predict above). */
int pop_predict_grad(pop_ws *w, size_t s, const double *eta, double *f,
                     double *G, rkin_err *err)
{
  return predict_grad(w, s, eta, f, G, err);
}
