/* l_popest.c - "radiokin.popest": population models declared in Lua and
 * fitted by FO / FOCE-I (pop/popest.h) to NONMEM-style datasets
 * (pop/data.h). This file: pm:fit, the model's methods and the opener;
 * the declaration is read by l_popmodel.c, datasets by l_popdata.c, the
 * result built by l_popresult.c.
 *
 *   local pm = rk.popest {            -- or rk.popest.model{...}
 *     name = "theoph", model = m, observe = "C",
 *     theta = { lKa = 0.45, lCl = {-3.2, lower = -10, upper = 0} },
 *     omega = { lKa = 0.2, lCl = 0.05 },          -- diagonal, variances
 *     -- or eta = {"lKa", "lCl"}, omega = {{0.2, 0.01}, {0.01, 0.05}}
 *     individual = function(theta, eta, cov)
 *       return { ka = rk.exp(theta.lKa + eta.lKa),
 *                cl = rk.exp(theta.lCl + eta.lCl) * cov.WT / 70 } end,
 *     error = { additive = 0.5 },   -- proportional =, both, scale = "log"
 *   }
 *   local r = pm:fit("data.csv", { method = "focei" })
 *
 * `individual` is traced ONCE with symbolic theta, eta and cov into
 * expressions the engine compiles: no Lua runs during the fit. Model
 * parameters it does not return keep the model's values. Covariates are
 * whatever cov.NAME it reads, looked up in the dataset by name. The
 * result is a plain table (see lrk_popresult_push) with r:write_csv(dir)
 * and r:summary(). */
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "l_popest_impl.h"
#include "lrk.h"
#include "lrk_dist.h"
#include "solve/solve.h"

static void push_curves(lua_State *L, int rt, const rkin_model *m,
                        const rkin_solve_opts *so, int output,
                        const rkin_data *d, const rkin_popfit *f);
#include "core/model.h"
#include "modules.h"
#include "pop/popest.h"
#include "solve/solve.h"

/* ---------------------------------------------------------------- fit */

typedef struct {
  rkin_popfit f;
  int live;
  rkin_saem_info in;      /* SAEM's stage (method "saem") */
  int in_live;
} fitbox;

static int fitbox_gc(lua_State *L)
{
  fitbox *b = luaL_checkudata(L, 1, FITBOX_MT);
  if (b->live) rkin_popfit_free(&b->f);
  if (b->in_live) rkin_saem_info_free(&b->in);
  b->live = b->in_live = 0;
  return 0;
}

/* Names of all parameters (estimated and fixed) in the engine's order:
 * theta, Omega's elements of its pattern (lower triangle by rows), sigma.
 * Pushed as an array; kinds and FIX flags into *kind, *fixed
 * (collectable, pushed before the array). Returns the count. */
static size_t push_est_names(lua_State *L, const lpop *p, const char ***kind,
                             int **fixed)
{
  size_t q = p->n_eta, a, b, e, i = 0, n = p->n_theta, n_sig = 0, k = 0;
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) n += (size_t)lrk_popfix_omega_in(p, a, b);
  for (e = 0; e < p->n_ep; e++) n_sig += rkin_res_nparams(p->ep_res[e]);
  n += n_sig;
  *kind = lua_newuserdatauv(L, n * sizeof **kind, 0);
  *fixed = lua_newuserdatauv(L, n * sizeof **fixed, 0);
  lua_createtable(L, (int)n, 0);
  for (a = 0; a < p->n_theta; a++) {
    lua_pushstring(L, p->theta_names[a]);
    lua_rawseti(L, -2, (lua_Integer)++i);
    (*kind)[i - 1] = "theta";
    (*fixed)[i - 1] = p->theta_fix && p->theta_fix[a];
  }
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) {
      if (!lrk_popfix_omega_in(p, a, b)) continue;
      if (a == b) lua_pushfstring(L, "OMEGA(%s)", p->eta_names[a]);
      else lua_pushfstring(L, "OMEGA(%s,%s)", p->eta_names[a],
                           p->eta_names[b]);
      lua_rawseti(L, -2, (lua_Integer)++i);
      (*kind)[i - 1] = "omega";
      (*fixed)[i - 1] = !lrk_popfix_omega_free(p, a, b);
    }
  /* SIGMA_ADD (_LOG on the log scale), SIGMA_PROP, SIGMA_POW_EXP; with
   * several endpoints followed by (name). The exponent may be any sign:
   * its own kind, so its interval stays linear. */
  for (e = 0; e < p->n_ep; e++)
    for (b = 0; b < rkin_res_nparams(p->ep_res[e]); b++, k++) {
      const char *pn = rkin_res_param_name(p->ep_res[e], b);
      if (p->n_ep > 1)
        lua_pushfstring(L, "SIGMA_%s%s(%s)", pn, p->ep_log[e] ? "_LOG" : "",
                        p->ep_name[e]);
      else
        lua_pushfstring(L, "SIGMA_%s%s", pn, p->ep_log[e] ? "_LOG" : "");
      lua_rawseti(L, -2, (lua_Integer)++i);
      (*kind)[i - 1] = rkin_res_param_positive(p->ep_res[e], b)
                       ? "sigma" : "sigma_exp";
      (*fixed)[i - 1] = p->sigma_fix[k];
    }
  return n;
}

/* All parameter values in the order of push_est_names. */
static void estimates(const lpop *p, const rkin_popfit *f, double *v)
{
  size_t q = p->n_eta, a, b, i = 0;
  for (a = 0; a < p->n_theta; a++) v[i++] = f->theta[a];
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++)
      if (lrk_popfix_omega_in(p, a, b)) v[i++] = f->omega[a * q + b];
  for (a = 0; a < f->n_sigma; a++) v[i++] = f->sigma[a];
}

/* pm:fit(data, {method=, covariance=, threads=, max_eval=, rtol=, atol=,
 * path=, gradient=, blq=}) -> result; data: a file name or a dataset of
 * rk.popest.read; gradient "analytic" (default: exact-path sensitivities
 * where available) or "fd" (finite differences of the predictions); blq
 * "m3" (default), "m4", "m1" or "dv": censored records (CENS / LLOQ columns) by
 * their likelihood of being beyond the limit, dropped, or fitted as if
 * DV were measured. */
/* r.mpi: the ranks the fit ran over and the time its gathers took
 * (including waits for the slowest rank), in all and per outer
 * evaluation. */
static void push_mpi_stats(lua_State *L, const lrk_dist_popstat *st,
                           int n_eval)
{
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, lrk_dist_size());
  lua_setfield(L, -2, "ranks");
  lua_pushinteger(L, st->calls);
  lua_setfield(L, -2, "gathers");
  lua_pushnumber(L, st->seconds);
  lua_setfield(L, -2, "gather_s");
  lua_pushnumber(L, st->cpu_seconds);
  lua_setfield(L, -2, "gather_cpu_s");
  lua_pushnumber(L, st->bytes);
  lua_setfield(L, -2, "gather_bytes");
  lua_pushnumber(L, n_eval > 0 ? st->seconds / n_eval : st->seconds);
  lua_setfield(L, -2, "gather_s_per_eval");
  lua_setfield(L, -2, "mpi");
}

static int pop_run(lua_State *L, int evaluate)
{
  static const char *const fit_keys[] = {"method", "covariance", "threads",
                                         "max_eval", "rtol", "atol", "path",
                                         "gradient", "ebe_starts",
                                         "cov_matrix", "blq", "saem",
                                         "then", "init", NULL};
  static const char *const eval_keys[] = {"method", "covariance",
                                          "threads", "rtol", "atol", "path",
                                          "gradient", "theta", "omega",
                                          "sigma", "ebe_starts",
                                          "cov_matrix", "blq", NULL};
  const char *const *keys = evaluate ? eval_keys : fit_keys;
  double *ev_theta = NULL, *ev_omega = NULL, *ev_sigma = NULL;
  lpop *p = lrk_check_popmodel(L, 1);
  const rkin_model *m;
  const char *ctx;
  ldata *x;
  rkin_popmodel pm;
  rkin_pop_endpoint eps[LPOP_MAX_EP];
  rkin_blq_method blq = RKIN_BLQ_M3;
  int out_map[256];
  rkin_popfit_opts o;
  rkin_saem_opts sa;
  rkin_solve_opts so;
  lrk_dist_popstat dstat;
  fitbox *fb;
  report r;
  double *est, *se;
  size_t n_all, j, *free_idx;
  int *fixed;
  const char **kinds, **names;
  rkin_err err;
  size_t k;
  int rc, use_so = 0, saem_asked;
  lua_settop(L, 3);
  ctx = lua_pushfstring(L, evaluate ? "%s:evaluate" : "%s:fit",
                        p->name);                                /* 4 */
  lua_getiuservalue(L, 1, 1);                                    /* 5 */
  m = lrk_check_model(L, 5);
  if (lua_type(L, 2) == LUA_TSTRING) {
    int dv = lrk_popmodel_push_dvid(L, p);
    lrk_popdata_push_dvid(L, lua_tostring(L, 2), 5, dv, ctx);         /* 6 */
    if (dv) lua_remove(L, dv);
  } else if (luaL_testudata(L, 2, DATA_MT)) {
    lua_pushvalue(L, 2);
  } else {
    return lrk_error(L, "%s: expected a dataset file name or a dataset of "
                     "rk.popest.read (got %s)", ctx, lrk_got(L, 2));
  }
  x = lua_touserdata(L, 6);
  if (!x->d) return lrk_error(L, "%s: the dataset was freed", ctx);
  rkin_err_clear(&err);
  if (p->n_decl && rkin_data_check_covdecl(x->d, p->decl, p->n_decl, &err))
    lrk_raise(L, ctx, &err);
  {
    /* A record that selects an output (DVID, or CMT naming an output)
     * the fit does not predict must not be fitted to another. */
    size_t i, j, e;
    for (i = 0; i < rkin_data_nsubjects(x->d); i++) {
      const rkin_data_subject *sj = rkin_data_subject_at(x->d, i);
      for (j = 0; j < sj->n_obs; j++) {
        const char *sel = sj->output && sj->output[j] >= 0
            ? x->out_names[sj->output[j]] : NULL;
        int found = 0;
        for (e = 0; sel && e < p->n_ep; e++)
          found |= strcmp(sel, p->ep_name[e]) == 0;
        if (sel && !found)
          return lrk_error(L, "%s: %s:%d: the record observes output "
                           "'%s' (DVID/CMT), but the fit predicts '%s' "
                           "(observe =; list it there to fit it as an "
                           "endpoint of its own)", ctx, x->path,
                           (int)sj->obs_line[j], sel, p->observe);
      }
    }
  }
  rkin_popfit_opts_default(&o);
  o.method = p->method;
  if (evaluate) o.covariance = 0;
  rkin_solve_opts_default(&so);
  if (!lua_isnil(L, 3)) {
    if (lua_type(L, 3) != LUA_TTABLE)
      return lrk_error(L, "%s: options must be a table {method=, "
                       "covariance=, threads=, max_eval=} (got %s)", ctx,
                       lrk_got(L, 3));
    lrk_check_keys(L, 3, ctx, keys);
    o.method = lrk_popmodel_method(L, 3, ctx, p->method);
    if (o.method == RKIN_POP_SAEM && evaluate)
      return lrk_error(L, "%s: method \"saem\" estimates; an evaluation "
                       "at given values takes \"focei\", \"foce\", \"fo\", "
                       "\"laplace\" or \"laplacei\"", ctx);
    {
      const char *bq = lrk_field_string(L, 3, ctx, "blq", 0, "m3");
      if (strcmp(bq, "m3") == 0 || strcmp(bq, "M3") == 0) blq = RKIN_BLQ_M3;
      else if (strcmp(bq, "m1") == 0 || strcmp(bq, "M1") == 0)
        blq = RKIN_BLQ_M1;
      else if (strcmp(bq, "dv") == 0) blq = RKIN_BLQ_DV;
      else if (strcmp(bq, "m4") == 0 || strcmp(bq, "M4") == 0)
        blq = RKIN_BLQ_M4;
      else return lrk_error(L, "%s: field 'blq' must be \"m3\" "
                            "(likelihood below the limit), \"m4\" (M3 "
                            "given positive values; laplace methods), "
                            "\"m1\" (drop censored records) or \"dv\" "
                            "(fit them at DV) (got \"%s\")", ctx, bq);
    }
    o.covariance = lrk_field_boolean(L, 3, ctx, "covariance", !evaluate);
    o.threads = (int)lrk_field_count(L, 3, ctx, "threads", 0, 0, 0,
                                     LRK_MAX_THREADS);
    /* max_eval = 0: NONMEM's MAXEVAL=0, an evaluation at the initial
     * estimates. */
    o.max_eval = evaluate ? 0 : (int)lrk_field_count(L, 3, ctx, "max_eval",
                                                     0, 3000, 0, 100000000);
    if (!evaluate && o.max_eval == 0) evaluate = 1;
    {
      const char *gr = lrk_field_string(L, 3, ctx, "gradient", 0,
                                        "analytic");
      if (strcmp(gr, "fd") == 0) o.fd_grad = 1;
      else if (strcmp(gr, "analytic") != 0)
        return lrk_error(L, "%s: field 'gradient' must be \"analytic\" "
                         "or \"fd\" (got \"%s\")", ctx, gr);
    }
    {
      const char *es = lrk_field_string(L, 3, ctx, "ebe_starts", 0,
                                        "multi");
      if (strcmp(es, "multi") == 0) o.ebe_starts = RKIN_EBE_MULTI;
      else if (strcmp(es, "single") == 0) o.ebe_starts = RKIN_EBE_SINGLE;
      else if (strcmp(es, "scan") == 0) o.ebe_starts = RKIN_EBE_SCAN;
      else return lrk_error(L, "%s: field 'ebe_starts' must be \"multi\", "
                            "\"single\" or \"scan\" (got \"%s\")", ctx, es);
    }
    {
      const char *cm = lrk_field_string(L, 3, ctx, "cov_matrix", 0,
                                        "sandwich");
      if (strcmp(cm, "sandwich") == 0) o.cov_matrix = RKIN_COV_SANDWICH;
      else if (strcmp(cm, "R") == 0) o.cov_matrix = RKIN_COV_R;
      else if (strcmp(cm, "S") == 0) o.cov_matrix = RKIN_COV_S;
      else return lrk_error(L, "%s: field 'cov_matrix' must be "
                            "\"sandwich\", \"R\" or \"S\" (got \"%s\")",
                            ctx, cm);
    }
    lua_getfield(L, 3, "rtol");
    lua_getfield(L, 3, "atol");
    lua_getfield(L, 3, "path");
    use_so = !lua_isnil(L, -1) || !lua_isnil(L, -2) || !lua_isnil(L, -3);
    lua_pop(L, 3);
    if (use_so) {
      const char *path = lrk_field_string(L, 3, ctx, "path", 0, "auto");
      so.rtol = 1e-8;
      so.atol = 1e-12;
      so.rtol = lrk_field_number_in(L, 3, ctx, "rtol", 0, so.rtol, 0, 1,
                                    LRK_LO_OPEN | LRK_HI_OPEN);
      so.atol = lrk_field_number_in(L, 3, ctx, "atol", 0, so.atol, 0,
                                    HUGE_VAL, LRK_LO_OPEN);
      if (strcmp(path, "auto") == 0) so.path = RKIN_PATH_AUTO;
      else if (strcmp(path, "exact") == 0) so.path = RKIN_PATH_EXACT;
      else if (strcmp(path, "cvodes") == 0) so.path = RKIN_PATH_CVODES;
      else return lrk_error(L, "%s: field 'path' must be \"auto\", "
                            "\"exact\" or \"cvodes\" (got \"%s\")", ctx,
                            path);
    }
  }
  /* a model declared with method "saem" (or max_eval = 0): evaluated by
   * FOCE-I, the objective SAEM's EBEs and diagnostics come from */
  saem_asked = o.method == RKIN_POP_SAEM;
  if (o.method == RKIN_POP_SAEM && evaluate) o.method = RKIN_POP_FOCEI;
  lrk_popsaem_opts(L, 3, ctx, &sa);
  if (!saem_asked && lua_istable(L, 3)) {
    lua_getfield(L, 3, "saem");
    lua_getfield(L, 3, "then");
    if (!lua_isnil(L, -1) || !lua_isnil(L, -2))
      return lrk_error(L, "%s: fields 'saem' and 'then' go with method = "
                       "\"saem\" (got method \"%s\")", ctx,
                       lrk_pop_method_name(o.method));
    lua_pop(L, 2);
  }
  lrk_popmodel_fill(p, m, &pm, eps);
  pm.solve = use_so ? &so : NULL;
  pm.blq = blq;
  if (pm.n_endpoints) {
    /* the dataset's DVID order (x->out_names) to the model's outputs */
    if (x->n_out > sizeof out_map / sizeof *out_map)
      return lrk_error(L, "%s: the dataset selects %d outputs by DVID "
                       "(at most %d with several endpoints)", ctx,
                       (int)x->n_out, (int)(sizeof out_map / sizeof *out_map));
    if (x->n_out) {
      int *map = out_map;
      for (k = 0; k < x->n_out; k++)
        map[k] = rkin_model_output_index(m, x->out_names[k], NULL);
      pm.data_outputs = map;
      pm.n_data_outputs = x->n_out;
    }
  }

  /* under mpirun: each rank works its block of subjects (collective) */
  lrk_dist_popfit(L, ctx, &o, rkin_data_nsubjects(x->d),
                  rkin_data_nobs(x->d), &dstat);
  fb = lua_newuserdatauv(L, sizeof *fb, 0);                      /* 7 */
  memset(fb, 0, sizeof *fb);
  luaL_setmetatable(L, FITBOX_MT);
  rkin_err_clear(&err);
  if (evaluate) {
    ev_theta = lrk_scratch(L, p->n_theta + 1, sizeof *ev_theta);  /* 8 */
    ev_omega = lrk_scratch(L, p->n_eta * p->n_eta, sizeof *ev_omega);
    ev_sigma = lrk_scratch(L, LPOP_MAX_EP * 3, sizeof *ev_sigma);
    if (lua_istable(L, 3)) lua_pushvalue(L, 3);
    else lua_newtable(L);
    lrk_popeval_values(L, -1, ctx, p, ev_theta, ev_omega, ev_sigma);
    lua_pop(L, 1);
    rc = rkin_popfit_evaluate(&pm, x->d, &o, ev_theta, ev_omega, ev_sigma,
                              &fb->f, &err);
    lua_pop(L, 3);
  } else if (o.method == RKIN_POP_SAEM) {
    rc = rkin_popfit_saem(&pm, x->d, &o, &sa, &fb->f, &fb->in, &err);
    fb->in_live = 1;
  } else {
    /* init = {theta =, omega =, sigma =} (a fit's result serves): the
     * starting values instead of the model's (warm starts) */
    int n_init = 0;
    if (lua_istable(L, 3)) {
      n_init = 1;
      if (lua_getfield(L, 3, "init") != LUA_TNIL) {              /* 8 */
        double *ith, *iom, *isg;
        if (!lua_istable(L, 8))
          return lrk_error(L, "%s: field 'init' must be a table {theta =, "
                           "omega =, sigma =} (a fit's result serves) (got "
                           "%s)", ctx, lrk_got(L, 8));
        ith = lrk_scratch(L, p->n_theta + 1, sizeof *ith);
        iom = lrk_scratch(L, p->n_eta * p->n_eta + 1, sizeof *iom);
        isg = lrk_scratch(L, LPOP_MAX_EP * 3, sizeof *isg);
        lrk_popeval_values(L, 8, lua_pushfstring(L, "%s: init", ctx), p,
                           ith, iom, isg);
        n_init = 5;
        pm.theta_init = ith;
        pm.omega_init = iom;
        if (pm.n_endpoints) {
          size_t off = 0;
          for (k = 0; k < p->n_ep; k++) {
            eps[k].sigma_init = isg + off;
            off += rkin_res_nparams(p->ep_res[k]);
          }
        } else {
          pm.sigma_init = isg;
        }
      }
    }
    rc = rkin_popfit_run(&pm, x->d, &o, &fb->f, &err);
    lua_pop(L, n_init);
  }
  fb->live = 1;
  if (rc) return lrk_raise(L, ctx, &err);

  n_all = push_est_names(L, p, &kinds, &fixed);               /* 8, 9, 10 */
  names = lua_newuserdatauv(L, n_all * sizeof *names, 0);        /* 11 */
  for (k = 0; k < n_all; k++) {
    lua_rawgeti(L, 10, (lua_Integer)k + 1);
    names[k] = lua_tostring(L, -1);    /* alive: table 10 holds it */
    lua_pop(L, 1);
  }
  est = lua_newuserdatauv(L, n_all * sizeof *est, 0);            /* 12 */
  estimates(p, &fb->f, est);
  /* SEs of the estimated ones (the engine's order), none for fixed */
  se = lua_newuserdatauv(L, n_all * sizeof *se, 0);              /* 13 */
  free_idx = lua_newuserdatauv(L, (n_all + 1) * sizeof *free_idx, 0);
  for (k = 0, j = 0; k < n_all; k++) {
    se[k] = NAN;
    if (fixed[k]) continue;
    if (j < fb->f.n_est && fb->f.cov_status == 0) se[k] = fb->f.se[j];
    free_idx[j++] = k;
  }
  memset(&r, 0, sizeof r);
  r.p = p;
  r.f = &fb->f;
  r.m = m;
  r.d = x->d;
  r.data_path = x->path;
  r.n_est = n_all;
  r.n_free = fb->f.n_est;
  r.free_idx = free_idx;
  r.fixed = fixed;
  r.est = est;
  r.se = fb->f.cov_status == 0 ? se : NULL;
  r.names = names;
  r.kinds = kinds;
  r.aic = fb->f.m2ll + 2.0 * (double)r.n_free;
  r.bic = fb->f.m2ll + (double)r.n_free * log((double)fb->f.n_obs);
  lrk_popresult_push(L, &r, o.method == RKIN_POP_SAEM && sa.then >= 0
                             ? (rkin_pop_method)sa.then : o.method);
  if (o.method == RKIN_POP_SAEM && fb->in.theta)
    lrk_popsaem_push(L, lua_gettop(L), p, &fb->in, &sa, fb->f.n_sigma);
  lua_pushboolean(L, evaluate);
  lua_setfield(L, -2, "evaluation");
  /* SAEM's SEs by stochastic approximation: the inverse information */
  lua_pushstring(L, o.method == RKIN_POP_SAEM && sa.then < 0
                    && sa.se == RKIN_SAEM_SE_SA ? "sa"
                    : o.cov_matrix == RKIN_COV_R ? "R"
                    : o.cov_matrix == RKIN_COV_S ? "S" : "sandwich");
  lua_setfield(L, -2, "covariance_matrix");
  push_mpi_stats(L, &dstat, fb->f.n_eval);
  lrk_popcheck_result_methods(L, -1, 1, 6);    /* r:simulate, r:vpc, ... */
  if (fb->f.status == 0)
    push_curves(L, lua_gettop(L), m, use_so ? &so : NULL, p->output, x->d,
                &fb->f);
  rkin_popfit_free(&fb->f);
  fb->live = 0;
  if (fb->in_live) rkin_saem_info_free(&fb->in);
  fb->in_live = 0;
  return 1;
}

static int pop_fit(lua_State *L)
{
  return pop_run(L, 0);
}

/* pm:evaluate(data, {method=, theta=, omega=, sigma=, covariance=,
 * threads=, rtol=, atol=, path=, gradient=}) -> the result table of a fit
 * at the given values (no estimation); covariance defaults to false. */
static int pop_evaluate(lua_State *L)
{
  return pop_run(L, 1);
}

/* r.curves: each subject's individual prediction (the observed output at
 * its EBE parameters) on a grid of CURVE_POINTS times per dataset segment
 * (from the segment's start to its last observation), for plots that
 * draw the model between the observations. Segments are separated by a
 * NaN point. Skipped (absent) when a solve fails: the plot then falls
 * back on IPRED at the observation times. */
#define CURVE_POINTS 120

static void push_curves(lua_State *L, int rt, const rkin_model *m,
                        const rkin_solve_opts *so, int output,
                        const rkin_data *d, const rkin_popfit *f)
{
  rkin_err err;
  rkin_solve_opts def;
  rkin_solver *sv;
  size_t s, g, k, col, width;
  double *times, *sol, *tv, *fv;
  size_t n_max = 0;
  rkin_err_clear(&err);
  width = output >= 0 ? rkin_model_noutputs(m) : rkin_model_nstates(m);
  col = output >= 0 ? (size_t)output : (size_t)(-1 - output);
  for (s = 0; s < f->n_subj; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(d, s);
    n_max = sj->n_seg > n_max ? sj->n_seg : n_max;
  }
  times = lrk_scratch(L, CURVE_POINTS, sizeof *times);
  sol = lrk_scratch(L, CURVE_POINTS * (width ? width : 1), sizeof *sol);
  tv = lrk_scratch(L, n_max * (CURVE_POINTS + 1), sizeof *tv);
  fv = lrk_scratch(L, n_max * (CURVE_POINTS + 1), sizeof *fv);
  if (!so) {            /* the fit's own defaults (pop/popsubj.c) */
    rkin_solve_opts_default(&def);
    def.rtol = 1e-8;
    def.atol = 1e-12;
    so = &def;
  }
  sv = rkin_solver_new(m, so, &err);
  if (!sv) {
    lua_pop(L, 4);
    return;
  }
  lua_createtable(L, (int)f->n_subj, 0);
  for (s = 0; s < f->n_subj; s++) {
    const rkin_data_subject *sj = rkin_data_subject_at(d, s);
    size_t n = 0;
    for (g = 0; g < sj->n_seg; g++) {
      const rkin_data_segment *sg = &sj->seg[g];
      rkin_solve_req rq;
      rkin_solve_res rs;
      double t1;
      if (!sg->n_obs) continue;
      t1 = sj->time[sg->first_obs + sg->n_obs - 1];
      for (k = 0; k < CURVE_POINTS; k++)
        times[k] = sg->t0 + (t1 - sg->t0) * (double)k / (CURVE_POINTS - 1);
      times[CURVE_POINTS - 1] = t1;
      memset(&rq, 0, sizeof rq);
      memset(&rs, 0, sizeof rs);
      rq.t0 = sg->t0;
      rq.t1 = t1;
      rq.params = f->psi + s * f->n_psi;
      rq.dosing = sg->dosing;
      rq.times = times;
      rq.n_times = CURVE_POINTS;
      if (output >= 0) rs.out = sol;
      else rs.y = sol;
      if (rkin_solver_run(sv, &rq, &rs, &err) != 0) {
        rkin_solver_free(sv);
        lua_pop(L, 5);
        return;
      }
      if (n) {                   /* a break between segments */
        tv[n] = times[0];
        fv[n++] = NAN;
      }
      for (k = 0; k < CURVE_POINTS; k++) {
        tv[n] = times[k];
        fv[n++] = sol[k * width + col];
      }
    }
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, sj->id);
    lua_setfield(L, -2, "id");
    lrk_push_numbers(L, tv, n);
    lua_setfield(L, -2, "time");
    lrk_push_numbers(L, fv, n);
    lua_setfield(L, -2, "ipred");
    lua_rawseti(L, -2, (lua_Integer)s + 1);
  }
  rkin_solver_free(sv);
  lua_setfield(L, rt, "curves");
  lua_pop(L, 4);
}

/* ------------------------------------------------- popmodel methods */

static void push_names(lua_State *L, char **v, size_t n)
{
  size_t k;
  lua_createtable(L, (int)n, 0);
  for (k = 0; k < n; k++) {
    lua_pushstring(L, v[k]);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
}

static int pop_index(lua_State *L)
{
  lpop *p = lrk_check_popmodel(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "fit") == 0) lua_pushcfunction(L, pop_fit);
  else if (strcmp(k, "evaluate") == 0) lua_pushcfunction(L, pop_evaluate);
  else if (strcmp(k, "read") == 0) lua_pushcfunction(L, lrk_popdata_read);
  else if (strcmp(k, "bootstrap") == 0 || strcmp(k, "vpc") == 0
           || strcmp(k, "simulate") == 0) {
    /* checks of a fit, written in Lua (dsl/lua/popcheck.lua) */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "radiokin.popcheck");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, k);
  }
  else if (strcmp(k, "name") == 0) lua_pushstring(L, p->name);
  else if (strcmp(k, "theta_names") == 0)
    push_names(L, p->theta_names, p->n_theta);
  else if (strcmp(k, "eta_names") == 0)
    push_names(L, p->eta_names, p->n_eta);
  else if (strcmp(k, "covariates") == 0)
    push_names(L, p->cov_names, p->n_cov);
  else if (strcmp(k, "observe") == 0) {
    if (p->n_ep > 1) push_names(L, p->ep_name, p->n_ep);
    else lua_pushstring(L, p->observe);
  }
  else if (strcmp(k, "model") == 0) lua_getiuservalue(L, 1, 1);
  else if (strcmp(k, "theta") == 0) {
    size_t i;
    lua_createtable(L, 0, (int)p->n_theta);
    for (i = 0; i < p->n_theta; i++) {
      lua_pushnumber(L, p->theta_init[i]);
      lua_setfield(L, -2, p->theta_names[i]);
    }
  } else if (strcmp(k, "omega") == 0) {
    lrk_push_matrix(L, p->omega, p->n_eta);
  } else {
    return lrk_error(L, "population model '%s' has no field '%s' (fields: "
                     "fit, evaluate, read, bootstrap, vpc, simulate, name, "
                     "model, observe, theta, "
                     "theta_names, "
                     "omega, eta_names, covariates)", p->name, k);
  }
  return 1;
}

static int pop_tostring(lua_State *L)
{
  lpop *p = luaL_checkudata(L, 1, POPMODEL_MT);
  if (!p->g) {
    lua_pushliteral(L, "rk.popest (not built)");
    return 1;
  }
  lua_pushfstring(L, "rk.popest '%s' (%d theta, %d eta%s, %d covariates, "
                  "observes %s)", p->name, (int)p->n_theta, (int)p->n_eta,
                  p->omega_block ? " block omega" : p->omega_diag ? ""
                  : " full omega", (int)p->n_cov,
                  p->observe);
  return 1;
}

/* rk.popest{...}: __call of the module table, which comes first. */
static int pop_call(lua_State *L)
{
  lua_remove(L, 1);
  return lrk_popmodel_new(L);
}

/* rk.popest.fit(pm, data, opts): the same as pm:fit(data, opts). */
static int fit_fn(lua_State *L)
{
  return pop_fit(L);
}

static const luaL_Reg funcs[] = {
  {"model", lrk_popmodel_new},
  {"fit", fit_fn},
  {"evaluate", pop_evaluate},
  {"read", lrk_popdata_read},
  {NULL, NULL}
};

int luaopen_radiokin_popest(lua_State *L)
{
  if (luaL_newmetatable(L, POPMODEL_MT)) {
    lua_pushcfunction(L, lrk_popmodel_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, pop_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, pop_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, DATA_MT)) {
    lua_pushcfunction(L, lrk_popdata_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lrk_popdata_index);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, FITBOX_MT)) {
    lua_pushcfunction(L, fitbox_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lrk_popcheck_register(L);
  /* rk.popest{...} declares a model, as rk.popest.model{...} */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, pop_call);
  lua_setfield(L, -2, "__call");
  lua_setmetatable(L, -2);
  return 1;
}
