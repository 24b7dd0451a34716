/* test_errmsg_voxel.c - error messages of the voxel module (engine/voxel:
 * HU tables and density maps, LED and kernel dose, kernels from the
 * Lanconelli files, a dose point kernel or values, DVHs, voxel TIA and
 * BED, TARE voxel planning), provoked one by one through the C functions
 * and their text asserted (issue 22 item 3). Input files are written by
 * the test into a scratch folder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/init.h"
#include "image/image.h"
#include "tare/tare.h"
#include "voxel/dvh.h"
#include "voxel/kernel.h"
#include "voxel/tare_voxel.h"
#include "voxel/tia.h"
#include "voxel/voxel.h"
#include "../scratch.h"
#include "../tap.h"

static rkin_err err;
static char dir[] = "/tmp/rkin_errmsg_vox_XXXXXX";

#define BAD(call, code, part, what)                                       \
  do {                                                                    \
    rkin_err_clear(&err);                                                 \
    is_int((long)(call), (long)(code), "%s", what);                       \
    like(err.msg, part, "... message: %s", part);                         \
  } while (0)

static void image(rkin_image *im, size_t nx, size_t ny, size_t nz, double sp,
                  float v)
{
  rkin_grid g;
  size_t i;
  rkin_grid_init(&g, nx, ny, nz, sp, sp, sp);
  memset(im, 0, sizeof *im);
  if (rkin_image_alloc(im, &g, &err)) return;
  for (i = 0; i < rkin_grid_count(&g); i++) im->v[i] = v;
}

static void test_hu(void)
{
  rkin_hu_table t;
  rkin_image ct, rho;
  const char *p;
  p = scratch_write(dir, "hu3.csv", "hu,rho\n-1000,0.001\n0,1,7\n");
  BAD(rkin_hu_table_load(p, &t, &err), RKIN_EINVAL, "hu3.csv:3: 3 fields "
      "(expected 2: HU, density)", "HU table: a row of 3 fields");
  p = scratch_write(dir, "hux.csv", "hu,rho\n-1000,0.001\nwater,1\n");
  BAD(rkin_hu_table_load(p, &t, &err), RKIN_EINVAL, "hux.csv:3: HU "
      "\"water\" (expected a number)", "HU table: a word for HU");
  p = scratch_write(dir, "hur.csv", "hu,rho\n-1000,0.001\n0,-1\n");
  BAD(rkin_hu_table_load(p, &t, &err), RKIN_EINVAL, "hur.csv:3: density "
      "\"-1\" (expected a number > 0, g/cm3)", "HU table: a negative "
      "density");
  p = scratch_write(dir, "hud.csv", "hu,rho\n0,1\n-1000,0.001\n");
  BAD(rkin_hu_table_load(p, &t, &err), RKIN_EINVAL, "hud.csv:3: HU -1000 "
      "after 0 (expected ascending HU)", "HU table: descending HU");
  p = scratch_write(dir, "hu1.csv", "hu,rho\n0,1\n");
  BAD(rkin_hu_table_load(p, &t, &err), RKIN_EINVAL, "hu1.csv: 1 rows "
      "(expected at least 2)", "HU table: one row");
  p = scratch_write(dir, "hu2.csv", "hu,rho\n-1000,0.001\n1000,2\n");
  if (rkin_hu_table_load(p, &t, &err) == 0) {
    image(&ct, 2, 2, 2, 4, 0);
    ct.v[6] = NAN;
    BAD(rkin_density_map(&t, &ct, &rho, &err), RKIN_ENONFINITE,
        "CT voxel 6 at (0,1,1) is not finite", "density map: a NaN "
        "CT voxel");
    rkin_image_free(&ct);
    rkin_hu_table_free(&t);
  } else ok(0, "HU table: %s", err.msg);
}

static void test_led(void)
{
  rkin_image tia, rho, dose, small;
  const rkin_nuclide *y90 = rkin_nuclide_find("Y-90", &err);
  unsigned char mask[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  image(&tia, 2, 2, 2, 4, 1);
  image(&rho, 2, 2, 2, 4, 1);
  image(&small, 1, 2, 2, 4, 1);
  BAD(rkin_dose_led(&tia, NULL, NULL, 1, NULL, &dose, &err), RKIN_EINVAL,
      "LED: no nuclide", "LED: no nuclide");
  BAD(rkin_dose_led(&tia, y90, &small, 1, NULL, &dose, &err), RKIN_EINVAL,
      "LED: the density map's grid is not the TIA map's (resample the CT "
      "first)", "LED: a density map on another grid");
  BAD(rkin_dose_led(&tia, y90, NULL, 0, NULL, &dose, &err), RKIN_EINVAL,
      "LED: density 0 g/cm3 (expected > 0)", "LED: a zero uniform density");
  rho.v[5] = 0;
  BAD(rkin_dose_led(&tia, y90, &rho, 1, mask, &dose, &err), RKIN_EINVAL,
      "LED: density 0 g/cm3 in voxel 5 at (1,0,1) (expected > 0)",
      "LED: a zero density voxel");
  tia.v[3] = -2;
  BAD(rkin_dose_led(&tia, y90, NULL, 1, NULL, &dose, &err), RKIN_EINVAL,
      "TIA voxel (1,1,0) is -2 (expected a finite value >= 0; clip "
      "negative voxels first)", "LED: a negative TIA voxel");
  rkin_image_free(&tia);
  rkin_image_free(&rho);
  rkin_image_free(&small);
}

static void test_kernel(void)
{
  rkin_kernel k, k2;
  rkin_image tia, rho, small, dose;
  const int h[3] = {1, 1, 1}, hbig[3] = {1, 41, 1};
  const double sp[3] = {4, 4, 4}, sp0[3] = {4, 0, 4}, sp5[3] = {7, 7, 7};
  double s[27];
  int i;
  const char *p;
  char name[128];
  for (i = 0; i < 27; i++) s[i] = i == 13 ? 1e-9 : 1e-11;
  BAD(rkin_kernel_from_values("Y-90", hbig, sp, 1.04, s, &k, &err),
      RKIN_EINVAL, "kernel: half width 41 along axis 2 (expected 0..40)",
      "kernel: a half width too large");
  BAD(rkin_kernel_from_values("Y-90", h, sp0, 1.04, s, &k, &err),
      RKIN_EINVAL, "kernel: voxel size 0 mm along axis 2 (expected > 0)",
      "kernel: a zero voxel size");
  BAD(rkin_kernel_from_values("Y-90", h, sp, -1, s, &k, &err), RKIN_EINVAL,
      "kernel: density -1 g/cm3 (expected > 0)", "kernel: a negative "
      "density");
  BAD(rkin_kernel_lanconelli(dir, "Lu-177", "lung", sp, &k, &err),
      RKIN_EINVAL, "kernel medium \"lung\" (expected soft or bone)",
      "Lanconelli: an unknown medium");
  BAD(rkin_kernel_lanconelli(dir, "Tc-99m", "soft", sp, &k, &err),
      RKIN_ENOTFOUND, "no voxel S-value kernel for Tc-99m in the Lanconelli "
      "2012 database", "Lanconelli: a nuclide not in the database");
  BAD(rkin_kernel_lanconelli(dir, "Lu-177", "soft", sp5, &k, &err),
      RKIN_ENOTFOUND, "no Lanconelli kernel for 7 mm voxels (sizes ",
      "Lanconelli: a voxel size not tabulated");
  /* the database's files, broken one way each */
  {
    double z = rkin_lanconelli_sizes[0];
    const double spz[3] = {z, z, z};
    char rows[216 * 16 + 64];
    size_t used;
    int a, b, c;
    snprintf(name, sizeof name, "Lu177_%gmm_soft.csv", z);
    scratch_write(dir, name, "i,j,k,S_mGy_per_MBq_s\n0,0,1\n");
    BAD(rkin_kernel_lanconelli(dir, "Lu-177", "soft", spz, &k, &err),
        RKIN_EINVAL, "mm_soft.csv:2: 3 fields (expected 4: i,j,k,S)",
        "Lanconelli: a row of 3 fields");
    scratch_write(dir, name, "i,j,k,S_mGy_per_MBq_s\n0,0,6,1\n");
    BAD(rkin_kernel_lanconelli(dir, "Lu-177", "soft", spz, &k, &err),
        RKIN_EINVAL, "mm_soft.csv:2: field 3 \"6\" (expected an index "
        "0..5)", "Lanconelli: an index out of the octant");
    scratch_write(dir, name, "i,j,k,S_mGy_per_MBq_s\n0,0,1,-3\n");
    BAD(rkin_kernel_lanconelli(dir, "Lu-177", "soft", spz, &k, &err),
        RKIN_EINVAL, "mm_soft.csv:2: field 4 \"-3\" (expected a value >= "
        "0)", "Lanconelli: a negative S value");
    scratch_write(dir, name, "i,j,k,S_mGy_per_MBq_s\n0,0,1,3\n0,0,1,3\n");
    BAD(rkin_kernel_lanconelli(dir, "Lu-177", "soft", spz, &k, &err),
        RKIN_EINVAL, "mm_soft.csv:3: offset (0,0,1) given twice",
        "Lanconelli: an offset twice");
    scratch_write(dir, name, "i,j,k,S_mGy_per_MBq_s\n0,0,1,3\n");
    BAD(rkin_kernel_lanconelli(dir, "Lu-177", "soft", spz, &k, &err),
        RKIN_EINVAL, "mm_soft.csv: 1 offsets (expected the 216 of the "
        "octant 0..5)", "Lanconelli: an incomplete octant");
    scratch_write(dir, name, "i,j,k,S\n");
    BAD(rkin_kernel_lanconelli(dir, "Lu-177", "soft", spz, &k, &err),
        RKIN_EINVAL, "mm_soft.csv:1: header (expected "
        "i,j,k,S_mGy_per_MBq_s)", "Lanconelli: a wrong header");
    /* the complete octant loads: the test files are what is broken */
    used = (size_t)snprintf(rows, sizeof rows, "i,j,k,S_mGy_per_MBq_s\n");
    for (c = 0; c < 6; c++)
      for (b = 0; b < 6; b++)
        for (a = 0; a < 6; a++)
          used += (size_t)snprintf(rows + used, sizeof rows - used,
                                   "%d,%d,%d,1\n", a, b, c);
    scratch_write(dir, name, rows);
    rkin_err_clear(&err);
    is_int(rkin_kernel_lanconelli(dir, "Lu-177", "soft", spz, &k, &err),
           RKIN_OK, "Lanconelli: the full octant loads (%s)", err.msg);
    rkin_kernel_free(&k);
  }
  /* dose point kernels */
  p = scratch_write(dir, "dpk_h.csv", "r_cm,E\n0.1,0.5\n");
  BAD(rkin_kernel_from_dpk(p, "Y-90", h, sp, 1, &k, &err), RKIN_EINVAL,
      "dpk_h.csv:1: header (expected r_outer_cm,E_dep_MeV_per_emission,...)",
      "DPK: a wrong header");
  p = scratch_write(dir, "dpk_r.csv", "r_outer_cm,E_dep_MeV_per_emission\n"
                    "0.2,0.5\n0.1,0.5\n");
  BAD(rkin_kernel_from_dpk(p, "Y-90", h, sp, 1, &k, &err), RKIN_EINVAL,
      "dpk_r.csv:3: expected an outer radius > 0.2 cm and an energy >= 0 "
      "MeV", "DPK: a radius not increasing");
  p = scratch_write(dir, "dpk_1.csv", "r_outer_cm,E_dep_MeV_per_emission\n"
                    "0.2,0.5\n");
  BAD(rkin_kernel_from_dpk(p, "Y-90", h, sp, 1, &k, &err), RKIN_EINVAL,
      "dpk_1.csv: 1 shells (expected a radial table)", "DPK: one shell");
  /* energies near DBL_MAX: the integrated kernel overflows */
  p = scratch_write(dir, "dpk_big.csv", "r_outer_cm,E_dep_MeV_per_emission"
                    "\n0.05,1e308\n0.1,1e308\n0.2,1e308\n");
  BAD(rkin_kernel_from_dpk(p, "Y-90", h, sp, 1, &k, &err), RKIN_ENONFINITE,
      "dpk_big.csv: the kernel integrated from this dose point kernel has a "
      "non-finite value (", "DPK: shell energies that overflow");
  like(err.msg, "): its shell energies overflow (expected MeV per "
       "emission)", "... and says why");
  /* kernel dose */
  if (rkin_kernel_from_values("Y-90", h, sp, 1.04, s, &k, &err) ||
      rkin_kernel_from_values("Lu-177", h, sp, 1.04, s, &k2, &err)) {
    ok(0, "kernels: %s", err.msg);
    return;
  }
  image(&tia, 3, 3, 3, 4, 1);
  image(&rho, 3, 3, 3, 4, 1);
  image(&small, 2, 3, 3, 4, 1);
  BAD(rkin_dose_kernel(&tia, "Y-90", &k2, NULL, 0, &dose, &err), RKIN_EINVAL,
      "kernel is for Lu-177, the TIA map for Y-90", "kernel dose: the "
      "kernel's nuclide is not the TIA's");
  rkin_image_free(&tia);
  image(&tia, 3, 3, 3, 5, 1);
  BAD(rkin_dose_kernel(&tia, "Y-90", &k, NULL, 0, &dose, &err), RKIN_EINVAL,
      "kernel voxels are 4 x 4 x 4 mm, the image's 5 x 5 x 5 mm: resample",
      "kernel dose: another voxel size");
  rkin_image_free(&tia);
  image(&tia, 3, 3, 3, 4, 1);
  BAD(rkin_dose_kernel(&tia, "Y-90", &k, &small, 0, &dose, &err),
      RKIN_EINVAL, "kernel dose: the density map's grid is not the TIA "
      "map's", "kernel dose: a density map on another grid");
  tia.v[13] = NAN;
  BAD(rkin_dose_kernel(&tia, "Y-90", &k, &rho, 0, &dose, &err), RKIN_EINVAL,
      "TIA voxel (1,1,1) is nan (expected a finite value >= 0",
      "kernel dose: a NaN TIA voxel");
  rkin_image_free(&tia);
  rkin_image_free(&rho);
  rkin_image_free(&small);
  {
    /* the FFT convolution's own checks */
    const size_t n0[3] = {2, 0, 2}, nbig[3] = {4096, 4096, 4096},
                 n2[3] = {2, 2, 2};
    float in[8] = {1, 1, 1, 1, 1, -1, 1, 1}, out[8];
    rkin_conv *c;
    rkin_err_clear(&err);
    ok(rkin_conv_new(n0, &k, &err) == NULL, "convolution: a zero dimension");
    like(err.msg, "convolution: image dimension 2 is 0 (expected 1..4096)",
         "... message names the axis and the range");
    rkin_err_clear(&err);
    ok(rkin_conv_new(nbig, &k, &err) == NULL, "convolution: 4096^3 voxels");
    like(err.msg, "convolution: padded grid of ", "... message");
    like(err.msg, " voxels is too large", "... says it is too large");
    is_int(err.code, RKIN_ERANGE, "... RKIN_ERANGE");
    if ((c = rkin_conv_new(n2, &k, &err)) != NULL) {
      BAD(rkin_conv_apply(c, in, out, &err), RKIN_EINVAL, "convolution: "
          "input voxel (1,0,1) is -1 (expected a finite value >= 0)",
          "convolution: a negative input voxel");
      rkin_conv_free(c);
    } else {
      ok(0, "convolution of 2 x 2 x 2: %s", err.msg);
    }
  }
  rkin_kernel_free(&k);
  rkin_kernel_free(&k2);
}

static void test_dvh(void)
{
  rkin_image dose, lab, small;
  rkin_dvh h, hs[2];
  unsigned char mask[8] = {0};
  const int one[1] = {1}, two[2] = {1, 1}, big[1] = {70000}, l3[1] = {3};
  image(&dose, 2, 2, 2, 4, 1);
  image(&lab, 2, 2, 2, 4, 1);
  image(&small, 1, 2, 2, 4, 1);
  BAD(rkin_dvh_eval(&dose, mask, &h, &err), RKIN_EINVAL, "DVH: the VOI has "
      "no voxel in the dose map (mask does not overlap)", "DVH: an empty "
      "mask");
  mask[2] = mask[5] = 1;
  dose.v[5] = NAN;
  BAD(rkin_dvh_eval(&dose, mask, &h, &err), RKIN_ENONFINITE, "DVH: dose "
      "voxel 5 at (1,0,1) is not finite", "DVH: a NaN dose in the VOI");
  BAD(rkin_dvh_eval_labels(&dose, &lab, 0, one, hs, &err), RKIN_EINVAL,
      "DVH: no label given", "DVH labels: none");
  BAD(rkin_dvh_eval_labels(&dose, &small, 1, one, hs, &err), RKIN_EINVAL,
      "DVH: the label map is not on the", "DVH labels: another grid");
  BAD(rkin_dvh_eval_labels(&dose, &lab, 1, big, hs, &err), RKIN_EINVAL,
      "DVH: label 70000, expected 1..65535", "DVH labels: a label too "
      "large");
  BAD(rkin_dvh_eval_labels(&dose, &lab, 2, two, hs, &err), RKIN_EINVAL,
      "DVH: label 1 given twice", "DVH labels: a label twice");
  BAD(rkin_dvh_eval_labels(&dose, &lab, 1, l3, hs, &err), RKIN_EINVAL,
      "DVH: label 3 marks no voxel of the label map (expected each label "
      "asked for to mark at least one)", "DVH labels: an absent "
      "label");
  BAD(rkin_dvh_eval_labels(&dose, &lab, 1, one, hs, &err), RKIN_ENONFINITE,
      "DVH: a dose voxel of label 1 is not finite", "DVH labels: a NaN dose");
  dose.v[5] = 2;
  if (rkin_dvh_eval(&dose, NULL, &h, &err) == 0) {
    double cum[4];
    BAD(rkin_dvh_curve(&h, 0, 4, cum, NULL, &err), RKIN_EINVAL, "DVH "
        "curve: bin 0 Gy, 4 bins (expected bin > 0 and 1..100000 bins)",
        "DVH curve: a zero bin");
    rkin_dvh_free(&h);
  }
  rkin_image_free(&dose);
  rkin_image_free(&lab);
  rkin_image_free(&small);
}

static void test_tia(void)
{
  rkin_image a[3], other;
  const rkin_image *ap[3] = {&a[0], &a[1], &a[2]};
  const double t[3] = {4, 24, 72}, tdown[3] = {4, 24, 10};
  rkin_vtia_opts o;
  rkin_vtia v;
  int i;
  for (i = 0; i < 3; i++) image(&a[i], 2, 2, 2, 4, (float)(100.0 / (i + 1)));
  image(&other, 2, 2, 1, 4, 1);
  memset(&o, 0, sizeof o);
  o.nuclide = "Lu-177";
  o.method = RKIN_VTIA_PER_VOXEL;
  {
    rkin_vtia_opts n = o;
    n.nuclide = NULL;
    BAD(rkin_voxel_tia(3, ap, t, NULL, &n, &v, &err), RKIN_EINVAL,
        "voxel TIA: no nuclide", "voxel TIA: no nuclide");
    n = o;
    n.cv = -0.1;
    BAD(rkin_voxel_tia(3, ap, t, NULL, &n, &v, &err), RKIN_EINVAL,
        "voxel TIA: cv = -0.1 (expected a known proportional error > 0, or "
        "0 to estimate it)", "voxel TIA: a negative cv");
    n = o;
    n.method = (rkin_vtia_method)9;
    BAD(rkin_voxel_tia(3, ap, t, NULL, &n, &v, &err), RKIN_EINVAL,
        "voxel TIA: unknown method 9", "voxel TIA: an unknown method");
    BAD(rkin_voxel_tia(1, ap, t, NULL, &o, &v, &err), RKIN_EINVAL,
        "voxel TIA: 1 images (expected 2..64 time points for a fit)",
        "voxel TIA: one image for a fit");
    n = o;
    n.method = RKIN_VTIA_STP_HAENSCHEID;
    BAD(rkin_voxel_tia(3, ap, t, NULL, &n, &v, &err), RKIN_EINVAL,
        "voxel TIA: 3 images (expected exactly 1 for a single-time-point "
        "method)", "voxel TIA: three images for STP");
    {
      const double t0[1] = {0};
      BAD(rkin_voxel_tia(1, ap, t0, NULL, &n, &v, &err), RKIN_EINVAL,
          "voxel TIA (Haenscheid): image time 0 h (expected > 0)",
          "voxel TIA: Haenscheid at time 0");
    }
    n.method = RKIN_VTIA_STP_POPLAMBDA;
    n.pop_lambda_h = 0;
    BAD(rkin_voxel_tia(1, ap, t, NULL, &n, &v, &err), RKIN_EINVAL,
        "voxel TIA (population rate): rate 0 /h (expected > 0)",
        "voxel TIA: a zero population rate");
    n = o;
    n.method = RKIN_VTIA_HYBRID;
    n.hybrid_min = 0;
    BAD(rkin_voxel_tia(3, ap, t, NULL, &n, &v, &err), RKIN_EINVAL,
        "voxel TIA (hybrid): minimum concentration 0 Bq/mL (expected > 0",
        "voxel TIA: hybrid without a minimum");
  }
  {
    const rkin_image *miss[3] = {&a[0], NULL, &a[2]};
    BAD(rkin_voxel_tia(3, miss, t, NULL, &o, &v, &err), RKIN_EINVAL,
        "voxel TIA: image 2 missing", "voxel TIA: a missing image");
  }
  {
    const rkin_image *mix[3] = {&a[0], &a[1], &other};
    rkin_vtia_opts n = o;
    BAD(rkin_voxel_tia(3, mix, t, NULL, &o, &v, &err), RKIN_EINVAL,
        "voxel TIA: image 3 (t = 72 h) is not on the grid of image 1: "
        "resample every time point to one grid first", "voxel TIA: images "
        "on two grids");
    n.method = RKIN_VTIA_STP_POPLAMBDA;
    n.pop_lambda_h = 1e-4;
    BAD(rkin_voxel_tia(1, ap, t, NULL, &n, &v, &err), RKIN_EINVAL,
        "voxel TIA (population rate): rate 0.0001 /h is below physical "
        "decay (", "voxel TIA: a population rate below physical decay");
  }
  BAD(rkin_voxel_tia(3, ap, tdown, NULL, &o, &v, &err), RKIN_EINVAL,
      "voxel TIA: time 3 is 10 h (expected finite, >= 0, increasing)",
      "voxel TIA: times not increasing");
  a[1].v[6] = -1;
  BAD(rkin_voxel_tia(3, ap, t, NULL, &o, &v, &err), RKIN_EINVAL,
      "voxel TIA: image 2, voxel 6 at (0,1,1) is -1 (expected finite, >= "
      "0: clip negative voxels first", "voxel TIA: a negative voxel");
  a[1].v[6] = 50;
  {
    rkin_vtia_opts n = o;
    for (i = 0; i < 3; i++) memset(a[i].v, 0, 8 * sizeof *a[i].v);
    n.method = RKIN_VTIA_VOI_SHAPE;
    BAD(rkin_voxel_tia(3, ap, t, NULL, &n, &v, &err), RKIN_EINVAL,
        "voxel TIA (VOI shape): the VOI holds no activity at any time point",
        "voxel TIA: an empty VOI");
  }
  /* BED: a fitted map, then a label without a class and another grid */
  for (i = 0; i < 3; i++) {
    size_t q;
    for (q = 0; q < 8; q++) a[i].v[q] = (float)(100.0 * exp(-0.02 * t[i]));
  }
  rkin_err_clear(&err);
  if (rkin_voxel_tia(3, ap, t, NULL, &o, &v, &err) == 0) {
    rkin_image dose, lab, bed;
    rkin_tissue_class c = {.label = 2,
                           .lq = {.ab_gy = 3, .trep_h = 1.5}};
    image(&dose, 2, 2, 2, 4, 1);
    image(&lab, 2, 2, 2, 4, 1);
    BAD(rkin_voxel_bed(&dose, &v, &lab, &c, 1, "Lu-177", &bed, NULL, &err),
        RKIN_ENOTFOUND, "voxel BED: label 1 has dose but no tissue class "
        "(give one, or a class for label 0)", "voxel BED: no class");
    BAD(rkin_voxel_bed(&other, &v, &lab, &c, 1, "Lu-177", &bed, NULL, &err),
        RKIN_EINVAL, "voxel BED: the dose, TIA and label maps must share one "
        "grid", "voxel BED: another grid");
    rkin_image_free(&dose);
    rkin_image_free(&lab);
    rkin_vtia_free(&v);
  } else ok(0, "voxel TIA fit: %s", err.msg);
  for (i = 0; i < 3; i++) rkin_image_free(&a[i]);
  rkin_image_free(&other);
}

static void test_tare(void)
{
  rkin_image scout, rho, small;
  unsigned char liver[27], tumour[27] = {0}, m1[27] = {0}, m2[27] = {0};
  rkin_tvox_territory t[2];
  rkin_tvox_plan p, q;
  rkin_tvox_result r;
  rkin_tvox_mode mode;
  int i;
  image(&scout, 3, 3, 3, 4, 1);
  image(&rho, 3, 3, 3, 4, 1);
  image(&small, 2, 3, 3, 4, 1);
  memset(liver, 1, sizeof liver);
  for (i = 0; i < 27; i++) (i < 13 ? m1 : m2)[i] = 1;
  memset(t, 0, sizeof t);
  t[0].name = "left";
  t[0].mask = m1;
  t[0].mode = RKIN_TVOX_ACTIVITY;
  t[0].value = 1000;
  t[1] = t[0];
  t[1].name = "right";
  t[1].mask = m2;
  memset(&p, 0, sizeof p);
  p.scout = &scout;
  p.liver = liver;
  p.tumour = tumour;
  p.product = rkin_tare_product_find("SIR-Spheres", &err);
  p.nuclide = rkin_nuclide_find("Y-90", &err);
  p.cf = 49.67;
  p.terr = t;
  p.n_terr = 2;
  BAD(rkin_tvox_mode_parse("dose", &mode, &err), RKIN_EINVAL, "tare voxel: "
      "mode 'dose' unknown (expected activity, tumour_mean, normal_d70 or "
      "normal_mean)", "TARE voxel: an unknown mode");
  BAD(rkin_tvox_run(NULL, &r, &err), RKIN_EINVAL, "tare voxel: plan or "
      "result missing", "TARE voxel: no plan");
  q = p; q.liver = NULL;
  BAD(rkin_tvox_run(&q, &r, &err), RKIN_EINVAL, "tare voxel: the scout SPECT "
      "and the liver mask are required", "TARE voxel: no liver");
  q = p; q.product = NULL;
  BAD(rkin_tvox_run(&q, &r, &err), RKIN_EINVAL, "tare voxel: no product or "
      "nuclide given", "TARE voxel: no product");
  q = p; q.cf = 0;
  BAD(rkin_tvox_run(&q, &r, &err), RKIN_EINVAL, "tare voxel: cf = 0 must be "
      "> 0 Gy kg/GBq", "TARE voxel: a zero cf");
  q = p; q.lung_mass_kg = -1;
  BAD(rkin_tvox_run(&q, &r, &err), RKIN_EINVAL, "tare voxel: lung_mass_kg = "
      "-1 must be > 0 kg (0: 1 kg)", "TARE voxel: a negative lung mass");
  q = p; q.rho = &small;
  BAD(rkin_tvox_run(&q, &r, &err), RKIN_EINVAL, "tare voxel: the density "
      "map's grid is not the scout's", "TARE voxel: density on another grid");
  q = p; q.rho_uniform = -1;
  BAD(rkin_tvox_run(&q, &r, &err), RKIN_EINVAL, "tare voxel: density -1 "
      "g/cm3 (expected > 0)", "TARE voxel: a negative uniform density");
  q = p; q.n_terr = 0;
  BAD(rkin_tvox_run(&q, &r, &err), RKIN_ERANGE, "tare voxel: 0 territories "
      "(expected 1..16)", "TARE voxel: no territory");
  t[1].lsf = 20;
  BAD(rkin_tvox_run(&p, &r, &err), RKIN_ERANGE, "tare voxel: territory "
      "'right': lsf = 20 must be in [0, 1) (a fraction, not percent)",
      "TARE voxel: a lung shunt in percent");
  t[1].lsf = 0;
  t[1].mode = (rkin_tvox_mode)7;
  BAD(rkin_tvox_run(&p, &r, &err), RKIN_EINVAL, "tare voxel: territory "
      "'right': mode 7 unknown", "TARE voxel: an unknown territory mode");
  t[1].mode = RKIN_TVOX_TUMOUR_MEAN;
  t[1].value = 0;
  BAD(rkin_tvox_run(&p, &r, &err), RKIN_EINVAL, "tare voxel: territory "
      "'right': tumour_mean = 0 must be > 0 Gy", "TARE voxel: a zero target");
  t[1].value = 120;
  t[1].mask = NULL;
  BAD(rkin_tvox_run(&p, &r, &err), RKIN_EINVAL, "tare voxel: territory "
      "'right' has no mask (only a single territory may be the whole liver)",
      "TARE voxel: two territories, one without a mask");
  t[1].mask = m2;
  /* run-time checks */
  scout.v[20] = NAN;
  BAD(rkin_tvox_run(&p, &r, &err), RKIN_ENONFINITE, "tare voxel: scout voxel "
      "(3,1,3) is not finite", "TARE voxel: a NaN scout voxel");
  scout.v[20] = 1;
  rho.v[4] = 0;
  q = p; q.rho = &rho;
  BAD(rkin_tvox_run(&q, &r, &err), RKIN_EINVAL, "tare voxel: density 0 g/cm3 "
      "at liver voxel (2,2,1) (expected > 0)", "TARE voxel: a zero density "
      "voxel");
  m1[13] = 1;
  BAD(rkin_tvox_run(&p, &r, &err), RKIN_EINVAL, "tare voxel: territory "
      "'left' and territory 'right' overlap (voxel (2,2,2)): territories "
      "must be disjoint", "TARE voxel: overlapping territories");
  m1[13] = 0;
  memset(m1, 0, sizeof m1);
  q = p; q.liver = m2;
  BAD(rkin_tvox_run(&q, &r, &err), RKIN_EINVAL, "tare voxel: territory "
      "'left' does not overlap the liver mask", "TARE voxel: a territory "
      "outside the liver");
  for (i = 0; i < 13; i++) m1[i] = 1;
  for (i = 0; i < 13; i++) scout.v[i] = 0;
  BAD(rkin_tvox_run(&p, &r, &err), RKIN_EINVAL, "tare voxel: territory "
      "'left' has no counts in the scout (nothing to distribute the activity "
      "by)", "TARE voxel: a territory without counts");
  for (i = 0; i < 13; i++) scout.v[i] = 1;
  BAD(rkin_tvox_run(&p, &r, &err), RKIN_EINVAL, "tare voxel: territory "
      "'right': mode tumour_mean needs tumour voxels in the territory (none "
      "there)", "TARE voxel: a tumour target without tumour");
  /* a tumour in the right territory whose scout counts are 0 */
  tumour[20] = 1;
  scout.v[20] = 0;
  BAD(rkin_tvox_run(&p, &r, &err), RKIN_EINVAL, "tare voxel: territory "
      "'right': the tumour gets no dose (mean of the scout is 0 there): no "
      "activity reaches tumour_mean = 120 Gy", "TARE voxel: a cold tumour");
  rkin_image_free(&scout);
  rkin_image_free(&rho);
  rkin_image_free(&small);
}

int main(void)
{
  rkin_init();
  if (!mkdtemp(dir)) {
    diag("mkdtemp failed");
    return 1;
  }
  test_hu();
  test_led();
  test_kernel();
  test_dvh();
  test_tia();
  test_tare();
  {
    const char *names[] = {"hu3.csv", "hux.csv", "hur.csv", "hud.csv",
                           "hu1.csv", "hu2.csv", "dpk_h.csv", "dpk_r.csv",
                           "dpk_1.csv"};
    char path[256];
    size_t i;
    for (i = 0; i < sizeof names / sizeof *names; i++) {
      snprintf(path, sizeof path, "%s/%s", dir, names[i]);
      unlink(path);
    }
    snprintf(path, sizeof path, "%s/Lu177_%gmm_soft.csv", dir,
             rkin_lanconelli_sizes[0]);
    unlink(path);
  }
  rmdir(dir);
  done_testing();
  return exit_status();
}
