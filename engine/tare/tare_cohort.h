/* tare_cohort.h - many TARE plans at once: a cohort built from CSV text or
 * plan by plan, planned in one pass, with the plan table as CSV text.
 *
 * The engine does no file I/O: callers read the file into memory and write
 * the returned text (atomically, dsl/lrk.h). CSV columns carry units:
 *   id, product, cf (derived|clinical|rounded or Gy kg/GBq), territory,
 *   volume_mL | volume_L | mass_kg, lsf, mode (tumour|normal|max_safe|
 *   activity), target_gy, activity_mbq, cap (0/1), ref (mean|min|<k>),
 *   tumour_volume_mL | tumour_volume_L | tumour_mass_kg, tn (one tumour),
 *   lesion<k>_volume_mL | lesion<k>_volume_L | lesion<k>_mass_kg,
 *   lesion<k>_tn (several), and per patient liver_volume_mL |
 *   liver_volume_L | liver_mass_kg, lung_mass_kg, compromised (0/1),
 *   decay_h, residual_fraction, density_kg_L (default 1.03).
 * One row per perfused territory; rows sharing an id are one patient. */
#ifndef RKIN_TARE_COHORT_H
#define RKIN_TARE_COHORT_H

#include <stddef.h>

#include "core/err.h"
#include "tare/tare.h"

typedef struct rkin_tare_cohort rkin_tare_cohort;

rkin_tare_cohort *rkin_tare_cohort_new(void);
void rkin_tare_cohort_free(rkin_tare_cohort *c);

/* Adds a copy of `plan` (its territories, lesions and names are copied).
 * `id` names the patient (NULL: its number); `row` is its first source
 * line for messages (0: none). */
int rkin_tare_cohort_add(rkin_tare_cohort *c, const char *id, long row,
                         const rkin_tare_plan *plan, rkin_err *err);

/* Parses CSV text (header + rows) and adds its patients. `src` names the
 * text in messages ("cohort.csv:12: column 'volume_L': ..."). A column
 * without a unit, an unknown column, a size that contradicts its unit (a
 * liver volume_L of 1500) and per-patient values that differ between a
 * patient's rows are errors. On error nothing is added. */
int rkin_tare_cohort_parse_csv(rkin_tare_cohort *c, const char *text,
                               size_t len, const char *src, rkin_err *err);

size_t rkin_tare_cohort_size(const rkin_tare_cohort *c);
const char *rkin_tare_cohort_id(const rkin_tare_cohort *c, size_t i);

/* Patient i's plan, its territories in terr (lesions and names stay valid
 * while the cohort lives and is not added to). */
int rkin_tare_cohort_get(const rkin_tare_cohort *c, size_t i,
                         rkin_tare_plan *plan,
                         rkin_tare_territory terr[RKIN_TARE_MAX_TERR],
                         rkin_err *err);

/* Runs patient i's plan into res. Errors are prefixed
 * "patient 'id' (src:row): ". */
int rkin_tare_cohort_plan(const rkin_tare_cohort *c, size_t i,
                          rkin_tare_result *res, rkin_err *err);

typedef struct {
  size_t patients, all_pass, normal_exceeded, lung_exceeded;
  double mean_activity_mbq;
} rkin_tare_summary;

/* Plans every patient and returns the plan table as CSV text (one row per
 * territory; malloc'd, the caller frees) and a summary. Stops at the first
 * failing plan: *text is then NULL. */
int rkin_tare_cohort_csv(const rkin_tare_cohort *c, char **text,
                         size_t *len, rkin_tare_summary *sum, rkin_err *err);

#endif
