-- vpcstrat.lua - stratified visual predictive checks (pm:vpc{strat =,
-- strat_cuts =}, scripts/vpc.lua --strat): every stratum's observed
-- percentiles from its own subjects only, its simulated ones from the
-- same subjects' simulations, the strata of a categorical column and of
-- cut points, CSV and plots per stratum, coverage on data simulated from
-- a model where the covariate matters, and the refusals.
local rk = require "radiokin"
local t = require "radiokin.tap"
local check = require "radiokin.popcheck"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local tmp = t.scratch()

-- y = theta + beta SEX + eta + eps: the output is the parameter itself.
local lin_m = rk.model {
  name = "level", states = { "a" }, params = { mu = 1 },
  ode = function(s, p) return { a = 0 * s.a } end,
  outputs = function(s, p) return { y = p.mu + 0 * s.a } end,
}
local function lin_pm(beta)
  return rk.popest {
    name = "linsex", model = lin_m, observe = "y",
    theta = { mu = 5, beta = beta }, omega = { mu = 0.2 },
    individual = function(theta, eta, cov)
      return { mu = theta.mu + theta.beta * cov.SEX + eta.mu }
    end,
    error = { additive = 0.3 },
    covariates = { SEX = { type = "categorical", levels = { 0, 1 } },
                   WT = { type = "continuous", unit = "kg",
                          range = { 20, 200 } } },
  }
end
local lin = lin_pm(3)
local truth = { theta = { mu = 5, beta = 3 }, omega = lin.omega,
                sigma = { additive = 0.3 } }

-- Design: n subjects, SEX = i mod 2, WT = 50 + i (so 60 and 80 fall on
-- subjects 10 and 30), observed at the time T[g], g = floor((i - 1) / 2)
-- mod #T + 1 (both sexes at every time).
local T = { 1, 2, 4, 8 }
local function design(path, n, dv)
  local rows = { "ID,TIME,AMT,DV,EVID,CMT,SEX,WT" }
  for i = 1, n do
    local sex, wt = i % 2, 50 + i
    rows[#rows + 1] = ("%d,0,1,.,1,1,%d,%d"):format(i, sex, wt)
    local g = ((i - 1) // 2) % #T + 1
    rows[#rows + 1] = ("%d,%g,0,%.17g,0,1,%d,%d"):format(i, T[g],
      dv and dv[i] or (sex == 1 and 100 + i or i), sex, wt)
  end
  return t.write_file(path, table.concat(rows, "\n") .. "\n")
end

-- ---------------------------------------- strata hold their subjects
-- DV of subject i: i (SEX 0) or 100 + i (SEX 1). One bin: the observed
-- percentiles of stratum SEX=0 are the type-7 quantiles of the even i,
-- those of SEX=1 of 100 + the odd i. A hand-made simulation puts 1 on
-- every SEX 0 record and 1000 on every SEX 1 record: each stratum's
-- simulated percentiles are its own constant.
do
  local n = 40
  local path = design(tmp .. "/d.csv", n)
  local data = rk.popest.read(path, lin)
  local fake = lin:simulate(data, truth, { n = 3, seed = 1 })
  for r = 1, 3 do
    for g = 1, n do fake.dv[r][g] = (fake.id[g] % 2 == 1) and 1000 or 1 end
  end
  local v = lin:vpc(data, truth, { bins = { 0, 10 }, sim = fake,
                                   strat = "SEX" })
  t.is(#v.strata, 2, "strat = \"SEX\": two strata")
  t.ok(v.strata[1].label == "SEX=0" and v.strata[2].label == "SEX=1"
    and v.strata[1].value == 0 and v.strata[1].n_subjects == 20,
    "strata labelled SEX=0, SEX=1 (sorted), 20 subjects each")
  t.ok(v.endpoints == nil and v.strat == "SEX", "stratified result: "
    .. "r.strata, no pooled r.endpoints")
  for k, st in ipairs(v.strata) do
    local own = {}
    for i = 1, n do
      if i % 2 == k - 1 then own[#own + 1] = k == 1 and i or 100 + i end
    end
    table.sort(own)
    local b = st.endpoints[1].bins[1]
    t.is(b.n, 20, st.label .. ": 20 observations in its bin")
    local worst = 0
    for j, p in ipairs(v.pctl) do
      worst = math.max(worst, math.abs(b.obs[j] - check.quantile(own, p)))
    end
    t.ok(worst < 1e-12, ("%s: observed P5, P50, P95 = quantiles of its "
      .. "own subjects' DV (%g %g %g)"):format(st.label, b.obs[1], b.obs[2],
      b.obs[3]))
    local want = k == 1 and 1 or 1000
    t.ok(b.sim[1].lo == want and b.sim[3].hi == want, ("%s: simulated "
      .. "percentiles from its own subjects' simulations only (%g)")
      :format(st.label, want))
  end
  -- prediction-corrected: PRED_bin is the median PRED of the stratum's
  -- records, theta + beta SEX = 5 and 8
  local pc = lin:vpc(data, truth, { bins = { 0, 10 }, sim = fake,
                                    strat = "SEX", pc = true })
  t.ok(math.abs(pc.strata[1].endpoints[1].bins[1].pred - 5) < 1e-9
    and math.abs(pc.strata[2].endpoints[1].bins[1].pred - 8) < 1e-9,
    ("stratified pcVPC: PRED_bin per stratum 5 and 8 (got %g, %g)"):format(
    pc.strata[1].endpoints[1].bins[1].pred,
    pc.strata[2].endpoints[1].bins[1].pred))
  -- cut points on a continuous covariate: WT = 50 + i; WT 60 (subject
  -- 10) opens the middle stratum
  local c = lin:vpc(data, truth, { bins = { 0, 10 }, sim = fake,
                                   strat = "WT", strat_cuts = { 60, 80 } })
  t.ok(#c.strata == 3 and c.strata[1].label == "WT<60"
    and c.strata[2].label == "60<=WT<80" and c.strata[3].label == "WT>=80",
    "strat_cuts {60, 80}: strata WT<60, 60<=WT<80, WT>=80")
  t.ok(c.strata[1].n_subjects == 9 and c.strata[2].n_subjects == 20
    and c.strata[3].n_subjects == 11, ("subjects per stratum 9, 20, 11 "
    .. "(WT 60 in the middle one; got %d %d %d)"):format(
    c.strata[1].n_subjects, c.strata[2].n_subjects, c.strata[3].n_subjects))
  do
    local own = {}
    for i = 1, 9 do own[#own + 1] = i % 2 == 1 and 100 + i or i end
    table.sort(own)
    t.is(c.strata[1].endpoints[1].bins[1].obs[2], check.quantile(own, 0.5),
      1e-12, "WT<60: its median from subjects 1-9 only")
  end
  -- tables and plots per stratum
  local dir = tmp .. "/out"
  rk.mkdir(dir)
  local files = v:write_csv(dir)
  local rows = rk.csv.read(files[1], { strings = { "stratum", "endpoint" } })
  t.is(#rows, 2 * 3, "vpc.csv: 2 strata x 1 bin x 3 percentiles")
  t.ok(rows[1].stratum == "SEX=0" and rows[4].stratum == "SEX=1"
    and rows[4].observed == v.strata[2].endpoints[1].bins[1].obs[1],
    "vpc.csv: a first column stratum, each stratum's rows")
  t.like(t.read_file(files[1]), "^stratum,endpoint,bin,", "vpc.csv header")
  if rk.run { "gnuplot", "--version" } == 0 then
    local plots = v:plot(dir)
    t.ok(plots and #plots == 2 and plots[1]:match("vpc_SEX_0%.png$")
      and plots[2]:match("vpc_SEX_1%.png$"), "one plot per stratum: "
      .. table.concat(plots or {}, ", "))
  else
    t.skip("gnuplot not installed: no plots", 1)
  end
  -- refusals
  t.raises(function() lin:vpc(data, truth, { sim = fake, strat = "AGE" })
  end, "option 'strat': .*AGE", "strat: an unknown column")
  t.raises(function() lin:vpc(data, truth, { sim = fake,
                                             strat_cuts = { 1 } }) end,
    "option 'strat_cuts' goes with 'strat'", "strat_cuts without strat")
  t.raises(function() lin:vpc(data, truth, { sim = fake, strat = "WT",
                                             strat_cuts = { 80, 60 } }) end,
    "option 'strat_cuts' must be increasing numbers %(entry 2: 60%)",
    "strat_cuts not increasing")
  t.raises(function() lin:vpc(data, truth, { sim = fake, strat = "WT",
                                             strat_cuts = { 10 } }) end,
    "stratum WT<10 has no subjects", "an empty stratum")
  local d60 = rk.popest.read(design(tmp .. "/d60.csv", 60), lin)
  t.raises(function()
    lin:vpc(d60, truth, { n = 2, strat = "WT" })
  end, "column 'WT' has 60 distinct values %(at most 50 strata%): give "
    .. "cut points with 'strat_cuts'", "a continuous column without cut "
    .. "points")
end

-- ------------------------------------------- stratified coverage
-- Data simulated from the model (beta = 3: the SEX strata differ by
-- 3 / sqrt(0.2 + 0.09) = 5.6 SD), stratified VPC at the true values:
-- each observed percentile is exchangeable with the simulated ones of
-- its stratum, inside the 90 % PI with probability ~0.9 (100
-- simulations). 20 datasets x 2 strata x 4 bins of distinct subjects =
-- 160 independent bins (the 3 percentiles of a bin are correlated):
-- band 0.9 +- 3 sqrt(0.09/160) = [0.83, 0.97]. The model without the
-- covariate (beta = 0, theta at the pooled mean 6.5, omega taking the
-- between-sex spread 0.2 + 2.25) misses each stratum's level: its
-- stratified coverage falls below the band.
do
  local n = 160
  local path = design(tmp .. "/sd.csv", n, {})
  local data = lin:simulate(path, truth, { n = 20, seed = 77 })
  local flat = lin_pm(0)
  local wrong = { theta = { mu = 6.5, beta = 0 }, omega = { { 2.45 } },
                  sigma = truth.sigma }
  local inside, inside_w, total = 0, 0, 0
  for d = 1, 20 do
    local p = design(tmp .. "/sdd.csv", n, data.dv[d])
    local o = { n = 100, seed = 300 + d, bins = { 0, 1.5, 3, 6, 10 },
                strat = "SEX" }
    local v = lin:vpc(p, truth, o)
    local w = flat:vpc(p, wrong, o)
    for s, st in ipairs(v.strata) do
      for b, bin in ipairs(st.endpoints[1].bins) do
        local bw = w.strata[s].endpoints[1].bins[b]
        for k = 1, 3 do
          total = total + 1
          if bin.obs[k] >= bin.sim[k].lo and bin.obs[k] <= bin.sim[k].hi
          then inside = inside + 1 end
          if bw.obs[k] >= bw.sim[k].lo and bw.obs[k] <= bw.sim[k].hi
          then inside_w = inside_w + 1 end
        end
      end
    end
  end
  t.is(total, 480, "stratified VPC: 20 datasets x 2 strata x 4 bins x 3 "
    .. "percentiles")
  t.ok(inside / total > 0.83 and inside / total < 0.97, ("stratified VPC "
    .. "of data from the model: %.3f inside the 90 %% PI (band 0.83 - "
    .. "0.97)"):format(inside / total))
  t.ok(inside_w / total < 0.83, ("stratified VPC against the model "
    .. "without the covariate: %.3f inside, below the band"):format(
    inside_w / total))
end

-- --------------------------------------------------- the script
do
  local fitdir = tmp .. "/fit_theo"
  local st, _, err = rk.run { exe, src .. "/scripts/fit.lua",
    src .. "/models/theophylline.lua", src .. "/tests/data/theoph_nm.csv",
    "--out", fitdir, "--quiet", "--no-plot", "--threads", "2" }
  t.is(st, 0, "fit.lua ran: " .. tostring(err))
  local out
  st, out, err = rk.run { exe, src .. "/scripts/vpc.lua", fitdir,
    "--n", "30", "--no-plot", "--bins", "4", "--strat", "WT",
    "--strat-cuts", "70", "--threads", "2" }
  t.is(st, 0, "vpc.lua --strat WT --strat-cuts 70 ran: " .. tostring(err))
  t.like(out, "%[WT<70%] conc: 4 bins", "vpc.lua prints each stratum")
  local rows = rk.csv.read(fitdir .. "/vpc.csv", { strings = { "stratum",
    "endpoint" } })
  local seen = {}
  for _, r in ipairs(rows) do seen[r.stratum] = (seen[r.stratum] or 0) + 1 end
  t.ok(seen["WT<70"] == 12 and seen["WT>=70"] == 12, "vpc.csv: 4 bins x 3 "
    .. "percentiles in each of WT<70 and WT>=70")
  st, _, err = rk.run { exe, src .. "/scripts/vpc.lua", fitdir,
    "--strat-cuts", "70" }
  t.ok(st ~= 0 and err:match("%-%-strat%-cuts goes with %-%-strat"),
    "vpc.lua: --strat-cuts without --strat refused")
  st, out = rk.run { exe, src .. "/scripts/vpc.lua", "--help" }
  t.ok(st == 0 and out:match("%-%-strat COL"), "vpc.lua --help lists "
    .. "--strat")
end
t.done()
