/* sbml_export.c - a radiokin model as SBML Level 3 Version 2, built with
 * libSBML's API: time unit hour (a unit definition of 3600 s); each
 * parameter a constant parameter; each state a non-constant parameter with
 * a rate rule (its derivative, decay included when the model has a
 * nuclide, so the file alone reproduces the simulation); each output a
 * parameter with an assignment rule. SBML names carry radiokin's names
 * (ids are p1.., x1.., y1..), so reading the file back gives the same
 * names; each model event an SBML event on those ids (delays in hours). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sbml/SBMLTypes.h>

#include "sbml/sbml.h"

typedef struct {
  const rkin_graph *g;
  ASTNode_t **memo;      /* per node used again: a copy of its AST */
  unsigned *uses;        /* per node: its uses in the trees written */
  int bad;
} exporter;

static ASTNode_t *op2(int type, ASTNode_t *a, ASTNode_t *b)
{
  ASTNode_t *n = ASTNode_createWithType((ASTNodeType_t)type);
  ASTNode_addChild(n, a);
  if (b) ASTNode_addChild(n, b);
  return n;
}

static ASTNode_t *real1(double v)
{
  ASTNode_t *n = ASTNode_createWithType(AST_REAL);
  ASTNode_setReal(n, v);
  return n;
}

/* libSBML writes 15 significant digits: a number they do not give back
 * exactly is written as hi + lo (hi its 15 digits, lo the rest), which
 * reads back as the same double. */
static int exact15(double v, double *hi)
{
  char buf[40];
  snprintf(buf, sizeof buf, "%.15g", v);
  *hi = strtod(buf, NULL);
  return *hi == v;
}

static ASTNode_t *op2(int type, ASTNode_t *a, ASTNode_t *b);

/* 1 when libSBML reads back the number it writes for v as v. Not only a
 * question of digits: it writes small and large numbers in e-notation
 * (mantissa, exponent) and reads that back as mantissa * 10^exponent,
 * which can miss the nearest double (1.5e-5 reads back 1 ulp off). */
static int sbml_exact(double v)
{
  ASTNode_t *a = real1(v), *b;
  char *xml = writeMathMLToString(a);
  int same = 0;
  ASTNode_free(a);
  if (!xml) return 0;
  b = readMathMLFromString(xml);
  free(xml);
  if (b) {
    same = ASTNode_getReal(b) == v;
    ASTNode_free(b);
  }
  return same;
}

static ASTNode_t *integer(long v)
{
  ASTNode_t *n = ASTNode_createWithType(AST_INTEGER);
  ASTNode_setInteger(n, v);
  return n;
}

static ASTNode_t *real(double v)
{
  double hi, f;
  int e;
  if (!isfinite(v) || sbml_exact(v)) return real1(v);
  /* |v| = (a 2^27 + b) / 2^k exactly (a 2^27 + b the 53-bit integer of
   * its significand; libSBML reads integers of 32 bits only): products,
   * sums and the division are exact. A divide, not a times, which
   * libSBML would merge into a parent times. */
  f = frexp(fabs(v), &e);
  if (e - 53 >= -1022 && e - 53 <= 1023) {
    long m = (long)ldexp(f, 53);
    ASTNode_t *num = op2(AST_PLUS, op2(AST_TIMES, integer(m >> 27),
                                       integer(1L << 27)),
                         integer(m & ((1L << 27) - 1)));
    ASTNode_t *q = op2(AST_DIVIDE, num, op2(AST_POWER, integer(2),
                                            integer(53 - e)));
    return v < 0 ? op2(AST_MINUS, q, NULL) : q;
  }
  /* subnormal: hi - (hi - v), both exact differences */
  exact15(v, &hi);
  return op2(AST_MINUS, real1(hi), real1(hi - v));
}

/* a + b or a * b. libSBML writes a plus whose child is a plus as one
 * n-ary plus, read back as ((a + b1) + b2): another rounding. So a right
 * operand of the same operation goes first (x + y = y + x exactly), or,
 * when both are, is wrapped in piecewise(b, true, 0), which reads back
 * as b. */
static ASTNode_t *nary(int type, rkin_op op, const rkin_graph *g,
                       rkin_node n, ASTNode_t *a, ASTNode_t *b)
{
  int left = rkin_expr_op(g, rkin_expr_arg(g, n, 0)) == op;
  int right = rkin_expr_op(g, rkin_expr_arg(g, n, 1)) == op;
  ASTNode_t *w;
  if (!right) return op2(type, a, b);
  if (!left) return op2(type, b, a);
  w = ASTNode_createWithType(AST_FUNCTION_PIECEWISE);
  ASTNode_addChild(w, b);
  ASTNode_addChild(w, ASTNode_createWithType(AST_CONSTANT_TRUE));
  ASTNode_addChild(w, real1(0));
  return op2(type, a, w);
}

static ASTNode_t *name(char kind, int i)
{
  char id[32];
  ASTNode_t *n = ASTNode_createWithType(AST_NAME);
  snprintf(id, sizeof id, "%c%d", kind, i + 1);
  ASTNode_setName(n, id);
  return n;
}

/* piecewise(v1, c1, v2, c2, otherwise) */
static ASTNode_t *piecewise(ASTNode_t *v1, ASTNode_t *c1, ASTNode_t *v2,
                            ASTNode_t *c2, ASTNode_t *other)
{
  ASTNode_t *n = ASTNode_createWithType(AST_FUNCTION_PIECEWISE);
  ASTNode_addChild(n, v1);
  ASTNode_addChild(n, c1);
  if (v2) {
    ASTNode_addChild(n, v2);
    ASTNode_addChild(n, c2);
  }
  ASTNode_addChild(n, other);
  return n;
}

static ASTNode_t *ast(exporter *x, rkin_node n);

static ASTNode_t *kid(exporter *x, rkin_node n, int k)
{
  return ast(x, rkin_expr_arg(x->g, n, k));
}

static ASTNode_t *build(exporter *x, rkin_node n)
{
  rkin_op op = rkin_expr_op(x->g, n);
  double v;
  ASTNode_t *a;
  switch (op) {
  case RKIN_OP_CONST:
    rkin_expr_is_const(x->g, n, &v);
    return real(v);
  case RKIN_OP_TIME:
    a = ASTNode_createWithType(AST_NAME_TIME);
    ASTNode_setName(a, "time");
    return a;
  case RKIN_OP_STATE: return name('x', rkin_expr_index(x->g, n));
  case RKIN_OP_PARAM: return name('p', rkin_expr_index(x->g, n));
  case RKIN_OP_NEG: return op2(AST_MINUS, kid(x, n, 0), NULL);
  case RKIN_OP_ADD:
    return nary(AST_PLUS, op, x->g, n, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_SUB: return op2(AST_MINUS, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_MUL:
    return nary(AST_TIMES, op, x->g, n, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_DIV: return op2(AST_DIVIDE, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_POW: return op2(AST_POWER, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_EXP: return op2(AST_FUNCTION_EXP, kid(x, n, 0), NULL);
  case RKIN_OP_LOG: return op2(AST_FUNCTION_LN, kid(x, n, 0), NULL);
  case RKIN_OP_SQRT: return op2(AST_FUNCTION_ROOT, kid(x, n, 0), NULL);
  case RKIN_OP_ABS: return op2(AST_FUNCTION_ABS, kid(x, n, 0), NULL);
  case RKIN_OP_MIN: return op2(AST_FUNCTION_MIN, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_MAX: return op2(AST_FUNCTION_MAX, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_SIGN:
    return piecewise(real(-1), op2(AST_RELATIONAL_LT, kid(x, n, 0), real(0)),
                     real(1), op2(AST_RELATIONAL_GT, kid(x, n, 0), real(0)),
                     real(0));
  case RKIN_OP_STEP:
    return piecewise(real(0), op2(AST_RELATIONAL_LT, kid(x, n, 0), real(0)),
                     real(1), op2(AST_RELATIONAL_GT, kid(x, n, 0), real(0)),
                     real(0.5));
  case RKIN_OP_LT: return op2(AST_RELATIONAL_LT, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_LE: return op2(AST_RELATIONAL_LEQ, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_GT: return op2(AST_RELATIONAL_GT, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_GE: return op2(AST_RELATIONAL_GEQ, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_AND: return op2(AST_LOGICAL_AND, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_OR: return op2(AST_LOGICAL_OR, kid(x, n, 0), kid(x, n, 1));
  case RKIN_OP_NOT: return op2(AST_LOGICAL_NOT, kid(x, n, 0), NULL);
  case RKIN_OP_IFELSE:
    return piecewise(kid(x, n, 1), kid(x, n, 0), NULL, NULL, kid(x, n, 2));
  case RKIN_OP_SIN: return op2(AST_FUNCTION_SIN, kid(x, n, 0), NULL);
  case RKIN_OP_COS: return op2(AST_FUNCTION_COS, kid(x, n, 0), NULL);
  case RKIN_OP_TAN: return op2(AST_FUNCTION_TAN, kid(x, n, 0), NULL);
  case RKIN_OP_ASIN: return op2(AST_FUNCTION_ARCSIN, kid(x, n, 0), NULL);
  case RKIN_OP_ACOS: return op2(AST_FUNCTION_ARCCOS, kid(x, n, 0), NULL);
  case RKIN_OP_ATAN: return op2(AST_FUNCTION_ARCTAN, kid(x, n, 0), NULL);
  case RKIN_OP_FLOOR: return op2(AST_FUNCTION_FLOOR, kid(x, n, 0), NULL);
  case RKIN_OP_CEIL: return op2(AST_FUNCTION_CEILING, kid(x, n, 0), NULL);
  case RKIN_OP_FACT: return op2(AST_FUNCTION_FACTORIAL, kid(x, n, 0), NULL);
  }
  x->bad = 1;
  return real(0);
}

/* The AST of node n; a node used again gets a deep copy (MathML is a
 * tree) of the one kept for it. Only such nodes keep one: copying every
 * node's tree for its parent cost the sum of all subtrees, quadratic in
 * the depth (a sum of 2,500 terms: 12 million nodes, 1.4 GB). */
static ASTNode_t *ast(exporter *x, rkin_node n)
{
  ASTNode_t *a;
  if (n < 0) {
    x->bad = 1;
    return real(0);
  }
  if (x->memo[n]) return ASTNode_deepCopy(x->memo[n]);
  a = build(x, n);
  if (x->uses[n] > 1) x->memo[n] = ASTNode_deepCopy(a);
  return a;
}

static Parameter_t *param(Model_t *m, char kind, size_t i, const char *nm,
                          double v, int constant)
{
  Parameter_t *p = Model_createParameter(m);
  char id[32];
  snprintf(id, sizeof id, "%c%zu", kind, i + 1);
  Parameter_setId(p, id);
  Parameter_setName(p, nm);
  Parameter_setValue(p, v);
  Parameter_setConstant(p, constant);
  return p;
}

/* MathML is a tree: a graph whose shared nodes nest (x2 = x1 * x1, x3 =
 * x2 * x2, ...) doubles at each level when written out. Counts the tree
 * nodes of every root (saturating) and refuses more than this. */
#define MAX_TREE 5000000.0

/* Adds the uses of n and, at its first, of the nodes under it. */
static void count_uses(const rkin_graph *g, rkin_node n, unsigned *uses)
{
  int k;
  if (n < 0 || uses[n]++) return;
  for (k = 0; k < 3 && rkin_expr_arg(g, n, k) >= 0; k++)
    count_uses(g, rkin_expr_arg(g, n, k), uses);
}

/* The roots' tree sizes (refused above MAX_TREE) and every node's uses
 * in the trees written. */
static int tree_sizes(const rkin_model *mo, double *total, unsigned *uses,
                      rkin_err *err)
{
  const rkin_graph *g = rkin_model_graph(mo);
  size_t ng = rkin_graph_size(g), i, ns = rkin_model_nstates(mo),
         no = rkin_model_noutputs(mo);
  double *sz = calloc(ng + 1, sizeof *sz);
  if (!sz) return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  for (i = 0; i < ng; i++) {
    int k;
    sz[i] = 1;
    for (k = 0; k < 3; k++) {
      rkin_node c = rkin_expr_arg(g, (rkin_node)i, k);
      if (c < 0) break;
      sz[i] += sz[c];
    }
    if (sz[i] > MAX_TREE) sz[i] = MAX_TREE + 1;
  }
  *total = 0;
  for (i = 0; i < ns + no; i++) {
    rkin_node r = i < ns ? rkin_model_deriv_node(mo, i)
                         : rkin_model_output_node(mo, i - ns);
    *total += r >= 0 ? sz[r] : 0;
    count_uses(g, r, uses);
  }
  for (i = 0; i < rkin_mevents_count(rkin_model_events(mo)); i++) {
    rkin_model_event v;
    size_t j;
    rkin_mevents_spec(rkin_model_events(mo), i, &v);
    *total += sz[v.trigger] + (v.delay >= 0 ? sz[v.delay] : 0)
              + (v.priority >= 0 ? sz[v.priority] : 0);
    count_uses(g, v.trigger, uses);
    count_uses(g, v.delay, uses);
    count_uses(g, v.priority, uses);
    for (j = 0; j < v.n_assign; j++) {
      *total += sz[v.value[j]];
      count_uses(g, v.value[j], uses);
    }
  }
  free(sz);
  if (*total > MAX_TREE)
    return rkin_err_set(err, RKIN_ERANGE, "model '%s': its equations "
                        "written as MathML trees would exceed %.0f nodes "
                        "(shared subexpressions nest too deeply)",
                        rkin_model_name(mo), MAX_TREE);
  return RKIN_OK;
}

/* The event's SBML id: its own name when that is a valid SId none of the
 * writer's ids (p1, x1, y1, e1, ..., the model's) can take and no earlier
 * event has, else e<k+1>. */
static void event_sid(const rkin_mevents *e, size_t k, char *id, size_t size)
{
  const char *nm = rkin_mevents_name(e, k);
  size_t j;
  int ok = SyntaxChecker_isValidSBMLSId(nm)
           && strcmp(nm, "radiokin_model") != 0 && strlen(nm) < size;
  if (ok && strchr("pxye", nm[0]) && nm[1]) {
    size_t d = strspn(nm + 1, "0123456789");
    if (nm[1 + d] == '\0') ok = 0;
  }
  for (j = 0; ok && j < k; j++)
    if (strcmp(rkin_mevents_name(e, j), nm) == 0) ok = 0;
  if (ok)
    snprintf(id, size, "%s", nm);
  else
    snprintf(id, size, "e%zu", k + 1);
}

/* Each model event as an SBML event: the trigger with its initialValue
 * and persistent, the delay (hours, the model's time unit), the priority,
 * useValuesFromTriggerTime, and state i's assignment to x<i+1>. */
static void write_events(exporter *x, Model_t *m, const rkin_mevents *e)
{
  size_t k, j, n = rkin_mevents_count(e);
  for (k = 0; k < n; k++) {
    rkin_model_event v;
    Event_t *ev = Model_createEvent(m);
    Trigger_t *tr;
    ASTNode_t *a;
    char id[256];
    rkin_mevents_spec(e, k, &v);
    event_sid(e, k, id, sizeof id);
    Event_setId(ev, id);
    Event_setName(ev, v.name);
    Event_setUseValuesFromTriggerTime(ev, v.from_trigger);
    tr = Event_createTrigger(ev);
    Trigger_setInitialValue(tr, v.initial_value);
    Trigger_setPersistent(tr, v.persistent);
    a = ast(x, v.trigger);
    Trigger_setMath(tr, a);
    ASTNode_free(a);
    if (v.delay >= 0) {
      Delay_t *d = Event_createDelay(ev);
      a = ast(x, v.delay);
      Delay_setMath(d, a);
      ASTNode_free(a);
    }
    if (v.priority >= 0) {
      Priority_t *p = Event_createPriority(ev);
      a = ast(x, v.priority);
      Priority_setMath(p, a);
      ASTNode_free(a);
    }
    for (j = 0; j < v.n_assign; j++) {
      EventAssignment_t *ea = Event_createEventAssignment(ev);
      char var[32];
      snprintf(var, sizeof var, "x%d", v.target[j] + 1);
      EventAssignment_setVariable(ea, var);
      a = ast(x, v.value[j]);
      EventAssignment_setMath(ea, a);
      ASTNode_free(a);
    }
  }
}

char *rkin_sbml_write_string(const rkin_model *mo, rkin_err *err)
{
  double total;
  SBMLDocument_t *d;
  Model_t *m;
  UnitDefinition_t *ud;
  Unit_t *u;
  exporter x;
  size_t i, ns = rkin_model_nstates(mo), np = rkin_model_nparams(mo),
            no = rkin_model_noutputs(mo);
  double lam = rkin_model_lambda(mo);
  char *text = NULL;
  const double *def = rkin_model_defaults(mo);
  if (rkin_model_has_dose_mods(mo)) {
    rkin_err_set(err, RKIN_EINVAL, "model '%s': dose modifiers (bioav, lag, "
                 "rate, duration) have no SBML form", rkin_model_name(mo));
    return NULL;
  }
  x.g = rkin_model_graph(mo);
  x.bad = 0;
  x.memo = calloc(rkin_graph_size(x.g) + 1, sizeof *x.memo);
  x.uses = calloc(rkin_graph_size(x.g) + 1, sizeof *x.uses);
  if (!x.memo || !x.uses) {
    free(x.memo);
    free(x.uses);
    rkin_err_set(err, RKIN_ENOMEM, "out of memory");
    return NULL;
  }
  if (tree_sizes(mo, &total, x.uses, err)) {
    free(x.memo);
    free(x.uses);
    return NULL;
  }
  d = SBMLDocument_createWithLevelAndVersion(3, 2);
  m = SBMLDocument_createModel(d);
  Model_setId(m, "radiokin_model");
  Model_setName(m, rkin_model_name(mo));
  ud = Model_createUnitDefinition(m);
  UnitDefinition_setId(ud, "hour");
  u = UnitDefinition_createUnit(ud);
  Unit_setKind(u, UNIT_KIND_SECOND);
  Unit_setExponent(u, 1);
  Unit_setScale(u, 0);
  Unit_setMultiplier(u, 3600);
  Model_setTimeUnits(m, "hour");
  for (i = 0; i < np; i++) {
    double hi;
    param(m, 'p', i, rkin_model_param_name(mo, i), def[i], 1);
    if (!exact15(def[i], &hi)) {
      /* the exact value as an initial assignment (see real) */
      InitialAssignment_t *ia = Model_createInitialAssignment(m);
      ASTNode_t *a = real(def[i]);
      char id[32];
      snprintf(id, sizeof id, "p%zu", i + 1);
      InitialAssignment_setSymbol(ia, id);
      InitialAssignment_setMath(ia, a);
      ASTNode_free(a);
    }
  }
  for (i = 0; i < ns; i++) {
    Rule_t *r;
    ASTNode_t *a = ast(&x, rkin_model_deriv_node(mo, i));
    param(m, 'x', i, rkin_model_state_name(mo, i), 0.0, 0);
    if (lam > 0.0)        /* physical decay, as the engine adds it */
      a = op2(AST_MINUS, a, op2(AST_TIMES, real(lam), name('x', (int)i)));
    r = Model_createRateRule(m);
    {
      char id[32];
      snprintf(id, sizeof id, "x%zu", i + 1);
      Rule_setVariable(r, id);
    }
    Rule_setMath(r, a);
    ASTNode_free(a);
  }
  for (i = 0; i < no; i++) {
    Rule_t *r;
    ASTNode_t *a = ast(&x, rkin_model_output_node(mo, i));
    char id[32];
    param(m, 'y', i, rkin_model_output_name(mo, i), 0.0, 0);
    r = Model_createAssignmentRule(m);
    snprintf(id, sizeof id, "y%zu", i + 1);
    Rule_setVariable(r, id);
    Rule_setMath(r, a);
    ASTNode_free(a);
  }
  if (rkin_model_events(mo)) write_events(&x, m, rkin_model_events(mo));
  if (x.bad)
    rkin_err_set(err, RKIN_EINVAL, "model '%s': an expression has no SBML "
                 "form", rkin_model_name(mo));
  else if (!(text = writeSBMLToString(d)))
    rkin_err_set(err, RKIN_ENOMEM, "out of memory writing SBML");
  for (i = 0; i < rkin_graph_size(x.g); i++)
    if (x.memo[i]) ASTNode_free(x.memo[i]);
  free(x.memo);
  free(x.uses);
  SBMLDocument_free(d);
  return text;
}
