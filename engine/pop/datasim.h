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

/* Time-varying covariates: the model parameters at each record of sj
 * (rec_par, sj->n_rec x np, rkin_data_subject.rec_*), turned into the
 * parameter fields of a solver request for segment g: rq->params (the
 * segment's first record's), n_pw / pw_t / pw_params (a switch where
 * the parameters change: with sj->cov_locf 0, NONMEM's, at the previous
 * record's time to the values of the record the interval ends at; with
 * 1 at the record's own time) and pw_locf, and rq->rec_params (each dose
 * record's own row). rec_dir (sj->n_rec x n_dir x np, NULL: none) gives
 * pw_dir and rq->rec_dir the same way and *dir0 the first record's. The
 * arrays live in buf (grown; rkin_data_pwbuf_free). */
typedef struct {
  double *t, *p, *rp, *dir, *rd;
  size_t cap_t, cap_p, cap_rp, cap_dir, cap_rd;
} rkin_data_pwbuf;
void rkin_data_pwbuf_free(rkin_data_pwbuf *b);
int rkin_data_segment_params(const rkin_data_subject *sj, size_t g,
                             const double *rec_par, size_t np,
                             const double *rec_dir, size_t n_dir,
                             rkin_solve_req *rq, const double **dir0,
                             rkin_data_pwbuf *buf, rkin_err *err);

/* rkin_data_predict with parameters per record (rec_par as above; NULL:
 * params throughout). */
int rkin_data_predict_rec(rkin_solver *s, const rkin_model *m,
                          const rkin_data_subject *sj, const double *params,
                          const double *rec_par, double *f, rkin_err *err);

#endif
