/* tare_csv_out.c - the plan table of a TARE cohort as CSV text: one row
 * per territory, doses, each limit with margin and PASS/EXCEEDED. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"
#include "tare/tare_cohort_impl.h"

typedef struct {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 1 << 16;
    char *q;
    while (c < b->n + n + 1) c *= 2;
    if (!(q = realloc(b->p, c))) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = c;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* A text field, quoted when it holds a comma, quote or line break. */
static void put_text(sbuf *b, const char *s)
{
  const char *q;
  if (!strpbrk(s, ",\"\r\n")) {
    puts_(b, s);
    return;
  }
  put(b, "\"", 1);
  for (q = s; *q; q++) {
    if (*q == '"') put(b, "\"", 1);
    put(b, q, 1);
  }
  put(b, "\"", 1);
}

/* A number as printf's %.10g (rkin_fmt_g10: printf's multi-precision
 * conversion took a third of a large cohort's time), then the separator. */
static void put_num(sbuf *b, double v, const char *sep)
{
  char buf[48];
  size_t n = rkin_fmt_g10(v, buf);
  put(b, buf, n);
  put(b, sep, strlen(sep));
}

static const char header[] =
    "id,product,nuclide,cf_gy_kg_per_gbq,territory,binding,activity_mbq,"
    "mean_gy,normal_gy,tumour_mean_gy,lesion_gy,lung_gy,liver_normal_gy,"
    "normal_limit_gy,normal_margin_gy,normal_status,lung_limit_gy,"
    "lung_margin_gy,lung_status,total_activity_mbq,vial_at_injection_mbq,"
    "order_at_calibration_mbq,all_pass,warnings\n";

static void put_patient(sbuf *b, const rkin_tare_cohort *c, size_t i,
                        const rkin_tare_result *r)
{
  const tare_entry *e = &c->e[i];
  const rkin_tare_check *lung = &r->checks[r->n_checks - 1];
  char warn[RKIN_TARE_MAX_WARN * (RKIN_TARE_WARN_LEN + 2)] = "";
  size_t k, j, wl = 0;
  for (j = 0; j < r->warn.n; j++)
    wl += (size_t)snprintf(warn + wl, sizeof warn - wl, "%s%s",
                           j ? "; " : "", r->warn.text[j]);
  for (k = 0; k < r->n_territories; k++) {
    const tare_terr_rec *t = &c->t[e->t0 + k];
    const rkin_tare_terr_result *tr = &r->terr[k];
    const rkin_tare_check *ck = &r->checks[k];
    char name[32];
    put_text(b, e->id);
    put(b, ",", 1);
    puts_(b, e->plan.product.name);
    put(b, ",", 1);
    puts_(b, e->plan.nuclide->name);
    put(b, ",", 1);
    put_num(b, e->plan.cf, ",");
    if (!t->t.name) snprintf(name, sizeof name, "territory %zu", k + 1);
    put_text(b, t->t.name ? t->t.name : name);
    put(b, ",", 1);
    puts_(b, rkin_tare_bind_name(tr->binding));
    put(b, ",", 1);
    put_num(b, tr->activity_mbq, ",");
    put_num(b, tr->mean_gy, ",");
    put_num(b, tr->normal_gy, ",");
    put_num(b, tr->tumour_mean_gy, ",");
    for (j = 0; j < t->t.n_lesions; j++) {
      char buf[32];
      int n = snprintf(buf, sizeof buf, "%s%.4g", j ? ";" : "",
                       tr->lesion_gy[j]);
      put(b, buf, (size_t)n);
    }
    put(b, ",", 1);
    put_num(b, r->lung_gy, ",");
    put_num(b, r->liver_normal_gy, ",");
    put_num(b, ck->limit_gy, ",");
    put_num(b, ck->margin_gy, ",");
    puts_(b, ck->exceeded ? "EXCEEDED," : "PASS,");
    put_num(b, lung->limit_gy, ",");
    put_num(b, lung->margin_gy, ",");
    puts_(b, lung->exceeded ? "EXCEEDED," : "PASS,");
    put_num(b, r->activity_mbq, ",");
    put_num(b, r->activity_injection_mbq, ",");
    put_num(b, r->activity_calibration_mbq, ",");
    puts_(b, r->all_pass ? "1," : "0,");
    put_text(b, warn);
    put(b, "\n", 1);
  }
}

int rkin_tare_cohort_csv(const rkin_tare_cohort *c, char **text,
                         size_t *len, rkin_tare_summary *sum, rkin_err *err)
{
  rkin_tare_result *r;
  sbuf b = {NULL, 0, 0, 0};
  double act = 0.0;
  size_t i, k;
  int rc = RKIN_OK;
  if (!c || !text || !len || !sum)
    return rkin_err_set(err, RKIN_EINVAL, "tare cohort: argument missing");
  *text = NULL;
  *len = 0;
  memset(sum, 0, sizeof *sum);
  if (!(r = malloc(sizeof *r))) return tare_cohort_nomem(err);
  /* About 250 bytes a territory row: reserve once instead of doubling. */
  if ((b.p = malloc(sizeof header + c->nt * 320)))
    b.cap = sizeof header + c->nt * 320;
  puts_(&b, header);
  for (i = 0; i < c->n && !rc; i++) {
    if ((rc = rkin_tare_cohort_plan(c, i, r, err))) break;
    put_patient(&b, c, i, r);
    sum->all_pass += (size_t)r->all_pass;
    sum->lung_exceeded += (size_t)r->checks[r->n_checks - 1].exceeded;
    for (k = 0; k + 1 < r->n_checks; k++)
      if (r->checks[k].exceeded) {
        sum->normal_exceeded++;
        break;
      }
    act += r->activity_mbq;
  }
  free(r);
  if (!rc && b.oom) rc = tare_cohort_nomem(err);
  if (rc) {
    free(b.p);
    return rc;
  }
  sum->patients = c->n;
  sum->mean_activity_mbq = c->n ? act / (double)c->n : 0.0;
  *text = b.p;
  *len = b.n;
  return RKIN_OK;
}
