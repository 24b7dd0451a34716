/* model.h - a compiled model: named states, parameters and outputs, the
 * right-hand side, its exact Jacobian, and physical decay.
 *
 * States are activities (MBq) when a nuclide is given: the model then adds
 * -lambda * y_i to every derivative, so the user's equations are biological. */
#ifndef RKIN_MODEL_H
#define RKIN_MODEL_H

#include <stddef.h>

#include "core/err.h"
#include "core/expr.h"
#include "core/mevent.h"
#include "core/nuclide.h"

typedef struct rkin_model rkin_model;

typedef struct {
  const char *name;
  const rkin_nuclide *nuclide;         /* NULL: no physical decay */
  size_t n_states;
  const char *const *states;           /* n_states names */
  const rkin_node *deriv;              /* n_states biological derivatives */
  size_t n_params;
  const char *const *params;           /* n_params names */
  const double *values;                /* n_params default values */
  size_t n_outputs;
  const char *const *outputs;          /* n_outputs names (may be 0) */
  const rkin_node *output_expr;        /* n_outputs expressions */
} rkin_model_spec;

/* Builds the model from nodes of g. Takes ownership of g, also on failure.
 * Checks: names unique and non-empty, nodes valid, parameter values finite. */
rkin_model *rkin_model_new(const rkin_model_spec *spec, rkin_graph *g,
                           rkin_err *err);
void rkin_model_free(rkin_model *m);

const char *rkin_model_name(const rkin_model *m);
const rkin_nuclide *rkin_model_nuclide(const rkin_model *m);
double rkin_model_lambda(const rkin_model *m);    /* 0 without nuclide */
size_t rkin_model_nstates(const rkin_model *m);
size_t rkin_model_nparams(const rkin_model *m);
size_t rkin_model_noutputs(const rkin_model *m);
const char *rkin_model_state_name(const rkin_model *m, size_t i);
const char *rkin_model_param_name(const rkin_model *m, size_t i);
const char *rkin_model_output_name(const rkin_model *m, size_t i);
const double *rkin_model_defaults(const rkin_model *m);
/* Index of a name, or -1 (with an RKIN_ENOTFOUND message listing the
 * known names when err is given). */
int rkin_model_state_index(const rkin_model *m, const char *name,
                           rkin_err *err);
int rkin_model_param_index(const rkin_model *m, const char *name,
                           rkin_err *err);
/* Why names that are not states are not (e.g. an SBML boundary species, or
 * another name of a state): rkin_model_state_index's message for such a
 * name is "'name' is not a state: note". Copies the strings; once. */
int rkin_model_set_state_notes(rkin_model *m, size_t n,
                               const char *const *names,
                               const char *const *notes, rkin_err *err);
int rkin_model_output_index(const rkin_model *m, const char *name,
                            rkin_err *err);

/* The expression graph and the nodes of the user's (biological, decay not
 * included) derivatives and of the outputs, read-only: for building a
 * derived model (regimen.c adds auxiliary states) by copying the nodes
 * into a new graph. Valid while m lives. */
const rkin_graph *rkin_model_graph(const rkin_model *m);
rkin_node rkin_model_deriv_node(const rkin_model *m, size_t i);
rkin_node rkin_model_output_node(const rkin_model *m, size_t i);

/* Scratch doubles any evaluation below needs. */
size_t rkin_model_nwork(const rkin_model *m);

/* ydot = f(t, y, p) including decay. Returns 0, or -1 - i when ydot[i] is
 * not finite (name it with rkin_model_explain). */
int rkin_model_rhs(const rkin_model *m, double t, const double *y,
                   const double *p, double *ydot, double *work);
/* Dense Jacobian df/dy, column-major (J[i + j*n] = df_i/dy_j), as SUNDIALS'
 * dense matrix stores it. Returns 0 or -1 - k for the first non-finite
 * entry k. */
int rkin_model_jac(const rkin_model *m, double t, const double *y,
                   const double *p, double *J, double *work);
/* The structural sparsity of df/dy: the entries not identically 0
 * (decay's diagonal included), in compressed-column order: column j's
 * rows are rowind[colptr[j] .. colptr[j + 1] - 1], ascending; nnz =
 * colptr[n]. Valid while m lives. */
size_t rkin_model_jac_nnz(const rkin_model *m);
const size_t *rkin_model_jac_colptr(const rkin_model *m);
const int *rkin_model_jac_rowind(const rkin_model *m);
/* Their values at (t, y, p) into val (nnz, same order); returns like
 * rkin_model_jac (-1 - (i + j n) for the first non-finite entry). */
int rkin_model_jac_sparse(const rkin_model *m, double t, const double *y,
                          const double *p, double *val, double *work);
/* Output values at (t, y, p); same return convention. */
int rkin_model_outputs(const rkin_model *m, double t, const double *y,
                       const double *p, double *out, double *work);

/* Partial derivatives of outputs that are not linear in the states (the
 * chain rule of their sensitivities): G row-major n_outputs x (n_states +
 * n_params), d out_k / d y_j then d out_k / d p_l, at (t, y, p).
 * RKIN_ENOTLINEAR when the outputs are linear (use C(p) and its
 * derivatives); else returns like rkin_model_rhs. */
int rkin_model_output_partials(const rkin_model *m, double t,
                               const double *y, const double *p, double *G,
                               double *work);

/* Parameter derivatives of the right-hand side and of the outputs along
 * n_dir directions (dir row-major n_dir x n_params), at (t, y, p): fp
 * (n_states x n_dir, row-major) = sum_l df_i/dp_l dir[d][l], and op
 * (n_outputs x n_dir; NULL: not wanted) the same of the outputs. From
 * symbolic derivatives compiled with the model (only those not
 * identically 0 are evaluated). Returns 0, or -1 - i when an entry of
 * state i (i >= n_states: output i - n_states) is not finite. work has
 * rkin_model_nwork doubles. */
int rkin_model_rhs_dparams(const rkin_model *m, double t, const double *y,
                           const double *p, const double *dir, size_t n_dir,
                           double *fp, double *op, double *work);

/* Switching surfaces: the comparisons on states or time in the
 * right-hand side (from ifelse conditions), as root functions g_k = a - b
 * of "a < b" etc.; they change sign where the equations switch, and the
 * CVODES path stops there (CVodeRootInit). 0 switches for a model without
 * such conditions. rkin_model_switches returns like rkin_model_rhs. */
size_t rkin_model_nswitches(const rkin_model *m);
int rkin_model_switches(const rkin_model *m, double t, const double *y,
                        const double *p, double *g, double *work);
/* The comparison k as text ("A > 2"), for messages. */
void rkin_model_switch_text(const rkin_model *m, size_t k, char *buf,
                            size_t size);

/* Message for a non-finite derivative of state i at time t, naming the
 * state and its expression. */
int rkin_model_explain(const rkin_model *m, int state, double t,
                       rkin_err *err);

/* 1 when every derivative is linear in the states with coefficients that
 * depend on parameters only (no time, no constant input): y' = A(p) y.
 * Decided symbolically (every df_i/dy_j free of states and time, f_i
 * folding to 0 at y = 0, no condition on states or time), so an unusual spelling of a linear equation may
 * be reported as nonlinear, never the reverse. */
int rkin_model_is_linear(const rkin_model *m);
/* 1 when every output is linear in the states (out = C(p) y). */
int rkin_model_outputs_linear(const rkin_model *m);
/* A(p) including decay, row-major n x n (A[i*n + j] = df_i/dy_j); p NULL
 * means the defaults. RKIN_ENOTLINEAR (message says which state and why)
 * for a model that is not linear, RKIN_ENONFINITE naming the entry. */
int rkin_model_linear_matrix(const rkin_model *m, const double *p, double *A,
                             rkin_err *err);
/* C(p) of linear outputs, row-major n_outputs x n_states; as above. */
int rkin_model_output_matrix(const rkin_model *m, const double *p, double *C,
                             rkin_err *err);

/* Directional parameter derivatives of A(p) and C(p) (forward
 * sensitivities on the exact path): for each of the n_dir directions d
 * (dir row-major n_dir x n_params), dA[d] = sum_l dir[d][l] dA/dp_l
 * (n_dir x n x n) and, when dC is not NULL, the same of C (n_dir x
 * n_outputs x n). From symbolic derivatives compiled with the model.
 * RKIN_ENOTLINEAR as above; RKIN_ENONFINITE naming entry and parameter. */
int rkin_model_linear_dparams(const rkin_model *m, const double *p,
                              const double *dir, size_t n_dir, double *dA,
                              double *dC, rkin_err *err);

/* ---- Dose modifiers (NONMEM F, ALAG, R, D) per state, expressions of
 * the parameters (no state, no time), compiled with their symbolic
 * parameter derivatives. Layout of values: RKIN_MOD_N rows of n_states. */
enum { RKIN_MOD_F, RKIN_MOD_LAG, RKIN_MOD_RATE, RKIN_MOD_DUR, RKIN_MOD_N };

/* Sets the modifiers from nodes of the model's graph (rkin_model_graph;
 * nodes[kind * n_states + i], -1 where not defined). RKIN_EINVAL naming
 * the state and kind for an invalid node or one that uses a state or
 * time. Call once, right after rkin_model_new. */
int rkin_model_set_dose_mods(rkin_model *m, const rkin_node *nodes,
                             rkin_err *err);
/* 1 when any modifier is defined. */
int rkin_model_has_dose_mods(const rkin_model *m);
/* The node of modifier `kind` of state i in the model's graph, -1 when
 * not defined (a model copied into another graph copies these too). */
rkin_node rkin_model_dose_mod_node(const rkin_model *m, int kind, size_t i);
int rkin_model_dose_mod_defined(const rkin_model *m, int kind, size_t i);
/* Values at p (NULL: defaults) into v (RKIN_MOD_N x n_states): F (1 when
 * not defined), ALAG (0), R and D (NaN when not defined). RKIN_EINVAL
 * naming the state for F or ALAG < 0, R or D <= 0, or a non-finite
 * value. */
int rkin_model_dose_mods(const rkin_model *m, const double *p, double *v,
                         rkin_err *err);
/* Their exact parameter derivatives: dv[(kind * n_states + i) * n_params
 * + l] = d v_kind,i / d p_l (0 where not defined). */
int rkin_model_dose_mods_dparams(const rkin_model *m, const double *p,
                                 double *dv, rkin_err *err);

/* Compiles the model's tapes to machine code with the system compiler
 * (core/native.h; cache_dir NULL: the user's cache), after which every
 * evaluation runs it, with the tape's results bit for bit. Not while the
 * model is being solved. On failure the model keeps its tapes and err
 * says why. */
int rkin_model_native(rkin_model *m, const char *cache_dir, rkin_err *err);
int rkin_model_is_native(const rkin_model *m);
/* ---- Model events (core/mevent.h: SBML events): discrete changes of
 * states when a trigger on states and time becomes true, with optional
 * delay and priority; the CVODES path applies them (a model with events
 * never takes the exact path). Sets ev[0..n-1] (nodes of the model's
 * graph); RKIN_EINVAL naming the event as rkin_mevents_compile. Call once,
 * right after rkin_model_new; n = 0 sets none. */
int rkin_model_set_events(rkin_model *m, const rkin_model_event *ev,
                          size_t n, rkin_err *err);
/* The compiled events, NULL for a model without. */
const rkin_mevents *rkin_model_events(const rkin_model *m);
/* The comparison behind root k of the events as text, for messages. */
void rkin_model_event_root_text(const rkin_model *m, size_t k, char *buf,
                                size_t size);

#endif
