/* organ.c - the built-in organ table and the organ-limit table (see
 * organ.h for the confirmation tags; docs/sources.md for the citations).
 *
 * Sources named below (full references in docs/sources.md):
 *   Bodei 2008   Bodei L et al., Long-term evaluation of renal toxicity
 *                after PRRT with 90Y-DOTATOC and 177Lu-DOTATATE: the role
 *                of associated risk factors, Eur J Nucl Med Mol Imaging
 *                2008;35(10):1847-1856.
 *   MIRD 20      Wessels BW et al., MIRD Pamphlet No. 20, J Nucl Med
 *                2008;49(11):1884-1899; Barone R et al., J Nucl Med
 *                2005;46(Suppl 1):99S-106S.
 *   TvNG 2023    review of dosimetry in lutetium therapies and
 *                radioembolisation, Tijdschr Nucl Geneesk 2023;45(2)
 *                (thematic issue "Radionuclidentherapie"; corresponding
 *                author L. van der Veen, NKI): kidney, marrow and salivary
 *                thresholds, ILUMINET and PP-PRRT protocol limits.
 *   Cremonesi 2014  Cremonesi M et al., Radioembolization of hepatic
 *                lesions from a radiobiology and dosimetric perspective,
 *                Front Oncol 2014;4:210 (normal-liver and tumour LQ
 *                parameters used for 90Y microspheres). */
#include "dose/organ.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Each default limit once, shared by both tables (a test checks that the
 * organ entries and the limit table agree). */
#define KIDNEY_BED_GY 40.0        /* Bodei 2008, no risk factors (P) */
#define KIDNEY_DOSE_GY 40.0       /* TvNG 2023, non-compromised (S) */
#define KIDNEY_RISK_BED_GY 28.0   /* Bodei 2008, risk factors (P) */
#define KIDNEY_RISK_DOSE_GY 23.0  /* TvNG 2023, compromised (S) */
#define MARROW_DOSE_GY 2.0        /* TvNG 2023 (S) */
#define SALIVARY_DOSE_GY 20.0     /* TvNG 2023, "+/- 20 Gy" proposed (S) */

static const rkin_organ table[] = {
  /* alpha/beta 2.6 Gy, T_rep 2.8 h: the values used with the Bodei 2008
   * BED thresholds and MIRD 20 (C: read in public dosimetry code; the
   * attribution to each paper U). Kidneys without risk factors. */
  {"kidney", {2.6, 2.8}, KIDNEY_DOSE_GY, KIDNEY_BED_GY,
   "a/b 2.6 Gy, T_rep 2.8 h (Barone 2005, MIRD 20; C); BED 40 Gy without "
   "risk factors (Bodei 2008, P); absorbed dose 40 Gy non-compromised "
   "(TvNG 2023 review, S)"},
  /* Kidneys with risk factors (mainly hypertension, diabetes). */
  {"kidney_risk", {2.6, 2.8}, KIDNEY_RISK_DOSE_GY, KIDNEY_RISK_BED_GY,
   "a/b 2.6 Gy, T_rep 2.8 h (C); BED 28 Gy with risk factors (Bodei "
   "2008, P); absorbed dose 23 Gy compromised function (TvNG 2023, S)"},
  /* Absorbed-dose threshold 2 Gy (TvNG 2023, from 131I experience).
   * alpha/beta 10 Gy and T_rep 0.5 h are commonly used for marrow but
   * were not confirmed in a source read here (U). */
  {"red_marrow", {10.0, 0.5}, MARROW_DOSE_GY, 0.0,
   "absorbed dose 2 Gy (TvNG 2023, S); a/b 10 Gy, T_rep 0.5 h (U)"},
  /* About 20 Gy absorbed dose (TvNG 2023, PSMA ligands, from EBRT of head
   * and neck). alpha/beta 3 Gy and T_rep 1.5 h are placeholders for a
   * late-responding tissue (U). */
  {"salivary", {3.0, 1.5}, SALIVARY_DOSE_GY, 0.0,
   "absorbed dose ~20 Gy (TvNG 2023, S); a/b 3 Gy, T_rep 1.5 h (U)"},
  /* Normal liver parenchyma: alpha/beta 2.5 Gy and T_rep 2.5 h are the
   * values used in the 90Y-microsphere radiobiology literature reviewed by
   * Cremonesi 2014 (values not read in the paper here: U). No built-in
   * limit: the TARE product limits (tare/tare_product.c) are per product
   * and absorbed dose. */
  {"liver", {2.5, 2.5}, 0.0, 0.0,
   "a/b 2.5 Gy, T_rep 2.5 h as used for normal liver in 90Y-microsphere "
   "radiobiology (Cremonesi 2014 review; U); no limit (TARE limits are "
   "per product)"},
  /* Spleen: no radiobiological parameters found in a source read here;
   * alpha/beta 3 Gy and T_rep 1.5 h are placeholders for a late-responding
   * tissue (U). No limit. */
  {"spleen", {3.0, 1.5}, 0.0, 0.0,
   "a/b 3 Gy, T_rep 1.5 h placeholders for a late-responding tissue (U); "
   "no limit"},
  /* Typical tumour: alpha/beta 10 Gy, T_rep 1.5 h (commonly used; the
   * values of Cremonesi 2014 for tumours, U). */
  {"tumour", {10.0, 1.5}, 0.0, 0.0,
   "a/b 10 Gy, T_rep 1.5 h typical tumour values (Cremonesi 2014 review; "
   "U); no limit"},
};

#define N_ORGANS (sizeof table / sizeof table[0])

static const rkin_organ_limit limits[] = {
  {"kidney_bed_40", "kidney", RKIN_LIMIT_BED, KIDNEY_BED_GY, 1,
   "kidneys of patients without risk factors for renal toxicity",
   "Bodei 2008, EJNMMI 35:1847 (P)"},
  {"kidney_dose_40", "kidney", RKIN_LIMIT_DOSE, KIDNEY_DOSE_GY, 1,
   "non-compromised kidney function (extrapolated from EBRT)",
   "TvNG 2023 review (S)"},
  {"kidney_risk_bed_28", "kidney_risk", RKIN_LIMIT_BED, KIDNEY_RISK_BED_GY,
   1, "kidneys of patients with risk factors (hypertension, diabetes)",
   "Bodei 2008, EJNMMI 35:1847 (P)"},
  {"kidney_risk_dose_23", "kidney_risk", RKIN_LIMIT_DOSE,
   KIDNEY_RISK_DOSE_GY, 1,
   "compromised kidney function (23-28 Gy advised, extrapolated from EBRT)",
   "TvNG 2023 review (S)"},
  {"kidney_bed_iluminet", "kidney", RKIN_LIMIT_BED, 27.0, 0,
   "ILUMINET (NCT01456078) stop rule: 7.4 GBq cycles until cumulative "
   "kidney BED 27 Gy (40 Gy without renal or haematological risk factors)",
   "ILUMINET protocol as described in the TvNG 2023 review (S)"},
  {"kidney_bed_iluminet_no_risk", "kidney", RKIN_LIMIT_BED, 40.0, 0,
   "ILUMINET (NCT01456078), patients without renal or haematological risk "
   "factors", "ILUMINET protocol as described in the TvNG 2023 review (S)"},
  {"kidney_dose_pp_prrt", "kidney", RKIN_LIMIT_DOSE, 23.0, 0,
   "PP-PRRT (NCT02754297): cumulative kidney absorbed dose 23 Gy over 4 "
   "cycles", "PP-PRRT protocol as described in the TvNG 2023 review (S)"},
  {"red_marrow_dose_2", "red_marrow", RKIN_LIMIT_DOSE, MARROW_DOSE_GY, 1,
   "haematologically non-compromised patients (from 131I therapy)",
   "TvNG 2023 review (S)"},
  {"salivary_dose_20", "salivary", RKIN_LIMIT_DOSE, SALIVARY_DOSE_GY, 1,
   "salivary glands, PSMA ligands (proposed from EBRT of head and neck)",
   "TvNG 2023 review (S)"},
};

#define N_LIMITS (sizeof limits / sizeof limits[0])

static void list_names(char *buf, size_t n)
{
  size_t i;
  buf[0] = '\0';
  for (i = 0; i < N_ORGANS; i++) {
    strncat(buf, i ? ", " : "", n - strlen(buf) - 1);
    strncat(buf, table[i].name, n - strlen(buf) - 1);
  }
}

const rkin_organ *rkin_organ_find(const char *name, rkin_err *err)
{
  char known[256];
  size_t i;
  for (i = 0; name && i < N_ORGANS; i++)
    if (!strcmp(table[i].name, name)) return &table[i];
  list_names(known, sizeof known);
  rkin_err_set(err, RKIN_ENOTFOUND, "unknown organ '%s' (known: %s)",
               name ? name : "(null)", known);
  return NULL;
}

/* Spellings after normalisation (lower case, words joined by '_', side
 * words, numbers and plural 's' removed) -> organ class. */
static const struct { const char *spelling, *organ; } synonyms[] = {
  {"kidney", "kidney"}, {"renal", "kidney"},
  {"kidney_risk", "kidney_risk"},
  {"red_marrow", "red_marrow"}, {"marrow", "red_marrow"},
  {"bone_marrow", "red_marrow"}, {"redmarrow", "red_marrow"},
  {"rm", "red_marrow"},
  {"salivary", "salivary"}, {"salivary_gland", "salivary"},
  {"parotid", "salivary"}, {"parotid_gland", "salivary"},
  {"submandibular", "salivary"}, {"submandibular_gland", "salivary"},
  {"sublingual", "salivary"},
  {"liver", "liver"}, {"liver_parenchyma", "liver"},
  {"parenchyma", "liver"},
  {"spleen", "spleen"},
  {"tumour", "tumour"}, {"tumor", "tumour"}, {"lesion", "tumour"},
  {"metastasis", "tumour"}, {"metastase", "tumour"},
};

/* Words that say which side or part, not which organ. */
static int is_filler(const char *w)
{
  static const char *const fill[] = {"left", "right", "l", "r", "lt", "rt",
    "both", "bilateral", "total", "whole", "normal", "healthy", "voi",
    "roi", "sin", "dx", "dex", NULL};
  size_t k;
  for (k = 0; fill[k]; k++)
    if (!strcmp(w, fill[k])) return 1;
  return 0;
}

const rkin_organ *rkin_organ_classify(const char *region, rkin_err *err)
{
  char norm[128] = "", word[64], known[256];
  const char *p;
  size_t i;
  const rkin_organ *o;
  if (!region) {
    rkin_err_set(err, RKIN_EINVAL, "organ class: no region name given");
    return NULL;
  }
  if ((o = rkin_organ_find(region, NULL))) return o;
  for (p = region; *p;) {
    size_t n = 0;
    while (*p && !isalnum((unsigned char)*p)) p++;
    while (*p && isalnum((unsigned char)*p)) {
      if (n + 1 < sizeof word) word[n++] = (char)tolower((unsigned char)*p);
      p++;
    }
    word[n] = '\0';
    while (n > 0 && isdigit((unsigned char)word[n - 1])) word[--n] = '\0';
    if (n > 3 && word[n - 1] == 's' && !strchr("siu", word[n - 2]))
      word[--n] = '\0';
    /* Single letters name a lesion or side ("lesion_a", "kidney_L"). */
    if (n < 2 || is_filler(word)) continue;
    if (norm[0]) strncat(norm, "_", sizeof norm - strlen(norm) - 1);
    strncat(norm, word, sizeof norm - strlen(norm) - 1);
  }
  /* "kidney_risk" is a clinical choice, never guessed from a spelling. */
  for (i = 0; norm[0] && i < sizeof synonyms / sizeof synonyms[0]; i++)
    if (!strcmp(norm, synonyms[i].spelling)
        && strcmp(synonyms[i].organ, "kidney_risk"))
      return rkin_organ_find(synonyms[i].organ, err);
  list_names(known, sizeof known);
  rkin_err_set(err, RKIN_ENOTFOUND,
               "region '%s' is not a known organ class (known: %s; also "
               "spellings such as kidneys, left_kidney, bone_marrow, "
               "parotid, tumor, lesion1)", region, known);
  return NULL;
}

size_t rkin_organ_count(void) { return N_ORGANS; }

const rkin_organ *rkin_organ_at(size_t i)
{
  return i < N_ORGANS ? &table[i] : NULL;
}

int rkin_organ_check(const rkin_organ *o, rkin_err *err)
{
  const char *n = o && o->name ? o->name : "organ";
  int rc;
  if (!o) return rkin_err_set(err, RKIN_EINVAL, "no organ given");
  if ((rc = rkin_radiobio_check(&o->lq, n, err))) return rc;
  if (!isfinite(o->limit_dose_gy) || o->limit_dose_gy < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: dose limit %g Gy, expected >= 0 (0: none)", n,
                        o->limit_dose_gy);
  if (!isfinite(o->limit_bed_gy) || o->limit_bed_gy < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: BED limit %g Gy, expected >= 0 (0: none)", n,
                        o->limit_bed_gy);
  return RKIN_OK;
}

size_t rkin_organ_limit_count(void) { return N_LIMITS; }

const rkin_organ_limit *rkin_organ_limit_at(size_t i)
{
  return i < N_LIMITS ? &limits[i] : NULL;
}

const rkin_organ_limit *rkin_organ_limit_find(const char *id, rkin_err *err)
{
  char known[512] = "";
  size_t i;
  for (i = 0; id && i < N_LIMITS; i++)
    if (!strcmp(limits[i].id, id)) return &limits[i];
  for (i = 0; i < N_LIMITS; i++) {
    strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
    strncat(known, limits[i].id, sizeof known - strlen(known) - 1);
  }
  rkin_err_set(err, RKIN_ENOTFOUND, "unknown organ limit '%s' (known: %s)",
               id ? id : "(null)", known);
  return NULL;
}

const rkin_organ_limit *rkin_organ_limit_default(const char *organ,
                                                 rkin_limit_quantity q)
{
  size_t i;
  for (i = 0; organ && i < N_LIMITS; i++)
    if (limits[i].is_default && limits[i].quantity == q
        && !strcmp(limits[i].organ, organ))
      return &limits[i];
  return NULL;
}

const char *rkin_limit_quantity_name(rkin_limit_quantity q)
{
  return q == RKIN_LIMIT_BED ? "BED" : "absorbed dose";
}
