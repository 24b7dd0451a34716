/* csv.h - the one CSV tokenizer of radiokin (internal): every reader of a
 * CSV file (NONMEM datasets, population tables, TARE cohorts, rk.csv.read)
 * goes through it.
 *
 * RFC 4180 records: fields separated by `sep` (default ','), a field in
 * double quotes may hold separators, line breaks and doubled quotes ("" is
 * one "); LF, CRLF and CR line ends; a UTF-8 byte order mark at the start
 * is skipped. Blanks (space, tab) around a field are dropped, inside quotes
 * kept. Blank lines, and lines starting (after blanks) with the comment
 * text if one is given, are skipped. Malformed input (a quote inside an
 * unquoted field, text after a closing quote, a quoted field the file ends
 * in, a NUL byte) is an RKIN_EINVAL error naming file:line:column. */
#ifndef RKIN_CSV_H
#define RKIN_CSV_H

#include <stddef.h>

#include "core/err.h"

typedef struct {
  char sep;             /* field separator; 0 means ',' */
  const char *comment;  /* NULL: no comment lines */
} rkin_csv_opts;

/* One record. Valid until the next rkin_csv_next or rkin_csv_close; the
 * field texts may be modified in place. */
typedef struct {
  size_t line;          /* 1-based line the record starts on */
  size_t n;             /* number of fields (>= 1) */
  char **field;         /* n NUL-terminated texts, quotes removed */
  const size_t *field_line, *field_col;  /* where each field starts
                                            (1-based line, byte column) */
} rkin_csv_record;

typedef struct rkin_csv rkin_csv;

/* A tokenizer over text[0, len) (not copied: keep it alive until close).
 * `name` (copied) stands for the file in messages; opts may be NULL. */
rkin_csv *rkin_csv_open(const char *text, size_t len, const char *name,
                        const rkin_csv_opts *opts, rkin_err *err);
/* The next record: 1 and *rec, 0 at the end, negative on an error (and
 * every later call returns it again). */
int rkin_csv_next(rkin_csv *r, rkin_csv_record *rec, rkin_err *err);
void rkin_csv_close(rkin_csv *r);

/* The largest table rkin_csv_slurp reads, bytes. */
#define RKIN_CSV_MAX_BYTES (4ULL << 30)

/* The whole of a file into *text (NUL-terminated, free() it) and *len. */
int rkin_csv_slurp(const char *path, char **text, size_t *len,
                   rkin_err *err);

#endif
