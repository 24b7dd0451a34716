/* resample.c - an image onto another grid: nearest neighbour for label
 * maps, trilinear for everything else with the total activity conserved. */
#include "image/image.h"

#include <math.h>
#include <string.h>

/* Source continuous index of the centre of target voxel (i,j,k). */
static void source_index(const rkin_grid *tg, const rkin_grid *sg,
                         const double *xform, size_t i, size_t j, size_t k,
                         double sijk[3])
{
  double tijk[3] = {(double)i, (double)j, (double)k}, w[3], ws[3];
  int r;
  rkin_grid_to_world(tg, tijk, w);
  if (xform) {
    for (r = 0; r < 3; r++)
      ws[r] = xform[4 * r] * w[0] + xform[4 * r + 1] * w[1] +
              xform[4 * r + 2] * w[2] + xform[4 * r + 3];
    rkin_grid_to_index(sg, ws, sijk);
  } else {
    rkin_grid_to_index(sg, w, sijk);
  }
}

static int check_rigid(const double *x, rkin_err *err)
{
  int a, b, r;
  for (a = 0; a < 16; a++)
    if (!isfinite(x[a]))
      return rkin_err_set(err, RKIN_EINVAL, "transform: element %d is not "
                          "finite", a + 1);
  if (x[12] != 0.0 || x[13] != 0.0 || x[14] != 0.0 || x[15] != 1.0)
    return rkin_err_set(err, RKIN_EINVAL, "transform: last row is (%g %g %g "
                        "%g) (expected 0 0 0 1)", x[12], x[13], x[14], x[15]);
  for (a = 0; a < 3; a++)
    for (b = 0; b < 3; b++) {
      double d = 0.0;
      for (r = 0; r < 3; r++) d += x[4 * r + a] * x[4 * r + b];
      if (fabs(d - (a == b)) > 1e-4)
        return rkin_err_set(err, RKIN_EINVAL, "transform: the 3x3 part is "
                            "not a rotation (columns %d, %d: dot %g); only "
                            "rigid transforms are accepted", a + 1, b + 1, d);
    }
  return RKIN_OK;
}

int rkin_image_resample(const rkin_image *src, const rkin_grid *g,
                        const double *xform, int conserve, rkin_image *dst,
                        rkin_resample_info *info, rkin_err *err)
{
  const size_t sx = src->g.n[0], sy = src->g.n[1], sz = src->g.n[2];
  size_t i, j, k, n_out = 0, idx = 0;
  double tot_out = 0.0, tot_in = 0.0, scale = 1.0;
  int rc;
  rkin_resample_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof *info);
  if ((rc = rkin_grid_check(&src->g, "resample source", err)) < 0) return rc;
  if ((rc = rkin_grid_check(g, "resample target", err)) < 0) return rc;
  if (xform && (rc = check_rigid(xform, err)) < 0) return rc;
  if ((rc = rkin_image_alloc(dst, g, err)) < 0) return rc;
  dst->is_label = src->is_label;
  memcpy(dst->unit, src->unit, sizeof dst->unit);
  for (k = 0; k < g->n[2]; k++)
    for (j = 0; j < g->n[1]; j++)
      for (i = 0; i < g->n[0]; i++, idx++) {
        double s[3];
        source_index(g, &src->g, xform, i, j, k, s);
        /* outside the source's voxels (beyond half a voxel): zero */
        if (s[0] < -0.5 || s[1] < -0.5 || s[2] < -0.5 ||
            s[0] > sx - 0.5 || s[1] > sy - 0.5 || s[2] > sz - 0.5) {
          n_out++;
          continue;
        }
        if (src->is_label) {
          size_t a = (size_t)floor(s[0] + 0.5), b = (size_t)floor(s[1] + 0.5),
                 c = (size_t)floor(s[2] + 0.5);
          if (a >= sx) a = sx - 1;
          if (b >= sy) b = sy - 1;
          if (c >= sz) c = sz - 1;
          dst->v[idx] = src->v[(c * sy + b) * sx + a];
        } else {
          /* trilinear between the 8 surrounding centres, edges clamped */
          size_t lo[3], hi[3];
          double f[3], val = 0.0;
          int d, corner;
          for (d = 0; d < 3; d++) {
            double fl = floor(s[d]);
            size_t nd = src->g.n[d];
            f[d] = s[d] - fl;
            if (fl < 0) { lo[d] = hi[d] = 0; f[d] = 0.0; }
            else if ((size_t)fl >= nd - 1) { lo[d] = hi[d] = nd - 1; f[d] = 0.0; }
            else { lo[d] = (size_t)fl; hi[d] = lo[d] + 1; }
          }
          for (corner = 0; corner < 8; corner++) {
            size_t a = corner & 1 ? hi[0] : lo[0],
                   b = corner & 2 ? hi[1] : lo[1],
                   c = corner & 4 ? hi[2] : lo[2];
            double wgt = (corner & 1 ? f[0] : 1 - f[0]) *
                         (corner & 2 ? f[1] : 1 - f[1]) *
                         (corner & 4 ? f[2] : 1 - f[2]);
            if (wgt != 0.0) val += wgt * src->v[(c * sy + b) * sx + a];
          }
          dst->v[idx] = (float)val;
          tot_out += val;
        }
      }
  info->n_outside = n_out;
  if (src->is_label) return RKIN_OK;
  tot_out *= rkin_grid_voxel_ml(g);
  /* the source activity whose voxel centres fall inside the target */
  {
    double inv_xf[16];
    const double *ixf = NULL;
    if (xform) {
      /* inverse of a rigid transform: R^T, -R^T t */
      int r, c;
      memset(inv_xf, 0, sizeof inv_xf);
      for (r = 0; r < 3; r++) {
        for (c = 0; c < 3; c++) inv_xf[4 * r + c] = xform[4 * c + r];
        inv_xf[4 * r + 3] = -(xform[r] * xform[3] + xform[4 + r] * xform[7] +
                              xform[8 + r] * xform[11]);
      }
      inv_xf[15] = 1.0;
      ixf = inv_xf;
    }
    idx = 0;
    for (k = 0; k < sz; k++)
      for (j = 0; j < sy; j++)
        for (i = 0; i < sx; i++, idx++) {
          double t[3];
          if (src->v[idx] == 0.0f) continue;
          source_index(&src->g, g, ixf, i, j, k, t);
          if (t[0] >= -0.5 && t[1] >= -0.5 && t[2] >= -0.5 &&
              t[0] <= g->n[0] - 0.5 && t[1] <= g->n[1] - 0.5 &&
              t[2] <= g->n[2] - 0.5)
            tot_in += src->v[idx];
        }
    tot_in *= rkin_grid_voxel_ml(&src->g);
  }
  if (conserve && tot_out != 0.0 && tot_in != 0.0) {
    size_t n = rkin_grid_count(g);
    scale = tot_in / tot_out;
    for (idx = 0; idx < n; idx++) dst->v[idx] = (float)(dst->v[idx] * scale);
  }
  info->total_in = tot_in;
  info->total_out = tot_out * scale;
  info->scale = scale;
  return RKIN_OK;
}
