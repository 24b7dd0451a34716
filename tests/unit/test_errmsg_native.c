/* test_errmsg_native.c - the compiled-tape cache's messages
 * (engine/core/native.c) on crafted cache directories: a missing one,
 * no usable XDG_CACHE_HOME / HOME, paths too long, a folder that cannot
 * be made, a directory where the source file goes, a cached object that
 * is not a shared object, a cached object without the tape's function
 * (issue 22 item 3). Cached objects are named rk-<hash>.so by their
 * source: a first build in a scratch folder gives the name. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/init.h"
#include "core/expr.h"
#include "core/native.h"
#include "../tap.h"

static rkin_err err;

/* The one cached object's file name (no folder) in dir. */
static int object_name(const char *dir, char *name, size_t size)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".so")) {
      size_t len = strlen(e->d_name);
      n++;
      if (len < size) memcpy(name, e->d_name, len + 1);
      else n = -1000;  /* not a name the cache writes */
    }
  closedir(d);
  return n;
}

static void refused(rkin_tape **tp, size_t n, const char *dir,
                    const char *part, const char *what)
{
  rkin_native *nat;
  rkin_err_clear(&err);
  nat = rkin_native_build(tp, n, dir, &err);
  ok(nat == NULL, "%s: refused", what);
  like(err.msg, part, "... message: %s", part);
  rkin_native_free(nat);
}

/* Removes the files of dir (no subfolders are left there), then dir. */
static void remove_all(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[512];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
  if (d) closedir(d);
  rmdir(dir);
}

int main(void)
{
  rkin_graph *g;
  rkin_tape *one[1], *two[2];
  rkin_node y, p, out[1];
  rkin_native *nat;
  char base[] = "/tmp/rk_errmsg_native_XXXXXX";
  char d1[96], d2[96], d3[96], d4[96], d5[96], xdg[128];
  char so1[128] = "", so2[128] = "", path[512], want[640];
  char *longp;
  FILE *f;

  rkin_init();
  if (access("/usr/bin/cc", X_OK)) {
    printf("1..0 # SKIP no C compiler at /usr/bin/cc: no native code\n");
    return 0;
  }
  if (!mkdtemp(base)) {
    printf("Bail out! mkdtemp\n");
    return 1;
  }
  g = rkin_graph_new();
  y = rkin_expr_state(g, 0);
  p = rkin_expr_param(g, 0);
  out[0] = rkin_expr_binary(g, RKIN_OP_MUL, y, p);
  one[0] = two[0] = rkin_tape_compile(g, out, 1, &err);
  out[0] = rkin_expr_binary(g, RKIN_OP_ADD, y, p);
  two[1] = rkin_tape_compile(g, out, 1, &err);
  if (!one[0] || !two[1]) {
    printf("Bail out! tapes: %s\n", err.msg);
    return 1;
  }
  snprintf(d1, sizeof d1, "%s/one", base);
  snprintf(d2, sizeof d2, "%s/two", base);
  snprintf(d3, sizeof d3, "%s/junk", base);
  snprintf(d4, sizeof d4, "%s/lacks", base);
  snprintf(d5, sizeof d5, "%s/srcdir", base);
  mkdir(d1, 0700);
  mkdir(d2, 0700);
  mkdir(d3, 0700);
  mkdir(d4, 0700);
  mkdir(d5, 0700);

  /* the names of the objects of one tape and of two */
  nat = rkin_native_build(one, 1, d1, &err);
  ok(nat != NULL, "one tape compiles (%s)", nat ? "ok" : err.msg);
  rkin_native_free(nat);
  nat = rkin_native_build(two, 2, d2, &err);
  ok(nat != NULL, "two tapes compile (%s)", nat ? "ok" : err.msg);
  rkin_native_free(nat);
  ok(object_name(d1, so1, sizeof so1) == 1 &&
     object_name(d2, so2, sizeof so2) == 1 && strcmp(so1, so2),
     "one object each, named apart (%s, %s)", so1, so2);

  /* a file that is no shared object in the object's place */
  snprintf(path, sizeof path, "%s/%s", d3, so1);
  if ((f = fopen(path, "w"))) {
    fputs("not an ELF object\n", f);
    fclose(f);
  }
  chmod(path, 0600);
  snprintf(want, sizeof want, "native code: cannot load %s: ", path);
  refused(one, 1, d3, want, "a cached object that is not a shared object");

  /* the one-tape object under the two-tape name: rk_f1 is missing */
  {
    char from[512];
    snprintf(from, sizeof from, "%s/%s", d1, so1);
    snprintf(path, sizeof path, "%s/%s", d4, so2);
    if (link(from, path)) {
      FILE *a = fopen(from, "rb"), *b = fopen(path, "wb");
      int c;
      while (a && b && (c = fgetc(a)) != EOF) fputc(c, b);
      if (a) fclose(a);
      if (b) fclose(b);
      chmod(path, 0600);
    }
  }
  snprintf(want, sizeof want, "native code: %s lacks rk_f1", path);
  refused(two, 2, d4, want, "a cached object without the second tape's "
          "function");

  /* a directory where the source file is written */
  {
    char stem[128];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(so1) - 3), so1);
    snprintf(path, sizeof path, "%s/%s-%ld.c", d5, stem, (long)getpid());
    mkdir(path, 0700);
    snprintf(want, sizeof want, "native code: cannot create %s: File exists",
             path);
    refused(one, 1, d5, want, "a directory in the source file's place");
    rmdir(path);
  }

  refused(one, 1, "/nonexistent/rk", "native code: cache directory "
          "/nonexistent/rk: No such file or directory",
          "a missing cache directory");
  longp = malloc(5001);
  if (longp) {
    memset(longp, 'a', 5000);
    longp[0] = '/';
    longp[5000] = '\0';
    refused(one, 1, longp, "native code: cache path too long",
            "a 5000-character cache directory");
  }

  /* the default folder: $XDG_CACHE_HOME/radiokin, else
   * $HOME/.cache/radiokin */
  setenv("XDG_CACHE_HOME", "relative/cache", 1);
  setenv("HOME", "relative", 1);
  refused(one, 1, NULL, "native code: neither XDG_CACHE_HOME nor HOME is "
          "an absolute path; give a cache directory", "no absolute "
          "XDG_CACHE_HOME or HOME");
  if (longp) {
    setenv("XDG_CACHE_HOME", longp, 1);
    refused(one, 1, NULL, "native code: cache path too long",
            "a 5000-character XDG_CACHE_HOME");
    setenv("HOME", longp, 1);
    unsetenv("XDG_CACHE_HOME");
    refused(one, 1, NULL, "native code: cache path too long",
            "a 5000-character HOME");
  }
  snprintf(xdg, sizeof xdg, "%s/missing/cache", base);
  setenv("XDG_CACHE_HOME", xdg, 1);
  snprintf(want, sizeof want, "native code: cannot create %s: No such file "
           "or directory", xdg);
  refused(one, 1, NULL, want, "an XDG_CACHE_HOME whose parent is missing");
  snprintf(xdg, sizeof xdg, "%s/xdg", base);
  setenv("XDG_CACHE_HOME", xdg, 1);
  rkin_err_clear(&err);
  nat = rkin_native_build(one, 1, NULL, &err);
  ok(nat != NULL, "an absolute XDG_CACHE_HOME is made and used (%s)",
     nat ? "ok" : err.msg);
  rkin_native_free(nat);
  snprintf(path, sizeof path, "%s/radiokin", xdg);
  {
    char so3[128] = "";
    ok(object_name(path, so3, sizeof so3) == 1 && !strcmp(so1, so3),
       "... its object is in XDG_CACHE_HOME/radiokin, named as in a given "
       "folder");
  }
  remove_all(path);
  remove_all(xdg);
  remove_all(d1);
  remove_all(d2);
  remove_all(d3);
  remove_all(d4);
  remove_all(d5);
  rmdir(base);
  free(longp);
  rkin_tape_free(one[0]);
  rkin_tape_free(two[1]);
  rkin_graph_free(g);
  done_testing();
  return exit_status();
}
