-- marrow.lua - red-marrow absorbed dose from blood samples and whole-body
-- measurements (EANM red-marrow dosimetry guidelines, Hindorf et al.,
-- EJNMMI 2010;37:1238), with its standard uncertainty, 95 % interval and
-- uncertainty budget (first order, as in the EANM uncertainty guidance,
-- Gear et al., EJNMMI 2018;45:2456).
--
--   usage: radiokin scripts/marrow.lua SAMPLES.csv --marrow-mass-kg M
--     [--out OUT.csv] [--nuclide Lu-177] [--rmblr R] [--u-rmblr U]
--     [--u-marrow-mass REL] [--s-cross S] [--u-s-cross REL]
--     [--u-s-self REL] [--cv 0.1] [--quiet]
--
-- Example
--   radiokin scripts/marrow.lua samples.csv --marrow-mass-kg 1.17 \
--     --rmblr 1 --u-rmblr 0.2 --u-marrow-mass 0.1 --s-cross 2.1e-6
--
-- SAMPLES.csv, one row per sample:
--   patient         patient id (text)
--   kind            blood | wholebody
--   t_h             time after administration, h
--   value           blood: activity concentration, MBq/mL;
--                   wholebody: activity in the body, MBq
--  optional:
--   sd              standard uncertainty of value (else proportional, --cv)
--   marrow_mass_kg  the patient's red-marrow mass (else --marrow-mass-kg)
--
-- Per patient: the blood curve and the whole-body curve are fitted
-- (rk.tac.fit, AICc selection, trapezoid start at the first value), giving
-- the blood's TIA per mL and the whole body's TIA with their SEs. Then
-- (rk.uncert.marrow)
--   TIA_RM  = TIA_blood/mL x RMBLR x m_RM (g; 1 g of marrow as 1 mL)
--   D_self  = local deposition of the nuclide's non-penetrating energy
--   D_cross = (TIA_WB - TIA_RM) x S(RM <- remainder of body), when
--             --s-cross (Gy/(MBq h), from the user's phantom, scaled to
--             the patient) is given and the patient has whole-body data;
--             otherwise self-dose only, with a warning.
-- RMBLR (--rmblr, default 1: a radiopharmaceutical that binds to no blood,
-- marrow or bone component) and its uncertainty --u-rmblr (absolute,
-- default 0: give it), the marrow mass uncertainty (relative), and the
-- S values' relative uncertainties are the user's.
--
-- Output OUT.csv (default SAMPLES_marrow.csv, atomic): patient, the fits
-- (models, TIAs, SEs), tia_rm_MBqh, dose_self_gy, dose_cross_gy, dose_gy,
-- dose_u_gy, dose_lo_gy, dose_hi_gy, budget ("source=share;..."),
-- warnings. Bad input stops with file:line and the field.
local rk = require "radiokin"

local M = {}

local USAGE = "usage: radiokin scripts/marrow.lua SAMPLES.csv " ..
  "--marrow-mass-kg M [--out OUT.csv] [--nuclide NAME] [--rmblr R] " ..
  "[--u-rmblr U] [--u-marrow-mass REL] [--s-cross S] [--u-s-cross REL] " ..
  "[--u-s-self REL] [--cv X] [--quiet]"

-- --help prints the header comment of this file.
function M.help()
  return rk.script_help()
end

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local function nonneg(v, name)
  local x = rk.csv.parse_number(v)
  if not x or x < 0 then
    usage(("%s needs a number >= 0 (got '%s')"):format(name, v))
  end
  return x
end

local OPTIONS = {
  ["--out"] = { "out", "value" },
  ["--nuclide"] = { "nuclide", "value" },
  ["--quiet"] = { "quiet", "flag" },
}
for name, key in pairs({ ["--marrow-mass-kg"] = "marrow_mass_kg",
    ["--rmblr"] = "rmblr", ["--u-rmblr"] = "u_rmblr",
    ["--u-marrow-mass"] = "u_marrow_mass", ["--s-cross"] = "s_cross",
    ["--u-s-cross"] = "u_s_cross", ["--u-s-self"] = "u_s_self",
    ["--cv"] = "cv" }) do
  OPTIONS[name] = { key, nonneg }
end

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage, { nuclide = "Lu-177",
    rmblr = 1, u_rmblr = 0, u_marrow_mass = 0, u_s_cross = 0, u_s_self = 0,
    cv = 0.1 })
  if o.help then return o end
  if #files > 1 then usage("one samples file only") end
  o.input = files[1]
  if not o.input then usage("no samples file given") end
  o.out = o.out or (o.input:gsub("%.[^./]*$", "")) .. "_marrow.csv"
  return o
end

local function fail(opts, i, msg)
  error(("%s:%s: %s"):format(opts.source or "samples",
    opts.line and opts.line[i] or i, msg), 0)
end

-- One curve fit; returns the chosen TIA, its SE (nil when unknown), the
-- model and warnings.
local function fit(opts, s, what)
  local t, a, sd, has_sd = {}, {}, {}, true
  table.sort(s, function(x, y) return x.t < y.t end)
  for k, p in ipairs(s) do
    t[k], a[k] = p.t, p.v
    if p.sd then sd[k] = p.sd else has_sd = false end
    if k > 1 and t[k] == t[k - 1] then
      fail(opts, p.i, ("%s: two samples at %g h"):format(what, p.t))
    end
  end
  local ok, r = pcall(rk.tac.fit, { t = t, a = a, nuclide = opts.nuclide,
    sd = has_sd and sd or nil, cv = (not has_sd) and opts.cv or nil,
    trap_a0 = "flat" })
  if not ok then fail(opts, s[1].i, what .. ": " .. tostring(r)) end
  return r.tia, r.tia_se, r.chosen, r.warnings
end

-- rows: rk.csv.read rows (patient, kind, t_h, value [, sd,
-- marrow_mass_kg]). Returns one result table per patient, in input order.
function M.compute(rows, opts)
  local order, pat = {}, {}
  for i, r in ipairs(rows) do
    local p = r.patient
    if p == nil then fail(opts, i, "column 'patient' is empty") end
    p = tostring(p)
    local kind = r.kind
    if kind ~= "blood" and kind ~= "wholebody" then
      fail(opts, i, ("kind = %s, expected blood or wholebody")
        :format(tostring(kind)))
    end
    if type(r.t_h) ~= "number" or r.t_h < 0 then
      fail(opts, i, ("t_h = %s, expected a time >= 0 h"):format(
        tostring(r.t_h)))
    end
    if type(r.value) ~= "number" or r.value <= 0 then
      fail(opts, i, ("value = %s, expected > 0 (%s)"):format(
        tostring(r.value), kind == "blood" and "MBq/mL" or "MBq"))
    end
    if r.sd ~= nil and (type(r.sd) ~= "number" or r.sd <= 0) then
      fail(opts, i, ("sd = %s, expected > 0"):format(tostring(r.sd)))
    end
    if not pat[p] then
      pat[p] = { blood = {}, wholebody = {}, first = i }
      order[#order + 1] = p
    end
    local m = r.marrow_mass_kg
    if m ~= nil then
      if type(m) ~= "number" or m <= 0 or m > 5 then
        fail(opts, i, ("marrow_mass_kg = %s, expected a mass in kg (0-5)")
          :format(tostring(m)))
      end
      pat[p].m = m
    end
    local s = pat[p][kind]
    s[#s + 1] = { t = r.t_h, v = r.value, sd = r.sd, i = i }
  end
  local out = {}
  for _, p in ipairs(order) do
    local d, warn = pat[p], {}
    local m_rm = d.m or opts.marrow_mass_kg
    if not m_rm then
      fail(opts, d.first, ("patient %s: no marrow_mass_kg column and no "
        .. "--marrow-mass-kg"):format(p))
    end
    if #d.blood < 2 then
      fail(opts, d.first, ("patient %s: %d blood samples, need 2 or more")
        :format(p, #d.blood))
    end
    local tb, tb_se, mb, wb = fit(opts, d.blood, "patient " .. p .. " blood")
    for _, w in ipairs(wb or {}) do warn[#warn + 1] = "blood: " .. w end
    if not tb_se then
      warn[#warn + 1] = "blood TIA has no SE: its uncertainty is left out"
    end
    local tw, tw_se, mw
    if #d.wholebody >= 2 and opts.s_cross then
      local ww
      tw, tw_se, mw, ww = fit(opts, d.wholebody, "patient " .. p
        .. " whole body")
      for _, w in ipairs(ww or {}) do warn[#warn + 1] = "whole body: " .. w end
    else
      warn[#warn + 1] = "self-dose only: no cross-dose (needs 2+ wholebody "
        .. "samples and --s-cross)"
    end
    local ok, r = pcall(rk.uncert.marrow, { nuclide = opts.nuclide,
      c_tia_blood = tb, u_c_tia_blood = tb_se or 0, rmblr = opts.rmblr,
      u_rmblr = opts.u_rmblr, m_rm_kg = m_rm,
      u_m_rm_kg = opts.u_marrow_mass * m_rm, tia_wb = tw or 0,
      u_tia_wb = tw_se or 0, s_cross = tw and opts.s_cross or 0,
      u_s_cross_rel = opts.u_s_cross, u_s_self_rel = opts.u_s_self })
    if not ok then fail(opts, d.first, ("patient %s: %s"):format(p, r)) end
    local budget = {}
    for _, src in ipairs(rk.uncert.sources()) do
      local sh = r.total.budget and r.total.budget[src]
      if sh then budget[#budget + 1] = ("%s=%.3f"):format(src, sh) end
    end
    out[#out + 1] = { patient = p, marrow_mass_kg = m_rm,
      blood_model = mb, tia_blood_MBqh_per_mL = tb, tia_blood_se = tb_se,
      wb_model = mw, tia_wb_MBqh = tw, tia_wb_se = tw_se,
      tia_rm_MBqh = r.tia_rm.value, dose_self_gy = r.self.value,
      dose_cross_gy = tw and r.cross.value or nil, dose_gy = r.total.value,
      dose_u_gy = r.total.u, dose_lo_gy = r.total.lo,
      dose_hi_gy = r.total.hi, budget = table.concat(budget, ";"),
      warnings = #warn > 0 and table.concat(warn, " | ") or nil }
  end
  return out
end

M.columns = { "patient", "marrow_mass_kg", "blood_model",
  "tia_blood_MBqh_per_mL", "tia_blood_se", "wb_model", "tia_wb_MBqh",
  "tia_wb_se", "tia_rm_MBqh", "dose_self_gy", "dose_cross_gy", "dose_gy",
  "dose_u_gy", "dose_lo_gy", "dose_hi_gy", "budget", "warnings" }

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.help())
    return
  end
  local rows, _, line = rk.csv.read(o.input, { strings = { "patient",
    "kind" }, missing = { "", "NA" }, comment = "#" })
  local res = M.compute(rows, { source = o.input, line = line,
    nuclide = o.nuclide, rmblr = o.rmblr, u_rmblr = o.u_rmblr,
    marrow_mass_kg = o.marrow_mass_kg, u_marrow_mass = o.u_marrow_mass,
    s_cross = o.s_cross, u_s_cross = o.u_s_cross, u_s_self = o.u_s_self,
    cv = o.cv })
  rk.csv.write(o.out, res, M.columns)
  if not o.quiet then
    print(("%-10s %9s %9s %9s %9s  %s"):format("patient", "self Gy",
      "cross Gy", "dose Gy", "u Gy", "95 % interval"))
    for _, r in ipairs(res) do
      print(("%-10s %9.4f %9s %9.4f %9.4f  %.4f-%.4f"):format(r.patient,
        r.dose_self_gy, r.dose_cross_gy and ("%.4f"):format(r.dose_cross_gy)
        or "-", r.dose_gy, r.dose_u_gy, r.dose_lo_gy, r.dose_hi_gy))
    end
    print("written: " .. o.out)
  end
  return res
end

if arg and arg[0] and (arg[0]:match("scripts/marrow%.lua$")
    or arg[0] == "marrow.lua") then
  M.main(arg)
end
return M
