/* modules.c - the C modules `require "radiokin"` can reach, as
 * package.preload entries "radiokin.<name>" (one line per binding file),
 * and the preload setup shared by the radiokin executable and the
 * radiokin.so module of the system Lua (dsl/lua_module.c). */
#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

#include "modules.h"

const lrk_module lrk_modules[] = {
  {"core", luaopen_radiokin_core},
  {"nuclide", luaopen_radiokin_nuclide},
  {"model", luaopen_radiokin_model},
  {"dosimetry", luaopen_radiokin_dosimetry},
  {"radiobio", luaopen_radiokin_radiobio},
  {"tac", luaopen_radiokin_tac},
  {"sbml", luaopen_radiokin_sbml},
  {"tare", luaopen_radiokin_tare},
  {"cohort", luaopen_radiokin_cohort},
  {"popest", luaopen_radiokin_popest},
  {"population", luaopen_radiokin_population},
  {"regimen", luaopen_radiokin_regimen},
  {"uncert", luaopen_radiokin_uncert},
  {"image", luaopen_radiokin_image},
  {"phantom", luaopen_radiokin_phantom},
  {"voxel", luaopen_radiokin_voxel},
  {"data", luaopen_radiokin_data},
  {"mpi", luaopen_radiokin_mpi},
  {"replicates", luaopen_radiokin_replicates},
  {"optimize", luaopen_radiokin_optimize},
  {NULL, NULL}
};

/* Loader for an embedded prelude file. Upvalue 1: its lrk_lua_source. */
static int load_embedded(lua_State *L)
{
  const lrk_lua_source *src = lua_touserdata(L, lua_upvalueindex(1));
  /* The tag lets lrk_where blame the user's code instead of the prelude. */
  lua_pushfstring(L, "=[radiokin] %s", src->path);
  if (luaL_loadbufferx(L, src->text, src->len, lua_tostring(L, -1), "t") !=
      LUA_OK)
    return lua_error(L);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

void lrk_install_preloads(lua_State *L)
{
  const lrk_module *m;
  const lrk_lua_source *s;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (m = lrk_modules; m->name; m++) {
    const char *name = lua_pushfstring(L, "radiokin.%s", m->name);
    lua_pushcfunction(L, m->open);
    lua_setfield(L, -3, name);
    lua_pop(L, 1);
  }
  for (s = lrk_lua_sources; s->name; s++) {
    lua_pushlightuserdata(L, (void *)s);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, -2, s->name);
  }
  lua_pop(L, 1);
}
