/* l_simulate.c - m:simulate for "radiokin.model": runs a model through a
 * dosing schedule (engine/solve/solve.h) with no Lua at solve time, and returns
 * the result table (r.states, r.tia, r:write_csv, ...). Also reads dose
 * lists for other bindings (lrk_check_doses).
 *
 * Engine objects live in boxes (userdata freed by __gc) while m:simulate
 * runs, so a raise leaks nothing. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "core/dosing.h"
#include "l_model_impl.h"
#include "lrk.h"
#include "core/model.h"
#include "solve/solve.h"

/* ----------------------------------------------------------------- box */

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

/* ---------------------------------------------------------------- doses */

rkin_dosing *lrk_check_doses(lua_State *L, int model_idx, int t,
                             const char *ctx)
{
  static const char *const keys[] = {"time", "amount", "rate", "to", "ii",
                                     "addl", "evid", "ss", NULL};
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
    dose.evid = (int)lrk_field_count(L, di, dctx, "evid", 0, 1, 1, 4);
    dose.ss = (int)lrk_field_count(L, di, dctx, "ss", 0, 0, 0, 2);
    dose.time = lrk_field_number(L, di, dctx, "time", 1, 0);
    dose.rate = lrk_field_number(L, di, dctx, "rate", 0, 0);
    /* EVID 2 / 3 give nothing; the constant-infusion steady state is
     * given by its rate alone. */
    dose.amount = lrk_field_number(L, di, dctx, "amount",
                                   !(dose.evid == 2 || dose.evid == 3
                                     || (dose.ss == 1 && (dose.rate > 0
                                                          || dose.rate == -1))),
                                   0);
    dose.ii = lrk_field_number(L, di, dctx, "ii", 0, 0);
    dose.addl = (int)lrk_field_count(L, di, dctx, "addl", 0, 0, 0, INT_MAX);
    to = lrk_field_string(L, di, dctx, "to",
                          !(dose.evid == 2 || dose.evid == 3), NULL);
    if (to) {
      dose.cmt = rkin_model_state_index(m, to, &err);
      if (dose.cmt < 0) lrk_error(L, "%s: field 'to': %s", dctx, err.msg);
    }
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
  names = lrk_scratch(L, n, sizeof *names);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    if (lua_type(L, -2) == LUA_TSTRING) names[i++] = lua_tostring(L, -2);
    lua_pop(L, 1);
  }
  qsort(names, i, sizeof *names, lrk_cmp_str);
  return lrk_error(L, "%s has no entry '%s' (known: %s)",
                   lua_tostring(L, lua_upvalueindex(1)),
                   luaL_tolstring(L, 2, NULL), lrk_push_list(L, names, i));
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
    return lrk_scratch(L, 0, sizeof *idx);
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
  idx = lrk_scratch(L, n, sizeof *idx);
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
  y0 = lrk_scratch(L, ns, sizeof *y0);
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

/* path = and jacobian = of m:simulate. */
static const char *const path_names[] = {"auto", "cvodes", "exact", NULL};
static const rkin_path path_values[] = {RKIN_PATH_AUTO, RKIN_PATH_CVODES,
                                        RKIN_PATH_EXACT};
static const char *const jac_names[] = {"auto", "dense", "sparse", NULL};
static const rkin_jacobian jac_values[] = {RKIN_JAC_AUTO, RKIN_JAC_DENSE,
                                           RKIN_JAC_SPARSE};

/* Field 'covariates': parameters over time, {rule = "nocb" | "locf",
 * {time = t, NAME = value, ...}, ...} (rows in increasing time, a row
 * keeping the previous row's values for names it does not give, the
 * first row p's). Fills the request's piecewise parameters (the values
 * of row j apply over (t_{j-1}, t_j] with "nocb", NONMEM's, the default;
 * over [t_j, t_{j+1}) with "locf"; the first row's before, the last
 * row's after) and each dose record's parameters, and returns the rows
 * (the last row is in force at t1); NULL without the field. Pushes one
 * scratch userdata. */
static const double *read_cov_rows(lua_State *L, const rkin_model *m,
                                   const char *ctx, const double *p,
                                   const rkin_dosing *dosing,
                                   rkin_solve_req *req, size_t *n_rows)
{
  size_t np = rkin_model_nparams(m), n, j, k, nrec;
  double *rows, *t, *pw, *rp;
  const char *rule;
  int tb, locf;
  *n_rows = 0;
  if (lua_getfield(L, 2, "covariates") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return NULL;
  }
  tb = lua_gettop(L);
  if (!lua_istable(L, tb))
    lrk_error(L, "%s: field 'covariates' must be a list of rows {time =, "
              "NAME = value} (got %s)", ctx, lrk_got(L, tb));
  rule = lrk_field_string(L, tb, ctx, "rule", 0, "nocb");
  locf = strcmp(rule, "locf") == 0;
  if (!locf && strcmp(rule, "nocb") != 0)
    lrk_error(L, "%s: covariates.rule must be \"nocb\" (NONMEM: a row's "
              "values apply up to its time) or \"locf\" (from it on) "
              "(got \"%s\")", ctx, rule);
  n = (size_t)lua_rawlen(L, tb);
  if (n == 0)
    lrk_error(L, "%s: field 'covariates' has no rows", ctx);
  nrec = dosing ? rkin_dosing_nrecords(dosing) : 0;
  rows = lrk_scratch(L, n * (np + 1) + n * np + nrec * np + 1,
                     sizeof *rows);
  lua_replace(L, tb);                  /* the scratch takes the slot */
  lua_getfield(L, 2, "covariates");    /* the table, on top */
  t = rows + n * np;
  pw = t + n;
  rp = pw + n * np;
  for (j = 0; j < n; j++) {
    lua_rawgeti(L, -1, (lua_Integer)j + 1);
    if (!lua_istable(L, -1))
      lrk_error(L, "%s: covariates[%d] must be a row {time =, NAME = "
                "value} (got %s)", ctx, (int)j + 1, lrk_got(L, -1));
    if (lua_getfield(L, -1, "time") != LUA_TNUMBER
        || !isfinite(lua_tonumber(L, -1)))
      lrk_error(L, "%s: covariates[%d].time must be a finite number (got "
                "%s)", ctx, (int)j + 1, lrk_got(L, -1));
    t[j] = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (j && !(t[j] > t[j - 1]))
      lrk_error(L, "%s: covariates[%d].time = %f is not after the previous "
                "row's %f (rows must go forward in time)", ctx, (int)j + 1,
                t[j], t[j - 1]);
    memcpy(rows + j * np, j ? rows + (j - 1) * np : p, np * sizeof *p);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      const char *name;
      rkin_err err;
      int pi;
      if (lua_type(L, -2) != LUA_TSTRING)
        lrk_error(L, "%s: covariates[%d]: keys must be parameter names",
                  ctx, (int)j + 1);
      name = lua_tostring(L, -2);
      if (strcmp(name, "time") != 0) {
        rkin_err_clear(&err);
        if ((pi = rkin_model_param_index(m, name, &err)) < 0)
          lrk_error(L, "%s: covariates[%d]: %s", ctx, (int)j + 1, err.msg);
        if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1)))
          lrk_error(L, "%s: covariates[%d].%s must be a finite number (got "
                    "%s)", ctx, (int)j + 1, name, lrk_got(L, -1));
        rows[j * np + (size_t)pi] = lua_tonumber(L, -1);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  /* switches: NOCB at the previous row's time, LOCF at the row's own */
  for (j = 1; j < n; j++) pw[j - 1] = locf ? t[j] : t[j - 1];
  for (k = 0; k < nrec; k++) {
    double td = rkin_dosing_record(dosing, k)->time;
    size_t jr = 0;
    if (locf)
      for (j = 0; j < n; j++) { if (t[j] <= td) jr = j; }
    else
      for (jr = 0; jr + 1 < n && t[jr] < td; jr++) {}
    memcpy(rp + k * np, rows + jr * np, np * sizeof *rp);
  }
  req->params = rows;
  req->n_pw = n - 1;
  req->pw_t = pw;
  req->pw_params = rows + np;
  req->pw_locf = locf;
  req->rec_params = nrec ? rp : NULL;
  *n_rows = n;
  return rows;
}

/* m:simulate{doses=, times=, tia=, params=, y0=, t0=, t1=, rtol=, atol=,
 * max_steps=, path=, pre_dose=, jacobian=, covariates=} -> result table. */
int lrk_model_simulate(lua_State *L)
{
  static const char *const keys[] = {"doses", "times", "tia", "params",
                                     "y0", "t0", "t1", "rtol", "atol",
                                     "max_steps", "path", "pre_dose",
                                     "jacobian", "covariates", NULL};
  const rkin_model *m = lrk_check_model(L, 1);
  size_t ns = rkin_model_nstates(m), no = rkin_model_noutputs(m);
  size_t np = rkin_model_nparams(m), nt = 0, n_tia, i, k;
  const char *ctx;
  double *p, *times = NULL, *y0, *ybuf, *obuf, *tia, *tia_inf, *y_end;
  double t0, t1;
  int *tia_idx, have_inf = 0, r;
  const double *crows, *p_end;
  size_t n_rows;
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

  p = lrk_scratch(L, np, sizeof *p);                              /* 4 */
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
  o.max_steps = lrk_field_count(L, 2, ctx, "max_steps", 0, o.max_steps, 1,
                                1000000000);
  o.path = path_values[lrk_field_enum(L, 2, ctx, "path", path_names, 0)];
  o.jacobian = jac_values[lrk_field_enum(L, 2, ctx, "jacobian", jac_names,
                                         0)];

  ybuf = nt ? lrk_scratch(L, nt * ns, sizeof *ybuf) : NULL;
  obuf = nt && no ? lrk_scratch(L, nt * no, sizeof *obuf) : NULL;
  tia = lrk_scratch(L, n_tia, sizeof *tia);
  tia_inf = lrk_scratch(L, n_tia, sizeof *tia_inf);
  y_end = lrk_scratch(L, ns, sizeof *y_end);

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
  /* One run, not continued: a dose at t1 is seen by an output there. */
  req.events_at_t1 = 1;
  req.pre_dose = lrk_field_boolean(L, 2, ctx, "pre_dose", 0);
  crows = read_cov_rows(L, m, ctx, p, dosing, &req, &n_rows);
  p_end = crows ? crows + (n_rows - 1) * np : p;
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
      size_t ne;
      const rkin_event *ev = rkin_solver_events(s, &ne);
      for (k = 0; k < ne; k++)
        late |= ev[k].time > t1
                || (ev[k].time == t1 && (ev[k].kind == RKIN_EV_INF_ON
                                         || ev[k].kind == RKIN_EV_SS_ON));
    }
    if (late) {
      rkin_err_set(&inf_err, RKIN_EINVAL, "tia_inf needs every dose "
                   "(and infusion end) before t1 = %g", t1);
    } else if (rkin_solver_tia_inf(s, p_end, y_end, tia_idx, n_tia, tia_inf,
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
    if (rkin_solver_path(s) == RKIN_PATH_CVODES) {
      lua_pushstring(L, rkin_solver_jacobian(s) == RKIN_JAC_SPARSE ? "sparse"
                                                                  : "dense");
      lua_setfield(L, rt, "jacobian");
    }
    lua_pushinteger(L, res.n_steps);
    lua_setfield(L, rt, "steps");
    lua_pushnumber(L, t0);
    lua_setfield(L, rt, "t0");
    lua_pushnumber(L, t1);
    lua_setfield(L, rt, "t1");
    lrk_push_numbers(L, times, nt);
    lua_setfield(L, rt, "time");
    lrk_push_param_map(L, m, p);
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
    if (lua_type(L, -1) != LUA_TTABLE) {
      lua_rawgeti(L, cols, (lua_Integer)j);
      return lrk_error(L, "r:write_csv: column %d ('%s') has no values in "
                       "the result's states or outputs (was the result "
                       "changed?)", (int)j, lua_tostring(L, -1));
    }
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

/* The column (a Lua array, pushed) record i selects, the first given of:
 * output = name (as d.observations resolved it), dvid = k (k-th name of
 * the DVID order at index order, n_order names), cmt = a state/output name
 * or a 1-based state number. */
static void push_selected(lua_State *L, int r, int rec, int order,
                          size_t n_order, size_t i)
{
  const char *ctx = "r:predict";
  int n_sel, ty;
  lua_getfield(L, rec, "output");
  lua_getfield(L, rec, "dvid");
  lua_getfield(L, rec, "cmt");
  n_sel = !lua_isnil(L, -3) + !lua_isnil(L, -2) + !lua_isnil(L, -1);
  if (n_sel == 0)
    lrk_error(L, "%s: obs[%d] selects nothing: give output = name, dvid = "
              "k or cmt = state", ctx, (int)i);
  if (!lua_isnil(L, -3)) {
    if (lua_type(L, -3) != LUA_TSTRING)
      lrk_error(L, "%s: obs[%d].output must be an output name (got %s)", ctx,
                (int)i, lrk_got(L, -3));
    lua_getfield(L, r, "outputs");
    lua_pushvalue(L, -4);
    if (lua_rawget(L, -2) != LUA_TTABLE)
      lrk_error(L, "%s: obs[%d].output '%s' is not an output of the model",
                ctx, (int)i, lua_tostring(L, -5));
    return;
  }
  if (!lua_isnil(L, -2)) {
    lua_Integer k;
    if (!lua_isinteger(L, -2) && !(lua_type(L, -2) == LUA_TNUMBER
                                   && lua_tonumber(L, -2)
                                      == floor(lua_tonumber(L, -2))))
      lrk_error(L, "%s: obs[%d].dvid must be an integer (got %s)", ctx,
                (int)i, lrk_got(L, -2));
    k = (lua_Integer)lua_tonumber(L, -2);
    if (k < 1 || (size_t)k > n_order)
      lrk_error(L, "%s: obs[%d].dvid = %d, but there are %d outputs to "
                "select (DVID 1..%d)", ctx, (int)i, (int)k, (int)n_order,
                (int)n_order);
    lua_getfield(L, r, "outputs");
    lua_rawgeti(L, order, k);
    lua_rawget(L, -2);
    return;
  }
  ty = lua_type(L, -1);
  if (ty == LUA_TNUMBER) {
    /* the value by its absolute index: the lookups below push a varying
     * number of values before a message names it */
    int ci = lua_gettop(L);
    lua_Integer k = (lua_Integer)lua_tonumber(L, ci);
    lua_getfield(L, r, "columns");
    lua_getfield(L, r, "states");
    if ((double)k != lua_tonumber(L, ci) || k < 1
        || lua_rawgeti(L, -2, k) != LUA_TSTRING)
      lrk_error(L, "%s: obs[%d].cmt = %s is not a state number", ctx,
                (int)i, lrk_got(L, ci));
    if (lua_rawget(L, -2) != LUA_TTABLE)
      lrk_error(L, "%s: obs[%d].cmt = %s is not a state number", ctx,
                (int)i, lrk_got(L, ci));
    return;
  }
  if (ty != LUA_TSTRING)
    lrk_error(L, "%s: obs[%d].cmt must be a state or output name or a "
              "state number (got %s)", ctx, (int)i, lrk_got(L, -1));
  lua_getfield(L, r, "states");
  lua_pushvalue(L, -2);
  if (lua_rawget(L, -2) == LUA_TTABLE) return;
  lua_pop(L, 2);
  lua_getfield(L, r, "outputs");
  lua_pushvalue(L, -2);
  if (lua_rawget(L, -2) != LUA_TTABLE)
    lrk_error(L, "%s: obs[%d].cmt '%s' is neither a state nor an output",
              ctx, (int)i, lua_tostring(L, -3));
}

/* r:predict(obs [, {dvid = {names}}]) -> one value per record of obs:
 * the state or output it selects at its time (one of the result's output
 * times). DVID k selects the k-th name of dvid, by default of the
 * model's outputs (m.outputs order). */
static int result_predict(lua_State *L)
{
  size_t i, n, n_order = 0, nt;
  int r = 1, obs = 2, order, times;
  lua_settop(L, 3);
  luaL_checktype(L, r, LUA_TTABLE);
  if (!lua_istable(L, obs))
    return lrk_error(L, "r:predict: expected a list of observation records "
                     "{time =, output = | dvid = | cmt =} (got %s)",
                     lrk_got(L, obs));
  lua_createtable(L, 0, 0);
  order = lua_gettop(L);
  if (lua_istable(L, 3)) {
    static const char *const known[] = { "dvid", NULL };
    lrk_check_keys(L, 3, "r:predict", known);
    lua_getfield(L, 3, "dvid");
  } else if (!lua_isnil(L, 3)) {
    return lrk_error(L, "r:predict: options must be a table {dvid = "
                     "{names}} (got %s)", lrk_got(L, 3));
  } else {
    lua_pushnil(L);
  }
  if (lua_istable(L, -1)) {
    n_order = lua_rawlen(L, -1);
    for (i = 1; i <= n_order; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i);
      lua_getfield(L, r, "outputs");
      lua_pushvalue(L, -2);
      if (lua_type(L, -3) != LUA_TSTRING || lua_rawget(L, -2) != LUA_TTABLE)
        return lrk_error(L, "r:predict: dvid[%d] is not an output of the "
                         "model", (int)i);
      lua_pop(L, 2);
      lua_rawseti(L, order, (lua_Integer)i);
    }
  } else if (!lua_isnil(L, -1)) {
    return lrk_error(L, "r:predict: field 'dvid' must be a list of output "
                     "names (got %s)", lrk_got(L, -1));
  } else {
    /* the outputs in column order (after the states) */
    size_t nc;
    lua_getfield(L, r, "columns");
    lua_getfield(L, r, "outputs");
    nc = lua_rawlen(L, -2);
    for (i = 1; i <= nc; i++) {
      lua_rawgeti(L, -2, (lua_Integer)i);
      lua_pushvalue(L, -1);
      if (lua_rawget(L, -3) == LUA_TTABLE) {
        lua_pop(L, 1);
        lua_rawseti(L, order, (lua_Integer)++n_order);
      } else {
        lua_pop(L, 2);
      }
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  lua_getfield(L, r, "time");
  times = lua_gettop(L);
  nt = lua_rawlen(L, times);
  n = lua_rawlen(L, obs);
  lua_createtable(L, (int)n, 0);
  for (i = 1; i <= n; i++) {
    int rec, top = lua_gettop(L);
    double t;
    size_t k;
    lua_rawgeti(L, obs, (lua_Integer)i);
    rec = lua_gettop(L);
    if (!lua_istable(L, rec))
      return lrk_error(L, "r:predict: obs[%d] must be a record {time =, "
                       "output = | dvid = | cmt =} (got %s)", (int)i,
                       lrk_got(L, rec));
    t = lrk_field_number(L, rec, "r:predict", "time", 1, 0);
    for (k = 1; k <= nt; k++) {
      lua_rawgeti(L, times, (lua_Integer)k);
      if (lua_tonumber(L, -1) == t) {
        lua_pop(L, 1);
        break;
      }
      lua_pop(L, 1);
    }
    if (k > nt)
      return lrk_error(L, "r:predict: obs[%d].time = %f h is not an output "
                       "time of this result (add it to times)", (int)i, t);
    push_selected(L, r, rec, order, n_order, i);
    lua_rawgeti(L, -1, (lua_Integer)k);
    lua_rawseti(L, top, (lua_Integer)i);
    lua_settop(L, top);
  }
  return 1;
}

static int result_index(lua_State *L)
{
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "write_csv") == 0) {
    lua_pushcfunction(L, result_write_csv);
    return 1;
  }
  if (k && strcmp(k, "predict") == 0) {
    lua_pushcfunction(L, result_predict);
    return 1;
  }
  if (k && (strcmp(k, "tia_inf") == 0 || strcmp(k, "tia_inf_error") == 0)) {
    lua_pushnil(L);
    return 1;
  }
  return lrk_error(L, "simulate result has no field '%s' (fields: time, "
                   "states, outputs, tia, tia_inf, y_end, params, path, "
                   "steps, t0, t1, columns, model, write_csv, predict, "
                   "and each "
                   "state/output by name)", luaL_tolstring(L, 2, NULL));
}

/* ---------------------------------------------------------------- open */

void lrk_simulate_open(lua_State *L)
{
  /* m:simulate, a method of the model userdata (l_model.c) */
  luaL_getmetatable(L, MODEL_MT);
  lua_getfield(L, -1, "methods");
  lua_pushcfunction(L, lrk_model_simulate);
  lua_setfield(L, -2, "simulate");
  lua_pop(L, 2);
  if (luaL_newmetatable(L, BOX_MT)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, RESULT_MT)) {
    lua_pushcfunction(L, result_index);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}
