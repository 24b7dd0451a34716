/* image.c - grids and images: geometry, allocation, clipping. */
#include "image/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rkin_grid_init(rkin_grid *g, size_t nx, size_t ny, size_t nz,
                    double sx, double sy, double sz)
{
  memset(g, 0, sizeof *g);
  g->n[0] = nx; g->n[1] = ny; g->n[2] = nz;
  g->spacing[0] = sx; g->spacing[1] = sy; g->spacing[2] = sz;
  g->dir[0] = g->dir[4] = g->dir[8] = 1.0;
}

size_t rkin_grid_count(const rkin_grid *g)
{
  return g->n[0] * g->n[1] * g->n[2];
}

double rkin_grid_voxel_ml(const rkin_grid *g)
{
  return g->spacing[0] * g->spacing[1] * g->spacing[2] / 1000.0;
}

int rkin_grid_check(const rkin_grid *g, const char *what, rkin_err *err)
{
  int a, b;
  if (!what) what = "image";
  for (a = 0; a < 3; a++) {
    if (g->n[a] < 1)
      return rkin_err_set(err, RKIN_EINVAL, "%s: dimension %d is %zu "
                          "(expected >= 1)", what, a + 1, g->n[a]);
    if (!isfinite(g->spacing[a]) || g->spacing[a] <= 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "%s: voxel spacing along axis "
                          "%d is %g mm (expected a finite value > 0)", what,
                          a + 1, g->spacing[a]);
    /* a denormal spacing would make the voxel volume 0 (and every
     * concentration infinite): 0.1 um to 100 m covers any scanner */
    if (g->spacing[a] < RKIN_IMAGE_MIN_SPACING ||
        g->spacing[a] > RKIN_IMAGE_MAX_SPACING)
      return rkin_err_set(err, RKIN_ERANGE, "%s: voxel spacing along axis "
                          "%d is %g mm (expected %g to %g mm)", what, a + 1,
                          g->spacing[a], RKIN_IMAGE_MIN_SPACING,
                          RKIN_IMAGE_MAX_SPACING);
    if (!isfinite(g->origin[a]))
      return rkin_err_set(err, RKIN_EINVAL, "%s: origin is not finite",
                          what);
    /* NIfTI-1 stores the transform as float: an origin beyond float
     * range read from a NIfTI-2 file could not be written back */
    if (fabs(g->origin[a]) > RKIN_IMAGE_MAX_ORIGIN)
      return rkin_err_set(err, RKIN_ERANGE, "%s: origin along axis %d is "
                          "%g mm (expected within %g mm)", what, a + 1,
                          g->origin[a], RKIN_IMAGE_MAX_ORIGIN);
  }
  if (g->n[1] > RKIN_IMAGE_MAX_VOXELS / g->n[0] ||
      g->n[2] > RKIN_IMAGE_MAX_VOXELS / (g->n[0] * g->n[1]))
    return rkin_err_set(err, RKIN_ERANGE, "%s: %zu x %zu x %zu voxels is "
                        "more than the %zu accepted", what, g->n[0], g->n[1],
                        g->n[2], RKIN_IMAGE_MAX_VOXELS);
  for (a = 0; a < 3; a++)
    for (b = 0; b < 3; b++) {
      double d = 0.0;
      int r;
      for (r = 0; r < 3; r++) d += g->dir[3 * r + a] * g->dir[3 * r + b];
      if (!isfinite(d) || fabs(d - (a == b ? 1.0 : 0.0)) > 1e-4)
        return rkin_err_set(err, RKIN_EINVAL, "%s: direction matrix is not "
                            "orthonormal (columns %d and %d: dot %g)", what,
                            a + 1, b + 1, d);
    }
  return RKIN_OK;
}

void rkin_grid_to_world(const rkin_grid *g, const double ijk[3], double xyz[3])
{
  int r;
  for (r = 0; r < 3; r++)
    xyz[r] = g->origin[r] + g->dir[3 * r] * g->spacing[0] * ijk[0] +
             g->dir[3 * r + 1] * g->spacing[1] * ijk[1] +
             g->dir[3 * r + 2] * g->spacing[2] * ijk[2];
}

void rkin_grid_to_index(const rkin_grid *g, const double xyz[3], double ijk[3])
{
  /* D is orthonormal, so its inverse is its transpose. */
  double d[3];
  int r, c;
  for (r = 0; r < 3; r++) d[r] = xyz[r] - g->origin[r];
  for (c = 0; c < 3; c++)
    ijk[c] = (g->dir[c] * d[0] + g->dir[3 + c] * d[1] + g->dir[6 + c] * d[2]) /
             g->spacing[c];
}

int rkin_grid_same(const rkin_grid *a, const rkin_grid *b)
{
  int i;
  for (i = 0; i < 3; i++)
    if (a->n[i] != b->n[i] || fabs(a->spacing[i] - b->spacing[i]) > 1e-4 ||
        fabs(a->origin[i] - b->origin[i]) > 1e-4)
      return 0;
  for (i = 0; i < 9; i++)
    if (fabs(a->dir[i] - b->dir[i]) > 1e-6) return 0;
  return 1;
}

int rkin_image_alloc(rkin_image *im, const rkin_grid *g, rkin_err *err)
{
  int rc;
  memset(im, 0, sizeof *im);
  if ((rc = rkin_grid_check(g, "image", err)) < 0) return rc;
  im->g = *g;
  im->v = calloc(rkin_grid_count(g), sizeof *im->v);
  if (!im->v)
    return rkin_err_set(err, RKIN_ENOMEM, "image of %zu voxels: out of "
                        "memory", rkin_grid_count(g));
  return RKIN_OK;
}

int rkin_image_copy(rkin_image *dst, const rkin_image *src, rkin_err *err)
{
  int rc = rkin_image_alloc(dst, &src->g, err);
  if (rc < 0) return rc;
  memcpy(dst->v, src->v, rkin_grid_count(&src->g) * sizeof *src->v);
  dst->is_label = src->is_label;
  memcpy(dst->unit, src->unit, sizeof dst->unit);
  return RKIN_OK;
}

void rkin_image_free(rkin_image *im)
{
  if (!im) return;
  free(im->v);
  im->v = NULL;
}

int rkin_image_clip_negative(rkin_image *im, size_t *n_clipped, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&im->g), c = 0;
  for (i = 0; i < n; i++) {
    if (!isfinite(im->v[i])) {
      size_t nx = im->g.n[0], ny = im->g.n[1];
      return rkin_err_set(err, RKIN_ENONFINITE, "voxel (%zu,%zu,%zu) is not "
                          "finite (%g)", i % nx, (i / nx) % ny, i / (nx * ny),
                          (double)im->v[i]);
    }
    if (im->v[i] < 0.0f) {
      im->v[i] = 0.0f;
      c++;
    }
  }
  if (n_clipped) *n_clipped = c;
  return RKIN_OK;
}
