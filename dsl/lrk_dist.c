/* lrk_dist.c - MPI ranks for the bindings (see lrk_dist.h). Without MPI
 * (configure --without-mpi, or a process not launched by mpirun / srun)
 * every call is the one-process case: rank 0 of 1, gathers are no-ops. */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif

#include "lrk.h"
#include "pop/vpop.h"
#include "lrk_dist.h"

static int dist_rank = 0, dist_size = 1, dist_started = 0;
static int dist_local = 1;   /* ranks on this machine */

static int dist_suspended = 0; /* inside a replicate: one process */
/* whether calls go over MPI */
#define ACTIVE (dist_started && dist_size > 1 && !dist_suspended)

int lrk_dist_rank(void) { return dist_suspended ? 0 : dist_rank; }
int lrk_dist_size(void) { return dist_suspended ? 1 : dist_size; }
int lrk_dist_world_rank(void) { return dist_rank; }
int lrk_dist_world_size(void) { return dist_started ? dist_size : 1; }
int lrk_dist_suspend(int on)
{
  int was = dist_suspended;
  dist_suspended = on;
  return was;
}

int lrk_dist_built(void)
{
#ifdef HAVE_MPI
  return 1;
#else
  return 0;
#endif
}

/* Whether a launcher started this process as one of an MPI job. */
static int launched_by_mpi(void)
{
  static const char *const vars[] = {
    "OMPI_COMM_WORLD_SIZE",   /* OpenMPI's mpirun */
    "PMI_SIZE",               /* MPICH's hydra, srun --mpi=pmi2 */
    "PMIX_RANK",              /* srun --mpi=pmix, PMIx launchers */
    NULL
  };
  const char *force = getenv("RADIOKIN_MPI");
  int i;
  if (force && *force) return strcmp(force, "0") != 0;
  for (i = 0; vars[i]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

int lrk_dist_init(int *argc, char ***argv, rkin_err *err)
{
  if (!launched_by_mpi()) return 0;
#ifdef HAVE_MPI
  {
    int provided = 0;
    /* One thread at a time calls MPI (SERIALIZED): the main thread, or
     * while replicates run, rank 0's dispatcher (l_replicates.c); the
     * engine's worker threads never do. */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) !=
        MPI_SUCCESS)
      return rkin_err_set(err, RKIN_EIO, "cannot start MPI"), -1;
    dist_started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &dist_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dist_size);
    /* errors come back as codes, reported through rkin_err */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    {
      MPI_Comm node;
      if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0,
                              MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &dist_local);
        MPI_Comm_free(&node);
      }
    }
    return 0;
  }
#else
  (void)argc;
  (void)argv;
  {
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (!s) s = getenv("PMI_SIZE");
    /* one process of a launcher is still the one-process case */
    if (s && strcmp(s, "1") != 0)
      return rkin_err_set(err, RKIN_EINVAL, "launched as one of %s MPI "
                          "processes, but this radiokin was built without "
                          "MPI (configure found no MPI, or --without-mpi; "
                          "Debian: libopenmpi-dev)", s), -1;
    return 0;
  }
#endif
}

void lrk_dist_finalize(int ok)
{
#ifdef HAVE_MPI
  if (!dist_started) return;
  fflush(stdout);
  fflush(stderr);
  /* A failed rank would leave the others waiting in their next
   * collective call: end the whole job instead. */
  if (!ok && dist_size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Finalize();
  dist_started = 0;
#else
  (void)ok;
#endif
}

int lrk_dist_threads(int threads)
{
  int cores;
  if (threads > 0 || dist_local <= 1) return threads;
  cores = rkin_ncores() / dist_local;
  return cores > 0 ? cores : 1;
}

void lrk_dist_range(size_t n, int rank, int size, size_t *lo, size_t *hi)
{
  size_t r = (size_t)rank, s = size > 0 ? (size_t)size : 1;
  size_t q = n / s, extra = n % s;
  *lo = r * q + (r < extra ? r : extra);
  *hi = *lo + q + (r < extra ? 1 : 0);
}

#ifdef HAVE_MPI
static int mpi_fail(rkin_err *err, int code, const char *what)
{
  char s[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, s, &len) != MPI_SUCCESS) len = 0;
  s[len] = 0;
  return rkin_err_set(err, RKIN_EIO, "MPI %s failed: %s", what, s);
}
#endif

int lrk_dist_failed(int rc, rkin_err *err)
{
#ifdef HAVE_MPI
  if (ACTIVE) {
    int mine = rc ? dist_rank : dist_size, first = dist_size;
    rkin_err e;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == dist_size) return RKIN_OK;
    memset(&e, 0, sizeof e);
    if (dist_rank == first) {
      e = *err;
      if (!e.code) e.code = rc;
    }
    MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, MPI_COMM_WORLD);
    e.msg[sizeof e.msg - 1] = 0;
    rkin_err_set(err, e.code ? e.code : RKIN_EIO, "rank %d: %s", first,
                 e.msg);
    return err->code;
  }
#endif
  (void)err;
  return rc;
}

void lrk_dist_agree(lua_State *L, const char *ctx, int rc,
                    const rkin_err *err)
{
  rkin_err e = *err;
  if (lrk_dist_failed(rc, &e)) lrk_raise(L, ctx, &e);
}

#ifdef HAVE_MPI
/* Every rank's block length and its offset in the gathered buffer, for
 * MPI_Allgatherv. *lens owns one allocation holding lens, counts and displs
 * (free(*lens) releases all three); *sum is the total byte count. */
static int gather_layout(size_t len, unsigned long long **lens_out,
                         int **counts_out, int **displs_out, size_t *sum_out,
                         rkin_err *err)
{
  unsigned long long l = len, *lens;
  int *counts, *displs, r, rc;
  size_t sum = 0;
  lens = malloc((size_t)dist_size * (sizeof *lens + 2 * sizeof(int)));
  if (!lens)
    return rkin_err_set(err, RKIN_ENOMEM, "MPI gather: out of memory");
  counts = (int *)(lens + dist_size);
  displs = counts + dist_size;
  rc = MPI_Allgather(&l, 1, MPI_UNSIGNED_LONG_LONG, lens, 1,
                     MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) {
    free(lens);
    return mpi_fail(err, rc, "gather");
  }
  for (r = 0; r < dist_size; r++) {
    displs[r] = (int)sum;
    counts[r] = (int)lens[r];
    sum += lens[r];
    if (sum > INT_MAX) {
      free(lens);
      return rkin_err_set(err, RKIN_EINVAL, "MPI gather: %zu bytes "
                          "exceed MPI's int counts", sum);
    }
  }
  *lens_out = lens;
  *counts_out = counts;
  *displs_out = displs;
  *sum_out = sum;
  return RKIN_OK;
}
#endif

int lrk_dist_allgather_bytes(const void *mine, size_t len, char **all,
                             size_t *total, rkin_err *err)
{
  *all = NULL;
  *total = len;
#ifdef HAVE_MPI
  if (ACTIVE) {
    unsigned long long *lens;
    int *counts, *displs, rc;
    size_t sum;
    rc = gather_layout(len, &lens, &counts, &displs, &sum, err);
    if (rc) return rc;
    *total = sum;
    if (sum && !(*all = malloc(sum))) {
      free(lens);
      return rkin_err_set(err, RKIN_ENOMEM, "MPI gather: out of memory");
    }
    rc = MPI_Allgatherv(mine, (int)len, MPI_BYTE, *all, counts, displs,
                        MPI_BYTE, MPI_COMM_WORLD);
    free(lens);
    if (rc != MPI_SUCCESS) {
      free(*all);
      *all = NULL;
      return mpi_fail(err, rc, "gather");
    }
    return RKIN_OK;
  }
#endif
  if (len) {
    if (!(*all = malloc(len)))
      return rkin_err_set(err, RKIN_ENOMEM, "gather: out of memory");
    memcpy(*all, mine, len);
  }
  return RKIN_OK;
}

int lrk_dist_allgather(void *buf, size_t n, size_t item, rkin_err *err)
{
#ifdef HAVE_MPI
  if (ACTIVE && n && item) {
    int *counts, *displs, r, rc;
    MPI_Datatype t;
    if (n > INT_MAX || item > INT_MAX)
      return rkin_err_set(err, RKIN_EINVAL, "MPI gather: %zu items of %zu "
                          "bytes exceed MPI's int counts", n, item);
    counts = malloc(2 * (size_t)dist_size * sizeof *counts);
    if (!counts)
      return rkin_err_set(err, RKIN_ENOMEM, "MPI gather: out of memory");
    displs = counts + dist_size;
    for (r = 0; r < dist_size; r++) {
      size_t lo, hi;
      lrk_dist_range(n, r, dist_size, &lo, &hi);
      counts[r] = (int)(hi - lo);
      displs[r] = (int)lo;
    }
    MPI_Type_contiguous((int)item, MPI_BYTE, &t);
    MPI_Type_commit(&t);
    rc = MPI_Allgatherv(MPI_IN_PLACE, 0, t, buf, counts, displs, t,
                        MPI_COMM_WORLD);
    MPI_Type_free(&t);
    free(counts);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "gather");
  }
#else
  (void)buf;
  (void)n;
  (void)item;
  (void)err;
#endif
  return RKIN_OK;
}

long lrk_dist_sum_long(long v)
{
#ifdef HAVE_MPI
  if (ACTIVE) {
    long s = 0;
    MPI_Allreduce(&v, &s, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    return s;
  }
#endif
  return v;
}

int lrk_dist_sum_doubles(double *v, size_t n, rkin_err *err)
{
#ifdef HAVE_MPI
  if (ACTIVE && n) {
    int rc;
    if (n > INT_MAX)
      return rkin_err_set(err, RKIN_EINVAL, "MPI sum: %zu values exceed "
                          "MPI's int counts", n);
    rc = MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM,
                       MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "sum");
  }
#else
  (void)v;
  (void)n;
  (void)err;
#endif
  return RKIN_OK;
}

int lrk_dist_bcast(void *buf, size_t bytes, int root, rkin_err *err)
{
#ifdef HAVE_MPI
  if (ACTIVE) {
    char *p = buf;
    while (bytes) {
      int chunk = bytes > (size_t)INT_MAX ? INT_MAX : (int)bytes;
      int rc = MPI_Bcast(p, chunk, MPI_BYTE, root, MPI_COMM_WORLD);
      if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "broadcast");
      p += chunk;
      bytes -= (size_t)chunk;
    }
  }
#else
  (void)buf;
  (void)bytes;
  (void)root;
  (void)err;
#endif
  return RKIN_OK;
}

int lrk_dist_send(const void *buf, size_t bytes, int dest, rkin_err *err)
{
#ifdef HAVE_MPI
  int rc;
  if (bytes > INT_MAX)
    return rkin_err_set(err, RKIN_EINVAL, "MPI send: %zu bytes exceed "
                        "MPI's int counts", bytes);
  rc = MPI_Send(buf, (int)bytes, MPI_BYTE, dest, 0, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "send");
  return RKIN_OK;
#else
  (void)buf;
  (void)bytes;
  (void)dest;
  return rkin_err_set(err, RKIN_EINVAL, "send: built without MPI");
#endif
}

int lrk_dist_recv(void *buf, size_t bytes, int src, rkin_err *err)
{
#ifdef HAVE_MPI
  int rc;
  if (bytes > INT_MAX)
    return rkin_err_set(err, RKIN_EINVAL, "MPI receive: %zu bytes exceed "
                        "MPI's int counts", bytes);
  rc = MPI_Recv(buf, (int)bytes, MPI_BYTE, src, 0, MPI_COMM_WORLD,
                MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "receive");
  return RKIN_OK;
#else
  (void)buf;
  (void)bytes;
  (void)src;
  return rkin_err_set(err, RKIN_EINVAL, "receive: built without MPI");
#endif
}

size_t lrk_dist_min_size(size_t v)
{
#ifdef HAVE_MPI
  if (ACTIVE) {
    unsigned long long m = v, r = v;
    MPI_Allreduce(&m, &r, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN,
                  MPI_COMM_WORLD);
    return (size_t)r;
  }
#endif
  return v;
}

int lrk_dist_allgather_into(const void *mine, size_t len, void *all,
                            size_t total, rkin_err *err)
{
#ifdef HAVE_MPI
  if (ACTIVE) {
    unsigned long long *lens;
    int *counts, *displs, rc;
    size_t sum;
    rc = gather_layout(len, &lens, &counts, &displs, &sum, err);
    if (rc) return rc;
    if (sum != total) {
      free(lens);
      return rkin_err_set(err, RKIN_EINVAL, "MPI gather: the ranks sent "
                          "%zu bytes, %zu expected (ranks out of step)",
                          sum, total);
    }
    rc = MPI_Allgatherv(mine, (int)len, MPI_BYTE, all, counts, displs,
                        MPI_BYTE, MPI_COMM_WORLD);
    free(lens);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "gather");
    return RKIN_OK;
  }
#endif
  if (len != total)
    return rkin_err_set(err, RKIN_EINVAL, "gather: %zu bytes, %zu "
                        "expected", len, total);
  if (len) memcpy(all, mine, len);
  return RKIN_OK;
}

/* ------------------------------------------------ population fits */

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double thread_cpu_s(void)
{
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) return 0;
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* rkin_popfit_opts gather: lrk_dist_allgather_into, timed. */
static int pop_gather(const void *mine, size_t len, void *all, size_t total,
                      void *ud, rkin_err *err)
{
  lrk_dist_popstat *st = ud;
  double t0 = now_s(), c0 = thread_cpu_s();
  int rc = lrk_dist_allgather_into(mine, len, all, total, err);
  st->seconds += now_s() - t0;
  st->cpu_seconds += thread_cpu_s() - c0;
  st->calls++;
  st->bytes += (double)total;
  return rc;
}

static int pop_agree_ranks(int rc, rkin_err *err, void *ud)
{
  (void)ud;
  return lrk_dist_failed(rc, err);
}

void lrk_dist_popfit(lua_State *L, const char *ctx, rkin_popfit_opts *o,
                     size_t n_subj, size_t n_obs, lrk_dist_popstat *st)
{
  unsigned long long shape[2], mine[2];
  rkin_err err;
  int rc = RKIN_OK;
  memset(st, 0, sizeof *st);
  if (lrk_dist_size() <= 1) return;
  rkin_err_clear(&err);
  /* the same data on every rank: else the gathers would not fit */
  mine[0] = shape[0] = n_subj;
  mine[1] = shape[1] = n_obs;
  rc = lrk_dist_bcast(shape, sizeof shape, 0, &err);
  if (!rc && (shape[0] != mine[0] || shape[1] != mine[1]))
    rc = rkin_err_set(&err, RKIN_EINVAL, "the dataset has %llu subjects "
                      "and %llu observations here but %llu and %llu on "
                      "rank 0 (every rank must fit the same data)",
                      mine[0], mine[1], shape[0], shape[1]);
  lrk_dist_agree(L, ctx, rc, &err);
  lrk_dist_range(n_subj, lrk_dist_rank(), lrk_dist_size(), &o->subj_lo,
                 &o->subj_hi);
  o->gather = pop_gather;
  o->agree = pop_agree_ranks;
  o->dist_ud = st;
  o->threads = lrk_dist_threads(o->threads);
}

/* ------------------------------------------------------------- tasks */

static atomic_size_t task_next;
static size_t task_n;
static int task_mpi = 0;           /* tasks handed out over MPI */
#ifdef HAVE_MPI
static MPI_Comm task_comm;
static pthread_t task_server;
enum { TAG_ASK = 1, TAG_TASK = 2 };

/* Rank 0's dispatcher: answers each rank's request with the next task
 * (or -1), until every other rank has been told there is none. Polls
 * (MPI_Test, then 0.2 ms asleep) so it does not spin a core away from
 * the replicates. */
static void *serve_tasks(void *unused)
{
  int left = dist_size - 1;
  (void)unused;
  while (left > 0) {
    int ask = 0, done = 0;
    long long give;
    MPI_Request rq;
    MPI_Status st;
    struct timespec nap = {0, 200000};
    size_t k;
    if (MPI_Irecv(&ask, 1, MPI_INT, MPI_ANY_SOURCE, TAG_ASK, task_comm,
                  &rq) != MPI_SUCCESS)
      break;
    while (MPI_Test(&rq, &done, &st) == MPI_SUCCESS && !done)
      nanosleep(&nap, NULL);
    if (!done) break;
    k = atomic_fetch_add(&task_next, 1);
    give = k < task_n ? (long long)k : -1;
    if (give < 0) left--;
    MPI_Send(&give, 1, MPI_LONG_LONG, st.MPI_SOURCE, TAG_TASK, task_comm);
  }
  return NULL;
}
#endif

int lrk_dist_tasks_begin(size_t n, rkin_err *err)
{
  atomic_store(&task_next, 0);
  task_n = n;
  task_mpi = 0;
#ifdef HAVE_MPI
  if (ACTIVE) {
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &task_comm);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "communicator copy");
    task_mpi = 1;
    if (dist_rank == 0 &&
        pthread_create(&task_server, NULL, serve_tasks, NULL) != 0) {
      /* the others would wait for answers: stop the job */
      fprintf(stderr, "radiokin: cannot start the task dispatcher\n");
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
#endif
  (void)err;
  return RKIN_OK;
}

size_t lrk_dist_task_next(void)
{
  size_t k;
#ifdef HAVE_MPI
  if (task_mpi && dist_rank != 0) {
    int ask = 1;
    long long got = -1;
    if (MPI_Send(&ask, 1, MPI_INT, 0, TAG_ASK, task_comm) != MPI_SUCCESS ||
        MPI_Recv(&got, 1, MPI_LONG_LONG, 0, TAG_TASK, task_comm,
                 MPI_STATUS_IGNORE) != MPI_SUCCESS)
      MPI_Abort(MPI_COMM_WORLD, 1);
    return got < 0 ? (size_t)-1 : (size_t)got;
  }
#endif
  k = atomic_fetch_add(&task_next, 1);
  return k < task_n ? k : (size_t)-1;
}

void lrk_dist_tasks_end(void)
{
#ifdef HAVE_MPI
  if (!task_mpi) return;
  if (dist_rank == 0) pthread_join(task_server, NULL);
  MPI_Comm_free(&task_comm);
  task_mpi = 0;
#endif
}

/* ------------------------------------------------------------- rk.mpi */

/* rk.mpi.range(n [, rank [, size]]) -> first, last (1-based, inclusive;
 * last = first - 1 when the rank has none): this rank's block of n. */
static int mpi_range(lua_State *L)
{
  long long n = lrk_check_count(L, 1, "rk.mpi.range", "n", 0,
                                LRK_MAX_PATIENTS);
  int size = (int)luaL_optinteger(L, 3, dist_size);
  int rank = (int)luaL_optinteger(L, 2, dist_rank);
  size_t lo, hi;
  if (size < 1)
    return lrk_error(L, "rk.mpi.range: size must be >= 1 (got %d)", size);
  if (rank < 0 || rank >= size)
    return lrk_error(L, "rk.mpi.range: rank must be in [0, %d] (got %d)",
                     size - 1, rank);
  lrk_dist_range((size_t)n, rank, size, &lo, &hi);
  lua_pushinteger(L, (lua_Integer)lo + 1);
  lua_pushinteger(L, (lua_Integer)hi);
  return 2;
}

/* rk.mpi.gather_time(bytes [, reps]) -> mean, least seconds: collective;
 * the time of one gather of `bytes` bytes from every rank to every rank (the
 * call a population fit makes per outer evaluation), each started right
 * after a barrier so waiting for other ranks is left out: the latency
 * and bandwidth of the interconnect, for scaling projections. 0 with
 * one process. */
static int mpi_gather_time(lua_State *L)
{
  long long bytes = lrk_check_count(L, 1, "rk.mpi.gather_time", "bytes", 0,
                                    (long long)1 << 26);
  long long reps = luaL_optinteger(L, 2, 100);
  double total = 0, least = HUGE_VAL;
  char *mine, *all;
  size_t n = (size_t)lrk_dist_size();
  long long i;
  rkin_err err;
  int rc = RKIN_OK;
  if (reps < 1 || reps > 1000000)
    return lrk_error(L, "rk.mpi.gather_time: reps must be in [1, 1000000] "
                     "(got %I)", (lua_Integer)reps);
  mine = calloc((size_t)bytes + 1, 1);
  all = calloc((size_t)bytes * n + 1, 1);
  rkin_err_clear(&err);
  if (!mine || !all)
    rc = rkin_err_set(&err, RKIN_ENOMEM, "out of memory");
  lrk_dist_agree(L, "rk.mpi.gather_time", rc, &err);
  for (i = 0; !rc && i < reps; i++) {
    double t0;
#ifdef HAVE_MPI
    if (ACTIVE) MPI_Barrier(MPI_COMM_WORLD);
#endif
    t0 = now_s();
    rc = lrk_dist_allgather_into(mine, (size_t)bytes, all,
                                 (size_t)bytes * n, &err);
    t0 = now_s() - t0;
    total += t0;
    if (t0 < least) least = t0;
  }
  free(mine);
  free(all);
  lrk_dist_agree(L, "rk.mpi.gather_time", rc, &err);
  lua_pushnumber(L, n > 1 ? total / (double)reps : 0);
  lua_pushnumber(L, n > 1 ? least : 0);
  return 2;
}

int luaopen_radiokin_mpi(lua_State *L)
{
  static const luaL_Reg f[] = {{"range", mpi_range},
                               {"gather_time", mpi_gather_time},
                               {NULL, NULL}};
  luaL_newlib(L, f);
  lua_pushinteger(L, dist_rank);
  lua_setfield(L, -2, "rank");
  lua_pushinteger(L, dist_size);
  lua_setfield(L, -2, "size");
  lua_pushboolean(L, lrk_dist_built());
  lua_setfield(L, -2, "built");
  return 1;
}
