/* l_popsaem.c - the SAEM options of pm:fit (method = "saem", saem = {...},
 * then = "focei") and the r.saem table of its result (pop/saem.h). */
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "l_popest_impl.h"
#include "lrk.h"

void lrk_popsaem_opts(lua_State *L, int t, const char *ctx,
                      rkin_saem_opts *so)
{
  static const char *const keys[] = {"burn", "iter", "chains", "seed",
                                     "imp_samples", "imp_df", "prior",
                                     "component", "block", "se",
                                     "se_iter", NULL};
  const char *then;
  int top = lua_gettop(L);
  rkin_saem_opts_default(so);
  if (lua_type(L, t) == LUA_TTABLE) {
    lua_getfield(L, t, "saem");
    if (!lua_isnil(L, -1)) {
      int st = lua_gettop(L);
      const char *sctx;
      if (!lua_istable(L, st))
        lrk_error(L, "%s: field 'saem' must be a table {burn=, iter=, "
                  "chains=, seed=, imp_samples=} (got %s)", ctx,
                  lrk_got(L, st));
      sctx = lua_pushfstring(L, "%s: saem", ctx);
      lrk_check_keys(L, st, sctx, keys);
      so->burn = (int)lrk_field_count(L, st, sctx, "burn", 0, so->burn, 0,
                                      1000000);
      so->iter = (int)lrk_field_count(L, st, sctx, "iter", 0, so->iter, 1,
                                      1000000);
      so->chains = (int)lrk_field_count(L, st, sctx, "chains", 0, so->chains,
                                        1, 1000);
      so->seed = (unsigned long)lrk_field_count(L, st, sctx, "seed", 0,
                                                (long long)so->seed, 0,
                                                LRK_MAX_SEED);
      so->imp_samples = (int)lrk_field_count(L, st, sctx, "imp_samples", 0,
                                             so->imp_samples, 0, 10000000);
      so->imp_df = (int)lrk_field_count(L, st, sctx, "imp_df", 0,
                                        so->imp_df, 0, 1000);
      so->n_prior = (int)lrk_field_count(L, st, sctx, "prior", 0,
                                         so->n_prior, 0, 100);
      so->n_comp = (int)lrk_field_count(L, st, sctx, "component", 0,
                                        so->n_comp, 0, 100);
      so->n_block = (int)lrk_field_count(L, st, sctx, "block", 0,
                                         so->n_block, 0, 100);
      {
        const char *se = lrk_field_string(L, st, sctx, "se", 0,
                                          "linearisation");
        if (strcmp(se, "sa") == 0) so->se = RKIN_SAEM_SE_SA;
        else if (strcmp(se, "linearisation") == 0
                 || strcmp(se, "linearization") == 0)
          so->se = RKIN_SAEM_SE_LIN;
        else lrk_error(L, "%s: field 'se' must be \"linearisation\" (the "
                       "FOCE-I covariance step at the estimates) or \"sa\" "
                       "(Fisher information by stochastic approximation) "
                       "(got \"%s\")", sctx, se);
      }
      so->se_iter = (int)lrk_field_count(L, st, sctx, "se_iter", 0,
                                         so->se_iter, 1, 1000000);
      if (so->n_prior + so->n_comp + so->n_block == 0)
        lrk_error(L, "%s: prior, component and block are all 0 (expected "
                  "at least one MCMC move per iteration)", sctx);
    }
    lua_settop(L, top);
    then = lrk_field_string(L, t, ctx, "then", 0, NULL);
    if (then) {
      lua_newtable(L);
      lua_pushstring(L, then);
      lua_setfield(L, -2, "method");
      so->then = (int)lrk_popmodel_method(L, lua_gettop(L), ctx,
                                          RKIN_POP_FOCEI);
      if (so->then == RKIN_POP_SAEM)
        lrk_error(L, "%s: field 'then' names the method run after SAEM: "
                  "\"focei\", \"foce\", \"fo\", \"laplace\" or \"laplacei\" "
                  "(got \"saem\")", ctx);
    }
  }
  lua_settop(L, top);
}

void lrk_popsaem_push(lua_State *L, int rt, const lpop *p,
                      const rkin_saem_info *in, const rkin_saem_opts *so,
                      size_t n_sigma)
{
  size_t q = p->n_eta, k, a, i;
  lua_newtable(L);
  lua_pushnumber(L, in->ofv_imp);
  lua_setfield(L, -2, "ofv_imp");
  lua_pushnumber(L, in->ofv_imp_se);
  lua_setfield(L, -2, "ofv_imp_se");
  lua_pushnumber(L, in->ofv_focei);
  lua_setfield(L, -2, "ofv_focei");
  lua_pushinteger(L, so->burn);
  lua_setfield(L, -2, "burn");
  lua_pushinteger(L, so->iter);
  lua_setfield(L, -2, "iter");
  lua_pushinteger(L, so->chains);
  lua_setfield(L, -2, "chains");
  lua_pushinteger(L, (lua_Integer)so->seed);
  lua_setfield(L, -2, "seed");
  lua_pushinteger(L, so->imp_samples);
  lua_setfield(L, -2, "imp_samples");
  lua_pushinteger(L, so->imp_df);
  lua_setfield(L, -2, "imp_df");
  lua_pushstring(L, so->se == RKIN_SAEM_SE_SA ? "sa" : "linearisation");
  lua_setfield(L, -2, "se");
  lua_pushinteger(L, so->se_iter);
  lua_setfield(L, -2, "se_iter");
  lua_newtable(L);
  for (k = 0; k < p->n_theta; k++) {
    lua_pushnumber(L, in->theta[k]);
    lua_setfield(L, -2, p->theta_names[k]);
  }
  lua_setfield(L, -2, "theta");
  lua_createtable(L, (int)q, 0);
  for (a = 0; a < q; a++) {
    lrk_push_numbers(L, in->omega + a * q, q);
    lua_rawseti(L, -2, (lua_Integer)a + 1);
  }
  lua_setfield(L, -2, "omega");
  lrk_push_numbers(L, in->sigma, n_sigma);
  lua_setfield(L, -2, "sigma");
  lua_newtable(L);
  lua_pushnumber(L, in->accept_prior);
  lua_setfield(L, -2, "prior");
  lua_pushnumber(L, in->accept_comp);
  lua_setfield(L, -2, "component");
  lua_pushnumber(L, in->accept_block);
  lua_setfield(L, -2, "block");
  lua_setfield(L, -2, "accept");
  /* eta name -> the theta it is mu-referenced to (closed-form update) */
  lua_newtable(L);
  for (k = 0; k < q; k++)
    if (in->mu_ref[k] >= 0) {
      lua_pushstring(L, p->theta_names[in->mu_ref[k]]);
      lua_setfield(L, -2, p->eta_names[k]);
    }
  lua_setfield(L, -2, "mu_referenced");
  /* trace: one row per iteration, trace_names its columns */
  lua_createtable(L, (int)in->n_par, 0);
  i = 0;
  for (k = 0; k < p->n_theta; k++) {
    lua_pushstring(L, p->theta_names[k]);
    lua_rawseti(L, -2, (lua_Integer)++i);
  }
  for (a = 0; a < q; a++)
    for (k = 0; k < q; k++) {
      lua_pushfstring(L, "OMEGA(%s,%s)", p->eta_names[a], p->eta_names[k]);
      lua_rawseti(L, -2, (lua_Integer)++i);
    }
  for (k = 0; k < n_sigma; k++) {
    lua_pushfstring(L, "SIGMA(%d)", (int)k + 1);
    lua_rawseti(L, -2, (lua_Integer)++i);
  }
  lua_setfield(L, -2, "trace_names");
  lua_createtable(L, in->n_iter, 0);
  for (k = 0; k < (size_t)in->n_iter; k++) {
    lrk_push_numbers(L, in->trace + k * in->n_par, in->n_par);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_setfield(L, -2, "trace");
  lua_setfield(L, rt, "saem");
}
