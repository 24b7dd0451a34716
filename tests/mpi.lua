-- tests/mpi.lua - rk.mpi and cohorts over MPI ranks (issue 21): the rank
-- split (rk.mpi.range) covers every patient once, in order; a cohort run
-- by `mpirun -np 1, 2, 3` writes byte-identical CSVs, equal to the plain
-- run's (patients drawn from one seeded stream, each patient's result in
-- its own slot); more ranks than patients; failed patients numbered as in
-- the whole cohort; a failing rank stops the job with its message, never
-- a hang. mpirun is run without a shell (rk.run), with --oversubscribe
-- (this machine may have fewer cores than ranks) and --allow-run-as-root
-- only when running as root (CI).
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local tmp = t.scratch()
local read, write = t.read_file, t.write_file

-- ------------------------------------------------------------ rk.mpi
t.is(rk.mpi.rank, 0, 0, "a plain run is rank 0")
t.is(rk.mpi.size, 1, 0, "... of 1")
do
  -- the split: contiguous blocks in rank order, every item once, sizes
  -- differing by at most one (the first n % size ranks one more)
  local ok = true
  for n = 0, 23 do
    for size = 1, 7 do
      local next_first, small, big = 1, math.huge, 0
      for rank = 0, size - 1 do
        local a, b = rk.mpi.range(n, rank, size)
        if a ~= next_first or b < a - 1 then ok = false end
        local len = b - a + 1
        if len < small then small = len end
        if len > big then big = len end
        if rank < n % size and len ~= (n // size) + 1 then ok = false end
        next_first = b + 1
      end
      if next_first ~= n + 1 or big - small > 1 then ok = false end
    end
  end
  t.ok(ok, "rk.mpi.range: n = 0..23 over 1..7 ranks, each item once, in "
    .. "order, balanced")
  local a, b = rk.mpi.range(7, 1, 3)
  t.ok(a == 4 and b == 5, "7 patients, rank 1 of 3: patients 4..5 (got "
    .. a .. ".." .. b .. ")")
  a, b = rk.mpi.range(2, 2, 3)
  t.ok(a == 3 and b == 2, "2 patients, rank 2 of 3: none (got " .. a .. ".."
    .. b .. ")")
  a, b = rk.mpi.range(5)
  t.ok(a == 1 and b == 5, "one process: all of them")
  t.raises(function() rk.mpi.range(5, 3, 3) end, "rank must be in %[0, 2%]",
    "a rank outside the job")
end

do
  local mean, least = rk.mpi.gather_time(24, 3)
  t.ok(mean == 0 and least == 0, "rk.mpi.gather_time: 0 with one process")
  t.raises(function() rk.mpi.gather_time(8, 0) end,
    "reps must be in %[1, 1000000%] %(got 0%)", "gather_time: reps = 0")
end

-- ------------------------------------------------------ rk.replicates
do
  local r = rk.replicates { n = 6, run = function(i)
    return { i = i, sq = i * i, name = "r" .. i, third = i / 3,
             even = i % 2 == 0, nested = { 1, { i } } }
  end }
  local ok = r.n == 6 and #r.failed == 0
  for i = 1, 6 do
    local v = r[i]
    ok = ok and v.i == i and math.type(v.sq) == "integer" and v.sq == i * i
      and v.name == "r" .. i and v.third == i / 3 and v.even == (i % 2 == 0)
      and v.nested[2][1] == i
  end
  t.ok(ok, "rk.replicates: results in order, integers, floats, strings, "
    .. "booleans and nested tables as returned")
  local f = rk.replicates { n = 3, run = function(i)
    if i == 2 then return false end
    if i == 3 then return nil end
    return "x" end }
  t.ok(f[1] == "x" and f[2] == false and f[3] == nil and #f.failed == 0,
    "false and nil results kept as such")
  t.raises(function() rk.replicates { n = 5, run = function(i)
      if i == 4 or i == 5 then error("boom " .. i) end return i end } end,
    "rk.replicates: replicate 4 failed: .*boom 4 %(and 1 more failed",
    "a failing replicate: the lowest one's message, and the count")
  local k = rk.replicates { n = 5, keep_going = true, run = function(i)
      if i == 4 then error("boom") end return i end }
  t.ok(k[4] == nil and k[5] == 5 and #k.failed == 1 and k.failed[1].index
    == 4 and k.failed[1].message:find("boom", 1, true),
    "keep_going: the failed one nil and listed with its message")
  t.raises(function() rk.replicates { n = 2, run = function()
      return { f = print } end } end, "replicate 1 failed: replicate 1: its "
    .. "result holds a function", "a result that cannot travel")
  t.raises(function() rk.replicates { n = 1, run = function()
      local c = {} c.c = c return c end } end,
    "nests tables more than 64 deep", "a table holding itself")
  t.raises(function() rk.replicates { n = 0, run = print } end,
    "field 'n' must be an integer in %[1, ", "n = 0")
  t.raises(function() rk.replicates { n = 2 } end,
    "field 'run' must be a function", "no run function")
end

if not rk.mpi.built then
  t.skip("MPI was not built (configure found no MPI, or --without-mpi)", 62)
  t.done()
  return
end
local st_id, uid = rk.run { "id", "-u" }
local mpirun_ok = rk.run { "mpirun", "--version" }
if mpirun_ok ~= 0 then
  t.skip("MPI was built but mpirun is not in PATH (Debian: openmpi-bin)", 62)
  t.done()
  return
end
local root = st_id == 0 and uid:match("^0%s*$") ~= nil
do
  -- can mpirun start two processes here at all (without radiokin)? A
  -- machine where it cannot is not a radiokin failure: say so and skip
  local probe = { "mpirun", "-np", "2", "--oversubscribe" }
  if root then probe[#probe + 1] = "--allow-run-as-root" end
  probe[#probe + 1] = "true"
  local st, _, err = rk.run(probe, nil, 60)
  if st ~= 0 then
    t.skip("mpirun cannot start 2 processes on this machine: "
      .. tostring(err):gsub("%s+", " "):sub(1, 200), 62)
    t.done()
    return
  end
end

-- mpirun -np n radiokin script args...: status, stdout, stderr (stopped
-- after 120 s: a hang fails the test instead of the suite)
local function mpirun(n, script, ...)
  local argv = t.mpirun(n)
  for _, a in ipairs { exe, script, ... } do argv[#argv + 1] = a end
  return rk.run(argv, nil, 120)
end

-- the peer model's cohort: 7 patients sampled from seed 5 (uneven over 2
-- and 3 ranks), two quantities, on the path given
local cohort = write(tmp .. "/cohort.lua", [[
local rk = require "radiokin"
local out, n, path = ...
local m = dofile("]] .. src .. [[/models/lu177_6c.lua")
local c = rk.cohort { model = m, n = tonumber(n), cv = 0.3, seed = 5,
  doses = { { time = 0, amount = 7400, to = "P" } }, cycles = 3,
  interval_h = 1344, tia = { "K", "T" }, path = path, progress = false }
c:write_csv(out)
local s = c:summary("K")
print(("steps %d mean %.17g p95 %.17g"):format(c.steps, s[3].mean, s[3].p95))
]])

for _, case in ipairs { { "exact", 7 }, { "cvodes", 7 }, { "exact", 2 } } do
  local path, n = case[1], case[2]
  local ref = tmp .. "/plain_" .. path .. n .. ".csv"
  local st, plain_out = rk.run { exe, cohort, ref, tostring(n), path }
  t.is(st, 0, 0, path .. ", " .. n .. " patients: the plain run")
  local want = read(ref)
  for np = 1, 3 do
    if n == 2 and np ~= 3 then goto next end
    local csv = ("%s/np%d_%s%d.csv"):format(tmp, np, path, n)
    local st2, out, err = mpirun(np, cohort, csv, tostring(n), path)
    t.ok(st2 == 0 and read(csv) == want and out == plain_out,
      ("%s, %d patients, mpirun -np %d: CSV byte-identical to the plain "
       .. "run, the same steps and summary, printed once%s"):format(path, n,
       np, st2 == 0 and "" or " (status " .. tostring(st2) .. ": "
       .. tostring(out) .. tostring(err) .. ")"))
    ::next::
  end
end

-- failed patients: 5 and 6 of 7 have a non-finite output; over 3 ranks
-- they are solved on ranks 1 and 2, and reported with their ids in the
-- whole cohort, with the first failure's message
local failing = write(tmp .. "/failing.lua", [[
local rk = require "radiokin"
local m = rk.model { name = "f", states = { "A" }, params = { k = 0.1, a = 2 },
  ode = function(s, p) return { A = -p.k * s.A } end,
  outputs = function(s, p) return { Y = rk.sqrt(p.a - 1) * s.A } end }
local pts = {}
for i = 1, 7 do pts[i] = { k = 0.1 * i, a = (i == 5 or i == 6) and 0.5 or 2 } end
local c = rk.cohort { model = m, patients = pts, cycles = 1, interval_h = 10,
  doses = { { time = 0, amount = 1, to = "A" } }, tia = { "Y" },
  progress = false }
local ids = {}
for _, f in ipairs(c.failed) do ids[#ids + 1] = f.id end
print(table.concat(ids, " "), c.failed.first_message)
print(("%.17g %.17g"):format(c.tia.Y[1][4], c.tia.Y[1][7]))
]])
do
  local _, plain = rk.run { exe, failing }
  local st, out, err = mpirun(3, failing)
  t.like(plain, "^5 6\tpatient 5, cycle 1: ", "plain run: patients 5 and 6 "
    .. "failed")
  t.ok(st == 0 and out == plain, "mpirun -np 3: the same ids, the first "
    .. "failure's message numbered in the whole cohort, same TIAs"
    .. (st == 0 and "" or " (" .. tostring(out) .. tostring(err) .. ")"))
end

-- rk.regimen over ranks: 7 patients, PP-PRRT decided from noisy imaging
-- (noise streams seeded per patient number in the whole cohort), a Lua
-- rule reading k.index / k.id / k.cov that fails for one patient
-- (keep_going), and the raise naming the first failure: the whole result,
-- dumped to 17 digits, is the same for the plain run and -np 1, 2, 3
local regimen = write(tmp .. "/regimen.lua", [[
local rk = require "radiokin"
local m = rk.model { name = "uw", nuclide = "Lu-177", states = { "B", "K", "T" },
  params = { kK = 0.02, kT = 0.01, kout = 0.3, kKo = 0.01, kTo = 0.005 },
  ode = function(s, p) return { B = -(p.kK + p.kT + p.kout) * s.B,
    K = p.kK * s.B - p.kKo * s.K, T = p.kT * s.B - p.kTo * s.T } end }
local regions = {
  kidney = { activity = "K", mass_kg = 0.3, alpha_beta_Gy = 2.6, t_rep_h = 2.8 },
  tumour = { activity = "T", mass_kg = 0.05, alpha_beta_Gy = 10, t_rep_h = 1.5 } }
local pts = {}
for i = 1, 7 do
  pts[i] = { id = "p" .. i, kK = 0.01 + 0.004 * i, kT = 0.02 - 0.002 * i,
             cov = { w = 60 + i } }
end
local function dump(v, out)
  if type(v) == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    out[#out + 1] = "{"
    for _, k in ipairs(keys) do
      out[#out + 1] = tostring(k) .. "="
      dump(v[k], out)
    end
    out[#out + 1] = "}"
  elseif type(v) == "number" then out[#out + 1] = ("%.17g,"):format(v)
  else out[#out + 1] = tostring(v) .. "," end
  return out
end
local base = { model = m, patients = pts, regions = regions, inject = "B",
  interval_h = 20000, progress = false }
local function run(o)
  for k, v in pairs(base) do o[k] = v end
  return rk.regimen(o)
end
local a = run { rule = "pp-prrt", activity_gbq = 3, target_gy = 23,
  imaging = { times_h = { 4, 24, 72 }, cv = 0.2, seed = 7 } }
local b = run { keep_going = true, max_cycles = 3, rule = function(k)
  if k.index == 5 and k.given == 1 then error("no second cycle for " .. k.id) end
  return k.given < 3 and 0.05 * k.cov.w + 0.01 * k.index or nil end }
local ok, msg = pcall(run, { max_cycles = 3, rule = function(k)
  if (k.index == 6 or k.index == 3) and k.given == 1 then error("stop") end
  return k.given < 2 and 7.4 or nil end })
print(table.concat(dump(a, {})))
print(table.concat(dump(b, {})))
print(ok, msg)
]])
do
  local st, plain, perr = rk.run { exe, regimen }
  t.ok(st == 0 and plain:find("no second cycle for p5", 1, true)
       and plain:find("rule function failed for patient p3 (patients[3]) "
                      .. "before cycle 2", 1, true),
       "rk.regimen plain run: patient p5's rule failure kept, p3 reported "
       .. "first" .. (st == 0 and "" or ": " .. tostring(perr)))
  for np = 1, 3 do
    local st2, out, err = mpirun(np, regimen)
    t.ok(st2 == 0 and out == plain, ("rk.regimen, mpirun -np %d: the whole "
      .. "result identical to the plain run's%s"):format(np, st2 == 0 and ""
      or " (" .. tostring(out) .. tostring(err) .. ")"))
  end
end

-- a streamed cohort (rk.cohort{csv = ...}) over ranks: chunks of 97 go
-- round-robin to the ranks, rank 0 writes every row in order; the CSV
-- and the summaries are the plain run's; a solver failure in a chunk of
-- rank 1 stops every rank with its message and leaves no file
local streamed = write(tmp .. "/streamed.lua", [[
local rk = require "radiokin"
local out, rtol = ...
local m = dofile("]] .. src .. [[/models/lu177_6c.lua")
local c = rk.cohort { model = m, n = 1000, cv = 0.3, seed = 9, chunk = 97,
  doses = { { time = 0, amount = 7400, to = "P" } }, cycles = 2,
  interval_h = 1344, tia = { "K" }, path = rtol and "cvodes" or "exact",
  rtol = tonumber(rtol), progress = false, csv = out, limits = { K = 25000 } }
local s = c:summary("K", { cumulative = true })
print(("%d %.17g %.17g %d"):format(c.steps, s[2].mean, s[2].p95, s[2].over))
]])
do
  local ref = tmp .. "/streamed_plain.csv"
  local st, plain = rk.run { exe, streamed, ref }
  t.is(st, 0, 0, "streamed cohort: the plain run")
  for np = 2, 3 do
    local csv = tmp .. "/streamed_np" .. np .. ".csv"
    local st2, out, err = mpirun(np, streamed, csv)
    t.ok(st2 == 0 and read(csv) == read(ref) and out == plain,
      ("streamed cohort, mpirun -np %d: CSV and summaries identical%s")
      :format(np, st2 == 0 and "" or " (" .. tostring(err) .. ")"))
  end
  rk.mkdir(tmp .. "/sfail")
  local st3, _, err = mpirun(2, streamed, tmp .. "/sfail/a.csv", "-1")
  local _, left = rk.run { "ls", "-A", tmp .. "/sfail" }
  t.ok(st3 ~= nil and st3 ~= 0 and left == "" and (err or ""):find(
    "rank 0: solver option rtol = -1 is invalid", 1, true),
    "a failing chunk: every rank stops with the message, no file left ("
    .. tostring(err) .. ")")
end

-- replicates over ranks: each replicate runs a seeded cohort (on its rank
-- alone: no collective call inside, so no hang); results identical to
-- the plain run for -np 1, 2, 3; replicate 1 sleeping 2 s: the other
-- rank takes the rest (dynamic balancing, not a fixed split); a failing
-- replicate on a worker rank is raised on every rank
local reps = write(tmp .. "/reps.lua", [[
local rk = require "radiokin"
local fail = ...
local m = dofile("]] .. src .. [[/models/lu177_6c.lua")
local r = rk.replicates { n = 5, run = function(i)
  if fail and i == 3 then error("replicate three fails") end
  local c = rk.cohort { model = m, n = 3 + i, cv = 0.3, seed = i,
    doses = { { time = 0, amount = 7400, to = "P" } }, cycles = 2,
    interval_h = 1344, tia = { "K" }, progress = false }
  return { mean = c:summary("K")[2].mean, n = c.n }
end }
for i = 1, r.n do print(("%d %.17g"):format(r[i].n, r[i].mean)) end
]])
do
  local st, plain = rk.run { exe, reps }
  t.ok(st == 0 and select(2, plain:gsub("\n", "")) == 5,
    "replicates with a cohort each: the plain run")
  for np = 1, 3 do
    local st2, out, err = mpirun(np, reps)
    t.ok(st2 == 0 and out == plain, ("replicates, mpirun -np %d: the same "
      .. "results in order%s"):format(np, st2 == 0 and "" or " ("
      .. tostring(err) .. ")"))
  end
  local st3, _, err = mpirun(3, reps, "fail")
  t.ok(st3 ~= nil and st3 ~= 0 and (err or ""):find("replicate 3 failed: "
    .. "[^\n]*replicate three fails"), "a failing replicate: raised on every "
    .. "rank, the job stops (" .. tostring(err) .. ")")
  local slow = write(tmp .. "/slow.lua", [[
local rk = require "radiokin"
local r = rk.replicates { n = 8, run = function(i)
  if i == 1 then rk.run { "sleep", "2" } end
  return rk.mpi.rank
end }
local count = {}
for i = 1, 8 do count[r[i] ] = (count[r[i] ] or 0) + 1 end
print(count[r[1] ], r.n)
]])
  local st4, out4, err4 = mpirun(2, slow)
  local with_first = tonumber((out4 or ""):match("^(%d+)"))
  t.ok(st4 == 0 and with_first and with_first <= 2, "dynamic balancing: the "
    .. "rank busy with the slow replicate ran " .. tostring(with_first)
    .. " of 8 (a fixed split: 4)" .. (st4 == 0 and "" or tostring(err4)))
end

-- population sampling over ranks: correlated covariates, a derived one,
-- an effect and an individual function; every rank samples its block
-- (patients seeded per number) and gathers all: the patients, dumped to
-- 17 digits, equal the plain run's; a patient whose effect factor is not
-- positive (linear effect, GFR far above the reference) is named by its
-- number in the whole sample
local popscript = write(tmp .. "/pop.lua", [[
local rk = require "radiokin"
local bad = ...
local m = dofile("]] .. src .. [[/models/lu177_6c.lua")
local pop = rk.population { model = m, theta = { kU = 0.5 },
  cv = { kPK = 0.3, kKP = 0.3, kU = 0.25 }, corr = { { "kPK", "kKP", 0.6 } },
  covariates = { GFR = { unit = "mL/min", dist = "normal", mean = 90,
                         sd = 20, min = 30 },
    weight_kg = { unit = "kg", dist = "lognormal", mean = 80, sd = 15 } },
  derived = function(cov) return { w2 = cov.weight_kg * 2 } end,
  effects = { { param = "kU", cov = "GFR", form = bad and "linear" or "power",
                ref = 90, beta = bad and -0.1 or 1 } },
  individual = function(th, eta, cov)
    return { kPK = th.kPK * (cov.w2 / 160) ^ 0.5 * rk.exp(eta.kPK) } end }
local ps = pop:sample { n = 11, seed = 42 }
for i = 1, #ps do
  local p = ps[i]
  print(("%d %.17g %.17g %.17g %.17g %.17g"):format(p.id, p.kPK, p.kU,
    p.eta.kKP, p.cov.GFR, p.cov.w2))
end
]])
do
  local st, plain = rk.run { exe, popscript }
  t.ok(st == 0 and select(2, plain:gsub("\n", "")) == 11,
    "pop:sample: the plain run")
  for np = 2, 3 do
    local st2, out, err = mpirun(np, popscript)
    t.ok(st2 == 0 and out == plain, ("pop:sample, mpirun -np %d: the same "
      .. "patients%s"):format(np, st2 == 0 and "" or " (" .. tostring(err)
      .. ")"))
  end
  local _, _, perr = rk.run { exe, popscript, "bad" }
  local first = perr:match("population: patient (%d+):")
  local st3, _, err = mpirun(3, popscript, "bad")
  t.ok(first and st3 ~= 0 and err:find("population: patient " .. first
    .. ":", 1, true), "a failing patient (" .. tostring(first) .. ") named "
    .. "as in the plain run (" .. tostring(err) .. ")")
end

-- population fits over ranks: each rank works its block of subjects in
-- every pass; the per-subject terms are gathered and summed in subject
-- order on every rank, so the OFV, the optimiser's path, the estimates,
-- SEs, EBEs and tables are the plain run's to the last bit. Theophylline
-- (12 subjects) by FOCE-I with the covariance step; a parent-metabolite
-- fit with censored (M3) records; FO, FOCE, Laplace and an evaluation
-- with its covariance step, dumped to 17 digits; 2 subjects over 3
-- ranks (one rank with none); a subject failing on rank 1 at the
-- initial estimates and one failing on rank 2 during the search; ranks
-- given different data.
do
  local theoph = src .. "/tests/data/theoph_nm.csv"
  -- the first two subjects of Theoph
  local few = {}
  for line in io.lines(theoph) do
    local id = line:match("^(%d+),")
    if not id or tonumber(id) <= 2 then few[#few + 1] = line end
  end
  local few_csv = write(tmp .. "/theoph2.csv", table.concat(few, "\n") .. "\n")
  -- parent + metabolite, 16 subjects, metabolite below 1.5 censored (M3)
  local rows = { "ID,TIME,AMT,CMT,EVID,DV,DVID,CENS" }
  for i = 1, 16 do
    local k = 0.3 * math.exp(0.3 * math.sin(3 * i))
    local v = 10 * math.exp(0.2 * math.cos(5 * i))
    rows[#rows + 1] = ("%d,0,100,1,1,.,.,0"):format(i)
    for j, tt in ipairs { 0.5, 1, 2, 4, 8, 12, 24, 36 } do
      local cp = 100 / v * math.exp(-k * tt)
      local cm = 100 / v * k / (0.1 - k) * (math.exp(-k * tt)
                                            - math.exp(-0.1 * tt))
      local e = math.sin(7 * i + 11 * j)
      rows[#rows + 1] = ("%d,%g,.,.,0,%.8g,1,0"):format(i, tt,
                                                         cp * (1 + 0.1 * e))
      local ym = cm + 0.1 * math.cos(5 * i + 3 * j)
      rows[#rows + 1] = ym < 1.5 and ("%d,%g,.,.,0,1.5,2,1"):format(i, tt)
        or ("%d,%g,.,.,0,%.8g,2,0"):format(i, tt, ym)
    end
  end
  local pm_csv = write(tmp .. "/pm.csv", table.concat(rows, "\n") .. "\n")
  -- Theophylline with two occasions (OCC 2 from 6 h on), for IOV
  local occ = {}
  for line in io.lines(theoph) do
    if line:match("^ID,") then
      occ[#occ + 1] = line .. ",OCC"
    elseif line:match("^%d") then
      local tt = tonumber(line:match("^[^,]*,([^,]*)"))
      occ[#occ + 1] = line .. (tt < 6 and ",1" or ",2")
    end
  end
  local iov_csv = write(tmp .. "/iov.csv", table.concat(occ, "\n") .. "\n")
  local fits = write(tmp .. "/popfit.lua", [[
local rk = require "radiokin"
local case, out, theoph, few, pmdata, iovdata = ...
local pm = dofile("]] .. src .. [[/models/theophylline.lua")
local function dump(r)
  local v = { r.ofv, r.n_eval, r.converged, r.message }
  for _, p in ipairs(r.params) do
    v[#v + 1] = p.name
    v[#v + 1] = p.estimate
    v[#v + 1] = p.se
  end
  local function sorted(tb)
    local ks = {}
    for k in pairs(tb) do ks[#ks + 1] = k end
    table.sort(ks)
    for _, k in ipairs(ks) do v[#v + 1] = k v[#v + 1] = tb[k] end
  end
  for _, e in ipairs(r.ebe) do
    v[#v + 1] = e.id
    v[#v + 1] = e.ofv
    v[#v + 1] = e.modes
    v[#v + 1] = e.ofv_gap
    sorted(e.eta)
    sorted(e.params)
    for _, o in ipairs(e.occasions or {}) do
      v[#v + 1] = o.occ
      sorted(o.eta)
    end
  end
  v[#v + 1] = r.m2ll
  v[#v + 1] = r.aic
  for i, x in ipairs(v) do
    v[i] = math.type(x) == "float" and ("%.17g"):format(x) or tostring(x)
  end
  print(table.concat(v, " "))
end
if case == "theo" then
  local r = pm:fit(theoph)
  r:write_csv(out)
  dump(r)
  -- one gather per evaluation at least when split, none alone
  local g = r.mpi
  io.stderr:write(("<ranks=%d gathers=%s>"):format(g.ranks, tostring(
    g.ranks > 1 and g.gathers > r.n_eval and g.gather_s > 0
    and g.gather_bytes >= 24 * 12 * g.gathers / 2
    or g.ranks == 1 and g.gathers == 0 and g.gather_s == 0)))
elseif case == "pm" then
  local m = rk.model { name = "parent_metabolite", states = { "P", "M" },
    params = { k = rk.positive(0.3), km = rk.positive(0.1),
               v = rk.positive(10) },
    ode = function(s, p)
      return { P = -p.k * s.P, M = p.k * s.P - p.km * s.M } end,
    outputs = function(s, p) return { cp = s.P / p.v, cm = s.M / p.v } end }
  local p2 = rk.popest { name = "pm2", model = m, observe = { "cp", "cm" },
    theta = { lk = -1, lkm = -2, lv = 2 }, omega = { lk = 0.2, lv = 0.1 },
    individual = function(th, eta)
      return { k = rk.exp(th.lk + eta.lk), km = rk.exp(th.lkm),
               v = rk.exp(th.lv + eta.lv) } end,
    error = { cp = { proportional = 0.2 }, cm = { additive = 0.1 } } }
  local r = p2:fit(pmdata)
  r:write_csv(out)
  dump(r)
elseif case == "iov" then
  local piov = rk.popest { name = "theo_iov", model = pm.model,
    observe = "conc", theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
    omega = { lKa = 0.2, lCl = 0.05 }, iov = { kCl = 0.02 },
    error = { additive = 0.5 },
    covariates = { WT = { type = "continuous", unit = "kg",
                          range = { 20, 250 } } },
    individual = function(th, eta, cov)
      local lcl = th.lCl + eta.lCl
      return { ka = rk.exp(th.lKa + eta.lKa),
               cl = rk.exp(lcl + eta.kCl) * cov.WT,
               v = rk.exp(lcl - th.lKe) * cov.WT } end }
  local r = piov:fit(iovdata)
  r:write_csv(out)
  dump(r)
elseif case == "saem_iov" then
  -- SAEM with occasion etas over the ranks: each subject's chain state
  -- holds its occasion copies (n_eta + (K-1) n_iov etas), so the gather
  -- must move the chains at that stride, not n_eta's
  local piov = rk.popest { name = "theo_iov", model = pm.model,
    observe = "conc", theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
    omega = { lKa = 0.2, lCl = 0.05 }, iov = { kCl = 0.02 },
    error = { additive = 0.5 },
    covariates = { WT = { type = "continuous", unit = "kg",
                          range = { 20, 250 } } },
    individual = function(th, eta, cov)
      local lcl = th.lCl + eta.lCl
      return { ka = rk.exp(th.lKa + eta.lKa),
               cl = rk.exp(lcl + eta.kCl) * cov.WT,
               v = rk.exp(lcl - th.lKe) * cov.WT } end }
  local r = piov:fit(iovdata, { method = "saem", saem = { burn = 15,
    iter = 15, chains = 2, imp_samples = 100 } })
  r:write_csv(out)
  dump(r)
  print(("%.17g %.17g"):format(r.saem.ofv_imp, r.saem.ofv_imp_se))
elseif case == "saem" then
  -- SAEM's own loops split over the ranks (chains, importance samples,
  -- SA standard errors), gathered in subject order
  local r = pm:fit(theoph, { method = "saem", saem = { burn = 20, iter = 20,
    chains = 2, imp_samples = 100, se = "sa", se_iter = 20 } })
  r:write_csv(out)
  dump(r)
  local s = r.saem
  local v = { s.ofv_imp, s.ofv_imp_se, s.ofv_focei, r.covariance_matrix }
  for _, row in ipairs(s.trace) do
    for _, x in ipairs(row) do v[#v + 1] = x end
  end
  for i, x in ipairs(v) do
    v[i] = math.type(x) == "float" and ("%.17g"):format(x) or tostring(x)
  end
  print(table.concat(v, " "))
  -- split: more gathers than SAEM iterations (one set per MCMC pass)
  local g = r.mpi
  io.stderr:write(("<saem ranks=%d split=%s>"):format(g.ranks, tostring(
    g.ranks > 1 and g.gathers > 6 * #s.trace or g.ranks == 1
    and g.gathers == 0)))
elseif case == "methods" then
  for _, m in ipairs { "fo", "foce", "laplace" } do
    dump(pm:fit(theoph, { method = m }))
  end
  dump(pm:evaluate(theoph, { covariance = true,
    theta = { lKe = -2.45, lKa = 0.47, lCl = -3.22 },
    omega = { lKa = 0.4, lCl = 0.03 }, sigma = { additive = 0.7 } }))
elseif case == "few" then
  local r = pm:fit(few, { covariance = false })
  r:write_csv(out)
  dump(r)
  dump(pm:evaluate(few, { covariance = true }))
elseif case == "differ" then
  pm:fit(rk.mpi.rank == 1 and few or theoph)
else
  -- a subject whose V is not finite: from the start (WT < 62: subjects
  -- 5, 10, 12; 5 is on rank 1 of 3), or once lKe moves 0.016 from its
  -- start (WT > 86: subject 9, on rank 2 of 3)
  local bad = rk.popest { name = "theo_bad", model = pm.model,
    observe = "conc", theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
    omega = { lKa = 0.2, lCl = 0.05 }, error = { additive = 0.5 },
    covariates = { WT = { type = "continuous", unit = "kg",
                          range = { 20, 250 } } },
    individual = function(th, eta, cov)
      local lcl, d = th.lCl + eta.lCl, th.lKe + 2.4
      local x = case == "fail_init" and rk.sqrt(cov.WT - 62)
        or rk.sqrt(1 - (cov.WT - 86) * d * d * 1e4)
      return { ka = rk.exp(th.lKa + eta.lKa), cl = rk.exp(lcl) * cov.WT,
               v = rk.exp(lcl - th.lKe) * cov.WT * (1 + 1e-9 * x) } end }
  dump(bad:fit(theoph, { covariance = false }))
end
]])
  local function same_csvs(a, b)
    for _, f in ipairs { "parameters.csv", "table.csv", "ebe.csv" } do
      local x = read(a .. "/" .. f)
      if not x or x ~= read(b .. "/" .. f) then return false, f end
    end
    return true
  end
  local args = { theoph, few_csv, pm_csv, iov_csv }
  for _, case in ipairs { { "theo", { 1, 2, 3 } }, { "pm", { 2, 3 } },
                          { "iov", { 2, 3 } }, { "saem", { 1, 2, 3 } },
                          { "saem_iov", { 2 } },
                          { "methods", { 3 } }, { "few", { 3 } } } do
    local name, nps = case[1], case[2]
    local ref = tmp .. "/fit_plain_" .. name
    local st, plain, perr = rk.run { exe, fits, name, ref,
                                     table.unpack(args) }
    t.ok(st == 0 and #plain > 100, name .. ": the plain fit ran"
      .. (st == 0 and "" or " (" .. tostring(perr) .. ")"))
    for _, np in ipairs(nps) do
      local dir = ("%s/fit_np%d_%s"):format(tmp, np, name)
      local st2, out, err = mpirun(np, fits, name, dir, table.unpack(args))
      local same, which = true, nil
      if name ~= "methods" then same, which = same_csvs(ref, dir) end
      if name == "saem" then
        t.ok(err:find("<saem ranks=" .. np .. " split=true>", 1, true),
          ("saem, mpirun -np %d: the chains' results gathered every "
           .. "iteration (%s)"):format(np, err))
      end
      if name == "theo" then
        t.ok(err:find("<ranks=" .. np .. " gathers=true>", 1, true),
          ("theo, mpirun -np %d: r.mpi: %d ranks, a gather per evaluation "
           .. "(none with one rank) (%s)"):format(np, np, err))
      end
      t.ok(st2 == 0 and out == plain and same, ("%s, mpirun -np %d: "
        .. "estimates, SEs, OFV and EBEs to 17 digits%s the plain "
        .. "run's%s"):format(name, np, name ~= "methods" and ", parameter, "
        .. "table and EBE CSVs byte-identical to" or " equal to",
        st2 ~= 0 and " (" .. tostring(err) .. ")" or which
        and " (" .. which .. " differs)" or ""))
    end
  end
  local st, _, err = mpirun(3, fits, "fail_init", tmp, table.unpack(args))
  local _, _, perr = rk.run { exe, fits, "fail_init", tmp,
                              table.unpack(args) }
  t.ok(st ~= nil and st ~= 0 and perr:find("subject ID 5: individual "
    .. "parameter v", 1, true) and err:find("theo_bad:fit: population fit "
    .. "at the initial estimates: EBE: subject ID 5: individual parameter v",
    1, true), "a subject failing on rank 1 of 3 at the start: every rank "
    .. "stops with its message (" .. tostring(err):sub(1, 300) .. ")")
  local _, plain_mid = rk.run { exe, fits, "fail_mid", tmp,
                                table.unpack(args) }
  local st2, out2, err2 = mpirun(3, fits, "fail_mid", tmp,
                                 table.unpack(args))
  t.ok(st2 == 0 and plain_mid:find("stopped after %d+ evaluations.*subject "
    .. "ID 9: individual parameter v") and out2 == plain_mid, "a subject "
    .. "failing on rank 2 of 3 during the search: the fit stops on every "
    .. "rank with the plain run's message and last estimates ("
    .. tostring(out2) .. tostring(err2) .. ")")
  local st3, _, err3 = mpirun(2, fits, "differ", tmp, table.unpack(args))
  t.ok(st3 ~= nil and st3 ~= 0 and err3:find("rank 1: the dataset has 2 "
    .. "subjects and 22 observations here but 12 and 132 on rank 0 (every "
    .. "rank must fit the same data)", 1, true), "ranks given different "
    .. "data: refused on every rank, no hang (" .. tostring(err3):sub(1, 300)
    .. ")")
end

-- examples/mpi_popfit.lua: the same estimates and SEs printed by a plain
-- run and over 2 ranks (the first line names the ranks, the last the
-- gather time); examples/slurm_popfit.sh parses (bash -n)
do
  local ex = src .. "/examples/mpi_popfit.lua"
  local st, plain = rk.run { exe, ex }
  local st2, out, err = mpirun(2, ex)
  local function body(text)
    return (text or ""):gsub("^[^\n]*\n", ""):gsub("rank 0 spent[^\n]*\n$",
                                                    "")
  end
  local sh = rk.run { "bash", "-n", src .. "/examples/slurm_popfit.sh" }
  t.ok(st == 0 and st2 == 0 and (out or ""):find("over 2 rank%(s%)")
       and body(out) == body(plain) and #body(plain) > 100 and sh == 0,
       "examples/mpi_popfit.lua: mpirun -np 2 prints the plain run's "
       .. "estimates and SEs; slurm_popfit.sh parses (" .. tostring(err)
       .. ")")
end

-- one rank fails before the collective call: the job stops (MPI_Abort)
-- with that rank's message, never waiting for it
do
  local bad = write(tmp .. "/rank_fails.lua", [[
local rk = require "radiokin"
if rk.mpi.rank == 1 then error("rank one gives up") end
local m = dofile("]] .. src .. [[/models/lu177_6c.lua")
rk.cohort { model = m, n = 4, doses = { { time = 0, amount = 1, to = "P" } },
  cycles = 1, interval_h = 10, tia = { "K" }, progress = false }
]])
  local st, out, err = mpirun(3, bad)
  t.ok(st ~= nil and st ~= 0, "a failing rank: mpirun exits non-zero "
    .. "(not stopped by the timeout: " .. tostring(st) .. ")")
  t.like(err or out, "rank 1 of 3%): .*rank one gives up",
    "... with the rank's message")
end

-- the same, and output files: only rank 0 writes; a script that writes
-- from every rank through radiokin's writers leaves one whole file
do
  local s = write(tmp .. "/writes.lua", [[
local rk = require "radiokin"
rk.write_atomic(..., ("rank %d of %d\n"):format(rk.mpi.rank, rk.mpi.size))
]])
  local st = mpirun(3, s, tmp .. "/w.txt")
  t.ok(st == 0 and read(tmp .. "/w.txt") == "rank 0 of 3\n",
    "rk.write_atomic from every rank: rank 0's file only")
end

-- rk.mpi under mpirun: each rank its own number
do
  local s = write(tmp .. "/ranks.lua", [[
local rk = require "radiokin"
io.stderr:write(("<%d/%d>"):format(rk.mpi.rank, rk.mpi.size))
]])
  local st, _, err = mpirun(3, s)
  local seen = {}
  for r in (err or ""):gmatch("<(%d)/3>") do seen[#seen + 1] = r end
  table.sort(seen)
  t.ok(st == 0 and table.concat(seen, ",") == "0,1,2",
    "rk.mpi.rank 0, 1, 2 and size 3 under mpirun -np 3")
end

-- rk.mpi.gather_time under mpirun: a positive time on every rank, the
-- shortest not above the mean
do
  local s = write(tmp .. "/gtime.lua", [[
local rk = require "radiokin"
local mean, least = rk.mpi.gather_time(2400, 20)
io.stderr:write(("<%d:%s>"):format(rk.mpi.rank,
  tostring(mean > 0 and least > 0 and least <= mean and mean < 1)))
]])
  local st, _, err = mpirun(3, s)
  local n = select(2, (err or ""):gsub("<%d:true>", ""))
  t.ok(st == 0 and n == 3, "rk.mpi.gather_time, mpirun -np 3: 0 < least "
    .. "<= mean < 1 s on every rank (" .. tostring(err) .. ")")
end

t.done()
