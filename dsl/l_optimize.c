/* l_optimize.c - "radiokin.optimize": rk.optimize{f =, x0 =, lower =,
 * upper =, ...} minimises a Lua function of a vector within bounds by one
 * of NLopt's derivative-free local methods (BOBYQA, Nelder-Mead, Sbplx,
 * COBYLA). It is what scripts/model_calibrate.lua fits population
 * parameters with: the objective there is a weighted sum of squares over
 * simulated summary statistics of fixed seeded patients (common random
 * numbers), smooth in the parameters, and with no gradient at hand.
 *
 * The objective runs under lua_pcall inside NLopt's callback: a Lua error
 * or a value that is not a finite number stops NLopt (nlopt_force_stop),
 * the optimiser is destroyed, and only then the error is raised, naming
 * the evaluation and the point (no longjmp crosses NLopt). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <nlopt.h>

#include "lrk.h"
#include "modules.h"

#define CTX "rk.optimize"
#define MAX_DIM 1000
#define MAX_EVAL 10000000L

typedef struct {
  lua_State *L;
  int fn;            /* stack index of f */
  int err;           /* stack slot the error message goes to */
  unsigned n;
  long evals;
  int failed;
  double best_f;     /* best finite value seen, and its point */
  double *best_x;
  nlopt_opt opt;     /* to stop it from the callback */
} octx;

static void push_point(lua_State *L, const double *x, unsigned n)
{
  luaL_Buffer b;
  unsigned i;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '{');
  for (i = 0; i < n && i < 8; i++) {
    char s[32];
    snprintf(s, sizeof s, "%s%.6g", i ? ", " : "", x[i]);
    luaL_addstring(&b, s);
  }
  if (n > 8) luaL_addstring(&b, ", ...");
  luaL_addchar(&b, '}');
  luaL_pushresult(&b);
}

static double objective(unsigned n, const double *x, double *grad,
                        void *data)
{
  octx *c = data;
  lua_State *L = c->L;
  double v;
  unsigned i;
  (void)grad;                   /* derivative-free methods only */
  c->evals++;
  if (!lua_checkstack(L, 8)) {
    c->failed = 1;
    nlopt_force_stop(c->opt);
    return HUGE_VAL;
  }
  lua_pushvalue(L, c->fn);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushnumber(L, x[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    const char *why = lua_tostring(L, -1);
    lua_pushfstring(L, CTX ": f failed at evaluation %d: %s", (int)c->evals,
                    why ? why : "(an error object that is not a string)");
    lua_replace(L, c->err);
    lua_pop(L, 1);
    c->failed = 1;
    nlopt_force_stop(c->opt);
    return HUGE_VAL;
  }
  if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1))) {
    const char *got = lua_type(L, -1) == LUA_TNUMBER
      ? lua_pushfstring(L, "%f", lua_tonumber(L, -1))
      : lua_pushstring(L, luaL_typename(L, -1));
    push_point(L, x, n);
    lua_pushfstring(L, CTX ": f must return a finite number (got %s at "
                    "evaluation %d, x = %s)", got, (int)c->evals,
                    lua_tostring(L, -1));
    lua_replace(L, c->err);
    lua_pop(L, 3);
    c->failed = 1;
    nlopt_force_stop(c->opt);
    return HUGE_VAL;
  }
  v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (v < c->best_f) {
    c->best_f = v;
    memcpy(c->best_x, x, n * sizeof *x);
  }
  return v;
}

static nlopt_algorithm method(lua_State *L, int t, const char **name)
{
  static const char *const names[] = {"bobyqa", "neldermead", "sbplx",
                                      "cobyla", NULL};
  static const nlopt_algorithm algs[] = {NLOPT_LN_BOBYQA,
    NLOPT_LN_NELDERMEAD, NLOPT_LN_SBPLX, NLOPT_LN_COBYLA};
  const char *s = lrk_field_string(L, t, CTX, "method", 0, "bobyqa");
  int i;
  for (i = 0; names[i]; i++)
    if (!strcmp(s, names[i])) {
      *name = names[i];
      return algs[i];
    }
  lrk_error(L, CTX ": field 'method' must be \"bobyqa\", \"neldermead\", "
            "\"sbplx\" or \"cobyla\" (got \"%s\")", s);
  return NLOPT_LN_BOBYQA;
}

static const char *status_name(nlopt_result r)
{
  switch (r) {
  case NLOPT_SUCCESS: return "success";
  case NLOPT_STOPVAL_REACHED: return "stopval";
  case NLOPT_FTOL_REACHED: return "ftol";
  case NLOPT_XTOL_REACHED: return "xtol";
  case NLOPT_MAXEVAL_REACHED: return "maxeval";
  case NLOPT_MAXTIME_REACHED: return "maxtime";
  case NLOPT_ROUNDOFF_LIMITED: return "roundoff";
  case NLOPT_FORCED_STOP: return "forced stop";
  case NLOPT_OUT_OF_MEMORY: return "out of memory";
  case NLOPT_INVALID_ARGS: return "invalid arguments";
  default: return "failure";
  }
}

/* Reads an array field of exactly n numbers (n = 0: any length >= 1). */
static double *vec(lua_State *L, int t, const char *key, int required,
                   size_t *n)
{
  size_t len;
  double *v;
  char what[48];
  if (lua_getfield(L, t, key) == LUA_TNIL) {
    lua_pop(L, 1);
    if (required)
      lrk_error(L, CTX ": field '%s' is required (an array of numbers)",
                key);
    return NULL;
  }
  snprintf(what, sizeof what, "field '%s'", key);
  v = lrk_numbers(L, -1, CTX, what, &len);   /* userdata stays pushed */
  lua_remove(L, -2);
  if (*n == 0) {
    if (len == 0)
      lrk_error(L, CTX ": field '%s' must hold at least one number", key);
    if (len > MAX_DIM)
      lrk_error(L, CTX ": field '%s' has %d numbers; at most %d parameters",
                key, (int)len, MAX_DIM);
    *n = len;
  } else if (len != *n) {
    lrk_error(L, CTX ": field '%s' has %d numbers, x0 has %d", key,
              (int)len, (int)*n);
  }
  return v;
}

static int optimize(lua_State *L)
{
  static const char *const keys[] = {"f", "x0", "lower", "upper", "step",
    "method", "xtol_rel", "ftol_rel", "ftol_abs", "maxeval", NULL};
  size_t n = 0, i;
  double *x0, *lo, *hi, *step, *x, fmin = HUGE_VAL;
  double xtol, ftol, ftol_abs;
  long maxeval;
  const char *mname = "bobyqa";
  nlopt_algorithm alg;
  nlopt_opt opt;
  nlopt_result res;
  octx c;
  int top;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, CTX, keys);
  if (lua_getfield(L, 1, "f") != LUA_TFUNCTION)
    lrk_error(L, CTX ": field 'f' must be a function of an array x "
              "returning a number (got %s)", lrk_got(L, -1));
  c.fn = lua_gettop(L);
  x0 = vec(L, 1, "x0", 1, &n);
  lo = vec(L, 1, "lower", 1, &n);
  hi = vec(L, 1, "upper", 1, &n);
  step = vec(L, 1, "step", 0, &n);
  for (i = 0; i < n; i++) {
    if (!(lo[i] < hi[i]))
      lrk_error(L, CTX ": lower[%d] = %f must be below upper[%d] = %f",
                (int)i + 1, lo[i], (int)i + 1, hi[i]);
    if (x0[i] < lo[i] || x0[i] > hi[i])
      lrk_error(L, CTX ": x0[%d] = %f is outside [lower, upper] = [%f, %f]",
                (int)i + 1, x0[i], lo[i], hi[i]);
    if (step && !(step[i] > 0))
      lrk_error(L, CTX ": step[%d] must be > 0 (got %f)", (int)i + 1,
                step[i]);
  }
  alg = method(L, 1, &mname);
  xtol = lrk_field_number_in(L, 1, CTX, "xtol_rel", 0, 1e-6, 0, 1,
                             LRK_LO_OPEN);
  ftol = lrk_field_number_in(L, 1, CTX, "ftol_rel", 0, 0, 0, 1, 0);
  ftol_abs = lrk_field_number_in(L, 1, CTX, "ftol_abs", 0, 0, 0, HUGE_VAL,
                                 0);
  maxeval = (long)lrk_field_count(L, 1, CTX, "maxeval", 0, 2000, 1,
                                  MAX_EVAL);
  x = lua_newuserdatauv(L, n * sizeof *x, 0);
  c.best_x = lua_newuserdatauv(L, n * sizeof *x, 0);
  memcpy(x, x0, n * sizeof *x);
  memcpy(c.best_x, x0, n * sizeof *x);
  lua_pushnil(L);                        /* the error slot */
  c.err = lua_gettop(L);
  c.L = L;
  c.n = (unsigned)n;
  c.evals = 0;
  c.failed = 0;
  c.best_f = HUGE_VAL;
  c.opt = NULL;
  top = lua_gettop(L);

  /* From here to nlopt_destroy nothing may raise. */
  opt = nlopt_create(alg, (unsigned)n);
  if (!opt) lrk_error(L, CTX ": NLopt could not create the optimiser");
  c.opt = opt;
  res = nlopt_set_lower_bounds(opt, lo);
  if (res > 0) res = nlopt_set_upper_bounds(opt, hi);
  if (res > 0) res = nlopt_set_min_objective(opt, objective, &c);
  if (res > 0) res = nlopt_set_xtol_rel(opt, xtol);
  if (res > 0 && ftol > 0) res = nlopt_set_ftol_rel(opt, ftol);
  if (res > 0 && ftol_abs > 0) res = nlopt_set_ftol_abs(opt, ftol_abs);
  if (res > 0) res = nlopt_set_maxeval(opt, (int)maxeval);
  if (res > 0 && step) res = nlopt_set_initial_step(opt, step);
  if (res > 0) res = nlopt_optimize(opt, x, &fmin);
  nlopt_destroy(opt);
  lua_settop(L, top);

  if (c.failed) {
    if (lua_isnil(L, c.err))
      lrk_error(L, CTX ": f failed at evaluation %d (Lua stack exhausted)",
                (int)c.evals);
    return lua_error(L);
  }
  if (res < 0 && res != NLOPT_ROUNDOFF_LIMITED)
    lrk_error(L, CTX ": NLopt %s failed: %s (after %d evaluations)", mname,
              status_name(res), (int)c.evals);
  /* NLopt returns its best point; a roundoff stop may not: keep the best
   * finite value seen */
  if (!(fmin <= c.best_f)) {
    fmin = c.best_f;
    memcpy(x, c.best_x, n * sizeof *x);
  }
  lua_createtable(L, 0, 6);
  lrk_push_numbers(L, x, n);
  lua_setfield(L, -2, "x");
  lua_pushnumber(L, fmin);
  lua_setfield(L, -2, "f");
  lua_pushinteger(L, c.evals);
  lua_setfield(L, -2, "evals");
  lua_pushstring(L, status_name(res));
  lua_setfield(L, -2, "status");
  lua_pushboolean(L, res == NLOPT_SUCCESS || res == NLOPT_FTOL_REACHED
                  || res == NLOPT_XTOL_REACHED
                  || res == NLOPT_STOPVAL_REACHED);
  lua_setfield(L, -2, "converged");
  lua_pushstring(L, mname);
  lua_setfield(L, -2, "method");
  return 1;
}

int luaopen_radiokin_optimize(lua_State *L)
{
  /* The module is the function itself: rk.optimize{...}. */
  lua_pushcfunction(L, optimize);
  return 1;
}
