/* dosing.h - dose records with NONMEM semantics (AMT, RATE, II, ADDL, CMT),
 * expanded into a sorted list of events the solver stops at exactly. */
#ifndef RKIN_DOSING_H
#define RKIN_DOSING_H

#include <stddef.h>

#include "core/err.h"

typedef struct {
  double time;    /* h */
  double amount;  /* AMT, in the state's unit (MBq for activities) */
  double rate;    /* RATE: 0 bolus; > 0 zero-order infusion, unit/h,
                     lasting amount/rate h; -1 rate and -2 duration from
                     the model (core/model.h dose modifiers); -2 with
                     amount 0 is a zero dose (no events) */
  int cmt;        /* state index (0-based) */
  double ii;      /* II: interval between repeats, h (needed when addl > 0) */
  int addl;       /* ADDL: additional doses after the first */
  int evid;       /* EVID: 0 or 1 dose; 2 other event (no effect: amount
                     must be 0); 3 reset (every amount to 0, infusions in
                     progress cancelled; amount must be 0); 4 reset, then
                     this record's dose (amount > 0). */
  int ss;         /* SS: 0; 1 amounts set to the steady state of this dose
                     repeated every ii (after a reset that also cancels
                     every pending dose of earlier records); 2 the steady
                     state added to the current amounts. With ii = 0 only
                     SS = 1, amount 0, rate > 0: the constant-infusion
                     steady state (that infusion ends at time). */
} rkin_dose;

typedef enum {
  RKIN_EV_BOLUS,    /* y[cmt] += value */
  RKIN_EV_INF_ON,   /* infusion rate into cmt += value */
  RKIN_EV_INF_OFF,  /* infusion rate into cmt -= value */
  RKIN_EV_RESET,    /* EVID 3/4: amounts and rates to 0; infusions of
                       earlier records still running are cancelled */
  RKIN_EV_SS,       /* SS = 1 or 2 of record rec (see solve.h) */
  RKIN_EV_SS_ON     /* an earlier dose of a steady-state infusion still
                       running at the record: rate += value, as INF_ON,
                       but it did not start then */
} rkin_event_kind;

typedef struct {
  double time;
  double value;     /* amount (bolus) or rate (infusion) */
  double start;     /* the nominal time of the dose it belongs to
                       (record time + k ii, before the lag) */
  rkin_event_kind kind;
  int cmt;
  int rec;          /* 0-based index of the record it comes from */
  int epoch;        /* resets (EVID 3/4, SS = 1) among records 0..rec */
} rkin_event;

typedef struct rkin_dosing rkin_dosing;

rkin_dosing *rkin_dosing_new(void);
void rkin_dosing_free(rkin_dosing *d);
rkin_dosing *rkin_dosing_copy(const rkin_dosing *d);

/* Expanded events one schedule may hold (40 bytes each: 160 MB). */
#define RKIN_DOSING_MAX_EVENTS 4000000

/* Adds one record. Rejects (RKIN_EINVAL, message naming the field and
 * value): non-finite or negative time, amount or rate; cmt < 0; addl < 0;
 * addl > 0 with ii <= 0; a time earlier than the previous record's; evid
 * not 0..4, a non-zero amount with evid 2 or 3, evid 4 without amount; ss
 * not 0..2, ss with evid 2 or 3, ss with ii = 0 other than the constant
 * infusion (ss = 1, amount 0, rate > 0), ss with ii > 0 and amount 0; and
 * (RKIN_ERANGE) more than RKIN_DOSING_MAX_EVENTS events in all. */
int rkin_dosing_add(rkin_dosing *d, const rkin_dose *dose, rkin_err *err);
/* Adds n records (in time order) with one sort of their events: the way to
 * build a long schedule. On an error nothing is added and *bad (if not
 * NULL) is the index of the offending record. */
int rkin_dosing_add_many(rkin_dosing *d, const rkin_dose *doses, size_t n,
                         size_t *bad, rkin_err *err);
/* The events a record expands to (0 for a zero amount). */
size_t rkin_dosing_count_events(const rkin_dose *r);
/* For an SS infusion with ii > 0: the whole intervals m = floor(dur /
 * ii) it lasts (returned) and the remainder *rem = dur - m ii, so at
 * steady state (m + 1) infusions run over the first rem h of each
 * interval and m over the rest. */
int rkin_dosing_ss_split(double dur, double ii, double *rem);

/* A record as the model gives it (NONMEM's F, ALAG, R, D). */
typedef struct {
  double amount;    /* F x AMT */
  double rate;      /* 0 bolus; RATE, or R (RATE -1), or amount / D (-2) */
  double dur;       /* amount / rate (F changes it for a given RATE) */
  double lag;       /* ALAG: every copy (ADDL too) is given lag h later */
} rkin_dose_eff;

/* The effective dose of record r (index idx, for messages) with mods NULL
 * (F 1, no lag) or the model's values (core/model.h layout, RKIN_MOD_N x
 * n_states; NaN where R or D are not defined). RKIN_EINVAL for RATE -1 /
 * -2 when the model defines no R / D for that compartment, and for a
 * steady state with lag >= ii. */
int rkin_dosing_effective(const rkin_dose *r, size_t idx, const double *mods,
                          size_t n_states, rkin_dose_eff *e, rkin_err *err);
/* 1 when a record has RATE -1 or -2: its events exist only per run. */
int rkin_dosing_needs_model(const rkin_dosing *d);
/* All events of d with the model's modifiers (sorted as
 * rkin_dosing_events) into *ev (grown, capacity *cap), *n_ev of them. */
int rkin_dosing_expand(const rkin_dosing *d, const double *mods,
                       size_t n_states, rkin_event **ev, size_t *cap,
                       size_t *n_ev, rkin_err *err);
/* The same with each record's own modifiers (time-varying covariates):
 * record i's at mods + i * stride (stride 0: one set for all). keep
 * (NULL: none) flags the records whose events are made even when their
 * amount F x AMT is 0 (a dose record, EVID 0 / 1, no SS): those whose
 * amount's derivative a sensitivity run wants. Their events have value
 * 0 and change no state: a BOLUS at each (lagged) dose time for a bolus
 * or an infusion of a given or modelled rate (0 h long at a zero
 * amount), INF_ON and INF_OFF D h apart for a modelled duration (RATE
 * -2); the solver applies the jumps of the amount's derivative there. */
int rkin_dosing_expand_rec(const rkin_dosing *d, const double *mods,
                           size_t stride, size_t n_states,
                           const unsigned char *keep, rkin_event **ev,
                           size_t *cap, size_t *n_ev, rkin_err *err);
/* Checks every cmt against a model with n_states states. */
int rkin_dosing_check(const rkin_dosing *d, size_t n_states, rkin_err *err);

size_t rkin_dosing_nrecords(const rkin_dosing *d);
const rkin_dose *rkin_dosing_record(const rkin_dosing *d, size_t i);

/* Expanded events sorted by time (ADDL repeats and infusion ends included);
 * at equal times by epoch (so events of records before a reset at that
 * time come before it, as NONMEM gives implied doses before the record at
 * their time), then resets, steady states, infusion ends, starts,
 * boluses. An SS infusion record also has, for every earlier dose of its
 * steady state still running at its time (ii shorter than the infusion),
 * an INF_ON at its time and an INF_OFF at that dose's end. */
size_t rkin_dosing_nevents(const rkin_dosing *d);
const rkin_event *rkin_dosing_events(const rkin_dosing *d);

#endif
