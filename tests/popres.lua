-- popres.lua - rk.popest with several endpoints (observe = {...}), each
-- with its own error model, censored records (CENS) and the error-model
-- options of the declaration: parent + metabolite simulated here by the
-- closed-form solution, fitted, and the result's tables checked.
local rk = require "radiokin"
local t = require "radiokin.tap"

local tmp = t.scratch()

local m = rk.model {
  name = "parent_metabolite",
  states = { "P", "M" },
  params = { k = rk.positive(0.3), km = rk.positive(0.1),
             v = rk.positive(10) },
  ode = function(s, p)
    return { P = -p.k * s.P, M = p.k * s.P - p.km * s.M }
  end,
  outputs = function(s, p) return { cp = s.P / p.v, cm = s.M / p.v } end,
}

local TRUE = { lk = math.log(0.3), lkm = math.log(0.1), lv = math.log(10),
               w2k = 0.09, w2v = 0.04, prop = 0.1, add = 0.05 }

-- Normal deviates by Box-Muller from Lua's seeded generator.
math.randomseed(20261203)
local function normal()
  local u1, u2 = math.random(), math.random()
  return math.sqrt(-2 * math.log(1 - u1)) * math.cos(2 * math.pi * u2)
end

local LLOQ = 1.5
local function simulate(n, path)
  local rows = { "ID,TIME,AMT,CMT,EVID,DV,DVID,CENS" }
  local n_blq, n_cm = 0, 0
  for i = 1, n do
    local k = math.exp(TRUE.lk + math.sqrt(TRUE.w2k) * normal())
    local v = math.exp(TRUE.lv + math.sqrt(TRUE.w2v) * normal())
    local km, dose = math.exp(TRUE.lkm), 100
    rows[#rows + 1] = ("%d,0,%g,1,1,.,.,0"):format(i, dose)
    for _, tt in ipairs { 0.5, 1, 2, 4, 8, 12, 24, 36 } do
      local cp = dose / v * math.exp(-k * tt)
      local cm = dose / v * k / (km - k) * (math.exp(-k * tt)
                                            - math.exp(-km * tt))
      local yp = cp * (1 + TRUE.prop * normal())
      local ym = cm + TRUE.add * normal()
      rows[#rows + 1] = ("%d,%g,.,.,0,%.8g,1,0"):format(i, tt, yp)
      n_cm = n_cm + 1
      if ym < LLOQ then
        n_blq = n_blq + 1
        rows[#rows + 1] = ("%d,%g,.,.,0,%g,2,1"):format(i, tt, LLOQ)
      else
        rows[#rows + 1] = ("%d,%g,.,.,0,%.8g,2,0"):format(i, tt, ym)
      end
    end
  end
  t.write_file(path, table.concat(rows, "\n") .. "\n")
  return n_blq / n_cm
end

local data = tmp .. "/pm.csv"
local frac = simulate(60, data)
t.ok(frac > 0.1 and frac < 0.5, ("metabolite records below the LLOQ: "
  .. "%.0f %%"):format(100 * frac))

local decl = {
  name = "pm2",
  model = m,
  observe = { "cp", "cm" },
  theta = { lk = -1, lkm = -2, lv = 2 },
  omega = { lk = 0.2, lv = 0.1 },
  individual = function(th, eta)
    return { k = rk.exp(th.lk + eta.lk), km = rk.exp(th.lkm),
             v = rk.exp(th.lv + eta.lv) }
  end,
  error = { cp = { proportional = 0.2 }, cm = { additive = 0.1 } },
}
local pm = rk.popest(decl)
t.ok(type(pm.observe) == "table" and pm.observe[1] == "cp"
     and pm.observe[2] == "cm", "pm.observe lists the endpoints")

local r = pm:fit(data, { threads = 2 })
t.ok(r.converged and r.covariance_ok, "two-endpoint fit with M3 converged ("
  .. tostring(r.message or r.covariance_message or "ok") .. ")")
local function rel(a, b) return math.abs(a - b) / math.abs(b) end
t.ok(rel(r.sigma.cp.proportional, TRUE.prop) < 0.2
     and rel(r.sigma.cm.additive, TRUE.add) < 0.3,
     ("each endpoint's sigma recovered: prop %.4f (0.1), add %.4f (0.05)")
     :format(r.sigma.cp.proportional, r.sigma.cm.additive))
t.ok(math.abs(r.theta.lk - TRUE.lk) < 0.1 and math.abs(r.theta.lkm
     - TRUE.lkm) < 0.1 and math.abs(r.theta.lv - TRUE.lv) < 0.1,
     ("theta recovered: lk %.3f lkm %.3f lv %.3f"):format(r.theta.lk,
     r.theta.lkm, r.theta.lv))
local names = {}
for _, row in ipairs(r.params) do names[row.name] = row end
t.ok(names["SIGMA_PROP(cp)"] and names["SIGMA_ADD(cm)"],
     "sigma rows named by endpoint")
local tb = r.table
local ok_tab, n_cens = true, 0
for k = 1, #tb.ID do
  local ep, cs = tb.ENDPOINT[k], tb.CENS[k]
  if cs == 1 then
    n_cens = n_cens + 1
    ok_tab = ok_tab and ep == 2 and tb.IWRES[k] ~= tb.IWRES[k]
  else
    ok_tab = ok_tab and tb.IWRES[k] == tb.IWRES[k]
  end
end
t.ok(ok_tab and n_cens > 0, "table: ENDPOINT and CENS per record; "
  .. "censored records have no IWRES (" .. n_cens .. ")")
local dir = tmp .. "/out"
rk.mkdir(dir)
r:write_csv(dir)
local tab = t.read_file(dir .. "/table.csv")
t.like(tab, "^ID,TIME,DV,PRED,IPRED,RES,IWRES,CWRES,ENDPOINT,CENS\n",
       "table.csv has ENDPOINT and CENS columns")
local n_rows = 0
for line in tab:gmatch("[^\n]+") do
  if line:find(",NA,NA,NA,2,1$") then n_rows = n_rows + 1 end
end
t.is(n_rows, n_cens, 0, "table.csv: each censored record ends "
     .. "RES, IWRES, CWRES NA, ENDPOINT 2, CENS 1")

-- M1 drops the censored records: a different objective.
local r1 = pm:fit(data, { threads = 2, blq = "m1", covariance = false })
t.ok(r1.converged and math.abs(r1.ofv - r.ofv) > 1, "blq = \"m1\": "
  .. "another objective")

-- M4: with the Laplace methods only; evaluation at the fit's values.
do
  local v = { theta = r.theta, omega = r.omega, sigma = r.sigma,
              threads = 2 }
  local function with(b, m)
    local o = {}
    for k, x in pairs(v) do o[k] = x end
    o.blq, o.method = b, m
    return pm:evaluate(data, o)
  end
  local e3, e4 = with("m3", "laplacei"), with("m4", "laplacei")
  -- every prediction here is many SDs above 0, so Phi(f / SD) = 1 to
  -- rounding and M4 is M3 (their difference where it is not:
  -- tests/unit/test_popm4.c)
  t.ok(e4.converged and math.abs(e4.ofv - e3.ofv) < 1e-6,
    ("blq = \"m4\" (Laplace-I) %.6f = M3 %.6f when every prediction is "
     .. "far above 0"):format(e4.ofv, e3.ofv))
  t.raises(function() with("m4", "focei") end,
    "blq = M4 needs method laplace or laplacei", "M4 with FOCE-I raises")
  t.raises(function() with("m5", "laplace") end,
    "field 'blq' must be \"m3\"", "an unknown blq raises")
end

-- Declarations: power and combined1, rejected forms.
local function with_error(e)
  local d2 = {}
  for k, v in pairs(decl) do d2[k] = v end
  d2.error = e
  return rk.popest(d2)
end
local r2 = with_error { cp = { proportional = 0.2, power = 0.9 },
                        cm = { additive = 0.1 } }:fit(data, { threads = 2 })
local kinds = {}
for _, row in ipairs(r2.params) do kinds[row.name] = row end
t.ok(kinds["SIGMA_POW_EXP(cp)"] and kinds["SIGMA_POW_EXP(cp)"].kind
     == "sigma_exp" and kinds["SIGMA_POW_EXP(cp)"].ci_scale == "linear",
     "power exponent: its own kind, a linear interval")
t.ok(r2.converged and math.abs(r2.sigma.cp.power - 1) < 0.1
     and math.abs(r2.sigma.cp.proportional - 0.1) < 0.03,
     ("power model on proportional data: exponent %.3f (1), b %.4f (0.1)")
     :format(r2.sigma.cp and r2.sigma.cp.power or 0 / 0,
             r2.sigma.cp and r2.sigma.cp.proportional or 0 / 0))
-- combined1 on additive data drives b to 0 (a boundary): names only
local r3 = with_error { cp = { proportional = 0.2 },
                        cm = { additive = 0.1, proportional = 0.1,
                               combined = 1 } }
  :fit(data, { threads = 2, max_eval = 20, covariance = false })
kinds = {}
for _, row in ipairs(r3.params) do kinds[row.name] = row end
t.ok(kinds["SIGMA_ADD(cm)"] and kinds["SIGMA_PROP(cm)"]
     and r3.sigma.cm.additive and r3.sigma.cm.proportional,
     "combined1: both parameters of the endpoint named")

-- A power exponent is searched on its natural scale (it may be 0 or
-- negative; SDs are searched as log SD): a negative start runs.
do
  local rn = with_error { cp = { proportional = 0.2, power = -0.3 },
                          cm = { additive = 0.1 } }
    :fit(data, { threads = 2, max_eval = 5, covariance = false })
  t.ok(rn.ofv == rn.ofv and rn.sigma.cp.power == rn.sigma.cp.power
       and rn.sigma.cp.power < 0.5,
       ("negative power exponent start: OFV %.3f, exponent %.4f")
       :format(rn.ofv, rn.sigma.cp.power or 0 / 0))
end

-- variable = "cm": the SD of cp scales with the metabolite (propF)
do
  local rv = with_error { cp = { proportional = 0.2, variable = "cm" },
                          cm = { additive = 0.1 } }
    :fit(data, { threads = 2, max_eval = 1, covariance = false })
  local rp = with_error { cp = { proportional = 0.2 },
                          cm = { additive = 0.1 } }
    :fit(data, { threads = 2, max_eval = 1, covariance = false })
  t.ok(rv.ofv == rv.ofv and math.abs(rv.ofv - rp.ofv) > 1,
       ("variable = \"cm\": another objective at the same parameters "
        .. "(%.3f vs %.3f)"):format(rv.ofv, rp.ofv))
end

local function rejects(e, pattern, what)
  local d3 = {}
  for k, v in pairs(decl) do d3[k] = v end
  d3.error = e
  local ok, msg = pcall(rk.popest, d3)
  t.ok(not ok and tostring(msg):find(pattern, 1, true), what .. " ("
    .. tostring(msg) .. ")")
end
rejects({ cp = { proportional = 0.2 } }, "error.cm: missing",
        "an endpoint without an error table")
rejects({ cp = { proportional = 0.2 }, cm = { additive = 1 }, cx = {} },
        "unexpected key cx", "an error table for no endpoint")
rejects({ cp = { additive = 0.2, power = 0.5 }, cm = { additive = 1 } },
        "needs proportional", "power without proportional")
rejects({ cp = { proportional = 0.2, variable = "X" },
          cm = { additive = 1 } }, "variable = 'X' must name an output",
        "variable naming no output")
rejects({ cp = { additive = 0.2, variable = "cm" }, cm = { additive = 1 } },
        "give proportional = b too", "variable without proportional")
rejects({ cp = { proportional = 0.2, combined = 3 }, cm = { additive = 1 } },
        "'combined' must be 2", "combined other than 1 or 2")
local ok, msg = pcall(pm.fit, pm, data, { blq = "m9" })
t.ok(not ok and tostring(msg):find("'blq' must be", 1, true),
     "blq other than m3 / m1 / dv rejected")

-- scripts/fit.lua --blq, several endpoints: table.csv marks both.
do
  local src = os.getenv("RADIOKIN_SRCDIR") or "."
  local exe = (os.getenv("RADIOKIN_BUILDDIR") or ".") .. "/radiokin"
  local model = tmp .. "/pm_model.lua"
  t.write_file(model, [=[
local rk = require "radiokin"
local m = rk.model {
  name = "parent_metabolite", states = { "P", "M" },
  params = { k = rk.positive(0.3), km = rk.positive(0.1),
             v = rk.positive(10) },
  ode = function(s, p)
    return { P = -p.k * s.P, M = p.k * s.P - p.km * s.M }
  end,
  outputs = function(s, p) return { cp = s.P / p.v, cm = s.M / p.v } end,
}
return rk.popest {
  name = "pm2", model = m, observe = { "cp", "cm" },
  theta = { lk = -1, lkm = -2, lv = 2 }, omega = { lk = 0.2, lv = 0.1 },
  individual = function(th, eta)
    return { k = rk.exp(th.lk + eta.lk), km = rk.exp(th.lkm),
             v = rk.exp(th.lv + eta.lv) }
  end,
  error = { cp = { proportional = 0.2 }, cm = { additive = 0.1 } },
}
]=])
  local out = tmp .. "/fit_m1"
  local st, so, se = rk.run { exe, src .. "/scripts/fit.lua", model, data,
    "--blq", "m1", "--no-plot", "--quiet", "--no-cov", "--threads", "2",
    "--out", out }
  local tab = t.read_file(out .. "/table.csv") or ""
  t.ok(st == 0 and tab:find("^ID,TIME,DV,PRED,IPRED,RES,IWRES,CWRES,"
       .. "ENDPOINT,CENS\n"), "fit.lua --blq m1: table.csv with ENDPOINT "
       .. "and CENS (" .. tostring(se) .. ")")
  local par = t.read_file(out .. "/parameters.csv") or ""
  t.ok(par:find("SIGMA_PROP(cp)", 1, true) and par:find("SIGMA_ADD(cm)", 1,
       true), "parameters.csv names each endpoint's sigma")
  st, so, se = rk.run { exe, src .. "/scripts/fit.lua", model, data,
    "--blq", "m9" }
  t.ok(st ~= 0 and tostring(se):find("--blq must be m3, m4, m1 or dv (got "
       .. "'m9')", 1, true), "fit.lua --blq m9 refused")
  st, so = rk.run { exe, src .. "/scripts/fit.lua", "--help" }
  t.ok(st == 0 and so:find("--blq m3|m4|m1|dv", 1, true), "--help lists --blq")
end

-- Evaluation, FIX and the methods of the population-parity work with
-- several endpoints and censored records (the two were built apart).
do
  -- pm:evaluate at the fit's estimates (r.sigma per endpoint, as returned)
  -- reproduces the fit's objective (same EBE searches; 1e-4 absolute)
  local ev = pm:evaluate(data, { threads = 2, theta = r.theta,
                                 omega = r.omega, sigma = r.sigma })
  t.ok(math.abs(ev.ofv - r.ofv) < 1e-4, ("evaluate at the two-endpoint "
    .. "M3 estimates: OFV %.6f vs the fit's %.6f"):format(ev.ofv, r.ofv))
  -- a sigma moved on one endpoint only changes the objective
  local s2 = { cp = { proportional = r.sigma.cp.proportional },
               cm = { additive = 2 * r.sigma.cm.additive } }
  local ev2 = pm:evaluate(data, { threads = 2, theta = r.theta,
                                  omega = r.omega, sigma = s2 })
  t.ok(ev2.ofv > ev.ofv + 1, ("evaluate: doubling the metabolite's SD "
    .. "raises the OFV (%.3f -> %.3f)"):format(ev.ofv, ev2.ofv))
  local okk, msg = pcall(pm.evaluate, pm, data,
                         { sigma = { cp = { additive = 1 } } })
  t.ok(not okk and tostring(msg):find("proportional only: no 'additive'",
       1, true), "evaluate: a sigma the endpoint's model lacks is named ("
       .. tostring(msg) .. ")")
  -- FIX on the second endpoint's SD: it stays, no SE
  local d4 = {}
  for k, v in pairs(decl) do d4[k] = v end
  d4.sigma_fixed = { "additive(cm)" }
  local rf = rk.popest(d4):fit(data, { threads = 2 })
  local row
  for _, x in ipairs(rf.params) do
    if x.name == "SIGMA_ADD(cm)" then row = x end
  end
  t.ok(rf.sigma.cm.additive == 0.1 and row and row.fixed
       and rf.sigma.cp.proportional ~= 0.2,
       ("sigma_fixed = {\"additive(cm)\"}: 0.1 kept (%g), flagged fixed, "
        .. "the other endpoint's SD estimated (%.4f)")
       :format(rf.sigma.cm.additive, rf.sigma.cp.proportional))
  local okf, msgf = pcall(function()
    local d5 = {}
    for k, v in pairs(decl) do d5[k] = v end
    d5.sigma_fixed = { "proportional(cm)" }
    return rk.popest(d5)
  end)
  t.ok(not okf and tostring(msgf):find("is not an SD of the error model",
       1, true), "sigma_fixed naming an SD the endpoint lacks is refused")
  -- FOCE (no interaction) and Laplace-I run with M3 records; FOCE's
  -- objective differs from FOCE-I's (the SD of cp scales with f)
  local ofo = pm:evaluate(data, { threads = 2, method = "foce",
                                  theta = r.theta, omega = r.omega,
                                  sigma = r.sigma })
  local ola = pm:evaluate(data, { threads = 2, method = "laplacei",
                                  theta = r.theta, omega = r.omega,
                                  sigma = r.sigma })
  t.ok(ofo.ofv == ofo.ofv and ola.ofv == ola.ofv
       and math.abs(ofo.ofv - r.ofv) > 1e-3
       and math.abs(ola.ofv - r.ofv) < 0.05 * math.abs(r.ofv),
       ("FOCE %.4f and Laplace-I %.4f beside FOCE-I %.4f with M3 records")
       :format(ofo.ofv, ola.ofv, r.ofv))
end

t.done()
