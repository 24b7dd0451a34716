/* test_fmt.c - rkin_fmt_g10 against the C library's printf("%.10g"). */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/init.h"
#include "core/fmt.h"
#include "../tap.h"

/* Counts values whose text differs from snprintf's. */
static long mismatches(const double *v, size_t n, char *first, size_t sz)
{
  char a[48], b[48];
  long bad = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    rkin_fmt_g10(v[i], a);
    snprintf(b, sizeof b, "%.10g", v[i]);
    if (strcmp(a, b)) {
      if (!bad) snprintf(first, sz, "%.17g: '%s' vs printf '%s'", v[i], a, b);
      bad++;
    }
  }
  return bad;
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  static const double edge[] = {
    0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1e-4, 9.9999e-5, 1e-5, 123.456,
    9999999999.0, 9999999999.4, 9999999999.5, 9999999999.7, 1e10, 1e15,
    0.99999999996, 99.999999999, 999999.99996, 49.67, 22317.12958,
    1.0 / 3.0, 2.0 / 3.0, -7400.0, 3.14159265358979, NAN, INFINITY,
    -INFINITY, 1e300, 5e-324};
  enum { N = 200000 };
  static double v[N];
  char first[160] = "";
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  size_t i;
  char buf[48];

  ok(mismatches(edge, sizeof edge / sizeof edge[0], first, sizeof first)
       == 0, "edge values print as printf %%.10g %s", first);
  /* Log-uniform magnitudes over the fast path's range and beyond, both
   * signs: a tie within an ulp is improbable for random doubles. */
  gsl_rng_set(r, 20261125);
  for (i = 0; i < N; i++) {
    double m = pow(10.0, -6.0 + 18.0 * gsl_rng_uniform(r));
    v[i] = gsl_rng_uniform(r) < 0.5 ? -m : m;
  }
  is_int(mismatches(v, N, first, sizeof first), 0,
         "%d random doubles 1e-6..1e12 print as printf %%.10g %s", N, first);
  /* Values with few decimals, as plan tables hold (MBq, Gy to 0.01). */
  for (i = 0; i < N; i++)
    v[i] = floor(gsl_rng_uniform(r) * 1e7) / 100.0;
  is_int(mismatches(v, N, first, sizeof first), 0,
         "%d two-decimal values print as printf %%.10g %s", N, first);
  is_int((long)rkin_fmt_g10(-12.5, buf), 5, "length returned");
  ok(!strcmp(buf, "-12.5"), "text -12.5");
  gsl_rng_free(r);
  done_testing();
  return exit_status();
}
