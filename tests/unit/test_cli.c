/* test_cli.c - the radiokin executable and the radiokin.so Lua module, run
 * as a user would, through posix_spawn (no shell): a script on standard
 * input (`radiokin -`, and `radiokin` with stdin not a terminal), the
 * interactive prompt on a pseudo-terminal, and `require "radiokin"` in
 * Debian's lua5.4 with LUA_CPATH pointing at the build tree (skipped when
 * lua5.4 is not installed). RADIOKIN_BUILDDIR names the build tree
 * (default "."). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"

extern char **environ;

static char builddir[4096];
static char exe[4200];

/* Writes text to a new temporary file; returns its path (static slot k). */
static const char *temp_with(int k, const char *text)
{
  static char path[4][64];
  int fd;
  snprintf(path[k], sizeof path[k], "/tmp/rk_test_cli_XXXXXX");
  fd = mkstemp(path[k]);
  if (fd < 0) return NULL;
  if (text && write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
    close(fd);
    return NULL;
  }
  close(fd);
  return path[k];
}

static void slurp(const char *path, char *buf, size_t size)
{
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, size - 1, f) : 0;
  buf[n] = '\0';
  if (f) fclose(f);
}

/* Runs argv (searched on PATH when `search`) with stdin from `input`,
 * stdout and stderr captured. Returns the exit status, -1 when it could
 * not be started (errno-like code in *spawn_err). */
static int run(char *const argv[], char *const envp[], const char *input,
               char *out, size_t nout, char *err, size_t nerr, int search,
               int *spawn_err)
{
  posix_spawn_file_actions_t fa;
  const char *in = temp_with(0, input), *o = temp_with(1, ""),
             *e = temp_with(2, "");
  pid_t pid;
  int rc, status = -1;
  *spawn_err = 0;
  if (!in || !o || !e) return -1;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, o, O_WRONLY | O_TRUNC, 0);
  posix_spawn_file_actions_addopen(&fa, 2, e, O_WRONLY | O_TRUNC, 0);
  rc = search ? posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp)
              : posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  if (rc == 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
    status = WEXITSTATUS(status);
  else if (rc == 0)
    status = -2;
  *spawn_err = rc;
  slurp(o, out, nout);
  slurp(e, err, nerr);
  unlink(in);
  unlink(o);
  unlink(e);
  return rc ? -1 : status;
}

/* ------------------------------------------------ the script on stdin */

static void test_stdin(void)
{
  char out[8192], err[8192];
  int se, st;
  char *dash[] = {exe, "-", "a", "b", NULL};
  char *none[] = {exe, NULL};

  st = run(dash, environ, "print(1 + 1)\nprint(arg[0], ...)\n", out,
           sizeof out, err, sizeof err, 0, &se);
  is_int(st, 0, "radiokin - : runs the script from stdin, exit 0");
  ok(strcmp(out, "2\n-\ta\tb\n") == 0, "... output 2, then arg[0] '-' and the "
         "arguments in ...");

  st = run(none, environ, "local rk = require \"radiokin\"\n"
           "print(rk.nuclide(\"Lu-177\").half_life_h > 150)\n", out,
           sizeof out, err, sizeof err, 0, &se);
  is_int(st, 0, "radiokin with no script and stdin not a terminal: the "
         "script from stdin");
  ok(strcmp(out, "true\n") == 0, "... with the radiokin modules");

  st = run(none, environ, "error(\"boom\")\n", out, sizeof out, err,
           sizeof err, 0, &se);
  is_int(st, 1, "an error in the stdin script: exit 1");
  like(err, "radiokin: stdin:1: boom", "... message names stdin and line");

  st = run(none, environ, "x = 1\n", out, sizeof out, err, sizeof err, 0,
           &se);
  ok(st == 1 && strstr(err, "undeclared global 'x'") != NULL,
     "strict globals hold for a script from stdin");
}

/* ------------------------------------------- the prompt on a terminal */

/* Reads from the master into buf (appending) until `want` appears or the
 * deadline passes; returns whether it appeared. */
static int expect(int fd, char *buf, size_t size, size_t *len,
                  const char *want, int seconds)
{
  time_t end = time(NULL) + seconds;
  while (!strstr(buf, want) && time(NULL) < end) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    if (poll(&p, 1, 200) <= 0) continue;
    if (*len + 1 >= size) return 0;
    n = read(fd, buf + *len, size - *len - 1);
    if (n <= 0) return strstr(buf, want) != NULL;
    *len += (size_t)n;
    buf[*len] = '\0';
  }
  return strstr(buf, want) != NULL;
}

static void say(int fd, const char *s)
{
  if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
    diag("short write to the terminal");
}

static void test_prompt(void)
{
  static char buf[65536];
  size_t len = 0;
  int master, status = -1, se;
  const char *slave;
  posix_spawn_file_actions_t fa;
  pid_t pid;
  char *argv[] = {exe, NULL};
  const char *lines[] = {"40 + 2\n", "t = {\n", "5, 6, 7 }\n",
                         "#t * 11\n", "rk.version\n", "error('oops')\n",
                         NULL};
  int k;

  master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) || unlockpt(master) ||
      !(slave = ptsname(master))) {
    skip(6, "no pseudo-terminal");
    return;
  }
  setenv("TERM", "dumb", 1);
  setenv("HOME", "/nonexistent", 1);    /* no history file written */
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, slave, O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&fa, 0, 1);
  posix_spawn_file_actions_adddup2(&fa, 0, 2);
  se = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (se) {
    skip(6, "cannot start radiokin on a terminal");
    close(master);
    return;
  }
  ok(expect(master, buf, sizeof buf, &len, "> ", 20),
     "the prompt starts on a terminal");
  like(buf, "rk = require \"radiokin\" is loaded", "... with rk loaded");
  /* One line at a time, each after the prompt that asks for it (">> "
   * after an incomplete statement). */
  for (k = 0; lines[k]; k++) {
    say(master, lines[k]);
    expect(master, buf, sizeof buf, &len, k == 1 ? ">> " : "\n> ", 20);
  }
  say(master, "\004");                  /* Ctrl-D: end of input */
  expect(master, buf, sizeof buf, &len, "\n\n", 5);
  {
    time_t end = time(NULL) + 20;
    while (waitpid(pid, &status, WNOHANG) == 0 && time(NULL) < end) {
      char tmp[256];
      struct pollfd p = {master, POLLIN, 0};
      if (poll(&p, 1, 100) > 0 && read(master, tmp, sizeof tmp) <= 0) break;
    }
    if (waitpid(pid, &status, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
  close(master);
  like(buf, "42\r\n", "an expression prints its value (40 + 2 -> 42)");
  like(buf, "33\r\n", "a statement over two lines, a global kept (#t * 11)");
  like(buf, "0.1.0\r\n", "rk is a global at the prompt (rk.version)");
  ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
     strstr(buf, "oops") != NULL,
     "an error is printed and the prompt goes on; Ctrl-D ends it, exit 0");
  if (tap_failed || getenv("RK_TEST_CLI_SHOW")) diag("terminal output:\n%s", buf);
}

/* -------------------------------------- radiokin.so in the system Lua */

/* In a sanitizer build (CFLAGS -fsanitize=address) radiokin.so needs the
 * ASan runtime loaded first, which the system lua5.4 does not do: find the
 * runtime this test was linked with and preload it. */
static char asan_path[4096];
static int find_asan(struct dl_phdr_info *info, size_t size, void *ud)
{
  (void)size;
  (void)ud;
  if (info->dlpi_name && strstr(info->dlpi_name, "/libasan.so")) {
    snprintf(asan_path, sizeof asan_path, "%s", info->dlpi_name);
    return 1;
  }
  return 0;
}

static void test_lua_module(void)
{
  char out[8192], err[8192], cpath[4300], *envp[64];
  int se, st, n = 0, k;
  char *argv[] = {"lua5.4", "-e",
    "local rk = require 'radiokin'\n"
    "local m = rk.model { name = 'one', states = { 'A' },\n"
    "  params = { k = 0.1 },\n"
    "  ode = function(s, p) return { A = -p.k * s.A } end }\n"
    "local r = m:simulate { doses = { { time = 0, amount = 100, to = 'A' } },\n"
    "  times = { 0, 10 }, tia = { 'A' }, path = 'exact' }\n"
    "print(('%.15g %.15g'):format(r.A[2], r.tia.A))\n"
    "print(package.loaded.radiokin == rk, type(require 'radiokin.tap'),\n"
    "  rk.nuclide('Lu-177').name)\n",
    NULL};
  snprintf(cpath, sizeof cpath, "LUA_CPATH=%s/.libs/?.so", builddir);
  envp[n++] = cpath;
  envp[n++] = "LUA_PATH=;;";
  dl_iterate_phdr(find_asan, NULL);
#if defined(__SANITIZE_ADDRESS__)
#define RK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RK_ASAN 1
#endif
#endif
#ifdef RK_ASAN
  if (!asan_path[0]) {
    /* clang links its ASan runtime into the executable: a sanitized
     * radiokin.so cannot be loaded by the uninstrumented lua5.4 */
    skip(3, "sanitizer build with a static ASan runtime: radiokin.so is "
         "not loadable from the system lua5.4");
    return;
  }
#endif
  if (asan_path[0]) {
    static char preload[4200];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", asan_path);
    envp[n++] = preload;
    /* the interpreter itself is not instrumented: its leaks are not ours */
    envp[n++] = "ASAN_OPTIONS=detect_leaks=0";
  }
  for (k = 0; environ[k] && n < 62; k++)
    if (strncmp(environ[k], "LUA_", 4) != 0 &&
        strncmp(environ[k], "LD_PRELOAD=", 11) != 0 &&
        !(asan_path[0] && strncmp(environ[k], "ASAN_OPTIONS=", 13) == 0))
      envp[n++] = environ[k];
  envp[n] = NULL;
  st = run(argv, envp, "", out, sizeof out, err, sizeof err, 1, &se);
  if (st == -1 && se == ENOENT) {
    skip(3, "lua5.4 is not installed (Debian package lua5.4)");
    return;
  }
  is_int(st, 0, "lua5.4 -e 'local rk = require \"radiokin\"' with "
         "LUA_CPATH=<build>/.libs/?.so: exit 0");
  if (st) diag("stderr: %s", err);
  {
    double a = 0, tia = 0;
    sscanf(out, "%lf %lf", &a, &tia);
    /* A(10) = 100 e^-1; TIA = 100 (1 - e^-1) / 0.1, exact. */
    ok(fabs(a / (100 * exp(-1.0)) - 1) < 1e-12 &&
       fabs(tia / (1000 * (1 - exp(-1.0))) - 1) < 1e-12,
       "a one-compartment model solved in lua5.4: A(10) and TIA exact to "
       "1e-12 (got %s)", strtok(out, "\n"));
  }
  like(out + strlen(out) + 1, "true\ttable\tLu-177",
       "package.loaded.radiokin is rk; radiokin.tap and rk.nuclide load");
}

int main(void)
{
  const char *b = getenv("RADIOKIN_BUILDDIR");
  snprintf(builddir, sizeof builddir, "%s", b && *b ? b : ".");
  snprintf(exe, sizeof exe, "%s/radiokin", builddir);
  plan(7 + 6 + 3);
  test_stdin();
  test_prompt();
  test_lua_module();
  return exit_status();
}
