/* uncert_marrow.c - red-marrow absorbed dose from blood samples and the
 * whole-body TIA, with its uncertainty by source (Hindorf et al., EANM
 * red-marrow dosimetry guidelines, EJNMMI 2010;37:1238; first-order
 * propagation as in Gear et al., EJNMMI 2018;45:2456). */
#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "dose/dosimetry.h"
#include "uncert/uncert.h"

enum { X_C = 0, X_R, X_M, X_WB, X_S1, X_S2, NX };

static const int x_src[NX] = {RKIN_UNC_BLOOD, RKIN_UNC_RMBLR,
                              RKIN_UNC_MARROW_MASS, RKIN_UNC_WHOLEBODY,
                              RKIN_UNC_SVALUE, RKIN_UNC_SVALUE};

/* y = {TIA_RM, D_self, D_cross, D_total} from x. */
static int eval(const rkin_nuclide *nuc, const rkin_unc_marrow *m,
                const double *x, double *y, rkin_err *err)
{
  double s, t_rm;
  int rc;
  t_rm = x[X_C] * x[X_R] * x[X_M] * 1000.0;
  if ((rc = rkin_dosimetry_s_led(nuc, x[X_M], "red marrow", &s, err)))
    return rc;
  y[0] = t_rm;
  y[1] = t_rm * s * x[X_S1];
  y[2] = m->tia_wb > 0.0 ? (x[X_WB] - t_rm) * m->s_cross * x[X_S2] : 0.0;
  y[3] = y[1] + y[2];
  return 0;
}

static int chk(double v, double u, int pos, const char *what, rkin_err *err)
{
  if (!isfinite(v) || (pos ? !(v > 0.0) : !(v >= 0.0)) || !isfinite(u) ||
      u < 0.0)
    return rkin_err_set(err, RKIN_EINVAL, "red marrow: %s %g +- %g, "
                        "expected %s and SD >= 0", what, v, u,
                        pos ? "> 0" : ">= 0");
  return 0;
}

int rkin_unc_marrow_dose(const rkin_unc_marrow *m,
                         rkin_unc_marrow_result *r, rkin_err *err)
{
  const rkin_nuclide *nuc;
  double x[NX], u[NX], y0[4], yp[4], ym[4], z, lv;
  rkin_unc_q *q[4];
  int i, k, rc;
  if (!m || !r)
    return rkin_err_set(err, RKIN_EINVAL, "red marrow: no input");
  if (!(nuc = rkin_nuclide_find(m->nuclide ? m->nuclide : "", err)))
    return err ? err->code : RKIN_ENOTFOUND;
  if ((rc = chk(m->c_tia_blood, m->u_c_tia_blood, 1,
                "blood TIA concentration (MBq h/mL)", err)) ||
      (rc = chk(m->rmblr, m->u_rmblr, 1, "RMBLR", err)) ||
      (rc = chk(m->m_rm_kg, m->u_m_rm_kg, 1, "red-marrow mass (kg)", err)) ||
      (rc = chk(m->tia_wb, m->u_tia_wb, 0, "whole-body TIA (MBq h)", err)) ||
      (rc = chk(m->s_cross, m->u_s_cross_rel, 0,
                "S(RM <- remainder) (Gy/(MBq h))", err)) ||
      (rc = chk(1.0, m->u_s_self_rel, 1, "self S value", err)))
    return rc;
  if (m->tia_wb > 0.0 && !(m->s_cross > 0.0))
    return rkin_err_set(err, RKIN_EINVAL, "red marrow: a whole-body TIA "
                        "needs S(RM <- remainder of body) > 0 for the "
                        "cross-dose");
  lv = m->level > 0.0 ? m->level : 0.95;
  if (!(lv < 1.0))
    return rkin_err_set(err, RKIN_EINVAL, "red marrow: level %g, expected "
                        "in (0, 1)", m->level);
  x[X_C] = m->c_tia_blood;   u[X_C] = m->u_c_tia_blood;
  x[X_R] = m->rmblr;         u[X_R] = m->u_rmblr;
  x[X_M] = m->m_rm_kg;       u[X_M] = m->u_m_rm_kg;
  x[X_WB] = m->tia_wb;       u[X_WB] = m->u_tia_wb;
  x[X_S1] = 1.0;             u[X_S1] = m->u_s_self_rel;
  x[X_S2] = 1.0;             u[X_S2] = m->tia_wb > 0.0 ? m->u_s_cross_rel : 0;
  if ((rc = eval(nuc, m, x, y0, err))) return rc;
  if (m->tia_wb > 0.0 && y0[2] < 0.0)
    return rkin_err_set(err, RKIN_ERANGE, "red marrow: the marrow's TIA "
                        "%g MBq h exceeds the whole body's %g MBq h (check "
                        "RMBLR, the marrow mass and the units)", y0[0],
                        m->tia_wb);
  q[0] = &r->tia_rm;
  q[1] = &r->self;
  q[2] = &r->cross;
  q[3] = &r->total;
  for (k = 0; k < 4; k++) {
    memset(q[k], 0, sizeof *q[k]);
    q[k]->value = y0[k];
  }
  /* the model is a polynomial in x except through S_LED(m) = c / m:
   * central differences with a relative step of 1e-6 */
  for (i = 0; i < NX; i++) {
    double h = 1e-6 * (x[i] != 0.0 ? fabs(x[i]) : 1.0), xi = x[i];
    if (u[i] == 0.0) continue;
    x[i] = xi + h;
    if ((rc = eval(nuc, m, x, yp, err))) return rc;
    x[i] = xi - h;
    if ((rc = eval(nuc, m, x, ym, err))) return rc;
    x[i] = xi;
    for (k = 0; k < 4; k++) {
      double dy = (yp[k] - ym[k]) / (2.0 * h) * u[i];
      q[k]->var[x_src[i]] += dy * dy;
    }
  }
  z = gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * lv);
  for (k = 0; k < 4; k++) {
    double t = 0.0;
    int s;
    for (s = 0; s < RKIN_UNC_NSRC; s++) t += q[k]->var[s];
    q[k]->u = sqrt(t);
    q[k]->lo = q[k]->value - z * q[k]->u;
    q[k]->hi = q[k]->value + z * q[k]->u;
  }
  return 0;
}
