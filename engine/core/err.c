/* err.c - filling rkin_err records. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int rkin_err_set(rkin_err *err, int code, const char *fmt, ...)
{
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

int rkin_err_prefix(rkin_err *err, const char *fmt, ...)
{
  char head[RKIN_ERR_MSG], tail[RKIN_ERR_MSG];
  va_list ap;
  if (!err) return RKIN_EINVAL;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  size_t h;
  memcpy(tail, err->msg, sizeof tail);
  h = strlen(head);
  memcpy(err->msg, head, h + 1);
  if (h + 1 < sizeof err->msg)
    strncat(err->msg, tail, sizeof err->msg - h - 1);
  return err->code;
}

void rkin_err_clear(rkin_err *err)
{
  if (err) {
    err->code = RKIN_OK;
    err->msg[0] = '\0';
  }
}

const char *rkin_err_name(int code)
{
  switch (code) {
  case RKIN_OK: return "RKIN_OK";
  case RKIN_EINVAL: return "RKIN_EINVAL";
  case RKIN_ENOMEM: return "RKIN_ENOMEM";
  case RKIN_ENOTFOUND: return "RKIN_ENOTFOUND";
  case RKIN_ENONFINITE: return "RKIN_ENONFINITE";
  case RKIN_ESOLVER: return "RKIN_ESOLVER";
  case RKIN_EOPTIM: return "RKIN_EOPTIM";
  case RKIN_EIO: return "RKIN_EIO";
  case RKIN_ENOTLINEAR: return "RKIN_ENOTLINEAR";
  case RKIN_ERANGE: return "RKIN_ERANGE";
  default: return "RKIN_E?";
  }
}
