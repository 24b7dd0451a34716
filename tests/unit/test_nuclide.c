/* test_nuclide.c - the radionuclide table: lookup, and every confirmed
 * number against the published table it was read in (engine/core/nuclide.c
 * names them; docs/sources.md gives the citations). */
#include <math.h>
#include <string.h>

#include "core/init.h"
#include "core/nuclide.h"
#include "../tap.h"

static const rkin_nuclide *nuc(const char *name)
{
  return rkin_nuclide_find(name, NULL);
}

/* Published energies per decay, keV, as printed in the table named. */
static void test_published(void)
{
  const rkin_nuclide *lu = nuc("Lu-177"), *tb = nuc("Tb-161"),
                     *tc = nuc("Tc-99m");
  /* Alcocer-Avila et al., EJNMMI Phys 2020;7:33, Table 1: total electron
   * energy per decay 147.9 keV (Lu-177), 202.5 keV (Tb-161); photons X+gamma
   * 35.1 and 36.35 keV. The table value is taken as printed (rel 1e-12). */
  is_double(lu->e_np_mev, 147.9e-3, 1e-12,
            "Lu-177 E_np = 147.9 keV, Alcocer-Avila 2020 Table 1 (rel 1e-12)");
  is_double(lu->e_p_mev, 35.1e-3, 1e-12,
            "Lu-177 E_p = 35.1 keV, Alcocer-Avila 2020 Table 1 (rel 1e-12)");
  is_double(tb->e_np_mev, 202.5e-3, 1e-12,
            "Tb-161 E_np = 202.5 keV, Alcocer-Avila 2020 Table 1");
  is_double(tb->e_p_mev, 36.35e-3, 1e-12,
            "Tb-161 E_p = 36.35 keV, Alcocer-Avila 2020 Table 1");
  /* The printed components add up to the total within the printed
   * rounding (half a unit of the last digit of 147.9 / 202.5 keV). */
  is_double(lu->e_np_mev, (133.3 + 13.52 + 1.13) * 1e-3, 0.05 / 147.9,
            "Lu-177 beta 133.3 + IC 13.52 + Auger 1.13 keV (rounding)");
  is_double(tb->e_np_mev, (154.3 + 39.28 + 8.94) * 1e-3, 0.05 / 202.5,
            "Tb-161 beta 154.3 + IC 39.28 + Auger 8.94 keV (rounding)");
  /* Falzone et al. 2015 as reproduced in Front Pharmacol 2018;9:996
   * Table 1 (three significant digits): Lu-177 beta 133, IE 13.5, AE 1.13
   * keV, photons 35.1 keV; Tc-99m IE 15.2, AE 0.94 keV, photons 127 keV. */
  is_double(lu->e_np_mev, (133 + 13.5 + 1.13) * 1e-3, 0.005,
            "Lu-177 E_np vs Falzone 2015 (3 digits: rel 0.5 %%)");
  is_double(lu->e_p_mev, 35.1e-3, 1e-12, "Lu-177 E_p vs Falzone 2015");
  is_double(tc->e_np_mev, (15.2 + 0.94) * 1e-3, 1e-12,
            "Tc-99m E_np = IE 15.2 + AE 0.94 keV, Falzone 2015 (rel 1e-12)");
  is_double(tc->e_p_mev, 127e-3, 1e-12,
            "Tc-99m E_p = 127 keV, Falzone 2015 (rel 1e-12)");
  /* Half-lives as printed in Alcocer-Avila 2020 Table 1. */
  is_double(lu->half_life_h, 6.647 * 24, 1e-12,
            "Lu-177 T1/2 6.647 d, Alcocer-Avila 2020 Table 1");
  is_double(tb->half_life_h, 6.906 * 24, 1e-12,
            "Tb-161 T1/2 6.906 d, Alcocer-Avila 2020 Table 1");
  /* DDEP (LNE-LNHB 2025) recommends 6.6443 d for Lu-177: the table's
   * 6.647 d is within 0.05 % of it (the two data sets differ). */
  is_double(lu->half_life_h, 6.6443 * 24, 5e-4,
            "Lu-177 T1/2 within 0.05 %% of DDEP 2025 6.6443 d");
}

/* Every entry names its data set per number and tags it; the values not
 * confirmed in any table read say so (U). */
static void test_sources(void)
{
  static const char *const unconfirmed[] = {"Y-90", "Ho-166", "I-131",
                                            "Ga-68", "Ac-225", "Ac-225+d"};
  size_t i;
  for (i = 0; i < rkin_nuclide_count(); i++) {
    const rkin_nuclide *n = rkin_nuclide_at(i);
    ok(n->half_life_h > 0 && n->e_np_mev > 0 && n->e_p_mev >= 0
         && n->source && strstr(n->source, "T1/2")
         && strstr(n->source, "E_np") && strstr(n->source, "E_p"),
       "%s: positive half-life and energies, source per number", n->name);
    ok(strstr(n->source, "(P)") || strstr(n->source, "(S)")
         || strstr(n->source, "U)"),
       "%s: source carries a confirmation tag", n->name);
    ok(!strstr(n->source, ".md"), "%s: cites no project-internal file",
       n->name);
  }
  for (i = 0; i < sizeof unconfirmed / sizeof unconfirmed[0]; i++)
    like(nuc(unconfirmed[i])->source, "U)",
         "%s: unconfirmed energies tagged U", unconfirmed[i]);
  ok(!strstr(nuc("Lu-177")->source, "U)"), "Lu-177: no unconfirmed number");
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  rkin_err err;
  const rkin_nuclide *lu = nuc("Lu-177");

  ok(lu != NULL, "Lu-177 found");
  /* lambda = ln 2 / (6.647 x 24 h) = 0.00434498759189575 /h, the constant
   * the peer PBPK programs use. */
  is_double(rkin_nuclide_lambda(lu), 0.00434498759189575, 1e-14,
            "Lu-177 lambda matches the peer constant");
  ok(nuc("177Lu") == lu, "177Lu spelling");
  ok(nuc("lu177") == lu, "lu177 spelling");
  ok(nuc("LU-177") == lu, "upper case");
  ok(nuc("225Ac+d") == nuc("Ac-225+d") && nuc("225Ac+d") != NULL,
     "225Ac+d spelling (mass number first, suffix kept last)");
  /* Delta_e = 147.9 keV x 3.6e9 x 1.602176634e-13 = 8.53e-5 J/(MBq h). */
  is_double(rkin_nuclide_j_per_mbqh(lu), 0.1479 * 3.6e9 * 1.602176634e-13,
            1e-14, "Lu-177 J per MBq h");
  is_double(rkin_nuclide_j_per_mbqh(lu), 8.53e-5, 1e-3,
            "Lu-177 J per MBq h = 8.53e-5 (3 digits)");
  /* Half-lives of the unconfirmed entries: the values the table states
   * (tagged U there); a change must be deliberate. */
  is_double(nuc("Y-90")->half_life_h, 64.05, 1e-12, "Y-90 T1/2 64.05 h");
  is_double(nuc("Ho-166")->half_life_h, 26.80, 1e-12, "Ho-166 T1/2 26.80 h");
  is_double(nuc("I-131")->half_life_h, 8.0252 * 24, 1e-12,
            "I-131 T1/2 8.0252 d");
  is_double(nuc("Ga-68")->half_life_h, 67.71 / 60, 1e-12,
            "Ga-68 T1/2 67.71 min");
  is_double(nuc("Tc-99m")->half_life_h, 6.0067, 1e-12,
            "Tc-99m T1/2 6.0067 h");
  ok(nuc("Tb-161") && nuc("Ac-225"), "Tb-161 and Ac-225 present");

  test_published();
  test_sources();
  ok(rkin_nuclide_at(rkin_nuclide_count()) == NULL, "past the end is NULL");

  ok(rkin_nuclide_find("Xx-999", &err) == NULL, "unknown nuclide rejected");
  is_int(err.code, RKIN_ENOTFOUND, "code RKIN_ENOTFOUND");
  like(err.msg, "unknown nuclide 'Xx-999'", "message names the nuclide");
  like(err.msg, "Lu-177", "message lists known nuclides");
  done_testing();
  return exit_status();
}
