/* tap.h - a small Test Anything Protocol producer for the C unit tests.
 *
 * Use: plan(n) (or no plan and done_testing()), then ok(), is_double(),
 * is_int(), is_str(), like(); exit with exit_status(). Header-only, so each
 * test program stays one file. */
#ifndef RKIN_TAP_H
#define RKIN_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run, tap_failed, tap_planned;  /* one test program each */

static inline void plan(int n)
{
  tap_planned = n;
  printf("1..%d\n", n);
  fflush(stdout);
}

static inline void diag(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  printf("# ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
}

static inline int tap_vok(int pass, const char *fmt, va_list ap)
{
  tap_run++;
  if (!pass) tap_failed++;
  printf("%sok %d - ", pass ? "" : "not ", tap_run);
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  return pass;
}

static inline int ok(int pass, const char *fmt, ...)
{
  va_list ap;
  int r;
  va_start(ap, fmt);
  r = tap_vok(pass, fmt, ap);
  va_end(ap);
  return r;
}

/* Passes when |got - want| <= rel * |want| (or <= rel when want is 0). */
static inline int is_double(double got, double want, double rel, const char *fmt, ...)
{
  va_list ap;
  double tol = want != 0.0 ? rel * fabs(want) : rel;
  int pass = isfinite(got) && fabs(got - want) <= tol;
  va_start(ap, fmt);
  tap_vok(pass, fmt, ap);
  va_end(ap);
  if (!pass)
    diag("  got %.15g, want %.15g (rel. tol. %g, rel. diff %.3g)", got, want,
         rel, want != 0.0 ? fabs(got - want) / fabs(want) : fabs(got));
  return pass;
}

static inline int is_int(long got, long want, const char *fmt, ...)
{
  va_list ap;
  int pass = got == want;
  va_start(ap, fmt);
  tap_vok(pass, fmt, ap);
  va_end(ap);
  if (!pass) diag("  got %ld, want %ld", got, want);
  return pass;
}

/* Passes when `text` contains `part` (error messages). */
static inline int like(const char *text, const char *part, const char *fmt, ...)
{
  va_list ap;
  int pass = text && part && strstr(text, part) != NULL;
  va_start(ap, fmt);
  tap_vok(pass, fmt, ap);
  va_end(ap);
  if (!pass) diag("  '%s' does not contain '%s'", text ? text : "(null)",
                  part ? part : "(null)");
  return pass;
}

static inline void skip(int n, const char *why)
{
  while (n-- > 0) {
    tap_run++;
    printf("ok %d # SKIP %s\n", tap_run, why);
  }
  fflush(stdout);
}

static inline void done_testing(void)
{
  if (!tap_planned) printf("1..%d\n", tap_run);
  fflush(stdout);
}

static inline int exit_status(void)
{
  if (tap_planned && tap_planned != tap_run)
    diag("planned %d tests but ran %d", tap_planned, tap_run);
  return tap_failed || (tap_planned && tap_planned != tap_run) ? 1 : 0;
}

#endif
