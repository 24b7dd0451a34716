/* modules.h - the list of C binding modules and their openers, and the
 * embedded Lua prelude files. */
#ifndef RKIN_MODULES_H
#define RKIN_MODULES_H

#include <stddef.h>

#include <lua.h>

typedef struct {
  const char *name;               /* "model": preloaded as "radiokin.model" */
  lua_CFunction open;
} lrk_module;

extern const lrk_module lrk_modules[];   /* ends with {NULL, NULL} */

/* Sets package.preload["radiokin.<name>"] for every C module and the
 * embedded Lua files (package.preload["radiokin"] is dsl/lua/radiokin.lua):
 * after it, require "radiokin" works in that state. */
void lrk_install_preloads(lua_State *L);
/* The opener of radiokin.so for the system Lua (dsl/lua_module.c). */
int luaopen_radiokin(lua_State *L);

/* One opener per binding file (dsl/l_<name>.c). */
int luaopen_radiokin_model(lua_State *L);
int luaopen_radiokin_core(lua_State *L);
int luaopen_radiokin_nuclide(lua_State *L);
int luaopen_radiokin_tare(lua_State *L);
int luaopen_radiokin_dosimetry(lua_State *L);
int luaopen_radiokin_radiobio(lua_State *L);
int luaopen_radiokin_tac(lua_State *L);
int luaopen_radiokin_sbml(lua_State *L);

/* The Lua files of dsl/lua/, embedded at build time by dsl/embed.sh into
 * the generated dsl/lua_embed.c: dsl/lua/radiokin.lua is the module
 * "radiokin", dsl/lua/<x>.lua the module "radiokin.<x>". */
typedef struct {
  const char *name;               /* module name for require */
  const char *path;               /* source path, e.g. "dsl/lua/tap.lua" */
  const char *text;
  size_t len;
} lrk_lua_source;

extern const lrk_lua_source lrk_lua_sources[];  /* ends with {NULL, ...} */

int luaopen_radiokin_cohort(lua_State *L);
int luaopen_radiokin_popest(lua_State *L);
int luaopen_radiokin_population(lua_State *L);
int luaopen_radiokin_regimen(lua_State *L);
int luaopen_radiokin_uncert(lua_State *L);
int luaopen_radiokin_image(lua_State *L);
int luaopen_radiokin_phantom(lua_State *L);
int luaopen_radiokin_voxel(lua_State *L);
int luaopen_radiokin_data(lua_State *L);
int luaopen_radiokin_mpi(lua_State *L);
int luaopen_radiokin_replicates(lua_State *L);
int luaopen_radiokin_optimize(lua_State *L);

#endif
