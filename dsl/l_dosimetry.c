/* l_dosimetry.c - "radiokin.dosimetry": absorbed dose from TIA
 * (engine/dose/dosimetry.h, sphere.h, doserate.h) for Lua.
 *
 *   led{nuclide=, tia_MBqh=, mass_kg= [, region=]} -> dose_gy
 *   s_led{nuclide=, mass_kg= [, region=]} -> S Gy/(MBq h)
 *   scale_self{s_e=, s_p=0, m_ref_kg=, mass_kg= [, region=]} -> S
 *   stable{rows={...}, cols={...}, s={{...}, ...}} -> table object with
 *     :get(source, target), :dose({[source] = tia_MBqh, ...}, target),
 *     :regions()
 *   sphere{nuclide=, mass_kg=, density_kg_L=1.04} -> {radius_cm, phi_e,
 *     phi_p, s_gy_per_mbqh, m_min_kg, m_max_kg, source}
 *   lu177_sphere_table(mass_kg) -> S
 *   doserate{nuclide=, a_MBq={...}, b_per_h={...}, mass_kg= | s=
 *     [, region=]} -> {c={...}, b={...}, dose_gy=}
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "dose/doserate.h"
#include "dose/dosimetry.h"
#include "lrk.h"
#include "modules.h"
#include "dose/sphere.h"

#define STABLE_MT "radiokin.stable"

static const rkin_nuclide *field_nuclide(lua_State *L, int t, const char *ctx)
{
  const char *name = lrk_field_string(L, t, ctx, "nuclide", 0, "Lu-177");
  rkin_err err;
  const rkin_nuclide *n;
  rkin_err_clear(&err);
  if (!(n = rkin_nuclide_find(name, &err))) lrk_raise(L, ctx, &err);
  return n;
}

static int d_led(lua_State *L)
{
  static const char *const keys[] = {"nuclide", "tia_MBqh", "mass_kg",
                                     "region", NULL};
  const char *ctx = "rk.dosimetry.led";
  rkin_err err;
  double d;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  rkin_err_clear(&err);
  if (rkin_dosimetry_led(field_nuclide(L, 1, ctx),
                         lrk_field_number(L, 1, ctx, "tia_MBqh", 1, 0),
                         lrk_field_number(L, 1, ctx, "mass_kg", 1, 0),
                         lrk_field_string(L, 1, ctx, "region", 0, "region"),
                         &d, &err))
    return lrk_raise(L, ctx, &err);
  lua_pushnumber(L, d);
  return 1;
}

static int d_s_led(lua_State *L)
{
  static const char *const keys[] = {"nuclide", "mass_kg", "region", NULL};
  const char *ctx = "rk.dosimetry.s_led";
  rkin_err err;
  double s;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  rkin_err_clear(&err);
  if (rkin_dosimetry_s_led(field_nuclide(L, 1, ctx),
                           lrk_field_number(L, 1, ctx, "mass_kg", 1, 0),
                           lrk_field_string(L, 1, ctx, "region", 0, "region"),
                           &s, &err))
    return lrk_raise(L, ctx, &err);
  lua_pushnumber(L, s);
  return 1;
}

static int d_scale_self(lua_State *L)
{
  static const char *const keys[] = {"s_e", "s_p", "m_ref_kg", "mass_kg",
                                     "region", NULL};
  const char *ctx = "rk.dosimetry.scale_self";
  rkin_err err;
  double s;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  rkin_err_clear(&err);
  if (rkin_dosimetry_scale_self(
          lrk_field_number(L, 1, ctx, "s_e", 1, 0),
          lrk_field_number(L, 1, ctx, "s_p", 0, 0),
          lrk_field_number(L, 1, ctx, "m_ref_kg", 1, 0),
          lrk_field_number(L, 1, ctx, "mass_kg", 1, 0),
          lrk_field_string(L, 1, ctx, "region", 0, "region"), &s, &err))
    return lrk_raise(L, ctx, &err);
  lua_pushnumber(L, s);
  return 1;
}

/* ------------------------------------------------------------ S tables */

static rkin_stable **check_stable(lua_State *L, int idx)
{
  rkin_stable **t = luaL_checkudata(L, idx, STABLE_MT);
  if (!*t) lrk_error(L, "S table: already freed");
  return t;
}

static int stable_gc(lua_State *L)
{
  rkin_stable **t = luaL_checkudata(L, 1, STABLE_MT);
  rkin_stable_free(*t);
  *t = NULL;
  return 0;
}

/* An array of strings at field `key` of table t, as a userdata-owned array
 * of pointers into the (anchored) Lua strings. Pushes 2 values. */
static const char **field_names(lua_State *L, int t, const char *ctx,
                                const char *key, size_t *n)
{
  const char **v;
  size_t k;
  if (lua_getfield(L, t, key) != LUA_TTABLE)
    lrk_error(L, "%s: field '%s' must be an array of region names", ctx,
              key);
  *n = (size_t)lua_rawlen(L, -1);
  v = lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *v, 0);
  for (k = 0; k < *n; k++) {
    if (lua_rawgeti(L, -2, (lua_Integer)k + 1) != LUA_TSTRING)
      lrk_error(L, "%s: %s[%d] must be a region name (a string)", ctx, key,
                (int)k + 1);
    v[k] = lua_tostring(L, -1);  /* anchored by the table below */
    lua_pop(L, 1);
  }
  return v;
}

static int d_stable(lua_State *L)
{
  static const char *const keys[] = {"rows", "cols", "s", NULL};
  const char *ctx = "rk.dosimetry.stable";
  const char **rows, **cols;
  size_t nr, nc, i, j;
  double *s;
  rkin_stable **ud;
  rkin_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  rows = field_names(L, 1, ctx, "rows", &nr);
  cols = field_names(L, 1, ctx, "cols", &nc);
  if (lua_getfield(L, 1, "s") != LUA_TTABLE)
    return lrk_error(L, "%s: field 's' must be an array of rows (one per "
                     "source region)", ctx);
  if ((size_t)lua_rawlen(L, -1) != nr)
    return lrk_error(L, "%s: field 's' has %d rows but 'rows' names %d "
                     "source regions", ctx, (int)lua_rawlen(L, -1), (int)nr);
  s = lua_newuserdatauv(L, (nr > 0 && nc > 0 ? nr * nc : 1) * sizeof *s,
                        0);
  for (i = 0; i < nr; i++) {
    size_t len;
    double *row;
    lua_rawgeti(L, -2, (lua_Integer)i + 1);
    lua_pushfstring(L, "s[%d] (source '%s')", (int)i + 1, rows[i]);
    row = lrk_numbers(L, -2, ctx, lua_tostring(L, -1), &len);
    if (len != nc)
      return lrk_error(L, "%s: s[%d] (source '%s') has %d values, expected "
                       "%d (one per target column)", ctx, (int)i + 1,
                       rows[i], (int)len, (int)nc);
    for (j = 0; j < nc; j++) s[i * nc + j] = row[j];
    lua_pop(L, 3);
  }
  ud = lua_newuserdatauv(L, sizeof *ud, 0);
  *ud = NULL;
  luaL_setmetatable(L, STABLE_MT);
  rkin_err_clear(&err);
  if (rkin_stable_new(nr, rows, nc, cols, s, nr * nc, ud, &err))
    return lrk_raise(L, ctx, &err);
  return 1;
}

static int stable_get(lua_State *L)
{
  rkin_stable **t = check_stable(L, 1);
  rkin_err err;
  double s;
  rkin_err_clear(&err);
  if (rkin_stable_get(*t, luaL_checkstring(L, 2), luaL_checkstring(L, 3), &s,
                      &err))
    return lrk_raise(L, "S table:get", &err);
  lua_pushnumber(L, s);
  return 1;
}

/* t:dose({[source] = tia_MBqh, ...}, target) -> Gy */
static int stable_dose(lua_State *L)
{
  rkin_stable **t = check_stable(L, 1);
  const char *target = luaL_checkstring(L, 3);
  size_t n = 0, k = 0;
  const char **src;
  double *tia, d;
  rkin_err err;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    n++;
    lua_pop(L, 1);
  }
  src = lua_newuserdatauv(L, (n ? n : 1) * sizeof *src, 0);
  tia = lua_newuserdatauv(L, (n ? n : 1) * sizeof *tia, 0);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TNUMBER)
      return lrk_error(L, "S table:dose: TIAs must be {region = tia_MBqh}");
    src[k] = lua_tostring(L, -2);
    tia[k++] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  rkin_err_clear(&err);
  if (rkin_stable_dose(*t, n, src, tia, target, &d, &err))
    return lrk_raise(L, "S table:dose", &err);
  lua_pushnumber(L, d);
  return 1;
}

static int stable_regions(lua_State *L)
{
  rkin_stable **t = check_stable(L, 1);
  size_t i, n = rkin_stable_size(*t);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushstring(L, rkin_stable_region(*t, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* ------------------------------------------------------------- spheres */

static void set_num(lua_State *L, const char *k, double v)
{
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static int d_sphere(lua_State *L)
{
  static const char *const keys[] = {"nuclide", "mass_kg", "density_kg_L",
                                     NULL};
  const char *ctx = "rk.dosimetry.sphere";
  rkin_sphere sp;
  rkin_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  rkin_err_clear(&err);
  if (rkin_sphere_eval(field_nuclide(L, 1, ctx),
                       lrk_field_number(L, 1, ctx, "mass_kg", 1, 0),
                       lrk_field_number(L, 1, ctx, "density_kg_L", 0, 1.04),
                       &sp, &err))
    return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 7);
  set_num(L, "radius_cm", sp.radius_cm);
  set_num(L, "phi_e", sp.phi_e);
  set_num(L, "phi_p", sp.phi_p);
  set_num(L, "s_gy_per_mbqh", sp.s_gy_per_mbqh);
  set_num(L, "m_min_kg", sp.m_min_kg);
  set_num(L, "m_max_kg", sp.m_max_kg);
  lua_pushstring(L, sp.source);
  lua_setfield(L, -2, "source");
  return 1;
}

static int d_lu177_table(lua_State *L)
{
  rkin_err err;
  double s;
  rkin_err_clear(&err);
  if (rkin_sphere_lu177_table(luaL_checknumber(L, 1), &s, &err))
    return lrk_raise(L, "rk.dosimetry.lu177_sphere_table", &err);
  lua_pushnumber(L, s);
  return 1;
}

/* ---------------------------------------------------------- dose rates */

static int d_doserate(lua_State *L)
{
  static const char *const keys[] = {"nuclide", "a_MBq", "b_per_h",
                                     "mass_kg", "s", "region", NULL};
  const char *ctx = "rk.dosimetry.doserate";
  const char *region;
  double *a, *b;
  size_t na, nb;
  rkin_doserate r;
  rkin_err err;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  region = lrk_field_string(L, 1, ctx, "region", 0, "region");
  lua_getfield(L, 1, "a_MBq");
  a = lrk_numbers(L, -1, ctx, "field 'a_MBq'", &na);
  lua_getfield(L, 1, "b_per_h");
  b = lrk_numbers(L, -1, ctx, "field 'b_per_h'", &nb);
  if (na != nb)
    return lrk_error(L, "%s: a_MBq has %d terms, b_per_h %d", ctx, (int)na,
                     (int)nb);
  rkin_err_clear(&err);
  lua_getfield(L, 1, "s");
  if (!lua_isnil(L, -1))
    rc = rkin_doserate_from_tac_s(&r, lrk_field_number(L, 1, ctx, "s", 1, 0),
                                  na, a, b, region, &err);
  else
    rc = rkin_doserate_from_tac(&r, field_nuclide(L, 1, ctx), na, a, b,
                                lrk_field_number(L, 1, ctx, "mass_kg", 1, 0),
                                region, &err);
  if (rc) return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 3);
  lrk_push_numbers(L, r.c, r.n);
  lua_setfield(L, -2, "c");
  lrk_push_numbers(L, r.b, r.n);
  lua_setfield(L, -2, "b");
  set_num(L, "dose_gy", rkin_doserate_total(&r));
  return 1;
}

static const luaL_Reg stable_methods[] = {
  {"get", stable_get},
  {"dose", stable_dose},
  {"regions", stable_regions},
  {NULL, NULL}
};

static const luaL_Reg dosimetry_funcs[] = {
  {"led", d_led},
  {"s_led", d_s_led},
  {"scale_self", d_scale_self},
  {"stable", d_stable},
  {"sphere", d_sphere},
  {"lu177_sphere_table", d_lu177_table},
  {"doserate", d_doserate},
  {NULL, NULL}
};

int luaopen_radiokin_dosimetry(lua_State *L)
{
  if (luaL_newmetatable(L, STABLE_MT)) {
    lua_pushcfunction(L, stable_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, stable_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, dosimetry_funcs);
  return 1;
}
