/* kernel.c - voxel S-value kernels: the Lanconelli 2012 database, kernels
 * integrated from a radial dose point kernel, kernels given by value. */
#include "voxel/kernel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/nuclide.h"

/* Gy per (MeV/g) */
#define GY_PER_MEV_G (RKIN_MEV_J * 1000.0)

const double rkin_lanconelli_sizes[] = {2.21, 2.33, 2.4, 3.0, 3.59, 3.9, 4.0,
                                        4.42, 4.8, 5.0, 6.0, 6.8, 9.28};
const size_t rkin_lanconelli_n_sizes =
    sizeof rkin_lanconelli_sizes / sizeof rkin_lanconelli_sizes[0];

/* Nuclides of the database and the densities its media behave as: the
 * files do not state them; sum S x voxel mass = 0.934 MeV per 90Y decay
 * (its mean beta energy, ICRP 107) fits 1.04 (soft) and 1.85 (bone). */
static const char *const db_nuclides[] = {"Lu-177", "Y-90", "I-131",
                                          "Sr-89", "Sm-153", "Re-186",
                                          "Re-188"};
#define RHO_SOFT 1.04
#define RHO_BONE 1.85

static size_t kernel_count(const int h[3])
{
  return (size_t)(2 * h[0] + 1) * (size_t)(2 * h[1] + 1) *
         (size_t)(2 * h[2] + 1);
}

static size_t kidx(const rkin_kernel *k, int i, int j, int l)
{
  size_t w0 = (size_t)(2 * k->h[0] + 1), w1 = (size_t)(2 * k->h[1] + 1);
  return ((size_t)(l + k->h[2]) * w1 + (size_t)(j + k->h[1])) * w0 +
         (size_t)(i + k->h[0]);
}

double rkin_kernel_at(const rkin_kernel *k, int i, int j, int l)
{
  if (abs(i) > k->h[0] || abs(j) > k->h[1] || abs(l) > k->h[2]) return 0.0;
  return k->s[kidx(k, i, j, l)];
}

double rkin_kernel_sum(const rkin_kernel *k)
{
  size_t i, n = kernel_count(k->h);
  double s = 0.0;
  for (i = 0; i < n; i++) s += k->s[i];
  return s;
}

double rkin_kernel_energy_mev(const rkin_kernel *k)
{
  double mass_g = k->rho * k->spacing[0] * k->spacing[1] * k->spacing[2] /
                  1000.0;
  return rkin_kernel_sum(k) * mass_g / GY_PER_MEV_G;
}

void rkin_kernel_free(rkin_kernel *k)
{
  if (!k) return;
  free(k->s);
  k->s = NULL;
}

static int kernel_alloc(rkin_kernel *k, const char *nuclide, const int h[3],
                        const double spacing[3], double rho, rkin_err *err)
{
  const rkin_nuclide *nuc;
  int a;
  memset(k, 0, sizeof *k);
  if (!(nuc = rkin_nuclide_find(nuclide, err))) return err ? err->code : -3;
  for (a = 0; a < 3; a++) {
    if (h[a] < 0 || h[a] > RKIN_KERNEL_MAX_HALF)
      return rkin_err_set(err, RKIN_EINVAL, "kernel: half width %d along "
                          "axis %d (expected 0..%d)", h[a], a + 1,
                          RKIN_KERNEL_MAX_HALF);
    if (!isfinite(spacing[a]) || spacing[a] <= 0.0)
      return rkin_err_set(err, RKIN_EINVAL, "kernel: voxel size %g mm along "
                          "axis %d (expected > 0)", spacing[a], a + 1);
    k->h[a] = h[a];
    k->spacing[a] = spacing[a];
  }
  if (!isfinite(rho) || rho <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "kernel: density %g g/cm3 "
                        "(expected > 0)", rho);
  k->rho = rho;
  snprintf(k->nuclide, sizeof k->nuclide, "%s", nuc->name);
  k->s = calloc(kernel_count(h), sizeof *k->s);
  if (!k->s) return rkin_err_set(err, RKIN_ENOMEM, "kernel: out of memory");
  return RKIN_OK;
}

static int parse_num(const char *txt, double *x)
{
  char *end;
  *x = strtod(txt, &end);
  return end != txt && *end == '\0' && isfinite(*x);
}

/* The text of every size, for messages. */
static void list_sizes(char *buf, size_t n)
{
  size_t i, used = 0;
  buf[0] = '\0';
  for (i = 0; i < rkin_lanconelli_n_sizes && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%g", i ? ", " : "",
                             rkin_lanconelli_sizes[i]);
}

int rkin_kernel_lanconelli(const char *dir, const char *nuclide,
                           const char *medium, const double spacing[3],
                           rkin_kernel *k, rkin_err *err)
{
  const rkin_nuclide *nuc;
  char path[4096], tag[16], sizes[160], *text = NULL;
  size_t len, i, nrow = 0, si;
  const int h[3] = {5, 5, 5};
  unsigned char seen[216];
  rkin_csv *csv;
  rkin_csv_record rec;
  rkin_csv_opts opts = {',', "#"};
  int rc, found = 0, a;
  double size = spacing[0];
  memset(k, 0, sizeof *k);
  list_sizes(sizes, sizeof sizes);
  if (!(nuc = rkin_nuclide_find(nuclide, err))) return err ? err->code : -3;
  for (i = 0; i < sizeof db_nuclides / sizeof *db_nuclides; i++)
    found |= strcmp(db_nuclides[i], nuc->name) == 0;
  if (!found)
    return rkin_err_set(err, RKIN_ENOTFOUND, "no voxel S-value kernel for "
                        "%s in the Lanconelli 2012 database (it has Lu-177, "
                        "Y-90, I-131, Sr-89, Sm-153, Re-186, Re-188); build "
                        "one from a dose point kernel, give the kernel, or "
                        "use local energy deposition", nuc->name);
  if (!medium || (strcmp(medium, "soft") && strcmp(medium, "bone")))
    return rkin_err_set(err, RKIN_EINVAL, "kernel medium \"%s\" (expected "
                        "soft or bone)", medium ? medium : "");
  if (fabs(spacing[1] - size) > 0.005 * size ||
      fabs(spacing[2] - size) > 0.005 * size)
    return rkin_err_set(err, RKIN_EINVAL, "voxels of %g x %g x %g mm are not "
                        "cubic: the Lanconelli kernels are (sizes %s mm); "
                        "resample to one of them, build a kernel from a dose "
                        "point kernel, or use local energy deposition",
                        spacing[0], spacing[1], spacing[2], sizes);
  for (si = 0; si < rkin_lanconelli_n_sizes; si++)
    if (fabs(rkin_lanconelli_sizes[si] - size) <= 0.005 * size) break;
  if (si == rkin_lanconelli_n_sizes)
    return rkin_err_set(err, RKIN_ENOTFOUND, "no Lanconelli kernel for %g mm "
                        "voxels (sizes %s mm); resample to one of them, build "
                        "a kernel from a dose point kernel, or use local "
                        "energy deposition", size, sizes);
  /* "Lu-177" -> "Lu177" */
  for (i = 0, a = 0; nuc->name[i] && a < (int)sizeof tag - 1; i++)
    if (nuc->name[i] != '-') tag[a++] = nuc->name[i];
  tag[a] = '\0';
  snprintf(path, sizeof path, "%s/%s_%gmm_%s.csv", dir ? dir : ".", tag,
           rkin_lanconelli_sizes[si], medium);
  {
    double sp[3] = {rkin_lanconelli_sizes[si], rkin_lanconelli_sizes[si],
                    rkin_lanconelli_sizes[si]};
    if ((rc = kernel_alloc(k, nuclide, h, sp,
                           strcmp(medium, "bone") ? RHO_SOFT : RHO_BONE, err)) < 0)
      return rc;
  }
  snprintf(k->medium, sizeof k->medium, "%s", medium);
  snprintf(k->source, sizeof k->source, "Lanconelli et al. 2012 Phys Med "
           "Biol 57:517 (%s_%gmm_%s)", tag, rkin_lanconelli_sizes[si], medium);
  if ((rc = rkin_csv_slurp(path, &text, &len, err)) < 0) goto fail;
  if (!(csv = rkin_csv_open(text, len, path, &opts, err))) {
    rc = err ? err->code : RKIN_EINVAL;
    goto fail;
  }
  memset(seen, 0, sizeof seen);
  rc = rkin_csv_next(csv, &rec, err);
  if (rc == 1 && (rec.n != 4 || strcmp(rec.field[0], "i") ||
                  strcmp(rec.field[3], "S_mGy_per_MBq_s"))) {
    rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: header (expected "
                      "i,j,k,S_mGy_per_MBq_s)", path, rec.line);
  }
  while (rc >= 0 && (rc = rkin_csv_next(csv, &rec, err)) == 1) {
    double v[4];
    int q;
    if (rec.n != 4) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: %zu fields (expected 4: "
                        "i,j,k,S)", path, rec.line, rec.n);
      break;
    }
    for (q = 0; q < 4; q++)
      if (!parse_num(rec.field[q], &v[q]) ||
          (q < 3 && (v[q] != floor(v[q]) || v[q] < 0 || v[q] > 5)) ||
          (q == 3 && v[q] < 0)) {
        rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: field %d \"%s\" "
                          "(expected %s)", path, rec.line, q + 1,
                          rec.field[q],
                          q < 3 ? "an index 0..5" : "a value >= 0");
        break;
      }
    if (rc < 0) break;
    {
      int ii = (int)v[0], jj = (int)v[1], ll = (int)v[2], sx, sy, sz;
      int id = (ll * 6 + jj) * 6 + ii;
      if (seen[id]++) {
        rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: offset (%d,%d,%d) "
                          "given twice", path, rec.line, ii, jj, ll);
        break;
      }
      nrow++;
      for (sx = -1; sx <= 1; sx += 2)
        for (sy = -1; sy <= 1; sy += 2)
          for (sz = -1; sz <= 1; sz += 2)
            k->s[kidx(k, sx * ii, sy * jj, sz * ll)] = v[3] * 1e-9;
    }
  }
  rkin_csv_close(csv);
  if (rc >= 0 && nrow != 216)
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: %zu offsets (expected the 216 "
                      "of the octant 0..5)", path, nrow);
  if (rc < 0) goto fail;
  free(text);
  return RKIN_OK;
fail:
  free(text);
  rkin_kernel_free(k);
  return rc;
}

int rkin_kernel_from_values(const char *nuclide, const int h[3],
                            const double spacing[3], double rho,
                            const double *s, rkin_kernel *k, rkin_err *err)
{
  size_t i, n;
  int rc = kernel_alloc(k, nuclide, h, spacing, rho, err);
  if (rc < 0) return rc;
  n = kernel_count(h);
  for (i = 0; i < n; i++) {
    if (!isfinite(s[i]) || s[i] < 0.0) {
      rkin_kernel_free(k);
      return rkin_err_set(err, RKIN_EINVAL, "kernel value %zu is %g (expected "
                          "a finite value >= 0, Gy per decay)", i + 1, s[i]);
    }
    k->s[i] = s[i];
  }
  snprintf(k->medium, sizeof k->medium, "user");
  snprintf(k->source, sizeof k->source, "given by the caller");
  return RKIN_OK;
}

/* Directions on the unit sphere: a Fibonacci lattice (near-uniform). */
#define N_DIR 8000

int rkin_kernel_from_dpk(const char *dpk_csv, const char *nuclide,
                         const int h[3], const double spacing[3], double rho,
                         rkin_kernel *k, rkin_err *err)
{
  char *text = NULL;
  size_t len, nsh = 0, cap = 0, i;
  double *r_out = NULL, *e_sh = NULL, prev = 0.0, vol_cm3;
  rkin_csv *csv;
  rkin_csv_record rec;
  rkin_csv_opts opts = {',', "#"};
  int rc;
  if ((rc = kernel_alloc(k, nuclide, h, spacing, rho, err)) < 0) return rc;
  snprintf(k->medium, sizeof k->medium, "water");
  if ((rc = rkin_csv_slurp(dpk_csv, &text, &len, err)) < 0) goto done;
  if (!(csv = rkin_csv_open(text, len, dpk_csv, &opts, err))) {
    rc = err ? err->code : RKIN_EINVAL;
    goto done;
  }
  rc = rkin_csv_next(csv, &rec, err);
  if (rc == 1 && (rec.n < 2 || strcmp(rec.field[0], "r_outer_cm") ||
                  strcmp(rec.field[1], "E_dep_MeV_per_emission")))
    rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: header (expected "
                      "r_outer_cm,E_dep_MeV_per_emission,...)", dpk_csv,
                      rec.line);
  else if (rc == 0)
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: empty", dpk_csv);
  while (rc >= 0 && (rc = rkin_csv_next(csv, &rec, err)) == 1) {
    double r, e;
    if (rec.n < 2 || !parse_num(rec.field[0], &r) ||
        !parse_num(rec.field[1], &e) || r <= prev || e < 0.0) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%zu: expected an outer radius "
                        "> %g cm and an energy >= 0 MeV", dpk_csv, rec.line,
                        prev);
      break;
    }
    if (nsh == cap) {
      size_t nc = cap ? 2 * cap : 128;
      double *a = realloc(r_out, nc * sizeof *a), *b;
      if (!a) { rc = rkin_err_set(err, RKIN_ENOMEM, "DPK: out of memory"); break; }
      r_out = a;
      b = realloc(e_sh, nc * sizeof *b);
      if (!b) { rc = rkin_err_set(err, RKIN_ENOMEM, "DPK: out of memory"); break; }
      e_sh = b;
      cap = nc;
    }
    r_out[nsh] = r;
    e_sh[nsh++] = e;
    prev = r;
  }
  rkin_csv_close(csv);
  if (rc < 0) goto done;
  if (nsh < 2) {
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: %zu shells (expected a radial "
                      "table)", dpk_csv, nsh);
    goto done;
  }
  /* Energy per decay reaching the target voxel: for each shell, its energy
   * times the mean over the shell's sphere of f(u) = prod_a tri(u_a/h_a -
   * i_a); a point u feeds only the 8 targets around it, with the linear
   * weights of its position between their centres. */
  {
    const double golden = M_PI * (3.0 - sqrt(5.0));
    size_t s, d;
    for (s = 0; s < nsh; s++) {
      double r_in = s ? r_out[s - 1] : 0.0;
      /* mm; the water kernel at density rho: radii scaled by 1/rho */
      double rm = 0.5 * (r_in + r_out[s]) * 10.0 / rho;
      double wsh = e_sh[s] / (double)N_DIR;
      if (e_sh[s] == 0.0) continue;
      for (d = 0; d < N_DIR; d++) {
        double z = 1.0 - (2.0 * (double)d + 1.0) / N_DIR;
        double rad = sqrt(1.0 - z * z), phi = golden * (double)d;
        double u[3] = {rm * rad * cos(phi), rm * rad * sin(phi), rm * z};
        int lo[3], a, c;
        double fr[3];
        for (a = 0; a < 3; a++) {
          double x = u[a] / spacing[a];
          lo[a] = (int)floor(x);
          fr[a] = x - lo[a];
        }
        for (c = 0; c < 8; c++) {
          int ii = lo[0] + (c & 1), jj = lo[1] + ((c >> 1) & 1),
              ll = lo[2] + ((c >> 2) & 1);
          double w = (c & 1 ? fr[0] : 1 - fr[0]) *
                     ((c >> 1) & 1 ? fr[1] : 1 - fr[1]) *
                     ((c >> 2) & 1 ? fr[2] : 1 - fr[2]);
          if (abs(ii) > h[0] || abs(jj) > h[1] || abs(ll) > h[2]) continue;
          k->s[kidx(k, ii, jj, ll)] += wsh * w;
        }
      }
    }
  }
  /* MeV per decay in the target -> Gy; then symmetrise over the reflections
   * (the lattice is not exactly symmetric) */
  vol_cm3 = spacing[0] * spacing[1] * spacing[2] / 1000.0;
  {
    int ii, jj, ll;
    double *t = malloc(kernel_count(h) * sizeof *t);
    if (!t) {
      rc = rkin_err_set(err, RKIN_ENOMEM, "DPK: out of memory");
      goto done;
    }
    for (ll = -h[2]; ll <= h[2]; ll++)
      for (jj = -h[1]; jj <= h[1]; jj++)
        for (ii = -h[0]; ii <= h[0]; ii++) {
          double m = 0.0;
          int sx, sy, sz;
          for (sx = -1; sx <= 1; sx += 2)
            for (sy = -1; sy <= 1; sy += 2)
              for (sz = -1; sz <= 1; sz += 2)
                m += k->s[kidx(k, sx * ii, sy * jj, sz * ll)];
          t[kidx(k, ii, jj, ll)] = m / 8.0 * GY_PER_MEV_G / (rho * vol_cm3);
        }
    memcpy(k->s, t, kernel_count(h) * sizeof *t);
    free(t);
  }
  for (i = 0; i < kernel_count(h); i++)
    if (!isfinite(k->s[i])) {
      rc = rkin_err_set(err, RKIN_ENONFINITE, "%s: the kernel integrated "
                        "from this dose point kernel has a non-finite value "
                        "(%zu of %zu): its shell energies overflow (expected "
                        "MeV per emission)", dpk_csv, i + 1,
                        kernel_count(h));
      goto done;
    }
  snprintf(k->source, sizeof k->source, "integrated from the dose point "
           "kernel %s (%zu shells to %g cm), density %g", dpk_csv, nsh,
           r_out[nsh - 1], rho);
  rc = RKIN_OK;
done:
  free(text);
  free(r_out);
  free(e_sh);
  if (rc < 0) rkin_kernel_free(k);
  return rc;
}
