/* csv.c - the CSV tokenizer (csv.h) over libcsv.
 *
 * Why libcsv: it is Debian-packaged (libcsv-dev), small, and its strict
 * mode implements RFC 4180 quoting (separators, line breaks and doubled
 * quotes inside quotes; a stray quote is an error) with a push parser that
 * has been in use since 2008; writing our own would duplicate it. What it
 * does not do is done here: libcsv knows nothing of lines and columns, so
 * bytes are fed one at a time and this file counts lines and remembers
 * where each record and field starts (for file:line:column messages); it
 * also skips the UTF-8 byte order mark and comment lines, refuses NUL
 * bytes, and assembles the fields of a record for a pull interface. */
#include "core/csv.h"
#include "core/grow.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rkin_csv {
  const unsigned char *text;
  size_t len, pos;
  char *name;
  unsigned char sep;
  char *comment;
  size_t comment_len;
  struct csv_parser p;
  size_t line, line_start;      /* current line and its first byte */
  /* the record being assembled */
  char *buf;                    /* field texts, each NUL-terminated */
  size_t nbuf, cap_buf;
  size_t *off, *fline, *fcol;   /* per field: offset in buf, start */
  char **ptr;
  size_t nf, cap_f;
  size_t field_line, field_col; /* start of the field being read */
  int field_pending;            /* the next byte starts a field */
  int row_done, oom;
  int done;                     /* 0 reading, 1 at the end, < 0 failed */
  rkin_err fail;                /* the error repeated after a failure */
};

/* Room for one more field in the per-field arrays. */
static int field_room(rkin_csv *r)
{
  size_t c = r->cap_f ? 2 * r->cap_f : 16;
  void *q;
  if (r->nf < r->cap_f) return 0;
  if (!(q = realloc(r->off, c * sizeof *r->off))) return -1;
  r->off = q;
  if (!(q = realloc(r->fline, c * sizeof *r->fline))) return -1;
  r->fline = q;
  if (!(q = realloc(r->fcol, c * sizeof *r->fcol))) return -1;
  r->fcol = q;
  if (!(q = realloc(r->ptr, c * sizeof *r->ptr))) return -1;
  r->ptr = q;
  r->cap_f = c;
  return 0;
}

/* libcsv: one field ends. */
static void on_field(void *s, size_t n, void *ud)
{
  rkin_csv *r = ud;
  if (r->oom) return;
  if (rkin_grow((void **)&r->buf, &r->cap_buf, r->nbuf + n + 1, 1)
      || field_room(r)) {
    r->oom = 1;
    return;
  }
  if (n) memcpy(r->buf + r->nbuf, s, n);
  r->buf[r->nbuf + n] = '\0';
  r->off[r->nf] = r->nbuf;
  r->fline[r->nf] = r->field_line;
  r->fcol[r->nf] = r->field_col;
  r->nf++;
  r->nbuf += n + 1;
  r->field_pending = 1;
}

/* libcsv: the record ends. */
static void on_row(int c, void *ud)
{
  (void)c;
  ((rkin_csv *)ud)->row_done = 1;
}

rkin_csv *rkin_csv_open(const char *text, size_t len, const char *name,
                        const rkin_csv_opts *opts, rkin_err *err)
{
  rkin_csv *r;
  if (!text && len)
    return rkin_err_set(err, RKIN_EINVAL, "csv: no text"), NULL;
  if (!name) name = "(csv)";
  if (!(r = calloc(1, sizeof *r))) goto nomem;
  r->text = (const unsigned char *)(text ? text : "");
  r->len = len;
  r->sep = opts && opts->sep ? (unsigned char)opts->sep : ',';
  r->line = 1;
  if (!(r->name = malloc(strlen(name) + 1))) goto nomem;
  strcpy(r->name, name);
  if (opts && opts->comment && *opts->comment) {
    r->comment_len = strlen(opts->comment);
    if (!(r->comment = malloc(r->comment_len + 1))) goto nomem;
    memcpy(r->comment, opts->comment, r->comment_len + 1);
  }
  if (r->sep == '"' || r->sep == '\n' || r->sep == '\r') {
    rkin_csv_close(r);
    rkin_err_set(err, RKIN_EINVAL, "%s: the field separator cannot be a "
                 "quote or a line break", name);
    return NULL;
  }
  if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI)) goto nomem;
  csv_set_delim(&r->p, r->sep);
  /* libcsv grows its field buffer by blk_size bytes (default 128): a
   * large quoted field would cost one realloc per 128 bytes */
  csv_set_blk_size(&r->p, 1 << 16);
  if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) r->pos = 3;
  r->line_start = r->pos;
  return r;
nomem:
  rkin_csv_close(r);
  rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", name);
  return NULL;
}

void rkin_csv_close(rkin_csv *r)
{
  if (!r) return;
  csv_free(&r->p);
  free(r->name);
  free(r->comment);
  free(r->buf);
  free(r->off);
  free(r->fline);
  free(r->fcol);
  free(r->ptr);
  free(r);
}

static int failed(rkin_csv *r, rkin_err *err, int code)
{
  r->done = code;
  if (err) *err = r->fail;
  return code;
}

static int stop(rkin_csv *r, rkin_err *err, int code, size_t line,
                size_t col, const char *what)
{
  rkin_err_set(&r->fail, code, "%s:%zu:%zu: %s", r->name, line, col, what);
  return failed(r, err, code);
}

/* A character for a message: itself when printable, else its code. */
static void show_char(unsigned char c, char *out, size_t size)
{
  if (c >= 0x20 && c < 0x7f) snprintf(out, size, "'%c'", c);
  else snprintf(out, size, "byte 0x%02X", c);
}

int rkin_csv_next(rkin_csv *r, rkin_csv_record *rec, rkin_err *err)
{
  int in_row = 0;
  if (!r || !rec)
    return rkin_err_set(err, RKIN_EINVAL, "rkin_csv_next: NULL argument");
  if (r->done < 0) return failed(r, err, r->done);
  if (r->done) return 0;
  r->nbuf = r->nf = 0;
  r->row_done = 0;
  while (!r->row_done) {
    unsigned char c;
    size_t col;
    if (r->pos >= r->len) {
      if (csv_fini(&r->p, on_field, on_row, r))
        return stop(r, err, RKIN_EINVAL, r->field_line, r->field_col,
                    "unterminated quoted field (the file ends inside it): "
                    "close it with \"");
      r->done = 1;
      if (r->oom) break;
      if (!r->row_done) return 0;
      break;
    }
    c = r->text[r->pos];
    col = r->pos - r->line_start + 1;
    if (!in_row) {
      if ((c == ' ' || c == '\t') && c != r->sep) {
        r->pos++;
        continue;
      }
      if (c == '\n' || c == '\r') {
        r->pos++;
        if (c == '\n' || r->pos >= r->len || r->text[r->pos] != '\n') {
          r->line++;
          r->line_start = r->pos;
        }
        continue;
      }
      if (r->comment && r->len - r->pos >= r->comment_len
          && !memcmp(r->text + r->pos, r->comment, r->comment_len)) {
        while (r->pos < r->len && r->text[r->pos] != '\n'
               && r->text[r->pos] != '\r')
          r->pos++;
        continue;
      }
      in_row = 1;
      r->field_pending = 1;
    }
    if (c == '\0')
      return stop(r, err, RKIN_EINVAL, r->line, col,
                  "NUL byte (not a text CSV file)");
    if (r->field_pending) {
      r->field_line = r->line;
      r->field_col = col;
      r->field_pending = 0;
    }
    if (csv_parse(&r->p, &c, 1, on_field, on_row, r) != 1) {
      char ch[16], msg[300];
      if (csv_error(&r->p) == CSV_ENOMEM) break;
      show_char(c, ch, sizeof ch);
      if (r->p.quoted)
        snprintf(msg, sizeof msg, "%s after the closing quote of a quoted "
                 "field (a field with a quote in it is written in quotes, "
                 "each quote inside doubled: \"a \"\"b\"\"\")", ch);
      else
        snprintf(msg, sizeof msg, "quote inside an unquoted field (a field "
                 "with a quote in it is written in quotes, each quote "
                 "inside doubled: \"a \"\"b\"\"\")");
      return stop(r, err, RKIN_EINVAL, r->line, col, msg);
    }
    if (r->oom) break;
    r->pos++;
    if (c == '\n'
        || (c == '\r' && (r->pos >= r->len || r->text[r->pos] != '\n'))) {
      r->line++;
      r->line_start = r->pos;
    }
  }
  if (r->oom || csv_error(&r->p) == CSV_ENOMEM) {
    rkin_err_set(&r->fail, RKIN_ENOMEM, "%s:%zu: out of memory", r->name,
                 r->line);
    return failed(r, err, RKIN_ENOMEM);
  }
  {
    size_t k;
    for (k = 0; k < r->nf; k++) r->ptr[k] = r->buf + r->off[k];
  }
  rec->line = r->nf ? r->fline[0] : r->line;
  rec->n = r->nf;
  rec->field = r->ptr;
  rec->field_line = r->fline;
  rec->field_col = r->fcol;
  return 1;
}

int rkin_csv_slurp(const char *path, char **text, size_t *len,
                   rkin_err *err)
{
  FILE *f;
  char *buf = NULL;
  size_t n = 0, cap = 0, got;
  *text = NULL;
  *len = 0;
  if (!path) return rkin_err_set(err, RKIN_EINVAL, "csv: no file name");
  {
    /* opened without blocking (a FIFO would wait for a writer) and
     * checked first: a table is read from a regular file, of a size a
     * table can sensibly have (/dev/zero never ends) */
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
      return rkin_err_set(err, RKIN_EIO, "%s: cannot open the table: %s",
                          path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return rkin_err_set(err, RKIN_EINVAL, "%s: not a regular file (a "
                          "table is read from a file)", path);
    }
    if ((unsigned long long)st.st_size > RKIN_CSV_MAX_BYTES) {
      close(fd);
      return rkin_err_set(err, RKIN_EINVAL, "%s: %.3g GB, more than the "
                          "%.3g GB a table may have", path,
                          (double)st.st_size / 1e9,
                          (double)RKIN_CSV_MAX_BYTES / 1e9);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if (!(f = fdopen(fd, "rb"))) {
      int e = errno;
      close(fd);
      return rkin_err_set(err, RKIN_EIO, "%s: cannot open the table as a "
                          "stream: %s", path, strerror(e));
    }
  }
  for (;;) {
    if (rkin_grow((void **)&buf, &cap, n + 65537, 1)) {
      fclose(f);
      free(buf);
      return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
    }
    got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
    if (n > RKIN_CSV_MAX_BYTES) {     /* a file that grew while read */
      fclose(f);
      free(buf);
      return rkin_err_set(err, RKIN_EINVAL, "%s: more than the %.3g GB a "
                          "table may have", path,
                          (double)RKIN_CSV_MAX_BYTES / 1e9);
    }
  }
  if (ferror(f)) {
    int e = errno;
    fclose(f);
    free(buf);
    return rkin_err_set(err, RKIN_EIO, "%s: cannot read the table: %s",
                        path, strerror(e));
  }
  fclose(f);
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return RKIN_OK;
}
