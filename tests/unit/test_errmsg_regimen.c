/* test_errmsg_regimen.c - error messages of the regimen engine
 * (engine/regimen: the spec, the rules, the optimiser, evaluation, runs)
 * provoked one by one and their text asserted (issue 22 item 3). Each
 * BAD() checks the return code and that the message names the value and
 * says what was expected. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/model.h"
#include "core/nuclide.h"
#include "regimen/regimen.h"
#include "regimen/regimen_impl.h"
#include "../tap.h"
#include "../errmsg.h"

/* A -> out at rate k; Lu-177 unless `bare`. */
static rkin_model *mono(int bare)
{
  static const char *st[] = {"A"}, *pa[] = {"k"};
  static const double v[] = {0.01};
  rkin_graph *g = rkin_graph_new();
  rkin_node d[1];
  rkin_model_spec sp = {0};
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(
           g, RKIN_OP_MUL, rkin_expr_param(g, 0), rkin_expr_state(g, 0)));
  sp.name = "mono";
  sp.nuclide = bare ? NULL : rkin_nuclide_find("Lu-177", NULL);
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 1;
  sp.params = pa;
  sp.values = v;
  return rkin_model_new(&sp, g, NULL);
}

static rkin_region region(const char *name, double mass)
{
  rkin_region rg = {0};
  rg.name = name;
  rg.quantity = 0;
  rg.mass_kg = mass;
  rg.lq.ab_gy = 2.6;
  rg.lq.trep_h = 2.8;
  return rg;
}

static rkin_regimen_spec spec(const rkin_model *m, const double *p,
                              const rkin_region *rg, size_t nr)
{
  rkin_regimen_spec sp = {0};
  sp.model = m;
  rkin_solve_opts_default(&sp.opts);
  sp.n_patients = 1;
  sp.params = p;
  sp.n_regions = nr;
  sp.regions = rg;
  sp.interval_h = 1000;
  sp.threads = 1;
  return sp;
}

static void test_spec(const rkin_model *m, const rkin_model *bare)
{
  const double p[1] = {0.01}, pnan[1] = {NAN};
  rkin_region rg[2] = {region("kidney", 0.3), region("kidney", 0.3)};
  rkin_regimen_spec sp = spec(m, p, rg, 1);
  rkin_regimen *r;

  sp.n_patients = 0;
  BAD(rkin_regimen_new(&sp, &err) == NULL, 1,
      "regimen: a model, parameters and at least one patient are required",
      "spec: no patient");
  sp = spec(m, p, rg, 0);
  BAD(rkin_regimen_new(&sp, &err) == NULL, 1,
      "regimen: at least one region (organ or tumour) is required",
      "spec: no region");
  rg[0].name = "";
  sp = spec(m, p, rg, 1);
  BAD(rkin_regimen_new(&sp, &err) == NULL, 1, "regimen: region 1 has no "
      "name", "spec: an unnamed region");
  rg[0] = region("kidney", 300);
  BAD(rkin_regimen_new(&sp, &err) == NULL, 1, "regimen: region 'kidney': "
      "mass 300 kg is more than a whole body; is it in g?",
      "spec: a mass in g");
  rg[0] = region("kidney", 0.3);
  sp.inject = 3;
  BAD(rkin_regimen_new(&sp, &err) == NULL, 1, "regimen: inject state 3 is "
      "outside the model's 1 states", "spec: inject outside the states");
  sp = spec(m, p, rg, 1);
  sp.infusion_h = 1000;
  BAD(rkin_regimen_new(&sp, &err) == NULL, 1, "regimen: infusion_h must be "
      "in [0, interval_h) (got 1000 h)", "spec: infusion as long as the "
      "interval");
  sp = spec(m, p, rg, 1);
  sp.n_cov = 2;
  BAD(rkin_regimen_new(&sp, &err) == NULL, 1, "regimen: 2 covariates "
      "announced but no values or names", "spec: covariates without values");
  sp = spec(m, pnan, rg, 1);
  BAD(rkin_regimen_new(&sp, &err) == NULL, 1, "regimen: patient 1: "
      "parameter 'k' is not finite", "spec: a NaN parameter");
  sp = spec(bare, p, rg, 1);
  BAD(rkin_regimen_new(&sp, &err) == NULL, 1, "model 'mono' has no "
      "nuclide, so an S value is needed", "spec: no nuclide and no S");
  sp = spec(m, p, rg, 1);
  r = rkin_regimen_new(&sp, &err);
  ok(r != NULL, "spec: the base spec is accepted");
  rkin_regimen_free(r);
}

static void test_rules(rkin_regimen *r)
{
  rkin_regimen_rule u;
  rkin_regimen_limit lim = {0, 1, 23};
  BAD(rg_rule_check(r, NULL, &err), RKIN_EINVAL, "regimen: no rule given",
      "rule: none");
  rkin_regimen_rule_default(&u);
  u.min_cycle_gbq = -1;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: "
      "min_cycle_gbq must be a finite number >= 0 GBq (got -1)",
      "rule: a negative smallest cycle");
  rkin_regimen_rule_default(&u);
  u.activity_gbq = 0;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: activity_gbq "
      "must be a finite number > 0 GBq (got 0)", "empiric: 0 GBq");
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_PP_PRRT;
  u.target_gy = 0;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: target_gy "
      "must be a finite number > 0 Gy (got 0)", "PP-PRRT: target 0 Gy");
  u.target_gy = 2300;
  BAD(rg_rule_check(r, &u, &err), RKIN_ERANGE, "regimen rule: target_gy = "
      "2300 Gy is implausible for an organ limit; is it in cGy or mGy?",
      "PP-PRRT: target in cGy");
  u.target_gy = 23;
  u.region = 4;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: PP-PRRT "
      "region 5, but there are 1 regions", "PP-PRRT: region out of range");
  u.region = 0;
  u.min_gbq = 8;
  u.max_gbq = 6;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: min_gbq 8 > "
      "max_gbq 6", "PP-PRRT: bounds crossed");
  u.min_gbq = 0;
  u.max_gbq = 0;
  u.first_gy_per_gbq = -0.5;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: "
      "first_gy_per_gbq must be >= 0 (got -0.5)", "PP-PRRT: negative "
      "pre-therapy dose per GBq");
  u.first_gy_per_gbq = 0;
  u.activity_gbq = 0;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "activity_gbq (cycle 1 "
      "without a pre-therapy estimate) must be a finite number > 0 GBq",
      "PP-PRRT: no first activity");
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_CUSTOM;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: a custom "
      "rule needs a decide function", "custom: no function");
  rkin_regimen_rule_default(&u);
  u.kind = (rkin_rule_kind)42;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: unknown kind "
      "42", "rule: unknown kind");
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_ILUMINET;
  u.bed_limit_gy = 27;
  u.confidence = 0.95;
  u.max_cycles = 200;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: confidence "
      "0.95 propagates over at most", "ILUMINET: confidence over too many "
      "cycles");
  like(err.msg, "max_cycles is 200", "... and names max_cycles");
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_OPTIMISED;
  u.max_gbq = 10;
  u.min_cycle_gbq = 12;
  u.n_limits = 1;
  u.limits = &lim;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: min_cycle_gbq "
      "12 > max_gbq 10: no cycle could be given", "optimised: smallest cycle "
      "above the largest");
  u.min_cycle_gbq = 1;
  u.objective = 2;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: objective "
      "region 3, but there are 1 regions", "optimised: objective out of "
      "range");
  u.objective = 0;
  lim.region = 1;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: limit region "
      "2, but there are 1 regions", "optimised: limit region out of range");
  lim.region = 0;
  lim.limit_gy = 0;
  BAD(rg_rule_check(r, &u, &err), RKIN_EINVAL, "regimen rule: limit must be "
      "a finite number > 0 Gy (got 0)", "optimised: limit 0 Gy");
  lim.limit_gy = 23;
}

static void test_optimiser(rkin_regimen *r)
{
  rkin_regimen_rule u;
  rkin_regimen_limit lim = {0, 1, 23};
  double act[80], a2[2] = {1, NAN}, dose[1], bed[1];
  size_t k;
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_OPTIMISED;
  u.max_gbq = 10;
  u.n_limits = 1;
  u.limits = &lim;
  BAD(rkin_regimen_optimise(r, 0, NULL, 0, NULL, act, &k, NULL, &err),
      RKIN_EINVAL, "regimen: no rule", "optimise: no rule");
  BAD(rkin_regimen_optimise(r, 3, &u, 0, NULL, act, &k, NULL, &err),
      RKIN_EINVAL, "regimen: patient 4 is out of range (the cohort has 1 "
      "patients)", "optimise: patient out of range");
  u.max_cycles = 65;
  BAD(rkin_regimen_optimise(r, 0, &u, 0, NULL, act, &k, NULL, &err),
      RKIN_EINVAL, "regimen optimiser: at most 64 cycles and 16 limits "
      "(got 65, 1)", "optimise: 65 cycles");
  BAD(rkin_regimen_evaluate(r, 1, 1, a2, dose, bed, &err), RKIN_EINVAL,
      "regimen: patient 2 is out of range (the cohort has 1 patients)",
      "evaluate: patient out of range");
  BAD(rkin_regimen_evaluate(r, 0, 2, a2, dose, bed, &err), RKIN_EINVAL,
      "regimen: activity of cycle 2 is nan GBq", "evaluate: a NaN activity");
}

static void test_run(rkin_regimen *r)
{
  rkin_regimen_rule u;
  rkin_regimen_res res;
  rkin_imaging img = {0};
  const double times[3] = {4, 24, 72};
  int imaged[1] = {0};
  rkin_regimen_rule_default(&u);
  u.kind = RKIN_RULE_PP_PRRT;
  u.target_gy = 23;
  ok(rkin_regimen_res_alloc(&res, 1, u.max_cycles, 1, &err) == 0,
     "run: results allocated");
  img.method = RKIN_IMAGING_FIT;
  img.model = RKIN_IMAGING_PROP;
  img.times_h = times;
  img.n_times = 3;
  img.cv = 0.1;
  img.imaged = imaged;
  BAD(rkin_regimen_run(r, &u, &img, &res, &err), RKIN_EINVAL,
      "regimen: the rule watches region 'kidney', which is not imaged",
      "run: PP-PRRT watching a region not imaged");
  rkin_regimen_res_free(&res);
}

int main(void)
{
  rkin_model *m, *bare;
  rkin_region rg[1];
  const double p[1] = {0.01};
  rkin_regimen_spec sp;
  rkin_regimen *r;
  rkin_init();
  m = mono(0);
  bare = mono(1);
  rg[0] = region("kidney", 0.3);
  test_spec(m, bare);
  sp = spec(m, p, rg, 1);
  r = rkin_regimen_new(&sp, &err);
  if (!r) {
    diag("regimen: %s", err.msg);
    return 1;
  }
  test_rules(r);
  test_optimiser(r);
  test_run(r);
  rkin_regimen_free(r);
  rkin_model_free(m);
  rkin_model_free(bare);
  done_testing();
  return exit_status();
}
