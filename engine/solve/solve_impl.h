/* solve_impl.h - internal: the rkin_solver workspace shared by solve.c
 * (the walk through events) and steady.c (steady states). Not installed. */
#ifndef RKIN_SOLVE_IMPL_H
#define RKIN_SOLVE_IMPL_H

#include <gsl/gsl_permutation.h>

#include "solve/cvodes_path.h"
#include "solve/exact_path.h"
#include "solve/solve.h"

struct rkin_solver {
  const rkin_model *m;
  rkin_solve_opts o;
  rkin_path path;     /* the path runs take (AUTO resolved) */
  rkin_path last;     /* the path of the last run */
  size_t n, n_out, n_par;
  rkin_cvpath *cv;    /* CVODES: the path, or an AUTO run's fallback */
  rkin_expath *ex;
  int use_cv;         /* this run integrates with cv */
  int mev_on;         /* ... and applies the model's events */
  double *y;          /* current state */
  double *rate;       /* current infusion rate into each state */
  double *q;          /* TIA accumulators */
  size_t cap_q;
  double *work;       /* model scratch for outputs at output times */
  /* output cursor, used by emit() */
  const rkin_solve_req *req;
  rkin_solve_res *res;
  const double *p;
  size_t k_out;
  int out_bad;        /* -1, or the first output found non-finite */
  double out_bad_t;
  /* Forward sensitivities (rkin_solver_run_sens): n_dir > 0 while on. */
  size_t n_dir, cap_S;
  double *S;          /* n x n_dir */
  double *dy, *dout;  /* the caller's arrays, or NULL */
  const double *dir;  /* n_dir x n_par directions */
  /* exact path, n = n_dir = 2, linear outputs: C and dC for emit_22 while
   * a sensitivity run walks (C NULL: the general emit) */
  const double *C22, *dC22;
  double *G;          /* nonlinear outputs: d out / d (y, p) */
  /* Event records: events of records before cancel_rec are skipped (SS =
   * 1 cancels everything pending); an infusion end of a record before
   * reset_rec whose infusion started by reset_t is skipped (a reset
   * cancelled it). */
  int cancel_rec, reset_rec;
  double reset_t;
  /* Steady-state scratch: x, f, g, rates, q (TIA, discarded), n x n. */
  double *ss_x, *ss_f, *ss_g, *ss_r, *ss_q, *ss_J, *ss_Jc;
  double *ss_xp;      /* periodic amounts just before a dose */
  size_t cap_ss_q;
  gsl_permutation *ss_perm;
  /* The run's events: the schedule's own, or made with the model's dose
   * modifiers (F, ALAG, R, D at the run's parameters) into evbuf. */
  const rkin_event *ev;
  size_t nev;
  rkin_event *evbuf;
  size_t cap_evbuf;
  double *mods;       /* RKIN_MOD_N x n */
  int mods_on;
  /* Time-varying parameters: each dose record's modifiers (rec_params;
   * row i at recmods + i * mods_stride, stride 0: s->mods for all) and
   * the next switch (req->pw_t) not yet made. */
  double *recmods;
  size_t cap_recmods, mods_stride, k_pw;
  /* Sensitivities with dose modifiers: their directional derivatives
   * (RKIN_MOD_N x n x n_dir), A(p) of the parameters in force (exact
   * path: the lagged-bolus jump), and scratch for d mods / dp; with
   * rec_params each dose record's own directional derivatives (row i at
   * recdmods + i * dmods_stride, stride 0: dmods for all). */
  int sens_mods;
  double *dmods, *Asens, *dmp, *drate;
  size_t cap_dmods;
  double *recdmods;
  size_t cap_recdmods, dmods_stride;
  double *ss_S;       /* steady-state sensitivities, n x n_dir */
  double *ss_T;       /* CVODES: their map (n x n_dir), then 2 n scratch */
  size_t cap_ss_S;
  /* Jumps of the sensitivities at doses (modifiers, or amounts and rates
   * of records that move along the directions: damt, drec n_dir x n_rec);
   * scratch of sensitivity runs: drate (n x n_dir), lagv, ya, fa (n), sfp
   * ((n + n_out) x n_dir), Cout (n_out x n), dq (n_tia x n_dir). */
  int sens_jumps;
  double lag_moved_t; /* a dose whose time moves with the directions
                         (ALAG) was given at this time (-HUGE_VAL: none) */
  const double *damt, *drec;
  size_t n_rec;
  double *sx, *lagv, *ya, *fa, *sfp, *Cout, *dq;
  size_t cap_sx;
  double *zdir;       /* zero directions (parameters not moving) */
  size_t cap_zdir;
  /* Records of zero amount whose amount moves (damt): their events are
   * made all the same (value 0) so the jumps apply (keep_on: any). */
  unsigned char *keep;
  size_t cap_keep;
  int keep_on;
};

/* The dose modifiers (RKIN_MOD_N x n) and, with sensitivities on, their
 * directional derivatives (RKIN_MOD_N x n x n_dir) of dose record rec:
 * at its own parameters and directions (rec_params, rec_dir) or the
 * run's. */
static inline const double *rkin_rec_mods(const rkin_solver *s, size_t rec)
{
  return s->mods_stride ? s->recmods + rec * s->mods_stride : s->mods;
}

static inline const double *rkin_rec_dmods(const rkin_solver *s, size_t rec)
{
  return s->dmods_stride ? s->recdmods + rec * s->dmods_stride : s->dmods;
}

/* Steady states (steady.c), into s->ss_x: the amounts at time t of the
 * dose of record rec (effective dose e) repeated every r->ii, the earlier
 * doses given at t + lag - k ii (periodic); and the constant-infusion
 * steady state f(t, x) + e->rate = 0 (ii = 0; the rate given or the
 * model's R; F does not apply, there being no amount). */
int rkin_ss_periodic(rkin_solver *s, const rkin_dose *r, size_t rec,
                     const rkin_dose_eff *e, double t, long *steps,
                     rkin_err *err);
int rkin_ss_constant(rkin_solver *s, const rkin_dose *r, size_t rec,
                     const rkin_dose_eff *e, double t, rkin_err *err);
/* After rkin_ss_periodic with sensitivities on (either path): the
 * sensitivities of that steady state into s->ss_S (n x n_dir). */
int rkin_ss_sens(rkin_solver *s, const rkin_dose *r, size_t rec,
                 const rkin_dose_eff *e, double t, long *steps,
                 rkin_err *err);

#endif
