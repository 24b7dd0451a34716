/* l_image.c - "radiokin.image" and "radiokin.phantom": 3D images
 * (engine/image/image.h) and the synthetic phantom (image/phantom.h).
 *
 *   rk.image.read(path) -> img            NIfTI-1/2 (.nii, .nii.gz)
 *   rk.image.new{dims=, spacing=, origin=, direction=, value=, label=, unit=}
 *   img:write(path [, version])           NIfTI-1 (default) or 2, atomic
 *   rk.image.read_dicom(path) -> img, frame_uid   RT Dose, multi-frame NM,
 *                                         or a folder holding a CT series
 *   img:write_rtdose(path [, frame_uid])  DICOM RT Dose (Gy)
 *   rk.image.dicom_nm_info(path) -> {units, unit, decay_correction,
 *     acquisition_s, acquisition_from, injection_s, injection_date_assumed,
 *     hours_after_injection, total_dose_bq, half_life_s, frame_duration_s}
 *   rk.image.rtstruct_rois(path) -> {{number, name, contours}, ...},
 *                                   frame_uid
 *   rk.image.read_rtstruct(path, roi, target) -> label map (1 inside) on
 *                                   target's grid, count
 *   img:geometry() -> {dims, spacing, origin, direction, unit, label}
 *   img:get(i, j, k), img:set(i, j, k, v) 1-based indices
 *   img:copy(), img:sum(), img:integral(), img:clip_negative() -> count
 *   img:scale(f), img:add(other [, f]), img:mul(other)   in place, -> img
 *   img:resample(target [, {conserve=, transform=}]) -> img, info
 *   img:stats([labels, label]) -> {n, volume_ml, sum, integral, mean, sd,
 *                                   min, max}
 *   img:blur(fwhm_mm), img:poisson(counts_per_unit, seed)   in place
 *   rk.phantom.new{n=, spacing_mm=, organs=, spheres=} -> ph
 *   ph:labels(), ph:ct(), ph:activity(t_h), ph:tia(), ph:tac(label) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lua.h>

#include "image/dicom.h"
#include "image/image.h"
#include "image/phantom.h"
#include "l_image_impl.h"
#include "lrk.h"
#include "lrk_dist.h"
#include "modules.h"

#define IMG_MT "radiokin.image"
#define PH_MT "radiokin.phantom"

static int img_gc(lua_State *L)
{
  rkin_image *im = luaL_checkudata(L, 1, IMG_MT);
  rkin_image_free(im);
  return 0;
}

/* A new, empty image userdata on the stack. */
static rkin_image *push_image(lua_State *L)
{
  rkin_image *im = lua_newuserdatauv(L, sizeof *im, 0);
  memset(im, 0, sizeof *im);
  luaL_setmetatable(L, IMG_MT);
  return im;
}

rkin_image *lrk_check_image(lua_State *L, int idx, const char *ctx)
{
  rkin_image *im = luaL_testudata(L, idx, IMG_MT);
  if (!im || !im->v)
    lrk_error(L, "%s: expected an image (rk.image) (got %s)", ctx,
              lrk_got(L, idx));
  return im;
}

/* The image at idx as a new userdata pushed on the stack (a copy). */
void lrk_push_image_copy(lua_State *L, const rkin_image *src)
{
  rkin_image *im = push_image(L);
  rkin_err err;
  if (rkin_image_copy(im, src, &err) < 0) lrk_raise(L, "rk.image", &err);
}

/* Moves a filled image into a new userdata (takes ownership). */
void lrk_push_image_take(lua_State *L, rkin_image *src)
{
  rkin_image *im = push_image(L);
  *im = *src;
  memset(src, 0, sizeof *src);
}

/* Reads an array of exactly n numbers at field key of table t. */
static int read_vec(lua_State *L, int t, const char *ctx, const char *key,
                    size_t want, double *out, int required)
{
  size_t n;
  double *v = lrk_field_numbers(L, t, ctx, key, required, &n);
  if (!v) return 0;
  if (n != want) {
    free(v);
    return lrk_error(L, "%s: field '%s' must hold %d numbers (got %d)", ctx,
                     key, (int)want, (int)n);
  }
  memcpy(out, v, want * sizeof *out);
  free(v);
  return 1;
}

/* A mask from (labels image, label) at stack indices li, lab; NULL when
 * li is none/nil. Pushed as scratch (collected). */
unsigned char *lrk_check_mask(lua_State *L, int li, int lab, const char *ctx,
                              const rkin_grid *g)
{
  rkin_image *labels;
  unsigned char *m;
  rkin_err err;
  long label;
  if (lua_isnoneornil(L, li)) return NULL;
  labels = lrk_check_image(L, li, ctx);
  if (!rkin_grid_same(&labels->g, g))
    lrk_error(L, "%s: the label map's grid is not the image's (resample the "
              "labels with nearest neighbour first)", ctx);
  label = lua_isnoneornil(L, lab) ? 0 : luaL_checkinteger(L, lab);
  m = lrk_scratch(L, rkin_grid_count(g), 1);
  if (rkin_image_mask(labels, (int)label, m, NULL, &err) < 0)
    lrk_raise(L, ctx, &err);
  return m;
}

static int l_read(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  rkin_image *im = push_image(L);
  rkin_err err;
  if (rkin_nifti_read(path, im, &err) < 0) lrk_raise(L, "rk.image.read", &err);
  return 1;
}

static int l_read_dicom(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  rkin_image *im = push_image(L);
  char uid[80];
  rkin_err err;
  struct stat sb;
  int rc = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)
               ? rkin_dicom_read_series(path, im, uid, &err)
               : rkin_dicom_read(path, im, uid, &err);
  if (rc < 0) lrk_raise(L, "rk.image.read_dicom", &err);
  lua_pushstring(L, uid);
  return 2;
}

static int l_write_rtdose(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:write_rtdose");
  const char *path = luaL_checkstring(L, 2);
  const char *uid = luaL_optstring(L, 3, NULL);
  rkin_err err;
  if (lrk_dist_rank() == 0 &&     /* under mpirun: rank 0 writes */
      rkin_dicom_write_rtdose(path, im, uid, &err) < 0)
    lrk_raise(L, "img:write_rtdose", &err);
  lua_pushstring(L, path);
  return 1;
}

static int l_new(lua_State *L)
{
  static const char *const keys[] = {"dims", "spacing", "origin", "direction",
                                     "value", "label", "unit", NULL};
  const char *ctx = "rk.image.new";
  double d[3], sp[3] = {1, 1, 1}, value;
  rkin_grid g;
  rkin_image *im;
  rkin_err err;
  size_t i, n;
  int a;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  read_vec(L, 1, ctx, "dims", 3, d, 1);
  for (a = 0; a < 3; a++)
    if (d[a] != floor(d[a]) || d[a] < 1 || d[a] > 4096)
      return lrk_error(L, "%s: dims[%d] must be an integer in [1, 4096] "
                       "(got %g)", ctx, a + 1, d[a]);
  read_vec(L, 1, ctx, "spacing", 3, sp, 0);
  rkin_grid_init(&g, (size_t)d[0], (size_t)d[1], (size_t)d[2], sp[0], sp[1],
                 sp[2]);
  read_vec(L, 1, ctx, "origin", 3, g.origin, 0);
  read_vec(L, 1, ctx, "direction", 9, g.dir, 0);
  value = lrk_field_number(L, 1, ctx, "value", 0, 0.0);
  im = push_image(L);
  if (rkin_image_alloc(im, &g, &err) < 0) lrk_raise(L, ctx, &err);
  n = rkin_grid_count(&g);
  for (i = 0; i < n; i++) im->v[i] = (float)value;
  im->is_label = lrk_field_boolean(L, 1, ctx, "label", 0);
  snprintf(im->unit, sizeof im->unit, "%s",
           lrk_field_string(L, 1, ctx, "unit", 0, ""));
  return 1;
}

static int l_write(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:write");
  const char *path = luaL_checkstring(L, 2);
  long long version = lua_isnoneornil(L, 3)
                          ? 1 : lrk_check_count(L, 3, "img:write", "version", 1, 2);
  rkin_err err;
  if (lrk_dist_rank() == 0 &&     /* under mpirun: rank 0 writes */
      rkin_nifti_write(path, im, (int)version, &err) < 0)
    lrk_raise(L, "img:write", &err);
  lua_pushstring(L, path);
  return 1;
}

static void push_vec(lua_State *L, const double *v, size_t n)
{
  lrk_push_numbers(L, v, n);
}

static int l_geometry(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:geometry");
  double d[3] = {(double)im->g.n[0], (double)im->g.n[1], (double)im->g.n[2]};
  lua_createtable(L, 0, 6);
  push_vec(L, d, 3);
  lua_setfield(L, -2, "dims");
  push_vec(L, im->g.spacing, 3);
  lua_setfield(L, -2, "spacing");
  push_vec(L, im->g.origin, 3);
  lua_setfield(L, -2, "origin");
  push_vec(L, im->g.dir, 9);
  lua_setfield(L, -2, "direction");
  lua_pushstring(L, im->unit);
  lua_setfield(L, -2, "unit");
  lua_pushboolean(L, im->is_label);
  lua_setfield(L, -2, "label");
  lua_pushnumber(L, rkin_grid_voxel_ml(&im->g));
  lua_setfield(L, -2, "voxel_ml");
  return 1;
}

static size_t check_index(lua_State *L, rkin_image *im, const char *ctx)
{
  size_t ijk[3];
  int a;
  for (a = 0; a < 3; a++) {
    lua_Integer x = luaL_checkinteger(L, 2 + a);
    if (x < 1 || (size_t)x > im->g.n[a])
      lrk_error(L, "%s: index %d is %d (expected 1..%d)", ctx, a + 1, (int)x,
                (int)im->g.n[a]);
    ijk[a] = (size_t)(x - 1);
  }
  return (ijk[2] * im->g.n[1] + ijk[1]) * im->g.n[0] + ijk[0];
}

static int l_get(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:get");
  lua_pushnumber(L, im->v[check_index(L, im, "img:get")]);
  return 1;
}

static int l_set(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:set");
  size_t i = check_index(L, im, "img:set");
  double v = luaL_checknumber(L, 5);
  if (!isfinite(v)) return lrk_error(L, "img:set: value must be finite");
  im->v[i] = (float)v;
  return 0;
}

static int l_copy(lua_State *L)
{
  lrk_push_image_copy(L, lrk_check_image(L, 1, "img:copy"));
  return 1;
}

static int l_sum(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:sum");
  size_t i, n = rkin_grid_count(&im->g);
  double s = 0.0;
  for (i = 0; i < n; i++) s += im->v[i];
  lua_pushnumber(L, s);
  return 1;
}

static int l_integral(lua_State *L)
{
  l_sum(L);
  lua_pushnumber(L, lua_tonumber(L, -1) *
                        rkin_grid_voxel_ml(&lrk_check_image(L, 1, "img")->g));
  return 1;
}

static int l_clip(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:clip_negative");
  size_t n;
  rkin_err err;
  if (rkin_image_clip_negative(im, &n, &err) < 0)
    lrk_raise(L, "img:clip_negative", &err);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int l_scale(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:scale");
  double f = luaL_checknumber(L, 2);
  size_t i, n = rkin_grid_count(&im->g);
  if (!isfinite(f)) return lrk_error(L, "img:scale: factor must be finite");
  for (i = 0; i < n; i++) im->v[i] = (float)(im->v[i] * f);
  lua_settop(L, 1);
  return 1;
}

static int l_add(lua_State *L)
{
  rkin_image *a = lrk_check_image(L, 1, "img:add");
  rkin_image *b = lrk_check_image(L, 2, "img:add");
  double f = luaL_optnumber(L, 3, 1.0);
  size_t i, n = rkin_grid_count(&a->g);
  if (!rkin_grid_same(&a->g, &b->g))
    return lrk_error(L, "img:add: the images are on different grids "
                     "(resample first)");
  for (i = 0; i < n; i++) a->v[i] = (float)(a->v[i] + f * b->v[i]);
  lua_settop(L, 1);
  return 1;
}

static int l_mul(lua_State *L)
{
  rkin_image *a = lrk_check_image(L, 1, "img:mul");
  rkin_image *b = lrk_check_image(L, 2, "img:mul");
  size_t i, n = rkin_grid_count(&a->g);
  if (!rkin_grid_same(&a->g, &b->g))
    return lrk_error(L, "img:mul: the images are on different grids "
                     "(resample first)");
  for (i = 0; i < n; i++) a->v[i] = a->v[i] * b->v[i];
  lua_settop(L, 1);
  return 1;
}

static int l_resample(lua_State *L)
{
  const char *ctx = "img:resample";
  rkin_image *src = lrk_check_image(L, 1, ctx);
  rkin_image *tgt = lrk_check_image(L, 2, ctx);
  int conserve = 1;
  double xf[16], *xfp = NULL;
  rkin_resample_info info;
  rkin_image out;
  rkin_err err;
  if (lua_istable(L, 3)) {
    static const char *const keys[] = {"conserve", "transform", NULL};
    lrk_check_keys(L, 3, ctx, keys);
    conserve = lrk_field_boolean(L, 3, ctx, "conserve", 1);
    if (read_vec(L, 3, ctx, "transform", 16, xf, 0)) xfp = xf;
  }
  if (rkin_image_resample(src, &tgt->g, xfp, conserve, &out, &info, &err) < 0)
    lrk_raise(L, ctx, &err);
  lrk_push_image_take(L, &out);
  lua_createtable(L, 0, 4);
  lua_pushnumber(L, info.total_in);
  lua_setfield(L, -2, "total_in");
  lua_pushnumber(L, info.total_out);
  lua_setfield(L, -2, "total_out");
  lua_pushnumber(L, info.scale);
  lua_setfield(L, -2, "scale");
  lua_pushinteger(L, (lua_Integer)info.n_outside);
  lua_setfield(L, -2, "n_outside");
  return 2;
}

static int l_stats(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:stats");
  unsigned char *m = lrk_check_mask(L, 2, 3, "img:stats", &im->g);
  rkin_voi_stats s;
  rkin_err err;
  if (rkin_voi_stats_eval(im, m, &s, &err) < 0) lrk_raise(L, "img:stats", &err);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, (lua_Integer)s.n);
  lua_setfield(L, -2, "n");
#define SETN(name) lua_pushnumber(L, s.name); lua_setfield(L, -2, #name)
  SETN(volume_ml); SETN(sum); SETN(integral); SETN(mean); SETN(sd);
  SETN(min); SETN(max);
#undef SETN
  return 1;
}

/* labels:grow(label, steps) -> label map (1 inside), voxels */
static int l_grow(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:grow");
  unsigned char *m = lrk_check_mask(L, 1, 2, "img:grow", &im->g);
  long long steps = lrk_check_count(L, 3, "img:grow", "steps", -1000, 1000);
  size_t i, n = rkin_grid_count(&im->g), c;
  rkin_image *out;
  rkin_err err;
  if (rkin_mask_grow(&im->g, m, (int)steps, &c, &err) < 0)
    lrk_raise(L, "img:grow", &err);
  out = push_image(L);
  if (rkin_image_alloc(out, &im->g, &err) < 0) lrk_raise(L, "img:grow", &err);
  out->is_label = 1;
  for (i = 0; i < n; i++) out->v[i] = m[i] ? 1.0f : 0.0f;
  lua_pushinteger(L, (lua_Integer)c);
  return 2;
}

static int l_blur(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:blur");
  rkin_err err;
  if (rkin_image_blur(im, luaL_checknumber(L, 2), &err) < 0)
    lrk_raise(L, "img:blur", &err);
  lua_settop(L, 1);
  return 1;
}

static int l_poisson(lua_State *L)
{
  rkin_image *im = lrk_check_image(L, 1, "img:poisson");
  double k = luaL_checknumber(L, 2);
  long long seed = lrk_check_count(L, 3, "img:poisson", "seed", 0, LRK_MAX_SEED);
  rkin_err err;
  if (rkin_image_poisson(im, k, (unsigned long)seed, &err) < 0)
    lrk_raise(L, "img:poisson", &err);
  lua_settop(L, 1);
  return 1;
}

static int l_tostring(lua_State *L)
{
  rkin_image *im = luaL_checkudata(L, 1, IMG_MT);
  if (!im->v) {
    lua_pushstring(L, "rk.image (freed)");
    return 1;
  }
  lua_pushfstring(L, "rk.image %dx%dx%d, %f x %f x %f mm%s%s%s",
                  (int)im->g.n[0], (int)im->g.n[1], (int)im->g.n[2],
                  im->g.spacing[0], im->g.spacing[1], im->g.spacing[2],
                  im->is_label ? ", labels" : "", im->unit[0] ? ", " : "",
                  im->unit);
  return 1;
}


/* Sets field k to v, or leaves it out when v is NaN (not in the file). */
static void set_opt(lua_State *L, const char *k, double v)
{
  if (isnan(v)) return;
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static int l_dicom_nm_info(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  rkin_dicom_nm_info nm;
  rkin_err err;
  if (rkin_dicom_nm_info_read(path, &nm, &err) < 0)
    lrk_raise(L, "rk.image.dicom_nm_info", &err);
  lua_createtable(L, 0, 11);
  lua_pushstring(L, nm.units);
  lua_setfield(L, -2, "units");
  lua_pushstring(L, nm.unit);
  lua_setfield(L, -2, "unit");
  lua_pushstring(L, nm.decay_correction);
  lua_setfield(L, -2, "decay_correction");
  lua_pushstring(L, nm.acquisition_from);
  lua_setfield(L, -2, "acquisition_from");
  lua_pushboolean(L, nm.injection_date_assumed);
  lua_setfield(L, -2, "injection_date_assumed");
  set_opt(L, "acquisition_s", nm.acquisition_s);
  set_opt(L, "injection_s", nm.injection_s);
  set_opt(L, "hours_after_injection", nm.hours_after_injection);
  set_opt(L, "total_dose_bq", nm.total_dose_bq);
  set_opt(L, "half_life_s", nm.half_life_s);
  set_opt(L, "frame_duration_s", nm.frame_duration_s);
  return 1;
}

static int l_rtstruct_rois(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  rkin_rtstruct_roi *rois = lrk_scratch(L, RKIN_RTSTRUCT_MAX_ROI,
                                        sizeof *rois);
  size_t n, i;
  char uid[80];
  rkin_err err;
  if (rkin_rtstruct_list(path, rois, RKIN_RTSTRUCT_MAX_ROI, &n, uid, &err) <
      0)
    lrk_raise(L, "rk.image.rtstruct_rois", &err);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, rois[i].number);
    lua_setfield(L, -2, "number");
    lua_pushstring(L, rois[i].name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)rois[i].n_contours);
    lua_setfield(L, -2, "contours");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_pushstring(L, uid);
  return 2;
}

/* rk.image.read_seg(path [, segment [, threshold]]) -> label map,
 * frame_uid */
static int l_read_seg(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lua_Integer seg = luaL_optinteger(L, 2, 0);
  double thr = luaL_optnumber(L, 3, 0.5);
  rkin_image *im;
  char uid[80];
  rkin_err err;
  if (seg < 0 || seg > 65535)
    return lrk_error(L, "rk.image.read_seg: segment %d (expected 1..65535, "
                     "or 0 / nil: every segment)", (int)seg);
  im = push_image(L);
  if (rkin_dicom_read_seg_thr(path, (int)seg, thr, im, uid, &err) < 0)
    lrk_raise(L, "rk.image.read_seg", &err);
  lua_pushstring(L, uid);
  return 2;
}

/* rk.image.read_seg_fraction(path [, segment]) -> map, frame_uid, type */
static int l_read_seg_fraction(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lua_Integer seg = luaL_optinteger(L, 2, 0);
  rkin_image *im;
  char uid[80], ft[16];
  rkin_err err;
  if (seg < 0 || seg > 65535)
    return lrk_error(L, "rk.image.read_seg_fraction: segment %d (expected "
                     "1..65535, or 0 / nil when the SEG holds one)",
                     (int)seg);
  im = push_image(L);
  if (rkin_dicom_read_seg_fraction(path, (int)seg, im, uid, ft, &err) < 0)
    lrk_raise(L, "rk.image.read_seg_fraction", &err);
  lua_pushstring(L, uid);
  lua_pushstring(L, ft);
  return 3;
}

/* rk.image.seg_segments(path) -> {{number, label, frames}, ...}, uid */
static int l_seg_segments(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  rkin_seg_segment *sg = lrk_scratch(L, 256, sizeof *sg);
  size_t n, i;
  char uid[80];
  rkin_err err;
  if (rkin_dicom_seg_list(path, sg, 256, &n, uid, &err) < 0)
    lrk_raise(L, "rk.image.seg_segments", &err);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, sg[i].number);
    lua_setfield(L, -2, "number");
    lua_pushstring(L, sg[i].label);
    lua_setfield(L, -2, "label");
    lua_pushinteger(L, (lua_Integer)sg[i].n_frames);
    lua_setfield(L, -2, "frames");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_pushstring(L, uid);
  return 2;
}

static int l_read_rtstruct(lua_State *L)
{
  const char *ctx = "rk.image.read_rtstruct";
  const char *path = luaL_checkstring(L, 1);
  const char *roi = luaL_checkstring(L, 2);
  rkin_image *target = lrk_check_image(L, 3, "rk.image.read_rtstruct: "
                                       "argument 3 (the target grid)");
  size_t n = rkin_grid_count(&target->g), i, count = 0;
  unsigned char *m = lrk_scratch(L, n, 1);
  rkin_image *out;
  rkin_err err;
  if (rkin_rtstruct_mask(path, roi, &target->g, m, &count, &err) < 0)
    lrk_raise(L, ctx, &err);
  out = push_image(L);
  if (rkin_image_alloc(out, &target->g, &err) < 0) lrk_raise(L, ctx, &err);
  out->is_label = 1;
  for (i = 0; i < n; i++) out->v[i] = m[i] ? 1.0f : 0.0f;
  lua_pushinteger(L, (lua_Integer)count);
  return 2;
}

static const luaL_Reg img_methods[] = {
  {"write", l_write}, {"write_rtdose", l_write_rtdose},
  {"geometry", l_geometry}, {"get", l_get},
  {"set", l_set}, {"copy", l_copy}, {"sum", l_sum},
  {"integral", l_integral}, {"clip_negative", l_clip}, {"scale", l_scale},
  {"add", l_add}, {"mul", l_mul}, {"resample", l_resample},
  {"stats", l_stats}, {"blur", l_blur}, {"poisson", l_poisson},
  {"grow", l_grow},
  {NULL, NULL}
};

static void image_metatable(lua_State *L)
{
  if (luaL_newmetatable(L, IMG_MT)) {
    luaL_newlib(L, img_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, img_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
}

int luaopen_radiokin_image(lua_State *L)
{
  static const luaL_Reg fns[] = {{"read", l_read}, {"new", l_new},
                                 {"read_dicom", l_read_dicom},
                                 {"rtstruct_rois", l_rtstruct_rois},
                                 {"dicom_nm_info", l_dicom_nm_info},
                                 {"read_rtstruct", l_read_rtstruct},
                                 {"read_seg", l_read_seg},
                                 {"read_seg_fraction", l_read_seg_fraction},
                                 {"seg_segments", l_seg_segments},
                                 {NULL, NULL}};
  image_metatable(L);
  luaL_newlib(L, fns);
  return 1;
}

/* ------------------------------------------------------------ phantom */

static void read_tac(lua_State *L, int t, const char *ctx,
                     rkin_phantom_tac *c)
{
  static const char *const keys[] = {"c0", "lambda", "uptake", NULL};
  lrk_check_keys(L, t, ctx, keys);
  c->c0 = lrk_field_number(L, t, ctx, "c0", 0, c->c0);
  c->lambda_h = lrk_field_number(L, t, ctx, "lambda", 0, c->lambda_h);
  c->uptake_h = lrk_field_number(L, t, ctx, "uptake", 0, c->uptake_h);
}

static rkin_phantom *check_phantom(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, PH_MT);
}

static int ph_new(lua_State *L)
{
  static const char *const keys[] = {"n", "spacing_mm", "organs", "spheres",
                                     NULL};
  static const char *const organ_names[RKIN_PH_N_ORGANS] = {
      "body", "liver", "kidney_right", "kidney_left", "spleen", "spine"};
  const char *ctx = "rk.phantom.new";
  rkin_phantom *p;
  rkin_grid g;
  rkin_err err;
  long long n;
  double sp;
  int o;
  luaL_checktype(L, 1, LUA_TTABLE);
  lrk_check_keys(L, 1, ctx, keys);
  n = lrk_field_count(L, 1, ctx, "n", 0, 32, 8, 512);
  sp = lrk_field_number_in(L, 1, ctx, "spacing_mm", 0, 4.42, 0.1, 50, 0);
  p = lua_newuserdatauv(L, sizeof *p, 0);
  luaL_setmetatable(L, PH_MT);
  rkin_phantom_default(p, (size_t)n, sp);
  if (lua_getfield(L, 1, "organs") == LUA_TTABLE) {
    static const char *const okeys[] = {"body", "liver", "kidney_right",
                                        "kidney_left", "spleen", "spine",
                                        NULL};
    int t = lua_gettop(L);
    lrk_check_keys(L, t, "rk.phantom.new: organs", okeys);
    for (o = 0; o < RKIN_PH_N_ORGANS; o++) {
      if (lua_getfield(L, t, organ_names[o]) == LUA_TTABLE)
        read_tac(L, lua_gettop(L), ctx, &p->organ[o]);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "spheres") == LUA_TTABLE) {
    int t = lua_gettop(L);
    lua_Integer k, ns = luaL_len(L, t);
    if (ns > RKIN_PH_MAX_SPHERES)
      return lrk_error(L, "%s: %d spheres (at most %d)", ctx, (int)ns,
                       RKIN_PH_MAX_SPHERES);
    p->n_spheres = (size_t)ns;
    for (k = 1; k <= ns; k++) {
      static const char *const skeys[] = {"centre", "radius_mm", "c0",
                                          "lambda", "uptake", NULL};
      int s = (int)k - 1, st;
      lua_geti(L, t, k);
      st = lua_gettop(L);
      if (!lua_istable(L, st))
        return lrk_error(L, "%s: spheres[%d] must be a table", ctx, (int)k);
      lrk_check_keys(L, st, ctx, skeys);
      read_vec(L, st, ctx, "centre", 3, p->sphere[s].centre_mm, 1);
      p->sphere[s].radius_mm = lrk_field_number(L, st, ctx, "radius_mm", 1, 0);
      p->sphere[s].tac.c0 = lrk_field_number(L, st, ctx, "c0", 0, 2e5);
      p->sphere[s].tac.lambda_h = lrk_field_number(L, st, ctx, "lambda", 0, 0.01);
      p->sphere[s].tac.uptake_h = lrk_field_number(L, st, ctx, "uptake", 0, 0.2);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (rkin_phantom_grid(p, &g, &err) < 0) lrk_raise(L, ctx, &err);
  return 1;
}

static int ph_image(lua_State *L, int what)
{
  rkin_phantom *p = check_phantom(L, 1);
  rkin_image im;
  rkin_err err;
  int rc;
  double t = what == 2 ? luaL_checknumber(L, 2) : 0.0;
  if (what == 0) rc = rkin_phantom_labels(p, &im, &err);
  else if (what == 1) rc = rkin_phantom_ct(p, &im, &err);
  else if (what == 2) rc = rkin_phantom_activity(p, t, &im, &err);
  else rc = rkin_phantom_tia(p, &im, &err);
  if (rc < 0) lrk_raise(L, "rk.phantom", &err);
  lrk_push_image_take(L, &im);
  return 1;
}

static int ph_labels(lua_State *L) { return ph_image(L, 0); }
static int ph_ct(lua_State *L) { return ph_image(L, 1); }
static int ph_activity(lua_State *L) { return ph_image(L, 2); }
static int ph_tia(lua_State *L) { return ph_image(L, 3); }

static int ph_tac(lua_State *L)
{
  rkin_phantom *p = check_phantom(L, 1);
  lua_Integer lab = luaL_checkinteger(L, 2);
  const rkin_phantom_tac *c = rkin_phantom_tac_of(p, (int)lab);
  if (!c) return lrk_error(L, "ph:tac: no region has label %d", (int)lab);
  lua_createtable(L, 0, 4);
  lua_pushnumber(L, c->c0);
  lua_setfield(L, -2, "c0");
  lua_pushnumber(L, c->lambda_h);
  lua_setfield(L, -2, "lambda");
  lua_pushnumber(L, c->uptake_h);
  lua_setfield(L, -2, "uptake");
  lua_pushnumber(L, rkin_phantom_tac_integral(c));
  lua_setfield(L, -2, "tia");
  return 1;
}

int luaopen_radiokin_phantom(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"labels", ph_labels}, {"ct", ph_ct}, {"activity", ph_activity},
    {"tia", ph_tia}, {"tac", ph_tac}, {NULL, NULL}};
  static const luaL_Reg fns[] = {{"new", ph_new}, {NULL, NULL}};
  image_metatable(L);
  if (luaL_newmetatable(L, PH_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  lua_pushinteger(L, RKIN_PH_BODY);
  lua_setfield(L, -2, "BODY");
  lua_pushinteger(L, RKIN_PH_LIVER);
  lua_setfield(L, -2, "LIVER");
  lua_pushinteger(L, RKIN_PH_KIDNEY_R);
  lua_setfield(L, -2, "KIDNEY_RIGHT");
  lua_pushinteger(L, RKIN_PH_KIDNEY_L);
  lua_setfield(L, -2, "KIDNEY_LEFT");
  lua_pushinteger(L, RKIN_PH_SPLEEN);
  lua_setfield(L, -2, "SPLEEN");
  lua_pushinteger(L, RKIN_PH_SPINE);
  lua_setfield(L, -2, "SPINE");
  lua_pushinteger(L, RKIN_PH_SPHERE0);
  lua_setfield(L, -2, "SPHERE1");
  return 1;
}
