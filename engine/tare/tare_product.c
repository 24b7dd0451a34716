/* tare_product.c - TARE constants: dose conversion factors, the product
 * table of the TvNG 2023 review's Table 1, body surface area and the BSA
 * method.
 *
 * Confirmation tags: P primary source read, S secondary source that
 * reproduces the primary value, D derived here, U commonly quoted, not
 * confirmed in a source read for radiokin (docs/sources.md). */
#include "tare/tare.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Review of dosimetry in Tijdschr Nucl Geneesk 2023;45(2) (corresponding
 * author L. van der Veen, NKI), Table 1 "Approximate proposed dose limits
 * and tumor-absorbed doses for TARE" (S; docs/sources.md). QuiremSpheres tumour target
 * "> 100-150 Gy" is stored as the range 100-150. */
static const rkin_tare_product products[] = {
  {"SIR-Spheres", "Y-90", 40.0, 30.0, 30.0, 100.0, 120.0, 150.0,
   "TvNG 2023 Table 1 (S): parenchyma <= 40, compromised <= 30, lung <= 30 Gy, "
   "tumour 100-120, ablative > 150 Gy"},
  {"TheraSphere", "Y-90", 120.0, 0.0, 30.0, 200.0, 250.0, 400.0,
   "TvNG 2023 Table 1 (S): parenchyma <= 120, lung <= 30 Gy, tumour 200-250, "
   "ablative > 400 Gy; compromised liver not mentioned"},
  {"QuiremSpheres", "Ho-166", 60.0, 0.0, 30.0, 100.0, 150.0, 0.0,
   "TvNG 2023 Table 1 (S): parenchyma <= 60, lung <= 30 Gy, tumour > 100-150 Gy;"
   " compromised liver and ablative target not mentioned"},
};
#define N_PRODUCTS (sizeof products / sizeof products[0])

/* Extra spellings a planner types; compared after squash(). */
static const struct { const char *alias; size_t index; } aliases[] = {
  {"sir", 0}, {"sirt", 0}, {"resin", 0},
  {"theraspheres", 1}, {"glass", 1},
  {"quirem", 2}, {"quiremsphere", 2},
};

static void squash(const char *in, char *out, size_t n)
{
  size_t k = 0;
  for (; *in && k + 1 < n; in++)
    if (isalnum((unsigned char)*in))
      out[k++] = (char)tolower((unsigned char)*in);
  out[k] = '\0';
}

double rkin_tare_cf_derived(const rkin_nuclide *nuc)
{
  /* TIA of 1 GBq decaying completely is 1000 MBq / lambda (MBq h); times
   * the non-penetrating energy per MBq h, J. Photons escape a liver-sized
   * mass mostly and are left out, as in the clinical factors. */
  return 1000.0 * rkin_nuclide_j_per_mbqh(nuc) / rkin_nuclide_lambda(nuc);
}

/* Clinical conventions, Gy kg / GBq (J / GBq):
 * - 90Y 49.67: the TvNG 2023 review text ("90Y = 49.67 J/GBq", S); also
 *   the TheraSphere single-compartment formula D = 49.67 A (1 - L) / M. 50: its
 *   rounding, as in the package insert habit D = 50 A (1 - L) / M (U).
 * - 166Ho 15.87: clinical 166Ho papers, i.e. 60 Gy for 3.781 GBq/kg (U);
 *   the TvNG 2023 review prints 15.85 (S). Neither follows from the ICRP 107
 *   electron energy (15.53, D): see tests/unit/test_tare.c. */
int rkin_tare_cf(const rkin_nuclide *nuc, rkin_tare_cf_conv conv, double *cf,
                 rkin_err *err)
{
  int y90, ho166;
  if (!nuc || !cf)
    return rkin_err_set(err, RKIN_EINVAL, "tare cf: no nuclide given");
  y90 = !strcmp(nuc->name, "Y-90");
  ho166 = !strcmp(nuc->name, "Ho-166");
  switch (conv) {
  case RKIN_TARE_CF_DERIVED:
    *cf = rkin_tare_cf_derived(nuc);
    return RKIN_OK;
  case RKIN_TARE_CF_CLINICAL:
    if (y90 || ho166) {
      *cf = y90 ? 49.67 : 15.87;
      return RKIN_OK;
    }
    break;
  case RKIN_TARE_CF_ROUNDED:
    if (y90) {
      *cf = 50.0;
      return RKIN_OK;
    }
    break;
  default:
    return rkin_err_set(err, RKIN_EINVAL, "tare cf: convention %d unknown",
                        (int)conv);
  }
  return rkin_err_set(err, RKIN_ENOTFOUND,
                      "tare cf: convention '%s' has no value for %s "
                      "(clinical: Y-90, Ho-166; rounded: Y-90; use "
                      "'derived')",
                      rkin_tare_cf_conv_name(conv), nuc->name);
}

int rkin_tare_cf_conv_parse(const char *s, rkin_tare_cf_conv *conv,
                            rkin_err *err)
{
  static const rkin_tare_cf_conv all[] = {
    RKIN_TARE_CF_DERIVED, RKIN_TARE_CF_CLINICAL, RKIN_TARE_CF_ROUNDED};
  char want[32];
  size_t i;
  if (!s) s = "";
  squash(s, want, sizeof want);
  for (i = 0; i < sizeof all / sizeof all[0]; i++)
    if (!strcmp(want, rkin_tare_cf_conv_name(all[i]))) {
      *conv = all[i];
      return RKIN_OK;
    }
  return rkin_err_set(err, RKIN_ENOTFOUND,
                      "tare cf: convention '%s' unknown (expected "
                      "'derived', 'clinical' or 'rounded')", s);
}

const char *rkin_tare_cf_conv_name(rkin_tare_cf_conv conv)
{
  switch (conv) {
  case RKIN_TARE_CF_DERIVED: return "derived";
  case RKIN_TARE_CF_CLINICAL: return "clinical";
  case RKIN_TARE_CF_ROUNDED: return "rounded";
  default: return "?";
  }
}

const rkin_tare_product *rkin_tare_product_find(const char *name,
                                                rkin_err *err)
{
  char want[64], have[64], known[160] = "";
  size_t i;
  if (!name) {
    rkin_err_set(err, RKIN_EINVAL, "tare: no product name given");
    return NULL;
  }
  squash(name, want, sizeof want);
  for (i = 0; i < N_PRODUCTS; i++) {
    squash(products[i].name, have, sizeof have);
    if (!strcmp(have, want)) return &products[i];
  }
  for (i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (!strcmp(aliases[i].alias, want)) return &products[aliases[i].index];
  for (i = 0; i < N_PRODUCTS; i++) {
    strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
    strncat(known, products[i].name, sizeof known - strlen(known) - 1);
  }
  rkin_err_set(err, RKIN_ENOTFOUND, "tare: unknown product '%s' (known: %s)",
               name, known);
  return NULL;
}

size_t rkin_tare_product_count(void) { return N_PRODUCTS; }

const rkin_tare_product *rkin_tare_product_at(size_t i)
{
  return i < N_PRODUCTS ? &products[i] : NULL;
}

static int check_limit(const char *prod, const char *field, double v,
                       int positive, rkin_err *err)
{
  if (!isfinite(v) || v < 0.0 || (positive && v == 0.0))
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare product '%s': %s = %g must be %s", prod, field,
                        v, positive ? "> 0 Gy" : ">= 0 Gy (0: not given)");
  return RKIN_OK;
}

int rkin_tare_product_check(const rkin_tare_product *p, rkin_err *err)
{
  int rc;
  if ((rc = rkin_tare_limits_check(p, err))) return rc;
  if (!rkin_nuclide_find(p->nuclide, err))
    return rkin_err_prefix(err, "tare product '%s': ",
                           p->name ? p->name : "?");
  return RKIN_OK;
}

int rkin_tare_limits_check(const rkin_tare_product *p, rkin_err *err)
{
  const char *nm;
  int rc;
  if (!p) return rkin_err_set(err, RKIN_EINVAL, "tare: no product given");
  nm = p->name ? p->name : "?";
  if ((rc = check_limit(nm, "parenchyma_gy", p->parenchyma_gy, 1, err)) ||
      (rc = check_limit(nm, "compromised_gy", p->compromised_gy, 0, err)) ||
      (rc = check_limit(nm, "lung_gy", p->lung_gy, 1, err)) ||
      (rc = check_limit(nm, "tumour_lo_gy", p->tumour_lo_gy, 0, err)) ||
      (rc = check_limit(nm, "tumour_hi_gy", p->tumour_hi_gy, 0, err)) ||
      (rc = check_limit(nm, "ablative_gy", p->ablative_gy, 0, err)))
    return rc;
  if (p->tumour_hi_gy < p->tumour_lo_gy)
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare product '%s': tumour_hi_gy = %g is below "
                        "tumour_lo_gy = %g", nm, p->tumour_hi_gy,
                        p->tumour_lo_gy);
  return RKIN_OK;
}

/* ------------------------------------------------------------------ BSA */

int rkin_tare_bsa(rkin_tare_bsa_formula f, double height_cm, double weight_kg,
                  double *bsa_m2, rkin_err *err)
{
  /* Adult-plausible bounds catch unit slips (m for cm, lb for kg). */
  if (!isfinite(height_cm) || height_cm < 50.0 || height_cm > 250.0)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare bsa: height_cm = %g outside 50-250 cm (height "
                        "in metres?)", height_cm);
  if (!isfinite(weight_kg) || weight_kg < 10.0 || weight_kg > 350.0)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare bsa: weight_kg = %g outside 10-350 kg",
                        weight_kg);
  switch (f) {
  case RKIN_TARE_BSA_MOSTELLER:
    /* Mosteller RD. Simplified calculation of body-surface area. N Engl J
     * Med 1987;317:1098. */
    *bsa_m2 = sqrt(height_cm * weight_kg / 3600.0);
    return RKIN_OK;
  case RKIN_TARE_BSA_DUBOIS:
    /* DuBois D, DuBois EF. A formula to estimate the approximate surface
     * area if height and weight be known. Arch Intern Med 1916;17:863. */
    *bsa_m2 = 0.007184 * pow(weight_kg, 0.425) * pow(height_cm, 0.725);
    return RKIN_OK;
  default:
    return rkin_err_set(err, RKIN_EINVAL, "tare bsa: formula %d unknown",
                        (int)f);
  }
}

int rkin_tare_bsa_formula_parse(const char *s, rkin_tare_bsa_formula *f,
                                rkin_err *err)
{
  char want[32];
  squash(s ? s : "", want, sizeof want);
  if (!strcmp(want, "mosteller")) *f = RKIN_TARE_BSA_MOSTELLER;
  else if (!strcmp(want, "dubois")) *f = RKIN_TARE_BSA_DUBOIS;
  else
    return rkin_err_set(err, RKIN_ENOTFOUND,
                        "tare bsa: formula '%s' unknown (expected "
                        "'mosteller' or 'dubois')", s ? s : "");
  return RKIN_OK;
}

int rkin_tare_bsa_activity(double bsa_m2, double v_tumour_l,
                           double v_normal_l, rkin_tare_bsa_result *res,
                           rkin_err *err)
{
  double gbq;
  if (!isfinite(bsa_m2) || bsa_m2 <= 0.2 || bsa_m2 > 4.0)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare bsa method: bsa_m2 = %g outside (0.2, 4] m^2",
                        bsa_m2);
  if (!isfinite(v_tumour_l) || v_tumour_l < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare bsa method: tumour volume_L = %g must be >= 0",
                        v_tumour_l);
  if (!isfinite(v_normal_l) || v_normal_l <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare bsa method: normal liver volume_L = %g must "
                        "be > 0", v_normal_l);
  memset(res, 0, sizeof *res);
  res->involvement = v_tumour_l / (v_tumour_l + v_normal_l);
  gbq = bsa_m2 - 0.2 + res->involvement;
  res->activity_mbq = 1000.0 * gbq;
  res->warn.flags = RKIN_TARE_W_NOT_DOSIMETRIC;
  res->warn.n = 1;
  snprintf(res->warn.text[0], RKIN_TARE_WARN_LEN,
           "BSA method (Kao 2011): empiric activity, not dosimetric; tumour, "
           "normal-liver and lung doses are unknown - use the partition "
           "model to check limits");
  return RKIN_OK;
}
