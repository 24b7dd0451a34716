-- saem.lua - pm:fit with method = "saem" (rk.popest, engine/pop/saem.h):
-- the options, r.saem, chaining into FOCE-I, the refusals, and
-- scripts/fit.lua --method saem. The numbers themselves (exact MLE, IMP
-- against the exact likelihood, agreement with FOCE-I, threads) are
-- checked in tests/unit/test_saem.c.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local theoph = src .. "/tests/data/theoph_nm.csv"
local pm = dofile(src .. "/models/theophylline.lua")
local tmp = t.scratch()

local opts = { method = "saem", threads = 1,
               saem = { burn = 100, iter = 100, chains = 2, seed = 3,
                        imp_samples = 300 } }
local r = pm:fit(theoph, opts)
t.ok(r.converged, "SAEM fit of Theophylline ran: " .. tostring(r.message))
t.is(r.method, "SAEM", "r.method names SAEM")
local s = r.saem
t.ok(s and s.burn == 100 and s.iter == 100 and s.chains == 2
  and s.seed == 3 and s.imp_samples == 300 and s.imp_df == 5,
  "r.saem echoes the settings")
t.is(r.ofv, s.ofv_imp, 0, "r.ofv is the importance-sampling OFV")
t.ok(s.ofv_imp_se > 0 and s.ofv_imp_se < 1, ("IMP Monte Carlo SE %.3f "
  .. "reported"):format(s.ofv_imp_se))
t.ok(math.abs(s.ofv_imp - s.ofv_focei) < 5, ("IMP OFV %.3f near the FOCE-I "
  .. "OFV at the same estimates %.3f"):format(s.ofv_imp, s.ofv_focei))
t.ok(s.mu_referenced.lKa == "lKa" and s.mu_referenced.lCl == "lCl"
  and s.mu_referenced.lKe == nil, "lKa, lCl mu-referenced by their etas")
local col = {}
for k, name in ipairs(s.trace_names) do col[name] = k end
t.ok(#s.trace == 200 and #s.trace[1] == #s.trace_names and col.lKe
  and col["OMEGA(lKa,lKa)"] and col["SIGMA(1)"],
  "trace: one row per iteration, named")
t.is(s.trace[200][col.lKa], r.theta.lKa, 0, "last trace row = the estimates")
local ika
for k, name in ipairs(pm.eta_names) do if name == "lKa" then ika = k end end
t.is(s.trace[200][col["OMEGA(lKa,lKa)"]], r.omega[ika][ika], 0,
  "last trace row: Omega")
t.ok(r.params[1].se and r.params[1].se > 0, "SEs from the covariance step")
-- the same seed, the same numbers on 2 threads
opts.threads = 2
local r2 = pm:fit(theoph, opts)
t.is(r2.ofv, r.ofv, 0, "2 threads: the same IMP OFV")
t.is(r2.theta.lCl, r.theta.lCl, 0, "2 threads: the same estimates")

-- chained into FOCE-I
local rc = pm:fit(theoph, { method = "saem", threads = 2, ["then"] = "focei",
                            saem = { burn = 60, iter = 60, seed = 9,
                                     imp_samples = 100 } })
local rf = pm:fit(theoph, { threads = 2 })
t.ok(rc.converged and rc.method == "FOCE-I" and rc.saem ~= nil,
  "then = \"focei\": the FOCE-I fit, SAEM stage in r.saem")
t.is(rc.ofv, rf.ofv, 1e-3, "chained FOCE-I reaches the FOCE-I minimum")

-- the CVODES path: the same random streams, so nearly the same numbers
-- as the exact path (a short run: CVODES solves are ~100 times dearer)
do
  local o = { method = "saem", threads = 2, covariance = false,
              saem = { burn = 6, iter = 6, imp_samples = 20, seed = 5 } }
  local re = pm:fit(theoph, o)
  o.path = "cvodes"
  local rv = pm:fit(theoph, o)
  t.ok(rv.converged and math.abs(rv.theta.lCl - re.theta.lCl) < 0.02
    and math.abs(rv.theta.lKe - re.theta.lKe) < 0.02,
    ("CVODES path: lCl %.5f lKe %.5f vs exact path %.5f %.5f (tol. 0.02)")
    :format(rv.theta.lCl, rv.theta.lKe, re.theta.lCl, re.theta.lKe))
end

-- refusals
t.raises(function() pm:fit(theoph, { method = "saem", saem = { iter = 0 } })
end, "field 'iter' must be an integer in [1, 1000000]", "iter 0 refused")
t.raises(function() pm:fit(theoph, { method = "saem", saem = { itr = 5 } })
end, "unknown field 'itr'", "a misspelt SAEM option named")
t.raises(function() pm:fit(theoph, { saem = { iter = 5 } }) end,
  "fields 'saem' and 'then' go with method = \"saem\"",
  "saem options without method saem refused")
t.raises(function() pm:fit(theoph, { method = "saem", ["then"] = "saem" })
end, "field 'then'", "then = saem refused")
t.raises(function() pm:evaluate(theoph, { method = "saem" }) end,
  "an evaluation at given values takes", "evaluate refuses saem")

-- scripts/fit.lua --method saem
do
  local out = tmp .. "/saem"
  local code = rk.run { exe, src .. "/scripts/fit.lua",
                        src .. "/models/theophylline.lua", theoph,
                        "--method", "saem", "--burn", "50", "--iter", "50",
                        "--imp-samples", "100", "--seed", "4", "--out", out,
                        "--no-plot", "--quiet" }
  t.ok(code == 0, "fit.lua --method saem exits 0")
  local p = t.read_file(out .. "/parameters.csv") or ""
  t.ok(p:find("\nOFV,objective,"), "parameters.csv written with the OFV")
  local rows = rk.csv.read(out .. "/saem_trace.csv")
  t.ok(#rows == 100 and rows[1].phase == "explore"
    and rows[51].phase == "smooth" and rows[100].lKa,
    "saem_trace.csv: 100 iterations, phases, parameter columns")
  code = rk.run { exe, src .. "/scripts/fit.lua",
                  src .. "/models/theophylline.lua", theoph, "--burn", "5",
                  "--quiet" }
  t.ok(code ~= 0, "--burn without --method saem refused")
  local fit = dofile(src .. "/scripts/fit.lua")
  t.ok(fit.HELP:find("%-%-imp%-samples") and fit.HELP:find("%-%-then")
    and fit.HELP:find("%-%-chains"), "--help documents the SAEM options")
  local o = fit.parse_args { "m.lua", "d.csv", "--method", "saem",
                             "--imp-samples", "7", "--chains", "3" }
  t.ok(o.saem.imp_samples == 7 and o.saem.chains == 3,
    "--imp-samples and --chains parsed")
end

t.done()
