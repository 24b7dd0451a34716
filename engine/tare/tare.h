/* tare.h - microsphere (TARE) planning: dose conversion factor, single
 * compartment and partition models, BSA method, product limits, plans over
 * several perfused territories, decay and residual activity.
 *
 * Units: activity MBq, mass kg, volume L, dose Gy, time h. The dose
 * conversion factor CF keeps its clinical unit, Gy kg / GBq (= J / GBq).
 * Formulas (partition model, single compartment, BSA method) and product
 * limits: the review of dosimetry in Tijdschr Nucl Geneesk 2023;45(2),
 * section "Dose limits and target doses in TARE" and its Table 1 (tag S);
 * written out in docs/sources.md "TARE". */
#ifndef RKIN_TARE_H
#define RKIN_TARE_H

#include <stddef.h>

#include "core/err.h"
#include "core/nuclide.h"

#define RKIN_TARE_MAX_TERR 16      /* perfused territories per plan */
#define RKIN_TARE_MAX_LESIONS 32   /* lesions per territory */
#define RKIN_TARE_MAX_CHECKS (RKIN_TARE_MAX_TERR + 1)
#define RKIN_TARE_MAX_WARN 16
#define RKIN_TARE_WARN_LEN 200

/* Commonly used defaults (U: quoted widely, no primary source read here):
 * liver tissue 1.03 kg/L, lung mass 1 kg (docs/sources.md "TARE"). */
#define RKIN_TARE_LIVER_DENSITY 1.03
#define RKIN_TARE_LUNG_MASS_KG 1.0

/* ------------------------------------------------ dose conversion factor */

typedef enum {
  RKIN_TARE_CF_DERIVED,  /* from the nuclide table (half-life, energy) */
  RKIN_TARE_CF_CLINICAL, /* 49.67 (90Y), 15.87 (166Ho) Gy kg/GBq */
  RKIN_TARE_CF_ROUNDED   /* 50 (90Y, TheraSphere package insert habit) */
} rkin_tare_cf_conv;

/* Energy released per GBq decaying completely, Gy kg / GBq:
 * 1000 MBq x (T_half / ln 2) h x 3.6e9 decays/(MBq h) x E_np MeV x J/MeV. */
double rkin_tare_cf_derived(const rkin_nuclide *nuc);

/* The factor for `nuc` under a convention. RKIN_ENOTFOUND when the
 * convention has no value for that nuclide (CLINICAL/ROUNDED exist only for
 * Y-90 and Ho-166, ROUNDED only for Y-90). */
int rkin_tare_cf(const rkin_nuclide *nuc, rkin_tare_cf_conv conv, double *cf,
                 rkin_err *err);

/* Parses "derived", "clinical", "rounded" (any case). */
int rkin_tare_cf_conv_parse(const char *s, rkin_tare_cf_conv *conv,
                            rkin_err *err);
const char *rkin_tare_cf_conv_name(rkin_tare_cf_conv conv);

/* --------------------------------------------------------- product table */

/* Limits and targets of one microsphere product. A limit or target of 0
 * means "not given" (TvNG 2023 Table 1: "not mentioned"). Copy a table entry and
 * change fields to override it. */
typedef struct {
  const char *name;        /* "SIR-Spheres" */
  const char *nuclide;     /* "Y-90" */
  double parenchyma_gy;    /* normal liver limit */
  double compromised_gy;   /* pre-treated / compromised liver limit, or 0 */
  double lung_gy;          /* lung, per treatment */
  double tumour_lo_gy;     /* tumour target range (HCC / mCRC) */
  double tumour_hi_gy;
  double ablative_gy;      /* ablative (segmentectomy) target, or 0 */
  const char *source;
} rkin_tare_product;

/* Finds a product: "SIR-Spheres", "sir", "TheraSphere(s)", "Quirem(Spheres)",
 * any case or punctuation. NULL and RKIN_ENOTFOUND listing the known names
 * otherwise. */
const rkin_tare_product *rkin_tare_product_find(const char *name,
                                                rkin_err *err);
size_t rkin_tare_product_count(void);
const rkin_tare_product *rkin_tare_product_at(size_t i);

/* Checks an (overridden) product: finite, non-negative values, parenchyma
 * and lung limits > 0, tumour_lo <= tumour_hi, a known nuclide. */
int rkin_tare_product_check(const rkin_tare_product *p, rkin_err *err);
/* The same without the nuclide lookup (the plan carries its nuclide). */
int rkin_tare_limits_check(const rkin_tare_product *p, rkin_err *err);

/* ------------------------------------------------------ simple formulas */

/* Single compartment (MIRD): D = CF x A x (1 - L) / M, A in MBq. */
int rkin_tare_single_dose(double cf, double activity_mbq, double lsf,
                          double mass_kg, double *dose_gy, rkin_err *err);
int rkin_tare_single_activity(double cf, double dose_gy, double lsf,
                              double mass_kg, double *activity_mbq,
                              rkin_err *err);

/* Volume (L) to mass (kg) with a density (kg/L), checking both; `field`
 * names the value in messages ("liver volume_L"). */
int rkin_tare_volume_to_mass(const char *field, double volume_l,
                             double density_kg_l, double *mass_kg,
                             rkin_err *err);

/* Checks that a size fits its unit for a liver region (a liver is 1-3 L,
 * up to about 5 L enlarged): `unit` is "kg", "L" or "mL"; over 6 kg / 6 L
 * / 6000 mL is the wrong unit, and so is a perfused territory (`territory`
 * set) under 5 mL. `field` names the value in messages. */
int rkin_tare_size_check(const char *field, const char *unit, double v,
                         int territory, rkin_err *err);

/* Activity at calibration time for an activity at injection time,
 * `decay_h` hours later: A_cal = A_inj x exp(lambda decay_h). */
int rkin_tare_decay_back(const rkin_nuclide *nuc, double activity_inj_mbq,
                         double decay_h, double *activity_cal_mbq,
                         rkin_err *err);

/* ------------------------------------------------------------- warnings */

enum {
  RKIN_TARE_W_NOT_DOSIMETRIC = 1u << 0, /* BSA method: empiric, no doses */
  RKIN_TARE_W_LIMIT_EXCEEDED = 1u << 1, /* a dose limit is exceeded */
  RKIN_TARE_W_BELOW_TARGET = 1u << 2,   /* a lesion below the target range */
  RKIN_TARE_W_NO_COMPROMISED = 1u << 3, /* product gives no compromised-liver
                                           limit; parenchyma limit used */
  RKIN_TARE_W_NUCLIDE = 1u << 4,        /* CF nuclide differs from product */
  RKIN_TARE_W_LUNG_BUDGET = 1u << 5,    /* no lung budget left for MAX_SAFE */
  RKIN_TARE_W_HIGH_LSF = 1u << 6,       /* LSF > 0.20 */
  RKIN_TARE_W_TRUNCATED = 1u << 7,      /* more warnings than room */
  RKIN_TARE_W_NO_NORMAL = 1u << 8       /* a territory has no normal liver
                                           (its lesions fill it): no
                                           normal-liver check or cap there */
};

typedef struct {
  unsigned flags;                        /* RKIN_TARE_W_... bits */
  size_t n;
  char text[RKIN_TARE_MAX_WARN][RKIN_TARE_WARN_LEN];
} rkin_tare_warnings;

/* ------------------------------------------------------------ BSA method */

typedef enum {
  RKIN_TARE_BSA_MOSTELLER, /* sqrt(h_cm w_kg / 3600), Mosteller NEJM 1987 */
  RKIN_TARE_BSA_DUBOIS     /* 0.007184 w^0.425 h^0.725, DuBois 1916 */
} rkin_tare_bsa_formula;

/* Body surface area, m^2, from height (cm) and weight (kg). */
int rkin_tare_bsa(rkin_tare_bsa_formula f, double height_cm, double weight_kg,
                  double *bsa_m2, rkin_err *err);
int rkin_tare_bsa_formula_parse(const char *s, rkin_tare_bsa_formula *f,
                                rkin_err *err);

typedef struct {
  double activity_mbq;       /* (BSA - 0.2 + V_T / (V_T + V_N)) GBq */
  double involvement;        /* V_T / (V_T + V_N) */
  rkin_tare_warnings warn;   /* always carries RKIN_TARE_W_NOT_DOSIMETRIC */
} rkin_tare_bsa_result;

/* Resin-sphere BSA method (Kao et al., Ann Nucl Med 2011;25:455):
 * A [GBq] = (BSA - 0.2) + V_T / (V_T + V_N). Empiric, not dosimetric: the
 * result always carries a warning saying so. */
int rkin_tare_bsa_activity(double bsa_m2, double v_tumour_l,
                           double v_normal_l, rkin_tare_bsa_result *res,
                           rkin_err *err);

/* ----------------------------------------------------------------- plans */

typedef struct {
  double mass_kg;  /* lesion mass */
  double tn;       /* tumour-to-normal uptake ratio (per unit mass) */
} rkin_tare_lesion;

typedef enum {
  RKIN_TARE_MODE_TUMOUR,   /* activity for target_gy in the reference tumour */
  RKIN_TARE_MODE_NORMAL,   /* activity for target_gy in the normal liver */
  RKIN_TARE_MODE_MAX_SAFE, /* largest activity within every limit */
  RKIN_TARE_MODE_ACTIVITY  /* given administered activity_mbq: doses only */
} rkin_tare_mode;

/* Which tumour dose the TUMOUR mode aims at. */
typedef enum {
  RKIN_TARE_REF_MEAN,   /* mass-weighted mean over lesions (one compartment
                           of all tumour tissue, the classic partition model) */
  RKIN_TARE_REF_MIN,    /* the lesion with the lowest T/N: all reach target */
  RKIN_TARE_REF_LESION  /* lesion ref_index */
} rkin_tare_ref;

typedef struct {
  const char *name;               /* for messages; NULL: "territory k" */
  double mass_kg;                 /* perfused territory incl. its tumours */
  double lsf;                     /* lung shunt fraction, [0, 1) */
  const rkin_tare_lesion *lesions;
  size_t n_lesions;
  rkin_tare_mode mode;
  double target_gy;               /* TUMOUR and NORMAL modes */
  rkin_tare_ref ref;              /* TUMOUR mode */
  size_t ref_index;               /* REF_LESION */
  double activity_mbq;            /* ACTIVITY mode: administered */
  int cap;                        /* TUMOUR / NORMAL modes: never exceed a
                                     limit; the activity is then the smaller
                                     of target and limits (see binding) */
} rkin_tare_territory;

typedef struct {
  rkin_tare_product product;      /* limits (a copy, may be overridden) */
  const rkin_nuclide *nuclide;    /* for decay; the product's by default */
  double cf;                      /* Gy kg / GBq */
  const rkin_tare_territory *territories;
  size_t n_territories;
  double lung_mass_kg;            /* default 1 kg */
  double liver_mass_kg;           /* whole liver, for the whole-liver normal
                                     dose; 0: perfused territories only */
  int compromised;                /* pre-treated liver: compromised limit */
  double decay_h;                 /* injection time - calibration time, h */
  double residual_fraction;       /* left in vial / catheter, [0, 1) */
} rkin_tare_plan;

/* Fills a plan with a product's limits and nuclide, CF under `conv`, lung
 * mass 1 kg, no decay, no residual, no territories. */
int rkin_tare_plan_init(rkin_tare_plan *plan, const rkin_tare_product *prod,
                        rkin_tare_cf_conv conv, rkin_err *err);

/* What set a territory's activity. */
typedef enum {
  RKIN_TARE_BIND_TUMOUR_TARGET,
  RKIN_TARE_BIND_NORMAL_TARGET,
  RKIN_TARE_BIND_GIVEN,
  RKIN_TARE_BIND_NORMAL_LIMIT,
  RKIN_TARE_BIND_LUNG_LIMIT
} rkin_tare_bind;
const char *rkin_tare_bind_name(rkin_tare_bind b);

typedef struct {
  double activity_mbq;       /* administered into this territory */
  rkin_tare_bind binding;
  double normal_mass_kg;     /* territory mass minus its tumours */
  double uptake_mass_kg;     /* M_N + sum r_i M_i */
  double mean_gy;            /* single-compartment dose of the territory */
  double normal_gy;
  double tumour_mean_gy;     /* mass-weighted over lesions; 0 if none */
  double lung_gy;            /* this territory's share of the lung dose */
  double lesion_gy[RKIN_TARE_MAX_LESIONS];
} rkin_tare_terr_result;

typedef struct {
  char what[96];             /* "lung", "normal liver, territory 'seg4'" */
  double dose_gy;
  double limit_gy;
  double margin_gy;          /* limit - dose; negative when exceeded */
  int exceeded;
} rkin_tare_check;

typedef struct {
  size_t n_territories;
  rkin_tare_terr_result terr[RKIN_TARE_MAX_TERR];
  double activity_mbq;              /* total administered to the patient */
  double activity_injection_mbq;    /* in the vial at injection (residual) */
  double activity_calibration_mbq;  /* to order, at calibration time */
  double lung_gy;
  double liver_normal_gy;           /* whole-liver normal, mass-weighted */
  double liver_normal_mass_kg;      /* the mass that average is over */
  size_t n_checks;
  rkin_tare_check checks[RKIN_TARE_MAX_CHECKS];
  int all_pass;
  rkin_tare_warnings warn;
} rkin_tare_result;

/* Solves a plan. Each territory's activity follows its mode; MAX_SAFE
 * territories (and capped ones whose target lies beyond the normal-liver
 * limit) take the largest activity within that limit; all of these are then
 * scaled down together, if needed, until the total lung dose meets the lung
 * limit (the lung dose of the other territories is spent first).
 * Checks: normal liver per territory (parenchyma or compromised limit) and
 * lung for the whole treatment. Bad input: RKIN_EINVAL / RKIN_ERANGE with a
 * message naming territory, field and value. */
int rkin_tare_plan_run(const rkin_tare_plan *plan, rkin_tare_result *res,
                       rkin_err *err);

#endif
