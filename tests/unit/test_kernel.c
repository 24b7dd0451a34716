/* test_kernel.c - voxel S-value kernels (Lanconelli 2012, from the 90Y
 * dose point kernel, given values), FFT convolution, LED and kernel dose
 * maps with density correction, the HU -> density table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dose/sphere.h"
#include "voxel/voxel.h"
#include "../tap.h"

static char kdir[4096], dpk[4096], hutab[4096];

static void test_lanconelli(void)
{
  rkin_kernel k;
  rkin_err e;
  size_t s;
  double sp[3];
  double emin = 1e9, emax = 0, lmin = 1e9, lmax = 0;
  for (s = 0; s < rkin_lanconelli_n_sizes; s++) {
    sp[0] = sp[1] = sp[2] = rkin_lanconelli_sizes[s];
    if (rkin_kernel_lanconelli(kdir, "Y-90", "soft", sp, &k, &e) < 0) {
      ok(0, "Y-90 %g mm: %s", sp[0], e.msg);
      continue;
    }
    emin = fmin(emin, rkin_kernel_energy_mev(&k));
    emax = fmax(emax, rkin_kernel_energy_mev(&k));
    rkin_kernel_free(&k);
    rkin_kernel_lanconelli(kdir, "177Lu", "soft", sp, &k, &e);
    lmin = fmin(lmin, rkin_kernel_energy_mev(&k));
    lmax = fmax(lmax, rkin_kernel_energy_mev(&k));
    rkin_kernel_free(&k);
  }
  /* Lanconelli 2012 soft tissue (rho 1.04): 90Y absorbs its mean beta
   * energy, 0.933 MeV (ICRP 107); 177Lu 0.140-0.146 MeV */
  ok(emin > 0.930 && emax < 0.938, "90Y kernels: sum S x voxel mass = "
     "%.4f..%.4f MeV per decay (0.934)", emin, emax);
  ok(lmin >= 0.1395 && lmax <= 0.1465, "177Lu kernels: %.4f..%.4f MeV per "
     "decay (0.140-0.146)", lmin, lmax);
  sp[0] = sp[1] = sp[2] = 4.42;
  ok(rkin_kernel_lanconelli(kdir, "Y90", "soft", sp, &k, &e) == 0,
     "Y-90 4.42 mm soft");
  is_double(rkin_kernel_at(&k, 0, 0, 0), 0.689e-9, 1e-9, "S000 = 0.689 "
            "mGy/(MBq s) as tabulated");
  ok(rkin_kernel_at(&k, -2, 1, -3) == rkin_kernel_at(&k, 2, 1, 3) &&
         rkin_kernel_at(&k, 1, 2, 3) == rkin_kernel_at(&k, 3, 1, 2),
     "octant reflected: S(-2,1,-3) = S(2,1,3) = S(3,1,2)");
  rkin_kernel_free(&k);
  rkin_kernel_lanconelli(kdir, "Lu-177", "soft", sp, &k, &e);
  is_double(rkin_kernel_at(&k, 0, 0, 1), 3.39e-12, 1e-9, "177Lu S001 = "
            "3.39e-3 mGy/(MBq s)");
  rkin_kernel_free(&k);
  /* bad input */
  ok(rkin_kernel_lanconelli(kdir, "Ho-166", "soft", sp, &k, &e) ==
             RKIN_ENOTFOUND && strstr(e.msg, "dose point kernel") &&
         strstr(e.msg, "local energy deposition") && strstr(e.msg, "Y-90"),
     "Ho-166: %s", e.msg);
  sp[0] = sp[1] = sp[2] = 3.3;
  ok(rkin_kernel_lanconelli(kdir, "Y-90", "soft", sp, &k, &e) ==
             RKIN_ENOTFOUND && strstr(e.msg, "2.21, 2.33") &&
         strstr(e.msg, "9.28"), "3.3 mm: %s", e.msg);
  sp[2] = 5.0;
  ok(rkin_kernel_lanconelli(kdir, "Y-90", "soft", sp, &k, &e) == RKIN_EINVAL &&
         strstr(e.msg, "not cubic"), "anisotropic voxels: %s", e.msg);
  sp[0] = sp[1] = sp[2] = 3.0;
  ok(rkin_kernel_lanconelli(kdir, "Y-90", "lung", sp, &k, &e) == RKIN_EINVAL,
     "medium lung: %s", e.msg);
  ok(rkin_kernel_lanconelli("/nonexistent", "Y-90", "soft", sp, &k, &e) < 0 &&
         strstr(e.msg, "/nonexistent/Y90_3mm_soft.csv"),
     "missing folder: %s", e.msg);
  {
    char path[] = "/tmp/rk_kernel_XXXXXX", file[64];
    FILE *f;
    if (mkdtemp(path)) {
      snprintf(file, sizeof file, "%s/Y90_3mm_soft.csv", path);
      f = fopen(file, "w");
      fputs("# test\ni,j,k,S_mGy_per_MBq_s\n0,0,0,1.5\n0,0,7,1.0\n", f);
      fclose(f);
      ok(rkin_kernel_lanconelli(path, "Y-90", "soft", sp, &k, &e) ==
                 RKIN_EINVAL && strstr(e.msg, ":4:") &&
             strstr(e.msg, "field 3"), "index 7: %s", e.msg);
      f = fopen(file, "w");
      fputs("i,j,k,S_mGy_per_MBq_s\n0,0,0,1.5\n", f);
      fclose(f);
      ok(rkin_kernel_lanconelli(path, "Y-90", "soft", sp, &k, &e) ==
                 RKIN_EINVAL && strstr(e.msg, "216"), "short table: %s",
         e.msg);
      unlink(file);
      rmdir(path);
    }
  }
}

static void test_dpk(void)
{
  /* Lanconelli 2012 central voxels of 90Y, mGy/(MBq s) */
  const double size[3] = {3.0, 4.42, 6.0}, s000[3] = {1.59, 0.689, 0.342};
  int q;
  rkin_kernel k, l;
  rkin_err e;
  for (q = 0; q < 3; q++) {
    int h[3] = {5, 5, 5};
    double sp[3] = {size[q], size[q], size[q]};
    if (rkin_kernel_from_dpk(dpk, "Y-90", h, sp, 1.0, &k, &e) < 0) {
      ok(0, "DPK kernel %g mm: %s", size[q], e.msg);
      continue;
    }
    is_double(rkin_kernel_at(&k, 0, 0, 0) * 1e9, s000[q], 0.02,
              "DPK-built 90Y S000 at %g mm: %.4g vs Lanconelli %g (2 %%)",
              size[q], rkin_kernel_at(&k, 0, 0, 0) * 1e9, s000[q]);
    /* the 0-1.2 cm shells hold 0.9299 MeV; the grid covers them */
    is_double(rkin_kernel_energy_mev(&k), 0.9299, 0.005,
              "%g mm: sum S x mass = energy of the DPK", size[q]);
    if (q == 0) {
      rkin_kernel_lanconelli(kdir, "Y-90", "soft", sp, &l, &e);
      diag("3 mm: S001 DPK %.4g vs Lanconelli %.4g; S011 %.4g vs %.4g",
           rkin_kernel_at(&k, 0, 0, 1) * 1e9, rkin_kernel_at(&l, 0, 0, 1) * 1e9,
           rkin_kernel_at(&k, 0, 1, 1) * 1e9, rkin_kernel_at(&l, 0, 1, 1) * 1e9);
      is_double(rkin_kernel_at(&k, 0, 0, 1), rkin_kernel_at(&l, 0, 0, 1), 0.1,
                "3 mm: S001 of the water DPK within 10 %% of Lanconelli's "
                "soft tissue");
      rkin_kernel_free(&l);
    }
    rkin_kernel_free(&k);
  }
  {
    /* range scaling: at density rho, D_rho(r) = rho^2 D_1(rho r), so the
     * kernel of 3 mm voxels at rho 2 is 4 x that of 6 mm voxels in water */
    int h[3] = {2, 2, 2};
    double s3[3] = {3, 3, 3}, s6[3] = {6, 6, 6};
    rkin_kernel_from_dpk(dpk, "Y-90", h, s3, 2.0, &k, &e);
    rkin_kernel_from_dpk(dpk, "Y-90", h, s6, 1.0, &l, &e);
    is_double(rkin_kernel_at(&k, 0, 0, 0), 4.0 * rkin_kernel_at(&l, 0, 0, 0),
              1e-9, "density 2, 3 mm: S000 = 4 x water 6 mm");
    is_double(rkin_kernel_at(&k, 1, 1, 0), 4.0 * rkin_kernel_at(&l, 1, 1, 0),
              1e-9, "density 2, 3 mm: S110 = 4 x water 6 mm");
    rkin_kernel_free(&k);
    rkin_kernel_free(&l);
  }
  {
    int h[3] = {3, 3, 2};
    double sp[3] = {4.0, 4.0, 5.0};
    ok(rkin_kernel_from_dpk(dpk, "Y-90", h, sp, 1.0, &k, &e) == 0 &&
           rkin_kernel_at(&k, 1, 0, 0) > rkin_kernel_at(&k, 0, 0, 1),
       "anisotropic 4x4x5 mm kernel: the nearer neighbour gets more");
    rkin_kernel_free(&k);
    ok(rkin_kernel_from_dpk("/nonexistent.csv", "Y-90", h, sp, 1.0, &k, &e) <
           0 && strstr(e.msg, "/nonexistent.csv"), "missing DPK: %s", e.msg);
  }
}

/* direct sum_y in[y] S(x - y) */
static double direct(const float *in, const size_t n[3], const rkin_kernel *k,
                     size_t x, size_t y, size_t z)
{
  double s = 0.0;
  size_t i, j, l;
  for (l = 0; l < n[2]; l++)
    for (j = 0; j < n[1]; j++)
      for (i = 0; i < n[0]; i++)
        s += in[(l * n[1] + j) * n[0] + i] *
             rkin_kernel_at(k, (int)x - (int)i, (int)y - (int)j,
                            (int)z - (int)l);
  return s;
}

static void test_conv(void)
{
  rkin_kernel k;
  rkin_err e;
  rkin_conv *c;
  double sp[3] = {4.42, 4.42, 4.42}, maxrel = 0.0;
  size_t n[3] = {15, 13, 12}, i, j, l, nv = 15 * 13 * 12;
  float *in = calloc(nv, sizeof *in), *out = calloc(nv, sizeof *out);
  int ii, jj, ll;
  rkin_kernel_lanconelli(kdir, "Y-90", "soft", sp, &k, &e);
  c = rkin_conv_new(n, &k, &e);
  ok(c != NULL, "plan a 15x13x12 convolution");
  /* a point source gives the kernel back */
  in[(6 * 13 + 6) * 15 + 7] = 1.0f;
  rkin_conv_apply(c, in, out, &e);
  for (ll = -5; ll <= 5; ll++)
    for (jj = -5; jj <= 5; jj++)
      for (ii = -5; ii <= 5; ii++) {
        double want = rkin_kernel_at(&k, ii, jj, ll);
        double got = out[((6 + ll) * 13 + 6 + jj) * 15 + 7 + ii];
        if (6 + ll < 0 || 6 + ll >= 12) continue;
        maxrel = fmax(maxrel, fabs(got - want) / fmax(want, 1e-20));
      }
  ok(maxrel < 1e-5, "point source convolved = the kernel (max rel %g)",
     maxrel);
  /* at a corner: no wrap-around */
  memset(in, 0, nv * sizeof *in);
  in[0] = 1.0f;
  rkin_conv_apply(c, in, out, &e);
  ok(out[nv - 1] == 0.0f && out[14] == 0.0f &&
         fabs(out[1] - rkin_kernel_at(&k, 1, 0, 0)) < 1e-6 * out[1],
     "corner source: neighbours get S, the far side nothing (no wrap)");
  rkin_conv_free(c);
  rkin_kernel_free(&k);
  /* an asymmetric kernel against the direct sum (catches a flipped
   * correlation) */
  {
    int h[3] = {2, 1, 3};
    double vals[5 * 3 * 7], sp2[3] = {3, 3, 3};
    for (i = 0; i < 5 * 3 * 7; i++) vals[i] = 1.0 + (double)((i * 37) % 11);
    rkin_kernel_from_values("Lu-177", h, sp2, 1.04, vals, &k, &e);
    srand(7);
    for (i = 0; i < nv; i++) in[i] = (float)(rand() % 1000) / 100.0f;
    c = rkin_conv_new(n, &k, &e);
    rkin_conv_apply(c, in, out, &e);
    maxrel = 0.0;
    for (l = 0; l < n[2]; l += 3)
      for (j = 0; j < n[1]; j += 2)
        for (i = 0; i < n[0]; i++) {
          double want = direct(in, n, &k, i, j, l);
          maxrel = fmax(maxrel, fabs(out[(l * n[1] + j) * n[0] + i] - want) /
                                    want);
        }
    ok(maxrel < 1e-5, "asymmetric kernel: FFT = direct sum (max rel %g)",
       maxrel);
    in[3] = -1.0f;
    ok(rkin_conv_apply(c, in, out, &e) == RKIN_EINVAL &&
           strstr(e.msg, "(3,0,0)"), "negative input: %s", e.msg);
    rkin_conv_free(c);
    rkin_kernel_free(&k);
    vals[4] = NAN;
    ok(rkin_kernel_from_values("Lu-177", h, sp2, 1.04, vals, &k, &e) ==
           RKIN_EINVAL, "NaN kernel value: %s", e.msg);
  }
  free(in);
  free(out);
}

/* A uniform TIA sphere of radius r voxels in an n^3 grid. */
static void sphere_tia(rkin_image *tia, size_t n, double h, double r,
                       double c, unsigned char *mask)
{
  rkin_grid g;
  size_t i, j, l, idx = 0;
  double m = 0.5 * (double)(n - 1);
  rkin_grid_init(&g, n, n, n, h, h, h);
  rkin_image_alloc(tia, &g, NULL);
  for (l = 0; l < n; l++)
    for (j = 0; j < n; j++)
      for (i = 0; i < n; i++, idx++) {
        double d2 = (i - m) * (i - m) + (j - m) * (j - m) + (l - m) * (l - m);
        int in = d2 <= r * r;
        tia->v[idx] = in ? (float)c : 0.0f;
        if (mask) mask[idx] = (unsigned char)in;
      }
}

static void test_uniform_sphere(const char *nuclide, double lo, double hi)
{
  const size_t n = 36;
  const double h = 4.42, r = 14.0, c = 1000.0, m = 0.5 * (n - 1);
  rkin_image tia, led, ker;
  rkin_kernel k;
  rkin_err e;
  const rkin_nuclide *nuc = rkin_nuclide_find(nuclide, &e);
  double sp[3] = {h, h, h}, formula, maxdev = 0.0, ratio = 0.0;
  size_t i, j, l, idx = 0, nin = 0;
  sphere_tia(&tia, n, h, r, c, NULL);
  rkin_kernel_lanconelli(kdir, nuclide, "soft", sp, &k, &e);
  ok(rkin_dose_led(&tia, nuc, NULL, k.rho, NULL, &led, &e) == 0, "%s LED",
     nuclide);
  ok(rkin_dose_kernel(&tia, nuclide, &k, NULL, 0, &ker, &e) == 0,
     "%s kernel dose", nuclide);
  /* kernel / LED in the interior (the 11^3 kernel wholly inside) */
  formula = rkin_kernel_sum(&k) * k.rho * (h * h * h / 1000.0) / 1000.0 /
            (nuc->e_np_mev * RKIN_MEV_J);
  for (l = 0; l < n; l++)
    for (j = 0; j < n; j++)
      for (i = 0; i < n; i++, idx++) {
        double d = sqrt((i - m) * (i - m) + (j - m) * (j - m) +
                        (l - m) * (l - m));
        if (d > r - 5.0 * sqrt(3.0) - 0.01) continue;
        ratio = ker.v[idx] / led.v[idx];
        maxdev = fmax(maxdev, fabs(ratio / formula - 1.0));
        nin++;
      }
  ok(nin > 50 && maxdev < 1e-5, "%s: kernel/LED = sum(S) rho V / E_np in "
     "%zu interior voxels (max rel dev %g)", nuclide, nin, maxdev);
  ok(formula >= lo && formula <= hi, "%s: that ratio is %.4f (expected "
     "%g..%g)", nuclide, formula, lo, hi);
  /* LED by hand: N E / (rho V) */
  is_double(led.v[(18 * n + 18) * n + 18],
            c * 3600.0 * nuc->e_np_mev * RKIN_MEV_J / (k.rho / 1000.0), 1e-6,
            "%s: LED of a centre voxel = TIA 3600 E / rho", nuclide);
  rkin_image_free(&tia);
  rkin_image_free(&led);
  rkin_image_free(&ker);
  rkin_kernel_free(&k);
}

static void test_sphere_model(void)
{
  /* mean kernel dose of a uniform 90Y sphere vs the sphere model of dose/ */
  const size_t n = 30;
  const double h = 3.0, r = 9.0, c = 1e4;
  unsigned char *mask = malloc(n * n * n);
  rkin_image tia, ker;
  rkin_kernel k;
  rkin_err e;
  rkin_sphere sph;
  double sp[3] = {h, h, h}, sum = 0.0, tia_mbqh, mass_kg, mean;
  size_t i, nin = 0;
  const rkin_nuclide *nuc = rkin_nuclide_find("Y-90", &e);
  sphere_tia(&tia, n, h, r, c, mask);
  rkin_kernel_lanconelli(kdir, "Y-90", "soft", sp, &k, &e);
  rkin_dose_kernel(&tia, "Y-90", &k, NULL, 0, &ker, &e);
  for (i = 0; i < n * n * n; i++)
    if (mask[i]) {
      sum += ker.v[i];
      nin++;
    }
  mean = sum / (double)nin;
  /* the voxelised sphere's own volume and mass */
  tia_mbqh = c * 1e-6 * (double)nin * h * h * h / 1000.0;
  mass_kg = (double)nin * h * h * h / 1000.0 * 1.04 / 1000.0;
  ok(rkin_sphere_eval(nuc, mass_kg, 1.04, &sph, &e) == 0, "sphere model of "
     "%.0f g: %s", mass_kg * 1000, e.code ? e.msg : "ok");
  /* a voxelised surface and a 5-voxel kernel: a few per cent */
  is_double(mean, tia_mbqh * sph.s_gy_per_mbqh, 0.03, "90Y sphere of %.0f "
            "mL: mean kernel dose %.4g Gy vs sphere model %.4g Gy (3 %%)",
            (double)nin * h * h * h / 1000.0, mean,
            tia_mbqh * sph.s_gy_per_mbqh);
  rkin_image_free(&tia);
  rkin_image_free(&ker);
  rkin_kernel_free(&k);
  free(mask);
}

static void test_density(void)
{
  rkin_hu_table t;
  rkin_err e;
  rkin_image tia, rho, led1, led2, k1, k2;
  rkin_kernel k;
  double sp[3] = {4.42, 4.42, 4.42};
  size_t i, nv, bad = 0;
  ok(rkin_hu_table_load(hutab, &t, &e) == 0 && t.n == 10, "Schneider 2000 "
     "table: 10 points");
  is_double(rkin_hu_density(&t, -1000), 0.00121, 1e-12, "air");
  is_double(rkin_hu_density(&t, 14), 1.03, 1e-12, "14 HU");
  is_double(rkin_hu_density(&t, 18.5), 1.0305, 1e-9, "18.5 HU interpolated");
  is_double(rkin_hu_density(&t, 100), 1.1199, 1e-12, "100 HU below the step");
  is_double(rkin_hu_density(&t, 101), 1.0762, 1e-12, "101 HU above it");
  is_double(rkin_hu_density(&t, 5000), 2.9, 1e-12, "clamped above 3200 HU");
  is_double(rkin_hu_density(&t, -2000), 0.00121, 1e-12, "clamped below");
  rkin_hu_table_free(&t);
  {
    char path[] = "/tmp/rk_hu_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("HU,rho\n0,1.0\n-100,0.9\n", f);
    fclose(f);
    ok(rkin_hu_table_load(path, &t, &e) == RKIN_EINVAL &&
           strstr(e.msg, ":3:") && strstr(e.msg, "ascending"),
       "descending HU: %s", e.msg);
    f = fopen(path, "w");
    fputs("HU,rho\n0,1.0\n100,-1\n", f);
    fclose(f);
    ok(rkin_hu_table_load(path, &t, &e) == RKIN_EINVAL &&
           strstr(e.msg, "density"), "negative density: %s", e.msg);
    unlink(path);
  }
  /* density correction: doubling the density halves both doses */
  sphere_tia(&tia, 24, 4.42, 8.0, 500.0, NULL);
  nv = rkin_grid_count(&tia.g);
  rkin_image_alloc(&rho, &tia.g, &e);
  for (i = 0; i < nv; i++) rho.v[i] = 1.04f;
  rkin_kernel_lanconelli(kdir, "Y-90", "soft", sp, &k, &e);
  rkin_dose_kernel(&tia, "Y-90", &k, NULL, 0, &k1, &e);
  rkin_dose_kernel(&tia, "Y-90", &k, &rho, 0, &k2, &e);
  for (i = 0; i < nv; i++) bad += fabs(k1.v[i] - k2.v[i]) > 1e-6 * k1.v[i];
  ok(bad == 0, "density map = the kernel's density: no change");
  rkin_image_free(&k2);
  for (i = 0; i < nv; i++) rho.v[i] = 2.08f;
  rkin_dose_kernel(&tia, "Y-90", &k, &rho, 0, &k2, &e);
  rkin_dose_led(&tia, rkin_nuclide_find("Y-90", &e), NULL, 1.04, NULL, &led1,
                &e);
  rkin_dose_led(&tia, rkin_nuclide_find("Y-90", &e), &rho, 0, NULL, &led2, &e);
  for (i = 0, bad = 0; i < nv; i++)
    bad += fabs(k2.v[i] - 0.5 * k1.v[i]) > 1e-6 * k1.v[i] ||
           fabs(led2.v[i] - 0.5 * led1.v[i]) > 1e-6 * led1.v[i];
  ok(bad == 0, "density 2.08: kernel and LED doses halve");
  rkin_image_free(&k2);
  for (i = 0; i < nv; i++) rho.v[i] = 0.00121f;
  rkin_dose_kernel(&tia, "Y-90", &k, &rho, 0, &k2, &e);
  is_double(k2.v[nv / 2], k1.v[nv / 2] * 1.04 / 0.05, 1e-5,
            "air: the correction stops at 0.05 g/cm3");
  rkin_image_free(&k2);
  /* bad input */
  {
    rkin_kernel k3;
    double sp3[3] = {3, 3, 3};
    rkin_kernel_lanconelli(kdir, "Y-90", "soft", sp3, &k3, &e);
    ok(rkin_dose_kernel(&tia, "Y-90", &k3, NULL, 0, &k2, &e) == RKIN_EINVAL &&
           strstr(e.msg, "dose point kernel") && strstr(e.msg, "4.42"),
       "kernel of another voxel size: %s", e.msg);
    rkin_kernel_free(&k3);
  }
  ok(rkin_dose_kernel(&tia, "Lu-177", &k, NULL, 0, &k2, &e) == RKIN_EINVAL,
     "kernel of another nuclide: %s", e.msg);
  tia.v[5] = -3.0f;
  ok(rkin_dose_kernel(&tia, "Y-90", &k, NULL, 0, &k2, &e) == RKIN_EINVAL &&
         strstr(e.msg, "(5,0,0)") && strstr(e.msg, "clip"),
     "negative TIA: %s", e.msg);
  ok(rkin_dose_led(&tia, rkin_nuclide_find("Y-90", &e), NULL, 1.0, NULL, &k2,
                   &e) == RKIN_EINVAL, "negative TIA, LED: %s", e.msg);
  rkin_image_free(&tia);
  rkin_image_free(&rho);
  rkin_image_free(&k1);
  rkin_image_free(&led1);
  rkin_image_free(&led2);
  rkin_kernel_free(&k);
}

int main(void)
{
  const char *src = getenv("RADIOKIN_SRCDIR");
  if (!src) src = ".";
  snprintf(kdir, sizeof kdir, "%s/data/kernels/lanconelli2012", src);
  snprintf(dpk, sizeof dpk,
           "%s/data/kernels/dpk/Y90_beta_graves2019_water_r0-1.2cm.csv", src);
  snprintf(hutab, sizeof hutab,
           "%s/data/ct/hu_density_schneider2000_gate_points.csv", src);
  test_lanconelli();
  test_dpk();
  test_conv();
  test_uniform_sphere("Y-90", 0.99, 1.01);
  test_uniform_sphere("Lu-177", 0.95, 0.99);
  test_sphere_model();
  test_density();
  done_testing();
  return exit_status();
}
