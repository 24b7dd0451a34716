/* voxel.h - voxel dose maps: CT numbers to mass density, local energy
 * deposition (LED), kernel convolution with density correction.
 *
 * Units: a TIA map holds time-integrated activity concentration, Bq h/mL
 * (the number of decays in a voxel is TIA x voxel volume x 3600); density
 * g/cm^3; dose Gy.
 *
 * LED: D = N E_np / (rho V): all non-penetrating energy (nuclide.h) is
 * absorbed where it is emitted; the standard for 90Y/166Ho microspheres.
 * Kernel: D = sum N S(x - y), S for the kernel's medium (soft tissue,
 * rho_k = 1.04); with a density map the dose is scaled by rho_k / rho(x)
 * (the density-weighted kernel method: energy per voxel kept, mass from
 * CT). In a large uniform region the ratio kernel / LED is
 * sum(S) rho V / E_np: within 1 % of 1 for 90Y; for 177Lu 0.95-0.99 (the
 * kernels hold the electrons' 0.136-0.142 MeV of 0.148 MeV), so LED reads
 * higher for 177Lu, and near edges and in small lesions the kernel spreads
 * dose out of the region. */
#ifndef RKIN_VOXEL_H
#define RKIN_VOXEL_H

#include "core/err.h"
#include "core/nuclide.h"
#include "image/image.h"
#include "voxel/kernel.h"

typedef struct {
  size_t n;
  double *hu;           /* ascending (equal neighbours allowed: a step) */
  double *rho;          /* g/cm^3, > 0 */
} rkin_hu_table;

/* Loads a two-column CSV (HU, density g/cm^3; '#' comments, one header
 * line) such as data/ct/hu_density_schneider2000_gate_points.csv. */
int rkin_hu_table_load(const char *path, rkin_hu_table *t, rkin_err *err);
void rkin_hu_table_free(rkin_hu_table *t);
/* Linear interpolation, clamped to the table's end values. */
double rkin_hu_density(const rkin_hu_table *t, double hu);
/* A density map (g/cm^3) from a CT in HU on the same grid. */
int rkin_density_map(const rkin_hu_table *t, const rkin_image *ct,
                     rkin_image *rho, rkin_err *err);

/* LED dose map from a TIA map. rho: a density map on the same grid, or
 * NULL for a uniform rho_uniform (g/cm^3). Voxels with mask == 0 (mask
 * may be NULL) get dose 0 and are skipped. */
int rkin_dose_led(const rkin_image *tia, const rkin_nuclide *nuc,
                  const rkin_image *rho, double rho_uniform,
                  const unsigned char *mask, rkin_image *dose, rkin_err *err);

/* Kernel dose map: the kernel's voxel size must equal the image's (to
 * 0.5 %; the message says what exists and the alternatives), its nuclide
 * the one of the TIA (named by `nuclide`). With rho (same grid) the dose
 * is scaled by k->rho / max(rho(x), rho_min): the floor (default 0.05
 * g/cm^3 when rho_min <= 0) keeps voxels of air at the body's edge from
 * reading a thousandfold dose from blurred activity. */
int rkin_dose_kernel(const rkin_image *tia, const char *nuclide,
                     const rkin_kernel *k, const rkin_image *rho,
                     double rho_min, rkin_image *dose, rkin_err *err);

#endif
