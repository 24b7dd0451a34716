/* tare_csv_in.c - a TARE cohort from CSV text (columns: tare_cohort.h).
 * Records come from the project's CSV tokenizer (core/csv.h); a row
 * becomes a territory, consecutive rows with one id a patient. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/csv.h"
#include "tare/tare_cohort_impl.h"

typedef enum {
  C_ID, C_PRODUCT, C_CF, C_NAME, C_SIZE, C_LSF, C_MODE, C_TARGET, C_ACT,
  C_CAP, C_REF, C_LSIZE, C_LTN, C_LIVER, C_LUNG, C_COMPROMISED, C_DECAY,
  C_RESID, C_DENSITY
} col_kind;

typedef struct {
  col_kind kind;
  int k;             /* lesion index, 0-based */
  const char *unit;  /* "kg", "L", "mL" for sizes */
  char name[48];
} column;

/* Plain names: column -> kind. Sizes and lesions are matched apart. */
static const struct { const char *name; col_kind kind; } plain[] = {
  {"id", C_ID}, {"product", C_PRODUCT}, {"cf", C_CF},
  {"territory", C_NAME}, {"lsf", C_LSF}, {"mode", C_MODE},
  {"target_gy", C_TARGET}, {"activity_mbq", C_ACT}, {"cap", C_CAP},
  {"ref", C_REF}, {"tn", C_LTN}, {"lung_mass_kg", C_LUNG},
  {"compromised", C_COMPROMISED}, {"decay_h", C_DECAY},
  {"residual_fraction", C_RESID}, {"density_kg_L", C_DENSITY},
};

/* Names a user writes without a unit, and what to write. */
static const struct { const char *name, *use; } unitless[] = {
  {"volume", "volume_mL or volume_L"}, {"mass", "mass_kg"},
  {"liver_volume", "liver_volume_mL or liver_volume_L"},
  {"tumour_volume", "tumour_volume_mL or tumour_volume_L"},
  {"tumor_volume", "tumour_volume_mL or tumour_volume_L"},
  {"target", "target_gy"}, {"activity", "activity_mbq"},
  {"decay", "decay_h"}, {"lung_mass", "lung_mass_kg"},
  {"density", "density_kg_L"},
};

/* Unit suffix of "volume_mL", "mass_kg", ... after `prefix`; NULL if the
 * name is not prefix + a size. */
static const char *size_unit(const char *name, const char *prefix)
{
  size_t n = strlen(prefix);
  if (strncmp(name, prefix, n)) return NULL;
  name += n;
  if (!strcmp(name, "volume_mL")) return "mL";
  if (!strcmp(name, "volume_L")) return "L";
  if (!strcmp(name, "mass_kg")) return "kg";
  return NULL;
}

/* Known spellings, for the "units are case-sensitive" hint. */
static int known_name(const char *s)
{
  static const char *const sizes[] = {
    "volume_mL", "volume_L", "mass_kg", "liver_volume_mL", "liver_volume_L",
    "liver_mass_kg", "tumour_volume_mL", "tumour_volume_L", "tumour_mass_kg",
    NULL};
  size_t i;
  for (i = 0; sizes[i]; i++)
    if (!strcasecmp(s, sizes[i])) return (int)i;
  return -1;
}

/* "lesion<k>_...": the length of that prefix and k (>= 1; any k above
 * the limit comes back as limit + 1), or 0 when name does not start so. */
static int lesion_prefix(const char *name, int *k)
{
  const char *p = name + 6;
  long v = 0;
  if (strncmp(name, "lesion", 6) || !isdigit((unsigned char)*p)) return 0;
  for (; isdigit((unsigned char)*p); p++)
    if (v <= RKIN_TARE_MAX_LESIONS) v = 10 * v + (*p - '0');
  if (*p != '_' || v < 1) return 0;
  *k = v > RKIN_TARE_MAX_LESIONS ? RKIN_TARE_MAX_LESIONS + 1 : (int)v;
  return (int)(p + 1 - name);
}

static int classify(const char *name, column *col, const char *src,
                    rkin_err *err)
{
  static const char *const sizes[] = {
    "volume_mL", "volume_L", "mass_kg", "liver_volume_mL", "liver_volume_L",
    "liver_mass_kg", "tumour_volume_mL", "tumour_volume_L", "tumour_mass_kg",
    NULL};
  size_t i;
  int k, off;
  const char *u;
  snprintf(col->name, sizeof col->name, "%s", name);
  col->k = 0;
  col->unit = NULL;
  for (i = 0; i < sizeof plain / sizeof plain[0]; i++)
    if (!strcmp(name, plain[i].name)) {
      col->kind = plain[i].kind;
      return RKIN_OK;
    }
  if ((u = size_unit(name, ""))) {
    col->kind = C_SIZE;
    col->unit = u;
    return RKIN_OK;
  }
  if ((u = size_unit(name, "liver_"))) {
    col->kind = C_LIVER;
    col->unit = u;
    return RKIN_OK;
  }
  if ((u = size_unit(name, "tumour_")) || (u = size_unit(name, "tumor_"))) {
    col->kind = C_LSIZE;
    col->unit = u;
    return RKIN_OK;
  }
  if ((off = lesion_prefix(name, &k)) > 0) {
    if (k > RKIN_TARE_MAX_LESIONS)
      return rkin_err_set(err, RKIN_ERANGE,
                          "%s: header: column '%s': at most %d lesions", src,
                          col->name, RKIN_TARE_MAX_LESIONS);
    col->k = k - 1;
    if (!strcmp(name + off, "tn")) {
      col->kind = C_LTN;
      return RKIN_OK;
    }
    if ((u = size_unit(name + off, ""))) {
      col->kind = C_LSIZE;
      col->unit = u;
      return RKIN_OK;
    }
  }
  for (i = 0; i < sizeof unitless / sizeof unitless[0]; i++)
    if (!strcmp(name, unitless[i].name))
      return rkin_err_set(err, RKIN_EINVAL,
                          "%s: header: column '%s' has no unit: use %s", src,
                          name, unitless[i].use);
  if ((k = known_name(name)) >= 0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: header: column '%s' unknown: units are "
                        "case-sensitive, did you mean '%s'?", src, name,
                        sizes[k]);
  return rkin_err_set(err, RKIN_EINVAL,
                      "%s: header: column '%s' unknown (known: id, product, "
                      "cf, territory, volume_mL|volume_L|mass_kg, lsf, "
                      "mode, target_gy, activity_mbq, cap, ref, "
                      "tumour_volume_mL|..., tn, lesion<k>_volume_mL|..., "
                      "lesion<k>_tn, liver_volume_mL|..., lung_mass_kg, "
                      "compromised, decay_h, residual_fraction, "
                      "density_kg_L)", src, name);
}

/* One field of a record: text [s, s+n). */
typedef struct {
  const char *s;
  size_t n;
} field;

/* Everything one row says, before it becomes a territory and a plan. */
typedef struct {
  field id, product, cf, name, mode, ref;
  double size, lsf, target, act, liver, lung, decay, resid, density;
  const column *size_col, *liver_col, *ref_col;
  int has_size, has_lsf, has_target, has_act, has_liver, has_lung,
      has_decay, has_resid, has_density, cap, compromised, has_compromised;
  double lsize[RKIN_TARE_MAX_LESIONS], ltn[RKIN_TARE_MAX_LESIONS];
  const column *lcol[RKIN_TARE_MAX_LESIONS];
  unsigned char has_lsize[RKIN_TARE_MAX_LESIONS];
  unsigned char has_ltn[RKIN_TARE_MAX_LESIONS];
} row_vals;

typedef struct {
  const char *src;
  long line;
  const column *col;
} where;

static int fail(const where *w, rkin_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int fail(const where *w, rkin_err *err, int code, const char *fmt, ...)
{
  char msg[RKIN_ERR_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (w->col)
    return rkin_err_set(err, code, "%s:%ld: column '%s': %s", w->src,
                        w->line, w->col->name, msg);
  return rkin_err_set(err, code, "%s:%ld: %s", w->src, w->line, msg);
}

static int number(const field *f, const where *w, double *v, rkin_err *err)
{
  char buf[64], *end;
  if (f->n == 0 || f->n >= sizeof buf)
    return fail(w, err, RKIN_EINVAL, "'%.*s' is not a number", (int)f->n,
                f->s);
  memcpy(buf, f->s, f->n);
  buf[f->n] = '\0';
  *v = strtod(buf, &end);
  if (*end || !isfinite(*v))
    return fail(w, err, RKIN_EINVAL, "'%s' is not a finite number", buf);
  return RKIN_OK;
}

static int flag(const field *f, const where *w, int *v, rkin_err *err)
{
  if (f->n == 1 && (f->s[0] == '0' || f->s[0] == '1')) {
    *v = f->s[0] == '1';
    return RKIN_OK;
  }
  if (f->n == 4 && !strncmp(f->s, "true", 4)) return *v = 1, RKIN_OK;
  if (f->n == 5 && !strncmp(f->s, "false", 5)) return *v = 0, RKIN_OK;
  return fail(w, err, RKIN_EINVAL, "'%.*s' must be 0/1 or true/false",
              (int)f->n, f->s);
}

static int field_is(const field *f, const char *s)
{
  size_t n = strlen(s);
  return f->n == n && !strncmp(f->s, s, n);
}

/* Reads the fields of one row into v by their columns. */
static int read_row(const field *f, int nf, const column *cols,
                    row_vals *v, where *w, rkin_err *err)
{
  int j, rc = RKIN_OK;
  memset(v, 0, sizeof *v);
  for (j = 0; j < nf && !rc; j++) {
    const column *c = &cols[j];
    const field *x = &f[j];
    if (x->n == 0) continue;  /* empty: not given */
    w->col = c;
    switch (c->kind) {
    case C_ID: v->id = *x; break;
    case C_PRODUCT: v->product = *x; break;
    case C_CF: v->cf = *x; break;
    case C_NAME: v->name = *x; break;
    case C_MODE: v->mode = *x; break;
    case C_REF: v->ref = *x; v->ref_col = c; break;
    case C_SIZE:
      v->has_size = 1;
      v->size_col = c;
      rc = number(x, w, &v->size, err);
      break;
    case C_LSF: v->has_lsf = 1; rc = number(x, w, &v->lsf, err); break;
    case C_TARGET: v->has_target = 1; rc = number(x, w, &v->target, err);
      break;
    case C_ACT: v->has_act = 1; rc = number(x, w, &v->act, err); break;
    case C_CAP: rc = flag(x, w, &v->cap, err); break;
    case C_LSIZE:
      v->has_lsize[c->k] = 1;
      v->lcol[c->k] = c;
      rc = number(x, w, &v->lsize[c->k], err);
      break;
    case C_LTN:
      v->has_ltn[c->k] = 1;
      rc = number(x, w, &v->ltn[c->k], err);
      break;
    case C_LIVER:
      v->has_liver = 1;
      v->liver_col = c;
      rc = number(x, w, &v->liver, err);
      break;
    case C_LUNG: v->has_lung = 1; rc = number(x, w, &v->lung, err); break;
    case C_COMPROMISED:
      v->has_compromised = 1;
      rc = flag(x, w, &v->compromised, err);
      break;
    case C_DECAY: v->has_decay = 1; rc = number(x, w, &v->decay, err); break;
    case C_RESID: v->has_resid = 1; rc = number(x, w, &v->resid, err); break;
    case C_DENSITY:
      v->has_density = 1;
      rc = number(x, w, &v->density, err);
      break;
    }
  }
  w->col = NULL;
  return rc;
}

/* kg from a size in the unit of its column, with the plausibility
 * check. */
static int to_kg(const column *col, double v, double dens, int territory,
                 const where *w, double *kg, rkin_err *err)
{
  const char *unit = col->unit;
  rkin_err e;
  if (rkin_tare_size_check(col->name, unit, v, territory, &e) ||
      (strcmp(unit, "kg") &&
       rkin_tare_volume_to_mass(col->name,
                                !strcmp(unit, "L") ? v : v / 1000.0, dens,
                                kg, &e)))
    return fail(w, err, e.code, "%s", e.msg);
  if (!strcmp(unit, "kg")) {
    if (!(v > 0.0))
      return fail(w, err, RKIN_EINVAL, "%s = %g must be > 0 kg", col->name,
                  v);
    *kg = v;
  }
  return RKIN_OK;
}

/* The territory a row describes (lesions into les). */
static int row_territory(const row_vals *v, double dens, const where *w,
                         rkin_tare_territory *t, rkin_tare_lesion *les,
                         rkin_err *err)
{
  int k, rc, n = 0;
  memset(t, 0, sizeof *t);
  if (!v->has_size)
    return fail(w, err, RKIN_EINVAL, "territory size missing: give "
                "volume_mL, volume_L or mass_kg");
  if ((rc = to_kg(v->size_col, v->size, dens, 1, w, &t->mass_kg, err)))
    return rc;
  if (!v->has_lsf)
    return fail(w, err, RKIN_EINVAL, "lsf missing (lung shunt fraction; 0 "
                "if none)");
  t->lsf = v->lsf;
  for (k = 0; k < RKIN_TARE_MAX_LESIONS; k++) {
    if (!v->has_lsize[k] && !v->has_ltn[k]) continue;
    if (!v->has_lsize[k] || !v->has_ltn[k])
      return fail(w, err, RKIN_EINVAL, "lesion %d: %s missing", k + 1,
                  v->has_ltn[k] ? "size (volume_mL, volume_L or mass_kg)"
                                : "tn");
    if ((rc = to_kg(v->lcol[k], v->lsize[k], dens, 0, w, &les[n].mass_kg,
                    err)))
      return rc;
    les[n++].tn = v->ltn[k];
  }
  t->lesions = les;
  t->n_lesions = (size_t)n;
  if (v->mode.n == 0)
    t->mode = v->has_act ? RKIN_TARE_MODE_ACTIVITY : (rkin_tare_mode)-1;
  else if (field_is(&v->mode, "tumour") || field_is(&v->mode, "tumor"))
    t->mode = RKIN_TARE_MODE_TUMOUR;
  else if (field_is(&v->mode, "normal")) t->mode = RKIN_TARE_MODE_NORMAL;
  else if (field_is(&v->mode, "max_safe")) t->mode = RKIN_TARE_MODE_MAX_SAFE;
  else if (field_is(&v->mode, "activity")) t->mode = RKIN_TARE_MODE_ACTIVITY;
  else
    return fail(w, err, RKIN_EINVAL, "mode '%.*s' unknown (expected tumour, "
                "normal, max_safe or activity)", (int)v->mode.n, v->mode.s);
  if ((int)t->mode < 0)
    return fail(w, err, RKIN_EINVAL, "mode missing (tumour, normal, "
                "max_safe or activity)");
  if ((t->mode == RKIN_TARE_MODE_TUMOUR || t->mode == RKIN_TARE_MODE_NORMAL)
      && !v->has_target)
    return fail(w, err, RKIN_EINVAL, "mode '%.*s' needs target_gy",
                (int)v->mode.n, v->mode.s);
  if (t->mode == RKIN_TARE_MODE_ACTIVITY && !v->has_act)
    return fail(w, err, RKIN_EINVAL, "mode 'activity' needs activity_mbq");
  t->target_gy = v->target;
  t->activity_mbq = v->act;
  t->cap = v->cap;
  if (v->ref.n == 0 || field_is(&v->ref, "mean")) {
    t->ref = RKIN_TARE_REF_MEAN;
  } else if (field_is(&v->ref, "min")) {
    t->ref = RKIN_TARE_REF_MIN;
  } else {
    double r;
    where w2 = *w;
    w2.col = v->ref_col;
    /* checked against the row's lesions before the cast: a huge value
     * must not reach size_t */
    if (number(&v->ref, &w2, &r, err) || !(r >= 1 && r == floor(r)))
      return fail(&w2, err, RKIN_EINVAL, "ref '%.*s' must be mean, min or a "
                  "lesion number >= 1", (int)v->ref.n, v->ref.s);
    if (r > (double)n)
      return fail(&w2, err, RKIN_EINVAL, "ref '%.*s' names lesion %g, but "
                  "this row has %d lesion%s", (int)v->ref.n, v->ref.s, r, n,
                  n == 1 ? "" : "s");
    t->ref = RKIN_TARE_REF_LESION;
    t->ref_index = (size_t)r - 1;
  }
  return RKIN_OK;
}

/* A patient being collected from consecutive rows. */
typedef struct {
  field id, product, cf;
  row_vals first;          /* per-patient values of its first row */
  long row;
  size_t nt;
  rkin_tare_territory terr[RKIN_TARE_MAX_TERR];
  rkin_tare_lesion les[RKIN_TARE_MAX_TERR][RKIN_TARE_MAX_LESIONS];
  char name[RKIN_TARE_MAX_TERR][64];
} pending;

static int same_field(const field *a, const field *b)
{
  return a->n == b->n && !memcmp(a->s, b->s, a->n);
}

/* Per-patient values must agree between a patient's rows. */
static int check_same(const pending *p, const row_vals *v, const where *w,
                      rkin_err *err)
{
  const row_vals *f = &p->first;
#define SAME_NUM(has, x, nm)                                                 \
  if (v->has && (!f->has || f->x != v->x))                                   \
    return fail(w, err, RKIN_EINVAL, "patient '%.*s': %s differs from its "  \
                "first row (line %ld)", (int)p->id.n, p->id.s, nm, p->row);
  SAME_NUM(has_liver, liver, "liver size")
  SAME_NUM(has_lung, lung, "lung_mass_kg")
  SAME_NUM(has_decay, decay, "decay_h")
  SAME_NUM(has_resid, resid, "residual_fraction")
  SAME_NUM(has_density, density, "density_kg_L")
  SAME_NUM(has_compromised, compromised, "compromised")
#undef SAME_NUM
  if ((v->product.n && !same_field(&v->product, &f->product)) ||
      (v->cf.n && !same_field(&v->cf, &f->cf)))
    return fail(w, err, RKIN_EINVAL, "patient '%.*s': %s differs from its "
                "first row (line %ld)", (int)p->id.n, p->id.s,
                v->product.n && !same_field(&v->product, &f->product)
                ? "product" : "cf", p->row);
  return RKIN_OK;
}

/* Turns the collected rows into a plan in the cohort. */
static int flush(rkin_tare_cohort *c, pending *p, const char *src,
                 rkin_err *err)
{
  const row_vals *f = &p->first;
  const rkin_tare_product *prod;
  rkin_tare_plan plan;
  where w = {src, p->row, NULL};
  char pname[64], cf[32], id[128];
  rkin_tare_cf_conv conv;
  int rc;
  snprintf(pname, sizeof pname, "%.*s", (int)f->product.n, f->product.s);
  snprintf(id, sizeof id, "%.*s", (int)p->id.n, p->id.s);
  if (!f->product.n)
    return fail(&w, err, RKIN_EINVAL, "patient '%s': product missing", id);
  if (!(prod = rkin_tare_product_find(pname, err)) ||
      rkin_tare_plan_init(&plan, prod, RKIN_TARE_CF_DERIVED, err))
    return rkin_err_prefix(err, "%s:%ld: patient '%s': ", src, p->row, id);
  snprintf(cf, sizeof cf, "%.*s", (int)f->cf.n, f->cf.s);
  if (f->cf.n) {
    char *end;
    double x = strtod(cf, &end);
    if (!*end) {
      plan.cf = x;
    } else if (rkin_tare_cf_conv_parse(cf, &conv, err) ||
               rkin_tare_cf(plan.nuclide, conv, &plan.cf, err)) {
      return rkin_err_prefix(err, "%s:%ld: patient '%s': ", src, p->row,
                             id);
    }
  }
  if (f->has_lung) plan.lung_mass_kg = f->lung;
  if (f->has_liver &&
      (rc = to_kg(f->liver_col, f->liver,
                  f->has_density ? f->density : RKIN_TARE_LIVER_DENSITY, 1,
                  &w, &plan.liver_mass_kg, err)))
    return rc;
  plan.compromised = f->compromised;
  plan.decay_h = f->decay;
  plan.residual_fraction = f->resid;
  plan.territories = p->terr;
  plan.n_territories = p->nt;
  return rkin_tare_cohort_add(c, id, p->row, &plan, err);
}

/* Ids already flushed (a patient's rows must be consecutive). */
typedef struct {
  const char **slot;
  size_t cap, n;
} idset;

static uint64_t hash(const char *s, size_t n)
{
  uint64_t h = 1469598103934665603ull;
  while (n--) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

/* 1 if id was there, 0 if added, -1 out of memory. */
static int idset_add(idset *s, const char *id)
{
  size_t i, n = strlen(id);
  if (2 * (s->n + 1) > s->cap) {
    idset t = {NULL, s->cap ? 2 * s->cap : 1024, 0};
    if (!(t.slot = calloc(t.cap, sizeof *t.slot))) return -1;
    for (i = 0; i < s->cap; i++)
      if (s->slot[i]) {
        size_t j = hash(s->slot[i], strlen(s->slot[i])) & (t.cap - 1);
        while (t.slot[j]) j = (j + 1) & (t.cap - 1);
        t.slot[j] = s->slot[i];
        t.n++;
      }
    free(s->slot);
    *s = t;
  }
  i = hash(id, n) & (s->cap - 1);
  while (s->slot[i]) {
    if (!strcmp(s->slot[i], id)) return 1;
    i = (i + 1) & (s->cap - 1);
  }
  s->slot[i] = id;
  s->n++;
  return 0;
}

static int parse_rows(rkin_tare_cohort *c, rkin_csv *rd, const column *cols,
                      int ncol, const char *src, field *f, rkin_err *err)
{
  pending *p = malloc(sizeof *p);
  row_vals v;
  idset seen = {NULL, 0, 0};
  rkin_csv_record rec;
  int rc = RKIN_OK, have = 0, more, j;
  if (!p) return tare_cohort_nomem(err);
  while ((more = rkin_csv_next(rd, &rec, err)) == 1) {
    long start = (long)rec.line;
    where w = {src, start, NULL};
    rkin_tare_territory t;
    if (rec.n != (size_t)ncol) {
      rc = fail(&w, err, RKIN_EINVAL, "%zu fields, the header has %d",
                rec.n, ncol);
      break;
    }
    for (j = 0; j < ncol; j++) {
      f[j].s = rec.field[j];
      f[j].n = strlen(rec.field[j]);
    }
    if ((rc = read_row(f, ncol, cols, &v, &w, err))) break;
    if (!v.id.n) {
      /* No id: each row is its own patient, named by its line. */
      char num[32];
      int k = snprintf(num, sizeof num, "row %ld", start);
      v.id.s = tare_cohort_keep(c, num, (size_t)k);
      v.id.n = (size_t)k;
      if (!v.id.s) {
        rc = tare_cohort_nomem(err);
        break;
      }
    } else {
      /* the record's fields go with the next record: keep the id */
      v.id.s = tare_cohort_keep(c, v.id.s, v.id.n);
      if (!v.id.s) {
        rc = tare_cohort_nomem(err);
        break;
      }
    }
    if (have && same_field(&v.id, &p->id)) {
      if ((rc = check_same(p, &v, &w, err))) break;
      if (p->nt == RKIN_TARE_MAX_TERR) {
        rc = fail(&w, err, RKIN_ERANGE, "patient '%.*s': more than %d "
                  "territories", (int)p->id.n, p->id.s, RKIN_TARE_MAX_TERR);
        break;
      }
    } else {
      int dup;
      if (have && (rc = flush(c, p, src, err))) break;
      dup = idset_add(&seen, v.id.s);
      if (dup) {
        rc = dup < 0 ? tare_cohort_nomem(err)
                     : fail(&w, err, RKIN_EINVAL, "patient '%.*s' appears "
                            "again after other patients: keep a patient's "
                            "rows together", (int)v.id.n, v.id.s);
        break;
      }
      memset(p, 0, offsetof(pending, terr));
      p->id = v.id;
      p->first = v;
      /* product and cf point into the record: keep them. */
      p->first.product.s = tare_cohort_keep(c, v.product.s ? v.product.s : "",
                                v.product.n);
      p->first.cf.s = tare_cohort_keep(c, v.cf.s ? v.cf.s : "", v.cf.n);
      if (!p->first.product.s || !p->first.cf.s) {
        rc = tare_cohort_nomem(err);
        break;
      }
      p->row = start;
      have = 1;
    }
    if ((rc = row_territory(&v, v.has_density ? v.density
                                              : RKIN_TARE_LIVER_DENSITY,
                            &w, &t, p->les[p->nt], err)))
      break;
    if (v.name.n) {
      snprintf(p->name[p->nt], sizeof p->name[0], "%.*s", (int)v.name.n,
               v.name.s);
      t.name = p->name[p->nt];
    }
    p->terr[p->nt++] = t;
  }
  if (!rc && more < 0) rc = more;
  if (!rc && have) rc = flush(c, p, src, err);
  free(seen.slot);
  free(p);
  return rc;
}

/* Room for as many patients and territories as the text has lines (and
 * lesions for each lesion column), so the arrays are not copied as they
 * grow. */
static int reserve(rkin_tare_cohort *c, const char *text, size_t len,
                   const column *cols, int ncol, rkin_err *err)
{
  size_t lines = 1, nles = 0;
  const char *q = text, *end = text + len;
  int j;
  while ((q = memchr(q, '\n', (size_t)(end - q)))) {
    lines++;
    q++;
  }
  for (j = 0; j < ncol; j++)
    if (cols[j].kind == C_LTN) nles++;
  return tare_cohort_reserve(c, lines, lines, lines * nles, err);
}

int rkin_tare_cohort_parse_csv(rkin_tare_cohort *c, const char *text,
                               size_t len, const char *src, rkin_err *err)
{
  size_t n0, t0, l0;
  int ncol, j, rc;
  field *f = NULL;
  column *cols = NULL;
  rkin_csv *rd;
  rkin_csv_record rec;
  if (!c || !text)
    return rkin_err_set(err, RKIN_EINVAL, "tare cohort: no text");
  if (!src) src = "csv";
  n0 = c->n;
  t0 = c->nt;
  l0 = c->nl;
  if (!(c->src = tare_cohort_keep(c, src, strlen(src)))) return tare_cohort_nomem(err);
  if (!(rd = rkin_csv_open(text, len, src, NULL, err))) {
    c->src = NULL;
    return err ? err->code : RKIN_ENOMEM;
  }
  rc = rkin_csv_next(rd, &rec, err);
  if (rc <= 0) {
    if (rc == 0) rc = rkin_err_set(err, RKIN_EINVAL, "%s: no header line", src);
    goto done;
  }
  if (rec.n > INT_MAX / 2) {
    rc = rkin_err_set(err, RKIN_ERANGE, "%s: header: %zu columns", src,
                      rec.n);
    goto done;
  }
  ncol = (int)rec.n;
  f = malloc((size_t)ncol * sizeof *f);
  cols = malloc((size_t)ncol * sizeof *cols);
  if (!f || !cols) {
    rc = tare_cohort_nomem(err);
    goto done;
  }
  for (j = 0; j < ncol; j++) {
    int k;
    if ((rc = classify(rec.field[j], &cols[j], src, err))) goto done;
    for (k = 0; k < j; k++)
      if (!strcmp(cols[k].name, cols[j].name)) {
        rc = rkin_err_set(err, RKIN_EINVAL,
                          "%s: header: column '%s' appears twice", src,
                          cols[j].name);
        goto done;
      }
  }
  rc = reserve(c, text, len, cols, ncol, err);
  if (!rc) rc = parse_rows(c, rd, cols, ncol, src, f, err);
done:
  rkin_csv_close(rd);
  c->src = NULL;
  if (rc) {
    c->n = n0;
    c->nt = t0;
    c->nl = l0;
  }
  free(f);
  free(cols);
  return rc;
}
