/* test_guards.c - guards for formulas that the mutation check
 * (tests/mutate/run.sh) found unguarded: each block names the mutant of
 * tests/mutate/mutants.txt it kills and checks the engine against a value
 * computed here independently. */
#include <math.h>
#include <stdlib.h>

#include "core/init.h"
#include "core/expr.h"
#include "core/model.h"
#include "core/nuclide.h"
#include "dose/dosimetry.h"
#include "dose/radiobio.h"
#include "dose/sphere.h"
#include "dose/tcp.h"
#include "pop/vpop.h"
#include "tac/tac.h"
#include "tare/tare.h"
#include "../tap.h"

/* Normal density. */
static double npdf(double x, double m, double s)
{
  double z = (x - m) / s;
  return exp(-0.5 * z * z) / (s * sqrt(2 * M_PI));
}

/* Mutant tcp-norm. Poisson TCP averaged over alpha ~ N(mean, sd)
 * truncated to alpha > 0 (a radiosensitivity is positive): TCP =
 * int_0^inf pdf(alpha) exp(-N0 e^{-alpha BED}) d alpha / P(alpha > 0).
 * Here by composite Simpson (200000 intervals on [0, mean + 10 sd];
 * error < 1e-9 for an integrand whose steepest part is 1/BED = 1.7e-3
 * wide, 37 steps). With sd = 0.8 mean, P(alpha < 0) = 10.6 %, so leaving
 * out the renormalisation lowers TCP by that share: 0.1 absolute against
 * a relative tolerance of 1e-6. */
static void test_tcp_truncated(void)
{
  rkin_tcp p = {0.1, 0.08, 10, 1e10, 0.01};
  const double dose = 200, g = 0.1, bed = dose * (1 + g * dose / 10);
  const double n0 = 1e10 * 0.01, hi = 0.1 + 10 * 0.08;
  const int n = 200000;
  double num = 0, den = 0, h = hi / n, tcp = NAN, ref;
  rkin_err err;
  int i;
  for (i = 0; i <= n; i++) {
    double a = i * h, w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
    double f = npdf(a, p.alpha_mean, p.alpha_sd);
    num += w * f * exp(-n0 * exp(-a * bed));
    den += w * f;
  }
  ref = num / den;
  ok(rkin_tcp_poisson(dose, g, &p, &tcp, &err) == 0, "TCP with a wide "
     "alpha spread (sd 0.08, mean 0.1) computed");
  is_double(tcp, ref, 1e-6, "TCP = truncated-normal average of exp(-N0 "
            "e^-alpha BED) by Simpson here (%.6f; rel. 1e-6)", ref);
  ok(fabs(num * h / 3 - ref) > 0.05, "... the unrenormalised average "
     "%.4f differs by > 0.05 (power of the check)", num * h / 3);
  /* No spread: exp(-N0 e^{-alpha BED}) exactly. */
  p.alpha_sd = 0;
  p.alpha_mean = 0.035;
  rkin_tcp_poisson(dose, g, &p, &tcp, &err);
  is_double(tcp, exp(-n0 * exp(-0.035 * bed)), 1e-12,
            "TCP without spread = exp(-N0 e^-alpha BED) (1e-12)");
}

/* Mutant eqd2-factor: EQD2 = BED / (1 + 2 / (alpha/beta)) (Withers'
 * 2 Gy reference fraction), by hand for three alpha/beta values. */
static void test_eqd2(void)
{
  static const double ab[3] = {2.5, 3, 10};
  int k, all = 1;
  for (k = 0; k < 3; k++) {
    rkin_lq lq = {ab[k], 1.5};
    double e = NAN;
    rkin_err err;
    rkin_radiobio_eqd2(60, &lq, "kidney", &e, &err);
    all &= fabs(e - 60 / (1 + 2 / ab[k])) < 1e-12 * 60;
  }
  ok(all, "EQD2 of BED 60 Gy = 60 / (1 + 2/(a/b)) for a/b 2.5, 3, 10: "
     "30, 36, 50 Gy (1e-12)");
}

/* Mutants trapezoid-start and trapezoid-tail: the trapezoid TIA by hand,
 * 3 points, A(0) = 0 (a triangle from the origin) or flat (A(0) = A(t1)),
 * plus the physical-decay tail A_n / lambda_phys. */
static void test_trapezoid(void)
{
  static const double t[3] = {4, 24, 96}, a[3] = {80, 60, 20};
  const double lp = log(2.0) / (6.647 * 24);   /* Lu-177 */
  const double mid = 0.5 * (80 + 60) * 20 + 0.5 * (60 + 20) * 72;
  rkin_tac_data d = {3, t, a, NULL, "Lu-177"};
  rkin_tac_opts o;
  rkin_tac_cand c;
  rkin_err err;
  rkin_tac_opts_default(&o);
  o.cv = 0.1;
  rkin_tac_fit_one(&d, &o, RKIN_TAC_TRAP, &c, &err);
  is_double(c.tia, 0.5 * 4 * 80 + mid + 20 / lp, 1e-12,
            "trapezoid from (0, 0): 160 + 4280 + A_n/lambda_phys MBq h");
  o.trap_a0 = RKIN_TAC_TRAP_FLAT;
  rkin_tac_fit_one(&d, &o, RKIN_TAC_TRAP, &c, &err);
  is_double(c.tia, 4 * 80 + mid + 20 / lp, 1e-12,
            "trapezoid, flat start: 320 + 4280 + A_n/lambda_phys MBq h");
}

/* Mutant mass-scaling-photon: S(m) = S_e m_ref/m + S_p (m_ref/m)^(2/3),
 * by hand at three masses with electron and photon parts apart. */
static void test_mass_scaling(void)
{
  static const double m[3] = {0.15, 0.3, 1.2};
  rkin_err err;
  double s;
  int k, all = 1;
  for (k = 0; k < 3; k++) {
    rkin_dosimetry_scale_self(2e-4, 3e-5, 0.3, m[k], "kidney", &s, &err);
    all &= fabs(s - (2e-4 * 0.3 / m[k] + 3e-5 * pow(0.3 / m[k], 2.0 / 3)))
           < 1e-14 * s;
    rkin_dosimetry_scale_self(0, 3e-5, 0.3, m[k], "kidney", &s, &err);
    all &= fabs(s - 3e-5 * pow(0.3 / m[k], 2.0 / 3)) < 1e-14 * s;
  }
  ok(all, "mass scaling: S_e m_ref/m + S_p (m_ref/m)^(2/3) at 0.15, 0.3, "
     "1.2 kg, and the photon part alone (1e-14)");
}

/* Mutant sphere-s-photon: the sphere S value is (E_e phi_e + E_p phi_p) /
 * m with E = energy per decay x 3.6e9 decays per MBq h x J/MeV, from the
 * absorbed fractions the model reports (photons partly escape). */
static void test_sphere_s(void)
{
  static const char *nuc[2] = {"Lu-177", "I-131"};
  int k;
  for (k = 0; k < 2; k++) {
    const rkin_nuclide *n = rkin_nuclide_find(nuc[k], NULL);
    rkin_sphere sp;
    rkin_err err;
    double de, dp;
    if (!n || rkin_sphere_eval(n, 0.05, 1.04, &sp, &err)) {
      ok(0, "%s sphere (%s)", nuc[k], err.msg);
      continue;
    }
    de = n->e_np_mev * 3.6e9 * 1.602176634e-13;
    dp = n->e_p_mev * 3.6e9 * 1.602176634e-13;
    is_double(sp.s_gy_per_mbqh, (de * sp.phi_e + dp * sp.phi_p) / 0.05,
              1e-12, "%s 50 g sphere: S = (E_e phi_e + E_p phi_p)/m", nuc[k]);
    ok(sp.phi_p > 0 && sp.phi_p < 0.5 && dp * (1 - sp.phi_p) > 0.01 *
       (de * sp.phi_e + dp * sp.phi_p), "... photons mostly escape (phi_p "
       "%.3f), and counting them all would add > 1 %% (power)", sp.phi_p);
  }
}

/* Mutant vpop-lognormal-cov: a lognormal covariate given by the mean and
 * SD of the value: log W ~ N(log m - s2/2, s2), s2 = ln(1 + (sd/m)^2).
 * N = 400000 patients of mean 80, SD 15 kg: the SD of log W has SE
 * sqrt(s2 / (2N)) = 2.1e-4, band 4 SE; the tempting s2 = (sd/m)^2 gives
 * 0.1875 instead of 0.18589, 7.7 SE away (power Phi(3.7) = 0.9999). The
 * mean of W has SE 15/sqrt(N) = 0.024; band 4 SE. */
static void test_lognormal_covariate(void)
{
  enum { N = 400000 };
  static const char *states[] = {"A"}, *params[] = {"k"}, *cn[] = {"W"};
  static const double values[] = {0.1};
  rkin_graph *g = rkin_graph_new();
  rkin_node d = rkin_expr_unary(
    g, RKIN_OP_NEG, rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                                     rkin_expr_state(g, 0)));
  rkin_model_spec sp = {0};
  rkin_covdist cd = {"W", RKIN_DIST_LOGNORMAL, 80, 15, -INFINITY, INFINITY};
  rkin_pop_spec ps = {0};
  rkin_model *m;
  rkin_err err;
  double *cov = malloc(N * sizeof *cov), mean = 0, lm = 0, lv = 0, se;
  double s2 = log1p((15.0 / 80) * (15.0 / 80));
  size_t i;
  sp.name = "one";
  sp.n_states = 1;
  sp.states = states;
  sp.deriv = &d;
  sp.n_params = 1;
  sp.params = params;
  sp.values = values;
  m = rkin_model_new(&sp, g, &err);
  ps.model = m;
  ps.n_cov = 1;
  ps.cov_names = cn;
  ps.cov = &cd;
  ps.threads = 2;
  if (!m || !cov || rkin_pop_sample(&ps, 2022, N, NULL, NULL, NULL, cov,
                                    &err)) {
    ok(0, "lognormal covariate sampled (%s)", err.msg);
    free(cov);
    rkin_model_free(m);
    return;
  }
  for (i = 0; i < N; i++) {
    mean += cov[i] / N;
    lm += log(cov[i]) / N;
  }
  for (i = 0; i < N; i++) lv += (log(cov[i]) - lm) * (log(cov[i]) - lm);
  lv /= N - 1;
  se = sqrt(s2 / (2.0 * N));
  ok(fabs(sqrt(lv) - sqrt(s2)) < 4 * se, "SD of log W %.5f = sqrt(ln(1 + "
     "(15/80)^2)) = %.5f (4 SE = %.5f)", sqrt(lv), sqrt(s2), 4 * se);
  ok(fabs(0.1875 - sqrt(s2)) > 7 * se, "... SD (sd/mean) = 0.1875 would be "
     "> 7 SE away (power of the check)");
  ok(fabs(mean - 80) < 4 * 15 / sqrt((double)N), "mean of W %.3f = 80 "
     "(4 SE = %.3f)", mean, 4 * 15 / sqrt((double)N));
  free(cov);
  rkin_model_free(m);
}

/* Mutants bsa-mosteller, bsa-dubois: a second point each, worked on
 * paper. Mosteller (NEJM 1987;317:1098): sqrt(180 cm x 80 kg / 3600) =
 * sqrt(4) = 2 m^2 exactly. Du Bois & Du Bois 1916: 0.007184 x 80^0.425 x
 * 180^0.725 = 0.007184 x 6.43892 x 43.1591 = 1.99642 m^2, and at 150 cm,
 * 50 kg 1.43250 m^2 (5 digits). */
static void test_bsa(void)
{
  rkin_err err;
  double b = 0;
  rkin_tare_bsa(RKIN_TARE_BSA_MOSTELLER, 180, 80, &b, &err);
  is_double(b, 2.0, 1e-15, "Mosteller 180 cm, 80 kg = 2 m^2");
  rkin_tare_bsa(RKIN_TARE_BSA_DUBOIS, 180, 80, &b, &err);
  is_double(b, 1.99642, 1e-5, "Du Bois 180 cm, 80 kg = 1.99642 m^2");
  rkin_tare_bsa(RKIN_TARE_BSA_DUBOIS, 150, 50, &b, &err);
  is_double(b, 1.43250, 1e-5, "Du Bois 150 cm, 50 kg = 1.43250 m^2");
}

/* Mutant ntcp-lkb: LKB NTCP = Phi((EQD2 - TD50) / (m TD50)) (Lyman 1985,
 * Kutcher & Burman 1989) with TD50 30 Gy, m 0.2: EQD2 24 Gy is one
 * m TD50 below, Phi(-1) = 0.158655254; 33 Gy half above, Phi(0.5) =
 * 0.691462461 (normal table values, 9 digits). */
static void test_lkb(void)
{
  rkin_lkb k = {30, 0.2, 1, "test"};
  rkin_err err;
  double v = NAN;
  rkin_ntcp_lkb(24, &k, &v, &err);
  is_double(v, 0.158655254, 1e-8, "NTCP at TD50 - m TD50 = Phi(-1)");
  rkin_ntcp_lkb(33, &k, &v, &err);
  is_double(v, 0.691462461, 1e-8, "NTCP at TD50 + m TD50 / 2 = Phi(0.5)");
}

int main(void)
{
  rkin_init();
  test_tcp_truncated();
  test_eqd2();
  test_trapezoid();
  test_mass_scaling();
  test_sphere_s();
  test_lognormal_covariate();
  test_bsa();
  test_lkb();
  done_testing();
  return exit_status();
}
