/* bench_tac.c - TIA of the 10,000 simulated kidney curves of the developers'
 * reference data (tac_data.csv)
 * (4, 24, 72, 168 h; 10 % proportional noise; README section 3) by every
 * method of engine/tac: error vs tia_true (median, P5, P95) and time per
 * curve per candidate model, beside the scipy peer (tac_fit.py) run in the
 * same session when python3-scipy is installed.
 *
 * Usage: bench_tac [tac_data.csv] [--no-peer]
 * Default path: tac_data.csv in the developers' reference-program folder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "../spawn.h"
#include "core/init.h"
#include "tac/tac.h"
#include "bench_args.h"

#define NMAX 10000
#define NT 4
#define CV 0.10                        /* peers/README.md s.3 */
#define LP 0.00434498759189575        /* Lu-177, peers/README.md s.2 */

static const double times[NT] = {4, 24, 72, 168};
/* peers/README.md s.2: typical rates (/h) k_PI k_IP k_PK k_KP k_PL k_LP
 * k_PT k_TP k_PR k_RP k_U, 30 % CV log-normal, 7400 MBq bolus into P */
static const double theta[11] = {0.60, 0.40, 0.030, 0.012, 0.040, 0.015,
                                 0.030, 0.004, 0.15, 0.030, 0.50};
static const double omega_pk = 0.293560379208524;

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The peer's 6-compartment system matrix (P, I, K, L, T, R) with decay. */
static void system_matrix(const double *k, double *M)
{
  memset(M, 0, 36 * sizeof *M);
  M[0] = -(k[0] + k[2] + k[4] + k[6] + k[8] + k[10] + LP);
  M[1] = k[1];
  M[2] = k[3];
  M[3] = k[5];
  M[4] = k[7];
  M[5] = k[9];
  M[1 * 6 + 0] = k[0];
  M[1 * 6 + 1] = -(k[1] + LP);
  M[2 * 6 + 0] = k[2];
  M[2 * 6 + 2] = -(k[3] + LP);
  M[3 * 6 + 0] = k[4];
  M[3 * 6 + 3] = -(k[5] + LP);
  M[4 * 6 + 0] = k[6];
  M[4 * 6 + 4] = -(k[7] + LP);
  M[5 * 6 + 0] = k[8];
  M[5 * 6 + 5] = -(k[9] + LP);
}

/* Kidney activity after 7400 MBq into P: (expm(M t) e_P)[K] * 7400. */
static double kidney(const double *M, double t)
{
  double mt[36], e[36];
  gsl_matrix_view a = gsl_matrix_view_array(mt, 6, 6);
  gsl_matrix_view b = gsl_matrix_view_array(e, 6, 6);
  int i;
  for (i = 0; i < 36; i++) mt[i] = M[i] * t;
  gsl_linalg_exponential_ss(&a.matrix, &b.matrix, GSL_PREC_DOUBLE);
  return 7400.0 * e[2 * 6 + 0];
}

/* Population prior from the peer model (not from the benchmark data):
 * 2000 virtual patients drawn with GSL's RNG from the peer's population,
 * noise-free kidney curves on a dense grid, an uptake-washout fit each;
 * typical values = geometric means of A and of the biological rates,
 * omega = SD of their logs; residual cv 10 % (the peer's noise). */
static void derive_prior(rkin_tac_prior *pr, double *pop_l)
{
  static const double grid[12] = {1, 2, 4, 8, 12, 24, 48, 72, 96, 120, 168,
                                  336};
  double sum[3] = {0}, ssq[3] = {0}, M[36], k[11], a[12];
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  rkin_tac_opts o;
  rkin_tac_cand c;
  int v, j, i, n = 0;
  gsl_rng_set(rng, 2024);
  rkin_tac_opts_default(&o);
  o.cv = CV;
  for (v = 0; v < 2000; v++) {
    rkin_tac_data d = {12, grid, a, NULL, "Lu-177"};
    for (j = 0; j < 11; j++)
      k[j] = theta[j] * exp(omega_pk * gsl_ran_ugaussian(rng));
    system_matrix(k, M);
    for (i = 0; i < 12; i++) a[i] = kidney(M, grid[i]);
    if (rkin_tac_fit_one(&d, &o, RKIN_TAC_UPWASH, &c, NULL) != 0
        || c.status != RKIN_TAC_OK)
      continue;
    {
      double x[3] = {log(c.p[0]), log(c.p[1] - LP), log(c.p[2] - LP)};
      for (j = 0; j < 3; j++) {
        sum[j] += x[j];
        ssq[j] += x[j] * x[j];
      }
      n++;
    }
  }
  memset(pr, 0, sizeof *pr);
  pr->model = RKIN_TAC_UPWASH;
  for (j = 0; j < 3; j++) {
    double m = sum[j] / n;
    pr->omega[j] = sqrt(ssq[j] / n - m * m);
    pr->typ[j] = j == 0 ? exp(m) : LP + exp(m);
  }
  pr->cv = CV;
  *pop_l = pr->typ[1];
  printf("population prior (upwash, %d of 2000 virtual patients fitted): "
         "A %.4g MBq, lw %.5g /h, lu %.4g /h; omega %.3f %.3f %.3f; "
         "cv %.2f\n", n, pr->typ[0], pr->typ[1], pr->typ[2], pr->omega[0],
         pr->omega[1], pr->omega[2], pr->cv);
  gsl_rng_free(rng);
}

static int read_csv(const char *path, double (*a)[NT], double *truth)
{
  char line[512];
  int n = 0, lineno = 1;
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "bench_tac: cannot open %s\n", path);
    return -1;
  }
  if (!fgets(line, sizeof line, f)
      || strncmp(line, "id,a4,a24,a72,a168,tia_true", 27) != 0) {
    fprintf(stderr, "bench_tac: %s:1: expected header "
            "id,a4,a24,a72,a168,tia_true\n", path);
    fclose(f);
    return -1;
  }
  while (n < NMAX && fgets(line, sizeof line, f)) {
    int id;
    lineno++;
    if (sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf", &id, &a[n][0], &a[n][1],
               &a[n][2], &a[n][3], &truth[n]) != 6) {
      fprintf(stderr, "bench_tac: %s:%d: expected 6 numbers\n", path,
              lineno);
      fclose(f);
      return -1;
    }
    n++;
  }
  fclose(f);
  return n;
}

static void report(const char *name, double *err, int nok, int n,
                   double secs, int ncand)
{
  double med = NAN, p5 = NAN, p95 = NAN;
  if (nok > 0) {
    gsl_sort(err, 1, (size_t)nok);
    med = gsl_stats_quantile_from_sorted_data(err, 1, (size_t)nok, 0.5);
    p5 = gsl_stats_quantile_from_sorted_data(err, 1, (size_t)nok, 0.05);
    p95 = gsl_stats_quantile_from_sorted_data(err, 1, (size_t)nok, 0.95);
  }
  printf("%-26s %6d %6d %+8.2f %+8.2f %+8.2f %9.4f %9.4f\n", name, nok,
         n - nok, 100 * med, 100 * p5, 100 * p95, 1e3 * secs / n,
         1e3 * secs / n / ncand);
}

int main(int argc, char **argv)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  static double a[NMAX][NT], truth[NMAX], err[NMAX];
  char path[1024] = "";
  const char *src = getenv("RADIOKIN_SRCDIR");
  int i, n, peer = 1, m, chosen[RKIN_TAC_NMODELS] = {0};
  rkin_tac_prior prior;
  rkin_tac_opts o;
  double pop_l, t0;

  bench_help(argc, argv,
             "usage: bench_tac [TAC_DATA.csv] [--no-peer]\n"
             "  TIA of the simulated kidney curves (4, 24, 72, 168 h) by "
             "every method of\n  engine/tac: error vs tia_true and time per "
             "curve per model, beside the\n  scipy peer tac_fit.py (skipped "
             "with --no-peer or without python3-scipy).\n  Default "
             "TAC_DATA.csv: tac_data.csv in the reference-program "
             "folder.\n");
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--no-peer") == 0) peer = 0;
    else if (argv[i][0] == '-' || path[0]) {
      fprintf(stderr, "bench_tac: argument %d must be the data file or "
              "--no-peer, once (got '%s')\n", i, argv[i]);
      return 2;
    }
    else snprintf(path, sizeof path, "%s", argv[i]);
  }
  if (!path[0])
    snprintf(path, sizeof path, "%s/../shared/peers/tac_data.csv",
             src ? src : ".");
  if ((n = read_csv(path, a, truth)) <= 0) return 1;
  printf("bench_tac: %d kidney TACs from %s, t = 4 24 72 168 h, error "
         "model: known cv %.2f\n", n, path, CV);
  {
    double M[36], k1[11] = {0.633219, 0.379058, 0.047197, 0.017163,
                            0.070741, 0.014229, 0.051374, 0.003736,
                            0.171843, 0.025954, 0.637767};
    double x[6], b[6] = {7400, 0, 0, 0, 0, 0};
    int sg;
    gsl_permutation *perm = gsl_permutation_alloc(6);
    gsl_matrix_view mv = gsl_matrix_view_array(M, 6, 6);
    gsl_vector_view xv = gsl_vector_view_array(x, 6);
    gsl_vector_view bv = gsl_vector_view_array(b, 6);
    system_matrix(k1, M);
    printf("model check: patient 1 kidney at 24 h = %.4f MBq (noisy datum "
           "%.4f);", kidney(M, 24), a[0][1]);
    /* TIA = -(M^-1 y0)_K; README s.2: 22317.17661 (k to 6 digits here) */
    gsl_linalg_LU_decomp(&mv.matrix, perm, &sg);
    gsl_linalg_LU_solve(&mv.matrix, perm, &bv.vector, &xv.vector);
    printf(" TIA %.2f vs tia_true %.2f MBq h\n", -x[2], truth[0]);
    gsl_permutation_free(perm);
  }
  derive_prior(&prior, &pop_l);
  printf("\n%-26s %6s %6s %8s %8s %8s %9s %9s\n", "method (TIA error %)",
         "ok", "not ok", "median", "P5", "P95", "ms/curve", "ms/cand");

  rkin_tac_opts_default(&o);
  o.cv = CV;
  for (m = RKIN_TAC_MONO; m <= RKIN_TAC_UPWASH; m++) {
    int nok = 0;
    t0 = now();
    for (i = 0; i < n; i++) {
      rkin_tac_data d = {NT, times, a[i], NULL, "Lu-177"};
      rkin_tac_cand c;
      rkin_tac_fit_one(&d, &o, (rkin_tac_model)m, &c, NULL);
      if (c.status == RKIN_TAC_OK) err[nok++] = c.tia / truth[i] - 1;
    }
    report(rkin_tac_model_name((rkin_tac_model)m), err, nok, n, now() - t0,
           1);
  }
  for (m = 0; m < 3; m++) {
    /* selection among mono, bi, upwash (tri needs 5 points): AICc (falls
     * back to AIC: n = 4 leaves AICc to mono only), AIC, averaged */
    static const char *nm[3] = {"select AICc (default)", "select AIC",
                                "Akaike-weighted average"};
    int nok = 0;
    o.criterion = m == 1 ? RKIN_TAC_AIC : RKIN_TAC_AICC;
    o.average = m == 2;
    t0 = now();
    for (i = 0; i < n; i++) {
      rkin_tac_data d = {NT, times, a[i], NULL, "Lu-177"};
      rkin_tac_result r;
      if (rkin_tac_fit(&d, &o, &r, NULL) != 0) continue;
      if (m == 0) chosen[r.chosen]++;
      err[nok++] = r.tia / truth[i] - 1;
    }
    report(nm[m], err, nok, n, now() - t0, 3);
  }
  for (m = 0; m < 4; m++) {
    /* single time point: 24 h and 72 h */
    int nok = 0, ti = m % 2 ? 2 : 1;
    char nm[64];
    t0 = now();
    for (i = 0; i < n; i++) {
      rkin_tac_stp s;
      int rc = m < 2 ? rkin_tac_stp_haenscheid(times[ti], a[i][ti], 0, 0.95,
                                               &s, NULL)
                     : rkin_tac_stp_poplambda(times[ti], a[i][ti], 0, pop_l,
                                              0, 0.95, &s, NULL);
      if (rc == 0) err[nok++] = s.tia / truth[i] - 1;
    }
    snprintf(nm, sizeof nm, "%s %g h", m < 2 ? "STP Haenscheid"
                                             : "STP pop. half-life",
             times[ti]);
    report(nm, err, nok, n, now() - t0, 1);
  }
  for (m = 0; m < 3; m++) {
    /* MAP under the peer-derived prior: one point (24 h, 72 h), two
     * points (24 + 168 h) */
    static const int pts[3][2] = {{1, -1}, {2, -1}, {1, 3}};
    static const char *nm[3] = {"MAP 24 h", "MAP 72 h", "MAP 24 + 168 h"};
    int nok = 0;
    t0 = now();
    for (i = 0; i < n; i++) {
      double tt[2], aa[2];
      size_t np = pts[m][1] < 0 ? 1 : 2, j;
      rkin_tac_data d = {np, tt, aa, NULL, "Lu-177"};
      rkin_tac_cand c;
      for (j = 0; j < np; j++) {
        tt[j] = times[pts[m][j]];
        aa[j] = a[i][pts[m][j]];
      }
      if (rkin_tac_map(&d, &prior, 0.95, &c, NULL) == 0)
        err[nok++] = c.tia / truth[i] - 1;
    }
    report(nm[m], err, nok, n, now() - t0, 1);
  }
  printf("\nAICc selection chose: mono %d, bi %d, upwash %d, tri %d, "
         "trapezoid %d\n", chosen[0], chosen[1], chosen[2], chosen[3],
         chosen[4]);
  printf("peer (SciPy curve_fit reference fit): mono median "
         "-4.7 %%, bi (uptake-washout) +0.0 %%; ~0.2 ms/fit\n");
  if (peer) {
    char dir[1024], nstr[32];
    char *check[] = {"/usr/bin/python3", "-c", "import scipy", NULL};
    char *run[] = {"/usr/bin/python3", "tac_fit.py", nstr, "--no-csv", NULL};
    char *slash;
    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    snprintf(nstr, sizeof nstr, "%d", n);
    if (access(check[0], X_OK) || spawn_run(NULL, check, 1) != 0) {
      printf("peer not run: /usr/bin/python3 with scipy not available\n");
    } else {
      printf("\nrunning the peer in the same session:\n");
      fflush(stdout);
      if (spawn_run(dir, run, 0) != 0) printf("peer run failed\n");
    }
  }
  return 0;
}
