-- tests/errmsg_solve.lua - error messages of the solver back-ends
-- (engine/solve: exact_path, cvodes_path, solve.c, steady.c) reached
-- through m:simulate, each provoked and its text asserted (issue 22 item
-- 3); and the steady states / TIA to infinity of a growing model, which
-- were negative numbers instead of errors.
local rk = require "radiokin"
local t = require "radiokin.tap"

-- A' = k A with k > 0: grows without bound (a rate with the wrong sign).
local grow = rk.model { name = "grow", states = { "A" }, params = { k = 0.1 },
  ode = function(s, p) return { A = p.k * s.A } end }
-- A -> B at k, B' = +kb B: a nonsingular system matrix with eigenvalues
-- -k and +kb.
local chain = rk.model { name = "chain", states = { "A", "B" },
  params = { k = 0.1, kb = 0.1 },
  ode = function(s, p) return { A = -p.k * s.A, B = p.k * s.A + p.kb * s.B } end }

-- ------------------------------------- steady states of a growing model
-- Before: SS = 1 gave A = -0.998 (bolus 10 every 24 h: the fixed point
-- x = e^(0.1*24) (x + 10) < 0) and the constant infusion A = -100 (= -R/k):
-- unstable fixed points, not limits of repeated dosing.
for _, path in ipairs { "exact", "cvodes" } do
  t.raises(function()
    grow:simulate { doses = { { time = 0, amount = 10, to = "A", ss = 1,
                                ii = 24 } }, times = { 0, 1 }, path = path }
  end, "dose record 1: model 'grow' has no steady state: over one dosing "
    .. "interval some amount grows by a factor 11.02",
    path .. ": SS = 1 of a growing model refused, factor e^(0.1 x 24)")
  t.raises(function()
    grow:simulate { doses = { { time = 0, rate = 10, to = "A", ss = 1 } },
                    times = { 0, 1 }, path = path }
  end, "dose record 1: model 'grow' has no constant-infusion steady state: "
    .. "its Jacobian has an eigenvalue of real part 0.1 /h (expected < 0",
    path .. ": constant-infusion SS of a growing model refused")
end
do
  -- a decaying model still has its steady state: bolus D every ii into
  -- A' = -k A, just after the dose A = D / (1 - e^(-k ii)) (closed form)
  local dec = rk.model { name = "dec", states = { "A" }, params = { k = 0.1 },
    ode = function(s, p) return { A = -p.k * s.A } end }
  for _, path in ipairs { "exact", "cvodes" } do
    local r = dec:simulate { doses = { { time = 0, amount = 10, to = "A",
                                         ss = 1, ii = 24 } },
                             times = { 0, 1 }, path = path, rtol = 1e-10,
                             atol = 1e-12 }
    t.is(r.A[1], 10 / (1 - math.exp(-2.4)), 1e-7,
         path .. ": SS = 1 of a decaying model = D / (1 - e^(-k ii))")
    r = dec:simulate { doses = { { time = 0, rate = 10, to = "A", ss = 1 } },
                       times = { 0, 1 }, path = path }
    t.is(r.A[1], 100, 1e-9, path .. ": constant-infusion SS = R / k")
  end
end

-- ----------------------------------------------- TIA to infinity
do
  -- Before: r.tia_inf.B = -10 (-A^-1 y0 of a nonsingular, growing A).
  local r = chain:simulate { doses = { { time = 0, amount = 1, to = "A" } },
                             times = { 0, 10 }, tia = { "B" },
                             path = "exact" }
  t.ok(r.tia_inf == nil, "tia_inf of a growing state is not given")
  t.like(r.tia_inf_error, "model 'chain': the system matrix has an "
    .. "eigenvalue of real part 0.1 /h (expected < 0 for every mode), so "
    .. "some activity grows without bound", "... and the reason names it")
  r = chain:simulate { doses = { { time = 0, amount = 1, to = "A" } },
                       times = { 0, 10 }, tia = { "B" }, path = "exact",
                       params = { kb = -0.05 } }
  -- stable: B's TIA to infinity = D k / (k kb') over the two rates,
  -- int_0^inf B = D / kb' (all of A passes to B), kb' = 0.05
  t.is(r.tia_inf.B, 1 / 0.05, 1e-9, "stable chain: TIA of B to inf = D/kb")
end

-- ------------------------------------------------- non-finite values
t.raises(function()
  grow:simulate { doses = { { time = 0, amount = 1e300, to = "A" } },
                  times = { 0, 1e4 }, path = "exact" }
end, "state 'A' is not finite after 10000 h (model 'grow': rates too "
  .. "large?)", "exact path: a state overflowing is named with the time")
do
  local m = rk.model { name = "logout", states = { "A" },
    params = { k = 0.1 },
    ode = function(s, p) return { A = -p.k * s.A } end,
    outputs = function(s, p) return { L = rk.log(s.A) } end }
  t.raises(function()
    m:simulate { doses = { { time = 0, amount = 0, to = "A" } },
                 times = { 0, 10 }, tia = { "L" }, path = "cvodes" }
  end, "output 'L' is not finite at t = 0 h (while integrating its TIA)",
    "CVODES: a non-finite output integrated for its TIA is named")
  t.raises(function()
    m:simulate { doses = { { time = 0, amount = 0, to = "A" } },
                 times = { 0, 10 }, path = "exact" }
  end, "model 'logout': output 'L' is not finite at t = 0 h",
    "a non-finite output at an output time is named")
end

do
  -- equal rates: a Jordan block, not diagonalisable, so the exact path
  -- takes the matrix exponential (scaling and squaring); k = -10 /h grows
  -- by e^1000 over 100 h
  local j = rk.model { name = "jordan", states = { "A", "B" },
    params = { k = 0.1 },
    ode = function(s, p) return { A = -p.k * s.A, B = p.k * s.A - p.k * s.B } end }
  t.raises(function()
    j:simulate { doses = { { time = 0, amount = 1, to = "A" } },
                 times = { 0, 100 }, tia = { "B" }, path = "exact",
                 params = { k = -10 } }
  end, "matrix exponential over 100 h is not finite (model 'jordan': rates "
    .. "too large?)", "exact path: an overflowing matrix exponential")
end

do
  -- A -> B with nothing leaving B: B is conserved, so repeated doses pile
  -- up without end (the steady-state equations are singular)
  local c = rk.model { name = "cons", states = { "A", "B" },
    params = { k = 0.1 },
    ode = function(s, p) return { A = -p.k * s.A, B = p.k * s.A } end }
  t.raises(function()
    c:simulate { doses = { { time = 0, amount = 10, to = "A", ss = 1,
                             ii = 24 } }, times = { 0, 1 }, path = "exact" }
  end, "dose record 1: model 'cons' has no steady state (its equations are "
    .. "singular, smallest pivot 0: some amount never decays)",
    "SS = 1 of a model with a conserved amount")
  -- the constant infusion into A' = -atan(A): no solution of atan(A) = 2
  local sat = rk.model { name = "sat", states = { "A" }, params = { k = 1 },
    ode = function(s, p) return { A = -p.k * rk.atan(s.A) } end }
  t.raises(function()
    sat:simulate { doses = { { time = 0, rate = 2, to = "A", ss = 1 } },
                   times = { 0, 1 } }
  end, "dose record 1: model 'sat' has no steady state (its equations are "
    .. "singular", "a constant infusion above the largest elimination rate")
end

t.done()
