/* vpop_csv.c - a per-patient table (covariates, optional parameter
 * columns) read from a CSV file for a population model, through the
 * project's CSV tokenizer (core/csv.h), and checked against the
 * population: covariates in their declared ranges, IDs unique. */
#include "pop/vpop.h"

#include "core/csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column of each wanted name in the header (-1: absent). */
static int map_columns(char **head, size_t nh, size_t n,
                       const char *const *names, int *col)
{
  size_t k, h;
  for (k = 0; k < n; k++) {
    col[k] = -1;
    for (h = 0; h < nh; h++)
      if (!strcmp(head[h], names[k])) col[k] = (int)h;
  }
  return 0;
}

static void header_list(char **head, size_t nh, char *buf, size_t size)
{
  size_t h;
  buf[0] = '\0';
  for (h = 0; h < nh && strlen(buf) + 8 < size; h++) {
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%s%s", h ? ", " : "", head[h]);
  }
}

int rkin_pop_read_csv(const char *path, size_t n_need,
                      const char *const *need, size_t n_want,
                      const char *const *want, int *found, size_t *n_rows,
                      double **values, size_t **lines, rkin_err *err)
{
  rkin_csv_opts co = {',', "#"};
  rkin_csv *rd = NULL;
  rkin_csv_record rec;
  char *text = NULL, **head = NULL;
  size_t nh = 0, nw = n_need + n_want, rows = 0, cap = 0, lineno, k, tlen;
  int *col = NULL, rc = RKIN_OK, more;
  double *v = NULL;
  size_t *ln = NULL;
  char list[400];

  *values = NULL;
  if (lines) *lines = NULL;
  *n_rows = 0;
  if ((rc = rkin_csv_slurp(path, &text, &tlen, err))) {
    int e = errno;
    if (rc == RKIN_EIO)
      rkin_err_set(err, rc, "cannot read '%s': %s", path, strerror(e));
    return rc;
  }
  if (!(rd = rkin_csv_open(text, tlen, path, &co, err))) {
    free(text);
    return err ? err->code : RKIN_ENOMEM;
  }
  if ((more = rkin_csv_next(rd, &rec, err)) <= 0) {
    rc = more < 0 ? more
                  : rkin_err_set(err, RKIN_EINVAL, "%s: no header line (a "
                                 "CSV file with one column per covariate "
                                 "is expected)", path);
    goto done;
  }
  nh = rec.n;
  lineno = rec.line;
  head = calloc(nh, sizeof *head);
  col = calloc(nw + 1, sizeof *col);
  if (!head || !col) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
    goto done;
  }
  for (k = 0; k < nh; k++)
    if (!(head[k] = strdup(rec.field[k]))) {
      rc = rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
      goto done;
    }
  header_list(head, nh, list, sizeof list);
  map_columns(head, nh, n_need, need, col);
  map_columns(head, nh, n_want, want, col + n_need);
  for (k = 0; k < n_need; k++)
    if (col[k] < 0) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column '%s' is missing "
                        "(the header has: %s)", path, lineno, need[k], list);
      goto done;
    }
  for (k = 0; k < n_want; k++)
    if (found) found[k] = col[n_need + k] >= 0;

  while ((more = rkin_csv_next(rd, &rec, err)) == 1) {
    lineno = rec.line;
    if (rec.n != nh) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: %zu fields, but the "
                        "header has %zu columns", path, lineno, rec.n, nh);
      goto done;
    }
    if (rows == cap) {
      size_t nc = cap ? 2 * cap : 64;
      double *v2 = realloc(v, nc * (nw ? nw : 1) * sizeof *v);
      size_t *l2;
      if (v2) v = v2;
      l2 = v2 ? realloc(ln, nc * sizeof *ln) : NULL;
      if (!v2 || !l2) {
        rc = rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
        goto done;
      }
      ln = l2;
      cap = nc;
    }
    for (k = 0; k < nw; k++) {
      const char *s, *name = k < n_need ? need[k] : want[k - n_need];
      char *end;
      double x;
      if (col[k] < 0) {
        v[rows * nw + k] = NAN;
        continue;
      }
      s = rec.field[col[k]];
      if (!*s) {
        rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column '%s' is empty "
                          "(a number is required)", path, lineno, name);
        goto done;
      }
      errno = 0;
      x = strtod(s, &end);
      if (*end || !isfinite(x) || errno == ERANGE) {
        rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column '%s' must be a "
                          "finite number (got \"%s\")", path, lineno, name,
                          s);
        goto done;
      }
      v[rows * nw + k] = x;
    }
    ln[rows++] = lineno;
  }
  if (more < 0) {
    rc = more;
    goto done;
  }
  if (!rows) {
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: no patient rows after the "
                      "header", path);
    goto done;
  }
  *values = v;
  *n_rows = rows;
  if (lines) *lines = ln;
  else free(ln);
  v = NULL;
  ln = NULL;

done:
  rkin_csv_close(rd);
  free(v);
  free(ln);
  free(col);
  for (k = 0; head && k < nh; k++) free(head[k]);
  free(head);
  free(text);
  return rc;
}

/* (id, line) pairs, sorted by id then line. */
typedef struct {
  double id;
  size_t line;
} id_line;

static int id_line_cmp(const void *a, const void *b)
{
  const id_line *x = a, *y = b;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  return x->line < y->line ? -1 : x->line > y->line;
}

int rkin_pop_check_table(const rkin_pop_spec *ps, const char *path,
                         const double *values, size_t n_rows, size_t stride,
                         const size_t *lines, long id_col, rkin_err *err)
{
  size_t i, k;
  if (!ps || (!values && n_rows) || !lines || stride < ps->n_cov)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_pop_check_table: bad "
                        "arguments");
  if (!path) path = "(table)";
  for (i = 0; ps->cov && i < n_rows; i++)
    for (k = 0; k < ps->n_cov; k++) {
      const rkin_covdist *c = &ps->cov[k];
      double x = values[i * stride + k];
      if (x < c->lo || x > c->hi)
        return rkin_err_set(err, RKIN_ERANGE, "%s:%zu: column '%s' = %g is "
                            "outside the range the population declares for "
                            "it, [%g, %g] (a unit mistake? or widen min/max "
                            "in the population)", path, lines[i],
                            ps->cov_names && ps->cov_names[k]
                            ? ps->cov_names[k] : c->name ? c->name : "?",
                            x, c->lo, c->hi);
    }
  if (id_col >= 0 && n_rows > 1) {
    id_line *p = malloc(n_rows * sizeof *p);
    if (!p) return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
    for (i = 0; i < n_rows; i++) {
      p[i].id = values[i * stride + (size_t)id_col];
      p[i].line = lines[i];
    }
    qsort(p, n_rows, sizeof *p, id_line_cmp);
    /* the first repeat in file order: the smallest later line */
    {
      size_t best = n_rows;
      for (i = 1; i < n_rows; i++)
        if (p[i].id == p[i - 1].id
            && (best == n_rows || p[i].line < p[best].line))
          best = i;
      if (best < n_rows) {
        size_t first = best;
        while (first > 0 && p[first - 1].id == p[best].id) first--;
        rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column 'id': %g appears "
                     "again (first at line %zu); each patient needs its own "
                     "id", path, p[best].line, p[best].id, p[first].line);
        free(p);
        return RKIN_EINVAL;
      }
    }
    free(p);
  }
  return RKIN_OK;
}
