-- lu177_psma.lua - population model of [177Lu]Lu-PSMA-617 kinetics and
-- dosimetry: the six-compartment structure of Siebinga et al. 2023 with
-- saturable salivary uptake (nonlinear: solved on the CVODES path), organ
-- masses and covariates per patient, and dose-rate outputs.
--
-- Returns { model =, population =, regions =, reference =, dose_to =,
-- activity_MBq =, interval_h = } (the same shape as lu177_dotatate.lua):
--   model       rk.model; states are activities in MBq (decay added by the
--               engine), time h.
--   population  rk.population over it: pop:sample{n=, seed=} -> patients.
--   regions     region -> { activity = state or output holding its
--               activity (MBq), mass_param = model parameter with its mass
--               (kg, per patient), dose_rate = output in Gy/h (the TIA of
--               this output over a cycle IS the absorbed dose in Gy),
--               alpha_beta_Gy =, t_rep_h = (for BED) }.
--   reference   region -> { mean =, sd = (Gy/GBq), n =, source = }: the
--               published figures tests/populations.lua compares with.
--   targets     the published numbers as data with paper, table, method
--               and whether they were read in the source
--               (scripts/model_report.lua, tests/model_report.lua).
--   dose_to     the state an administered activity goes to ("B").
--   activity_MBq, interval_h: the label regimen, 7.4 GBq every 6 weeks.
--
-- Absorbed dose: local energy deposition of the non-penetrating energy,
-- rk.nuclide("Lu-177").j_per_mbqh / mass (8.532e-5 J/(MBq h), 147.92 keV
-- per decay, ICRP 107, P), as dose-rate outputs
-- D = A j_per_mbqh / m. Red marrow adds a photon cross-dose from the
-- whole-body activity (see phi_WB).
--
-- Sources: named per parameter below, with tags: P primary source read,
-- S secondary, C public code, D derived, U not confirmed (assumption);
-- docs/sources.md defines the tags.
--
--  param  value        IIV (CV)  meaning / source
--  k10    0.288 /h     20 %      elimination from blood; Siebinga 2023
--                                Table 2 via code (C); CV U. Renal: scaled
--                                by (GFR / 80 mL/min)^0.5 (form and
--                                exponent U; Siebinga 2024 tested renal
--                                function, P qualitative)
--  k12    0.0238 /h    50 %      blood -> salivary (C; CV U)
--  k21    0.0307 /h    -         salivary -> blood (C)
--  Bmax   40.4 MBq     59.3 %    salivary capacity, decay-corrected (P,
--                                abstract: 40.4 MBq, IIV 59.3 %)
--  k13    0.0086 /h    20 %      blood -> kidney (C; CV set so the kidney
--                                Gy/GBq SD is near VISION's, D)
--  k31    0.0141 /h    15 %      kidney -> blood (C; agrees with the PBPK
--                                release 0.0138 /h, ibartelink, C)
--  k14    0.0238 /h    40 %      blood -> liver (C; CV U)
--  k41    0.0283 /h    -         liver -> blood (C)
--  k15g   2.4e-4 /h/g  90 %      blood -> tumour per g of tumour (D:
--                                Siebinga's 0.000248 /h for the ~1 g
--                                low-volume cohort; linear scaling U; CV
--                                D: set for Voelter's tumour spread; the
--                                PBPK GSA gives a tumour CV up to 59 %, P)
--  k51    0.00902 /h   50 %      tumour -> blood (C; CV U)
--  k16    1.05 /h      20 %      blood -> rest (C; CV U)
--  k61    0.744 /h     -         rest -> blood (C)
--  V1     10.3 L       20 %      blood volume of distribution (C; CV U)
--  RMBLR  1            55 %      red-marrow-to-blood activity
--                                concentration ratio (Forrer 2009: marrow
--                                = blood, P for DOTATATE; transfer to PSMA
--                                and the CV U; the CV stands for the
--                                marrow-dose spread VISION reports)
--  phi_WB 0.3          -         fraction of whole-body photon energy
--                                absorbed, for the marrow cross-dose (U)
--  masses (kg, per patient from covariates, not IIV):
--  m_K    kidney_kg    normal 0.31 (ICRP male, C), SD 0.065 (CV 21 %
--                      from the Italia 231-503 g range, D), [0.15, 0.60]
--  m_S    salivary_kg  normal 0.058 (parotid 0.0406 + submandibular
--                      0.0152 L, ibartelink, C; 1 kg/L), SD 0.012 (CV 21 %,
--                      U), [0.025, 0.12]
--  m_RM   1.17 kg      red marrow, ICRP male (C), scaled by weight / 73 kg
--  m_T    tumour_g     lognormal mean 200 g, SD 250 g, [2, 3000] (U:
--                      mCRPC PSMA-avid tumour burden)
--  m_WB   weight_kg    lognormal mean 85, SD 15 kg, [45, 160] (U)
--  covariate GFR (mL/min): normal 80, SD 20, [20, 150] (U)
--
-- Salivary saturation uses the decay-corrected amount S exp(lambda t)
-- (t from the cycle's administration), because Bmax was estimated from
-- decay-corrected data (LITERATURE 1.1): the saturating quantity is
-- ligand, not activity.
--
-- Comparison with VISION (2,000 virtual patients, seed 1, one 7.4 GBq
-- cycle integrated over 6 weeks; tests/populations.lua reproduces it),
-- Gy/GBq:
--
--   region    simulated mean +- SD  median  P5-P95        published
--   kidney    0.438 +- 0.175        0.404   0.218-0.772   0.43 +- 0.16
--   salivary  0.650 +- 0.347        0.574   0.253-1.281   0.63 +- 0.36
--   marrow    0.033 +- 0.020        0.028   0.011-0.070   0.034 +- 0.020
--                                                         (0.25 +- 0.15 Gy
--                                                         per 7.4 GBq)
--   tumour    6.61 +- 6.18          4.76    1.15-17.7     7.1 +- 9.3 (D:
--             Voelter 2021 responders 10.2 +- 12.0 and non-responders
--             4.0 +- 2.9 pooled with equal weights; VISION gives none)
--
-- Calibration (D): the IIV CVs of k10, k13, k31 (kidney), k15g (tumour)
-- and RMBLR (marrow) were set so the simulated SDs match the published
-- ones; the typical values are the published / derived ones above. The
-- typical patient's salivary dose falls from 1.04 Gy/GBq at 3 GBq to 0.58
-- at 7.4 GBq (saturation, as Siebinga 2023 reports, P).
local rk = require "radiokin"
local organdose = require "radiokin.organdose"

local lu = rk.nuclide("Lu-177")
local E = lu.j_per_mbqh                           -- J/(MBq h), electrons
local E_p = lu.e_p_mev * 3.6e9 * 1.602176634e-13  -- J/(MBq h), photons
local lam = lu.lambda

local m = rk.model {
  name = "lu177_psma",
  nuclide = "Lu-177",
  source = "Siebinga 2023 CPT PSP 12:1060 (structure, Bmax); other "
    .. "parameters per line of models/lu177_psma.lua",
  description = "177Lu-PSMA-617: blood B, salivary S (saturable), kidney "
    .. "K, liver L, tumour T, rest R; MBq, h",
  states = { "B", "S", "K", "L", "T", "R" },
  positive = true,
  params = {
    k10 = 0.288, k12 = 0.0238, k21 = 0.0307, Bmax = 40.4,
    k13 = 0.0086, k31 = 0.0141, k14 = 0.0238, k41 = 0.0283,
    k15g = 2.4e-4, k51 = 0.00902, k16 = 1.05, k61 = 0.744,
    V1 = 10.3, RMBLR = 1, phi_WB = 0.3,
    m_K = 0.31, m_S = 0.058, m_RM = 1.17, m_T = 0.2, m_WB = 85,
  },
  ode = function(s, p, t)
    local sal = p.k12 * s.B * (1 - s.S * rk.exp(lam * t) / p.Bmax)
    local k15 = p.k15g * p.m_T * 1000
    return {
      B = -p.k10 * s.B - sal + p.k21 * s.S - p.k13 * s.B + p.k31 * s.K
        - p.k14 * s.B + p.k41 * s.L - k15 * s.B + p.k51 * s.T
        - p.k16 * s.B + p.k61 * s.R,
      S = sal - p.k21 * s.S,
      K = p.k13 * s.B - p.k31 * s.K,
      L = p.k14 * s.B - p.k41 * s.L,
      T = k15 * s.B - p.k51 * s.T,
      R = p.k16 * s.B - p.k61 * s.R,
    }
  end,
  -- A_RM, A_WB, D_RM, D_K, D_S, D_T (dsl/lua/organdose.lua)
  outputs = organdose.outputs {
    states = { "B", "S", "K", "L", "T", "R" },
    organs = { K = "m_K", S = "m_S", T = "m_T" },
    E = E, E_p = E_p,
    whole_body = "A_WB",   -- whole-body activity (MBq): retention
  },
}

local population = rk.population {
  model = m,
  cv = { k10 = 0.20, k12 = 0.50, Bmax = 0.593, k13 = 0.20, k31 = 0.15,
         k14 = 0.40, k15g = 0.90, k51 = 0.50, k16 = 0.20, V1 = 0.20,
         RMBLR = 0.55 },
  covariates = {
    kidney_kg = { dist = "normal", unit = "kg",
                  mean = 0.31, sd = 0.065, min = 0.15,
                  max = 0.60 },
    salivary_kg = { dist = "normal", unit = "kg",
                    mean = 0.058, sd = 0.012, min = 0.025,
                    max = 0.12 },
    tumour_g = { dist = "lognormal", unit = "g",
                 mean = 200, sd = 250, min = 2,
                 max = 3000 },
    weight_kg = { dist = "lognormal", unit = "kg",
                  mean = 85, sd = 15, min = 45,
                  max = 160 },
    GFR = { dist = "normal", unit = "mL/min",
            mean = 80, sd = 20, min = 20, max = 150 },
  },
  -- larger patients have larger kidneys (renal volume ~ BSA, r = 0.68,
  -- LITERATURE 3.3, P); 0.5 on weight is an assumption (U)
  cov_corr = { { "kidney_kg", "weight_kg", 0.5 } },
  effects = {
    { param = "k10", cov = "GFR", form = "power", ref = 80, beta = 0.5 },
  },
  individual = function(th, eta, cov)
    return {
      m_K = cov.kidney_kg,
      m_S = cov.salivary_kg,
      m_T = cov.tumour_g / 1000,
      m_WB = cov.weight_kg,
      m_RM = th.m_RM * cov.weight_kg / 73,
    }
  end,
}

return {
  model = m,
  population = population,
  dose_to = "B",
  activity_MBq = 7400,
  interval_h = 1008,
  regions = {
    kidney = { activity = "K", mass_param = "m_K", dose_rate = "D_K",
               alpha_beta_Gy = 2.6, t_rep_h = 2.8 },
    salivary = { activity = "S", mass_param = "m_S", dose_rate = "D_S",
                 alpha_beta_Gy = 4.5, t_rep_h = 1.5 },
    marrow = { activity = "A_RM", mass_param = "m_RM", dose_rate = "D_RM",
               alpha_beta_Gy = 15, t_rep_h = 1.5 },
    tumour = { activity = "T", mass_param = "m_T", dose_rate = "D_T",
               alpha_beta_Gy = 10, t_rep_h = 1.5 },
  },
  -- Published targets as data (scripts/model_report.lua; fields as in
  -- models/lu177_dotatate.lua). VISION's numbers were read only through a
  -- review and the prescribing information's summary (read = false).
  targets = {
    { region = "kidney", quantity = "Gy/GBq", mean = 0.43, sd = 0.16,
      n = 29, role = "calibration", method = "hybrid (U)",
      paper = "VISION dosimetry substudy (PLUVICTO prescribing "
        .. "information, section 12)",
      table = "not read: via a review", read = false },
    { region = "salivary", quantity = "Gy/GBq", mean = 0.63, sd = 0.36,
      n = 29, role = "calibration", method = "hybrid (U)",
      paper = "VISION dosimetry substudy (PLUVICTO prescribing "
        .. "information, section 12)",
      table = "not read: via a review", read = false },
    { region = "marrow", quantity = "Gy/GBq", mean = 0.25 / 7.4,
      sd = 0.15 / 7.4, n = 29, role = "calibration",
      method = "blood-based (U)",
      paper = "VISION dosimetry substudy (PLUVICTO prescribing "
        .. "information, section 12)",
      table = "0.25 +- 0.15 Gy per 7.4 GBq, not read: via a review",
      read = false },
    -- the pooled SD of two subgroups is derived (D), not a published SD:
    -- reported, not asserted (check_sd = false)
    { region = "tumour", quantity = "Gy/GBq", mean = 7.1, sd = 9.26,
      n = 30, role = "calibration", check_sd = false, method = "SPECT (U)",
      paper = "Voelter F et al., Diagnostics 2021;11(3):428",
      table = "responders 10.2 +- 12.0, non-responders 4.0 +- 2.9 "
        .. "Gy/GBq, pooled with equal weights here (D)", read = true },
    { region = "kidney", quantity = "Gy/GBq", mean = 0.82, sd = 0.25,
      n = 7, role = "comparison", method = "hybrid",
      paper = "Lu-177-PSMA-617 stability, pharmacokinetics and dosimetry, "
        .. "Mol Imaging Radionucl Ther 2017, PMC5472088 (first author "
        .. "Kabasakal L, not confirmed)",
      table = "abstract (whole-body scans and SPECT/CT)", read = true },
    -- whole-body retention: what is not in the urine at 24 h (D: other
    -- excretion routes neglected; whether the urine activity was decay-
    -- corrected was not read, U)
    { region = "whole body", quantity = "retention_pct", time_h = 24,
      mean = 43.5, sd = 8.8, n = 7, role = "comparison",
      method = "urine collection",
      paper = "Mol Imaging Radionucl Ther 2017, PMC5472088, as above",
      table = "abstract: urinary excretion 56.5 +- 8.8 % (41.5-65.4 %) "
        .. "at 24 h; retained = 100 - excreted (D)", read = true },
    { region = "kidney", quantity = "Gy/GBq", mean = 0.53, n = 9,
      role = "comparison", method = "hybrid (U)",
      paper = "Hohberg M et al., Mol Imaging Biol 2016;18(3):437",
      table = "abstract: mean only", read = false },
    { region = "lacrimal", quantity = "Gy/GBq", mean = 2.1, sd = 0.47,
      n = 29, role = "comparison", method = "hybrid (U)",
      paper = "VISION dosimetry substudy (PLUVICTO prescribing "
        .. "information, section 12)",
      table = "not read: via a review", read = false },
    { region = "kidney", quantity = "Teff_h", median = 35.5,
      range = { 8.5, 152 }, n = 20, role = "comparison", method = "SPECT",
      paper = "Normal-organ effective half-lives for 177Lu-PSMA, AAPM "
        .. "annual meeting abstract (SPECT/CT at 4/24/48/72 h, "
        .. "mono-exponential)",
      table = "abstract, median (range); not read in this session",
      read = false },
    { region = "salivary", quantity = "Teff_h", median = 42.2,
      range = { 18.9, 160.8 }, n = 20, role = "comparison",
      method = "SPECT (parotid)",
      paper = "AAPM annual meeting abstract, as above",
      table = "abstract, median (range); not read in this session",
      read = false },
  },
  reference = {
    kidney = { mean = 0.43, sd = 0.16, n = 29,
               source = "VISION dosimetry substudy (via TvNG 2023 review, S)" },
    salivary = { mean = 0.63, sd = 0.36, n = 29,
                 source = "VISION dosimetry substudy (via TvNG 2023 review, S)" },
    marrow = { mean = 0.25 / 7.4, sd = 0.15 / 7.4, n = 29,
               source = "VISION: 0.25 +- 0.15 Gy per 7.4 GBq cycle "
                 .. "(via TvNG 2023 review, S)" },
    tumour = { mean = 7.1, sd = 9.26, n = 30,
               source = "Voelter 2021 Diagnostics 11:428 (P): responders "
                 .. "10.2 +- 12.0, non-responders 4.0 +- 2.9 Gy/GBq; "
                 .. "pooled here with equal weights (D)" },
  },
}
