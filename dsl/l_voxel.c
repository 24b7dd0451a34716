/* l_voxel.c - "radiokin.voxel": voxel dosimetry (engine/voxel/) for Lua.
 *
 *   rk.voxel.data_dir() -> folder of kernels/ and ct/ (RADIOKIN_DATADIR,
 *     else $RADIOKIN_SRCDIR/data, else the installed $(pkgdatadir)/data)
 *   rk.voxel.kernel{nuclide=, spacing= | image=, medium="soft"|"bone",
 *     dpk=path, half=5, density=1.04} -> k; k:info(), k:at(i, j, k)
 *   rk.voxel.density{ct=img [, table=path]} -> density image (g/cm3)
 *   rk.voxel.tia{images=, times=, nuclide=, method=, labels=, label=,
 *     models=, cv=, threads=, lambda=, min_bqml=} -> fit; fit:map(),
 *     fit:info()
 *   rk.voxel.dose{tia=img, nuclide=, method="led"|"kernel", kernel=,
 *     density=img, rho=1.04, rho_min=0.05, labels=, label=} -> dose image
 *   rk.voxel.bed{dose=, fit=, labels=, classes=, nuclide=} -> bed, eqd2
 *   rk.voxel.dvh{dose=, labels=, label=, bin=, nbins=, vx=, eud_a=,
 *     alpha=} -> statistics table with the cumulative/differential DVH
 *   rk.voxel.tare{scout=, liver=, liver_label=, tumour=, tumour_label=,
 *     density=, rho=, product=, cf=, lung_mass_kg=, kernel=,
 *     territories={{name=, mask=, label=, lsf=, mode=, activity_mbq=,
 *     target_gy=}, ...} (or one territory's fields at the top level)}
 *     -> result table, activity map (MBq), LED dose, kernel dose or nil,
 *     VOI label map */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lua.h>

#include "l_image_impl.h"
#include "lrk.h"
#include "modules.h"
#include "voxel/dvh.h"
#include "voxel/tare_voxel.h"
#include "voxel/tia.h"
#include "voxel/voxel.h"

#ifndef RKIN_PKGDATADIR
#define RKIN_PKGDATADIR "/usr/local/share/radiokin"
#endif

#define KER_MT "radiokin.voxel.kernel"
#define FIT_MT "radiokin.voxel.fit"

static void push_data_dir(lua_State *L)
{
  const char *d = getenv("RADIOKIN_DATADIR"), *src = getenv("RADIOKIN_SRCDIR");
  if (d && *d) lua_pushstring(L, d);
  else if (src && *src) lua_pushfstring(L, "%s/data", src);
  else lua_pushstring(L, RKIN_PKGDATADIR);
}

static int l_data_dir(lua_State *L)
{
  push_data_dir(L);
  return 1;
}

static int ker_gc(lua_State *L)
{
  rkin_kernel_free(luaL_checkudata(L, 1, KER_MT));
  return 0;
}

static rkin_kernel *check_kernel(lua_State *L, int idx, const char *ctx)
{
  rkin_kernel *k = luaL_testudata(L, idx, KER_MT);
  if (!k || !k->s)
    lrk_error(L, "%s: expected a kernel (rk.voxel.kernel) (got %s)", ctx,
              lrk_got(L, idx));
  return k;
}

static int read_vec3(lua_State *L, int t, const char *ctx, const char *key,
                     double *out)
{
  size_t n;
  double *v = lrk_field_numbers(L, t, ctx, key, 0, &n);
  if (!v) return 0;
  if (n != 3) {
    free(v);
    return lrk_error(L, "%s: field '%s' must hold 3 numbers (got %d)", ctx,
                     key, (int)n);
  }
  memcpy(out, v, 3 * sizeof *out);
  free(v);
  return 1;
}

/* The image in field key of table t, or NULL when absent (and optional). */
static rkin_image *field_image(lua_State *L, int t, const char *ctx,
                               const char *key, int required)
{
  rkin_image *im;
  char what[96];
  if (lua_getfield(L, t, key) == LUA_TNIL) {
    lua_pop(L, 1);
    if (required)
      lrk_error(L, "%s: field '%s' is required (an image)", ctx, key);
    return NULL;
  }
  snprintf(what, sizeof what, "%s: field '%s'", ctx, key);
  im = lrk_check_image(L, -1, what);
  lua_pop(L, 1); /* kept alive by the argument table */
  return im;
}

/* Mask from fields labels= and label= of table t (NULL: none). */
static unsigned char *field_mask(lua_State *L, int t, const char *ctx,
                                 const rkin_grid *g)
{
  int li, lab;
  lua_getfield(L, t, "labels");
  li = lua_gettop(L);
  lua_getfield(L, t, "label");
  lab = lua_gettop(L);
  if (!lua_isnil(L, lab) && !lua_isinteger(L, lab))
    lrk_error(L, "%s: field 'label' must be an integer (got %s)", ctx,
              lrk_got(L, lab));
  return lrk_check_mask(L, li, lab, ctx, g); /* scratch stays on the stack */
}

static int l_kernel(lua_State *L)
{
  static const char *const keys[] = {"nuclide", "spacing", "image", "medium",
                                     "dpk", "half", "density", "dir", NULL};
  const char *ctx = "rk.voxel.kernel";
  const char *nuc, *medium, *dpk, *dir;
  double sp[3] = {0, 0, 0};
  rkin_kernel *k;
  rkin_err err;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  nuc = lrk_field_string(L, 1, ctx, "nuclide", 1, NULL);
  medium = lrk_field_string(L, 1, ctx, "medium", 0, "soft");
  dpk = lrk_field_string(L, 1, ctx, "dpk", 0, NULL);
  if (!read_vec3(L, 1, ctx, "spacing", sp)) {
    rkin_image *im = field_image(L, 1, ctx, "image", 0);
    if (!im)
      return lrk_error(L, "%s: give the voxel size as spacing={x,y,z} (mm) "
                       "or image=", ctx);
    memcpy(sp, im->g.spacing, sizeof sp);
  }
  k = lua_newuserdatauv(L, sizeof *k, 0);
  memset(k, 0, sizeof *k);
  luaL_setmetatable(L, KER_MT);
  if (dpk) {
    long long h = lrk_field_count(L, 1, ctx, "half", 0, 5, 0,
                                  RKIN_KERNEL_MAX_HALF);
    double rho = lrk_field_number_in(L, 1, ctx, "density", 0, 1.0, 0.01, 25,
                                     0);
    int hh[3] = {(int)h, (int)h, (int)h};
    rc = rkin_kernel_from_dpk(dpk, nuc, hh, sp, rho, k, &err);
  } else {
    if (lua_getfield(L, 1, "dir") == LUA_TSTRING) {
      dir = lua_tostring(L, -1);
      lua_pushstring(L, dir);
    } else {
      push_data_dir(L);
      lua_pushstring(L, "/kernels/lanconelli2012");
      lua_concat(L, 2);
    }
    dir = lua_tostring(L, -1);
    rc = rkin_kernel_lanconelli(dir, nuc, medium, sp, k, &err);
    lua_pop(L, 2);
  }
  if (rc < 0) lrk_raise(L, ctx, &err);
  return 1;
}

static int ker_info(lua_State *L)
{
  rkin_kernel *k = check_kernel(L, 1, "k:info");
  double h[3] = {k->h[0], k->h[1], k->h[2]};
  lua_createtable(L, 0, 8);
  lua_pushstring(L, k->nuclide);
  lua_setfield(L, -2, "nuclide");
  lua_pushstring(L, k->medium);
  lua_setfield(L, -2, "medium");
  lua_pushstring(L, k->source);
  lua_setfield(L, -2, "source");
  lrk_push_numbers(L, k->spacing, 3);
  lua_setfield(L, -2, "spacing");
  lrk_push_numbers(L, h, 3);
  lua_setfield(L, -2, "half");
  lua_pushnumber(L, k->rho);
  lua_setfield(L, -2, "density");
  lua_pushnumber(L, rkin_kernel_sum(k));
  lua_setfield(L, -2, "sum_gy_per_decay");
  lua_pushnumber(L, rkin_kernel_energy_mev(k));
  lua_setfield(L, -2, "energy_mev");
  return 1;
}

static int ker_at(lua_State *L)
{
  rkin_kernel *k = check_kernel(L, 1, "k:at");
  lua_pushnumber(L, rkin_kernel_at(k, (int)luaL_checkinteger(L, 2),
                                   (int)luaL_checkinteger(L, 3),
                                   (int)luaL_checkinteger(L, 4)));
  return 1;
}

static int l_density(lua_State *L)
{
  static const char *const keys[] = {"ct", "table", NULL};
  const char *ctx = "rk.voxel.density";
  rkin_image *ct, rho;
  rkin_hu_table t;
  rkin_err err;
  const char *path;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  ct = field_image(L, 1, ctx, "ct", 1);
  path = lrk_field_string(L, 1, ctx, "table", 0, NULL);
  if (!path) {
    push_data_dir(L);
    lua_pushstring(L, "/ct/hu_density_schneider2000_gate_points.csv");
    lua_concat(L, 2);
    path = lua_tostring(L, -1);
  }
  if (rkin_hu_table_load(path, &t, &err) < 0) lrk_raise(L, ctx, &err);
  rc = rkin_density_map(&t, ct, &rho, &err);
  rkin_hu_table_free(&t);
  if (rc < 0) lrk_raise(L, ctx, &err);
  lrk_push_image_take(L, &rho);
  return 1;
}

static int l_dose(lua_State *L)
{
  static const char *const keys[] = {"tia", "nuclide", "method", "kernel",
                                     "density", "rho", "rho_min", "labels",
                                     "label", NULL};
  const char *ctx = "rk.voxel.dose";
  rkin_image *tia, *rho, out;
  const char *nuc, *method;
  unsigned char *mask;
  rkin_err err;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  tia = field_image(L, 1, ctx, "tia", 1);
  rho = field_image(L, 1, ctx, "density", 0);
  nuc = lrk_field_string(L, 1, ctx, "nuclide", 1, NULL);
  method = lrk_field_string(L, 1, ctx, "method", 0, "kernel");
  mask = field_mask(L, 1, ctx, &tia->g);
  if (strcmp(method, "led") == 0) {
    const rkin_nuclide *n = rkin_nuclide_find(nuc, &err);
    double r = lrk_field_number_in(L, 1, ctx, "rho", 0, 1.04, 0.001, 25, 0);
    if (!n) lrk_raise(L, ctx, &err);
    rc = rkin_dose_led(tia, n, rho, r, mask, &out, &err);
  } else if (strcmp(method, "kernel") == 0) {
    rkin_kernel *k;
    double rmin = lrk_field_number_in(L, 1, ctx, "rho_min", 0, 0.05, 0.0, 25,
                                      0);
    if (lua_getfield(L, 1, "kernel") == LUA_TNIL)
      return lrk_error(L, "%s: method 'kernel' needs field 'kernel' "
                       "(rk.voxel.kernel{...})", ctx);
    k = check_kernel(L, -1, "rk.voxel.dose: field 'kernel'");
    rc = rkin_dose_kernel(tia, nuc, k, rho, rmin, &out, &err);
    if (rc == 0 && mask) {
      size_t i, n = rkin_grid_count(&out.g);
      for (i = 0; i < n; i++)
        if (!mask[i]) out.v[i] = 0.0f;
    }
  } else {
    return lrk_error(L, "%s: field 'method' must be 'led' or 'kernel' (got "
                     "'%s')", ctx, method);
  }
  if (rc < 0) lrk_raise(L, ctx, &err);
  lrk_push_image_take(L, &out);
  return 1;
}

static int fit_gc(lua_State *L)
{
  rkin_vtia_free(luaL_checkudata(L, 1, FIT_MT));
  return 0;
}

static rkin_vtia *check_fit(lua_State *L, int idx, const char *ctx)
{
  rkin_vtia *v = luaL_testudata(L, idx, FIT_MT);
  if (!v || !v->model)
    lrk_error(L, "%s: expected a voxel TIA fit (rk.voxel.tia) (got %s)", ctx,
              lrk_got(L, idx));
  return v;
}

static int l_tia(lua_State *L)
{
  static const char *const keys[] = {"images", "times", "nuclide", "method",
                                     "labels", "label", "models", "cv",
                                     "threads", "lambda", "min_bqml",
                                     NULL};
  static const char *const methods[] = {"per_voxel", "voi_shape",
                                        "haenscheid", "population", "hybrid",
                                        NULL};
  const char *ctx = "rk.voxel.tia";
  const rkin_image **imgs;
  double *t;
  size_t n, nt, i;
  rkin_vtia_opts o;
  rkin_vtia *v;
  unsigned char *mask;
  rkin_err err;
  const char *m;
  int mi;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  memset(&o, 0, sizeof o);
  o.nuclide = lrk_field_string(L, 1, ctx, "nuclide", 1, NULL);
  m = lrk_field_string(L, 1, ctx, "method", 0, "voi_shape");
  for (mi = 0; methods[mi] && strcmp(methods[mi], m); mi++) {}
  if (!methods[mi])
    return lrk_error(L, "%s: field 'method' must be per_voxel, voi_shape, "
                     "hybrid, haenscheid or population (got '%s')", ctx, m);
  o.method = (rkin_vtia_method)mi;
  o.cv = lrk_field_number_in(L, 1, ctx, "cv", 0, 0.0, 0.0, 10, 0);
  o.threads = (int)lrk_field_count(L, 1, ctx, "threads", 0, 1, 1, 64);
  o.pop_lambda_h = lrk_field_number(L, 1, ctx, "lambda", 0, NAN);
  o.hybrid_min = lrk_field_number(L, 1, ctx, "min_bqml",
                                  o.method == RKIN_VTIA_HYBRID, NAN);
  if (lua_getfield(L, 1, "models") == LUA_TTABLE) {
    lua_Integer k, nm = luaL_len(L, -1);
    for (k = 1; k <= nm; k++) {
      rkin_tac_model tm;
      lua_geti(L, -1, k);
      if (!lua_isstring(L, -1) ||
          rkin_tac_model_find(lua_tostring(L, -1), &tm, &err) < 0)
        return lrk_error(L, "%s: field 'models', entry %d: %s", ctx, (int)k,
                         lua_isstring(L, -1) ? err.msg
                                             : "expected a TAC model name");
      o.models |= 1u << tm;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "times") != LUA_TTABLE)
    return lrk_error(L, "%s: field 'times' is required (an array of hours)",
                     ctx);
  t = lrk_numbers(L, lua_gettop(L), ctx, "field 'times'", &nt);
  if (lua_getfield(L, 1, "images") != LUA_TTABLE) {
    return lrk_error(L, "%s: field 'images' is required (an array of images)",
                     ctx);
  }
  n = (size_t)luaL_len(L, -1);
  if (n != nt || n < 1 || n > RKIN_TAC_MAX_POINTS) {
    return lrk_error(L, "%s: %d images and %d times (expected as many, 1..%d)",
                     ctx, (int)n, (int)nt, RKIN_TAC_MAX_POINTS);
  }
  imgs = lrk_scratch(L, n, sizeof *imgs);
  for (i = 0; i < n; i++) {
    char what[64];
    lua_geti(L, -2, (lua_Integer)i + 1);
    snprintf(what, sizeof what, "%s: images[%d]", ctx, (int)i + 1);
    imgs[i] = lrk_check_image(L, -1, what);
    lua_pop(L, 1);
  }
  mask = field_mask(L, 1, ctx, &imgs[0]->g);
  v = lua_newuserdatauv(L, sizeof *v, 0);
  memset(v, 0, sizeof *v);
  luaL_setmetatable(L, FIT_MT);
  if (rkin_voxel_tia(n, imgs, t, mask, &o, v, &err) < 0)
    lrk_raise(L, ctx, &err);
  return 1;
}

static int fit_map(lua_State *L)
{
  lrk_push_image_copy(L, &check_fit(L, 1, "fit:map")->tia);
  return 1;
}

static int fit_info(lua_State *L)
{
  rkin_vtia *v = check_fit(L, 1, "fit:info");
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)v->n_fitted);
  lua_setfield(L, -2, "fitted");
  lua_pushinteger(L, (lua_Integer)v->n_skipped);
  lua_setfield(L, -2, "skipped");
  lua_pushinteger(L, (lua_Integer)v->n_zero);
  lua_setfield(L, -2, "zero");
  lua_pushinteger(L, (lua_Integer)v->n_fallback);
  lua_setfield(L, -2, "fallback");
  lua_pushinteger(L, (lua_Integer)v->n_own);
  lua_setfield(L, -2, "own");
  lua_pushstring(L, v->note);
  lua_setfield(L, -2, "note");
  if (v->voi.n) {
    lua_pushstring(L, rkin_tac_model_name(v->voi.chosen));
    lua_setfield(L, -2, "voi_model");
    lua_pushnumber(L, v->voi.tia);
    lua_setfield(L, -2, "voi_tia_MBqh");
  }
  return 1;
}

static int l_bed(lua_State *L)
{
  static const char *const keys[] = {"dose", "fit", "labels", "classes",
                                     "nuclide", NULL};
  const char *ctx = "rk.voxel.bed";
  rkin_image *dose, *labels, bed, eqd2;
  rkin_vtia *v;
  rkin_tissue_class *cls;
  size_t nc, i;
  rkin_err err;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  dose = field_image(L, 1, ctx, "dose", 1);
  labels = field_image(L, 1, ctx, "labels", 1);
  lua_getfield(L, 1, "fit");
  v = check_fit(L, -1, "rk.voxel.bed: field 'fit'");
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "classes") != LUA_TTABLE)
    return lrk_error(L, "%s: field 'classes' is required: "
                     "{{label=, ab=, trep=}, ...}", ctx);
  nc = (size_t)luaL_len(L, -1);
  if (nc < 1 || nc > 1000)
    return lrk_error(L, "%s: %d classes (expected 1..1000)", ctx, (int)nc);
  cls = lrk_scratch(L, nc, sizeof *cls);
  for (i = 0; i < nc; i++) {
    static const char *const ck[] = {"label", "ab", "trep", NULL};
    char what[64];
    int ct;
    lua_geti(L, -2, (lua_Integer)i + 1);
    ct = lua_gettop(L);
    snprintf(what, sizeof what, "%s: classes[%d]", ctx, (int)i + 1);
    if (!lua_istable(L, ct))
      return lrk_error(L, "%s: classes[%d] must be a table", ctx, (int)i + 1);
    lrk_check_keys(L, ct, what, ck);
    cls[i].label = (int)lrk_field_count(L, ct, what, "label", 1, 0, 0, 1 << 24);
    cls[i].lq.ab_gy = lrk_field_number(L, ct, what, "ab", 1, 0);
    cls[i].lq.trep_h = lrk_field_number(L, ct, what, "trep", 1, 0);
    lua_pop(L, 1);
  }
  if (rkin_voxel_bed(dose, v, labels, cls, nc,
                     lrk_field_string(L, 1, ctx, "nuclide", 1, NULL), &bed,
                     &eqd2, &err) < 0)
    lrk_raise(L, ctx, &err);
  lrk_push_image_take(L, &bed);
  lrk_push_image_take(L, &eqd2);
  return 2;
}

/* Options of rk.voxel.dvh read before any DVH is evaluated, so nothing
 * raises while a DVH holds memory. bin <= 0: from each VOI's maximum. */
typedef struct {
  size_t nb, nvx;
  double bin, a, alpha, *vx, *cum, *diff;
} dvh_opts;

static void read_dvh_opts(lua_State *L, const char *ctx, dvh_opts *o)
{
  o->nb = (size_t)lrk_field_count(L, 1, ctx, "nbins", 0, 100, 1, 100000);
  o->bin = lrk_field_number(L, 1, ctx, "bin", 0, 0.0);
  if (lua_getfield(L, 1, "bin") != LUA_TNIL && !(o->bin > 0))
    lrk_error(L, "%s: field 'bin' must be > 0 Gy (got %f)", ctx, o->bin);
  lua_pop(L, 1);
  o->a = lrk_field_number(L, 1, ctx, "eud_a", 0, NAN);
  o->alpha = lrk_field_number(L, 1, ctx, "alpha", 0, NAN);
  o->cum = lrk_scratch(L, o->nb, sizeof *o->cum);
  o->diff = lrk_scratch(L, o->nb, sizeof *o->diff);
  o->vx = NULL;
  o->nvx = 0;
  {
    /* copied to a scratch (freed by Lua) so no malloc'd array is held
     * across calls that may raise */
    double *v = lrk_field_numbers(L, 1, ctx, "vx", 0, &o->nvx);
    if (v) {
      o->vx = lrk_scratch(L, o->nvx ? o->nvx : 1, sizeof *o->vx);
      if (o->nvx) memcpy(o->vx, v, o->nvx * sizeof *v);
      free(v);
    }
  }
}

/* Pushes the result table of h, or returns an error (bad bin) without
 * pushing. */
static int push_dvh(lua_State *L, const rkin_dvh *h, const dvh_opts *o,
                    rkin_err *err)
{
  size_t i, nb = o->nb;
  double bin = o->bin > 0 ? o->bin
                          : h->max > 0 ? h->max / (double)nb * 1.0001 : 1.0;
  if (rkin_dvh_curve(h, bin, nb, o->cum, o->diff, err) < 0) return -1;
  lua_createtable(L, 0, 20);
#define SETN(name) lua_pushnumber(L, h->name); lua_setfield(L, -2, #name)
  SETN(mean); SETN(sd); SETN(min); SETN(max); SETN(median);
  SETN(d2); SETN(d50); SETN(d70); SETN(d90); SETN(d98);
#undef SETN
  lua_pushinteger(L, (lua_Integer)h->n);
  lua_setfield(L, -2, "n");
  lua_pushnumber(L, (double)h->n * h->voxel_ml);
  lua_setfield(L, -2, "volume_ml");
  lua_pushnumber(L, bin);
  lua_setfield(L, -2, "bin");
  lrk_push_numbers(L, o->cum, nb);
  lua_setfield(L, -2, "cumulative");
  lrk_push_numbers(L, o->diff, nb);
  lua_setfield(L, -2, "differential");
  if (!isnan(o->a)) {
    lua_pushnumber(L, rkin_dvh_geud(h, o->a));
    lua_setfield(L, -2, "geud");
  }
  if (!isnan(o->alpha)) {
    lua_pushnumber(L, rkin_dvh_eud_alpha(h, o->alpha));
    lua_setfield(L, -2, "eud");
  }
  if (o->vx) {
    lua_createtable(L, (int)o->nvx, 0);
    for (i = 0; i < o->nvx; i++) {
      lua_pushnumber(L, rkin_dvh_vx(h, o->vx[i]));
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "vx");
  }
  return 0;
}

/* label = {l1, l2, ...}: every label's DVH in one pass over the map
 * (rkin_dvh_eval_labels), a list in the order given. */
static int dvh_labels(lua_State *L, const char *ctx, rkin_image *dose,
                      const dvh_opts *o)
{
  rkin_image *labels;
  rkin_dvh *h;
  int *lab;
  size_t n, i;
  rkin_err err;
  labels = field_image(L, 1, ctx, "labels", 0);
  if (!labels)
    return lrk_error(L, "%s: a list of labels needs field 'labels' (the "
                     "label map)", ctx);
  lua_getfield(L, 1, "label");
  n = (size_t)luaL_len(L, -1);
  if (n < 1 || n > 65535)
    return lrk_error(L, "%s: field 'label' lists %d labels (expected "
                     "1..65535)", ctx, (int)n);
  lab = lrk_scratch(L, n, sizeof *lab);
  for (i = 0; i < n; i++) {
    lua_geti(L, -2, (lua_Integer)i + 1);
    if (!lua_isinteger(L, -1))
      return lrk_error(L, "%s: field 'label'[%d] must be an integer (got %s)",
                       ctx, (int)i + 1, lrk_got(L, -1));
    lab[i] = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  h = lrk_scratch(L, n, sizeof *h);
  if (rkin_dvh_eval_labels(dose, labels, n, lab, h, &err) < 0)
    return lrk_raise(L, ctx, &err);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    if (push_dvh(L, &h[i], o, &err) < 0) {
      for (; i < n; i++) rkin_dvh_free(&h[i]);
      return lrk_raise(L, ctx, &err);
    }
    lua_pushinteger(L, lab[i]);
    lua_setfield(L, -2, "label");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
    rkin_dvh_free(&h[i]);
  }
  return 1;
}

static int l_dvh(lua_State *L)
{
  static const char *const keys[] = {"dose", "labels", "label", "bin",
                                     "nbins", "vx", "eud_a", "alpha", NULL};
  const char *ctx = "rk.voxel.dvh";
  rkin_image *dose;
  unsigned char *mask;
  rkin_dvh h;
  rkin_err err;
  dvh_opts o;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  dose = field_image(L, 1, ctx, "dose", 1);
  read_dvh_opts(L, ctx, &o);
  if (lua_getfield(L, 1, "label") == LUA_TTABLE) {
    lua_pop(L, 1);
    return dvh_labels(L, ctx, dose, &o);
  }
  lua_pop(L, 1);
  mask = field_mask(L, 1, ctx, &dose->g);
  if (rkin_dvh_eval(dose, mask, &h, &err) < 0) lrk_raise(L, ctx, &err);
  rc = push_dvh(L, &h, &o, &err);
  rkin_dvh_free(&h);
  if (rc < 0) lrk_raise(L, ctx, &err);
  return 1;
}


/* ------------------------------------------------ TARE voxel planning */

/* The mask of label map field `key` (label field `lkey`) of table t on
 * grid g, or NULL when absent and optional; the scratch stays on the
 * stack. */
static unsigned char *named_mask(lua_State *L, int t, const char *ctx,
                                 const char *key, const char *lkey,
                                 const rkin_grid *g, int required)
{
  char what[128];
  int li, lab;
  lua_getfield(L, t, key);
  li = lua_gettop(L);
  if (lua_isnil(L, li)) {
    if (required)
      lrk_error(L, "%s: field '%s' is required (a label map)", ctx, key);
    return NULL;
  }
  lua_getfield(L, t, lkey);
  lab = lua_gettop(L);
  if (!lua_isnil(L, lab) && !lua_isinteger(L, lab))
    lrk_error(L, "%s: field '%s' must be an integer (got %s)", ctx, lkey,
              lrk_got(L, lab));
  snprintf(what, sizeof what, "%s: field '%s'", ctx, key);
  return lrk_check_mask(L, li, lab, what, g);
}

static void read_tvox_territory(lua_State *L, int t, const char *ctx,
                                const rkin_grid *g, int allow_nomask,
                                rkin_tvox_territory *tt)
{
  rkin_err err;
  const char *mode;
  int has_act;
  tt->name = lrk_field_string(L, t, ctx, "name", 0, NULL);
  tt->mask = named_mask(L, t, ctx, "mask", "label", g, !allow_nomask);
  tt->lsf = lrk_field_number_in(L, t, ctx, "lsf", 1, 0.0, 0.0, 1.0,
                                LRK_HI_OPEN);
  lua_getfield(L, t, "activity_mbq");
  has_act = !lua_isnil(L, -1);
  lua_pop(L, 1);
  mode = lrk_field_string(L, t, ctx, "mode", 0,
                          has_act ? "activity" : NULL);
  if (!mode)
    lrk_error(L, "%s: give mode = 'tumour_mean' | 'normal_d70' | "
              "'normal_mean' with target_gy =, or activity_mbq =", ctx);
  if (rkin_tvox_mode_parse(mode, &tt->mode, &err) < 0) lrk_raise(L, ctx, &err);
  if (tt->mode == RKIN_TVOX_ACTIVITY)
    tt->value = lrk_field_number_in(L, t, ctx, "activity_mbq", 1, 0.0, 0.0,
                                    1e6, 0);
  else
    tt->value = lrk_field_number_in(L, t, ctx, "target_gy", 1, 0.0, 0.0,
                                    1e5, LRK_LO_OPEN);
}

static void set_num(lua_State *L, const char *k, double v)
{
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void push_tvox_result(lua_State *L, const rkin_tvox_plan *p,
                             const rkin_tvox_result *r)
{
  size_t k;
  lua_createtable(L, 0, 12);
  set_num(L, "activity_mbq", r->activity_mbq);
  set_num(L, "lung_gy", r->lung_gy);
  set_num(L, "cf", p->cf);
  lua_pushstring(L, p->product->name);
  lua_setfield(L, -2, "product");
  lua_pushstring(L, p->nuclide->name);
  lua_setfield(L, -2, "nuclide");
  lua_pushinteger(L, (lua_Integer)r->n_negative);
  lua_setfield(L, -2, "n_negative");
  set_num(L, "outside_fraction", r->outside_fraction);
  if (r->partition.n_territories) {
    set_num(L, "part_activity_mbq", r->part_activity_mbq);
    lua_pushboolean(L, r->partition.all_pass);
    lua_setfield(L, -2, "all_pass");
    lua_createtable(L, (int)r->partition.n_checks, 0);
    for (k = 0; k < r->partition.n_checks; k++) {
      const rkin_tare_check *c = &r->partition.checks[k];
      lua_createtable(L, 0, 4);
      lua_pushstring(L, c->what);
      lua_setfield(L, -2, "what");
      set_num(L, "dose_gy", c->dose_gy);
      set_num(L, "limit_gy", c->limit_gy);
      lua_pushstring(L, c->exceeded ? "EXCEEDED" : "PASS");
      lua_setfield(L, -2, "status");
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "checks");
    lua_createtable(L, (int)r->partition.warn.n, 0);
    for (k = 0; k < r->partition.warn.n; k++) {
      lua_pushstring(L, r->partition.warn.text[k]);
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "warnings");
  }
  lua_createtable(L, (int)r->n_terr, 0);
  for (k = 0; k < r->n_terr; k++) {
    const rkin_tvox_terr_result *t = &r->terr[k];
    const rkin_tvox_territory *in = &p->terr[k];
    lua_createtable(L, 0, 28);
    if (in->name) {
      lua_pushstring(L, in->name);
    } else {
      lua_pushfstring(L, "territory %d", (int)k + 1);
    }
    lua_setfield(L, -2, "name");
    lua_pushstring(L, rkin_tvox_mode_name(in->mode));
    lua_setfield(L, -2, "mode");
    if (in->mode != RKIN_TVOX_ACTIVITY) set_num(L, "target_gy", in->value);
    set_num(L, "lsf", in->lsf);
    set_num(L, "activity_mbq", t->activity_mbq);
    set_num(L, "liver_mbq", t->liver_mbq);
    set_num(L, "lung_gy", t->lung_gy);
    lua_pushinteger(L, (lua_Integer)t->n_voxels);
    lua_setfield(L, -2, "n_voxels");
    lua_pushinteger(L, (lua_Integer)t->n_tumour);
    lua_setfield(L, -2, "n_tumour");
    lua_pushinteger(L, (lua_Integer)t->n_normal);
    lua_setfield(L, -2, "n_normal");
    set_num(L, "mass_kg", t->mass_kg);
    set_num(L, "tumour_kg", t->tumour_kg);
    set_num(L, "normal_kg", t->normal_kg);
    set_num(L, "tumour_fraction", t->tumour_fraction);
    set_num(L, "tn", t->tn);
    set_num(L, "tumour_mean_gy", t->tumour_mean_gy);
    set_num(L, "tumour_d70_gy", t->tumour_d70_gy);
    set_num(L, "tumour_min_gy", t->tumour_min_gy);
    set_num(L, "normal_mean_gy", t->normal_mean_gy);
    set_num(L, "normal_d70_gy", t->normal_d70_gy);
    set_num(L, "normal_max_gy", t->normal_max_gy);
    if (t->has_partition) {
      lua_createtable(L, 0, 4);
      set_num(L, "activity_mbq", t->part_activity_mbq);
      set_num(L, "tumour_gy", t->part_tumour_gy);
      set_num(L, "normal_gy", t->part_normal_gy);
      set_num(L, "lung_gy", t->part_lung_gy);
      lua_setfield(L, -2, "partition");
    }
    lua_pushstring(L, t->note);
    lua_setfield(L, -2, "note");
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_setfield(L, -2, "territories");
}

static int l_tare(lua_State *L)
{
  static const char *const keys[] = {
    "scout", "liver", "liver_label", "tumour", "tumour_label", "density",
    "rho", "product", "cf", "nuclide", "lung_mass_kg", "kernel",
    "territories", "name", "mask", "label", "lsf", "mode", "activity_mbq",
    "target_gy", NULL};
  static const char *const tkeys[] = {"name", "mask", "label", "lsf", "mode",
                                      "activity_mbq", "target_gy", NULL};
  const char *ctx = "rk.voxel.tare";
  rkin_tvox_plan p;
  rkin_tvox_territory *terr;
  rkin_tvox_result *res;
  rkin_err err;
  size_t n = 1, k;
  int ty;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  memset(&p, 0, sizeof p);
  p.scout = field_image(L, 1, ctx, "scout", 1);
  p.liver = named_mask(L, 1, ctx, "liver", "liver_label", &p.scout->g, 1);
  p.tumour = named_mask(L, 1, ctx, "tumour", "tumour_label", &p.scout->g, 0);
  p.rho = field_image(L, 1, ctx, "density", 0);
  p.rho_uniform = lrk_field_number_in(L, 1, ctx, "rho", 0,
                                      RKIN_TARE_LIVER_DENSITY, 0.5, 2.0, 0);
  if (!(p.product = rkin_tare_product_find(
            lrk_field_string(L, 1, ctx, "product", 1, NULL), &err)))
    lrk_raise(L, ctx, &err);
  if (!(p.nuclide = rkin_nuclide_find(
            lrk_field_string(L, 1, ctx, "nuclide", 0, p.product->nuclide),
            &err)))
    lrk_raise(L, ctx, &err);
  ty = lua_getfield(L, 1, "cf");
  if (ty == LUA_TSTRING || ty == LUA_TNIL) {
    rkin_tare_cf_conv conv = RKIN_TARE_CF_CLINICAL;
    if ((ty == LUA_TSTRING &&
         rkin_tare_cf_conv_parse(lua_tostring(L, -1), &conv, &err) < 0) ||
        rkin_tare_cf(p.nuclide, conv, &p.cf, &err) < 0)
      lrk_raise(L, ctx, &err);
  } else {
    p.cf = lrk_field_number_in(L, 1, ctx, "cf", 1, 0.0, 0.0, 1e3,
                               LRK_LO_OPEN);
  }
  lua_pop(L, 1);
  p.lung_mass_kg = lrk_field_number_in(L, 1, ctx, "lung_mass_kg", 0, 1.0,
                                       0.0, 10.0, LRK_LO_OPEN);
  if (lua_getfield(L, 1, "kernel") != LUA_TNIL)
    p.kernel = check_kernel(L, -1, "rk.voxel.tare: field 'kernel'");
  lua_pop(L, 1); /* kept alive by the argument table */
  if (lua_getfield(L, 1, "territories") == LUA_TTABLE) {
    int tt = lua_gettop(L);
    n = (size_t)luaL_len(L, tt);
    if (n < 1 || n > RKIN_TARE_MAX_TERR)
      return lrk_error(L, "%s: %d territories (expected 1..%d)", ctx, (int)n,
                       RKIN_TARE_MAX_TERR);
    terr = lrk_scratch(L, n, sizeof *terr);
    for (k = 0; k < n; k++) {
      char what[80];
      int ti;
      lua_geti(L, tt, (lua_Integer)k + 1);
      ti = lua_gettop(L);
      snprintf(what, sizeof what, "%s: territories[%d]", ctx, (int)k + 1);
      if (!lua_istable(L, ti))
        return lrk_error(L, "%s: territories[%d] must be a table", ctx,
                         (int)k + 1);
      lrk_check_keys(L, ti, what, tkeys);
      /* the masks' scratch stays on the stack until the call returns */
      read_tvox_territory(L, ti, what, &p.scout->g, n == 1, &terr[k]);
    }
  } else if (!lua_isnil(L, -1)) {
    return lrk_error(L, "%s: field 'territories' must be a table (got %s)",
                     ctx, lrk_got(L, -1));
  } else {
    terr = lrk_scratch(L, 1, sizeof *terr);
    read_tvox_territory(L, 1, ctx, &p.scout->g, 1, &terr[0]);
  }
  p.terr = terr;
  p.n_terr = n;
  res = lrk_scratch(L, 1, sizeof *res);
  if (rkin_tvox_run(&p, res, &err) < 0) lrk_raise(L, ctx, &err);
  push_tvox_result(L, &p, res);
  lrk_push_image_take(L, &res->activity);
  lrk_push_image_take(L, &res->dose_led);
  if (res->dose_kernel.v) lrk_push_image_take(L, &res->dose_kernel);
  else lua_pushnil(L);
  lrk_push_image_take(L, &res->voi);
  return 5;
}

int luaopen_radiokin_voxel(lua_State *L)
{
  static const luaL_Reg fns[] = {
    {"data_dir", l_data_dir}, {"kernel", l_kernel}, {"density", l_density},
    {"dose", l_dose}, {"tia", l_tia}, {"bed", l_bed}, {"dvh", l_dvh},
    {"tare", l_tare}, {NULL, NULL}};
  static const luaL_Reg kmethods[] = {{"info", ker_info}, {"at", ker_at},
                                      {NULL, NULL}};
  static const luaL_Reg fmethods[] = {{"map", fit_map}, {"info", fit_info},
                                      {NULL, NULL}};
  lua_getglobal(L, "require");
  lua_pushstring(L, "radiokin.image"); /* the image metatable */
  lua_call(L, 1, 0);
  if (luaL_newmetatable(L, KER_MT)) {
    luaL_newlib(L, kmethods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ker_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, FIT_MT)) {
    luaL_newlib(L, fmethods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, fit_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  return 1;
}
