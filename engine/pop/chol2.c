/* chol2.c - the 2 x 2 Cholesky solve of chol2.h: a Newton step of the EBE
 * search with two etas spent about 900 instructions in GSL's general
 * routines (views, BLAS calls) for these few operations. */
#include "pop/chol2.h"

#include <math.h>

int pop_chol2_solve(const double *H, const double *b, double *x)
{
  double l00, l10, l11, t, r, y0, y1, x1;
  if (H[0] <= 0) return 1;
  r = 1 / sqrt(H[0]);
  l00 = H[0] * r;                 /* the column scaled, pivot included */
  l10 = H[2] * r;
  t = H[3] - l10 * l10;
  if (t <= 0) return 1;
  l11 = t * (1 / sqrt(t));
  y0 = b[0] / l00;                /* L y = b */
  y1 = (b[1] - l10 * y0) / l11;
  x1 = y1 / l11;                  /* L' x = y */
  x[0] = (y0 - l10 * x1) / l00;
  x[1] = x1;
  return 0;
}
