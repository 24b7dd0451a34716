/* lrk.h - helpers shared by the Lua bindings (dsl/l_*.c).
 *
 * Conventions: each engine module Lua sees has one binding file
 * dsl/l_<module>.c exporting `int luaopen_radiokin_<module>(lua_State *L)`
 * that returns a table of functions; dsl/modules.c lists it, and
 * `require "radiokin"` exposes it as rk.<module>. Caller mistakes raise a
 * Lua error whose text names the function, the field and what was expected;
 * engine errors are raised with the engine's message (lrk_raise). */
#ifndef RKIN_LRK_H
#define RKIN_LRK_H

#include <lauxlib.h>
#include <lua.h>

#include "err.h"

/* Raises err->msg as a Lua error (prefixed with "where: " when where is not
 * NULL). Never returns. */
int lrk_raise(lua_State *L, const char *where, const rkin_err *err);

/* Table-field readers for argument tables at stack index t. `ctx` names the
 * call in messages ("rk.tare.plan"). A missing field gives `def` when
 * required is 0, else raises "ctx: field 'key' is required (a number ...)".
 * A field of the wrong type, or a non-finite number, always raises. */
double lrk_field_number(lua_State *L, int t, const char *ctx, const char *key,
                        int required, double def);
long lrk_field_integer(lua_State *L, int t, const char *ctx, const char *key,
                       int required, long def);
const char *lrk_field_string(lua_State *L, int t, const char *ctx,
                             const char *key, int required, const char *def);
int lrk_field_boolean(lua_State *L, int t, const char *ctx, const char *key,
                      int def);
/* Reads field `key` (an array of numbers) into a new malloc'd array of *n
 * doubles; NULL and *n = 0 when absent and not required. The caller frees.
 * Raises on a non-number element, naming its index. */
double *lrk_field_numbers(lua_State *L, int t, const char *ctx,
                          const char *key, int required, size_t *n);

/* Pushes a Lua array of n doubles. */
void lrk_push_numbers(lua_State *L, const double *v, size_t n);

/* Writes `text` to `path` atomically (temporary file in the same folder,
 * then rename): on failure nothing is left behind and err says why. */
int lrk_write_atomic(const char *path, const char *text, size_t len,
                     rkin_err *err);

#endif
