/* test_errmsg_dose.c - error messages of the dose module (engine/dose:
 * LQ parameters, the BED budget, dose-rate curves, organ limits, masses
 * of the S values) reached through the C functions, provoked one by one
 * and their text asserted (issue 22 item 3). */
#include <math.h>
#include <string.h>

#include "core/init.h"
#include "core/nuclide.h"
#include "dose/doserate.h"
#include "dose/dosimetry.h"
#include "dose/organ.h"
#include "dose/radiobio.h"
#include "../tap.h"
#include "../errmsg.h"

int main(void)
{
  rkin_lq lq = {.ab_gy = 0, .trep_h = 1.5};
  rkin_doserate r;
  rkin_organ o = {.name = "kidney", .lq = {.ab_gy = 2.6, .trep_h = 2.8},
                  .limit_bed_gy = -1};
  const double c0[1] = {0}, b1[1] = {0.01};
  double s, d;
  int over;
  rkin_init();
  BAD(rkin_radiobio_check(&lq, "kidney", &err), RKIN_EINVAL,
      "kidney: alpha/beta = 0 Gy, expected > 0", "LQ: alpha/beta 0");
  lq.ab_gy = 2.6;
  BAD(rkin_radiobio_budget(10, 0, 0.9, &lq, "kidney", &d, &over, &err),
      RKIN_EINVAL, "kidney: BED limit 0 Gy, expected > 0",
      "BED budget: a zero limit");
  BAD(rkin_doserate_set(&r, 1, c0, b1, "kidney", &err), RKIN_EINVAL,
      "kidney: total dose 0 Gy, expected > 0", "dose rate: all zero");
  BAD(rkin_organ_check(&o, &err), RKIN_EINVAL,
      "kidney: BED limit -1 Gy, expected >= 0 (0: none)",
      "organ: a negative BED limit");
  BAD(rkin_dosimetry_s_led(rkin_nuclide_find("Lu-177", &err), 0, "kidney",
                           &s, &err), RKIN_EINVAL,
      "kidney: mass_kg = 0, expected > 0", "S (LED): a zero mass");
  done_testing();
  return exit_status();
}
