/* l_replicates.c - "radiokin.replicates": rk.replicates{n =, run =
 * function(i) ... end} runs n replicates (simulation-estimation,
 * bootstrap, a regimen over a parameter grid: whatever run(i) does) and
 * returns their results in order. Under mpirun the replicates are handed
 * out one at a time (a rank that finishes takes the next: dynamic load
 * balancing, dsl/lrk_dist.c); inside a replicate the rank runs alone
 * (rk.cohort and friends do not split over ranks there, and the files a
 * replicate writes are written by the rank running it). Results travel
 * between ranks serialised: nil, booleans, numbers, strings and tables of
 * them. Every rank gets every result, in replicate order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"
#include "lrk_dist.h"
#include "modules.h"

#define CTX "rk.replicates"
#define BUF_MT "radiokin.replicates_buffer"
#define MAX_DEPTH 64

static char failed_mark;   /* the slot of a failed replicate, for a while */

/* A growing byte buffer freed by Lua (__gc). */
typedef struct {
  char *p;
  size_t len, cap;
} bytes;

static int bytes_gc(lua_State *L)
{
  bytes *b = luaL_checkudata(L, 1, BUF_MT);
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  return 0;
}

static bytes *push_bytes(lua_State *L)
{
  bytes *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  if (luaL_newmetatable(L, BUF_MT)) {
    lua_pushcfunction(L, bytes_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return b;
}

static void put(lua_State *L, bytes *b, const void *s, size_t n)
{
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 4096;
    char *p;
    while (cap < b->len + n) cap *= 2;
    if (!(p = realloc(b->p, cap)))
      luaL_error(L, CTX ": out of memory for the results");
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void put_u64(lua_State *L, bytes *b, uint64_t v)
{
  put(L, b, &v, sizeof v);
}

/* Appends the value at idx: 'n' nil, 'b' boolean, 'i' integer, 'd'
 * float, 's' string, 'T' table (key, value pairs, then 'E'). */
static void serialise(lua_State *L, bytes *b, int idx, int depth, long rep)
{
  char tag;
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    put(L, b, "n", 1);
    return;
  case LUA_TBOOLEAN:
    tag = lua_toboolean(L, idx) ? 1 : 0;
    put(L, b, "b", 1);
    put(L, b, &tag, 1);
    return;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      lua_Integer v = lua_tointeger(L, idx);
      put(L, b, "i", 1);
      put(L, b, &v, sizeof v);
    } else {
      lua_Number v = lua_tonumber(L, idx);
      put(L, b, "d", 1);
      put(L, b, &v, sizeof v);
    }
    return;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    put(L, b, "s", 1);
    put_u64(L, b, n);
    put(L, b, s, n);
    return;
  }
  case LUA_TTABLE:
    if (depth >= MAX_DEPTH)
      luaL_error(L, "replicate %d: its result nests tables more than %d "
                 "deep (a table that holds itself?)", (int)rep, MAX_DEPTH);
    luaL_checkstack(L, 4, CTX);
    put(L, b, "T", 1);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      serialise(L, b, -2, depth + 1, rep);
      serialise(L, b, -1, depth + 1, rep);
      lua_pop(L, 1);
    }
    put(L, b, "E", 1);
    return;
  default:
    luaL_error(L, "replicate %d: its result holds a %s (results are nil, "
               "booleans, numbers, strings and tables of them)", (int)rep,
               luaL_typename(L, idx));
  }
}

/* Reads one value from *p (end e) and pushes it; 0 on a damaged record. */
static int deserialise(lua_State *L, const char **p, const char *e)
{
  char tag;
  if (*p >= e) return 0;
  tag = *(*p)++;
  luaL_checkstack(L, 4, CTX);
  switch (tag) {
  case 'n':
    lua_pushnil(L);
    return 1;
  case 'b':
    if (*p >= e) return 0;
    lua_pushboolean(L, *(*p)++);
    return 1;
  case 'i': {
    lua_Integer v;
    if ((size_t)(e - *p) < sizeof v) return 0;
    memcpy(&v, *p, sizeof v);
    *p += sizeof v;
    lua_pushinteger(L, v);
    return 1;
  }
  case 'd': {
    lua_Number v;
    if ((size_t)(e - *p) < sizeof v) return 0;
    memcpy(&v, *p, sizeof v);
    *p += sizeof v;
    lua_pushnumber(L, v);
    return 1;
  }
  case 's': {
    uint64_t n;
    if ((size_t)(e - *p) < sizeof n) return 0;
    memcpy(&n, *p, sizeof n);
    *p += sizeof n;
    if ((uint64_t)(e - *p) < n) return 0;
    lua_pushlstring(L, *p, (size_t)n);
    *p += n;
    return 1;
  }
  case 'T':
    lua_newtable(L);
    while (*p < e && **p != 'E') {
      if (!deserialise(L, p, e) || !deserialise(L, p, e)) return 0;
      if (lua_isnil(L, -2)) return 0;
      lua_rawset(L, -3);
    }
    if (*p >= e) return 0;
    (*p)++;
    return 1;
  default:
    return 0;
  }
}

/* Protected: run(i), its result appended to the buffer. Arguments: the
 * function, i (1-based), the buffer (light userdata). */
static int run_one(lua_State *L)
{
  bytes *b = lua_touserdata(L, 3);
  long rep = (long)lua_tointeger(L, 2);
  lua_settop(L, 2);
  lua_call(L, 1, 1);
  serialise(L, b, -1, 0, rep);
  return 0;
}

/* Record: u64 index (0-based), 1 byte status (0 ok, 1 failed), u64 length,
 * then the result or the failure message. */
static void run_replicate(lua_State *L, int fn, bytes *b, size_t i)
{
  size_t start = b->len, at;
  char status = 0;
  uint64_t len;
  put_u64(L, b, i);
  put(L, b, &status, 1);
  put_u64(L, b, 0);
  at = b->len;
  lua_pushcfunction(L, run_one);
  lua_pushvalue(L, fn);
  lua_pushinteger(L, (lua_Integer)i + 1);
  lua_pushlightuserdata(L, b);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    size_t n;
    const char *msg = lua_tolstring(L, -1, &n);
    if (!msg) msg = "(an error object that is not a string)", n = strlen(msg);
    b->len = at;
    b->p[start + sizeof(uint64_t)] = 1;
    put(L, b, msg, n);
    lua_pop(L, 1);
  }
  len = b->len - at;
  memcpy(b->p + start + sizeof(uint64_t) + 1, &len, sizeof len);
}

static int replicates_new(lua_State *L)
{
  static const char *const keys[] = {"n", "run", "keep_going", NULL};
  size_t n, i, total = 0, nf = 0, first_fail = (size_t)-1;
  int keep_going, was, out, failed;
  bytes *mine;
  char *all = NULL;
  const char *p, *e;
  rkin_err err;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lrk_check_keys(L, 1, CTX, keys);
  n = (size_t)lrk_field_count(L, 1, CTX, "n", 1, 0, 1, LRK_MAX_PATIENTS);
  keep_going = lrk_field_boolean(L, 1, CTX, "keep_going", 0);
  if (lua_getfield(L, 1, "run") != LUA_TFUNCTION)             /* 2 */
    lrk_error(L, CTX ": field 'run' must be a function(i) returning the "
              "replicate's result (got %s)", luaL_typename(L, 2));
  mine = push_bytes(L);                                        /* 3 */

  rkin_err_clear(&err);
  if (lrk_dist_tasks_begin(n, &err)) lrk_raise(L, CTX, &err);
  /* a replicate runs on one rank alone: no collective call inside */
  was = lrk_dist_suspend(1);
  while ((i = lrk_dist_task_next()) != (size_t)-1) {
    /* an allocation failure in the loop raises: restore first */
    lua_checkstack(L, 8);
    run_replicate(L, 2, mine, i);
  }
  lrk_dist_suspend(was);
  lrk_dist_tasks_end();

  if (lrk_dist_allgather_bytes(mine->p, mine->len, &all, &total, &err))
    lrk_raise(L, CTX, &err);
  /* the gathered records into r[i] (and r.failed), in replicate order */
  lua_createtable(L, (int)n, 2);                               /* 4 */
  out = lua_gettop(L);
  lua_newtable(L);                                             /* 5 */
  failed = lua_gettop(L);
  for (p = all, e = all ? all + total : NULL; p && p < e;) {
    uint64_t idx, len;
    char st;
    if ((size_t)(e - p) < 2 * sizeof idx + 1) break;
    memcpy(&idx, p, sizeof idx);
    st = p[sizeof idx];
    memcpy(&len, p + sizeof idx + 1, sizeof len);
    p += 2 * sizeof idx + 1;
    if ((uint64_t)(e - p) < len || idx >= n) break;
    if (st) {
      lua_createtable(L, 0, 2);
      lua_pushinteger(L, (lua_Integer)idx + 1);
      lua_setfield(L, -2, "index");
      lua_pushlstring(L, p, (size_t)len);
      lua_setfield(L, -2, "message");
      lua_rawseti(L, failed, (lua_Integer)++nf);
      if (idx < first_fail) first_fail = (size_t)idx;
      lua_pushlightuserdata(L, &failed_mark);   /* nil once all are in */
    } else {
      const char *q = p;
      if (!deserialise(L, &q, p + len) || q != p + len) {
        free(all);
        return lrk_error(L, CTX ": the result of replicate %d came back "
                         "damaged", (int)idx + 1);
      }
    }
    lua_rawseti(L, out, (lua_Integer)idx + 1);
    p += len;
  }
  free(all);
  if (p != e)
    return lrk_error(L, CTX ": the gathered results are damaged");
  if (nf && !keep_going) {
    /* the lowest failed replicate's message (same on every rank) */
    lua_Integer k;
    for (k = 1; k <= (lua_Integer)nf; k++) {
      lua_rawgeti(L, failed, k);
      lua_getfield(L, -1, "index");
      if ((size_t)lua_tointeger(L, -1) == first_fail + 1) {
        const char *msg, *more;
        lua_getfield(L, -2, "message");
        msg = lua_tostring(L, -1);
        more = nf > 1 ? lua_pushfstring(L, " (and %d more failed; "
                                        "keep_going = true returns the "
                                        "others)", (int)nf - 1)
                      : " (keep_going = true returns the others)";
        return lrk_error(L, CTX ": replicate %d failed: %s%s",
                         (int)first_fail + 1, msg, more);
      }
      lua_pop(L, 2);
    }
  }
  /* failed ones are nil in the results, listed in r.failed by index */
  for (i = 1; i <= n; i++) {
    if (lua_rawgeti(L, out, (lua_Integer)i) == LUA_TLIGHTUSERDATA &&
        lua_touserdata(L, -1) == &failed_mark) {
      lua_pushnil(L);
      lua_rawseti(L, out, (lua_Integer)i);
    }
    lua_pop(L, 1);
  }
  lua_pushvalue(L, failed);
  lua_setfield(L, out, "failed");
  lua_pushinteger(L, (lua_Integer)n);
  lua_setfield(L, out, "n");
  lua_settop(L, out);
  return 1;
}

int luaopen_radiokin_replicates(lua_State *L)
{
  /* The module is the function itself: rk.replicates{...}. */
  lua_pushcfunction(L, replicates_new);
  return 1;
}
