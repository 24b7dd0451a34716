/* tac_model.c - the candidate curves: values, derivatives, integrals, and
 * the small numerical helpers the fits share. */
#include "tac/tac_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_linalg.h>

static const tac_shape shapes[RKIN_TAC_NMODELS] = {
  {2, {0, 1}, {0, -1}},                   /* mono: A, l */
  {4, {0, 1, 0, 1}, {0, -1, 0, 1}},       /* bi: A1, l1, A2, l2 */
  {3, {0, 1, 1}, {0, -1, 1}},             /* upwash: A, lw, lu */
  {5, {0, 1, 0, 1, 1}, {0, -1, 0, 1, 3}}, /* tri: A1, l1, A2, l2, l3 */
  {0, {0}, {0}}                           /* trapezoid */
};

static const char *const names[RKIN_TAC_NMODELS] = {
  "mono", "bi", "upwash", "tri", "trapezoid"
};

static const char *const par_names[RKIN_TAC_NMODELS][RKIN_TAC_MAX_PAR] = {
  {"A", "l"}, {"A1", "l1", "A2", "l2"}, {"A", "lw", "lu"},
  {"A1", "l1", "A2", "l2", "l3"}, {NULL}
};

static const char *const warn_names[RKIN_TAC_NWARN] = {
  "held_at_physical", "rising_last_point", "not_converged", "fallback",
  "aicc_undefined", "no_se", "degenerate", "extrapolated", "not_eligible",
  "not_tried", "multimodal"
};

const char *rkin_tac_warn_name(unsigned bit)
{
  int j;
  for (j = 0; j < RKIN_TAC_NWARN; j++)
    if (bit == 1u << j) return warn_names[j];
  return NULL;
}

const tac_shape *tac_shape_of(rkin_tac_model m)
{
  return &shapes[m];
}

const char *rkin_tac_model_name(rkin_tac_model m)
{
  return (unsigned)m < RKIN_TAC_NMODELS ? names[m] : "?";
}

int rkin_tac_model_npar(rkin_tac_model m)
{
  return (unsigned)m < RKIN_TAC_NMODELS ? shapes[m].np : 0;
}

const char *rkin_tac_par_name(rkin_tac_model m, int j)
{
  if ((unsigned)m >= RKIN_TAC_NMODELS || j < 0 || j >= shapes[m].np)
    return NULL;
  return par_names[m][j];
}

int rkin_tac_model_find(const char *name, rkin_tac_model *m, rkin_err *err)
{
  int i;
  for (i = 0; name && i < RKIN_TAC_NMODELS; i++)
    if (strcmp(name, names[i]) == 0) {
      *m = (rkin_tac_model)i;
      return 0;
    }
  return rkin_err_set(err, RKIN_ENOTFOUND,
                      "unknown TAC model '%s' (expected mono, bi, upwash, "
                      "tri or trapezoid)", name ? name : "(null)");
}

double tac_eval(rkin_tac_model m, const double *p, double t, double *d)
{
  double e1, e2, e3;
  switch (m) {
  case RKIN_TAC_MONO:
    e1 = exp(-p[1] * t);
    if (d) {
      d[0] = e1;
      d[1] = -t * p[0] * e1;
    }
    return p[0] * e1;
  case RKIN_TAC_BI:
    e1 = exp(-p[1] * t);
    e2 = exp(-p[3] * t);
    if (d) {
      d[0] = e1;
      d[1] = -t * p[0] * e1;
      d[2] = e2;
      d[3] = -t * p[2] * e2;
    }
    return p[0] * e1 + p[2] * e2;
  case RKIN_TAC_UPWASH:
    e1 = exp(-p[1] * t);
    e2 = exp(-p[2] * t);
    if (d) {
      d[0] = e1 - e2;
      d[1] = -t * p[0] * e1;
      d[2] = t * p[0] * e2;
    }
    return p[0] * (e1 - e2);
  case RKIN_TAC_TRI:
    e1 = exp(-p[1] * t);
    e2 = exp(-p[3] * t);
    e3 = exp(-p[4] * t);
    if (d) {
      d[0] = e1 - e3;
      d[1] = -t * p[0] * e1;
      d[2] = e2 - e3;
      d[3] = -t * p[2] * e2;
      d[4] = t * (p[0] + p[2]) * e3;
    }
    return p[0] * e1 + p[2] * e2 - (p[0] + p[2]) * e3;
  default:
    return NAN;
  }
}

double rkin_tac_curve(rkin_tac_model m, const double *p, double t)
{
  return tac_eval(m, p, t, NULL);
}

/* One term c e^(-l t) integrated over [t0, inf): value, d/dc, d/dl. */
static double term(double c, double l, double t0, double *dc, double *dl)
{
  double e = exp(-l * t0);
  *dc = e / l;
  *dl = -c * e * (t0 / l + 1.0 / (l * l));
  return c * e / l;
}

double tac_integral_from(rkin_tac_model m, const double *p, double t0,
                         double *g)
{
  double v = 0, dc1, dl1, dc2, dl2, dc3, dl3, gg[RKIN_TAC_MAX_PAR];
  if (!g) g = gg;
  switch (m) {
  case RKIN_TAC_MONO:
    v = term(p[0], p[1], t0, &g[0], &g[1]);
    break;
  case RKIN_TAC_BI:
    v = term(p[0], p[1], t0, &g[0], &g[1]) + term(p[2], p[3], t0, &g[2],
                                                  &g[3]);
    break;
  case RKIN_TAC_UPWASH:
    v = term(p[0], p[1], t0, &dc1, &g[1]) - term(p[0], p[2], t0, &dc2, &dl2);
    g[0] = dc1 - dc2;
    g[2] = -dl2;
    break;
  case RKIN_TAC_TRI:
    v = term(p[0], p[1], t0, &dc1, &dl1) + term(p[2], p[3], t0, &dc2, &dl2)
        - term(p[0] + p[2], p[4], t0, &dc3, &dl3);
    g[0] = dc1 - dc3;
    g[1] = dl1;
    g[2] = dc2 - dc3;
    g[3] = dl2;
    g[4] = -dl3;
    break;
  default:
    return NAN;
  }
  return v;
}

double rkin_tac_integral(rkin_tac_model m, const double *p)
{
  return tac_integral_from(m, p, 0.0, NULL);
}

void tac_weights(const rkin_tac_data *d, double cv, double *w)
{
  double floor_a = HUGE_VAL, c = cv > 0 ? cv : 1.0;
  size_t i;
  if (d->sd) {
    for (i = 0; i < d->n; i++) w[i] = 1.0 / (d->sd[i] * d->sd[i]);
    return;
  }
  for (i = 0; i < d->n; i++)
    if (d->a[i] > 0 && d->a[i] < floor_a) floor_a = d->a[i];
  for (i = 0; i < d->n; i++) {
    double s = c * (d->a[i] > 0 ? d->a[i] : floor_a);
    w[i] = 1.0 / (s * s);
  }
}

int rkin_tac_band(const rkin_tac_cand *c, double level, const double *t,
                  size_t n, double *lo, double *hi, rkin_err *err)
{
  double d[RKIN_TAC_MAX_PAR], z;
  size_t i;
  int j, k;
  if (!c->has_cov || c->status != RKIN_TAC_OK)
    return rkin_err_set(err, RKIN_EINVAL, "%s: no covariance of the "
                        "parameters (not fitted, a trapezoid, or no SE): "
                        "no confidence band", rkin_tac_model_name(c->model));
  if (!(level > 0 && level < 1))
    return rkin_err_set(err, RKIN_EINVAL, "confidence band: level = %g, "
                        "expected 0 < level < 1", level);
  z = tac_quantile(level, c->dof);
  for (i = 0; i < n; i++) {
    double f, v = 0;
    if (!isfinite(t[i]) || t[i] < 0)
      return rkin_err_set(err, RKIN_EINVAL, "confidence band: t[%zu] = %g "
                          "h, expected a time >= 0", i + 1, t[i]);
    f = tac_eval(c->model, c->p, t[i], d);
    for (j = 0; j < c->np; j++)
      for (k = 0; k < c->np; k++) v += d[j] * c->cov[j * c->np + k] * d[k];
    v = sqrt(v > 0 ? v : 0);
    lo[i] = f - z * v;
    hi[i] = f + z * v;
  }
  return RKIN_OK;
}

double tac_quantile(double level, double dof)
{
  double p = 0.5 + 0.5 * level;
  return dof > 0 ? gsl_cdf_tdist_Pinv(p, dof) : gsl_cdf_ugaussian_Pinv(p);
}

int tac_covariance(double *b, size_t rows, size_t q, double *cov)
{
  double v[RKIN_TAC_MAX_PAR * RKIN_TAC_MAX_PAR], s[RKIN_TAC_MAX_PAR],
      work[RKIN_TAC_MAX_PAR];
  gsl_matrix_view bm = gsl_matrix_view_array(b, rows, q);
  gsl_matrix_view vm = gsl_matrix_view_array(v, q, q);
  gsl_vector_view sv = gsl_vector_view_array(s, q);
  gsl_vector_view wv = gsl_vector_view_array(work, q);
  size_t i, j, k;

  if (q == 0) return 0;
  for (i = 0; i < rows * q; i++)
    if (!isfinite(b[i])) return -1;
  if (gsl_linalg_SV_decomp(&bm.matrix, &vm.matrix, &sv.vector, &wv.vector))
    return -1;
  if (!(s[q - 1] > 1e-12 * s[0])) return -1;
  for (i = 0; i < q; i++)
    for (j = 0; j < q; j++) {
      double acc = 0;
      for (k = 0; k < q; k++) acc += v[i * q + k] * v[j * q + k] / (s[k] * s[k]);
      cov[i * q + j] = acc;
    }
  return 0;
}

void tac_note(char *buf, size_t size, const char *fmt, ...)
{
  size_t len = strlen(buf);
  va_list ap;
  if (len > 0 && len + 2 < size) {
    memcpy(buf + len, "; ", 3);
    len += 2;
  }
  if (len + 1 >= size) return;
  va_start(ap, fmt);
  vsnprintf(buf + len, size - len, fmt, ap);
  va_end(ap);
}
