/* large.h - a synthetic PBPK model of any size for the sparse-Jacobian
 * tests and the large-model benchmark: n_org organs of five compartments
 * each (vascular V, interstitial I, free intracellular F, receptor-bound B,
 * internalised L), organ 0's vascular compartment being the plasma P that
 * feeds every other organ. Binding is saturable (kon F (Bmax - B)), so the
 * model is nonlinear; with `linear` set, binding is kon F instead and the
 * model is linear (exact path, A(p) tapes). Lu-177 decay on every state.
 *
 * Per organ o (o = 0: V is P, no exchange with itself):
 *   V' = kin P - kout V - kvi V + kiv I + krel L      (o > 0)
 *   P' = sum_o>0 (kout V_o - kin P) - kvi P + kiv I_0 + krel L_0 - kren P
 *   I' = kvi V - kiv I - kif I + kfi F
 *   F' = kif I - kfi F - bind + koff B
 *   B' = bind - koff B - kint B
 *   L' = kint B - krel L
 * with bind = kon F (Bmax - B) (or kon F when linear). State 5 o + c is
 * compartment c of organ o; parameter 11 o + j is rate j of organ o
 * (LARGE_PAR order), then kren last. The values are made up (smooth in o,
 * all positive) - it is a workload, not physiology.
 * Header-only, for the unit tests and the benchmarks. */
#ifndef RKIN_LARGE_H
#define RKIN_LARGE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/expr.h"
#include "core/model.h"
#include "core/nuclide.h"

#define LARGE_NCOMP 5
#define LARGE_NRATE 11
enum { L_KIN, L_KOUT, L_KVI, L_KIV, L_KIF, L_KFI, L_KON, L_BMAX, L_KOFF,
       L_KINT, L_KREL };
static const char *const large_rate_names[LARGE_NRATE] = {
  "kin", "kout", "kvi", "kiv", "kif", "kfi", "kon", "Bmax", "koff", "kint",
  "krel"
};
static const char *const large_comp_names[LARGE_NCOMP] = {
  "V", "I", "F", "B", "L"
};

static inline size_t large_nparams(size_t n_org)
{
  return n_org * LARGE_NRATE + 1;
}

/* The default value of parameter j of organ o (j = LARGE_NRATE: kren). */
static inline double large_value(size_t o, int j)
{
  static const double base[LARGE_NRATE] = {
    0.02, 0.2, 0.5, 0.3, 0.1, 0.05, 0.002, 100.0, 0.01, 0.02, 0.005
  };
  if (j == LARGE_NRATE) return 0.3;
  return base[j] * (1.0 + 0.5 * sin(0.7 * (double)o + (double)j));
}

typedef struct {
  rkin_model *m;
  char **names;   /* states then parameters, freed by large_free */
  size_t n_names;
} large_model;

static inline void large_free(large_model *lm)
{
  size_t i;
  rkin_model_free(lm->m);
  if (lm->names)
    for (i = 0; i < lm->n_names; i++) free(lm->names[i]);
  free(lm->names);
  lm->m = NULL;
  lm->names = NULL;
}

static inline char *large_name(const char *a, size_t o)
{
  char *s = malloc(32);
  if (s) snprintf(s, 32, "%s_%zu", a, o);
  return s;
}

/* Builds the model of n_org organs (5 n_org states); 0 or the error.
 * t_graph (may be NULL): called once the graph is traced (the benchmark
 * times tracing apart from rkin_model_new). */
static inline int large_build_cb(size_t n_org, int linear, large_model *lm,
                                 rkin_err *err, void (*t_graph)(void))
{
  size_t ns = n_org * LARGE_NCOMP, np = large_nparams(n_org), o, i;
  rkin_graph *g = rkin_graph_new();
  rkin_node *y = malloc(ns * sizeof *y), *k = malloc(np * sizeof *k);
  rkin_node *d = malloc(ns * sizeof *d), P;
  double *val = malloc(np * sizeof *val);
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", err);
  rkin_model_spec spec;
  int rc = RKIN_ENOMEM;
  lm->m = NULL;
  lm->names = NULL;
  lm->n_names = 0;
  if (n_org < 1 || n_org > 100000) {
    free(y);
    free(k);
    free(d);
    free(val);
    rkin_graph_free(g);
    return rkin_err_set(err, RKIN_EINVAL, "large model: %zu organs "
                        "(expected 1..100000)", n_org);
  }
  lm->n_names = ns + np;
  lm->names = calloc(ns + np, sizeof *lm->names);
  if (!g || !y || !k || !d || !val || !lm->names || !lu) goto done;
  for (i = 0; i < ns; i++) {
    y[i] = rkin_expr_state(g, (int)i);
    if (!(lm->names[i] = large_name(large_comp_names[i % LARGE_NCOMP],
                                    i / LARGE_NCOMP)))
      goto done;
  }
  for (i = 0; i < np; i++) {
    k[i] = rkin_expr_param(g, (int)i);
    val[i] = large_value(i / LARGE_NRATE, i == np - 1 ? LARGE_NRATE
                                                      : (int)(i % LARGE_NRATE));
    if (!(lm->names[ns + i] = i == np - 1
              ? large_name("kren", 0)
              : large_name(large_rate_names[i % LARGE_NRATE],
                           i / LARGE_NRATE)))
      goto done;
  }
  P = y[0];
#define ADD(a, b) rkin_expr_binary(g, RKIN_OP_ADD, (a), (b))
#define SUB(a, b) rkin_expr_binary(g, RKIN_OP_SUB, (a), (b))
#define MUL(a, b) rkin_expr_binary(g, RKIN_OP_MUL, (a), (b))
  d[0] = MUL(rkin_expr_const(g, -1.0), MUL(k[np - 1], P));
  for (o = 0; o < n_org; o++) {
    const rkin_node *r = k + o * LARGE_NRATE;
    const rkin_node *c = y + o * LARGE_NCOMP;
    rkin_node V = c[0], I = c[1], F = c[2], B = c[3], L = c[4], bind;
    rkin_node dv = ADD(SUB(MUL(r[L_KIV], I), MUL(r[L_KVI], V)),
                       MUL(r[L_KREL], L));
    bind = linear ? MUL(r[L_KON], F)
                  : MUL(MUL(r[L_KON], F), SUB(r[L_BMAX], B));
    if (o == 0) {
      d[0] = ADD(d[0], dv);
    } else {
      d[o * LARGE_NCOMP] = ADD(dv, SUB(MUL(r[L_KIN], P), MUL(r[L_KOUT], V)));
      d[0] = ADD(d[0], SUB(MUL(r[L_KOUT], V), MUL(r[L_KIN], P)));
    }
    d[o * LARGE_NCOMP + 1] = ADD(SUB(MUL(r[L_KVI], V), MUL(r[L_KIV], I)),
                                 SUB(MUL(r[L_KFI], F), MUL(r[L_KIF], I)));
    d[o * LARGE_NCOMP + 2] = ADD(SUB(MUL(r[L_KIF], I), MUL(r[L_KFI], F)),
                                 SUB(MUL(r[L_KOFF], B), bind));
    d[o * LARGE_NCOMP + 3] = SUB(bind, MUL(ADD(r[L_KOFF], r[L_KINT]), B));
    d[o * LARGE_NCOMP + 4] = SUB(MUL(r[L_KINT], B), MUL(r[L_KREL], L));
  }
#undef ADD
#undef SUB
#undef MUL
  if (t_graph) t_graph();
  spec.name = linear ? "large_pbpk_linear" : "large_pbpk";
  spec.nuclide = lu;
  spec.n_states = ns;
  spec.states = (const char *const *)lm->names;
  spec.deriv = d;
  spec.n_params = np;
  spec.params = (const char *const *)lm->names + ns;
  spec.values = val;
  spec.n_outputs = 0;
  spec.outputs = NULL;
  spec.output_expr = NULL;
  lm->m = rkin_model_new(&spec, g, err);
  g = NULL;   /* owned by the model now, also on failure */
  rc = lm->m ? 0 : err ? err->code : RKIN_ENOMEM;
done:
  if (rc == RKIN_ENOMEM && !lm->m && err && !err->code)
    rkin_err_set(err, RKIN_ENOMEM, "large model: out of memory");
  rkin_graph_free(g);
  free(y);
  free(k);
  free(d);
  free(val);
  return rc;
}

static inline int large_build(size_t n_org, int linear, large_model *lm,
                              rkin_err *err)
{
  return large_build_cb(n_org, linear, lm, err, NULL);
}

#endif
