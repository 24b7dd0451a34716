/* test_errmsg_last.c - the last error messages of the engine's C interface
 * that no other errmsg test provoked from their own call site (issue 22
 * item 3): a region mass at both calls of the dosimetry mass check, a
 * factor of the uncertainty chain. Each call fails with the expected code
 * and its whole text asserted. */
#include <math.h>
#include <string.h>

#include "core/init.h"
#include "core/nuclide.h"
#include "dose/dosimetry.h"
#include "uncert/uncert.h"
#include "../tap.h"
#include "../errmsg.h"

static void test_mass(void)
{
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", &err);
  double s;
  BAD(rkin_dosimetry_s_led(lu, -0.3, "liver", &s, &err), RKIN_EINVAL,
      "liver: mass_kg = -0.3, expected > 0", "S by local deposition: a "
      "negative mass");
  BAD(rkin_dosimetry_scale_self(1e-5, 1e-6, 0, 0.3, "kidney", &s, &err),
      RKIN_EINVAL, "kidney: reference mass_kg = 0, expected > 0",
      "S scaled by mass: a zero reference mass");
}

/* One cycle of a liver, 4 points of a mono-exponential, Lu-177. */
static void test_chain(void)
{
  const double t[4] = {4, 24, 72, 168};
  rkin_unc_point pt[4];
  rkin_unc_cycle cy;
  rkin_unc_chain ch;
  rkin_unc_result r;
  size_t i;
  for (i = 0; i < 4; i++) {
    pt[i].t_h = t[i];
    pt[i].t_acq_s = 1200;
    pt[i].counts = 100 * exp(-0.012 * t[i]) * 10 * 1200;
    pt[i].u_extra_rel = 0.03;
  }
  cy.n = 4;
  cy.pt = pt;
  memset(&ch, 0, sizeof ch);
  ch.nuclide = "Lu-177";
  ch.region = "liver";
  ch.model = RKIN_TAC_MONO;
  ch.meas.cal = 10;
  ch.meas.u_cal = 0.5;
  ch.meas.v_ml = 1500;
  ch.meas.u_v_ml = -50;
  ch.dose.kind = RKIN_UNC_DOSE_LED;
  ch.dose.density = 1.05;
  ch.lq.ab_gy = 2.5;
  ch.lq.trep_h = 1.5;
  ch.n_cycles = 1;
  ch.cyc = &cy;
  BAD(rkin_unc_delta(&ch, &r, &err), RKIN_EINVAL, "uncertainty chain: "
      "volume SD -50, expected >= 0", "chain: a negative volume SD");
}

int main(void)
{
  rkin_init();
  test_mass();
  test_chain();
  done_testing();
  return exit_status();
}
