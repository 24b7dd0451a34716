/* conv.c - kernel convolution by FFT (FFTW3, real-to-complex). */
#include "voxel/kernel.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

struct rkin_conv {
  size_t n[3];          /* image dims */
  size_t N[3];          /* padded dims */
  double *buf;          /* N0 N1 N2 reals */
  fftw_complex *spec;   /* N2 N1 (N0/2+1) */
  fftw_complex *kspec;  /* the kernel's transform / (N0 N1 N2) */
  fftw_plan fwd, inv;
};

/* FFTW's planner (and plan destruction) is not thread-safe. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

/* The smallest m >= n whose only factors are 2, 3, 5, 7 (fast sizes). */
static size_t fft_size(size_t n)
{
  size_t m;
  for (m = n;; m++) {
    size_t r = m;
    while (r % 2 == 0) r /= 2;
    while (r % 3 == 0) r /= 3;
    while (r % 5 == 0) r /= 5;
    while (r % 7 == 0) r /= 7;
    if (r == 1) return m;
  }
}

void rkin_conv_free(rkin_conv *c)
{
  if (!c) return;
  pthread_mutex_lock(&planner_lock);
  if (c->fwd) fftw_destroy_plan(c->fwd);
  if (c->inv) fftw_destroy_plan(c->inv);
  pthread_mutex_unlock(&planner_lock);
  fftw_free(c->buf);
  fftw_free(c->spec);
  fftw_free(c->kspec);
  free(c);
}

rkin_conv *rkin_conv_new(const size_t n[3], const rkin_kernel *k,
                         rkin_err *err)
{
  rkin_conv *c;
  size_t total, nc, i, j, l;
  int a, ii, jj, ll;
  double scale;
  for (a = 0; a < 3; a++)
    if (n[a] < 1 || n[a] > 4096) {
      rkin_err_set(err, RKIN_EINVAL, "convolution: image dimension %d is %zu "
                   "(expected 1..4096)", a + 1, n[a]);
      return NULL;
    }
  c = calloc(1, sizeof *c);
  if (!c) {
    rkin_err_set(err, RKIN_ENOMEM, "convolution: out of memory");
    return NULL;
  }
  for (a = 0; a < 3; a++) {
    c->n[a] = n[a];
    c->N[a] = fft_size(n[a] + 2 * (size_t)k->h[a]);
  }
  total = c->N[0] * c->N[1] * c->N[2];
  nc = c->N[2] * c->N[1] * (c->N[0] / 2 + 1);
  if (total > (size_t)4 * RKIN_IMAGE_MAX_VOXELS) {
    rkin_err_set(err, RKIN_ERANGE, "convolution: padded grid of %zu voxels "
                 "is too large", total);
    free(c);
    return NULL;
  }
  c->buf = fftw_alloc_real(total);
  c->spec = fftw_alloc_complex(nc);
  c->kspec = fftw_alloc_complex(nc);
  if (!c->buf || !c->spec || !c->kspec) {
    rkin_err_set(err, RKIN_ENOMEM, "convolution: out of memory for a %zu x "
                 "%zu x %zu grid", c->N[0], c->N[1], c->N[2]);
    rkin_conv_free(c);
    return NULL;
  }
  pthread_mutex_lock(&planner_lock);
  /* FFTW is row major: the slowest index (k) first */
  c->fwd = fftw_plan_dft_r2c_3d((int)c->N[2], (int)c->N[1], (int)c->N[0],
                                c->buf, c->spec, FFTW_ESTIMATE);
  c->inv = fftw_plan_dft_c2r_3d((int)c->N[2], (int)c->N[1], (int)c->N[0],
                                c->spec, c->buf, FFTW_ESTIMATE);
  pthread_mutex_unlock(&planner_lock);
  if (!c->fwd || !c->inv) {
    rkin_err_set(err, RKIN_ENOMEM, "convolution: FFTW could not plan");
    rkin_conv_free(c);
    return NULL;
  }
  /* the kernel, wrapped: offset d at index d mod N */
  memset(c->buf, 0, total * sizeof *c->buf);
  for (ll = -k->h[2]; ll <= k->h[2]; ll++)
    for (jj = -k->h[1]; jj <= k->h[1]; jj++)
      for (ii = -k->h[0]; ii <= k->h[0]; ii++) {
        i = (size_t)((ii + (long)c->N[0]) % (long)c->N[0]);
        j = (size_t)((jj + (long)c->N[1]) % (long)c->N[1]);
        l = (size_t)((ll + (long)c->N[2]) % (long)c->N[2]);
        c->buf[(l * c->N[1] + j) * c->N[0] + i] = rkin_kernel_at(k, ii, jj, ll);
      }
  fftw_execute_dft_r2c(c->fwd, c->buf, c->kspec);
  /* FFTW's transforms are unnormalised: fold 1/N into the kernel */
  scale = 1.0 / (double)total;
  for (i = 0; i < nc; i++) {
    c->kspec[i][0] *= scale;
    c->kspec[i][1] *= scale;
  }
  return c;
}

int rkin_conv_apply(rkin_conv *c, const float *in, float *out, rkin_err *err)
{
  size_t total = c->N[0] * c->N[1] * c->N[2];
  size_t nc = c->N[2] * c->N[1] * (c->N[0] / 2 + 1), i, j, l;
  memset(c->buf, 0, total * sizeof *c->buf);
  for (l = 0; l < c->n[2]; l++)
    for (j = 0; j < c->n[1]; j++)
      for (i = 0; i < c->n[0]; i++) {
        double x = in[(l * c->n[1] + j) * c->n[0] + i];
        if (!isfinite(x) || x < 0.0)
          return rkin_err_set(err, RKIN_EINVAL, "convolution: input voxel "
                              "(%zu,%zu,%zu) is %g (expected a finite value "
                              ">= 0)", i, j, l, x);
        c->buf[(l * c->N[1] + j) * c->N[0] + i] = x;
      }
  fftw_execute_dft_r2c(c->fwd, c->buf, c->spec);
  for (i = 0; i < nc; i++) {
    double re = c->spec[i][0] * c->kspec[i][0] - c->spec[i][1] * c->kspec[i][1];
    double im = c->spec[i][0] * c->kspec[i][1] + c->spec[i][1] * c->kspec[i][0];
    c->spec[i][0] = re;
    c->spec[i][1] = im;
  }
  fftw_execute_dft_c2r(c->inv, c->spec, c->buf);
  for (l = 0; l < c->n[2]; l++)
    for (j = 0; j < c->n[1]; j++)
      for (i = 0; i < c->n[0]; i++)
      {
        /* input and kernel are >= 0: a negative is FFT round-off */
        double v = c->buf[(l * c->N[1] + j) * c->N[0] + i];
        out[(l * c->n[1] + j) * c->n[0] + i] = v > 0.0 ? (float)v : 0.0f;
      }
  return RKIN_OK;
}
