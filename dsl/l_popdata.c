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

int lrk_popdata_gc(lua_State *L)
{
  ldata *x = luaL_checkudata(L, 1, DATA_MT);
  rkin_data_free(x->d);
  free(x->path);
  x->d = NULL;
  x->path = NULL;
  return 0;
}

/* Reads a dataset at `path` for the model at model_idx (CMT may then be
 * a state name) and pushes it. */
ldata *lrk_popdata_push(lua_State *L, const char *path, int model_idx,
                        const char *ctx)
{
  const rkin_model *m = lrk_check_model(L, model_idx);
  size_t k, ns = rkin_model_nstates(m);
  const char **names = lua_newuserdatauv(L, ns * sizeof *names, 0);
  rkin_data_opts o;
  rkin_err err;
  ldata *x;
  for (k = 0; k < ns; k++) names[k] = rkin_model_state_name(m, k);
  o.n_states = ns;
  o.state_names = names;
  x = lua_newuserdatauv(L, sizeof *x, 0);
  memset(x, 0, sizeof *x);
  luaL_setmetatable(L, DATA_MT);
  lua_remove(L, -2);
  rkin_err_clear(&err);
  x->path = lrk_strdup(L, "rk.popest", path);
  x->d = rkin_data_read(path, &o, &err);
  if (!x->d) lrk_raise(L, ctx, &err);
  return x;
}

/* rk.popest.read(path, pm_or_model) -> dataset */
int lrk_popdata_read(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  if (luaL_testudata(L, 2, POPMODEL_MT)) {
    lrk_check_popmodel(L, 2);
    lua_getiuservalue(L, 2, 1);
    lua_replace(L, 2);
  }
  lrk_popdata_push(L, path, 2, "rk.popest.read");
  return 1;
}

int lrk_popdata_index(lua_State *L)
{
  ldata *x = luaL_checkudata(L, 1, DATA_MT);
  const char *k = luaL_checkstring(L, 2);
  size_t i;
  if (!x->d) return lrk_error(L, "dataset was freed");
  if (strcmp(k, "n_subjects") == 0) {
    lua_pushinteger(L, (lua_Integer)rkin_data_nsubjects(x->d));
  } else if (strcmp(k, "n_obs") == 0) {
    lua_pushinteger(L, (lua_Integer)rkin_data_nobs(x->d));
  } else if (strcmp(k, "path") == 0) {
    lua_pushstring(L, x->path);
  } else if (strcmp(k, "covariates") == 0) {
    lua_createtable(L, (int)rkin_data_ncovariates(x->d), 0);
    for (i = 0; i < rkin_data_ncovariates(x->d); i++) {
      lua_pushstring(L, rkin_data_covariate_name(x->d, i));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  } else if (strcmp(k, "ids") == 0) {
    lua_createtable(L, (int)rkin_data_nsubjects(x->d), 0);
    for (i = 0; i < rkin_data_nsubjects(x->d); i++) {
      lua_pushnumber(L, rkin_data_subject_at(x->d, i)->id);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  } else {
    return lrk_error(L, "dataset has no field '%s' (fields: n_subjects, "
                     "n_obs, covariates, ids, path)", k);
  }
  return 1;
}
