/* test_errmsg_tare.c - error messages of the TARE cohort reader
 * (engine/tare/tare_csv_in.c: header, fields, rows, patients), the cohort
 * (tare_cohort.c, tare_csv_out.c) and the plan checks of tare.c, provoked
 * one by one and their text asserted (issue 22 item 3). Each message must
 * name the file, line and column (or the field) and what was expected. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "tare/tare.h"
#include "tare/tare_cohort.h"
#include "../tap.h"
#include "../errmsg.h"

static const char *HEAD = "id,product,cf,territory,volume_mL,lsf,mode,"
                          "target_gy,activity_mbq";

/* Parses HEAD + rows (or the whole text when head is 0) into a fresh
 * cohort; returns the code. */
static int parse(int head, const char *rows)
{
  char text[8192];
  rkin_tare_cohort *c = rkin_tare_cohort_new();
  int rc;
  snprintf(text, sizeof text, "%s%s%s", head ? HEAD : "", head ? "\n" : "",
           rows);
  rc = rkin_tare_cohort_parse_csv(c, text, strlen(text), "plan.csv", &err);
  rkin_tare_cohort_free(c);
  return rc;
}

static void test_header(void)
{
  BAD(rkin_tare_cohort_parse_csv(NULL, "x", 1, "plan.csv", &err),
      RKIN_EINVAL, "tare cohort: no text", "no cohort");
  BAD(parse(0, ""), RKIN_EINVAL, "plan.csv: no header line", "empty file");
  BAD(parse(0, "id,lesion33_volume_mL,lesion33_tn\n"), RKIN_ERANGE,
      "plan.csv: header: column 'lesion33_volume_mL': at most 32 lesions",
      "lesion 33");
  BAD(parse(0, "id,Volume_mL\n"), RKIN_EINVAL, "plan.csv: header: column "
      "'Volume_mL' unknown: units are case-sensitive, did you mean "
      "'volume_mL'?", "a unit in the wrong case");
  BAD(parse(0, "id,lsf,lsf\n"), RKIN_EINVAL, "plan.csv: header: column "
      "'lsf' appears twice", "a column twice");
}

static void test_fields(void)
{
  BAD(parse(1, "P1,SIR-Spheres,clinical,right,1500,abc,normal,40,\n"),
      RKIN_EINVAL, "plan.csv:2: column 'lsf': 'abc' is not a finite number",
      "lsf not a number");
  BAD(parse(0, "id,product,volume_mL,lsf,mode,target_gy,cap\n"
               "P1,SIR-Spheres,1500,0.1,normal,40,yes\n"), RKIN_EINVAL,
      "plan.csv:2: column 'cap': 'yes' must be 0/1 or true/false",
      "cap not a flag");
  BAD(parse(1, "P1,SIR-Spheres,clinical,right,1500,,normal,40,\n"),
      RKIN_EINVAL, "plan.csv:2: lsf missing (lung shunt fraction; 0 if "
      "none)", "lsf missing");
  BAD(parse(0, "id,product,volume_mL,lsf,mode,target_gy,lesion1_volume_mL\n"
               "P1,SIR-Spheres,1500,0.1,normal,40,30\n"), RKIN_EINVAL,
      "plan.csv:2: lesion 1: tn missing", "a lesion without tn");
  BAD(parse(0, "id,product,volume_mL,lsf,mode,target_gy,lesion2_tn\n"
               "P1,SIR-Spheres,1500,0.1,normal,40,3\n"), RKIN_EINVAL,
      "plan.csv:2: lesion 2: size (volume_mL, volume_L or mass_kg) missing",
      "a lesion without size");
  BAD(parse(1, "P1,SIR-Spheres,clinical,right,1500,0.1,boost,40,\n"),
      RKIN_EINVAL, "plan.csv:2: mode 'boost' unknown (expected tumour, "
      "normal, max_safe or activity)", "an unknown mode");
  BAD(parse(1, "P1,SIR-Spheres,clinical,right,1500,0.1,,40,\n"),
      RKIN_EINVAL, "plan.csv:2: mode missing (tumour, normal, max_safe or "
      "activity)", "no mode");
  BAD(parse(1, "P1,SIR-Spheres,clinical,right,1500,0.1,activity,,\n"),
      RKIN_EINVAL, "plan.csv:2: mode 'activity' needs activity_mbq",
      "activity mode without activity");
  BAD(parse(0, "id,product,volume_mL,lsf,mode,target_gy,ref\n"
               "P1,SIR-Spheres,1500,0.1,normal,40,first\n"), RKIN_EINVAL,
      "plan.csv:2: column 'ref': ref 'first' must be mean, min or a lesion "
      "number >= 1", "ref not a lesion number");
  BAD(parse(0, "id,product,mass_kg,lsf,mode,target_gy\n"
               "P1,SIR-Spheres,0,0.1,normal,40\n"), RKIN_EINVAL,
      "plan.csv:2: mass_kg = 0 must be > 0 kg", "a territory of 0 kg");
}

static void test_patients(void)
{
  char rows[4096];
  size_t k, n = 0;
  BAD(parse(0, "id,product,volume_mL,lsf,mode,target_gy,lung_mass_kg\n"
               "P1,SIR-Spheres,1500,0.1,normal,40,1\n"
               "P1,SIR-Spheres,300,0.1,normal,40,0.8\n"), RKIN_EINVAL,
      "plan.csv:3: patient 'P1': lung_mass_kg differs from its first row "
      "(line 2)", "a per-patient value differing between rows");
  BAD(parse(1, "P1,,clinical,right,1500,0.1,normal,40,\n"), RKIN_EINVAL,
      "plan.csv:2: patient 'P1': product missing", "no product");
  for (k = 0; k < 17; k++)
    n += (size_t)snprintf(rows + n, sizeof rows - n,
                          "P1,SIR-Spheres,clinical,t%zu,100,0.05,normal,40,\n",
                          k + 1);
  BAD(parse(1, rows), RKIN_ERANGE, "plan.csv:18: patient 'P1': more than 16 "
      "territories", "17 territories");
}

static void test_cohort(void)
{
  rkin_tare_cohort *c = rkin_tare_cohort_new();
  rkin_tare_plan plan;
  rkin_tare_territory terr[RKIN_TARE_MAX_TERR];
  rkin_tare_summary sum;
  char *text;
  size_t len;
  BAD(rkin_tare_cohort_get(c, 0, &plan, terr, &err), RKIN_ERANGE,
      "tare cohort: no patient 1 (the cohort has 0)", "get: empty cohort");
  BAD(rkin_tare_cohort_csv(c, NULL, &len, &sum, &err), RKIN_EINVAL,
      "tare cohort: argument missing", "csv: no text pointer");
  (void)text;
  rkin_tare_cohort_free(c);
}

/* The checks of rkin_tare_plan_run on one territory (tare.c). */
static void test_plan(void)
{
  rkin_tare_plan plan;
  rkin_tare_territory t;
  rkin_tare_lesion les[RKIN_TARE_MAX_LESIONS + 1];
  rkin_tare_result *res = malloc(sizeof *res);
  const rkin_tare_product *sir = rkin_tare_product_find("SIR-Spheres", NULL);
  size_t k;
  if (!res || !sir) {
    free(res);
    return;
  }
  BAD(rkin_tare_plan_init(NULL, sir, RKIN_TARE_CF_DERIVED, &err),
      RKIN_EINVAL, "tare: no plan given", "plan init: no plan");
  rkin_tare_plan_init(&plan, sir, RKIN_TARE_CF_DERIVED, &err);
  memset(&t, 0, sizeof t);
  memset(les, 0, sizeof les);
  t.name = "right";
  t.mass_kg = 1.5;
  t.lsf = 0.1;
  t.mode = RKIN_TARE_MODE_ACTIVITY;
  t.activity_mbq = 1000;
  plan.territories = &t;
  plan.n_territories = 1;
  ok(rkin_tare_plan_run(&plan, res, &err) == 0, "plan: the base plan runs");
  t.mass_kg = -1;
  BAD(rkin_tare_plan_run(&plan, res, &err), RKIN_EINVAL,
      "tare: territory 'right': mass_kg = -1 must be > 0 kg", "plan: a negative mass");
  t.mass_kg = 1.5;
  t.activity_mbq = -5;
  BAD(rkin_tare_plan_run(&plan, res, &err), RKIN_EINVAL,
      "tare: territory 'right': activity_mbq = -5 must be >= 0 MBq",
      "plan: a negative activity");
  t.mode = RKIN_TARE_MODE_NORMAL;
  t.target_gy = 0;
  BAD(rkin_tare_plan_run(&plan, res, &err), RKIN_EINVAL,
      "tare: territory 'right': target_gy = 0 must be > 0 Gy", "plan: target 0 Gy");
  t.mode = (rkin_tare_mode)9;
  BAD(rkin_tare_plan_run(&plan, res, &err), RKIN_EINVAL,
      "tare: territory 'right': mode 9 unknown", "plan: an unknown mode");
  for (k = 0; k <= RKIN_TARE_MAX_LESIONS; k++) {
    les[k].mass_kg = 0.001;
    les[k].tn = 3;
  }
  t.mode = RKIN_TARE_MODE_ACTIVITY;
  t.activity_mbq = 1000;
  t.lesions = les;
  t.n_lesions = RKIN_TARE_MAX_LESIONS + 1;
  BAD(rkin_tare_plan_run(&plan, res, &err), RKIN_ERANGE,
      "tare: territory 'right': 33 lesions, at most 32 supported", "plan: 33 lesions");
  t.n_lesions = 1;
  t.mode = RKIN_TARE_MODE_TUMOUR;
  t.target_gy = 120;
  t.ref = (rkin_tare_ref)7;
  BAD(rkin_tare_plan_run(&plan, res, &err), RKIN_EINVAL,
      "tare: territory 'right': ref 7 unknown", "plan: an unknown reference");
  free(res);
}

int main(void)
{
  rkin_init();
  test_header();
  test_fields();
  test_patients();
  test_cohort();
  test_plan();
  done_testing();
  return exit_status();
}
