/* radiokin.c - the `radiokin` executable: runs a Lua script with the
 * radiokin modules preloaded, text-only loading and strict globals; with
 * no script, an interactive prompt on a terminal (dsl/repl.c), else the
 * script read from standard input. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/init.h"
#include "lrk.h"
#include "lrk_dist.h"
#include "modules.h"
#include "repl.h"

static const char *progname = "radiokin";

static void usage(FILE *f)
{
  fprintf(f,
    "usage: %s [--traceback] script.lua [args...]\n"
    "       %s [--traceback] - [args...]     (the script from stdin)\n"
    "       %s                               (interactive prompt)\n"
    "       %s --version | --help\n"
    "\n"
    "Runs a Lua script with the radiokin modules available\n"
    "(local rk = require \"radiokin\"). The script's arguments are in the\n"
    "global table `arg` (arg[0] is the script) and in `...`.\n"
    "With no script: on a terminal, an interactive prompt with rk loaded\n"
    "(line editing and history when built with readline; globals are not\n"
    "strict there); otherwise the script is read from standard input.\n"
    "Scripts are loaded as text only; reading or assigning an undeclared\n"
    "global is an error (use local, or rawset(_G, name, value)).\n"
    "On error the message is printed as 'radiokin: file:line: message' and\n"
    "the exit status is 1; --traceback (or RADIOKIN_TRACEBACK=1) adds the\n"
    "Lua stack traceback.\n", progname, progname, progname, progname);
}

/* ------------------------------------------------------ text-only loads */

/* load(chunk [, chunkname [, mode [, env]]]) with mode forced to "t".
 * Upvalue 1: the standard load. */
static int text_load(lua_State *L)
{
  const char *mode = luaL_optstring(L, 3, "t");
  if (strchr(mode, 'b'))
    return lrk_error(L, "load: binary chunks are not allowed (mode '%s')",
                     mode);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  /* Keep env absent when absent: load tells nil env from no env. */
  if (lua_gettop(L) < 4) lua_settop(L, 4);
  lua_pushliteral(L, "t");
  lua_replace(L, 4);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* loadfile([filename [, mode [, env]]]) with mode forced to "t". */
static int text_loadfile(lua_State *L)
{
  const char *mode = luaL_optstring(L, 2, "t");
  if (strchr(mode, 'b'))
    return lrk_error(L,
                     "loadfile: binary chunks are not allowed (mode '%s')",
                     mode);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  if (lua_gettop(L) < 3) lua_settop(L, 3);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static int text_dofile(lua_State *L)
{
  const char *fname = luaL_optstring(L, 1, NULL);
  lua_settop(L, 1);
  if (luaL_loadfilex(L, fname, "t") != LUA_OK) return lua_error(L);
  lua_call(L, 0, LUA_MULTRET);
  return lua_gettop(L) - 1;
}

/* package.searchers[2] replacement: Lua files found on package.path, loaded
 * as text. Returns the loader and the file name, or a "no file" string. */
static int text_searcher(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  const char *file;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchpath");
  lua_pushstring(L, name);
  lua_getfield(L, -3, "path");
  lua_call(L, 2, 2);
  if (lua_isnil(L, -2)) return 1;   /* the "no file ..." message */
  lua_pop(L, 1);
  file = lua_tostring(L, -1);
  if (luaL_loadfilex(L, file, "t") != LUA_OK)
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s",
                      name, file, lua_tostring(L, -1));
  lua_insert(L, -2);
  return 2;
}

static void install_text_loaders(lua_State *L)
{
  lua_getglobal(L, "load");
  lua_pushcclosure(L, text_load, 1);
  lua_setglobal(L, "load");
  lua_getglobal(L, "loadfile");
  lua_pushcclosure(L, text_loadfile, 1);
  lua_setglobal(L, "loadfile");
  lua_pushcfunction(L, text_dofile);
  lua_setglobal(L, "dofile");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_pushcfunction(L, text_searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}

/* ------------------------------------------------------- strict globals */

static int strict_index(lua_State *L)
{
  return lrk_error(L, "undeclared global '%s' (a typo? declare it with "
                   "local)", luaL_tolstring(L, 2, NULL));
}

static int strict_newindex(lua_State *L)
{
  return lrk_error(L, "assignment to undeclared global '%s' (use local, "
                   "or rawset(_G, name, value) for a real global)",
                   luaL_tolstring(L, 2, NULL));
}

static void make_globals_strict(lua_State *L)
{
  lua_pushglobaltable(L);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, strict_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, strict_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

/* ------------------------------------------------------------ running */

/* Message handler: returns the message and keeps the traceback in the
 * registry, so the message prints alone unless a traceback is wanted. */
static int msghandler(lua_State *L)
{
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)",
                            luaL_typename(L, 1));
  }
  lua_pushstring(L, msg);
  luaL_traceback(L, L, NULL, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "radiokin.traceback");
  return 1;
}

/* arg[0] = script, arg[1..] = its arguments, arg[-k] = what came before. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
  int i;
  lua_createtable(L, argc - script - 1, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

typedef struct {
  int argc;
  char **argv;
  int script;       /* index of the script in argv ("-": stdin) */
  int traceback;
  int interactive;  /* no script and stdin a terminal: the prompt */
} run_args;

/* Runs the function on top of the stack (with nargs arguments above it)
 * under the message handler; prints an error as "radiokin: message"
 * (and the traceback when asked). Returns 1 when it ran without error. */
static int run_protected(lua_State *L, int nargs, int nresults,
                         int traceback)
{
  int base = lua_gettop(L) - nargs, rc;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  rc = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (lrk_dist_size() > 1)
      fprintf(stderr, "%s (rank %d of %d): %s\n", progname, lrk_dist_rank(),
              lrk_dist_size(), msg ? msg : "(no message)");
    else
      fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(no message)");
    /* A memory error bypasses the handler: then there is no traceback. */
    if (traceback &&
        lua_getfield(L, LUA_REGISTRYINDEX, "radiokin.traceback") ==
        LUA_TSTRING)
      fprintf(stderr, "%s\n", lua_tostring(L, -1));
    fflush(stderr);
    lua_settop(L, base - 1);
    return 0;
  }
  return 1;
}

static int pmain(lua_State *L)
{
  run_args *a = lua_touserdata(L, 1);
  const char *script = a->interactive ? NULL : a->argv[a->script];
  int i, nargs;

  luaL_checkversion(L);
  luaL_openlibs(L);
  install_text_loaders(L);
  lrk_install_preloads(L);
  if (a->interactive) {
    lua_pushboolean(L, lrk_repl(L, progname, a->traceback, run_protected));
    return 1;
  }
  create_arg_table(L, a->argv, a->argc, a->script);
  make_globals_strict(L);

  /* "-": the script from standard input (chunk name "=stdin"). */
  if (luaL_loadfilex(L, strcmp(script, "-") ? script : NULL, "t") !=
      LUA_OK) {
    fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
    lua_pushboolean(L, 0);
    return 1;
  }
  nargs = a->argc - a->script - 1;
  luaL_checkstack(L, nargs, "too many arguments to script");
  for (i = a->script + 1; i < a->argc; i++) lua_pushstring(L, a->argv[i]);
  lua_pushboolean(L, run_protected(L, nargs, 0, a->traceback));
  return 1;
}

int main(int argc, char **argv)
{
  run_args a;
  lua_State *L;
  int rc, ok, i = 1;
  const char *env = getenv("RADIOKIN_TRACEBACK");

  rkin_init();
  memset(&a, 0, sizeof a);
  a.traceback = env && *env && strcmp(env, "0") != 0;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--version") == 0) {
      printf("radiokin %s (%s)\n", PACKAGE_VERSION, LUA_RELEASE);
      return 0;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--traceback") == 0) {
      a.traceback = 1;
    } else if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else if (strcmp(argv[i], "-") == 0) {
      break;                          /* the script from stdin */
    } else {
      fprintf(stderr, "%s: unknown option '%s' (try %s --help)\n", progname,
              argv[i], progname);
      return 1;
    }
  }
  a.argc = argc;
  a.argv = argv;
  if (i >= argc) {
    /* No script: the prompt on a terminal, else the script from stdin
     * (as `radiokin -`), so `echo 'print(1)' | radiokin` runs. */
    static char dash[] = "-";
    static char *stdin_argv[2] = {NULL, dash};
    if (isatty(0)) {
      a.interactive = 1;
    } else {
      stdin_argv[0] = argv[0];
      a.argc = 2;
      a.argv = stdin_argv;
      i = 1;
    }
  }
  a.script = i;

  /* Under mpirun / srun: one of the job's ranks. Only rank 0 prints to
   * standard output (an unchanged script prints its results once);
   * RADIOKIN_MPI_STDOUT=all keeps every rank's. */
  {
    rkin_err err;
    const char *all = getenv("RADIOKIN_MPI_STDOUT");
    int ac = argc;
    char **av = argv;       /* MPI may edit its copy; the script's stays */
    if (lrk_dist_init(&ac, &av, &err)) {
      fprintf(stderr, "%s: %s\n", progname, err.msg);
      return 1;
    }
    if (lrk_dist_rank() != 0 && !(all && strcmp(all, "all") == 0) &&
        !freopen("/dev/null", "w", stdout)) {
      fprintf(stderr, "%s: rank %d: cannot silence standard output\n",
              progname, lrk_dist_rank());
      lrk_dist_finalize(0);
      return 1;
    }
  }
  L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "%s: cannot create a Lua state: out of memory\n",
            progname);
    lrk_dist_finalize(0);
    return 1;
  }
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &a);
  rc = lua_pcall(L, 1, 1, 0);
  ok = rc == LUA_OK && lua_toboolean(L, -1);
  if (rc != LUA_OK)
    fprintf(stderr, "%s: %s\n", progname,
            lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no message)");
  lua_close(L);
  lrk_dist_finalize(ok);
  return ok ? 0 : 1;
}
