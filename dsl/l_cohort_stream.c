/* l_cohort_stream.c - rk.cohort{..., csv = path}: a cohort whose rows do
 * not have to fit in memory. Patients are drawn (one seeded stream, in
 * order) and solved in chunks; each chunk's rows go to the CSV (the same
 * bytes c:write_csv writes) and its TIAs to a binary scratch file. The
 * summaries are then computed exactly, column by column, from that
 * scratch file: the same numbers c:summary gives for the same cohort in
 * memory. Memory: the chunk buffers plus three columns of n doubles (the
 * column, the cumulative column, the sorted copy); never the n x cycles
 * table or its Lua tables.
 *
 * Over MPI ranks, chunk k is solved by rank k % size and sent to rank 0,
 * which writes every row in patient order; every rank draws the whole
 * parameter stream (cheap next to solving), so the patients are the same
 * for any number of ranks. The summaries are broadcast to every rank. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <lauxlib.h>
#include <lua.h>

#include "lrk.h"
#include "lrk_cohort.h"
#include "lrk_dist.h"

#define CTX "rk.cohort"
#define STREAM_MT "radiokin.cohort_stream"
#define MAX_FAILED_LISTED 1000

/* What rank 0 holds open while streaming; closed by the __gc of its
 * userdata when a Lua error interrupts (no leaked file, no half-written
 * CSV left at the path). */
typedef struct {
  FILE *csv;        /* the temporary beside the target */
  char *tmp;        /* its name (lrk_atomic_*) */
  FILE *bin;        /* the TIAs, n x cycles x n_tia doubles (tmpfile) */
} stream_files;

static void close_files(stream_files *f)
{
  if (f->csv) fclose(f->csv);
  f->csv = NULL;
  if (f->tmp) lrk_atomic_abort(f->tmp);
  f->tmp = NULL;
  if (f->bin) fclose(f->bin);
  f->bin = NULL;
}

static int files_gc(lua_State *L)
{
  close_files(luaL_checkudata(L, 1, STREAM_MT));
  return 0;
}

/* A chunk's header, from the rank that solved it to rank 0. */
typedef struct {
  int rc;                        /* call-level failure of the chunk */
  long steps;
  unsigned long long n_failed, first_failed;
  rkin_err err;                  /* rc's message, or the first failure's */
} chunk_head;

/* Formats one patient's row exactly as c:write_csv does: id, the
 * parameters in name order (`order`), then <name>_c<k> for every name
 * and cycle (an empty field for a failed patient). */
static size_t format_row(char *out, size_t id, const double *p,
                         const size_t *order, size_t np, const double *tia,
                         size_t n_tia, size_t cycles)
{
  char *o = out;
  size_t j, q, c;
  o += sprintf(o, "%zu", id);
  for (j = 0; j < np; j++) o += sprintf(o, ",%.10g", p[order[j]]);
  for (q = 0; q < n_tia; q++)
    for (c = 0; c < cycles; c++) {
      double v = tia[c * n_tia + q];
      if (isfinite(v)) o += sprintf(o, ",%.10g", v);
      else *o++ = ',';
    }
  *o++ = '\n';
  return (size_t)(o - out);
}

/* Rows [lo, hi) of a chunk formatted into out (room for row_max bytes a
 * row): one thread's share of the chunk's CSV text. */
typedef struct {
  char *out;
  size_t len, lo, hi, first_id, np, n_tia, cycles, per_pat;
  const double *params, *tia;
  const size_t *order;
} fmt_share;

static void *format_share(void *arg)
{
  fmt_share *j = arg;
  char *o = j->out;
  size_t i;
  for (i = j->lo; i < j->hi; i++)
    o += format_row(o, j->first_id + i + 1, j->params + i * j->np,
                    j->order, j->np, j->tia + i * j->per_pat, j->n_tia,
                    j->cycles);
  j->len = (size_t)(o - j->out);
  return NULL;
}

#define FMT_THREADS 16

/* Formats the mk rows of a chunk with up to nt threads (formatting the
 * numbers is a fifth of a streamed cohort's work, and would otherwise
 * run on one core while the others wait for the next chunk): contiguous
 * shares, each into its own stretch of text, written in order, so the
 * bytes are those of one thread. Returns the shares in sh[0..*n_sh). */
static void format_chunk(char *text, size_t row_max, size_t mk,
                         size_t first_id, const double *params,
                         const size_t *order, size_t np, const double *tia,
                         size_t n_tia, size_t cycles, int nt, fmt_share *sh,
                         size_t *n_sh)
{
  pthread_t th[FMT_THREADS];
  int started[FMT_THREADS];
  size_t t, n;
  if (nt < 1) nt = 1;
  if (nt > FMT_THREADS) nt = FMT_THREADS;
  n = (size_t)nt < mk ? (size_t)nt : (mk ? mk : 1);
  for (t = 0; t < n; t++) {
    sh[t].lo = mk * t / n;
    sh[t].hi = mk * (t + 1) / n;
    sh[t].out = text + sh[t].lo * row_max;
    sh[t].len = 0;
    sh[t].first_id = first_id;
    sh[t].params = params;
    sh[t].order = order;
    sh[t].np = np;
    sh[t].tia = tia;
    sh[t].n_tia = n_tia;
    sh[t].cycles = cycles;
    sh[t].per_pat = cycles * n_tia;
    started[t] = t > 0 && pthread_create(&th[t], NULL, format_share,
                                         &sh[t]) == 0;
  }
  format_share(&sh[0]);
  for (t = 1; t < n; t++) {
    if (started[t]) pthread_join(th[t], NULL);
    else format_share(&sh[t]);      /* no thread: done here */
  }
  *n_sh = n;
}

/* Row of the summary table of one column (k finite values, sorted):
 * n, mean, sd, min, max, median, the nq quantiles, count over the limit
 * (NaN without one): the numbers and GSL calls of c:summary. */
static void column_stats(const double *buf, size_t k, const double *qs,
                         size_t nq, double limit, double *row)
{
  size_t j, over = 0;
  row[0] = (double)k;
  for (j = 1; j < 7 + nq; j++) row[j] = NAN;
  if (isfinite(limit)) {
    /* sorted: the count over the limit is the tail past the last <= */
    size_t lo = 0, hi = k;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (buf[mid] > limit) hi = mid;
      else lo = mid + 1;
    }
    over = k - lo;
    row[6 + nq] = (double)over;
  }
  if (!k) return;
  row[1] = gsl_stats_mean(buf, 1, k);
  row[2] = k > 1 ? gsl_stats_sd(buf, 1, k) : 0;
  row[3] = buf[0];
  row[4] = buf[k - 1];
  row[5] = gsl_stats_median_from_sorted_data(buf, 1, k);
  for (j = 0; j < nq; j++)
    row[6 + j] = gsl_stats_quantile_from_sorted_data(buf, 1, k, qs[j]);
}

typedef struct {
  double *v;
  size_t n;
} sort_job;

static void *sort_one(void *arg)
{
  sort_job *j = arg;
  gsl_sort(j->v, 1, j->n);
  return NULL;
}

/* Sorts a[0..na) and b[0..nb), at the same time when `two` (two
 * threads; one when a thread cannot start): the second pass's sorts are
 * its largest cost. */
static void sort_two(double *a, size_t na, double *b, size_t nb, int two)
{
  sort_job jb = {b, nb};
  pthread_t th;
  int started = two && pthread_create(&th, NULL, sort_one, &jb) == 0;
  gsl_sort(a, 1, na);
  if (started) pthread_join(th, NULL);
  else sort_one(&jb);
}

/* The second pass on rank 0: for every name q and cycle c, column (c, q)
 * of the scratch file and its running cumulative sum, each sorted and
 * summarised into rows (per: 7 + nq numbers). rows[(q * cycles + c) * 2 *
 * per]: the cycle's row, then the cumulative one. */
static int second_pass(FILE *bin, size_t n, size_t cycles, size_t n_tia,
                       const double *qs, size_t nq, const double *limits,
                       double *col, double *acc, double *buf, double *rows,
                       int threads, rkin_err *err)
{
  size_t per_pat = cycles * n_tia, per = 7 + nq, q, c, i, k, kc;
  enum { BLOCK = 4096 };
  double block[BLOCK];
  for (q = 0; q < n_tia; q++) {
    for (i = 0; i < n; i++) acc[i] = 0;
    for (c = 0; c < cycles; c++) {
      size_t at = 0, idx = c * n_tia + q;
      if (fseek(bin, 0, SEEK_SET) != 0)
        return rkin_err_set(err, RKIN_EIO, "cohort scratch file: cannot "
                            "rewind");
      /* whole patients per read: BLOCK / per_pat rows */
      while (at < n) {
        size_t rows_n = BLOCK / per_pat, r;
        if (!rows_n) rows_n = 1;
        if (rows_n > n - at) rows_n = n - at;
        if (rows_n * per_pat > BLOCK)
          return rkin_err_set(err, RKIN_EINVAL, "cohort: %zu values per "
                              "patient exceed the read block", per_pat);
        if (fread(block, sizeof *block, rows_n * per_pat, bin) !=
            rows_n * per_pat)
          return rkin_err_set(err, RKIN_EIO, "cohort scratch file: short "
                              "read");
        for (r = 0; r < rows_n; r++) col[at + r] = block[r * per_pat + idx];
        at += rows_n;
      }
      for (i = k = kc = 0; i < n; i++) {
        if (isfinite(col[i])) buf[k++] = col[i];
        acc[i] += col[i];            /* NaN once failed: left out */
      }
      /* the cumulative column into col (read again next time) */
      for (i = 0; i < n; i++)
        if (isfinite(acc[i])) col[kc++] = acc[i];
      sort_two(buf, k, col, kc, threads != 1);
      column_stats(buf, k, qs, nq, limits[q],
                   rows + (q * cycles + c) * 2 * per);
      column_stats(col, kc, qs, nq, limits[q],
                   rows + ((q * cycles + c) * 2 + 1) * per);
    }
  }
  return RKIN_OK;
}

/* Pushes the rows of name q (cumulative 0 or 1) as c:summary does. */
static void push_rows(lua_State *L, const double *rows, size_t q,
                      size_t cycles, const double *qs, size_t nq,
                      int cumulative)
{
  size_t per = 7 + nq, c, j;
  static const char *const keys[] = {"n", "mean", "sd", "min", "max",
                                     "median"};
  lua_createtable(L, (int)cycles, 0);
  for (c = 0; c < cycles; c++) {
    const double *row = rows + ((q * cycles + c) * 2 + cumulative) * per;
    lua_createtable(L, 0, 12);
    lua_pushinteger(L, (lua_Integer)c + 1);
    lua_setfield(L, -2, "cycle");
    lua_pushinteger(L, (lua_Integer)row[0]);
    lua_setfield(L, -2, "n");
    if (isfinite(row[6 + nq])) {
      lua_pushinteger(L, (lua_Integer)row[6 + nq]);
      lua_setfield(L, -2, "over");
    }
    if (row[0] > 0) {
      for (j = 1; j < 6; j++) {
        lua_pushnumber(L, row[j]);
        lua_setfield(L, -2, keys[j]);
      }
      lua_createtable(L, (int)nq, 0);
      for (j = 0; j < nq; j++) {
        char key[40];
        lua_pushnumber(L, row[6 + j]);
        lua_rawseti(L, -2, (lua_Integer)j + 1);
        snprintf(key, sizeof key, "p%g", 100 * qs[j]);
        lua_pushnumber(L, row[6 + j]);
        lua_setfield(L, -3, key);
      }
      lua_setfield(L, -2, "q");
    }
    lua_rawseti(L, -2, (lua_Integer)c + 1);
  }
}

static int by_name(const void *a, const void *b, void *m)
{
  return strcmp(rkin_model_param_name(m, *(const size_t *)a),
                rkin_model_param_name(m, *(const size_t *)b));
}

/* Sorts idx[0..n) by parameter name (insertion sort: a model has tens of
 * parameters). */
static void sort_params(const rkin_model *m, size_t *idx, size_t n)
{
  size_t i, j;
  for (i = 0; i < n; i++) idx[i] = i;
  for (i = 1; i < n; i++)
    for (j = i; j > 0 && by_name(&idx[j - 1], &idx[j], (void *)m) > 0; j--) {
      size_t t = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = t;
    }
}

/* Appends text to the CSV temporary; raises on a write error. */
static void put(lua_State *L, stream_files *f, const char *csv,
                const char *s, size_t len)
{
  if (len && fwrite(s, 1, len, f->csv) != len)
    lrk_error(L, CTX ": cannot write '%s': out of space or an I/O error",
              csv);
}

void lrk_cohort_stream(lua_State *L, const rkin_cohort_spec *sp,
                       rkin_vpop_sampler *smp, const lrk_stream_opts *o)
{
  const rkin_model *m = sp->model;
  size_t n = sp->n_patients, np = rkin_model_nparams(m), q, c, k;
  /* chunks of whole batches (rkin_cohort_batch): the same groups, hence
   * the same TIAs, as the in-memory cohort */
  size_t bs = rkin_cohort_batch(sp);
  size_t per_pat = sp->n_cycles * sp->n_tia,
         B = (o->chunk + bs - 1) / bs * bs;
  size_t nchunks = (n + B - 1) / B, nq = o->nq, per = 7 + nq;
  size_t n_failed = 0, first_failed = n, listed = 0, row_max;
  int rank = lrk_dist_rank(), size = lrk_dist_size(), rc = RKIN_OK;
  int solve_rc = RKIN_OK;       /* this rank's chunks (it stops solving) */
  int seen = 0;                 /* rank 0: a chunk failed, stop writing */
  rkin_err solve_err;
  long steps = 0;
  double *params, *tia, *rows, *col = NULL, *acc = NULL, *buf = NULL;
  int *status;
  size_t *order, *failed_ids;
  int *failed_codes;
  char *text;
  stream_files *f;
  rkin_err err, first;
  int top = lua_gettop(L);

  rkin_err_clear(&err);
  rkin_err_clear(&first);
  rkin_err_clear(&solve_err);
  params = lrk_scratch(L, B * np, sizeof *params);
  tia = lrk_scratch(L, B * per_pat, sizeof *tia);
  status = lrk_scratch(L, B, sizeof *status);
  order = lrk_scratch(L, np, sizeof *order);
  rows = lrk_scratch(L, sp->n_tia * sp->n_cycles * 2 * per, sizeof *rows);
  failed_ids = lrk_scratch(L, MAX_FAILED_LISTED, sizeof *failed_ids);
  failed_codes = lrk_scratch(L, MAX_FAILED_LISTED, sizeof *failed_codes);
  /* the longest row: 20 digits of id, 17 characters a number */
  row_max = 24 + (np + per_pat) * 24;
  text = lrk_scratch(L, B * row_max + 1, 1);
  sort_params(m, order, np);
  f = lua_newuserdatauv(L, sizeof *f, 0);
  memset(f, 0, sizeof *f);
  if (luaL_newmetatable(L, STREAM_MT)) {
    lua_pushcfunction(L, files_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, files_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  lua_toclose(L, -1);

  if (rank == 0) {
    /* the header through the atomic writer (its checks: a link, folder,
     * FIFO or device at the path is refused), then the rows appended to
     * its temporary; renamed over the path only when all is written */
    size_t len = 2;
    char *h, *w;
    for (k = 0; k < np; k++) len += strlen(rkin_model_param_name(m, k)) + 1;
    for (q = 0; q < sp->n_tia; q++)
      len += sp->n_cycles * (strlen(o->names[q]) + 40);
    h = w = lrk_scratch(L, len + 1, 1);
    w += sprintf(w, "id");
    for (k = 0; k < np; k++)
      w += sprintf(w, ",%s", rkin_model_param_name(m, order[k]));
    for (q = 0; q < sp->n_tia; q++)
      for (c = 0; c < sp->n_cycles; c++)
        w += sprintf(w, ",%s_c%zu_MBqh", o->names[q], c + 1);
    *w++ = '\n';
    if (lrk_atomic_begin(o->csv, h, (size_t)(w - h), &f->tmp, &err))
      lrk_raise(L, CTX ": field 'csv'", &err);
    lua_pop(L, 1);
    if (!f->tmp || !(f->csv = fopen(f->tmp, "ab")))
      lrk_error(L, CTX ": cannot append to the temporary of '%s'", o->csv);
    if (!(f->bin = tmpfile()))
      lrk_error(L, CTX ": cannot create a scratch file for the summaries "
                "(TMPDIR)");
  }

  for (k = 0; k < nchunks; k++) {
    size_t lo = k * B, mk = n - lo < B ? n - lo : B, i;
    int owner = (int)(k % (size_t)size);
    chunk_head hd;
    memset(&hd, 0, sizeof hd);
    /* every rank draws every chunk: the stream stays in step */
    rkin_vpop_sampler_draw(smp, mk,
                           rank == 0 || rank == owner ? params : NULL);
    if (rank == owner) {
      hd.rc = solve_rc;
      if (!solve_rc) {
        rkin_cohort_spec ch = *sp;
        rkin_cohort_res res;
        memset(&res, 0, sizeof res);
        ch.n_patients = mk;
        ch.params = params;
        ch.first_id = lo;
        ch.progress = NULL;
        ch.threads = lrk_dist_threads(sp->threads);
        res.tia = tia;
        res.status = status;
        hd.rc = solve_rc = rkin_cohort_run(&ch, &res, &hd.err);
        if (solve_rc) solve_err = hd.err;
        hd.steps = res.n_steps;
        hd.n_failed = res.n_failed;
        hd.first_failed = lo + res.first_failed;
        if (!rc && res.n_failed) hd.err = res.first;
      }
    }
    if (owner != 0) {
      int e = RKIN_OK;
      if (rank == owner) {
        e = lrk_dist_send(&hd, sizeof hd, 0, &err);
        if (!e) e = lrk_dist_send(tia, mk * per_pat * sizeof *tia, 0, &err);
        if (!e) e = lrk_dist_send(status, mk * sizeof *status, 0, &err);
      } else if (rank == 0) {
        e = lrk_dist_recv(&hd, sizeof hd, owner, &err);
        if (!e) e = lrk_dist_recv(tia, mk * per_pat * sizeof *tia, owner,
                                  &err);
        if (!e) e = lrk_dist_recv(status, mk * sizeof *status, owner, &err);
      }
      if (e) {
        lua_settop(L, top);
        lrk_raise(L, CTX, &err);
      }
    }
    if (rank != 0) continue;
    seen |= hd.rc != 0;
    if (seen) continue;           /* reported by its rank below */
    steps += hd.steps;
    if (hd.n_failed && !n_failed) {
      first = hd.err;
      first_failed = (size_t)hd.first_failed;
    }
    n_failed += (size_t)hd.n_failed;
    {
      fmt_share sh[FMT_THREADS];
      size_t n_sh, t;
      int nt = lrk_dist_threads(sp->threads);
      if (nt <= 0) nt = rkin_ncores();
      for (i = 0; i < mk; i++)
        if (status[i] && listed < MAX_FAILED_LISTED) {
          failed_ids[listed] = lo + i + 1;
          failed_codes[listed++] = status[i];
        }
      format_chunk(text, row_max, mk, lo, params, order, np, tia,
                   sp->n_tia, sp->n_cycles, nt, sh, &n_sh);
      for (t = 0; t < n_sh; t++) put(L, f, o->csv, sh[t].out, sh[t].len);
    }
    if (fwrite(tia, sizeof *tia, mk * per_pat, f->bin) != mk * per_pat)
      lrk_error(L, CTX ": cannot write the scratch file of the summaries "
                "(TMPDIR out of space?)");
    if (sp->progress) sp->progress(lo + mk, n, NULL);
  }

  /* a chunk that failed on any rank: raised on every rank with that
   * rank's message; rank 0's temporary is removed by files_gc */
  err = solve_err;
  /* rank 0 removes its temporary before any rank can stop the job (a
   * rank raising this error aborts it through MPI_Abort) */
  if (rank == 0 && seen) close_files(f);
  rc = lrk_dist_failed(solve_rc, &err);
  if (rc) {
    lua_settop(L, top);
    lrk_raise(L, CTX, &err);
  }

  if (rank == 0) {
    if (fflush(f->csv) != 0 || fsync(fileno(f->csv)) != 0 ||
        fclose(f->csv) != 0) {
      f->csv = NULL;
      lrk_error(L, CTX ": cannot write '%s': %s", o->csv, strerror(errno));
    }
    f->csv = NULL;
    if (fflush(f->bin) != 0)
      lrk_error(L, CTX ": cannot write the scratch file of the summaries");
    col = lrk_scratch(L, n, sizeof *col);
    acc = lrk_scratch(L, n, sizeof *acc);
    buf = lrk_scratch(L, n, sizeof *buf);
    if (second_pass(f->bin, n, sp->n_cycles, sp->n_tia, o->qs, nq,
                    o->limits, col, acc, buf, rows,
                    lrk_dist_threads(sp->threads) > 0
                    ? lrk_dist_threads(sp->threads) : rkin_ncores(), &err))
      rc = err.code;
    lua_pop(L, 3);
    if (!rc) {
      char *tmp = f->tmp;
      f->tmp = NULL;
      rc = lrk_atomic_commit(o->csv, tmp, &err);
    }
    if (rc) close_files(f);
  }
  rc = lrk_dist_failed(rc, &err);
  if (rc) {
    lua_settop(L, top);
    lrk_raise(L, CTX, &err);
  }
  /* rank 0's numbers to every rank */
  {
    unsigned long long counts[4] = {n_failed, first_failed, listed,
                                    (unsigned long long)steps};
    if (lrk_dist_bcast(counts, sizeof counts, 0, &err) ||
        lrk_dist_bcast(rows, sp->n_tia * sp->n_cycles * 2 * per *
                       sizeof *rows, 0, &err) ||
        lrk_dist_bcast(&first, sizeof first, 0, &err) ||
        lrk_dist_bcast(failed_ids, MAX_FAILED_LISTED * sizeof *failed_ids,
                       0, &err) ||
        lrk_dist_bcast(failed_codes,
                       MAX_FAILED_LISTED * sizeof *failed_codes, 0, &err)) {
      lua_settop(L, top);
      lrk_raise(L, CTX, &err);
    }
    n_failed = (size_t)counts[0];
    first_failed = (size_t)counts[1];
    listed = (size_t)counts[2];
    steps = (long)counts[3];
  }

  /* the result: as an in-memory cohort's, without the per-patient
   * tables; c:summary gives the rows computed here */
  lua_createtable(L, 0, 12);
  lua_pushinteger(L, (lua_Integer)n);
  lua_setfield(L, -2, "n");
  lua_pushinteger(L, (lua_Integer)sp->n_cycles);
  lua_setfield(L, -2, "cycles");
  lua_pushstring(L, o->path_name);
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, steps);
  lua_setfield(L, -2, "steps");
  lua_pushstring(L, o->csv);
  lua_setfield(L, -2, "csv");
  lua_createtable(L, (int)sp->n_tia, 0);
  for (q = 0; q < sp->n_tia; q++) {
    lua_pushstring(L, o->names[q]);
    lua_rawseti(L, -2, (lua_Integer)q + 1);
  }
  lua_setfield(L, -2, "names");
  for (c = 0; c < 2; c++) {
    lua_createtable(L, 0, (int)sp->n_tia);
    for (q = 0; q < sp->n_tia; q++) {
      push_rows(L, rows, q, sp->n_cycles, o->qs, nq, (int)c);
      lua_setfield(L, -2, o->names[q]);
    }
    lua_setfield(L, -2, c ? "cumulative_summaries" : "summaries");
  }
  lua_createtable(L, (int)listed, 3);
  for (k = 0; k < listed; k++) {
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)failed_ids[k]);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, rkin_err_name(failed_codes[k]));
    lua_setfield(L, -2, "code");
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  lua_pushinteger(L, (lua_Integer)n_failed);
  lua_setfield(L, -2, "count");
  if (n_failed) {
    lua_pushstring(L, first.msg);
    lua_setfield(L, -2, "first_message");
  }
  (void)first_failed;
  lua_setfield(L, -2, "failed");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "streamed");
  luaL_setmetatable(L, "radiokin.cohort");   /* c:summary, c:write_csv */
}
