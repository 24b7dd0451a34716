/* data.c - reading NONMEM-style CSV datasets into subjects, segments,
 * dosing schedules and observations. Records come from the project's CSV
 * tokenizer (core/csv.h). */
#include "pop/data.h"
#include "core/grow.h"

#define MOD_FIELD(kind) ((kind) == RKIN_MOD_RATE ? "rate" : "duration")

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/csv.h"

/* The standard columns; anything else is a covariate. */
enum { C_ID, C_TIME, C_DV, C_AMT, C_RATE, C_EVID, C_MDV, C_CMT, C_II,
       C_ADDL, C_SS, C_DVID, C_CENS, C_LLOQ, C_NSTD };
static const char *const std_names[C_NSTD] = {
  "ID", "TIME", "DV", "AMT", "RATE", "EVID", "MDV", "CMT", "II", "ADDL", "SS",
  "DVID", "CENS", "LLOQ"
};

typedef struct {
  rkin_data_subject pub;        /* first: the public view */
  double *time, *dv, *cov;
  int *cmt, *dvid, *output, *obs_rec;
  int *evid, *mdv;              /* opts->simulate == 2 only */
  int *cens;                    /* with a CENS or LLOQ column only */
  double *limit;
  double *lloq;                 /* the LLOQ of every observation */
  size_t cap_cens, n_cens;
  size_t *obs_line, cap_obs;
  rkin_data_segment *seg;
  size_t cap_seg;
  size_t *dose_line;            /* per dose record, for check_states */
  int *dose_cmt;
  size_t n_dose, cap_dose;
  /* every record with its covariates (only when the dataset has some) */
  double *rec_time, *rec_cov;
  int *rec_seg, *rec_dose;
  size_t *rec_line, cap_rec, cap_rec_cov;
} subject;

struct rkin_data {
  char *name;                   /* file name for messages */
  subject **subj;
  size_t n_subj, cap_subj;
  size_t n_cov;
  char **cov_name;
  int *cov_col;                 /* 1-based column of each covariate */
};

/* Parsing context: where we are, for messages. */
typedef struct {
  const char *file;
  size_t line;
  const rkin_data_opts *opts;
  int col[C_NSTD];              /* field index of each standard column, -1 */
  size_t n_fields;
  char **hdr;                   /* header names, n_fields */
  int *cov_of_field;            /* covariate index per field, or -1 */
  /* the current segment's dose records, added to its schedule in one go
   * when it ends (one sort of its events) */
  rkin_dose *pend;
  size_t *pend_line, n_pend, cap_pend;
  size_t n_events;              /* expanded dose events so far, all
                                   subjects */
  /* subject IDs seen: open addressing, slot = subject index + 1 */
  size_t *id_slot, id_cap;
} ctx;

static char *dupstr(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void subject_free(subject *s)
{
  size_t k;
  if (!s) return;
  for (k = 0; k < s->pub.n_seg; k++) rkin_dosing_free(s->seg[k].dosing);
  free(s->time);
  free(s->dv);
  free(s->cov);
  free(s->cmt);
  free(s->dvid);
  free(s->output);
  free(s->obs_line);
  free(s->obs_rec);
  free(s->evid);
  free(s->mdv);
  free(s->cens);
  free(s->limit);
  free(s->lloq);
  free(s->seg);
  free(s->dose_line);
  free(s->dose_cmt);
  free(s->rec_time);
  free(s->rec_cov);
  free(s->rec_seg);
  free(s->rec_dose);
  free(s->rec_line);
  free(s);
}

void rkin_data_free(rkin_data *d)
{
  size_t i;
  if (!d) return;
  for (i = 0; i < d->n_subj; i++) subject_free(d->subj[i]);
  for (i = 0; i < d->n_cov; i++) free(d->cov_name[i]);
  free(d->subj);
  free(d->cov_name);
  free(d->cov_col);
  free(d->name);
  free(d);
}

static int is_missing(const char *s)
{
  return s[0] == 0 || (s[0] == '.' && s[1] == 0);
}

/* A numeric cell: 1 and *v when present, 0 when missing, negative on a
 * non-numeric or non-finite cell (message names file, line, column). */
static int cell_number(const ctx *c, char **f, int field, double *v,
                       rkin_err *err)
{
  const char *s;
  char *end;
  if (field < 0) return 0;
  s = f[field];
  if (is_missing(s)) return 0;
  errno = 0;
  *v = strtod(s, &end);
  if (end == s || *end != 0 || !isfinite(*v))
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column %s: '%s' is not a "
                        "number (expected a finite number, '.' or an empty "
                        "cell for missing)", c->file, c->line,
                        c->hdr[field], s);
  return 1;
}

/* An integer-valued cell; `def` when missing. */
static int cell_int(const ctx *c, char **f, int field, int def, int *out,
                    rkin_err *err)
{
  double v = 0;
  int rc = cell_number(c, f, field, &v, err);
  if (rc < 0) return rc;
  if (rc == 0) {
    *out = def;
    return 0;
  }
  if (v != floor(v) || fabs(v) > 1e9)
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column %s: %g is not an "
                        "integer", c->file, c->line, c->hdr[field], v);
  *out = (int)v;
  return 0;
}

/* CMT: a 1-based number or, with state names, a name; 0-based result,
 * -1 when missing. A name of an output (opts->output_names) gives -1 and
 * the output's index in *output (else -1). */
static int cell_cmt(const ctx *c, char **f, int *out, int *output,
                    rkin_err *err)
{
  int field = c->col[C_CMT];
  const rkin_data_opts *o = c->opts;
  const char *s;
  char *end;
  double v;
  size_t k;
  *out = -1;
  *output = -1;
  if (field < 0 || is_missing(f[field])) return 0;
  s = f[field];
  v = strtod(s, &end);
  if (end != s && *end == 0 && isfinite(v)) {
    if (v != floor(v) || v <= 0 || v > 1e9)
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column CMT: %s is not "
                          "supported (expected a compartment number >= 1; "
                          "compartment on/off records are not supported)",
                          c->file, c->line, s);
    *out = (int)v - 1;
    return 0;
  }
  for (k = 0; o && o->state_names && k < o->n_states; k++)
    if (o->state_names[k] && strcasecmp(o->state_names[k], s) == 0) {
      *out = (int)k;
      return 0;
    }
  for (k = 0; o && o->output_names && k < o->n_outputs; k++)
    if (o->output_names[k] && strcasecmp(o->output_names[k], s) == 0) {
      *output = (int)k;
      return 0;
    }
  return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column CMT: '%s' is neither "
                      "a compartment number nor a state or output name of "
                      "the model", c->file, c->line, s);
}

static int cmt_message(rkin_err *err, const char *file, size_t line, int cmt,
                       size_t n_states, const char *const *names)
{
  char list[256] = "";
  size_t k, len = 0;
  for (k = 0; names && k < n_states && len + 2 < sizeof list; k++) {
    int w = snprintf(list + len, sizeof list - len, "%s%zu=%s",
                     k ? ", " : " (", k + 1, names[k] ? names[k] : "?");
    if (w < 0) break;
    len += (size_t)w;
  }
  if (names && n_states && len + 2 < sizeof list) strcat(list, ")");
  return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column CMT: dose to "
                      "compartment %d, but the model has %zu states%s",
                      file, line, cmt + 1, n_states, list);
}

static subject *subject_new(double id, size_t line, size_t n_cov)
{
  subject *s = calloc(1, sizeof *s);
  size_t k;
  if (!s) return NULL;
  s->cov = malloc((n_cov ? n_cov : 1) * sizeof *s->cov);
  if (!s->cov) {
    free(s);
    return NULL;
  }
  for (k = 0; k < n_cov; k++) s->cov[k] = NAN;
  s->pub.id = id;
  s->pub.line = line;
  return s;
}

static int start_segment(subject *s, double t0)
{
  rkin_data_segment *g;
  if (rkin_grow((void **)&s->seg, &s->cap_seg, s->pub.n_seg + 1, sizeof *s->seg))
    return RKIN_ENOMEM;
  g = &s->seg[s->pub.n_seg];
  g->dosing = rkin_dosing_new();
  if (!g->dosing) return RKIN_ENOMEM;
  g->t0 = t0;
  g->first_obs = s->pub.n_obs;
  g->n_obs = 0;
  s->pub.n_seg++;
  return RKIN_OK;
}

/* sel: the dataset selects outputs (a DVID column or output names given);
 * otherwise dvid and output stay NULL (no allocation per subject). n_rec:
 * the dose records of its segment before it (record order). */
static int add_obs(subject *s, double t, double dv, int cmt, int sel,
                   int dvid, int output, size_t line, size_t n_rec, int all,
                   int evid, int mdv)
{
  size_t n = s->pub.n_obs, cap = s->cap_obs;
  if (n + 1 > cap) {
    size_t c1 = cap, c2 = cap, c3 = cap, c4 = cap, c5 = cap, c6 = cap,
           c7 = cap, c8 = cap, c9 = cap;
    if (all && (rkin_grow((void **)&s->evid, &c8, n + 1, sizeof *s->evid)
                || rkin_grow((void **)&s->mdv, &c9, n + 1, sizeof *s->mdv)))
      return RKIN_ENOMEM;
    if (rkin_grow((void **)&s->time, &c1, n + 1, sizeof *s->time)
        || rkin_grow((void **)&s->dv, &c2, n + 1, sizeof *s->dv)
        || rkin_grow((void **)&s->cmt, &c3, n + 1, sizeof *s->cmt)
        || rkin_grow((void **)&s->obs_line, &c4, n + 1, sizeof *s->obs_line)
        || rkin_grow((void **)&s->obs_rec, &c7, n + 1, sizeof *s->obs_rec)
        || (sel && (rkin_grow((void **)&s->dvid, &c5, n + 1, sizeof *s->dvid)
                    || rkin_grow((void **)&s->output, &c6, n + 1,
                            sizeof *s->output))))
      return RKIN_ENOMEM;
    s->cap_obs = c1;
  }
  s->time[n] = t;
  s->dv[n] = dv;
  s->cmt[n] = cmt;
  if (sel) {
    s->dvid[n] = dvid;
    s->output[n] = output;
  }
  s->obs_line[n] = line;
  s->obs_rec[n] = (int)n_rec;
  if (all) {
    s->evid[n] = evid;
    s->mdv[n] = mdv;
  }
  s->pub.n_obs++;
  s->seg[s->pub.n_seg - 1].n_obs++;
  return RKIN_OK;
}

/* The censoring of the observation just added (datasets with a CENS or
 * LLOQ column); the other rows of a simulate == 2 dataset get 0. */
static int add_cens(subject *s, int cens, double limit, double lloq)
{
  size_t n = s->pub.n_obs, c1 = s->cap_cens, c2 = s->cap_cens, k;
  size_t c3 = s->cap_cens;
  if (rkin_grow((void **)&s->cens, &c1, n, sizeof *s->cens)
      || rkin_grow((void **)&s->limit, &c2, n, sizeof *s->limit)
      || rkin_grow((void **)&s->lloq, &c3, n, sizeof *s->lloq))
    return RKIN_ENOMEM;
  s->cap_cens = c1;
  /* rows added without censoring since (MDV 1 rows of simulate 2) */
  for (k = s->n_cens; k + 1 < n; k++) {
    s->cens[k] = 0;
    s->limit[k] = NAN;
    s->lloq[k] = NAN;
  }
  s->cens[n - 1] = cens;
  s->limit[n - 1] = limit;
  s->lloq[n - 1] = lloq;
  s->n_cens = n;
  return RKIN_OK;
}

/* Queues a dose record of the current segment (checked for the event
 * limit here, before anything is expanded). */
static int add_dose(ctx *c, subject *s, const rkin_dose *dose,
                    rkin_err *err)
{
  size_t n = s->n_dose, cap = s->cap_dose, ne;
  ne = rkin_dosing_count_events(dose);
  if (ne > RKIN_DATA_MAX_EVENTS - c->n_events)
    return rkin_err_set(err, RKIN_ERANGE, "%s:%zu: this dose record (ADDL "
                        "%d%s) expands to %zu events, and the dataset would "
                        "then hold %zu: the limit is %d events (check ADDL "
                        "and II)", c->file, c->line, dose->addl,
                        dose->rate > 0 ? ", an infusion: 2 events each" : "",
                        ne, c->n_events + ne, RKIN_DATA_MAX_EVENTS);
  if (n + 1 > cap) {
    size_t c1 = cap, c2 = cap;
    if (rkin_grow((void **)&s->dose_line, &c1, n + 1, sizeof *s->dose_line)
        || rkin_grow((void **)&s->dose_cmt, &c2, n + 1, sizeof *s->dose_cmt))
      return rkin_err_set(err, RKIN_ENOMEM, "%s:%zu: out of memory",
                          c->file, c->line);
    s->cap_dose = c1;
  }
  if (c->n_pend + 1 > c->cap_pend) {
    size_t c1 = c->cap_pend, c2 = c->cap_pend;
    if (rkin_grow((void **)&c->pend, &c1, c->n_pend + 1, sizeof *c->pend)
        || rkin_grow((void **)&c->pend_line, &c2, c->n_pend + 1,
                sizeof *c->pend_line))
      return rkin_err_set(err, RKIN_ENOMEM, "%s:%zu: out of memory",
                          c->file, c->line);
    c->cap_pend = c1;
  }
  c->pend[c->n_pend] = *dose;
  c->pend_line[c->n_pend++] = c->line;
  c->n_events += ne;
  s->dose_line[n] = c->line;
  s->dose_cmt[n] = dose->cmt;
  s->n_dose++;
  return RKIN_OK;
}

/* Adds the queued doses to the current segment's schedule. */
static int flush_doses(ctx *c, subject *s, rkin_err *err)
{
  size_t bad;
  int rc;
  if (!c->n_pend) return RKIN_OK;
  rc = rkin_dosing_add_many(s->seg[s->pub.n_seg - 1].dosing, c->pend,
                            c->n_pend, &bad, err);
  if (rc) return rkin_err_prefix(err, "%s:%zu: ", c->file, c->pend_line[bad]);
  c->n_pend = 0;
  return RKIN_OK;
}

/* Fills the public view once the subject's arrays stop moving. */
static int finish_subject(ctx *c, subject *s, rkin_err *err)
{
  int rc = flush_doses(c, s, err);
  if (rc) return rc;
  /* trailing rows without censoring (MDV 1 rows of simulate 2) */
  if ((c->col[C_CENS] >= 0 || c->col[C_LLOQ] >= 0)
      && s->n_cens < s->pub.n_obs) {
    size_t k, n = s->pub.n_obs, c1 = s->cap_cens, c2 = s->cap_cens;
    size_t c3 = s->cap_cens;
    if (rkin_grow((void **)&s->cens, &c1, n, sizeof *s->cens)
        || rkin_grow((void **)&s->limit, &c2, n, sizeof *s->limit)
        || rkin_grow((void **)&s->lloq, &c3, n, sizeof *s->lloq))
      return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", c->file);
    s->cap_cens = c1;
    for (k = s->n_cens; k < n; k++) {
      s->cens[k] = 0;
      s->limit[k] = NAN;
      s->lloq[k] = NAN;
    }
    s->n_cens = n;
  }
  s->pub.time = s->time;
  s->pub.dv = s->dv;
  s->pub.cmt = s->cmt;
  s->pub.dvid = s->dvid;
  s->pub.output = s->output;
  s->pub.obs_line = s->obs_line;
  s->pub.obs_rec = s->obs_rec;
  s->pub.evid = s->evid;
  s->pub.mdv = s->mdv;
  s->pub.cens = s->cens;
  s->pub.limit = s->limit;
  s->pub.lloq = s->lloq;
  s->pub.cov = s->cov;
  s->pub.seg = s->seg;
  s->pub.rec_time = s->rec_time;
  s->pub.rec_cov = s->rec_cov;
  s->pub.rec_seg = s->rec_seg;
  s->pub.rec_dose = s->rec_dose;
  s->pub.rec_line = s->rec_line;
  s->pub.cov_locf = c->opts && c->opts->cov_locf;
  if (s->pub.n_obs == 0 && !(c->opts && c->opts->simulate))
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: subject ID %g has no "
                        "observations (every subject needs at least one "
                        "record with EVID 0 and MDV 0)", c->file,
                        s->pub.line, s->pub.id);
  return RKIN_OK;
}

/* Header: maps standard columns, collects covariates. */
static int parse_header(ctx *c, rkin_data *d, char **f, size_t n,
                        rkin_err *err)
{
  size_t i, k;
  static const char *const need[3] = {"ID", "TIME", "DV"};
  for (k = 0; k < C_NSTD; k++) c->col[k] = -1;
  c->n_fields = n;
  c->hdr = calloc(n, sizeof *c->hdr);
  c->cov_of_field = malloc(n * sizeof *c->cov_of_field);
  d->cov_name = calloc(n, sizeof *d->cov_name);
  d->cov_col = calloc(n, sizeof *d->cov_col);
  if (!c->hdr || !c->cov_of_field || !d->cov_name || !d->cov_col)
    return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", c->file);
  for (i = 0; i < n; i++) {
    c->cov_of_field[i] = -1;
    c->hdr[i] = dupstr(f[i]);
    if (!c->hdr[i])
      return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", c->file);
    if (f[i][0] == 0)
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column %zu has an "
                          "empty name in the header", c->file, c->line,
                          i + 1);
    for (k = 0; k < i; k++)
      if (strcasecmp(c->hdr[k], f[i]) == 0)
        return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column '%s' appears "
                            "twice in the header (columns %zu and %zu)",
                            c->file, c->line, f[i], k + 1, i + 1);
    for (k = 0; k < C_NSTD; k++)
      if (strcasecmp(f[i], std_names[k]) == 0) break;
    if (k < C_NSTD) {
      c->col[k] = (int)i;
    } else {
      c->cov_of_field[i] = (int)d->n_cov;
      d->cov_col[d->n_cov] = (int)i + 1;
      d->cov_name[d->n_cov] = dupstr(f[i]);
      if (!d->cov_name[d->n_cov++])
        return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", c->file);
    }
  }
  for (k = 0; k < 3; k++)
    if (c->col[k] < 0 && !(k == C_DV && c->opts && c->opts->simulate))
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: the header has no %s "
                          "column (required: ID, TIME, DV; found: %zu "
                          "columns starting with '%s')", c->file, c->line,
                          need[k], n, c->hdr[0]);
  return RKIN_OK;
}

typedef struct {
  double id, time, dv, amt, rate, ii, ss;
  int has_dv, has_amt, evid, mdv, cmt, addl;
  int dvid, cmt_output;   /* DVID or -1; output CMT names, or -1 */
  int cens, cens_given;   /* CENS (0, 1, -1; 0 when missing) */
  double lloq;            /* LLOQ, NaN when missing */
} row;

static int read_row(const ctx *c, char **f, row *r, rkin_err *err)
{
  int rc, has_evid;
  double v;
  memset(r, 0, sizeof *r);
  rc = cell_number(c, f, c->col[C_ID], &r->id, err);
  if (rc < 0) return rc;
  if (rc == 0)
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column ID: missing "
                        "(every record needs a subject ID)", c->file,
                        c->line);
  rc = cell_number(c, f, c->col[C_TIME], &r->time, err);
  if (rc < 0) return rc;
  if (rc == 0)
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column TIME: missing "
                        "(every record needs a time, h)", c->file, c->line);
  if ((r->has_dv = cell_number(c, f, c->col[C_DV], &r->dv, err)) < 0
      || (r->has_amt = cell_number(c, f, c->col[C_AMT], &r->amt, err)) < 0
      || cell_number(c, f, c->col[C_RATE], &r->rate, err) < 0
      || cell_number(c, f, c->col[C_II], &r->ii, err) < 0
      || cell_number(c, f, c->col[C_SS], &r->ss, err) < 0
      || cell_int(c, f, c->col[C_MDV], 0, &r->mdv, err) < 0
      || cell_int(c, f, c->col[C_ADDL], 0, &r->addl, err) < 0
      || cell_cmt(c, f, &r->cmt, &r->cmt_output, err) < 0
      || cell_int(c, f, c->col[C_DVID], -1, &r->dvid, err) < 0
      || cell_int(c, f, c->col[C_CENS], 0, &r->cens, err) < 0)
    return err ? err->code : RKIN_EINVAL;
  r->lloq = NAN;
  if (cell_number(c, f, c->col[C_LLOQ], &r->lloq, err) < 0)
    return err ? err->code : RKIN_EINVAL;
  if (r->cens < -1 || r->cens > 1)
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column CENS: %d is not "
                        "supported (expected 0 quantified, 1 below the "
                        "limit: DV or LLOQ is the LLOQ, -1 above the limit: "
                        "DV is the ULOQ)", c->file, c->line, r->cens);
  r->cens_given = c->col[C_CENS] >= 0 && !is_missing(f[c->col[C_CENS]]);
  if (c->col[C_LLOQ] >= 0 && !isnan(r->lloq) && !(r->lloq > 0))
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column LLOQ: %g is not "
                        "a quantification limit (expected > 0, or '.' for "
                        "none)", c->file, c->line, r->lloq);
  if (r->mdv != 0 && r->mdv != 1)
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column MDV: %d is not "
                        "supported (expected 0: DV is an observation, 1: "
                        "no observation)", c->file, c->line, r->mdv);
  if (c->col[C_DVID] >= 0 && !is_missing(f[c->col[C_DVID]]) && r->dvid < 1)
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column DVID: %d is not "
                        "an observation type (expected an integer >= 1)",
                        c->file, c->line, r->dvid);
  has_evid = cell_number(c, f, c->col[C_EVID], &v, err);
  if (has_evid < 0) return has_evid;
  if (has_evid) {
    if (v != floor(v) || v < 0 || v > 4)
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column EVID: %g is not "
                          "supported (expected 0 observation, 1 dose, 2 "
                          "other, 3 reset, 4 reset and dose)", c->file,
                          c->line, v);
    r->evid = (int)v;
  } else {
    r->evid = r->has_amt && r->amt > 0 ? 1 : r->mdv == 1 ? 2 : 0;
  }
  if (r->ss != 0 && r->ss != 1 && r->ss != 2)
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column SS: %g is not "
                        "supported (expected 0, 1 steady state, 2 steady "
                        "state added)", c->file, c->line, r->ss);
  if (r->rate < 0 && r->rate != -1 && r->rate != -2)
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column RATE: %g is not "
                        "supported (expected 0 bolus, > 0 infusion rate, -1 "
                        "rate or -2 duration from the model)", c->file,
                        c->line, r->rate);
  return RKIN_OK;
}

/* DVID past the outputs: the message lists what each DVID selects. */
static int dvid_message(rkin_err *err, const ctx *c, int dvid)
{
  char list[256] = "";
  size_t k, len = 0;
  for (k = 0; k < c->opts->n_outputs && len + 2 < sizeof list; k++) {
    int w = snprintf(list + len, sizeof list - len, "%s%zu=%s",
                     k ? ", " : "", k + 1, c->opts->output_names[k]
                                           ? c->opts->output_names[k] : "?");
    if (w < 0) break;
    len += (size_t)w;
  }
  return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column DVID: %d, but the "
                      "model has %zu outputs (DVID %s)", c->file, c->line,
                      dvid, c->opts->n_outputs, list);
}

/* Applies one data row to the current subject. */
static int apply_row(ctx *c, subject *s, const row *r, double *last_t,
                     rkin_err *err)
{
  int reset = r->evid == 3 || r->evid == 4, rc;
  int all = c->opts && c->opts->simulate == 2;   /* every record a row */
  if (reset || s->pub.n_seg == 0) {
    if ((rc = flush_doses(c, s, err))) return rc;
    rc = start_segment(s, r->time);
    if (rc) return rkin_err_set(err, rc, "%s: out of memory", c->file);
  } else if (r->time < *last_t) {
    return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column TIME: %g is "
                        "earlier than the previous record's %g in subject ID "
                        "%g (times must not decrease within a subject "
                        "unless EVID 3 or 4 resets)", c->file, c->line,
                        r->time, *last_t, r->id);
  }
  *last_t = r->time;
  if (r->evid == 1 || r->evid == 4) {
    rkin_dose dose;
    memset(&dose, 0, sizeof dose);
    if (!r->has_amt)
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column AMT: missing "
                          "on a dose record (EVID %d)", c->file, c->line,
                          r->evid);
    if (r->evid == 4 && r->amt == 0)
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column AMT: 0 on a "
                          "reset-and-dose record (EVID 4 needs an amount > "
                          "0; use EVID 3 for a reset alone)", c->file,
                          c->line);
    dose.time = r->time;
    dose.amount = r->amt;
    dose.rate = r->rate;
    if (r->cmt_output >= 0)
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column CMT: '%s' is "
                          "an output of the model; a dose record (EVID %d) "
                          "needs a state", c->file, c->line,
                          c->opts->output_names[r->cmt_output], r->evid);
    /* Compartment 1 by default only when the model has nothing else. */
    if (r->cmt < 0 && !(c->opts && c->opts->n_states == 1))
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column CMT: %s on a "
                          "dose record (EVID %d): give the compartment the "
                          "dose goes into (a number from 1, or a state "
                          "name)", c->file, c->line,
                          c->col[C_CMT] < 0 ? "no CMT column, so no "
                          "compartment" : "blank", r->evid);
    dose.cmt = r->cmt < 0 ? 0 : r->cmt;
    dose.ii = r->ii;
    dose.addl = r->addl;
    dose.ss = (int)r->ss;
    dose.evid = 1;   /* EVID 4's reset: the segment starts from zero */
    if (c->opts && c->opts->n_states
        && (size_t)dose.cmt >= c->opts->n_states)
      return cmt_message(err, c->file, c->line, dose.cmt, c->opts->n_states,
                         c->opts->state_names);
    rc = add_dose(c, s, &dose, err);
    if (rc) return rc;
  } else if (r->evid == 0 && r->mdv != 1) {
    int cens = r->cens;
    double limit = NAN, dv = r->has_dv ? r->dv : NAN;
    /* Censoring (nlmixr2's CENS; NONMEM's LLOQ column): CENS 1 / -1
     * censor at LLOQ when given, else at DV; without CENS a DV below the
     * LLOQ (or a missing DV with an LLOQ) is below it. */
    if (!r->cens_given && !isnan(r->lloq)
        && (!r->has_dv || r->dv < r->lloq))
      cens = 1;
    if (cens == 1 && !isnan(r->lloq)) limit = r->lloq;
    else if (cens != 0 && r->has_dv) limit = r->dv;
    if (cens != 0 && isnan(limit))
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column DV: missing on "
                          "a censored record (CENS %d) without an LLOQ: "
                          "give the limit in DV (or in an LLOQ column)",
                          c->file, c->line, cens);
    if (cens != 0 && !r->has_dv) dv = limit;
    if (!r->has_dv && cens == 0 && !(c->opts && c->opts->simulate))
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column DV: missing on "
                          "an observation record (set MDV = 1 or EVID = 2 "
                          "to skip it)", c->file, c->line);
    int output = r->cmt_output;
    if (r->dvid >= 1 && c->opts && c->opts->n_outputs) {
      if ((size_t)r->dvid > c->opts->n_outputs)
        return dvid_message(err, c, r->dvid);
      if (output >= 0 && output != r->dvid - 1)
        return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: columns CMT and "
                            "DVID disagree: CMT names output '%s', DVID %d "
                            "selects '%s'", c->file, c->line,
                            c->opts->output_names[output], r->dvid,
                            c->opts->output_names[r->dvid - 1]);
      output = r->dvid - 1;
    }
    /* a simulation dataset's record without DV is a prediction time */
    rc = add_obs(s, r->time, dv, r->cmt,
                 c->col[C_DVID] >= 0 || (c->opts && c->opts->n_outputs),
                 r->dvid, output, c->line, c->n_pend, all, 0, 0);
    if (!rc && (c->col[C_CENS] >= 0 || c->col[C_LLOQ] >= 0))
      rc = add_cens(s, cens, limit,
                    !isnan(r->lloq) ? r->lloq : cens == 1 ? limit : NAN);
    if (rc) return rkin_err_set(err, rc, "%s: out of memory", c->file);
  }
  if (all && !(r->evid == 0 && r->mdv != 1)) {
    /* Every other record is a row too (MDV 1), after its own dose: a
     * dose record's row shows the amounts after it, as NONMEM's. */
    rc = add_obs(s, r->time, NAN, -1,
                 c->col[C_DVID] >= 0 || (c->opts && c->opts->n_outputs),
                 -1, -1, c->line, c->n_pend, all, r->evid, 1);
    if (rc) return rkin_err_set(err, rc, "%s: out of memory", c->file);
  }
  return RKIN_OK;
}

/* Keeps the record's covariates (NaN where missing) with its time,
 * segment, dose (its index in the segment's schedule when this record
 * added one, else -1) and line: time-varying covariates
 * (rkin_data_segment_params). s->cov keeps each one's first non-missing
 * value. */
static int record_covariates(const ctx *c, const rkin_data *d, subject *s,
                             char **f, int dose, double t, rkin_err *err)
{
  size_t i, n = s->pub.n_rec, nc = d->n_cov;
  if (!nc) return RKIN_OK;
  if (n + 1 > s->cap_rec || (n + 1) * nc > s->cap_rec_cov) {
    size_t c1 = s->cap_rec, c2 = c1, c3 = c1, c4 = c1, c5 = s->cap_rec_cov;
    if (rkin_grow((void **)&s->rec_time, &c1, n + 1, sizeof *s->rec_time)
        || rkin_grow((void **)&s->rec_seg, &c2, n + 1, sizeof *s->rec_seg)
        || rkin_grow((void **)&s->rec_dose, &c3, n + 1, sizeof *s->rec_dose)
        || rkin_grow((void **)&s->rec_line, &c4, n + 1, sizeof *s->rec_line)
        || rkin_grow((void **)&s->rec_cov, &c5, (n + 1) * nc,
                     sizeof *s->rec_cov))
      return rkin_err_set(err, RKIN_ENOMEM, "%s:%zu: out of memory",
                          c->file, c->line);
    s->cap_rec = c1 < c2 ? c1 : c2;
    if (c3 < s->cap_rec) s->cap_rec = c3;
    if (c4 < s->cap_rec) s->cap_rec = c4;
    s->cap_rec_cov = c5;
  }
  s->rec_time[n] = t;
  s->rec_seg[n] = (int)s->pub.n_seg - 1;
  s->rec_dose[n] = dose;
  s->rec_line[n] = c->line;
  for (i = 0; i < nc; i++) s->rec_cov[n * nc + i] = NAN;
  for (i = 0; i < c->n_fields; i++) {
    int k = c->cov_of_field[i];
    double v;
    if (k < 0 || is_missing(f[i])) continue;
    v = strtod(f[i], NULL);
    s->rec_cov[n * nc + (size_t)k] = v;
    if (isnan(s->cov[k])) s->cov[k] = v;
  }
  s->pub.n_rec++;
  return RKIN_OK;
}

/* Covariate cells must be numbers too (checked on every row). */
static int check_covariates(const ctx *c, char **f, rkin_err *err)
{
  size_t i;
  double v;
  for (i = 0; i < c->n_fields; i++)
    if (c->cov_of_field[i] >= 0
        && cell_number(c, f, (int)i, &v, err) < 0)
      return RKIN_EINVAL;
  return RKIN_OK;
}

static int push_subject(rkin_data *d, subject *s)
{
  if (rkin_grow((void **)&d->subj, &d->cap_subj, d->n_subj + 1, sizeof *d->subj))
    return RKIN_ENOMEM;
  d->subj[d->n_subj++] = s;
  return RKIN_OK;
}

/* A well-mixed hash of an ID's bits (integers as doubles differ only in
 * their high bits). */
static size_t id_hash(double id)
{
  uint64_t h;
  if (id == 0) id = 0.0;   /* -0 and 0 are one ID */
  memcpy(&h, &id, sizeof h);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return (size_t)h;
}

/* Subject index of an ID seen before, or adds it (n_subj - 1); -1 when
 * out of memory. Hashing keeps 100,000 subjects linear. */
static long id_seen(ctx *c, const rkin_data *d, double id)
{
  size_t i, mask;
  if (2 * d->n_subj >= c->id_cap) {
    size_t cap = c->id_cap ? 2 * c->id_cap : 1024, k;
    size_t *slot = calloc(cap, sizeof *slot);
    if (!slot) return -1;
    free(c->id_slot);
    c->id_slot = slot;
    c->id_cap = cap;
    for (k = 0; k + 1 < d->n_subj; k++) {  /* all but the newest */
      for (i = id_hash(d->subj[k]->pub.id) & (cap - 1); slot[i];
           i = (i + 1) & (cap - 1)) {}
      slot[i] = k + 1;
    }
  }
  mask = c->id_cap - 1;
  for (i = id_hash(id) & mask; c->id_slot[i]; i = (i + 1) & mask)
    if (d->subj[c->id_slot[i] - 1]->pub.id == id)
      return (long)(c->id_slot[i] - 1);
  c->id_slot[i] = d->n_subj;   /* the subject just pushed */
  return (long)d->n_subj - 1;
}

static int parse_rows(ctx *c, rkin_data *d, rkin_csv *rd, rkin_err *err)
{
  rkin_csv_record rec;
  char **f;
  size_t nf;
  int have_header = 0, rc = RKIN_OK, more;
  subject *cur = NULL;
  double last_t = 0;
  size_t n_dose;
  row r;
  while ((more = rkin_csv_next(rd, &rec, err)) == 1) {
    c->line = rec.line;
    f = rec.field;
    nf = rec.n;
    if (!have_header) {
      rc = parse_header(c, d, f, nf, err);
      if (rc) return rc;
      have_header = 1;
      continue;
    }
    if (nf != c->n_fields)
      return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: %zu fields, but the "
                          "header has %zu columns", c->file, c->line, nf,
                          c->n_fields);
    rc = read_row(c, f, &r, err);
    if (!rc) rc = check_covariates(c, f, err);
    if (rc) return rc;
    if (!cur || r.id != cur->pub.id) {
      long k;
      if (cur && (rc = finish_subject(c, cur, err))) return rc;
      cur = subject_new(r.id, c->line, d->n_cov);
      if (!cur || push_subject(d, cur)) {
        subject_free(cur);
        return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", c->file);
      }
      if ((k = id_seen(c, d, r.id)) < 0)
        return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", c->file);
      if ((size_t)k + 1 != d->n_subj)
        return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column ID: subject "
                            "%g appears again after other subjects (its "
                            "records start at line %zu and must be "
                            "contiguous)", c->file, c->line, r.id,
                            d->subj[k]->pub.line);
      last_t = 0;
    }
    n_dose = cur->n_dose;
    rc = apply_row(c, cur, &r, &last_t, err);
    if (rc) return rc;
    rc = record_covariates(c, d, cur, f, cur->n_dose > n_dose
                           ? (int)c->n_pend - 1 : -1, r.time, err);
    if (rc) return rc;
  }
  if (more < 0) return more;
  if (!have_header)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no header line (expected "
                        "column names such as ID,TIME,DV,AMT)", c->file);
  if (!cur)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no data records after the "
                        "header", c->file);
  return finish_subject(c, cur, err);
}

rkin_data *rkin_data_parse(const char *text, size_t len, const char *name,
                           const rkin_data_opts *opts, rkin_err *err)
{
  rkin_data *d = calloc(1, sizeof *d);
  rkin_csv_opts co = {',', "#"};
  rkin_csv *rd = NULL;
  ctx c;
  size_t i;
  int rc;
  memset(&c, 0, sizeof c);
  c.file = name ? name : "(data)";
  c.opts = opts;
  if (!d || !(d->name = dupstr(c.file))) {
    rkin_data_free(d);
    rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", c.file);
    return NULL;
  }
  if (!(rd = rkin_csv_open(text, len, c.file, &co, err)))
    rc = err ? err->code : RKIN_ENOMEM;
  else
    rc = parse_rows(&c, d, rd, err);
  rkin_csv_close(rd);
  for (i = 0; c.hdr && i < c.n_fields; i++) free(c.hdr[i]);
  free(c.hdr);
  free(c.cov_of_field);
  free(c.pend);
  free(c.pend_line);
  free(c.id_slot);
  if (rc) {
    rkin_data_free(d);
    return NULL;
  }
  return d;
}

rkin_data *rkin_data_read(const char *path, const rkin_data_opts *opts,
                          rkin_err *err)
{
  char *text;
  size_t len;
  rkin_data *d;
  if (!path) {
    rkin_err_set(err, RKIN_EINVAL, "rkin_data_read: NULL path");
    return NULL;
  }
  if (rkin_csv_slurp(path, &text, &len, err)) return NULL;
  d = rkin_data_parse(text, len, path, opts, err);
  free(text);
  return d;
}

size_t rkin_data_nsubjects(const rkin_data *d)
{
  return d ? d->n_subj : 0;
}

const rkin_data_subject *rkin_data_subject_at(const rkin_data *d, size_t i)
{
  return d && i < d->n_subj ? &d->subj[i]->pub : NULL;
}

size_t rkin_data_nobs(const rkin_data *d)
{
  size_t i, n = 0;
  for (i = 0; d && i < d->n_subj; i++) n += d->subj[i]->pub.n_obs;
  return n;
}

size_t rkin_data_ncovariates(const rkin_data *d)
{
  return d ? d->n_cov : 0;
}

const char *rkin_data_covariate_name(const rkin_data *d, size_t k)
{
  return d && k < d->n_cov ? d->cov_name[k] : NULL;
}

int rkin_data_covariate_index(const rkin_data *d, const char *name,
                              rkin_err *err)
{
  char list[256] = "";
  size_t k, len = 0;
  for (k = 0; d && name && k < d->n_cov; k++)
    if (strcasecmp(d->cov_name[k], name) == 0) return (int)k;
  for (k = 0; d && k < d->n_cov && len + 2 < sizeof list; k++) {
    int w = snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "",
                     d->cov_name[k]);
    if (w < 0) break;
    len += (size_t)w;
  }
  rkin_err_set(err, RKIN_ENOTFOUND, "%s: no covariate column '%s' "
               "(covariates: %s)", d ? d->name : "(data)",
               name ? name : "(null)", d && d->n_cov ? list : "none");
  return -1;
}

int rkin_data_check_states(const rkin_data *d, size_t n_states,
                           const char *const *state_names, rkin_err *err)
{
  size_t i, k;
  for (i = 0; d && i < d->n_subj; i++) {
    const subject *s = d->subj[i];
    for (k = 0; k < s->n_dose; k++)
      if (s->dose_cmt[k] < 0 || (size_t)s->dose_cmt[k] >= n_states)
        return cmt_message(err, d->name, s->dose_line[k], s->dose_cmt[k],
                           n_states, state_names);
  }
  return RKIN_OK;
}

int rkin_data_check_model(const rkin_data *d, const rkin_model *m,
                          rkin_err *err)
{
  size_t i, g, k, idx;
  for (i = 0; d && i < d->n_subj; i++) {
    const subject *s = d->subj[i];
    for (g = 0, idx = 0; g < s->pub.n_seg; g++)
      for (k = 0; k < rkin_dosing_nrecords(s->seg[g].dosing); k++, idx++) {
        const rkin_dose *r = rkin_dosing_record(s->seg[g].dosing, k);
        int kind = r->rate == -1 ? RKIN_MOD_RATE : RKIN_MOD_DUR;
        if (r->rate >= 0 || idx >= s->n_dose
            || rkin_model_dose_mod_defined(m, kind, (size_t)r->cmt))
          continue;
        return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column RATE: %g "
                            "takes the %s from the model, but model '%s' "
                            "defines no %s for compartment %d ('%s')",
                            d->name, s->dose_line[idx], r->rate,
                            r->rate == -1 ? "rate" : "duration",
                            rkin_model_name(m), MOD_FIELD(kind), r->cmt + 1,
                            (size_t)r->cmt < rkin_model_nstates(m)
                                ? rkin_model_state_name(m, (size_t)r->cmt)
                                : "?");
      }
  }
  return RKIN_OK;
}

int rkin_data_covariate_column(const rkin_data *d, size_t k)
{
  return d && k < d->n_cov ? d->cov_col[k] : 0;
}

const char *rkin_data_name(const rkin_data *d)
{
  return d ? d->name : NULL;
}
