/* modules.c - the C modules `require "radiokin"` can reach, as
 * package.preload entries "radiokin.<name>". One line per binding file. */
#include <stddef.h>

#include "modules.h"

const lrk_module lrk_modules[] = {
  {"core", luaopen_radiokin_core},
  {"nuclide", luaopen_radiokin_nuclide},
  {"model", luaopen_radiokin_model},
  {"dosimetry", luaopen_radiokin_dosimetry},
  {"radiobio", luaopen_radiokin_radiobio},
  {"tac", luaopen_radiokin_tac},
  {"tare", luaopen_radiokin_tare},
  {"cohort", luaopen_radiokin_cohort},
  {"popest", luaopen_radiokin_popest},
  {"population", luaopen_radiokin_population},
  {"regimen", luaopen_radiokin_regimen},
  {NULL, NULL}
};
