-- sbml.lua - rk.sbml: the binding (options, info, names, bad input) and the
-- real reduced 177Lu-PSMA model (Fele-Paranj et al., EJNMMI Radiopharm Chem
-- 2024;9:6; SimBiology export from github qurit/PyCNO), read in place from
-- ../shared/models-external/ (skipped when that folder is absent).
-- Closed-form checks of the semantics are in tests/unit/test_sbml.c.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local tmp = t.scratch()

-- ------------------------------------------------------------ bad input
do
  local p = tmp .. "/plain.txt"
  t.write_file(p, "this is not XML\n")
  t.raises(function() rk.sbml.load(p) end, "plain.txt: line 1",
    "not XML: libSBML's message with the file and line")
  t.raises(function() rk.sbml.load(tmp .. "/absent.xml") end, "absent.xml",
    "a missing file is named")
  t.raises(function() rk.sbml.load(p, {time_units = "h"}) end,
    "unknown field 'time_units'", "a misspelt option is named")
  t.raises(function() rk.sbml.load(p, {nuclide = "Xx-999"}) end,
    "Xx%-999", "an unknown nuclide is named")
end

-- ------------------------------------- export: m:write_sbml, round trip
-- Worst relative difference of two runs over states and outputs.
local function worst(m, r1, r2)
  local w = 0
  for _, kind in ipairs({"states", "outputs"}) do
    for _, n in ipairs(m[kind]) do
      for k = 1, #r1.time do
        local a, b = r1[kind][n][k], r2[kind][n][k]
        if a ~= b then
          w = math.max(w, math.abs(a - b) / math.max(math.abs(a), math.abs(b)))
        end
      end
    end
  end
  return w
end

-- ------------------------------------------- events of a Lua model (rk.model)
do
  -- a dose of D at 2 h delayed 1.5 h (executes at 3.5 h), counted in n; a
  -- refill to 8 when A < 2 after 5 h (closed form: A = D e^(-k (t - 3.5))
  -- until A reaches 2 at 3.5 + ln(D / 2) / k, then 8 e^(-k (t - t1)))
  local k, D = 0.5, 10
  local function evmodel(extra)
    local ev = {
      {name = "dose", trigger = function(s, p, t) return rk.ge(t, 2) end,
       delay = 1.5, initial_value = false,
       assign = function(s, p, t) return {A = s.A + p.D, n = s.n + 1} end},
      {name = "refill", persistent = false, use_trigger_values = false,
       trigger = function(s, p, t) return rk.all(rk.lt(s.A, 2), rk.gt(t, 5)) end,
       priority = function(s, p, t) return s.n end,
       assign = function(s, p, t) return {A = 8} end},
    }
    for key, v in pairs(extra or {}) do ev[1][key] = v end
    return rk.model{name = "lua events", states = {"A", "n"},
      params = {k = k, D = D},
      ode = function(s, p, t) return {A = -p.k * s.A, n = 0} end,
      outputs = function(s, p, t) return {C = s.A / 2} end,
      events = ev}
  end
  local m = evmodel()
  local t1 = 3.5 + math.log(D / 2) / k
  local q = {times = {1, 3.4, 4, 6, t1 + 0.5, 8}, rtol = 1e-10, atol = 1e-12}
  local r = m:simulate(q)
  t.is(r.states.A[2], 0, 0, "Lua event: the delayed dose not before 3.5 h")
  t.is(r.states.A[3], D * math.exp(-k * 0.5), 1e-7,
    "Lua event: dose at 2 h + delay 1.5 h, A(4 h) = D e^(-k 0.5)")
  t.is(r.states.n[4], 1, 0, "Lua event: the assignment counts the dose")
  t.is(r.states.A[5], 8 * math.exp(-k * 0.5), 1e-6,
    "Lua event: threshold refill to 8 at A = 2 (t = 3.5 + ln(D/2)/k)")
  local x = tmp .. "/luaev.xml"
  m:write_sbml(x)
  local m2 = rk.sbml.load(x, {quiet = true})
  local q2 = {times = rk.seq(0, 24, 0.25), rtol = 1e-10, atol = 1e-12}
  local rr = m:simulate(q2)
  local w = worst(m, rr, m2:simulate(q2))
  t.ok(w <= 1e-12, ("Lua events -> write_sbml -> load: the same simulation (worst rel. diff %.2g)"):format(w))
  local lf = tmp .. "/luaev.lua"
  rk.sbml.to_lua(x, lf, {quiet = true})
  local text = t.read_file(lf)
  t.like(text, 'name = "dose"', "to_lua: events with their names")
  t.like(text, "use_trigger_values = false", "to_lua: every event attribute written")
  local m3 = dofile(lf)
  w = worst(m, rr, m3:simulate(q2))
  t.ok(w <= 1e-12, ("Lua events -> SBML -> to_lua: the same simulation (worst rel. diff %.2g)"):format(w))
  -- each attribute matters (the round trip above would not see a dropped one)
  local function at(mm, time)
    return mm:simulate{times = {time}, rtol = 1e-10, atol = 1e-12}.states.A[1]
  end
  t.is(at(evmodel{delay = 0}, 2.5), D * math.exp(-k * 0.5), 1e-7,
    "Lua event: delay 0 executes at the trigger")
  t.is(at(evmodel{initial_value = true, trigger = function(s, p, t) return rk.ge(t, 0) end}, 2), 0, 0,
    "Lua event: initial_value true, a trigger true at t0 does not fire")
  t.is(at(evmodel{trigger = function(s, p, t) return rk.ge(t, 0) end}, 2), D * math.exp(-k * 0.5), 1e-7,
    "Lua event: initial_value false, a trigger true at t0 fires at t0")
  t.is(at(evmodel{persistent = false, trigger = function(s, p, t) return rk.all(rk.ge(t, 2), rk.lt(t, 3)) end}, 5), 0, 0,
    "Lua event: not persistent, cancelled when its trigger turns false before the delay ends")
  t.is(at(evmodel{use_trigger_values = false, delay = 1,
                  assign = function(s, p, t) return {A = t} end}, 3), 3, 1e-9,
    "Lua event: use_trigger_values false, the value at execution (t = 3 h)")
  t.is(at(evmodel{delay = 1, assign = function(s, p, t) return {A = t} end}, 3), 2, 1e-9,
    "Lua event: use_trigger_values true, the value at the trigger (t = 2 h)")
  -- bad input
  t.raises(function() evmodel{trigger = 3} end, "field 'trigger' must be a function",
    "Lua event: a trigger that is not a function")
  t.raises(function() evmodel{trigger = function(s, p, t) return s.A end} end,
    "the trigger %(A%) is a number, not a condition", "Lua event: a number as trigger")
  t.raises(function() evmodel{assign = function(s, p, t) return {B = 1} end} end,
    "unknown state 'B'", "Lua event: assignment to an unknown state")
  t.raises(function() evmodel{dealy = 1} end, "unknown field 'dealy'",
    "Lua event: a misspelt field")
  t.raises(function() evmodel{delay = function(s, p, t) return rk.gt(t, 1) end} end,
    "delay is a condition", "Lua event: a condition as delay")
  t.raises(function()
    rk.model{name = "e", states = {"A"}, params = {}, events = 3,
             ode = function(s) return {A = 0} end}
  end, "field 'events' must be an array", "Lua events: not a table")
end

do
  -- every op of the expression graph, a nuclide, outputs
  local m = rk.model{name = "all ops", nuclide = "Lu-177",
    states = {"A", "B"}, params = {k = 0.3, V = 2, Cth = 1, w = 0.1 + 0.2},
    ode = function(s, p, t)
      return {
        A = -rk.ifelse(rk.any(rk.gt(s.A / p.V, p.Cth), rk.negate(rk.le(t, 1))),
                       p.k, 2 * p.k) * s.A + rk.exp(-t) * rk.abs(rk.sin(t)),
        B = p.k * s.A - rk.sqrt(s.B + 1) + 1 + p.w * rk.cos(t) ^ 2
            + rk.min(s.A, 1) * rk.max(rk.atan(t), rk.floor(t / 10))
            + 1e-3 * rk.factorial(rk.ceil(t / 100)) + rk.log(1 + rk.tan(0.1 * rk.acos(0.5) + rk.asin(0.2)))}
    end,
    outputs = function(s, p, t)
      return {C = s.A / p.V, L = rk.log(s.B + 1), S = rk.ifelse(rk.ge(s.A, 1), 1, 0)}
    end}
  local f = tmp .. "/ops.xml"
  m:write_sbml(f)
  local m2 = rk.sbml.load(f, {quiet = true})
  t.ok(table.concat(m2.states, ",") == "A,B" and table.concat(m2.outputs, ",") == "C,L,S",
    "write_sbml: states and outputs keep their names")
  t.is(m2.params.k, 0.3, 0, "write_sbml: parameter values kept")
  local q = {doses = {{time = 0, amount = 10, to = "A"}}, times = rk.seq(0, 48, 3),
             rtol = 1e-10, atol = 1e-14}
  local w = worst(m, m:simulate(q), m2:simulate(q))
  t.ok(w <= 1e-12, ("write_sbml -> load: the same simulation (worst rel. diff %.2g <= 1e-12)"):format(w))
  -- a + (x + y) and a * (b * c) keep their rounding through libSBML's
  -- n-ary plus and times: 1 + (1e-16 + 1e-16) = 1 + 2^-52 while
  -- (1 + 1e-16) + 1e-16 = 1; 0.1 * (0.2 * 0.3) = 0.006 while
  -- (0.1 * 0.2) * 0.3 = 0.006000000000000001
  local mo = rk.model{name = "order", states = {"A"},
    params = {x = 1e-16, y = 1e-16, a = 0.1, b = 0.2, c = 0.3},
    ode = function(s, p) return {A = 0 * s.A} end,
    outputs = function(s, p)
      return {E = s.A + (p.x + p.y), P = p.a * (p.b * p.c),
              Q = (s.A + p.x) + (p.y + p.x)}
    end}
  mo:write_sbml(tmp .. "/order.xml")
  local mo2 = rk.sbml.load(tmp .. "/order.xml", {quiet = true})
  local qo = {doses = {{time = 0, amount = 1, to = "A"}}, times = {0, 1}}
  local ro, ro2 = mo:simulate(qo), mo2:simulate(qo)
  t.ok(ro.outputs.E[1] == 1 + 2^-52 and ro2.outputs.E[1] == ro.outputs.E[1]
    and ro2.outputs.P[1] == ro.outputs.P[1] and ro2.outputs.Q[1] == ro.outputs.Q[1],
    "write_sbml: a + (x + y), a * (b * c), (a + x) + (y + x) read back bit for bit")
  local ok = pcall(function()
    rk.model{name = "lagged", states = {"A"}, params = {k = 1, L = 1},
      ode = function(s, p) return {A = -p.k * s.A} end,
      lag = function(p) return {A = p.L} end}:write_sbml(tmp .. "/lag.xml")
  end)
  t.ok(not ok and not io.open(tmp .. "/lag.xml"), "write_sbml: dose modifiers refused, nothing written")
  t.raises(function() m:write_sbml(tmp) end, "m:write_sbml", "write_sbml onto a folder is refused")
  -- m:write_python: the same right-hand side and outputs in Python (the
  -- scipy peers): LSODA on it at tight tolerances follows radiokin's run,
  -- and its outputs at radiokin's states are radiokin's outputs
  local pyf = tmp .. "/ops_model.py"
  m:write_python(pyf)
  local tt = {0.5, 1, 2, 5}
  local rr = m:simulate{doses = {{time = 0, amount = 10, to = "A"}},
                        times = tt, rtol = 1e-11, atol = 1e-13}
  local args = {"/usr/bin/python3", "-", pyf}
  for k = 1, #tt do
    args[#args + 1] = ("%.17g,%.17g,%.17g"):format(tt[k], rr.states.A[k],
                                                    rr.states.B[k])
  end
  local script = [==[
import importlib.util, sys
spec = importlib.util.spec_from_file_location("m", sys.argv[1])
M = importlib.util.module_from_spec(spec)
spec.loader.exec_module(M)
from scipy.integrate import solve_ivp
pts = [list(map(float, a.split(","))) for a in sys.argv[2:]]
r = solve_ivp(lambda t, y: M.rhs(t, y, M.DEFAULTS), (0, pts[-1][0]),
              [10.0, 0.0], method="LSODA", rtol=1e-11, atol=1e-13,
              t_eval=[q[0] for q in pts])
for k, q in enumerate(pts):
    o = M.outputs(q[0], q[1:], M.DEFAULTS)
    print(repr(r.y[0][k]), repr(r.y[1][k]), *map(repr, o))
]==]
  local status, out = rk.run(args, script, 120)
  if status ~= 0 or not out:find("%d") then
    t.skip("m:write_python: no /usr/bin/python3 with scipy here", 2)
  else
    local wy, wo, k = 0, 0, 0
    for line in out:gmatch("[^\n]+") do
      k = k + 1
      local v = {}
      for x in line:gmatch("%S+") do v[#v + 1] = tonumber(x) end
      local got = {rr.states.A[k], rr.states.B[k], rr.outputs.C[k],
                   rr.outputs.L[k], rr.outputs.S[k]}
      for j = 1, 5 do
        local d = math.abs(v[j] - got[j]) / math.max(math.abs(got[j]), 1e-300)
        if j <= 2 then wy = math.max(wy, d) else wo = math.max(wo, d) end
      end
    end
    t.ok(k == #tt and wy <= 1e-6, ("m:write_python: scipy LSODA on the "
      .. "written right-hand side follows radiokin (worst rel. diff %.2g "
      .. "<= 1e-6)"):format(wy))
    t.ok(k == #tt and wo <= 1e-14, ("m:write_python: the written outputs at "
      .. "radiokin's states are radiokin's (worst rel. diff %.2g)"):format(wo))
  end
  -- x_{k+1} = x_k * x_k + x_k, 60 levels: 3^60 nodes as a tree
  local deep = rk.model{name = "deep", states = {"A"}, params = {k = 1},
    ode = function(s, p)
      local x = s.A
      for _ = 1, 60 do x = x * x + x end
      return {A = -p.k * x}
    end}
  t.raises(function() deep:write_sbml(tmp .. "/deep.xml") end,
    "would exceed 5000000 nodes", "write_sbml refuses an expression too large as a tree (no hang)")
  t.ok(not io.open(tmp .. "/deep.xml"), "... and writes nothing")
end

-- ------------------------------------------------- the reduced PSMA model
local model = src .. "/../shared/models-external/pycno_reduced_psma.sbml"
local f = io.open(model, "r")
if not f then
  t.skip("../shared/models-external/pycno_reduced_psma.sbml absent", 1)
  t.done()
  return
end
f:close()

-- The authors' units: rates per minute, amounts nmol; their dose: 10 nmol
-- hot and 100 nmol cold into Blood at t = 0 (README of models-external).
local m, info = rk.sbml.load(model, {time_unit = "min", quiet = true,
                                     fluxes = true})
t.ok(info.time_unit == "min" and not info.time_declared,
  "PSMA: no declared time unit, minutes as given")
t.is(#m.states, 40, 0, "PSMA: 40 species solved (44 minus 4 rule-set receptors)")
t.ok(info.names["Kidney.R"] == "Kidney.R" and m.params.lambdaPhys,
  "PSMA: names Compartment.Species and parameter names")
t.ok(info.counts.reactions == 70 and info.counts.rules == 4
  and info.counts.initial_assignments == 29, "PSMA: 70 reactions, 4 rules, 29 initial assignments")
do
  local has21121 = false
  local _, i2 = rk.sbml.load(model, {time_unit = "min", quiet = true})
  for _, w in ipairs(i2.warnings) do
    if w:find("libSBML 21121", 1, true) then has21121 = true end
  end
  t.ok(has21121, "PSMA: libSBML's undeclared-modifier finding is a warning with its line")
  t.raises(function() rk.sbml.load(model, {time_unit = "min", strict = true}) end,
    "pycno_reduced_psma.sbml: line %d+: .*libSBML 21121",
    "PSMA: strict turns it into an error naming file and line")
end
do
  local _, i3 = rk.sbml.load(model, {time_unit = "min", nuclide = "Lu-177",
                                     quiet = true})
  local warned = false
  for _, w in ipairs(i3.warnings) do
    if w:find("looks like physical decay", 1, true) then warned = true end
  end
  t.ok(warned, "PSMA: nuclide on a model with decay reactions warns")
end

local doses = {{time = 0, amount = 10, to = "Blood.Hot"},
               {time = 0, amount = 100, to = "Blood.Cold"}}
local ligand, kidney_hot = {}, {}
for _, s in ipairs(info.symbols) do
  if s.kind == "species" and (s.name:match("%.Hot$") or s.name:match("%.Cold$")) then
    ligand[#ligand + 1] = s.name
    if s.name:match("^Kidney.*%.Hot$") then kidney_hot[#kidney_hot + 1] = s.name end
  end
end
t.is(#ligand, 40, 0, "PSMA: 40 ligand species (hot and cold)")
local times = rk.seq(0, 168, 1)
local tia = {"flux:KidneyExcHot", "flux:KidneyExcCold"}
local r = m:simulate{doses = doses, times = times, tia = tia,
                     rtol = 1e-10, atol = 1e-14}
-- Mass balance: decay turns hot into cold ligand, so the ligand leaves
-- only by excretion: sum of amounts + excreted = 110 nmol.
for _, k in ipairs({2, 25, #times}) do
  local total = 0
  for _, n in ipairs(ligand) do total = total + r.states[n][k] end
  if k == #times then
    total = total + r.tia[tia[1]] + r.tia[tia[2]]
    t.is(total, 110, 1e-8, "PSMA: ligand + excreted = 110 nmol at 168 h")
  else
    t.ok(total < 110 and total > 0, "PSMA: ligand in the body below the dose at " .. times[k] .. " h")
  end
end
-- the same run at the default tolerances agrees (rtol 1e-6)
local r6 = m:simulate{doses = doses, times = times}
local worst_k = 0
for _, n in ipairs(kidney_hot) do
  for k = 2, #times do
    local a, b = r.states[n][k], r6.states[n][k]
    worst_k = math.max(worst_k, math.abs(a - b) / math.max(math.abs(a), 1e-6))
  end
end
t.ok(worst_k < 1e-3, ("PSMA: rtol 1e-6 vs 1e-10 agree (worst kidney rel. diff %.2g)"):format(worst_k))
-- Kidney activity (MBq, the authors' conversion: nmol x lambdaPhys/60 per
-- s x 6.022e23 / 1e15): zero at t0, peak in the first hours, then falls.
local lam = m.params.lambdaPhys
local function kidney(k)
  local a = 0
  for _, n in ipairs(kidney_hot) do a = a + r.states[n][k] end
  return a * lam / 60 * 6.022e23 / 1e15
end
local peak, kpeak = 0, 1
for k = 1, #times do
  if kidney(k) > peak then peak, kpeak = kidney(k), k end
end
t.ok(kidney(1) == 0, "PSMA: no kidney activity before the dose reaches it")
t.ok(times[kpeak] >= 0.5 and times[kpeak] <= 6,
  ("PSMA: kidney activity peaks in the first hours (%.0f h, %.1f MBq)"):format(times[kpeak], peak))
t.ok(kidney(#times) < 0.5 * peak, "PSMA: kidney activity at 7 d below half its peak")
t.diag(("PSMA kidney activity: peak %.2f MBq at %g h, %.2f MBq at 24 h, %.2f MBq at 168 h"):format(
  peak, times[kpeak], kidney(25), kidney(#times)))

-- scripts/sbml_info.lua on the same file
do
  local info_script = dofile(src .. "/scripts/sbml_info.lua")
  local lines = table.concat(info_script.report({input = model,
                                                  time_unit = "min"}), "\n")
  t.like(lines, "time unit: min (not declared in the file", "sbml_info: the time unit and that the file declares none")
  t.like(lines, "reactions: 70, rules: 4, initial assignments: 29, function definitions: 0, events: 0",
    "sbml_info: the counts")
  t.like(lines, "Blood.Hot", "sbml_info: species by Compartment.Species")
  t.raises(function() info_script.parse_args({}) end, "no model file given",
    "sbml_info: no file is refused with the usage")
end

-- to_lua and write_sbml reproduce it exactly
do
  local lf, xf = tmp .. "/psma.lua", tmp .. "/psma_rt.xml"
  rk.sbml.to_lua(model, lf, {time_unit = "min", quiet = true, fluxes = true})
  local text = t.read_file(lf)
  t.like(text, '["Blood.Hot"]', "to_lua: names, not ids")
  t.like(text, '["k_on"] = 0.046,  -- parameter, id', "to_lua: parameters with value, id and units in a comment")
  local ml = dofile(lf)
  m:write_sbml(xf)
  local mx = rk.sbml.load(xf, {quiet = true, fluxes = true})
  local q = {doses = doses, times = rk.seq(0, 168, 6), rtol = 1e-10, atol = 1e-14}
  local r0 = m:simulate(q)
  local wl, wx = worst(m, r0, ml:simulate(q)), worst(m, r0, mx:simulate(q))
  t.ok(wl <= 1e-12, ("PSMA: to_lua model, the same simulation (worst rel. diff %.2g)"):format(wl))
  t.ok(wx <= 1e-12, ("PSMA: load -> write_sbml -> load, the same simulation (worst rel. diff %.2g)"):format(wx))
end

-- scripts/sbml_sim.lua: doses, CSV
do
  local sim = dofile(src .. "/scripts/sbml_sim.lua")
  local out = tmp .. "/sim.csv"
  local o = sim.parse_args({model, "--time-unit", "min", "--dose", "Blood.Hot=10",
    "--dose", "Blood.Cold=100@0", "--t-end", "24", "--step", "6", "--out", out,
    "--quiet"})
  local r1 = sim.run(o)
  local text = t.read_file(out)
  t.like(text, "^time_h,Blood.Hot,Blood.Cold,", "sbml_sim: CSV header time_h then the states")
  t.is(r1.states["KidneyBound.Hot"][5], r.states["KidneyBound.Hot"][25], 1e-4,
    "sbml_sim: the same kidney amount at 24 h as m:simulate")
  local png = t.read_file(tmp .. "/sim.png")
  t.ok(png and png:sub(1, 8) == "\137PNG\r\n\26\n",
    "sbml_sim: a PNG plot beside the CSV (sim.png)")
  local o2 = sim.parse_args({model, "--time-unit", "min", "--dose",
    "Blood.Hot=10", "--t-end", "24", "--out", tmp .. "/sim2.csv", "--quiet",
    "--plot", tmp .. "/kidney.png", "--plot-vars", "KidneyBound.Hot,Kidney.R",
    "--log"})
  sim.run(o2)
  png = t.read_file(tmp .. "/kidney.png")
  t.ok(png and png:sub(1, 4) == "\137PNG" and not io.open(tmp .. "/sim2.png"),
    "sbml_sim: --plot names the file; --plot-vars takes states and outputs")
  t.raises(function() sim.run(sim.parse_args({model, "--time-unit", "min",
    "--out", tmp .. "/sim3.csv", "--quiet", "--plot-vars", "Nope"})) end,
    "'Nope' is neither a state nor an output",
    "sbml_sim: an unknown --plot-vars name is refused, naming it")
  t.ok(not io.open(tmp .. "/sim3.csv"), "... before anything is written")
  sim.run(sim.parse_args({model, "--time-unit", "min", "--out",
    tmp .. "/sim4.csv", "--quiet", "--no-plot"}))
  t.ok(io.open(tmp .. "/sim4.csv") and not io.open(tmp .. "/sim4.png"),
    "sbml_sim: --no-plot writes the CSV only")
  t.raises(function() sim.parse_args({model, "--out", tmp .. "/a.png",
    "--plot", tmp .. "/a.png"}) end, "is the CSV file too",
    "sbml_sim: the plot cannot overwrite the CSV")
  t.raises(function() sim.parse_args({model, "--dose", "Blood.Hot"}) end,
    "NAME=AMOUNT", "sbml_sim: a dose without amount is refused")
  t.raises(function() sim.run(sim.parse_args({model, "--time-unit", "min",
    "--dose", "Kidney.R=1", "--out", tmp .. "/x.csv", "--quiet"})) end,
    "'Kidney.R' is not a state: set by an assignment rule",
    "sbml_sim: a dose to a rule-set species is refused, saying why")
end

-- an ordinary model: a cohort runs on it
do
  local c = rk.cohort{model = m, n = 3, seed = 1, cv = {Rden_Kidney = 0.2},
    cycles = 1, interval_h = 168, doses = doses, tia = {"KidneyBound.Hot"},
    threads = 1, progress = false}
  local v = c.tia["KidneyBound.Hot"][1]
  t.ok(#v == 3 and v[1] > 0 and v[1] ~= v[2] and c.params[1].Rden_Kidney ~= c.params[2].Rden_Kidney,
    "PSMA: rk.cohort with IIV on the kidney receptor density: TIA per patient differ")
end
t.raises(function() m:simulate{doses = {{time = 0, amount = 1, to = "Kidney.R"}},
  times = {1}} end, "Kidney.R", "a dose to a rule-set species is refused, naming it")
t.done()
