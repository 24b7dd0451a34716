/* l_core.c - "radiokin.core": the version, atomic file writing, the CSV
 * tokenizer, folders (l_fs.c) and programs run without a shell
 * (l_spawn.c): the primitives the Lua prelude and the scripts build on. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "core/csv.h"
#include "lrk.h"
#include "modules.h"

/* write_atomic(path, text): the file appears complete or not at all.
 * Raises on failure (an output a script silently failed to write is worse
 * than a stopped script). */
static int core_write_atomic(lua_State *L)
{
  size_t len, plen;
  const char *path = luaL_checklstring(L, 1, &plen);
  const char *text = luaL_checklstring(L, 2, &len);
  rkin_err err;
  if (strlen(path) != plen)
    return lrk_error(L, "rk.write_atomic: the file name holds a NUL byte "
                     "(it would be cut there)");
  rkin_err_clear(&err);
  if (lrk_write_atomic(path, text, len, &err) != 0)
    return lrk_raise(L, "rk.write_atomic", &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* The tokenizer lives in a box so a Lua error cannot leak it. */
static int csv_box_gc(lua_State *L)
{
  rkin_csv **box = lua_touserdata(L, 1);
  if (box && *box) {
    rkin_csv_close(*box);
    *box = NULL;
  }
  return 0;
}

/* csv_records(text, name [, sep [, comment]]) -> records: record i is
 * {field1, field2, ..., line = L, cols = {col1, ...}} from the engine's
 * CSV tokenizer (core/csv.h: RFC 4180 quotes, BOM, CRLF; blank and
 * comment lines skipped). A malformed text raises "name:line:col: ...". */
static int core_csv_records(lua_State *L)
{
  size_t len, k;
  const char *text = luaL_checklstring(L, 1, &len);
  const char *name = luaL_checkstring(L, 2);
  const char *sep = luaL_optstring(L, 3, ",");
  const char *comment = luaL_optstring(L, 4, NULL);
  rkin_csv_opts o;
  rkin_csv **box;
  rkin_csv_record rec;
  rkin_err err;
  lua_Integer n = 0;
  int rc;
  if (strlen(sep) != 1)
    return lrk_error(L, "csv_records: the separator must be one character");
  o.sep = sep[0];
  o.comment = comment;
  rkin_err_clear(&err);
  box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, csv_box_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  if (!(*box = rkin_csv_open(text, len, name, &o, &err)))
    return lrk_raise(L, NULL, &err);
  lua_newtable(L);
  while ((rc = rkin_csv_next(*box, &rec, &err)) == 1) {
    lua_createtable(L, (int)rec.n, 2);
    lua_createtable(L, (int)rec.n, 0);
    for (k = 0; k < rec.n; k++) {
      lua_pushstring(L, rec.field[k]);
      lua_rawseti(L, -3, (lua_Integer)k + 1);
      lua_pushinteger(L, (lua_Integer)rec.field_col[k]);
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "cols");
    lua_pushinteger(L, (lua_Integer)rec.line);
    lua_setfield(L, -2, "line");
    lua_rawseti(L, -2, ++n);
  }
  if (rc < 0) {
    /* as error(msg, 0): the message already says file:line:column */
    lua_pushstring(L, err.msg);
    return lua_error(L);
  }
  rkin_csv_close(*box);
  *box = NULL;
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
  {"mkdir", lrk_core_mkdir},
  {"private_dir", lrk_core_private_dir},
  {"replace", lrk_core_replace},
  {"file_kind", lrk_core_file_kind},
  {"run", lrk_core_run},
  {"gnuplot", lrk_core_gnuplot},
  {"gnuplot_quote", lrk_core_gnuplot_quote},
  {"csv_records", core_csv_records},
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
