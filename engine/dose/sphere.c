/* sphere.c - absorbed fractions in uniform soft-tissue spheres.
 *
 * Tags: P primary source read, C public code or data, D derived here, U
 * not confirmed in a source read for radiokin (docs/sources.md). */
#include "dose/sphere.h"

#include <math.h>
#include <string.h>

typedef struct {
  const char *nuclide;
  double r_e_cm;   /* effective electron track length */
  double mu_cm;    /* effective photon absorption coefficient, 1/cm */
  const char *source;
} model;

static const model models[] = {
  /* D: least-squares fit of S m / Delta_e = phi_e + (Delta_p/Delta_e)
   * phi_p to the 15 points of the Lu-177 sphere table below (C; density
   * 1.03), rms
   * 0.25 %, worst 0.46 %. */
  {"Lu-177", 0.0464, 0.0481,
   "fit (D) to the Lu-177 sphere S table of qurit/PyTheranostics "
   "spheres.json (C)"},
  /* D: fit of phi_e to Hashempour M, Ghorbani M, Amato E, Knaup C, Asia
   * Ocean J Nucl Med Biol 2019;7:? (PMC6352054), spectral 90Y absorbed
   * fractions 0.80/0.85/0.88/0.935 at 4/10/20/100 g, density 1.04 (P,
   * partial table read); worst 0.5 %. No photons. */
  {"Y-90", 0.5265, 0.0,
   "fit (D) to Hashempour et al. 2019 AOJNMB 90Y sphere fractions (P)"},
  /* D from U: r_e interpolated as a power of the mean electron energy
   * between Lu-177 (0.1479 MeV) and Y-90 (0.9331 MeV), exponent 1.3187
   * (fitted with the earlier rounded energies; the ICRP 107 values 0.14792,
   * 0.93310 and 0.19184 MeV move r_e by under 0.2 %);
   * mu about mu_en of water at 0.36 MeV (0.033 cm^2/g, U). */
  {"I-131", 0.0655, 0.033,
   "r_e interpolated in electron energy (D from U); mu ~ water mu_en (U)"},
  /* D from U as for I-131 (0.6963 MeV; ICRP 107 0.69633); mu about mu_en of water for the
   * 80.6 keV and 1379 keV lines (0.03 cm^2/g, U). */
  {"Ho-166", 0.3579, 0.030,
   "r_e interpolated in electron energy (D from U); mu ~ water mu_en (U)"},
};

#define N_MODELS (sizeof models / sizeof models[0])
#define RHO_MIN 0.9
#define RHO_MAX 1.2
#define R_MIN_OVER_RE 1.8
#define M_MAX_KG 1.0

static const model *find_model(const rkin_nuclide *nuc)
{
  size_t i;
  for (i = 0; i < N_MODELS; i++)
    if (!strcmp(models[i].nuclide, nuc->name)) return &models[i];
  return NULL;
}

static double phi_electron(double r, double re)
{
  if (re <= 2.0 * r)
    return 1.0 - 3.0 * re / (8.0 * r) + re * re * re / (64.0 * r * r * r);
  return 3.0 * r / (4.0 * re);
}

static double phi_photon(double x)
{
  /* Series 3x/4 - 2x^2/5 + x^3/6 (+ O(x^4)) avoids cancellation for
   * small x. */
  if (x < 1e-3) return x * (0.75 - x * (0.4 - x / 6.0));
  return 1.0 - 3.0 / (8.0 * x * x * x) *
                   (2.0 * x * x - 1.0 + (1.0 + 2.0 * x) * exp(-2.0 * x));
}

/* Radius [cm] of a sphere of mass m [kg] and density rho [g/cm^3]. */
static double radius_cm(double m_kg, double rho)
{
  return cbrt(3.0 * m_kg * 1000.0 / (4.0 * M_PI * rho));
}

int rkin_sphere_eval(const rkin_nuclide *nuc, double mass_kg,
                     double density_kg_l, rkin_sphere *out, rkin_err *err)
{
  const model *md;
  double r, de, dp, r_min;
  if (!nuc) return rkin_err_set(err, RKIN_EINVAL, "sphere: no nuclide");
  if (!(md = find_model(nuc)))
    return rkin_err_set(err, RKIN_ENOTFOUND,
                        "sphere: no absorbed-fraction model for %s "
                        "(supported: Lu-177, Y-90, I-131, Ho-166)",
                        nuc->name);
  if (!isfinite(mass_kg) || mass_kg <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "sphere (%s): mass_kg = %g, expected > 0",
                        nuc->name, mass_kg);
  if (!isfinite(density_kg_l) || density_kg_l < RHO_MIN ||
      density_kg_l > RHO_MAX)
    return rkin_err_set(err, RKIN_ERANGE,
                        "sphere (%s): density %g kg/L outside the model's "
                        "soft-tissue range %g-%g kg/L", nuc->name,
                        density_kg_l, RHO_MIN, RHO_MAX);
  r_min = R_MIN_OVER_RE * md->r_e_cm;
  out->m_min_kg = 4.0 / 3.0 * M_PI * r_min * r_min * r_min * density_kg_l
                  / 1000.0;
  out->m_max_kg = M_MAX_KG;
  out->source = md->source;
  if (mass_kg < out->m_min_kg || mass_kg > out->m_max_kg)
    return rkin_err_set(err, RKIN_ERANGE,
                        "sphere (%s): mass %g kg outside the model's "
                        "validity range %.3g-%g kg (radius >= %g cm, "
                        "1.8 x the electron track length)", nuc->name,
                        mass_kg, out->m_min_kg, out->m_max_kg, r_min);
  r = radius_cm(mass_kg, density_kg_l);
  de = rkin_nuclide_j_per_mbqh(nuc);
  dp = RKIN_DECAYS_PER_MBQH * nuc->e_p_mev * RKIN_MEV_J;
  out->radius_cm = r;
  out->phi_e = phi_electron(r, md->r_e_cm);
  out->phi_p = md->mu_cm > 0.0 ? phi_photon(md->mu_cm * r) : 0.0;
  out->s_gy_per_mbqh = (de * out->phi_e + dp * out->phi_p) / mass_kg;
  return RKIN_OK;
}

/* Lu-177 unit-density spheres, public data file qurit/PyTheranostics
 * doodle/data/s-values/spheres.json, key "100%/0%", commit de60a3a7 (C):
 * mass [g], S [Gy/(Bq s)] (units inferred, docs/sources.md). */
static const double lu_m_g[] = {
  4.31e-3, 1.46e-2, 3.45e-2, 1.16e-1, 2.76e-1, 5.39e-1, 9.32e-1, 2.21,
  4.31, 14.6, 34.5, 116, 276, 539, 932};
static const double lu_s[] = {
  4.54e-9, 1.44e-9, 6.29e-10, 1.93e-10, 8.26e-11, 4.27e-11, 2.49e-11,
  1.06e-11, 5.46e-12, 1.63e-12, 6.93e-13, 2.07e-13, 8.81e-14, 4.54e-14,
  2.65e-14};

int rkin_sphere_lu177_table(double mass_kg, double *s_gy_per_mbqh,
                            rkin_err *err)
{
  const size_t n = sizeof lu_m_g / sizeof lu_m_g[0];
  double m = mass_kg * 1000.0, w, ls;
  size_t i;
  if (!isfinite(m) || m < lu_m_g[0] * (1 - 1e-12) ||
      m > lu_m_g[n - 1] * (1 + 1e-12))
    return rkin_err_set(err, RKIN_ERANGE,
                        "Lu-177 sphere table: mass %g kg outside the "
                        "table's range %g-%g kg", mass_kg,
                        lu_m_g[0] / 1000.0, lu_m_g[n - 1] / 1000.0);
  for (i = 0; i + 2 < n && m > lu_m_g[i + 1]; i++)
    ;
  /* S m is nearly constant, so interpolating log S in log m is smooth. */
  w = (log(m) - log(lu_m_g[i])) / (log(lu_m_g[i + 1]) - log(lu_m_g[i]));
  ls = (1.0 - w) * log(lu_s[i]) + w * log(lu_s[i + 1]);
  /* Gy/(Bq s) -> Gy/(MBq h): x 1e6 Bq/MBq x 3600 s/h. */
  *s_gy_per_mbqh = exp(ls) * 3.6e9;
  return RKIN_OK;
}
