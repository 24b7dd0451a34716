/* test_native.c - tapes compiled to machine code (core/native.h): every
 * operator gives the tape's result bit for bit on ordinary and special
 * inputs (NaN, infinities, signed zeros); the cache is reused, and a
 * cache that others can write, or a cached object that is not a regular
 * file of our own, is refused with its message. */
#include <dirent.h>
#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/init.h"
#include "core/expr.h"
#include "core/native.h"
#include "../tap.h"

#define BAIL_OUT(...) do { printf("Bail out! "); printf(__VA_ARGS__); \
    printf("\n"); exit(1); } while (0)

static rkin_node bin(rkin_graph *g, rkin_op op, rkin_node a, rkin_node b)
{
  return rkin_expr_binary(g, op, a, b);
}

static rkin_node un(rkin_graph *g, rkin_op op, rkin_node a)
{
  return rkin_expr_unary(g, op, a);
}

/* Outputs exercising every operator of the tape, on states y0..y2,
 * parameters p0, p1 and time. */
static size_t build(rkin_graph *g, rkin_node *o)
{
  rkin_node y0 = rkin_expr_state(g, 0), y1 = rkin_expr_state(g, 1);
  rkin_node y2 = rkin_expr_state(g, 2), p0 = rkin_expr_param(g, 0);
  rkin_node p1 = rkin_expr_param(g, 1), t = rkin_expr_time(g);
  rkin_node c01 = rkin_expr_const(g, 0.1), two = rkin_expr_const(g, 2);
  rkin_node tiny = rkin_expr_const(g, 1e-300);
  rkin_node u = bin(g, RKIN_OP_MUL, y0, p0);   /* a shared subexpression */
  rkin_node lt = bin(g, RKIN_OP_LT, y0, y1), ge = bin(g, RKIN_OP_GE, y1, t);
  size_t n = 0;
  rkin_op unary[] = {RKIN_OP_NEG, RKIN_OP_EXP, RKIN_OP_LOG, RKIN_OP_SQRT,
                     RKIN_OP_ABS, RKIN_OP_SIGN, RKIN_OP_STEP, RKIN_OP_SIN,
                     RKIN_OP_COS, RKIN_OP_TAN, RKIN_OP_ASIN, RKIN_OP_ACOS,
                     RKIN_OP_ATAN, RKIN_OP_FLOOR, RKIN_OP_CEIL,
                     RKIN_OP_FACT};
  rkin_op binary[] = {RKIN_OP_ADD, RKIN_OP_SUB, RKIN_OP_MUL, RKIN_OP_DIV,
                      RKIN_OP_POW, RKIN_OP_MIN, RKIN_OP_MAX};
  rkin_op cmp[] = {RKIN_OP_LT, RKIN_OP_LE, RKIN_OP_GT, RKIN_OP_GE};
  size_t k;
  for (k = 0; k < sizeof unary / sizeof *unary; k++)
    o[n++] = un(g, unary[k], bin(g, RKIN_OP_ADD, u, y2));
  for (k = 0; k < sizeof binary / sizeof *binary; k++)
    o[n++] = bin(g, binary[k], bin(g, RKIN_OP_SUB, y1, c01), u);
  for (k = 0; k < sizeof cmp / sizeof *cmp; k++)
    o[n++] = rkin_expr_ifelse(g, bin(g, cmp[k], y2, p1), y0, p0);
  o[n++] = bin(g, RKIN_OP_POW, y2, two);                    /* a square */
  o[n++] = rkin_expr_ifelse(g, bin(g, RKIN_OP_AND, lt, ge), u, tiny);
  o[n++] = rkin_expr_ifelse(g, bin(g, RKIN_OP_OR, lt, ge), y2, t);
  o[n++] = rkin_expr_ifelse(g, un(g, RKIN_OP_NOT, lt), p1, c01);
  o[n++] = bin(g, RKIN_OP_MUL, bin(g, RKIN_OP_ADD, u, p1), t);
  return n;
}

/* Same bits, NaN of any payload counting as equal to NaN. */
static int same(double a, double b)
{
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return memcmp(&a, &b, sizeof a) == 0;
}

static double rnd(uint64_t *s)
{
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*s >> 11) / 9007199254740992.0;
}

static int count_objects(const char *dir, char *name, size_t size)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".so") && !strstr(e->d_name, ".part")) {
      n++;
      snprintf(name, size, "%s/%s", dir, e->d_name);
    }
  closedir(d);
  return n;
}

int main(void)
{
  rkin_graph *g;
  rkin_node o[64];
  rkin_tape *tp;
  rkin_native *nat;
  rkin_err err;
  char dir[] = "/tmp/rk_native_XXXXXX", so[512] = "", so2[512];
  double special[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-310, 1e308,
                      INFINITY, -INFINITY, NAN, 3.7, -2.25};
  size_t nsp = sizeof special / sizeof *special, n, k, i, bad = 0, cases = 0;
  double *work, *a, *b;
  uint64_t s = 7;
  struct stat st;
  time_t mt;

  rkin_init();
  if (access("/usr/bin/cc", X_OK)) {
    printf("1..0 # SKIP no C compiler at /usr/bin/cc: no native code\n");
    return 0;
  }
  plan(11);
  g = rkin_graph_new();
  n = build(g, o);
  tp = rkin_tape_compile(g, o, n, &err);
  if (!tp || !mkdtemp(dir)) BAIL_OUT("tape or temporary directory");
  work = malloc(rkin_tape_nwork(tp) * sizeof *work);
  a = malloc(n * sizeof *a);
  b = malloc(n * sizeof *b);

  /* Reference values from the tape's loop, for random and special
   * inputs; then the same inputs through the machine code. */
  nat = rkin_native_build(&tp, 1, dir, &err);
  ok(nat != NULL, "the tapes compile (%s)", nat ? "ok" : err.msg);
  if (!nat) BAIL_OUT("no native code");
  for (i = 0; i < 4000; i++) {
    double y[3], p[2], t;
    int ra, rb;
    for (k = 0; k < 3; k++)
      y[k] = i < 2000 ? 4 * rnd(&s) - 2 : special[(size_t)(rnd(&s) * nsp)];
    for (k = 0; k < 2; k++)
      p[k] = i < 2000 ? 3 * rnd(&s) - 1 : special[(size_t)(rnd(&s) * nsp)];
    t = i % 3 ? 10 * rnd(&s) : special[i % nsp];
    rkin_native_free(nat);                  /* the loop */
    ra = rkin_tape_eval(tp, t, y, p, work, a);
    nat = rkin_native_build(&tp, 1, dir, &err);  /* cached: no compile */
    if (!nat) BAIL_OUT("rebuild from cache: %s", err.msg);
    rb = rkin_tape_eval(tp, t, y, p, work, b);
    for (k = 0; k < n; k++) bad += !same(a[k], b[k]);
    bad += ra != rb;
    cases++;
  }
  ok(bad == 0, "native = tape bit for bit, %zu outputs (every operator) x "
     "%zu inputs incl. NaN, +-inf, -0, subnormals (%zu differences)", n,
     cases, bad);
  ok(count_objects(dir, so, sizeof so) == 1, "one cached object for the "
     "same code (reused %zu times)", cases);
  stat(so, &st);
  mt = st.st_mtime;
  rkin_native_free(nat);
  nat = rkin_native_build(&tp, 1, dir, &err);
  stat(so, &st);
  ok(nat && st.st_mtime == mt, "a rebuild loads the cached object");

  /* The source: the instructions as C, constants exact in hexadecimal. */
  {
    char *src = NULL;
    size_t len = 0;
    ok(rkin_native_source(&tp, 1, &src, &len, &err) == 0 && src
       && strstr(src, "rk_f0(") && strstr(src, "0x1.999999999999ap-4"),
       "the C source names rk_f0 and writes 0.1 exactly (%%a)");
    free(src);
  }

  /* Refusals. */
  rkin_native_free(nat);
  chmod(dir, 0770);
  nat = rkin_native_build(&tp, 1, dir, &err);
  ok(!nat && strstr(err.msg, "must be a directory of your own that group "
     "and others cannot write"), "a group-writable cache is refused (%s)",
     err.msg);
  chmod(dir, 0700);
  snprintf(so2, sizeof so2, "%s.moved", so);
  rename(so, so2);
  if (symlink(so2, so)) BAIL_OUT("symlink");
  nat = rkin_native_build(&tp, 1, dir, &err);
  ok(!nat && strstr(err.msg, "is not a regular file of your own writable "
     "only by you: not loaded"), "a symbolic link in place of the cached "
     "object is not loaded (%s)", err.msg);
  ok(rkin_tape_eval(tp, 1, (double[]){1, 2, 3}, (double[]){1, 1}, work, b)
     <= 0, "after a refusal the tape still evaluates (the loop)");
  unlink(so);
  rename(so2, so);
  nat = rkin_native_build(&tp, 1, "/nonexistent/rk", &err);
  ok(!nat && strstr(err.msg, "cache directory /nonexistent/rk"),
     "a missing cache directory is named (%s)", err.msg);
  nat = rkin_native_build(&tp, 1, dir, &err);
  ok(nat != NULL, "the object restored: loads again");
  rkin_native_free(nat);
  ok(rkin_tape_eval(tp, 0.5, (double[]){0.25, 1, -1}, (double[]){2, 0.5},
                    work, a) <= 0, "after rkin_native_free the loop runs");

  unlink(so);
  rmdir(dir);
  free(work);
  free(a);
  free(b);
  rkin_tape_free(tp);
  rkin_graph_free(g);
  return exit_status();
}
