/* test_errmsg_rest.c - error messages of the engine's C interface that no
 * other errmsg test provokes (issue 22 item 3): the G factor of a dose
 * rate that never decays, native code over its instruction cap or whose
 * compiler fails, a TARE cohort patient with too many lesions, a BED
 * estimate that overflows. Each call
 * fails with its text asserted and leaves nothing behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/expr.h"
#include "core/init.h"
#include "core/native.h"
#include "core/nuclide.h"
#include "dose/gfactor.h"
#include "tac/imaging.h"
#include "tare/tare.h"
#include "tare/tare_cohort.h"
#include "../tap.h"

static rkin_err err;

#define BAD(call, part, what)                                             \
  do {                                                                    \
    rkin_err_clear(&err);                                                 \
    ok((call) != 0, "%s: refused", what);                                 \
    like(err.msg, part, "... message: %s", part);                         \
  } while (0)

/* 1 Gy/h for ever: the dose integral to infinity diverges. */
static int flat_rate(double t, double *r, void *ctx)
{
  (void)t;
  (void)ctx;
  *r = 1.0;
  return 0;
}

/* The name of the one cached object (rk-<hash>.so) in dir; 0 when found. */
static int object_name(const char *dir, char *name, size_t size)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".so") && strlen(e->d_name) < size) {
      memcpy(name, e->d_name, strlen(e->d_name) + 1);
      n++;
    }
  closedir(d);
  return n == 1 ? 0 : -1;
}

/* Files of dir, then dir (no subfolders are left there). */
static void remove_all(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[512];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
  if (d) closedir(d);
  rmdir(dir);
}

static void gfactor(void)
{
  double g = -1, d = -1;
  /* QAGIU of a constant: GSL gives up (divergent or too many
   * subdivisions); the message says what to check */
  BAD(rkin_gfactor_quad(flat_rate, NULL, 2.8, &g, &d, &err),
      "G factor: quadrature failed (",
      "G factor of a dose rate that never decays");
  like(err.msg, "); does the dose rate decay to 0 (finite TIA)?",
       "... and asks whether the rate decays");
  ok(g == -1 && d == -1, "... nothing written back");
}

static void native(void)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node out[1];
  rkin_tape *tp, **many;
  rkin_native *nat;
  char base[] = "/tmp/rk_errmsg_rest_XXXXXX";
  char so[128], part[512], want[700], *src = NULL;
  size_t n = 2000001, k, len = 0;
  out[0] = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_state(g, 0),
                            rkin_expr_param(g, 0));
  tp = rkin_tape_compile(g, out, 1, &err);
  if (!tp || !mkdtemp(base)) {
    diag("setup failed: %s", err.msg);
    ok(0, "native: set-up");
    rkin_graph_free(g);
    return;
  }
  /* the same tape 2,000,001 times: over the 2,000,000 instructions the
   * compiler is given */
  many = malloc(n * sizeof *many);
  if (many) {
    for (k = 0; k < n; k++) many[k] = tp;
    BAD(rkin_native_source(many, n, &src, &len, &err),
        "native code: ", "native code of 2,000,001 tapes");
    like(err.msg, " instructions (more than 2000000: the compiler's time "
         "would be unbounded); keep the tape", "... names the cap");
    ok(src == NULL, "... no source made");
    free(many);
  }
  /* a folder where the compiler writes its object: cc fails, and its
   * first line of messages is given */
  if (access("/usr/bin/cc", X_OK)) {
    skip(3, "no C compiler at /usr/bin/cc");
  } else {
    nat = rkin_native_build(&tp, 1, base, &err);
    rkin_native_free(nat);
    if (nat && object_name(base, so, sizeof so) == 0) {
      snprintf(part, sizeof part, "%s/%s", base, so);
      unlink(part);
      snprintf(part, sizeof part, "%s/%.*s-%ld.so.part", base,
               (int)(strlen(so) - 3), so, (long)getpid());
      mkdir(part, 0700);
      rkin_err_clear(&err);
      nat = rkin_native_build(&tp, 1, base, &err);
      ok(nat == NULL, "a folder in the object's place: refused");
      snprintf(want, sizeof want, "native code: the compiler failed (");
      like(err.msg, want, "... message: %s", err.msg);
      like(err.msg, part, "... naming the object it could not write");
      rkin_native_free(nat);
      rmdir(part);
    } else {
      ok(0, "native: the first build (%s)", err.msg);
    }
  }
  remove_all(base);
  rkin_tape_free(tp);
  rkin_graph_free(g);
}

static void tare_cohort(void)
{
  const rkin_tare_product *sir = rkin_tare_product_find("SIR-Spheres", NULL);
  rkin_tare_lesion les[RKIN_TARE_MAX_LESIONS + 1];
  rkin_tare_territory terr;
  rkin_tare_plan plan;
  rkin_tare_cohort *c = rkin_tare_cohort_new();
  memset(les, 0, sizeof les);
  memset(&terr, 0, sizeof terr);
  terr.mass_kg = 1.5;
  terr.lesions = les;
  terr.n_lesions = RKIN_TARE_MAX_LESIONS + 1;
  rkin_tare_plan_init(&plan, sir, RKIN_TARE_CF_DERIVED, &err);
  plan.territories = &terr;
  plan.n_territories = 1;
  BAD(rkin_tare_cohort_add(c, "P1", 2, &plan, &err),
      "tare cohort: 33 lesions, at most 32 supported",
      "a cohort patient with 33 lesions");
  is_int((long)rkin_tare_cohort_size(c), 0, "... no patient added");
  rkin_tare_cohort_free(c);
}

/* One image at 96 h read with an S value of 1e300 Gy per MBq h: the dose
 * (1e300 x TIA) is finite, its square in the BED is not. */
static void imaging_bed(void)
{
  static const double t1[1] = {96};
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", NULL);
  rkin_lq lq = {3.0, 2.0};
  double a[1] = {50};
  rkin_imaging im;
  rkin_imaging_est e;
  memset(&im, 0, sizeof im);
  im.method = RKIN_IMAGING_STP;
  im.n_times = 1;
  im.times_h = t1;
  BAD(rkin_imaging_estimate(&im, lu, a, 1e300, &lq, "kidney", &e, &err),
      "kidney: estimated BED is not finite (dose ",
      "a BED estimate that overflows");
  like(err.msg, " Gy, G ", "... giving the dose and G");
}

int main(void)
{
  rkin_init();
  gfactor();
  imaging_bed();
  native();
  tare_cohort();
  done_testing();
  return exit_status();
}
