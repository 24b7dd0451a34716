/* l_spawn.c - running a program without a shell, for "radiokin.core":
 * rk.run (a fixed argument vector, text on its standard input, its output
 * captured), rk.gnuplot (gnuplot fed its commands and data blocks on
 * standard input) and rk.gnuplot_quote (a string literal gnuplot does not
 * interpret). Nothing here goes through /bin/sh, so no path or data value
 * can become a shell command. */
#define _GNU_SOURCE 1   /* pipe2, posix_spawn_file_actions_addclosefrom_np */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"

extern char **environ;

/* Captured output beyond this is dropped (the program is still drained):
 * a small input cannot make radiokin hold unbounded memory. */
#define CAPTURE_MAX (16u << 20)
/* rk.gnuplot stops a gnuplot that runs longer (a "pause -1" in a user's
 * script, an interactive terminal). */
#define GNUPLOT_TIMEOUT_S 300.0

/* A growing byte buffer (plain C: run_program calls no Lua function, so
 * nothing can raise while the child runs). */
typedef struct {
  char *p;
  size_t n, cap;
  int truncated;
} capture;

static void keep(capture *c, const char *p, size_t n)
{
  size_t room = c->n < CAPTURE_MAX ? CAPTURE_MAX - c->n : 0;
  if (n > room) {
    n = room;
    c->truncated = 1;
  }
  if (c->n + n > c->cap) {
    size_t cap = c->cap ? c->cap : 4096;
    char *q;
    while (cap < c->n + n) cap *= 2;
    q = realloc(c->p, cap);
    if (!q) {
      c->truncated = 1;
      return;
    }
    c->p = q;
    c->cap = cap;
  }
  memcpy(c->p + c->n, p, n);
  c->n += n;
}

/* A pipe whose ends are not inherited by the child (its dup2 copies are),
 * both above 2: if radiokin was started with 0, 1 or 2 closed, a pipe end
 * there would be overwritten by the child's dup2 onto it. */
static int cloexec_pipe(int fd[2])
{
  int k;
  if (pipe2(fd, O_CLOEXEC) != 0) return -1;
  for (k = 0; k < 2; k++)
    if (fd[k] <= 2) {
      int hi = fcntl(fd[k], F_DUPFD_CLOEXEC, 3);
      if (hi < 0) {
        close(fd[0]);
        close(fd[1]);
        fd[0] = fd[1] = -1;
        return -1;
      }
      close(fd[k]);
      fd[k] = hi;
    }
  return 0;
}

/* Runs argv[0] (looked up in PATH) with `in` on its standard input;
 * collects stdout and stderr into co and ce (zeroed by the caller, freed
 * by the caller).
 * Returns the exit status (128 + signal number when killed), or -1 with
 * *why set (an errno) when the program could not be started. */
static int run_program(char *const argv[], const char *in, size_t in_len,
                       double timeout_s, capture *co, capture *ce, int *why)
{
  int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t def;
  struct sigaction ign, old, dfl, oldchld;
  struct timespec t0, now;
  pid_t pid;
  int rc, status = 0, open_fds, timed_out = 0;
  size_t sent = 0;
  char buf[65536];

  if (cloexec_pipe(pin) != 0 || cloexec_pipe(pout) != 0 ||
      cloexec_pipe(perr) != 0) {
    *why = errno;
    for (rc = 0; rc < 2; rc++) {
      if (pin[rc] >= 0) close(pin[rc]);
      if (pout[rc] >= 0) close(pout[rc]);
      if (perr[rc] >= 0) close(perr[rc]);
    }
    return -1;
  }
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
  posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
  posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
  /* no other descriptor of radiokin (a Lua file, say) reaches the child */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  /* SIGPIPE is ignored here while feeding the child (a child that exits
   * early must not kill radiokin); the child gets the default back. */
  posix_spawnattr_init(&attr);
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, &old);
  /* with SIGCHLD ignored (inherited), the child would be reaped by the
   * kernel and its exit status lost: default while it runs */
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGCHLD, &dfl, &oldchld);
  clock_gettime(CLOCK_MONOTONIC, &t0);

  rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(pin[0]);
  close(pout[1]);
  close(perr[1]);
  if (rc != 0) {
    close(pin[1]);
    close(pout[0]);
    close(perr[0]);
    sigaction(SIGPIPE, &old, NULL);
    sigaction(SIGCHLD, &oldchld, NULL);
    *why = rc;
    return -1;
  }
  if (in_len == 0) {
    close(pin[1]);
    pin[1] = -1;
  } else {
    fcntl(pin[1], F_SETFL, fcntl(pin[1], F_GETFL) | O_NONBLOCK);
  }
  open_fds = 2;
  while (open_fds > 0 || pin[1] >= 0) {
    struct pollfd p[3];
    int np = 0, k;
    if (pout[0] >= 0) p[np++] = (struct pollfd){pout[0], POLLIN, 0};
    if (perr[0] >= 0) p[np++] = (struct pollfd){perr[0], POLLIN, 0};
    if (pin[1] >= 0) p[np++] = (struct pollfd){pin[1], POLLOUT, 0};
    {
      int wait_ms = -1, pr;
      if (timeout_s > 0) {
        double left;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = timeout_s - ((double)(now.tv_sec - t0.tv_sec)
                            + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec));
        if (left <= 0) {            /* a program that does not finish */
          kill(pid, SIGKILL);
          timed_out = 1;
          break;
        }
        wait_ms = left > 1e6 ? 1000000000 : (int)(left * 1000) + 1;
      }
      pr = poll(p, (nfds_t)np, wait_ms);
      if (pr < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (pr == 0) continue;
    }
    for (k = 0; k < np; k++) {
      if (!p[k].revents) continue;
      if (p[k].fd == pin[1]) {
        ssize_t w = write(pin[1], in + sent, in_len - sent);
        if (w > 0) sent += (size_t)w;
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == in_len) {
          close(pin[1]);   /* done, or the child stopped reading */
          pin[1] = -1;
        }
      } else {
        ssize_t r = read(p[k].fd, buf, sizeof buf);
        if (r > 0) {
          keep(p[k].fd == pout[0] ? co : ce, buf, (size_t)r);
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          if (p[k].fd == pout[0]) pout[0] = -1;
          else perr[0] = -1;
          close(p[k].fd);
          open_fds--;
        }
      }
    }
  }
  if (pin[1] >= 0) close(pin[1]);
  if (pout[0] >= 0) close(pout[0]);
  if (perr[0] >= 0) close(perr[0]);
  {
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    sigaction(SIGPIPE, &old, NULL);
    sigaction(SIGCHLD, &oldchld, NULL);
    if (w < 0) {                    /* the status is unknown: not success */
      *why = errno;
      return -1;
    }
  }
  if (timed_out) {
    *why = ETIMEDOUT;
    return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

static void push_capture(lua_State *L, capture *c)
{
  if (c->truncated) {
    lua_pushlstring(L, c->p ? c->p : "", c->n);
    lua_pushliteral(L, "\n[output truncated]\n");
    lua_concat(L, 2);
  } else {
    lua_pushlstring(L, c->p ? c->p : "", c->n);
  }
  free(c->p);
  c->p = NULL;
}

/* Runs argv with `in`; pushes status, stdout, stderr, or nil and a
 * message naming the program when it cannot be started. Returns the
 * number of values pushed. */
static int run_push(lua_State *L, char *const argv[], const char *in,
                    size_t in_len, double timeout_s)
{
  capture co = {NULL, 0, 0, 0}, ce = {NULL, 0, 0, 0};
  int why = 0, st = run_program(argv, in, in_len, timeout_s, &co, &ce, &why);
  if (st < 0) {
    free(co.p);
    free(ce.p);
    lua_pushnil(L);
    if (why == ETIMEDOUT)
      lua_pushfstring(L, "'%s' did not finish within %f s: stopped", argv[0],
                      timeout_s);
    else
      lua_pushfstring(L, "cannot run '%s': %s", argv[0], strerror(why));
    return 2;
  }
  lua_pushinteger(L, st);
  push_capture(L, &co);
  push_capture(L, &ce);
  return 3;
}

/* rk.run(argv [, input [, timeout_s]]) -> status, stdout, stderr; or nil,
 * message when the program cannot be started, or was stopped after
 * timeout_s seconds (none by default). argv is an array of strings,
 * argv[1] the program (searched in PATH); no shell is involved. */
int lrk_core_run(lua_State *L)
{
  size_t n, k, in_len = 0, alen;
  const char *in = NULL;
  char **argv;
  double timeout_s = luaL_optnumber(L, 3, 0);
  if (!(timeout_s >= 0) || !isfinite(timeout_s))
    return lrk_error(L, "rk.run: timeout_s must be a number of seconds >= 0 "
                     "(0: none) (got %s)", lrk_got(L, 3));
  if (lua_type(L, 1) != LUA_TTABLE)
    return lrk_error(L, "rk.run: expected an array of strings (the program "
                     "and its arguments) (got %s)", lrk_got(L, 1));
  if (!lua_isnoneornil(L, 2)) {
    if (lua_type(L, 2) != LUA_TSTRING)
      return lrk_error(L, "rk.run: input must be a string (got %s)",
                       lrk_got(L, 2));
    in = lua_tolstring(L, 2, &in_len);
  }
  n = (size_t)lua_rawlen(L, 1);
  if (n == 0) return lrk_error(L, "rk.run: argv must name a program");
  argv = lrk_scratch(L, n + 1, sizeof *argv);
  for (k = 0; k < n; k++) {
    lua_rawgeti(L, 1, (lua_Integer)k + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      return lrk_error(L, "rk.run: argv[%d] must be a string (got %s)",
                       (int)k + 1, lrk_got(L, -1));
    argv[k] = (char *)lua_tolstring(L, -1, &alen);  /* alive in the table */
    if (strlen(argv[k]) != alen)
      return lrk_error(L, "rk.run: argv[%d] holds a NUL byte (it would be "
                       "cut there)", (int)k + 1);
    lua_pop(L, 1);
  }
  argv[n] = NULL;
  return run_push(L, argv, in, in_len, timeout_s);
}

/* Adds s as a gnuplot single-quoted string literal: inside single quotes
 * gnuplot expands no backquote command and no macro and knows no escape
 * but '' for a quote. Control characters (a newline would end the
 * command) become spaces. */
static void add_quoted(luaL_Buffer *b, const char *s, size_t len)
{
  size_t k;
  luaL_addchar(b, '\'');
  for (k = 0; k < len; k++) {
    unsigned char c = (unsigned char)s[k];
    if (c == '\'') luaL_addstring(b, "''");
    else if (c < 0x20 || c == 0x7f) luaL_addchar(b, ' ');
    else luaL_addchar(b, (char)c);
  }
  luaL_addchar(b, '\'');
}

/* rk.gnuplot_quote(s [, path]) -> 's' (see add_quoted). With path true,
 * s is a file name: a control character in it raises instead (turned
 * into a space, gnuplot would write another file), and a relative name
 * gets "./" in front (never a '|' pipe, '<' command or '~' home). */
int lrk_core_gnuplot_quote(lua_State *L)
{
  size_t len, k;
  const char *s;
  luaL_Buffer b;
  if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER)
    return lrk_error(L, "rk.gnuplot_quote: expected a string (got %s)",
                     lrk_got(L, 1));
  s = lua_tolstring(L, 1, &len);
  if (lua_toboolean(L, 2))
    for (k = 0; k < len; k++)
      if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
        return lrk_error(L, "rk.gnuplot_quote: file name '%s' holds a "
                         "control character (byte %d at %d): gnuplot "
                         "cannot be given it; choose another name", s,
                         (int)(unsigned char)s[k], (int)k + 1);
  if (lua_toboolean(L, 2) && s[0] != '/') {
    /* gnuplot opens a pipe to a shell for an output or input name that
     * starts with '|' (or '<'), and expands '~': "./" makes every
     * relative name a plain file name */
    lua_pushfstring(L, "./%s", s);
    s = lua_tolstring(L, -1, &len);
  }
  luaL_buffinit(L, &b);
  add_quoted(&b, s, len);
  luaL_pushresult(&b);
  return 1;
}

static int block_name_ok(const char *s)
{
  size_t k;
  if (!(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
        (s[0] >= 'a' && s[0] <= 'z')))
    return 0;
  for (k = 1; s[k]; k++)
    if (!(s[k] == '_' || (s[k] >= 'A' && s[k] <= 'Z') ||
          (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9')))
      return 0;
  return k <= 64;
}

/* The text fed to gnuplot, in a userdata (freed by its __gc when a raise
 * interrupts building it): unlike luaL_Buffer it leaves the stack free
 * for reading the blocks while it grows. */
#define TEXT_MT "radiokin.spawntext"

static int text_gc(lua_State *L)
{
  capture *t = lua_touserdata(L, 1);
  free(t->p);
  t->p = NULL;
  return 0;
}

static capture *text_new(lua_State *L)
{
  capture *t = lua_newuserdatauv(L, sizeof *t, 0);
  memset(t, 0, sizeof *t);
  if (luaL_newmetatable(L, TEXT_MT)) {
    lua_pushcfunction(L, text_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return t;
}

static void text_add(lua_State *L, capture *t, const char *p, size_t n)
{
  if (t->n + n > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    char *q;
    while (cap < t->n + n) cap *= 2;
    q = realloc(t->p, cap);
    if (!q) lrk_error(L, "rk.gnuplot: out of memory");
    t->p = q;
    t->cap = cap;
  }
  memcpy(t->p + t->n, p, n);
  t->n += n;
}

static void text_adds(lua_State *L, capture *t, const char *s)
{
  text_add(L, t, s, strlen(s));
}

/* Appends the data block at stack index v, named name, as
 * "$name << EOD" / rows of numbers / "EOD". Only numbers reach a block
 * (a non-finite one as NaN, which gnuplot treats as undefined), so no
 * data value can end the block or become a command. */
static void add_block(lua_State *L, capture *t, const char *name, int v)
{
  size_t r, nr, c, nc;
  char num[40];
  if (lua_type(L, v) != LUA_TTABLE)
    lrk_error(L, "rk.gnuplot: data block '%s' must be an array of rows "
              "(got %s)", name, lrk_got(L, v));
  text_adds(L, t, "$");
  text_adds(L, t, name);
  text_adds(L, t, " << EOD\n");
  nr = (size_t)lua_rawlen(L, v);
  for (r = 1; r <= nr; r++) {
    lua_rawgeti(L, v, (lua_Integer)r);
    if (lua_type(L, -1) != LUA_TTABLE)
      lrk_error(L, "rk.gnuplot: data block '%s' row %d must be an array of "
                "numbers (got %s)", name, (int)r, lrk_got(L, -1));
    nc = (size_t)lua_rawlen(L, -1);
    if (nc == 0)             /* a blank line would start a new data set */
      lrk_error(L, "rk.gnuplot: data block '%s' row %d is empty (a row "
                "needs at least one number)", name, (int)r);
    for (c = 1; c <= nc; c++) {
      double x;
      lua_rawgeti(L, -1, (lua_Integer)c);
      if (lua_type(L, -1) != LUA_TNUMBER)
        lrk_error(L, "rk.gnuplot: data block '%s' row %d column %d must be "
                  "a number (got %s); put text in the commands with "
                  "rk.gnuplot_quote", name, (int)r, (int)c, lrk_got(L, -1));
      x = lua_tonumber(L, -1);
      lua_pop(L, 1);
      if (isfinite(x)) snprintf(num, sizeof num, "%.17g", x);
      else snprintf(num, sizeof num, "NaN");
      if (c > 1) text_adds(L, t, " ");
      text_adds(L, t, num);
    }
    lua_pop(L, 1);
    text_adds(L, t, "\n");
  }
  text_adds(L, t, "EOD\n");
}

/* rk.gnuplot(commands [, blocks]) -> true, or nil and a message (gnuplot
 * missing, or its error output). blocks: {name = {{x, y, ...}, ...}},
 * defined before the commands as $name (sorted by name). gnuplot runs
 * without a shell and reads everything on its standard input. */
int lrk_core_gnuplot(lua_State *L)
{
  static char *const argv[] = {"gnuplot", NULL};
  size_t len, n = 0, k;
  const char *script, **names;
  capture *t;
  int st, nret;
  if (lua_type(L, 1) != LUA_TSTRING)
    return lrk_error(L, "rk.gnuplot: expected the commands as a string "
                     "(got %s)", lrk_got(L, 1));
  if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TTABLE)
    return lrk_error(L, "rk.gnuplot: data blocks must be a table name = "
                     "rows (got %s)", lrk_got(L, 2));
  lua_settop(L, 2);
  /* names first, sorted, so the text does not depend on table order */
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      n++;
      lua_pop(L, 1);
    }
  }
  names = lrk_scratch(L, n, sizeof *names);
  k = 0;
  if (n) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      if (lua_type(L, -2) != LUA_TSTRING ||
          !block_name_ok(lua_tostring(L, -2)))
        return lrk_error(L, "rk.gnuplot: a data block name must be a "
                         "letter or _ then letters, digits and _ (got %s)",
                         lua_type(L, -2) == LUA_TSTRING ?
                         lua_tostring(L, -2) : luaL_typename(L, -2));
      names[k++] = lua_tostring(L, -2);   /* alive as keys of blocks */
      lua_pop(L, 1);
    }
    qsort(names, n, sizeof *names, lrk_cmp_str);
  }
  t = text_new(L);
  for (k = 0; k < n; k++) {
    lua_getfield(L, 2, names[k]);
    add_block(L, t, names[k], lua_gettop(L));
    lua_pop(L, 1);
  }
  script = lua_tolstring(L, 1, &len);
  text_add(L, t, script, len);
  text_adds(L, t, "\n");
  /* gnuplot never waits for a person here (no pause in our scripts); a
   * plot that takes minutes is a fault, not work */
  nret = run_push(L, argv, t->p, t->n, GNUPLOT_TIMEOUT_S);
  if (nret == 2) {
    lua_pushfstring(L, "%s (install gnuplot, e.g. apt-get install "
                    "gnuplot-nox)", lua_tostring(L, -1));
    lua_remove(L, -2);
    return 2;
  }
  st = (int)lua_tointeger(L, -3);
  if (st != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "gnuplot failed (exit status %d): %s", st,
                    lua_tostring(L, -2));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}
