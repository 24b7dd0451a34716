/* test_errors.c - error messages a user can reach, provoked one by one and
 * their text asserted: dose rates, G factors, LQ / BED, TCP / NTCP, the
 * sphere model, the solver front end, TAC data and single-time-point
 * methods, virtual cohorts. Each BAD() checks the return code and that the
 * message names the value and says what was expected. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/model.h"
#include "core/expr.h"
#include "core/nuclide.h"
#include "dose/doserate.h"
#include "dose/dosimetry.h"
#include "dose/gfactor.h"
#include "dose/radiobio.h"
#include "dose/sphere.h"
#include "dose/tcp.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "pop/vpop.h"
#include "solve/solve.h"
#include "tac/tac.h"
#include "tare/tare.h"
#include "tare/tare_cohort.h"
#include "../tap.h"
#include "../errmsg.h"

static void test_doserate(void)
{
  rkin_doserate r;
  const double c2[2] = {1, 1}, b2[2] = {0.1, 0.01}, bneg[1] = {-0.1};
  const double cnan[1] = {NAN}, cneg[2] = {1, -2}, b1[1] = {0.1};
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  BAD(rkin_doserate_check(NULL, "kidney", &err), RKIN_EINVAL,
      "kidney: no dose-rate curve given", "doserate: NULL curve");
  BAD(rkin_doserate_set(&r, 1, NULL, b1, "kidney", &err), RKIN_EINVAL,
      "kidney: missing coefficient arrays", "doserate: no arrays");
  BAD(rkin_doserate_set(&r, 0, c2, b2, "kidney", &err), RKIN_EINVAL,
      "kidney: 0 exponential terms, expected 1 to", "doserate: 0 terms");
  BAD(rkin_doserate_set(&r, 1, cnan, b1, "kidney", &err), RKIN_ENONFINITE,
      "kidney: term 1 coefficient c = nan Gy/h is not finite",
      "doserate: NaN coefficient");
  BAD(rkin_doserate_set(&r, 1, c2, bneg, "kidney", &err), RKIN_EINVAL,
      "kidney: term 1 rate b = -0.1 /h does not decay",
      "doserate: a rate that does not decay");
  /* c = 1, -2: R(0) = -1 < 0. */
  BAD(rkin_doserate_set(&r, 2, cneg, b2, "kidney", &err), RKIN_EINVAL,
      "kidney: ", "doserate: a curve negative at t = 0");
  BAD(rkin_doserate_from_tac_s(&r, 0, 1, c2, b1, "liver", &err), RKIN_EINVAL,
      "liver: S value 0 Gy/(MBq h), expected > 0", "doserate: S = 0");
  BAD(rkin_doserate_from_tac_s(&r, 1e-3, 0, c2, b1, "liver", &err),
      RKIN_EINVAL, "liver: 0 activity terms, expected 1 to",
      "doserate: 0 activity terms");
  BAD(rkin_doserate_from_tac(&r, NULL, 1, c2, b1, 0.3, "liver", &err),
      RKIN_EINVAL, "liver: no nuclide given", "doserate: no nuclide");
  BAD(rkin_doserate_from_tac(&r, lu, 1, c2, b1, -1, "liver", &err),
      RKIN_EINVAL, "liver: ", "doserate: negative mass");
}

static int rate_nan(double t, double *r, void *ctx)
{
  (void)ctx;
  *r = t > 1 ? NAN : 1;
  return 0;
}

static void test_gfactor(void)
{
  double g, d;
  const double t3[3] = {0, 1, 2}, r3[3] = {1, 0.5, 0.25};
  const double t1[3] = {1, 2, 3}, rneg[3] = {1, -0.5, 0.25};
  BAD(rkin_gfactor_mono(-0.1, 2, &g, &err), RKIN_EINVAL,
      "G factor: lambda_per_h = -0.1 /h does not decay",
      "G mono: a negative rate");
  BAD(rkin_gfactor_uptake(0.1, 0, 2, &g, &err), RKIN_EINVAL,
      "G factor: uptake lambda_u_per_h = 0 /h does not decay",
      "G uptake: uptake rate 0");
  BAD(rkin_gfactor_quad(NULL, NULL, 2, &g, &d, &err), RKIN_EINVAL,
      "G factor: no rate", "G quad: no rate function");
  BAD(rkin_gfactor_aux(NULL, NULL, 2, 10, 0, &g, &d, &err), RKIN_EINVAL,
      "G factor: no rate", "G aux: no rate function");
  BAD(rkin_gfactor_aux(rate_nan, NULL, 2, 0, 0, &g, &d, &err), RKIN_EINVAL,
      "G factor: t_end_h = 0 h, expected > 0", "G aux: t_end 0");
  BAD(rkin_gfactor_aux(rate_nan, NULL, 2, 10, -1, &g, &d, &err),
      RKIN_EINVAL, "G factor: tail rate -1 /h, expected >= 0 (0: no tail)",
      "G aux: negative tail rate");
  BAD(rkin_gfactor_aux(rate_nan, NULL, 2, 10, 0, &g, &d, &err), RKIN_EINVAL,
      "G factor: dose rate failed or not finite at t = ",
      "G aux: a rate that turns NaN");
  BAD(rkin_gfactor_aux_sampled(1, t3, r3, 2, 0, &g, &d, &err), RKIN_EINVAL,
      "G factor: 1 dose-rate samples, expected >= 2", "G sampled: 1 sample");
  BAD(rkin_gfactor_aux_sampled(3, t1, r3, 2, 0, &g, &d, &err), RKIN_EINVAL,
      "G factor: first sample at t = 1 h, expected 0",
      "G sampled: not starting at 0");
  BAD(rkin_gfactor_aux_sampled(3, t3, rneg, 2, 0, &g, &d, &err), RKIN_EINVAL,
      "G factor: sample 2 dose rate -0.5 Gy/h, expected finite and >= 0",
      "G sampled: a negative rate");
  BAD(rkin_gfactor_from_aux(0, 1, &g, &err), RKIN_EINVAL, "G factor: ",
      "G from aux: dose 0");
}

static void test_radiobio(void)
{
  rkin_lq lq = {3, 2}, bad_ab = {0, 2};
  const double beds[2] = {10, NAN};
  double v;
  int over;
  BAD(rkin_radiobio_check(NULL, "kidney", &err), RKIN_EINVAL,
      "kidney: no LQ parameters", "LQ: NULL");
  BAD(rkin_radiobio_check(&bad_ab, "kidney", &err), RKIN_EINVAL,
      "kidney: ", "LQ: alpha/beta 0");
  BAD(rkin_radiobio_bed(-1, 0.1, &lq, "kidney", &v, &err), RKIN_EINVAL,
      "kidney: absorbed dose -1 Gy, expected finite and >= 0",
      "BED: negative dose");
  BAD(rkin_radiobio_bed(10, 1.5, &lq, "kidney", &v, &err), RKIN_EINVAL,
      "kidney: ", "BED: G above 1");
  BAD(rkin_radiobio_eqd2(NAN, &lq, "kidney", &v, &err), RKIN_EINVAL,
      "kidney: BED nan Gy, expected finite and >= 0", "EQD2: NaN BED");
  BAD(rkin_radiobio_cumulative(2, NULL, "kidney", &v, &err), RKIN_EINVAL,
      "kidney: no cycle BEDs", "cumulative: no array");
  BAD(rkin_radiobio_cumulative(2, beds, "kidney", &v, &err), RKIN_EINVAL,
      "kidney: cycle 2 BED nan Gy, expected finite and >= 0",
      "cumulative: a NaN cycle");
  BAD(rkin_radiobio_budget(-1, 40, 0.1, &lq, "kidney", &v, &over, &err),
      RKIN_EINVAL, "kidney: cumulative BED so far -1 Gy, expected finite "
      "and >= 0", "budget: negative BED so far");
  BAD(rkin_radiobio_activity_for(10, 0, "kidney", &v, &err), RKIN_EINVAL,
      "kidney: dose per activity 0 Gy/MBq, expected > 0",
      "activity_for: 0 Gy/MBq");
  BAD(rkin_radiobio_activity_for(-1, 1e-3, "kidney", &v, &err), RKIN_EINVAL,
      "kidney: dose -1 Gy, expected finite and >= 0",
      "activity_for: negative dose");
}

static void test_tcp(void)
{
  rkin_tcp t = {0.3, 0.05, 10, 1e10, 0.01}, b;
  rkin_lkb k = rkin_lkb_kidney_burman1991;
  const double d2[2] = {10, 20}, v2[2] = {0.5, 0.4}, vneg[2] = {-0.5, 1.5};
  double v;
  BAD(rkin_tcp_poisson(10, 0.1, NULL, &v, &err), RKIN_EINVAL,
      "TCP: no parameters", "TCP: NULL");
  b = t;
  b.alpha_mean = 0;
  BAD(rkin_tcp_poisson(10, 0.1, &b, &v, &err), RKIN_EINVAL,
      "TCP: alpha_mean = 0 /Gy, expected > 0", "TCP: alpha 0");
  b = t;
  b.alpha_sd = -1;
  BAD(rkin_tcp_poisson(10, 0.1, &b, &v, &err), RKIN_EINVAL,
      "TCP: alpha_sd = -1 /Gy, expected >= 0", "TCP: negative spread");
  b = t;
  b.volume_l = 0;
  BAD(rkin_tcp_poisson(10, 0.1, &b, &v, &err), RKIN_EINVAL,
      "TCP: volume_l = 0 L, expected > 0", "TCP: volume 0");
  BAD(rkin_tcp_poisson(-5, 0.1, &t, &v, &err), RKIN_EINVAL,
      "TCP: dose -5 Gy, expected finite and >= 0", "TCP: negative dose");
  BAD(rkin_tcp_poisson(10, 2, &t, &v, &err), RKIN_EINVAL,
      "TCP: G = 2, expected 0..1", "TCP: G 2");
  BAD(rkin_ntcp_lkb(10, NULL, &v, &err), RKIN_EINVAL, "NTCP: no parameters",
      "NTCP: NULL");
  BAD(rkin_ntcp_lkb(-1, &k, &v, &err), RKIN_EINVAL,
      "NTCP (LKB): EQD2 -1 Gy, expected finite and >= 0",
      "NTCP: negative EQD2");
  BAD(rkin_ntcp_lkb_dvh(0, d2, v2, &k, &v, &err), RKIN_EINVAL,
      "NTCP (LKB): empty DVH", "NTCP DVH: empty");
  BAD(rkin_ntcp_lkb_dvh(2, d2, vneg, &k, &v, &err), RKIN_EINVAL,
      "NTCP (LKB): DVH bin 1 (dose 10 Gy, volume fraction -0.5)",
      "NTCP DVH: a negative fraction");
  BAD(rkin_ntcp_lkb_dvh(2, d2, v2, &k, &v, &err), RKIN_EINVAL,
      "NTCP (LKB): DVH volume fractions sum to 0.9, expected 1",
      "NTCP DVH: fractions summing to 0.9");
}

static void test_sphere(void)
{
  rkin_sphere s;
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  const rkin_nuclide *tc = rkin_nuclide_find("Tc-99m", NULL);
  BAD(rkin_sphere_eval(NULL, 0.01, 1, &s, &err), RKIN_EINVAL,
      "sphere: no nuclide", "sphere: NULL nuclide");
  if (tc)
    BAD(rkin_sphere_eval(tc, 0.01, 1, &s, &err), RKIN_ENOTFOUND,
        "sphere: no absorbed-fraction model for Tc-99m (supported: ",
        "sphere: a nuclide without a model");
  else
    skip(2, "no Tc-99m in the nuclide table");
  BAD(rkin_sphere_eval(lu, 0.01, 5, &s, &err), RKIN_ERANGE,
      "sphere (Lu-177): density 5 kg/L outside the model's soft-tissue "
      "range", "sphere: density 5 kg/L");
  BAD(rkin_sphere_eval(lu, 1e-9, 1, &s, &err), RKIN_ERANGE,
      "sphere (Lu-177): mass 1e-09 kg outside the model's validity range",
      "sphere: a 1 ug sphere");
}

static void test_solver(void)
{
  static const char *states[] = {"A"}, *params[] = {"k"}, *outs[] = {"r"};
  static const double values[] = {0.1};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0), d, o;
  rkin_model_spec sp = {0};
  rkin_model *m;
  rkin_solve_opts op;
  rkin_solver *s;
  rkin_solve_req rq;
  rkin_solve_res rs;
  double y0[1] = {1}, times[2] = {1, NAN}, out[2], tia[1], dir[1] = {1};
  double dy[2];
  int q[1] = {0}, qbad[1] = {5};
  d = rkin_expr_unary(g, RKIN_OP_NEG,
                      rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                                       a));
  /* Output r = sqrt(A - 0.5): NaN once A < 0.5 (t > 6.93 h). */
  o = rkin_expr_unary(g, RKIN_OP_SQRT,
                      rkin_expr_binary(g, RKIN_OP_SUB, a,
                                       rkin_expr_const(g, 0.5)));
  sp.name = "decay1";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  sp.n_outputs = 1;
  sp.outputs = outs;
  sp.output_expr = &o;
  m = rkin_model_new(&sp, g, &err);
  if (!m) {
    ok(0, "solver test model (%s)", err.msg);
    return;
  }
  rkin_solve_opts_default(&op);
  op.rtol = 2;
  BAD(rkin_solver_new(m, &op, &err) == NULL, 1,
      "solver option rtol = 2 is invalid (expected 0 < rtol < 1)",
      "solver: rtol 2");
  rkin_solve_opts_default(&op);
  op.atol = -1;
  BAD(rkin_solver_new(m, &op, &err) == NULL, 1,
      "solver option atol = -1 is invalid", "solver: atol -1");
  rkin_solve_opts_default(&op);
  op.max_steps = 0;
  BAD(rkin_solver_new(m, &op, &err) == NULL, 1,
      "solver option max_steps = 0 is invalid (expected > 0)",
      "solver: max_steps 0");
  rkin_solve_opts_default(&op);
  op.path = (rkin_path)9;
  BAD(rkin_solver_new(m, &op, &err) == NULL, 1,
      "solver option path = 9 is invalid", "solver: path 9");
  BAD(rkin_solver_new(NULL, NULL, &err) == NULL, 1,
      "rkin_solver_new: model is NULL", "solver: no model");

  rkin_solve_opts_default(&op);
  op.path = RKIN_PATH_EXACT;
  s = rkin_solver_new(m, &op, &err);
  if (!s) {
    ok(0, "exact solver (%s)", err.msg);
    rkin_model_free(m);
    return;
  }
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t0 = 0;
  rq.t1 = -1;
  rq.y0 = y0;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_EINVAL,
      "integration interval [t0, t1] = [0, -1] h is invalid",
      "run: t1 < t0");
  rq.t1 = 10;
  rq.n_times = 2;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_EINVAL,
      "n_times = 2 but times is NULL", "run: times NULL");
  rq.times = times;
  rs.y = out;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_EINVAL,
      "output times[1] is NaN", "run: a NaN output time");
  rq.n_times = 0;
  rq.n_tia = 1;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_EINVAL,
      "n_tia = 1 but tia is NULL", "run: tia NULL");
  rq.tia = q;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_EINVAL,
      "n_tia = 1 but res->tia is NULL (nowhere to put the integrals)",
      "run: nowhere for the TIA");
  rs.tia = tia;
  rq.tia = qbad;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_EINVAL,
      "tia[0] = 5 is invalid (expected a state 0..0 or an output "
      "1..1 of model 'decay1')", "run: TIA index 5");
  BAD(rkin_solver_run(NULL, &rq, &rs, &err), RKIN_EINVAL,
      "rkin_solver_run: NULL argument", "run: NULL solver");
  BAD(rkin_solver_tia_inf(NULL, NULL, y0, q, 1, tia, &err), RKIN_EINVAL,
      "rkin_solver_tia_inf: NULL argument", "tia_inf: NULL solver");
  BAD(rkin_solver_run_sens(NULL, &rq, dir, 1, &rs, dy, NULL, &err),
      RKIN_EINVAL, "rkin_solver_run_sens: NULL argument",
      "run_sens: NULL solver");
  rq.n_tia = 1;
  rq.tia = q;
  BAD(rkin_solver_run_sens(s, &rq, dir, 1, &rs, dy, NULL, &err),
      RKIN_EINVAL, "rkin_solver_run_sens: n_dir = 1, n_tia = 1 (expected "
      "n_dir > 0 and no TIA)", "run_sens: with a TIA");
  rkin_solver_free(s);

  /* The CVODES path: no TIA to infinity; an output
   * that is NaN after t = ln 2 / 0.1 = 6.93 h is reported. */
  op.path = RKIN_PATH_CVODES;
  s = rkin_solver_new(m, &op, &err);
  if (s) {
    BAD(rkin_solver_tia_inf(s, NULL, y0, q, 1, tia, &err) != 0, 1,
        "rkin_solver_tia_inf: the TIA to infinity needs the exact path",
        "tia_inf on CVODES");
    memset(&rq, 0, sizeof rq);
    rq.t1 = 10;
    rq.y0 = y0;
    /* forward sensitivities on the CVODES path (issue 15): they run */
    is_int(rkin_solver_run_sens(s, &rq, dir, 1, &rs, dy, NULL, &err), 0,
           "run_sens on CVODES runs");
    times[0] = 2;
    times[1] = 8;
    rq.times = times;
    rq.n_times = 2;
    memset(&rs, 0, sizeof rs);
    rs.out = out;
    BAD(rkin_solver_run(s, &rq, &rs, &err) != 0, 1,
        "model 'decay1': output 'r' is not finite at t = ",
        "run: an output NaN at an output time");
    rkin_solver_free(s);
  }
  rkin_model_free(m);
}

static void test_tac_data(void)
{
  const double t3[3] = {1, 24, 72}, tback[3] = {1, 72, 24};
  const double tnan[3] = {1, NAN, 72}, a3[3] = {100, 50, 10};
  const double anan[3] = {100, NAN, 10}, aneg[3] = {100, -5, 10};
  const double a0[3] = {0, 0, 0}, amid[3] = {100, 0, 10};
  const double sd0[3] = {1, 0, 1};
  rkin_tac_data d = {3, t3, a3, NULL, "Lu-177"};
  rkin_tac_opts o;
  rkin_tac_result r;
  rkin_tac_stp st;
  rkin_tac_prior pr;
  rkin_tac_cand c;
  rkin_tac_opts_default(&o);
  d.t = tnan;
  BAD(rkin_tac_fit(&d, &o, &r, &err), RKIN_EINVAL,
      "TAC data: time of point 2 is nan: expected a finite number of hours",
      "TAC: NaN time");
  d.t = tback;
  BAD(rkin_tac_fit(&d, &o, &r, &err), RKIN_EINVAL,
      "TAC data: times not increasing: point 3 at 24 h follows 72 h",
      "TAC: decreasing times");
  d.t = t3;
  d.a = anan;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC data: activity of point 2 (t = 24 h) is nan: expected a finite "
      "number of MBq", "TAC: NaN activity");
  d.a = aneg;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC data: activity of point 2 (t = 24 h) is negative (-5 MBq)",
      "TAC: negative activity");
  d.a = a0;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC data: all 3 activities are 0 MBq: expected at least one > 0",
      "TAC: all zero");
  d.a = amid;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC data: activity of point 2 (t = 24 h) is 0 MBq but a later point "
      "is > 0", "TAC: a zero before a positive point");
  d.a = a3;
  d.sd = sd0;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC data: sd of point 2 (t = 24 h) is 0 MBq: expected a finite "
      "number > 0", "TAC: sd 0");
  d.sd = NULL;
  d.n = 0;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC data: no time points: expected at least 1 (time, activity) pair",
      "TAC: no points");
  d.n = RKIN_TAC_MAX_POINTS + 1;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1, "time points: at most",
      "TAC: too many points");
  d.n = 3;
  d.nuclide = NULL;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC data: nuclide not given: expected a name such as \"Lu-177\"",
      "TAC: no nuclide");
  d.nuclide = "Lu-177";
  BAD(rkin_tac_fit_one(&d, &o, (rkin_tac_model)42, &c, &err), RKIN_EINVAL,
      "TAC fit: model 42 unknown", "TAC fit_one: model 42");
  o.models = 1u << 20;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC fit: model mask 0x100000 has unknown bits", "TAC: mask bit 20");
  rkin_tac_opts_default(&o);
  o.cv = -0.1;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC fit: cv = -0.1: expected a known proportional error > 0, or 0 "
      "to estimate it", "TAC: negative cv");
  rkin_tac_opts_default(&o);
  o.boot = -1;
  BAD(rkin_tac_fit(&d, &o, &r, &err) != 0, 1,
      "TAC fit: boot = -1: expected >= 0 refits", "TAC: negative boot");

  BAD(rkin_tac_stp_haenscheid(0, 50, 0, 0.95, &st, &err) != 0, 1,
      "time t = 0 h: expected a finite time > 0", "STP: t = 0");
  BAD(rkin_tac_stp_haenscheid(24, -1, 0, 0.95, &st, &err) != 0, 1,
      "activity A(t) = -1 MBq: expected a finite activity > 0",
      "STP: negative activity");
  BAD(rkin_tac_stp_haenscheid(24, 50, -1, 0.95, &st, &err) != 0, 1,
      "sd = -1 MBq: expected >= 0 (0 = unknown)", "STP: negative sd");
  BAD(rkin_tac_stp_haenscheid(24, 50, 1, 1.5, &st, &err) != 0, 1,
      "level = 1.5: expected 0 < level < 1", "STP: level 1.5");
  BAD(rkin_tac_stp_poplambda(24, 50, 0, 0, 0, 0.95, &st, &err) != 0, 1,
      "population-half-life STP: effective rate l = 0 /h: expected > 0",
      "STP poplambda: l = 0");
  BAD(rkin_tac_stp_poplambda(24, 50, 0, 0.01, -1, 0.95, &st, &err) != 0, 1,
      "population-half-life STP: l_sd = -1 /h: expected >= 0",
      "STP poplambda: negative l_sd");

  memset(&pr, 0, sizeof pr);
  pr.model = RKIN_TAC_MONO;
  pr.typ[0] = 100;
  pr.typ[1] = 0.02;
  pr.omega[0] = 0.3;
  pr.omega[1] = 0.3;
  pr.cv = 0.1;
  pr.model = RKIN_TAC_TRAP;
  BAD(rkin_tac_map(&d, &pr, 0.95, &c, &err) != 0, 1,
      "TAC MAP: prior model must be mono, bi, upwash or tri",
      "MAP: trapezoid prior");
  pr.model = RKIN_TAC_MONO;
  pr.omega[1] = -0.3;
  BAD(rkin_tac_map(&d, &pr, 0.95, &c, &err) != 0, 1,
      "expected a finite SD >= 0 of the log-normal variability",
      "MAP: negative omega");
  pr.omega[1] = 0.3;
  pr.cv = 0;
  BAD(rkin_tac_map(&d, &pr, 0.95, &c, &err) != 0, 1,
      "TAC MAP: residual cv = 0: expected > 0 when the data carry no sd",
      "MAP: cv 0 without sd");
  pr.cv = 0.1;
  BAD(rkin_tac_map(&d, &pr, 2, &c, &err) != 0, 1,
      "TAC MAP: level = 2: expected 0 < level < 1", "MAP: level 2");
}

static void test_cohort(void)
{
  static const char *states[] = {"A"}, *params[] = {"k"};
  static const double values[] = {0.1};
  rkin_graph *g = rkin_graph_new();
  rkin_node d = rkin_expr_unary(
    g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                                     rkin_expr_state(g, 0)));
  rkin_model_spec sp = {0};
  rkin_model *m;
  rkin_cohort_spec cs;
  rkin_cohort_res cr;
  double p[2] = {0.1, 0.2}, tia[4], scale[2] = {1, -1}, cv = NAN, th = 0.1;
  int st[2], q[1] = {0};
  sp.name = "one";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  m = rkin_model_new(&sp, g, &err);
  if (!m) {
    ok(0, "cohort model (%s)", err.msg);
    return;
  }
  BAD(rkin_vpop_sample(m, &th, &cv, 1, 2, p, &err), RKIN_EINVAL,
      "cohort: cv of parameter 'k' must be a finite number >= 0 (got nan)",
      "vpop: NaN cv");
  memset(&cs, 0, sizeof cs);
  memset(&cr, 0, sizeof cr);
  cr.tia = tia;
  cr.status = st;
  BAD(rkin_cohort_run(&cs, &cr, &err), RKIN_EINVAL,
      "cohort: a model, parameters, at least one patient and one cycle are "
      "required", "cohort: empty spec");
  cs.model = m;
  rkin_solve_opts_default(&cs.opts);
  cs.n_patients = 2;
  cs.params = p;
  cs.n_cycles = 2;
  cs.cycle_h = -5;
  cs.tia = q;
  cs.n_tia = 1;
  cs.threads = 1;
  BAD(rkin_cohort_run(&cs, &cr, &err), RKIN_EINVAL,
      "cohort: cycle length must be a finite number > 0 h (got -5)",
      "cohort: negative cycle length");
  cs.cycle_h = 100;
  cs.cycle_scale = scale;
  BAD(rkin_cohort_run(&cs, &cr, &err), RKIN_EINVAL,
      "cohort: activity factor of cycle 2 must be a finite number >= 0 "
      "(got -1)", "cohort: negative activity factor");
  rkin_model_free(m);
}

/* ------------------------------------------------ model specifications */

/* A spec of dA/dt = -k A with output A, broken in way `what`; returns
 * rkin_model_new's result code (the model, if any, is freed). */
static int broken_model(int what)
{
  static const char *st[] = {"A"}, *st_empty[] = {""};
  static const char *pa2[] = {"k", "k"}, *pa[] = {"k"}, *ou[] = {"out"};
  static const double v2[] = {0.1, 0.2}, v1[] = {0.1};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0);
  rkin_node d = rkin_expr_unary(
    g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                                     a));
  rkin_node o = a;
  rkin_model_spec sp = {0};
  rkin_model *m;
  sp.name = "m";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = pa;
  sp.values = v1;
  sp.n_outputs = 1;
  sp.outputs = ou;
  sp.output_expr = &o;
  switch (what) {
  case 0: sp.states = NULL; break;
  case 1: sp.states = st_empty; break;
  case 2: sp.n_params = 2; sp.params = pa2; sp.values = v2; break;
  case 3: d = 999; break;
  case 4: rkin_graph_free(g); g = NULL; break;
  case 5: sp.name = ""; break;
  case 6: sp.n_states = 0; break;
  case 7: sp.deriv = NULL; break;
  case 8: sp.values = NULL; break;
  case 9: sp.output_expr = NULL; break;
  default: break;
  }
  m = rkin_model_new(&sp, g, &err);
  rkin_model_free(m);
  return m ? 0 : err.code ? err.code : -1;
}

static void test_model_spec(void)
{
  static const struct {
    const char *part, *what;
  } cs[] = {
    {"model 'm': 1 states but no name array", "no state names"},
    {"model 'm': state 1 has an empty name; expected a non-empty name",
     "an empty state name"},
    {"model 'm': duplicate parameter name 'k' (parameter 1 and 2); names "
     "must be unique", "a duplicate parameter name"},
    {"is not a valid expression (node 999, graph has", "a derivative node "
     "outside the graph"},
    {"model 'm': expression graph is NULL", "no graph"},
    {"model name is empty; expected a non-empty name", "an empty model "
     "name"},
    {"model 'm' has no states; expected at least one", "no states"},
    {"model 'm': no derivative array", "no derivatives"},
    {"model 'm': 1 parameters but no values", "no parameter values"},
    {"model 'm': 1 outputs but no expressions", "no output expressions"},
  };
  const rkin_node bad_out[1] = {42};
  rkin_graph *g = rkin_graph_new();
  rkin_node one = rkin_expr_const(g, 1);
  size_t k;
  for (k = 0; k < sizeof cs / sizeof cs[0]; k++) {
    rkin_err_clear(&err);
    ok(broken_model((int)k) == RKIN_EINVAL, "model spec rejected: %s",
       cs[k].what);
    like(err.msg, cs[k].part, "... message: %s", cs[k].part);
  }
  ok(broken_model(-1) == 0, "the unbroken spec builds");

  rkin_err_clear(&err);
  ok(rkin_tape_compile(NULL, &one, 1, &err) == NULL, "tape: NULL graph");
  like(err.msg, "tape: expression graph is NULL", "... message says so");
  ok(rkin_tape_compile(g, NULL, 2, &err) == NULL, "tape: no outputs array");
  like(err.msg, "tape: 2 outputs but no node array", "... message says so");
  ok(rkin_tape_compile(g, bad_out, 1, &err) == NULL,
     "tape: an output node outside the graph");
  like(err.msg, "is node 42, not a node of the graph", "... message names "
       "the node");
  rkin_graph_free(g);
}

static void test_model_linear(void)
{
  static const char *st[] = {"A"}, *pa[] = {"k"}, *ou[] = {"sq"};
  static const double v[] = {0.1};
  rkin_graph *g = rkin_graph_new();
  rkin_node a = rkin_expr_state(g, 0), d, o;
  rkin_model_spec sp = {0};
  rkin_model *m;
  double A[1], C[1];
  d = rkin_expr_unary(g, RKIN_OP_NEG, rkin_expr_binary(
        g, RKIN_OP_MUL, rkin_expr_param(g, 0),
        rkin_expr_binary(g, RKIN_OP_MUL, a, a)));
  o = rkin_expr_binary(g, RKIN_OP_MUL, a, a);
  sp.name = "quad";
  sp.n_states = 1;
  sp.states = st;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = pa;
  sp.values = v;
  sp.n_outputs = 1;
  sp.outputs = ou;
  sp.output_expr = &o;
  m = rkin_model_new(&sp, g, &err);
  if (!m) {
    ok(0, "nonlinear model built (%s)", err.msg);
    return;
  }
  BAD(rkin_model_linear_matrix(m, NULL, A, &err), RKIN_ENOTLINEAR,
      "model 'quad' is not linear in its states: ",
      "linear matrix of dA/dt = -k A^2");
  BAD(rkin_model_output_matrix(m, NULL, C, &err), RKIN_ENOTLINEAR,
      "model 'quad': outputs are not linear in the states: ",
      "output matrix of A^2");
  BAD(rkin_model_explain(m, 3, 0, &err), RKIN_EINVAL,
      "model 'quad': state index 3 out of range 0..0",
      "explain: state index 3");
  BAD(rkin_model_explain(m, 0, 2.5, &err), RKIN_ENONFINITE,
      "model 'quad', state 'A': d/dt = ", "explain: state A at 2.5 h");
  rkin_model_free(m);
}

/* ------------------------------------------------ population models */

static int pe_psi(const double *th, const double *eta, const double *cov,
                  double *psi, void *ud, rkin_err *e)
{
  (void)cov;
  (void)ud;
  (void)e;
  psi[0] = th[0] * exp(eta[0]);
  return 0;
}

static int pe_pred(const rkin_data_subject *s, const double *psi, double *f,
                   void *ud, rkin_err *e)
{
  size_t k;
  (void)ud;
  (void)e;
  for (k = 0; k < s->n_obs; k++) f[k] = psi[0] * exp(-0.1 * s->time[k]);
  return 0;
}

static void test_popmodel(void)
{
  static const char csv[] = "ID,TIME,DV\n1,1,9\n1,4,7\n2,1,11\n2,4,6.5\n";
  static const char hdr[] = "ID,TIME,DV\n";
  double th[1] = {10}, om[1] = {0.1}, om2[4] = {0.1, 0.01, 0.01, 0.1};
  double sg[2] = {0.5, 0.1}, ofv;
  rkin_data *d = rkin_data_parse(csv, strlen(csv), "pe.csv", NULL, &err);
  rkin_data *d0 = rkin_data_parse(hdr, strlen(hdr), "empty.csv", NULL, NULL);
  rkin_popmodel pm, b;
  rkin_popfit_opts o;
  rkin_popfit f;
  if (!d) {
    ok(0, "population data parsed (%s)", err.msg);
    return;
  }
  memset(&pm, 0, sizeof pm);
  pm.predict = pe_pred;
  pm.n_psi = 1;
  pm.n_theta = 1;
  pm.theta_init = th;
  pm.n_eta = 1;
  pm.omega_init = om;
  pm.indiv = pe_psi;
  pm.res = RKIN_RES_ADD;
  pm.sigma_init = sg;
  rkin_popfit_opts_default(&o);
  o.threads = 1;
  ok(rkin_popest_ofv(&pm, d, &o, th, om, sg, &ofv, NULL, NULL, &err) == 0,
     "the base population model evaluates");
  BAD(rkin_popest_ofv(NULL, d, &o, th, om, sg, &ofv, NULL, NULL, &err) != 0,
      1, "population model: NULL", "popmodel: NULL");
  b = pm;
  b.predict = NULL;
  BAD(rkin_popest_ofv(&b, d, &o, th, om, sg, &ofv, NULL, NULL, &err) != 0,
      1, "population model: give either a model (solved by rkin_solver) or "
      "a predictor callback", "popmodel: neither model nor predictor");
  b = pm;
  b.n_psi = 0;
  BAD(rkin_popest_ofv(&b, d, &o, th, om, sg, &ofv, NULL, NULL, &err) != 0,
      1, "population model: n_psi must be > 0 with a predictor callback",
      "popmodel: n_psi 0");
  b = pm;
  b.indiv = NULL;
  BAD(rkin_popest_ofv(&b, d, &o, th, om, sg, &ofv, NULL, NULL, &err) != 0,
      1, "population model: give either an individual-parameter callback "
      "or expressions", "popmodel: no parameter builder");
  b = pm;
  b.n_eta = 0;
  BAD(rkin_popest_ofv(&b, d, &o, th, om, sg, &ofv, NULL, NULL, &err) != 0,
      1, "population model: n_eta = 0 (expected 1 to",
      "popmodel: no random effect");
  b = pm;
  b.sigma_init = NULL;
  BAD(rkin_popest_ofv(&b, d, &o, th, om, sg, &ofv, NULL, NULL, &err) != 0,
      1, "population model: theta_init, omega_init and sigma_init are "
      "required", "popmodel: no sigma_init");
  b = pm;
  b.log_scale = 1;
  b.res = RKIN_RES_PROP;
  BAD(rkin_popest_ofv(&b, d, &o, th, om, sg, &ofv, NULL, NULL, &err) != 0,
      1, "population model: on the log scale only the additive error model "
      "is supported", "popmodel: log scale with proportional error");
  BAD(rkin_popest_ofv(&pm, NULL, &o, th, om, sg, &ofv, NULL, NULL, &err)
      != 0, 1, "population fit: NULL dataset", "popfit: no dataset");
  if (d0)
    BAD(rkin_popest_ofv(&pm, d0, &o, th, om, sg, &ofv, NULL, NULL, &err)
        != 0, 1, "population fit: no subjects", "popfit: no subjects");
  else
    skip(2, "a header-only dataset is rejected by the parser");
  b = pm;
  b.n_eta = 2;
  b.omega_init = om2;
  b.omega_diag = 1;
  BAD(rkin_popfit_run(&b, d, &o, &f, &err) != 0, 1,
      "population model: omega is diagonal but omega(", "popmodel: a "
      "diagonal omega with off-diagonal entries");
  rkin_popfit_free(&f);
  BAD(rkin_popfit_run(&pm, d, &o, NULL, &err) != 0, 1,
      "rkin_popfit_run: NULL result", "popfit: no result");
  rkin_data_free(d);
  rkin_data_free(d0);
}

/* ------------------------------------------------------------------ TARE */

static void test_tare(void)
{
  const rkin_nuclide *y90 = rkin_nuclide_find("Y-90", NULL);
  const rkin_tare_product *sir = rkin_tare_product_find("SIR-Spheres", NULL);
  rkin_tare_product bad;
  rkin_tare_cf_conv cv;
  rkin_tare_bsa_formula bf;
  rkin_tare_bsa_result br;
  rkin_tare_plan plan;
  rkin_tare_territory t;
  rkin_tare_lesion les[1] = {{0.1, 4}};
  rkin_tare_result *res = calloc(1, sizeof *res);
  double v;
  if (!y90 || !sir || !res) {
    ok(0, "Y-90, SIR-Spheres and a result");
    free(res);
    return;
  }
  BAD(rkin_tare_single_dose(-1, 1000, 0.1, 1.5, &v, &err), RKIN_EINVAL,
      "tare: cf = -1 must be a finite dose conversion factor > 0 Gy kg/GBq",
      "TARE single: negative CF");
  BAD(rkin_tare_single_dose(49.67, 1000, -0.1, 1.5, &v, &err) != 0, 1,
      "tare: lsf = -0.1 must be in [0, 1) (lung shunt fraction, not "
      "percent)", "TARE single: negative LSF");
  BAD(rkin_tare_single_dose(49.67, 1000, 5, 1.5, &v, &err) != 0, 1,
      "tare: lsf = 5 must be < 1: a lung shunt fraction of 1 or more means "
      "no activity reaches the liver (a percentage? 5 % is 0.05)",
      "TARE single: LSF given in percent");
  BAD(rkin_tare_single_dose(49.67, -5, 0.1, 1.5, &v, &err), RKIN_EINVAL,
      "tare: activity_mbq = -5 must be >= 0 MBq",
      "TARE single: negative activity");
  BAD(rkin_tare_single_activity(49.67, 0, 0.1, 1.5, &v, &err), RKIN_EINVAL,
      "tare: dose_gy = 0 must be > 0 Gy", "TARE single activity: dose 0");
  BAD(rkin_tare_volume_to_mass("liver volume_L", 1.5, 7, &v, &err) != 0,
      1, "tare: density = 7 kg/L for liver volume_L outside "
      "0.5-2 kg/L", "TARE volume: density 7");
  BAD(rkin_tare_size_check("liver", "mL", 9000, 0, &err) != 0, 1,
      "liver = 9000 is implausible for a liver region in millilitres (over",
      "TARE size: 9000 mL liver");
  BAD(rkin_tare_size_check("liver", "kg", 1500, 0, &err) != 0, 1,
      "liver = 1500 is implausible for a liver region in kg (grams? 1500 g "
      "= 1.5 kg)", "TARE size: grams given as kg");
  BAD(rkin_tare_decay_back(NULL, 1000, 2, &v, &err), RKIN_EINVAL,
      "tare: no nuclide given", "TARE decay: no nuclide");
  BAD(rkin_tare_decay_back(y90, -1, 2, &v, &err), RKIN_EINVAL,
      "tare: activity_mbq = -1 must be >= 0 MBq", "TARE decay: negative "
      "activity");
  BAD(rkin_tare_decay_back(y90, 1000, 2000, &v, &err) != 0, 1,
      "tare: decay_h = 2000 h exceeds 20 half-lives of Y-90",
      "TARE decay: 2000 h");
  BAD(rkin_tare_cf(NULL, RKIN_TARE_CF_DERIVED, &v, &err), RKIN_EINVAL,
      "tare cf: no nuclide given", "TARE cf: no nuclide");
  BAD(rkin_tare_cf(y90, (rkin_tare_cf_conv)9, &v, &err), RKIN_EINVAL,
      "tare cf: convention 9 unknown", "TARE cf: convention 9");
  BAD(rkin_tare_cf_conv_parse("mird", &cv, &err) != 0, 1,
      "tare cf: convention 'mird' unknown (expected 'derived', 'clinical' "
      "or 'rounded')", "TARE cf: convention 'mird'");
  BAD(rkin_tare_product_find(NULL, &err) == NULL, 1,
      "tare: no product name given", "TARE product: no name");
  BAD(rkin_tare_product_check(NULL, &err), RKIN_EINVAL,
      "tare: no product given", "TARE product: NULL");
  bad = *sir;
  bad.lung_gy = -30;
  BAD(rkin_tare_product_check(&bad, &err), RKIN_EINVAL,
      "tare product 'SIR-Spheres': lung_gy = -30 must be > 0 Gy",
      "TARE product: negative lung limit");
  BAD(rkin_tare_bsa(RKIN_TARE_BSA_MOSTELLER, 170, 500, &v, &err) != 0, 1,
      "tare bsa: weight_kg = 500 outside 10-350 kg", "BSA: 500 kg");
  BAD(rkin_tare_bsa(RKIN_TARE_BSA_MOSTELLER, 1.7, 70, &v, &err) != 0, 1,
      "tare bsa: height_cm = 1.7 outside 50-250 cm (height in metres?)",
      "BSA: height in metres");
  BAD(rkin_tare_bsa((rkin_tare_bsa_formula)5, 170, 70, &v, &err) != 0, 1,
      "tare bsa: formula 5 unknown", "BSA: formula 5");
  BAD(rkin_tare_bsa_formula_parse("haycock", &bf, &err) != 0, 1,
      "tare bsa: formula 'haycock' unknown (expected 'mosteller' or "
      "'dubois')", "BSA: formula 'haycock'");
  BAD(rkin_tare_bsa_activity(5, 0.1, 1.5, &br, &err) != 0, 1,
      "tare bsa method: bsa_m2 = 5 outside (0.2, 4] m^2",
      "BSA method: 5 m^2");
  BAD(rkin_tare_bsa_activity(1.8, -0.1, 1.5, &br, &err) != 0, 1,
      "tare bsa method: tumour volume_L = -0.1 must be >= 0",
      "BSA method: negative tumour volume");
  BAD(rkin_tare_bsa_activity(1.8, 0.1, 0, &br, &err) != 0, 1,
      "tare bsa method: normal liver volume_L = 0 must be > 0",
      "BSA method: normal liver volume 0");

  /* Plans: a valid one, then one field broken at a time. */
  if (rkin_tare_plan_init(&plan, sir, RKIN_TARE_CF_CLINICAL, &err)) {
    ok(0, "plan init (%s)", err.msg);
    free(res);
    return;
  }
  memset(&t, 0, sizeof t);
  t.name = "right lobe";
  t.mass_kg = 1.2;
  t.lsf = 0.05;
  t.lesions = les;
  t.n_lesions = 1;
  t.mode = RKIN_TARE_MODE_TUMOUR;
  t.target_gy = 120;
  plan.territories = &t;
  plan.n_territories = 1;
  ok(rkin_tare_plan_run(&plan, res, &err) == 0, "the base TARE plan runs");
  BAD(rkin_tare_plan_run(NULL, res, &err), RKIN_EINVAL,
      "tare: plan or result missing", "plan: NULL");
  plan.n_territories = 0;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "tare: plan has no territory", "plan: no territory");
  plan.n_territories = RKIN_TARE_MAX_TERR + 1;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "territories, at most", "plan: too many territories");
  plan.n_territories = 1;
  plan.liver_mass_kg = -1;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "tare: liver_mass_kg = -1 must be > 0 kg (0: not given)",
      "plan: negative liver mass");
  plan.liver_mass_kg = 1.0;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "tare: liver_mass_kg = 1 is smaller than the perfused territories "
      "together (1.2 kg)", "plan: liver smaller than its territory");
  plan.liver_mass_kg = 0;
  plan.residual_fraction = 1;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "tare: residual_fraction = 1 must be in [0, 1) (fraction left in vial "
      "and catheter)", "plan: residual fraction 1");
  plan.residual_fraction = 0;
  plan.nuclide = NULL;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "tare: plan has no nuclide", "plan: no nuclide");
  plan.nuclide = y90;
  t.n_lesions = RKIN_TARE_MAX_LESIONS + 1;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "lesions, at most", "territory: too many lesions");
  t.n_lesions = 1;
  t.lesions = NULL;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1, "lesions missing",
      "territory: lesions missing");
  t.lesions = les;
  les[0].tn = 0;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "tn = 0 must be > 0 (tumour-to-normal uptake ratio)",
      "lesion: T/N 0");
  les[0].tn = 4;
  les[0].mass_kg = 2;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "tumour mass 2 kg (1 lesion) is larger than the territory mass_kg = "
      "1.2", "territory: tumour heavier than the territory");
  les[0].mass_kg = 0.1;
  t.n_lesions = 0;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "mode 'tumour' needs at least one lesion",
      "territory: tumour mode without lesions");
  t.n_lesions = 1;
  t.ref = RKIN_TARE_REF_LESION;
  t.ref_index = 3;
  /* The message counts lesions from 1, as the Lua API (ref = 4). */
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "tare: territory 'right lobe': ref_index = 4 but only 1 lesion",
      "territory: ref_index 3 (the 4th lesion)");
  t.ref = (rkin_tare_ref)7;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1, "ref 7 unknown",
      "territory: ref 7");
  t.ref = RKIN_TARE_REF_MEAN;
  t.target_gy = 0;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "target_gy = 0 must be > 0 Gy", "territory: target 0");
  t.target_gy = 120;
  t.mode = RKIN_TARE_MODE_ACTIVITY;
  t.activity_mbq = -3;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1,
      "activity_mbq = -3 must be >= 0 MBq", "territory: negative activity");
  t.mode = (rkin_tare_mode)9;
  BAD(rkin_tare_plan_run(&plan, res, &err) != 0, 1, "mode 9 unknown",
      "territory: mode 9");
  free(res);
}

/* ------------------------------------------------ virtual populations */

static void test_pop_spec(void)
{
  static const char *states[] = {"A"}, *params[] = {"k"};
  static const double values[] = {0.1};
  static const char *cn[1] = {"W"};
  rkin_graph *g = rkin_graph_new();
  rkin_node d = rkin_expr_unary(
    g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                                     rkin_expr_state(g, 0)));
  rkin_model_spec sp = {0};
  rkin_model *m;
  rkin_pop_spec ps;
  rkin_covdist cd;
  rkin_effect ef;
  double om[1] = {0.09}, th[1] = {0};
  sp.name = "one";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  m = rkin_model_new(&sp, g, &err);
  if (!m) {
    ok(0, "population model (%s)", err.msg);
    return;
  }
  memset(&ps, 0, sizeof ps);
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL,
      "population: a model is required", "pop spec: no model");
  ps.model = m;
  ps.n_cov = 1;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL,
      "population: covariate names are required", "pop spec: no names");
  ps.cov_names = cn;
  cd.name = "W";
  cd.dist = RKIN_DIST_NORMAL;
  cd.mean = 70;
  cd.sd = 10;
  cd.lo = 100;
  cd.hi = 40;
  ps.cov = &cd;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL,
      "population: covariate 'W': bounds [100, 40] are not an interval",
      "pop spec: bounds reversed");
  cd.lo = -INFINITY;
  cd.hi = INFINITY;
  cd.sd = -1;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL,
      "population: covariate 'W': a normal distribution needs a finite mean "
      "and sd >= 0 (got 70, -1)", "pop spec: normal with sd -1");
  cd.dist = RKIN_DIST_LOGNORMAL;
  cd.mean = -70;
  cd.sd = 10;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL,
      "population: covariate 'W': a lognormal distribution needs mean > 0 "
      "and sd >= 0 (got -70, 10)", "pop spec: lognormal with mean -70");
  cd.dist = RKIN_DIST_UNIFORM;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL,
      "population: covariate 'W': a uniform distribution needs finite min "
      "< max (got [-inf, inf])", "pop spec: unbounded uniform");
  cd.dist = (rkin_dist)7;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL,
      "population: covariate 'W': unknown distribution 7",
      "pop spec: distribution 7");
  cd.dist = RKIN_DIST_NORMAL;
  cd.mean = 70;
  ef.param = 0;
  ef.cov = 0;
  ef.kind = RKIN_EFFECT_POWER;
  ef.ref = 0;
  ef.beta = 0.75;
  ps.n_effects = 1;
  ps.effects = &ef;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL,
      "population: effect of 'W' on 'k': ref 0 and beta 0.75 must be finite "
      "(ref > 0 for a power effect)", "pop spec: power effect with ref 0");
  ps.n_effects = 0;
  ps.omega = om;
  ps.theta = th;
  BAD(rkin_pop_check(&ps, &err), RKIN_EINVAL,
      "population: parameter 'k' has log-normal variability, so its typical "
      "value must be > 0 (got 0)", "pop spec: typical value 0 with omega");
  th[0] = 0.1;
  ok(rkin_pop_check(&ps, &err) == 0, "the repaired spec passes");
  rkin_model_free(m);
}

/* ------------------------------------------------------------ S tables */

static void test_stable(void)
{
  static const char *r2[2] = {"liver", "kidney"}, *e2[2] = {"liver", ""};
  const double s4[4] = {1e-5, 2e-7, 2e-7, 3e-5};
  const double tia[1] = {-5};
  const char *src[1] = {"liver"};
  rkin_stable *t = NULL;
  double v;
  size_t i;
  BAD(rkin_stable_new(0, r2, 0, r2, s4, 0, &t, &err), RKIN_EINVAL,
      "S table: no rows", "S table: 0 rows");
  BAD(rkin_stable_new(2, NULL, 2, r2, s4, 4, &t, &err), RKIN_EINVAL,
      "S table: no row names given", "S table: no row names");
  BAD(rkin_stable_new(2, e2, 2, r2, s4, 4, &t, &err), RKIN_EINVAL,
      "S table: row 2 has an empty region name", "S table: empty name");
  if (rkin_stable_new(2, r2, 2, r2, s4, 4, &t, &err)) {
    ok(0, "S table (%s)", err.msg);
    return;
  }
  BAD(rkin_stable_index(t, NULL, &i, &err), RKIN_EINVAL,
      "S table: no table or region", "S table: NULL region");
  BAD(rkin_stable_dose(t, 1, NULL, tia, "kidney", &v, &err), RKIN_EINVAL,
      "S table: no sources given", "S table dose: no source array");
  BAD(rkin_stable_dose(t, 1, src, tia, "kidney", &v, &err), RKIN_EINVAL,
      "S table: source 'liver' tia_MBqh = -5, expected a finite value >= 0",
      "S table dose: negative TIA");
  rkin_stable_free(t);
}

/* ------------------------------------------------------- TARE cohorts */

static void test_tare_cohort(void)
{
  const rkin_tare_product *sir = rkin_tare_product_find("SIR-Spheres", NULL);
  rkin_tare_cohort *c = rkin_tare_cohort_new();
  rkin_tare_lesion les[1] = {{0.1, 4}};
  rkin_tare_territory t;
  rkin_tare_plan plan;
  if (!c || !sir || rkin_tare_plan_init(&plan, sir, RKIN_TARE_CF_CLINICAL,
                                        &err)) {
    ok(0, "cohort set-up");
    rkin_tare_cohort_free(c);
    return;
  }
  memset(&t, 0, sizeof t);
  t.mass_kg = 1.2;
  t.lesions = les;
  t.n_lesions = 1;
  t.mode = RKIN_TARE_MODE_NORMAL;
  t.target_gy = 40;
  plan.territories = &t;
  plan.n_territories = 1;
  BAD(rkin_tare_cohort_add(NULL, "P1", 2, &plan, &err), RKIN_EINVAL,
      "tare cohort: cohort or plan missing", "cohort add: no cohort");
  plan.territories = NULL;
  BAD(rkin_tare_cohort_add(c, "P1", 2, &plan, &err), RKIN_ERANGE,
      "tare cohort: 1 territories, 1 to", "cohort add: no territory array");
  plan.territories = &t;
  t.n_lesions = RKIN_TARE_MAX_LESIONS + 1;
  BAD(rkin_tare_cohort_add(c, "P1", 2, &plan, &err), RKIN_ERANGE,
      "lesions, at most", "cohort add: too many lesions");
  t.n_lesions = 1;
  ok(rkin_tare_cohort_add(c, "P1", 2, &plan, &err) == 0
     && rkin_tare_cohort_size(c) == 1, "a valid plan is added");
  rkin_tare_cohort_free(c);
}

int main(void)
{
  rkin_init();
  test_doserate();
  test_gfactor();
  test_radiobio();
  test_tcp();
  test_sphere();
  test_solver();
  test_tac_data();
  test_cohort();
  test_model_spec();
  test_model_linear();
  test_popmodel();
  test_tare();
  test_pop_spec();
  test_stable();
  test_tare_cohort();
  done_testing();
  return exit_status();
}
