-- bench_tare.lua - plans a 100,000-patient TARE cohort from CSV, I/O
-- included (target: under 1 s), the way `scripts/tare_plan.lua --cohort`
-- does (rk.tare.cohort: CSV parsed and plan table written by the engine).
--
--   radiokin tests/bench/bench_tare.lua [N]
--
-- The cohort file is generated first (not timed): one territory per
-- patient, one tumour, products, modes and LSF varied with a fixed seed.
local rk = require "radiokin"

local n = tonumber(arg and arg[1]) or 100000
local src = os.getenv("RADIOKIN_SRCDIR") or "."
local plan = dofile(src .. "/scripts/tare_plan.lua")

local tmp = os.tmpname()
local input, output = tmp .. "_cohort.csv", tmp .. "_plan.csv"
os.remove(tmp)

math.randomseed(20261125)
local products = {"SIR-Spheres", "TheraSphere", "QuiremSpheres"}
local targets = {120, 250, 150}
local modes = {"tumour", "normal", "max_safe"}
local lines = {"id,product,cf,territory,volume_mL,lsf,tumour_volume_mL,tn," ..
               "mode,target_gy,cap,decay_h,residual_fraction"}
for i = 1, n do
  local p = math.random(3)
  local mode = modes[math.random(3)]
  local vol = 600 + math.random() * 1400
  local target = mode == "normal" and 30 or targets[p]
  lines[#lines + 1] = ("P%06d,%s,clinical,lobe,%.1f,%.3f,%.1f,%.2f,%s,%s,%d,"
    .. "%.1f,%.3f"):format(i, products[p], vol, math.random() * 0.2,
    vol * (0.02 + 0.3 * math.random()), 1 + 5 * math.random(), mode,
    mode == "max_safe" and "" or tostring(target), math.random(0, 1),
    math.random() * 48, math.random() * 0.05)
end
rk.write_atomic(input, table.concat(lines, "\n") .. "\n")

local t0 = os.clock()
local c = plan.load(input)
local t1 = os.clock()
local sum = plan.write(c, output)
local t2 = os.clock()

print(("bench_tare: %d patients from CSV: read+parse %.3f s, plan+write " ..
       "%.3f s, total %.3f s CPU (%.0f patients/s; target < 1 s)"):format(
       n, t1 - t0, t2 - t1, t2 - t0, n / (t2 - t0)))
print(plan.summary(sum))
os.remove(input)
os.remove(output)
