/* l_popcheck.c - the engine side of checking a population fit, in
 * "radiokin.popest": rk.popest.simulate_fit (the dataset's design
 * simulated from given parameters, pop/popsim.h), rk.popest.resample and
 * rk.popest.boot_pick (bootstrap datasets, pop/popboot.h) and
 * rk.popest.boot_interval (percentile and BCa intervals). The bootstrap
 * and VPC drivers over them are Lua (dsl/lua/popcheck.lua). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "l_popest_impl.h"
#include "lrk.h"
#include "core/csv.h"
#include "pop/popboot.h"
#include "pop/popsim.h"

/* The dataset argument at idx (a file name, or a dataset of
 * rk.popest.read) for model p whose rk.model is at model_idx; pushes it. */
static ldata *push_dataset(lua_State *L, int idx, const lpop *p,
                           int model_idx, const char *ctx)
{
  if (lua_type(L, idx) == LUA_TSTRING) {
    int dv = lrk_popmodel_push_dvid(L, p);
    ldata *x = lrk_popdata_push_dvid(L, lua_tostring(L, idx), model_idx, dv,
                                     ctx);
    if (dv) lua_remove(L, dv);
    return x;
  }
  if (luaL_testudata(L, idx, DATA_MT)) {
    ldata *x = lua_touserdata(L, idx);
    lua_pushvalue(L, idx);
    if (!x->d) lrk_error(L, "%s: the dataset was freed", ctx);
    return x;
  }
  lrk_error(L, "%s: expected a dataset file name or a dataset of "
            "rk.popest.read (got %s)", ctx, lrk_got(L, idx));
  return NULL;
}

/* The engine's description of p over dataset x (as pm:fit builds it);
 * eps and map are the caller's storage. */
static void build_popmodel(const lpop *p, const rkin_model *m,
                           const ldata *x, rkin_popmodel *pm,
                           rkin_pop_endpoint *eps, int *map, size_t n_map)
{
  size_t k;
  lrk_popmodel_fill(p, m, pm, eps);
  if (pm->n_endpoints && x->n_out && x->n_out <= n_map) {
    for (k = 0; k < x->n_out; k++)
      map[k] = rkin_model_output_index(m, x->out_names[k], NULL);
    pm->data_outputs = map;
    pm->n_data_outputs = x->n_out;
  }
}

static size_t n_sigma_of(const lpop *p)
{
  size_t e, n = 0;
  for (e = 0; e < p->n_ep; e++) n += rkin_res_nparams(p->ep_res[e]);
  return n;
}

typedef struct {
  rkin_popsim s;
  int live;
} simbox;

static int simbox_gc(lua_State *L)
{
  simbox *b = lua_touserdata(L, 1);
  if (b && b->live) rkin_popsim_free(&b->s);
  if (b) b->live = 0;
  return 0;
}

/* rk.popest.simulate_fit(pm, data, values, {n =, seed =, threads =,
 * residual =, replicates = {values, ...}}) -> {n =, dv = {{...}, ...},
 * pred =, id =, time =, endpoint =, dvobs =, cens =, lloq =} */
static int simulate_fit(lua_State *L)
{
  static const char *const keys[] = {"n", "seed", "threads", "residual",
                                     "replicates", NULL};
  const char *ctx = "rk.popest.simulate_fit";
  lpop *p = lrk_check_popmodel(L, 1);
  const rkin_model *m;
  ldata *x;
  rkin_popmodel pm;
  rkin_pop_endpoint eps[LPOP_MAX_EP];
  int map[256];
  rkin_popsim_opts so;
  simbox *box;
  double *theta, *omega, *sigma, *rt = NULL, *ro = NULL, *rs = NULL;
  size_t q = p->n_eta, ns = n_sigma_of(p), r, i, j, g, n_rep;
  rkin_err err;
  int rc, opt;
  lua_settop(L, 4);
  luaL_checktype(L, 3, LUA_TTABLE);
  if (lua_isnil(L, 4)) {
    lua_newtable(L);
    lua_replace(L, 4);
  }
  luaL_checktype(L, 4, LUA_TTABLE);
  opt = 4;
  lrk_check_keys(L, opt, ctx, keys);
  lua_getiuservalue(L, 1, 1);                                  /* 5 */
  m = lrk_check_model(L, 5);
  x = push_dataset(L, 2, p, 5, ctx);                           /* 6 */
  memset(&so, 0, sizeof so);
  so.n_rep = (size_t)lrk_field_count(L, opt, ctx, "n", 1, 0, 1,
                                     LRK_MAX_PATIENTS);
  so.seed = (uint64_t)lrk_field_count(L, opt, ctx, "seed", 0, 1, 0,
                                      LRK_MAX_SEED);
  so.threads = (int)lrk_field_count(L, opt, ctx, "threads", 0, 0, 0,
                                    LRK_MAX_THREADS);
  so.no_residual = !lrk_field_boolean(L, opt, ctx, "residual", 1);
  n_rep = so.n_rep;
  lrk_check_memory(L, ctx, (double)n_rep * (double)rkin_data_nobs(x->d),
                   "simulated values", 2 * sizeof(double) + 16);
  theta = lrk_scratch(L, p->n_theta + 1, sizeof *theta);
  omega = lrk_scratch(L, q * q + 1, sizeof *omega);
  sigma = lrk_scratch(L, LPOP_MAX_EP * 3, sizeof *sigma);
  lrk_popeval_values(L, 3, ctx, p, theta, omega, sigma);
  so.theta = theta;
  so.omega = omega;
  so.sigma = sigma;
  if (lua_getfield(L, opt, "replicates") != LUA_TNIL) {
    int t = lua_gettop(L);
    if (!lua_istable(L, t) || lua_rawlen(L, t) != n_rep)
      return lrk_error(L, "%s: field 'replicates' must be a list of %d "
                       "parameter tables {theta =, omega =, sigma =}, one "
                       "per replicate (got %s)", ctx, (int)n_rep,
                       lrk_got(L, t));
    rt = lrk_scratch(L, n_rep * p->n_theta + 1, sizeof *rt);
    ro = lrk_scratch(L, n_rep * q * q + 1, sizeof *ro);
    rs = lrk_scratch(L, n_rep * (ns ? ns : 1) + 1, sizeof *rs);
    for (r = 0; r < n_rep; r++) {
      double sg[LPOP_MAX_EP * 3];
      const char *rctx = lua_pushfstring(L, "%s: replicates[%d]", ctx,
                                         (int)r + 1);
      lua_rawgeti(L, t, (lua_Integer)r + 1);
      if (!lua_istable(L, -1))
        return lrk_error(L, "%s: expected a table {theta =, omega =, "
                         "sigma =} (got %s)", rctx, lrk_got(L, -1));
      lrk_popeval_values(L, lua_gettop(L), rctx, p, rt + r * p->n_theta,
                         ro + r * q * q, sg);
      memcpy(rs + r * ns, sg, ns * sizeof *sg);
      lua_pop(L, 2);
    }
    so.rep_theta = rt;
    so.rep_omega = ro;
    so.rep_sigma = rs;
  }
  build_popmodel(p, m, x, &pm, eps, map, sizeof map / sizeof *map);
  box = lua_newuserdatauv(L, sizeof *box, 0);
  memset(box, 0, sizeof *box);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, simbox_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  rkin_err_clear(&err);
  box->live = 1;
  rc = rkin_popsim_run(&pm, x->d, &so, &box->s, &err);
  if (rc) return lrk_raise(L, ctx, &err);

  lua_createtable(L, 0, 10);
  lua_pushinteger(L, (lua_Integer)n_rep);
  lua_setfield(L, -2, "n");
  lua_createtable(L, (int)n_rep, 0);
  for (r = 0; r < n_rep; r++) {
    lrk_push_numbers(L, box->s.dv + r * box->s.n_obs, box->s.n_obs);
    lua_rawseti(L, -2, (lua_Integer)r + 1);
  }
  lua_setfield(L, -2, "dv");
  lrk_push_numbers(L, box->s.pred, box->s.n_obs);
  lua_setfield(L, -2, "pred");
  /* the design and the observed data, per observation */
  {
    const char *cols[] = {"id", "time", "dvobs", "lloq", "cens",
                          "endpoint"};
    int c;
    for (c = 0; c < 6; c++) {
      lua_createtable(L, (int)box->s.n_obs, 0);
      for (i = 0, g = 0; i < rkin_data_nsubjects(x->d); i++) {
        const rkin_data_subject *sj = rkin_data_subject_at(x->d, i);
        for (j = 0; j < sj->n_obs; j++, g++) {
          switch (c) {
          case 0: lua_pushnumber(L, sj->id); break;
          case 1: lua_pushnumber(L, sj->time[j]); break;
          case 2: lua_pushnumber(L, sj->dv[j]); break;
          case 3:
            lua_pushnumber(L, sj->lloq ? sj->lloq[j] : NAN);
            break;
          case 4: lua_pushinteger(L, sj->cens ? sj->cens[j] : 0); break;
          default: lua_pushinteger(L, box->s.endpoint[g]); break;
          }
          lua_rawseti(L, -2, (lua_Integer)g + 1);
        }
      }
      lua_setfield(L, -2, cols[c]);
    }
  }
  rkin_popsim_free(&box->s);
  box->live = 0;
  return 1;
}

/* rk.popest.boot_pick(n, seed, r [, strata]) -> {subject, ...} (1-based):
 * replicate r's draw of n subjects (strata: a label per subject). */
static int boot_pick(lua_State *L)
{
  const char *ctx = "rk.popest.boot_pick";
  size_t n = (size_t)lrk_check_count(L, 1, ctx, "n", 1, LRK_MAX_PATIENTS);
  uint64_t seed = (uint64_t)lrk_check_count(L, 2, ctx, "seed", 0,
                                            LRK_MAX_SEED);
  size_t r = (size_t)lrk_check_count(L, 3, ctx, "replicate", 1,
                                     LRK_MAX_PATIENTS);
  double *strata = NULL;
  size_t *pick, ns, k;
  rkin_err err;
  lua_settop(L, 4);
  if (!lua_isnil(L, 4)) {
    strata = lrk_numbers(L, 4, ctx, "strata", &ns);
    if (ns != n)
      return lrk_error(L, "%s: %d strata labels for %d subjects", ctx,
                       (int)ns, (int)n);
  }
  pick = lrk_scratch(L, n, sizeof *pick);
  rkin_err_clear(&err);
  if (rkin_boot_pick(n, strata, seed, r - 1, pick, &err))
    return lrk_raise(L, ctx, &err);
  lua_createtable(L, (int)n, 0);
  for (k = 0; k < n; k++) {
    lua_pushinteger(L, (lua_Integer)pick[k] + 1);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  return 1;
}

static char **copy_names(lua_State *L, char *const *v, size_t n)
{
  char **c = calloc(n ? n : 1, sizeof *c);
  size_t k;
  if (!c) lrk_error(L, "rk.popest.resample: out of memory");
  for (k = 0; k < n; k++)
    if (!(c[k] = strdup(v[k] ? v[k] : "?"))) {
      lrk_free_names(c, k);
      lrk_error(L, "rk.popest.resample: out of memory");
    }
  return c;
}

/* rk.popest.resample(data, {subject, ...}) -> a new dataset: the
 * subjects listed (1-based, dataset order; repeats allowed) with IDs 1,
 * 2, ... in list order, read from the dataset's file again with the same
 * options. */
static int resample(lua_State *L)
{
  const char *ctx = "rk.popest.resample";
  ldata *x = luaL_testudata(L, 1, DATA_MT), *y;
  size_t n, k, ns, len = 0, out_len = 0;
  size_t *pick;
  char *text = NULL, *out = NULL;
  const char *name;
  rkin_data_opts o;
  rkin_err err;
  if (!x || !x->d)
    return lrk_error(L, "%s: expected a dataset of rk.popest.read (got "
                     "%s)", ctx, lrk_got(L, 1));
  luaL_checktype(L, 2, LUA_TTABLE);
  n = lua_rawlen(L, 2);
  ns = rkin_data_nsubjects(x->d);
  if (n < 1) return lrk_error(L, "%s: no subjects to take", ctx);
  pick = lrk_scratch(L, n, sizeof *pick);
  for (k = 0; k < n; k++) {
    lua_Integer v;
    int isint;
    lua_rawgeti(L, 2, (lua_Integer)k + 1);
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < 1 || (size_t)v > ns)
      return lrk_error(L, "%s: entry %d must be a subject number in 1..%d "
                       "(got %s)", ctx, (int)k + 1, (int)ns,
                       lrk_got(L, -1));
    pick[k] = (size_t)v - 1;
    lua_pop(L, 1);
  }
  rkin_err_clear(&err);
  if (rkin_csv_slurp(x->path, &text, &len, &err))
    return lrk_raise(L, ctx, &err);
  if (rkin_boot_resample_csv(text, len, x->path, pick, n, &out, &out_len,
                             &err)) {
    free(text);
    return lrk_raise(L, ctx, &err);
  }
  free(text);
  y = lua_newuserdatauv(L, sizeof *y, 0);
  memset(y, 0, sizeof *y);
  luaL_setmetatable(L, DATA_MT);
  name = lua_pushfstring(L, "%s (resampled)", x->path);
  y->path = lrk_strdup(L, ctx, x->path);
  y->state_names = copy_names(L, x->state_names, x->n_states);
  y->n_states = x->n_states;
  y->out_names = copy_names(L, x->out_names, x->n_out);
  y->n_out = x->n_out;
  memset(&o, 0, sizeof o);
  o.n_states = x->n_states;
  o.state_names = (const char *const *)x->state_names;
  o.n_outputs = x->n_out;
  o.output_names = (const char *const *)x->out_names;
  o.cov_locf = rkin_data_subject_at(x->d, 0)->cov_locf;
  y->d = rkin_data_parse(out, out_len, name, &o, &err);
  free(out);
  if (!y->d) return lrk_raise(L, ctx, &err);
  if (rkin_data_nsubjects(y->d) != n)
    return lrk_error(L, "%s: %s: the resampled dataset has %d subjects, "
                     "expected %d (has the file changed since it was "
                     "read?)", ctx, x->path,
                     (int)rkin_data_nsubjects(y->d), (int)n);
  lua_pop(L, 1);
  return 1;
}

/* rk.popest.boot_interval(values, estimate [, {jack =, level =}]) ->
 * {lo, hi, bca_lo, bca_hi, z0, a, n, alpha_lo, alpha_hi}; NaN values in
 * `values` are failed replicates. */
static int boot_interval(lua_State *L)
{
  static const char *const keys[] = {"jack", "level", NULL};
  const char *ctx = "rk.popest.boot_interval";
  size_t n, nj = 0;
  double *v, est, level = 0.9, *jack = NULL;
  rkin_boot_ci ci;
  rkin_err err;
  lua_settop(L, 3);
  v = lrk_numbers(L, 1, ctx, "values", &n);
  est = luaL_checknumber(L, 2);
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lrk_check_keys(L, 3, ctx, keys);
    level = lrk_field_number_in(L, 3, ctx, "level", 0, 0.9, 0, 1,
                                LRK_LO_OPEN | LRK_HI_OPEN);
    if (lua_getfield(L, 3, "jack") != LUA_TNIL)
      jack = lrk_numbers(L, lua_gettop(L), ctx, "field 'jack'", &nj);
  }
  rkin_err_clear(&err);
  if (rkin_boot_interval(v, n, est, jack, nj, level, &ci, &err))
    return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 9);
#define SETN(k, x) (lua_pushnumber(L, (x)), lua_setfield(L, -2, k))
  SETN("lo", ci.lo);
  SETN("hi", ci.hi);
  SETN("bca_lo", ci.bca_lo);
  SETN("bca_hi", ci.bca_hi);
  SETN("z0", ci.z0);
  SETN("a", ci.a);
  SETN("alpha_lo", ci.alpha_lo);
  SETN("alpha_hi", ci.alpha_hi);
#undef SETN
  lua_pushinteger(L, (lua_Integer)ci.n);
  lua_setfield(L, -2, "n");
  return 1;
}

/* rk.popest.subject_values(data, column) -> {value, ...}: each subject's
 * first non-missing value of a covariate column (NaN: none); an unknown
 * column raises listing the dataset's covariates. */
static int subject_values(lua_State *L)
{
  const char *ctx = "rk.popest.subject_values";
  ldata *x = luaL_testudata(L, 1, DATA_MT);
  const char *col = luaL_checkstring(L, 2);
  size_t i, n;
  int k;
  rkin_err err;
  if (!x || !x->d)
    return lrk_error(L, "%s: expected a dataset of rk.popest.read (got "
                     "%s)", ctx, lrk_got(L, 1));
  rkin_err_clear(&err);
  k = rkin_data_covariate_index(x->d, col, &err);
  if (k < 0) return lrk_error(L, "%s: %s", x->path, err.msg);
  n = rkin_data_nsubjects(x->d);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushnumber(L, rkin_data_subject_at(x->d, i)->cov[k]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* r:simulate([n,] opts), r:vpc(opts), r:bootstrap(opts) of a fit result:
 * the popcheck function of that name called as (pm, data, r, opts), pm
 * and data being the fit's (upvalues 1, 2; the name is upvalue 3). A
 * number first for simulate is opts.n. */
static int result_method(lua_State *L)
{
  const char *name = lua_tostring(L, lua_upvalueindex(3));
  int top;
  lua_settop(L, 3);
  if (lua_type(L, 2) == LUA_TNUMBER && strcmp(name, "simulate") == 0) {
    if (lua_isnil(L, 3)) lua_newtable(L);
    else {
      luaL_checktype(L, 3, LUA_TTABLE);
      lua_pushvalue(L, 3);
    }
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "n");
    lua_replace(L, 2);
  }
  lua_settop(L, 2);
  top = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "radiokin.popcheck");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, name);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 4, 1);
  (void)top;
  return 1;
}

void lrk_popcheck_result_methods(lua_State *L, int result, int pm_idx,
                                 int data_idx)
{
  static const char *const names[] = {"simulate", "vpc", "bootstrap",
                                      NULL};
  int k;
  result = lua_absindex(L, result);
  pm_idx = lua_absindex(L, pm_idx);
  data_idx = lua_absindex(L, data_idx);
  for (k = 0; names[k]; k++) {
    lua_pushvalue(L, pm_idx);
    lua_pushvalue(L, data_idx);
    lua_pushstring(L, names[k]);
    lua_pushcclosure(L, result_method, 3);
    lua_setfield(L, result, names[k]);
  }
}

/* Adds the functions to the module table on top of the stack. */
void lrk_popcheck_register(lua_State *L)
{
  static const luaL_Reg f[] = {
    {"simulate_fit", simulate_fit},
    {"boot_pick", boot_pick},
    {"resample", resample},
    {"boot_interval", boot_interval},
    {"subject_values", subject_values},
    {NULL, NULL}
  };
  luaL_setfuncs(L, f, 0);
}
