/* test_data.c - NONMEM-style CSV datasets: semantics and every rejected
 * input, on small files written here, and the Theophylline data. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/init.h"
#include "pop/covdecl.h"
#include "pop/data.h"
#include "../tap.h"

static char dir[] = "/tmp/rkin_test_data_XXXXXX";

/* Writes text to dir/name and returns the path (static buffer). */
static const char *write_csv(const char *name, const char *text)
{
  static char path[512];
  FILE *fp;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  fp = fopen(path, "w");
  if (fp) {
    fputs(text, fp);
    fclose(fp);
  }
  return path;
}

/* Reads text written to a file; NULL and the message in err on failure. */
static rkin_data *read_text(const char *name, const char *text,
                            const rkin_data_opts *o, rkin_err *err)
{
  rkin_err_clear(err);
  return rkin_data_read(write_csv(name, text), o, err);
}

/* Expects a failure whose message contains `part`. */
static void bad(const char *name, const char *text, const rkin_data_opts *o,
                const char *part, const char *what)
{
  rkin_err err;
  rkin_data *d = read_text(name, text, o, &err);
  ok(d == NULL && err.code == RKIN_EINVAL, "rejected: %s", what);
  like(err.msg, part, "message for %s", what);
  rkin_data_free(d);
}

/* A one-state model: a dose without CMT can only go to its state. */
static const rkin_data_opts one = {.n_states = 1};

static void test_semantics(void)
{
  /* Lower-case names, a covariate column, '.' and empty as missing, EVID
   * 2 and MDV 1 rows ignored, an infusion and ADDL repeats. */
  const char *text =
    "# a comment line\n"
    "id,time,amt,rate,dv,evid,mdv,cmt,ii,addl,wt\n"
    "1,0,100,0,.,1,1,1,12,2,70\n"
    "1,0.5,.,.,4.2,0,0,2,.,.,70\n"
    "1,1,.,,,2,1,.,.,.,70\n"
    "1,2,.,.,3.9,0,1,2,.,.,.\n"
    "1,4,.,.,3.1,0,0,2,.,.,.\n"
    "\n"
    "2,0,50,25,.,1,1,2,.,.,.\r\n"
    "2,3,.,.,1.5,0,0,2,.,.,80.5\r\n";
  rkin_err err;
  const rkin_data_subject *s;
  const rkin_dose *r;
  rkin_data *d = read_text("ok.csv", text, NULL, &err);
  ok(d != NULL, "small dataset read (%s)", d ? "ok" : err.msg);
  if (!d) {
    skip(20, "dataset not read");
    return;
  }
  is_int((long)rkin_data_nsubjects(d), 2, "2 subjects");
  is_int((long)rkin_data_nobs(d), 3, "3 observations (MDV 1, EVID 2 out)");
  is_int((long)rkin_data_ncovariates(d), 1, "1 covariate");
  ok(strcmp(rkin_data_covariate_name(d, 0), "wt") == 0, "covariate 'wt'");
  is_int(rkin_data_covariate_index(d, "WT", NULL), 0,
         "covariate lookup is case-insensitive");
  s = rkin_data_subject_at(d, 0);
  is_int((long)s->n_obs, 2, "subject 1: 2 observations");
  ok(s->time[0] == 0.5 && s->dv[0] == 4.2 && s->time[1] == 4
     && s->dv[1] == 3.1, "subject 1: times and DVs as written");
  ok(s->cmt[0] == 1 && s->obs_line[0] == 4, "CMT 2 -> state 1; line 4");
  ok(s->cov[0] == 70, "subject 1: WT is its first value, 70");
  r = rkin_dosing_record(s->seg[0].dosing, 0);
  ok(s->n_seg == 1 && rkin_dosing_nrecords(s->seg[0].dosing) == 1,
     "subject 1: one segment, one dose record");
  ok(r && r->amount == 100 && r->cmt == 0 && r->addl == 2 && r->ii == 12
     && r->rate == 0, "dose: AMT 100 into state 0, ADDL 2, II 12");
  is_int((long)rkin_dosing_nevents(s->seg[0].dosing), 3,
         "ADDL 2 expands to 3 boluses");
  s = rkin_data_subject_at(d, 1);
  r = rkin_dosing_record(s->seg[0].dosing, 0);
  ok(r && r->rate == 25 && r->cmt == 1, "subject 2: infusion 25/h to "
     "state 1");
  ok(s->id == 2 && s->line == 9, "subject 2: ID 2 starts at line 9");
  ok(s->cov[0] == 80.5, "subject 2: WT taken from its first non-missing "
     "cell");
  ok(s->n_obs == 1 && s->time[0] == 3, "subject 2: CRLF line read");
  rkin_data_free(d);

  /* No EVID column: AMT > 0 makes a dose, MDV 1 another ignored row;
   * no CMT column with a one-state model: doses go to its state. */
  d = read_text("noevid.csv", "ID,TIME,DV,AMT,MDV\n1,0,.,10,1\n1,1,5,.,0\n"
                "1,2,.,.,1\n1,3,4,0,0\n", &one, &err);
  s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(s && s->n_obs == 2 && rkin_dosing_nrecords(s->seg[0].dosing) == 1
     && rkin_dosing_record(s->seg[0].dosing, 0)->cmt == 0,
     "without EVID: AMT > 0 is a dose (to state 0), MDV 1 skipped");
  ok(s && s->cmt[0] == -1, "without CMT: observation cmt is -1");
  rkin_data_free(d);

  /* EVID 4 resets: time may go back, a new segment starts. */
  d = read_text("reset.csv", "ID,TIME,DV,AMT,EVID,CMT\n1,0,.,10,1,1\n"
                "1,5,2,.,0,1\n1,0,.,20,4,1\n1,2,7,.,0,1\n1,1,.,.,3,.\n"
                "1,3,1,.,0,1\n", NULL, &err);
  s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(s && s->n_seg == 3 && s->seg[1].first_obs == 1 && s->seg[1].n_obs == 1
     && s->seg[1].t0 == 0 && s->seg[2].t0 == 1
     && rkin_dosing_record(s->seg[1].dosing, 0)->amount == 20
     && rkin_dosing_nrecords(s->seg[2].dosing) == 0,
     "EVID 4 and 3 start segments; time may go back there (%s)",
     d ? "read" : err.msg);
  rkin_data_free(d);
}

static void test_cmt_names(void)
{
  static const char *const names[] = {"depot", "central"};
  rkin_data_opts o = {.n_states = 2, .state_names = names};
  rkin_err err;
  rkin_data *d = read_text("names.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,5,Depot\n"
                           "1,1,3,.,central\n", &o, &err);
  const rkin_data_subject *s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(s && rkin_dosing_record(s->seg[0].dosing, 0)->cmt == 0
     && s->cmt[0] == 1, "CMT by state name (case-insensitive)");
  ok(d && rkin_data_check_states(d, 2, names, NULL) == 0,
     "doses fit a 2-state model");
  is_int(d ? rkin_data_check_states(d, 0, NULL, &err) : 0, RKIN_EINVAL,
         "check against a 0-state model fails");
  like(err.msg, "names.csv:2: column CMT: dose to compartment 1, but the "
       "model has 0 states", "check_states names the line");
  rkin_data_free(d);
  bad("cmt3.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,5,3\n1,1,3,.,2\n", &o,
      "cmt3.csv:2: column CMT: dose to compartment 3, but the model has 2 "
      "states (1=depot, 2=central)", "dose to an unknown compartment");
  bad("cmtname.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,5,gut\n1,1,3,.,2\n", &o,
      "cmtname.csv:2: column CMT: 'gut' is neither", "unknown state name");
  bad("cmt0.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,5,-1\n1,1,3,.,2\n", NULL,
      "cmt0.csv:2: column CMT: -1 is not supported",
      "negative CMT (compartment off)");
}

/* DVID (and CMT naming an output) select the output an observation
 * measures: DVID k is output k - 1 of the list given. */
static void test_dvid(void)
{
  static const char *const sn[] = {"depot", "central"};
  static const char *const on[] = {"C", "logC"};
  rkin_data_opts o = {.n_states = 2, .state_names = sn, .n_outputs = 2,
                      .output_names = on};
  rkin_data_opts no_out = {.n_states = 2, .state_names = sn};
  rkin_err err;
  const char *text =
    "ID,TIME,DV,AMT,CMT,DVID\n"
    "1,0,.,5,depot,.\n"
    "1,1,3.1,.,.,1\n"
    "1,1,1.13,.,.,2\n"
    "1,2,2.5,.,logC,.\n"
    "1,3,2.0,.,central,.\n"
    "1,4,0.9,.,logC,2\n";
  rkin_data *d = read_text("dvid.csv", text, &o, &err);
  const rkin_data_subject *s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(s && s->n_obs == 5, "five observations");
  ok(s && s->dvid[0] == 1 && s->dvid[1] == 2 && s->dvid[2] == -1
     && s->dvid[3] == -1 && s->dvid[4] == 2, "DVID kept per observation "
     "(-1 when missing)");
  ok(s && s->output[0] == 0 && s->output[1] == 1 && s->output[2] == 1
     && s->output[3] == -1 && s->output[4] == 1, "output selected: DVID 1 "
     "-> C, DVID 2 -> logC, CMT logC -> logC, CMT central -> none");
  ok(s && s->cmt[3] == 1 && s->cmt[2] == -1, "CMT central stays a state; "
     "CMT naming an output is no state");
  ok(s && s->time[1] == 1 && s->dv[1] == 1.13, "same-time observations "
     "keep their order and values");
  rkin_data_free(d);

  d = read_text("dvid2.csv", "ID,TIME,DV,AMT,CMT,DVID\n1,0,.,5,1,.\n"
                "1,1,3,.,.,1\n1,1,1.1,.,.,2\n", &no_out, &err);
  s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(s && s->dvid[1] == 2 && s->output[1] == -1, "without outputs DVID is "
     "kept as read and selects nothing");
  rkin_data_free(d);
  d = read_text("dvid9.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,5,1\n1,1,3,.,.\n",
                &no_out, &err);
  s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(s && !s->dvid && !s->output, "no DVID column, no outputs: dvid and "
     "output are NULL");
  rkin_data_free(d);
  /* ... but a CMT naming an output is then unknown */
  bad("dvid3.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,5,1\n1,1,3,.,logC\n",
      &no_out, "dvid3.csv:3: column CMT: 'logC' is neither",
      "CMT naming an output without outputs");
  bad("dvid4.csv", "ID,TIME,DV,AMT,CMT,DVID\n1,0,.,5,1,.\n1,1,3,.,.,3\n",
      &o, "dvid4.csv:3: column DVID: 3, but the model has 2 outputs (DVID "
      "1=C, 2=logC)", "DVID past the outputs");
  bad("dvid5.csv", "ID,TIME,DV,AMT,CMT,DVID\n1,0,.,5,1,.\n1,1,3,.,.,0\n",
      &o, "dvid5.csv:3: column DVID: 0 is not an observation type",
      "DVID 0");
  bad("dvid6.csv", "ID,TIME,DV,AMT,CMT,DVID\n1,0,.,5,1,.\n1,1,3,.,.,1.5\n",
      &o, "dvid6.csv:3: column DVID: 1.5 is not an integer", "DVID 1.5");
  bad("dvid7.csv", "ID,TIME,DV,AMT,CMT,DVID\n1,0,.,5,1,.\n1,1,3,.,C,2\n",
      &o, "dvid7.csv:3: columns CMT and DVID disagree: CMT names output "
      "'C', DVID 2 selects 'logC'", "CMT and DVID disagree");
  bad("dvid8.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,5,C\n1,1,3,.,1\n",
      &o, "dvid8.csv:2: column CMT: 'C' is an output of the model; a dose "
      "record (EVID 1) needs a state", "dose into an output");
}

static void test_bad_input(void)
{
  rkin_err err;
  rkin_data *d;
  bad("noid.csv", "TIME,DV\n0,1\n", NULL, "noid.csv:1: the header has no ID "
      "column", "missing ID column");
  bad("notime.csv", "ID,T,DV\n1,0,1\n", NULL, "notime.csv:1: the header has "
      "no TIME column", "missing TIME column");
  bad("nodv.csv", "ID,TIME,CP\n1,0,1\n", NULL, "nodv.csv:1: the header has "
      "no DV column", "missing DV column");
  bad("nonnum.csv", "ID,TIME,DV,AMT\n1,0,.,100\n1,1,abc,.\n", &one,
      "nonnum.csv:3: column DV: 'abc' is not a number", "non-numeric DV");
  bad("nonnumcov.csv", "ID,TIME,DV,SEX\n1,0,1,M\n", NULL,
      "nonnumcov.csv:2: column SEX: 'M' is not a number",
      "non-numeric covariate");
  bad("nan.csv", "ID,TIME,DV\n1,nan,1\n", NULL, "nan.csv:2: column TIME: "
      "'nan' is not a number", "NaN time");
  bad("back.csv", "ID,TIME,DV,AMT\n1,0,.,100\n1,2,5,.\n1,1,4,.\n", &one,
      "back.csv:4: column TIME: 1 is earlier than the previous record's 2 "
      "in subject ID 1", "time going back without reset");
  bad("noobs.csv", "ID,TIME,DV,AMT,EVID\n1,0,.,100,1\n1,1,3,.,0\n"
      "2,0,.,100,1\n2,1,.,.,2\n3,0,.,5,1\n3,1,2,.,0\n", &one,
      "noobs.csv:4: subject ID 2 has no observations",
      "subject without observations");
  bad("noobslast.csv", "ID,TIME,DV,AMT\n1,0,.,100\n", &one,
      "noobslast.csv:2: subject ID 1 has no observations",
      "last subject without observations");
  bad("ss.csv", "ID,TIME,DV,AMT,SS,II\n1,0,.,100,3,12\n1,1,3,.,0,.\n",
      NULL, "ss.csv:2: column SS: 3 is not supported", "SS = 3");
  bad("ssii.csv", "ID,TIME,DV,AMT,SS,II\n1,0,.,100,1,0\n1,1,3,.,0,.\n",
      &one, "ssii.csv:2: dose record 1: ss = 1 with ii = 0 needs ii > 0",
      "SS = 1 bolus with II = 0");
  bad("evid4.csv", "ID,TIME,DV,AMT,EVID\n1,0,.,.,4\n1,1,3,.,0\n", &one,
      "evid4.csv:2: column AMT: missing on a dose record (EVID 4)",
      "EVID 4 without AMT");
  bad("evid40.csv", "ID,TIME,DV,AMT,EVID\n1,0,.,0,4\n1,1,3,.,0\n", &one,
      "evid40.csv:2: column AMT: 0 on a reset-and-dose record",
      "EVID 4 with AMT 0");
  bad("rate1.csv", "ID,TIME,DV,AMT,RATE,EVID\n1,0,.,0,-1,1\n1,1,3,.,.,0\n",
      &one,
      "rate1.csv:2: dose record 1: rate = -1 (modelled rate) needs an "
      "amount > 0", "RATE = -1 with AMT 0");
  bad("rate.csv", "ID,TIME,DV,AMT,RATE\n1,0,.,100,-3\n1,1,3,.,.\n", NULL,
      "rate.csv:2: column RATE: -3 is not supported", "RATE = -3");
  bad("evid.csv", "ID,TIME,DV,EVID\n1,0,3,5\n", NULL,
      "evid.csv:2: column EVID: 5 is not supported", "EVID 5");
  bad("evidnum.csv", "ID,TIME,DV,EVID\n1,0,3,1.5\n", NULL,
      "evidnum.csv:2: column EVID: 1.5 is not supported", "EVID 1.5");
  bad("fields.csv", "ID,TIME,DV\n1,0\n", NULL,
      "fields.csv:2: 2 fields, but the header has 3 columns",
      "short row");
  bad("contig.csv", "ID,TIME,DV\n1,0,1\n2,0,1\n1,1,1\n", NULL,
      "contig.csv:4: column ID: subject 1 appears again", "split subject");
  bad("noamt.csv", "ID,TIME,DV,AMT,EVID\n1,0,.,.,1\n1,1,2,.,0\n", NULL,
      "noamt.csv:2: column AMT: missing on a dose record", "dose without "
      "AMT");
  bad("dvmiss.csv", "ID,TIME,DV\n1,0,.\n", NULL,
      "dvmiss.csv:2: column DV: missing on an observation record",
      "observation without DV");
  bad("idmiss.csv", "ID,TIME,DV\n.,0,1\n", NULL,
      "idmiss.csv:2: column ID: missing", "missing ID cell");
  bad("addl.csv", "ID,TIME,DV,AMT,ADDL\n1,0,.,10,3\n1,1,2,.,.\n", &one,
      "addl.csv:2: dose record 1: addl = 3 needs ii > 0",
      "ADDL without II (dosing's message, with the line)");
  bad("dup.csv", "ID,TIME,DV,time\n1,0,1,0\n", NULL,
      "dup.csv:1: column 'time' appears twice", "duplicate column");
  bad("empty.csv", "# nothing\n", NULL, "empty.csv: no header line",
      "no header");
  bad("nodata.csv", "ID,TIME,DV\n", NULL, "nodata.csv: no data records",
      "header only");

  rkin_err_clear(&err);
  d = rkin_data_read("/nonexistent/dir/x.csv", NULL, &err);
  ok(d == NULL && err.code == RKIN_EIO, "missing file: RKIN_EIO");
  like(err.msg, "/nonexistent/dir/x.csv: cannot open", "message names the "
       "file");
  d = read_text("mdv.csv", "ID,TIME,DV,MDV\n1,0,1,2\n", NULL, &err);
  ok(d == NULL, "MDV = 2 refused (not read as an observation)");
  like(err.msg, "mdv.csv:2: column MDV: 2 is not supported", "... naming "
       "line and value");
  rkin_data_free(d);
  /* Time-varying covariates (issue 13): every record keeps its values
   * (NaN where missing), its time, line and dose; the subject's cov is
   * the first value. */
  d = read_text("tv.csv", "ID,TIME,DV,AMT,CMT,WT\n1,0,.,5,1,70\n"
                "1,1,2,.,.,.\n1,2,3,.,.,72\n1,2,.,5,1,74\n", NULL, &err);
  {
    const rkin_data_subject *s = d ? rkin_data_subject_at(d, 0) : NULL;
    ok(s && s->n_rec == 4 && s->cov[0] == 70 && s->rec_cov[0] == 70
       && isnan(s->rec_cov[1]) && s->rec_cov[2] == 72 && s->rec_cov[3] == 74
       && s->rec_time[1] == 1 && s->rec_time[3] == 2 && s->rec_line[2] == 4
       && s->rec_dose[0] == 0 && s->rec_dose[1] == -1
       && s->rec_dose[3] == 1 && s->rec_seg[3] == 0 && s->cov_locf == 0,
       "a covariate changing within a subject: every record's value, "
       "time, line and dose index (%s)", d ? "read" : err.msg);
    is_int(d ? rkin_data_covariate_column(d, 0) : -1, 6,
           "WT is column 6 of the header");
  }
  rkin_data_free(d);
  d = read_text("cov.csv", "ID,TIME,DV,WT\n1,0,1,70\n", NULL, &err);
  is_int(d ? rkin_data_covariate_index(d, "AGE", &err) : 0, -1,
         "unknown covariate: -1");
  like(err.msg, "no covariate column 'AGE' (covariates: WT)",
       "unknown covariate message lists the known ones");
  rkin_data_free(d);
}

/* The NONMEM-layout Theophylline file (tests/data/theoph_nm.csv) against
 * the original table (R datasets::Theoph, tests/data/theoph_raw.csv): AMT =
 * Dose x Wt. */
static void test_theoph(void)
{
  const char *src = getenv("RADIOKIN_SRCDIR");
  char path[1024], raw[1024], line[256];
  rkin_err err;
  rkin_data *d;
  FILE *fp;
  size_t i, n = 0, bad_rows = 0;
  int wt, dose;
  if (!src) src = ".";
  snprintf(path, sizeof path, "%s/tests/data/theoph_nm.csv", src);
  snprintf(raw, sizeof raw, "%s/tests/data/theoph_raw.csv", src);
  d = rkin_data_read(path, NULL, &err);
  ok(d != NULL, "theoph_nm.csv read (%s)", d ? "ok" : err.msg);
  if (!d) {
    skip(6, "theoph_nm.csv not read");
    return;
  }
  is_int((long)rkin_data_nsubjects(d), 12, "Theoph: 12 subjects");
  is_int((long)rkin_data_nobs(d), 132, "Theoph: 132 concentrations "
         "(R datasets::Theoph)");
  wt = rkin_data_covariate_index(d, "wt", NULL);
  dose = rkin_data_covariate_index(d, "DOSE", NULL);
  ok(wt >= 0 && dose >= 0, "WT and DOSE covariates");
  for (i = 0; i < 12 && wt >= 0 && dose >= 0; i++) {
    const rkin_data_subject *s = rkin_data_subject_at(d, i);
    const rkin_dose *r = rkin_dosing_record(s->seg[0].dosing, 0);
    if (!r || r->cmt != 0 || r->time != 0
        || fabs(r->amount - s->cov[wt] * s->cov[dose]) > 1e-9 * r->amount)
      bad_rows++;
  }
  is_int((long)bad_rows, 0, "every AMT = WT x DOSE at time 0 into state 0");
  fp = fopen(raw, "r");
  if (!fp) {
    skip(1, "tests/data/theoph_raw.csv absent");
  } else {
    size_t si = 0, k = 0, mism = 0;
    double id, w, ds, t, c, prev = -1;
    if (!fgets(line, sizeof line, fp)) mism++;
    while (fgets(line, sizeof line, fp)) {
      const rkin_data_subject *s;
      if (sscanf(line, "%lf,%lf,%lf,%lf,%lf", &id, &w, &ds, &t, &c) != 5)
        continue;
      if (prev >= 0 && id != prev) {
        si++;
        k = 0;
      }
      prev = id;
      s = rkin_data_subject_at(d, si);
      if (!s || s->id != id || k >= s->n_obs || s->time[k] != t
          || s->dv[k] != c || s->cov[wt] != w)
        mism++;
      k++;
      n++;
    }
    fclose(fp);
    ok(n == 132 && mism == 0, "every (ID, TIME, DV, WT) matches "
       "peers/theoph.csv (%zu rows, %zu mismatches)", n, mism);
  }
  rkin_data_free(d);
}

/* Times are printed as diagnostics only: speed is measured by the
 * benchmarks (a timed assertion fails on a loaded machine). */
static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Issue 12: quoting and BOM through the project's CSV tokenizer, a dose
 * without CMT, and inputs that took minutes or gigabytes before. */
static void test_hardening(void)
{
  static const char *const two_names[] = {"depot", "central"};
  rkin_data_opts two = {.n_states = 2, .state_names = two_names};
  rkin_err err;
  rkin_data *d;
  const rkin_data_subject *s;
  char *text;
  size_t i, len, cap;
  double t0, dt;

  /* BOM, quoted header and cells, a quoted comma in a comment, CRLF. */
  d = read_text("quoted.csv", "\xEF\xBB\xBF# note: \"a, b\"\r\n"
                "\"ID\",\"TIME\",DV,AMT,CMT,\"WT\"\r\n"
                "\"1\",0,.,\"100\",depot,\"70\"\r\n1,1,5.5,.,central,70\r\n",
                &two, &err);
  s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(s && s->id == 1 && s->n_obs == 1 && s->dv[0] == 5.5 && s->line == 3
     && s->cov[0] == 70
     && rkin_dosing_record(s->seg[0].dosing, 0)->amount == 100,
     "BOM, quoted names and values, CRLF: read (%s)", d ? "ok" : err.msg);
  rkin_data_free(d);
  bad("badquote.csv", "ID,TIME,DV\n1,0,\"5\n", NULL,
      "badquote.csv:2:5: unterminated quoted field",
      "unterminated quote (file:line:column)");

  /* A dose without CMT: an error unless the model has one state. */
  bad("cmtblank.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,100,\n1,1,3,.,2\n", &two,
      "cmtblank.csv:2: column CMT: blank on a dose record (EVID 1): give "
      "the compartment", "blank CMT on a dose row, 2-state model");
  bad("cmtnone.csv", "ID,TIME,DV,AMT\n1,0,.,100\n1,1,3,.\n", NULL,
      "cmtnone.csv:2: column CMT: no CMT column, so no compartment on a "
      "dose record", "no CMT column, model unknown");
  d = read_text("cmtone.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,100,.\n1,1,3,.,.\n",
                &one, &err);
  ok(d && rkin_dosing_record(rkin_data_subject_at(d, 0)->seg[0].dosing,
                             0)->cmt == 0,
     "blank CMT with a one-state model: its state");
  rkin_data_free(d);

  /* EVID 1 with AMT 0 as the only dose: a schedule with no events. */
  d = read_text("amt0.csv", "ID,TIME,DV,AMT,EVID\n1,0,.,0,1\n1,1,3,.,0\n",
                &one, &err);
  s = d ? rkin_data_subject_at(d, 0) : NULL;
  ok(s && rkin_dosing_nrecords(s->seg[0].dosing) == 1
     && rkin_dosing_nevents(s->seg[0].dosing) == 0,
     "AMT 0 as the only dose: one record, no events");
  rkin_data_free(d);

  /* 200 dose rows of ADDL 1e6 as infusions (2 GB and minutes before):
   * the first row passes the event limit. */
  cap = 64 + 200 * 40;
  text = malloc(cap);
  len = (size_t)snprintf(text, cap, "ID,TIME,DV,AMT,RATE,II,ADDL,CMT\n");
  for (i = 0; i < 200; i++)
    len += (size_t)snprintf(text + len, cap - len,
                            "1,%zu,.,10,5,1,1000000,1\n", i);
  snprintf(text + len, cap - len, "1,300,1,.,.,.,.,1\n");
  t0 = now_s();
  d = rkin_data_parse(text, strlen(text), "addl.csv", &one, &err);
  dt = now_s() - t0;
  ok(d == NULL && err.code == RKIN_ERANGE, "ADDL 1e6 x 200 infusions: "
     "RKIN_ERANGE");
  like(err.msg, "addl.csv:2: this dose record (ADDL 1000000, an infusion: "
       "2 events each) expands to 2000002 events", "... naming the row");
  like(err.msg, "the limit is 1000000 events", "... and the limit");
  diag("ADDL cap reached in %.3f s (speed is a benchmark's business, not "
       "a test's)", dt);
  free(text);

  /* 100 interleaved infusion rows of ADDL 2000 (400,200 events): one
   * sort, in time order. */
  cap = 64 + 100 * 40;
  text = malloc(cap);
  len = (size_t)snprintf(text, cap, "ID,TIME,DV,AMT,RATE,II,ADDL,CMT\n");
  for (i = 0; i < 100; i++)
    len += (size_t)snprintf(text + len, cap - len,
                            "1,%zu,.,1,4,1.5,2000,1\n", i);
  snprintf(text + len, cap - len, "1,100,1,.,.,.,.,1\n");
  t0 = now_s();
  d = rkin_data_parse(text, strlen(text), "many.csv", &one, &err);
  dt = now_s() - t0;
  s = d ? rkin_data_subject_at(d, 0) : NULL;
  if (s) {
    const rkin_event *ev = rkin_dosing_events(s->seg[0].dosing);
    size_t n = rkin_dosing_nevents(s->seg[0].dosing), bad_order = 0;
    for (i = 1; i < n; i++)
      bad_order += ev[i].time < ev[i - 1].time;
    ok(n == 400200 && bad_order == 0 && ev[0].time == 0
       && ev[n - 1].time == 99 + 2000 * 1.5 + 0.25,
       "100 x ADDL 2000 infusions: 400,200 events in time order, the last "
       "at 3099.25 h");
  } else {
    ok(0, "100 x ADDL 2000 infusions read (%s)", err.msg);
  }
  diag("... in %.3f s", dt);
  rkin_data_free(d);
  free(text);

  /* 100,000 subjects (12 s before: each ID was compared with all), then
   * subject 1 again. */
  cap = 100001 * 24;
  text = malloc(cap);
  len = (size_t)snprintf(text, cap, "ID,TIME,DV\n");
  for (i = 1; i <= 100000; i++)
    len += (size_t)snprintf(text + len, cap - len, "%zu,1,%zu\n", i, i % 7);
  t0 = now_s();
  d = rkin_data_parse(text, len, "big.csv", NULL, &err);
  dt = now_s() - t0;
  ok(d && rkin_data_nsubjects(d) == 100000, "100,000 subjects read");
  diag("100,000 subjects parsed in %.3f s", dt);
  rkin_data_free(d);
  len += (size_t)snprintf(text + len, cap - len, "1,2,3\n");
  d = rkin_data_parse(text, len, "big.csv", NULL, &err);
  ok(d == NULL, "ID 1 again after 99,999 others: rejected");
  like(err.msg, "big.csv:100002: column ID: subject 1 appears again after "
       "other subjects (its records start at line 2", "... naming both "
       "lines");
  rkin_data_free(d);
  free(text);
  d = rkin_data_parse("ID,TIME,DV\n0,1,1\n2,1,1\n-0,1,1\n", 31, "z.csv",
                      NULL, &err);
  ok(d == NULL && strstr(err.msg, "z.csv:4: column ID: subject -0 appears "
                         "again"), "IDs 0 and -0 are one subject");
  rkin_data_free(d);
}

/* RATE -1 / -2 doses against the model's modelled rate / duration. */
static void test_model_rates(void)
{
  static const char *const sn[] = { "A", "B" }, *const pn[] = { "k", "R" };
  double pv[2] = { 0.1, 5 };
  rkin_graph *g = rkin_graph_new();
  rkin_node d[2], mods[RKIN_MOD_N * 2];
  rkin_model_spec sp;
  rkin_model *m;
  rkin_data_opts two = {.n_states = 2};
  rkin_data *ds;
  rkin_err err;
  size_t i;
  d[0] = rkin_expr_unary(g, RKIN_OP_NEG,
                         rkin_expr_binary(g, RKIN_OP_MUL,
                                          rkin_expr_param(g, 0),
                                          rkin_expr_state(g, 0)));
  d[1] = rkin_expr_const(g, 0);
  memset(&sp, 0, sizeof sp);
  sp.name = "rates";
  sp.n_states = 2;
  sp.states = sn;
  sp.deriv = d;
  sp.n_params = 2;
  sp.params = pn;
  sp.values = pv;
  for (i = 0; i < RKIN_MOD_N * 2; i++) mods[i] = -1;
  mods[RKIN_MOD_RATE * 2 + 0] = rkin_expr_param(g, 1);   /* R of A */
  m = rkin_model_new(&sp, g, &err);
  ok(m && rkin_model_set_dose_mods(m, mods, &err) == 0, "model with a "
     "rate for A");
  if (!m) return;
  ds = rkin_data_read(write_csv("r1.csv", "ID,TIME,DV,AMT,RATE,EVID,CMT\n"
                                "1,0,.,10,-1,1,1\n1,1,3,.,.,0,1\n"), &two,
                      &err);
  ok(ds && rkin_data_check_model(ds, m, &err) == 0,
     "RATE -1 into A (rate defined): accepted");
  rkin_data_free(ds);
  ds = rkin_data_read(write_csv("r2.csv", "ID,TIME,DV,AMT,RATE,EVID,CMT\n"
                                "1,0,.,10,-1,1,1\n1,1,3,.,.,0,1\n"
                                "1,2,.,10,-1,1,2\n1,3,3,.,.,0,1\n"), &two,
                      &err);
  is_int(ds ? rkin_data_check_model(ds, m, &err) : 0, RKIN_EINVAL,
         "RATE -1 into B (no rate): refused");
  like(err.msg, "r2.csv:4: column RATE: -1 takes the rate from the model, "
       "but model 'rates' defines no rate for compartment 2 ('B')",
       "message names file, line, column and compartment");
  rkin_data_free(ds);
  ds = rkin_data_read(write_csv("r3.csv", "ID,TIME,DV,AMT,RATE,EVID,CMT\n"
                                "1,0,.,10,-2,1,1\n1,1,3,.,.,0,1\n"), &two,
                      &err);
  is_int(ds ? rkin_data_check_model(ds, m, &err) : 0, RKIN_EINVAL,
         "RATE -2 into A (no duration): refused");
  like(err.msg, "r3.csv:2: column RATE: -2 takes the duration", "message");
  rkin_data_free(ds);
  rkin_model_free(m);
}

/* opts.simulate: no DV column, blank DV and a subject without observations
 * are accepted; the estimation reader (simulate 0) still rejects each. */
static void test_simulate(void)
{
  static const rkin_data_opts sim = {.n_states = 1, .simulate = 1};
  const char *nodv = "ID,TIME,AMT\n1,0,100\n1,2,.\n2,0,50\n";
  const char *blank = "ID,TIME,DV,AMT\n1,0,.,100\n1,2,,.\n1,3,4.5,.\n";
  rkin_err err;
  rkin_data *d = read_text("sim_nodv.csv", nodv, &sim, &err);
  ok(d != NULL, "simulate: a dataset without DV is read (%s)",
     d ? "ok" : err.msg);
  if (d) {
    const rkin_data_subject *s1 = rkin_data_subject_at(d, 0);
    const rkin_data_subject *s2 = rkin_data_subject_at(d, 1);
    ok(rkin_data_nsubjects(d) == 2 && s1->n_obs == 1 && s2->n_obs == 0,
       "simulate: 2 subjects, the second without observations");
    ok(s1->n_obs == 1 && isnan(s1->dv[0]) && s1->time[0] == 2,
       "simulate: the record without DV is a prediction time (DV NaN)");
  }
  rkin_data_free(d);
  d = read_text("sim_blank.csv", blank, &sim, &err);
  ok(d && rkin_data_subject_at(d, 0)->n_obs == 2
       && isnan(rkin_data_subject_at(d, 0)->dv[0])
       && rkin_data_subject_at(d, 0)->dv[1] == 4.5,
     "simulate: blank DV is NaN, a given DV is kept");
  rkin_data_free(d);
  bad("est_nodv.csv", nodv, &one, "no DV column", "no DV column (estimation)");
  bad("est_blank.csv", blank, &one, "column DV: missing",
      "blank DV (estimation)");
  bad("est_noobs.csv", "ID,TIME,DV,AMT\n1,0,.,100\n1,2,3,.\n2,0,.,50\n",
      &one, "has no observations", "a subject without observations "
      "(estimation)");
}

/* Declared covariates (pop/covdecl.h): the range's ends are inside, a
 * value past them or outside the levels names file, line, column,
 * subject and the declaration; malformed declarations are refused. */
static void test_covdecl(void)
{
  static const double sex_levels[2] = { 0, 1 };
  rkin_covdecl dc[2] = {
    { .name = "wt", .unit = "kg", .lo = 30, .hi = 150 },
    { .name = "SEX", .unit = "", .categorical = 1, .levels = sex_levels,
      .n_levels = 2 },
  };
  rkin_covdecl bad = { .name = "WT", .unit = "kg", .lo = 2, .hi = 1 };
  rkin_err err;
  rkin_data *d = read_text("decl.csv", "ID,TIME,DV,WT,SEX\n1,0,1,30,0\n"
                           "1,1,2,150,1\n2,0,1,80,1\n2,1,1,150.5,1\n",
                           NULL, &err);
  ok(d && rkin_data_check_covdecl(d, dc, 1, &err) == RKIN_EINVAL
     && strstr(err.msg, "decl.csv:5: column 4 (WT): 150.5 (subject ID 2) "
               "is outside the declared range [30, 150] kg of covariate wt"),
     "a value past the range: file, line, column, subject, range (%s)",
     err.msg);
  rkin_data_free(d);
  d = read_text("decl2.csv", "ID,TIME,DV,WT,SEX\n1,0,1,30,0\n1,1,2,150,1\n"
                "1,2,2,.,0.5\n", NULL, &err);
  ok(d && rkin_data_check_covdecl(d, dc, 1, &err) == RKIN_OK,
     "the range's ends are inside, a missing cell is not checked");
  ok(d && rkin_data_check_covdecl(d, dc, 2, &err) == RKIN_EINVAL
     && strstr(err.msg, "decl2.csv:4: column 5 (SEX): 0.5 (subject ID 1) is "
               "outside the declared levels {0, 1} of covariate SEX"),
     "a value not among the levels (%s)", err.msg);
  ok(rkin_covdecl_check(&bad, &err) == RKIN_EINVAL
     && strstr(err.msg, "covariate WT: range [2, 1] is invalid"),
     "lo > hi refused (%s)", err.msg);
  bad.categorical = 1;
  ok(rkin_covdecl_check(&bad, &err) == RKIN_EINVAL
     && strstr(err.msg, "categorical without levels"),
     "categorical without levels refused (%s)", err.msg);
  rkin_data_free(d);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

int main(void)
{
  rkin_init();   /* GSL reports errors as codes, never aborts */
  if (!mkdtemp(dir)) {
    printf("Bail out! cannot create a temporary directory\n");
    return 1;
  }
  test_semantics();
  test_cmt_names();
  test_dvid();
  test_bad_input();
  test_theoph();
  test_hardening();
  test_model_rates();
  test_simulate();
  test_covdecl();
  /* The scratch folder, depth first by nftw(3): no shell. */
  if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS))
    diag("could not remove %s", dir);
  done_testing();
  return exit_status();
}
