-- theophylline.lua - the classic population PK example: R's Theoph data
-- (12 subjects, single oral dose, 132 concentrations) fitted by FOCE-I
-- with the one-compartment first-order-absorption model of
-- models/theophylline.lua (random effects on log ka and log CL), printed
-- beside nlme's maximum-likelihood fit of the same model.
--
--   radiokin examples/theophylline.lua [--method fo] [--out DIR]
--
-- Reference: nlme 3.1, fm3Theo.nlme (Pinheiro & Bates 2000, section 6.4),
-- method "ML", run in R by the developers (estimates copied below).
local rk = require "radiokin"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local method, out = "focei", nil
local args = arg or {}
for i = 1, #args do
  if args[i] == "--method" then method = args[i + 1] end
  if args[i] == "--out" then out = args[i + 1] end
end

local pm = dofile(src .. "/models/theophylline.lua")
local r = pm:fit(src .. "/tests/data/theoph_nm.csv", { method = method })

local nlme = {
  lKe = -2.454704, lKa = 0.465736, lCl = -3.227223,
  sd_lKa = 0.643575, sd_lCl = 0.166928, sigma = 0.709254,
  m2ll = 2 * 177.0214,
}
local se = {}
for _, p in ipairs(r.params) do se[p.name] = p.se end

print(("Theophylline, %s (%s; %d evaluations)"):format(r.method,
  r.converged and "converged" or r.message, r.n_eval))
print(("%-10s %12s %10s %12s %10s"):format("", "radiokin", "SE",
  "nlme (ML)", "diff"))
local function row(name, ours, ref, s)
  print(("%-10s %12.5f %10s %12.5f %10.5f"):format(name, ours,
    s and ("%.4f"):format(s) or "", ref, ours - ref))
end
row("lKe", r.theta.lKe, nlme.lKe, se.lKe)
row("lKa", r.theta.lKa, nlme.lKa, se.lKa)
row("lCl", r.theta.lCl, nlme.lCl, se.lCl)
row("SD(lKa)", r.omega_sd.lKa, nlme.sd_lKa)
row("SD(lCl)", r.omega_sd.lCl, nlme.sd_lCl)
row("sigma", r.sigma.additive, nlme.sigma, se.SIGMA_ADD)
row("-2LL", r.m2ll, nlme.m2ll)
print(([[

Why the two differ slightly: nlme maximises Lindstrom & Bates' (1990)
linear mixed-effects approximation, alternating between the conditional
modes of the random effects and a fit with their derivatives held fixed
there; FOCE-I minimises the Laplace objective with the first-order
(Gauss-Newton) Hessian directly, letting the EBEs and their derivatives
move with the parameters. For an additive error the two objectives agree
at a given point (radiokin's -2LL at nlme's estimates is within 0.01 of
nlme's), but their minima differ by a small fraction of a standard error
(lKa by about 0.1 SE here) and -2LL by about 0.06. AIC %.2f, BIC %.2f.]])
  :format(r.aic, r.bic))
if out then
  r:write_csv(out)
  print("written: " .. out .. "/parameters.csv, ebe.csv, table.csv")
end
