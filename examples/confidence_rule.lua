-- confidence_rule.lua - a regimen rule that holds the kidney's cumulative
-- BED limit at a one-sided confidence level instead of at the estimate,
-- and the trade-off it buys: share of patients whose TRUE cumulative BED
-- ends over the limit vs activity given, for each level.
--
--   radiokin examples/confidence_rule.lua
--
-- The rule (rk.regimen calls it before each cycle with what is known):
-- from the estimated doses and G of the cycles given, and the last cycle's
-- dose per activity as the prediction of the next, rk.uncert.next_activity
-- gives the largest activity with BED_cum + z u <= limit, z the one-sided
-- quantile of `level`; u from an assumed relative SD `u_rel` of each
-- cycle's estimated dose (independent between cycles) and of the
-- prediction. Level 0.5 is the point estimate (the ILUMINET-style rule).
-- The imaging chain of rk.regimen adds proportional noise to each image
-- (cv 0.1 at 4, 24, 72, 168 h) and fits the curve, so the estimates the
-- rule sees are noisy; the truth is the simulation's own.
local rk = require "radiokin"

local M = {}

-- A linear model: B -> K (kidney), B -> T, B -> out; K and T wash out.
M.model = rk.model {
  name = "uw", nuclide = "Lu-177", states = { "B", "K", "T" },
  params = { kK = 0.02, kT = 0.01, kout = 0.3, kKo = 0.01, kTo = 0.005 },
  ode = function(s, p)
    return { B = -(p.kK + p.kT + p.kout) * s.B,
      K = p.kK * s.B - p.kKo * s.K, T = p.kT * s.B - p.kTo * s.T }
  end,
}

-- n patients with kidney uptake and washout spread about +-50 % (seeded).
function M.patients(n, seed)
  local pts = {}
  math.randomseed(seed or 7)
  for i = 1, n do
    pts[i] = { kK = 0.02 * math.exp(1.02 * (math.random() - 0.5)),
      kKo = 0.01 * math.exp(1.02 * (math.random() - 0.5)) }
  end
  return pts
end

-- The rule at `level` for a BED limit (Gy), first and largest cycle
-- `gbq`, assumed relative SD `u_rel` of each estimated cycle dose.
function M.rule(level, limit, gbq, u_rel)
  return function(k)
    if k.given == 0 then return gbq end
    local d, g, n = k.dose.kidney, k.g.kidney, #k.dose.kidney
    local u = {}
    for i = 1, n do u[i] = u_rel end
    local a, _, over = rk.uncert.next_activity { dose_gy = d, g = g,
      u_rel = u, ab_gy = 2.6, gy_per_mbq = d[n] / (k.activity_gbq[n] * 1000),
      u_gy_per_mbq_rel = u_rel, g_next = g[n], limit_bed_gy = limit,
      level = level }
    if over or a < 1000 then return nil end   -- below 1 GBq: stop
    return math.min(a / 1000, gbq)
  end
end

-- One course per patient at `level`: share over the limit (truth), mean
-- cumulative activity (GBq).
function M.trial(level, o)
  o = o or {}
  local limit = o.limit or 27
  local r = rk.regimen { model = M.model, patients = o.patients
    or M.patients(200), inject = "B", interval_h = 20000, progress = false,
    regions = { kidney = { activity = "K", mass_kg = 0.3,
      alpha_beta_Gy = 2.6, t_rep_h = 2.8 } },
    rule = M.rule(level, limit, 7.4, o.u_rel or 0.1), max_cycles = 8,
    watch = "kidney", imaging = { times_h = { 4, 24, 72, 168 }, cv = 0.1,
      method = "fit", seed = o.seed or 3 } }
  local over, act = 0, 0
  for i = 1, r.n do
    if r.truth.cum_bed.kidney[i] > limit then over = over + 1 end
    act = act + r.cum_activity_gbq[i]
  end
  return over / r.n, act / r.n
end

if arg and arg[0] and arg[0]:match("confidence_rule%.lua$") then
  print("level  share over 27 Gy BED  mean activity GBq")
  for _, lv in ipairs { 0.5, 0.8, 0.9, 0.95 } do
    local over, act = M.trial(lv)
    print(("%5.2f  %19.3f  %16.2f"):format(lv, over, act))
  end
end
return M
