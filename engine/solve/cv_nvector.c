/* cv_nvector.c - the hot serial N_Vector operations, compiled with the
 * project's optimisation, installed into a SUNDIALS serial vector's ops.
 *
 * Why: Debian 12's libsundials 6.4.1 is built without optimisation (its
 * N_VLinearSum_Serial keeps every local on the stack; see the report of
 * issue 3), and on a 7-state model CVODES spends over half of its time in
 * these few loops. The vector stays a SUNDIALS serial vector (same
 * content, same ID, so the dense linear solver accepts it); only the
 * function pointers of the operations CVODES calls every step change, and
 * clones inherit them. Semantics follow the N_Vector specification of the
 * SUNDIALS documentation (section "Description of the NVECTOR operations"),
 * so rarely used operations keep SUNDIALS' own code. */
#include "solve/cv_nvector.h"
#include "solve/cv_pair.h"

#include <math.h>
#include <stdint.h>

#include <nvector/nvector_serial.h>

#define LEN(v) ((size_t)NV_LENGTH_S(v))
#define DAT(v) NV_DATA_S(v)

/* The loops below go two elements at a time as one SSE2 pair
 * (cv_pair.h), loading both operands before storing: z may be x or y
 * itself. Each element gets the same IEEE operations as SUNDIALS' loop,
 * so results are bit-identical to its serial vector. CVODES' predictor
 * makes q (q + 1) / 2 calls per step with a = b = 1 (14 of the peer
 * model's 20 per step), hence that case without multiplications, four
 * elements per turn. On bench_cohort (callgrind) N_VLinearSum went from
 * 58 to 47 instructions per call on average. */
/* c == 1.0 by its bits: an integer compare instead of the floating
 * compare's NaN-aware sequence (11 instructions for the two tests). */
static inline int is_one(double c)
{
  uint64_t u;
  memcpy(&u, &c, sizeof u);
  return u == UINT64_C(0x3ff0000000000000);
}

static void linear_sum(sunrealtype a, N_Vector x, sunrealtype b, N_Vector y,
                       N_Vector z)
{
  const double *xd = DAT(x), *yd = DAT(y);
  double *zd = DAT(z);
  size_t i, n = LEN(x);
  if (is_one(a) && is_one(b)) {
    for (i = 0; i + 4 <= n; i += 4) {
      rkin_pair s0 = rkin_ld2(xd + i) + rkin_ld2(yd + i);
      rkin_pair s1 = rkin_ld2(xd + i + 2) + rkin_ld2(yd + i + 2);
      rkin_st2(zd + i, s0);
      rkin_st2(zd + i + 2, s1);
    }
    if (i + 2 <= n) {
      rkin_st2(zd + i, rkin_ld2(xd + i) + rkin_ld2(yd + i));
      i += 2;
    }
    if (i < n) zd[i] = xd[i] + yd[i];
    return;
  }
  {
    rkin_pair va = {a, a}, vb = {b, b};
    for (i = 0; i + 2 <= n; i += 2)
      rkin_st2(zd + i, va * rkin_ld2(xd + i) + vb * rkin_ld2(yd + i));
  }
  if (i < n) zd[i] = a * xd[i] + b * yd[i];
}

static void vconst(sunrealtype c, N_Vector z)
{
  double *zd = DAT(z);
  size_t i, n = LEN(z);
  rkin_pair vc = {c, c};
  for (i = 0; i + 2 <= n; i += 2) rkin_st2(zd + i, vc);
  if (i < n) zd[i] = c;
}

static void prod(N_Vector x, N_Vector y, N_Vector z)
{
  const double *xd = DAT(x), *yd = DAT(y);
  double *zd = DAT(z);
  size_t i, n = LEN(x);
  for (i = 0; i < n; i++) zd[i] = xd[i] * yd[i];
}

static void vdiv(N_Vector x, N_Vector y, N_Vector z)
{
  const double *xd = DAT(x), *yd = DAT(y);
  double *zd = DAT(z);
  size_t i, n = LEN(x);
  for (i = 0; i < n; i++) zd[i] = xd[i] / yd[i];
}

static void scale(sunrealtype c, N_Vector x, N_Vector z)
{
  const double *xd = DAT(x);
  double *zd = DAT(z);
  size_t i, n = LEN(x);
  rkin_pair vc = {c, c};
  for (i = 0; i + 2 <= n; i += 2) rkin_st2(zd + i, vc * rkin_ld2(xd + i));
  if (i < n) zd[i] = c * xd[i];
}

static void vabs(N_Vector x, N_Vector z)
{
  const double *xd = DAT(x);
  double *zd = DAT(z);
  size_t i, n = LEN(x);
  for (i = 0; i < n; i++) zd[i] = fabs(xd[i]);
}

static void inv(N_Vector x, N_Vector z)
{
  const double *xd = DAT(x);
  double *zd = DAT(z);
  size_t i, n = LEN(x);
  for (i = 0; i < n; i++) zd[i] = 1.0 / xd[i];
}

static void add_const(N_Vector x, sunrealtype b, N_Vector z)
{
  const double *xd = DAT(x);
  double *zd = DAT(z);
  size_t i, n = LEN(x);
  for (i = 0; i < n; i++) zd[i] = xd[i] + b;
}

static sunrealtype dot(N_Vector x, N_Vector y)
{
  const double *xd = DAT(x), *yd = DAT(y);
  double s = 0;
  size_t i, n = LEN(x);
  for (i = 0; i < n; i++) s += xd[i] * yd[i];
  return s;
}

static sunrealtype max_norm(N_Vector x)
{
  const double *xd = DAT(x);
  double m = 0;
  size_t i, n = LEN(x);
  for (i = 0; i < n; i++)
    if (fabs(xd[i]) > m) m = fabs(xd[i]);
  return m;
}

/* Two running sums (even and odd elements), added at the end: the
 * summation order differs from SUNDIALS' by roundoff only. */
static sunrealtype wsqr_sum(N_Vector x, N_Vector w)
{
  const double *xd = DAT(x), *wd = DAT(w);
  rkin_pair s2 = {0.0, 0.0};
  double s;
  size_t i, n = LEN(x);
  for (i = 0; i + 2 <= n; i += 2) {
    rkin_pair p = rkin_ld2(xd + i) * rkin_ld2(wd + i);
    s2 += p * p;
  }
  s = s2[0] + s2[1];
  if (i < n) s += (xd[i] * wd[i]) * (xd[i] * wd[i]);
  return s;
}

static sunrealtype wrms_norm(N_Vector x, N_Vector w)
{
  return sqrt(wsqr_sum(x, w) / (double)LEN(x));
}

static sunrealtype vmin(N_Vector x)
{
  const double *xd = DAT(x);
  double m = xd[0];
  size_t i, n = LEN(x);
  for (i = 1; i < n; i++)
    if (xd[i] < m) m = xd[i];
  return m;
}

static void compare(sunrealtype c, N_Vector x, N_Vector z)
{
  const double *xd = DAT(x);
  double *zd = DAT(z);
  size_t i, n = LEN(x);
  for (i = 0; i < n; i++) zd[i] = fabs(xd[i]) >= c ? 1.0 : 0.0;
}

static sunbooleantype inv_test(N_Vector x, N_Vector z)
{
  const double *xd = DAT(x);
  double *zd = DAT(z);
  size_t i, n = LEN(x);
  sunbooleantype ok = SUNTRUE;
  for (i = 0; i < n; i++) {
    if (xd[i] == 0.0)
      ok = SUNFALSE;
    else
      zd[i] = 1.0 / xd[i];
  }
  return ok;
}

static int linear_combination(int nv, sunrealtype *c, N_Vector *x,
                              N_Vector z)
{
  double *zd = DAT(z);
  size_t i, n = LEN(z);
  int k;
  /* z may be x[0] (the documented in-place case): scale it first. */
  if (x[0] == z) {
    for (i = 0; i < n; i++) zd[i] *= c[0];
  } else {
    const double *xd = DAT(x[0]);
    for (i = 0; i < n; i++) zd[i] = c[0] * xd[i];
  }
  for (k = 1; k < nv; k++) {
    const double *xd = DAT(x[k]);
    for (i = 0; i < n; i++) zd[i] += c[k] * xd[i];
  }
  return 0;
}

static int scale_add_multi(int nv, sunrealtype *a, N_Vector x, N_Vector *y,
                           N_Vector *z)
{
  const double *xd = DAT(x);
  size_t i, n = LEN(x);
  int k;
  for (k = 0; k < nv; k++) {
    const double *yd = DAT(y[k]);
    double *zd = DAT(z[k]), ak = a[k];
    rkin_pair va = {ak, ak};
    for (i = 0; i + 2 <= n; i += 2)
      rkin_st2(zd + i, va * rkin_ld2(xd + i) + rkin_ld2(yd + i));
    if (i < n) zd[i] = ak * xd[i] + yd[i];
  }
  return 0;
}

/* The vector-array forms CVODES uses for the forward sensitivities (one
 * vector per direction). Without them SUNDIALS' unoptimised wrappers loop
 * over the directions calling the single-vector operation through the
 * ops table; on the 7-state PBPK fit those wrappers alone were 8 % of the
 * instructions. Same operations in the same order as that loop. */
static int linear_sum_array(int nv, sunrealtype a, N_Vector *x,
                            sunrealtype b, N_Vector *y, N_Vector *z)
{
  int k;
  for (k = 0; k < nv; k++) linear_sum(a, x[k], b, y[k], z[k]);
  return 0;
}

static int scale_array(int nv, sunrealtype *c, N_Vector *x, N_Vector *z)
{
  int k;
  for (k = 0; k < nv; k++) scale(c[k], x[k], z[k]);
  return 0;
}

static int const_array(int nv, sunrealtype c, N_Vector *z)
{
  int k;
  for (k = 0; k < nv; k++) vconst(c, z[k]);
  return 0;
}

static int wrms_norm_array(int nv, N_Vector *x, N_Vector *w,
                           sunrealtype *nrm)
{
  int k;
  for (k = 0; k < nv; k++) nrm[k] = wrms_norm(x[k], w[k]);
  return 0;
}

/* z[j][k] = a[j] x[k] + y[j][k] */
static int scale_add_multi_array(int nv, int ns, sunrealtype *a,
                                 N_Vector *x, N_Vector **y, N_Vector **z)
{
  int j, k;
  for (k = 0; k < nv; k++) {
    const double *xd = DAT(x[k]);
    size_t i, n = LEN(x[k]);
    for (j = 0; j < ns; j++) {
      const double *yd = DAT(y[j][k]);
      double *zd = DAT(z[j][k]), aj = a[j];
      for (i = 0; i < n; i++) zd[i] = aj * xd[i] + yd[i];
    }
  }
  return 0;
}

/* z[k] = sum_j c[j] x[j][k] (z[k] may be x[0][k]) */
static int linear_combination_array(int nv, int ns, sunrealtype *c,
                                    N_Vector **x, N_Vector *z)
{
  int j, k;
  for (k = 0; k < nv; k++) {
    double *zd = DAT(z[k]);
    size_t i, n = LEN(z[k]);
    if (x[0][k] == z[k]) {
      for (i = 0; i < n; i++) zd[i] *= c[0];
    } else {
      const double *xd = DAT(x[0][k]);
      for (i = 0; i < n; i++) zd[i] = c[0] * xd[i];
    }
    for (j = 1; j < ns; j++) {
      const double *xd = DAT(x[j][k]);
      for (i = 0; i < n; i++) zd[i] += c[j] * xd[i];
    }
  }
  return 0;
}

void rkin_nvector_fast(N_Vector v)
{
  N_Vector_Ops o = v->ops;
  o->nvlinearsum = linear_sum;
  o->nvconst = vconst;
  o->nvprod = prod;
  o->nvdiv = vdiv;
  o->nvscale = scale;
  o->nvabs = vabs;
  o->nvinv = inv;
  o->nvaddconst = add_const;
  o->nvdotprod = dot;
  o->nvdotprodlocal = dot;
  o->nvmaxnorm = max_norm;
  o->nvmaxnormlocal = max_norm;
  o->nvwrmsnorm = wrms_norm;
  o->nvwsqrsumlocal = wsqr_sum;
  o->nvmin = vmin;
  o->nvminlocal = vmin;
  o->nvcompare = compare;
  o->nvinvtest = inv_test;
  o->nvinvtestlocal = inv_test;
  o->nvlinearcombination = linear_combination;
  o->nvscaleaddmulti = scale_add_multi;
  o->nvlinearsumvectorarray = linear_sum_array;
  o->nvscalevectorarray = scale_array;
  o->nvconstvectorarray = const_array;
  o->nvwrmsnormvectorarray = wrms_norm_array;
  o->nvscaleaddmultivectorarray = scale_add_multi_array;
  o->nvlinearcombinationvectorarray = linear_combination_array;
}
