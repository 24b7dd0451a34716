/* l_popdata.c - NONMEM-style datasets for "radiokin.popest":
 * rk.popest.read(path, pm_or_model) reads one through the engine's reader
 * (pop/data.h), with CMT allowed to name a model state; the dataset
 * userdata and its fields. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "l_popest_impl.h"
#include "lrk.h"
#include "core/model.h"
#include "pop/data.h"

static void free_list(char **v, size_t n)
{
  size_t k;
  for (k = 0; v && k < n; k++) free(v[k]);
  free(v);
}

int lrk_popdata_gc(lua_State *L)
{
  ldata *x = luaL_checkudata(L, 1, DATA_MT);
  rkin_data_free(x->d);
  free(x->path);
  free_list(x->state_names, x->n_states);
  free_list(x->out_names, x->n_out);
  x->d = NULL;
  x->path = NULL;
  x->state_names = x->out_names = NULL;
  x->n_states = x->n_out = 0;
  return 0;
}

/* malloc'd copies of n names, for the dataset's d.observations. */
static char **copy_list(lua_State *L, const char *const *v, size_t n)
{
  char **c = calloc(n ? n : 1, sizeof *c);
  size_t k;
  if (!c) lrk_error(L, "rk.popest.read: out of memory");
  for (k = 0; k < n; k++)
    if (!(c[k] = strdup(v[k] ? v[k] : "?"))) {
      free_list(c, k);
      lrk_error(L, "rk.popest.read: out of memory");
    }
  return c;
}

/* The outputs DVID 1, 2, ... select: the list at dvid_idx (output names
 * of m), or m's outputs in their order when dvid_idx is 0. Pushed as a
 * scratch userdata. */
static const char **dvid_order(lua_State *L, const rkin_model *m,
                               int dvid_idx, size_t *n, const char *ctx)
{
  size_t k, no = rkin_model_noutputs(m);
  const char **out;
  if (!dvid_idx) {
    out = lua_newuserdatauv(L, (no ? no : 1) * sizeof *out, 0);
    for (k = 0; k < no; k++) out[k] = rkin_model_output_name(m, k);
    *n = no;
    return out;
  }
  *n = lua_rawlen(L, dvid_idx);
  out = lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *out, 0);
  for (k = 0; k < *n; k++) {
    rkin_err err;
    const char *name;
    lua_rawgeti(L, dvid_idx, (lua_Integer)k + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      lrk_error(L, "%s: dvid[%d] must be an output name (got %s)", ctx,
                (int)k + 1, lrk_got(L, -1));
    name = lua_tostring(L, -1);
    if (rkin_model_output_index(m, name, &err) < 0)
      lrk_error(L, "%s: dvid[%d]: %s", ctx, (int)k + 1, err.msg);
    out[k] = rkin_model_output_name(m, (size_t)rkin_model_output_index(m,
                                                                name, NULL));
    lua_pop(L, 1);
  }
  return out;
}

/* Reads a dataset at `path` for the model at model_idx (CMT may then name
 * a state or an output; DVID k selects output k of the list at dvid_idx,
 * or of the model's outputs when dvid_idx is 0) and pushes it. */
static ldata *push_data(lua_State *L, const char *path, int model_idx,
                        int dvid_idx, int locf, const char *ctx)
{
  const rkin_model *m = lrk_check_model(L, model_idx);
  size_t k, ns = rkin_model_nstates(m), nd;
  const char **names = lua_newuserdatauv(L, ns * sizeof *names, 0);
  const char **dv = dvid_order(L, m, dvid_idx, &nd, ctx);
  rkin_data_opts o;
  rkin_err err;
  ldata *x;
  for (k = 0; k < ns; k++) names[k] = rkin_model_state_name(m, k);
  memset(&o, 0, sizeof o);
  o.n_states = ns;
  o.state_names = names;
  o.n_outputs = nd;
  o.output_names = dv;
  o.cov_locf = locf;
  x = lua_newuserdatauv(L, sizeof *x, 0);
  memset(x, 0, sizeof *x);
  luaL_setmetatable(L, DATA_MT);
  lua_remove(L, -2);
  lua_remove(L, -2);
  rkin_err_clear(&err);
  x->path = lrk_strdup(L, "rk.popest", path);
  x->state_names = copy_list(L, names, ns);
  x->n_states = ns;
  x->out_names = copy_list(L, dv, nd);
  x->n_out = nd;
  x->d = rkin_data_read(path, &o, &err);
  if (!x->d) lrk_raise(L, ctx, &err);
  return x;
}

ldata *lrk_popdata_push(lua_State *L, const char *path, int model_idx,
                        const char *ctx)
{
  return push_data(L, path, lua_absindex(L, model_idx), 0, 0, ctx);
}

ldata *lrk_popdata_push_dvid(lua_State *L, const char *path, int model_idx,
                             int dvid_idx, const char *ctx)
{
  return push_data(L, path, lua_absindex(L, model_idx),
                   dvid_idx ? lua_absindex(L, dvid_idx) : 0, 0, ctx);
}

/* rk.popest.read(path, pm_or_model [, {dvid = {output names},
 * covariates = "nocb" | "locf"}]) */
int lrk_popdata_read(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  int dvid_idx = 0, locf = 0;
  lua_settop(L, 3);
  if (luaL_testudata(L, 2, POPMODEL_MT)) {
    const lpop *p = lrk_check_popmodel(L, 2);
    /* several endpoints: DVID follows observe = {...} unless dvid says */
    if (lua_isnil(L, 3) && lrk_popmodel_push_dvid(L, p)) {
      lua_createtable(L, 0, 1);
      lua_insert(L, -2);
      lua_setfield(L, -2, "dvid");
      lua_replace(L, 3);
    }
    lua_getiuservalue(L, 2, 1);
    lua_replace(L, 2);
  }
  if (!lua_isnil(L, 3)) {
    static const char *const known[] = { "dvid", "covariates", NULL };
    const char *cv;
    luaL_checktype(L, 3, LUA_TTABLE);
    lrk_check_keys(L, 3, "rk.popest.read", known);
    cv = lrk_field_string(L, 3, "rk.popest.read", "covariates", 0, "nocb");
    if (strcmp(cv, "locf") == 0) locf = 1;
    else if (strcmp(cv, "nocb") != 0)
      return lrk_error(L, "rk.popest.read: field 'covariates' must be "
                       "\"nocb\" (NONMEM: a record's values apply up to "
                       "it) or \"locf\" (from it on) (got \"%s\")", cv);
    lua_getfield(L, 3, "dvid");
    if (!lua_isnil(L, -1)) {
      if (!lua_istable(L, -1))
        return lrk_error(L, "rk.popest.read: field 'dvid' must be a list of "
                         "output names (got %s)", lrk_got(L, -1));
      dvid_idx = lua_gettop(L);
    }
  }
  push_data(L, path, 2, dvid_idx, locf, "rk.popest.read");
  return 1;
}

/* d.observations: one row per observation, subjects in file order:
 * {id, time, dv, line, cmt = state name or nil, dvid = n or nil,
 *  output = output name or nil}. */
static void push_observations(lua_State *L, const ldata *x)
{
  size_t i, k, row = 0;
  lua_createtable(L, (int)rkin_data_nobs(x->d), 0);
  for (i = 0; i < rkin_data_nsubjects(x->d); i++) {
    const rkin_data_subject *s = rkin_data_subject_at(x->d, i);
    for (k = 0; k < s->n_obs; k++) {
      lua_createtable(L, 0, 7);
      lua_pushnumber(L, s->id);
      lua_setfield(L, -2, "id");
      lua_pushnumber(L, s->time[k]);
      lua_setfield(L, -2, "time");
      lua_pushnumber(L, s->dv[k]);
      lua_setfield(L, -2, "dv");
      lua_pushinteger(L, (lua_Integer)s->obs_line[k]);
      lua_setfield(L, -2, "line");
      if (s->cmt[k] >= 0 && (size_t)s->cmt[k] < x->n_states) {
        lua_pushstring(L, x->state_names[s->cmt[k]]);
        lua_setfield(L, -2, "cmt");
      }
      if (s->dvid && s->dvid[k] >= 1) {
        lua_pushinteger(L, s->dvid[k]);
        lua_setfield(L, -2, "dvid");
      }
      if (s->output && s->output[k] >= 0 && x->out_names) {
        lua_pushstring(L, x->out_names[s->output[k]]);
        lua_setfield(L, -2, "output");
      }
      lua_rawseti(L, -2, (lua_Integer)++row);
    }
  }
}

int lrk_data_field(lua_State *L, const rkin_data *d, const char *path,
                   const char *k)
{
  size_t i;
  if (strcmp(k, "n_subjects") == 0) {
    lua_pushinteger(L, (lua_Integer)rkin_data_nsubjects(d));
  } else if (strcmp(k, "n_obs") == 0) {
    lua_pushinteger(L, (lua_Integer)rkin_data_nobs(d));
  } else if (strcmp(k, "path") == 0) {
    lua_pushstring(L, path);
  } else if (strcmp(k, "covariates") == 0) {
    lua_createtable(L, (int)rkin_data_ncovariates(d), 0);
    for (i = 0; i < rkin_data_ncovariates(d); i++) {
      lua_pushstring(L, rkin_data_covariate_name(d, i));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  } else if (strcmp(k, "ids") == 0) {
    lua_createtable(L, (int)rkin_data_nsubjects(d), 0);
    for (i = 0; i < rkin_data_nsubjects(d); i++) {
      lua_pushnumber(L, rkin_data_subject_at(d, i)->id);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  } else {
    return 0;
  }
  return 1;
}

int lrk_popdata_index(lua_State *L)
{
  ldata *x = luaL_checkudata(L, 1, DATA_MT);
  const char *k = luaL_checkstring(L, 2);
  if (!x->d) return lrk_error(L, "dataset was freed");
  if (lrk_data_field(L, x->d, x->path, k)) return 1;
  if (strcmp(k, "observations") == 0) {
    push_observations(L, x);
    return 1;
  }
  return lrk_error(L, "dataset has no field '%s' (fields: n_subjects, "
                   "n_obs, covariates, ids, path, observations)", k);
}
