/* test_errmsg_image.c - error messages of the image module (engine/image:
 * grids, voxels, NIfTI I/O, rigid transforms, masks and VOI statistics,
 * the phantom, blur and noise), provoked one by one and their text
 * asserted (issue 22 item 3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/init.h"
#include "image/image.h"
#include "image/phantom.h"
#include "../tap.h"
#include "../errmsg.h"

static void test_grid(void)
{
  rkin_grid g;
  rkin_grid_init(&g, 2, 0, 2, 1, 1, 1);
  BAD(rkin_grid_check(&g, "ct", &err), RKIN_EINVAL, "ct: dimension 2 is 0 "
      "(expected >= 1)", "grid: a zero dimension");
  rkin_grid_init(&g, 2, 2, 2, 1, -1, 1);
  BAD(rkin_grid_check(&g, "ct", &err), RKIN_EINVAL, "ct: voxel spacing "
      "along axis 2 is -1 mm (expected a finite value > 0)",
      "grid: a negative spacing");
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  g.origin[1] = NAN;
  BAD(rkin_grid_check(&g, "ct", &err), RKIN_EINVAL, "ct: origin is not "
      "finite", "grid: a NaN origin");
  rkin_grid_init(&g, 100000, 100000, 100000, 1, 1, 1);
  BAD(rkin_grid_check(&g, "ct", &err), RKIN_ERANGE, "ct: 100000 x 100000 x "
      "100000 voxels is more than the", "grid: too many voxels");
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  g.dir[1] = 0.5;     /* columns 1 and 2 no longer orthogonal */
  BAD(rkin_grid_check(&g, "ct", &err), RKIN_EINVAL, "ct: direction matrix "
      "is not orthonormal (columns ", "grid: a skewed direction matrix");
}

static void test_ops(void)
{
  rkin_grid g;
  rkin_image im = {0}, lab = {0}, out = {0};
  unsigned char mask[8];
  size_t n;
  rkin_voi_stats st;
  double x[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  if (rkin_image_alloc(&im, &g, &err) || rkin_image_alloc(&lab, &g, &err)) {
    diag("alloc: %s", err.msg);
    return;
  }
  lab.is_label = 1;
  BAD(rkin_image_mask(&lab, 7, mask, &n, &err), RKIN_ENOTFOUND,
      "mask: no voxel has label 7", "mask: an absent label");
  BAD(rkin_image_threshold(&im, 5, 1, mask, &n, &err), RKIN_EINVAL,
      "threshold: [5, 1] is empty", "threshold: an empty interval");
  memset(mask, 0, sizeof mask);
  BAD(rkin_voi_stats_eval(&im, mask, &st, &err), RKIN_EINVAL,
      "VOI statistics: the mask does not overlap the image (0 voxels)",
      "VOI: an empty mask");
  mask[3] = 1;
  im.v[3] = NAN;
  BAD(rkin_voi_stats_eval(&im, mask, &st, &err), RKIN_ENONFINITE,
      "VOI statistics: voxel 3 is not finite", "VOI: a NaN voxel");
  im.v[3] = 0;
  x[3] = NAN;
  BAD(rkin_image_resample(&im, &g, x, 0, &out, NULL, &err), RKIN_EINVAL,
      "transform: element 4 is not finite", "resample: a NaN transform");
  x[3] = 0;
  x[15] = 2;
  BAD(rkin_image_resample(&im, &g, x, 0, &out, NULL, &err), RKIN_EINVAL,
      "transform: last row is (0 0 0 2) (expected 0 0 0 1)",
      "resample: a projective transform");
  x[15] = 1;
  x[0] = 2;
  BAD(rkin_image_resample(&im, &g, x, 0, &out, NULL, &err), RKIN_EINVAL,
      "transform: the 3x3 part is not a rotation (columns 1, 1: dot 4); only "
      "rigid transforms are accepted", "resample: a scaling transform");
  BAD(rkin_image_blur(&im, -1, &err), RKIN_EINVAL, "blur: FWHM -1 mm "
      "(expected a finite value >= 0)", "blur: negative FWHM");
  BAD(rkin_image_poisson(&im, 0, 1, &err), RKIN_EINVAL, "noise: 0 counts "
      "per unit (expected > 0)", "noise: 0 counts per unit");
  im.v[2] = -1;
  BAD(rkin_image_poisson(&im, 10, 1, &err), RKIN_EINVAL, "noise: voxel 2 is "
      "-1 (expected a finite value >= 0)", "noise: a negative voxel");
  rkin_image_free(&im);
  rkin_image_free(&lab);
  rkin_image_free(&out);
}

static void test_nifti(void)
{
  rkin_grid g;
  rkin_image im = {0}, rd = {0};
  char path[] = "/tmp/rkin_errmsg_XXXXXX";
  int fd;
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  BAD(rkin_nifti_read("", &rd, &err), RKIN_EINVAL, "NIfTI read: empty path",
      "read: empty path");
  BAD(rkin_nifti_read("/nonexistent/x.nii", &rd, &err) != 0, 1,
      "/nonexistent/x.nii: not a readable NIfTI-1/2 file (missing, "
      "unreadable or a bad header)", "read: a missing file");
  if (rkin_image_alloc(&im, &g, &err)) return;
  BAD(rkin_nifti_write("", &im, 1, &err), RKIN_EINVAL, "NIfTI write: empty "
      "path", "write: empty path");
  BAD(rkin_nifti_write("/tmp/x.img", &im, 1, &err), RKIN_EINVAL,
      "/tmp/x.img: expected a name ending in .nii or .nii.gz",
      "write: a name without .nii");
  BAD(rkin_nifti_write("/tmp/x.nii", &im, 3, &err), RKIN_EINVAL,
      "/tmp/x.nii: NIfTI version 3 (expected 1 or 2)", "write: version 3");
  /* a file that is not NIfTI */
  fd = mkstemp(path);
  if (fd >= 0) {
    char nii[64];
    if (write(fd, "hello", 5) != 5) diag("short write");
    close(fd);
    snprintf(nii, sizeof nii, "%s.nii", path);
    if (rename(path, nii) == 0) {
      rkin_err_clear(&err);
      ok(rkin_nifti_read(nii, &rd, &err) != 0, "read: a text file refused");
      like(err.msg, "not a readable NIfTI-1/2 file", "... named as not "
           "NIfTI");
      unlink(nii);
    } else {
      unlink(path);
    }
  }
  rkin_image_free(&im);
  rkin_image_free(&rd);
}

static void test_phantom(void)
{
  rkin_phantom p;
  rkin_grid g;
  rkin_image act = {0};
  rkin_phantom_default(&p, 8, 4);
  p.organ[0].c0 = -1;
  BAD(rkin_phantom_grid(&p, &g, &err), RKIN_EINVAL, "c0 = -1 Bq/mL (expected "
      "a finite concentration >= 0)", "phantom: a negative concentration");
  rkin_phantom_default(&p, 8, 4);
  p.organ[1].lambda_h = 0;
  BAD(rkin_phantom_grid(&p, &g, &err), RKIN_EINVAL, "lambda = 0 /h "
      "(expected a finite clearance rate > 0)", "phantom: lambda 0");
  rkin_phantom_default(&p, 8, 4);
  p.organ[1].uptake_h = p.organ[1].lambda_h / 2;
  BAD(rkin_phantom_grid(&p, &g, &err), RKIN_EINVAL, "(expected 0, or more "
      "than lambda = ", "phantom: uptake slower than washout");
  rkin_phantom_default(&p, 8, 4);
  p.n_spheres = RKIN_PH_MAX_SPHERES + 1;
  BAD(rkin_phantom_grid(&p, &g, &err), RKIN_EINVAL, "phantom: ",
      "phantom: too many spheres");
  like(err.msg, "spheres (at most", "... says the most");
  rkin_phantom_default(&p, 8, 4);
  p.sphere[0].radius_mm = 0;
  BAD(rkin_phantom_grid(&p, &g, &err), RKIN_EINVAL, "phantom sphere 1: "
      "radius 0 mm (expected > 0)", "phantom: a sphere of radius 0");
  rkin_phantom_default(&p, 8, 4);
  BAD(rkin_phantom_activity(&p, -1, &act, &err), RKIN_EINVAL,
      "phantom: time -1 h (expected a finite time >= 0)",
      "phantom: a negative time");
  rkin_image_free(&act);
}

/* Writes a valid 2x2x2 float NIfTI-1 file with the engine, then patches
 * `len` bytes at `off` (NIfTI-1 header offsets: dim 40, datatype 70,
 * bitpix 72, srow_x 280, srow_y 296, srow_z 312, data 352) and truncates
 * it to `size` bytes when size > 0. */
static int patched(const char *path, long off, const void *b, size_t len,
                   long size)
{
  rkin_grid g;
  rkin_image im = {0};
  FILE *f;
  int rc;
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  if (rkin_image_alloc(&im, &g, &err)) return -1;
  rc = rkin_nifti_write(path, &im, 1, &err);
  rkin_image_free(&im);
  if (rc) return rc;
  if (len) {
    if (!(f = fopen(path, "r+b"))) return -1;
    fseek(f, off, SEEK_SET);
    fwrite(b, 1, len, f);
    fclose(f);
  }
  if (size > 0 && truncate(path, size) != 0) return -1;
  return 0;
}

static void nifti_bad(const char *path, long off, const void *b, size_t len,
                      long size, const char *part, const char *what)
{
  rkin_image rd = {0};
  if (patched(path, off, b, len, size)) {
    ok(0, "%s: could not write the file (%s)", what, err.msg);
    return;
  }
  rkin_err_clear(&err);
  ok(rkin_nifti_read(path, &rd, &err) != 0, "%s", what);
  like(err.msg, part, "... message: %s", part);
  rkin_image_free(&rd);
  unlink(path);
}

static void test_nifti_files(void)
{
  char dir[] = "/tmp/rkin_errmsg_nii_XXXXXX";
  char path[64];
  const short dim4[5] = {4, 2, 2, 2, 3};
  const short cplx[2] = {32, 64};            /* COMPLEX64, 64 bits */
  const float zero[1] = {0};
  const float nan1[1] = {NAN};
  if (!mkdtemp(dir)) return;
  snprintf(path, sizeof path, "%s/x.nii", dir);
  nifti_bad(path, 40, dim4, sizeof dim4, 0, "-dimensional image with dims "
            "2 x 2 x 2 x 3 (expected one 3D volume)", "NIfTI: a 4D series");
  nifti_bad(path, 70, cplx, sizeof cplx, 0, "voxel type COMPLEX64 is not "
            "supported (expected an integer or real scalar type)",
            "NIfTI: complex voxels");
  nifti_bad(path, 280, zero, sizeof zero, 0, "x.nii: the sform transform "
            "has a zero or non-finite column (no usable voxel spacing)",
            "NIfTI: a zero sform column");
  nifti_bad(path, 0, NULL, 0, 360, "x.nii: could not read the 8 voxels "
            "(file truncated?)", "NIfTI: a truncated file");
  /* stored NaN and inf voxels are refused before nifticlib would read
   * them as 0 (test_errmsg_nifti.c); here a finite voxel made
   * non-finite by the scaling: voxel 10 with scl_slope 1e38 (offset
   * 112) is 1e39, beyond float */
  {
    const float ten[1] = {10}, big[1] = {1e38f};
    if (patched(path, 352, ten, sizeof ten, 0) == 0) {
      rkin_image rd = {0};
      FILE *f = fopen(path, "r+b");
      if (f) {
        fseek(f, 112, SEEK_SET);
        fwrite(big, 1, sizeof big, f);
        fclose(f);
      }
      rkin_err_clear(&err);
      ok(rkin_nifti_read(path, &rd, &err) != 0, "NIfTI: a voxel scaled "
         "beyond float");
      like(err.msg, "x.nii: voxel (0,0,0) is 1e+39 (expected a finite "
           "value)", "... message names the voxel and its value");
      rkin_image_free(&rd);
      unlink(path);
    }
  }
  (void)nan1;
  rmdir(dir);
}

int main(void)
{
  rkin_init();
  test_grid();
  test_ops();
  test_nifti();
  test_phantom();
  test_nifti_files();
  done_testing();
  return exit_status();
}
