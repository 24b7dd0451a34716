-- tests/errmsg_sbml.lua - error messages of the SBML bindings and of SBML
-- writing (dsl/l_sbml.c, engine/sbml/sbml_export.c), provoked one by one
-- and their text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local tmp = t.scratch()
local m = rk.model {
  name = "w1", states = { "A" }, params = { k = 0.1, f = 0.5 },
  ode = function(s, p) return { A = -p.k * s.A } end,
  bioav = function(p) return { A = p.f } end,
}
t.raises(function() return m:write_sbml(tmp .. "/w1.xml") end,
  "model 'w1': dose modifiers (bioav, lag, rate, duration) have no SBML "
  .. "form", "a model with bioavailability written as SBML")
t.ok(not t.read_file(tmp .. "/w1.xml"), "... nothing written")
local plain = rk.model {
  name = "w2", states = { "A" }, params = { k = 0.1 },
  ode = function(s, p) return { A = -p.k * s.A } end,
}
local path = tmp .. "/w2.xml"
plain:write_sbml(path)
t.raises(function() return rk.sbml.load(path, 5) end,
  "rk.sbml.load: options must be a table (got 5", "load options not a table")
t.done()
