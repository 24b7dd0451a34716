/* l_radiobio.c - "radiokin.radiobio": LQ radiobiology (engine/dose/gfactor.h,
 * radiobio.h, organ.h, tcp.h) for Lua.
 *
 * Where an organ is asked for, `organ` is a name of the built-in table
 * ("kidney") or a table {name=, ab_gy=, trep_h=, limit_dose_gy=,
 * limit_bed_gy=} whose fields override the built-in entry of that name
 * (all fields are required when the name is not built in).
 *
 *   organ(name) -> {name, ab_gy, trep_h, limit_dose_gy, limit_bed_gy,
 *     source}; organs() -> names
 *   organ_class(region) -> organ class name, or nil and why (spellings
 *     such as "kidneys", "left_kidney", "bone_marrow", "tumor")
 *   organ_limits([organ]) -> array of {id, organ, quantity ("dose" |
 *     "bed"), value_gy, default, applies, source}, the one limit table
 *   organ_limit(id) -> that limit's table
 *   g{c=, b=, trep_h=} -> G (double sum); g_mono(lambda, trep_h);
 *   g_uptake(lambda_c, lambda_u, trep_h)
 *   bed{dose_gy=, g=, organ= | ab_gy=} -> bed_gy, eqd2_gy
 *   curve{c=, b=, organ= | ab_gy= and trep_h= [, where=]} -> {dose_gy, g,
 *     bed_gy, eqd2_gy}
 *   cumulative{dose_gy={...}, g={...} | g, organ= | ab_gy=} -> {bed_gy,
 *     eqd2_gy, cycles = {per-cycle BED}}
 *   budget{bed_so_far_gy=, limit_bed_gy=, g=, organ= | ab_gy=
 *     [, gy_per_mbq=]} -> dose_next_gy, activity_mbq (or nil), over
 *   tcp{dose_gy=, g=, alpha_mean=, alpha_sd=, ab_gy=, clonogens_per_l=,
 *     volume_l=} -> TCP
 *   ntcp{eqd2_gy=, td50_gy=, m=, n=} -> NTCP (default: kidney, Burman
 *     1991) */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "dose/gfactor.h"
#include "lrk.h"
#include "modules.h"
#include "dose/organ.h"
#include "dose/radiobio.h"
#include "dose/tcp.h"

static void set_num(lua_State *L, const char *k, double v)
{
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void push_organ(lua_State *L, const rkin_organ *o)
{
  lua_createtable(L, 0, 6);
  lua_pushstring(L, o->name);
  lua_setfield(L, -2, "name");
  set_num(L, "ab_gy", o->lq.ab_gy);
  set_num(L, "trep_h", o->lq.trep_h);
  set_num(L, "limit_dose_gy", o->limit_dose_gy);
  set_num(L, "limit_bed_gy", o->limit_bed_gy);
  lua_pushstring(L, o->source ? o->source : "");
  lua_setfield(L, -2, "source");
}

/* The organ at stack index idx (a name or an override table) into *o. The
 * name string stays valid while the argument is on the stack. */
static void read_organ(lua_State *L, int idx, const char *ctx, rkin_organ *o)
{
  static const char *const keys[] = {"name", "ab_gy", "trep_h",
                                     "limit_dose_gy", "limit_bed_gy",
                                     "source", NULL};
  const rkin_organ *base;
  rkin_err err;
  int known;
  idx = lua_absindex(L, idx);
  rkin_err_clear(&err);
  if (lua_type(L, idx) == LUA_TSTRING) {
    if (!(base = rkin_organ_find(lua_tostring(L, idx), &err)))
      lrk_raise(L, ctx, &err);
    *o = *base;
    return;
  }
  if (lua_type(L, idx) != LUA_TTABLE)
    lrk_error(L, "%s: organ must be a name or a table {name=, ab_gy=, "
              "trep_h=, ...}", ctx);
  lrk_check_keys(L, idx, ctx, keys);
  o->name = lrk_field_string(L, idx, ctx, "name", 1, NULL);
  base = rkin_organ_find(o->name, NULL);
  known = base != NULL;
  if (known) *o = *base;
  o->name = lrk_field_string(L, idx, ctx, "name", 1, NULL);
  o->lq.ab_gy = lrk_field_number(L, idx, ctx, "ab_gy", !known,
                                 known ? base->lq.ab_gy : 0);
  o->lq.trep_h = lrk_field_number(L, idx, ctx, "trep_h", !known,
                                  known ? base->lq.trep_h : 0);
  o->limit_dose_gy = lrk_field_number(L, idx, ctx, "limit_dose_gy", 0,
                                      known ? base->limit_dose_gy : 0);
  o->limit_bed_gy = lrk_field_number(L, idx, ctx, "limit_bed_gy", 0,
                                     known ? base->limit_bed_gy : 0);
  o->source = lrk_field_string(L, idx, ctx, "source", 0,
                               known ? base->source : "user");
  if (rkin_organ_check(o, &err)) lrk_raise(L, ctx, &err);
}

/* LQ parameters from field `organ` or from ab_gy (and trep_h when
 * need_trep) of table t. */
static void read_lq(lua_State *L, int t, const char *ctx, int need_trep,
                    rkin_organ *o)
{
  if (lua_getfield(L, t, "organ") != LUA_TNIL) {
    read_organ(L, -1, ctx, o);
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  memset(o, 0, sizeof *o);
  o->name = lrk_field_string(L, t, ctx, "where", 0, "LQ");
  o->lq.ab_gy = lrk_field_number(L, t, ctx, "ab_gy", 1, 0);
  o->lq.trep_h = lrk_field_number(L, t, ctx, "trep_h", need_trep, 1.0);
}

static int r_organ(lua_State *L)
{
  rkin_organ o;
  read_organ(L, 1, "rk.radiobio.organ", &o);
  push_organ(L, &o);
  return 1;
}

static int r_organs(lua_State *L)
{
  size_t i, n = rkin_organ_count();
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushstring(L, rkin_organ_at(i)->name);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* c and b arrays of table t into r; `where` names the curve. */
static void read_curve(lua_State *L, int t, const char *ctx,
                       const char *where, rkin_doserate *r)
{
  size_t nc, nb;
  double *c, *b;
  rkin_err err;
  lua_getfield(L, t, "c");
  c = lrk_numbers(L, -1, ctx, "field 'c' (Gy/h)", &nc);
  lua_getfield(L, t, "b");
  b = lrk_numbers(L, -1, ctx, "field 'b' (1/h)", &nb);
  if (nc != nb)
    lrk_error(L, "%s: c has %d terms, b %d", ctx, (int)nc, (int)nb);
  rkin_err_clear(&err);
  if (rkin_doserate_set(r, nc, c, b, where, &err)) lrk_raise(L, ctx, &err);
  lua_pop(L, 4);
}

static int r_g(lua_State *L)
{
  static const char *const keys[] = {"c", "b", "trep_h", NULL};
  const char *ctx = "rk.radiobio.g";
  rkin_doserate r;
  rkin_err err;
  double g;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  read_curve(L, 1, ctx, "dose-rate curve", &r);
  rkin_err_clear(&err);
  if (rkin_gfactor_sum(&r, lrk_field_number(L, 1, ctx, "trep_h", 1, 0), &g,
                       &err))
    return lrk_raise(L, ctx, &err);
  lua_pushnumber(L, g);
  return 1;
}

static int r_g_mono(lua_State *L)
{
  rkin_err err;
  double g;
  rkin_err_clear(&err);
  if (rkin_gfactor_mono(luaL_checknumber(L, 1), luaL_checknumber(L, 2), &g,
                        &err))
    return lrk_raise(L, "rk.radiobio.g_mono", &err);
  lua_pushnumber(L, g);
  return 1;
}

static int r_g_uptake(lua_State *L)
{
  rkin_err err;
  double g;
  rkin_err_clear(&err);
  if (rkin_gfactor_uptake(luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                          luaL_checknumber(L, 3), &g, &err))
    return lrk_raise(L, "rk.radiobio.g_uptake", &err);
  lua_pushnumber(L, g);
  return 1;
}

static int r_bed(lua_State *L)
{
  static const char *const keys[] = {"dose_gy", "g", "organ", "ab_gy",
                                     "where", NULL};
  const char *ctx = "rk.radiobio.bed";
  rkin_organ o;
  rkin_err err;
  double bed, eqd2;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  read_lq(L, 1, ctx, 0, &o);
  rkin_err_clear(&err);
  if (rkin_radiobio_bed(lrk_field_number(L, 1, ctx, "dose_gy", 1, 0),
                        lrk_field_number(L, 1, ctx, "g", 1, 0), &o.lq,
                        o.name, &bed, &err) ||
      rkin_radiobio_eqd2(bed, &o.lq, o.name, &eqd2, &err))
    return lrk_raise(L, ctx, &err);
  lua_pushnumber(L, bed);
  lua_pushnumber(L, eqd2);
  return 2;
}

static int r_curve(lua_State *L)
{
  static const char *const keys[] = {"c", "b", "organ", "ab_gy", "trep_h",
                                     "where", NULL};
  const char *ctx = "rk.radiobio.curve";
  rkin_organ o;
  rkin_doserate r;
  rkin_err err;
  double d, g, bed, eqd2;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  read_lq(L, 1, ctx, 1, &o);
  read_curve(L, 1, ctx, lrk_field_string(L, 1, ctx, "where", 0, o.name), &r);
  rkin_err_clear(&err);
  if (rkin_radiobio_bed_curve(&r, &o.lq, o.name, &d, &g, &bed, &err) ||
      rkin_radiobio_eqd2(bed, &o.lq, o.name, &eqd2, &err))
    return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 4);
  set_num(L, "dose_gy", d);
  set_num(L, "g", g);
  set_num(L, "bed_gy", bed);
  set_num(L, "eqd2_gy", eqd2);
  return 1;
}

/* cumulative{dose_gy = {...}, g = {...} | number, organ= | ab_gy=} ->
 * {bed_gy =, eqd2_gy =, cycles = {bed_gy...}}: BEDs of cycles far enough
 * apart that they do not interact add (each cycle's own G covers the
 * repair within it). */
static int r_cumulative(lua_State *L)
{
  static const char *const keys[] = {"dose_gy", "g", "organ", "ab_gy",
                                     "where", NULL};
  const char *ctx = "rk.radiobio.cumulative";
  rkin_organ o;
  rkin_err err;
  size_t n, ng = 0, k;
  double *d, *g = NULL, g1 = 0, *bed, sum, eqd2;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  read_lq(L, 1, ctx, 0, &o);
  lua_getfield(L, 1, "dose_gy");
  d = lrk_numbers(L, -1, ctx, "field 'dose_gy'", &n);
  if (!n) return lrk_error(L, "%s: field 'dose_gy' is empty", ctx);
  if (lua_getfield(L, 1, "g") == LUA_TTABLE) {
    g = lrk_numbers(L, -1, ctx, "field 'g'", &ng);
    if (ng != n)
      return lrk_error(L, "%s: field 'g' has %d values for %d doses", ctx,
                       (int)ng, (int)n);
  } else {
    g1 = lrk_field_number(L, 1, ctx, "g", 1, 0);
  }
  bed = lrk_scratch(L, n, sizeof *bed);
  rkin_err_clear(&err);
  for (k = 0; k < n; k++) {
    const char *where = lua_pushfstring(L, "%s cycle %d", o.name, (int)k + 1);
    if (rkin_radiobio_bed(d[k], g ? g[k] : g1, &o.lq, where, &bed[k], &err))
      return lrk_raise(L, ctx, &err);
    lua_pop(L, 1);
  }
  if (rkin_radiobio_cumulative(n, bed, o.name, &sum, &err) ||
      rkin_radiobio_eqd2(sum, &o.lq, o.name, &eqd2, &err))
    return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 3);
  set_num(L, "bed_gy", sum);
  set_num(L, "eqd2_gy", eqd2);
  lrk_push_numbers(L, bed, n);
  lua_setfield(L, -2, "cycles");
  return 1;
}

static int r_budget(lua_State *L)
{
  static const char *const keys[] = {"bed_so_far_gy", "limit_bed_gy", "g",
                                     "organ", "ab_gy", "gy_per_mbq", "where",
                                     NULL};
  const char *ctx = "rk.radiobio.budget";
  rkin_organ o;
  rkin_err err;
  double d, a, limit;
  int over = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  read_lq(L, 1, ctx, 0, &o);
  limit = lrk_field_number(L, 1, ctx, "limit_bed_gy", o.limit_bed_gy <= 0,
                           o.limit_bed_gy);
  rkin_err_clear(&err);
  if (rkin_radiobio_budget(lrk_field_number(L, 1, ctx, "bed_so_far_gy", 0, 0),
                           limit, lrk_field_number(L, 1, ctx, "g", 1, 0),
                           &o.lq, o.name, &d, &over, &err))
    return lrk_raise(L, ctx, &err);
  lua_pushnumber(L, d);
  lua_getfield(L, 1, "gy_per_mbq");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
  } else {
    lua_pop(L, 1);
    if (rkin_radiobio_activity_for(
            d, lrk_field_number(L, 1, ctx, "gy_per_mbq", 1, 0), o.name, &a,
            &err))
      return lrk_raise(L, ctx, &err);
    lua_pushnumber(L, a);
  }
  lua_pushboolean(L, over);
  return 3;
}

static int r_tcp(lua_State *L)
{
  static const char *const keys[] = {"dose_gy", "g", "alpha_mean",
                                     "alpha_sd", "ab_gy", "clonogens_per_l",
                                     "volume_l", NULL};
  const char *ctx = "rk.radiobio.tcp";
  rkin_tcp p;
  rkin_err err;
  double t;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  p.alpha_mean = lrk_field_number(L, 1, ctx, "alpha_mean", 1, 0);
  p.alpha_sd = lrk_field_number(L, 1, ctx, "alpha_sd", 0, 0);
  p.ab_gy = lrk_field_number(L, 1, ctx, "ab_gy", 0, 10.0);
  p.clonogens_per_l = lrk_field_number(L, 1, ctx, "clonogens_per_l", 1, 0);
  p.volume_l = lrk_field_number(L, 1, ctx, "volume_l", 1, 0);
  rkin_err_clear(&err);
  if (rkin_tcp_poisson(lrk_field_number(L, 1, ctx, "dose_gy", 1, 0),
                       lrk_field_number(L, 1, ctx, "g", 1, 0), &p, &t, &err))
    return lrk_raise(L, ctx, &err);
  lua_pushnumber(L, t);
  return 1;
}

static int r_ntcp(lua_State *L)
{
  static const char *const keys[] = {"eqd2_gy", "td50_gy", "m", "n", NULL};
  const char *ctx = "rk.radiobio.ntcp";
  rkin_lkb p = rkin_lkb_kidney_burman1991;
  rkin_err err;
  double n;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  p.td50_gy = lrk_field_number(L, 1, ctx, "td50_gy", 0, p.td50_gy);
  p.m = lrk_field_number(L, 1, ctx, "m", 0, p.m);
  p.n = lrk_field_number(L, 1, ctx, "n", 0, p.n);
  rkin_err_clear(&err);
  if (rkin_ntcp_lkb(lrk_field_number(L, 1, ctx, "eqd2_gy", 1, 0), &p, &n,
                    &err))
    return lrk_raise(L, ctx, &err);
  lua_pushnumber(L, n);
  return 1;
}

static int r_organ_class(lua_State *L)
{
  rkin_err err;
  const rkin_organ *o = rkin_organ_classify(luaL_checkstring(L, 1), &err);
  if (!o) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushstring(L, o->name);
  return 1;
}

static void push_limit(lua_State *L, const rkin_organ_limit *l)
{
  lua_createtable(L, 0, 7);
  lua_pushstring(L, l->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, l->organ);
  lua_setfield(L, -2, "organ");
  lua_pushstring(L, l->quantity == RKIN_LIMIT_BED ? "bed" : "dose");
  lua_setfield(L, -2, "quantity");
  set_num(L, "value_gy", l->value_gy);
  lua_pushboolean(L, l->is_default);
  lua_setfield(L, -2, "default");
  lua_pushstring(L, l->applies);
  lua_setfield(L, -2, "applies");
  lua_pushstring(L, l->source);
  lua_setfield(L, -2, "source");
}

static int r_organ_limits(lua_State *L)
{
  const char *organ = luaL_optstring(L, 1, NULL);
  size_t i, k = 0, n = rkin_organ_limit_count();
  if (organ && !rkin_organ_find(organ, NULL)) {
    rkin_err err;
    rkin_organ_find(organ, &err);
    return lrk_raise(L, "rk.radiobio.organ_limits", &err);
  }
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    const rkin_organ_limit *l = rkin_organ_limit_at(i);
    if (organ && strcmp(organ, l->organ)) continue;
    push_limit(L, l);
    lua_rawseti(L, -2, (lua_Integer)++k);
  }
  return 1;
}

static int r_organ_limit(lua_State *L)
{
  rkin_err err;
  const rkin_organ_limit *l = rkin_organ_limit_find(luaL_checkstring(L, 1),
                                                    &err);
  if (!l) return lrk_raise(L, "rk.radiobio.organ_limit", &err);
  push_limit(L, l);
  return 1;
}

static const luaL_Reg radiobio_funcs[] = {
  {"organ", r_organ},
  {"organs", r_organs},
  {"organ_class", r_organ_class},
  {"organ_limits", r_organ_limits},
  {"organ_limit", r_organ_limit},
  {"g", r_g},
  {"g_mono", r_g_mono},
  {"g_uptake", r_g_uptake},
  {"bed", r_bed},
  {"curve", r_curve},
  {"budget", r_budget},
  {"cumulative", r_cumulative},
  {"tcp", r_tcp},
  {"ntcp", r_ntcp},
  {NULL, NULL}
};

int luaopen_radiokin_radiobio(lua_State *L)
{
  luaL_newlib(L, radiobio_funcs);
  return 1;
}
