/* datasim.c - predictions at a dataset's observation records. */
#include "pop/datasim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rkin_data_pwbuf_free(rkin_data_pwbuf *b)
{
  if (!b) return;
  free(b->t);
  free(b->p);
  free(b->rp);
  free(b->dir);
  free(b->rd);
  memset(b, 0, sizeof *b);
}

static int grow(double **a, size_t *cap, size_t need)
{
  double *q;
  if (need <= *cap) return RKIN_OK;
  q = realloc(*a, need * sizeof *q);
  if (!q) return RKIN_ENOMEM;
  *a = q;
  *cap = need;
  return RKIN_OK;
}

int rkin_data_segment_params(const rkin_data_subject *sj, size_t g,
                             const double *rec_par, size_t np,
                             const double *rec_dir, size_t n_dir,
                             rkin_solve_req *rq, const double **dir0,
                             rkin_data_pwbuf *buf, rkin_err *err)
{
  size_t r, a, b, n_pw = 0, nd = rec_dir ? n_dir * np : 0, nrec;
  int locf = sj->cov_locf;
  for (a = 0; a < sj->n_rec && (size_t)sj->rec_seg[a] != g; a++) {}
  for (b = a; b < sj->n_rec && (size_t)sj->rec_seg[b] == g; b++) {}
  rq->n_pw = 0;
  rq->pw_locf = locf;
  rq->rec_params = NULL;
  rq->pw_dir = NULL;
  rq->rec_dir = NULL;
  if (a == b) return RKIN_OK;   /* no records: the caller's params */
  nrec = rkin_dosing_nrecords(sj->seg[g].dosing);
  if (grow(&buf->t, &buf->cap_t, b - a) || grow(&buf->p, &buf->cap_p,
                                                (b - a) * np)
      || grow(&buf->rp, &buf->cap_rp, (nrec ? nrec : 1) * np)
      || (nd && grow(&buf->dir, &buf->cap_dir, (b - a) * nd))
      || (nd && grow(&buf->rd, &buf->cap_rd, (nrec ? nrec : 1) * nd)))
    return rkin_err_set(err, RKIN_ENOMEM, "subject ID %g: out of memory "
                        "for time-varying parameters", sj->id);
  rq->params = rec_par + a * np;
  if (dir0) *dir0 = nd ? rec_dir + a * nd : NULL;
  for (r = a; r < b; r++) {
    const double *pr = rec_par + r * np;
    if (sj->rec_dose[r] >= 0 && (size_t)sj->rec_dose[r] < nrec) {
      memcpy(buf->rp + (size_t)sj->rec_dose[r] * np, pr, np * sizeof *pr);
      if (nd)   /* the directions its dose modifiers move along */
        memcpy(buf->rd + (size_t)sj->rec_dose[r] * nd, rec_dir + r * nd,
               nd * sizeof *pr);
    }
    if (r == a || !memcmp(pr, pr - np, np * sizeof *pr)) continue;
    /* NOCB: from the previous record on, the interval ending here takes
     * this record's values; LOCF: from this record on. */
    buf->t[n_pw] = locf ? sj->rec_time[r] : sj->rec_time[r - 1];
    memcpy(buf->p + n_pw * np, pr, np * sizeof *pr);
    if (nd) memcpy(buf->dir + n_pw * nd, rec_dir + r * nd, nd * sizeof *pr);
    n_pw++;
  }
  rq->n_pw = n_pw;
  rq->pw_t = buf->t;
  rq->pw_params = buf->p;
  rq->pw_dir = nd && n_pw ? buf->dir : NULL;
  if (nrec) rq->rec_params = buf->rp;
  if (nrec && nd) rq->rec_dir = buf->rd;
  return RKIN_OK;
}

int rkin_data_predict(rkin_solver *s, const rkin_model *m,
                      const rkin_data_subject *sj, const double *params,
                      double *f, rkin_err *err)
{
  return rkin_data_predict_rec(s, m, sj, params, NULL, f, err);
}

int rkin_data_predict_rec(rkin_solver *s, const rkin_model *m,
                          const rkin_data_subject *sj, const double *params,
                          const double *rec_par, double *f, rkin_err *err)
{
  rkin_data_pwbuf pw = {0};
  size_t ns = rkin_model_nstates(m), no = rkin_model_noutputs(m);
  size_t g, k, most = 0;
  double *y = NULL, *out = NULL;
  int rc = RKIN_OK;
  for (g = 0; g < sj->n_seg; g++)
    if (sj->seg[g].n_obs > most) most = sj->seg[g].n_obs;
  if (!most) return RKIN_OK;
  y = malloc(most * ns * sizeof *y);
  out = no ? malloc(most * no * sizeof *out) : NULL;
  if (!y || (no && !out)) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "subject ID %g: out of memory",
                      sj->id);
    goto done;
  }
  for (g = 0; g < sj->n_seg; g++) {
    const rkin_data_segment *sg = &sj->seg[g];
    rkin_solve_req rq;
    rkin_solve_res rs;
    if (!sg->n_obs) continue;
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    rq.t0 = sg->t0;
    rq.t1 = sj->time[sg->first_obs + sg->n_obs - 1];
    rq.params = params;
    rq.dosing = sg->dosing;
    rq.times = sj->time + sg->first_obs;
    rq.n_times = sg->n_obs;
    rq.out_rec = sj->obs_rec + sg->first_obs;
    rq.events_at_t1 = 1;
    if (rec_par
        && (rc = rkin_data_segment_params(sj, g, rec_par,
                                          rkin_model_nparams(m), NULL, 0,
                                          &rq, NULL, &pw, err)))
      goto done;
    rs.y = y;
    rs.out = out;
    rc = rkin_solver_run(s, &rq, &rs, err);
    if (rc) {
      rkin_err_prefix(err, "subject ID %g: ", sj->id);
      goto done;
    }
    for (k = 0; k < sg->n_obs; k++) {
      size_t r = sg->first_obs + k;
      int o = sj->output ? sj->output[r] : -1;
      double v;
      if (o >= 0 && (size_t)o < no) v = out[k * no + (size_t)o];
      else if (sj->cmt[r] >= 0 && (size_t)sj->cmt[r] < ns)
        v = y[k * ns + (size_t)sj->cmt[r]];
      else v = no ? out[k * no] : y[k * ns];
      if (!isfinite(v)) {
        rc = rkin_err_set(err, RKIN_ENONFINITE, "subject ID %g: prediction "
                          "at time %g h (line %zu) is not finite", sj->id,
                          sj->time[r], sj->obs_line[r]);
        goto done;
      }
      f[r] = v;
    }
  }
done:
  rkin_data_pwbuf_free(&pw);
  free(y);
  free(out);
  return rc;
}
