/* nifti_io.c - NIfTI-1 and NIfTI-2 reading and writing through Debian's
 * nifticlib (libnifti2: the nifti2_io API reads both versions into one
 * nifti_image with 64-bit dims and double transforms). */
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nifti/nifti2_io.h>

/* Spacing and direction from the 3x3 part of an index-to-world matrix
 * whose columns are spacing_c x direction_c. */
static int geometry_from_mat(const nifti_dmat44 *m, double unit_mm,
                             rkin_grid *g)
{
  int c, r;
  for (c = 0; c < 3; c++) {
    double norm = 0.0;
    for (r = 0; r < 3; r++) norm += m->m[r][c] * m->m[r][c];
    norm = sqrt(norm);
    if (!(norm > 0.0) || !isfinite(norm)) return -1;
    g->spacing[c] = norm * unit_mm;
    for (r = 0; r < 3; r++) g->dir[3 * r + c] = m->m[r][c] / norm;
  }
  for (r = 0; r < 3; r++) g->origin[r] = m->m[r][3] * unit_mm;
  return 0;
}

static double voxel_as_double(const void *data, int type, size_t i)
{
  switch (type) {
  case NIFTI_TYPE_UINT8: return ((const uint8_t *)data)[i];
  case NIFTI_TYPE_INT8: return ((const int8_t *)data)[i];
  case NIFTI_TYPE_INT16: return ((const int16_t *)data)[i];
  case NIFTI_TYPE_UINT16: return ((const uint16_t *)data)[i];
  case NIFTI_TYPE_INT32: return ((const int32_t *)data)[i];
  case NIFTI_TYPE_UINT32: return ((const uint32_t *)data)[i];
  case NIFTI_TYPE_INT64: return (double)((const int64_t *)data)[i];
  case NIFTI_TYPE_UINT64: return (double)((const uint64_t *)data)[i];
  case NIFTI_TYPE_FLOAT32: return ((const float *)data)[i];
  case NIFTI_TYPE_FLOAT64: return ((const double *)data)[i];
  default: return NAN;
  }
}

static int type_supported(int type)
{
  return !isnan(voxel_as_double(&(double){0.0}, type, 0)) ||
         type == NIFTI_TYPE_FLOAT32;
}

/* One pass over the stored voxel data through znzlib (so .nii.gz and
 * .hdr/.img pairs too) before nifticlib allocates a buffer for all of it:
 * counts the voxels the data file holds, so a small file whose header
 * declares many voxels is refused without allocating them, and for real
 * types finds the first non-finite voxel, since nifticlib's reader
 * (nifti_read_buffer) silently replaces NaN and infinite float voxels by
 * 0. *held is the number of the n voxels present. Returns 1 with the
 * first non-finite voxel's index and value, 0 otherwise, -1 when the data
 * cannot be opened or positioned (nifti_image_load reports that). */
static int scan_data(const nifti_image *nim, size_t n, size_t *held,
                     size_t *bad, double *val)
{
  unsigned char buf[8192];
  size_t size = (size_t)nim->nbyper, i = 0, per, want, got, k;
  int real = nim->datatype == NIFTI_TYPE_FLOAT32 ||
             nim->datatype == NIFTI_TYPE_FLOAT64;
  int swap = nim->byteorder != nifti_short_order();
  znzFile fp;
  *held = n;
  if (!nim->iname || nim->iname_offset < 0 || size < 1 || size > 8)
    return -1;
  fp = znzopen(nim->iname, "rb", nifti_is_gzfile(nim->iname));
  if (znz_isnull(fp)) return -1;
  if (znzseek(fp, (long)nim->iname_offset, SEEK_SET) < 0) {
    znzclose(fp);
    return -1;
  }
  per = sizeof buf / size;
  while (i < n) {
    want = n - i < per ? n - i : per;
    got = znzread(buf, size, want, fp);
    if (real && swap && size == 8) nifti_swap_8bytes((int64_t)got, buf);
    else if (real && swap) nifti_swap_4bytes((int64_t)got, buf);
    for (k = 0; real && k < got; k++) {
      double x;
      if (size == 8) memcpy(&x, buf + 8 * k, 8);
      else {
        float f;
        memcpy(&f, buf + 4 * k, 4);
        x = f;
      }
      if (!isfinite(x)) {
        *bad = i + k;
        *val = x;
        znzclose(fp);
        return 1;
      }
    }
    i += got;
    if (got < want) break;
  }
  znzclose(fp);
  *held = i;
  return 0;
}

/* nifticlib's nifti_convert_n2hdr2nim trusts a NIfTI-2 header's dim[0]
 * when the header looks byte-swapped: a dim[0] outside 1..7 in both byte
 * orders makes it write dim[] entries past its copy of the header, up the
 * stack, until the process dies (a 556-byte file found by fuzzing,
 * tests/fuzz/regress/nifti/). So the header file's dim[0] is checked
 * first, in the byte order its sizeof_hdr (348 or 540) gives, then
 * dim[1..dim[0]] >= 1 (nifticlib refuses those itself, but only with its
 * own "bad dim" line on stderr and no field named to our caller); a file
 * that is no binary NIfTI header is left to nifticlib's messages. */
static int check_dims(const char *path, rkin_err *err)
{
  char *hname;
  unsigned char h[80];   /* NIfTI-2's dim[8] ends at byte 80 */
  znzFile fp;
  size_t got;
  int32_t sz;
  long long d[8];
  int swap = 0, rc = RKIN_OK, k;
  if (!(hname = nifti_findhdrname(path))) return RKIN_OK;
  fp = znzopen(hname, "rb", nifti_is_gzfile(hname));
  if (znz_isnull(fp)) {
    free(hname);
    return RKIN_OK;
  }
  got = znzread(h, 1, sizeof h, fp);
  znzclose(fp);
  memcpy(&sz, h, 4);
  if (got == sizeof h && sz != 348 && sz != 540) {
    nifti_swap_4bytes(1, &sz);
    swap = 1;
  }
  if (got == sizeof h && (sz == 348 || sz == 540)) {
    for (k = 0; k < 8; k++) {
      if (sz == 540) {   /* int64 dim[8] from byte 16 */
        int64_t v;
        memcpy(&v, h + 16 + 8 * k, 8);
        if (swap) nifti_swap_8bytes(1, &v);
        d[k] = (long long)v;
      } else {           /* int16 dim[8] from byte 40 */
        int16_t v;
        memcpy(&v, h + 40 + 2 * k, 2);
        if (swap) nifti_swap_2bytes(1, &v);
        d[k] = v;
      }
    }
    if (d[0] < 1 || d[0] > 7)
      rc = rkin_err_set(err, RKIN_EINVAL, "%s: NIfTI-%d header gives "
                        "dim[0] = %lld (expected 1 to 7 dimensions)", hname,
                        sz == 540 ? 2 : 1, d[0]);
    for (k = 1; rc == RKIN_OK && k <= d[0]; k++)
      if (d[k] < 1)
        rc = rkin_err_set(err, RKIN_EINVAL, "%s: NIfTI-%d header gives "
                          "dim[%d] = %lld (expected >= 1: each of the "
                          "dim[0] = %lld dimensions holds a voxel)", hname,
                          sz == 540 ? 2 : 1, k, d[k], d[0]);
  }
  free(hname);
  return rc;
}

int rkin_nifti_read(const char *path, rkin_image *im, rkin_err *err)
{
  nifti_image *nim;
  rkin_grid g;
  double unit_mm = 1.0, slope, inter;
  size_t i, n;
  int a, rc;
  memset(im, 0, sizeof *im);
  if (!path || !*path)
    return rkin_err_set(err, RKIN_EINVAL, "NIfTI read: empty path");
  nifti_set_debug_level(0);
  if ((rc = check_dims(path, err)) < 0) return rc;
  /* header first: dims are checked before any data is allocated */
  nim = nifti_image_read(path, 0);
  if (!nim)
    return rkin_err_set(err, RKIN_EIO, "%s: not a readable NIfTI-1/2 file "
                        "(missing, unreadable or a bad header)", path);
  if (nim->ndim < 3 || nim->ndim > 4 || (nim->ndim == 4 && nim->nt != 1) ||
      nim->nu > 1 || nim->nv > 1 || nim->nw > 1) {
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: %d-dimensional image with dims "
                      "%lld x %lld x %lld x %lld (expected one 3D volume)",
                      path, (int)nim->ndim, (long long)nim->nx,
                      (long long)nim->ny, (long long)nim->nz,
                      (long long)nim->nt);
    goto fail;
  }
  if (nim->nx < 1 || nim->ny < 1 || nim->nz < 1) {
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: dims %lld x %lld x %lld "
                      "(expected >= 1 each)", path, (long long)nim->nx,
                      (long long)nim->ny, (long long)nim->nz);
    goto fail;
  }
  if (!type_supported(nim->datatype)) {
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: voxel type %s is not supported "
                      "(expected an integer or real scalar type)", path,
                      nifti_datatype_string(nim->datatype));
    goto fail;
  }
  switch (nim->xyz_units) {
  case NIFTI_UNITS_METER: unit_mm = 1000.0; break;
  case NIFTI_UNITS_MICRON: unit_mm = 1e-3; break;
  default: unit_mm = 1.0; /* mm, or unknown: taken as mm */
  }
  memset(&g, 0, sizeof g);
  g.n[0] = (size_t)nim->nx; g.n[1] = (size_t)nim->ny; g.n[2] = (size_t)nim->nz;
  if (geometry_from_mat(nim->sform_code > 0 ? &nim->sto_xyz : &nim->qto_xyz,
                        unit_mm, &g) < 0) {
    rc = rkin_err_set(err, RKIN_EINVAL, "%s: the %s transform has a zero or "
                      "non-finite column (no usable voxel spacing)", path,
                      nim->sform_code > 0 ? "sform" : "qform");
    goto fail;
  }
  if ((rc = rkin_grid_check(&g, path, err)) < 0) goto fail;
  {
    size_t held, bad = 0;
    double x = 0.0;
    int s = scan_data(nim, rkin_grid_count(&g), &held, &bad, &x);
    if (s == 1) {
      rc = rkin_err_set(err, RKIN_ENONFINITE, "%s: stored voxel (%zu,%zu,%zu) "
                        "(index %zu) is %g (expected a finite value; "
                        "nifticlib would read it as 0)", path, bad % g.n[0],
                        (bad / g.n[0]) % g.n[1], bad / (g.n[0] * g.n[1]),
                        bad, x);
      goto fail;
    }
    if (s == 0 && held < rkin_grid_count(&g)) {
      rc = rkin_err_set(err, RKIN_EIO, "%s: could not read the %zu voxels "
                        "(file truncated?): %s holds %zu of them (%d bytes "
                        "each from byte %lld)", path, rkin_grid_count(&g),
                        nim->iname, held, nim->nbyper,
                        (long long)nim->iname_offset);
      goto fail;
    }
  }
  if (nifti_image_load(nim) < 0 || !nim->data) {
    rc = rkin_err_set(err, RKIN_EIO, "%s: could not read the %zu voxels "
                      "(file truncated?)", path, rkin_grid_count(&g));
    goto fail;
  }
  if ((rc = rkin_image_alloc(im, &g, err)) < 0) goto fail;
  slope = nim->scl_slope;
  inter = nim->scl_inter;
  if (slope == 0.0 || !isfinite(slope) || !isfinite(inter)) {
    slope = 1.0;
    inter = 0.0;
  }
  n = rkin_grid_count(&g);
  for (i = 0; i < n; i++) {
    double x = voxel_as_double(nim->data, nim->datatype, i) * slope + inter;
    if (!isfinite(x) || fabs(x) > 3.4e38) {
      rc = rkin_err_set(err, RKIN_ENONFINITE, "%s: voxel (%zu,%zu,%zu) is "
                        "%g (expected a finite value)", path, i % g.n[0],
                        (i / g.n[0]) % g.n[1], i / (g.n[0] * g.n[1]), x);
      rkin_image_free(im);
      goto fail;
    }
    im->v[i] = (float)x;
  }
  a = nim->intent_code == NIFTI_INTENT_LABEL;
  im->is_label = a;
  nifti_image_free(nim);
  return RKIN_OK;
fail:
  nifti_image_free(nim);
  return rc;
}

static int has_suffix(const char *s, const char *suf)
{
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Writes nim as one single-file NIfTI-<version> (gzipped when tmp ends in
 * .gz) at tmp. nifticlib's nifti_image_write cannot be asked for NIfTI-2:
 * nifti_set_filenames resets nifti_type from the .nii name, and the writer
 * only falls back to NIfTI-2 when the dims do not fit a NIfTI-1 header;
 * with nifti_type NIFTI2_1 it even writes the data over the header. So
 * nifticlib converts the image to the header of the version asked for and
 * this writes it: header (348 or 540 bytes), the 4-byte extender (no
 * extensions), the voxels from vox_offset (352 or 544), every write
 * checked (a full disk or a file size limit is an error, not a short
 * file). */
static int write_single(nifti_image *nim, int version, const char *tmp,
                        const char *path, rkin_err *err)
{
  static const char extender[4] = {0, 0, 0, 0};
  /* NIfTI-2's magic: "n+2", then a 4-byte check of line-ending mangling */
  static const char magic2[8] = {'n', '+', '2', '\0', '\r', '\n', '\032',
                                 '\n'};
  nifti_1_header h1;
  nifti_2_header h2;
  const void *hdr;
  size_t hsize, nbytes = (size_t)nim->nvox * (size_t)nim->nbyper;
  znzFile fp;
  int good;
  /* NIfTI-1 dims are 16-bit (checked here: nifticlib's conversion would
   * print its refusal) */
  good = version == 2 ||
         (nim->nx <= 32767 && nim->ny <= 32767 && nim->nz <= 32767);
  /* offset for a single file: header + extender, 16-byte aligned */
  nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
  nifti_set_iname_offset(nim, version);
  if (version == 2) {
    /* the whole magic: nifticlib's conversion writes only "n+2\0" (and
     * "ni2" unless nifti_type is NIFTI2_1) */
    good = good && nifti_convert_nim2n2hdr(nim, &h2) == 0;
    memcpy(h2.magic, magic2, sizeof magic2);
    hdr = &h2;
    hsize = sizeof h2;
  } else {
    good = good && nifti_convert_nim2n1hdr(nim, &h1) == 0;
    hdr = &h1;
    hsize = sizeof h1;
  }
  if (!good)
    return rkin_err_set(err, RKIN_EINVAL, "%s: %lld x %lld x %lld voxels do "
                        "not fit a NIfTI-%d header (NIfTI-1 holds at most "
                        "32767 along an axis: write NIfTI-2)", path,
                        (long long)nim->nx, (long long)nim->ny,
                        (long long)nim->nz, version);
  fp = znzopen(tmp, "wb", nifti_is_gzfile(tmp));
  if (znz_isnull(fp))
    return rkin_err_set(err, RKIN_EIO, "%s: cannot open the temporary %s "
                        "for writing: %s", path, tmp, strerror(errno));
  good = znzwrite(hdr, 1, hsize, fp) == hsize &&
         znzwrite(extender, 1, sizeof extender, fp) == sizeof extender &&
         znzwrite(nim->data, 1, nbytes, fp) == nbytes;
  if (znzclose(fp) != 0) good = 0;
  if (!good)
    return rkin_err_set(err, RKIN_EIO, "%s: writing the %zu bytes of voxels "
                        "failed (disk full, a file size limit, or not "
                        "writable?)", path, nbytes);
  return RKIN_OK;
}

int rkin_nifti_write(const char *path, const rkin_image *im, int version,
                     rkin_err *err)
{
  int64_t dims[8] = {3, 1, 1, 1, 1, 1, 1, 1};
  nifti_image *nim;
  struct stat st;
  char *tmp = NULL;
  const char *slash, *base;
  size_t n, len;
  int fd, r, c, rc;
  double qfac, dx, dy, dz;
  if (!path || !*path)
    return rkin_err_set(err, RKIN_EINVAL, "NIfTI write: empty path");
  if (!has_suffix(path, ".nii") && !has_suffix(path, ".nii.gz"))
    return rkin_err_set(err, RKIN_EINVAL, "%s: expected a name ending in "
                        ".nii or .nii.gz", path);
  if (version != 1 && version != 2)
    return rkin_err_set(err, RKIN_EINVAL, "%s: NIfTI version %d (expected 1 "
                        "or 2)", path, version);
  if ((rc = rkin_grid_check(&im->g, path, err)) < 0) return rc;
  if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return rkin_err_set(err, RKIN_EIO, "%s: exists and is not a regular file "
                        "(refusing to replace it)", path);
  /* a hidden temporary in the same folder, so the rename is atomic */
  slash = strrchr(path, '/');
  base = slash ? slash + 1 : path;
  len = strlen(path) + 64;
  tmp = malloc(len);
  if (!tmp) return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
  snprintf(tmp, len, "%.*s.rk%ld-%s", slash ? (int)(slash - path + 1) : 0,
           path, (long)getpid(), base);
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    rc = rkin_err_set(err, RKIN_EIO, "%s: cannot create the temporary %s: %s",
                      path, tmp, strerror(errno));
    free(tmp);
    return rc;
  }
  close(fd);
  nifti_set_debug_level(0);
  for (c = 0; c < 3; c++) dims[c + 1] = (int64_t)im->g.n[c];
  nim = nifti_make_new_nim(dims, NIFTI_TYPE_FLOAT32, 1);
  if (!nim) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "%s: nifticlib could not make the "
                      "image", path);
    goto fail;
  }
  n = rkin_grid_count(&im->g);
  memcpy(nim->data, im->v, n * sizeof(float));
  memset(&nim->sto_xyz, 0, sizeof nim->sto_xyz);
  for (r = 0; r < 3; r++) {
    for (c = 0; c < 3; c++)
      nim->sto_xyz.m[r][c] = im->g.dir[3 * r + c] * im->g.spacing[c];
    nim->sto_xyz.m[r][3] = im->g.origin[r];
  }
  nim->sto_xyz.m[3][3] = 1.0;
  nim->sto_ijk = nifti_dmat44_inverse(nim->sto_xyz);
  nim->qto_xyz = nim->sto_xyz;
  nim->qto_ijk = nim->sto_ijk;
  nifti_dmat44_to_quatern(nim->sto_xyz, &nim->quatern_b, &nim->quatern_c,
                          &nim->quatern_d, &nim->qoffset_x, &nim->qoffset_y,
                          &nim->qoffset_z, &dx, &dy, &dz, &qfac);
  nim->qfac = qfac;
  nim->dx = nim->pixdim[1] = im->g.spacing[0];
  nim->dy = nim->pixdim[2] = im->g.spacing[1];
  nim->dz = nim->pixdim[3] = im->g.spacing[2];
  nim->qform_code = nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
  nim->xyz_units = NIFTI_UNITS_MM;
  nim->scl_slope = 1.0;
  nim->scl_inter = 0.0;
  if (im->is_label) nim->intent_code = NIFTI_INTENT_LABEL;
  snprintf(nim->descrip, sizeof nim->descrip, "radiokin%s%s",
           im->unit[0] ? " unit=" : "", im->unit);
  if ((rc = write_single(nim, version, tmp, path, err)) < 0) goto fail;
  if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    rc = rkin_err_set(err, RKIN_EIO, "%s: exists and is not a regular file "
                      "(refusing to replace it)", path);
    goto fail;
  }
  if (rename(tmp, path) != 0) {
    rc = rkin_err_set(err, RKIN_EIO, "%s: %s", path, strerror(errno));
    goto fail;
  }
  nifti_image_free(nim);
  free(tmp);
  return RKIN_OK;
fail:
  if (nim) nifti_image_free(nim);
  unlink(tmp);
  free(tmp);
  return rc;
}
