/* model.c - a model compiled from an expression graph: right-hand side with
 * physical decay, exact Jacobian, outputs, and the linearity analysis the
 * exact solver path relies on. */
#include "core/model.h"
#include "core/native.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY 320      /* room for a reason a model is not linear */
#define STACK_WORK 512

struct rkin_model {
  char *name;
  const rkin_nuclide *nuclide;
  double lambda;
  size_t n, np, nout;
  char **states, **params, **outputs;
  double *defaults;
  double *zeros;             /* n_states zeros: y = 0 for A(p), C(p) */
  rkin_graph *g;
  rkin_node *deriv;          /* the user's (biological) derivatives */
  rkin_node *out_expr;
  rkin_tape *rhs, *out;
  /* df/dy: the tape of its structural nonzeros (entries not identically
   * 0) in compressed-column order: column j's are jac_row[jac_colptr[j]
   * .. jac_colptr[j + 1] - 1]. The dense Jacobian scatters them. */
  rkin_tape *jac;
  size_t jnz, *jac_colptr;
  int *jac_row, *jac_col;
  rkin_tape *lin, *outlin;   /* row-major A(p) / C(p) when linear */
  /* Parameter derivatives of A(p) and C(p) (linear models): the entries
   * not identically 0, entry k being d(M[dl_idx[k]])/dp[dl_par[k]] with
   * M = A followed by C (row-major, n*n + nout*n). */
  rkin_tape *dlin;
  size_t n_dl, *dl_idx, *dl_par;
  /* Parameter derivatives of the right-hand side and the outputs (any
   * model; forward sensitivities on the CVODES path): the entries not
   * identically 0, entry k being d(v[pj_idx[k]])/dp[pj_par[k]] with v =
   * f (n) followed by the outputs (nout). */
  rkin_tape *pj;
  size_t n_pj, *pj_idx, *pj_par;
  /* Switching surfaces of the right-hand side: the comparisons a < b (etc.)
   * on states or time it contains, evaluated as a - b for root finding. */
  rkin_node *sw;
  size_t nsw;
  rkin_tape *swt;
  /* Nonlinear outputs: d out / d (y, p), n_out x (n + np) row-major. */
  rkin_tape *outjac;
  size_t nwork;
  /* Dose modifiers: RKIN_MOD_N x n nodes (-1 undefined), their tape (an
   * undefined F is 1, the others 0) and its parameter derivatives. */
  rkin_node *mods;
  rkin_tape *mods_tape, *dmods_tape;
  int has_mods;
  /* model events (rkin_model_set_events), NULL when none */
  rkin_mevents *mev;
  /* why some names are not states (rkin_model_set_state_notes) */
  size_t n_notes;
  char **note_names, **notes;
  int linear, out_linear;
  char why[WHY], why_out[WHY];
  rkin_native *native;       /* the tapes as machine code, or NULL */
};

static char *dup_str(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void free_names(char **v, size_t n)
{
  size_t i;
  if (!v) return;
  for (i = 0; i < n; i++) free(v[i]);
  free(v);
}

void rkin_model_free(rkin_model *m)
{
  if (!m) return;
  rkin_native_free(m->native);
  free_names(m->note_names, m->n_notes);
  free_names(m->notes, m->n_notes);
  free(m->name);
  free_names(m->states, m->n);
  free_names(m->params, m->np);
  free_names(m->outputs, m->nout);
  free(m->defaults);
  free(m->zeros);
  free(m->deriv);
  free(m->out_expr);
  rkin_tape_free(m->rhs);
  rkin_tape_free(m->jac);
  free(m->jac_colptr);
  free(m->jac_row);
  free(m->jac_col);
  rkin_tape_free(m->out);
  rkin_tape_free(m->lin);
  rkin_tape_free(m->outlin);
  rkin_tape_free(m->dlin);
  rkin_tape_free(m->swt);
  rkin_tape_free(m->outjac);
  free(m->sw);
  rkin_tape_free(m->mods_tape);
  rkin_tape_free(m->dmods_tape);
  free(m->mods);
  free(m->dl_idx);
  free(m->dl_par);
  rkin_tape_free(m->pj);
  free(m->pj_idx);
  free(m->pj_par);
  rkin_mevents_free(m->mev);
  rkin_graph_free(m->g);
  free(m);
}

/* ------------------------------------------------------------ checks */

/* Names sorted (with their index) so that duplicates are neighbours: a
 * model of a few hundred states and parameters checked pairwise took
 * O(names^2) string compares. */
typedef struct {
  const char *s;
  size_t i;
} named;

static int cmp_named(const void *a, const void *b)
{
  const named *x = a, *y = b;
  int c = strcmp(x->s, y->s);
  return c ? c : (x->i > y->i) - (x->i < y->i);
}

static named *sorted_names(const char *const *v, size_t n)
{
  named *t = malloc((n ? n : 1) * sizeof *t);
  size_t i;
  if (!t) return NULL;
  for (i = 0; i < n; i++) {
    t[i].s = v[i];
    t[i].i = i;
  }
  qsort(t, n, sizeof *t, cmp_named);
  return t;
}

/* The first problem in index order: an empty name, or a name equal to an
 * earlier one (reported with that earlier one's index). */
static int check_names(const char *model, const char *kind,
                       const char *const *v, size_t n, rkin_err *err)
{
  size_t i, empty, dup = (size_t)-1, first = 0;
  named *t;
  if (n > 0 && !v)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': %zu %ss but no name "
                        "array", model, n, kind);
  for (empty = 0; empty < n; empty++)
    if (!v[empty] || !v[empty][0]) break;
  if (!(t = sorted_names(v, empty)))
    return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory "
                        "checking %s names", model, kind);
  for (i = 1; i < empty; i++)   /* equal names: ascending index */
    if (!strcmp(t[i].s, t[i - 1].s) && t[i].i < dup
        && (i < 2 || strcmp(t[i - 1].s, t[i - 2].s))) {
      dup = t[i].i;
      first = t[i - 1].i;
    }
  free(t);
  if (dup != (size_t)-1)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': duplicate %s name "
                        "'%s' (%s %zu and %zu); names must be unique",
                        model, kind, v[dup], kind, first + 1, dup + 1);
  if (empty < n)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s %zu has an empty "
                        "name; expected a non-empty name", model, kind,
                        empty + 1);
  return 0;
}

/* A name used for two kinds of thing would make look-ups ambiguous. Both
 * lists hold checked (non-empty, unique) names. */
static int check_clash(const char *model, const char *kind_a,
                       const char *const *a, size_t na, const char *kind_b,
                       const char *const *b, size_t nb, rkin_err *err)
{
  size_t i;
  named *t, key;
  if (!na || !nb) return 0;
  if (!(t = sorted_names(b, nb)))
    return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory "
                        "checking names", model);
  for (i = 0; i < na; i++) {
    key.s = a[i];
    key.i = 0;
    /* lower bound of a[i] among the sorted names */
    {
      size_t lo = 0, hi = nb;
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_named(&t[mid], &key) < 0) lo = mid + 1;
        else hi = mid;
      }
      if (lo < nb && !strcmp(t[lo].s, a[i])) {
        free(t);
        return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s '%s' has the "
                            "name of a %s; names must differ", model, kind_a,
                            a[i], kind_b);
      }
    }
  }
  free(t);
  return 0;
}

/* A node is usable when it exists and its leaves fit the model's sizes. */
static int check_node(const rkin_model_spec *s, const rkin_graph *g,
                      rkin_node n, const char *what, const char *name,
                      rkin_err *err)
{
  int ms, mp;
  if (n < 0 || (size_t)n >= rkin_graph_size(g))
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s '%s' is not a "
                        "valid expression (node %d, graph has %zu nodes)",
                        s->name, what, name, n, rkin_graph_size(g));
  if (rkin_expr_is_bool(g, n))
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s '%s' is a "
                        "condition (true/false), not a number; select a "
                        "value with ifelse(cond, a, b)", s->name, what, name);
  ms = rkin_expr_max_state(g, n);
  mp = rkin_expr_max_param(g, n);
  if (ms >= 0 && (size_t)ms >= s->n_states)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s '%s' uses state "
                        "y[%d], but the model has %zu states", s->name, what,
                        name, ms, s->n_states);
  if (mp >= 0 && (size_t)mp >= s->n_params)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s '%s' uses "
                        "parameter p[%d], but the model has %zu parameters",
                        s->name, what, name, mp, s->n_params);
  return 0;
}

static int check_spec(const rkin_model_spec *s, const rkin_graph *g,
                      rkin_err *err)
{
  size_t i;
  int rc;
  if (!s) return rkin_err_set(err, RKIN_EINVAL, "model spec is NULL");
  if (!g)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': expression graph is "
                        "NULL", s->name ? s->name : "?");
  if (!s->name || !s->name[0])
    return rkin_err_set(err, RKIN_EINVAL, "model name is empty; expected a "
                        "non-empty name");
  if (s->n_states == 0)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s' has no states; "
                        "expected at least one", s->name);
  if ((rc = check_names(s->name, "state", s->states, s->n_states, err))
      || (rc = check_names(s->name, "parameter", s->params, s->n_params, err))
      || (rc = check_names(s->name, "output", s->outputs, s->n_outputs, err))
      || (rc = check_clash(s->name, "parameter", s->params, s->n_params,
                           "state", s->states, s->n_states, err))
      || (rc = check_clash(s->name, "output", s->outputs, s->n_outputs,
                           "state", s->states, s->n_states, err))
      || (rc = check_clash(s->name, "output", s->outputs, s->n_outputs,
                           "parameter", s->params, s->n_params, err)))
    return rc;
  if (!s->deriv)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': no derivative array",
                        s->name);
  if (s->n_params > 0 && !s->values)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': %zu parameters but no "
                        "values", s->name, s->n_params);
  if (s->n_outputs > 0 && !s->output_expr)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': %zu outputs but no "
                        "expressions", s->name, s->n_outputs);
  for (i = 0; i < s->n_params; i++)
    if (!isfinite(s->values[i]))
      return rkin_err_set(err, RKIN_EINVAL, "model '%s': parameter '%s' has "
                          "value %g; expected a finite number", s->name,
                          s->params[i], s->values[i]);
  if (rkin_graph_error(g, err)) return rkin_err_prefix(err, "model '%s': ",
                                                        s->name);
  for (i = 0; i < s->n_states; i++)
    if ((rc = check_node(s, g, s->deriv[i], "derivative of state",
                         s->states[i], err)))
      return rc;
  for (i = 0; i < s->n_outputs; i++)
    if ((rc = check_node(s, g, s->output_expr[i], "output", s->outputs[i],
                         err)))
      return rc;
  return 0;
}

/* ------------------------------------------------------------ build */

static char **copy_names(const char *const *v, size_t n)
{
  char **d = calloc(n ? n : 1, sizeof *d);
  size_t i;
  if (!d) return NULL;
  for (i = 0; i < n; i++)
    if (!(d[i] = dup_str(v[i]))) {
      free_names(d, n);
      return NULL;
    }
  return d;
}

static int copy_spec(rkin_model *m, const rkin_model_spec *s)
{
  size_t i;
  m->n = s->n_states;
  m->np = s->n_params;
  m->nout = s->n_outputs;
  m->nuclide = s->nuclide;
  m->lambda = s->nuclide ? rkin_nuclide_lambda(s->nuclide) : 0.0;
  m->name = dup_str(s->name);
  m->states = copy_names(s->states, m->n);
  m->params = copy_names(s->params, m->np);
  m->outputs = copy_names(s->outputs, m->nout);
  m->defaults = calloc(m->np ? m->np : 1, sizeof *m->defaults);
  m->zeros = calloc(m->n, sizeof *m->zeros);
  m->deriv = malloc(m->n * sizeof *m->deriv);
  m->out_expr = malloc((m->nout ? m->nout : 1) * sizeof *m->out_expr);
  if (!m->name || !m->states || !m->params || !m->outputs || !m->defaults
      || !m->zeros || !m->deriv || !m->out_expr)
    return RKIN_ENOMEM;
  for (i = 0; i < m->np; i++) m->defaults[i] = s->values[i];
  memcpy(m->deriv, s->deriv, m->n * sizeof *m->deriv);
  for (i = 0; i < m->nout; i++) m->out_expr[i] = s->output_expr[i];
  return 0;
}

/* Why f is not of the form sum_j a_j(p) y_j, or "" when it is. d[j * stride]
 * holds d f / d y_j. who and what name f in the message ("state 'K'",
 * "dK/dt"). Decided symbolically: every partial is free of states and time,
 * and f folds to the constant 0 at y = 0 (no input term). */
static void linear_reason(rkin_model *m, rkin_node f, const rkin_node *d,
                          size_t stride, const char *who, const char *what,
                          char *why)
{
  const char *const *sn = (const char *const *)m->states;
  const char *const *pn = (const char *const *)m->params;
  char txt[200];
  double v = 1.0;
  rkin_node z;
  size_t j, t, nl = 0;
  int *leaf = NULL;
  /* Only the states f uses have a derivative that is not the constant 0
   * (one walk of f's cone, not all n; out of memory: all n). */
  if (rkin_expr_leaves(m->g, f, RKIN_OP_STATE, &leaf, &nl)) {
    leaf = NULL;
    nl = m->n;
  }
  for (t = 0; t < nl; t++) {
    rkin_node dj;
    int st, tm;
    j = leaf ? (size_t)leaf[t] : t;
    dj = d[j * stride];
    st = rkin_expr_has_state(m->g, dj);
    tm = rkin_expr_has_time(m->g, dj);
    if (st || tm) {
      rkin_expr_format(m->g, dj, sn, pn, txt, sizeof txt);
      snprintf(why, WHY, "%s: d(%s)/d%s = %s depends on %s", who, what,
               m->states[j], txt, st ? "the states" : "time");
      free(leaf);
      return;
    }
  }
  free(leaf);
  z = rkin_expr_zero_states(m->g, f);
  if (z >= 0 && rkin_expr_is_const(m->g, z, &v) && v == 0.0) {
    why[0] = '\0';
    return;
  }
  if (z >= 0)
    rkin_expr_format(m->g, z, sn, pn, txt, sizeof txt);
  else
    snprintf(txt, sizeof txt, "not finite");
  snprintf(why, WHY, "%s: %s at zero states is %s, not 0 (an input term)",
           who, what, txt);
}

static int graph_fail(rkin_model *m, rkin_err *err)
{
  int rc = rkin_graph_error(m->g, err);
  if (!rc) rc = rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  rkin_err_prefix(err, "model '%s': ", m->name);
  return rc;
}

/* The root functions a - b of the switching comparisons in f. */
static int compile_switches(rkin_model *m, const rkin_node *f, rkin_err *err)
{
  rkin_node *g;
  size_t k;
  if (rkin_expr_switches(m->g, f, m->n, &m->sw, &m->nsw))
    return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory "
                        "listing its conditions", m->name);
  if (!m->nsw) return 0;
  if (!(g = malloc(m->nsw * sizeof *g)))
    return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory "
                        "listing its conditions", m->name);
  for (k = 0; k < m->nsw; k++)
    g[k] = rkin_expr_binary(m->g, RKIN_OP_SUB,
                            rkin_expr_arg(m->g, m->sw[k], 0),
                            rkin_expr_arg(m->g, m->sw[k], 1));
  if (rkin_graph_error(m->g, NULL)) {
    free(g);
    return graph_fail(m, err);
  }
  m->swt = rkin_tape_compile(m->g, g, m->nsw, err);
  free(g);
  return m->swt ? 0 : err ? err->code : RKIN_ENOMEM;
}

static int compile_rhs(rkin_model *m, rkin_node *f, rkin_err *err)
{
  size_t i;
  for (i = 0; i < m->n; i++) {
    f[i] = m->deriv[i];
    if (m->lambda > 0) {
      rkin_node y = rkin_expr_state(m->g, (int)i);
      rkin_node ly = rkin_expr_binary(m->g, RKIN_OP_MUL,
                                      rkin_expr_const(m->g, m->lambda), y);
      f[i] = rkin_expr_binary(m->g, RKIN_OP_SUB, f[i], ly);
    }
  }
  if (rkin_graph_error(m->g, NULL)) return graph_fail(m, err);
  m->rhs = rkin_tape_compile(m->g, f, m->n, err);
  if (!m->rhs) return err ? err->code : RKIN_ENOMEM;
  return compile_switches(m, f, err);
}

/* d f_k / d y_j for k < nf, stored column-major (col) and row-major (row).
 * Only the states each f_k uses are differentiated (one walk of its
 * cone): a large model's other n^2 pairs are the constant 0. */
static int partials(rkin_model *m, const rkin_node *f, size_t nf,
                    rkin_node *col, rkin_node *row)
{
  size_t k, j, nl, t;
  rkin_node zero = rkin_expr_const(m->g, 0.0);
  int *leaf;
  if (zero < 0) return zero;
  for (k = 0; k < nf * m->n; k++) col[k] = row[k] = zero;
  for (k = 0; k < nf; k++) {
    int rc = rkin_expr_leaves(m->g, f[k], RKIN_OP_STATE, &leaf, &nl);
    if (rc) return rc;
    for (t = 0; t < nl; t++) {
      rkin_node d;
      j = (size_t)leaf[t];
      d = rkin_expr_diff(m->g, f[k], rkin_expr_state(m->g, (int)j));
      if (d < 0) {
        free(leaf);
        return d;
      }
      col[k + j * nf] = d;
      row[k * m->n + j] = d;
    }
    free(leaf);
  }
  return 0;
}

/* The structural nonzeros of the column-major partials col (n x n) into
 * the compressed-column pattern and the Jacobian tape, which computes only
 * those: a model of a few hundred states has a few entries per row, and a
 * dense tape would evaluate and copy n^2 of them. */
static int sparse_jac(rkin_model *m, rkin_node *col, rkin_err *err)
{
  size_t n = m->n, i, j, nz = 0;
  double v;
  m->jac_colptr = malloc((n + 1) * sizeof *m->jac_colptr);
  m->jac_row = malloc((n ? n * n : 1) * sizeof *m->jac_row);
  m->jac_col = malloc((n ? n * n : 1) * sizeof *m->jac_col);
  if (!m->jac_colptr || !m->jac_row || !m->jac_col)
    return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for the "
                        "Jacobian", m->name);
  for (j = 0; j < n; j++) {
    m->jac_colptr[j] = nz;
    for (i = 0; i < n; i++) {
      rkin_node d = col[i + j * n];
      if (rkin_expr_is_const(m->g, d, &v) && v == 0.0) continue;
      col[nz] = d;   /* nz <= i + j n: compacted in place */
      m->jac_row[nz] = (int)i;
      m->jac_col[nz++] = (int)j;
    }
  }
  m->jac_colptr[n] = m->jnz = nz;
  if (!(m->jac = rkin_tape_compile(m->g, col, nz, err)))
    return err ? err->code : RKIN_ENOMEM;
  return 0;
}

/* Jacobian tape (sparse, see sparse_jac) and, for a linear model, the
 * row-major A(p) tape. */
static int compile_jac(rkin_model *m, const rkin_node *f, rkin_err *err)
{
  size_t n = m->n, i;
  rkin_node *col = malloc(n * n * sizeof *col);
  rkin_node *row = malloc(n * n * sizeof *row);
  char who[160], what[160];
  int rc = 0;
  if (!col || !row) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for the "
                      "Jacobian", m->name);
    goto done;
  }
  if (partials(m, f, n, col, row) < 0) {
    rc = graph_fail(m, err);
    goto done;
  }
  m->linear = 1;
  if (m->nsw) {
    /* Piecewise on states or time: y' = A y holds on each piece at most,
     * and the pieces meet where the solution decides, so CVODES with root
     * finding solves it (a condition on parameters only is constant during
     * a solve and leaves the model linear). */
    char txt[200];
    rkin_expr_format(m->g, m->sw[0], (const char *const *)m->states,
                     (const char *const *)m->params, txt, sizeof txt);
    snprintf(m->why, WHY, "its equations switch where %s (a condition on "
             "%s)", txt, rkin_expr_has_state(m->g, m->sw[0]) ? "the states"
                                                          : "time");
    m->linear = 0;
  }
  for (i = 0; i < n && m->linear; i++) {
    snprintf(who, sizeof who, "state '%s'", m->states[i]);
    snprintf(what, sizeof what, "d%s/dt", m->states[i]);
    linear_reason(m, f[i], row + i * n, 1, who, what, m->why);
    if (m->why[0]) m->linear = 0;
  }
  if (rkin_graph_error(m->g, NULL)) {
    rc = graph_fail(m, err);
    goto done;
  }
  if ((rc = sparse_jac(m, col, err))) goto done;
  if (m->linear && !(m->lin = rkin_tape_compile(m->g, row, n * n, err)))
    rc = err ? err->code : RKIN_ENOMEM;
done:
  free(col);
  free(row);
  return rc;
}

/* Nonlinear outputs: the tape of d out_k / d y_j (from row, n_out x n)
 * then d out_k / d p_l, row by row (n_out x (n + np)), for the chain rule
 * of output sensitivities on the exact path. */
static int compile_outjac(rkin_model *m, const rkin_node *row, rkin_err *err)
{
  size_t n = m->n, np = m->np, no = m->nout, w = n + np, k, j;
  rkin_node *G = malloc((no * w + 1) * sizeof *G);
  if (!G)
    return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for "
                        "the output derivatives", m->name);
  for (k = 0; k < no; k++) {
    for (j = 0; j < n; j++) G[k * w + j] = row[k * n + j];
    for (j = 0; j < np; j++)
      G[k * w + n + j] = rkin_expr_diff(m->g, m->out_expr[k],
                                        rkin_expr_param(m->g, (int)j));
  }
  if (rkin_graph_error(m->g, NULL)) {
    free(G);
    return graph_fail(m, err);
  }
  m->outjac = rkin_tape_compile(m->g, G, no * w, err);
  free(G);
  return m->outjac ? 0 : err ? err->code : RKIN_ENOMEM;
}

/* Outputs tape and, when every output is linear, the row-major C(p) tape. */
static int compile_outputs(rkin_model *m, rkin_err *err)
{
  size_t n = m->n, no = m->nout, k;
  rkin_node *col, *row;
  int rc = 0;
  if (!(m->out = rkin_tape_compile(m->g, m->out_expr, no, err)))
    return err ? err->code : RKIN_ENOMEM;
  m->out_linear = 1;
  if (no == 0) return 0;
  col = malloc(no * n * sizeof *col);
  row = malloc(no * n * sizeof *row);
  if (!col || !row) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for the "
                      "output matrix", m->name);
    goto done;
  }
  if (partials(m, m->out_expr, no, col, row) < 0) {
    rc = graph_fail(m, err);
    goto done;
  }
  for (k = 0; k < no && m->out_linear; k++) {
    char who[160];
    snprintf(who, sizeof who, "output '%s'", m->outputs[k]);
    linear_reason(m, m->out_expr[k], row + k * n, 1, who, m->outputs[k],
                  m->why_out);
    if (m->why_out[0]) m->out_linear = 0;
  }
  if (rkin_graph_error(m->g, NULL)) {
    rc = graph_fail(m, err);
    goto done;
  }
  if (m->out_linear
      && !(m->outlin = rkin_tape_compile(m->g, row, no * n, err)))
    rc = err ? err->code : RKIN_ENOMEM;
  if (!rc && !m->out_linear) rc = compile_outjac(m, row, err);
done:
  free(col);
  free(row);
  return rc;
}

static size_t max_size(size_t a, size_t b)
{
  return a > b ? a : b;
}

/* One coefficient's parameter derivatives appended to the list (only
 * those not identically 0); par: the parameter leaves. */
static int add_dparams(rkin_model *m, rkin_node c, size_t idx,
                       const rkin_node *par, rkin_node **nodes, size_t *cap)
{
  size_t l;
  double v;
  int *used, rc = 0;
  size_t nu, t;
  if (rkin_expr_is_const(m->g, c, &v)) return 0;
  if ((rc = rkin_expr_leaves(m->g, c, RKIN_OP_PARAM, &used, &nu))) return rc;
  for (t = 0; t < nu; t++) {
    rkin_node pl, d;
    l = (size_t)used[t];
    pl = par[l];
    d = rkin_expr_diff(m->g, c, pl);
    if (d < 0) {
      free(used);
      return d;
    }
    if (rkin_expr_is_const(m->g, d, &v) && v == 0.0) continue;
    if (m->n_dl >= *cap) {   /* grown as found: n_params per entry is
                                a bound far above the usual 1 or 2 */
      size_t nc = 2 * *cap;
      rkin_node *nn = realloc(*nodes, nc * sizeof *nn);
      size_t *ni, *np_;
      if (nn) *nodes = nn;
      ni = realloc(m->dl_idx, nc * sizeof *ni);
      if (ni) m->dl_idx = ni;
      np_ = realloc(m->dl_par, nc * sizeof *np_);
      if (np_) m->dl_par = np_;
      if (!nn || !ni || !np_) {
        free(used);
        return RKIN_ENOMEM;
      }
      *cap = nc;
    }
    (*nodes)[m->n_dl] = d;
    m->dl_idx[m->n_dl] = idx;
    m->dl_par[m->n_dl++] = l;
  }
  free(used);
  return 0;
}

/* The sparse parameter-derivative tape of A(p) and (linear outputs)
 * C(p): forward sensitivities on the exact path need dA/dp. Sparse, so a
 * big model with a few parameters per rate constant stays small. */
static int compile_dlin(rkin_model *m, const rkin_node *f, rkin_err *err)
{
  /* room for one parameter per structurally nonzero coefficient; grows */
  size_t n = m->n, nc = m->jnz + (m->out_linear ? m->nout * n : 0);
  size_t cap = nc + 16, i, j, k;
  rkin_node *nodes = malloc(cap * sizeof *nodes);
  rkin_node *par = malloc((m->np ? m->np : 1) * sizeof *par);
  int rc = 0;
  m->dl_idx = malloc(cap * sizeof *m->dl_idx);
  m->dl_par = malloc(cap * sizeof *m->dl_par);
  for (i = 0; par && i < m->np; i++)
    par[i] = rkin_expr_param(m->g, (int)i);
  if (!nodes || !par || !m->dl_idx || !m->dl_par) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for the "
                      "parameter derivatives", m->name);
    goto done;
  }
  /* Only A's structural nonzeros (the Jacobian's pattern): the others
   * are 0 for every p, and a model of a few hundred states would spend
   * n^2 n_params look-ups on them. */
  for (j = 0; !rc && j < n; j++)
    for (k = m->jac_colptr[j]; !rc && k < m->jac_colptr[j + 1]; k++) {
      rkin_node a;
      i = (size_t)m->jac_row[k];
      a = rkin_expr_diff(m->g, f[i], rkin_expr_state(m->g, (int)j));
      rc = a < 0 ? a : add_dparams(m, a, i * n + j, par, &nodes, &cap);
    }
  for (i = 0; !rc && m->out_linear && i < m->nout; i++)
    for (j = 0; !rc && j < n; j++) {
      rkin_node a = rkin_expr_diff(m->g, m->out_expr[i],
                                   rkin_expr_state(m->g, (int)j));
      rc = a < 0 ? a : add_dparams(m, a, n * n + i * n + j, par, &nodes,
                                   &cap);
    }
  if (rc || rkin_graph_error(m->g, NULL)) {
    rc = graph_fail(m, err);
    goto done;
  }
  if (!(m->dlin = rkin_tape_compile(m->g, nodes, m->n_dl, err)))
    rc = err ? err->code : RKIN_ENOMEM;
done:
  free(nodes);
  free(par);
  return rc;
}

/* The sparse parameter-derivative tape of f and the outputs (pj): what
 * the sensitivity right-hand side df/dp needs on the CVODES path. */
static int compile_pj(rkin_model *m, const rkin_node *f, rkin_err *err)
{
  size_t nv = m->n + m->nout, cap = nv * m->np + 1, i, l;
  rkin_node *nodes = malloc(cap * sizeof *nodes);
  int rc = 0;
  m->pj_idx = malloc(cap * sizeof *m->pj_idx);
  m->pj_par = malloc(cap * sizeof *m->pj_par);
  if (!nodes || !m->pj_idx || !m->pj_par) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for the "
                      "parameter derivatives", m->name);
    goto done;
  }
  for (i = 0; !rc && i < nv; i++) {
    rkin_node v = i < m->n ? f[i] : m->out_expr[i - m->n];
    for (l = 0; !rc && l < m->np; l++) {
      rkin_node pl = rkin_expr_param(m->g, (int)l), d;
      double c;
      if (pl < 0 || !rkin_expr_depends(m->g, v, pl)) {
        rc = pl < 0 ? pl : 0;
        continue;
      }
      d = rkin_expr_diff(m->g, v, pl);
      if (d < 0) {
        rc = d;
        break;
      }
      if (rkin_expr_is_const(m->g, d, &c) && c == 0.0) continue;
      nodes[m->n_pj] = d;
      m->pj_idx[m->n_pj] = i;
      m->pj_par[m->n_pj++] = l;
    }
  }
  if (rc || rkin_graph_error(m->g, NULL)) {
    rc = graph_fail(m, err);
    goto done;
  }
  if (!(m->pj = rkin_tape_compile(m->g, nodes, m->n_pj, err)))
    rc = err ? err->code : RKIN_ENOMEM;
done:
  free(nodes);
  return rc;
}

rkin_model *rkin_model_new(const rkin_model_spec *spec, rkin_graph *g,
                           rkin_err *err)
{
  rkin_model *m = NULL;
  rkin_node *f = NULL;
  int rc;
  if ((rc = check_spec(spec, g, err))) {
    rkin_graph_free(g);
    return NULL;
  }
  m = calloc(1, sizeof *m);
  if (!m) {
    rkin_graph_free(g);
    rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory", spec->name);
    return NULL;
  }
  m->g = g;
  if (copy_spec(m, spec)
      || !(f = malloc(spec->n_states * sizeof *f))) {
    rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory", spec->name);
    goto fail;
  }
  if (compile_rhs(m, f, err) || compile_jac(m, f, err)
      || compile_outputs(m, err) || (m->linear && compile_dlin(m, f, err))
      || compile_pj(m, f, err))
    goto fail;
  m->nwork = max_size(max_size(max_size(max_size(rkin_tape_nwork(m->rhs),
                                                 rkin_tape_nwork(m->pj)
                                                 + m->n_pj),
                                        max_size(rkin_tape_nwork(m->swt),
                                                 rkin_tape_nwork(m->outjac))),
                               rkin_tape_nwork(m->jac) + m->jnz),
                      max_size(rkin_tape_nwork(m->out),
                               max_size(rkin_tape_nwork(m->lin),
                                        rkin_tape_nwork(m->outlin))));
  free(f);
  return m;
fail:
  free(f);
  rkin_model_free(m);
  return NULL;
}

/* ------------------------------------------------------------ access */

const char *rkin_model_name(const rkin_model *m)
{
  return m->name;
}

const rkin_nuclide *rkin_model_nuclide(const rkin_model *m)
{
  return m->nuclide;
}

double rkin_model_lambda(const rkin_model *m)
{
  return m->lambda;
}

size_t rkin_model_nstates(const rkin_model *m)
{
  return m->n;
}

size_t rkin_model_nparams(const rkin_model *m)
{
  return m->np;
}

size_t rkin_model_noutputs(const rkin_model *m)
{
  return m->nout;
}

const char *rkin_model_state_name(const rkin_model *m, size_t i)
{
  return i < m->n ? m->states[i] : NULL;
}

const char *rkin_model_param_name(const rkin_model *m, size_t i)
{
  return i < m->np ? m->params[i] : NULL;
}

const char *rkin_model_output_name(const rkin_model *m, size_t i)
{
  return i < m->nout ? m->outputs[i] : NULL;
}

const rkin_graph *rkin_model_graph(const rkin_model *m)
{
  return m->g;
}

rkin_node rkin_model_deriv_node(const rkin_model *m, size_t i)
{
  return i < m->n ? m->deriv[i] : -1;
}

rkin_node rkin_model_output_node(const rkin_model *m, size_t i)
{
  return i < m->nout ? m->out_expr[i] : -1;
}

const double *rkin_model_defaults(const rkin_model *m)
{
  return m->defaults;
}

static int find_name(const rkin_model *m, char *const *v, size_t n,
                     const char *kind, const char *name, rkin_err *err)
{
  size_t i, len;
  char list[RKIN_ERR_MSG / 2];
  for (i = 0; name && i < n; i++)
    if (strcmp(v[i], name) == 0) return (int)i;
  if (!err) return -1;
  list[0] = '\0';
  for (i = 0, len = 0; i < n && len < sizeof list; i++)
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
                            i ? ", " : "", v[i]);
  rkin_err_set(err, RKIN_ENOTFOUND, "model '%s': unknown %s '%s'; known "
               "%ss: %s", m->name, kind, name ? name : "(null)", kind,
               n ? list : "(none)");
  return -1;
}

int rkin_model_state_index(const rkin_model *m, const char *name,
                           rkin_err *err)
{
  size_t k;
  int i = find_name(m, m->states, m->n, "state", name, err);
  if (i >= 0 || !err || !name) return i;
  for (k = 0; k < m->n_notes; k++)
    if (strcmp(m->note_names[k], name) == 0) {
      rkin_err_set(err, RKIN_ENOTFOUND, "model '%s': '%s' is not a state: "
                   "%s", m->name, name, m->notes[k]);
      break;
    }
  return -1;
}

int rkin_model_set_state_notes(rkin_model *m, size_t n,
                               const char *const *names,
                               const char *const *notes, rkin_err *err)
{
  size_t k;
  if (m->n_notes)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': state notes are "
                        "already set", m->name);
  if (!n) return RKIN_OK;
  m->note_names = calloc(n, sizeof *m->note_names);
  m->notes = calloc(n, sizeof *m->notes);
  if (!m->note_names || !m->notes) {
    free(m->note_names);
    free(m->notes);
    m->note_names = m->notes = NULL;
    return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  }
  m->n_notes = n;
  for (k = 0; k < n; k++)
    if (!(m->note_names[k] = strdup(names[k]))
        || !(m->notes[k] = strdup(notes[k])))
      return rkin_err_set(err, RKIN_ENOMEM, "out of memory");
  return RKIN_OK;
}

int rkin_model_param_index(const rkin_model *m, const char *name,
                           rkin_err *err)
{
  return find_name(m, m->params, m->np, "parameter", name, err);
}

int rkin_model_output_index(const rkin_model *m, const char *name,
                            rkin_err *err)
{
  return find_name(m, m->outputs, m->nout, "output", name, err);
}

/* ------------------------------------------------------------ evaluation */

size_t rkin_model_nwork(const rkin_model *m)
{
  return m->nwork;
}

int rkin_model_rhs(const rkin_model *m, double t, const double *y,
                   const double *p, double *ydot, double *work)
{
  return rkin_tape_eval(m->rhs, t, y, p, work, ydot);
}

size_t rkin_model_jac_nnz(const rkin_model *m)
{
  return m->jnz;
}

const size_t *rkin_model_jac_colptr(const rkin_model *m)
{
  return m->jac_colptr;
}

const int *rkin_model_jac_rowind(const rkin_model *m)
{
  return m->jac_row;
}

int rkin_model_jac_sparse(const rkin_model *m, double t, const double *y,
                          const double *p, double *val, double *work)
{
  int rc = rkin_tape_eval(m->jac, t, y, p, work, val);
  if (rc < 0) {
    size_t k = (size_t)(-1 - rc);
    return -1 - (int)((size_t)m->jac_row[k] + (size_t)m->jac_col[k] * m->n);
  }
  return 0;
}

int rkin_model_jac(const rkin_model *m, double t, const double *y,
                   const double *p, double *J, double *work)
{
  double *val = work + rkin_tape_nwork(m->jac);  /* nwork has room */
  size_t k, n = m->n;
  int rc = rkin_model_jac_sparse(m, t, y, p, val, work);
  memset(J, 0, n * n * sizeof *J);
  for (k = 0; k < m->jnz; k++)
    J[(size_t)m->jac_row[k] + (size_t)m->jac_col[k] * n] = val[k];
  return rc;
}

int rkin_model_outputs(const rkin_model *m, double t, const double *y,
                       const double *p, double *out, double *work)
{
  return rkin_tape_eval(m->out, t, y, p, work, out);
}

int rkin_model_output_partials(const rkin_model *m, double t,
                                const double *y, const double *p, double *G,
                                double *work)
{
  if (!m->outjac) return RKIN_ENOTLINEAR;
  return rkin_tape_eval(m->outjac, t, y, p, work, G);
}

int rkin_model_rhs_dparams(const rkin_model *m, double t, const double *y,
                           const double *p, const double *dir, size_t n_dir,
                           double *fp, double *op, double *work)
{
  size_t n = m->n, k, d;
  double *val = work + rkin_tape_nwork(m->pj);
  int rc;
  memset(fp, 0, n * n_dir * sizeof *fp);
  if (op) memset(op, 0, m->nout * n_dir * sizeof *op);
  if (!m->n_pj) return 0;
  rc = rkin_tape_eval(m->pj, t, y, p, work, val);
  if (rc) return -1 - (int)m->pj_idx[-1 - rc];
  for (k = 0; k < m->n_pj; k++) {
    size_t e = m->pj_idx[k];
    const double *dl = dir + m->pj_par[k];
    double *dst = e < n ? fp + e * n_dir : op ? op + (e - n) * n_dir : NULL;
    if (!dst) continue;
    for (d = 0; d < n_dir; d++) dst[d] += val[k] * dl[d * m->np];
  }
  return 0;
}

size_t rkin_model_nswitches(const rkin_model *m)
{
  return m->nsw;
}

int rkin_model_switches(const rkin_model *m, double t, const double *y,
                        const double *p, double *g, double *work)
{
  return m->nsw ? rkin_tape_eval(m->swt, t, y, p, work, g) : 0;
}

void rkin_model_switch_text(const rkin_model *m, size_t k, char *buf,
                            size_t size)
{
  if (k >= m->nsw) {
    snprintf(buf, size, "?");
    return;
  }
  rkin_expr_format(m->g, m->sw[k], (const char *const *)m->states,
                   (const char *const *)m->params, buf, size);
}

int rkin_model_explain(const rkin_model *m, int state, double t,
                       rkin_err *err)
{
  char txt[RKIN_ERR_MSG / 2];
  if (state < 0 || (size_t)state >= m->n)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': state index %d out of "
                        "range 0..%zu", m->name, state, m->n - 1);
  rkin_expr_format(m->g, m->deriv[state], (const char *const *)m->states,
                   (const char *const *)m->params, txt, sizeof txt);
  return rkin_err_set(err, RKIN_ENONFINITE, "model '%s', state '%s': d/dt = "
                      "%s is not finite (NaN or Inf) at t = %g h", m->name,
                      m->states[state], txt, t);
}

int rkin_model_is_linear(const rkin_model *m)
{
  return m->linear;
}

int rkin_model_outputs_linear(const rkin_model *m)
{
  return m->out_linear;
}

/* Evaluates a row-major coefficient tape at y = 0, t = 0. Off the hot
 * path (once per patient), so a heap fallback for big tapes is fine. */
static int eval_matrix(const rkin_model *m, const rkin_tape *tp,
                       const double *p, double *M, const char *kind,
                       const char *row_fmt, const char *const *rows,
                       rkin_err *err)
{
  double stack[STACK_WORK], *work = stack;
  int rc;
  if (!p) p = m->defaults;
  if (rkin_tape_nwork(tp) > STACK_WORK
      && !(work = malloc(rkin_tape_nwork(tp) * sizeof *work)))
    return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for the "
                        "%s matrix", m->name, kind);
  rc = rkin_tape_eval(tp, 0.0, m->zeros, p, work, M);
  if (work != stack) free(work);
  if (rc < 0) {
    size_t k = (size_t)(-1 - rc);
    char row[160];
    snprintf(row, sizeof row, row_fmt, rows[k / m->n]);
    return rkin_err_set(err, RKIN_ENONFINITE, "model '%s': %s matrix entry "
                        "d(%s)/d%s is not finite (%g) for these parameters",
                        m->name, kind, row, m->states[k % m->n], M[k]);
  }
  return 0;
}

int rkin_model_linear_matrix(const rkin_model *m, const double *p, double *A,
                             rkin_err *err)
{
  if (!m->linear)
    return rkin_err_set(err, RKIN_ENOTLINEAR, "model '%s' is not linear in "
                        "its states: %s", m->name, m->why);
  return eval_matrix(m, m->lin, p, A, "system", "d%s/dt",
                     (const char *const *)m->states, err);
}

int rkin_model_output_matrix(const rkin_model *m, const double *p, double *C,
                             rkin_err *err)
{
  if (!m->out_linear)
    return rkin_err_set(err, RKIN_ENOTLINEAR, "model '%s': outputs are not "
                        "linear in the states: %s", m->name, m->why_out);
  if (m->nout == 0) return 0;
  return eval_matrix(m, m->outlin, p, C, "output", "%s",
                     (const char *const *)m->outputs, err);
}

int rkin_model_linear_dparams(const rkin_model *m, const double *p,
                              const double *dir, size_t n_dir, double *dA,
                              double *dC, rkin_err *err)
{
  size_t n = m->n, nw, k, d;
  double stack[STACK_WORK], *work = stack, *val;
  int rc;
  if (!m->linear)
    return rkin_err_set(err, RKIN_ENOTLINEAR, "model '%s' is not linear in "
                        "its states: %s", m->name, m->why);
  if (dC && m->nout && !m->out_linear)
    return rkin_err_set(err, RKIN_ENOTLINEAR, "model '%s': outputs are not "
                        "linear in the states: %s", m->name, m->why_out);
  if (!p) p = m->defaults;
  nw = rkin_tape_nwork(m->dlin) + m->n_dl;
  if (nw > STACK_WORK && !(work = malloc(nw * sizeof *work)))
    return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for the "
                        "parameter derivatives", m->name);
  val = work + rkin_tape_nwork(m->dlin);
  memset(dA, 0, n_dir * n * n * sizeof *dA);
  if (dC) memset(dC, 0, n_dir * m->nout * n * sizeof *dC);
  rc = m->n_dl ? rkin_tape_eval(m->dlin, 0.0, m->zeros, p, work, val) : 0;
  if (rc < 0) {
    size_t e = m->dl_idx[-1 - rc];
    rc = rkin_err_set(err, RKIN_ENONFINITE, "model '%s': the derivative "
                      "of %s matrix entry (%zu,%zu) by parameter '%s' is not "
                      "finite (%g) for these parameters", m->name,
                      e < n * n ? "system" : "output",
                      (e < n * n ? e : e - n * n) / n + 1, e % n + 1,
                      m->params[m->dl_par[-1 - rc]], val[-1 - rc]);
  } else {
    for (k = 0; k < m->n_dl; k++) {
      size_t e = m->dl_idx[k], l = m->dl_par[k];
      if (e < n * n) {
        for (d = 0; d < n_dir; d++)
          dA[d * n * n + e] += val[k] * dir[d * m->np + l];
      } else if (dC) {
        for (d = 0; d < n_dir; d++)
          dC[d * m->nout * n + e - n * n] += val[k] * dir[d * m->np + l];
      }
    }
  }
  if (work != stack) free(work);
  return rc;
}

/* ------------------------------------------------------- dose modifiers */

static const char *const MOD_NAME[RKIN_MOD_N] = {
  "bioavailability (F)", "lag time (ALAG)", "rate (R)", "duration (D)"
};

int rkin_model_set_dose_mods(rkin_model *m, const rkin_node *nodes,
                             rkin_err *err)
{
  size_t n = m->n, nm = RKIN_MOD_N * n, k, l;
  rkin_node *val = NULL, *dv = NULL;
  int rc = 0;
  if (m->mods)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': dose modifiers are "
                        "already set", m->name);
  for (k = 0; k < nm; k++) {
    rkin_node x = nodes[k];
    const char *what = MOD_NAME[k / n], *st = m->states[k % n];
    if (x < 0) continue;
    if ((size_t)x >= rkin_graph_size(m->g))
      return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s of state '%s' "
                          "is not a valid expression", m->name, what, st);
    if (rkin_expr_has_state(m->g, x) || rkin_expr_has_time(m->g, x))
      return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s of state '%s' "
                          "uses %s; it may depend on parameters only",
                          m->name, what, st,
                          rkin_expr_has_state(m->g, x) ? "a state" : "time");
    if (rkin_expr_max_param(m->g, x) >= (int)m->np)
      return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s of state '%s' "
                          "uses an unknown parameter", m->name, what, st);
  }
  m->mods = malloc(nm * sizeof *m->mods);
  val = malloc(nm * sizeof *val);
  dv = malloc((nm * m->np + 1) * sizeof *dv);
  if (!m->mods || !val || !dv) {
    rc = rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for the "
                      "dose modifiers", m->name);
    goto done;
  }
  memcpy(m->mods, nodes, nm * sizeof *nodes);
  for (k = 0; k < nm; k++) {
    if (nodes[k] >= 0) m->has_mods = 1;
    val[k] = nodes[k] >= 0 ? nodes[k]
             : rkin_expr_const(m->g, k / n == RKIN_MOD_F ? 1.0 : 0.0);
    for (l = 0; l < m->np; l++)
      dv[k * m->np + l] =
          nodes[k] >= 0 ? rkin_expr_diff(m->g, nodes[k],
                                         rkin_expr_param(m->g, (int)l))
                        : rkin_expr_const(m->g, 0.0);
  }
  if (rkin_graph_error(m->g, NULL)) {
    rc = graph_fail(m, err);
    goto done;
  }
  if (!(m->mods_tape = rkin_tape_compile(m->g, val, nm, err))
      || !(m->dmods_tape = rkin_tape_compile(m->g, dv, nm * m->np, err))) {
    rc = err ? err->code : RKIN_ENOMEM;
    goto done;
  }
  m->nwork = max_size(m->nwork, max_size(rkin_tape_nwork(m->mods_tape),
                                         rkin_tape_nwork(m->dmods_tape)));
done:
  free(val);
  free(dv);
  if (rc) {
    free(m->mods);
    m->mods = NULL;
    m->has_mods = 0;
  }
  return rc;
}

rkin_node rkin_model_dose_mod_node(const rkin_model *m, int kind, size_t i)
{
  return rkin_model_dose_mod_defined(m, kind, i)
             ? m->mods[(size_t)kind * m->n + i] : -1;
}

int rkin_model_has_dose_mods(const rkin_model *m)
{
  return m->has_mods;
}

int rkin_model_dose_mod_defined(const rkin_model *m, int kind, size_t i)
{
  return m->mods && kind >= 0 && kind < RKIN_MOD_N && i < m->n
         && m->mods[(size_t)kind * m->n + i] >= 0;
}

/* Evaluates a parameter-only tape (y = 0, t = 0); *bad: the tape's
 * result (0, or -1 - k for a non-finite entry k). */
static int eval_params(const rkin_model *m, const rkin_tape *tp,
                       const double *p, double *out, int *bad,
                       rkin_err *err)
{
  double stack[STACK_WORK], *work = stack;
  if (!p) p = m->defaults;
  if (rkin_tape_nwork(tp) > STACK_WORK
      && !(work = malloc(rkin_tape_nwork(tp) * sizeof *work)))
    return rkin_err_set(err, RKIN_ENOMEM, "model '%s': out of memory for the "
                        "dose modifiers", m->name);
  *bad = rkin_tape_eval(tp, 0.0, m->zeros, p, work, out);
  if (work != stack) free(work);
  return RKIN_OK;
}

int rkin_model_dose_mods(const rkin_model *m, const double *p, double *v,
                         rkin_err *err)
{
  size_t n = m->n, k;
  int rc, bad;
  if (!m->mods) {
    for (k = 0; k < RKIN_MOD_N * n; k++)
      v[k] = k / n == RKIN_MOD_F ? 1.0 : k / n == RKIN_MOD_LAG ? 0.0 : NAN;
    return RKIN_OK;
  }
  if ((rc = eval_params(m, m->mods_tape, p, v, &bad, err))) return rc;
  for (k = 0; k < RKIN_MOD_N * n; k++) {
    size_t kind = k / n;
    int def = m->mods[k] >= 0;
    if (!def) {
      if (kind >= RKIN_MOD_RATE) v[k] = NAN;
      continue;
    }
    if (!isfinite(v[k]) || v[k] < 0
        || (kind >= RKIN_MOD_RATE && v[k] == 0))
      return rkin_err_set(err, RKIN_EINVAL, "model '%s': %s of state '%s' "
                          "is %g for these parameters (expected a finite "
                          "number %s)", m->name, MOD_NAME[kind],
                          m->states[k % n], v[k],
                          kind >= RKIN_MOD_RATE ? "> 0" : ">= 0");
  }
  return RKIN_OK;
}

int rkin_model_dose_mods_dparams(const rkin_model *m, const double *p,
                                 double *dv, rkin_err *err)
{
  size_t nm = RKIN_MOD_N * m->n * m->np, k;
  int rc, bad;
  if (!m->mods) {
    for (k = 0; k < nm; k++) dv[k] = 0;
    return RKIN_OK;
  }
  if ((rc = eval_params(m, m->dmods_tape, p, dv, &bad, err))) return rc;
  if (bad)
    return rkin_err_set(err, RKIN_ENONFINITE, "model '%s': a parameter "
                        "derivative of the dose modifiers is not finite",
                        m->name);
  return rc;
}

int rkin_model_native(rkin_model *m, const char *cache_dir, rkin_err *err)
{
  rkin_tape *t[11];
  if (!m)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_model_native: model is NULL");
  if (m->native) return RKIN_OK;
  t[0] = m->rhs; t[1] = m->out; t[2] = m->jac; t[3] = m->lin;
  t[4] = m->outlin; t[5] = m->dlin; t[6] = m->pj; t[7] = m->swt;
  t[8] = m->outjac; t[9] = m->mods_tape; t[10] = m->dmods_tape;
  m->native = rkin_native_build(t, sizeof t / sizeof *t, cache_dir, err);
  return m->native ? RKIN_OK : err->code;
}

int rkin_model_is_native(const rkin_model *m)
{
  return m && m->native;
}

/* ------------------------------------------------------- model events */

int rkin_model_set_events(rkin_model *m, const rkin_model_event *ev,
                          size_t n, rkin_err *err)
{
  if (m->mev)
    return rkin_err_set(err, RKIN_EINVAL, "model '%s': events are already "
                        "set", m->name);
  if (n == 0) return RKIN_OK;
  m->mev = rkin_mevents_compile(m->g, m->name, m->n, m->np,
                                (const char *const *)m->states, ev, n, err);
  return m->mev ? RKIN_OK : err ? err->code : RKIN_ENOMEM;
}

const rkin_mevents *rkin_model_events(const rkin_model *m)
{
  return m->mev;
}

void rkin_model_event_root_text(const rkin_model *m, size_t k, char *buf,
                                size_t size)
{
  if (!m->mev) {
    snprintf(buf, size, "?");
    return;
  }
  rkin_mevents_root_text(m->mev, m->g, k, (const char *const *)m->states,
                         (const char *const *)m->params, buf, size);
}
