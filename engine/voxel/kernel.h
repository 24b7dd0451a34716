/* kernel.h - voxel S-value kernels (dose-voxel kernels) and their
 * convolution with a map of decays by FFT.
 *
 * A kernel gives S(i,j,k): absorbed dose in the voxel at offset (i,j,k)
 * per decay in the centre voxel, Gy (= Gy/(Bq s)), on a grid of
 * (2h+1)^3 voxels of the image's size. Three sources:
 *  - the Lanconelli et al. 2012 database (Phys Med Biol 57:517), cubic
 *    voxels of 13 sizes, soft tissue and bone (data/kernels/lanconelli2012);
 *  - a radial dose point kernel (data/kernels/dpk: 90Y, Graves et al. 2019)
 *    integrated over source and target voxels of any (also anisotropic)
 *    size;
 *  - values given by the caller. */
#ifndef RKIN_VOXEL_KERNEL_H
#define RKIN_VOXEL_KERNEL_H

#include <stddef.h>

#include "core/err.h"
#include "image/image.h"

#define RKIN_KERNEL_MAX_HALF 40   /* at most 81 voxels per axis */

typedef struct {
  int h[3];             /* half widths: 2 h + 1 voxels per axis */
  double spacing[3];    /* voxel size, mm */
  double rho;           /* density of the kernel's medium, g/cm^3 */
  double *s;            /* Gy per decay, (2h0+1)(2h1+1)(2h2+1), i fastest,
                           offset (0,0,0) at index (h0, h1, h2) */
  char nuclide[16];     /* canonical ("Y-90") */
  char medium[16];      /* "soft", "bone", "water", "user" */
  char source[200];     /* where the values come from */
} rkin_kernel;

/* Voxel sizes (mm) of the Lanconelli database, ascending. */
extern const double rkin_lanconelli_sizes[];
extern const size_t rkin_lanconelli_n_sizes;

/* Loads the Lanconelli kernel of `nuclide` (any spelling nuclide.h
 * accepts), medium "soft" or "bone", for cubic voxels of spacing[]
 * (matching a tabulated size to 0.5 %) from dir (the folder of the
 * CSVs). Errors say what exists: the sizes and nuclides of the database,
 * and the alternatives (a kernel from a dose point kernel, or local
 * energy deposition). */
int rkin_kernel_lanconelli(const char *dir, const char *nuclide,
                           const char *medium, const double spacing[3],
                           rkin_kernel *k, rkin_err *err);

/* Builds a kernel of half widths h[] for voxels of spacing[] (mm) from a
 * radial dose point kernel in the Graves et al. CSV format (outer radius
 * cm, energy per decay deposited in the shell MeV, ...), for a medium of
 * density rho (g/cm^3; the water kernel scaled by range, r -> r/rho).
 * S(ijk) = sum over shells of E_shell <f>_shell / (rho V), with f(u) the
 * overlap of source and target voxels displaced by u (a product of
 * triangle functions per axis), averaged over each shell's sphere. */
int rkin_kernel_from_dpk(const char *dpk_csv, const char *nuclide,
                         const int h[3], const double spacing[3], double rho,
                         rkin_kernel *k, rkin_err *err);

/* A kernel from the caller's values (Gy per decay, full grid). */
int rkin_kernel_from_values(const char *nuclide, const int h[3],
                            const double spacing[3], double rho,
                            const double *s, rkin_kernel *k, rkin_err *err);

void rkin_kernel_free(rkin_kernel *k);
/* Sum of S over the kernel, Gy per decay. */
double rkin_kernel_sum(const rkin_kernel *k);
/* Energy absorbed in the kernel's volume per decay, MeV: sum S x voxel
 * mass (rho x voxel volume). */
double rkin_kernel_energy_mev(const rkin_kernel *k);
/* S at offset (i,j,k), 0 outside. */
double rkin_kernel_at(const rkin_kernel *k, int i, int j, int l);

/* --- convolution (conv.c), FFTW3 r2c/c2r */

typedef struct rkin_conv rkin_conv;

/* Plans the convolution of images of n[] voxels with kernel k (copied):
 * zero padding to at least n + 2h per axis (no wrap-around), the kernel's
 * transform computed once. FFTW's planner is not thread-safe: plans are
 * made under a process-wide lock, so threads may each make their own. */
rkin_conv *rkin_conv_new(const size_t n[3], const rkin_kernel *k,
                         rkin_err *err);
/* out[x] = sum_y decays[y] S(x - y): dose (Gy) from decays per voxel
 * (finite, >= 0: anything else is an error naming the voxel; negatives of
 * FFT round-off in the result are set to 0). in and out have n[0] n[1]
 * n[2] values and may be the same array. */
int rkin_conv_apply(rkin_conv *c, const float *decays, float *out,
                    rkin_err *err);
void rkin_conv_free(rkin_conv *c);

#endif
