/* tare_voxel.c - TARE voxel planning from a MAA / 166Ho-scout SPECT
 * (tare_voxel.h): activity per voxel from the scout's counts per
 * territory, local-deposition and kernel dose maps, the partition model
 * from the same volumes. */
#include "voxel/tare_voxel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voxel/dvh.h"
#include "voxel/voxel.h"

#define GBQ_PER_MBQ 1e-3

static const char *const mode_names[] = {"activity", "tumour_mean",
                                         "normal_d70", "normal_mean"};

const char *rkin_tvox_mode_name(rkin_tvox_mode m)
{
  return (unsigned)m < 4 ? mode_names[m] : "?";
}

int rkin_tvox_mode_parse(const char *s, rkin_tvox_mode *m, rkin_err *err)
{
  int i;
  for (i = 0; i < 4; i++)
    if (s && !strcmp(s, mode_names[i])) {
      *m = (rkin_tvox_mode)i;
      return RKIN_OK;
    }
  return rkin_err_set(err, RKIN_EINVAL, "tare voxel: mode '%s' unknown "
                      "(expected activity, tumour_mean, normal_d70 or "
                      "normal_mean)", s ? s : "");
}

void rkin_tvox_free(rkin_tvox_result *res)
{
  if (!res) return;
  rkin_image_free(&res->activity);
  rkin_image_free(&res->dose_led);
  rkin_image_free(&res->dose_kernel);
  rkin_image_free(&res->voi);
}

static void who(const rkin_tvox_plan *p, size_t k, char *buf, size_t n)
{
  if (p->terr[k].name && p->terr[k].name[0])
    snprintf(buf, n, "territory '%s'", p->terr[k].name);
  else
    snprintf(buf, n, "territory %zu", k + 1);
}

static int check_plan(const rkin_tvox_plan *p, rkin_err *err)
{
  size_t k;
  char w[96];
  if (!p->scout || !p->scout->v || !p->liver)
    return rkin_err_set(err, RKIN_EINVAL, "tare voxel: the scout SPECT and "
                        "the liver mask are required");
  if (!p->product || !p->nuclide)
    return rkin_err_set(err, RKIN_EINVAL, "tare voxel: no product or "
                        "nuclide given");
  if (!isfinite(p->cf) || p->cf <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "tare voxel: cf = %g must be > 0 "
                        "Gy kg/GBq", p->cf);
  if (!isfinite(p->lung_mass_kg) || p->lung_mass_kg < 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "tare voxel: lung_mass_kg = %g "
                        "must be > 0 kg (0: 1 kg)", p->lung_mass_kg);
  if (p->rho && !rkin_grid_same(&p->rho->g, &p->scout->g))
    return rkin_err_set(err, RKIN_EINVAL, "tare voxel: the density map's "
                        "grid is not the scout's (resample the CT first)");
  if (!p->rho && (!isfinite(p->rho_uniform) || p->rho_uniform < 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "tare voxel: density %g g/cm3 "
                        "(expected > 0)", p->rho_uniform);
  if (p->n_terr < 1 || p->n_terr > RKIN_TARE_MAX_TERR || !p->terr)
    return rkin_err_set(err, RKIN_ERANGE, "tare voxel: %zu territories "
                        "(expected 1..%d)", p->n_terr, RKIN_TARE_MAX_TERR);
  for (k = 0; k < p->n_terr; k++) {
    const rkin_tvox_territory *t = &p->terr[k];
    who(p, k, w, sizeof w);
    if (!isfinite(t->lsf) || t->lsf < 0.0 || t->lsf >= 1.0)
      return rkin_err_set(err, RKIN_ERANGE, "tare voxel: %s: lsf = %g must "
                          "be in [0, 1) (a fraction, not percent)", w,
                          t->lsf);
    if ((unsigned)t->mode > RKIN_TVOX_NORMAL_MEAN)
      return rkin_err_set(err, RKIN_EINVAL, "tare voxel: %s: mode %d "
                          "unknown", w, (int)t->mode);
    if (!isfinite(t->value) || t->value < 0.0 ||
        (t->mode != RKIN_TVOX_ACTIVITY && t->value == 0.0))
      return rkin_err_set(err, RKIN_EINVAL, "tare voxel: %s: %s = %g must "
                          "be > 0 %s", w, rkin_tvox_mode_name(t->mode),
                          t->value,
                          t->mode == RKIN_TVOX_ACTIVITY ? "MBq" : "Gy");
    if (p->n_terr > 1 && !t->mask)
      return rkin_err_set(err, RKIN_EINVAL, "tare voxel: %s has no mask "
                          "(only a single territory may be the whole liver)",
                          w);
  }
  return RKIN_OK;
}

/* Statistics of `dose` over the voxels v with owner[v] == k and
 * tumour-ness `want_tumour`; n == 0 leaves everything 0. */
static int region_stats(const rkin_image *dose, const int *owner,
                        const unsigned char *tumour, int k, int want_tumour,
                        unsigned char *scratch, double *mean, double *d70,
                        double *lo, double *hi, rkin_err *err)
{
  size_t v, n = rkin_grid_count(&dose->g), c = 0;
  rkin_dvh h;
  int rc;
  for (v = 0; v < n; v++) {
    int is_t = tumour && tumour[v];
    scratch[v] = owner[v] == k && is_t == want_tumour;
    c += scratch[v];
  }
  *mean = *d70 = *lo = *hi = 0.0;
  if (!c) return RKIN_OK;
  if ((rc = rkin_dvh_eval(dose, scratch, &h, err)) < 0) return rc;
  *mean = h.mean;
  *d70 = h.d70;
  *lo = h.min;
  *hi = h.max;
  rkin_dvh_free(&h);
  return RKIN_OK;
}

/* The partition model of one territory from its volumes: fills tt and
 * lesion, or returns 0 with a note when it cannot be formed. */
static int partition_territory(const rkin_tvox_territory *t,
                               rkin_tvox_terr_result *r, const char *name,
                               double c_t, double c_n,
                               rkin_tare_territory *tt, rkin_tare_lesion *les)
{
  memset(tt, 0, sizeof *tt);
  tt->name = name;
  tt->mass_kg = r->mass_kg;
  tt->lsf = t->lsf;
  if (r->n_tumour && (c_t <= 0.0 || c_n <= 0.0 || r->n_normal == 0)) {
    snprintf(r->note, sizeof r->note, "no partition model: %s",
             r->n_normal == 0 ? "no normal liver in the territory"
             : c_t <= 0.0 ? "the tumour has no counts (T/N = 0)"
                          : "the normal liver has no counts");
    return 0;
  }
  if (r->n_tumour) {
    les->mass_kg = r->tumour_kg;
    les->tn = r->tn;
    tt->lesions = les;
    tt->n_lesions = 1;
  }
  switch (t->mode) {
  case RKIN_TVOX_ACTIVITY:
    tt->mode = RKIN_TARE_MODE_ACTIVITY;
    tt->activity_mbq = t->value;
    break;
  case RKIN_TVOX_TUMOUR_MEAN:
    tt->mode = RKIN_TARE_MODE_TUMOUR;
    tt->ref = RKIN_TARE_REF_MEAN;
    tt->target_gy = t->value;
    break;
  default:
    tt->mode = RKIN_TARE_MODE_NORMAL;
    tt->target_gy = t->value;
    break;
  }
  return 1;
}

static void base_plan(const rkin_tvox_plan *p, rkin_tare_plan *tp)
{
  memset(tp, 0, sizeof *tp);
  tp->product = *p->product;
  tp->nuclide = p->nuclide;
  tp->cf = p->cf;
  tp->lung_mass_kg = p->lung_mass_kg > 0.0 ? p->lung_mass_kg : 1.0;
}

int rkin_tvox_run(const rkin_tvox_plan *p, rkin_tvox_result *res,
                  rkin_err *err)
{
  const rkin_image *sc = p ? p->scout : NULL;
  size_t n, v, k;
  double vml, lung_kg, liver_counts = 0.0, out_counts = 0.0;
  double sum_c[RKIN_TARE_MAX_TERR], c_t[RKIN_TARE_MAX_TERR];
  rkin_tare_territory tts[RKIN_TARE_MAX_TERR];
  rkin_tare_lesion les[RKIN_TARE_MAX_TERR];
  char names[RKIN_TARE_MAX_TERR][96];
  int *owner = NULL, all_part = 1, rc;
  unsigned char *scratch = NULL;
  double *mass = NULL;
  rkin_image d1;

  if (!p || !res)
    return rkin_err_set(err, RKIN_EINVAL, "tare voxel: plan or result "
                        "missing");
  memset(res, 0, sizeof *res);
  memset(&d1, 0, sizeof d1);
  if ((rc = check_plan(p, err)) < 0) return rc;
  n = rkin_grid_count(&sc->g);
  vml = rkin_grid_voxel_ml(&sc->g);
  lung_kg = p->lung_mass_kg > 0.0 ? p->lung_mass_kg : 1.0;
  owner = malloc(n * sizeof *owner);
  scratch = malloc(n);
  mass = malloc(n * sizeof *mass);
  if (!owner || !scratch || !mass) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "tare voxel: out of memory");
    goto done;
  }
  res->n_terr = p->n_terr;
  for (k = 0; k < p->n_terr; k++) {
    who(p, k, names[k], sizeof names[k]);
    sum_c[k] = c_t[k] = 0.0;
  }

  /* owners, counts, masses */
  for (v = 0; v < n; v++) {
    double c = sc->v[v], rho;
    int in_liver = p->liver[v] || (p->tumour && p->tumour[v]);
    owner[v] = -1;
    if (!in_liver) continue;
    if (!isfinite(c)) {
      size_t nx = sc->g.n[0], ny = sc->g.n[1];
      rc = rkin_err_set(err, RKIN_ENONFINITE, "tare voxel: scout voxel "
                        "(%zu,%zu,%zu) is not finite", v % nx + 1,
                        (v / nx) % ny + 1, v / (nx * ny) + 1);
      goto done;
    }
    if (c < 0.0) {
      res->n_negative++;
      c = 0.0;
    }
    rho = p->rho ? p->rho->v[v]
                 : (p->rho_uniform > 0.0 ? p->rho_uniform
                                         : RKIN_TARE_LIVER_DENSITY);
    if (!(rho > 0.0) || !isfinite(rho)) {
      size_t nx = sc->g.n[0], ny = sc->g.n[1];
      rc = rkin_err_set(err, RKIN_EINVAL, "tare voxel: density %g g/cm3 at "
                        "liver voxel (%zu,%zu,%zu) (expected > 0)", rho,
                        v % nx + 1, (v / nx) % ny + 1, v / (nx * ny) + 1);
      goto done;
    }
    mass[v] = rho * vml / 1000.0; /* kg */
    liver_counts += c;
    for (k = 0; k < p->n_terr; k++) {
      const unsigned char *m = p->terr[k].mask;
      if (m && !m[v]) continue;
      if (owner[v] >= 0) {
        size_t nx = sc->g.n[0], ny = sc->g.n[1];
        rc = rkin_err_set(err, RKIN_EINVAL, "tare voxel: %s and %s overlap "
                          "(voxel (%zu,%zu,%zu)): territories must be "
                          "disjoint", names[owner[v]], names[k], v % nx + 1,
                          (v / nx) % ny + 1, v / (nx * ny) + 1);
        goto done;
      }
      owner[v] = (int)k;
    }
    if (owner[v] < 0) {
      out_counts += c;
      continue;
    }
    k = (size_t)owner[v];
    {
      rkin_tvox_terr_result *r = &res->terr[k];
      int is_t = p->tumour && p->tumour[v];
      r->n_voxels++;
      r->mass_kg += mass[v];
      sum_c[k] += c;
      if (is_t) {
        r->n_tumour++;
        r->tumour_kg += mass[v];
        c_t[k] += c;
      } else {
        r->n_normal++;
        r->normal_kg += mass[v];
      }
    }
  }
  res->outside_fraction = liver_counts > 0.0 ? out_counts / liver_counts
                                             : 0.0;
  for (k = 0; k < p->n_terr; k++) {
    rkin_tvox_terr_result *r = &res->terr[k];
    if (r->n_voxels == 0) {
      rc = rkin_err_set(err, RKIN_EINVAL, "tare voxel: %s does not overlap "
                        "the liver mask", names[k]);
      goto done;
    }
    if (!(sum_c[k] > 0.0)) {
      rc = rkin_err_set(err, RKIN_EINVAL, "tare voxel: %s has no counts in "
                        "the scout (nothing to distribute the activity "
                        "by)", names[k]);
      goto done;
    }
    r->tumour_fraction = c_t[k] / sum_c[k];
    if (r->n_tumour && r->n_normal && sum_c[k] > c_t[k])
      r->tn = (c_t[k] / r->tumour_kg) /
              ((sum_c[k] - c_t[k]) / r->normal_kg);
  }

  /* dose per MBq administered into each voxel's territory */
  if ((rc = rkin_image_alloc(&d1, &sc->g, err)) < 0) goto done;
  for (v = 0; v < n; v++) {
    const rkin_tvox_territory *t;
    double c;
    if (owner[v] < 0) continue;
    t = &p->terr[owner[v]];
    c = sc->v[v] > 0.0f ? sc->v[v] : 0.0;
    d1.v[v] = (float)(p->cf * GBQ_PER_MBQ * (1.0 - t->lsf) * c /
                      sum_c[owner[v]] / mass[v]);
  }
  for (k = 0; k < p->n_terr; k++) {
    const rkin_tvox_territory *t = &p->terr[k];
    rkin_tvox_terr_result *r = &res->terr[k];
    double mean, d70, lo, hi, ref;
    const char *vol = t->mode == RKIN_TVOX_TUMOUR_MEAN ? "tumour"
                                                       : "normal liver";
    if (t->mode == RKIN_TVOX_ACTIVITY) {
      r->activity_mbq = t->value;
      continue;
    }
    if ((rc = region_stats(&d1, owner, p->tumour, (int)k,
                           t->mode == RKIN_TVOX_TUMOUR_MEAN, scratch, &mean,
                           &d70, &lo, &hi, err)) < 0)
      goto done;
    if ((t->mode == RKIN_TVOX_TUMOUR_MEAN ? r->n_tumour : r->n_normal) == 0) {
      rc = rkin_err_set(err, RKIN_EINVAL, "tare voxel: %s: mode %s needs "
                        "%s voxels in the territory (none there)", names[k],
                        rkin_tvox_mode_name(t->mode), vol);
      goto done;
    }
    ref = t->mode == RKIN_TVOX_NORMAL_D70 ? d70 : mean;
    if (!(ref > 0.0)) {
      rc = rkin_err_set(err, RKIN_EINVAL, "tare voxel: %s: the %s gets no "
                        "dose (%s of the scout is 0 there): no activity "
                        "reaches %s = %g Gy", names[k], vol,
                        t->mode == RKIN_TVOX_NORMAL_D70 ? "D70" : "mean",
                        rkin_tvox_mode_name(t->mode), t->value);
      goto done;
    }
    r->activity_mbq = t->value / ref;
  }

  /* activity and LED dose maps */
  if ((rc = rkin_image_alloc(&res->activity, &sc->g, err)) < 0 ||
      (rc = rkin_image_alloc(&res->dose_led, &sc->g, err)) < 0)
    goto done;
  for (v = 0; v < n; v++) {
    const rkin_tvox_territory *t;
    double c, a;
    if (owner[v] < 0) continue;
    t = &p->terr[owner[v]];
    c = sc->v[v] > 0.0f ? sc->v[v] : 0.0;
    a = res->terr[owner[v]].activity_mbq * (1.0 - t->lsf) * c /
        sum_c[owner[v]];
    res->activity.v[v] = (float)a;
    res->dose_led.v[v] = (float)(p->cf * a * GBQ_PER_MBQ / mass[v]);
  }
  if ((rc = rkin_image_alloc(&res->voi, &sc->g, err)) < 0) goto done;
  res->voi.is_label = 1;
  for (v = 0; v < n; v++) {
    int is_t = p->tumour && p->tumour[v];
    if (owner[v] >= 0)
      res->voi.v[v] = (float)(2 * owner[v] + (is_t ? 1 : 2));
    else if (p->liver[v] || is_t)
      res->voi.v[v] = (float)(2 * p->n_terr + 1);
  }
  strcpy(res->activity.unit, "MBq");
  strcpy(res->dose_led.unit, "Gy");

  for (k = 0; k < p->n_terr; k++) {
    const rkin_tvox_territory *t = &p->terr[k];
    rkin_tvox_terr_result *r = &res->terr[k];
    double dummy;
    r->liver_mbq = r->activity_mbq * (1.0 - t->lsf);
    r->lung_gy = p->cf * r->activity_mbq * GBQ_PER_MBQ * t->lsf / lung_kg;
    res->activity_mbq += r->activity_mbq;
    res->lung_gy += r->lung_gy;
    if ((rc = region_stats(&res->dose_led, owner, p->tumour, (int)k, 1,
                           scratch, &r->tumour_mean_gy, &r->tumour_d70_gy,
                           &r->tumour_min_gy, &dummy, err)) < 0 ||
        (rc = region_stats(&res->dose_led, owner, p->tumour, (int)k, 0,
                           scratch, &r->normal_mean_gy, &r->normal_d70_gy,
                           &dummy, &r->normal_max_gy, err)) < 0)
      goto done;
  }

  /* kernel dose: decays A_v / lambda, as a TIA map in Bq h/mL */
  if (p->kernel) {
    rkin_image tia;
    double lam = rkin_nuclide_lambda(p->nuclide); /* 1/h */
    if ((rc = rkin_image_alloc(&tia, &sc->g, err)) < 0) goto done;
    for (v = 0; v < n; v++)
      tia.v[v] = (float)(res->activity.v[v] * 1e6 / lam / vml);
    rc = rkin_dose_kernel(&tia, p->nuclide->name, p->kernel, p->rho, 0.0,
                          &res->dose_kernel, err);
    rkin_image_free(&tia);
    if (rc < 0) goto done;
  }

  /* the partition model from the same volumes, territory by territory */
  for (k = 0; k < p->n_terr; k++) {
    rkin_tvox_terr_result *r = &res->terr[k];
    rkin_tare_plan tp;
    rkin_tare_result *tr = &res->partition; /* scratch until the end */
    if (!partition_territory(&p->terr[k], r, p->terr[k].name, c_t[k],
                             sum_c[k] - c_t[k], &tts[k], &les[k])) {
      all_part = 0;
      continue;
    }
    base_plan(p, &tp);
    tp.territories = &tts[k];
    tp.n_territories = 1;
    if ((rc = rkin_tare_plan_run(&tp, tr, err)) < 0) goto done;
    r->part_activity_mbq = tr->terr[0].activity_mbq;
    res->part_activity_mbq += r->part_activity_mbq;
    /* its doses at the voxel-planned activity */
    tts[k].mode = RKIN_TARE_MODE_ACTIVITY;
    tts[k].activity_mbq = r->activity_mbq;
    if ((rc = rkin_tare_plan_run(&tp, tr, err)) < 0) goto done;
    r->part_normal_gy = tr->terr[0].normal_gy;
    r->part_tumour_gy = tr->terr[0].tumour_mean_gy;
    r->part_lung_gy = tr->terr[0].lung_gy;
    r->has_partition = 1;
  }
  memset(&res->partition, 0, sizeof res->partition);
  if (all_part) {
    /* the whole treatment at the voxel activities: limit checks */
    rkin_tare_plan tp;
    base_plan(p, &tp);
    tp.territories = tts;
    tp.n_territories = p->n_terr;
    if ((rc = rkin_tare_plan_run(&tp, &res->partition, err)) < 0) goto done;
  }
  rc = RKIN_OK;
done:
  free(owner);
  free(scratch);
  free(mass);
  rkin_image_free(&d1);
  if (rc < 0) rkin_tvox_free(res);
  return rc;
}
