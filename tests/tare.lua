-- tare.lua - rk.tare, scripts/tare_plan.lua and
-- examples/tare_segmentectomy.lua. Hand values follow the TARE section of
-- docs/sources.md (partition formula, the TvNG 2023 review's Table 1); the arithmetic is in the comments.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"

-- A scratch folder of our own, removed at the end.
local tmp = t.scratch()
local function path(name) return tmp .. "/" .. name end
local function write(name, text) return t.write_file(path(name), text) end
local function exists(p)
  local f = io.open(p, "r")
  if f then f:close() end
  return f ~= nil
end
-- Runs the script in a child radiokin; returns exit ok, stdout+stderr.
local function run(...)
  local out, status = t.run { exe, src .. "/scripts/tare_plan.lua", ... }
  return status == 0, out
end

local plan = dofile(src .. "/scripts/tare_plan.lua")
local seg = dofile(src .. "/examples/tare_segmentectomy.lua")

-- ----------------------------------------------------------- rk.tare
do
  -- Partition formula: A = 120 (1.2 + 0.3 x 4) / (49.67 x 4 x 0.9)
  -- = 288 / 178.812 GBq = 1610.6302 MBq; lung 120 x 2.4 x 0.1 / 3.6 = 8 Gy.
  local r = rk.tare.plan{product = "SIR-Spheres", cf = 49.67, mass_kg = 1.5,
    lsf = 0.1, lesions = {{mass_kg = 0.3, tn = 4}}, mode = "tumour",
    target_gy = 120}
  t.is(r.activity_mbq, 1610.6302, 1e-7, "partition activity (hand, 8 dig)")
  t.is(r.lung_gy, 8, 1e-12, "lung 8 Gy (hand)")
  t.is(r.checks[1].status, "PASS", "normal liver PASS")
  t.is(r.checks[1].margin_gy, 10, 1e-12, "normal margin 40 - 30 Gy")
  -- Round trip through the binding: that activity gives 120 Gy back.
  local back = rk.tare.plan{product = "SIR-Spheres", cf = 49.67,
    mass_kg = 1.5, lsf = 0.1, lesions = {{mass_kg = 0.3, tn = 4}},
    activity_mbq = r.activity_mbq}
  t.is(back.territories[1].lesions[1].dose_gy, 120, 1e-12,
       "round trip: activity -> tumour dose 120 Gy (1e-12)")
  -- Volumes: 1500 mL at 1.03 kg/L is 1.545 kg; LSF 0, no lesion:
  -- mean dose = 49.67 x 2 GBq / 1.545 kg = 64.2977 Gy.
  r = rk.tare.plan{product = "sir", cf = "clinical", volume_mL = 1500,
    lsf = 0, activity_mbq = 2000}
  t.is(r.territories[1].mean_gy, 49.67 * 2 / 1.545, 1e-12,
       "volume_mL converted with 1.03 kg/L")
  t.is(rk.tare.cf("Y-90"), 1e9 * 64.10 * 3600 / math.log(2) * 0.93310 *
       1.602176634e-13, 1e-12, "rk.tare.cf derived = 1e9 T/ln2 E MeV_J")
  t.is(rk.tare.cf("Ho-166", "clinical"), 15.87, "Ho-166 clinical 15.87")
  local names = {}
  for _, p in ipairs(rk.tare.products()) do names[#names + 1] = p.name end
  t.is(table.concat(names, ","), "SIR-Spheres,TheraSphere,QuiremSpheres",
       "three products")
  local th = rk.tare.products()[2]
  t.ok(th.parenchyma_gy == 120 and th.lung_gy == 30 and
       th.tumour_lo_gy == 200 and th.ablative_gy == 400,
       "TheraSphere limits as in the review's Table 1")
  -- Overridden limit: lung 20 Gy makes 8 Gy ... still PASS, 25 -> margin.
  r = rk.tare.plan{product = "SIR-Spheres", cf = 49.67, mass_kg = 1.5,
    lsf = 0.1, lesions = {{mass_kg = 0.3, tn = 4}}, mode = "tumour",
    target_gy = 120, limits = {lung_gy = 5}}
  t.is(r.checks[2].status, "EXCEEDED", "overridden lung limit 5 Gy: EXCEEDED")
  local b = rk.tare.bsa_activity{bsa_m2 = 1.8, tumour_volume_mL = 300,
    normal_volume_mL = 1200}
  -- Kao 2011: (1.8 - 0.2) + 0.3 / 1.5 = 1.8 GBq.
  t.is(b.activity_mbq, 1800, 1e-12, "BSA method 1.8 GBq (hand)")
  t.ok(b.not_dosimetric and b.warnings[1]:find("not dosimetric"),
       "BSA result flagged not dosimetric")

  t.raises(function() rk.tare.plan{product = "SIR", volume_L = 1500,
    lsf = 0.05, mode = "max_safe"} end,
    "volume_L = 1500 is implausible for a liver region in litres",
    "volume_L 1500: unit mix-up named")
  t.raises(function() rk.tare.plan{product = "SIR", volume_mL = 1.5,
    lsf = 0.05, mode = "max_safe"} end, "volume_mL = 1.5 is implausible",
    "volume_mL 1.5: unit mix-up named")
  t.raises(function() rk.tare.plan{product = "SIR", mass_kg = 1500,
    lsf = 0.05, mode = "max_safe"} end, "mass_kg = 1500 is implausible",
    "mass_kg 1500 (grams): named")
  t.raises(function() rk.tare.plan{product = "Zevalin", mass_kg = 1.5,
    lsf = 0.05, mode = "max_safe"} end, "unknown product 'Zevalin'",
    "unknown product")
  t.raises(function() rk.tare.plan{product = "SIR", mass_kg = 1.5,
    lsf = 1, mode = "max_safe"} end, "no activity reaches the liver",
    "LSF 1 explained")
  t.raises(function() rk.tare.plan{product = "SIR", mass_kg = 1.5,
    lsf = 0.1, lesions = {{mass_kg = 0.2, tn = 0}}, mode = "max_safe"} end,
    "lesion 1: tn = 0 must be > 0", "T/N 0")
  t.raises(function() rk.tare.plan{product = "SIR", mass_kg = 1.5,
    lsf = 0.1, lesions = {{mass_kg = 2, tn = 2}}, mode = "max_safe"} end,
    "tumour mass 2 kg (1 lesion) is larger than the territory mass_kg = 1.5",
    "tumour larger than territory")
  t.raises(function() rk.tare.plan{product = "SIR", mass_kg = 1.5,
    lsf = 0.1, mode = "maximum"} end, "mode 'maximum' unknown",
    "unknown mode")
  t.raises(function() rk.tare.plan{product = "SIR", mass_kg = 1.5,
    lfs = 0.1, mode = "max_safe"} end, "unknown field 'lfs'",
    "typo in a field name")
end

-- ------------------------------------------------ scripts/tare_plan.lua
do
  local c = plan.load(src .. "/tests/data/tare_plan.csv")
  t.is(#c, 4, "CSV: 5 rows, 4 patients (P3 has two territories)")
  t.is(c:id(3), "P3", "patients keep their ids")
  local res = {}
  for i = 1, #c do res[i] = c:plan(i) end
  t.is(#res[3].territories, 2, "P3: two territories")
  -- P1: 1500 mL and 300 mL at 1.03 kg/L: M_T 0.309, M_N 1.236 kg;
  -- A = 120 (1.236 + 4 x 0.309) / (49.67 x 4 x 0.9) GBq (partition formula).
  t.is(res[1].activity_mbq, 1000 * 120 * (1.236 + 4 * 0.309) /
       (49.67 * 4 * 0.9), 1e-12, "P1 activity = partition formula")
  -- Decay 24 h, residual 5 %: order = A / 0.95 x exp(ln 2 x 24 / 64.10)
  -- (ICRP 107 half-life of 90Y).
  t.is(res[1].activity_calibration_mbq, res[1].activity_mbq / 0.95 *
       math.exp(math.log(2) * 24 / 64.10), 1e-12,
       "P1 order at calibration = A / (1 - 0.05) e^{lambda 24 h}")
  -- P2: lung = 50 x 5 GBq x 0.15 = 37.5 Gy > 30 (Table 1).
  t.is(res[2].lung_gy, 37.5, 1e-12, "P2 lung 37.5 Gy (hand)")
  t.is(res[2].checks[2].status, "EXCEEDED", "P2 lung EXCEEDED")
  t.is(res[3].checks[2].status, "EXCEEDED", "P3 seg 4 normal EXCEEDED")
  -- P4 (166Ho, capped): T/N 2.5 puts the normal liver at 150 / 2.5 = 60 Gy,
  -- exactly the QuiremSpheres limit (Table 1).
  t.is(res[4].territories[1].normal_gy, 60, 1e-12, "P4 normal 60 Gy")
  t.is(res[4].checks[1].status, "PASS", "P4 at the limit: PASS")
  local text = plan.format("P2", res[2])
  t.like(text, "lung%s+37.50%s+30.0%s+%-7.50%s+EXCEEDED",
         "printed table: lung dose, limit, margin, EXCEEDED")

  local lc = plan.load(src .. "/tests/data/tare_plan.lua")
  t.is(lc:plan(1).territories[1].lesions[2].dose_gy, 100, 1e-12,
       "Lua plan file: lowest-T/N lesion at its 100 Gy target")

  local out = path("p.csv")
  local ok, o = run(src .. "/tests/data/tare_plan.csv", "--out", out)
  t.ok(ok and exists(out), "script writes the plan CSV")
  t.like(o, "normal liver, territory 'seg 4'%s+46.12%s+40.0%s+%-6.12%s+" ..
         "EXCEEDED", "script prints each limit with margin and status")
  local rows = rk.csv.read(out, {strings = {"id"}, missing = {""}})
  t.is(#rows, 5, "CSV: one line per territory")
  t.is(rows[2].lung_status, "EXCEEDED", "CSV: P2 lung EXCEEDED")
  t.is(rows[2].lung_margin_gy, -7.5, 1e-12, "CSV: P2 lung margin -7.5 Gy")
  t.is(rows[1].activity_mbq, res[1].activity_mbq, 1e-9,
       "CSV activity = plan activity (10 digits)")
  ok, o = run("--cohort", src .. "/tests/data/tare_plan.csv", "--out",
              path("c.csv"))
  t.like(o, "cohort: 4 patients, 2 pass every limit, 1 exceed a " ..
         "normal%-liver limit, 1 exceed the lung limit",
         "--cohort prints the summary")

  local bad = write("bad_units.csv", "id,product,territory,volume_L,lsf," ..
    "mode\nX,SIR-Spheres,liver,1500,0.05,max_safe\n")
  ok, o = run(bad, "--out", path("bad.csv"))
  t.ok(not ok, "unit mix-up: script fails")
  t.like(o, "bad_units.csv:2: volume_L = 1500 is implausible for a " ..
         "liver region in litres %(millilitres%?", "... naming file, " ..
         "line, column and value")
  t.ok(not exists(path("bad.csv")), "... and writes nothing")
  bad = write("no_unit.csv", "id,product,volume,lsf,mode\n" ..
    "X,SIR-Spheres,1500,0.05,max_safe\n")
  t.raises(function() plan.load(bad) end,
           "column 'volume' has no unit: use volume_mL or volume_L",
           "column without unit rejected")
  bad = write("case.csv", "id,product,volume_ml,lsf,mode\n" ..
    "X,SIR-Spheres,1500,0.05,max_safe\n")
  t.raises(function() plan.load(bad) end,
           "did you mean 'volume_mL'", "volume_ml: case hint")
  bad = write("lsf.csv", "id,product,volume_mL,lsf,mode\n" ..
    "A,SIR-Spheres,1500,0.05,max_safe\nB,SIR-Spheres,1500,1,max_safe\n")
  ok, o = run(bad, "--out", path("lsf_out.csv"))
  t.like(o, "patient 'B' %(.-lsf.csv:3%): tare: territory 1: lsf = 1 " ..
         "must be < 1", "LSF 1 in a cohort names the patient and line")
  t.ok(not exists(path("lsf_out.csv")), "... and nothing is written")
  bad = write("prod.csv", "id,product,volume_mL,lsf,mode\n" ..
    "A,SIR-Spheres,1500,0.05,max_safe\nA,TheraSphere,300,0.05,max_safe\n")
  t.raises(function() plan.load(bad) end,
           "patient 'A': product differs from its first row",
           "one patient, two products: rejected")
  bad = write("bad.lua", "return {product = 'SIR-Spheres', " ..
    "volume_L = 1500, lsf = 0.05, mode = 'max_safe'}")
  t.raises(function() plan.load(bad) end, "bad.lua: plan 1: " ..
           "rk.tare.plan: territory 1 volume_L = 1500 is implausible",
           "Lua plan file: unit mix-up names file, plan and field")
end

-- ------------------------------------- examples/tare_segmentectomy.lua
do
  -- f = (0.85 x 49.67 x 2.4 / (200 x 1.03 x 0.35) - 1) / 1.4
  --   = (101.3268 / 72.1 - 1) / 1.4 = 0.405365 / 1.4 = 0.289546.
  local f = seg.tumour_fraction(1.03, 49.67, 0)
  t.is(f, 0.289546, 1e-5, "Figure 1: tumour fraction 0.28955 (hand, 5 dig)")
  local r = rk.tare.plan(seg.plan_table(1.03, 49.67, 0))
  t.is(r.activity_mbq, 850, 1e-12,
       "Figure 1: that fraction gives the review's 850 MBq (1e-12)")
  t.is(r.territories[1].lesions[1].dose_gy, 200, 1e-12,
       "... and the planned 200 Gy tumour dose")
  t.is(r.territories[1].normal_gy, 200 / 2.4, 1e-12, "normal 200 / 2.4 Gy")
  -- Single compartment over 350 mL: 0.85 x 49.67 / 0.3605 = 117.12 Gy.
  t.is(r.territories[1].mean_gy, 0.85 * 49.67 / 0.3605, 1e-12,
       "segment mean 117.1 Gy")
  for _, a in ipairs {{1.0, 50, 0.05}, {1.03, rk.tare.cf("Y-90"), 0.1}} do
    local rr = rk.tare.plan(seg.plan_table(a[1], a[2], a[3]))
    t.is(rr.activity_mbq, 850, 1e-12,
         ("850 MBq also at density %.2f, CF %.2f, LSF %.2f"):format(a[1],
         a[2], a[3]))
  end
end

t.remove_tree(tmp)
t.done()
