/* datasim.h - predictions of a model at a dataset's observation records
 * (simulation of a NONMEM-style dataset: PRED / IPRED). */
#ifndef RKIN_DATASIM_H
#define RKIN_DATASIM_H

#include "core/err.h"
#include "core/model.h"
#include "pop/data.h"
#include "solve/solve.h"

/* Solves subject sj with the parameters `params` (rkin_model_nparams) on
 * the solver s (made for m), segment by segment from its dosing schedule,
 * with the observation times in record order (an observation before a
 * dose record at its time sees the state before that dose), and writes
 * one prediction per observation record into f (sj->n_obs): the output
 * the record selects (DVID, or CMT naming an output), else the state its
 * CMT names, else the model's first output (its first state when it has
 * no outputs). Errors are prefixed with the subject's ID; a non-finite
 * prediction is RKIN_ENONFINITE naming the record's line. */
int rkin_data_predict(rkin_solver *s, const rkin_model *m,
                      const rkin_data_subject *sj, const double *params,
                      double *f, rkin_err *err);

#endif
