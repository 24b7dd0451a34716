/* repl.c - the interactive prompt: `radiokin` with no script on a
 * terminal. Each input is tried first as an expression ("return " ..
 * line, whose values are printed), then as a statement; an incomplete
 * statement (the parser reached the end: "<eof>") reads continuation lines
 * until it is complete. Line editing and history come from GNU readline
 * when configure found it; otherwise lines are read with fgets. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#ifdef HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#include "repl.h"

#define HISTORY_FILE ".radiokin_history"
#define HISTORY_MAX 1000

#ifdef HAVE_READLINE
static char *history_path(void)
{
  const char *home = getenv("HOME");
  char *p;
  if (!home || !*home) return NULL;
  p = malloc(strlen(home) + sizeof HISTORY_FILE + 1);
  if (p) sprintf(p, "%s/%s", home, HISTORY_FILE);
  return p;
}

/* A malloc'd line without its newline, or NULL at end of input. */
static char *read_line(const char *prompt)
{
  return readline(prompt);
}
#else
static char *read_line(const char *prompt)
{
  size_t len = 0, cap = 256;
  char *s = malloc(cap);
  fputs(prompt, stdout);
  fflush(stdout);
  if (!s) return NULL;
  while (fgets(s + len, (int)(cap - len), stdin)) {
    len += strlen(s + len);
    if (len && s[len - 1] == '\n') {
      s[len - 1] = '\0';
      return s;
    }
    if (len + 1 == cap) {              /* a longer line: grow and go on */
      char *t = realloc(s, cap * 2);
      if (!t) break;
      s = t;
      cap *= 2;
    }
  }
  if (len) return s;                   /* last line without a newline */
  free(s);
  return NULL;
}
#endif

/* Whether the load error on top of the stack means "input ended early". */
static int incomplete(lua_State *L)
{
  size_t n;
  const char *msg = lua_tolstring(L, -1, &n);
  static const char mark[] = "<eof>";
  return msg && n >= sizeof mark - 1 &&
         strcmp(msg + n - (sizeof mark - 1), mark) == 0;
}

/* Loads one input, reading continuation lines while it is incomplete.
 * Pushes the chunk (or the error message) and its full text; returns the
 * load status, or -1 at end of input. */
static int load_input(lua_State *L, char *first)
{
  luaL_Buffer b;
  int rc;
  const char *text;
  size_t len;
  /* An expression first, so "1 + 1" prints 2. */
  lua_pushfstring(L, "return %s", first);
  rc = luaL_loadbufferx(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin",
                        "t");
  if (rc == LUA_OK) {
    lua_remove(L, -2);
    lua_pushstring(L, first);
    free(first);
    return rc;
  }
  lua_pop(L, 2);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, first);
  free(first);
  luaL_pushresult(&b);
  for (;;) {
    char *more;
    text = lua_tolstring(L, -1, &len);
    rc = luaL_loadbufferx(L, text, len, "=stdin", "t");
    if (rc != LUA_ERRSYNTAX || !incomplete(L)) break;
    lua_pop(L, 1);
    more = read_line(">> ");
    if (!more) return -1;
    lua_pushfstring(L, "\n%s", more);
    free(more);
    lua_concat(L, 2);
  }
  lua_insert(L, -2);                   /* chunk (or message), text */
  return rc;
}

int lrk_repl(lua_State *L, const char *progname, int traceback,
             lrk_runner run)
{
  int base;
#ifdef HAVE_READLINE
  char *hist = history_path();
  using_history();
  stifle_history(HISTORY_MAX);
  if (hist) read_history(hist);
#endif
  lua_getglobal(L, "require");
  lua_pushliteral(L, "radiokin");
  if (!run(L, 1, 1, traceback)) return 0;
  lua_setglobal(L, "rk");
  printf("radiokin %s (%s): rk = require \"radiokin\" is loaded; "
         "end with Ctrl-D\n", PACKAGE_VERSION, LUA_RELEASE);
  base = lua_gettop(L);
  for (;;) {
    char *line = read_line("> ");
    int rc;
    if (!line) break;
    if (!line[strspn(line, " \t")]) {  /* an empty line: nothing to do */
      free(line);
      continue;
    }
    rc = load_input(L, line);
    if (rc < 0) break;
#ifdef HAVE_READLINE
    add_history(lua_tostring(L, -1));
#endif
    lua_pop(L, 1);                     /* the text */
    if (rc != LUA_OK) {
      fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
      lua_settop(L, base);
      continue;
    }
    if (run(L, 0, LUA_MULTRET, traceback) && lua_gettop(L) > base) {
      int n = lua_gettop(L) - base;
      luaL_checkstack(L, 1, "too many results to print");
      lua_getglobal(L, "print");
      lua_insert(L, base + 1);
      run(L, n, 0, traceback);
    }
    lua_settop(L, base);
  }
  putchar('\n');
#ifdef HAVE_READLINE
  if (hist) {
    write_history(hist);
    history_truncate_file(hist, HISTORY_MAX);
    free(hist);
  }
#endif
  (void)progname;
  return 1;
}
