/* nuclide.c - the radionuclide table: physical half-life and mean energy
 * per decay, non-penetrating (electrons and betas, plus alphas) and
 * penetrating (X and gamma rays, annihilation photons), all from one data
 * set:
 *
 *   ICRP, 2008. Nuclear Decay Data for Dosimetric Calculations. ICRP
 *   Publication 107. Ann. ICRP 38(3). Electronic file ICRP-07.NDX
 *   (A. Endo and K.F. Eckerman), columns half-life, E_alpha, E_electron,
 *   E_photon in MeV per nuclear transformation, at the file's published
 *   precision (5 decimals for electrons and photons, 4 for alphas).
 *
 * The file was read in the verbatim copy that the R package RadData
 * (M. Hogue, CRAN, GPL-2) keeps as data-raw/ICRP-07.NDX; tag P (the
 * publication's own electronic data). E_np = E_alpha + E_electron, E_p =
 * E_photon. tests/unit/test_nuclide.c checks every number against those
 * columns, and the Lu-177 and Tb-161 values also against Alcocer-Avila et
 * al. 2020 (EJNMMI Phys 7:33, Table 1), which tabulates the same data.
 * docs/sources.md lists the values and the other data sets' half-lives
 * (DDEP, ENSDF) where they differ. */
#include "core/nuclide.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define ICRP107 "ICRP 107 (ICRP-07.NDX, P)"

static const rkin_nuclide table[] = {
  /* 6.647 d; E_electron 0.14792, E_photon 0.03509. Alcocer-Avila 2020
   * Table 1 prints 147.9 and 35.1 keV. DDEP (LNE-LNHB 2025) recommends
   * T1/2 6.6443(9) d, 0.04 % shorter. */
  {"Lu-177", 6.647 * 24.0, 0.14792, 0.03509,
   "T1/2 6.647 d, E_np 0.14792 MeV, E_p 0.03509 MeV: " ICRP107},
  /* 64.10 h; E_electron 0.93310, E_photon 0.00000 (internal pair
   * production and bremsstrahlung are not in the photon column). The
   * DDEP half-life often quoted is 64.05 h (2.6684 d; U here). */
  {"Y-90", 64.10, 0.93310, 0.0,
   "T1/2 64.10 h, E_np 0.93310 MeV, E_p 0 MeV: " ICRP107},
  /* 26.80 h; E_electron 0.69633, E_photon 0.03007. */
  {"Ho-166", 26.80, 0.69633, 0.03007,
   "T1/2 26.80 h, E_np 0.69633 MeV, E_p 0.03007 MeV: " ICRP107},
  /* 8.02070 d; E_electron 0.19184, E_photon 0.38275. ENSDF/NNDC quote
   * 8.0252 d (U here). */
  {"I-131", 8.02070 * 24.0, 0.19184, 0.38275,
   "T1/2 8.02070 d, E_np 0.19184 MeV, E_p 0.38275 MeV: " ICRP107},
  /* 67.71 min; E_electron 0.73794 (positrons and electrons), E_photon
   * 0.94869 (annihilation and gamma). */
  {"Ga-68", 67.71 / 60.0, 0.73794, 0.94869,
   "T1/2 67.71 min, E_np 0.73794 MeV, E_p 0.94869 MeV: " ICRP107},
  /* 6.015 h; E_electron 0.01618, E_photon 0.12659. */
  {"Tc-99m", 6.015, 0.01618, 0.12659,
   "T1/2 6.015 h, E_np 0.01618 MeV, E_p 0.12659 MeV: " ICRP107},
  /* 6.906 d; E_electron 0.20248, E_photon 0.03652. Alcocer-Avila 2020
   * Table 1 prints 202.5 keV electrons and 36.35 keV photons. */
  {"Tb-161", 6.906 * 24.0, 0.20248, 0.03652,
   "T1/2 6.906 d, E_np 0.20248 MeV, E_p 0.03652 MeV: " ICRP107},
  /* 10.0 d; the 225Ac decay alone: E_alpha 5.8919 + E_electron 0.02476 =
   * 5.91666 MeV; E_photon 0.01708. Daughters are the next entry. */
  {"Ac-225", 10.0 * 24.0, 5.8919 + 0.02476, 0.01708,
   "T1/2 10.0 d, E_np 5.91666 MeV (alpha 5.8919 + e- 0.02476), E_p "
   "0.01708 MeV; 225Ac decay alone: " ICRP107},
  /* 225Ac with its daughters in secular equilibrium, per 225Ac decay (D
   * from the ICRP 107 rows; branching fractions from the same file):
   * 225Ac (alpha 5.8919, e 0.02476, ph 0.01708) -> 221Fr (4.9 min; 6.4198,
   * 0.00890, 0.02941) -> 217At (32.3 ms; 7.2008, 0.00008, 0.00024) ->
   * 213Bi with fraction f = 0.99988 (45.59 min; 0.1245, 0.44404, 0.12773)
   * -> 213Po (x 0.9791; 4.2 us; 8.5369, 0, 0.00003) or 209Tl (x 0.0209;
   * 2.161 min; 0, 0.68754, 2.14263) -> 209Pb (3.253 h; 0, 0.19744, 0) ->
   * 209Bi (stable). The 0.012 % 217At beta branch (217Rn) is left out.
   * Alpha 27.99446 + electrons 0.68951 = 28.68397 MeV; photons 0.21925
   * MeV. */
  {"Ac-225+d", 10.0 * 24.0, 28.68397, 0.21925,
   "T1/2 10.0 d; 225Ac + daughters in equilibrium, E_np 28.68397 MeV "
   "(alpha 27.99446 + e- 0.68951), E_p 0.21925 MeV: sum (D) of the "
   "chain's rows of " ICRP107},
};

#define N_NUCLIDES (sizeof table / sizeof table[0])

/* Lower-case letters, digits and '+', in that order of appearance:
 * "Lu-177" -> "lu177", "177Lu" -> "177lu". */
static void squash(const char *in, char *out, size_t n)
{
  size_t k = 0;
  for (; *in && k + 1 < n; in++)
    if (isalnum((unsigned char)*in) || *in == '+')
      out[k++] = (char)tolower((unsigned char)*in);
  out[k] = '\0';
}

/* "177lu" -> "lu177", "225ac+d" -> "ac225+d": mass number first is the
 * physicists' habit; a "+..." suffix stays last. */
static void mass_last(const char *in, char *out, size_t n)
{
  size_t d = strspn(in, "0123456789");
  size_t sym = strcspn(in + d, "+");
  snprintf(out, n, "%.*s%.*s%s", (int)sym, in + d, (int)d, in,
           in + d + sym);
}

const rkin_nuclide *rkin_nuclide_find(const char *name, rkin_err *err)
{
  char want[32], alt[32], have[32], known[256] = "";
  size_t i;
  if (!name) {
    rkin_err_set(err, RKIN_EINVAL, "nuclide: no name given");
    return NULL;
  }
  squash(name, want, sizeof want);
  mass_last(want, alt, sizeof alt);
  for (i = 0; i < N_NUCLIDES; i++) {
    squash(table[i].name, have, sizeof have);
    if (!strcmp(have, want) || !strcmp(have, alt)) return &table[i];
  }
  for (i = 0; i < N_NUCLIDES; i++) {
    strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
    strncat(known, table[i].name, sizeof known - strlen(known) - 1);
  }
  rkin_err_set(err, RKIN_ENOTFOUND, "unknown nuclide '%s' (known: %s)", name,
               known);
  return NULL;
}

size_t rkin_nuclide_count(void) { return N_NUCLIDES; }

const rkin_nuclide *rkin_nuclide_at(size_t i)
{
  return i < N_NUCLIDES ? &table[i] : NULL;
}

double rkin_nuclide_lambda(const rkin_nuclide *nuc)
{
  return log(2.0) / nuc->half_life_h;
}

double rkin_nuclide_j_per_mbqh(const rkin_nuclide *nuc)
{
  return RKIN_DECAYS_PER_MBQH * nuc->e_np_mev * RKIN_MEV_J;
}
