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
                     lasting amount/rate h */
  int cmt;        /* state index (0-based) */
  double ii;      /* II: interval between repeats, h (needed when addl > 0) */
  int addl;       /* ADDL: additional doses after the first */
} rkin_dose;

typedef enum {
  RKIN_EV_BOLUS,    /* y[cmt] += value */
  RKIN_EV_INF_ON,   /* infusion rate into cmt += value */
  RKIN_EV_INF_OFF   /* infusion rate into cmt -= value */
} rkin_event_kind;

typedef struct {
  double time;
  rkin_event_kind kind;
  int cmt;
  double value;     /* amount (bolus) or rate (infusion) */
} rkin_event;

typedef struct rkin_dosing rkin_dosing;

rkin_dosing *rkin_dosing_new(void);
void rkin_dosing_free(rkin_dosing *d);
rkin_dosing *rkin_dosing_copy(const rkin_dosing *d);

/* Expanded events one schedule may hold (32 bytes each: 128 MB). */
#define RKIN_DOSING_MAX_EVENTS 4000000

/* Adds one record. Rejects (RKIN_EINVAL, message naming the field and
 * value): non-finite or negative time, amount or rate; cmt < 0; addl < 0;
 * addl > 0 with ii <= 0; a time earlier than the previous record's; and
 * (RKIN_ERANGE) more than RKIN_DOSING_MAX_EVENTS events in all. */
int rkin_dosing_add(rkin_dosing *d, const rkin_dose *dose, rkin_err *err);
/* Adds n records (in time order) with one sort of their events: the way to
 * build a long schedule. On an error nothing is added and *bad (if not
 * NULL) is the index of the offending record. */
int rkin_dosing_add_many(rkin_dosing *d, const rkin_dose *doses, size_t n,
                         size_t *bad, rkin_err *err);
/* The events a record expands to (0 for a zero amount). */
size_t rkin_dosing_count_events(const rkin_dose *r);
/* Checks every cmt against a model with n_states states. */
int rkin_dosing_check(const rkin_dosing *d, size_t n_states, rkin_err *err);

size_t rkin_dosing_nrecords(const rkin_dosing *d);
const rkin_dose *rkin_dosing_record(const rkin_dosing *d, size_t i);

/* Expanded events sorted by time (ADDL repeats and infusion ends included);
 * at equal times, infusion ends come first, then starts, then boluses. */
size_t rkin_dosing_nevents(const rkin_dosing *d);
const rkin_event *rkin_dosing_events(const rkin_dosing *d);

#endif
