/* init.c - process-wide set-up of the libraries the engine uses. */
#include "core/init.h"

#include <gsl/gsl_errno.h>

void rkin_init(void)
{
  /* GSL's default handler aborts the process; the engine checks every GSL
   * return code and reports through rkin_err instead. */
  gsl_set_error_handler_off();
}
