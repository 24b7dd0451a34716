/* covdecl.h - declared covariates: what a model expects of a dataset
 * column (continuous within a range, or categorical with a set of
 * levels, and a unit), checked on every record of a dataset. */
#ifndef RKIN_COVDECL_H
#define RKIN_COVDECL_H

#include <stddef.h>

#include "core/err.h"
#include "pop/data.h"

typedef struct {
  const char *name;       /* the dataset column (case-insensitive) */
  const char *unit;       /* for messages, e.g. "kg"; may be "" */
  int categorical;        /* 0: continuous in [lo, hi]; 1: one of levels */
  double lo, hi;
  const double *levels;   /* n_levels values (categorical) */
  size_t n_levels;
} rkin_covdecl;

/* Checks a declaration: a name; continuous with finite lo <= hi;
 * categorical with at least one finite level, none repeated. RKIN_EINVAL
 * naming the covariate and what is wrong. */
int rkin_covdecl_check(const rkin_covdecl *c, rkin_err *err);

/* Checks every record of d against the n declarations: the column must
 * exist (RKIN_ENOTFOUND listing the dataset's covariates), and each
 * non-missing value must lie in the declared range or level set
 * (RKIN_EINVAL naming the file, line, column, subject and the declared
 * range or levels with the unit). Missing cells are left to the user of
 * the covariate (it may not need them). */
int rkin_data_check_covdecl(const rkin_data *d, const rkin_covdecl *decl,
                            size_t n, rkin_err *err);

#endif
