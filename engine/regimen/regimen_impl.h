/* regimen_impl.h - internal: the regimen object, per-patient kernels of
 * the eigen route, the augmented model, per-thread workspaces and the
 * one-cycle step shared by runs, rules and the optimiser. Not installed. */
#ifndef RKIN_REGIMEN_IMPL_H
#define RKIN_REGIMEN_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "tac/imaging.h"
#include "regimen/regimen.h"
#include "solve/solve.h"

/* Kernel of patient i on the eigen route (doubles at i * stride):
 *   phi      n x n     state transition over one interval, e^(A T)
 *   per region r: tau (n), w (n x n): D = tau . y0, I = y0' W y0 (Gy,
 *            Gy^2) for the cycle starting at y0 (after the administration)
 *   lam      2n        eigenvalues (re, im)
 *   vinv     2n x n    inverse eigenvector matrix (complex, row-major)
 *   per region r: u (2n): the region's activity row times V (complex)
 * Activity of region r at t: Re sum_k u_k e^(lam_k t) (vinv y0)_k. */
/* Patient i's number in messages (1-based, in the whole cohort). */
#define RG_ID(r, i) ((r)->sp.first_id + (i) + 1)

struct rkin_regimen {
  rkin_regimen_spec sp;
  rkin_route route;
  size_t n, np, nr;
  double *s;              /* nr S values, Gy/(MBq h) */
  size_t stride;
  double *kern;           /* n_patients x stride (eigen route) */
  int *kstatus;           /* n_patients: 0 eigen, 1 augmented, < 0 error */
  char **kmsg;            /* preparation failure messages */
  size_t n_fallback;
  rkin_model *aug;        /* augmented model, when any patient needs it */
  int *aug_q;             /* nr quantities in the augmented model */
  long steps_total;       /* CVODES steps of all parallel tasks */
};

/* A thread's scratch; members are created on first use. */
typedef struct {
  rkin_regimen *r;
  rkin_solver *solver;         /* augmented model */
  rkin_imaging_ws *img;
  void *eig;                   /* gsl_eigen_nonsymmv_workspace */
  double *buf;                 /* scratch doubles (rg_scratch) */
  long steps;                  /* CVODES steps taken */
  long n_solve, n_solve_sens;  /* augmented cycle solves without and with
                                  sensitivities */
  long n_sens_dirs;            /* sensitivity directions over those */
  long n_vertex;               /* optimisations the vertex shortcut
                                  settled (regimen_vertex.c) */
  long n_vertex_partial;       /* ... that it left to a search of some
                                  plan lengths only */
  long n_warm;                 /* plan-length searches started from the
                                  shortcut's surrogate optimum */
  long n_kkt;                  /* ... whose start was a strict local
                                  maximum: no local search */
  long n_rule_plans;           /* optimisations that made the built-in
                                  rules' start plans (cycle solves) */
  double *aux;                 /* (nr + 1) (RKIN_TAC_MAX_POINTS + 8) + 4 n */
  rkin_mevcarry *carry;        /* the model events of the patient whose
                                  cycles run (set around rg_cycle; NULL:
                                  each cycle starts afresh) */
  rkin_err err;
} rg_ws;

int rg_ws_init(rg_ws *ws, rkin_regimen *r, rkin_err *err);
void rg_ws_clear(rg_ws *ws);

/* Runs fn(ctx, ws, i) for i in [0, n) on the regimen's threads, each
 * with its own workspace; a failure of fn for i is stored by fn itself
 * (per-patient slots). Fails only when a thread or workspace cannot be
 * made. */
typedef void (*rg_task_fn)(void *ctx, rg_ws *ws, size_t i);
int rg_parallel(rkin_regimen *r, size_t n, rg_task_fn fn, void *ctx,
                rkin_err *err);

/* Largest model the eigen route takes (fixed scratch in the kernel). */
#define RG_EIGEN_MAX 64

/* Eigen route (regimen_kernel.c): builds patient i's kernel; returns 0,
 * 1 when the patient must use the augmented route (ill-conditioned
 * eigenvectors), or a negative code with err filled. */
int rg_kernel_build(rg_ws *ws, size_t i, rkin_err *err);
size_t rg_kernel_stride(size_t n, size_t nr);

/* The augmented model (regimen_aug.c). */
int rg_aug_build(rkin_regimen *r, rkin_err *err);

/* One cycle of patient i: y (n states) holds the state at the cycle start
 * before the administration and becomes the end state; a_mbq is given at
 * the start. Per region: tia, dose, g, bed (each nr, may be NULL: not
 * wanted). When img_act is not NULL, the regions' activities at the
 * n_times img_t are written (nr x n_times). */
int rg_cycle(rg_ws *ws, size_t i, double *y, double a_mbq, double *tia,
             double *dose, double *g, double *bed, size_t n_times,
             const double *img_t, double *img_act, rkin_err *err);

/* The two implementations behind rg_cycle. */
int rg_cycle_eigen(rg_ws *ws, size_t i, double *y, double a_mbq,
                   double *tia, double *dose, double *g, double *bed,
                   size_t n_times, const double *img_t, double *img_act);
int rg_cycle_aug(rg_ws *ws, size_t i, double *y, double a_mbq, double *tia,
                 double *dose, double *g, double *bed, size_t n_times,
                 const double *img_t, double *img_act, rkin_err *err);

/* One augmented cycle with the derivatives of its doses and BEDs along k
 * directions in activity space, w[d] this cycle's activity's (regimen_aug.c;
 * forward sensitivities). sc: rg_aug_sens_size(r, k) doubles of scratch. */
size_t rg_aug_sens_size(const rkin_regimen *r, size_t k);
int rg_cycle_aug_sens(rg_ws *ws, size_t i, double *y, double *S,
                      double a_mbq, const double *w, size_t k, double *dose,
                      double *bed, double *gdose, double *gbed, double *sc,
                      rkin_err *err);

/* Built-in rules (regimen_rule.c): the decision for `known`. */
int rg_rule_decide(const rkin_regimen_rule *rule,
                   const rkin_regimen_state *known, double *next_gbq);
int rg_rule_check(const rkin_regimen *r, const rkin_regimen_rule *rule,
                  rkin_err *err);
/* The plan a built-in rule gives patient i when it decides from the
 * truth: act_gbq (max_cycles), *k cycles. */
int rg_rule_plan(rg_ws *ws, size_t i, const rkin_regimen_rule *rule,
                 double *act_gbq, size_t *k, rkin_err *err);
/* The same decisions on other cycles: fn gives the doses, G factors and
 * BEDs (nr each) of a cycle of a GBq after the previous ones. */
typedef int (*rg_cycle_fn)(void *ctx, double a_gbq, double *dose, double *g,
                           double *bed, rkin_err *err);
int rg_rule_plan_by(const rkin_regimen *r, size_t i,
                    const rkin_regimen_rule *rule, rg_cycle_fn fn, void *ctx,
                    double *act_gbq, size_t *k, rkin_err *err);

/* The optimiser's start plans: n plans of max_cycles activities, given,
 * or (rules not NULL) the n rules' plans on the truth, made on first use
 * by rg_starts_get: their cycle solves are spent only on a patient whose
 * plan a search or the vertex shortcut's check needs them for. */
typedef struct {
  size_t n;
  double *plan;                    /* n x max_cycles */
  const rkin_regimen_rule *rules;  /* n built-in rules, or NULL */
  int made;                        /* plan holds the rules' plans */
} rg_starts;
int rg_starts_get(rg_ws *ws, size_t i, rg_starts *s, size_t max_cycles,
                  rkin_err *err);

/* The optimiser's shortcut on the augmented route (regimen_vertex.c):
 * 1 and the plan when certified; 0 when the full search must run for the
 * plan lengths in *search (bit k - 1: k cycles), act / *kk / *obj then
 * holding a feasible plan it must beat (*kk 0: none); or a negative
 * code. warm (max_cycles x max_cycles, may be NULL): row k - 1 the best
 * k-cycle plan on the surrogate, all 0 where none was searched. st (may
 * be NULL): the caller's starts, rules' plans made only when the check
 * on the surrogate needs them. */
int rg_opt_vertex(rg_ws *ws, size_t i, const rkin_regimen_rule *u,
                  rg_starts *st, double *act, size_t *kk, double *obj,
                  uint64_t *search, double *warm, rkin_err *err);

/* For tests: the plan rule gives patient i decided on the surrogate of
 * rg_opt_vertex for u, with nodes lo, x (left out unless lo < x < max)
 * and max, each solved from the empty state: act (rule's max_cycles), *k
 * cycles, and those cycles' doses, G factors and BEDs on the surrogate
 * (rule's max_cycles x nr each). */
int rg_vertex_rule_plan(rg_ws *ws, size_t i, const rkin_regimen_rule *u,
                        double x, const rkin_regimen_rule *rule,
                        double *act, size_t *k, double *dose, double *g,
                        double *bed, rkin_err *err);

/* The optimiser on a workspace (regimen_opt.c); st may be NULL. */
int rg_optimise(rg_ws *ws, size_t i, const rkin_regimen_rule *rule,
                rg_starts *st, double *act_gbq, size_t *k, double *obj,
                rkin_err *err);

#endif
