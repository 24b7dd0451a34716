-- organdose.lua - "radiokin.organdose" (dsl/lua/organdose.lua), the
-- dose-rate outputs of the 177Lu population models: each output against
-- its defining formula evaluated by hand on the simulated states, and
-- every rejected argument.
local rk = require "radiokin"
local t = require "radiokin.tap"
local od = require "radiokin.organdose"

local E, E_p = 8.5e-5, 2.1e-5          -- J/(MBq h); any numbers serve
local m = rk.model {
  name = "organdose_test",
  states = { "B", "K", "R" },
  params = { k = 0.1, kr = 0.05, V1 = 5, RMBLR = 0.8, m_RM = 1.2,
             m_WB = 70, phi_WB = 0.3, m_K = 0.3 },
  ode = function(s, p)
    return { B = -(p.k + p.kr) * s.B, K = p.k * s.B, R = p.kr * s.B }
  end,
  outputs = od.outputs { states = { "B", "K", "R" }, organs = { K = "m_K" },
                         E = E, E_p = E_p },
}
t.is(table.concat(m.outputs, ","), "A_RM,D_K,D_RM",
     "outputs A_RM, D_K, D_RM (one per organ plus marrow)")
local r = m:simulate { doses = { { time = 0, amount = 100, to = "B" } },
                       times = { 1, 10 } }
for i, at in ipairs { "t = 1 h", "t = 10 h" } do
  local body = r.B[i] + r.K[i] + r.R[i]
  local marrow = r.B[i] / 5 * 0.8 * 1.2
  t.is(r.A_RM[i], marrow, 1e-12, "A_RM = B / V1 RMBLR m_RM at " .. at
       .. " (rel 1e-12)")
  t.is(r.D_K[i], r.K[i] * E / 0.3, 1e-12, "D_K = K E / m_K at " .. at
       .. " (rel 1e-12)")
  t.is(r.D_RM[i], marrow * E / 1.2 + body * E_p * 0.3 / 70, 1e-12,
       "D_RM = A_RM E / m_RM + body E_p phi_WB / m_WB at " .. at
       .. " (rel 1e-12)")
end

-- whole_body: the sum of the states as an output of its own
do
  local mw = rk.model {
    name = "organdose_wb",
    states = { "B", "K", "R" },
    params = { k = 0.1, kr = 0.05, V1 = 5, RMBLR = 0.8, m_RM = 1.2,
               m_WB = 70, phi_WB = 0.3, m_K = 0.3 },
    ode = function(s, p)
      return { B = -(p.k + p.kr) * s.B, K = p.k * s.B - 0.02 * s.K,
               R = p.kr * s.B }
    end,
    outputs = od.outputs { states = { "B", "K", "R" },
                           organs = { K = "m_K" }, E = E, E_p = E_p,
                           whole_body = "A_WB" },
  }
  t.is(table.concat(mw.outputs, ","), "A_RM,A_WB,D_K,D_RM",
       "whole_body = 'A_WB' adds the output A_WB")
  local rw = mw:simulate { doses = { { time = 0, amount = 100, to = "B" } },
                           times = { 1, 10 } }
  for i, at in ipairs { "t = 1 h", "t = 10 h" } do
    t.is(rw.A_WB[i], rw.B[i] + rw.K[i] + rw.R[i], 1e-12,
         "A_WB = B + K + R at " .. at .. " (rel 1e-12)")
  end
  t.ok(rw.A_WB[2] < 100, "... and falls as K is eliminated")
  t.raises(function() od.outputs { states = { "B" }, organs = {}, E = 1,
    E_p = 1, whole_body = "1x" } end, "field 'whole_body' must be an "
    .. "output name", "whole_body not a name")
end

-- marrow_image: the image-based red marrow, marrow uptake state plus the
-- blood-based share, with the same whole-body photon cross-dose
do
  local mi = rk.model {
    name = "organdose_marrow",
    states = { "B", "K", "M" },
    params = { k = 0.1, km = 0.02, kmo = 0.01, V1 = 5, RMBLR = 0.8,
               m_RM = 1.2, m_WB = 70, phi_WB = 0.3, m_K = 0.3 },
    ode = function(s, p)
      return { B = -(p.k + p.km) * s.B + p.kmo * s.M, K = p.k * s.B,
               M = p.km * s.B - p.kmo * s.M }
    end,
    outputs = od.outputs { states = { "B", "K", "M" },
                           organs = { K = "m_K" }, E = E, E_p = E_p,
                           marrow_image = "M" },
  }
  t.is(table.concat(mi.outputs, ","), "A_RM,A_RMI,D_K,D_RM,D_RMI",
       "marrow_image = 'M' adds A_RMI and D_RMI")
  local ri = mi:simulate { doses = { { time = 0, amount = 100, to = "B" } },
                           times = { 1, 10 } }
  for i, at in ipairs { "t = 1 h", "t = 10 h" } do
    local body = ri.B[i] + ri.K[i] + ri.M[i]
    local blood = ri.B[i] / 5 * 0.8 * 1.2
    t.is(ri.A_RMI[i], ri.M[i] + blood, 1e-12,
         "A_RMI = M + B / V1 RMBLR m_RM at " .. at .. " (rel 1e-12)")
    t.is(ri.D_RMI[i], (ri.M[i] + blood) * E / 1.2 + body * E_p * 0.3 / 70,
         1e-12, "D_RMI = A_RMI E / m_RM + body E_p phi_WB / m_WB at " .. at
         .. " (rel 1e-12)")
    t.is(ri.D_RM[i], blood * E / 1.2 + body * E_p * 0.3 / 70, 1e-12,
         "D_RM (blood-based) unchanged beside it at " .. at)
    t.ok(ri.D_RMI[i] > ri.D_RM[i], "image-based above blood-based with "
         .. "marrow uptake at " .. at)
  end
  t.raises(function() od.outputs { states = { "B" }, organs = {}, E = 1,
    E_p = 1, marrow_image = "M" } end, "field 'marrow_image' must name one "
    .. "of 'states'", "marrow_image not a state")
end

t.raises(function() od.outputs(nil) end, "expects a table",
         "no argument table")
t.raises(function() od.outputs { organs = {}, E = 1, E_p = 1 } end,
         "field 'states' must be a non-empty array", "states missing")
t.raises(function() od.outputs { states = { "B" }, E = 1, E_p = 1 } end,
         "field 'organs' must be a table", "organs missing")
t.raises(function() od.outputs { states = { "B" }, organs = {}, E = 1 } end,
         "field 'E_p' must be a number", "E_p missing")
t.done()
