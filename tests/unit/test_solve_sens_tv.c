/* test_solve_sens_tv.c - forward sensitivities with time-varying
 * parameters (a covariate that changes mid-course, occasions with their
 * own etas: req->n_pw / pw_dir, rec_params / rec_dir) on both paths, and
 * of dose modifiers (F, ALAG, D) that change between occasions.
 *
 * Model: depot G and central X, G' = -ka G, X' = ka G - k X - vmax X /
 * (km + X) (vmax = 0 and no km: linear), outputs C = X / V and E = X /
 * (10 V + X) (linear model: X / (10 V)); F (the parameter squared) and ALAG of G, D of X (RATE -2
 * infusions). Doses: 100
 * into G at 0, 50 into X at 12 h over D, 80 into G at 24 h and again at
 * 36 h (ADDL 1). Parameters switch at 6 h (a covariate: k, V, D), 20 h (the
 * second occasion: ka, F, ALAG, D) and 30 h (k again); the doses take the
 * parameters of their own time (rec_params). Directions: every parameter
 * on the log scale in every piece (d / d log p_l), an occasion eta for
 * each occasion (moving ka, F, ALAG and D of its own pieces only), and
 * a covariate-scaled eta on k (its derivative the piece's k).
 *
 * Checks: the linear model's sensitivities on the exact path against
 * central differences of its solutions (1e-6 relative), the CVODES
 * path's against the exact path's (1e-6 relative); the Michaelis-Menten
 * model's CVODES sensitivities against central differences of CVODES
 * solutions (1e-5 relative), NONMEM's switch convention (NOCB) and LOCF;
 * the directions at a switch and the dose records' own directions each
 * matter; a solver reused after a run with rec_params takes this run's
 * dose modifiers. The relative errors have a floor of 1e-3 of the
 * largest sensitivity of the state or output (sensitivities cross zero,
 * and are zero where a parameter does not act; the directions, on the
 * log scale, are comparable). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dosing.h"
#include "core/init.h"
#include "core/model.h"
#include "solve/solve.h"
#include "../depot.h"
#include "../tap.h"

enum { KA, KE, V, F, LAG, DUR, KM, VMAX, NP };
#define NPIECE 4     /* the run's params, then 3 switches */
#define NREC 3
#define NT 16
#define NST 2
#define NOUT 2

static const char *const PNAMES[NP] = {"ka", "k", "V", "F", "tlag", "D",
                                       "km", "vmax"};

static rkin_model *build(int mm)
{
  static const char *const st[] = {"G", "X"};
  static const char *const on[] = {"C", "E"};
  static const double val[NP] = {0.8, 0.1, 5, 0.7, 0.5, 2, 30, 20};
  rkin_graph *g = rkin_graph_new();
  rkin_node x = rkin_expr_state(g, 1), d[2], out[2], mods[RKIN_MOD_N * 2];
  rkin_model_spec sp;
  rkin_model *m;
  int i;
  memset(&sp, 0, sizeof sp);
  depot_deriv(g, KA, KE, KM, VMAX, mm, d);
  out[0] = rkin_expr_binary(g, RKIN_OP_DIV, x, rkin_expr_param(g, V));
  out[1] = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_const(g, 10),
                            rkin_expr_param(g, V));
  if (mm)   /* (the linear model's outputs linear: C(p) is used) */
    out[1] = rkin_expr_binary(g, RKIN_OP_ADD, x, out[1]);
  out[1] = rkin_expr_binary(g, RKIN_OP_DIV, x, out[1]);
  for (i = 0; i < RKIN_MOD_N * 2; i++) mods[i] = -1;
  mods[RKIN_MOD_F * 2 + 0] = rkin_expr_binary(g, RKIN_OP_MUL,
                                              rkin_expr_param(g, F),
                                              rkin_expr_param(g, F));
  mods[RKIN_MOD_LAG * 2 + 0] = rkin_expr_param(g, LAG);
  mods[RKIN_MOD_DUR * 2 + 1] = rkin_expr_param(g, DUR);
  sp.name = mm ? "mm_tv" : "lin_tv";
  sp.n_states = 2;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = mm ? NP : NP - 2;
  sp.params = PNAMES;
  sp.values = val;
  sp.n_outputs = 2;
  sp.outputs = on;
  sp.output_expr = out;
  m = rkin_model_new(&sp, g, NULL);
  if (m && rkin_model_set_dose_mods(m, mods, NULL)) {
    rkin_model_free(m);
    return NULL;
  }
  return m;
}

static rkin_solver *new_solver_tol(const rkin_model *m, rkin_path path,
                                   double rtol, double atol)
{
  rkin_solve_opts o;
  rkin_solve_opts_default(&o);
  o.path = path;
  o.rtol = rtol;
  o.atol = atol;
  return rkin_solver_new(m, &o, NULL);
}

static rkin_solver *new_solver(const rkin_model *m, rkin_path path)
{
  return new_solver_tol(m, path, 1e-10, 1e-12);
}

static rkin_dosing *schedule(void)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r[NREC];
  memset(r, 0, sizeof r);
  r[0].amount = 100;
  r[1].time = 12;
  r[1].amount = 50;
  r[1].rate = -2;
  r[1].cmt = 1;
  r[2].time = 24;
  r[2].amount = 80;
  r[2].ii = 12;
  r[2].addl = 1;
  rkin_dosing_add_many(d, r, NREC, NULL, NULL);
  return d;
}

/* The run: parameters of each piece, each dose record's, and the
 * directions of both. */
typedef struct {
  size_t np, nd;
  double pp[NPIECE * NP];            /* piece 0: params, 1..3: pw_params */
  double pr[NREC * NP];              /* rec_params */
  double dp[NPIECE * (NP + 3) * NP]; /* piece k: nd x np */
  double dr[NREC * (NP + 3) * NP];   /* rec_dir */
} tv_case;

/* Pieces: [0, 6) base, [6, 20) k x 1.6, V x 1.2, D x 1.5 (a covariate),
 * [20, 30) the second occasion (ka, F, ALAG, D its own), [30, ...) that
 * occasion with k x 0.7. */
static void make_case(tv_case *c, int mm)
{
  static const double base[NP] = {0.8, 0.1, 5, 0.7, 0.5, 2, 30, 20};
  size_t k, l, d, np = mm ? NP : NP - 2, nd = np + 3;
  static const int piece_of_rec[NREC] = {0, 1, 2};
  memset(c, 0, sizeof *c);
  c->np = np;
  c->nd = nd;
  for (k = 0; k < NPIECE; k++) {
    double *p = c->pp + k * np;
    int occ2 = k >= 2;
    for (l = 0; l < np; l++) p[l] = base[l];
    if (k == 1) {
      p[KE] *= 1.6;
      p[V] *= 1.2;
      p[DUR] *= 1.5;
    }
    if (k == 3) p[KE] *= 0.7;
    if (occ2) {
      p[KA] *= 1.4;
      p[F] = 0.55;
      p[LAG] = 1.25;
      p[DUR] = 4;
    }
    /* d / d log p_l, then eta of occasion 1, of occasion 2, of k */
    for (d = 0; d < nd; d++) {
      double *dv = c->dp + (k * nd + d) * np;
      if (d < np) {
        dv[d] = p[d];
      } else if (d == np + (occ2 ? 1 : 0)) {
        dv[KA] = p[KA];
        dv[F] = 0.5 * p[F];
        dv[LAG] = p[LAG];
        dv[DUR] = p[DUR];
      } else if (d == np + 2) {
        dv[KE] = p[KE];
      }
    }
  }
  for (k = 0; k < NREC; k++) {
    size_t pk = (size_t)piece_of_rec[k];
    memcpy(c->pr + k * np, c->pp + pk * np, np * sizeof *c->pp);
    memcpy(c->dr + k * nd * np, c->dp + pk * nd * np,
           nd * np * sizeof *c->dp);
  }
}

static const double TIMES[NT] = {0.25, 1, 2, 4, 8, 11, 12.5, 14.5, 16, 20,
                                 23, 25.5, 28, 33, 37.5, 48};
static const double PW_T[NPIECE - 1] = {6, 20, 30};

/* A run of case c (parameters moved by h along direction dd when dd >=
 * 0): y, out; with dy/dout the sensitivities along c's directions.
 * which_dir: 0 all directions, 1 no pw_dir, 2 no rec_dir (to show they
 * matter). */
static int run(rkin_solver *s, const tv_case *c, const rkin_dosing *dos,
               int locf, int dd, double h, double *y, double *out,
               double *dy, double *dout, int which_dir, rkin_err *err)
{
  tv_case q = *c;
  rkin_solve_req rq;
  rkin_solve_res rs;
  size_t k, l, np = c->np, nd = c->nd;
  if (dd >= 0) {
    for (k = 0; k < NPIECE; k++)
      for (l = 0; l < np; l++)
        q.pp[k * np + l] += h * c->dp[(k * nd + (size_t)dd) * np + l];
    for (k = 0; k < NREC; k++)
      for (l = 0; l < np; l++)
        q.pr[k * np + l] += h * c->dr[(k * nd + (size_t)dd) * np + l];
  }
  memset(&rq, 0, sizeof rq);
  memset(&rs, 0, sizeof rs);
  rq.t1 = 48;
  rq.params = q.pp;
  rq.dosing = dos;
  rq.times = TIMES;
  rq.n_times = NT;
  rq.n_pw = NPIECE - 1;
  rq.pw_t = PW_T;
  rq.pw_params = q.pp + np;
  rq.pw_locf = locf;
  rq.rec_params = q.pr;
  rs.y = y;
  rs.out = out;
  if (!dy) return rkin_solver_run(s, &rq, &rs, err);
  rq.pw_dir = which_dir == 1 ? NULL : q.dp + nd * np;
  rq.rec_dir = which_dir == 2 ? NULL : q.dr;
  return rkin_solver_run_sens(s, &rq, q.dp, nd, &rs, dy, dout, err);
}

/* The worst relative error of got against want (NT x m x nd), with
 * where it was: |got - want| / max(|want|, 1e-3 of the largest
 * sensitivity of that state or output over every time and direction). */
static double worst_rel(const double *got, const double *want, size_t m,
                        size_t nd, size_t *at_t, size_t *at_d)
{
  size_t t, i, d;
  double worst = 0;
  for (i = 0; i < m; i++) {
    double all = 0;
    for (t = 0; t < NT * nd; t++)
      all = fmax(all, fabs(want[(t / nd * m + i) * nd + t % nd]));
    for (d = 0; d < nd; d++) {
      for (t = 0; t < NT; t++) {
        size_t j = (t * m + i) * nd + d;
        double e = fabs(got[j] - want[j]) / fmax(fabs(want[j]), 1e-3 * all);
        if (getenv("TV_DEBUG") && e > 1e-6)
          printf("# i %zu d %zu t %g got %.10g want %.10g (%.2e)\n", i, d,
                 TIMES[t], got[j], want[j], e);
        if (e > worst) {
          worst = e;
          *at_t = t;
          *at_d = d;
        }
      }
    }
  }
  return worst;
}

/* Central differences of the states and outputs of case c along each
 * direction, relative step h (the directions are on the log scale), with
 * one Richardson step (steps h and h / 2: error O(h^4)). */
static int central(rkin_solver *s, const tv_case *c, const rkin_dosing *dos,
                   int locf, double h, double *fy, double *fo, rkin_err *err)
{
  double yp[NT * NST], ym[NT * NST], op[NT * NOUT], om[NT * NOUT];
  double y2[NT * NST], o2[NT * NOUT];
  size_t d, j;
  int rc = 0, half;
  for (d = 0; !rc && d < c->nd; d++)
    for (half = 0; !rc && half < 2; half++) {
      double hh = half ? h / 2 : h;
      rc = run(s, c, dos, locf, (int)d, hh, yp, op, NULL, NULL, 0, err);
      if (!rc) rc = run(s, c, dos, locf, (int)d, -hh, ym, om, NULL, NULL,
                        0, err);
      for (j = 0; !rc && j < NT * NST; j++) {
        double v = (yp[j] - ym[j]) / (2 * hh);
        if (half) fy[j * c->nd + d] = (4 * v - y2[j]) / 3;
        else y2[j] = v;
      }
      for (j = 0; !rc && j < NT * NOUT; j++) {
        double v = (op[j] - om[j]) / (2 * hh);
        if (half) fo[j * c->nd + d] = (4 * v - o2[j]) / 3;
        else o2[j] = v;
      }
    }
  return rc;
}

static void test_linear(void)
{
  rkin_model *m = build(0);
  rkin_solver *se = new_solver(m, RKIN_PATH_EXACT);
  rkin_solver *sc = new_solver(m, RKIN_PATH_CVODES);
  rkin_dosing *dos = schedule();
  tv_case c;
  double y[NT * NST], out[NT * NOUT];
  static double dye[NT * NST * (NP + 3)], doe[NT * NOUT * (NP + 3)];
  static double dyc[NT * NST * (NP + 3)], doc[NT * NOUT * (NP + 3)];
  static double fy[NT * NST * (NP + 3)], fo[NT * NOUT * (NP + 3)];
  rkin_err err;
  size_t at_t = 0, at_d = 0, nd;
  double w;
  int rc;
  make_case(&c, 0);
  nd = c.nd;
  rc = run(se, &c, dos, 0, -1, 0, y, out, dye, doe, 0, &err);
  ok(rc == 0, "linear, exact path: sensitivities with 3 parameter switches "
     "and F, ALAG, D per dose record (%s)", rc ? err.msg : "ok");
  rc = central(se, &c, dos, 0, 1e-3, fy, fo, &err);
  ok(rc == 0, "linear, exact path: central differences run");
  w = worst_rel(dye, fy, NST, nd, &at_t, &at_d);
  ok(w < 1e-6, "linear, exact path: states' sensitivities = central "
     "differences, %zu directions x %d times (worst rel. %.2e at t = %g, "
     "direction %zu)", nd, NT, w, TIMES[at_t], at_d);
  w = worst_rel(doe, fo, NOUT, nd, &at_t, &at_d);
  ok(w < 1e-6, "linear, exact path: outputs' sensitivities = central "
     "differences (worst rel. %.2e at t = %g, direction %zu)", w,
     TIMES[at_t], at_d);
  rc = run(sc, &c, dos, 0, -1, 0, y, out, dyc, doc, 0, &err);
  ok(rc == 0, "linear, CVODES path: sensitivities with the switches and "
     "per-record modifiers (%s)", rc ? err.msg : "ok");
  ok(rkin_solver_path(sc) == RKIN_PATH_CVODES, "... on the CVODES path");
  w = worst_rel(dyc, dye, NST, nd, &at_t, &at_d);
  ok(w < 1e-6, "linear: CVODES states' sensitivities = the exact path's "
     "(worst rel. %.2e at t = %g, direction %zu)", w, TIMES[at_t], at_d);
  w = worst_rel(doc, doe, NOUT, nd, &at_t, &at_d);
  ok(w < 1e-6, "linear: CVODES outputs' sensitivities = the exact path's "
     "(worst rel. %.2e at t = %g, direction %zu)", w, TIMES[at_t], at_d);
  {
    /* each kind of direction matters: without pw_dir the occasion-2 eta
     * moves nothing after 20 h but the dose of record 2; without rec_dir
     * the doses move as the first piece says */
    int which;
    for (which = 1; which <= 2; which++) {
      int pi;
      for (pi = 0; pi < 2; pi++) {
        rkin_solver *s = pi ? sc : se;
        rc = run(s, &c, dos, 0, -1, 0, y, out, dyc, doc, which, &err);
        w = rc ? 0 : worst_rel(dyc, dye, NST, nd, &at_t, &at_d);
        ok(rc == 0 && w > 1e-2, "%s: without %s the sensitivities differ "
           "(worst rel. %.2e)", pi ? "CVODES" : "exact",
           which == 1 ? "the directions after each switch (pw_dir)"
                      : "the dose records' directions (rec_dir)", w);
      }
    }
  }
  rkin_dosing_free(dos);
  rkin_solver_free(se);
  rkin_solver_free(sc);
  rkin_model_free(m);
}

static void test_mm(void)
{
  rkin_model *m = build(1);
  rkin_solver *sc = new_solver(m, RKIN_PATH_CVODES);
  /* the differences from tighter solutions: their noise (error / h)
   * stays below the tolerance */
  rkin_solver *sf = new_solver_tol(m, RKIN_PATH_CVODES, 1e-13, 1e-14);
  rkin_dosing *dos = schedule();
  tv_case c;
  double y[NT * NST], out[NT * NOUT];
  static double dyc[NT * NST * (NP + 3)], doc[NT * NOUT * (NP + 3)];
  static double fy[NT * NST * (NP + 3)], fo[NT * NOUT * (NP + 3)];
  rkin_err err;
  size_t at_t = 0, at_d = 0;
  double w;
  int rc, locf;
  ok(m != NULL, "Michaelis-Menten model built");
  if (!m) return;
  make_case(&c, 1);
  for (locf = 0; locf < 2; locf++) {
    const char *conv = locf ? "LOCF" : "NOCB";
    rc = run(sc, &c, dos, locf, -1, 0, y, out, dyc, doc, 0, &err);
    ok(rc == 0, "Michaelis-Menten, CVODES, %s: sensitivities with 3 "
       "switches and per-record F, ALAG, D (%s)", conv,
       rc ? err.msg : "ok");
    rc = central(sf, &c, dos, locf, 1e-3, fy, fo, &err);
    ok(rc == 0, "Michaelis-Menten, %s: central differences run", conv);
    w = worst_rel(dyc, fy, NST, c.nd, &at_t, &at_d);
    ok(w < 1e-5, "Michaelis-Menten, %s: states' sensitivities = central "
       "differences, %zu directions x %d times (worst rel. %.2e at t = "
       "%g, direction %zu)", conv, c.nd, NT, w, TIMES[at_t], at_d);
    w = worst_rel(doc, fo, NOUT, c.nd, &at_t, &at_d);
    ok(w < 1e-5, "Michaelis-Menten, %s: outputs' sensitivities (C "
       "linear, E nonlinear) = central differences (worst rel. %.2e at t "
       "= %g, direction %zu)", conv, w, TIMES[at_t], at_d);
  }
  rkin_dosing_free(dos);
  rkin_solver_free(sc);
  rkin_solver_free(sf);
  rkin_model_free(m);
}

/* A solver whose last run had per-record parameters, reused for a run
 * without: its doses take this run's F and ALAG (as a fresh solver's). */
static void test_reuse(void)
{
  rkin_model *m = build(0);
  rkin_dosing *dos = schedule();
  tv_case c;
  double y1[NT * NST], o1[NT * NOUT], y2[NT * NST], o2[NT * NOUT];
  rkin_err err;
  int pi;
  make_case(&c, 0);
  for (pi = 0; pi < 2; pi++) {
    rkin_solver *s = new_solver(m, pi ? RKIN_PATH_CVODES : RKIN_PATH_EXACT);
    rkin_solver *fresh = new_solver(m, pi ? RKIN_PATH_CVODES
                                          : RKIN_PATH_EXACT);
    rkin_solve_req rq;
    rkin_solve_res rs;
    static const double p[NP - 2] = {1.1, 0.2, 4, 0.3, 2.5, 1};
    double worst = 0;
    size_t j;
    int rc = run(s, &c, dos, 0, -1, 0, y1, o1, NULL, NULL, 0, &err);
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    rq.t1 = 48;
    rq.params = p;
    rq.dosing = dos;
    rq.times = TIMES;
    rq.n_times = NT;
    rs.y = y1;
    if (!rc) rc = rkin_solver_run(s, &rq, &rs, &err);
    rs.y = y2;
    if (!rc) rc = rkin_solver_run(fresh, &rq, &rs, &err);
    for (j = 0; !rc && j < NT * NST; j++)
      worst = fmax(worst, fabs(y1[j] - y2[j]) / fmax(fabs(y2[j]), 1e-9));
    ok(rc == 0 && worst < 1e-12, "%s: a solver reused after a run with "
       "rec_params gives a fresh solver's amounts (worst rel. %.2e)",
       pi ? "CVODES" : "exact", worst);
    (void)o2;
    rkin_solver_free(s);
    rkin_solver_free(fresh);
  }
  rkin_dosing_free(dos);
  rkin_model_free(m);
}

int main(void)
{
  rkin_init();
  test_linear();
  test_mm();
  test_reuse();
  done_testing();
  return exit_status();
}
