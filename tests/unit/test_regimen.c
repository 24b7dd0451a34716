/* test_regimen.c - cycle regimens: per-cycle dose, G and BED against
 * closed forms, the built-in rules against hand calculations, imaging with
 * zero error against the truth, the optimiser against the rules, thread
 * invariance, bad input and failing patients. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "dose/gfactor.h"
#include "core/model.h"
#include "core/nuclide.h"
#include "dose/organ.h"
#include "dose/radiobio.h"
#include "regimen/regimen.h"
#include "tac/tac.h"
#include "pop/vpop.h"
#include "../tap.h"

/* ------------------------------------------------------------ models */

/* A compartment model from flows: flow f moves k[par[f]] * y[from[f]]
 * from state from[f] to state to[f] (-1: out of the body). With `sat`,
 * flow 0 is saturable instead: k0 * y / (1 + y / km), km the last
 * parameter. With `nanpar` >= 0, flow 0 is multiplied by sqrt(p - 0.5)
 * (p = that parameter), a NaN for p < 0.5. */
typedef struct {
  const char *name;
  size_t n, np, nf;
  const char *const *states, *const *params;
  const double *values;
  const int *from, *to, *par;
  int sat, nanpar;
} flow_model;

static rkin_model *build(const flow_model *fm)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node d[8];
  rkin_model_spec sp = {0};
  rkin_err err;
  rkin_model *m;
  size_t f, i;
  for (i = 0; i < fm->n; i++) d[i] = rkin_expr_const(g, 0);
  for (f = 0; f < fm->nf; f++) {
    rkin_node y = rkin_expr_state(g, fm->from[f]);
    rkin_node flow = rkin_expr_binary(g, RKIN_OP_MUL,
                                      rkin_expr_param(g, fm->par[f]), y);
    if (f == 0 && fm->sat)
      flow = rkin_expr_binary(
        g, RKIN_OP_DIV, flow,
        rkin_expr_binary(g, RKIN_OP_ADD, rkin_expr_const(g, 1),
                         rkin_expr_binary(g, RKIN_OP_DIV, y,
                                          rkin_expr_param(g,
                                                          (int)fm->np - 1))));
    if (f == 0 && fm->nanpar >= 0)
      flow = rkin_expr_binary(
        g, RKIN_OP_MUL, flow,
        rkin_expr_unary(g, RKIN_OP_SQRT,
                        rkin_expr_binary(g, RKIN_OP_SUB,
                                         rkin_expr_param(g, fm->nanpar),
                                         rkin_expr_const(g, 0.5))));
    d[fm->from[f]] = rkin_expr_binary(g, RKIN_OP_SUB, d[fm->from[f]], flow);
    if (fm->to[f] >= 0)
      d[fm->to[f]] = rkin_expr_binary(g, RKIN_OP_ADD, d[fm->to[f]], flow);
  }
  sp.name = fm->name;
  sp.nuclide = rkin_nuclide_find("Lu-177", NULL);
  sp.n_states = fm->n;
  sp.states = fm->states;
  sp.deriv = d;
  sp.n_params = fm->np;
  sp.params = fm->params;
  sp.values = fm->values;
  m = rkin_model_new(&sp, g, &err);
  if (!m) diag("model %s: %s", fm->name, err.msg);
  return m;
}

/* P -> K -> out, P -> T -> out, P -> out: kidney and tumour curves are
 * exactly uptake-washout (A (e^-lw t - e^-lu t)). Rates /h. */
static const char *pkt_states[] = {"P", "K", "T"};
static const char *pkt_params[] = {"kPK", "kPT", "kel", "kK", "kT", "km"};
static const double pkt_values[] = {0.017, 0.010, 0.5, 0.012, 0.006, 5000};
static const int pkt_from[] = {0, 0, 0, 1, 2};
static const int pkt_to[] = {1, 2, -1, -1, -1};
static const int pkt_par[] = {0, 1, 2, 3, 4};

static rkin_model *pkt_model(int sat)
{
  flow_model fm = {sat ? "pkt_sat" : "pkt", 3, sat ? 6 : 5, 5, pkt_states,
                   pkt_params, pkt_values, pkt_from, pkt_to, pkt_par, sat,
                   -1};
  return build(&fm);
}

/* One state A -> out: a mono-exponential curve. */
static rkin_model *mono_model(void)
{
  static const char *st[] = {"A"}, *pa[] = {"k"};
  static const double v[] = {0.01};
  static const int from[] = {0}, to[] = {-1}, par[] = {0};
  flow_model fm = {"mono", 1, 1, 1, st, pa, v, from, to, par, 0, -1};
  return build(&fm);
}

/* P <-> K with return, P -> T, P -> out: coupled eigenvalues. Cyclic
 * A -> B -> C -> A: complex eigenvalues (-3k/2 +- i sqrt(3) k / 2). */
static rkin_model *back_model(void)
{
  static const char *st[] = {"P", "K", "T"};
  static const char *pa[] = {"kPK", "kKP", "kPT", "kel"};
  static const double v[] = {0.03, 0.012, 0.02, 0.4};
  static const int from[] = {0, 1, 0, 0}, to[] = {1, 0, 2, -1};
  static const int par[] = {0, 1, 2, 3};
  flow_model fm = {"back", 3, 4, 4, st, pa, v, from, to, par, 0, -1};
  return build(&fm);
}

static rkin_model *cyclic_model(void)
{
  static const char *st[] = {"A", "B", "C", "D"};
  static const char *pa[] = {"k", "kout"};
  static const double v[] = {0.2, 0.01};
  static const int from[] = {0, 1, 2, 2}, to[] = {1, 2, 0, 3};
  static const int par[] = {0, 0, 0, 1};
  flow_model fm = {"cyclic", 4, 2, 4, st, pa, v, from, to, par, 0, -1};
  return build(&fm);
}

static rkin_model *nan_model(void)
{
  static const char *st[] = {"P", "K"}, *pa[] = {"kPK", "kel", "kK", "q"};
  static const double v[] = {0.02, 0.5, 0.012, 1.0};
  static const int from[] = {0, 0, 1}, to[] = {1, -1, -1}, par[] = {0, 1, 2};
  flow_model fm = {"nanm", 2, 4, 3, st, pa, v, from, to, par, 0, 3};
  return build(&fm);
}

/* ------------------------------------------------------------ setup */

static rkin_region regions3[3];

static void set_regions(void)
{
  const rkin_organ *kid = rkin_organ_find("kidney", NULL);
  const rkin_organ *tum = rkin_organ_find("tumour", NULL);
  const rkin_organ *mar = rkin_organ_find("red_marrow", NULL);
  memset(regions3, 0, sizeof regions3);
  regions3[0].name = "kidney";
  regions3[0].quantity = 1;
  regions3[0].mass_kg = 0.3;
  regions3[0].lq = kid->lq;
  regions3[1].name = "tumour";
  regions3[1].quantity = 2;
  regions3[1].mass_kg = 0.05;
  regions3[1].lq = tum->lq;
  regions3[2].name = "marrow";    /* a blood-based proxy: plasma state */
  regions3[2].quantity = 0;
  regions3[2].mass_kg = 5.0;   /* ~0.25 Gy per 7.4 GBq (NETTER-1 0.22) */
  regions3[2].lq = mar->lq;
}

static rkin_regimen *make(const rkin_model *m, const double *params,
                          size_t n, int cvodes, int threads)
{
  rkin_regimen_spec sp = {0};
  rkin_err err;
  rkin_regimen *r;
  sp.model = m;
  rkin_solve_opts_default(&sp.opts);
  sp.opts.rtol = 1e-10;
  sp.opts.atol = 1e-10;
  if (cvodes) sp.opts.path = RKIN_PATH_CVODES;
  sp.n_patients = n;
  sp.params = params;
  sp.n_regions = 3;
  sp.regions = regions3;
  sp.inject = 0;
  sp.interval_h = 1344;       /* 8 weeks, Lutathera label */
  sp.threads = threads;
  r = rkin_regimen_new(&sp, &err);
  if (!r) diag("regimen: %s", err.msg);
  return r;
}

static double s_led(double mass)
{
  return rkin_nuclide_j_per_mbqh(rkin_nuclide_find("Lu-177", NULL)) / mass;
}

/* Analytic one-cycle kidney/tumour quantities of pkt for a GBq: lu the
 * plasma rate, lw the organ washout (both with decay). TIA to infinity;
 * the tail beyond 1344 h is e^-21 of it. */
static void pkt_exact(const double *p, double a_gbq, size_t organ,
                      double *dose, double *g)
{
  double lam = log(2.0) / rkin_nuclide_find("Lu-177", NULL)->half_life_h;
  double lu = p[0] + p[1] + p[2] + lam, lw = p[organ == 0 ? 3 : 4] + lam;
  double kin = p[organ == 0 ? 0 : 1];
  double tia = 1000 * a_gbq * kin / (lu * lw);
  *dose = tia * s_led(regions3[organ].mass_kg);
  rkin_gfactor_uptake(lw, lu, regions3[organ].lq.trep_h, g, NULL);
}

static int run(rkin_regimen *r, const rkin_regimen_rule *u,
               const rkin_imaging *img, rkin_regimen_res *res)
{
  rkin_err err;
  int rc;
  if ((rc = rkin_regimen_res_alloc(res, res->n_patients, u->max_cycles, 3,
                                   &err)))
    return rc;
  rc = rkin_regimen_run(r, u, img, res, &err);
  if (rc) diag("run: %s", err.msg);
  return rc;
}

static double cum(const rkin_regimen_res *res, const double *v, size_t i,
                  size_t q)
{
  size_t c;
  double s = 0;
  for (c = 0; c < res->max_cycles; c++)
    s += v[(i * res->max_cycles + c) * res->n_regions + q];
  return s;
}

/* ------------------------------------------------------------ tests */

static void test_closed_forms(void)
{
  rkin_model *m = mono_model(), *pk = pkt_model(0);
  double p = 0.01, lam = log(2.0) / 159.528, g, bed_ref, d;
  rkin_regimen_rule u;
  rkin_regimen_res res = {0};
  rkin_region keep[3];
  int cv;
  memcpy(keep, regions3, sizeof keep);
  regions3[0].quantity = regions3[1].quantity = regions3[2].quantity = 0;
  rkin_regimen_rule_default(&u);
  u.n_cycles = u.max_cycles = 1;
  for (cv = 0; cv < 2; cv++) {
    rkin_regimen *r = make(m, &p, 1, cv, 1);
    res.n_patients = 1;
    ok(r && !run(r, &u, NULL, &res), "mono model, %s route: one cycle runs",
       cv ? "augmented" : "eigen");
    if (!r) continue;
    ok(rkin_regimen_route(r) == (cv ? RKIN_ROUTE_AUGMENTED : RKIN_ROUTE_EIGEN),
       "route is %s", cv ? "augmented" : "eigen");
    /* D over [0, T] of R0 e^-(k+l) t, analytic */
    d = 7400 * s_led(0.3) / (p + lam) * -expm1(-(p + lam) * 1344);
    is_double(res.dose_true[0], d, cv ? 1e-7 : 1e-12,
              "mono dose over the cycle = analytic (rel %s)",
              cv ? "1e-7, CVODES" : "1e-12");
    /* G = l / (l + mu) (mono-exponential closed form) for the curve to infinity; the
     * finite cycle leaves out e^-19 of it */
    rkin_gfactor_mono(p + lam, regions3[0].lq.trep_h, &g, NULL);
    is_double(res.g_true[0], g, 1e-6, "G of the mono curve = l/(l+mu) "
              "(radiobio closed form, rel 1e-6)");
    rkin_radiobio_bed(res.dose_true[0], g, &regions3[0].lq, "k", &bed_ref,
                      NULL);
    is_double(res.bed_true[0], bed_ref, 1e-6, "BED = radiobio BED of D, G "
              "mono (rel 1e-6)");
    rkin_regimen_res_free(&res);
    rkin_regimen_free(r);
  }
  memcpy(regions3, keep, sizeof keep);
  {
    /* uptake-washout kidney and tumour: G = Baechler closed form
     * (gfactor_uptake) */
    double d2, g2;
    rkin_regimen *r = make(pk, pkt_values, 1, 0, 1);
    res.n_patients = 1;
    run(r, &u, NULL, &res);
    pkt_exact(pkt_values, 7.4, 0, &d2, &g2);
    is_double(res.dose_true[0], d2, 1e-9, "pkt kidney dose = analytic "
              "uptake-washout TIA x S (rel 1e-9)");
    is_double(res.g_true[0], g2, 1e-8, "pkt kidney G = uptake closed form "
              "(rel 1e-8)");
    pkt_exact(pkt_values, 7.4, 1, &d2, &g2);
    is_double(res.dose_true[1], d2, 1e-6, "pkt tumour dose = analytic "
              "(rel 1e-6; tail e^-14 left out)");
    is_double(res.g_true[1], g2, 1e-5, "pkt tumour G = uptake closed form "
            "(rel 1e-5: the cycle ends at e^-13.8 of the washout)");
    diag("pkt 7.4 GBq: kidney %.4f Gy (G %.5f), tumour %.4f Gy, marrow "
         "%.4f Gy", res.dose_true[0], res.g_true[0], res.dose_true[1],
         res.dose_true[2]);
    rkin_regimen_res_free(&res);
    rkin_regimen_free(r);
  }
  rkin_model_free(m);
  rkin_model_free(pk);
}

/* Eigen and augmented routes on coupled and complex-eigenvalue models. */
static void test_routes_agree(void)
{
  rkin_model *ms[2] = {back_model(), cyclic_model()};
  const char *names[2] = {"back-flow", "cyclic (complex eigenvalues)"};
  int k;
  for (k = 0; k < 2; k++) {
    const double *p = rkin_model_defaults(ms[k]);
    rkin_regimen *e = make(ms[k], p, 1, 0, 1), *a = make(ms[k], p, 1, 1, 1);
    rkin_regimen_rule u;
    rkin_regimen_res re = {0}, ra = {0};
    size_t j, c, q;
    double worst = 0;
    rkin_regimen_rule_default(&u);
    u.n_cycles = u.max_cycles = 3;
    re.n_patients = ra.n_patients = 1;
    run(e, &u, NULL, &re);
    run(a, &u, NULL, &ra);
    for (c = 0; c < 3; c++)
      for (q = 0; q < 3; q++) {
        j = c * 3 + q;
        worst = fmax(worst, fabs(re.dose_true[j] / ra.dose_true[j] - 1));
        worst = fmax(worst, fabs(re.bed_true[j] / ra.bed_true[j] - 1));
      }
    ok(worst < 1e-6, "%s model: eigen route = augmented CVODES route over 3 "
       "cycles, dose and BED per region (max rel diff %.2g < 1e-6)",
       names[k], worst);
    rkin_regimen_res_free(&re);
    rkin_regimen_res_free(&ra);
    rkin_regimen_free(e);
    rkin_regimen_free(a);
    rkin_model_free(ms[k]);
  }
}

static void test_rules(void)
{
  rkin_model *m = pkt_model(0);
  rkin_regimen *r = make(m, pkt_values, 1, 0, 1);
  rkin_regimen_rule u;
  rkin_regimen_res res = {0};
  double d1, g1, per, a, bed1, ab = regions3[0].lq.ab_gy, c, want, rest;
  size_t k, nfull;
  int all;
  pkt_exact(pkt_values, 1.0, 0, &per, &g1);     /* Gy per GBq, kidney */

  /* empiric: 4 x 7.4 GBq; cumulative dose 4 x (7.4 per) by linearity */
  rkin_regimen_rule_default(&u);
  res.n_patients = 1;
  run(r, &u, NULL, &res);
  is_int((int)res.n_cycles[0], 4, "empiric: 4 cycles");
  is_double(res.activity_gbq[3], 7.4, 0, "empiric: cycle 4 gets 7.4 GBq");
  is_double(cum(&res, res.dose_true, 0, 0), 4 * 7.4 * per, 1e-9,
            "empiric: cumulative kidney dose = 4 x 7.4 GBq x Gy/GBq "
            "(analytic, rel 1e-9)");
  rkin_regimen_res_free(&res);

  /* PP-PRRT: cycle 1 7.4 GBq; then (23 - D1) / 3 at the measured Gy/GBq */
  u.kind = RKIN_RULE_PP_PRRT;
  u.target_gy = 23;
  res.n_patients = 1;
  run(r, &u, NULL, &res);
  d1 = 7.4 * per;
  a = (23 - d1) / 3 / per;
  is_double(res.activity_gbq[1], a, 1e-9, "PP-PRRT: cycle 2 = (23 - D1) / 3 "
            "/ (D1 / 7.4) GBq by hand (rel 1e-9)");
  is_double(res.activity_gbq[3], a, 1e-9, "PP-PRRT: cycle 4 the same");
  is_double(cum(&res, res.dose_true, 0, 0), 23, 1e-6, "PP-PRRT: cumulative "
            "kidney dose lands on 23 Gy (rel 1e-6)");
  diag("PP-PRRT activities %.4f %.4f %.4f %.4f GBq", res.activity_gbq[0],
       res.activity_gbq[1], res.activity_gbq[2], res.activity_gbq[3]);
  rkin_regimen_res_free(&res);
  /* pre-therapy estimate: every cycle 23 / 4 / k0 */
  u.first_gy_per_gbq = per;
  res.n_patients = 1;
  run(r, &u, NULL, &res);
  is_double(res.activity_gbq[0], 23.0 / 4 / per, 1e-12, "PP-PRRT with a "
            "pre-therapy estimate: cycle 1 = 23 / 4 / (Gy/GBq)");
  is_double(cum(&res, res.dose_true, 0, 0), 23, 1e-6, "and lands on 23 Gy");
  rkin_regimen_res_free(&res);
  /* bounded: max 8 GBq, every cycle at the bound, short of the target */
  u.first_gy_per_gbq = 0;
  u.max_gbq = 8;
  u.target_gy = 60;
  res.n_patients = 1;
  run(r, &u, NULL, &res);
  is_double(res.activity_gbq[2], 8, 0, "PP-PRRT: max_gbq 8 caps cycle 3");
  rkin_regimen_res_free(&res);

  /* ILUMINET 27 Gy BED, last cycle reduced: by hand, each 7.4 GBq cycle
   * gives BED b = D (1 + G D / ab); full cycles while cum + b <= 27, then
   * D from the budget: (G/ab) D^2 + D = 27 - cum. */
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_ILUMINET;
  u.bed_limit_gy = 27;
  u.max_cycles = 10;
  res.n_patients = 1;
  run(r, &u, NULL, &res);
  bed1 = d1 * (1 + g1 * d1 / ab);
  nfull = (size_t)floor(27 / bed1);
  rest = 27 - (double)nfull * bed1;
  want = 2 * rest / (1 + sqrt(1 + 4 * g1 * rest / ab)) / per;
  all = 1;
  for (k = 0; k < nfull; k++) all &= res.activity_gbq[k] == 7.4;
  ok(all && res.n_cycles[0] == nfull + 1, "ILUMINET: %zu full 7.4 GBq "
     "cycles (BED %.3f Gy each), then one reduced (got %zu cycles)", nfull,
     bed1, res.n_cycles[0]);
  is_double(res.activity_gbq[nfull], want, 1e-6, "ILUMINET: reduced last "
            "cycle = remaining-budget dose / Gy per GBq by hand (rel 1e-6)");
  c = cum(&res, res.bed_true, 0, 0);
  ok(c <= 27 * (1 + 1e-9), "ILUMINET with reduction never exceeds 27 Gy "
     "BED (got %.12g)", c);
  is_double(c, 27, 1e-6, "and reaches it (rel 1e-6)");
  rkin_regimen_res_free(&res);
  /* Minimum useful cycle: a limit leaving a budget of 0.3 GBq after the
   * full cycles (L = n b + BED of 0.3 GBq, by hand: the reduced cycle has
   * the same G for a linear model) ends the course at the default
   * min_cycle_gbq 1 GBq; with 0.2 GBq the 0.3 GBq cycle is given. */
  {
    double d03 = 0.3 * per, lim, lim15;
    lim = (double)nfull * bed1 + d03 * (1 + g1 * d03 / ab);
    lim15 = (double)nfull * bed1 + 1.5 * per * (1 + g1 * 1.5 * per / ab);
    u.bed_limit_gy = lim;
    res.n_patients = 1;
    run(r, &u, NULL, &res);
    is_int((int)res.n_cycles[0], (int)nfull, "ILUMINET: a 0.3 GBq last "
           "cycle (below min_cycle_gbq 1) is not given: %zu cycles",
           nfull);
    rkin_regimen_res_free(&res);
    u.min_cycle_gbq = 0.2;
    res.n_patients = 1;
    run(r, &u, NULL, &res);
    ok(res.n_cycles[0] == nfull + 1, "ILUMINET, min_cycle_gbq 0.2: the "
       "reduced cycle is given");
    is_double(res.activity_gbq[nfull], 0.3, 1e-6, "... its activity 0.3 "
              "GBq by hand (rel 1e-6)");
    rkin_regimen_res_free(&res);
    u.min_cycle_gbq = 1;
    u.bed_limit_gy = lim15;
    res.n_patients = 1;
    run(r, &u, NULL, &res);
    ok(res.n_cycles[0] == nfull + 1
       && fabs(res.activity_gbq[nfull] / 1.5 - 1) < 1e-6,
       "ILUMINET: a 1.5 GBq reduced cycle (above the minimum) is given "
       "(%.6g GBq)", res.activity_gbq[nfull]);
    rkin_regimen_res_free(&res);
    u.bed_limit_gy = 27;
    u.activity_gbq = 0.5;
    res.n_patients = 1;
    {
      rkin_err err;
      ok(rkin_regimen_res_alloc(&res, 1, u.max_cycles, 3, &err) == 0
         && rkin_regimen_run(r, &u, NULL, &res, &err) == RKIN_EINVAL
         && strstr(err.msg, "activity_gbq = 0.5 GBq are below "
                   "min_cycle_gbq = 1 GBq"),
         "ILUMINET cycles below the minimum refused: %s", err.msg);
    }
    rkin_regimen_res_free(&res);
    u.activity_gbq = 7.4;
  }
  u.reduce_last = 0;
  res.n_patients = 1;
  run(r, &u, NULL, &res);
  is_int((int)res.n_cycles[0], (int)ceil(27 / bed1), "ILUMINET without "
         "reduction: ceil(27 / b) full cycles");
  ok(cum(&res, res.bed_true, 0, 0) >= 27, "and ends at or above 27 Gy");
  rkin_regimen_res_free(&res);
  u.reduce_last = 1;
  u.max_cycles = 2;
  res.n_patients = 1;
  run(r, &u, NULL, &res);
  is_int((int)res.n_cycles[0], 2, "ILUMINET: the cap on cycles stops it");
  rkin_regimen_res_free(&res);
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* Zero imaging error with the exact curve model (uptake-washout through 4
 * points: with 3, its 3 parameters equal the points and the fit never
 * selects it, tac.h) gives the truth's decisions. */
static void test_imaging(void)
{
  rkin_model *m = pkt_model(0);
  double *p = malloc(200 * 5 * sizeof *p), cvs[5] = {0.3, 0.3, 0.3, 0.3, 0.3};
  static const double times[] = {4, 24, 72, 168};
  static const int imaged[] = {1, 1, 0};   /* blood proxy: not imaged */
  rkin_regimen *r = NULL, *r2;
  rkin_regimen_rule u;
  rkin_regimen_res rt = {0}, ri = {0}, r1 = {0};
  rkin_imaging img = {0};
  size_t i, worst_i = 0, nt = 200;
  double worst = 0;
  rkin_err err;
  rkin_vpop_sample(m, NULL, cvs, 7, nt, p, &err);
  r = make(m, p, nt, 0, 2);
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_PP_PRRT;
  u.target_gy = 23;
  u.max_gbq = 30;
  img.method = RKIN_IMAGING_FIT;
  img.n_times = 4;
  img.times_h = times;
  img.cv = 0;
  img.seed = 3;
  img.tac_models = 1u << RKIN_TAC_UPWASH;
  img.imaged = imaged;
  rt.n_patients = ri.n_patients = nt;
  run(r, &u, NULL, &rt);
  run(r, &u, &img, &ri);
  for (i = 0; i < nt * 4; i++) {
    double d = fabs(ri.activity_gbq[i] / rt.activity_gbq[i] - 1);
    if (d > worst) worst = d, worst_i = i;
  }
  /* 1e-4: the TAC fit converges to NLopt's tolerance, and slow patients
   * carry e^-13 of a cycle into the next */
  ok(ri.n_failed == 0 && worst < 1e-4, "zero-error imaging (upwash fit "
     "through 4, 24, 72, 168 h) gives the truth's PP-PRRT activities for %zu "
     "patients (max rel diff %.2g at %zu < 1e-4)", nt, worst, worst_i);
  rkin_regimen_res_free(&ri);
  u.kind = RKIN_RULE_ILUMINET;
  u.bed_limit_gy = 27;
  u.max_cycles = 10;
  rkin_regimen_res_free(&rt);
  rt.n_patients = ri.n_patients = nt;
  run(r, &u, NULL, &rt);
  run(r, &u, &img, &ri);
  worst = 0;
  for (i = 0; i < nt * 10; i++)
    if (rt.activity_gbq[i] > 0)
      worst = fmax(worst, fabs(ri.activity_gbq[i] / rt.activity_gbq[i] - 1));
    else if (ri.activity_gbq[i] != 0)
      worst = 1;
  ok(worst < 1e-4, "zero-error imaging gives the truth's ILUMINET "
     "activities, incl. the reduced cycle (max rel diff %.2g)", worst);
  rkin_regimen_res_free(&rt);
  rkin_regimen_res_free(&ri);

  /* 10 % error: estimates differ from the truth; results are the same
   * for 1 and 2 threads (noise seeded per patient and cycle) */
  img.cv = 0.10;
  img.tac_models = 0;
  u.kind = RKIN_RULE_PP_PRRT;
  u.max_cycles = 4;
  ri.n_patients = r1.n_patients = nt;
  run(r, &u, &img, &ri);
  r2 = make(m, p, nt, 0, 1);
  run(r2, &u, &img, &r1);
  ok(!memcmp(ri.activity_gbq, r1.activity_gbq, nt * 4 * sizeof(double))
     && !memcmp(ri.dose_est, r1.dose_est, nt * 12 * sizeof(double)),
     "10 %% imaging error: identical decisions and estimates on 1 and 2 "
     "threads");
  worst = 0;
  for (i = 0; i < nt; i++)
    worst = fmax(worst, fabs(ri.dose_est[i * 12] / ri.dose_true[i * 12] - 1));
  ok(worst > 0.01 && worst < 1.0, "10 %% error: estimated kidney dose "
     "differs from the truth (max rel %.3f)", worst);
  diag("10 %% error PP-PRRT: patient 1 true cumulative kidney %.2f Gy "
       "(target 23)", cum(&ri, ri.dose_true, 0, 0));
  rkin_regimen_res_free(&ri);
  rkin_regimen_res_free(&r1);
  /* single time point at 72 h */
  img.method = RKIN_IMAGING_STP;
  ri.n_patients = nt;
  ok(!run(r, &u, &img, &ri) && ri.n_failed == 0, "STP imaging runs");
  rkin_regimen_res_free(&ri);
  rkin_regimen_free(r);
  rkin_regimen_free(r2);
  free(p);
  rkin_model_free(m);
}

static void test_optimiser(void)
{
  rkin_model *m = pkt_model(0), *ms = pkt_model(1);
  rkin_regimen *r = make(m, pkt_values, 1, 0, 1);
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_regimen_rule u, b;
  rkin_regimen_res ro = {0}, rb = {0};
  double cd[3], cb[3], obj, act[6];
  size_t k, kind;
  rkin_err err;
  int rc;
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_OPTIMISED;
  u.max_cycles = 6;
  u.n_cycles = 4;
  u.target_gy = 23;
  u.bed_limit_gy = 27;
  u.max_gbq = 15;
  u.objective = 1;
  u.n_limits = 2;
  u.limits = lim;
  ro.n_patients = 1;
  run(r, &u, NULL, &ro);
  rkin_regimen_evaluate(r, 0, ro.n_cycles[0], ro.activity_gbq, cd, cb, &err);
  ok(cb[0] <= 27 * (1 + 1e-9) && cd[2] <= 2 * (1 + 1e-9), "optimised plan "
     "keeps kidney BED <= 27 Gy (%.6f) and marrow dose <= 2 Gy (%.6f)",
     cb[0], cd[2]);
  diag("optimised: %zu cycles, %.3f %.3f %.3f %.3f %.3f %.3f GBq, tumour "
       "BED %.2f Gy", ro.n_cycles[0], ro.activity_gbq[0], ro.activity_gbq[1],
       ro.activity_gbq[2], ro.activity_gbq[3], ro.activity_gbq[4],
       ro.activity_gbq[5], cum(&ro, ro.bed_true, 0, 1));
  for (kind = 0; kind < 3; kind++) {
    static const char *nm[] = {"empiric", "PP-PRRT", "ILUMINET"};
    double tb;
    int feas;
    b = u;
    b.kind = kind == 0 ? RKIN_RULE_EMPIRIC
             : kind == 1 ? RKIN_RULE_PP_PRRT : RKIN_RULE_ILUMINET;
    rb.n_patients = 1;
    run(r, &b, NULL, &rb);
    feas = cum(&rb, rb.bed_true, 0, 0) <= 27 * (1 + 1e-9)
           && cum(&rb, rb.dose_true, 0, 2) <= 2 * (1 + 1e-9);
    tb = cum(&rb, rb.bed_true, 0, 1);
    ok(!feas || cum(&ro, ro.bed_true, 0, 1) >= tb * (1 - 1e-12),
       "optimised tumour BED %.3f >= %s %.3f Gy (%s)",
       cum(&ro, ro.bed_true, 0, 1), nm[kind], tb,
       feas ? "feasible rule" : "rule exceeds a limit");
    rkin_regimen_res_free(&rb);
  }
  /* without the rules' starts, on a bound */
  rc = rkin_regimen_optimise(r, 0, &u, 0, NULL, act, &k, &obj, &err);
  ok(!rc && k >= 1, "rkin_regimen_optimise alone: %zu cycles, tumour BED "
     "%.3f Gy", k, obj);
  /* The plan optimised is the plan scored. A patient with fast kidney
   * washout (kK 0.03 /h) and a slow tumour (kT 0.002 /h), 6 cycles of at
   * most 20 GBq allowed: the best plan gives 4. The optimiser once scored
   * such a plan over all 6 intervals (the tail of cycle 4 counted into
   * cycles never given): objective 356.7988 against 356.7965 Gy re-scored,
   * and a plan that had not been optimised as given. */
  {
    double pv[6];
    rkin_regimen *r4;
    size_t c, at_bound = 0;
    memcpy(pv, pkt_values, sizeof pv);
    pv[3] = 0.03;
    pv[4] = 0.002;
    r4 = make(m, pv, 1, 0, 1);
    b = u;
    b.max_gbq = 20;
    rc = rkin_regimen_optimise(r4, 0, &b, 0, NULL, act, &k, &obj, &err);
    rkin_regimen_evaluate(r4, 0, k, act, cd, cb, &err);
    diag("plan %.6g %.6g %.6g %.6g %.6g %.6g GBq, kidney BED %.9g, marrow "
         "%.9g Gy", act[0], act[1], act[2], act[3], act[4], act[5], cb[0],
         cd[2]);
    ok(!rc && k < 6, "fast-kidney patient: a plan of %zu of 6 cycles", k);
    is_double(obj, cb[1], 1e-9, "optimiser objective = re-scored tumour "
              "BED of the %zu cycles it gives (rel. 1e-9)", k);
    for (c = 0; c < k; c++) at_bound += act[c] >= 20 * (1 - 1e-9);
    ok(at_bound == k || fabs(cb[0] - 27) <= 1e-8 * 27
       || fabs(cd[2] - 2) <= 1e-8 * 2, "at the optimum a limit is active "
       "(kidney BED %.9g of 27, marrow %.9g of 2 Gy) unless every cycle is "
       "at max_gbq", cb[0], cd[2]);
    for (c = 0, at_bound = 0; c < k; c++) at_bound += act[c] >= 1.0;
    ok(at_bound == k, "no cycle below min_cycle_gbq = 1 GBq in the plan");
    /* the same through a run: the plan given is the plan optimised */
    rkin_regimen_res_free(&ro);
    ro.n_patients = 1;
    run(r4, &b, NULL, &ro);
    is_double(cum(&ro, ro.bed_true, 0, 1), obj, 1e-9, "run: tumour BED of "
              "the plan given = the optimiser's objective (rel. 1e-9)");
    /* without a minimum cycle, a search may drive trailing activities to
     * 0 (or nearly): the plan is still scored as given */
    b.min_cycle_gbq = 0;
    rc = rkin_regimen_optimise(r4, 0, &b, 0, NULL, act, &k, &obj, &err);
    rkin_regimen_evaluate(r4, 0, k, act, cd, cb, &err);
    is_double(obj, cb[1], 1e-9, "min_cycle_gbq 0: objective = re-scored "
              "tumour BED of the %zu cycles given (rel. 1e-9)", k);
    rkin_regimen_free(r4);
  }
  rkin_regimen_res_free(&ro);
  rkin_regimen_free(r);

  /* nonlinear (saturable kidney uptake): augmented route, COBYLA */
  r = make(ms, pkt_values, 1, 0, 1);
  ok(r && rkin_regimen_route(r) == RKIN_ROUTE_AUGMENTED, "saturable model "
     "takes the augmented route");
  u.max_cycles = 4;
  ro.n_patients = 1;
  rc = run(r, &u, NULL, &ro);
  rkin_regimen_evaluate(r, 0, ro.n_cycles[0], ro.activity_gbq, cd, cb, &err);
  ok(!rc && ro.n_failed == 0 && cb[0] <= 27 * (1 + 1e-9)
     && cd[2] <= 2 * (1 + 1e-9), "nonlinear optimised plan keeps the "
     "limits (kidney BED %.4f, marrow %.4f Gy; %zu cycles)", cb[0], cd[2],
     ro.n_cycles[0]);
  b = u;
  b.kind = RKIN_RULE_ILUMINET;
  rb.n_patients = 1;
  run(r, &b, NULL, &rb);
  ok(cum(&ro, ro.bed_true, 0, 1) >= cum(&rb, rb.bed_true, 0, 1) * (1 - 1e-9)
     || cum(&rb, rb.bed_true, 0, 0) > 27 * (1 + 1e-9)
     || cum(&rb, rb.dose_true, 0, 2) > 2 * (1 + 1e-9),
     "nonlinear: optimised tumour BED %.3f >= ILUMINET %.3f",
     cum(&ro, ro.bed_true, 0, 1), cum(&rb, rb.bed_true, 0, 1));
  rkin_regimen_res_free(&ro);
  rkin_regimen_res_free(&rb);
  rkin_regimen_free(r);
  rkin_model_free(m);
  rkin_model_free(ms);
}

/* A custom rule: `mode` 0 gives 5 GBq twice; for patient 2, 1 fails,
 * 2 returns NaN, 3 returns -1, 4 never stops, 5 returns 7400. */
static int custom(void *ud, const rkin_regimen_state *k, double *next)
{
  int mode = *(int *)ud;
  if (k->patient == 1 && mode) {
    if (mode == 1) return rkin_err_set(k->err, RKIN_EINVAL, "boom");
    *next = mode == 2 ? NAN : mode == 3 ? -1 : mode == 4 ? 5 : 7400;
    return 0;
  }
  *next = k->cycles_given < 2 ? 5 : 0;
  return 0;
}

static void test_custom_and_failures(void)
{
  rkin_model *m = pkt_model(0), *mn = nan_model();
  double p3[15];
  rkin_regimen *r;
  rkin_regimen_rule u;
  rkin_regimen_res res = {0};
  static const char *want[] = {
    "", "patient 2, before cycle 1: rule failed: boom",
    "patient 2, before cycle 1: the rule returned nan GBq",
    "patient 2, before cycle 1: the rule returned -1 GBq",
    "patient 2: the rule asks for cycle 5 but max_cycles is 4",
    "returned 7400 GBq, implausible; activities are in GBq"};
  int mode;
  size_t i;
  for (i = 0; i < 3; i++) memcpy(p3 + 5 * i, pkt_values, 5 * sizeof *p3);
  r = make(m, p3, 3, 0, 2);
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_CUSTOM;
  u.decide = custom;
  u.ud = &mode;
  for (mode = 0; mode <= 5; mode++) {
    res.n_patients = 3;
    run(r, &u, NULL, &res);
    if (mode == 0) {
      ok(res.n_failed == 0 && res.n_cycles[2] == 2
         && res.activity_gbq[2 * 4 + 1] == 5, "custom rule: 2 x 5 GBq");
    } else {
      ok(res.n_failed == 1 && res.status[1] != 0 && res.n_cycles[0] == 2
         && res.n_cycles[2] == 2, "custom rule mode %d: patient 2 fails, "
         "patients 1 and 3 keep their results", mode);
      like(res.message[1] ? res.message[1] : "", want[mode],
           "message names the patient and cycle (mode %d)", mode);
    }
    rkin_regimen_res_free(&res);
  }
  rkin_regimen_free(r);
  {
    /* a patient whose model gives NaN fails alone (augmented route) */
    double pn[12] = {0.02, 0.5, 0.012, 1.0, 0.02, 0.5, 0.012, 0.1,
                     0.02, 0.5, 0.012, 1.0};
    rkin_region keep[3];
    memcpy(keep, regions3, sizeof keep);
    regions3[2].quantity = 0;
    regions3[1].quantity = 1;
    int cv;
    for (cv = 0; cv < 2; cv++) {
      r = make(mn, pn, 3, cv, 2);
      rkin_regimen_rule_default(&u);
      res.n_patients = 3;
      run(r, &u, NULL, &res);
      ok(res.n_failed == 1 && res.status[1] && res.n_cycles[0] == 4
         && res.n_cycles[2] == 4, "%s: a NaN rate of patient 2 leaves "
         "patients 1 and 3 whole", cv ? "augmented" : "eigen");
      like(res.message[1] ? res.message[1] : "",
           cv ? "patient 2, cycle 1: " : "patient 2: model 'nanm': system "
           "matrix entry", "the failure names patient 2%s",
           cv ? ", cycle 1" : "");
      diag("%s", res.message[1] ? res.message[1] : "");
      rkin_regimen_res_free(&res);
      rkin_regimen_free(r);
    }
    memcpy(regions3, keep, sizeof keep);
  }
  rkin_model_free(m);
  rkin_model_free(mn);
}

static void test_bad_input(void)
{
  rkin_model *m = pkt_model(0);
  rkin_regimen_spec sp = {0};
  rkin_regimen *r;
  rkin_regimen_rule u;
  rkin_regimen_res res = {0};
  rkin_imaging img = {0};
  static const double t_bad[] = {4, 2000}, t_ok[] = {4, 24, 72};
  rkin_err err;
  rkin_region bad[3];
  sp.model = m;
  rkin_solve_opts_default(&sp.opts);
  sp.n_patients = 1;
  sp.params = pkt_values;
  sp.n_regions = 3;
  sp.regions = bad;
  sp.interval_h = 1344;
  memcpy(bad, regions3, sizeof bad);
  bad[0].mass_kg = 0;
  ok(!rkin_regimen_new(&sp, &err), "mass 0 refused");
  like(err.msg, "region 'kidney': mass_kg must be a finite number > 0",
       "message names the region and field");
  bad[0].mass_kg = 300;
  ok(!rkin_regimen_new(&sp, &err), "mass 300 kg refused");
  like(err.msg, "is it in g?", "message suggests a unit mistake");
  bad[0].mass_kg = 0.3;
  bad[1].quantity = 9;
  ok(!rkin_regimen_new(&sp, &err), "quantity out of range refused");
  like(err.msg, "region 'tumour': quantity 9 is outside", "message");
  bad[1].quantity = 2;
  bad[2].name = "kidney";
  ok(!rkin_regimen_new(&sp, &err), "duplicate region refused");
  like(err.msg, "region 'kidney' is given twice", "message");
  bad[2].name = "marrow";
  sp.interval_h = 0;
  ok(!rkin_regimen_new(&sp, &err), "interval 0 refused");
  like(err.msg, "interval_h must be a finite number > 0", "message");
  sp.interval_h = 1344;
  sp.inject = 7;
  ok(!rkin_regimen_new(&sp, &err) && strstr(err.msg, "inject state 7"),
     "inject out of range refused: %s", err.msg);
  sp.inject = 0;
  r = rkin_regimen_new(&sp, &err);
  rkin_regimen_rule_default(&u);
  rkin_regimen_res_alloc(&res, 1, 4, 3, &err);
  u.activity_gbq = 7400;
  ok(rkin_regimen_run(r, &u, NULL, &res, &err) == RKIN_ERANGE,
     "activity 7400 GBq refused");
  like(err.msg, "activity_gbq = 7400 GBq is implausible; activities are in "
       "GBq", "message says the unit");
  u.activity_gbq = 7.4;
  u.kind = RKIN_RULE_PP_PRRT;
  u.target_gy = 2300;
  ok(rkin_regimen_run(r, &u, NULL, &res, &err) == RKIN_ERANGE,
     "target 2300 Gy refused");
  like(err.msg, "target_gy = 2300 Gy is implausible", "message");
  like(err.msg, "cGy", "message suggests cGy");
  u.target_gy = 23;
  u.n_cycles = 6;
  ok(rkin_regimen_run(r, &u, NULL, &res, &err) == RKIN_EINVAL
     && strstr(err.msg, "n_cycles 6 must be in [1, max_cycles = 4]"),
     "n_cycles above max_cycles refused: %s", err.msg);
  u.n_cycles = 4;
  u.kind = RKIN_RULE_ILUMINET;
  u.bed_limit_gy = -1;
  ok(rkin_regimen_run(r, &u, NULL, &res, &err) == RKIN_EINVAL
     && strstr(err.msg, "bed_limit_gy must be a finite number > 0"),
     "negative BED limit refused: %s", err.msg);
  u.bed_limit_gy = 27;
  img.method = RKIN_IMAGING_FIT;
  img.times_h = t_bad;
  img.n_times = 2;
  img.cv = 0.1;
  ok(rkin_regimen_run(r, &u, &img, &res, &err) == RKIN_EINVAL,
     "imaging time after the interval refused");
  like(err.msg, "times_h[2] = 2000 h, expected in (0, 1344) h", "message");
  /* 3 times, upwash only: its 3 parameters equal the points, so no fit
   * could ever be selected (every patient would get the trapezoid) */
  img.times_h = t_ok;
  img.n_times = 3;
  img.tac_models = 1u << RKIN_TAC_UPWASH;
  ok(rkin_regimen_run(r, &u, &img, &res, &err) == RKIN_EINVAL,
     "imaging fit of upwash through 3 times refused");
  like(err.msg, "3 time points cannot identify a fitted curve (upwash has 3 "
       "parameters): give at least 4", "... message: %s", err.msg);
  img.tac_models = 0;
  img.n_times = 2;
  ok(rkin_regimen_run(r, &u, &img, &res, &err) == RKIN_EINVAL
     && strstr(err.msg, "(mono has 2 parameters): give at least 3"),
     "2 times, all models: refused, naming mono: %s", err.msg);
  img.times_h = t_ok;
  img.n_times = 3;
  img.cv = 10;
  ok(rkin_regimen_run(r, &u, &img, &res, &err) == RKIN_ERANGE,
     "cv 10 refused");
  like(err.msg, "it is a fraction (0.10 for 10 %)", "message");
  u.kind = RKIN_RULE_OPTIMISED;
  u.max_gbq = 15;
  ok(rkin_regimen_run(r, &u, NULL, &res, &err) == RKIN_EINVAL
     && strstr(err.msg, "needs at least one limit"),
     "optimiser without limits refused: %s", err.msg);
  u.kind = RKIN_RULE_EMPIRIC;
  u.max_cycles = 5;
  ok(rkin_regimen_run(r, &u, NULL, &res, &err) == RKIN_EINVAL
     && strstr(err.msg, "results sized for 1 patients x 4 cycles"),
     "results of the wrong size refused: %s", err.msg);
  rkin_regimen_res_free(&res);
  rkin_regimen_free(r);
  rkin_model_free(m);
}

/* ------------------------------------------------------------ confidence */

/* z of a one-sided 95 % bound: Phi^-1(0.95) (normal quantile, any table;
 * 16 digits from GSL's gsl_cdf_ugaussian_Pinv). */
#define Z95 1.6448536269514722

/* The EANM imaging model's shared factors, tested on the simulated
 * activities themselves: with counting noise cv, the EANM activities are
 * the proportional model's (same per-image draws) times one factor per
 * patient and region, the same at every time point and cycle; the
 * calibration part is the same for every region; log-SD as specified. */
static void test_imaging_shared(void)
{
  rkin_imaging prop = {0}, eanm;
  rkin_imaging_ws *ws;
  rkin_err err;
  double truth[4] = {10, 20, 30, 40}, a[4], b[4], f0 = 0, fr, fm, s1, s2;
  double sd_want;
  size_t c, k, i, n = 20000;
  int same = 1, all_one = 1;
  ws = rkin_imaging_ws_new(&err);
  prop.method = RKIN_IMAGING_FIT;
  prop.cv = 0.1;
  prop.seed = 11;
  eanm = prop;
  eanm.model = RKIN_IMAGING_EANM;
  eanm.cal_cv = 0.1;
  eanm.rc_cv = 0.05;
  eanm.volume_cv = 0.08;
  for (c = 0; c < 3; c++) {
    memcpy(a, truth, sizeof a);
    memcpy(b, truth, sizeof b);
    rkin_imaging_seed(ws, &prop, 4, c);
    rkin_imaging_noise(ws, &prop, 4, a);
    rkin_imaging_seed(ws, &eanm, 4, c);
    rkin_imaging_noise(ws, &eanm, 4, b);
    rkin_imaging_shared(ws, &eanm, 4, 1, &fr, &fm);
    for (k = 0; k < 4; k++) {
      double f = b[k] * fr / a[k];   /* measured (EANM) / measured (PROP) */
      if (c == 0 && k == 0) f0 = f;
      if (fabs(f / f0 - 1) > 1e-14) same = 0;
    }
    rkin_imaging_shared(ws, &prop, 4, 1, &fr, &fm);
    if (fr != 1 || fm != 1) all_one = 0;
  }
  ok(same && fabs(f0 - 1) > 1e-4, "EANM with 10 %% counting error: the "
     "measured activities are the proportional model's (same counting "
     "draws) times one factor %.5f at all 4 points of 3 cycles", f0);
  {
    double fa0[3], fm0[3], fa, fmm;
    int shared = 1;
    for (c = 0; c < 3; c++) {
      memcpy(b, truth, sizeof b);
      rkin_imaging_seed(ws, &eanm, 4, c);
      rkin_imaging_noise(ws, &eanm, 4, b);
      for (i = 0; i < 3; i++) {
        rkin_imaging_shared(ws, &eanm, 4, i, &fa, &fmm);
        if (c == 0) fa0[i] = fa, fm0[i] = fmm;
        else if (fa != fa0[i] || fmm != fm0[i]) shared = 0;
      }
    }
    ok(shared && fa0[0] != fa0[1] && fm0[0] != fm0[1], "EANM: one activity "
       "and one mass factor per patient and region, the same in every "
       "cycle (region 1 %.4f / %.4f, region 2 %.4f / %.4f)", fa0[0], fm0[0],
       fa0[1], fm0[1]);
  }
  /* calibration alone: the same factor for every region of a patient,
   * another for another patient; the measured points scale by it */
  {
    rkin_imaging cal = eanm;
    double fa1, fa2, fa3, fmm, p0[4], p1[4];
    int scaled = 1;
    cal.rc_cv = cal.volume_cv = 0;
    cal.cv = 0;
    rkin_imaging_shared(ws, &cal, 9, 0, &fa1, &fmm);
    rkin_imaging_shared(ws, &cal, 9, 2, &fa2, &fmm);
    rkin_imaging_shared(ws, &cal, 10, 0, &fa3, &fmm);
    ok(fa1 == fa2 && fa1 != fa3 && fmm == 1, "calibration factor shared "
       "by the regions of a patient (%.5f), not by patients (%.5f)", fa1,
       fa3);
    for (c = 0; c < 2; c++) {
      memcpy(p0, truth, sizeof p0);
      rkin_imaging_seed(ws, &cal, 9, c);
      rkin_imaging_noise(ws, &cal, 4, p0);
      for (k = 0; k < 4; k++) p1[k] = p0[k] * fa1;
      for (k = 0; k < 4; k++)
        if (fabs(p1[k] / truth[k] - fa1) > 1e-15) scaled = 0;
    }
    ok(scaled, "no counting error: every time point of both cycles is the "
       "truth times the same factor");
  }
  /* log-SD of the activity factor: sqrt(ln(1+0.1^2) + ln(1+0.05^2)) by
   * construction (log-normal); 20000 draws: SE of an SD ~0.5 %, 3 % */
  s1 = s2 = 0;
  for (i = 0; i < n; i++) {
    double l;
    rkin_imaging_shared(ws, &eanm, i, 0, &fr, &fm);
    l = log(fr);
    s1 += l;
    s2 += l * l;
  }
  sd_want = sqrt(log1p(0.01) + log1p(0.0025));
  is_double(sqrt((s2 - s1 * s1 / n) / (n - 1)), sd_want, 0.03 * sd_want,
            "EANM activity factor: log-SD of 1/(f_Q f_RC) over %zu patients",
            n);
  ok(all_one, "proportional model: no shared factors");
  eanm.cal_cv = 1.5;
  ok(rkin_imaging_check(&eanm, 1344, &err) == RKIN_EINVAL, "cal_cv 1.5 "
     "refused: %s", err.msg);
  rkin_imaging_ws_free(ws);
}

/* Hand check of one ILUMINET decision at 0.95 from the reported values:
 * the reduced cycle's predicted dose (its activity x the previous cycle's
 * dose per GBq, the previous G) with the cycles before it puts the upper
 * bound BED + z u on the limit. u^2 = sum (k_i u_i d_i)^2 + (k u d)^2 +
 * 2 k_L u d_L k u d (the prediction carries the last measured cycle L's own
 * error) + (cal^2 + rc^2 + vol^2) (sum k_i d_i)^2, k_i = 1 + 2 G_i d_i / (a/b)
 * (GUM JCGM 100:2008 eq. 13, shared factors fully correlated). Returns
 * the relative miss, or -1 when the patient had no reduced cycle. */
static double iluminet_miss(const rkin_regimen_res *res, size_t i,
                            double sh2, double limit)
{
  size_t mc = res->max_cycles, nr = res->n_regions, n = res->n_cycles[i];
  size_t c, last;
  double ab = regions3[0].lq.ab_gy, bed = 0, lin = 0, vi = 0, d, g, u, kb;
  if (n < 2 || res->activity_gbq[i * mc + n - 1] >=
                   res->activity_gbq[i * mc] * (1 - 1e-12))
    return -1;
  last = n - 1;
  for (c = 0; c < last; c++) {
    size_t o = (i * mc + c) * nr;
    d = res->dose_est[o];
    g = res->g_est[o];
    u = res->u_rel_est[o];
    kb = 1 + 2 * g * d / ab;
    bed += d * (1 + g * d / ab);
    lin += kb * d;
    vi += kb * kb * u * u * d * d;
  }
  {
    size_t o = (i * mc + last - 1) * nr;
    d = res->activity_gbq[i * mc + last] * res->dose_est[o] /
        res->activity_gbq[i * mc + last - 1];
    g = res->g_est[o];
    u = res->u_rel_est[o];
  }
  kb = 1 + 2 * g * d / ab;
  bed += d * (1 + g * d / ab);
  lin += kb * d;
  vi += kb * kb * u * u * d * d;
  /* the prediction is the last measured cycle scaled: its error is that
   * cycle's own (correlation 1), covariance 2 k_L D_L k_n D_n u_L^2 */
  {
    size_t o = (i * mc + last - 1) * nr;
    double dl = res->dose_est[o];
    vi += 2 * (1 + 2 * g * dl / ab) * dl * kb * d * u * u;
  }
  return fabs(bed + Z95 * sqrt(vi + sh2 * lin * lin) - limit) / limit;
}

/* Through the chain, error-free counting and the exact curve model
 * (upwash through 4 points, as test_imaging): the estimated TIA of every
 * cycle is the truth times the patient's activity factor, the estimated
 * dose further divided by its mass factor (local deposition, D ~ 1/m).
 * 1e-4: the fit's tolerance (test_imaging). */
static void test_eanm_chain(void)
{
  rkin_model *m = pkt_model(0);
  double *p = malloc(20 * 5 * sizeof *p), cvs[5] = {0.3, 0.3, 0.3, 0.3, 0.3};
  static const double times[] = {4, 24, 72, 168};
  static const int imaged[] = {1, 1, 0};
  rkin_regimen *r;
  rkin_regimen_rule u;
  rkin_regimen_res res = {0};
  rkin_imaging img = {0};
  rkin_imaging_ws *ws;
  size_t i, c, q, nt = 20;
  double wt = 0, wd = 0, spread = 0;
  rkin_err err;
  rkin_vpop_sample(m, NULL, cvs, 7, nt, p, &err);
  r = make(m, p, nt, 0, 2);
  ws = rkin_imaging_ws_new(&err);
  rkin_regimen_rule_default(&u);
  img.method = RKIN_IMAGING_FIT;
  img.n_times = 4;
  img.times_h = times;
  img.seed = 8;
  img.tac_models = 1u << RKIN_TAC_UPWASH;
  img.imaged = imaged;
  img.model = RKIN_IMAGING_EANM;
  img.cal_cv = 0.1;
  img.rc_cv = 0.05;
  img.volume_cv = 0.1;
  res.n_patients = nt;
  run(r, &u, &img, &res);
  for (i = 0; i < nt; i++)
    for (q = 0; q < 2; q++) {
      double fa, fm;
      rkin_imaging_shared(ws, &img, i, q, &fa, &fm);
      spread = fmax(spread, fabs(fa - 1));
      for (c = 0; c < 4; c++) {
        size_t o = (i * 4 + c) * 3 + q;
        wt = fmax(wt, fabs(res.tia_est[o] / res.tia_true[o] / fa - 1));
        wd = fmax(wd, fabs(res.dose_est[o] * fm / res.dose_true[o] / fa
                           - 1));
      }
    }
  ok(res.n_failed == 0 && wt < 1e-4 && wd < 1e-4 && spread > 0.05,
     "EANM, exact counting: estimated TIA = truth x activity factor (max "
     "rel %.2g), dose further / mass factor (%.2g), in all 4 cycles of %zu "
     "patients (factors up to %.2f from 1)", wt, wd, nt, spread);
  rkin_regimen_res_free(&res);
  rkin_imaging_ws_free(ws);
  rkin_regimen_free(r);
  free(p);
  rkin_model_free(m);
}

static void test_confidence(void)
{
  rkin_model *m = pkt_model(0);
  double *p = malloc(300 * 5 * sizeof *p), cvs[5] = {0.3, 0.3, 0.3, 0.3, 0.3};
  static const double times[] = {4, 24, 72, 168};
  static const int imaged[] = {1, 1, 0};
  rkin_regimen *r;
  rkin_regimen_rule u;
  rkin_regimen_res r0 = {0}, r5 = {0}, r95 = {0};
  rkin_imaging img = {0};
  size_t i, nt = 300, nover5 = 0, nover95 = 0, nchk = 0;
  double worst = 0, act5 = 0, act95 = 0, sh2, ucheck = 0;
  rkin_err err;
  rkin_vpop_sample(m, NULL, cvs, 7, nt, p, &err);
  r = make(m, p, nt, 0, 2);
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_ILUMINET;
  u.bed_limit_gy = 27;
  u.max_cycles = 10;
  u.min_cycle_gbq = 0;
  img.method = RKIN_IMAGING_FIT;
  img.n_times = 4;
  img.times_h = times;
  img.cv = 0.10;
  img.seed = 5;
  img.imaged = imaged;
  img.model = RKIN_IMAGING_EANM;
  img.cal_cv = 0.05;
  img.rc_cv = 0.05;
  img.volume_cv = 0.10;
  sh2 = 0.05 * 0.05 + 0.05 * 0.05 + 0.10 * 0.10;
  r0.n_patients = r5.n_patients = r95.n_patients = nt;
  run(r, &u, &img, &r0);
  u.confidence = 0.5;
  run(r, &u, &img, &r5);
  ok(r0.n_failed == 0 && !memcmp(r0.activity_gbq, r5.activity_gbq,
                                 nt * 10 * sizeof(double)),
     "ILUMINET: confidence 0.5 gives the rule's point-estimate decisions");
  u.confidence = 0.95;
  run(r, &u, &img, &r95);
  ok(r95.n_failed == 0, "ILUMINET at 0.95 runs for %zu patients (%s)", nt,
     r95.n_failed ? r95.message[0] ? r95.message[0] : "?" : "none failed");
  for (i = 0; i < nt; i++) {
    double miss = iluminet_miss(&r95, i, sh2, 27);
    if (miss >= 0) {
      nchk++;
      worst = fmax(worst, miss);
      ucheck += r95.u_rel_est[i * 10 * 3];
    }
    nover5 += cum(&r5, r5.bed_true, i, 0) > 27;
    nover95 += cum(&r95, r95.bed_true, i, 0) > 27;
  }
  for (i = 0; i < nt * 10; i++) {
    act5 += r5.activity_gbq[i];
    act95 += r95.activity_gbq[i];
  }
  /* 1e-8: the bisection stops at a relative 1e-10 in the activity */
  ok(nchk > 20 && worst < 1e-8, "ILUMINET 0.95: BED + 1.645 u of the "
     "planned course equals 27 Gy by hand for %zu reduced cycles (worst "
     "rel %.2g; mean counting u of cycle 1 %.3f)", nchk, worst,
     nchk ? ucheck / nchk : 0.0);
  ok(nover95 < nover5 && act95 < act5, "EANM imaging, seeded: fewer "
     "patients over 27 Gy at 0.95 (%zu) than at 0.5 (%zu), for less "
     "activity (%.1f vs %.1f GBq per patient)", nover95, nover5, act95 / nt,
     act5 / nt);
  ok(nover95 <= nt / 10, "at 0.95 at most 10 %% over (%zu of %zu; nominal "
     "5 %% per decision)", nover95, nt);
  rkin_regimen_res_free(&r0);
  rkin_regimen_res_free(&r5);
  rkin_regimen_res_free(&r95);

  /* decisions from the truth: u = 0, so 0.95 gives the point estimate's
   * activities (1e-8: the bisection's 1e-10 against the closed form) */
  r5.n_patients = r95.n_patients = nt;
  u.confidence = 0.5;
  run(r, &u, NULL, &r5);
  u.confidence = 0.95;
  run(r, &u, NULL, &r95);
  worst = 0;
  for (i = 0; i < nt * 10; i++)
    if (r5.activity_gbq[i] > 0)
      worst = fmax(worst, fabs(r95.activity_gbq[i] / r5.activity_gbq[i] - 1));
    else if (r95.activity_gbq[i] != 0)
      worst = 1;
  ok(worst < 1e-8, "ILUMINET from the truth (u = 0): 0.95 gives the point "
     "estimate's activities (max rel diff %.2g)", worst);
  rkin_regimen_res_free(&r5);
  rkin_regimen_res_free(&r95);

  /* PP-PRRT at 0.95: before cycle 2 of 4 the remaining three cycles of
   * predicted dose d = a x (dose/GBq of cycle 1) put the cumulative dose's
   * upper bound on the target: D_1 + 3 d + z sqrt((u_1 (D_1 + 3 d))^2 +
   * sh2 (D_1 + 3 d)^2) = 23 Gy (the predictions are cycle 1's measurement
   * scaled: its own error, fully correlated) */
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_PP_PRRT;
  u.target_gy = 23;
  u.confidence = 0.95;
  r95.n_patients = nt;
  run(r, &u, &img, &r95);
  worst = 0;
  nchk = 0;
  for (i = 0; i < nt; i++) {
    double d1, u1, d, tot;
    if (r95.n_cycles[i] < 2) continue;
    d1 = r95.dose_est[i * 4 * 3];
    u1 = r95.u_rel_est[i * 4 * 3];
    d = r95.activity_gbq[i * 4 + 1] * d1 / r95.activity_gbq[i * 4];
    tot = d1 + 3 * d;
    worst = fmax(worst, fabs(tot + Z95 * sqrt(u1 * u1 * tot * tot +
                                              sh2 * tot * tot) - 23) / 23);
    nchk++;
  }
  ok(r95.n_failed == 0 && nchk > 100 && worst < 1e-8, "PP-PRRT 0.95: "
     "cumulative dose + 1.645 u of the plan before cycle 2 equals 23 Gy by "
     "hand for %zu patients (worst rel %.2g)", nchk, worst);
  rkin_regimen_res_free(&r95);
  u.kind = RKIN_RULE_EMPIRIC;
  r95.n_patients = nt;
  ok(rkin_regimen_res_alloc(&r95, nt, u.max_cycles, 3, &err) == 0 &&
     rkin_regimen_run(r, &u, &img, &r95, &err) == RKIN_EINVAL,
     "confidence on an empiric rule refused: %s", err.msg);
  u.kind = RKIN_RULE_PP_PRRT;
  u.confidence = 1.0;
  ok(rkin_regimen_run(r, &u, &img, &r95, &err) == RKIN_EINVAL,
     "confidence 1 refused: %s", err.msg);
  rkin_regimen_res_free(&r95);
  rkin_regimen_free(r);
  free(p);
  rkin_model_free(m);
}

/* The optimiser at 0.95: each limit holds the upper bound of the planned
 * course under a relative SD s shared by every planned dose, by hand:
 * BED + z s (2 BED - D) (d BED / d f = 2 BED - D when all doses scale by
 * f) and D (1 + z s); a limit binds (the optimiser pushes to one, as at
 * 0.5: 1e-6). s given (plan_u_rel 0.1), then from the EANM imaging
 * model: sqrt(cal^2 + rc^2 + vol^2). */
static void test_optimiser_confidence(void)
{
  rkin_model *m = pkt_model(0);
  rkin_regimen *r = make(m, pkt_values, 1, 0, 1);
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  static const double times[] = {4, 24, 72, 168};
  rkin_regimen_rule u;
  rkin_regimen_res r0 = {0}, r5 = {0}, r95 = {0};
  rkin_imaging img = {0};
  double cd[3], cb[3], s, ub_bed, ub_mar, t5, t95;
  rkin_err err;
  int pass;
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_OPTIMISED;
  u.max_cycles = 6;
  u.n_cycles = 4;
  u.target_gy = 23;
  u.bed_limit_gy = 27;
  u.max_gbq = 15;
  u.objective = 1;
  u.n_limits = 2;
  u.limits = lim;
  r0.n_patients = r5.n_patients = r95.n_patients = 1;
  run(r, &u, NULL, &r0);
  u.confidence = 0.5;
  u.plan_u_rel = 0.1;
  run(r, &u, NULL, &r5);
  ok(r0.n_cycles[0] == r5.n_cycles[0] &&
     !memcmp(r0.activity_gbq, r5.activity_gbq, 6 * sizeof(double)),
     "optimised: confidence 0.5 plans as without it");
  for (pass = 0; pass < 2; pass++) {
    u.confidence = 0.95;
    if (pass == 0) {
      s = 0.1;
      run(r, &u, NULL, &r95);
    } else {
      u.plan_u_rel = 0;
      img.method = RKIN_IMAGING_FIT;
      img.n_times = 4;
      img.times_h = times;
      img.cv = 0.1;
      img.seed = 2;
      img.model = RKIN_IMAGING_EANM;
      img.cal_cv = 0.05;
      img.rc_cv = 0.05;
      img.volume_cv = 0.1;
      s = sqrt(0.05 * 0.05 + 0.05 * 0.05 + 0.1 * 0.1);
      rkin_regimen_res_free(&r95);
      r95.n_patients = 1;
      run(r, &u, &img, &r95);
    }
    rkin_regimen_evaluate(r, 0, r95.n_cycles[0], r95.activity_gbq, cd, cb,
                          &err);
    ub_bed = cb[0] + Z95 * s * (2 * cb[0] - cd[0]);
    ub_mar = cd[2] * (1 + Z95 * s);
    t5 = cum(&r5, r5.bed_true, 0, 1);
    t95 = cum(&r95, r95.bed_true, 0, 1);
    ok(r95.n_failed == 0 && ub_bed <= 27 * (1 + 1e-9) &&
       ub_mar <= 2 * (1 + 1e-9) &&
       fmax(ub_bed / 27, ub_mar / 2) > 1 - 1e-6 && t95 < t5,
       "optimised at 0.95, s = %.4f (%s): kidney BED + 1.645 s (2 BED - D) "
       "= %.6f <= 27, marrow D (1 + 1.645 s) = %.6f <= 2, one binds; "
       "tumour BED %.1f < %.1f at 0.5", s, pass ? "EANM imaging" :
       "plan_u_rel", ub_bed, ub_mar, t95, t5);
  }
  /* a marrow dose limit of 1 Gy binds: D (1 + z s) = 1 Gy, s = 0.1 */
  lim[1].limit_gy = 1.0;
  u.plan_u_rel = 0.1;
  rkin_regimen_res_free(&r95);
  r95.n_patients = 1;
  run(r, &u, NULL, &r95);
  rkin_regimen_evaluate(r, 0, r95.n_cycles[0], r95.activity_gbq, cd, cb,
                        &err);
  ub_mar = cd[2] * (1 + Z95 * 0.1);
  ok(r95.n_failed == 0 && fabs(ub_mar - 1) < 1e-6 &&
     cb[0] + Z95 * 0.1 * (2 * cb[0] - cd[0]) <= 27 * (1 + 1e-9),
     "optimised at 0.95, marrow limit 1 Gy binding: D (1 + 1.645 x 0.1) "
     "= %.9f Gy", ub_mar);
  rkin_regimen_res_free(&r0);
  rkin_regimen_res_free(&r5);
  rkin_regimen_res_free(&r95);
  rkin_regimen_free(r);
  rkin_model_free(m);
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  set_regions();
  test_closed_forms();
  test_routes_agree();
  test_rules();
  test_imaging();
  test_imaging_shared();
  test_eanm_chain();
  test_confidence();
  test_optimiser();
  test_optimiser_confidence();
  test_custom_and_failures();
  test_bad_input();
  done_testing();
  return exit_status();
}
