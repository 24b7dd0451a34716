/* saem.h - population estimation by SAEM (stochastic approximation EM;
 * Delyon, Lavielle & Moulines 1999, Ann Stat 27:94; with MCMC sampling of
 * the individual parameters, Kuhn & Lavielle 2005, Comput Stat Data Anal
 * 49:1020), the objective by importance sampling afterwards, standard
 * errors by linearisation, and optional chaining into FOCE-I.
 *
 * Same model and data as rkin_popfit_run (popest.h). Each iteration:
 *  1. MCMC (Metropolis-Hastings) on every subject's eta, per chain: n_prior
 *     proposals from the prior N(0, Omega) (accepted on the likelihood
 *     ratio alone), n_comp sweeps of one-component random walks and
 *     n_block random walks of the whole vector (scaled by L, Omega = LL');
 *     the random-walk scales adapt towards 40 % acceptance.
 *  2. Stochastic approximation of the sufficient statistics with step 1
 *     in the first `burn` iterations (exploration) and 1/k in the next
 *     `iter` (smoothing; k = 1, 2, ...).
 *  3. M-step. A theta is mu-referenced when shifting it changes the
 *     individual parameters exactly as shifting one eta does (detected
 *     numerically from the parameter builder at set-up): such thetas and
 *     Omega are updated in closed form from the statistics of u = theta +
 *     eta (mean, and covariance within Omega's blocks; FIX kept). The
 *     SD of an additive or proportional (one-parameter) error model
 *     without censored records is closed form too. Other thetas and
 *     sigma parameters move by the same step towards a target from the
 *     complete-data likelihood at the current samples: for thetas one
 *     Newton step (derivatives by central differences; a stochastic
 *     Newton-Raphson whose fixed point is the score equation of the
 *     marginal likelihood), else, and when that step is not usable, its
 *     maximiser by NLopt (as nlmixr2's SAEM does for such parameters).
 *     During the first half of the exploration variances fall
 *     by at most 5 % per iteration (simulated annealing, Lavielle 2014,
 *     Mixed Effects Models for the Population Approach, ch. 9).
 * Between-occasion variability (popiov.c): a subject's chain state is its
 * etas followed by one copy of the occasion etas per further occasion,
 * all moved by the three kernels under blockdiag(Omega, Omega_iov, ...);
 * occasion etas have mean 0 (never mu-referenced) and their variance is
 * the mean over all (subject, occasion) pairs of their sampled squares.
 * Every subject and chain draws from its own GSL random stream seeded by
 * (seed, subject index, chain), so a run gives the same numbers for any
 * thread count.
 *
 * Afterwards: EBEs and diagnostics at the estimates (a FOCE-I pass), the
 * OFV by importance sampling (NONMEM's IMP / Monolix): per subject
 * imp_samples draws from a multivariate t (imp_df degrees of freedom; 0:
 * normal) centred on the EBE with the FOCE-I covariance (I + L'AL)^-1 of
 * the whitened eta, ofv_i = -2 log mean(weights), its Monte Carlo SE by
 * the delta method (2 SD(w) / (sqrt(M) mean(w))), summed over subjects
 * in quadrature. The covariance step is the FOCE-I one (R, S, sandwich)
 * at the SAEM estimates (linearisation), or with se = RKIN_SAEM_SE_SA the
 * inverse of the observed Fisher information by stochastic approximation
 * (Louis 1982, J R Stat Soc B 44:226; Kuhn & Lavielle 2005 sec. 4, as
 * Monolix): I = sum_i (-E[d2 l_i] - E[dl_i dl_i'] + E[dl_i] E[dl_i]'),
 * l_i subject i's complete-data log-likelihood, the expectations means
 * over se_iter further MCMC iterations of every chain at the estimates
 * (with IOV l_i includes the occasion etas of every further occasion).
 * Linearisation is the default: it needs no more sampling and is what
 * FOCE-I reports; SA does not linearise the model in eta, so it stays
 * right where FOCE-I's approximation is poor (sparse data, strong
 * nonlinearity), at the cost of Monte Carlo error.
 *
 * Over several processes (popfit opts gather): each works its subjects'
 * chains and importance samples; after every pass the per-subject
 * results (chains, predictions, acceptance counts, objective terms) are
 * gathered in subject order, so every process computes the same M-step
 * from the same numbers: the same results for any process count. */
#ifndef RKIN_SAEM_H
#define RKIN_SAEM_H

#include "pop/popest.h"

typedef struct {
  int burn;             /* exploratory iterations, step 1 (default 300) */
  int iter;             /* smoothing iterations, step 1/k (default 200) */
  int chains;           /* MCMC chains per subject (default 1) */
  unsigned long seed;   /* default 1 */
  int n_prior, n_comp, n_block;  /* kernel moves per iteration (2, 2, 2) */
  int imp_samples;      /* importance samples per subject (default 1000;
                           0: no IMP objective, ofv is FOCE-I's) */
  int imp_df;           /* t proposal's degrees of freedom (default 5;
                           0: normal) */
  /* After SAEM: -1 (default) stop; else a method of rkin_pop_method
   * (FOCE-I, ...) run from the SAEM estimates, whose fit is returned. */
  int then;
  /* Standard errors (with popfit opts covariance, then < 0):
   * RKIN_SAEM_SE_LIN (default) the FOCE-I covariance step at the SAEM
   * estimates (linearisation); RKIN_SAEM_SE_SA the observed Fisher
   * information by stochastic approximation (Louis' identity averaged
   * over se_iter more MCMC iterations at the estimates; default 300). */
  int se;
  int se_iter;
} rkin_saem_opts;

enum { RKIN_SAEM_SE_LIN = 0, RKIN_SAEM_SE_SA = 1 };

void rkin_saem_opts_default(rkin_saem_opts *o);

typedef struct {
  /* The SAEM stage (also when a method ran after it). */
  double *theta, *omega, *sigma;   /* estimates (n_theta, q x q, n_sigma) */
  double ofv_imp, ofv_imp_se;      /* NaN without importance sampling */
  double ofv_focei;                /* FOCE-I objective at the estimates */
  double *ofv_imp_i;               /* n_subj */
  int n_iter;                      /* burn + iter */
  double accept_prior, accept_comp, accept_block; /* last iteration */
  /* Parameters after each iteration: n_iter rows of n_par = n_theta +
   * q x q + n_sigma (theta, Omega row-major, sigma). */
  size_t n_par;
  double *trace;
  int *mu_ref;                     /* n_eta: the theta each eta is
                                      mu-referenced to, or -1 */
} rkin_saem_info;

/* SAEM fit; *fit as rkin_popfit_run fills it (estimates, EBEs, tables,
 * covariance step when opts->covariance) with fit->ofv the IMP objective
 * when imp_samples > 0 (else the FOCE-I one at the estimates). With
 * so->then >= 0 the chained method's fit is returned in *fit and the
 * SAEM stage in *info. opts: as for rkin_popfit_run (method ignored);
 * so NULL: defaults; info may be NULL, else release it with
 * rkin_saem_info_free. Returns as rkin_popfit_run. */
int rkin_popfit_saem(const rkin_popmodel *pm, const rkin_data *data,
                     const rkin_popfit_opts *opts, const rkin_saem_opts *so,
                     rkin_popfit *fit, rkin_saem_info *info, rkin_err *err);
void rkin_saem_info_free(rkin_saem_info *info);

#endif
