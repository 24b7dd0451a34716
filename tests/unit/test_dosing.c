/* test_dosing.c - dose records expanded into events (NONMEM AMT, RATE, II,
 * ADDL, CMT semantics) and every rejected record. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/dosing.h"
#include "../tap.h"

static rkin_dose dose(double t, double amt, double rate, int cmt, double ii,
                      int addl)
{
  rkin_dose d;
  memset(&d, 0, sizeof d);
  d.time = t;
  d.amount = amt;
  d.rate = rate;
  d.cmt = cmt;
  d.ii = ii;
  d.addl = addl;
  return d;
}

static void bad(rkin_dosing *d, rkin_dose r, const char *part,
                const char *name)
{
  rkin_err err;
  size_t before = rkin_dosing_nrecords(d);
  int rc = rkin_dosing_add(d, &r, &err);
  is_int(rc, RKIN_EINVAL, "%s: RKIN_EINVAL", name);
  like(err.msg, part, "%s: message names field and value", name);
  is_int((long)rkin_dosing_nrecords(d), (long)before,
         "%s: record not added", name);
}

/* A copy of ev sorted by the documented order, for comparison. */
static int ref_cmp(const void *a, const void *b)
{
  const rkin_event *x = a, *y = b;
  int kx = x->kind == RKIN_EV_INF_OFF ? 0 : x->kind == RKIN_EV_INF_ON ? 1 : 2;
  int ky = y->kind == RKIN_EV_INF_OFF ? 0 : y->kind == RKIN_EV_INF_ON ? 1 : 2;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  if (kx != ky) return kx - ky;
  if (x->cmt != y->cmt) return x->cmt < y->cmt ? -1 : 1;
  if (x->value != y->value) return x->value < y->value ? -1 : 1;
  return 0;
}

static rkin_dose rec(double t, double amt, double rate, double ii,
                     int evid, int ss)
{
  rkin_dose d = dose(t, amt, rate, 0, ii, 0);
  d.evid = evid;
  d.ss = ss;
  return d;
}

/* EVID and SS records: their events, order and checks. */
static void test_event_records(void)
{
  rkin_dosing *d = rkin_dosing_new();
  rkin_dose r[3];
  const rkin_event *ev;
  double rem;
  int m;

  /* SS infusion of 10 h every 4 h: 2 earlier doses still run at t = 8
   * (started at 4 and 0, ending at 14 and 10); 10 = 2 x 4 + 2. */
  r[0] = rec(8, 100, 10, 4, 1, 1);
  m = rkin_dosing_ss_split(r[0].amount / r[0].rate, r[0].ii, &rem);
  ok(m == 2 && rem == 2, "ss_split: 10 h over II 4 h = 2 intervals + 2 h");
  is_int((long)rkin_dosing_count_events(&r[0]), 7, "SS infusion overlapping "
         "2 earlier doses: SS + 2 x (on, off) + its own on, off = 7 events");
  ok(rkin_dosing_add(d, &r[0], NULL) == 0, "SS infusion added");
  ev = rkin_dosing_events(d);
  ok(rkin_dosing_nevents(d) == 7 && ev[0].kind == RKIN_EV_SS
     && ev[0].time == 8, "the SS event comes first, at the record's time");
  ok(ev[1].kind != RKIN_EV_INF_OFF && ev[2].kind != RKIN_EV_INF_OFF
     && ev[3].kind != RKIN_EV_INF_OFF && ev[1].time == 8 && ev[3].time == 8,
     "three infusions (two earlier, its own) on at 8 h");
  ok((ev[1].kind == RKIN_EV_SS_ON) + (ev[2].kind == RKIN_EV_SS_ON)
     + (ev[3].kind == RKIN_EV_SS_ON) == 2
     && (ev[1].kind == RKIN_EV_INF_ON) + (ev[2].kind == RKIN_EV_INF_ON)
     + (ev[3].kind == RKIN_EV_INF_ON) == 1,
     "the two earlier ones are marked as running, its own as a start");
  ok(ev[4].kind == RKIN_EV_INF_OFF && ev[4].time == 10
     && ev[5].time == 14 && ev[6].time == 18,
     "their ends at 0 + 10, 4 + 10 and 8 + 10 h");
  rkin_dosing_free(d);

  /* Exactly 2 intervals: the dose 2 II back ends at the record. */
  r[0] = rec(0, 40, 10, 2, 1, 1);
  is_int((long)rkin_dosing_count_events(&r[0]), 5, "SS infusion of exactly "
         "2 II: one earlier dose still running (5 events)");
  r[0] = rec(0, 0, 10, 0, 1, 1);
  is_int((long)rkin_dosing_count_events(&r[0]), 1, "constant-infusion SS: "
         "one event (the infusion ends at the record)");

  /* A reset after an ADDL dose at the same time: the implied dose comes
   * first (epoch order), then the reset, then the later records. */
  d = rkin_dosing_new();
  r[0] = rec(0, 100, 0, 10, 1, 0);
  r[0].addl = 1;
  r[1] = rec(10, 0, 0, 0, 3, 0);
  r[2] = rec(10, 7, 0, 0, 1, 0);
  ok(rkin_dosing_add_many(d, r, 3, NULL, NULL) == 0, "ADDL, reset, dose");
  ev = rkin_dosing_events(d);
  ok(rkin_dosing_nevents(d) == 4, "4 events: 2 boluses, a reset, a bolus");
  ok(ev[1].time == 10 && ev[1].kind == RKIN_EV_BOLUS && ev[1].rec == 0
     && ev[2].kind == RKIN_EV_RESET && ev[2].rec == 1
     && ev[3].kind == RKIN_EV_BOLUS && ev[3].rec == 2,
     "at 10 h: the ADDL copy, the reset, the later record's dose");
  ok(ev[1].epoch == 0 && ev[2].epoch == 1 && ev[3].epoch == 1,
     "epochs count the resets");
  rkin_dosing_free(d);

  /* EVID 2 adds a record and nothing else. */
  d = rkin_dosing_new();
  r[0] = rec(1, 0, 0, 0, 2, 0);
  ok(rkin_dosing_add(d, &r[0], NULL) == 0 && rkin_dosing_nrecords(d) == 1
     && rkin_dosing_nevents(d) == 0, "EVID 2: a record, no event");

  bad(d, rec(2, 0, 0, 0, 5, 0), "evid = 5 is invalid", "EVID 5");
  bad(d, rec(2, 5, 0, 0, 3, 0), "evid = 3 gives no dose, but amount = 5",
      "EVID 3 with an amount");
  bad(d, rec(2, 0, 0, 0, 4, 0), "evid = 4 (reset and dose) needs an amount",
      "EVID 4 without amount");
  bad(d, rec(2, 5, 0, 12, 1, 3), "ss = 3 is invalid", "SS 3");
  bad(d, rec(2, 5, 0, 0, 1, 1), "ss = 1 with ii = 0 needs ii > 0",
      "SS bolus with II 0");
  bad(d, rec(2, 5, 10, 0, 1, 2), "ss = 2 with ii = 0 needs ii > 0",
      "SS = 2 infusion with II 0");
  bad(d, rec(2, 0, 0, 12, 1, 1), "ss = 1 with ii = 12 needs an amount",
      "SS with II and no amount");
  bad(d, rec(2, 0, 0, 12, 3, 2), "ss = 2 needs a dose record",
      "SS on a reset");
  bad(d, rec(2, 1e7, 1, 1, 1, 1), "overlaps more than",
      "SS infusion overlapping a million doses");
  rkin_dosing_free(d);
}

static int same_as_sorted(const rkin_dosing *d)
{
  size_t n = rkin_dosing_nevents(d), i;
  rkin_event *ref = malloc((n ? n : 1) * sizeof *ref);
  const rkin_event *ev = rkin_dosing_events(d);
  int same = ref != NULL;
  if (same && n) {
    memcpy(ref, ev, n * sizeof *ref);
    qsort(ref, n, sizeof *ref, ref_cmp);
    for (i = 0; i < n; i++)
      if (ref_cmp(&ref[i], &ev[i]) != 0) same = 0;
  }
  free(ref);
  return same;
}

/* Issue 12: AMT 0 alone (qsort of NULL before), events sorted once per
 * batch and merged per record, the total capped. */
static void test_bounded(void)
{
  rkin_err err;
  rkin_dosing *d = rkin_dosing_new(), *e;
  rkin_dose r[60];
  size_t i, bad_i = 99;

  r[0] = dose(0, 0, 0, 0, 0, 0);
  is_int(rkin_dosing_add(d, &r[0], &err), 0, "AMT 0 as the only record");
  ok(rkin_dosing_nevents(d) == 0 && rkin_dosing_nrecords(d) == 1,
     "... one record, no events");
  rkin_dosing_free(d);

  /* Interleaved repeats: bolus and infusion records whose ADDL repeats
   * overlap every later record, added one by one (merge) and in one batch
   * (one sort); both equal a full sort. */
  for (i = 0; i < 60; i++)
    r[i] = dose((double)i * 0.7, 1 + (double)(i % 5), i % 3 ? 0 : 2.5,
                (int)(i % 2), 1.3 + 0.1 * (double)(i % 4), 40 + (int)i);
  d = rkin_dosing_new();
  for (i = 0; i < 60; i++) rkin_dosing_add(d, &r[i], &err);
  e = rkin_dosing_new();
  is_int(rkin_dosing_add_many(e, r, 60, NULL, &err), 0, "60 records in one "
         "batch");
  /* sum of ADDL + 1 = 41..100 is 4230; the 20 infusions (i = 0, 3, ...,
   * 57) add their 20 * 41 + 3 * 190 = 1390 ends */
  ok(rkin_dosing_nevents(d) == rkin_dosing_nevents(e)
     && rkin_dosing_nevents(d) == 4230 + 1390,
     "one by one and in a batch: the same %zu events",
     rkin_dosing_nevents(d));
  ok(same_as_sorted(d), "one by one (merged): equal to a full sort");
  ok(same_as_sorted(e), "in a batch (sorted once): equal to a full sort");
  rkin_dosing_free(e);

  /* A bad record in a batch: nothing added, its index reported. */
  e = rkin_dosing_new();
  r[7].amount = -1;
  is_int(rkin_dosing_add_many(e, r, 60, &bad_i, &err), RKIN_EINVAL,
         "a batch with a negative amount: RKIN_EINVAL");
  ok(bad_i == 7 && rkin_dosing_nrecords(e) == 0
     && rkin_dosing_nevents(e) == 0, "... record 8 named, nothing added");
  like(err.msg, "dose record 8: amount = -1", "... message");
  rkin_dosing_free(e);

  /* The total is capped: an infusion of ADDL 1e6 (2,000,002 events) fits
   * once; the second passes RKIN_DOSING_MAX_EVENTS = 4,000,000. */
  e = rkin_dosing_new();
  r[0] = dose(0, 10, 5, 0, 1, 1000000);
  is_int(rkin_dosing_add(e, &r[0], &err), 0, "ADDL 1e6 infusion: 2,000,002 "
         "events");
  r[0].time = 1;
  is_int(rkin_dosing_add(e, &r[0], &err), RKIN_ERANGE,
         "a second one passes the limit: RKIN_ERANGE");
  like(err.msg, "dose record 2: ADDL = 1000000 expands to 2000002 events, "
       "more than the 4000000", "... naming record, events and limit");
  ok(rkin_dosing_nrecords(e) == 1 && rkin_dosing_nevents(e) == 2000002,
     "... and nothing of it is added");
  rkin_dosing_free(e);
  rkin_dosing_free(d);
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  rkin_err err;
  rkin_dosing *d = rkin_dosing_new(), *c;
  const rkin_event *ev;
  rkin_dose r;
  size_t i;
  int sorted = 1;

  ok(d != NULL, "new schedule");
  is_int((long)rkin_dosing_nevents(d), 0, "empty schedule has no events");

  /* A bolus, then a 2 h infusion of 100 at 50/h, repeated 3 more times
   * every 24 h (NONMEM: ADDL = 3 additional doses, II = 24). */
  r = dose(0, 7400, 0, 0, 0, 0);
  is_int(rkin_dosing_add(d, &r, &err), 0, "bolus added");
  r = dose(0, 100, 50, 1, 24, 3);
  is_int(rkin_dosing_add(d, &r, &err), 0, "repeated infusion added");
  is_int((long)rkin_dosing_nrecords(d), 2, "two records");
  /* 1 bolus + 4 x (start, end) */
  is_int((long)rkin_dosing_nevents(d), 9, "ADDL 3 expands to 4 infusions "
         "(start and end each) plus the bolus");
  ev = rkin_dosing_events(d);
  for (i = 1; i < rkin_dosing_nevents(d); i++)
    if (ev[i].time < ev[i - 1].time) sorted = 0;
  ok(sorted, "events sorted by time");
  ok(ev[0].time == 0 && ev[0].kind == RKIN_EV_INF_ON && ev[1].kind
       == RKIN_EV_BOLUS, "at t = 0 the infusion start precedes the bolus");
  /* duration = AMT / RATE = 2 h (NONMEM) */
  is_double(ev[2].time, 2.0, 0, "first infusion ends at AMT/RATE = 2 h "
            "(exact)");
  ok(ev[2].kind == RKIN_EV_INF_OFF && ev[2].value == 50 && ev[2].cmt == 1,
     "infusion end carries rate 50 into cmt 1");
  is_double(ev[7].time, 72.0, 0, "last repeat starts at 0 + 3 x II = 72 h "
            "(exact)");
  is_double(ev[8].time, 74.0, 0, "and ends at 74 h (exact)");

  /* Back-to-back infusions: the end of one and the start of the next at
   * the same time must be ordered end first. */
  c = rkin_dosing_new();
  r = dose(0, 10, 10, 0, 1, 1);   /* 0-1 h and 1-2 h */
  rkin_dosing_add(c, &r, &err);
  ev = rkin_dosing_events(c);
  ok(ev[1].time == 1 && ev[1].kind == RKIN_EV_INF_OFF
       && ev[2].time == 1 && ev[2].kind == RKIN_EV_INF_ON,
     "at equal times an infusion end comes before a start");
  rkin_dosing_free(c);

  r = dose(100, 0, 0, 0, 0, 0);
  is_int(rkin_dosing_add(d, &r, &err), 0, "a zero amount is accepted");
  is_int((long)rkin_dosing_nevents(d), 9, "and creates no event");

  c = rkin_dosing_copy(d);
  ok(c && rkin_dosing_nevents(c) == 9 && rkin_dosing_nrecords(c) == 3
       && rkin_dosing_events(c)[8].time == 74.0,
     "copy has the same records and events");
  ok(rkin_dosing_record(c, 1)->addl == 3 && rkin_dosing_record(c, 3) == NULL,
     "records readable, past the end NULL");
  rkin_dosing_free(c);

  is_int(rkin_dosing_check(d, 2, &err), 0, "cmt 0 and 1 fit a 2-state model");
  is_int(rkin_dosing_check(d, 1, &err), RKIN_EINVAL,
         "cmt 1 does not fit a 1-state model");
  like(err.msg, "dose record 2: cmt = 1 is not a state", "message names the "
       "record and cmt");

  /* Rejected records: each message names the field and the value. */
  bad(d, dose(200, -5, 0, 0, 0, 0), "amount = -5", "negative amount");
  bad(d, dose(NAN, 5, 0, 0, 0, 0), "time = nan", "NaN time");
  bad(d, dose(INFINITY, 5, 0, 0, 0, 0), "time = inf", "infinite time");
  bad(d, dose(200, 5, -3, 0, 0, 0), "rate = -3", "negative rate");
  bad(d, dose(200, NAN, 0, 0, 0, 0), "amount = nan", "NaN amount");
  bad(d, dose(200, 5, 0, -2, 0, 0), "cmt = -2", "negative cmt");
  bad(d, dose(200, 5, 0, 0, 0, -1), "addl = -1", "negative addl");
  bad(d, dose(200, 5, 0, 0, 0, 2), "addl = 2 needs ii > 0",
      "addl without ii");
  bad(d, dose(200, 5, 0, 0, NAN, 2), "got ii = nan", "addl with NaN ii");
  bad(d, dose(50, 5, 0, 0, 0, 0), "time = 50 is earlier than record 3's "
      "time 100", "unsorted record");
  bad(d, dose(200, 5, 0, 0, 1, 2000000), "addl = 2000000",
      "absurd addl");

  rkin_dosing_free(d);
  rkin_dosing_free(NULL);
  test_bounded();
  test_event_records();
  ok(rkin_dosing_nevents(NULL) == 0 && rkin_dosing_events(NULL) == NULL,
     "NULL schedule has no events");
  done_testing();
  return exit_status();
}
