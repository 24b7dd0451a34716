/* l_popresult.c - the result of pm:fit for "radiokin.popest": the Lua
 * table (estimates, SE, EBEs, predictions and residuals, shrinkage), its
 * three CSV texts (parameters.csv, ebe.csv, table.csv) with
 * r:write_csv(dir), and the NONMEM-like r:summary(). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "l_popest_impl.h"
#include "lrk.h"
#include "core/model.h"
#include "pop/data.h"

static void set_num(lua_State *L, const char *key, double v)
{
  if (!isfinite(v)) return;   /* undefined: absent, never NaN */
  lua_pushnumber(L, v);
  lua_setfield(L, -2, key);
}

void lrk_push_matrix(lua_State *L, const double *m, size_t n)
{
  size_t i;
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lrk_push_numbers(L, m + i * n, n);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void add_num(luaL_Buffer *b, double v)
{
  char s[64];
  if (isfinite(v)) snprintf(s, sizeof s, "%.10g", v);
  else snprintf(s, sizeof s, "NA");
  luaL_addstring(b, s);
}

static void addf(luaL_Buffer *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void addf(luaL_Buffer *b, const char *fmt, ...)
{
  char s[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s, sizeof s, fmt, ap);
  va_end(ap);
  luaL_addstring(b, s);
}

#define Z95 1.959963984540054

/* Variances (diagonal omega) and residual SDs are positive: their 95 %
 * interval is the Wald interval of log(estimate), SE(log) = SE / est by
 * the delta method, so it cannot go negative; theta and covariances get
 * estimate -+ 1.96 SE. Returns 1 when the log scale was used. */
static int ci95(const report *r, size_t k, double *lo, double *hi)
{
  double est = r->est[k], se = r->se ? r->se[k] : NAN;
  int positive = strcmp(r->kinds[k], "sigma") == 0 ||
                 (strcmp(r->kinds[k], "omega") == 0 &&
                  !strchr(r->names[k], ','));
  if (positive && est > 0 && isfinite(se)) {
    double f = exp(Z95 * se / est);
    *lo = est / f;
    *hi = est * f;
    return 1;
  }
  *lo = est - Z95 * se;
  *hi = est + Z95 * se;
  return 0;
}

static void csv_params(lua_State *L, const report *r)
{
  luaL_Buffer b;
  size_t k;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "parameter,kind,estimate,se,rse_pct,ci95_lower,"
                 "ci95_upper\n");
  for (k = 0; k < r->n_est; k++) {
    double se = r->se ? r->se[k] : NAN, est = r->est[k], lo, hi;
    ci95(r, k, &lo, &hi);
    /* a full omega's names hold a comma, OMEGA(a,b): quoted */
    addf(&b, strpbrk(r->names[k], ",\"") ? "\"%s\",%s," : "%s,%s,",
         r->names[k], r->kinds[k]);
    add_num(&b, est);
    luaL_addchar(&b, ',');
    add_num(&b, se);
    luaL_addchar(&b, ',');
    add_num(&b, est != 0 ? 100 * se / fabs(est) : NAN);
    luaL_addchar(&b, ',');
    add_num(&b, lo);
    luaL_addchar(&b, ',');
    add_num(&b, hi);
    luaL_addchar(&b, '\n');
  }
  luaL_addstring(&b, "OFV,objective,");
  add_num(&b, r->f->ofv);
  luaL_addstring(&b, ",NA,NA,NA,NA\n-2LL,objective,");
  add_num(&b, r->f->m2ll);
  luaL_addstring(&b, ",NA,NA,NA,NA\nAIC,objective,");
  add_num(&b, r->aic);
  luaL_addstring(&b, ",NA,NA,NA,NA\nBIC,objective,");
  add_num(&b, r->bic);
  luaL_addstring(&b, ",NA,NA,NA,NA\n");
  luaL_pushresult(&b);
}

static void csv_ebe(lua_State *L, const report *r)
{
  const rkin_popfit *f = r->f;
  luaL_Buffer b;
  size_t s, k;
  size_t o, no = f->n_occ ? f->n_occ : 1;
  luaL_buffinit(L, &b);
  /* IOV: a row per occasion (OCC), its etas; the parameters are the
   * subject's at its first record */
  luaL_addstring(&b, f->n_occ ? "ID,OCC" : "ID");
  for (k = 0; k < f->n_eta; k++) addf(&b, ",ETA_%s", r->p->eta_names[k]);
  for (k = 0; k < f->n_psi; k++)
    addf(&b, ",%s", rkin_model_param_name(r->m, k));
  luaL_addstring(&b, ",OFV_i\n");
  for (s = 0; s < f->n_subj; s++)
   for (o = 0; o < no; o++) {
    const double *e = f->n_occ ? f->occ_eta + (s * no + o) * f->n_eta
                               : f->eta + s * f->n_eta;
    if (f->n_occ && isnan(f->occ_value[s * no + o])) continue;
    add_num(&b, rkin_data_subject_at(r->d, s)->id);
    if (f->n_occ) {
      luaL_addchar(&b, ',');
      add_num(&b, f->occ_value[s * no + o]);
    }
    for (k = 0; k < f->n_eta; k++) {
      luaL_addchar(&b, ',');
      add_num(&b, e[k]);
    }
    for (k = 0; k < f->n_psi; k++) {
      luaL_addchar(&b, ',');
      add_num(&b, f->psi[s * f->n_psi + k]);
    }
    luaL_addchar(&b, ',');
    add_num(&b, f->ofv_i[s]);
    luaL_addchar(&b, '\n');
  }
  luaL_pushresult(&b);
}

static void csv_table(lua_State *L, const report *r)
{
  const rkin_popfit *f = r->f;
  luaL_Buffer b;
  size_t k;
  luaL_buffinit(L, &b);
  /* ENDPOINT (several): the record's place in observe = {...}; CENS
   * (a dataset with CENS / LLOQ): 1 below, -1 above the limit, and such
   * a record has no RES, IWRES, CWRES (NA) */
  luaL_addstring(&b, "ID,TIME,DV,PRED,IPRED,RES,IWRES,CWRES");
  if (f->n_endpoints > 1) luaL_addstring(&b, ",ENDPOINT");
  if (f->cens) luaL_addstring(&b, ",CENS");
  if (f->occ) luaL_addstring(&b, ",OCC");
  luaL_addchar(&b, '\n');
  for (k = 0; k < f->n_obs; k++) {
    const double v[8] = {f->id[k], f->time[k], f->dv[k], f->pred[k],
                         f->ipred[k], f->res[k], f->iwres[k], f->cwres[k]};
    int c;
    for (c = 0; c < 8; c++) {
      if (c) luaL_addchar(&b, ',');
      add_num(&b, v[c]);
    }
    if (f->n_endpoints > 1) addf(&b, ",%d", f->endpoint[k]);
    if (f->cens) addf(&b, ",%d", f->cens[k]);
    if (f->occ) {
      luaL_addchar(&b, ',');
      add_num(&b, f->occ[k]);
    }
    luaL_addchar(&b, '\n');
  }
  luaL_pushresult(&b);
}

const char *lrk_pop_method_name(rkin_pop_method m)
{
  switch (m) {
  case RKIN_POP_FO: return "FO";
  case RKIN_POP_FOCE: return "FOCE";
  case RKIN_POP_LAPLACE: return "Laplace";
  case RKIN_POP_LAPLACEI: return "Laplace-I";
  case RKIN_POP_SAEM: return "SAEM";
  default: return "FOCE-I";
  }
}

/* A NONMEM-like summary of the fit. */
static void summary_text(lua_State *L, const report *r,
                         rkin_pop_method method)
{
  const rkin_popfit *f = r->f;
  const lpop *p = r->p;
  size_t q = p->n_eta, k, a, b;
  luaL_Buffer bf;
  luaL_buffinit(L, &bf);
  addf(&bf, "radiokin population fit: %s, method %s\n", p->name,
       lrk_pop_method_name(method));
  addf(&bf, "model %s, observed %s; data %s: %zu subjects, %zu "
       "observations\n", rkin_model_name(r->m), p->observe, r->data_path,
       f->n_subj, f->n_obs);
  if (f->status == 0 && f->stop && strncmp(f->stop, "evaluation", 10) == 0)
    addf(&bf, "EVALUATION at the given parameters, no estimation (as "
         "NONMEM's MAXEVAL=0): the values below are inputs\n");
  else if (f->status == 0 && method == RKIN_POP_SAEM)
    addf(&bf, "SAEM finished: %d iterations (OFV by importance sampling; "
         "see r.saem)\n", f->n_eval);
  else if (f->status == 0)
    addf(&bf, "minimisation successful (NLopt: %s) after %d evaluations\n",
         f->stop ? f->stop : "?", f->n_eval);
  else
    addf(&bf, "FIT FAILED (MINIMISATION TERMINATED): %s\nThe values below "
         "are where the search stopped, NOT estimates; no output files are "
         "written.\n", f->err.msg);
  addf(&bf, "\nOFV %.4f   -2LL %.4f   AIC %.4f   BIC %.4f   (%zu "
       "parameters)\n", f->ofv, f->m2ll, r->aic, r->bic, r->n_free);
  if (f->n_boundary)
    addf(&bf, "BOUNDARY: %s\n", f->boundary.msg);
  if (f->cov_status != 0)
    addf(&bf, "covariance step: %s\n", f->cov_err.msg);
  if (f->n_multimodal) {
    size_t s;
    addf(&bf, "EBE warning: %zu subject(s) whose EBE searches from several "
         "starts ended in different local modes (the lowest is kept):",
         f->n_multimodal);
    for (s = 0; s < f->n_subj; s++)
      if (f->ebe_modes[s] > 1)
        addf(&bf, " ID %g (%d modes, OFV_i gap %.4g)",
             rkin_data_subject_at(r->d, s)->id, f->ebe_modes[s],
             f->ebe_dofv[s]);
    luaL_addchar(&bf, '\n');
  }
  addf(&bf, "\n%-22s %12s %11s %8s   %-25s\n", "parameter",
       f->status == 0 ? "estimate" : "stopped at", "SE", "RSE %",
       "95 % CI (*: log scale)");
  for (k = 0; k < r->n_est; k++) {
    double est = r->est[k], se = r->se ? r->se[k] : NAN, lo, hi;
    int logs = ci95(r, k, &lo, &hi);
    addf(&bf, "%-22s %12.5g", r->names[k], est);
    if (r->fixed && r->fixed[k])
      addf(&bf, " %11s", "FIXED");
    else if (isfinite(se))
      addf(&bf, " %11.4g %8.1f   [%.5g, %.5g]%s", se,
           est != 0 ? 100 * se / fabs(est) : NAN, lo, hi, logs ? "*" : "");
    luaL_addchar(&bf, '\n');
  }
  luaL_addstring(&bf, "\nomega as SD (sqrt of the variance) and "
                 "correlations:\n");
  for (a = 0; a < q; a++) {
    addf(&bf, "  %-12s SD %.5g", p->eta_names[a],
         sqrt(f->omega[a * q + a]));
    for (b = 0; b < a; b++)
      if (a != b && lrk_popfix_omega_in(p, a, b))
        addf(&bf, "  r(%s) %.3f", p->eta_names[b], f->omega[a * q + b]
             / sqrt(f->omega[a * q + a] * f->omega[b * q + b]));
    addf(&bf, "   shrinkage %.1f %%\n", 100 * f->eta_shrink[a]);
  }
  addf(&bf, "  epsilon shrinkage %.1f %%\n", 100 * f->eps_shrink);
  if (f->cov_status == 0) {
    addf(&bf, "\ncorrelation of the estimates (condition number %.4g):\n",
         f->cond);
    for (a = 0; a < r->n_free; a++) {
      addf(&bf, "  %-22s", r->names[r->free_idx[a]]);
      for (b = 0; b <= a; b++)
        addf(&bf, " %6.3f", f->corr[a * r->n_free + b]);
      luaL_addchar(&bf, '\n');
    }
  }
  luaL_pushresult(&bf);
}

/* r:write_csv(dir): parameters.csv, ebe.csv and table.csv in dir (made if
 * missing), all or none: the three temporaries are written first, then
 * renamed; when a rename fails the files already renamed are removed.
 * Upvalue 1: {file = text}; upvalue 2: the failure message of a fit that
 * did not converge (nil when it did): then nothing is written and it
 * raises. Returns the paths written. */
static int result_write_csv(lua_State *L)
{
  static const char *const files[] = {"parameters.csv", "ebe.csv",
                                      "table.csv"};
  const char *dir, *path[3];
  char *tmp[3] = {NULL, NULL, NULL};
  int k, j, rc = RKIN_OK;
  rkin_err err;
  if (lua_type(L, 1) != LUA_TTABLE || lua_type(L, 2) != LUA_TSTRING)
    return lrk_error(L, "r:write_csv: expected a folder name (got %s); "
                     "call it as r:write_csv(dir)", lrk_got(L, 2));
  if (!lua_isnil(L, lua_upvalueindex(2)))
    return lrk_error(L, "r:write_csv: the fit failed (%s): there are no "
                     "estimates to write; nothing written",
                     lua_tostring(L, lua_upvalueindex(2)));
  dir = lua_tostring(L, 2);
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return lrk_error(L, "r:write_csv: cannot create folder '%s': %s", dir,
                     strerror(errno));
  lua_settop(L, 2);
  lua_createtable(L, 3, 0);                  /* 3: the paths */
  for (k = 0; k < 3; k++) {
    path[k] = lua_pushfstring(L, "%s/%s", dir, files[k]);
    lua_rawseti(L, 3, k + 1);
  }
  rkin_err_clear(&err);
  for (k = 0; k < 3 && rc == RKIN_OK; k++) {
    size_t len;
    const char *text;
    lua_getfield(L, lua_upvalueindex(1), files[k]);
    text = lua_tolstring(L, -1, &len);
    rc = lrk_atomic_begin(path[k], text, len, &tmp[k], &err);
    lua_pop(L, 1);
  }
  if (rc != RKIN_OK) {
    for (j = 0; j < 3; j++) lrk_atomic_abort(tmp[j]);
    return lrk_raise(L, "r:write_csv", &err);
  }
  /* every target checked before the first rename: a refusal (a link,
   * a folder, ...) then replaces nothing */
  for (k = 0; k < 3; k++)
    if (tmp[k] && lrk_check_replaceable(path[k], &err) != RKIN_OK) {
      for (j = 0; j < 3; j++) lrk_atomic_abort(tmp[j]);
      return lrk_error(L, "r:write_csv: %s (none of %s, %s, %s written)",
                       err.msg, files[0], files[1], files[2]);
    }
  for (k = 0; k < 3; k++) {
    if (!tmp[k]) continue;                   /* "-" is not a folder */
    rc = lrk_atomic_commit(path[k], tmp[k], &err);
    tmp[k] = NULL;
    if (rc != RKIN_OK) {
      /* a rename failing after others succeeded: the earlier files were
       * replaced (their old versions are gone) and are left as written;
       * say exactly which */
      for (j = k + 1; j < 3; j++) lrk_atomic_abort(tmp[j]);
      return lrk_error(L, "r:write_csv: %s (%s%s%s written; %s not)",
                       err.msg, k > 0 ? files[0] : "none",
                       k > 1 ? ", " : "", k > 1 ? files[1] : "", files[k]);
    }
  }
  return 1;
}

static int result_summary(lua_State *L)
{
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

/* The result table. */
void lrk_popresult_push(lua_State *L, const report *r,
                        rkin_pop_method method)
{
  const rkin_popfit *f = r->f;
  const lpop *p = r->p;
  size_t k, s, q = p->n_eta;
  int rt;
  lua_createtable(L, 0, 32);
  rt = lua_gettop(L);
  lua_pushstring(L, lrk_pop_method_name(method));
  lua_setfield(L, rt, "method");
  lua_pushboolean(L, f->status == 0);
  lua_setfield(L, rt, "converged");
  if (f->status) {
    lua_pushstring(L, f->err.msg);
    lua_setfield(L, rt, "message");
  }
  if (f->stop) {
    lua_pushstring(L, f->stop);
    lua_setfield(L, rt, "stop");
  }
  lua_pushinteger(L, f->n_eval);
  lua_setfield(L, rt, "n_eval");
  lua_pushinteger(L, (lua_Integer)f->n_pred);
  lua_setfield(L, rt, "n_pred");
  lua_pushinteger(L, (lua_Integer)f->n_pred_sens);
  lua_setfield(L, rt, "n_pred_sens");
  {
    /* the EBE searches' routes and the covariance step's share */
    const struct { const char *k; unsigned long v; } c[] = {
      {"n_ebe_newton", f->n_ebe_newton},
      {"n_ebe_fallback", f->n_ebe_fallback},
      {"n_ebe_bobyqa", f->n_ebe_bobyqa},
      {"n_ebe_floor", f->n_ebe_floor},
      {"cov_n_points", (unsigned long)f->cov_n_points},
      {"cov_n_pred", f->cov_n_pred},
      {"cov_n_pred_sens", f->cov_n_pred_sens},
      {"cov_n_ebe_newton", f->cov_n_ebe_newton},
      {"cov_n_ebe_fallback", f->cov_n_ebe_fallback},
      {"cov_n_ebe_bobyqa", f->cov_n_ebe_bobyqa}};
    size_t i;
    for (i = 0; i < sizeof c / sizeof *c; i++) {
      lua_pushinteger(L, (lua_Integer)c[i].v);
      lua_setfield(L, rt, c[i].k);
    }
  }
  set_num(L, "cov_cpu_s", f->cov_cpu_s);
  set_num(L, "ofv", f->ofv);
  set_num(L, "m2ll", f->m2ll);
  set_num(L, "aic", r->aic);
  set_num(L, "bic", r->bic);
  lua_pushinteger(L, (lua_Integer)f->n_obs);
  lua_setfield(L, rt, "n_obs");
  lua_pushinteger(L, (lua_Integer)f->n_subj);
  lua_setfield(L, rt, "n_subjects");
  lua_pushinteger(L, (lua_Integer)r->n_free);
  lua_setfield(L, rt, "n_params");

  lua_createtable(L, 0, (int)p->n_theta);
  for (k = 0; k < p->n_theta; k++) set_num(L, p->theta_names[k],
                                           f->theta[k]);
  lua_setfield(L, rt, "theta");
  lrk_push_matrix(L, f->omega, q);
  lua_setfield(L, rt, "omega");
  lua_createtable(L, (int)q, 0);
  for (k = 0; k < q; k++) {
    lua_pushstring(L, p->eta_names[k]);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_setfield(L, rt, "eta_names");
  lua_createtable(L, 0, (int)q);
  for (k = 0; k < q; k++) set_num(L, p->eta_names[k],
                                  sqrt(f->omega[k * q + k]));
  lua_setfield(L, rt, "omega_sd");
  /* sigma: {additive =, proportional =, power =}; with several endpoints
   * one such table per observed name */
  {
    size_t e, off = 0;
    if (p->n_ep > 1) lua_createtable(L, 0, (int)p->n_ep);
    for (e = 0; e < p->n_ep; e++) {
      size_t b, n = rkin_res_nparams(p->ep_res[e]);
      lua_createtable(L, 0, 3);
      for (b = 0; b < n && off + b < f->n_sigma; b++) {
        const char *pn = rkin_res_param_name(p->ep_res[e], b);
        set_num(L, strcmp(pn, "ADD") == 0 ? "additive"
                   : strcmp(pn, "PROP") == 0 ? "proportional" : "power",
                f->sigma[off + b]);
      }
      off += n;
      if (p->n_ep > 1) lua_setfield(L, -2, p->ep_name[e]);
    }
    lua_setfield(L, rt, "sigma");
  }

  /* parameter table */
  lua_createtable(L, (int)r->n_est, 0);
  for (k = 0; k < r->n_est; k++) {
    double est = r->est[k], se = r->se ? r->se[k] : NAN, lo, hi;
    int logs = ci95(r, k, &lo, &hi);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, r->names[k]);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, r->kinds[k]);
    lua_setfield(L, -2, "kind");
    set_num(L, "estimate", est);
    set_num(L, "se", se);
    set_num(L, "rse", est != 0 ? 100 * se / fabs(est) : NAN);
    set_num(L, "lower95", lo);
    set_num(L, "upper95", hi);
    lua_pushstring(L, logs ? "log" : "linear");
    lua_setfield(L, -2, "ci_scale");
    if (r->fixed && r->fixed[k]) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "fixed");
    }
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_setfield(L, rt, "params");

  if (f->n_boundary) {
    lua_pushstring(L, f->boundary.msg);
    lua_setfield(L, rt, "boundary");
  }
  lua_pushboolean(L, f->cov_status == 0);
  lua_setfield(L, rt, "covariance_ok");
  if (f->cov_status) {
    lua_pushstring(L, f->cov_err.msg);
    lua_setfield(L, rt, "covariance_message");
  } else {
    lrk_push_matrix(L, f->corr, r->n_free);
    lua_setfield(L, rt, "correlation");
    lrk_push_matrix(L, f->cov, r->n_free);
    lua_setfield(L, rt, "covariance");
    if (f->cov_ok & 1) {
      lrk_push_matrix(L, f->cov_sandwich, r->n_free);
      lua_setfield(L, rt, "covariance_sandwich");
    }
    if (f->cov_ok & 2) {
      lrk_push_matrix(L, f->cov_r, r->n_free);
      lua_setfield(L, rt, "covariance_r");
    }
    if (f->cov_ok & 4) {
      lrk_push_matrix(L, f->cov_s, r->n_free);
      lua_setfield(L, rt, "covariance_s");
    }
    set_num(L, "condition_r", f->cond_r);
    lua_createtable(L, (int)r->n_free, 0);   /* their rows' names */
    for (k = 0; k < r->n_free; k++) {
      lua_pushstring(L, r->names[r->free_idx[k]]);
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, rt, "covariance_names");
    set_num(L, "condition", f->cond);
  }

  /* per subject */
  lua_createtable(L, (int)f->n_subj, 0);
  for (s = 0; s < f->n_subj; s++) {
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, rkin_data_subject_at(r->d, s)->id);
    lua_setfield(L, -2, "id");
    lua_createtable(L, 0, (int)q);
    for (k = 0; k < q; k++) set_num(L, p->eta_names[k], f->eta[s * q + k]);
    lua_setfield(L, -2, "eta");
    lua_createtable(L, 0, (int)f->n_psi);
    for (k = 0; k < f->n_psi; k++)
      set_num(L, rkin_model_param_name(r->m, k), f->psi[s * f->n_psi + k]);
    lua_setfield(L, -2, "params");
    set_num(L, "ofv", f->ofv_i[s]);
    if (f->ebe_modes) {
      lua_pushinteger(L, f->ebe_modes[s]);
      lua_setfield(L, -2, "modes");
      set_num(L, "ofv_gap", f->ebe_dofv[s]);
    }
    if (f->n_occ) {       /* IOV: {occ =, eta = {...}} per occasion */
      size_t o, no = 0;
      lua_createtable(L, (int)f->n_occ, 0);
      for (o = 0; o < f->n_occ; o++) {
        const double *e = f->occ_eta + (s * f->n_occ + o) * q;
        if (isnan(f->occ_value[s * f->n_occ + o])) continue;
        lua_createtable(L, 0, 2);
        set_num(L, "occ", f->occ_value[s * f->n_occ + o]);
        lua_createtable(L, 0, (int)q);
        for (k = 0; k < q; k++) set_num(L, p->eta_names[k], e[k]);
        lua_setfield(L, -2, "eta");
        lua_rawseti(L, -2, (lua_Integer)++no);
      }
      lua_setfield(L, -2, "occasions");
    }
    lua_rawseti(L, -2, (lua_Integer)s + 1);
  }
  lua_setfield(L, rt, "ebe");
  /* subjects whose EBE starts ended in different modes */
  lua_createtable(L, (int)f->n_multimodal, 0);
  for (s = 0, k = 0; f->ebe_modes && s < f->n_subj; s++)
    if (f->ebe_modes[s] > 1) {
      lua_pushnumber(L, rkin_data_subject_at(r->d, s)->id);
      lua_rawseti(L, -2, (lua_Integer)++k);
    }
  lua_setfield(L, rt, "multimodal");
  lua_pushinteger(L, (lua_Integer)f->cov_multimodal);
  lua_setfield(L, rt, "cov_multimodal");

  /* per observation */
  {
    static const char *const cols[8] = {"ID", "TIME", "DV", "PRED",
                                        "IPRED", "RES", "IWRES", "CWRES"};
    const double *v[8] = {f->id, f->time, f->dv, f->pred, f->ipred,
                          f->res, f->iwres, f->cwres};
    int c;
    lua_createtable(L, 0, 8);
    for (c = 0; c < 8; c++) {
      lrk_push_numbers(L, v[c], f->n_obs);
      lua_setfield(L, -2, cols[c]);
    }
    if (f->n_endpoints > 1 || f->cens) {
      int w;
      for (w = 0; w < 2; w++) {
        const int *iv = w ? f->cens : f->endpoint;
        if (!iv || (!w && f->n_endpoints < 2)) continue;
        lua_createtable(L, (int)f->n_obs, 0);
        for (k = 0; k < f->n_obs; k++) {
          lua_pushinteger(L, iv[k]);
          lua_rawseti(L, -2, (lua_Integer)k + 1);
        }
        lua_setfield(L, -2, w ? "CENS" : "ENDPOINT");
      }
    }
    if (f->occ) {
      lrk_push_numbers(L, f->occ, f->n_obs);
      lua_setfield(L, -2, "OCC");
    }
    lua_setfield(L, rt, "table");
  }
  lua_createtable(L, 0, 2);
  lua_createtable(L, 0, (int)q);
  for (k = 0; k < q; k++) set_num(L, p->eta_names[k], f->eta_shrink[k]);
  lua_setfield(L, -2, "eta");
  set_num(L, "eps", f->eps_shrink);
  lua_setfield(L, rt, "shrinkage");

  /* methods: closures over the texts */
  lua_createtable(L, 0, 3);
  csv_params(L, r);
  lua_setfield(L, -2, "parameters.csv");
  csv_ebe(L, r);
  lua_setfield(L, -2, "ebe.csv");
  csv_table(L, r);
  lua_setfield(L, -2, "table.csv");
  if (f->status) lua_pushstring(L, f->err.msg);
  else lua_pushnil(L);
  lua_pushcclosure(L, result_write_csv, 2);
  lua_setfield(L, rt, "write_csv");
  summary_text(L, r, method);
  lua_pushcclosure(L, result_summary, 1);
  lua_setfield(L, rt, "summary");
}
