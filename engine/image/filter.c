/* filter.c - SPECT-like degradation: Gaussian blur, Poisson noise. */
#include "image/phantom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* One 1D pass along axis `ax` with weights w[-h..h]. */
static void blur_axis(rkin_image *im, int ax, const double *w, int h,
                      double *line, double *outl)
{
  const size_t *n = im->g.n;
  size_t stride = ax == 0 ? 1 : (ax == 1 ? n[0] : n[0] * n[1]);
  size_t len = n[ax], nlines = rkin_grid_count(&im->g) / len, l;
  for (l = 0; l < nlines; l++) {
    size_t base, i;
    /* the start of line l: all index combinations of the other axes */
    if (ax == 0) base = l * n[0];
    else if (ax == 1) base = (l / n[0]) * n[0] * n[1] + l % n[0];
    else base = l;
    for (i = 0; i < len; i++) line[i] = im->v[base + i * stride];
    for (i = 0; i < len; i++) {
      double s = 0.0, ws = 0.0;
      int d;
      for (d = -h; d <= h; d++) {
        long j = (long)i + d;
        if (j < 0 || j >= (long)len) continue;
        s += w[d + h] * line[j];
        ws += w[d + h];
      }
      outl[i] = s / ws;
    }
    for (i = 0; i < len; i++) im->v[base + i * stride] = (float)outl[i];
  }
}

int rkin_image_blur(rkin_image *im, double fwhm_mm, rkin_err *err)
{
  int ax;
  if (!isfinite(fwhm_mm) || fwhm_mm < 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "blur: FWHM %g mm (expected a "
                        "finite value >= 0)", fwhm_mm);
  if (fwhm_mm == 0.0) return RKIN_OK;
  for (ax = 0; ax < 3; ax++) {
    double sigma = fwhm_mm / (2.0 * sqrt(2.0 * log(2.0))) / im->g.spacing[ax];
    int h = (int)ceil(4.0 * sigma), d;
    size_t len = im->g.n[ax];
    double *w, *line, *outl;
    if (h > (int)len) h = (int)len;
    w = malloc((size_t)(2 * h + 1) * sizeof *w);
    line = malloc(2 * len * sizeof *line);
    if (!w || !line) {
      free(w);
      free(line);
      return rkin_err_set(err, RKIN_ENOMEM, "blur: out of memory");
    }
    outl = line + len;
    for (d = -h; d <= h; d++) w[d + h] = exp(-0.5 * d * d / (sigma * sigma));
    blur_axis(im, ax, w, h, line, outl);
    free(w);
    free(line);
  }
  return RKIN_OK;
}

int rkin_image_poisson(rkin_image *im, double counts_per_unit,
                       unsigned long seed, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&im->g);
  gsl_rng *r;
  if (!isfinite(counts_per_unit) || counts_per_unit <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "noise: %g counts per unit "
                        "(expected > 0)", counts_per_unit);
  for (i = 0; i < n; i++)
    if (!(im->v[i] >= 0.0f) || !isfinite(im->v[i]))
      return rkin_err_set(err, RKIN_EINVAL, "noise: voxel %zu is %g (expected "
                          "a finite value >= 0)", i, (double)im->v[i]);
  r = gsl_rng_alloc(gsl_rng_mt19937);
  if (!r) return rkin_err_set(err, RKIN_ENOMEM, "noise: out of memory");
  gsl_rng_set(r, seed);
  for (i = 0; i < n; i++)
    if (im->v[i] > 0.0f)
      im->v[i] = (float)(gsl_ran_poisson(r, im->v[i] * counts_per_unit) /
                         counts_per_unit);
  gsl_rng_free(r);
  return RKIN_OK;
}
