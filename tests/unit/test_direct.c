/* test_direct.c - public functions that no other unit test names, called
 * directly with their results checked against values worked out here:
 * local-deposition S, error prefixes, model accessors, the exact path's
 * output matrix and its parameter derivative, TAC data checks and
 * parameter counts, TARE convention names, limits checks, the product
 * table, cohorts of plans, S-table look-up, folding at y = 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/expr.h"
#include "core/init.h"
#include "core/model.h"
#include "core/nuclide.h"
#include "dose/dosimetry.h"
#include "solve/exact_path.h"
#include "tac/tac.h"
#include "tare/tare.h"
#include "tare/tare_cohort.h"
#include "../tap.h"

#define MEV_J 1.602176634e-13   /* CODATA 2018, exact */

static void test_s_led(void)
{
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  double s = 0, d = 0;
  rkin_err err;
  /* S = E_np [MeV] x 3.6e9 decays per MBq h x 1.602176634e-13 J/MeV / m:
   * written here in seconds, not through nuclide.c. */
  ok(rkin_dosimetry_s_led(lu, 0.3, "kidney", &s, &err) == 0,
     "S under local deposition, Lu-177 in 0.3 kg");
  is_double(s, lu->e_np_mev * 1e6 * 3600 * MEV_J / 0.3, 1e-12,
            "S = E_np x 1e6 Bq x 3600 s x J/MeV / m (1e-12)");
  rkin_dosimetry_led(lu, 1000, 0.3, "kidney", &d, &err);
  is_double(d, 1000 * s, 1e-14, "dose = TIA x S_led");
  is_int(rkin_dosimetry_s_led(lu, 0, "kidney", &s, &err), RKIN_EINVAL,
         "mass 0 refused");
  like(err.msg, "kidney", "... message names the region");
}

static void test_err_prefix(void)
{
  rkin_err err;
  rkin_err_set(&err, RKIN_ERANGE, "value %d too large", 7);
  is_int(rkin_err_prefix(&err, "%s:%d: ", "cohort.csv", 12), RKIN_ERANGE,
         "rkin_err_prefix returns the error's code");
  ok(strcmp(err.msg, "cohort.csv:12: value 7 too large") == 0,
     "... and puts the context in front of the message ('%s')", err.msg);
  is_int(err.code, RKIN_ERANGE, "... the code is kept");
}

/* dA1/dt = -k1 A1, dA2/dt = k1 A1 - k2 A2; output flux = k1 A1. */
static rkin_model *flux_model(void)
{
  static const char *st[] = {"A1", "A2"}, *pa[] = {"k1", "k2"};
  static const char *ou[] = {"flux"};
  static const double v[] = {0.3, 0.05};
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  rkin_graph *g = rkin_graph_new();
  rkin_node a1 = rkin_expr_state(g, 0), a2 = rkin_expr_state(g, 1);
  rkin_node k1 = rkin_expr_param(g, 0), k2 = rkin_expr_param(g, 1);
  rkin_node f = rkin_expr_binary(g, RKIN_OP_MUL, k1, a1), d[2];
  rkin_model_spec sp = {0};
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, f);
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, f,
                          rkin_expr_binary(g, RKIN_OP_MUL, k2, a2));
  sp.name = "flux2";
  sp.nuclide = lu;
  sp.n_states = 2;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 2;
  sp.params = pa;
  sp.values = v;
  sp.n_outputs = 1;
  sp.outputs = ou;
  sp.output_expr = &f;
  return rkin_model_new(&sp, g, NULL);
}

static void test_model_access(void)
{
  rkin_model *m = flux_model();
  rkin_expath *e;
  rkin_err err;
  const double p[2] = {0.3, 0.05}, dir[2] = {1, 0};
  const double *C, *dC;
  const rkin_graph *g;
  if (!m) {
    ok(0, "flux model built");
    return;
  }
  ok(strcmp(rkin_model_name(m), "flux2") == 0, "model name");
  is_int((long)rkin_model_noutputs(m), 1, "one output");
  ok(strcmp(rkin_model_output_name(m, 0), "flux") == 0
     && strcmp(rkin_model_param_name(m, 1), "k2") == 0,
     "output and parameter names by index");
  ok(rkin_model_nuclide(m) == rkin_nuclide_find("Lu-177", NULL),
     "the model's nuclide is the table entry");
  g = rkin_model_graph(m);
  ok(g && rkin_expr_op(g, rkin_model_output_node(m, 0)) == RKIN_OP_MUL
     && rkin_expr_op(g, rkin_model_deriv_node(m, 0)) == RKIN_OP_NEG,
     "graph nodes: output k1*A1 is a product, dA1/dt a negation (the "
     "biological derivative, decay not included)");

  e = rkin_expath_new(m, &err);
  if (!e) {
    ok(0, "exact path (%s)", err.msg);
    rkin_model_free(m);
    return;
  }
  rkin_expath_begin(e, p, NULL, 0, &err);
  C = rkin_expath_output_matrix(e);
  ok(C && C[0] == 0.3 && C[1] == 0, "output matrix C = [k1, 0]");
  ok(rkin_expath_begin_sens(e, p, dir, 1, &err) == 0,
     "sensitivities along k1");
  dC = rkin_expath_doutput(e);
  ok(dC && dC[0] == 1 && dC[1] == 0, "dC/dk1 = [1, 0]");
  rkin_expath_free(e);
  rkin_model_free(m);
}

static void test_zero_states(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0);
  rkin_node n = rkin_expr_binary(
    g, RKIN_OP_ADD,
    rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0), a),
    rkin_expr_const(g, 2));
  rkin_node z = rkin_expr_zero_states(g, n), z2;
  double v = NAN;
  ok(z >= 0 && rkin_expr_is_const(g, z, &v) && v == 2,
     "k A + 2 at A = 0 folds to the constant 2");
  z2 = rkin_expr_zero_states(g, rkin_expr_unary(g, RKIN_OP_LOG, a));
  is_int(z2, RKIN_ENONFINITE, "log A at A = 0: RKIN_ENONFINITE");
  rkin_graph_free(g);
}

static void test_tac_direct(void)
{
  const double t[2] = {24, 72}, a[2] = {50, 20};
  rkin_tac_data d = {2, t, a, NULL, "Lu-177"};
  double lp = 0;
  rkin_err err;
  ok(rkin_tac_check(&d, &lp, &err) == 0, "TAC data check passes");
  /* Lu-177 half-life 6.647 d (ICRP 107, the nuclide table's source). */
  is_double(lp, log(2.0) / (6.647 * 24), 1e-12,
            "lambda_phys = ln 2 / (6.647 d x 24 h/d)");
  d.nuclide = "Lu-999";
  ok(rkin_tac_check(&d, &lp, &err) != 0, "unknown nuclide refused");
  like(err.msg, "TAC data: ", "... message prefixed 'TAC data: '");
  like(err.msg, "Lu-999", "... and names it");
  ok(rkin_tac_model_npar(RKIN_TAC_MONO) == 2
     && rkin_tac_model_npar(RKIN_TAC_BI) == 4
     && rkin_tac_model_npar(RKIN_TAC_UPWASH) == 3
     && rkin_tac_model_npar(RKIN_TAC_TRI) == 5,
     "parameters: mono 2, bi 4, upwash 3, tri 5");
  is_int(rkin_tac_model_npar((rkin_tac_model)99), 0,
         "an unknown model has 0 parameters");
}

static void test_tare_direct(void)
{
  static const char *names[3] = {"derived", "clinical", "rounded"};
  rkin_tare_cf_conv c;
  rkin_tare_product p;
  rkin_err err;
  size_t i;
  int all = 1;
  for (i = 0; i < 3; i++)
    all &= strcmp(rkin_tare_cf_conv_name((rkin_tare_cf_conv)i), names[i])
           == 0 && rkin_tare_cf_conv_parse(names[i], &c, &err) == 0
           && c == (rkin_tare_cf_conv)i;
  ok(all, "convention names round-trip through parse");

  all = rkin_tare_product_count() >= 1;
  for (i = 0; i < rkin_tare_product_count(); i++)
    all &= rkin_tare_product_find(rkin_tare_product_at(i)->name, NULL)
           == rkin_tare_product_at(i);
  ok(all, "every table entry is found by its own name");

  p = *rkin_tare_product_at(0);
  p.nuclide = "Xx-1";
  is_int(rkin_tare_limits_check(&p, &err), RKIN_OK,
         "limits check ignores the nuclide");
  ok(rkin_tare_product_check(&p, &err) != 0, "product check does not");
  like(err.msg, "Xx-1", "... and names the unknown nuclide");
  p = *rkin_tare_product_at(0);
  p.tumour_hi_gy = p.tumour_lo_gy / 2;
  ok(rkin_tare_limits_check(&p, &err) != 0, "limits check: tumour_hi below "
     "tumour_lo refused");
  like(err.msg, "is below tumour_lo_gy", "... message says so");
}

static void test_tare_cohort_direct(void)
{
  const rkin_tare_product *sir = rkin_tare_product_find("SIR-Spheres", NULL);
  rkin_tare_lesion les[1] = {{0.1, 4}};
  rkin_tare_territory t, back[RKIN_TARE_MAX_TERR];
  rkin_tare_plan plan, got;
  rkin_tare_result *r1 = calloc(1, sizeof *r1), *r2 = calloc(1, sizeof *r2);
  rkin_tare_cohort *c = rkin_tare_cohort_new();
  rkin_err err;
  if (!sir || !r1 || !r2 || !c
      || rkin_tare_plan_init(&plan, sir, RKIN_TARE_CF_CLINICAL, &err)) {
    ok(0, "cohort set-up");
    free(r1);
    free(r2);
    rkin_tare_cohort_free(c);
    return;
  }
  memset(&t, 0, sizeof t);
  t.name = "right";
  t.mass_kg = 1.2;
  t.lsf = 0.05;
  t.lesions = les;
  t.n_lesions = 1;
  t.mode = RKIN_TARE_MODE_TUMOUR;
  t.target_gy = 120;
  plan.territories = &t;
  plan.n_territories = 1;
  ok(rkin_tare_cohort_add(c, "P7", 3, &plan, &err) == 0, "plan added");
  les[0].tn = 99;       /* the cohort holds a copy */
  ok(rkin_tare_cohort_get(c, 0, &got, back, &err) == 0
     && got.n_territories == 1 && got.territories[0].mass_kg == 1.2
     && got.territories[0].lesions[0].tn == 4
     && strcmp(got.territories[0].name, "right") == 0
     && got.cf == plan.cf,
     "plan read back: a copy, not the caller's arrays");
  les[0].tn = 4;
  ok(rkin_tare_plan_run(&plan, r1, &err) == 0
     && rkin_tare_cohort_plan(c, 0, r2, &err) == 0
     && r1->terr[0].activity_mbq == r2->terr[0].activity_mbq,
     "the cohort's run equals the plan's own run");
  ok(rkin_tare_cohort_get(c, 5, &got, back, &err) != 0,
     "patient 6 of 1 refused");
  like(err.msg, "no patient", "... message says so");
  free(r1);
  free(r2);
  rkin_tare_cohort_free(c);
}

static void test_stable_index(void)
{
  static const char *r[2] = {"liver", "kidney"};
  const double s[4] = {1e-5, 2e-7, 2e-7, 3e-5};
  rkin_stable *t = NULL;
  rkin_err err;
  size_t i = 99;
  if (rkin_stable_new(2, r, 2, r, s, 4, &t, &err)) {
    ok(0, "S table (%s)", err.msg);
    return;
  }
  ok(rkin_stable_index(t, "kidney", &i, &err) == 0 && i == 1,
     "kidney is region 1");
  is_int(rkin_stable_index(t, "spleen", &i, &err), RKIN_ENOTFOUND,
         "spleen is not in the table");
  like(err.msg, "liver", "... message lists the known regions");
  rkin_stable_free(t);
}

int main(void)
{
  rkin_init();
  test_s_led();
  test_err_prefix();
  test_model_access();
  test_zero_states();
  test_tac_direct();
  test_tare_direct();
  test_tare_cohort_direct();
  test_stable_index();
  done_testing();
  return exit_status();
}
