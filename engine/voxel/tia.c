/* tia.c - voxel TIA (per voxel, VOI shape, single time point) and voxel
 * BED (tia.h). */
#include "voxel/tia.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nuclide.h"
#include "dose/gfactor.h"

#define NPAR RKIN_TAC_MAX_PAR
#define CHUNK 2048

void rkin_vtia_free(rkin_vtia *v)
{
  if (!v) return;
  rkin_image_free(&v->tia);
  free(v->model);
  free(v->par);
  v->model = NULL;
  v->par = NULL;
}

/* Whether parameter j of model m is an amplitude (scales with activity). */
static int is_amplitude(rkin_tac_model m, int j)
{
  switch (m) {
  case RKIN_TAC_MONO: case RKIN_TAC_UPWASH: return j == 0;
  case RKIN_TAC_BI: case RKIN_TAC_TRI: return j == 0 || j == 2;
  default: return 0;
  }
}

/* Trapezoid through (0, 0) and the points, then a physical-decay tail:
 * the fallback for data tac refuses. */
static double trapezoid(size_t n, const double *t, const double *a,
                        double lphys)
{
  double s = 0.5 * t[0] * a[0];
  size_t i;
  for (i = 1; i < n; i++) s += 0.5 * (t[i] - t[i - 1]) * (a[i] + a[i - 1]);
  return s + a[n - 1] / lphys;
}

typedef struct {
  size_t n, nvox;
  const rkin_image *const *act;
  const double *t;
  const unsigned char *mask;
  const rkin_vtia_opts *o;
  rkin_tac_opts to;
  double lphys, vml;
  int quick;          /* mono only, enough points: rkin_tac_mono_quick */
  const unsigned char *own;  /* HYBRID: the voxels fitted on their own;
                              * the rest keep what voi_shape gave them */
  rkin_vtia *out;
  pthread_mutex_t lock;
  size_t next;
  int rc;
  rkin_err err;
} job;

static void fit_range(job *J, size_t lo, size_t hi, rkin_tac_result *r,
                      size_t counts[4], char *note, size_t note_len)
{
  size_t v, i;
  double a[RKIN_TAC_MAX_POINTS];
  for (v = lo; v < hi; v++) {
    rkin_tac_data d;
    rkin_err e;
    double tia_mbqh, lp;
    int any = 0, j;
    float *par = J->out->par + v * NPAR;
    if (J->own && !J->own[v]) continue;
    if (J->mask && !J->mask[v]) {
      J->out->model[v] = RKIN_VOXEL_SKIPPED;
      counts[0]++;
      continue;
    }
    for (i = 0; i < J->n; i++) {
      a[i] = J->act[i]->v[v] * J->vml * 1e-6; /* MBq in the voxel */
      any |= a[i] > 0.0;
    }
    for (j = 0; j < NPAR; j++) par[j] = 0.0f;
    if (!any) {
      J->out->tia.v[v] = 0.0f;
      J->out->model[v] = RKIN_TAC_TRAP;
      counts[1]++;
      continue;
    }
    if (J->quick) {
      double A, l;
      int held;
      if (rkin_tac_mono_quick(J->n, J->t, a, J->lphys, &A, &l, &held)) {
        J->out->model[v] = RKIN_TAC_MONO;
        par[0] = (float)(A / (J->vml * 1e-6));
        par[1] = (float)l;
        J->out->tia.v[v] = (float)(A / l / (J->vml * 1e-6));
        counts[2]++;
        continue;
      }
    }
    d.n = J->n;
    d.t = J->t;
    d.a = a;
    d.sd = NULL;
    d.nuclide = J->o->nuclide;
    if (rkin_tac_check(&d, &lp, &e) < 0 ||
        rkin_tac_fit(&d, &J->to, r, &e) < 0) {
      tia_mbqh = trapezoid(J->n, J->t, a, J->lphys);
      J->out->model[v] = RKIN_TAC_TRAP;
      if (!note[0])
        snprintf(note, note_len, "voxel %zu: %.200s", v, e.msg);
      counts[3]++;
    } else {
      const rkin_tac_cand *c = &r->cand[r->chosen];
      tia_mbqh = r->tia;
      J->out->model[v] = (unsigned char)r->chosen;
      for (j = 0; j < c->np && j < NPAR; j++)
        par[j] = (float)(is_amplitude(r->chosen, j)
                             ? c->p[j] / (J->vml * 1e-6) : c->p[j]);
      counts[2]++;
    }
    J->out->tia.v[v] = (float)(tia_mbqh / (J->vml * 1e-6));
  }
}

static void *worker(void *arg)
{
  job *J = arg;
  rkin_tac_result *r = malloc(sizeof *r);
  size_t counts[4] = {0, 0, 0, 0};
  char note[256] = "";
  if (!r) {
    pthread_mutex_lock(&J->lock);
    J->rc = rkin_err_set(&J->err, RKIN_ENOMEM, "voxel TIA: out of memory");
    pthread_mutex_unlock(&J->lock);
    return NULL;
  }
  for (;;) {
    size_t lo;
    pthread_mutex_lock(&J->lock);
    lo = J->next;
    J->next += CHUNK;
    pthread_mutex_unlock(&J->lock);
    if (lo >= J->nvox) break;
    fit_range(J, lo, lo + CHUNK < J->nvox ? lo + CHUNK : J->nvox, r, counts,
              note, sizeof note);
  }
  pthread_mutex_lock(&J->lock);
  J->out->n_skipped += counts[0];
  J->out->n_zero += counts[1];
  J->out->n_fitted += counts[2];
  J->out->n_fallback += counts[3];
  if (note[0] && !J->out->note[0])
    snprintf(J->out->note, sizeof J->out->note, "%s", note);
  pthread_mutex_unlock(&J->lock);
  free(r);
  return NULL;
}

static int per_voxel(job *J, rkin_err *err)
{
  int nt = J->o->threads > 0 ? J->o->threads : 1, i, started = 0;
  pthread_t th[64];
  if (nt > 64) nt = 64;
  pthread_mutex_init(&J->lock, NULL);
  J->next = 0;
  J->rc = 0;
  for (i = 1; i < nt; i++)
    if (pthread_create(&th[i], NULL, worker, J) == 0) started++;
    else break;
  worker(J); /* the calling thread works too */
  for (i = 1; i <= started; i++) pthread_join(th[i], NULL);
  pthread_mutex_destroy(&J->lock);
  if (J->rc < 0) {
    if (err) *err = J->err;
    return J->rc;
  }
  return RKIN_OK;
}

static int voi_shape(job *J, rkin_err *err)
{
  double A[RKIN_TAC_MAX_POINTS], Asum = 0.0, tia_voi;
  size_t i, v;
  rkin_tac_data d;
  const rkin_tac_cand *c;
  int rc, j;
  rkin_vtia *out = J->out;
  for (i = 0; i < J->n; i++) {
    double s = 0.0;
    for (v = 0; v < J->nvox; v++)
      if (!J->mask || J->mask[v]) s += J->act[i]->v[v];
    A[i] = s * J->vml * 1e-6;
    Asum += A[i];
  }
  if (!(Asum > 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "voxel TIA (VOI shape): the VOI "
                        "holds no activity at any time point");
  d.n = J->n;
  d.t = J->t;
  d.a = A;
  d.sd = NULL;
  d.nuclide = J->o->nuclide;
  if ((rc = rkin_tac_fit(&d, &J->to, &out->voi, err)) < 0) {
    rkin_err_prefix(err, "voxel TIA (VOI shape), the VOI's curve: ");
    return rc;
  }
  tia_voi = out->voi.tia;
  c = &out->voi.cand[out->voi.chosen];
  for (v = 0; v < J->nvox; v++) {
    double share = 0.0;
    float *par = out->par + v * NPAR;
    if (J->mask && !J->mask[v]) {
      out->model[v] = RKIN_VOXEL_SKIPPED;
      out->n_skipped++;
      continue;
    }
    for (i = 0; i < J->n; i++) share += J->act[i]->v[v] * J->vml * 1e-6;
    share /= Asum;
    out->tia.v[v] = (float)(share * tia_voi / (J->vml * 1e-6));
    out->model[v] = (unsigned char)out->voi.chosen;
    for (j = 0; j < c->np && j < NPAR; j++)
      par[j] = (float)(is_amplitude(out->voi.chosen, j)
                           ? share * c->p[j] / (J->vml * 1e-6) : c->p[j]);
    if (share == 0.0) out->n_zero++;
    else out->n_fitted++;
  }
  return RKIN_OK;
}

/* VOI shape for every voxel, then the voxels at or above hybrid_min at
 * every time point fitted on their own (per_voxel over them only). */
static int hybrid(job *J, rkin_err *err)
{
  rkin_vtia *out = J->out;
  unsigned char *own;
  size_t v, i, fitted, fallback;
  int rc;
  if ((rc = voi_shape(J, err)) < 0) return rc;
  if (!(own = malloc(J->nvox)))
    return rkin_err_set(err, RKIN_ENOMEM, "voxel TIA (hybrid): out of "
                        "memory");
  for (v = 0; v < J->nvox; v++) {
    int ok = !J->mask || J->mask[v];
    for (i = 0; ok && i < J->n; i++)
      ok = J->act[i]->v[v] >= J->o->hybrid_min;
    own[v] = (unsigned char)ok;
  }
  fitted = out->n_fitted;
  fallback = out->n_fallback;
  J->own = own;
  rc = per_voxel(J, err);
  J->own = NULL;
  free(own);
  if (rc < 0) return rc;
  /* per_voxel counted its voxels again: they were VOI-shape fitted */
  out->n_own = (out->n_fitted - fitted) + (out->n_fallback - fallback);
  out->n_fitted = fitted - (out->n_fallback - fallback);
  return RKIN_OK;
}

static int single_point(job *J, rkin_err *err)
{
  double t = J->t[0], l;
  size_t v;
  rkin_vtia *out = J->out;
  if (J->o->method == RKIN_VTIA_STP_HAENSCHEID) {
    if (!(t > 0.0))
      return rkin_err_set(err, RKIN_EINVAL, "voxel TIA (Haenscheid): image "
                          "time %g h (expected > 0)", t);
    l = M_LN2 / t;
  } else {
    l = J->o->pop_lambda_h;
    if (!isfinite(l) || l <= 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "voxel TIA (population rate): "
                          "rate %g /h (expected > 0)", l);
    if (l < J->lphys * (1 - 1e-12))
      return rkin_err_set(err, RKIN_EINVAL, "voxel TIA (population rate): "
                          "rate %g /h is below physical decay (%g /h)", l,
                          J->lphys);
  }
  for (v = 0; v < J->nvox; v++) {
    rkin_tac_stp s;
    double a = J->act[0]->v[v];
    int rc;
    float *par = out->par + v * NPAR;
    if (J->mask && !J->mask[v]) {
      out->model[v] = RKIN_VOXEL_SKIPPED;
      out->n_skipped++;
      continue;
    }
    rc = J->o->method == RKIN_VTIA_STP_HAENSCHEID
             ? rkin_tac_stp_haenscheid(t, a, 0.0, 0.95, &s, err)
             : rkin_tac_stp_poplambda(t, a, 0.0, l, 0.0, 0.95, &s, err);
    if (rc < 0) {
      rkin_err_prefix(err, "voxel %zu: ", v);
      return rc;
    }
    out->tia.v[v] = (float)s.tia;
    /* the mono-exponential through a(t) with rate l */
    out->model[v] = RKIN_TAC_MONO;
    par[0] = (float)(a * exp(l * t));
    par[1] = (float)l;
    if (a == 0.0) out->n_zero++;
    else out->n_fitted++;
  }
  return RKIN_OK;
}

int rkin_voxel_tia(size_t n, const rkin_image *const *act, const double *t,
                   const unsigned char *mask, const rkin_vtia_opts *o,
                   rkin_vtia *out, rkin_err *err)
{
  job J;
  const rkin_nuclide *nuc;
  size_t i, v;
  int rc, stp;
  memset(out, 0, sizeof *out);
  if (!o || !o->nuclide)
    return rkin_err_set(err, RKIN_EINVAL, "voxel TIA: no nuclide");
  if (!(nuc = rkin_nuclide_find(o->nuclide, err))) return err ? err->code : -3;
  if (!isfinite(o->cv) || o->cv < 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "voxel TIA: cv = %g (expected a "
                        "known proportional error > 0, or 0 to estimate "
                        "it)", o->cv);
  stp = o->method == RKIN_VTIA_STP_HAENSCHEID ||
        o->method == RKIN_VTIA_STP_POPLAMBDA;
  if (o->method > RKIN_VTIA_HYBRID)
    return rkin_err_set(err, RKIN_EINVAL, "voxel TIA: unknown method %d",
                        (int)o->method);
  if (n < 1 || n > RKIN_TAC_MAX_POINTS || (stp && n != 1) || (!stp && n < 2))
    return rkin_err_set(err, RKIN_EINVAL, "voxel TIA: %zu images (expected %s)",
                        n, stp ? "exactly 1 for a single-time-point method"
                               : "2..64 time points for a fit");
  for (i = 0; i < n; i++) {
    if (!act[i] || !act[i]->v)
      return rkin_err_set(err, RKIN_EINVAL, "voxel TIA: image %zu missing",
                          i + 1);
    if (!rkin_grid_same(&act[i]->g, &act[0]->g))
      return rkin_err_set(err, RKIN_EINVAL, "voxel TIA: image %zu (t = %g h) "
                          "is not on the grid of image 1: resample every time "
                          "point to one grid first", i + 1, t[i]);
    if (!isfinite(t[i]) || t[i] < 0.0 || (i && t[i] <= t[i - 1]))
      return rkin_err_set(err, RKIN_EINVAL, "voxel TIA: time %zu is %g h "
                          "(expected finite, >= 0, increasing)", i + 1, t[i]);
  }
  if (o->method == RKIN_VTIA_HYBRID &&
      (!isfinite(o->hybrid_min) || !(o->hybrid_min > 0.0)))
    return rkin_err_set(err, RKIN_EINVAL, "voxel TIA (hybrid): minimum "
                        "concentration %g Bq/mL (expected > 0: the level "
                        "every time point must reach for a voxel's own "
                        "fit)", o->hybrid_min);
  memset(&J, 0, sizeof J);
  J.n = n;
  J.act = act;
  J.t = t;
  J.mask = mask;
  J.o = o;
  J.nvox = rkin_grid_count(&act[0]->g);
  J.vml = rkin_grid_voxel_ml(&act[0]->g);
  J.lphys = rkin_nuclide_lambda(nuc);
  J.out = out;
  for (i = 0; i < n; i++)
    for (v = 0; v < J.nvox; v++)
      if ((!mask || mask[v]) && !(act[i]->v[v] >= 0.0f && isfinite(act[i]->v[v])))
        return rkin_err_set(err, RKIN_EINVAL, "voxel TIA: image %zu, voxel "
                            "%zu at (%zu,%zu,%zu) is %g (expected finite, "
                            ">= 0: clip negative voxels first and report the "
                            "count)", i + 1, v, v % act[0]->g.n[0],
                            (v / act[0]->g.n[0]) % act[0]->g.n[1],
                            v / (act[0]->g.n[0] * act[0]->g.n[1]),
                            (double)act[i]->v[v]);
  rkin_tac_opts_default(&J.to);
  if (o->models) J.to.models = o->models;
  J.to.cv = o->cv;
  /* the mono candidate alone is eligible (k < n) whether or not its rate
   * is held: k = 2, + 1 when the scale is estimated */
  J.quick = !o->no_quick && J.to.models == (1u << RKIN_TAC_MONO)
            && n >= (o->cv > 0 ? 3u : 4u);
  if ((rc = rkin_image_alloc(&out->tia, &act[0]->g, err)) < 0) return rc;
  strcpy(out->tia.unit, "Bq h/mL");
  out->model = malloc(J.nvox);
  out->par = calloc(J.nvox * NPAR, sizeof *out->par);
  if (!out->model || !out->par) {
    rkin_vtia_free(out);
    return rkin_err_set(err, RKIN_ENOMEM, "voxel TIA: out of memory");
  }
  if (o->method == RKIN_VTIA_PER_VOXEL) rc = per_voxel(&J, err);
  else if (o->method == RKIN_VTIA_VOI_SHAPE) rc = voi_shape(&J, err);
  else if (o->method == RKIN_VTIA_HYBRID) rc = hybrid(&J, err);
  else rc = single_point(&J, err);
  if (rc < 0) rkin_vtia_free(out);
  return rc;
}

/* G of a voxel's curve for repair half-time trep. */
static int voxel_g(unsigned char m, const float *p, double lphys,
                   double trep, double *g, rkin_err *err)
{
  rkin_doserate r;
  double c[3], b[3];
  switch (m) {
  case RKIN_TAC_MONO:
    return rkin_gfactor_mono(p[1], trep, g, err);
  case RKIN_TAC_UPWASH:
    return rkin_gfactor_uptake(p[1], p[2], trep, g, err);
  case RKIN_TAC_BI:
  case RKIN_TAC_TRI: {
    int rc, nt = m == RKIN_TAC_BI ? 2 : 3;
    c[0] = p[0]; b[0] = p[1];
    c[1] = p[2]; b[1] = p[3];
    c[2] = -(double)(p[0] + p[2]); b[2] = p[4];
    if ((rc = rkin_doserate_set(&r, (size_t)nt, c, b, "voxel", err)) < 0)
      return rc;
    return rkin_gfactor_sum(&r, trep, g, err);
  }
  default:
    /* trapezoid or no curve: physical decay's G */
    return rkin_gfactor_mono(lphys, trep, g, err);
  }
}

int rkin_voxel_bed(const rkin_image *dose, const rkin_vtia *v,
                   const rkin_image *labels, const rkin_tissue_class *cls,
                   size_t ncls, const char *nuclide, rkin_image *bed,
                   rkin_image *eqd2, rkin_err *err)
{
  const rkin_nuclide *nuc;
  size_t i, n = rkin_grid_count(&dose->g), c;
  int rc;
  if (!(nuc = rkin_nuclide_find(nuclide, err))) return err ? err->code : -3;
  if (!rkin_grid_same(&dose->g, &v->tia.g) ||
      !rkin_grid_same(&dose->g, &labels->g))
    return rkin_err_set(err, RKIN_EINVAL, "voxel BED: the dose, TIA and "
                        "label maps must share one grid");
  for (c = 0; c < ncls; c++)
    if ((rc = rkin_radiobio_check(&cls[c].lq, "tissue class", err)) < 0) {
      rkin_err_prefix(err, "class of label %d: ", cls[c].label);
      return rc;
    }
  if ((rc = rkin_image_alloc(bed, &dose->g, err)) < 0) return rc;
  strcpy(bed->unit, "Gy");
  if (eqd2 && (rc = rkin_image_alloc(eqd2, &dose->g, err)) < 0) {
    rkin_image_free(bed);
    return rc;
  }
  if (eqd2) strcpy(eqd2->unit, "Gy");
  for (i = 0; i < n; i++) {
    const rkin_tissue_class *k = NULL;
    int lab = (int)lrintf(labels->v[i]);
    double g, b, q;
    if (!(dose->v[i] > 0.0f)) continue;
    for (c = 0; c < ncls; c++)
      if (cls[c].label == lab) k = &cls[c];
    for (c = 0; c < ncls && !k; c++)
      if (cls[c].label == 0) k = &cls[c];
    if (!k) {
      rc = rkin_err_set(err, RKIN_ENOTFOUND, "voxel BED: label %d has dose "
                        "but no tissue class (give one, or a class for "
                        "label 0)", lab);
      goto fail;
    }
    if ((rc = voxel_g(v->model[i], v->par + i * NPAR,
                      rkin_nuclide_lambda(nuc), k->lq.trep_h, &g, err)) < 0 ||
        (rc = rkin_radiobio_bed(dose->v[i], g, &k->lq, "voxel", &b, err)) < 0)
      goto fail;
    bed->v[i] = (float)b;
    if (eqd2) {
      if ((rc = rkin_radiobio_eqd2(b, &k->lq, "voxel", &q, err)) < 0) goto fail;
      eqd2->v[i] = (float)q;
    }
  }
  return RKIN_OK;
fail:
  rkin_err_prefix(err, "voxel %zu: ", i);
  rkin_image_free(bed);
  if (eqd2) rkin_image_free(eqd2);
  return rc;
}
