/* l_covdecl.c - declared covariates (type, unit, range or levels) read
 * from a Lua table, for rk.popest{covariates = ...} and rk.data(...,
 * {declare = ...}). */
#include "l_covdecl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "lrk.h"

static int by_name(const void *a, const void *b)
{
  return strcmp(((const rkin_covdecl *)a)->name,
                ((const rkin_covdecl *)b)->name);
}

rkin_covdecl *lrk_covdecls(lua_State *L, int t, const char *ctx, size_t *n)
{
  static const char *const keys[] = {"type", "unit", "range", "levels",
                                     NULL};
  size_t count = 0, nlev = 0, i = 0, used = 0;
  rkin_covdecl *c;
  double *lev;
  char sub[160];
  t = lua_absindex(L, t);
  if (!lua_istable(L, t))
    lrk_error(L, "%s: covariate declarations must be a table NAME = "
              "{type =, unit =, range = {lo, hi} or levels = {...}} (got "
              "%s)", ctx, lrk_got(L, t));
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
      lrk_error(L, "%s: covariates: each entry must be NAME = {type = ...} "
                "(got %s = %s)", ctx, luaL_typename(L, -2),
                luaL_typename(L, -1));
    if (lua_getfield(L, -1, "levels") == LUA_TTABLE)
      nlev += (size_t)lua_rawlen(L, -1);
    lua_pop(L, 2);
    count++;
  }
  c = lua_newuserdatauv(L, (count ? count : 1) * sizeof *c
                        + (nlev ? nlev : 1) * sizeof *lev, 0);
  lev = (double *)(c + (count ? count : 1));
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *type;
    int e = lua_gettop(L);
    memset(&c[i], 0, sizeof c[i]);
    c[i].name = lua_tostring(L, -2);
    snprintf(sub, sizeof sub, "%s: covariates.%s", ctx, c[i].name);
    lrk_check_keys(L, e, sub, keys);
    type = lrk_field_string(L, e, sub, "type", 1, NULL);
    if (strcmp(type, "continuous") == 0) {
      c[i].categorical = 0;
      c[i].unit = lrk_field_string(L, e, sub, "unit", 1, NULL);
      if (lua_getfield(L, e, "range") != LUA_TTABLE || lua_rawlen(L, -1) != 2)
        lrk_error(L, "%s: a continuous covariate needs range = {lo, hi} "
                  "(got %s)", sub, lrk_got(L, -1));
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      if (!lua_isnumber(L, -2) || !lua_isnumber(L, -1))
        lrk_error(L, "%s: range = {lo, hi} must hold two numbers", sub);
      c[i].lo = lua_tonumber(L, -2);
      c[i].hi = lua_tonumber(L, -1);
      lua_pop(L, 3);
      if (lua_getfield(L, e, "levels") != LUA_TNIL)
        lrk_error(L, "%s: levels belong to a categorical covariate", sub);
      lua_pop(L, 1);
    } else if (strcmp(type, "categorical") == 0) {
      size_t k, m;
      c[i].categorical = 1;
      c[i].unit = lrk_field_string(L, e, sub, "unit", 0, "");
      if (lua_getfield(L, e, "levels") != LUA_TTABLE)
        lrk_error(L, "%s: a categorical covariate needs levels = {...} "
                  "(got %s)", sub, lrk_got(L, -1));
      m = (size_t)lua_rawlen(L, -1);
      c[i].levels = lev + used;
      c[i].n_levels = m;
      for (k = 0; k < m; k++) {
        lua_rawgeti(L, -1, (lua_Integer)k + 1);
        if (!lua_isnumber(L, -1))
          lrk_error(L, "%s: levels[%d] must be a number (got %s)", sub,
                    (int)k + 1, lrk_got(L, -1));
        lev[used + k] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
      used += m;
      lua_pop(L, 1);
      if (lua_getfield(L, e, "range") != LUA_TNIL)
        lrk_error(L, "%s: a range belongs to a continuous covariate", sub);
      lua_pop(L, 1);
    } else {
      lrk_error(L, "%s: type must be \"continuous\" or \"categorical\" "
                "(got \"%s\")", sub, type);
    }
    {
      rkin_err err;
      rkin_err_clear(&err);
      if (rkin_covdecl_check(&c[i], &err)) lrk_error(L, "%s: %s", ctx,
                                                     err.msg);
    }
    lua_settop(L, e - 1);
    i++;
  }
  qsort(c, count, sizeof *c, by_name);
  *n = count;
  return c;
}

static char *dup(const char *s)
{
  size_t n = strlen(s ? s : "") + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s ? s : "", n);
  return d;
}

rkin_covdecl *lrk_covdecl_copy(const rkin_covdecl *c, size_t n)
{
  rkin_covdecl *d = calloc(n ? n : 1, sizeof *d);
  size_t i;
  for (i = 0; d && i < n; i++) {
    double *lev = NULL;
    d[i] = c[i];
    d[i].name = dup(c[i].name);
    d[i].unit = dup(c[i].unit);
    if (c[i].n_levels && (lev = malloc(c[i].n_levels * sizeof *lev)))
      memcpy(lev, c[i].levels, c[i].n_levels * sizeof *lev);
    d[i].levels = lev;
    if (!d[i].name || !d[i].unit || (c[i].n_levels && !lev)) {
      lrk_covdecl_free(d, i + 1);
      return NULL;
    }
  }
  return d;
}

void lrk_covdecl_free(rkin_covdecl *c, size_t n)
{
  size_t i;
  for (i = 0; c && i < n; i++) {
    free((char *)c[i].name);
    free((char *)c[i].unit);
    free((double *)c[i].levels);
  }
  free(c);
}

const rkin_covdecl *lrk_covdecl_find(const rkin_covdecl *c, size_t n,
                                     const char *name)
{
  size_t i;
  for (i = 0; c && name && i < n; i++)
    if (strcasecmp(c[i].name, name) == 0) return &c[i];
  return NULL;
}
