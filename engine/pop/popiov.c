/* popiov.c - between-occasion variability (IOV) of a population fit.
 *
 * NONMEM's convention: every record carries an occasion index (OCC); an
 * occasion eta has one independent value per occasion of a subject, all
 * with the same variance (BLOCK SAME). A subject with K occasions is
 * worked as one with n_eta + (K - 1) n_iov etas: the user's etas (the
 * occasion etas at its first occasion), then the occasion etas of each
 * further occasion, under Omega_i = blockdiag(Omega, Omega_iov, ...).
 * Every method's objective (FO, FOCE, FOCE-I, Laplace) is then the
 * ordinary one of that subject; an occasion slot a subject does not have
 * changes no prediction, so its EBE is 0 and it adds nothing (its rows of
 * G are 0: log det(I + L'AL) and z'z are unchanged). The individual
 * parameters of a record take the eta of its occasion, through the
 * machinery of time-varying covariates. */
#include "pop/popest_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static const char *occ_name(const pop *p)
{
  return p->pm->occ_name ? p->pm->occ_name : "OCC";
}

/* Which etas are occasion etas, and that no Omega block mixes them with
 * the others. */
static int iov_etas(pop *p, rkin_err *err)
{
  const rkin_popmodel *pm = p->pm;
  size_t q = p->n_eta, a, b;
  p->iov_idx = malloc(q * sizeof *p->iov_idx);
  p->iov_eta = malloc(q * sizeof *p->iov_eta);
  if (!p->iov_idx || !p->iov_eta)
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  p->n_iov = 0;
  for (a = 0; a < q; a++) {
    p->iov_idx[a] = pm->eta_occ && pm->eta_occ[a] ? (int)p->n_iov : -1;
    if (p->iov_idx[a] >= 0) p->iov_eta[p->n_iov++] = a;
  }
  for (a = 0; a < q; a++)
    for (b = 0; b < a; b++)
      if ((p->iov_idx[a] < 0) != (p->iov_idx[b] < 0)
          && pop_same_block(p, a, b))
        return rkin_err_set(err, RKIN_EINVAL, "population model: eta %s is "
                            "an occasion (IOV) eta and eta %s is not, but "
                            "they are in one Omega block (an occasion eta "
                            "may share a block only with occasion etas)",
                            pm->eta_names ? pm->eta_names[p->iov_idx[a] >= 0
                                                          ? a : b] : "?",
                            pm->eta_names ? pm->eta_names[p->iov_idx[a] >= 0
                                                          ? b : a] : "?");
  return RKIN_OK;
}

/* The occasions of every subject from the OCC column, every record's and
 * observation's slot. */
static int occasions(pop *p, int col, rkin_err *err)
{
  size_t nc = rkin_data_ncovariates(p->data), s, r, j, k, nrec = 0, g = 0;
  int c1 = rkin_data_covariate_column(p->data, (size_t)col);
  double *vals;
  for (s = 0; s < p->n_subj; s++)
    nrec += rkin_data_subject_at(p->data, s)->n_rec;
  p->occ_n = calloc(p->n_subj, sizeof *p->occ_n);
  p->rec_off = calloc(p->n_subj, sizeof *p->rec_off);
  p->rec_slot = calloc(nrec + 1, sizeof *p->rec_slot);
  p->obs_slot = calloc(p->n_obs + 1, sizeof *p->obs_slot);
  vals = malloc((nrec + 1) * sizeof *vals);
  if (!p->occ_n || !p->rec_off || !p->rec_slot || !p->obs_slot || !vals) {
    free(vals);
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  }
  /* pass 1: check the values, count each subject's occasions */
  p->n_occ = 1;
  for (s = 0, nrec = 0; s < p->n_subj; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    size_t n = 0;
    p->rec_off[s] = nrec;
    for (r = 0; r < sj->n_rec; r++) {
      double v = sj->rec_cov[r * nc + (size_t)col];
      if (isnan(v)) {
        free(vals);
        return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column %d (%s): "
                            "occasion missing on a record of subject ID %g "
                            "(IOV: an integer occasion index on every "
                            "record)", rkin_data_name(p->data),
                            sj->rec_line[r], c1, occ_name(p), sj->id);
      }
      if (!isfinite(v) || v != floor(v) || fabs(v) > 1e9) {
        free(vals);
        return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column %d (%s): "
                            "occasion %g of subject ID %g is not an "
                            "integer (IOV: an integer occasion index on "
                            "every record)", rkin_data_name(p->data),
                            sj->rec_line[r], c1, occ_name(p), v, sj->id);
      }
      vals[n++] = v;
    }
    qsort(vals, n, sizeof *vals, cmp_double);
    for (r = k = 0; r < n; r++)
      if (!r || vals[r] != vals[r - 1]) k++;
    p->occ_n[s] = k ? k : 1;
    if (p->occ_n[s] > p->n_occ) p->n_occ = p->occ_n[s];
    nrec += sj->n_rec;
  }
  p->occ_val = malloc(p->n_subj * p->n_occ * sizeof *p->occ_val);
  if (!p->occ_val) {
    free(vals);
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  }
  /* pass 2: sorted distinct values, slots of records and observations */
  for (s = 0; s < p->n_subj; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    double *ov = p->occ_val + s * p->n_occ;
    size_t n = 0, m;
    for (k = 0; k < p->n_occ; k++) ov[k] = NAN;
    for (r = 0; r < sj->n_rec; r++) vals[r] = sj->rec_cov[r * nc + (size_t)col];
    qsort(vals, sj->n_rec, sizeof *vals, cmp_double);
    for (r = 0; r < sj->n_rec; r++)
      if (!r || vals[r] != vals[r - 1]) ov[n++] = vals[r];
    for (r = 0; r < sj->n_rec; r++) {
      double v = sj->rec_cov[r * nc + (size_t)col];
      for (m = 0; m < n && ov[m] != v; m++) {}
      p->rec_slot[p->rec_off[s] + r] = (int)m;
    }
    /* an observation is the record on its file line */
    for (j = 0, r = 0; j < sj->n_obs; j++, g++) {
      while (r < sj->n_rec && sj->rec_line[r] != sj->obs_line[j]) r++;
      if (r == sj->n_rec) {
        free(vals);
        return rkin_err_set(err, RKIN_EINVAL, "subject ID %g (line %zu): "
                            "observation not found among its records",
                            sj->id, sj->obs_line[j]);
      }
      p->obs_slot[g] = p->rec_slot[p->rec_off[s] + r];
    }
  }
  free(vals);
  return RKIN_OK;
}

int pop_iov_setup(pop *p, rkin_err *err)
{
  size_t s;
  int col, rc;
  p->n_ei = p->n_eta;
  p->n_occ = 0;
  rc = iov_etas(p, err);
  if (rc) return rc;
  if (!p->n_iov) {
    p->Li = p->L;
    return RKIN_OK;
  }
  col = rkin_data_ncovariates(p->data) ? rkin_data_covariate_index(
          p->data, occ_name(p), NULL) : -1;
  if (col < 0)
    return rkin_err_set(err, RKIN_EINVAL, "population model: eta %s is an "
                        "occasion (IOV) eta, but dataset %s has no %s column "
                        "(an integer occasion index on every record)",
                        p->pm->eta_names ? p->pm->eta_names[p->iov_eta[0]]
                        : "?", rkin_data_name(p->data), occ_name(p));
  rc = occasions(p, col, err);
  if (rc) return rc;
  p->n_ei = p->n_eta + (p->n_occ - 1) * p->n_iov;
  if (p->n_ei > POP_MAX_ETA)
    return rkin_err_set(err, RKIN_EINVAL, "population model: %zu etas and "
                        "%zu occasion etas over %zu occasions make %zu etas "
                        "per subject (at most %d)", p->n_eta, p->n_iov,
                        p->n_occ, p->n_ei, POP_MAX_ETA);
  p->Li = calloc(p->n_ei * p->n_ei, sizeof *p->Li);
  if (!p->Li) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  /* parameters change at an occasion's start: per-record parameters */
  for (s = 0; s < p->n_subj; s++)
    if (p->occ_n[s] > 1 && p->pm->model) p->tv[s] = 1;
  return RKIN_OK;
}

void pop_iov_free(pop *p)
{
  if (p->Li != p->L) free(p->Li);
  p->Li = NULL;
  free(p->iov_idx);
  free(p->iov_eta);
  free(p->occ_n);
  free(p->occ_val);
  free(p->rec_off);
  free(p->rec_slot);
  free(p->obs_slot);
}

void pop_iov_expand(pop *p)
{
  size_t q = p->n_eta, n = p->n_ei, m = p->n_iov, a, b, k;
  if (p->Li == p->L) return;
  memset(p->Li, 0, n * n * sizeof *p->Li);
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) p->Li[a * n + b] = p->L[a * q + b];
  /* the occasion etas' rows and columns of L are the factor of their
   * Omega (no block mixes them with the others) */
  for (k = 1; k < p->n_occ; k++) {
    size_t base = q + (k - 1) * m;
    for (a = 0; a < m; a++)
      for (b = 0; b <= a; b++)
        p->Li[(base + a) * n + base + b] =
          p->L[p->iov_eta[a] * q + p->iov_eta[b]];
  }
}

int pop_iov_rec_slot(const pop *p, size_t s, size_t r)
{
  return p->n_iov ? p->rec_slot[p->rec_off[s] + r] : 0;
}

size_t pop_iov_slot(const pop_ws *w, size_t s)
{
  const pop *p = w->p;
  if (!p->n_iov) return 0;
  if (w->slot >= 0) return (size_t)w->slot;
  return (size_t)pop_iov_rec_slot(p, s, w->cov_rec >= 0
                                        ? (size_t)w->cov_rec : 0);
}

size_t pop_iov_int(const pop_ws *w, size_t s, size_t u)
{
  const pop *p = w->p;
  size_t k;
  if (!p->n_iov || p->iov_idx[u] < 0) return u;
  k = pop_iov_slot(w, s);
  return k ? p->n_eta + (k - 1) * p->n_iov + (size_t)p->iov_idx[u] : u;
}

void pop_iov_user_eta(const pop_ws *w, size_t s, const double *eta,
                      double *ue)
{
  const pop *p = w->p;
  size_t u;
  if (!p->n_iov) {      /* pop_iov_int is then the identity: no call */
    for (u = 0; u < p->n_eta; u++) ue[u] = eta[u];
    return;
  }
  for (u = 0; u < p->n_eta; u++) ue[u] = eta[pop_iov_int(w, s, u)];
}

int pop_iov_alloc_fit(const pop *p, rkin_popfit *fit)
{
  fit->n_occ = p->n_iov ? p->n_occ : 0;
  if (!p->n_iov) return RKIN_OK;
  fit->occ_value = calloc(p->n_subj * p->n_occ, sizeof(double));
  fit->occ_eta = calloc(p->n_subj * p->n_occ * p->n_eta, sizeof(double));
  fit->occ = calloc(p->n_obs + 1, sizeof(double));
  return fit->occ_value && fit->occ_eta && fit->occ ? RKIN_OK
                                                    : RKIN_ENOMEM;
}

void pop_iov_fill(const pop *p, rkin_popfit *fit)
{
  size_t q = p->n_eta, K = p->n_occ, s, k, u, j, g = 0;
  if (!p->n_iov) return;
  for (s = 0; s < p->n_subj; s++) {
    const double *e = p->eta_hat + s * p->n_ei;
    const rkin_data_subject *sj = rkin_data_subject_at(p->data, s);
    for (k = 0; k < K; k++) {
      double *o = fit->occ_eta + (s * K + k) * q;
      fit->occ_value[s * K + k] = p->occ_val[s * K + k];
      for (u = 0; u < q; u++)
        o[u] = k >= p->occ_n[s] ? NAN
               : p->iov_idx[u] < 0 || k == 0 ? e[u]
               : e[q + (k - 1) * p->n_iov + (size_t)p->iov_idx[u]];
    }
    for (j = 0; j < sj->n_obs; j++, g++)
      fit->occ[g] = p->occ_val[s * K + (size_t)p->obs_slot[g]];
  }
  /* shrinkage of an occasion eta over every (subject, occasion) */
  for (u = 0; u < q; u++) {
    double m = 0, v = 0;
    size_t n = 0;
    if (p->iov_idx[u] < 0) continue;
    for (s = 0; s < p->n_subj; s++)
      for (k = 0; k < p->occ_n[s]; k++) {
        m += fit->occ_eta[(s * K + k) * q + u];
        n++;
      }
    m /= (double)n;
    for (s = 0; s < p->n_subj; s++)
      for (k = 0; k < p->occ_n[s]; k++) {
        double d = fit->occ_eta[(s * K + k) * q + u] - m;
        v += d * d;
      }
    fit->eta_shrink[u] = n > 1 ? 1 - sqrt(v / (double)(n - 1))
                                     / sqrt(fit->omega[u * q + u])
                               : NAN;
  }
}
