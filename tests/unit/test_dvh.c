/* test_dvh.c - DVH and dose statistics against a linear ramp, whose
 * distribution is known: doses (m - 0.5) D / n, m = 1..n, are uniform on
 * [0, D], so D_x = (1 - x/100) D, V(d) = 1 - d/D, mean D/2, gEUD(2) =
 * D/sqrt(3), EUD(alpha) = -ln((1 - e^-aD)/(aD))/a. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxel/dvh.h"
#include "../tap.h"

int main(void)
{
  const size_t n = 20, nv = n * n * n;
  const double D = 80.0;
  rkin_grid g;
  rkin_image dose;
  rkin_dvh h;
  rkin_err e;
  unsigned char *mask = malloc(nv);
  size_t i, *perm = malloc(nv * sizeof *perm);
  double x, cum[8], diff[8], a = 0.05, sdiff = 0.0;
  rkin_grid_init(&g, n, n, n, 2, 2, 2);
  rkin_image_alloc(&dose, &g, &e);
  /* the ramp in a shuffled order, so sorting is exercised */
  for (i = 0; i < nv; i++) perm[i] = i;
  srand(3);
  for (i = nv - 1; i > 0; i--) {
    size_t j = (size_t)rand() % (i + 1), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (i = 0; i < nv; i++)
    dose.v[perm[i]] = (float)(((double)i + 0.5) * D / (double)nv);
  ok(rkin_dvh_eval(&dose, NULL, &h, &e) == 0, "DVH of %zu voxels", nv);
  is_double(h.d2, 0.98 * D, 1e-6, "D2 = 0.98 D");
  is_double(h.d50, 0.50 * D, 1e-6, "D50 = D/2");
  is_double(h.median, 0.50 * D, 1e-6, "median = D/2");
  is_double(h.d70, 0.30 * D, 1e-6, "D70 = 0.3 D");
  is_double(h.d90, 0.10 * D, 1e-6, "D90 = 0.1 D");
  is_double(h.d98, 0.02 * D, 1e-5, "D98 = 0.02 D");
  is_double(h.mean, D / 2, 1e-6, "mean");
  is_double(h.max, D * (nv - 0.5) / nv, 1e-6, "max");
  is_double(rkin_dvh_vx(&h, 20.0), 0.75, 1e-6, "V20Gy = 0.75");
  is_double(rkin_dvh_vx(&h, 60.0), 0.25, 1e-6, "V60Gy = 0.25");
  is_double(rkin_dvh_vx(&h, 100.0), 0.0, 1e-12, "V100Gy = 0");
  is_double(rkin_dvh_geud(&h, 1.0), D / 2, 1e-6, "gEUD(1) = mean");
  /* midpoint rule error of mean d^2: D^2/(12 n^2) */
  is_double(rkin_dvh_geud(&h, 2.0), D / sqrt(3.0), 1e-6, "gEUD(2) = D/sqrt 3");
  x = -log((1 - exp(-a * D)) / (a * D)) / a;
  is_double(rkin_dvh_eud_alpha(&h, a), x, 1e-6, "EUD(alpha 0.05) = %.4f Gy",
            x);
  ok(rkin_dvh_curve(&h, 10.0, 8, cum, diff, &e) == 0, "8 bins of 10 Gy");
  for (i = 0; i < 8; i++) {
    if (fabs(cum[i] - (1.0 - i * 10.0 / D)) > 1e-9) break;
    if (fabs(diff[i] - 0.125) > 1e-9) break;
    sdiff += diff[i];
  }
  ok(i == 8 && fabs(sdiff - 1.0) < 1e-12, "cumulative 1 - d/D, differential "
     "1/8 per bin");
  ok(rkin_dvh_curve(&h, 0.0, 8, cum, diff, &e) == RKIN_EINVAL, "zero bin: %s",
     e.msg);
  ok(isnan(rkin_dvh_dx(&h, 101)), "D101 is not a number");
  rkin_dvh_free(&h);
  /* a VOI: the hottest half */
  for (i = 0; i < nv; i++) mask[i] = dose.v[i] >= D / 2;
  rkin_dvh_eval(&dose, mask, &h, &e);
  is_double(h.d50, 0.75 * D, 1e-6, "VOI of doses D/2..D: D50 = 0.75 D");
  is_double(h.min, D / 2 + 0.5 * D / nv, 1e-6, "its min");
  rkin_dvh_free(&h);
  memset(mask, 0, nv);
  ok(rkin_dvh_eval(&dose, mask, &h, &e) == RKIN_EINVAL &&
         strstr(e.msg, "overlap"), "empty VOI: %s", e.msg);
  /* several labels in one pass equal one DVH per mask, digit for digit:
   * labels 1..4 by the voxel's index mod 5 (0 outside every VOI), label
   * 7 absent from the map */
  {
    rkin_image lab;
    rkin_dvh hl[4], hm;
    const int want[4] = {3, 1, 4, 2};
    int same = 1, l, nope[2] = {1, 7}, twice[2] = {2, 2};
    size_t tot = 0;
    rkin_image_alloc(&lab, &g, &e);
    for (i = 0; i < nv; i++) lab.v[i] = (float)(i % 5);
    ok(rkin_dvh_eval_labels(&dose, &lab, 4, want, hl, &e) == 0,
       "4 labels in one pass: %s", e.msg);
    for (l = 0; l < 4; l++) {
      for (i = 0; i < nv; i++) mask[i] = (int)(i % 5) == want[l];
      rkin_dvh_eval(&dose, mask, &hm, &e);
      same = same && hm.n == hl[l].n && hm.mean == hl[l].mean &&
             hm.sd == hl[l].sd && hm.d90 == hl[l].d90 &&
             !memcmp(hm.d, hl[l].d, hm.n * sizeof *hm.d);
      tot += hl[l].n;
      rkin_dvh_free(&hm);
      rkin_dvh_free(&hl[l]);
    }
    ok(same && tot == nv - nv / 5, "each label's DVH = the masked DVH "
       "(sorted doses, mean, sd, D90 identical); %zu voxels in VOIs", tot);
    ok(rkin_dvh_eval_labels(&dose, &lab, 2, nope, hl, &e) == RKIN_EINVAL &&
       strstr(e.msg, "label 7 marks no voxel of the label map"), "absent label: %s", e.msg);
    ok(rkin_dvh_eval_labels(&dose, &lab, 2, twice, hl, &e) == RKIN_EINVAL &&
       strstr(e.msg, "label 2 given twice"), "label twice: %s", e.msg);
    /* a NaN outside every VOI is ignored, inside one is an error */
    dose.v[5] = NAN;   /* label 0 */
    ok(rkin_dvh_eval_labels(&dose, &lab, 4, want, hl, &e) == 0,
       "NaN outside the VOIs ignored");
    for (l = 0; l < 4; l++) rkin_dvh_free(&hl[l]);
    dose.v[6] = NAN;   /* label 1 */
    ok(rkin_dvh_eval_labels(&dose, &lab, 4, want, hl, &e) ==
           RKIN_ENONFINITE && strstr(e.msg, "label 1"),
       "NaN in label 1: %s", e.msg);
    for (i = 0; i < nv; i++) mask[i] = i % 5 == 0;
    ok(rkin_dvh_eval(&dose, mask, &hm, &e) == RKIN_ENONFINITE &&
           strstr(e.msg, "voxel 5 "), "masked NaN named by its voxel: %s",
       e.msg);
    dose.v[5] = dose.v[6] = 1.0f;
    rkin_image_free(&lab);
    rkin_grid_init(&g, n, n, n - 1, 2, 2, 2);
    rkin_image_alloc(&lab, &g, &e);
    ok(rkin_dvh_eval_labels(&dose, &lab, 4, want, hl, &e) == RKIN_EINVAL &&
       strstr(e.msg, "grid"), "labels on another grid: %s", e.msg);
    rkin_image_free(&lab);
  }
  dose.v[10] = NAN;
  ok(rkin_dvh_eval(&dose, NULL, &h, &e) == RKIN_ENONFINITE, "NaN dose: %s",
     e.msg);
  rkin_image_free(&dose);
  /* the radix sort orders negative, zero and positive values alike */
  {
    const float v[6] = {3.0f, -0.5f, 0.0f, -2.0f, 1.0f, -0.0f};
    rkin_grid_init(&g, 6, 1, 1, 1, 1, 1);
    rkin_image_alloc(&dose, &g, &e);
    memcpy(dose.v, v, sizeof v);
    rkin_dvh_eval(&dose, NULL, &h, &e);
    ok(h.d[0] == -2.0 && h.d[1] == -0.5 && h.d[2] == 0.0 && h.d[3] == 0.0 &&
           h.d[4] == 1.0 && h.d[5] == 3.0, "mixed signs sorted: %g %g %g %g "
       "%g %g", h.d[0], h.d[1], h.d[2], h.d[3], h.d[4], h.d[5]);
    rkin_dvh_free(&h);
    rkin_image_free(&dose);
  }
  /* rkin_image_mask rounds a label value as lrintf does (half to even)
   * without calling it per voxel: 1.5 -> 2, 2.5 -> 2, 0.5 -> 0 */
  {
    const float v[6] = {1.5f, 2.5f, 2.49f, 1.51f, 0.5f, 3.0f};
    unsigned char mk[6];
    size_t c2 = 0, c3 = 0;
    rkin_grid_init(&g, 6, 1, 1, 1, 1, 1);
    rkin_image_alloc(&dose, &g, &e);
    memcpy(dose.v, v, sizeof v);
    rkin_image_mask(&dose, 2, mk, &c2, &e);
    ok(c2 == 4 && mk[0] && mk[1] && mk[2] && mk[3] && !mk[4] && !mk[5],
       "label 2: 1.5, 2.5, 2.49, 1.51 (half to even)");
    rkin_image_mask(&dose, 3, mk, &c3, &e);
    ok(c3 == 1 && mk[5] && !mk[1], "label 3: only 3.0 (2.5 rounds to 2)");
    ok(rkin_image_mask(&dose, 1, mk, NULL, &e) == RKIN_ENOTFOUND,
       "label 1: none (1.5 -> 2, 0.5 -> 0): %s", e.msg);
    rkin_image_free(&dose);
  }
  free(mask);
  free(perm);
  done_testing();
  return exit_status();
}
