/* test_errmsg_sbml.c - error messages of the SBML importer
 * (engine/sbml/sbml_import.c) on small documents written by hand, each
 * broken one way, loaded through rkin_sbml_load and their text asserted
 * (issue 22 item 3). Constructs libSBML's own consistency check refuses
 * first are listed in tests/errcov/unreachable.txt instead. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/init.h"
#include "sbml/sbml.h"
#include "../tap.h"

static rkin_err err;
static char dir[] = "/tmp/rkin_errmsg_sbml_XXXXXX";
static char path[256];

#define MATH "<math xmlns=\"http://www.w3.org/1998/Math/MathML\">"
#define L3V2 "<sbml xmlns=\"http://www.sbml.org/sbml/level3/version2/core\" " \
             "level=\"3\" version=\"2\">"
#define L3V1 "<sbml xmlns=\"http://www.sbml.org/sbml/level3/version1/core\" " \
             "level=\"3\" version=\"1\">"
/* one compartment C and a species A in it */
#define CA "<listOfCompartments><compartment id=\"C\" size=\"1\" "        \
           "constant=\"true\" spatialDimensions=\"3\"/></listOfCompartments>" \
           "<listOfSpecies><species id=\"A\" compartment=\"C\" "              \
           "initialAmount=\"1\" hasOnlySubstanceUnits=\"true\" "              \
           "boundaryCondition=\"false\" constant=\"false\"/></listOfSpecies>"
/* a rate rule dA/dt = BODY */
#define RR(body) "<listOfRules><rateRule variable=\"A\">" MATH body          \
                 "</math></rateRule></listOfRules>"

static const char *write_doc(const char *head, const char *model)
{
  FILE *f;
  snprintf(path, sizeof path, "%s/m.xml", dir);
  if (!(f = fopen(path, "w"))) return path;
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n%s%s</sbml>\n",
          head, model);
  fclose(f);
  return path;
}

static void refused(const char *head, const char *model, const char *part,
                    const char *what)
{
  rkin_sbml_result res;
  rkin_sbml_opts o;
  int rc;
  memset(&o, 0, sizeof o);
  rkin_err_clear(&err);
  rc = rkin_sbml_load(write_doc(head, model), &o, &res, &err);
  ok(rc < 0, "%s: refused", what);
  like(err.msg, part, "... message: %s", part);
  if (rc == 0) rkin_sbml_result_free(&res);
}

/* The model text of a document, built by appending printf pieces to a
 * growing buffer: every family of sized documents below is written
 * through it. */
typedef struct {
  char *b;
  size_t len, cap;
} sbuf;

static void put(sbuf *s, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
static void put(sbuf *s, const char *fmt, ...)
{
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  if (s->len + (size_t)n + 1 > s->cap) {
    size_t cap = 2 * (s->len + (size_t)n + 1);
    char *b = realloc(s->b, cap);
    if (!b) abort();
    s->b = b;
    s->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(s->b + s->len, s->cap - s->len, fmt, ap);
  va_end(ap);
  s->len += (size_t)n;
}

/* Loads the model text (an L3V2 document) when want is NULL, else expects
 * it refused with want in the message; frees the text. */
static void sized(sbuf *s, const char *want, const char *what)
{
  if (!want) {
    rkin_sbml_result res;
    rkin_sbml_opts o;
    memset(&o, 0, sizeof o);
    rkin_err_clear(&err);
    is_int(rkin_sbml_load(write_doc(L3V2, s->b), &o, &res, &err), 0,
           "%s (%s)", what, err.msg);
    rkin_sbml_result_free(&res);
  } else {
    refused(L3V2, s->b, want, what);
  }
  free(s->b);
  memset(s, 0, sizeof *s);
}

/* f0(x) = f1(x), ..., f(depth-1)(x) = x, and dA/dt = f0(A) */
static void chain(sbuf *s, int depth)
{
  int k;
  put(s, "<model id=\"m\">" CA "<listOfFunctionDefinitions>");
  for (k = 0; k < depth; k++) {
    if (k < depth - 1)
      put(s, "<functionDefinition id=\"f%d\">" MATH "<lambda><bvar><ci>x"
          "</ci></bvar><apply><ci>f%d</ci><ci>x</ci></apply></lambda>"
          "</math></functionDefinition>", k, k + 1);
    else
      put(s, "<functionDefinition id=\"f%d\">" MATH "<lambda><bvar><ci>x"
          "</ci></bvar><ci>x</ci></lambda></math></functionDefinition>", k);
  }
  put(s, "</listOfFunctionDefinitions>"
      RR("<apply><ci>f0</ci><ci>A</ci></apply>") "</model>");
}

/* a rate rule of n nested <apply><minus/> around <ci>A</ci> */
static void nested_minus(sbuf *s, int n)
{
  int k;
  put(s, "<model id=\"m\">" CA "<listOfRules><rateRule variable=\"A\">"
      MATH);
  for (k = 0; k < n; k++) put(s, "<apply><minus/>");
  put(s, "<ci>A</ci>");
  for (k = 0; k < n; k++) put(s, "</apply>");
  put(s, "</math></rateRule></listOfRules></model>");
}

/* g(y) = -(y + ... + y) (n copies), top(x) = g(x x), dA/dt = top(1e-6) */
static void sum_top(sbuf *s, int n)
{
  int k;
  put(s, "<model id=\"m\">" CA "<listOfFunctionDefinitions>"
      "<functionDefinition id=\"g\">" MATH "<lambda><bvar><ci>y</ci></bvar>"
      "<apply><minus/><apply><plus/>");
  for (k = 0; k < n; k++) put(s, "<ci>y</ci>");
  put(s, "</apply></apply></lambda></math></functionDefinition>"
      "<functionDefinition id=\"top\">" MATH "<lambda><bvar><ci>x</ci>"
      "</bvar><apply><ci>g</ci><apply><times/><ci>x</ci><ci>x</ci></apply>"
      "</apply></lambda></math></functionDefinition>"
      "</listOfFunctionDefinitions><listOfRules><rateRule variable=\"A\">"
      MATH "<apply><ci>top</ci><cn>1e-6</cn></apply></math></rateRule>"
      "</listOfRules></model>");
}

/* functions <name>0..<name>top: the first's body base0, the k-th's
 * <name>(k-1)(x) * <name>(k-1)(x) when doubled, else <name>(k-1)(x x);
 * and dA/dt = <name>top(arg) */
static void ladder(sbuf *s, const char *name, const char *base0,
                   int doubled, int top, const char *arg)
{
  int k;
  put(s, "<model id=\"m\">" CA "<listOfFunctionDefinitions>"
      "<functionDefinition id=\"%s0\">" MATH "<lambda><bvar><ci>x</ci>"
      "</bvar>%s</lambda></math></functionDefinition>", name, base0);
  for (k = 1; k <= top; k++) {
    put(s, "<functionDefinition id=\"%s%d\">" MATH "<lambda><bvar><ci>x"
        "</ci></bvar>", name, k);
    if (doubled)
      put(s, "<apply><times/><apply><ci>%s%d</ci><ci>x</ci></apply><apply>"
          "<ci>%s%d</ci><ci>x</ci></apply></apply>", name, k - 1, name,
          k - 1);
    else
      put(s, "<apply><ci>%s%d</ci><apply><times/><ci>x</ci><ci>x</ci>"
          "</apply></apply>", name, k - 1);
    put(s, "</lambda></math></functionDefinition>");
  }
  put(s, "</listOfFunctionDefinitions><listOfRules><rateRule "
      "variable=\"A\">" MATH "<apply><ci>%s%d</ci><cn>%s</cn></apply>"
      "</math></rateRule></listOfRules></model>", name, top, arg);
}

/* f(x) = x + x and a rate rule f(f(...f(A))) of n calls */
static void nested_calls(sbuf *s, int n)
{
  int k;
  put(s, "<model id=\"m\">" CA "<listOfFunctionDefinitions>"
      "<functionDefinition id=\"f\">" MATH "<lambda><bvar><ci>x</ci>"
      "</bvar><apply><plus/><ci>x</ci><ci>x</ci></apply></lambda></math>"
      "</functionDefinition></listOfFunctionDefinitions><listOfRules>"
      "<rateRule variable=\"A\">" MATH);
  for (k = 0; k < n; k++) put(s, "<apply><ci>f</ci>");
  put(s, "<ci>A</ci>");
  for (k = 0; k < n; k++) put(s, "</apply>");
  put(s, "</math></rateRule></listOfRules></model>");
}

static void minus_open(sbuf *s, int n)
{
  while (n-- > 0) put(s, "<apply><minus/>");
}
static void minus_close(sbuf *s, int n)
{
  while (n-- > 0) put(s, "</apply>");
}

/* f0(x, y) = -^j x (y unused; -^n is n nested <apply><minus/>), or
 * with own set x + -^j 1 (its deepest node its own, not x),
 * f1(x) = -^180 f0(x, -^a x), fi(x) = -^180 f(i-1)(x) up to f<top>, and
 * dA/dt = -^m f<top>(-^r A). Inlined, f<top> nests 180 top + j + 1 deep
 * (the call nodes give way to the bodies, f0's unused y drops its
 * argument) and the rule m + 180 top + j + 1 + r; with own, f<top>
 * nests 180 top + j + 2 deep, its x at 180 top + 2. */
static void deep_chain(sbuf *s, int own, int j, int top, int a, int m,
                       int r)
{
  int i;
  put(s, "<model id=\"m\">" CA "<listOfFunctionDefinitions>"
      "<functionDefinition id=\"f0\">" MATH "<lambda><bvar><ci>x</ci>"
      "</bvar><bvar><ci>y</ci></bvar>");
  if (own) put(s, "<apply><plus/><ci>x</ci>");
  minus_open(s, j);
  put(s, own ? "<cn>1</cn>" : "<ci>x</ci>");
  minus_close(s, j);
  if (own) put(s, "</apply>");
  put(s, "</lambda></math></functionDefinition>");
  for (i = 1; i <= top; i++) {
    put(s, "<functionDefinition id=\"f%d\">" MATH "<lambda><bvar><ci>x"
        "</ci></bvar>", i);
    minus_open(s, 180);
    put(s, "<apply><ci>f%d</ci><ci>x</ci>", i - 1);
    if (i == 1) {
      minus_open(s, a);
      put(s, "<ci>x</ci>");
      minus_close(s, a);
    }
    put(s, "</apply>");
    minus_close(s, 180);
    put(s, "</lambda></math></functionDefinition>");
  }
  put(s, "</listOfFunctionDefinitions><listOfRules><rateRule "
      "variable=\"A\">" MATH);
  minus_open(s, m);
  put(s, "<apply><ci>f%d</ci>", top);
  minus_open(s, r);
  put(s, "<ci>A</ci>");
  minus_close(s, r);
  put(s, "</apply>");
  minus_close(s, m);
  put(s, "</math></rateRule></listOfRules></model>");
}

/* g(y) = y + 1 + ... + 1 (n terms) and rules p<i> = g(g(q<i>)), i < r:
 * g is 2 n - 1 nodes, c = 2 n - 2 of its own and y once, so a rule is
 * 1 + c + (1 + c + 1) = 4 n - 1 nodes inlined (each call a node) */
static void many_calls(sbuf *s, int n, int r)
{
  int k;
  put(s, "<model id=\"m\"><listOfFunctionDefinitions><functionDefinition "
      "id=\"g\">" MATH "<lambda><bvar><ci>y</ci></bvar><apply><plus/>"
      "<ci>y</ci>");
  for (k = 1; k < n; k++) put(s, "<cn>1</cn>");
  put(s, "</apply></lambda></math></functionDefinition>"
      "</listOfFunctionDefinitions><listOfParameters>");
  for (k = 0; k < r; k++)
    put(s, "<parameter id=\"p%d\" value=\"1\" constant=\"false\"/>"
        "<parameter id=\"q%d\" value=\"1\" constant=\"true\"/>", k, k);
  put(s, "</listOfParameters><listOfRules>");
  for (k = 0; k < r; k++)
    put(s, "\n<assignmentRule variable=\"p%d\">" MATH "<apply><ci>g</ci>"
        "<apply><ci>g</ci><ci>q%d</ci></apply></apply></math>"
        "</assignmentRule>", k, k);
  put(s, "</listOfRules></model>");
}

/* one function definition f (its <math> holding lambda) and dA/dt =
 * rate, on the document's third line */
static void one_fn(sbuf *s, const char *lambda, const char *rate)
{
  put(s, "<model id=\"m\">" CA "<listOfFunctionDefinitions>"
      "<functionDefinition id=\"f\">" MATH "%s</math></functionDefinition>"
      "</listOfFunctionDefinitions>\n" RR("%s") "</model>", lambda, rate);
}

/* dA/dt = A + 1 + 1 + ... (n terms in one <apply>) */
static void long_sum(sbuf *s, int n)
{
  int k;
  put(s, "<model id=\"m\">" CA "<listOfRules><rateRule variable=\"A\">"
      MATH "<apply><plus/><ci>A</ci>");
  for (k = 1; k < n; k++) put(s, "<cn>1</cn>");
  put(s, "</apply></math></rateRule></listOfRules></model>");
}

/* f0(x) = x, fi(x) = f(i-1)(f(i-1)(...(x))) (c nested calls) up to
 * f<top>, dA/dt = f<top>(A): c^top calls inlined into one node */
static void identity_chain(sbuf *s, int c, int top)
{
  int i, k;
  put(s, "<model id=\"m\">" CA "<listOfFunctionDefinitions>"
      "<functionDefinition id=\"f0\">" MATH "<lambda><bvar><ci>x</ci>"
      "</bvar><ci>x</ci></lambda></math></functionDefinition>");
  for (i = 1; i <= top; i++) {
    put(s, "<functionDefinition id=\"f%d\">" MATH "<lambda><bvar><ci>x"
        "</ci></bvar>", i);
    for (k = 0; k < c; k++) put(s, "<apply><ci>f%d</ci>", i - 1);
    put(s, "<ci>x</ci>");
    minus_close(s, c);
    put(s, "</lambda></math></functionDefinition>");
  }
  put(s, "</listOfFunctionDefinitions>"
      RR("<apply><ci>f%d</ci><ci>A</ci></apply>") "</model>", top);
}

/* Loads s (strict or not) and tells whether a warning contains part;
 * -1 when the load fails (err holds why). */
static int load_warns(sbuf *s, int strict, const char *part)
{
  rkin_sbml_result res;
  rkin_sbml_opts o;
  size_t k;
  int hit = 0;
  memset(&o, 0, sizeof o);
  o.strict = strict;
  rkin_err_clear(&err);
  if (rkin_sbml_load(write_doc(L3V2, s->b), &o, &res, &err)) hit = -1;
  else {
    for (k = 0; k < res.n_warn; k++) hit |= strstr(res.warn[k], part) != 0;
    rkin_sbml_result_free(&res);
  }
  free(s->b);
  memset(s, 0, sizeof *s);
  return hit;
}

int main(void)
{
  rkin_sbml_result res;
  rkin_init();
  if (!mkdtemp(dir)) {
    diag("mkdtemp failed");
    return 1;
  }
  /* the base document loads */
  {
    rkin_sbml_opts o;
    memset(&o, 0, sizeof o);
    rkin_err_clear(&err);
    is_int(rkin_sbml_load(write_doc(L3V2, "<model id=\"m\">" CA
                                    RR("<cn>0</cn>") "</model>"),
                          &o, &res, &err), 0, "the base model loads (%s)",
           err.msg);
    rkin_sbml_result_free(&res);
  }
  rkin_err_clear(&err);
  is_int(rkin_sbml_load(NULL, NULL, &res, &err), RKIN_EINVAL, "NULL path");
  like(err.msg, "rkin_sbml_load: NULL argument", "... message");
  refused(L3V2, "", "the document has no model", "a document without a "
          "model");
  refused(L3V2, "<model id=\"m\">" CA
          RR("<apply><csymbol encoding=\"text\" definitionURL=\"http://www."
             "sbml.org/sbml/symbols/delay\">delay</csymbol><ci>A</ci>"
             "<cn>1</cn></apply>") "</model>",
          "the delay function (csymbol delay) is not supported",
          "a delay");
  refused(L3V1, "<model id=\"m\">" CA
          "<listOfReactions><reaction id=\"R\" reversible=\"false\" "
          "fast=\"true\"><listOfReactants><speciesReference species=\"A\" "
          "stoichiometry=\"1\" constant=\"true\"/></listOfReactants>"
          "<kineticLaw>" MATH "<ci>A</ci></math></kineticLaw></reaction>"
          "</listOfReactions></model>",
          "reaction 'R' (line 2) is fast; fast reactions are not supported",
          "a fast reaction");
  refused(L3V2, "<model id=\"m\">" CA
          "<listOfReactions><reaction id=\"R\" reversible=\"false\">"
          "<listOfReactants><speciesReference species=\"A\" "
          "constant=\"true\"/></listOfReactants>"
          "<kineticLaw>" MATH "<ci>A</ci></math></kineticLaw></reaction>"
          "</listOfReactions></model>",
          "species 'A' in reaction 'R' (line 2) has no stoichiometry",
          "a reactant without stoichiometry");
  refused(L3V2, "<model id=\"m\">" CA
          "<listOfReactions><reaction id=\"R\" reversible=\"false\">"
          "<listOfReactants><speciesReference species=\"A\" "
          "stoichiometry=\"1\" constant=\"true\"/></listOfReactants>"
          "<kineticLaw>" MATH "<apply><times/><ci>k</ci><ci>A</ci></apply>"
          "</math><listOfLocalParameters><localParameter id=\"k\"/>"
          "</listOfLocalParameters></kineticLaw></reaction>"
          "</listOfReactions></model>",
          "local parameter 'k' of reaction 'R' (line 2) has no value",
          "a local parameter without a value");
  refused(L3V2, "<model id=\"m\">" CA
          "<listOfParameters><parameter id=\"k\" constant=\"true\"/>"
          "</listOfParameters>" RR("<ci>k</ci>") "</model>",
          "parameter 'k' (line 2) has no value", "a parameter without a "
          "value");
  refused(L3V2, "<model id=\"m\" timeUnits=\"u\"><listOfUnitDefinitions>"
          "<unitDefinition id=\"u\"><listOfUnits><unit kind=\"metre\" "
          "exponent=\"1\" scale=\"0\" multiplier=\"1\"/></listOfUnits>"
          "</unitDefinition></listOfUnitDefinitions>" CA
          RR("<cn>0</cn>") "</model>",
          "the model's time unit 'u' is not a multiple of seconds",
          "a time unit of metres");
  refused(L3V2, "<model id=\"m\">" CA
          "<listOfParameters><parameter id=\"p\" value=\"1\" "
          "constant=\"false\"/></listOfParameters>"
          "<listOfRules><algebraicRule>" MATH
          "<apply><minus/><ci>p</ci><cn>1</cn></apply></math>"
          "</algebraicRule></listOfRules></model>",
          "algebraic rule (line 2) is not supported", "an algebraic rule");
  /* (comp is read since hierarchical models are flattened: qual is not) */
  refused("<sbml xmlns=\"http://www.sbml.org/sbml/level3/version1/core\" "
          "xmlns:qual=\"http://www.sbml.org/sbml/level3/version1/qual/"
          "version1\" level=\"3\" version=\"1\" qual:required=\"true\">",
          "<model id=\"m\">" CA RR("<cn>0</cn>") "</model>",
          "package 'http://www.sbml.org/sbml/level3/version1/qual/version1' "
          "is required and not supported", "a required package");
  /* recursion: libSBML's unit check would follow it until the stack
   * overflows (a crash before this check existed) */
  refused(L3V2, "<model id=\"m\">" CA
          "<listOfFunctionDefinitions><functionDefinition id=\"f\">" MATH
          "<lambda><bvar><ci>x</ci></bvar><apply><ci>f</ci><ci>x</ci>"
          "</apply></lambda></math>"
          "</functionDefinition></listOfFunctionDefinitions>"
          RR("<apply><ci>f</ci><ci>A</ci></apply>") "</model>",
          "m.xml: function definition 'f' (line 2) calls itself, directly or "
          "through other functions: recursive functions are not supported",
          "a function calling itself");
  refused(L3V2, "<model id=\"m\">" CA
          "<listOfFunctionDefinitions><functionDefinition id=\"h\">" MATH
          "<lambda><bvar><ci>x</ci></bvar><ci>x</ci></lambda></math>"
          "</functionDefinition><functionDefinition id=\"f\">" MATH
          "<lambda><bvar><ci>x</ci></bvar><apply><ci>g</ci><ci>x</ci>"
          "</apply></lambda></math></functionDefinition>"
          "<functionDefinition id=\"g\">" MATH
          "<lambda><bvar><ci>x</ci></bvar><apply><ci>h</ci><apply><ci>f</ci>"
          "<ci>x</ci></apply></apply></lambda></math></functionDefinition>"
          "</listOfFunctionDefinitions>"
          RR("<apply><ci>h</ci><ci>A</ci></apply>") "</model>",
          "calls itself, directly or through other functions",
          "two functions calling each other");
  /* a chain of 33 distinct functions f0(x) = f1(x), ..., f32(x) = x: no
   * recursion, but deeper than accepted (libSBML's recursion rule takes
   * time growing as about the fifth power of the chain); 32 load */
  {
    sbuf s = {0};
    chain(&s, 32);
    sized(&s, NULL, "a chain of 32 functions loads");
    chain(&s, 33);
    sized(&s, "m.xml: function definition 'f0' (line 2) starts a chain of "
          "33 nested function calls (at most 32 supported)",
          "a chain of 33 functions");
  }
  /* nesting: a rate rule of n nested <apply><minus/>; its <ci> is 5 + n
   * levels under <sbml> (model, listOfRules, rateRule, math, n applies):
   * 194 load, 195 (201 levels) are refused before libSBML reads the file,
   * and so are 100,000, which overflowed libSBML's stack (found by
   * fuzzing, tests/fuzz/fuzz_sbml) */
  {
    static const int ns[3] = {194, 195, 100000};
    int j;
    for (j = 0; j < 3; j++) {
      sbuf s = {0};
      nested_minus(&s, ns[j]);
      if (j == 0) {
        sized(&s, NULL, "194 nested operators (200 levels) load");
      } else {
        sized(&s, "m.xml: line 2: elements nested 201 deep (at most 200 "
              "supported", j == 1 ? "195 nested operators"
                                  : "100,000 nested operators");
        is_int(err.code, RKIN_ERANGE, "... as a range error");
      }
    }
  }
  /* inlining: f0(x) = x + 1 (3 nodes: plus, x, 1), fk(x) =
   * f(k-1)(x) * f(k-1)(x): the inlined body is the product of two copies
   * of f(k-1)'s, and each call counts as a node (every call is an
   * expansion), 2 s(k-1) + 3 = 6 2^k - 3 nodes, so f0..f10 (f10: 6141)
   * load and f11 (12,285) is refused before libSBML's checks inline it
   * (25 such functions took libSBML minutes) */
  {
    static const char base[] = "<apply><plus/><ci>x</ci><cn>1</cn></apply>";
    sbuf s = {0};
    ladder(&s, "f", base, 1, 10, "0.001");
    sized(&s, NULL, "f10, 6141 nodes inlined, loads");
    ladder(&s, "f", base, 1, 11, "0.001");
    sized(&s, "m.xml: function definition 'f11' (line 2) is 12285 formula "
          "nodes with the functions it calls inlined (at most 10000 "
          "supported)", "f11, 12285 nodes inlined");
  }
  /* inlining copies an argument once per use of its parameter: h0(x) =
   * x x x (libSBML reads n-ary MathML as binary: (x x) x, 5 nodes, x
   * used 3 times), hk(x) = h(k-1)(x x) (one call, argument x x of 3
   * nodes): inlined, hk is h(k-1)'s body with each of its 3 2^(k-1) uses
   * of x replaced by x x, so x is used u_k = 3 2^k times under
   * c_k = c(k-1) + 1 (the call) + 3 2^(k-1) = 3 2^k + k - 1 other nodes:
   * 6 2^k + k - 1 nodes. h0..h10 (6153) load; h0..h11 (12,298) are
   * refused. Counting each call's argument once (a defect this replaced)
   * gave h11 under 60 nodes. */
  {
    static const char base[] = "<apply><times/><ci>x</ci><ci>x</ci><ci>x"
                               "</ci></apply>";
    sbuf s = {0};
    ladder(&s, "h", base, 0, 10, "1");
    sized(&s, NULL, "h10, 6153 nodes inlined, loads");
    ladder(&s, "h", base, 0, 11, "1");
    sized(&s, "m.xml: function definition 'h11' (line 2) is 12298 formula "
          "nodes with the functions it calls inlined (at most 10000 "
          "supported)", "h11: x used 6144 times under 6154 nodes");
  }
  /* at the limit: g(y) = -(y + y + ... + y) (n copies: n - 1 binary
   * pluses and the minus, 2 n nodes) and top(x) = g(x x) (the call, and
   * each y becomes x x, 3 nodes): 4 n + 1 nodes inlined; n = 2499 (9,997
   * nodes) loads, n = 2500 (10,001) is refused (with the argument counted
   * once top was 2 n + 4 nodes) */
  {
    sbuf s = {0};
    sum_top(&s, 2499);
    sized(&s, NULL, "top = g(x x), 9997 nodes inlined, loads");
    sum_top(&s, 2500);
    sized(&s, "m.xml: function definition 'top' (line 2) is 10001 formula "
          "nodes with the functions it calls inlined (at most 10000 "
          "supported)", "top = g(x x), 10001 nodes");
  }
  /* a formula's calls inlined: f(x) = x + x (3 nodes) and a rate rule
   * f(f(...f(A))) of n calls: S(n) = 1 + 1 + 2 S(n - 1), S(0) = 1, so
   * 3 2^n - 2 nodes inlined (each call a node); n = 12 (12,286) loads,
   * n = 16 (196,606) is refused (at most 100,000 for a formula), and so
   * is n = 40 (libSBML's check did not end in minutes) */
  {
    static const int ns[3] = {12, 16, 40};
    int j;
    for (j = 0; j < 3; j++) {
      sbuf s = {0};
      char want[200];
      nested_calls(&s, ns[j]);
      if (j == 0) {
        sized(&s, NULL, "a rule of 12 nested f(x) = x + x (12286 nodes) "
              "loads");
      } else {
        snprintf(want, sizeof want, "m.xml: the formula of the rateRule on "
                 "line 2 is %.0f nodes with the functions it calls inlined "
                 "(at most 100000 supported)", ldexp(3, ns[j]) - 2);
        sized(&s, want, j == 1 ? "a rule of 16 nested calls"
                               : "a rule of 40 nested calls");
        is_int(err.code, RKIN_ERANGE, "... as a range error");
      }
    }
  }
  /* one id, two function definitions (SBML rule 10301): a call to f19
   * meant libSBML's first f19, which closes a cycle, while the check
   * followed the second, a dead end; libSBML's unit check overflowed the
   * stack (found by fuzzing, tests/fuzz/regress/sbml) */
  refused(L3V2, "<model id=\"m\">" CA "<listOfFunctionDefinitions>"
          "<functionDefinition id=\"g\">" MATH "<lambda><bvar><ci>x</ci>"
          "</bvar><apply><ci>h</ci><ci>x</ci></apply></lambda></math>"
          "</functionDefinition>\n<functionDefinition id=\"h\">" MATH
          "<lambda><bvar><ci>x</ci></bvar><apply><ci>g</ci><ci>x</ci>"
          "</apply></lambda></math></functionDefinition>\n"
          "<functionDefinition id=\"g\">" MATH "<lambda><bvar><ci>x</ci>"
          "</bvar><ci>x</ci></lambda></math></functionDefinition>"
          "</listOfFunctionDefinitions>"
          RR("<apply><ci>h</ci><ci>A</ci></apply>") "</model>",
          "m.xml: the function definitions on lines 2 and 4 have the same "
          "id 'g' (ids are unique in a model: SBML validation rule 10301)",
          "two function definitions named g");
  is_int(err.code, RKIN_EINVAL, "... as an invalid model");
  /* a function libSBML's unit check cannot call: no body (it
   * dereferenced the missing body, SIGSEGV) or an <annotation/> in the
   * <lambda>, read as an argument without a name (it threw
   * std::logic_error through C, abort; found by fuzzing); uncalled, both
   * reach libSBML's check, which refuses them (rules 99302, 99304) */
  {
    static const char *lam[2] = {
      "<lambda><bvar><ci>x</ci></bvar></lambda>",
      "<lambda><annotation/><bvar><ci>x</ci></bvar><ci>x</ci></lambda>"};
    static const char *why[2] = {
      "m.xml: function definition 'f' (line 2) has no body (its <lambda> "
      "holds only arguments), and the rateRule on line 3 calls it",
      "m.xml: function definition 'f' (line 2) has an argument (number 1) "
      "that is not a name, and the rateRule on line 3 calls it"};
    static const char *lib[2] = {
      "m.xml: line 2: There must be a <lambda> body within the <math> "
      "element of a FunctionDefinition object (libSBML 99302)",
      "m.xml: line 2: Invalid element found in <bvar> element (libSBML "
      "99304)"};
    int j;
    for (j = 0; j < 2; j++) {
      sbuf s = {0};
      char what[64];
      one_fn(&s, lam[j], "<apply><ci>f</ci><ci>A</ci></apply>");
      snprintf(what, sizeof what, "%s, called",
               j ? "an annotation as argument" : "no body");
      sized(&s, why[j], what);
      is_int(err.code, RKIN_EINVAL, "... as an invalid model");
      one_fn(&s, lam[j], "<ci>A</ci>");
      snprintf(what, sizeof what, "%s, not called",
               j ? "an annotation as argument" : "no body");
      sized(&s, lib[j], what);
    }
  }
  /* a call with another number of arguments than the function takes:
   * libSBML's unit check recursed without end on f3(x) = f2() (found by
   * a mutation run; regress/sbml/call-missing-argument.xml) */
  {
    static const char *call[2] = {"<apply><ci>f</ci></apply>",
                                  "<apply><ci>f</ci><ci>A</ci><ci>A</ci>"
                                  "</apply>"};
    int j;
    for (j = 0; j < 2; j++) {
      sbuf s = {0};
      char want[160];
      one_fn(&s, "<lambda><bvar><ci>x</ci></bvar><ci>x</ci></lambda>",
             call[j]);
      snprintf(want, sizeof want, "m.xml: the rateRule on line 3 calls 'f' "
               "with %d arguments (its definition on line 2 takes 1)",
               2 * j);
      sized(&s, want, j ? "f(A, A)" : "f()");
    }
  }
  /* rateOf takes one argument: without it, in a rate rule, libSBML's
   * check dereferenced the missing one (SIGSEGV) */
  {
    static const char *args[2] = {"", "<ci>A</ci><ci>A</ci>"};
    int j;
    for (j = 0; j < 2; j++) {
      sbuf s = {0};
      char want[160];
      put(&s, "<model id=\"m\">" CA "\n" RR("<apply><csymbol encoding=\"text\" "
          "definitionURL=\"http://www.sbml.org/sbml/symbols/rateOf\">rateOf"
          "</csymbol>%s</apply>") "</model>", args[j]);
      snprintf(want, sizeof want, "m.xml: the rateRule on line 3 calls "
               "rateOf with %d arguments (it takes one, the id of a "
               "symbol)", 2 * j);
      sized(&s, want, j ? "rateOf(A, A)" : "rateOf()");
    }
  }
  /* libSBML's unit check runs after its other checks and only when they
   * found no error (but 21121): on a quotient of three arguments, one of
   * them an operator, it crashed (SIGSEGV; found by fuzzing), now refused
   * with the other checks' message; an empty <apply> (read as an unknown
   * node, which the unit check made a C++ string of: abort) is refused
   * before them */
  {
    sbuf s = {0};
    put(&s, "<model id=\"m\">" CA "\n" RR("<apply><quotient/><quotient/>"
        "<cn>7</cn><cn>2</cn></apply>") "</model>");
    sized(&s, "m.xml: line 3: ", "quotient(quotient, 7, 2)");
    like(err.msg, "(libSBML 10218)", "... as libSBML's arity error");
    put(&s, "<model id=\"m\">" CA "\n" RR("<apply><plus/><apply></apply>"
        "<ci>A</ci></apply>") "</model>");
    sized(&s, "m.xml: the rateRule on line 3 holds MathML that is no "
          "formula (an empty <apply> or an element out of place)",
          "an empty <apply>");
    put(&s, "<model id=\"m\">" CA "\n" RR("<apply><plus/><ci> </ci>"
        "<ci>A</ci></apply>") "</model>");
    sized(&s, "m.xml: the rateRule on line 3 holds MathML that is no "
          "formula (a <ci> without a name)", "a <ci> of a blank");
    /* a unit attribute naming no unit definition is lenient (10313): the
     * model loads, its units unchecked and so warned */
    put(&s, "<model id=\"m\">" CA "<listOfParameters><parameter id=\"q\" "
        "value=\"1\" units=\"nounit\" constant=\"true\"/>"
        "</listOfParameters>\n" RR("<ci>q</ci>") "</model>");
    is_int(load_warns(&s, 0, "units not checked: libSBML's other checks "
                      "found errors"), 1, "a dangling unit: loads, units "
           "not checked, warned");
  }
  /* depth with the calls inlined (deep_chain): at most 5000 load */
  {
    static const struct {
      int own, j, top, a, m, r;
      const char *want, *what;
    } t[] = {
      {0, 139, 27, 0, 0, 0, NULL, "f27 nests 5000 deep: loads"},
      {0, 140, 27, 0, 0, 0, "m.xml: function definition 'f27' (line 2) "
       "nests 5001 deep with the functions it calls inlined (at most 5000 "
       "supported)", "f27 nests 5001 deep"},
      {0, 89, 27, 0, 0, 50, NULL, "the rule nests 5000 deep: loads"},
      {0, 89, 27, 0, 0, 51, "m.xml: the formula of the rateRule on line 2 "
       "nests 5001 deep with the functions it calls inlined (at most 5000 "
       "supported)", "the rule nests 5001 deep through f27's argument"},
      {0, 89, 27, 0, 51, 0, "m.xml: the formula of the rateRule on line 2 "
       "nests 5001 deep", "the rule nests 5001 deep around the call"},
      /* the deepest node f0's own: the callee's depth counts from where
       * each call sits */
      {1, 138, 27, 0, 0, 0, NULL, "f27 nests 5000 deep, f0's 1 deepest: "
       "loads"},
      {1, 139, 27, 0, 0, 0, "m.xml: function definition 'f27' (line 2) "
       "nests 5001 deep", "f27 nests 5001 deep, f0's 1 deepest"},
      {1, 88, 27, 0, 50, 0, NULL, "the rule of 50 levels around f27 (4950 "
       "deep, f0's 1 deepest) nests 5000 deep: loads"},
      {1, 88, 27, 0, 51, 0, "m.xml: the formula of the rateRule on line 2 "
       "nests 5001 deep", "the rule nests 5001 deep, f0's 1 deepest"},
    };
    size_t q;
    for (q = 0; q < sizeof t / sizeof *t; q++) {
      sbuf s = {0};
      deep_chain(&s, t[q].own, t[q].j, t[q].top, t[q].a, t[q].m, t[q].r);
      sized(&s, t[q].want, t[q].what);
      if (t[q].want) is_int(err.code, RKIN_ERANGE, "... as a range error");
    }
  }
  /* libSBML reads a sum of n terms as n - 1 nested pluses, n deep: 5000
   * load, 5001 are refused before libSBML reads them (400,000 overflowed
   * its reader's stack) */
  {
    sbuf s = {0};
    long_sum(&s, 5000);
    sized(&s, NULL, "a sum of 5000 terms loads");
    long_sum(&s, 5001);
    sized(&s, "m.xml: line 2: a formula 5001 deep as libSBML reads it, an "
          "operator of n arguments as n - 1 nested binary ones (at most "
          "5000 supported)", "a sum of 5001 terms");
    is_int(err.code, RKIN_ERANGE, "... as a range error");
  }
  /* all formulas together at most 200,000 nodes inlined (many_calls:
   * 3,999 a rule for n = 1000): 50 rules (199,950) load, the 51st (line
   * 53: rule i starts line 3 + i) passes the limit */
  {
    sbuf s = {0};
    many_calls(&s, 1000, 50);
    sized(&s, NULL, "50 rules of 3999 nodes inlined load");
    many_calls(&s, 1000, 51);
    sized(&s, "m.xml: the model's formulas are over 200000 nodes with the "
          "functions they call inlined at the assignmentRule on line 53 "
          "(203949; at most 200000 supported)", "51 rules of 3999 nodes");
    is_int(err.code, RKIN_ERANGE, "... as a range error");
  }
  /* libSBML's unit check: its time grows with the sum of the depths of
   * the nodes, calls inlined (a sum of 2,500 terms took it 21 s; 5 nested
   * identity functions of 10 calls each 1 s, 10 times that per level).
   * Budget 100,000 + 4 per node as written: a sum of 100 terms (about
   * 10,000) is checked, one of 1,000 (about 1,000,000) and 10^5 calls
   * inlined are not, with a warning; strict refuses them. */
  {
    static const char why[] = "units not checked: libSBML's unit check";
    sbuf s = {0};
    long_sum(&s, 100);
    is_int(load_warns(&s, 0, why), 0, "a sum of 100 terms: units checked");
    long_sum(&s, 1000);
    is_int(load_warns(&s, 0, why), 1, "a sum of 1000 terms: units not "
           "checked, warned");
    identity_chain(&s, 10, 5);
    is_int(load_warns(&s, 0, why), -1, "10^5 nested identity calls: "
           "refused");
    /* each call a node: f0 = x, c0 = 0 own nodes and x; ck = 10 (1 +
     * c(k-1)), so f4 = c4 + 1 = 11111 */
    like(err.msg, "m.xml: function definition 'f4' (line 2) is 11111 "
         "formula nodes with the functions it calls inlined (at most 10000 "
         "supported)", "... as 11111 nodes");
    identity_chain(&s, 10, 2);
    is_int(load_warns(&s, 0, why), 0, "100 nested identity calls: units "
           "checked");
    long_sum(&s, 1000);
    is_int(load_warns(&s, 1, why), -1, "strict: refused");
    like(err.msg, "m.xml: strict: units not checked", "... naming why");
  }
  unlink(path);
  rmdir(dir);
  done_testing();
  return exit_status();
}
