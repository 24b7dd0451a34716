/* test_dosimetry.c - local energy deposition, S tables, mass scaling,
 * sphere absorbed fractions, dose-rate curves. */
#include <math.h>
#include <string.h>

#include "core/init.h"
#include "dose/doserate.h"
#include "dose/dosimetry.h"
#include "dose/sphere.h"
#include "../tap.h"

/* 1 MBq h in 1 kg: E_np [MeV] x 3.6e9 x 1.602176634e-13, multiplied out
 * by hand (30-digit decimal arithmetic) from the ICRP 107 energies of
 * nuclide.c. */
static const struct {
  const char *name;
  double gy;
} led_hand[] = {
  {"Lu-177", 8.53178283724608e-05},  {"Y-90", 5.38196766186744e-04},
  {"Ho-166", 4.016317159991592e-04}, {"I-131", 1.106501635679616e-04},
  {"Ga-68", 4.256316811058256e-04},  {"Tc-99m", 9.3323584577232e-06},
  {"Tb-161", 1.167871409468352e-04}, {"Ac-225", 3.4126323851960784e-03},
  {"Ac-225+d", 1.65444431415685128e-02},
};

static void test_led(void)
{
  rkin_err err;
  double d = -1.0;
  size_t i;
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  for (i = 0; i < sizeof led_hand / sizeof led_hand[0]; i++) {
    const rkin_nuclide *n = rkin_nuclide_find(led_hand[i].name, NULL);
    int rc = rkin_dosimetry_led(n, 1.0, 1.0, "test", &d, &err);
    is_double(rc == 0 ? d : NAN, led_hand[i].gy, 1e-12,
              "LED %s 1 MBq h in 1 kg = hand computation (rel 1e-12)",
              led_hand[i].name);
  }
  ok(i == rkin_nuclide_count(), "every nuclide of the table checked");
  /* Dose is linear in TIA and inverse in mass (MIRD schema). */
  rkin_dosimetry_led(lu, 1000.0, 0.3, "kidney", &d, &err);
  is_double(d, 1000.0 * 8.53178283724608e-05 / 0.3, 1e-12,
            "LED 1000 MBq h in 0.3 kg (rel 1e-12)");

  is_int(rkin_dosimetry_led(lu, 10.0, 0.0, "kidney", &d, &err), RKIN_EINVAL,
         "zero mass rejected");
  like(err.msg, "kidney: mass_kg = 0, expected > 0", "message names mass 0");
  rkin_dosimetry_led(lu, 10.0, -0.2, "liver", &d, &err);
  like(err.msg, "liver: mass_kg = -0.2", "negative mass named with region");
  is_int(rkin_dosimetry_led(lu, -5.0, 1.0, "spleen", &d, &err), RKIN_EINVAL,
         "negative TIA rejected");
  like(err.msg, "spleen: tia_MBqh = -5", "message names the negative TIA");
  rkin_dosimetry_led(lu, NAN, 1.0, "spleen", &d, &err);
  like(err.msg, "tia_MBqh = nan", "NaN TIA rejected");
  is_int(rkin_dosimetry_led(NULL, 1.0, 1.0, "x", &d, &err), RKIN_EINVAL,
         "no nuclide rejected");
}

static void test_stable(void)
{
  const char *rows[] = {"kidney", "liver", "spleen"};
  const char *cols[] = {"liver", "spleen", "kidney"};
  /* row = source, columns in cols order: S(target <- source). */
  const double s[] = {1e-5, 2e-5, 3e-4,
                      4e-4, 5e-6, 6e-6,
                      7e-6, 8e-4, 9e-6};
  const char *src[] = {"kidney", "liver"};
  double tia[] = {100.0, 50.0}, v, d;
  rkin_stable *t = NULL;
  rkin_err err;
  size_t i;

  is_int(rkin_stable_new(3, rows, 3, cols, s, 9, &t, &err), 0,
         "3 x 3 table with reordered columns accepted");
  is_int((long)rkin_stable_size(t), 3, "three regions");
  ok(!strcmp(rkin_stable_region(t, 2), "spleen"), "regions in row order");
  rkin_stable_get(t, "kidney", "kidney", &v, &err);
  is_double(v, 3e-4, 1e-15, "S(kidney <- kidney) from column 3");
  rkin_stable_get(t, "liver", "spleen", &v, &err);
  is_double(v, 5e-6, 1e-15, "S(spleen <- liver)");
  is_int(rkin_stable_dose(t, 2, src, tia, "kidney", &d, &err), 0,
         "dose to kidney from two sources");
  /* MIRD sum (MIRD Pamphlet 21): 100 x 3e-4 + 50 x 6e-6. */
  is_double(d, 100 * 3e-4 + 50 * 6e-6, 1e-14, "D = sum TIA x S (rel 1e-14)");

  is_int(rkin_stable_dose(t, 2, src, tia, "heart", &d, &err),
         RKIN_ENOTFOUND, "unknown target region");
  like(err.msg, "unknown region 'heart' (known: kidney, liver, spleen)",
       "message names the region and lists the known ones");
  {
    const char *bad_src[] = {"kidney", "bladder"};
    rkin_stable_dose(t, 2, bad_src, tia, "kidney", &d, &err);
    like(err.msg, "source 2: S table: unknown region 'bladder'",
         "unknown source names its position and name");
  }
  tia[1] = -3.0;
  rkin_stable_dose(t, 2, src, tia, "kidney", &d, &err);
  like(err.msg, "source 'liver' tia_MBqh = -3", "negative TIA in S dose");
  rkin_stable_free(t);

  is_int(rkin_stable_new(3, rows, 2, cols, s, 6, &t, &err), RKIN_EINVAL,
         "non-square table rejected");
  like(err.msg, "not square, 3 source rows and 2 target columns",
       "non-square message gives the shape");
  ok(t == NULL, "no table on failure");
  rkin_stable_new(3, rows, 3, cols, s, 8, &t, &err);
  like(err.msg, "8 values for 3 rows x 3 columns (expected 9)",
       "ragged table (value count) rejected");
  {
    const char *cols2[] = {"liver", "spleen", "heart"};
    is_int(rkin_stable_new(3, rows, 3, cols2, s, 9, &t, &err),
           RKIN_ENOTFOUND, "mismatched regions rejected");
    like(err.msg, "column 3 target region 'heart' has no source row",
         "mismatch message names the column");
    const char *rows2[] = {"kidney", "liver", "kidney"};
    rkin_stable_new(3, rows2, 3, cols, s, 9, &t, &err);
    like(err.msg, "row region 'kidney' appears twice (row 3)",
         "duplicate region rejected");
  }
  {
    double s2[9];
    for (i = 0; i < 9; i++) s2[i] = s[i];
    s2[4] = -1e-6;
    rkin_stable_new(3, rows, 3, cols, s2, 9, &t, &err);
    like(err.msg, "S(spleen <- liver) = -1e-06 Gy/(MBq h) (row 2, column 2)",
         "negative S value named by regions and position");
  }
}

static void test_scaling(void)
{
  rkin_err err;
  double s;
  /* Electrons: S m is the energy per decay, conserved (scale 1/m). */
  rkin_dosimetry_scale_self(2e-4, 0.0, 0.3, 0.45, "kidney", &s, &err);
  is_double(s * 0.45, 2e-4 * 0.3, 1e-14,
            "electron S x mass conserved under scaling (rel 1e-14)");
  rkin_dosimetry_scale_self(0.0, 1e-5, 0.1, 0.8, "kidney", &s, &err);
  is_double(s, 1e-5 / 4.0, 1e-14,
            "photon S scales as m^(-2/3): 8x mass gives 1/4 (rel 1e-14)");
  rkin_dosimetry_scale_self(3e-4, 2e-5, 0.3, 0.3, "kidney", &s, &err);
  is_double(s, 3.2e-4, 1e-14, "same mass: S_e + S_p unchanged");
  /* Hand, a target 8x lighter than the reference, both parts: 1e-4 x 8 +
   * 1e-5 x 8^(2/3) = 8e-4 + 4e-5 = 8.4e-4 (photon exponent 1: 8.8e-4). */
  rkin_dosimetry_scale_self(1e-4, 1e-5, 0.3, 0.0375, "kidney", &s, &err);
  is_double(s, 8.4e-4, 1e-14, "1/8 the mass: 8 S_e + 4 S_p (rel 1e-14)");
  is_int(rkin_dosimetry_scale_self(1e-4, 0, 0.3, 4.0, "kidney", &s, &err),
         RKIN_ERANGE, "scaling by more than 10x refused");
  like(err.msg, "limited to a factor 10", "message gives the limit");
  rkin_dosimetry_scale_self(1e-4, 0, 0.3, -1.0, "kidney", &s, &err);
  like(err.msg, "kidney: mass_kg = -1", "negative target mass");
  rkin_dosimetry_scale_self(1e-4, 0, 0.0, 1.0, "kidney", &s, &err);
  like(err.msg, "kidney: reference mass_kg = 0", "zero reference mass");
  rkin_dosimetry_scale_self(-1e-4, 0, 0.3, 0.3, "kidney", &s, &err);
  like(err.msg, "electron -0.0001", "negative S refused");
}

static void test_sphere(void)
{
  /* Lu-177 sphere table of qurit/PyTheranostics spheres.json (C; see
   * docs/sources.md): mass g, S Gy/(Bq s), density 1.03. */
  static const double m_g[] = {
    4.31e-3, 1.46e-2, 3.45e-2, 1.16e-1, 2.76e-1, 5.39e-1, 9.32e-1, 2.21,
    4.31, 14.6, 34.5, 116, 276, 539, 932};
  static const double s_lit[] = {
    4.54e-9, 1.44e-9, 6.29e-10, 1.93e-10, 8.26e-11, 4.27e-11, 2.49e-11,
    1.06e-11, 5.46e-12, 1.63e-12, 6.93e-13, 2.07e-13, 8.81e-14, 4.54e-14,
    2.65e-14};
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  const rkin_nuclide *y = rkin_nuclide_find("Y-90", NULL);
  const char *names[] = {"Lu-177", "Y-90", "I-131", "Ho-166"};
  rkin_sphere sp;
  rkin_err err;
  double s, worst = 0.0;
  size_t i;
  int all = 1;

  for (i = 0; i < 15; i++) {
    double want = s_lit[i] * 3.6e9;  /* Gy/(Bq s) -> Gy/(MBq h) */
    if (rkin_sphere_eval(lu, m_g[i] / 1000, 1.03, &sp, &err)) all = 0;
    worst = fmax(worst, fabs(sp.s_gy_per_mbqh / want - 1.0));
  }
  diag("Lu-177 sphere model vs the public sphere table: worst rel. diff %.4f",
       worst);
  ok(all && worst < 0.006,
     "Lu-177 sphere S within 0.6 %% of the s.5.1 table, 4.3 mg-932 g "
     "(fit quality, D)");
  rkin_sphere_lu177_table(0.116 / 1000, &s, &err);
  is_double(s, 1.93e-10 * 3.6e9, 1e-12, "Lu-177 table at a node");
  /* Midway in log m between 1 g-ish nodes: log-log interpolation. */
  rkin_sphere_lu177_table(sqrt(4.31 * 14.6) / 1000, &s, &err);
  is_double(s, sqrt(5.46e-12 * 1.63e-12) * 3.6e9, 1e-12,
            "Lu-177 table midway (geometric mean, log-log)");
  is_int(rkin_sphere_lu177_table(2.0, &s, &err), RKIN_ERANGE,
         "Lu-177 table above 932 g refused");
  like(err.msg, "mass 2 kg outside the table's range 4.31e-06-0.932 kg",
       "message gives the table range");

  /* Y-90 spectral phi_e: Hashempour et al. 2019 (P, partial). */
  {
    static const double yg[] = {4, 10, 20, 100}, yphi[] = {0.80, 0.85, 0.88,
                                                          0.935};
    for (i = 0; i < 4; i++) {
      rkin_sphere_eval(y, yg[i] / 1000, 1.04, &sp, &err);
      is_double(sp.phi_e, yphi[i], 0.01,
                "Y-90 phi_e at %g g vs Hashempour 2019 (rel 1 %%)", yg[i]);
    }
    ok(sp.phi_p == 0.0, "Y-90: no photon energy, phi_p = 0");
  }
  /* Straight-track limit: escape 3 r_e / (8 R) for r_e << R (Cauchy's
   * mean-chord relation, S/V = 3/R). At 1 kg Lu-177, r_e/R ~ 0.0075. */
  rkin_sphere_eval(lu, 1.0, 1.0, &sp, &err);
  is_double(1.0 - sp.phi_e, 3 * 0.0464 / (8 * sp.radius_cm), 1e-4,
            "electron escape -> 3 r_e / (8 R) for large spheres");
  is_double(sp.radius_cm, cbrt(3000.0 / (4 * M_PI)), 1e-12,
            "radius of 1 kg at 1 kg/L");
  for (i = 0; i < 4; i++) {
    const rkin_nuclide *n = rkin_nuclide_find(names[i], NULL);
    double m, prev = 0.0;
    int mono = 1, rc = 0;
    for (m = 0.02; m <= 1.0; m *= 1.5) {
      rc |= rkin_sphere_eval(n, m, 1.04, &sp, &err);
      if (sp.phi_e < prev || sp.phi_e > 1 || sp.phi_p < 0 || sp.phi_p > 1)
        mono = 0;
      prev = sp.phi_e;
      /* Energy bound: S m <= Delta_e + Delta_p. */
      if (sp.s_gy_per_mbqh * m > 3.6e9 * 1.602176634e-13 *
                                     (n->e_np_mev + n->e_p_mev))
        mono = 0;
    }
    ok(!rc && mono, "%s: phi_e rises with mass, fractions in [0,1], S m "
       "<= emitted energy", names[i]);
  }
  is_int(rkin_sphere_eval(y, 0.001, 1.04, &sp, &err), RKIN_ERANGE,
         "Y-90 1 g sphere below validity refused");
  like(err.msg, "sphere (Y-90): mass 0.001 kg outside the model's validity",
       "message names nuclide, mass and range");
  rkin_sphere_eval(lu, 2.0, 1.04, &sp, &err);
  like(err.msg, "mass 2 kg outside", "above 1 kg refused");
  is_int(rkin_sphere_eval(rkin_nuclide_find("Ga-68", NULL), 0.01, 1.0, &sp,
                          &err), RKIN_ENOTFOUND, "Ga-68 has no sphere model");
  like(err.msg, "supported: Lu-177, Y-90, I-131, Ho-166", "lists supported");
  rkin_sphere_eval(lu, 0.01, 2.0, &sp, &err);
  like(err.msg, "density 2 kg/L outside", "bone density refused");
  rkin_sphere_eval(lu, -0.01, 1.0, &sp, &err);
  like(err.msg, "mass_kg = -0.01, expected > 0", "negative sphere mass");
}

static void test_doserate(void)
{
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  double a[] = {50.0, -50.0, 10.0}, b[] = {0.015, 0.5, 0.004345};
  double d_led, tia = 0.0;
  rkin_doserate r;
  rkin_err err;
  size_t k;
  is_int(rkin_doserate_from_tac(&r, lu, 3, a, b, 0.3, "kidney", &err), 0,
         "TAC -> dose rate");
  for (k = 0; k < 3; k++) tia += a[k] / b[k];
  rkin_dosimetry_led(lu, tia, 0.3, "kidney", &d_led, &err);
  is_double(rkin_doserate_total(&r), d_led, 1e-12,
            "integral of the dose rate = LED of the TIA (rel 1e-12)");
  is_double(rkin_doserate_eval(&r, 0.0), 10.0 * 8.53178283724608e-05 / 0.3,
            1e-12, "R(0) = A(0) x E / m");

  {
    double c[] = {1.0}, bb[] = {0.0};
    is_int(rkin_doserate_set(&r, 1, c, bb, "kidney", &err), RKIN_EINVAL,
           "non-decaying curve rejected");
    like(err.msg, "kidney: term 1 rate b = 0 /h does not decay (TIA and "
         "dose would be infinite)", "message names term and rate");
    bb[0] = -0.01;
    rkin_doserate_set(&r, 1, c, bb, "tumour 1", &err);
    like(err.msg, "tumour 1: term 1 rate b = -0.01 /h", "growing curve");
  }
  {
    double c[] = {1.0, -2.0}, bb[] = {0.5, 0.01};
    rkin_doserate_set(&r, 2, c, bb, "liver", &err);
    like(err.msg, "liver: dose rate becomes negative", "negative curve");
    double c2[] = {2.0, -1.0}, b2[] = {0.5, 0.01};
    rkin_doserate_set(&r, 2, c2, b2, "liver", &err);
    like(err.msg, "slowest term -1 Gy/h at b = 0.01", "negative tail");
    /* Positive at 0 and in the tail, negative in between: R(5 h) =
     * e^-0.05 - 3 e^-0.5 + 2.1 e^-5 = -0.85 Gy/h (by hand). */
    double c3[] = {1.0, -3.0, 2.1}, b3[] = {0.01, 0.1, 1.0};
    is_int(rkin_doserate_set(&r, 3, c3, b3, "lesion", &err), RKIN_EINVAL,
           "a 3-term curve dipping below zero in between is rejected");
    like(err.msg, "lesion: dose rate becomes negative between", "message "
         "says where");
    /* Same rates, middle term -1: e^-0.01t - e^-0.1t > 0 for t > 0, so
     * the curve stays positive; accepted. */
    double c4[] = {1.0, -1.0, 2.1};
    is_int(rkin_doserate_set(&r, 3, c4, b3, "lesion", &err), RKIN_OK,
           "a 3-term mixed-sign curve that stays >= 0 is accepted");
  }
  is_int(rkin_doserate_set(&r, 0, a, b, "x", &err), RKIN_EINVAL, "0 terms");
  is_int(rkin_doserate_from_tac(&r, lu, 1, a, b, 0.0, "kidney", &err),
         RKIN_EINVAL, "TAC with zero mass rejected");
  like(err.msg, "kidney: mass_kg = 0", "message names the mass");
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  test_led();
  test_stable();
  test_scaling();
  test_sphere();
  test_doserate();
  done_testing();
  return exit_status();
}
