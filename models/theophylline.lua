-- theophylline.lua - one-compartment model with first-order absorption and
-- the population model Pinheiro & Bates fit to R's Theoph data (their
-- fm3Theo.nlme: random effects on log ka and log CL, diagonal omega,
-- additive residual error), for rk.popest and scripts/fit.lua.
--
-- Source: Pinheiro JC, Bates DM (2000), Mixed-Effects Models in S and
-- S-PLUS, Springer, section 6.4 (SSfol: lKe, lKa, lCl); the reference
-- fit is nlme 3.1 fm3Theo.nlme, method ML, on R's datasets::Theoph.
--
-- Dataset: tests/data/theoph_nm.csv (NONMEM layout: AMT mg into CMT 1 =
-- depot, DV mg/L observed in CMT 2, covariate WT kg). SSfol is written
-- per kg of body weight (dose in mg/kg); with the dose in mg the same
-- model has CL = exp(lCl) WT and V = exp(lCl - lKe) WT.
--
-- Returns the population model declaration (rk.popest); its model is
-- pm.model. Use: radiokin scripts/fit.lua models/theophylline.lua
-- tests/data/theoph_nm.csv
local rk = require "radiokin"

local m = rk.model {
  name = "theoph_1cpt",
  description = "one compartment, first-order absorption; amounts in mg, "
    .. "time in h, concentration mg/L",
  states = { "depot", "central" },
  params = { ka = rk.positive(1.5), cl = rk.positive(2.8),
             v = rk.positive(32) },
  ode = function(s, p)
    return {
      depot = -p.ka * s.depot,
      central = p.ka * s.depot - p.cl / p.v * s.central,
    }
  end,
  outputs = function(s, p) return { conc = s.central / p.v } end,
}

return rk.popest {
  name = "theophylline",
  model = m,
  observe = "conc",
  -- nlme's starting values (P&B 2000 p. 354)
  theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
  omega = { lKa = 0.2, lCl = 0.05 },         -- variances, diagonal
  individual = function(theta, eta, cov)
    local lcl = theta.lCl + eta.lCl
    return {
      ka = rk.exp(theta.lKa + eta.lKa),
      cl = rk.exp(lcl) * cov.WT,
      v = rk.exp(lcl - theta.lKe) * cov.WT,
    }
  end,
  error = { additive = 0.5 },                -- mg/L
  -- body weight (the Theoph data: 54.6-86.4 kg); a record outside the
  -- range is refused with its file, line and subject
  covariates = { WT = { type = "continuous", unit = "kg",
                        range = { 20, 250 } } },
}
