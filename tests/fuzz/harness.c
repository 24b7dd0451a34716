/* harness.c - the readers' fuzz entries (see harness.h). */
#define _GNU_SOURCE   /* memfd_create */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/init.h"
#include "image/dicom.h"
#include "image/image.h"
#include "sbml/sbml.h"
#include "pop/data.h"
#include "pop/vpop.h"
#include "tare/tare_cohort.h"

const rkfuzz_reader rkfuzz_readers[] = {
  {"data", rkfuzz_data},
  {"tare_cohort", rkfuzz_tare_cohort},
  {"vpop_csv", rkfuzz_vpop_csv},
  {"nifti", rkfuzz_nifti},
  {"sbml", rkfuzz_sbml},
  {"seg", rkfuzz_seg},
};
const size_t rkfuzz_nreaders = sizeof rkfuzz_readers / sizeof *rkfuzz_readers;

static void once(void)
{
  static int done;
  if (!done) {
    rkin_init();
    done = 1;
  }
}

static void broken(const char *reader, const char *what)
{
  fprintf(stderr, "fuzz %s: %s\n", reader, what);
  abort();
}

/* A failing call returns a negative code and says why. */
static void check_failure(const char *reader, int rc, const rkin_err *err)
{
  if (rc >= 0) broken(reader, "failure with a non-negative code");
  if (err->code != rc) broken(reader, "error record's code differs from "
                                      "the returned one");
  if (!err->msg[0]) broken(reader, "failure without a message");
  if (!memchr(err->msg, 0, sizeof err->msg))
    broken(reader, "message not terminated");
}

/* A copy of exactly `size` bytes on the heap, without a terminating NUL,
 * so a reader that runs past the length it was given is caught by ASan. */
static char *exact_copy(const uint8_t *data, size_t size)
{
  char *p = malloc(size ? size : 1);
  if (!p) abort();
  if (size) memcpy(p, data, size);
  return p;
}

/* Reads every number a dataset offers (ASan checks the sizes). */
static double touch_data(const rkin_data *d)
{
  double sum = 0;
  size_t i, j, k, ncov = rkin_data_ncovariates(d);
  for (k = 0; k < ncov; k++)
    if (!rkin_data_covariate_name(d, k)) broken("data", "covariate without a name");
  for (i = 0; i < rkin_data_nsubjects(d); i++) {
    const rkin_data_subject *s = rkin_data_subject_at(d, i);
    if (!s) broken("data", "subject index in range gives NULL");
    sum += s->id;
    for (j = 0; j < s->n_obs; j++)
      sum += s->time[j] + s->dv[j] + s->cmt[j] + (double)s->obs_line[j];
    for (k = 0; k < ncov; k++) sum += isnan(s->cov[k]) ? 0 : s->cov[k];
    for (j = 0; j < s->n_seg; j++) {
      const rkin_data_segment *g = &s->seg[j];
      if (g->first_obs + g->n_obs > s->n_obs)
        broken("data", "a segment's observations run past the subject's");
      sum += g->t0;
    }
  }
  return sum;
}

void rkfuzz_data(const uint8_t *data, size_t size)
{
  static const char *const names[] = {"depot", "central"};
  rkin_data_opts named = {.n_states = 2, .state_names = names};
  const rkin_data_opts *opts[2] = {NULL, &named};
  char *text = exact_copy(data, size);
  int o;
  once();
  for (o = 0; o < 2; o++) {
    rkin_err err;
    rkin_data *d;
    memset(&err, 0, sizeof err);
    d = rkin_data_parse(text, size, "fuzz.csv", opts[o], &err);
    if (!d) {
      check_failure("data", err.code, &err);
      continue;
    }
    if (touch_data(d) == 0.123456789) fputc(' ', stderr);  /* keep reads */
    rkin_data_free(d);
  }
  free(text);
}

void rkfuzz_tare_cohort(const uint8_t *data, size_t size)
{
  char *text = exact_copy(data, size);
  rkin_tare_cohort *c;
  rkin_err err;
  int rc;
  once();
  memset(&err, 0, sizeof err);
  if (!(c = rkin_tare_cohort_new())) abort();
  rc = rkin_tare_cohort_parse_csv(c, text, size, "fuzz.csv", &err);
  if (rc) {
    check_failure("tare_cohort", rc, &err);
    if (rkin_tare_cohort_size(c) != 0)
      broken("tare_cohort", "patients added by a failing parse");
  } else {
    /* Plan every patient and write the table: the parsed values must be
     * usable, or refused with a message. */
    rkin_tare_summary sum;
    char *out = NULL;
    size_t len = 0, i;
    for (i = 0; i < rkin_tare_cohort_size(c); i++)
      if (!rkin_tare_cohort_id(c, i)) broken("tare_cohort", "patient without an id");
    memset(&err, 0, sizeof err);
    rc = rkin_tare_cohort_csv(c, &out, &len, &sum, &err);
    if (rc) {
      check_failure("tare_cohort", rc, &err);
      if (out) broken("tare_cohort", "table text left on failure");
    } else if (!out || strlen(out) != len) {
      broken("tare_cohort", "table text and its length disagree");
    }
    free(out);
  }
  rkin_tare_cohort_free(c);
  free(text);
}

/* rkin_pop_read_csv reads a path: the bytes go to an in-memory file. */
void rkfuzz_vpop_csv(const uint8_t *data, size_t size)
{
  static const char *const need[] = {"WT", "AGE"};
  static const char *const want[] = {"CRCL", "eta_CL"};
  char path[64];
  int found[2], fd, rc;
  size_t rows = 0, off = 0, r, k;
  double *v = NULL;
  size_t *lines = NULL;
  rkin_err err;
  once();
  if ((fd = memfd_create("fuzz.csv", 0)) < 0) abort();
  while (off < size) {
    ssize_t w = write(fd, data + off, size - off);
    if (w <= 0) abort();
    off += (size_t)w;
  }
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  memset(&err, 0, sizeof err);
  rc = rkin_pop_read_csv(path, 2, need, 2, want, found, &rows, &v, &lines,
                         &err);
  if (rc) {
    check_failure("vpop_csv", rc, &err);
  } else {
    double sum = 0;
    for (r = 0; r < rows; r++) {
      for (k = 0; k < 4; k++) {
        double x = v[r * 4 + k];
        if (k < 2 || found[k - 2]) {
          if (!isfinite(x)) broken("vpop_csv", "a read cell is not finite");
        } else if (!isnan(x)) {
          broken("vpop_csv", "an absent column is not NaN");
        }
        sum += isnan(x) ? 0 : x;
      }
      sum += (double)lines[r];
    }
    if (sum == 0.123456789) fputc(' ', stderr);
  }
  free(v);
  free(lines);
  close(fd);
}

/* ---- readers of a path: a private temporary folder (mode 0700, unique
 * name) holds the input and goes away afterwards. */

static void fuzz_tmpdir(char *dir, size_t size)
{
  const char *t = getenv("TMPDIR");
  if ((size_t)snprintf(dir, size, "%s/rkfuzz-XXXXXX", t && *t ? t : "/tmp")
      >= size || !mkdtemp(dir))
    abort();
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f))
    abort();
}

/* Removes every file of dir, then dir. */
static void remove_dir(const char *dir)
{
  static const char *const names[] = {"in.nii", "in.nii.gz", "in.hdr",
                                      "in.img", "out.nii", "in.xml",
                                      "in.dcm"};
  char path[4200];
  size_t k;
  for (k = 0; k < sizeof names / sizeof *names; k++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[k]);
    unlink(path);
  }
  if (rmdir(dir)) broken("tmpdir", "a reader left a file in its folder");
}

/* The file name follows the bytes, as a user's would: gzip's magic gives
 * .nii.gz; a header whose magic says "separate image" (NIfTI-1 "ni1" at
 * 344, NIfTI-2 "ni2" at 4) is split into .hdr (its 348 or 540 bytes) and
 * .img (the rest); anything else is .nii. A successful read must give a
 * checked grid and finite voxels, and write back (NIfTI-2) into a file
 * that reads as the same image. */
void rkfuzz_nifti(const uint8_t *data, size_t size)
{
  char dir[4096], path[4200], img[4200];
  rkin_image im;
  rkin_err err;
  size_t hdr = 0;
  int rc;
  once();
  fuzz_tmpdir(dir, sizeof dir);
  if (size >= 348 && !memcmp(data + 344, "ni1", 4)) hdr = 348;
  else if (size >= 540 && !memcmp(data + 4, "ni2", 4)) hdr = 540;
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    snprintf(path, sizeof path, "%s/in.nii.gz", dir);
    write_file(path, data, size);
  } else if (hdr) {
    snprintf(path, sizeof path, "%s/in.hdr", dir);
    snprintf(img, sizeof img, "%s/in.img", dir);
    write_file(path, data, hdr);
    write_file(img, data + hdr, size - hdr);
  } else {
    snprintf(path, sizeof path, "%s/in.nii", dir);
    write_file(path, data, size);
  }
  memset(&err, 0, sizeof err);
  rc = rkin_nifti_read(path, &im, &err);
  if (rc) {
    check_failure("nifti", rc, &err);
    if (im.v) broken("nifti", "voxels left on failure");
  } else {
    size_t n = rkin_grid_count(&im.g), i;
    rkin_err gerr;
    memset(&gerr, 0, sizeof gerr);
    if (rkin_grid_check(&im.g, "fuzz", &gerr))
      broken("nifti", "an image read on a grid that fails its check");
    if (!im.v) broken("nifti", "success without voxels");
    for (i = 0; i < n; i++)
      if (!isfinite(im.v[i])) broken("nifti", "a non-finite voxel read");
    if (n <= 4096) {
      rkin_image back;
      snprintf(img, sizeof img, "%s/out.nii", dir);
      memset(&err, 0, sizeof err);
      if ((rc = rkin_nifti_write(img, &im, 2, &err)))
        check_failure("nifti", rc, &err);
      else {
        memset(&err, 0, sizeof err);
        if ((rc = rkin_nifti_read(img, &back, &err)))
          broken("nifti", "the written image does not read back");
        if (!rkin_grid_same(&im.g, &back.g) || back.is_label != im.is_label)
          broken("nifti", "the written image's grid reads back different");
        for (i = 0; i < n; i++)   /* by value: -0 reads back as +0 */
          if (im.v[i] != back.v[i])
            broken("nifti", "the written image's voxels read back different");
        rkin_image_free(&back);
      }
    }
    rkin_image_free(&im);
  }
  remove_dir(dir);
}

/* A model read must name its symbols, evaluate at its defaults (non-finite
 * values are the model's business: only memory is checked) and write as
 * SBML or say why not. */
void rkfuzz_sbml(const uint8_t *data, size_t size)
{
  char dir[4096], path[4200];
  rkin_sbml_opts opts = {.time_unit = NULL};
  rkin_sbml_result res;
  rkin_err err;
  int rc;
  once();
  fuzz_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/in.xml", dir);
  write_file(path, data, size);
  memset(&err, 0, sizeof err);
  rc = rkin_sbml_load(path, &opts, &res, &err);
  if (rc) {
    check_failure("sbml", rc, &err);
    if (res.model || res.sym || res.warn)
      broken("sbml", "result left filled on failure");
  } else {
    const rkin_model *m = res.model;
    size_t ns, np, no, nw, i;
    double *y, *ydot, *jac, *out, *work, sum = 0, none = 0;
    const double *p;
    char *text;
    if (!m) broken("sbml", "success without a model");
    for (i = 0; i < res.n_sym; i++)
      if (!res.sym[i].id || !res.sym[i].name)
        broken("sbml", "a symbol without an id or name");
    for (i = 0; i < res.n_warn; i++)
      if (!res.warn[i]) broken("sbml", "a NULL warning");
    ns = rkin_model_nstates(m);
    np = rkin_model_nparams(m);
    no = rkin_model_noutputs(m);
    nw = rkin_model_nwork(m);
    y = calloc(ns + 1, sizeof *y);
    ydot = calloc(ns + 1, sizeof *ydot);
    jac = calloc(ns * ns + 1, sizeof *jac);
    out = calloc(no + 1, sizeof *out);
    work = calloc(nw + 1, sizeof *work);
    if (!y || !ydot || !jac || !out || !work) abort();
    p = np ? rkin_model_defaults(m) : &none;
    if (!p) broken("sbml", "parameters without defaults");
    rkin_model_rhs(m, 0.0, y, p, ydot, work);
    rkin_model_jac(m, 0.0, y, p, jac, work);
    rkin_model_outputs(m, 0.0, y, p, out, work);
    for (i = 0; i < ns; i++) sum += ydot[i];
    if (sum == 0.123456789) fputc(' ', stderr);
    free(y); free(ydot); free(jac); free(out); free(work);
    memset(&err, 0, sizeof err);
    if (!(text = rkin_sbml_write_string(m, &err)))
      check_failure("sbml", err.code, &err);
    else if (!*text)
      broken("sbml", "an empty SBML text");
    free(text);
    rkin_sbml_result_free(&res);
  }
  remove_dir(dir);
}

/* A read label map or fractional map: a grid that passes its check, a
 * label map of whole segment numbers 0..nseg (SegmentNumber is 16 bits;
 * only `only` when > 0), a
 * fraction in [0, 1]. */
static void check_seg_image(const rkin_image *im, size_t nseg, int only,
                            int fraction)
{
  size_t n = rkin_grid_count(&im->g), i;
  rkin_err gerr;
  memset(&gerr, 0, sizeof gerr);
  if (rkin_grid_check(&im->g, "fuzz", &gerr))
    broken("seg", "an image read on a grid that fails its check");
  if (!im->v) broken("seg", "success without voxels");
  if (!fraction && !im->is_label) broken("seg", "a label map not so marked");
  for (i = 0; i < n; i++) {
    float v = im->v[i];
    if (fraction) {
      if (!(v >= 0.0f && v <= 1.0f)) broken("seg", "a fraction outside 0..1");
    } else if (!(v >= 0.0f && v <= (float)nseg) || v != floorf(v) ||
               (only > 0 && v != 0.0f && v != (float)only)) {
      broken("seg", "a label that is no segment number");
    }
  }
}

/* A DICOM SEG (engine/image/dicom_io.cc through DCMTK's dcmseg): its
 * segments listed, read as a label map (all segments, and segment 1 at
 * threshold 0.25) and segment 1 as a fractional map. Each call succeeds
 * with a checked image or fails with a message and no voxels. */
void rkfuzz_seg(const uint8_t *data, size_t size)
{
  char dir[4096], path[4200], uid[65], ftype[16];
  rkin_seg_segment segs[8];
  size_t nseg = 0, i;
  rkin_image im;
  rkin_err err;
  int rc;
  once();
  fuzz_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/in.dcm", dir);
  write_file(path, data, size);
  memset(&err, 0, sizeof err);
  rc = rkin_dicom_seg_list(path, segs, 8, &nseg, uid, &err);
  if (rc) {
    check_failure("seg", rc, &err);
    nseg = 0;
  } else {
    if (nseg > 8) broken("seg", "more segments listed than room given");
    if (!memchr(uid, 0, sizeof uid)) broken("seg", "frame UID not terminated");
    for (i = 0; i < nseg; i++)
      if (!memchr(segs[i].label, 0, sizeof segs[i].label))
        broken("seg", "a segment label not terminated");
  }
  memset(&err, 0, sizeof err);
  rc = rkin_dicom_read_seg(path, 0, &im, uid, &err);
  if (rc) {
    check_failure("seg", rc, &err);
    if (im.v) broken("seg", "voxels left on failure");
  } else {
    check_seg_image(&im, 65535, 0, 0);
    rkin_image_free(&im);
  }
  memset(&err, 0, sizeof err);
  rc = rkin_dicom_read_seg_thr(path, 1, 0.25, &im, NULL, &err);
  if (rc) {
    check_failure("seg", rc, &err);
    if (im.v) broken("seg", "voxels left on failure");
  } else {
    check_seg_image(&im, 65535, 1, 0);
    rkin_image_free(&im);
  }
  memset(&err, 0, sizeof err);
  rc = rkin_dicom_read_seg_fraction(path, 1, &im, NULL, ftype, &err);
  if (rc) {
    check_failure("seg", rc, &err);
    if (im.v) broken("seg", "voxels left on failure");
  } else {
    if (!memchr(ftype, 0, sizeof ftype)) broken("seg", "ftype not terminated");
    check_seg_image(&im, 1, 0, 1);
    rkin_image_free(&im);
  }
  remove_dir(dir);
}
