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
#include "lrk_dist.h"
#include "lrk_cohort.h"
#include "core/model.h"
#include "modules.h"
#include "pop/vpop.h"

#define COHORT_MT "radiokin.cohort"
#define CTX "rk.cohort"
#define MAX_CYCLES 1000

static const char *const cohort_keys[] = {
  "model", "n", "seed", "cv", "theta", "patients", "cycles", "interval_h",
  "doses", "activity_factors", "tia", "path", "rtol", "atol", "threads",
  "progress", "csv", "chunk", "quantiles", "limits", "jacobian", "batch",
  NULL
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

/* path = and jacobian = of rk.cohort (the order of the enums). */
static const char *const path_names[] = {"auto", "cvodes", "exact", NULL};
static const rkin_path path_values[] = {RKIN_PATH_AUTO, RKIN_PATH_CVODES,
                                        RKIN_PATH_EXACT};
static const char *const jac_names[] = {"auto", "dense", "sparse", NULL};
static const rkin_jacobian jac_values[] = {RKIN_JAC_AUTO, RKIN_JAC_DENSE,
                                           RKIN_JAC_SPARSE};

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

/* Runs the cohort over the MPI ranks (one rank: the whole cohort here):
 * rank r solves its block of patients (lrk_dist_range) into its slots of
 * res, then every rank gathers every block, so all ranks hold the same
 * full result and take the same path through the rest of the script.
 * Each patient's result depends only on its own parameters, so the
 * numbers do not depend on the number of ranks or threads. A call-level
 * failure on any rank raises on every rank (never a hang). */
/* Collective: every rank's len bytes at mine, concatenated in rank order
 * into all (whole bytes; the blocks' sum must be whole). */
static int gather_block(const void *mine, size_t len, void *all,
                        size_t whole, rkin_err *err)
{
  char *cat;
  size_t total;
  int rc = lrk_dist_allgather_bytes(mine, len, &cat, &total, err);
  if (rc) return rc;
  if (total != whole) {
    free(cat);
    return rkin_err_set(err, RKIN_EINVAL, "MPI gather: %zu bytes for %zu",
                        total, whole);
  }
  if (total) memmove(all, cat, total);
  free(cat);
  return RKIN_OK;
}

static void run_over_ranks(lua_State *L, const rkin_cohort_spec *sp,
                           rkin_cohort_res *res)
{
  size_t np = rkin_model_nparams(sp->model), per = sp->n_cycles * sp->n_tia;
  size_t lo, hi, first, nf;
  int rank = lrk_dist_rank(), size = lrk_dist_size(), rc = 0, owner;
  rkin_cohort_spec mine = *sp;
  rkin_cohort_res part = {0};
  rkin_err err;

  size_t B = rkin_cohort_batch(sp);
  rkin_err_clear(&err);
  /* in whole groups of B (the batches integrated together): each rank
   * runs the groups the whole cohort would */
  lrk_dist_range((sp->n_patients + B - 1) / B, rank, size, &lo, &hi);
  lo *= B;
  hi = hi * B < sp->n_patients ? hi * B : sp->n_patients;
  if (lo > hi) lo = hi;
  mine.n_patients = hi - lo;
  mine.params = sp->params + lo * np;
  mine.first_id = lo;
  mine.threads = lrk_dist_threads(sp->threads);
  if (rank != 0) mine.progress = NULL;      /* one bar, rank 0's part */
  part.tia = res->tia + lo * per;
  part.status = res->status + lo;
  /* more ranks than patients: this one has none (never an engine call
   * with zero patients) */
  if (hi > lo) rc = rkin_cohort_run(&mine, &part, &err);
  lrk_dist_agree(L, CTX, rc, &err);
  /* (the blocks are whole groups, not lrk_dist_range's: gathered as
   * bytes, concatenated in rank order) */
  if (gather_block(res->tia + lo * per, (hi - lo) * per * sizeof *res->tia,
                   res->tia, sp->n_patients * per * sizeof *res->tia, &err)
      || gather_block(res->status + lo, (hi - lo) * sizeof *res->status,
                      res->status, sp->n_patients * sizeof *res->status,
                      &err))
    lrk_raise(L, CTX, &err);
  res->n_steps = lrk_dist_sum_long(part.n_steps);
  nf = (size_t)lrk_dist_sum_long((long)part.n_failed);
  res->n_failed = nf;
  first = lrk_dist_min_size(part.n_failed ? lo + part.first_failed
                                          : sp->n_patients);
  res->first_failed = first;
  res->first = part.first;
  if (!nf) return;
  /* the first failed patient's message, from the rank that solved it */
  for (owner = 0; owner < size; owner++) {
    size_t a, b;
    lrk_dist_range(sp->n_patients, owner, size, &a, &b);
    if (first >= a && first < b) break;
  }
  if (lrk_dist_bcast(&res->first, sizeof res->first, owner, &err))
    lrk_raise(L, CTX, &err);
}

/* The sampler of a streamed cohort, freed by Lua (__gc) on any exit. */
#define SAMPLER_MT "radiokin.cohort_sampler"
static int sampler_gc(lua_State *L)
{
  rkin_vpop_sampler **s = luaL_checkudata(L, 1, SAMPLER_MT);
  rkin_vpop_sampler_free(*s);
  *s = NULL;
  return 0;
}

static rkin_vpop_sampler **push_sampler_slot(lua_State *L)
{
  rkin_vpop_sampler **s = lua_newuserdatauv(L, sizeof *s, 0);
  *s = NULL;
  if (luaL_newmetatable(L, SAMPLER_MT)) {
    lua_pushcfunction(L, sampler_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return s;
}

/* quantiles = {...} (default 5, 50, 95 %) and limits = {name = MBq h}
 * of a streamed cohort; tia names in `names`. Pushes two userdata. */
static void read_stream_opts(lua_State *L, lrk_stream_opts *o,
                             size_t n_tia)
{
  static const double def_q[] = {0.05, 0.5, 0.95};
  size_t j;
  double *lim;
  if (lua_getfield(L, 1, "quantiles") != LUA_TNIL) {
    double *v = lrk_numbers(L, -1, CTX, "field 'quantiles'", &o->nq);
    lua_remove(L, -2);
    for (j = 0; j < o->nq; j++)
      if (!(v[j] >= 0 && v[j] <= 1))
        lrk_error(L, CTX ": quantiles[%d] must be a probability in [0, 1] "
                  "(got %f)", (int)j + 1, v[j]);
    o->qs = v;
  } else {
    lua_pop(L, 1);
    o->qs = def_q;
    o->nq = 3;
    lua_pushnil(L);
  }
  lim = lua_newuserdatauv(L, n_tia * sizeof *lim, 0);
  for (j = 0; j < n_tia; j++) lim[j] = NAN;
  if (lua_getfield(L, 1, "limits") != LUA_TNIL) {
    if (!lua_istable(L, -1))
      lrk_error(L, CTX ": field 'limits' must be a table {name = MBq h} "
                "(got %s)", luaL_typename(L, -1));
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                     : NULL;
      for (j = 0; k && j < n_tia; j++)
        if (!strcmp(o->names[j], k)) break;
      if (!k || j == n_tia)
        lrk_error(L, CTX ": limits: '%s' is not one of the field 'tia' "
                  "names", k ? k : "(not a name)");
      if (!lua_isnumber(L, -1) || !isfinite(lua_tonumber(L, -1)))
        lrk_error(L, CTX ": limits.%s must be a finite number (MBq h; got "
                  "%s)", k, lrk_got(L, -1));
      lim[j] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  o->limits = lim;
}

/* Bytes one patient of a cohort takes: parameters, TIAs and status in C,
 * then the result's Lua tables (its params table, its TIA entries). */
static double patient_bytes(size_t np, size_t cycles, size_t n_tia)
{
  return (double)np * sizeof(double) +
         (double)(cycles * n_tia) * (sizeof(double) + 16) + sizeof(int) +
         lrk_table_bytes(0, np) + 16;
}

/* The path the solver takes: an output is integrated on the exact path
 * when it is linear in the states. */
static const char *cohort_path_name(const rkin_cohort_spec *sp,
                                    const int *tia_idx)
{
  const rkin_model *m = sp->model;
  int out_tia = 0;
  size_t q;
  if (sp->opts.path != RKIN_PATH_AUTO)
    return sp->opts.path == RKIN_PATH_EXACT ? "exact" : "cvodes";
  for (q = 0; q < sp->n_tia; q++)
    out_tia |= (size_t)tia_idx[q] >= rkin_model_nstates(m);
  return rkin_model_is_linear(m) && (rkin_model_outputs_linear(m) || !out_tia)
           ? "exact" : "cvodes";
}

static int cohort_new(lua_State *L)
{
  rkin_cohort_spec sp = {0};
  rkin_cohort_res res = {0};
  rkin_err err;
  const rkin_model *m;
  double *params, *cv, *scale = NULL, each;
  size_t np, n, n_scale = 0, n_tia;
  int *tia_idx;
  const char *path_name, *csv;
  rkin_vpop_sampler **smp = NULL;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lrk_check_keys(L, 1, CTX, cohort_keys);
  lua_getfield(L, 1, "model");                                   /* 2 */
  if (lua_isnil(L, 2))
    lrk_error(L, CTX ": field 'model' is required (an rk.model)");
  m = lrk_check_model(L, 2);
  np = rkin_model_nparams(m);

  /* Counts first, so the memory estimate comes before any allocation. */
  sp.n_cycles = (size_t)lrk_field_count(L, 1, CTX, "cycles", 0, 1, 1,
                                        MAX_CYCLES);
  lua_getfield(L, 1, "tia");
  n_tia = lua_istable(L, -1) ? (size_t)lua_rawlen(L, -1) : 1;
  lua_pop(L, 1);
  each = patient_bytes(np, sp.n_cycles, n_tia);

  csv = lrk_field_string(L, 1, CTX, "csv", 0, NULL);
  lua_getfield(L, 1, "patients");
  if (csv && !lua_isnil(L, -1))
    lrk_error(L, CTX ": field 'csv' streams sampled patients (n, seed, cv, "
              "theta); patients given as a table are in memory already: "
              "use c:write_csv");
  if (csv && (!*csv || !strcmp(csv, "-")))
    lrk_error(L, CTX ": field 'csv' must be a file name (got \"%s\")", csv);
  if (!lua_isnil(L, -1)) {
    lua_pop(L, 1);
    n = read_patients(L, &params);                                /* 3 */
    lrk_check_memory(L, CTX, (double)n, "patients", each);
  } else {
    double *theta;
    unsigned long seed;
    lua_pop(L, 1);
    n = (size_t)lrk_field_count(L, 1, CTX, "n", 1, 0, 1, LRK_MAX_PATIENTS);
    seed = (unsigned long)lrk_field_count(L, 1, CTX, "seed", 0, 1, 0,
                                          LRK_MAX_SEED);
    /* streamed: three columns of n doubles for the exact summaries */
    lrk_check_memory(L, CTX, (double)n, "patients",
                     csv ? 3 * sizeof(double) : each);
    params = csv ? NULL : lua_newuserdatauv(L, n * np * sizeof *params, 0);
    if (csv) lua_pushnil(L);                                      /* 3 */
    theta = lua_newuserdatauv(L, np * sizeof *theta, 0);          /* 4 */
    cv = lua_newuserdatauv(L, np * sizeof *cv, 0);                /* 5 */
    lua_getfield(L, 1, "theta");
    lrk_model_params(L, 2, lua_gettop(L), CTX ": field 'theta'", theta);
    lua_pop(L, 1);
    read_cv(L, m, cv);
    if (csv) {
      smp = push_sampler_slot(L);
      if (!(*smp = rkin_vpop_sampler_new(m, theta, cv, seed, &err)))
        lrk_raise(L, NULL, &err);
    } else if (rkin_vpop_sample(m, theta, cv, seed, n, params, &err))
      lrk_raise(L, NULL, &err);
  }

  sp.model = m;
  sp.n_patients = n;
  sp.params = params;
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
  sp.opts.path = path_values[lrk_field_enum(L, 1, CTX, "path", path_names,
                                            0)];
  sp.opts.jacobian = jac_values[lrk_field_enum(L, 1, CTX, "jacobian",
                                               jac_names, 0)];
  sp.threads = (int)lrk_field_count(L, 1, CTX, "threads", 0, 0, 0,
                                    LRK_MAX_THREADS);
  sp.batch = (size_t)lrk_field_count(L, 1, CTX, "batch", 0, 0, 0, 4096);
  if (lrk_field_boolean(L, 1, CTX, "progress", isatty(2)) &&
      lrk_dist_rank() == 0)
    sp.progress = progress_bar;

  if (csv) {
    lrk_stream_opts so;
    size_t q, ns = rkin_model_nstates(m);
    const char **names = lua_newuserdatauv(L, sp.n_tia * sizeof *names, 0);
    memset(&so, 0, sizeof so);
    for (q = 0; q < sp.n_tia; q++)
      names[q] = (size_t)tia_idx[q] < ns
                   ? rkin_model_state_name(m, (size_t)tia_idx[q])
                   : rkin_model_output_name(m, tia_idx[q] - ns);
    so.names = names;
    so.csv = csv;
    so.chunk = (size_t)lrk_field_count(L, 1, CTX, "chunk", 0, 8192, 1,
                                       1 << 20);
    read_stream_opts(L, &so, sp.n_tia);
    so.path_name = cohort_path_name(&sp, tia_idx);
    lrk_cohort_stream(L, &sp, *smp, &so);
    return 1;
  }
  if (lrk_field_count(L, 1, CTX, "chunk", 0, 1, 1, 1 << 20) != 1 ||
      !lua_isnil(L, (lua_getfield(L, 1, "quantiles"), -1)) ||
      !lua_isnil(L, (lua_getfield(L, 1, "limits"), -1)))
    lrk_error(L, CTX ": fields 'chunk', 'quantiles' and 'limits' belong to "
              "a streamed cohort (csv = path)");
  lua_pop(L, 2);

  res.tia = lua_newuserdatauv(L, n * sp.n_cycles * sp.n_tia * sizeof(double),
                              0);
  res.status = lua_newuserdatauv(L, n * sizeof(int), 0);
  run_over_ranks(L, &sp, &res);
  path_name = cohort_path_name(&sp, tia_idx);
  push_result(L, &sp, &res, tia_idx, path_name);
  /* The patients given (with their cov and eta) stay with the result, for
   * c:write_csv{covariates =, etas =}. */
  lua_getfield(L, 1, "patients");
  lua_setfield(L, -2, "patients");
  return 1;
}

/* Adds cycle c of tia[name] (the table at `q`) to acc (n patients);
 * a failed patient (NaN) stays NaN. Raises on a value that is not a
 * number (a hand-made or damaged result). */
static void add_cycle(lua_State *L, int q, int c, double *acc, size_t n,
                      int cumulative)
{
  size_t i;
  if (lua_geti(L, q, c) != LUA_TTABLE)
    lrk_error(L, "c:summary: the TIAs of cycle %d are missing", c);
  for (i = 1; i <= n; i++) {
    if (lua_geti(L, -1, (lua_Integer)i) != LUA_TNUMBER)
      lrk_error(L, "c:summary: the TIA of patient %d in cycle %d is not a "
                "number (got %s)", (int)i, c, luaL_typename(L, -1));
    acc[i - 1] = (cumulative ? acc[i - 1] : 0) + lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* c:summary of a streamed cohort: the rows computed while streaming
 * (quantiles as asked in rk.cohort{quantiles = ...}). */
static int streamed_summary(lua_State *L)
{
  static const char *const keys[] = {"cumulative", NULL};
  int cumulative = 0;
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    if (lua_getfield(L, 3, "quantiles") != LUA_TNIL)
      lrk_error(L, "c:summary: this cohort was streamed to its CSV; its "
                "quantiles are the ones asked for in rk.cohort{quantiles = "
                "...}");
    lua_pop(L, 1);
    lrk_check_keys(L, 3, "c:summary", keys);
    cumulative = lrk_field_boolean(L, 3, "c:summary", "cumulative", 0);
  }
  if (lua_isnil(L, 2)) {
    lua_getfield(L, 1, "names");
    lua_geti(L, -1, 1);
    lua_replace(L, 2);
  }
  lua_getfield(L, 1, cumulative ? "cumulative_summaries" : "summaries");
  if (!lua_istable(L, -1))
    lrk_error(L, "c:summary: the streamed cohort has no summaries");
  lua_pushvalue(L, 2);
  if (lua_gettable(L, -2) != LUA_TTABLE)
    lrk_error(L, "c:summary: no TIA named '%s' in this cohort",
              luaL_tolstring(L, 2, NULL));
  return 1;
}

/* Pushes the key of quantile q: "p5" for 0.05, "p2.5" for 0.025. */
static const char *quantile_key(lua_State *L, double q)
{
  char s[40];
  snprintf(s, sizeof s, "p%g", 100 * q);
  return lua_pushstring(L, s);
}

/* c:summary([name] [, {quantiles = {...}, cumulative = bool}]) -> one row
 * per cycle {cycle=, n=, mean=, sd=, min=, max=, median=, q = {...},
 * p5=, p95=, ...} for quantity `name` (default: the first). Quantiles are
 * GSL's gsl_stats_quantile_from_sorted_data (linear interpolation between
 * order statistics, Hyndman & Fan type 7): x[i] + d (x[i+1] - x[i]) with
 * i + d = (k - 1) q over the k patients that did not fail. cumulative:
 * each patient's TIA summed over cycles 1..cycle. */
static int cohort_summary(lua_State *L)
{
  static const char *const keys[] = {"quantiles", "cumulative", NULL};
  static const double def_q[] = {0.05, 0.5, 0.95};
  size_t n, cycles, k, nq = 3, j;
  int c, cumulative = 0;
  double *buf, *acc;
  const double *qs = def_q;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_istable(L, 2)) {             /* c:summary{...}: default name */
    lua_settop(L, 2);
    lua_pushnil(L);
    lua_insert(L, 2);
  }
  lua_settop(L, 3);
  if (lua_getfield(L, 1, "streamed") == LUA_TBOOLEAN && lua_toboolean(L, -1))
    return streamed_summary(L);
  lua_pop(L, 1);
  n = (size_t)lrk_field_count(L, 1, "c:summary", "n", 1, 0, 0,
                              LRK_MAX_PATIENTS);
  cycles = (size_t)lrk_field_count(L, 1, "c:summary", "cycles", 1, 0, 0,
                                   MAX_CYCLES);
  if (!lua_isnil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lrk_check_keys(L, 3, "c:summary", keys);
    cumulative = lrk_field_boolean(L, 3, "c:summary", "cumulative", 0);
    if (lua_getfield(L, 3, "quantiles") != LUA_TNIL) {
      double *v = lrk_numbers(L, -1, "c:summary", "field 'quantiles'", &nq);
      for (j = 0; j < nq; j++)
        if (!(v[j] >= 0 && v[j] <= 1))
          lrk_error(L, "c:summary: quantiles[%d] must be a probability in "
                    "[0, 1] (got %f)", (int)j + 1, v[j]);
      qs = v;                          /* kept alive on the stack */
    } else {
      lua_pop(L, 1);
    }
  }
  if (lua_isnil(L, 2)) {
    lua_getfield(L, 1, "names");
    lua_geti(L, -1, 1);
    lua_replace(L, 2);
    lua_pop(L, 1);
  }
  lua_getfield(L, 1, "tia");
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  if (!lua_istable(L, -1))
    lrk_error(L, "c:summary: no TIA named '%s' in this cohort",
              luaL_tolstring(L, 2, NULL));
  {
    int q = lua_gettop(L), out;
    buf = lrk_scratch(L, n, sizeof *buf);
    acc = lrk_scratch(L, n, sizeof *acc);
    lua_createtable(L, (int)cycles, 0);
    out = lua_gettop(L);
    for (c = 1; c <= (int)cycles; c++) {
      size_t i;
      add_cycle(L, q, c, acc, n, cumulative);
      for (i = k = 0; i < n; i++)
        if (isfinite(acc[i])) buf[k++] = acc[i];
      gsl_sort(buf, 1, k);
      lua_createtable(L, 0, 10);
      lua_pushinteger(L, c);
      lua_setfield(L, -2, "cycle");
      lua_pushinteger(L, (lua_Integer)k);
      lua_setfield(L, -2, "n");
      if (k) {
        lua_pushnumber(L, gsl_stats_mean(buf, 1, k));
        lua_setfield(L, -2, "mean");
        lua_pushnumber(L, k > 1 ? gsl_stats_sd(buf, 1, k) : 0);
        lua_setfield(L, -2, "sd");
        lua_pushnumber(L, buf[0]);
        lua_setfield(L, -2, "min");
        lua_pushnumber(L, buf[k - 1]);
        lua_setfield(L, -2, "max");
        lua_pushnumber(L, gsl_stats_median_from_sorted_data(buf, 1, k));
        lua_setfield(L, -2, "median");
        lua_createtable(L, (int)nq, 0);
        for (j = 0; j < nq; j++) {
          double v = gsl_stats_quantile_from_sorted_data(buf, 1, k, qs[j]);
          lua_pushnumber(L, v);
          lua_rawseti(L, -2, (lua_Integer)j + 1);
          quantile_key(L, qs[j]);
          lua_pushnumber(L, v);
          lua_rawset(L, -4);
        }
        lua_setfield(L, -2, "q");
      }
      lua_rawseti(L, out, c);
    }
  }
  return 1;
}

/* A growing text buffer held in a userdata at stack slot `slot`: growing
 * replaces it with a larger one, so a raise half-way leaks nothing.
 * (luaL_Buffer cannot be used here: the loop reads tables on the stack
 * between additions.) */
typedef struct {
  lua_State *L;
  int slot;
  char *p;
  size_t len, cap;
} text;

static void text_add(text *t, const char *s)
{
  size_t n = strlen(s);
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 4096;
    char *p;
    while (cap < t->len + n + 1) cap *= 2;
    p = lua_newuserdatauv(t->L, cap, 0);   /* raises when out of memory */
    if (t->len) memcpy(p, t->p, t->len);
    lua_replace(t->L, t->slot);
    t->p = p;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n + 1);
  t->len += n;
}

/* Pushes the keys of the table at idx (nil: none), sorted (a fixed
 * column order). */
static void push_sorted_keys(lua_State *L, int idx)
{
  int i = 0;
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  if (lua_istable(L, idx)) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING) continue;
      lua_pushvalue(L, -1);
      lua_rawseti(L, -3, ++i);
    }
  }
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, -3);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
}

/* Stack of c:write_csv: 3 names, 4 params, 5 tia, 6 parameter names,
 * 7 patients (or nil), 8 covariate names, 9 eta names. */
enum { S_NAMES = 3, S_PARAMS, S_TIA, S_PNAMES, S_PATIENTS, S_COVS, S_ETAS };

/* Adds ",prefix<name>" for every name of the list at idx. */
static void header_names(lua_State *L, text *t, int idx, const char *prefix)
{
  lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
  for (i = 1; i <= len; i++) {
    lua_rawgeti(L, idx, i);
    text_add(t, ",");
    text_add(t, prefix);
    text_add(t, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

/* The header line: id, parameters, cov.<name>, eta.<name>,
 * <name>_c<k>_MBqh. */
static void csv_header(lua_State *L, text *t, size_t nq, size_t cycles)
{
  size_t q, c;
  char col[160];
  text_add(t, "id");
  header_names(L, t, S_PNAMES, "");
  header_names(L, t, S_COVS, "cov.");
  header_names(L, t, S_ETAS, "eta.");
  for (q = 1; q <= nq; q++)
    for (c = 1; c <= cycles; c++) {
      lua_geti(L, S_NAMES, (lua_Integer)q);
      snprintf(col, sizeof col, ",%s_c%zu_MBqh", lua_tostring(L, -1), c);
      lua_pop(L, 1);
      text_add(t, col);
    }
  text_add(t, "\n");
}

/* Adds the numbers of table `from` (at idx; a subtable `sub` of it when
 * sub is not NULL) for the names of the list at `names`. Raises naming the
 * patient and the value when one is missing. */
static void row_values(lua_State *L, text *t, int idx, const char *sub,
                       int names, size_t i)
{
  char num[40];
  lua_Integer j, len = (lua_Integer)lua_rawlen(L, names);
  idx = lua_absindex(L, idx);
  if (sub && (!lua_istable(L, idx) || lua_getfield(L, idx, sub) !=
              LUA_TTABLE))
    lrk_error(L, "c:write_csv: patients[%d] has no table '%s'", (int)i, sub);
  if (!sub) lua_pushvalue(L, idx);
  for (j = 1; j <= len; j++) {
    const char *name;
    lua_rawgeti(L, names, j);
    name = lua_tostring(L, -1);
    lua_pushvalue(L, -1);
    if (lua_gettable(L, -3) != LUA_TNUMBER)
      lrk_error(L, "c:write_csv: patients[%d] has no number %s%s%s", (int)i,
                sub ? sub : "", sub ? "." : "", name);
    lua_remove(L, -2);
    snprintf(num, sizeof num, ",%.10g", lua_tonumber(L, -1));
    lua_pop(L, 1);
    text_add(t, num);
  }
  lua_pop(L, 1);
}

/* Patient i's row. */
static void csv_row(lua_State *L, text *t, size_t i, size_t nq,
                    size_t cycles)
{
  char num[40];
  size_t q, c;
  int pat;
  if (lua_isnil(L, S_PATIENTS)) lua_pushnil(L);
  else lua_geti(L, S_PATIENTS, (lua_Integer)i);
  pat = lua_gettop(L);
  /* The patient's own id (pop:read_csv keeps the file's) when it has one. */
  if (lua_istable(L, pat) && lua_getfield(L, pat, "id") == LUA_TNUMBER)
    snprintf(num, sizeof num, "%.15g", lua_tonumber(L, -1));
  else
    snprintf(num, sizeof num, "%zu", i);
  lua_settop(L, pat);
  text_add(t, num);
  lua_geti(L, S_PARAMS, (lua_Integer)i);
  row_values(L, t, -1, NULL, S_PNAMES, i);
  lua_pop(L, 1);
  if (lua_rawlen(L, S_COVS)) row_values(L, t, pat, "cov", S_COVS, i);
  if (lua_rawlen(L, S_ETAS)) row_values(L, t, pat, "eta", S_ETAS, i);
  lua_settop(L, pat - 1);
  for (q = 1; q <= nq; q++)
    for (c = 1; c <= cycles; c++) {
      double v;
      lua_geti(L, S_NAMES, (lua_Integer)q);
      lua_gettable(L, S_TIA);
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

/* Pushes the sorted names of patients[1][sub] (cov or eta) when `want`,
 * else an empty list; raises when they are wanted and absent. */
static void push_extra_names(lua_State *L, int want, const char *sub,
                             const char *what)
{
  if (!want) {
    lua_newtable(L);
    return;
  }
  if (lua_isnil(L, S_PATIENTS) || lua_geti(L, S_PATIENTS, 1) != LUA_TTABLE ||
      lua_getfield(L, -1, sub) != LUA_TTABLE)
    lrk_error(L, "c:write_csv: %s = true needs patients with %s tables "
              "(from rk.population's pop:sample or pop:read_csv, given as "
              "rk.cohort{patients = ...})", what, sub);
  push_sorted_keys(L, -1);
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* c:write_csv(path [, {covariates = bool, etas = bool}]): id, parameters,
 * then cov.<name> and eta.<name> when asked, then <name>_c<k>_MBqh;
 * atomic. */
static int cohort_write_csv(lua_State *L)
{
  static const char *const keys[] = {"covariates", "etas", NULL};
  const char *path = luaL_checkstring(L, 2);
  size_t n, cycles, nq, i;
  int covs = 0, etas = 0;
  text t;
  rkin_err err;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lrk_check_keys(L, 3, "c:write_csv", keys);
    covs = lrk_field_boolean(L, 3, "c:write_csv", "covariates", 0);
    etas = lrk_field_boolean(L, 3, "c:write_csv", "etas", 0);
  }
  lua_settop(L, 2);
  if (lua_getfield(L, 1, "csv") == LUA_TSTRING)
    lrk_error(L, "c:write_csv: this cohort was streamed: its rows are in "
              "'%s' already", lua_tostring(L, -1));
  lua_pop(L, 1);
  n = (size_t)lrk_field_count(L, 1, "c:write_csv", "n", 1, 0, 0,
                              LRK_MAX_PATIENTS);
  cycles = (size_t)lrk_field_count(L, 1, "c:write_csv", "cycles", 1, 0, 0,
                                   MAX_CYCLES);
  lua_getfield(L, 1, "names");                               /* S_NAMES */
  nq = (size_t)luaL_len(L, S_NAMES);
  lua_getfield(L, 1, "params");                              /* S_PARAMS */
  lua_getfield(L, 1, "tia");                                 /* S_TIA */
  lua_geti(L, S_PARAMS, 1);
  push_sorted_keys(L, -1);                                   /* S_PNAMES */
  lua_remove(L, -2);
  lua_getfield(L, 1, "patients");                            /* S_PATIENTS */
  push_extra_names(L, covs, "cov", "covariates");            /* S_COVS */
  push_extra_names(L, etas, "eta", "etas");                  /* S_ETAS */
  lua_pushnil(L);                                    /* the text buffer */
  memset(&t, 0, sizeof t);
  t.L = L;
  t.slot = lua_gettop(L);
  csv_header(L, &t, nq, cycles);
  for (i = 1; i <= n; i++) csv_row(L, &t, i, nq, cycles);
  rc = lrk_write_atomic(path, t.p, t.len, &err);
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
