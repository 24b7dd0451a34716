/* l_sbml.c - "radiokin.sbml": SBML models (engine/sbml/sbml.h).
 *
 *   rk.sbml.load(path [, {time_unit=, nuclide=, strict=, quiet=, fluxes=}])
 *       -> model (an ordinary rk.model), info
 *   rk.sbml.info(path [, opts]) -> info (the same table, no model kept)
 *
 * info: time_unit, hours_per_unit, time_declared, level, version,
 * warnings (array of strings), symbols (array of {id=, name=, plain=,
 * kind=, role=, amount=, boundary=, compartment=}), names (alias -> model
 * name: every SBML id, every SBML name that is unique, and the model
 * names themselves), counts (reactions, rules, initial_assignments,
 * functions). Warnings go to stderr too unless quiet = true. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "core/model_python.h"
#include "core/nuclide.h"
#include "lrk.h"
#include "modules.h"
#include "sbml/sbml.h"

static const char *kind_str(int k)
{
  switch (k) {
  case 'c': return "compartment";
  case 's': return "species";
  case 'p': return "parameter";
  case 'r': return "reaction";
  default: return "local parameter";
  }
}

static const char *role_str(int w)
{
  switch (w) {
  case 's': return "state";
  case 'o': return "output";
  case 'p': return "param";
  default: return "none";
  }
}

/* Pushes the info table of r. */
static void push_info(lua_State *L, const rkin_sbml_result *r)
{
  size_t i, j;
  lua_createtable(L, 0, 10);
  lua_pushstring(L, r->time_unit);
  lua_setfield(L, -2, "time_unit");
  lua_pushnumber(L, r->hours_per_unit);
  lua_setfield(L, -2, "hours_per_unit");
  lua_pushboolean(L, r->time_declared);
  lua_setfield(L, -2, "time_declared");
  lua_pushinteger(L, r->level);
  lua_setfield(L, -2, "level");
  lua_pushinteger(L, r->version);
  lua_setfield(L, -2, "version");
  lua_pushboolean(L, r->flattened);
  lua_setfield(L, -2, "flattened");
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)r->n_reactions);
  lua_setfield(L, -2, "reactions");
  lua_pushinteger(L, (lua_Integer)r->n_rules);
  lua_setfield(L, -2, "rules");
  lua_pushinteger(L, (lua_Integer)r->n_initial_assignments);
  lua_setfield(L, -2, "initial_assignments");
  lua_pushinteger(L, (lua_Integer)r->n_functions);
  lua_setfield(L, -2, "functions");
  lua_pushinteger(L, (lua_Integer)r->n_events);
  lua_setfield(L, -2, "events");
  lua_setfield(L, -2, "counts");
  lua_createtable(L, (int)r->n_warn, 0);
  for (i = 0; i < r->n_warn; i++) {
    lua_pushstring(L, r->warn[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "warnings");
  lua_createtable(L, (int)r->n_sym, 0);
  for (i = 0; i < r->n_sym; i++) {
    const rkin_sbml_symbol *s = &r->sym[i];
    lua_createtable(L, 0, 8);
    lua_pushstring(L, s->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, s->name);
    lua_setfield(L, -2, "name");
    if (s->plain) {
      lua_pushstring(L, s->plain);
      lua_setfield(L, -2, "plain");
    }
    lua_pushstring(L, kind_str(s->kind));
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, role_str(s->where));
    lua_setfield(L, -2, "role");
    if (s->kind == 's') {
      lua_pushboolean(L, s->hosu);
      lua_setfield(L, -2, "amount");
      lua_pushboolean(L, s->boundary);
      lua_setfield(L, -2, "boundary");
      lua_pushstring(L, s->compartment);
      lua_setfield(L, -2, "compartment");
      lua_pushstring(L, s->holds_conc ? "concentration" : "amount");
      lua_setfield(L, -2, "holds");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "symbols");
  /* names: model names, ids, and SBML names that are unique */
  lua_createtable(L, 0, (int)(3 * r->n_sym));
  for (i = 0; i < r->n_sym; i++) {
    const rkin_sbml_symbol *s = &r->sym[i];
    int unique = s->plain != NULL;
    lua_pushstring(L, s->name);
    lua_setfield(L, -2, s->name);
    lua_pushstring(L, s->name);
    lua_setfield(L, -2, s->id);
    for (j = 0; unique && j < r->n_sym; j++)
      if (j != i && ((r->sym[j].plain && strcmp(r->sym[j].plain, s->plain) == 0)
                     || strcmp(r->sym[j].id, s->plain) == 0
                     || strcmp(r->sym[j].name, s->plain) == 0))
        unique = 0;
    if (unique) {
      lua_pushstring(L, s->name);
      lua_setfield(L, -2, s->plain);
    }
  }
  lua_setfield(L, -2, "names");
}

/* Reads path with the options at index 2; the result is in *r. */
static void load(lua_State *L, const char *ctx, rkin_sbml_result *r)
{
  static const char *const keys[] = {"time_unit", "nuclide", "strict",
                                     "quiet", "fluxes", NULL};
  const char *path = luaL_checkstring(L, 1);
  rkin_sbml_opts o;
  rkin_err err;
  size_t i;
  int quiet = 0;
  memset(&o, 0, sizeof o);
  rkin_err_clear(&err);
  if (!lua_isnoneornil(L, 2)) {
    if (lua_type(L, 2) != LUA_TTABLE)
      lrk_error(L, "%s: options must be a table (got %s)", ctx,
                lrk_got(L, 2));
    lrk_check_keys(L, 2, ctx, keys);
    o.time_unit = lrk_field_string(L, 2, ctx, "time_unit", 0, NULL);
    o.strict = lrk_field_boolean(L, 2, ctx, "strict", 0);
    quiet = lrk_field_boolean(L, 2, ctx, "quiet", 0);
    o.fluxes = lrk_field_boolean(L, 2, ctx, "fluxes", 0);
    {
      const char *nuc = lrk_field_string(L, 2, ctx, "nuclide", 0, NULL);
      if (nuc && !(o.nuclide = rkin_nuclide_find(nuc, &err)))
        lrk_raise(L, ctx, &err);
    }
  }
  if (rkin_sbml_load(path, &o, r, &err)) lrk_raise(L, ctx, &err);
  if (!quiet)
    for (i = 0; i < r->n_warn; i++)
      fprintf(stderr, "radiokin: warning: %s\n", r->warn[i]);
}

static int sbml_load(lua_State *L)
{
  rkin_sbml_result r;
  char desc[512];
  lua_settop(L, 2);
  load(L, "rk.sbml.load", &r);
  snprintf(desc, sizeof desc, "SBML Level %d Version %d model, time in "
           "hours (the file's time unit: %s)", r.level, r.version,
           r.time_unit);
  {
    rkin_model *m = r.model;
    r.model = NULL;
    lrk_push_model(L, m, desc, luaL_checkstring(L, 1));   /* owns m */
  }
  push_info(L, &r);
  rkin_sbml_result_free(&r);
  return 2;
}

static int sbml_info(lua_State *L)
{
  rkin_sbml_result r;
  lua_settop(L, 2);
  load(L, "rk.sbml.info", &r);
  push_info(L, &r);
  rkin_sbml_result_free(&r);
  return 1;
}

/* m:write_sbml(path): the model as SBML L3V2, written atomically. */
static int model_write_sbml(lua_State *L)
{
  const rkin_model *m = lrk_check_model(L, 1);
  const char *path = luaL_checkstring(L, 2);
  rkin_err err;
  char *text;
  int rc;
  rkin_err_clear(&err);
  if (!(text = rkin_sbml_write_string(m, &err)))
    return lrk_raise(L, "m:write_sbml", &err);
  rc = lrk_write_atomic(path, text, strlen(text), &err);
  free(text);
  if (rc) return lrk_raise(L, "m:write_sbml", &err);
  return 0;
}

/* m:write_python(path): the right-hand side and outputs as a Python
 * module (core/model_python.h), for peers; written atomically. */
static int model_write_python(lua_State *L)
{
  const rkin_model *m = lrk_check_model(L, 1);
  const char *path = luaL_checkstring(L, 2);
  rkin_err err;
  char *text;
  int rc;
  rkin_err_clear(&err);
  if (!(text = rkin_model_python(m, &err)))
    return lrk_raise(L, "m:write_python", &err);
  rc = lrk_write_atomic(path, text, strlen(text), &err);
  free(text);
  if (rc) return lrk_raise(L, "m:write_python", &err);
  return 0;
}

void lrk_sbml_model_methods(lua_State *L)
{
  if (luaL_getmetatable(L, "radiokin.model") == LUA_TTABLE
      && lua_getfield(L, -1, "methods") == LUA_TTABLE) {
    lua_pushcfunction(L, model_write_sbml);
    lua_setfield(L, -2, "write_sbml");
    lua_pushcfunction(L, model_write_python);
    lua_setfield(L, -2, "write_python");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}


/* ------------------------------------------------------ rk.sbml.to_lua */

#define MAX_NEST 40     /* Lua's parser allows about 200 nested levels */

typedef struct {
  const rkin_model *m;
  const rkin_graph *g;
  int *temp;            /* per node: its v[] index, 0 when inline */
  int *uses, *depth;
  luaL_Buffer *b;
} luagen;

static void put_name(luaL_Buffer *b, const char *tab, const char *name)
{
  const char *p;
  luaL_addstring(b, tab);
  luaL_addstring(b, "[\"");
  for (p = name; *p; p++) {
    if (*p == '"' || *p == '\\') luaL_addchar(b, '\\');
    if (*p == '\n') {
      luaL_addstring(b, "\\n");
      continue;
    }
    luaL_addchar(b, *p);
  }
  luaL_addstring(b, "\"]");
}

static void put_str(luaL_Buffer *b, const char *name)
{
  const char *p;
  luaL_addchar(b, '"');
  for (p = name; *p; p++) {
    if (*p == '"' || *p == '\\') luaL_addchar(b, '\\');
    if (*p == '\n') {
      luaL_addstring(b, "\\n");
      continue;
    }
    luaL_addchar(b, *p);
  }
  luaL_addchar(b, '"');
}

/* The shortest of %.15g, %.16g, %.17g that reads back as v. */
static void fmt_num(char *buf, size_t size, double v)
{
  int prec;
  for (prec = 15; prec < 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
  snprintf(buf, size, "%.17g", v);
}

static void expr_lua(luagen *x, rkin_node n, int top);

static int nkids(const rkin_graph *g, rkin_node n)
{
  int k = 0;
  while (k < 3 && rkin_expr_arg(g, n, k) >= 0) k++;
  return k;
}

static void call1(luagen *x, const char *fn, rkin_node n)
{
  luaL_addstring(x->b, fn);
  luaL_addchar(x->b, '(');
  expr_lua(x, rkin_expr_arg(x->g, n, 0), 0);
  luaL_addchar(x->b, ')');
}

static void call2(luagen *x, const char *fn, rkin_node n)
{
  luaL_addstring(x->b, fn);
  luaL_addchar(x->b, '(');
  expr_lua(x, rkin_expr_arg(x->g, n, 0), 0);
  luaL_addstring(x->b, ", ");
  expr_lua(x, rkin_expr_arg(x->g, n, 1), 0);
  luaL_addchar(x->b, ')');
}

static void infix(luagen *x, const char *op, rkin_node n)
{
  luaL_addchar(x->b, '(');
  expr_lua(x, rkin_expr_arg(x->g, n, 0), 0);
  luaL_addstring(x->b, op);
  expr_lua(x, rkin_expr_arg(x->g, n, 1), 0);
  luaL_addchar(x->b, ')');
}

/* Node n in Lua syntax; a node with a temporary is v[k] unless top (its
 * own definition). */
static void expr_lua(luagen *x, rkin_node n, int top)
{
  char num[40];
  double v;
  rkin_op op = rkin_expr_op(x->g, n);
  if (!top && x->temp[n]) {
    snprintf(num, sizeof num, "v[%d]", x->temp[n]);
    luaL_addstring(x->b, num);
    return;
  }
  switch (op) {
  case RKIN_OP_CONST:
    rkin_expr_is_const(x->g, n, &v);
    fmt_num(num, sizeof num, v);
    if (v < 0) luaL_addchar(x->b, '(');
    luaL_addstring(x->b, num);
    if (v < 0) luaL_addchar(x->b, ')');
    return;
  case RKIN_OP_TIME: luaL_addchar(x->b, 't'); return;
  case RKIN_OP_STATE:
    put_name(x->b, "s", rkin_model_state_name(x->m, (size_t)rkin_expr_index(x->g, n)));
    return;
  case RKIN_OP_PARAM:
    put_name(x->b, "p", rkin_model_param_name(x->m, (size_t)rkin_expr_index(x->g, n)));
    return;
  case RKIN_OP_NEG:
    luaL_addstring(x->b, "(-");
    expr_lua(x, rkin_expr_arg(x->g, n, 0), 0);
    luaL_addchar(x->b, ')');
    return;
  case RKIN_OP_ADD: infix(x, " + ", n); return;
  case RKIN_OP_SUB: infix(x, " - ", n); return;
  case RKIN_OP_MUL: infix(x, " * ", n); return;
  case RKIN_OP_DIV: infix(x, " / ", n); return;
  case RKIN_OP_POW: infix(x, " ^ ", n); return;
  case RKIN_OP_EXP: call1(x, "rk.exp", n); return;
  case RKIN_OP_LOG: call1(x, "rk.log", n); return;
  case RKIN_OP_SQRT: call1(x, "rk.sqrt", n); return;
  case RKIN_OP_ABS: call1(x, "rk.abs", n); return;
  case RKIN_OP_MIN: call2(x, "rk.min", n); return;
  case RKIN_OP_MAX: call2(x, "rk.max", n); return;
  case RKIN_OP_SIGN: case RKIN_OP_STEP: {
    rkin_node a = rkin_expr_arg(x->g, n, 0);
    luaL_addstring(x->b, "rk.ifelse(rk.gt(");
    expr_lua(x, a, 0);
    luaL_addstring(x->b, ", 0), 1, rk.ifelse(rk.lt(");
    expr_lua(x, a, 0);
    luaL_addstring(x->b, op == RKIN_OP_SIGN ? ", 0), -1, 0))"
                                           : ", 0), 0, 0.5))");
    return;
  }
  case RKIN_OP_LT: call2(x, "rk.lt", n); return;
  case RKIN_OP_LE: call2(x, "rk.le", n); return;
  case RKIN_OP_GT: call2(x, "rk.gt", n); return;
  case RKIN_OP_GE: call2(x, "rk.ge", n); return;
  case RKIN_OP_AND: call2(x, "rk.all", n); return;
  case RKIN_OP_OR: call2(x, "rk.any", n); return;
  case RKIN_OP_NOT: call1(x, "rk.negate", n); return;
  case RKIN_OP_IFELSE:
    luaL_addstring(x->b, "rk.ifelse(");
    expr_lua(x, rkin_expr_arg(x->g, n, 0), 0);
    luaL_addstring(x->b, ", ");
    expr_lua(x, rkin_expr_arg(x->g, n, 1), 0);
    luaL_addstring(x->b, ", ");
    expr_lua(x, rkin_expr_arg(x->g, n, 2), 0);
    luaL_addchar(x->b, ')');
    return;
  case RKIN_OP_SIN: call1(x, "rk.sin", n); return;
  case RKIN_OP_COS: call1(x, "rk.cos", n); return;
  case RKIN_OP_TAN: call1(x, "rk.tan", n); return;
  case RKIN_OP_ASIN: call1(x, "rk.asin", n); return;
  case RKIN_OP_ACOS: call1(x, "rk.acos", n); return;
  case RKIN_OP_ATAN: call1(x, "rk.atan", n); return;
  case RKIN_OP_FLOOR: call1(x, "rk.floor", n); return;
  case RKIN_OP_CEIL: call1(x, "rk.ceil", n); return;
  case RKIN_OP_FACT: call1(x, "rk.factorial", n); return;
  }
  luaL_addstring(x->b, "nil");
}

/* One traced function (ode, outputs, or an event's) returning name =
 * node for the n roots (names NULL: returning the one root itself), at
 * indentation ind: subexpressions used twice, or nested deeper than Lua
 * parses, become v[k] = ..., children before parents. */
static void function_lua(luagen *x, const char *ind, const char *fn,
                         size_t n, const rkin_node *roots,
                         const char *const *names)
{
  size_t ng = rkin_graph_size(x->g), i;
  int k, nt = 0, *need = x->depth;
  memset(x->uses, 0, ng * sizeof *x->uses);
  memset(x->temp, 0, ng * sizeof *x->temp);
  memset(need, 0, ng * sizeof *need);
  for (i = 0; i < n; i++) need[roots[i]] = 1;
  /* reachable nodes and their uses (children have smaller indices) */
  for (k = (int)ng - 1; k >= 0; k--) {
    int j, nk = nkids(x->g, k);
    if (!need[k]) continue;
    for (j = 0; j < nk; j++) {
      rkin_node c = rkin_expr_arg(x->g, k, j);
      need[c] = 1;
      x->uses[c]++;
    }
  }
  luaL_addstring(x->b, ind);
  luaL_addstring(x->b, fn);
  luaL_addstring(x->b, " = function(s, p, t)\n");
  luaL_addstring(x->b, ind);
  luaL_addstring(x->b, "  local v = {}\n");
  for (k = 0; k < (int)ng; k++) {
    int j, nk, d = 0;
    if (!need[k]) continue;
    nk = nkids(x->g, k);
    if (nk == 0) {
      need[k] = 1;     /* leaves: depth 1, never temporaries */
      continue;
    }
    for (j = 0; j < nk; j++) {
      rkin_node c = rkin_expr_arg(x->g, k, j);
      int dc = x->temp[c] ? 1 : need[c];
      if (dc > d) d = dc;
    }
    need[k] = d + 1;
    if (x->uses[k] >= 2 || need[k] > MAX_NEST) {
      char num[32];
      x->temp[k] = ++nt;
      need[k] = 1;
      snprintf(num, sizeof num, "  v[%d] = ", nt);
      luaL_addstring(x->b, ind);
      luaL_addstring(x->b, num);
      expr_lua(x, k, 1);
      luaL_addchar(x->b, '\n');
    }
  }
  luaL_addstring(x->b, ind);
  if (!names) {
    luaL_addstring(x->b, "  return ");
    expr_lua(x, roots[0], 0);
    luaL_addchar(x->b, '\n');
  } else {
    luaL_addstring(x->b, "  return {\n");
    for (i = 0; i < n; i++) {
      luaL_addstring(x->b, ind);
      luaL_addstring(x->b, "    ");
      put_name(x->b, "", names[i]);
      luaL_addstring(x->b, " = ");
      expr_lua(x, roots[i], 0);
      luaL_addstring(x->b, ",\n");
    }
    luaL_addstring(x->b, ind);
    luaL_addstring(x->b, "  }\n");
  }
  luaL_addstring(x->b, ind);
  luaL_addstring(x->b, "end,\n");
}

static void flag_lua(luaL_Buffer *b, const char *key, int v)
{
  luaL_addstring(b, "      ");
  luaL_addstring(b, key);
  luaL_addstring(b, v ? " = true,\n" : " = false,\n");
}

/* The model's events as the rk.model field `events` (every attribute
 * written, so the defaults do not matter). names: scratch for as many
 * names as the model has states. */
static void events_lua(luagen *x, const char **names)
{
  const rkin_mevents *e = rkin_model_events(x->m);
  size_t k, j;
  luaL_addstring(x->b, "  -- delays are in hours; assign gives the states' "
                 "new values\n  events = {\n");
  for (k = 0; k < rkin_mevents_count(e); k++) {
    rkin_model_event v;
    rkin_mevents_spec(e, k, &v);
    luaL_addstring(x->b, "    {\n      name = ");
    put_str(x->b, v.name);
    luaL_addstring(x->b, ",\n");
    flag_lua(x->b, "initial_value", v.initial_value);
    flag_lua(x->b, "persistent", v.persistent);
    flag_lua(x->b, "use_trigger_values", v.from_trigger);
    function_lua(x, "      ", "trigger", 1, &v.trigger, NULL);
    if (v.delay >= 0) function_lua(x, "      ", "delay", 1, &v.delay, NULL);
    if (v.priority >= 0)
      function_lua(x, "      ", "priority", 1, &v.priority, NULL);
    for (j = 0; j < v.n_assign; j++)
      names[j] = rkin_model_state_name(x->m, (size_t)v.target[j]);
    function_lua(x, "      ", "assign", v.n_assign, v.value, names);
    luaL_addstring(x->b, "    },\n");
  }
  luaL_addstring(x->b, "  },\n");
}

/* rk.sbml.to_lua(sbml_path, lua_path [, opts]): a readable Lua model file
 * (rk.model) that reproduces the SBML model. */
static int sbml_to_lua(lua_State *L)
{
  rkin_sbml_result r;
  const char *out_path = luaL_checkstring(L, 2);
  const rkin_model *m;
  luaL_Buffer b;
  luagen x;
  size_t i, ns, no, ng;
  rkin_node *roots;
  const char **names;
  rkin_err err;
  char num[64];
  lua_settop(L, 3);
  lua_rotate(L, 2, -1);         /* opts at 2, the output path at 3 */
  load(L, "rk.sbml.to_lua", &r);
  m = r.model;
  ns = rkin_model_nstates(m);
  no = rkin_model_noutputs(m);
  ng = rkin_graph_size(rkin_model_graph(m));
  x.m = m;
  x.g = rkin_model_graph(m);
  x.temp = calloc(ng + 1, sizeof *x.temp);
  x.uses = calloc(ng + 1, sizeof *x.uses);
  x.depth = calloc(ng + 1, sizeof *x.depth);
  roots = calloc(ns + no + 1, sizeof *roots);
  names = calloc(ns + no + 1, sizeof *names);
  if (!x.temp || !x.uses || !x.depth || !roots || !names) {
    free(x.temp); free(x.uses); free(x.depth); free(roots); free(names);
    rkin_sbml_result_free(&r);
    return lrk_error(L, "rk.sbml.to_lua: out of memory");
  }
  x.b = &b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "-- ");
  luaL_addstring(&b, out_path);
  luaL_addstring(&b, ": written by rk.sbml.to_lua from ");
  luaL_addstring(&b, lua_tostring(L, 1));
  snprintf(num, sizeof num, " (SBML Level %d Version %d).\n", r.level,
           r.version);
  luaL_addstring(&b, num);
  snprintf(num, sizeof num, "%g", r.hours_per_unit);
  luaL_addstring(&b, "-- Time t is in hours; the file's time unit is ");
  luaL_addstring(&b, r.time_unit);
  luaL_addstring(&b, " (");
  luaL_addstring(&b, num);
  luaL_addstring(&b, " h), so rates are divided by it. Species states are "
                 "amounts\n-- in the file's substance units; delta(X) is "
                 "the change of X from its initial value.\n"
                 "local rk = require \"radiokin\"\n\nreturn rk.model {\n"
                 "  name = ");
  put_str(&b, rkin_model_name(m));
  luaL_addstring(&b, ",\n");
  if (rkin_model_nuclide(m)) {
    luaL_addstring(&b, "  nuclide = ");
    put_str(&b, rkin_model_nuclide(m)->name);
    luaL_addstring(&b, ",\n");
  }
  luaL_addstring(&b, "  states = {\n");
  for (i = 0; i < ns; i++) {
    luaL_addstring(&b, "    ");
    put_str(&b, rkin_model_state_name(m, i));
    luaL_addstring(&b, ",\n");
  }
  luaL_addstring(&b, "  },\n  params = {\n");
  for (i = 0; i < rkin_model_nparams(m); i++) {
    const char *pn = rkin_model_param_name(m, i);
    size_t k;
    luaL_addstring(&b, "    ");
    put_name(&b, "", pn);
    luaL_addstring(&b, " = ");
    fmt_num(num, sizeof num, rkin_model_defaults(m)[i]);
    luaL_addstring(&b, num);
    luaL_addchar(&b, ',');
    for (k = 0; k < r.n_sym; k++)
      if (strcmp(r.sym[k].name, pn) == 0) {
        luaL_addstring(&b, "  -- ");
        luaL_addstring(&b, r.sym[k].kind == 'c' ? "compartment size"
                           : "parameter");
        luaL_addstring(&b, ", id ");
        luaL_addstring(&b, r.sym[k].id);
        if (r.sym[k].units) {
          luaL_addstring(&b, ", units ");
          luaL_addstring(&b, r.sym[k].units);
        }
      }
    if (strchr(pn, '.') && !strstr(pn, "..")) {
      int local = 1;
      for (k = 0; k < r.n_sym; k++)
        if (strcmp(r.sym[k].name, pn) == 0) local = 0;
      if (local) luaL_addstring(&b, "  -- local parameter of a kinetic law");
    }
    luaL_addchar(&b, '\n');
  }
  luaL_addstring(&b, "  },\n");
  for (i = 0; i < ns; i++) {
    roots[i] = rkin_model_deriv_node(m, i);
    names[i] = rkin_model_state_name(m, i);
  }
  function_lua(&x, "  ", "ode", ns, roots, names);
  if (no) {
    for (i = 0; i < no; i++) {
      roots[i] = rkin_model_output_node(m, i);
      names[i] = rkin_model_output_name(m, i);
    }
    function_lua(&x, "  ", "outputs", no, roots, names);
  }
  if (rkin_model_events(m)) events_lua(&x, names);
  luaL_addstring(&b, "}\n");
  free(names);
  free(x.temp);
  free(x.uses);
  free(x.depth);
  free(roots);
  rkin_sbml_result_free(&r);
  luaL_pushresult(&b);
  {
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    rkin_err_clear(&err);
    if (lrk_write_atomic(lua_tostring(L, 3), text, len, &err))
      return lrk_raise(L, "rk.sbml.to_lua", &err);
  }
  return 0;
}

static const luaL_Reg sbml_funcs[] = {
  {"to_lua", sbml_to_lua},
  {"load", sbml_load},
  {"info", sbml_info},
  {NULL, NULL}
};

int luaopen_radiokin_sbml(lua_State *L)
{
  luaL_newlib(L, sbml_funcs);
  return 1;
}
