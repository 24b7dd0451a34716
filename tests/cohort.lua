-- tests/cohort.lua - rk.cohort: the population of the six-compartment
-- benchmark model (docs/sources.md; same MINSTD / Box-Muller stream, so
-- the same patients) through 4 cycles, against the exact reference table
-- tests/data/pbpk_1000_exact.csv (the developers' matrix-exponential
-- reference run); sampling,
-- thread-count invariance, CSV output and bad input.
local rk = require "radiokin"
local t = require "radiokin.tap"

local srcdir = os.getenv("RADIOKIN_SRCDIR") or "."
local m = dofile(srcdir .. "/models/lu177_6c.lua")

-- README s.2: x_{n+1} = 48271 x_n mod (2^31 - 1), x_0 = 20240601; normals
-- by Box-Muller from consecutive pairs, cos first then sin.
local function peer_stream()
  local x, spare = 20240601, nil
  local function uniform()
    x = (48271 * x) % 2147483647
    return x / 2147483647
  end
  return function()
    if spare then
      local z = spare
      spare = nil
      return z
    end
    local u1, u2 = uniform(), uniform()
    local r = math.sqrt(-2 * math.log(u1))
    spare = r * math.sin(2 * math.pi * u2)
    return r * math.cos(2 * math.pi * u2)
  end
end

local order = { "kPI", "kIP", "kPK", "kKP", "kPL", "kLP", "kPT", "kTP",
                "kPR", "kRP", "kU" }
local theta = { kPI = 0.60, kIP = 0.40, kPK = 0.030, kKP = 0.012,
                kPL = 0.040, kLP = 0.015, kPT = 0.030, kTP = 0.004,
                kPR = 0.15, kRP = 0.030, kU = 0.50 }
local omega = math.sqrt(math.log(1 + 0.30 ^ 2))

local function peer_patients(n)
  local z, out = peer_stream(), {}
  for i = 1, n do
    local p = {}
    for _, name in ipairs(order) do p[name] = theta[name] * math.exp(omega * z()) end
    out[i] = p
  end
  return out
end

local schedule = { doses = { { time = 0, amount = 7400, to = "P" } },
                   cycles = 4, interval_h = 1344, tia = { "K" } }
local function run(extra)
  local spec = { model = m, progress = false }
  for k, v in pairs(schedule) do spec[k] = v end
  for k, v in pairs(extra) do spec[k] = v end
  return rk.cohort(spec)
end

-- --------------------------------------------- the reference table
local patients = peer_patients(1000)
-- README s.2 check values for patient 1 (6 digits as printed there).
t.is(patients[1].kPI, 0.633219, 1e-5, "patient 1 kPI from the peer stream")
t.is(patients[1].kU, 0.637767, 1e-5, "patient 1 kU from the peer stream")

local ref = rk.csv.read(srcdir .. "/tests/data/pbpk_1000_exact.csv")
for _, path in ipairs { "exact", "cvodes" } do
  local n = path == "exact" and 1000 or 50   -- keep the CVODES run short
  local sub = {}
  for i = 1, n do sub[i] = patients[i] end
  local c = run { patients = sub, path = path }
  t.is(c.path, path, path .. ": path used")
  local worst = 0
  for i = 1, n do
    for cy = 1, 4 do
      local want = ref[i]["tia_c" .. cy]
      local rel = math.abs(c.tia.K[cy][i] / want - 1)
      if not (rel <= worst) then worst = rel end
    end
  end
  -- Issue 3: the reference table reproduced to 1e-6 (rtol 1e-6, atol 1e-9).
  t.ok(worst <= 1e-6, ("%s: %d patients x 4 cycles vs pbpk_1000_exact.csv, "
    .. "max rel. diff %.2e <= 1e-6"):format(path, n, worst))
  t.is(c.tia.K[1][1], 22317.12958, 1e-6, path .. ": patient 1 cycle 1 "
    .. "kidney TIA (README s.2)")
end

-- --------------------------------------------- summary statistics
do
  local sub = {}
  for i = 1, 1000 do sub[i] = patients[i] end
  local c = run { patients = sub, path = "exact" }
  local s = c:summary "K"
  -- README s.2: N=1000 cycle 1 mean 25501.23, median 23356.7, P5 10677.9,
  -- P95 46779.7 MBq h (numpy percentiles: linear interpolation, as GSL).
  t.is(s[1].mean, 25501.23, 1e-6, "cycle 1 mean vs README")
  t.is(s[1].median, 23356.7, 1e-5, "cycle 1 median vs README")
  t.is(s[1].p5, 10677.9, 1e-5, "cycle 1 P5 vs README")
  t.is(s[1].p95, 46779.7, 1e-5, "cycle 1 P95 vs README")
  t.is(#s, 4, "one summary row per cycle")
end

-- --------------------------------------------- sampling and threads
do
  local a = run { n = 200, cv = 0.3, seed = 7, threads = 1 }
  local b = run { n = 200, cv = 0.3, seed = 7, threads = 3 }
  local same = true
  for cy = 1, 4 do
    for i = 1, 200 do
      if a.tia.K[cy][i] ~= b.tia.K[cy][i] then same = false end
    end
  end
  t.ok(same, "same seed: identical TIAs on 1 and 3 threads")
  local c = run { n = 200, cv = 0.3, seed = 8 }
  t.ok(c.tia.K[1][1] ~= a.tia.K[1][1], "another seed, other patients")
  local fixed = run { n = 3, cv = { kPK = 0.5 }, seed = 7 }
  t.is(fixed.params[2].kPI, 0.60, 0, "cv only on kPK: kPI stays typical")
  t.ok(fixed.params[2].kPK ~= 0.030, "kPK varies")
  local th = run { n = 2, theta = { kPK = 0.06 } }
  t.is(th.params[1].kPK, 0.06, 0, "theta overrides the typical value")
  -- Doubling every activity doubles every TIA: the model is linear.
  local f = run { n = 5, activity_factors = { 1, 2, 1, 1 }, seed = 3 }
  local g = run { n = 5, seed = 3 }
  t.is(f.tia.K[2][1] - g.tia.K[2][1], 7400 * (g.tia.K[1][1] / 7400), 1e-9,
    "activity factor 2 in cycle 2 adds one cycle-1 TIA (superposition)")
end

-- --------------------------------------------- CSV
do
  local dir = os.tmpname()
  os.remove(dir)
  rk.mkdir(dir)
  local c = run { n = 10, seed = 1 }
  c:write_csv(dir .. "/c.csv")
  local rows, cols = rk.csv.read(dir .. "/c.csv")
  t.is(#rows, 10, "CSV has one row per patient")
  t.is(cols[1], "id", "first column id")
  t.is(rows[3].K_c2_MBqh, c.tia.K[2][3], 1e-9, "TIA written to 10 digits")
  t.is(rows[3].kPI, c.params[3].kPI, 1e-9, "parameters written")
  t.raises(function() c:write_csv(dir .. "/no/such/dir/c.csv") end,
    "c:write_csv", "unwritable path raises")
  local left = t.list_dir(dir)
  t.is(left, "c.csv\n", "nothing half-written is left behind")
  t.remove_tree(dir)
end

-- --------------------------------------------- summary: quantiles asked for
-- A hand-made cohort of 5 patients x 2 cycles (patient 3 failed in cycle
-- 2: NaN), so every expected value below is worked by hand. Quantile
-- definition: GSL's gsl_stats_quantile_from_sorted_data, linear
-- interpolation between order statistics (Hyndman & Fan type 7):
-- Q(q) = x[i] + d (x[i+1] - x[i]), i + d = (k - 1) q, x sorted, 0-based.
do
  local mt = getmetatable(run { n = 2, cycles = 1 })
  local hand = setmetatable({ n = 5, cycles = 2, names = { "K" },
    tia = { K = { { 40, 10, 50, 20, 30 }, { 1, 2, 0 / 0, 4, 5 } } } }, mt)
  local q = { 0.05, 0.5, 0.95, 0.3 }
  local s = hand:summary("K", { quantiles = q })
  -- cycle 1 sorted 10 20 30 40 50, k = 5: (k-1)q = 0.2, 2, 3.8, 1.2
  t.is(s[1].n, 5, "cycle 1: 5 patients")
  t.is(s[1].q[1], 12, 1e-12, "q 0.05 = 10 + 0.2 x 10 = 12")
  t.is(s[1].q[2], 30, 1e-12, "q 0.5 = 30")
  t.is(s[1].q[3], 48, 1e-12, "q 0.95 = 40 + 0.8 x 10 = 48")
  t.is(s[1].q[4], 22, 1e-12, "q 0.3 = 20 + 0.2 x 10 = 22")
  t.is(s[1].p30, 22, 1e-12, "also keyed p30")
  t.is(s[1].p95, 48, 1e-12, "and p95")
  t.is(s[1].mean, 30, 1e-12, "mean 30")
  t.is(s[1].sd, math.sqrt(250), 1e-12, "sd (n - 1) = sqrt(1000 / 4)")
  t.ok(s[1].min == 10 and s[1].max == 50, "min and max")
  -- cycle 2 without the failed patient: 1 2 4 5, k = 4: (k-1)q = 0.15,
  -- 1.5, 2.85, 0.9
  t.is(s[2].n, 4, "cycle 2: the failed patient is left out")
  t.is(s[2].q[1], 1.15, 1e-12, "cycle 2 q 0.05 = 1 + 0.15 x 1")
  t.is(s[2].q[2], 3, 1e-12, "cycle 2 q 0.5 = 2 + 0.5 x 2")
  t.is(s[2].q[3], 4.85, 1e-12, "cycle 2 q 0.95 = 4 + 0.85 x 1")
  t.is(s[2].q[4], 1.9, 1e-12, "cycle 2 q 0.3 = 1 + 0.9 x 1")
  -- cumulative over cycles: per-patient sums 41 12 NaN 24 35 -> 12 24 35 41
  local cu = hand:summary("K", { quantiles = q, cumulative = true })
  t.is(cu[1].q[3], 48, 1e-12, "cumulative cycle 1 = cycle 1")
  t.is(cu[2].n, 4, "cumulative cycle 2: patient 3 failed, left out")
  t.is(cu[2].mean, 28, 1e-12, "cumulative mean (12+24+35+41)/4")
  t.is(cu[2].q[1], 13.8, 1e-12, "cumulative q 0.05 = 12 + 0.15 x 12")
  t.is(cu[2].q[2], 29.5, 1e-12, "cumulative q 0.5 = 24 + 0.5 x 11")
  t.is(cu[2].q[3], 40.1, 1e-12, "cumulative q 0.95 = 35 + 0.85 x 6")
  t.is(cu[2].q[4], 22.8, 1e-12, "cumulative q 0.3 = 12 + 0.9 x 12")
  local d = hand:summary { cumulative = true }
  t.is(d[2].p50, 29.5, 1e-12, "c:summary{...}: the first TIA, default "
    .. "quantiles 0.05, 0.5, 0.95")
  t.is(d[2].median, d[2].p50, 0, "median = p50")
  t.raises(function() hand:summary("K", { quantiles = { 0.5, 1.5 } }) end,
    "quantiles[2] must be a probability in [0, 1]", "a quantile above 1")
  t.raises(function() hand:summary("K", { quantile = { 0.5 } }) end,
    "unknown field 'quantile'", "a misspelt option")
  hand.tia.K[2][2] = "x"
  t.raises(function() hand:summary "K" end,
    "the TIA of patient 2 in cycle 2 is not a number", "a damaged result")
end

-- --------------------------------------------- counts (issue 12 s.3)
t.raises(function() run { n = 1e12 } end,
  "rk.cohort: field 'n' must be an integer in [1, 100000000] (got 1e+12)",
  "n = 1e12: out of range, quoted as typed")
t.raises(function() run { n = 2.5 } end, "(got 2.5)", "n = 2.5 not floored")
t.raises(function() run { n = 5, cycles = 1.5 } end,
  "field 'cycles' must be an integer in [1, 1000] (got 1.5)",
  "fractional cycles")
t.raises(function() run { n = 5, threads = -1 } end,
  "field 'threads' must be an integer in [0, 1024] (got -1)",
  "negative threads")
t.raises(function() run { n = 5, seed = 2 ^ 60 } end, "field 'seed'",
  "seed above 2^53")
t.raises(function() run { n = 5, batch = -2 } end,
  "field 'batch' must be an integer in [0, 4096] (got -2)",
  "negative batch")
-- batch (one CVODES system for several patients): within the tolerance of
-- one by one, not bit-identical; the same TIAs whatever the threads
do
  local one = run { n = 20, cv = 0.3, seed = 3, path = "cvodes", batch = 1 }
  local six = run { n = 20, cv = 0.3, seed = 3, path = "cvodes", batch = 6 }
  local six3 = run { n = 20, cv = 0.3, seed = 3, path = "cvodes", batch = 6,
                     threads = 3 }
  local worst, differ, same3 = 0, 0, true
  for cy = 1, 4 do
    for i = 1, 20 do
      local a, b = one.tia.K[cy][i], six.tia.K[cy][i]
      worst = math.max(worst, math.abs(b / a - 1))
      if a ~= b then differ = differ + 1 end
      if six3.tia.K[cy][i] ~= b then same3 = false end
    end
  end
  t.ok(worst <= 1e-6 and differ > 0, string.format(
    "batch = 6 vs batch = 1: within %.1e (<= 1e-6), %d of 80 TIAs differ",
    worst, differ))
  t.ok(same3, "batch = 6: identical TIAs on 1 and 3 threads")
end
do
  rk.memory_limit(1e5)
  t.raises(function() run { n = 5000 } end,
    "rk.cohort: 5000 patients need about [%d.]+ MB %(%d+ bytes each%), "
    .. "more than the memory limit of 100.0 kB %(rk.memory_limit%)",
    "sampled cohort above the memory limit: refused before sampling")
  t.raises(function() run { patients = peer_patients(1000) } end,
    "rk.cohort: 1000 patients need about",
    "given patients: the results are estimated too")
  rk.memory_limit(0)
end

-- --------------------------------------------- bad input
t.raises(function() rk.cohort { n = 5 } end, "field 'model' is required",
  "missing model")
t.raises(function() run { n = 5, tia = { "X" } } end,
  "'X' is neither a state nor an output", "unknown TIA name")
t.raises(function() run { n = 5, doses = false } end,
  "field 'doses' is required", "doses missing")
t.raises(function() run { n = 5, path = "fast" } end,
  "must be \"auto\", \"cvodes\" or \"exact\"", "unknown path")
t.raises(function() run { n = 5, cv = { kXX = 0.3 } } end, "kXX",
  "cv of an unknown parameter")
t.raises(function() run { n = 5, cv = -0.3 } end, "cv of parameter",
  "negative cv")
t.raises(function() run { n = 0 } end, "field 'n' must be", "n = 0")
t.raises(function() run { n = 5, activity_factors = { 1, 1 } } end,
  "has 2 values for 4 cycles", "activity factors not one per cycle")
t.raises(function() run { n = 5, interval_h = -1 } end, "cycle length",
  "negative interval")
t.raises(function() run { n = 5, speed = 3 } end, "unknown field 'speed'",
  "unknown field (typo) rejected")
t.raises(function() run { n = 5, doses = { { time = 0, amount = -1, to = "P" } } } end,
  "amount", "negative amount")
t.raises(function() run { patients = { { kPI = -1 } } } end, "kPI",
  "a non-positive rate for a patient")

-- A model event fires at cycle time 10 h and, 15 h later (past the 20 h
-- cycle: at t = 5 h of the next), adds X to K as it is then: the cohort
-- carries it into the next cycle. K's TIA, mu = kKo + lambda:
--   TIA_c = K0_c (1 - e^(-20 mu)) / mu + [c > 1] X (1 - e^(-15 mu)) / mu,
--   K0_(c+1) = K0_c e^(-20 mu) + [c > 1] X e^(-15 mu), K0_1 = 0.
do
  local X, kKo = 50, 0.05
  local me = rk.model {
    name = "late", nuclide = "Lu-177", states = { "B", "K" },
    params = { kout = 0.3, kKo = kKo, X = X },
    ode = function(s, p) return { B = -p.kout * s.B, K = -p.kKo * s.K } end,
    events = { { name = "late", trigger = function(s, p, t) return rk.ge(t, 10) end,
                 delay = 15, use_trigger_values = false,
                 assign = function(s, p) return { K = s.K + p.X } end } },
  }
  local c = rk.cohort { model = me, n = 3, seed = 1, cv = 0, cycles = 4, interval_h = 20,
    doses = { { time = 0, amount = 1000, to = "B" } }, tia = { "K" },
    rtol = 1e-10, atol = 1e-12, progress = false }
  local mu = kKo + rk.nuclide("Lu-177").lambda
  local k0, worst = 0, 0
  for cy = 1, 4 do
    local want = k0 * (1 - math.exp(-20 * mu)) / mu
                 + (cy > 1 and X * (1 - math.exp(-15 * mu)) / mu or 0)
    for i = 1, 3 do
      local got = c.tia.K[cy][i]
      worst = math.max(worst, cy == 1 and math.abs(got) or math.abs(got - want) / want)
    end
    k0 = k0 * math.exp(-20 * mu) + (cy > 1 and X * math.exp(-15 * mu) or 0)
  end
  t.ok(worst <= 1e-6, ("cohort with events: executions pending at a cycle's end carried into the "
    .. "next, every patient (K's TIA against the closed form, worst rel. %.2g <= 1e-6)"):format(worst))
end

t.done()
