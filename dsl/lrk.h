/* lrk.h - helpers shared by the Lua bindings (dsl/l_*.c).
 *
 * Conventions: each engine module Lua sees has one binding file
 * dsl/l_<module>.c exporting `int luaopen_radiokin_<module>(lua_State *L)`
 * that returns a table of functions; dsl/modules.c lists it, and
 * `require "radiokin"` exposes it as rk.<module>. Caller mistakes raise a
 * Lua error whose text names the function, the field and what was expected;
 * engine errors are raised with the engine's message (lrk_raise). */
#ifndef RKIN_LRK_H
#define RKIN_LRK_H

#include <lauxlib.h>
#include <lua.h>

#include "core/err.h"

/* Pushes "file:line: " of the innermost Lua function running user code
 * (frames of the embedded prelude are skipped), or "" when there is none.
 * C functions get no position from luaL_error; this gives them one. */
void lrk_where(lua_State *L);
/* lua_pushfstring-style message prefixed by lrk_where; never returns. */
int lrk_error(lua_State *L, const char *fmt, ...);

/* Raises err->msg as a Lua error (prefixed with "where: " when where is not
 * NULL). Never returns. */
int lrk_raise(lua_State *L, const char *where, const rkin_err *err);

/* The "(got ...)" part of messages for the value at stack index i: its
 * type name ("string", "nil", ...), "nan" / "inf" / "-inf" for a
 * non-finite number, or the number itself (pushed as a string). */
const char *lrk_got(lua_State *L, int i);

/* qsort comparator for an array of const char *. */
int lrk_cmp_str(const void *a, const void *b);
/* A malloc'd copy of s (the caller frees); raises "ctx: out of memory". */
char *lrk_strdup(lua_State *L, const char *ctx, const char *s);
/* Frees the n strings of v (NULL entries allowed) and v itself. */
void lrk_free_names(char **v, size_t n);

/* Table-field readers for argument tables at stack index t. `ctx` names the
 * call in messages ("rk.tare.plan"). A missing field gives `def` when
 * required is 0, else raises "ctx: field 'key' is required (a number ...)".
 * A field of the wrong type, or a non-finite number, always raises. */
double lrk_field_number(lua_State *L, int t, const char *ctx, const char *key,
                        int required, double def);
/* As lrk_field_number, and the value must lie in [lo, hi]; flags make
 * either end open: "ctx: field 'lsf' must be a number in [0,1) (got 1.2)". */
#define LRK_LO_OPEN 1
#define LRK_HI_OPEN 2
double lrk_field_number_in(lua_State *L, int t, const char *ctx,
                           const char *key, int required, double def,
                           double lo, double hi, int flags);
/* An integer in the range of int (see lrk_field_count for messages). */
long lrk_field_integer(lua_State *L, int t, const char *ctx, const char *key,
                       int required, long def);
/* A count (patients, cycles, threads, seeds, ...): field `key` must be an
 * integer, given as 10 or 1e4 but never 1.5, in [lo, hi]. Messages quote
 * the value as the user wrote it: "ctx: field 'n' must be an integer in
 * [1, 100000000] (got 1e+12)". */
/* Ranges of the counts every binding reads the same way. */
#define LRK_MAX_PATIENTS 100000000LL      /* 1e8 */
#define LRK_MAX_THREADS 1024LL            /* 0 means all cores */
#define LRK_MAX_SEED 9007199254740992LL   /* 2^53: every seed a Lua number holds exactly */
long long lrk_field_count(lua_State *L, int t, const char *ctx,
                          const char *key, int required, long long def,
                          long long lo, long long hi);
/* The same for the argument at stack index `arg` (named `what`). */
long long lrk_check_count(lua_State *L, int arg, const char *ctx,
                          const char *what, long long lo, long long hi);

/* Memory guard for allocations that grow with a count the user gives:
 * raises before anything is allocated when n items of about `each` bytes
 * exceed the memory limit, e.g. "pop:sample: 10000000 patients need about
 * 14.2 GB (1424 bytes each); the memory limit is 8.0 GB (the machine's
 * RAM)". `what` names the items ("patients"). */
void lrk_check_memory(lua_State *L, const char *ctx, double n,
                      const char *what, double each);
/* The limit in bytes and where it comes from ("the machine's RAM", "the
 * process's address-space limit", "the cgroup memory limit", or
 * "rk.memory_limit"). lrk_set_memory_limit(0) restores the default. */
double lrk_memory_limit(const char **source);
void lrk_set_memory_limit(double bytes);
/* Bytes of a Lua table with `narr` array slots and `nhash` hash entries
 * (Lua 5.4 layout: header, 16-byte array values, 24-byte nodes rounded to
 * a power of two), for lrk_check_memory estimates. */
double lrk_table_bytes(size_t narr, size_t nhash);

const char *lrk_field_string(lua_State *L, int t, const char *ctx,
                             const char *key, int required, const char *def);
int lrk_field_boolean(lua_State *L, int t, const char *ctx, const char *key,
                      int def);
/* Field `key` (a string, default names[def]) as its index in the
 * NULL-terminated `names`; anything else raises listing the names. */
int lrk_field_enum(lua_State *L, int t, const char *ctx, const char *key,
                   const char *const names[], int def);

/* Reads field `key` (an array of numbers) into a new malloc'd array of *n
 * doubles; NULL and *n = 0 when absent and not required. The caller frees.
 * Raises on a non-number element, naming its index. */
double *lrk_field_numbers(lua_State *L, int t, const char *ctx,
                          const char *key, int required, size_t *n);

/* Reads the array at stack index idx (named `what` in messages, e.g.
 * "field 'times'") into a new userdata it pushes (collected by Lua, so a
 * later raise leaks nothing); returns its doubles and sets *n. */
double *lrk_numbers(lua_State *L, int idx, const char *ctx, const char *what,
                    size_t *n);

/* Raises "ctx: unknown field 'x' (known: a, b)" when the table at t has a
 * key not in the NULL-terminated list `known` (catches typos like 'II'). */
void lrk_check_keys(lua_State *L, int t, const char *ctx,
                    const char *const *known);

/* Pushes a Lua array of n doubles. */
void lrk_push_numbers(lua_State *L, const double *v, size_t n);

/* Writes `text` to `path` atomically (temporary file in the same folder,
 * then rename): on failure nothing is left behind and err says why. Only
 * a regular file is replaced: a symbolic link, directory, FIFO, device or
 * socket at path is refused (and left as it is). Path "-" writes to
 * standard output. */
int lrk_write_atomic(const char *path, const char *text, size_t len,
                     rkin_err *err);
/* The two halves, for writing several files all or none: begin writes
 * the temporary and sets *tmp (malloc'd; NULL when path is "-", already
 * written); commit renames it over path (checking path again) and frees
 * tmp; abort removes and frees it. On failure each leaves nothing. */
int lrk_atomic_begin(const char *path, const char *text, size_t len,
                     char **tmp, rkin_err *err);
int lrk_atomic_commit(const char *path, char *tmp, rkin_err *err);
/* Renames src onto path when path is absent or a regular file; refuses
 * (RKIN_EINVAL, naming what is there) a link, folder, FIFO, device or
 * socket, which is left as it is. src stays when it fails. */
int lrk_replace_regular(const char *src, const char *path, rkin_err *err);
/* RKIN_OK when path is absent or a regular file, else the refusal. */
int lrk_check_replaceable(const char *path, rkin_err *err);
void lrk_atomic_abort(char *tmp);

/* ------------------------------------------ shared with other bindings
 * (implemented in dsl/l_model.c; lrk_check_doses in dsl/l_simulate.c) */
struct rkin_model;
struct rkin_dosing;

/* The compiled model of the rk.model userdata at idx; raises otherwise.
 * Valid while that userdata is alive. */
const struct rkin_model *lrk_check_model(lua_State *L, int idx);
/* Pushes an rk.model userdata owning m (a model built by the engine, e.g.
 * the SBML importer); description and source (may be NULL) become
 * m.description and m.source. */
void lrk_push_model(lua_State *L, struct rkin_model *m,
                    const char *description, const char *source);
/* Adds m:write_sbml to the model's methods (dsl/l_sbml.c; called by the
 * opener of radiokin.model once its metatable exists). */
void lrk_sbml_model_methods(lua_State *L);
/* Fills p (rkin_model_nparams doubles) with the model's defaults, then the
 * overrides of the table at t (nil: none) as name = number; raises naming
 * an unknown parameter, a non-finite value, or a value <= 0 for a parameter
 * the model declares positive. */
void lrk_model_params(lua_State *L, int model_idx, int t, const char *ctx,
                      double *p);
/* Reads an array of dose tables {time=, amount=, rate=, to=, ii=, addl=}
 * at stack index t (`to` names a state of the model at model_idx) and
 * pushes a userdata owning the dosing; returns it (valid while that
 * userdata is alive). Raises naming the dose, the field and the value. */
struct rkin_dosing *lrk_check_doses(lua_State *L, int model_idx, int t,
                                    const char *ctx);

/* ------------------------------------------ patients (dsl/l_cohort.c)
 * A patients table (rk.population's pop:sample / pop:read_csv, or written
 * by hand) is an array of tables {PARAM = number, ..., id = , cov =
 * {NAME = number}, eta = {...}}; id, cov and eta are optional and are not
 * parameters. */

/* Reads the patients array at t into a new userdata it pushes: n x
 * rkin_model_nparams row-major, each patient's parameters over the
 * model's defaults, checked as lrk_model_params does; sets *n. Raises
 * naming the patient. */
double *lrk_check_patients(lua_State *L, int model_idx, int t,
                           const char *ctx, size_t *n);

/* Tracing a Lua function with symbolic arguments (dsl/l_trace.c), for
 * bindings that build expressions the way rk.model does. Each argument is
 * a read-only table of PARAM leaves: argument 0's names are leaves 0.., the
 * next argument's follow. An open argument also accepts names it does not
 * list: the first read of such a name makes a new leaf, numbered after all
 * listed ones. */
struct rkin_graph;
typedef struct {
  const char *label;          /* the argument's name in messages: "theta" */
  size_t n;
  const char *const *names;   /* its n listed names */
  int open;
} lrk_trace_arg;

/* Calls the function at fn_idx once with the argument tables. It must
 * return a table NAME = number or expression. Pushes three values: the
 * trace (a userdata owning the graph; collected by Lua), a table NAME ->
 * node (integer) of what the function returned, and the array of names
 * the open arguments created, in leaf order. kind ("rk.popmodel"), fn
 * ("individual") and args ("theta, eta and cov") name things in messages
 * and must outlive the trace (string literals); `name` is copied. Raises
 * on any error, naming kind 'name': fn. */
void lrk_trace_call(lua_State *L, int fn_idx, const char *kind,
                    const char *name, const char *fn, const char *args,
                    size_t n_args, const lrk_trace_arg *arg);
/* Takes the graph out of the trace at idx (the caller frees it with
 * rkin_graph_free); expressions still held by the script then raise. */
struct rkin_graph *lrk_trace_take(lua_State *L, int idx);

/* Collectable scratch memory: n elements of size sz, zeroed (a userdata
 * pushed on the stack). */
void *lrk_scratch(lua_State *L, size_t n, size_t sz);
/* Pushes "a, b, c" from n names ("none" when n is 0) and returns it. */
const char *lrk_push_list(lua_State *L, const char *const *names, size_t n);

/* The fields every data-set object shares (n_subjects, n_obs, path,
 * covariates, ids; dsl/l_popdata.c): pushes field k of d (read from path)
 * and returns 1, or pushes nothing and returns 0 when k is none of them. */
struct rkin_data;
int lrk_data_field(lua_State *L, const struct rkin_data *d, const char *path,
                   const char *k);

/* ------------------------------------------ functions of radiokin.core
 * kept in their own files: rk.mkdir, private_dir, replace (dsl/l_fs.c); rk.run, rk.gnuplot,
 * rk.gnuplot_quote (dsl/l_spawn.c). */
int lrk_core_mkdir(lua_State *L);
int lrk_core_private_dir(lua_State *L);
int lrk_core_replace(lua_State *L);
int lrk_core_file_kind(lua_State *L);
int lrk_core_run(lua_State *L);
int lrk_core_gnuplot(lua_State *L);
int lrk_core_gnuplot_quote(lua_State *L);

#endif
