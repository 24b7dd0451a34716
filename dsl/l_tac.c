/* l_tac.c - "radiokin.tac": TIA from sparse imaging (engine/tac/tac.h).
 *
 *   rk.tac.fit{ t=, a=, sd=, nuclide=, models={"mono",...}, cv=,
 *               criterion="aicc"|"aic", average=, level=, boot=, seed=,
 *               trap_a0="zero"|"flat" }            -> result table
 *   rk.tac.stp{ method="haenscheid"|"poplambda", t=, a=, sd=, lambda=,
 *               lambda_sd=, level= }               -> {tia, tia_se, ...}
 *   rk.tac.map{ t=, a=, sd=, nuclide=, level=,
 *               prior={model=, typ={...}, omega={...}, cv=} } -> candidate
 *   rk.tac.curve(model, p, t)                      -> f(t) (t a number or
 *                                                     an array)
 * Undefined numbers (an SE that cannot be computed, AICc with too few
 * points) are absent fields, never NaN. Every candidate (and the result)
 * carries `flags`, the names of its warning bits, and its `notes`. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <string.h>

#include "lrk.h"
#include "modules.h"
#include "tac/tac.h"

static const char *const status_names[] = {"not tried", "ok", "failed",
                                           "degenerate"};

static void set_num(lua_State *L, const char *key, double v)
{
  if (!isfinite(v)) return;
  lua_pushnumber(L, v);
  lua_setfield(L, -2, key);
}

static void set_str(lua_State *L, const char *key, const char *v)
{
  lua_pushstring(L, v);
  lua_setfield(L, -2, key);
}

/* Splits "a; b; c" into an array. */
static void push_notes(lua_State *L, const char *s)
{
  int k = 0;
  lua_newtable(L);
  while (s && *s) {
    const char *e = strstr(s, "; ");
    size_t len = e ? (size_t)(e - s) : strlen(s);
    lua_pushlstring(L, s, len);
    lua_rawseti(L, -2, ++k);
    s = e ? e + 2 : NULL;
  }
}

/* The names of the RKIN_TAC_W_* bits set in `warn`, as an array. */
static void push_flags(lua_State *L, unsigned warn)
{
  int j, k = 0;
  lua_newtable(L);
  for (j = 0; j < RKIN_TAC_NWARN; j++)
    if (warn & (1u << j)) {
      lua_pushstring(L, rkin_tac_warn_name(1u << j));
      lua_rawseti(L, -2, ++k);
    }
}

static void push_cand(lua_State *L, const rkin_tac_cand *c, size_t n)
{
  int j;
  size_t i;
  lua_newtable(L);
  set_str(L, "model", rkin_tac_model_name(c->model));
  set_str(L, "status", status_names[c->status]);
  if (c->status == RKIN_TAC_OK || c->status == RKIN_TAC_DEGENERATE) {
    lua_newtable(L);                 /* params by name */
    for (j = 0; j < c->np; j++) set_num(L, rkin_tac_par_name(c->model, j),
                                        c->p[j]);
    lua_setfield(L, -2, "params");
    lua_newtable(L);
    for (j = 0; j < c->np; j++) set_num(L, rkin_tac_par_name(c->model, j),
                                        c->se[j]);
    lua_setfield(L, -2, "se");
    lrk_push_numbers(L, c->p, (size_t)c->np);   /* for rk.tac.curve */
    lua_setfield(L, -2, "p");
    if (c->has_cov) {               /* for rk.tac.band */
      lrk_push_numbers(L, c->cov, (size_t)(c->np * c->np));
      lua_setfield(L, -2, "cov");
      lua_pushnumber(L, c->dof);
      lua_setfield(L, -2, "dof");
    }
    if (c->model != RKIN_TAC_TRAP) {
      lua_newtable(L);
      for (i = 0; i < n; i++) {
        lua_pushnumber(L, c->resid[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      lua_setfield(L, -2, "residuals");
    }
    set_num(L, "tia", c->tia);
    set_num(L, "tia_se", c->tia_se);
    set_num(L, "tia_lo", c->tia_lo);
    set_num(L, "tia_hi", c->tia_hi);
    set_num(L, "tail_share", c->tail_share);
    set_num(L, "chi2", c->chi2);
    set_num(L, "r2", c->r2);
    set_num(L, "aic", c->aic);
    set_num(L, "aicc", c->aicc);
    set_num(L, "weight", c->weight);
    set_num(L, "map_obj", c->map_obj);
    lua_pushinteger(L, c->k);
    lua_setfield(L, -2, "k");
    lua_pushboolean(L, (c->warn & RKIN_TAC_W_PHYS) != 0);
    lua_setfield(L, -2, "held_at_physical");
  }
  set_str(L, "note", c->note);
  push_notes(L, c->note);
  lua_setfield(L, -2, "notes");
  push_flags(L, c->warn);
  lua_setfield(L, -2, "flags");
}

/* Reads t, a, sd, nuclide of the argument table at 1. */
static void get_data(lua_State *L, const char *ctx, rkin_tac_data *d)
{
  size_t nt, na, ns = 0;
  int has_sd;
  lua_getfield(L, 1, "t");
  if (!lua_istable(L, -1)) lrk_error(L, "%s: field 't' is required (an "
                                     "array of times in h)", ctx);
  d->t = lrk_numbers(L, -1, ctx, "field 't'", &nt);
  lua_getfield(L, 1, "a");
  if (!lua_istable(L, -1)) lrk_error(L, "%s: field 'a' is required (an "
                                     "array of activities in MBq)", ctx);
  d->a = lrk_numbers(L, -1, ctx, "field 'a'", &na);
  if (nt != na)
    lrk_error(L, "%s: fields 't' and 'a' differ in length (%d and %d)", ctx,
              (int)nt, (int)na);
  lua_getfield(L, 1, "sd");
  has_sd = !lua_isnil(L, -1);
  d->sd = has_sd ? lrk_numbers(L, -1, ctx, "field 'sd'", &ns) : NULL;
  if (has_sd && ns != nt)
    lrk_error(L, "%s: field 'sd' has %d values for %d times", ctx, (int)ns,
              (int)nt);
  d->n = nt;
  d->nuclide = lrk_field_string(L, 1, ctx, "nuclide", 1, NULL);
  /* the number arrays stay referenced on the stack until we return */
}

static int tac_fit(lua_State *L)
{
  static const char *const known[] = {"t", "a", "sd", "nuclide", "models",
      "cv", "criterion", "average", "level", "boot", "seed", "trap_a0",
      NULL};
  const char *ctx = "rk.tac.fit", *s;
  rkin_tac_data d;
  rkin_tac_opts o;
  rkin_tac_result *r;
  rkin_err err;
  int m;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, known);
  get_data(L, ctx, &d);
  rkin_tac_opts_default(&o);
  o.cv = lrk_field_number_in(L, 1, ctx, "cv", 0, 0.0, 0.0, 10.0, 0);
  o.level = lrk_field_number_in(L, 1, ctx, "level", 0, 0.95, 0, 1,
                                LRK_LO_OPEN | LRK_HI_OPEN);
  o.average = lrk_field_boolean(L, 1, ctx, "average", 0);
  o.boot = (int)lrk_field_integer(L, 1, ctx, "boot", 0, 0);
  o.seed = (unsigned long)lrk_field_integer(L, 1, ctx, "seed", 0, 1);
  s = lrk_field_string(L, 1, ctx, "criterion", 0, "aicc");
  if (strcmp(s, "aicc") == 0) o.criterion = RKIN_TAC_AICC;
  else if (strcmp(s, "aic") == 0) o.criterion = RKIN_TAC_AIC;
  else lrk_error(L, "%s: field 'criterion' must be \"aicc\" or \"aic\" "
                 "(got \"%s\")", ctx, s);
  s = lrk_field_string(L, 1, ctx, "trap_a0", 0, "zero");
  if (strcmp(s, "zero") == 0) o.trap_a0 = RKIN_TAC_TRAP_ZERO;
  else if (strcmp(s, "flat") == 0) o.trap_a0 = RKIN_TAC_TRAP_FLAT;
  else lrk_error(L, "%s: field 'trap_a0' must be \"zero\" or \"flat\" "
                 "(got \"%s\")", ctx, s);
  lua_getfield(L, 1, "models");
  if (!lua_isnil(L, -1)) {
    lua_Integer i, n;
    if (!lua_istable(L, -1))
      lrk_error(L, "%s: field 'models' must be a list of names", ctx);
    n = (lua_Integer)lua_rawlen(L, -1);
    o.models = 0;
    for (i = 1; i <= n; i++) {
      rkin_tac_model mm;
      lua_rawgeti(L, -1, i);
      if (rkin_tac_model_find(lua_tostring(L, -1), &mm, &err))
        lrk_raise(L, ctx, &err);
      o.models |= 1u << mm;
      lua_pop(L, 1);
    }
    if (!o.models)
      lrk_error(L, "%s: field 'models' is empty", ctx);
  }
  lua_pop(L, 1);
  r = lua_newuserdatauv(L, sizeof *r, 0);   /* large: keep it off the C stack */
  rkin_err_clear(&err);
  if (rkin_tac_fit(&d, &o, r, &err)) return lrk_raise(L, ctx, &err);

  lua_newtable(L);
  set_str(L, "chosen", rkin_tac_model_name(r->chosen));
  set_str(L, "criterion", r->criterion_used == RKIN_TAC_AIC ? "aic"
                                                            : "aicc");
  set_num(L, "tia", r->tia);
  set_num(L, "tia_se", r->tia_se);
  set_num(L, "tia_lo", r->tia_lo);
  set_num(L, "tia_hi", r->tia_hi);
  set_num(L, "tia_avg", r->tia_avg);
  set_num(L, "tia_avg_se", r->tia_avg_se);
  set_num(L, "boot_lo", r->boot_lo);
  set_num(L, "boot_hi", r->boot_hi);
  set_num(L, "lambda_phys", r->lambda_phys);
  set_num(L, "level", o.level);
  push_notes(L, r->notes);
  lua_setfield(L, -2, "warnings");
  push_flags(L, r->warn);
  lua_setfield(L, -2, "flags");
  lua_newtable(L);                           /* candidates by name */
  lua_newtable(L);                           /* their order */
  for (m = 0; m < RKIN_TAC_NMODELS; m++) {
    push_cand(L, &r->cand[m], r->n);
    lua_setfield(L, -3, rkin_tac_model_name((rkin_tac_model)m));
    lua_pushstring(L, rkin_tac_model_name((rkin_tac_model)m));
    lua_rawseti(L, -2, m + 1);
  }
  lua_setfield(L, -3, "order");
  lua_setfield(L, -2, "candidates");
  return 1;
}

static int tac_stp(lua_State *L)
{
  static const char *const known[] = {"method", "t", "a", "sd", "lambda",
                                      "lambda_sd", "level", NULL};
  const char *ctx = "rk.tac.stp", *method;
  rkin_tac_stp s;
  rkin_err err;
  double t, a, sd, level;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, known);
  method = lrk_field_string(L, 1, ctx, "method", 0, "haenscheid");
  t = lrk_field_number(L, 1, ctx, "t", 1, 0);
  a = lrk_field_number(L, 1, ctx, "a", 1, 0);
  sd = lrk_field_number(L, 1, ctx, "sd", 0, 0);
  level = lrk_field_number(L, 1, ctx, "level", 0, 0.95);
  rkin_err_clear(&err);
  if (strcmp(method, "haenscheid") == 0) {
    rc = rkin_tac_stp_haenscheid(t, a, sd, level, &s, &err);
  } else if (strcmp(method, "poplambda") == 0) {
    double l = lrk_field_number(L, 1, ctx, "lambda", 1, 0);
    double lsd = lrk_field_number(L, 1, ctx, "lambda_sd", 0, 0);
    rc = rkin_tac_stp_poplambda(t, a, sd, l, lsd, level, &s, &err);
  } else {
    return lrk_error(L, "%s: field 'method' must be \"haenscheid\" or "
                     "\"poplambda\" (got \"%s\")", ctx, method);
  }
  if (rc) return lrk_raise(L, ctx, &err);
  lua_newtable(L);
  set_num(L, "tia", s.tia);
  set_num(L, "tia_se", s.tia_se);
  set_num(L, "tia_lo", s.tia_lo);
  set_num(L, "tia_hi", s.tia_hi);
  return 1;
}

static void get_prior(lua_State *L, const char *ctx, rkin_tac_prior *pr)
{
  static const char *const known[] = {"model", "typ", "omega", "cv", NULL};
  const char *pctx = "rk.tac.map prior";
  rkin_err err;
  size_t nt, no, j;
  double *typ, *om;
  int np;
  lua_getfield(L, 1, "prior");
  if (!lua_istable(L, -1))
    lrk_error(L, "%s: field 'prior' is required (a table with model, typ, "
              "omega, cv)", ctx);
  lrk_check_keys(L, -1, pctx, known);
  memset(pr, 0, sizeof *pr);
  if (rkin_tac_model_find(lrk_field_string(L, lua_gettop(L), pctx, "model",
                                           1, NULL), &pr->model, &err))
    lrk_raise(L, pctx, &err);
  np = rkin_tac_model_npar(pr->model);
  lua_getfield(L, -1, "typ");
  typ = lrk_numbers(L, -1, pctx, "field 'typ'", &nt);
  lua_getfield(L, -3, "omega");
  om = lrk_numbers(L, -1, pctx, "field 'omega'", &no);
  if (nt != (size_t)np || no != (size_t)np)
    lrk_error(L, "%s: 'typ' and 'omega' need %d values each for %s "
              "(got %d and %d)", pctx, np, rkin_tac_model_name(pr->model),
              (int)nt, (int)no);
  for (j = 0; j < nt; j++) {
    pr->typ[j] = typ[j];
    pr->omega[j] = om[j];
  }
  lua_pop(L, 4);
  pr->cv = lrk_field_number(L, lua_gettop(L), pctx, "cv", 0, 0);
  lua_pop(L, 1);                             /* the prior table */
}

static int tac_map(lua_State *L)
{
  static const char *const known[] = {"t", "a", "sd", "nuclide", "prior",
                                      "level", NULL};
  const char *ctx = "rk.tac.map";
  rkin_tac_data d;
  rkin_tac_prior pr;
  rkin_tac_cand c;
  rkin_err err;
  double level;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, known);
  get_data(L, ctx, &d);
  get_prior(L, ctx, &pr);
  level = lrk_field_number(L, 1, ctx, "level", 0, 0.95);
  rkin_err_clear(&err);
  if (rkin_tac_map(&d, &pr, level, &c, &err)) return lrk_raise(L, ctx, &err);
  push_cand(L, &c, d.n);
  return 1;
}

static int tac_curve(lua_State *L)
{
  rkin_tac_model m;
  rkin_err err;
  double p[RKIN_TAC_MAX_PAR] = {0}, *v;
  size_t n, j;
  if (rkin_tac_model_find(luaL_checkstring(L, 1), &m, &err)
      || m == RKIN_TAC_TRAP)
    return lrk_error(L, "rk.tac.curve: model must be mono, bi, upwash or "
                     "tri (got \"%s\")", lua_tostring(L, 1));
  luaL_checktype(L, 2, LUA_TTABLE);
  v = lrk_numbers(L, 2, "rk.tac.curve", "argument 2 (parameters)", &n);
  if (n != (size_t)rkin_tac_model_npar(m))
    return lrk_error(L, "rk.tac.curve: %s needs %d parameters (got %d)",
                     rkin_tac_model_name(m), rkin_tac_model_npar(m), (int)n);
  for (j = 0; j < n; j++) p[j] = v[j];
  if (lua_isnumber(L, 3)) {
    lua_pushnumber(L, rkin_tac_curve(m, p, lua_tonumber(L, 3)));
    return 1;
  }
  luaL_checktype(L, 3, LUA_TTABLE);
  v = lrk_numbers(L, 3, "rk.tac.curve", "argument 3 (times)", &n);
  lua_createtable(L, (int)n, 0);
  for (j = 0; j < n; j++) {
    lua_pushnumber(L, rkin_tac_curve(m, p, v[j]));
    lua_rawseti(L, -2, (lua_Integer)j + 1);
  }
  return 1;
}

/* rk.tac.band(cand, t [, level]) -> lo, hi: the pointwise confidence
 * band (delta method) of a fitted candidate of rk.tac.fit at the times t
 * (a number or an array); level defaults to 0.95. */
static int tac_band(lua_State *L)
{
  static const char *ctx = "rk.tac.band";
  rkin_tac_cand c;
  rkin_err err;
  double *v, *t, *lo, *hi, one;
  size_t n, j;
  int scalar = lua_isnumber(L, 2);
  double level = luaL_optnumber(L, 3, 0.95);
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&c, 0, sizeof c);
  lua_getfield(L, 1, "model");
  if (rkin_tac_model_find(lua_tostring(L, -1) ? lua_tostring(L, -1) : "",
                          &c.model, &err) || c.model == RKIN_TAC_TRAP)
    return lrk_error(L, "%s: argument 1 must be a fitted candidate of "
                     "rk.tac.fit (mono, bi, upwash or tri; got model %s)",
                     ctx, lrk_got(L, -1));
  lua_pop(L, 1);
  c.np = rkin_tac_model_npar(c.model);
  c.status = RKIN_TAC_OK;
  lua_getfield(L, 1, "p");
  if (!lua_istable(L, -1))
    return lrk_error(L, "%s: the candidate has no parameters 'p' (not "
                     "fitted)", ctx);
  v = lrk_numbers(L, -1, ctx, "field 'p'", &n);
  if (n != (size_t)c.np)
    return lrk_error(L, "%s: %s needs %d parameters in 'p' (got %d)", ctx,
                     rkin_tac_model_name(c.model), c.np, (int)n);
  for (j = 0; j < n; j++) c.p[j] = v[j];
  lua_getfield(L, 1, "cov");
  if (!lua_istable(L, -1))
    return lrk_error(L, "%s: the %s candidate has no covariance 'cov' (no "
                     "SE from this fit): no band", ctx,
                     rkin_tac_model_name(c.model));
  v = lrk_numbers(L, -1, ctx, "field 'cov'", &n);
  if (n != (size_t)(c.np * c.np))
    return lrk_error(L, "%s: 'cov' must hold %d numbers (got %d)", ctx,
                     c.np * c.np, (int)n);
  for (j = 0; j < n; j++) c.cov[j] = v[j];
  c.has_cov = 1;
  c.dof = lrk_field_number(L, 1, ctx, "dof", 0, 0);
  if (scalar) {
    one = lua_tonumber(L, 2);
    t = &one;
    n = 1;
  } else {
    luaL_checktype(L, 2, LUA_TTABLE);
    t = lrk_numbers(L, 2, ctx, "argument 2 (times)", &n);
  }
  lo = lrk_scratch(L, n, sizeof *lo);
  hi = lrk_scratch(L, n, sizeof *hi);
  rkin_err_clear(&err);
  if (rkin_tac_band(&c, level, t, n, lo, hi, &err))
    return lrk_raise(L, ctx, &err);
  if (scalar) {
    lua_pushnumber(L, lo[0]);
    lua_pushnumber(L, hi[0]);
  } else {
    lrk_push_numbers(L, lo, n);
    lrk_push_numbers(L, hi, n);
  }
  return 2;
}

static const luaL_Reg tac_funcs[] = {
  {"band", tac_band},
  {"fit", tac_fit},
  {"stp", tac_stp},
  {"map", tac_map},
  {"curve", tac_curve},
  {NULL, NULL}
};

int luaopen_radiokin_tac(lua_State *L)
{
  luaL_newlib(L, tac_funcs);
  return 1;
}
