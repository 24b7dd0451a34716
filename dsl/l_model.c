/* l_model.c - "radiokin.model": rk.model traces a model's Lua `ode` and
 * `outputs` functions ONCE with symbolic arguments into an expression graph
 * and compiles it into an rkin_model; m:simulate runs that model through a
 * dosing schedule (engine/solve.h) with no Lua at solve time.
 *
 * Userdata: an expression (node + its trace, kept alive as user value), a
 * trace (the graph while it is being built), a model (the rkin_model), and
 * boxes owning engine objects during m:simulate, so a raise leaks nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "dosing.h"
#include "expr.h"
#include "lrk.h"
#include "model.h"
#include "modules.h"
#include "solve.h"

#define TRACE_MT "radiokin.trace"
#define EXPR_MT "radiokin.expr"
#define MODEL_MT "radiokin.model"
#define POSITIVE_MT "radiokin.positive"
#define BOX_MT "radiokin.box"
#define RESULT_MT "radiokin.result"

/* ----------------------------------------------------------- utilities */

/* A userdata owning one engine object, freed by __gc. */
typedef struct {
  void *p;
  void (*free_fn)(void *);
} box;

static int box_gc(lua_State *L)
{
  box *b = luaL_checkudata(L, 1, BOX_MT);
  if (b->p && b->free_fn) b->free_fn(b->p);
  b->p = NULL;
  return 0;
}

static box *push_box(lua_State *L, void (*free_fn)(void *))
{
  box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->p = NULL;
  b->free_fn = free_fn;
  luaL_setmetatable(L, BOX_MT);
  return b;
}

static void free_dosing(void *p) { rkin_dosing_free(p); }
static void free_solver(void *p) { rkin_solver_free(p); }

/* Collectable scratch memory: n elements of size sz, zeroed. */
static void *scratch(lua_State *L, size_t n, size_t sz)
{
  void *p = lua_newuserdatauv(L, (n ? n : 1) * sz, 0);
  memset(p, 0, (n ? n : 1) * sz);
  return p;
}

/* Pushes "a, b, c" from n names. */
static const char *push_list(lua_State *L, const char *const *names,
                             size_t n)
{
  luaL_Buffer b;
  size_t i;
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, names[i]);
  }
  if (n == 0) luaL_addstring(&b, "none");
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* ------------------------------------------------------------- tracing */

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
} trace_ctx;

typedef struct {
  rkin_node n;
} lexpr;

/* Who traces, for messages: rk.model, or a caller of lrk_trace_call. */
#define KIND(c) ((c)->kind ? (c)->kind : "rk.model")

static int trace_gc(lua_State *L)
{
  trace_ctx *c = luaL_checkudata(L, 1, TRACE_MT);
  rkin_graph_free(c->g);
  c->g = NULL;
  free(c->model);
  c->model = NULL;
  lrk_free_names(c->states, c->ns);
  lrk_free_names(c->params, c->np);
  c->states = c->params = NULL;
  c->ns = c->np = 0;
  return 0;
}

static void check_graph(lua_State *L, trace_ctx *c, rkin_node n)
{
  rkin_err err;
  if (n >= 0) return;
  rkin_err_clear(&err);
  rkin_graph_error(c->g, &err);
  lrk_error(L, "%s '%s': %s: %s", KIND(c), c->model, c->fn,
            err.msg[0] ? err.msg : "cannot build the expression");
}

static trace_ctx *live_ctx(lua_State *L, int ctx_idx)
{
  trace_ctx *c = lua_touserdata(L, ctx_idx);
  if (!c->g)
    lrk_error(L, "%s '%s': an expression was used after its model "
              "was built (expressions live only inside ode/outputs)",
              KIND(c), c->model ? c->model : "?");
  return c;
}

static void push_expr(lua_State *L, int ctx_idx, rkin_node n)
{
  lexpr *e;
  ctx_idx = lua_absindex(L, ctx_idx);
  e = lua_newuserdatauv(L, sizeof *e, 1);
  e->n = n;
  luaL_setmetatable(L, EXPR_MT);
  lua_pushvalue(L, ctx_idx);
  lua_setiuservalue(L, -2, 1);
}

/* The node of the value at idx (a number or an expression of trace c);
 * `what` says where it is used, for messages. */
static rkin_node to_node(lua_State *L, int idx, trace_ctx *c,
                         const char *what)
{
  lexpr *e;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    double v = lua_tonumber(L, idx);
    rkin_node n;
    if (!isfinite(v))
      lrk_error(L, "%s '%s': %s: %s: the constant %s is not finite",
                KIND(c), c->model, c->fn, what, lrk_got(L, idx));
    n = rkin_expr_const(c->g, v);
    check_graph(L, c, n);
    return n;
  }
  e = luaL_testudata(L, idx, EXPR_MT);
  if (!e)
    lrk_error(L, "%s '%s': %s: %s: expected a number or an "
              "expression of %s (got %s)", KIND(c), c->model, c->fn, what,
              c->args ? c->args : "s, p and t",
              lrk_got(L, idx));
  lua_getiuservalue(L, idx, 1);
  if (lua_touserdata(L, -1) != (void *)c)
    lrk_error(L, "%s '%s': %s: %s: an expression of another model's "
              "trace was used", KIND(c), c->model, c->fn, what);
  lua_pop(L, 1);
  return e->n;
}

/* Leaves the trace of the expression operand (1 or 2) at index 3. */
static trace_ctx *operand_ctx(lua_State *L)
{
  int ei = luaL_testudata(L, 1, EXPR_MT) ? 1 : 2;
  lua_settop(L, 2);
  lua_getiuservalue(L, ei, 1);
  return live_ctx(L, 3);
}

static int arith(lua_State *L, rkin_op op, const char *sym)
{
  trace_ctx *c = operand_ctx(L);
  const char *what = lua_pushfstring(L, "operator %s", sym);
  rkin_node a = to_node(L, 1, c, what);
  rkin_node b = to_node(L, 2, c, what);
  rkin_node r = rkin_expr_binary(c->g, op, a, b);
  check_graph(L, c, r);
  push_expr(L, 3, r);
  return 1;
}

static int expr_add(lua_State *L) { return arith(L, RKIN_OP_ADD, "+"); }
static int expr_sub(lua_State *L) { return arith(L, RKIN_OP_SUB, "-"); }
static int expr_mul(lua_State *L) { return arith(L, RKIN_OP_MUL, "*"); }
static int expr_div(lua_State *L) { return arith(L, RKIN_OP_DIV, "/"); }
static int expr_pow(lua_State *L) { return arith(L, RKIN_OP_POW, "^"); }

static int expr_unm(lua_State *L)
{
  trace_ctx *c = operand_ctx(L);
  rkin_node a = to_node(L, 1, c, "unary -");
  rkin_node r = rkin_expr_unary(c->g, RKIN_OP_NEG, a);
  check_graph(L, c, r);
  push_expr(L, 3, r);
  return 1;
}

/* Comparisons cannot be traced: the function runs once, so an `if` on a
 * symbolic value would pick one branch for ever. */
static int expr_compare(lua_State *L)
{
  trace_ctx *c = operand_ctx(L);
  return lrk_error(L, "%s '%s': %s: expressions cannot be compared "
                   "(the function is traced once with symbolic values; "
                   "use rk.min, rk.max or rk.abs instead of if/<)",
                   KIND(c), c->model, c->fn);
}

static int expr_unsupported(lua_State *L)
{
  trace_ctx *c = operand_ctx(L);
  return lrk_error(L, "%s '%s': %s: this operation is not defined "
                   "for expressions (only + - * / ^, unary -, rk.exp, "
                   "rk.log, rk.sqrt, rk.abs, rk.min, rk.max)", KIND(c),
                   c->model,
                   c->fn);
}

static int expr_index(lua_State *L)
{
  return lrk_error(L, "cannot index an expression (field '%s'): states "
                   "and parameters are s.NAME and p.NAME",
                   luaL_tolstring(L, 2, NULL));
}

static int expr_tostring(lua_State *L)
{
  lexpr *e = luaL_checkudata(L, 1, EXPR_MT);
  trace_ctx *c;
  char buf[1024];
  lua_getiuservalue(L, 1, 1);
  c = lua_touserdata(L, -1);
  if (!c->g) {
    lua_pushliteral(L, "<expression of a built model>");
    return 1;
  }
  rkin_expr_format(c->g, e->n, (const char *const *)c->states,
                   (const char *const *)c->params, buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

static const luaL_Reg expr_meta[] = {
  {"__add", expr_add}, {"__sub", expr_sub}, {"__mul", expr_mul},
  {"__div", expr_div}, {"__pow", expr_pow}, {"__unm", expr_unm},
  {"__eq", expr_compare}, {"__lt", expr_compare}, {"__le", expr_compare},
  {"__mod", expr_unsupported}, {"__idiv", expr_unsupported},
  {"__band", expr_unsupported}, {"__bor", expr_unsupported},
  {"__bxor", expr_unsupported}, {"__shl", expr_unsupported},
  {"__shr", expr_unsupported}, {"__bnot", expr_unsupported},
  {"__concat", expr_unsupported}, {"__len", expr_unsupported},
  {"__call", expr_unsupported}, {"__index", expr_index},
  {"__tostring", expr_tostring},
  {NULL, NULL}
};

/* rk.exp(x) etc.: a number for a number, an expression for an
 * expression. */
static int math_unary(lua_State *L, rkin_op op, const char *name,
                      double (*f)(double))
{
  if (lua_type(L, 1) == LUA_TNUMBER) {
    double x = lua_tonumber(L, 1), v = f(x);
    if (!isfinite(v))
      return lrk_error(L, "rk.%s(%s) is not finite", name, lrk_got(L, 1));
    lua_pushnumber(L, v);
    return 1;
  }
  if (!luaL_testudata(L, 1, EXPR_MT))
    return lrk_error(L, "rk.%s: expected a number or an expression (got %s)",
                     name, lrk_got(L, 1));
  lua_settop(L, 1);
  lua_getiuservalue(L, 1, 1);
  {
    trace_ctx *c = live_ctx(L, 2);
    rkin_node r = rkin_expr_unary(c->g, op, to_node(L, 1, c, name));
    check_graph(L, c, r);
    push_expr(L, 2, r);
  }
  return 1;
}

static int m_exp(lua_State *L) { return math_unary(L, RKIN_OP_EXP, "exp", exp); }
static int m_log(lua_State *L) { return math_unary(L, RKIN_OP_LOG, "log", log); }
static int m_sqrt(lua_State *L)
{
  return math_unary(L, RKIN_OP_SQRT, "sqrt", sqrt);
}
static int m_abs(lua_State *L)
{
  return math_unary(L, RKIN_OP_ABS, "abs", fabs);
}

/* rk.min(a, b, ...) / rk.max(a, b, ...), folded left to right. */
static int math_minmax(lua_State *L, rkin_op op, const char *name)
{
  int i, n = lua_gettop(L), ctx_at = 0;
  for (i = 1; i <= n; i++) {
    if (luaL_testudata(L, i, EXPR_MT)) {
      if (!ctx_at) ctx_at = i;
    } else if (lua_type(L, i) != LUA_TNUMBER ||
               !isfinite(lua_tonumber(L, i))) {
      return lrk_error(L, "rk.%s: argument %d must be a finite number or an "
                       "expression (got %s)", name, i, lrk_got(L, i));
    }
  }
  if (n < 1) return lrk_error(L, "rk.%s: needs at least one argument", name);
  if (!ctx_at) {
    double v = lua_tonumber(L, 1);
    for (i = 2; i <= n; i++)
      v = op == RKIN_OP_MIN ? fmin(v, lua_tonumber(L, i))
                            : fmax(v, lua_tonumber(L, i));
    lua_pushnumber(L, v);
    return 1;
  }
  lua_getiuservalue(L, ctx_at, 1);
  {
    int ci = lua_gettop(L);
    trace_ctx *c = live_ctx(L, ci);
    rkin_node r = to_node(L, 1, c, name);
    for (i = 2; i <= n; i++) {
      r = rkin_expr_binary(c->g, op, r, to_node(L, i, c, name));
      check_graph(L, c, r);
    }
    push_expr(L, ci, r);
  }
  return 1;
}

static int m_min(lua_State *L) { return math_minmax(L, RKIN_OP_MIN, "min"); }
static int m_max(lua_State *L) { return math_minmax(L, RKIN_OP_MAX, "max"); }

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

/* Proxy tables s / p: the leaves, pre-filled; a read of any other name
 * raises (upvalue 1: the trace, upvalue 2: "state" or "parameter"). */
static int proxy_index(lua_State *L)
{
  trace_ctx *c = lua_touserdata(L, lua_upvalueindex(1));
  const char *kind = lua_tostring(L, lua_upvalueindex(2));
  int is_state = kind[0] == 's';
  const char *key = luaL_tolstring(L, 2, NULL);
  const char *list = is_state
      ? push_list(L, (const char *const *)c->states, c->ns)
      : push_list(L, (const char *const *)c->params, c->np);
  return lrk_error(L, "rk.model '%s': %s reads unknown %s '%s.%s' "
                   "(%ss: %s)", c->model, c->fn, kind, is_state ? "s" : "p",
                   key, kind, list);
}

static int proxy_newindex(lua_State *L)
{
  trace_ctx *c = lua_touserdata(L, lua_upvalueindex(1));
  return lrk_error(L, "rk.model '%s': %s assigns '%s': s and p are "
                   "read-only (return derivatives in a table instead)",
                   c->model, c->fn, luaL_tolstring(L, 2, NULL));
}

static void push_proxy(lua_State *L, int ctx_idx, int is_state)
{
  trace_ctx *c = lua_touserdata(L, ctx_idx);
  size_t i, n = is_state ? c->ns : c->np;
  lua_createtable(L, 0, (int)n);
  for (i = 0; i < n; i++) {
    rkin_node leaf = is_state ? rkin_expr_state(c->g, (int)i)
                              : rkin_expr_param(c->g, (int)i);
    check_graph(L, c, leaf);
    push_expr(L, ctx_idx, leaf);
    lua_setfield(L, -2, is_state ? c->states[i] : c->params[i]);
  }
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, ctx_idx);
  lua_pushstring(L, is_state ? "state" : "parameter");
  lua_pushcclosure(L, proxy_index, 2);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, ctx_idx);
  lua_pushcclosure(L, proxy_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -2);
}

/* ------------------------------------- tracing for other bindings */

/* __index of an lrk_trace_call argument table (upvalues: the trace, the
 * argument's label, 1 when open). An open argument turns a new name into
 * a new PARAM leaf, numbered after every leaf made so far; a closed one
 * raises, listing its names. */
static int arg_index(lua_State *L)
{
  trace_ctx *c = live_ctx(L, lua_upvalueindex(1));
  const char *label = lua_tostring(L, lua_upvalueindex(2));
  int open = lua_toboolean(L, lua_upvalueindex(3));
  size_t i, n = 0, ll = strlen(label);
  const char **names;
  if (open && lua_type(L, 2) == LUA_TSTRING) {
    const char *key = lua_tostring(L, 2);
    char **t = realloc(c->params, (c->np + 1) * sizeof *t);
    rkin_node leaf;
    if (!t) return lrk_error(L, "%s: out of memory", KIND(c));
    c->params = t;
    c->params[c->np] = malloc(ll + strlen(key) + 2);
    if (!c->params[c->np]) return lrk_error(L, "%s: out of memory", KIND(c));
    sprintf(c->params[c->np], "%s.%s", label, key);
    leaf = rkin_expr_param(c->g, (int)c->np);
    c->np++;
    check_graph(L, c, leaf);
    push_expr(L, lua_upvalueindex(1), leaf);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
  }
  /* the names of this argument, from the leaves' "label.name" */
  names = scratch(L, c->np, sizeof *names);
  for (i = 0; i < c->np; i++)
    if (strncmp(c->params[i], label, ll) == 0 && c->params[i][ll] == '.')
      names[n++] = c->params[i] + ll + 1;
  return lrk_error(L, "%s '%s': %s reads unknown %s '%s.%s' (%s: %s)",
                   KIND(c), c->model, c->fn, label, label,
                   luaL_tolstring(L, 2, NULL), label,
                   push_list(L, names, n));
}

static int arg_newindex(lua_State *L)
{
  trace_ctx *c = lua_touserdata(L, lua_upvalueindex(1));
  return lrk_error(L, "%s '%s': %s assigns '%s': its arguments are "
                   "read-only (return the values in a table instead)",
                   KIND(c), c->model, c->fn, luaL_tolstring(L, 2, NULL));
}

void lrk_trace_call(lua_State *L, int fn_idx, const char *kind,
                    const char *name, const char *fn, const char *args,
                    size_t n_args, const lrk_trace_arg *arg)
{
  trace_ctx *c;
  size_t a, k;
  int ictx, res;
  fn_idx = lua_absindex(L, fn_idx);
  c = lua_newuserdatauv(L, sizeof *c, 0);
  memset(c, 0, sizeof *c);
  luaL_setmetatable(L, TRACE_MT);
  ictx = lua_gettop(L);
  c->kind = kind;
  c->args = args;
  c->fn = fn;
  c->model = lrk_strdup(L, "rk.model", name);
  for (a = 0; a < n_args; a++) c->np += arg[a].n;
  c->params = calloc(c->np ? c->np : 1, sizeof *c->params);
  if (!c->params) lrk_error(L, "%s: out of memory", kind);
  c->np = 0;
  for (a = 0; a < n_args; a++)
    for (k = 0; k < arg[a].n; k++) {
      size_t len = strlen(arg[a].label) + strlen(arg[a].names[k]) + 2;
      if (!(c->params[c->np] = malloc(len)))
        lrk_error(L, "%s: out of memory", kind);
      snprintf(c->params[c->np], len, "%s.%s", arg[a].label,
               arg[a].names[k]);
      c->np++;
    }
  c->g = rkin_graph_new();
  if (!c->g) lrk_error(L, "%s: out of memory", kind);
  lua_pushvalue(L, fn_idx);
  for (a = 0, k = 0; a < n_args; a++) {
    size_t j;
    lua_createtable(L, 0, (int)arg[a].n);
    for (j = 0; j < arg[a].n; j++, k++) {
      rkin_node leaf = rkin_expr_param(c->g, (int)k);
      check_graph(L, c, leaf);
      push_expr(L, ictx, leaf);
      lua_setfield(L, -2, arg[a].names[j]);
    }
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, ictx);
    lua_pushstring(L, arg[a].label);
    lua_pushboolean(L, arg[a].open);
    lua_pushcclosure(L, arg_index, 3);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, ictx);
    lua_pushcclosure(L, arg_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
  }
  lua_call(L, (int)n_args, 1);
  if (lua_type(L, -1) != LUA_TTABLE)
    lrk_error(L, "%s '%s': %s must return a table {NAME = expression, ...} "
              "(got %s)", kind, name, fn, lrk_got(L, -1));
  res = lua_gettop(L);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, res)) {
    const char *key, *what;
    rkin_node n;
    if (lua_type(L, -2) != LUA_TSTRING)
      lrk_error(L, "%s '%s': %s must return a table of NAME = expression "
                "(got a %s key)", kind, name, fn, luaL_typename(L, -2));
    key = lua_tostring(L, -2);
    what = lua_pushfstring(L, "'%s'", key);
    n = to_node(L, -2, c, what);
    lua_pop(L, 1);
    lua_pushvalue(L, -2);
    lua_pushinteger(L, n);
    lua_rawset(L, -5);
    lua_pop(L, 1);
  }
  lua_remove(L, res);
  /* the leaves open arguments created, in leaf order */
  lua_createtable(L, 0, 0);
  for (k = 0, a = 0; a < n_args; a++) k += arg[a].n;
  for (; k < c->np; k++) {
    const char *dot = strchr(c->params[k], '.');
    lua_pushstring(L, dot ? dot + 1 : c->params[k]);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  }
}

struct rkin_graph *lrk_trace_take(lua_State *L, int idx)
{
  trace_ctx *c = luaL_checkudata(L, idx, TRACE_MT);
  rkin_graph *g = c->g;
  c->g = NULL;
  return g;
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
  names = scratch(L, n, sizeof *names);
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
  *values = scratch(L, n, sizeof **values);
  *positive = scratch(L, n, sizeof **positive);

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
        const char *list = push_list(L, (const char *const *)c->params, n);
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
  *names = scratch(L, n, sizeof **names);
  *nodes = scratch(L, n, sizeof **nodes);
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
    (*nodes)[i] = to_node(L, -2, c, what);
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
                push_list(L, (const char *const *)c->states, c->ns));
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
    deriv[i] = to_node(L, -2, c, what);
    lua_pop(L, 2);
  }
}

/* rk.model{name=, nuclide=, states=, params=, positive=, ode=, outputs=,
 * description=, source=} -> model. */
static int model_new(lua_State *L)
{
  static const char *const keys[] = {"name", "nuclide", "states", "params",
                                     "positive", "ode", "outputs",
                                     "description", "source", NULL};
  const char *name, *ctx;
  trace_ctx *c;
  lmodel *lm;
  double *values;
  unsigned char *positive;
  const rkin_nuclide *nuc;
  int ictx, imodel, ifn_ode, ifn_out, is, ip, it;
  rkin_node *deriv;
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
  push_proxy(L, ictx, 1);
  is = lua_gettop(L);
  push_proxy(L, ictx, 0);
  ip = lua_gettop(L);
  {
    rkin_node tn = rkin_expr_time(c->g);
    check_graph(L, c, tn);
    push_expr(L, ictx, tn);
    it = lua_gettop(L);
  }

  if (ifn_out) {
    call_traced(L, ifn_out, is, ip, it, c, ctx, "outputs");
    n_out = read_outputs(L, lua_gettop(L), c, ctx, &out_names, &out_nodes);
  }
  deriv = scratch(L, c->ns, sizeof *deriv);
  call_traced(L, ifn_ode, is, ip, it, c, ctx, "ode");
  read_derivs(L, lua_gettop(L), c, ctx, deriv);

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

static void push_param_map(lua_State *L, const rkin_model *m, const double *p)
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

static int model_simulate(lua_State *L);

static int model_index(lua_State *L)
{
  lmodel *lm = check_lmodel(L, 1);
  const rkin_model *m = lm->m;
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "simulate") == 0) {
    lua_pushcfunction(L, model_simulate);
  } else if (strcmp(k, "is_linear") == 0) {
    lua_pushcfunction(L, model_is_linear);
  } else if (strcmp(k, "name") == 0) {
    lua_pushstring(L, rkin_model_name(m));
  } else if (strcmp(k, "states") == 0) {
    push_state_names(L, m);
  } else if (strcmp(k, "outputs") == 0) {
    push_output_names(L, m);
  } else if (strcmp(k, "params") == 0) {
    push_param_map(L, m, rkin_model_defaults(m));
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
                     "is_linear, name, states, outputs, params, "
                     "param_names, nuclide, lambda, description, source)",
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

rkin_dosing *lrk_check_doses(lua_State *L, int model_idx, int t,
                             const char *ctx)
{
  static const char *const keys[] = {"time", "amount", "rate", "to", "ii",
                                     "addl", NULL};
  const rkin_model *m = lrk_check_model(L, model_idx);
  size_t k, n;
  box *b;
  rkin_dosing *d;
  t = lua_absindex(L, t);
  if (lua_type(L, t) != LUA_TTABLE)
    lrk_error(L, "%s: field 'doses' must be an array of dose tables "
              "{time=, amount=, to=} (got %s)", ctx, lrk_got(L, t));
  n = (size_t)lua_rawlen(L, t);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 ||
        (size_t)lua_tointeger(L, -2) > n)
      lrk_error(L, "%s: field 'doses' must be an array of dose tables: "
                "write doses = { {time=, amount=, to=}, ... } (found key "
                "'%s')", ctx, luaL_tolstring(L, -2, NULL));
    lua_pop(L, 1);
  }
  b = push_box(L, free_dosing);
  d = rkin_dosing_new();
  if (!d) lrk_error(L, "%s: out of memory", ctx);
  b->p = d;
  for (k = 1; k <= n; k++) {
    rkin_dose dose;
    rkin_err err;
    const char *dctx, *to;
    int di;
    rkin_err_clear(&err);
    lua_rawgeti(L, t, (lua_Integer)k);
    di = lua_gettop(L);
    if (lua_type(L, di) != LUA_TTABLE)
      lrk_error(L, "%s: doses[%d] must be a table {time=, amount=, to=} "
                "(got %s)", ctx, (int)k, lrk_got(L, di));
    dctx = lua_pushfstring(L, "%s: doses[%d]", ctx, (int)k);
    lrk_check_keys(L, di, dctx, keys);
    memset(&dose, 0, sizeof dose);
    dose.time = lrk_field_number(L, di, dctx, "time", 1, 0);
    dose.amount = lrk_field_number(L, di, dctx, "amount", 1, 0);
    dose.rate = lrk_field_number(L, di, dctx, "rate", 0, 0);
    dose.ii = lrk_field_number(L, di, dctx, "ii", 0, 0);
    dose.addl = (int)lrk_field_integer(L, di, dctx, "addl", 0, 0);
    to = lrk_field_string(L, di, dctx, "to", 1, NULL);
    dose.cmt = rkin_model_state_index(m, to, &err);
    if (dose.cmt < 0) lrk_error(L, "%s: field 'to': %s", dctx, err.msg);
    if (rkin_dosing_add(d, &dose, &err) != 0) lrk_raise(L, dctx, &err);
    lua_pop(L, 2);
  }
  return d;
}

/* ------------------------------------------------------------ simulate */

static const char *const result_fields[] = {
  "model", "path", "steps", "t0", "t1", "time", "columns", "states",
  "outputs", "tia", "tia_inf", "tia_inf_error", "y_end", "params",
  "write_csv", NULL
};

static int is_reserved(const char *name)
{
  size_t i;
  for (i = 0; result_fields[i]; i++)
    if (strcmp(name, result_fields[i]) == 0) return 1;
  return 0;
}

/* __index of the name maps in a result (r.states, r.tia, ...): an unknown
 * name raises, listing the known ones. Upvalue 1: the map's name. */
static int strict_map_index(lua_State *L)
{
  size_t n = 0, i = 0;
  const char **names;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    n++;
    lua_pop(L, 1);
  }
  names = scratch(L, n, sizeof *names);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    if (lua_type(L, -2) == LUA_TSTRING) names[i++] = lua_tostring(L, -2);
    lua_pop(L, 1);
  }
  qsort(names, i, sizeof *names, lrk_cmp_str);
  return lrk_error(L, "%s has no entry '%s' (known: %s)",
                   lua_tostring(L, lua_upvalueindex(1)),
                   luaL_tolstring(L, 2, NULL), push_list(L, names, i));
}

static void set_strict(lua_State *L, const char *what)
{
  lua_createtable(L, 0, 1);
  lua_pushstring(L, what);
  lua_pushcclosure(L, strict_map_index, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
}

/* Pushes "P, I, K" (the states) or the outputs of m. */
static const char *push_model_names(lua_State *L, const rkin_model *m,
                                    int outputs)
{
  luaL_Buffer b;
  size_t i, n = outputs ? rkin_model_noutputs(m) : rkin_model_nstates(m);
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, outputs ? rkin_model_output_name(m, i)
                               : rkin_model_state_name(m, i));
  }
  if (n == 0) luaL_addstring(&b, "none");
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* Reads the simulate options' `tia` list into indices (state i, or
 * n_states + output k). */
static int *read_tia(lua_State *L, const rkin_model *m, const char *ctx,
                     size_t *n_tia)
{
  size_t k, n, ns = rkin_model_nstates(m);
  int *idx;
  int t = lua_getfield(L, 2, "tia");
  *n_tia = 0;
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return scratch(L, 0, sizeof *idx);
  }
  if (t == LUA_TSTRING) {
    /* a single name: tia = "K" */
    lua_createtable(L, 1, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
  } else if (t != LUA_TTABLE) {
    lrk_error(L, "%s: field 'tia' must be a list of state or output names "
              "(got %s)", ctx, lrk_got(L, -1));
  }
  n = (size_t)lua_rawlen(L, -1);
  idx = scratch(L, n, sizeof *idx);
  for (k = 0; k < n; k++) {
    const char *nm;
    int i;
    lua_rawgeti(L, -2, (lua_Integer)k + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      lrk_error(L, "%s: tia[%d] must be a state or output name (got %s)",
                ctx, (int)k + 1, lrk_got(L, -1));
    nm = lua_tostring(L, -1);
    i = rkin_model_state_index(m, nm, NULL);
    if (i < 0) {
      i = rkin_model_output_index(m, nm, NULL);
      if (i >= 0) i += (int)ns;
    }
    if (i < 0) {
      const char *sl = push_model_names(L, m, 0);
      const char *ol = push_model_names(L, m, 1);
      lrk_error(L, "%s: tia[%d]: unknown state or output '%s' (states: %s; "
                "outputs: %s)", ctx, (int)k + 1, nm, sl, ol);
    }
    idx[k] = i;
    lua_pop(L, 1);
  }
  lua_remove(L, -2);   /* keep the index array, drop the list */
  *n_tia = n;
  return idx;
}

static const char *tia_name(const rkin_model *m, int i)
{
  size_t ns = rkin_model_nstates(m);
  return (size_t)i < ns ? rkin_model_state_name(m, (size_t)i)
                        : rkin_model_output_name(m, (size_t)i - ns);
}

/* y0 = {P = 7400, ...}: initial values by state name (others 0). */
static double *read_y0(lua_State *L, const rkin_model *m, const char *ctx)
{
  size_t ns = rkin_model_nstates(m);
  double *y0;
  int t = lua_getfield(L, 2, "y0");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushnil(L);  /* keep one slot either way */
    return NULL;
  }
  if (t != LUA_TTABLE)
    lrk_error(L, "%s: field 'y0' must be a table state = value (got %s)",
              ctx, lrk_got(L, -1));
  y0 = scratch(L, ns, sizeof *y0);
  lua_pushnil(L);
  while (lua_next(L, -3)) {
    rkin_err err;
    int i;
    const char *key;
    rkin_err_clear(&err);
    if (lua_type(L, -2) != LUA_TSTRING)
      lrk_error(L, "%s: y0: keys must be state names (got a %s key)", ctx,
                luaL_typename(L, -2));
    key = lua_tostring(L, -2);
    i = rkin_model_state_index(m, key, &err);
    if (i < 0) lrk_error(L, "%s: y0: %s", ctx, err.msg);
    if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1)))
      lrk_error(L, "%s: y0.%s must be a finite number (got %s)", ctx, key,
                lrk_got(L, -1));
    y0[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_remove(L, -2);
  return y0;
}

static rkin_path read_path(lua_State *L, const char *ctx)
{
  const char *p = lrk_field_string(L, 2, ctx, "path", 0, "auto");
  if (strcmp(p, "auto") == 0) return RKIN_PATH_AUTO;
  if (strcmp(p, "cvodes") == 0) return RKIN_PATH_CVODES;
  if (strcmp(p, "exact") == 0) return RKIN_PATH_EXACT;
  lrk_error(L, "%s: field 'path' must be \"auto\", \"cvodes\" or \"exact\" "
            "(got \"%s\")", ctx, p);
  return RKIN_PATH_AUTO;
}

/* m:simulate{doses=, times=, tia=, params=, y0=, t0=, t1=, rtol=, atol=,
 * max_steps=, path=} -> result table. */
static int model_simulate(lua_State *L)
{
  static const char *const keys[] = {"doses", "times", "tia", "params",
                                     "y0", "t0", "t1", "rtol", "atol",
                                     "max_steps", "path", NULL};
  lmodel *lm = check_lmodel(L, 1);
  const rkin_model *m = lm->m;
  size_t ns = rkin_model_nstates(m), no = rkin_model_noutputs(m);
  size_t np = rkin_model_nparams(m), nt = 0, n_tia, i, k;
  const char *ctx;
  double *p, *times = NULL, *y0, *ybuf, *obuf, *tia, *tia_inf, *y_end;
  double t0, t1;
  int *tia_idx, have_inf = 0, r;
  rkin_dosing *dosing = NULL;
  rkin_solve_opts o;
  rkin_solve_req req;
  rkin_solve_res res;
  rkin_solver *s;
  box *sb;
  rkin_err err, inf_err;

  lua_settop(L, 2);
  ctx = lua_pushfstring(L, "%s:simulate", rkin_model_name(m));   /* 3 */
  if (lua_type(L, 2) != LUA_TTABLE)
    return lrk_error(L, "%s: expected a table {doses=, times=, tia=} (got "
                     "%s); call it as m:simulate{...}", ctx, lrk_got(L, 2));
  lrk_check_keys(L, 2, ctx, keys);

  p = scratch(L, np, sizeof *p);                                  /* 4 */
  lua_getfield(L, 2, "params");
  lrk_model_params(L, 1, -1, ctx, p);
  lua_pop(L, 1);

  if (lua_getfield(L, 2, "doses") != LUA_TNIL) {                  /* 5 */
    dosing = lrk_check_doses(L, 1, 5, ctx);                       /* 6 */
  } else {
    lua_pushnil(L);
  }

  if (lua_getfield(L, 2, "times") != LUA_TNIL) {                  /* 7 */
    times = lrk_numbers(L, 7, ctx, "field 'times'", &nt);         /* 8 */
    for (k = 1; k < nt; k++)
      if (times[k] < times[k - 1])
        return lrk_error(L, "%s: field 'times' must be sorted "
                         "(non-decreasing): times[%d] = %f comes after "
                         "times[%d] = %f", ctx, (int)k + 1, times[k],
                         (int)k, times[k - 1]);
  } else {
    lua_pushnil(L);
  }
  t0 = lrk_field_number(L, 2, ctx, "t0", 0,
                        nt && times[0] < 0 ? times[0] : 0.0);
  if (nt == 0) {
    lua_getfield(L, 2, "t1");
    if (lua_isnil(L, -1))
      return lrk_error(L, "%s: give output 'times' or an end time 't1'",
                       ctx);
    lua_pop(L, 1);
  }
  t1 = lrk_field_number(L, 2, ctx, "t1", 0, nt ? times[nt - 1] : t0);
  if (t1 <= t0)
    return lrk_error(L, "%s: the end time t1 = %f must be after t0 = %f",
                     ctx, t1, t0);
  if (nt && (times[0] < t0 || times[nt - 1] > t1))
    return lrk_error(L, "%s: output times must lie in [t0, t1] = [%f, %f] "
                     "(got %f .. %f)", ctx, t0, t1, times[0],
                     times[nt - 1]);
  if (dosing && rkin_dosing_nrecords(dosing) > 0 &&
      rkin_dosing_record(dosing, 0)->time < t0)
    return lrk_error(L, "%s: doses[1] at time %f is before t0 = %f (it "
                     "would be ignored)", ctx,
                     rkin_dosing_record(dosing, 0)->time, t0);

  tia_idx = read_tia(L, m, ctx, &n_tia);                          /* 9 */
  y0 = read_y0(L, m, ctx);                                        /* 10 */

  rkin_solve_opts_default(&o);
  o.rtol = lrk_field_number_in(L, 2, ctx, "rtol", 0, o.rtol, 0, 1,
                               LRK_LO_OPEN | LRK_HI_OPEN);
  o.atol = lrk_field_number(L, 2, ctx, "atol", 0, o.atol);
  if (o.atol <= 0)
    return lrk_error(L, "%s: field 'atol' must be > 0 (got %f)", ctx,
                     o.atol);
  o.max_steps = lrk_field_integer(L, 2, ctx, "max_steps", 0, o.max_steps);
  if (o.max_steps <= 0)
    return lrk_error(L, "%s: field 'max_steps' must be > 0", ctx);
  o.path = read_path(L, ctx);

  ybuf = nt ? scratch(L, nt * ns, sizeof *ybuf) : NULL;
  obuf = nt && no ? scratch(L, nt * no, sizeof *obuf) : NULL;
  tia = scratch(L, n_tia, sizeof *tia);
  tia_inf = scratch(L, n_tia, sizeof *tia_inf);
  y_end = scratch(L, ns, sizeof *y_end);

  rkin_err_clear(&err);
  sb = push_box(L, free_solver);
  s = rkin_solver_new(m, &o, &err);
  if (!s) return lrk_raise(L, ctx, &err);
  sb->p = s;

  memset(&req, 0, sizeof req);
  req.t0 = t0;
  req.t1 = t1;
  req.y0 = y0;
  req.params = p;
  req.dosing = dosing;
  req.times = times;
  req.n_times = nt;
  req.tia = tia_idx;
  req.n_tia = n_tia;
  memset(&res, 0, sizeof res);
  res.y = ybuf;
  res.out = obuf;
  res.tia = tia;
  res.y_end = y_end;
  r = rkin_solver_run(s, &req, &res, &err);
  if (r != 0) return lrk_raise(L, ctx, &err);

  /* TIA to infinity: only meaningful when nothing is dosed at or after
   * t1 (an infusion still running at t1 has its end event after t1). */
  rkin_err_clear(&inf_err);
  if (rkin_solver_path(s) == RKIN_PATH_EXACT && n_tia > 0) {
    int late = 0;
    if (dosing) {
      const rkin_event *ev = rkin_dosing_events(dosing);
      size_t ne = rkin_dosing_nevents(dosing);
      for (k = 0; k < ne; k++) late |= ev[k].time >= t1;
    }
    if (late) {
      rkin_err_set(&inf_err, RKIN_EINVAL, "tia_inf needs every dose "
                   "(and infusion end) before t1 = %g", t1);
    } else if (rkin_solver_tia_inf(s, p, y_end, tia_idx, n_tia, tia_inf,
                                   &inf_err) == 0) {
      have_inf = 1;
    }
  } else if (n_tia > 0) {
    rkin_err_set(&inf_err, RKIN_EINVAL, "tia_inf is computed on the exact "
                 "path only (this run used %s)",
                 rkin_solver_path(s) == RKIN_PATH_CVODES ? "cvodes" : "?");
  }

  /* ---- result table */
  lua_createtable(L, 0, 16);
  {
    int rt = lua_gettop(L);
    lua_pushstring(L, rkin_model_name(m));
    lua_setfield(L, rt, "model");
    lua_pushstring(L, rkin_solver_path(s) == RKIN_PATH_EXACT ? "exact"
                                                              : "cvodes");
    lua_setfield(L, rt, "path");
    lua_pushinteger(L, res.n_steps);
    lua_setfield(L, rt, "steps");
    lua_pushnumber(L, t0);
    lua_setfield(L, rt, "t0");
    lua_pushnumber(L, t1);
    lua_setfield(L, rt, "t1");
    lrk_push_numbers(L, times, nt);
    lua_setfield(L, rt, "time");
    push_param_map(L, m, p);
    lua_setfield(L, rt, "params");

    lua_createtable(L, (int)(ns + no), 0);        /* columns */
    lua_createtable(L, 0, (int)ns);               /* states */
    lua_createtable(L, 0, (int)no);               /* outputs */
    for (i = 0; i < ns + no; i++) {
      int is_out = i >= ns;
      const char *nm = is_out ? rkin_model_output_name(m, i - ns)
                              : rkin_model_state_name(m, i);
      size_t stride = is_out ? no : ns, col = is_out ? i - ns : i;
      const double *buf = is_out ? obuf : ybuf;
      lua_createtable(L, (int)nt, 0);
      for (k = 0; k < nt; k++) {
        lua_pushnumber(L, buf[k * stride + col]);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
      }
      if (!is_reserved(nm)) {
        lua_pushvalue(L, -1);
        lua_setfield(L, rt, nm);
      }
      lua_setfield(L, is_out ? -2 : -3, nm);
      lua_pushstring(L, nm);
      lua_rawseti(L, -4, (lua_Integer)i + 1);
    }
    set_strict(L, "r.outputs");
    lua_setfield(L, rt, "outputs");
    set_strict(L, "r.states");
    lua_setfield(L, rt, "states");
    lua_setfield(L, rt, "columns");

    lua_createtable(L, 0, (int)n_tia);
    for (k = 0; k < n_tia; k++) {
      lua_pushnumber(L, tia[k]);
      lua_setfield(L, -2, tia_name(m, tia_idx[k]));
    }
    set_strict(L, "r.tia");
    lua_setfield(L, rt, "tia");
    if (have_inf) {
      lua_createtable(L, 0, (int)n_tia);
      for (k = 0; k < n_tia; k++) {
        lua_pushnumber(L, tia[k] + tia_inf[k]);
        lua_setfield(L, -2, tia_name(m, tia_idx[k]));
      }
      set_strict(L, "r.tia_inf");
      lua_setfield(L, rt, "tia_inf");
    } else if (n_tia > 0) {
      lua_pushstring(L, inf_err.msg);
      lua_setfield(L, rt, "tia_inf_error");
    }
    lua_createtable(L, 0, (int)ns);
    for (i = 0; i < ns; i++) {
      lua_pushnumber(L, y_end[i]);
      lua_setfield(L, -2, rkin_model_state_name(m, i));
    }
    set_strict(L, "r.y_end");
    lua_setfield(L, rt, "y_end");
    luaL_setmetatable(L, RESULT_MT);
  }
  return 1;
}

/* ------------------------------------------------------------- results */

/* Shortest "%.{15,17}g" text that reads back as the same double. */
static void format_number(char *buf, size_t n, double v)
{
  snprintf(buf, n, "%.15g", v);
  if (strtod(buf, NULL) != v) snprintf(buf, n, "%.17g", v);
}

static void add_csv_name(luaL_Buffer *b, const char *s)
{
  if (strpbrk(s, ",\"\r\n")) {
    luaL_addchar(b, '"');
    for (; *s; s++) {
      if (*s == '"') luaL_addchar(b, '"');
      luaL_addchar(b, *s);
    }
    luaL_addchar(b, '"');
  } else {
    luaL_addstring(b, s);
  }
}

/* r:write_csv(path): columns time_h, the states, then the outputs, one row
 * per output time; written atomically. */
static int result_write_csv(lua_State *L)
{
  const char *path;
  int cols, time, arrays;
  size_t nc, nt, j, k;
  luaL_Buffer b;
  rkin_err err;
  char num[64];

  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_type(L, 2) != LUA_TSTRING)
    return lrk_error(L, "r:write_csv: expected a file name (got %s); call "
                     "it as r:write_csv(path)", lrk_got(L, 2));
  path = lua_tostring(L, 2);
  lua_settop(L, 2);
  if (lua_getfield(L, 1, "columns") != LUA_TTABLE ||
      lua_getfield(L, 1, "time") != LUA_TTABLE)
    return lrk_error(L, "r:write_csv: not a simulate result");
  cols = 3;
  time = 4;
  nc = (size_t)lua_rawlen(L, cols);
  nt = (size_t)lua_rawlen(L, time);
  /* the column arrays, in column order */
  lua_createtable(L, (int)nc, 0);
  arrays = lua_gettop(L);
  lua_getfield(L, 1, "states");
  lua_getfield(L, 1, "outputs");
  for (j = 1; j <= nc; j++) {
    lua_rawgeti(L, cols, (lua_Integer)j);
    if (lua_rawget(L, arrays + 1) == LUA_TNIL) {
      lua_pop(L, 1);
      lua_rawgeti(L, cols, (lua_Integer)j);
      lua_rawget(L, arrays + 2);
    }
    if (lua_type(L, -1) != LUA_TTABLE)
      return lrk_error(L, "r:write_csv: column %d is missing", (int)j);
    lua_rawseti(L, arrays, (lua_Integer)j);
  }
  lua_settop(L, arrays);

  luaL_buffinit(L, &b);
  luaL_addstring(&b, "time_h");
  for (j = 1; j <= nc; j++) {
    const char *name;
    luaL_addchar(&b, ',');
    /* balanced stack use between buffer calls; the name stays alive in
     * the columns table after the pop */
    lua_rawgeti(L, cols, (lua_Integer)j);
    name = lua_tostring(L, -1);
    lua_pop(L, 1);
    add_csv_name(&b, name ? name : "?");
  }
  luaL_addchar(&b, '\n');
  for (k = 1; k <= nt; k++) {
    lua_rawgeti(L, time, (lua_Integer)k);
    format_number(num, sizeof num, lua_tonumber(L, -1));
    lua_pop(L, 1);
    luaL_addstring(&b, num);
    for (j = 1; j <= nc; j++) {
      lua_rawgeti(L, arrays, (lua_Integer)j);
      lua_rawgeti(L, -1, (lua_Integer)k);
      format_number(num, sizeof num, lua_tonumber(L, -1));
      lua_pop(L, 2);
      luaL_addchar(&b, ',');
      luaL_addstring(&b, num);
    }
    luaL_addchar(&b, '\n');
  }
  luaL_pushresult(&b);
  {
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    rkin_err_clear(&err);
    if (lrk_write_atomic(path, text, len, &err) != 0)
      return lrk_raise(L, "r:write_csv", &err);
  }
  lua_pushvalue(L, 1);
  return 1;
}

static int result_index(lua_State *L)
{
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "write_csv") == 0) {
    lua_pushcfunction(L, result_write_csv);
    return 1;
  }
  if (k && (strcmp(k, "tia_inf") == 0 || strcmp(k, "tia_inf_error") == 0)) {
    lua_pushnil(L);
    return 1;
  }
  return lrk_error(L, "simulate result has no field '%s' (fields: time, "
                   "states, outputs, tia, tia_inf, y_end, params, path, "
                   "steps, t0, t1, columns, model, write_csv, and each "
                   "state/output by name)", luaL_tolstring(L, 2, NULL));
}

/* ---------------------------------------------------------------- open */

static const luaL_Reg model_funcs[] = {
  {"new", model_new},
  {"exp", m_exp},
  {"log", m_log},
  {"sqrt", m_sqrt},
  {"abs", m_abs},
  {"min", m_min},
  {"max", m_max},
  {"positive", m_positive},
  {NULL, NULL}
};

int luaopen_radiokin_model(lua_State *L)
{
  if (luaL_newmetatable(L, BOX_MT)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, TRACE_MT)) {
    lua_pushcfunction(L, trace_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, EXPR_MT)) luaL_setfuncs(L, expr_meta, 0);
  lua_pop(L, 1);
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
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, RESULT_MT)) {
    lua_pushcfunction(L, result_index);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, model_funcs);
  return 1;
}
