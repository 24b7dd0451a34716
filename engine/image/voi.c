/* voi.c - masks from label maps and thresholds; statistics over a VOI. */
#include "image/image.h"

#include <math.h>

int rkin_image_mask(const rkin_image *labels, int label, unsigned char *mask,
                    size_t *count, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&labels->g), c = 0;
  if (label < 0)
    return rkin_err_set(err, RKIN_EINVAL, "mask: label %d (expected >= 0; "
                        "0 selects every labelled voxel)", label);
  /* (int)lrintf(v) == label without a libm call per voxel (the DVHs of a
   * 128^3 map were bound by it): strictly inside (label -+ 0.5), or on
   * an edge and rounding (half to even) to the label */
  {
    const float lo = (float)label - 0.5f, hi = (float)label + 0.5f;
    for (i = 0; i < n; i++) {
      float v = labels->v[i];
      int in = label == 0 ? v > 0.5f
                          : (v > lo && v < hi) ||
                                ((v == lo || v == hi) &&
                                 (int)lrintf(v) == label);
      mask[i] = (unsigned char)in;
      c += (size_t)in;
    }
  }
  if (count) *count = c;
  if (c == 0)
    return rkin_err_set(err, RKIN_ENOTFOUND, "mask: no voxel has label %d",
                        label);
  return RKIN_OK;
}

int rkin_image_threshold(const rkin_image *im, double lo, double hi,
                         unsigned char *mask, size_t *count, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&im->g), c = 0;
  if (!(lo <= hi))
    return rkin_err_set(err, RKIN_EINVAL, "threshold: [%g, %g] is empty", lo,
                        hi);
  for (i = 0; i < n; i++) {
    int in = im->v[i] >= lo && im->v[i] <= hi;
    mask[i] = (unsigned char)in;
    c += (size_t)in;
  }
  if (count) *count = c;
  return RKIN_OK;
}

int rkin_voi_stats_eval(const rkin_image *im, const unsigned char *mask,
                        rkin_voi_stats *out, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&im->g), m = 0;
  double sum = 0.0, mean, ss = 0.0, lo = INFINITY, hi = -INFINITY;
  for (i = 0; i < n; i++) {
    double x;
    if (mask && !mask[i]) continue;
    x = im->v[i];
    if (!isfinite(x))
      return rkin_err_set(err, RKIN_ENONFINITE, "VOI statistics: voxel %zu "
                          "is not finite", i);
    sum += x;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
    m++;
  }
  if (m == 0)
    return rkin_err_set(err, RKIN_EINVAL, "VOI statistics: the mask does not "
                        "overlap the image (0 voxels)");
  mean = sum / (double)m;
  for (i = 0; i < n; i++)
    if (!mask || mask[i]) ss += (im->v[i] - mean) * (im->v[i] - mean);
  out->n = m;
  out->volume_ml = (double)m * rkin_grid_voxel_ml(&im->g);
  out->sum = sum;
  out->integral = sum * rkin_grid_voxel_ml(&im->g);
  out->mean = mean;
  out->sd = m > 1 ? sqrt(ss / (double)(m - 1)) : 0.0;
  out->min = lo;
  out->max = hi;
  return RKIN_OK;
}
