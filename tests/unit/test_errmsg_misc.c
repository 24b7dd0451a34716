/* test_errmsg_misc.c - error messages of the engine's C interface that
 * no Lua call reaches (the bindings check first) but a C caller can:
 * a model's events, dose modifiers and state notes set twice or with
 * bad nodes, NULL arguments, the CSV reader's size limit and missing
 * file, per-patient tables with an empty cell or no rows; each provoked
 * and its text asserted (issue 22 item 3). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/expr.h"
#include "core/init.h"
#include "core/mevent.h"
#include "core/model.h"
#include "pop/data.h"
#include "pop/popest.h"
#include "pop/vpop.h"
#include "../scratch.h"
#include "../tap.h"

static rkin_err err;
static char dir[] = "/tmp/rkin_errmsg_misc_XXXXXX";

#define BAD(call, part, what)                                             \
  do {                                                                    \
    rkin_err_clear(&err);                                                 \
    ok((call) < 0, "%s: refused", what);                                  \
    like(err.msg, part, "... message: %s", part);                         \
  } while (0)

int main(void)
{
  static const char *const st[2] = {"A", "B"}, *const pa[1] = {"k"};
  static const double pv[1] = {0.1};
  rkin_graph *g;
  rkin_node d[2], trig, one, mods[RKIN_MOD_N * 2];
  rkin_model_spec sp;
  rkin_model *m;
  rkin_model_event ev;
  int target[2] = {0, 0}, k;
  rkin_node vals[2];
  rkin_init();
  if (!mkdtemp(dir)) {
    diag("mkdtemp failed");
    return 1;
  }
  /* dA/dt = -k A, dB/dt = k A; the event A > 0.5 sets A to 1 */
  g = rkin_graph_new();
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG,
                         rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                                          rkin_expr_state(g, 0)));
  d[1] = rkin_expr_binary(g, RKIN_OP_MUL, rkin_expr_param(g, 0),
                          rkin_expr_state(g, 0));
  trig = rkin_expr_binary(g, RKIN_OP_GT, rkin_expr_state(g, 0),
                          rkin_expr_const(g, 0.5));
  one = rkin_expr_const(g, 1);
  memset(&sp, 0, sizeof sp);
  sp.name = "ev1";
  sp.n_states = 2;
  sp.states = st;
  sp.deriv = d;
  sp.n_params = 1;
  sp.params = pa;
  sp.values = pv;
  rkin_err_clear(&err);
  m = rkin_model_new(&sp, g, &err);
  ok(m != NULL, "the model builds (%s)", err.msg);
  if (!m) return exit_status();

  /* events */
  memset(&ev, 0, sizeof ev);
  ev.name = "e";
  ev.trigger = trig;
  ev.delay = trig;
  ev.priority = -1;
  ev.n_assign = 1;
  ev.target = target;
  vals[0] = vals[1] = one;
  ev.value = vals;
  BAD(rkin_model_set_events(m, &ev, 1, &err), "model 'ev1', event 'e': the "
      "delay is not a valid number expression", "a condition as the delay");
  ev.delay = -1;
  ev.priority = trig;
  BAD(rkin_model_set_events(m, &ev, 1, &err), "model 'ev1', event 'e': the "
      "priority is not a valid number expression",
      "a condition as the priority");
  ev.priority = -1;
  target[0] = 5;
  BAD(rkin_model_set_events(m, &ev, 1, &err), "model 'ev1', event 'e': "
      "assignment 1 targets state 5 (expected 0..1)", "a target out of range");
  target[0] = 0;
  ev.n_assign = 2;
  BAD(rkin_model_set_events(m, &ev, 1, &err), "model 'ev1', event 'e': "
      "state 'A' is assigned twice", "a state assigned twice");
  ev.n_assign = 1;
  rkin_err_clear(&err);
  is_int(rkin_model_set_events(m, &ev, 1, &err), 0, "a valid event is set "
         "(%s)", err.msg);
  BAD(rkin_model_set_events(m, &ev, 1, &err), "model 'ev1': events are "
      "already set", "events set twice");

  /* dose modifiers */
  for (k = 0; k < RKIN_MOD_N * 2; k++) mods[k] = -1;
  mods[RKIN_MOD_LAG * 2 + 1] = 1000000;
  BAD(rkin_model_set_dose_mods(m, mods, &err), "model 'ev1': lag time (ALAG) "
      "of state 'B' is not a valid expression", "a lag node outside the graph");
  mods[RKIN_MOD_LAG * 2 + 1] = -1;
  rkin_err_clear(&err);
  is_int(rkin_model_set_dose_mods(m, mods, &err), 0, "no modifiers set "
         "(%s)", err.msg);
  BAD(rkin_model_set_dose_mods(m, mods, &err), "model 'ev1': dose "
      "modifiers are already set", "dose modifiers set twice");

  /* state notes */
  {
    const char *names[1] = {"Ab"}, *notes[1] = {"a boundary species"};
    rkin_err_clear(&err);
    is_int(rkin_model_set_state_notes(m, 1, names, notes, &err), 0,
           "state notes set (%s)", err.msg);
    BAD(rkin_model_set_state_notes(m, 1, names, notes, &err), "model "
        "'ev1': state notes are already set", "state notes set twice");
  }
  rkin_model_free(m);
  BAD(rkin_model_native(NULL, NULL, &err), "rkin_model_native: model is NULL",
      "native code of no model");

  /* NULL arguments */
  BAD(rkin_csv_next(NULL, NULL, &err), "rkin_csv_next: NULL argument",
      "rkin_csv_next without a reader");
  rkin_err_clear(&err);
  ok(rkin_data_read(NULL, NULL, &err) == NULL, "rkin_data_read without a "
     "path: refused");
  like(err.msg, "rkin_data_read: NULL path", "... message");
  {
    char *a = NULL, *b = NULL;
    BAD(rkin_popfit_table_csv(NULL, &a, &b, &err), "rkin_popfit_table_csv: "
        "NULL argument", "rkin_popfit_table_csv without a fit");
  }
  BAD(rkin_pop_check_table(NULL, "x.csv", NULL, 0, 0, NULL, -1, &err),
      "rkin_pop_check_table: bad arguments", "rkin_pop_check_table without "
      "a population");

  /* the CSV reader: a missing file, and one larger than a table may be
   * (a sparse file: no disk space is used) */
  {
    char *text = NULL, path[300];
    size_t len;
    int fd;
    snprintf(path, sizeof path, "%s/none.csv", dir);
    BAD(rkin_csv_slurp(path, &text, &len, &err), "none.csv: cannot open the "
        "table: No such file or directory", "a missing table");
    snprintf(path, sizeof path, "%s/huge.csv", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ok(fd >= 0 && ftruncate(fd, (off_t)RKIN_CSV_MAX_BYTES + 1) == 0,
       "a sparse file of 4 GiB + 1 byte");
    if (fd >= 0) close(fd);
    BAD(rkin_csv_slurp(path, &text, &len, &err), "huge.csv: 4.29 GB, more "
        "than the 4.29 GB a table may have", "a table over 4 GiB");
    free(text);
    unlink(path);
  }

  /* per-patient tables */
  {
    static const char *const need[2] = {"WT", "AGE"};
    size_t n_rows = 0;
    double *v = NULL;
    size_t *lines = NULL;
    BAD(rkin_pop_read_csv(scratch_write(dir, "empty.csv",
                                        "WT,AGE\n70,50\n80,\n"), 2, need,
                          0, NULL, NULL, &n_rows, &v, &lines, &err),
        "empty.csv:3: column 'AGE' is empty (a number is required)",
        "an empty cell");
    free(v);
    free(lines);
    v = NULL;
    lines = NULL;
    BAD(rkin_pop_read_csv(scratch_write(dir, "head.csv",
                                        "WT,AGE\n# no rows\n"), 2, need,
                          0, NULL, NULL, &n_rows, &v, &lines, &err),
        "head.csv: no patient rows after the header", "a header alone");
    free(v);
    free(lines);
    unlink(scratch_write(dir, "empty.csv", ""));
    unlink(scratch_write(dir, "head.csv", ""));
  }
  rmdir(dir);
  done_testing();
  return exit_status();
}
