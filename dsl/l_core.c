/* l_core.c - "radiokin.core": the version and atomic file writing, the
 * primitives the Lua prelude builds on. */
#include "config.h"

#include <math.h>

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

/* memory_limit([bytes]) -> bytes, source: the limit that counts given to
 * rk.cohort, pop:sample, ... are checked against before allocating (see
 * lrk_check_memory). With an argument, sets it (it can only lower the
 * system's limit; 0 restores it). */
static int core_memory_limit(lua_State *L)
{
  const char *src;
  if (!lua_isnoneornil(L, 1)) {
    lua_Number b = luaL_checknumber(L, 1);
    if (!(b >= 0) || !isfinite(b))
      return lrk_error(L, "rk.memory_limit: bytes must be a finite number "
                       ">= 0 (got %s)", lrk_got(L, 1));
    lrk_set_memory_limit(b);
  }
  lua_pushnumber(L, lrk_memory_limit(&src));
  lua_pushstring(L, src);
  return 2;
}

static const luaL_Reg core_funcs[] = {
  {"write_atomic", core_write_atomic},
  {"memory_limit", core_memory_limit},
  {NULL, NULL}
};

int luaopen_radiokin_core(lua_State *L)
{
  luaL_newlib(L, core_funcs);
  lua_pushliteral(L, PACKAGE_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
