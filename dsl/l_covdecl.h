/* l_covdecl.h - declared covariates read from Lua (pop/covdecl.h):
 * { NAME = {type = "continuous", unit = "kg", range = {lo, hi}},
 *   NAME = {type = "categorical", levels = {0, 1} [, unit =]} }. */
#ifndef LRK_COVDECL_H
#define LRK_COVDECL_H

#include <lua.h>

#include "pop/covdecl.h"

/* Reads the table at t into a userdata it pushes (collected by Lua):
 * the declarations sorted by name, their names and units pointing at the
 * table's strings (keep the table alive while they are used). Raises
 * "ctx: covariates.NAME: ..." on a malformed entry. */
rkin_covdecl *lrk_covdecls(lua_State *L, int t, const char *ctx, size_t *n);

/* A malloc'd deep copy (names, units and levels included) for objects
 * that outlive the table, and its release; NULL when out of memory. */
rkin_covdecl *lrk_covdecl_copy(const rkin_covdecl *c, size_t n);
void lrk_covdecl_free(rkin_covdecl *c, size_t n);

/* The declaration of `name` (case-insensitive), or NULL. */
const rkin_covdecl *lrk_covdecl_find(const rkin_covdecl *c, size_t n,
                                     const char *name);

#endif
