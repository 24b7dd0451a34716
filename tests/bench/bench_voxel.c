/* bench_voxel.c - voxel dosimetry figures on the phantom (not part of
 * make check; `make bench` runs it): n^3 voxels (default 128), 4 time
 * points. Targets from issue 18: voxel TIA by VOI shape under 1 s and
 * per-voxel mono fits of every voxel under 10 s on one core; kernel
 * convolution (11^3 kernel, FFT) under 0.5 s; DVHs of 10 VOIs under 0.1 s.
 *
 *   bench_voxel [n] [threads]     (RADIOKIN_SRCDIR: the kernels' source;
 *                                  BENCH_VOXEL_REFERENCE=1 also times the
 *                                  per-voxel fits without the fast path) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "image/phantom.h"
#include "voxel/dvh.h"
#include "voxel/tia.h"
#include "voxel/voxel.h"
#include "bench_args.h"

/* Process CPU time: the machine is shared, so wall-clock figures depend
 * on the load; CPU time is what one core spends (threads add up). */
static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
  size_t n, nv, i;
  int threads, lab;
  const double times[4] = {4, 24, 72, 168};
  const char *src = getenv("RADIOKIN_SRCDIR");
  char kdir[4096];
  rkin_phantom p;
  rkin_image labels, act[4], tia, dose;
  const rkin_image *ap[4];
  unsigned char *body, *mask;
  rkin_vtia v;
  rkin_vtia_opts o;
  rkin_kernel k;
  rkin_conv *c;
  rkin_err e;
  struct rusage ru;
  double t0, t1, sp[3] = {4.42, 4.42, 4.42};
  bench_help(argc, argv,
             "usage: bench_voxel [N=128] [THREADS=1]\n"
             "  voxel dosimetry on the N^3 phantom, 4 time points: TIA by "
             "VOI shape,\n  per-voxel mono fits, kernel convolution (FFT), "
             "DVHs of 10 VOIs; CPU time.\n  RADIOKIN_SRCDIR: the kernels' "
             "source; BENCH_VOXEL_REFERENCE=1 also times\n  the per-voxel "
             "fits without the fast path. No peer.\n");
  n = (size_t)bench_long("bench_voxel", argc, argv, 1, "N", 128, 16, 512);
  threads = (int)bench_long("bench_voxel", argc, argv, 2, "THREADS", 1, 0,
                            4096);
  bench_max_args("bench_voxel", argc, argv, 2);
  snprintf(kdir, sizeof kdir, "%s/data/kernels/lanconelli2012",
           src ? src : ".");
  rkin_phantom_default(&p, n, 4.42);
  if (rkin_phantom_labels(&p, &labels, &e) < 0) {
    fprintf(stderr, "bench_voxel: %s\n", e.msg);
    return 1;
  }
  nv = rkin_grid_count(&labels.g);
  for (i = 0; i < 4; i++) {
    size_t v;
    rkin_phantom_activity(&p, times[i], &act[i], &e);
    /* a faint physically decaying background outside the body, so the
     * per-voxel fits cover every one of the n^3 voxels */
    for (v = 0; v < nv; v++)
      if (labels.v[v] == 0.0f)
        act[i].v[v] = (float)(50.0 * exp(-0.00434 * times[i]));
    ap[i] = &act[i];
  }
  body = malloc(nv);
  mask = malloc(nv);
  rkin_image_mask(&labels, 0, body, NULL, &e);
  printf("phantom %zu^3 = %zu voxels, 4 time points, %d thread(s); CPU "
         "seconds\n", n, nv, threads);

  memset(&o, 0, sizeof o);
  o.nuclide = "Lu-177";
  o.threads = threads;
  o.cv = 0.05;
  o.method = RKIN_VTIA_VOI_SHAPE;
  t0 = now();
  if (rkin_voxel_tia(4, ap, times, body, &o, &v, &e) < 0) {
    fprintf(stderr, "bench_voxel: %s\n", e.msg);
    return 1;
  }
  t1 = now();
  printf("voxel TIA, VOI shape (body):          %8.3f s  (target < 1 s)\n",
         t1 - t0);
  rkin_vtia_free(&v);

  o.method = RKIN_VTIA_PER_VOXEL;
  o.models = 1u << RKIN_TAC_MONO;
  {
    /* BENCH_VOXEL_REFERENCE: first the same fits with every voxel through
     * rkin_tac_fit (no fast path), the figure the fast path is compared
     * with; then the fast path (its output memory recycled from the
     * reference run, so neither pays the first touch of the pages more
     * than the other: a warm-up run of the fast path comes first) */
    rkin_vtia ref;
    int want_ref = getenv("BENCH_VOXEL_REFERENCE") != NULL;
    double tref = 0.0;
    if (want_ref) {
      if (rkin_voxel_tia(4, ap, times, NULL, &o, &v, &e) < 0) {
        fprintf(stderr, "bench_voxel: %s\n", e.msg);
        return 1;
      }
      rkin_vtia_free(&v);                  /* warm-up */
      o.no_quick = 1;
      t0 = now();
      if (rkin_voxel_tia(4, ap, times, NULL, &o, &ref, &e) < 0) {
        fprintf(stderr, "bench_voxel: %s\n", e.msg);
        return 1;
      }
      tref = now() - t0;
      o.no_quick = 0;
    }
    t0 = now();
    if (rkin_voxel_tia(4, ap, times, NULL, &o, &v, &e) < 0) {
      fprintf(stderr, "bench_voxel: %s\n", e.msg);
      return 1;
    }
    t1 = now();
    printf("voxel TIA, mono fit of every voxel:   %8.3f s  (%zu fitted, "
           "%zu zero; target < 10 s)\n", t1 - t0, v.n_fitted, v.n_zero);
    if (want_ref) {
      size_t vi;
      double worst = 0.0;
      for (vi = 0; vi < nv; vi++)
        if (ref.tia.v[vi] > 0.0f)
          worst = fmax(worst, fabs(v.tia.v[vi] - ref.tia.v[vi])
                                  / ref.tia.v[vi]);
      printf("  the same through rkin_tac_fit:      %8.3f s  (max rel "
             "difference of the maps %.2g)\n", tref, worst);
      rkin_vtia_free(&ref);
    }
  }
  rkin_image_copy(&tia, &v.tia, &e);
  rkin_vtia_free(&v);

  if (rkin_kernel_lanconelli(kdir, "Lu-177", "soft", sp, &k, &e) < 0) {
    fprintf(stderr, "bench_voxel: %s\n", e.msg);
    return 1;
  }
  t0 = now();
  rkin_dose_kernel(&tia, "Lu-177", &k, NULL, 0, &dose, &e);
  t1 = now();
  printf("kernel dose (plan + FFT convolution): %8.3f s  (target < 0.5 s)\n",
         t1 - t0);
  c = rkin_conv_new(tia.g.n, &k, &e);
  t0 = now();
  rkin_conv_apply(c, tia.v, dose.v, &e);
  t1 = now();
  printf("  convolution alone (planned):        %8.3f s\n", t1 - t0);
  rkin_conv_free(c);

  t0 = now();
  for (lab = 1; lab <= 10; lab++) {
    rkin_dvh h;
    /* 10 VOIs: the 6 organs, the lesion, and 3 dose thresholds */
    if (lab <= 6) rkin_image_mask(&labels, lab, mask, NULL, &e);
    else if (lab == 7) rkin_image_mask(&labels, RKIN_PH_SPHERE0, mask, NULL, &e);
    else rkin_image_threshold(&dose, 1e-6 * (lab - 7), 1e30, mask, NULL, &e);
    if (rkin_dvh_eval(&dose, mask, &h, &e) == 0) rkin_dvh_free(&h);
  }
  t1 = now();
  printf("DVH of 10 VOIs:                       %8.3f s  (target < 0.1 s)\n",
         t1 - t0);
  /* the same 10 VOIs as scripts/voxel_dose.lua takes them: the 7 labels
   * in one pass over the map (rkin_dvh_eval_labels), the 3 thresholds
   * one by one */
  t0 = now();
  {
    const int labs[7] = {1, 2, 3, 4, 5, 6, RKIN_PH_SPHERE0};
    rkin_dvh hl[7];
    if (rkin_dvh_eval_labels(&dose, &labels, 7, labs, hl, &e) == 0)
      for (lab = 0; lab < 7; lab++) rkin_dvh_free(&hl[lab]);
    for (lab = 8; lab <= 10; lab++) {
      rkin_dvh h;
      rkin_image_threshold(&dose, 1e-6 * (lab - 7), 1e30, mask, NULL, &e);
      if (rkin_dvh_eval(&dose, mask, &h, &e) == 0) rkin_dvh_free(&h);
    }
  }
  t1 = now();
  printf("  7 labels in one pass + 3 thresholds: %8.3f s\n", t1 - t0);
  getrusage(RUSAGE_SELF, &ru);
  printf("peak memory (max RSS):                %8.1f MB\n",
         (double)ru.ru_maxrss / 1024.0);
  rkin_kernel_free(&k);
  rkin_image_free(&tia);
  rkin_image_free(&dose);
  rkin_image_free(&labels);
  for (i = 0; i < 4; i++) rkin_image_free(&act[i]);
  free(body);
  free(mask);
  return 0;
}
