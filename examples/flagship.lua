-- flagship.lua - 1,000 virtual patients through 4 cycles of 7.4 GBq 177Lu
-- every 8 weeks, with the six-compartment model of models/lu177_6c.lua and
-- 30 % log-normal between-patient variability on every rate constant (the
-- set-up of ../shared/peers/README.md section 2). Prints the kidney TIA per
-- cycle (median, P5, P95) and the kidney absorbed dose by local energy
-- deposition in a 0.3 kg kidney pair (a reference mass; LITERATURE.md s.3.3),
-- and writes every patient to out/flagship.csv.
--
--   radiokin examples/flagship.lua [N] [threads]
local rk = require "radiokin"

local here = (arg[0]:match "^(.*)/examples/[^/]*$") or "."
local m = dofile(here .. "/models/lu177_6c.lua")
local n = tonumber(arg[1]) or 1000
local kidney_kg = 0.3

local clock = os.clock()
local wall = os.time()
local c = rk.cohort {
  model = m, n = n, seed = 20240601,
  cv = 0.30,                                  -- 30 % CV on every rate
  cycles = 4, interval_h = 1344,              -- every 8 weeks
  doses = { { time = 0, amount = 7400, to = "P" } },   -- 7.4 GBq per cycle
  tia = { "K", "T" },
  threads = tonumber(arg[2]) or 0,            -- 0: all cores
}
local cpu = os.clock() - clock

-- Gy per MBq·h in a kidney of kidney_kg: 3.6e9 decays x E_np x J/MeV / m
local lu = rk.nuclide "Lu-177"
local gy_per_mbqh = lu.j_per_mbqh / kidney_kg

print(("radiokin %s: %d virtual patients, model %s (%s path), 4 x 7.4 GBq "
  .. "177Lu"):format(rk.version, c.n, m.name, c.path))
print(("%-6s %12s %12s %12s   %s"):format("cycle", "median", "P5", "P95",
  "kidney TIA, MBq·h  (absorbed dose in 0.3 kg, Gy)"))
for _, s in ipairs(c:summary "K") do
  print(("%-6d %12.0f %12.0f %12.0f   (%.2f, %.2f-%.2f Gy)"):format(s.cycle,
    s.median, s.p5, s.p95, s.median * gy_per_mbqh, s.p5 * gy_per_mbqh,
    s.p95 * gy_per_mbqh))
end
if #c.failed > 0 then
  print(("%d patients failed; first: %s"):format(#c.failed,
    c.failed.first_message))
end
os.execute "mkdir -p out"
c:write_csv "out/flagship.csv"
print(("written out/flagship.csv (%d patients); solve %.2f s CPU"):format(
  c.n, cpu))
