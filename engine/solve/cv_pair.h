/* cv_pair.h - internal: two doubles as one SSE2 register (GCC's vector
 * extension, also understood by clang) for the loops of cv_nvector.c and
 * cv_linsol.c. Loads and stores go through memcpy: the data of a SUNDIALS
 * vector or matrix column need not be 16-byte aligned. The arithmetic is
 * elementwise IEEE, the same as the scalar loops it replaces. */
#ifndef RKIN_CV_PAIR_H
#define RKIN_CV_PAIR_H

#include <string.h>

typedef double rkin_pair __attribute__((vector_size(16)));

static inline rkin_pair rkin_ld2(const double *p)
{
  rkin_pair v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline void rkin_st2(double *p, rkin_pair v)
{
  memcpy(p, &v, sizeof v);
}

#endif
