/* l_population.c - "radiokin.population": rk.population{...} builds a
 * population model (engine/pop/vpop.h: typical values, correlated log-normal
 * random effects, covariate distributions with a copula, covariate
 * effects) over an rk.model; pop:sample{n=, seed=} and pop:read_csv(path)
 * return patient tables that rk.cohort{patients = ...} accepts.
 *
 * The `derived` and `individual` Lua functions are traced ONCE through
 * rk.model (as outputs of a one-state helper model whose parameters are
 * the inputs "th.NAME", "eta.NAME", "cov.NAME"); the engine evaluates the
 * compiled tapes per patient, so no Lua runs while patients are made. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"
#include "lrk_dist.h"
#include "core/model.h"
#include "modules.h"
#include "pop/vpop.h"

#define POP_MT "radiokin.population"
#define PATIENTS_MT "radiokin.patients"
#define CTX "rk.population"

/* Uservalues of the population userdata. */
enum { UV_MODEL = 1, UV_INDIV, UV_DERIVE, UV_NAMES, N_UV = UV_NAMES };

typedef struct {
  rkin_pop_spec ps;
  double *theta, *omega, *cov_corr;
  rkin_covdist *dist;
  char **cov_names;          /* n_cov + n_derived, sampled first */
  rkin_effect *effects;
  size_t *ind_arg, *ind_out, *der_arg, *der_out;
} lpop;

static int pop_gc(lua_State *L)
{
  lpop *p = luaL_checkudata(L, 1, POP_MT);
  free(p->theta);
  free(p->omega);
  free(p->cov_corr);
  free(p->dist);
  lrk_free_names(p->cov_names, p->ps.n_cov + p->ps.n_derived);
  free(p->effects);
  free(p->ind_arg);
  free(p->ind_out);
  free(p->der_arg);
  free(p->der_out);
  memset(p, 0, sizeof *p);
  return 0;
}

static void *xcalloc(lua_State *L, size_t n, size_t sz)
{
  void *v = calloc(n ? n : 1, sz);
  if (!v) lrk_error(L, CTX ": out of memory");
  return v;
}

/* Pushes "a, b, c" for the n names. */
static const char *push_list(lua_State *L, const char *const *v, size_t n)
{
  luaL_Buffer b;
  size_t i;
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, v[i]);
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

static const char *param_list(lua_State *L, const rkin_model *m)
{
  size_t np = rkin_model_nparams(m), j;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (j = 0; j < np; j++) {
    if (j) luaL_addstring(&b, ", ");
    luaL_addstring(&b, rkin_model_param_name(m, j));
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* Index of parameter `name` of m, raising "ctx: what: 'x' is not a
 * parameter of model M (parameters: ...)". */
static size_t param_index(lua_State *L, const rkin_model *m, const char *name,
                          const char *what)
{
  int k = rkin_model_param_index(m, name, NULL);
  if (k < 0)
    lrk_error(L, CTX ": %s: '%s' is not a parameter of model '%s' "
              "(parameters: %s)", what, name, rkin_model_name(m),
              param_list(L, m));
  return (size_t)k;
}

static int cov_index(const lpop *p, const char *name, size_t n)
{
  size_t k;
  for (k = 0; k < n; k++)
    if (!strcmp(p->cov_names[k], name)) return (int)k;
  return -1;
}

static size_t cov_index_or_raise(lua_State *L, const lpop *p,
                                 const char *name, size_t n, const char *what)
{
  int k = cov_index(p, name, n);
  if (k < 0)
    lrk_error(L, CTX ": %s: '%s' is not a covariate (covariates: %s)", what,
              name, push_list(L, (const char *const *)p->cov_names, n));
  return (size_t)k;
}

/* ------------------------------------------------------ variability */

/* omega = {name = variance} or {names = {...}, matrix = {{...}, ...}};
 * cv = {name = cv}: variance ln(1 + cv^2); corr = { {a, b, r}, ... }. */
static void read_omega(lua_State *L, lpop *p, const rkin_model *m)
{
  size_t np = rkin_model_nparams(m), i, j;
  int t = lua_gettop(L);
  double *om = p->omega = xcalloc(L, np * np, sizeof *om);
  unsigned char *set = lua_newuserdatauv(L, np ? np : 1, 0);
  memset(set, 0, np ? np : 1);

  if (lua_getfield(L, 1, "omega") == LUA_TTABLE) {
    if (lua_getfield(L, -1, "matrix") != LUA_TNIL) {
      size_t n;
      size_t *idx;
      if (lua_getfield(L, -2, "names") != LUA_TTABLE)
        lrk_error(L, CTX ": field 'omega': a matrix needs names = {...} "
                  "(the parameters of its rows, in order)");
      n = (size_t)lua_rawlen(L, -1);
      idx = lua_newuserdatauv(L, (n ? n : 1) * sizeof *idx, 0);
      for (i = 0; i < n; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        if (!lua_isstring(L, -1))
          lrk_error(L, CTX ": omega.names[%d] must be a parameter name",
                    (int)i + 1);
        idx[i] = param_index(L, m, lua_tostring(L, -1), "omega.names");
        lua_pop(L, 1);
      }
      if (lua_type(L, -3) != LUA_TTABLE || lua_rawlen(L, -3) != n)
        lrk_error(L, CTX ": omega.matrix must be %d rows of %d numbers",
                  (int)n, (int)n);
      for (i = 0; i < n; i++) {
        size_t len;
        const char *what;
        double *row;
        lua_rawgeti(L, -3, (lua_Integer)i + 1);
        what = lua_pushfstring(L, "omega.matrix[%d]", (int)i + 1);
        row = lrk_numbers(L, -2, CTX, what, &len);
        if (len != n)
          lrk_error(L, CTX ": %s has %d numbers, expected %d", what,
                    (int)len, (int)n);
        for (j = 0; j < n; j++) om[idx[i] * np + idx[j]] = row[j];
        set[idx[i]] = 1;
        lua_pop(L, 3);
      }
      lua_pop(L, 2);
    } else {
      lua_pushnil(L);
      while (lua_next(L, -3)) {
        size_t k;
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TNUMBER)
          lrk_error(L, CTX ": field 'omega' must map parameter names to "
                    "variances of eta (or be {names=, matrix=})");
        k = param_index(L, m, lua_tostring(L, -2), "omega");
        om[k * np + k] = lua_tonumber(L, -1);
        set[k] = 1;
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  } else if (!lua_isnil(L, -1)) {
    lrk_error(L, CTX ": field 'omega' must be a table (got %s)",
              luaL_typename(L, -1));
  }
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "cv") == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      size_t k;
      double c;
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TNUMBER)
        lrk_error(L, CTX ": field 'cv' must map parameter names to "
                  "coefficients of variation (0.3 = 30 %%)");
      k = param_index(L, m, lua_tostring(L, -2), "cv");
      c = lua_tonumber(L, -1);
      if (set[k])
        lrk_error(L, CTX ": parameter '%s' has variability in both 'omega' "
                  "and 'cv'; give it once", lua_tostring(L, -2));
      if (!isfinite(c) || c < 0)
        lrk_error(L, CTX ": cv.%s must be a finite coefficient of "
                  "variation >= 0 (got %f)", lua_tostring(L, -2), c);
      om[k * np + k] = log1p(c * c);
      set[k] = 1;
      lua_pop(L, 1);
    }
  } else if (!lua_isnil(L, -1)) {
    lrk_error(L, CTX ": field 'cv' must be a table name = cv (got %s)",
              luaL_typename(L, -1));
  }
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "corr") == LUA_TTABLE) {
    size_t n = (size_t)lua_rawlen(L, -1), k;
    for (k = 1; k <= n; k++) {
      size_t a, b;
      double r;
      lua_rawgeti(L, -1, (lua_Integer)k);
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      lua_rawgeti(L, -3, 3);
      if (!lua_isstring(L, -3) || !lua_isstring(L, -2) ||
          lua_type(L, -1) != LUA_TNUMBER)
        lrk_error(L, CTX ": corr[%d] must be {\"param1\", \"param2\", r}",
                  (int)k);
      a = param_index(L, m, lua_tostring(L, -3), "corr");
      b = param_index(L, m, lua_tostring(L, -2), "corr");
      r = lua_tonumber(L, -1);
      if (a == b || !(om[a * np + a] > 0) || !(om[b * np + b] > 0))
        lrk_error(L, CTX ": corr[%d] correlates '%s' with '%s': it needs "
                  "two different parameters that both have variability "
                  "(omega or cv)", (int)k, lua_tostring(L, -3),
                  lua_tostring(L, -2));
      om[a * np + b] = om[b * np + a] =
          r * sqrt(om[a * np + a] * om[b * np + b]);
      lua_pop(L, 4);
    }
  } else if (!lua_isnil(L, -1)) {
    lrk_error(L, CTX ": field 'corr' must be a list of {\"p1\", \"p2\", r}");
  }
  lua_settop(L, t);
  p->ps.omega = om;
}

/* ------------------------------------------------------- covariates */

static rkin_dist read_dist(lua_State *L, int t, const char *name)
{
  const char *d = lrk_field_string(L, t, CTX, "dist", 0, "normal");
  if (!strcmp(d, "normal")) return RKIN_DIST_NORMAL;
  if (!strcmp(d, "lognormal")) return RKIN_DIST_LOGNORMAL;
  if (!strcmp(d, "uniform")) return RKIN_DIST_UNIFORM;
  lrk_error(L, CTX ": covariates.%s: dist must be \"normal\", \"lognormal\" "
            "or \"uniform\" (got \"%s\")", name, d);
  return RKIN_DIST_NORMAL;
}

/* covariates = {NAME = {dist=, mean=, sd=, min=, max=, unit=}, ...} (sampled) or
 * {"NAME", ...} (given per patient, e.g. by read_csv). Sorted by name. */
static void read_covariates(lua_State *L, lpop *p)
{
  static const char *const keys[] = {"dist", "mean", "sd", "min", "max",
                                     "unit", NULL};
  int t = lua_gettop(L), ct, listed;
  size_t n = 0, k;
  const char **names;
  if (lua_getfield(L, 1, "covariates") == LUA_TNIL) {
    lua_settop(L, t);
    return;
  }
  ct = lua_gettop(L);
  if (!lua_istable(L, ct))
    lrk_error(L, CTX ": field 'covariates' must be a table NAME = {dist=, "
              "mean=, sd=} or a list of names (got %s)",
              luaL_typename(L, ct));
  listed = lua_rawlen(L, ct) > 0;
  lua_pushnil(L);
  while (lua_next(L, ct)) {
    n++;
    lua_pop(L, 1);
  }
  names = lua_newuserdatauv(L, (n ? n : 1) * sizeof *names, 0);
  k = 0;
  lua_pushnil(L);
  while (lua_next(L, ct)) {
    int ok = listed ? lua_isinteger(L, -2) && lua_type(L, -1) == LUA_TSTRING
                    : lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1);
    if (!ok)
      lrk_error(L, CTX ": field 'covariates' must be a table NAME = {dist=, "
                "mean=, sd=, min=, max=} or a list of names, not a mix");
    names[k++] = lua_tostring(L, listed ? -1 : -2);
    lua_pop(L, 1);
  }
  qsort(names, n, sizeof *names, lrk_cmp_str);
  for (k = 1; k < n; k++)
    if (!strcmp(names[k], names[k - 1]))
      lrk_error(L, CTX ": covariate '%s' is listed twice", names[k]);
  p->cov_names = xcalloc(L, n, sizeof *p->cov_names);
  for (k = 0; k < n; k++) {
    p->cov_names[k] = lrk_strdup(L, CTX, names[k]);
    p->ps.n_cov = k + 1;
  }
  if (!listed) {
    p->dist = xcalloc(L, n, sizeof *p->dist);
    for (k = 0; k < n; k++) {
      rkin_covdist *d = &p->dist[k];
      const char *ctx;
      int dt;
      lua_getfield(L, ct, names[k]);
      dt = lua_gettop(L);
      ctx = lua_pushfstring(L, CTX ": covariates.%s", names[k]);
      lrk_check_keys(L, dt, ctx, keys);
      d->name = p->cov_names[k];
      d->dist = read_dist(L, dt, names[k]);
      /* A covariate is declared with its unit, as a dataset's would be
       * (NONMEM parity: type, unit, range); "1" for a dimensionless one. */
      if (!*lrk_field_string(L, dt, ctx, "unit", 1, NULL))
        lrk_error(L, "%s: field 'unit' must not be empty (\"1\" for a "
                  "dimensionless covariate)", ctx);
      d->lo = lrk_field_number(L, dt, ctx, "min", 0, -INFINITY);
      d->hi = lrk_field_number(L, dt, ctx, "max", 0, INFINITY);
      if (d->dist != RKIN_DIST_UNIFORM) {
        d->mean = lrk_field_number(L, dt, ctx, "mean", 1, 0);
        d->sd = lrk_field_number(L, dt, ctx, "sd", 1, 0);
      }
      lua_pop(L, 2);
    }
    p->ps.cov = p->dist;
  }
  lua_settop(L, t);
}

/* cov_corr = { {"a", "b", r}, ... } over sampled covariates. */
static void read_cov_corr(lua_State *L, lpop *p)
{
  size_t nc = p->ps.n_cov, n, k;
  int t = lua_gettop(L);
  if (lua_getfield(L, 1, "cov_corr") == LUA_TNIL) {
    lua_settop(L, t);
    return;
  }
  if (!lua_istable(L, -1))
    lrk_error(L, CTX ": field 'cov_corr' must be a list of {\"c1\", \"c2\", "
              "r}");
  if (!p->dist)
    lrk_error(L, CTX ": field 'cov_corr' needs covariates with "
              "distributions");
  p->cov_corr = xcalloc(L, nc * nc, sizeof *p->cov_corr);
  for (k = 0; k < nc; k++) p->cov_corr[k * nc + k] = 1;
  n = (size_t)lua_rawlen(L, -1);
  for (k = 1; k <= n; k++) {
    size_t a, b;
    lua_rawgeti(L, -1, (lua_Integer)k);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    lua_rawgeti(L, -3, 3);
    if (!lua_isstring(L, -3) || !lua_isstring(L, -2) ||
        lua_type(L, -1) != LUA_TNUMBER)
      lrk_error(L, CTX ": cov_corr[%d] must be {\"cov1\", \"cov2\", r}",
                (int)k);
    a = cov_index_or_raise(L, p, lua_tostring(L, -3), nc, "cov_corr");
    b = cov_index_or_raise(L, p, lua_tostring(L, -2), nc, "cov_corr");
    if (a == b)
      lrk_error(L, CTX ": cov_corr[%d] correlates '%s' with itself", (int)k,
                p->cov_names[a]);
    p->cov_corr[a * nc + b] = p->cov_corr[b * nc + a] = lua_tonumber(L, -1);
    lua_pop(L, 4);
  }
  p->ps.cov_corr = p->cov_corr;
  lua_settop(L, t);
}

/* effects = { {param=, cov=, form = "power" | "exp" | "linear", ref=,
 * beta=}, ... }. */
static void read_effects(lua_State *L, lpop *p, const rkin_model *m)
{
  static const char *const keys[] = {"param", "cov", "form", "ref", "beta",
                                     NULL};
  size_t n, k, nc = p->ps.n_cov + p->ps.n_derived;
  int t = lua_gettop(L);
  if (lua_getfield(L, 1, "effects") == LUA_TNIL) {
    lua_settop(L, t);
    return;
  }
  if (!lua_istable(L, -1))
    lrk_error(L, CTX ": field 'effects' must be a list of {param=, cov=, "
              "form=, ref=, beta=}");
  n = (size_t)lua_rawlen(L, -1);
  p->effects = xcalloc(L, n, sizeof *p->effects);
  for (k = 0; k < n; k++) {
    rkin_effect *e = &p->effects[k];
    const char *ctx, *form;
    int et;
    lua_rawgeti(L, -1, (lua_Integer)k + 1);
    et = lua_gettop(L);
    ctx = lua_pushfstring(L, CTX ": effects[%d]", (int)k + 1);
    if (!lua_istable(L, et))
      lrk_error(L, "%s must be a table {param=, cov=, form=, ref=, beta=}",
                ctx);
    lrk_check_keys(L, et, ctx, keys);
    e->param = param_index(L, m, lrk_field_string(L, et, ctx, "param", 1,
                                                  NULL), ctx);
    e->cov = cov_index_or_raise(L, p, lrk_field_string(L, et, ctx, "cov", 1,
                                                       NULL), nc, ctx);
    form = lrk_field_string(L, et, ctx, "form", 0, "power");
    if (!strcmp(form, "power")) e->kind = RKIN_EFFECT_POWER;
    else if (!strcmp(form, "exp")) e->kind = RKIN_EFFECT_EXP;
    else if (!strcmp(form, "linear")) e->kind = RKIN_EFFECT_LINEAR;
    else
      lrk_error(L, "%s: form must be \"power\", \"exp\" or \"linear\" (got "
                "\"%s\")", ctx, form);
    e->ref = lrk_field_number(L, et, ctx, "ref", 1, 0);
    e->beta = lrk_field_number(L, et, ctx, "beta", 1, 0);
    p->ps.n_effects = k + 1;
    lua_pop(L, 2);
  }
  p->ps.effects = p->effects;
  lua_settop(L, t);
}

/* -------------------------------------------------------------- tracing */

/* __index of the th / eta / cov tables given to a traced function: an
 * unknown name raises (upvalue 1: "parameter"/"covariate", 2: prefix, 3:
 * the known names). */
static int strict_index(lua_State *L)
{
  /* the values live in upvalue 4, not in the (empty) input table, so that
   * an assignment to a known name reaches strict_newindex */
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(4)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  return lrk_error(L, CTX ": the traced function reads unknown %s '%s.%s' "
                   "(known: %s)", lua_tostring(L, lua_upvalueindex(1)),
                   lua_tostring(L, lua_upvalueindex(2)),
                   luaL_tolstring(L, 2, NULL),
                   lua_tostring(L, lua_upvalueindex(3)));
}

static int strict_newindex(lua_State *L)
{
  return lrk_error(L, CTX ": the traced function assigns '%s' in an input "
                   "table (inputs are read-only; return the values in a "
                   "table)", luaL_tolstring(L, 2, NULL));
}

/* Pushes {name = p["<prefix>.name"]} for the names of the list table at
 * `names` (p at index `pi`), strict. */
static void push_inputs(lua_State *L, int pi, int names, const char *prefix,
                        const char *kind)
{
  size_t n = (size_t)lua_rawlen(L, names), k;
  int values;
  luaL_Buffer b;
  pi = lua_absindex(L, pi);
  names = lua_absindex(L, names);
  lua_createtable(L, 0, 0);                    /* the input: empty */
  lua_createtable(L, 0, (int)n);               /* its values */
  values = lua_gettop(L);
  for (k = 1; k <= n; k++) {
    lua_rawgeti(L, names, (lua_Integer)k);
    lua_pushfstring(L, "%s.%s", prefix, lua_tostring(L, -1));
    lua_gettable(L, pi);
    lua_settable(L, values);
  }
  lua_createtable(L, 0, 2);
  lua_pushstring(L, kind);
  lua_pushstring(L, prefix);
  luaL_buffinit(L, &b);
  for (k = 1; k <= n; k++) {
    if (k > 1) luaL_addstring(&b, ", ");
    lua_rawgeti(L, names, (lua_Integer)k);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  lua_pushvalue(L, values);
  lua_pushcclosure(L, strict_index, 4);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, strict_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -3);
  lua_pop(L, 1);                               /* the values */
}

/* The outputs function of a helper model: upvalues 1 the user function,
 * 2 "individual" / "derived", 3 model parameter names, 4 covariate
 * names. Called (s, p, t) once by rk.model. */
static int traced_outputs(lua_State *L)
{
  int indiv = lua_tostring(L, lua_upvalueindex(2))[0] == 'i';
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));                        /* 3 */
  if (indiv) {
    push_inputs(L, 2, lua_upvalueindex(3), "th", "parameter");
    push_inputs(L, 2, lua_upvalueindex(3), "eta", "parameter");
  }
  push_inputs(L, 2, lua_upvalueindex(4), "cov", "covariate");
  lua_call(L, indiv ? 3 : 1, 1);
  if (!lua_istable(L, -1))
    lrk_error(L, CTX ": %s must return a table {NAME = value, ...} (got %s)",
              indiv ? "individual" : "derived", luaL_typename(L, -1));
  return 1;
}

static int zero_ode(lua_State *L)
{
  lua_createtable(L, 0, 1);
  lua_pushinteger(L, 0);
  lua_setfield(L, -2, "_");
  return 1;
}

/* Pushes a Lua list of the first n covariate names / the model's
 * parameter names. */
static void push_cov_names(lua_State *L, const lpop *p, size_t n)
{
  size_t k;
  lua_createtable(L, (int)n, 0);
  for (k = 0; k < n; k++) {
    lua_pushstring(L, p->cov_names[k]);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
}

static void push_param_names(lua_State *L, const rkin_model *m)
{
  size_t k, np = rkin_model_nparams(m);
  lua_createtable(L, (int)np, 0);
  for (k = 0; k < np; k++) {
    lua_pushstring(L, rkin_model_param_name(m, k));
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
}

/* Traces the function in field `field` into a helper rk.model, pushed;
 * its inputs: th/eta of every parameter (individual) and the first nc
 * covariates. Returns the compiled helper. */
static const rkin_model *trace(lua_State *L, lpop *p, const rkin_model *m,
                               const char *field, size_t nc)
{
  int indiv = field[0] == 'i', spec, fn;
  size_t np = rkin_model_nparams(m), k;
  fn = lua_gettop(L);                 /* the user function is on top */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "radiokin.model");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "new");
  lua_remove(L, -2);
  lua_createtable(L, 0, 5);
  spec = lua_gettop(L);
  lua_pushfstring(L, "population %s of %s", field, rkin_model_name(m));
  lua_setfield(L, spec, "name");
  lua_createtable(L, 1, 0);
  lua_pushliteral(L, "_");
  lua_rawseti(L, -2, 1);
  lua_setfield(L, spec, "states");
  lua_newtable(L);
  for (k = 0; indiv && k < np; k++) {
    lua_pushfstring(L, "th.%s", rkin_model_param_name(m, k));
    lua_pushnumber(L, p->theta[k]);
    lua_settable(L, -3);
    lua_pushfstring(L, "eta.%s", rkin_model_param_name(m, k));
    lua_pushnumber(L, 0);
    lua_settable(L, -3);
  }
  for (k = 0; k < nc; k++) {
    lua_pushfstring(L, "cov.%s", p->cov_names[k]);
    lua_pushnumber(L, 1);
    lua_settable(L, -3);
  }
  lua_setfield(L, spec, "params");
  lua_pushcfunction(L, zero_ode);
  lua_setfield(L, spec, "ode");
  lua_pushvalue(L, fn);
  lua_pushstring(L, field);
  push_param_names(L, m);
  push_cov_names(L, p, nc);
  lua_pushcclosure(L, traced_outputs, 4);
  lua_setfield(L, spec, "outputs");
  lua_call(L, 1, 1);
  lua_remove(L, fn);                  /* leaves the helper model on top */
  return lrk_check_model(L, -1);
}

/* Input slots of a helper's parameters ("th.x", "eta.x", "cov.x"). */
static size_t *arg_slots(lua_State *L, const lpop *p, const rkin_model *m,
                         const rkin_model *h)
{
  size_t nh = rkin_model_nparams(h), np = rkin_model_nparams(m), k;
  size_t nc = p->ps.n_cov + p->ps.n_derived;
  size_t *arg = xcalloc(L, nh, sizeof *arg);
  for (k = 0; k < nh; k++) {
    const char *s = rkin_model_param_name(h, k);
    if (!strncmp(s, "th.", 3))
      arg[k] = (size_t)rkin_model_param_index(m, s + 3, NULL);
    else if (!strncmp(s, "eta.", 4))
      arg[k] = np + (size_t)rkin_model_param_index(m, s + 4, NULL);
    else
      arg[k] = 2 * np + (size_t)cov_index(p, s + 4, nc);
  }
  return arg;
}

/* derived = function(cov) return {BSA_m2 = ...} end */
static void read_derived(lua_State *L, lpop *p, const rkin_model *m, int ud)
{
  const rkin_model *h;
  size_t no, k, nc = p->ps.n_cov;
  char **names;
  if (lua_getfield(L, 1, "derived") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_isfunction(L, -1))
    lrk_error(L, CTX ": field 'derived' must be a function (cov) returning "
              "{NAME = value, ...}");
  h = trace(L, p, m, "derived", nc);
  no = rkin_model_noutputs(h);
  names = realloc(p->cov_names, (nc + no ? nc + no : 1) * sizeof *names);
  if (!names) lrk_error(L, CTX ": out of memory");
  p->cov_names = names;
  for (k = 0; k < no; k++) {
    const char *s = rkin_model_output_name(h, k);
    if (cov_index(p, s, nc + k) >= 0 || rkin_model_param_index(m, s, NULL) >= 0)
      lrk_error(L, CTX ": derived covariate '%s' has the name of a %s", s,
                cov_index(p, s, nc + k) >= 0 ? "covariate" : "parameter");
    p->cov_names[nc + k] = NULL;
    p->cov_names[nc + k] = lrk_strdup(L, CTX, s);
    p->ps.n_derived = k + 1;
  }
  p->der_arg = arg_slots(L, p, m, h);
  p->der_out = xcalloc(L, no, sizeof *p->der_out);
  for (k = 0; k < no; k++) p->der_out[k] = k;
  p->ps.derive.fn = h;
  p->ps.derive.arg = p->der_arg;
  p->ps.derive.out = p->der_out;
  p->ps.derived_names = (const char *const *)p->cov_names + nc;
  lua_setiuservalue(L, ud, UV_DERIVE);
}

/* individual = function(th, eta, cov) return {k = ...} end */
static void read_individual(lua_State *L, lpop *p, const rkin_model *m,
                            int ud)
{
  const rkin_model *h;
  size_t no, k;
  if (lua_getfield(L, 1, "individual") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_isfunction(L, -1))
    lrk_error(L, CTX ": field 'individual' must be a function (th, eta, "
              "cov) returning {PARAM = value, ...}");
  h = trace(L, p, m, "individual", p->ps.n_cov + p->ps.n_derived);
  no = rkin_model_noutputs(h);
  p->ind_out = xcalloc(L, no, sizeof *p->ind_out);
  for (k = 0; k < no; k++)
    p->ind_out[k] = param_index(L, m, rkin_model_output_name(h, k),
                                "individual returns a value for");
  p->ind_arg = arg_slots(L, p, m, h);
  p->ps.individual.fn = h;
  p->ps.individual.arg = p->ind_arg;
  p->ps.individual.out = p->ind_out;
  lua_setiuservalue(L, ud, UV_INDIV);
}

static const char *const pop_keys[] = {
  "model", "theta", "omega", "cv", "corr", "covariates", "cov_corr",
  "effects", "derived", "individual", "threads", NULL
};

static int pop_new(lua_State *L)
{
  lpop *p;
  const rkin_model *m;
  size_t np;
  rkin_err err;
  int ud;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lrk_check_keys(L, 1, CTX, pop_keys);
  if (lua_getfield(L, 1, "model") == LUA_TNIL)                      /* 2 */
    lrk_error(L, CTX ": field 'model' is required (an rk.model)");
  m = lrk_check_model(L, 2);
  np = rkin_model_nparams(m);
  p = lua_newuserdatauv(L, sizeof *p, N_UV);                        /* 3 */
  memset(p, 0, sizeof *p);
  luaL_setmetatable(L, POP_MT);
  ud = 3;
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, ud, UV_MODEL);
  p->ps.model = m;
  p->theta = xcalloc(L, np, sizeof *p->theta);
  lua_getfield(L, 1, "theta");
  lrk_model_params(L, 2, -1, CTX ": field 'theta'", p->theta);
  lua_pop(L, 1);
  p->ps.theta = p->theta;
  p->ps.threads = (int)lrk_field_count(L, 1, CTX, "threads", 0, 0, 0,
                                       LRK_MAX_THREADS);
  read_omega(L, p, m);
  read_covariates(L, p);
  read_cov_corr(L, p);
  read_derived(L, p, m, ud);
  p->ps.cov_names = (const char *const *)p->cov_names;
  read_effects(L, p, m);
  read_individual(L, p, m, ud);
  rkin_err_clear(&err);
  if (rkin_pop_check(&p->ps, &err)) lrk_raise(L, NULL, &err);
  lua_settop(L, ud);
  return 1;
}

/* ------------------------------------------------------------ patients */

static lpop *check_pop(lua_State *L, int idx)
{
  lpop *p = luaL_checkudata(L, idx, POP_MT);
  if (!p->ps.model) lrk_error(L, CTX ": population already freed");
  return p;
}

/* Builds the patients table from the engine's arrays. id: NULL -> 1..n. */
static void push_patients(lua_State *L, const lpop *p, size_t n,
                          const double *params, const double *eta,
                          const double *cov, const double *id)
{
  const rkin_model *m = p->ps.model;
  size_t np = rkin_model_nparams(m), nc = p->ps.n_cov + p->ps.n_derived;
  size_t i, j;
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, (int)np + 3);
    if (id) lua_pushnumber(L, id[i]);
    else lua_pushinteger(L, (lua_Integer)i + 1);
    lua_setfield(L, -2, "id");
    for (j = 0; j < np; j++) {
      lua_pushnumber(L, params[i * np + j]);
      lua_setfield(L, -2, rkin_model_param_name(m, j));
    }
    lua_createtable(L, 0, (int)nc);
    for (j = 0; j < nc; j++) {
      lua_pushnumber(L, cov[i * nc + j]);
      lua_setfield(L, -2, p->cov_names[j]);
    }
    lua_setfield(L, -2, "cov");
    lua_createtable(L, 0, (int)np);
    for (j = 0; j < np; j++) {
      lua_pushnumber(L, eta[i * np + j]);
      lua_setfield(L, -2, rkin_model_param_name(m, j));
    }
    lua_setfield(L, -2, "eta");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  luaL_setmetatable(L, PATIENTS_MT);
}

static void *buf(lua_State *L, size_t n)
{
  return lua_newuserdatauv(L, (n ? n : 1) * sizeof(double), 0);
}

/* Bytes one sampled patient takes: the engine's output rows, then the
 * patient's Lua tables (itself with id, parameters, cov and eta; cov; eta)
 * and its slot in the patients array. */
static double patient_bytes(size_t np, size_t nc)
{
  return (double)(2 * np + nc) * sizeof(double) +
         lrk_table_bytes(0, np + 3) + lrk_table_bytes(0, nc) +
         lrk_table_bytes(0, np) + 16;
}

/* Samples n patients over the MPI ranks: each rank its block (seeded
 * per patient, so the values do not depend on the ranks), then every
 * rank gathers all; a failure on any rank raises on every rank, with the
 * lowest failing patient's message. cin: the n rows of given covariates
 * or NULL. */
static void sample_over_ranks(lua_State *L, lpop *p, unsigned long seed,
                              size_t n, const double *cin, double *params,
                              double *eta, double *cov, const char *ctx)
{
  size_t np = rkin_model_nparams(p->ps.model);
  size_t nc = p->ps.n_cov, nct = nc + p->ps.n_derived, lo, hi;
  rkin_err err;
  int rc = RKIN_OK;
  rkin_err_clear(&err);
  lrk_dist_range(n, lrk_dist_rank(), lrk_dist_size(), &lo, &hi);
  /* a rank without patients still checks the population, so a bad one
   * fails on every rank alike */
  {
    rkin_pop_spec ps = p->ps;
    ps.threads = lrk_dist_threads(ps.threads);
    rc = rkin_pop_sample_block(&ps, seed, lo, hi - lo,
                               cin ? cin + lo * nc : NULL,
                               params + lo * np, eta + lo * np,
                               cov + lo * nct, &err);
  }
  lrk_dist_agree(L, ctx, rc, &err);
  if (lrk_dist_allgather(params, n, np * sizeof *params, &err) ||
      lrk_dist_allgather(eta, n, np * sizeof *eta, &err) ||
      lrk_dist_allgather(cov, n, nct * sizeof *cov, &err))
    lrk_raise(L, ctx, &err);
}

/* pop:sample{n=, seed=} -> patients */
static int pop_sample(lua_State *L)
{
  static const char *const keys[] = {"n", "seed", NULL};
  lpop *p = check_pop(L, 1);
  size_t np = rkin_model_nparams(p->ps.model), n;
  size_t nc = p->ps.n_cov + p->ps.n_derived;
  double *params, *eta, *cov;
  unsigned long seed;
  rkin_err err;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lrk_check_keys(L, 2, "pop:sample", keys);
  n = (size_t)lrk_field_count(L, 2, "pop:sample", "n", 1, 0, 1,
                              LRK_MAX_PATIENTS);
  seed = (unsigned long)lrk_field_count(L, 2, "pop:sample", "seed", 0, 1, 0,
                                        LRK_MAX_SEED);
  lrk_check_memory(L, "pop:sample", (double)n, "patients",
                   patient_bytes(np, nc));
  params = buf(L, n * np);
  eta = buf(L, n * np);
  cov = buf(L, n * nc);
  rkin_err_clear(&err);
  sample_over_ranks(L, p, seed, n, NULL, params, eta, cov, "pop:sample");
  push_patients(L, p, n, params, eta, cov, NULL);
  return 1;
}

/* pop:read_csv(path [, {seed=}]) -> patients: covariate columns required;
 * optional id and model-parameter columns (a parameter column replaces
 * the population value of that parameter for that patient). */
static int pop_read_csv(lua_State *L)
{
  static const char *const keys[] = {"seed", NULL};
  lpop *p = check_pop(L, 1);
  const char *path = luaL_checkstring(L, 2);
  const rkin_model *m = p->ps.model;
  size_t np = rkin_model_nparams(m), nc = p->ps.n_cov;
  size_t nct = nc + p->ps.n_derived, nw = np + 1, n, i, j;
  const char **want;
  int *found;
  double *vals = NULL, *cin, *params, *eta, *cov, *id;
  size_t *lines = NULL;
  unsigned long seed = 1;
  rkin_err err;
  int rc;
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lrk_check_keys(L, 3, "pop:read_csv", keys);
    seed = (unsigned long)lrk_field_count(L, 3, "pop:read_csv", "seed", 0, 1,
                                          0, LRK_MAX_SEED);
  }
  want = lua_newuserdatauv(L, nw * sizeof *want, 0);
  found = lua_newuserdatauv(L, nw * sizeof *found, 0);
  want[0] = "id";
  for (j = 0; j < np; j++) want[j + 1] = rkin_model_param_name(m, j);
  rkin_err_clear(&err);
  if (rkin_pop_read_csv(path, nc, (const char *const *)p->cov_names, nw,
                        want, found, &n, &vals, &lines, &err))
    lrk_raise(L, "pop:read_csv", &err);
  /* Copy into collectable memory before anything can raise. */
  if (n * patient_bytes(np, nct) > lrk_memory_limit(NULL)) free(vals);
  lrk_check_memory(L, "pop:read_csv", (double)n, "patients",
                   patient_bytes(np, nct));
  cin = buf(L, n * nc);
  id = buf(L, n);
  {
    double *keep = buf(L, n * (nc + nw));
    size_t *lkeep = lua_newuserdatauv(L, (n ? n : 1) * sizeof *lkeep, 0);
    memcpy(keep, vals, n * (nc + nw) * sizeof *keep);
    memcpy(lkeep, lines, n * sizeof *lkeep);
    free(vals);
    free(lines);
    vals = keep;
    lines = lkeep;
  }
  /* Covariates inside their declared ranges, ids unique. */
  if (rkin_pop_check_table(&p->ps, path, vals, n, nc + nw, lines,
                           found[0] ? (long)nc : -1, &err))
    lrk_raise(L, "pop:read_csv", &err);
  for (i = 0; i < n; i++) {
    for (j = 0; j < nc; j++) cin[i * nc + j] = vals[i * (nc + nw) + j];
    id[i] = found[0] ? vals[i * (nc + nw) + nc] : (double)(i + 1);
  }
  params = buf(L, n * np);
  eta = buf(L, n * np);
  cov = buf(L, n * nct);
  (void)rc;
  sample_over_ranks(L, p, seed, n, cin, params, eta, cov,
                    lua_pushfstring(L, "pop:read_csv: %s", path));
  for (j = 0; j < np; j++)
    if (found[j + 1])
      for (i = 0; i < n; i++)
        params[i * np + j] = vals[i * (nc + nw) + nc + 1 + j];
  push_patients(L, p, n, params, eta, cov, id);
  return 1;
}

static int pop_index(lua_State *L)
{
  lpop *p = check_pop(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (!strcmp(k, "sample")) lua_pushcfunction(L, pop_sample);
  else if (!strcmp(k, "read_csv")) lua_pushcfunction(L, pop_read_csv);
  else if (!strcmp(k, "model")) lua_getiuservalue(L, 1, UV_MODEL);
  else if (!strcmp(k, "covariates"))
    push_cov_names(L, p, p->ps.n_cov + p->ps.n_derived);
  else if (!strcmp(k, "params")) push_param_names(L, p->ps.model);
  else if (!strcmp(k, "theta")) {
    size_t j, np = rkin_model_nparams(p->ps.model);
    lua_createtable(L, 0, (int)np);
    for (j = 0; j < np; j++) {
      lua_pushnumber(L, p->theta[j]);
      lua_setfield(L, -2, rkin_model_param_name(p->ps.model, j));
    }
  } else
    return lrk_error(L, CTX ": a population has no field '%s' (fields: "
                     "sample, read_csv, model, params, covariates, theta)",
                     k);
  return 1;
}

static int pop_tostring(lua_State *L)
{
  lpop *p = check_pop(L, 1);
  lua_pushfstring(L, "population of %s (%d covariates, %d derived)",
                  rkin_model_name(p->ps.model), (int)p->ps.n_cov,
                  (int)p->ps.n_derived);
  return 1;
}

/* patients:column(name) -> array: a parameter, or "cov.NAME" /
 * "eta.NAME". */
static int patients_column(lua_State *L)
{
  const char *name = luaL_checkstring(L, 2);
  const char *dot = strchr(name, '.');
  size_t n, i;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (size_t)luaL_len(L, 1);
  lua_createtable(L, (int)n, 0);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i);
    if (dot) {
      lua_pushlstring(L, name, (size_t)(dot - name));
      lua_rawget(L, -2);
      if (!lua_istable(L, -1)) {
        /* name the table, not the value found (nil: "(null)") */
        lua_pushlstring(L, name, (size_t)(dot - name));
        lrk_error(L, "patients:column: patients[%d] has no table '%s'",
                  (int)i, lua_tostring(L, -1));
      }
      lua_getfield(L, -1, dot + 1);
      lua_remove(L, -2);
    } else {
      lua_getfield(L, -1, name);
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
      lrk_error(L, "patients:column: patients[%d] has no number '%s'",
                (int)i, name);
    lua_rawseti(L, -3, (lua_Integer)i);
    lua_pop(L, 1);
  }
  return 1;
}

int luaopen_radiokin_population(lua_State *L)
{
  if (luaL_newmetatable(L, POP_MT)) {
    lua_pushcfunction(L, pop_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, pop_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, pop_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, PATIENTS_MT)) {
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, patients_column);
    lua_setfield(L, -2, "column");
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  /* The module is the function itself: rk.population{...}. */
  lua_pushcfunction(L, pop_new);
  return 1;
}
