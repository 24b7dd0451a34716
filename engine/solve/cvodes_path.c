/* cvodes_path.c - integrating a model with CVODES (BDF, exact Jacobian:
 * dense LU, or compressed-column with KLU for large models). One workspace per solver, reused across runs: nothing is
 * allocated per run once the number of TIA quantities is stable.
 *
 * The TIA quantities are integrated as extra ODE states appended to the
 * model's (q_k' = y_i or output k, same tolerances), not as CVODES
 * quadratures: the result is the same integral under the same error
 * control, but CVODES then keeps one Nordsieck history instead of two, and
 * on a 7-state model that halves the per-step vector work (the reference
 * PBPK programs the tests compare with integrate AUC the same way).
 *
 * A model with conditions on states or time (rk.ifelse) hands its
 * comparisons to CVODES as root functions: CVODES returns at the switch
 * and the run restarts there with a fresh history (run_to). The right-hand
 * side is not mode-locked: between restarts it follows the condition's
 * current value, which keeps every branch inside its own domain (an
 * ifelse guarding a log); the error test resolves the step that crosses
 * the switch, and the restart removes the kink from the BDF history. */
#include "solve/cvodes_path.h"
#include "solve/cv_linsol.h"
#include "solve/cv_nvector.h"
#include "solve/mevent_run.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_config.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunlinsol/sunlinsol_klu.h>
#include <sunmatrix/sunmatrix_dense.h>
#include <sunmatrix/sunmatrix_sparse.h>

/* The data of the serial vectors this file creates; the macro spares the
 * per-call dispatch of N_VGetArrayPointer in the callbacks. */
#define DATA(v) NV_DATA_S(v)

/* What a callback found non-finite, so the run can explain it. */
typedef enum {
  BAD_NONE, BAD_RHS, BAD_JAC, BAD_OUT, BAD_SWITCH, BAD_SENS
} bad_kind;

struct rkin_cvpath {
  const rkin_model *m;
  size_t n, n_out, n_par;
  size_t n_sw;       /* switching surfaces (root functions) of the model */
  /* Model events: their trigger comparisons are root functions after the
   * switches (n_evr of them), and mev fires and executes them. */
  size_t n_evr;
  rkin_mevrun *mev;
  N_Vector yprobe;   /* the state just past a root */
  N_Vector yq_f, yq_f2;  /* the system's right-hand side before and after
                            an event instant (integral sensitivities) */
  double rtol, atol;
  long max_steps;
  SUNContext ctx;
  /* The CVODES system: n model states, then nq running integrals. Built
   * for one nq and rebuilt only when a run asks for another count. */
  size_t nq, nsys;
  int built;
  void *mem;
  N_Vector y;
  SUNMatrix J;
  SUNLinearSolver ls;
  double *work;      /* model scratch */
  double *outv;      /* output values for output TIAs */
  double *mjac;      /* the model's n x n Jacobian, column-major */
  double *C;         /* C(p) of linear outputs, n_out x n row-major */
  double *jac;       /* saved nsys x nsys Jacobian, column-major */
  double *jac_p;     /* a linear model's: the parameters it belongs to */
  int *jac_tia;      /* ... the quantities */
  size_t jac_nq;     /* ... and their count */
  size_t cap_q;      /* capacity of jac, jac_tia, row, col, val */
  int jac_const, jac_valid, out_lin;
  /* A linear model's system rows in compressed form, taken from jac: the
   * right-hand side is then a sparse product, cheaper than the tape. */
  int use_mat;
  size_t *row;       /* nsys + 1 row starts */
  size_t *col;       /* column of each nonzero */
  double *val;       /* its value */
  double *zeros;     /* n zeros: where a linear Jacobian is evaluated */
  /* per run */
  const double *p;
  const double *rate;
  int has_rate;
  const int *tia;
  int need_out;
  /* Forward sensitivities (rkin_cvpath_sens): ns directions, CVODES'
   * sensitivity vectors of the nsys equations, the directions in
   * parameter space, the caller's S (n x ns row-major), input-rate
   * derivatives (n x ns or NULL) and TIA sensitivities (nq x ns). */
  size_t ns, ns_built, cap_sw;
  int sens_on;
  int sens_held;     /* paused by rkin_cvpath_sens_hold */
  double *keep_S, *keep_dq;         /* the run's, while redirected */
  const double *keep_drate;
  N_Vector *yS;
  const double *sdir;
  double *S, *dq;
  const double *drate;
  double *sw;        /* fp (n x ns), op (n_out x ns), G (n_out x (n+np)) */
  /* at events: dtau (ns), a root's derivatives (n + np + 1), f (nsys)
   * before and after */
  double *sw_dtau, *sw_droot, *sw_f, *sw_f2;
  /* first failure inside a callback */
  bad_kind bad;
  int bad_index;
  double bad_t;
  char cvmsg[256];   /* last CVODES error text */
  /* Sparse form (KLU): the system's compressed-column pattern is the
   * model's Jacobian pattern plus the diagonal (for I - gamma J) in the
   * first n columns, each followed by one entry per integral row (a
   * TIA row may use any state: unit or C(p) row, fixed per count nq),
   * then the integrals' diagonal. */
  int sparse;
  size_t snz;        /* system nonzeros */
  sunindextype *sp_ptr, *sp_row;   /* the pattern (nsys + 1, snz) */
  double *sp_val;    /* saved system Jacobian, that order */
  double *mval;      /* the model's nonzeros (rkin_model_jac_sparse) */
  size_t *mpos;      /* ... and where each goes in sp_val */
  size_t *diag;      /* position of (i, i), nsys */
  size_t *qpos;      /* position of (n, j), the first integral row, j < n */
};

static int report(rkin_cvpath *c, int flag, rkin_err *err);

/* The model's switching surfaces as CVODES root functions: CVODES stops
 * where one changes sign, and the run restarts there (a discontinuity in
 * the right-hand side must not lie inside a BDF step's history). */
static int roots(sunrealtype t, N_Vector yv, sunrealtype *g, void *ud)
{
  rkin_cvpath *c = ud;
  int rc = rkin_model_switches(c->m, t, DATA(yv), c->p, g, c->work);
  if (!rc && c->n_evr) {
    rc = rkin_mevents_roots(rkin_model_events(c->m), t, DATA(yv), c->p,
                            g + c->n_sw, c->work);
    if (rc) rc -= (int)c->n_sw;
  }
  if (rc) {
    c->bad = BAD_SWITCH;
    c->bad_index = -1 - rc;
    c->bad_t = t;
    return -1;
  }
  return 0;
}

/* d/dt of the integrals: the integrated states and outputs. */
static int tia_rhs(rkin_cvpath *c, double t, const double *y, double *qd)
{
  size_t k;
  if (c->need_out) {
    int rc = rkin_model_outputs(c->m, t, y, c->p, c->outv, c->work);
    if (rc) {
      c->bad = BAD_OUT;
      c->bad_index = -1 - rc;
      c->bad_t = t;
      return -1;
    }
  }
  for (k = 0; k < c->nq; k++) {
    size_t idx = (size_t)c->tia[k];
    qd[k] = idx < c->n ? y[idx] : c->outv[idx - c->n];
  }
  return 0;
}

/* y' = G y + r for a linear model (G: the compressed rows). */
static int rhs_linear(rkin_cvpath *c, double t, const double *y, double *yd)
{
  const size_t *row = c->row, *col = c->col;
  const double *val = c->val;
  double chk = 0.0;
  size_t i, k;
  for (i = 0; i < c->nsys; i++) {
    double s = 0.0;
    for (k = row[i]; k < row[i + 1]; k++) s += val[k] * y[col[k]];
    yd[i] = s;
  }
  if (c->has_rate)
    for (i = 0; i < c->n; i++) yd[i] += c->rate[i];
  /* x - x is 0 for a finite x and NaN otherwise: one test per call, the
   * equation is looked for only when it fails. */
  for (i = 0; i < c->n; i++) chk += yd[i] - yd[i];
  if (chk != 0.0)
    for (i = 0; i < c->n; i++)
      if (!isfinite(yd[i])) {
        c->bad = BAD_RHS;
        c->bad_index = (int)i;
        c->bad_t = t;
        return -1;
      }
  return 0;
}

static int rhs(sunrealtype t, N_Vector yv, N_Vector ydv, void *ud)
{
  rkin_cvpath *c = ud;
  const double *y = DATA(yv);
  double *yd = DATA(ydv);
  size_t i;
  int rc;
  if (c->use_mat) return rhs_linear(c, t, y, yd);
  rc = rkin_model_rhs(c->m, t, y, c->p, yd, c->work);
  if (rc) {
    /* Fatal, not recoverable: a smaller step cannot cure a NaN, and the
     * user must be told which equation produced it. */
    c->bad = BAD_RHS;
    c->bad_index = -1 - rc;
    c->bad_t = t;
    return -1;
  }
  if (c->has_rate)
    for (i = 0; i < c->n; i++) yd[i] += c->rate[i];
  return c->nq ? tia_rhs(c, t, y, yd + c->n) : 0;
}

/* The sensitivity right-hand side, all directions at once: s_d' = J s_d
 * + (df/dp) dir_d + drate_d for the model's states (J and df/dp from the
 * model's symbolic derivatives), and for an integral of state i or output
 * k: s_i, or (d out_k / dy) s_d + (d out_k / dp) dir_d. Exact, also for
 * the integrals of nonlinear outputs whose Newton rows are approximate. */
static int sens_rhs(int Ns, sunrealtype t, N_Vector yv, N_Vector ydv,
                    N_Vector *yS, N_Vector *ySd, void *ud, N_Vector t1,
                    N_Vector t2)
{
  rkin_cvpath *c = ud;
  const double *y = DATA(yv), *J = c->mjac, *Cy = c->C;
  size_t n = c->n, ns = (size_t)Ns, no = c->n_out, w = n + c->n_par;
  double *fp = c->sw, *op = fp + n * ns, *G = op + no * ns;
  size_t i, j, k, d;
  int rc;
  (void)ydv; (void)t1; (void)t2;
  /* the sparse form keeps no dense n x n Jacobian (mjac has 1 entry) */
  rc = c->sparse ? rkin_model_jac_sparse(c->m, t, y, c->p, c->mval, c->work)
                 : rkin_model_jac(c->m, t, y, c->p, c->mjac, c->work);
  if (!rc && c->sdir)
    rc = rkin_model_rhs_dparams(c->m, t, y, c->p, c->sdir, ns, fp,
                                c->need_out ? op : NULL, c->work);
  if (!rc && c->need_out && !c->out_lin) {
    rc = rkin_model_output_partials(c->m, t, y, c->p, G, c->work);
    Cy = G;
  }
  if (rc) {
    c->bad = BAD_SENS;
    c->bad_t = t;
    return -1;
  }
  for (d = 0; d < ns; d++) {
    const double *sv = DATA(yS[d]);
    double *sd = DATA(ySd[d]);
    if (c->sparse) {
      const size_t *cp = rkin_model_jac_colptr(c->m);
      const int *ri = rkin_model_jac_rowind(c->m);
      for (i = 0; i < n; i++)
        sd[i] = fp[i * ns + d] + (c->drate ? c->drate[i * ns + d] : 0.0);
      for (j = 0; j < n; j++)
        for (k = cp[j]; k < cp[j + 1]; k++)
          sd[ri[k]] += c->mval[k] * sv[j];
    } else {
      for (i = 0; i < n; i++) {
        double v = fp[i * ns + d];
        for (j = 0; j < n; j++) v += J[i + j * n] * sv[j];
        if (c->drate) v += c->drate[i * ns + d];
        sd[i] = v;
      }
    }
    for (k = 0; k < c->nq; k++) {
      size_t idx = (size_t)c->tia[k], o = idx - n;
      double v;
      if (idx < n) {
        sd[n + k] = sv[idx];
        continue;
      }
      v = op[o * ns + d];
      for (j = 0; j < n; j++)
        v += (c->out_lin ? Cy[o * n + j] : Cy[o * w + j]) * sv[j];
      sd[n + k] = v;
    }
  }
  return 0;
}

/* The rows of the integrals: d(y_i)/dy is a unit row, d(out_k)/dy is row
 * k of C(p) for linear outputs. Nonlinear outputs have no derivative tape:
 * their rows stay zero, which makes Newton lag one iteration on those
 * integrals only (they feed nothing back), never a wrong result. */
static void tia_rows(const rkin_cvpath *c, double *J)
{
  size_t k, j, ld = c->nsys;
  for (k = 0; k < c->nq; k++) {
    size_t idx = (size_t)c->tia[k], row = c->n + k;
    if (idx < c->n)
      J[row + idx * ld] = 1.0;
    else if (c->out_lin)
      for (j = 0; j < c->n; j++)
        J[row + j * ld] = c->C[(idx - c->n) * c->n + j];
  }
}

/* Full system Jacobian into J (nsys x nsys, column-major): the model's
 * block, the integrals' rows, zero columns for the integrals. */
static int full_jac(rkin_cvpath *c, double t, const double *y, double *J)
{
  size_t j, ld = c->nsys;
  int rc;
  if (!c->nq)
    return rkin_model_jac(c->m, t, y, c->p, J, c->work);
  rc = rkin_model_jac(c->m, t, y, c->p, c->mjac, c->work);
  if (rc) return rc;
  memset(J, 0, ld * ld * sizeof *J);
  for (j = 0; j < c->n; j++)
    memcpy(J + j * ld, c->mjac + j * c->n, c->n * sizeof *J);
  tia_rows(c, J);
  return 0;
}

/* The sparse form of full_jac, into c->sp_val. */
static int full_jac_sparse(rkin_cvpath *c, double t, const double *y)
{
  size_t k, j, nnz = rkin_model_jac_nnz(c->m);
  int rc = rkin_model_jac_sparse(c->m, t, y, c->p, c->mval, c->work);
  if (rc) return rc;
  memset(c->sp_val, 0, c->snz * sizeof *c->sp_val);
  for (k = 0; k < nnz; k++) c->sp_val[c->mpos[k]] = c->mval[k];
  for (k = 0; k < c->nq; k++) {
    size_t idx = (size_t)c->tia[k];
    if (idx < c->n)
      c->sp_val[c->qpos[idx] + k] = 1.0;
    else if (c->out_lin)
      for (j = 0; j < c->n; j++)
        c->sp_val[c->qpos[j] + k] = c->C[(idx - c->n) * c->n + j];
  }
  return 0;
}

/* The Newton matrix M = I - gamma J, built here rather than by CVODES'
 * default (copy of a saved J, then SUNMatScaleAddI): Debian's SUNDIALS
 * runs those dense loops unoptimised, and a linear model's J needs no
 * saved copy per setup at all. J is re-evaluated when CVODES says it is
 * stale (!jok) - never for a linear model once known for the run's
 * parameters, since it is exact and constant (hence *jcur = true). */
static int linsys(sunrealtype t, N_Vector yv, N_Vector fy, SUNMatrix Mm,
                  sunbooleantype jok, sunbooleantype *jcur,
                  sunrealtype gamma, void *ud, N_Vector t1, N_Vector t2,
                  N_Vector t3)
{
  rkin_cvpath *c = ud;
  double *M = c->sparse ? SUNSparseMatrix_Data(Mm) : SUNDenseMatrix_Data(Mm);
  const double *J = c->sparse ? c->sp_val : c->jac;
  size_t i, nn = c->sparse ? c->snz : c->nsys * c->nsys;
  (void)fy; (void)t1; (void)t2; (void)t3;
  *jcur = SUNFALSE;
  if (c->use_mat ? !c->jac_valid : !jok) {
    int rc = c->sparse ? full_jac_sparse(c, t, DATA(yv))
                       : full_jac(c, t, DATA(yv), c->jac);
    if (rc) {
      c->bad = BAD_JAC;
      c->bad_index = -1 - rc;
      c->bad_t = t;
      return -1;
    }
    c->jac_valid = 1;
    *jcur = SUNTRUE;
  }
  if (c->use_mat) *jcur = SUNTRUE;
  for (i = 0; i < nn; i++) M[i] = -gamma * J[i];
  if (c->sparse)
    for (i = 0; i < c->nsys; i++) M[c->diag[i]] += 1.0;
  else
    for (i = 0; i < c->nsys; i++) M[i * (c->nsys + 1)] += 1.0;
  return 0;
}

/* The error weights of scalar tolerances, 1 / (rtol |y_i| + atol), as
 * CVodeSStolerances defines them, in one pass: CVODES' own version takes
 * five unoptimised vector operations per step (see cv_nvector.c). atol > 0
 * is checked by the solver, so no weight can be infinite. */
static int weights(N_Vector yv, N_Vector wv, void *ud)
{
  const rkin_cvpath *c = ud;
  const double *y = DATA(yv);
  double *w = DATA(wv);
  size_t i, n = c->nsys;
  for (i = 0; i < n; i++) w[i] = 1.0 / (c->rtol * fabs(y[i]) + c->atol);
  return 0;
}

/* The engine never prints: CVODES' own text is kept for the message. */
static void on_error(int code, const char *module, const char *function,
                     char *msg, void *ud)
{
  rkin_cvpath *c = ud;
  (void)module;
  if (code < 0)
    snprintf(c->cvmsg, sizeof c->cvmsg, "%s: %s", function, msg);
}

/* Frees the CVODES objects of the current system size. */
static void release(rkin_cvpath *c)
{
  if (c->yS) N_VDestroyVectorArray(c->yS, (int)c->ns_built);
  c->yS = NULL;
  c->ns_built = 0;
  if (c->mem) CVodeFree(&c->mem);
  if (c->ls) SUNLinSolFree(c->ls);
  if (c->J) SUNMatDestroy(c->J);
  if (c->y) N_VDestroy(c->y);
  if (c->yprobe) N_VDestroy(c->yprobe);
  if (c->yq_f) N_VDestroy(c->yq_f);
  if (c->yq_f2) N_VDestroy(c->yq_f2);
  c->yprobe = c->yq_f = c->yq_f2 = NULL;
  c->ls = NULL;
  c->J = NULL;
  c->y = NULL;
  c->built = 0;
}

void rkin_cvpath_free(rkin_cvpath *c)
{
  if (!c) return;
  release(c);
  if (c->ctx) SUNContext_Free(&c->ctx);
  rkin_mevrun_free(c->mev);
  free(c->work);
  free(c->outv);
  free(c->mjac);
  free(c->C);
  free(c->jac);
  free(c->jac_p);
  free(c->jac_tia);
  free(c->row);
  free(c->col);
  free(c->val);
  free(c->zeros);
  free(c->sw);
  free(c->sp_ptr);
  free(c->sp_row);
  free(c->sp_val);
  free(c->mval);
  free(c->mpos);
  free(c->diag);
  free(c->qpos);
  free(c);
}

static int setup_fail(const char *what, int flag, rkin_err *err)
{
  char *name = CVodeGetReturnFlagName(flag);
  int rc = rkin_err_set(err, RKIN_ESOLVER, "CVODES set-up failed in %s "
                        "(flag %s)", what, name ? name : "?");
  free(name);  /* CVodeGetReturnFlagName returns a malloc'd string */
  return rc;
}

/* Optional inputs. A linear model's Jacobian never changes, so CVODES is
 * told not to re-evaluate it on its own schedule (this matters only when
 * linsys() cannot use the cached rows: a nonlinear output's TIA). Max
 * order, initial step, setup frequency, the setup's gamma threshold and
 * the Newton convergence coefficient stay at CVODES' defaults: on the
 * peer model (~352 steps per 1344 h cycle) none of them reduced the
 * instruction count by more than 1 %, and max order 4 costs 43 % more
 * steps (callgrind on tests/bench/bench_solve; report of issue 3).
 * msbp 5, 50 or 1000 and dgmax 0.1-0.5 gave 0-7 % more (issue 15).
 * Re-measured on tests/bench/bench_cohort --profile 20 (callgrind, 187.6e6
 * instructions at the defaults): max order 4 +23 % (503 steps per cycle
 * instead of 352), msbp 40 -0.5 %, dgmax 0.5 +1.1 %, Newton coefficient
 * 0.3 -1.4 % (a looser nonlinear solve) and 0.05 +1.7 %, max step growth
 * after the first step 1e6 +0.1 %, in early steps 20 +0.3 %, overall 20
 * 0.0 %, initial step 1e-3 h +2.4 %: none pays.
 * CVODES' band of step ratios it ignores (below 1.5x) stays too: letting
 * the step grow by any 1.05x-1.3x cuts the peer's steps by 6-15 %, but it
 * is a looser tolerance in disguise - the global errors of test_solve's
 * closed-form checks grew 2-2.6x (e.g. SS bolus at rtol 1e-8: 7.4e-7 ->
 * 1.9e-6), and loosening rtol by that factor saves as many steps. */
static int tune(rkin_cvpath *c)
{
  int flag = CVodeSetMaxNumSteps(c->mem, c->max_steps);
  if (!flag) flag = CVodeSetErrHandlerFn(c->mem, on_error, c);
  if (!flag) flag = CVodeSetUserData(c->mem, c);
  if (!flag && c->jac_const)
    flag = CVodeSetJacEvalFrequency(c->mem, 1000000);
  return flag;
}

/* The system's compressed-column pattern for nq integrals (see the
 * struct) into sp_ptr / sp_row, and the positions mpos, diag, qpos. */
static int sparse_pattern(rkin_cvpath *c, size_t nq)
{
  size_t n = c->n, nsys = n + nq, nnz = rkin_model_jac_nnz(c->m);
  const size_t *cp = rkin_model_jac_colptr(c->m);
  const int *ri = rkin_model_jac_rowind(c->m);
  size_t j, k, q, pos = 0, snz = nnz + n + n * nq + nq;   /* a bound */
  free(c->sp_ptr);
  free(c->sp_row);
  free(c->sp_val);
  free(c->diag);
  c->sp_ptr = malloc((nsys + 1) * sizeof *c->sp_ptr);
  c->sp_row = malloc(snz * sizeof *c->sp_row);
  c->sp_val = malloc(snz * sizeof *c->sp_val);
  c->diag = malloc(nsys * sizeof *c->diag);
  if (!c->sp_ptr || !c->sp_row || !c->sp_val || !c->diag || !c->mval
      || !c->mpos || !c->qpos)
    return RKIN_ENOMEM;
  for (j = 0; j < n; j++) {
    int has_diag = 0;
    c->sp_ptr[j] = (sunindextype)pos;
    for (k = cp[j]; k < cp[j + 1]; k++) {
      size_t i = (size_t)ri[k];
      if (i > j && !has_diag) {   /* rows ascend: the diagonal goes here */
        c->diag[j] = pos;
        c->sp_row[pos++] = (sunindextype)j;
        has_diag = 1;
      }
      if (i == j) {
        c->diag[j] = pos;
        has_diag = 1;
      }
      c->mpos[k] = pos;
      c->sp_row[pos++] = (sunindextype)i;
    }
    if (!has_diag) {
      c->diag[j] = pos;
      c->sp_row[pos++] = (sunindextype)j;
    }
    c->qpos[j] = pos;
    for (q = 0; q < nq; q++) c->sp_row[pos++] = (sunindextype)(n + q);
  }
  for (q = 0; q < nq; q++) {
    c->sp_ptr[n + q] = (sunindextype)pos;
    c->diag[n + q] = pos;
    c->sp_row[pos++] = (sunindextype)(n + q);
  }
  c->sp_ptr[nsys] = (sunindextype)pos;
  c->snz = pos;
  return RKIN_OK;
}

/* Creates the CVODES objects for n + nq equations. */
static int build(rkin_cvpath *c, size_t nq, rkin_err *err)
{
  size_t nsys = c->n + nq;
  const char *what = "CVodeInit";
  int flag;
  release(c);
  c->y = N_VNew_Serial((sunindextype)nsys, c->ctx);
  if (c->y) rkin_nvector_fast(c->y);
  if (!c->sparse) {
    c->J = SUNDenseMatrix((sunindextype)nsys, (sunindextype)nsys, c->ctx);
  } else if (!sparse_pattern(c, nq)) {
    c->J = SUNSparseMatrix((sunindextype)nsys, (sunindextype)nsys,
                           (sunindextype)c->snz, CSC_MAT, c->ctx);
    if (c->J) {
      memcpy(SUNSparseMatrix_IndexPointers(c->J), c->sp_ptr,
             (nsys + 1) * sizeof *c->sp_ptr);
      memcpy(SUNSparseMatrix_IndexValues(c->J), c->sp_row,
             c->snz * sizeof *c->sp_row);
    }
  }
  c->mem = CVodeCreate(CV_BDF, c->ctx);
  if (c->y && c->J)
    c->ls = c->sparse ? SUNLinSol_KLU(c->y, c->J, c->ctx)
                      : SUNLinSol_Dense(c->y, c->J, c->ctx);
  if (c->ls && !c->sparse) rkin_linsol_fast(c->ls);
  /* AMD, not SUNDIALS' default COLAMD: a PBPK model's plasma row and
   * column touch every organ, and COLAMD's order filled that arrow in
   * (callgrind, bench_large's 200-state model: KLU refactorisation 7.5x
   * fewer instructions with AMD, the whole solve 30 % fewer). */
  if (c->ls && c->sparse) SUNLinSol_KLUSetOrdering(c->ls, 0);
  if (!c->y || !c->J || !c->mem || !c->ls) {
    release(c);
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory creating the "
                        "CVODES workspace for model '%s' (%zu equations)",
                        rkin_model_name(c->m), nsys);
  }
  c->nq = nq;
  c->nsys = nsys;
  N_VConst(0.0, c->y);
  flag = CVodeInit(c->mem, rhs, 0.0, c->y);
  if (!flag) {
    flag = CVodeWFtolerances(c->mem, weights);
    what = "CVodeWFtolerances";
  }
  if (!flag) {
    flag = CVodeSetLinearSolver(c->mem, c->ls, c->J);
    what = "CVodeSetLinearSolver";
  }
  if (!flag) {
    flag = CVodeSetLinSysFn(c->mem, linsys);
    what = "CVodeSetLinSysFn";
  }
  if (!flag && c->n_sw + c->n_evr) {
    flag = CVodeRootInit(c->mem, (int)(c->n_sw + c->n_evr), roots);
    what = "CVodeRootInit";
  }
  if (!flag) {
    flag = tune(c);
    what = "the optional inputs";
  }
  if (flag) {
    release(c);
    return setup_fail(what, flag, err);
  }
  c->built = 1;
  return RKIN_OK;
}

int rkin_cvpath_want_sparse(const rkin_model *m, rkin_jacobian jac)
{
  size_t n = rkin_model_nstates(m);
  if (jac != RKIN_JAC_AUTO) return jac == RKIN_JAC_SPARSE;
  return n >= RKIN_SPARSE_MIN_STATES && 2 * rkin_model_jac_nnz(m) <= n * n;
}

rkin_cvpath *rkin_cvpath_new(const rkin_model *m, const rkin_solve_opts *o,
                             rkin_err *err)
{
  rkin_cvpath *c = calloc(1, sizeof *c);
  size_t n = rkin_model_nstates(m), nw = rkin_model_nwork(m), no;
  int flag;
  if (!c) goto nomem;
  c->m = m;
  c->n = n;
  c->n_out = no = rkin_model_noutputs(m);
  c->n_par = rkin_model_nparams(m);
  c->n_sw = rkin_model_nswitches(m);
  c->n_evr = rkin_mevents_nroots(rkin_model_events(m));
  if (rkin_model_events(m) && !(c->mev = rkin_mevrun_new(m, err))) {
    rkin_cvpath_free(c);
    return NULL;
  }
  c->rtol = o->rtol;
  c->atol = o->atol;
  c->max_steps = o->max_steps;
  c->jac_const = rkin_model_is_linear(m);
  c->sparse = rkin_cvpath_want_sparse(m, o->jacobian);
  c->out_lin = no && rkin_model_outputs_linear(m);
  if (rkin_model_events(m) && rkin_mevents_nwork(rkin_model_events(m)) > nw)
    nw = rkin_mevents_nwork(rkin_model_events(m));
  c->work = malloc((nw ? nw : 1) * sizeof *c->work);
  c->outv = malloc((no ? no : 1) * sizeof *c->outv);
  c->mjac = malloc((c->sparse || !n ? 1 : n * n) * sizeof *c->mjac);
  if (c->sparse) {
    size_t nnz = rkin_model_jac_nnz(m);
    c->mval = malloc((nnz ? nnz : 1) * sizeof *c->mval);
    c->mpos = malloc((nnz ? nnz : 1) * sizeof *c->mpos);
    c->qpos = malloc((n ? n : 1) * sizeof *c->qpos);
    if (!c->mval || !c->mpos || !c->qpos) goto nomem;
  }
  c->C = malloc((no ? no * n : 1) * sizeof *c->C);
  c->zeros = calloc(n ? n : 1, sizeof *c->zeros);
  c->jac_p = malloc((c->n_par ? c->n_par : 1) * sizeof *c->jac_p);
  if (!c->work || !c->outv || !c->mjac || !c->C || !c->jac_p || !c->zeros)
    goto nomem;
#if SUNDIALS_VERSION_MAJOR >= 7
  flag = SUNContext_Create(SUN_COMM_NULL, &c->ctx);
#else
  flag = SUNContext_Create(NULL, &c->ctx);
#endif
  if (flag) goto nomem;
  /* Built now so that a set-up failure shows when the solver is made. */
  if (build(c, 0, err)) {
    rkin_cvpath_free(c);
    return NULL;
  }
  return c;
nomem:
  rkin_cvpath_free(c);
  rkin_err_set(err, RKIN_ENOMEM, "out of memory creating the CVODES "
               "workspace for model '%s' (%zu states)", rkin_model_name(m),
               n);
  return NULL;
}

/* Room for the saved Jacobian, its key and its compressed rows for nq
 * integrals. */
static int grow_jac(rkin_cvpath *c, size_t nq, rkin_err *err)
{
  size_t nsys = c->n + nq, nz = c->sparse ? c->snz : nsys * c->n;
  double *jm, *v;
  int *jt;
  size_t *r, *cl;
  if (c->jac && nq <= c->cap_q) return RKIN_OK;
  if ((jm = realloc(c->jac, (c->sparse ? 1 : nsys * nsys) * sizeof *jm)))
    c->jac = jm;
  if ((jt = realloc(c->jac_tia, (nq ? nq : 1) * sizeof *jt))) c->jac_tia = jt;
  if ((r = realloc(c->row, (nsys + 1) * sizeof *r))) c->row = r;
  if ((cl = realloc(c->col, (nz ? nz : 1) * sizeof *cl))) c->col = cl;
  if ((v = realloc(c->val, (nz ? nz : 1) * sizeof *v))) c->val = v;
  if (!jm || !jt || !r || !cl || !v)
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for the Jacobian "
                        "of %zu equations", nsys);
  c->cap_q = nq;
  c->jac_valid = 0;
  return RKIN_OK;
}

/* A cached linear Jacobian holds for the same parameters and the same
 * integrated quantities only; returns 1 when it must be recomputed. */
static int rekey_jac(rkin_cvpath *c, const double *p, const int *tia,
                     size_t n_tia)
{
  if (c->jac_valid && n_tia == c->jac_nq
      && (!c->n_par || !memcmp(c->jac_p, p, c->n_par * sizeof *p))
      && (!n_tia || !memcmp(c->jac_tia, tia, n_tia * sizeof *tia)))
    return 0;
  if (c->n_par) memcpy(c->jac_p, p, c->n_par * sizeof *p);
  if (n_tia) memcpy(c->jac_tia, tia, n_tia * sizeof *tia);
  c->jac_nq = n_tia;
  c->jac_valid = 0;
  return 1;
}

/* The nonzeros of the first n columns of jac, row by row. */
static void compress(rkin_cvpath *c)
{
  size_t i, j, nz = 0;
  for (i = 0; i < c->nsys; i++) {
    c->row[i] = nz;
    for (j = 0; j < c->n; j++) {
      double v = c->jac[i + j * c->nsys];
      if (v != 0) {
        c->col[nz] = j;
        c->val[nz++] = v;
      }
    }
  }
  c->row[c->nsys] = nz;
}

/* compress() from the sparse form: the first n columns of sp_val, row by
 * row (a counting pass, then the entries in column order). */
static void compress_sparse(rkin_cvpath *c)
{
  size_t i, j, k;
  for (i = 0; i <= c->nsys; i++) c->row[i] = 0;
  for (j = 0; j < c->n; j++)
    for (k = (size_t)c->sp_ptr[j]; k < (size_t)c->sp_ptr[j + 1]; k++)
      if (c->sp_val[k] != 0) c->row[c->sp_row[k] + 1]++;
  for (i = 0; i < c->nsys; i++) c->row[i + 1] += c->row[i];
  for (j = 0; j < c->n; j++)
    for (k = (size_t)c->sp_ptr[j]; k < (size_t)c->sp_ptr[j + 1]; k++)
      if (c->sp_val[k] != 0) {
        size_t at = c->row[c->sp_row[k]]++;
        c->col[at] = j;
        c->val[at] = c->sp_val[k];
      }
  /* the fill advanced each row start to the next row's: shift back */
  for (i = c->nsys; i > 0; i--) c->row[i] = c->row[i - 1];
  c->row[0] = 0;
}

/* A linear model with linear integrands: its Jacobian for p, once, and the
 * compressed rows the right-hand side multiplies with. */
static int linear_system(rkin_cvpath *c, const double *p, rkin_err *err)
{
  int rc;
  if (!rekey_jac(c, p, c->tia, c->nq)) return RKIN_OK;
  if (c->need_out
      && (rc = rkin_model_output_matrix(c->m, p, c->C, err)))
    return rc;
  c->bad = BAD_NONE;
  if ((rc = c->sparse ? full_jac_sparse(c, 0.0, c->zeros)
                      : full_jac(c, 0.0, c->zeros, c->jac))) {
    c->bad = BAD_JAC;
    c->bad_index = -1 - rc;
    c->bad_t = 0.0;
    return report(c, 0, err);
  }
  if (c->sparse)
    compress_sparse(c);
  else
    compress(c);
  c->jac_valid = 1;
  return RKIN_OK;
}

int rkin_cvpath_begin(rkin_cvpath *c, const double *p, const int *tia,
                      size_t n_tia, rkin_err *err)
{
  size_t k;
  int rc;
  c->p = p;
  if (c->mev) rkin_mevrun_params(c->mev, p);
  c->tia = tia;
  c->need_out = 0;
  for (k = 0; k < n_tia; k++)
    if ((size_t)tia[k] >= c->n) c->need_out = 1;
  if ((!c->built || n_tia != c->nq) && (rc = build(c, n_tia, err)))
    return rc;
  if ((rc = grow_jac(c, n_tia, err))) return rc;
  c->use_mat = c->jac_const && (!c->need_out || c->out_lin);
  if (c->use_mat) return linear_system(c, p, err);
  c->jac_valid = 0;
  if (c->need_out && c->out_lin)
    return rkin_model_output_matrix(c->m, p, c->C, err);
  return RKIN_OK;
}

/* The equation with the largest weighted local error estimate: the one
 * that made CVODES give up. */
static size_t worst_equation(rkin_cvpath *c)
{
  N_Vector ele = N_VClone(c->y), ewt = N_VClone(c->y);
  size_t i, worst = 0;
  double big = -1;
  if (ele && ewt && !CVodeGetEstLocalErrors(c->mem, ele)
      && !CVodeGetErrWeights(c->mem, ewt)) {
    const double *e = N_VGetArrayPointer(ele), *w = N_VGetArrayPointer(ewt);
    for (i = 0; i < c->nsys; i++)
      if (fabs(e[i] * w[i]) > big) {
        big = fabs(e[i] * w[i]);
        worst = i;
      }
  }
  if (ele) N_VDestroy(ele);
  if (ewt) N_VDestroy(ewt);
  return worst;
}

/* Names equation i: a state, or the TIA of a state or an output. */
static void equation_name(const rkin_cvpath *c, size_t i, char *buf,
                          size_t size)
{
  size_t idx;
  if (i < c->n) {
    snprintf(buf, size, "state '%s'", rkin_model_state_name(c->m, i));
    return;
  }
  idx = (size_t)c->tia[i - c->n];
  snprintf(buf, size, "the TIA of '%s'",
           idx < c->n ? rkin_model_state_name(c->m, idx)
                      : rkin_model_output_name(c->m, idx - c->n));
}

static int report(rkin_cvpath *c, int flag, rkin_err *err)
{
  char *name, where[128];
  sunrealtype t = 0;
  int rc;
  if (c->bad == BAD_RHS)
    return rkin_model_explain(c->m, c->bad_index, c->bad_t, err);
  if (c->bad == BAD_JAC) {
    size_t i = (size_t)c->bad_index % c->n, j = (size_t)c->bad_index / c->n;
    rkin_model_explain(c->m, (int)i, c->bad_t, err);
    return rkin_err_prefix(err, "Jacobian entry d(%s)'/d%s is not finite "
                           "at t = %g h; ", rkin_model_state_name(c->m, i),
                           rkin_model_state_name(c->m, j), c->bad_t);
  }
  if (c->bad == BAD_SENS)
    return rkin_err_set(err, RKIN_ENONFINITE, "model '%s': a derivative "
                        "of the sensitivity equations (Jacobian, parameter "
                        "or output partial) is not finite at t = %g h",
                        rkin_model_name(c->m), c->bad_t);
  if (c->bad == BAD_OUT)
    return rkin_err_set(err, RKIN_ENONFINITE, "output '%s' is not finite at "
                        "t = %g h (while integrating its TIA)",
                        rkin_model_output_name(c->m, (size_t)c->bad_index),
                        c->bad_t);
  if (c->bad == BAD_SWITCH) {
    if ((size_t)c->bad_index < c->n_sw)
      rkin_model_switch_text(c->m, (size_t)c->bad_index, where, sizeof where);
    else
      rkin_model_event_root_text(c->m, (size_t)c->bad_index - c->n_sw,
                                 where, sizeof where);
    return rkin_err_set(err, RKIN_ENONFINITE, "model '%s': the condition "
                        "%s is not finite (NaN or Inf) at t = %g h",
                        rkin_model_name(c->m), where, c->bad_t);
  }
  CVodeGetCurrentTime(c->mem, &t);
  equation_name(c, worst_equation(c), where, sizeof where);
  name = CVodeGetReturnFlagName(flag);
  rc = rkin_err_set(err, RKIN_ESOLVER, "CVODES failed at t = %g h with %s "
                    "(largest local error in %s; model '%s'): %s",
                    t, name ? name : "?", where, rkin_model_name(c->m),
                    c->cvmsg);
  free(name);
  if (c->n_sw) {
    /* The usual cause with conditions: a switch the solution keeps
     * crossing back and forth. */
    char sw[160];
    rkin_model_switch_text(c->m, 0, sw, sizeof sw);
    if (err && strlen(err->msg) + strlen(sw) + 120 < sizeof err->msg)
      snprintf(err->msg + strlen(err->msg), sizeof err->msg
               - strlen(err->msg), " (the model switches where %s%s: a "
               "condition the dynamics drive back across from both sides "
               "chatters)", sw, c->n_sw > 1 ? ", ..." : "");
  }
  return rc;
}

int rkin_cvpath_sens(rkin_cvpath *c, const double *dir, size_t ns,
                     double *S, const double *drate, double *dq,
                     rkin_err *err)
{
  size_t need = (c->n + c->n_out) * ns + c->n_out * (c->n + c->n_par)
                + ns + (c->n + c->n_par + 1) + 2 * (c->nsys + 1), d;
  int flag;
  c->sens_on = 0;
  c->sens_held = 0;
  if (!ns) {
    if (c->ns_built) CVodeSensToggleOff(c->mem);
    return RKIN_OK;
  }
  if (need > c->cap_sw) {
    double *w = realloc(c->sw, need * sizeof *w);
    if (!w)
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu "
                          "sensitivity directions", ns);
    c->sw = w;
    c->cap_sw = need;
  }
  if (ns != c->ns_built) {
    double *abst = malloc(ns * sizeof *abst);
    if (c->ns_built) {
      CVodeSensFree(c->mem);
      N_VDestroyVectorArray(c->yS, (int)c->ns_built);
      c->yS = NULL;
      c->ns_built = 0;
    }
    if (!abst || !(c->yS = N_VCloneVectorArray((int)ns, c->y))) {
      free(abst);
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu "
                          "sensitivity directions", ns);
    }
    for (d = 0; d < ns; d++) {
      N_VConst(0.0, c->yS[d]);
      abst[d] = c->atol;
    }
    /* Staggered corrector: the states' Newton iteration converges first,
     * then the sensitivities' (linear) systems reuse its matrix. */
    flag = CVodeSensInit(c->mem, (int)ns, CV_STAGGERED, sens_rhs, c->yS);
    if (!flag) flag = CVodeSensSStolerances(c->mem, c->rtol, abst);
    if (!flag) flag = CVodeSetSensErrCon(c->mem, SUNTRUE);
    free(abst);
    if (flag) {
      N_VDestroyVectorArray(c->yS, (int)ns);
      c->yS = NULL;
      return setup_fail("CVodeSensInit", flag, err);
    }
    c->ns_built = ns;
  }
  c->ns = ns;
  /* directions that do not move the parameters (doses, initial state)
   * need no df/dp: its tape is skipped */
  memset(c->sw, 0, (c->n + c->n_out) * ns * sizeof *c->sw);
  c->sdir = NULL;
  for (d = 0; d < ns * c->n_par; d++)
    if (dir[d] != 0) {
      c->sdir = dir;
      break;
    }
  c->S = S;
  c->drate = drate;
  c->dq = dq;
  c->sw_dtau = c->sw + (c->n + c->n_out) * ns + c->n_out * (c->n + c->n_par);
  c->sw_droot = c->sw_dtau + ns;
  c->sw_f = c->sw_droot + c->n + c->n_par + 1;
  c->sw_f2 = c->sw_f + c->nsys + 1;
  c->sens_on = 1;
  return RKIN_OK;
}

void rkin_cvpath_sens_hold(rkin_cvpath *c, int hold)
{
  if (hold && c->sens_on) {
    c->sens_on = 0;
    c->sens_held = 1;
    CVodeSensToggleOff(c->mem);
  } else if (!hold && c->sens_held) {
    /* the next advance's CVodeSensReInit turns them on again */
    c->sens_held = 0;
    c->sens_on = 1;
  }
}

void rkin_cvpath_sens_scratch(rkin_cvpath *c, double *S)
{
  if (S) {
    c->keep_S = c->S;
    c->keep_drate = c->drate;
    c->keep_dq = c->dq;
    c->S = S;
    c->drate = NULL;
    c->dq = NULL;
  } else {
    c->S = c->keep_S;
    c->drate = c->keep_drate;
    c->dq = c->keep_dq;
  }
}

/* S (model rows) from CVODES' sensitivities at the last return. */
static int sens_get(rkin_cvpath *c)
{
  sunrealtype t;
  size_t i, d, ns = c->ns;
  int flag = CVodeGetSens(c->mem, &t, c->yS);
  if (flag) return flag;
  for (d = 0; d < ns; d++) {
    const double *v = DATA(c->yS[d]);
    for (i = 0; i < c->n; i++) c->S[i * ns + d] = v[i];
  }
  return 0;
}

/* Restarts the sensitivities: from S (model rows, zero integrals), or
 * (from_cvodes) from the values CVODES just returned in yS. */
static int sens_restart(rkin_cvpath *c, int from_cvodes)
{
  size_t i, d, ns = c->ns;
  if (!from_cvodes)
    for (d = 0; d < ns; d++) {
      double *v = DATA(c->yS[d]);
      for (i = 0; i < c->n; i++) v[i] = c->S[i * ns + d];
      for (i = c->n; i < c->nsys; i++) v[i] = 0;
    }
  return CVodeSensReInit(c->mem, CV_STAGGERED, c->yS);
}

/* True when b - a is below what CVODES can resolve as a step. */
static int too_close(double a, double b)
{
  return b - a <= 16 * DBL_EPSILON * fmax(fabs(a), fabs(b));
}

/* CVode to tout, restarting at every switch on the way: the state there
 * becomes the initial value of a fresh BDF history, under the condition's
 * new value. Steps of the finished stretches are added to *nst. A switch
 * is crossed at most max_steps times per call: a condition that the
 * solution keeps crossing back and forth (chattering, e.g. a threshold the
 * dynamics push towards from both sides) is an error, not a hang. */
static int run_to(rkin_cvpath *c, double tout, double te, sunrealtype *tret,
                  long *nst, long *restarts, rkin_err *err)
{
  for (;;) {
    long k = 0;
    int flag = CVode(c->mem, tout, c->y, tret, CV_NORMAL);
    if (flag != CV_ROOT_RETURN) return flag < 0 ? report(c, flag, err) : 0;
    CVodeGetNumSteps(c->mem, &k);
    *nst += k;
    if (++*restarts > c->max_steps) {
      int *info = calloc(c->n_sw, sizeof *info);
      char txt[160] = "?";
      size_t i;
      if (info && !CVodeGetRootInfo(c->mem, info))
        for (i = 0; i < c->n_sw; i++)
          if (info[i]) {
            rkin_model_switch_text(c->m, i, txt, sizeof txt);
            break;
          }
      free(info);
      return rkin_err_set(err, RKIN_ESOLVER, "model '%s': the condition %s "
                          "switched more than max_steps = %ld times in one "
                          "interval between doses, before t = %g h (if the "
                          "dynamics drive the solution back across it, it "
                          "chatters: smooth the switch; else raise "
                          "max_steps)", rkin_model_name(c->m), txt,
                          c->max_steps, (double)*tret);
    }
    /* the sensitivities at the switch, before the history is reset */
    if (c->sens_on && (flag = CVodeGetSens(c->mem, tret, c->yS)))
      return report(c, flag, err);
    if ((flag = CVodeReInit(c->mem, *tret, c->y))
        || (c->sens_on && (flag = sens_restart(c, 1)))
        || (flag = CVodeSetStopTime(c->mem, te)))
      return report(c, flag, err);
    if (too_close(*tret, tout)) return 0;
  }
}

int rkin_cvpath_has_events(const rkin_cvpath *c)
{
  return c->mev != NULL;
}

void rkin_cvpath_events_start(rkin_cvpath *c)
{
  if (c->mev) rkin_mevrun_begin(c->mev, c->p);
}

int rkin_cvpath_events_restore(rkin_cvpath *c, double t0,
                               const rkin_mevcarry *k, rkin_err *err)
{
  return c->mev ? rkin_mevrun_restore(c->mev, t0, k, err) : RKIN_OK;
}

int rkin_cvpath_events_save(const rkin_cvpath *c, double t1,
                            rkin_mevcarry *k, rkin_err *err)
{
  return c->mev ? rkin_mevrun_save(c->mev, t1, k, err) : RKIN_OK;
}

/* The model's right-hand side with the inputs (for the events'
 * sensitivity jumps). */
static int mev_rhs(void *ctx, double t, const double *y, double *f)
{
  rkin_cvpath *c = ctx;
  size_t i;
  if (rkin_model_rhs(c->m, t, y, c->p, f, c->work)) return -1;
  for (i = 0; c->rate && c->has_rate && i < c->n; i++) f[i] += c->rate[i];
  return 0;
}

static void mev_sens_init(rkin_cvpath *c, rkin_mevsens *sx)
{
  memset(sx, 0, sizeof *sx);
  sx->ns = c->ns;
  sx->dir = c->sdir;
  sx->S = c->S;
  sx->dtau = c->sw_dtau;
  sx->rhs = mev_rhs;
  sx->ctx = c;
}

int rkin_cvpath_events_at(rkin_cvpath *c, double t, double *y,
                          const char *why_not, rkin_err *err)
{
  rkin_mevsens sx;
  int changed;
  size_t d;
  if (!c->mev) return RKIN_OK;
  if (!c->sens_on)
    return rkin_mevrun_at(c->mev, t, y, 0, NULL, &changed, err);
  mev_sens_init(c, &sx);
  for (d = 0; d < c->ns; d++) sx.dtau[d] = 0;
  sx.dtau_known = !why_not;
  sx.why_not = why_not;
  return rkin_mevrun_at_sens(c->mev, t, y, 0, NULL, &sx, &changed, err);
}

/* The time derivative of a root CVODES returned at tret (S at tret in
 * c->S): the first event root found, dtau = -(g_x S + g_p dp) / (g_x f +
 * g_t); sx->why_not when the crossing is tangential. No event root (a
 * switch of the right-hand side): the instant does not move. */
static int root_dtau(rkin_cvpath *c, double tret, const double *y,
                     rkin_mevsens *sx, rkin_err *err)
{
  const rkin_mevents *e = rkin_model_events(c->m);
  size_t n = c->n, np = c->n_par, nr = c->n_sw + c->n_evr, k, j, d;
  int *info = calloc(nr ? nr : 1, sizeof *info), rc = RKIN_OK;
  double *G = c->sw_droot, *f = c->sw_f, den = 0, mag = 0;
  sx->dtau_known = 1;
  for (d = 0; d < c->ns; d++) sx->dtau[d] = 0;
  if (!info) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  if (CVodeGetRootInfo(c->mem, info)) goto done;
  for (k = c->n_sw; k < nr && !info[k]; k++)
    ;
  if (k == nr) goto done;
  if (rkin_mevents_droot(e, k - c->n_sw, tret, y, c->p, G, c->work)
      || mev_rhs(c, tret, y, f)) {
    sx->why_not = "a derivative of its trigger is not finite";
    goto done;
  }
  /* tangential (ill-determined crossing): the time uncertainty the
   * states' tolerances give the crossing, sum_j |g_x_j| (rtol |x_j| +
   * atol) / |g_x f + g_t|, above 1000 rtol max(|t|, 1 h) */
  den = G[n + np];
  for (j = 0; j < n; j++) {
    den += G[j] * f[j];
    mag += fabs(G[j]) * (c->rtol * fabs(y[j]) + c->atol);
  }
  if (!(mag < 1e3 * c->rtol * fmax(fabs(tret), 1.0) * fabs(den))) {
    sx->why_not = "its trigger is tangential: it reaches zero at a rate "
                  "the tolerances cannot tell from 0 (expected a crossing "
                  "at a non-zero rate)";
    goto done;
  }
  for (d = 0; d < c->ns; d++) {
    double v = 0;
    for (j = 0; j < n; j++) v += G[j] * c->S[j * c->ns + d];
    for (j = 0; c->sdir && j < np; j++)
      v += G[n + j] * c->sdir[d * np + j];
    sx->dtau[d] = -v / den;
  }
done:
  free(info);
  return rc;
}

/* The state just past a root CVODES returned at tret (into c->yprobe at
 * *tp): CVODES locates a root to within 100 unit roundoffs of (|t| + |h|)
 * and may return on the near side, so the triggers are looked at a few
 * such tolerances later, within the last step (its interpolant). */
static int after_root(rkin_cvpath *c, double tret, double *tp,
                      const double **yp, rkin_err *err)
{
  sunrealtype tn = tret, hu = 0;
  double t;
  int flag;
  CVodeGetCurrentTime(c->mem, &tn);
  CVodeGetLastStep(c->mem, &hu);
  t = tret + 400 * DBL_EPSILON * (fabs((double)tn) + fabs((double)hu));
  if (t > tn) t = tn;
  if (!c->yprobe && !(c->yprobe = N_VClone(c->y)))
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  if ((flag = CVodeGetDky(c->mem, t, 0, c->yprobe)))
    return report(c, flag, err);
  *tp = t;
  *yp = N_VGetArrayPointer(c->yprobe);
  return RKIN_OK;
}

/* The integrals' sensitivities across an event instant moving by dtau:
 * q is continuous, so its partial derivative jumps by (q'- - q'+) dtau
 * (c->yq_f holds q'- from before the instant). The model rows of yS are
 * c->S (rkin_mevrun_at_sens carried them). */
static int sens_integrals(rkin_cvpath *c, double t, const double *dtau,
                          rkin_err *err)
{
  size_t k, d, n = c->n;
  for (d = 0; d < c->ns && dtau[d] == 0; d++)
    ;
  if (d == c->ns) return RKIN_OK;
  if (rhs(t, c->y, c->yq_f2, c) < 0) return report(c, 0, err);
  for (d = 0; d < c->ns; d++) {
    double *v = DATA(c->yS[d]);
    for (k = n; k < c->nsys; k++)
      v[k] += (DATA(c->yq_f)[k] - DATA(c->yq_f2)[k]) * dtau[d];
  }
  return RKIN_OK;
}

/* Restarts the sensitivities from c->S (model rows) and the integral rows
 * CVODES returned in yS (adjusted by sens_integrals). */
static int sens_restart_keep(rkin_cvpath *c)
{
  size_t i, d, ns = c->ns;
  for (d = 0; d < ns; d++) {
    double *v = DATA(c->yS[d]);
    for (i = 0; i < c->n; i++) v[i] = c->S[i * ns + d];
  }
  return CVodeSensReInit(c->mem, CV_STAGGERED, c->yS);
}

/* The segment [ts, te] of a model with events (CVODES set up at ts with
 * the state in c->y): each CVODES return (a root, a pending execution's
 * time, an output time, te) evaluates the triggers and executes what is
 * due, restarting the integration where anything changed, so an output
 * reports the state after the events at its time. */
static int advance_events(rkin_cvpath *c, double ts, double te,
                          const double *tout, size_t n_tout,
                          rkin_emit_fn emit, void *ctx, long *steps,
                          rkin_err *err)
{
  double *yv = N_VGetArrayPointer(c->y), t = ts;
  size_t k = 0;
  long restarts = 0;
  int flag, rc;
  for (;;) {
    double target, stop, next, tp = 0;
    const double *yp;
    sunrealtype tret;
    int changed = 0;
    /* (with sensitivities, c->S is that of t: set at ts, then at every
     * return below) */
    while (k < n_tout && (tout[k] <= t || too_close(t, tout[k]))) {
      emit(ctx, yv);
      k++;
    }
    if (t >= te || too_close(t, te)) return RKIN_OK;
    target = k < n_tout ? tout[k] : te;
    next = rkin_mevrun_next(c->mev);
    stop = next < te ? next : te;
    if (stop < target) target = stop;
    if ((flag = CVodeSetStopTime(c->mem, stop))) return report(c, flag, err);
    flag = CVode(c->mem, target, c->y, &tret, CV_NORMAL);
    if (flag < 0) return report(c, flag, err);
    yp = NULL;
    if (flag == CV_ROOT_RETURN && (rc = after_root(c, tret, &tp, &yp, err)))
      return rc;
    if (c->sens_on) {
      rkin_mevsens sx;
      int f2;
      mev_sens_init(c, &sx);
      if (c->nq && !c->yq_f
          && (!(c->yq_f = N_VClone(c->y)) || !(c->yq_f2 = N_VClone(c->y))))
        return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
      if ((f2 = sens_get(c))) return report(c, f2, err);
      if (flag == CV_ROOT_RETURN && (rc = root_dtau(c, tret, yv, &sx, err)))
        return rc;
      if (c->nq && rhs(tret, c->y, c->yq_f, c) < 0) return report(c, 0, err);
      if ((rc = rkin_mevrun_at_sens(c->mev, tret, yv, tp, yp, &sx, &changed,
                                    err)))
        return rc;
      if (changed && c->nq && (rc = sens_integrals(c, tret, sx.dtau, err)))
        return rc;
    } else if ((rc = rkin_mevrun_at(c->mev, tret, yv, tp, yp, &changed,
                                    err))) {
      return rc;
    }
    if (flag == CV_ROOT_RETURN || changed || flag == CV_TSTOP_RETURN) {
      long nst = 0;
      CVodeGetNumSteps(c->mem, &nst);
      *steps += nst;
      if (++restarts > c->max_steps)
        return rkin_err_set(err, RKIN_ESOLVER, "model '%s': events or "
                            "conditions stopped the integration more than "
                            "max_steps = %ld times in one interval between "
                            "doses, before t = %g h (a trigger the dynamics "
                            "keep crossing?)", rkin_model_name(c->m),
                            c->max_steps, (double)tret);
      if ((flag = CVodeReInit(c->mem, tret, c->y))
          || (c->sens_on && (flag = sens_restart_keep(c))))
        return report(c, flag, err);
    }
    t = tret;
  }
}

int rkin_cvpath_advance(rkin_cvpath *c, double ts, double te, double *y,
                        const double *rate, const double *tout,
                        size_t n_tout, rkin_emit_fn emit, void *ctx,
                        double *q, long *steps, rkin_err *err)
{
  double *yv = N_VGetArrayPointer(c->y);
  sunrealtype tret;
  long nst = 0, restarts = 0;
  size_t i, k;
  int flag = 0, rc = RKIN_OK;

  c->rate = rate;
  c->has_rate = 0;
  for (i = 0; i < c->n; i++)
    if (rate[i] != 0) c->has_rate = 1;
  c->bad = BAD_NONE;
  c->cvmsg[0] = '\0';
  if (too_close(ts, te)) {
    for (k = 0; k < n_tout; k++) emit(ctx, y);
    return RKIN_OK;
  }
  memcpy(yv, y, c->n * sizeof *y);
  memset(yv + c->n, 0, c->nq * sizeof *yv);
  /* Every segment starts at a dose or an input change: the BDF history
   * before it describes another solution, so it is restarted. */
  flag = CVodeReInit(c->mem, ts, c->y);
  if (!flag && c->sens_on) flag = sens_restart(c, 0);
  /* CVODES forgets a stop time once reached: set it for every segment. */
  if (!flag) flag = CVodeSetStopTime(c->mem, te);
  if (flag) {
    rc = report(c, flag, err);
    goto done;
  }
  if (c->mev) {
    rc = advance_events(c, ts, te, tout, n_tout, emit, ctx, steps, err);
    if (rc) goto done;
    goto end;
  }
  for (k = 0; k < n_tout; k++) {
    if (too_close(ts, tout[k])) {
      emit(ctx, y);
      continue;
    }
    if (c->n_sw) {
      if ((rc = run_to(c, tout[k], te, &tret, steps, &restarts, err)))
        goto done;
    } else if ((flag = CVode(c->mem, tout[k], c->y, &tret, CV_NORMAL)) < 0) {
      rc = report(c, flag, err);
      goto done;
    }
    if (c->sens_on && (flag = sens_get(c))) {
      rc = report(c, flag, err);
      goto done;
    }
    emit(ctx, yv);
  }
  if (c->n_sw) {
    if ((rc = run_to(c, te, te, &tret, steps, &restarts, err))) goto done;
  } else if ((flag = CVode(c->mem, te, c->y, &tret, CV_NORMAL)) < 0) {
    rc = report(c, flag, err);
    goto done;
  }
end:
  for (k = 0; k < c->nq; k++) q[k] += yv[c->n + k];
  memcpy(y, yv, c->n * sizeof *y);
  if (c->sens_on) {
    size_t d;
    /* (the events' walk leaves S and yS at te, past its events) */
    if (!c->mev && (flag = sens_get(c))) {
      rc = report(c, flag, err);
      goto done;
    }
    for (k = 0; c->dq && k < c->nq; k++)
      for (d = 0; d < c->ns; d++)
        c->dq[k * c->ns + d] += DATA(c->yS[d])[c->n + k];
  }
done:
  CVodeGetNumSteps(c->mem, &nst);
  *steps += nst;
  return rc;
}

int rkin_cvpath_sparse(const rkin_cvpath *c)
{
  return c->sparse;
}

int rkin_cvpath_newton_matrix(rkin_cvpath *c, double t, const double *y,
                              double gamma, double *M, rkin_err *err)
{
  sunbooleantype jcur;
  size_t nsys = c->nsys, j, k;
  double *yv = N_VGetArrayPointer(c->y);
  memcpy(yv, y, nsys * sizeof *y);
  c->bad = BAD_NONE;
  c->jac_valid = 0;
  if (linsys(t, c->y, NULL, c->J, SUNFALSE, &jcur, gamma, c, NULL, NULL,
             NULL))
    return report(c, 0, err);
  if (!c->sparse) {
    memcpy(M, SUNDenseMatrix_Data(c->J), nsys * nsys * sizeof *M);
    return RKIN_OK;
  }
  memset(M, 0, nsys * nsys * sizeof *M);
  for (j = 0; j < nsys; j++) {
    const sunindextype *ptr = SUNSparseMatrix_IndexPointers(c->J);
    const sunindextype *row = SUNSparseMatrix_IndexValues(c->J);
    const double *v = SUNSparseMatrix_Data(c->J);
    for (k = (size_t)ptr[j]; k < (size_t)ptr[j + 1]; k++)
      M[(size_t)row[k] + j * nsys] += v[k];
  }
  return RKIN_OK;
}
