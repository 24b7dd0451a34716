/* gfactor.h - the Lea-Catcheside dose-protraction factor G of a dose-rate
 * curve, by four independent routes that must agree.
 *
 * G = (2 / D^2) int_0^inf R(t) int_0^t R(w) exp(-mu (t - w)) dw dt,
 * D = int_0^inf R, mu = ln 2 / T_rep (docs/sources.md; closed forms with
 * uptake: Baechler et al., Med Phys 2008;35:1123). G = 1 for an
 * instantaneous dose, G -> 0 for a dose delivered slowly compared with
 * repair. BED = D (1 + G D / (alpha/beta)) (radiobio.h).
 *
 * Routes: closed forms (mono-exponential, uptake + clearance), the finite
 * double sum for any sum of exponentials, nested GSL quadrature (for
 * validation), and the auxiliary-state ODE q' = R - mu q, I' = R q with
 * G = 2 I / D^2 (what a simulation integrates alongside its model). */
#ifndef RKIN_GFACTOR_H
#define RKIN_GFACTOR_H

#include <stddef.h>

#include "dose/doserate.h"
#include "core/err.h"

/* A dose rate given as a function: sets *rate_gy_h = R(t_h), returns 0,
 * or non-zero to stop the integration (the caller's failure; reported as
 * RKIN_EINVAL naming t). Must not longjmp. */
typedef int (*rkin_rate_fn)(double t_h, double *rate_gy_h, void *ctx);

/* Instantaneous uptake, mono-exponential clearance R = R0 exp(-lambda t):
 * G = lambda / (lambda + mu). lambda_per_h > 0, trep_h > 0. */
int rkin_gfactor_mono(double lambda_per_h, double trep_h, double *g,
                      rkin_err *err);

/* Uptake and clearance R = R0 (exp(-lc t) - exp(-lu t)) (lu > lc; the
 * formula is symmetric, so the order does not matter, and it holds in the
 * limit lu = lc, R ~ t exp(-lc t)):
 * G = lc lu (lc + lu + mu) / ((lc + lu) (lc + mu) (lu + mu))
 * (derived from the double sum; cf. Baechler et al. 2008). */
int rkin_gfactor_uptake(double lambda_c_per_h, double lambda_u_per_h,
                        double trep_h, double *g, rkin_err *err);

/* Any sum of exponentials (checked with rkin_doserate_check), closed form:
 * G = (2/D^2) sum_i sum_j c_i c_j / ((b_i + b_j)(b_i + mu)). */
int rkin_gfactor_sum(const rkin_doserate *r, double trep_h, double *g,
                     rkin_err *err);

/* Nested adaptive GSL quadrature of the Lea-Catcheside integral for any R
 * (QAGIU outside, QAG inside), relative tolerance about 1e-10: slow, for
 * validation. Also returns D (may be NULL). */
int rkin_gfactor_quad(rkin_rate_fn rate, void *ctx, double trep_h,
                      double *g, double *dose_gy, rkin_err *err);

/* Auxiliary states D' = R, q' = R - mu q, I' = R q from 0 to t_end_h (GSL
 * odeiv2, Runge-Kutta-Prince-Dormand 8(9), rel. tol. 1e-12), then
 * G = 2 I / D^2. When tail_rate_per_h > 0, R is taken to decay as
 * R(t_end) exp(-tail_rate (t - t_end)) afterwards and that tail is added
 * exactly (D += R_T / b, I += R_T q_T / (b + mu) + R_T^2 / (2 b (b + mu)));
 * with 0 the integral stops at t_end. Also returns D (may be NULL). */
int rkin_gfactor_aux(rkin_rate_fn rate, void *ctx, double trep_h,
                     double t_end_h, double tail_rate_per_h, double *g,
                     double *dose_gy, rkin_err *err);

/* The same for a sampled dose rate (t_h strictly increasing from 0, n >= 2,
 * R >= 0), interpolated with a monotone (Steffen) spline, integrated to
 * t[n-1], tail as above. */
int rkin_gfactor_aux_sampled(size_t n, const double *t_h,
                             const double *rate_gy_h, double trep_h,
                             double tail_rate_per_h, double *g,
                             double *dose_gy, rkin_err *err);

/* G = 2 I / D^2 from auxiliary states integrated elsewhere (the solver):
 * D > 0, 0 <= I <= D^2 / 2 (up to rounding). */
int rkin_gfactor_from_aux(double dose_gy, double i_gy2, double *g,
                          rkin_err *err);

#endif
