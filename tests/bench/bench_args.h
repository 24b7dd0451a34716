/* bench_args.h - the command line every benchmark in tests/bench shares:
 * -h / --help prints the bench's usage and exits 0, and numbers and mode
 * words are read strictly (a typo must not silently become 0 patients or
 * a default run); bad input exits 2 with the argument's position and name. */
#ifndef RKIN_BENCH_ARGS_H
#define RKIN_BENCH_ARGS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any -h or --help among the arguments: usage to stdout, exit 0. */
static inline void bench_help(int argc, char **argv, const char *usage)
{
  int i;
  for (i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(usage, stdout);
      exit(0);
    }
}

/* More than max arguments: exit 2 naming the first extra one. */
static inline void bench_max_args(const char *prog, int argc, char **argv,
                                  int max)
{
  if (argc - 1 > max) {
    fprintf(stderr, "%s: argument %d is one too many (at most %d; got "
            "'%s'; --help for usage)\n", prog, max + 1, max, argv[max + 1]);
    exit(2);
  }
}

/* argv[i] as an integer in [lo, hi]; def when absent (i >= argc). */
static inline long bench_long(const char *prog, int argc, char **argv,
                              int i, const char *name, long def, long lo,
                              long hi)
{
  char *end;
  long v;
  if (i >= argc) return def;
  errno = 0;
  v = strtol(argv[i], &end, 10);
  if (end == argv[i] || *end || errno || v < lo || v > hi) {
    fprintf(stderr, "%s: argument %d (%s) must be an integer in [%ld, %ld] "
            "(got '%s')\n", prog, i, name, lo, hi, argv[i]);
    exit(2);
  }
  return v;
}

/* argv[i] as a finite number in [lo, hi]; def when absent. */
static inline double bench_double(const char *prog, int argc, char **argv,
                                  int i, const char *name, double def,
                                  double lo, double hi)
{
  char *end;
  double v;
  if (i >= argc) return def;
  errno = 0;
  v = strtod(argv[i], &end);
  /* !(v >= lo) also refuses NaN */
  if (end == argv[i] || *end || errno || !(v >= lo) || !(v <= hi)) {
    fprintf(stderr, "%s: argument %d (%s) must be a number in [%g, %g] "
            "(got '%s')\n", prog, i, name, lo, hi, argv[i]);
    exit(2);
  }
  return v;
}

/* argv[i] as one of words (NULL-terminated); def when absent. */
static inline const char *bench_word(const char *prog, int argc,
                                     char **argv, int i, const char *name,
                                     const char *def,
                                     const char *const *words)
{
  const char *const *w;
  if (i >= argc) return def;
  for (w = words; *w; w++)
    if (!strcmp(argv[i], *w)) return *w;
  fprintf(stderr, "%s: argument %d (%s) must be one of", prog, i, name);
  for (w = words; *w; w++) fprintf(stderr, " %s", *w);
  fprintf(stderr, " (got '%s')\n", argv[i]);
  exit(2);
}

#endif
