-- tests/errmsg_solvenum.lua - numerical failures of the solver a script
-- reaches through m:simulate (engine/solve), provoked with models that
-- make them fail and their text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

-- A saw tooth: A decays at 10 /h from 100 and is refilled to 100 each
-- time it falls below 50, every ln 2 / 10 = 0.069 h: 200 stops come
-- before t = 14 h.
local m = rk.model { name = "saw", states = { "A" }, params = { k = 10 },
  ode = function(s, p) return { A = -p.k * s.A } end,
  events = { { name = "refill",
               trigger = function(s, p, t) return rk.lt(s.A, 50) end,
               assign = function(s, p, t) return { A = 100 } end } } }
t.raises(function()
  return m:simulate { t1 = 100, times = { 1, 50, 100 }, y0 = { A = 100 },
                      max_steps = 200 }
end, "saw:simulate: model 'saw': events or conditions stopped the "
  .. "integration more than max_steps = 200 times in one interval between "
  .. "doses, before t = 13.9", "an event retriggered past max_steps")
local ok, r = pcall(function()
  return m:simulate { t1 = 100, times = { 1, 50, 100 }, y0 = { A = 100 } }
end)
t.ok(ok, "... with the default max_steps the same run goes through")
t.done()
