/* tac_impl.h - internals shared by the tac_*.c files (not installed). */
#ifndef RKIN_TAC_IMPL_H
#define RKIN_TAC_IMPL_H

#include "tac/tac.h"

/* Kind of a natural parameter: an amplitude or a rate. A rate's `prev` is
 * the index of the next slower rate (or -1: the physical decay rate), so
 * rates are ordered l1 < l2 < l3 by construction. */
typedef struct {
  int np;
  int is_rate[RKIN_TAC_MAX_PAR];
  int prev[RKIN_TAC_MAX_PAR];
} tac_shape;

const tac_shape *tac_shape_of(rkin_tac_model m);

/* f(t) and, when dfdp is not NULL, df/dp_j. */
double tac_eval(rkin_tac_model m, const double *p, double t, double *dfdp);

/* Integral of f over [t0, inf) and, when grad is not NULL, its gradient. */
double tac_integral_from(rkin_tac_model m, const double *p, double t0,
                         double *grad);

/* Weights 1/sigma_i^2 from sd, or proportional cv (cv 0: cv 1, the scale
 * being estimated later). Zeros (allowed at late times) borrow the
 * smallest positive activity so that their weight stays finite. */
void tac_weights(const rkin_tac_data *d, double cv, double *w);

/* Quantile for a two-sided interval: normal, or Student t with dof > 0. */
double tac_quantile(double level, double dof);

/* Covariance (B^T B)^-1 of the free parameters from B (rows x q,
 * row-major, rows >= q, destroyed), where B is sqrt(W) J, stacked with
 * diag(1/omega) for a prior. Through an SVD, so a singular problem is
 * detected instead of reported by GSL's error handler: 0, or -1 when the
 * condition number exceeds 1e12 (the parameters are not identifiable). */
int tac_covariance(double *b, size_t rows, size_t q, double *cov);

/* Fits candidate m (data already checked, w from tac_weights). Never
 * fails: the outcome is in c->status and c->note. */
void tac_fit_cand(const rkin_tac_data *d, const double *w, double lp,
                  const rkin_tac_opts *o, rkin_tac_model m, rkin_tac_cand *c);

/* Trapezoid through the points plus a physical-decay tail. */
void tac_trap(const rkin_tac_data *d, double lp, const rkin_tac_opts *o,
              rkin_tac_cand *c);

/* rkin_tac_map with the first max_starts starts only (0: all); 1 is the
 * single search from the prior mode, for tests. */
int tac_map_run(const rkin_tac_data *d, const rkin_tac_prior *pr,
                double level, int max_starts, rkin_tac_cand *o,
                rkin_err *err);

/* Clears a candidate record: status NOT_TRIED, every number NaN. */
void tac_cand_reset(rkin_tac_cand *c, rkin_tac_model m);

/* Appends "; text" to a note buffer. */
void tac_note(char *buf, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
