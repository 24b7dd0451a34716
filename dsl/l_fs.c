/* l_fs.c - folders and files for "radiokin.core": rk.mkdir, made by
 * mkdir(2) calls (never a shell command, so a path cannot inject one);
 * a private folder (mkdtemp) for files a program such as gnuplot writes,
 * and the checked rename that moves them to their place (rk.plot_files in
 * the prelude builds on both). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
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

/* private_dir(parent) -> path of a new folder parent/.radiokin-XXXXXX,
 * mode 0700 (mkdtemp): nobody else can plant a link in it, so a program
 * may write its files there by name. */
int lrk_core_private_dir(lua_State *L)
{
  size_t len;
  const char *parent = luaL_checklstring(L, 1, &len);
  char *tmpl;
  if (len == 0 || strlen(parent) != len)
    return lrk_error(L, "rk.core.private_dir: expected a folder name (got "
                     "%s)", len ? "a name with a NUL byte" : "an empty "
                     "string");
  tmpl = lrk_scratch(L, len + 20, 1);
  memcpy(tmpl, parent, len);
  memcpy(tmpl + len, "/.radiokin-XXXXXX", 18);
  if (!mkdtemp(tmpl))
    return lrk_error(L, "cannot create a private folder in '%s': %s",
                     parent, strerror(errno));
  lua_pushstring(L, tmpl);
  return 1;
}

/* replace(src, dst) -> dst: renames src onto dst when dst is absent or a
 * regular file; raises (src kept) when dst is a link, folder, FIFO,
 * device or socket. */
int lrk_core_replace(lua_State *L)
{
  size_t ls, ld;
  const char *src = luaL_checklstring(L, 1, &ls);
  const char *dst = luaL_checklstring(L, 2, &ld);
  rkin_err err;
  if (strlen(src) != ls || strlen(dst) != ld || !ls || !ld)
    return lrk_error(L, "rk.core.replace: expected two file names");
  rkin_err_clear(&err);
  if (lrk_replace_regular(src, dst, &err) != RKIN_OK)
    return lrk_raise(L, NULL, &err);
  lua_pushvalue(L, 2);
  return 1;
}

/* file_kind(path) -> "file", "a symbolic link", "a directory", ... (from
 * lstat), or nil when nothing is there. */
int lrk_core_file_kind(lua_State *L)
{
  const char *p = luaL_checkstring(L, 1);
  struct stat st;
  if (lstat(p, &st) != 0) {
    lua_pushnil(L);
    return 1;
  }
  if (S_ISREG(st.st_mode)) lua_pushliteral(L, "file");
  else if (S_ISLNK(st.st_mode)) lua_pushliteral(L, "a symbolic link");
  else if (S_ISDIR(st.st_mode)) lua_pushliteral(L, "a directory");
  else if (S_ISFIFO(st.st_mode)) lua_pushliteral(L, "a FIFO (named pipe)");
  else if (S_ISCHR(st.st_mode)) lua_pushliteral(L, "a character device");
  else if (S_ISBLK(st.st_mode)) lua_pushliteral(L, "a block device");
  else if (S_ISSOCK(st.st_mode)) lua_pushliteral(L, "a socket");
  else lua_pushliteral(L, "not a regular file");
  return 1;
}
