/* sbml.h - SBML models (Level 2 Versions 1-5, Level 3 Versions 1-2 core)
 * read through libSBML into an ordinary radiokin model.
 *
 * Semantics (SBML core specification):
 * - Species changed by reactions or rate rules are states; a species state
 *   holds its amount (substance units of the file), so a dose adds to the
 *   amount; in the math a species symbol is its concentration (amount /
 *   compartment size, the size at the same time) unless
 *   hasOnlySubstanceUnits or the compartment has 0 dimensions. A species
 *   with a rate rule holds the value the rule sets (amount or
 *   concentration).
 * - A state whose initial value is not 0 is solved as its change from
 *   that value (state "delta(name)"; the value itself is the output
 *   "name"), so every run starts from the model's initial state while a
 *   run's y0 and doses still work as for any model, and initial values
 *   that depend on parameters follow those parameters.
 * - Initial assignments, assignment rules and initial values are resolved
 *   through their dependencies (cycles are an error naming them);
 *   assignment-rule variables, rule-driven compartments, parameters set by
 *   initial assignments and species not solved as states are outputs.
 * - Parameters without rules or initial assignments, and the local
 *   parameters of kinetic laws ("reaction.parameter"), are parameters.
 * - Function definitions are inlined; piecewise and relational/boolean
 *   operators work as numbers too (true = 1).
 * - Model time: opts->time_unit or the file's declaration; radiokin's time
 *   is hours, so derivatives are divided by the hours per model time unit
 *   and the time symbol is t / (hours per unit).
 * - Events (model events, core/mevent.h; fired by the CVODES path as
 *   solve/mevent_run.h says): triggers, delays (model time, converted to
 *   hours), priorities, initialValue, persistent,
 *   useValuesFromTriggerTime (Level 2: initial value true, persistent).
 *   Variables an event assigns are states (derivative 0 unless rules or
 *   reactions change them); a value assigned to a concentration species
 *   becomes its amount at the compartment's size then; a compartment set
 *   by an event keeps its species' amounts (a state holding a
 *   concentration is rescaled).
 * - Conversion factors (L3: the species', else the model's) multiply
 *   what reactions add to a species.
 * - rateOf (L3V2): the symbol's value differentiated along the states'
 *   derivatives and time, per model time unit; at t0 (initial
 *   assignments) from the t0 values.
 * Not supported (an error naming the element): algebraic rules, fast
 * reactions, delay, required L3
 * packages, infinite or NaN values. libSBML is linked statically with its
 * symbols hidden (configure.ac: DCMTK also defines a class XMLNode). */
#ifndef RKIN_SBML_H
#define RKIN_SBML_H

#include <stddef.h>

#include "core/err.h"
#include "core/model.h"
#include "core/nuclide.h"

typedef struct {
  const char *time_unit;          /* "s", "min", "h", "d"; NULL: the file's */
  const rkin_nuclide *nuclide;    /* NULL: no decay added */
  int strict;                     /* unit warnings become errors */
  int fluxes;                     /* 1: every reaction's rate (substance
                                     per hour) is an output "flux:name" */
} rkin_sbml_opts;

/* One SBML symbol as the model names it. */
typedef struct {
  char *id;        /* SBML id */
  char *name;      /* the model's name (Compartment.Species, name or id) */
  char *plain;     /* the SBML name (NULL when none) */
  int kind;        /* 'c' compartment, 's' species, 'p' parameter,
                      'r' reaction, 'l' local parameter */
  int where;       /* 's' state, 'o' output, 'p' parameter, 0 neither */
  int hosu;        /* species: hasOnlySubstanceUnits (value is amount) */
  int boundary;    /* species: boundaryCondition or constant */
  int holds_conc;  /* species: its state / output is a concentration (a
                      rate rule on a concentration), not the amount */
  char *compartment;  /* species: the compartment's model name */
  char *units;     /* the units attribute (NULL when none) */
} rkin_sbml_symbol;

typedef struct {
  rkin_model *model;
  double hours_per_unit;       /* of the model's time unit */
  char time_unit[16];          /* "s", "min", "h", "d" or "other" */
  int time_declared;           /* 1 when the file declares it */
  size_t n_sym;
  rkin_sbml_symbol *sym;
  size_t n_warn;
  char **warn;                 /* messages (capped) */
  int level, version;
  size_t n_reactions, n_rules, n_initial_assignments, n_functions;
  size_t n_events;
  int flattened;               /* 1: a hierarchical (comp) model, read
                                  after libSBML flattened its submodels */
} rkin_sbml_result;

/* Reads path into res->model (with its names and warnings). On failure
 * res holds nothing to free and err says what, naming the element (and
 * line where libSBML gives one). */
int rkin_sbml_load(const char *path, const rkin_sbml_opts *opts,
                   rkin_sbml_result *res, rkin_err *err);
/* Frees everything in res except a model taken out (set res->model NULL
 * to keep it). */
void rkin_sbml_result_free(rkin_sbml_result *res);

/* The model m as an SBML Level 3 Version 2 document (malloc'd text; the
 * caller frees): time in hours, parameters, each state a parameter with a
 * rate rule (decay included for a model with a nuclide), each output a
 * parameter with an assignment rule, radiokin's names as SBML names.
 * Model events are SBML events (delays in hours; state i is x<i+1>).
 * Reading it back (rkin_sbml_load) gives the same model. NULL and err for
 * a model with dose modifiers (no SBML form). */
char *rkin_sbml_write_string(const rkin_model *m, rkin_err *err);

#endif
