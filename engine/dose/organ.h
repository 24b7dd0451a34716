/* organ.h - radiobiological parameters of organs at risk and tumours, and
 * the one table of organ limits (each with its quantity, value and
 * source) that every script and rule reads.
 *
 * Both tables are read-only; callers override a field by copying an entry
 * (plain structs) and changing the copy. Every number carries a
 * confirmation tag:
 *   P  read in the primary source (paper, report, trial protocol)
 *   S  read in a secondary source that reproduces the primary value
 *   C  read in public code or data, not checked against the paper
 *   D  derived here by calculation from tagged values
 *   U  not confirmed in any source read for radiokin (a commonly quoted
 *      value): verify it before relying on it.
 * docs/sources.md lists the sources with full citations. */
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

/* The organ class of a region name as people write it: case, '-', ' ' and
 * '.' ignored, plural and side dropped ("Kidneys", "kidney_left",
 * "left_kidney", "L_kidney", "kidney-R" -> kidney; "bone marrow", "marrow"
 * -> red_marrow; "parotid_L", "submandibular", "salivary_glands" ->
 * salivary; "tumor", "lesion3", "tumour_2" -> tumour; "normal_liver",
 * "liver" -> liver; "spleen"). "kidney_risk" only by that name. NULL and
 * RKIN_ENOTFOUND saying which names are known otherwise. */
const rkin_organ *rkin_organ_classify(const char *region, rkin_err *err);

/* Checks an (overridden) entry: valid LQ, limits finite and >= 0. */
int rkin_organ_check(const rkin_organ *o, rkin_err *err);

/* ------------------------------------------------------ organ limits */

typedef enum {
  RKIN_LIMIT_DOSE = 0,     /* cumulative absorbed dose, Gy */
  RKIN_LIMIT_BED = 1       /* cumulative biologically effective dose, Gy */
} rkin_limit_quantity;

typedef struct {
  const char *id;          /* "kidney_bed_iluminet", ... (stable key) */
  const char *organ;       /* organ class the limit is for */
  rkin_limit_quantity quantity;
  double value_gy;         /* > 0 */
  int is_default;          /* 1: the organ class's own limit (rkin_organ's
                            * limit_dose_gy / limit_bed_gy) */
  const char *applies;     /* to whom / in which protocol */
  const char *source;      /* citation and tag */
} rkin_organ_limit;

size_t rkin_organ_limit_count(void);
const rkin_organ_limit *rkin_organ_limit_at(size_t i);
/* By id; RKIN_ENOTFOUND listing the ids otherwise. */
const rkin_organ_limit *rkin_organ_limit_find(const char *id,
                                              rkin_err *err);
/* The organ class's default limit of a quantity, NULL when it has none. */
const rkin_organ_limit *rkin_organ_limit_default(const char *organ,
                                                 rkin_limit_quantity q);
/* "absorbed dose" or "BED". */
const char *rkin_limit_quantity_name(rkin_limit_quantity q);

#endif
