-- popiov.lua - between-occasion variability in rk.popest: iov = {...}
-- declarations, the OCC column, per-occasion EBEs in results and tables,
-- and the refusals (the objective itself is checked against an explicit
-- computation in tests/unit/test_popiov.c).
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local theoph = src .. "/tests/data/theoph_nm.csv"
local base = dofile(src .. "/models/theophylline.lua")
local tmp = t.scratch()

-- Theophylline twice per subject: occasion 2 is a copy 48 h later (a
-- reset dose, EVID 4) with concentrations 25 % higher (an occasion effect
-- on CL); occasion column OCC and, for the `occ` option, VISIT.
local lines = {}
for l in io.lines(theoph) do
  if not l:match("^#") then lines[#lines + 1] = l end
end
local function split(l)
  local f = {}
  for x in (l .. ","):gmatch("([^,]*),") do f[#f + 1] = x end
  return f
end
local hdr = split(lines[1])
local col = {}
for k, n in ipairs(hdr) do col[n] = k end
local rows = { "ID,TIME,DV,AMT,EVID,MDV,CMT,WT,OCC,VISIT" }
local by_id, order = {}, {}
for k = 2, #lines do
  local f = split(lines[k])
  if not by_id[f[col.ID]] then
    by_id[f[col.ID]] = {}
    order[#order + 1] = f[col.ID]
  end
  table.insert(by_id[f[col.ID]], f)
end
for _, id in ipairs(order) do
  for occ = 1, 2 do
    for _, f in ipairs(by_id[id]) do
      local tm = tonumber(f[col.TIME]) + 48 * (occ - 1)
      local dv = f[col.DV]
      if dv ~= "." and occ == 2 then
        dv = ("%.4f"):format(tonumber(dv) * 1.25)
      end
      local evid = f[col.EVID]
      if evid == "1" and occ == 2 then evid = "4" end
      rows[#rows + 1] = table.concat({ id, tm, dv, f[col.AMT], evid,
        f[col.MDV], f[col.CMT], f[col.WT], occ, 10 + occ }, ",")
    end
  end
end
local data = tmp .. "/theoph_iov.csv"
t.write_file(data, table.concat(rows, "\n") .. "\n")

local m = base.model
local function decl(extra)
  local d = {
    name = "theoph_iov", model = m, observe = "conc",
    theta = { lKe = -2.4, lKa = 0.45, lCl = -3.2 },
    omega = { lKa = 0.2, lCl = 0.05 },
    iov = { kCl = 0.02 },
    individual = function(theta, eta, cov)
      local lcl = theta.lCl + eta.lCl
      return { ka = rk.exp(theta.lKa + eta.lKa),
               cl = rk.exp(lcl + eta.kCl) * cov.WT,
               v = rk.exp(lcl - theta.lKe) * cov.WT }
    end,
    error = { additive = 0.5 },
    covariates = { WT = { type = "continuous", unit = "kg",
                          range = { 20, 250 } } },
  }
  for k, v in pairs(extra or {}) do
    if v == false then d[k] = nil else d[k] = v end
  end
  if d.iov == nil then       -- without occasion etas
    d.individual = function(theta, eta, cov)
      local lcl = theta.lCl + eta.lCl
      return { ka = rk.exp(theta.lKa + eta.lKa), cl = rk.exp(lcl) * cov.WT,
               v = rk.exp(lcl - theta.lKe) * cov.WT }
    end
  end
  return d
end

local pm = rk.popest(decl())
t.ok(#pm.eta_names == 3 and pm.eta_names[3] == "kCl",
  "iov appends its etas after omega's (" .. table.concat(pm.eta_names, " ")
  .. ")")
t.ok(pm.omega[3][3] == 0.02 and pm.omega[3][1] == 0,
  "its variance on the diagonal, its own block")

-- A negligible occasion variance gives the model without IOV.
do
  local tiny = rk.popest(decl({ iov = { kCl = 1e-10 } }))
  local plain = rk.popest(decl({ iov = false }))
  local a = tiny:evaluate(data, { threads = 2 })
  local b = plain:evaluate(data, { threads = 2 })
  t.ok(math.abs(a.ofv - b.ofv) < 1e-3, ("IOV variance 1e-10: OFV %.6f = "
    .. "the model without IOV %.6f (tol. 1e-3)"):format(a.ofv, b.ofv))
  local e = pm:evaluate(data, { threads = 2 })
  t.ok(e.ofv < b.ofv - 10, ("an occasion effect in the data: IOV lowers "
    .. "the OFV (%.3f vs %.3f)"):format(e.ofv, b.ofv))
  local o = e.ebe[1].occasions
  t.ok(o and #o == 2 and o[1].occ == 1 and o[2].occ == 2
    and o[1].eta.kCl ~= o[2].eta.kCl and o[1].eta.lCl == o[2].eta.lCl,
    "r.ebe[i].occasions: each occasion's kCl, the subject's lCl")
  t.ok(e.ebe[1].eta.kCl == o[1].eta.kCl, "r.ebe[i].eta: the first "
    .. "occasion's")
  t.ok(#e.table.OCC == 264 and e.table.OCC[1] == 1
    and e.table.OCC[264] == 2, "r.table.OCC per observation")
  t.ok(e.shrinkage.eta.kCl == e.shrinkage.eta.kCl, "shrinkage of kCl")
end

-- Fit with the covariance step; tables.
do
  local r = pm:fit(data, { threads = 2 })
  t.ok(r.converged and r.covariance_ok, "IOV fit converges with the "
    .. "covariance step (" .. tostring(r.message) .. ")")
  local found
  for _, row in ipairs(r.params) do
    if row.name:match("kCl") then found = row end
  end
  t.ok(found and found.se and found.se > 0, "the IOV variance has an SE ("
    .. (found and found.name or "-") .. ")")
  -- the exact path's df/deta across the occasions' parameter switches
  t.ok(r.n_pred_sens > 0 and r.n_pred > 0, ("model solutions counted: %d "
    .. "with sensitivities, %d without"):format(r.n_pred_sens, r.n_pred))
  -- the covariance step's share of the counts, and the EBE searches' routes
  t.ok(r.cov_n_points > 0 and r.cov_n_pred_sens > 0
    and r.cov_n_pred_sens <= r.n_pred_sens and r.cov_n_pred <= r.n_pred
    and r.cov_n_ebe_newton > 0 and r.cov_n_ebe_newton <= r.n_ebe_newton
    and r.cov_n_ebe_fallback <= r.n_ebe_fallback
    and r.cov_n_ebe_bobyqa <= r.n_ebe_bobyqa
    and r.n_ebe_bobyqa <= r.n_ebe_fallback and r.cov_cpu_s >= 0,
    ("covariance step: %d OFV passes, %d of %d solutions with "
    .. "sensitivities, %d of %d Newton EBE searches, %.2f s CPU")
    :format(r.cov_n_points, r.cov_n_pred_sens, r.n_pred_sens,
      r.cov_n_ebe_newton, r.n_ebe_newton, r.cov_cpu_s))
  local dir = tmp .. "/out"
  r:write_csv(dir)
  local tab = t.read_file(dir .. "/table.csv")
  local ebe = t.read_file(dir .. "/ebe.csv")
  t.like(tab, "^ID,TIME,DV,PRED,IPRED,RES,IWRES,CWRES,OCC\n",
    "table.csv has OCC")
  t.like(ebe, "^ID,OCC,ETA_lCl,ETA_lKa,ETA_kCl,", "ebe.csv: a row per "
    .. "occasion")
  local n = 0
  for _ in ebe:gmatch("\n") do n = n + 1 end
  t.is(n, 1 + 2 * 12, "ebe.csv: 12 subjects x 2 occasions")
end

-- FOCE-I on the CVODES path (2 subjects, 4 occasions): df/deta from
-- CVODES forward sensitivities across the occasions' parameter switches
-- (the default; before, refused and replaced by differences) gives the
-- exact path's OFV to 2e-6 (differences miss it by ~1e-5), central
-- differences' (gradient = "fd") to 1e-4. CPU seconds (os.clock, a
-- loaded machine's) are printed.
do
  local few, keep = { rows[1] }, {}
  for k = 1, 2 do keep[order[k]] = true end
  for k = 2, #rows do
    if keep[rows[k]:match("^([^,]*),")] then few[#few + 1] = rows[k] end
  end
  local small = tmp .. "/theoph_iov2.csv"
  t.write_file(small, table.concat(few, "\n") .. "\n")
  local o = { threads = 1, path = "cvodes" }
  local c0 = os.clock()
  local es = pm:evaluate(small, o)
  local c1 = os.clock()
  o.gradient = "fd"
  local ef = pm:evaluate(small, o)
  local c2 = os.clock()
  local ex = pm:evaluate(small, { threads = 1, path = "exact" })
  t.diag(("IOV FOCE-I OFV on CVODES: sensitivities %.8f (%.2f s CPU), "
    .. "differences %.8f (%.2f s CPU), exact path %.8f (loaded machine)")
    :format(es.ofv, c1 - c0, ef.ofv, c2 - c1, ex.ofv))
  t.ok(math.abs(es.ofv - ex.ofv) < 2e-6, ("CVODES sensitivities: OFV "
    .. "%.8f = the exact path's %.8f (tol. 2e-6)"):format(es.ofv, ex.ofv))
  t.ok(es.n_ebe_floor > 0 and es.n_ebe_floor <= es.n_ebe_newton
    and ex.n_ebe_floor == 0, ("r.n_ebe_floor: %d of %d Newton searches "
    .. "on CVODES ended on its noise floor, %d on the exact path")
    :format(es.n_ebe_floor, es.n_ebe_newton, ex.n_ebe_floor))
  t.ok(math.abs(es.ofv - ef.ofv) < 1e-4, ("... = with differences %.8f "
    .. "(tol. 1e-4)"):format(ef.ofv))
end

-- occ names another column.
do
  local pv = rk.popest(decl({ occ = "VISIT" }))
  t.is(pv:evaluate(data).ofv, pm:evaluate(data).ofv, 1e-9,
    "occ = \"VISIT\" (11, 12) gives the OFV of OCC (1, 2)")
end

-- Refusals.
t.raises(function() pm:evaluate(theoph) end,
  "eta kCl is an occasion %(IOV%) eta, but dataset .*theoph_nm.csv has "
  .. "no OCC column", "IOV with a dataset without OCC")
-- SAEM, simulation, VPC and bootstrap with occasion etas: tests/saemiov.lua
-- and tests/unit/test_saemiov.c.
t.raises(function() rk.popest(decl({ occ = "OCC", iov = false })) end,
  "field 'occ' given without 'iov'", "occ without iov")
t.raises(function() rk.popest(decl({ iov = { lCl = 0.1 } })) end,
  "eta 'lCl' is in both omega and iov", "an eta in omega and iov")
t.raises(function() rk.popest(decl({ iov = { kCl = -1 } })) end,
  "variance", "a negative IOV variance")
do
  local bad = tmp .. "/bad_occ.csv"
  t.write_file(bad, "ID,TIME,DV,AMT,EVID,CMT,WT,OCC\n1,0,.,320,1,1,70,1\n"
    .. "1,1,5,.,0,2,70,1.5\n")
  t.raises(function() pm:evaluate(bad) end,
    "bad_occ.csv:3: column 8 %(OCC%): occasion 1.5 of subject ID 1 is not "
    .. "an integer", "OCC 1.5: file, line, column")
end
t.done()
