/* test_vtia.c - voxel TIA on the noise-free phantom (per voxel, threaded;
 * VOI shape; single time point) against the analytic TIA, and voxel BED
 * against the formula written out by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/phantom.h"
#include "voxel/tia.h"
#include "voxel/voxel.h"
#include "../tap.h"

#define NT 6
static const double times[NT] = {1, 4, 24, 48, 96, 168};

static rkin_phantom P;
static rkin_image lab, truth, act[NT];
static const rkin_image *actp[NT];

static double max_rel(const rkin_image *got, const unsigned char *mask,
                      size_t *nvox)
{
  size_t i, n = rkin_grid_count(&got->g), c = 0;
  double m = 0.0;
  for (i = 0; i < n; i++) {
    if (!mask[i]) continue;
    c++;
    m = fmax(m, fabs(got->v[i] - truth.v[i]) / truth.v[i]);
  }
  if (nvox) *nvox = c;
  return m;
}

int main(void)
{
  rkin_err e;
  rkin_vtia v, v2;
  rkin_vtia_opts o;
  unsigned char *body, *liver;
  size_t i, n, nb, cnt;
  double m;
  /* 177Lu-like phantom, 20^3 voxels of 8 mm: every region, few voxels */
  rkin_phantom_default(&P, 20, 8.0);
  rkin_phantom_labels(&P, &lab, &e);
  rkin_phantom_tia(&P, &truth, &e);
  for (i = 0; i < NT; i++) {
    rkin_phantom_activity(&P, times[i], &act[i], &e);
    actp[i] = &act[i];
  }
  n = rkin_grid_count(&lab.g);
  body = malloc(n);
  liver = malloc(n);
  rkin_image_mask(&lab, 0, body, &nb, &e);
  rkin_image_mask(&lab, RKIN_PH_LIVER, liver, &cnt, &e);

  /* per voxel: mono and uptake-washout candidates, known 5 % error */
  memset(&o, 0, sizeof o);
  o.method = RKIN_VTIA_PER_VOXEL;
  o.nuclide = "Lu-177";
  o.models = (1u << RKIN_TAC_MONO) | (1u << RKIN_TAC_UPWASH);
  o.cv = 0.05;
  o.threads = 2;
  ok(rkin_voxel_tia(NT, actp, times, body, &o, &v, &e) == 0, "per-voxel fits "
     "of %zu body voxels%s%s", nb, e.code ? ": " : "", e.code ? e.msg : "");
  m = max_rel(&v.tia, body, &cnt);
  ok(m < 1e-6, "per voxel: TIA = analytic in all %zu body voxels (max rel "
     "%.2g)", cnt, m);
  ok(v.n_fitted == nb && v.n_skipped == n - nb && v.n_fallback == 0,
     "fitted %zu, skipped %zu outside the body, no fallback", v.n_fitted,
     v.n_skipped);
  for (i = 0, cnt = 0; i < n; i++) cnt += !body[i] && v.tia.v[i] != 0.0f;
  ok(cnt == 0, "voxels outside the body: TIA 0");
  /* one thread gives the same map */
  o.threads = 1;
  rkin_voxel_tia(NT, actp, times, body, &o, &v2, &e);
  for (i = 0, cnt = 0; i < n; i++) cnt += v.tia.v[i] != v2.tia.v[i];
  ok(cnt == 0, "1 and 2 threads: identical maps");
  rkin_vtia_free(&v2);

  /* BED by hand for a background (mono) and a liver (uptake) voxel */
  {
    rkin_image dose, bed, eqd2;
    rkin_tissue_class cls[2] = {{0, {3.0, 1.5}}, {RKIN_PH_LIVER, {2.5, 2.5}}};
    const rkin_nuclide *nuc = rkin_nuclide_find("Lu-177", &e);
    size_t ib = 0, il = 0;
    double mu, l, lu, g, d, want;
    for (i = 0; i < n; i++) {
      if (!ib && (int)lab.v[i] == RKIN_PH_BODY) ib = i;
      if (!il && (int)lab.v[i] == RKIN_PH_LIVER) il = i;
    }
    rkin_dose_led(&v.tia, nuc, NULL, 1.04, body, &dose, &e);
    ok(rkin_voxel_bed(&dose, &v, &lab, cls, 2, "Lu-177", &bed, &eqd2, &e) == 0,
       "voxel BED");
    mu = M_LN2 / 1.5;
    l = P.organ[0].lambda_h;
    g = l / (l + mu);
    d = dose.v[ib];
    is_double(bed.v[ib], d * (1 + g * d / 3.0), 1e-5, "background voxel: BED "
              "= D (1 + G D / 3), G = l/(l+mu) = %.4f", g);
    is_double(eqd2.v[ib], bed.v[ib] / (1 + 2 / 3.0), 1e-6, "EQD2 = BED / "
              "(1 + 2/(a/b))");
    mu = M_LN2 / 2.5;
    l = P.organ[1].lambda_h;
    lu = P.organ[1].uptake_h;
    g = l * lu * (l + lu + mu) / ((l + lu) * (l + mu) * (lu + mu));
    d = dose.v[il];
    want = d * (1 + g * d / 2.5);
    is_double(bed.v[il], want, 1e-4, "liver voxel: BED with the uptake G "
              "(%.4f), its own class", g);
    rkin_image_free(&bed);
    rkin_image_free(&eqd2);
    ok(rkin_voxel_bed(&dose, &v, &lab, cls + 1, 1, "Lu-177", &bed, NULL, &e) ==
           RKIN_ENOTFOUND && strstr(e.msg, "label 1"),
       "label without a class: %s", e.msg);
    rkin_image_free(&dose);
  }
  rkin_vtia_free(&v);

  /* VOI shape over the liver */
  o.method = RKIN_VTIA_VOI_SHAPE;
  o.models = 0;
  ok(rkin_voxel_tia(NT, actp, times, liver, &o, &v, &e) == 0, "VOI shape, "
     "liver");
  {
    double s = 0.0, vml = rkin_grid_voxel_ml(&lab.g);
    for (i = 0; i < n; i++) s += v.tia.v[i];
    is_double(s * vml * 1e-6, v.voi.tia, 1e-6, "VOI sum of the map = the "
              "VOI-level TIA (%.4g MBq h)", v.voi.tia);
    m = max_rel(&v.tia, liver, &cnt);
    ok(m < 1e-6, "uniform liver: VOI shape = analytic per voxel (max rel "
       "%.2g)", m);
  }
  rkin_vtia_free(&v);

  /* hybrid: per-voxel fits where every time point reaches min, the VOI
   * shape elsewhere. Over the body: a tiny minimum fits every voxel on
   * its own (= per voxel, = analytic); a huge one none (= VOI shape); one
   * between splits the voxels exactly by that rule. */
  {
    rkin_vtia vs, vp, vh;
    double thr;
    size_t want = 0, mism = 0;
    o.models = (1u << RKIN_TAC_MONO) | (1u << RKIN_TAC_UPWASH);
    o.method = RKIN_VTIA_VOI_SHAPE;
    rkin_voxel_tia(NT, actp, times, body, &o, &vs, &e);
    o.method = RKIN_VTIA_PER_VOXEL;
    rkin_voxel_tia(NT, actp, times, body, &o, &vp, &e);
    o.method = RKIN_VTIA_HYBRID;
    o.hybrid_min = 1e-30;
    ok(rkin_voxel_tia(NT, actp, times, body, &o, &vh, &e) == 0, "hybrid, "
       "tiny minimum");
    ok(vh.n_own == nb && max_rel(&vh.tia, body, NULL) < 1e-6, "hybrid, tiny "
       "minimum: all %zu voxels on their own (%zu), analytic", nb,
       vh.n_own);
    rkin_vtia_free(&vh);
    o.hybrid_min = 1e30;
    rkin_voxel_tia(NT, actp, times, body, &o, &vh, &e);
    for (i = 0, cnt = 0; i < n; i++) cnt += vh.tia.v[i] != vs.tia.v[i];
    ok(vh.n_own == 0 && cnt == 0, "hybrid, huge minimum: the VOI-shape map "
       "(%zu differ)", cnt);
    rkin_vtia_free(&vh);
    /* midway between the body's lowest and highest concentration at
     * the last time point */
    {
      double lo = HUGE_VAL, hi = 0.0;
      for (i = 0; i < n; i++)
        if (body[i]) {
          lo = fmin(lo, act[NT - 1].v[i]);
          hi = fmax(hi, act[NT - 1].v[i]);
        }
      thr = 0.5 * (lo + hi);
    }
    o.hybrid_min = thr;
    ok(rkin_voxel_tia(NT, actp, times, body, &o, &vh, &e) == 0, "hybrid at "
       "%g Bq/mL", thr);
    for (i = 0; i < n; i++) {
      int own = body[i];
      size_t k;
      for (k = 0; k < NT; k++) own = own && act[k].v[i] >= thr;
      want += (size_t)own;
      if (body[i] && vh.tia.v[i] != (own ? vp.tia.v[i] : vs.tia.v[i]))
        mism++;
    }
    ok(vh.n_own == want && mism == 0 && want > 0 && want < nb,
       "hybrid: the %zu voxels at or above it at every time point take "
       "their own fit, the other %zu the VOI shape (%zu mismatches)", want,
       nb - want, mism);
    ok(vh.n_fitted + vh.n_zero + vh.n_fallback == nb, "hybrid counts: "
       "fitted %zu + zero %zu + fallback %zu = %zu body voxels", vh.n_fitted,
       vh.n_zero, vh.n_fallback, nb);
    rkin_vtia_free(&vh);
    /* at exactly the lowest value over time of the body's hottest late
     * voxel: it reaches the level (>=, with its twins of a uniform
     * lesion) and is fitted */
    {
      double hi = 0.0, top = 0.0;
      size_t k;
      for (i = 0; i < n; i++)
        if (body[i] && act[NT - 1].v[i] > top) {
          top = act[NT - 1].v[i];
          for (k = 0, hi = HUGE_VAL; k < NT; k++)
            hi = fmin(hi, act[k].v[i]);
        }
      o.hybrid_min = hi;
      for (i = 0, want = 0; i < n; i++) {
        int own = body[i];
        size_t k;
        for (k = 0; k < NT; k++) own = own && act[k].v[i] >= hi;
        want += (size_t)own;
      }
      ok(rkin_voxel_tia(NT, actp, times, body, &o, &vh, &e) == 0 &&
         want > 0 && vh.n_own == want, "hybrid at the hottest late "
         "voxel's lowest value %g: the %zu voxels that reach it fitted "
         "(>=)", hi, want);
      rkin_vtia_free(&vh);
    }
    o.hybrid_min = 0.0;
    ok(rkin_voxel_tia(NT, actp, times, body, &o, &vh, &e) == RKIN_EINVAL &&
       strstr(e.msg, "hybrid"), "hybrid without a minimum: %s", e.msg);
    rkin_vtia_free(&vs);
    rkin_vtia_free(&vp);
    o.hybrid_min = 0.0;
  }

  /* single time point */
  o.method = RKIN_VTIA_STP_HAENSCHEID;
  {
    /* background voxels are mono-exponential: exact when t = T_eff */
    unsigned char *bg = malloc(n);
    double t1 = M_LN2 / P.organ[0].lambda_h;
    rkin_image a1;
    const rkin_image *a1p = &a1;
    rkin_image_mask(&lab, RKIN_PH_BODY, bg, &cnt, &e);
    rkin_phantom_activity(&P, t1, &a1, &e);
    ok(rkin_voxel_tia(1, &a1p, &t1, bg, &o, &v, &e) == 0, "Haenscheid at "
       "T_eff");
    m = max_rel(&v.tia, bg, &cnt);
    ok(m < 1e-6, "Haenscheid at t = T_eff: analytic (max rel %.2g)", m);
    rkin_vtia_free(&v);
    o.method = RKIN_VTIA_STP_POPLAMBDA;
    o.pop_lambda_h = P.organ[0].lambda_h;
    ok(rkin_voxel_tia(1, &actp[3], &times[3], bg, &o, &v, &e) == 0 &&
           max_rel(&v.tia, bg, NULL) < 1e-6,
       "population rate = the true rate at 48 h: analytic");
    rkin_vtia_free(&v);
    o.pop_lambda_h = 0.001;
    ok(rkin_voxel_tia(1, &actp[3], &times[3], bg, &o, &v, &e) == RKIN_EINVAL &&
           strstr(e.msg, "physical"), "rate below physical decay: %s", e.msg);
    ok(rkin_voxel_tia(2, actp, times, bg, &o, &v, &e) == RKIN_EINVAL,
       "two images for a single-time-point method: %s", e.msg);
    rkin_image_free(&a1);
    free(bg);
  }

  /* bad input */
  o.method = RKIN_VTIA_PER_VOXEL;
  o.models = 1u << RKIN_TAC_MONO;
  ok(rkin_voxel_tia(1, actp, times, body, &o, &v, &e) == RKIN_EINVAL,
     "one image for a fit: %s", e.msg);
  {
    double tb[NT] = {1, 4, 24, 24, 96, 168};
    ok(rkin_voxel_tia(NT, actp, tb, body, &o, &v, &e) == RKIN_EINVAL &&
           strstr(e.msg, "time 4"), "repeated time: %s", e.msg);
  }
  {
    rkin_image other;
    const rkin_image *pp[2];
    rkin_grid g = lab.g;
    g.spacing[0] = 4.0;
    rkin_image_alloc(&other, &g, &e);
    pp[0] = actp[0];
    pp[1] = &other;
    ok(rkin_voxel_tia(2, pp, times, NULL, &o, &v, &e) == RKIN_EINVAL &&
           strstr(e.msg, "resample"), "image on another grid: %s", e.msg);
    rkin_image_free(&other);
  }
  {
    size_t ib = 0;
    for (i = 0; i < n && !ib; i++) if (body[i]) ib = i;
    act[2].v[ib] = -5.0f;
    ok(rkin_voxel_tia(NT, actp, times, body, &o, &v, &e) == RKIN_EINVAL &&
           strstr(e.msg, "clip"), "negative voxel: %s", e.msg);
    act[2].v[ib] = 100.0f;
    act[0].v[ib] = act[1].v[ib] = 0.0f; /* zeros before positive values */
    ok(rkin_voxel_tia(NT, actp, times, body, &o, &v, &e) == 0 &&
           v.n_fallback == 1 && strstr(v.note, "voxel"),
       "voxel tac refuses: trapezoid fallback, counted (%s)", v.note);
    rkin_vtia_free(&v);
  }
  /* the mono fast path (rkin_tac_mono_quick) against every voxel through
   * rkin_tac_fit, on the phantom with 15 % multiplicative noise per voxel
   * and time point (seeded LCG): the same maps to 1e-6, the same
   * fitted / fallback counts */
  {
    rkin_vtia q, ref;
    unsigned long long st = 18;
    size_t k, bad = 0;
    double worst = 0.0;
    for (k = 0; k < NT; k++)
      for (i = 0; i < n; i++) {
        double u;
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        u = (double)(st >> 11) / 9007199254740992.0;   /* [0, 1) */
        act[k].v[i] = (float)(act[k].v[i] * (1.0 + 0.15 * (2.0 * u - 1.0)
                                                        * 1.7320508));
      }
    memset(&o, 0, sizeof o);
    o.method = RKIN_VTIA_PER_VOXEL;
    o.nuclide = "Lu-177";
    o.models = 1u << RKIN_TAC_MONO;
    o.cv = 0.05;
    o.threads = 1;
    ok(rkin_voxel_tia(NT, actp, times, body, &o, &q, &e) == 0, "noisy "
       "phantom, fast path");
    o.no_quick = 1;
    ok(rkin_voxel_tia(NT, actp, times, body, &o, &ref, &e) == 0, "noisy "
       "phantom, every voxel through rkin_tac_fit");
    for (i = 0; i < n; i++) {
      double d = ref.tia.v[i] > 0 ? fabs(q.tia.v[i] - ref.tia.v[i])
                                        / ref.tia.v[i]
                                  : fabs(q.tia.v[i]);
      worst = fmax(worst, d);
      bad += d > 1e-6 || q.model[i] != ref.model[i]
             || fabs(q.par[i * RKIN_TAC_MAX_PAR + 1]
                     - ref.par[i * RKIN_TAC_MAX_PAR + 1])
                    > 1e-6 * fabs(ref.par[i * RKIN_TAC_MAX_PAR + 1]);
    }
    ok(bad == 0 && q.n_fitted == ref.n_fitted &&
       q.n_fallback == ref.n_fallback, "fast path = rkin_tac_fit in all %zu "
       "voxels: TIA, model and rate to 1e-6 (worst TIA rel %.2g; %zu "
       "fitted, %zu fallback)", n, worst, q.n_fitted, q.n_fallback);
    rkin_vtia_free(&q);
    rkin_vtia_free(&ref);
    o.no_quick = 0;
    o.cv = NAN;
    ok(rkin_voxel_tia(NT, actp, times, body, &o, &q, &e) == RKIN_EINVAL &&
       strstr(e.msg, "cv = nan"), "cv not a number: %s", e.msg);
    o.cv = -0.1;
    ok(rkin_voxel_tia(NT, actp, times, body, &o, &q, &e) == RKIN_EINVAL &&
       strstr(e.msg, "cv = -0.1"), "negative cv: %s", e.msg);
  }
  for (i = 0; i < NT; i++) rkin_image_free(&act[i]);
  rkin_image_free(&lab);
  rkin_image_free(&truth);
  free(body);
  free(liver);
  done_testing();
  return exit_status();
}
