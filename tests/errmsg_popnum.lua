-- tests/errmsg_popnum.lua - error messages of population fits and
-- virtual populations that a script reaches through the bindings
-- (dsl/l_popest.c, l_popeval.c, l_popresult.c, l_popcheck.c, l_popdata.c,
-- l_population.c): a freed dataset or population, bad arguments, files
-- in the way, provoked one by one and their text asserted; each call
-- fails and leaves nothing half-written (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local tmp = t.scratch()
local m = rk.model {
  name = "pk1", states = { "A" }, params = { cl = 0.5, v = 5 },
  ode = function(s, p) return { A = -p.cl / p.v * s.A } end,
  outputs = function(s, p) return { C = s.A / p.v } end,
}
local text = "ID,TIME,AMT,DV,WT\n1,0,100,.,70\n1,1,.,17,70\n1,4,.,11,70\n"
  .. "2,0,100,.,80\n2,1,.,19,80\n2,4,.,10,80\n3,0,100,.,60\n3,1,.,16,60\n"
  .. "3,4,.,12,60\n"
local path = t.write_file(tmp .. "/d.csv", text)
local function indiv(th, eta)
  return { cl = rk.exp(th.lCl + eta.lCl), v = rk.exp(th.lV) }
end
local pm = rk.popest { name = "e", model = m, observe = "C",
  theta = { lCl = -0.7, lV = 1.6 }, omega = { lCl = 0.1 },
  individual = indiv, error = { proportional = 0.1 } }

-- ------------------------------------------------------------ a result
local d = rk.popest.read(path, pm)
local r = pm:fit(d, { threads = 1, method = "fo" })
t.raises(function() r:write_csv(5) end, "r:write_csv: expected a folder "
  .. "name (got 5.0); call it as r:write_csv(dir)", "write_csv of a number")
-- a folder where table.csv goes: refused before anything is replaced
local out = tmp .. "/out"
rk.mkdir(out)
rk.mkdir(out .. "/table.csv")
t.raises(function() r:write_csv(out) end, "table.csv': it is a directory, "
  .. "not a regular file; refusing to replace it", "write_csv over a folder")
t.is(t.list_dir(out), "table.csv\n", "... nothing else written")

-- ------------------------------------------------------ evaluate's values
t.raises(function() pm:evaluate(d, { theta = 5 }) end, "e:evaluate: field "
  .. "'theta' must be a table NAME = value (got 5.0)", "theta a number")

-- ------------------------------------------------ a dataset changed on disk
t.write_file(path, "ID,TIME,AMT,DV,WT\n1,0,100,.,70\n1,1,.,17,70\n")
t.raises(function() rk.popest.resample(d, { 1, 2, 3 }) end,
  "rk.popest.resample: " .. path .. ": resampling draws subject 2 of 1",
  "resampling a file rewritten since with fewer subjects")
t.write_file(path, text)

-- ------------------------------------------------------- a freed dataset
getmetatable(d).__gc(d)
t.raises(function() return d.n_subjects end, "dataset was freed",
  "a field of a freed dataset")
t.raises(function() return pm:fit(d) end, "e:fit: the dataset was freed",
  "fitting a freed dataset")
-- with declared covariates the freed check comes first (the declarations
-- were checked against the freed dataset's NULL)
local pmc = rk.popest { name = "ec", model = m, observe = "C",
  theta = { lCl = -0.7, lV = 1.6 }, omega = { lCl = 0.1 },
  covariates = { WT = { type = "continuous", unit = "kg",
                        range = { 30, 150 } } },
  individual = function(th, eta, cov)
    return { cl = rk.exp(th.lCl + eta.lCl) * cov.WT / 70,
             v = rk.exp(th.lV) }
  end, error = { proportional = 0.1 } }
local dc = rk.popest.read(path, pmc)
getmetatable(dc).__gc(dc)
t.raises(function() return pmc:fit(dc) end, "ec:fit: the dataset was freed",
  "fitting a freed dataset with declared covariates")

-- ------------------------------ more outputs by DVID than a fit can map
do
  local names = {}
  for i = 1, 257 do names[i] = "C" .. i end
  local many = rk.model { name = "many", states = { "A" },
    params = { cl = 0.5, v = 5 },
    ode = function(s, p) return { A = -p.cl / p.v * s.A } end,
    outputs = function(s, p)
      local o = {}
      for i = 1, 257 do o["C" .. i] = s.A * i / p.v end
      return o
    end }
  local dpath = t.write_file(tmp .. "/dvid.csv", "ID,TIME,AMT,DV,DVID\n"
    .. "1,0,100,.,.\n1,1,.,17,1\n1,2,.,30,2\n2,0,100,.,.\n2,1,.,16,1\n")
  local pm2 = rk.popest { name = "e2", model = many, observe = { "C1", "C2" },
    theta = { lCl = -0.7, lV = 1.6 }, omega = { lCl = 0.1 },
    individual = indiv,
    error = { C1 = { additive = 1 }, C2 = { additive = 1 } } }
  local d2 = rk.popest.read(dpath, pm2, { dvid = names })
  t.raises(function() return pm2:fit(d2, { threads = 1, method = "fo" }) end,
    "e2:fit: the dataset selects 257 outputs by DVID (at most 256 with "
    .. "several endpoints)", "257 outputs by DVID")
end

-- ------------------------------------------------- a virtual population
local pk = rk.model { name = "pk", states = { "P", "K" },
  params = { kPK = 0.03, kKP = 0.01, kU = 0.5 },
  ode = function(s, p)
    return { P = -(p.kPK + p.kU) * s.P + p.kKP * s.K,
             K = p.kPK * s.P - p.kKP * s.K }
  end }
t.raises(function()
  rk.population { model = pk, omega = { names = { "kPK", "kKP" },
                                        matrix = { { 0.1, 0 }, { 0.1 } } } }
end, "omega.matrix[2] has 1 numbers, expected 2", "an omega row too short")
local pop = rk.population { model = pk, cv = { kPK = 0.3 } }
local pts = pop:sample { n = 2, seed = 1 }
if pts.column then
  t.raises(function() pts:column("dose.total") end, "patients:column: "
    .. "patients[1] has no table 'dose'", "a column of a missing table "
    .. "(named, not '(null)')")
else
  t.skip("patients have no column method", 1)
end
-- a cohort of those patients: quantiles are probabilities
local c = rk.cohort { model = pk, patients = pts, cycles = 1,
  interval_h = 100, doses = { { time = 0, amount = 100, to = "P" } },
  tia = { "K" }, progress = false }
t.raises(function() return c:summary("K", { quantiles = { 0.5, 1.5 } }) end,
  "c:summary: quantiles[2] must be a probability in [0, 1] (got 1.5",
  "a quantile of 1.5")
-- a patient whose covariates were removed after the run
do
  local popw = rk.population { model = pk, cv = { kPK = 0.3 },
    covariates = { WT = { dist = "normal", unit = "kg", mean = 70,
                          sd = 10 } } }
  local cw = rk.cohort { model = pk, patients = popw:sample { n = 3,
    seed = 1 }, cycles = 1, interval_h = 100,
    doses = { { time = 0, amount = 100, to = "P" } }, tia = { "K" },
    progress = false }
  cw.patients[2].cov = nil
  t.raises(function() cw:write_csv(tmp .. "/w.csv", { covariates = true })
  end, "c:write_csv: patients[2] has no table 'cov'",
    "write_csv of covariates a patient lacks")
  t.is(t.list_dir(tmp):find("w.csv", 1, true), nil, "... no CSV written")
end
-- streamed to a CSV file: the same rule, checked before anything runs
t.raises(function()
  return rk.cohort { model = pk, n = 3, seed = 1, cv = 0.3, cycles = 1,
    interval_h = 100, doses = { { time = 0, amount = 100, to = "P" } },
    tia = { "K" }, progress = false, csv = tmp .. "/c.csv",
    quantiles = { -0.5 } }
end, "rk.cohort: quantiles[1] must be a probability in [0, 1] (got -0.5)",
  "a streamed cohort's quantile of -0.5")
t.is(t.list_dir(tmp):find("c.csv", 1, true), nil, "... no CSV written")
getmetatable(pop).__gc(pop)
t.raises(function() pop:sample { n = 1, seed = 1 } end,
  "population already freed", "sampling a freed population")

t.done()
