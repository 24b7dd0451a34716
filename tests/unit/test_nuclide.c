/* test_nuclide.c - the radionuclide table. */
#include <math.h>

#include "core/init.h"
#include "core/nuclide.h"
#include "../tap.h"

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  rkin_err err;
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", &err);
  size_t i;

  ok(lu != NULL, "Lu-177 found");
  /* DOMAIN.md s.1 / shared/peers/README.md s.2: lambda = ln 2 / (6.647*24)
   * = 0.00434498759189575 /h. */
  is_double(rkin_nuclide_lambda(lu), 0.00434498759189575, 1e-14,
            "Lu-177 lambda matches the peer constant");
  ok(rkin_nuclide_find("177Lu", NULL) == lu, "177Lu spelling");
  ok(rkin_nuclide_find("lu177", NULL) == lu, "lu177 spelling");
  ok(rkin_nuclide_find("LU-177", NULL) == lu, "upper case");
  ok(rkin_nuclide_find("225Ac+d", NULL) == rkin_nuclide_find("Ac-225+d",
                                                              NULL)
       && rkin_nuclide_find("225Ac+d", NULL) != NULL,
     "225Ac+d spelling (mass number first, suffix kept last)");
  /* LITERATURE.md header: Delta_e = 147.9 keV x 3.6e9 x 1.602e-13
   * = 8.53e-5 J/(MBq h). */
  is_double(rkin_nuclide_j_per_mbqh(lu), 0.1479 * 3.6e9 * 1.602176634e-13,
            1e-14, "Lu-177 J per MBq h");
  is_double(rkin_nuclide_j_per_mbqh(lu), 8.53e-5, 1e-3,
            "Lu-177 J per MBq h vs LITERATURE.md 8.53e-5 (3 digits)");
  is_double(rkin_nuclide_find("Y-90", NULL)->half_life_h, 64.05, 1e-12,
            "Y-90 half-life 64.05 h (DOMAIN.md s.1)");
  is_double(rkin_nuclide_find("Ho-166", NULL)->half_life_h, 26.80, 1e-12,
            "Ho-166 half-life 26.80 h (DOMAIN.md s.1)");
  is_double(rkin_nuclide_find("I-131", NULL)->half_life_h, 8.0252 * 24,
            1e-12, "I-131 half-life 8.0252 d (DOMAIN.md s.1)");
  is_double(rkin_nuclide_find("Ga-68", NULL)->half_life_h, 67.71 / 60,
            1e-12, "Ga-68 half-life 67.71 min (DOMAIN.md s.1)");
  is_double(rkin_nuclide_find("Tc-99m", NULL)->half_life_h, 6.0067, 1e-12,
            "Tc-99m half-life 6.0067 h (DOMAIN.md s.1)");
  ok(rkin_nuclide_find("Tb-161", NULL) && rkin_nuclide_find("Ac-225", NULL),
     "Tb-161 and Ac-225 present");

  for (i = 0; i < rkin_nuclide_count(); i++) {
    const rkin_nuclide *n = rkin_nuclide_at(i);
    ok(n->half_life_h > 0 && n->e_np_mev > 0 && n->e_p_mev >= 0 && n->source
         && n->source[0],
       "%s: positive half-life and energies, source given", n->name);
  }
  ok(rkin_nuclide_at(rkin_nuclide_count()) == NULL, "past the end is NULL");

  ok(rkin_nuclide_find("Xx-999", &err) == NULL, "unknown nuclide rejected");
  is_int(err.code, RKIN_ENOTFOUND, "code RKIN_ENOTFOUND");
  like(err.msg, "unknown nuclide 'Xx-999'", "message names the nuclide");
  like(err.msg, "Lu-177", "message lists known nuclides");
  done_testing();
  return exit_status();
}
