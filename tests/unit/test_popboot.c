/* test_popboot.c - bootstrap resampling of a dataset's text and the
 * percentile / BCa intervals (engine/pop/popboot.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "core/init.h"
#include "pop/data.h"
#include "pop/popboot.h"
#include "pop/popsim.h"
#include "../tap.h"

static const char DATA[] =
  "# a comment line\n"
  "ID,TIME,DV,AMT,CMT,NOTE\n"
  "10,0,.,5,1,\"a, b\"\n"
  "10,1,2.5,0,1,x\n"
  "20,0,.,5,1,y\n"
  "20,2,1.5,0,1,\"say \"\"hi\"\"\"\n"
  "30,0,.,5,1,z\n"
  "30,1,3,0,1,z\n"
  "30,4,2,0,1,z\n";

int main(void)
{
  rkin_err err;
  char *out = NULL;
  size_t len = 0, pick[3] = {2, 0, 2};
  rkin_boot_ci ci;
  double v[100];
  int k, rc;
  rkin_init();
  rkin_err_clear(&err);

  rc = rkin_boot_resample_csv(DATA, strlen(DATA), "d.csv", pick, 3, &out,
                              &len, &err);
  is_int(rc, 0, "resample: ok (%s)", err.msg);
  ok(out && strcmp(out,
         "ID,TIME,DV,AMT,CMT,NOTE\n"
         "1,0,.,5,1,z\n1,1,3,0,1,z\n1,4,2,0,1,z\n"
         "2,0,.,5,1,\"a, b\"\n2,1,2.5,0,1,x\n"
         "3,0,.,5,1,z\n3,1,3,0,1,z\n3,4,2,0,1,z\n") == 0,
         "resample: drawn subjects in order with IDs 1..3, quoting kept, "
         "comment dropped");
  is_int((long)len, (long)strlen(out ? out : ""), "resample: length");
  free(out);
  {
    /* without the text column, the result reads as a dataset */
    static const char NUM[] = "ID,TIME,DV,AMT,CMT\n10,0,.,5,1\n"
      "10,1,2.5,0,1\n20,0,.,5,1\n20,2,1.5,0,1\n30,0,.,5,1\n"
      "30,1,3,0,1\n30,4,2,0,1\n";
    rkin_data *d = NULL;
    rc = rkin_boot_resample_csv(NUM, strlen(NUM), "n.csv", pick, 3, &out,
                                &len, &err);
    if (!rc) d = rkin_data_parse(out, len, "r.csv", NULL, &err);
    ok(d && rkin_data_nsubjects(d) == 3 && rkin_data_nobs(d) == 5
       && rkin_data_subject_at(d, 2)->id == 3,
       "resample: the text reads back as 3 subjects (IDs 1..3), 5 "
       "observations (%s)", err.msg);
    rkin_data_free(d);
    free(out);
  }
  {
    size_t p2[2] = {1, 1};
    rc = rkin_boot_resample_csv(DATA, strlen(DATA), "d.csv", p2, 2, &out,
                                &len, &err);
    ok(rc == 0 && strstr(out, "2,2,1.5,0,1,\"say \"\"hi\"\"\"\n") != NULL,
       "resample: a doubled quote written back doubled");
    free(out);
  }
  rc = rkin_boot_resample_csv("TIME,DV\n0,1\n", 12, "n.csv", pick, 1, &out,
                              &len, &err);
  ok(rc == RKIN_EINVAL && strstr(err.msg, "n.csv:1: no ID column"),
     "resample: no ID column (%s)", err.msg);
  rc = rkin_boot_resample_csv("ID,DV\nx,1\n", 11, "n.csv", pick, 1, &out,
                              &len, &err);
  ok(rc == RKIN_EINVAL && strstr(err.msg, "n.csv:2: column ID: 'x' is "
                                 "not a number"),
     "resample: a non-numeric ID named (%s)", err.msg);
  {
    size_t bad[1] = {5};
    rc = rkin_boot_resample_csv(DATA, strlen(DATA), "d.csv", bad, 1, &out,
                                &len, &err);
    ok(rc == RKIN_EINVAL && strstr(err.msg, "subject 6 of 3"),
       "resample: a draw past the subjects (%s)", err.msg);
  }

  /* intervals: values 1..100 */
  for (k = 0; k < 100; k++) v[k] = k + 1;
  rc = rkin_boot_interval(v, 100, 50.5, NULL, 0, 0.9, &ci, &err);
  ok(rc == 0, "interval: ok");
  is_double(ci.lo, 1 + 99 * 0.05, 1e-12, "percentile lo: type 7");
  is_double(ci.hi, 1 + 99 * 0.95, 1e-12, "percentile hi: type 7");
  is_double(ci.z0, 0, 1e-12, "z0 = 0 with half the values below");
  is_double(ci.bca_lo, ci.lo, 1e-12, "z0 = a = 0: BCa = percentile (lo)");
  /* estimate 30.5: 30 % below, z0 = Phi^-1(0.3); a = 0 (no jackknife):
   * the lower level Phi(2 z0 + z_0.05) */
  rc = rkin_boot_interval(v, 100, 30.5, NULL, 0, 0.9, &ci, &err);
  {
    double z0 = gsl_cdf_ugaussian_Pinv(0.3);
    double al = gsl_cdf_ugaussian_P(2 * z0 + gsl_cdf_ugaussian_Pinv(0.05));
    double ah = gsl_cdf_ugaussian_P(2 * z0 + gsl_cdf_ugaussian_Pinv(0.95));
    is_double(ci.z0, z0, 1e-12, "z0 = Phi^-1(share below)");
    is_double(ci.alpha_lo, al, 1e-12, "BCa lower level Phi(2 z0 + z)");
    is_double(ci.alpha_hi, ah, 1e-12, "BCa upper level");
    is_double(ci.bca_lo, 1 + 99 * al, 1e-12, "BCa lo: that quantile");
  }
  {
    /* acceleration with a jackknife: a known skewed set */
    double jack[4] = {1, 2, 3, 10}, m = 4, num = 0, den = 0;
    for (k = 0; k < 4; k++) {
      num += pow(m - jack[k], 3);
      den += pow(m - jack[k], 2);
    }
    rc = rkin_boot_interval(v, 100, 50.5, jack, 4, 0.9, &ci, &err);
    is_double(ci.a, num / (6 * pow(den, 1.5)), 1e-12,
              "a = sum d^3 / (6 (sum d^2)^1.5)");
    ok(ci.a < 0 && ci.bca_lo < ci.lo, "a < 0 moves the BCa ends down");
  }
  v[3] = NAN;
  rc = rkin_boot_interval(v, 100, 50.5, NULL, 0, 0.9, &ci, &err);
  is_int((long)ci.n, 99, "a NaN replicate is left out");
  rc = rkin_boot_interval(v, 1, 0, NULL, 0, 0.9, &ci, &err);
  ok(rc == RKIN_EINVAL && strstr(err.msg, "at least 2"),
     "one replicate refused (%s)", err.msg);
  rc = rkin_boot_interval(v, 10, 0, NULL, 0, 1.5, &ci, &err);
  ok(rc == RKIN_EINVAL && strstr(err.msg, "level 1.5"),
     "level out of range refused (%s)", err.msg);

  /* picks */
  {
    size_t a[50], b[50];
    double st[50];
    int same = 1, diff = 0, strat = 1;
    rkin_boot_pick(50, NULL, 7, 3, a, &err);
    rkin_boot_pick(50, NULL, 7, 3, b, &err);
    for (k = 0; k < 50; k++) same &= a[k] == b[k];
    rkin_boot_pick(50, NULL, 7, 4, b, &err);
    for (k = 0; k < 50; k++) diff |= a[k] != b[k];
    ok(same && diff, "picks: reproducible per (seed, replicate)");
    for (k = 0; k < 50; k++) st[k] = k % 5;
    rkin_boot_pick(50, st, 7, 3, a, &err);
    for (k = 0; k < 50; k++) strat &= st[a[k]] == st[k];
    ok(strat, "picks: within each place's stratum");
    st[7] = NAN;
    rc = rkin_boot_pick(50, st, 7, 3, a, &err);
    ok(rc == RKIN_EINVAL && strstr(err.msg, "subject 8 has no stratum"),
       "picks: a missing stratum named (%s)", err.msg);
  }
  ok(rkin_popsim_stream_seed(1, 0, 1) != rkin_popsim_stream_seed(1, 1, 0),
     "stream seeds: (replicate, subject) pairs differ");
  done_testing();
  return exit_status();
}
