-- One-compartment model for scripts/simulate.lua's example and test:
-- amount A (mg), elimination k (1/h), volume V (L), output C = A / V.
local rk = require "radiokin"
return rk.model {
  name = "onecomp", states = { "A" }, params = { k = 0.1, V = 5 },
  ode = function(s, p) return { A = -p.k * s.A } end,
  outputs = function(s, p) return { C = s.A / p.V } end,
}
