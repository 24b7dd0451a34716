/* l_regimen.c - "radiokin.regimen": rk.regimen{...} runs virtual patients
 * cycle by cycle through a regimen rule (empiric, PP-PRRT, ILUMINET,
 * optimised, or a Lua function) with the imaging-to-decision chain
 * (engine/regimen/regimen.h, engine/tac/imaging.h) and returns per-patient, per-cycle
 * activities and true / estimated doses and BEDs per region.
 *
 * A Lua rule runs only between cycles, in the calling thread (the engine's
 * decide callback). It is called under lua_pcall inside the callback, so
 * a Lua error never unwinds through engine frames: the callback records
 * it and returns an error code, and the error is raised here once the
 * engine has returned. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"
#include "lrk_dist.h"
#include "core/model.h"
#include "modules.h"
#include "dose/organ.h"
#include "regimen/regimen.h"

#define CTX "rk.regimen"

/* Larger organ limits are taken as a unit mistake (cGy for Gy); the
 * engine applies the same bound to the limits its rules use. */
#define MAX_LIMIT_GY 200.0
/* Cycles of a course: n_cycles and max_cycles lie in [1, MAX_CYCLES]. */
#define MAX_CYCLES 100LL

static const char *const regimen_keys[] = {
  "model", "patients", "regions", "inject", "infusion_h", "rule",
  "activity_gbq", "interval_h", "max_cycles", "n_cycles", "target_gy",
  "bed_limit_gy", "marrow_limit_gy", "dose_limit_gy", "min_gbq", "max_gbq",
  "first_gy_per_gbq", "reduce_last", "watch", "objective", "marrow",
  "imaging", "threads", "progress", "path", "rtol", "atol", "keep_going",
  "min_cycle_gbq", "confidence", "optimiser", "carrier", NULL
};

static const char *const carrier_keys[] = {"state", "per_mbq", NULL};

static const char *const region_keys[] = {
  "activity", "dose_rate", "mass_param", "mass_kg", "s_gy_per_mbqh",
  "alpha_beta_Gy", "t_rep_h", "organ", NULL
};

static const char *const imaging_keys[] = {
  "times_h", "cv", "method", "seed", "imaged", "models", "model", "cal_cv",
  "rc_cv", "volume_cv", NULL
};

/* Fixed stack slots of regimen_new. */
enum {
  S_ARGS = 1, S_MODEL, S_FILE, S_NAMES, S_REGIONS, S_PATIENTS, S_PARAMS,
  S_IDS, S_RULE, S_FIXED = S_RULE
};

/* ------------------------------------------------------------ regions */

/* Index of state or output `name` in solve.h numbering, or -1. */
static int quantity_index(const rkin_model *m, const char *name)
{
  int k = rkin_model_state_index(m, name, NULL);
  if (k >= 0) return k;
  k = rkin_model_output_index(m, name, NULL);
  return k < 0 ? -1 : k + (int)rkin_model_nstates(m);
}

static void known_names(lua_State *L, int names)
{
  luaL_Buffer b;
  size_t i, n = (size_t)luaL_len(L, names);
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    lua_geti(L, names, (lua_Integer)i);
    if (i > 1) luaL_addstring(&b, ", ");
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
}

/* Alpha/beta and T_rep: the definition's, else the organ table's entry
 * named `organ` or the region's own name ("marrow" means red_marrow). */
static void region_lq(lua_State *L, int def, const char *name, rkin_lq *lq)
{
  const char *organ = lrk_field_string(L, def, CTX, "organ", 0, name);
  const rkin_organ *o;
  char ctx[200];
  int has_ab, has_tr;
  snprintf(ctx, sizeof ctx, CTX ": region '%s'", name);
  has_ab = lua_getfield(L, def, "alpha_beta_Gy") != LUA_TNIL;
  has_tr = lua_getfield(L, def, "t_rep_h") != LUA_TNIL;
  lua_pop(L, 2);
  if (!strcmp(organ, "marrow")) organ = "red_marrow";
  o = rkin_organ_find(organ, NULL);
  if ((!has_ab || !has_tr) && !o)
    lrk_error(L, "%s: alpha_beta_Gy and t_rep_h are required (no organ "
              "table entry named '%s'; give organ = \"kidney\", "
              "\"red_marrow\", \"salivary\" or \"tumour\")", ctx, organ);
  lq->ab_gy = lrk_field_number(L, def, ctx, "alpha_beta_Gy", 0,
                               o ? o->lq.ab_gy : 0);
  lq->trep_h = lrk_field_number(L, def, ctx, "t_rep_h", 0,
                                o ? o->lq.trep_h : 0);
}

/* The region definition at `def` (a table) named `name` into *rg. */
static void region_read(lua_State *L, const rkin_model *m, int def,
                        const char *name, rkin_region *rg)
{
  char ctx[200];
  const char *dr, *act, *mp;
  int k;
  def = lua_absindex(L, def);
  snprintf(ctx, sizeof ctx, CTX ": region '%s'", name);
  if (!lua_istable(L, def))
    lrk_error(L, "%s must be a table {activity = | dose_rate =, mass_kg =, "
              "alpha_beta_Gy =, t_rep_h =} (got %s)", ctx,
              luaL_typename(L, def));
  lrk_check_keys(L, def, ctx, region_keys);
  memset(rg, 0, sizeof *rg);
  rg->name = name;
  dr = lrk_field_string(L, def, ctx, "dose_rate", 0, NULL);
  act = lrk_field_string(L, def, ctx, "activity", 0, NULL);
  mp = lrk_field_string(L, def, ctx, "mass_param", 0, NULL);
  rg->mass_kg = lrk_field_number(L, def, ctx, "mass_kg", 0, 0);
  rg->s_gy_per_mbqh = lrk_field_number(L, def, ctx, "s_gy_per_mbqh", 0, 0);
  if (dr) {
    /* The output is a dose rate in Gy/h with each patient's own mass, so
     * its integral is the dose: S = 1 Gy per (Gy/h x h). */
    if ((k = quantity_index(m, dr)) < (int)rkin_model_nstates(m))
      lrk_error(L, "%s: dose_rate '%s' is not an output of model '%s'", ctx,
                dr, rkin_model_name(m));
    rg->quantity = k;
    rg->s_gy_per_mbqh = 1.0;
    if (!(rg->mass_kg > 0) && mp) {
      int j = rkin_model_param_index(m, mp, NULL);
      if (j < 0)
        lrk_error(L, "%s: mass_param '%s' is not a parameter of model '%s'",
                  ctx, mp, rkin_model_name(m));
      rg->mass_kg = rkin_model_defaults(m)[j];
    }
    if (!(rg->mass_kg > 0)) rg->mass_kg = 1.0;   /* unused with S given */
  } else if (act) {
    if ((k = quantity_index(m, act)) < 0)
      lrk_error(L, "%s: activity '%s' is neither a state nor an output of "
                "model '%s'", ctx, act, rkin_model_name(m));
    rg->quantity = k;
    if (!(rg->mass_kg > 0) && !(rg->s_gy_per_mbqh > 0))
      lrk_error(L, "%s: mass_kg (local energy deposition) or s_gy_per_mbqh "
                "is required with activity =%s", ctx,
                mp ? "; per-patient masses (mass_param) need a dose_rate "
                     "output" : "");
    if (!(rg->mass_kg > 0)) rg->mass_kg = 1.0;
  } else {
    lrk_error(L, "%s: 'activity' (a state or output, MBq) or 'dose_rate' "
              "(an output, Gy/h) is required", ctx);
  }
  region_lq(L, def, name, &rg->lq);
}

/* Sorts the strings of the array at idx in place (table.sort). */
static void sort_names(lua_State *L, int idx)
{
  idx = lua_absindex(L, idx);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_pushvalue(L, idx);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
}

/* Pushes the region names (S_NAMES) and the region array (S_REGIONS).
 * `regions` = {name = def, ...} (sorted by name), a list of names taken
 * from the model file's regions (in the order given), or absent: all of
 * the model file's regions. */
static size_t read_regions(lua_State *L, const rkin_model *m)
{
  size_t n, i;
  rkin_region *rg;
  int src, list = 0;
  lua_getfield(L, S_ARGS, "regions");
  src = lua_gettop(L);
  if (lua_isnil(L, src)) {
    lua_pop(L, 1);
    if (lua_isnil(L, S_FILE) || lua_getfield(L, S_FILE, "regions")
                                  != LUA_TTABLE)
      lrk_error(L, CTX ": field 'regions' is required (name = {activity = "
                "| dose_rate =, ...}), unless model is a model file's table "
                "with regions");
    src = lua_gettop(L);
  } else if (!lua_istable(L, src)) {
    lrk_error(L, CTX ": field 'regions' must be a table (got %s)",
              luaL_typename(L, src));
  }
  list = luaL_len(L, src) > 0;
  lua_newtable(L);                                       /* names */
  if (list) {
    n = (size_t)luaL_len(L, src);
    for (i = 1; i <= n; i++) {
      if (lua_geti(L, src, (lua_Integer)i) != LUA_TSTRING)
        lrk_error(L, CTX ": regions[%d] must be a region name", (int)i);
      lua_rawseti(L, -2, (lua_Integer)i);
    }
  } else {
    n = 0;
    lua_pushnil(L);
    while (lua_next(L, src)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        lrk_error(L, CTX ": field 'regions' must map region names to "
                  "definitions");
      lua_pushvalue(L, -1);
      lua_rawseti(L, -3, (lua_Integer)++n);
    }
    sort_names(L, -1);
  }
  if (!n) lrk_error(L, CTX ": field 'regions' is empty");
  lua_replace(L, S_NAMES);
  rg = lua_newuserdatauv(L, n * sizeof *rg, 0);
  lua_replace(L, S_REGIONS);
  for (i = 0; i < n; i++) {
    const char *name;
    lua_geti(L, S_NAMES, (lua_Integer)i + 1);
    name = lua_tostring(L, -1);        /* S_NAMES keeps it alive */
    lua_pop(L, 1);
    if (list) {
      if (lua_isnil(L, S_FILE)
          || lua_getfield(L, S_FILE, "regions") != LUA_TTABLE)
        lrk_error(L, CTX ": regions given by name ('%s') need a model "
                  "file's table as model", name);
      if (lua_getfield(L, -1, name) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, -3)) {
          lua_pop(L, 1);
          lua_pushvalue(L, -1);
          lua_rawseti(L, -3, luaL_len(L, -3) + 1);
        }
        sort_names(L, -1);
        known_names(L, lua_gettop(L));
        lrk_error(L, CTX ": unknown region '%s' (the model file has: %s)",
                  name, lua_tostring(L, -1));
      }
      region_read(L, m, -1, name, &rg[i]);
      lua_pop(L, 2);
    } else {
      lua_getfield(L, src, name);
      region_read(L, m, -1, name, &rg[i]);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, src - 1);
  return n;
}

/* Index of region `name` (field `key`), or (size_t)-1 when absent and
 * not required; raises naming the known regions otherwise. */
static size_t region_index(lua_State *L, size_t nr, const char *key,
                           const char *name, int required)
{
  size_t i;
  for (i = 0; i < nr; i++) {
    const char *s;
    lua_geti(L, S_NAMES, (lua_Integer)i + 1);
    s = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (!strcmp(s, name)) return i;
  }
  if (!required) return (size_t)-1;
  known_names(L, S_NAMES);
  lrk_error(L, CTX ": unknown region '%s' in field '%s' (regions: %s)", name,
            key, lua_tostring(L, -1));
  return 0;
}

/* ------------------------------------------------------------ imaging */

typedef struct {
  rkin_imaging img;
  int on;                       /* 0: no imaging field, decisions on truth */
} imaging_in;

/* Reads field `imaging` (the stack keeps the times and flags alive). */
static void read_imaging(lua_State *L, size_t nr, imaging_in *im)
{
  int t;
  const char *method;
  memset(im, 0, sizeof *im);
  im->img.method = RKIN_IMAGING_TRUTH;
  lua_getfield(L, S_ARGS, "imaging");
  t = lua_gettop(L);
  if (lua_isnil(L, t)) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, t))
    lrk_error(L, CTX ": field 'imaging' must be a table {times_h =, cv =, "
              "method =, seed =} (got %s)", luaL_typename(L, t));
  lrk_check_keys(L, t, CTX ": imaging", imaging_keys);
  im->on = 1;
  method = lrk_field_string(L, t, CTX ": imaging", "method", 0, "fit");
  if (!strcmp(method, "fit")) im->img.method = RKIN_IMAGING_FIT;
  else if (!strcmp(method, "stp")) im->img.method = RKIN_IMAGING_STP;
  else if (!strcmp(method, "truth")) im->img.method = RKIN_IMAGING_TRUTH;
  else
    lrk_error(L, CTX ": imaging: method must be \"fit\" (multi-point curve "
              "fit), \"stp\" (single time point) or \"truth\" (got \"%s\")",
              method);
  im->img.cv = lrk_field_number(L, t, CTX ": imaging", "cv", 0, 0.10);
  im->img.seed = (unsigned long)lrk_field_integer(L, t, CTX ": imaging",
                                                  "seed", 0, 1);
  im->img.tac_models = (unsigned)lrk_field_integer(L, t, CTX ": imaging",
                                                   "models", 0, 0);
  {
    const char *em = lrk_field_string(L, t, CTX ": imaging", "model", 0,
                                      "proportional");
    int shared = lua_getfield(L, t, "cal_cv") != LUA_TNIL
                 || lua_getfield(L, t, "rc_cv") != LUA_TNIL
                 || lua_getfield(L, t, "volume_cv") != LUA_TNIL;
    lua_settop(L, t);
    if (!strcmp(em, "eanm")) im->img.model = RKIN_IMAGING_EANM;
    else if (!strcmp(em, "proportional")) im->img.model = RKIN_IMAGING_PROP;
    else
      lrk_error(L, CTX ": imaging: model must be \"proportional\" (cv per "
                "image) or \"eanm\" (plus shared cal_cv, rc_cv, volume_cv) "
                "(got \"%s\")", em);
    if (shared && im->img.model != RKIN_IMAGING_EANM)
      lrk_error(L, CTX ": imaging: cal_cv, rc_cv and volume_cv belong to "
                "model = \"eanm\"");
    im->img.cal_cv = lrk_field_number(L, t, CTX ": imaging", "cal_cv", 0, 0);
    im->img.rc_cv = lrk_field_number(L, t, CTX ": imaging", "rc_cv", 0, 0);
    im->img.volume_cv = lrk_field_number(L, t, CTX ": imaging", "volume_cv",
                                         0, 0);
  }
  if (im->img.method != RKIN_IMAGING_TRUTH) {
    if (lua_getfield(L, t, "times_h") != LUA_TTABLE)
      lrk_error(L, CTX ": imaging: field 'times_h' is required (imaging "
                "times after each administration, e.g. {4, 24, 72})");
    im->img.times_h = lrk_numbers(L, -1, CTX ": imaging", "field 'times_h'",
                                  &im->img.n_times);
    lua_remove(L, -2);           /* the userdata stays, above t */
  }
  if (lua_getfield(L, t, "imaged") != LUA_TNIL) {
    int *flags = lua_newuserdatauv(L, nr * sizeof *flags, 0);
    size_t i, n;
    if (!lua_istable(L, -2))
      lrk_error(L, CTX ": imaging: field 'imaged' must be a list of region "
                "names");
    memset(flags, 0, nr * sizeof *flags);
    n = (size_t)luaL_len(L, -2);
    for (i = 1; i <= n; i++) {
      const char *s;
      lua_geti(L, -2, (lua_Integer)i);
      if (!(s = lua_tostring(L, -1)))
        lrk_error(L, CTX ": imaging: imaged[%d] must be a region name",
                  (int)i);
      flags[region_index(L, nr, "imaging.imaged", s, 1)] = 1;
      lua_pop(L, 1);
    }
    lua_remove(L, -2);
    im->img.imaged = flags;
  } else {
    lua_pop(L, 1);
  }
  /* keep t and what hangs above it on the stack */
}

/* ------------------------------------------------------------ Lua rule */

typedef struct {
  lua_State *L;
  int fn, patients, names, ids;   /* absolute stack slots */
  size_t base;                    /* this rank's first patient (0-based) */
  size_t n_err;
  size_t first_i, first_c;
  char first[RKIN_ERR_MSG];
} lua_rule;

/* Pushes patient i's id (patients[i].id, else i + 1). */
static void push_id(lua_State *L, int ids, size_t i)
{
  lua_geti(L, ids, (lua_Integer)i + 1);
}

/* known.<what> = {region = {per cycle}} from a cycles x nr array. */
static void push_per_region(lua_State *L, const rkin_regimen_state *k,
                            const double *v, int names)
{
  size_t q, c, nr = k->n_regions;
  lua_createtable(L, 0, (int)nr);
  for (q = 0; q < nr; q++) {
    lua_geti(L, names, (lua_Integer)q + 1);
    lua_createtable(L, (int)k->cycles_given, 0);
    for (c = 0; c < k->cycles_given; c++) {
      lua_pushnumber(L, v[c * nr + q]);
      lua_rawseti(L, -2, (lua_Integer)c + 1);
    }
    lua_rawset(L, -3);
  }
}

static void push_cum(lua_State *L, const rkin_regimen_state *k,
                     const double *v, int names)
{
  size_t q;
  lua_createtable(L, 0, (int)k->n_regions);
  for (q = 0; q < k->n_regions; q++) {
    lua_geti(L, names, (lua_Integer)q + 1);
    lua_pushnumber(L, v[q]);
    lua_rawset(L, -3);
  }
}

/* Runs protected: builds `known` and calls the rule; returns its first
 * result. Arguments: the state (light userdata), the rule function, the
 * patients, the region names and the ids (a C function has its own stack
 * frame: regimen_new's slots are handed over as arguments). */
enum { A_STATE = 1, A_FN, A_PATIENTS, A_NAMES, A_IDS, A_BASE,
       A_TOP = A_BASE };

static int rule_call(lua_State *L)
{
  const rkin_regimen_state *k = lua_touserdata(L, A_STATE);
  /* the patient's number in the whole cohort (a rank has a block) */
  size_t c, i = k->patient + (size_t)lua_tointeger(L, A_BASE);
  lua_settop(L, A_TOP);
  lua_pushvalue(L, A_FN);
  lua_createtable(L, 0, 16);
  push_id(L, A_IDS, i);
  lua_setfield(L, -2, "id");
  lua_pushinteger(L, (lua_Integer)i + 1);
  lua_setfield(L, -2, "index");
  lua_pushinteger(L, (lua_Integer)k->cycles_given);
  lua_setfield(L, -2, "given");
  lua_pushinteger(L, (lua_Integer)k->cycles_given + 1);
  lua_setfield(L, -2, "cycle");
  lua_pushinteger(L, (lua_Integer)k->max_cycles);
  lua_setfield(L, -2, "max_cycles");
  lua_pushnumber(L, k->interval_h);
  lua_setfield(L, -2, "interval_h");
  lua_createtable(L, (int)k->cycles_given, 0);
  for (c = 0; c < k->cycles_given; c++) {
    lua_pushnumber(L, k->activity_gbq[c]);
    lua_rawseti(L, -2, (lua_Integer)c + 1);
  }
  lua_setfield(L, -2, "activity_gbq");
  push_per_region(L, k, k->dose_gy, A_NAMES);
  lua_setfield(L, -2, "dose");
  push_per_region(L, k, k->bed_gy, A_NAMES);
  lua_setfield(L, -2, "bed");
  push_per_region(L, k, k->g, A_NAMES);
  lua_setfield(L, -2, "g");
  push_cum(L, k, k->cum_dose_gy, A_NAMES);
  lua_setfield(L, -2, "cum_dose");
  push_cum(L, k, k->cum_bed_gy, A_NAMES);
  lua_setfield(L, -2, "cum_bed");
  if (k->u_rel) {
    push_per_region(L, k, k->u_rel, A_NAMES);
    lua_setfield(L, -2, "u_rel");
  }
  lua_pushnumber(L, k->u_act_rel);
  lua_setfield(L, -2, "u_act_rel");
  lua_pushnumber(L, k->u_mass_rel);
  lua_setfield(L, -2, "u_mass_rel");
  /* a copy: a rule that changes it cannot change the next patient's */
  lua_newtable(L);
  lua_geti(L, A_PATIENTS, (lua_Integer)i + 1);
  if (lua_istable(L, -1) && lua_getfield(L, -1, "cov") == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, -6);
    }
  }
  lua_settop(L, A_TOP + 3);
  lua_setfield(L, -2, "cov");
  lua_call(L, 1, 1);
  return 1;
}

/* Records a rule failure of patient k->patient and fills k->err. */
static int rule_fail(lua_rule *lr, const rkin_regimen_state *k,
                     const char *msg)
{
  lua_State *L = lr->L;
  const char *id;
  push_id(L, lr->ids, lr->base + k->patient);
  id = lua_tostring(L, -1);
  rkin_err_set(k->err, RKIN_EINVAL, "patient %s, cycle %zu: %s",
               id ? id : "?", k->cycles_given + 1, msg);
  lua_pop(L, 1);
  if (!lr->n_err++) {
    lr->first_i = lr->base + k->patient;
    lr->first_c = k->cycles_given + 1;
    snprintf(lr->first, sizeof lr->first, "%s", msg);
  }
  return RKIN_EINVAL;
}

/* The engine's decide callback for a Lua function. */
static int lua_decide(void *ud, const rkin_regimen_state *k, double *next)
{
  lua_rule *lr = ud;
  lua_State *L = lr->L;
  int top = lua_gettop(L), rc, type;
  char msg[RKIN_ERR_MSG];
  double a;
  *next = 0;
  if (!lua_checkstack(L, 8))
    return rule_fail(lr, k, "Lua stack exhausted");
  lua_pushcfunction(L, rule_call);
  lua_pushlightuserdata(L, (void *)k);
  lua_pushvalue(L, lr->fn);
  lua_pushvalue(L, lr->patients);
  lua_pushvalue(L, lr->names);
  lua_pushvalue(L, lr->ids);
  lua_pushinteger(L, (lua_Integer)lr->base);
  rc = lua_pcall(L, A_TOP, 1, 0);
  if (rc != LUA_OK) {
    const char *e = lua_tostring(L, -1);
    snprintf(msg, sizeof msg, "the rule function raised an error: %s",
             e ? e : "(an error object that is not a string)");
    lua_settop(L, top);
    return rule_fail(lr, k, msg);
  }
  type = lua_type(L, -1);
  if (type == LUA_TNIL) {
    lua_settop(L, top);
    return RKIN_OK;
  }
  if (type != LUA_TNUMBER) {
    snprintf(msg, sizeof msg, "the rule function returned a %s; expected "
             "the next activity in GBq, or nil / 0 to stop",
             lua_typename(L, type));
    lua_settop(L, top);
    return rule_fail(lr, k, msg);
  }
  a = lua_tonumber(L, -1);
  lua_settop(L, top);
  if (!isfinite(a) || a < 0) {
    snprintf(msg, sizeof msg, "the rule function returned %g GBq; expected "
             "an activity >= 0 (nil or 0 stops)", a);
    return rule_fail(lr, k, msg);
  }
  if (a > 0 && k->cycles_given >= k->max_cycles) {
    snprintf(msg, sizeof msg, "the rule function asks for %g GBq after "
             "max_cycles = %zu cycles: it never stops (return nil or 0 to "
             "stop, or raise max_cycles)", a, k->max_cycles);
    return rule_fail(lr, k, msg);
  }
  *next = a;
  return RKIN_OK;
}

/* ------------------------------------------------------------ the rule */

static rkin_rule_kind rule_kind(lua_State *L, const char **label)
{
  const char *s;
  if (lua_isfunction(L, S_RULE)) {
    *label = "function";
    return RKIN_RULE_CUSTOM;
  }
  if (lua_isnil(L, S_RULE))
    lrk_error(L, CTX ": field 'rule' is required (\"empiric\", \"pp-prrt\", "
              "\"iluminet\", \"optimised\" or a function(known))");
  if (lua_type(L, S_RULE) != LUA_TSTRING)
    lrk_error(L, CTX ": field 'rule' must be a rule name or a function (got "
              "%s)", luaL_typename(L, S_RULE));
  *label = s = lua_tostring(L, S_RULE);
  if (!strcmp(s, "empiric")) return RKIN_RULE_EMPIRIC;
  if (!strcmp(s, "pp-prrt")) return RKIN_RULE_PP_PRRT;
  if (!strcmp(s, "iluminet")) return RKIN_RULE_ILUMINET;
  if (!strcmp(s, "optimised") || !strcmp(s, "optimized"))
    return RKIN_RULE_OPTIMISED;
  lrk_error(L, CTX ": unknown rule \"%s\" (known: \"empiric\", \"pp-prrt\", "
            "\"iluminet\", \"optimised\", or a function(known))", s);
  return RKIN_RULE_EMPIRIC;
}

/* An organ limit (field key) in Gy; a value > MAX_LIMIT_GY is refused as
 * a likely cGy / mGy mistake. */
/* The value of limit `id` of the organ-limit table (dose/organ.h): the
 * defaults of the rules' limits come from there, each with its source. */
static double table_limit(lua_State *L, const char *id)
{
  rkin_err err;
  const rkin_organ_limit *l;
  rkin_err_clear(&err);
  l = rkin_organ_limit_find(id, &err);
  if (!l) lrk_raise(L, CTX, &err);
  return l->value_gy;
}

static double limit_field(lua_State *L, const char *key, double def)
{
  double v = lrk_field_number(L, S_ARGS, CTX, key, 0, def);
  char sv[32], sg[32];
  snprintf(sv, sizeof sv, "%g", v);
  snprintf(sg, sizeof sg, "%g", v / 100);
  if (!(v > 0))
    lrk_error(L, CTX ": field '%s' must be a number > 0 Gy (got %s)", key,
              sv);
  if (v > MAX_LIMIT_GY)
    lrk_error(L, CTX ": field '%s' = %s Gy is implausible for an organ "
              "limit; is it in cGy (%s cGy = %s Gy) or mGy? Limits are in "
              "Gy (23, not 2300)", key, sv, sv, sg);
  return v;
}

static int has_field(lua_State *L, const char *key)
{
  int has = lua_getfield(L, S_ARGS, key) != LUA_TNIL;
  lua_pop(L, 1);
  return has;
}

/* Reads the rule's numbers; `lim` has room for 3 limits. */
static void read_rule(lua_State *L, size_t nr, double file_gbq,
                      rkin_regimen_rule *u, rkin_regimen_limit *lim)
{
  size_t w, mw;
  int needs_watch;
  rkin_regimen_rule_default(u);
  {
    const char *lb;
    u->kind = rule_kind(L, &lb);
  }
  u->activity_gbq = lrk_field_number(L, S_ARGS, CTX, "activity_gbq", 0,
                                     file_gbq);
  u->n_cycles = (size_t)lrk_field_count(L, S_ARGS, CTX, "n_cycles", 0, 4, 1,
                                        MAX_CYCLES);
  u->max_cycles = (size_t)lrk_field_count(
    L, S_ARGS, CTX, "max_cycles", 0,
    u->kind == RKIN_RULE_EMPIRIC || u->kind == RKIN_RULE_PP_PRRT
      ? (long long)u->n_cycles : 6, 1, MAX_CYCLES);
  u->target_gy = limit_field(L, "target_gy",
                             table_limit(L, "kidney_dose_pp_prrt"));
  u->bed_limit_gy = limit_field(L, "bed_limit_gy",
                                table_limit(L, "kidney_bed_iluminet"));
  u->min_gbq = lrk_field_number(L, S_ARGS, CTX, "min_gbq", 0, 0);
  u->max_gbq = lrk_field_number(L, S_ARGS, CTX, "max_gbq", 0, 0);
  if (u->kind == RKIN_RULE_OPTIMISED && !(u->max_gbq > 0))
    lrk_error(L, CTX ": rule \"optimised\" needs max_gbq (the largest "
              "activity per cycle, GBq)");
  u->first_gy_per_gbq = lrk_field_number(L, S_ARGS, CTX, "first_gy_per_gbq",
                                         0, 0);
  u->reduce_last = lrk_field_boolean(L, S_ARGS, CTX, "reduce_last", 1);
  u->min_cycle_gbq = lrk_field_number(L, S_ARGS, CTX, "min_cycle_gbq", 0,
                                      u->min_cycle_gbq);
  u->confidence = lrk_field_number(L, S_ARGS, CTX, "confidence", 0, 0.5);
  needs_watch = u->kind == RKIN_RULE_PP_PRRT
                || u->kind == RKIN_RULE_ILUMINET
                || u->kind == RKIN_RULE_OPTIMISED;
  w = region_index(L, nr, "watch",
                   lrk_field_string(L, S_ARGS, CTX, "watch", 0, "kidney"),
                   needs_watch || has_field(L, "watch"));
  u->region = w == (size_t)-1 ? 0 : w;
  if (u->kind != RKIN_RULE_OPTIMISED) return;
  {
    const char *meth = lrk_field_string(L, S_ARGS, CTX, "optimiser", 0,
                                        "slsqp");
    if (!strcmp(meth, "slsqp"))
      u->optimiser = RKIN_OPT_GRADIENT;
    else if (!strcmp(meth, "cobyla"))
      u->optimiser = RKIN_OPT_COBYLA;
    else
      lrk_error(L, CTX ": optimiser \"%s\" is unknown (expected \"slsqp\" "
                "or \"cobyla\")", meth);
  }
  u->objective = region_index(L, nr, "objective",
                              lrk_field_string(L, S_ARGS, CTX, "objective",
                                               0, "tumour"), 1);
  lim[0] = (rkin_regimen_limit){w, 1, u->bed_limit_gy};
  u->n_limits = 1;
  if (has_field(L, "dose_limit_gy"))
    lim[u->n_limits++] = (rkin_regimen_limit){w, 0,
                                              limit_field(L, "dose_limit_gy",
                                                          table_limit(L,
                                                  "kidney_dose_pp_prrt"))};
  mw = region_index(L, nr, "marrow",
                    lrk_field_string(L, S_ARGS, CTX, "marrow", 0, "marrow"),
                    has_field(L, "marrow") || has_field(L, "marrow_limit_gy"));
  if (mw != (size_t)-1)
    lim[u->n_limits++] = (rkin_regimen_limit){mw, 0,
                                              limit_field(L, "marrow_limit_gy",
                                                          table_limit(L,
                                                  "red_marrow_dose_2"))};
  u->limits = lim;
}

/* ------------------------------------------------------------ results */

static void progress_bar(size_t done, size_t total, void *ud)
{
  int width = 30, fill = total ? (int)(width * done / total) : width;
  fprintf(stderr, "\r" CTX " %-10s [%.*s%*s] %zu/%zu", (const char *)ud,
          fill, "##############################", width - fill, "", done,
          total);
  if (done == total) fputc('\n', stderr);
  fflush(stderr);
}

/* t[name] = per patient arrays of the cycles given, for every region. */
static void push_cycles(lua_State *L, const rkin_regimen_res *res,
                        const double *v)
{
  size_t q, i, c, nr = res->n_regions, mc = res->max_cycles;
  lua_createtable(L, 0, (int)nr);
  for (q = 0; q < nr; q++) {
    lua_geti(L, S_NAMES, (lua_Integer)q + 1);
    lua_createtable(L, (int)res->n_patients, 0);
    for (i = 0; i < res->n_patients; i++) {
      lua_createtable(L, (int)res->n_cycles[i], 0);
      for (c = 0; c < res->n_cycles[i]; c++) {
        lua_pushnumber(L, v[(i * mc + c) * nr + q]);
        lua_rawseti(L, -2, (lua_Integer)c + 1);
      }
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_rawset(L, -3);
  }
}

/* t[name] = per patient sums over the cycles given. */
static void push_sums(lua_State *L, const rkin_regimen_res *res,
                      const double *v)
{
  size_t q, i, c, nr = res->n_regions, mc = res->max_cycles;
  lua_createtable(L, 0, (int)nr);
  for (q = 0; q < nr; q++) {
    lua_geti(L, S_NAMES, (lua_Integer)q + 1);
    lua_createtable(L, (int)res->n_patients, 0);
    for (i = 0; i < res->n_patients; i++) {
      double s = 0;
      for (c = 0; c < res->n_cycles[i]; c++) s += v[(i * mc + c) * nr + q];
      lua_pushnumber(L, s);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_rawset(L, -3);
  }
}

static void push_set(lua_State *L, const rkin_regimen_res *res,
                     const double *tia, const double *dose, const double *g,
                     const double *bed)
{
  lua_createtable(L, 0, 6);
  push_cycles(L, res, tia);
  lua_setfield(L, -2, "tia");
  push_cycles(L, res, dose);
  lua_setfield(L, -2, "dose");
  push_cycles(L, res, g);
  lua_setfield(L, -2, "g");
  push_cycles(L, res, bed);
  lua_setfield(L, -2, "bed");
  push_sums(L, res, dose);
  lua_setfield(L, -2, "cum_dose");
  push_sums(L, res, bed);
  lua_setfield(L, -2, "cum_bed");
}

static void push_result(lua_State *L, const rkin_regimen_rule *u,
                        const rkin_regimen_res *res, const char *label,
                        const char *route, size_t nfb, const imaging_in *im)
{
  size_t i, c, n = res->n_patients, mc = res->max_cycles, nf = 0;
  lua_createtable(L, 0, 24);
  lua_pushinteger(L, (lua_Integer)n);
  lua_setfield(L, -2, "n");
  lua_pushinteger(L, (lua_Integer)mc);
  lua_setfield(L, -2, "max_cycles");
  lua_pushstring(L, label);
  lua_setfield(L, -2, "rule");
  lua_pushstring(L, route);
  lua_setfield(L, -2, "route");
  lua_pushinteger(L, (lua_Integer)nfb);
  lua_setfield(L, -2, "n_fallback");
  lua_pushstring(L, !im->on || im->img.method == RKIN_IMAGING_TRUTH
                      ? "truth"
                      : im->img.method == RKIN_IMAGING_FIT ? "fit" : "stp");
  lua_setfield(L, -2, "imaging");
  lua_pushinteger(L, res->n_steps);
  lua_setfield(L, -2, "steps");
  lua_pushvalue(L, S_NAMES);
  lua_setfield(L, -2, "regions");
  lua_pushvalue(L, S_IDS);
  lua_setfield(L, -2, "ids");

  lua_createtable(L, (int)u->n_limits, 0);
  for (i = 0; i < u->n_limits; i++) {
    lua_createtable(L, 0, 3);
    lua_geti(L, S_NAMES, (lua_Integer)u->limits[i].region + 1);
    lua_setfield(L, -2, "region");
    lua_pushstring(L, u->limits[i].bed ? "bed" : "dose");
    lua_setfield(L, -2, "kind");
    lua_pushnumber(L, u->limits[i].limit_gy);
    lua_setfield(L, -2, "limit_gy");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "limits");

  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)res->n_cycles[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "cycles");
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, (int)res->n_cycles[i], 0);
    for (c = 0; c < res->n_cycles[i]; c++) {
      lua_pushnumber(L, res->activity_gbq[i * mc + c]);
      lua_rawseti(L, -2, (lua_Integer)c + 1);
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "activity_gbq");
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    double s = 0;
    for (c = 0; c < res->n_cycles[i]; c++) s += res->activity_gbq[i * mc + c];
    lua_pushnumber(L, s);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "cum_activity_gbq");

  push_set(L, res, res->tia_true, res->dose_true, res->g_true,
           res->bed_true);
  lua_pushnil(L);
  while (lua_next(L, -2)) {          /* true values at the top level too */
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -5);
  }
  lua_setfield(L, -2, "truth");
  push_set(L, res, res->tia_est, res->dose_est, res->g_est, res->bed_est);
  push_cycles(L, res, res->u_rel_est);
  lua_setfield(L, -2, "u_rel");
  lua_setfield(L, -2, "est");
  lua_pushnumber(L, u->confidence > 0 ? u->confidence : 0.5);
  lua_setfield(L, -2, "confidence");

  lua_createtable(L, (int)n, 0);
  lua_newtable(L);
  for (i = 0; i < n; i++) {
    lua_pushboolean(L, !res->status[i]);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    if (!res->status[i]) continue;
    lua_createtable(L, 0, 4);
    push_id(L, S_IDS, i);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, (lua_Integer)i + 1);
    lua_setfield(L, -2, "index");
    lua_pushstring(L, rkin_err_name(res->status[i]));
    lua_setfield(L, -2, "code");
    lua_pushstring(L, res->message[i] ? res->message[i] : "(no message)");
    lua_setfield(L, -2, "message");
    lua_rawseti(L, -2, (lua_Integer)++nf);
  }
  lua_setfield(L, -3, "failed");
  lua_setfield(L, -2, "ok");
}

/* ------------------------------------------------------------ ranks */

/* Copies the block `part` (patients lo, ... of the whole) into `all` and
 * gathers every rank's block, so every rank holds the whole result.
 * Failure messages travel as "index\0message\0" records. */
static int gather_result(const rkin_regimen_res *part, size_t lo,
                         rkin_regimen_res *all, rkin_err *err)
{
  size_t n = all->n_patients, mc = all->max_cycles, nr = all->n_regions;
  size_t m = part->n_patients, per = mc * nr, k, i, len = 0, total = 0;
  double *to[] = {all->tia_true, all->dose_true, all->g_true, all->bed_true,
                  all->tia_est, all->dose_est, all->g_est, all->bed_est,
                  all->u_rel_est};
  const double *from[] = {part->tia_true, part->dose_true, part->g_true,
                          part->bed_true, part->tia_est, part->dose_est,
                          part->g_est, part->bed_est, part->u_rel_est};
  char *mine = NULL, *every = NULL, *p;
  int rc;
  for (k = 0; k < sizeof to / sizeof *to; k++) {
    if (m) memcpy(to[k] + lo * per, from[k], m * per * sizeof(double));
    if ((rc = lrk_dist_allgather(to[k], n, per * sizeof(double), err)))
      return rc;
  }
  if (m) {
    memcpy(all->activity_gbq + lo * mc, part->activity_gbq,
           m * mc * sizeof(double));
    memcpy(all->n_cycles + lo, part->n_cycles, m * sizeof *all->n_cycles);
    memcpy(all->status + lo, part->status, m * sizeof *all->status);
  }
  if ((rc = lrk_dist_allgather(all->activity_gbq, n, mc * sizeof(double),
                               err)) ||
      (rc = lrk_dist_allgather(all->n_cycles, n, sizeof *all->n_cycles,
                               err)) ||
      (rc = lrk_dist_allgather(all->status, n, sizeof *all->status, err)))
    return rc;
  for (i = 0; i < m; i++)
    if (part->message[i])
      len += 24 + strlen(part->message[i]) + 1;
  if (len && !(mine = malloc(len)))
    return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  for (p = mine, i = 0; i < m; i++)
    if (part->message[i]) {
      p += sprintf(p, "%zu", lo + i) + 1;
      p += sprintf(p, "%s", part->message[i]) + 1;
    }
  rc = lrk_dist_allgather_bytes(mine, mine ? (size_t)(p - mine) : 0, &every,
                                &total, err);
  free(mine);
  if (rc) return rc;
  for (p = every; p && p < every + total;) {
    size_t at = (size_t)strtoull(p, NULL, 10);
    p += strlen(p) + 1;
    if (at < n && !all->message[at] && !(all->message[at] = strdup(p))) {
      free(every);
      return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
    }
    p += strlen(p) + 1;
  }
  free(every);
  all->n_failed = (size_t)lrk_dist_sum_long((long)part->n_failed);
  all->n_steps = lrk_dist_sum_long(part->n_steps);
  return RKIN_OK;
}

/* The first failure of a Lua rule over all ranks: the earliest cycle,
 * then the lowest patient (the order of a one-process run). */
typedef struct {
  unsigned long long c, i;   /* c 0: none */
} rule_first;

static int agree_rule_failure(lua_rule *lr, rkin_err *err)
{
  int size = lrk_dist_size(), r, best = -1;
  rule_first *all = calloc((size_t)size, sizeof *all);
  if (!all) return rkin_err_set(err, RKIN_ENOMEM, "regimen: out of memory");
  if (lr->n_err) {
    all[lrk_dist_rank()].c = lr->first_c;
    all[lrk_dist_rank()].i = lr->first_i;
  }
  if (lrk_dist_allgather(all, (size_t)size, sizeof *all, err)) {
    free(all);
    return err->code;
  }
  lr->n_err = 0;
  for (r = 0; r < size; r++) {
    if (!all[r].c) continue;
    lr->n_err++;
    if (best < 0 || all[r].c < all[best].c ||
        (all[r].c == all[best].c && all[r].i < all[best].i))
      best = r;
  }
  if (best >= 0) {
    lr->first_c = all[best].c;
    lr->first_i = all[best].i;
    if (lrk_dist_bcast(lr->first, sizeof lr->first, best, err)) {
      free(all);
      return err->code;
    }
  }
  free(all);
  return RKIN_OK;
}

/* ------------------------------------------------------------ entry */

/* Pushes the ids: patients[i].id, else i. */
static void push_ids(lua_State *L, size_t n)
{
  size_t i;
  lua_createtable(L, (int)n, 0);
  for (i = 1; i <= n; i++) {
    lua_geti(L, S_PATIENTS, (lua_Integer)i);
    if (lua_getfield(L, -1, "id") == LUA_TNIL) {
      lua_pop(L, 1);
      lua_pushinteger(L, (lua_Integer)i);
    }
    lua_rawseti(L, -3, (lua_Integer)i);
    lua_pop(L, 1);
  }
}

/* path = of rk.regimen (it offers no "exact"). */
static const char *const path_names[] = {"auto", "cvodes", NULL};
static const rkin_path path_values[] = {RKIN_PATH_AUTO, RKIN_PATH_CVODES};

/* The model at S_MODEL and the model file's table (or nil) at S_FILE. */
static const rkin_model *read_model(lua_State *L)
{
  lua_getfield(L, S_ARGS, "model");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "model");
    if (lua_isnil(L, -1))
      lrk_error(L, CTX ": field 'model' is a table without a 'model' (an "
                "rk.model, or a model file's table {model =, regions =, "
                "...})");
    lua_insert(L, -2);
  } else if (lua_isnil(L, -1)) {
    lrk_error(L, CTX ": field 'model' is required (an rk.model or a model "
              "file's table)");
  } else {
    lua_pushnil(L);
  }
  return lrk_check_model(L, S_MODEL);
}

static int inject_state(lua_State *L, const rkin_model *m)
{
  const char *def = NULL, *s;
  int k;
  if (!lua_isnil(L, S_FILE) && lua_getfield(L, S_FILE, "dose_to")
                                 == LUA_TSTRING)
    def = lua_tostring(L, -1);
  s = lrk_field_string(L, S_ARGS, CTX, "inject", !def, def);
  k = rkin_model_state_index(m, s, NULL);
  if (k < 0)
    lrk_error(L, CTX ": inject '%s' is not a state of model '%s'", s,
              rkin_model_name(m));
  return k;
}

/* carrier = { state =, per_mbq = } of the call, else of the model file's
 * table; false: none (a file's carrier turned off). */
static void read_carrier(lua_State *L, const rkin_model *m,
                         rkin_regimen_spec *sp)
{
  const char *ctx = CTX ": carrier";
  const char *s;
  int t;
  sp->carrier_per_mbq = 0;
  sp->carrier = -1;
  lua_getfield(L, S_ARGS, "carrier");
  if (lua_isnil(L, -1) && !lua_isnil(L, S_FILE)) {
    lua_pop(L, 1);
    lua_getfield(L, S_FILE, "carrier");
    ctx = CTX ": the model file's carrier";
  }
  t = lua_absindex(L, -1);
  if (lua_isnil(L, t) || (lua_isboolean(L, t) && !lua_toboolean(L, t))) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, t))
    lrk_error(L, "%s must be a table {state =, per_mbq =} or false (got "
              "%s)", ctx, luaL_typename(L, t));
  lrk_check_keys(L, t, ctx, carrier_keys);
  s = lrk_field_string(L, t, ctx, "state", 1, NULL);
  sp->carrier = rkin_model_state_index(m, s, NULL);
  if (sp->carrier < 0)
    lrk_error(L, "%s: state '%s' is not a state of model '%s'", ctx, s,
              rkin_model_name(m));
  if (sp->carrier == sp->inject)
    lrk_error(L, "%s: state '%s' is the state the activity goes to; the "
              "carrier needs its own state", ctx, s);
  sp->carrier_per_mbq = lrk_field_number(L, t, ctx, "per_mbq", 1, 0);
  if (!isfinite(sp->carrier_per_mbq) || sp->carrier_per_mbq < 0)
    lrk_error(L, "%s: per_mbq must be a finite number >= 0 (amount of "
              "carrier per MBq; got %f)", ctx, sp->carrier_per_mbq);
  lua_pop(L, 1);
}

static double file_number(lua_State *L, const char *key, double def)
{
  double v = def;
  if (!lua_isnil(L, S_FILE) && lua_getfield(L, S_FILE, key) == LUA_TNUMBER)
    v = lua_tonumber(L, -1);
  if (!lua_isnil(L, S_FILE)) lua_pop(L, 1);
  return v;
}

static int regimen_new(lua_State *L)
{
  rkin_regimen_spec sp = {0};
  rkin_regimen_rule u;
  rkin_regimen_limit lim[3];
  rkin_regimen_res res;
  rkin_regimen *r;
  rkin_err err;
  imaging_in im;
  lua_rule lr;
  const rkin_model *m;
  const char *label = NULL;
  char where[64];
  size_t n, nr, nfb = 0;
  int rc, keep_going;

  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lrk_check_keys(L, S_ARGS, CTX, regimen_keys);
  m = read_model(L);                                  /* S_MODEL, S_FILE */
  lua_pushnil(L);                                     /* S_NAMES */
  lua_pushnil(L);                                     /* S_REGIONS */
  nr = read_regions(L, m);
  lua_getfield(L, S_ARGS, "patients");                /* S_PATIENTS */
  if (lua_isnil(L, S_PATIENTS))
    lrk_error(L, CTX ": field 'patients' is required (pop:sample{...} or an "
              "array of parameter tables; { {} } is one typical patient)");
  sp.params = lrk_check_patients(L, S_MODEL, S_PATIENTS, CTX, &n);
  push_ids(L, n);                                     /* S_IDS */
  lua_getfield(L, S_ARGS, "rule");                    /* S_RULE */
  rule_kind(L, &label);

  sp.model = m;
  rkin_solve_opts_default(&sp.opts);
  sp.opts.rtol = lrk_field_number(L, S_ARGS, CTX, "rtol", 0, sp.opts.rtol);
  sp.opts.atol = lrk_field_number(L, S_ARGS, CTX, "atol", 0, sp.opts.atol);
  sp.opts.path = path_values[lrk_field_enum(L, S_ARGS, CTX, "path",
                                            path_names, 0)];
  sp.n_patients = n;
  sp.n_regions = nr;
  sp.regions = lua_touserdata(L, S_REGIONS);
  sp.inject = inject_state(L, m);
  read_carrier(L, m, &sp);
  sp.infusion_h = lrk_field_number(L, S_ARGS, CTX, "infusion_h", 0, 0);
  sp.interval_h = lrk_field_number(L, S_ARGS, CTX, "interval_h",
                                   lua_isnil(L, S_FILE)
                                     || file_number(L, "interval_h", 0) <= 0,
                                   file_number(L, "interval_h", 0));
  sp.threads = (int)lrk_field_integer(L, S_ARGS, CTX, "threads", 0, 0);
  if (sp.threads < 0)
    lrk_error(L, CTX ": field 'threads' must be >= 0 (0: all cores)");
  if (lrk_field_boolean(L, S_ARGS, CTX, "progress", isatty(2))) {
    sp.progress = progress_bar;
    sp.progress_ud = (void *)label;     /* S_RULE or a literal */
  }
  keep_going = lrk_field_boolean(L, S_ARGS, CTX, "keep_going", 0);

  read_rule(L, nr, file_number(L, "activity_MBq", 7400) / 1000, &u, lim);
  read_imaging(L, nr, &im);
  if (u.kind == RKIN_RULE_CUSTOM) {
    memset(&lr, 0, sizeof lr);
    lr.L = L;
    lr.fn = S_RULE;
    lr.patients = S_PATIENTS;
    lr.names = S_NAMES;
    lr.ids = S_IDS;
    u.decide = lua_decide;
    u.ud = &lr;
  }

  /* Over MPI ranks: each rank runs its block of patients (numbered and
   * seeded as in the whole cohort, so results do not depend on the
   * ranks), then every rank gathers the whole result. */
  memset(&res, 0, sizeof res);
  {
    rkin_regimen_spec mine = sp;
    rkin_regimen_res part;
    size_t lo, hi;
    int route = RKIN_ROUTE_EIGEN;
    lrk_dist_range(n, lrk_dist_rank(), lrk_dist_size(), &lo, &hi);
    mine.n_patients = hi - lo;
    mine.params = sp.params + lo * rkin_model_nparams(m);
    mine.first_id = lo;
    mine.threads = lrk_dist_threads(sp.threads);
    if (lrk_dist_rank() != 0) mine.progress = NULL;
    lr.base = lo;
    memset(&part, 0, sizeof part);
    r = NULL;
    rc = RKIN_OK;
    rkin_err_clear(&err);
    if (hi > lo) {            /* more ranks than patients: none here */
      if (!(r = rkin_regimen_new(&mine, &err)))
        rc = err.code;
      else if (!(rc = rkin_regimen_res_alloc(&part, hi - lo, u.max_cycles,
                                             nr, &err)))
        rc = rkin_regimen_run(r, &u, im.on ? &im.img : NULL, &part, &err);
      if (r) {
        route = (int)rkin_regimen_route(r);
        nfb = rkin_regimen_nfallback(r);
        rkin_regimen_free(r);
      }
    }
    rc = lrk_dist_failed(rc, &err);
    if (!rc) rc = lrk_dist_bcast(&route, sizeof route, 0, &err);
    if (!rc) {
      nfb = (size_t)lrk_dist_sum_long((long)nfb);
      rc = lrk_dist_failed(rkin_regimen_res_alloc(&res, n, u.max_cycles,
                                                  nr, &err), &err);
    }
    if (!rc) rc = gather_result(&part, lo, &res, &err);
    if (!rc && u.kind == RKIN_RULE_CUSTOM) rc = agree_rule_failure(&lr, &err);
    rkin_regimen_res_free(&part);
    snprintf(where, sizeof where, "%s",
             route == RKIN_ROUTE_EIGEN ? "eigen" : "augmented");
  }
  if (!rc && res.n_failed > 0 && !keep_going) {
    /* Loud by default: a run in which patients failed (a rule returning
     * MBq for GBq fails every one) raises with the first failure and the
     * count; keep_going = true returns the partial results instead. The
     * pieces are pushed one statement at a time (argument evaluation
     * order is unspecified, and luaL_tolstring reads the stack top). */
    size_t i = 0, nf = res.n_failed;
    const char *id, *more, *what;
    int first_c = 0;
    if (u.kind == RKIN_RULE_CUSTOM && lr.n_err) {
      i = lr.first_i;
      first_c = (int)lr.first_c;
      lua_pushstring(L, lr.first);
    } else {
      while (i + 1 < n && !res.status[i]) i++;
      lua_pushstring(L, res.message[i] ? res.message[i] : "(no message)");
    }
    what = lua_tostring(L, -1);
    push_id(L, S_IDS, i);
    id = luaL_tolstring(L, -1, NULL);
    more = nf > 1 ? lua_pushfstring(L, " (and %d more patients failed; "
                                    "keep_going = true returns the others' "
                                    "results)", (int)nf - 1)
                  : lua_pushstring(L, " (keep_going = true returns the "
                                   "others' results)");
    rkin_regimen_res_free(&res);
    if (first_c)
      return lrk_error(L, CTX ": rule function failed for patient %s "
                       "(patients[%d]) before cycle %d: %s%s", id, (int)i + 1,
                       first_c, what, more);
    return lrk_error(L, CTX ": patient %s (patients[%d]) failed: %s%s", id,
                     (int)i + 1, what, more);
  }
  if (!rc) {
    push_result(L, &u, &res, label, where, nfb, &im);
  }
  rkin_regimen_res_free(&res);
  if (rc) lrk_raise(L, CTX, &err);
  return 1;
}

int luaopen_radiokin_regimen(lua_State *L)
{
  lua_pushcfunction(L, regimen_new);
  return 1;
}
