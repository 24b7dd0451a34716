-- sbml_info.lua - what an SBML model contains, as radiokin reads it:
-- the time unit, compartments, species (with their compartment, whether
-- they are amounts, boundary, and how radiokin holds them), parameters,
-- rules and reactions, and libSBML's warnings.
--
--   radiokin scripts/sbml_info.lua model.sbml [--time-unit s|min|h|d]
--            [--strict]
local rk = require "radiokin"

local M = {}

local USAGE = "usage: radiokin scripts/sbml_info.lua model.sbml " ..
  "[--time-unit s|min|h|d] [--strict]"

M.HELP = USAGE .. [[


Reads an SBML model (Level 2 Versions 1-5, Level 3 Versions 1-2) with
rk.sbml.load and prints what radiokin made of it.

Options
  --time-unit U   the model's time unit when the file declares none
                  (s, min, h, d; checked against the file otherwise)
  --strict        libSBML's unit findings are errors

Output (stdout): the SBML level and version, the model's time unit and
whether the file declares it, counts of reactions, rules, initial
assignments, function definitions and events, then one line per compartment,
species, parameter and reaction: its radiokin name, SBML id, and role
(state, output, param or none; species: amount or concentration in the
math, boundary), then libSBML's warnings. Exit status 1 when the model
cannot be read (the message names the file, line and element).

Example
  radiokin scripts/sbml_info.lua pycno_reduced_psma.sbml --time-unit min]]

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local OPTIONS = {
  ["--time-unit"] = { "time_unit", "value" },
  ["--strict"] = { "strict", "flag" },
}

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage)
  if o.help then return o end
  if #files > 1 then
    usage("one model file only (got " .. files[1] .. " and " .. files[2] .. ")")
  end
  o.input = files[1] or usage("no model file given")
  return o
end

-- The report as lines (for the tests and for main).
function M.report(o)
  local info = rk.sbml.info(o.input, {time_unit = o.time_unit,
                                      strict = o.strict, quiet = true})
  local out = {}
  local function add(fmt, ...) out[#out + 1] = fmt:format(...) end
  add("file: %s (SBML Level %d Version %d)", o.input, info.level, info.version)
  add("time unit: %s (%s; radiokin's time is hours, %g h per unit)",
    info.time_unit, info.time_declared and "declared in the file"
      or "not declared in the file", info.hours_per_unit)
  add("reactions: %d, rules: %d, initial assignments: %d, function " ..
    "definitions: %d, events: %d", info.counts.reactions, info.counts.rules,
    info.counts.initial_assignments, info.counts.functions,
    info.counts.events)
  for _, kind in ipairs({"compartment", "species", "parameter", "reaction"}) do
    local n = 0
    for _, s in ipairs(info.symbols) do
      if s.kind == kind then n = n + 1 end
    end
    add("%s (%d):", kind == "species" and "species" or kind .. "s", n)
    for _, s in ipairs(info.symbols) do
      if s.kind == kind then
        local extra = ""
        if kind == "species" then
          extra = (", %s in the math%s"):format(
            s.amount and "amount" or "concentration",
            s.boundary and ", boundary or constant" or "")
        end
        add("  %-32s id %-24s %s%s", s.name, s.id, s.role, extra)
      end
    end
  end
  add("warnings (%d):", #info.warnings)
  for _, w in ipairs(info.warnings) do add("  %s", w) end
  return out
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  for _, line in ipairs(M.report(o)) do print(line) end
end

if arg and arg[0] and arg[0]:match("sbml_info%.lua$") then
  M.main(arg)
end
return M
