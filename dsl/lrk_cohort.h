/* lrk_cohort.h - the streamed form of rk.cohort (dsl/l_cohort_stream.c),
 * called by rk.cohort (dsl/l_cohort.c) when it is given csv = path. */
#ifndef RKIN_LRK_COHORT_H
#define RKIN_LRK_COHORT_H

#include <stddef.h>

#include <lua.h>

#include "pop/vpop.h"

typedef struct {
  const char *csv;            /* the file the rows go to */
  size_t chunk;               /* patients solved at a time (per rank) */
  const double *qs;           /* quantiles of the summaries */
  size_t nq;
  const double *limits;       /* n_tia: count over it (NaN: none) */
  const char *const *names;   /* n_tia names of the TIA quantities */
  const char *path_name;      /* "exact" / "cvodes", for the result */
} lrk_stream_opts;

/* Draws sp->n_patients patients from smp chunk by chunk, solves them
 * (over the MPI ranks), writes their rows to o->csv (atomically: the file
 * appears when every row is written) and pushes the result table (n,
 * cycles, path, steps, csv, names, summaries, cumulative_summaries,
 * failed, streamed = true). sp->params is ignored. Raises on failure. */
void lrk_cohort_stream(lua_State *L, const rkin_cohort_spec *sp,
                       rkin_vpop_sampler *smp, const lrk_stream_opts *o);

#endif
