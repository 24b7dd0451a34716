/* modules.h - the list of C binding modules and their openers. */
#ifndef RKIN_MODULES_H
#define RKIN_MODULES_H

#include <lua.h>

typedef struct {
  const char *name;               /* "model": preloaded as "radiokin.model" */
  lua_CFunction open;
} lrk_module;

extern const lrk_module lrk_modules[];   /* ends with {NULL, NULL} */

/* One opener per binding file (dsl/l_<name>.c). */
int luaopen_radiokin_model(lua_State *L);

#endif
