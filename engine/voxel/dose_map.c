/* dose_map.c - HU to density, LED and kernel dose maps (voxel.h). */
#include "voxel/voxel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"

void rkin_hu_table_free(rkin_hu_table *t)
{
  if (!t) return;
  free(t->hu);
  free(t->rho);
  t->hu = t->rho = NULL;
  t->n = 0;
}

int rkin_hu_table_load(const char *path, rkin_hu_table *t, rkin_err *err)
{
  char *text = NULL;
  size_t len, cap = 0;
  rkin_csv *csv;
  rkin_csv_record rec;
  rkin_csv_opts opts = {',', "#"};
  int rc;
  memset(t, 0, sizeof *t);
  if ((rc = rkin_csv_slurp(path, &text, &len, err)) < 0) return rc;
  if (!(csv = rkin_csv_open(text, len, path, &opts, err))) {
    free(text);
    return err ? err->code : RKIN_EINVAL;
  }
  rc = rkin_csv_next(csv, &rec, err); /* header */
  if (rc == 0) rc = rkin_err_set(err, RKIN_EINVAL, "%s: empty", path);
  while (rc >= 0 && (rc = rkin_csv_next(csv, &rec, err)) == 1) {
    char *e1, *e2;
    double hu, rho;
    if (rec.n != 2) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: %zu fields (expected 2: "
                        "HU, density)", path, rec.line, rec.n);
      break;
    }
    hu = strtod(rec.field[0], &e1);
    rho = strtod(rec.field[1], &e2);
    if (*e1 || e1 == rec.field[0] || !isfinite(hu)) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: HU \"%s\" (expected a "
                        "number)", path, rec.line, rec.field[0]);
      break;
    }
    if (*e2 || e2 == rec.field[1] || !isfinite(rho) || rho <= 0.0) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: density \"%s\" (expected "
                        "a number > 0, g/cm3)", path, rec.line, rec.field[1]);
      break;
    }
    if (t->n && hu < t->hu[t->n - 1]) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: HU %g after %g (expected "
                        "ascending HU)", path, rec.line, hu, t->hu[t->n - 1]);
      break;
    }
    if (t->n == cap) {
      size_t nc = cap ? 2 * cap : 32;
      double *a = realloc(t->hu, nc * sizeof *a), *b;
      if (a) t->hu = a;
      b = a ? realloc(t->rho, nc * sizeof *b) : NULL;
      if (!b) { rc = rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path); break; }
      t->rho = b;
      cap = nc;
    }
    t->hu[t->n] = hu;
    t->rho[t->n++] = rho;
  }
  rkin_csv_close(csv);
  free(text);
  if (rc >= 0 && t->n < 2)
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: %zu rows (expected at least 2)",
                      path, t->n);
  if (rc < 0) {
    rkin_hu_table_free(t);
    return rc;
  }
  return RKIN_OK;
}

double rkin_hu_density(const rkin_hu_table *t, double hu)
{
  size_t lo = 0, hi = t->n - 1;
  if (hu <= t->hu[0]) return t->rho[0];
  if (hu >= t->hu[hi]) return t->rho[hi];
  /* last point with HU <= hu: at a step (equal HU) the upper side wins */
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (t->hu[mid] <= hu) lo = mid;
    else hi = mid;
  }
  if (t->hu[hi] == t->hu[lo]) return t->rho[hi];
  return t->rho[lo] + (t->rho[hi] - t->rho[lo]) * (hu - t->hu[lo]) /
                          (t->hu[hi] - t->hu[lo]);
}

int rkin_density_map(const rkin_hu_table *t, const rkin_image *ct,
                     rkin_image *rho, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&ct->g);
  int rc = rkin_image_alloc(rho, &ct->g, err);
  if (rc < 0) return rc;
  for (i = 0; i < n; i++) {
    if (!isfinite(ct->v[i])) {
      rkin_image_free(rho);
      return rkin_err_set(err, RKIN_ENONFINITE, "CT voxel %zu at "
                          "(%zu,%zu,%zu) is not finite", i, i % ct->g.n[0],
                          (i / ct->g.n[0]) % ct->g.n[1],
                          i / (ct->g.n[0] * ct->g.n[1]));
    }
    rho->v[i] = (float)rkin_hu_density(t, ct->v[i]);
  }
  strcpy(rho->unit, "g/cm3");
  return RKIN_OK;
}

static int check_tia_voxel(const rkin_image *tia, size_t i, rkin_err *err)
{
  if (!isfinite(tia->v[i]) || tia->v[i] < 0.0f) {
    size_t nx = tia->g.n[0], ny = tia->g.n[1];
    return rkin_err_set(err, RKIN_EINVAL, "TIA voxel (%zu,%zu,%zu) is %g "
                        "(expected a finite value >= 0; clip negative "
                        "voxels first)", i % nx, (i / nx) % ny, i / (nx * ny),
                        (double)tia->v[i]);
  }
  return RKIN_OK;
}

int rkin_dose_led(const rkin_image *tia, const rkin_nuclide *nuc,
                  const rkin_image *rho, double rho_uniform,
                  const unsigned char *mask, rkin_image *dose, rkin_err *err)
{
  size_t i, n = rkin_grid_count(&tia->g);
  double vml = rkin_grid_voxel_ml(&tia->g), e_j;
  int rc;
  if (!nuc) return rkin_err_set(err, RKIN_EINVAL, "LED: no nuclide");
  if (rho && !rkin_grid_same(&rho->g, &tia->g))
    return rkin_err_set(err, RKIN_EINVAL, "LED: the density map's grid is "
                        "not the TIA map's (resample the CT first)");
  if (!rho && (!isfinite(rho_uniform) || rho_uniform <= 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "LED: density %g g/cm3 (expected "
                        "> 0)", rho_uniform);
  e_j = nuc->e_np_mev * RKIN_MEV_J;
  if ((rc = rkin_image_alloc(dose, &tia->g, err)) < 0) return rc;
  for (i = 0; i < n; i++) {
    double r, decays;
    if (mask && !mask[i]) continue;
    if ((rc = check_tia_voxel(tia, i, err)) < 0) goto fail;
    r = rho ? rho->v[i] : rho_uniform;
    if (!(r > 0.0)) {
      rc = rkin_err_set(err, RKIN_EINVAL, "LED: density %g g/cm3 in "
                        "voxel %zu at (%zu,%zu,%zu) (expected > 0)", r, i,
                        i % tia->g.n[0], (i / tia->g.n[0]) % tia->g.n[1],
                        i / (tia->g.n[0] * tia->g.n[1]));
      goto fail;
    }
    decays = tia->v[i] * vml * 3600.0;
    /* mass in kg: rho [g/cm3] x V [mL] / 1000 */
    dose->v[i] = (float)(decays * e_j / (r * vml / 1000.0));
  }
  strcpy(dose->unit, "Gy");
  return RKIN_OK;
fail:
  rkin_image_free(dose);
  return rc;
}

int rkin_dose_kernel(const rkin_image *tia, const char *nuclide,
                     const rkin_kernel *k, const rkin_image *rho,
                     double rho_min, rkin_image *dose, rkin_err *err)
{
  const rkin_nuclide *nuc;
  rkin_conv *c;
  size_t i, n = rkin_grid_count(&tia->g);
  double vml = rkin_grid_voxel_ml(&tia->g);
  float *decays;
  int a, rc;
  if (!(nuc = rkin_nuclide_find(nuclide, err))) return err ? err->code : -3;
  if (strcmp(nuc->name, k->nuclide) != 0)
    return rkin_err_set(err, RKIN_EINVAL, "kernel is for %s, the TIA map for "
                        "%s", k->nuclide, nuc->name);
  for (a = 0; a < 3; a++)
    if (fabs(k->spacing[a] - tia->g.spacing[a]) > 0.005 * tia->g.spacing[a])
      return rkin_err_set(err, RKIN_EINVAL, "kernel voxels are %g x %g x %g "
                          "mm, the image's %g x %g x %g mm: resample the "
                          "image to the kernel's size, build a kernel of "
                          "this size from a dose point kernel, or use local "
                          "energy deposition", k->spacing[0], k->spacing[1],
                          k->spacing[2], tia->g.spacing[0], tia->g.spacing[1],
                          tia->g.spacing[2]);
  if (rho && !rkin_grid_same(&rho->g, &tia->g))
    return rkin_err_set(err, RKIN_EINVAL, "kernel dose: the density map's "
                        "grid is not the TIA map's (resample the CT first)");
  if (rho_min <= 0.0) rho_min = 0.05;
  for (i = 0; i < n; i++)
    if ((rc = check_tia_voxel(tia, i, err)) < 0) return rc;
  if ((rc = rkin_image_alloc(dose, &tia->g, err)) < 0) return rc;
  decays = dose->v;  /* converted in place, then convolved in place */
  for (i = 0; i < n; i++) decays[i] = (float)(tia->v[i] * vml * 3600.0);
  if (!(c = rkin_conv_new(tia->g.n, k, err))) {
    rkin_image_free(dose);
    return err ? err->code : RKIN_ENOMEM;
  }
  rc = rkin_conv_apply(c, decays, dose->v, err);
  rkin_conv_free(c);
  if (rc < 0) {
    rkin_image_free(dose);
    return rc;
  }
  if (rho)
    for (i = 0; i < n; i++) {
      double r = rho->v[i] > rho_min ? rho->v[i] : rho_min;
      dose->v[i] = (float)(dose->v[i] * k->rho / r);
    }
  strcpy(dose->unit, "Gy");
  return RKIN_OK;
}
