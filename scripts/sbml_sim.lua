-- sbml_sim.lua - simulate an SBML model with doses and write the states
-- and outputs as CSV.
--
--   radiokin scripts/sbml_sim.lua model.sbml --dose Blood.Hot=10
--            [--dose NAME=AMOUNT[@TIME_H]]... [--time-unit s|min|h|d]
--            [--t-end H] [--step H] [--out FILE] [--nuclide NAME] [--quiet]
local rk = require "radiokin"

local M = {}

local USAGE = "usage: radiokin scripts/sbml_sim.lua model.sbml " ..
  "[--dose NAME=AMOUNT[@TIME_H]]... [--time-unit s|min|h|d] [--t-end H] " ..
  "[--step H] [--out FILE] [--nuclide NAME] [--quiet]"

M.HELP = USAGE .. [[


Loads an SBML model with rk.sbml.load (time in hours), gives the doses
(each adds AMOUNT, in the model's substance unit, to the amount of the
species NAME, written Compartment.Species, at TIME_H hours, default 0),
simulates from 0 to --t-end hours (default 168) with outputs every --step
hours (default 1) and writes the result.

Options
  --dose NAME=AMOUNT[@TIME_H]  a bolus dose (repeatable)
  --time-unit U     the model's time unit when the file declares none
                    (s, min, h, d)
  --t-end H         end of the simulation, hours (default 168)
  --step H          output step, hours (default 1)
  --out FILE        CSV to write (default sbml_sim.csv; - for stdout)
  --nuclide NAME    add physical decay of NAME (only for models without
                    decay reactions)
  --quiet           no libSBML warnings on stderr

Output: FILE with columns time_h, every state (species amounts in the
file's substance unit), every output (species set by rules, values of
rules, compartments), written atomically; the path on stdout.

Example
  radiokin scripts/sbml_sim.lua pycno_reduced_psma.sbml --time-unit min \
    --dose Blood.Hot=10 --dose Blood.Cold=100 --t-end 168 --out psma.csv]]

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local function number(name, v)
  local x = tonumber(v)
  if not x or x ~= x or x == math.huge or x == -math.huge then
    usage(name .. " needs a finite number (got " .. tostring(v) .. ")")
  end
  return x
end

function M.parse_args(args)
  local o = {doses = {}, t_end = 168, step = 1, out = "sbml_sim.csv"}
  local i = 1
  local function value(name)
    i = i + 1
    return args[i] or usage(name .. " needs a value")
  end
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then
      o.help = true
    elseif a == "--dose" then
      local spec = value(a)
      local name, amount, at = spec:match("^(.-)=([^@]+)@?(.*)$")
      if not name or name == "" then
        usage("--dose needs NAME=AMOUNT[@TIME_H] (got " .. spec .. ")")
      end
      o.doses[#o.doses + 1] = {to = name, amount = number("--dose amount", amount),
                               time = at ~= "" and number("--dose time", at) or 0}
    elseif a == "--time-unit" then
      o.time_unit = value(a)
    elseif a == "--t-end" then
      o.t_end = number(a, value(a))
    elseif a == "--step" then
      o.step = number(a, value(a))
    elseif a == "--out" then
      o.out = value(a)
    elseif a == "--nuclide" then
      o.nuclide = value(a)
    elseif a == "--quiet" then
      o.quiet = true
    elseif a:sub(1, 1) == "-" then
      usage("unknown option " .. a)
    elseif o.input then
      usage("one model file only (got " .. o.input .. " and " .. a .. ")")
    else
      o.input = a
    end
    i = i + 1
  end
  if o.help then return o end
  if not o.input then usage("no model file given") end
  if not (o.t_end > 0) then usage("--t-end must be > 0") end
  if not (o.step > 0) then usage("--step must be > 0") end
  table.sort(o.doses, function(a, b) return a.time < b.time end)
  return o
end

function M.run(o)
  local m = rk.sbml.load(o.input, {time_unit = o.time_unit,
                                   nuclide = o.nuclide, quiet = o.quiet})
  local r = m:simulate{doses = o.doses, times = rk.seq(0, o.t_end, o.step)}
  r:write_csv(o.out)
  return r
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  M.run(o)
  if o.out ~= "-" then print("written: " .. o.out) end
end

if arg and arg[0] and arg[0]:match("sbml_sim%.lua$") then
  M.main(arg)
end
return M
