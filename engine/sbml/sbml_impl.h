/* sbml_impl.h - internal to engine/sbml: the steps of the import that
 * live in their own files. */
#ifndef RKIN_SBML_IMPL_H
#define RKIN_SBML_IMPL_H

#include <sbml/SBMLTypes.h>

#include "core/err.h"

/* At most this many model instances (the main model and every submodel,
 * recursively) in a hierarchical model: beyond it flattening would make
 * a model no one writes by hand. */
#define SBML_COMP_MAX_INSTANCES 10000

/* Refuses (RKIN_ERANGE) a file whose XML elements nest deeper than
 * libSBML's recursive reader can take, read by libxml2's streaming reader
 * before libSBML sees it; a file that does not open or parse passes (the
 * reader reports it). */
int sbml_check_nesting(const char *path, rkin_err *err);

/* Refuses (code set, err naming path and the element's line) function
 * definitions with one id, that call themselves or chain too deep, and
 * formulas too large or deep with their calls inlined (sbml_formula.c);
 * then estimates the cost of libSBML's unit check: above its budget
 * units_skipped (len bytes) gets the reason, else "". */
int sbml_check_formulas(Model_t *m, const char *path, rkin_err *err,
                        char *units_skipped, size_t len);

/* Whether the document declares the comp package (hierarchical models). */
int sbml_comp_used(SBMLDocument_t *d);

/* Flattens d's submodels into its main model in place (libSBML's
 * CompFlatteningConverter, with its validation); errors name `path`. */
int sbml_comp_flatten(SBMLDocument_t *d, const char *path, rkin_err *err);

#endif
