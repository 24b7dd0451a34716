/* imaging.h - the measurement side of a regimen: simulated quantitative
 * imaging of a region at given times after an administration, with a
 * proportional error, and the TIA, absorbed dose, G and BED the clinic
 * would derive from it (tac.h fit with model selection, or a single time
 * point), as opposed to the model's truth.
 *
 * Noise: a[k] = true[k] x exp(sigma z - sigma^2 / 2), sigma^2 = ln(1 +
 * cv^2): positive, mean true[k], coefficient of variation cv. z from GSL's
 * MT19937 seeded per (seed, patient, cycle), so draws do not depend on
 * which thread handles a patient.
 *
 * Error model RKIN_IMAGING_EANM (the measurement model of the EANM
 * guidance on uncertainty analysis, Gear et al., EJNMMI 2018;45:2456: A =
 * counts / (t Q RC(v))) adds to that per-image (counting) error factors
 * shared by more than one image, each log-normal with mean 1 and its cv:
 *   calibration  f_Q, one per patient: every time point, cycle and region
 *                of the patient is divided by the same factor;
 *   recovery     f_RC, one per patient and region (the VOI and its
 *                recovery coefficient are the same in every cycle);
 *   volume       f_v, one per patient and region: the segmented volume,
 *                hence the mass of a local-deposition dose (dose ~ 1/m).
 * Measured a = true x f_count / (f_Q f_RC); estimated dose = TIA x s /
 * f_v. Drawn from a stream seeded per (seed, patient) (and region), apart
 * from the per-cycle counting stream, so a cycle's images never change the
 * shared factors. */
#ifndef RKIN_IMAGING_H
#define RKIN_IMAGING_H

#include <stddef.h>

#include "core/err.h"
#include "core/nuclide.h"
#include "dose/radiobio.h"

typedef enum {
  RKIN_IMAGING_TRUTH,  /* decisions from the true simulated dose */
  RKIN_IMAGING_FIT,    /* multi-point sum-of-exponential fit, AICc choice */
  RKIN_IMAGING_STP     /* single time point (the last time given),
                          Haenscheid et al. 2018: TIA = A(t) 2 t / ln 2;
                          G of the implied mono-exponential, rate ln2/t */
} rkin_imaging_method;

typedef enum {
  RKIN_IMAGING_PROP = 0,  /* independent proportional error per image */
  RKIN_IMAGING_EANM       /* plus shared calibration, recovery, volume */
} rkin_imaging_model;

typedef struct {
  rkin_imaging_method method;
  size_t n_times;             /* 1..RKIN_TAC_MAX_POINTS (not for TRUTH) */
  const double *times_h;      /* after the administration, increasing, in
                                 (0, interval) */
  double cv;                  /* proportional error, >= 0 (0: exact) */
  unsigned long seed;
  unsigned tac_models;        /* FIT candidates, tac.h bits; 0: all */
  const int *imaged;          /* n_regions flags; NULL: every region */
  rkin_imaging_model model;   /* 0: PROP (cv only) */
  double cal_cv, rc_cv, volume_cv;   /* EANM: relative SDs of the shared
                                        factors, each in [0, 1] */
} rkin_imaging;

/* Checks method, cv and the times against the cycle interval. */
int rkin_imaging_check(const rkin_imaging *img, double interval_h,
                       rkin_err *err);

/* A thread's noise generator (wraps a gsl_rng). */
typedef struct rkin_imaging_ws rkin_imaging_ws;
rkin_imaging_ws *rkin_imaging_ws_new(rkin_err *err);
void rkin_imaging_ws_free(rkin_imaging_ws *ws);

/* Starts the noise stream of (patient, cycle); later rkin_imaging_noise
 * calls draw from it in order. */
void rkin_imaging_seed(rkin_imaging_ws *ws, const rkin_imaging *img,
                       size_t patient, size_t cycle);
/* Multiplies a[0..n-1] by the error factors (nothing when cv = 0). */
void rkin_imaging_noise(rkin_imaging_ws *ws, const rkin_imaging *img,
                        size_t n, double *a);

/* The shared factors of (patient, region) under the EANM model: *f_act
 * multiplies every measured activity of the region (1 / (f_Q f_RC)),
 * *f_mass the region's estimated mass (f_v). Both 1 under PROP. The same
 * for every cycle; f_Q the same for every region. */
void rkin_imaging_shared(rkin_imaging_ws *ws, const rkin_imaging *img,
                         size_t patient, size_t region, double *f_act,
                         double *f_mass);

/* Relative standard uncertainties the clinic assigns to the shared
 * factors (EANM: calibration and recovery combined in quadrature, both
 * scaling the activity; volume via the mass); 0 under PROP. */
void rkin_imaging_shared_u(const rkin_imaging *img, double *u_act_rel,
                           double *u_mass_rel);

/* What the clinic derives from one region's measured points. */
typedef struct {
  double tia;   /* MBq h, 0..inf of the fitted curve */
  double dose;  /* Gy */
  double g;     /* Lea-Catcheside factor of the fitted curve */
  double bed;   /* Gy */
  double u_rel; /* relative SD of the TIA (and dose) from the images' own
                   (counting) error: the fit's SE (STP: cv); 0 when not
                   available. Independent between cycles. */
} rkin_imaging_est;

/* From a[k] measured at img->times_h[k] (MBq) in a region with S value
 * s_gy_per_mbqh (local deposition) and LQ parameters lq. `where` names
 * the region in messages. Errors: a point <= 0, a fit with no result. */
int rkin_imaging_estimate(const rkin_imaging *img, const rkin_nuclide *nuc,
                          const double *a, double s_gy_per_mbqh,
                          const rkin_lq *lq, const char *where,
                          rkin_imaging_est *out, rkin_err *err);

#endif
