/* test_image.c - engine/image: geometry, NIfTI-1/2 round trips through
 * nifticlib, resampling (trilinear with activity conservation, nearest for
 * labels, rigid transforms), masks, VOI statistics, bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "../tap.h"

static char tmpdir[256];

static void path_in_tmp(char *buf, size_t n, const char *name)
{
  snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* A rotated, anisotropic grid: 30 degrees about z, then axes permuted. */
static void rotated_grid(rkin_grid *g)
{
  double c = cos(M_PI / 6), s = sin(M_PI / 6);
  rkin_grid_init(g, 7, 5, 4, 2.5, 3.0, 4.25);
  g->origin[0] = -12.5; g->origin[1] = 40.0; g->origin[2] = 7.75;
  /* columns: (c, s, 0), (-s, c, 0), (0, 0, -1) */
  g->dir[0] = c;  g->dir[1] = -s; g->dir[2] = 0;
  g->dir[3] = s;  g->dir[4] = c;  g->dir[5] = 0;
  g->dir[6] = 0;  g->dir[7] = 0;  g->dir[8] = -1;
}

static void test_geometry(void)
{
  rkin_grid g;
  rkin_err e;
  double ijk[3] = {2.0, 3.5, -1.0}, xyz[3], back[3];
  rotated_grid(&g);
  ok(rkin_grid_check(&g, "g", &e) == 0, "rotated grid is valid");
  rkin_grid_to_world(&g, ijk, xyz);
  /* by hand: origin + R diag(s) ijk */
  is_double(xyz[0], -12.5 + cos(M_PI / 6) * 5.0 - sin(M_PI / 6) * 10.5, 1e-12,
            "world x by hand");
  is_double(xyz[2], 7.75 + 4.25, 1e-12, "world z by hand (axis k flipped)");
  rkin_grid_to_index(&g, xyz, back);
  ok(fabs(back[0] - 2) < 1e-12 && fabs(back[1] - 3.5) < 1e-12 &&
         fabs(back[2] + 1) < 1e-12, "index -> world -> index");
  g.dir[0] = 1.0;
  ok(rkin_grid_check(&g, "skewed", &e) == RKIN_EINVAL &&
         strstr(e.msg, "orthonormal"), "non-orthonormal direction: %s", e.msg);
  rkin_grid_init(&g, 600, 600, 600, 1, 1, 1);
  ok(rkin_grid_check(&g, "huge", &e) == RKIN_ERANGE,
     "600^3 voxels refused before allocation: %s", e.msg);
  rkin_grid_init(&g, 4, 4, 4, 1, 0, 1);
  ok(rkin_grid_check(&g, "flat", &e) == RKIN_EINVAL && strstr(e.msg, "axis 2"),
     "zero spacing: %s", e.msg);
}

static void fill_pattern(rkin_image *im)
{
  size_t i, n = rkin_grid_count(&im->g);
  for (i = 0; i < n; i++) im->v[i] = (float)(0.25 * (double)i - 3.0);
}

static void round_trip(const char *name, int version)
{
  rkin_grid g;
  rkin_image a, b;
  rkin_err e;
  char path[512];
  size_t i, n, bad = 0;
  int k;
  double dg = 0.0;
  rotated_grid(&g);
  rkin_image_alloc(&a, &g, &e);
  fill_pattern(&a);
  path_in_tmp(path, sizeof path, name);
  ok(rkin_nifti_write(path, &a, version, &e) == 0, "write %s (NIfTI-%d)%s%s",
     name, version, e.code ? ": " : "", e.code ? e.msg : "");
  ok(rkin_nifti_read(path, &b, &e) == 0, "read %s back", name);
  if (!b.v) return;
  n = rkin_grid_count(&g);
  for (i = 0; i < n; i++) bad += a.v[i] != b.v[i];
  ok(bad == 0 && rkin_grid_count(&b.g) == n, "%s: %zu voxels identical", name,
     n);
  for (k = 0; k < 3; k++) {
    dg = fmax(dg, fabs(a.g.spacing[k] - b.g.spacing[k]));
    dg = fmax(dg, fabs(a.g.origin[k] - b.g.origin[k]));
    ok(a.g.n[k] == b.g.n[k], "%s: dim %d", name, k + 1);
  }
  for (k = 0; k < 9; k++) dg = fmax(dg, fabs(a.g.dir[k] - b.g.dir[k]));
  ok(dg < 1e-5, "%s: spacing, origin, direction preserved (max diff %g)",
     name, dg);
  rkin_image_free(&a);
  rkin_image_free(&b);
}

static void test_nifti(void)
{
  rkin_grid g;
  rkin_image a, b;
  rkin_err e;
  char path[512];
  FILE *f;
  struct stat st;
  round_trip("rt1.nii", 1);
  round_trip("rt2.nii", 2);
  round_trip("rt1.nii.gz", 1);
  /* labels keep their intent */
  rkin_grid_init(&g, 3, 3, 3, 1, 1, 1);
  rkin_image_alloc(&a, &g, &e);
  a.v[13] = 5;
  a.is_label = 1;
  path_in_tmp(path, sizeof path, "lab.nii");
  rkin_nifti_write(path, &a, 1, &e);
  ok(rkin_nifti_read(path, &b, &e) == 0 && b.is_label == 1 && b.v[13] == 5.0f,
     "label map read back as labels");
  rkin_image_free(&b);
  /* bad input */
  path_in_tmp(path, sizeof path, "missing.nii");
  ok(rkin_nifti_read(path, &b, &e) == RKIN_EIO && strstr(e.msg, "missing.nii"),
     "missing file: %s", e.msg);
  path_in_tmp(path, sizeof path, "junk.nii");
  f = fopen(path, "w");
  fputs("this is not a NIfTI header\n", f);
  fclose(f);
  ok(rkin_nifti_read(path, &b, &e) < 0 && strstr(e.msg, "junk.nii"),
     "text file: %s", e.msg);
  /* truncated: header of a 7x5x4 image with half its data */
  {
    rkin_image c;
    char p2[512];
    FILE *in, *out;
    char buf[600];
    size_t got;
    rotated_grid(&g);
    rkin_image_alloc(&c, &g, &e);
    path_in_tmp(p2, sizeof p2, "full.nii");
    rkin_nifti_write(p2, &c, 1, &e);
    in = fopen(p2, "rb");
    path_in_tmp(path, sizeof path, "short.nii");
    out = fopen(path, "wb");
    got = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, got, out);
    fclose(in);
    fclose(out);
    ok(rkin_nifti_read(path, &b, &e) < 0 && strstr(e.msg, "short.nii"),
       "truncated file: %s", e.msg);
    rkin_image_free(&c);
  }
  path_in_tmp(path, sizeof path, "dir.nii");
  mkdir(path, 0755);
  ok(rkin_nifti_write(path, &a, 1, &e) == RKIN_EIO &&
         strstr(e.msg, "not a regular file"), "directory refused: %s", e.msg);
  ok(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "directory left alone");
  rmdir(path);
  path_in_tmp(path, sizeof path, "img.txt");
  ok(rkin_nifti_write(path, &a, 1, &e) == RKIN_EINVAL, "bad suffix: %s", e.msg);
  path_in_tmp(path, sizeof path, "v3.nii");
  ok(rkin_nifti_write(path, &a, 3, &e) == RKIN_EINVAL, "version 3: %s", e.msg);
  path_in_tmp(path, sizeof path, "nodir/x.nii");
  ok(rkin_nifti_write(path, &a, 1, &e) == RKIN_EIO, "missing folder: %s", e.msg);
  rkin_image_free(&a);
}

static double total(const rkin_image *im)
{
  size_t i, n = rkin_grid_count(&im->g);
  double s = 0.0;
  for (i = 0; i < n; i++) s += im->v[i];
  return s * rkin_grid_voxel_ml(&im->g);
}

static void test_resample(void)
{
  rkin_grid gs, gt;
  rkin_image s, t, u;
  rkin_err e;
  rkin_resample_info info;
  size_t i, j, k, idx;
  double maxdiff = 0.0;
  /* a linear field is reproduced exactly by trilinear interpolation */
  rkin_grid_init(&gs, 20, 18, 16, 2.0, 2.0, 2.0);
  rkin_image_alloc(&s, &gs, &e);
  for (k = 0, idx = 0; k < 16; k++)
    for (j = 0; j < 18; j++)
      for (i = 0; i < 20; i++, idx++)
        s.v[idx] = (float)(100.0 + 3.0 * i * 2.0 - 1.5 * j * 2.0 + 0.5 * k * 2.0);
  rkin_grid_init(&gt, 10, 10, 10, 3.0, 3.0, 3.0);
  gt.origin[0] = 1.0; gt.origin[1] = 2.0; gt.origin[2] = 0.5;
  ok(rkin_image_resample(&s, &gt, NULL, 0, &t, &info, &e) == 0,
     "trilinear resample");
  for (k = 0, idx = 0; k < 10; k++)
    for (j = 0; j < 10; j++)
      for (i = 0; i < 10; i++, idx++) {
        double x = 1.0 + 3.0 * i, y = 2.0 + 3.0 * j, z = 0.5 + 3.0 * k;
        double want = 100.0 + 3.0 * x - 1.5 * y + 0.5 * z;
        maxdiff = fmax(maxdiff, fabs(t.v[idx] - want));
      }
  ok(maxdiff < 1e-3, "linear field reproduced (max diff %g)", maxdiff);
  rkin_image_free(&t);
  /* conservation: target covers the source; total activity equal */
  rkin_grid_init(&gt, 10, 9, 8, 4.42, 4.42, 4.42);
  gt.origin[0] = gt.origin[1] = gt.origin[2] = -1.0;
  ok(rkin_image_resample(&s, &gt, NULL, 1, &t, &info, &e) == 0,
     "conserving resample to 4.42 mm");
  is_double(total(&t), total(&s), 1e-6, "total activity conserved (%g)",
            total(&s));
  is_double(info.total_in, total(&s), 1e-9, "source total inside the target");
  ok(fabs(info.scale - 1.0) > 1e-4, "a scale was applied (%g)", info.scale);
  rkin_image_free(&t);
  /* a target that misses the source entirely */
  gt.origin[0] = 1000.0;
  ok(rkin_image_resample(&s, &gt, NULL, 1, &t, &info, &e) == 0 &&
         info.n_outside == rkin_grid_count(&gt) && info.total_in == 0.0,
     "disjoint target: every voxel outside, nothing inside");
  rkin_image_free(&t);
  /* labels: nearest neighbour keeps only existing labels */
  s.is_label = 1;
  for (i = 0; i < rkin_grid_count(&gs); i++) s.v[i] = (float)(i % 3);
  gt.origin[0] = 0.3;
  rkin_image_resample(&s, &gt, NULL, 1, &t, &info, &e);
  for (i = 0, maxdiff = 0; i < rkin_grid_count(&gt); i++)
    if (t.v[i] != 0.0f && t.v[i] != 1.0f && t.v[i] != 2.0f) maxdiff = 1;
  ok(maxdiff == 0 && t.is_label, "label resampling yields only labels");
  rkin_image_free(&t);
  /* rigid transform: a shift by 2 voxels along x */
  s.is_label = 0;
  for (i = 0; i < rkin_grid_count(&gs); i++) s.v[i] = (float)i;
  {
    double xf[16] = {1, 0, 0, 4.0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    rkin_image_resample(&s, &gs, xf, 0, &t, &info, &e);
    ok(t.v[0] == s.v[2] && t.v[(3 * 18 + 4) * 20 + 5] ==
                               s.v[(3 * 18 + 4) * 20 + 7],
       "shift by 4 mm = 2 voxels");
    rkin_image_free(&t);
    xf[0] = 2.0;
    ok(rkin_image_resample(&s, &gs, xf, 0, &t, &info, &e) == RKIN_EINVAL &&
           strstr(e.msg, "rigid"), "non-rigid transform refused: %s", e.msg);
  }
  /* identity */
  rkin_image_resample(&s, &gs, NULL, 1, &u, &info, &e);
  for (i = 0, maxdiff = 0; i < rkin_grid_count(&gs); i++)
    maxdiff = fmax(maxdiff, fabs(u.v[i] - s.v[i]));
  ok(maxdiff == 0.0, "same grid: identical");
  rkin_image_free(&u);
  rkin_image_free(&s);
}

static void test_voi(void)
{
  rkin_grid g;
  rkin_image lab, val;
  rkin_err e;
  rkin_voi_stats st;
  unsigned char mask[64];
  size_t i, cnt, nclip;
  rkin_grid_init(&g, 4, 4, 4, 2, 2, 2);
  rkin_image_alloc(&lab, &g, &e);
  rkin_image_alloc(&val, &g, &e);
  lab.is_label = 1;
  for (i = 0; i < 64; i++) {
    lab.v[i] = i < 10 ? 2 : (i < 16 ? 1 : 0);
    val.v[i] = (float)i;
  }
  ok(rkin_image_mask(&lab, 2, mask, &cnt, &e) == 0 && cnt == 10, "mask of "
     "label 2: 10 voxels");
  ok(rkin_voi_stats_eval(&val, mask, &st, &e) == 0, "stats");
  is_double(st.mean, 4.5, 1e-12, "mean of 0..9");
  is_double(st.sd, sqrt(55.0 / 6.0), 1e-12, "sd of 0..9");
  is_double(st.integral, 45.0 * 0.008, 1e-12, "integral = sum x 0.008 mL");
  is_double(st.volume_ml, 0.08, 1e-12, "volume");
  ok(st.min == 0 && st.max == 9, "min, max");
  ok(rkin_image_mask(&lab, 0, mask, &cnt, &e) == 0 && cnt == 16,
     "label 0 = every labelled voxel");
  ok(rkin_image_mask(&lab, 7, mask, &cnt, &e) == RKIN_ENOTFOUND,
     "absent label: %s", e.msg);
  memset(mask, 0, sizeof mask);
  ok(rkin_voi_stats_eval(&val, mask, &st, &e) == RKIN_EINVAL &&
         strstr(e.msg, "overlap"), "empty mask: %s", e.msg);
  val.v[3] = -2.0f;
  val.v[5] = -0.5f;
  ok(rkin_image_clip_negative(&val, &nclip, &e) == 0 && nclip == 2 &&
         val.v[3] == 0.0f, "two negative voxels clipped");
  val.v[7] = NAN;
  ok(rkin_image_clip_negative(&val, &nclip, &e) == RKIN_ENONFINITE &&
         strstr(e.msg, "(3,1,0)"), "NaN voxel named: %s", e.msg);
  rkin_image_free(&lab);
  rkin_image_free(&val);
}

int main(void)
{
  snprintf(tmpdir, sizeof tmpdir, "/tmp/rk_test_image_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  test_geometry();
  test_nifti();
  test_resample();
  test_voi();
  {
    char cmd[300];
    /* clean up without a shell: remove the files we made */
    const char *names[] = {"rt1.nii", "rt2.nii", "rt1.nii.gz", "lab.nii",
                           "junk.nii", "full.nii", "short.nii"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof *names; i++) {
      path_in_tmp(cmd, sizeof cmd, names[i]);
      unlink(cmd);
    }
    rmdir(tmpdir);
  }
  done_testing();
  return exit_status();
}
