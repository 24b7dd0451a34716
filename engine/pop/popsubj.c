/* popsubj.c - one subject of a population fit: individual parameters,
 * predictions and their eta-derivatives, the empirical Bayes estimate
 * (inner optimisation) and the subject's FO / FOCE-I objective term and
 * diagnostics. */
#include "pop/popest_impl.h"

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
  size_t q = p->n_eta, n = (p->max_obs ? p->max_obs : 1)
                           * (p->has_scale ? 2 : 1);
  size_t np = p->n_theta + p->n_eta + p->n_cov, nq = n > q ? n : q;
  memset(w, 0, sizeof *w);
  w->p = p;
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
  w->G = malloc(n * q * sizeof *w->G);
  w->eta = malloc(q * sizeof *w->eta);
  w->etap = malloc(q * sizeof *w->etap);
  w->m1 = malloc(q * q * sizeof *w->m1);
  w->m2 = malloc(nq * q * sizeof *w->m2);
  w->v1 = malloc(n * sizeof *w->v1);
  w->v2 = malloc(n * sizeof *w->v2);
  w->C = malloc(n * n * sizeof *w->C);
  /* Outputs of any form: their sensitivities follow by the chain rule. */
  w->sens = p->pm->model && !p->opts.fd_grad
            && rkin_solver_path(w->solver) == RKIN_PATH_EXACT;
  w->dpsi = malloc(q * p->n_psi * sizeof *w->dpsi);
  w->psi2 = malloc(p->n_psi * (1 + q) * sizeof *w->psi2);
  w->dsol = malloc(n * (p->n_sol ? p->n_sol : 1) * q * sizeof *w->dsol);
  w->last_eta = malloc(q * sizeof *w->last_eta);
  w->inner = nlopt_create(NLOPT_LD_LBFGS, (unsigned)q);
  w->inner_df = nlopt_create(NLOPT_LN_BOBYQA, (unsigned)q);
  if (!w->pvec || !w->twork || !w->psi || !w->sol || !w->f || !w->fp
      || !w->fm || !w->G || !w->eta || !w->etap || !w->m1 || !w->m2
      || !w->v1 || !w->v2 || !w->C || !w->inner || !w->inner_df
      || !w->dpsi || !w->psi2 || !w->dsol || !w->last_eta)
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
  memset(w, 0, sizeof *w);
}

static const char *psi_name(const pop *p, size_t k, char *buf, size_t n)
{
  if (p->pm->model) return rkin_model_param_name(p->pm->model, k);
  if (p->pm->psi_names) return p->pm->psi_names[k];
  snprintf(buf, n, "psi[%zu]", k);
  return buf;
}

int pop_psi(pop_ws *w, size_t s, const double *eta, rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  double *cov = w->pvec + p->n_theta + p->n_eta;
  size_t k;
  char nb[32];
  int rc;
  memcpy(w->pvec, p->theta, p->n_theta * sizeof *w->pvec);
  memcpy(w->pvec + p->n_theta, eta, p->n_eta * sizeof *w->pvec);
  for (k = 0; k < p->n_cov; k++) cov[k] = sj->cov[p->cov_idx[k]];
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
  rc = p->pm->indiv(p->theta, eta, cov, w->psi, p->pm->indiv_ud, err);
  if (rc) return rkin_err_prefix(err, "subject ID %g: ", sj->id);
  for (k = 0; k < p->n_psi; k++)
    if (!isfinite(w->psi[k]))
      return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: individual "
                          "parameter %s = %g is not finite", sj->id,
                          psi_name(p, k, nb, sizeof nb), w->psi[k]);
  return RKIN_OK;
}

static int check_pred(const pop *p, size_t s, const double *f,
                      rkin_err *err);

/* Predictions of subject s at eta into f (natural scale). */
static int predict(pop_ws *w, size_t s, const double *eta, double *f,
                   rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t g, k;
  int rc = pop_psi(w, s, eta, err);
  if (rc) return rc;
  if (!p->pm->model) {
    rc = p->pm->predict(sj, w->psi, f, p->pm->predict_ud, err);
    if (rc) return rkin_err_prefix(err, "subject ID %g: ", sj->id);
  } else {
    int out = p->ep[0].output;    /* all outputs or all states */
    for (g = 0; g < sj->n_seg; g++) {
      const rkin_data_segment *sg = &sj->seg[g];
      rkin_solve_req rq;
      rkin_solve_res rs;
      if (!sg->n_obs) continue;
      memset(&rq, 0, sizeof rq);
      memset(&rs, 0, sizeof rs);
      rq.t0 = sg->t0;
      rq.t1 = sj->time[sg->first_obs + sg->n_obs - 1];
      rq.params = w->psi;
      rq.dosing = sg->dosing;
      rq.times = sj->time + sg->first_obs;
      rq.n_times = sg->n_obs;
      rq.out_rec = sj->obs_rec + sg->first_obs;
      rq.events_at_t1 = 1;
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
  memcpy(w->pvec + p->n_theta, eta, q * sizeof *w->pvec);
  for (k = 0; k < p->n_cov; k++) cov[k] = sj->cov[p->cov_idx[k]];
  rc = rkin_tape_eval(p->tape_d, 0, NULL, w->pvec, w->twork, out);
  if (rc < 0)
    return rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: individual "
                        "parameter or its eta-derivative (entry %d) is not "
                        "finite", sj->id, -1 - rc);
  memcpy(w->psi, out, np * sizeof *out);
  for (k = 0; k < np; k++)
    for (d = 0; d < q; d++) w->dpsi[d * np + k] = out[np + k * q + d];
  return RKIN_OK;
}

/* psi (w->psi) and dpsi/deta (w->dpsi) of subject s at eta, the
 * derivatives by central differences. */
static int psi_fd(pop_ws *w, size_t s, const double *eta, rkin_err *err)
{
  pop *p = w->p;
  size_t q = p->n_eta, np = p->n_psi, l, d;
  int rc = RKIN_OK;
  memcpy(w->etap, eta, q * sizeof *eta);
  for (d = 0; !rc && d < q; d++) {
    w->etap[d] = eta[d] + PSI_STEP;
    rc = pop_psi(w, s, w->etap, err);
    if (rc) break;
    memcpy(w->psi2, w->psi, np * sizeof *w->psi);
    w->etap[d] = eta[d] - PSI_STEP;
    rc = pop_psi(w, s, w->etap, err);
    for (l = 0; !rc && l < np; l++)
      w->dpsi[d * np + l] = (w->psi2[l] - w->psi[l]) / (2 * PSI_STEP);
    w->etap[d] = eta[d];
  }
  return rc ? rc : pop_psi(w, s, eta, err);
}

/* f at eta and G = df/deta from the solver's forward sensitivities along
 * the columns of dpsi/deta. Any failure sends the caller to finite
 * differences, which report a genuine error themselves. */
static int predict_sens(pop_ws *w, size_t s, const double *eta, double *f,
                        double *G, rkin_err *err)
{
  pop *p = w->p;
  const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
  size_t q = p->n_eta, g, k, d, col;
  int out = p->ep[0].output, rc;     /* all outputs or all states */
  rc = p->tape_d ? psi_and_deriv(w, s, eta, err) : psi_fd(w, s, eta, err);
  for (g = 0; !rc && g < sj->n_seg; g++) {
    const rkin_data_segment *sg = &sj->seg[g];
    rkin_solve_req rq;
    rkin_solve_res rs;
    if (!sg->n_obs) continue;
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    rq.t0 = sg->t0;
    rq.t1 = sj->time[sg->first_obs + sg->n_obs - 1];
    rq.params = w->psi;
    rq.dosing = sg->dosing;
    rq.times = sj->time + sg->first_obs;
    rq.n_times = sg->n_obs;
    rq.out_rec = sj->obs_rec + sg->first_obs;
    rq.events_at_t1 = 1;
    if (out >= 0) rs.out = w->sol;
    else rs.y = w->sol;
    rc = rkin_solver_run_sens(w->solver, &rq, w->dpsi, q, &rs,
                              out >= 0 ? NULL : w->dsol,
                              out >= 0 ? w->dsol : NULL, err);
    for (k = 0; !rc && k < sg->n_obs; k++) {
      size_t j = sg->first_obs + k, sc = pop_scale_col(p, s, j);
      col = pop_obs_col(p, s, j);
      f[j] = w->sol[k * p->n_sol + col];
      for (d = 0; d < q; d++)
        G[j * q + d] = w->dsol[(k * p->n_sol + col) * q + d];
      if (!p->has_scale) continue;
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
  size_t q = p->n_eta, j, k;
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

/* z = L^-1 eta (in w->etap); returns z'z = eta' Omega^-1 eta. With
 * winv non-NULL also winv = Omega^-1 eta. */
static double eta_quad(pop_ws *w, const double *eta, double *winv)
{
  pop *p = w->p;
  size_t q = p->n_eta, k;
  gsl_matrix_view L = gsl_matrix_view_array(p->L, q, q);
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
  size_t q = p->n_eta, a, b;
  for (a = 0; a < q; a++) {
    double t = 0;
    for (b = 0; b <= a; b++) t += p->L[a * q + b] * z[b];
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
    if (pop_obs(p, w->subj, j, w->f[j], w->f[js], &o, &w->ferr)) {
      w->fail = 1;
      for (k = 0; grad && k < q; k++) grad[k] = 0;
      return INNER_BAD;
    }
    val += o.c;
    for (k = 0; grad && k < q; k++)
      ge[k] += o.c_f * w->G[j * q + k] + o.c_s * w->G[js * q + k];
  }
  /* d/dz = L' d/deta. */
  for (k = 0; grad && k < q; k++) {
    double t = 2 * x[k];
    for (c = k; c < q; c++) t += p->L[c * q + k] * ge[c];
    grad[k] = t;
  }
  return isfinite(val) ? val : INNER_BAD;
}

/* The EBE of subject s into w->eta, starting from p->eta_hat[s]. */
static int ebe(pop_ws *w, size_t s, rkin_err *err)
{
  pop *p = w->p;
  size_t q = p->n_eta, k;
  double minf = INNER_BAD, z[POP_MAX_ETA];
  nlopt_result r = NLOPT_FAILURE;
  int attempt;
  /* LBFGS from the last EBE, then from 0; BOBYQA (no gradient) from the
   * last EBE when both fail (a noisy finite-difference gradient near a
   * bound or a kink can stall the line search). */
  for (attempt = 0; attempt < 3; attempt++) {
    nlopt_opt opt = attempt < 2 ? w->inner : w->inner_df;
    if (attempt != 1) {
      eta_quad(w, p->eta_hat + s * q, NULL);   /* z = L^-1 eta in etap */
      memcpy(z, w->etap, q * sizeof *z);
    } else {
      memset(z, 0, sizeof z);
    }
    for (k = 0; k < q; k++)
      if (!(fabs(z[k]) < POP_Z_MAX)) z[k] = 0;
    w->subj = s;
    w->fail = 0;
    nlopt_set_min_objective(opt, inner_obj, w);
    r = nlopt_optimize(opt, z, &minf);
    /* LBFGS reports round-off when it cannot improve a converged point. */
    if ((r > 0 || r == NLOPT_ROUNDOFF_LIMITED) && minf < INNER_BAD) break;
  }
  if (!(r > 0 || r == NLOPT_ROUNDOFF_LIMITED) || minf >= INNER_BAD) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    if (w->fail && w->ferr.code) {
      *err = w->ferr;
      return rkin_err_prefix(err, "EBE: ");
    }
    return rkin_err_set(err, RKIN_EOPTIM, "subject ID %g: the EBE "
                        "(inner optimisation over eta) failed: NLopt %s",
                        sj->id, nlopt_result_to_string(r));
  }
  eta_of_z(p, z, w->eta);
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
  size_t q = p->n_eta, j, a, b, c;
  double val = eta_quad(w, eta, NULL), ld;
  double *A = w->m1, *LA = w->m2;
  rkin_res_obs o;
  int rc;
  memset(A, 0, q * q * sizeof *A);
  for (j = 0; j < sj->n_obs; j++) {
    size_t js = p->has_scale ? sj->n_obs + j : j;
    const double *g = w->G + j * q, *gs = w->G + js * q;
    if ((rc = pop_obs(p, s, j, w->f[j], w->f[js], &o, err))) return rc;
    /* (f, s) weights (popres.h); gs = g when the SD scales with f */
    val += o.c;
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
      for (c = b; c < q; c++) t += A[a * q + c] * p->L[c * q + b];
      LA[a * q + b] = t;
    }
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++) {
      double t = a == b ? 1 : 0;
      for (c = a; c < q; c++) t += p->L[c * q + a] * LA[c * q + b];
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
  size_t q = p->n_eta, n = 0, j, k, c;
  double *B = w->m2, r, gtb[POP_MAX_ETA];
  rkin_res_obs o;
  int rc;
  for (j = 0; j < sj->n_obs; j++) {
    if (p->obs_kind[p->obs_off[s] + j] != POP_OBS_NORMAL) continue;
    if ((rc = pop_obs(p, s, j, w->f[j],
                      w->f[p->has_scale ? sj->n_obs + j : j], &o, err)))
      return rc;
    r = o.r;
    for (k = 0; k < q; k++) gtb[k] = w->G[j * q + k] * o.dm;
    for (k = 0; eta && k < q; k++) r += gtb[k] * eta[k];
    w->v1[n] = r;
    w->v2[n] = o.V;
    /* B = Gt L, row n. */
    for (k = 0; k < q; k++) {
      double t = 0;
      for (c = k; c < q; c++) t += gtb[c] * p->L[c * q + k];
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

void pop_subject(pop_ws *w, size_t s, pop_task task)
{
  pop *p = w->p;
  rkin_err *err = &p->serr[s];
  double ofv = 0;
  int rc = RKIN_OK;
  rkin_err_clear(err);
  if (p->opts.method == RKIN_POP_FOCEI || task == POP_TASK_DIAG) {
    w->last_ok = 0;
    rc = ebe(w, s, err);
    /* f and G exactly at the EBE (the optimiser's last call may be
     * elsewhere). */
    if (!rc && !(w->last_ok && w->last_subj == s
                 && !memcmp(w->last_eta, w->eta, p->n_eta * sizeof *w->eta)))
      rc = predict_grad(w, s, w->eta, w->f, w->G, err);
    if (!rc && p->opts.method == RKIN_POP_FOCEI)
      rc = foce_term(w, s, w->eta, &ofv, err);
    if (!rc && task == POP_TASK_DIAG) rc = diagnostics(w, s, err);
  }
  if (!rc && p->opts.method == RKIN_POP_FO) {
    double zero[POP_MAX_ETA] = {0};
    rc = predict_grad(w, s, zero, w->f, w->G, err);
    if (!rc) rc = fo_term(w, s, &ofv, err);
  }
  p->status[s] = rc;
  p->ofv_i[s] = rc ? NAN : ofv;
}
