/* test_errmsg_engine.c - error messages of the engine's core and dose
 * modules (dosing records, the CSV file reader, nuclides, radiobiology,
 * dose rates, S values, G factors, organs, TCP / NTCP) provoked one by one
 * and their text asserted (issue 22 item 3). Each BAD() checks the return
 * code and that the message names the value and what was expected. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/dosing.h"
#include "core/expr.h"
#include "core/init.h"
#include "core/nuclide.h"
#include "dose/doserate.h"
#include "dose/dosimetry.h"
#include "dose/gfactor.h"
#include "dose/organ.h"
#include "dose/radiobio.h"
#include "dose/tcp.h"
#include "tac/imaging.h"
#include "tac/tac.h"
#include "../tap.h"
#include "../errmsg.h"

static rkin_dose dose0(void)
{
  rkin_dose d = {0};
  d.amount = 100;
  d.evid = 1;
  return d;
}

static int add(rkin_dose d)
{
  rkin_dosing *s = rkin_dosing_new();
  int rc = rkin_dosing_add(s, &d, &err);
  rkin_dosing_free(s);
  return rc;
}

static void test_dosing(void)
{
  rkin_dose d;
  rkin_dosing *s;
  BAD(rkin_dosing_add(NULL, NULL, &err), RKIN_EINVAL,
      "rkin_dosing_add: NULL argument", "dosing: NULL");
  d = dose0();
  d.time = -1;
  BAD(add(d), RKIN_EINVAL, "dose record 1: time = -1 is invalid (expected a "
      "finite number >= 0)", "dosing: negative time");
  d = dose0();
  d.rate = -3;
  BAD(add(d), RKIN_EINVAL, "dose record 1: rate = -3 is invalid (expected 0 "
      "bolus, > 0 infusion rate, -1 rate or -2 duration from the model)",
      "dosing: rate -3");
  d = dose0();
  d.cmt = -1;
  BAD(add(d), RKIN_EINVAL, "dose record 1: cmt = -1 is invalid (expected a "
      "state index >= 0)", "dosing: negative cmt");
  d = dose0();
  d.addl = -2;
  BAD(add(d), RKIN_EINVAL, "dose record 1: addl = -2 is invalid (expected 0 "
      "to", "dosing: negative addl");
  d = dose0();
  d.addl = 3;
  BAD(add(d), RKIN_EINVAL, "dose record 1: addl = 3 needs ii > 0 (the "
      "interval between repeats), got ii = 0", "dosing: addl without ii");
  d = dose0();
  d.evid = 7;
  BAD(add(d), RKIN_EINVAL, "dose record 1: evid = 7 is invalid (expected 1 "
      "dose, 2 other event, 3 reset, 4 reset and dose)", "dosing: evid 7");
  d = dose0();
  d.ss = 3;
  d.ii = 24;
  BAD(add(d), RKIN_EINVAL, "dose record 1: ss = 3 is invalid (expected 0, 1 "
      "or 2)", "dosing: ss 3");
  d = dose0();
  d.ss = 1;
  d.ii = NAN;
  BAD(add(d), RKIN_EINVAL, "dose record 1: ii = nan is invalid",
      "dosing: ss with ii NaN");
  d = dose0();
  d.ss = 1;
  d.ii = 24;
  d.amount = 0;
  BAD(add(d), RKIN_EINVAL, "dose record 1: ss = 1 with ii = 24 needs an "
      "amount > 0", "dosing: ss without an amount");
  s = rkin_dosing_new();
  d = dose0();
  d.cmt = 4;
  ok(rkin_dosing_add(s, &d, &err) == 0, "dosing: cmt 4 is added");
  BAD(rkin_dosing_check(s, 2, &err), RKIN_EINVAL, "dose record 1: cmt = 4 "
      "is not a state of the model (expected 0 to 1)", "dosing: cmt past the "
      "model's states");
  rkin_dosing_free(s);
}

static void test_csv(void)
{
  char *text;
  size_t len;
  char path[] = "/tmp/rkin_errmsg_XXXXXX";
  int fd;
  rkin_csv_opts o = {0};
  o.sep = '"';
  BAD(rkin_csv_open("a\n", 2, "t.csv", &o, &err) == NULL, 1, "t.csv: the "
      "field separator cannot be a quote or a line break",
      "csv: a quote as separator");
  BAD(rkin_csv_slurp(NULL, &text, &len, &err), RKIN_EINVAL, "csv: no file "
      "name", "csv: no path");
  BAD(rkin_csv_slurp("/nonexistent/t.csv", &text, &len, &err), RKIN_EIO,
      "/nonexistent/t.csv: cannot open the table: No such file or "
      "directory",
      "csv: a missing file");
  BAD(rkin_csv_slurp("/tmp", &text, &len, &err), RKIN_EINVAL, "/tmp: not a "
      "regular file (a table is read from a file)", "csv: a directory");
  fd = mkstemp(path);
  if (fd >= 0) {
    rkin_csv *r;
    rkin_csv_record rec;
    const char bin[] = "a,b\n1,\0002\n";
    if (write(fd, bin, sizeof bin - 1) != (ssize_t)(sizeof bin - 1))
      diag("short write");
    close(fd);
    ok(rkin_csv_slurp(path, &text, &len, &err) == 0, "csv: a file is read");
    r = rkin_csv_open(text, len, "bin.csv", NULL, &err);
    rkin_err_clear(&err);
    while (r && rkin_csv_next(r, &rec, &err) > 0) {}
    like(err.msg, "bin.csv:2:3: NUL byte (not a text CSV file)",
         "csv: a NUL byte is refused with line and column");
    rkin_csv_close(r);
    free(text);
    unlink(path);
  }
}

static void test_dose(void)
{
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  rkin_lq lq = {2.6, 2.8}, bad_ab = {0, 2.8}, bad_t = {2.6, -1};
  rkin_tcp tp = {0.35, 0.1, 10, 0, 0.01};
  rkin_lkb lk = {28, 0.1, 0.7, NULL};
  rkin_doserate r;
  const double c1[1] = {1}, b1[1] = {0.1}, bed[2] = {10, -1};
  double x, y, z;
  int over;
  BAD(rkin_nuclide_find(NULL, &err) == NULL, 1, "nuclide: no name given",
      "nuclide: no name");
  BAD(rkin_radiobio_check(&bad_ab, "kidney", &err), RKIN_EINVAL,
      "kidney: alpha/beta = 0 Gy, expected > 0", "LQ: alpha/beta 0");
  BAD(rkin_radiobio_check(&bad_t, "kidney", &err), RKIN_EINVAL,
      "kidney: repair half-time trep_h = -1 h, expected > 0",
      "LQ: negative repair half-time");
  BAD(rkin_radiobio_eqd2(-5, &lq, "kidney", &x, &err), RKIN_EINVAL,
      "kidney: BED -5 Gy, expected finite and >= 0", "EQD2 of a negative BED");
  BAD(rkin_radiobio_cumulative(2, bed, "kidney", &x, &err), RKIN_EINVAL,
      "kidney: cycle 2 BED -1 Gy, expected finite and >= 0",
      "cumulative BED with a negative cycle");
  BAD(rkin_radiobio_budget(10, 0, 0.5, &lq, "kidney", &x, &over, &err),
      RKIN_EINVAL, "kidney: BED limit 0 Gy, expected > 0", "budget: limit 0");
  BAD(rkin_radiobio_activity_for(10, 0, "kidney", &x, &err), RKIN_EINVAL,
      "kidney: dose per activity 0 Gy/MBq, expected > 0",
      "activity for: 0 Gy/MBq");
  BAD(rkin_radiobio_activity_for(-1, 1e-3, "kidney", &x, &err), RKIN_EINVAL,
      "kidney: dose -1 Gy, expected finite and >= 0",
      "activity for: negative dose");
  BAD(rkin_doserate_from_tac(&r, lu, 1, c1, b1, -1, "liver", &err),
      RKIN_EINVAL, "liver: mass_kg = -1, expected > 0",
      "dose rate from a TAC: negative mass");
  BAD(rkin_doserate_from_tac(&r, NULL, 1, c1, b1, 1, "liver", &err),
      RKIN_EINVAL, "liver: no nuclide given", "dose rate: no nuclide");
  BAD(rkin_dosimetry_s_led(NULL, 0.3, "kidney", &x, &err), RKIN_EINVAL,
      "kidney: no nuclide given", "S (LED): no nuclide");
  BAD(rkin_dosimetry_s_led(lu, 0, "kidney", &x, &err), RKIN_EINVAL,
      "kidney: mass_kg = 0, expected > 0", "S (LED): mass 0");
  BAD(rkin_dosimetry_led(lu, -1, 0.3, "kidney", &x, &err), RKIN_EINVAL,
      "kidney: tia_MBqh = -1, expected a finite value >= 0",
      "LED: negative TIA");
  BAD(rkin_dosimetry_scale_self(-1, 0, 0.3, 0.2, "kidney", &x, &err),
      RKIN_EINVAL, "kidney: S values (electron -1, photon 0 Gy/(MBq h)) "
      "must be finite and >= 0", "S scaling: negative S");
  BAD(rkin_gfactor_mono(0.01, 0, &x, &err), RKIN_EINVAL, "G factor: repair "
      "half-time trep_h = 0 h, expected > 0", "G: repair half-time 0");
  BAD(rkin_gfactor_from_aux(0, 1, &x, &err), RKIN_EINVAL, "G factor: "
      "auxiliary dose D = 0 Gy, expected > 0", "G from aux: dose 0");
  BAD(rkin_organ_classify(NULL, &err) == NULL, 1, "organ class: no region "
      "name given", "organ class: no name");
  BAD(rkin_organ_check(NULL, &err), RKIN_EINVAL, "no organ given",
      "organ check: none");
  BAD(rkin_tcp_poisson(60, 0.9, NULL, &x, &err), RKIN_EINVAL,
      "TCP: no parameters", "TCP: none");
  BAD(rkin_tcp_poisson(60, 0.9, &tp, &x, &err), RKIN_EINVAL,
      "TCP: clonogens_per_l = 0, expected > 0", "TCP: no clonogens");
  lk.td50_gy = 0;
  BAD(rkin_ntcp_lkb(20, &lk, &x, &err), RKIN_EINVAL, "NTCP (LKB): TD50 = 0 "
      "Gy, expected > 0", "NTCP: TD50 0");
  lk.td50_gy = 28;
  lk.n = 0;
  BAD(rkin_ntcp_lkb(20, &lk, &x, &err), RKIN_EINVAL, "NTCP (LKB): n = 0, "
      "expected > 0", "NTCP: n 0");
  (void)y;
  (void)z;
}

static void test_tac(void)
{
  const double t[3] = {-1, 24, 72}, a[3] = {30, 20, 8}, tt[1] = {-2};
  const double t2[3] = {1, 24, 72};
  rkin_tac_data d = {0};
  rkin_tac_cand c;
  rkin_tac_prior pr;
  rkin_tac_stp st;
  double lp, lo[1], hi[1];
  d.n = 3;
  d.t = t;
  d.a = a;
  d.nuclide = "Lu-177";
  BAD(rkin_tac_check(&d, &lp, &err), RKIN_EINVAL, "TAC data: time of point "
      "1 is negative (-1 h): expected hours after administration, >= 0",
      "TAC: a negative time");
  d.t = t2;
  BAD(rkin_tac_fit_one(&d, NULL, (rkin_tac_model)99, &c, &err), RKIN_EINVAL,
      "TAC fit: model 99 unknown", "TAC: unknown model");
  BAD(rkin_tac_stp_haenscheid(24, 20, 0, 1.5, &st, &err), RKIN_EINVAL,
      "level = 1.5: expected 0 < level < 1", "STP: level 1.5");
  ok(rkin_tac_fit_one(&d, NULL, RKIN_TAC_MONO, &c, &err) == 0 && c.has_cov,
     "TAC: a mono fit with a covariance");
  BAD(rkin_tac_band(&c, 1.2, t2, 1, lo, hi, &err), RKIN_EINVAL,
      "confidence band: level = 1.2, expected 0 < level < 1",
      "band: level 1.2");
  BAD(rkin_tac_band(&c, 0.95, tt, 1, lo, hi, &err), RKIN_EINVAL,
      "confidence band: t[1] = -2 h, expected a time >= 0",
      "band: a negative time");
  memset(&pr, 0, sizeof pr);
  pr.model = RKIN_TAC_MONO;
  pr.typ[0] = 30;
  pr.typ[1] = 0;
  pr.omega[0] = pr.omega[1] = 0.3;
  pr.cv = 0.1;
  BAD(rkin_tac_map(&d, &pr, 0.95, &c, &err), RKIN_EINVAL, "TAC MAP: typical "
      "l = 0: expected an effective rate above physical decay",
      "MAP: a rate below physical decay");
}

/* The graph records its first error; each case on a fresh graph. */
static void graph_bad(int which, const char *part, const char *what)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node x = rkin_expr_state(g, 0), c;
  switch (which) {
  case 0: rkin_expr_const(g, INFINITY); break;
  case 1: rkin_expr_state(g, -2); break;
  case 2: rkin_expr_unary(g, RKIN_OP_EXP, rkin_expr_const(g, 1000)); break;
  case 3: rkin_expr_binary(g, RKIN_OP_DIV, rkin_expr_const(g, 1),
                           rkin_expr_const(g, 0)); break;
  case 4: rkin_expr_ifelse(g, x, x, x); break;
  case 6: rkin_expr_binary(g, RKIN_OP_AND, x, x); break;
  case 5:
    c = rkin_expr_binary(g, RKIN_OP_GT, x, rkin_expr_const(g, 1));
    rkin_expr_diff(g, c, x);
    break;
  }
  rkin_err_clear(&err);
  ok(rkin_graph_error(g, &err) != 0, "graph: %s", what);
  like(err.msg, part, "... message: %s", part);
  rkin_graph_free(g);
}

static void test_expr(void)
{
  BAD(rkin_graph_error(NULL, &err), RKIN_EINVAL, "expression graph is NULL",
      "graph: NULL");
  graph_bad(0, "constant inf is not finite; expected a finite number",
            "an infinite constant");
  graph_bad(1, "state index -2 is negative; expected >= 0",
            "a negative state index");
  graph_bad(2, "constant expression exp(1000) gives inf; expected a finite "
            "number", "exp of a large constant");
  graph_bad(3, "constant expression div(1, 0) gives inf; expected a finite "
            "number", "a constant division by 0");
  graph_bad(4, "the condition of ifelse is a number (state), not a "
            "condition; expected a comparison", "ifelse on a number");
  graph_bad(6, "operand of and is a number, not a condition; expected a "
            "comparison (lt, le, gt, ge) or and/or/not of comparisons",
            "and of numbers");
  graph_bad(5, "cannot differentiate a condition (", "the derivative of a "
            "condition");
}

static void test_imaging(void)
{
  const double times[3] = {4, 24, 72};
  rkin_imaging img;
  memset(&img, 0, sizeof img);
  img.method = RKIN_IMAGING_FIT;
  img.n_times = 3;
  img.times_h = times;
  img.cv = 0.1;
  img.model = (rkin_imaging_model)7;
  BAD(rkin_imaging_check(&img, 1000, &err), RKIN_EINVAL, "imaging: unknown "
      "error model 7", "imaging: an unknown error model");
}

int main(void)
{
  rkin_init();
  test_dosing();
  test_csv();
  test_dose();
  test_tac();
  test_expr();
  test_imaging();
  done_testing();
  return exit_status();
}
