/* data.h - NONMEM-style CSV datasets: subjects with their dose records (as
 * rkin_dosing schedules), observations and covariates.
 *
 * CSV as RFC 4180 (core/csv.h: quoted fields, CRLF, a UTF-8 BOM); lines
 * starting with '#' are comments. Columns (names case-insensitive, any
 * order; `.` or an empty cell is missing): ID, TIME and DV are required;
 * AMT, RATE, EVID, MDV, CMT, II, ADDL, SS, DVID, CENS and LLOQ are
 * optional; every other column is a numeric covariate.
 *
 * Censoring (nlmixr2's convention): CENS 1, the value is below the lower
 * limit of quantification, which is the record's LLOQ when given, else
 * its DV; CENS -1, above the upper limit in DV. Without CENS (or with it
 * missing) an LLOQ column marks a record censored when its DV is below
 * the LLOQ or missing (NONMEM datasets with DV "." for BLQ). LLOQ > 0.
 *
 * Semantics (NONMEM's): EVID 0 observation (ignored when MDV = 1), 1 dose,
 * 2 other (ignored), 3 reset (every state to 0), 4 reset and dose. Without
 * an EVID column a row with AMT > 0 is a dose, a row with MDV = 1 is
 * ignored, any other row is an observation. CMT is 1-based (cmt 1 is state
 * 0) or a state name; a dose record needs one unless the model has a
 * single state (opts->n_states == 1). Observation records select what they
 * observe by DVID (an integer >= 1: output DVID - 1 of
 * opts->output_names, listed in the model's DVID order) or by a CMT naming
 * an output (as nlmixr2 does); both on one record must agree. RATE 0 is a
 * bolus, RATE > 0 an infusion of AMT at that rate. SS 1 / 2 with II (or
 * SS 1, AMT 0, RATE > 0, II 0) are steady-state doses (dosing.h, solve.h);
 * RATE -1 / -2 take the rate / duration from the model (checked when
 * solved). Not supported (rejected with a message naming the line): SS
 * other than 0, 1, 2, RATE < 0 other than -1 / -2, CMT <= 0 (compartment
 * on / off records).
 *
 * A reset starts a new segment: the solver integrates each segment from
 * zero state at its start time, and time may go back at a reset. Records
 * of one subject must be contiguous and, within a segment, in
 * non-decreasing time. Every subject needs at least one observation
 * (unless opts->simulate).
 * Subject IDs are found again by hashing (100,000 subjects parse in a
 * fraction of a second), and a segment's doses are sorted once. */
#ifndef RKIN_DATA_H
#define RKIN_DATA_H

#include <stddef.h>

#include "core/dosing.h"
#include "core/err.h"
#include "core/model.h"

typedef struct {
  double t0;                  /* h: the segment's first record time */
  rkin_dosing *dosing;        /* its doses (cmt 0-based) */
  size_t first_obs, n_obs;    /* its observations in the subject's arrays */
} rkin_data_segment;

/* One subject, read-only for users of the dataset. */
typedef struct {
  double id;
  size_t line;                /* file line of the subject's first record */
  size_t n_obs;
  const double *time;         /* n_obs observation times, h */
  const double *dv;           /* n_obs observed values */
  const int *cmt;             /* n_obs: 0-based state of the CMT column, or
                                 -1 when the record has no CMT (or CMT
                                 names an output) */
  /* Both NULL when the dataset has no DVID column and opts gave no
   * outputs (nothing can select one; no memory spent per subject): */
  const int *dvid;            /* n_obs: the DVID column (>= 1), or -1 */
  const int *output;          /* n_obs: 0-based output the record selects
                                 (by DVID or a CMT naming an output), or
                                 -1 when it selects none */
  const size_t *obs_line;     /* n_obs file lines, for messages */
  /* Both NULL unless opts->simulate == 2 (every record is a row): the
   * record's EVID (0-4) and MDV (1 for every record but an observation). */
  const int *evid;
  const int *mdv;
  /* Both NULL unless the dataset has a CENS or LLOQ column: */
  const int *cens;            /* n_obs: 0 quantified, 1 below the limit,
                                 -1 above it (nlmixr2's CENS; without
                                 CENS, 1 when DV < LLOQ or DV is missing
                                 with an LLOQ) */
  const double *limit;        /* n_obs: the limit of a censored record
                                 (its LLOQ when given, else its DV), NaN
                                 for the others */
  const double *lloq;         /* n_obs: the record's lower limit of
                                 quantification (its LLOQ cell, else the
                                 limit of a CENS 1 record), NaN when it
                                 has none; NULL with cens */
  const int *obs_rec;         /* n_obs: dose records of its segment
                                 before it (rkin_solve_req.out_rec: an
                                 observation before a dose record at the
                                 same time sees the state before it) */
  const double *cov;          /* n_cov: the subject's first non-missing
                                 value of each covariate (NaN when it has
                                 none) */
  size_t n_seg;
  const rkin_data_segment *seg;
  /* Every record of the subject in file order with its covariates
   * (time-varying covariates; all NULL and n_rec 0 when the dataset has
   * no covariate column): rec_time, its segment, its dose (index in the
   * segment's schedule, -1 when it is no dose record), its file line and
   * rec_cov (n_rec x n_cov, NaN where the cell is missing). cov_locf:
   * opts->cov_locf as read (rkin_data_segment_params). */
  size_t n_rec;
  const double *rec_time;
  const int *rec_seg;
  const int *rec_dose;
  const size_t *rec_line;
  const double *rec_cov;
  int cov_locf;
} rkin_data_subject;

typedef struct {
  /* When n_states > 0 every dose CMT is checked against the model's
   * states, and CMT may be a state name. state_names may be NULL. */
  size_t n_states;
  const char *const *state_names;
  /* Outputs DVID 1, 2, ... select (and names CMT may give); none: DVID is
   * kept as read, CMT names only states. */
  size_t n_outputs;
  const char *const *output_names;
  /* 1: a simulation dataset: the DV column is optional, an observation
   * record (EVID 0, MDV 0) with DV blank or no DV column is a prediction
   * time (dv NaN), and a subject may have no observation record.
   * 2: as 1, and every other record (dose, EVID 2 / 3, MDV 1) is also a
   * row of the "observations" (dv NaN, cmt / output -1, seeing its own
   * dose), with its EVID and MDV in evid / mdv: NONMEM's table rows. */
  int simulate;
  /* Time-varying covariates. 0 (NONMEM): the values on a record apply
   * over the interval ending at it (advancing the system from the
   * previous record to it), "next observation carried backward"; 1: from
   * the record on until the next one, "last observation carried
   * forward" (mrgsolve's nocb = FALSE). The record's own events (dose
   * with its F and lag, steady state) and its output use its values in
   * both. */
  int cov_locf;
} rkin_data_opts;

typedef struct rkin_data rkin_data;

/* Expanded dose events (ADDL repeats, infusion starts and ends) a dataset
 * may hold in all: 32 MB. A record that would pass it is an error naming
 * the record's line and this limit. */
#define RKIN_DATA_MAX_EVENTS 1000000

/* Reads a CSV file. Errors name the file, the line and the column:
 * RKIN_EIO (cannot read), RKIN_EINVAL (missing ID/TIME/DV column, a
 * non-numeric cell, time going back within a subject without EVID 3/4,
 * dose to an unknown compartment, a dose record without CMT, a subject
 * without observations, an unsupported SS / RATE / CMT value, malformed
 * quoting), RKIN_ERANGE (more than RKIN_DATA_MAX_EVENTS dose events).
 * opts may be NULL. */
rkin_data *rkin_data_read(const char *path, const rkin_data_opts *opts,
                          rkin_err *err);
/* The same from text in memory; `name` stands for the file in messages. */
rkin_data *rkin_data_parse(const char *text, size_t len, const char *name,
                           const rkin_data_opts *opts, rkin_err *err);
void rkin_data_free(rkin_data *d);

size_t rkin_data_nsubjects(const rkin_data *d);
const rkin_data_subject *rkin_data_subject_at(const rkin_data *d, size_t i);
size_t rkin_data_nobs(const rkin_data *d);        /* over all subjects */
size_t rkin_data_ncovariates(const rkin_data *d);
/* Covariate names as written in the header. */
const char *rkin_data_covariate_name(const rkin_data *d, size_t k);
/* Index of a covariate (case-insensitive), or -1 with an RKIN_ENOTFOUND
 * message listing the dataset's covariates. */
int rkin_data_covariate_index(const rkin_data *d, const char *name,
                              rkin_err *err);

/* The file name as given (for messages), and the 1-based column of
 * covariate k in the header (0 when there is no such covariate). */
const char *rkin_data_name(const rkin_data *d);
int rkin_data_covariate_column(const rkin_data *d, size_t k);

/* Checks every dose against a model with n_states states (names optional,
 * for the message), naming the file line of an offending record. */
int rkin_data_check_states(const rkin_data *d, size_t n_states,
                           const char *const *state_names, rkin_err *err);

/* Checks every RATE -1 / -2 dose against the model's modelled rate /
 * duration (rk.model fields rate, duration), naming the file line. */
int rkin_data_check_model(const rkin_data *d, const rkin_model *m,
                          rkin_err *err);

#endif
