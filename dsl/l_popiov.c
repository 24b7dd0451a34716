/* l_popiov.c - between-occasion variability in rk.popest declarations:
 * iov = { NAME = variance | {variance, fixed = true} } appends occasion
 * etas (one value per occasion of a subject, sharing that variance;
 * engine/pop/popiov.c) after the etas of omega, each its own diagonal
 * block; occ = "OCC" names the dataset's occasion column. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "l_popest_impl.h"
#include "lrk.h"

static int cmp_name(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void lrk_popiov_read(lua_State *L, lpop *p, const char *ctx)
{
  size_t q0 = p->n_eta, m = 0, q, a, b, i;
  const char **names;
  double *om;
  int *blk, *fix = NULL, t, top = lua_gettop(L), lab = 0;
  t = lua_getfield(L, 1, "occ");
  if (t != LUA_TNIL && t != LUA_TSTRING)
    lrk_error(L, "%s: field 'occ' must be the name of the occasion column "
              "(got %s)", ctx, lrk_got(L, -1));
  if (t == LUA_TSTRING) p->occ_name = lrk_strdup(L, ctx, lua_tostring(L, -1));
  t = lua_getfield(L, 1, "iov");
  if (t == LUA_TNIL) {
    if (p->occ_name)
      lrk_error(L, "%s: field 'occ' given without 'iov' (the occasion "
                "etas)", ctx);
    lua_settop(L, top);
    return;
  }
  if (t != LUA_TTABLE)
    lrk_error(L, "%s: field 'iov' must be a table { NAME = variance } of "
              "occasion etas (got %s)", ctx, lrk_got(L, -1));
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      lrk_error(L, "%s: field 'iov' must be a table NAME = variance (got "
                "a %s key)", ctx, luaL_typename(L, -2));
    m++;
    lua_pop(L, 1);
  }
  if (!m) lrk_error(L, "%s: field 'iov' is empty", ctx);
  names = lua_newuserdatauv(L, m * sizeof *names, 0);
  i = 0;
  lua_pushnil(L);
  while (lua_next(L, -3)) {
    names[i++] = lua_tostring(L, -2);
    lua_pop(L, 1);
  }
  qsort(names, m, sizeof *names, cmp_name);
  q = q0 + m;
  for (i = 0; i < m; i++)
    for (a = 0; a < q0; a++)
      if (!strcmp(names[i], p->eta_names[a]))
        lrk_error(L, "%s: eta '%s' is in both omega and iov", ctx,
                  names[i]);
  /* the larger Omega: the old one, then the occasion etas' variances */
  om = calloc(q * q, sizeof *om);
  blk = calloc(q, sizeof *blk);
  p->eta_occ = calloc(q, sizeof *p->eta_occ);
  if (!om || !blk || !p->eta_occ) {
    free(om);
    free(blk);
    lrk_error(L, "%s: out of memory", ctx);
  }
  for (a = 0; a < q0; a++)
    for (b = 0; b < q0; b++) om[a * q + b] = p->omega[a * q0 + b];
  for (a = 0; a < q0; a++) {
    blk[a] = p->omega_block ? p->omega_block[a]
             : p->omega_diag ? (int)a : 0;
    if (blk[a] >= lab) lab = blk[a] + 1;
  }
  if (p->omega_fix) {
    fix = calloc(q * q, sizeof *fix);
    if (!fix) {
      free(om);
      free(blk);
      lrk_error(L, "%s: out of memory", ctx);
    }
    for (a = 0; a < q0; a++)
      for (b = 0; b < q0; b++) fix[a * q + b] = p->omega_fix[a * q0 + b];
  }
  free(p->omega);
  p->omega = om;
  free(p->omega_block);
  p->omega_block = blk;
  free(p->omega_fix);
  p->omega_fix = fix;
  {
    char **en = realloc(p->eta_names, q * sizeof *en);
    if (!en) lrk_error(L, "%s: out of memory", ctx);
    p->eta_names = en;
    for (a = q0; a < q; a++) en[a] = NULL;
  }
  for (i = 0; i < m; i++) {
    size_t e = q0 + i;
    const char *what = lua_pushfstring(L, "iov.%s (a variance)", names[i]);
    p->eta_names[e] = lrk_strdup(L, "rk.popest", names[i]);
    p->n_eta = e + 1;
    p->eta_occ[e] = 1;
    blk[e] = lab + (int)i;
    lua_getfield(L, top + 2, names[i]);
    /* the flag indexing of lrk_popfix_variance is over the final q */
    p->n_eta = q;
    om[e * q + e] = lrk_popfix_variance(L, p, ctx, -1, e, what);
    p->n_eta = e + 1;
    lua_pop(L, 2);
  }
  p->n_eta = q;
  p->omega_diag = 0;
  lua_settop(L, top);
}
