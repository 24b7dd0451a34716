/* dvh.h - dose-volume histograms and dose statistics of a VOI.
 *
 * Definitions (every voxel of a VOI has the same volume):
 *  - V(d): the fraction of the VOI receiving at least d (cumulative DVH).
 *  - D_x: the minimum dose of the hottest x % of the volume. With the n
 *    doses sorted ascending, d_(1) <= ... <= d_(n), voxel m covers the
 *    volume fractions ((m-1)/n, m/n] and stands at (m - 0.5)/n; D_x is
 *    interpolated linearly at the fraction p = 1 - x/100 between those
 *    centres (clamped at the ends). For doses spread evenly over [0, D]
 *    this gives D_x = (1 - x/100) D exactly.
 *  - median = D_50; mean, min, max, sd over the voxels.
 *  - gEUD(a) = (mean d^a)^(1/a) (Niemierko's generalised EUD; a = 1 the
 *    mean, a -> +inf the max, a < 0 for tumours, a -> -inf the min).
 *  - EUD for tumours from the linear-quadratic cell kill with alpha only:
 *    EUD = -ln(mean e^(-alpha d)) / alpha. */
#ifndef RKIN_DVH_H
#define RKIN_DVH_H

#include "core/err.h"
#include "image/image.h"

typedef struct {
  size_t n;
  double voxel_ml;
  double *d;            /* the n doses, ascending */
  double mean, sd, min, max, median;
  double d2, d50, d70, d90, d98;
} rkin_dvh;

/* The DVH of dose over mask (same grid; NULL: whole image). An empty VOI
 * or a non-finite dose is an error. */
int rkin_dvh_eval(const rkin_image *dose, const unsigned char *mask,
                  rkin_dvh *out, rkin_err *err);
/* The DVHs of several labels of a label map (same grid as the dose;
 * label values rounded to the nearest integer) in one pass over the map:
 * out[l] for label_of[l] (1..65535, distinct). A label without voxels, a
 * non-finite dose in a VOI, or labels on another grid is an error; on an
 * error every out[l] is freed. */
int rkin_dvh_eval_labels(const rkin_image *dose, const rkin_image *labels,
                         size_t n_labels, const int *label_of,
                         rkin_dvh *out, rkin_err *err);
void rkin_dvh_free(rkin_dvh *h);
/* D_x for x in [0, 100] percent. */
double rkin_dvh_dx(const rkin_dvh *h, double x_pct);
/* V(d): fraction (0..1) of the VOI with dose >= d. */
double rkin_dvh_vx(const rkin_dvh *h, double d);
/* gEUD(a); a = 0 is an error (NaN). */
double rkin_dvh_geud(const rkin_dvh *h, double a);
/* EUD from cell survival with alpha (1/Gy, > 0). */
double rkin_dvh_eud_alpha(const rkin_dvh *h, double alpha);
/* Histogram on nbins bins of width `bin` Gy from 0: cum[b] = V(b bin),
 * diff[b] = the fraction with dose in [b bin, (b+1) bin) (the last bin
 * also takes everything above). Either array may be NULL. */
int rkin_dvh_curve(const rkin_dvh *h, double bin, size_t nbins, double *cum,
                   double *diff, rkin_err *err);

#endif
