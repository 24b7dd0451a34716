-- bench_sbml_psma.lua - the reduced 177Lu-PSMA model (Fele-Paranj et al.,
-- EJNMMI Radiopharm Chem 2024;9:6; SimBiology export, github qurit/PyCNO)
-- imported with rk.sbml.load:
--   1. one patient through the authors' six-cycle scenario (10 nmol hot
--      and 100 nmol cold ligand into Blood every 6 weeks, six times,
--      400,000 minutes): CPU time per simulation;
--   2. a 1,000-patient cohort (rk.cohort, one thread) with 20 % IIV
--      (log-normal) on the four receptor densities Rden_*, six cycles of
--      6 weeks, TIA of the kidney's bound and internalised hot ligand;
--   3. the scipy peer (tests/bench/peers/psma_scipy.py: LSODA and BDF)
--      on the model's right-hand side written by m:write_python (not
--      typed by hand), same scenario, doses, tolerances, in the same run,
--      and its agreement with radiokin at tight tolerances.
--
--   radiokin tests/bench/bench_sbml_psma.lua [MODEL.sbml [N_PEER [N]]]
--
-- MODEL.sbml defaults to $RADIOKIN_SRCDIR/../shared/models-external/
-- pycno_reduced_psma.sbml (read in place, never copied); the bench skips
-- when it is absent. N_PEER (default 10) patients of the cohort go to the
-- peer (its per-patient time, times 1,000, estimates its cohort); N
-- (default 1,000) is the cohort's size. Times
-- are CPU seconds of the process (os.clock; the peer: time.process_time).
local rk = require "radiokin"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local path = arg and arg[1]
  or src .. "/../shared/models-external/pycno_reduced_psma.sbml"
local n_peer = tonumber(arg and arg[2]) or 10
local n_cohort = tonumber(arg and arg[3]) or 1000
local f = io.open(path, "r")
if not f then
  print("bench_sbml_psma: skipped: " .. path .. " absent")
  return
end
f:close()

local m, info = rk.sbml.load(path, {time_unit = "min", quiet = true})
local WEEK_H = 7 * 24
local T_END = 400000 / 60               -- h
local doses = {}
for c = 0, 5 do
  doses[#doses + 1] = {time = c * 6 * WEEK_H, amount = 10, to = "Blood.Hot"}
  doses[#doses + 1] = {time = c * 6 * WEEK_H, amount = 100, to = "Blood.Cold"}
end
local RTOL, ATOL = 1e-6, 1e-9
do
  local la = io.open("/proc/loadavg")
  print("load average: " .. (la and la:read("l") or "?"))
  if la then la:close() end
end
local n_par = 0
for _ in pairs(m.params) do n_par = n_par + 1 end
print(("model: %d states, %d parameters, %d reactions; time unit %s"):format(
  #m.states, n_par, info.counts.reactions, info.time_unit))

-- 1. one patient, six cycles, 400,000 min
local q = {doses = doses, times = {T_END}, rtol = RTOL, atol = ATOL}
local r1 = m:simulate(q)
local reps = 20
local t0 = os.clock()
for _ = 1, reps do m:simulate(q) end
local per = (os.clock() - t0) / reps
print(("six cycles, 400,000 min, rtol %g atol %g nmol: %.2f ms per "
  .. "simulation (%s path, %d steps)"):format(RTOL, ATOL, per * 1e3, r1.path,
  r1.steps or -1))
local tight = m:simulate{doses = doses, times = {T_END}, rtol = 1e-10,
                         atol = 1e-14}

-- worst relative difference at T_END over states above 1e-6 of the
-- largest (a: name -> value, b: name -> value)
local function worst(a, b)
  local big = 0
  for _, n in ipairs(m.states) do big = math.max(big, math.abs(a[n])) end
  local w, where = 0, "?"
  for _, n in ipairs(m.states) do
    if math.abs(a[n]) > 1e-6 * big then
      local d = math.abs(a[n] - b[n]) / math.abs(a[n])
      if d > w then w, where = d, n end
    end
  end
  return w, where
end
local function at_end(r)
  local v = {}
  for _, n in ipairs(m.states) do v[n] = r.states[n][#r.states[n]] end
  return v
end
local ref = at_end(tight)
local w1, n1 = worst(ref, at_end(r1))
print(("  radiokin rtol %g vs rtol 1e-10: max rel. difference %.2e (%s)")
  :format(RTOL, w1, n1))

-- 2. cohort: 1,000 patients, 20 % IIV on the receptor densities
local cv = {Rden_Kidney = 0.2, Rden_SG = 0.2, Rden_Tumor1 = 0.2,
            Rden_TumorRest = 0.2}
local cyc_doses = {{time = 0, amount = 10, to = "Blood.Hot"},
                   {time = 0, amount = 100, to = "Blood.Cold"}}
t0 = os.clock()
local c = rk.cohort{model = m, n = n_cohort, seed = 1, cv = cv, cycles = 6,
                    interval_h = 6 * WEEK_H, doses = cyc_doses,
                    tia = {"KidneyBound.Hot", "KidneyIntern.Hot"},
                    rtol = RTOL, atol = ATOL, threads = 1, progress = false}
local tc = os.clock() - t0
local s = c:summary("KidneyBound.Hot", {cumulative = true})
print(("cohort: %d patients x 6 cycles of 6 weeks, one thread: %.2f s "
  .. "(%.2f ms per patient, %s path, %d failed); kidney bound hot TIA over "
  .. "six cycles: median %.4g, 5-95 %% %.4g-%.4g nmol h"):format(c.n, tc,
  tc / c.n * 1e3, c.path, #c.failed, s[6].median, s[6].p5, s[6].p95))

-- 3. the scipy peer on the same right-hand side
local py = "/usr/bin/python3"
local peer = src .. "/tests/bench/peers/psma_scipy.py"
local tmp = os.tmpname()
os.remove(tmp)
local module, scen = tmp .. "_psma.py", tmp .. "_scenario.txt"
m:write_python(module)
local function scenario(t_end, dl, patients)
  local lines = {"# bench_sbml_psma.lua scenario", ("%.17g %g %g"):format(
    t_end, RTOL, ATOL)}
  for _, d in ipairs(dl) do
    lines[#lines + 1] = ("dose %.17g %s %.17g"):format(d.time, d.to, d.amount)
  end
  for _, p in ipairs(patients) do
    local kv = {}
    for name in pairs(cv) do kv[#kv + 1] = ("%s=%.17g"):format(name, p[name]) end
    table.sort(kv)
    lines[#lines + 1] = "patient " .. table.concat(kv, " ")
  end
  rk.write_atomic(scen, table.concat(lines, "\n") .. "\n")
end
local function run_peer()
  local status, out, err = rk.run({py, peer, module, scen}, nil, 3600)
  if status ~= 0 then
    print("  scipy peer failed: " .. tostring(err or out))
    return nil
  end
  local res = {ms = {}, ends = {}}
  for line in out:gmatch("[^\n]+") do
    local meth, ms = line:match("^METHOD (%S+) ms_per_sim (%S+)")
    if meth then res.ms[meth] = tonumber(ms) end
    local m2, i, vals = line:match("^END (%S+) (%d+) (%S+)")
    if m2 then
      res.ends[m2] = res.ends[m2] or {}
      local v, k = {}, 0
      for x in vals:gmatch("[^,]+") do
        k = k + 1
        v[m.states[k]] = tonumber(x)
      end
      res.ends[m2][tonumber(i) + 1] = v
    end
  end
  return res
end
local have = io.open(py) and io.open(peer)
if not have then
  print("scipy peer not run (needs /usr/bin/python3 with python3-scipy)")
else
  -- one patient: the model's defaults
  scenario(T_END, doses, {m.params})
  local p1 = run_peer()
  if p1 then
    for _, meth in ipairs({"LSODA", "BDF"}) do
      local w, n = worst(ref, p1.ends[meth][1])
      print(("  scipy %-5s %9.1f ms per simulation (radiokin %.1fx faster); "
        .. "vs radiokin rtol 1e-10: max rel. difference %.2e (%s)"):format(
        meth, p1.ms[meth], p1.ms[meth] / (per * 1e3), w, n))
    end
  end
  -- the cohort's first n_peer patients, six cycles of 6 weeks
  local pats, cd = {}, {}
  for i = 1, math.min(n_peer, c.n) do pats[i] = c.params[i] end
  for k = 0, 5 do
    for _, d in ipairs(cyc_doses) do
      cd[#cd + 1] = {time = k * 6 * WEEK_H, amount = d.amount, to = d.to}
    end
  end
  scenario(6 * 6 * WEEK_H, cd, pats)
  local p2 = run_peer()
  if p2 then
    for _, meth in ipairs({"LSODA", "BDF"}) do
      print(("  scipy %-5s cohort: %.1f ms per patient on %d patients, "
        .. "about %.0f s for %d (radiokin %.2f s: %.0fx)"):format(meth,
        p2.ms[meth], #pats, p2.ms[meth] * c.n / 1e3, c.n, tc,
        p2.ms[meth] / (tc / c.n * 1e3)))
    end
  end
end
os.remove(module)
os.remove(scen)
