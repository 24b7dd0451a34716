/* test_csv.c - the CSV tokenizer (engine/core/csv.h): RFC 4180 quoting,
 * BOM, line ends, comments, where records and fields start, and every
 * malformed input named by file:line:column. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/grow.h"
#include "core/init.h"
#include "../tap.h"

/* All records of text joined as "f1|f2;f1|f2;" with the start line of
 * each record in lines (up to 8); returns the tokenizer's last code. */
static int tokens(const char *text, size_t len, const rkin_csv_opts *o,
                  char *out, size_t size, size_t *lines, rkin_err *err)
{
  rkin_csv *r = rkin_csv_open(text, len, "t.csv", o, err);
  rkin_csv_record rec;
  int rc, nrec = 0;
  size_t k;
  out[0] = '\0';
  if (!r) return err->code;
  while ((rc = rkin_csv_next(r, &rec, err)) == 1) {
    for (k = 0; k < rec.n; k++) {
      strncat(out, rec.field[k], size - strlen(out) - 1);
      strncat(out, k + 1 < rec.n ? "|" : ";", size - strlen(out) - 1);
    }
    if (lines && nrec < 8) lines[nrec] = rec.line;
    nrec++;
  }
  rkin_csv_close(r);
  return rc;
}

static int is_text(const char *got, const char *want, const char *name)
{
  int pass = ok(!strcmp(got, want), "%s", name);
  if (!pass) diag("  got '%s', want '%s'", got, want);
  return pass;
}

static void same(const char *text, const char *want, const char *name)
{
  char out[512];
  rkin_err err = {0, ""};
  int rc = tokens(text, strlen(text), NULL, out, sizeof out, NULL, &err);
  if (!ok(rc == 0 && !strcmp(out, want), "%s", name))
    diag("  got '%s' (rc %d: %s), want '%s'", out, rc, err.msg, want);
}

static void bad(const char *text, const char *where, const char *what,
                const char *name)
{
  char out[512];
  rkin_err err = {0, ""};
  int rc = tokens(text, strlen(text), NULL, out, sizeof out, NULL, &err);
  is_int(rc, RKIN_EINVAL, "%s: RKIN_EINVAL", name);
  like(err.msg, where, "%s: names file:line:column", name);
  like(err.msg, what, "%s: says what is wrong", name);
}

int main(void)
{
  rkin_err err = {0, ""};
  char out[512], *text;
  size_t lines[8], len, i;
  rkin_csv *r;
  rkin_csv_record rec;
  rkin_csv_opts semi = {';', NULL}, hash = {0, "#"};
  rkin_init();

  /* RFC 4180 section 2: quoted fields hold separators, line breaks and
   * doubled quotes. */
  same("a,b,c\n1,2,3\n", "a|b|c;1|2|3;", "plain records");
  same("a,\"x,y\",c\n", "a|x,y|c;", "quoted separator");
  same("a,\"line1\nline2\",c\n", "a|line1\nline2|c;", "quoted line break");
  same("\"say \"\"hi\"\"\",2\n", "say \"hi\"|2;", "doubled quotes");
  same("\"\",x\n", "|x;", "empty quoted field");
  same("a,,c,\n", "a||c|;", "empty fields, trailing separator");
  same("a,b\r\n1,2\r\n", "a|b;1|2;", "CRLF line ends");
  same("a,b\r1,2\r", "a|b;1|2;", "CR line ends");
  same("a,b\n1,2", "a|b;1|2;", "no line end at the end");
  same("\xEF\xBB\xBFID,TIME\n1,0\n", "ID|TIME;1|0;", "UTF-8 BOM skipped");
  same(" a , \"b \" ,c\t\n", "a|b |c;", "blanks trimmed outside quotes only");
  same("a\n\n  \n\r\nb\n", "a;b;", "blank lines skipped");
  same("", "", "empty text: no record");

  /* Where each record starts, through quoted line breaks and CRLF. */
  text = "h1,h2\r\n\"a\nb\nc\",1\r\n\r\nx,2\n";
  tokens(text, strlen(text), NULL, out, sizeof out,
         lines, &err);
  ok(lines[0] == 1 && lines[1] == 2 && lines[2] == 6,
     "record lines 1, 2, 6 (quoted breaks and a blank CRLF line counted)");

  text = "a\r\rb,\"x\ry\"\rc\n";
  tokens(text, strlen(text), NULL, out, sizeof out, lines, &err);
  ok(lines[0] == 1 && lines[1] == 3 && lines[2] == 5,
     "CR-only line ends counted: records on lines 1, 3, 5");

  /* Field columns. */
  r = rkin_csv_open("ab,\"c\",,d\n", 10, "t.csv", NULL, &err);
  ok(r && rkin_csv_next(r, &rec, &err) == 1 && rec.n == 4
     && rec.field_col[0] == 1 && rec.field_col[1] == 4
     && rec.field_col[2] == 8 && rec.field_col[3] == 9
     && rec.field_line[3] == 1,
     "field columns 1, 4, 8, 9");
  ok(r && rkin_csv_next(r, &rec, &err) == 0, "then the end");
  rkin_csv_close(r);

  /* Options: separator, comments. */
  is_int(tokens("a;\"b;c\"\n", 8, &semi, out, sizeof out, NULL, &err), 0,
         "sep ';' parses");
  is_text(out, "a|b;c;", "sep ';': quoted ';' kept");
  text = "# a comment, with \"a quote\n  #x\nID\n1\n";
  is_int(tokens(text, strlen(text), &hash, out, sizeof out, lines, &err), 0,
         "comment lines parse");
  is_text(out, "ID;1;", "comment lines skipped, even with a stray quote");
  is_int((long)lines[0], 3, "the header after two comments is line 3");

  /* Malformed input: file:line:column and what is wrong. */
  bad("a,b\n1,\"2\n", "t.csv:2:3:", "unterminated quoted field", "unterminated quote");
  bad("a,b\n1,2\"x\n", "t.csv:2:4:", "quote inside an unquoted field",
      "quote in an unquoted field");
  bad("a,b\n1,\"2\"x\n", "t.csv:2:6:", "'x' after the closing quote",
      "text after a closing quote");
  is_int(tokens("a,b\n1,\0\n", 8, NULL, out, sizeof out, NULL, &err),
         RKIN_EINVAL, "NUL byte: RKIN_EINVAL");
  like(err.msg, "t.csv:2:3: NUL byte", "NUL byte: file:line:column");

  /* After an error every call repeats it. */
  r = rkin_csv_open("a\"b\n", 4, "t.csv", NULL, &err);
  ok(r && rkin_csv_next(r, &rec, &err) == RKIN_EINVAL
     && rkin_csv_next(r, &rec, &err) == RKIN_EINVAL
     && strstr(err.msg, "t.csv:1:2:"), "an error sticks");
  rkin_csv_close(r);

  /* A record of 100,000 fields and a field of 1 MB: no fixed buffers. */
  len = 2000000;
  text = malloc(len + 1);
  for (i = 0; i < 200000; i += 2) {
    text[i] = 'x';
    text[i + 1] = ',';
  }
  text[199999] = '\n';
  text[200000] = '"';
  memset(text + 200001, 'y', 1000000);
  text[1200001] = '"';
  text[1200002] = '\n';
  r = rkin_csv_open(text, 1200003, "big.csv", NULL, &err);
  ok(r && rkin_csv_next(r, &rec, &err) == 1 && rec.n == 100000
     && rkin_csv_next(r, &rec, &err) == 1 && rec.n == 1
     && strlen(rec.field[0]) == 1000000 && rec.line == 2,
     "100,000 fields, then one field of 1,000,000 bytes");
  rkin_csv_close(r);
  free(text);

  /* Files. */
  is_int(rkin_csv_slurp("/nonexistent/x.csv", &text, &len, &err), RKIN_EIO,
         "missing file: RKIN_EIO");
  like(err.msg, "/nonexistent/x.csv: cannot open", "names the file");
  /* not regular files: a FIFO would block (opened without waiting), a
   * device never ends */
  is_int(rkin_csv_slurp("/dev/zero", &text, &len, &err), RKIN_EINVAL,
         "/dev/zero refused");
  like(err.msg, "not a regular file", "... as not a regular file");
  {
    char fifo[] = "/tmp/rk_test_csv_fifoXXXXXX";
    int fd = mkstemp(fifo);
    if (fd >= 0) {
      close(fd);
      unlink(fifo);
    }
    ok(fd >= 0 && mkfifo(fifo, 0600) == 0 &&
       rkin_csv_slurp(fifo, &text, &len, &err) == RKIN_EINVAL,
       "a FIFO is refused at once, not waited on");
    unlink(fifo);
  }

  /* The growing array the readers share (core/grow.h). */
  {
    int *v = NULL, k, seq = 1;
    size_t cap = 0;
    for (k = 0; k < 1000; k++) {
      if (rkin_grow((void **)&v, &cap, (size_t)k + 1, sizeof *v)) break;
      v[k] = k;
    }
    for (k = 0; k < 1000; k++) seq = seq && v[k] == k;
    ok(k == 1000 && cap >= 1000 && cap < 2048 && seq,
       "rkin_grow: 1000 appends kept in order, capacity doubled (%zu)", cap);
    {
      int *keep = v;
      size_t c0 = cap;
      ok(rkin_grow((void **)&v, &cap, SIZE_MAX / 2, sizeof *v) == -1
         && v == keep && cap == c0,
         "rkin_grow: a size that overflows size_t fails, array untouched");
    }
    free(v);
  }

  done_testing();
  return exit_status();
}
