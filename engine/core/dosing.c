/* dosing.c - dose records (NONMEM AMT/RATE/II/ADDL/CMT) expanded into the
 * sorted event list the solver stops at. */
#include "core/dosing.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ADDL beyond this is almost certainly a typo and would allocate millions
 * of events; a real schedule has at most a few hundred. */
#define MAX_ADDL 1000000

struct rkin_dosing {
  rkin_dose *rec;
  size_t n_rec, cap_rec;
  rkin_event *ev;
  size_t n_ev, cap_ev;
  int epoch;        /* resets among the records so far */
  int needs_model;  /* a record with a modelled rate or duration */
};

rkin_dosing *rkin_dosing_new(void)
{
  return calloc(1, sizeof(rkin_dosing));
}

void rkin_dosing_free(rkin_dosing *d)
{
  if (!d) return;
  free(d->rec);
  free(d->ev);
  free(d);
}

rkin_dosing *rkin_dosing_copy(const rkin_dosing *d)
{
  rkin_dosing *c;
  if (!d) return NULL;
  c = rkin_dosing_new();
  if (!c) return NULL;
  c->rec = malloc((d->n_rec ? d->n_rec : 1) * sizeof *c->rec);
  c->ev = malloc((d->n_ev ? d->n_ev : 1) * sizeof *c->ev);
  if (!c->rec || !c->ev) {
    rkin_dosing_free(c);
    return NULL;
  }
  if (d->n_rec) memcpy(c->rec, d->rec, d->n_rec * sizeof *c->rec);
  if (d->n_ev) memcpy(c->ev, d->ev, d->n_ev * sizeof *c->ev);
  c->n_rec = c->cap_rec = d->n_rec;
  c->n_ev = c->cap_ev = d->n_ev;
  c->epoch = d->epoch;
  c->needs_model = d->needs_model;
  return c;
}

/* Order within one time and epoch: a reset, a steady state, infusion
 * ends, then starts, then boluses, so a back-to-back infusion never sees a
 * doubled rate and a bolus given at an output time is seen by that
 * output. */
static int kind_rank(rkin_event_kind k)
{
  switch (k) {
  case RKIN_EV_RESET: return 0;
  case RKIN_EV_SS: return 1;
  case RKIN_EV_INF_OFF: return 2;
  case RKIN_EV_INF_ON:
  case RKIN_EV_SS_ON: return 3;
  default: return 4;
  }
}

/* Total order (cmt and value break ties) so the sum of simultaneous doses
 * is added in the same order on every platform's qsort. */
static int event_cmp(const void *a, const void *b)
{
  const rkin_event *x = a, *y = b;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
  if (x->kind != y->kind) return kind_rank(x->kind) - kind_rank(y->kind);
  if (x->cmt != y->cmt) return x->cmt < y->cmt ? -1 : 1;
  if (x->value != y->value) return x->value < y->value ? -1 : 1;
  if (x->rec != y->rec) return x->rec < y->rec ? -1 : 1;
  return 0;
}

static int check_field(double v, const char *field, size_t idx,
                       rkin_err *err)
{
  if (!isfinite(v) || v < 0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "dose record %zu: %s = %g is invalid (expected a "
                        "finite number >= 0)", idx + 1, field, v);
  return RKIN_OK;
}

/* Record idx (0-based) after prev (NULL for the first). */
static int validate(const rkin_dose *prev, size_t idx, const rkin_dose *r,
                    rkin_err *err)
{
  if (check_field(r->time, "time", idx, err)
      || check_field(r->amount, "amount", idx, err))
    return RKIN_EINVAL;
  if (r->rate != -1 && r->rate != -2
      && check_field(r->rate, "rate", idx, err))
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: rate = %g is "
                        "invalid (expected 0 bolus, > 0 infusion rate, -1 "
                        "rate or -2 duration from the model)", idx + 1,
                        r->rate);
  /* (RATE -2 with a zero amount is a zero dose: it runs at rate 0 over
   * the model's D, its derivative by the amount the solver's to take) */
  if (r->rate == -1 && r->amount == 0 && r->evid != 2 && r->evid != 3
      && !(r->ss == 1 && r->ii == 0))
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: rate = %g "
                        "(modelled %s) needs an amount > 0", idx + 1,
                        r->rate, r->rate == -1 ? "rate" : "duration");
  if (r->cmt < 0)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: cmt = %d is "
                        "invalid (expected a state index >= 0)", idx + 1,
                        r->cmt);
  if (r->addl < 0 || r->addl > MAX_ADDL)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: addl = %d is "
                        "invalid (expected 0 to %d)", idx + 1, r->addl,
                        MAX_ADDL);
  if (r->addl > 0 && !(isfinite(r->ii) && r->ii > 0))
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: addl = %d needs "
                        "ii > 0 (the interval between repeats), got ii = %g",
                        idx + 1, r->addl, r->ii);
  if (r->evid < 0 || r->evid > 4)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: evid = %d is "
                        "invalid (expected 1 dose, 2 other event, 3 reset, "
                        "4 reset and dose)", idx + 1, r->evid);
  if ((r->evid == 2 || r->evid == 3) && (r->amount != 0 || r->rate != 0))
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: evid = %d "
                        "gives no dose, but amount = %g, rate = %g (expected "
                        "0; use evid 4 to reset and dose)", idx + 1,
                        r->evid, r->amount, r->rate);
  if (r->evid == 4 && r->amount == 0)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: evid = 4 (reset "
                        "and dose) needs an amount > 0", idx + 1);
  if (r->ss < 0 || r->ss > 2)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: ss = %d is "
                        "invalid (expected 0, 1 or 2)", idx + 1, r->ss);
  if (r->ss && (r->evid == 2 || r->evid == 3))
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: ss = %d needs a "
                        "dose record (evid 1 or 4), got evid = %d", idx + 1,
                        r->ss, r->evid);
  if (r->ss && !isfinite(r->ii))
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: ii = %g is "
                        "invalid", idx + 1, r->ii);
  if (r->ss && r->ii <= 0
      && !(r->ss == 1 && r->amount == 0 && (r->rate > 0 || r->rate == -1)))
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: ss = %d with "
                        "ii = %g needs ii > 0 (the dosing interval of the "
                        "steady state); only a constant infusion (ss = 1, "
                        "amount = 0, rate > 0 or -1) has ii = 0", idx + 1,
                        r->ss, r->ii);
  if (r->ss && r->ii > 0 && r->amount == 0)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: ss = %d with "
                        "ii = %g needs an amount > 0", idx + 1, r->ss,
                        r->ii);
  if (r->ss && r->ii > 0 && r->rate > 0
      && r->amount / r->rate / r->ii > MAX_ADDL)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: a steady-state "
                        "infusion lasting %g h with ii = %g overlaps more "
                        "than %d earlier doses", idx + 1,
                        r->amount / r->rate, r->ii, MAX_ADDL);
  if (prev && r->time < prev->time)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: time = %g is "
                        "earlier than record %zu's time %g (records must be "
                        "sorted by time)", idx + 1, r->time, idx,
                        prev->time);
  return RKIN_OK;
}

int rkin_dosing_ss_split(double dur, double ii, double *rem)
{
  double m = floor(dur / ii);
  *rem = dur - m * ii;
  if (*rem < 0) *rem = 0;
  /* A count beyond int (a record the checks refuse, counted before they
   * run) saturates instead of an undefined conversion. */
  return m < INT_MAX ? (int)m : INT_MAX;
}

/* Earlier doses of an SS infusion still running at its time: those k >= 1
 * intervals back (given at time + lag - k ii) with k ii < lag + duration. */
static int ss_running(const rkin_dose *r, const rkin_dose_eff *e)
{
  double rem;
  int m;
  if (!r->ss || !(r->ii > 0) || !(e->rate > 0) || e->amount == 0) return 0;
  m = rkin_dosing_ss_split(e->lag + e->dur, r->ii, &rem);
  /* Events are counted before the record is checked: more than MAX_ADDL
   * is refused by the check, so counting stops there (bounded time). */
  if (m > MAX_ADDL) return MAX_ADDL + 1;
  return rem > 0 ? m : m - 1;
}

int rkin_dosing_effective(const rkin_dose *r, size_t idx, const double *mods,
                          size_t n_states, rkin_dose_eff *e, rkin_err *err)
{
  size_t n = n_states, c = (size_t)r->cmt;
  double f = mods ? mods[c] : 1, rr;
  e->lag = mods ? mods[n + c] : 0;
  e->amount = f * r->amount;
  e->rate = e->dur = 0;
  if (r->rate > 0) {
    e->rate = r->rate;          /* F changes the duration, not the rate */
    e->dur = e->amount / r->rate;
  } else if (r->rate == -1) {
    rr = mods ? mods[2 * n + c] : NAN;
    if (!(rr > 0))
      return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: rate = -1 "
                          "(rate from the model), but the model defines no "
                          "rate for compartment %d", idx + 1, r->cmt + 1);
    e->rate = rr;
    e->dur = e->amount / rr;
  } else if (r->rate == -2) {
    rr = mods ? mods[3 * n + c] : NAN;
    if (!(rr > 0))
      return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: rate = -2 "
                          "(duration from the model), but the model defines "
                          "no duration for compartment %d", idx + 1,
                          r->cmt + 1);
    e->dur = rr;
    e->rate = e->amount / rr;
  }
  if (r->ss && r->ii > 0 && e->lag >= r->ii)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: steady state "
                        "with lag time %g h >= ii = %g h is not supported",
                        idx + 1, e->lag, r->ii);
  if (r->ss && r->ii > 0 && e->rate > 0
      && (e->lag + e->dur) / r->ii > MAX_ADDL)
    return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: a steady-state "
                        "infusion lasting %g h with ii = %g overlaps more "
                        "than %d earlier doses", idx + 1, e->dur, r->ii,
                        MAX_ADDL);
  return RKIN_OK;
}

/* The record's events (into out when not NULL), or their number; keep:
 * a zero effective amount still gives its events, with value 0 (see
 * rkin_dosing_expand_rec). */
static size_t expand(rkin_event *out, const rkin_dose *r, int rec,
                     int epoch, const rkin_dose_eff *e, int keep)
{
  size_t n = 0;
  int k, run = ss_running(r, e);
  double t0 = r->time;
#define PUSH(T, K, V, S)                                                  \
  do {                                                                    \
    if (out) {                                                            \
      out[n].time = (T);                                                  \
      out[n].kind = (K);                                                  \
      out[n].cmt = r->cmt;                                                \
      out[n].value = (V);                                                 \
      out[n].start = (S);                                                 \
      out[n].rec = rec;                                                   \
      out[n].epoch = epoch;                                               \
    }                                                                     \
    n++;                                                                  \
  } while (0)
  if (r->evid == 2) return 0;
  if (r->evid == 3 || r->evid == 4) PUSH(t0, RKIN_EV_RESET, 0, t0);
  if (r->ss) PUSH(t0, RKIN_EV_SS, 0, t0);
  /* Earlier doses of the steady state still running at its time. */
  for (k = 1; k <= run; k++) {
    PUSH(t0, RKIN_EV_SS_ON, e->rate, t0);
    PUSH(t0 + e->lag - k * r->ii + e->dur, RKIN_EV_INF_OFF, e->rate, t0);
  }
  /* A zero amount changes nothing; an infusion of it would last 0 h. The
   * lag delays every copy; `start` keeps the nominal time, so a reset
   * after it cancels a lagged dose still pending. */
  for (k = 0; e->amount != 0 && k <= r->addl; k++) {
    double tn = t0 + k * r->ii, t = tn + e->lag;
    if (e->rate > 0) {
      PUSH(t, RKIN_EV_INF_ON, e->rate, tn);
      PUSH(t + e->dur, RKIN_EV_INF_OFF, e->rate, tn);
    } else {
      PUSH(t, RKIN_EV_BOLUS, e->amount, tn);
    }
  }
  /* A zero amount whose derivative is wanted: events of value 0 at the
   * lagged times. A modelled duration D runs at rate 0 from t to t + D
   * (its rate's derivative F dAMT / D forces the sensitivities there); a
   * bolus, and an infusion of a given or modelled rate R (it lasts F AMT
   * / R = 0 h, the derivative of its length F dAMT / R, so its end
   * jumps the sensitivity by R F dAMT / R), jump by F dAMT at t. */
  for (k = 0; keep && e->amount == 0 && r->evid != 3 && !r->ss
              && k <= r->addl; k++) {
    double tn = t0 + k * r->ii, tl = tn + e->lag;
    if (r->rate == -2) {
      PUSH(tl, RKIN_EV_INF_ON, 0, tn);
      PUSH(tl + e->dur, RKIN_EV_INF_OFF, 0, tn);
    } else {
      PUSH(tl, RKIN_EV_BOLUS, 0, tn);
    }
  }
#undef PUSH
  return n;
}

/* Without a model: F = 1, no lag; a modelled rate or duration counts as
 * an infusion (its events are made per run, rkin_dosing_expand). */
static void plain(const rkin_dose *r, rkin_dose_eff *e)
{
  e->amount = r->amount;
  e->lag = 0;
  e->rate = r->rate > 0 ? r->rate : r->rate < 0 ? 1 : 0;
  e->dur = e->rate > 0 ? r->amount / e->rate : 0;
  if (r->rate < 0) e->dur = 0;
}

size_t rkin_dosing_count_events(const rkin_dose *r)
{
  rkin_dose_eff e;
  if (!r || r->addl < 0) return 0;
  plain(r, &e);
  return expand(NULL, r, 0, 0, &e, 0);
}

static int reserve(void **p, size_t *cap, size_t need, size_t elem)
{
  size_t c = *cap ? *cap : 8;
  void *q;
  if (need <= *cap) return RKIN_OK;
  while (c < need) c *= 2;
  q = realloc(*p, c * elem);
  if (!q) return RKIN_ENOMEM;
  *p = q;
  *cap = c;
  return RKIN_OK;
}

/* Restores the order after events were appended from n0 on: the new run
 * is sorted by itself, then merged with the old events later than its
 * first one (usually none: records come in time order), so each event is
 * sorted once and a merge touches only the overlap. */
static void settle(rkin_dosing *d, size_t n0)
{
  rkin_event *ev = d->ev, *tmp;
  size_t n = d->n_ev, i, lo = 0, hi = n0, a = 0, j = n0, w, tail;
  if (n == n0) return;   /* nothing new (and ev may be NULL) */
  for (i = n0 + 1; i < n && event_cmp(&ev[i - 1], &ev[i]) <= 0; i++) {}
  if (i < n) qsort(ev + n0, n - n0, sizeof *ev, event_cmp);
  if (n0 == 0 || event_cmp(&ev[n0 - 1], &ev[n0]) <= 0) return;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (event_cmp(&ev[mid], &ev[n0]) <= 0) lo = mid + 1;
    else hi = mid;
  }
  tail = n0 - lo;
  if (!(tmp = malloc(tail * sizeof *tmp))) {
    qsort(ev + lo, n - lo, sizeof *ev, event_cmp);  /* no room to merge */
    return;
  }
  memcpy(tmp, ev + lo, tail * sizeof *tmp);
  for (w = lo; a < tail; w++)
    ev[w] = j < n && event_cmp(&ev[j], &tmp[a]) < 0 ? ev[j++] : tmp[a++];
  free(tmp);
}

int rkin_dosing_add_many(rkin_dosing *d, const rkin_dose *doses, size_t n,
                         size_t *bad, rkin_err *err)
{
  size_t i, n0, total = 0;
  if (bad) *bad = 0;
  if (!d || (!doses && n))
    return rkin_err_set(err, RKIN_EINVAL,
                        "rkin_dosing_add: NULL argument");
  for (i = 0; i < n; i++) {
    const rkin_dose *prev = i ? &doses[i - 1]
                              : d->n_rec ? &d->rec[d->n_rec - 1] : NULL;
    size_t ne;
    int rc = validate(prev, d->n_rec + i, &doses[i], err);
    if (rc) {
      if (bad) *bad = i;
      return rc;
    }
    ne = rkin_dosing_count_events(&doses[i]);
    if (ne > RKIN_DOSING_MAX_EVENTS - d->n_ev - total) {
      if (bad) *bad = i;
      return rkin_err_set(err, RKIN_ERANGE, "dose record %zu: ADDL = %d "
                          "expands to %zu events, more than the %d a "
                          "schedule may hold (with the %zu before it); "
                          "check ADDL and II", d->n_rec + i + 1,
                          doses[i].addl, ne, RKIN_DOSING_MAX_EVENTS,
                          d->n_ev + total);
    }
    total += ne;
  }
  if (reserve((void **)&d->rec, &d->cap_rec, d->n_rec + n, sizeof *d->rec)
      || reserve((void **)&d->ev, &d->cap_ev, d->n_ev + total,
                 sizeof *d->ev))
    return rkin_err_set(err, RKIN_ENOMEM, "dose records %zu to %zu: out of "
                        "memory for %zu events", d->n_rec + 1, d->n_rec + n,
                        total);
  n0 = d->n_ev;
  for (i = 0; i < n; i++) {
    const rkin_dose *dose = &doses[i];
    rkin_dose_eff e;
    if (dose->evid == 3 || dose->evid == 4 || dose->ss == 1) d->epoch++;
    d->rec[d->n_rec++] = *dose;
    if (dose->rate < 0) {
      /* made per run with the model's rate or duration */
      d->needs_model = 1;
      continue;
    }
    plain(dose, &e);
    /* no event array when nothing expands (NULL + 0 is undefined) */
    d->n_ev += expand(d->ev ? d->ev + d->n_ev : NULL, dose,
                      (int)d->n_rec - 1, d->epoch, &e, 0);
  }
  settle(d, n0);
  return RKIN_OK;
}

int rkin_dosing_add(rkin_dosing *d, const rkin_dose *dose, rkin_err *err)
{
  if (!d || !dose)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_dosing_add: NULL argument");
  return rkin_dosing_add_many(d, dose, 1, NULL, err);
}

int rkin_dosing_check(const rkin_dosing *d, size_t n_states, rkin_err *err)
{
  size_t i;
  for (i = 0; d && i < d->n_rec; i++)
    if ((size_t)d->rec[i].cmt >= n_states)
      return rkin_err_set(err, RKIN_EINVAL, "dose record %zu: cmt = %d is "
                          "not a state of the model (expected 0 to %zu)",
                          i + 1, d->rec[i].cmt, n_states - 1);
  return RKIN_OK;
}

size_t rkin_dosing_nrecords(const rkin_dosing *d)
{
  return d ? d->n_rec : 0;
}

const rkin_dose *rkin_dosing_record(const rkin_dosing *d, size_t i)
{
  return d && i < d->n_rec ? &d->rec[i] : NULL;
}

size_t rkin_dosing_nevents(const rkin_dosing *d)
{
  return d ? d->n_ev : 0;
}

const rkin_event *rkin_dosing_events(const rkin_dosing *d)
{
  return d ? d->ev : NULL;
}

int rkin_dosing_needs_model(const rkin_dosing *d)
{
  return d ? d->needs_model : 0;
}

int rkin_dosing_expand(const rkin_dosing *d, const double *mods,
                       size_t n_states, rkin_event **ev, size_t *cap,
                       size_t *n_ev, rkin_err *err)
{
  return rkin_dosing_expand_rec(d, mods, 0, n_states, NULL, ev, cap, n_ev,
                                err);
}

int rkin_dosing_expand_rec(const rkin_dosing *d, const double *mods,
                           size_t stride, size_t n_states,
                           const unsigned char *keep, rkin_event **ev,
                           size_t *cap, size_t *n_ev, rkin_err *err)
{
  size_t i, total = 0;
  int epoch = 0, rc;
  rkin_dose_eff e;
  *n_ev = 0;
  for (i = 0; d && i < d->n_rec; i++) {
    if ((rc = rkin_dosing_effective(&d->rec[i], i,
                                    mods ? mods + i * stride : NULL,
                                    n_states, &e, err)))
      return rc;
    total += expand(NULL, &d->rec[i], 0, 0, &e, keep && keep[i]);
    if (total > RKIN_DOSING_MAX_EVENTS)
      return rkin_err_set(err, RKIN_ERANGE, "dose record %zu: the schedule "
                          "expands to more than %d events", i + 1,
                          RKIN_DOSING_MAX_EVENTS);
  }
  if (reserve((void **)ev, cap, total ? total : 1, sizeof **ev))
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory for %zu dose "
                        "events", total);
  for (i = 0; d && i < d->n_rec; i++) {
    const rkin_dose *r = &d->rec[i];
    if (r->evid == 3 || r->evid == 4 || r->ss == 1) epoch++;
    rkin_dosing_effective(r, i, mods ? mods + i * stride : NULL, n_states,
                          &e, NULL);
    *n_ev += expand(*ev + *n_ev, r, (int)i, epoch, &e, keep && keep[i]);
  }
  qsort(*ev, *n_ev, sizeof **ev, event_cmp);
  return RKIN_OK;
}
