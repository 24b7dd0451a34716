/* l_model_module.c - the opener of "radiokin.model": registers the
 * metatables of its three files in order (l_trace.c, l_model.c, then
 * l_simulate.c, which adds m:simulate to the model's methods) and returns
 * rk.model's functions with rk.exp, rk.log, ... of the tracer. */
#include "l_model_impl.h"
#include "lrk.h"
#include "modules.h"

int luaopen_radiokin_model(lua_State *L)
{
  lrk_trace_open(L);
  lrk_model_open(L);                 /* pushes the module table */
  lrk_simulate_open(L);
  lrk_sbml_model_methods(L);         /* m:write_sbml (dsl/l_sbml.c) */
  luaL_setfuncs(L, lrk_trace_funcs, 0);
  return 1;
}
