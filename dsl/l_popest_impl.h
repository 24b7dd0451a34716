/* l_popest_impl.h - internal to the "radiokin.popest" binding, shared by
 * l_popmodel.c (the declaration), l_popdata.c (datasets), l_popresult.c
 * (the result table and its texts) and l_popest.c (pm:fit, methods and the
 * opener). Calls run one way: l_popest.c -> the other three, and
 * l_popdata.c -> l_popmodel.c. */
#ifndef RADIOKIN_L_POPEST_IMPL_H
#define RADIOKIN_L_POPEST_IMPL_H

#include <stddef.h>

#include <lua.h>

#include "core/expr.h"
#include "core/model.h"
#include "pop/data.h"
#include "pop/covdecl.h"
#include "pop/popest.h"
#include "pop/saem.h"

#define POPMODEL_MT "radiokin.popmodel"
#define DATA_MT "radiokin.popdata"
#define FITBOX_MT "radiokin.popfitbox"

/* ---------------------------------------------------- l_popmodel.c */

/* Endpoints a declaration may list in observe = {...}. */
#define LPOP_MAX_EP 16

/* A population model (userdata POPMODEL_MT; user value 1: its model). */
typedef struct {
  char *name;
  rkin_graph *g;
  rkin_node *psi;            /* one per model parameter */
  rkin_node *dpsi;           /* n_psi x n_eta: d psi / d eta, symbolic */
  size_t n_psi, n_theta, n_eta, n_cov;
  char **theta_names, **eta_names, **cov_names;
  double *theta_init, *lower, *upper;
  double *omega;             /* n_eta^2 */
  int omega_diag;
  int *omega_block;          /* n_eta block labels, or NULL (l_popfix.c) */
  int *theta_fix, *omega_fix;/* n_theta, n_eta^2 FIX flags, or NULL */
  int sigma_fix[LPOP_MAX_EP * 3]; /* FIX flags in the engine's sigma order */
  rkin_res_model res;
  int log_scale;
  double sigma[3];
  int output;                /* rkin_popmodel.output */
  char *observe;             /* its name; several: "A, B" */
  rkin_pop_method method;
  rkin_covdecl *decl;        /* declared covariates (malloc'd), or NULL */
  size_t n_decl;
  /* Endpoints (observe = {"A", "B"}): n_ep of them, the first also in
   * res, log_scale, sigma and output above. */
  size_t n_ep;
  char *ep_name[LPOP_MAX_EP];
  int ep_output[LPOP_MAX_EP];
  rkin_res_model ep_res[LPOP_MAX_EP];
  int ep_log[LPOP_MAX_EP];
  double ep_sigma[LPOP_MAX_EP][3];
  int ep_scale[LPOP_MAX_EP]; /* rkin_pop_endpoint.scale_var */
  int *eta_occ;              /* n_eta: 1 for an occasion eta, or NULL */
  char *occ_name;            /* occ = "OCC", or NULL */
} lpop;

/* l_popiov.c: iov = {NAME = variance} appends occasion etas (IOV) to the
 * etas and Omega read so far; occ = column name. */
void lrk_popiov_read(lua_State *L, lpop *p, const char *ctx);

/* rk.popest{...} / rk.popest.model{...} -> population model. */
int lrk_popmodel_new(lua_State *L);
int lrk_popmodel_gc(lua_State *L);
/* The population model at idx, or raises. */
lpop *lrk_check_popmodel(lua_State *L, int idx);
/* Field 'method' of the table at t ("focei" / "fo"), def when absent. */
rkin_pop_method lrk_popmodel_method(lua_State *L, int t, const char *ctx,
                                    rkin_pop_method def);

/* ------------------------------------------------------ l_popfix.c */

/* omega = { entry, ... } (with eta = {names}) in the block form: each
 * entry a variance, {variance, fixed = true} or {block = k x k matrix,
 * fixed = bool}, the sizes summing to #eta; the table at om. Fills
 * p->omega, p->omega_block, p->omega_fix. Returns 0 when the table is not
 * in the block form (no entry with a 'block' or 'fixed' field). */
int lrk_popfix_omega_blocks(lua_State *L, lpop *p, const char *ctx, int om);
/* A diagonal omega entry at idx: a variance or {variance, fixed = true};
 * sets p->omega_fix[a][a]. */
double lrk_popfix_variance(lua_State *L, lpop *p, const char *ctx, int idx,
                           size_t a, const char *what);
/* Field sigma_fixed = {"additive", "proportional"} of the declaration at
 * index 1 (after the error model is read). */
void lrk_popfix_sigma(lua_State *L, lpop *p, const char *ctx);
/* Whether element (a, b) of Omega is estimated / in the model's pattern. */
int lrk_popfix_omega_in(const lpop *p, size_t a, size_t b);
int lrk_popfix_omega_free(const lpop *p, size_t a, size_t b);

/* ----------------------------------------------------- l_popdata.c */

/* A dataset (userdata DATA_MT). */
typedef struct {
  rkin_data *d;
  char *path;
  char **state_names, **out_names;   /* the model's, and DVID's order */
  size_t n_states, n_out;
} ldata;

/* Reads a dataset at `path` for the model at model_idx (CMT may then be
 * a state name) and pushes it; raises with the reader's message. */
ldata *lrk_popdata_push(lua_State *L, const char *path, int model_idx,
                        const char *ctx);
/* The same with DVID k selecting output k of the list at dvid_idx (0: the
 * model's outputs in their order). */
ldata *lrk_popdata_push_dvid(lua_State *L, const char *path, int model_idx,
                             int dvid_idx, const char *ctx);
/* Pushes the list of pm's observed outputs when it has several (DVID k
 * then selects its k-th: the order of observe = {...}) and returns its
 * index; pushes nothing and returns 0 otherwise. */
int lrk_popmodel_push_dvid(lua_State *L, const lpop *p);
/* rk.popest.read(path, pm_or_model [, {dvid = {output names}}]) */
int lrk_popdata_read(lua_State *L);
int lrk_popdata_gc(lua_State *L);
int lrk_popdata_index(lua_State *L);

/* ----------------------------------------------------- l_popeval.c */

/* The values of pm:evaluate from the options table at t: fields theta
 * ({NAME = value}), omega (matrix, or {NAME = variance} when diagonal)
 * and sigma ({additive =, proportional =}); each absent one (or entry)
 * keeps the model's initial value. theta n_theta, omega n_eta^2, sigma 2
 * doubles. Raises on unknown names and bad values. */
void lrk_popeval_values(lua_State *L, int t, const char *ctx, const lpop *p,
                        double *theta, double *omega, double *sigma);

/* --------------------------------------------------- l_popresult.c */

/* What the result is built from. */
typedef struct {
  const lpop *p;
  const rkin_popfit *f;
  const rkin_model *m;
  const rkin_data *d;
  const char *data_path;
  size_t n_est;              /* all parameters, estimated and fixed */
  size_t n_free;             /* estimated: rkin_popfit.n_est */
  const size_t *free_idx;    /* n_free: index of each estimated one */
  const int *fixed;          /* n_est FIX flags */
  const double *est, *se;    /* se NULL: no covariance step; NaN: fixed */
  const char *const *names, *const *kinds;
  double aic, bic;
} report;

/* Pushes the result table of a fit (with write_csv and summary). */
void lrk_popresult_push(lua_State *L, const report *r,
                        rkin_pop_method method);
/* Pushes an n x n matrix as an array of rows. */
void lrk_push_matrix(lua_State *L, const double *m, size_t n);
/* "FO" / "FOCE-I". */
const char *lrk_pop_method_name(rkin_pop_method m);


/* ------------------------------------------------------ l_popsaem.c */

/* The SAEM options in the fit options table at t: field 'saem' {burn=,
 * iter=, chains=, seed=, imp_samples=, imp_df=, prior=, component=,
 * block=} and 'then' (the method run after SAEM); defaults when absent. */
void lrk_popsaem_opts(lua_State *L, int t, const char *ctx,
                      rkin_saem_opts *so);
/* r.saem of the result table at rt: the SAEM stage (objectives, estimates,
 * acceptance, mu-referencing, trace). */
void lrk_popsaem_push(lua_State *L, int rt, const lpop *p,
                      const rkin_saem_info *in, const rkin_saem_opts *so,
                      size_t n_sigma);
/* ---------------------------------------------------- l_popcheck.c */

/* Adds simulate_fit, boot_pick, resample and boot_interval to the module
 * table on top of the stack. */
void lrk_popcheck_register(lua_State *L);
/* Sets r.simulate, r.vpc and r.bootstrap on the fit result at `result`
 * (the model at pm_idx and the dataset at data_idx are kept with them). */
void lrk_popcheck_result_methods(lua_State *L, int result, int pm_idx,
                                 int data_idx);

/* The engine's view of population model p over model m: every field of
 * the declaration (eps: LPOP_MAX_EP slots, filled with several endpoints).
 * The caller adds what belongs to a run: the solver options, the BLQ rule,
 * the dataset's DVID-to-output map. Fits and simulation from a fit both
 * use it, so that neither can drop a field the other has. */
void lrk_popmodel_fill(const lpop *p, const rkin_model *m,
                       rkin_popmodel *pm, rkin_pop_endpoint *eps);

#endif
