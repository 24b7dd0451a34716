/* dosimetry.h - MIRD absorbed dose from time-integrated activity: local
 * energy deposition, user S-value tables, mass scaling of self-dose.
 *
 * Units: TIA MBq·h, mass kg, S Gy/(MBq·h), dose Gy. Messages
 * name the region and the value; callers that know the file and line add
 * them with rkin_err_prefix. Spheres are in sphere.h, dose-rate curves in
 * doserate.h. */
#ifndef RKIN_DOSIMETRY_H
#define RKIN_DOSIMETRY_H

#include <stddef.h>

#include "core/err.h"
#include "core/nuclide.h"

/* Local energy deposition (MIRD schema, Bolch et al., MIRD Pamphlet 21,
 * J Nucl Med 2009;50:477): the region keeps all the
 * non-penetrating energy emitted in it and nothing else,
 * D = TIA x 3.6e9 x E_np x 1.602176634e-13 / m. `region` names the region
 * in messages. Errors: TIA < 0 or not finite, mass <= 0 or not finite. */
int rkin_dosimetry_led(const rkin_nuclide *nuc, double tia_mbqh,
                       double mass_kg, const char *region, double *dose_gy,
                       rkin_err *err);

/* Absorbed dose per unit TIA under local deposition, Gy/(MBq·h): the
 * electron self-dose S value E_np x 3.6e9 x 1.602e-13 / m. */
int rkin_dosimetry_s_led(const rkin_nuclide *nuc, double mass_kg,
                         const char *region, double *s_gy_per_mbqh,
                         rkin_err *err);

/* Mass scaling of a self-dose S value from a reference (phantom) region of
 * mass m_ref to the patient's region of mass m.
 *
 * Electrons (and alphas) deposit locally, so their self-dose S scales as
 * 1/m exactly while the absorbed fraction stays 1: S_e(m) = S_e m_ref / m.
 * Photons do not: their self absorbed fraction grows roughly with the
 * region's linear size, m^(1/3), so S_p ~ m^(-2/3) (the usual MIRD
 * practice; treat as an approximation). rkin_dosimetry_scale_self applies
 * S_e m_ref/m + S_p (m_ref/m)^(2/3); pass s_p = 0 for the electron-only
 * rule S m_ref / m.
 *
 * Limits: the rule knows nothing about shape or about electrons escaping a
 * small region (then the absorbed fraction is < 1: use sphere.h), and the
 * photon part is an extrapolation. It is refused (RKIN_ERANGE) when m and
 * m_ref differ by more than a factor RKIN_DOSIMETRY_SCALE_MAX. */
#define RKIN_DOSIMETRY_SCALE_MAX 10.0
int rkin_dosimetry_scale_self(double s_e, double s_p, double m_ref_kg,
                              double m_kg, const char *region, double *s,
                              rkin_err *err);

/* ---- S-value tables: source region -> target region, Gy/(MBq·h) ---- */

typedef struct rkin_stable rkin_stable;

/* Builds a square table from a user's matrix: row i is source region
 * rows[i], column j is target region cols[j], value s[i * n_cols + j] (n_s
 * values). The same regions must label the rows and the columns (in any
 * order): the table is reordered to the row order. Errors name the
 * offending row, column or value: non-square (n_rows != n_cols), a value
 * count that is not n_rows x n_cols, a column region with no row (or the
 * reverse), a duplicate or empty name, a negative or non-finite value. */
int rkin_stable_new(size_t n_rows, const char *const *rows, size_t n_cols,
                    const char *const *cols, const double *s, size_t n_s,
                    rkin_stable **out, rkin_err *err);
void rkin_stable_free(rkin_stable *t);

size_t rkin_stable_size(const rkin_stable *t);
const char *rkin_stable_region(const rkin_stable *t, size_t i);

/* Index of a region; RKIN_ENOTFOUND listing the known regions otherwise. */
int rkin_stable_index(const rkin_stable *t, const char *region, size_t *i,
                      rkin_err *err);

/* S(target <- source), Gy/(MBq·h). */
int rkin_stable_get(const rkin_stable *t, const char *source,
                    const char *target, double *s, rkin_err *err);

/* D(target) = sum over the n given sources of TIA(source) x S(target <-
 * source). Sources not listed contribute nothing. Errors: unknown source
 * or target, negative or non-finite TIA (naming the source). */
int rkin_stable_dose(const rkin_stable *t, size_t n,
                     const char *const *sources, const double *tia_mbqh,
                     const char *target, double *dose_gy, rkin_err *err);

#endif
