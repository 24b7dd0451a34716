/* model_python.h - a model's equations as a Python module, for peers
 * that solve the same right-hand side with other integrators (scipy).
 *
 * The module defines STATES, PARAMS, OUTPUTS (names, model order),
 * DEFAULTS (the parameter values), LAMBDA (physical decay per hour, 0
 * without a nuclide) and two functions of time t (h), the state list y
 * and the parameter list p, both plain Python: rhs(t, y, p) -> list of
 * dy/dt (decay included) and outputs(t, y, p) -> list of outputs. Shared
 * subexpressions are computed once (temporaries, in graph order). Numbers
 * are written with 17 significant digits where fewer do not round-trip,
 * so the module computes what the tape computes up to the order of
 * floating-point operations. Only the math module is used. */
#ifndef RKIN_MODEL_PYTHON_H
#define RKIN_MODEL_PYTHON_H

#include "core/err.h"
#include "core/model.h"

/* The module's text (malloc'd; the caller frees), or NULL with err
 * (out of memory). Model events and dose modifiers are not written: the
 * module says so in a comment line "# not written: ...". */
char *rkin_model_python(const rkin_model *m, rkin_err *err);

#endif
