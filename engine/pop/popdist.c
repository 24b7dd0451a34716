/* popdist.c - a population fit run by several processes at once (MPI
 * ranks, through the caller's gather / agree callbacks in
 * rkin_popfit_opts): each process works its block of subjects in every
 * pass; afterwards every process holds every subject's results.
 *
 * Why the per-subject values are gathered and not their partial sums
 * reduced (MPI_Allreduce): floating-point addition is not associative,
 * so sum(rank 0's subjects) + sum(rank 1's) differs in its last bits from
 * the one-process sum over all subjects in order, and differs again for
 * another rank count; MPI does not even promise every rank the same bits
 * from a reduction. The outer optimiser (BOBYQA) branches on those bits,
 * so the fit would take another path and the estimates would differ in
 * printed digits with the rank count. Gathering the n_subj terms (a few
 * bytes each) and summing them in subject order on every process
 * (pop_pass) gives every process, for any process count, exactly the
 * one-process numbers, and hence the same optimiser path everywhere. */
#include "pop/popest_impl.h"

#include <stdlib.h>
#include <string.h>

/* What an objective pass leaves per subject. */
typedef struct {
  double ofv, dofv;
  int status, modes;
} subj_out;

/* The buffer of every pass's gather, allocated with the fit: a process
 * short of memory fails at set-up, where the processes agree, and not
 * in a pass, where the others would wait for it. */
int pop_dist_setup(pop *p, rkin_err *err)
{
  if (!(p->dist_buf = calloc(p->n_subj ? p->n_subj : 1, sizeof(subj_out))))
    return rkin_err_set(err, RKIN_ENOMEM, "population fit: out of memory "
                        "(gathering subjects)");
  return RKIN_OK;
}

int pop_agree(const pop *p, int rc, rkin_err *err)
{
  rkin_err local;
  if (!p->opts.gather || !p->opts.agree) return rc;
  if (!err) {
    rkin_err_clear(&local);
    err = &local;
  }
  return p->opts.agree(rc, err, p->opts.dist_ud);
}

/* Items [lo, hi) of `item` bytes from each process's copy of `all`
 * (n_all items) into every process's `all`. */
static int gather_block(pop *p, void *all, size_t lo, size_t hi,
                        size_t n_all, size_t item, rkin_err *err)
{
  size_t len = (hi - lo) * item;
  char *mine = NULL;
  int rc;
  /* MPI forbids a send buffer inside the receive buffer: a copy */
  if (len && !(mine = malloc(len))) {
    /* still take part, sending nothing: the others see the sizes
     * disagree and fail as well, rather than wait for this process */
    p->opts.gather(NULL, 0, all, n_all * item, p->opts.dist_ud, err);
    return rkin_err_set(err, RKIN_ENOMEM, "population fit: out of memory "
                        "(gathering subjects)");
  }
  if (len) memcpy(mine, (char *)all + lo * item, len);
  rc = p->opts.gather(mine, len, all, n_all * item, p->opts.dist_ud, err);
  free(mine);
  return rc;
}

/* First observation after subject s's (n_obs for the last subject). */
static size_t obs_end(const pop *p, size_t s)
{
  return s + 1 < p->n_subj ? p->obs_off[s + 1] : p->n_obs;
}

int pop_dist_gather(pop *p, pop_task task, rkin_err *err)
{
  size_t lo = p->subj_lo, hi = p->subj_hi, ns = p->n_subj, s, k;
  size_t olo = lo < hi ? p->obs_off[lo] : 0;
  size_t ohi = lo < hi ? obs_end(p, hi - 1) : 0;
  subj_out *o = p->dist_buf;
  int rc, failed = 0;
  double *const obs_arr[] = {p->pred, p->ipred, p->res, p->iwres,
                             p->cwres};
  for (s = lo; s < hi; s++) {
    o[s].ofv = p->ofv_i[s];
    o[s].dofv = p->ebe_dofv[s];
    o[s].status = p->status[s];
    o[s].modes = p->ebe_modes[s];
  }
  rc = gather_block(p, o, lo, hi, ns, sizeof *o, err);
  for (s = 0; !rc && s < ns; s++) {
    p->ofv_i[s] = o[s].ofv;
    p->ebe_dofv[s] = o[s].dofv;
    p->status[s] = o[s].status;
    p->ebe_modes[s] = o[s].modes;
    failed |= o[s].status != 0;
  }
  if (rc) return rc;
  /* every process knows whether a subject failed: all take this branch
   * together, and pop_pass then reports the lowest one's message */
  if (failed)
    return gather_block(p, p->serr, lo, hi, ns, sizeof *p->serr, err);
  if (task != POP_TASK_DIAG) return RKIN_OK;
  /* the final pass: EBEs, individual parameters and diagnostics */
  /* n_ei: with IOV a subject's etas include each occasion's copies */
  rc = gather_block(p, p->eta_hat, lo, hi, ns, p->n_ei * sizeof(double),
                    err);
  if (!rc)
    rc = gather_block(p, p->psi_i, lo, hi, ns, p->n_psi * sizeof(double),
                      err);
  for (k = 0; !rc && k < sizeof obs_arr / sizeof *obs_arr; k++)
    rc = gather_block(p, obs_arr[k], olo, ohi, p->n_obs, sizeof(double),
                      err);
  return rc;
}
