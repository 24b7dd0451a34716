/* popres.h - residual error models and the per-observation likelihood of a
 * population fit: Gaussian observations under every error model NONMEM and
 * nlmixr2 users write, and observations censored at a quantification limit
 * (Beal's M3).
 *
 * Error models (nlmixr2 / rxode2 definitions, tests/testthat/
 * test-focei-variances.R of rxode2; NONMEM's W = SQRT(...) forms), with f
 * the prediction and a, b, c the endpoint's sigma parameters in this
 * order:
 *   ADD       SD = a                       (nlmixr2 add(a))
 *   PROP      SD = b f                     (prop(b))
 *   COMB      SD = sqrt(a^2 + b^2 f^2)     (add + prop, combined2;
 *                                           NONMEM's usual combined)
 *   COMB1     SD = a + b f                 (add + prop + combined1())
 *   POW       SD = b f^c, c estimated      (pow(b, c))
 *   ADD_POW   SD = sqrt(a^2 + b^2 f^(2c))  (add + pow, combined2)
 *   ADD_POW1  SD = a + b f^c               (add + pow, combined1)
 * f^c is taken of |f|. Log-transform-both-sides (nlmixr2 lnorm, NONMEM's
 * LTBS "exponential" model): log y = log f + eps, SD(eps) = a; additive
 * only. Its objective has no Jacobian term, as NONMEM's LTBS OFV (data
 * and predictions are both on the log scale).
 *
 * Censoring (nlmixr2's CENS convention): CENS 1, the value is below the
 * limit L (the LLOQ); CENS -1, above it (the ULOQ). M3 (Beal 2001, J
 * Pharmacokinet Pharmacodyn 28:481) uses the probability of being beyond
 * the limit: L_j = Phi(z), z = sign (L - f) / SD, sign 1 for CENS 1 and -1
 * for CENS -1 (on the log scale L and f are logged first). */
#ifndef RKIN_POPRES_H
#define RKIN_POPRES_H

#include <stddef.h>

typedef enum {
  RKIN_RES_ADD, RKIN_RES_PROP, RKIN_RES_COMB, RKIN_RES_COMB1, RKIN_RES_POW,
  RKIN_RES_ADD_POW, RKIN_RES_ADD_POW1
} rkin_res_model;

/* How censored records (CENS 1 / -1, or DV below an LLOQ column) enter a
 * fit: M3 likelihood (default), M1 dropped, fitted as ordinary
 * observations at their DV (ignoring that they are censored), or M4 (M3
 * conditional on positive values, every record; Laplace methods only). */
typedef enum { RKIN_BLQ_M3, RKIN_BLQ_M1, RKIN_BLQ_DV, RKIN_BLQ_M4 }
  rkin_blq_method;

/* Number of sigma parameters of a model (1 to 3); 0 for an unknown one. */
size_t rkin_res_nparams(rkin_res_model res);
/* Short NONMEM-style name of sigma parameter k of a model: "ADD", "PROP",
 * "POW_EXP"; NULL past the end. */
const char *rkin_res_param_name(rkin_res_model res, size_t k);
/* 1 when sigma parameter k must be > 0 (an SD factor), 0 when it may
 * take any finite value (a power exponent). */
int rkin_res_param_positive(rkin_res_model res, size_t k);

/* One observation's contribution to the objective and what FOCE and
 * Laplace need of it. The SD may scale with a variable s other than the
 * prediction (nlmixr2 propF / powF); when it is the prediction, s = f and
 * a caller adds the f- and s-derivatives (ds/deta = df/deta). */
typedef struct {
  double c;          /* -2 log L_j without constants: r^2/V + log V, or
                        -2 log Phi(z) when censored */
  double r, V;       /* residual and variance on the model's scale (log
                        scale: log y - log f); censored: at the limit */
  double dm;         /* d(mean on the model's scale)/df: 1, or 1/f */
  double c_f, c_s;   /* dc/df, dc/ds */
  /* FOCE weights: the Hessian of sum_j c_j over eta is approximated by
   * 2 (w_ff gf gf' + w_fs (gf gs' + gs gf') + w_ss gs gs'), gf, gs the
   * eta-gradients of f and s. Gaussian: half the expected (Fisher)
   * information, m_f^2 / V and V_s^2 / (2 V^2), the FOCE-I of NONMEM;
   * censored: half the second derivative of c along z (Gauss-Newton in
   * z, exact in f for a linear z). */
  double w_ff, w_fs, w_ss;
  /* Exact second derivatives of c in (f, s), for Laplace. */
  double c_ff, c_fs, c_ss;
} rkin_res_obs;

/* The contribution of observation y with prediction f (and SD variable s)
 * under model res (on the log scale when log_scale), sigma parameters sig.
 * cens: 0 observed, 1 below limit, -1 above limit (M3). Returns 0, or
 * RKIN_ERANGE when the variance is not > 0 or a log-scale value is not
 * > 0, RKIN_ENONFINITE when the value is not finite; no message (the
 * caller names the record). */
int rkin_res_eval(rkin_res_model res, int log_scale, const double *sig,
                  double y, double f, double s, int cens, double limit,
                  rkin_res_obs *o);

/* Beal's M4 (Beal 2001, J Pharmacokinet Pharmacodyn 28:481): every
 * observation's likelihood conditional on the value being positive, for
 * quantities that cannot be negative. Observed: N(y; f, V) / Phi(f / SD);
 * below the limit L: (Phi((L - f) / SD) - Phi(-f / SD)) / Phi(f / SD);
 * above it: Phi((f - L) / SD) / Phi(f / SD). c = -2 log of that without
 * constants, with its exact first and second derivatives in (f, s); the
 * FOCE weights w_* are set to half the exact second derivatives (M4 is
 * used with the Laplace methods only). On the log scale the value is
 * positive by construction and M4 is M3 (rkin_res_eval). A limit <= 0
 * for CENS 1 is RKIN_ERANGE. */
int rkin_res_eval_m4(rkin_res_model res, int log_scale, const double *sig,
                     double y, double f, double s, int cens, double limit,
                     rkin_res_obs *o);

#endif
