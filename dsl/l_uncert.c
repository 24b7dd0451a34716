/* l_uncert.c - "radiokin.uncert": the EANM measurement model and the
 * propagation of its uncertainty to TIA, dose, BED and cumulative BED
 * (engine/uncert/uncert.h) for Lua.
 *
 *   sources() -> {"counts", "calibration", ...}
 *   recovery_fit{v_ml=, rc=[, sd=]} -> curve {rc_max, v50_ml, k, cov, chi2,
 *     dof}
 *   recovery(curve, v_ml) -> rc, u_rc (the curve's fit uncertainty)
 *   volume_voxel(v_ml, voxel_mm) -> u_ml
 *   activity{t_h=, counts=, t_acq_s=[, u_extra=], cal=, u_cal=, v_ml=,
 *     u_v_ml=[, recovery=]} -> {a_mbq, rc, u_rel, u_rel_total, budget}
 *   chain{...} -> {tia, dose, bed (per cycle), mass, cum_dose, cum_bed, g,
 *     method, n_draws, n_failed}, each quantity {value, u, lo, hi, var,
 *     budget}
 *   course{dose_gy=, u_rel=, g=, u_cal_rel=, u_mass_rel=, u_s_rel=, ab_gy=,
 *     u_ab_gy=} -> {dose, bed, cum_dose_at, cum_bed_at (per cycle),
 *     cum_dose, cum_bed}
 *   marrow{nuclide=, c_tia_blood=, rmblr=, m_rm_kg=, tia_wb=, s_cross=, u_*}
 *     -> {tia_rm, self, cross, total}
 *   next_activity{dose_gy=, u_rel=, g=, u_*_rel=, ab_gy=, u_ab_gy=,
 *     gy_per_mbq=, u_gy_per_mbq_rel=, g_next=, limit_bed_gy=, level=,
 *     from_last=} -> activity_mbq, bed_upper_gy, over, bed_gy, u_gy
 *   voi{dose_gy=, bed_gy=, u_rel={source = rel}, ab_gy=, u_ab_gy=} ->
 *     {dose, bed}
 *   stp{method=, t_h=, a_mbq=, u_rel=, t_half_h=, cv=[, level=]} -> {tia,
 *     u, lo, hi, bias_rel, u_rel_method, u_rel_meas} */
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"
#include "modules.h"
#include "uncert/uncert.h"

static void set_num(lua_State *L, const char *k, double v)
{
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static int u_sources(lua_State *L)
{
  int s;
  lua_createtable(L, RKIN_UNC_NSRC, 0);
  for (s = 0; s < RKIN_UNC_NSRC; s++) {
    lua_pushstring(L, rkin_unc_source_name(s));
    lua_rawseti(L, -2, s + 1);
  }
  return 1;
}

static void push_curve(lua_State *L, const rkin_unc_rc *c)
{
  lua_createtable(L, 0, 6);
  set_num(L, "rc_max", c->p[0]);
  set_num(L, "v50_ml", c->p[1]);
  set_num(L, "k", c->p[2]);
  lrk_push_numbers(L, c->cov, 9);
  lua_setfield(L, -2, "cov");
  set_num(L, "chi2", c->chi2);
  lua_pushinteger(L, c->dof);
  lua_setfield(L, -2, "dof");
}

/* A curve table (as recovery_fit returns) at idx into c. */
static void read_curve(lua_State *L, int idx, const char *ctx,
                       rkin_unc_rc *c)
{
  static const char *const keys[] = {"rc_max", "v50_ml", "k", "cov", "chi2",
                                     "dof", NULL};
  size_t n, i;
  double *cov;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE)
    lrk_error(L, "%s: recovery must be the table rk.uncert.recovery_fit "
              "returns (got %s)", ctx, lrk_got(L, idx));
  lrk_check_keys(L, idx, ctx, keys);
  memset(c, 0, sizeof *c);
  c->p[0] = lrk_field_number_in(L, idx, ctx, "rc_max", 1, 0, 0, HUGE_VAL,
                                LRK_LO_OPEN);
  c->p[1] = lrk_field_number_in(L, idx, ctx, "v50_ml", 1, 0, 0, HUGE_VAL,
                                LRK_LO_OPEN);
  c->p[2] = lrk_field_number_in(L, idx, ctx, "k", 1, 0, 0, HUGE_VAL,
                                LRK_LO_OPEN);
  lua_getfield(L, idx, "cov");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return;   /* a curve without uncertainty */
  }
  cov = lrk_numbers(L, -1, ctx, "field 'cov' of recovery (9 numbers, "
                    "row-major 3 x 3)", &n);
  if (n != 9)
    lrk_error(L, "%s: field 'cov' of recovery has %d numbers, expected 9",
              ctx, (int)n);
  for (i = 0; i < 9; i++) c->cov[i] = cov[i];
  for (i = 0; i < 3; i++)
    if (c->cov[i * 4] < 0.0)
      lrk_error(L, "%s: recovery cov diagonal %d is negative (%f)", ctx,
                (int)i + 1, c->cov[i * 4]);
  lua_pop(L, 2);
}

static int u_recovery_fit(lua_State *L)
{
  static const char *const keys[] = {"v_ml", "rc", "sd", NULL};
  const char *ctx = "rk.uncert.recovery_fit";
  size_t nv, nr, ns = 0;
  double *v, *rc, *sd = NULL;
  rkin_unc_rc c;
  rkin_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  lua_getfield(L, 1, "v_ml");
  v = lrk_numbers(L, -1, ctx, "field 'v_ml'", &nv);
  lua_getfield(L, 1, "rc");
  rc = lrk_numbers(L, -1, ctx, "field 'rc'", &nr);
  if (lua_getfield(L, 1, "sd") != LUA_TNIL)
    sd = lrk_numbers(L, -1, ctx, "field 'sd'", &ns);
  if (nr != nv || (sd && ns != nv))
    lrk_error(L, "%s: v_ml has %d values, rc %d%s", ctx, (int)nv, (int)nr,
              sd ? " and sd a different count" : "");
  rkin_err_clear(&err);
  if (rkin_unc_rc_fit(nv, v, rc, sd, &c, &err)) return lrk_raise(L, ctx, &err);
  push_curve(L, &c);
  return 1;
}

static int u_recovery(lua_State *L)
{
  const char *ctx = "rk.uncert.recovery";
  rkin_unc_rc c;
  double v = luaL_checknumber(L, 2), g[3], rc, s = 0.0;
  int i, j;
  read_curve(L, 1, ctx, &c);
  if (!(v > 0.0) || !isfinite(v))
    return lrk_error(L, "%s: volume must be > 0 mL (got %s)", ctx,
                     lrk_got(L, 2));
  rc = rkin_unc_rc_eval(&c, v, g, NULL);
  for (i = 0; i < 3; i++)
    for (j = 0; j < 3; j++) s += g[i] * c.cov[i * 3 + j] * g[j];
  lua_pushnumber(L, rc);
  lua_pushnumber(L, sqrt(s > 0.0 ? s : 0.0));
  return 2;
}

static int u_volume_voxel(lua_State *L)
{
  rkin_err err;
  double u;
  rkin_err_clear(&err);
  if (rkin_unc_volume_voxel(luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                            &u, &err))
    return lrk_raise(L, "rk.uncert.volume_voxel", &err);
  lua_pushnumber(L, u);
  return 1;
}

/* The shared measurement fields of table t; the curve goes to *rc. */
static void read_meas(lua_State *L, int t, const char *ctx,
                      rkin_unc_meas *m, rkin_unc_rc *rc)
{
  m->cal = lrk_field_number_in(L, t, ctx, "cal", 1, 0, 0, HUGE_VAL,
                               LRK_LO_OPEN);
  m->u_cal = lrk_field_number_in(L, t, ctx, "u_cal", 0, 0, 0, HUGE_VAL, 0);
  m->v_ml = lrk_field_number_in(L, t, ctx, "v_ml", 1, 0, 0, HUGE_VAL,
                                LRK_LO_OPEN);
  m->u_v_ml = lrk_field_number_in(L, t, ctx, "u_v_ml", 0, 0, 0, HUGE_VAL, 0);
  m->per_ml = lrk_field_boolean(L, t, ctx, "per_ml", 0);
  m->rc = NULL;
  if (lua_getfield(L, t, "recovery") != LUA_TNIL) {
    read_curve(L, -1, ctx, rc);
    m->rc = rc;
  }
  lua_pop(L, 1);
}

/* {counts = share, ...} of the variances v (total > 0). */
static void push_budget(lua_State *L, const double *var, int with_var)
{
  double tot = 0.0;
  int s;
  for (s = 0; s < RKIN_UNC_NSRC; s++)
    if (isfinite(var[s])) tot += var[s];
  lua_createtable(L, 0, RKIN_UNC_NSRC);
  for (s = 0; s < RKIN_UNC_NSRC; s++)
    if (isfinite(var[s]) && var[s] > 0.0)
      set_num(L, rkin_unc_source_name(s), with_var ? var[s] : var[s] / tot);
}

static int u_activity(lua_State *L)
{
  static const char *const keys[] = {"t_h", "counts", "t_acq_s", "u_extra",
                                     "cal", "u_cal", "v_ml", "u_v_ml",
                                     "recovery", "per_ml", NULL};
  const char *ctx = "rk.uncert.activity";
  rkin_unc_point pt;
  rkin_unc_meas m;
  rkin_unc_rc rc;
  rkin_unc_activity a;
  rkin_err err;
  double var[RKIN_UNC_NSRC];
  int s;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  pt.t_h = lrk_field_number(L, 1, ctx, "t_h", 1, 0);
  pt.counts = lrk_field_number(L, 1, ctx, "counts", 1, 0);
  pt.t_acq_s = lrk_field_number(L, 1, ctx, "t_acq_s", 1, 0);
  pt.u_extra_rel = lrk_field_number(L, 1, ctx, "u_extra", 0, 0);
  read_meas(L, 1, ctx, &m, &rc);
  rkin_err_clear(&err);
  if (rkin_unc_activity_of(&pt, &m, &a, &err)) return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 5);
  set_num(L, "a_mbq", a.a_mbq);
  set_num(L, "rc", a.rc);
  set_num(L, "u_rel_total", a.u_rel_total);
  lua_createtable(L, 0, 4);
  for (s = 0; s < RKIN_UNC_NSRC; s++) {
    var[s] = a.u_rel[s] * a.u_rel[s];
    if (a.u_rel[s] > 0.0) set_num(L, rkin_unc_source_name(s), a.u_rel[s]);
  }
  lua_setfield(L, -2, "u_rel");
  push_budget(L, var, 0);
  lua_setfield(L, -2, "budget");
  return 1;
}

static void push_q(lua_State *L, const rkin_unc_q *q)
{
  lua_createtable(L, 0, 6);
  set_num(L, "value", q->value);
  set_num(L, "u", q->u);
  set_num(L, "lo", q->lo);
  set_num(L, "hi", q->hi);
  if (isfinite(q->var[0])) {
    push_budget(L, q->var, 1);
    lua_setfield(L, -2, "var");
    push_budget(L, q->var, 0);
    lua_setfield(L, -2, "budget");
  }
}

/* One cycle {t_h = {...}, counts = {...}, t_acq_s = number | {...}
 * [, u_extra = number | {...}]} at stack index idx into pt (n points). */
static size_t read_cycle(lua_State *L, int idx, const char *ctx, size_t c,
                         rkin_unc_point **pt)
{
  static const char *const keys[] = {"t_h", "counts", "t_acq_s", "u_extra",
                                     NULL};
  char what[96];
  size_t nt, nc, i;
  double *t, *cts;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE)
    lrk_error(L, "%s: cycles[%d] must be a table {t_h=, counts=, t_acq_s=}",
              ctx, (int)c + 1);
  lrk_check_keys(L, idx, ctx, keys);
  snprintf(what, sizeof what, "cycles[%d].t_h", (int)c + 1);
  lua_getfield(L, idx, "t_h");
  t = lrk_numbers(L, -1, ctx, what, &nt);
  snprintf(what, sizeof what, "cycles[%d].counts", (int)c + 1);
  lua_getfield(L, idx, "counts");
  cts = lrk_numbers(L, -1, ctx, what, &nc);
  if (nt != nc || nt < 1 || nt > RKIN_TAC_MAX_POINTS)
    lrk_error(L, "%s: cycles[%d] has %d times and %d counts, expected the "
              "same number, 1..%d", ctx, (int)c + 1, (int)nt, (int)nc,
              RKIN_TAC_MAX_POINTS);
  *pt = lrk_scratch(L, nt, sizeof **pt);
  lua_insert(L, -5);   /* keep the points below what is popped at the end */
  for (i = 0; i < nt; i++) {
    (*pt)[i].t_h = t[i];
    (*pt)[i].counts = cts[i];
  }
  {
    static const char *const f[] = {"t_acq_s", "u_extra"};
    int k;
    for (k = 0; k < 2; k++) {
      lua_getfield(L, idx, f[k]);
      if (lua_isnumber(L, -1) || lua_isnil(L, -1)) {
        double x = lua_isnil(L, -1) ? (k ? 0.0 : NAN) : lua_tonumber(L, -1);
        if (k == 0 && lua_isnil(L, -1))
          lrk_error(L, "%s: cycles[%d].t_acq_s is required (s, a number or "
                    "one per point)", ctx, (int)c + 1);
        for (i = 0; i < nt; i++) {
          if (k) (*pt)[i].u_extra_rel = x;
          else (*pt)[i].t_acq_s = x;
        }
      } else {
        size_t n;
        double *v;
        snprintf(what, sizeof what, "cycles[%d].%s", (int)c + 1, f[k]);
        v = lrk_numbers(L, -1, ctx, what, &n);
        if (n != nt)
          lrk_error(L, "%s: %s has %d values for %d points", ctx, what,
                    (int)n, (int)nt);
        for (i = 0; i < nt; i++) {
          if (k) (*pt)[i].u_extra_rel = v[i];
          else (*pt)[i].t_acq_s = v[i];
        }
        lua_pop(L, 1);   /* the numbers' userdata */
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 4);   /* t_h, its numbers, counts, its numbers */
  return nt;
}

static int u_chain(lua_State *L)
{
  static const char *const keys[] = {
    "nuclide", "region", "model", "cal", "u_cal", "v_ml", "u_v_ml",
    "recovery", "per_ml", "dose", "s_e", "s_p", "m_ref_kg", "u_s_rel", "density",
    "u_density", "ab_gy", "u_ab_gy", "trep_h", "u_trep_h", "cycles", "level",
    "method", "draws", "seed", NULL};
  const char *ctx = "rk.uncert.chain";
  rkin_unc_chain ch;
  rkin_unc_rc rc;
  rkin_unc_cycle cyc[RKIN_UNC_MAX_CYCLES];
  rkin_unc_result *r;
  rkin_err err;
  const char *model, *dose, *method;
  size_t nc, c;
  int rcode, mc, ci;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  memset(&ch, 0, sizeof ch);
  rkin_err_clear(&err);
  ch.nuclide = lrk_field_string(L, 1, ctx, "nuclide", 1, NULL);
  ch.region = lrk_field_string(L, 1, ctx, "region", 0, "region");
  model = lrk_field_string(L, 1, ctx, "model", 0, "mono");
  if (rkin_tac_model_find(model, &ch.model, &err))
    return lrk_raise(L, ctx, &err);
  read_meas(L, 1, ctx, &ch.meas, &rc);
  dose = lrk_field_string(L, 1, ctx, "dose", 0, "led");
  if (strcmp(dose, "led") == 0) ch.dose.kind = RKIN_UNC_DOSE_LED;
  else if (strcmp(dose, "s") == 0) ch.dose.kind = RKIN_UNC_DOSE_S;
  else
    return lrk_error(L, "%s: field 'dose' must be \"led\" or \"s\" (got "
                     "\"%s\")", ctx, dose);
  ch.dose.s_e = lrk_field_number(L, 1, ctx, "s_e", ch.dose.kind ==
                                 RKIN_UNC_DOSE_S, 0);
  ch.dose.s_p = lrk_field_number(L, 1, ctx, "s_p", 0, 0);
  ch.dose.m_ref_kg = lrk_field_number(L, 1, ctx, "m_ref_kg", ch.dose.kind ==
                                      RKIN_UNC_DOSE_S, 0);
  ch.dose.u_s_rel = lrk_field_number_in(L, 1, ctx, "u_s_rel", 0, 0, 0, 1, 0);
  ch.dose.density = lrk_field_number_in(L, 1, ctx, "density", 0, 1.0, 0,
                                        HUGE_VAL, LRK_LO_OPEN);
  ch.dose.u_density = lrk_field_number_in(L, 1, ctx, "u_density", 0, 0, 0,
                                          HUGE_VAL, 0);
  ch.lq.ab_gy = lrk_field_number_in(L, 1, ctx, "ab_gy", 0, 0, 0, HUGE_VAL, 0);
  ch.lq.u_ab_gy = lrk_field_number_in(L, 1, ctx, "u_ab_gy", 0, 0, 0,
                                      HUGE_VAL, 0);
  ch.lq.trep_h = lrk_field_number_in(L, 1, ctx, "trep_h", ch.lq.ab_gy > 0, 0,
                                     0, HUGE_VAL, 0);
  ch.lq.u_trep_h = lrk_field_number_in(L, 1, ctx, "u_trep_h", 0, 0, 0,
                                       HUGE_VAL, 0);
  ch.level = lrk_field_number_in(L, 1, ctx, "level", 0, 0.95, 0, 1,
                                 LRK_LO_OPEN | LRK_HI_OPEN);
  method = lrk_field_string(L, 1, ctx, "method", 0, "delta");
  if (strcmp(method, "delta") == 0) mc = 0;
  else if (strcmp(method, "mc") == 0) mc = 1;
  else
    return lrk_error(L, "%s: field 'method' must be \"delta\" or \"mc\" "
                     "(got \"%s\")", ctx, method);
  if (lua_getfield(L, 1, "cycles") != LUA_TTABLE)
    return lrk_error(L, "%s: field 'cycles' is required (an array of {t_h=, "
                     "counts=, t_acq_s=})", ctx);
  ci = lua_gettop(L);
  nc = lua_rawlen(L, ci);
  if (nc < 1 || nc > RKIN_UNC_MAX_CYCLES)
    return lrk_error(L, "%s: %d cycles, expected 1..%d", ctx, (int)nc,
                     RKIN_UNC_MAX_CYCLES);
  for (c = 0; c < nc; c++) {
    rkin_unc_point *pt;
    lua_rawgeti(L, ci, (lua_Integer)c + 1);
    cyc[c].n = read_cycle(L, -1, ctx, c, &pt);
    cyc[c].pt = pt;
    /* the scratch userdata sits above the cycle table: keep it, drop the
     * table below it */
    lua_remove(L, -2);
  }
  ch.n_cycles = nc;
  ch.cyc = cyc;
  r = lrk_scratch(L, 1, sizeof *r);
  if (mc) {
    long long n = lrk_field_count(L, 1, ctx, "draws", 0, 10000, 100,
                                  1000000);
    long long seed = lrk_field_count(L, 1, ctx, "seed", 0, 1, 0,
                                     LRK_MAX_SEED);
    lrk_check_memory(L, ctx, (double)n, "draws", 8.0 * (3.0 * nc + 3.0));
    rcode = rkin_unc_mc(&ch, (size_t)n, (unsigned long)seed, r, &err);
  } else {
    rcode = rkin_unc_delta(&ch, r, &err);
  }
  if (rcode) return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 10);
  lua_pushstring(L, mc ? "mc" : "delta");
  lua_setfield(L, -2, "method");
  {
    static const char *const per[] = {"tia", "dose", "bed"};
    int k;
    for (k = 0; k < 3; k++) {
      lua_createtable(L, (int)nc, 0);
      for (c = 0; c < nc; c++) {
        push_q(L, k == 0 ? &r->tia[c] : k == 1 ? &r->dose[c] : &r->bed[c]);
        lua_rawseti(L, -2, (lua_Integer)c + 1);
      }
      lua_setfield(L, -2, per[k]);
    }
  }
  push_q(L, &r->mass);
  lua_setfield(L, -2, "mass");
  push_q(L, &r->cum_dose);
  lua_setfield(L, -2, "cum_dose");
  if (ch.lq.ab_gy > 0.0) {
    push_q(L, &r->cum_bed);
    lua_setfield(L, -2, "cum_bed");
    lrk_push_numbers(L, r->g, nc);
    lua_setfield(L, -2, "g");
  }
  {
    /* the nominal fits' flags, "cycle N: name" */
    int nw = 0;
    lua_newtable(L);
    for (c = 0; c < nc; c++) {
      unsigned b;
      for (b = 0; b < RKIN_TAC_NWARN; b++)
        if (r->fit_warn[c] & (1u << b)) {
          lua_pushfstring(L, "cycle %d: %s", (int)c + 1,
                          rkin_tac_warn_name(1u << b));
          lua_rawseti(L, -2, ++nw);
        }
    }
    lua_setfield(L, -2, "warnings");
  }
  if (mc) {
    lua_pushinteger(L, (lua_Integer)r->n_draws);
    lua_setfield(L, -2, "n_draws");
    lua_pushinteger(L, (lua_Integer)r->n_failed);
    lua_setfield(L, -2, "n_failed");
  }
  return 1;
}

static int u_course(lua_State *L)
{
  static const char *const keys[] = {"dose_gy", "u_rel", "g", "u_cal_rel",
                                     "u_mass_rel", "u_s_rel", "ab_gy",
                                     "u_ab_gy", "level", NULL};
  const char *ctx = "rk.uncert.course";
  rkin_unc_course c;
  rkin_unc_course_result *r;
  rkin_err err;
  size_t n, nu, ng, i;
  int k;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  memset(&c, 0, sizeof c);
  lua_getfield(L, 1, "dose_gy");
  c.dose_gy = lrk_numbers(L, -1, ctx, "field 'dose_gy'", &n);
  c.n = n;
  if (lua_getfield(L, 1, "u_rel") != LUA_TNIL) {
    c.u_rel = lrk_numbers(L, -1, ctx, "field 'u_rel'", &nu);
    if (nu != n)
      lrk_error(L, "%s: field 'u_rel' has %d values for %d doses", ctx,
                (int)nu, (int)n);
  }
  if (lua_getfield(L, 1, "g") != LUA_TNIL) {
    c.g = lrk_numbers(L, -1, ctx, "field 'g'", &ng);
    if (ng != n)
      lrk_error(L, "%s: field 'g' has %d values for %d doses", ctx, (int)ng,
                (int)n);
  }
  c.u_cal_rel = lrk_field_number(L, 1, ctx, "u_cal_rel", 0, 0);
  c.u_mass_rel = lrk_field_number(L, 1, ctx, "u_mass_rel", 0, 0);
  c.u_s_rel = lrk_field_number(L, 1, ctx, "u_s_rel", 0, 0);
  c.ab_gy = lrk_field_number(L, 1, ctx, "ab_gy", c.g != NULL, 0);
  c.u_ab_gy = lrk_field_number(L, 1, ctx, "u_ab_gy", 0, 0);
  c.level = lrk_field_number_in(L, 1, ctx, "level", 0, 0.95, 0, 1,
                                LRK_LO_OPEN | LRK_HI_OPEN);
  r = lrk_scratch(L, 1, sizeof *r);
  rkin_err_clear(&err);
  if (rkin_unc_course_delta(&c, r, &err)) return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 6);
  for (k = 0; k < (c.g ? 4 : 2); k++) {
    static const char *const nm[] = {"dose", "cum_dose_at", "bed",
                                     "cum_bed_at"};
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
      push_q(L, k == 0 ? &r->dose[i] : k == 1 ? &r->cum_dose_at[i]
                : k == 2 ? &r->bed[i] : &r->cum_bed_at[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, nm[k]);
  }
  push_q(L, &r->cum_dose);
  lua_setfield(L, -2, "cum_dose");
  if (c.g) {
    push_q(L, &r->cum_bed);
    lua_setfield(L, -2, "cum_bed");
  }
  return 1;
}

/* voi{dose_gy=, bed_gy=, u_rel={source = rel, ...}, ab_gy=, u_ab_gy=,
 * level=} -> {dose, bed} */
static int u_voi(lua_State *L)
{
  static const char *const keys[] = {"dose_gy", "bed_gy", "u_rel", "bed_u",
                                     "ab_gy", "u_ab_gy", "level", NULL};
  const char *ctx = "rk.uncert.voi";
  rkin_unc_voi x;
  rkin_unc_q d, b;
  rkin_err err;
  int s;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  memset(&x, 0, sizeof x);
  x.dose_gy = lrk_field_number(L, 1, ctx, "dose_gy", 1, 0);
  x.bed_gy = lua_getfield(L, 1, "bed_gy") == LUA_TNIL
                 ? NAN : lrk_field_number(L, 1, ctx, "bed_gy", 1, 0);
  lua_pop(L, 1);
  {
    static const char *const tf[] = {"u_rel", "bed_u"};
    int f;
    for (f = 0; f < 2; f++) {
      double *dst = f == 0 ? x.u_rel : x.bed_u_gy;
      if (lua_getfield(L, 1, tf[f]) != LUA_TNIL) {
        if (!lua_istable(L, -1))
          return lrk_error(L, "%s: field '%s' must be a table {source = "
                           "number}", ctx, tf[f]);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
          const char *k = lua_type(L, -2) == LUA_TSTRING
                              ? lua_tostring(L, -2) : NULL;
          for (s = 0; k && s < RKIN_UNC_NSRC; s++)
            if (!strcmp(k, rkin_unc_source_name(s))) break;
          if (!k || s == RKIN_UNC_NSRC)
            return lrk_error(L, "%s: field '%s' has key '%s': not a source "
                             "(rk.uncert.sources())", ctx, tf[f],
                             k ? k : luaL_typename(L, -2));
          if (!lua_isnumber(L, -1))
            return lrk_error(L, "%s: %s.%s must be a number", ctx, tf[f], k);
          dst[s] = lua_tonumber(L, -1);
          lua_pop(L, 1);
        }
      }
      lua_pop(L, 1);
    }
  }
  x.ab_gy = lrk_field_number(L, 1, ctx, "ab_gy", 0, 0);
  x.u_ab_gy = lrk_field_number(L, 1, ctx, "u_ab_gy", 0, 0);
  x.level = lrk_field_number_in(L, 1, ctx, "level", 0, 0.95, 0, 1,
                                LRK_LO_OPEN | LRK_HI_OPEN);
  rkin_err_clear(&err);
  if (rkin_unc_voi_delta(&x, &d, &b, &err)) return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 2);
  push_q(L, &d);
  lua_setfield(L, -2, "dose");
  if (!isnan(x.bed_gy)) {
    push_q(L, &b);
    lua_setfield(L, -2, "bed");
  }
  return 1;
}

static int u_next_activity(lua_State *L)
{
  static const char *const keys[] = {"dose_gy", "u_rel", "g", "u_cal_rel",
                                     "u_mass_rel", "u_s_rel", "ab_gy",
                                     "u_ab_gy", "gy_per_mbq",
                                     "u_gy_per_mbq_rel", "g_next",
                                     "limit_bed_gy", "level", "from_last",
                                     NULL};
  const char *ctx = "rk.uncert.next_activity";
  rkin_unc_next x;
  rkin_err err;
  size_t n = 0, nu, ng;
  double a, ub;
  int over;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  memset(&x, 0, sizeof x);
  if (lua_getfield(L, 1, "dose_gy") != LUA_TNIL) {
    x.past.dose_gy = lrk_numbers(L, -1, ctx, "field 'dose_gy'", &n);
    lua_getfield(L, 1, "g");
    x.past.g = lrk_numbers(L, -1, ctx, "field 'g' (one per past cycle)",
                           &ng);
    if (ng != n)
      lrk_error(L, "%s: field 'g' has %d values for %d doses", ctx, (int)ng,
                (int)n);
    if (lua_getfield(L, 1, "u_rel") != LUA_TNIL) {
      x.past.u_rel = lrk_numbers(L, -1, ctx, "field 'u_rel'", &nu);
      if (nu != n)
        lrk_error(L, "%s: field 'u_rel' has %d values for %d doses", ctx,
                  (int)nu, (int)n);
    }
  }
  x.past.n = n;
  x.past.u_cal_rel = lrk_field_number(L, 1, ctx, "u_cal_rel", 0, 0);
  x.past.u_mass_rel = lrk_field_number(L, 1, ctx, "u_mass_rel", 0, 0);
  x.past.u_s_rel = lrk_field_number(L, 1, ctx, "u_s_rel", 0, 0);
  x.past.ab_gy = lrk_field_number(L, 1, ctx, "ab_gy", 1, 0);
  x.past.u_ab_gy = lrk_field_number(L, 1, ctx, "u_ab_gy", 0, 0);
  x.gy_per_mbq = lrk_field_number(L, 1, ctx, "gy_per_mbq", 1, 0);
  x.u_gy_per_mbq_rel = lrk_field_number(L, 1, ctx, "u_gy_per_mbq_rel", 0, 0);
  x.g_next = lrk_field_number(L, 1, ctx, "g_next", 1, 0);
  x.limit_bed_gy = lrk_field_number(L, 1, ctx, "limit_bed_gy", 1, 0);
  x.level = lrk_field_number(L, 1, ctx, "level", 0, 0.95);
  x.from_last = lrk_field_boolean(L, 1, ctx, "from_last", 0);
  rkin_err_clear(&err);
  if (rkin_unc_next_activity(&x, &a, &ub, &over, &err))
    return lrk_raise(L, ctx, &err);
  {
    double bed, u;
    if (rkin_unc_next_bed(&x, a, &bed, &u, NULL, &err))
      return lrk_raise(L, ctx, &err);
    lua_pushnumber(L, a);
    lua_pushnumber(L, ub);
    lua_pushboolean(L, over);
    lua_pushnumber(L, bed);
    lua_pushnumber(L, u);
  }
  return 5;
}

static int u_marrow(lua_State *L)
{
  static const char *const keys[] = {"nuclide", "c_tia_blood",
                                     "u_c_tia_blood", "rmblr", "u_rmblr",
                                     "m_rm_kg", "u_m_rm_kg", "tia_wb",
                                     "u_tia_wb", "s_cross", "u_s_cross_rel",
                                     "u_s_self_rel", "level", NULL};
  const char *ctx = "rk.uncert.marrow";
  rkin_unc_marrow m;
  rkin_unc_marrow_result r;
  rkin_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  memset(&m, 0, sizeof m);
  m.nuclide = lrk_field_string(L, 1, ctx, "nuclide", 1, NULL);
  m.c_tia_blood = lrk_field_number(L, 1, ctx, "c_tia_blood", 1, 0);
  m.u_c_tia_blood = lrk_field_number(L, 1, ctx, "u_c_tia_blood", 0, 0);
  m.rmblr = lrk_field_number(L, 1, ctx, "rmblr", 0, 1.0);
  m.u_rmblr = lrk_field_number(L, 1, ctx, "u_rmblr", 0, 0);
  m.m_rm_kg = lrk_field_number(L, 1, ctx, "m_rm_kg", 1, 0);
  m.u_m_rm_kg = lrk_field_number(L, 1, ctx, "u_m_rm_kg", 0, 0);
  m.tia_wb = lrk_field_number(L, 1, ctx, "tia_wb", 0, 0);
  m.u_tia_wb = lrk_field_number(L, 1, ctx, "u_tia_wb", 0, 0);
  m.s_cross = lrk_field_number(L, 1, ctx, "s_cross", 0, 0);
  m.u_s_cross_rel = lrk_field_number(L, 1, ctx, "u_s_cross_rel", 0, 0);
  m.u_s_self_rel = lrk_field_number(L, 1, ctx, "u_s_self_rel", 0, 0);
  m.level = lrk_field_number_in(L, 1, ctx, "level", 0, 0.95, 0, 1,
                                LRK_LO_OPEN | LRK_HI_OPEN);
  rkin_err_clear(&err);
  if (rkin_unc_marrow_dose(&m, &r, &err)) return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 4);
  push_q(L, &r.tia_rm);
  lua_setfield(L, -2, "tia_rm");
  push_q(L, &r.self);
  lua_setfield(L, -2, "self");
  push_q(L, &r.cross);
  lua_setfield(L, -2, "cross");
  push_q(L, &r.total);
  lua_setfield(L, -2, "total");
  return 1;
}

static int u_stp(lua_State *L)
{
  static const char *const keys[] = {"method", "t_h", "a_mbq", "u_rel",
                                     "t_half_h", "cv", "level", NULL};
  const char *ctx = "rk.uncert.stp";
  const char *m;
  rkin_unc_stp_method method;
  rkin_unc_stp s;
  rkin_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  m = lrk_field_string(L, 1, ctx, "method", 0, "haenscheid");
  if (strcmp(m, "haenscheid") == 0) method = RKIN_UNC_STP_HAENSCHEID;
  else if (strcmp(m, "poplambda") == 0) method = RKIN_UNC_STP_POPLAMBDA;
  else
    return lrk_error(L, "%s: field 'method' must be \"haenscheid\" or "
                     "\"poplambda\" (got \"%s\")", ctx, m);
  rkin_err_clear(&err);
  if (rkin_unc_stp_tia(method, lrk_field_number(L, 1, ctx, "t_h", 1, 0),
                       lrk_field_number(L, 1, ctx, "a_mbq", 1, 0),
                       lrk_field_number(L, 1, ctx, "u_rel", 0, 0),
                       lrk_field_number(L, 1, ctx, "t_half_h", 1, 0),
                       lrk_field_number(L, 1, ctx, "cv", 0, 0),
                       lrk_field_number(L, 1, ctx, "level", 0, 0.95), &s,
                       &err))
    return lrk_raise(L, ctx, &err);
  lua_createtable(L, 0, 7);
  set_num(L, "tia", s.tia);
  set_num(L, "u", s.u);
  set_num(L, "lo", s.lo);
  set_num(L, "hi", s.hi);
  set_num(L, "bias_rel", s.bias_rel);
  set_num(L, "u_rel_method", s.u_rel_method);
  set_num(L, "u_rel_meas", s.u_rel_meas);
  return 1;
}

static const luaL_Reg uncert_funcs[] = {
  {"sources", u_sources},
  {"recovery_fit", u_recovery_fit},
  {"recovery", u_recovery},
  {"volume_voxel", u_volume_voxel},
  {"activity", u_activity},
  {"chain", u_chain},
  {"course", u_course},
  {"voi", u_voi},
  {"marrow", u_marrow},
  {"next_activity", u_next_activity},
  {"stp", u_stp},
  {NULL, NULL}
};

int luaopen_radiokin_uncert(lua_State *L)
{
  luaL_newlib(L, uncert_funcs);
  return 1;
}
