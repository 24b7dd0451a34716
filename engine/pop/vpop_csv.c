/* vpop_csv.c - a per-patient table (covariates, optional parameter
 * columns) read from a CSV file for a population model. */
#include "pop/vpop.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits a line in place at commas; trims blanks and one pair of
 * surrounding double quotes. Returns the number of fields (at most max). */
static size_t split(char *line, char **field, size_t max)
{
  size_t n = 0;
  char *p = line;
  for (;;) {
    char *end = strchr(p, ',');
    char *s = p, *e;
    if (end) *end = '\0';
    while (isspace((unsigned char)*s)) s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    if (e - s >= 2 && *s == '"' && e[-1] == '"') {
      e[-1] = '\0';
      s++;
    }
    if (n < max) field[n] = s;
    n++;
    if (!end) break;
    p = end + 1;
  }
  return n;
}

static int read_file(const char *path, char **text, rkin_err *err)
{
  FILE *f = fopen(path, "rb");
  size_t cap = 8192, len = 0, got;
  char *buf;
  if (!f)
    return rkin_err_set(err, RKIN_EIO, "cannot read '%s': %s", path,
                        strerror(errno));
  buf = malloc(cap);
  while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += got;
    if (len + 1 == cap) {
      char *b = realloc(buf, cap * 2);
      if (!b) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = b;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf)
    return rkin_err_set(err, RKIN_ENOMEM, "cannot read '%s': out of memory",
                        path);
  buf[len] = '\0';
  *text = buf;
  return RKIN_OK;
}

/* Next line (without its end) from *p; NULL at the end. */
static char *next_line(char **p)
{
  char *s = *p, *e;
  if (!*s) return NULL;
  e = s + strcspn(s, "\r\n");
  if (*e == '\r' && e[1] == '\n') *e++ = '\0';
  if (*e) *e++ = '\0';
  *p = e;
  return s;
}

static int blank(const char *s)
{
  while (isspace((unsigned char)*s)) s++;
  return !*s || *s == '#';
}

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
  char *text = NULL, *p, *line, **head = NULL, **cell = NULL;
  size_t nh = 0, nw = n_need + n_want, rows = 0, cap = 0, lineno = 0, k;
  int *col = NULL, rc = RKIN_OK;
  double *v = NULL;
  size_t *ln = NULL;
  char list[400];

  *values = NULL;
  if (lines) *lines = NULL;
  *n_rows = 0;
  if ((rc = read_file(path, &text, err))) return rc;
  p = text;
  while ((line = next_line(&p)) != NULL) {
    lineno++;
    if (!blank(line)) break;
  }
  if (!line) {
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: no header line (a CSV file "
                      "with one column per covariate is expected)", path);
    goto done;
  }
  for (nh = 1, k = 0; line[k]; k++) nh += line[k] == ',';
  head = calloc(nh, sizeof *head);
  cell = calloc(nh, sizeof *cell);
  col = calloc(nw + 1, sizeof *col);
  if (!head || !cell || !col) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
    goto done;
  }
  split(line, head, nh);
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

  while ((line = next_line(&p)) != NULL) {
    size_t nf;
    lineno++;
    if (blank(line)) continue;
    nf = split(line, cell, nh);
    if (nf != nh) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: %zu fields, but the "
                        "header has %zu columns", path, lineno, nf, nh);
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
      s = cell[col[k]];
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
  free(v);
  free(ln);
  free(col);
  free(cell);
  free(head);
  free(text);
  return rc;
}
