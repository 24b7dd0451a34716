/* test_tare_voxel.c - TARE voxel planning (voxel/tare_voxel.h) against
 * closed forms.
 *
 * A box liver of uniform normal counts 1 with a cube tumour of counts r
 * (T/N = r per unit mass at uniform density): the partition model gives
 *   D_N = CF A (1 - L) / (M_N + r M_T), D_T = r D_N,
 * the lungs CF A L / M_lung (Tijdschr Nucl Geneesk 2023;45(2),
 * docs/sources.md "TARE"). The voxel local-deposition doses of such a
 * liver equal these to float rounding, and the activity for a tumour
 * mean dose equals the partition model's. A normal liver whose counts take
 * two levels, the lower in 62.5 % of its voxels, has D70 = the lower
 * level's dose (the hottest 70 % reach into the lower level). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxel/tare_voxel.h"
#include "../tap.h"

#define N 20
#define IDX(i, j, k) ((size_t)(i) + N * ((size_t)(j) + N * (size_t)(k)))

static rkin_image scout;
static unsigned char liver[N * N * N], tumour[N * N * N];
static unsigned char left[N * N * N], right[N * N * N];
static const double CF = 49.67, RHO = 1.03, R = 4.0;
static double vml;

/* liver i, j, k in [2, 17]; tumour i in [4, 7], j, k in [8, 11];
 * territories: left i <= 9, right i >= 10. */
static void build(int two_level)
{
  int i, j, k;
  rkin_grid g;
  rkin_err e = {0};
  rkin_grid_init(&g, N, N, N, 4.0, 4.0, 4.0);
  rkin_image_free(&scout);
  rkin_image_alloc(&scout, &g, &e);
  vml = rkin_grid_voxel_ml(&g);
  memset(liver, 0, sizeof liver);
  memset(tumour, 0, sizeof tumour);
  for (k = 0; k < N; k++)
    for (j = 0; j < N; j++)
      for (i = 0; i < N; i++) {
        size_t v = IDX(i, j, k);
        int in = i >= 2 && i <= 17 && j >= 2 && j <= 17 && k >= 2 && k <= 17;
        int tu = i >= 4 && i <= 7 && j >= 8 && j <= 11 && k >= 8 && k <= 11;
        liver[v] = (unsigned char)in;
        tumour[v] = (unsigned char)tu;
        left[v] = (unsigned char)(i <= 9);
        right[v] = (unsigned char)(i >= 10);
        /* some counts outside the liver, to be ignored */
        scout.v[v] = in ? (tu ? (float)R : 1.0f) : 0.3f;
        if (in && two_level && i >= 10 && j >= 12) scout.v[v] = 2.0f;
      }
}

static void base(rkin_tvox_plan *p, const rkin_tvox_territory *t, size_t n)
{
  rkin_err e = {0};
  memset(p, 0, sizeof *p);
  p->scout = &scout;
  p->liver = liver;
  p->tumour = tumour;
  p->rho_uniform = RHO;
  p->product = rkin_tare_product_find("SIR-Spheres", &e);
  p->nuclide = rkin_nuclide_find("Y-90", &e);
  p->cf = CF;
  p->lung_mass_kg = 0.8;
  p->terr = t;
  p->n_terr = n;
}

int main(void)
{
  rkin_tvox_territory t[2];
  rkin_tvox_plan p;
  rkin_tvox_result res;
  rkin_kernel ker;
  rkin_err e = {0};
  double m, mn, mt, dn, a, sl, sr, sum;
  size_t v;
  int h[3] = {1, 1, 1};
  double sp[3] = {4.0, 4.0, 4.0}, ks[27];

  build(0);
  m = RHO * vml / 1000.0;      /* kg per voxel */
  mn = 4032 * m;
  mt = 64 * m;

  /* 1. given activity, one territory (the whole liver) */
  memset(t, 0, sizeof t);
  t[0].lsf = 0.1;
  t[0].mode = RKIN_TVOX_ACTIVITY;
  t[0].value = 2000.0;
  base(&p, t, 1);
  ok(rkin_tvox_run(&p, &res, &e) == 0, "plan on a given activity: %s",
     e.msg);
  dn = CF * 2.0 * 0.9 / (mn + R * mt);
  is_double(res.terr[0].normal_mean_gy, dn, 1e-6, "normal mean = D_N of the "
            "partition model (%g Gy)", dn);
  is_double(res.terr[0].tumour_mean_gy, R * dn, 1e-6, "tumour mean = r D_N");
  is_double(res.terr[0].normal_d70_gy, dn, 1e-6, "uniform: D70 = mean");
  is_double(res.terr[0].tn, R, 1e-9, "T/N from the counts per mass");
  is_double(res.terr[0].tumour_kg, mt, 1e-6, "tumour mass");
  ok(res.terr[0].has_partition, "partition model formed");
  is_double(res.terr[0].part_normal_gy, res.terr[0].normal_mean_gy, 1e-6,
            "partition normal dose = voxel mean");
  is_double(res.terr[0].part_tumour_gy, res.terr[0].tumour_mean_gy, 1e-6,
            "partition tumour dose = voxel mean");
  is_double(res.lung_gy, CF * 2.0 * 0.1 / 0.8, 1e-12,
            "lung = CF A L / M_lung");
  is_double(res.terr[0].part_lung_gy, res.lung_gy, 1e-12,
            "partition lung dose");
  for (sum = 0.0, v = 0; v < (size_t)N * N * N; v++) sum += res.activity.v[v];
  is_double(sum, 2000.0 * 0.9, 1e-6, "activity map holds A (1 - L)");
  is_double(res.outside_fraction, 0.0, 1e-12, "no liver counts outside");
  is_int((long)res.partition.n_territories, 1, "whole-plan partition run");
  rkin_tvox_free(&res);

  /* 2. the activity for a tumour mean dose */
  t[0].mode = RKIN_TVOX_TUMOUR_MEAN;
  t[0].value = 120.0;
  ok(rkin_tvox_run(&p, &res, &e) == 0, "plan on a tumour mean: %s", e.msg);
  a = 120.0 * (mn + R * mt) / (R * CF * 0.9 * 1e-3);
  is_double(res.terr[0].activity_mbq, a, 1e-6, "A for 120 Gy tumour mean "
            "(%g MBq)", a);
  is_double(res.terr[0].part_activity_mbq, a, 1e-9,
            "partition-model activity for the same target");
  is_double(res.terr[0].tumour_mean_gy, 120.0, 1e-6, "tumour mean reached");
  rkin_tvox_free(&res);

  /* 3. two territories: normal mean (with the tumour) and normal D70 of a
   * two-level normal liver */
  build(1);
  memset(t, 0, sizeof t);
  t[0].name = "left";
  t[0].mask = left;
  t[0].lsf = 0.05;
  t[0].mode = RKIN_TVOX_NORMAL_MEAN;
  t[0].value = 30.0;
  t[1].name = "right";
  t[1].mask = right;
  t[1].lsf = 0.05;
  t[1].mode = RKIN_TVOX_NORMAL_D70;
  t[1].value = 25.0;
  base(&p, t, 2);
  ok(rkin_tvox_run(&p, &res, &e) == 0, "two territories: %s", e.msg);
  sl = 1984 + 64 * R;
  sr = 1280 + 2 * 768;
  a = 30.0 * sl * m / (CF * 0.95 * 1e-3);
  is_double(res.terr[0].activity_mbq, a, 1e-6, "left: A for 30 Gy mean");
  is_double(res.terr[0].part_activity_mbq, a, 1e-9,
            "left: partition activity equal");
  a = 25.0 * sr * m / (CF * 0.95 * 1e-3);
  is_double(res.terr[1].activity_mbq, a, 1e-6, "right: A for D70 = 25 Gy "
            "(%g MBq)", a);
  is_double(res.terr[1].normal_d70_gy, 25.0, 1e-6, "right: D70 reached");
  is_double(res.terr[1].normal_max_gy, 50.0, 1e-6, "right: upper level 2 x");
  is_double(res.terr[1].part_activity_mbq,
            25.0 * 2048 * m / (CF * 0.95 * 1e-3), 1e-9,
            "right: partition activity = mean-dose activity");
  is_double(res.lung_gy, CF * (res.terr[0].activity_mbq +
                               res.terr[1].activity_mbq) * 1e-3 * 0.05 / 0.8,
            1e-12, "lung from both territories");
  is_int((long)res.partition.n_territories, 2, "checks over both");
  is_int((long)res.voi.v[IDX(5, 9, 9)], 1, "VOI map: left tumour 1");
  is_int((long)res.voi.v[IDX(3, 3, 3)], 2, "VOI map: left normal 2");
  is_int((long)res.voi.v[IDX(12, 3, 3)], 4, "VOI map: right normal 4");
  is_int((long)res.voi.v[IDX(0, 3, 3)], 0, "VOI map: outside 0");
  rkin_tvox_free(&res);

  /* 4. kernel dose in the interior of a uniform normal region */
  build(0);
  for (v = 0; v < 27; v++) ks[v] = 0.0;
  ks[13] = 1e-12;
  ks[12] = ks[14] = ks[10] = ks[16] = ks[4] = ks[22] = 2e-13;
  ok(rkin_kernel_from_values("Y-90", h, sp, 1.04, ks, &ker, &e) == 0,
     "test kernel");
  memset(t, 0, sizeof t);
  t[0].lsf = 0.1;
  t[0].mode = RKIN_TVOX_ACTIVITY;
  t[0].value = 2000.0;
  base(&p, t, 1);
  p.kernel = &ker;
  ok(rkin_tvox_run(&p, &res, &e) == 0, "with a kernel: %s", e.msg);
  {
    double lam_s = log(2.0) / (p.nuclide->half_life_h * 3600.0);
    double av = 2000.0 * 0.9 / (4032 + 64 * R) * 1e6; /* Bq */
    is_double(res.dose_kernel.v[IDX(14, 14, 14)], av / lam_s * 2.2e-12, 1e-5,
              "kernel dose = decays x sum S inside");
    is_double(res.dose_kernel.v[IDX(0, 0, 0)], 0.0, 1e-12,
              "no dose far outside");
  }
  rkin_tvox_free(&res);
  rkin_kernel_free(&ker);

  /* 5. bad input */
  p.kernel = NULL;
  t[0].lsf = 1.0;
  ok(rkin_tvox_run(&p, &res, &e) < 0 && strstr(e.msg, "lsf"),
     "lsf 1 refused: %s", e.msg);
  memset(t, 0, sizeof t);
  t[0].mask = left;
  t[1].mask = left;
  t[0].mode = t[1].mode = RKIN_TVOX_ACTIVITY;
  t[0].value = t[1].value = 100.0;
  base(&p, t, 2);
  ok(rkin_tvox_run(&p, &res, &e) < 0 && strstr(e.msg, "overlap"),
     "overlapping territories: %s", e.msg);
  t[1].mask = right;
  t[1].mode = RKIN_TVOX_TUMOUR_MEAN;
  ok(rkin_tvox_run(&p, &res, &e) < 0 && strstr(e.msg, "territory 2") &&
     strstr(e.msg, "tumour"), "tumour target without tumour: %s", e.msg);
  {
    static unsigned char outside[N * N * N];
    outside[IDX(0, 0, 0)] = 1;
    t[1].mask = outside;
    t[1].mode = RKIN_TVOX_ACTIVITY;
    ok(rkin_tvox_run(&p, &res, &e) < 0 && strstr(e.msg, "does not overlap"),
       "territory outside the liver: %s", e.msg);
  }
  scout.v[IDX(5, 5, 5)] = NAN;
  t[1].mask = right;
  ok(rkin_tvox_run(&p, &res, &e) < 0 && strstr(e.msg, "not finite"),
     "NaN count: %s", e.msg);
  scout.v[IDX(5, 5, 5)] = -1.0f;
  ok(rkin_tvox_run(&p, &res, &e) == 0 && res.n_negative == 1,
     "a negative count taken as 0 and counted");
  rkin_tvox_free(&res);
  rkin_image_free(&scout);
  done_testing();
  return exit_status();
}
