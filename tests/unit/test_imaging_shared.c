/* test_imaging_shared.c - the shared factors of the EANM imaging model
 * (engine/tac/imaging.c rkin_imaging_shared): calibration and volume
 * factors are log-normal with mean 1 and the given CV, i.e. log f ~
 * N(-s^2/2, s^2), s^2 = ln(1 + cv^2). Checked by their sample means over
 * 20000 patients (each patient's factors come from its own stream):
 *   E[f_mass] = E[f_v] = 1;
 *   E[f_act] = E[1 / f_Q] (rc_cv = 0) = exp(s^2) = 1 + cv^2 (the mean of
 *   the reciprocal of a log-normal of mean 1).
 * cv = 0.3: SD of f_v 0.3, SE of its mean 0.3 / sqrt(20000) = 2.1e-3;
 * without the -s^2/2 term E[f_v] = exp(s^2/2) = 1.044 (21 SE away) and
 * E[f_act] = sqrt(1 + cv^2) = 1.044 instead of 1.09 (SD of 1/f_Q ~0.33,
 * SE 2.3e-3: 20 SE away). The bands are +-5 SE: a false failure has
 * probability 6e-7 each, the wrong formula is caught with power ~1. */
#include <math.h>
#include <string.h>

#include "core/init.h"
#include "tac/imaging.h"
#include "../tap.h"

int main(void)
{
  const size_t n = 20000;
  const double cv = 0.3;
  rkin_imaging img;
  rkin_imaging_ws *ws;
  rkin_err err;
  double sa = 0, sm = 0, sm2 = 0, fa, fm, mean_m, sd_m;
  size_t i;
  rkin_init();
  memset(&img, 0, sizeof img);
  img.method = RKIN_IMAGING_FIT;
  img.model = RKIN_IMAGING_EANM;
  img.cal_cv = cv;
  img.rc_cv = 0;
  img.volume_cv = cv;
  img.seed = 7;
  ws = rkin_imaging_ws_new(&err);
  if (!ws) {
    diag("%s", err.msg);
    return 1;
  }
  for (i = 0; i < n; i++) {
    rkin_imaging_shared(ws, &img, i, 0, &fa, &fm);
    sa += fa;
    sm += fm;
    sm2 += fm * fm;
  }
  mean_m = sm / (double)n;
  sd_m = sqrt(sm2 / (double)n - mean_m * mean_m);
  ok(fabs(mean_m - 1) < 5 * cv / sqrt((double)n),
     "volume factor: mean %.5f = 1 within 5 SE (%.4f)", mean_m,
     5 * cv / sqrt((double)n));
  ok(fabs(sd_m - cv) < 0.02, "volume factor: SD %.4f = cv 0.3 within 0.02",
     sd_m);
  ok(fabs(sa / (double)n - (1 + cv * cv)) < 5 * 0.33 / sqrt((double)n),
     "activity factor 1/f_Q: mean %.5f = 1 + cv^2 = 1.09 within 5 SE",
     sa / (double)n);
  /* The medians, at cv = 1 through the recovery factor (s = sqrt(ln 2)
   * = 0.8326): P(f_v < 1) = P(f_act > 1) = P(log f_rc < 0) = Phi(s / 2)
   * = 0.661396; without the -s^2/2 term it is 0.5. Binomial SE 3.3e-3 at
   * n = 20000, band 5 SE; the wrong value is 48 SE away (power 1). */
  {
    double q = 0.661396, se = sqrt(q * (1 - q) / (double)n), bv = 0, ba = 0;
    img.cal_cv = 0;
    img.rc_cv = 1;
    img.volume_cv = 1;
    img.seed = 8;
    for (i = 0; i < n; i++) {
      rkin_imaging_shared(ws, &img, i, 3, &fa, &fm);
      if (fm < 1) bv += 1.0 / (double)n;
      if (fa > 1) ba += 1.0 / (double)n;
    }
    ok(fabs(bv - q) < 5 * se, "cv 1: P(f_v < 1) %.4f = Phi(sqrt(ln 2) / 2) "
       "= 0.6614 within 5 SE (%.4f)", bv, 5 * se);
    ok(fabs(ba - q) < 5 * se, "cv 1: P(1 / f_rc > 1) %.4f = 0.6614 within "
       "5 SE", ba);
  }
  img.model = RKIN_IMAGING_PROP;
  rkin_imaging_shared(ws, &img, 0, 0, &fa, &fm);
  ok(fa == 1 && fm == 1, "PROP model: both factors 1");
  rkin_imaging_ws_free(ws);
  done_testing();
  return exit_status();
}
