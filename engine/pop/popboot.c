/* popboot.c - bootstrap resampling and intervals (popboot.h). */
/* qsort_r (glibc) */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "core/csv.h"
#include "core/grow.h"
#include "pop/popboot.h"
#include "pop/popsim.h"

/* ---------------------------------------------------------- drawing */

static int cmp_stratum(const void *a, const void *b, void *d)
{
  const double *s = d;
  double x = s[*(const size_t *)a], y = s[*(const size_t *)b];
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  if (x != y) return x < y ? -1 : 1;
  return i < j ? -1 : i > j;
}

int rkin_boot_pick(size_t n, const double *strata, uint64_t seed, size_t r,
                   size_t *pick, rkin_err *err)
{
  gsl_rng *g;
  size_t *ord = NULL, i;
  uint64_t sd;
  if (n < 1) return rkin_err_set(err, RKIN_EINVAL, "bootstrap: no subjects");
  for (i = 0; strata && i < n; i++)
    if (!isfinite(strata[i]))
      return rkin_err_set(err, RKIN_EINVAL, "bootstrap: subject %zu has no "
                          "stratum value (missing or not finite)", i + 1);
  if (!(g = gsl_rng_alloc(gsl_rng_mt19937)))
    return rkin_err_set(err, RKIN_ENOMEM, "bootstrap: out of memory");
  sd = rkin_popsim_stream_seed(seed, r, (size_t)-1);
  gsl_rng_set(g, (unsigned long)(uint32_t)(sd ^ (sd >> 32)));
  if (!strata) {
    for (i = 0; i < n; i++) pick[i] = (size_t)gsl_rng_uniform_int(g, n);
    gsl_rng_free(g);
    return RKIN_OK;
  }
  /* subjects sorted by stratum (then index): each stratum a run */
  if (!(ord = malloc(n * sizeof *ord))) {
    gsl_rng_free(g);
    return rkin_err_set(err, RKIN_ENOMEM, "bootstrap: out of memory");
  }
  for (i = 0; i < n; i++) ord[i] = i;
  qsort_r(ord, n, sizeof *ord, cmp_stratum, (void *)strata);
  for (i = 0; i < n;) {
    size_t e = i, k;
    while (e < n && strata[ord[e]] == strata[ord[i]]) e++;
    /* the places of this stratum's subjects draw from it, in order */
    for (k = i; k < e; k++)
      pick[ord[k]] = ord[i + (size_t)gsl_rng_uniform_int(g, e - i)];
    i = e;
  }
  free(ord);
  gsl_rng_free(g);
  return RKIN_OK;
}

/* -------------------------------------------------------- resampling */

typedef struct {
  char *p;
  size_t len, cap;
} sbuf;

static int put(sbuf *b, const char *s, size_t n)
{
  if (rkin_grow((void **)&b->p, &b->cap, b->len + n + 1, 1)) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
  return 0;
}

/* One field as CSV: quoted when it holds a separator, quote, line break
 * or blanks at its ends (the tokenizer drops unquoted blanks). */
static int put_field(sbuf *b, const char *f)
{
  size_t n = strlen(f);
  int q = strpbrk(f, ",\"\r\n") != NULL
          || (n && (f[0] == ' ' || f[0] == '\t' || f[n - 1] == ' '
                    || f[n - 1] == '\t'));
  const char *s;
  if (!q) return put(b, f, n);
  if (put(b, "\"", 1)) return -1;
  for (s = f; *s; s++)
    if (put(b, s, 1) || (*s == '"' && put(b, "\"", 1))) return -1;
  return put(b, "\"", 1);
}

typedef struct {
  size_t first, n;        /* its records in the record list */
} subj_span;

int rkin_boot_resample_csv(const char *text, size_t len, const char *name,
                           const size_t *pick, size_t n, char **out,
                           size_t *out_len, rkin_err *err)
{
  rkin_csv_opts co = {',', "#"};
  rkin_csv *rd;
  rkin_csv_record rec;
  sbuf hdr = {0}, res = {0};
  char **rows = NULL;        /* each record without its ID, as CSV */
  size_t *id_pos = NULL;     /* where the ID field goes in the row */
  size_t n_rows = 0, cap_rows = 0, cap_pos = 0, n_sub = 0, cap_sub = 0;
  subj_span *sub = NULL;
  double last_id = NAN;
  long id_col = -1;
  size_t k, j;
  int more, rc = RKIN_OK, have_hdr = 0;
  *out = NULL;
  if (out_len) *out_len = 0;
  if (!(rd = rkin_csv_open(text, len, name, &co, err)))
    return err ? err->code : RKIN_ENOMEM;
  while ((more = rkin_csv_next(rd, &rec, err)) > 0) {
    sbuf row = {0};
    double id;
    char *end;
    if (!have_hdr) {
      for (k = 0; k < rec.n; k++) {
        if (strcasecmp(rec.field[k], "ID") == 0) id_col = (long)k;
        if ((k && put(&hdr, ",", 1)) || put_field(&hdr, rec.field[k]))
          goto nomem;
      }
      if (put(&hdr, "\n", 1)) goto nomem;
      if (id_col < 0) {
        rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: no ID column in the "
                          "header", name, rec.line);
        goto done;
      }
      have_hdr = 1;
      continue;
    }
    if ((size_t)id_col >= rec.n) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: the record has %zu "
                        "fields, no ID (column %ld)", name, rec.line, rec.n,
                        id_col + 1);
      goto done;
    }
    id = strtod(rec.field[id_col], &end);
    if (end == rec.field[id_col] || *end || !isfinite(id)) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column ID: '%s' is not "
                        "a number", name, rec.line, rec.field[id_col]);
      goto done;
    }
    if (n_sub == 0 || id != last_id) {
      if (rkin_grow((void **)&sub, &cap_sub, n_sub + 1, sizeof *sub))
        goto nomem;
      sub[n_sub].first = n_rows;
      sub[n_sub++].n = 0;
      last_id = id;
    }
    sub[n_sub - 1].n++;
    /* the row with the ID left out; id_pos: the byte it goes at */
    if (rkin_grow((void **)&rows, &cap_rows, n_rows + 1, sizeof *rows)
        || rkin_grow((void **)&id_pos, &cap_pos, n_rows + 1,
                     sizeof *id_pos))
      goto nomem;
    for (k = 0; k < rec.n; k++) {
      if (k && put(&row, ",", 1)) goto nomem_row;
      if ((long)k == id_col) {
        id_pos[n_rows] = row.len;
        continue;
      }
      if (put_field(&row, rec.field[k])) goto nomem_row;
    }
    if (put(&row, "\n", 1)) goto nomem_row;
    rows[n_rows++] = row.p;
    continue;
nomem_row:
    free(row.p);
    goto nomem;
  }
  if (more < 0) {
    rc = more;
    goto done;
  }
  if (!have_hdr || n_sub == 0) {
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: no data records", name);
    goto done;
  }
  if (put(&res, hdr.p, hdr.len)) goto nomem;
  for (k = 0; k < n; k++) {
    char idb[32];
    int m = snprintf(idb, sizeof idb, "%zu", k + 1);
    if (pick[k] >= n_sub) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s: resampling draws subject "
                        "%zu of %zu", name, pick[k] + 1, n_sub);
      goto done;
    }
    for (j = 0; j < sub[pick[k]].n; j++) {
      size_t r = sub[pick[k]].first + j;
      if (put(&res, rows[r], id_pos[r]) || put(&res, idb, (size_t)m)
          || put(&res, rows[r] + id_pos[r], strlen(rows[r] + id_pos[r])))
        goto nomem;
    }
  }
  *out = res.p;
  if (out_len) *out_len = res.len;
  res.p = NULL;
  goto done;
nomem:
  rc = rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory resampling the "
                    "dataset", name);
done:
  rkin_csv_close(rd);
  for (k = 0; k < n_rows; k++) free(rows[k]);
  free(rows);
  free(id_pos);
  free(sub);
  free(hdr.p);
  free(res.p);
  return rc;
}

/* --------------------------------------------------------- intervals */

static double quantile(const double *sorted, size_t n, double p)
{
  if (!(p >= 0)) p = 0;
  if (p > 1) p = 1;
  return gsl_stats_quantile_from_sorted_data(sorted, 1, n, p);
}

int rkin_boot_interval(const double *rep, size_t n_rep, double est,
                       const double *jack, size_t n_jack, double level,
                       rkin_boot_ci *ci, rkin_err *err)
{
  double *v, below = 0, alpha, zl, zh, num = 0, den = 0, jm = 0;
  size_t n = 0, k;
  memset(ci, 0, sizeof *ci);
  ci->lo = ci->hi = ci->bca_lo = ci->bca_hi = NAN;
  ci->z0 = ci->a = ci->alpha_lo = ci->alpha_hi = NAN;
  if (!(level > 0 && level < 1))
    return rkin_err_set(err, RKIN_EINVAL, "bootstrap interval: level %g "
                        "(expected 0 < level < 1)", level);
  if (!isfinite(est))
    return rkin_err_set(err, RKIN_EINVAL, "bootstrap interval: the "
                        "original estimate is not finite");
  if (!(v = malloc((n_rep + 1) * sizeof *v)))
    return rkin_err_set(err, RKIN_ENOMEM, "bootstrap interval: out of "
                        "memory");
  for (k = 0; k < n_rep; k++)
    if (isfinite(rep[k])) {
      v[n++] = rep[k];
      below += rep[k] < est ? 1 : rep[k] == est ? 0.5 : 0;
    }
  ci->n = n;
  if (n < 2) {
    free(v);
    return rkin_err_set(err, RKIN_EINVAL, "bootstrap interval: %zu "
                        "finite replicates (at least 2 needed)", n);
  }
  gsl_sort(v, 1, n);
  alpha = 1 - level;
  ci->lo = quantile(v, n, alpha / 2);
  ci->hi = quantile(v, n, 1 - alpha / 2);
  /* acceleration from the jackknife (Efron 1987, eq. 6.6) */
  ci->a = 0;
  if (jack && n_jack > 1) {
    for (k = 0; k < n_jack; k++) jm += jack[k];
    jm /= (double)n_jack;
    for (k = 0; k < n_jack; k++) {
      double d = jm - jack[k];
      num += d * d * d;
      den += d * d;
    }
    ci->a = den > 0 ? num / (6 * pow(den, 1.5)) : 0;
    if (!isfinite(ci->a)) ci->a = NAN;
  }
  if (below > 0 && below < (double)n && isfinite(ci->a)) {
    ci->z0 = gsl_cdf_ugaussian_Pinv(below / (double)n);
    zl = ci->z0 + gsl_cdf_ugaussian_Pinv(alpha / 2);
    zh = ci->z0 + gsl_cdf_ugaussian_Pinv(1 - alpha / 2);
    ci->alpha_lo = gsl_cdf_ugaussian_P(ci->z0 + zl / (1 - ci->a * zl));
    ci->alpha_hi = gsl_cdf_ugaussian_P(ci->z0 + zh / (1 - ci->a * zh));
    if (isfinite(ci->alpha_lo) && isfinite(ci->alpha_hi)) {
      ci->bca_lo = quantile(v, n, ci->alpha_lo);
      ci->bca_hi = quantile(v, n, ci->alpha_hi);
    }
  }
  free(v);
  return RKIN_OK;
}
