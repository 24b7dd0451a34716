/* radiobio.h - linear-quadratic BED and EQD2 of protracted doses,
 * cumulative BED over cycles and the remaining BED budget of an organ.
 *
 * BED = D (1 + G D / (alpha/beta)), EQD2 = BED / (1 + 2 / (alpha/beta))
 * (docs/sources.md "Linear-quadratic model"), G the Lea-Catcheside factor of the cycle's dose-rate
 * curve (gfactor.h). Cycles weeks apart repair completely in between, so
 * cumulative BED is the sum of cycle BEDs. Organ parameters and limits are
 * in organ.h, TCP / NTCP in tcp.h. */
#ifndef RKIN_RADIOBIO_H
#define RKIN_RADIOBIO_H

#include <stddef.h>

#include "dose/doserate.h"
#include "core/err.h"

typedef struct {
  double ab_gy;   /* alpha/beta, Gy, > 0 */
  double trep_h;  /* repair half-time, h, > 0 */
} rkin_lq;

/* alpha/beta > 0 and T_rep > 0, both finite; `where` names the organ. */
int rkin_radiobio_check(const rkin_lq *p, const char *where, rkin_err *err);

/* BED of a dose D [Gy] delivered with protraction factor G in [0, 1]. */
int rkin_radiobio_bed(double dose_gy, double g, const rkin_lq *p,
                      const char *where, double *bed_gy, rkin_err *err);

/* EQD2 = BED / (1 + 2 / (alpha/beta)). */
int rkin_radiobio_eqd2(double bed_gy, const rkin_lq *p, const char *where,
                       double *eqd2_gy, rkin_err *err);

/* D, G and BED of a dose-rate curve (closed-form double sum). Any output
 * may be NULL. */
int rkin_radiobio_bed_curve(const rkin_doserate *r, const rkin_lq *p,
                            const char *where, double *dose_gy, double *g,
                            double *bed_gy, rkin_err *err);

/* Sum of n cycle BEDs (each finite and >= 0; the message names the
 * cycle). */
int rkin_radiobio_cumulative(size_t n, const double *bed_gy,
                             const char *where, double *sum_gy,
                             rkin_err *err);

/* Remaining BED budget: the largest next-cycle absorbed dose D >= 0 with
 * bed_so_far + D (1 + g D / (alpha/beta)) <= limit. For a fixed curve
 * shape G does not change with the activity, so this is the positive root
 * of (g / ab) D^2 + D - (limit - bed_so_far) = 0, written
 * D = 2 R / (1 + sqrt(1 + 4 g R / ab)) to avoid cancellation. D = 0 when
 * the limit is already reached (*over = 1 then, else 0; over may be NULL).
 * Errors: limit <= 0, bed_so_far < 0, g outside [0, 1], bad LQ. */
int rkin_radiobio_budget(double bed_so_far_gy, double limit_bed_gy,
                         double g, const rkin_lq *p, const char *where,
                         double *dose_next_gy, int *over, rkin_err *err);

/* Activity [MBq] that gives dose_gy when the dose per activity is
 * gy_per_mbq (dose is linear in activity for a fixed kinetics). */
int rkin_radiobio_activity_for(double dose_gy, double gy_per_mbq,
                               const char *where, double *activity_mbq,
                               rkin_err *err);

#endif
