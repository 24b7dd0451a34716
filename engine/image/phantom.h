/* phantom.h - a synthetic SPECT/CT phantom for tests and examples: an
 * ellipsoidal body with liver, two kidneys, spleen, a spine of bone and
 * spheres (lesions) of chosen sizes; a time-activity curve per region, the
 * matching CT in HU, and the analytic time-integrated activity per voxel.
 *
 * The phantom's grid has identity direction and its centre at the world
 * origin. Organ shapes are ellipsoids (the spine an elliptic cylinder)
 * placed at fixed fractions of the field of view's half extents, so any
 * grid size gives the same anatomy; spheres are given in mm. A voxel
 * belongs to the region containing its centre; spheres override organs,
 * organs override the body. Values are concentrations (Bq/mL). */
#ifndef RKIN_PHANTOM_H
#define RKIN_PHANTOM_H

#include "core/err.h"
#include "image/image.h"

enum {
  RKIN_PH_BODY = 1, RKIN_PH_LIVER = 2, RKIN_PH_KIDNEY_R = 3,
  RKIN_PH_KIDNEY_L = 4, RKIN_PH_SPLEEN = 5, RKIN_PH_SPINE = 6,
  RKIN_PH_N_ORGANS = 6,
  RKIN_PH_SPHERE0 = 10,      /* sphere s has label 10 + s */
  RKIN_PH_MAX_SPHERES = 8
};

/* c(t) = c0 e^{-lambda t}                         (uptake_h == 0)
 *      = c0 (e^{-lambda t} - e^{-uptake t})         (uptake_h > lambda_h)
 * in Bq/mL, t in h after administration; rates include physical decay. */
typedef struct {
  double c0;
  double lambda_h;
  double uptake_h;
} rkin_phantom_tac;

typedef struct {
  size_t n[3];
  double spacing_mm[3];
  rkin_phantom_tac organ[RKIN_PH_N_ORGANS];   /* by label - 1 */
  size_t n_spheres;
  struct {
    double centre_mm[3];
    double radius_mm;
    rkin_phantom_tac tac;
  } sphere[RKIN_PH_MAX_SPHERES];
} rkin_phantom;

/* A 177Lu-PSMA-like default on an n^3 grid of cubic voxels: background,
 * liver, kidneys, spleen with uptake and washout, one 15-mm-radius lesion
 * in the liver. */
void rkin_phantom_default(rkin_phantom *p, size_t n, double spacing_mm);
/* Checks the phantom (sizes, finite non-negative c0, lambda > 0, uptake 0
 * or > lambda, spheres inside the field of view) and gives its grid. */
int rkin_phantom_grid(const rkin_phantom *p, rkin_grid *g, rkin_err *err);
int rkin_phantom_labels(const rkin_phantom *p, rkin_image *labels,
                        rkin_err *err);
/* CT numbers (HU) of each region: air -1000, body 40, liver 55, kidneys
 * 30, spleen 45, spine 700, spheres 60. */
int rkin_phantom_ct(const rkin_phantom *p, rkin_image *ct, rkin_err *err);
/* The activity concentration at t_h (>= 0). */
int rkin_phantom_activity(const rkin_phantom *p, double t_h, rkin_image *act,
                          rkin_err *err);
/* The analytic time-integrated activity concentration, Bq·h/mL. */
int rkin_phantom_tia(const rkin_phantom *p, rkin_image *tia, rkin_err *err);
/* The curve of a label (NULL outside the body) and its evaluation. */
const rkin_phantom_tac *rkin_phantom_tac_of(const rkin_phantom *p, int label);
double rkin_phantom_tac_eval(const rkin_phantom_tac *c, double t_h);
double rkin_phantom_tac_integral(const rkin_phantom_tac *c);

/* --- SPECT-like degradation (filter.c) */

/* Separable Gaussian blur of the given FWHM (mm), truncated at 4 sigma,
 * the weights renormalised at the borders (a uniform image stays uniform;
 * the total is kept when the activity lies 4 sigma inside the borders). */
int rkin_image_blur(rkin_image *im, double fwhm_mm, rkin_err *err);
/* Poisson noise: each voxel becomes Poisson(v k) / k, with k the counts
 * per unit value (> 0); GSL's MT19937 seeded with `seed`, so a seed
 * reproduces the image. Negative voxels are an error. */
int rkin_image_poisson(rkin_image *im, double counts_per_unit,
                       unsigned long seed, rkin_err *err);

#endif
