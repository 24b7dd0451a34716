/* native.h - tapes compiled to machine code by the system C compiler
 * (an option: the tape stays the fallback and the reference). */
#ifndef RKIN_NATIVE_H
#define RKIN_NATIVE_H

#include <stddef.h>

#include "core/err.h"
#include "core/expr.h"

typedef struct rkin_native rkin_native;

/* The C source of tapes[0..n) (NULL entries skipped): function rk_fK for
 * tape K, each the tape's instructions in order. *src is malloc'd. */
int rkin_native_source(rkin_tape *const *tapes, size_t n, char **src,
                       size_t *len, rkin_err *err);

/* Compiles (or finds in cache_dir, NULL: $XDG_CACHE_HOME/radiokin or
 * $HOME/.cache/radiokin) the tapes' code and binds each tape to it, so
 * that rkin_tape_eval runs the machine code. NULL with err on failure,
 * the tapes then unchanged. The tapes must outlive the module. */
rkin_native *rkin_native_build(rkin_tape *const *tapes, size_t n,
                               const char *cache_dir, rkin_err *err);

/* Unbinds the tapes (back to the loop) and unloads the code. */
void rkin_native_free(rkin_native *nat);

#endif
