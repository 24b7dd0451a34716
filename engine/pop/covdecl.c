/* covdecl.c - declared covariates checked against a dataset. */
#include "pop/covdecl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int rkin_covdecl_check(const rkin_covdecl *c, rkin_err *err)
{
  size_t i, j;
  if (!c || !c->name || !c->name[0])
    return rkin_err_set(err, RKIN_EINVAL, "covariate declaration without "
                        "a name");
  if (!c->categorical) {
    if (!(isfinite(c->lo) && isfinite(c->hi) && c->lo <= c->hi))
      return rkin_err_set(err, RKIN_EINVAL, "covariate %s: range [%g, %g] "
                          "is invalid (expected finite lo <= hi)", c->name,
                          c->lo, c->hi);
    return RKIN_OK;
  }
  if (!c->levels || c->n_levels == 0)
    return rkin_err_set(err, RKIN_EINVAL, "covariate %s: categorical "
                        "without levels (expected at least one value)",
                        c->name);
  for (i = 0; i < c->n_levels; i++) {
    if (!isfinite(c->levels[i]))
      return rkin_err_set(err, RKIN_EINVAL, "covariate %s: level %zu = %g "
                          "is not finite", c->name, i + 1, c->levels[i]);
    for (j = 0; j < i; j++)
      if (c->levels[j] == c->levels[i])
        return rkin_err_set(err, RKIN_EINVAL, "covariate %s: level %g is "
                            "given twice", c->name, c->levels[i]);
  }
  return RKIN_OK;
}

/* The declared set, for messages: "[20, 200] kg" or "{0, 1}". */
static void describe(const rkin_covdecl *c, char *buf, size_t size)
{
  size_t i, len;
  const char *u = c->unit && c->unit[0] ? c->unit : NULL;
  if (!c->categorical) {
    snprintf(buf, size, "range [%g, %g]%s%s", c->lo, c->hi, u ? " " : "",
             u ? u : "");
    return;
  }
  snprintf(buf, size, "levels {");
  for (i = 0; i < c->n_levels; i++) {
    len = strlen(buf);
    if (len + 24 >= size) {
      snprintf(buf + len, size - len, ", ...");
      break;
    }
    snprintf(buf + len, size - len, "%s%g", i ? ", " : "", c->levels[i]);
  }
  len = strlen(buf);
  snprintf(buf + len, size - len, "}%s%s", u ? " " : "", u ? u : "");
}

static int allowed(const rkin_covdecl *c, double v)
{
  size_t i;
  if (!c->categorical) return v >= c->lo && v <= c->hi;
  for (i = 0; i < c->n_levels; i++)
    if (v == c->levels[i]) return 1;
  return 0;
}

int rkin_data_check_covdecl(const rkin_data *d, const rkin_covdecl *decl,
                            size_t n, rkin_err *err)
{
  size_t k, s, r, nc = rkin_data_ncovariates(d);
  char what[256];
  int rc;
  for (k = 0; k < n; k++) {
    const rkin_covdecl *c = &decl[k];
    int col;
    if ((rc = rkin_covdecl_check(c, err))) return rc;
    if ((col = rkin_data_covariate_index(d, c->name, err)) < 0)
      return rkin_err_prefix(err, "declared covariate %s: ", c->name);
    for (s = 0; s < rkin_data_nsubjects(d); s++) {
      const rkin_data_subject *sj = rkin_data_subject_at(d, s);
      for (r = 0; r < sj->n_rec; r++) {
        double v = sj->rec_cov[r * nc + (size_t)col];
        if (isnan(v) || allowed(c, v)) continue;
        describe(c, what, sizeof what);
        return rkin_err_set(err, RKIN_EINVAL, "%s:%zu: column %d (%s): %g "
                            "(subject ID %g) is outside the declared %s of "
                            "covariate %s", rkin_data_name(d),
                            sj->rec_line[r],
                            rkin_data_covariate_column(d, (size_t)col),
                            rkin_data_covariate_name(d, (size_t)col), v,
                            sj->id, what, c->name);
      }
    }
  }
  return RKIN_OK;
}
