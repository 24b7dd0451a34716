-- lu177_6c.lua - six-compartment PBPK model of a 177Lu radiopharmaceutical
-- (e.g. 177Lu-DOTATATE): plasma P, interstitium I, kidney K, liver L,
-- tumour T, rest of body R; renal excretion kU from plasma.
--
-- Source: a synthetic benchmark model specified by the radiokin developers
-- (docs/sources.md, "The six-compartment benchmark model"; independent C,
-- R and Python implementations of the same equations give the test
-- references). States are activities in MBq, time in h,
-- rate constants in 1/h. Physical decay of 177Lu (T1/2 = 6.647 d, lambda =
-- ln 2 / 159.528 h = 0.00434498759189575 /h) is added to every state by the
-- engine because nuclide = "Lu-177", so the ode below is biological only.
--
-- Typical values (population medians):
--
--   kPI  kIP  kPK   kKP   kPL   kLP   kPT   kTP   kPR  kRP   kU
--   0.60 0.40 0.030 0.012 0.040 0.015 0.030 0.004 0.15 0.030 0.50
--
-- Between-patient variability in the benchmark cohort: log-normal, 30 % CV on
-- every rate constant (omega = sqrt(ln(1 + 0.3^2))); that belongs to the
-- cohort script, not to the model.
--
-- Use: local m = dofile(path); m:simulate{doses = {{time = 0,
-- amount = 7400, to = "P"}}, times = rk.seq(0, 1344, 24), tia = {"K"}}
local rk = require "radiokin"

return rk.model {
  name = "lu177_6c",
  nuclide = "Lu-177",
  source = "radiokin six-compartment benchmark model (docs/sources.md)",
  description = "six-compartment 177Lu PBPK model (P I K L T R), "
    .. "activities in MBq, rates in 1/h",
  states = { "P", "I", "K", "L", "T", "R" },
  positive = true,   -- every rate constant must be > 0
  params = {
    kPI = 0.60, kIP = 0.40,     -- plasma <-> interstitium
    kPK = 0.030, kKP = 0.012,   -- plasma <-> kidney
    kPL = 0.040, kLP = 0.015,   -- plasma <-> liver
    kPT = 0.030, kTP = 0.004,   -- plasma <-> tumour
    kPR = 0.15, kRP = 0.030,    -- plasma <-> rest of body
    kU = 0.50,                  -- renal excretion from plasma
  },
  ode = function(s, p)
    return {
      P = -(p.kPI + p.kPK + p.kPL + p.kPT + p.kPR + p.kU) * s.P
        + p.kIP * s.I + p.kKP * s.K + p.kLP * s.L + p.kTP * s.T
        + p.kRP * s.R,
      I = p.kPI * s.P - p.kIP * s.I,
      K = p.kPK * s.P - p.kKP * s.K,
      L = p.kPL * s.P - p.kLP * s.L,
      T = p.kPT * s.P - p.kTP * s.T,
      R = p.kPR * s.P - p.kRP * s.R,
    }
  end,
  -- whole-body activity still in the patient (MBq)
  outputs = function(s)
    return { body = s.P + s.I + s.K + s.L + s.T + s.R }
  end,
}
