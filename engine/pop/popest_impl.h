/* popest_impl.h - internal: the shared state of a population fit, the
 * per-thread workspace and the per-subject computations (popsubj.c) used
 * by the outer optimisation (popest.c) and the covariance step
 * (popcov.c). Not installed. */
#ifndef RKIN_POPEST_IMPL_H
#define RKIN_POPEST_IMPL_H

#include <nlopt.h>
#include <stddef.h>

#include "pop/datasim.h"
#include "pop/popest.h"

#define POP_MAX_ETA 64
/* EBEs are searched within this many SDs of Omega (whitened scale): far
 * beyond any plausible subject, near enough to keep exp() finite. */
#define POP_Z_MAX 12.0

/* What a pass over the subjects computes. */
typedef enum {
  POP_TASK_OFV,     /* each subject's OFV term (EBEs first for FOCE-I) */
  POP_TASK_DIAG     /* EBEs, OFV term and the per-observation diagnostics */
} pop_task;

typedef struct pop pop;

/* popres.c: an endpoint as the fit uses it. */
typedef struct {
  int output;                 /* as rkin_pop_endpoint */
  rkin_res_model res;
  int log_scale;
  size_t sig_off, n_sig;      /* its parameters in p->sigma */
  int scale_col;              /* solution column of the SD's variable, or
                                 -1: the prediction */
} pop_ep;


/* One thread's scratch: a solver, buffers and the inner optimiser. */
typedef struct {
  pop *p;
  rkin_solver *solver;
  nlopt_opt inner;      /* LBFGS on the EBE, with FD gradients */
  nlopt_opt inner_df;   /* BOBYQA: fallback when LBFGS fails */
  double *pvec;       /* theta, eta, cov: the psi tape's parameters */
  double *twork;      /* psi tape scratch */
  double *psi;
  double *sol;        /* max_obs x (n_states or n_outputs) */
  double *f, *fp, *fm;/* predictions, natural scale */
  double *f0;         /* predictions at eta = 0 (methods without
                         interaction: the residual variance's) */
  int noint;          /* 1: residual variance at eta = 0 (FOCE, Laplace) */
  double *G;          /* max_obs x n_eta, df/deta (natural scale) */
  double *eta, *etap; /* current eta, perturbed eta */
  double *m1, *m2, *v1, *v2; /* n_eta^2 / max_obs^2 / max_obs scratch */
  double *C;          /* max_obs^2 */
  /* Analytic df/deta (exact path): forward sensitivities of the solver
   * along dpsi/deta. */
  int sens;           /* 1: try them (else finite differences) */
  /* subject solutions without / with sensitivities (rkin_popfit) */
  unsigned long n_pred, n_pred_sens;
  /* inner searches ended by the Newton search, those it handed to
   * LBFGS, and those LBFGS handed to BOBYQA (popsubj.c inner_search) */
  unsigned long n_newton, n_newton_fail, n_bobyqa;
  /* Newton searches ended on the solver's noise floor, and secant
   * updates taken from the step such a search ended on (0: skipped;
   * counted so that a test sees it) */
  unsigned long n_floor, n_floor_sr1;
  double rtol;        /* relative error of the predictions (popsubj.c) */
  double *S_in, *S_best; /* n_ei^2: a subject's secant correction at the
                            start of its EBE search, and after the start
                            that found the mode kept */
  double *dpsi;       /* n_eta x n_psi */
  double *psi2;       /* n_psi scratch; n_psi (1 + n_eta) with tape_d */
  double *dsol;       /* max_obs x n_sol x n_eta */
  /* f and G in w->f / w->G belong to (last_subj, last_eta) when last_ok:
   * the EBE's final point needs no new solve. */
  int last_ok;
  size_t last_subj;
  double *last_eta;
  /* Time-varying covariates: the record whose covariates pop_psi takes
   * (-1: the subject's first values), psi (and dpsi/deta) at every record
   * of a subject whose covariates change, and the solver's pieces. */
  long cov_rec;
  double *rpar, *rdir;
  size_t cap_rpar, cap_rdir;
  rkin_data_pwbuf pw;
  long slot;          /* IOV: occasion slot pop_psi takes (-1: the one
                         of record cov_rec, or of the first record) */
  double *fo;         /* n: one occasion's predictions (predictor) */
  double *fl, *Gl1, *Gl2; /* Laplace: f, G at the points beside the EBE */
  size_t subj;        /* subject being worked on (inner objective) */
  int fail;           /* inner objective met an error */
  rkin_err ferr;
} pop_ws;

struct pop {
  const rkin_popmodel *pm;
  const rkin_data *data;
  rkin_popfit_opts opts;
  rkin_tape *tape;            /* psi from expressions, or NULL */
  rkin_tape *tape_d;          /* psi then dpsi/deta (n_psi x n_eta), from
                                 psi_deta, or NULL */
  size_t n_subj, n_obs, n_theta, n_eta, n_sigma, n_psi, n_cov, n_est;
  size_t max_obs, n_sol;
  int *cov_idx;               /* dataset covariate per popmodel covariate */
  size_t *obs_off;            /* first observation of each subject */
  int *tv;                    /* per subject: 1 when a covariate the model
                                 uses changes between its records */
  double eta_step;
  /* Current parameters of a pass. */
  double *theta, *L, *sigma;  /* L: Cholesky factor of Omega, row-major */
  /* Per subject: EBEs (also the next pass's starting points), results. */
  double *eta_hat, *ofv_i;
  int *status;
  /* Per subject, from its last EBE search: the number of different local
   * modes the starts ended in, and how much higher the worst one's inner
   * objective was than the mode kept (0 when one mode). */
  int *ebe_modes;
  double *ebe_dofv;
  /* Per subject (n_ei x n_ei, eta scale): the secant estimate of the
   * inner objective's curvature beyond its Gauss-Newton part, kept from
   * one Newton search to the next (popsubj.c newton_search). */
  double *ebe_S;
  unsigned long n_pass;       /* passes run so far */
  int ebe_track;              /* 1 during the outer search (see ebe()) */
  /* During the covariance step's passes (popcov.c): the mode count of
   * each subject's scan at the estimates (the final DIAG pass), so that a
   * subject with one mode there is tracked from its EBE (see ebe());
   * NULL otherwise. */
  const int *cov_modes;
  /* The parameter vector (popparam.c): fixed Omega elements (q x q), the
   * initial SDs and correlation angles of Omega, scratch. */
  unsigned char *om_fix;
  double *sd0, *ang0, *ang_work;
  double *sigma0;            /* n_sigma initial values (popparam.c) */
  rkin_err *serr;
  /* Per observation (POP_TASK_DIAG). */
  double *pred, *ipred, *res, *iwres, *cwres, *psi_i;
  /* Endpoints and observations (popres.c). */
  size_t n_ep;
  pop_ep *ep;
  int *sig_pos;               /* n_sigma: 1 for an SD (log transform) */
  int *obs_ep;                /* n_obs: endpoint of each observation */
  unsigned char *obs_kind;    /* n_obs: POP_OBS_* */
  size_t n_lik;               /* Gaussian observations (N log 2 pi) */
  /* 1: some endpoint's SD scales with another output: predictions carry
   * it as n_obs more rows (f[n + j], G[(n + j) q ...]) */
  int has_scale;
  /* Subjects this process works (all of them unless opts.gather), and
   * the gathers' buffer (popdist.c). */
  size_t subj_lo, subj_hi;
  void *dist_buf;
  /* IOV (popiov.c). n_ei: etas of a subject as searched, n_eta + (n_occ
   * - 1) n_iov: the user's etas (occasion etas at its first occasion),
   * then the occasion etas of each further occasion; Li its n_ei x n_ei
   * Cholesky factor (blockdiag(L, L_iov, L_iov, ...); Li == L without
   * IOV), rebuilt from L by pop_pass. */
  size_t n_ei, n_iov, n_occ;
  double *Li;
  int *iov_idx;               /* n_eta: place among the occasion etas, -1 */
  size_t *iov_eta;            /* n_iov: their indices */
  size_t *occ_n;              /* n_subj: occasions of each subject */
  double *occ_val;            /* n_subj x n_occ: its OCC values, sorted */
  size_t *rec_off;            /* n_subj: first record in rec_slot */
  int *rec_slot;              /* every record's occasion slot */
  int *obs_slot;              /* n_obs: every observation's slot */
  /* Threads. */
  int n_threads;
  pop_ws *ws;
  struct pop_pool *pool;
};

/* How an observation enters the likelihood. */
enum { POP_OBS_NORMAL, POP_OBS_CENS, POP_OBS_DROP };

/* Endpoints, sigma layout and every observation's endpoint and kind
 * (after map_data): p->n_ep, ep, n_sigma, sig_pos, obs_ep, obs_kind,
 * n_lik. Checks the error models, their initial sigma and the records. */
int pop_res_setup(pop *p, rkin_err *err);
/* SD of an error model at s and its first two s-derivatives (popres.c). */
int pop_res_sd(rkin_res_model res, const double *sig, double s, double *sd,
               double *sd_s, double *sd_ss);
void pop_res_free(pop *p);
/* Observation j of subject s with prediction f at p's current sigma:
 * its contribution (popres.h); an error names the subject and line. */
int pop_obs(const pop *p, size_t s, size_t j, double f, double sv,
            rkin_res_obs *o, rkin_err *err);
/* Column of the solver's output (or state) array observation j of
 * subject s reads; pop_scale_col: the column of its SD's variable (its
 * own column when the SD scales with the prediction). */
size_t pop_obs_col(const pop *p, size_t s, size_t j);
size_t pop_scale_col(const pop *p, size_t s, size_t j);
/* Name of sigma parameter k: "SIGMA_ADD", "SIGMA_PROP(2)" (endpoint 2). */
void pop_sigma_name(const pop *p, size_t k, char *buf, size_t n);

int pop_ws_init(pop *p, pop_ws *w, rkin_err *err);
void pop_ws_free(pop_ws *w);

/* Works subject s for the pass `task` at p's current parameters; fills
 * p->ofv_i[s] (and the diagnostics) or p->status[s] / p->serr[s]. */
void pop_subject(pop_ws *w, size_t s, pop_task task);

/* Predictions of subject s at eta into f (natural scale; sj->n_obs, and
 * as many more SD variables when p->has_scale), checked finite
 * (popsim.c, saem.c). */
int pop_predict(pop_ws *w, size_t s, const double *eta, double *f,
                rkin_err *err);

/* Individual parameters of subject s at eta into w->psi. */
int pop_psi(pop_ws *w, size_t s, const double *eta, rkin_err *err);
/* The same with G = df/deta (rows x n_eta); for SAEM (saem.c). */
int pop_predict_grad(pop_ws *w, size_t s, const double *eta, double *f,
                     double *G, rkin_err *err);

/* The worker threads of p (p->n_threads - 1 of them; the caller's thread
 * is the first worker), started once per fit (poppass.c). pop_pool_start
 * lowers p->n_threads to the threads it could start. */
int pop_pool_start(pop *p, rkin_err *err);
void pop_pool_stop(pop *p);

/* Runs a pass over all subjects (threads) at (theta, L, sigma) already
 * stored in p; sums the OFV terms in subject order, so the result does
 * not depend on the number of threads. 0, or the first failing subject's
 * error (lowest index). */
int pop_pass(pop *p, pop_task task, double *ofv, rkin_err *err);

/* Several processes (opts.gather, popdist.c): after a pass, every
 * process's subjects' results (OFV terms, status, EBE modes; the failing
 * subject's message; with DIAG the EBEs, individual parameters and
 * per-observation diagnostics) copied to every process. pop_agree: rc
 * agreed over the processes (rc itself with one process). */
int pop_dist_setup(pop *p, rkin_err *err);
int pop_dist_gather(pop *p, pop_task task, rkin_err *err);
int pop_agree(const pop *p, int rc, rkin_err *err);

/* Omega (n x n) -> its Cholesky factor L (row-major lower); RKIN_EINVAL
 * naming `what` when not positive definite. */
int pop_cholesky(const double *omega, size_t n, double *L, const char *what,
                 rkin_err *err);

/* Set-up and results shared by the fit (popest.c) and the evaluation at
 * given parameters (popeval.c). pop_new checks the specification, maps
 * the data and starts the threads; pop_free releases it all. */
pop *pop_new(const rkin_popmodel *pm, const rkin_data *data,
             const rkin_popfit_opts *opts, rkin_err *err);
void pop_free(pop *p);
/* The start shared by rkin_popfit_run and rkin_popfit_evaluate: *fit
 * cleared (covariance step "not run"), the fit set up (pop_new) and
 * fit's arrays allocated; on failure fit->status / fit->err say why,
 * *out is NULL and the code is returned (who names the caller for a
 * NULL fit). */
int pop_fit_begin(const rkin_popmodel *pm, const rkin_data *data,
                  const rkin_popfit_opts *opts, rkin_popfit *fit,
                  const char *who, pop **out, rkin_err *err);
/* Allocates fit's arrays for p's sizes (RKIN_ENOMEM on failure). */
int pop_alloc_fit(const pop *p, rkin_popfit *fit);
/* Omega = L L' from p's current factor. */
void pop_omega_of(const pop *p, double *omega);
/* Adds every thread's solution and EBE-search counts to fit's. */
void pop_fill_counts(const pop *p, rkin_popfit *fit);
/* Copies p's parameters, EBEs and the last DIAG pass into fit. */
void pop_fill_fit(const pop *p, rkin_popfit *fit, double ofv);
/* Sets p's current parameters on the natural scale (checked). */
int pop_set_natural(pop *p, const double *theta, const double *omega,
                    const double *sigma, rkin_err *err);

/* The parameter vector (popparam.c). pop_param_setup checks the block
 * pattern and FIX flags against omega_init (its factor already in p->L)
 * and sets p->n_est, the estimated parameters. */
int pop_param_setup(pop *p, rkin_err *err);
void pop_param_free(pop *p);
int pop_same_block(const pop *p, size_t a, size_t b);
/* Element (a, b), b <= a, of Omega is estimated (same block, not fixed). */
int pop_omega_free(const pop *p, size_t a, size_t b);
/* The outer optimiser's start x, bounds lo / hi (p->n_est each) from the
 * initial values; scale: |theta0| (1 when 0). Returns the count. */
size_t pop_x_setup(const pop *p, const double *scale, double *x, double *lo,
                   double *hi);
/* Sets p's theta, L and sigma from x (fixed ones: initial values). */
void pop_x_apply(pop *p, const double *scale, const double *x);
/* Estimates at a boundary (a variance tending to 0, a correlation to
 * +-1): their count, and a message naming them in *msg when any. */
int pop_boundary(const pop *p, const double *omega, rkin_err *msg);

/* IOV (popiov.c). pop_iov_setup (after map_data): occasions of every
 * subject and record, n_ei, Li; checks the OCC column and the blocks.
 * pop_iov_expand: Li from L. The user's etas (n_eta) at the occasion w
 * works on from a subject's n_ei; the index among the n_ei of user eta u
 * there; a record's slot. pop_iov_fill: fit's IOV fields. */
int pop_iov_setup(pop *p, rkin_err *err);
void pop_iov_free(pop *p);
void pop_iov_expand(pop *p);
size_t pop_iov_slot(const pop_ws *w, size_t s);
void pop_iov_user_eta(const pop_ws *w, size_t s, const double *eta,
                      double *ue);
size_t pop_iov_int(const pop_ws *w, size_t s, size_t u);
int pop_iov_rec_slot(const pop *p, size_t s, size_t r);
int pop_iov_alloc_fit(const pop *p, rkin_popfit *fit);
void pop_iov_fill(const pop *p, rkin_popfit *fit);

/* The covariance step at the estimates in fit (popcov.c). */
int pop_covariance(pop *p, rkin_popfit *fit, rkin_err *err);
/* The same fields from a given Fisher information (n_est^2, the
 * covariance step's parameters and order): cov = info^-1 (SAEM's
 * stochastic approximation); R, S and the sandwich are not computed. */
int pop_cov_from_info(pop *p, rkin_popfit *fit, const double *info,
                      rkin_err *err);

#endif
