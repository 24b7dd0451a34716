/* test_radiobio.c - G factor routes, BED / EQD2, cumulative BED, remaining
 * budget, organ table, TCP and NTCP. */
#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>

#include "core/init.h"
#include "dose/doserate.h"
#include "dose/gfactor.h"
#include "dose/organ.h"
#include "dose/radiobio.h"
#include "dose/tcp.h"
#include "../tap.h"

static int curve_rate(double t, double *r, void *ctx)
{
  *r = rkin_doserate_eval(ctx, t);
  return 0;
}

static double slowest(const rkin_doserate *r)
{
  double b = r->b[0];
  size_t k;
  for (k = 1; k < r->n; k++) b = fmin(b, r->b[k]);
  return b;
}

/* A random non-negative curve: kind 0 uptake + clearance, 1 three positive
 * terms, 2 two positive terms and a fast negative (uptake) term. */
static void random_curve(gsl_rng *rng, int kind, rkin_doserate *r)
{
  double u = 0.05 + 2.0 * gsl_rng_uniform(rng);
  double s1 = 0.004 + 0.05 * gsl_rng_uniform(rng);
  double s2 = 0.06 + 0.3 * gsl_rng_uniform(rng);
  double c1 = 0.01 + 0.2 * gsl_rng_uniform(rng);
  double c2 = 0.01 + 0.2 * gsl_rng_uniform(rng);
  if (kind == 0) {
    double c[] = {c1, -c1}, b[] = {s1, u + s1};
    rkin_doserate_set(r, 2, c, b, "random", NULL);
  } else if (kind == 1) {
    double c[] = {c1, c2, 0.1 * gsl_rng_uniform(rng)}, b[] = {s1, s2, u};
    rkin_doserate_set(r, 3, c, b, "random", NULL);
  } else {
    double c[] = {c1, c2, -(c1 + c2) * gsl_rng_uniform(rng)};
    double b[] = {s1, s2, u + s2};
    rkin_doserate_set(r, 3, c, b, "random", NULL);
  }
}

static void test_routes(void)
{
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_err err;
  int i;
  gsl_rng_set(rng, 20261125);
  for (i = 0; i < 6; i++) {
    rkin_doserate r;
    double trep = 0.5 + 3.0 * gsl_rng_uniform(rng), gs, gq, ga, dq, da;
    random_curve(rng, i % 3, &r);
    rkin_gfactor_sum(&r, trep, &gs, &err);
    is_int(rkin_gfactor_quad(curve_rate, &r, trep, &gq, &dq, &err), 0,
           "curve %d: nested quadrature ran", i);
    is_double(gs, gq, 1e-6, "curve %d (kind %d, %zu terms): double sum G = "
              "GSL double integral (rel 1e-6)", i, i % 3, r.n);
    is_double(rkin_doserate_total(&r), dq, 1e-8,
              "curve %d: sum c/b = integral of R (rel 1e-8)", i);
    rkin_gfactor_aux(curve_rate, &r, trep, 40.0 / slowest(&r),
                     slowest(&r), &ga, &da, &err);
    is_double(ga, gs, 1e-6, "curve %d: auxiliary-state G = double sum "
              "(rel 1e-6)", i);
  }
  gsl_rng_free(rng);
}

/* The four routes on one uptake + clearance kidney curve. */
static void test_four_routes(void)
{
  const double lc = 0.0169, lu = 0.35, trep = 2.8, r0 = 0.08;
  double c[] = {r0, -r0}, b[] = {lc, lu};
  rkin_doserate r;
  rkin_lq kid = {2.6, 2.8};
  rkin_err err;
  double g[4], d[4], bed[4];
  int k;
  rkin_doserate_set(&r, 2, c, b, "kidney", &err);
  rkin_gfactor_uptake(lc, lu, trep, &g[0], &err);
  d[0] = r0 * (1 / lc - 1 / lu);
  rkin_gfactor_sum(&r, trep, &g[1], &err);
  d[1] = rkin_doserate_total(&r);
  rkin_gfactor_quad(curve_rate, &r, trep, &g[2], &d[2], &err);
  rkin_gfactor_aux(curve_rate, &r, trep, 2000.0, lc, &g[3], &d[3], &err);
  for (k = 0; k < 4; k++)
    rkin_radiobio_bed(d[k], g[k], &kid, "kidney", &bed[k], &err);
  diag("uptake curve: D %.6g Gy, G %.8g, BED %.8g Gy", d[0], g[0], bed[0]);
  is_double(bed[1], bed[0], 1e-6, "BED double sum = uptake closed form");
  is_double(bed[2], bed[0], 1e-6, "BED quadrature = uptake closed form");
  is_double(bed[3], bed[0], 1e-6, "BED auxiliary states = closed form");

  /* Mono-exponential: closed form, double sum, quadrature, aux (issue 5:
   * aux BED of a simulated mono-exponential equals the closed form). */
  {
    double cm[] = {0.05}, bm[] = {0.0169}, gm[4], dm[4];
    rkin_doserate_set(&r, 1, cm, bm, "kidney", &err);
    rkin_gfactor_mono(0.0169, trep, &gm[0], &err);
    rkin_gfactor_sum(&r, trep, &gm[1], &err);
    rkin_gfactor_quad(curve_rate, &r, trep, &gm[2], &dm[2], &err);
    rkin_gfactor_aux(curve_rate, &r, trep, 1500.0, 0.0169, &gm[3], &dm[3],
                     &err);
    is_double(gm[0], 0.0169 / (0.0169 + M_LN2 / 2.8), 1e-15,
              "mono G = lambda / (lambda + mu) (closed form, instantaneous uptake)");
    is_double(gm[1], gm[0], 1e-12, "mono: double sum = closed form");
    is_double(gm[2], gm[0], 1e-6, "mono: quadrature = closed form");
    is_double(gm[3], gm[0], 1e-6, "mono: auxiliary states = closed form");
    is_double(dm[3], 0.05 / 0.0169, 1e-8, "mono: aux D = R0 / lambda");
  }
  /* A simulated curve only known at samples (Steffen interpolation). */
  {
    double t[1201], rs[1201], gsmp, dsmp, gm;
    for (k = 0; k <= 1200; k++) {
      t[k] = 0.5 * k;
      rs[k] = 0.05 * exp(-0.0169 * t[k]);
    }
    is_int(rkin_gfactor_aux_sampled(1201, t, rs, trep, 0.0169, &gsmp, &dsmp,
                                    &err), 0, "sampled dose rate accepted");
    rkin_gfactor_mono(0.0169, trep, &gm, &err);
    is_double(gsmp, gm, 1e-6, "sampled (0.5 h grid) aux G = closed form");
    is_double(dsmp, 0.05 / 0.0169, 1e-6, "sampled aux D = R0 / lambda");
  }
}

static void test_limits(void)
{
  rkin_lq p = {2.6, 2.8}, big = {1e12, 2.8};
  rkin_err err;
  double g, bed, eqd2, sum;
  const double d = 12.0;
  int n;

  /* alpha/beta -> inf: BED -> D. */
  rkin_gfactor_mono(0.02, 2.8, &g, &err);
  rkin_radiobio_bed(d, g, &big, "kidney", &bed, &err);
  is_double(bed, d, 1e-10, "alpha/beta = 1e12: BED = D (rel 1e-10)");
  /* Instantaneous dose: G = 1, BED = D (1 + D / (alpha/beta)). */
  rkin_radiobio_bed(d, 1.0, &p, "kidney", &bed, &err);
  is_double(bed, d * (1 + d / 2.6), 1e-15, "G = 1: BED = D (1 + D/ab)");
  /* Acute limit: clearance much faster than repair, G -> 1. */
  rkin_gfactor_mono(1e9, 2.8, &g, &err);
  is_double(g, 1.0, 1e-9, "lambda = 1e9 /h: G -> 1 (acute)");
  rkin_gfactor_uptake(1e9, 2e9, 2.8, &g, &err);
  is_double(g, 1.0, 1e-9, "fast uptake and clearance: G -> 1");
  /* Protracted limit: clearance much slower than repair, G -> 0. */
  rkin_gfactor_mono(1e-9, 2.8, &g, &err);
  ok(g < 1e-8, "lambda = 1e-9 /h: G -> 0, BED -> D (continuous low rate)");
  /* Fractionation: n instantaneous fractions of D/n, full repair between:
   * BED = D (1 + D / (n ab)) -> D. */
  for (n = 1; n <= 10000; n *= 100) {
    double f[10000];
    int k;
    for (k = 0; k < n; k++)
      rkin_radiobio_bed(d / n, 1.0, &p, "kidney", &f[k], &err);
    rkin_radiobio_cumulative((size_t)n, f, "kidney", &sum, &err);
    is_double(sum, d * (1 + d / (n * 2.6)), 1e-12,
              "%d fractions: BED = D (1 + D/(n ab)) (rel 1e-12)", n);
  }
  ok(fabs(sum / d - 1.0) < 1e-3, "10000 fractions: BED within 0.1 %% of D");
  rkin_radiobio_eqd2(bed, &p, "kidney", &eqd2, &err);
  is_double(eqd2, bed / (1 + 2 / 2.6), 1e-15, "EQD2 = BED / (1 + 2/ab)");
  /* EQD2 of 2-Gy fractions is the physical dose (definition). */
  {
    double f[15];
    int k;
    for (k = 0; k < 15; k++)
      rkin_radiobio_bed(2.0, 1.0, &p, "kidney", &f[k], &err);
    rkin_radiobio_cumulative(15, f, "kidney", &sum, &err);
    rkin_radiobio_eqd2(sum, &p, "kidney", &eqd2, &err);
    is_double(eqd2, 30.0, 1e-14, "15 x 2 Gy: EQD2 = 30 Gy");
  }
}

static void test_budget(void)
{
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_lq p = {2.6, 2.8};
  rkin_err err;
  int i, over = -1;
  double dn, bed;
  gsl_rng_set(rng, 5);
  for (i = 0; i < 5; i++) {
    double so_far = 30.0 * gsl_rng_uniform(rng), g = gsl_rng_uniform(rng);
    double c[] = {0.05, -0.05}, b[] = {0.01 + 0.02 * gsl_rng_uniform(rng),
                                       0.5};
    double d1, g1, a, gy_per_mbq;
    rkin_doserate r;
    rkin_radiobio_budget(so_far, 40.0, g, &p, "kidney", &dn, &over, &err);
    rkin_radiobio_bed(dn, g, &p, "kidney", &bed, &err);
    is_double(so_far + bed, 40.0, 1e-9,
              "budget %d: so far %.3g + BED(next) lands on 40 Gy (1e-9)", i,
              so_far);
    /* Through activity: the curve of 1 MBq, scaled. G does not change. */
    rkin_doserate_set(&r, 2, c, b, "kidney", &err);
    rkin_radiobio_bed_curve(&r, &p, "kidney", &d1, &g1, NULL, &err);
    gy_per_mbq = d1 / 1.0;
    rkin_radiobio_budget(so_far, 40.0, g1, &p, "kidney", &dn, &over, &err);
    rkin_radiobio_activity_for(dn, gy_per_mbq, "kidney", &a, &err);
    rkin_doserate_scale(&r, a);
    rkin_radiobio_bed_curve(&r, &p, "kidney", NULL, NULL, &bed, &err);
    is_double(so_far + bed, 40.0, 1e-9,
              "budget %d via activity %.4g MBq: scaled curve lands on the "
              "limit", i, a);
  }
  gsl_rng_free(rng);
  rkin_radiobio_budget(41.0, 40.0, 0.3, &p, "kidney", &dn, &over, &err);
  ok(dn == 0.0 && over == 1, "limit already passed: next dose 0, over set");
  rkin_radiobio_budget(10.0, 40.0, 0.0, &p, "kidney", &dn, &over, &err);
  is_double(dn, 30.0, 1e-15, "G = 0: remaining dose = remaining BED");

  is_int(rkin_radiobio_budget(0.0, 0.0, 0.3, &p, "kidney", &dn, NULL, &err),
         RKIN_EINVAL, "limit 0 rejected");
  like(err.msg, "kidney: BED limit 0 Gy, expected > 0", "limit message");
  rkin_radiobio_budget(-1.0, 40.0, 0.3, &p, "kidney", &dn, NULL, &err);
  like(err.msg, "cumulative BED so far -1 Gy", "negative history");
  rkin_radiobio_budget(0.0, 40.0, 1.5, &p, "kidney", &dn, NULL, &err);
  like(err.msg, "kidney: protraction factor G = 1.5, expected 0..1", "G > 1");
  rkin_radiobio_activity_for(5.0, 0.0, "kidney", &dn, &err);
  like(err.msg, "dose per activity 0 Gy/MBq", "zero dose per activity");
}

static int bad_rate(double t, double *r, void *ctx)
{
  (void)ctx;
  *r = t > 10.0 ? NAN : exp(-0.1 * t);
  return 0;
}

static void test_bad_input(void)
{
  rkin_lq bad_ab = {0.0, 2.8}, bad_tr = {2.6, -1.0}, p = {2.6, 2.8};
  rkin_err err;
  double g, bed, v[3] = {1.0, -2.0, 3.0};
  rkin_doserate r = {1, {1.0}, {0.0}};

  is_int(rkin_radiobio_bed(5.0, 0.3, &bad_ab, "kidney", &bed, &err),
         RKIN_EINVAL, "alpha/beta = 0 rejected");
  like(err.msg, "kidney: alpha/beta = 0 Gy, expected > 0", "names a/b");
  bad_ab.ab_gy = -2.6;
  rkin_radiobio_eqd2(5.0, &bad_ab, "tumour", &bed, &err);
  like(err.msg, "tumour: alpha/beta = -2.6 Gy", "negative a/b in EQD2");
  rkin_radiobio_bed(5.0, 0.3, &bad_tr, "kidney", &bed, &err);
  like(err.msg, "kidney: repair half-time trep_h = -1 h, expected > 0",
       "negative repair half-time");
  is_int(rkin_gfactor_mono(0.01, 0.0, &g, &err), RKIN_EINVAL,
         "G with T_rep = 0 rejected");
  like(err.msg, "repair half-time trep_h = 0 h", "message names T_rep");
  rkin_gfactor_mono(0.0, 2.8, &g, &err);
  like(err.msg, "lambda_per_h = 0 /h does not decay (infinite TIA",
       "non-decaying mono curve");
  rkin_gfactor_uptake(-0.01, 0.5, 2.8, &g, &err);
  like(err.msg, "clearance lambda_c_per_h = -0.01 /h", "negative clearance");
  is_int(rkin_gfactor_sum(&r, 2.8, &g, &err), RKIN_EINVAL,
         "non-decaying sum rejected");
  like(err.msg, "term 1 rate b = 0 /h does not decay", "names the term");
  rkin_radiobio_bed_curve(&r, &p, "kidney cycle 2", NULL, NULL, &bed, &err);
  like(err.msg, "kidney cycle 2: term 1 rate b = 0", "names where");
  is_int(rkin_gfactor_aux(bad_rate, NULL, 2.8, 50.0, 0.0, &g, NULL, &err),
         RKIN_EINVAL, "NaN dose rate stops the aux integration");
  like(err.msg, "not finite at t = 1", "message gives the time");
  rkin_gfactor_quad(bad_rate, NULL, 2.8, &g, NULL, &err);
  like(err.msg, "dose rate failed or not finite", "quadrature NaN");
  rkin_gfactor_aux(bad_rate, NULL, 2.8, -5.0, 0.0, &g, NULL, &err);
  like(err.msg, "t_end_h = -5 h, expected > 0", "negative end time");
  is_int(rkin_radiobio_cumulative(3, v, "kidney", &bed, &err), RKIN_EINVAL,
         "negative cycle BED rejected");
  like(err.msg, "kidney: cycle 2 BED -2 Gy", "names the cycle");
  rkin_radiobio_bed(-1.0, 0.3, &p, "kidney", &bed, &err);
  like(err.msg, "absorbed dose -1 Gy", "negative dose");
  rkin_gfactor_from_aux(2.0, 3.0, &g, &err);
  like(err.msg, "auxiliary integral I = 3 Gy^2 outside [0, D^2/2 = 2]",
       "inconsistent aux states");
  {
    double t[] = {0.0, 1.0, 1.0}, rs[] = {1.0, 0.5, 0.2};
    rkin_gfactor_aux_sampled(3, t, rs, 2.8, 0.0, &g, NULL, &err);
    like(err.msg, "sample 3 time 1 h not after 1 h", "non-increasing times");
  }
}

static void test_organs(void)
{
  const rkin_organ *k = rkin_organ_find("kidney", NULL);
  rkin_organ o;
  rkin_err err;
  size_t i;
  int all = 1;
  ok(k != NULL, "kidney in the organ table");
  is_double(k->lq.ab_gy, 2.6, 1e-15, "kidney a/b 2.6 Gy (Barone 2005, MIRD 20)");
  is_double(k->lq.trep_h, 2.8, 1e-15, "kidney T_rep 2.8 h (Barone 2005, MIRD 20)");
  is_double(k->limit_bed_gy, 40.0, 1e-15, "kidney BED 40 Gy (Bodei 2008)");
  is_double(rkin_organ_find("kidney_risk", NULL)->limit_bed_gy, 28.0, 1e-15,
            "kidney with risk factors BED 28 Gy (Bodei 2008)");
  is_double(rkin_organ_find("red_marrow", NULL)->limit_dose_gy, 2.0, 1e-15,
            "red marrow 2 Gy (TvNG 2023 review)");
  is_double(rkin_organ_find("tumour", NULL)->lq.ab_gy, 10.0, 1e-15,
            "tumour a/b 10 Gy (typical tumour value)");
  for (i = 0; i < rkin_organ_count(); i++)
    if (rkin_organ_check(rkin_organ_at(i), &err) ||
        !rkin_organ_at(i)->source[0])
      all = 0;
  ok(all, "every organ entry valid and sourced");
  ok(rkin_organ_find("brain", &err) == NULL, "unknown organ");
  like(err.msg, "unknown organ 'brain' (known: kidney, kidney_risk",
       "message lists organs");
  o = *k;
  o.lq.trep_h = 0.0;
  is_int(rkin_organ_check(&o, &err), RKIN_EINVAL, "override T_rep 0");
  like(err.msg, "kidney: repair half-time trep_h = 0 h", "names organ");
  o = *k;
  o.limit_bed_gy = -3;
  rkin_organ_check(&o, &err);
  like(err.msg, "kidney: BED limit -3 Gy", "negative limit override");

  /* Liver and spleen classes (a/b and T_rep tagged U in organ.c). */
  is_double(rkin_organ_find("liver", NULL)->lq.ab_gy, 2.5, 1e-15,
            "normal liver a/b 2.5 Gy");
  is_double(rkin_organ_find("liver", NULL)->lq.trep_h, 2.5, 1e-15,
            "normal liver T_rep 2.5 h");
  ok(rkin_organ_find("spleen", NULL) != NULL, "spleen in the organ table");
}

/* Region names as people write them map onto the organ classes. */
static void test_organ_spellings(void)
{
  static const struct { const char *region, *organ; } cases[] = {
    {"kidney", "kidney"}, {"kidneys", "kidney"}, {"Kidneys", "kidney"},
    {"kidney_left", "kidney"}, {"left_kidney", "kidney"},
    {"L_kidney", "kidney"}, {"kidney-R", "kidney"}, {"Right Kidney", "kidney"},
    {"kidney_risk", "kidney_risk"}, {"bone marrow", "red_marrow"},
    {"marrow", "red_marrow"}, {"red_marrow", "red_marrow"},
    {"RM", "red_marrow"}, {"parotid_L", "salivary"},
    {"parotids", "salivary"}, {"submandibular_right", "salivary"},
    {"salivary_glands", "salivary"}, {"tumor", "tumour"},
    {"lesion1", "tumour"}, {"lesion_12", "tumour"}, {"lesion_b", "tumour"}, {"Tumours", "tumour"},
    {"metastasis", "tumour"}, {"normal_liver", "liver"},
    {"Liver", "liver"}, {"spleen", "spleen"},
  };
  static const char *const not_organs[] = {"brain", "kidneyL", "blood",
                                           "rest", "left", "", "123"};
  rkin_err err;
  size_t i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const rkin_organ *o = rkin_organ_classify(cases[i].region, &err);
    ok(o && !strcmp(o->name, cases[i].organ), "'%s' -> %s (got %s)",
       cases[i].region, cases[i].organ, o ? o->name : err.msg);
  }
  for (i = 0; i < sizeof not_organs / sizeof not_organs[0]; i++)
    ok(rkin_organ_classify(not_organs[i], &err) == NULL
         && err.code == RKIN_ENOTFOUND,
       "'%s' is no organ class", not_organs[i]);
  rkin_organ_classify("blood", &err);
  like(err.msg, "region 'blood' is not a known organ class (known: kidney",
       "message names the region and the classes");
  ok(rkin_organ_classify(NULL, &err) == NULL && err.code == RKIN_EINVAL,
     "NULL region rejected");
}

/* The one organ-limit table: values and sources; the organ entries'
 * limits are its default rows. */
static void test_organ_limits(void)
{
  size_t i, j, n = rkin_organ_limit_count();
  int agree = 1, sourced = 1, unique = 1;
  rkin_err err;
  const rkin_organ_limit *l;
  ok(n >= 9, "limit table has the kidney, marrow, salivary and protocol "
     "limits");
  for (i = 0; i < rkin_organ_count(); i++) {
    const rkin_organ *o = rkin_organ_at(i);
    const rkin_organ_limit *d = rkin_organ_limit_default(o->name,
                                                         RKIN_LIMIT_DOSE);
    const rkin_organ_limit *b = rkin_organ_limit_default(o->name,
                                                         RKIN_LIMIT_BED);
    if ((d ? d->value_gy : 0.0) != o->limit_dose_gy
        || (b ? b->value_gy : 0.0) != o->limit_bed_gy)
      agree = 0;
  }
  ok(agree, "every organ's dose and BED limit is its default row of the "
     "limit table");
  for (i = 0; i < n; i++) {
    l = rkin_organ_limit_at(i);
    if (!l->source[0] || !l->applies[0] || !(l->value_gy > 0)
        || !rkin_organ_find(l->organ, NULL) || strstr(l->source, ".md")
        || !(strstr(l->source, "(P)") || strstr(l->source, "(S)")))
      sourced = 0;
    for (j = 0; j < i; j++)
      if (!strcmp(l->id, rkin_organ_limit_at(j)->id)) unique = 0;
  }
  ok(sourced, "every limit has a value > 0, a known organ, whom it applies "
     "to and a tagged source");
  ok(unique, "limit ids are unique");
  l = rkin_organ_limit_find("kidney_bed_iluminet", NULL);
  ok(l && l->quantity == RKIN_LIMIT_BED && l->value_gy == 27.0
       && !l->is_default, "ILUMINET kidney BED 27 Gy (protocol, not the "
     "kidney default)");
  l = rkin_organ_limit_find("kidney_dose_pp_prrt", NULL);
  ok(l && l->quantity == RKIN_LIMIT_DOSE && l->value_gy == 23.0,
     "PP-PRRT kidney absorbed dose 23 Gy");
  l = rkin_organ_limit_find("kidney_risk_bed_28", NULL);
  ok(l && l->value_gy == 28.0 && l->is_default
       && strstr(l->source, "Bodei 2008"), "kidney_risk BED 28 Gy (Bodei)");
  ok(rkin_organ_limit_default("tumour", RKIN_LIMIT_DOSE) == NULL
       && rkin_organ_limit_default("liver", RKIN_LIMIT_BED) == NULL,
     "tumour and liver have no default limit");
  ok(rkin_organ_limit_find("kidney_bed_99", &err) == NULL
       && err.code == RKIN_ENOTFOUND, "unknown limit id");
  like(err.msg, "unknown organ limit 'kidney_bed_99' (known: kidney_bed_40",
       "message lists the ids");
  ok(!strcmp(rkin_limit_quantity_name(RKIN_LIMIT_BED), "BED")
       && !strcmp(rkin_limit_quantity_name(RKIN_LIMIT_DOSE),
                  "absorbed dose"), "quantity names");
}

static void test_tcp_ntcp(void)
{
  rkin_tcp p = {0.3, 0.0, 10.0, 1e10, 0.01};
  const rkin_lkb *kid = &rkin_lkb_kidney_burman1991;
  rkin_err err;
  double t, t2, n, bed, mean, sd;
  const double d = 80.0, g = 0.2;
  /* No alpha spread: TCP = exp(-N0 exp(-alpha BED)) (Poisson, LQ). */
  rkin_tcp_poisson(d, g, &p, &t, &err);
  bed = d * (1 + g * d / 10.0);
  is_double(t, exp(-1e8 * exp(-0.3 * bed)), 1e-12, "TCP with sd = 0");
  /* N0 = 1e300/L x 1e10 L = 1e310 overflows a double; at alpha BED =
   * ln N0 (g = 0: BED = D), N0 e^(-alpha BED) = 1 and TCP = 1/e; far above
   * it TCP = 1 (inf x e^(-alpha BED) underflowing to 0 was NaN). */
  {
    rkin_tcp big = {0.3, 0.0, 10.0, 1e300, 1e10};
    t = -1;
    ok(rkin_tcp_poisson(310 * log(10.0) / 0.3, 0.0, &big, &t, &err) == 0,
       "TCP of 1e310 clonogens");
    is_double(t, exp(-1.0), 1e-10, "... at alpha BED = ln N0: 1/e (rel "
              "1e-10)");
    ok(rkin_tcp_poisson(1e4, 0.1, &big, &t, &err) == 0 && t == 1.0,
       "... at BED 1e6 Gy: 1, not NaN (%g)", t);
  }
  /* With spread: TCP(alpha) is a Gumbel CDF in alpha (location ln N0 /
   * BED, scale 1 / BED), so TCP = P(Gumbel < Normal) ~ Phi((mean - ln N0 /
   * BED - gamma / BED) / sqrt(sd^2 + pi^2 / (6 BED^2))) (moment match;
   * abs. 0.01). */
  p.alpha_sd = 0.08;
  rkin_tcp_poisson(d, g, &p, &t, &err);
  mean = 0.3 - log(1e8) / bed - 0.5772156649 / bed;
  sd = sqrt(0.08 * 0.08 + M_PI * M_PI / (6 * bed * bed));
  diag("TCP with alpha spread %.6f, Gumbel-normal approx %.6f", t,
       gsl_cdf_ugaussian_P(mean / sd));
  ok(fabs(t - gsl_cdf_ugaussian_P(mean / sd)) < 0.01,
     "TCP with alpha spread vs Gumbel-normal approximation (abs 0.01)");
  rkin_tcp_poisson(1.2 * d, g, &p, &t2, &err);
  ok(t2 > t && t2 <= 1.0, "TCP rises with dose");
  /* Truncation at alpha = 0 where it matters (mean = sd = 0.1: P(alpha > 0)
   * = Phi(1) = 0.841). At BED 1e4 Gy the Gumbel has location ln 1e8 / 1e4
   * and scale 1e-4, so the moment match is exact to ~1e-9 and no Gumbel
   * mass lies below 0: TCP = Phi((0.1 - ln N0 / BED - gamma / BED) /
   * sqrt(0.01 + pi^2 / (6 BED^2))) / Phi(1) (rel 1e-6); without the
   * renormalisation TCP is 0.841 times that. */
  {
    rkin_tcp w = {0.1, 0.1, 10.0, 1e10, 0.01};
    double b = 1e4, mu = 0.1 - log(1e8) / b - 0.5772156649015329 / b;
    double s = sqrt(0.01 + M_PI * M_PI / (6 * b * b));
    t = -1;
    ok(rkin_tcp_poisson(b, 0.0, &w, &t, &err) == 0, "TCP, alpha 0.1 +- 0.1");
    is_double(t, gsl_cdf_ugaussian_P(mu / s) / gsl_cdf_ugaussian_P(1.0),
              1e-6, "... at BED 1e4 Gy: normal truncated at 0, renormalised "
              "by Phi(1) (rel 1e-6)");
  }
  /* Dose 0: TCP(alpha) = exp(-N0) for every alpha, so the average is
   * exp(-N0) exactly when the truncated density integrates to 1 (N0 =
   * 0.5: 0.60653; not renormalised it is Phi(1) = 0.841 times that). */
  {
    rkin_tcp w = {0.1, 0.1, 50.0, 1.0, 0.5};
    t = -1;
    ok(rkin_tcp_poisson(0.0, 0.0, &w, &t, &err) == 0, "TCP at dose 0");
    is_double(t, exp(-0.5), 1e-9, "... = exp(-N0) = exp(-0.5): the alpha "
              "density truncated at 0 has unit mass (rel 1e-9)");
  }
  /* The spread itself, truncation negligible (alpha 0.3 +- 0.03): N0 =
   * 1e310 and BED = ln N0 / 0.27 put the Gumbel's location one SD below
   * the mean with scale 1 / BED = 3.8e-4 (moment match off by 7e-9 from
   * a 400000-step Simpson sum of the integral), so TCP
   * = Phi((0.03 - gamma / BED) / sqrt(0.03^2 + pi^2 / (6 BED^2))) = 0.8395
   * (rel 1e-5); twice the SD would give Phi(0.5) = 0.69. */
  {
    rkin_tcp w = {0.3, 0.03, 10.0, 1e300, 1e10};
    double b = (log(1e300) + log(1e10)) / 0.27;
    double mu = 0.03 - 0.5772156649015329 / b;
    double s = sqrt(0.03 * 0.03 + M_PI * M_PI / (6 * b * b));
    t = -1;
    ok(rkin_tcp_poisson(b, 0.0, &w, &t, &err) == 0, "TCP, alpha 0.3 +- 0.03");
    is_double(t, gsl_cdf_ugaussian_P(mu / s), 1e-5, "... Gumbel one SD below "
              "the mean: Phi(~1) (rel 1e-5)");
  }
  p.alpha_mean = -0.1;
  is_int(rkin_tcp_poisson(d, g, &p, &t, &err), RKIN_EINVAL, "alpha < 0");
  like(err.msg, "alpha_mean = -0.1 /Gy", "names alpha");
  p.alpha_mean = 0.3;
  p.ab_gy = 0.0;
  rkin_tcp_poisson(d, g, &p, &t, &err);
  like(err.msg, "TCP: alpha/beta = 0 Gy", "TCP a/b 0");

  /* LKB: NTCP(TD50) = 1/2, NTCP(TD50 (1 + m)) = Phi(1). */
  rkin_ntcp_lkb(28.0, kid, &n, &err);
  is_double(n, 0.5, 1e-15, "LKB NTCP at TD50 = 0.5");
  rkin_ntcp_lkb(28.0 * 1.1, kid, &n, &err);
  is_double(n, 0.841344746068543, 1e-12, "LKB NTCP at TD50 (1+m) = Phi(1)");
  {
    double dd[] = {10.0, 30.0}, vv[] = {0.5, 0.5}, want;
    rkin_ntcp_lkb_dvh(2, dd, vv, kid, &n, &err);
    /* gEUD = (0.5 x 10^(1/0.7) + 0.5 x 30^(1/0.7))^0.7. */
    rkin_ntcp_lkb(pow(0.5 * pow(10, 1 / 0.7) + 0.5 * pow(30, 1 / 0.7), 0.7),
                  kid, &want, &err);
    is_double(n, want, 1e-14, "DVH gEUD with n = 0.7");
    vv[1] = 0.4;
    rkin_ntcp_lkb_dvh(2, dd, vv, kid, &n, &err);
    like(err.msg, "volume fractions sum to 0.9", "DVH must sum to 1");
  }
  {
    rkin_lkb bad = *kid;
    bad.m = 0.0;
    is_int(rkin_ntcp_lkb(20.0, &bad, &n, &err), RKIN_EINVAL, "LKB m = 0");
    like(err.msg, "NTCP (LKB): m = 0", "names m");
  }
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  test_routes();
  test_four_routes();
  test_limits();
  test_budget();
  test_bad_input();
  test_organs();
  test_organ_spellings();
  test_organ_limits();
  test_tcp_ntcp();
  done_testing();
  return exit_status();
}
