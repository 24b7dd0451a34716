/* test_nifti_write.c - rkin_nifti_write writes the NIfTI version asked for
 * (nifticlib on its own wrote NIfTI-1 for version 2: issue 22). The
 * header bytes are read back at the offsets of the NIfTI-1 and NIfTI-2
 * specifications (nifti.nimh.nih.gov: NIfTI-1 sizeof_hdr 348 at byte 0,
 * vox_offset float at 108, magic "n+1\0" at 344; NIfTI-2 sizeof_hdr 540
 * at 0, magic "n+2\0\r\n\032\n" at 4, datatype at 12, dim[8] int64 at 16,
 * vox_offset int64 at 168, sform_code at 348, srow_x/y/z double[4] at
 * 400/432/464), plain and gzipped (read through znzlib); voxels and the
 * affine are round-tripped through rkin_nifti_read. Writing failures
 * (a file size limit set in a child process) and an image too wide for a
 * NIfTI-1 header are refused with their messages. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/init.h"
#include "image/image.h"
#include "../tap.h"

#include <nifti/znzlib.h>

static rkin_err err;
static char dir[] = "/tmp/rkin_nifti_write_XXXXXX";

/* 3 x 4 x 5 voxels of 1.5 x 2 x 2.5 mm, rotated 30 degrees about z and
 * then 20 about x, origin (-10, 20.5, 33.25) mm, voxel values
 * 0.25 i - 3 j + 7.5 k + 0.125 (exact in float). */
static int make_image(rkin_image *im)
{
  rkin_grid g;
  const double a = 30.0 * M_PI / 180.0, b = 20.0 * M_PI / 180.0;
  const double rz[9] = {cos(a), -sin(a), 0, sin(a), cos(a), 0, 0, 0, 1};
  const double rx[9] = {1, 0, 0, 0, cos(b), -sin(b), 0, sin(b), cos(b)};
  size_t i, j, k;
  int r, c, m;
  rkin_grid_init(&g, 3, 4, 5, 1.5, 2.0, 2.5);
  for (r = 0; r < 3; r++)
    for (c = 0; c < 3; c++) {
      double s = 0;
      for (m = 0; m < 3; m++) s += rx[3 * r + m] * rz[3 * m + c];
      g.dir[3 * r + c] = s;
    }
  g.origin[0] = -10.0;
  g.origin[1] = 20.5;
  g.origin[2] = 33.25;
  memset(im, 0, sizeof *im);
  if (rkin_image_alloc(im, &g, &err) < 0) return -1;
  for (k = 0; k < 5; k++)
    for (j = 0; j < 4; j++)
      for (i = 0; i < 3; i++)
        im->v[i + 3 * (j + 4 * k)] =
            (float)(0.25 * i - 3.0 * j + 7.5 * k + 0.125);
  return 0;
}

/* The first len bytes of path (gzipped or not). */
static size_t head(const char *path, unsigned char *b, size_t len)
{
  znzFile f = znzopen(path, "rb", strstr(path, ".gz") != NULL);
  size_t got;
  if (znz_isnull(f)) return 0;
  got = znzread(b, 1, len, f);
  znzclose(f);
  return got;
}

static void round_trip(const char *path, const rkin_image *im, double tol,
                       const char *what)
{
  rkin_image rd = {0};
  double worst_v = 0, worst_a = 0;
  size_t i;
  int a;
  rkin_err_clear(&err);
  if (rkin_nifti_read(path, &rd, &err) != 0) {
    ok(0, "%s: read back (%s)", what, err.msg);
    return;
  }
  ok(rd.g.n[0] == 3 && rd.g.n[1] == 4 && rd.g.n[2] == 5, "%s: 3 x 4 x 5 "
     "read back", what);
  for (i = 0; i < 60; i++)
    worst_v = fmax(worst_v, fabs((double)rd.v[i] - (double)im->v[i]));
  ok(worst_v == 0.0, "%s: every voxel read back exactly (worst %g)", what,
     worst_v);
  for (a = 0; a < 3; a++) {
    worst_a = fmax(worst_a, fabs(rd.g.spacing[a] - im->g.spacing[a]));
    worst_a = fmax(worst_a, fabs(rd.g.origin[a] - im->g.origin[a]));
  }
  for (a = 0; a < 9; a++)
    worst_a = fmax(worst_a, fabs(rd.g.dir[a] - im->g.dir[a]));
  ok(worst_a <= tol, "%s: spacing, origin and direction read back "
     "(worst %.3g, tolerance %g)", what, worst_a, tol);
  rkin_image_free(&rd);
}

static void test_nifti2(const char *name, const rkin_image *im)
{
  char path[128];
  unsigned char h[560];
  int32_t sz;
  int16_t dt;
  int64_t d[8], off;
  double srow[12];
  int32_t sform;
  int k;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  rkin_err_clear(&err);
  is_int(rkin_nifti_write(path, im, 2, &err), RKIN_OK, "%s: written as "
         "NIfTI-2 (%s)", name, err.msg);
  if (head(path, h, sizeof h) != sizeof h) {
    ok(0, "%s: 560 bytes read back", name);
    return;
  }
  memcpy(&sz, h, 4);
  is_int(sz, 540, "%s: sizeof_hdr 540 (NIfTI-2)", name);
  ok(memcmp(h + 4, "n+2\0\r\n\032\n", 8) == 0, "%s: magic \"n+2\\0\\r\\n"
     "\\032\\n\"", name);
  memcpy(&dt, h + 12, 2);
  is_int(dt, 16, "%s: datatype 16 (FLOAT32)", name);
  memcpy(d, h + 16, sizeof d);
  ok(d[0] == 3 && d[1] == 3 && d[2] == 4 && d[3] == 5, "%s: dim = 3, 3, 4, "
     "5", name);
  memcpy(&off, h + 168, 8);
  is_int((long)off, 544, "%s: vox_offset 544 (540 + the 4-byte extender)",
         name);
  memcpy(&sform, h + 348, 4);
  is_int(sform, 1, "%s: sform_code 1 (scanner)", name);
  memcpy(srow, h + 400, sizeof srow);
  {
    double worst = 0;
    for (k = 0; k < 3; k++) {
      int c;
      for (c = 0; c < 3; c++)
        worst = fmax(worst, fabs(srow[4 * k + c] -
                                 im->g.dir[3 * k + c] * im->g.spacing[c]));
      worst = fmax(worst, fabs(srow[4 * k + 3] - im->g.origin[k]));
    }
    ok(worst < 1e-15 * 40, "%s: srow_x/y/z hold direction x spacing and the "
       "origin in double precision (worst %.3g)", name, worst);
  }
  {
    /* the first voxel right after the header and extender */
    float v0;
    memcpy(&v0, h + 544, 4);
    ok(v0 == im->v[0], "%s: voxel 0 (%g) at byte 544", name, (double)v0);
  }
  round_trip(path, im, 1e-12, name);
  unlink(path);
}

static void test_nifti1(const char *name, const rkin_image *im)
{
  char path[128];
  unsigned char h[356];
  int32_t sz;
  float off;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  rkin_err_clear(&err);
  is_int(rkin_nifti_write(path, im, 1, &err), RKIN_OK, "%s: written as "
         "NIfTI-1 (%s)", name, err.msg);
  if (head(path, h, sizeof h) != sizeof h) {
    ok(0, "%s: 356 bytes read back", name);
    return;
  }
  memcpy(&sz, h, 4);
  is_int(sz, 348, "%s: sizeof_hdr 348 (NIfTI-1)", name);
  ok(memcmp(h + 344, "n+1\0", 4) == 0, "%s: magic \"n+1\\0\" at 344", name);
  memcpy(&off, h + 108, 4);
  is_double(off, 352.0, 0.0, "%s: vox_offset 352", name);
  {
    float v0;
    memcpy(&v0, h + 352, 4);
    ok(v0 == im->v[0], "%s: voxel 0 (%g) at byte 352", name, (double)v0);
  }
  /* srow in float: 4e-6 mm on these magnitudes (33.25 * 2^-23) */
  round_trip(path, im, 1e-5, name);
  unlink(path);
}

/* rkin_nifti_write(path, im, version) with standard error sent to a
 * file: returns its code, *printed the bytes the call printed (the engine
 * never prints). */
static int write_quiet(const char *path, const rkin_image *im, int version,
                       long *printed)
{
  char ef[128];
  int saved, fd, rc;
  struct stat st;
  snprintf(ef, sizeof ef, "%s/stderr.txt", dir);
  fflush(stderr);
  saved = dup(2);
  fd = open(ef, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) dup2(fd, 2);
  rc = rkin_nifti_write(path, im, version, &err);
  fflush(stderr);
  if (saved >= 0) {
    dup2(saved, 2);
    close(saved);
  }
  if (fd >= 0) close(fd);
  *printed = stat(ef, &st) == 0 ? (long)st.st_size : -1;
  unlink(ef);
  return rc;
}

/* NIfTI-1's 16-bit dims: 32767 voxels along i is written, 32768 is
 * refused (and nothing printed: nifticlib's own refusal prints). */
static void test_too_wide(void)
{
  char path[128];
  rkin_grid g;
  rkin_image im = {0}, rd = {0};
  struct stat st;
  long printed = -1;
  rkin_grid_init(&g, 32767, 1, 1, 1, 1, 1);
  if (rkin_image_alloc(&im, &g, &err) < 0) return;
  snprintf(path, sizeof path, "%s/wide.nii", dir);
  rkin_err_clear(&err);
  is_int(write_quiet(path, &im, 1, &printed), RKIN_OK, "32767 x 1 x 1 as "
         "NIfTI-1: written (%s)", err.msg);
  ok(rkin_nifti_read(path, &rd, &err) == 0 && rd.g.n[0] == 32767,
     "... and read back as 32767 x 1 x 1");
  rkin_image_free(&rd);
  unlink(path);
  rkin_image_free(&im);
  rkin_grid_init(&g, 32768, 1, 1, 1, 1, 1);
  if (rkin_image_alloc(&im, &g, &err) < 0) return;
  rkin_err_clear(&err);
  is_int(write_quiet(path, &im, 1, &printed), RKIN_EINVAL, "32768 x 1 x 1 "
         "as NIfTI-1: refused");
  like(err.msg, "wide.nii: 32768 x 1 x 1 voxels do not fit a NIfTI-1 header "
       "(NIfTI-1 holds at most 32767 along an axis: write NIfTI-2)",
       "... message names the file, the dims and the way out");
  is_int(printed, 0, "... and nothing is printed");
  ok(stat(path, &st) != 0, "... no file left behind");
  rkin_err_clear(&err);
  is_int(rkin_nifti_write(path, &im, 2, &err), RKIN_OK, "... as NIfTI-2 it "
         "is written (%s)", err.msg);
  ok(rkin_nifti_read(path, &rd, &err) == 0 && rd.g.n[0] == 32768,
     "... and read back as 32768 x 1 x 1");
  rkin_image_free(&rd);
  unlink(path);
  rkin_image_free(&im);
}

/* A write cut short by a file size limit (RLIMIT_FSIZE) in a child
 * process: refused with the message, nothing left at the path. The
 * 64 x 64 x 32 image of pseudo-random values is 512 kB and does not
 * compress below 64 kB. short_by > 0: the limit is the size of the
 * complete file less short_by bytes (the write fails only when the last
 * buffered bytes are flushed, at closing); 0: the limit is 64 kB. */
static void test_write_fails(const char *name, int version, long short_by)
{
  char path[128], msgf[128], msg[512] = "";
  rkin_grid g;
  rkin_image im = {0};
  struct stat st;
  pid_t pid;
  int status = 0;
  size_t i;
  uint32_t x = 12345;
  rlim_t limit = 65536;
  FILE *f;
  rkin_grid_init(&g, 64, 64, 32, 1, 1, 1);
  if (rkin_image_alloc(&im, &g, &err) < 0) return;
  for (i = 0; i < rkin_grid_count(&g); i++) {
    x = x * 1664525u + 1013904223u;
    im.v[i] = (float)(x >> 8) / 65536.0f;
  }
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(msgf, sizeof msgf, "%s/msg.txt", dir);
  if (short_by > 0) {
    if (rkin_nifti_write(path, &im, version, &err) == 0 &&
        stat(path, &st) == 0)
      limit = (rlim_t)(st.st_size - short_by);
    unlink(path);
  }
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    struct rlimit rl = {limit, limit};
    FILE *m;
    int rc;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &rl);
    rc = rkin_nifti_write(path, &im, version, &err);
    if ((m = fopen(msgf, "w"))) {
      fputs(err.msg, m);
      fclose(m);
    }
    _exit(rc == RKIN_EIO ? 0 : 1);
  }
  if (pid > 0) waitpid(pid, &status, 0);
  ok(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
     "%s: a write cut short at %ld bytes is refused (RKIN_EIO)", name,
     (long)limit);
  if ((f = fopen(msgf, "r"))) {
    if (!fgets(msg, sizeof msg, f)) msg[0] = '\0';
    fclose(f);
  }
  like(msg, ": writing the 524288 bytes of voxels failed (disk full, a file "
       "size limit, or not writable?)", "... message names the size");
  like(msg, name, "... and the file");
  ok(stat(path, &st) != 0, "... nothing left at the path");
  {
    /* nor a temporary beside it (".rk<pid>-<name>") */
    DIR *d = opendir(dir);
    struct dirent *e;
    int tmps = 0;
    while (d && (e = readdir(d)))
      tmps += strncmp(e->d_name, ".rk", 3) == 0;
    if (d) closedir(d);
    is_int(tmps, 0, "... nor a temporary beside it");
  }
  unlink(msgf);
  rkin_image_free(&im);
}

int main(void)
{
  rkin_image im;
  rkin_init();
  if (!mkdtemp(dir)) {
    diag("mkdtemp failed");
    return 1;
  }
  if (make_image(&im) == 0) {
    test_nifti2("v2.nii", &im);
    test_nifti2("v2.nii.gz", &im);
    test_nifti1("v1.nii", &im);
    test_nifti1("v1.nii.gz", &im);
    rkin_image_free(&im);
  }
  test_too_wide();
  test_write_fails("big.nii", 2, 0);
  test_write_fails("big1.nii", 1, 0);
  test_write_fails("big.nii.gz", 2, 0);
  test_write_fails("end.nii", 2, 10);
  test_write_fails("end.nii.gz", 2, 10);
  rmdir(dir);
  done_testing();
  return exit_status();
}
