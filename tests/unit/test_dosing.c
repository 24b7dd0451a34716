/* test_dosing.c - dose records expanded into events (NONMEM AMT, RATE, II,
 * ADDL, CMT semantics) and every rejected record. */
#include <math.h>

#include "core/init.h"
#include "core/dosing.h"
#include "../tap.h"

static rkin_dose dose(double t, double amt, double rate, int cmt, double ii,
                      int addl)
{
  rkin_dose d;
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
  bad(d, dose(200, 5, -1, 0, 0, 0), "rate = -1", "negative rate");
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
  ok(rkin_dosing_nevents(NULL) == 0 && rkin_dosing_events(NULL) == NULL,
     "NULL schedule has no events");
  done_testing();
  return exit_status();
}
