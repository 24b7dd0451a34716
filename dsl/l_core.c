/* l_core.c - "radiokin.core": the version, atomic file writing, folders
 * (l_fs.c) and programs run without a shell (l_spawn.c): the primitives
 * the Lua prelude and the scripts build on. */
#include "config.h"

#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"
#include "modules.h"

/* write_atomic(path, text): the file appears complete or not at all.
 * Raises on failure (an output a script silently failed to write is worse
 * than a stopped script). */
static int core_write_atomic(lua_State *L)
{
  size_t len;
  const char *path = luaL_checkstring(L, 1);
  const char *text = luaL_checklstring(L, 2, &len);
  rkin_err err;
  rkin_err_clear(&err);
  if (lrk_write_atomic(path, text, len, &err) != 0)
    return lrk_raise(L, "rk.write_atomic", &err);
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg core_funcs[] = {
  {"write_atomic", core_write_atomic},
  {"mkdir", lrk_core_mkdir},
  {"run", lrk_core_run},
  {"gnuplot", lrk_core_gnuplot},
  {"gnuplot_quote", lrk_core_gnuplot_quote},
  {NULL, NULL}
};

int luaopen_radiokin_core(lua_State *L)
{
  luaL_newlib(L, core_funcs);
  lua_pushliteral(L, PACKAGE_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
