/* test_phantom.c - the synthetic SPECT/CT phantom (engine/image/phantom.h)
 * and its degradations (Gaussian blur, seeded Poisson noise). */
#include <math.h>
#include <string.h>

#include "image/phantom.h"
#include "../tap.h"

static size_t count_label(const rkin_image *lab, int l)
{
  size_t i, n = rkin_grid_count(&lab->g), c = 0;
  for (i = 0; i < n; i++) c += (int)lab->v[i] == l;
  return c;
}

static void test_regions(void)
{
  rkin_phantom p;
  rkin_image lab, act, tia, ct;
  rkin_err e;
  size_t i, n, bad;
  int l;
  double t = 30.0;
  rkin_phantom_default(&p, 64, 4.0);
  ok(rkin_phantom_labels(&p, &lab, &e) == 0, "labels of a 64^3 phantom");
  for (l = 1; l <= RKIN_PH_N_ORGANS; l++)
    ok(count_label(&lab, l) > 0, "label %d present (%zu voxels)", l,
       count_label(&lab, l));
  /* sphere volume vs 4/3 pi r^3 (voxel-centre sampling, 4 mm voxels) */
  is_double(count_label(&lab, RKIN_PH_SPHERE0) * 0.064,
            4.0 / 3.0 * M_PI * 1.5 * 1.5 * 1.5, 0.05,
            "lesion volume within 5 %% of 14.1 mL");
  ok(lab.v[0] == 0.0f, "corner outside the body");
  /* the liver holds the lesion and lies at +x (patient's right) */
  {
    double ijk[3], x[3] = {p.sphere[0].centre_mm[0], p.sphere[0].centre_mm[1],
                           p.sphere[0].centre_mm[2]};
    size_t a, b, c;
    rkin_grid_to_index(&lab.g, x, ijk);
    a = (size_t)lrint(ijk[0]); b = (size_t)lrint(ijk[1]); c = (size_t)lrint(ijk[2]);
    ok(lab.v[(c * 64 + b) * 64 + a] == RKIN_PH_SPHERE0 && x[0] > 0,
       "lesion centre labelled %d", RKIN_PH_SPHERE0);
  }
  rkin_phantom_activity(&p, t, &act, &e);
  rkin_phantom_tia(&p, &tia, &e);
  rkin_phantom_ct(&p, &ct, &e);
  n = rkin_grid_count(&lab.g);
  for (i = 0, bad = 0; i < n; i++) {
    int L = (int)lab.v[i];
    const rkin_phantom_tac *c = rkin_phantom_tac_of(&p, L);
    double want = c ? (c->uptake_h > 0 ? c->c0 * (exp(-c->lambda_h * t) -
                                                  exp(-c->uptake_h * t))
                                       : c->c0 * exp(-c->lambda_h * t))
                    : 0.0;
    if (fabs(act.v[i] - want) > 1e-6 * fabs(want)) bad++;
  }
  ok(bad == 0, "activity at 30 h = c0 (e^-lt - e^-kt) in every voxel");
  /* TIA formula against a numerical integral of the curve */
  for (l = 1; l <= RKIN_PH_N_ORGANS + 1; l++) {
    const rkin_phantom_tac *c =
        rkin_phantom_tac_of(&p, l > RKIN_PH_N_ORGANS ? RKIN_PH_SPHERE0 : l);
    double s = 0.0, h = 0.01, tt;
    for (tt = 0; tt < 3000.0; tt += h)
      s += 0.5 * h * (rkin_phantom_tac_eval(c, tt) +
                      rkin_phantom_tac_eval(c, tt + h));
    is_double(rkin_phantom_tac_integral(c), s, 1e-6,
              "region %d: TIA = integral of its curve", l);
  }
  for (i = 0, bad = 0; i < n; i++) {
    const rkin_phantom_tac *c = rkin_phantom_tac_of(&p, (int)lab.v[i]);
    if (fabs(tia.v[i] - (c ? rkin_phantom_tac_integral(c) : 0.0)) >
        1e-6 * tia.v[i])
      bad++;
  }
  ok(bad == 0, "TIA map = analytic integral per voxel");
  for (i = 0, bad = 0; i < n; i++) {
    int L = (int)lab.v[i];
    double want = L == 0 ? -1000 : L == RKIN_PH_SPINE ? 700
                         : L == RKIN_PH_LIVER ? 55 : L >= 10 ? 60
                         : L == RKIN_PH_BODY ? 40 : L == RKIN_PH_SPLEEN ? 45 : 30;
    bad += ct.v[i] != want;
  }
  ok(bad == 0 && strcmp(ct.unit, "HU") == 0, "CT numbers per region");
  rkin_image_free(&lab);
  rkin_image_free(&act);
  rkin_image_free(&tia);
  rkin_image_free(&ct);
}

static void test_bad(void)
{
  rkin_phantom p;
  rkin_image im;
  rkin_err e;
  rkin_phantom_default(&p, 32, 4.0);
  p.organ[1].uptake_h = 0.01;
  ok(rkin_phantom_labels(&p, &im, &e) == RKIN_EINVAL && strstr(e.msg, "uptake"),
     "uptake below washout: %s", e.msg);
  rkin_phantom_default(&p, 32, 4.0);
  p.sphere[0].radius_mm = 60;
  ok(rkin_phantom_labels(&p, &im, &e) == RKIN_EINVAL &&
         strstr(e.msg, "outside the field"), "sphere too big: %s", e.msg);
  rkin_phantom_default(&p, 32, 4.0);
  ok(rkin_phantom_activity(&p, -1.0, &im, &e) == RKIN_EINVAL,
     "negative time: %s", e.msg);
  p.organ[0].lambda_h = 0.0;
  ok(rkin_phantom_tia(&p, &im, &e) == RKIN_EINVAL && strstr(e.msg, "lambda"),
     "zero washout (infinite TIA): %s", e.msg);
}

static void test_degrade(void)
{
  rkin_grid g;
  rkin_image im, a, b;
  rkin_err e;
  size_t i, j, k, idx, n, diff;
  double s0 = 0, s1 = 0, m2 = 0, fwhm = 10.0, sig;
  rkin_grid_init(&g, 33, 33, 33, 2.0, 2.0, 2.0);
  rkin_image_alloc(&im, &g, &e);
  im.v[(16 * 33 + 16) * 33 + 16] = 1000.0f;
  ok(rkin_image_blur(&im, fwhm, &e) == 0, "blur 10 mm FWHM");
  n = rkin_grid_count(&g);
  for (k = 0, idx = 0; k < 33; k++)
    for (j = 0; j < 33; j++)
      for (i = 0; i < 33; i++, idx++) {
        s1 += im.v[idx];
        m2 += im.v[idx] * (i - 16.0) * (i - 16.0) * 4.0;
      }
  is_double(s1, 1000.0, 1e-5, "point source: total kept");
  sig = fwhm / (2 * sqrt(2 * log(2.0)));
  is_double(sqrt(m2 / s1), sig, 0.01, "point source: sigma = FWHM/2.355 "
            "(%.3f mm)", sig);
  for (i = 0; i < n; i++) im.v[i] = 7.0f;
  rkin_image_blur(&im, 6.0, &e);
  for (i = 0, diff = 0; i < n; i++) diff += fabs(im.v[i] - 7.0) > 1e-5;
  ok(diff == 0, "uniform image stays uniform, borders included");
  ok(rkin_image_blur(&im, -1, &e) == RKIN_EINVAL, "negative FWHM: %s", e.msg);
  /* Poisson: seeded, mean and variance */
  for (i = 0; i < n; i++) im.v[i] = 50.0f;
  rkin_image_copy(&a, &im, &e);
  rkin_image_copy(&b, &im, &e);
  rkin_image_poisson(&a, 2.0, 42, &e);
  rkin_image_poisson(&b, 2.0, 42, &e);
  for (i = 0, diff = 0; i < n; i++) diff += a.v[i] != b.v[i];
  ok(diff == 0, "same seed, same noise");
  rkin_image_poisson(&im, 2.0, 43, &e);
  for (i = 0, diff = 0; i < n; i++) diff += a.v[i] != im.v[i];
  ok(diff > n / 2, "another seed, other noise");
  for (i = 0, s0 = 0, s1 = 0; i < n; i++) {
    s0 += a.v[i];
    s1 += (a.v[i] - 50.0) * (a.v[i] - 50.0);
  }
  /* counts ~ Poisson(100): value mean 50, variance 100/4 = 25; n = 35937,
   * so 5 standard errors of the mean are 0.13 and of the variance 0.9 */
  is_double(s0 / n, 50.0, 0.13 / 50.0, "noise mean (%g)", s0 / n);
  is_double(s1 / n, 25.0, 0.9 / 25.0, "noise variance = v/k (%g)", s1 / n);
  a.v[5] = -1.0f;
  ok(rkin_image_poisson(&a, 2.0, 1, &e) == RKIN_EINVAL, "negative voxel: %s",
     e.msg);
  ok(rkin_image_poisson(&b, 0.0, 1, &e) == RKIN_EINVAL, "zero counts: %s",
     e.msg);
  rkin_image_free(&im);
  rkin_image_free(&a);
  rkin_image_free(&b);
}

int main(void)
{
  test_regions();
  test_bad();
  test_degrade();
  done_testing();
  return exit_status();
}
