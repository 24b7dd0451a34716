/* errmsg.h - the error-message tests' one check: a call fails with the
 * expected code and its message holds the expected fragment (tap.h's
 * like). A test file includes it after tap.h and uses its err. */
#ifndef RKIN_TEST_ERRMSG_H
#define RKIN_TEST_ERRMSG_H

#include "core/err.h"

static rkin_err err;

#define BAD(call, code, part, what)                                       \
  do {                                                                    \
    rkin_err_clear(&err);                                                 \
    is_int((long)(call), (long)(code), "%s", what);                       \
    like(err.msg, part, "... message: %s", part);                         \
  } while (0)

#endif
