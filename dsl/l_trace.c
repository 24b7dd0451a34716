/* l_trace.c - symbolic expressions for "radiokin.model": a Lua function
 * (rk.model's `ode` and `outputs`, or a caller of lrk_trace_call) runs ONCE
 * with symbolic arguments, and every + - * / ^, unary - and rk.exp/log/
 * sqrt/abs/min/max/lt/le/gt/ge/all/any/negate/ifelse it applies adds a
 * node to an expression graph.
 *
 * Userdata: an expression (node + its trace, kept alive as user value) and
 * a trace (the graph while it is being built). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "core/expr.h"
#include "l_model_impl.h"
#include "lrk.h"

/* ------------------------------------------------------------- tracing */

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
  free(c->made);
  free(c->used);
  c->made = c->used = NULL;
  c->n_made = c->n_used = c->cap_made = c->cap_used = 0;
  return 0;
}

void lrk_trace_check(lua_State *L, trace_ctx *c, rkin_node n)
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

void lrk_trace_push_expr(lua_State *L, int ctx_idx, rkin_node n)
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
rkin_node lrk_trace_node(lua_State *L, int idx, trace_ctx *c,
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
    lrk_trace_check(L, c, n);
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
  rkin_node a = lrk_trace_node(L, 1, c, what);
  rkin_node b = lrk_trace_node(L, 2, c, what);
  rkin_node r = rkin_expr_binary(c->g, op, a, b);
  lrk_trace_check(L, c, r);
  lrk_trace_push_expr(L, 3, r);
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
  rkin_node a = lrk_trace_node(L, 1, c, "unary -");
  rkin_node r = rkin_expr_unary(c->g, RKIN_OP_NEG, a);
  lrk_trace_check(L, c, r);
  lrk_trace_push_expr(L, 3, r);
  return 1;
}

/* Lua's < <= == cannot be traced: Lua turns what __lt/__le/__eq return
 * into true or false, so `if x > y` would pick one branch for ever (the
 * function runs once). Conditions are made by rk.lt/le/gt/ge instead. */
static int expr_compare(lua_State *L)
{
  trace_ctx *c = operand_ctx(L);
  return lrk_error(L, "%s '%s': %s: expressions cannot be compared with "
                   "< <= > >= == or tested by `if` (the function is traced "
                   "once with symbolic values); write the condition as "
                   "rk.ifelse(rk.gt(x, y), a, b) (also rk.lt, rk.le, "
                   "rk.ge, rk.all, rk.any, rk.piecewise)",
                   KIND(c), c->model, c->fn);
}

static int expr_unsupported(lua_State *L)
{
  trace_ctx *c = operand_ctx(L);
  return lrk_error(L, "%s '%s': %s: this operation is not defined "
                   "for expressions (only + - * / ^, unary -, rk.exp, "
                   "rk.log, rk.sqrt, rk.abs, rk.min, rk.max, and "
                   "rk.ifelse with rk.lt/le/gt/ge/all/any/negate)", KIND(c),
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
    rkin_node r = rkin_expr_unary(c->g, op, lrk_trace_node(L, 1, c, name));
    lrk_trace_check(L, c, r);
    lrk_trace_push_expr(L, 2, r);
  }
  return 1;
}

static int m_exp(lua_State *L)
{
  return math_unary(L, RKIN_OP_EXP, "exp", exp);
}
static int m_log(lua_State *L)
{
  return math_unary(L, RKIN_OP_LOG, "log", log);
}
static int m_sqrt(lua_State *L)
{
  return math_unary(L, RKIN_OP_SQRT, "sqrt", sqrt);
}
static int m_abs(lua_State *L)
{
  return math_unary(L, RKIN_OP_ABS, "abs", fabs);
}

/* The MathML functions of SBML models (rk.sbml.to_lua writes them). */
static double fact(double x) { return tgamma(x + 1.0); }
static int m_sin(lua_State *L) { return math_unary(L, RKIN_OP_SIN, "sin", sin); }
static int m_cos(lua_State *L) { return math_unary(L, RKIN_OP_COS, "cos", cos); }
static int m_tan(lua_State *L) { return math_unary(L, RKIN_OP_TAN, "tan", tan); }
static int m_asin(lua_State *L) { return math_unary(L, RKIN_OP_ASIN, "asin", asin); }
static int m_acos(lua_State *L) { return math_unary(L, RKIN_OP_ACOS, "acos", acos); }
static int m_atan(lua_State *L) { return math_unary(L, RKIN_OP_ATAN, "atan", atan); }
static int m_floor(lua_State *L) { return math_unary(L, RKIN_OP_FLOOR, "floor", floor); }
static int m_ceil(lua_State *L) { return math_unary(L, RKIN_OP_CEIL, "ceil", ceil); }
static int m_factorial(lua_State *L)
{
  return math_unary(L, RKIN_OP_FACT, "factorial", fact);
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
    rkin_node r = lrk_trace_node(L, 1, c, name);
    for (i = 2; i <= n; i++) {
      r = rkin_expr_binary(c->g, op, r, lrk_trace_node(L, i, c, name));
      lrk_trace_check(L, c, r);
    }
    lrk_trace_push_expr(L, ci, r);
  }
  return 1;
}

static int m_min(lua_State *L) { return math_minmax(L, RKIN_OP_MIN, "min"); }
static int m_max(lua_State *L) { return math_minmax(L, RKIN_OP_MAX, "max"); }

/* ---------------------------------------------------------- conditions */

static void note_cond(lua_State *L, trace_ctx *c, rkin_node n, int used)
{
  rkin_node **v = used ? &c->used : &c->made;
  size_t *len = used ? &c->n_used : &c->n_made;
  size_t *cap = used ? &c->cap_used : &c->cap_made;
  if (*len == *cap) {
    size_t nc = *cap ? 2 * *cap : 16;
    rkin_node *t = realloc(*v, nc * sizeof *t);
    if (!t) lrk_error(L, "%s: out of memory", KIND(c));
    *v = t;
    *cap = nc;
  }
  (*v)[(*len)++] = n;
}

static int cmp_node(const void *a, const void *b)
{
  rkin_node x = *(const rkin_node *)a, y = *(const rkin_node *)b;
  return (x > y) - (x < y);
}

void lrk_trace_check_conditions(lua_State *L, trace_ctx *c)
{
  size_t k;
  if (!c->n_made) return;
  if (c->n_used) qsort(c->used, c->n_used, sizeof *c->used, cmp_node);
  for (k = 0; k < c->n_made; k++)
    if (!c->n_used || !bsearch(&c->made[k], c->used, c->n_used,
                               sizeof *c->used, cmp_node)) {
      char buf[256];
      rkin_expr_format(c->g, c->made[k], (const char *const *)c->states,
                       (const char *const *)c->params, buf, sizeof buf);
      lrk_error(L, "%s '%s': %s: the condition %s was made but not used "
                "by rk.ifelse (nor rk.all/rk.any/rk.negate): a Lua `if` on "
                "a condition is always true; write rk.ifelse(cond, a, b)",
                KIND(c), c->model, c->fn, buf);
    }
}

/* The trace of the first expression among arguments 1..n, pushed; NULL
 * (nothing pushed) when all are plain Lua values. */
static trace_ctx *args_ctx(lua_State *L, int n)
{
  int i;
  for (i = 1; i <= n; i++)
    if (luaL_testudata(L, i, EXPR_MT)) {
      lua_getiuservalue(L, i, 1);
      return live_ctx(L, lua_gettop(L));
    }
  return NULL;
}

static int is_cond_expr(lua_State *L, int idx, trace_ctx *c)
{
  lexpr *e = luaL_testudata(L, idx, EXPR_MT);
  return e && rkin_expr_is_bool(c->g, e->n);
}

/* rk.lt(a, b) etc.: a Lua boolean for two numbers, else a condition. */
static int compare(lua_State *L, rkin_op op, const char *name)
{
  int i;
  trace_ctx *c;
  rkin_node r;
  lua_settop(L, 2);
  for (i = 1; i <= 2; i++)
    if (!luaL_testudata(L, i, EXPR_MT)
        && !(lua_type(L, i) == LUA_TNUMBER && isfinite(lua_tonumber(L, i))))
      return lrk_error(L, "rk.%s: argument %d must be a finite number or an "
                       "expression (got %s)", name, i, lrk_got(L, i));
  if (!(c = args_ctx(L, 2))) {
    double a = lua_tonumber(L, 1), b = lua_tonumber(L, 2);
    lua_pushboolean(L, op == RKIN_OP_LT ? a < b : op == RKIN_OP_LE ? a <= b
                       : op == RKIN_OP_GT ? a > b : a >= b);
    return 1;
  }
  for (i = 1; i <= 2; i++)
    if (is_cond_expr(L, i, c))
      return lrk_error(L, "%s '%s': %s: rk.%s: argument %d is a condition, "
                       "not a number (combine conditions with rk.all or "
                       "rk.any)", KIND(c), c->model, c->fn, name, i);
  r = rkin_expr_binary(c->g, op, lrk_trace_node(L, 1, c, name),
                       lrk_trace_node(L, 2, c, name));
  lrk_trace_check(L, c, r);
  note_cond(L, c, r, 0);
  lrk_trace_push_expr(L, 3, r);
  return 1;
}

static int m_lt(lua_State *L) { return compare(L, RKIN_OP_LT, "lt"); }
static int m_le(lua_State *L) { return compare(L, RKIN_OP_LE, "le"); }
static int m_gt(lua_State *L) { return compare(L, RKIN_OP_GT, "gt"); }
static int m_ge(lua_State *L) { return compare(L, RKIN_OP_GE, "ge"); }

/* Argument i as a condition of trace c (which may be NULL: no expression
 * among the arguments): -1 for true, -2 for false, else its node (noted as
 * used). */
static rkin_node cond_arg(lua_State *L, int i, trace_ctx *c,
                          const char *name)
{
  lexpr *e;
  if (lua_type(L, i) == LUA_TBOOLEAN) return lua_toboolean(L, i) ? -1 : -2;
  e = luaL_testudata(L, i, EXPR_MT);
  if (e && c) {
    rkin_node n = lrk_trace_node(L, i, c, name);
    if (!rkin_expr_is_bool(c->g, n)) {
      char buf[200];
      rkin_expr_format(c->g, n, (const char *const *)c->states,
                       (const char *const *)c->params, buf, sizeof buf);
      lrk_error(L, "%s '%s': %s: %s: argument %d (%s) is a number, not a "
                "condition; expected a comparison such as rk.gt(x, y), "
                "rk.all/rk.any of comparisons, or true/false", KIND(c),
                c->model, c->fn, name, i, buf);
    }
    note_cond(L, c, n, 1);
    return n;
  }
  return lrk_error(L, "%s: argument %d must be a condition (rk.lt, rk.le, "
                   "rk.gt, rk.ge, rk.all, rk.any, rk.negate) or a boolean "
                   "(got %s)", name, i, lrk_got(L, i));
}

rkin_node lrk_trace_condition(lua_State *L, int idx, trace_ctx *c,
                              const char *what)
{
  rkin_node n;
  if (lua_type(L, idx) == LUA_TBOOLEAN) {
    /* a constant condition: 0 < 1 or 1 < 0 */
    int v = lua_toboolean(L, idx);
    n = rkin_expr_binary(c->g, RKIN_OP_LT, rkin_expr_const(c->g, v ? 0 : 1),
                         rkin_expr_const(c->g, v ? 1 : 0));
    lrk_trace_check(L, c, n);
    return n;
  }
  if (!luaL_testudata(L, idx, EXPR_MT))
    lrk_error(L, "%s '%s': %s: %s must be a condition (rk.lt, rk.le, "
              "rk.gt, rk.ge, rk.all, rk.any, rk.negate) or a boolean (got "
              "%s)", KIND(c), c->model, c->fn, what, lrk_got(L, idx));
  n = lrk_trace_node(L, idx, c, what);
  if (!rkin_expr_is_bool(c->g, n)) {
    char buf[200];
    rkin_expr_format(c->g, n, (const char *const *)c->states,
                     (const char *const *)c->params, buf, sizeof buf);
    lrk_error(L, "%s '%s': %s: %s (%s) is a number, not a condition; "
              "expected a comparison such as rk.gt(x, y), rk.all/rk.any of "
              "comparisons, or true/false", KIND(c), c->model, c->fn, what,
              buf);
  }
  note_cond(L, c, n, 1);
  return n;
}

/* rk.all(c1, c2, ...) / rk.any(...): booleans fold, conditions combine. */
static int logic(lua_State *L, rkin_op op, const char *name)
{
  int i, n = lua_gettop(L), ci;
  trace_ctx *c = args_ctx(L, n);
  rkin_node r = -3;
  int all = op == RKIN_OP_AND;
  if (n < 1) return lrk_error(L, "rk.%s: needs at least one condition", name);
  ci = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    rkin_node x = cond_arg(L, i, c, all ? "rk.all" : "rk.any");
    if (x == -1 || x == -2) {
      if ((x == -1) != all) {   /* false in all, true in any: decided */
        lua_pushboolean(L, !all);
        return 1;
      }
      continue;
    }
    r = r == -3 ? x : rkin_expr_binary(c->g, op, r, x);
    if (r < 0) lrk_trace_check(L, c, r);
  }
  if (r == -3) {
    lua_pushboolean(L, all);
    return 1;
  }
  note_cond(L, c, r, 0);
  lrk_trace_push_expr(L, ci, r);
  return 1;
}

static int m_all(lua_State *L) { return logic(L, RKIN_OP_AND, "all"); }
static int m_any(lua_State *L) { return logic(L, RKIN_OP_OR, "any"); }

static int m_negate(lua_State *L)
{
  trace_ctx *c;
  rkin_node x, r;
  lua_settop(L, 1);
  c = args_ctx(L, 1);
  x = cond_arg(L, 1, c, "rk.negate");
  if (x == -1 || x == -2) {
    lua_pushboolean(L, x == -2);
    return 1;
  }
  r = rkin_expr_unary(c->g, RKIN_OP_NOT, x);
  lrk_trace_check(L, c, r);
  note_cond(L, c, r, 0);
  lrk_trace_push_expr(L, 2, r);
  return 1;
}

/* rk.ifelse(cond, a, b): a or b for a boolean cond, else the expression
 * that is a where cond holds and b elsewhere. */
static int m_ifelse(lua_State *L)
{
  trace_ctx *c;
  rkin_node x, r;
  int i;
  lua_settop(L, 3);
  for (i = 2; i <= 3; i++)
    if (!luaL_testudata(L, i, EXPR_MT)
        && !(lua_type(L, i) == LUA_TNUMBER && isfinite(lua_tonumber(L, i))))
      return lrk_error(L, "rk.ifelse: argument %d must be a finite number or "
                       "an expression (got %s)", i, lrk_got(L, i));
  c = args_ctx(L, 3);
  x = cond_arg(L, 1, c, "rk.ifelse");
  if (x == -1 || x == -2) {
    lua_pushvalue(L, x == -1 ? 2 : 3);
    return 1;
  }
  for (i = 2; i <= 3; i++)
    if (is_cond_expr(L, i, c))
      return lrk_error(L, "%s '%s': %s: rk.ifelse: argument %d is a "
                       "condition, not a value", KIND(c), c->model, c->fn, i);
  r = rkin_expr_ifelse(c->g, x, lrk_trace_node(L, 2, c, "rk.ifelse"),
                       lrk_trace_node(L, 3, c, "rk.ifelse"));
  lrk_trace_check(L, c, r);
  lrk_trace_push_expr(L, 4, r);
  return 1;
}

/* Proxy tables s / p: empty, so that every assignment reaches
 * __newindex (a pre-filled table took `s.A = 1` silently, and the model
 * then used 1 for A); reads come from the leaves (upvalue 3), a read of
 * any other name raises (upvalue 1: the trace, upvalue 2: "state" or
 * "parameter"). */
static int proxy_index(lua_State *L)
{
  trace_ctx *c;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(3)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  c = lua_touserdata(L, lua_upvalueindex(1));
  const char *kind = lua_tostring(L, lua_upvalueindex(2));
  int is_state = kind[0] == 's';
  const char *key = luaL_tolstring(L, 2, NULL);
  const char *list = is_state
      ? lrk_push_list(L, (const char *const *)c->states, c->ns)
      : lrk_push_list(L, (const char *const *)c->params, c->np);
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

void lrk_trace_push_proxy(lua_State *L, int ctx_idx, int is_state)
{
  trace_ctx *c = lua_touserdata(L, ctx_idx = lua_absindex(L, ctx_idx));
  size_t i, n = is_state ? c->ns : c->np;
  int leaves;
  lua_createtable(L, 0, 0);                        /* the proxy */
  lua_createtable(L, 0, (int)n);                   /* its leaves */
  leaves = lua_gettop(L);
  for (i = 0; i < n; i++) {
    rkin_node leaf = is_state ? rkin_expr_state(c->g, (int)i)
                              : rkin_expr_param(c->g, (int)i);
    lrk_trace_check(L, c, leaf);
    lrk_trace_push_expr(L, ctx_idx, leaf);
    lua_setfield(L, leaves, is_state ? c->states[i] : c->params[i]);
  }
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, ctx_idx);
  lua_pushstring(L, is_state ? "state" : "parameter");
  lua_pushvalue(L, leaves);
  lua_pushcclosure(L, proxy_index, 3);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, ctx_idx);
  lua_pushcclosure(L, proxy_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, -3);
  lua_pop(L, 1);                                   /* the leaves */
}

/* ------------------------------------- tracing for other bindings */

/* __index of an lrk_trace_call argument table (upvalues: the trace, the
 * argument's label, 1 when open). An open argument turns a new name into
 * a new PARAM leaf, numbered after every leaf made so far; a closed one
 * raises, listing its names. */
static int arg_index(lua_State *L)
{
  trace_ctx *c;
  const char *label;
  int open;
  size_t i, n = 0, ll;
  const char **names;
  /* the leaves live in upvalue 4, not in the (empty) argument table, so
   * that an assignment to a known name reaches arg_newindex */
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(4)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  c = live_ctx(L, lua_upvalueindex(1));
  label = lua_tostring(L, lua_upvalueindex(2));
  open = lua_toboolean(L, lua_upvalueindex(3));
  ll = strlen(label);
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
    lrk_trace_check(L, c, leaf);
    lrk_trace_push_expr(L, lua_upvalueindex(1), leaf);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, lua_upvalueindex(4));
    return 1;
  }
  /* the names of this argument, from the leaves' "label.name" */
  names = lrk_scratch(L, c->np, sizeof *names);
  for (i = 0; i < c->np; i++)
    if (strncmp(c->params[i], label, ll) == 0 && c->params[i][ll] == '.')
      names[n++] = c->params[i] + ll + 1;
  return lrk_error(L, "%s '%s': %s reads unknown %s '%s.%s' (%s: %s)",
                   KIND(c), c->model, c->fn, label, label,
                   luaL_tolstring(L, 2, NULL), label,
                   lrk_push_list(L, names, n));
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
    int leaves;
    lua_createtable(L, 0, 0);                  /* the argument: empty */
    lua_createtable(L, 0, (int)arg[a].n);      /* its leaves */
    leaves = lua_gettop(L);
    for (j = 0; j < arg[a].n; j++, k++) {
      rkin_node leaf = rkin_expr_param(c->g, (int)k);
      lrk_trace_check(L, c, leaf);
      lrk_trace_push_expr(L, ictx, leaf);
      lua_setfield(L, leaves, arg[a].names[j]);
    }
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, ictx);
    lua_pushstring(L, arg[a].label);
    lua_pushboolean(L, arg[a].open);
    lua_pushvalue(L, leaves);
    lua_pushcclosure(L, arg_index, 4);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, ictx);
    lua_pushcclosure(L, arg_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -3);
    lua_pop(L, 1);                             /* the leaves */
  }
  lua_call(L, (int)n_args, 1);
  lrk_trace_check_conditions(L, c);
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
    n = lrk_trace_node(L, -2, c, what);
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

/* ---------------------------------------------------------------- open */

const luaL_Reg lrk_trace_funcs[] = {
  {"exp", m_exp},
  {"log", m_log},
  {"sqrt", m_sqrt},
  {"abs", m_abs},
  {"sin", m_sin},
  {"cos", m_cos},
  {"tan", m_tan},
  {"asin", m_asin},
  {"acos", m_acos},
  {"atan", m_atan},
  {"floor", m_floor},
  {"ceil", m_ceil},
  {"factorial", m_factorial},
  {"min", m_min},
  {"max", m_max},
  {"lt", m_lt},
  {"le", m_le},
  {"gt", m_gt},
  {"ge", m_ge},
  {"all", m_all},
  {"any", m_any},
  {"negate", m_negate},
  {"ifelse", m_ifelse},
  {NULL, NULL}
};

void lrk_trace_open(lua_State *L)
{
  if (luaL_newmetatable(L, TRACE_MT)) {
    lua_pushcfunction(L, trace_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, EXPR_MT)) luaL_setfuncs(L, expr_meta, 0);
  lua_pop(L, 1);
}
