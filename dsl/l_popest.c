/* l_popest.c - "radiokin.popest": population models declared in Lua and
 * fitted by FO / FOCE-I (engine/popest.h) to NONMEM-style datasets
 * (engine/data.h).
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
 * result is a plain table (see push_result) with r:write_csv(dir) and
 * r:summary(). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_linalg.h>
#include <lauxlib.h>
#include <lua.h>

#include "data.h"
#include "expr.h"
#include "lrk.h"
#include "model.h"
#include "modules.h"
#include "popest.h"

#define POPMODEL_MT "radiokin.popmodel"
#define DATA_MT "radiokin.popdata"
#define FITBOX_MT "radiokin.popfitbox"

/* ------------------------------------------------------------ helpers */

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

/* ------------------------------------------------------ the popmodel */

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
  rkin_res_model res;
  int log_scale;
  double sigma[2];
  int output;                /* rkin_popmodel.output */
  char *observe;
  rkin_pop_method method;
} lpop;

static int lpop_gc(lua_State *L)
{
  lpop *p = luaL_checkudata(L, 1, POPMODEL_MT);
  free(p->name);
  rkin_graph_free(p->g);
  free(p->psi);
  free(p->dpsi);
  lrk_free_names(p->theta_names, p->n_theta);
  lrk_free_names(p->eta_names, p->n_eta);
  lrk_free_names(p->cov_names, p->n_cov);
  free(p->theta_init);
  free(p->lower);
  free(p->upper);
  free(p->omega);
  free(p->observe);
  memset(p, 0, sizeof *p);
  return 0;
}

static lpop *check_pop(lua_State *L, int idx)
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
  static const char *const keys[] = {"init", "lower", "upper", NULL};
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
  if (!p->theta_names || !p->theta_init || !p->lower || !p->upper)
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
                    "upper)", tctx, luaL_tolstring(L, -2, NULL));
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
    for (a = 0; a < q; a++) {
      const char *what = lua_pushfstring(L, "omega.%s (a variance)",
                                         names[a]);
      p->eta_names[a] = lrk_strdup(L, "rk.popest", names[a]);
      p->n_eta = a + 1;
      lua_getfield(L, om_i, names[a]);
      p->omega[a * q + a] = finite_number(L, -1, ctx, what);
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
  if (lua_rawlen(L, om_i) != q)
    lrk_error(L, "%s: omega has %d entries but eta lists %d names", ctx,
              (int)lua_rawlen(L, om_i), (int)q);
  lua_rawgeti(L, om_i, 1);
  p->omega_diag = lua_type(L, -1) != LUA_TTABLE;
  lua_pop(L, 1);
  for (a = 0; a < q; a++) {
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

/* error = { additive = SD, proportional = SD, scale = "linear" | "log" } */
static void read_error(lua_State *L, lpop *p, const char *ctx)
{
  static const char *const keys[] = {"additive", "proportional", "scale",
                                     NULL};
  const char *ectx, *scale;
  double add, prop;
  if (lua_getfield(L, 1, "error") != LUA_TTABLE)
    lrk_error(L, "%s: field 'error' must be a table {additive = SD} or "
              "{proportional = SD} or both (got %s)", ctx, lrk_got(L, -1));
  ectx = lua_pushfstring(L, "%s: error", ctx);
  lrk_check_keys(L, -2, ectx, keys);
  add = lrk_field_number(L, -2, ectx, "additive", 0, 0);
  prop = lrk_field_number(L, -2, ectx, "proportional", 0, 0);
  scale = lrk_field_string(L, -2, ectx, "scale", 0, "linear");
  if (add < 0 || prop < 0 || (add == 0 && prop == 0))
    lrk_error(L, "%s: give the initial residual SD(s) as additive > 0 "
              "and/or proportional > 0 (got additive %f, proportional %f)",
              ectx, add, prop);
  if (strcmp(scale, "log") == 0) {
    if (prop > 0)
      lrk_error(L, "%s: on scale \"log\" give additive = SD only (an "
                "additive error on log scale is proportional on the "
                "natural one)", ectx);
    p->log_scale = 1;
  } else if (strcmp(scale, "linear") != 0) {
    lrk_error(L, "%s: field 'scale' must be \"linear\" or \"log\" (got "
              "\"%s\")", ectx, scale);
  }
  if (add > 0 && prop > 0) {
    p->res = RKIN_RES_COMB;
    p->sigma[0] = add;
    p->sigma[1] = prop;
  } else if (prop > 0) {
    p->res = RKIN_RES_PROP;
    p->sigma[0] = prop;
  } else {
    p->res = RKIN_RES_ADD;
    p->sigma[0] = add;
  }
  lua_pop(L, 2);
}

static rkin_pop_method read_method(lua_State *L, int t, const char *ctx,
                                   rkin_pop_method def)
{
  const char *m = lrk_field_string(L, t, ctx, "method", 0, NULL);
  if (!m) return def;
  if (strcmp(m, "focei") == 0 || strcmp(m, "FOCEI") == 0
      || strcmp(m, "FOCE-I") == 0)
    return RKIN_POP_FOCEI;
  if (strcmp(m, "fo") == 0 || strcmp(m, "FO") == 0) return RKIN_POP_FO;
  lrk_error(L, "%s: field 'method' must be \"focei\" or \"fo\" (got "
            "\"%s\")", ctx, m);
  return def;
}

/* observe = "C": an output (preferred) or a state of the model. */
static void read_observe(lua_State *L, lpop *p, const rkin_model *m,
                         const char *ctx)
{
  const char *o = lrk_field_string(L, 1, ctx, "observe", 0, NULL);
  size_t k;
  if (!o) {
    if (rkin_model_noutputs(m) != 1)
      lrk_error(L, "%s: field 'observe' is required (the name of the "
                "model output or state the dataset's DV measures)", ctx);
    o = rkin_model_output_name(m, 0);
  }
  p->observe = lrk_strdup(L, "rk.popest", o);
  for (k = 0; k < rkin_model_noutputs(m); k++)
    if (strcmp(rkin_model_output_name(m, k), o) == 0) {
      p->output = (int)k;
      return;
    }
  for (k = 0; k < rkin_model_nstates(m); k++)
    if (strcmp(rkin_model_state_name(m, k), o) == 0) {
      p->output = -1 - (int)k;
      return;
    }
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

/* rk.popest{...} / rk.popest.model{...} -> population model. */
static int pop_new(lua_State *L)
{
  static const char *const keys[] = {"name", "model", "observe", "theta",
                                     "eta", "omega", "individual", "error",
                                     "method", "description", NULL};
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
  check_omega_pd(L, p, ctx);
  read_error(L, p, ctx);
  read_observe(L, p, m, ctx);
  p->method = read_method(L, 1, ctx, RKIN_POP_FOCEI);
  trace_individual(L, p, m, ctx);
  lua_settop(L, 4);
  return 1;
}

/* ----------------------------------------------------------- datasets */

typedef struct {
  rkin_data *d;
  char *path;
} ldata;

static int ldata_gc(lua_State *L)
{
  ldata *x = luaL_checkudata(L, 1, DATA_MT);
  rkin_data_free(x->d);
  free(x->path);
  x->d = NULL;
  x->path = NULL;
  return 0;
}

/* Reads a dataset at `path` for the model at model_idx (CMT may then be
 * a state name) and pushes it. */
static ldata *push_data(lua_State *L, const char *path, int model_idx,
                        const char *ctx)
{
  const rkin_model *m = lrk_check_model(L, model_idx);
  size_t k, ns = rkin_model_nstates(m);
  const char **names = lua_newuserdatauv(L, ns * sizeof *names, 0);
  rkin_data_opts o;
  rkin_err err;
  ldata *x;
  for (k = 0; k < ns; k++) names[k] = rkin_model_state_name(m, k);
  o.n_states = ns;
  o.state_names = names;
  x = lua_newuserdatauv(L, sizeof *x, 0);
  memset(x, 0, sizeof *x);
  luaL_setmetatable(L, DATA_MT);
  lua_remove(L, -2);
  rkin_err_clear(&err);
  x->path = lrk_strdup(L, "rk.popest", path);
  x->d = rkin_data_read(path, &o, &err);
  if (!x->d) lrk_raise(L, ctx, &err);
  return x;
}

/* rk.popest.read(path, pm_or_model) -> dataset */
static int data_read(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  if (luaL_testudata(L, 2, POPMODEL_MT)) {
    check_pop(L, 2);
    lua_getiuservalue(L, 2, 1);
    lua_replace(L, 2);
  }
  push_data(L, path, 2, "rk.popest.read");
  return 1;
}

static int data_index(lua_State *L)
{
  ldata *x = luaL_checkudata(L, 1, DATA_MT);
  const char *k = luaL_checkstring(L, 2);
  size_t i;
  if (!x->d) return lrk_error(L, "dataset was freed");
  if (strcmp(k, "n_subjects") == 0) {
    lua_pushinteger(L, (lua_Integer)rkin_data_nsubjects(x->d));
  } else if (strcmp(k, "n_obs") == 0) {
    lua_pushinteger(L, (lua_Integer)rkin_data_nobs(x->d));
  } else if (strcmp(k, "path") == 0) {
    lua_pushstring(L, x->path);
  } else if (strcmp(k, "covariates") == 0) {
    lua_createtable(L, (int)rkin_data_ncovariates(x->d), 0);
    for (i = 0; i < rkin_data_ncovariates(x->d); i++) {
      lua_pushstring(L, rkin_data_covariate_name(x->d, i));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  } else if (strcmp(k, "ids") == 0) {
    lua_createtable(L, (int)rkin_data_nsubjects(x->d), 0);
    for (i = 0; i < rkin_data_nsubjects(x->d); i++) {
      lua_pushnumber(L, rkin_data_subject_at(x->d, i)->id);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  } else {
    return lrk_error(L, "dataset has no field '%s' (fields: n_subjects, "
                     "n_obs, covariates, ids, path)", k);
  }
  return 1;
}

/* ---------------------------------------------------------------- fit */

typedef struct {
  rkin_popfit f;
  int live;
} fitbox;

static int fitbox_gc(lua_State *L)
{
  fitbox *b = luaL_checkudata(L, 1, FITBOX_MT);
  if (b->live) rkin_popfit_free(&b->f);
  b->live = 0;
  return 0;
}

/* Names of the estimated parameters in the engine's order: theta, Omega
 * (diagonal, or lower triangle by rows), sigma. Pushed as an array; kinds
 * into *kind (collectable). */
static void push_est_names(lua_State *L, const lpop *p, const char ***kind)
{
  size_t q = p->n_eta, a, b, i = 0;
  size_t n = p->n_theta + (p->omega_diag ? q : q * (q + 1) / 2)
             + (p->res == RKIN_RES_COMB ? 2 : 1);
  *kind = lua_newuserdatauv(L, n * sizeof **kind, 0);
  lua_createtable(L, (int)n, 0);
  for (a = 0; a < p->n_theta; a++) {
    lua_pushstring(L, p->theta_names[a]);
    lua_rawseti(L, -2, (lua_Integer)++i);
    (*kind)[i - 1] = "theta";
  }
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) {
      if (a != b && p->omega_diag) continue;
      if (a == b) lua_pushfstring(L, "OMEGA(%s)", p->eta_names[a]);
      else lua_pushfstring(L, "OMEGA(%s,%s)", p->eta_names[a],
                           p->eta_names[b]);
      lua_rawseti(L, -2, (lua_Integer)++i);
      (*kind)[i - 1] = "omega";
    }
  if (p->res != RKIN_RES_PROP) {
    lua_pushstring(L, p->log_scale ? "SIGMA_ADD_LOG" : "SIGMA_ADD");
    lua_rawseti(L, -2, (lua_Integer)++i);
    (*kind)[i - 1] = "sigma";
  }
  if (p->res != RKIN_RES_ADD) {
    lua_pushstring(L, "SIGMA_PROP");
    lua_rawseti(L, -2, (lua_Integer)++i);
    (*kind)[i - 1] = "sigma";
  }
}

/* The estimates in the engine's order (as rkin_popfit.est). */
static void estimates(const lpop *p, const rkin_popfit *f, double *v)
{
  size_t q = p->n_eta, a, b, i = 0;
  for (a = 0; a < p->n_theta; a++) v[i++] = f->theta[a];
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++)
      if (a == b || !p->omega_diag) v[i++] = f->omega[a * q + b];
  for (a = 0; a < f->n_sigma; a++) v[i++] = f->sigma[a];
}

static void set_num(lua_State *L, const char *key, double v)
{
  if (!isfinite(v)) return;   /* undefined: absent, never NaN */
  lua_pushnumber(L, v);
  lua_setfield(L, -2, key);
}

static void push_matrix(lua_State *L, const double *m, size_t n)
{
  size_t i;
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lrk_push_numbers(L, m + i * n, n);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* ------------------------------------------------------ text outputs */

static void add_num(luaL_Buffer *b, double v)
{
  char s[64];
  if (isfinite(v)) snprintf(s, sizeof s, "%.10g", v);
  else snprintf(s, sizeof s, "NA");
  luaL_addstring(b, s);
}

static void addf(luaL_Buffer *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void addf(luaL_Buffer *b, const char *fmt, ...)
{
  char s[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s, sizeof s, fmt, ap);
  va_end(ap);
  luaL_addstring(b, s);
}

typedef struct {
  const lpop *p;
  const rkin_popfit *f;
  const rkin_model *m;
  const rkin_data *d;
  const char *data_path;
  size_t n_est;
  const double *est, *se;    /* se NULL: no covariance step */
  const char *const *names, *const *kinds;
  double aic, bic;
} report;

static void csv_params(lua_State *L, const report *r)
{
  luaL_Buffer b;
  size_t k;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "parameter,kind,estimate,se,rse_pct,ci95_lower,"
                 "ci95_upper\n");
  for (k = 0; k < r->n_est; k++) {
    double se = r->se ? r->se[k] : NAN, est = r->est[k];
    /* a full omega's names hold a comma, OMEGA(a,b): quoted */
    addf(&b, strpbrk(r->names[k], ",\"") ? "\"%s\",%s," : "%s,%s,",
         r->names[k], r->kinds[k]);
    add_num(&b, est);
    luaL_addchar(&b, ',');
    add_num(&b, se);
    luaL_addchar(&b, ',');
    add_num(&b, est != 0 ? 100 * se / fabs(est) : NAN);
    luaL_addchar(&b, ',');
    add_num(&b, est - 1.959963984540054 * se);
    luaL_addchar(&b, ',');
    add_num(&b, est + 1.959963984540054 * se);
    luaL_addchar(&b, '\n');
  }
  luaL_addstring(&b, "OFV,objective,");
  add_num(&b, r->f->ofv);
  luaL_addstring(&b, ",NA,NA,NA,NA\n-2LL,objective,");
  add_num(&b, r->f->m2ll);
  luaL_addstring(&b, ",NA,NA,NA,NA\nAIC,objective,");
  add_num(&b, r->aic);
  luaL_addstring(&b, ",NA,NA,NA,NA\nBIC,objective,");
  add_num(&b, r->bic);
  luaL_addstring(&b, ",NA,NA,NA,NA\n");
  luaL_pushresult(&b);
}

static void csv_ebe(lua_State *L, const report *r)
{
  const rkin_popfit *f = r->f;
  luaL_Buffer b;
  size_t s, k;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "ID");
  for (k = 0; k < f->n_eta; k++) addf(&b, ",ETA_%s", r->p->eta_names[k]);
  for (k = 0; k < f->n_psi; k++)
    addf(&b, ",%s", rkin_model_param_name(r->m, k));
  luaL_addstring(&b, ",OFV_i\n");
  for (s = 0; s < f->n_subj; s++) {
    add_num(&b, rkin_data_subject_at(r->d, s)->id);
    for (k = 0; k < f->n_eta; k++) {
      luaL_addchar(&b, ',');
      add_num(&b, f->eta[s * f->n_eta + k]);
    }
    for (k = 0; k < f->n_psi; k++) {
      luaL_addchar(&b, ',');
      add_num(&b, f->psi[s * f->n_psi + k]);
    }
    luaL_addchar(&b, ',');
    add_num(&b, f->ofv_i[s]);
    luaL_addchar(&b, '\n');
  }
  luaL_pushresult(&b);
}

static void csv_table(lua_State *L, const report *r)
{
  const rkin_popfit *f = r->f;
  luaL_Buffer b;
  size_t k;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "ID,TIME,DV,PRED,IPRED,RES,IWRES,CWRES\n");
  for (k = 0; k < f->n_obs; k++) {
    const double v[8] = {f->id[k], f->time[k], f->dv[k], f->pred[k],
                         f->ipred[k], f->res[k], f->iwres[k], f->cwres[k]};
    int c;
    for (c = 0; c < 8; c++) {
      if (c) luaL_addchar(&b, ',');
      add_num(&b, v[c]);
    }
    luaL_addchar(&b, '\n');
  }
  luaL_pushresult(&b);
}

static const char *method_name(rkin_pop_method m)
{
  return m == RKIN_POP_FO ? "FO" : "FOCE-I";
}

/* A NONMEM-like summary of the fit. */
static void summary_text(lua_State *L, const report *r,
                         rkin_pop_method method)
{
  const rkin_popfit *f = r->f;
  const lpop *p = r->p;
  size_t q = p->n_eta, k, a, b;
  luaL_Buffer bf;
  luaL_buffinit(L, &bf);
  addf(&bf, "radiokin population fit: %s, method %s\n", p->name,
       method_name(method));
  addf(&bf, "model %s, observed %s; data %s: %zu subjects, %zu "
       "observations\n", rkin_model_name(r->m), p->observe, r->data_path,
       f->n_subj, f->n_obs);
  if (f->status == 0)
    addf(&bf, "minimisation successful (NLopt: %s) after %d evaluations\n",
         f->stop ? f->stop : "?", f->n_eval);
  else
    addf(&bf, "MINIMISATION TERMINATED: %s\n", f->err.msg);
  addf(&bf, "\nOFV %.4f   -2LL %.4f   AIC %.4f   BIC %.4f   (%zu "
       "parameters)\n", f->ofv, f->m2ll, r->aic, r->bic, r->n_est);
  if (f->cov_status != 0)
    addf(&bf, "covariance step: %s\n", f->cov_err.msg);
  addf(&bf, "\n%-22s %12s %11s %8s   %-25s\n", "parameter", "estimate",
       "SE", "RSE %", "95 % CI");
  for (k = 0; k < r->n_est; k++) {
    double est = r->est[k], se = r->se ? r->se[k] : NAN;
    addf(&bf, "%-22s %12.5g", r->names[k], est);
    if (isfinite(se))
      addf(&bf, " %11.4g %8.1f   [%.5g, %.5g]", se,
           est != 0 ? 100 * se / fabs(est) : NAN, est - 1.96 * se,
           est + 1.96 * se);
    luaL_addchar(&bf, '\n');
  }
  luaL_addstring(&bf, "\nomega as SD (sqrt of the variance) and "
                 "correlations:\n");
  for (a = 0; a < q; a++) {
    addf(&bf, "  %-12s SD %.5g", p->eta_names[a],
         sqrt(f->omega[a * q + a]));
    for (b = 0; b < a; b++)
      if (!p->omega_diag)
        addf(&bf, "  r(%s) %.3f", p->eta_names[b], f->omega[a * q + b]
             / sqrt(f->omega[a * q + a] * f->omega[b * q + b]));
    addf(&bf, "   shrinkage %.1f %%\n", 100 * f->eta_shrink[a]);
  }
  addf(&bf, "  epsilon shrinkage %.1f %%\n", 100 * f->eps_shrink);
  if (f->cov_status == 0) {
    addf(&bf, "\ncorrelation of the estimates (condition number %.4g):\n",
         f->cond);
    for (a = 0; a < r->n_est; a++) {
      addf(&bf, "  %-22s", r->names[a]);
      for (b = 0; b <= a; b++)
        addf(&bf, " %6.3f", f->corr[a * r->n_est + b]);
      luaL_addchar(&bf, '\n');
    }
  }
  luaL_pushresult(&bf);
}

/* r:write_csv(dir): parameters.csv, ebe.csv and table.csv in dir (made if
 * missing), each written atomically. Upvalue 1: {file = text}. Returns
 * the paths written. */
static int result_write_csv(lua_State *L)
{
  static const char *const files[] = {"parameters.csv", "ebe.csv",
                                      "table.csv"};
  const char *dir;
  int k;
  if (lua_type(L, 1) != LUA_TTABLE || lua_type(L, 2) != LUA_TSTRING)
    return lrk_error(L, "r:write_csv: expected a folder name (got %s); "
                     "call it as r:write_csv(dir)", lrk_got(L, 2));
  dir = lua_tostring(L, 2);
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return lrk_error(L, "r:write_csv: cannot create folder '%s': %s", dir,
                     strerror(errno));
  lua_createtable(L, 3, 0);
  for (k = 0; k < 3; k++) {
    const char *path = lua_pushfstring(L, "%s/%s", dir, files[k]);
    size_t len;
    const char *text;
    rkin_err err;
    lua_getfield(L, lua_upvalueindex(1), files[k]);
    text = lua_tolstring(L, -1, &len);
    rkin_err_clear(&err);
    if (lrk_write_atomic(path, text, len, &err) != 0)
      return lrk_raise(L, "r:write_csv", &err);
    lua_pop(L, 1);
    lua_rawseti(L, -2, k + 1);
  }
  return 1;
}

static int result_summary(lua_State *L)
{
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

/* The result table. */
static void push_result(lua_State *L, const report *r,
                        rkin_pop_method method)
{
  const rkin_popfit *f = r->f;
  const lpop *p = r->p;
  size_t k, s, q = p->n_eta;
  int rt;
  lua_createtable(L, 0, 32);
  rt = lua_gettop(L);
  lua_pushstring(L, method_name(method));
  lua_setfield(L, rt, "method");
  lua_pushboolean(L, f->status == 0);
  lua_setfield(L, rt, "converged");
  if (f->status) {
    lua_pushstring(L, f->err.msg);
    lua_setfield(L, rt, "message");
  }
  if (f->stop) {
    lua_pushstring(L, f->stop);
    lua_setfield(L, rt, "stop");
  }
  lua_pushinteger(L, f->n_eval);
  lua_setfield(L, rt, "n_eval");
  set_num(L, "ofv", f->ofv);
  set_num(L, "m2ll", f->m2ll);
  set_num(L, "aic", r->aic);
  set_num(L, "bic", r->bic);
  lua_pushinteger(L, (lua_Integer)f->n_obs);
  lua_setfield(L, rt, "n_obs");
  lua_pushinteger(L, (lua_Integer)f->n_subj);
  lua_setfield(L, rt, "n_subjects");
  lua_pushinteger(L, (lua_Integer)r->n_est);
  lua_setfield(L, rt, "n_params");

  lua_createtable(L, 0, (int)p->n_theta);
  for (k = 0; k < p->n_theta; k++) set_num(L, p->theta_names[k],
                                           f->theta[k]);
  lua_setfield(L, rt, "theta");
  push_matrix(L, f->omega, q);
  lua_setfield(L, rt, "omega");
  lua_createtable(L, (int)q, 0);
  for (k = 0; k < q; k++) {
    lua_pushstring(L, p->eta_names[k]);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_setfield(L, rt, "eta_names");
  lua_createtable(L, 0, (int)q);
  for (k = 0; k < q; k++) set_num(L, p->eta_names[k],
                                  sqrt(f->omega[k * q + k]));
  lua_setfield(L, rt, "omega_sd");
  lua_createtable(L, 0, 2);
  if (p->res != RKIN_RES_PROP) set_num(L, "additive", f->sigma[0]);
  if (p->res == RKIN_RES_PROP) set_num(L, "proportional", f->sigma[0]);
  if (p->res == RKIN_RES_COMB) set_num(L, "proportional", f->sigma[1]);
  lua_setfield(L, rt, "sigma");

  /* parameter table */
  lua_createtable(L, (int)r->n_est, 0);
  for (k = 0; k < r->n_est; k++) {
    double est = r->est[k], se = r->se ? r->se[k] : NAN;
    lua_createtable(L, 0, 7);
    lua_pushstring(L, r->names[k]);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, r->kinds[k]);
    lua_setfield(L, -2, "kind");
    set_num(L, "estimate", est);
    set_num(L, "se", se);
    set_num(L, "rse", est != 0 ? 100 * se / fabs(est) : NAN);
    set_num(L, "lower95", est - 1.959963984540054 * se);
    set_num(L, "upper95", est + 1.959963984540054 * se);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_setfield(L, rt, "params");

  lua_pushboolean(L, f->cov_status == 0);
  lua_setfield(L, rt, "covariance_ok");
  if (f->cov_status) {
    lua_pushstring(L, f->cov_err.msg);
    lua_setfield(L, rt, "covariance_message");
  } else {
    push_matrix(L, f->corr, r->n_est);
    lua_setfield(L, rt, "correlation");
    push_matrix(L, f->cov, r->n_est);
    lua_setfield(L, rt, "covariance");
    set_num(L, "condition", f->cond);
  }

  /* per subject */
  lua_createtable(L, (int)f->n_subj, 0);
  for (s = 0; s < f->n_subj; s++) {
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, rkin_data_subject_at(r->d, s)->id);
    lua_setfield(L, -2, "id");
    lua_createtable(L, 0, (int)q);
    for (k = 0; k < q; k++) set_num(L, p->eta_names[k], f->eta[s * q + k]);
    lua_setfield(L, -2, "eta");
    lua_createtable(L, 0, (int)f->n_psi);
    for (k = 0; k < f->n_psi; k++)
      set_num(L, rkin_model_param_name(r->m, k), f->psi[s * f->n_psi + k]);
    lua_setfield(L, -2, "params");
    set_num(L, "ofv", f->ofv_i[s]);
    lua_rawseti(L, -2, (lua_Integer)s + 1);
  }
  lua_setfield(L, rt, "ebe");

  /* per observation */
  {
    static const char *const cols[8] = {"ID", "TIME", "DV", "PRED",
                                        "IPRED", "RES", "IWRES", "CWRES"};
    const double *v[8] = {f->id, f->time, f->dv, f->pred, f->ipred,
                          f->res, f->iwres, f->cwres};
    int c;
    lua_createtable(L, 0, 8);
    for (c = 0; c < 8; c++) {
      lrk_push_numbers(L, v[c], f->n_obs);
      lua_setfield(L, -2, cols[c]);
    }
    lua_setfield(L, rt, "table");
  }
  lua_createtable(L, 0, 2);
  lua_createtable(L, 0, (int)q);
  for (k = 0; k < q; k++) set_num(L, p->eta_names[k], f->eta_shrink[k]);
  lua_setfield(L, -2, "eta");
  set_num(L, "eps", f->eps_shrink);
  lua_setfield(L, rt, "shrinkage");

  /* methods: closures over the texts */
  lua_createtable(L, 0, 3);
  csv_params(L, r);
  lua_setfield(L, -2, "parameters.csv");
  csv_ebe(L, r);
  lua_setfield(L, -2, "ebe.csv");
  csv_table(L, r);
  lua_setfield(L, -2, "table.csv");
  lua_pushcclosure(L, result_write_csv, 1);
  lua_setfield(L, rt, "write_csv");
  summary_text(L, r, method);
  lua_pushcclosure(L, result_summary, 1);
  lua_setfield(L, rt, "summary");
}

/* pm:fit(data, {method=, covariance=, threads=, max_eval=, rtol=, atol=,
 * path=, gradient=}) -> result; data: a file name or a dataset of
 * rk.popest.read; gradient "analytic" (default: exact-path sensitivities
 * where available) or "fd" (finite differences of the predictions). */
static int pop_fit(lua_State *L)
{
  static const char *const keys[] = {"method", "covariance", "threads",
                                     "max_eval", "rtol", "atol", "path",
                                     "gradient", NULL};
  lpop *p = check_pop(L, 1);
  const rkin_model *m;
  const char *ctx;
  ldata *x;
  rkin_popmodel pm;
  rkin_popfit_opts o;
  rkin_solve_opts so;
  fitbox *fb;
  report r;
  double *est;
  const char **kinds, **names;
  rkin_err err;
  size_t k;
  int rc, use_so = 0;
  lua_settop(L, 3);
  ctx = lua_pushfstring(L, "%s:fit", p->name);                   /* 4 */
  lua_getiuservalue(L, 1, 1);                                    /* 5 */
  m = lrk_check_model(L, 5);
  if (lua_type(L, 2) == LUA_TSTRING) {
    push_data(L, lua_tostring(L, 2), 5, ctx);                    /* 6 */
  } else if (luaL_testudata(L, 2, DATA_MT)) {
    lua_pushvalue(L, 2);
  } else {
    return lrk_error(L, "%s: expected a dataset file name or a dataset of "
                     "rk.popest.read (got %s)", ctx, lrk_got(L, 2));
  }
  x = lua_touserdata(L, 6);
  if (!x->d) return lrk_error(L, "%s: the dataset was freed", ctx);
  rkin_popfit_opts_default(&o);
  o.method = p->method;
  rkin_solve_opts_default(&so);
  if (!lua_isnil(L, 3)) {
    if (lua_type(L, 3) != LUA_TTABLE)
      return lrk_error(L, "%s: options must be a table {method=, "
                       "covariance=, threads=, max_eval=} (got %s)", ctx,
                       lrk_got(L, 3));
    lrk_check_keys(L, 3, ctx, keys);
    o.method = read_method(L, 3, ctx, p->method);
    o.covariance = lrk_field_boolean(L, 3, ctx, "covariance", 1);
    o.threads = (int)lrk_field_integer(L, 3, ctx, "threads", 0, 0);
    o.max_eval = (int)lrk_field_integer(L, 3, ctx, "max_eval", 0, 3000);
    if (o.threads < 0 || o.max_eval <= 0)
      return lrk_error(L, "%s: threads must be >= 0 (0: all cores) and "
                       "max_eval > 0", ctx);
    {
      const char *gr = lrk_field_string(L, 3, ctx, "gradient", 0,
                                        "analytic");
      if (strcmp(gr, "fd") == 0) o.fd_grad = 1;
      else if (strcmp(gr, "analytic") != 0)
        return lrk_error(L, "%s: field 'gradient' must be \"analytic\" "
                         "or \"fd\" (got \"%s\")", ctx, gr);
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
  memset(&pm, 0, sizeof pm);
  pm.model = m;
  pm.output = p->output;
  pm.solve = use_so ? &so : NULL;
  pm.n_theta = p->n_theta;
  pm.theta_names = (const char *const *)p->theta_names;
  pm.theta_init = p->theta_init;
  pm.theta_lower = p->lower;
  pm.theta_upper = p->upper;
  pm.n_eta = p->n_eta;
  pm.eta_names = (const char *const *)p->eta_names;
  pm.omega_init = p->omega;
  pm.omega_diag = p->omega_diag;
  pm.n_cov = p->n_cov;
  pm.cov_names = (const char *const *)p->cov_names;
  pm.graph = p->g;
  pm.psi_expr = p->psi;
  pm.psi_deta = p->dpsi;
  pm.res = p->res;
  pm.log_scale = p->log_scale;
  pm.sigma_init = p->sigma;

  fb = lua_newuserdatauv(L, sizeof *fb, 0);                      /* 7 */
  memset(fb, 0, sizeof *fb);
  luaL_setmetatable(L, FITBOX_MT);
  rkin_err_clear(&err);
  rc = rkin_popfit_run(&pm, x->d, &o, &fb->f, &err);
  fb->live = 1;
  if (rc) return lrk_raise(L, ctx, &err);

  push_est_names(L, p, &kinds);                                  /* 8, 9 */
  names = lua_newuserdatauv(L, fb->f.n_est * sizeof *names, 0);  /* 10 */
  for (k = 0; k < fb->f.n_est; k++) {
    lua_rawgeti(L, 9, (lua_Integer)k + 1);
    names[k] = lua_tostring(L, -1);    /* alive: table 9 holds it */
    lua_pop(L, 1);
  }
  est = lua_newuserdatauv(L, fb->f.n_est * sizeof *est, 0);      /* 11 */
  estimates(p, &fb->f, est);
  memset(&r, 0, sizeof r);
  r.p = p;
  r.f = &fb->f;
  r.m = m;
  r.d = x->d;
  r.data_path = x->path;
  r.n_est = fb->f.n_est;
  r.est = est;
  r.se = fb->f.cov_status == 0 ? fb->f.se : NULL;
  r.names = names;
  r.kinds = kinds;
  r.aic = fb->f.m2ll + 2.0 * (double)r.n_est;
  r.bic = fb->f.m2ll + (double)r.n_est * log((double)fb->f.n_obs);
  push_result(L, &r, o.method);
  rkin_popfit_free(&fb->f);
  fb->live = 0;
  return 1;
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
  lpop *p = check_pop(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "fit") == 0) lua_pushcfunction(L, pop_fit);
  else if (strcmp(k, "read") == 0) lua_pushcfunction(L, data_read);
  else if (strcmp(k, "name") == 0) lua_pushstring(L, p->name);
  else if (strcmp(k, "theta_names") == 0)
    push_names(L, p->theta_names, p->n_theta);
  else if (strcmp(k, "eta_names") == 0)
    push_names(L, p->eta_names, p->n_eta);
  else if (strcmp(k, "covariates") == 0)
    push_names(L, p->cov_names, p->n_cov);
  else if (strcmp(k, "observe") == 0) lua_pushstring(L, p->observe);
  else if (strcmp(k, "model") == 0) lua_getiuservalue(L, 1, 1);
  else if (strcmp(k, "theta") == 0) {
    size_t i;
    lua_createtable(L, 0, (int)p->n_theta);
    for (i = 0; i < p->n_theta; i++) {
      lua_pushnumber(L, p->theta_init[i]);
      lua_setfield(L, -2, p->theta_names[i]);
    }
  } else if (strcmp(k, "omega") == 0) {
    push_matrix(L, p->omega, p->n_eta);
  } else {
    return lrk_error(L, "population model '%s' has no field '%s' (fields: "
                     "fit, read, name, model, observe, theta, theta_names, "
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
                  p->omega_diag ? "" : " full omega", (int)p->n_cov,
                  p->observe);
  return 1;
}

/* rk.popest{...}: __call of the module table, which comes first. */
static int pop_call(lua_State *L)
{
  lua_remove(L, 1);
  return pop_new(L);
}

/* rk.popest.fit(pm, data, opts): the same as pm:fit(data, opts). */
static int fit_fn(lua_State *L)
{
  return pop_fit(L);
}

static const luaL_Reg funcs[] = {
  {"model", pop_new},
  {"fit", fit_fn},
  {"read", data_read},
  {NULL, NULL}
};

int luaopen_radiokin_popest(lua_State *L)
{
  if (luaL_newmetatable(L, POPMODEL_MT)) {
    lua_pushcfunction(L, lpop_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, pop_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, pop_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, DATA_MT)) {
    lua_pushcfunction(L, ldata_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, data_index);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, FITBOX_MT)) {
    lua_pushcfunction(L, fitbox_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  /* rk.popest{...} declares a model, as rk.popest.model{...} */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, pop_call);
  lua_setfield(L, -2, "__call");
  lua_setmetatable(L, -2);
  return 1;
}
