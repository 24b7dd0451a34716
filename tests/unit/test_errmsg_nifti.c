/* test_errmsg_nifti.c - non-finite voxels of a float NIfTI are refused,
 * naming the file and the first bad voxel (nifticlib itself would read
 * them as 0), and rkin_dicom_nm_info_read refuses a NULL result; the
 * remaining messages of NIfTI writing and of the image helpers (clip,
 * grow, phantom) (issue 22 item 3). Files are written by the test: a 2x2x2 FLOAT32
 * image by rkin_nifti_write, then voxels (data at byte 352 of a
 * single-file NIfTI-1) or the datatype (bytes 70..73) patched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/init.h"
#include "image/image.h"
#include "image/dicom.h"
#include "image/phantom.h"
#include "../tap.h"

static rkin_err err;

#define BAD2(call, code, part, what)                                      \
  do {                                                                    \
    rkin_err_clear(&err);                                                 \
    is_int((long)(call), (long)(code), "%s", what);                       \
    like(err.msg, part, "... message: %s", part);                         \
  } while (0)

static char dir[] = "/tmp/rkin_errmsg_nan_XXXXXX";

/* A 2x2x2 image of voxel values 1..8 written to path; then len bytes of b
 * written at offset off (len 0: nothing). */
static int write_patched(const char *path, long off, const void *b,
                         size_t len)
{
  rkin_grid g;
  rkin_image im = {0};
  FILE *f;
  int rc, i;
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  if (rkin_image_alloc(&im, &g, &err)) return -1;
  for (i = 0; i < 8; i++) im.v[i] = (float)(i + 1);
  rc = rkin_nifti_write(path, &im, 1, &err);
  rkin_image_free(&im);
  if (rc || !len) return rc;
  if (!(f = fopen(path, "r+b"))) return -1;
  fseek(f, off, SEEK_SET);
  fwrite(b, 1, len, f);
  fclose(f);
  return 0;
}

static void refused(const char *path, const char *part, const char *what)
{
  rkin_image rd = {0};
  int rc;
  rkin_err_clear(&err);
  rc = rkin_nifti_read(path, &rd, &err);
  is_int(rc, RKIN_ENONFINITE, "%s: refused", what);
  like(err.msg, part, "... message: %s", part);
  ok(rd.v == NULL, "... no image is left allocated");
  rkin_image_free(&rd);
}

static void test_float32(void)
{
  char path[96];
  const float nan1[1] = {NAN}, inf1[1] = {INFINITY};
  rkin_image rd = {0};
  snprintf(path, sizeof path, "%s/nan.nii", dir);
  /* voxel index 5 = (1,0,1) */
  if (write_patched(path, 352 + 4 * 5, nan1, sizeof nan1) == 0)
    refused(path, "nan.nii: stored voxel (1,0,1) (index 5) is nan "
            "(expected a finite value", "FLOAT32 NIfTI with a NaN");
  else ok(0, "write nan.nii: %s", err.msg);
  unlink(path);
  /* an Inf at index 2 = (0,1,0) and a NaN after it: the first is named */
  snprintf(path, sizeof path, "%s/inf.nii", dir);
  if (write_patched(path, 352 + 4 * 2, inf1, sizeof inf1) == 0) {
    FILE *f = fopen(path, "r+b");
    if (f) {
      fseek(f, 352 + 4 * 7, SEEK_SET);
      fwrite(nan1, 1, sizeof nan1, f);
      fclose(f);
    }
    refused(path, "inf.nii: stored voxel (0,1,0) (index 2) is inf",
            "FLOAT32 NIfTI with an Inf (first of two bad voxels)");
  } else ok(0, "write inf.nii: %s", err.msg);
  unlink(path);
  /* the last voxel: the scan reaches the end of the data */
  snprintf(path, sizeof path, "%s/last.nii", dir);
  {
    const float minf[1] = {-INFINITY};
    if (write_patched(path, 352 + 4 * 7, minf, sizeof minf) == 0)
      refused(path, "last.nii: stored voxel (1,1,1) (index 7) is -inf",
              "FLOAT32 NIfTI with -Inf in the last voxel");
    else ok(0, "write last.nii: %s", err.msg);
  }
  unlink(path);
  /* the same file with finite voxels reads, values intact */
  snprintf(path, sizeof path, "%s/ok.nii", dir);
  if (write_patched(path, 0, NULL, 0) == 0) {
    rkin_err_clear(&err);
    is_int(rkin_nifti_read(path, &rd, &err), RKIN_OK, "finite FLOAT32 "
           "NIfTI reads");
    ok(rd.v && rd.v[0] == 1.0f && rd.v[7] == 8.0f, "... voxels 1 and 8 "
       "intact");
    rkin_image_free(&rd);
  }
  unlink(path);
}

/* FLOAT64 (datatype 64, bitpix 64): the 8 doubles replace the floats */
static void test_float64(void)
{
  char path[96];
  const short type[2] = {64, 64};
  double d[8];
  rkin_image rd = {0};
  FILE *f;
  int i;
  for (i = 0; i < 8; i++) d[i] = i + 1;
  d[3] = NAN;
  snprintf(path, sizeof path, "%s/d.nii", dir);
  if (write_patched(path, 70, type, sizeof type) || !(f = fopen(path, "r+b"))) {
    ok(0, "write d.nii: %s", err.msg);
    return;
  }
  fseek(f, 352, SEEK_SET);
  fwrite(d, 1, sizeof d, f);
  fclose(f);
  refused(path, "d.nii: stored voxel (1,1,0) (index 3) is nan",
          "FLOAT64 NIfTI with a NaN");
  /* finite doubles read (the scan reads 8-byte values, not 4) */
  d[3] = 4;
  if ((f = fopen(path, "r+b"))) {
    fseek(f, 352, SEEK_SET);
    fwrite(d, 1, sizeof d, f);
    fclose(f);
  }
  rkin_err_clear(&err);
  is_int(rkin_nifti_read(path, &rd, &err), RKIN_OK, "finite FLOAT64 NIfTI "
         "reads");
  ok(rd.v && rd.v[3] == 4.0f && rd.v[7] == 8.0f, "... voxels intact");
  rkin_image_free(&rd);
  unlink(path);
}

/* a gzipped file: the scan goes through nifticlib's znz layer */
static void test_gz(void)
{
  char path[96];
  rkin_grid g;
  rkin_image im = {0};
  rkin_grid_init(&g, 3, 2, 2, 1, 1, 1);
  snprintf(path, sizeof path, "%s/z.nii.gz", dir);
  if (rkin_image_alloc(&im, &g, &err)) return;
  im.v[4] = INFINITY;
  rkin_err_clear(&err);
  if (rkin_nifti_write(path, &im, 2, &err) == 0)
    refused(path, "z.nii.gz: stored voxel (1,1,0) (index 4) is inf",
            "gzipped NIfTI-2 with an Inf");
  else
    like(err.msg, "z.nii.gz", "the writer refuses an Inf instead, naming "
         "the file");
  rkin_image_free(&im);
  unlink(path);
}

/* writing refused: a folder in the way, a folder that is not there; a
 * header with a zero dimension; the image helpers */
static void test_misc(void)
{
  char path[96];
  rkin_grid g;
  rkin_image im = {0}, rd = {0};
  unsigned char mask[8] = {0};
  size_t n;
  rkin_phantom p;
  const short dim0[1] = {0};
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  if (rkin_image_alloc(&im, &g, &err)) return;
  snprintf(path, sizeof path, "%s/d.nii", dir);
  mkdir(path, 0700);
  rkin_err_clear(&err);
  ok(rkin_nifti_write(path, &im, 1, &err) < 0, "write onto a folder "
     "refused");
  like(err.msg, "d.nii: exists and is not a regular file (refusing to "
       "replace it)", "... message names the file");
  rmdir(path);
  snprintf(path, sizeof path, "%s/none/x.nii", dir);
  rkin_err_clear(&err);
  ok(rkin_nifti_write(path, &im, 1, &err) < 0, "write into a missing "
     "folder refused");
  like(err.msg, "none/x.nii: cannot create the temporary ", "... message "
       "names the file");
  /* dim[2] (bytes 42..43) = 0 */
  snprintf(path, sizeof path, "%s/z.nii", dir);
  if (write_patched(path, 42, dim0, sizeof dim0) == 0) {
    rkin_err_clear(&err);
    ok(rkin_nifti_read(path, &rd, &err) < 0, "a zero dimension refused");
    ok(strstr(err.msg, "z.nii") != NULL, "... naming the file: %s",
       err.msg);
    rkin_image_free(&rd);
  }
  unlink(path);
  im.v[6] = NAN;
  BAD2(rkin_image_clip_negative(&im, &n, &err), RKIN_ENONFINITE,
       "voxel (0,1,1) is not finite (nan)", "clip: a NaN voxel");
  BAD2(rkin_mask_grow(&g, mask, 2000, &n, &err), RKIN_EINVAL,
       "mask grow: 2000 steps (expected -1000..1000 voxels)",
       "grow: 2000 steps");
  rkin_image_free(&im);
  snprintf(path, sizeof path, "%s/t.dcm", dir);
  {
    FILE *f = fopen(path, "w");
    if (f) {
      fputs("not DICOM\n", f);
      fclose(f);
    }
  }
  BAD2(rkin_dicom_read(path, &rd, NULL, &err), RKIN_EIO,
       "t.dcm: not a readable DICOM file (", "DICOM: a text file");
  rkin_image_free(&rd);
  unlink(path);
  rkin_phantom_default(&p, 8, 4);
  p.organ[1].lambda_h = 0;
  BAD2(rkin_phantom_grid(&p, &g, &err), RKIN_EINVAL,
       "lambda = 0 /h (expected > 0)", "phantom: an organ's rate 0");
  rkin_phantom_default(&p, 8, 4);
  p.sphere[0].tac.c0 = -2;
  BAD2(rkin_phantom_grid(&p, &g, &err), RKIN_EINVAL,
       "c0 = -2 (expected a finite value >= 0)", "phantom: a sphere's "
       "negative concentration");
}

static void test_dicom_null(void)
{
  rkin_err_clear(&err);
  is_int(rkin_dicom_nm_info_read("/tmp/x.dcm", NULL, &err), RKIN_EINVAL,
         "DICOM NM info: a NULL result is refused, no crash");
  like(err.msg, "DICOM NM info of /tmp/x.dcm: no result structure given "
       "(info is NULL)", "... message names the file and the argument");
}

int main(void)
{
  rkin_init();
  if (!mkdtemp(dir)) {
    diag("mkdtemp failed");
    return 1;
  }
  test_float32();
  test_float64();
  test_gz();
  test_misc();
  test_dicom_null();
  rmdir(dir);
  done_testing();
  return exit_status();
}
