/* fmt.c - printf-compatible %.10g without printf's multi-precision
 * conversion, which dominates writing 100,000-patient tables. */
#include "core/fmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                             1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15};

/* Decimal exponent of a in [1e-4, 1e10): floor(log10(a)). */
static int decade(double a)
{
  int e = 0;
  if (a >= 1.0) {
    while (e < 15 && a >= p10[e + 1]) e++;
  } else {
    e = -1;
    while (a * p10[-e] < 1.0) e--;
  }
  return e;
}

size_t rkin_fmt_g10(double v, char *buf)
{
  char tmp[40], *q = tmp + sizeof tmp;
  double a = fabs(v);
  unsigned long long u;
  int d, k, lead = 1;
  size_t n;

  /* Fixed notation below 1e10 - 0.5 only: above, rounding to 10 digits
   * can reach 1e10, which %.10g prints as 1e+10. */
  if (!(a >= 1e-4 && a < 9999999999.5) || isnan(v)) {
    int w = snprintf(buf, 32, "%.10g", v);
    return (size_t)w;
  }
  d = 9 - decade(a);              /* digits after the decimal point */
  if (d < 0) d = 0;
  u = (unsigned long long)llround(a * p10[d]);
  *--q = '\0';
  for (k = 0; k < d; k++) {       /* fraction, trailing zeros dropped */
    int dig = (int)(u % 10);
    u /= 10;
    if (lead && dig == 0) continue;
    lead = 0;
    *--q = (char)('0' + dig);
  }
  if (!lead) *--q = '.';
  do {
    *--q = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--q = '-';
  n = (size_t)(tmp + sizeof tmp - 1 - q);
  memcpy(buf, q, n + 1);
  return n;
}
