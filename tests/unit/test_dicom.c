/* test_dicom.c - RT Dose written and read back through DCMTK: values
 * within the stored precision (DoseGridScaling = max / (2^32 - 1)),
 * geometry (origin, spacing, direction incl. a flipped slice axis) and the
 * frame of reference preserved; bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/dicom.h"
#include "../tap.h"

static void round_trip(const char *dir, const char *name, const rkin_grid *g)
{
  rkin_image a, b;
  rkin_err e;
  char path[512], fuid[80];
  size_t i, n = rkin_grid_count(g);
  double mx = 0.0, maxerr = 0.0, dg = 0.0;
  int k;
  rkin_image_alloc(&a, g, &e);
  for (i = 0; i < n; i++) {
    a.v[i] = (float)(0.37 * (double)(i % 101) + 1e-3 * (double)i);
    mx = fmax(mx, a.v[i]);
  }
  snprintf(path, sizeof path, "%s/%s", dir, name);
  ok(rkin_dicom_write_rtdose(path, &a, "1.2.826.0.1.3680043.2.1125.1.42", &e)
         == 0, "%s written%s%s", name, e.code ? ": " : "",
     e.code ? e.msg : "");
  ok(rkin_dicom_read(path, &b, fuid, &e) == 0, "%s read back%s%s", name,
     e.code ? ": " : "", e.code ? e.msg : "");
  if (!b.v) return;
  for (i = 0; i < n; i++) maxerr = fmax(maxerr, fabs(b.v[i] - a.v[i]));
  /* one quantum of max / (2^32 - 1), plus the float of the value */
  ok(maxerr <= mx / 4294967295.0 + 1e-7 * mx, "%s: values within the stored "
     "precision (max err %.3g Gy, max %.3g Gy)", name, maxerr, mx);
  for (k = 0; k < 3; k++) {
    ok(a.g.n[k] == b.g.n[k], "%s: dim %d", name, k + 1);
    dg = fmax(dg, fabs(a.g.spacing[k] - b.g.spacing[k]));
    dg = fmax(dg, fabs(a.g.origin[k] - b.g.origin[k]));
  }
  for (k = 0; k < 9; k++) dg = fmax(dg, fabs(a.g.dir[k] - b.g.dir[k]));
  ok(dg < 1e-6, "%s: origin, spacing, direction preserved (max diff %g)",
     name, dg);
  ok(strcmp(fuid, "1.2.826.0.1.3680043.2.1125.1.42") == 0, "%s: frame of "
     "reference kept (%s)", name, fuid);
  ok(strcmp(b.unit, "Gy") == 0, "%s: unit Gy", name);
  rkin_image_free(&a);
  rkin_image_free(&b);
  unlink(path);
}

int main(void)
{
  char dir[] = "/tmp/rk_test_dicom_XXXXXX", path[512];
  rkin_grid g;
  rkin_image a, b;
  rkin_err e;
  double c = cos(0.4), s = sin(0.4);
  if (!mkdtemp(dir)) return 1;
  rkin_grid_init(&g, 9, 7, 5, 4.42, 3.9, 5.0);
  g.origin[0] = -120.5; g.origin[1] = 33.25; g.origin[2] = -7.0;
  round_trip(dir, "axial.dcm", &g);
  /* rotated about z, slice axis flipped (k runs against row x column) */
  g.dir[0] = c; g.dir[1] = -s; g.dir[2] = 0;
  g.dir[3] = s; g.dir[4] = c;  g.dir[5] = 0;
  g.dir[6] = 0; g.dir[7] = 0;  g.dir[8] = -1;
  round_trip(dir, "rotated.dcm", &g);
  /* non-uniform slices: an RT Dose whose GridFrameOffsetVector
   * "0\5\10\15\20" is patched in the file to "0\5\11\15\20" */
  {
    rkin_grid g2;
    FILE *f;
    char *buf;
    long len;
    const char *pat = "0\\5\\10\\15\\20";
    size_t pl = strlen(pat), at;
    int found = 0;
    rkin_grid_init(&g2, 4, 4, 5, 2.0, 2.0, 5.0);
    rkin_image_alloc(&a, &g2, &e);
    a.v[3] = 2.0f;
    snprintf(path, sizeof path, "%s/slices.dcm", dir);
    rkin_dicom_write_rtdose(path, &a, NULL, &e);
    rkin_image_free(&a);
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc((size_t)len);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) len = 0;
    fclose(f);
    for (at = 0; at + pl <= (size_t)len; at++)
      if (memcmp(buf + at, pat, pl) == 0) {
        buf[at + 5] = '1';
        found = 1;
        break;
      }
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)len, f);
    fclose(f);
    free(buf);
    ok(found, "offsets found in the file to patch");
    ok(rkin_dicom_read(path, &b, NULL, &e) == RKIN_EINVAL &&
           strstr(e.msg, "non-uniform") && strstr(e.msg, "3004,000C"),
       "non-uniform slice spacing: %s", e.msg);
    unlink(path);
  }
  /* a series of single-slice files (written in shuffled order) */
  {
    char sdir[600], f[700];
    const int order[5] = {3, 0, 4, 1, 2};
    int q, bad = 0;
    rkin_grid g1;
    char fuid[80];
    snprintf(sdir, sizeof sdir, "%s/series", dir);
    mkdir(sdir, 0755);
    rkin_grid_init(&g1, 6, 4, 1, 0.98, 0.98, 1.0);
    for (q = 0; q < 5; q++) {
      int k = order[q];
      rkin_image_alloc(&a, &g1, &e);
      g1.origin[2] = 10.0 + 3.0 * k;
      a.g = g1;
      a.v[0] = (float)(100 + k);
      a.v[23] = 1.0f;
      snprintf(f, sizeof f, "%s/s%d.dcm", sdir, q);
      if (rkin_dicom_write_rtdose_series(f, &a, "1.2.3", "1.2.3.9", &e) < 0)
        bad++;
      rkin_image_free(&a);
    }
    ok(bad == 0, "5 slices written");
    ok(rkin_dicom_read_series(sdir, &b, fuid, &e) == 0, "series read%s%s",
       e.code ? ": " : "", e.code ? e.msg : "");
    if (b.v) {
      for (q = 0, bad = 0; q < 5; q++)
        bad += fabs(b.v[q * 24] - (100 + q)) > 1e-6 * 104;
      ok(b.g.n[2] == 5 && bad == 0, "slices ordered along z (first voxels "
         "100..104)");
      is_double(b.g.spacing[2], 3.0, 1e-9, "slice spacing 3 mm");
      is_double(b.g.origin[2], 10.0, 1e-9, "origin at the lowest slice");
      is_double(b.g.spacing[0], 0.98, 1e-9, "pixel spacing");
      rkin_image_free(&b);
    }
    /* remove slice k = 2 (file s4): non-uniform spacing */
    snprintf(f, sizeof f, "%s/s4.dcm", sdir);
    unlink(f);
    ok(rkin_dicom_read_series(sdir, &b, NULL, &e) == RKIN_EINVAL &&
           strstr(e.msg, "non-uniform slice spacing") &&
           strstr(e.msg, "missing"), "missing slice: %s", e.msg);
    /* a slice of another frame of reference */
    rkin_image_alloc(&a, &g1, &e);
    a.g.origin[2] = 16.0;
    snprintf(f, sizeof f, "%s/s4.dcm", sdir);
    rkin_dicom_write_rtdose_series(f, &a, "9.9.9", "1.2.3.9", &e);
    rkin_image_free(&a);
    ok(rkin_dicom_read_series(sdir, &b, NULL, &e) == RKIN_EINVAL &&
           strstr(e.msg, "frames of reference"), "another frame of "
       "reference: %s", e.msg);
    for (q = 0; q < 5; q++) {
      snprintf(f, sizeof f, "%s/s%d.dcm", sdir, q);
      unlink(f);
    }
    rmdir(sdir);
  }
  /* bad input */
  snprintf(path, sizeof path, "%s/text.dcm", dir);
  {
    FILE *f = fopen(path, "w");
    fputs("not DICOM\n", f);
    fclose(f);
  }
  ok(rkin_dicom_read(path, &b, NULL, &e) < 0 && strstr(e.msg, "text.dcm"),
     "not DICOM: %s", e.msg);
  unlink(path);
  rkin_grid_init(&g, 3, 3, 3, 1, 1, 1);
  rkin_image_alloc(&a, &g, &e);
  a.v[4] = -1.0f;
  snprintf(path, sizeof path, "%s/neg.dcm", dir);
  ok(rkin_dicom_write_rtdose(path, &a, NULL, &e) == RKIN_EINVAL &&
         strstr(e.msg, "voxel 4"), "negative dose: %s", e.msg);
  {
    struct stat st;
    ok(stat(path, &st) != 0, "... and no file written");
  }
  a.v[4] = 1.0f;
  snprintf(path, sizeof path, "%s/sub", dir);
  mkdir(path, 0755);
  ok(rkin_dicom_write_rtdose(path, &a, NULL, &e) == RKIN_EIO &&
         strstr(e.msg, "not a regular file"), "directory refused: %s", e.msg);
  rmdir(path);
  rkin_image_free(&a);
  rmdir(dir);
  done_testing();
  return exit_status();
}
