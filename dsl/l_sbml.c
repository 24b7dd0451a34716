/* l_sbml.c - "radiokin.sbml": SBML models (engine/sbml/sbml.h).
 *
 *   rk.sbml.load(path [, {time_unit=, nuclide=, strict=, quiet=, fluxes=}])
 *       -> model (an ordinary rk.model), info
 *   rk.sbml.info(path [, opts]) -> info (the same table, no model kept)
 *
 * info: time_unit, hours_per_unit, time_declared, level, version,
 * warnings (array of strings), symbols (array of {id=, name=, plain=,
 * kind=, role=, amount=, boundary=, compartment=}), names (alias -> model
 * name: every SBML id, every SBML name that is unique, and the model
 * names themselves), counts (reactions, rules, initial_assignments,
 * functions). Warnings go to stderr too unless quiet = true. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "core/model.h"
#include "core/nuclide.h"
#include "lrk.h"
#include "modules.h"
#include "sbml/sbml.h"

static const char *kind_str(int k)
{
  switch (k) {
  case 'c': return "compartment";
  case 's': return "species";
  case 'p': return "parameter";
  case 'r': return "reaction";
  default: return "local parameter";
  }
}

static const char *role_str(int w)
{
  switch (w) {
  case 's': return "state";
  case 'o': return "output";
  case 'p': return "param";
  default: return "none";
  }
}

/* Pushes the info table of r. */
static void push_info(lua_State *L, const rkin_sbml_result *r)
{
  size_t i, j;
  lua_createtable(L, 0, 10);
  lua_pushstring(L, r->time_unit);
  lua_setfield(L, -2, "time_unit");
  lua_pushnumber(L, r->hours_per_unit);
  lua_setfield(L, -2, "hours_per_unit");
  lua_pushboolean(L, r->time_declared);
  lua_setfield(L, -2, "time_declared");
  lua_pushinteger(L, r->level);
  lua_setfield(L, -2, "level");
  lua_pushinteger(L, r->version);
  lua_setfield(L, -2, "version");
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)r->n_reactions);
  lua_setfield(L, -2, "reactions");
  lua_pushinteger(L, (lua_Integer)r->n_rules);
  lua_setfield(L, -2, "rules");
  lua_pushinteger(L, (lua_Integer)r->n_initial_assignments);
  lua_setfield(L, -2, "initial_assignments");
  lua_pushinteger(L, (lua_Integer)r->n_functions);
  lua_setfield(L, -2, "functions");
  lua_setfield(L, -2, "counts");
  lua_createtable(L, (int)r->n_warn, 0);
  for (i = 0; i < r->n_warn; i++) {
    lua_pushstring(L, r->warn[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "warnings");
  lua_createtable(L, (int)r->n_sym, 0);
  for (i = 0; i < r->n_sym; i++) {
    const rkin_sbml_symbol *s = &r->sym[i];
    lua_createtable(L, 0, 8);
    lua_pushstring(L, s->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, s->name);
    lua_setfield(L, -2, "name");
    if (s->plain) {
      lua_pushstring(L, s->plain);
      lua_setfield(L, -2, "plain");
    }
    lua_pushstring(L, kind_str(s->kind));
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, role_str(s->where));
    lua_setfield(L, -2, "role");
    if (s->kind == 's') {
      lua_pushboolean(L, s->hosu);
      lua_setfield(L, -2, "amount");
      lua_pushboolean(L, s->boundary);
      lua_setfield(L, -2, "boundary");
      lua_pushstring(L, s->compartment);
      lua_setfield(L, -2, "compartment");
      lua_pushstring(L, s->holds_conc ? "concentration" : "amount");
      lua_setfield(L, -2, "holds");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "symbols");
  /* names: model names, ids, and SBML names that are unique */
  lua_createtable(L, 0, (int)(3 * r->n_sym));
  for (i = 0; i < r->n_sym; i++) {
    const rkin_sbml_symbol *s = &r->sym[i];
    int unique = s->plain != NULL;
    lua_pushstring(L, s->name);
    lua_setfield(L, -2, s->name);
    lua_pushstring(L, s->name);
    lua_setfield(L, -2, s->id);
    for (j = 0; unique && j < r->n_sym; j++)
      if (j != i && ((r->sym[j].plain && strcmp(r->sym[j].plain, s->plain) == 0)
                     || strcmp(r->sym[j].id, s->plain) == 0
                     || strcmp(r->sym[j].name, s->plain) == 0))
        unique = 0;
    if (unique) {
      lua_pushstring(L, s->name);
      lua_setfield(L, -2, s->plain);
    }
  }
  lua_setfield(L, -2, "names");
}

/* Reads path with the options at index 2; the result is in *r. */
static void load(lua_State *L, const char *ctx, rkin_sbml_result *r)
{
  static const char *const keys[] = {"time_unit", "nuclide", "strict",
                                     "quiet", "fluxes", NULL};
  const char *path = luaL_checkstring(L, 1);
  rkin_sbml_opts o;
  rkin_err err;
  size_t i;
  int quiet = 0;
  memset(&o, 0, sizeof o);
  rkin_err_clear(&err);
  if (!lua_isnoneornil(L, 2)) {
    if (lua_type(L, 2) != LUA_TTABLE)
      lrk_error(L, "%s: options must be a table (got %s)", ctx,
                lrk_got(L, 2));
    lrk_check_keys(L, 2, ctx, keys);
    o.time_unit = lrk_field_string(L, 2, ctx, "time_unit", 0, NULL);
    o.strict = lrk_field_boolean(L, 2, ctx, "strict", 0);
    quiet = lrk_field_boolean(L, 2, ctx, "quiet", 0);
    o.fluxes = lrk_field_boolean(L, 2, ctx, "fluxes", 0);
    {
      const char *nuc = lrk_field_string(L, 2, ctx, "nuclide", 0, NULL);
      if (nuc && !(o.nuclide = rkin_nuclide_find(nuc, &err)))
        lrk_raise(L, ctx, &err);
    }
  }
  if (rkin_sbml_load(path, &o, r, &err)) lrk_raise(L, ctx, &err);
  if (!quiet)
    for (i = 0; i < r->n_warn; i++)
      fprintf(stderr, "radiokin: warning: %s\n", r->warn[i]);
}

static int sbml_load(lua_State *L)
{
  rkin_sbml_result r;
  char desc[512];
  lua_settop(L, 2);
  load(L, "rk.sbml.load", &r);
  snprintf(desc, sizeof desc, "SBML Level %d Version %d model, time in "
           "hours (the file's time unit: %s)", r.level, r.version,
           r.time_unit);
  {
    rkin_model *m = r.model;
    r.model = NULL;
    lrk_push_model(L, m, desc, luaL_checkstring(L, 1));   /* owns m */
  }
  push_info(L, &r);
  rkin_sbml_result_free(&r);
  return 2;
}

static int sbml_info(lua_State *L)
{
  rkin_sbml_result r;
  lua_settop(L, 2);
  load(L, "rk.sbml.info", &r);
  push_info(L, &r);
  rkin_sbml_result_free(&r);
  return 1;
}

static const luaL_Reg sbml_funcs[] = {
  {"load", sbml_load},
  {"info", sbml_info},
  {NULL, NULL}
};

int luaopen_radiokin_sbml(lua_State *L)
{
  luaL_newlib(L, sbml_funcs);
  return 1;
}
