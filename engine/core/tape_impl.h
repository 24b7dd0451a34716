/* tape_impl.h - the tape's layout, shared by tape.c (building and
 * running it) and native.c (translating it to C); private to
 * engine/core. */
#ifndef RKIN_TAPE_IMPL_H
#define RKIN_TAPE_IMPL_H

#include "core/expr.h"
#include "core/expr_impl.h"

/* A compiled tape: out[k] for its outputs at (t, y, p). */
typedef void (*rkin_tape_fn)(double t, const double *y, const double *p,
                             double *out);

/* Tape opcodes: the graph's ops plus forms that are cheaper to run. */
enum {
  T_NEG = RKIN_OP_NEG, T_ADD, T_SUB, T_MUL, T_DIV, T_POW, T_EXP, T_LOG,
  T_SQRT, T_ABS, T_MIN, T_MAX, T_SIGN, T_STEP,
  T_LT, T_LE, T_GT, T_GE, T_AND, T_OR, T_NOT, T_IFELSE,
  T_SIN, T_COS, T_TAN, T_ASIN, T_ACOS, T_ATAN, T_FLOOR, T_CEIL, T_FACT,
  T_SQR     /* a^2 as a * a (one rounding, like a correctly rounded pow) */
};

typedef struct {
  int op, a, b;   /* a, b: work slots of the operands */
} instr;

struct rkin_tape {
  size_t ny, np, nc, n_instr, n_out;
  double *consts;
  instr *code;
  int *out_slot;
  /* The third operand (else value) of each IFELSE instruction, by
   * instruction index; NULL without IFELSE, so that the common
   * instruction stays three ints. */
  int *third;
  /* The same instructions compiled to machine code (native.c), or NULL:
   * rkin_tape_eval then runs it instead of the loop. */
  rkin_tape_fn fn;
};

#endif
