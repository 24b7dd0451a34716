/* popout.c - a population fit's tables as CSV text (parameters with SE and
 * RSE; observations with PRED, IPRED, residuals, endpoint, censoring,
 * occasion and the record's EBEs). */
#include "pop/popest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *s;
  size_t len, cap;
  int fail;
} sbuf;

static void put(sbuf *b, const char *fmt, ...)
{
  va_list ap;
  int n;
  if (b->fail) return;
  for (;;) {
    size_t room = b->cap - b->len;
    va_start(ap, fmt);
    n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->fail = 1;
      return;
    }
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    {
      size_t c = b->cap ? 2 * b->cap : 4096;
      char *t;
      while (c < b->len + (size_t)n + 1) c *= 2;
      t = realloc(b->s, c);
      if (!t) {
        b->fail = 1;
        return;
      }
      b->s = t;
      b->cap = c;
    }
  }
}

/* %.10g, but NA for a value that is not there (no SE). */
static void num(sbuf *b, double v, const char *sep)
{
  if (isfinite(v)) put(b, "%.10g%s", v, sep);
  else put(b, "NA%s", sep);
}

int rkin_popfit_table_csv(const rkin_popfit *fit, char **params,
                          char **obs, rkin_err *err)
{
  sbuf p = {0}, o = {0};
  size_t k, s, a;
  if (!fit || !params || !obs)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_popfit_table_csv: NULL "
                        "argument");
  *params = *obs = NULL;
  put(&p, "parameter,estimate,se,rse_pct\n");
  for (k = 0; fit->est_names && k < fit->n_est; k++) {
    put(&p, "%s,", fit->est_names[k]);
    num(&p, fit->est[k], ",");
    num(&p, fit->cov_status ? NAN : fit->se[k], ",");
    num(&p, fit->cov_status ? NAN : fit->rse[k], "\n");
  }
  if (!fit->est_names) {
    for (k = 0; k < fit->n_theta; k++) {
      put(&p, "THETA%zu,", k + 1);
      num(&p, fit->theta[k], ",NA,NA\n");
    }
  }
  put(&p, "OFV,");
  num(&p, fit->ofv, ",NA,NA\n");
  put(&p, "-2LL,");
  num(&p, fit->m2ll, ",NA,NA\n");
  /* NONMEM's names; ENDPOINT with several endpoints, CENS with censored
   * records, OCC with occasion etas, then the record's EBEs (ETA1, ...;
   * an occasion eta at the record's occasion) */
  put(&o, "ID,TIME,DV,PRED,IPRED,RES,IWRES,CWRES");
  if (fit->n_endpoints > 1 && fit->endpoint) put(&o, ",ENDPOINT");
  if (fit->cens) put(&o, ",CENS");
  if (fit->occ) put(&o, ",OCC");
  for (k = 0; fit->eta && k < fit->n_eta; k++) put(&o, ",ETA%zu", k + 1);
  put(&o, "\n");
  for (k = 0, s = 0; k < fit->n_obs; k++) {
    const double *e = fit->eta ? fit->eta + s * fit->n_eta : NULL;
    /* records of a subject are contiguous, subjects in dataset order */
    if (k && fit->id[k] != fit->id[k - 1] && s + 1 < fit->n_subj) {
      s++;
      e = fit->eta ? fit->eta + s * fit->n_eta : NULL;
    }
    if (fit->occ && fit->occ_eta)
      for (a = 0; a < fit->n_occ; a++)
        if (fit->occ_value[s * fit->n_occ + a] == fit->occ[k])
          e = fit->occ_eta + (s * fit->n_occ + a) * fit->n_eta;
    num(&o, fit->id[k], ",");
    num(&o, fit->time[k], ",");
    num(&o, fit->dv[k], ",");
    num(&o, fit->pred[k], ",");
    num(&o, fit->ipred[k], ",");
    num(&o, fit->res[k], ",");
    num(&o, fit->iwres[k], "");
    put(&o, ",");
    num(&o, fit->cwres[k], "");
    if (fit->n_endpoints > 1 && fit->endpoint)
      put(&o, ",%d", fit->endpoint[k]);
    if (fit->cens) put(&o, ",%d", fit->cens[k]);
    if (fit->occ) {
      put(&o, ",");
      num(&o, fit->occ[k], "");
    }
    for (a = 0; e && a < fit->n_eta; a++) {
      put(&o, ",");
      num(&o, e[a], "");
    }
    put(&o, "\n");
  }
  if (p.fail || o.fail || !p.s || !o.s) {
    free(p.s);
    free(o.s);
    return rkin_err_set(err, RKIN_ENOMEM, "population tables: out of "
                        "memory");
  }
  *params = p.s;
  *obs = o.s;
  return RKIN_OK;
}
