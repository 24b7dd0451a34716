-- sbml_sim.lua - simulate an SBML model with doses and write the states
-- and outputs as CSV, and a plot of them beside it.
--
--   radiokin scripts/sbml_sim.lua model.sbml --dose Blood.Hot=10
--            [--dose NAME=AMOUNT[@TIME_H]]... [--time-unit s|min|h|d]
--            [--t-end H] [--step H] [--out FILE] [--nuclide NAME] [--quiet]
--            [--plot FILE.png | --no-plot] [--plot-vars NAME,...] [--log]
local rk = require "radiokin"

local M = {}

local USAGE = "usage: radiokin scripts/sbml_sim.lua model.sbml " ..
  "[--dose NAME=AMOUNT[@TIME_H]]... [--time-unit s|min|h|d] [--t-end H] " ..
  "[--step H] [--out FILE] [--nuclide NAME] [--quiet] " ..
  "[--plot FILE.png | --no-plot] [--plot-vars NAME,...] [--log]"

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
  --plot FILE.png   the plot's file (default: FILE with .png for .csv)
  --no-plot         no plot
  --plot-vars LIST  the states or outputs plotted, comma-separated
                    (default: the states, the 10 largest by peak when
                    there are more)
  --log             logarithmic y axis (values <= 0 left out)

Output: FILE with columns time_h, every state (species amounts in the
file's substance unit), every output (species set by rules, values of
rules, compartments), written atomically; a PNG of the chosen series
against time (gnuplot, the values handed over as data); the paths on
stdout.

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

local function dose(v, name)
  local to, amount, at = v:match("^(.-)=([^@]+)@?(.*)$")
  if not to or to == "" then
    usage(name .. " needs NAME=AMOUNT[@TIME_H] (got " .. v .. ")")
  end
  return { to = to, amount = number(name .. " amount", amount),
           time = at ~= "" and number(name .. " time", at) or 0 }
end

local OPTIONS = {
  ["--dose"] = { "dose", dose, after = function(o, d)
    o.doses[#o.doses + 1] = d
    o.dose = nil
  end },
  ["--time-unit"] = { "time_unit", "value" },
  ["--t-end"] = { "t_end", "finite" },
  ["--step"] = { "step", "finite" },
  ["--out"] = { "out", "value" },
  ["--nuclide"] = { "nuclide", "value" },
  ["--quiet"] = { "quiet", "flag" },
  ["--plot"] = { "plot_path", "value" },
  ["--no-plot"] = { "plot", "flag", value = false },
  ["--plot-vars"] = { "plot_vars", function(v, name)
    local names = {}
    for w in v:gmatch("[^,]+") do names[#names + 1] = w end
    if #names == 0 then usage(name .. " needs names") end
    return names
  end },
  ["--log"] = { "log", "flag" },
}

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage, { doses = {}, t_end = 168,
    step = 1, out = "sbml_sim.csv", plot = true })
  if #files > 1 then
    usage("one model file only (got " .. files[1] .. " and " .. files[2]
      .. ")")
  end
  o.input = files[1]
  if o.help then return o end
  if not o.input then usage("no model file given") end
  if not (o.t_end > 0) then usage("--t-end must be > 0") end
  if not (o.step > 0) then usage("--step must be > 0") end
  table.sort(o.doses, function(a, b) return a.time < b.time end)
  if o.plot and not o.plot_path then
    if o.out == "-" then
      o.plot = false
    else
      o.plot_path = (o.out:gsub("%.[cC][sS][vV]$", "")) .. ".png"
    end
  end
  if o.plot and o.plot_path == o.out then
    usage("--plot " .. o.plot_path .. " is the CSV file too")
  end
  return o
end

-- The series plotted: the names asked for (states or outputs), else the
-- states, the 10 largest by peak when there are more.
local function plot_series(o, m, r)
  local list = {}
  if o.plot_vars then
    for _, n in ipairs(o.plot_vars) do
      local v = rawget(r.states, n) or rawget(r.outputs or {}, n)
      if not v then
        error(("--plot-vars: '%s' is neither a state nor an output of the "
          .. "model (states: %s)"):format(n, table.concat(m.states, ", ")), 0)
      end
      list[#list + 1] = {name = n, v = v}
    end
    return list, nil
  end
  for _, n in ipairs(m.states) do
    local v, peak = r.states[n], -math.huge
    for k = 1, #v do peak = math.max(peak, v[k]) end
    list[#list + 1] = {name = n, v = v, peak = peak}
  end
  local note
  if #list > 10 then
    table.sort(list, function(a, b) return a.peak > b.peak end)
    for k = #list, 11, -1 do list[k] = nil end
    note = "the 10 states of largest peak"
  end
  return list, note
end

-- The plot of the chosen series against time (h), through rk.plot_files.
function M.plot(o, m, r, times)
  local list, note = plot_series(o, m, r)
  local blocks, plots = {}, {}
  for i, sr in ipairs(list) do
    local rows = {}
    for k = 1, #times do
      local y = sr.v[k]
      if not o.log or y > 0 then rows[#rows + 1] = {times[k], y} end
    end
    if #rows > 0 then
      blocks["s" .. i] = rows
      plots[#plots + 1] = ("$s%d using 1:2 with lines lw 2 title %s")
        :format(i, rk.gnuplot_quote(sr.name))
    end
  end
  if #plots == 0 then
    error("sbml_sim: nothing to plot (every value <= 0 with --log)", 0)
  end
  local f = rk.plot_files { o.plot_path }
  local title = o.input:match("[^/]+$") .. (note and " (" .. note .. ")" or "")
  local cmds = ([[
set terminal pngcairo size 1000,600
set output %s
set termoption noenhanced
set title %s
set xlabel 'time (h)'
set ylabel 'amount or value (model units)'
%s
set key outside right top
set grid
plot %s
set output
]]):format(rk.gnuplot_quote(f.tmp[1], true), rk.gnuplot_quote(title),
    o.log and "set logscale y" or "", table.concat(plots, ", \\\n     "))
  local ok, why = rk.gnuplot(cmds, blocks)
  if not ok then
    f:abort()
    error("sbml_sim: plot not written: " .. tostring(why), 0)
  end
  f:commit()
  return o.plot_path
end

function M.run(o)
  local m = rk.sbml.load(o.input, {time_unit = o.time_unit,
                                   nuclide = o.nuclide, quiet = o.quiet})
  local times = rk.seq(0, o.t_end, o.step)
  local r = m:simulate{doses = o.doses, times = times}
  if o.plot and o.plot_vars then plot_series(o, m, r) end  -- names first
  r:write_csv(o.out)
  if o.plot then M.plot(o, m, r, times) end
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
  if o.plot then print("written: " .. o.plot_path) end
end

if arg and arg[0] and arg[0]:match("sbml_sim%.lua$") then
  M.main(arg)
end
return M
