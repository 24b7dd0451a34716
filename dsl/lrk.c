/* lrk.c - helpers shared by the Lua bindings: error raising with the
 * script's position, argument-table field readers, atomic file writes. */
#include "lrk.h"
#include "lrk_dist.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Chunks whose name starts with this are the embedded prelude: errors are
 * blamed on the user's code that called into them, not on the prelude. */
#define PRELUDE_TAG "=[radiokin]"

void lrk_where(lua_State *L)
{
  lua_Debug ar;
  int level;
  for (level = 1; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0) continue;
    if (strncmp(ar.source, PRELUDE_TAG, strlen(PRELUDE_TAG)) == 0) continue;
    lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
    return;
  }
  lua_pushliteral(L, "");
}

int lrk_error(lua_State *L, const char *fmt, ...)
{
  va_list ap;
  lrk_where(L);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

int lrk_raise(lua_State *L, const char *where, const rkin_err *err)
{
  const char *msg = err && err->msg[0] ? err->msg : "unknown engine error";
  if (where) return lrk_error(L, "%s: %s", where, msg);
  return lrk_error(L, "%s", msg);
}

int lrk_cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *lrk_strdup(lua_State *L, const char *ctx, const char *s)
{
  char *d = malloc(strlen(s) + 1);
  if (!d) lrk_error(L, "%s: out of memory", ctx);
  strcpy(d, s);
  return d;
}

void lrk_free_names(char **v, size_t n)
{
  size_t i;
  if (!v) return;
  for (i = 0; i < n; i++) free(v[i]);
  free(v);
}

const char *lrk_got(lua_State *L, int i)
{
  if (lua_type(L, i) == LUA_TNUMBER) {
    lua_Number v = lua_tonumber(L, i);
    if (isnan(v)) return "nan";
    if (isinf(v)) return v > 0 ? "inf" : "-inf";
    return lua_pushfstring(L, "%f", v);
  }
  return luaL_typename(L, i);
}

/* Pushes t[key]; returns its type. */
static int get_field(lua_State *L, int t, const char *key)
{
  return lua_getfield(L, t, key);
}

double lrk_field_number(lua_State *L, int t, const char *ctx, const char *key,
                        int required, double def)
{
  double v;
  t = lua_absindex(L, t);
  if (get_field(L, t, key) == LUA_TNIL) {
    lua_pop(L, 1);
    if (required)
      lrk_error(L, "%s: field '%s' is required (a number)", ctx, key);
    return def;
  }
  if (lua_type(L, -1) != LUA_TNUMBER)
    lrk_error(L, "%s: field '%s' must be a number (got %s)", ctx, key,
              lrk_got(L, -1));
  v = lua_tonumber(L, -1);
  if (!isfinite(v))
    lrk_error(L, "%s: field '%s' must be a finite number (got %s)", ctx, key,
              lrk_got(L, -1));
  lua_pop(L, 1);
  return v;
}

double lrk_field_number_in(lua_State *L, int t, const char *ctx,
                           const char *key, int required, double def,
                           double lo, double hi, int flags)
{
  int absent;
  double v;
  t = lua_absindex(L, t);
  absent = get_field(L, t, key) == LUA_TNIL;
  lua_pop(L, 1);
  v = lrk_field_number(L, t, ctx, key, required, def);
  if (absent) return v;
  if ((flags & LRK_LO_OPEN ? v <= lo : v < lo) ||
      (flags & LRK_HI_OPEN ? v >= hi : v > hi)) {
    char slo[32], shi[32], sv[32];
    snprintf(slo, sizeof slo, "%g", lo);
    snprintf(shi, sizeof shi, "%g", hi);
    snprintf(sv, sizeof sv, "%g", v);
    lrk_error(L, "%s: field '%s' must be a number in %s%s,%s%s (got %s)",
              ctx, key, flags & LRK_LO_OPEN ? "(" : "[", slo, shi,
              flags & LRK_HI_OPEN ? ")" : "]", sv);
  }
  return v;
}

/* Callers store the value in an int, a size_t or an unsigned long: the
 * range of int keeps every such cast defined (1e12 threads or cycles is
 * an error, not a wrapped number). Counts with a narrower range use
 * lrk_field_count. */
long lrk_field_integer(lua_State *L, int t, const char *ctx, const char *key,
                       int required, long def)
{
  return (long)lrk_field_count(L, t, ctx, key, required, def, INT_MIN,
                               INT_MAX);
}

/* ---------------------------------------------------------------- counts */

/* The value at idx as a count in [lo, hi], or raises quoting it as Lua
 * prints it (1e+12, 1.5), so the user sees the number they typed. */
static long long count_at(lua_State *L, int idx, const char *ctx,
                          const char *what, long long lo, long long hi)
{
  long long v = 0;
  int ok = 0;
  idx = lua_absindex(L, idx);
  if (lua_isinteger(L, idx)) {
    v = (long long)lua_tointeger(L, idx);
    ok = 1;
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Number d = lua_tonumber(L, idx);
    /* 9.2e18 < 2^63: the cast below is then defined. */
    if (isfinite(d) && d == floor(d) && fabs(d) < 9.2e18) {
      v = (long long)d;
      ok = 1;
    }
  }
  if (!ok || v < lo || v > hi) {
    const char *got = luaL_typename(L, idx);
    if (lua_isinteger(L, idx)) {
      got = lua_pushfstring(L, "%I", lua_tointeger(L, idx));
    } else if (lua_type(L, idx) == LUA_TNUMBER) {
      /* The shortest text that reads back as the value: 1e+12, 1.5. */
      char s[64];
      int p;
      lua_Number d = lua_tonumber(L, idx);
      for (p = 1; p <= 17; p++) {
        snprintf(s, sizeof s, "%.*g", p, (double)d);
        if (strtod(s, NULL) == d) break;
      }
      got = isfinite(d) ? lua_pushstring(L, s) : lrk_got(L, idx);
    }
    lrk_error(L, "%s: %s must be an integer in [%I, %I] (got %s)", ctx, what,
              (lua_Integer)lo, (lua_Integer)hi, got);
  }
  return v;
}

long long lrk_field_count(lua_State *L, int t, const char *ctx,
                          const char *key, int required, long long def,
                          long long lo, long long hi)
{
  long long v;
  const char *what;
  t = lua_absindex(L, t);
  if (get_field(L, t, key) == LUA_TNIL) {
    lua_pop(L, 1);
    if (required)
      lrk_error(L, "%s: field '%s' is required (an integer in [%I, %I])",
                ctx, key, (lua_Integer)lo, (lua_Integer)hi);
    return def;
  }
  what = lua_pushfstring(L, "field '%s'", key);
  v = count_at(L, -2, ctx, what, lo, hi);
  lua_pop(L, 2);
  return v;
}

long long lrk_check_count(lua_State *L, int arg, const char *ctx,
                          const char *what, long long lo, long long hi)
{
  return count_at(L, arg, ctx, what, lo, hi);
}

/* ---------------------------------------------------------------- memory */

static double memory_override;   /* bytes; 0: the system's limit */

/* The smallest of physical RAM, RLIMIT_AS and the cgroup v2 limit. */
static double system_memory(const char **source)
{
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  double lim = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
  struct rlimit rl;
  FILE *f;
  *source = "the machine's RAM";
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (lim <= 0 || (double)rl.rlim_cur < lim)) {
    lim = (double)rl.rlim_cur;
    *source = "the process's address-space limit (ulimit -v)";
  }
  f = fopen("/sys/fs/cgroup/memory.max", "r");
  if (f) {
    double c;
    if (fscanf(f, "%lf", &c) == 1 && c > 0 && (lim <= 0 || c < lim)) {
      lim = c;
      *source = "the cgroup memory limit";
    }
    fclose(f);
  }
  if (lim <= 0) {
    lim = 1e18;                /* unknown: no limit of our own */
    *source = "no known limit";
  }
  return lim;
}

double lrk_memory_limit(const char **source)
{
  const char *src;
  double sys = system_memory(&src);
  if (memory_override > 0 && memory_override < sys) {
    src = "rk.memory_limit";
    sys = memory_override;
  }
  if (source) *source = src;
  return sys;
}

void lrk_set_memory_limit(double bytes)
{
  memory_override = bytes > 0 ? bytes : 0;
}

static const char *push_bytes(lua_State *L, double b)
{
  char s[64];
  if (b >= 1e9) snprintf(s, sizeof s, "%.1f GB", b / 1e9);
  else if (b >= 1e6) snprintf(s, sizeof s, "%.1f MB", b / 1e6);
  else if (b >= 1e3) snprintf(s, sizeof s, "%.1f kB", b / 1e3);
  else snprintf(s, sizeof s, "%.0f bytes", b);
  return lua_pushstring(L, s);
}

void lrk_check_memory(lua_State *L, const char *ctx, double n,
                      const char *what, double each)
{
  const char *src, *count, *need, *have;
  double lim = lrk_memory_limit(&src);
  if (n * each <= lim) return;
  count = lua_pushfstring(L, "%I", (lua_Integer)n);
  need = push_bytes(L, n * each);
  have = push_bytes(L, lim);
  lrk_error(L, "%s: %s %s need about %s (%d bytes each), more than the "
            "memory limit of %s (%s); ask for fewer", ctx, count, what, need,
            (int)each, have, src);
}

double lrk_table_bytes(size_t narr, size_t nhash)
{
  /* sizeof(Table) and malloc's per-block overhead, 16-byte TValues, 24-byte
   * Nodes in a power-of-two hash part (Lua 5.4, 64-bit). */
  double b = 56 + 16;
  size_t size = 1;
  if (narr) b += 16.0 * (double)narr + 16;
  if (nhash) {
    while (size < nhash) size *= 2;
    b += 24.0 * (double)size + 16;
  }
  return b;
}

const char *lrk_field_string(lua_State *L, int t, const char *ctx,
                             const char *key, int required, const char *def)
{
  const char *s;
  t = lua_absindex(L, t);
  if (get_field(L, t, key) == LUA_TNIL) {
    lua_pop(L, 1);
    if (required)
      lrk_error(L, "%s: field '%s' is required (a string)", ctx, key);
    return def;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    lrk_error(L, "%s: field '%s' must be a string (got %s)", ctx, key,
              lrk_got(L, -1));
  /* The string stays alive while the table at t holds it. */
  s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s;
}

int lrk_field_enum(lua_State *L, int t, const char *ctx, const char *key,
                   const char *const names[], int def)
{
  const char *s = lrk_field_string(L, t, ctx, key, 0, names[def]);
  luaL_Buffer b;
  int k;
  for (k = 0; names[k]; k++)
    if (strcmp(s, names[k]) == 0) return k;
  /* "a", "b" or "c", as every option error of the bindings reads. */
  luaL_buffinit(L, &b);
  for (k = 0; names[k]; k++) {
    if (k) luaL_addstring(&b, names[k + 1] ? ", " : " or ");
    luaL_addchar(&b, '"');
    luaL_addstring(&b, names[k]);
    luaL_addchar(&b, '"');
  }
  luaL_pushresult(&b);
  lrk_error(L, "%s: field '%s' must be %s (got \"%s\")", ctx, key,
            lua_tostring(L, -1), s);
  return def;
}

int lrk_field_boolean(lua_State *L, int t, const char *ctx, const char *key,
                      int def)
{
  int v;
  t = lua_absindex(L, t);
  if (get_field(L, t, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  if (lua_type(L, -1) != LUA_TBOOLEAN)
    lrk_error(L, "%s: field '%s' must be true or false (got %s)", ctx, key,
              lrk_got(L, -1));
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

double *lrk_numbers(lua_State *L, int idx, const char *ctx, const char *what,
                    size_t *n)
{
  size_t k, len;
  double *v;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE)
    lrk_error(L, "%s: %s must be an array of numbers (got %s)", ctx, what,
              lrk_got(L, idx));
  len = (size_t)lua_rawlen(L, idx);
  v = lua_newuserdatauv(L, (len ? len : 1) * sizeof *v, 0);
  for (k = 0; k < len; k++) {
    lua_rawgeti(L, idx, (lua_Integer)k + 1);
    if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1)))
      lrk_error(L, "%s: %s[%d] must be a finite number (got %s)", ctx, what,
                (int)k + 1, lrk_got(L, -1));
    v[k] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  *n = len;
  return v;
}

double *lrk_field_numbers(lua_State *L, int t, const char *ctx,
                          const char *key, int required, size_t *n)
{
  double *tmp, *v;
  t = lua_absindex(L, t);
  *n = 0;
  if (get_field(L, t, key) == LUA_TNIL) {
    lua_pop(L, 1);
    if (required)
      lrk_error(L, "%s: field '%s' is required (an array of numbers)", ctx,
                key);
    return NULL;
  }
  /* Validate into a collectable buffer first so a raise leaks nothing.
   * The field's index is taken before the name is pushed above it. */
  {
    int field = lua_gettop(L);
    const char *what = lua_pushfstring(L, "field '%s'", key);
    tmp = lrk_numbers(L, field, ctx, what, n);
  }
  v = malloc((*n ? *n : 1) * sizeof *v);
  if (!v) lrk_error(L, "%s: out of memory reading field '%s'", ctx, key);
  if (*n) memcpy(v, tmp, *n * sizeof *v);
  lua_pop(L, 3);
  return v;
}

void lrk_push_numbers(lua_State *L, const double *v, size_t n)
{
  size_t k;
  lua_createtable(L, (int)n, 0);
  for (k = 0; k < n; k++) {
    lua_pushnumber(L, v[k]);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
}

void lrk_check_keys(lua_State *L, int t, const char *ctx,
                    const char *const *known)
{
  t = lua_absindex(L, t);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    size_t k;
    int found = 0;
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *key = lua_tostring(L, -2);
      for (k = 0; known[k] && !found; k++) found = strcmp(key, known[k]) == 0;
    }
    if (!found) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (k = 0; known[k]; k++) {
        if (k) luaL_addstring(&b, ", ");
        luaL_addstring(&b, known[k]);
      }
      const char *list, *name;
      luaL_pushresult(&b);
      list = lua_tostring(L, -1);
      name = luaL_tolstring(L, -3, NULL);
      lrk_error(L, "%s: unknown field '%s' (known: %s)", ctx, name, list);
    }
    lua_pop(L, 1);
  }
}

/* ---------------------------------------------------------- atomic write */

static int write_all(int fd, const char *p, size_t len)
{
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* What sits at path, for refusing to replace it: NULL when nothing or a
 * regular file is there (or lstat fails for another reason, which the
 * write itself then reports), else a phrase naming the kind of file. */
static const char *not_regular(const char *path)
{
  struct stat st;
  if (lstat(path, &st) != 0) return NULL;
  if (S_ISREG(st.st_mode)) return NULL;
  if (S_ISLNK(st.st_mode)) return "a symbolic link";
  if (S_ISDIR(st.st_mode)) return "a directory";
  if (S_ISFIFO(st.st_mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(st.st_mode)) return "a character device";
  if (S_ISBLK(st.st_mode)) return "a block device";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  return "not a regular file";
}

static int refuse(rkin_err *err, const char *path, const char *kind)
{
  return rkin_err_set(err, RKIN_EINVAL,
                      "cannot write '%s': it is %s, not a regular file; "
                      "refusing to replace it (write to a file name, or "
                      "'-' for standard output)", path, kind);
}

/* Path "-": the text goes to standard output (through stdio, so it stays
 * in order with print). */
static int write_stdout(const char *text, size_t len, rkin_err *err)
{
  if ((len && fwrite(text, 1, len, stdout) != len) || fflush(stdout) != 0)
    return rkin_err_set(err, RKIN_EIO, "cannot write to standard output: "
                        "%s", strerror(errno));
  return RKIN_OK;
}

int lrk_write_atomic(const char *path, const char *text, size_t len,
                     rkin_err *err)
{
  char *tmp = NULL;
  int rc = lrk_atomic_begin(path, text, len, &tmp, err);
  if (rc != RKIN_OK || !tmp) return rc;
  return lrk_atomic_commit(path, tmp, err);
}

int lrk_atomic_begin(const char *path, const char *text, size_t len,
                     char **tmp_out, rkin_err *err)
{
  char *tmp = NULL;
  const char *slash, *base, *kind;
  size_t dirlen, need;
  int fd = -1, e, rc = RKIN_EIO;
  mode_t mask;

  *tmp_out = NULL;
  /* Under mpirun every rank runs the script: only rank 0 writes. */
  if (lrk_dist_rank() != 0) return RKIN_OK;
  if (!path || !*path)
    return rkin_err_set(err, RKIN_EINVAL, "cannot write: empty file name");
  if (strcmp(path, "-") == 0) return write_stdout(text, len, err);
  slash = strrchr(path, '/');
  base = slash ? slash + 1 : path;
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "cannot write '%s': not a file name", path);
  /* rename() would replace a link, FIFO or device node (as root,
   * /dev/null) by a regular file: only regular files are replaced. */
  if ((kind = not_regular(path)) != NULL) return refuse(err, path, kind);
  dirlen = slash ? (size_t)(slash - path) + 1 : 0;
  need = dirlen + strlen(base) + 16;
  tmp = malloc(need);
  if (!tmp)
    return rkin_err_set(err, RKIN_ENOMEM, "cannot write '%s': out of memory",
                        path);
  /* A hidden temporary in the target's folder, so rename() is atomic. */
  snprintf(tmp, need, "%.*s.%s.XXXXXX", (int)dirlen, path, base);
  fd = mkstemp(tmp);
  if (fd < 0) {
    e = errno;
    rkin_err_set(err, RKIN_EIO,
                 "cannot write '%s': cannot create a temporary file in "
                 "'%.*s': %s", path, dirlen ? (int)dirlen : 1,
                 dirlen ? path : ".", strerror(e));
    free(tmp);
    return RKIN_EIO;
  }
  /* mkstemp makes 0600: a file that exists keeps its own mode (a result
   * the user restricted stays restricted); a new one is an ordinary file
   * (0666 & ~umask). */
  {
    struct stat st;
    mode_t mode;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      mode = st.st_mode & 07777;
    } else {
      mask = umask(0);
      umask(mask);
      mode = 0666 & ~mask;
    }
    if (fchmod(fd, mode) != 0) {
      e = errno;
      rkin_err_set(err, RKIN_EIO, "cannot write '%s': setting the mode of "
                   "its temporary file: %s", path, strerror(e));
      goto fail;
    }
  }
  if (write_all(fd, text, len) != 0 ||
      fsync(fd) != 0) {
    e = errno;
    rkin_err_set(err, RKIN_EIO, "cannot write '%s': writing its temporary "
                 "file: %s", path, strerror(e));
    goto fail;
  }
  if (close(fd) != 0) {
    fd = -1;
    e = errno;
    rkin_err_set(err, RKIN_EIO, "cannot write '%s': closing its temporary "
                 "file: %s", path, strerror(e));
    goto fail;
  }
  *tmp_out = tmp;
  return RKIN_OK;

fail:
  if (fd >= 0) close(fd);
  unlink(tmp);
  free(tmp);
  return rc;
}

int lrk_check_replaceable(const char *path, rkin_err *err)
{
  const char *kind = not_regular(path);
  return kind ? refuse(err, path, kind) : RKIN_OK;
}

int lrk_replace_regular(const char *src, const char *path, rkin_err *err)
{
  const char *kind;
  /* checked again: the window between the check and rename stays short */
  if ((kind = not_regular(path)) != NULL) return refuse(err, path, kind);
  if (rename(src, path) != 0)
    return rkin_err_set(err, RKIN_EIO, "cannot write '%s': renaming '%s' "
                        "onto it: %s", path, src, strerror(errno));
  return RKIN_OK;
}

int lrk_atomic_commit(const char *path, char *tmp, rkin_err *err)
{
  int rc = lrk_replace_regular(tmp, path, err);
  if (rc) unlink(tmp);
  free(tmp);
  return rc;
}

void lrk_atomic_abort(char *tmp)
{
  if (!tmp) return;
  unlink(tmp);
  free(tmp);
}

void *lrk_scratch(lua_State *L, size_t n, size_t sz)
{
  void *p = lua_newuserdatauv(L, (n ? n : 1) * sz, 0);
  memset(p, 0, (n ? n : 1) * sz);
  return p;
}

const char *lrk_push_list(lua_State *L, const char *const *names, size_t n)
{
  luaL_Buffer b;
  size_t i;
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, names[i]);
  }
  if (n == 0) luaL_addstring(&b, "none");
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}
