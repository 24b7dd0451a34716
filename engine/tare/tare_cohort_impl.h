/* tare_cohort_impl.h - internals shared by tare_cohort.c, tare_csv_in.c
 * and tare_csv_out.c (not installed). */
#ifndef RKIN_TARE_COHORT_IMPL_H
#define RKIN_TARE_COHORT_IMPL_H

#include <stddef.h>

#include "tare/tare_cohort.h"

typedef struct tare_block {
  struct tare_block *next;
  size_t used, size;
  char data[];
} tare_block;

typedef struct {
  const char *id;
  const char *src;         /* source text name, or NULL */
  long row;
  rkin_tare_plan plan;     /* territories set when used */
  size_t t0, nt;           /* slice of the cohort's territories */
} tare_entry;

typedef struct {
  rkin_tare_territory t;   /* lesions set when used */
  size_t l0;               /* slice start in the cohort's lesions */
} tare_terr_rec;

struct rkin_tare_cohort {
  tare_entry *e;
  size_t n, ecap;
  tare_terr_rec *t;
  size_t nt, tcap;
  rkin_tare_lesion *l;
  size_t nl, lcap;
  tare_block *strings;
  const char *src;         /* name of the text being parsed, else NULL */
};

/* A copy of s[0..n) in the cohort's string arena (never moves while the
 * cohort lives); NULL when out of memory. */
const char *tare_cohort_keep(rkin_tare_cohort *c, const char *s, size_t n);

/* Room for n_pat more patients, n_terr territories and n_les lesions. */
int tare_cohort_reserve(rkin_tare_cohort *c, size_t n_pat, size_t n_terr,
                        size_t n_les, rkin_err *err);

int tare_cohort_nomem(rkin_err *err);

#endif
