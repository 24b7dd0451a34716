/* nuclide.c - the radionuclide table.
 *
 * Confirmation tags as in shared/LITERATURE.md: P primary source read,
 * S secondary source, D derived here, U commonly quoted value not confirmed
 * in a source read for this project (verify before relying on it). */
#include "core/nuclide.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const rkin_nuclide table[] = {
  /* T1/2 6.647 d (DOMAIN.md s.1). Energies: Alcocer-Avila et al., EJNMMI
   * Phys 2020;7:33, Table 1 (P): beta 133.3 + IC 13.52 + Auger 1.13 keV =
   * 147.9 keV non-penetrating; X+gamma 35.1 keV. */
  {"Lu-177", 6.647 * 24.0, 0.1479, 0.0351,
   "T1/2 6.647 d; energies Alcocer-Avila 2020 EJNMMI Phys 7:33 Table 1 (P)"},
  /* T1/2 64.05 h (DOMAIN.md s.1); mean beta energy 0.9331 MeV (ICRP 107 as
   * quoted in DOMAIN.md s.3); photons negligible (bremsstrahlung not
   * counted). */
  {"Y-90", 64.05, 0.9331, 0.0,
   "T1/2 64.05 h; beta mean 0.9331 MeV ICRP 107 via DOMAIN.md s.3 (S)"},
  /* T1/2 26.80 h, electrons 0.6963 MeV (ICRP 107 as quoted in DOMAIN.md
   * s.3); photons about 0.03 MeV (gamma 80.6 keV 6.6 %, 1379 keV 0.9 %;
   * LITERATURE.md s.6, U). */
  {"Ho-166", 26.80, 0.6963, 0.030,
   "T1/2 26.80 h; electrons 0.6963 MeV ICRP 107 via DOMAIN.md s.3 (S); photons ~0.03 MeV (U)"},
  /* T1/2 8.0252 d (DOMAIN.md s.1); electrons 0.192 MeV, photons 0.382 MeV
   * (ICRP 107, LITERATURE.md s.6, U). */
  {"I-131", 8.0252 * 24.0, 0.192, 0.382,
   "T1/2 8.0252 d; electrons 0.192 MeV, photons 0.382 MeV ICRP 107 (U)"},
  /* T1/2 67.71 min (DOMAIN.md s.1). Positron mean 0.836 MeV x yield 0.889
   * = 0.743 MeV (D from commonly quoted values, U); photons: 2 x 0.511 x
   * 0.889 + 1.077 x 0.032 = 0.943 MeV (D, U). */
  {"Ga-68", 67.71 / 60.0, 0.743, 0.943,
   "T1/2 67.71 min; positron 0.743 MeV, photons 0.943 MeV derived from quoted yields (U)"},
  /* T1/2 6.0067 h (DOMAIN.md s.1); electrons 0.016 MeV, photons 0.126 MeV
   * (140.5 keV x 0.885 + X-rays; U). */
  {"Tc-99m", 6.0067, 0.016, 0.126,
   "T1/2 6.0067 h; electrons 0.016 MeV, photons 0.126 MeV (U)"},
  /* T1/2 6.906 d; beta 154.3 + IC 39.28 + Auger 8.94 keV = 202.5 keV,
   * photons 36.35 keV (Alcocer-Avila 2020, Table 1, P). */
  {"Tb-161", 6.906 * 24.0, 0.2025, 0.03635,
   "T1/2 6.906 d; energies Alcocer-Avila 2020 EJNMMI Phys 7:33 Table 1 (P)"},
  /* T1/2 9.92 d; the 225Ac decay alone: alpha 5.79 + electrons 0.02 MeV,
   * photons 0.02 MeV (LITERATURE.md s.6, U). Daughters are separate. */
  {"Ac-225", 9.92 * 24.0, 5.81, 0.02,
   "T1/2 9.92 d; 225Ac decay alone, alpha 5.79 + e- 0.02 MeV (U)"},
  /* 225Ac with its short-lived daughters in equilibrium (221Fr, 217At,
   * 213Bi, 213Po, 209Tl, 209Pb): 4 alphas about 27.5 MeV + beta about 0.6
   * MeV per 225Ac decay, photons about 0.1 MeV (LITERATURE.md s.6, U). */
  {"Ac-225+d", 9.92 * 24.0, 28.1, 0.1,
   "T1/2 9.92 d; 225Ac + daughters in equilibrium, 4 alpha 27.5 + beta 0.6 MeV (U)"},
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
