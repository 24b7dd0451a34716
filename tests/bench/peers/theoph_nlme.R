# theoph_nlme.R - the R nlme peer of bench_popfit's Theophylline fit: the
# same data (tests/data/theoph_raw.csv, datasets::Theoph, 12 subjects, 132
# concentrations), the same model (nlme's first-order-absorption SSfol with
# fixed lKe, lKa, lCl, random lKa and lCl with a diagonal covariance),
# maximum likelihood, the same initial
# fixed effects as radiokin's (-2.4, 0.45, -3.2). nlme's default fit
# includes its approximate covariance of the variance parameters (apVar).
# One warm-up fit, then REPS timed ones (proc.time: elapsed, and CPU as
# user + system; the fit only, not the reading of the data or the loading
# of nlme).
#
#   Rscript theoph_nlme.R THEOPH_RAW_CSV [REPS]
# prints "-2LL <value> ..." and a TIMING line with the median time.
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: theoph_nlme.R THEOPH_RAW_CSV [REPS]")
reps <- if (length(args) > 1) as.integer(args[2]) else 11L
if (is.na(reps) || reps < 1) stop("REPS must be a positive integer")
suppressPackageStartupMessages(library(nlme))
raw <- read.csv(args[1])
for (col in c("Subject", "Wt", "Dose", "Time", "conc"))
  if (!col %in% names(raw)) stop(sprintf("%s: no column %s", args[1], col))
d <- groupedData(conc ~ Time | Subject, data = raw)
fit_once <- function()
  nlme(conc ~ SSfol(Dose, Time, lKe, lKa, lCl), data = d,
       fixed = lKe + lKa + lCl ~ 1, random = pdDiag(lKa + lCl ~ 1),
       start = c(lKe = -2.4, lKa = 0.45, lCl = -3.2), method = "ML")
f <- fit_once()
times <- cpu <- numeric(reps)
for (r in seq_len(reps)) {
  t0 <- proc.time()
  f <- fit_once()
  dt <- proc.time() - t0
  times[r] <- dt[["elapsed"]]
  cpu[r] <- dt[["user.self"]] + dt[["sys.self"]]
}
fe <- fixef(f)
vc <- as.numeric(VarCorr(f)[, "Variance"])
cat(sprintf("-2LL %.4f  lKe %.4f lKa %.4f lCl %.4f  omega %.4f %.4f  sigma %.4f\n",
            -2 * as.numeric(logLik(f)), fe[["lKe"]], fe[["lKa"]], fe[["lCl"]],
            vc[1], vc[2], sqrt(vc[3])))
cat(sprintf("TIMING theoph_nlme reps=%d median_s=%.4f min_s=%.4f cpu_median_s=%.4f\n",
            reps, median(times), min(times), median(cpu)))
