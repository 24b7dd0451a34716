/* l_popeval.c - the parameter values of pm:evaluate (evaluation without
 * estimation, rkin_popfit_evaluate): theta, omega and sigma read from the
 * options table by the names of the model, defaulting to its initial
 * values, so the tables of a fit result (r.theta, r.omega, r.sigma) can be
 * passed back as they are. */
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "l_popest_impl.h"
#include "lrk.h"

static double number_at(lua_State *L, int idx, const char *ctx,
                        const char *what)
{
  int isnum;
  double v = lua_tonumberx(L, idx, &isnum);
  if (!isnum || !isfinite(v))
    lrk_error(L, "%s: %s must be a finite number (got %s)", ctx, what,
              lrk_got(L, idx));
  return v;
}

/* Every key of the table at t must be one of names[0..n-1]. */
static void known_names(lua_State *L, int t, const char *ctx,
                        const char *field, char *const *names, size_t n)
{
  lua_pushnil(L);
  while (lua_next(L, t)) {
    size_t k;
    int found = 0;
    for (k = 0; !found && k < n && lua_type(L, -2) == LUA_TSTRING; k++)
      found = strcmp(lua_tostring(L, -2), names[k]) == 0;
    if (!found)
      lrk_error(L, "%s: %s has no parameter '%s'", ctx, field,
                luaL_tolstring(L, -2, NULL));
    lua_pop(L, 1);
  }
}

static void read_thetas(lua_State *L, int t, const char *ctx, const lpop *p,
                        double *theta)
{
  size_t k;
  memcpy(theta, p->theta_init, p->n_theta * sizeof *theta);
  if (lua_getfield(L, t, "theta") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1))
    lrk_error(L, "%s: field 'theta' must be a table NAME = value (got %s)",
              ctx, lrk_got(L, -1));
  known_names(L, lua_gettop(L), ctx, "field 'theta'", p->theta_names,
              p->n_theta);
  for (k = 0; k < p->n_theta; k++) {
    if (lua_getfield(L, -1, p->theta_names[k]) != LUA_TNIL) {
      const char *w = lua_pushfstring(L, "theta.%s", p->theta_names[k]);
      theta[k] = number_at(L, -2, ctx, w);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* omega = {{row}, ...} (n_eta x n_eta, as r.omega) or { NAME = variance }
 * (only for a diagonal Omega). */
static void read_omegas(lua_State *L, int t, const char *ctx, const lpop *p,
                        double *omega)
{
  size_t q = p->n_eta, a, b;
  int om;
  memcpy(omega, p->omega, q * q * sizeof *omega);
  if (lua_getfield(L, t, "omega") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  om = lua_gettop(L);
  if (!lua_istable(L, om))
    lrk_error(L, "%s: field 'omega' must be a %d x %d matrix (a list of "
              "rows) or { NAME = variance } (got %s)", ctx, (int)q, (int)q,
              lrk_got(L, om));
  if (lua_rawlen(L, om) == 0) {
    if (!p->omega_diag)
      lrk_error(L, "%s: field 'omega': the model's Omega is not diagonal: "
                "give the whole %d x %d matrix", ctx, (int)q, (int)q);
    known_names(L, om, ctx, "field 'omega'", p->eta_names, q);
    for (a = 0; a < q; a++) {
      if (lua_getfield(L, om, p->eta_names[a]) != LUA_TNIL) {
        const char *w = lua_pushfstring(L, "omega.%s (a variance)",
                                        p->eta_names[a]);
        omega[a * q + a] = number_at(L, -2, ctx, w);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
  } else {
    if (lua_rawlen(L, om) != q)
      lrk_error(L, "%s: field 'omega' has %d rows (expected %d)", ctx,
                (int)lua_rawlen(L, om), (int)q);
    for (a = 0; a < q; a++) {
      lua_rawgeti(L, om, (lua_Integer)a + 1);
      if (!lua_istable(L, -1) || lua_rawlen(L, -1) != q)
        lrk_error(L, "%s: omega[%d] must be a row of %d numbers", ctx,
                  (int)a + 1, (int)q);
      for (b = 0; b < q; b++) {
        const char *w = lua_pushfstring(L, "omega[%d][%d]", (int)a + 1,
                                        (int)b + 1);
        lua_rawgeti(L, -2, (lua_Integer)b + 1);
        omega[a * q + b] = number_at(L, -1, ctx, w);
        lua_pop(L, 2);
      }
      lua_pop(L, 1);
    }
  }
  for (a = 0; a < q; a++)
    if (!(omega[a * q + a] > 0))
      lrk_error(L, "%s: omega: the variance of eta %s is %f (expected > 0)",
                ctx, p->eta_names[a], omega[a * q + a]);
  lua_pop(L, 1);
}

/* The sigma values of endpoint e at t (a table {additive =, proportional
 * =, power =}) over sigma[0 .. its count). */
static void read_ep_sigmas(lua_State *L, int t, const char *sctx,
                           const lpop *p, size_t e, double *sigma)
{
  static const char *const keys[] = {"additive", "proportional", "power",
                                     NULL};
  size_t b, n = rkin_res_nparams(p->ep_res[e]);
  int k;
  t = lua_absindex(L, t);
  if (!lua_istable(L, t))
    lrk_error(L, "%s: expected a table {additive = SD, proportional = SD, "
              "power = exponent} (got %s)", sctx, lrk_got(L, t));
  lrk_check_keys(L, t, sctx, keys);
  for (k = 0; keys[k]; k++) {
    const char *pn = k == 0 ? "ADD" : k == 1 ? "PROP" : "POW_EXP";
    int found = 0;
    for (b = 0; b < n; b++)
      if (strcmp(pn, rkin_res_param_name(p->ep_res[e], b)) == 0) {
        int pos = rkin_res_param_positive(p->ep_res[e], b);
        sigma[b] = lrk_field_number_in(L, t, sctx, keys[k], 0, sigma[b],
                                       pos ? 0 : -HUGE_VAL, HUGE_VAL,
                                       pos ? LRK_LO_OPEN : 0);
        found = 1;
      }
    if (!found && lua_getfield(L, t, keys[k]) != LUA_TNIL) {
      luaL_Buffer lb;
      luaL_buffinit(L, &lb);
      for (b = 0; b < n; b++) {
        const char *q = rkin_res_param_name(p->ep_res[e], b);
        if (b) luaL_addstring(&lb, " + ");
        luaL_addstring(&lb, strcmp(q, "ADD") == 0 ? "additive"
                            : strcmp(q, "PROP") == 0 ? "proportional"
                            : "power");
      }
      luaL_pushresult(&lb);
      lrk_error(L, "%s: the model's error is %s only: no '%s'", sctx,
                lua_tostring(L, -1), keys[k]);
    } else if (!found) lua_pop(L, 1);
  }
}

/* sigma = { additive = SD, proportional = SD, power = c } (as r.sigma);
 * with several endpoints one such table per endpoint name. sigma: the
 * engine's order, endpoint by endpoint. */
static void read_sigmas(lua_State *L, int t, const char *ctx, const lpop *p,
                        double *sigma)
{
  const char *sctx;
  size_t e, b, off = 0;
  for (e = 0; e < p->n_ep; e++)
    for (b = 0; b < rkin_res_nparams(p->ep_res[e]); b++)
      sigma[off++] = p->ep_sigma[e][b];
  if (lua_getfield(L, t, "sigma") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  sctx = lua_pushfstring(L, "%s: sigma", ctx);
  if (p->n_ep == 1) {
    read_ep_sigmas(L, -2, sctx, p, 0, sigma);
  } else {
    if (!lua_istable(L, -2))
      lrk_error(L, "%s: expected a table of endpoint names (got %s)", sctx,
                lrk_got(L, -2));
    for (e = 0, off = 0; e < p->n_ep; e++) {
      if (lua_getfield(L, -2, p->ep_name[e]) != LUA_TNIL) {
        const char *ectx = lua_pushfstring(L, "%s.%s", sctx, p->ep_name[e]);
        read_ep_sigmas(L, -2, ectx, p, e, sigma + off);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
      off += rkin_res_nparams(p->ep_res[e]);
    }
  }
  lua_pop(L, 2);
}

void lrk_popeval_values(lua_State *L, int t, const char *ctx, const lpop *p,
                        double *theta, double *omega, double *sigma)
{
  t = lua_absindex(L, t);
  read_thetas(L, t, ctx, p, theta);
  read_omegas(L, t, ctx, p, omega);
  read_sigmas(L, t, ctx, p, sigma);
}
