/* tcp.h - tumour control and normal-tissue complication probabilities.
 *
 * Both are model-dependent estimates, not predictions for a patient: their
 * parameters come from external-beam data and small series, and the
 * dose-rate and heterogeneity effects of radionuclide therapy are only
 * partly captured (the review of dosimetry in Tijdschr Nucl Geneesk
 * 2023;45(2), section "Tumor control: a radiobiological perspective";
 * docs/sources.md). */
#ifndef RKIN_TCP_H
#define RKIN_TCP_H

#include <stddef.h>

#include "core/err.h"

/* Poisson TCP with LQ survival and a normal inter-patient spread of alpha:
 * with beta = alpha / (alpha/beta), the surviving fraction after a dose D
 * delivered with protraction G is exp(-alpha BED), so
 *   TCP(alpha) = exp(-N0 exp(-alpha BED)), N0 = density x volume,
 *   TCP = int_0^inf N(alpha; mean, sd) TCP(alpha) dalpha / P(alpha > 0)
 * (GSL adaptive quadrature; the normal is truncated at alpha = 0). */
typedef struct {
  double alpha_mean;       /* 1/Gy, > 0 */
  double alpha_sd;         /* 1/Gy, >= 0 (0: no spread) */
  double ab_gy;            /* alpha/beta, Gy, > 0 */
  double clonogens_per_l;  /* clonogen density, 1/L (1e7/cm^3 = 1e10/L) */
  double volume_l;         /* tumour volume, L */
} rkin_tcp;

int rkin_tcp_poisson(double dose_gy, double g, const rkin_tcp *p,
                     double *tcp, rkin_err *err);

/* Lyman-Kutcher-Burman NTCP: NTCP = Phi((gEUD - TD50) / (m TD50)) with
 * gEUD = (sum_i v_i D_i^(1/n))^n over a differential DVH (for a uniform
 * dose gEUD = D). Doses should be EQD2 (the parameters come from 2-Gy
 * fractions).
 * Kidney (Burman et al., IJROBP 1991;21:123, endpoint clinical nephritis):
 * TD50 = 28 Gy, m = 0.10, n = 0.70; values C (read in a public NTCP
 * parameter table), not read in the primary source (U). */
typedef struct {
  double td50_gy;   /* > 0 */
  double m;         /* slope, > 0 */
  double n;         /* volume effect, > 0 */
  const char *source;
} rkin_lkb;

extern const rkin_lkb rkin_lkb_kidney_burman1991;

/* Uniform dose (EQD2, Gy). */
int rkin_ntcp_lkb(double eqd2_gy, const rkin_lkb *p, double *ntcp,
                  rkin_err *err);

/* Differential DVH: n_bins doses (EQD2, Gy) and volume fractions (>= 0,
 * summing to 1 within 1e-6). */
int rkin_ntcp_lkb_dvh(size_t n_bins, const double *eqd2_gy,
                      const double *vol_frac, const rkin_lkb *p,
                      double *ntcp, rkin_err *err);

#endif
