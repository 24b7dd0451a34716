/* organ.h - radiobiological parameters and dose limits of organs at risk
 * and tumours, each with its source.
 *
 * A read-only built-in table; callers override a field by copying the
 * entry (rkin_organ is a plain struct) and changing the copy. Confirmation
 * tags as in shared/LITERATURE.md (P primary, S secondary, C public code,
 * D derived, U not confirmed in a source read for this project). */
#ifndef RKIN_ORGAN_H
#define RKIN_ORGAN_H

#include <stddef.h>

#include "core/err.h"
#include "dose/radiobio.h"

typedef struct {
  const char *name;        /* "kidney", "kidney_risk", "red_marrow", ... */
  rkin_lq lq;              /* alpha/beta [Gy], repair half-time [h] */
  double limit_dose_gy;    /* cumulative absorbed-dose limit, 0 = none */
  double limit_bed_gy;     /* cumulative BED limit, 0 = none */
  const char *source;      /* sources and tags of the numbers above */
} rkin_organ;

/* Finds an entry by exact name; RKIN_ENOTFOUND listing the names. */
const rkin_organ *rkin_organ_find(const char *name, rkin_err *err);
size_t rkin_organ_count(void);
const rkin_organ *rkin_organ_at(size_t i);

/* Checks an (overridden) entry: valid LQ, limits finite and >= 0. */
int rkin_organ_check(const rkin_organ *o, rkin_err *err);

#endif
