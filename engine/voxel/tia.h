/* tia.h - time-integrated activity per voxel from a series of registered
 * activity images (same grid), and BED per voxel.
 *
 * Images hold activity concentration (Bq/mL) at times t_i (h after
 * administration, physical decay included: not decay-corrected). Each
 * voxel is fitted as an activity (MBq in the voxel) with the tac/
 * machinery, and its TIA returned as a concentration (Bq h/mL). Voxels
 * outside the mask (the body) are skipped (TIA 0).
 *
 * Methods:
 *  - per voxel: every voxel fitted with the tac candidates (models bit
 *    mask, see tac.h) and the chosen curve integrated; threaded. A voxel
 *    whose data tac refuses (a zero before a positive value, all zero) is
 *    counted and gets TIA 0 if all its values are 0, else the trapezoid of
 *    its values with a physical-decay tail (n_fallback).
 *  - VOI shape: the VOI's summed curve is fitted once; each voxel gets the
 *    VOI's TIA times its share of the VOI's activity summed over the time
 *    points, sum_i a_vi / sum_i A_i. The VOI sum of the map is then the
 *    VOI-level TIA exactly, and noise is averaged over the time points.
 *  - single time point: TIA = a(t) 2 t / ln 2 (Haenscheid et al. 2018) or
 *    a(t) e^(l t) / l with a population effective rate l.
 * Each voxel keeps its curve (model and natural parameters per mL) for
 * its dose-rate shape in BED. */
#ifndef RKIN_VOXEL_TIA_H
#define RKIN_VOXEL_TIA_H

#include "core/err.h"
#include "dose/radiobio.h"
#include "image/image.h"
#include "tac/tac.h"

#define RKIN_VOXEL_SKIPPED 255   /* model[] of a voxel outside the mask */

typedef enum {
  RKIN_VTIA_PER_VOXEL = 0,
  RKIN_VTIA_VOI_SHAPE,
  RKIN_VTIA_STP_HAENSCHEID,
  RKIN_VTIA_STP_POPLAMBDA,
  RKIN_VTIA_HYBRID        /* VOI shape, and per-voxel fits where counts
                           * allow: a voxel whose concentration is >=
                           * hybrid_min at every time point is fitted on
                           * its own (as per voxel), the rest keep their
                           * VOI-shape TIA */
} rkin_vtia_method;

typedef struct {
  rkin_vtia_method method;
  const char *nuclide;
  unsigned models;       /* tac candidates (0: all) */
  double cv;             /* tac opts.cv: known proportional error, or 0 */
  double pop_lambda_h;   /* STP_POPLAMBDA: the population effective rate */
  int threads;           /* per voxel: worker threads (<= 0: 1) */
  double hybrid_min;     /* HYBRID: Bq/mL (> 0) every time point must
                          * reach for a voxel's own fit */
  int no_quick;          /* per voxel with models = mono only: 0 fits
                          * each curve by rkin_tac_mono_quick (the same
                          * minimum, falling back to rkin_tac_fit where it
                          * declines); 1 sends every voxel through
                          * rkin_tac_fit (the reference) */
} rkin_vtia_opts;

typedef struct {
  rkin_image tia;               /* Bq h/mL */
  unsigned char *model;         /* rkin_tac_model per voxel, or SKIPPED */
  float *par;                   /* RKIN_TAC_MAX_PAR per voxel, per mL */
  size_t n_fitted, n_skipped, n_zero, n_fallback;
  size_t n_own;                 /* HYBRID: voxels fitted on their own (the
                                 * fitted rest took the VOI shape) */
  rkin_tac_result voi;          /* VOI shape: the VOI's fit */
  char note[256];               /* the first fallback's reason */
} rkin_vtia;

/* n images (n >= 1; >= 2 for the fitting methods), each on the grid of
 * the first, with times t[] (strictly increasing, >= 0, finite). mask
 * (may be NULL: every voxel) selects the body. Negative voxels are an
 * error (clip them first, rkin_image_clip_negative). */
int rkin_voxel_tia(size_t n, const rkin_image *const *act, const double *t,
                   const unsigned char *mask, const rkin_vtia_opts *o,
                   rkin_vtia *out, rkin_err *err);
void rkin_vtia_free(rkin_vtia *v);

/* Tissue class of a label: alpha/beta and repair half-time. Label 0 is
 * the class of every label not listed. */
typedef struct {
  int label;
  rkin_lq lq;
} rkin_tissue_class;

/* BED = D (1 + G D / (alpha/beta)) per voxel, G from the voxel's own
 * curve (mono: lambda / (lambda + mu); uptake-washout and sums of
 * exponentials in closed form, gfactor.h); trapezoid voxels take the G of
 * physical decay. eqd2 may be NULL. A voxel with dose > 0 and a label
 * without a class is an error naming the label. */
int rkin_voxel_bed(const rkin_image *dose, const rkin_vtia *v,
                   const rkin_image *labels, const rkin_tissue_class *cls,
                   size_t ncls, const char *nuclide, rkin_image *bed,
                   rkin_image *eqd2, rkin_err *err);

#endif
