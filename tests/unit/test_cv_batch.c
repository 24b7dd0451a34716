/* test_cv_batch.c - batched cohorts (several patients as one CVODES
 * system: engine/solve/cv_batch.c, cv_block.c, the cohort loop of
 * engine/pop/vpop.c).
 *
 * 1. The block vector's WRMS norms (max over blocks) against SUNDIALS'
 *    serial N_VWrmsNorm / N_VWrmsNormMask of each block alone (a few
 *    roundoffs: the summation order differs), for block lengths 1 to 8;
 *    clones keep the block length; the block LU against SUNDIALS' dense
 *    linear solver (SUNLinSol_Dense, unreplaced) block by block, and a
 *    singular block reported as SUNLS_LUFACT_FAIL.
 * 2. Cohorts run both ways (batch 8 and one by one) against an exact
 *    reference: the linear 6-state peer model on the CVODES path vs the
 *    exact path (matrix exponential); a nonlinear model (saturable binding
 *    with Lu-177 decay, a bolus whose F differs per patient and an
 *    infusion) vs one-by-one runs at rtol 1e-11. 21 and 19 patients
 *    (batches of 8 do not divide them). Max relative error <= 1e-6 at
 *    rtol 1e-6 (issue 15), the two ways within 1e-6 of each other.
 * 3. A patient whose right-hand side is not finite (a parameter 0 in a
 *    denominator) inside a batch: marked failed with the same code and
 *    message as one by one, and its batch-mates' TIAs identical (bit for
 *    bit) to the one-by-one run's; the other batches ran batched (their
 *    TIAs differ from one-by-one in the last digits).
 * 4. What the batch refuses (rkin_cvbatch_refusal). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvector/nvector_serial.h>
#include <sundials/sundials_config.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

#include "core/init.h"
#include "pop/vpop.h"
#include "solve/cv_batch.h"
#include "solve/cv_block.h"
#include "../peer.h"
#include "../tap.h"

static SUNContext ctx;

static double rnd(void)
{
  static unsigned long x = 4242;
  x = (x * 1103515245ul + 12345ul) & 0x7fffffff;
  return 2.0 * (double)x / 2147483648.0 - 1.0;
}

static int close_to(double a, double b, double ulps)
{
  return fabs(a - b) <= ulps * DBL_EPSILON * fmax(fabs(a), fabs(b));
}

/* ------------------------------------------------------------ 1. kernels */

static void test_norms(void)
{
  size_t nblk = 3, nb, k, i;
  int bad = 0, bad_mask = 0, bad_arr = 0, bad_clone = 0;
  for (nb = 1; nb <= 8; nb++) {
    N_Vector x = rkin_block_vector(nblk, nb, ctx), w = N_VClone(x);
    N_Vector id = N_VClone(x), c = N_VClone(x);
    N_Vector sx = N_VNew_Serial((sunindextype)nb, ctx);
    N_Vector sw = N_VNew_Serial((sunindextype)nb, ctx);
    N_Vector sid = N_VNew_Serial((sunindextype)nb, ctx);
    double want = 0, want_m = 0, got, arr[2];
    N_Vector xs[2], ws[2];
    for (i = 0; i < nblk * nb; i++) {
      /* block 1 is the largest, so the max is not the first block */
      NV_DATA_S(x)[i] = rnd() * (i / nb == 1 ? 30.0 : 3.0);
      NV_DATA_S(w)[i] = 1.0 + fabs(rnd());
      NV_DATA_S(id)[i] = rnd() > 0 ? 1.0 : 0.0;
    }
    for (k = 0; k < nblk; k++) {
      double s, sm;
      memcpy(NV_DATA_S(sx), NV_DATA_S(x) + k * nb, nb * sizeof(double));
      memcpy(NV_DATA_S(sw), NV_DATA_S(w) + k * nb, nb * sizeof(double));
      memcpy(NV_DATA_S(sid), NV_DATA_S(id) + k * nb, nb * sizeof(double));
      s = N_VWrmsNorm_Serial(sx, sw);
      sm = N_VWrmsNormMask_Serial(sx, sw, sid);
      if (s > want) want = s;
      if (sm > want_m) want_m = sm;
    }
    got = N_VWrmsNorm(x, w);
    if (!close_to(got, want, 8)) bad++;
    if (!close_to(N_VWrmsNormMask(x, w, id), want_m, 8)) bad_mask++;
    xs[0] = xs[1] = x;
    ws[0] = ws[1] = w;
    N_VWrmsNormVectorArray(2, xs, ws, arr);
    if (!close_to(arr[0], want, 8) || !close_to(arr[1], want, 8)) bad_arr++;
    N_VScale(1.0, x, c);
    if (rkin_block_vector_nb(c) != nb || N_VWrmsNorm(c, w) != got
        || N_VGetLength(c) != (sunindextype)(nblk * nb))
      bad_clone++;
    N_VDestroy(x);
    N_VDestroy(w);
    N_VDestroy(id);
    N_VDestroy(c);
    N_VDestroy(sx);
    N_VDestroy(sw);
    N_VDestroy(sid);
  }
  ok(!bad, "block WRMS norm = max over blocks of SUNDIALS' serial WRMS "
     "norm of each block (block lengths 1-8, 3 blocks)");
  ok(!bad_mask, "masked block WRMS norm = max of SUNDIALS' masked norms");
  ok(!bad_arr, "WRMS norm of a vector array: the block norm of each");
  ok(!bad_clone, "a clone keeps the block length, the length and the norm");
}

static void test_block_lu(void)
{
  size_t nblk = 3, nb, k, i, j;
  int bad = 0, flag_ok;
  for (nb = 1; nb <= 8; nb++) {
    SUNMatrix A = rkin_block_matrix(nblk, nb, ctx);
    SUNLinearSolver S = rkin_block_lu(nblk, nb, ctx);
    N_Vector b = rkin_block_vector(nblk, nb, ctx), x = N_VClone(b);
    SUNMatrix D = SUNDenseMatrix((sunindextype)nb, (sunindextype)nb, ctx);
    N_Vector sb = N_VNew_Serial((sunindextype)nb, ctx);
    N_Vector sx = N_VNew_Serial((sunindextype)nb, ctx);
    SUNLinearSolver R = SUNLinSol_Dense(sb, D, ctx);
    double orig[3 * 64];
    for (k = 0; k < nblk; k++)
      for (i = 0; i < nb * nb; i++)
        rkin_block_matrix_block(A, k)[i] = rnd() + (i % (nb + 1) == 0 && k
                                                    ? 0.0 : 0.1);
    for (i = 0; i < nblk * nb; i++) NV_DATA_S(b)[i] = 5 * rnd();
    /* (the block LU factors A in place) */
    memcpy(orig, rkin_block_matrix_block(A, 0), nblk * nb * nb
           * sizeof(double));
    for (k = 0; k < nblk; k++) {
      /* SUNDIALS' own on a copy of block k */
      memcpy(SM_DATA_D(D), orig + k * nb * nb, nb * nb * sizeof(double));
      memcpy(NV_DATA_S(sb), NV_DATA_S(b) + k * nb, nb * sizeof(double));
      if (SUNLinSolSetup(R, D) || SUNLinSolSolve(R, D, sx, sb, 0.0)) bad++;
      if (k == 0) {
        if (SUNLinSolInitialize(S) || SUNLinSolSetup(S, A)
            || SUNLinSolSolve(S, A, x, b, 0.0))
          bad++;
      }
      for (j = 0; j < nb; j++)
        if (!close_to(NV_DATA_S(x)[k * nb + j], NV_DATA_S(sx)[j], 64))
          bad++;
    }
    N_VDestroy(b);
    N_VDestroy(x);
    N_VDestroy(sb);
    N_VDestroy(sx);
    SUNLinSolFree(R);
    SUNMatDestroy(D);
    SUNLinSolFree(S);
    SUNMatDestroy(A);
  }
  ok(!bad, "block LU solutions = SUNDIALS' dense LU of each block (block "
     "lengths 1-8, 3 blocks)");
  {
    /* block 1 of 2 singular (a zero column) */
    SUNMatrix A = rkin_block_matrix(2, 3, ctx);
    SUNLinearSolver S = rkin_block_lu(2, 3, ctx);
    for (i = 0; i < 9; i++) {
      rkin_block_matrix_block(A, 0)[i] = i % 4 == 0 ? 2.0 : 0.5;
      rkin_block_matrix_block(A, 1)[i] = i / 3 == 1 ? 0.0 : 1.0 + i;
    }
    flag_ok = SUNLinSolSetup(S, A) == SUNLS_LUFACT_FAIL;
    ok(flag_ok, "a singular block: SUNLS_LUFACT_FAIL (recoverable)");
    SUNLinSolFree(S);
    SUNMatDestroy(A);
  }
}

/* ------------------------------------------------------------ 2. cohorts */

static size_t first_id;   /* rkin_cohort_spec.first_id of cohort() */
static int nthreads = 1;  /* ... and its threads */

/* Runs a cohort; returns rkin_cohort_run's code. */
static int cohort(const rkin_model *m, rkin_path path, double rtol,
                  double atol, size_t batch, size_t n, const double *par,
                  const rkin_dosing *d, size_t ncyc, double cyc_h,
                  const int *tia, size_t ntia, double *out, int *status,
                  rkin_cohort_res *res)
{
  rkin_cohort_spec sp = {0};
  rkin_err err;
  rkin_solve_opts_default(&sp.opts);
  sp.opts.rtol = rtol;
  sp.opts.atol = atol;
  sp.opts.path = path;
  sp.model = m;
  sp.n_patients = n;
  sp.params = par;
  sp.n_cycles = ncyc;
  sp.cycle_h = cyc_h;
  sp.dosing = d;
  sp.tia = tia;
  sp.n_tia = ntia;
  sp.threads = nthreads;
  sp.first_id = first_id;
  sp.batch = batch;
  memset(res, 0, sizeof *res);
  res->tia = out;
  res->status = status;
  return rkin_cohort_run(&sp, res, &err);
}

static double max_rel(const double *a, const double *b, size_t n)
{
  double w = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double r = fabs(a[i] / b[i] - 1);
    if (!(r <= w)) w = r;
  }
  return w;
}

static void test_peer(void)
{
  enum { N = 21 };
  rkin_err err;
  rkin_model *m = peer_model(&err);
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose bolus = {0, PEER_DOSE_MBQ, 0, 0, 0, 0, 0, 0};
  static double k[N * PEER_NPAR], ex[N * 4], b8[N * 4], b1[N * 4];
  int st[N], kid = PEER_KIDNEY, rc;
  rkin_cohort_res r8, r1, re;
  rkin_dosing_add(d, &bolus, NULL);
  peer_population(N, k);
  rc = cohort(m, RKIN_PATH_EXACT, 1e-6, 1e-9, 8, N, k, d, 4, PEER_CYCLE_H,
              &kid, 1, ex, st, &re);
  rc |= cohort(m, RKIN_PATH_CVODES, 1e-6, 1e-9, 8, N, k, d, 4,
               PEER_CYCLE_H, &kid, 1, b8, st, &r8);
  rc |= cohort(m, RKIN_PATH_CVODES, 1e-6, 1e-9, 1, N, k, d, 4,
               PEER_CYCLE_H, &kid, 1, b1, st, &r1);
  ok(!rc && !re.n_failed && !r8.n_failed && !r1.n_failed,
     "peer cohort: three runs, no patient failed");
  diag("peer, 21 patients x 4 cycles: batch 8 vs exact %.2e, one by one "
       "vs exact %.2e, batch vs one by one %.2e; steps %ld vs %ld",
       max_rel(b8, ex, N * 4), max_rel(b1, ex, N * 4),
       max_rel(b8, b1, N * 4), r8.n_steps, r1.n_steps);
  ok(max_rel(b8, ex, N * 4) <= 1e-6, "peer: batched TIAs within 1e-6 of "
     "the exact path (rtol 1e-6)");
  ok(max_rel(b1, ex, N * 4) <= 1e-6, "peer: one-by-one TIAs within 1e-6 "
     "of the exact path");
  ok(max_rel(b8, b1, N * 4) <= 1e-6 && memcmp(b8, b1, sizeof b8),
     "peer: batched and one-by-one within 1e-6, not identical (batched)");
  ok(r8.n_steps >= r1.n_steps && r8.n_steps <= 2 * r1.n_steps,
     "peer: steps count a batch's steps once per patient (%ld, one by one "
     "%ld: a batch steps as its most demanding patient)", r8.n_steps,
     r1.n_steps);
  rkin_dosing_free(d);
  rkin_model_free(m);
}

/* Saturable binding, states P (plasma), T (tissue, free), B (bound),
 * with Lu-177 decay:
 *   P' = -ke/s P - k1 P + k2 T
 *   T' =  k1 P - k2 T - kon T (Bmax - B) + koff B
 *   B' =  kon T (Bmax - B) - koff B
 * F of a bolus into P is the parameter f, its ALAG lag; s = 0 makes P'
 * non-finite. */
enum { KE, K1, K2, KON, KOFF, BMAX, FB, S, LAG, NPS };
static const char *const sat_par[NPS] = {"ke", "k1", "k2", "kon", "koff",
                                         "Bmax", "f", "s", "lag"};
static const double sat_val[NPS] = {0.1, 0.05, 0.02, 0.002, 0.01, 400, 0.8,
                                    1.0, 0.0};

static rkin_model *sat_model(void)
{
  static const char *const st[] = {"P", "T", "B"};
  rkin_graph *g = rkin_graph_new();
  rkin_node P = rkin_expr_state(g, 0), T = rkin_expr_state(g, 1);
  rkin_node B = rkin_expr_state(g, 2), p[NPS], d[3], bind, mods[RKIN_MOD_N * 3];
  rkin_model_spec sp;
  rkin_model *m;
  rkin_err err;
  int i;
  for (i = 0; i < NPS; i++) p[i] = rkin_expr_param(g, i);
#define MUL(a, b) rkin_expr_binary(g, RKIN_OP_MUL, a, b)
#define SUB(a, b) rkin_expr_binary(g, RKIN_OP_SUB, a, b)
#define ADD(a, b) rkin_expr_binary(g, RKIN_OP_ADD, a, b)
  bind = SUB(MUL(MUL(p[KON], T), SUB(p[BMAX], B)), MUL(p[KOFF], B));
  d[0] = ADD(rkin_expr_unary(g, RKIN_OP_NEG,
                             MUL(ADD(rkin_expr_binary(g, RKIN_OP_DIV, p[KE],
                                                      p[S]), p[K1]), P)),
             MUL(p[K2], T));
  d[1] = SUB(SUB(MUL(p[K1], P), MUL(p[K2], T)), bind);
  d[2] = bind;
#undef MUL
#undef SUB
#undef ADD
  memset(&sp, 0, sizeof sp);
  sp.name = "sat_binding";
  sp.nuclide = rkin_nuclide_find("Lu-177", &err);
  sp.n_states = 3;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = NPS;
  sp.params = sat_par;
  sp.values = sat_val;
  m = rkin_model_new(&sp, g, &err);
  for (i = 0; i < RKIN_MOD_N * 3; i++) mods[i] = -1;
  mods[RKIN_MOD_F * 3 + 0] = p[FB];
  mods[RKIN_MOD_LAG * 3 + 0] = p[LAG];
  if (m && rkin_model_set_dose_mods(m, mods, &err)) {
    rkin_model_free(m);
    return NULL;
  }
  return m;
}

static void test_saturable(void)
{
  enum { N = 19, NC = 3, NT = 2, BADP = 4, LAGP = 10 };
  rkin_model *m = sat_model();
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose bolus = {0, 1000, 0, 0, 0, 0, 0, 0};
  rkin_dose inf = {24, 200, 50, 1, 0, 0, 0, 0};   /* 4 h into T */
  static double par[N * NPS], ref[N * NC * NT], b8[N * NC * NT],
      b1[N * NC * NT];
  int s8[N], s1[N], sr[N], tia[NT] = {0, 2}, rc;
  size_t i, j, mates_same = 1, uneven_same = 1, others_differ = 0, nok = 0;
  rkin_cohort_res r8, r1, rr;
  double e8 = 0, e1 = 0, e81 = 0;
  if (!m) {
    ok(0, "saturable model built");
    return;
  }
  rkin_dosing_add(d, &bolus, NULL);
  rkin_dosing_add(d, &inf, NULL);
  for (i = 0; i < N; i++)
    for (j = 0; j < NPS; j++)
      par[i * NPS + j] = sat_val[j] * (j == S ? 1.0 : exp(0.3 * rnd()));
  /* patient 11 takes its bolus 0.5 h late: batch 2 (9-16) has no common
   * dose times */
  par[LAGP * NPS + LAG] = 0.5;
  for (i = 0; i < N; i++) par[i * NPS + FB] = 0.5 + 0.5 * (i % 5) / 4.0;
  par[BADP * NPS + S] = 0.0;   /* patient 5: ke / 0 */
  rc = cohort(m, RKIN_PATH_CVODES, 1e-11, 1e-12, 1, N, par, d, NC, 336, tia,
              NT, ref, sr, &rr);
  rc |= cohort(m, RKIN_PATH_AUTO, 1e-6, 1e-9, 8, N, par, d, NC, 336, tia,
               NT, b8, s8, &r8);
  rc |= cohort(m, RKIN_PATH_AUTO, 1e-6, 1e-9, 1, N, par, d, NC, 336, tia,
               NT, b1, s1, &r1);
  ok(!rc, "saturable cohorts ran");
  ok(r8.n_failed == 1 && r1.n_failed == 1 && r8.first_failed == BADP
     && r1.first_failed == BADP && s8[BADP] == s1[BADP] && s8[BADP] < 0,
     "the patient with a non-finite right-hand side fails in its batch "
     "as one by one (code %d / %d)", s8[BADP], s1[BADP]);
  ok(!strcmp(r8.first.msg, r1.first.msg), "... with the same message");
  like(r8.first.msg, "patient 5, cycle 1", "... naming the patient");
  for (i = 0; i < N * NC * NT; i++) {
    size_t pt = i / (NC * NT);
    double a, b;
    if (pt == BADP) {
      nok += isnan(b8[i]) && isnan(b1[i]);
      continue;
    }
    if (pt < 8 && b8[i] != b1[i]) mates_same = 0;
    if (pt >= 8 && pt < 16 && b8[i] != b1[i]) uneven_same = 0;
    if (pt >= 16 && b8[i] != b1[i]) others_differ++;
    a = fabs(b8[i] / ref[i] - 1);
    b = fabs(b1[i] / ref[i] - 1);
    if (!(a <= e8)) e8 = a;
    if (!(b <= e1)) e1 = b;
    a = fabs(b8[i] / b1[i] - 1);
    if (!(a <= e81)) e81 = a;
  }
  ok(nok == NC * NT, "its TIAs are NaN both ways");
  ok(mates_same, "its batch-mates' TIAs are those of the one-by-one run "
     "(bit for bit: the failed batch was rerun patient by patient)");
  ok(uneven_same, "a batch whose dose times differ (one patient's ALAG) "
     "runs one by one: TIAs bit for bit those of the one-by-one run");
  ok(others_differ > 0, "the last batch (3 patients) ran batched (%zu of "
     "%d TIAs differ from one by one in the last digits)", others_differ,
     (N - 16) * NC * NT);
  diag("saturable, 19 patients x 3 cycles: batch 8 vs reference %.2e, "
       "one by one %.2e, batch vs one by one %.2e; steps %ld vs %ld", e8,
       e1, e81, r8.n_steps, r1.n_steps);
  ok(e8 <= 1e-6, "saturable: batched TIAs within 1e-6 of the rtol 1e-11 "
     "reference (%.2e)", e8);
  ok(e1 <= 1e-6, "saturable: one-by-one TIAs within 1e-6 (%.2e)", e1);
  ok(e81 <= 1e-6, "saturable: batched vs one by one within 1e-6 (%.2e)",
     e81);
  rkin_dosing_free(d);
  rkin_model_free(m);
}

/* The groups follow the patients' numbers in the whole cohort (1-8,
 * 9-16, 17-19): a cohort run in two blocks, 1-5 and 6-19 (first_id 5),
 * gives patients 9-19 the TIAs of the whole run bit for bit (6-8 form a
 * group of their own); two threads give every TIA of the whole run. */
static void test_split(void)
{
  enum { N = 19, NC = 2, NT = 2, CUT = 5 };
  rkin_model *m = sat_model();
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose bolus = {0, 1000, 0, 0, 0, 0, 0, 0};
  static double par[N * NPS], whole[N * NC * NT], parts[N * NC * NT],
      thr[N * NC * NT];
  int st[N], tia[NT] = {0, 2}, rc;
  size_t i, j;
  rkin_cohort_res r;
  rkin_dosing_add(d, &bolus, NULL);
  for (i = 0; i < N; i++)
    for (j = 0; j < NPS; j++)
      par[i * NPS + j] = sat_val[j] * (j == S || j == LAG ? 1.0
                                       : exp(0.3 * rnd()));
  rc = cohort(m, RKIN_PATH_AUTO, 1e-6, 1e-9, 8, N, par, d, NC, 336, tia, NT,
              whole, st, &r);
  rc |= cohort(m, RKIN_PATH_AUTO, 1e-6, 1e-9, 8, CUT, par, d, NC, 336, tia,
               NT, parts, st, &r);
  first_id = CUT;
  rc |= cohort(m, RKIN_PATH_AUTO, 1e-6, 1e-9, 8, N - CUT, par + CUT * NPS,
               d, NC, 336, tia, NT, parts + CUT * NC * NT, st, &r);
  first_id = 0;
  nthreads = 2;
  rc |= cohort(m, RKIN_PATH_AUTO, 1e-6, 1e-9, 8, N, par, d, NC, 336, tia, NT,
               thr, st, &r);
  nthreads = 1;
  ok(!rc && !memcmp(whole + 8 * NC * NT, parts + 8 * NC * NT,
                    (N - 8) * NC * NT * sizeof *whole),
     "19 patients in blocks of 5 and 14 (first_id 5): patients 9-19 in the "
     "same batches, the same TIAs bit for bit");
  ok(!memcmp(whole, thr, sizeof whole), "... and on two threads");
  rkin_dosing_free(d);
  rkin_model_free(m);
}

/* ---------------------------------------------------------- 3. refusals */

static void test_refusal(void)
{
  rkin_err err;
  rkin_model *m = peer_model(&err), *s = sat_model();
  rkin_solve_opts o;
  rkin_dosing *d = rkin_dosing_new(), *dss = rkin_dosing_new();
  rkin_dose bolus = {0, 100, 0, 0, 0, 0, 0, 0};
  rkin_dose ss = {0, 100, 0, 0, 24, 0, 1, 1};
  rkin_dosing_add(d, &bolus, NULL);
  rkin_dosing_add(dss, &ss, NULL);
  rkin_solve_opts_default(&o);
  ok(rkin_cvbatch_refusal(m, &o, d) != NULL, "refused: a linear model on "
     "AUTO (exact path)");
  o.path = RKIN_PATH_EXACT;
  ok(rkin_cvbatch_refusal(s, &o, d) != NULL, "refused: the exact path");
  o.path = RKIN_PATH_CVODES;
  ok(rkin_cvbatch_refusal(m, &o, d) == NULL, "covered: the peer on CVODES");
  ok(rkin_cvbatch_refusal(s, &o, dss) != NULL, "refused: a steady-state "
     "record");
  o.jacobian = RKIN_JAC_SPARSE;
  ok(rkin_cvbatch_refusal(s, &o, d) != NULL, "refused: a sparse Newton "
     "matrix");
  rkin_dosing_free(d);
  rkin_dosing_free(dss);
  rkin_model_free(m);
  rkin_model_free(s);
}

int main(void)
{
  rkin_init();
#if SUNDIALS_VERSION_MAJOR >= 7
  SUNContext_Create(SUN_COMM_NULL, &ctx);
#else
  SUNContext_Create(NULL, &ctx);
#endif
  test_norms();
  test_block_lu();
  test_peer();
  test_saturable();
  test_split();
  test_refusal();
  SUNContext_Free(&ctx);
  done_testing();
  return exit_status();
}
