/* nuclide.h - radionuclide table: half-life and mean energies per decay. */
#ifndef RKIN_NUCLIDE_H
#define RKIN_NUCLIDE_H

#include <stddef.h>

#include "core/err.h"

#define RKIN_MEV_J 1.602176634e-13     /* J per MeV (SI, exact) */
#define RKIN_DECAYS_PER_MBQH 3.6e9     /* 1 MBq·h = 1e6 /s x 3600 s */

typedef struct {
  const char *name;      /* canonical "Lu-177" */
  double half_life_h;    /* physical half-life, h */
  double e_np_mev;       /* mean non-penetrating energy per decay (e-, alpha), MeV */
  double e_p_mev;        /* mean penetrating (photon) energy per decay, MeV */
  const char *source;    /* where the numbers come from, with confirmation tag */
} rkin_nuclide;

/* Finds a nuclide by name; accepts "Lu-177", "Lu177", "177Lu", any case.
 * NULL and an RKIN_ENOTFOUND error listing the known names otherwise. */
const rkin_nuclide *rkin_nuclide_find(const char *name, rkin_err *err);

size_t rkin_nuclide_count(void);
const rkin_nuclide *rkin_nuclide_at(size_t i);

/* Physical decay constant ln 2 / T_half, 1/h. */
double rkin_nuclide_lambda(const rkin_nuclide *nuc);

/* Energy emitted as non-penetrating radiation per MBq·h, J/(MBq·h). */
double rkin_nuclide_j_per_mbqh(const rkin_nuclide *nuc);

#endif
