/* datasim.c - predictions at a dataset's observation records. */
#include "pop/datasim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rkin_data_predict(rkin_solver *s, const rkin_model *m,
                      const rkin_data_subject *sj, const double *params,
                      double *f, rkin_err *err)
{
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
  free(y);
  free(out);
  return rc;
}
