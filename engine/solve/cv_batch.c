/* cv_batch.c - a batch of patients as one block-diagonal CVODES system
 * (cv_batch.h). Block k holds patient k's n states, then its nq running
 * integrals (the TIA quantities, appended as in cvodes_path.c: the rows
 * q' = y_i or output k, with unit or C(p) rows in the Jacobian and zero
 * rows for nonlinear outputs). The walk through the doses follows
 * solve.c's for the events covered: boluses at times in [t0, t1) add to
 * the states, infusion starts and ends change the input rates (also those
 * before t0), in the schedule's order at equal times; the integration
 * restarts at every dose time. */
#include "solve/cv_batch.h"
#include "solve/cv_block.h"
#include "solve/cvodes_path.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_config.h>

struct rkin_cvbatch {
  const rkin_model *m;
  size_t n, n_out, n_par;
  double rtol, atol;
  long max_steps;
  int linear, out_lin;
  SUNContext ctx;
  /* the CVODES system of nblk blocks of nb = n + nq equations */
  size_t nblk, nq, nb;
  void *mem;
  N_Vector y;
  SUNMatrix A;
  SUNLinearSolver ls;
  /* per patient, room for cap patients */
  size_t cap;
  const double *p;      /* the run's parameters, nblk rows */
  double *rate;         /* input rates, nblk x n */
  double *jac;          /* saved Jacobians, nblk x nb x nb column-major */
  double *C;            /* linear outputs' C(p), nblk x n_out x n */
  size_t *row, *col;    /* a linear model's compressed rows, per patient: */
  double *val;          /* row nblk x (nb + 1), col / val nblk x nb x n */
  double *q;            /* integrals, nblk x nq */
  const rkin_event **ev;   /* each patient's events (nev of them) */
  rkin_event **evbuf;      /* ... made with its dose modifiers */
  size_t *cap_ev;
  double *mods;         /* RKIN_MOD_N x n */
  /* scratch */
  double *work, *outv, *mjac, *zeros;
  /* per run */
  const int *tia;
  int need_out, use_mat, has_rate;
};

static void release(rkin_cvbatch *b)
{
  if (b->mem) CVodeFree(&b->mem);
  if (b->ls) SUNLinSolFree(b->ls);
  if (b->A) SUNMatDestroy(b->A);
  if (b->y) N_VDestroy(b->y);
  b->ls = NULL;
  b->A = NULL;
  b->y = NULL;
  b->nblk = 0;
}

static void free_blocks(rkin_cvbatch *b)
{
  size_t k;
  for (k = 0; b->evbuf && k < b->cap; k++) free(b->evbuf[k]);
  free(b->evbuf);
  free(b->cap_ev);
  free(b->ev);
  free(b->rate);
  free(b->jac);
  free(b->C);
  free(b->row);
  free(b->col);
  free(b->val);
  free(b->q);
  b->evbuf = NULL;
  b->cap_ev = NULL;
  b->ev = NULL;
  b->rate = b->jac = b->C = b->val = b->q = NULL;
  b->row = b->col = NULL;
  b->cap = 0;
}

void rkin_cvbatch_free(rkin_cvbatch *b)
{
  if (!b) return;
  release(b);
  free_blocks(b);
  if (b->ctx) SUNContext_Free(&b->ctx);
  free(b->mods);
  free(b->work);
  free(b->outv);
  free(b->mjac);
  free(b->zeros);
  free(b);
}

const char *rkin_cvbatch_refusal(const rkin_model *m,
                                 const rkin_solve_opts *o,
                                 const rkin_dosing *d)
{
  size_t i, nr = d ? rkin_dosing_nrecords(d) : 0;
  if (o->path == RKIN_PATH_EXACT
      || (o->path == RKIN_PATH_AUTO && rkin_model_is_linear(m)
          && !rkin_model_events(m)))
    return "the exact path";
  if (rkin_model_events(m)) return "a model with events";
  if (rkin_model_nswitches(m)) return "a model with conditions";
  if (!rkin_model_nstates(m)) return "a model without states";
  if (rkin_cvpath_want_sparse(m, o->jacobian))
    return "a sparse Newton matrix";
  for (i = 0; i < nr; i++) {
    const rkin_dose *r = rkin_dosing_record(d, i);
    if (r->ss || r->evid == 3 || r->evid == 4)
      return "a steady-state or reset record";
  }
  return NULL;
}

rkin_cvbatch *rkin_cvbatch_new(const rkin_model *m, const rkin_solve_opts *o,
                               rkin_err *err)
{
  rkin_cvbatch *b = calloc(1, sizeof *b);
  size_t n = rkin_model_nstates(m), nw = rkin_model_nwork(m);
  size_t no = rkin_model_noutputs(m);
  int flag;
  if (!b) goto nomem;
  b->m = m;
  b->n = n;
  b->n_out = no;
  b->n_par = rkin_model_nparams(m);
  b->rtol = o->rtol;
  b->atol = o->atol;
  b->max_steps = o->max_steps;
  b->linear = rkin_model_is_linear(m);
  b->out_lin = no && rkin_model_outputs_linear(m);
  b->mods = malloc(RKIN_MOD_N * (n ? n : 1) * sizeof *b->mods);
  b->work = malloc((nw ? nw : 1) * sizeof *b->work);
  b->outv = malloc((no ? no : 1) * sizeof *b->outv);
  b->mjac = malloc((n ? n * n : 1) * sizeof *b->mjac);
  b->zeros = calloc(n ? n : 1, sizeof *b->zeros);
  if (!b->mods || !b->work || !b->outv || !b->mjac || !b->zeros)
    goto nomem;
#if SUNDIALS_VERSION_MAJOR >= 7
  flag = SUNContext_Create(SUN_COMM_NULL, &b->ctx);
#else
  flag = SUNContext_Create(NULL, &b->ctx);
#endif
  if (flag) goto nomem;
  return b;
nomem:
  rkin_cvbatch_free(b);
  rkin_err_set(err, RKIN_ENOMEM, "out of memory creating a batch solver "
               "for model '%s'", rkin_model_name(m));
  return NULL;
}

/* Room for nblk patients with nq integrals each. */
static int grow(rkin_cvbatch *b, size_t nblk, size_t nq)
{
  size_t n = b->n, nb = n + nq, k;
  if (nblk <= b->cap && nb <= b->nb && b->jac) return RKIN_OK;
  free_blocks(b);
  b->rate = malloc(nblk * n * sizeof *b->rate);
  b->jac = malloc(nblk * nb * nb * sizeof *b->jac);
  b->C = malloc(nblk * (b->n_out ? b->n_out * n : 1) * sizeof *b->C);
  b->row = malloc(nblk * (nb + 1) * sizeof *b->row);
  b->col = malloc(nblk * nb * n * sizeof *b->col);
  b->val = malloc(nblk * nb * n * sizeof *b->val);
  b->q = malloc(nblk * (nq ? nq : 1) * sizeof *b->q);
  b->ev = calloc(nblk, sizeof *b->ev);
  b->evbuf = calloc(nblk, sizeof *b->evbuf);
  b->cap_ev = calloc(nblk, sizeof *b->cap_ev);
  if (!b->rate || !b->jac || !b->C || !b->row || !b->col || !b->val
      || !b->q || !b->ev || !b->evbuf || !b->cap_ev) {
    free_blocks(b);
    return RKIN_ENOMEM;
  }
  for (k = 0; k < nblk; k++) b->ev[k] = NULL;
  b->cap = nblk;
  b->nb = nb;   /* the arrays' block size (the system's is set by build) */
  return RKIN_OK;
}

/* d/dt of patient k's integrals (block yb, into qd). */
static int tia_rhs(rkin_cvbatch *b, size_t k, double t, const double *yb,
                   double *qd)
{
  size_t j;
  if (b->need_out
      && rkin_model_outputs(b->m, t, yb, b->p + k * b->n_par, b->outv,
                            b->work))
    return -1;
  for (j = 0; j < b->nq; j++) {
    size_t idx = (size_t)b->tia[j];
    qd[j] = idx < b->n ? yb[idx] : b->outv[idx - b->n];
  }
  return 0;
}

/* The batch's right-hand side. A non-finite derivative is fatal (-1): a
 * smaller step cannot cure it, and the caller reruns the patients one by
 * one to name the one and its equation. */
static int rhs(sunrealtype t, N_Vector yv, N_Vector ydv, void *ud)
{
  rkin_cvbatch *b = ud;
  const double *y = NV_DATA_S(yv);
  double *yd = NV_DATA_S(ydv);
  size_t n = b->n, nb = b->nq + n, k, i, j;
  for (k = 0; k < b->nblk; k++) {
    const double *yb = y + k * nb, *rt = b->rate + k * n;
    double *db = yd + k * nb;
    if (b->use_mat) {
      const size_t *row = b->row + k * (nb + 1), *col = b->col + k * nb * n;
      const double *val = b->val + k * nb * n;
      double chk = 0;
      for (i = 0; i < nb; i++) {
        double s = 0;
        for (j = row[i]; j < row[i + 1]; j++) s += val[j] * yb[col[j]];
        db[i] = s;
      }
      for (i = 0; b->has_rate && i < n; i++) db[i] += rt[i];
      for (i = 0; i < n; i++) chk += db[i] - db[i];   /* NaN if any is */
      if (chk != 0) return -1;
      continue;
    }
    if (rkin_model_rhs(b->m, t, yb, b->p + k * b->n_par, db, b->work))
      return -1;
    for (i = 0; b->has_rate && i < n; i++) db[i] += rt[i];
    if (b->nq && tia_rhs(b, k, t, yb, db + n)) return -1;
  }
  return 0;
}

/* Patient k's full Jacobian (nb x nb, column-major) at its block yb: the
 * model's, the integrals' rows, zero integral columns. */
static int block_jac(rkin_cvbatch *b, size_t k, double t, const double *yb)
{
  size_t n = b->n, nb = b->nb, i, j;
  double *J = b->jac + k * nb * nb;
  const double *C = b->C + k * (b->n_out ? b->n_out * n : 1);
  if (rkin_model_jac(b->m, t, yb, b->p + k * b->n_par, b->mjac, b->work))
    return -1;
  memset(J, 0, nb * nb * sizeof *J);
  for (j = 0; j < n; j++) memcpy(J + j * nb, b->mjac + j * n, n * sizeof *J);
  for (i = 0; i < b->nq; i++) {
    size_t idx = (size_t)b->tia[i];
    if (idx < n)
      J[n + i + idx * nb] = 1.0;
    else if (b->out_lin)
      for (j = 0; j < n; j++) J[n + i + j * nb] = C[(idx - n) * n + j];
  }
  return 0;
}

/* M = I - gamma J block by block; J re-evaluated when CVODES says it is
 * stale (never for a linear model: exact and constant). */
static int linsys(sunrealtype t, N_Vector yv, N_Vector fy, SUNMatrix M,
                  sunbooleantype jok, sunbooleantype *jcur,
                  sunrealtype gamma, void *ud, N_Vector t1, N_Vector t2,
                  N_Vector t3)
{
  rkin_cvbatch *b = ud;
  size_t nb = b->nb, k, i;
  (void)fy; (void)t1; (void)t2; (void)t3;
  *jcur = b->use_mat ? SUNTRUE : SUNFALSE;
  if (!b->use_mat && !jok) {
    for (k = 0; k < b->nblk; k++)
      if (block_jac(b, k, t, NV_DATA_S(yv) + k * nb)) return -1;
    *jcur = SUNTRUE;
  }
  for (k = 0; k < b->nblk; k++) {
    double *Mk = rkin_block_matrix_block(M, k);
    const double *J = b->jac + k * nb * nb;
    for (i = 0; i < nb * nb; i++) Mk[i] = -gamma * J[i];
    for (i = 0; i < nb; i++) Mk[i * (nb + 1)] += 1.0;
  }
  return 0;
}

/* Never called (linsys builds the matrix): set so that CVODES does not
 * look for a difference-quotient Jacobian of a custom matrix. */
static int no_jac(sunrealtype t, N_Vector y, N_Vector fy, SUNMatrix J,
                  void *ud, N_Vector t1, N_Vector t2, N_Vector t3)
{
  (void)t; (void)y; (void)fy; (void)J; (void)ud; (void)t1; (void)t2;
  (void)t3;
  return -1;
}

/* 1 / (rtol |y| + atol), as cvodes_path.c's weights. */
static int weights(N_Vector yv, N_Vector wv, void *ud)
{
  const rkin_cvbatch *b = ud;
  const double *y = NV_DATA_S(yv);
  double *w = NV_DATA_S(wv);
  size_t i, len = (size_t)NV_LENGTH_S(yv);
  for (i = 0; i < len; i++) w[i] = 1.0 / (b->rtol * fabs(y[i]) + b->atol);
  return 0;
}

/* The engine never prints; a failed batch is rerun patient by patient,
 * whose messages explain it. */
static void quiet(int code, const char *module, const char *function,
                  char *msg, void *ud)
{
  (void)code; (void)module; (void)function; (void)msg; (void)ud;
}

/* The CVODES system for nblk patients with nq integrals each. */
static int build(rkin_cvbatch *b, size_t nblk, size_t nq, rkin_err *err)
{
  size_t nb = b->n + nq;
  int flag;
  release(b);
  b->y = rkin_block_vector(nblk, nb, b->ctx);
  b->A = rkin_block_matrix(nblk, nb, b->ctx);
  b->ls = rkin_block_lu(nblk, nb, b->ctx);
  b->mem = CVodeCreate(CV_BDF, b->ctx);
  if (!b->y || !b->A || !b->ls || !b->mem) {
    release(b);
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for a batch of "
                        "%zu patients of model '%s'", nblk,
                        rkin_model_name(b->m));
  }
  flag = CVodeInit(b->mem, rhs, 0.0, b->y);
  if (!flag) flag = CVodeWFtolerances(b->mem, weights);
  if (!flag) flag = CVodeSetLinearSolver(b->mem, b->ls, b->A);
  if (!flag) flag = CVodeSetJacFn(b->mem, no_jac);
  if (!flag) flag = CVodeSetLinSysFn(b->mem, linsys);
  if (!flag) flag = CVodeSetMaxNumSteps(b->mem, b->max_steps);
  if (!flag) flag = CVodeSetErrHandlerFn(b->mem, quiet, b);
  if (!flag) flag = CVodeSetUserData(b->mem, b);
  if (!flag && b->linear) flag = CVodeSetJacEvalFrequency(b->mem, 1000000);
  if (flag) {
    release(b);
    return rkin_err_set(err, RKIN_ESOLVER, "CVODES set-up of a batch of %zu "
                        "patients failed (flag %d)", nblk, flag);
  }
  b->nblk = nblk;
  b->nq = nq;
  return RKIN_OK;
}

/* A linear model's system for patient k: its Jacobian (at y = 0, exact
 * and constant) and the nonzeros of its first n columns row by row. */
static int linear_block(rkin_cvbatch *b, size_t k)
{
  size_t n = b->n, nb = b->nb, i, j, nz = 0;
  size_t *row = b->row + k * (nb + 1), *col = b->col + k * nb * n;
  double *val = b->val + k * nb * n;
  const double *J = b->jac + k * nb * nb;
  if (block_jac(b, k, 0.0, b->zeros)) return -1;
  for (i = 0; i < nb; i++) {
    row[i] = nz;
    for (j = 0; j < n; j++)
      if (J[i + j * nb] != 0) {
        col[nz] = j;
        val[nz++] = J[i + j * nb];
      }
  }
  row[nb] = nz;
  return 0;
}

/* Each patient's events: the schedule's own, or made with its dose
 * modifiers; UNEVEN unless they share their times, kinds and
 * compartments (amounts may differ) and are all boluses and infusions. */
static int patient_events(rkin_cvbatch *b, const rkin_dosing *d,
                          size_t *nev)
{
  size_t k, e, n0 = 0;
  int mods = d && (rkin_model_has_dose_mods(b->m)
                   || rkin_dosing_needs_model(d));
  for (k = 0; k < b->nblk; k++) {
    size_t ne = 0;
    if (!d) {
      b->ev[k] = NULL;
    } else if (!mods) {
      b->ev[k] = rkin_dosing_events(d);
      ne = rkin_dosing_nevents(d);
    } else {
      rkin_err e2;
      if (rkin_model_dose_mods(b->m, b->p + k * b->n_par, b->mods, &e2)
          || rkin_dosing_expand(d, b->mods, b->n, &b->evbuf[k],
                                &b->cap_ev[k], &ne, &e2))
        return RKIN_CVBATCH_UNEVEN;
      b->ev[k] = b->evbuf[k];
    }
    if (k == 0) n0 = ne;
    if (ne != n0) return RKIN_CVBATCH_UNEVEN;
    for (e = 0; e < ne; e++) {
      const rkin_event *a = &b->ev[k][e], *z = &b->ev[0][e];
      if (a->kind != RKIN_EV_BOLUS && a->kind != RKIN_EV_INF_ON
          && a->kind != RKIN_EV_INF_OFF)
        return RKIN_CVBATCH_UNEVEN;
      if (a->time != z->time || a->kind != z->kind || a->cmt != z->cmt)
        return RKIN_CVBATCH_UNEVEN;
    }
  }
  *nev = n0;
  return RKIN_OK;
}

/* Event e of every patient (before_t0: its effect on the rates only);
 * a rate back to (rounding of) zero becomes 0, as in solve.c. */
static void apply(rkin_cvbatch *b, size_t e, double *y, int before_t0)
{
  size_t k;
  for (k = 0; k < b->nblk; k++) {
    const rkin_event *ev = &b->ev[k][e];
    double *r = b->rate + k * b->n + ev->cmt;
    if (ev->kind == RKIN_EV_BOLUS) {
      if (!before_t0) y[k * b->n + (size_t)ev->cmt] += ev->value;
    } else if (ev->kind == RKIN_EV_INF_ON) {
      *r += ev->value;
    } else {
      *r -= ev->value;
      if (ev->value > 0 && fabs(*r) <= 1e-12 * ev->value) *r = 0;
    }
  }
}

static int too_close(double a, double b)
{
  return b - a <= 16 * DBL_EPSILON * fmax(fabs(a), fabs(b));
}

/* Integrates every patient from ts to te (states y, nblk x n). */
static int advance(rkin_cvbatch *b, double ts, double te, double *y,
                   long *steps, rkin_err *err)
{
  double *Y = NV_DATA_S(b->y);
  size_t n = b->n, nb = b->nb, k, i;
  sunrealtype tret;
  long nst = 0;
  int flag;
  if (too_close(ts, te)) return RKIN_OK;
  b->has_rate = 0;
  for (i = 0; i < b->nblk * n; i++)
    if (b->rate[i] != 0) b->has_rate = 1;
  for (k = 0; k < b->nblk; k++) {
    memcpy(Y + k * nb, y + k * n, n * sizeof *Y);
    memset(Y + k * nb + n, 0, b->nq * sizeof *Y);
  }
  flag = CVodeReInit(b->mem, ts, b->y);
  if (!flag) flag = CVodeSetStopTime(b->mem, te);
  if (!flag) flag = CVode(b->mem, te, b->y, &tret, CV_NORMAL);
  CVodeGetNumSteps(b->mem, &nst);
  *steps += nst;
  if (flag < 0) {
    char *name = CVodeGetReturnFlagName(flag);
    int rc = rkin_err_set(err, RKIN_ESOLVER, "a batch of %zu patients of "
                          "model '%s' failed at t <= %g h (%s)", b->nblk,
                          rkin_model_name(b->m), te, name ? name : "?");
    free(name);
    return rc;
  }
  for (k = 0; k < b->nblk; k++) {
    memcpy(y + k * n, Y + k * nb, n * sizeof *y);
    for (i = 0; i < b->nq; i++) b->q[k * b->nq + i] += Y[k * nb + n + i];
  }
  return RKIN_OK;
}

int rkin_cvbatch_run(rkin_cvbatch *b, size_t nblk, const double *params,
                     double *y, const rkin_dosing *d, double t0, double t1,
                     const int *tia, size_t n_tia, double *tia_out,
                     size_t tia_stride, long *steps, rkin_err *err)
{
  size_t n = b->n, nev = 0, e = 0, k, i;
  double t = t0;
  int rc;
  *steps = 0;
  for (i = 0; i < nblk * b->n_par; i++)
    if (!isfinite(params[i])) return RKIN_CVBATCH_UNEVEN;
  for (i = 0; i < nblk * n; i++)
    if (!isfinite(y[i])) return RKIN_CVBATCH_UNEVEN;
  if (grow(b, nblk, n_tia))
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for a batch of "
                        "%zu patients", nblk);
  if ((nblk != b->nblk || n_tia != b->nq) && (rc = build(b, nblk, n_tia, err)))
    return rc;
  b->nb = n + n_tia;
  b->p = params;
  b->tia = tia;
  b->need_out = 0;
  for (i = 0; i < n_tia; i++)
    if ((size_t)tia[i] >= n) b->need_out = 1;
  b->use_mat = b->linear && (!b->need_out || b->out_lin);
  if ((rc = patient_events(b, d, &nev))) return rc;
  for (k = 0; k < nblk; k++) {
    if (b->need_out && b->out_lin
        && (rc = rkin_model_output_matrix(b->m, params + k * b->n_par,
                                          b->C + k * b->n_out * n, err)))
      return rc;
    if (b->use_mat && linear_block(b, k))
      return rkin_err_set(err, RKIN_ENONFINITE, "a Jacobian of model '%s' "
                          "is not finite", rkin_model_name(b->m));
  }
  memset(b->rate, 0, nblk * n * sizeof *b->rate);
  memset(b->q, 0, nblk * (n_tia ? n_tia : 1) * sizeof *b->q);
  for (; e < nev && b->ev[0][e].time < t0; e++) apply(b, e, y, 1);
  for (;;) {
    double te;
    for (; e < nev && b->ev[0][e].time <= t && b->ev[0][e].time < t1; e++)
      apply(b, e, y, 0);
    if (t >= t1) break;
    te = e < nev && b->ev[0][e].time < t1 ? b->ev[0][e].time : t1;
    if ((rc = advance(b, t, te, y, steps, err))) return rc;
    t = te;
  }
  for (k = 0; k < nblk; k++)
    memcpy(tia_out + k * tia_stride, b->q + k * n_tia,
           n_tia * sizeof *tia_out);
  return RKIN_OK;
}
