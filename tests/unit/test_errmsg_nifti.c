/* test_errmsg_nifti.c - non-finite voxels of a float NIfTI are refused,
 * naming the file and the first bad voxel (nifticlib itself would read
 * them as 0), and rkin_dicom_nm_info_read refuses a NULL result; the
 * remaining messages of NIfTI writing and of the image helpers (clip,
 * grow, phantom) (issue 22 item 3). Files are written by the test: a 2x2x2 FLOAT32
 * image by rkin_nifti_write, then voxels (data at byte 352 of a
 * single-file NIfTI-1) or the datatype (bytes 70..73) patched. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/init.h"
#include "image/image.h"
#include "image/dicom.h"
#include "image/phantom.h"
#include "../tap.h"

#include <nifti/znzlib.h>

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
       "phantom organ 2: lambda = 0 /h (expected a finite clearance rate "
       "> 0)", "phantom: an organ's rate 0");
  rkin_phantom_default(&p, 8, 4);
  p.sphere[0].tac.c0 = -2;
  BAD2(rkin_phantom_grid(&p, &g, &err), RKIN_EINVAL,
       "phantom sphere 1: c0 = -2 Bq/mL (expected a finite concentration "
       ">= 0)", "phantom: a sphere's "
       "negative concentration");
}

/* A small file whose header declares 512^3 voxels (the most accepted) is
 * refused by counting the stored voxels before nifticlib allocates a
 * buffer for all of them (1 GB for FLOAT64): the message says how many
 * the file holds; also through gzip. Without the count nifticlib's load
 * fails later with only "could not read the 134217728 voxels". */
static void test_huge_dims(void)
{
  const short dims[4] = {3, 512, 512, 512};
  const short f64[2] = {64, 64};             /* FLOAT64, 64 bits */
  char path[96], gz[96], want[192];
  rkin_image rd = {0};
  FILE *f;
  znzFile z;
  char buf[512];
  size_t len;
  snprintf(path, sizeof path, "%s/huge.nii", dir);
  if (write_patched(path, 40, dims, sizeof dims) ||
      !(f = fopen(path, "r+b"))) {
    ok(0, "write huge.nii: %s", err.msg);
    return;
  }
  fseek(f, 70, SEEK_SET);
  fwrite(f64, 1, sizeof f64, f);
  fclose(f);
  rkin_err_clear(&err);
  is_int(rkin_nifti_read(path, &rd, &err), RKIN_EIO, "NIfTI declaring "
         "512^3 FLOAT64 voxels with 32 bytes of data: refused");
  like(err.msg, "huge.nii: could not read the 134217728 voxels (file "
       "truncated?)", "... message names the file and the count");
  snprintf(want, sizeof want, "%s holds 4 of them (8 bytes each from byte "
           "352)", path);
  like(err.msg, want, "... and what the file holds");
  ok(rd.v == NULL, "... no image is left allocated");
  /* the same bytes gzipped */
  snprintf(gz, sizeof gz, "%s/hugez.nii.gz", dir);
  f = fopen(path, "rb");
  len = f ? fread(buf, 1, sizeof buf, f) : 0;
  if (f) fclose(f);
  z = znzopen(gz, "wb", 1);
  if (!znz_isnull(z)) {
    znzwrite(buf, 1, len, z);
    znzclose(z);
  }
  rkin_err_clear(&err);
  is_int(rkin_nifti_read(gz, &rd, &err), RKIN_EIO, "the same, gzipped: "
         "refused");
  snprintf(want, sizeof want, "hugez.nii.gz: could not read the 134217728 "
           "voxels (file truncated?): %s holds 4 of them", gz);
  like(err.msg, want, "... message: %s", want);
  ok(len == 384, "(the file was 384 bytes)");
  unlink(path);
  unlink(gz);
}

/* A spacing that would make the voxel volume 0 or absurd is refused
 * (a fuzzed NIfTI had 2.2e-43 mm): 1e-4 to 1e5 mm is accepted. */
static void test_spacing_range(void)
{
  rkin_grid g;
  rkin_grid_init(&g, 2, 2, 2, 1, 2.24e-43, 1);
  BAD2(rkin_grid_check(&g, "tiny", &err), RKIN_ERANGE, "tiny: voxel "
       "spacing along axis 2 is 2.24e-43 mm (expected 0.0001 to 100000 mm)",
       "a denormal spacing is refused");
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 2e5);
  BAD2(rkin_grid_check(&g, "huge", &err), RKIN_ERANGE, "huge: voxel "
       "spacing along axis 3 is 200000 mm", "a 200 m spacing is refused");
  /* an origin of -3.1e231 mm (a fuzzed NIfTI-2) read, then written as
   * NIfTI-1's float transform, gave a file that did not read back */
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  g.origin[1] = -3.1e231;
  BAD2(rkin_grid_check(&g, "far", &err), RKIN_ERANGE, "far: origin along "
       "axis 2 is -3.1e+231 mm (expected within 1e+09 mm)", "an origin "
       "beyond float range is refused");
  g.origin[1] = -1e9;
  rkin_err_clear(&err);
  is_int(rkin_grid_check(&g, "far", &err), RKIN_OK, "an origin of 1,000 km "
         "is accepted (%s)", err.msg);
  rkin_grid_init(&g, 2, 2, 2, 1e-4, 1e5, 1);
  rkin_err_clear(&err);
  is_int(rkin_grid_check(&g, "edges", &err), RKIN_OK, "0.1 um and 100 m "
         "are accepted (%s)", err.msg);
}

/* dim[0] outside 1..7 in both byte orders: nifticlib's NIfTI-2 header
 * conversion then writes past its copy of the header (a stack overflow
 * found by fuzzing); refused before nifticlib sees it. NIfTI-2 data
 * start at byte 544, dim[0] is the int64 at byte 16; NIfTI-1's the int16
 * at byte 40. */
static void test_dim0(void)
{
  char path[96];
  rkin_grid g;
  rkin_image im = {0}, rd = {0};
  const int64_t d2 = INT64_C(0x0010000000000003);
  const short d1 = 9;
  unsigned char h[576];
  int32_t i32;
  int16_t i16;
  int64_t i64;
  double one = 1.0;
  int k;
  FILE *f;
  /* a NIfTI-2 file by hand (byte by byte, so dim[0] can be patched):
   * sizeof_hdr 540, magic, FLOAT32, dims 2 x 2 x 2, unit pixdims, data
   * from byte 544 */
  memset(h, 0, sizeof h);
  i32 = 540;
  memcpy(h, &i32, 4);
  memcpy(h + 4, "n+2\0\r\n\032\n", 8);
  i16 = 16;
  memcpy(h + 12, &i16, 2);
  i16 = 32;
  memcpy(h + 14, &i16, 2);
  memcpy(h + 16, &d2, 8);
  for (k = 1; k < 8; k++) {
    i64 = k <= 3 ? 2 : 1;
    memcpy(h + 16 + 8 * k, &i64, 8);
  }
  for (k = 0; k < 4; k++) memcpy(h + 104 + 8 * k, &one, 8);
  i64 = 544;
  memcpy(h + 168, &i64, 8);
  snprintf(path, sizeof path, "%s/dim0.nii", dir);
  if ((f = fopen(path, "wb"))) {
    fwrite(h, 1, sizeof h, f);
    fclose(f);
  }
  rkin_err_clear(&err);
  is_int(rkin_nifti_read(path, &rd, &err), RKIN_EINVAL, "NIfTI-2 with "
         "dim[0] = 2^52 + 3: refused, no crash");
  like(err.msg, "dim0.nii: NIfTI-2 header gives dim[0] = 4503599627370499 "
       "(expected 1 to 7 dimensions)", "... message names the file and "
       "dim[0]");
  ok(rd.v == NULL, "... no image is left allocated");
  /* the same header with dim[0] = 3 reads */
  i64 = 3;
  memcpy(h + 16, &i64, 8);
  if ((f = fopen(path, "wb"))) {
    fwrite(h, 1, sizeof h, f);
    fclose(f);
  }
  rkin_err_clear(&err);
  is_int(rkin_nifti_read(path, &rd, &err), RKIN_OK, "... with dim[0] = 3 "
         "it reads (%s)", err.msg);
  ok(rd.g.n[0] == 2 && rd.g.n[2] == 2, "... as 2 x 2 x 2");
  rkin_image_free(&rd);
  unlink(path);
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  if (rkin_image_alloc(&im, &g, &err) == 0 &&
      rkin_nifti_write(path, &im, 1, &err) == 0 && (f = fopen(path, "r+b"))) {
    fseek(f, 40, SEEK_SET);
    fwrite(&d1, 1, sizeof d1, f);
    fclose(f);
    rkin_err_clear(&err);
    is_int(rkin_nifti_read(path, &rd, &err), RKIN_EINVAL, "NIfTI-1 with "
           "dim[0] = 9: refused");
    like(err.msg, "dim0.nii: NIfTI-1 header gives dim[0] = 9 (expected 1 "
         "to 7 dimensions)", "... message names the file and dim[0]");
  } else {
    ok(0, "write dim0.nii (NIfTI-1): %s", err.msg);
  }
  unlink(path);
  rkin_image_free(&im);
}

/* A dimension below 1 among dim[1..dim[0]]: refused by the reader with
 * the field and its value, before nifticlib, which would print its own
 * "bad dim" line on stderr (so stderr is captured: it must stay empty).
 * NIfTI-1's int16 dim[k] is at byte 40 + 2k, NIfTI-2's int64 at
 * 16 + 8k. */
static void dims_refused(const char *path, const char *part, const char *what)
{
  char log[96], buf[256];
  rkin_image rd = {0};
  int saved, fd, rc;
  ssize_t got = 0;
  snprintf(log, sizeof log, "%s/stderr.txt", dir);
  fflush(stderr);
  saved = dup(2);
  fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (saved < 0 || fd < 0 || dup2(fd, 2) < 0) {
    ok(0, "%s: stderr not captured", what);
    return;
  }
  close(fd);
  rkin_err_clear(&err);
  rc = rkin_nifti_read(path, &rd, &err);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  if ((fd = open(log, O_RDONLY)) >= 0) {
    got = read(fd, buf, sizeof buf - 1);
    close(fd);
  }
  unlink(log);
  buf[got > 0 ? got : 0] = 0;
  is_int(rc, RKIN_EINVAL, "%s", what);
  like(err.msg, part, "... message: %s", part);
  ok(got == 0, "... nothing printed on stderr (%s)", buf);
  ok(rd.v == NULL, "... no image is left allocated");
}

static void test_dims(void)
{
  char path[96];
  rkin_grid g;
  rkin_image im = {0};
  const short zero = 0, neg = -4;
  const int64_t neg2 = -7;
  FILE *f;
  snprintf(path, sizeof path, "%s/dims.nii", dir);
  if (write_patched(path, 40 + 2 * 2, &zero, sizeof zero) == 0)
    dims_refused(path, "dims.nii: NIfTI-1 header gives dim[2] = 0 "
                 "(expected >= 1: each of the dim[0] = 3 dimensions holds "
                 "a voxel)", "NIfTI-1 with dim[2] = 0 refused");
  else ok(0, "write dims.nii: %s", err.msg);
  if (write_patched(path, 40 + 2 * 3, &neg, sizeof neg) == 0)
    dims_refused(path, "dims.nii: NIfTI-1 header gives dim[3] = -4 "
                 "(expected >= 1: each of the dim[0] = 3 dimensions holds "
                 "a voxel)", "NIfTI-1 with dim[3] = -4 refused");
  else ok(0, "write dims.nii: %s", err.msg);
  rkin_grid_init(&g, 2, 2, 2, 1, 1, 1);
  if (rkin_image_alloc(&im, &g, &err) == 0 &&
      rkin_nifti_write(path, &im, 2, &err) == 0 && (f = fopen(path, "r+b"))) {
    fseek(f, 16 + 8 * 1, SEEK_SET);
    fwrite(&neg2, 1, sizeof neg2, f);
    fclose(f);
    dims_refused(path, "dims.nii: NIfTI-2 header gives dim[1] = -7 "
                 "(expected >= 1: each of the dim[0] = 3 dimensions holds "
                 "a voxel)", "NIfTI-2 with dim[1] = -7 refused");
  } else {
    ok(0, "write dims.nii (NIfTI-2): %s", err.msg);
  }
  rkin_image_free(&im);
  unlink(path);
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
  test_huge_dims();
  test_spacing_range();
  test_dim0();
  test_dims();
  test_dicom_null();
  rmdir(dir);
  done_testing();
  return exit_status();
}
