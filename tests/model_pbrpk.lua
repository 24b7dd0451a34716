-- tests/model_pbrpk.lua - models/lu177_psma_pbrpk.lua: the published
-- 177Lu-PSMA PBRPK model (SBML, Fele-Paranj et al. 2024) with dose
-- regions added. The SBML file is not part of radiokin: the test reads
-- it from ../shared/models-external/ beside the source tree and skips,
-- saying so, when it is absent.
--
-- Checked: the MBq -> nmol dose unit (7,400 MBq given is 7,400 MBq of
-- whole-body activity at once), the dose-rate outputs (activity x
-- j_per_mbqh / compartment volume), the file's own decay counted once
-- (the model gets no nuclide of its own), receptor competition (less cold
-- ligand, more kidney and tumour dose per GBq), rk.cohort and
-- scripts/model_report.lua on it with the comparison to
-- models/lu177_psma.lua, and the message when no SBML file is named.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local tmp = t.scratch()
local model_path = src .. "/models/lu177_psma_pbrpk.lua"

-- without a file named: a clear message (only when the environment does
-- not name one either)
if not os.getenv("RADIOKIN_PSMA_SBML") then
  t.raises(function() return assert(loadfile(model_path))() end,
    "lu177_psma_pbrpk.lua: name the PBRPK SBML file: set RADIOKIN_PSMA_SBML",
    "no SBML file named: said how to name it")
end
t.raises(function()
  return assert(loadfile(model_path))({ sbml = tmp .. "/none.sbml" })
end, "none.sbml", "an SBML file that does not exist: named")

local sbml = src .. "/../shared/models-external/pycno_reduced_psma.sbml"
local f = io.open(sbml, "r")
if not f then
  t.skip("../shared/models-external/pycno_reduced_psma.sbml is absent: "
    .. "the PBRPK model tests need it")
  t.done()
  return
end
f:close()

local function load(o)
  o = o or {}
  o.sbml = sbml
  return assert(loadfile(model_path))(o)
end
local M = load()
local m = M.model
local lu = rk.nuclide("Lu-177")

-- activity units: 7400 MBq into Blood.Hot is 7400 MBq of activity at
-- t = 0 (bioavailability 1 / MBq-per-nmol, outputs x MBq-per-nmol, with
-- the file's lambdaPhys both ways)
do
  local r = m:simulate { doses = { { time = 0, amount = 7400, to = "Blood.Hot" } },
    times = { 0, 24 } }
  t.is(r.outputs.A_WB[1], 7400, 1e-6 * 7400, "7400 MBq given: A_WB(0) = 7400 MBq")
  t.is(r.outputs.A_B[1], 7400, 1e-6 * 7400, "... all of it in the blood")
  local nmol = r.states["Blood.Hot"][1]
  t.is(nmol, 7400 / (m.params.lambdaPhys / 60 * 6.02214076e23 * 1e-15),
    1e-9 * nmol, ("... as %.3f nmol of hot ligand"):format(nmol))
  -- dose rate = activity x j_per_mbqh / compartment volume (1 kg/L)
  t.is(r.outputs.D_K[2], r.outputs.A_K[2] * lu.j_per_mbqh / m.params.Kidney,
    1e-12, "D_K = A_K j_per_mbqh / kidney volume")
  t.is(r.outputs.D_S[2], r.outputs.A_S[2] * lu.j_per_mbqh / m.params.SG,
    1e-12, "D_S = A_S j_per_mbqh / salivary volume")
  t.is(m.nuclide, nil, "no radiokin decay added (the SBML has its own)")
  t.is(M.lambda_per_h, lu.lambda, 1e-15,
    "retention decay-corrected with 177Lu's lambda")
end

-- receptor competition: without cold ligand kidney and tumour take more
-- per GBq
do
  local function doses(cold)
    local MM = load { cold_per_hot = cold }
    local r = MM.model:simulate { doses = MM.cycle_doses(7400),
      times = { 0, 1008 }, tia = { "D_K", "D_T" } }
    return r.tia.D_K / 7.4, r.tia.D_T / 7.4
  end
  local k0, t0 = doses(0)
  local k10, t10 = doses(10)
  t.ok(k0 > k10 and t0 > t10, ("less cold ligand, more kidney and tumour "
    .. "dose: kidney %.3f vs %.3f, tumour %.3f vs %.3f Gy/GBq (cold/hot 0 "
    .. "vs 10)"):format(k0, k10, t0, t10))
end

-- rk.cohort runs on it (hot and cold doses)
do
  local ps = M.population:sample { n = 4, seed = 1 }
  local c = rk.cohort { model = m, patients = ps, cycles = 1,
    interval_h = M.interval_h, tia = { "D_K" }, progress = false,
    doses = M.cycle_doses(7400) }
  t.is(#c.failed, 0, "rk.cohort: 4 patients solved")
  t.ok(c.tia.D_K[1][1] > 0, "... with a kidney dose")
end

-- rk.regimen runs on the model file (it doses the hot ligand only, to
-- dose_to, in MBq)
do
  local r = rk.regimen { model = M, patients = M.population:sample { n = 3,
      seed = 1 }, rule = "empiric", regions = { "kidney", "salivary" },
    n_cycles = 2, progress = false }
  t.ok(r.n == 3 and #r.failed == 0, "rk.regimen: 3 patients, none failed")
  t.is(r.cum_activity_gbq[1], 14.8, 1e-9, "... 2 cycles of 7.4 GBq")
  t.ok(r.cum_bed.kidney[1] > 0 and r.cum_bed.salivary[1] > 0,
    ("... kidney BED %.2f Gy"):format(r.cum_bed.kidney[1]))
end

-- the report, with the population model beside it
do
  local st, _, err = rk.run { exe, src .. "/scripts/model_report.lua",
    model_path, "--patients", "6", "--out", tmp, "--no-plots", "--quiet",
    "--model-opt", "sbml=" .. sbml }
  t.is(st, 0, "model_report runs on the PBRPK model (" .. tostring(err) .. ")")
  local md = t.read_file(tmp .. "/lu177_psma_pbrpk.md") or ""
  t.ok(md:find("## Comparison with lu177_psma.lua", 1, true)
    and md:find("| kidney |", 1, true), "... and compares its Gy/GBq with "
    .. "the population model")
end

t.done()
