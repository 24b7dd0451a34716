/* phantom.c - the synthetic SPECT/CT phantom (see phantom.h). */
#include "image/phantom.h"

#include <math.h>
#include <string.h>

/* Organ shapes as fractions of the half extents (centre, semi-axes); the
 * spine is a cylinder along z (its z semi-axis unused). NIfTI's RAS+
 * world: +x toward the patient's right, +y anterior, +z superior. */
static const struct {
  double c[3], a[3];
} shape[RKIN_PH_N_ORGANS] = {
  {{0, 0, 0}, {0.9, 0.7, 0.9}},            /* body */
  {{0.35, 0.05, 0.3}, {0.35, 0.4, 0.25}},  /* liver */
  {{0.35, -0.4, -0.2}, {0.1, 0.1, 0.2}},   /* right kidney */
  {{-0.35, -0.4, -0.2}, {0.1, 0.1, 0.2}},  /* left kidney */
  {{-0.45, -0.15, 0.3}, {0.12, 0.12, 0.15}},/* spleen */
  {{0, -0.55, 0}, {0.08, 0.08, 1.0}},      /* spine (cylinder) */
};

static const double hu_of[RKIN_PH_N_ORGANS] = {40, 55, 30, 30, 45, 700};

void rkin_phantom_default(rkin_phantom *p, size_t n, double spacing_mm)
{
  int a;
  memset(p, 0, sizeof *p);
  for (a = 0; a < 3; a++) {
    p->n[a] = n;
    p->spacing_mm[a] = spacing_mm;
  }
  p->organ[RKIN_PH_BODY - 1] = (rkin_phantom_tac){5e3, 0.05, 0.0};
  p->organ[RKIN_PH_LIVER - 1] = (rkin_phantom_tac){2e4, 0.02, 0.5};
  p->organ[RKIN_PH_KIDNEY_R - 1] = (rkin_phantom_tac){6e4, 0.015, 0.3};
  p->organ[RKIN_PH_KIDNEY_L - 1] = (rkin_phantom_tac){6e4, 0.015, 0.3};
  p->organ[RKIN_PH_SPLEEN - 1] = (rkin_phantom_tac){3e4, 0.02, 0.4};
  p->organ[RKIN_PH_SPINE - 1] = (rkin_phantom_tac){5e3, 0.05, 0.0};
  p->n_spheres = 1;
  p->sphere[0].radius_mm = 15.0;
  for (a = 0; a < 3; a++)
    p->sphere[0].centre_mm[a] = shape[RKIN_PH_LIVER - 1].c[a] * 0.5 *
                                (double)n * spacing_mm;
  p->sphere[0].tac = (rkin_phantom_tac){2e5, 0.01, 0.2};
}

static int check_tac(const rkin_phantom_tac *c, const char *what, int idx,
                     rkin_err *err)
{
  if (!isfinite(c->c0) || c->c0 < 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "phantom %s %d: c0 = %g Bq/mL "
                        "(expected a finite concentration >= 0)", what, idx,
                        c->c0);
  if (!isfinite(c->lambda_h) || c->lambda_h <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "phantom %s %d: lambda = %g /h "
                        "(expected a finite clearance rate > 0)", what, idx,
                        c->lambda_h);
  if (!isfinite(c->uptake_h) || c->uptake_h < 0.0 ||
      (c->uptake_h > 0.0 && c->uptake_h <= c->lambda_h))
    return rkin_err_set(err, RKIN_EINVAL, "phantom %s %d: uptake = %g /h "
                        "(expected 0, or more than lambda = %g)", what, idx,
                        c->uptake_h, c->lambda_h);
  return RKIN_OK;
}

int rkin_phantom_grid(const rkin_phantom *p, rkin_grid *g, rkin_err *err)
{
  size_t s;
  int a, rc;
  rkin_grid_init(g, p->n[0], p->n[1], p->n[2], p->spacing_mm[0],
                 p->spacing_mm[1], p->spacing_mm[2]);
  for (a = 0; a < 3; a++)
    g->origin[a] = -0.5 * (double)(p->n[a] - 1) * p->spacing_mm[a];
  if ((rc = rkin_grid_check(g, "phantom", err)) < 0) return rc;
  for (a = 0; a < RKIN_PH_N_ORGANS; a++)
    if ((rc = check_tac(&p->organ[a], "organ", a + 1, err)) < 0) return rc;
  if (p->n_spheres > RKIN_PH_MAX_SPHERES)
    return rkin_err_set(err, RKIN_EINVAL, "phantom: %zu spheres (at most %d)",
                        p->n_spheres, RKIN_PH_MAX_SPHERES);
  for (s = 0; s < p->n_spheres; s++) {
    if ((rc = check_tac(&p->sphere[s].tac, "sphere", (int)s + 1, err)) < 0)
      return rc;
    if (!(p->sphere[s].radius_mm > 0.0) || !isfinite(p->sphere[s].radius_mm))
      return rkin_err_set(err, RKIN_EINVAL, "phantom sphere %zu: radius %g mm "
                          "(expected > 0)", s + 1, p->sphere[s].radius_mm);
    for (a = 0; a < 3; a++) {
      double half = 0.5 * (double)p->n[a] * p->spacing_mm[a];
      if (!(fabs(p->sphere[s].centre_mm[a]) + p->sphere[s].radius_mm <= half))
        return rkin_err_set(err, RKIN_EINVAL, "phantom sphere %zu (radius %g "
                            "mm) reaches outside the field of view along axis "
                            "%d (half extent %g mm)", s + 1,
                            p->sphere[s].radius_mm, a + 1, half);
    }
  }
  return RKIN_OK;
}

static int label_at(const rkin_phantom *p, const double x[3])
{
  double h[3];
  size_t s;
  int a, o;
  for (a = 0; a < 3; a++) h[a] = 0.5 * (double)p->n[a] * p->spacing_mm[a];
  for (s = 0; s < p->n_spheres; s++) {
    double d2 = 0.0;
    for (a = 0; a < 3; a++)
      d2 += (x[a] - p->sphere[s].centre_mm[a]) *
            (x[a] - p->sphere[s].centre_mm[a]);
    if (d2 <= p->sphere[s].radius_mm * p->sphere[s].radius_mm)
      return RKIN_PH_SPHERE0 + (int)s;
  }
  /* organs before the body; the spine only within the body */
  for (o = RKIN_PH_N_ORGANS; o >= 1; o--) {
    double q = 0.0;
    int na = o == RKIN_PH_SPINE ? 2 : 3;
    for (a = 0; a < na; a++) {
      double u = (x[a] - shape[o - 1].c[a] * h[a]) / (shape[o - 1].a[a] * h[a]);
      q += u * u;
    }
    if (q <= 1.0) {
      if (o == RKIN_PH_SPINE) {
        double b = 0.0;
        for (a = 0; a < 3; a++) {
          double u = x[a] / (shape[0].a[a] * h[a]);
          b += u * u;
        }
        if (b > 1.0) continue;
      }
      return o;
    }
  }
  return 0;
}

int rkin_phantom_labels(const rkin_phantom *p, rkin_image *labels,
                        rkin_err *err)
{
  rkin_grid g;
  size_t i, j, k, idx = 0;
  int rc;
  if ((rc = rkin_phantom_grid(p, &g, err)) < 0) return rc;
  if ((rc = rkin_image_alloc(labels, &g, err)) < 0) return rc;
  labels->is_label = 1;
  for (k = 0; k < g.n[2]; k++)
    for (j = 0; j < g.n[1]; j++)
      for (i = 0; i < g.n[0]; i++, idx++) {
        double ijk[3] = {(double)i, (double)j, (double)k}, x[3];
        rkin_grid_to_world(&g, ijk, x);
        labels->v[idx] = (float)label_at(p, x);
      }
  return RKIN_OK;
}

const rkin_phantom_tac *rkin_phantom_tac_of(const rkin_phantom *p, int label)
{
  if (label >= 1 && label <= RKIN_PH_N_ORGANS) return &p->organ[label - 1];
  if (label >= RKIN_PH_SPHERE0 &&
      (size_t)(label - RKIN_PH_SPHERE0) < p->n_spheres)
    return &p->sphere[label - RKIN_PH_SPHERE0].tac;
  return NULL;
}

double rkin_phantom_tac_eval(const rkin_phantom_tac *c, double t_h)
{
  double w = exp(-c->lambda_h * t_h);
  return c->uptake_h > 0.0 ? c->c0 * (w - exp(-c->uptake_h * t_h))
                           : c->c0 * w;
}

double rkin_phantom_tac_integral(const rkin_phantom_tac *c)
{
  return c->uptake_h > 0.0 ? c->c0 * (1.0 / c->lambda_h - 1.0 / c->uptake_h)
                           : c->c0 / c->lambda_h;
}

/* Fills out with f(curve of each voxel's label). */
static int per_label(const rkin_phantom *p, rkin_image *out, int what,
                     double t_h, rkin_err *err)
{
  size_t i, n;
  int rc = rkin_phantom_labels(p, out, err);
  if (rc < 0) return rc;
  out->is_label = 0;
  n = rkin_grid_count(&out->g);
  for (i = 0; i < n; i++) {
    int lab = (int)out->v[i];
    const rkin_phantom_tac *c = rkin_phantom_tac_of(p, lab);
    double v;
    if (what == 0)
      v = lab == 0 ? -1000.0
                   : (lab >= RKIN_PH_SPHERE0 ? 60.0 : hu_of[lab - 1]);
    else if (!c)
      v = 0.0;
    else if (what == 1)
      v = rkin_phantom_tac_eval(c, t_h);
    else
      v = rkin_phantom_tac_integral(c);
    out->v[i] = (float)v;
  }
  return RKIN_OK;
}

int rkin_phantom_ct(const rkin_phantom *p, rkin_image *ct, rkin_err *err)
{
  int rc = per_label(p, ct, 0, 0.0, err);
  if (rc == 0) strcpy(ct->unit, "HU");
  return rc;
}

int rkin_phantom_activity(const rkin_phantom *p, double t_h, rkin_image *act,
                          rkin_err *err)
{
  int rc;
  if (!isfinite(t_h) || t_h < 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "phantom: time %g h (expected a "
                        "finite time >= 0)", t_h);
  rc = per_label(p, act, 1, t_h, err);
  if (rc == 0) strcpy(act->unit, "Bq/mL");
  return rc;
}

int rkin_phantom_tia(const rkin_phantom *p, rkin_image *tia, rkin_err *err)
{
  int rc = per_label(p, tia, 2, 0.0, err);
  if (rc == 0) strcpy(tia->unit, "Bq h/mL");
  return rc;
}
