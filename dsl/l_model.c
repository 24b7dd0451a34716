/* l_model.c - "radiokin.model": rk.model traces a model's Lua `ode` and
 * `outputs` functions ONCE with symbolic arguments (l_trace.c) into an
 * expression graph and compiles it into an rkin_model; m:simulate
 * (l_simulate.c) runs that model with no Lua at solve time.
 *
 * This file: the model userdata (the rkin_model and its positive
 * parameters), rk.positive, and the helpers other bindings use to read a
 * model and its parameter overrides. The opener is l_model_module.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "core/expr.h"
#include "l_model_impl.h"
#include "lrk.h"
#include "core/model.h"

/* ----------------------------------------------------- positive params */

/* rk.positive(v): a parameter value the model declares positive. */
static int m_positive(lua_State *L)
{
  luaL_checkany(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "value");
  luaL_setmetatable(L, POSITIVE_MT);
  return 1;
}

/* 1 when the value at idx was made by rk.positive (a table with that
 * metatable; luaL_testudata only knows userdata). */
static int is_positive_marker(lua_State *L, int idx)
{
  int yes;
  if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, POSITIVE_MT);
  yes = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return yes;
}

static int positive_tostring(lua_State *L)
{
  lua_getfield(L, 1, "value");
  lua_pushfstring(L, "rk.positive(%s)", luaL_tolstring(L, -1, NULL));
  return 1;
}

/* --------------------------------------------------------------- model */

typedef struct {
  rkin_model *m;
  unsigned char *positive;   /* per parameter: values must be > 0 */
  rkin_nuclide nuc;          /* a nuclide given as a table */
  char nuc_name[64];
} lmodel;

static int model_gc(lua_State *L)
{
  lmodel *lm = luaL_checkudata(L, 1, MODEL_MT);
  rkin_model_free(lm->m);
  lm->m = NULL;
  free(lm->positive);
  lm->positive = NULL;
  return 0;
}

static lmodel *check_lmodel(lua_State *L, int idx)
{
  lmodel *lm = luaL_testudata(L, idx, MODEL_MT);
  if (!lm)
    lrk_error(L, "expected a model made by rk.model (got %s); call methods "
              "with ':' (m:simulate{...})", luaL_typename(L, idx));
  if (!lm->m) lrk_error(L, "this model was not built (rk.model failed)");
  return lm;
}

const rkin_model *lrk_check_model(lua_State *L, int idx)
{
  return check_lmodel(L, idx)->m;
}

/* states = {"P", "I", ...}: non-empty, unique names. */
static void read_states(lua_State *L, trace_ctx *c, const char *ctx)
{
  size_t i, j, n;
  if (lua_getfield(L, 1, "states") != LUA_TTABLE)
    lrk_error(L, "%s: field 'states' must be an array of state names "
              "(got %s)", ctx, lrk_got(L, -1));
  n = (size_t)lua_rawlen(L, -1);
  if (n == 0)
    lrk_error(L, "%s: field 'states' is empty (give at least one state "
              "name)", ctx);
  c->states = calloc(n, sizeof *c->states);
  if (!c->states) lrk_error(L, "%s: out of memory", ctx);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
      lrk_error(L, "%s: states[%d] must be a non-empty name (got %s)", ctx,
                (int)i + 1, lrk_got(L, -1));
    c->states[i] = lrk_strdup(L, "rk.model", lua_tostring(L, -1));
    c->ns = i + 1;
    lua_pop(L, 1);
    for (j = 0; j < i; j++)
      if (strcmp(c->states[j], c->states[i]) == 0)
        lrk_error(L, "%s: state '%s' is listed twice", ctx, c->states[i]);
  }
  lua_pop(L, 1);
}

/* params = {name = value | rk.positive(value)}; names sorted, since a Lua
 * table has no order. Pushes the values and the positive flags (two
 * scratch userdata) and returns them. */
static void read_params(lua_State *L, trace_ctx *c, const char *ctx,
                        double **values, unsigned char **positive)
{
  int pt, all_positive = 0, t = lua_getfield(L, 1, "params");
  size_t n = 0, i;
  const char **names;
  if (t != LUA_TNIL && t != LUA_TTABLE)
    lrk_error(L, "%s: field 'params' must be a table name = value (got %s)",
              ctx, lrk_got(L, -1));
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  pt = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, pt)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      lrk_error(L, "%s: params: keys must be parameter names (got a %s key)",
                ctx, luaL_typename(L, -2));
    n++;
    lua_pop(L, 1);
  }
  names = lrk_scratch(L, n, sizeof *names);
  i = 0;
  lua_pushnil(L);
  while (lua_next(L, pt)) {
    names[i++] = lua_tostring(L, -2);  /* alive: the spec holds it */
    lua_pop(L, 1);
  }
  qsort(names, n, sizeof *names, lrk_cmp_str);
  c->params = calloc(n ? n : 1, sizeof *c->params);
  if (!c->params) lrk_error(L, "%s: out of memory", ctx);
  for (i = 0; i < n; i++) {
    c->params[i] = lrk_strdup(L, "rk.model", names[i]);
    c->np = i + 1;
  }
  *values = lrk_scratch(L, n, sizeof **values);
  *positive = lrk_scratch(L, n, sizeof **positive);

  /* positive = true (all) or {names}: parameters that must be > 0 */
  t = lua_getfield(L, 1, "positive");
  if (t == LUA_TBOOLEAN) {
    all_positive = lua_toboolean(L, -1);
  } else if (t == LUA_TTABLE) {
    size_t k, m = (size_t)lua_rawlen(L, -1);
    for (k = 1; k <= m; k++) {
      const char *pn;
      int found = 0;
      lua_rawgeti(L, -1, (lua_Integer)k);
      if (lua_type(L, -1) != LUA_TSTRING)
        lrk_error(L, "%s: positive[%d] must be a parameter name (got %s)",
                  ctx, (int)k, lrk_got(L, -1));
      pn = lua_tostring(L, -1);
      for (i = 0; i < n && !found; i++)
        if (strcmp(pn, c->params[i]) == 0) found = 1, (*positive)[i] = 1;
      if (!found) {
        const char *list = lrk_push_list(L, (const char *const *)c->params, n);
        lrk_error(L, "%s: positive[%d]: '%s' is not a parameter "
                  "(parameters: %s)", ctx, (int)k, pn, list);
      }
      lua_pop(L, 1);
    }
  } else if (t != LUA_TNIL) {
    lrk_error(L, "%s: field 'positive' must be true or a list of parameter "
              "names (got %s)", ctx, lrk_got(L, -1));
  }
  lua_pop(L, 1);

  for (i = 0; i < n; i++) {
    lua_getfield(L, pt, c->params[i]);
    if (is_positive_marker(L, -1)) {
      (*positive)[i] = 1;
      lua_getfield(L, -1, "value");
      lua_remove(L, -2);
    }
    if (all_positive) (*positive)[i] = 1;
    if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1)))
      lrk_error(L, "%s: parameter '%s' must be a finite number (got %s)",
                ctx, c->params[i], lrk_got(L, -1));
    (*values)[i] = lua_tonumber(L, -1);
    if ((*positive)[i] && (*values)[i] <= 0)
      lrk_error(L, "%s: parameter '%s' must be positive (a rate or "
                "half-life; declared with rk.positive or positive =), got "
                "%s", ctx, c->params[i], lrk_got(L, -1));
    lua_pop(L, 1);
  }
  /* stack: params table, names, values, positive; keep the last two */
  lua_rotate(L, pt, -2);
  lua_pop(L, 2);
}

/* nuclide = "Lu-177" (the engine's table) or {name=, half_life_h=,
 * e_np_mev=, e_p_mev=, source=} for one the table lacks. */
static void read_nuclide(lua_State *L, lmodel *lm, const char *ctx,
                         const rkin_nuclide **nuc)
{
  static const char *const keys[] = {"name", "half_life_h", "e_np_mev",
                                     "e_p_mev", "source", NULL};
  int t = lua_getfield(L, 1, "nuclide");
  *nuc = NULL;
  if (t == LUA_TSTRING) {
    rkin_err err;
    rkin_err_clear(&err);
    *nuc = rkin_nuclide_find(lua_tostring(L, -1), &err);
    if (!*nuc) lrk_raise(L, ctx, &err);
  } else if (t == LUA_TTABLE) {
    const char *nctx = lua_pushfstring(L, "%s: nuclide", ctx);
    int nt = lua_gettop(L) - 1;
    double h;
    lrk_check_keys(L, nt, nctx, keys);
    snprintf(lm->nuc_name, sizeof lm->nuc_name, "%s",
             lrk_field_string(L, nt, nctx, "name", 0, "custom"));
    h = lrk_field_number(L, nt, nctx, "half_life_h", 1, 0);
    if (h <= 0)
      lrk_error(L, "%s: field 'half_life_h' must be a positive number of "
                "hours (got %f)", nctx, h);
    lm->nuc.name = lm->nuc_name;
    lm->nuc.half_life_h = h;
    lm->nuc.e_np_mev = lrk_field_number(L, nt, nctx, "e_np_mev", 0, 0);
    lm->nuc.e_p_mev = lrk_field_number(L, nt, nctx, "e_p_mev", 0, 0);
    if (lm->nuc.e_np_mev < 0 || lm->nuc.e_p_mev < 0)
      lrk_error(L, "%s: energies per decay must be >= 0 MeV", nctx);
    lm->nuc.source = "given in the model script";
    *nuc = &lm->nuc;
    lua_pop(L, 1);
  } else if (t != LUA_TNIL) {
    lrk_error(L, "%s: field 'nuclide' must be a name such as \"Lu-177\" or "
              "a table {name=, half_life_h=} (got %s)", ctx, lrk_got(L, -1));
  }
  lua_pop(L, 1);
}

/* Calls fn(s, p, t) (stack indices of the three) and checks it returned a
 * table, which is left on the stack. */
static void call_traced(lua_State *L, int fn, int s, int p, int t,
                        trace_ctx *c, const char *ctx, const char *what)
{
  c->fn = what;
  lua_pushvalue(L, fn);
  lua_pushvalue(L, s);
  lua_pushvalue(L, p);
  lua_pushvalue(L, t);
  lua_call(L, 3, 1);
  lrk_trace_check_conditions(L, c);
  if (lua_type(L, -1) != LUA_TTABLE)
    lrk_error(L, "%s: %s must return a table {NAME = expression, ...} "
              "(got %s)", ctx, what, lrk_got(L, -1));
}

/* The table returned by outputs at index res: names (sorted) and nodes,
 * pushed as two scratch arrays. */
static size_t read_outputs(lua_State *L, int res, trace_ctx *c,
                           const char *ctx, const char ***names,
                           rkin_node **nodes)
{
  size_t n = 0, i, j;
  lua_pushnil(L);
  while (lua_next(L, res)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      lrk_error(L, "%s: outputs must return a table of NAME = expression "
                "(got a %s key)", ctx, luaL_typename(L, -2));
    n++;
    lua_pop(L, 1);
  }
  *names = lrk_scratch(L, n, sizeof **names);
  *nodes = lrk_scratch(L, n, sizeof **nodes);
  i = 0;
  lua_pushnil(L);
  while (lua_next(L, res)) {
    (*names)[i++] = lua_tostring(L, -2);
    lua_pop(L, 1);
  }
  qsort(*names, n, sizeof **names, lrk_cmp_str);
  for (i = 0; i < n; i++) {
    for (j = 0; j < c->ns; j++)
      if (strcmp((*names)[i], c->states[j]) == 0)
        lrk_error(L, "%s: output '%s' has the name of a state", ctx,
                  (*names)[i]);
    const char *what;
    lua_getfield(L, res, (*names)[i]);
    what = lua_pushfstring(L, "output '%s'", (*names)[i]);
    (*nodes)[i] = lrk_trace_node(L, -2, c, what);
    lua_pop(L, 2);
  }
  return n;
}

/* The table returned by ode at index res: exactly one derivative per
 * state, into deriv[]. */
static void read_derivs(lua_State *L, int res, trace_ctx *c, const char *ctx,
                        rkin_node *deriv)
{
  size_t i;
  lua_pushnil(L);
  while (lua_next(L, res)) {
    int known = 0;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (i = 0; i < c->ns && !known; i++)
        known = strcmp(lua_tostring(L, -2), c->states[i]) == 0;
    if (!known) {
      const char *key = luaL_tolstring(L, -2, NULL);
      lrk_error(L, "%s: ode returns a derivative for unknown state '%s' "
                "(states: %s)", ctx, key,
                lrk_push_list(L, (const char *const *)c->states, c->ns));
    }
    lua_pop(L, 1);
  }
  for (i = 0; i < c->ns; i++) {
    const char *what;
    if (lua_getfield(L, res, c->states[i]) == LUA_TNIL)
      lrk_error(L, "%s: ode returns no derivative for state '%s' (every "
                "state needs one; write %s = 0 for a constant state)", ctx,
                c->states[i], c->states[i]);
    what = lua_pushfstring(L, "derivative of '%s'", c->states[i]);
    deriv[i] = lrk_trace_node(L, -2, c, what);
    lua_pop(L, 2);
  }
}

/* Dose modifier fields (NONMEM F, ALAG, R, D), in core/model.h order. */
static const char *const MOD_KEYS[RKIN_MOD_N] = {"bioav", "lag", "rate",
                                                 "duration"};

/* Each modifier field given: a function (p) returning {State = expr},
 * traced like ode into nodes[kind * ns + state] (-1 where not given).
 * Returns 1 when any is given. */
static int read_mods(lua_State *L, int ip, trace_ctx *c, const char *ctx,
                     rkin_node *nodes)
{
  size_t i, k;
  int any = 0;
  for (i = 0; i < RKIN_MOD_N * c->ns; i++) nodes[i] = -1;
  for (k = 0; k < RKIN_MOD_N; k++) {
    int res;
    if (lua_getfield(L, 1, MOD_KEYS[k]) == LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    if (lua_type(L, -1) != LUA_TFUNCTION)
      lrk_error(L, "%s: field '%s' must be a function (p) returning "
                "{State = expression} (got %s)", ctx, MOD_KEYS[k],
                lrk_got(L, -1));
    c->fn = MOD_KEYS[k];
    lua_pushvalue(L, ip);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
      lrk_error(L, "%s: %s must return a table {State = expression} (got "
                "%s)", ctx, MOD_KEYS[k], lrk_got(L, -1));
    res = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, res)) {
      const char *key = lua_type(L, -2) == LUA_TSTRING
                            ? lua_tostring(L, -2) : NULL;
      const char *what;
      for (i = 0; key && i < c->ns; i++)
        if (strcmp(key, c->states[i]) == 0) break;
      if (!key || i == c->ns) {
        const char *bad = luaL_tolstring(L, -2, NULL);
        lrk_error(L, "%s: %s returns a value for unknown state '%s' "
                  "(states: %s)", ctx, MOD_KEYS[k], bad,
                  lrk_push_list(L, (const char *const *)c->states, c->ns));
      }
      what = lua_pushfstring(L, "%s of '%s'", MOD_KEYS[k], key);
      nodes[k * c->ns + i] = lrk_trace_node(L, -2, c, what);
      lua_pop(L, 2);
      any = 1;
    }
    lua_pop(L, 1);
  }
  return any;
}

/* Fields of one entry of `events`. */
static const char *const EVENT_KEYS[] = {"name", "trigger", "delay",
                                         "priority", "persistent",
                                         "initial_value",
                                         "use_trigger_values", "assign",
                                         NULL};

/* A string kept alive in the holder table at `hold` (for c->fn and event
 * names, which outlive the stack slot they were made in). */
static const char *held(lua_State *L, int hold, const char *fmt,
                        const char *a)
{
  const char *s = lua_pushfstring(L, fmt, a);
  lua_rawseti(L, hold, (lua_Integer)lua_rawlen(L, hold) + 1);
  return s;
}

/* Calls the function at fn with (s, p, t); leaves its result on the
 * stack. */
static void call_spt(lua_State *L, int fn, int s, int p, int t)
{
  lua_pushvalue(L, fn);
  lua_pushvalue(L, s);
  lua_pushvalue(L, p);
  lua_pushvalue(L, t);
  lua_call(L, 3, 1);
}

/* The event's delay or priority (field key of the entry at et): -1 when
 * absent, else the node of a number or of what a function (s, p, t)
 * returns. */
static rkin_node event_number(lua_State *L, int et, const char *key,
                              int is, int ip, int it, trace_ctx *c,
                              const char *ectx)
{
  rkin_node n;
  int ty = lua_getfield(L, et, key);
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    return -1;
  }
  if (ty == LUA_TFUNCTION)
    call_spt(L, lua_gettop(L), is, ip, it);
  else if (ty != LUA_TNUMBER)
    lrk_error(L, "%s: field '%s' must be a number or a function (s, p, t) "
              "returning one (got %s)", ectx, key, lrk_got(L, -1));
  n = lrk_trace_node(L, -1, c, key);
  if (rkin_expr_is_bool(c->g, n))
    lrk_error(L, "%s: %s is a condition, not a number", ectx, key);
  lrk_trace_check_conditions(L, c);
  lua_settop(L, et);
  return n;
}

/* The optional field `events` (an array of {name=, trigger=, delay=,
 * priority=, persistent=, initial_value=, use_trigger_values=, assign=}),
 * each function traced once with s, p, t like ode, into *ev (scratch on
 * the stack); returns the count. Assignments are in state order. */
static size_t read_events(lua_State *L, int is, int ip, int it, trace_ctx *c,
                          const char *ctx, rkin_model_event **ev)
{
  size_t n, k, i;
  int evt, hold, ty = lua_getfield(L, 1, "events");
  *ev = NULL;
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (ty != LUA_TTABLE)
    lrk_error(L, "%s: field 'events' must be an array of event tables "
              "{trigger=, assign=, ...} (got %s)", ctx, lrk_got(L, -1));
  evt = lua_gettop(L);
  n = lua_rawlen(L, evt);
  lua_pushnil(L);
  while (lua_next(L, evt)) {
    if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1
        || (size_t)lua_tointeger(L, -2) > n)
      lrk_error(L, "%s: field 'events' must be an array (1..n) of event "
                "tables (got the key %s)", ctx, luaL_tolstring(L, -2, NULL));
    lua_pop(L, 1);
  }
  *ev = lrk_scratch(L, n ? n : 1, sizeof **ev);
  lua_newtable(L);
  hold = lua_gettop(L);
  for (k = 0; k < n; k++) {
    rkin_model_event *v = &(*ev)[k];
    const char *ectx, *nm;
    int et, res;
    char num[32];
    if (lua_rawgeti(L, evt, (lua_Integer)k + 1) != LUA_TTABLE)
      lrk_error(L, "%s: events[%d] must be a table {trigger=, assign=, "
                "...} (got %s)", ctx, (int)k + 1, lrk_got(L, -1));
    et = lua_gettop(L);
    snprintf(num, sizeof num, "event%d", (int)k + 1);
    nm = lrk_field_string(L, et, ctx, "name", 0, NULL);
    nm = held(L, hold, "%s", nm ? nm : num);
    if (!*nm)
      lrk_error(L, "%s: events[%d]: field 'name' is empty", ctx, (int)k + 1);
    ectx = lua_pushfstring(L, "%s: event '%s'", ctx, nm);
    lua_rawseti(L, hold, (lua_Integer)lua_rawlen(L, hold) + 1);
    lrk_check_keys(L, et, ectx, EVENT_KEYS);
    v->name = nm;
    v->initial_value = lrk_field_boolean(L, et, ectx, "initial_value", 1);
    v->persistent = lrk_field_boolean(L, et, ectx, "persistent", 1);
    v->from_trigger = lrk_field_boolean(L, et, ectx, "use_trigger_values",
                                        1);
    c->fn = held(L, hold, "event '%s' trigger", nm);
    if (lua_getfield(L, et, "trigger") != LUA_TFUNCTION)
      lrk_error(L, "%s: field 'trigger' must be a function (s, p, t) "
                "returning a condition such as rk.gt(s.A, 1) (got %s)",
                ectx, lrk_got(L, -1));
    call_spt(L, lua_gettop(L), is, ip, it);
    v->trigger = lrk_trace_condition(L, -1, c, "the trigger");
    lrk_trace_check_conditions(L, c);
    lua_settop(L, et);
    c->fn = held(L, hold, "event '%s' delay", nm);
    v->delay = event_number(L, et, "delay", is, ip, it, c, ectx);
    c->fn = held(L, hold, "event '%s' priority", nm);
    v->priority = event_number(L, et, "priority", is, ip, it, c, ectx);
    c->fn = held(L, hold, "event '%s' assign", nm);
    ty = lua_getfield(L, et, "assign");
    if (ty != LUA_TFUNCTION)
      lrk_error(L, "%s: field 'assign' must be a function (s, p, t) "
                "returning {State = new value} (got %s)", ectx,
                lrk_got(L, -1));
    call_spt(L, lua_gettop(L), is, ip, it);
    lrk_trace_check_conditions(L, c);
    if (lua_type(L, -1) != LUA_TTABLE)
      lrk_error(L, "%s: assign must return a table {State = new value} "
                "(got %s)", ectx, lrk_got(L, -1));
    res = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, res)) {
      const char *key = lua_type(L, -2) == LUA_TSTRING
                            ? lua_tostring(L, -2) : NULL;
      for (i = 0; key && i < c->ns; i++)
        if (strcmp(key, c->states[i]) == 0) break;
      if (!key || i == c->ns) {
        const char *bad = luaL_tolstring(L, -2, NULL);
        lrk_error(L, "%s: assign returns a value for unknown state '%s' "
                  "(states: %s)", ectx, bad,
                  lrk_push_list(L, (const char *const *)c->states, c->ns));
      }
      v->n_assign++;
      lua_pop(L, 1);
    }
    {
      int *tg = lrk_scratch(L, v->n_assign ? v->n_assign : 1, sizeof *tg);
      rkin_node *val;
      size_t a = 0;
      lua_rawseti(L, hold, (lua_Integer)lua_rawlen(L, hold) + 1);
      val = lrk_scratch(L, v->n_assign ? v->n_assign : 1, sizeof *val);
      lua_rawseti(L, hold, (lua_Integer)lua_rawlen(L, hold) + 1);
      for (i = 0; i < c->ns; i++) {
        if (lua_getfield(L, res, c->states[i]) != LUA_TNIL) {
          const char *what = lua_pushfstring(L, "value assigned to '%s'",
                                             c->states[i]);
          val[a] = lrk_trace_node(L, -2, c, what);
          if (rkin_expr_is_bool(c->g, val[a]))
            lrk_error(L, "%s: the %s is a condition, not a number", ectx,
                      what);
          tg[a++] = (int)i;
          lua_pop(L, 1);
        }
        lua_pop(L, 1);
      }
      v->target = tg;
      v->value = val;
    }
    lua_settop(L, et - 1);
  }
  /* the holder and the scratch stay on the stack (under whatever follows) */
  lua_settop(L, hold);
  return n;
}

/* rk.model{name=, nuclide=, states=, params=, positive=, ode=, outputs=,
 * bioav=, lag=, rate=, duration=, events=, description=, source=} ->
 * model. */
static int model_new(lua_State *L)
{
  static const char *const keys[] = {"name", "nuclide", "states", "params",
                                     "positive", "ode", "outputs",
                                     "bioav", "lag", "rate", "duration",
                                     "events", "description", "source",
                                     NULL};
  const char *name, *ctx;
  trace_ctx *c;
  lmodel *lm;
  double *values;
  unsigned char *positive;
  const rkin_nuclide *nuc;
  int ictx, imodel, ifn_ode, ifn_out, is, ip, it;
  rkin_node *deriv, *mods;
  int has_mods;
  rkin_model_event *events;
  size_t n_events;
  const char **out_names = NULL;
  rkin_node *out_nodes = NULL;
  size_t n_out = 0;
  rkin_model_spec spec;
  rkin_graph *g;
  rkin_err err;

  if (lua_type(L, 1) != LUA_TTABLE)
    return lrk_error(L, "rk.model: expected a table {name=, states=, "
                     "params=, ode=} (got %s)", lrk_got(L, 1));
  lua_settop(L, 1);
  name = lrk_field_string(L, 1, "rk.model", "name", 1, NULL);
  if (!*name) return lrk_error(L, "rk.model: field 'name' is empty");
  ctx = lua_pushfstring(L, "rk.model '%s'", name);       /* 2 */
  lrk_check_keys(L, 1, ctx, keys);

  c = lua_newuserdatauv(L, sizeof *c, 0);                /* 3 */
  memset(c, 0, sizeof *c);
  luaL_setmetatable(L, TRACE_MT);
  ictx = lua_gettop(L);
  c->model = lrk_strdup(L, "rk.model", name);
  c->fn = "model";

  lm = lua_newuserdatauv(L, sizeof *lm, 1);              /* 4 */
  memset(lm, 0, sizeof *lm);
  luaL_setmetatable(L, MODEL_MT);
  imodel = lua_gettop(L);

  read_states(L, c, ctx);
  read_params(L, c, ctx, &values, &positive);            /* 5, 6 */
  read_nuclide(L, lm, ctx, &nuc);

  if (lua_getfield(L, 1, "ode") != LUA_TFUNCTION)        /* 7 */
    return lrk_error(L, "%s: field 'ode' must be a function (s, p, t) "
                     "returning the derivatives (got %s)", ctx,
                     lrk_got(L, -1));
  ifn_ode = lua_gettop(L);
  ifn_out = 0;
  if (lua_getfield(L, 1, "outputs") != LUA_TNIL) {       /* 8 */
    if (lua_type(L, -1) != LUA_TFUNCTION)
      return lrk_error(L, "%s: field 'outputs' must be a function (s, p, t) "
                       "(got %s)", ctx, lrk_got(L, -1));
    ifn_out = lua_gettop(L);
  }
  {
    const char *fields[] = {"description", "source"};
    int k;
    for (k = 0; k < 2; k++)
      lrk_field_string(L, 1, ctx, fields[k], 0, NULL);
  }

  c->g = rkin_graph_new();
  if (!c->g) return lrk_error(L, "%s: out of memory", ctx);
  lrk_trace_push_proxy(L, ictx, 1);
  is = lua_gettop(L);
  lrk_trace_push_proxy(L, ictx, 0);
  ip = lua_gettop(L);
  {
    rkin_node tn = rkin_expr_time(c->g);
    lrk_trace_check(L, c, tn);
    lrk_trace_push_expr(L, ictx, tn);
    it = lua_gettop(L);
  }

  if (ifn_out) {
    call_traced(L, ifn_out, is, ip, it, c, ctx, "outputs");
    n_out = read_outputs(L, lua_gettop(L), c, ctx, &out_names, &out_nodes);
  }
  deriv = lrk_scratch(L, c->ns, sizeof *deriv);
  call_traced(L, ifn_ode, is, ip, it, c, ctx, "ode");
  read_derivs(L, lua_gettop(L), c, ctx, deriv);
  mods = lrk_scratch(L, RKIN_MOD_N * c->ns, sizeof *mods);
  has_mods = read_mods(L, ip, c, ctx, mods);
  n_events = read_events(L, is, ip, it, c, ctx, &events);

  rkin_err_clear(&err);
  if (rkin_graph_error(c->g, &err) != 0) return lrk_raise(L, ctx, &err);

  memset(&spec, 0, sizeof spec);
  spec.name = name;
  spec.nuclide = nuc;
  spec.n_states = c->ns;
  spec.states = (const char *const *)c->states;
  spec.deriv = deriv;
  spec.n_params = c->np;
  spec.params = (const char *const *)c->params;
  spec.values = values;
  spec.n_outputs = n_out;
  spec.outputs = out_names;
  spec.output_expr = out_nodes;
  /* The model takes the graph, also on failure: expressions still held by
   * the script now raise instead of touching freed memory. */
  g = c->g;
  c->g = NULL;
  lm->m = rkin_model_new(&spec, g, &err);
  if (!lm->m) return lrk_raise(L, ctx, &err);
  if (has_mods && rkin_model_set_dose_mods(lm->m, mods, &err))
    return lrk_raise(L, ctx, &err);
  if (n_events && rkin_model_set_events(lm->m, events, n_events, &err))
    return lrk_raise(L, ctx, &err);
  lm->positive = malloc(c->np ? c->np : 1);
  if (!lm->positive) return lrk_error(L, "%s: out of memory", ctx);
  memcpy(lm->positive, positive, c->np);

  /* user value: description and source, for m.description / m.source */
  lua_createtable(L, 0, 2);
  lua_getfield(L, 1, "description");
  lua_setfield(L, -2, "description");
  lua_getfield(L, 1, "source");
  lua_setfield(L, -2, "source");
  lua_setiuservalue(L, imodel, 1);
  lua_pushvalue(L, imodel);
  return 1;
}

/* A model built elsewhere (the SBML importer) as an rk.model userdata;
 * takes m (freed with the userdata). No parameter is declared positive. */
void lrk_push_model(lua_State *L, struct rkin_model *m,
                    const char *description, const char *source)
{
  lmodel *lm = lua_newuserdatauv(L, sizeof *lm, 1);
  memset(lm, 0, sizeof *lm);
  luaL_setmetatable(L, MODEL_MT);
  lm->m = m;
  lm->positive = calloc(rkin_model_nparams(m) + 1, 1);
  if (!lm->positive) lrk_error(L, "out of memory");
  lua_createtable(L, 0, 2);
  lua_pushstring(L, description);
  lua_setfield(L, -2, "description");
  lua_pushstring(L, source);
  lua_setfield(L, -2, "source");
  lua_setiuservalue(L, -2, 1);
}

/* ------------------------------------------------------- model methods */

static void push_state_names(lua_State *L, const rkin_model *m)
{
  size_t i, n = rkin_model_nstates(m);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushstring(L, rkin_model_state_name(m, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void push_output_names(lua_State *L, const rkin_model *m)
{
  size_t i, n = rkin_model_noutputs(m);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushstring(L, rkin_model_output_name(m, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

void lrk_push_param_map(lua_State *L, const rkin_model *m, const double *p)
{
  size_t i, n = rkin_model_nparams(m);
  lua_createtable(L, 0, (int)n);
  for (i = 0; i < n; i++) {
    lua_pushnumber(L, p[i]);
    lua_setfield(L, -2, rkin_model_param_name(m, i));
  }
}

static int model_is_linear(lua_State *L)
{
  lmodel *lm = check_lmodel(L, 1);
  lua_pushboolean(L, rkin_model_is_linear(lm->m));
  return 1;
}

/* m:native{cache = dir} -> true, or false and the reason: the model's
 * tapes as machine code (core/native.h), the tape staying the fallback. */
static int model_native(lua_State *L)
{
  static const char *const keys[] = {"cache", NULL};
  lmodel *lm = check_lmodel(L, 1);
  const char *dir = NULL;
  rkin_err err;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lrk_check_keys(L, 2, "m:native", keys);
    dir = lrk_field_string(L, 2, "m:native", "cache", 0, NULL);
  }
  rkin_err_clear(&err);
  if (rkin_model_native(lm->m, dir, &err)) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int model_index(lua_State *L)
{
  lmodel *lm = check_lmodel(L, 1);
  const rkin_model *m = lm->m;
  const char *k = luaL_checkstring(L, 2);
  /* methods: is_linear here, simulate from l_simulate.c */
  if (luaL_getmetafield(L, 1, "methods") == LUA_TTABLE &&
      lua_getfield(L, -1, k) != LUA_TNIL)
    return 1;
  lua_settop(L, 2);
  if (strcmp(k, "is_linear") == 0) {
    lua_pushcfunction(L, model_is_linear);
  } else if (strcmp(k, "native") == 0) {
    lua_pushcfunction(L, model_native);
  } else if (strcmp(k, "is_native") == 0) {
    lua_pushboolean(L, rkin_model_is_native(m));
  } else if (strcmp(k, "name") == 0) {
    lua_pushstring(L, rkin_model_name(m));
  } else if (strcmp(k, "states") == 0) {
    push_state_names(L, m);
  } else if (strcmp(k, "outputs") == 0) {
    push_output_names(L, m);
  } else if (strcmp(k, "params") == 0) {
    lrk_push_param_map(L, m, rkin_model_defaults(m));
  } else if (strcmp(k, "param_names") == 0) {
    size_t i, n = rkin_model_nparams(m);
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
      lua_pushstring(L, rkin_model_param_name(m, i));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  } else if (strcmp(k, "nuclide") == 0) {
    if (rkin_model_nuclide(m)) lua_pushstring(L, rkin_model_nuclide(m)->name);
    else lua_pushnil(L);
  } else if (strcmp(k, "lambda") == 0) {
    lua_pushnumber(L, rkin_model_lambda(m));
  } else if (strcmp(k, "description") == 0 || strcmp(k, "source") == 0) {
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, k);
  } else {
    return lrk_error(L, "model '%s' has no field '%s' (fields: simulate, "
                     "is_linear, native, is_native, name, states, outputs, "
                     "params, param_names, nuclide, lambda, description, "
                     "source)",
                     rkin_model_name(m), k);
  }
  return 1;
}

static int model_newindex(lua_State *L)
{
  lmodel *lm = check_lmodel(L, 1);
  return lrk_error(L, "model '%s' is read-only (cannot set '%s'); give "
                   "parameter values to m:simulate{params = {...}}",
                   rkin_model_name(lm->m), luaL_tolstring(L, 2, NULL));
}

static int model_tostring(lua_State *L)
{
  lmodel *lm = luaL_checkudata(L, 1, MODEL_MT);
  const rkin_model *m = lm->m;
  if (!m) {
    lua_pushliteral(L, "rk.model (not built)");
    return 1;
  }
  lua_pushfstring(L, "rk.model '%s' (%d states, %d parameters, %d outputs, "
                  "%s, %s)", rkin_model_name(m),
                  (int)rkin_model_nstates(m), (int)rkin_model_nparams(m),
                  (int)rkin_model_noutputs(m),
                  rkin_model_nuclide(m) ? rkin_model_nuclide(m)->name
                                        : "no decay",
                  rkin_model_is_linear(m) ? "linear" : "nonlinear");
  return 1;
}

void lrk_model_params(lua_State *L, int model_idx, int t, const char *ctx,
                      double *p)
{
  lmodel *lm = check_lmodel(L, model_idx);
  const rkin_model *m = lm->m;
  size_t np = rkin_model_nparams(m);
  t = lua_absindex(L, t);
  if (np) memcpy(p, rkin_model_defaults(m), np * sizeof *p);
  if (lua_isnoneornil(L, t)) return;
  if (lua_type(L, t) != LUA_TTABLE)
    lrk_error(L, "%s: field 'params' must be a table name = value (got %s)",
              ctx, lrk_got(L, t));
  lua_pushnil(L);
  while (lua_next(L, t)) {
    rkin_err err;
    int i;
    double v;
    const char *key;
    rkin_err_clear(&err);
    if (lua_type(L, -2) != LUA_TSTRING)
      lrk_error(L, "%s: params: keys must be parameter names (got a %s "
                "key)", ctx, luaL_typename(L, -2));
    key = lua_tostring(L, -2);
    i = rkin_model_param_index(m, key, &err);
    if (i < 0) lrk_error(L, "%s: params: %s", ctx, err.msg);
    if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1)))
      lrk_error(L, "%s: params.%s must be a finite number (got %s)", ctx,
                key, lrk_got(L, -1));
    v = lua_tonumber(L, -1);
    if (lm->positive[i] && v <= 0)
      lrk_error(L, "%s: params.%s must be positive (the model declares it "
                "a rate or half-life), got %s", ctx, key, lrk_got(L, -1));
    p[i] = v;
    lua_pop(L, 1);
  }
}

/* ---------------------------------------------------------------- open */

static const luaL_Reg model_funcs[] = {
  {"new", model_new},
  {"positive", m_positive},
  {NULL, NULL}
};

void lrk_model_open(lua_State *L)
{
  if (luaL_newmetatable(L, POSITIVE_MT)) {
    lua_pushcfunction(L, positive_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, MODEL_MT)) {
    lua_pushcfunction(L, model_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, model_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, model_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, model_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_createtable(L, 0, 2);
    lua_setfield(L, -2, "methods");
  }
  lua_pop(L, 1);
  luaL_newlib(L, model_funcs);
}
