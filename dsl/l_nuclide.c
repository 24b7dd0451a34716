/* l_nuclide.c - "radiokin.nuclide": the engine's radionuclide table. */
#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"
#include "modules.h"
#include "core/nuclide.h"

static void push_nuclide(lua_State *L, const rkin_nuclide *n)
{
  lua_createtable(L, 0, 7);
  lua_pushstring(L, n->name);
  lua_setfield(L, -2, "name");
  lua_pushnumber(L, n->half_life_h);
  lua_setfield(L, -2, "half_life_h");
  lua_pushnumber(L, rkin_nuclide_lambda(n));
  lua_setfield(L, -2, "lambda");
  lua_pushnumber(L, n->e_np_mev);
  lua_setfield(L, -2, "e_np_mev");
  lua_pushnumber(L, n->e_p_mev);
  lua_setfield(L, -2, "e_p_mev");
  lua_pushnumber(L, rkin_nuclide_j_per_mbqh(n));
  lua_setfield(L, -2, "j_per_mbqh");
  lua_pushstring(L, n->source ? n->source : "");
  lua_setfield(L, -2, "source");
}

/* find(name) -> {name, half_life_h, lambda (1/h), e_np_mev, e_p_mev,
 * j_per_mbqh, source}; raises with the engine's message (which lists the
 * known names) for an unknown nuclide. */
static int nuclide_find(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  rkin_err err;
  const rkin_nuclide *n;
  rkin_err_clear(&err);
  n = rkin_nuclide_find(name, &err);
  if (!n) return lrk_raise(L, "rk.nuclide", &err);
  push_nuclide(L, n);
  return 1;
}

/* list() -> array of the canonical names. */
static int nuclide_list(lua_State *L)
{
  size_t i, n = rkin_nuclide_count();
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushstring(L, rkin_nuclide_at(i)->name);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static const luaL_Reg nuclide_funcs[] = {
  {"find", nuclide_find},
  {"list", nuclide_list},
  {NULL, NULL}
};

int luaopen_radiokin_nuclide(lua_State *L)
{
  luaL_newlib(L, nuclide_funcs);
  return 1;
}
