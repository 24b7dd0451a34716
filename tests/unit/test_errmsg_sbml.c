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
   * of f(k-1)'s (the call nodes vanish), 2 s(k-1) + 1 = 4 2^k - 1 nodes,
   * so f0..f11 (f11: 8191) load and f12 (16,383) is refused before
   * libSBML's checks inline it (25 such functions took libSBML minutes) */
  {
    static const char base[] = "<apply><plus/><ci>x</ci><cn>1</cn></apply>";
    sbuf s = {0};
    ladder(&s, "f", base, 1, 11, "0.001");
    sized(&s, NULL, "f11, 8191 nodes inlined, loads");
    ladder(&s, "f", base, 1, 12, "0.001");
    sized(&s, "m.xml: function definition 'f12' (line 2) is 16383 formula "
          "nodes with the functions it calls inlined (at most 10000 "
          "supported)", "f12, 16383 nodes inlined");
  }
  /* inlining copies an argument once per use of its parameter: h0(x) =
   * x x x (libSBML reads n-ary MathML as binary: (x x) x, 5 nodes, x
   * used 3 times), hk(x) = h(k-1)(x x) (one call, argument x x of 3
   * nodes): inlined, hk is h(k-1)'s body with each of its 3 2^(k-1) uses
   * of x replaced by x x, so x is used u_k = 3 2^k times under
   * c_k = 3 2^k - 1 other nodes: 6 2^k - 1 nodes. h0..h10 (6143) load;
   * h0..h11 (12,287) are refused.
   * Counting each call's argument once (the defect this replaces) gave
   * h11 under 60 nodes. */
  {
    static const char base[] = "<apply><times/><ci>x</ci><ci>x</ci><ci>x"
                               "</ci></apply>";
    sbuf s = {0};
    ladder(&s, "h", base, 0, 10, "1");
    sized(&s, NULL, "h10, 6143 nodes inlined, loads");
    ladder(&s, "h", base, 0, 11, "1");
    sized(&s, "m.xml: function definition 'h11' (line 2) is 12287 formula "
          "nodes with the functions it calls inlined (at most 10000 "
          "supported)", "h11: x used 6144 times under 6143 nodes");
  }
  /* at the limit: g(y) = -(y + y + ... + y) (n copies: n - 1 binary
   * pluses and the minus, 2 n nodes) and top(x) = g(x x) (each y becomes
   * x x, 3 nodes): 4 n nodes inlined; n = 2500 (10,000 nodes) loads,
   * n = 2501 (10,004) is refused (with the argument counted once top was
   * 2 n + 4 nodes) */
  {
    sbuf s = {0};
    sum_top(&s, 2500);
    sized(&s, NULL, "top = g(x x), 10000 nodes inlined, loads");
    sum_top(&s, 2501);
    sized(&s, "m.xml: function definition 'top' (line 2) is 10004 formula "
          "nodes with the functions it calls inlined (at most 10000 "
          "supported)", "top = g(x x), 10004 nodes");
  }
  /* a formula's calls inlined: f(x) = x + x (3 nodes) and a rate rule
   * f(f(...f(A))) of n calls: 2^(n+1) - 1 nodes inlined; n = 12 (8191)
   * loads, n = 16 (131,071) is refused (at most 100,000 for a formula),
   * and so is n = 40 (2^41 - 1: libSBML's check did not end in minutes) */
  {
    static const int ns[3] = {12, 16, 40};
    int j;
    for (j = 0; j < 3; j++) {
      sbuf s = {0};
      char want[200];
      nested_calls(&s, ns[j]);
      if (j == 0) {
        sized(&s, NULL, "a rule of 12 nested f(x) = x + x (8191 nodes) "
              "loads");
      } else {
        snprintf(want, sizeof want, "m.xml: the formula of the rateRule on "
                 "line 2 is %.0f nodes with the functions it calls inlined "
                 "(at most 100000 supported)", ldexp(1, ns[j] + 1) - 1);
        sized(&s, want, j == 1 ? "a rule of 16 nested calls"
                               : "a rule of 40 nested calls");
        is_int(err.code, RKIN_ERANGE, "... as a range error");
      }
    }
  }
  unlink(path);
  rmdir(dir);
  done_testing();
  return exit_status();
}
