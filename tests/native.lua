-- tests/native.lua - m:native (issue 15 item 4): a model's tapes compiled
-- to machine code give the tape's results bit for bit on the CVODES path
-- (with a switching surface, whose root finding must see the same
-- values) and in a cohort; the values also against the closed form of a
-- one-compartment bolus; a refused cache leaves the tape working.
local rk = require "radiokin"
local t = require "radiokin.tap"

local f = io.open("/usr/bin/cc", "rb")
if not f then
  t.skip("no C compiler at /usr/bin/cc: m:native has nothing to run", 1)
  return t.done()
end
f:close()
local cache = t.scratch()

-- Elimination halves above A = 5 (rk.ifelse: a root for CVODES) and a
-- nonlinear outflow into B.
local function model()
  return rk.model { name = "sw", states = { "A", "B" },
    params = { k = 0.3, q = 0.1 },
    ode = function(s, p)
      local k = rk.ifelse(rk.gt(s.A, 5), p.k / 2, p.k)
      return { A = -k * s.A, B = k * s.A - p.q * rk.sqrt(s.B + 1) }
    end,
    outputs = function(s, p) return { C = s.A / 2 } end }
end
local times = { 0.5, 1, 2, 3, 5, 8, 13, 24 }
local spec = { y0 = { A = 10 }, times = times, path = "cvodes",
               rtol = 1e-10, atol = 1e-12 }
local m = model()
local r0 = m:simulate(spec)
t.is(m.is_native, false, "a new model runs its tape")
local ok, why = m:native { cache = cache }
t.ok(ok, "m:native compiles the tapes" .. (why and " (" .. why .. ")" or ""))
t.is(m.is_native, true, "m.is_native after m:native")
local r1 = m:simulate(spec)
local same = true
for i = 1, #times do
  same = same and r0.A[i] == r1.A[i] and r0.B[i] == r1.B[i]
         and r0.C[i] == r1.C[i]
end
t.ok(same, "native = tape bit for bit on A, B and C at 8 times (a switch "
     .. "at A = 5 on the way)")
-- Closed form: A = 10 e^{-0.15 t} until A = 5 (t* = ln 2 / 0.15), then
-- 5 e^{-0.3 (t - t*)}.
local ts = math.log(2) / 0.15
local function a_exact(tt)
  return tt <= ts and 10 * math.exp(-0.15 * tt) or 5 * math.exp(-0.3 * (tt - ts))
end
local worst = 0
for i = 1, #times do
  worst = math.max(worst, math.abs(r1.A[i] / a_exact(times[i]) - 1))
end
t.ok(worst < 1e-7, ("native A vs the piecewise closed form: max rel. %.1e "
     .. "(tol. 1e-7 at rtol 1e-10)"):format(worst))
t.ok(m:native { cache = cache }, "m:native again: nothing to do")

-- A second model of the same code finds the object in the cache.
local m2 = model()
t.ok(m2:native { cache = cache }, "the same code from the cache")
t.is(m2:simulate(spec).B[8], r0.B[8], 0, "its results: the tape's")

-- A cohort runs the native code with the tape's numbers.
local patients = {}
for i = 1, 20 do patients[i] = { k = 0.2 + 0.01 * i, q = 0.05 + 0.002 * i } end
local function run(mm)
  return rk.cohort { model = mm, patients = patients,
    doses = { { time = 0, amount = 10, to = "A" } }, cycles = 2,
    interval_h = 48, tia = { "B" }, path = "cvodes", threads = 2 }
end
local c0, c1 = run(model()), run(m)
local csame = type(c1.tia.B[2][20]) == "number" and c1.tia.B[2][20] > 0
for i = 1, 20 do
  for c = 1, 2 do csame = csame and c0.tia.B[c][i] == c1.tia.B[c][i] end
end
t.ok(csame, "rk.cohort on 2 threads: native TIAs = tape TIAs bit for bit")

-- A refusal is a value, not an error; the model keeps its tape.
local m3 = model()
local ok3, why3 = m3:native { cache = "/nonexistent/radiokin-cache" }
t.ok(not ok3, "a missing cache directory: false")
t.like(why3, "cache directory /nonexistent/radiokin%-cache", "... and the "
       .. "reason names it")
t.is(m3.is_native, false, "... and the model keeps its tape")
t.is(m3:simulate(spec).A[3], r0.A[3], 0, "... which still runs")
t.raises(function() m3:native { cache = 5 } end,
         "m:native: field 'cache' must be a string", "a cache that is not "
         .. "a path raises")
t.raises(function() m3:native { cahce = cache } end,
         "m:native: unknown field 'cahce'", "a misspelt field raises")
t.done()
