/* l_fs.c - folders for "radiokin.core": rk.mkdir, made by mkdir(2) calls
 * (never a shell command, so a path cannot inject one). */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"

/* mkdir -p: makes each missing folder of path in turn; an existing
 * folder (or link to one) is fine, anything else there is an error. */
static int make_path(char *p, const char *path, rkin_err *err)
{
  char *s = p;
  struct stat st;
  for (;;) {
    char *next;
    while (*s == '/') s++;
    next = strchr(s, '/');
    if (next) *next = '\0';
    if (*s && mkdir(p, 0777) != 0) {
      int e = errno;
      if (e != EEXIST)
        return rkin_err_set(err, RKIN_EIO, "cannot create folder '%s'%s%s%s: "
                            "%s", p, strcmp(p, path) ? " (for '" : "",
                            strcmp(p, path) ? path : "",
                            strcmp(p, path) ? "')" : "", strerror(e));
      if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
        return rkin_err_set(err, RKIN_EIO, "cannot create folder '%s': '%s' "
                            "exists and is not a folder", path, p);
    }
    if (!next) break;
    *next = '/';
    s = next + 1;
  }
  return RKIN_OK;
}

/* rk.mkdir(path) -> path; raises naming the folder it could not make. */
int lrk_core_mkdir(lua_State *L)
{
  size_t len;
  const char *path;
  char *copy;
  rkin_err err;
  if (lua_type(L, 1) != LUA_TSTRING)
    return lrk_error(L, "rk.mkdir: expected a folder name (got %s)",
                     lrk_got(L, 1));
  path = lua_tolstring(L, 1, &len);
  if (len == 0 || strlen(path) != len)
    return lrk_error(L, "rk.mkdir: expected a folder name (got %s)",
                     len ? "a name with a NUL byte" : "an empty string");
  copy = lrk_scratch(L, len + 1, 1);
  memcpy(copy, path, len + 1);
  rkin_err_clear(&err);
  if (make_path(copy, path, &err) != RKIN_OK)
    return lrk_raise(L, "rk.mkdir", &err);
  lua_pushvalue(L, 1);
  return 1;
}
