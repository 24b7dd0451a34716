/* test_regress.c - replays every file of tests/fuzz/corpus/<reader>/ and
 * tests/fuzz/regress/<reader>/ (inputs that once crashed a reader) through
 * the fuzz harness of that reader, each in a child process, so the fixes
 * stay checked by the ordinary suite and, in the sanitizer build, under
 * ASan and UBSan.
 *
 * tests/fuzz/regress/TODO lists, one "<reader>/<file> why" a line, the
 * inputs whose reader is not fixed yet: a failure of one of them is a TAP
 * TODO (not counted as failed), and under a sanitizer its report goes to
 * the test log instead of the report folder that fails the run. Remove
 * the line when the reader is fixed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
void __sanitizer_set_report_path(const char *path);
#endif

enum { SECONDS = 60 };   /* per input; a reader that takes longer hangs */
enum { PATHLEN = 4096 };

/* snprintf into a path buffer; a path too long for it stops the test. */
static void path_fmt(char *buf, const char *fmt, ...)
{
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, PATHLEN, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= PATHLEN) {
    printf("Bail out! path too long: %s\n", buf);
    exit(1);
  }
}

static int tests_run, tests_failed;

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t cap = 0, n = 0, got;
  if (!f) return NULL;
  for (;;) {
    if (n == cap) {
      char *b = realloc(buf, cap = cap ? 2 * cap : 4096);
      if (!b) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = b;
    }
    got = fread(buf + n, 1, cap - n, f);
    if (!got) break;
    n += got;
  }
  fclose(f);
  *len = n;
  return buf;
}

/* The reason a TODO line gives for "<reader>/<file>", or NULL. */
static const char *todo_reason(const char *todo, const char *key,
                               char *why, size_t size)
{
  const char *p = todo;
  size_t k = strlen(key);
  while (p && *p) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n > k && !strncmp(p, key, k) && (p[k] == ' ' || p[k] == '\t')) {
      size_t m = n - k - 1;
      if (m >= size) m = size - 1;
      memcpy(why, p + k + 1, m);
      why[m] = '\0';
      return why;
    }
    p = e ? e + 1 : NULL;
  }
  return NULL;
}

static void print_report(const char *prefix)
{
  /* the sanitizer appends ".<pid>" to the path it was given */
  char dir[PATHLEN], *slash;
  const char *base;
  DIR *d;
  struct dirent *e;
  path_fmt(dir, "%s", prefix);
  if (!(slash = strrchr(dir, '/'))) return;
  *slash = '\0';
  base = slash + 1;
  if (!(d = opendir(dir))) return;
  while ((e = readdir(d))) {
    char path[PATHLEN], *text;
    size_t len, i;
    if (strncmp(e->d_name, base, strlen(base))) continue;
    path_fmt(path, "%s/%s", dir, e->d_name);
    if (!(text = slurp(path, &len))) continue;
    printf("# ");
    for (i = 0; i < len; i++) {
      putchar(text[i]);
      if (text[i] == '\n' && i + 1 < len) printf("# ");
    }
    printf("\n");
    free(text);
    unlink(path);
  }
  closedir(d);
}

/* Runs one input in a child; returns 1 when the reader returned normally. */
static int replay(const rkfuzz_reader *r, const char *path,
                  const char *report)
{
  pid_t pid;
  int st;
  fflush(stdout);
  pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    size_t len = 0;
    char *text = slurp(path, &len);
    if (!text) _exit(3);
    alarm(SECONDS);
#ifdef SANITIZED
    if (report) __sanitizer_set_report_path(report);
#else
    (void)report;
    {
      /* a small input must not take unbounded memory */
      struct rlimit lim = {(rlim_t)2 << 30, (rlim_t)2 << 30};
      setrlimit(RLIMIT_AS, &lim);
    }
#endif
    r->run((const unsigned char *)text, len);
    free(text);
    _exit(0);
  }
  if (waitpid(pid, &st, 0) < 0) return 0;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 1;
  if (WIFSIGNALED(st))
    printf("# %s: killed by signal %d%s\n", path, WTERMSIG(st),
           WTERMSIG(st) == SIGALRM ? " (over the time limit)" : "");
  else
    printf("# %s: exit status %d\n", path, WEXITSTATUS(st));
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
  return strcmp((*a)->d_name, (*b)->d_name);
}

/* Returns the number of inputs replayed. */
static int replay_dir(const rkfuzz_reader *r, const char *src,
                      const char *kind, const char *todo,
                      const char *reports)
{
  int replayed = 0;
  char dir[PATHLEN];
  struct dirent **list;
  int n, i;
  path_fmt(dir, "%s/tests/fuzz/%s/%s", src, kind, r->name);
  if ((n = scandir(dir, &list, NULL, by_name)) < 0) return 0;
  for (i = 0; i < n; i++) {
    char path[PATHLEN], key[PATHLEN], why[512], report[PATHLEN];
    const char *reason;
    struct stat sb;
    int pass;
    path_fmt(path, "%s/%s", dir, list[i]->d_name);
    if (stat(path, &sb) || !S_ISREG(sb.st_mode)) {
      free(list[i]);
      continue;
    }
    path_fmt(key, "%s/%s", r->name, list[i]->d_name);
    reason = !strcmp(kind, "regress")
                 ? todo_reason(todo, key, why, sizeof why) : NULL;
    path_fmt(report, "%s/%s", reports, list[i]->d_name);
    pass = replay(r, path, reason ? report : NULL);
    tests_run++;
    replayed++;
    if (reason) {
      if (pass) {
        printf("ok %d - %s %s (listed in regress/TODO, but did not fail "
               "here: fixed, or seen only by a sanitizer)\n", tests_run,
               kind, key);
      } else {
        printf("not ok %d - %s %s # TODO %s\n", tests_run, kind, key,
               reason);
        print_report(report);
      }
    } else {
      if (!pass) tests_failed++;
      printf("%sok %d - %s %s\n", pass ? "" : "not ", tests_run, kind, key);
    }
    free(list[i]);
  }
  free(list);
  return replayed;
}

int main(void)
{
  const char *src = getenv("RADIOKIN_SRCDIR");
  const char *build = getenv("RADIOKIN_BUILDDIR");
  char todo_path[PATHLEN], reports[PATHLEN];
  char *todo = NULL;
  size_t len, k;
  if (!src) src = ".";
  if (!build) build = ".";
  path_fmt(todo_path, "%s/tests/fuzz/regress/TODO", src);
  if ((todo = slurp(todo_path, &len))) {
    char *t = realloc(todo, len + 1);
    if (!t) return 1;
    todo = t;
    todo[len] = '\0';
  }
  path_fmt(reports, "%s/tests/fuzz", build);
  mkdir(reports, 0777);
  path_fmt(reports, "%s/tests/fuzz/todo-reports", build);
  if (mkdir(reports, 0777) && errno != EEXIST) return 1;
  for (k = 0; k < rkfuzz_nreaders; k++) {
    /* a reader without seeds would be fuzzed from nothing */
    int seeds = replay_dir(&rkfuzz_readers[k], src, "corpus", todo, reports);
    tests_run++;
    if (!seeds) tests_failed++;
    printf("%sok %d - tests/fuzz/corpus/%s/ has seed inputs (%d)\n",
           seeds ? "" : "not ", tests_run, rkfuzz_readers[k].name, seeds);
    replay_dir(&rkfuzz_readers[k], src, "regress", todo, reports);
  }
  free(todo);
  printf("1..%d\n", tests_run);
  return tests_failed ? 1 : 0;
}
