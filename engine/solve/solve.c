/* solve.c - the rkin_solver API: request checks, the walk through dose
 * events (resets, record order at equal times) and output times shared by
 * both paths, and the dispatch to the CVODES path (cvodes_path.c) or the
 * exact path (exact_path.c); steady states are in steady.c. */
#include "solve/solve.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "solve/solve_impl.h"

void rkin_solve_opts_default(rkin_solve_opts *o)
{
  o->rtol = 1e-6;
  o->atol = 1e-9;
  o->max_steps = 100000;
  o->path = RKIN_PATH_AUTO;
  o->jacobian = RKIN_JAC_AUTO;
}

static int check_opts(const rkin_solve_opts *o, rkin_err *err)
{
  if (!(isfinite(o->rtol) && o->rtol > 0 && o->rtol < 1))
    return rkin_err_set(err, RKIN_EINVAL, "solver option rtol = %g is "
                        "invalid (expected 0 < rtol < 1)", o->rtol);
  if (!(isfinite(o->atol) && o->atol > 0))
    return rkin_err_set(err, RKIN_EINVAL, "solver option atol = %g is "
                        "invalid (expected a finite number > 0)", o->atol);
  if (o->max_steps <= 0)
    return rkin_err_set(err, RKIN_EINVAL, "solver option max_steps = %ld "
                        "is invalid (expected > 0)", o->max_steps);
  if (o->path != RKIN_PATH_AUTO && o->path != RKIN_PATH_CVODES
      && o->path != RKIN_PATH_EXACT)
    return rkin_err_set(err, RKIN_EINVAL, "solver option path = %d is "
                        "invalid (expected AUTO, CVODES or EXACT)",
                        (int)o->path);
  if (o->jacobian != RKIN_JAC_AUTO && o->jacobian != RKIN_JAC_DENSE
      && o->jacobian != RKIN_JAC_SPARSE)
    return rkin_err_set(err, RKIN_EINVAL, "solver option jacobian = %d is "
                        "invalid (expected AUTO, DENSE or SPARSE)",
                        (int)o->jacobian);
  return RKIN_OK;
}

void rkin_solver_free(rkin_solver *s)
{
  if (!s) return;
  rkin_cvpath_free(s->cv);
  rkin_expath_free(s->ex);
  free(s->y);
  free(s->rate);
  free(s->q);
  free(s->work);
  free(s->S);
  free(s->G);
  free(s->ss_x);
  free(s->ss_q);
  free(s->evbuf);
  free(s->mods);
  free(s->recmods);
  free(s->dmods);
  free(s->recdmods);
  free(s->ss_S);
  free(s->ss_T);
  free(s->sx);
  free(s->zdir);
  free(s->keep);
  if (s->ss_perm) gsl_permutation_free(s->ss_perm);
  free(s);
}

rkin_solver *rkin_solver_new(const rkin_model *m, const rkin_solve_opts *o,
                             rkin_err *err)
{
  rkin_solver *s;
  rkin_solve_opts def;
  size_t nw;
  if (!m) {
    rkin_err_set(err, RKIN_EINVAL, "rkin_solver_new: model is NULL");
    return NULL;
  }
  if (!o) {
    rkin_solve_opts_default(&def);
    o = &def;
  }
  if (check_opts(o, err)) return NULL;
  s = calloc(1, sizeof *s);
  if (!s) goto nomem;
  s->m = m;
  s->o = *o;
  s->n = rkin_model_nstates(m);
  s->n_out = rkin_model_noutputs(m);
  s->n_par = rkin_model_nparams(m);
  nw = rkin_model_nwork(m);
  s->y = malloc((s->n ? s->n : 1) * sizeof *s->y);
  s->rate = malloc((s->n ? s->n : 1) * sizeof *s->rate);
  s->work = malloc((nw ? nw : 1) * sizeof *s->work);
  s->ss_x = malloc((5 * (s->n ? s->n : 1) + 2 * s->n * s->n)
                   * sizeof *s->ss_x);
  s->ss_perm = gsl_permutation_alloc(s->n ? s->n : 1);
  s->mods = malloc(RKIN_MOD_N * (s->n ? s->n : 1) * sizeof *s->mods);
  if (!s->y || !s->rate || !s->work || !s->ss_x || !s->ss_perm || !s->mods)
    goto nomem;
  s->ss_f = s->ss_x + s->n;
  s->ss_g = s->ss_f + s->n;
  s->ss_r = s->ss_g + s->n;
  s->ss_J = s->ss_r + s->n;
  s->ss_Jc = s->ss_J + s->n * s->n;
  s->ss_xp = s->ss_Jc + s->n * s->n;
  /* AUTO takes the exact path for a linear model: outputs, whatever
   * function of states, parameters and time they are, are evaluated after
   * the solve and do not change the dynamics. Only a run asking for the
   * TIA of a nonlinear output (an integral with no closed form) goes to
   * CVODES, which is then made for it (rkin_solver_run). */
  s->path = o->path;
  if (s->path == RKIN_PATH_AUTO)
    s->path = rkin_model_is_linear(m) && !rkin_model_events(m)
                  ? RKIN_PATH_EXACT : RKIN_PATH_CVODES;
  if (s->path == RKIN_PATH_EXACT && rkin_model_events(m)) {
    rkin_err_set(err, RKIN_EINVAL, "model '%s' has events (event '%s'): "
                 "the exact path cannot apply them (use the CVODES path)",
                 rkin_model_name(m),
                 rkin_mevents_name(rkin_model_events(m), 0));
    rkin_solver_free(s);
    return NULL;
  }
  s->last = s->path;
  if (s->path == RKIN_PATH_EXACT)
    s->ex = rkin_expath_new(m, err);
  else
    s->cv = rkin_cvpath_new(m, o, err);
  if (!s->ex && !s->cv) {
    rkin_solver_free(s);
    return NULL;
  }
  return s;
nomem:
  rkin_solver_free(s);
  rkin_err_set(err, RKIN_ENOMEM, "out of memory creating a solver for "
               "model '%s'", rkin_model_name(m));
  return NULL;
}

const rkin_event *rkin_solver_events(const rkin_solver *s, size_t *n)
{
  *n = s->nev;
  return s->ev;
}

rkin_path rkin_solver_path(const rkin_solver *s)
{
  return s->last;
}

rkin_jacobian rkin_solver_jacobian(const rkin_solver *s)
{
  return rkin_cvpath_want_sparse(s->m, s->o.jacobian) ? RKIN_JAC_SPARSE
                                                      : RKIN_JAC_DENSE;
}

/* 1 when the run must integrate an output that the exact path cannot. */
static int needs_cvodes(const rkin_solver *s, const rkin_solve_req *r)
{
  size_t k;
  if (!s->ex || rkin_model_outputs_linear(s->m)) return 0;
  for (k = 0; k < r->n_tia; k++)
    if ((size_t)r->tia[k] >= s->n) return 1;
  return 0;
}

static int check_vector(const double *v, size_t n, const char *what,
                        const rkin_model *m, int states, rkin_err *err)
{
  size_t i;
  for (i = 0; v && i < n; i++)
    if (!isfinite(v[i]))
      return rkin_err_set(err, RKIN_EINVAL, "%s[%zu] ('%s') = %g is not "
                          "finite", what, i,
                          states ? rkin_model_state_name(m, i)
                                 : rkin_model_param_name(m, i), v[i]);
  return RKIN_OK;
}

static int check_times(const rkin_solve_req *r, rkin_err *err)
{
  size_t k;
  if (!isfinite(r->t0) || !isfinite(r->t1) || r->t1 < r->t0)
    return rkin_err_set(err, RKIN_EINVAL, "integration interval [t0, t1] = "
                        "[%g, %g] h is invalid (expected finite t0 <= t1)",
                        r->t0, r->t1);
  if (r->n_times && !r->times)
    return rkin_err_set(err, RKIN_EINVAL, "n_times = %zu but times is NULL",
                        r->n_times);
  for (k = 0; k < r->n_times; k++) {
    double t = r->times[k];
    if (isnan(t))
      return rkin_err_set(err, RKIN_EINVAL, "output times[%zu] is NaN", k);
    if (t < r->t0 || t > r->t1)
      return rkin_err_set(err, RKIN_EINVAL, "output times[%zu] = %g h is "
                          "outside [t0, t1] = [%g, %g] h", k, t, r->t0,
                          r->t1);
    if (k && t < r->times[k - 1])
      return rkin_err_set(err, RKIN_EINVAL, "output times[%zu] = %g h is "
                          "earlier than times[%zu] = %g h (output times must "
                          "be non-decreasing)", k, t, k - 1,
                          r->times[k - 1]);
  }
  return RKIN_OK;
}

/* The switch times and parameters of time-varying parameters, and the
 * dose records' own parameters. */
static int check_pieces(const rkin_solver *s, const rkin_solve_req *r,
                        rkin_err *err)
{
  size_t k, nrec = r->dosing ? rkin_dosing_nrecords(r->dosing) : 0;
  char what[48];
  int rc;
  if (r->n_pw && (!r->pw_t || !r->pw_params))
    return rkin_err_set(err, RKIN_EINVAL, "n_pw = %zu but pw_t or "
                        "pw_params is NULL", r->n_pw);
  for (k = 0; k < r->n_pw; k++) {
    if (!isfinite(r->pw_t[k]) || (k && r->pw_t[k] < r->pw_t[k - 1]))
      return rkin_err_set(err, RKIN_EINVAL, "parameter switch time "
                          "pw_t[%zu] = %g h is invalid (expected finite "
                          "times that do not decrease)", k, r->pw_t[k]);
    snprintf(what, sizeof what, "pw_params[%zu]", k);
    if ((rc = check_vector(r->pw_params + k * s->n_par, s->n_par, what,
                           s->m, 0, err)))
      return rc;
  }
  for (k = 0; r->rec_params && k < nrec; k++) {
    snprintf(what, sizeof what, "rec_params[%zu]", k);
    if ((rc = check_vector(r->rec_params + k * s->n_par, s->n_par, what,
                           s->m, 0, err)))
      return rc;
  }
  return RKIN_OK;
}

static int check_req(const rkin_solver *s, const rkin_solve_req *r,
                     const rkin_solve_res *res, rkin_err *err)
{
  size_t k, nq = s->n + s->n_out;
  int rc = check_times(r, err);
  if (rc) return rc;
  if ((rc = check_vector(r->y0, s->n, "y0", s->m, 1, err))
      || (rc = check_vector(r->params, s->n_par, "params", s->m, 0, err)))
    return rc;
  for (k = 1; r->out_rec && k < r->n_times; k++)
    if (r->times[k] == r->times[k - 1] && r->out_rec[k] < r->out_rec[k - 1])
      return rkin_err_set(err, RKIN_EINVAL, "out_rec[%zu] = %d is less than "
                          "out_rec[%zu] = %d at the same time %g h (record "
                          "counts must not decrease)", k, r->out_rec[k],
                          k - 1, r->out_rec[k - 1], r->times[k]);
  if (r->n_tia && !r->tia)
    return rkin_err_set(err, RKIN_EINVAL, "n_tia = %zu but tia is NULL",
                        r->n_tia);
  if (r->n_tia && !res->tia)
    return rkin_err_set(err, RKIN_EINVAL, "n_tia = %zu but res->tia is "
                        "NULL (nowhere to put the integrals)", r->n_tia);
  for (k = 0; k < r->n_tia; k++)
    if (r->tia[k] < 0 || (size_t)r->tia[k] >= nq)
      return rkin_err_set(err, RKIN_EINVAL, "tia[%zu] = %d is invalid "
                          "(expected a state 0..%zu or an output %zu..%zu of "
                          "model '%s')", k, r->tia[k], s->n - 1, s->n,
                          nq - 1, rkin_model_name(s->m));
  if ((rc = check_pieces(s, r, err))) return rc;
  if (r->dosing) return rkin_dosing_check(r->dosing, s->n, err);
  return RKIN_OK;
}

/* Sensitivities of outputs that are not linear in the states, by the chain
 * rule: d out / d dir = G_y S + G_p dir, G from the model's symbolic
 * partials at the output time. */
static void emit_sens_nonlinear(rkin_solver *s, size_t k, const double *y)
{
  size_t n = s->n, np = s->n_par, nd = s->n_dir, no = s->n_out, w = n + np;
  size_t o, j, d;
  double t = s->req->times[k], *dst = s->dout + k * no * nd;
  int rc = rkin_model_output_partials(s->m, t, y, s->p, s->G, s->work);
  if (rc) {
    if (s->out_bad < 0) {
      s->out_bad = rc < 0 && rc >= -(int)(no * w) ? (-1 - rc) / (int)w : 0;
      s->out_bad_t = t;
    }
    return;
  }
  for (o = 0; o < no; o++)
    for (d = 0; d < nd; d++) {
      double v = 0;
      for (j = 0; j < n; j++) v += s->G[o * w + j] * s->S[j * nd + d];
      for (j = 0; j < np; j++) v += s->G[o * w + n + j] * s->dir[d * np + j];
      dst[o * nd + d] = v;
    }
}

/* CVODES path: d out = (d out / dy) S + (d out / dp) dir, the first
 * from C(p) (linear outputs, once per run) or the symbolic partials, the
 * second from the model's parameter-derivative tape. */
static void emit_sens_cv(rkin_solver *s, size_t k, const double *y)
{
  size_t n = s->n, np = s->n_par, nd = s->n_dir, no = s->n_out, w = n + np;
  size_t o, j, d;
  double t = s->req->times[k], *dst = s->dout + k * no * nd;
  double *op = s->sfp + n * nd;
  const int lin = rkin_model_outputs_linear(s->m);
  int rc = rkin_model_rhs_dparams(s->m, t, y, s->p, s->dir, nd, s->sfp, op,
                                  s->work);
  if (!rc && !lin) rc = rkin_model_output_partials(s->m, t, y, s->p, s->G,
                                                   s->work);
  if (rc) {
    if (s->out_bad < 0) {
      s->out_bad = 0;
      s->out_bad_t = t;
    }
    return;
  }
  for (o = 0; o < no; o++)
    for (d = 0; d < nd; d++) {
      double v = op[o * nd + d];
      for (j = 0; j < n; j++)
        v += (lin ? s->Cout[o * n + j] : s->G[o * w + j]) * s->S[j * nd + d];
      dst[o * nd + d] = v;
    }
}

/* dst = C S + dC y: linear outputs' sensitivities (exact path). */
static inline __attribute__((always_inline)) void
dout_linear(const double *C, const double *dC, const double *S,
            const double *y, double *dst, size_t n, size_t nd, size_t no)
{
  size_t o, j, d;
  for (o = 0; o < no; o++)
    for (d = 0; d < nd; d++) {
      double t = 0;
      for (j = 0; j < n; j++)
        t += C[o * n + j] * S[j * nd + d] + dC[(d * no + o) * n + j] * y[j];
      dst[o * nd + d] = t;
    }
}

/* Sensitivities of the states and outputs at output k. */
static void emit_sens(rkin_solver *s, size_t k, const double *y)
{
  size_t n = s->n, nd = s->n_dir, no = s->n_out;
  if (s->dy) memcpy(s->dy + k * n * nd, s->S, n * nd * sizeof *s->S);
  if (s->dout && no && s->use_cv) {
    emit_sens_cv(s, k, y);
  } else if (s->dout && no && !rkin_expath_output_matrix(s->ex)) {
    emit_sens_nonlinear(s, k, y);
  } else if (s->dout && no) {
    const double *C = rkin_expath_output_matrix(s->ex);
    const double *dC = rkin_expath_doutput(s->ex);
    /* (n = nd = 2 takes emit_22) */
    dout_linear(C, dC, s->S, y, s->dout + k * no * nd, n, nd, no);
  }
}

/* emit for n = n_dir = 2 and linear outputs on the exact path (every
 * prediction of a population PK fit), in locals: the general route below
 * reloads s's fields after each store and asks the exact path for C three
 * times. The same operations in the same order, the sums' "0 +" kept. */
static void emit_22(rkin_solver *s, size_t k, const double *y)
{
  const double *C = s->C22, *dC = s->dC22, *S = s->S;
  double y0 = y[0], y1 = y[1], S00 = S[0], S01 = S[1], S10 = S[2];
  double S11 = S[3], *out = s->res->out, *dst = s->dout;
  size_t no = s->n_out, o;
  if (s->dy) memcpy(s->dy + k * 4, S, 4 * sizeof *S);
  if (dst && no) {
    dst += k * no * 2;
    for (o = 0; o < no; o++) {
      const double *c = C + o * 2, *d0 = dC + o * 2, *d1 = dC + (no + o) * 2;
      dst[o * 2] = (0 + (c[0] * S00 + d0[0] * y0)) + (c[1] * S10 + d0[1] * y1);
      dst[o * 2 + 1] = (0 + (c[0] * S01 + d1[0] * y0))
                       + (c[1] * S11 + d1[1] * y1);
    }
  }
  if (s->res->y) memcpy(s->res->y + k * 2, y, 2 * sizeof *y);
  if (!out || !no) return;
  out += k * no;
  for (o = 0; o < no; o++) {
    double v = (0 + C[o * 2] * y0) + C[o * 2 + 1] * y1;
    out[o] = v;
    if (!isfinite(v) && s->out_bad < 0) {
      s->out_bad = (int)o;
      s->out_bad_t = s->req->times[k];
    }
  }
}

static void emit(void *ctx, const double *y)
{
  rkin_solver *s = ctx;
  size_t k = s->k_out++;
  if (s->C22) {
    emit_22(s, k, y);
    return;
  }
  if (s->n_dir) emit_sens(s, k, y);
  if (s->res->y) memcpy(s->res->y + k * s->n, y, s->n * sizeof *y);
  if (s->res->out && s->n_out && s->n_dir && !s->use_cv
      && rkin_expath_output_matrix(s->ex)) {
    /* Linear outputs: C(p) y, C built once per run, not the tape per
     * output time. */
    const double *C = rkin_expath_output_matrix(s->ex);
    double *out = s->res->out + k * s->n_out;
    size_t o, j;
    for (o = 0; o < s->n_out; o++) {
      double v = 0;
      for (j = 0; j < s->n; j++) v += C[o * s->n + j] * y[j];
      out[o] = v;
      if (!isfinite(v) && s->out_bad < 0) {
        s->out_bad = (int)o;
        s->out_bad_t = s->req->times[k];
      }
    }
  } else if (s->res->out && s->n_out) {
    double t = s->req->times[k];
    int rc = rkin_model_outputs(s->m, t, y, s->p, s->res->out + k * s->n_out,
                                s->work);
    if (rc && s->out_bad < 0) {
      s->out_bad = -1 - rc;
      s->out_bad_t = t;
    }
  }
}

static int grow_q(rkin_solver *s, size_t nq)
{
  double *q;
  if (nq <= s->cap_q) return RKIN_OK;
  q = realloc(s->q, nq * sizeof *q);
  if (!q) return RKIN_ENOMEM;
  s->q = q;
  s->cap_q = nq;
  q = realloc(s->ss_q, nq * sizeof *q);
  if (!q) return RKIN_ENOMEM;
  s->ss_q = q;
  s->cap_ss_q = nq;
  return RKIN_OK;
}

static void reset_state(rkin_solver *s, const rkin_event *e, int amounts)
{
  if (amounts) memset(s->y, 0, s->n * sizeof *s->y);
  if (amounts && s->n_dir) memset(s->S, 0, s->n * s->n_dir * sizeof *s->S);
  if (s->sens_jumps)
    memset(s->drate, 0, s->n * s->n_dir * sizeof *s->drate);
  memset(s->rate, 0, s->n * sizeof *s->rate);
  s->reset_rec = e->rec;
  s->reset_t = e->time;
}

/* The directional derivatives of an infusion's rate (*dr) and duration
 * (*ddur) in direction d, with A' = AMT dF + F dAMT (the derivative of
 * the amount given, dAMT from damt): a given RATE R (derivative dR from
 * drec): dR and A' / R - F AMT dR / R^2; RATE -1 (R from the model): dR
 * and the same; RATE -2 (D from the model, rate F AMT / D): A' / D - F
 * AMT dD / D^2 and dD. */
static void inf_derivs(const rkin_solver *s, const rkin_dose *r, int rec,
                       size_t d, double *dr, double *ddur)
{
  size_t n = s->n, nd = s->n_dir, c = (size_t)r->cmt;
  size_t ir = (size_t)RKIN_MOD_RATE * n + c, id = (size_t)RKIN_MOD_DUR * n
                                                  + c;
  const double *mods = s->mods_on ? rkin_rec_mods(s, (size_t)rec) : NULL;
  const double *dm = s->sens_mods ? rkin_rec_dmods(s, (size_t)rec) : NULL;
  double f = mods ? mods[RKIN_MOD_F * n + c] : 1.0;
  double dF = dm ? dm[(RKIN_MOD_F * n + c) * nd + d] : 0;
  double dA = s->damt ? s->damt[d * s->n_rec + (size_t)rec] : 0;
  double ap = r->amount * dF + f * dA;
  if (r->rate == -1) {
    double R = mods[ir], dR = dm ? dm[ir * nd + d] : 0;
    *dr = dR;
    *ddur = ap / R - f * r->amount * dR / (R * R);
  } else if (r->rate == -2) {
    double D = mods[id], dD = dm ? dm[id * nd + d] : 0;
    *dr = ap / D - f * r->amount * dD / (D * D);
    *ddur = dD;
  } else {
    double dR = s->drec ? s->drec[d * s->n_rec + (size_t)rec] : 0;
    *dr = dR;
    *ddur = ap / r->rate - f * r->amount * dR / (r->rate * r->rate);
  }
}

/* f(y-) - f(y+) of a bolus b into cmt c (y = y+ after it), for the jump
 * of a lagged bolus: -A b e_c on the exact path, the model's right-hand
 * side on both sides on the CVODES path, both at the parameters in force
 * at the (lagged) dose time. Into s->lagv. */
static void lag_jump(rkin_solver *s, const rkin_event *e)
{
  size_t n = s->n, c = (size_t)e->cmt, i;
  if (!s->use_cv) {
    for (i = 0; i < n; i++) s->lagv[i] = -s->Asens[i * n + c] * e->value;
    return;
  }
  memcpy(s->ya, s->y, n * sizeof *s->ya);
  s->ya[c] -= e->value;
  if (rkin_model_rhs(s->m, e->time, s->ya, s->p, s->lagv, s->work)
      || rkin_model_rhs(s->m, e->time, s->y, s->p, s->fa, s->work)) {
    /* non-finite: the integration reports it with the state's name */
    memset(s->lagv, 0, n * sizeof *s->lagv);
    return;
  }
  for (i = 0; i < n; i++) s->lagv[i] -= s->fa[i];
}

/* The jump of the sensitivities at a dose whose amount (F, damt), time
 * (ALAG), rate (R, drec) or duration (D) move along the directions: at a
 * discontinuity at tau(p), S+ = S- + (f(tau-) - f(tau+)) dtau + d(jump):
 * a bolus b = F AMT gives (f(y-) - f(y+)) dALAG + (AMT dF + F dAMT) e_c;
 * an infusion start -R e_c dALAG, its end +R e_c d(ALAG + duration). The
 * rate's own derivative is carried in drate (the forcing of S while the
 * infusion runs). */
static void sens_jump(rkin_solver *s, const rkin_event *e)
{
  size_t n = s->n, nd = s->n_dir, c = (size_t)e->cmt, i, d;
  const rkin_dose *r = rkin_dosing_record(s->req->dosing, (size_t)e->rec);
  /* the record's modifiers: at the parameters of its own time */
  const double *dm = s->sens_mods ? rkin_rec_dmods(s, (size_t)e->rec)
                                  : NULL;
  const double *dF = dm ? dm + (RKIN_MOD_F * n + c) * nd : NULL;
  const double *dL = dm ? dm + (RKIN_MOD_LAG * n + c) * nd : NULL;
  double *S = s->S, dr, ddur;
  double f = s->mods_on ? rkin_rec_mods(s, (size_t)e->rec)[RKIN_MOD_F * n
                                                           + c] : 1.0;
  int lag_done = 0;
  for (d = 0; d < nd; d++) {
    double lag = dL ? dL[d] : 0;
    double dA = s->damt ? s->damt[d * s->n_rec + (size_t)e->rec] : 0;
    switch (e->kind) {
    case RKIN_EV_BOLUS:
      if (lag != 0 && !lag_done) {
        lag_jump(s, e);
        lag_done = 1;
      }
      for (i = 0; lag != 0 && i < n; i++) S[i * nd + d] += lag * s->lagv[i];
      if (lag != 0) s->lag_moved_t = e->time;   /* (the model's events) */
      S[c * nd + d] += r->amount * (dF ? dF[d] : 0) + f * dA;
      break;
    case RKIN_EV_INF_ON:
      inf_derivs(s, r, e->rec, d, &dr, &ddur);
      S[c * nd + d] -= lag * e->value;
      s->drate[c * nd + d] += dr;
      if (lag != 0) s->lag_moved_t = e->time;
      break;
    case RKIN_EV_SS_ON:
      inf_derivs(s, r, e->rec, d, &dr, &ddur);
      s->drate[c * nd + d] += dr;
      break;
    case RKIN_EV_INF_OFF:
      inf_derivs(s, r, e->rec, d, &dr, &ddur);
      S[c * nd + d] += (lag + ddur) * e->value;
      s->drate[c * nd + d] -= dr;
      if (lag + ddur != 0) s->lag_moved_t = e->time;
      break;
    default:
      break;
    }
  }
}

/* Applies one event (before_t0: only its effect on the rates, the amounts
 * being in y0); a rate back to (rounding of) zero becomes 0 exactly, so a
 * finished infusion leaves no residual input. */
static int apply(rkin_solver *s, const rkin_event *e, int before_t0,
                 long *steps, rkin_err *err)
{
  double *r = &s->rate[e->cmt];
  const rkin_dose *rec;
  int rc;
  if (e->rec < s->cancel_rec) return RKIN_OK;
  /* A reset cancels what earlier records were still to do for doses
   * nominally given by then: running infusions, lagged doses. */
  if (e->rec < s->reset_rec && e->start <= s->reset_t
      && e->kind != RKIN_EV_RESET && e->kind != RKIN_EV_SS)
    return RKIN_OK;
  switch (e->kind) {
  case RKIN_EV_BOLUS:
    if (!before_t0) s->y[e->cmt] += e->value;
    if (!before_t0 && s->sens_jumps) sens_jump(s, e);
    break;
  case RKIN_EV_INF_ON:
    *r += e->value;
    if (!before_t0 && s->sens_jumps) sens_jump(s, e);
    break;
  case RKIN_EV_SS_ON:
    *r += e->value;
    if (!before_t0 && s->sens_jumps) sens_jump(s, e);
    break;
  case RKIN_EV_INF_OFF:
    *r -= e->value;
    if (!before_t0 && s->sens_jumps) sens_jump(s, e);
    /* (not at a zero-amount infusion's end: others' drate stays) */
    if (e->value > 0 && fabs(*r) <= 1e-12 * e->value) {
      size_t d;
      *r = 0;
      for (d = 0; s->sens_jumps && d < s->n_dir; d++)
        s->drate[(size_t)e->cmt * s->n_dir + d] = 0;
    }
    break;
  case RKIN_EV_RESET:
    reset_state(s, e, !before_t0);
    break;
  case RKIN_EV_SS:
    rec = rkin_dosing_record(s->req->dosing, (size_t)e->rec);
    if (!before_t0 && rkin_model_events(s->m))
      return rkin_err_set(err, RKIN_EINVAL, "dose record %d: a steady state "
                          "(SS %d) of model '%s' with events is not "
                          "implemented", e->rec + 1, rec->ss,
                          rkin_model_name(s->m));
    if (rec->ss == 1) {
      reset_state(s, e, !before_t0);
      s->cancel_rec = e->rec;
    }
    if (before_t0) break;
    if (s->n_dir && !(rec->ii > 0))
      return rkin_err_set(err, RKIN_EINVAL, "dose record %d: sensitivities "
                          "of the constant-infusion steady state are not "
                          "implemented (use finite differences)", e->rec + 1);
    {
      rkin_dose_eff eff;
      size_t i;
      rc = rkin_dosing_effective(rec, (size_t)e->rec, s->mods_on
                                 ? rkin_rec_mods(s, (size_t)e->rec) : NULL,
                                 s->n, &eff, err);
      /* the states' Newton iterations need no sensitivities */
      if (s->n_dir && s->use_cv) rkin_cvpath_sens_hold(s->cv, 1);
      if (!rc)
        rc = rec->ii > 0 ? rkin_ss_periodic(s, rec, (size_t)e->rec, &eff,
                                       e->time, steps, err)
                         : rkin_ss_constant(s, rec, (size_t)e->rec, &eff,
                                            e->time,
                                            err);
      if (s->n_dir && s->use_cv) rkin_cvpath_sens_hold(s->cv, 0);
      if (!rc && s->n_dir)
        rc = rkin_ss_sens(s, rec, (size_t)e->rec, &eff, e->time, steps,
                          err);
      if (rc) return rc;
      for (i = 0; i < s->n; i++) s->y[i] += s->ss_x[i];
      for (i = 0; s->n_dir && i < s->n * s->n_dir; i++) s->S[i] += s->ss_S[i];
    }
    break;
  }
  return RKIN_OK;
}

static int advance(rkin_solver *s, double ts, double te, size_t n_tout,
                   long *steps, rkin_err *err)
{
  /* no output times: times may be NULL, and NULL + 0 is undefined */
  const double *tout = s->req->times ? s->req->times + s->k_out : NULL;
  if (s->use_cv)
    return rkin_cvpath_advance(s->cv, ts, te, s->y, s->rate, tout, n_tout,
                               emit, s, s->q, steps, err);
  if (s->n_dir)
    return rkin_expath_advance_sens(s->ex, ts, te, s->y, s->S, s->rate,
                                    s->sens_jumps ? s->drate : NULL, tout,
                                    n_tout, emit, s, err);
  return rkin_expath_advance(s->ex, ts, te, s->y, s->rate, tout, n_tout,
                             emit, s, s->q, err);
}

/* Each dose record's modifiers at its own parameters (rec_params) into
 * s->recmods, computed once for a run of equal rows. */
static int record_mods(rkin_solver *s, const rkin_solve_req *r,
                       rkin_err *err)
{
  size_t nrec = rkin_dosing_nrecords(r->dosing), w = RKIN_MOD_N * s->n;
  size_t i, np = s->n_par;
  int rc;
  if (nrec * w > s->cap_recmods) {
    double *q = realloc(s->recmods, nrec * w * sizeof *q);
    if (!q)
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for the dose "
                          "modifiers of %zu records", nrec);
    s->recmods = q;
    s->cap_recmods = nrec * w;
  }
  for (i = 0; i < nrec; i++) {
    const double *pi = r->rec_params + i * np;
    if (i && !memcmp(pi, pi - np, np * sizeof *pi))
      memcpy(s->recmods + i * w, s->recmods + (i - 1) * w, w * sizeof *pi);
    else if ((rc = rkin_model_dose_mods(s->m, pi, s->recmods + i * w, err)))
      return rkin_err_prefix(err, "dose record %zu: ", i + 1);
  }
  s->mods_stride = w;
  return RKIN_OK;
}

/* The run's events: with the model's dose modifiers at p when the model
 * has any or a record takes its rate or duration from the model. */
static int run_events(rkin_solver *s, const rkin_solve_req *r,
                      const double *p, rkin_err *err)
{
  int rc;
  s->mods_on = r->dosing && (rkin_model_has_dose_mods(s->m)
                             || rkin_dosing_needs_model(r->dosing));
  s->mods_stride = 0;
  if (!s->mods_on && !s->keep_on) {
    s->ev = rkin_dosing_events(r->dosing);
    s->nev = rkin_dosing_nevents(r->dosing);
    return RKIN_OK;
  }
  if (s->mods_on && (rc = rkin_model_dose_mods(s->m, p, s->mods, err)))
    return rc;
  s->mods_stride = 0;
  if (s->mods_on && r->rec_params && (rc = record_mods(s, r, err)))
    return rc;
  /* (recmods may be left from an earlier run: only a stride says it is
   * this run's) */
  if ((rc = rkin_dosing_expand_rec(r->dosing, !s->mods_on ? NULL
                                   : s->mods_stride ? s->recmods : s->mods,
                                   s->mods_stride, s->n,
                                   s->keep_on ? s->keep : NULL, &s->evbuf,
                                   &s->cap_evbuf, &s->nev, err)))
    return rc;
  s->ev = s->evbuf;
  return RKIN_OK;
}

/* Parameters from the next switch time on (req->pw_t) once the walk is
 * at t: every switch at or before t not made yet; the path restarts
 * with the last one's parameters (and directions, with sensitivities).
 * The states and their sensitivities are continuous across a switch:
 * the sensitivity equations go on from the same S with the new
 * parameters' directions (CVODES: the next segment's CVodeReInit and
 * CVodeSensReInit start from S, the right-hand side's df/dp along the
 * new directions). */
static int begin_piece(rkin_solver *s, size_t k, rkin_err *err)
{
  const rkin_solve_req *r = s->req;
  int rc;
  s->p = r->pw_params + k * s->n_par;
  if (s->n_dir && r->pw_dir) s->dir = r->pw_dir + k * s->n_dir * s->n_par;
  if (s->n_dir && !s->use_cv) {
    if (s->sens_mods
        && (rc = rkin_model_linear_matrix(s->m, s->p, s->Asens, err)))
      return rc;
    return rkin_expath_begin_sens(s->ex, s->p, s->dir, s->n_dir, err);
  }
  if (!s->use_cv)
    return rkin_expath_begin(s->ex, s->p, r->tia, r->n_tia, err);
  if ((rc = rkin_cvpath_begin(s->cv, s->p, r->tia, r->n_tia, err))
      || !s->n_dir)
    return rc;
  if (s->n_out && s->dout && rkin_model_outputs_linear(s->m)
      && (rc = rkin_model_output_matrix(s->m, s->p, s->Cout, err)))
    return rc;
  return rkin_cvpath_sens(s->cv, s->dir, s->n_dir, s->S, s->drate, s->dq,
                          err);
}

static int switch_params(rkin_solver *s, double t, rkin_err *err)
{
  const rkin_solve_req *r = s->req;
  size_t k0 = s->k_pw;
  while (s->k_pw < r->n_pw && r->pw_t[s->k_pw] <= t) s->k_pw++;
  return s->k_pw == k0 ? RKIN_OK : begin_piece(s, s->k_pw - 1, err);
}

/* The walk: at each breakpoint (t0, each event time in (t0, t1), t1) apply
 * its events, report outputs at that time, then integrate to the next
 * breakpoint with the outputs strictly inside reported on the way. */
static int walk(rkin_solver *s, const rkin_solve_req *r, long *steps,
                rkin_err *err)
{
  const rkin_event *ev = s->ev;
  size_t nev = s->nev, e = 0, nk;
  double t = r->t0, te;
  int rc;
  s->cancel_rec = s->reset_rec = -1;
  s->reset_t = -HUGE_VAL;
  s->k_pw = 0;
  /* Infusions running before t0 still run; earlier boluses are in y0. */
  for (; e < nev && ev[e].time < r->t0; e++)
    if ((rc = apply(s, &ev[e], 1, steps, err))) return rc;
  /* switches before t0 are in force from its start */
  while (s->k_pw < r->n_pw && r->pw_t[s->k_pw] < r->t0) s->k_pw++;
  if (s->k_pw && (rc = begin_piece(s, s->k_pw - 1, err))) return rc;
  for (;;) {
    /* LOCF: a switch at t comes before the events and outputs there */
    if (r->pw_locf && (rc = switch_params(s, t, err))) return rc;
    if (r->out_rec) {
      size_t ee = e, i;
      int lo = INT_MIN;
      while (ee < nev && ev[ee].time <= t
             && (ev[ee].time < r->t1 || r->events_at_t1))
        ee++;
      /* each output sees the events of the records before it */
      while (s->k_out < r->n_times && r->times[s->k_out] <= t) {
        int hi = r->out_rec[s->k_out];
        for (i = e; i < ee; i++)
          if (ev[i].rec >= lo && ev[i].rec < hi
              && (rc = apply(s, &ev[i], 0, steps, err)))
            return rc;
        if (hi > lo) lo = hi;
        emit(s, s->y);
      }
      for (i = e; i < ee; i++)
        if (ev[i].rec >= lo && (rc = apply(s, &ev[i], 0, steps, err)))
          return rc;
      e = ee;
    }
    if (r->pre_dose && !r->out_rec)
      while (s->k_out < r->n_times && r->times[s->k_out] == t
             && e < nev && ev[e].time == t
             && (ev[e].time < r->t1 || r->events_at_t1))
        emit(s, s->y);
    for (; e < nev && ev[e].time <= t
           && (ev[e].time < r->t1 || r->events_at_t1); e++)
      if ((rc = apply(s, &ev[e], 0, steps, err))) return rc;
    /* the model's events at t0 and after the doses at t */
    if (s->mev_on
        && (rc = rkin_cvpath_events_at(s->cv, t, s->y, s->n_dir
                                       && s->lag_moved_t == t
                                       ? "a dose given then has a lag time "
                                         "(ALAG) that moves with the "
                                         "parameters" : NULL, err)))
      return rc;
    while (s->k_out < r->n_times && r->times[s->k_out] <= t)
      emit(s, s->y);
    if (t >= r->t1) return RKIN_OK;
    /* NOCB: after them (the values of a record advance the system to
     * it, from the previous record on) */
    if (!r->pw_locf && (rc = switch_params(s, t, err))) return rc;
    te = e < nev && ev[e].time < r->t1 ? ev[e].time : r->t1;
    /* (> t: a switch not made cannot hold the walk at t) */
    if (s->k_pw < r->n_pw && r->pw_t[s->k_pw] > t && r->pw_t[s->k_pw] < te)
      te = r->pw_t[s->k_pw];
    for (nk = 0; s->k_out + nk < r->n_times
                 && r->times[s->k_out + nk] < te; nk++)
      ;
    rc = advance(s, t, te, nk, steps, err);
    if (rc) return rc;
    t = te;
  }
}

int rkin_solver_run(rkin_solver *s, const rkin_solve_req *req,
                    rkin_solve_res *res, rkin_err *err)
{
  const double *p;
  long steps = 0;
  int rc;
  if (!s || !req || !res)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_solver_run: NULL argument");
  res->n_steps = 0;
  s->sens_mods = 0;
  s->keep_on = 0;
  rc = check_req(s, req, res, err);
  if (rc) return rc;
  p = req->params ? req->params : rkin_model_defaults(s->m);
  if (grow_q(s, req->n_tia))
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu TIA "
                        "quantities", req->n_tia);
  if (req->y0)
    memcpy(s->y, req->y0, s->n * sizeof *s->y);
  else
    memset(s->y, 0, s->n * sizeof *s->y);
  memset(s->rate, 0, s->n * sizeof *s->rate);
  if (req->n_tia) memset(s->q, 0, req->n_tia * sizeof *s->q);
  s->req = req;
  s->res = res;
  s->p = p;
  s->k_out = 0;
  s->out_bad = -1;
  s->use_cv = !s->ex;
  if (s->o.path == RKIN_PATH_AUTO && needs_cvodes(s, req)) {
    if (!s->cv && !(s->cv = rkin_cvpath_new(s->m, &s->o, err))) return
        err ? err->code : RKIN_ENOMEM;
    s->use_cv = 1;
  }
  s->last = s->use_cv ? RKIN_PATH_CVODES : RKIN_PATH_EXACT;
  rc = run_events(s, req, p, err);
  if (!rc)
    rc = s->use_cv ? rkin_cvpath_begin(s->cv, p, req->tia, req->n_tia, err)
                   : rkin_expath_begin(s->ex, p, req->tia, req->n_tia, err);
  s->mev_on = s->use_cv && rkin_cvpath_has_events(s->cv);
  if (s->mev_on) rkin_cvpath_events_start(s->cv);
  if (!rc && s->mev_on && req->ev_carry)
    rc = rkin_cvpath_events_restore(s->cv, req->t0, req->ev_carry, err);
  if (!rc) rc = walk(s, req, &steps, err);
  res->n_steps = steps;
  if (!rc && s->mev_on && req->ev_carry)
    rc = rkin_cvpath_events_save(s->cv, req->t1, req->ev_carry, err);
  if (rc) return rc;   /* the paths' messages name the model */
  if (s->out_bad >= 0)
    return rkin_err_set(err, RKIN_ENONFINITE, "model '%s': output '%s' is "
                        "not finite at t = %g h", rkin_model_name(s->m),
                        rkin_model_output_name(s->m, (size_t)s->out_bad),
                        s->out_bad_t);
  if (req->n_tia) memcpy(res->tia, s->q, req->n_tia * sizeof *s->q);
  if (res->y_end) memcpy(res->y_end, s->y, s->n * sizeof *s->y);
  return RKIN_OK;
}

int rkin_solver_tia_inf(rkin_solver *s, const double *params,
                        const double *y0, const int *tia, size_t n_tia,
                        double *out, rkin_err *err)
{
  size_t k, nq;
  int rc;
  if (!s || !y0 || (n_tia && (!tia || !out)))
    return rkin_err_set(err, RKIN_EINVAL, "rkin_solver_tia_inf: NULL "
                        "argument");
  if (!s->ex)
    return rkin_err_set(err, RKIN_ENOTLINEAR, "rkin_solver_tia_inf: the "
                        "TIA to infinity needs the exact path, but this "
                        "solver for model '%s' uses CVODES",
                        rkin_model_name(s->m));
  nq = s->n + s->n_out;
  for (k = 0; k < n_tia; k++)
    if (tia[k] < 0 || (size_t)tia[k] >= nq)
      return rkin_err_set(err, RKIN_EINVAL, "tia[%zu] = %d is invalid "
                          "(expected 0..%zu)", k, tia[k], nq - 1);
  if ((rc = check_vector(y0, s->n, "y0", s->m, 1, err))
      || (rc = check_vector(params, s->n_par, "params", s->m, 0, err)))
    return rc;
  return rkin_expath_tia_inf(s->ex, params ? params
                                           : rkin_model_defaults(s->m),
                             y0, tia, n_tia, out, err);
}

/* The dose modifiers' derivatives d mods / dp (s->dmp) along the
 * directions dir (n_dir x n_par) into out (RKIN_MOD_N x n x n_dir). */
static void dmods_along(rkin_solver *s, const double *dir, size_t n_dir,
                        double *out)
{
  size_t np = s->n_par, nm = RKIN_MOD_N * s->n, k, d, l;
  for (k = 0; k < nm; k++)
    for (d = 0; d < n_dir; d++) {
      double v = 0;
      for (l = 0; l < np; l++) v += s->dmp[k * np + l] * dir[d * np + l];
      out[k * n_dir + d] = v;
    }
}

/* Each dose record's modifier derivatives (time-varying parameters): at
 * its own parameters (rec_params) along its own directions (rec_dir, or
 * the run's dir), into s->recdmods; a record whose parameters and
 * directions equal the previous one's copies its row. Leaves s->dmp at
 * the last record's parameters. */
static int record_dmods(rkin_solver *s, const rkin_solve_req *r,
                        const double *dir, size_t nd, rkin_err *err)
{
  size_t nrec = rkin_dosing_nrecords(r->dosing), np = s->n_par;
  size_t w = RKIN_MOD_N * s->n * nd, wd = nd * np, i;
  int rc;
  if (nrec * w > s->cap_recdmods) {
    double *q = realloc(s->recdmods, nrec * w * sizeof *q);
    if (!q)
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for the dose "
                          "modifier sensitivities of %zu records", nrec);
    s->recdmods = q;
    s->cap_recdmods = nrec * w;
  }
  for (i = 0; i < nrec; i++) {
    const double *pi = r->rec_params + i * np;
    const double *di = r->rec_dir ? r->rec_dir + i * wd : dir;
    int same_p = i && !memcmp(pi, pi - np, np * sizeof *pi);
    if (same_p && (!r->rec_dir || !memcmp(di, di - wd, wd * sizeof *di))) {
      memcpy(s->recdmods + i * w, s->recdmods + (i - 1) * w,
             w * sizeof *s->recdmods);
      continue;
    }
    if (!same_p && (rc = rkin_model_dose_mods_dparams(s->m, pi, s->dmp,
                                                       err)))
      return rkin_err_prefix(err, "dose record %zu: ", i + 1);
    dmods_along(s, di, nd, s->recdmods + i * w);
  }
  s->dmods_stride = w;
  return RKIN_OK;
}

/* Directional derivatives of the dose modifiers (the run's, and each
 * record's with rec_params), A(p) for sens_jump, and the derivatives of
 * the input rates (drate, 0 at the start). */
static int sens_mods_begin(rkin_solver *s, const double *p,
                           const double *dir, size_t n_dir, rkin_err *err)
{
  size_t n = s->n, np = s->n_par, nm = RKIN_MOD_N * n, need;
  int rc;
  need = nm * n_dir + n * n + nm * np;
  if (need > s->cap_dmods) {
    double *q = realloc(s->dmods, need * sizeof *q);
    if (!q)
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for the dose "
                          "modifier sensitivities");
    s->dmods = q;
    s->cap_dmods = need;
  }
  s->Asens = s->dmods + nm * n_dir;
  s->dmp = s->Asens + n * n;
  if ((!s->use_cv
       && (rc = rkin_model_linear_matrix(s->m, p, s->Asens, err)))
      || (rc = rkin_model_dose_mods_dparams(s->m, p, s->dmp, err)))
    return rc;
  dmods_along(s, dir, n_dir, s->dmods);
  s->dmods_stride = 0;
  if (s->req->rec_params && (rc = record_dmods(s, s->req, dir, n_dir, err)))
    return rc;
  s->sens_mods = 1;
  return RKIN_OK;
}

/* Scratch of a sensitivity run (see solve_impl.h). */
static int sens_scratch(rkin_solver *s, size_t nd, size_t n_tia,
                        rkin_err *err)
{
  size_t n = s->n, no = s->n_out;
  size_t need = n * nd + 3 * n + (n + no) * nd + no * n + n_tia * nd + 1;
  if (need > s->cap_sx) {
    double *q = realloc(s->sx, need * sizeof *q);
    if (!q)
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu "
                          "sensitivity directions", nd);
    s->sx = q;
    s->cap_sx = need;
  }
  s->drate = s->sx;
  s->lagv = s->drate + n * nd;
  s->ya = s->lagv + n;
  s->fa = s->ya + n;
  s->sfp = s->fa + n;
  s->Cout = s->sfp + (n + no) * nd;
  s->dq = s->Cout + no * n;
  memset(s->drate, 0, n * nd * sizeof *s->drate);
  memset(s->dq, 0, n_tia * nd * sizeof *s->dq);
  if (s->n * nd > s->cap_S) {
    double *S = realloc(s->S, s->n * nd * sizeof *S);
    if (!S)
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu "
                          "sensitivity directions", nd);
    s->S = S;
    s->cap_S = s->n * nd;
    S = realloc(s->ss_S, s->n * nd * sizeof *S);
    if (!S)
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu "
                          "sensitivity directions", nd);
    s->ss_S = S;
    S = realloc(s->ss_T, (s->n * nd + 2 * s->n) * sizeof *S);
    if (!S)
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu "
                          "sensitivity directions", nd);
    s->ss_T = S;
  }
  if (s->n_out && !rkin_model_outputs_linear(s->m) && !s->G
      && !(s->G = malloc(s->n_out * (s->n + s->n_par) * sizeof *s->G)))
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for the output "
                        "derivatives");
  return RKIN_OK;
}

/* The zero direction matrix of a run whose parameters do not move. */
static const double *zero_dir(rkin_solver *s, size_t nd, rkin_err *err)
{
  static const double none = 0;
  size_t need = nd * s->n_par;
  if (!need) return &none;
  if (need > s->cap_zdir) {
    double *z = realloc(s->zdir, need * sizeof *z);
    if (!z) {
      rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu sensitivity "
                   "directions", nd);
      return NULL;
    }
    s->zdir = z;
    s->cap_zdir = need;
    memset(z, 0, need * sizeof *z);
  }
  return s->zdir;
}

/* The records of zero amount whose amount moves along some direction
 * (damt != 0) into s->keep: a zero amount gives no events, but its
 * derivative is a jump at the (lagged) dose time, or a rate's derivative
 * over the modelled duration, so their events are made (value 0; see
 * rkin_dosing_expand_rec). s->keep_on: any. */
static int keep_zero(rkin_solver *s, const rkin_dosing *dg,
                     const rkin_sens_req *sq, rkin_err *err)
{
  size_t nrec = s->n_rec, nd = sq->n_dir, i, d;
  s->keep_on = 0;
  if (!sq->damt || !nrec) return RKIN_OK;
  if (nrec > s->cap_keep) {
    unsigned char *k = realloc(s->keep, nrec);
    if (!k)
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu dose "
                          "records", nrec);
    s->keep = k;
    s->cap_keep = nrec;
  }
  for (i = 0; i < nrec; i++) {
    s->keep[i] = 0;
    if (rkin_dosing_record(dg, i)->amount != 0) continue;
    for (d = 0; d < nd && !s->keep[i]; d++)
      s->keep[i] = sq->damt[d * nrec + i] != 0;
    s->keep_on |= s->keep[i];
  }
  return RKIN_OK;
}

int rkin_solver_run_sensx(rkin_solver *s, const rkin_solve_req *req,
                          const rkin_sens_req *sq, rkin_solve_res *res,
                          rkin_sens_res *sr, rkin_err *err)
{
  const double *p, *dir;
  size_t nd, i;
  long steps = 0;
  int rc;
  if (!s || !req || !sq || !res || !sr)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_solver_run_sensx: NULL "
                        "argument");
  nd = sq->n_dir;
  if (nd == 0)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_solver_run_sensx: n_dir = "
                        "0 (expected at least one direction)");
  if (req->n_tia && s->o.path == RKIN_PATH_EXACT)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_solver_run_sensx: TIA "
                        "sensitivities need the CVODES path, but the "
                        "solver's path is forced EXACT");
  s->mev_on = 0;
  s->lag_moved_t = -HUGE_VAL;
  res->n_steps = 0;
  rc = check_req(s, req, res, err);
  if (rc) return rc;
  for (i = 0; sq->dy0 && i < s->n * nd; i++)
    if (!isfinite(sq->dy0[i]))
      return rkin_err_set(err, RKIN_EINVAL, "sensitivity dy0[%zu] = %g is "
                          "not finite", i, sq->dy0[i]);
  s->n_rec = req->dosing ? rkin_dosing_nrecords(req->dosing) : 0;
  for (i = 0; i < s->n_rec * nd; i++)
    if ((sq->damt && !isfinite(sq->damt[i]))
        || (sq->drec && !isfinite(sq->drec[i])))
      return rkin_err_set(err, RKIN_EINVAL, "sensitivity of dose record %zu "
                          "in direction %zu is not finite", i % s->n_rec + 1,
                          i / s->n_rec + 1);
  if ((rc = keep_zero(s, req->dosing, sq, err))) return rc;
  p = req->params ? req->params : rkin_model_defaults(s->m);
  if (!(dir = sq->dir ? sq->dir : zero_dir(s, nd, err)))
    return RKIN_ENOMEM;
  if ((rc = sens_scratch(s, nd, req->n_tia, err))) return rc;
  if (grow_q(s, req->n_tia))
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu TIA "
                        "quantities", req->n_tia);
  s->use_cv = !s->ex || req->n_tia > 0;
  if (s->use_cv && !s->cv && !(s->cv = rkin_cvpath_new(s->m, &s->o, err)))
    return err ? err->code : RKIN_ENOMEM;
  if (req->y0)
    memcpy(s->y, req->y0, s->n * sizeof *s->y);
  else
    memset(s->y, 0, s->n * sizeof *s->y);
  if (sq->dy0)
    memcpy(s->S, sq->dy0, s->n * nd * sizeof *s->S);
  else
    memset(s->S, 0, s->n * nd * sizeof *s->S);
  memset(s->rate, 0, s->n * sizeof *s->rate);
  if (req->n_tia) memset(s->q, 0, req->n_tia * sizeof *s->q);
  s->req = req;
  s->res = res;
  s->p = p;
  s->k_out = 0;
  s->out_bad = -1;
  s->dy = sr->dy;
  s->dout = sr->dout;
  s->dir = dir;
  s->damt = sq->damt;
  s->drec = sq->drec;
  s->last = s->use_cv ? RKIN_PATH_CVODES : RKIN_PATH_EXACT;
  s->sens_mods = 0;
  s->dmods_stride = 0;
  rc = run_events(s, req, p, err);
  if (!rc && s->mods_on) rc = sens_mods_begin(s, p, dir, nd, err);
  if (!rc && s->use_cv) {
    rc = rkin_cvpath_begin(s->cv, p, req->tia, req->n_tia, err);
    if (!rc && s->n_out && sr->dout && rkin_model_outputs_linear(s->m))
      rc = rkin_model_output_matrix(s->m, p, s->Cout, err);
    if (!rc)
      rc = rkin_cvpath_sens(s->cv, dir, nd, s->S, s->drate, s->dq, err);
  } else if (!rc) {
    rc = rkin_expath_begin_sens(s->ex, p, dir, nd, err);
  }
  s->sens_jumps = s->sens_mods || sq->damt || sq->drec;
  /* the model's events, as in rkin_solver_run; S is carried across them
   * (rkin_cvpath_advance / rkin_cvpath_events_at) */
  s->mev_on = s->use_cv && rkin_cvpath_has_events(s->cv);
  if (s->mev_on) rkin_cvpath_events_start(s->cv);
  if (!rc && s->mev_on && req->ev_carry)
    rc = rkin_cvpath_events_restore(s->cv, req->t0, req->ev_carry, err);
  if (!rc) {
    s->n_dir = nd;
    if (!s->use_cv && s->n == 2 && nd == 2) {
      s->C22 = rkin_expath_output_matrix(s->ex);
      s->dC22 = rkin_expath_doutput(s->ex);
    }
    rc = walk(s, req, &steps, err);
    s->n_dir = 0;
    s->C22 = s->dC22 = NULL;
  }
  if (!rc && s->mev_on && req->ev_carry)
    rc = rkin_cvpath_events_save(s->cv, req->t1, req->ev_carry, err);
  s->sens_mods = 0;
  s->sens_jumps = 0;
  s->keep_on = 0;
  s->damt = s->drec = NULL;
  if (s->use_cv) rkin_cvpath_sens(s->cv, NULL, 0, NULL, NULL, NULL, NULL);
  res->n_steps = steps;
  if (rc) return rc;
  if (s->out_bad >= 0)
    return rkin_err_set(err, RKIN_ENONFINITE, "model '%s': output '%s' (or "
                        "its sensitivity) is not finite at t = %g h",
                        rkin_model_name(s->m),
                        rkin_model_output_name(s->m, (size_t)s->out_bad),
                        s->out_bad_t);
  if (req->n_tia) memcpy(res->tia, s->q, req->n_tia * sizeof *s->q);
  if (sr->dtia && req->n_tia)
    memcpy(sr->dtia, s->dq, req->n_tia * nd * sizeof *s->dq);
  if (res->y_end) memcpy(res->y_end, s->y, s->n * sizeof *s->y);
  if (sr->dy_end) memcpy(sr->dy_end, s->S, s->n * nd * sizeof *s->S);
  return RKIN_OK;
}

int rkin_solver_run_sens(rkin_solver *s, const rkin_solve_req *req,
                         const double *dir, size_t n_dir,
                         rkin_solve_res *res, double *dy, double *dout,
                         rkin_err *err)
{
  rkin_sens_req sq = {0};
  rkin_sens_res sr = {0};
  if (!s || !req || !res || !dir)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_solver_run_sens: NULL "
                        "argument");
  if (req && req->n_tia)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_solver_run_sens: n_dir = "
                        "%zu, n_tia = %zu (expected n_dir > 0 and no TIA); "
                        "rkin_solver_run_sensx gives TIA sensitivities",
                        n_dir, req->n_tia);
  sq.n_dir = n_dir;
  sq.dir = dir;
  sr.dy = dy;
  sr.dout = dout;
  return rkin_solver_run_sensx(s, req, &sq, res, &sr, err);
}
