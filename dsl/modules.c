/* modules.c - the C modules `require "radiokin"` can reach, as
 * package.preload entries "radiokin.<name>". One line per binding file. */
#include <stddef.h>

#include "modules.h"

const lrk_module lrk_modules[] = {
  /* {"model", luaopen_radiokin_model}, one line per binding */
  {NULL, NULL}
};
