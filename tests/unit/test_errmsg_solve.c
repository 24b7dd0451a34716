/* test_errmsg_solve.c - error messages of the solver front end
 * (engine/solve/solve.c: run requests, forward sensitivities, TIA to
 * infinity) and of steady-state sensitivities (steady.c), provoked one by
 * one on the Theophylline model and their text asserted (issue 22 item
 * 3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dosing.h"
#include "core/init.h"
#include "core/model.h"
#include "solve/solve.h"
#include "../tap.h"
#include "../errmsg.h"
#include "../theoph.h"

static rkin_dosing *dosing(double ss_ii)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r;
  memset(&r, 0, sizeof r);
  r.amount = 320;
  r.evid = 1;
  if (ss_ii > 0) {
    r.ss = 1;
    r.ii = ss_ii;
  }
  rkin_dosing_add(d, &r, NULL);
  return d;
}

int main(void)
{
  static const double times[2] = {1, 2}, dir[3] = {1, 0, 0};
  rkin_model *m;
  rkin_solver *s, *sx;
  rkin_solve_opts o;
  rkin_dosing *d = NULL, *dss = NULL;
  rkin_solve_req rq;
  rkin_solve_res rs;
  rkin_sens_req sq;
  rkin_sens_res sr;
  double p[3] = {1.5, 2.8, 32}, pnan[3] = {1.5, NAN, 32};
  double out[2], y[4], dy[8], dout[2], dy0[2] = {0, NAN};
  double dmt[1] = {NAN}, tia[1], y0[2] = {0, 0};
  int q[1] = {5};
  rkin_init();
  m = theoph_model();
  s = rkin_solver_new(m, NULL, &err);
  rkin_solve_opts_default(&o);
  o.path = RKIN_PATH_EXACT;
  sx = rkin_solver_new(m, &o, &err);
  if (!m || !s || !sx) {
    diag("set-up: %s", err.msg);
    return 1;
  }
  d = dosing(0);
  dss = dosing(12);
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 2;
  rq.params = pnan;
  rq.dosing = d;
  rq.times = times;
  rq.n_times = 2;
  rs.out = out;
  rs.y = y;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_EINVAL,
      "params[1] ('cl') = nan is not finite", "run: a NaN parameter named");
  rq.params = p;
  rq.n_pw = 2;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_EINVAL,
      "n_pw = 2 but pw_t or pw_params is NULL", "run: switches without "
      "times");
  rq.n_pw = 0;
  rq.tia = q;
  rq.n_tia = 1;
  rs.tia = tia;
  BAD(rkin_solver_run(s, &rq, &rs, &err), RKIN_EINVAL,
      "tia[0] = 5 is invalid (expected a state 0..1 or an output 2..2 of "
      "model 'theoph')", "run: a TIA index past the quantities");
  rq.tia = NULL;
  rq.n_tia = 0;

  /* forward sensitivities (rkin_solver_run_sensx) */
  memset(&sq, 0, sizeof sq);
  memset(&sr, 0, sizeof sr);
  sr.dy = dy;
  sr.dout = dout;
  BAD(rkin_solver_run_sensx(NULL, &rq, &sq, &rs, &sr, &err), RKIN_EINVAL,
      "rkin_solver_run_sensx: NULL argument", "sensx: no solver");
  BAD(rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err), RKIN_EINVAL,
      "rkin_solver_run_sensx: n_dir = 0 (expected at least one direction)",
      "sensx: no direction");
  sq.n_dir = 1;
  sq.dir = dir;
  rq.tia = q;
  rq.n_tia = 1;
  q[0] = 0;
  BAD(rkin_solver_run_sensx(sx, &rq, &sq, &rs, &sr, &err), RKIN_EINVAL,
      "rkin_solver_run_sensx: TIA sensitivities need the CVODES path, but "
      "the solver's path is forced EXACT", "sensx: TIA on a forced exact "
      "path");
  rq.tia = NULL;
  rq.n_tia = 0;
  sq.dy0 = dy0;
  BAD(rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err), RKIN_EINVAL,
      "sensitivity dy0[1] = nan is not finite", "sensx: a NaN initial "
      "sensitivity");
  sq.dy0 = NULL;
  sq.damt = dmt;
  BAD(rkin_solver_run_sensx(s, &rq, &sq, &rs, &sr, &err), RKIN_EINVAL,
      "sensitivity of dose record 1 in direction 1 is not finite",
      "sensx: a NaN dose sensitivity");
  sq.damt = NULL;

  /* steady-state sensitivities: both paths */
  rq.dosing = dss;
  {
    rkin_solve_opts oc;
    rkin_solver *sc;
    rkin_solve_opts_default(&oc);
    oc.path = RKIN_PATH_CVODES;
    sc = rkin_solver_new(m, &oc, &err);
    rkin_err_clear(&err);
    /* once refused; the numbers are in test_ss_sens_cv.c */
    ok(sc && rkin_solver_run_sensx(sc, &rq, &sq, &rs, &sr, &err) == 0,
       "sensx: SS = 1 on the CVODES path runs (%s)", err.msg);
    rkin_solver_free(sc);
  }

  /* TIA to infinity */
  q[0] = 9;
  BAD(rkin_solver_tia_inf(sx, NULL, y0, q, 1, tia, &err), RKIN_EINVAL,
      "tia[0] = 9 is invalid (expected 0..", "tia_inf: a quantity past the "
      "states and outputs");

  rkin_dosing_free(d);
  rkin_dosing_free(dss);
  rkin_solver_free(s);
  rkin_solver_free(sx);
  rkin_model_free(m);
  done_testing();
  return exit_status();
}
