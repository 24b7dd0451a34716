/* lua_module.c - radiokin as a C module of the system Lua: after `make
 * install`, `local rk = require "radiokin"` in lua5.4 finds radiokin.so on
 * package.cpath and calls luaopen_radiokin. It sets up the same preloads
 * as the radiokin executable (lrk_install_preloads: the C bindings and the
 * embedded dsl/lua files) and returns what the embedded radiokin.lua
 * returns. The host's globals and loaders are left as they are: text-only
 * loading and strict globals are the executable's choices, not a
 * library's. */
#include "config.h"

#include <lauxlib.h>
#include <lua.h>

#include "core/init.h"
#include "modules.h"

int luaopen_radiokin(lua_State *L)
{
  luaL_checkversion(L);
  rkin_init();
  lrk_install_preloads(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_getfield(L, -1, "radiokin");
  lua_pushliteral(L, "radiokin");
  lua_call(L, 1, 1);
  return 1;
}
