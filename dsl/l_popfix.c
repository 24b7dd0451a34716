/* l_popfix.c - FIX and block-diagonal Omega in rk.popest declarations:
 * the block form of omega (a list of variances and blocks, any of them
 * fixed), fixed variances of a diagonal omega, sigma_fixed, and the
 * pattern queries the result builder shares with the engine
 * (rkin_popmodel.omega_block / omega_fix). */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "l_popest_impl.h"
#include "lrk.h"

static int *omega_fix_flags(lua_State *L, lpop *p, const char *ctx)
{
  size_t q = p->n_eta ? p->n_eta : 1;
  if (!p->omega_fix) {
    p->omega_fix = calloc(q * q, sizeof *p->omega_fix);
    if (!p->omega_fix) lrk_error(L, "%s: out of memory", ctx);
  }
  return p->omega_fix;
}

static double number_at(lua_State *L, int idx, const char *ctx,
                        const char *what)
{
  int isnum;
  double v = lua_tonumberx(L, idx, &isnum);
  if (!isnum || !isfinite(v))
    lrk_error(L, "%s: %s must be a finite number (got %s)", ctx, what,
              lrk_got(L, idx));
  return v;
}

/* {variance, fixed = bool}: the variance; *fixed set. */
static double fixed_entry(lua_State *L, const char *ctx, int idx,
                          const char *what, int *fixed)
{
  static const char *const keys[] = {"fixed", NULL};
  double v;
  int t = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    int known = lua_isinteger(L, -2) && lua_tointeger(L, -2) == 1;
    if (!known && lua_type(L, -2) == LUA_TSTRING)
      known = strcmp(lua_tostring(L, -2), keys[0]) == 0;
    if (!known)
      lrk_error(L, "%s: %s: unknown field '%s' (expected {variance, fixed "
                "= true})", ctx, what, luaL_tolstring(L, -2, NULL));
    lua_pop(L, 1);
  }
  lua_rawgeti(L, t, 1);
  v = number_at(L, -1, ctx, what);
  lua_pop(L, 1);
  *fixed = lrk_field_boolean(L, t, ctx, "fixed", 0);
  return v;
}

double lrk_popfix_variance(lua_State *L, lpop *p, const char *ctx, int idx,
                           size_t a, const char *what)
{
  size_t q = p->n_eta;
  int fixed = 0;
  double v;
  if (lua_type(L, idx) != LUA_TTABLE) return number_at(L, idx, ctx, what);
  v = fixed_entry(L, ctx, idx, what, &fixed);
  if (fixed) omega_fix_flags(L, p, ctx)[a * q + a] = 1;
  return v;
}

/* An entry of the block form has a 'block' or 'fixed' field. */
static int is_entry(lua_State *L, int idx)
{
  int r;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  r = lua_getfield(L, idx, "block") != LUA_TNIL;
  lua_pop(L, 1);
  r |= lua_getfield(L, idx, "fixed") != LUA_TNIL;
  lua_pop(L, 1);
  return r;
}

int lrk_popfix_omega_blocks(lua_State *L, lpop *p, const char *ctx, int om)
{
  size_t q = p->n_eta, n = (size_t)lua_rawlen(L, om), e, a = 0, i, j;
  int any = 0;
  for (e = 1; e <= n && !any; e++) {
    lua_rawgeti(L, om, (lua_Integer)e);
    any = is_entry(L, -1);
    lua_pop(L, 1);
  }
  if (!any) return 0;
  p->omega_block = calloc(q, sizeof *p->omega_block);
  if (!p->omega_block) lrk_error(L, "%s: out of memory", ctx);
  omega_fix_flags(L, p, ctx);
  p->omega_diag = 0;
  for (e = 1; e <= n; e++) {
    const char *what = lua_pushfstring(L, "omega[%d]", (int)e);
    int t = lua_rawgeti(L, om, (lua_Integer)e), ti = lua_gettop(L);
    int fixed = 0;
    if (t == LUA_TTABLE && lua_getfield(L, ti, "block") != LUA_TNIL) {
      int bi = lua_gettop(L);
      size_t k = 0;
      static const char *const keys[] = {"block", "fixed", NULL};
      lrk_check_keys(L, ti, lua_pushfstring(L, "%s: %s", ctx, what), keys);
      lua_pop(L, 1);
      fixed = lrk_field_boolean(L, ti, ctx, "fixed", 0);
      if (!lua_istable(L, bi) || (k = (size_t)lua_rawlen(L, bi)) == 0)
        lrk_error(L, "%s: %s: 'block' must be a k x k matrix (a list of "
                  "rows)", ctx, what);
      if (a + k > q)
        lrk_error(L, "%s: omega's blocks hold more than the %d etas", ctx,
                  (int)q);
      for (i = 0; i < k; i++) {
        lua_rawgeti(L, bi, (lua_Integer)i + 1);
        if (!lua_istable(L, -1) || lua_rawlen(L, -1) != k)
          lrk_error(L, "%s: %s: block row %d must hold %d numbers", ctx,
                    what, (int)i + 1, (int)k);
        for (j = 0; j < k; j++) {
          const char *w = lua_pushfstring(L, "%s block[%d][%d]", what,
                                          (int)i + 1, (int)j + 1);
          lua_rawgeti(L, -2, (lua_Integer)j + 1);
          p->omega[(a + i) * q + a + j] = number_at(L, -1, ctx, w);
          lua_pop(L, 2);
        }
        lua_pop(L, 1);
      }
      for (i = 0; i < k; i++) {
        p->omega_block[a + i] = (int)e;
        for (j = 0; j < k; j++) {
          if (p->omega[(a + i) * q + a + j] != p->omega[(a + j) * q + a + i])
            lrk_error(L, "%s: %s: the block is not symmetric", ctx, what);
          p->omega_fix[(a + i) * q + a + j] = fixed;
        }
      }
      a += k;
      lua_pop(L, 1);
    } else {
      double v;
      if (t == LUA_TTABLE) lua_pop(L, 1);
      if (a + 1 > q)
        lrk_error(L, "%s: omega's blocks hold more than the %d etas", ctx,
                  (int)q);
      v = t == LUA_TTABLE ? fixed_entry(L, ctx, ti, what, &fixed)
                          : number_at(L, ti, ctx, what);
      p->omega[a * q + a] = v;
      p->omega_fix[a * q + a] = fixed;
      p->omega_block[a] = (int)e;
      a++;
    }
    lua_pop(L, 2);
  }
  if (a != q)
    lrk_error(L, "%s: omega's blocks hold %d etas but eta lists %d", ctx,
              (int)a, (int)q);
  return 1;
}

void lrk_popfix_sigma(lua_State *L, lpop *p, const char *ctx)
{
  size_t n, k, j, off = 0, e;
  if (lua_getfield(L, 1, "sigma_fixed") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1))
    lrk_error(L, "%s: field 'sigma_fixed' must be a list of error SD names "
              "(\"additive\", \"proportional\", \"power\"; with several "
              "endpoints \"additive(name)\") (got %s)", ctx, lrk_got(L, -1));
  n = (size_t)lua_rawlen(L, -1);
  for (k = 1; k <= n; k++) {
    const char *s, *par;
    char what[64], ep[64];
    int i = -1;
    lua_rawgeti(L, -1, (lua_Integer)k);
    s = lua_tostring(L, -1);
    /* "additive" or "additive(endpoint)"; the first endpoint by default */
    ep[0] = 0;
    if (s && sscanf(s, "%63[^(](%63[^)])", what, ep) >= 1) {
      for (e = 0, off = 0; e < p->n_ep; e++) {
        if ((ep[0] || e) && (!ep[0] || strcmp(ep, p->ep_name[e]) != 0)) {
          off += rkin_res_nparams(p->ep_res[e]);
          continue;
        }
        /* the error model's own names: ADD, PROP, POW_EXP */
        par = strcmp(what, "additive") == 0 ? "ADD"
              : strcmp(what, "proportional") == 0 ? "PROP"
              : strcmp(what, "power") == 0 ? "POW_EXP" : what;
        for (j = 0; j < rkin_res_nparams(p->ep_res[e]); j++)
          if (strcmp(par, rkin_res_param_name(p->ep_res[e], j)) == 0)
            i = (int)(off + j);
        break;
      }
    }
    if (i < 0)
      lrk_error(L, "%s: sigma_fixed[%d] = %s is not an SD of the error "
                "model (additive, proportional or power, of the first "
                "endpoint or as \"additive(endpoint)\")", ctx, (int)k,
                luaL_tolstring(L, -1, NULL));
    p->sigma_fix[i] = 1;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

int lrk_popfix_omega_in(const lpop *p, size_t a, size_t b)
{
  if (a == b) return 1;
  if (p->omega_block) return p->omega_block[a] == p->omega_block[b];
  return !p->omega_diag;
}

int lrk_popfix_omega_free(const lpop *p, size_t a, size_t b)
{
  return lrk_popfix_omega_in(p, a, b)
         && !(p->omega_fix && p->omega_fix[a * p->n_eta + b]);
}
