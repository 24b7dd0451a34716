-- pbrpk_carrier.lua - the cold (unlabelled) ligand of models/
-- lu177_psma_pbrpk.lua under rk.regimen: every administration carries
-- cold ligand with its activity (carrier = { state =, per_mbq = }, a
-- second dose record per cycle, engine/regimen/regimen_aug.c), from
-- cold_per_hot or the specific activity (MBq per nmol of ligand).
--
-- The SBML is not the external PBRPK file: the test builds a small
-- receptor model with the PBRPK model's names (Blood, Kidney, SG, Tumor1,
-- Rest; Hot and Cold species; lambdaPhys per minute; receptor densities
-- Rden_*) and writes it through libSBML (m:write_sbml). In it hot and cold
-- ligand bind the same receptors (mass action, receptors R = Rden V -
-- bound hot - bound cold), so more cold mass saturates them.
--
-- Checked: raising the cold mass lowers kidney and tumour Gy/GBq strictly,
-- patient by patient; zero cold mass gives the hot-only run (rk.regimen
-- with carrier = false, and m:simulate with the hot dose alone); a
-- regimen cycle equals m:simulate with the explicit hot and cold doses
-- (cycle_doses); the specific activity gives the cold_per_hot it
-- implies; the errors (bad carrier, specific activity above the
-- carrier-free value, both options).
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local tmp = t.scratch()
local model_path = src .. "/models/lu177_psma_pbrpk.lua"
local N_A = 6.02214076e23

-- --------------------------------------------------- the small SBML model
local HOT = { "Blood.Hot", "Kidney.Hot", "SG.Hot", "Tumor1.Hot", "Rest.Hot" }
local states = {}
for _, h in ipairs(HOT) do
  states[#states + 1] = h
  states[#states + 1] = (h:gsub("Hot$", "Cold"))
end
local lambda_per_min = math.log(2) / (6.647 * 24 * 60)
local mini = rk.model {
  name = "pbrpk_mini",
  states = states,
  params = {
    lambdaPhys = lambda_per_min, Vblood = 5.0, Kidney = 0.311, SG = 0.21,
    Tumor1 = 0.01, TumorRest = 1.0, Rest = 60, bodyWeight = 85,
    bodyHeight = 176, Rden_Kidney = 20, Rden_SG = 30, Rden_Tumor1 = 500,
    GFR = 6, kon = 0.05, koff = 0.01, kin = 0.3, kout = 0.1,
  },
  ode = function(s, p)
    local lam = p.lambdaPhys * 60          -- per hour
    local d = {}
    local cH, cC = s["Blood.Hot"] / p.Vblood, s["Blood.Cold"] / p.Vblood
    local bH = -p.GFR * cH - p.kin * s["Blood.Hot"] + p.kout * s["Rest.Hot"]
    local bC = -p.GFR * cC - p.kin * s["Blood.Cold"]
      + p.kout * s["Rest.Cold"]
    for _, o in ipairs { { "Kidney", p.Rden_Kidney * p.Kidney },
                         { "SG", p.Rden_SG * p.SG },
                         { "Tumor1", p.Rden_Tumor1 * p.Tumor1 } } do
      local h, c = s[o[1] .. ".Hot"], s[o[1] .. ".Cold"]
      local free = o[2] - h - c
      local jh = p.kon * cH * free - p.koff * h
      local jc = p.kon * cC * free - p.koff * c
      d[o[1] .. ".Hot"] = jh - lam * h
      d[o[1] .. ".Cold"] = jc
      bH, bC = bH - jh, bC - jc
    end
    d["Rest.Hot"] = p.kin * s["Blood.Hot"] - p.kout * s["Rest.Hot"]
      - lam * s["Rest.Hot"]
    d["Rest.Cold"] = p.kin * s["Blood.Cold"] - p.kout * s["Rest.Cold"]
    d["Blood.Hot"] = bH - lam * s["Blood.Hot"]
    d["Blood.Cold"] = bC
    return d
  end,
  outputs = function(s, p)
    return { Blood = p.Vblood + 0 * s["Blood.Hot"] }
  end,
}
local sbml = tmp .. "/pbrpk_mini.sbml"
mini:write_sbml(sbml)

local function load(o)
  o = o or {}
  o.sbml, o.time_unit = sbml, "h"
  return assert(loadfile(model_path))(o)
end

-- MBq per nmol of hot ligand (the model file's conversion)
local hot_mbq_per_nmol = lambda_per_min / 60 * N_A * 1e-15

local base = load { cold_per_hot = 0 }
local patients = base.population:sample { n = 3, seed = 2 }

local function regimen(M, carrier, ps)
  return rk.regimen { model = M, patients = ps or patients,
    rule = "empiric", regions = { "kidney", "tumour" }, n_cycles = 1,
    progress = false, carrier = carrier }
end
local function per_gbq(r, region, i)
  return r.cum_dose[region][i] / r.cum_activity_gbq[i]
end

-- ------------------------- the carrier the model file returns, and units
do
  local M = load { cold_per_hot = 10 }
  t.is(M.carrier.state, "Blood.Cold", "carrier: the cold ligand's state")
  t.is(M.carrier.per_mbq, 10 / hot_mbq_per_nmol, 1e-12 * M.carrier.per_mbq,
    ("cold_per_hot 10: %.5f nmol cold per MBq (10 / %.2f MBq per nmol hot)")
      :format(M.carrier.per_mbq, hot_mbq_per_nmol))
  local d = M.cycle_doses(7400)
  t.is(d[2].amount, 7400 * M.carrier.per_mbq, 1e-9,
    "cycle_doses: the same cold amount per MBq as the carrier")
  -- specific activity S (MBq per nmol of all ligand): cold = A/S - hot
  local S = hot_mbq_per_nmol / 11
  local MS = load { specific_activity = S }
  t.is(MS.carrier.per_mbq, M.carrier.per_mbq, 1e-9 * M.carrier.per_mbq,
    ("specific activity %.3f MBq/nmol = 1/11 of carrier-free: 10 nmol cold "
      .. "per nmol hot"):format(S))
  local M0 = load { specific_activity = hot_mbq_per_nmol }
  t.is(M0.carrier.per_mbq, 0, 1e-15,
    "carrier-free specific activity: no cold ligand")
end

-- ------------- more cold mass, less kidney and tumour dose per GBq, strictly
do
  local ratios = { 0, 1, 5, 20, 100 }
  local prev
  local mono = true
  local lines = {}
  for _, c in ipairs(ratios) do
    local r = regimen(load { cold_per_hot = c })
    t.ok(r.n == 3 and #r.failed == 0,
      ("cold_per_hot %g: 3 patients, none failed"):format(c))
    local now = {}
    for i = 1, 3 do
      now[i] = { per_gbq(r, "kidney", i), per_gbq(r, "tumour", i) }
      if prev and not (now[i][1] < prev[i][1] and now[i][2] < prev[i][2]) then
        mono = false
      end
    end
    lines[#lines + 1] = ("%g: kidney %.4f, tumour %.3f"):format(c,
      now[1][1], now[1][2])
    prev = now
  end
  t.ok(mono, "kidney and tumour Gy/GBq fall strictly with the cold mass, "
    .. "every patient (patient 1, cold/hot: " .. table.concat(lines, "; ")
    .. ")")
end

-- ----------------------------------- zero cold mass is the hot-only run
do
  local r0 = regimen(load { cold_per_hot = 0 })
  local rh = regimen(load { cold_per_hot = 10 }, false)
  for i = 1, 3 do
    t.is(per_gbq(rh, "kidney", i), per_gbq(r0, "kidney", i), 0,
      ("patient %d: carrier = false is the zero-cold run (kidney)"):format(i))
    t.is(per_gbq(rh, "tumour", i), per_gbq(r0, "tumour", i), 0,
      ("patient %d: ... and tumour"):format(i))
  end
end

-- ----- a regimen cycle is m:simulate with the cycle's hot and cold doses
do
  local typical = { {} }
  for _, c in ipairs { 0, 10 } do
    local M = load { cold_per_hot = c }
    local r = regimen(M, nil, typical)
    local s = M.model:simulate { doses = M.cycle_doses(7400),
      times = { 0, M.interval_h }, tia = { "D_K", "D_T" } }
    t.is(r.cum_dose.kidney[1], s.tia.D_K, 1e-4 * s.tia.D_K,
      ("cold/hot %g: regimen kidney %.4f Gy = m:simulate with hot + cold "
        .. "doses"):format(c, r.cum_dose.kidney[1]))
    t.is(r.cum_dose.tumour[1], s.tia.D_T, 1e-4 * s.tia.D_T,
      ("cold/hot %g: regimen tumour %.3f Gy = m:simulate"):format(c,
        r.cum_dose.tumour[1]))
    if c == 0 then
      local h = M.model:simulate { doses = { { time = 0, amount = 7400,
          to = "Blood.Hot" } }, times = { 0, M.interval_h },
        tia = { "D_K" } }
      t.is(r.cum_dose.kidney[1], h.tia.D_K, 1e-4 * h.tia.D_K,
        "zero cold mass: regimen = m:simulate with the hot dose alone")
    end
  end
end

-- --------------------------------------------------------------- errors
do
  local M = load { cold_per_hot = 10 }
  t.raises(function() return regimen(M, { state = "Nowhere", per_mbq = 1 }) end,
    "rk.regimen: carrier: state 'Nowhere' is not a state of model",
    "carrier to an unknown state: named")
  t.raises(function() return regimen(M, { state = "Blood.Hot", per_mbq = 1 }) end,
    "is the state the activity goes to",
    "carrier into the activity's own state: refused")
  t.raises(function()
    return regimen(M, { state = "Blood.Cold", per_mbq = -1 })
  end, "per_mbq must be a finite number >= 0", "negative carrier: refused")
  t.raises(function() return regimen(M, { state = "Blood.Cold" }) end,
    "per_mbq", "carrier without per_mbq: refused")
  t.raises(function() return regimen(M, { state = "Blood.Cold", per_mbq = 1,
      mass = 2 }) end, "mass", "carrier with an unknown key: named")
  t.raises(function() return regimen(M, 3) end,
    "carrier must be a table", "carrier not a table: refused")
  t.raises(function() return load { specific_activity = 2 * hot_mbq_per_nmol } end,
    "is above the carrier-free", "specific activity above carrier-free: refused")
  t.raises(function() return load { specific_activity = 0 } end,
    "specific_activity must be a finite number > 0", "zero specific activity")
  t.raises(function() return load { specific_activity = 50, cold_per_hot = 1 } end,
    "not both", "both cold options: refused")
  t.raises(function() return load { cold_per_hot = -1 } end,
    "cold_per_hot must be a finite number >= 0", "negative cold_per_hot")
end

t.done()
