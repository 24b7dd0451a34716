/* l_data.c - "radiokin.data": rk.data(path [, model]) reads a NONMEM-style
 * simulation dataset (DV optional, pop/data.h opts.simulate);
 * d:simulate(model [, opts]) predicts every observation record (PRED at
 * the typical parameters, IPRED at each subject's own, a simulated DV with
 * residual error when asked, GSL's seeded Mersenne twister); the result's
 * r:write_csv(path) writes a NONMEM-style table atomically. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <lauxlib.h>
#include <lua.h>

#include "l_covdecl.h"
#include "lrk.h"
#include "modules.h"
#include "core/model.h"
#include "pop/data.h"
#include "pop/datasim.h"
#include "solve/solve.h"

#define SIMDATA_MT "radiokin.simdata"
#define SIMRES_MT "radiokin.simresult"

typedef struct {
  rkin_data *d;
  char *path;
} lsimdata;

static int simdata_gc(lua_State *L)
{
  lsimdata *x = luaL_checkudata(L, 1, SIMDATA_MT);
  rkin_data_free(x->d);
  free(x->path);
  x->d = NULL;
  x->path = NULL;
  return 0;
}

/* rk.data(path [, model [, {rows = "observations" | "all", covariates =
 * "nocb" | "locf"}]]): with a model CMT may name its states or outputs
 * and DVID k selects its output k; rows = "all" makes every record a row
 * (pop/data.h simulate 2); covariates: how a time-varying covariate
 * applies between records (pop/data.h cov_locf). */
static int data_read(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  rkin_data_opts o;
  rkin_err err;
  lsimdata *x;
  memset(&o, 0, sizeof o);
  o.simulate = 1;
  lua_settop(L, 3);
  if (!lua_isnil(L, 3)) {
    static const char *const keys[] = {"rows", "covariates", "declare",
                                       NULL};
    const char *rows, *cv;
    luaL_checktype(L, 3, LUA_TTABLE);
    lrk_check_keys(L, 3, "rk.data", keys);
    rows = lrk_field_string(L, 3, "rk.data", "rows", 0, "observations");
    if (strcmp(rows, "all") == 0) o.simulate = 2;
    else if (strcmp(rows, "observations") != 0)
      return lrk_error(L, "rk.data: field 'rows' must be \"observations\" "
                       "or \"all\" (got \"%s\")", rows);
    cv = lrk_field_string(L, 3, "rk.data", "covariates", 0, "nocb");
    if (strcmp(cv, "locf") == 0) o.cov_locf = 1;
    else if (strcmp(cv, "nocb") != 0)
      return lrk_error(L, "rk.data: field 'covariates' must be \"nocb\" "
                       "(NONMEM: a record's values apply up to it) or "
                       "\"locf\" (from it on) (got \"%s\")", cv);
  }
  if (!lua_isnil(L, 2)) {
    const rkin_model *m = lrk_check_model(L, 2);
    size_t k, ns = rkin_model_nstates(m), no = rkin_model_noutputs(m);
    const char **sn = lua_newuserdatauv(L, (ns ? ns : 1) * sizeof *sn, 0);
    const char **on = lua_newuserdatauv(L, (no ? no : 1) * sizeof *on, 0);
    for (k = 0; k < ns; k++) sn[k] = rkin_model_state_name(m, k);
    for (k = 0; k < no; k++) on[k] = rkin_model_output_name(m, k);
    o.n_states = ns;
    o.state_names = sn;
    o.n_outputs = no;
    o.output_names = on;
  }
  x = lua_newuserdatauv(L, sizeof *x, 0);
  memset(x, 0, sizeof *x);
  luaL_setmetatable(L, SIMDATA_MT);
  x->path = lrk_strdup(L, "rk.data", path);
  rkin_err_clear(&err);
  x->d = rkin_data_read(path, &o, &err);
  if (!x->d) lrk_raise(L, "rk.data", &err);
  if (!lua_isnil(L, 3)) {
    int top = lua_gettop(L);   /* x */
    if (lua_getfield(L, 3, "declare") != LUA_TNIL) {
      size_t n;
      const rkin_covdecl *c = lrk_covdecls(L, -1, "rk.data", &n);
      if (rkin_data_check_covdecl(x->d, c, n, &err))
        lrk_raise(L, "rk.data", &err);
    }
    lua_settop(L, top);
  }
  return 1;
}

static lsimdata *check_data(lua_State *L, int i)
{
  lsimdata *x = luaL_checkudata(L, i, SIMDATA_MT);
  if (!x->d) lrk_error(L, "dataset was freed");
  return x;
}

static int simdata_index(lua_State *L)
{
  lsimdata *x = check_data(L, 1);
  const char *k = luaL_checkstring(L, 2);
  if (lrk_data_field(L, x->d, x->path, k)) return 1;
  if (strcmp(k, "simulate") == 0) {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, k);
    return 1;
  }
  return lrk_error(L, "dataset has no field '%s' (fields: n_subjects, "
                   "n_obs, covariates, ids, path; method: simulate)", k);
}

/* The covariate columns model parameters take per subject: list at t of
 * parameter names; sets par[k] (model parameter) and col[k] (dataset
 * covariate). Pushes a scratch userdata. */
static size_t read_cov_params(lua_State *L, int t, const rkin_model *m,
                              const rkin_data *d, int **par, int **col)
{
  size_t n, k;
  rkin_err err;
  if (lua_isnil(L, t)) {
    *par = *col = NULL;
    lua_pushnil(L);
    return 0;
  }
  if (!lua_istable(L, t))
    lrk_error(L, "d:simulate: field 'covariates' must be a list of "
              "parameter names (got %s)", lrk_got(L, t));
  n = (size_t)luaL_len(L, t);
  *par = lua_newuserdatauv(L, 2 * (n ? n : 1) * sizeof **par, 0);
  *col = *par + n;
  for (k = 0; k < n; k++) {
    const char *name;
    lua_geti(L, t, (lua_Integer)k + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      lrk_error(L, "d:simulate: covariates[%d] must be a parameter name "
                "(got %s)", (int)k + 1, lrk_got(L, -1));
    name = lua_tostring(L, -1);
    if (((*par)[k] = rkin_model_param_index(m, name, &err)) < 0)
      lrk_error(L, "d:simulate: covariates[%d]: %s", (int)k + 1, err.msg);
    if (((*col)[k] = rkin_data_covariate_index(d, name, &err)) < 0)
      lrk_error(L, "d:simulate: the model's parameter '%s' is a covariate, "
                "but the dataset has no column for it: %s", name, err.msg);
    lua_pop(L, 1);
  }
  return n;
}

/* Sets the covariate parameters of subject sj into p (its first value)
 * and checks that each is given on every record (time-varying
 * covariates: the value of a record enters the model). */
static void set_cov_params(lua_State *L, const rkin_data *d,
                           const rkin_data_subject *sj, size_t n,
                           const int *par, const int *col, double *p)
{
  size_t k, r, nc = rkin_data_ncovariates(d);
  char msg[320];   /* lua_pushfstring has no %g */
  for (k = 0; k < n; k++) {
    double v = sj->cov[col[k]];
    const char *name = rkin_data_covariate_name(d, (size_t)col[k]);
    if (!isfinite(v)) {
      snprintf(msg, sizeof msg, "subject ID %g (line %zu)", sj->id, sj->line);
      lrk_error(L, "d:simulate: %s: covariate %s is missing on every record",
                msg, name);
    }
    for (r = 0; r < sj->n_rec; r++)
      if (!isfinite(sj->rec_cov[r * nc + (size_t)col[k]])) {
        char id[40];
        snprintf(msg, sizeof msg, "%s:%zu", rkin_data_name(d),
                 sj->rec_line[r]);
        snprintf(id, sizeof id, "%g", sj->id);
        lrk_error(L, "d:simulate: %s: column %d (%s): covariate missing on "
                  "a record of subject ID %s (a covariate the model uses "
                  "needs a value on every record: it applies over the "
                  "interval each record ends)", msg,
                  rkin_data_covariate_column(d, (size_t)col[k]), name, id);
      }
    p[par[k]] = v;
  }
}

/* The model parameters at each record of sj (rkin_data_predict_rec):
 * p with the covariate parameters from the record's columns, into rp
 * (grown); NULL when no covariate parameter is asked for. */
static const double *record_params(const rkin_data *d,
                                   const rkin_data_subject *sj,
                                   const double *p, size_t np, size_t n,
                                   const int *par, const int *col,
                                   double **rp, size_t *cap)
{
  size_t r, k, nc = rkin_data_ncovariates(d);
  if (!n || !sj->n_rec) return NULL;
  if (sj->n_rec * np > *cap) {
    double *q = realloc(*rp, sj->n_rec * np * sizeof *q);
    if (!q) return NULL;
    *rp = q;
    *cap = sj->n_rec * np;
  }
  for (r = 0; r < sj->n_rec; r++) {
    memcpy(*rp + r * np, p, np * sizeof *p);
    for (k = 0; k < n; k++)
      (*rp)[r * np + (size_t)par[k]] = sj->rec_cov[r * nc + (size_t)col[k]];
  }
  return *rp;
}

static void set_column(lua_State *L, int res, const char *name,
                       const double *v, size_t n)
{
  lrk_push_numbers(L, v, n);
  lua_setfield(L, res, name);
}

/* d:simulate(model [, {params =, population =, covariates =, seed =,
 *                     residual = {additive =, proportional =}, path =,
 *                     rtol =, atol =}]) */
static int simdata_simulate(lua_State *L)
{
  static const char *const keys[] = {"params", "population", "covariates",
                                     "seed", "residual", "path", "rtol",
                                     "atol", NULL};
  static const char *const rkeys[] = {"additive", "proportional", NULL};
  lsimdata *x = check_data(L, 1);
  const rkin_model *m = lrk_check_model(L, 2);
  size_t np = rkin_model_nparams(m), ns = rkin_model_nstates(m);
  size_t nsub = rkin_data_nsubjects(x->d), nobs = rkin_data_nobs(x->d);
  size_t i, k, npat = 0, ncp, row;
  double *typ, *indiv = NULL, *pred, *ipred, *dv, *id, *time, *line;
  double *evid, *mdv;
  double add = 0, prop = 0;
  int *cpar, *ccol, residual = 0, res, have_ipred;
  unsigned long seed = 0;
  const char **sn;
  rkin_solve_opts so;
  rkin_solver *sv;
  rkin_err err;
  int rc = RKIN_OK;
  lua_settop(L, 3);
  if (lua_isnil(L, 3)) {
    lua_newtable(L);
    lua_replace(L, 3);
  }
  luaL_checktype(L, 3, LUA_TTABLE);
  lrk_check_keys(L, 3, "d:simulate", keys);
  sn = lua_newuserdatauv(L, (ns ? ns : 1) * sizeof *sn, 0);  /* 4 */
  for (k = 0; k < ns; k++) sn[k] = rkin_model_state_name(m, k);
  rkin_err_clear(&err);
  if (rkin_data_check_states(x->d, ns, sn, &err)
      || rkin_data_check_model(x->d, m, &err))
    lrk_raise(L, "d:simulate", &err);
  typ = lua_newuserdatauv(L, (np ? np : 1) * sizeof *typ, 0);  /* 5 */
  lua_getfield(L, 3, "params");                                 /* 6 */
  if (!lua_isnil(L, 6) && !lua_istable(L, 6))
    return lrk_error(L, "d:simulate: field 'params' must be a table "
                     "NAME = number (got %s)", lrk_got(L, 6));
  lrk_model_params(L, 2, lua_isnil(L, 6) ? 0 : 6, "d:simulate: params",
                   typ);
  lua_getfield(L, 3, "population");                             /* 7 */
  if (!lua_isnil(L, 7)) {
    indiv = lrk_check_patients(L, 2, 7, "d:simulate: population", &npat);
    if (npat != nsub)
      return lrk_error(L, "d:simulate: field 'population' has %d patients "
                       "but the dataset %s has %d subjects (one patient "
                       "per subject, in the dataset's order)", (int)npat,
                       x->path, (int)nsub);
  } else {
    lua_pushnil(L);
  }                                                             /* 8 */
  lua_getfield(L, 3, "covariates");                             /* 9 */
  ncp = read_cov_params(L, 9, m, x->d, &cpar, &ccol);           /* 10 */
  lua_getfield(L, 3, "residual");                               /* 11 */
  if (!lua_isnil(L, 11)) {
    if (!lua_istable(L, 11))
      return lrk_error(L, "d:simulate: field 'residual' must be a table "
                       "{additive =, proportional =} (got %s)",
                       lrk_got(L, 11));
    lrk_check_keys(L, 11, "d:simulate: residual", rkeys);
    add = lrk_field_number_in(L, 11, "d:simulate: residual", "additive", 0,
                              0, 0, HUGE_VAL, 0);
    prop = lrk_field_number_in(L, 11, "d:simulate: residual",
                               "proportional", 0, 0, 0, HUGE_VAL, 0);
    residual = 1;
    seed = (unsigned long)lrk_field_count(L, 3, "d:simulate", "seed", 1, 0,
                                          0, LRK_MAX_SEED);
  }
  have_ipred = indiv != NULL;
  /* Raises naming a subject without a covariate before anything is
   * allocated (typ's covariate parameters are set per subject anyway). */
  for (i = 0; i < nsub; i++)
    set_cov_params(L, x->d, rkin_data_subject_at(x->d, i), ncp, cpar, ccol,
                   typ);
  lrk_check_memory(L, "d:simulate", (double)nobs, "records",
                   8 * sizeof(double));
  pred = lua_newuserdatauv(L, 8 * (nobs ? nobs : 1) * sizeof *pred, 0);
  ipred = pred + nobs;
  dv = ipred + nobs;
  id = dv + nobs;
  time = id + nobs;
  line = time + nobs;
  evid = line + nobs;
  mdv = evid + nobs;
  rkin_solve_opts_default(&so);
  so.rtol = lrk_field_number_in(L, 3, "d:simulate", "rtol", 0, so.rtol, 0, 1,
                                LRK_LO_OPEN | LRK_HI_OPEN);
  so.atol = lrk_field_number_in(L, 3, "d:simulate", "atol", 0, so.atol, 0,
                                HUGE_VAL, LRK_LO_OPEN);
  {
    const char *pa = lrk_field_string(L, 3, "d:simulate", "path", 0, "auto");
    if (strcmp(pa, "cvodes") == 0) so.path = RKIN_PATH_CVODES;
    else if (strcmp(pa, "exact") == 0) so.path = RKIN_PATH_EXACT;
    else if (strcmp(pa, "auto") != 0)
      return lrk_error(L, "d:simulate: field 'path' must be \"auto\", "
                       "\"cvodes\" or \"exact\" (got \"%s\")", pa);
  }
  sv = rkin_solver_new(m, &so, &err);
  if (!sv) lrk_raise(L, "d:simulate", &err);
  {
    double *p = malloc((np ? np : 1) * sizeof *p), *rp = NULL;
    const double *rpar;
    size_t cap_rp = 0;
    if (!p) {
      rkin_solver_free(sv);
      return lrk_error(L, "d:simulate: out of memory");
    }
    row = 0;
    for (i = 0; i < nsub && !rc; i++) {
      const rkin_data_subject *sj = rkin_data_subject_at(x->d, i);
      memcpy(p, typ, np * sizeof *p);
      set_cov_params(L, x->d, sj, ncp, cpar, ccol, p);
      rpar = record_params(x->d, sj, p, np, ncp, cpar, ccol, &rp, &cap_rp);
      if (ncp && sj->n_rec && !rpar) {
        rc = rkin_err_set(&err, RKIN_ENOMEM, "out of memory");
        break;
      }
      rc = rkin_data_predict_rec(sv, m, sj, p, rpar, pred + row, &err);
      if (!rc && have_ipred) {
        memcpy(p, indiv + i * np, np * sizeof *p);
        set_cov_params(L, x->d, sj, ncp, cpar, ccol, p);
        rpar = record_params(x->d, sj, p, np, ncp, cpar, ccol, &rp, &cap_rp);
        if (ncp && sj->n_rec && !rpar) {
          rc = rkin_err_set(&err, RKIN_ENOMEM, "out of memory");
          break;
        }
        rc = rkin_data_predict_rec(sv, m, sj, p, rpar, ipred + row, &err);
      }
      for (k = 0; k < sj->n_obs; k++) {
        id[row + k] = sj->id;
        time[row + k] = sj->time[k];
        dv[row + k] = sj->dv[k];
        line[row + k] = (double)sj->obs_line[k];
        evid[row + k] = sj->evid ? sj->evid[k] : 0;
        mdv[row + k] = sj->mdv ? sj->mdv[k] : 0;
        if (!have_ipred) ipred[row + k] = pred[row + k];
      }
      row += sj->n_obs;
    }
    free(p);
    free(rp);
    rkin_solver_free(sv);
  }
  if (rc) lrk_raise(L, "d:simulate", &err);
  if (residual) {
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    if (!g) return lrk_error(L, "d:simulate: out of memory");
    gsl_rng_set(g, seed);
    /* NONMEM's combined error: Y = IPRED (1 + EPS1) + EPS2, independent
     * EPS1 ~ N(0, proportional^2), EPS2 ~ N(0, additive^2). */
    for (k = 0; k < nobs; k++) {
      double e1, e2;
      if (mdv[k] != 0) continue;   /* no DV on event records */
      e1 = gsl_ran_gaussian(g, 1.0);
      e2 = gsl_ran_gaussian(g, 1.0);
      dv[k] = ipred[k] * (1 + prop * e1) + add * e2;
    }
    gsl_rng_free(g);
  }
  lua_createtable(L, 0, 8);
  res = lua_gettop(L);
  luaL_setmetatable(L, SIMRES_MT);
  set_column(L, res, "id", id, nobs);
  set_column(L, res, "time", time, nobs);
  set_column(L, res, "dv", dv, nobs);
  set_column(L, res, "pred", pred, nobs);
  set_column(L, res, "ipred", ipred, nobs);
  set_column(L, res, "line", line, nobs);
  set_column(L, res, "evid", evid, nobs);
  set_column(L, res, "mdv", mdv, nobs);
  lua_pushinteger(L, (lua_Integer)nobs);
  lua_setfield(L, res, "n");
  lua_pushboolean(L, residual);
  lua_setfield(L, res, "simulated");
  return 1;
}

/* A number as NONMEM tables print it; missing (NaN) as '.'. */
static void add_num(luaL_Buffer *b, double v)
{
  char s[40];
  if (isnan(v)) luaL_addstring(b, ".");
  else {
    snprintf(s, sizeof s, "%.10g", v);
    luaL_addstring(b, s);
  }
}

static double col_at(lua_State *L, int res, const char *name, size_t k)
{
  double v;
  lua_getfield(L, res, name);
  if (!lua_istable(L, -1))
    lrk_error(L, "r:write_csv: the result has no column '%s'", name);
  lua_geti(L, -1, (lua_Integer)k + 1);
  v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : NAN;
  lua_pop(L, 2);
  return v;
}

/* r:write_csv(path): ID,TIME,EVID,MDV,DV,PRED,IPRED, one row per row of
 * the dataset (observation records, or every record), atomically. */
static int simres_write_csv(lua_State *L)
{
  static const char *const cols[] = {"id", "time", "evid", "mdv", "dv",
                                     "pred", "ipred"};
  const char *path;
  luaL_Buffer b;
  size_t n, k, c;
  rkin_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  path = luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_getfield(L, 1, "n");
  if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
    return lrk_error(L, "r:write_csv: not a result of d:simulate");
  n = (size_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "ID,TIME,EVID,MDV,DV,PRED,IPRED\n");
  for (k = 0; k < n; k++) {
    for (c = 0; c < 7; c++) {
      if (c) luaL_addchar(&b, ',');
      add_num(&b, col_at(L, 1, cols[c], k));
    }
    luaL_addchar(&b, '\n');
  }
  luaL_pushresult(&b);
  {
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    rkin_err_clear(&err);
    if (lrk_write_atomic(path, text, len, &err))
      return lrk_raise(L, "r:write_csv", &err);
  }
  return 0;
}

int luaopen_radiokin_data(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"simulate", simdata_simulate},
    {NULL, NULL}
  };
  static const luaL_Reg res_methods[] = {
    {"write_csv", simres_write_csv},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, SIMDATA_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, simdata_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, simdata_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, SIMRES_MT)) {
    luaL_newlib(L, res_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, data_read);
  return 1;
}
