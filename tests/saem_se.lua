-- saem_se.lua - SAEM's standard errors by stochastic approximation from
-- Lua and scripts/fit.lua (saem = {se = "sa", se_iter = N}, --se sa). The
-- numbers (against the exact observed information of linear-Gaussian
-- models, against linearisation on Theophylline) are checked in
-- tests/unit/test_saem_se.c.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local theoph = src .. "/tests/data/theoph_nm.csv"
local pm = dofile(src .. "/models/theophylline.lua")
local tmp = t.scratch()

local base = { burn = 60, iter = 60, chains = 2, seed = 5, imp_samples = 0 }
local function with(extra)
  local s = {}
  for k, v in pairs(base) do s[k] = v end
  for k, v in pairs(extra) do s[k] = v end
  return { method = "saem", threads = 1, saem = s }
end
local rl = pm:fit(theoph, with {})
local rs = pm:fit(theoph, with { se = "sa", se_iter = 200 })
t.ok(rl.converged and rs.converged and rs.covariance_ok,
  "SAEM of Theophylline with SA standard errors ran ("
  .. tostring(rs.covariance_message) .. ")")
t.ok(rs.covariance_matrix == "sa" and rl.covariance_matrix == "sandwich"
  and rs.saem.se == "sa" and rs.saem.se_iter == 200
  and rl.saem.se == "linearisation" and rl.saem.se_iter == 300,
  "r.covariance_matrix \"sa\", r.saem.se and se_iter reported")
t.ok(rs.covariance_sandwich == nil and rs.covariance_r == nil
  and rl.covariance_r ~= nil, "no R / sandwich matrices with SA")
-- the same estimates; SEs of the same size as linearisation's R^-1 (the
-- closeness itself is test_saem_se.c's)
local n_same, n_close = 0, 0
for i, p in ipairs(rs.params) do
  local q = rl.params[i]
  if p.estimate == q.estimate then n_same = n_same + 1 end
  if p.se and q.se and p.se > 0.5 * q.se and p.se < 2 * q.se then
    n_close = n_close + 1
  end
end
t.ok(n_same == #rl.params and n_close == #rl.params, ("the same estimates "
  .. "(%d of %d) and SEs within a factor 2 of linearisation (%d)"):format(
  n_same, #rl.params, n_close))
-- covariance = false: no SA phase, no SEs
local rn = pm:fit(theoph, { method = "saem", threads = 1, covariance = false,
  saem = { burn = 10, iter = 10, imp_samples = 0, se = "sa" } })
local se1 = rn.params[1].se
t.ok(rn.converged and not rn.covariance_ok and (se1 == nil or se1 ~= se1),
  "covariance = false: no SA standard errors")

-- refusals
t.raises(function() pm:fit(theoph, with { se = "bootstrap" }) end,
  "field 'se' must be \"linearisation\"", "se = bootstrap refused")
t.raises(function() pm:fit(theoph, with { se = "sa", se_iter = 0 }) end,
  "field 'se_iter' must be an integer in [1, 1000000]", "se_iter 0 refused")

-- scripts/fit.lua --se sa
do
  local out = tmp .. "/sa"
  local code, so = rk.run { exe, src .. "/scripts/fit.lua",
                            src .. "/models/theophylline.lua", theoph,
                            "--method", "saem", "--burn", "30", "--iter",
                            "30", "--imp-samples", "0", "--se", "sa",
                            "--se-iter", "50", "--out", out, "--no-plot" }
  t.ok(code == 0 and so:find("stochastic approximation %(50 iterations"),
    "fit.lua --method saem --se sa --se-iter 50 runs and says so")
  local p = t.read_file(out .. "/parameters.csv") or ""
  local se = tonumber(p:match("\nlCl,[^,]*,[^,]*,([^,]*),") or "")
  t.ok(se and se > 0, "parameters.csv carries the SA SEs (lCl: "
    .. tostring(se) .. ")")
  code = rk.run { exe, src .. "/scripts/fit.lua",
                  src .. "/models/theophylline.lua", theoph, "--method",
                  "saem", "--se", "exact", "--quiet" }
  t.ok(code ~= 0, "--se exact refused")
  local fit = dofile(src .. "/scripts/fit.lua")
  t.ok(fit.HELP:find("%-%-se linearisation|sa") and fit.HELP:find(
    "%-%-se%-iter"), "--help documents --se and --se-iter")
  local o = fit.parse_args { "m.lua", "d.csv", "--method", "saem", "--se",
                             "sa", "--se-iter", "9" }
  t.ok(o.saem.se == "sa" and o.saem.se_iter == 9, "--se, --se-iter parsed")
end

t.done()
