/* harness.c - the readers' fuzz entries (see harness.h). */
#define _GNU_SOURCE   /* memfd_create */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/init.h"
#include "pop/data.h"
#include "pop/vpop.h"
#include "tare/tare_cohort.h"

const rkfuzz_reader rkfuzz_readers[] = {
  {"data", rkfuzz_data},
  {"tare_cohort", rkfuzz_tare_cohort},
  {"vpop_csv", rkfuzz_vpop_csv},
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
