/* lrk_dist.h - the processes one script runs over: MPI ranks when the
 * radiokin executable was launched by mpirun or srun (and built with
 * MPI), else one process (rank 0 of 1). The engine knows nothing of
 * this: bindings give it a range of patients and gather the results here.
 *
 * Every rank runs the whole script. Collective calls (lrk_dist_agree,
 * lrk_dist_allgather, ...) must be reached by every rank in the same
 * order, so bindings call them unconditionally, after the same argument
 * checks on every rank. */
#ifndef RKIN_LRK_DIST_H
#define RKIN_LRK_DIST_H

#include <stddef.h>

#include <lua.h>

#include "core/err.h"
#include "pop/popest.h"

/* The radiokin executable only: starts MPI when the environment says the
 * process was launched by an MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 * PMIX_RANK) or RADIOKIN_MPI=1; RADIOKIN_MPI=0 never starts it. Returns 0,
 * or -1 with a message in err (MPI asked for but not built, or failing). */
int lrk_dist_init(int *argc, char ***argv, rkin_err *err);
/* Ends MPI when it was started: ok = 0 (this rank failed) aborts the
 * whole job (MPI_Abort), so the other ranks never wait on it. */
void lrk_dist_finalize(int ok);

int lrk_dist_rank(void);
int lrk_dist_size(void);
/* The job's rank and size even while suspended. */
int lrk_dist_world_rank(void);
int lrk_dist_world_size(void);
/* on = 1: this rank runs alone (a replicate: rank 0 of 1, no collective
 * calls, its files written by it); returns the previous state. */
int lrk_dist_suspend(int on);

/* Dynamic distribution of n tasks (replicates), collective: begin on
 * every rank; then each rank takes task after task with next() (0-based;
 * (size_t)-1 when none is left): a rank that finishes takes the next
 * one. Rank 0 hands them out from a dispatcher thread (MPI requests over
 * a duplicated communicator) while it runs tasks itself; end() waits for
 * it. One process: a counter. */
int lrk_dist_tasks_begin(size_t n, rkin_err *err);
size_t lrk_dist_task_next(void);
void lrk_dist_tasks_end(void);
/* 1 when built with MPI (whether or not it was started). */
int lrk_dist_built(void);

/* Threads for an engine call given `threads` (0: all cores): with
 * several ranks on one machine, 0 becomes the machine's cores shared out
 * among them (at least 1), so ranks x threads do not oversubscribe it. */
int lrk_dist_threads(int threads);

/* The block of items [lo, hi) rank `rank` of `size` takes of n items:
 * contiguous, in rank order, sizes differing by at most one (the first
 * n % size ranks one more). More ranks than items: the last ones none. */
void lrk_dist_range(size_t n, int rank, int size, size_t *lo, size_t *hi);

/* Collective: every rank passes its rc (0 or a negative RKIN_E code) and
 * err. When any rank failed, every rank raises the same Lua error,
 * "ctx: rank r: message" of the lowest failing rank (without the rank
 * when there is one process). Returns when all succeeded. */
void lrk_dist_agree(lua_State *L, const char *ctx, int rc,
                    const rkin_err *err);

/* The same without raising: returns 0 when every rank succeeded, else
 * the lowest failing rank's code with *err its message prefixed by
 * "rank r: " (one process: rc and err as they are). */
int lrk_dist_failed(int rc, rkin_err *err);

/* Collective: every rank's len bytes at `mine`, concatenated in rank
 * order into *all (malloc'd, the caller frees; NULL when *total is 0). */
int lrk_dist_allgather_bytes(const void *mine, size_t len, char **all,
                             size_t *total, rkin_err *err);

/* Collective: buf holds n items of `item` bytes on every rank; rank r has
 * filled its block (lrk_dist_range); afterwards every rank has all. */
int lrk_dist_allgather(void *buf, size_t n, size_t item, rkin_err *err);

/* Collective sums of a long / of the n doubles of v (in place). */
long lrk_dist_sum_long(long v);
int lrk_dist_sum_doubles(double *v, size_t n, rkin_err *err);

/* Collective: the item of `bytes` bytes in buf from rank `root` to all. */
int lrk_dist_bcast(void *buf, size_t bytes, int root, rkin_err *err);

/* Point to point (a chunk of rows to rank 0): bytes < 2^31. */
int lrk_dist_send(const void *buf, size_t bytes, int dest, rkin_err *err);
int lrk_dist_recv(void *buf, size_t bytes, int src, rkin_err *err);

/* Collective: the lowest of every rank's v (e.g. a first failed index). */
size_t lrk_dist_min_size(size_t v);

/* Collective: every rank's len bytes at mine, concatenated in rank order
 * into all (total bytes, their sum, known to every rank; a mismatch is
 * an error). One process: mine copied to all. */
int lrk_dist_allgather_into(const void *mine, size_t len, void *all,
                            size_t total, rkin_err *err);

/* A population fit over the ranks: the time spent in its gathers (which
 * includes waiting for the slowest rank), their count and bytes. */
typedef struct {
  double seconds;
  double cpu_seconds;   /* of the calling thread (MPI polls while waiting) */
  long calls;
  double bytes;
} lrk_dist_popstat;

/* Collective: when there are several ranks, checks that every rank has
 * the same dataset (subjects, observations: a script giving ranks
 * different data is refused on every rank) and sets o's subject range
 * (lrk_dist_range) and its gather / agree hooks, timed into st. One
 * process: o unchanged. Raises a Lua error (on every rank) naming ctx. */
void lrk_dist_popfit(lua_State *L, const char *ctx, rkin_popfit_opts *o,
                     size_t n_subj, size_t n_obs, lrk_dist_popstat *st);

/* Registers rk.mpi (rank, size, range). */
int luaopen_radiokin_mpi(lua_State *L);

#endif
