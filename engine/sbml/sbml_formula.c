/* sbml_formula.c - limits on a model's function definitions and formulas,
 * checked after libSBML reads the file and before its consistency check,
 * whose time they bound.
 *
 * libSBML's checks inline every call of a function definition (its unit
 * check, its recursion rule FunctionDefinitionRecursion), so a few
 * kilobytes can stand for a formula of 2^32 nodes, or one its unit check
 * needs minutes or an unbounded stack for. Refused here, each naming its
 * element and line:
 * - two function definitions with one id (SBML validation rule 10301):
 *   which one a call means is then not defined, and a cycle through the
 *   other went unseen (found by fuzzing, tests/fuzz/fuzz_sbml: libSBML's
 *   unit check overflowed the stack);
 * - math libSBML's checks cannot take (unsafe_math): a node read as no
 *   math, a nameless <ci>, rateOf without its one argument, a call with
 *   another number of arguments than its function takes or to a function
 *   without a body or with a nameless argument;
 * - a function that calls itself, directly or through others (libSBML's
 *   unit check follows the calls without end);
 * - chains of calls deeper than MAX_FN_CHAIN (libSBML's recursion rule
 *   takes time growing about as the fifth power of the chain: 8 s for 100
 *   functions, minutes for 200);
 * - a function larger than MAX_FN_INLINED nodes with its calls inlined,
 *   any other formula larger than MAX_MATH_INLINED, either deeper than
 *   MAX_INLINED_DEPTH; all formulas together larger than
 *   MAX_MODEL_INLINED.
 * libSBML's unit check also takes time growing with the square of a
 * formula's depth (a sum of n terms is read as n - 1 nested binary
 * pluses: 2,500 terms, 25 kB, took it 21 s) and with every call it
 * inlines (nested calls of f(x) = x in a chain of 5 functions, 10 calls
 * each, took it 1 s, one more function 10 times that). Its cost is
 * estimated by walking the formulas with their calls inlined (unit_walk);
 * above the budget the unit check is left out, with the reason. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbml/sbml_impl.h"

#define MAX_FN_CHAIN 32
#define MAX_FN_INLINED 1e4
#define MAX_MATH_INLINED 1e5
/* all formulas together: radiokin builds each inlined, and writes it so
 * (m:write_sbml): 250 rules g(g(q)) of a 1,000-term g, 45 kB, were a
 * million nodes, 0.3 s to load and 1.7 s to write as 12.5 MB (26 s
 * under ASan). 200,000 nodes are 1,000 reactions of 200 nodes each. */
#define MAX_MODEL_INLINED 2e5
#define MAX_INLINED_DEPTH 5000
/* unit check budget: UNIT_BASE + UNIT_PER_NODE * (nodes as written) */
#define UNIT_BASE 1e5
#define UNIT_PER_NODE 4
#define UNIT_MAX_FRAMES 1000
#define FN_SAT 1e30

typedef struct {
  const char *id;
  unsigned k;
} fn_id;

typedef struct {
  Model_t *m;
  const char *path;
  rkin_err *err;
  fn_id *ids;             /* function ids, sorted */
  unsigned n;
  /* Inlined size of function v as a linear form over its parameters,
   * c + sum_j u_j |x_j|: form[v][0] = c nodes of its own (a call counts
   * as one: every call is an expansion), form[v][1 + j] = u_j copies of
   * whatever is passed as parameter j. Its depth likewise: dform[v][0]
   * the deepest own node, dform[v][1 + j] the deepest use of parameter j
   * (0: unused, so inlining drops its argument). */
  double **form, **dform;
  unsigned *nargs;
  /* per function: 0 callable, else 1 + why not (hollow_why) */
  unsigned char *hollow;
  /* unit_walk */
  double work, budget, written;
  int over;
  double inlined;         /* all formulas' inlined sizes so far */
} fx;

static int fn_id_cmp(const void *a, const void *b)
{
  return strcmp(((const fn_id *)a)->id, ((const fn_id *)b)->id);
}

/* The index of the function definition named name, or -1. */
static int fn_find(const fx *z, const char *name)
{
  fn_id key = {name, 0};
  const fn_id *hit;
  if (!z->n || !name) return -1;
  hit = bsearch(&key, z->ids, z->n, sizeof *z->ids, fn_id_cmp);
  return hit ? (int)hit->k : -1;
}

static const char *fn_name(const FunctionDefinition_t *fd)
{
  return FunctionDefinition_getId(fd) ? FunctionDefinition_getId(fd) : "?";
}

/* Refuses function definition fd: "<path>: function definition '<id>'
 * (line <n>) <what>". */
static int fn_refuse(const fx *z, const FunctionDefinition_t *fd, int code,
                     const char *fmt, ...)
{
  char what[RKIN_ERR_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return rkin_err_set(z->err, code, "%s: function definition '%s' (line %u) "
                      "%s", z->path, fn_name(fd),
                      SBase_getLine((const SBase_t *)fd), what);
}

/* Refuses element el's math: "<path>: the <of><element> on line <n>
 * <what>" (of: "" or "formula of the "). */
static int el_refuse(const fx *z, const SBase_t *el, const char *of,
                     int code, const char *fmt, ...)
{
  char what[RKIN_ERR_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return rkin_err_set(z->err, code, "%s: the %s%s on line %u %s", z->path,
                      of, SBase_getElementName(el), SBase_getLine(el), what);
}

static double sat(double x)
{
  return x < FN_SAT ? x : FN_SAT;
}

static double max2(double a, double b)
{
  return a > b ? a : b;
}

/* The index of the parameter of fd named by leaf a, or -1. */
static int param_of(const FunctionDefinition_t *fd, unsigned nv,
                    const ASTNode_t *a)
{
  unsigned k;
  const char *name = ASTNode_getName(a);
  if (!fd || !name || ASTNode_getNumChildren(a)
      || ASTNode_getType(a) != AST_NAME)
    return -1;
  for (k = 0; k < nv; k++) {
    const ASTNode_t *x = FunctionDefinition_getArgument(fd, k);
    if (x && ASTNode_getName(x) && strcmp(ASTNode_getName(x), name) == 0)
      return (int)k;
  }
  return -1;
}

/* ------------------------------------------------------ hollow bodies */

/* Why function fd cannot be called: libSBML's unit check dereferences a
 * missing body (SIGSEGV) and makes a C++ string of an argument without a
 * name (uncaught std::logic_error, abort), e.g. an <annotation/> inside
 * the <lambda>, which it reads as an argument (found by fuzzing). A
 * function no one calls is left alone (valid SBML; libSBML reports it). */
static unsigned char hollow_why(const FunctionDefinition_t *fd, unsigned nv)
{
  unsigned k;
  if (!FunctionDefinition_getBody(fd)) return 1;
  for (k = 0; k < nv; k++) {
    const ASTNode_t *x = FunctionDefinition_getArgument(fd, k);
    if (!x || ASTNode_getType(x) != AST_NAME || !ASTNode_getName(x)
        || !*ASTNode_getName(x))
      return 2 + (unsigned char)(k < 250 ? k : 250);
  }
  return 0;
}

/* Refuses, in a (el is where a is), what libSBML's unit check cannot
 * take: a node it read as no math (an empty <apply>, a misplaced
 * <annotation/>) or a name without its text, which it makes a C++ string
 * of (an uncaught std::logic_error, abort: found by fuzzing); a rateOf
 * without its one argument (in a rate rule it dereferenced the missing
 * one: SIGSEGV); a call to a function that cannot be called, or with
 * another number of arguments than it takes (the unit check's inlining
 * of f3(x) = f2(), f2 taking one, recursed until the stack overflowed:
 * found by a mutation run). */
static int unsafe_math(const fx *z, const SBase_t *el, const ASTNode_t *a)
{
  unsigned k, nc;
  int h, t;
  const char *name;
  if (!a) return 0;
  nc = ASTNode_getNumChildren(a);
  t = ASTNode_getType(a);
  name = ASTNode_getName(a);
  if (t == AST_UNKNOWN
      || ((t == AST_NAME || t == AST_FUNCTION) && (!name || !*name)))
    return el_refuse(z, el, "", RKIN_EINVAL, "holds MathML that is no "
                     "formula (%s)", t == AST_UNKNOWN
                                         ? "an empty <apply> or an element "
                                           "out of place"
                                         : "a <ci> without a name");
  if (ASTNode_getType(a) == AST_FUNCTION_RATE_OF && nc != 1)
    return el_refuse(z, el, "", RKIN_EINVAL, "calls rateOf with %u "
                     "arguments (it takes one, the id of a symbol)", nc);
  if (ASTNode_getType(a) == AST_FUNCTION
      && (h = fn_find(z, ASTNode_getName(a))) >= 0 && z->hollow[h]) {
    const FunctionDefinition_t *fd = Model_getFunctionDefinition(z->m, h);
    char why[64];
    if (z->hollow[h] == 1)
      snprintf(why, sizeof why, "has no body (its <lambda> holds only "
               "arguments)");
    else
      snprintf(why, sizeof why, "has an argument (number %d) that is not "
               "a name", z->hollow[h] - 1);
    return rkin_err_set(z->err, RKIN_EINVAL, "%s: function definition '%s' "
                        "(line %u) %s, and the %s on line %u calls it",
                        z->path, fn_name(fd),
                        SBase_getLine((const SBase_t *)fd), why,
                        SBase_getElementName(el), SBase_getLine(el));
  }
  if (ASTNode_getType(a) == AST_FUNCTION
      && (h = fn_find(z, ASTNode_getName(a))) >= 0
      && nc != z->nargs[h]) {
    const FunctionDefinition_t *fd = Model_getFunctionDefinition(z->m, h);
    return el_refuse(z, el, "", RKIN_EINVAL, "calls '%s' with %u arguments "
                     "(its definition on line %u takes %u)", fn_name(fd), nc,
                     SBase_getLine((const SBase_t *)fd), z->nargs[h]);
  }
  for (k = 0; k < nc; k++) {
    int rc = unsafe_math(z, el, ASTNode_getChild(a, k));
    if (rc) return rc;
  }
  return 0;
}

/* ---------------------------------------------------------- call graph */

typedef struct {
  unsigned *to;           /* callee of edge e */
  size_t n, cap;
} fn_edges;

static int calls_of(const fx *z, const ASTNode_t *a, fn_edges *e)
{
  unsigned k, nc;
  int h;
  if (!a) return 0;
  if (ASTNode_getType(a) == AST_FUNCTION
      && (h = fn_find(z, ASTNode_getName(a))) >= 0) {
    if (e->n == e->cap) {
      size_t nc2 = e->cap ? 2 * e->cap : 16;
      unsigned *t = realloc(e->to, nc2 * sizeof *t);
      if (!t) return -1;
      e->to = t;
      e->cap = nc2;
    }
    e->to[e->n++] = (unsigned)h;
  }
  nc = ASTNode_getNumChildren(a);
  for (k = 0; k < nc; k++)
    if (calls_of(z, ASTNode_getChild(a, k), e)) return -1;
  return 0;
}

/* ----------------------------------------------------- size and depth */

/* Adds scale times the inlined size of a (in the body of fd, nv
 * parameters; none outside a function) to acc. A call to h weighs 1 +
 * c(h) plus u_i(h) times its argument i; every callee's form is known
 * (callees finish first). */
static void size_add(const fx *z, const FunctionDefinition_t *fd,
                     unsigned nv, const ASTNode_t *a, double scale,
                     double *acc)
{
  unsigned k, nc = ASTNode_getNumChildren(a);
  int h, j;
  if (scale <= 0) return;
  if (ASTNode_getType(a) == AST_FUNCTION
      && (h = fn_find(z, ASTNode_getName(a))) >= 0) {
    const double *f = z->form[h];
    acc[0] = sat(acc[0] + scale * (1 + f[0]));
    for (k = 0; k < nc; k++)
      size_add(z, fd, nv, ASTNode_getChild(a, k),
               k < z->nargs[h] ? sat(scale * f[1 + k]) : scale, acc);
    return;
  }
  if ((j = param_of(fd, nv, a)) >= 0) {
    acc[1 + j] = sat(acc[1 + j] + scale);
    return;
  }
  acc[0] = sat(acc[0] + scale);
  for (k = 0; k < nc; k++)
    size_add(z, fd, nv, ASTNode_getChild(a, k), scale, acc);
}

/* Deepens the depth form acc by node a, whose root sits at depth base
 * with the calls above it inlined (a body's root at 1). A call to h is
 * replaced by h's body rooted where the call was, and each use of h's
 * parameter k by argument k's root. */
static void depth_add(const fx *z, const FunctionDefinition_t *fd,
                      unsigned nv, const ASTNode_t *a, double base,
                      double *acc)
{
  unsigned k, nc = ASTNode_getNumChildren(a);
  int h, j;
  if (ASTNode_getType(a) == AST_FUNCTION
      && (h = fn_find(z, ASTNode_getName(a))) >= 0) {
    const double *d = z->dform[h];
    acc[0] = max2(acc[0], sat(base - 1 + d[0]));
    for (k = 0; k < nc; k++) {
      if (k >= z->nargs[h])             /* an extra argument stays */
        depth_add(z, fd, nv, ASTNode_getChild(a, k), base + 1, acc);
      else if (d[1 + k] > 0)
        depth_add(z, fd, nv, ASTNode_getChild(a, k),
                  sat(base - 1 + d[1 + k]), acc);
    }
    return;
  }
  if ((j = param_of(fd, nv, a)) >= 0) {
    acc[1 + j] = max2(acc[1 + j], base);
    return;
  }
  acc[0] = max2(acc[0], base);
  for (k = 0; k < nc; k++)
    depth_add(z, fd, nv, ASTNode_getChild(a, k), base + 1, acc);
}

/* The forms of function v, its inlined size and depth; -1 without
 * memory. */
static int fn_forms(fx *z, unsigned v, double *size, double *depth)
{
  const FunctionDefinition_t *fd = Model_getFunctionDefinition(z->m, v);
  const ASTNode_t *body = FunctionDefinition_getBody(fd);
  unsigned nv = z->nargs[v], j;
  double *f = calloc(nv + 1, sizeof *f), *d = calloc(nv + 1, sizeof *d);
  if (!f || !d) {
    free(f);
    free(d);
    return -1;
  }
  if (body) {
    size_add(z, fd, nv, body, 1, f);
    depth_add(z, fd, nv, body, 1, d);
  }
  z->form[v] = f;
  z->dform[v] = d;
  *size = f[0];
  *depth = d[0];
  for (j = 0; j < nv; j++) {
    *size = sat(*size + f[1 + j]);
    *depth = max2(*depth, d[1 + j]);
  }
  return 0;
}

/* ------------------------------------------------------ unit-check cost */

typedef struct call_env {
  const FunctionDefinition_t *fd;
  unsigned nv;
  const ASTNode_t *call;
  const struct call_env *up;
} call_env;

/* Walks a with the calls inlined, as libSBML's unit check does, adding
 * each node's depth (a call's too) to z->work: the sum of the depths is
 * the size of every subtree summed, which the unit check's time follows.
 * Stops once over the budget, so the walk itself is bounded. */
static void unit_walk(fx *z, const ASTNode_t *a, const call_env *e,
                      double d, unsigned frames)
{
  unsigned k, nc = ASTNode_getNumChildren(a);
  int h, j;
  if (z->over) return;
  if (frames > UNIT_MAX_FRAMES) {
    z->over = 1;
    return;
  }
  if (e && (j = param_of(e->fd, e->nv, a)) >= 0
      && (unsigned)j < ASTNode_getNumChildren(e->call)) {
    /* the argument, in the caller's scope, takes the parameter's place */
    unit_walk(z, ASTNode_getChild(e->call, (unsigned)j), e->up, d,
              frames + 1);
    return;
  }
  z->work += d;
  if (z->work > z->budget) {
    z->over = 1;
    return;
  }
  if (ASTNode_getType(a) == AST_FUNCTION
      && (h = fn_find(z, ASTNode_getName(a))) >= 0) {
    const FunctionDefinition_t *fd = Model_getFunctionDefinition(z->m, h);
    const ASTNode_t *body = FunctionDefinition_getBody(fd);
    call_env in = {fd, z->nargs[h], a, e};
    if (body) unit_walk(z, body, &in, d, frames + 1);
    for (k = z->nargs[h]; k < nc; k++)
      unit_walk(z, ASTNode_getChild(a, k), e, d + 1, frames + 1);
    return;
  }
  for (k = 0; k < nc; k++)
    unit_walk(z, ASTNode_getChild(a, k), e, d + 1, frames + 1);
}

static double written(const ASTNode_t *a)
{
  unsigned k, nc = ASTNode_getNumChildren(a);
  double s = 1;
  for (k = 0; k < nc; k++) s += written(ASTNode_getChild(a, k));
  return s;
}

/* ------------------------------------------------------------ formulas */

/* Which pass over the model's formulas (each_formula). */
enum { PASS_LIMITS, PASS_UNITS };

/* One formula of element el: checked and counted (PASS_LIMITS), or
 * walked for the unit check's cost (PASS_UNITS, whose budget needs every
 * formula's size as written first). */
static int formula(fx *z, int pass, const SBase_t *el, const ASTNode_t *a)
{
  double acc[1] = {0};
  int rc;
  if (!a || !el) return 0;
  if (pass == PASS_UNITS) {
    unit_walk(z, a, NULL, 1, 0);
    return 0;
  }
  if ((rc = unsafe_math(z, el, a))) return rc;
  z->written += written(a);
  size_add(z, NULL, 0, a, 1, acc);
  if (acc[0] > MAX_MATH_INLINED)
    return el_refuse(z, el, "formula of the ", RKIN_ERANGE, "is %.0f nodes "
                     "with the functions it calls inlined (at most %.0f "
                     "supported)", acc[0], MAX_MATH_INLINED);
  z->inlined += acc[0];
  if (z->inlined > MAX_MODEL_INLINED)
    return rkin_err_set(z->err, RKIN_ERANGE, "%s: the model's formulas are "
                        "over %.0f nodes with the functions they call "
                        "inlined at the %s on line %u (%.0f; at most %.0f "
                        "supported)", z->path, MAX_MODEL_INLINED,
                        SBase_getElementName(el), SBase_getLine(el),
                        z->inlined, MAX_MODEL_INLINED);
  acc[0] = 0;
  depth_add(z, NULL, 0, a, 1, acc);
  if (acc[0] > MAX_INLINED_DEPTH)
    return el_refuse(z, el, "formula of the ", RKIN_ERANGE, "nests %.0f "
                     "deep with the functions it calls inlined (at most %d "
                     "supported)", acc[0], MAX_INLINED_DEPTH);
  return 0;
}

/* Every formula of the model that libSBML checks, in one pass. */
static int each_formula(fx *z, int pass)
{
  Model_t *m = z->m;
  unsigned i, j;
  int rc;
#define F(el, math)                                                        \
  do {                                                                     \
    if ((rc = formula(z, pass, (const SBase_t *)(el), (math)))) return rc; \
    if (z->over) return 0;                                                 \
  } while (0)
  for (i = 0; i < Model_getNumRules(m); i++) {
    const Rule_t *r = Model_getRule(m, i);
    F(r, Rule_getMath(r));
  }
  for (i = 0; i < Model_getNumInitialAssignments(m); i++) {
    const InitialAssignment_t *a = Model_getInitialAssignment(m, i);
    F(a, InitialAssignment_getMath(a));
  }
  for (i = 0; i < Model_getNumReactions(m); i++) {
    Reaction_t *r = Model_getReaction(m, i);
    const KineticLaw_t *k = Reaction_getKineticLaw(r);
    if (k) F(r, KineticLaw_getMath(k));
    for (j = 0; j < Reaction_getNumReactants(r) + Reaction_getNumProducts(r);
         j++) {
      SpeciesReference_t *s =
          j < Reaction_getNumReactants(r)
              ? Reaction_getReactant(r, j)
              : Reaction_getProduct(r, j - Reaction_getNumReactants(r));
      StoichiometryMath_t *sm = SpeciesReference_isSetStoichiometryMath(s)
                                    ? SpeciesReference_getStoichiometryMath(s)
                                    : NULL;
      if (sm) F(s, StoichiometryMath_getMath(sm));
    }
  }
  for (i = 0; i < Model_getNumConstraints(m); i++) {
    const Constraint_t *k = Model_getConstraint(m, i);
    F(k, Constraint_getMath(k));
  }
  for (i = 0; i < Model_getNumEvents(m); i++) {
    Event_t *e = Model_getEvent(m, i);
    const Trigger_t *tr = Event_getTrigger(e);
    const Delay_t *de = Event_getDelay(e);
    const Priority_t *pr = Event_getPriority(e);
    if (tr) F(e, Trigger_getMath(tr));
    if (de) F(e, Delay_getMath(de));
    if (pr) F(e, Priority_getMath(pr));
    for (j = 0; j < Event_getNumEventAssignments(e); j++) {
      const EventAssignment_t *a = Event_getEventAssignment(e, j);
      F(a, EventAssignment_getMath(a));
    }
  }
#undef F
  return 0;
}

/* --------------------------------------------------------- functions */

/* The functions' ids sorted, refusing one id given twice. */
static int fn_ids(fx *z)
{
  unsigned k;
  for (k = 0; k < z->n; k++) {
    const FunctionDefinition_t *fd = Model_getFunctionDefinition(z->m, k);
    const char *id = FunctionDefinition_getId(fd);
    z->ids[k].id = id ? id : "";
    z->ids[k].k = k;
    z->nargs[k] = FunctionDefinition_getNumArguments(fd);
    z->hollow[k] = hollow_why(fd, z->nargs[k]);
  }
  qsort(z->ids, z->n, sizeof *z->ids, fn_id_cmp);
  for (k = 1; k < z->n; k++)
    if (*z->ids[k].id && strcmp(z->ids[k - 1].id, z->ids[k].id) == 0) {
      unsigned a = z->ids[k - 1].k < z->ids[k].k ? z->ids[k - 1].k
                                                 : z->ids[k].k,
               b = z->ids[k - 1].k ^ z->ids[k].k ^ a;
      return rkin_err_set(
          z->err, RKIN_EINVAL, "%s: the function definitions on lines %u "
          "and %u have the same id '%s' (ids are unique in a model: SBML "
          "validation rule 10301)", z->path,
          SBase_getLine((const SBase_t *)Model_getFunctionDefinition(z->m,
                                                                     a)),
          SBase_getLine((const SBase_t *)Model_getFunctionDefinition(z->m,
                                                                     b)),
          z->ids[k].id);
    }
  return 0;
}

/* Cycles, chains, sizes and depths of the function definitions: a
 * depth-first search with an explicit stack over the call graph (edges
 * from the bodies) finds a cycle and each function's longest chain in
 * time linear in the edges, and forms each function once its callees
 * are done. */
static int check_functions(fx *z)
{
  unsigned n = z->n, i;
  fn_edges e = {NULL, 0, 0};
  size_t *first = malloc((n + 1) * sizeof *first);
  size_t *next = malloc(n * sizeof *next), sp, q;
  unsigned *stack = malloc(n * sizeof *stack);
  unsigned *chain = calloc(n, sizeof *chain);
  unsigned char *colour = calloc(n, 1);   /* 0 new, 1 on the path, 2 done */
  double size, depth;
  int rc = 0;
  const FunctionDefinition_t *fd;
  if (!first || !next || !stack || !chain || !colour) goto nomem;
  for (i = 0; i < n; i++) {   /* edges of i: to[first[i] .. first[i+1]) */
    first[i] = e.n;
    if (calls_of(z, FunctionDefinition_getBody(
                        Model_getFunctionDefinition(z->m, i)), &e))
      goto nomem;
  }
  first[n] = e.n;
  for (i = 0; i < n && !rc; i++) {
    if (colour[i]) continue;
    stack[0] = i;
    next[i] = first[i];
    colour[i] = 1;
    sp = 1;
    while (sp && !rc) {
      unsigned v = stack[sp - 1];
      if (next[v] < first[v + 1]) {
        unsigned w = e.to[next[v]++];
        if (colour[w] == 1) {
          rc = fn_refuse(z, Model_getFunctionDefinition(z->m, w),
                         RKIN_EINVAL, "calls itself, directly or through "
                         "other functions: recursive functions are not "
                         "supported");
        } else if (colour[w] == 0) {
          colour[w] = 1;
          next[w] = first[w];
          stack[sp++] = w;
        }
        continue;
      }
      /* finished: its callees are, so its chain is 1 + their longest */
      for (q = first[v]; q < first[v + 1]; q++)
        if (chain[e.to[q]] > chain[v]) chain[v] = chain[e.to[q]];
      chain[v]++;
      if (fn_forms(z, v, &size, &depth)) goto nomem;
      fd = Model_getFunctionDefinition(z->m, v);
      if (chain[v] > MAX_FN_CHAIN)
        rc = fn_refuse(z, fd, RKIN_EINVAL, "starts a chain of %u nested "
                       "function calls (at most %d supported)", chain[v],
                       MAX_FN_CHAIN);
      else if (size > MAX_FN_INLINED)
        rc = fn_refuse(z, fd, RKIN_ERANGE, "is %.0f formula nodes with the "
                       "functions it calls inlined (at most %.0f "
                       "supported)", size, MAX_FN_INLINED);
      else if (depth > MAX_INLINED_DEPTH)
        rc = fn_refuse(z, fd, RKIN_ERANGE, "nests %.0f deep with the "
                       "functions it calls inlined (at most %d supported)",
                       depth, MAX_INLINED_DEPTH);
      colour[v] = 2;
      sp--;
    }
  }
  goto done;
nomem:
  rc = rkin_err_set(z->err, RKIN_ENOMEM, "%s: out of memory", z->path);
done:
  free(e.to);
  free(first);
  free(next);
  free(stack);
  free(chain);
  free(colour);
  return rc;
}

int sbml_check_formulas(Model_t *m, const char *path, rkin_err *err,
                        char *units_skipped, size_t len)
{
  fx z;
  unsigned k;
  int rc = 0;
  memset(&z, 0, sizeof z);
  z.m = m;
  z.path = path;
  z.err = err;
  z.n = Model_getNumFunctionDefinitions(m);
  if (units_skipped && len) units_skipped[0] = 0;
  if (z.n) {
    z.ids = malloc(z.n * sizeof *z.ids);
    z.form = calloc(z.n, sizeof *z.form);
    z.dform = calloc(z.n, sizeof *z.dform);
    z.nargs = calloc(z.n, sizeof *z.nargs);
    z.hollow = calloc(z.n, 1);
    if (!z.ids || !z.form || !z.dform || !z.nargs || !z.hollow) {
      rc = rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
      goto done;
    }
    if ((rc = fn_ids(&z))) goto done;
    for (k = 0; k < z.n; k++) {
      const FunctionDefinition_t *fd = Model_getFunctionDefinition(m, k);
      if ((rc = unsafe_math(&z, (const SBase_t *)fd,
                             FunctionDefinition_getBody(fd))))
        goto done;
    }
    if ((rc = check_functions(&z))) goto done;
  }
  if ((rc = each_formula(&z, PASS_LIMITS))) goto done;
  z.budget = UNIT_BASE + UNIT_PER_NODE * z.written;
  each_formula(&z, PASS_UNITS);
  if (z.over && units_skipped && len)
    snprintf(units_skipped, len, "units not checked: libSBML's unit check "
             "of these formulas, with their calls inlined, would take "
             "time growing with the square of their depth (estimated "
             "above %.0f node levels, the budget for %.0f nodes as "
             "written)", z.budget, z.written);
done:
  for (k = 0; z.form && k < z.n; k++) free(z.form[k]);
  for (k = 0; z.dform && k < z.n; k++) free(z.dform[k]);
  free(z.form);
  free(z.dform);
  free(z.nargs);
  free(z.hollow);
  free(z.ids);
  return rc;
}
