/* test_sbml.c - the SBML importer (engine/sbml) on small models written by
 * this test through libSBML's API, each against its closed form; and the
 * inputs it must refuse, each with its message. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sbml/SBMLTypes.h>

#include "core/init.h"
#include "sbml/sbml.h"
#include "solve/solve.h"
#include "../tap.h"

static char dir[] = "/tmp/rk_sbml_XXXXXX";
static char path[512];
static int n_files;

/* ---------------------------------------------- building SBML documents */

static SBMLDocument_t *doc(unsigned level, unsigned version, Model_t **m)
{
  SBMLDocument_t *d = SBMLDocument_createWithLevelAndVersion(level, version);
  *m = SBMLDocument_createModel(d);
  Model_setId(*m, "t");
  return d;
}

static Compartment_t *comp(Model_t *m, const char *id, double size)
{
  Compartment_t *c = Model_createCompartment(m);
  Compartment_setId(c, id);
  Compartment_setSize(c, size);
  Compartment_setConstant(c, 1);
  Compartment_setSpatialDimensions(c, 3);
  return c;
}

/* amount: initial amount with hasOnlySubstanceUnits; else initial
 * concentration. */
static Species_t *species(Model_t *m, const char *id, const char *c,
                          double v, int amount)
{
  Species_t *s = Model_createSpecies(m);
  Species_setId(s, id);
  Species_setCompartment(s, c);
  if (amount) Species_setInitialAmount(s, v);
  else Species_setInitialConcentration(s, v);
  Species_setHasOnlySubstanceUnits(s, amount);
  Species_setBoundaryCondition(s, 0);
  Species_setConstant(s, 0);
  return s;
}

static Parameter_t *param(Model_t *m, const char *id, double v, int constant)
{
  Parameter_t *p = Model_createParameter(m);
  Parameter_setId(p, id);
  Parameter_setValue(p, v);
  Parameter_setConstant(p, constant);
  return p;
}

static ASTNode_t *math(const char *f)
{
  ASTNode_t *a = SBML_parseL3Formula(f);
  if (!a) diag("cannot parse %s", f);
  return a;
}

/* A reaction: reactants and products as "A" or "2 A" ("" for none). */
static Reaction_t *reaction(Model_t *m, const char *id, const char *reac,
                            const char *prod, const char *law, int rev)
{
  Reaction_t *r = Model_createReaction(m);
  KineticLaw_t *kl;
  ASTNode_t *a;
  int side;
  Reaction_setId(r, id);
  Reaction_setReversible(r, rev);
  if (SBase_getLevel((SBase_t *)m) == 3 && SBase_getVersion((SBase_t *)m) == 1) Reaction_setFast(r, 0);
  for (side = 0; side < 2; side++) {
    const char *list = side ? prod : reac;
    char buf[64], *tok, *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      SpeciesReference_t *sr = side ? Reaction_createProduct(r)
                                    : Reaction_createReactant(r);
      double st = 1;
      char sp[32];
      if (sscanf(tok, "%lf %31s", &st, sp) != 2) {
        st = 1;
        snprintf(sp, sizeof sp, "%s", tok);
      }
      SpeciesReference_setSpecies(sr, sp);
      SpeciesReference_setStoichiometry(sr, st);
      if (SBase_getLevel((SBase_t *)m) == 3) SpeciesReference_setConstant(sr, 1);
    }
  }
  kl = Reaction_createKineticLaw(r);
  a = math(law);
  KineticLaw_setMath(kl, a);
  ASTNode_free(a);
  return r;
}

static void rule(Model_t *m, int rate, const char *var, const char *f)
{
  Rule_t *r = rate ? Model_createRateRule(m) : Model_createAssignmentRule(m);
  ASTNode_t *a = math(f);
  Rule_setVariable(r, var);
  Rule_setMath(r, a);
  ASTNode_free(a);
}

static void init_assign(Model_t *m, const char *sym, const char *f)
{
  InitialAssignment_t *ia = Model_createInitialAssignment(m);
  ASTNode_t *a = math(f);
  InitialAssignment_setSymbol(ia, sym);
  InitialAssignment_setMath(ia, a);
  ASTNode_free(a);
}

/* Writes d (freed) to a new file; returns its path. */
static const char *save(SBMLDocument_t *d)
{
  snprintf(path, sizeof path, "%s/m%d.xml", dir, n_files++);
  if (!writeSBMLToFile(d, path)) diag("cannot write %s", path);
  SBMLDocument_free(d);
  return path;
}

/* ---------------------------------------------------------- simulating */

static rkin_sbml_result R;

static int load(const char *p, const char *unit, const char *nuclide)
{
  rkin_sbml_opts o = {.time_unit = unit,
                      .nuclide = nuclide ? rkin_nuclide_find(nuclide, NULL)
                                         : NULL};
  rkin_err err;
  int rc;
  rkin_sbml_result_free(&R);
  rc = rkin_sbml_load(p, &o, &R, &err);
  if (rc) diag("load: %s", err.msg);
  return rc;
}

/* The value at time t (h) of a state or output named `name`. */
static double at(const char *name, double t)
{
  rkin_solve_opts o;
  rkin_solver *s;
  rkin_solve_req q = {0};
  rkin_solve_res r = {0};
  rkin_err err;
  const rkin_model *m = R.model;
  size_t ns = rkin_model_nstates(m), no = rkin_model_noutputs(m);
  double *y = calloc(ns + 1, sizeof *y), *out = calloc(no + 1, sizeof *out);
  double v = NAN;
  int i;
  rkin_solve_opts_default(&o);
  o.rtol = 1e-10;
  o.atol = 1e-12;
  o.path = RKIN_PATH_CVODES;
  s = rkin_solver_new(m, &o, &err);
  q.t0 = 0;
  q.t1 = t;
  q.times = &t;
  q.n_times = 1;
  r.y = y;
  r.out = out;
  if (!s || rkin_solver_run(s, &q, &r, &err)) {
    diag("solve: %s", err.msg);
  } else if ((i = rkin_model_state_index(m, name, NULL)) >= 0) {
    v = y[i];
  } else if ((i = rkin_model_output_index(m, name, NULL)) >= 0) {
    v = out[i];
  } else {
    diag("no state or output %s", name);
  }
  rkin_solver_free(s);
  free(y);
  free(out);
  return v;
}

/* Runs m over 0..t_end (NGRID times, CVODES) into y and out. */
#define NGRID 61
static int run_grid(const rkin_model *m, double t_end, double *y,
                    double *out)
{
  rkin_solve_opts o;
  rkin_solver *s;
  rkin_solve_req q = {0};
  rkin_solve_res r = {0};
  rkin_err err;
  double times[NGRID];
  int k, rc;
  for (k = 0; k < NGRID; k++) times[k] = t_end * k / (NGRID - 1);
  rkin_solve_opts_default(&o);
  o.rtol = 1e-10;
  o.atol = 1e-12;
  o.path = RKIN_PATH_CVODES;
  if (!(s = rkin_solver_new(m, &o, &err))) {
    diag("solver: %s", err.msg);
    return -1;
  }
  q.t1 = t_end;
  q.times = times;
  q.n_times = NGRID;
  r.y = y;
  r.out = out;
  rc = rkin_solver_run(s, &q, &r, &err);
  if (rc) diag("solve: %s", err.msg);
  rkin_solver_free(s);
  return rc;
}

/* R.model written by rkin_sbml_write_string, read back, both run over
 * [0, t_end]: the same names, events and simulation (every state and
 * output at NGRID times to 1e-12 relative). R keeps the original. */
static void roundtrip(const char *what, double t_end)
{
  const rkin_model *m = R.model, *m2;
  rkin_sbml_result R2;
  rkin_sbml_opts o = {.time_unit = NULL};
  rkin_err err;
  size_t ns = rkin_model_nstates(m), no = rkin_model_noutputs(m), i;
  size_t n = NGRID * (ns + no);
  double *a = calloc(2 * n + 1, sizeof *a), *b = a + n, worst = 0;
  char *text = rkin_sbml_write_string(m, &err);
  FILE *f;
  int same = 1;
  if (!text) {
    ok(0, "round trip %s: written (%s)", what, err.msg);
    free(a);
    return;
  }
  snprintf(path, sizeof path, "%s/m%d.xml", dir, n_files++);
  f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  free(text);
  if (rkin_sbml_load(path, &o, &R2, &err)) {
    ok(0, "round trip %s: read back (%s)", what, err.msg);
    free(a);
    return;
  }
  m2 = R2.model;
  if (rkin_model_nstates(m2) != ns || rkin_model_noutputs(m2) != no
      || rkin_mevents_count(rkin_model_events(m2))
             != rkin_mevents_count(rkin_model_events(m)))
    same = 0;
  for (i = 0; same && i < ns; i++)
    same = strcmp(rkin_model_state_name(m, i),
                  rkin_model_state_name(m2, i)) == 0;
  for (i = 0; same && i < no; i++)
    same = strcmp(rkin_model_output_name(m, i),
                  rkin_model_output_name(m2, i)) == 0;
  if (same && run_grid(m, t_end, a, a + NGRID * ns) == 0
      && run_grid(m2, t_end, b, b + NGRID * ns) == 0) {
    for (i = 0; i < n; i++) {
      double d = fabs(a[i] - b[i]), s = fmax(fabs(a[i]), fabs(b[i]));
      if (d > 0) worst = fmax(worst, s > 0 ? d / s : d);
    }
  } else {
    worst = INFINITY;
  }
  ok(same && worst <= 1e-12, "round trip %s: load -> write_sbml -> load "
     "gives the same simulation (worst rel. diff %.2g <= 1e-12)", what,
     worst);
  rkin_sbml_result_free(&R2);
  free(a);
}

/* 1 when loading p fails with a message containing want. */
static int refuses(const char *p, const char *unit, const char *want)
{
  rkin_sbml_opts o = {.time_unit = unit};
  rkin_sbml_result r;
  rkin_err err;
  int rc = rkin_sbml_load(p, &o, &r, &err);
  if (rc == 0) {
    rkin_sbml_result_free(&r);
    diag("loaded, expected an error with '%s'", want);
    return 0;
  }
  if (!strstr(err.msg, want)) {
    diag("message '%s' lacks '%s'", err.msg, want);
    return 0;
  }
  return 1;
}

static int has_warning(const char *want)
{
  size_t k;
  for (k = 0; k < R.n_warn; k++)
    if (strstr(R.warn[k], want)) return 1;
  return 0;
}

/* --------------------------------------------------------------- tests */

/* Amount species, first-order loss: A = 10 e^(-0.3 t). */
static void t_amount(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  comp(m, "cell", 2.0);
  species(m, "A", "cell", 10.0, 1);
  param(m, "k", 0.3, 1);
  reaction(m, "r1", "A", "", "k * A", 0);
  if (load(save(d), "h", NULL)) {
    ok(0, "amount species loads");
    return;
  }
  is_double(at("cell.A", 0.0), 10.0, 1e-12, "amount species: initial");
  is_double(at("cell.A", 2.0), 10.0 * exp(-0.6), 1e-8,
            "amount species: 10 e^(-0.3 t) at 2 h");
  ok(rkin_model_param_index(R.model, "k", NULL) >= 0
     && rkin_model_param_index(R.model, "cell", NULL) >= 0,
     "parameter k and the constant compartment size are parameters");
}

/* Concentration species: the law k*A sees the concentration amount/V, so
 * the amount decays at k/V: amount = 10 e^(-k t / 2). */
static void t_concentration(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  comp(m, "cell", 2.0);
  species(m, "A", "cell", 5.0, 0);  /* 5 per volume: amount 10 */
  {
    /* an initial amount for a species seen as a concentration */
    Species_t *b = species(m, "B", "cell", 6.0, 1);
    Species_setHasOnlySubstanceUnits(b, 0);
  }
  reaction(m, "r2", "B", "", "k * B", 0);
  param(m, "k", 0.3, 1);
  reaction(m, "r1", "A", "", "k * A", 0);
  rule(m, 0, "conc", "A");
  param(m, "conc", 0, 0);
  if (load(save(d), "h", NULL)) {
    ok(0, "concentration species loads");
    return;
  }
  is_double(at("delta(cell.A)", 0.0), 0.0, 1e-12,
            "concentration species: the state is the change from 10");
  is_double(at("cell.A", 0.0), 10.0, 1e-12,
            "concentration species: amount = 5 x 2 at t0");
  is_double(at("cell.A", 3.0), 10.0 * exp(-0.3 * 3 / 2), 1e-8,
            "concentration species: amount 10 e^(-k t / V)");
  is_double(at("conc", 3.0), 5.0 * exp(-0.3 * 3 / 2), 1e-8,
            "concentration species: the math sees amount / V");
  is_double(at("cell.B", 3.0), 6.0 * exp(-0.3 * 3 / 2), 1e-8,
            "initialAmount 6 of a concentration species: amount 6 (not 6 V)");
}

/* Changing compartment: V' = 1 (V(0) = 1); law k*A on the concentration:
 * dAmt/dt = -k Amt / (1 + t), Amt = 10 (1 + t)^-k. */
static void t_growing(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  Compartment_setConstant(comp(m, "cell", 1.0), 0);
  species(m, "A", "cell", 10.0, 0);
  param(m, "k", 0.7, 1);
  reaction(m, "r1", "A", "", "k * A", 0);
  rule(m, 1, "cell", "1");
  rule(m, 0, "conc", "A");
  param(m, "conc", 0, 0);
  species(m, "K", "cell", 3.0, 0);   /* nothing changes it */
  rule(m, 0, "kc", "K");
  param(m, "kc", 0, 0);
  if (load(save(d), "h", NULL)) {
    ok(0, "growing compartment loads");
    return;
  }
  is_double(at("cell.A", 4.0), 10.0 * pow(5.0, -0.7), 1e-8,
            "growing compartment: amount 10 (1 + t)^-k");
  is_double(at("cell", 4.0), 5.0, 1e-10, "growing compartment: V = 1 + t");
  is_double(at("conc", 4.0), 10.0 * pow(5.0, -0.7) / 5.0, 1e-8,
            "growing compartment: concentration = amount / V(t)");
  is_double(at("cell.K", 4.0), 3.0, 1e-12,
            "a species nothing changes keeps its amount as V grows");
  is_double(at("kc", 4.0), 3.0 / 5.0, 1e-10,
            "... so its concentration is diluted: 3 / V(t)");
}

/* Initial assignments in reverse dependency order, and a cycle. */
static void t_initial(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  species(m, "A", "c", 0.0, 1);
  param(m, "p1", 2.0, 1);
  param(m, "p2", -1, 1);
  param(m, "p3", -1, 1);
  init_assign(m, "A", "p3 * 10");
  init_assign(m, "p3", "p2 * 2");
  init_assign(m, "p2", "p1 + 1");
  reaction(m, "r1", "A", "", "0.1 * A", 0);
  if (load(save(d), "h", NULL)) {
    ok(0, "initial assignments load");
    return;
  }
  is_double(at("c.A", 0.0), 60.0, 1e-12,
            "initial-assignment chain: A = 10 (2 (p1 + 1)) = 60");
  is_double(at("p3", 0.0), 6.0, 1e-12, "initial-assignment chain: p3 = 6");
  is_double(at("c.A", 1.0), 60.0 * exp(-0.1), 1e-8,
            "initial-assignment chain: then decays");
  d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  param(m, "a", 1, 1);
  param(m, "b", 1, 1);
  init_assign(m, "a", "b + 1");
  init_assign(m, "b", "a * 2");
  ok(refuses(save(d), "h", "cycle"),
     "a cycle of initial assignments is refused");
  d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  param(m, "a", 1, 0);
  param(m, "b", 1, 0);
  rule(m, 0, "a", "b + 1");
  rule(m, 0, "b", "a * 2");
  ok(refuses(save(d), "h", "cycle"),
     "a cycle of assignment rules is refused");
}

/* Assignment rule as output; rate rule on a parameter; reversible
 * reaction; stoichiometry 2. */
static void t_rules(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  double kf = 0.4, kr = 0.1, a0 = 3.0, aeq = a0 * kr / (kf + kr), t = 2.5;
  comp(m, "c", 1.0);
  species(m, "A", "c", a0, 1);
  species(m, "B", "c", 0.0, 1);
  species(m, "X", "c", 8.0, 1);
  species(m, "Y", "c", 0.0, 1);
  param(m, "kf", kf, 1);
  param(m, "kr", kr, 1);
  param(m, "x", 4.0, 0);
  param(m, "y", 0, 0);
  reaction(m, "r1", "A", "B", "kf * A - kr * B", 1);
  reaction(m, "r2", "2 X", "Y", "0.05 * X", 0);
  rule(m, 1, "x", "-0.5 * x");
  rule(m, 0, "y", "2 * A + time");
  if (load(save(d), "h", NULL)) {
    ok(0, "rules load");
    return;
  }
  is_double(at("c.A", t), aeq + (a0 - aeq) * exp(-(kf + kr) * t), 1e-8,
            "reversible reaction: A -> A_eq at kf + kr");
  is_double(at("c.B", t), a0 - at("c.A", t), 1e-8,
            "reversible reaction: A + B conserved");
  is_double(at("x", t), 4.0 * exp(-0.5 * t), 1e-8, "rate rule: 4 e^(-t/2)");
  is_double(at("y", t), 2 * at("c.A", t) + t, 1e-8,
            "assignment rule output: 2 A + time (time in h)");
  is_double(at("c.X", t), 8.0 * exp(-0.1 * t), 1e-8,
            "stoichiometry 2: X' = -2 r, X = 8 e^(-0.1 t)");
  is_double(at("c.Y", t), (8.0 - at("c.X", t)) / 2, 1e-8,
            "stoichiometry 2: Y = (X0 - X) / 2");
}

/* Local parameter shadowing a global one, a function definition, piecewise
 * and a comparison used as a number. */
static void t_math(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  FunctionDefinition_t *fd;
  Reaction_t *r;
  LocalParameter_t *lp;
  ASTNode_t *a;
  comp(m, "c", 1.0);
  species(m, "A", "c", 1.0, 1);
  species(m, "B", "c", 1.0, 1);
  param(m, "k", 5.0, 1);
  param(m, "x", 0, 0);
  param(m, "z", 0, 0);
  fd = Model_createFunctionDefinition(m);
  FunctionDefinition_setId(fd, "f");
  a = math("lambda(u, kk, kk * u)");
  FunctionDefinition_setMath(fd, a);
  ASTNode_free(a);
  r = reaction(m, "r1", "A", "", "k * A", 0);
  lp = KineticLaw_createLocalParameter(Reaction_getKineticLaw(r));
  LocalParameter_setId(lp, "k");
  LocalParameter_setValue(lp, 0.2);
  reaction(m, "r2", "B", "", "f(B, 0.3)", 0);
  rule(m, 1, "x", "piecewise(1, time < 2, 0)");
  rule(m, 1, "z", "(time < 1) * 3 + (time >= 1 && time < 3)");
  param(m, "sn", 0, 0);
  param(m, "q", 0, 0);
  rule(m, 1, "sn", "cos(time) + 1 / (1 + time^2)");
  rule(m, 0, "q", "quotient(7, 2) + rem(7, 2) + factorial(3) + floor(-1.5)");
  if (load(save(d), "h", NULL)) {
    ok(0, "math model loads");
    return;
  }
  is_double(at("c.A", 3.0), exp(-0.6), 1e-8,
            "local parameter k = 0.2 shadows the global k = 5");
  ok(rkin_model_param_index(R.model, "r1.k", NULL) >= 0,
     "the local parameter is the parameter r1.k");
  is_double(at("c.B", 3.0), exp(-0.9), 1e-8,
            "function definition f(u, kk) = kk u inlined");
  is_double(at("x", 3.0), 2.0, 1e-7, "piecewise rate: x = min(t, 2)");
  is_double(at("z", 4.0), 3.0 + 2.0, 1e-7,
            "comparisons as numbers: 3 (t < 1) + (1 <= t < 3)");
  is_double(at("sn", 3.0), sin(3.0) + atan(3.0), 1e-8,
            "cos and 1/(1 + t^2) integrate to sin(t) + atan(t)");
  is_double(at("q", 1.0), 3 + 1 + 6 - 2, 1e-15,
            "quotient(7,2) + rem(7,2) + factorial(3) + floor(-1.5) = 8");
}

/* Time units: per second in the file, hours in radiokin. */
static void t_time(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  Model_setTimeUnits(m, "second");
  species(m, "A", "c", 10.0, 1);
  param(m, "k", 1e-4, 1);        /* per second */
  reaction(m, "r1", "A", "", "k * A", 0);
  param(m, "tt", 0, 0);
  rule(m, 0, "tt", "time");
  param(m, "rr", 0, 0);
  rule(m, 1, "rr", "0.001");     /* per second */
  save(d);
  if (load(path, NULL, NULL)) {
    ok(0, "time model loads");
    return;
  }
  ok(strcmp(R.time_unit, "s") == 0 && R.time_declared,
     "the file's time unit (second) is read");
  is_double(at("c.A", 2.0), 10.0 * exp(-1e-4 * 7200), 1e-8,
            "rates per second: 2 h = 7200 s");
  is_double(at("tt", 2.0), 7200.0, 1e-12, "time symbol in seconds");
  is_double(at("rr", 2.0), 7.2, 1e-10,
            "a rate rule per second: 0.001 x 7200 s after 2 h");
  ok(refuses(path, "min", "contradicts"),
     "time_unit \"min\" against a file declaring seconds is refused");
  ok(refuses(path, "week", "time_unit must be"), "unknown time_unit");
  d = doc(2, 4, &m);
  comp(m, "c", 1.0);
  species(m, "A", "c", 10.0, 1);
  param(m, "k", 0.01, 1);        /* per minute */
  reaction(m, "r1", "A", "", "k * A", 0);
  if (load(save(d), "min", NULL)) {
    ok(0, "L2V4 model loads");
    return;
  }
  is_double(at("c.A", 1.0), 10.0 * exp(-0.6), 1e-8,
            "time_unit min for a file without declaration: 1 h = 60 min");
}

/* opts.nuclide adds decay to species amounts, also to those that start
 * non-zero (solved as a change); a decay-like reaction warns. */
static void t_nuclide(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  double lam = log(2) / (6.647 * 24);
  comp(m, "c", 1.0);
  species(m, "A", "c", 10.0, 1);
  species(m, "B", "c", 0.0, 1);
  reaction(m, "r1", "A", "B", "0.2 * A", 0);
  reaction(m, "physDecay", "B", "", "0 * B", 0);
  if (load(save(d), "h", "Lu-177")) {
    ok(0, "nuclide model loads");
    return;
  }
  lam = rkin_model_lambda(R.model);
  ok(fabs(lam - log(2) / (6.647 * 24)) < 1e-4 * lam, "Lu-177 lambda");
  is_double(at("c.A", 5.0), 10.0 * exp(-(0.2 + lam) * 5), 1e-8,
            "nuclide: the non-zero initial amount decays too");
  is_double(at("c.A", 5.0) + at("c.B", 5.0), 10.0 * exp(-lam * 5), 1e-8,
            "nuclide: A + B decays at lambda");
  ok(has_warning("looks like physical decay"),
     "a reaction named like decay with a nuclide warns");
}

/* 1 when naming `name` as a dose target fails with a message containing
 * want. */
static int dose_refused(const char *name, const char *want)
{
  rkin_err err;
  if (rkin_model_state_index(R.model, name, &err) >= 0) {
    diag("'%s' is a state", name);
    return 0;
  }
  if (!strstr(err.msg, want)) {
    diag("message '%s' lacks '%s'", err.msg, want);
    return 0;
  }
  return 1;
}

/* Dose targets that are not states: each says why. */
static void t_dose_targets(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  Species_t *b;
  comp(m, "c", 1.0);
  Species_setName(species(m, "s1", "c", 0.0, 1), "Hot");
  species(m, "R", "c", 5.0, 1);
  b = species(m, "Bnd", "c", 1.0, 1);
  Species_setBoundaryCondition(b, 1);
  Species_setConstant(species(m, "Cst", "c", 1.0, 1), 1);
  species(m, "Ru", "c", 0.0, 1);
  rule(m, 0, "Ru", "2 * R");
  reaction(m, "r1", "s1,R", "Bnd", "0.1 * s1 * R", 0);
  if (load(save(d), "h", NULL)) {
    ok(0, "dose-target model loads");
    return;
  }
  ok(rkin_model_state_index(R.model, "c.Hot", NULL) >= 0,
     "a species is the state Compartment.Name");
  ok(dose_refused("s1", "another name of the state 'c.Hot'"),
     "its SBML id names the state to use");
  ok(dose_refused("c.R", "delta(c.R)"),
     "a species starting non-zero: dose to delta(...)");
  ok(dose_refused("c.Bnd", "boundary species"), "a boundary species refused");
  ok(dose_refused("c.Cst", "constant species"), "a constant species refused");
  ok(dose_refused("c.Ru", "assignment rule"), "a rule-set species refused");
  ok(dose_refused("c.Nope", "unknown state 'c.Nope'"),
     "a missing species: unknown, listing the states");
}

/* Refused inputs, each naming what. */
static void t_refused(void)
{
  Model_t *m;
  SBMLDocument_t *d;
  Event_t *ev;
  FILE *f;
  char p[600];
  d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  param(m, "x", 1, 0);
  {
    Rule_t *r = Model_createAlgebraicRule(m);
    ASTNode_t *a = math("x - 1");
    Rule_setMath(r, a);
    ASTNode_free(a);
  }
  ok(refuses(save(d), "h", "algebraic rule"), "algebraic rule refused");
  /* units: a rate rule in mole per second on a parameter in litres */
  d = doc(3, 2, &m);
  Model_setTimeUnits(m, "second");
  Model_setSubstanceUnits(m, "mole");
  Model_setExtentUnits(m, "mole");
  Compartment_setUnits(comp(m, "c", 1.0), "litre");
  Parameter_setUnits(param(m, "x", 1, 0), "litre");
  Parameter_setUnits(param(m, "q", 2, 1), "mole");
  rule(m, 1, "x", "q");
  save(d);
  {
    rkin_sbml_opts o = {.time_unit = "s", .strict = 1};
    rkin_sbml_result r;
    rkin_err err;
    int rc;
    if (load(path, "s", NULL) == 0)
      ok(has_warning("Mismatched units in rate rule"),
         "inconsistent units: a warning naming libSBML's finding");
    else
      ok(0, "units model loads without strict");
    rc = rkin_sbml_load(path, &o, &r, &err);
    if (rc == 0) rkin_sbml_result_free(&r);
    ok(rc != 0 && strstr(err.msg, ".xml: line ")
       && strstr(err.msg, "Mismatched units"),
       "strict: inconsistent units are an error with the line");
  }
  d = doc(3, 1, &m);
  comp(m, "c", 1.0);
  species(m, "A", "c", 1.0, 1);
  Reaction_setFast(reaction(m, "rf", "A", "", "A", 0), 1);
  ok(refuses(save(d), "h", "reaction 'rf'"), "fast reaction refused");
  d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  param(m, "x", 1, 0);
  ev = Model_createEvent(m);
  Event_setId(ev, "ev1");
  Event_setUseValuesFromTriggerTime(ev, 1);
  {
    Trigger_t *tr = Event_createTrigger(ev);
    ASTNode_t *a = math("time > 1");
    Trigger_setMath(tr, a);
    Trigger_setPersistent(tr, 1);
    Trigger_setInitialValue(tr, 0);
    ASTNode_free(a);
    EventAssignment_t *ea = Event_createEventAssignment(ev);
    EventAssignment_setVariable(ea, "x");
    a = math("2");
    EventAssignment_setMath(ea, a);
    ASTNode_free(a);
  }
  /* (events were refused before issue 16's events; now it loads) */
  if (load(save(d), "h", NULL) == 0)
    is_double(at("x", 2.0), 2.0, 0, "an event at t = 1 h sets x = 2");
  else
    ok(0, "event model loads");
  d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  param(m, "x", 1, 0);
  rule(m, 1, "x", "delay(x, 1)");
  ok(refuses(save(d), "h", "delay"), "delay refused");
  snprintf(p, sizeof p, "%s/notsbml.xml", dir);
  f = fopen(p, "w");
  fputs("<?xml version=\"1.0\"?>\n<html>\n<body/>\n</html>\n", f);
  fclose(f);
  ok(refuses(p, "h", "line"), "not SBML: libSBML's message with its line");
  f = fopen(p, "w");
  fputs("<?xml version=\"1.0\"?>\n<sbml xmlns=\"http://www.sbml.org/sbml/"
        "level3/version2/core\" level=\"3\" version=\"2\">\n<model>\n"
        "<listOfSpecies>\n</sbml>\n", f);
  fclose(f);
  ok(refuses(p, "h", "line"), "malformed XML: libSBML's message with line");
  snprintf(p, sizeof p, "%s/none.xml", dir);
  ok(refuses(p, "h", "none.xml"), "a missing file is named");
  /* the same name for a compartment and a parameter: ids instead */
  d = doc(3, 2, &m);
  Compartment_setName(comp(m, "c1", 1.0), "Blood");
  Parameter_setName(param(m, "p1", 1.0, 1), "Blood");
  species(m, "A", "c1", 1.0, 1);
  reaction(m, "r1", "A", "", "p1 * A", 0);
  if (load(save(d), "h", NULL) == 0) {
    ok(has_warning("not unique") && rkin_model_param_index(R.model, "p1",
                                                           NULL) >= 0
       && rkin_model_state_index(R.model, "delta(Blood.A)", NULL) >= 0,
       "a name shared by a compartment and a parameter: both by id, warned "
       "(species keep the compartment's SBML name)");
  } else
    ok(0, "name collision model loads");
}

/* Conversion factors: a constant flux of 1 per hour into A and B, A's
 * factor 2 (its own), B's 3 (the model's): A = 2 t, B = 3 t. */
static void t_conversion(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  species(m, "A", "c", 0, 1);
  species(m, "B", "c", 0, 1);
  param(m, "fa", 2, 1);
  param(m, "fm", 3, 1);
  Species_setConversionFactor(Model_getSpecies(m, 0), "fa");
  Model_setConversionFactor(m, "fm");
  reaction(m, "in", "", "A,B", "1", 0);
  if (load(save(d), "h", NULL) == 0) {
    is_double(at("c.A", 2), 4, 1e-9, "conversion factor of the species: "
              "A = 2 t");
    is_double(at("c.B", 2), 6, 1e-9, "conversion factor of the model: "
              "B = 3 t");
  } else {
    ok(0, "conversion factor model loads");
  }
}

/* rateOf, model in minutes: x' = 2 per minute, y = 3 rateOf(x) = 6; A
 * lost at k = 0.5 per minute, z = rateOf(A) = -k A (per minute), w its
 * value at t0 by an initial assignment (-5). */
static void t_rateof(void)
{
  Model_t *m;
  SBMLDocument_t *d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  species(m, "A", "c", 10, 1);
  param(m, "k", 0.5, 1);
  reaction(m, "r1", "A", "", "k * A", 0);
  param(m, "x", 1, 0);
  param(m, "y", 0, 0);
  param(m, "z", 0, 0);
  param(m, "w", 0, 1);
  rule(m, 1, "x", "2");
  rule(m, 0, "y", "3 * rateOf(x)");
  rule(m, 0, "z", "rateOf(A)");
  init_assign(m, "w", "rateOf(A)");
  if (load(save(d), "min", NULL) == 0) {
    is_double(at("y", 0.5), 6, 1e-12, "rateOf of a rate-rule variable, per "
              "model time unit (minute)");
    is_double(at("z", 0.05), -0.5 * 10 * exp(-0.5 * 3), 1e-7,
              "rateOf of a species: -k A(3 min)");
    is_double(at("w", 1), -5, 1e-12, "rateOf in an initial assignment: "
              "its value at t0");
  } else {
    ok(0, "rateOf model loads");
  }
}

/* ------------------------------------------------------------ events */

/* An event: trigger, delay (NULL: none), priority (NULL: none),
 * initialValue, persistent, useValuesFromTriggerTime, then pairs of
 * variable and formula ending with NULL. */
static Event_t *event(Model_t *m, const char *id, const char *trig,
                      const char *delay, const char *prio, int init,
                      int persist, int from_trigger, ...)
{
  Event_t *ev = Model_createEvent(m);
  Trigger_t *tr = Event_createTrigger(ev);
  ASTNode_t *a = math(trig);
  const char *var;
  va_list ap;
  Event_setId(ev, id);
  Event_setUseValuesFromTriggerTime(ev, from_trigger);
  Trigger_setMath(tr, a);
  Trigger_setPersistent(tr, persist);
  Trigger_setInitialValue(tr, init);
  ASTNode_free(a);
  if (delay) {
    Delay_t *dl = Event_createDelay(ev);
    a = math(delay);
    Delay_setMath(dl, a);
    ASTNode_free(a);
  }
  if (prio) {
    Priority_t *pr = Event_createPriority(ev);
    a = math(prio);
    Priority_setMath(pr, a);
    ASTNode_free(a);
  }
  va_start(ap, from_trigger);
  while ((var = va_arg(ap, const char *))) {
    EventAssignment_t *ea = Event_createEventAssignment(ev);
    EventAssignment_setVariable(ea, var);
    a = math(va_arg(ap, const char *));
    EventAssignment_setMath(ea, a);
    ASTNode_free(a);
  }
  va_end(ap);
  return ev;
}

/* A species A (amount) with first-order elimination k = 0.5 / h. */
static Model_t *eliminating(SBMLDocument_t **d, double a0)
{
  Model_t *m;
  *d = doc(3, 2, &m);
  comp(m, "c", 1.0);
  species(m, "A", "c", a0, 1);
  param(m, "k", 0.5, 1);
  reaction(m, "r1", "A", "", "k * A", 0);
  return m;
}

static void t_events(void)
{
  SBMLDocument_t *d;
  Model_t *m;
  const double k = 0.5;
  double t1, t2;
  /* doses by events at 2 h and 6 h: A = 10 e^(-k (t - 2)) + ... */
  m = eliminating(&d, 0);
  event(m, "dose1", "time >= 2", NULL, NULL, 0, 1, 1, "A", "A + 10", NULL);
  event(m, "dose2", "time >= 6", NULL, NULL, 0, 1, 1, "A", "A + 10", NULL);
  if (load(save(d), "h", NULL) == 0) {
    is_double(at("c.A", 1.9), 0, 1e-12, "dose event: nothing before 2 h");
    is_double(at("c.A", 3), 10 * exp(-k), 1e-7,
              "dose event at 2 h: 10 e^(-k (t - 2)) at 3 h");
    is_double(at("c.A", 8), 10 * exp(-6 * k) + 10 * exp(-2 * k), 1e-7,
              "two dose events: their sum at 8 h");
    ok(R.n_events == 2 && rkin_mevents_count(rkin_model_events(R.model))
       == 2, "two events counted and compiled");
    roundtrip("dose events", 10);
  } else {
    ok(0, "dose events load");
  }
  /* the same in minutes: the trigger's time and the delay are minutes */
  m = eliminating(&d, 0);
  Parameter_setValue(Model_getParameter(m, 0), 0.5 / 60);
  event(m, "dose1", "time >= 60", "60", NULL, 0, 1, 1, "A", "A + 10",
        NULL);
  if (load(save(d), "min", NULL) == 0)
    is_double(at("c.A", 3), 10 * exp(-k), 1e-7,
              "model in minutes: trigger at 60 min, delay 60 min: the dose "
              "at 2 h");
  if (R.model) roundtrip("events in minutes, delay", 5);
  else
    ok(0, "minute model loads");
  /* a threshold: when A falls below 5 it is refilled by 10 and n counts
   * the refills. Crossings at ln 2 / k, then every ln 3 / k. */
  m = eliminating(&d, 10);
  param(m, "n", 0, 0);
  event(m, "refill", "A < 5", NULL, NULL, 1, 1, 1, "A", "A + 10", "n",
        "n + 1", NULL);
  t1 = log(2) / k;
  t2 = t1 + log(3) / k;
  if (load(save(d), "h", NULL) == 0) {
    is_double(at("c.A", 1), 10 * exp(-k), 1e-7, "threshold: before it");
    is_double(at("c.A", 3), 15 * exp(-k * (3 - t1)), 1e-6,
              "threshold: refilled at ln 2 / k, A = 15 e^(-k (t - t1))");
    is_double(at("c.A", 5), 15 * exp(-k * (5 - t2)), 1e-6,
              "threshold: refilled again ln 3 / k later");
    is_double(at("n", 5), 2, 0, "threshold: two refills by 5 h (fired on "
              "each false-to-true crossing only)");
    roundtrip("threshold event", 12);
  } else {
    ok(0, "threshold model loads");
  }
  /* delay 2 h after t = 1 h; B1 takes A at the trigger, B2 at the
   * execution (useValuesFromTriggerTime) */
  m = eliminating(&d, 10);
  param(m, "B1", 0, 0);
  param(m, "B2", 0, 0);
  event(m, "e1", "time >= 1", "2", NULL, 0, 1, 1, "B1", "A", NULL);
  event(m, "e2", "time >= 1", "2", NULL, 0, 1, 0, "B2", "A", NULL);
  if (load(save(d), "h", NULL) == 0) {
    is_double(at("B1", 2.9), 0, 0, "delayed event: not before 3 h");
    is_double(at("B1", 3.5), 10 * exp(-k), 1e-7,
              "delayed event, values from the trigger time: A(1 h)");
    is_double(at("B2", 3.5), 10 * exp(-3 * k), 1e-7,
              "delayed event, values at execution: A(3 h)");
    roundtrip("delayed events", 6);
  } else {
    ok(0, "delay model loads");
  }
  /* simultaneous events: x = 2 x (priority 10), x = x + 3 (priority 1);
   * values at execution: (1 * 2) + 3 = 5 (the other order: 8) */
  {
    int ft;
    for (ft = 0; ft < 2; ft++) {
      d = doc(3, 2, &m);
      comp(m, "c", 1.0);
      param(m, "x", 1, 0);
      event(m, "lo", "time >= 1", NULL, "1", 0, 1, ft, "x", "x + 3", NULL);
      event(m, "hi", "time >= 1", NULL, "10", 0, 1, ft, "x", "2 * x",
            NULL);
      if (load(save(d), "h", NULL) == 0)
        is_double(at("x", 2), ft ? 4 : 5, 0, ft
                  ? "priorities, values from the trigger: the lower "
                    "priority executes last: x = 1 + 3"
                  : "priorities: higher first, x = 2 * 1 + 3");
      if (R.model) roundtrip(ft ? "priorities, trigger values" : "priorities", 3);
      else
        ok(0, "priority model loads");
    }
  }
  /* t0: a trigger true at t0 fires there unless its initial value is
   * true */
  {
    int iv;
    for (iv = 0; iv < 2; iv++) {
      d = doc(3, 2, &m);
      comp(m, "c", 1.0);
      param(m, "x", 0, 0);
      event(m, "e0", "x < 5", NULL, NULL, iv, 1, 1, "x", "7", NULL);
      if (load(save(d), "h", NULL) == 0)
        is_double(at("x", 0), iv ? 0 : 7, 0, iv
                  ? "t0: initialValue true, no firing at t0"
                  : "t0: initialValue false, fires at t0");
      if (R.model) roundtrip(iv ? "initialValue true" : "initialValue false", 2);
      else
        ok(0, "t0 model loads");
    }
  }
  /* persistence: true over [1, 1.5) h, delay 1 h: a non-persistent
   * event is cancelled at 1.5 h */
  {
    int ps;
    for (ps = 0; ps < 2; ps++) {
      d = doc(3, 2, &m);
      comp(m, "c", 1.0);
      param(m, "x", 0, 0);
      event(m, "e", "(time >= 1) && (time < 1.5)", "1", NULL, 0, ps, 1, "x",
            "1", NULL);
      if (load(save(d), "h", NULL) == 0)
        is_double(at("x", 3), ps, 0, ps
                  ? "persistent: executes at 2 h though the trigger is "
                    "false then"
                  : "not persistent: cancelled when the trigger turns "
                    "false");
      if (R.model) roundtrip(ps ? "persistent" : "not persistent", 3);
      else
        ok(0, "persistence model loads");
    }
  }
  /* a concentration species set to 3 in a compartment of 2: amount 6,
   * then lost at k: 6 e^(-k (t - 1)); a compartment set from 2 to 4: a
   * species amount stays, its concentration halves */
  d = doc(3, 2, &m);
  comp(m, "V", 2.0);
  Compartment_setConstant(Model_getCompartment(m, 0), 0);
  species(m, "C", "V", 0, 0);
  species(m, "S", "V", 10, 1);
  Species_setHasOnlySubstanceUnits(Model_getSpecies(m, 1), 0);
  species(m, "R", "V", 5, 0);     /* its state holds the concentration */
  rule(m, 1, "R", "0");
  species(m, "Q", "V", 5, 0);
  rule(m, 1, "Q", "0");
  param(m, "k", 0.5, 1);
  param(m, "conc", 0, 0);
  rule(m, 0, "conc", "S");
  reaction(m, "r1", "C", "", "k * C * V", 0);
  event(m, "setC", "time >= 1", NULL, NULL, 0, 1, 1, "C", "3", NULL);
  event(m, "grow", "time >= 2", NULL, NULL, 0, 1, 1, "V", "4", "Q", "3",
        NULL);
  if (load(save(d), "h", NULL) == 0) {
    is_double(at("V.C", 1.5), 6 * exp(-k * 0.5), 1e-7,
              "concentration assigned: amount = 3 x size 2, then lost");
    is_double(at("conc", 1.5), 5, 1e-12, "species concentration 10 / 2");
    is_double(at("conc", 2.5), 2.5, 1e-12, "compartment set to 4: the "
              "amount stays, the concentration is 10 / 4");
    is_double(at("V.R", 2.5), 2.5, 1e-12, "compartment set to 4: a "
              "concentration under a rate rule is rescaled, 5 x 2 / 4");
    is_double(at("V.Q", 2.5), 1.5, 1e-12, "a concentration set with its "
              "compartment: an amount at the old size, 3 x 2 / 4");
    roundtrip("compartment-changing events", 4);
  } else {
    ok(0, "compartment event model loads");
  }
  /* bad input at run time: a negative delay; events that keep firing
   * each other at one time (bounded, not a hang) */
  {
    int kase;
    for (kase = 0; kase < 2; kase++) {
      d = doc(3, 2, &m);
      comp(m, "c", 1.0);
      param(m, "x", 0, 0);
      if (kase == 0) {
        event(m, "neg", "time >= 1", "-1", NULL, 0, 1, 1, "x", "1", NULL);
      } else {
        event(m, "up", "x < 0.5", NULL, NULL, 0, 1, 1, "x", "1", NULL);
        event(m, "down", "x > 0.5", NULL, NULL, 0, 1, 1, "x", "0", NULL);
      }
      if (load(save(d), "h", NULL) == 0) {
        rkin_solver *s = rkin_solver_new(R.model, NULL, NULL);
        rkin_solve_req q = {0};
        rkin_solve_res r = {0};
        rkin_err err;
        int rc;
        q.t1 = 2;
        rc = s ? rkin_solver_run(s, &q, &r, &err) : -1;
        ok(rc != 0 && strstr(err.msg, kase ? "event 'up'" : "event 'neg'")
           && strstr(err.msg, kase ? "more than 100000 executions"
                                   : "delay is -1 h"),
           kase ? "events firing each other at one time: an error naming "
                  "one, not a hang"
                : "a negative delay: an error naming the event");
        if (rc) diag("%s", err.msg);
        rkin_solver_free(s);
      } else {
        ok(0, "bad event model loads");
      }
    }
  }
  /* engine: no exact path, no sensitivities with events */
  m = eliminating(&d, 0);
  event(m, "dose1", "time >= 2", NULL, NULL, 0, 1, 1, "A", "A + 10", NULL);
  if (load(save(d), "h", NULL) == 0) {
    rkin_solve_opts o;
    rkin_solver *s;
    rkin_err err;
    rkin_solve_opts_default(&o);
    o.path = RKIN_PATH_EXACT;
    s = rkin_solver_new(R.model, &o, &err);
    ok(!s && strstr(err.msg, "event 'dose1'"),
       "a linear model with events refuses the exact path, naming it");
    rkin_solver_free(s);
    o.path = RKIN_PATH_AUTO;
    s = rkin_solver_new(R.model, &o, &err);
    ok(s && rkin_solver_path(s) == RKIN_PATH_CVODES,
       "AUTO: a linear model with events takes CVODES");
    if (s) {
      double t = 1, dir[8] = {1, 1, 1, 1, 1, 1, 1, 1}, y[1], dy[8];
      rkin_solve_req q = {0};
      rkin_solve_res r = {0};
      q.t1 = 1;
      q.times = &t;
      q.n_times = 1;
      r.y = y;
      /* (refused before sensitivities were carried across events;
       * their values: tests/unit/test_evsens) */
      ok(rkin_solver_run_sens(s, &q, dir, 1, &r, dy, NULL, &err) == 0,
         "sensitivities with events run");
    }
    rkin_solver_free(s);
  } else {
    ok(0, "dose event model loads");
  }
}

int main(void)
{
  rkin_init();
  if (!mkdtemp(dir)) {
    printf("1..0 # SKIP no temporary folder\n");
    return 0;
  }
  t_amount();
  t_concentration();
  t_growing();
  t_initial();
  t_rules();
  t_math();
  t_time();
  t_nuclide();
  t_dose_targets();
  t_refused();
  t_events();
  t_conversion();
  t_rateof();
  rkin_sbml_result_free(&R);
  {
    int k;
    char p[600];
    for (k = 0; k < n_files; k++) {
      snprintf(p, sizeof p, "%s/m%d.xml", dir, k);
      unlink(p);
    }
    snprintf(p, sizeof p, "%s/notsbml.xml", dir);
    unlink(p);
    rmdir(dir);
  }
  done_testing();
  return exit_status();
}
