/* l_popmodel.c - rk.popest{...} for "radiokin.popest": reads a population
 * model's declaration (theta with bounds, omega diagonal or full, the
 * residual error model, the observed quantity) and traces `individual`
 * ONCE with symbolic theta, eta and cov into expressions the engine
 * compiles, with d psi / d eta derived symbolically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>

#include <lauxlib.h>
#include <lua.h>

#include "l_covdecl.h"
#include "l_popest_impl.h"
#include "lrk.h"
#include "core/expr.h"
#include "core/model.h"

/* Sorted string keys of the table at t, as a collectable scratch array. */
static const char **sorted_keys(lua_State *L, int t, const char *ctx,
                                const char *field, size_t *n)
{
  const char **k;
  size_t i = 0;
  t = lua_absindex(L, t);
  *n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      lrk_error(L, "%s: field '%s' must be a table NAME = value (got a %s "
                "key)", ctx, field, luaL_typename(L, -2));
    (*n)++;
    lua_pop(L, 1);
  }
  k = lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *k, 0);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    k[i++] = lua_tostring(L, -2);   /* alive: the table holds it */
    lua_pop(L, 1);
  }
  qsort(k, *n, sizeof *k, lrk_cmp_str);
  return k;
}

static double finite_number(lua_State *L, int idx, const char *ctx,
                            const char *what)
{
  if (lua_type(L, idx) != LUA_TNUMBER || !isfinite(lua_tonumber(L, idx)))
    lrk_error(L, "%s: %s must be a finite number (got %s)", ctx, what,
              lrk_got(L, idx));
  return lua_tonumber(L, idx);
}

int lrk_popmodel_gc(lua_State *L)
{
  lpop *p = luaL_checkudata(L, 1, POPMODEL_MT);
  free(p->name);
  rkin_graph_free(p->g);
  free(p->psi);
  free(p->dpsi);
  lrk_free_names(p->theta_names, p->n_theta);
  lrk_free_names(p->eta_names, p->n_eta);
  lrk_free_names(p->cov_names, p->n_cov);
  lrk_covdecl_free(p->decl, p->n_decl);
  free(p->theta_init);
  free(p->lower);
  free(p->upper);
  free(p->omega);
  free(p->omega_block);
  free(p->omega_fix);
  free(p->eta_occ);
  free(p->occ_name);
  free(p->theta_fix);
  free(p->observe);
  {
    size_t e;
    for (e = 0; e < LPOP_MAX_EP; e++) free(p->ep_name[e]);
  }
  memset(p, 0, sizeof *p);
  return 0;
}

lpop *lrk_check_popmodel(lua_State *L, int idx)
{
  lpop *p = luaL_testudata(L, idx, POPMODEL_MT);
  if (!p || !p->g)
    lrk_error(L, "expected a population model made by rk.popest{...} (got "
              "%s); call methods with ':' (pm:fit(data))",
              luaL_typename(L, idx));
  return p;
}

/* theta = { NAME = init | {init, lower=, upper=} | {init=, lower=,
 * upper=} }, sorted by name. */
static void read_theta(lua_State *L, lpop *p, const char *ctx)
{
  static const char *const keys[] = {"init", "lower", "upper", "fixed",
                                     NULL};
  const char **names;
  size_t n, k;
  if (lua_getfield(L, 1, "theta") != LUA_TTABLE)
    lrk_error(L, "%s: field 'theta' must be a table NAME = initial value "
              "or {init, lower=, upper=} (got %s)", ctx, lrk_got(L, -1));
  names = sorted_keys(L, -1, ctx, "theta", &n);
  if (n == 0) lrk_error(L, "%s: field 'theta' is empty", ctx);
  p->theta_names = calloc(n, sizeof *p->theta_names);
  p->theta_init = calloc(n, sizeof(double));
  p->lower = calloc(n, sizeof(double));
  p->upper = calloc(n, sizeof(double));
  p->theta_fix = calloc(n, sizeof *p->theta_fix);
  if (!p->theta_names || !p->theta_init || !p->lower || !p->upper
      || !p->theta_fix)
    lrk_error(L, "%s: out of memory", ctx);
  for (k = 0; k < n; k++) {
    const char *what = lua_pushfstring(L, "theta.%s", names[k]);
    int t;
    p->theta_names[k] = lrk_strdup(L, "rk.popest", names[k]);
    p->n_theta = k + 1;
    p->lower[k] = -HUGE_VAL;
    p->upper[k] = HUGE_VAL;
    t = lua_getfield(L, -3, names[k]);
    if (t == LUA_TTABLE) {
      int ti = lua_gettop(L);
      const char *tctx = lua_pushfstring(L, "%s: %s", ctx, what);
      lua_pushnil(L);
      while (lua_next(L, ti)) {
        int known = lua_isinteger(L, -2) && lua_tointeger(L, -2) == 1;
        size_t j;
        for (j = 0; !known && keys[j] && lua_type(L, -2) == LUA_TSTRING;
             j++)
          known = strcmp(lua_tostring(L, -2), keys[j]) == 0;
        if (!known)
          lrk_error(L, "%s: unknown field '%s' (known: [1] or init, lower, "
                    "upper, fixed)", tctx, luaL_tolstring(L, -2, NULL));
        lua_pop(L, 1);
      }
      if (lua_rawgeti(L, ti, 1) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_getfield(L, ti, "init");
      }
      if (lua_isnil(L, -1))
        lrk_error(L, "%s: give the initial value as {init, ...} or "
                  "{init = ...}", tctx);
      p->theta_init[k] = finite_number(L, -1, tctx, "the initial value");
      lua_pop(L, 1);
      if (lua_getfield(L, ti, "lower") != LUA_TNIL)
        p->lower[k] = finite_number(L, -1, tctx, "lower");
      lua_pop(L, 1);
      if (lua_getfield(L, ti, "upper") != LUA_TNIL)
        p->upper[k] = finite_number(L, -1, tctx, "upper");
      lua_pop(L, 1);
      p->theta_fix[k] = lrk_field_boolean(L, ti, tctx, "fixed", 0);
      if (!(p->lower[k] < p->upper[k]) || p->theta_init[k] < p->lower[k]
          || p->theta_init[k] > p->upper[k])
        lrk_error(L, "%s: the initial value %f must lie within lower %f < "
                  "upper %f", tctx, p->theta_init[k], p->lower[k],
                  p->upper[k]);
      lua_pop(L, 1);
    } else {
      p->theta_init[k] = finite_number(L, -1, ctx, what);
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 2);
}

/* omega = { NAME = variance } (diagonal), or eta = {names} with
 * omega = {variances} (diagonal) or {{row}, ...} (full block). */
static void read_omega(lua_State *L, lpop *p, const char *ctx)
{
  size_t q = 0, a, b;
  int blocks;
  int t_eta = lua_getfield(L, 1, "eta");
  int t_om = lua_getfield(L, 1, "omega");
  int eta_i = lua_gettop(L) - 1, om_i = lua_gettop(L);
  if (t_om != LUA_TTABLE)
    lrk_error(L, "%s: field 'omega' must be a table: { NAME = variance } "
              "or, with eta = {names}, a list of variances or a matrix "
              "(got %s)", ctx, lrk_got(L, om_i));
  if (t_eta == LUA_TNIL) {
    const char **names = sorted_keys(L, om_i, ctx, "omega", &q);
    if (q == 0) lrk_error(L, "%s: field 'omega' is empty", ctx);
    p->eta_names = calloc(q, sizeof *p->eta_names);
    p->omega = calloc(q * q, sizeof(double));
    if (!p->eta_names || !p->omega) lrk_error(L, "%s: out of memory", ctx);
    p->omega_diag = 1;
    /* all q now: a fixed variance's flag is indexed a * q + a (l_popfix) */
    p->n_eta = q;
    for (a = 0; a < q; a++) {
      const char *what = lua_pushfstring(L, "omega.%s (a variance)",
                                         names[a]);
      p->eta_names[a] = lrk_strdup(L, "rk.popest", names[a]);
      lua_getfield(L, om_i, names[a]);
      p->omega[a * q + a] = lrk_popfix_variance(L, p, ctx, -1, a, what);
      lua_pop(L, 2);
    }
    lua_pop(L, 3);
    return;
  }
  if (t_eta != LUA_TTABLE || lua_rawlen(L, eta_i) == 0)
    lrk_error(L, "%s: field 'eta' must be a non-empty list of random-effect "
              "names (got %s)", ctx, lrk_got(L, eta_i));
  q = (size_t)lua_rawlen(L, eta_i);
  p->eta_names = calloc(q, sizeof *p->eta_names);
  p->omega = calloc(q * q, sizeof(double));
  if (!p->eta_names || !p->omega) lrk_error(L, "%s: out of memory", ctx);
  for (a = 0; a < q; a++) {
    lua_rawgeti(L, eta_i, (lua_Integer)a + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      lrk_error(L, "%s: eta[%d] must be a name (got %s)", ctx, (int)a + 1,
                lrk_got(L, -1));
    p->eta_names[a] = lrk_strdup(L, "rk.popest", lua_tostring(L, -1));
    p->n_eta = a + 1;
    lua_pop(L, 1);
    for (b = 0; b < a; b++)
      if (strcmp(p->eta_names[a], p->eta_names[b]) == 0)
        lrk_error(L, "%s: eta '%s' is listed twice", ctx, p->eta_names[a]);
  }
  blocks = lrk_popfix_omega_blocks(L, p, ctx, om_i);
  if (!blocks && lua_rawlen(L, om_i) != q)
    lrk_error(L, "%s: omega has %d entries but eta lists %d names", ctx,
              (int)lua_rawlen(L, om_i), (int)q);
  lua_rawgeti(L, om_i, 1);
  if (!blocks) p->omega_diag = lua_type(L, -1) != LUA_TTABLE;
  lua_pop(L, 1);
  for (a = 0; !blocks && a < q; a++) {
    lua_rawgeti(L, om_i, (lua_Integer)a + 1);
    if (p->omega_diag) {
      const char *what = lua_pushfstring(L, "omega[%d] (the variance of "
                                         "eta %s)", (int)a + 1,
                                         p->eta_names[a]);
      p->omega[a * q + a] = finite_number(L, -2, ctx, what);
      lua_pop(L, 1);
    } else {
      if (lua_type(L, -1) != LUA_TTABLE || lua_rawlen(L, -1) != q)
        lrk_error(L, "%s: omega[%d] must be a row of %d numbers (a full "
                  "omega is a %d x %d matrix)", ctx, (int)a + 1, (int)q,
                  (int)q, (int)q);
      for (b = 0; b < q; b++) {
        const char *what = lua_pushfstring(L, "omega[%d][%d]", (int)a + 1,
                                           (int)b + 1);
        lua_rawgeti(L, -2, (lua_Integer)b + 1);
        p->omega[a * q + b] = finite_number(L, -1, ctx, what);
        lua_pop(L, 2);
      }
    }
    lua_pop(L, 1);
  }
  for (a = 0; a < q; a++)
    for (b = 0; b < a; b++)
      if (p->omega[a * q + b] != p->omega[b * q + a])
        lrk_error(L, "%s: omega is not symmetric: [%d][%d] = %f but "
                  "[%d][%d] = %f", ctx, (int)a + 1, (int)b + 1,
                  p->omega[a * q + b], (int)b + 1, (int)a + 1,
                  p->omega[b * q + a]);
  lua_pop(L, 2);
}

/* Omega must be a covariance matrix: checked at declaration, so the
 * mistake is reported where it was made. */
static void check_omega_pd(lua_State *L, const lpop *p, const char *ctx)
{
  size_t q = p->n_eta, a;
  gsl_matrix *m;
  int bad;
  for (a = 0; a < q; a++)
    if (!(p->omega[a * q + a] > 0))
      lrk_error(L, "%s: omega: the variance of eta %s is %f (expected > "
                "0)", ctx, p->eta_names[a], p->omega[a * q + a]);
  m = gsl_matrix_alloc(q, q);
  if (!m) lrk_error(L, "%s: out of memory", ctx);
  memcpy(m->data, p->omega, q * q * sizeof(double));
  bad = gsl_linalg_cholesky_decomp1(m) != 0;
  gsl_matrix_free(m);
  if (bad)
    lrk_error(L, "%s: omega is not positive definite (its correlations "
              "are not possible together: each |correlation| must be < 1 "
              "and the matrix a covariance matrix)", ctx);
}

/* One endpoint's error model from the table at t: { additive = a,
 * proportional = b, power = c, combined = 2 | 1, scale = "linear" |
 * "log" } (engine/pop/popres.h: combined 2 is SD = sqrt(a^2 + b^2 f^2),
 * NONMEM's; 1 is SD = a + b f; power makes f into f^c). */
static void read_error_table(lua_State *L, int t, const char *ectx,
                             rkin_res_model *res, int *lg, double *sg,
                             const char **var)
{
  static const char *const keys[] = {"additive", "proportional", "power",
                                     "combined", "scale", "variable", NULL};
  const char *scale;
  double add, prop, pw = 0;
  int has_pw, comb;
  t = lua_absindex(L, t);
  lrk_check_keys(L, t, ectx, keys);
  add = lrk_field_number(L, t, ectx, "additive", 0, 0);
  prop = lrk_field_number(L, t, ectx, "proportional", 0, 0);
  lua_getfield(L, t, "power");
  has_pw = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (has_pw) pw = lrk_field_number(L, t, ectx, "power", 1, 0);
  comb = (int)lrk_field_number(L, t, ectx, "combined", 0, 2);
  scale = lrk_field_string(L, t, ectx, "scale", 0, "linear");
  *var = lrk_field_string(L, t, ectx, "variable", 0, NULL);
  if (*var && !(prop > 0))
    lrk_error(L, "%s: variable = '%s' scales the proportional (or power) "
              "part: give proportional = b too", ectx, *var);
  if (add < 0 || prop < 0 || (add == 0 && prop == 0))
    lrk_error(L, "%s: give the initial residual SD(s) as additive > 0 "
              "and/or proportional > 0 (got additive %f, proportional %f)",
              ectx, add, prop);
  if (has_pw && !(prop > 0))
    lrk_error(L, "%s: power = %f needs proportional = b > 0 (SD = b "
              "f^power)", ectx, pw);
  if (comb != 1 && comb != 2)
    lrk_error(L, "%s: field 'combined' must be 2 (SD = sqrt(a^2 + b^2 "
              "f^2), NONMEM's) or 1 (SD = a + b f) (got %d)", ectx, comb);
  *lg = 0;
  if (strcmp(scale, "log") == 0) {
    if (prop > 0)
      lrk_error(L, "%s: on scale \"log\" give additive = SD only (an "
                "additive error on log scale is proportional on the "
                "natural one)", ectx);
    *lg = 1;
  } else if (strcmp(scale, "linear") != 0) {
    lrk_error(L, "%s: field 'scale' must be \"linear\" or \"log\" (got "
              "\"%s\")", ectx, scale);
  }
  sg[0] = add > 0 ? add : prop;
  sg[1] = add > 0 ? prop : pw;
  sg[2] = pw;
  if (add > 0 && prop > 0)
    *res = has_pw ? (comb == 1 ? RKIN_RES_ADD_POW1 : RKIN_RES_ADD_POW)
                  : (comb == 1 ? RKIN_RES_COMB1 : RKIN_RES_COMB);
  else if (prop > 0)
    *res = has_pw ? RKIN_RES_POW : RKIN_RES_PROP;
  else
    *res = RKIN_RES_ADD;
}

/* error = {...} for one endpoint; with several (observe = {"A", "B"})
 * a list in observe's order or a table by name: { A = {...}, B = {...} }.
 * After read_observe. */
static void read_error(lua_State *L, lpop *p, const rkin_model *m,
                       const char *ctx)
{
  const char *ectx;
  size_t e;
  if (lua_getfield(L, 1, "error") != LUA_TTABLE)
    lrk_error(L, "%s: field 'error' must be a table {additive = SD} or "
              "{proportional = SD} or both (got %s)", ctx, lrk_got(L, -1));
  ectx = lua_pushfstring(L, "%s: error", ctx);
  const char *var[LPOP_MAX_EP] = {NULL};
  if (p->n_ep == 1) {
    read_error_table(L, -2, ectx, &p->ep_res[0], &p->ep_log[0],
                     p->ep_sigma[0], &var[0]);
  } else {
    int list = lua_rawlen(L, -2) > 0;
    lua_pushnil(L);
    while (lua_next(L, -3)) {          /* no key but the endpoints' */
      int known = 0;
      lua_pop(L, 1);
      for (e = 0; e < p->n_ep; e++)
        known |= list ? lua_isinteger(L, -1)
                        && lua_tointeger(L, -1) == (lua_Integer)e + 1
                      : lua_type(L, -1) == LUA_TSTRING
                        && strcmp(lua_tostring(L, -1), p->ep_name[e]) == 0;
      if (!known)
        lrk_error(L, "%s: unexpected key %s: with observe = {%s} give "
                  "one error table per endpoint, as a list in that order "
                  "or by name", ectx, luaL_tolstring(L, -1, NULL),
                  p->observe);
    }
    for (e = 0; e < p->n_ep; e++) {
      const char *c2 = lua_pushfstring(L, "%s.%s", ectx, p->ep_name[e]);
      int ty = list ? lua_rawgeti(L, -3, (lua_Integer)e + 1)
                    : lua_getfield(L, -3, p->ep_name[e]);
      if (ty != LUA_TTABLE)
        lrk_error(L, "%s: missing (each endpoint of observe = {%s} needs "
                  "its error table; got %s)", c2, p->observe,
                  lrk_got(L, -1));
      read_error_table(L, lua_gettop(L), c2, &p->ep_res[e], &p->ep_log[e],
                       p->ep_sigma[e], &var[e]);
      lua_pop(L, 2);
    }
  }
  /* variable = "name": the SD scales with that model output (nlmixr2's
   * propF / powF); the string stays alive in the declaration table */
  for (e = 0; e < p->n_ep; e++) {
    int k;
    if (!var[e]) continue;
    k = rkin_model_output_index(m, var[e], NULL);
    if (k < 0 || p->ep_output[e] < 0)
      lrk_error(L, "%s: variable = '%s' must name an output of model "
                "'%s' (and the endpoint '%s' observe an output)", ectx,
                var[e], rkin_model_name(m), p->ep_name[e]);
    p->ep_scale[e] = k + 1;
  }
  p->res = p->ep_res[0];
  p->log_scale = p->ep_log[0];
  memcpy(p->sigma, p->ep_sigma[0], sizeof p->sigma);
  lua_pop(L, 2);
}

int lrk_popmodel_push_dvid(lua_State *L, const lpop *p)
{
  size_t e;
  if (p->n_ep < 2 || p->ep_output[0] < 0) return 0;
  lua_createtable(L, (int)p->n_ep, 0);
  for (e = 0; e < p->n_ep; e++) {
    lua_pushstring(L, p->ep_name[e]);
    lua_rawseti(L, -2, (lua_Integer)e + 1);
  }
  return lua_gettop(L);
}

rkin_pop_method lrk_popmodel_method(lua_State *L, int t, const char *ctx,
                                    rkin_pop_method def)
{
  const char *m = lrk_field_string(L, t, ctx, "method", 0, NULL);
  if (!m) return def;
  if (strcmp(m, "focei") == 0 || strcmp(m, "FOCEI") == 0
      || strcmp(m, "FOCE-I") == 0)
    return RKIN_POP_FOCEI;
  if (strcmp(m, "fo") == 0 || strcmp(m, "FO") == 0) return RKIN_POP_FO;
  if (strcmp(m, "foce") == 0 || strcmp(m, "FOCE") == 0) return RKIN_POP_FOCE;
  if (strcmp(m, "laplace") == 0 || strcmp(m, "Laplace") == 0)
    return RKIN_POP_LAPLACE;
  if (strcmp(m, "laplacei") == 0 || strcmp(m, "Laplace-I") == 0)
    return RKIN_POP_LAPLACEI;
  if (strcmp(m, "saem") == 0 || strcmp(m, "SAEM") == 0) return RKIN_POP_SAEM;
  lrk_error(L, "%s: field 'method' must be \"focei\", \"foce\", \"fo\", "
            "\"laplace\", \"laplacei\" or \"saem\" (got \"%s\")", ctx, m);
  return def;
}

/* An observed name: output k (>= 0, preferred) or state -1 - k. */
static int resolve_observe(lua_State *L, const rkin_model *m, const char *o,
                           const char *ctx)
{
  size_t k;
  for (k = 0; k < rkin_model_noutputs(m); k++)
    if (strcmp(rkin_model_output_name(m, k), o) == 0) return (int)k;
  for (k = 0; k < rkin_model_nstates(m); k++)
    if (strcmp(rkin_model_state_name(m, k), o) == 0) return -1 - (int)k;
  {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (k = 0; k < rkin_model_noutputs(m); k++) {
      luaL_addstring(&b, rkin_model_output_name(m, k));
      luaL_addstring(&b, ", ");
    }
    for (k = 0; k < rkin_model_nstates(m); k++) {
      if (k) luaL_addstring(&b, ", ");
      luaL_addstring(&b, rkin_model_state_name(m, k));
    }
    luaL_pushresult(&b);
    lrk_error(L, "%s: observe = '%s' is neither an output nor a state of "
              "model '%s' (known: %s)", ctx, o, rkin_model_name(m),
              lua_tostring(L, -1));
  }
  return 0;
}

/* observe = "C": an output (preferred) or a state of the model; or a list
 * of them, the endpoints of the fit (all outputs or all states). */
static void read_observe(lua_State *L, lpop *p, const rkin_model *m,
                         const char *ctx)
{
  const char *o;
  size_t e;
  if (lua_getfield(L, 1, "observe") == LUA_TTABLE) {
    luaL_Buffer b;
    size_t n = lua_rawlen(L, -1);
    int t = lua_gettop(L);
    if (n < 1 || n > LPOP_MAX_EP)
      lrk_error(L, "%s: observe = {...} must list 1 to %d outputs or "
                "states (got %d)", ctx, LPOP_MAX_EP, (int)n);
    for (e = 0; e < n; e++) {
      size_t k;
      lua_rawgeti(L, t, (lua_Integer)e + 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        lrk_error(L, "%s: observe[%d] must be a name (got %s)", ctx,
                  (int)e + 1, lrk_got(L, -1));
      o = lua_tostring(L, -1);
      p->ep_name[e] = lrk_strdup(L, "rk.popest", o);
      p->ep_output[e] = resolve_observe(L, m, o, ctx);
      for (k = 0; k < e; k++)
        if (strcmp(p->ep_name[k], o) == 0)
          lrk_error(L, "%s: observe lists '%s' twice", ctx, o);
      if ((p->ep_output[e] >= 0) != (p->ep_output[0] >= 0))
        lrk_error(L, "%s: observe = {...} mixes outputs and states ('%s', "
                  "'%s'): list outputs only or states only", ctx,
                  p->ep_name[0], o);
      lua_pop(L, 1);
    }
    p->n_ep = n;
    luaL_buffinit(L, &b);
    for (e = 0; e < n; e++) {
      if (e) luaL_addstring(&b, ", ");
      luaL_addstring(&b, p->ep_name[e]);
    }
    luaL_pushresult(&b);
    p->observe = lrk_strdup(L, "rk.popest", lua_tostring(L, -1));
    lua_pop(L, 2);
  } else {
    lua_pop(L, 1);
    o = lrk_field_string(L, 1, ctx, "observe", 0, NULL);
    if (!o) {
      if (rkin_model_noutputs(m) != 1)
        lrk_error(L, "%s: field 'observe' is required (the name of the "
                  "model output or state the dataset's DV measures)", ctx);
      o = rkin_model_output_name(m, 0);
    }
    p->n_ep = 1;
    p->observe = lrk_strdup(L, "rk.popest", o);
    p->ep_name[0] = lrk_strdup(L, "rk.popest", o);
    p->ep_output[0] = resolve_observe(L, m, o, ctx);
  }
  p->output = p->ep_output[0];
}

/* Traces `individual` and turns what it returns into one expression per
 * model parameter (the model's value where it returns none). */
static void trace_individual(lua_State *L, lpop *p, const rkin_model *m,
                             const char *ctx)
{
  lrk_trace_arg args[3];
  size_t k, np = rkin_model_nparams(m), nfixed = p->n_theta + p->n_eta;
  int tr, map, covs;
  if (lua_getfield(L, 1, "individual") != LUA_TFUNCTION)
    lrk_error(L, "%s: field 'individual' must be a function (theta, eta, "
              "cov) returning the model's parameters {NAME = expression} "
              "(got %s)", ctx, lrk_got(L, -1));
  args[0].label = "theta";
  args[0].n = p->n_theta;
  args[0].names = (const char *const *)p->theta_names;
  args[0].open = 0;
  args[1].label = "eta";
  args[1].n = p->n_eta;
  args[1].names = (const char *const *)p->eta_names;
  args[1].open = 0;
  args[2].label = "cov";
  args[2].n = 0;
  args[2].names = NULL;
  args[2].open = 1;
  lrk_trace_call(L, -1, "rk.popest", p->name, "individual",
                 "theta, eta and cov", 3, args);
  covs = lua_gettop(L);
  map = covs - 1;
  tr = covs - 2;
  /* every returned name must be a model parameter */
  lua_pushnil(L);
  while (lua_next(L, map)) {
    rkin_err err;
    rkin_err_clear(&err);
    if (rkin_model_param_index(m, lua_tostring(L, -2), &err) < 0)
      lrk_error(L, "%s: individual returns '%s': %s", ctx,
                lua_tostring(L, -2), err.msg);
    lua_pop(L, 1);
  }
  p->n_cov = (size_t)lua_rawlen(L, covs);
  p->cov_names = calloc(p->n_cov ? p->n_cov : 1, sizeof *p->cov_names);
  p->psi = calloc(np ? np : 1, sizeof *p->psi);
  if (!p->cov_names || !p->psi) lrk_error(L, "%s: out of memory", ctx);
  for (k = 0; k < p->n_cov; k++) {
    lua_rawgeti(L, covs, (lua_Integer)k + 1);
    p->cov_names[k] = lrk_strdup(L, "rk.popest", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  p->g = lrk_trace_take(L, tr);
  p->n_psi = np;
  for (k = 0; k < np; k++) {
    if (lua_getfield(L, map, rkin_model_param_name(m, k)) == LUA_TNUMBER)
      p->psi[k] = (rkin_node)lua_tointeger(L, -1);
    else
      p->psi[k] = rkin_expr_const(p->g, rkin_model_defaults(m)[k]);
    lua_pop(L, 1);
  }
  {
    rkin_err err;
    rkin_err_clear(&err);
    if (rkin_graph_error(p->g, &err)) lrk_raise(L, ctx, &err);
  }
  /* A theta or eta no parameter depends on cannot be estimated. */
  for (k = 0; k < nfixed; k++) {
    rkin_node leaf = rkin_expr_param(p->g, (int)k);
    size_t j;
    int used = 0;
    for (j = 0; j < np && !used; j++)
      used = rkin_expr_depends(p->g, p->psi[j], leaf);
    if (!used)
      lrk_error(L, "%s: %s '%s' is used by no individual parameter (it "
                "cannot be estimated; use it in 'individual' or remove it)",
                ctx, k < p->n_theta ? "theta" : "eta",
                k < p->n_theta ? p->theta_names[k]
                               : p->eta_names[k - p->n_theta]);
  }
  /* Exact d psi / d eta for the fits' sensitivities (rkin_popmodel's
   * psi_deta). */
  p->dpsi = calloc(np * p->n_eta + 1, sizeof *p->dpsi);
  if (!p->dpsi) lrk_error(L, "%s: out of memory", ctx);
  for (k = 0; k < np * p->n_eta; k++)
    p->dpsi[k] = rkin_expr_diff(p->g, p->psi[k / p->n_eta], rkin_expr_param(
                   p->g, (int)(p->n_theta + k % p->n_eta)));
  {
    rkin_err err;
    rkin_err_clear(&err);
    if (rkin_graph_error(p->g, &err)) lrk_raise(L, ctx, &err);
  }
  lua_settop(L, tr - 2);
}

/* Field 'covariates' (declarations): every covariate `individual` reads
 * must be declared; kept for the fits' checks. */
static void read_covdecl(lua_State *L, lpop *p, const char *ctx)
{
  const rkin_covdecl *c;
  size_t n, k;
  if (lua_getfield(L, 1, "covariates") == LUA_TNIL) {
    /* NONMEM parity: a covariate used in model code is declared (type,
     * unit, range) so that a dataset is checked against it. */
    if (p->n_cov > 0)
      lrk_error(L, "%s: individual reads covariate '%s' but field "
                "'covariates' is missing: declare every covariate, e.g. "
                "covariates = {%s = {type = \"continuous\", unit = \"kg\", "
                "range = {20, 250}}} or {type = \"categorical\", levels = "
                "{0, 1}}", ctx, p->cov_names[0], p->cov_names[0]);
    return;
  }
  c = lrk_covdecls(L, -1, ctx, &n);
  for (k = 0; k < p->n_cov; k++)
    if (!lrk_covdecl_find(c, n, p->cov_names[k]))
      lrk_error(L, "%s: individual reads covariate '%s', which field "
                "'covariates' does not declare (declare its type, unit and "
                "range or levels)", ctx, p->cov_names[k]);
  if (!(p->decl = lrk_covdecl_copy(c, n)))
    lrk_error(L, "%s: out of memory", ctx);
  p->n_decl = n;
}

/* rk.popest{...} / rk.popest.model{...} -> population model. */
int lrk_popmodel_new(lua_State *L)
{
  static const char *const keys[] = {"name", "model", "observe", "theta",
                                     "eta", "omega", "individual", "error",
                                     "method", "description", "sigma_fixed",
                                     "covariates", "iov", "occ",
                                     NULL};
  const char *name, *ctx;
  const rkin_model *m;
  lpop *p;
  if (lua_type(L, 1) != LUA_TTABLE)
    return lrk_error(L, "rk.popest: expected a table {name=, model=, "
                     "theta=, omega=, individual=, error=} (got %s)",
                     lrk_got(L, 1));
  lua_settop(L, 1);
  name = lrk_field_string(L, 1, "rk.popest", "name", 0, NULL);
  if (lua_getfield(L, 1, "model") == LUA_TNIL)
    return lrk_error(L, "rk.popest: field 'model' is required (a model "
                     "made by rk.model)");
  m = lrk_check_model(L, 2);                                    /* 2 */
  if (!name) name = rkin_model_name(m);
  ctx = lua_pushfstring(L, "rk.popest '%s'", name);             /* 3 */
  lrk_check_keys(L, 1, ctx, keys);
  lrk_field_string(L, 1, ctx, "description", 0, NULL);
  p = lua_newuserdatauv(L, sizeof *p, 1);                       /* 4 */
  memset(p, 0, sizeof *p);
  luaL_setmetatable(L, POPMODEL_MT);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, 4, 1);          /* the model stays alive */
  p->name = lrk_strdup(L, "rk.popest", name);
  read_theta(L, p, ctx);
  read_omega(L, p, ctx);
  lrk_popiov_read(L, p, ctx);      /* occasion etas (IOV) */
  check_omega_pd(L, p, ctx);
  read_observe(L, p, m, ctx);
  read_error(L, p, m, ctx);
  lrk_popfix_sigma(L, p, ctx);
  p->method = lrk_popmodel_method(L, 1, ctx, RKIN_POP_FOCEI);
  trace_individual(L, p, m, ctx);
  lua_settop(L, 4);
  read_covdecl(L, p, ctx);
  lua_settop(L, 4);
  return 1;
}

void lrk_popmodel_fill(const lpop *p, const rkin_model *m,
                       rkin_popmodel *pm, rkin_pop_endpoint *eps)
{
  size_t k;
  memset(pm, 0, sizeof *pm);
  pm->model = m;
  pm->output = p->output;
  pm->n_theta = p->n_theta;
  pm->theta_names = (const char *const *)p->theta_names;
  pm->theta_init = p->theta_init;
  pm->theta_lower = p->lower;
  pm->theta_upper = p->upper;
  pm->n_eta = p->n_eta;
  pm->eta_names = (const char *const *)p->eta_names;
  pm->omega_init = p->omega;
  pm->omega_diag = p->omega_diag;
  pm->omega_block = p->omega_block;
  pm->theta_fix = p->theta_fix;
  pm->omega_fix = p->omega_fix;
  pm->sigma_fix = p->sigma_fix;
  pm->eta_occ = p->eta_occ;
  pm->occ_name = p->occ_name;
  pm->n_cov = p->n_cov;
  pm->cov_names = (const char *const *)p->cov_names;
  pm->graph = p->g;
  pm->psi_expr = p->psi;
  pm->psi_deta = p->dpsi;
  pm->res = p->res;
  pm->log_scale = p->log_scale;
  pm->sigma_init = p->sigma;
  if (p->n_ep > 1 || p->ep_scale[0]) {
    for (k = 0; k < p->n_ep; k++) {
      eps[k].output = p->ep_output[k];
      eps[k].res = p->ep_res[k];
      eps[k].log_scale = p->ep_log[k];
      eps[k].sigma_init = p->ep_sigma[k];
      eps[k].scale_var = p->ep_scale[k];
    }
    pm->n_endpoints = p->n_ep;
    pm->endpoints = eps;
  }
}
