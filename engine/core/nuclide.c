/* nuclide.c - the radionuclide table: physical half-life and mean energy
 * per decay, non-penetrating (electrons, betas, alphas) and penetrating
 * (X and gamma rays), each number with the data set it comes from.
 *
 * The intended single data set for energies is ICRP Publication 107
 * (ICRP, 2008. Nuclear Decay Data for Dosimetric Calculations. Ann. ICRP
 * 38(3)). Its electronic files could not be read for this project, so
 * each value below names the table it was actually read in, and values
 * read nowhere are tagged U. Confirmation tags:
 *   P  read in the primary source named
 *   S  read in a secondary source that reproduces the primary value
 *   D  derived here by calculation from tagged values
 *   U  commonly quoted value, not confirmed in any source read for
 *      radiokin: verify it before relying on it.
 * docs/sources.md gives the full citations and the open items. Tests:
 * tests/unit/test_nuclide.c checks the P and S values against the tables
 * they were read in. */
#include "core/nuclide.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const rkin_nuclide table[] = {
  /* Alcocer-Avila ME et al., Radiation doses from 161Tb and 177Lu in
   * single tumour cells and micrometastases, EJNMMI Phys 2020;7:33,
   * Table 1 (P): T1/2 6.647 d; beta 133.3 + IC 13.52 + Auger 1.13 keV =
   * 147.9 keV non-penetrating per decay; X + gamma 35.1 keV. Falzone et al.
   * (J Nucl Med 2015, table reproduced in Front Pharmacol 2018;9:996
   * Table 1, S) give the same 133 / 13.5 / 1.13 / 35.1 keV. DDEP
   * (LNE-LNHB 2025) recommends T1/2 6.6443(9) d, 0.04 % shorter (S). */
  {"Lu-177", 6.647 * 24.0, 0.1479, 0.0351,
   "T1/2 6.647 d, E_np 0.1479 MeV, E_p 0.0351 MeV: Alcocer-Avila 2020 "
   "EJNMMI Phys 7:33 Table 1 (P)"},
  /* T1/2 64.05 h (2.6684 d, commonly quoted DDEP value; U). E_np 0.9331
   * MeV mean beta energy, commonly quoted as the ICRP 107 value (U: ICRP
   * 107 not read here; ICRP 107's own half-life is quoted as 64.10 h). Photons: internal pair
   * production about 3e-5 per decay, bremsstrahlung not counted: 0. */
  {"Y-90", 64.05, 0.9331, 0.0,
   "T1/2 64.05 h (DDEP as commonly quoted, U); E_np 0.9331 MeV (ICRP 107 "
   "as commonly quoted, U); E_p 0 (bremsstrahlung not counted)"},
  /* T1/2 26.80 h (U). E_np 0.6963 MeV (ICRP 107 as quoted in the TARE
   * literature, U; a review of 166Ho, PMC7464823 Table 1, gives a mean
   * beta energy of 0.67 MeV, S). E_p about 0.03 MeV from gamma 80.6 keV
   * (6.6 %) and 1379 keV (0.9 %) (U). */
  {"Ho-166", 26.80, 0.6963, 0.030,
   "T1/2 26.80 h (U); E_np 0.6963 MeV (ICRP 107 as commonly quoted, U); "
   "E_p 0.030 MeV rounded (U)"},
  /* T1/2 8.0252 d (ENSDF/NNDC as commonly quoted, U). E_np 0.192 MeV
   * (beta about 0.182 + conversion and Auger electrons) and E_p 0.382 MeV
   * are ICRP 107 values as commonly quoted, rounded to 3 digits (U). */
  {"I-131", 8.0252 * 24.0, 0.192, 0.382,
   "T1/2 8.0252 d (U); E_np 0.192 MeV, E_p 0.382 MeV (ICRP 107 as "
   "commonly quoted, rounded, U)"},
  /* T1/2 67.71 min (U). Positron mean energy 0.836 MeV x yield 0.889 =
   * 0.743 MeV (D from commonly quoted values, U); photons 2 x 0.511 x
   * 0.889 + 1.077 x 0.032 = 0.943 MeV (D, U). */
  {"Ga-68", 67.71 / 60.0, 0.743, 0.943,
   "T1/2 67.71 min (U); E_np 0.743 MeV, E_p 0.943 MeV derived from "
   "commonly quoted positron and gamma yields (D from U)"},
  /* T1/2 6.0067 h (DDEP as commonly quoted, U). Energies: Falzone et al.
   * 2015 as reproduced in Front Pharmacol 2018;9:996 Table 1 (S): IC
   * electrons 15.2 + Auger and Coster-Kronig 0.94 keV = 16.14 keV
   * non-penetrating; X + gamma 127 keV. */
  {"Tc-99m", 6.0067, 0.01614, 0.127,
   "T1/2 6.0067 h (U); E_np 0.01614 MeV, E_p 0.127 MeV: Falzone 2015 via "
   "Front Pharmacol 2018 9:996 Table 1 (S)"},
  /* Alcocer-Avila 2020 Table 1 (P): T1/2 6.906 d; beta 154.3 + IC 39.28 +
   * Auger 8.94 keV = 202.5 keV non-penetrating; X + gamma 36.35 keV. */
  {"Tb-161", 6.906 * 24.0, 0.2025, 0.03635,
   "T1/2 6.906 d, E_np 0.2025 MeV, E_p 0.03635 MeV: Alcocer-Avila 2020 "
   "EJNMMI Phys 7:33 Table 1 (P)"},
  /* T1/2 9.92 d (U); the 225Ac decay alone: alpha about 5.79 MeV plus
   * electrons about 0.02 MeV = 5.81 MeV non-penetrating, photons about
   * 0.02 MeV (U). Daughters are the separate entry below. */
  {"Ac-225", 9.92 * 24.0, 5.81, 0.02,
   "T1/2 9.92 d (U); 225Ac decay alone, E_np 5.81 MeV (alpha 5.79 + e- "
   "0.02), E_p 0.02 MeV (U)"},
  /* 225Ac with its short-lived daughters in equilibrium (221Fr, 217At,
   * 213Bi, 213Po, 209Tl, 209Pb): 4 alphas about 27.5 MeV + betas about 0.6
   * MeV per 225Ac decay, photons about 0.1 MeV (U). The daughter
   * half-lives (221Fr 4.806 min, 217At 32.8 ms, 213Bi 45.62 min, 213Po
   * 3.708 us, 209Pb 3.232 h) are from Appl Radiat Isot 2013,
   * doi:10.1016/j.apradiso.2013.02.008 (P). */
  {"Ac-225+d", 9.92 * 24.0, 28.1, 0.1,
   "T1/2 9.92 d (U); 225Ac + daughters in equilibrium, E_np 28.1 MeV "
   "(4 alpha 27.5 + beta 0.6), E_p 0.1 MeV (U)"},
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
