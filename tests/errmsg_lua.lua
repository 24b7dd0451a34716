-- tests/errmsg_lua.lua - error messages of the Lua prelude's helpers
-- (dsl/lua/radiokin.lua rk.csv.read, dsl/lua/organdose.lua) and of
-- rk.tare.plan's lesion and territory lists (dsl/l_tare.c), provoked one
-- by one and their text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"
local od = require "radiokin.organdose"

local tmp = t.scratch()
local csv = t.write_file(tmp .. "/a.csv", "x,y\n1,2\n")
t.raises(function() return rk.csv.read(csv, { numeric = { "z" } }) end,
  "rk.csv.read: " .. csv .. " has no column 'z'", "a numeric column that "
  .. "is not there")
t.raises(function() return od.outputs(5) end,
  "radiokin.organdose.outputs: expects a table {states=, organs=, E=, E_p=} "
  .. "(got number)", "organdose: not a table")
t.raises(function() return od.outputs { states = { "B" }, organs = {},
                                        E = "x", E_p = 1 } end,
  "radiokin.organdose.outputs: field 'E' must be a number (J/(MBq h)), got "
  .. "string", "organdose: E as text")
local function plan(o)
  local a = { product = "SIR-Spheres", cf = 49.67, mass_kg = 1.5, lsf = 0.1,
              lesions = { { mass_kg = 0.3, tn = 4 } }, mode = "tumour",
              target_gy = 120 }
  for k, v in pairs(o) do a[k] = v end
  return function() return rk.tare.plan(a) end
end
t.ok(pcall(plan {}), "the base TARE plan works")
t.raises(plan { lesions = { 5 } },
  "rk.tare.plan: territory 1: lesion 1 must be a table",
  "a lesion that is no table")
t.raises(function()
  return rk.tare.plan { product = "SIR-Spheres", cf = 49.67,
                        territories = { 5 } }
end, "rk.tare.plan: territory 1 must be a table",
  "a territory that is no table")
t.done()
