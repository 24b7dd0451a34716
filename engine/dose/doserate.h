/* doserate.h - a region's absorbed-dose rate as a sum of exponentials.
 *
 * R(t) = sum_k c_k exp(-b_k t), t in h after administration, c_k in Gy/h,
 * b_k in 1/h. A fitted time-activity curve A(t) = sum_k a_k exp(-b_k t)
 * (MBq, decay included) becomes a dose rate through the energy deposited
 * per MBq·h and the mass (local deposition) or through an S value. This is
 * the curve radiobiology (gfactor.h, radiobio.h) works on. */
#ifndef RKIN_DOSERATE_H
#define RKIN_DOSERATE_H

#include <stddef.h>

#include "core/err.h"
#include "core/nuclide.h"

/* Enough for mono-, bi- and tri-exponential fits and their sums over
 * sources; a fixed size keeps the object on the stack and allocation-free
 * in cohort loops. */
#define RKIN_DOSERATE_MAX 8

typedef struct {
  size_t n;                    /* number of terms, 1..RKIN_DOSERATE_MAX */
  double c[RKIN_DOSERATE_MAX]; /* Gy/h at t = 0 of each term (any sign) */
  double b[RKIN_DOSERATE_MAX]; /* decay rate of each term, 1/h, > 0 */
} rkin_doserate;

/* Fills r from n terms and checks it (rkin_doserate_check). `where` names
 * the curve in messages ("kidney"). */
int rkin_doserate_set(rkin_doserate *r, size_t n, const double *c_gy_h,
                      const double *b_per_h, const char *where,
                      rkin_err *err);

/* A fitted activity curve A(t) = sum a_k exp(-b_k t) [MBq] in a region of
 * mass m [kg] that keeps all its non-penetrating energy (local energy
 * deposition): c_k = a_k x E_np x 3.6e9 x 1.602176634e-13 / m. */
int rkin_doserate_from_tac(rkin_doserate *r, const rkin_nuclide *nuc,
                           size_t n, const double *a_mbq,
                           const double *b_per_h, double mass_kg,
                           const char *where, rkin_err *err);

/* Same with an S value [Gy/(MBq·h)] instead: c_k = a_k x S. */
int rkin_doserate_from_tac_s(rkin_doserate *r, double s_gy_per_mbqh,
                             size_t n, const double *a_mbq,
                             const double *b_per_h, const char *where,
                             rkin_err *err);

/* Rejects: n = 0 or > RKIN_DOSERATE_MAX; a non-finite coefficient; a rate
 * b_k <= 0 (the curve does not decay, TIA and dose are infinite); a
 * negative dose rate at t = 0; a total dose <= 0. */
int rkin_doserate_check(const rkin_doserate *r, const char *where,
                        rkin_err *err);

/* R(t), Gy/h. */
double rkin_doserate_eval(const rkin_doserate *r, double t_h);

/* Total absorbed dose D = integral_0^inf R = sum c_k / b_k, Gy. */
double rkin_doserate_total(const rkin_doserate *r);

/* Multiplies every coefficient by s (a change of administered activity). */
void rkin_doserate_scale(rkin_doserate *r, double s);

#endif
