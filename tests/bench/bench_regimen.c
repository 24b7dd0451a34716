/* bench_regimen.c - N virtual patients (default 10,000) of the six-
 * compartment 177Lu model (models/lu177_6c.lua equations, 30 % CV on
 * every rate) through 4 regimens of up to 6 cycles (empiric 4 x 7.4 GBq;
 * PP-PRRT 23 Gy kidney; ILUMINET 27 Gy kidney BED with the last cycle
 * reduced; optimised tumour BED under kidney BED 27 Gy and marrow 2 Gy),
 * the rules deciding from simulated imaging (4, 24, 72 h, 10 % error,
 * AICc fit of the kidney curve). Timed on 1 thread and on all cores;
 * then a nonlinear variant (saturable kidney uptake, augmented CVODES
 * route) on fewer patients.
 *
 * Usage: bench_regimen [n_patients] [n_nonlinear]
 *                      [compare | search | profile]
 * compare: the nonlinear cohort again with the full SLSQP search (no
 * vertex shortcut) and with COBYLA (no gradients), and per patient the
 * optimiser's objective, plan and CPU time with each method.
 * search: the per-patient part of compare alone, without COBYLA (the
 * default against the full SLSQP search over many patients).
 * profile: the nonlinear cohort alone (no linear part, so a callgrind run
 * counts it only), then per patient the optimised regimen's optimiser as
 * the run calls it (the built-in rules' plans as starts): its CPU time,
 * the path it took (vertex certified, vertex plus a search of rival
 * lengths, full search), its CVODES solves and objective. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/init.h"
#include "dose/organ.h"
#include "regimen/regimen.h"
#include "regimen/regimen_impl.h"
#include "pop/vpop.h"
#include "bench_args.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* lu177_6c: P I K L T R, plasma exchange with each, kU out of P
 * (docs/sources.md). With sat, P -> K is saturable:
 * kPK P / (1 + P / km). */
static rkin_model *six_c(int sat)
{
  static const char *st[] = {"P", "I", "K", "L", "T", "R"};
  static const char *pa[] = {"kPI", "kIP", "kPK", "kKP", "kPL", "kLP",
                             "kPT", "kTP", "kPR", "kRP", "kU", "km"};
  static const double v[] = {0.60, 0.40, 0.030, 0.012, 0.040, 0.015,
                             0.030, 0.004, 0.15, 0.030, 0.50, 2000};
  rkin_graph *g = rkin_graph_new();
  rkin_node d[6], p0 = rkin_expr_state(g, 0), out;
  rkin_model_spec sp = {0};
  rkin_err err;
  rkin_model *m;
  int j;
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG,
                         rkin_expr_binary(g, RKIN_OP_MUL,
                                          rkin_expr_param(g, 10), p0));
  for (j = 1; j < 6; j++) {
    rkin_node y = rkin_expr_state(g, j);
    rkin_node in = rkin_expr_binary(g, RKIN_OP_MUL,
                                    rkin_expr_param(g, 2 * (j - 1)), p0);
    rkin_node back = rkin_expr_binary(g, RKIN_OP_MUL,
                                      rkin_expr_param(g, 2 * j - 1), y);
    if (j == 2 && sat)
      in = rkin_expr_binary(
        g, RKIN_OP_DIV, in,
        rkin_expr_binary(g, RKIN_OP_ADD, rkin_expr_const(g, 1),
                         rkin_expr_binary(g, RKIN_OP_DIV, p0,
                                          rkin_expr_param(g, 11))));
    d[j] = rkin_expr_binary(g, RKIN_OP_SUB, in, back);
    out = rkin_expr_binary(g, RKIN_OP_SUB, back, in);
    d[0] = rkin_expr_binary(g, RKIN_OP_ADD, d[0], out);
  }
  sp.name = sat ? "lu177_6c_sat" : "lu177_6c";
  sp.nuclide = rkin_nuclide_find("Lu-177", NULL);
  sp.n_states = 6;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 12;
  sp.params = pa;
  sp.values = v;
  m = rkin_model_new(&sp, g, &err);
  if (!m) fprintf(stderr, "bench_regimen: %s\n", err.msg);
  return m;
}

static double cum(const rkin_regimen_res *r, const double *v, size_t i,
                  size_t q)
{
  size_t c;
  double s = 0;
  for (c = 0; c < r->max_cycles; c++)
    s += v[(i * r->max_cycles + c) * r->n_regions + q];
  return s;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
  qsort(v, n, sizeof *v, cmp);
  return n ? v[n / 2] : NAN;
}

static void summary(const char *name, const rkin_regimen_res *r)
{
  size_t n = r->n_patients, i, over = 0;
  double worst = 0;
  double *a = malloc(4 * n * sizeof *a), *kb = a + n, *tb = kb + n;
  double *cy = tb + n;
  for (i = 0; i < n; i++) {
    size_t c;
    a[i] = 0;
    for (c = 0; c < r->max_cycles; c++)
      a[i] += r->activity_gbq[i * r->max_cycles + c];
    kb[i] = cum(r, r->bed_true, i, 0);
    tb[i] = cum(r, r->bed_true, i, 1);
    cy[i] = (double)r->n_cycles[i];
    over += kb[i] > 27 * (1 + 1e-9)
            || cum(r, r->dose_true, i, 2) > 2 * (1 + 1e-9);
    if (kb[i] / 27 - 1 > worst) worst = kb[i] / 27 - 1;
    if (cum(r, r->dose_true, i, 2) / 2 - 1 > worst)
      worst = cum(r, r->dose_true, i, 2) / 2 - 1;
  }
  printf("  %-10s cycles %.0f, activity %.1f GBq, kidney BED %.1f Gy, "
         "tumour BED %.0f Gy (medians); over a limit %.1f %% (worst by "
         "%.2g); failed %zu\n",
         name, median(cy, n), median(a, n), median(kb, n), median(tb, n),
         100.0 * (double)over / (double)n, worst, r->n_failed);
  free(a);
}

/* What every run shares: the three regions (kidney, tumour, marrow: the
 * model quantity, mass in kg, local deposition, the organ table's
 * alpha/beta and repair half-time) and the spec: n patients, cycles 8
 * weeks apart. */
static void spec_init(rkin_regimen_spec *sp, rkin_region rg[3],
                      rkin_model *m, const double *params, size_t n,
                      int threads)
{
  rg[0] = (rkin_region){"kidney", 2, 0.3, 0,
                        rkin_organ_find("kidney", NULL)->lq};
  rg[1] = (rkin_region){"tumour", 4, 0.05, 0,
                        rkin_organ_find("tumour", NULL)->lq};
  rg[2] = (rkin_region){"marrow", 0, 5.0, 0,
                        rkin_organ_find("red_marrow", NULL)->lq};
  sp->model = m;
  rkin_solve_opts_default(&sp->opts);
  sp->n_patients = n;
  sp->params = params;
  sp->n_regions = 3;
  sp->regions = rg;
  sp->interval_h = 1344;
  sp->threads = threads;
}

static double run_all(rkin_model *m, const double *params, size_t n,
                      int threads, int show, rkin_opt_method meth)
{
  static const double times[] = {4, 24, 72};
  static const int imaged[] = {1, 0, 0};
  static const char *names[] = {"empiric", "PP-PRRT", "ILUMINET",
                                "optimised"};
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_region rg[3];
  rkin_regimen_spec sp = {0};
  rkin_imaging img = {0};
  rkin_regimen *r;
  rkin_err err;
  double t0 = now(), total;
  int k;
  memset(rg, 0, sizeof rg);
  spec_init(&sp, rg, m, params, n, threads);
  if (!(r = rkin_regimen_new(&sp, &err))) {
    fprintf(stderr, "bench_regimen: %s\n", err.msg);
    return -1;
  }
  if (show)
    printf("  prepare (%s route): %.3f s\n",
           rkin_regimen_route(r) == RKIN_ROUTE_EIGEN ? "eigen" : "augmented",
           now() - t0);
  img.method = RKIN_IMAGING_FIT;
  img.n_times = 3;
  img.times_h = times;
  img.cv = 0.10;
  img.seed = 11;
  img.imaged = imaged;
  for (k = 0; k < 4; k++) {
    rkin_regimen_rule u;
    rkin_regimen_res res;
    double t1 = now();
    rkin_regimen_rule_default(&u);
    u.max_cycles = 6;
    u.kind = k == 0 ? RKIN_RULE_EMPIRIC : k == 1 ? RKIN_RULE_PP_PRRT
             : k == 2 ? RKIN_RULE_ILUMINET : RKIN_RULE_OPTIMISED;
    u.target_gy = 23;
    u.bed_limit_gy = 27;
    u.max_gbq = 15;
    u.min_gbq = k == 3 ? 0 : 0.5;
    u.objective = 1;
    u.n_limits = 2;
    u.limits = lim;
    u.optimiser = meth;
    rkin_regimen_res_alloc(&res, n, 6, 3, &err);
    if (rkin_regimen_run(r, &u, &img, &res, &err))
      fprintf(stderr, "bench_regimen: %s\n", err.msg);
    if (show) {
      printf("  %-10s %.3f s\n", names[k], now() - t1);
      summary(names[k], &res);
    }
    rkin_regimen_res_free(&res);
  }
  total = now() - t0;
  rkin_regimen_free(r);
  return total;
}

/* Per patient on the nonlinear model: the optimised plan's objective
 * (cumulative tumour BED), cycles and CPU time by the three methods:
 * COBYLA without gradients, the full multi-start SLSQP search with
 * sensitivity gradients (the route before the vertex shortcut) and the
 * default (the certified vertex plan, else that search); the largest
 * difference of the default's activities from the full search's. */
static void per_patient(rkin_model *m, const double *params, size_t n,
                        int cobyla)
{
  static const rkin_opt_method meth[3] = {
    RKIN_OPT_COBYLA, RKIN_OPT_GRADIENT_SEARCH, RKIN_OPT_GRADIENT};
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_region rg[3];
  rkin_regimen_spec sp = {0};
  rkin_regimen *r;
  rkin_err err;
  size_t i, c;
  double tsum[3] = {0, 0, 0}, worst_rel = 0, worst_da = 0, worst_cob = 0;
  size_t kdiff = 0, below = 0;
  spec_init(&sp, rg, m, params, n, 1);
  if (!(r = rkin_regimen_new(&sp, &err))) return;
  printf("  patient: tumour BED (Gy) COBYLA / full SLSQP search / default "
         "(vertex shortcut), cycles, CPU ms of each (optimiser alone, no "
         "starts), largest |activity difference| default - search\n");
  for (i = 0; i < n; i++) {
    double a[3][6], obj[3], tm[3], da = 0;
    size_t k[3];
    int j;
    for (j = 0; j < 3; j++) {
      rkin_regimen_rule u;
      clock_t c0 = clock();
      rkin_regimen_rule_default(&u);
      u.kind = RKIN_RULE_OPTIMISED;
      u.max_cycles = 6;
      u.max_gbq = 15;
      u.objective = 1;
      u.n_limits = 2;
      u.limits = lim;
      u.optimiser = meth[j];
      if (j == 0 && !cobyla) {   /* not run: its columns blank */
        memset(a[0], 0, sizeof a[0]);
        k[0] = 0;
        obj[0] = NAN;
        tm[0] = 0;
        continue;
      }
      if (rkin_regimen_optimise(r, i, &u, 0, NULL, a[j], &k[j], &obj[j],
                                &err))
        fprintf(stderr, "bench_regimen: %s\n", err.msg);
      tm[j] = 1000.0 * (double)(clock() - c0) / CLOCKS_PER_SEC;
      tsum[j] += tm[j];
    }
    for (c = 0; c < 6; c++) da = fmax(da, fabs(a[2][c] - a[1][c]));
    kdiff += k[2] != k[1];
    below += obj[2] < obj[1] * (1 - 1e-6);
    worst_da = fmax(worst_da, da);
    worst_rel = fmax(worst_rel, fabs(obj[2] / obj[1] - 1));
    if (cobyla) worst_cob = fmax(worst_cob, fabs(obj[2] / obj[0] - 1));
    printf("  %3zu: %.6f / %.6f / %.6f (rel. to search %+.1e), %zu / %zu / "
           "%zu, %.1f / %.1f / %.1f ms, |da| %.1e; plan GBq", i + 1, obj[0],
           obj[1], obj[2], obj[2] / obj[1] - 1, k[0], k[1], k[2], tm[0],
           tm[1], tm[2], da);
    for (c = 0; c < k[2]; c++) printf(" %.3f", a[2][c]);
    printf("\n");
  }
  printf("  optimiser alone, mean CPU ms per patient: COBYLA %.1f, full "
         "SLSQP search %.1f, default %.1f; default vs search: max rel. "
         "objective difference %.1e, max |activity difference| %.1e GBq, "
         "plan lengths differing %zu of %zu, default below the search by "
         "more than 1e-6 rel. %zu; vs COBYLA max rel. %.1e\n",
         tsum[0] / (double)n, tsum[1] / (double)n, tsum[2] / (double)n,
         worst_rel, worst_da, kdiff, n, below, worst_cob);
  rkin_regimen_free(r);
}

/* Per patient on the nonlinear model, the optimised regimen's optimiser as
 * rkin_regimen_run calls it (regimen_run.c plan_task: the empiric,
 * PP-PRRT and ILUMINET plans on the truth as starts): CPU time, path,
 * solves with and without sensitivities, objective. */
static void profile(rkin_model *m, const double *params, size_t n)
{
  static const double times[] = {4, 24, 72};
  static const int imaged[] = {1, 0, 0};
  static const rkin_rule_kind kinds[3] = {
    RKIN_RULE_EMPIRIC, RKIN_RULE_PP_PRRT, RKIN_RULE_ILUMINET};
  rkin_regimen_limit lim[2] = {{0, 1, 27.0}, {2, 0, 2.0}};
  rkin_region rg[3];
  rkin_regimen_spec sp = {0};
  rkin_imaging img = {0};
  rkin_regimen_rule u, b[3];
  rkin_regimen *r;
  rkin_err err;
  rg_ws ws;
  size_t i, path_n[3] = {0, 0, 0};
  double path_ms[3] = {0, 0, 0}, ua, um, total = 0;
  static const char *path_name[3] = {"vertex", "vertex+search", "search"};
  spec_init(&sp, rg, m, params, n, 1);
  img.method = RKIN_IMAGING_FIT;
  img.n_times = 3;
  img.times_h = times;
  img.cv = 0.10;
  img.seed = 11;
  img.imaged = imaged;
  if (!(r = rkin_regimen_new(&sp, &err)) || rg_ws_init(&ws, r, &err)) {
    fprintf(stderr, "bench_regimen: %s\n", err.msg);
    rkin_regimen_free(r);
    return;
  }
  rkin_regimen_rule_default(&u);
  u.max_cycles = 6;
  u.kind = RKIN_RULE_OPTIMISED;
  u.target_gy = 23;
  u.bed_limit_gy = 27;
  u.max_gbq = 15;
  u.min_gbq = 0;
  u.objective = 1;
  u.n_limits = 2;
  u.limits = lim;
  u.optimiser = RKIN_OPT_GRADIENT;
  rkin_imaging_shared_u(&img, &ua, &um);
  u.plan_u_rel = sqrt(ua * ua + um * um);
  printf("  patient: path, CPU ms, solves plain / with sensitivities, "
         "warm-started searches (those whose start was a strict local "
         "maximum: no local search), tumour BED (Gy), cycles\n");
  for (i = 0; i < 3; i++) {
    b[i] = u;
    b[i].confidence = 0;
    b[i].kind = kinds[i];
  }
  for (i = 0; i < n; i++) {
    double starts[3 * 6], plan[6], obj = 0, ms;
    size_t kk = 0;
    long v0 = ws.n_vertex, p0 = ws.n_vertex_partial, s0 = ws.n_solve;
    long ss0 = ws.n_solve_sens, w0 = ws.n_warm, kk0 = ws.n_kkt;
    long rp0 = ws.n_rule_plans;
    int rc = 0, path;
    rg_starts st = {3, starts, b, 0};
    clock_t c0 = clock();
    memset(starts, 0, sizeof starts);
    rc = rg_optimise(&ws, i, &u, &st, plan, &kk, &obj, &err);
    ms = 1000.0 * (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (rc) fprintf(stderr, "bench_regimen: %s\n", err.msg);
    path = ws.n_vertex > v0 ? 0 : ws.n_vertex_partial > p0 ? 1 : 2;
    path_n[path]++;
    path_ms[path] += ms;
    total += ms;
    printf("  %3zu: %-13s %6.1f ms, %4ld / %4ld solves, %ld warm (%ld at "
           "a vertex), rules' plans %s, %.9f Gy, %zu cycles\n", i + 1,
           path_name[path], ms, ws.n_solve - s0, ws.n_solve_sens - ss0,
           ws.n_warm - w0, ws.n_kkt - kk0,
           ws.n_rule_plans > rp0 ? "made" : "not needed", obj, kk);
  }
  printf("  optimiser alone, CPU ms: %.1f in all, %.2f per patient;",
         total, total / (double)n);
  for (i = 0; i < 3; i++)
    printf(" %s %zu patients %.1f ms (%.0f %%)%s", path_name[i], path_n[i],
           path_ms[i], total > 0 ? 100 * path_ms[i] / total : 0.0,
           i < 2 ? "," : "\n");
  rg_ws_clear(&ws);
  rkin_regimen_free(r);
}

int main(int argc, char **argv)
{
  static const char *const modes[] = {"compare", "search", "profile", NULL};
  const char *mode;
  size_t n, nn;
  int compare, search, prof;
  bench_help(argc, argv,
             "usage: bench_regimen [N_PATIENTS=10000] [N_NONLINEAR=100] "
             "[compare|search|profile]\n"
             "  4 regimens (empiric, PP-PRRT, ILUMINET, optimised) of up to "
             "6 cycles on\n  N virtual lu177_6c patients deciding from "
             "simulated imaging, 1 thread and\n  all cores, then a "
             "nonlinear (saturable kidney) variant on N_NONLINEAR;\n"
             "  compare: SLSQP without the vertex shortcut and COBYLA per "
             "patient;\n  search, profile: see the header of "
             "bench_regimen.c. No peer.\n");
  n = (size_t)bench_long("bench_regimen", argc, argv, 1, "N_PATIENTS",
                         10000, 1, 100000000);
  nn = (size_t)bench_long("bench_regimen", argc, argv, 2, "N_NONLINEAR",
                          100, 1, 100000000);
  mode = bench_word("bench_regimen", argc, argv, 3, "MODE", "", modes);
  compare = !strcmp(mode, "compare");
  search = !strcmp(mode, "search");
  prof = !strcmp(mode, "profile");
  rkin_init();   /* GSL reports errors as codes, never aborts */
  rkin_model *m = six_c(0), *ms = six_c(1);
  double cv[12], *p = malloc(n * 12 * sizeof *p), t;
  rkin_err err;
  int j;
  for (j = 0; j < 12; j++) cv[j] = j < 11 ? 0.3 : 0;
  rkin_vpop_sample(m, NULL, cv, 1, n, p, &err);
  if (search) {
    per_patient(ms, p, nn > n ? n : nn, 0);
    free(p);
    rkin_model_free(m);
    rkin_model_free(ms);
    return 0;
  }
  if (!prof) {
    printf("bench_regimen: %zu patients x up to 6 cycles x 4 regimens, "
           "imaging fit (4, 24, 72 h, 10 %% error), linear lu177_6c\n", n);
    t = run_all(m, p, n, 1, 1, RKIN_OPT_GRADIENT);
    printf("linear, 1 thread: %.2f s total\n", t);
    printf("linear, %d threads: %.2f s total\n", rkin_ncores(),
           run_all(m, p, n, 0, 0, RKIN_OPT_GRADIENT));
  }
  if (nn > n) nn = n;
  t = run_all(ms, p, nn, 1, 1, RKIN_OPT_GRADIENT);
  printf("nonlinear (saturable kidney uptake, augmented CVODES route), %zu "
         "patients, 1 thread: %.2f s total (%.1f ms per patient for 4 "
         "regimens; optimiser: certified vertex plan, else SLSQP with "
         "sensitivity gradients)\n", nn, t,
         1000 * t / (double)nn);
  if (compare) {
    t = run_all(ms, p, nn, 1, 1, RKIN_OPT_GRADIENT_SEARCH);
    printf("nonlinear, the same with the full SLSQP search (no vertex "
           "shortcut): %.2f s total (%.1f ms per patient for 4 regimens)\n",
           t, 1000 * t / (double)nn);
    t = run_all(ms, p, nn, 1, 1, RKIN_OPT_COBYLA);
    printf("nonlinear, the same with COBYLA (no gradients): %.2f s total "
           "(%.1f ms per patient for 4 regimens)\n", t,
           1000 * t / (double)nn);
    per_patient(ms, p, nn, 1);
  }
  if (prof) profile(ms, p, nn);
  free(p);
  rkin_model_free(m);
  rkin_model_free(ms);
  return 0;
}
