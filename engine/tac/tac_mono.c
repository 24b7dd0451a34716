/* tac_mono.c - the mono-exponential least-squares fit of rkin_tac_fit in
 * closed form for A: a fast path for millions of voxel curves (tac.h).
 *
 * With weights 1/a_i^2 (the proportional error model of rkin_tac_fit
 * without sd; its scale, known or estimated, does not move the minimum)
 * and u_i = e^(-l t_i) / a_i, the sum of squares is
 *   S(A, l) = sum (1 - A u_i)^2,
 * minimised over A for fixed l by A = P / Q, P = sum u_i, Q = sum u_i^2,
 * leaving S(l) = n - P^2 / Q. So the fit is a one-dimensional search:
 * maximise H(l) = 2 ln P - ln Q over l >= l_phys, by Newton steps with
 *   H'  = 2 P'/P - Q'/Q,
 *   H'' = 2 (P''/P - (P'/P)^2) - (Q''/Q - (Q'/Q)^2),
 *   P' = -sum t u, P'' = sum t^2 u, Q' = -2 sum t u^2, Q'' = 4 sum t^2 u^2,
 * kept ascending by step halving, from rkin_tac_fit's own start (the
 * log-linear regression of ln a on t). A curve whose profile has more
 * than one maximum is declined (see single_max). */
#include "tac/tac_impl.h"

#include <math.h>

#define MAX_IT 60

typedef struct {
  double h, d1, d2;   /* H, H', H'' */
  double P, Q;
} prof;

static void profile(size_t n, const double *t, const double *ia, double l,
                    prof *o)
{
  double P = 0, P1 = 0, P2 = 0, Q = 0, Q1 = 0, Q2 = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double u = exp(-l * t[i]) * ia[i], tu = t[i] * u;
    P += u;
    P1 -= tu;
    P2 += t[i] * tu;
    Q += u * u;
    Q1 -= 2.0 * tu * u;
    Q2 += 4.0 * t[i] * tu * u;
  }
  o->P = P;
  o->Q = Q;
  o->h = 2.0 * log(P) - log(Q);
  o->d1 = 2.0 * P1 / P - Q1 / Q;
  o->d2 = 2.0 * (P2 / P - (P1 / P) * (P1 / P)) - (Q2 / Q - (Q1 / Q) * (Q1 / Q));
}

/* P^2 / Q at l (e^H: the scan compares it without logs). */
static double h_at(size_t n, const double *t, const double *ia, double l)
{
  double P = 0, Q = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    double u = exp(-l * t[i]) * ia[i];
    P += u;
    Q += u * u;
  }
  return P * P / Q;
}

/* Whether the maximum found at x (value h) is the only one: H sampled at
 * l_phys and at NSCAN rates spaced geometrically in l - l_phys up to the
 * bound; another sample above h, or a second local maximum among the
 * samples (noisy curves can have one at l_phys and one inside), means a
 * local search may end in either, as rkin_tac_fit's might from its own
 * start: such curves are left to rkin_tac_fit. */
#define NSCAN 24
static int single_max(size_t n, const double *t, const double *ia,
                      double lp, double T, double ub, double h)
{
  double hs[NSCAN + 1], tol;
  h = exp(h);                       /* compared as P^2 / Q */
  tol = 1e-12 * h;
  int k, peaks = 0;
  for (k = 0; k <= NSCAN; k++) {
    double l = k == 0 ? lp
                      : lp + (1e-3 / T) * pow(ub * T / 1e-3,
                                              (double)(k - 1) / (NSCAN - 1));
    hs[k] = h_at(n, t, ia, l);
    if (!(hs[k] <= h + tol)) return 0;
  }
  for (k = 0; k <= NSCAN; k++)
    if ((k == 0 || hs[k] > hs[k - 1]) && (k == NSCAN || hs[k] > hs[k + 1]))
      peaks++;
  return peaks <= 1;
}

int rkin_tac_mono_quick(size_t n, const double *t, const double *a,
                        double lp, double *A, double *l, int *held)
{
  double ia[RKIN_TAC_MAX_POINTS], st = 0, sy = 0, stt = 0, sty = 0;
  double T, tmin, lm, x, amax = 0;
  size_t i;
  int it;
  prof p, q;
  if (n < 2 || n > RKIN_TAC_MAX_POINTS || !(lp > 0)) return 0;
  T = t[n - 1];
  tmin = T;
  for (i = 0; i < n; i++) {
    double ly;
    if (!(a[i] > 0) || !isfinite(a[i]) || !(t[i] >= 0)
        || (i && !(t[i] > t[i - 1])))
      return 0;
    ia[i] = 1.0 / a[i];
    if (a[i] > amax) amax = a[i];
    if (t[i] > 0 && t[i] < tmin) tmin = t[i];
    ly = log(a[i]);
    st += t[i];
    sy += ly;
    stt += t[i] * t[i];
    sty += t[i] * ly;
  }
  if (!(T > 0)) return 0;
  /* rkin_tac_fit's start: the log-linear slope, never at or below l_phys */
  lm = -((double)n * sty - st * sy) / ((double)n * stt - st * st);
  x = lm > lp + 0.01 / T ? lm : lp + 0.1 / T;
  profile(n, t, ia, x, &p);
  for (it = 0; it < MAX_IT; it++) {
    double step, xn;
    int k;
    if (x <= lp && p.d1 <= 0) break;           /* held at physical decay */
    step = p.d2 < 0 ? -p.d1 / p.d2
                    : copysign(0.5 * (x - lp) + 0.1 / T, p.d1);
    for (k = 0; k < 60; k++) {
      xn = x + step;
      if (xn < lp) xn = lp;
      profile(n, t, ia, xn, &q);
      if (isfinite(q.h) && q.h >= p.h - 1e-15 * fabs(p.h)) break;
      step *= 0.5;
    }
    if (k == 60) return 0;
    if (fabs(xn - x) <= 1e-13 * xn) {
      x = xn;
      p = q;
      break;
    }
    x = xn;
    p = q;
  }
  if (it == MAX_IT || !isfinite(p.h)) return 0;
  /* the same rule rkin_tac_fit's classify() applies on its scaled rate */
  *held = (x - lp) * T < 1e-8;
  if (*held) {
    x = lp;
    profile(n, t, ia, x, &p);
  } else if (fabs(p.d1) > 1e-6 * T) {
    return 0;                                  /* not a stationary point */
  }
  /* rkin_tac_fit's bounds: a rate too fast to be seen or an amplitude at
   * the end of its span is a collapsed curve: its own code path */
  if ((x - lp) * T > 0.99 * 100.0 * T / tmin) return 0;
  if (!single_max(n, t, ia, lp, T, 100.0 / tmin, p.h)) return 0;
  *A = p.P / p.Q;
  *l = x;
  if (!(*A > 0) || fabs(log(*A) - log(amax)) > 14.9) return 0;
  return 1;
}
