-- tests/simulate.lua - simulating a NONMEM-style dataset: rk.data reads
-- a dataset without DV, d:simulate predicts every observation record
-- (PRED, IPRED, simulated DV), r:write_csv writes the table. Values
-- against closed forms of the one-compartment model and against
-- m:simulate with the same doses.
local rk = require "radiokin"
local t = require "radiokin.tap"

local exp = math.exp
local tmp = t.scratch()
local function file(name, text) return t.write_file(tmp .. "/" .. name, text) end

local k, V = 0.1, 5   -- 1/h, L
-- One compartment: amount A (mg), output the concentration A / V (mg/L).
local one = rk.model {
  name = "one", states = { "A" }, params = { k = k, V = V },
  ode = function(s, p) return { A = -p.k * s.A } end,
  outputs = function(s, p) return { C = s.A / p.V } end,
}

-- Closed forms (Gibaldi & Perrier, Pharmacokinetics 2nd ed., ch. 1-2):
-- a bolus D at 0: D e^-kt; an infusion of rate R for T h from 0:
-- R/k (1 - e^-k min(t,T)) e^-k max(t-T, 0).
local function bolus(D, s, kk) return s < 0 and 0 or D * exp(-(kk or k) * s) end
local function infusion(R, T, s, kk)
  kk = kk or k
  if s <= 0 then return 0 end
  if s <= T then return R / kk * (1 - exp(-kk * s)) end
  return R / kk * (1 - exp(-kk * T)) * exp(-kk * (s - T))
end

-- 1. Bolus + infusion, no DV column. Subject 1: observation at 0 before
-- the bolus (record order: sees 0), bolus 100 mg at 0, infusion 60 mg at
-- 20 mg/h from 10 h; subject 2: only a dose (no observation: allowed);
-- subject 3: infusion only, CMT selecting the state A on one record.
local p1 = file("nodv.csv", [[
ID,TIME,AMT,RATE,EVID,CMT
1,0,.,.,0,.
1,0,100,0,1,1
1,1,.,.,0,.
1,5,.,.,0,.
1,10,.,.,0,.
1,10,60,20,1,1
1,12,.,.,0,.
1,13,.,.,0,.
1,24,.,.,0,.
2,0,100,0,1,1
3,0,50,10,1,1
3,2,.,.,0,1
3,8,.,.,0,.
]])
do
  local d = rk.data(p1, one)
  t.is(d.n_subjects, 3, "rk.data: 3 subjects (one without observations)")
  t.is(d.n_obs, 9, "rk.data: 9 prediction records")
  local r = d:simulate(one)
  local function c1(s)
    local a = bolus(100, s)
    if s > 10 then a = a + infusion(20, 3, s - 10) end
    return a
  end
  local want = { 0, c1(1) / V, c1(5) / V, c1(10) / V, c1(12) / V,
                 c1(13) / V, c1(24) / V, infusion(10, 5, 2), infusion(10, 5, 8) / V }
  t.is(r.n, 9, "d:simulate: one row per observation record")
  for i = 1, 9 do
    t.is(r.pred[i], want[i], 1e-8, ("PRED row %d (ID %g, t %g) = closed form")
         :format(i, r.id[i], r.time[i]))
    t.is(r.ipred[i], r.pred[i], "IPRED = PRED without a population")
    t.ok(r.dv[i] ~= r.dv[i], "DV missing (NaN) without residual error")
  end
  -- Read without a model: the same predictions (CMT numbers only).
  local r0 = rk.data(p1):simulate(one)
  t.is(r0.pred[5], want[5], 1e-8, "rk.data(path) without a model: same PRED")
  -- Parameters: PRED at other typical values.
  local r2 = d:simulate(one, { params = { k = 0.2 } })
  t.is(r2.pred[3], bolus(100, 5, 0.2) / V, 1e-8, "params = {k = 0.2}: PRED")
  -- The table.
  local out = tmp .. "/table.csv"
  r:write_csv(out)
  local f = assert(io.open(out))
  local text = f:read("a")
  f:close()
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  t.is(lines[1], "ID,TIME,EVID,MDV,DV,PRED,IPRED", "write_csv: header")
  t.is(#lines, 10, "write_csv: header + 9 rows")
  t.like(lines[3], "^1,1,0,0,%.,", "write_csv: row 2 ID 1, TIME 1, DV '.'")
  local pr = tonumber(lines[3]:match("^[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,([^,]*),"))
  t.is(pr, want[2], 1e-9, "write_csv: PRED as written")
end

-- 1a. rows = "all": every record is a row (NONMEM's table), in file order,
-- a dose record's row after its own dose (MDV 1, DV missing).
do
  local d = rk.data(p1, one, { rows = "all" })
  t.is(d.n_obs, 13, "rows = 'all': one row per record")
  local r = d:simulate(one, { seed = 1, residual = { proportional = 0.1 } })
  local evid = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0 }
  local c1at = function(s)
    local a = bolus(100, s)
    if s > 10 then a = a + infusion(20, 3, s - 10) end
    return a / V
  end
  local want = { 0, 100 / V, c1at(1), c1at(5), c1at(10), c1at(10), c1at(12),
                 c1at(13), c1at(24), 100 / V, 0, infusion(10, 5, 2),
                 infusion(10, 5, 8) / V }
  for i = 1, 13 do
    t.is(r.evid[i], evid[i], ("rows = 'all': EVID of row %d"):format(i))
    t.is(r.mdv[i], evid[i] == 0 and 0 or 1, ("rows = 'all': MDV of row %d"):format(i))
    t.is(r.pred[i], want[i], 1e-8, ("rows = 'all': PRED row %d = closed form"):format(i))
    t.ok((r.dv[i] == r.dv[i]) == (evid[i] == 0),
         ("rows = 'all': simulated DV only on observation rows (%d)"):format(i))
  end
  local pr = file("reset.csv", "ID,TIME,AMT,EVID,CMT\n1,0,100,1,1\n1,5,.,0,.\n1,6,.,3,.\n" ..
                  "1,7,.,0,.\n1,8,50,4,1\n1,9,.,0,.\n1,9,.,2,.\n")
  local rr = rk.data(pr, one, { rows = "all" }):simulate(one)
  local wr = { 100 / V, bolus(100, 5) / V, 0, 0, 50 / V, bolus(50, 1) / V, bolus(50, 1) / V }
  for i = 1, 7 do
    t.is(rr.pred[i], wr[i], 1e-8, ("EVID 3 / 4 / 2 rows: PRED row %d"):format(i))
  end
  t.is(rr.evid[3], 3, "EVID 3 row kept")
  t.is(rr.evid[7], 2, "EVID 2 row kept")
  local out = tmp .. "/all.csv"
  rr:write_csv(out)
  local f = assert(io.open(out))
  f:read("l")
  t.like(f:read("l"), "^1,0,1,1,%.,20,20$", "write_csv: a dose row (EVID 1, MDV 1, DV '.')")
  f:close()
  t.raises(function() return rk.data(p1, one, { rows = "some" }) end,
           "field 'rows' must be", "rk.data: bad rows")
end

-- 1b. A DV column with blank cells on a simulation dataset; the
-- estimation reader still rejects them.
do
  local p = file("blankdv.csv", "ID,TIME,DV,AMT,CMT\n1,0,.,100,1\n1,2,,.,.\n1,4,3.5,.,.\n")
  local d = rk.data(p, one)
  local r = d:simulate(one)
  t.is(r.pred[1], bolus(100, 2) / V, 1e-8, "blank DV: a prediction time")
  t.is(r.dv[2], 3.5, "a given DV is kept")
  t.raises(function() return rk.popest.read(p, one) end,
           "column DV: missing", "the estimation reader still needs DV")
end

-- 1c. An observation written after a dose record at the subject's last
-- time sees that dose; one written before it does not.
do
  local p = file("last.csv", "ID,TIME,AMT,CMT\n1,0,100,1\n1,10,.,.\n1,10,50,1\n1,10,.,.\n")
  local r = rk.data(p, one):simulate(one)
  t.is(r.pred[1], bolus(100, 10) / V, 1e-8, "record before the dose at the last time: pre-dose")
  t.is(r.pred[2], (bolus(100, 10) + 50) / V, 1e-8, "record after the dose at the last time: sees it")
end

-- 2. SS and ADDL rows vs m:simulate with the same doses.
do
  local p = file("ss.csv", [[
ID,TIME,AMT,RATE,II,ADDL,SS,EVID,CMT
1,0,100,0,12,2,1,1,1
1,1,.,.,.,.,.,0,.
1,12,.,.,.,.,.,0,.
1,30,.,.,.,.,.,0,.
1,36,40,20,24,1,0,1,1
1,37,.,.,.,.,.,0,.
1,61,.,.,.,.,.,0,.
1,70,.,.,.,.,.,0,.
]])
  local r = rk.data(p, one):simulate(one)
  local times = { 1, 12, 30, 37, 61, 70 }
  local m = one:simulate {
    doses = { { time = 0, amount = 100, to = "A", ii = 12, addl = 2, ss = 1 },
              { time = 36, amount = 40, rate = 20, to = "A", ii = 24, addl = 1 } },
    times = times,
  }
  for i, tt in ipairs(times) do
    t.is(r.pred[i], m.C[i], 1e-10, ("SS/ADDL dataset = m:simulate at %g h"):format(tt))
  end
  -- the CVODES path (steady state by Newton on the periodic condition)
  local rc = rk.data(p, one):simulate(one, { path = "cvodes", rtol = 1e-9, atol = 1e-12 })
  for i, tt in ipairs(times) do
    t.is(rc.pred[i], r.pred[i], 1e-6, ("SS/ADDL dataset: CVODES = exact at %g h"):format(tt))
  end
  local differs = false
  for i = 1, #times do differs = differs or rc.pred[i] ~= r.pred[i] end
  t.ok(differs, "path = 'cvodes' is taken (not bit-identical to the exact path)")
  t.raises(function() return rk.data(p, one):simulate(one, { path = "euler" }) end,
           "field 'path' must be", "an unknown path")
  -- and the SS=1 bolus closed form at 1 h: D e^-k / (1 - e^-12k)
  t.is(r.pred[1], 100 * exp(-k) / (1 - exp(-12 * k)) / V, 1e-8,
       "SS=1 bolus: closed form")
end

-- 3. Residual error: proportional sigma 0.1 on many records, seeded.
do
  local rows = { "ID,TIME,AMT,CMT" }
  for id = 1, 50 do
    rows[#rows + 1] = ("%d,0,100,1"):format(id)
    for j = 1, 40 do rows[#rows + 1] = ("%d,%g,.,."):format(id, j) end
  end
  local d = rk.data(file("many.csv", table.concat(rows, "\n") .. "\n"), one)
  local sigma = 0.1
  local r = d:simulate(one, { seed = 7, residual = { proportional = sigma } })
  local n, s, s2 = r.n, 0, 0
  for i = 1, n do
    local e = (r.dv[i] - r.ipred[i]) / r.ipred[i]
    s, s2 = s + e, s2 + e * e
  end
  local mean = s / n
  local sd = math.sqrt((s2 - n * mean * mean) / (n - 1))
  -- n = 2000: SE of the mean sigma/sqrt(n) = 0.0022, of the SD about
  -- sigma/sqrt(2n) = 0.0016; bands of 4 SE.
  t.is(n, 2000, "2000 records")
  t.ok(math.abs(mean) < 4 * sigma / math.sqrt(n), ("mean of (DV-IPRED)/IPRED %.5f within 4 SE of 0"):format(mean))
  t.ok(math.abs(sd - sigma) < 4 * sigma / math.sqrt(2 * n), ("SD %.5f within 4 SE of sigma 0.1"):format(sd))
  local again = d:simulate(one, { seed = 7, residual = { proportional = sigma } })
  t.is(again.dv[17], r.dv[17], "the same seed gives the same DV")
  local other = d:simulate(one, { seed = 8, residual = { proportional = sigma } })
  t.ok(other.dv[17] ~= r.dv[17], "another seed gives another DV")
  t.raises(function() return d:simulate(one, { residual = { proportional = sigma } }) end,
           "seed", "residual error needs a seed")
  -- Both: z = (DV - IPRED) / sqrt(IPRED^2 p^2 + a^2) ~ N(0, 1) when e1, e2
  -- are independent (with one shared draw its SD would reach ~1.4 where
  -- IPRED p ~ a).
  local b = d:simulate(one, { seed = 5, residual = { proportional = 0.1, additive = 0.5 } })
  local sz2 = 0
  for i = 1, b.n do
    local z = (b.dv[i] - b.ipred[i]) / math.sqrt((0.1 * b.ipred[i]) ^ 2 + 0.25)
    sz2 = sz2 + z * z
  end
  t.ok(math.abs(math.sqrt(sz2 / b.n) - 1) < 4 / math.sqrt(2 * b.n),
       ("combined error: SD of the standardised residual %.4f within 4 SE of 1")
       :format(math.sqrt(sz2 / b.n)))
  local a = d:simulate(one, { seed = 3, residual = { additive = 0.5 } })
  local sa, sa2 = 0, 0
  for i = 1, a.n do local e = a.dv[i] - a.ipred[i]; sa, sa2 = sa + e, sa2 + e * e end
  t.ok(math.abs(math.sqrt(sa2 / a.n) - 0.5) < 4 * 0.5 / math.sqrt(2 * a.n),
       "additive 0.5: RMS of DV - IPRED within 4 SE")
end

-- 4. IPRED from a population (one patient per subject) and covariates.
do
  local p = file("pop.csv", "ID,TIME,AMT,CMT,WT\n1,0,100,1,70\n1,5,.,.,70\n2,0,100,1,50\n2,5,.,.,50\n")
  local d = rk.data(p, one)
  local r = d:simulate(one, { population = { { k = 0.2 }, { k = 0.05 } } })
  t.is(r.ipred[1], bolus(100, 5, 0.2) / V, 1e-8, "IPRED subject 1 at its k")
  t.is(r.ipred[2], bolus(100, 5, 0.05) / V, 1e-8, "IPRED subject 2 at its k")
  t.is(r.pred[2], bolus(100, 5) / V, 1e-8, "PRED at the typical k")
  t.raises(function() return d:simulate(one, { population = { { k = 0.2 } } }) end,
           "has 1 patients but the dataset", "population size must match")
  local wt = rk.model {
    name = "wt", states = { "A" }, params = { k = k, WT = 70 },
    ode = function(s, p) return { A = -p.k * s.A } end,
    outputs = function(s, p) return { C = s.A / (0.1 * p.WT) } end,
  }
  local rw = rk.data(p, wt):simulate(wt, { covariates = { "WT" } })
  t.is(rw.pred[2], bolus(100, 5) / 5, 1e-8, "covariate WT = 50 from the dataset")
  t.raises(function() return rk.data(p, wt):simulate(wt, { covariates = { "BW" } }) end,
           "unknown parameter 'BW'", "a covariate that is no model parameter")
  local p2 = file("nowt.csv", "ID,TIME,AMT,CMT\n1,0,100,1\n1,5,.,.\n")
  t.raises(function() return rk.data(p2, wt):simulate(wt, { covariates = { "WT" } }) end,
           "no column for it", "a covariate the dataset lacks")
  local p3 = file("wtmiss.csv", "ID,TIME,AMT,CMT,WT\n1,0,100,1,70\n1,5,.,.,70\n7,0,100,1,.\n7,5,.,.,.\n")
  t.raises(function() return rk.data(p3, wt):simulate(wt, { covariates = { "WT" } }) end,
           "subject ID 7 %(line 4%): covariate WT is missing", "a subject without the covariate")
end

-- 5. Bad input.
t.raises(function() return rk.data(tmp .. "/absent.csv", one) end,
         "absent.csv", "an unknown dataset file names it")
t.raises(function() return rk.data(p1, one):simulate(one, { sed = 1 }) end,
         "unknown field 'sed'", "a typo in the options")
t.raises(function() return rk.data(file("noid.csv", "TIME,AMT\n0,1\n")) end,
         "no ID column", "a dataset without ID")

-- 6. scripts/simulate.lua (loaded as a module: arg hidden so it does not
-- run its own main).
do
  local srcdir = os.getenv("RADIOKIN_SRCDIR") or "."
  local saved = arg
  arg = { [0] = "tests" }
  local S = dofile(srcdir .. "/scripts/simulate.lua")
  arg = saved
  local out = tmp .. "/script.csv"
  local r = S.main { srcdir .. "/tests/data/sim_onecomp.csv",
                     srcdir .. "/tests/data/sim_onecomp_model.lua",
                     "--out", out, "--prop", "0.1", "--seed", "7" }
  -- ID 2 at 30 h: SS=1 bolus 100 mg, II 12, ADDL 2 (last dose at 24 h)
  t.is(r.pred[4], 100 * exp(-0.6 * 1) / (1 - exp(-1.2)) / V, 1e-8,
       "script: SS + ADDL prediction at 30 h")
  t.ok(r.simulated and r.dv[1] ~= r.pred[1], "script: --prop simulates DV")
  local f = assert(io.open(out))
  t.is(f:read("l"), "ID,TIME,EVID,MDV,DV,PRED,IPRED", "script: table written")
  f:close()
  t.like(S.HELP, "Example", "script: --help has an example")
  local ra = S.main { srcdir .. "/tests/data/sim_onecomp.csv",
                      srcdir .. "/tests/data/sim_onecomp_model.lua",
                      "--out", tmp .. "/all.csv", "--all-records" }
  t.is(ra.n, 7, "script --all-records: a row per record")
  t.is(ra.pred[1], 100 / V, 1e-8, "script --all-records: the dose row after its dose")
  -- --population: IPRED at one sampled patient per subject (seeded), the
  -- same patients pop:sample gives with that seed.
  local popfile = srcdir .. "/tests/data/sim_onecomp_pop.lua"
  local rp = S.main { srcdir .. "/tests/data/sim_onecomp.csv", popfile,
                      "--out", tmp .. "/pop.csv", "--population", "--seed", "11" }
  local spec = dofile(popfile)
  local pats = spec.population:sample { n = 2, seed = 11 }
  t.is(rp.ipred[1], bolus(100, 1, pats[1].k) / V, 1e-8,
       "script --population: IPRED of subject 1 at its sampled k")
  t.ok(rp.ipred[1] ~= rp.pred[1], "script --population: IPRED differs from PRED")
  t.raises(function() S.main { srcdir .. "/tests/data/sim_onecomp.csv",
                               srcdir .. "/tests/data/sim_onecomp_model.lua", "--population" } end,
           "returns no population", "script: --population without a population")
  t.raises(function() S.main { srcdir .. "/tests/data/sim_onecomp.csv", tmp .. "/none.lua" } end,
           "none.lua: cannot open the model file", "script: unknown model file")
  t.raises(function() S.main { "a.csv" } end, "give a dataset file and a model file",
           "script: missing argument")
  t.raises(function() S.main { "a.csv", "b.lua", "--prop", "-1" } end,
           "--prop needs a number", "script: bad --prop")
end

t.done()
