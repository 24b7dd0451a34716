/* test_layers.c - the engine's folder tree is its architecture: each
 * subsystem folder includes only from itself and from folders below it,
 * private headers (*_impl.h and the solver's plug-in headers) stay inside
 * their folder, and no engine file includes Lua. Reads the sources under
 * $RADIOKIN_SRCDIR/engine (the source tree, not the build). */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap.h"

/* The levels: a folder may include its own files and those of folders
 * of a strictly lower level. */
static const struct {
  const char *dir;
  int level;
} layers[] = {
  {"core", 0},
  {"solve", 1}, {"dose", 1},
  /* image needs only core (errors) and nothing of dose or solve, and the
   * tac-level and voxel code build on it: level 1 */
  {"image", 1},
  {"tac", 2}, {"tare", 2}, {"pop", 2},
  /* SBML import: builds models (core), checked by solving (solve) */
  {"sbml", 2},
  {"uncert", 3},
  /* voxel dosimetry combines image with dose (radiobiology) and tac
   * (per-voxel fits) */
  {"voxel", 3},
  {"regimen", 4},
};
#define N_LAYERS (sizeof layers / sizeof layers[0])

/* Headers that only their own folder may include (core/fmt.h is internal
 * to the library but shared: the TARE CSV writer uses it). */
static const char *const private_headers[] = {
  "core/expr_impl.h", "solve/cvodes_path.h",
  "solve/exact_path.h", "solve/cv_nvector.h", "solve/cv_linsol.h",
  "tac/tac_impl.h", "tare/tare_cohort_impl.h", "pop/popest_impl.h",
  "regimen/regimen_impl.h",
};

static int level_of(const char *dir, size_t len)
{
  size_t i;
  for (i = 0; i < N_LAYERS; i++)
    if (strlen(layers[i].dir) == len && strncmp(layers[i].dir, dir, len) == 0)
      return layers[i].level;
  return -1;
}

static int is_private(const char *inc)
{
  size_t i;
  for (i = 0; i < sizeof private_headers / sizeof *private_headers; i++)
    if (strcmp(private_headers[i], inc) == 0) return 1;
  return 0;
}

static int n_bad;

/* Checks every #include line of one file of folder `dir`. */
static void check_file(const char *path, const char *dir, int level)
{
  char line[1024];
  int lineno = 0;
  FILE *f = fopen(path, "r");
  if (!f) {
    ok(0, "open %s", path);
    n_bad++;
    return;
  }
  while (fgets(line, sizeof line, f)) {
    const char *p = line, *q;
    char inc[256];
    lineno++;
    while (isspace((unsigned char)*p)) p++;
    if (*p != '#') continue;
    p++;
    while (isspace((unsigned char)*p)) p++;
    if (strncmp(p, "include", 7) != 0) continue;
    p += 7;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '<') {
      if (strncmp(p, "<lua", 4) == 0 || strncmp(p, "<lauxlib", 8) == 0 ||
          strncmp(p, "<lualib", 7) == 0) {
        diag("%s:%d includes a Lua header: the engine is Lua-free", path,
             lineno);
        n_bad++;
      }
      continue;
    }
    if (*p != '"') continue;
    q = strchr(p + 1, '"');
    if (!q || (size_t)(q - p - 1) >= sizeof inc) continue;
    memcpy(inc, p + 1, (size_t)(q - p - 1));
    inc[q - p - 1] = '\0';
    {
      const char *slash = strchr(inc, '/');
      int other;
      if (!slash) {
        diag("%s:%d: include \"%s\" without its folder (write "
             "\"subsystem/name.h\")", path, lineno, inc);
        n_bad++;
        continue;
      }
      other = level_of(inc, (size_t)(slash - inc));
      if (other < 0) {
        diag("%s:%d: include \"%s\" of an unknown folder", path, lineno,
             inc);
        n_bad++;
      } else if (strncmp(inc, dir, strlen(dir)) == 0 &&
                 inc[strlen(dir)] == '/') {
        /* own folder: always allowed */
      } else if (other >= level) {
        diag("%s:%d: %s (level %d) includes \"%s\" (level %d): a folder "
             "includes only from lower levels", path, lineno, dir, level,
             inc, other);
        n_bad++;
      } else if (is_private(inc)) {
        diag("%s:%d: \"%s\" is private to its folder", path, lineno, inc);
        n_bad++;
      }
    }
  }
  fclose(f);
}

int main(void)
{
  const char *src = getenv("RADIOKIN_SRCDIR");
  char path[4096];
  size_t i;
  int n_files = 0;
  if (!src) src = ".";
  for (i = 0; i < N_LAYERS; i++) {
    DIR *d;
    struct dirent *e;
    snprintf(path, sizeof path, "%s/engine/%s", src, layers[i].dir);
    d = opendir(path);
    if (!d) {
      ok(0, "engine/%s exists", layers[i].dir);
      continue;
    }
    while ((e = readdir(d))) {
      size_t n = strlen(e->d_name);
      if (n < 3 || e->d_name[0] == '.' ||
          (strcmp(e->d_name + n - 2, ".c") && strcmp(e->d_name + n - 2, ".h") &&
           strcmp(e->d_name + n - 3, ".cc")))
        continue;
      snprintf(path, sizeof path, "%s/engine/%s/%s", src, layers[i].dir,
               e->d_name);
      check_file(path, layers[i].dir, layers[i].level);
      n_files++;
    }
    closedir(d);
  }
  /* .c files are not left directly in engine/ */
  {
    DIR *d;
    struct dirent *e;
    int flat = 0;
    snprintf(path, sizeof path, "%s/engine", src);
    d = opendir(path);
    while (d && (e = readdir(d))) {
      size_t n = strlen(e->d_name);
      if (n > 2 && strcmp(e->d_name + n - 2, ".c") == 0) {
        diag("engine/%s: put it in its subsystem's folder", e->d_name);
        flat++;
      }
    }
    if (d) closedir(d);
    ok(d != NULL && flat == 0, "no .c file directly in engine/ (%d)", flat);
  }
  ok(n_files > 60, "read the engine's sources (%d files)", n_files);
  ok(n_bad == 0, "every include runs down the layers core < solve, dose, "
     "image < tac, tare, pop, sbml < uncert, voxel < regimen (%d violations)",
     n_bad);
  done_testing();
  return exit_status();
}
