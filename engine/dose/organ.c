/* organ.c - the built-in organ table (see organ.h for the tags). */
#include "dose/organ.h"

#include <math.h>
#include <string.h>

static const rkin_organ table[] = {
  /* alpha/beta 2.6 Gy, T_rep 2.8 h: DOMAIN.md s.4 (Barone 2005; Wessels
   * 2008, MIRD 20), values C in LITERATURE.md s.4.1. Limits for kidneys
   * without risk factors: BED 40 Gy (Bodei et al. EJNMMI 2008;35:1847, P)
   * and absorbed dose up to 40 Gy (DOMAIN.md s.5, seed review). */
  {"kidney", {2.6, 2.8}, 40.0, 40.0,
   "a/b 2.6 Gy, T_rep 2.8 h (Barone 2005, MIRD 20; C); BED 40 Gy "
   "(Bodei 2008, P); dose 40 Gy non-compromised (DOMAIN.md s.5)"},
  /* Kidneys with risk factors (hypertension, diabetes): BED 28 Gy (Bodei
   * 2008, P; ILUMINET used 27 Gy, DOMAIN.md s.6); absorbed dose 23 Gy for
   * compromised function (DOMAIN.md s.5). */
  {"kidney_risk", {2.6, 2.8}, 23.0, 28.0,
   "a/b 2.6 Gy, T_rep 2.8 h (C); BED 28 Gy with risk factors (Bodei "
   "2008, P); dose 23 Gy compromised function (DOMAIN.md s.5)"},
  /* Absorbed-dose limit 2 Gy (DOMAIN.md s.5, from 131I). alpha/beta 10 Gy
   * and T_rep 0.5 h are commonly used for marrow but were not confirmed in
   * a source read here (U). */
  {"red_marrow", {10.0, 0.5}, 2.0, 0.0,
   "dose 2 Gy (DOMAIN.md s.5); a/b 10 Gy, T_rep 0.5 h (U)"},
  /* About 20 Gy absorbed dose (DOMAIN.md s.5, PSMA ligands). alpha/beta
   * 3 Gy and T_rep 1.5 h are placeholders for a late-responding tissue
   * (U). */
  {"salivary", {3.0, 1.5}, 20.0, 0.0,
   "dose ~20 Gy (DOMAIN.md s.5); a/b 3 Gy, T_rep 1.5 h (U)"},
  /* Typical tumour: alpha/beta 10 Gy, T_rep 1.5 h (DOMAIN.md s.4). */
  {"tumour", {10.0, 1.5}, 0.0, 0.0,
   "a/b 10 Gy, T_rep 1.5 h typical (DOMAIN.md s.4); no limit"},
};

#define N_ORGANS (sizeof table / sizeof table[0])

const rkin_organ *rkin_organ_find(const char *name, rkin_err *err)
{
  char known[256] = "";
  size_t i;
  for (i = 0; name && i < N_ORGANS; i++)
    if (!strcmp(table[i].name, name)) return &table[i];
  for (i = 0; i < N_ORGANS; i++) {
    strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
    strncat(known, table[i].name, sizeof known - strlen(known) - 1);
  }
  rkin_err_set(err, RKIN_ENOTFOUND, "unknown organ '%s' (known: %s)",
               name ? name : "(null)", known);
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
