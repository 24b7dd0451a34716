/* tare_cohort.c - TARE cohorts: storage of many plans (strings in an arena
 * that never moves, territories and lesions in flat arrays) and planning
 * one patient. CSV in: tare_csv_in.c; CSV out: tare_csv_out.c. */
#include "tare/tare_cohort_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* p with room for `need` elements (at least one, so NULL means out of
 * memory). */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
  size_t c = *cap ? *cap : 64;
  void *q;
  if (need == 0) need = 1;
  if (need <= *cap) return p;
  while (c < need) c *= 2;
  q = realloc(p, c * size);
  if (q) *cap = c;
  return q;
}

const char *tare_cohort_keep(rkin_tare_cohort *c, const char *s, size_t n)
{
  tare_block *b = c->strings;
  char *out;
  if (!b || b->size - b->used < n + 1) {
    size_t size = n + 1 > 65536 ? n + 1 : 65536;
    b = malloc(sizeof *b + size);
    if (!b) return NULL;
    b->next = c->strings;
    b->used = 0;
    b->size = size;
    c->strings = b;
  }
  out = b->data + b->used;
  memcpy(out, s, n);
  out[n] = '\0';
  b->used += n + 1;
  return out;
}

rkin_tare_cohort *rkin_tare_cohort_new(void)
{
  return calloc(1, sizeof(rkin_tare_cohort));
}

void rkin_tare_cohort_free(rkin_tare_cohort *c)
{
  tare_block *b, *next;
  if (!c) return;
  for (b = c->strings; b; b = next) {
    next = b->next;
    free(b);
  }
  free(c->e);
  free(c->t);
  free(c->l);
  free(c);
}

size_t rkin_tare_cohort_size(const rkin_tare_cohort *c)
{
  return c ? c->n : 0;
}

const char *rkin_tare_cohort_id(const rkin_tare_cohort *c, size_t i)
{
  return c && i < c->n ? c->e[i].id : NULL;
}

int tare_cohort_nomem(rkin_err *err)
{
  return rkin_err_set(err, RKIN_ENOMEM, "tare cohort: out of memory");
}

static int add_territory(rkin_tare_cohort *c, const rkin_tare_territory *t,
                         rkin_err *err)
{
  tare_terr_rec *r;
  void *p;
  if (t->n_lesions > RKIN_TARE_MAX_LESIONS)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare cohort: %zu lesions, at most %d supported",
                        t->n_lesions, RKIN_TARE_MAX_LESIONS);
  if (!(p = grow(c->t, &c->tcap, c->nt + 1, sizeof *c->t))) return tare_cohort_nomem(err);
  c->t = p;
  if (!(p = grow(c->l, &c->lcap, c->nl + t->n_lesions, sizeof *c->l)))
    return tare_cohort_nomem(err);
  c->l = p;
  r = &c->t[c->nt++];
  r->t = *t;
  r->t.lesions = NULL;
  r->l0 = c->nl;
  if (t->n_lesions)
    memcpy(c->l + c->nl, t->lesions, t->n_lesions * sizeof *c->l);
  c->nl += t->n_lesions;
  if (t->name && !(r->t.name = tare_cohort_keep(c, t->name, strlen(t->name))))
    return tare_cohort_nomem(err);
  return RKIN_OK;
}

int rkin_tare_cohort_add(rkin_tare_cohort *c, const char *id, long row,
                         const rkin_tare_plan *plan, rkin_err *err)
{
  size_t n0, t0 = c ? c->nt : 0, l0 = c ? c->nl : 0, k;
  tare_entry *e;
  void *p;
  char num[32];
  int rc;
  if (!c || !plan)
    return rkin_err_set(err, RKIN_EINVAL, "tare cohort: cohort or plan "
                        "missing");
  if (plan->n_territories > RKIN_TARE_MAX_TERR || !plan->territories)
    return rkin_err_set(err, RKIN_ERANGE,
                        "tare cohort: %zu territories, 1 to %d supported",
                        plan->n_territories, RKIN_TARE_MAX_TERR);
  if (!(p = grow(c->e, &c->ecap, c->n + 1, sizeof *c->e))) return tare_cohort_nomem(err);
  c->e = p;
  n0 = c->n;
  for (k = 0; k < plan->n_territories; k++)
    if ((rc = add_territory(c, &plan->territories[k], err))) goto undo;
  e = &c->e[c->n];
  if (!id) {
    snprintf(num, sizeof num, "%zu", n0 + 1);
    id = num;
  }
  if (!(e->id = tare_cohort_keep(c, id, strlen(id)))) {
    rc = tare_cohort_nomem(err);
    goto undo;
  }
  e->row = row;
  e->src = c->src;
  e->plan = *plan;
  e->plan.territories = NULL;
  e->t0 = t0;
  e->nt = plan->n_territories;
  c->n++;
  return RKIN_OK;
undo:
  c->nt = t0;
  c->nl = l0;
  return rc;
}

int rkin_tare_cohort_get(const rkin_tare_cohort *c, size_t i,
                         rkin_tare_plan *plan,
                         rkin_tare_territory terr[RKIN_TARE_MAX_TERR],
                         rkin_err *err)
{
  const tare_entry *e;
  size_t k;
  if (!c || !plan || !terr || i >= c->n)
    return rkin_err_set(err, RKIN_ERANGE, "tare cohort: no patient %zu "
                        "(the cohort has %zu)", i + 1, c ? c->n : 0);
  e = &c->e[i];
  for (k = 0; k < e->nt; k++) {
    const tare_terr_rec *r = &c->t[e->t0 + k];
    terr[k] = r->t;
    terr[k].lesions = r->t.n_lesions ? c->l + r->l0 : NULL;
  }
  *plan = e->plan;
  plan->territories = terr;
  plan->n_territories = e->nt;
  return RKIN_OK;
}

int rkin_tare_cohort_plan(const rkin_tare_cohort *c, size_t i,
                          rkin_tare_result *res, rkin_err *err)
{
  rkin_tare_territory terr[RKIN_TARE_MAX_TERR];
  rkin_tare_plan p;
  const tare_entry *e;
  int rc;
  if ((rc = rkin_tare_cohort_get(c, i, &p, terr, err))) return rc;
  e = &c->e[i];
  if ((rc = rkin_tare_plan_run(&p, res, err))) {
    if (e->row > 0 && e->src)
      rkin_err_prefix(err, "patient '%s' (%s:%ld): ", e->id, e->src, e->row);
    else
      rkin_err_prefix(err, "patient '%s': ", e->id);
  }
  return rc;
}


int tare_cohort_reserve(rkin_tare_cohort *c, size_t n_pat, size_t n_terr,
                        size_t n_les, rkin_err *err)
{
  void *p;
  if (!(p = grow(c->e, &c->ecap, c->n + n_pat, sizeof *c->e)))
    return tare_cohort_nomem(err);
  c->e = p;
  if (!(p = grow(c->t, &c->tcap, c->nt + n_terr, sizeof *c->t)))
    return tare_cohort_nomem(err);
  c->t = p;
  if (!(p = grow(c->l, &c->lcap, c->nl + n_les, sizeof *c->l)))
    return tare_cohort_nomem(err);
  c->l = p;
  return RKIN_OK;
}
