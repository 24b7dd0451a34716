/* peer.h - the six-compartment benchmark model (docs/sources.md):
 * its portable random stream (MINSTD + Box-Muller), the 11 rate constants
 * per patient, and the six-state 177Lu model built through the expr API.
 * Header-only, for the unit tests and the benchmarks. */
#ifndef RKIN_PEER_H
#define RKIN_PEER_H

#include <math.h>
#include <stdint.h>

#include "core/expr.h"
#include "core/model.h"
#include "core/nuclide.h"

#define PEER_SEED 20240601u
#define PEER_NPAR 11
#define PEER_NSTATE 6
#define PEER_DOSE_MBQ 7400.0
#define PEER_CYCLE_H 1344.0        /* 8 weeks */
#define PEER_NCYCLE 4
#define PEER_KIDNEY 2              /* state index of K */
#define PEER_TWO_PI 6.283185307179586476925286766559

/* Typical values (/h) in the order the random effects are drawn:
 * kPI kIP kPK kKP kPL kLP kPT kTP kPR kRP kU (README s.2). */
static const double peer_theta[PEER_NPAR] = {
  0.60, 0.40, 0.030, 0.012, 0.040, 0.015, 0.030, 0.004, 0.15, 0.030, 0.50
};
static const char *const peer_param_names[PEER_NPAR] = {
  "kPI", "kIP", "kPK", "kKP", "kPL", "kLP", "kPT", "kTP", "kPR", "kRP", "kU"
};
static const char *const peer_state_names[PEER_NSTATE] = {
  "P", "I", "K", "L", "T", "R"
};

/* omega = sqrt(ln(1 + 0.30^2)): 30 % CV of k (README s.2). */
static inline double peer_omega(void)
{
  return sqrt(log(1.0 + 0.30 * 0.30));
}

typedef struct {
  uint64_t x;
  double spare;
  int has_spare;
} peer_rng;

static inline void peer_rng_init(peer_rng *r, uint64_t seed)
{
  r->x = seed;
  r->has_spare = 0;
  r->spare = 0;
}

/* x_{n+1} = 48271 x_n mod (2^31 - 1); u = x / (2^31 - 1). */
static inline uint64_t peer_next(peer_rng *r)
{
  r->x = (48271u * r->x) % 2147483647u;
  return r->x;
}

static inline double peer_uniform(peer_rng *r)
{
  return (double)peer_next(r) / 2147483647.0;
}

/* Box-Muller on consecutive pairs: r cos first, r sin second; the normals
 * form one stream across patients. */
static inline double peer_normal(peer_rng *r)
{
  double u1, u2, rad;
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  u1 = peer_uniform(r);
  u2 = peer_uniform(r);
  rad = sqrt(-2.0 * log(u1));
  r->spare = rad * sin(PEER_TWO_PI * u2);
  r->has_spare = 1;
  return rad * cos(PEER_TWO_PI * u2);
}

/* The next patient's rate constants k = theta exp(omega z). */
static inline void peer_patient(peer_rng *r, double k[PEER_NPAR])
{
  double om = peer_omega();
  int j;
  for (j = 0; j < PEER_NPAR; j++)
    k[j] = peer_theta[j] * exp(om * peer_normal(r));
}

/* Rate constants of patients 1..n, row-major n x 11. */
static inline void peer_population(size_t n, double *k)
{
  peer_rng r;
  size_t i;
  peer_rng_init(&r, PEER_SEED);
  for (i = 0; i < n; i++) peer_patient(&r, k + i * PEER_NPAR);
}

/* The six-state model of README s.2 with Lu-177 decay on every state
 * (applied by the model). Outputs: none. NULL and err on failure. */
static inline rkin_model *peer_model(rkin_err *err)
{
  rkin_graph *g = rkin_graph_new();
  rkin_node y[PEER_NSTATE], k[PEER_NPAR], d[PEER_NSTATE], out_sum, in_sum;
  rkin_model_spec spec;
  int i;
  const rkin_nuclide *lu = rkin_nuclide_find("Lu-177", err);
  if (!g || !lu) {
    rkin_graph_free(g);
    return NULL;
  }
  for (i = 0; i < PEER_NSTATE; i++) y[i] = rkin_expr_state(g, i);
  for (i = 0; i < PEER_NPAR; i++) k[i] = rkin_expr_param(g, i);
  /* compartment c = 1..5 (I K L T R): inflow k[2c-2] from P, outflow
   * k[2c-1] back to P */
  out_sum = k[10];                     /* kU: renal excretion */
  in_sum = rkin_expr_const(g, 0.0);
  for (i = 1; i < PEER_NSTATE; i++) {
    rkin_node kin = k[2 * i - 2], kout = k[2 * i - 1];
    out_sum = rkin_expr_binary(g, RKIN_OP_ADD, out_sum, kin);
    in_sum = rkin_expr_binary(g, RKIN_OP_ADD, in_sum,
                              rkin_expr_binary(g, RKIN_OP_MUL, kout, y[i]));
    d[i] = rkin_expr_binary(g, RKIN_OP_SUB,
                            rkin_expr_binary(g, RKIN_OP_MUL, kin, y[0]),
                            rkin_expr_binary(g, RKIN_OP_MUL, kout, y[i]));
  }
  d[0] = rkin_expr_binary(g, RKIN_OP_SUB, in_sum,
                          rkin_expr_binary(g, RKIN_OP_MUL, out_sum, y[0]));
  spec.name = "peer_lu177_6c";
  spec.nuclide = lu;
  spec.n_states = PEER_NSTATE;
  spec.states = peer_state_names;
  spec.deriv = d;
  spec.n_params = PEER_NPAR;
  spec.params = peer_param_names;
  spec.values = peer_theta;
  spec.n_outputs = 0;
  spec.outputs = NULL;
  spec.output_expr = NULL;
  return rkin_model_new(&spec, g, err);
}

#endif
