/* popparam.c - the parameter vector of a population fit: which of theta,
 * Omega and sigma are estimated (FIX, block-diagonal Omega), the outer
 * optimiser's scale for them, and the boundary check of the estimates.
 *
 * Outer scale: theta / |theta0|; each SD of Omega as SD / SD0, bounded
 * below by POP_SD_LO (so a variance tending to 0 reaches a bound in a few
 * steps instead of running log(variance) to -infinity); within a block
 * the correlation matrix through its Cholesky factor in spherical angles
 * (row a: cos t_a1, sin t_a1 cos t_a2, ..., prod sin t_ak), each angle in
 * [POP_ANG_EPS, pi - POP_ANG_EPS], so that Omega = D Lc Lc' D is positive
 * definite everywhere and a correlation tending to +-1 reaches a bound;
 * log sigma. Fixed parameters keep their initial values. */
#include "pop/popest_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POP_SD_LO 1e-4
#define POP_ANG_EPS 1e-4
/* Reported at the boundary: an SD below this fraction of its initial
 * value (variance below 1e-4 of it), a correlation beyond +-BOUND_CORR. */
#define BOUND_SD 1e-2
#define BOUND_CORR 0.99

static int blk_of(const rkin_popmodel *pm, size_t a)
{
  if (pm->omega_block) return pm->omega_block[a];
  return pm->omega_diag ? (int)a : 0;
}

int pop_same_block(const pop *p, size_t a, size_t b)
{
  return a == b || blk_of(p->pm, a) == blk_of(p->pm, b);
}

/* Element (a, b), b <= a, of Omega is estimated. */
int pop_omega_free(const pop *p, size_t a, size_t b)
{
  return pop_same_block(p, a, b) && !p->om_fix[a * p->n_eta + b];
}

static const char *eta_name(const pop *p, size_t a, char *buf, size_t n)
{
  if (p->pm->eta_names) return p->pm->eta_names[a];
  snprintf(buf, n, "ETA%zu", a + 1);
  return buf;
}

int pop_param_setup(pop *p, rkin_err *err)
{
  const rkin_popmodel *pm = p->pm;
  size_t q = p->n_eta, a, b, k;
  char b1[32], b2[32];
  p->om_fix = calloc(q * q, 1);
  p->sd0 = calloc(q, sizeof *p->sd0);
  p->ang0 = calloc(q * q, sizeof *p->ang0);
  /* the initial sigma of every endpoint, as pop_res_setup laid them out */
  p->sigma0 = malloc((p->n_sigma + 1) * sizeof *p->sigma0);
  if (!p->om_fix || !p->sd0 || !p->ang0 || !p->sigma0)
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  memcpy(p->sigma0, p->sigma, p->n_sigma * sizeof *p->sigma0);
  /* Omega must have the block pattern: nothing across blocks. */
  for (a = 0; a < q; a++)
    for (b = 0; b < q; b++)
      if (!pop_same_block(p, a, b) && pm->omega_init[a * q + b] != 0
          && !pm->omega_block)
        return rkin_err_set(err, RKIN_EINVAL, "population model: omega is "
                            "diagonal but omega(%zu,%zu) = %g", a + 1,
                            b + 1, pm->omega_init[a * q + b]);
      else if (!pop_same_block(p, a, b) && pm->omega_init[a * q + b] != 0)
        return rkin_err_set(err, RKIN_EINVAL, "population model: omega(%zu,"
                            "%zu) = %g, but etas %s and %s are in different "
                            "blocks (%s)", a + 1, b + 1,
                            pm->omega_init[a * q + b],
                            eta_name(p, a, b1, sizeof b1),
                            eta_name(p, b, b2, sizeof b2), "omega_block");
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) {
      int f = pm->omega_fix && (pm->omega_fix[a * q + b]
                                || pm->omega_fix[b * q + a]);
      p->om_fix[a * q + b] = p->om_fix[b * q + a] = (unsigned char)f;
    }
  /* A fixed covariance needs its whole block fixed (as NONMEM's FIX of a
   * BLOCK): it cannot stay put while its variances move. */
  for (a = 0; a < q; a++)
    for (b = 0; b < a; b++)
      if (pop_same_block(p, a, b) && p->om_fix[a * q + b]) {
        size_t c, d;
        for (c = 0; c < q; c++)
          for (d = 0; d <= c; d++)
            if (pop_same_block(p, c, a) && pop_same_block(p, d, a)
                && !p->om_fix[c * q + d])
              return rkin_err_set(err, RKIN_EINVAL, "population model: "
                                  "omega(%zu,%zu) is fixed but omega(%zu,"
                                  "%zu) of the same block is not: fix a "
                                  "covariance only with its whole block",
                                  a + 1, b + 1, c + 1, d + 1);
      }
  /* Initial SDs and correlation angles from the Cholesky factor in p->L. */
  for (a = 0; a < q; a++) {
    double sd = sqrt(pm->omega_init[a * q + a]), prod = 1;
    p->sd0[a] = sd;
    for (b = 0; b < a; b++) {
      double c;
      if (!pop_same_block(p, a, b)) continue;
      c = p->L[a * q + b] / sd / prod;
      if (c > 1) c = 1;
      if (c < -1) c = -1;
      p->ang0[a * q + b] = acos(c);
      prod *= sin(p->ang0[a * q + b]);
    }
  }
  p->n_est = 0;
  for (k = 0; k < p->n_theta; k++)
    p->n_est += !(pm->theta_fix && pm->theta_fix[k]);
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) p->n_est += (size_t)pop_omega_free(p, a, b);
  for (k = 0; k < p->n_sigma; k++)
    p->n_est += !(pm->sigma_fix && pm->sigma_fix[k]);
  return RKIN_OK;
}

void pop_param_free(pop *p)
{
  free(p->om_fix);
  free(p->sd0);
  free(p->ang0);
  free(p->sigma0);
}

static int theta_free(const pop *p, size_t k)
{
  return !(p->pm->theta_fix && p->pm->theta_fix[k]);
}

static int sigma_free(const pop *p, size_t k)
{
  return !(p->pm->sigma_fix && p->pm->sigma_fix[k]);
}

/* L from SDs and angles (q x q each, angles below the diagonal). */
static void build_L(const pop *p, const double *sd, const double *ang)
{
  size_t q = p->n_eta, a, b;
  for (a = 0; a < q; a++) {
    double prod = 1;
    for (b = 0; b < q; b++) p->L[a * q + b] = 0;
    for (b = 0; b < a; b++) {
      if (!pop_same_block(p, a, b)) continue;
      p->L[a * q + b] = sd[a] * cos(ang[a * q + b]) * prod;
      prod *= sin(ang[a * q + b]);
    }
    p->L[a * q + a] = sd[a] * prod;
  }
}

size_t pop_x_setup(const pop *p, const double *scale, double *x, double *lo,
                   double *hi)
{
  size_t q = p->n_eta, k, a, b, i = 0;
  for (k = 0; k < p->n_theta; k++)
    if (theta_free(p, k)) {
      double l = p->pm->theta_lower ? p->pm->theta_lower[k] : -HUGE_VAL;
      double h = p->pm->theta_upper ? p->pm->theta_upper[k] : HUGE_VAL;
      x[i] = p->pm->theta_init[k] / scale[k];
      lo[i] = l / scale[k];
      hi[i++] = h / scale[k];
    }
  for (a = 0; a < q; a++) {
    if (pop_omega_free(p, a, a)) {
      x[i] = 1;
      lo[i] = POP_SD_LO;
      hi[i++] = HUGE_VAL;
    }
    for (b = 0; b < a; b++)
      if (pop_omega_free(p, a, b)) {
        double t = p->ang0[a * q + b];
        if (t < POP_ANG_EPS) t = POP_ANG_EPS;
        if (t > M_PI - POP_ANG_EPS) t = M_PI - POP_ANG_EPS;
        x[i] = t;
        lo[i] = POP_ANG_EPS;
        hi[i++] = M_PI - POP_ANG_EPS;
      }
  }
  for (k = 0; k < p->n_sigma; k++)
    if (sigma_free(p, k)) {
      /* SDs on the log scale; a power exponent (sig_pos 0) as it is */
      x[i] = p->sig_pos[k] ? log(p->sigma0[k]) : p->sigma0[k];
      lo[i] = -HUGE_VAL;
      hi[i++] = HUGE_VAL;
    }
  return i;
}

void pop_x_apply(pop *p, const double *scale, const double *x)
{
  size_t q = p->n_eta, k, a, b, i = 0;
  double sd[POP_MAX_ETA], *ang = p->ang_work;
  for (k = 0; k < p->n_theta; k++)
    p->theta[k] = theta_free(p, k) ? x[i++] * scale[k]
                                   : p->pm->theta_init[k];
  memcpy(ang, p->ang0, q * q * sizeof *ang);
  for (a = 0; a < q; a++) {
    sd[a] = pop_omega_free(p, a, a) ? x[i++] * p->sd0[a] : p->sd0[a];
    for (b = 0; b < a; b++)
      if (pop_omega_free(p, a, b)) ang[a * q + b] = x[i++];
  }
  build_L(p, sd, ang);
  for (k = 0; k < p->n_sigma; k++)
    p->sigma[k] = !sigma_free(p, k) ? p->sigma0[k]
                  : p->sig_pos[k] ? exp(x[i++]) : x[i++];
}

int pop_boundary(const pop *p, const double *omega, rkin_err *msg)
{
  size_t q = p->n_eta, a, b, len = 0;
  int n = 0;
  char buf[RKIN_ERR_MSG], b1[32], b2[32];
  buf[0] = 0;
  for (a = 0; a < q; a++)
    for (b = 0; b <= a; b++) {
      const char *what = NULL;
      double v = omega[a * q + b];
      if (!pop_omega_free(p, a, b)) continue;
      if (a == b && sqrt(v) < BOUND_SD * p->sd0[a])
        what = "variance tends to 0";
      else if (a != b
               && fabs(v) > BOUND_CORR * sqrt(omega[a * q + a]
                                              * omega[b * q + b]))
        what = v > 0 ? "correlation tends to +1" : "correlation tends to -1";
      if (!what) continue;
      if (len < sizeof buf)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%sOMEGA(%s%s%s) "
                                "= %.3g (%s)", n ? "; " : "",
                                eta_name(p, a, b1, sizeof b1),
                                a == b ? "" : ",",
                                a == b ? "" : eta_name(p, b, b2, sizeof b2),
                                v, what);
      n++;
    }
  if (n)
    rkin_err_set(msg, RKIN_ERANGE, "estimate near its boundary: %s; the "
                 "data do not determine it: FIX it (or simplify Omega) and "
                 "refit", buf);
  return n;
}
