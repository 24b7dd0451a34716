/* depot.h - the depot -> central models shared by the sensitivity unit
 * tests: depot G and central X, G' = -ka G, X' = ka G minus an
 * elimination that is linear (k X), saturable (Michaelis-Menten), or
 * both; dose modifiers on G. Header-only, for the unit tests. */
#ifndef RKIN_DEPOT_H
#define RKIN_DEPOT_H

#include <string.h>

#include "core/expr.h"
#include "core/model.h"

/* d[0] = -ka G, d[1] = ka G - k X (- vmax X / (km + X) when mm): G state
 * 0, X state 1; ka, k, km, vmax the indices of those parameters. */
static inline void depot_deriv(rkin_graph *g, int ka, int ke, int km,
                               int vmax, int mm, rkin_node *d)
{
  rkin_node gs = rkin_expr_state(g, 0), x = rkin_expr_state(g, 1), a, el;
  a = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, ka), gs);
  el = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, ke), x);
  if (mm)
    el = rkin_expr_binary(
      g, RKIN_OP_ADD, el, rkin_expr_binary(
        g, RKIN_OP_DIV, rkin_expr_binary(g, RKIN_OP_MUL,
                                         rkin_expr_param(g, vmax), x),
        rkin_expr_binary(g, RKIN_OP_ADD, rkin_expr_param(g, km), x)));
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, a);
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, a, el);
}

/* G' = -ka G, X' = ka G - vmax X / (km + X); output E = X / (km + X)
 * (nonlinear). Parameters ka, vmax, km, then F of G (when with_f), then
 * ALAG of G (tlag); val their values (4 or 5). NULL on failure. */
static inline rkin_model *depot_mm_model(const char *name, int with_f,
                                         const double *val)
{
  static const char *const st[] = {"G", "X"};
  static const char *const pa_f[] = {"ka", "vmax", "km", "f", "tlag"};
  static const char *const pa[] = {"ka", "vmax", "km", "tlag"};
  static const char *const on[] = {"E"};
  rkin_graph *g = rkin_graph_new();
  rkin_node gs = rkin_expr_state(g, 0), x = rkin_expr_state(g, 1);
  rkin_node ka = rkin_expr_param(g, 0), vm = rkin_expr_param(g, 1);
  rkin_node km = rkin_expr_param(g, 2), d[2], out[1], a, sat;
  rkin_node mods[RKIN_MOD_N * 2];
  rkin_model_spec sp;
  rkin_model *m;
  int i;
  memset(&sp, 0, sizeof sp);
  a = rkin_expr_binary(g, RKIN_OP_MUL, ka, gs);
  sat = rkin_expr_binary(g, RKIN_OP_DIV, x,
                         rkin_expr_binary(g, RKIN_OP_ADD, km, x));
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG, a);
  d[1] = rkin_expr_binary(g, RKIN_OP_SUB, a,
                          rkin_expr_binary(g, RKIN_OP_MUL, vm, sat));
  out[0] = sat;
  for (i = 0; i < RKIN_MOD_N * 2; i++) mods[i] = -1;
  if (with_f) mods[RKIN_MOD_F * 2 + 0] = rkin_expr_param(g, 3);
  mods[RKIN_MOD_LAG * 2 + 0] = rkin_expr_param(g, with_f ? 4 : 3);
  sp.name = name;
  sp.n_states = 2;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = with_f ? 5 : 4;
  sp.params = with_f ? pa_f : pa;
  sp.values = val;
  sp.n_outputs = 1;
  sp.outputs = on;
  sp.output_expr = out;
  m = rkin_model_new(&sp, g, NULL);
  if (m && rkin_model_set_dose_mods(m, mods, NULL)) {
    rkin_model_free(m);
    m = NULL;
  }
  return m;
}

#endif
