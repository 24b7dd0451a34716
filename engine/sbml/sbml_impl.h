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

/* Whether the document declares the comp package (hierarchical models). */
int sbml_comp_used(SBMLDocument_t *d);

/* Flattens d's submodels into its main model in place (libSBML's
 * CompFlatteningConverter, with its validation); errors name `path`. */
int sbml_comp_flatten(SBMLDocument_t *d, const char *path, rkin_err *err);

#endif
