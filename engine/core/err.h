/* err.h - error codes and the error record every engine call fills. */
#ifndef RKIN_ERR_H
#define RKIN_ERR_H

#include <stddef.h>

/* Return codes: 0 ok, negative on failure. */
enum {
  RKIN_OK = 0,
  RKIN_EINVAL = -1,    /* bad argument or input value */
  RKIN_ENOMEM = -2,    /* allocation failed */
  RKIN_ENOTFOUND = -3, /* unknown name (state, parameter, nuclide, region) */
  RKIN_ENONFINITE = -4,/* a NaN or Inf was produced */
  RKIN_ESOLVER = -5,   /* CVODES failed */
  RKIN_EOPTIM = -6,    /* NLopt failed or did not converge */
  RKIN_EIO = -7,       /* file could not be read or written */
  RKIN_ENOTLINEAR = -8,/* exact path asked for a model that is not linear */
  RKIN_ERANGE = -9     /* a value outside its valid range */
};

#define RKIN_ERR_MSG 512

/* Filled by a failing call: the code and a message saying what was wrong,
 * where (file, line, state, subject) and what was expected. */
typedef struct {
  int code;
  char msg[RKIN_ERR_MSG];
} rkin_err;

/* Sets err (if not NULL) and returns code, so callers can write
 * `return rkin_err_set(err, RKIN_EINVAL, "...", ...);`. */
int rkin_err_set(rkin_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefixes the existing message with context ("file.csv:12: "). */
int rkin_err_prefix(rkin_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void rkin_err_clear(rkin_err *err);

/* A short name for a code ("RKIN_EINVAL"). */
const char *rkin_err_name(int code);

#endif
