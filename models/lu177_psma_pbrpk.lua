-- lu177_psma_pbrpk.lua - a published physiologically based
-- radiopharmacokinetic (PBRPK) model of [177Lu]Lu-PSMA-617, read from its
-- SBML file, with dose regions added, so trials can run on a mechanistic
-- model (hot and cold ligand competing for receptors, receptor
-- saturation, internalisation, renal filtration) as well as on the
-- compartmental population model models/lu177_psma.lua.
--
-- The SBML file is not part of radiokin: the user names it.
--   RADIOKIN_PSMA_SBML=/path/reduced.sbml \
--     radiokin scripts/model_report.lua models/lu177_psma_pbrpk.lua
--   loadfile("models/lu177_psma_pbrpk.lua")({ sbml = "/path/reduced.sbml" })
-- Written for the reduced PSMA PBRPK model of Fele-Paranj A, Saboury B,
-- Uribe C, Rahmim A, "Physiologically based radiopharmacokinetic (PBRPK)
-- modeling to simulate and analyze radiopharmaceutical therapies",
-- EJNMMI Radiopharm Chem 2024;9:6 (doi:10.1186/s41181-023-00236-w), as
-- exported from MATLAB SimBiology (PyCNO, src/pycno/models/reduced.sbml):
-- compartments Blood, Kidney*, SG* (salivary glands), Tumor1*, TumorRest*,
-- Rest*, species Hot and Cold (nmol), time in minutes (the file declares
-- none: loaded with time_unit = "min"), decay as reactions (lambdaPhys,
-- per minute; not added a second time).
--
-- What this file adds (all tagged; the kinetics are the file's own):
--   doses in MBq: a bioavailability factor on Blood.Hot turns MBq into
--     nmol, 1 / (lambdaPhys / 60 N_A 1e-15) nmol per MBq (the file's own
--     decay constant, so activity and amount agree)
--   cold ligand: every administration carries unlabelled ligand with
--     its activity, cold_per_mbq nmol of Blood.Cold per MBq, from either
--       specific_activity = S  MBq per nmol of ligand (hot + cold): the
--         injected ligand is A / S nmol, of which A / (MBq per nmol of
--         177Lu-labelled ligand) is hot, so cold_per_mbq = 1 / S - 1 /
--         (lambdaPhys / 60 N_A 1e-15); S above that carrier-free value
--         (about 720 MBq/nmol) is refused
--       cold_per_hot = r   nmol cold per nmol hot (default 10, U: the
--         ratio of the model authors' example dosing, 10 nmol hot and 100
--         nmol cold; 7.4 GBq with about 110 nmol of PSMA-617 in all)
--     rk.regimen gives it through the returned carrier = { state =
--     "Blood.Cold", per_mbq = cold_per_mbq } (a second dose record of
--     each cycle, engine/regimen/regimen.h), cycle_doses gives it to
--     rk.cohort and m:simulate: receptor saturation then responds to the
--     administered mass in both
--   activities (MBq): A_K (Kidney*), A_S (SG*), A_T (Tumor1*), A_TR
--     (TumorRest*), A_B (Blood), A_WB (every Hot species), each the sum of
--     the Hot amounts times lambdaPhys / 60 N_A 1e-15
--   dose rates (Gy/h): D_X = A_X j_per_mbqh / m_X, local deposition of the
--     177Lu non-penetrating energy (147.92 keV per decay, ICRP 107, P),
--     m_X the compartment's own volume at 1 kg/L (U): kidney 0.311 L,
--     salivary glands 0.21 L (the file's value; the ICRP reference is
--     0.085 kg), tumour 0.01 L, tumour rest 1 L
--   red marrow: A_RM = A_B / V_Blood RMBLR m_RM (RMBLR 1: marrow = blood,
--     Forrer 2009, P for DOTATATE, U here), m_RM 1.17 kg (ICRP 89 male,
--     C), plus the whole-body photon cross-dose A_WB E_p phi_WB / m_WB
--     (phi_WB 0.3, U), as models/lu177_psma.lua. No image-based marrow
--     region (marrow_image): receptors (species R) exist only in Kidney,
--     SG, Tumor1 and TumorRest, and Rest has no bound compartment, so a
--     marrow uptake would be a mechanism added here (models/README.md)
--   population: IIV (all U) on the receptor densities of kidney (CV 30 %),
--     salivary glands (30 %) and tumour (50 %) and on the GFR (25 %);
--     body weight and height from covariates (declared below)
-- No liver: the reduced model has none (its liver is part of Rest).
-- No urine state: excretion leaves the model, so retention is reported,
-- excretion not.
--
-- Returns the shape of the population models (scripts/model_report.lua,
-- rk.cohort, rk.regimen): { model =, population =, regions =, targets =,
-- dose_to = "Blood.Hot", activity_MBq = 7400, interval_h = 1008,
-- cycle_doses = function(A0_MBq) ... end, lambda_per_h =, compare_with =
-- "lu177_psma.lua", carrier = { state = "Blood.Cold", per_mbq = },
-- cold_per_mbq = }. rk.regimen doses the hot ligand (dose_to, MBq) and
-- the cold ligand with it (carrier); carrier = false in the rk.regimen
-- call gives hot ligand only.
-- opts.time_unit: the file's time unit when it declares none (default
-- "min", the PyCNO export's; a file declaring its own is read as such).
local rk = require "radiokin"

local opts = ...
if type(opts) ~= "table" then opts = {} end
local path = opts.sbml or os.getenv("RADIOKIN_PSMA_SBML")
if not path or path == "" then
  error("lu177_psma_pbrpk.lua: name the PBRPK SBML file: set "
    .. "RADIOKIN_PSMA_SBML=/path/reduced.sbml, or call the file with "
    .. "{ sbml = path } (the reduced PSMA model of Fele-Paranj et al. "
    .. "2024, PyCNO src/pycno/models/reduced.sbml)", 0)
end
if opts.cold_per_hot ~= nil and opts.specific_activity ~= nil then
  error("lu177_psma_pbrpk.lua: give cold_per_hot or specific_activity, "
    .. "not both", 0)
end
local cold_per_hot = opts.cold_per_hot
if opts.specific_activity == nil then cold_per_hot = cold_per_hot or 10 end
if cold_per_hot ~= nil and (type(cold_per_hot) ~= "number"
    or not (cold_per_hot >= 0) or cold_per_hot == math.huge) then
  error("lu177_psma_pbrpk.lua: cold_per_hot must be a finite number >= 0 "
    .. "(nmol cold per nmol hot), got " .. tostring(cold_per_hot), 0)
end
local specific_activity = opts.specific_activity
if specific_activity ~= nil and (type(specific_activity) ~= "number"
    or not (specific_activity > 0) or specific_activity == math.huge) then
  error("lu177_psma_pbrpk.lua: specific_activity must be a finite number "
    .. "> 0 (MBq per nmol of ligand), got " .. tostring(specific_activity),
    0)
end
local time_unit = opts.time_unit or "min"

local N_A = 6.02214076e23
local lu = rk.nuclide("Lu-177")
local E = lu.j_per_mbqh                           -- J/(MBq h), electrons
local E_p = lu.e_p_mev * 3.6e9 * 1.602176634e-13  -- J/(MBq h), photons

-- The SBML model as radiokin Lua (rk.sbml.to_lua), loaded with its
-- rk.model call captured so that outputs, masses and the dose unit can be
-- added before the model is built.
local function read_spec(sbml)
  local dir = rk.core.private_dir(os.getenv("TMPDIR") or "/tmp")
  local file = dir .. "/pbrpk.lua"
  local ok, err = pcall(rk.sbml.to_lua, sbml, file,
    { time_unit = time_unit, quiet = true })
  local chunk, lerr, spec
  if ok then
    local proxy = setmetatable({ model = function(s) spec = s end },
      { __index = rk })
    local env = setmetatable({ require = function(name)
        if name == "radiokin" then return proxy end
        return require(name)
      end }, { __index = _G })
    chunk, lerr = loadfile(file, "t", env)
    if chunk then ok, err = pcall(chunk) else ok, err = false, lerr end
  end
  os.remove(file)
  os.remove(dir)
  if not ok then
    error("lu177_psma_pbrpk.lua: " .. sbml .. ": " .. tostring(err), 0)
  end
  return spec
end

local spec = read_spec(path)

-- the Hot species of each region, by compartment name
local groups = { K = "^Kidney", S = "^SG", T = "^Tumor1", TR = "^TumorRest",
                 B = "^Blood%.", R = "^Rest" }
local hot, all_hot = {}, {}
for g in pairs(groups) do hot[g] = {} end
for _, st in ipairs(spec.states) do
  if st:match("%.Hot$") then
    all_hot[#all_hot + 1] = st
    for g, pat in pairs(groups) do
      if st:match(pat) then table.insert(hot[g], st) end
    end
  end
end
for _, g in ipairs { "K", "S", "T", "B" } do
  if #hot[g] == 0 then
    error(("lu177_psma_pbrpk.lua: %s: no Hot species matching %s (is it "
      .. "the PSMA PBRPK model?)"):format(path, groups[g]), 0)
  end
end
for _, need in ipairs { "lambdaPhys", "Kidney", "SG", "Tumor1",
    "TumorRest", "bodyWeight", "bodyHeight", "Rden_Kidney", "Rden_SG",
    "Rden_Tumor1", "GFR" } do
  if spec.params[need] == nil then
    error(("lu177_psma_pbrpk.lua: %s: parameter '%s' is missing (is it "
      .. "the PSMA PBRPK model?)"):format(path, need), 0)
  end
end

local added = { RMBLR = 1, phi_WB = 0.3, m_RM = 1.17 }
for k, v in pairs(added) do
  if spec.params[k] ~= nil then
    error("lu177_psma_pbrpk.lua: the SBML model already has a parameter '"
      .. k .. "'", 0)
  end
  spec.params[k] = v
end

local function mbq_per_nmol(p) return p.lambdaPhys / 60 * N_A * 1e-15 end
local function sum(s, list)
  local a = s[list[1]]
  for i = 2, #list do a = a + s[list[i]] end
  return a
end

spec.name = "lu177_psma_pbrpk"
spec.description = "177Lu-PSMA-617 PBRPK (Fele-Paranj et al. 2024, SBML) "
  .. "with dose regions; doses in MBq to Blood.Hot, nmol to Blood.Cold"
spec.bioav = function(p) return { ["Blood.Hot"] = 1 / mbq_per_nmol(p) } end
local outputs = spec.outputs
spec.outputs = function(s, p, t)
  local o = outputs and outputs(s, p, t) or {}
  local k = mbq_per_nmol(p)
  local a = {}
  for g, list in pairs(hot) do
    if #list > 0 then a[g] = sum(s, list) * k end
  end
  local body = sum(s, all_hot) * k
  o.A_K, o.A_S, o.A_T, o.A_B, o.A_WB = a.K, a.S, a.T, a.B, body
  o.D_K = a.K * E / p.Kidney
  o.D_S = a.S * E / p.SG
  o.D_T = a.T * E / p.Tumor1
  if a.TR then
    o.A_TR = a.TR
    o.D_TR = a.TR * E / p.TumorRest
  end
  o.A_RM = a.B / o.Blood * p.RMBLR * p.m_RM
  o.D_RM = o.A_RM * E / p.m_RM + body * E_p * p.phi_WB / p.bodyWeight
  o.D_WB = body * (E + E_p * p.phi_WB) / p.bodyWeight
  return o
end

local m = rk.model(spec)

-- nmol of cold ligand per MBq administered (see the header)
local has_cold = false
for _, st in ipairs(spec.states) do
  if st == "Blood.Cold" then has_cold = true end
end
if not has_cold then
  error(("lu177_psma_pbrpk.lua: %s: no state Blood.Cold for the cold "
    .. "ligand (is it the PSMA PBRPK model?)"):format(path), 0)
end
local hot_mbq_per_nmol = mbq_per_nmol(m.params)
local cold_per_mbq
if specific_activity then
  if specific_activity > hot_mbq_per_nmol then
    error(("lu177_psma_pbrpk.lua: specific_activity %g MBq/nmol is above "
      .. "the carrier-free %.6g MBq/nmol of the file's lambdaPhys (more "
      .. "activity than labelled ligand)"):format(specific_activity,
      hot_mbq_per_nmol), 0)
  end
  cold_per_mbq = math.max(0, 1 / specific_activity - 1 / hot_mbq_per_nmol)
else
  cold_per_mbq = cold_per_hot / hot_mbq_per_nmol
end

local covariate_declarations = {
  weight_kg = { type = "continuous", unit = "kg", range = { 45, 160 } },
  height_cm = { type = "continuous", unit = "cm", range = { 150, 200 } },
}
local population_spec = {
  model = m,
  cv = { Rden_Kidney = 0.30, Rden_SG = 0.30, Rden_Tumor1 = 0.50,
         GFR = 0.25 },
  covariates = {
    weight_kg = { dist = "lognormal", unit = "kg", mean = 85, sd = 15,
                  min = 45, max = 160 },
    height_cm = { dist = "normal", unit = "cm", mean = 176, sd = 7,
                  min = 150, max = 200 },
  },
  cov_corr = { { "weight_kg", "height_cm", 0.5 } },
  individual = function(th, eta, cov)
    return { bodyWeight = cov.weight_kg, bodyHeight = cov.height_cm }
  end,
}

local VISION = "VISION dosimetry substudy (PLUVICTO prescribing "
  .. "information, section 12)"

return {
  model = m,
  population = rk.population(population_spec),
  population_spec = population_spec,
  covariate_declarations = covariate_declarations,
  dose_to = "Blood.Hot",
  activity_MBq = 7400,
  interval_h = 1008,
  lambda_per_h = lu.lambda,
  cold_per_mbq = cold_per_mbq,
  carrier = { state = "Blood.Cold", per_mbq = cold_per_mbq },
  cycle_doses = function(A0)
    return { { time = 0, amount = A0, to = "Blood.Hot" },
             { time = 0, amount = A0 * cold_per_mbq, to = "Blood.Cold" } }
  end,
  compare_with = "lu177_psma.lua",
  regions = {
    kidney = { activity = "A_K", mass_param = "Kidney", dose_rate = "D_K",
               alpha_beta_Gy = 2.6, t_rep_h = 2.8 },
    salivary = { activity = "A_S", mass_param = "SG", dose_rate = "D_S",
                 alpha_beta_Gy = 4.5, t_rep_h = 1.5 },
    tumour = { activity = "A_T", mass_param = "Tumor1", dose_rate = "D_T",
               alpha_beta_Gy = 10, t_rep_h = 1.5 },
    marrow = { activity = "A_RM", mass_param = "m_RM", dose_rate = "D_RM",
               alpha_beta_Gy = 15, t_rep_h = 1.5 },
    whole_body = { activity = "A_WB", mass_param = "bodyWeight",
                   dose_rate = "D_WB", alpha_beta_Gy = 10, t_rep_h = 1.5 },
  },
  -- not calibrated: the published values are comparisons only
  targets = {
    { region = "kidney", quantity = "Gy/GBq", mean = 0.43, sd = 0.16,
      n = 29, role = "comparison", method = "hybrid (U)", paper = VISION,
      table = "not read: via a review", read = false },
    { region = "salivary", quantity = "Gy/GBq", mean = 0.63, sd = 0.36,
      n = 29, role = "comparison", method = "hybrid (U)", paper = VISION,
      table = "not read: via a review", read = false },
    { region = "marrow", quantity = "Gy/GBq", mean = 0.25 / 7.4,
      sd = 0.15 / 7.4, n = 29, role = "comparison",
      method = "blood-based (U)", paper = VISION,
      table = "0.25 +- 0.15 Gy per 7.4 GBq, not read: via a review",
      read = false },
    { region = "kidney", quantity = "Teff_h", median = 35.5,
      range = { 8.5, 152 }, n = 37, role = "comparison", method = "SPECT",
      paper = "Normal-organ effective half-lives for 177Lu-PSMA, AAPM "
        .. "annual meeting abstract 2620",
      table = "abstract: median (range) of 37 kidneys", read = true },
  },
}
