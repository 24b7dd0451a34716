/* l_model_impl.h - internal to the "radiokin.model" binding, shared by
 * l_trace.c (expressions and tracing), l_model.c (rk.model and the model
 * userdata), l_simulate.c (m:simulate and its result) and l_model_module.c
 * (the opener): metatable names, the trace type, and the helpers they call
 * across files. Calls run one way: module -> simulate -> model -> trace.
 * Other bindings use lrk.h. */
#ifndef RADIOKIN_L_MODEL_IMPL_H
#define RADIOKIN_L_MODEL_IMPL_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

#include "core/expr.h"
#include "core/model.h"

#define TRACE_MT "radiokin.trace"
#define EXPR_MT "radiokin.expr"
#define MODEL_MT "radiokin.model"
#define POSITIVE_MT "radiokin.positive"
#define BOX_MT "radiokin.box"
#define RESULT_MT "radiokin.result"

/* ----------------------------------------------------------- l_model.c */

/* Pushes a table parameter name -> p[i] for the parameters of m. */
void lrk_push_param_map(lua_State *L, const rkin_model *m, const double *p);
/* Registers MODEL_MT (with an empty `methods` table its __index consults
 * first) and POSITIVE_MT; pushes the table of rk.model's functions. */
void lrk_model_open(lua_State *L);

/* ---------------------------------------------------------- l_trace.c */

/* A trace: the graph while a function is being traced (userdata with
 * metatable TRACE_MT; its expressions keep it alive). */
typedef struct {
  rkin_graph *g;        /* NULL once handed to the model */
  char *model;          /* model name, for messages */
  const char *fn;       /* "ode" / "outputs": the function being traced */
  const char *kind;     /* NULL: "rk.model"; lrk_trace_call's caller */
  const char *args;     /* NULL: "s, p and t"; for messages */
  char **states;
  size_t ns;
  char **params;
  size_t np;
  /* Conditions made (rk.lt, ...) and those consumed (by rk.ifelse, rk.all,
   * rk.any, rk.negate): one made but never consumed was most likely
   * tested by a Lua `if`, where any userdata is true. */
  rkin_node *made, *used;
  size_t n_made, n_used, cap_made, cap_used;
} trace_ctx;

/* Raises with the graph's error when n < 0 (a failed node). */
void lrk_trace_check(lua_State *L, trace_ctx *c, rkin_node n);
/* Pushes an expression of node n of the trace at ctx_idx. */
void lrk_trace_push_expr(lua_State *L, int ctx_idx, rkin_node n);
/* The node of the value at idx (a number or an expression of trace c);
 * `what` says where it is used, for messages. */
rkin_node lrk_trace_node(lua_State *L, int idx, trace_ctx *c,
                         const char *what);
/* The condition at idx (a condition of trace c, or a Lua boolean made a
 * constant one), noted as used; raises for anything else. */
rkin_node lrk_trace_condition(lua_State *L, int idx, trace_ctx *c,
                              const char *what);
/* Pushes the read-only proxy table s (is_state) or p of the trace at
 * ctx_idx, pre-filled with its leaves. */
void lrk_trace_push_proxy(lua_State *L, int ctx_idx, int is_state);
/* Raises when a condition made while tracing was not consumed by
 * rk.ifelse / rk.all / rk.any / rk.negate (a Lua `if` on it). */
void lrk_trace_check_conditions(lua_State *L, trace_ctx *c);
/* rk.exp, rk.log, rk.sqrt, rk.abs, rk.min, rk.max, rk.lt, rk.le, rk.gt,
 * rk.ge, rk.all, rk.any, rk.negate, rk.ifelse. */
extern const luaL_Reg lrk_trace_funcs[];
/* Registers the TRACE_MT and EXPR_MT metatables. */
void lrk_trace_open(lua_State *L);

/* ------------------------------------------------------- l_simulate.c */

/* m:simulate{...} (the model at index 1). */
int lrk_model_simulate(lua_State *L);
/* Registers the BOX_MT and RESULT_MT metatables and adds `simulate` to
 * MODEL_MT's methods (after lrk_model_open). */
void lrk_simulate_open(lua_State *L);

#endif
