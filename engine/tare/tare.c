/* tare.c - TARE dose models and plans: single compartment, partition model
 * with several lesions, several perfused territories, decay and residual.
 *
 * Microspheres stay where they lodge, so the time-integrated activity is
 * A / lambda and the dose per activity is the constant CF (tare_product.c).
 * In a territory with normal mass M_N and lesions (M_i, r_i) the liver share
 * A (1 - L) spreads in proportion to uptake mass, so the normal-liver dose
 * is D_N = CF A (1 - L) / (M_N + sum r_i M_i) and lesion i gets r_i D_N
 * (one lesion gives the partition formula of the review in Tijdschr Nucl
 * Geneesk 2023;45(2), docs/sources.md "TARE"). */
#include "tare/tare.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define GBQ_PER_MBQ 1e-3

static int check_cf(double cf, rkin_err *err)
{
  if (!isfinite(cf) || cf <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare: cf = %g must be a finite dose conversion "
                        "factor > 0 Gy kg/GBq", cf);
  return RKIN_OK;
}

/* `who` prefixes the message ("territory 'seg4': "). */
static int check_lsf(const char *who, double lsf, rkin_err *err)
{
  if (!isfinite(lsf) || lsf < 0.0)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare: %slsf = %g must be in [0, 1) (lung shunt "
                        "fraction, not percent)", who, lsf);
  if (lsf >= 1.0)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare: %slsf = %g must be < 1: a lung shunt fraction "
                        "of 1 or more means no activity reaches the liver "
                        "(a percentage? 5 %% is 0.05)",
                        who, lsf);
  return RKIN_OK;
}

static int check_mass(const char *who, const char *field, double m,
                      rkin_err *err)
{
  if (!isfinite(m) || m <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "tare: %s%s = %g must be > 0 kg",
                        who, field, m);
  return RKIN_OK;
}

int rkin_tare_single_dose(double cf, double activity_mbq, double lsf,
                          double mass_kg, double *dose_gy, rkin_err *err)
{
  int rc;
  if ((rc = check_cf(cf, err)) || (rc = check_lsf("", lsf, err)) ||
      (rc = check_mass("", "mass_kg", mass_kg, err)))
    return rc;
  if (!isfinite(activity_mbq) || activity_mbq < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare: activity_mbq = %g must be >= 0 MBq",
                        activity_mbq);
  *dose_gy = cf * activity_mbq * GBQ_PER_MBQ * (1.0 - lsf) / mass_kg;
  return RKIN_OK;
}

int rkin_tare_single_activity(double cf, double dose_gy, double lsf,
                              double mass_kg, double *activity_mbq,
                              rkin_err *err)
{
  int rc;
  if ((rc = check_cf(cf, err)) || (rc = check_lsf("", lsf, err)) ||
      (rc = check_mass("", "mass_kg", mass_kg, err)))
    return rc;
  if (!isfinite(dose_gy) || dose_gy <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare: dose_gy = %g must be > 0 Gy", dose_gy);
  *activity_mbq = dose_gy * mass_kg / (cf * (1.0 - lsf)) / GBQ_PER_MBQ;
  return RKIN_OK;
}

int rkin_tare_volume_to_mass(const char *field, double volume_l,
                             double density_kg_l, double *mass_kg,
                             rkin_err *err)
{
  if (!field) field = "volume_L";
  if (!isfinite(volume_l) || volume_l <= 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "tare: %s = %g must be > 0 L",
                        field, volume_l);
  /* Soft tissue is 0.9-1.1 kg/L; outside 0.5-2 it is a unit slip. */
  if (!isfinite(density_kg_l) || density_kg_l < 0.5 || density_kg_l > 2.0)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare: density = %g kg/L for %s outside 0.5-2 kg/L",
                        density_kg_l, field);
  *mass_kg = volume_l * density_kg_l;
  return RKIN_OK;
}

int rkin_tare_size_check(const char *field, const char *unit, double v,
                         int territory, rkin_err *err)
{
  const double max_organ = 6.0, min_terr_ml = 5.0;
  if (!field) field = "size";
  if (!unit) unit = "?";
  if (!strcmp(unit, "kg") && v > max_organ)
    return rkin_err_set(err, RKIN_ERANGE,
                        "%s = %g is implausible for a liver region in kg "
                        "(grams? %g g = %g kg)", field, v, v, v / 1000.0);
  if (!strcmp(unit, "L") && v > max_organ)
    return rkin_err_set(err, RKIN_ERANGE,
                        "%s = %g is implausible for a liver region in "
                        "litres (millilitres? %g mL = %g L)", field, v, v,
                        v / 1000.0);
  if (!strcmp(unit, "mL") && v > 1000.0 * max_organ)
    return rkin_err_set(err, RKIN_ERANGE,
                        "%s = %g is implausible for a liver region in "
                        "millilitres (over %g L)", field, v, max_organ);
  if (!strcmp(unit, "mL") && territory && v > 0.0 && v < min_terr_ml)
    return rkin_err_set(err, RKIN_ERANGE,
                        "%s = %g is implausible for a perfused territory in "
                        "millilitres (litres? %g L = %g mL)", field, v, v,
                        v * 1000.0);
  return RKIN_OK;
}

int rkin_tare_decay_back(const rkin_nuclide *nuc, double activity_inj_mbq,
                         double decay_h, double *activity_cal_mbq,
                         rkin_err *err)
{
  if (!nuc) return rkin_err_set(err, RKIN_EINVAL, "tare: no nuclide given");
  if (!isfinite(activity_inj_mbq) || activity_inj_mbq < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare: activity_mbq = %g must be >= 0 MBq",
                        activity_inj_mbq);
  /* Beyond 20 half-lives a vial holds < 1e-6 of its activity: a typo. */
  if (!isfinite(decay_h) || fabs(decay_h) > 20.0 * nuc->half_life_h)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare: decay_h = %g h exceeds 20 half-lives of %s "
                        "(%g h)", decay_h, nuc->name,
                        20.0 * nuc->half_life_h);
  *activity_cal_mbq = activity_inj_mbq * exp(rkin_nuclide_lambda(nuc) *
                                             decay_h);
  return RKIN_OK;
}

/* ---------------------------------------------------------------- plans */

int rkin_tare_plan_init(rkin_tare_plan *plan, const rkin_tare_product *prod,
                        rkin_tare_cf_conv conv, rkin_err *err)
{
  int rc;
  if (!plan) return rkin_err_set(err, RKIN_EINVAL, "tare: no plan given");
  memset(plan, 0, sizeof *plan);
  if ((rc = rkin_tare_product_check(prod, err))) return rc;
  plan->product = *prod;
  plan->nuclide = rkin_nuclide_find(prod->nuclide, err);
  if ((rc = rkin_tare_cf(plan->nuclide, conv, &plan->cf, err))) return rc;
  plan->lung_mass_kg = RKIN_TARE_LUNG_MASS_KG;
  return RKIN_OK;
}

const char *rkin_tare_bind_name(rkin_tare_bind b)
{
  switch (b) {
  case RKIN_TARE_BIND_TUMOUR_TARGET: return "tumour target";
  case RKIN_TARE_BIND_NORMAL_TARGET: return "normal-liver target";
  case RKIN_TARE_BIND_GIVEN: return "given activity";
  case RKIN_TARE_BIND_NORMAL_LIMIT: return "normal-liver limit";
  case RKIN_TARE_BIND_LUNG_LIMIT: return "lung limit";
  default: return "?";
  }
}

static void warn(rkin_tare_warnings *w, unsigned flag, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void warn(rkin_tare_warnings *w, unsigned flag, const char *fmt, ...)
{
  va_list ap;
  w->flags |= flag;
  if (w->n == RKIN_TARE_MAX_WARN) {
    w->flags |= RKIN_TARE_W_TRUNCATED;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(w->text[w->n++], RKIN_TARE_WARN_LEN, fmt, ap);
  va_end(ap);
}

static void terr_label(const rkin_tare_territory *t, size_t k, char *buf,
                       size_t n)
{
  if (t->name && t->name[0]) snprintf(buf, n, "territory '%s'", t->name);
  else snprintf(buf, n, "territory %zu", k + 1);
}

/* Checks one territory and fills its masses. */
static int check_territory(const rkin_tare_territory *t, const char *who,
                           rkin_tare_terr_result *tr, rkin_err *err)
{
  char pre[96], lpre[128];
  double m_t = 0.0, s = 0.0;
  size_t i;
  int rc;
  snprintf(pre, sizeof pre, "%s: ", who);
  if ((rc = check_mass(pre, "mass_kg", t->mass_kg, err)) ||
      (rc = check_lsf(pre, t->lsf, err)))
    return rc;
  if (t->n_lesions > RKIN_TARE_MAX_LESIONS)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare: %s: %zu lesions, at most %d supported", who,
                        t->n_lesions, RKIN_TARE_MAX_LESIONS);
  if (t->n_lesions && !t->lesions)
    return rkin_err_set(err, RKIN_EINVAL, "tare: %s: lesions missing", who);
  for (i = 0; i < t->n_lesions; i++) {
    const rkin_tare_lesion *l = &t->lesions[i];
    snprintf(lpre, sizeof lpre, "%s lesion %zu: ", who, i + 1);
    if ((rc = check_mass(lpre, "mass_kg", l->mass_kg, err))) return rc;
    if (!isfinite(l->tn) || l->tn <= 0.0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "tare: %stn = %g must be > 0 (tumour-to-normal "
                          "uptake ratio)", lpre, l->tn);
    m_t += l->mass_kg;
    s += l->tn * l->mass_kg;
  }
  if (m_t > t->mass_kg * (1.0 + 1e-12))
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare: %s: tumour mass %g kg (%zu lesion%s) is "
                        "larger than the territory mass_kg = %g", who, m_t,
                        t->n_lesions, t->n_lesions == 1 ? "" : "s",
                        t->mass_kg);
  tr->normal_mass_kg = fmax(t->mass_kg - m_t, 0.0);
  tr->uptake_mass_kg = tr->normal_mass_kg + s;
  return RKIN_OK;
}

/* T/N of the tumour dose TUMOUR mode aims at. */
static int reference_tn(const rkin_tare_territory *t, const char *who,
                        double *r, rkin_err *err)
{
  double m = 0.0, s = 0.0, lo = HUGE_VAL;
  size_t i;
  if (t->n_lesions == 0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare: %s: mode 'tumour' needs at least one lesion",
                        who);
  for (i = 0; i < t->n_lesions; i++) {
    m += t->lesions[i].mass_kg;
    s += t->lesions[i].tn * t->lesions[i].mass_kg;
    lo = fmin(lo, t->lesions[i].tn);
  }
  switch (t->ref) {
  case RKIN_TARE_REF_MEAN: *r = s / m; return RKIN_OK;
  case RKIN_TARE_REF_MIN: *r = lo; return RKIN_OK;
  case RKIN_TARE_REF_LESION:
    if (t->ref_index >= t->n_lesions)
      return rkin_err_set(err, RKIN_ERANGE,
                          "tare: %s: ref_index = %zu but only %zu lesion%s",
                          who, t->ref_index + 1, t->n_lesions,
                          t->n_lesions == 1 ? "" : "s");
    *r = t->lesions[t->ref_index].tn;
    return RKIN_OK;
  default:
    return rkin_err_set(err, RKIN_EINVAL, "tare: %s: ref %d unknown", who,
                        (int)t->ref);
  }
}

static int check_plan(const rkin_tare_plan *p, rkin_err *err)
{
  int rc;
  if ((rc = rkin_tare_limits_check(&p->product, err))) return rc;
  if (!p->nuclide)
    return rkin_err_set(err, RKIN_EINVAL, "tare: plan has no nuclide");
  if ((rc = check_cf(p->cf, err)) ||
      (rc = check_mass("", "lung_mass_kg", p->lung_mass_kg, err)))
    return rc;
  if (!isfinite(p->liver_mass_kg) || p->liver_mass_kg < 0.0)
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare: liver_mass_kg = %g must be > 0 kg (0: not "
                        "given)", p->liver_mass_kg);
  if (!isfinite(p->residual_fraction) || p->residual_fraction < 0.0 ||
      p->residual_fraction >= 1.0)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare: residual_fraction = %g must be in [0, 1) "
                        "(fraction left in vial and catheter)",
                        p->residual_fraction);
  if (p->n_territories == 0 || !p->territories)
    return rkin_err_set(err, RKIN_EINVAL, "tare: plan has no territory");
  if (p->n_territories > RKIN_TARE_MAX_TERR)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare: %zu territories, at most %d supported",
                        p->n_territories, RKIN_TARE_MAX_TERR);
  return RKIN_OK;
}

/* A territory whose lesions fill its mass (to rounding) has no normal
 * liver: nothing a normal-liver target, limit or cap could refer to. */
static int has_normal(const rkin_tare_territory *t,
                      const rkin_tare_terr_result *tr)
{
  return tr->normal_mass_kg > t->mass_kg * 1e-9;
}

static int no_normal_error(const rkin_tare_territory *t, const char *who,
                           const char *mode, const rkin_tare_terr_result *tr,
                           rkin_err *err)
{
  return rkin_err_set(err, RKIN_EINVAL,
                      "tare: %s: mode '%s' needs normal liver in the "
                      "territory, but its tumours (%g kg, %zu lesion%s) "
                      "fill its mass_kg = %g (normal mass %g kg): plan it "
                      "on a tumour target or a given activity", who, mode,
                      t->mass_kg - tr->normal_mass_kg, t->n_lesions,
                      t->n_lesions == 1 ? "" : "s", t->mass_kg,
                      tr->normal_mass_kg);
}

/* Activity from the territory's own mode; MAX_SAFE gets its normal-limit
 * activity here and is scaled for the lung afterwards. */
static int own_activity(const rkin_tare_plan *p, const rkin_tare_territory *t,
                        const char *who, double normal_limit,
                        rkin_tare_terr_result *tr, rkin_err *err)
{
  double per_gy = p->cf * GBQ_PER_MBQ * (1.0 - t->lsf) / tr->uptake_mass_kg;
  double r = 1.0;
  int rc;
  switch (t->mode) {
  case RKIN_TARE_MODE_TUMOUR:
  case RKIN_TARE_MODE_NORMAL:
    if (!isfinite(t->target_gy) || t->target_gy <= 0.0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "tare: %s: target_gy = %g must be > 0 Gy", who,
                          t->target_gy);
    if (t->mode == RKIN_TARE_MODE_NORMAL) {
      /* The target is a dose to normal tissue: with none in the territory
       * any activity "meets" it, so there is nothing to plan on. */
      if (!has_normal(t, tr))
        return no_normal_error(t, who, "normal", tr, err);
      tr->activity_mbq = t->target_gy / per_gy;
      tr->binding = RKIN_TARE_BIND_NORMAL_TARGET;
    } else {
      if ((rc = reference_tn(t, who, &r, err))) return rc;
      tr->activity_mbq = t->target_gy / r / per_gy;
      tr->binding = RKIN_TARE_BIND_TUMOUR_TARGET;
    }
    if (t->cap && has_normal(t, tr) && normal_limit / per_gy
                                           < tr->activity_mbq) {
      tr->activity_mbq = normal_limit / per_gy;
      tr->binding = RKIN_TARE_BIND_NORMAL_LIMIT;
    }
    return RKIN_OK;
  case RKIN_TARE_MODE_MAX_SAFE:
    if (!has_normal(t, tr))
      return no_normal_error(t, who, "max_safe", tr, err);
    tr->activity_mbq = normal_limit / per_gy;
    tr->binding = RKIN_TARE_BIND_NORMAL_LIMIT;
    return RKIN_OK;
  case RKIN_TARE_MODE_ACTIVITY:
    if (!isfinite(t->activity_mbq) || t->activity_mbq < 0.0)
      return rkin_err_set(err, RKIN_EINVAL,
                          "tare: %s: activity_mbq = %g must be >= 0 MBq",
                          who, t->activity_mbq);
    tr->activity_mbq = t->activity_mbq;
    tr->binding = RKIN_TARE_BIND_GIVEN;
    return RKIN_OK;
  default:
    return rkin_err_set(err, RKIN_EINVAL, "tare: %s: mode %d unknown", who,
                        (int)t->mode);
  }
}

/* Territories whose activity may be lowered to respect the lung limit. */
static int scalable(const rkin_tare_territory *t)
{
  return t->mode == RKIN_TARE_MODE_MAX_SAFE ||
         (t->cap && (t->mode == RKIN_TARE_MODE_TUMOUR ||
                     t->mode == RKIN_TARE_MODE_NORMAL));
}

/* Scales the scalable territories down together until the lung limit
 * holds. */
static void fit_lung(const rkin_tare_plan *p, rkin_tare_result *res)
{
  double fixed = 0.0, free_ = 0.0, budget, scale;
  size_t k;
  int any = 0;
  for (k = 0; k < p->n_territories; k++) {
    const rkin_tare_territory *t = &p->territories[k];
    double lung = p->cf * res->terr[k].activity_mbq * GBQ_PER_MBQ * t->lsf /
                  p->lung_mass_kg;
    if (scalable(t)) {
      free_ += lung;
      any = 1;
    } else {
      fixed += lung;
    }
  }
  if (!any || free_ <= 0.0 || fixed + free_ <= p->product.lung_gy) return;
  budget = p->product.lung_gy - fixed;
  if (budget <= 0.0)
    warn(&res->warn, RKIN_TARE_W_LUNG_BUDGET,
         "lung dose of the fixed territories (%.3g Gy) already reaches the "
         "lung limit %.3g Gy: max-safe and capped territories get no "
         "activity", fixed,
         p->product.lung_gy);
  scale = budget > 0.0 ? budget / free_ : 0.0;
  for (k = 0; k < p->n_territories; k++)
    if (scalable(&p->territories[k])) {
      res->terr[k].activity_mbq *= scale;
      res->terr[k].binding = RKIN_TARE_BIND_LUNG_LIMIT;
    }
}

static void territory_doses(const rkin_tare_plan *p,
                            const rkin_tare_territory *t,
                            rkin_tare_terr_result *tr)
{
  double liver_gbq = tr->activity_mbq * GBQ_PER_MBQ * (1.0 - t->lsf);
  double m_t = 0.0, dm = 0.0;
  size_t i;
  tr->normal_gy = p->cf * liver_gbq / tr->uptake_mass_kg;
  tr->mean_gy = p->cf * liver_gbq / t->mass_kg;
  tr->lung_gy = p->cf * tr->activity_mbq * GBQ_PER_MBQ * t->lsf /
                p->lung_mass_kg;
  for (i = 0; i < t->n_lesions; i++) {
    tr->lesion_gy[i] = t->lesions[i].tn * tr->normal_gy;
    m_t += t->lesions[i].mass_kg;
    dm += tr->lesion_gy[i] * t->lesions[i].mass_kg;
  }
  tr->tumour_mean_gy = m_t > 0.0 ? dm / m_t : 0.0;
}

static void add_check(rkin_tare_result *res, const char *what, double dose,
                      double limit)
{
  rkin_tare_check *c = &res->checks[res->n_checks++];
  snprintf(c->what, sizeof c->what, "%s", what);
  c->dose_gy = dose;
  c->limit_gy = limit;
  c->margin_gy = limit - dose;
  /* A relative slack of 1e-9 lets an activity solved to sit on a limit
   * pass despite rounding. */
  c->exceeded = dose > limit * (1.0 + 1e-9);
  if (!c->exceeded && c->margin_gy < 0.0) c->margin_gy = 0.0;
  if (c->exceeded) {
    res->all_pass = 0;
    warn(&res->warn, RKIN_TARE_W_LIMIT_EXCEEDED,
         "%s: %.4g Gy EXCEEDS the limit %.4g Gy by %.4g Gy", what, dose,
         limit, -c->margin_gy);
  }
}

static void check_targets(const rkin_tare_plan *p, rkin_tare_result *res,
                          const char *who, const rkin_tare_territory *t,
                          const rkin_tare_terr_result *tr)
{
  size_t i;
  if (p->product.tumour_lo_gy <= 0.0) return;
  for (i = 0; i < t->n_lesions; i++)
    if (tr->lesion_gy[i] < p->product.tumour_lo_gy * (1.0 - 1e-9))
      warn(&res->warn, RKIN_TARE_W_BELOW_TARGET,
           "%s lesion %zu: %.4g Gy below the %s tumour target %.4g-%.4g Gy",
           who, i + 1, tr->lesion_gy[i], p->product.name,
           p->product.tumour_lo_gy, p->product.tumour_hi_gy);
}

static void totals(const rkin_tare_plan *p, rkin_tare_result *res)
{
  double perfused = 0.0, nm = 0.0, ndm = 0.0;
  size_t k;
  for (k = 0; k < p->n_territories; k++) {
    const rkin_tare_terr_result *tr = &res->terr[k];
    res->activity_mbq += tr->activity_mbq;
    res->lung_gy += tr->lung_gy;
    perfused += p->territories[k].mass_kg;
    nm += tr->normal_mass_kg;
    ndm += tr->normal_gy * tr->normal_mass_kg;
  }
  /* Unperfused liver is normal tissue at 0 Gy: it joins the average with
   * its mass only (the tumours outside the territories are not known). */
  if (p->liver_mass_kg > 0.0) nm += p->liver_mass_kg - perfused;
  res->liver_normal_mass_kg = nm;
  res->liver_normal_gy = nm > 0.0 ? ndm / nm : 0.0;
  res->activity_injection_mbq =
      res->activity_mbq / (1.0 - p->residual_fraction);
}

/* Zeroes what plan_run accumulates into; the arrays are written before
 * they are read (the whole struct is some 10 kB, per patient). */
static void reset(rkin_tare_result *res)
{
  size_t k;
  res->n_territories = 0;
  for (k = 0; k < RKIN_TARE_MAX_TERR; k++)
    memset(&res->terr[k], 0, offsetof(rkin_tare_terr_result, lesion_gy));
  res->activity_mbq = res->activity_injection_mbq = 0.0;
  res->activity_calibration_mbq = res->lung_gy = 0.0;
  res->liver_normal_gy = res->liver_normal_mass_kg = 0.0;
  res->n_checks = 0;
  res->all_pass = 0;
  res->warn.flags = 0;
  res->warn.n = 0;
}

int rkin_tare_plan_run(const rkin_tare_plan *p, rkin_tare_result *res,
                       rkin_err *err)
{
  char who[RKIN_TARE_MAX_TERR][64], what[96];
  double normal_limit, perfused = 0.0;
  size_t k;
  int rc;
  if (!p || !res)
    return rkin_err_set(err, RKIN_EINVAL, "tare: plan or result missing");
  reset(res);
  if ((rc = check_plan(p, err))) return rc;
  res->n_territories = p->n_territories;
  res->all_pass = 1;

  normal_limit = p->product.parenchyma_gy;
  if (p->compromised) {
    if (p->product.compromised_gy > 0.0)
      normal_limit = p->product.compromised_gy;
    else
      warn(&res->warn, RKIN_TARE_W_NO_COMPROMISED,
           "%s gives no limit for a pre-treated or compromised liver: the "
           "parenchyma limit %.4g Gy is used", p->product.name,
           p->product.parenchyma_gy);
  }
  if (strcmp(p->nuclide->name, p->product.nuclide))
    warn(&res->warn, RKIN_TARE_W_NUCLIDE,
         "plan nuclide %s differs from the %s nuclide %s", p->nuclide->name,
         p->product.name, p->product.nuclide);

  for (k = 0; k < p->n_territories; k++) {
    const rkin_tare_territory *t = &p->territories[k];
    terr_label(t, k, who[k], sizeof who[k]);
    if ((rc = check_territory(t, who[k], &res->terr[k], err)) ||
        (rc = own_activity(p, t, who[k], normal_limit, &res->terr[k], err)))
      return rc;
    perfused += t->mass_kg;
    if (t->lsf > 0.2)
      warn(&res->warn, RKIN_TARE_W_HIGH_LSF,
           "%s: lung shunt fraction %.3g above 0.20", who[k], t->lsf);
  }
  if (p->liver_mass_kg > 0.0 && perfused > p->liver_mass_kg * (1 + 1e-12))
    return rkin_err_set(err, RKIN_EINVAL,
                        "tare: liver_mass_kg = %g is smaller than the "
                        "perfused territories together (%g kg)",
                        p->liver_mass_kg, perfused);
  fit_lung(p, res);

  for (k = 0; k < p->n_territories; k++) {
    territory_doses(p, &p->territories[k], &res->terr[k]);
    snprintf(what, sizeof what, "normal liver, %s", who[k]);
    if (has_normal(&p->territories[k], &res->terr[k]))
      add_check(res, what, res->terr[k].normal_gy, normal_limit);
    else
      warn(&res->warn, RKIN_TARE_W_NO_NORMAL,
           "%s: its lesions fill it (no normal liver): no normal-liver "
           "check%s", who[k], p->territories[k].cap ? " and no cap" : "");
    check_targets(p, res, who[k], &p->territories[k], &res->terr[k]);
  }
  totals(p, res);
  add_check(res, "lung", res->lung_gy, p->product.lung_gy);
  return rkin_tare_decay_back(p->nuclide, res->activity_injection_mbq,
                              p->decay_h, &res->activity_calibration_mbq,
                              err);
}
