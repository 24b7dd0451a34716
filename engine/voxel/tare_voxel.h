/* tare_voxel.h - TARE voxel planning from a pre-treatment 99mTc-MAA or
 * 166Ho-scout SPECT: the scout's counts, normalised per perfused territory
 * (one infusion position each), give the microsphere activity per voxel;
 * dose maps by local deposition and by kernel; the partition model of
 * engine/tare from the same volumes for comparison.
 *
 * Model. Territory k (its mask intersected with the liver, tumours
 * included) receives A_k MBq, of which A_k L_k goes to the lungs and
 * A_k (1 - L_k) lodges in the territory in proportion to the scout counts
 * c_v (negative counts taken as 0 and counted):
 *   A_v = A_k (1 - L_k) c_v / sum_{u in k} c_u.
 * Microspheres do not move, so a voxel absorbs D_v = CF A_v / m_v (local
 * deposition, the standard for 90Y/166Ho: CF Gy kg/GBq as engine/tare,
 * m_v = rho_v V_v); the lungs CF sum_k A_k L_k / M_lung. For the kernel
 * dose the voxel's decays are A_v / lambda (physical decay only).
 *
 * Planning modes per territory (dose is linear in A_k, so each is one
 * division by the dose of 1 MBq): a given activity; the activity for a
 * tumour mean dose (mean over the territory's tumour voxels); for a
 * normal-liver D70 (the minimum dose of the hottest 70 % of the
 * territory's normal-liver voxels); for a normal-liver mean dose. Doses of
 * a volume are voxel averages (= mass averages when the density is
 * uniform).
 *
 * Partition model from the same volumes: territory mass and tumour mass
 * from the voxels' mass, T/N the ratio of counts per unit mass in tumour
 * and normal liver, then rkin_tare_plan_run (one lesion per territory:
 * all its tumour voxels) twice: at the voxel-planned activities (its
 * doses and limit checks) and aiming at the same target (its activity;
 * D70 and mean normal-liver targets both map to the partition model's
 * normal-liver dose, which is uniform). For a uniform normal liver and a
 * uniform tumour the two models agree exactly. */
#ifndef RKIN_TARE_VOXEL_H
#define RKIN_TARE_VOXEL_H

#include "core/err.h"
#include "image/image.h"
#include "tare/tare.h"
#include "voxel/kernel.h"

typedef enum {
  RKIN_TVOX_ACTIVITY,     /* value: administered activity, MBq */
  RKIN_TVOX_TUMOUR_MEAN,  /* value: tumour mean dose, Gy */
  RKIN_TVOX_NORMAL_D70,   /* value: normal-liver D70, Gy */
  RKIN_TVOX_NORMAL_MEAN   /* value: normal-liver mean dose, Gy */
} rkin_tvox_mode;

/* Parses "activity", "tumour_mean", "normal_d70", "normal_mean". */
int rkin_tvox_mode_parse(const char *s, rkin_tvox_mode *m, rkin_err *err);
const char *rkin_tvox_mode_name(rkin_tvox_mode m);

typedef struct {
  const char *name;              /* for messages; NULL: "territory k" */
  const unsigned char *mask;     /* infusion territory on the scout's grid;
                                    NULL: the whole liver */
  double lsf;                    /* lung shunt fraction, [0, 1) */
  rkin_tvox_mode mode;
  double value;                  /* MBq or Gy, by mode */
} rkin_tvox_territory;

typedef struct {
  const rkin_image *scout;       /* MAA / scout SPECT, any unit of activity */
  const unsigned char *liver;    /* whole liver incl. tumours (required) */
  const unsigned char *tumour;   /* tumours (may be NULL) */
  const rkin_image *rho;         /* density map (g/cm3) on the grid, or NULL */
  double rho_uniform;            /* g/cm3 when rho is NULL (0: 1.03, the
                                    liver density engine/tare uses) */
  const rkin_tare_product *product; /* limits and nuclide of the comparison */
  const rkin_nuclide *nuclide;   /* for the decays of the kernel dose */
  double cf;                     /* Gy kg / GBq */
  double lung_mass_kg;           /* 0: 1 kg */
  const rkin_kernel *kernel;     /* NULL: no kernel dose map */
  const rkin_tvox_territory *terr;
  size_t n_terr;                 /* 1..RKIN_TARE_MAX_TERR */
} rkin_tvox_plan;

typedef struct {
  double activity_mbq;           /* administered into the territory */
  double liver_mbq;              /* lodged in the territory: A (1 - L) */
  double lung_gy;                /* this territory's lung dose */
  size_t n_voxels, n_tumour, n_normal;
  double mass_kg, tumour_kg, normal_kg;
  double tumour_fraction;        /* share of the territory's counts */
  double tn;                     /* T/N, counts per unit mass; 0: no
                                    tumour or no normal liver */
  double tumour_mean_gy, tumour_d70_gy, tumour_min_gy;  /* LED */
  double normal_mean_gy, normal_d70_gy, normal_max_gy;
  int has_partition;             /* 0: no comparison (note says why) */
  double part_activity_mbq;      /* partition model, same target */
  double part_tumour_gy;         /* partition model at activity_mbq */
  double part_normal_gy;
  double part_lung_gy;
  char note[160];
} rkin_tvox_terr_result;

typedef struct {
  size_t n_terr;
  rkin_tvox_terr_result terr[RKIN_TARE_MAX_TERR];
  double activity_mbq;           /* total administered */
  double lung_gy;                /* CF sum A_k L_k / M_lung */
  double part_activity_mbq;      /* partition model, same targets */
  size_t n_negative;             /* scout voxels < 0 taken as 0 */
  double outside_fraction;       /* liver counts in no territory */
  rkin_image activity;           /* MBq per voxel */
  rkin_image dose_led;           /* Gy */
  rkin_image dose_kernel;        /* Gy; v == NULL without a kernel */
  rkin_image voi;                /* label map of the volumes: 2k + 1 the
                                    tumour and 2k + 2 the normal liver of
                                    territory k (0-based), 2 n_terr + 1
                                    liver in no territory, 0 outside */
  rkin_tare_result partition;    /* at the voxel activities: checks */
} rkin_tvox_result;

/* Solves the plan; res owns four images afterwards (rkin_tvox_free).
 * Errors name the territory and what is wrong: masks that overlap one
 * another, a territory outside the liver or without counts, a mode whose
 * volume is empty (no tumour in it for a tumour target), non-finite
 * counts. */
int rkin_tvox_run(const rkin_tvox_plan *p, rkin_tvox_result *res,
                  rkin_err *err);
void rkin_tvox_free(rkin_tvox_result *res);

#endif
