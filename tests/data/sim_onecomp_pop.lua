-- One-compartment model with a population (30 % CV on k) for
-- scripts/simulate.lua --population: returns { model =, population = }.
local rk = require "radiokin"
local m = dofile((os.getenv("RADIOKIN_SRCDIR") or ".")
                 .. "/tests/data/sim_onecomp_model.lua")
return { model = m, population = rk.population { model = m, cv = { k = 0.3 } } }
