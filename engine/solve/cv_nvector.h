/* cv_nvector.h - internal: optimised hot operations for SUNDIALS serial
 * vectors (see cv_nvector.c for why). Not installed. */
#ifndef RKIN_CV_NVECTOR_H
#define RKIN_CV_NVECTOR_H

#include <sundials/sundials_nvector.h>

/* Replaces the per-step operations of serial vector v (and of every later
 * clone of it) with optimised loops of identical semantics. */
void rkin_nvector_fast(N_Vector v);

#endif
