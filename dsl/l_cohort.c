/* l_cohort.c - "radiokin.cohort": rk.cohort{...} samples virtual patients
 * from a model (log-normal variability, GSL RNG, seeded) or takes them from
 * a table, runs every patient through a cycle schedule in parallel
 * (engine/pop/vpop.h) and returns the per-cycle TIAs as a Lua table with
 * :summary() and :write_csv(). No Lua runs while the cohort is solved. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"
#include "core/model.h"
#include "modules.h"
#include "pop/vpop.h"

#define COHORT_MT "radiokin.cohort"
#define CTX "rk.cohort"

static const char *const cohort_keys[] = {
  "model", "n", "seed", "cv", "theta", "patients", "cycles", "interval_h",
  "doses", "activity_factors", "tia", "path", "rtol", "atol", "threads",
  "progress", NULL
};

/* A text progress bar on stderr; only when stderr is a terminal. */
static void progress_bar(size_t done, size_t total, void *ud)
{
  int width = 40, fill = total ? (int)(width * done / total) : width;
  (void)ud;
  fprintf(stderr, "\r" CTX " [%.*s%*s] %3d%% %zu/%zu", fill,
          "########################################", width - fill, "",
          total ? (int)(100 * done / total) : 100, done, total);
  if (done == total) fputc('\n', stderr);
  fflush(stderr);
}

/* cv: a number for every parameter, or {name = cv} (others 0). */
static void read_cv(lua_State *L, const rkin_model *m, double *cv)
{
  size_t np = rkin_model_nparams(m), j;
  int t = lua_gettop(L);
  lua_getfield(L, 1, "cv");
  if (lua_isnil(L, -1)) {
    for (j = 0; j < np; j++) cv[j] = 0;
  } else if (lua_isnumber(L, -1)) {
    double c = lua_tonumber(L, -1);
    for (j = 0; j < np; j++) cv[j] = c;
  } else if (lua_istable(L, -1)) {
    for (j = 0; j < np; j++) cv[j] = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      rkin_err err;
      int k;
      if (lua_type(L, -2) != LUA_TSTRING || !lua_isnumber(L, -1))
        lrk_error(L, CTX ": field 'cv' must map parameter names to numbers");
      k = rkin_model_param_index(m, lua_tostring(L, -2), &err);
      if (k < 0) lrk_raise(L, CTX ": field 'cv'", &err);
      cv[k] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  } else {
    lrk_error(L, CTX ": field 'cv' must be a number or a table of "
              "name = number (got %s)", luaL_typename(L, -1));
  }
  lua_settop(L, t);
}

/* Keys of a patient table that are not parameters. */
static int reserved_key(const char *k)
{
  return !strcmp(k, "id") || !strcmp(k, "cov") || !strcmp(k, "eta");
}

/* Pushes the parameter table of the patient table at idx: itself, or a
 * copy without its reserved keys (id, cov, eta). */
static void push_param_table(lua_State *L, int idx)
{
  int has = 0;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING && reserved_key(lua_tostring(L, -1)))
      has = 1;
  }
  if (!has) {
    lua_pushvalue(L, idx);
    return;
  }
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING && reserved_key(lua_tostring(L, -2))) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
}

double *lrk_check_patients(lua_State *L, int model_idx, int t,
                           const char *ctx, size_t *n_out)
{
  size_t n, np, i;
  double *params;
  const rkin_model *m = lrk_check_model(L, model_idx);
  model_idx = lua_absindex(L, model_idx);
  t = lua_absindex(L, t);
  if (!lua_istable(L, t))
    lrk_error(L, "%s: field 'patients' must be an array of patient tables "
              "(got %s)", ctx, luaL_typename(L, t));
  n = (size_t)luaL_len(L, t);
  if (!n) lrk_error(L, "%s: field 'patients' is empty", ctx);
  np = rkin_model_nparams(m);
  params = lua_newuserdatauv(L, n * (np ? np : 1) * sizeof *params, 0);
  for (i = 0; i < n; i++) {
    lua_geti(L, t, (lua_Integer)i + 1);
    if (!lua_istable(L, -1))
      lrk_error(L, "%s: patients[%d] must be a table of parameters", ctx,
                (int)i + 1);
    push_param_table(L, -1);
    lua_pushfstring(L, "%s: patients[%d]", ctx, (int)i + 1);
    lrk_model_params(L, model_idx, -2, lua_tostring(L, -1),
                     params + i * np);
    lua_pop(L, 3);
  }
  *n_out = n;
  return params;
}

double *lrk_patients_covariate(lua_State *L, int t, const char *ctx,
                               const char *name, size_t n)
{
  size_t i;
  double *v;
  t = lua_absindex(L, t);
  v = lua_newuserdatauv(L, (n ? n : 1) * sizeof *v, 0);
  for (i = 0; i < n; i++) {
    lua_geti(L, t, (lua_Integer)i + 1);
    if (lua_type(L, -1) != LUA_TTABLE || lua_getfield(L, -1, "cov") !=
        LUA_TTABLE || lua_getfield(L, -1, name) != LUA_TNUMBER ||
        !isfinite(lua_tonumber(L, -1)))
      lrk_error(L, "%s: patients[%d] has no covariate '%s' (a number in "
                "patients[%d].cov)", ctx, (int)i + 1, name, (int)i + 1);
    v[i] = lua_tonumber(L, -1);
    lua_pop(L, 3);
  }
  return v;
}

/* patients = { {kPI = ..}, ... }: each patient's parameters over the
 * model's defaults (id, cov, eta fields skipped). Returns the count. */
static size_t read_patients(lua_State *L, double **params)
{
  size_t n;
  lua_getfield(L, 1, "patients");
  *params = lrk_check_patients(L, 2, -1, CTX, &n);
  lua_remove(L, -2);
  return n;
}

/* tia = {"K", "C"}: state or output names -> indices. */
static int *read_tia(lua_State *L, const rkin_model *m, size_t *n)
{
  size_t i, ns = rkin_model_nstates(m);
  int *idx;
  lua_getfield(L, 1, "tia");
  if (!lua_istable(L, -1))
    lrk_error(L, CTX ": field 'tia' is required (a list of state or output "
              "names, e.g. {\"K\"})");
  *n = (size_t)luaL_len(L, -1);
  if (!*n) lrk_error(L, CTX ": field 'tia' is empty");
  idx = lua_newuserdatauv(L, *n * sizeof *idx, 0);
  lua_insert(L, -2);
  for (i = 0; i < *n; i++) {
    const char *name;
    int k;
    lua_geti(L, -1, (lua_Integer)i + 1);
    name = lua_tostring(L, -1);
    if (!name) lrk_error(L, CTX ": tia[%d] must be a name", (int)i + 1);
    k = rkin_model_state_index(m, name, NULL);
    if (k < 0) {
      rkin_err err;
      k = rkin_model_output_index(m, name, NULL);
      if (k < 0) {
        rkin_err_set(&err, RKIN_ENOTFOUND, "tia[%d]: '%s' is neither a "
                     "state nor an output of model '%s'", (int)i + 1, name,
                     rkin_model_name(m));
        lrk_raise(L, CTX, &err);
      }
      k += (int)ns;
    }
    idx[i] = k;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return idx;
}

static rkin_path read_path(lua_State *L)
{
  const char *p = lrk_field_string(L, 1, CTX, "path", 0, "auto");
  if (!strcmp(p, "auto")) return RKIN_PATH_AUTO;
  if (!strcmp(p, "cvodes")) return RKIN_PATH_CVODES;
  if (!strcmp(p, "exact")) return RKIN_PATH_EXACT;
  lrk_error(L, CTX ": field 'path' must be \"auto\", \"cvodes\" or "
            "\"exact\" (got \"%s\")", p);
  return RKIN_PATH_AUTO;
}

/* Builds the result table: n, cycles, path, steps, names, params[i],
 * tia[name][cycle][patient], failed = { {id=, message=} }. */
static void push_result(lua_State *L, const rkin_cohort_spec *sp,
                        const rkin_cohort_res *res, const int *tia_idx,
                        const char *path)
{
  const rkin_model *m = sp->model;
  size_t np = rkin_model_nparams(m), ns = rkin_model_nstates(m);
  size_t i, j, c, q, per = sp->n_cycles * sp->n_tia, nf = 0;

  lua_createtable(L, 0, 10);
  lua_pushinteger(L, (lua_Integer)sp->n_patients);
  lua_setfield(L, -2, "n");
  lua_pushinteger(L, (lua_Integer)sp->n_cycles);
  lua_setfield(L, -2, "cycles");
  lua_pushstring(L, path);
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, res->n_steps);
  lua_setfield(L, -2, "steps");

  lua_createtable(L, (int)sp->n_tia, 0);
  for (q = 0; q < sp->n_tia; q++) {
    int k = tia_idx[q];
    lua_pushstring(L, (size_t)k < ns ? rkin_model_state_name(m, (size_t)k)
                                     : rkin_model_output_name(m, k - ns));
    lua_rawseti(L, -2, (lua_Integer)q + 1);
  }
  lua_setfield(L, -2, "names");

  lua_createtable(L, (int)sp->n_patients, 0);
  for (i = 0; i < sp->n_patients; i++) {
    lua_createtable(L, 0, (int)np);
    for (j = 0; j < np; j++) {
      lua_pushnumber(L, sp->params[i * np + j]);
      lua_setfield(L, -2, rkin_model_param_name(m, j));
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "params");

  lua_createtable(L, 0, (int)sp->n_tia);
  for (q = 0; q < sp->n_tia; q++) {
    lua_createtable(L, (int)sp->n_cycles, 0);
    for (c = 0; c < sp->n_cycles; c++) {
      lua_createtable(L, (int)sp->n_patients, 0);
      for (i = 0; i < sp->n_patients; i++) {
        lua_pushnumber(L, res->tia[i * per + c * sp->n_tia + q]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      lua_rawseti(L, -2, (lua_Integer)c + 1);
    }
    lua_getfield(L, -3, "names");
    lua_geti(L, -1, (lua_Integer)q + 1);
    lua_insert(L, -3);
    lua_pop(L, 1);
    lua_settable(L, -3);
  }
  lua_setfield(L, -2, "tia");

  lua_newtable(L);
  for (i = 0; i < sp->n_patients; i++) {
    if (!res->status[i]) continue;
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)i + 1);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, rkin_err_name(res->status[i]));
    lua_setfield(L, -2, "code");
    lua_rawseti(L, -2, (lua_Integer)++nf);
  }
  if (res->n_failed) {
    lua_pushstring(L, res->first.msg);
    lua_setfield(L, -2, "first_message");
  }
  lua_setfield(L, -2, "failed");
  luaL_setmetatable(L, COHORT_MT);
}

static int cohort_new(lua_State *L)
{
  rkin_cohort_spec sp = {0};
  rkin_cohort_res res = {0};
  rkin_err err;
  const rkin_model *m;
  double *params, *cv, *scale = NULL;
  size_t np, n, n_scale = 0;
  int *tia_idx;
  const char *path_name;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lrk_check_keys(L, 1, CTX, cohort_keys);
  lua_getfield(L, 1, "model");                                   /* 2 */
  if (lua_isnil(L, 2))
    lrk_error(L, CTX ": field 'model' is required (an rk.model)");
  m = lrk_check_model(L, 2);
  np = rkin_model_nparams(m);

  lua_getfield(L, 1, "patients");
  if (!lua_isnil(L, -1)) {
    lua_pop(L, 1);
    n = read_patients(L, &params);                                /* 3 */
  } else {
    double *theta;
    unsigned long seed;
    lua_pop(L, 1);
    n = (size_t)lrk_field_integer(L, 1, CTX, "n", 1, 0);
    if (n < 1 || n > 100000000)
      lrk_error(L, CTX ": field 'n' must be a number of patients in "
                "[1, 1e8] (got %d)", (int)n);
    seed = (unsigned long)lrk_field_integer(L, 1, CTX, "seed", 0, 1);
    params = lua_newuserdatauv(L, n * np * sizeof *params, 0);    /* 3 */
    theta = lua_newuserdatauv(L, np * sizeof *theta, 0);          /* 4 */
    cv = lua_newuserdatauv(L, np * sizeof *cv, 0);                /* 5 */
    lua_getfield(L, 1, "theta");
    lrk_model_params(L, 2, lua_gettop(L), CTX ": field 'theta'", theta);
    lua_pop(L, 1);
    read_cv(L, m, cv);
    if (rkin_vpop_sample(m, theta, cv, seed, n, params, &err))
      lrk_raise(L, NULL, &err);
  }

  sp.model = m;
  sp.n_patients = n;
  sp.params = params;
  sp.n_cycles = (size_t)lrk_field_integer(L, 1, CTX, "cycles", 0, 1);
  if (sp.n_cycles < 1 || sp.n_cycles > 1000)
    lrk_error(L, CTX ": field 'cycles' must be in [1, 1000] (got %d)",
              (int)sp.n_cycles);
  sp.cycle_h = lrk_field_number(L, 1, CTX, "interval_h", 1, 0);
  lua_getfield(L, 1, "doses");
  if (!lua_istable(L, -1))
    lrk_error(L, CTX ": field 'doses' is required (the doses of one cycle, "
              "e.g. { {time = 0, amount = 7400, to = \"P\"} })");
  sp.dosing = lrk_check_doses(L, 2, lua_gettop(L), CTX);
  scale = lrk_field_numbers(L, 1, CTX, "activity_factors", 0, &n_scale);
  if (scale) {
    double *keep = lua_newuserdatauv(L, n_scale * sizeof *keep, 0);
    memcpy(keep, scale, n_scale * sizeof *keep);
    free(scale);
    scale = keep;
    if (n_scale != sp.n_cycles)
      lrk_error(L, CTX ": field 'activity_factors' has %d values for %d "
                "cycles", (int)n_scale, (int)sp.n_cycles);
  }
  sp.cycle_scale = scale;
  tia_idx = read_tia(L, m, &sp.n_tia);
  sp.tia = tia_idx;
  rkin_solve_opts_default(&sp.opts);
  sp.opts.rtol = lrk_field_number(L, 1, CTX, "rtol", 0, sp.opts.rtol);
  sp.opts.atol = lrk_field_number(L, 1, CTX, "atol", 0, sp.opts.atol);
  sp.opts.path = read_path(L);
  sp.threads = (int)lrk_field_integer(L, 1, CTX, "threads", 0, 0);
  if (sp.threads < 0)
    lrk_error(L, CTX ": field 'threads' must be >= 0 (0: all cores)");
  if (lrk_field_boolean(L, 1, CTX, "progress", isatty(2)))
    sp.progress = progress_bar;

  res.tia = lua_newuserdatauv(L, n * sp.n_cycles * sp.n_tia * sizeof(double),
                              0);
  res.status = lua_newuserdatauv(L, n * sizeof(int), 0);
  if (rkin_cohort_run(&sp, &res, &err)) lrk_raise(L, CTX, &err);
  if (sp.opts.path == RKIN_PATH_AUTO)
    path_name = rkin_model_is_linear(m) && rkin_model_outputs_linear(m)
                  ? "exact" : "cvodes";
  else
    path_name = sp.opts.path == RKIN_PATH_EXACT ? "exact" : "cvodes";
  push_result(L, &sp, &res, tia_idx, path_name);
  return 1;
}

/* The cycle-c values of quantity `name` (arg 2) as a sorted copy, failed
 * patients (NaN) dropped; pushes nothing, returns count. */
static size_t sorted_cycle(lua_State *L, int c, double *buf, size_t n)
{
  size_t i, k = 0;
  lua_geti(L, -1, c);
  for (i = 1; i <= n; i++) {
    double v;
    lua_geti(L, -1, (lua_Integer)i);
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (isfinite(v)) buf[k++] = v;
  }
  lua_pop(L, 1);
  gsl_sort(buf, 1, k);
  return k;
}

/* c:summary([name]) -> { {cycle=, n=, mean=, median=, p5=, p95=}, ... }
 * for quantity name (default the first). */
static int cohort_summary(lua_State *L)
{
  size_t n, cycles, k;
  int c;
  double *buf;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (size_t)lrk_field_integer(L, 1, "c:summary", "n", 1, 0);
  cycles = (size_t)lrk_field_integer(L, 1, "c:summary", "cycles", 1, 0);
  if (lua_isnoneornil(L, 2)) {
    lua_getfield(L, 1, "names");
    lua_geti(L, -1, 1);
    lua_replace(L, 2);
    lua_pop(L, 1);
  }
  lua_settop(L, 2);
  lua_getfield(L, 1, "tia");
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);                                            /* 4 */
  if (!lua_istable(L, -1))
    lrk_error(L, "c:summary: no TIA named '%s' in this cohort",
              luaL_tolstring(L, 2, NULL));
  buf = lua_newuserdatauv(L, (n ? n : 1) * sizeof *buf, 0);       /* 5 */
  lua_pushvalue(L, 4);                                            /* 6 */
  lua_createtable(L, (int)cycles, 0);                             /* 7 */
  for (c = 1; c <= (int)cycles; c++) {
    lua_pushvalue(L, 6);
    k = sorted_cycle(L, c, buf, n);
    lua_pop(L, 1);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, c);
    lua_setfield(L, -2, "cycle");
    lua_pushinteger(L, (lua_Integer)k);
    lua_setfield(L, -2, "n");
    if (k) {
      lua_pushnumber(L, gsl_stats_mean(buf, 1, k));
      lua_setfield(L, -2, "mean");
      lua_pushnumber(L, gsl_stats_median_from_sorted_data(buf, 1, k));
      lua_setfield(L, -2, "median");
      lua_pushnumber(L, gsl_stats_quantile_from_sorted_data(buf, 1, k, 0.05));
      lua_setfield(L, -2, "p5");
      lua_pushnumber(L, gsl_stats_quantile_from_sorted_data(buf, 1, k, 0.95));
      lua_setfield(L, -2, "p95");
    }
    lua_rawseti(L, 7, c);
  }
  return 1;
}

/* A growing text buffer in a userdata-free malloc block; the caller frees.
 * (luaL_Buffer cannot be used here: the loop reads tables on the stack
 * between additions.) */
typedef struct {
  char *p;
  size_t len, cap;
  int failed;
} text;

static void text_add(text *t, const char *s)
{
  size_t n = strlen(s);
  if (t->failed) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 4096;
    char *p;
    while (cap < t->len + n + 1) cap *= 2;
    p = realloc(t->p, cap);
    if (!p) {
      t->failed = 1;
      return;
    }
    t->p = p;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n + 1);
  t->len += n;
}

/* Pushes the parameter names of patient 1, sorted (a fixed column order). */
static void push_param_names(lua_State *L, int params)
{
  int i = 0;
  lua_newtable(L);
  lua_geti(L, params, 1);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -4, ++i);
  }
  lua_pop(L, 1);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
}

/* The header line: id, parameters, <name>_c<k>_MBqh. */
static void csv_header(lua_State *L, text *t, size_t len, size_t nq,
                       size_t cycles)
{
  size_t i, q, c;
  char col[160];
  text_add(t, "id");
  for (i = 1; i <= len; i++) {
    lua_geti(L, 6, (lua_Integer)i);
    text_add(t, ",");
    text_add(t, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  for (q = 1; q <= nq; q++)
    for (c = 1; c <= cycles; c++) {
      lua_geti(L, 3, (lua_Integer)q);
      snprintf(col, sizeof col, ",%s_c%zu_MBqh", lua_tostring(L, -1), c);
      lua_pop(L, 1);
      text_add(t, col);
    }
  text_add(t, "\n");
}

/* Patient i's row. Stack: 3 names, 4 params, 5 tia, 6 param names. */
static void csv_row(lua_State *L, text *t, size_t i, size_t len, size_t nq,
                    size_t cycles)
{
  char num[40];
  size_t j, q, c;
  snprintf(num, sizeof num, "%zu", i);
  text_add(t, num);
  lua_geti(L, 4, (lua_Integer)i);
  for (j = 1; j <= len; j++) {
    lua_geti(L, 6, (lua_Integer)j);
    lua_gettable(L, -2);
    snprintf(num, sizeof num, ",%.10g", lua_tonumber(L, -1));
    lua_pop(L, 1);
    text_add(t, num);
  }
  lua_pop(L, 1);
  for (q = 1; q <= nq; q++)
    for (c = 1; c <= cycles; c++) {
      double v;
      lua_geti(L, 3, (lua_Integer)q);
      lua_gettable(L, 5);
      lua_geti(L, -1, (lua_Integer)c);
      lua_geti(L, -1, (lua_Integer)i);
      v = lua_tonumber(L, -1);
      lua_pop(L, 3);
      /* A failed patient's TIA is an empty field, never a number. */
      if (isfinite(v)) snprintf(num, sizeof num, ",%.10g", v);
      else snprintf(num, sizeof num, ",");
      text_add(t, num);
    }
  text_add(t, "\n");
}

/* c:write_csv(path): id, parameters, then <name>_c<k>_MBqh; atomic. */
static int cohort_write_csv(lua_State *L)
{
  const char *path = luaL_checkstring(L, 2);
  size_t n, cycles, nq, i, len;
  text t = {0};
  rkin_err err;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  n = (size_t)lrk_field_integer(L, 1, "c:write_csv", "n", 1, 0);
  cycles = (size_t)lrk_field_integer(L, 1, "c:write_csv", "cycles", 1, 0);
  lua_getfield(L, 1, "names");                                     /* 3 */
  nq = (size_t)luaL_len(L, 3);
  lua_getfield(L, 1, "params");                                    /* 4 */
  lua_getfield(L, 1, "tia");                                       /* 5 */
  push_param_names(L, 4);                                          /* 6 */
  len = (size_t)luaL_len(L, 6);
  csv_header(L, &t, len, nq, cycles);
  for (i = 1; i <= n; i++) csv_row(L, &t, i, len, nq, cycles);
  if (t.failed) {
    free(t.p);
    return lrk_error(L, "c:write_csv: out of memory");
  }
  rc = lrk_write_atomic(path, t.p, t.len, &err);
  free(t.p);
  if (rc) lrk_raise(L, "c:write_csv", &err);
  return 0;
}

int luaopen_radiokin_cohort(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"summary", cohort_summary},
    {"write_csv", cohort_write_csv},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, COHORT_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  /* The module is the function itself: rk.cohort{...}. */
  lua_pushcfunction(L, cohort_new);
  return 1;
}
