/* l_tare.c - "radiokin.tare": TARE planning (engine/tare/tare.h) for Lua.
 *
 *   rk.tare.plan{product=, cf=, limits={...}, territories={{...}, ...},
 *                lung_mass_kg=, liver_mass_kg= | liver_volume_L/_mL=,
 *                density_kg_L=, compromised=, decay_h=, residual_fraction=}
 *   (one territory may be given by its fields at the top level)
 *   rk.tare.products(), rk.tare.cf(nuclide [, convention]),
 *   rk.tare.bsa(height_cm, weight_kg [, formula]), rk.tare.bsa_activity{...}
 *   rk.tare.cohort([plan.csv]) -> c; c:add(plan_table [, id]), #c, c:id(i),
 *   c:plan(i) (the table rk.tare.plan returns), c:write(out.csv) -> summary
 *
 * Volumes are converted to masses here, once, with density_kg_L (default
 * 1.03); a volume or mass whose size betrays the wrong unit (a territory
 * "volume_L" of 1500) raises naming the field and the likely unit. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"
#include "modules.h"
#include "tare/tare.h"
#include "tare/tare_cohort.h"

#define CTX "rk.tare.plan"

static const char *const plan_keys[] = {
  "product", "cf", "limits", "territories", "lung_mass_kg", "liver_mass_kg",
  "liver_volume_L", "liver_volume_mL", "density_kg_L", "compromised",
  "decay_h", "residual_fraction", NULL};
static const char *const terr_keys[] = {
  "name", "mass_kg", "volume_L", "volume_mL", "lsf", "lesions", "mode",
  "target_gy", "ref", "activity_mbq", "cap", NULL};
static const char *const lesion_keys[] = {
  "name", "mass_kg", "volume_L", "volume_mL", "tn", NULL};
static const char *const limit_keys[] = {
  "parenchyma_gy", "compromised_gy", "lung_gy", "tumour_lo_gy",
  "tumour_hi_gy", "ablative_gy", NULL};

/* Stack-resident storage for one call (no allocation: a raise leaks
 * nothing). */
typedef struct {
  rkin_tare_territory terr[RKIN_TARE_MAX_TERR];
  rkin_tare_lesion les[RKIN_TARE_MAX_TERR][RKIN_TARE_MAX_LESIONS];
  rkin_tare_plan plan;
  rkin_tare_result res;
} plan_buf;

static int has(lua_State *L, int t, const char *key)
{
  int absent = lua_getfield(L, t, key) == LUA_TNIL;
  lua_pop(L, 1);
  return !absent;
}

/* Mass from exactly one of mass_kg, volume_L, volume_mL at table t. `who`
 * names the owner ("territory 'seg4'"). `terr` enables the small-volume
 * check. Returns 0 and leaves *mass when none is given and !required. */
static int read_mass(lua_State *L, int t, const char *ctx, const char *who,
                     double density, int terr, int required, double *mass)
{
  static const char *const keys[] = {"mass_kg", "volume_L", "volume_mL"};
  static const char *const units[] = {"kg", "L", "mL"};
  int which = -1, k, n = 0;
  double v;
  rkin_err err;
  for (k = 0; k < 3; k++)
    if (has(L, t, keys[k])) {
      which = k;
      n++;
    }
  if (n > 1)
    return lrk_error(L, "%s: %s: give one of mass_kg, volume_L, volume_mL, "
                     "not %d of them", ctx, who, n);
  if (n == 0) {
    if (required)
      return lrk_error(L, "%s: %s: mass_kg, volume_L or volume_mL is "
                       "required", ctx, who);
    return 0;
  }
  v = lrk_field_number(L, t, ctx, keys[which], 1, 0.0);
  rkin_err_clear(&err);
  lua_pushfstring(L, "%s %s", who, keys[which]);
  if (rkin_tare_size_check(lua_tostring(L, -1), units[which], v, terr, &err))
    return lrk_raise(L, ctx, &err);
  lua_pop(L, 1);
  if (which == 0) {
    *mass = v;  /* the engine checks > 0, naming the territory */
    return 0;
  }
  {
    char field[128];
    lua_pushfstring(L, "%s %s", who, keys[which]);
    strncpy(field, lua_tostring(L, -1), sizeof field - 1);
    field[sizeof field - 1] = '\0';
    lua_pop(L, 1);
    if (rkin_tare_volume_to_mass(field, which == 1 ? v : v / 1000.0, density,
                                 mass, &err))
      return lrk_raise(L, ctx, &err);
  }
  return 0;
}

static rkin_tare_mode read_mode(lua_State *L, int t, const char *who)
{
  const char *m;
  if (!has(L, t, "mode")) {
    if (has(L, t, "activity_mbq")) return RKIN_TARE_MODE_ACTIVITY;
    lrk_error(L, "%s: %s: field 'mode' is required ('tumour', 'normal', "
              "'max_safe' or 'activity')", CTX, who);
  }
  m = lrk_field_string(L, t, CTX, "mode", 1, NULL);
  if (!strcmp(m, "tumour") || !strcmp(m, "tumor"))
    return RKIN_TARE_MODE_TUMOUR;
  if (!strcmp(m, "normal")) return RKIN_TARE_MODE_NORMAL;
  if (!strcmp(m, "max_safe")) return RKIN_TARE_MODE_MAX_SAFE;
  if (!strcmp(m, "activity")) return RKIN_TARE_MODE_ACTIVITY;
  lrk_error(L, "%s: %s: mode '%s' unknown (expected 'tumour', 'normal', "
            "'max_safe' or 'activity')", CTX, who, m);
  return RKIN_TARE_MODE_ACTIVITY;
}

static void read_ref(lua_State *L, int t, const char *who,
                     rkin_tare_territory *tr)
{
  int ty = lua_getfield(L, t, "ref");
  tr->ref = RKIN_TARE_REF_MEAN;
  if (ty == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    if (!strcmp(s, "mean")) tr->ref = RKIN_TARE_REF_MEAN;
    else if (!strcmp(s, "min")) tr->ref = RKIN_TARE_REF_MIN;
    else
      lrk_error(L, "%s: %s: ref '%s' unknown (expected 'mean', 'min' or a "
                "lesion number)", CTX, who, s);
  } else if (ty != LUA_TNIL) {
    long i = lrk_field_integer(L, t, CTX, "ref", 1, 1);
    if (i < 1)
      lrk_error(L, "%s: %s: ref = %d must be a lesion number >= 1", CTX, who,
                (int)i);
    tr->ref = RKIN_TARE_REF_LESION;
    tr->ref_index = (size_t)(i - 1);
  }
  lua_pop(L, 1);
}

static void read_lesions(lua_State *L, int t, const char *who, double dens,
                         rkin_tare_lesion *les, size_t *n)
{
  lua_Integer i, len;
  if (lua_getfield(L, t, "lesions") == LUA_TNIL) {
    lua_pop(L, 1);
    *n = 0;
    return;
  }
  if (!lua_istable(L, -1))
    lrk_error(L, "%s: %s: field 'lesions' must be an array of tables", CTX,
              who);
  len = (lua_Integer)lua_rawlen(L, -1);
  if (len > RKIN_TARE_MAX_LESIONS)
    lrk_error(L, "%s: %s: %d lesions, at most %d supported", CTX, who,
              (int)len, RKIN_TARE_MAX_LESIONS);
  for (i = 1; i <= len; i++) {
    const char *lwho;
    int lt;
    if (lua_rawgeti(L, -1, i) != LUA_TTABLE)
      lrk_error(L, "%s: %s: lesion %d must be a table", CTX, who, (int)i);
    lt = lua_gettop(L);
    lwho = lua_pushfstring(L, "%s lesion %d", who, (int)i);
    lrk_check_keys(L, lt, lua_pushfstring(L, "%s: %s", CTX, lwho),
                   lesion_keys);
    lua_pop(L, 1);
    read_mass(L, lt, CTX, lwho, dens, 0, 1, &les[i - 1].mass_kg);
    les[i - 1].tn = lrk_field_number(L, lt, CTX, "tn", 1, 0.0);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  *n = (size_t)len;
}

/* Reads the territory table at t into b->terr[k]; its name (a Lua string
 * or "territory k") stays referenced from the stack below. */
static void read_territory(lua_State *L, int t, size_t k, double dens,
                           plan_buf *b, int strict)
{
  rkin_tare_territory *tr = &b->terr[k];
  const char *who;
  memset(tr, 0, sizeof *tr);
  if (strict) {
    lua_pushfstring(L, "%s: territory %d", CTX, (int)k + 1);
    lrk_check_keys(L, t, lua_tostring(L, -1), terr_keys);
    lua_pop(L, 1);
  }
  tr->name = lrk_field_string(L, t, CTX, "name", 0, NULL);
  who = tr->name ? lua_pushfstring(L, "territory '%s'", tr->name)
                 : lua_pushfstring(L, "territory %d", (int)k + 1);
  /* `who` stays on the stack while this territory is read. */
  read_mass(L, t, CTX, who, dens, 1, 1, &tr->mass_kg);
  tr->lsf = lrk_field_number(L, t, CTX, "lsf", 1, 0.0);
  read_lesions(L, t, who, dens, b->les[k], &tr->n_lesions);
  tr->lesions = b->les[k];
  tr->mode = read_mode(L, t, who);
  tr->target_gy = lrk_field_number(L, t, CTX, "target_gy",
                                   tr->mode == RKIN_TARE_MODE_TUMOUR ||
                                   tr->mode == RKIN_TARE_MODE_NORMAL, 0.0);
  tr->activity_mbq = lrk_field_number(L, t, CTX, "activity_mbq",
                                      tr->mode == RKIN_TARE_MODE_ACTIVITY,
                                      0.0);
  tr->cap = lrk_field_boolean(L, t, CTX, "cap", 0);
  read_ref(L, t, who, tr);
}

static void read_limits(lua_State *L, int t, rkin_tare_product *p)
{
  if (lua_getfield(L, t, "limits") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1))
    lrk_error(L, "%s: field 'limits' must be a table", CTX);
  lrk_check_keys(L, -1, CTX ": limits", limit_keys);
  p->parenchyma_gy = lrk_field_number(L, -1, CTX, "parenchyma_gy", 0,
                                      p->parenchyma_gy);
  p->compromised_gy = lrk_field_number(L, -1, CTX, "compromised_gy", 0,
                                       p->compromised_gy);
  p->lung_gy = lrk_field_number(L, -1, CTX, "lung_gy", 0, p->lung_gy);
  p->tumour_lo_gy = lrk_field_number(L, -1, CTX, "tumour_lo_gy", 0,
                                     p->tumour_lo_gy);
  p->tumour_hi_gy = lrk_field_number(L, -1, CTX, "tumour_hi_gy", 0,
                                     p->tumour_hi_gy);
  p->ablative_gy = lrk_field_number(L, -1, CTX, "ablative_gy", 0,
                                    p->ablative_gy);
  lua_pop(L, 1);
}

static void read_cf(lua_State *L, int t, rkin_tare_plan *p)
{
  rkin_err err;
  rkin_tare_cf_conv conv;
  int ty = lua_getfield(L, t, "cf");
  rkin_err_clear(&err);
  if (ty == LUA_TSTRING) {
    if (rkin_tare_cf_conv_parse(lua_tostring(L, -1), &conv, &err) ||
        rkin_tare_cf(p->nuclide, conv, &p->cf, &err))
      lrk_raise(L, CTX, &err);
  } else if (ty != LUA_TNIL) {
    p->cf = lrk_field_number(L, t, CTX, "cf", 1, 0.0);
  }
  lua_pop(L, 1);
}

static void read_plan(lua_State *L, int t, plan_buf *b)
{
  rkin_err err;
  rkin_tare_plan *p = &b->plan;
  const rkin_tare_product *prod;
  double dens, liver = 0.0;
  int single = !has(L, t, "territories");
  rkin_err_clear(&err);
  if (single) {
    /* One territory at the top level: both key sets are allowed. */
    const char *all[sizeof plan_keys / sizeof *plan_keys +
                    sizeof terr_keys / sizeof *terr_keys];
    size_t i, n = 0;
    for (i = 0; plan_keys[i]; i++) all[n++] = plan_keys[i];
    for (i = 0; terr_keys[i]; i++) all[n++] = terr_keys[i];
    all[n] = NULL;
    lrk_check_keys(L, t, CTX, all);
  } else {
    lrk_check_keys(L, t, CTX, plan_keys);
  }
  prod = rkin_tare_product_find(lrk_field_string(L, t, CTX, "product", 1,
                                                 NULL), &err);
  if (!prod) lrk_raise(L, CTX, &err);
  if (rkin_tare_plan_init(p, prod, RKIN_TARE_CF_DERIVED, &err))
    lrk_raise(L, CTX, &err);
  read_limits(L, t, &p->product);
  read_cf(L, t, p);
  dens = lrk_field_number(L, t, CTX, "density_kg_L", 0,
                          RKIN_TARE_LIVER_DENSITY);
  p->lung_mass_kg = lrk_field_number(L, t, CTX, "lung_mass_kg", 0,
                                     RKIN_TARE_LUNG_MASS_KG);
  p->compromised = lrk_field_boolean(L, t, CTX, "compromised", 0);
  p->decay_h = lrk_field_number(L, t, CTX, "decay_h", 0, 0.0);
  p->residual_fraction = lrk_field_number(L, t, CTX, "residual_fraction", 0,
                                          0.0);
  if (has(L, t, "liver_mass_kg") || has(L, t, "liver_volume_L") ||
      has(L, t, "liver_volume_mL")) {
    /* Reuse read_mass on a proxy table with the unprefixed names. */
    lua_createtable(L, 0, 1);
    if (lua_getfield(L, t, "liver_mass_kg") != LUA_TNIL)
      lua_setfield(L, -2, "mass_kg");
    else lua_pop(L, 1);
    if (lua_getfield(L, t, "liver_volume_L") != LUA_TNIL)
      lua_setfield(L, -2, "volume_L");
    else lua_pop(L, 1);
    if (lua_getfield(L, t, "liver_volume_mL") != LUA_TNIL)
      lua_setfield(L, -2, "volume_mL");
    else lua_pop(L, 1);
    read_mass(L, lua_gettop(L), CTX, "liver", dens, 1, 1, &liver);
    lua_pop(L, 1);
  }
  p->liver_mass_kg = liver;
  if (single) {
    read_territory(L, t, 0, dens, b, 0);
    p->n_territories = 1;
  } else {
    lua_Integer k, n;
    if (lua_getfield(L, t, "territories") != LUA_TTABLE)
      lrk_error(L, "%s: field 'territories' must be an array of tables",
                CTX);
    n = (lua_Integer)lua_rawlen(L, -1);
    if (n < 1 || n > RKIN_TARE_MAX_TERR)
      lrk_error(L, "%s: %d territories given, 1 to %d supported", CTX,
                (int)n, RKIN_TARE_MAX_TERR);
    for (k = 1; k <= n; k++) {
      int top = lua_gettop(L);
      if (lua_rawgeti(L, -1, k) != LUA_TTABLE)
        lrk_error(L, "%s: territory %d must be a table", CTX, (int)k);
      read_territory(L, top + 1, (size_t)k - 1, dens, b, 1);
      /* Names stay alive through the argument table. */
      lua_settop(L, top);
    }
    p->n_territories = (size_t)n;
  }
  p->territories = b->terr;
}

static void set_num(lua_State *L, const char *k, double v)
{
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void push_warnings(lua_State *L, const rkin_tare_warnings *w)
{
  size_t i;
  lua_createtable(L, (int)w->n, 0);
  for (i = 0; i < w->n; i++) {
    lua_pushstring(L, w->text[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "warnings");
  lua_pushboolean(L, (w->flags & RKIN_TARE_W_NOT_DOSIMETRIC) != 0);
  lua_setfield(L, -2, "not_dosimetric");
}

static void push_result(lua_State *L, const rkin_tare_plan *p,
                        const rkin_tare_result *r)
{
  size_t k, i;
  lua_createtable(L, 0, 16);
  lua_pushstring(L, p->product.name);
  lua_setfield(L, -2, "product");
  lua_pushstring(L, p->nuclide->name);
  lua_setfield(L, -2, "nuclide");
  set_num(L, "cf", p->cf);
  set_num(L, "activity_mbq", r->activity_mbq);
  set_num(L, "activity_injection_mbq", r->activity_injection_mbq);
  set_num(L, "activity_calibration_mbq", r->activity_calibration_mbq);
  set_num(L, "lung_gy", r->lung_gy);
  set_num(L, "liver_normal_gy", r->liver_normal_gy);
  set_num(L, "liver_normal_mass_kg", r->liver_normal_mass_kg);
  lua_pushboolean(L, r->all_pass);
  lua_setfield(L, -2, "all_pass");
  lua_createtable(L, (int)r->n_territories, 0);
  for (k = 0; k < r->n_territories; k++) {
    const rkin_tare_terr_result *tr = &r->terr[k];
    const rkin_tare_territory *t = &p->territories[k];
    lua_createtable(L, 0, 12);
    if (t->name) lua_pushstring(L, t->name);
    else lua_pushfstring(L, "territory %d", (int)k + 1);
    lua_setfield(L, -2, "name");
    set_num(L, "activity_mbq", tr->activity_mbq);
    lua_pushstring(L, rkin_tare_bind_name(tr->binding));
    lua_setfield(L, -2, "binding");
    set_num(L, "mass_kg", t->mass_kg);
    set_num(L, "lsf", t->lsf);
    set_num(L, "normal_mass_kg", tr->normal_mass_kg);
    set_num(L, "mean_gy", tr->mean_gy);
    set_num(L, "normal_gy", tr->normal_gy);
    set_num(L, "tumour_mean_gy", tr->tumour_mean_gy);
    set_num(L, "lung_gy", tr->lung_gy);
    /* Partition of the administered activity (MBq): A_lung = A L; the
     * rest splits by uptake mass, U = M_N + sum tn_i M_i: A_N = A (1 - L)
     * M_N / U, each lesion A (1 - L) tn_i M_i / U, A_T their sum. */
    {
      double liver = tr->activity_mbq * (1 - t->lsf), a_t = 0;
      double u = tr->uptake_mass_kg > 0 ? tr->uptake_mass_kg : 1;
      for (i = 0; i < t->n_lesions; i++)
        a_t += liver * t->lesions[i].tn * t->lesions[i].mass_kg / u;
      set_num(L, "A_lung", tr->activity_mbq * t->lsf);
      set_num(L, "A_N", liver * tr->normal_mass_kg / u);
      set_num(L, "A_T", a_t);
    }
    lua_createtable(L, (int)t->n_lesions, 0);
    for (i = 0; i < t->n_lesions; i++) {
      lua_createtable(L, 0, 4);
      set_num(L, "mass_kg", t->lesions[i].mass_kg);
      set_num(L, "tn", t->lesions[i].tn);
      set_num(L, "dose_gy", tr->lesion_gy[i]);
      set_num(L, "A_mbq", tr->activity_mbq * (1 - t->lsf) *
                            t->lesions[i].tn * t->lesions[i].mass_kg /
                            (tr->uptake_mass_kg > 0 ? tr->uptake_mass_kg
                                                    : 1));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "lesions");
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_setfield(L, -2, "territories");
  lua_createtable(L, (int)r->n_checks, 0);
  for (k = 0; k < r->n_checks; k++) {
    const rkin_tare_check *c = &r->checks[k];
    lua_createtable(L, 0, 5);
    lua_pushstring(L, c->what);
    lua_setfield(L, -2, "what");
    set_num(L, "dose_gy", c->dose_gy);
    set_num(L, "limit_gy", c->limit_gy);
    set_num(L, "margin_gy", c->margin_gy);
    lua_pushstring(L, c->exceeded ? "EXCEEDED" : "PASS");
    lua_setfield(L, -2, "status");
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_setfield(L, -2, "checks");
  push_warnings(L, &r->warn);
}

/* plan{...} -> result table (see the file header). */
static int tare_plan(lua_State *L)
{
  plan_buf *b;
  rkin_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  /* ~25 kB: in a userdata rather than on the C stack. */
  b = lua_newuserdatauv(L, sizeof *b, 0);
  read_plan(L, 1, b);
  rkin_err_clear(&err);
  if (rkin_tare_plan_run(&b->plan, &b->res, &err))
    return lrk_raise(L, CTX, &err);
  push_result(L, &b->plan, &b->res);
  return 1;
}

static void push_product(lua_State *L, const rkin_tare_product *p)
{
  lua_createtable(L, 0, 9);
  lua_pushstring(L, p->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, p->nuclide);
  lua_setfield(L, -2, "nuclide");
  set_num(L, "parenchyma_gy", p->parenchyma_gy);
  set_num(L, "compromised_gy", p->compromised_gy);
  set_num(L, "lung_gy", p->lung_gy);
  set_num(L, "tumour_lo_gy", p->tumour_lo_gy);
  set_num(L, "tumour_hi_gy", p->tumour_hi_gy);
  set_num(L, "ablative_gy", p->ablative_gy);
  lua_pushstring(L, p->source);
  lua_setfield(L, -2, "source");
}

/* products() -> array of product tables (0 = "not given"). */
static int tare_products(lua_State *L)
{
  size_t i, n = rkin_tare_product_count();
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    push_product(L, rkin_tare_product_at(i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* cf(nuclide [, "derived"|"clinical"|"rounded"]) -> Gy kg / GBq. */
static int tare_cf(lua_State *L)
{
  rkin_err err;
  rkin_tare_cf_conv conv = RKIN_TARE_CF_DERIVED;
  const rkin_nuclide *nuc;
  double cf;
  rkin_err_clear(&err);
  nuc = rkin_nuclide_find(luaL_checkstring(L, 1), &err);
  if (!nuc ||
      (!lua_isnoneornil(L, 2) &&
       rkin_tare_cf_conv_parse(luaL_checkstring(L, 2), &conv, &err)) ||
      rkin_tare_cf(nuc, conv, &cf, &err))
    return lrk_raise(L, "rk.tare.cf", &err);
  lua_pushnumber(L, cf);
  return 1;
}

/* bsa(height_cm, weight_kg [, "mosteller"|"dubois"]) -> m^2. */
static int tare_bsa(lua_State *L)
{
  rkin_err err;
  rkin_tare_bsa_formula f = RKIN_TARE_BSA_MOSTELLER;
  double h = luaL_checknumber(L, 1), w = luaL_checknumber(L, 2), s;
  rkin_err_clear(&err);
  if ((!lua_isnoneornil(L, 3) &&
       rkin_tare_bsa_formula_parse(luaL_checkstring(L, 3), &f, &err)) ||
      rkin_tare_bsa(f, h, w, &s, &err))
    return lrk_raise(L, "rk.tare.bsa", &err);
  lua_pushnumber(L, s);
  return 1;
}

/* bsa_activity{bsa_m2= | height_cm=, weight_kg=, formula=,
 *   tumour_volume_mL/_L=, normal_volume_mL/_L=} -> {activity_mbq,
 *   involvement, bsa_m2, warnings, not_dosimetric = true}. */
static int tare_bsa_activity(lua_State *L)
{
  static const char *const keys[] = {
    "bsa_m2", "height_cm", "weight_kg", "formula", "tumour_volume_mL",
    "tumour_volume_L", "normal_volume_mL", "normal_volume_L", NULL};
  const char *ctx = "rk.tare.bsa_activity";
  rkin_tare_bsa_result r;
  rkin_tare_bsa_formula f = RKIN_TARE_BSA_MOSTELLER;
  rkin_err err;
  double bsa, vt, vn;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  rkin_err_clear(&err);
  if (has(L, 1, "bsa_m2")) {
    bsa = lrk_field_number(L, 1, ctx, "bsa_m2", 1, 0.0);
  } else {
    const char *fs = lrk_field_string(L, 1, ctx, "formula", 0, "mosteller");
    if (rkin_tare_bsa_formula_parse(fs, &f, &err) ||
        rkin_tare_bsa(f, lrk_field_number(L, 1, ctx, "height_cm", 1, 0.0),
                      lrk_field_number(L, 1, ctx, "weight_kg", 1, 0.0),
                      &bsa, &err))
      return lrk_raise(L, ctx, &err);
  }
  vt = has(L, 1, "tumour_volume_L")
           ? lrk_field_number(L, 1, ctx, "tumour_volume_L", 1, 0.0)
           : lrk_field_number(L, 1, ctx, "tumour_volume_mL", 1, 0.0) / 1e3;
  vn = has(L, 1, "normal_volume_L")
           ? lrk_field_number(L, 1, ctx, "normal_volume_L", 1, 0.0)
           : lrk_field_number(L, 1, ctx, "normal_volume_mL", 1, 0.0) / 1e3;
  if (rkin_tare_bsa_activity(bsa, vt, vn, &r, &err))
    return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 5);
  set_num(L, "activity_mbq", r.activity_mbq);
  set_num(L, "involvement", r.involvement);
  set_num(L, "bsa_m2", bsa);
  push_warnings(L, &r.warn);
  return 1;
}


/* ---------------------------------------------------------------- cohorts */

#define COHORT_MT "radiokin.tare.cohort"

typedef struct {
  rkin_tare_cohort *c;
} lcohort;

static rkin_tare_cohort *check_cohort(lua_State *L, int idx)
{
  lcohort *u = luaL_checkudata(L, idx, COHORT_MT);
  if (!u->c) lrk_error(L, "rk.tare cohort: already freed");
  return u->c;
}

static size_t check_patient(lua_State *L, rkin_tare_cohort *c, int idx)
{
  lua_Integer i = luaL_checkinteger(L, idx);
  size_t n = rkin_tare_cohort_size(c);
  if (i < 1 || (size_t)i > n)
    lrk_error(L, "rk.tare cohort: patient %d out of range 1..%d", (int)i,
              (int)n);
  return (size_t)i - 1;
}

/* Reads a whole file; NULL (message in err) on failure. */
static char *slurp(const char *path, size_t *len, rkin_err *err)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL, *q;
  size_t cap = 0, n = 0, got;
  if (!f) {
    rkin_err_set(err, RKIN_EIO, "cannot open '%s': %s", path,
                 strerror(errno));
    return NULL;
  }
  do {
    if (n + 65536 > cap) {
      cap = cap ? 2 * cap : 1 << 20;
      if (!(q = realloc(buf, cap))) {
        free(buf);
        fclose(f);
        rkin_err_set(err, RKIN_ENOMEM, "'%s': out of memory", path);
        return NULL;
      }
      buf = q;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  if (ferror(f)) {
    rkin_err_set(err, RKIN_EIO, "cannot read '%s': %s", path,
                 strerror(errno));
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *len = n;
  return buf;
}

/* cohort([csv_path]) -> cohort userdata, empty or read from a plan CSV
 * (columns: engine/tare/tare_cohort.h). */
static int tare_cohort(lua_State *L)
{
  const char *path = luaL_optstring(L, 1, NULL);
  lcohort *u = lua_newuserdatauv(L, sizeof *u, 0);
  rkin_err err;
  u->c = NULL;
  luaL_setmetatable(L, COHORT_MT);
  if (!(u->c = rkin_tare_cohort_new()))
    return lrk_error(L, "rk.tare.cohort: out of memory");
  rkin_err_clear(&err);
  if (path) {
    size_t len = 0;
    char *text = slurp(path, &len, &err);
    int rc = text ? rkin_tare_cohort_parse_csv(u->c, text, len, path, &err)
                  : err.code;
    free(text);
    if (rc) return lrk_raise(L, NULL, &err);
  }
  return 1;
}

/* c:add(plan_table [, id]): a plan as rk.tare.plan takes it. */
static int cohort_add(lua_State *L)
{
  rkin_tare_cohort *c = check_cohort(L, 1);
  const char *id = luaL_optstring(L, 3, NULL);
  plan_buf *b;
  rkin_err err;
  luaL_checktype(L, 2, LUA_TTABLE);
  b = lua_newuserdatauv(L, sizeof *b, 0);
  read_plan(L, 2, b);
  rkin_err_clear(&err);
  if (rkin_tare_cohort_add(c, id, 0, &b->plan, &err))
    return lrk_raise(L, "rk.tare cohort:add", &err);
  return 0;
}

static int cohort_len(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)rkin_tare_cohort_size(check_cohort(L, 1)));
  return 1;
}

static int cohort_id(lua_State *L)
{
  rkin_tare_cohort *c = check_cohort(L, 1);
  lua_pushstring(L, rkin_tare_cohort_id(c, check_patient(L, c, 2)));
  return 1;
}

/* c:plan(i) -> the result table of rk.tare.plan for patient i. */
static int cohort_plan(lua_State *L)
{
  rkin_tare_cohort *c = check_cohort(L, 1);
  size_t i = check_patient(L, c, 2);
  rkin_tare_territory *terr;
  rkin_tare_result *res;
  rkin_tare_plan p;
  rkin_err err;
  /* Scratch in a userdata: collected even if a later call raises. */
  char *mem = lua_newuserdatauv(L, sizeof *res +
                                RKIN_TARE_MAX_TERR * sizeof *terr, 0);
  res = (rkin_tare_result *)(void *)mem;
  terr = (rkin_tare_territory *)(void *)(mem + sizeof *res);
  rkin_err_clear(&err);
  if (rkin_tare_cohort_get(c, i, &p, terr, &err) ||
      rkin_tare_cohort_plan(c, i, res, &err))
    return lrk_raise(L, NULL, &err);
  push_result(L, &p, res);
  return 1;
}

/* c:write(path) -> summary {patients, all_pass, normal_exceeded,
 * lung_exceeded, mean_activity_mbq}: plans everyone and writes the plan
 * table CSV atomically (nothing is written if a plan fails). */
static int cohort_write(lua_State *L)
{
  rkin_tare_cohort *c = check_cohort(L, 1);
  const char *path = luaL_checkstring(L, 2);
  rkin_tare_summary s;
  rkin_err err;
  char *text;
  size_t len;
  int rc;
  rkin_err_clear(&err);
  if (rkin_tare_cohort_csv(c, &text, &len, &s, &err))
    return lrk_raise(L, NULL, &err);
  rc = lrk_write_atomic(path, text, len, &err);
  free(text);
  if (rc) return lrk_raise(L, "rk.tare cohort:write", &err);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)s.patients);
  lua_setfield(L, -2, "patients");
  lua_pushinteger(L, (lua_Integer)s.all_pass);
  lua_setfield(L, -2, "all_pass");
  lua_pushinteger(L, (lua_Integer)s.normal_exceeded);
  lua_setfield(L, -2, "normal_exceeded");
  lua_pushinteger(L, (lua_Integer)s.lung_exceeded);
  lua_setfield(L, -2, "lung_exceeded");
  set_num(L, "mean_activity_mbq", s.mean_activity_mbq);
  return 1;
}

static int cohort_gc(lua_State *L)
{
  lcohort *u = luaL_checkudata(L, 1, COHORT_MT);
  rkin_tare_cohort_free(u->c);
  u->c = NULL;
  return 0;
}

static int cohort_tostring(lua_State *L)
{
  lua_pushfstring(L, "rk.tare cohort (%d patients)",
                  (int)rkin_tare_cohort_size(check_cohort(L, 1)));
  return 1;
}

static const luaL_Reg cohort_methods[] = {
  {"add", cohort_add},
  {"id", cohort_id},
  {"plan", cohort_plan},
  {"write", cohort_write},
  {NULL, NULL}
};

static const luaL_Reg cohort_meta[] = {
  {"__gc", cohort_gc},
  {"__close", cohort_gc},
  {"__len", cohort_len},
  {"__tostring", cohort_tostring},
  {NULL, NULL}
};

static const luaL_Reg tare_funcs[] = {
  {"plan", tare_plan},
  {"products", tare_products},
  {"cf", tare_cf},
  {"bsa", tare_bsa},
  {"bsa_activity", tare_bsa_activity},
  {"cohort", tare_cohort},
  {NULL, NULL}
};

int luaopen_radiokin_tare(lua_State *L)
{
  if (luaL_newmetatable(L, COHORT_MT)) {
    luaL_setfuncs(L, cohort_meta, 0);
    luaL_newlib(L, cohort_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, tare_funcs);
  return 1;
}
