/* dosimetry.c - local energy deposition, S-value tables, mass scaling. */
#include "dose/dosimetry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rkin_stable {
  size_t n;
  char **name;   /* n region names, row order of the user's table */
  double *s;     /* s[src * n + tgt], Gy/(MBq h) */
};

static const char *label(const char *region)
{
  return region && region[0] ? region : "region";
}

static int check_mass(double m, const char *field, const char *region,
                      rkin_err *err)
{
  if (!isfinite(m) || m <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "%s: %s = %g, expected > 0",
                        label(region), field, m);
  return RKIN_OK;
}

int rkin_dosimetry_s_led(const rkin_nuclide *nuc, double mass_kg,
                         const char *region, double *s_gy_per_mbqh,
                         rkin_err *err)
{
  int rc;
  if (!nuc)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no nuclide given",
                        label(region));
  if ((rc = check_mass(mass_kg, "mass_kg", region, err))) return rc;
  *s_gy_per_mbqh = rkin_nuclide_j_per_mbqh(nuc) / mass_kg;
  return RKIN_OK;
}

int rkin_dosimetry_led(const rkin_nuclide *nuc, double tia_mbqh,
                       double mass_kg, const char *region, double *dose_gy,
                       rkin_err *err)
{
  double s;
  int rc;
  if (!isfinite(tia_mbqh) || tia_mbqh < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: tia_MBqh = %g, expected a finite value >= 0",
                        label(region), tia_mbqh);
  if ((rc = rkin_dosimetry_s_led(nuc, mass_kg, region, &s, err))) return rc;
  *dose_gy = tia_mbqh * s;
  return RKIN_OK;
}

int rkin_dosimetry_scale_self(double s_e, double s_p, double m_ref_kg,
                              double m_kg, const char *region, double *s,
                              rkin_err *err)
{
  double ratio;
  int rc;
  if (!isfinite(s_e) || s_e < 0.0 || !isfinite(s_p) || s_p < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "%s: S values (electron %g, photon %g Gy/(MBq h)) "
                        "must be finite and >= 0", label(region), s_e, s_p);
  if ((rc = check_mass(m_ref_kg, "reference mass_kg", region, err)))
    return rc;
  if ((rc = check_mass(m_kg, "mass_kg", region, err))) return rc;
  ratio = m_ref_kg / m_kg;
  if (ratio > RKIN_DOSIMETRY_SCALE_MAX ||
      ratio < 1.0 / RKIN_DOSIMETRY_SCALE_MAX)
    return rkin_err_set(err, RKIN_ERANGE,
                        "%s: mass %g kg is %g times the reference %g kg; "
                        "mass scaling is limited to a factor %g (use a "
                        "sphere model or a matching phantom)",
                        label(region), m_kg, 1.0 / ratio, m_ref_kg,
                        RKIN_DOSIMETRY_SCALE_MAX);
  *s = s_e * ratio + s_p * pow(ratio, 2.0 / 3.0);
  return RKIN_OK;
}

/* ------------------------------------------------------------ S tables */

void rkin_stable_free(rkin_stable *t)
{
  size_t i;
  if (!t) return;
  if (t->name)
    for (i = 0; i < t->n; i++) free(t->name[i]);
  free(t->name);
  free(t->s);
  free(t);
}

static long find_name(const char *const *names, size_t n, const char *want)
{
  size_t i;
  for (i = 0; i < n; i++)
    if (!strcmp(names[i], want)) return (long)i;
  return -1;
}

/* Names must be present, non-empty and distinct within their list. */
static int check_names(const char *const *names, size_t n, const char *what,
                       rkin_err *err)
{
  size_t i;
  if (!names)
    return rkin_err_set(err, RKIN_EINVAL, "S table: no %s names given",
                        what);
  for (i = 0; i < n; i++) {
    if (!names[i] || !names[i][0])
      return rkin_err_set(err, RKIN_EINVAL,
                          "S table: %s %zu has an empty region name", what,
                          i + 1);
    if (find_name(names, i, names[i]) >= 0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "S table: %s region '%s' appears twice (%s %zu)",
                          what, names[i], what, i + 1);
  }
  return RKIN_OK;
}

static int check_shape(size_t n_rows, const char *const *rows, size_t n_cols,
                       const char *const *cols, const double *s, size_t n_s,
                       rkin_err *err)
{
  size_t i;
  int rc;
  if (n_rows == 0)
    return rkin_err_set(err, RKIN_EINVAL, "S table: no rows");
  if (n_rows != n_cols)
    return rkin_err_set(err, RKIN_EINVAL,
                        "S table: not square, %zu source rows and %zu "
                        "target columns; expected the same regions as "
                        "sources and targets", n_rows, n_cols);
  if (!s || n_s != n_rows * n_cols)
    return rkin_err_set(err, RKIN_EINVAL,
                        "S table: %zu values for %zu rows x %zu columns "
                        "(expected %zu)", s ? n_s : 0, n_rows, n_cols,
                        n_rows * n_cols);
  if ((rc = check_names(rows, n_rows, "row", err))) return rc;
  if ((rc = check_names(cols, n_cols, "column", err))) return rc;
  for (i = 0; i < n_cols; i++)
    if (find_name(rows, n_rows, cols[i]) < 0)
      return rkin_err_set(err, RKIN_ENOTFOUND,
                          "S table: column %zu target region '%s' has no "
                          "source row; expected the same regions as rows "
                          "and columns", i + 1, cols[i]);
  for (i = 0; i < n_s; i++)
    if (!isfinite(s[i]) || s[i] < 0.0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "S table: S(%s <- %s) = %g Gy/(MBq h) (row %zu, "
                          "column %zu), expected a finite value >= 0",
                          cols[i % n_cols], rows[i / n_cols], s[i],
                          i / n_cols + 1, i % n_cols + 1);
  return RKIN_OK;
}

int rkin_stable_new(size_t n_rows, const char *const *rows, size_t n_cols,
                    const char *const *cols, const double *s, size_t n_s,
                    rkin_stable **out, rkin_err *err)
{
  rkin_stable *t = NULL;
  size_t i, j;
  int rc;
  *out = NULL;
  if ((rc = check_shape(n_rows, rows, n_cols, cols, s, n_s, err))) return rc;
  t = calloc(1, sizeof *t);
  if (!t) goto nomem;
  t->n = n_rows;
  t->name = calloc(n_rows, sizeof *t->name);
  t->s = malloc(n_rows * n_rows * sizeof *t->s);
  if (!t->name || !t->s) goto nomem;
  for (i = 0; i < n_rows; i++) {
    size_t len = strlen(rows[i]) + 1;
    if (!(t->name[i] = malloc(len))) goto nomem;
    memcpy(t->name[i], rows[i], len);
  }
  /* Columns are put in row order so that S is indexed by one region list. */
  for (j = 0; j < n_cols; j++) {
    size_t tj = (size_t)find_name(rows, n_rows, cols[j]);
    for (i = 0; i < n_rows; i++) t->s[i * n_rows + tj] = s[i * n_cols + j];
  }
  *out = t;
  return RKIN_OK;
nomem:
  rkin_stable_free(t);
  return rkin_err_set(err, RKIN_ENOMEM, "S table: out of memory");
}

size_t rkin_stable_size(const rkin_stable *t) { return t ? t->n : 0; }

const char *rkin_stable_region(const rkin_stable *t, size_t i)
{
  return t && i < t->n ? t->name[i] : NULL;
}

int rkin_stable_index(const rkin_stable *t, const char *region, size_t *i,
                      rkin_err *err)
{
  char known[256] = "";
  long k;
  size_t j;
  if (!t || !region)
    return rkin_err_set(err, RKIN_EINVAL, "S table: no table or region");
  k = find_name((const char *const *)t->name, t->n, region);
  if (k >= 0) {
    *i = (size_t)k;
    return RKIN_OK;
  }
  for (j = 0; j < t->n; j++) {
    strncat(known, j ? ", " : "", sizeof known - strlen(known) - 1);
    strncat(known, t->name[j], sizeof known - strlen(known) - 1);
  }
  return rkin_err_set(err, RKIN_ENOTFOUND,
                      "S table: unknown region '%s' (known: %s)", region,
                      known);
}

int rkin_stable_get(const rkin_stable *t, const char *source,
                    const char *target, double *s, rkin_err *err)
{
  size_t i, j;
  int rc;
  if ((rc = rkin_stable_index(t, source, &i, err))) return rc;
  if ((rc = rkin_stable_index(t, target, &j, err))) return rc;
  *s = t->s[i * t->n + j];
  return RKIN_OK;
}

int rkin_stable_dose(const rkin_stable *t, size_t n,
                     const char *const *sources, const double *tia_mbqh,
                     const char *target, double *dose_gy, rkin_err *err)
{
  size_t j, i, k;
  double d = 0.0;
  int rc;
  if ((rc = rkin_stable_index(t, target, &j, err))) return rc;
  if (n && (!sources || !tia_mbqh))
    return rkin_err_set(err, RKIN_EINVAL, "S table: no sources given");
  for (k = 0; k < n; k++) {
    if ((rc = rkin_stable_index(t, sources[k], &i, err)))
      return rkin_err_prefix(err, "source %zu: ", k + 1);
    if (!isfinite(tia_mbqh[k]) || tia_mbqh[k] < 0.0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "S table: source '%s' tia_MBqh = %g, expected a "
                          "finite value >= 0", sources[k], tia_mbqh[k]);
    d += tia_mbqh[k] * t->s[i * t->n + j];
  }
  *dose_gy = d;
  return RKIN_OK;
}
