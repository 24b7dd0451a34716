-- tests/radiobio.lua - rk.radiobio.cumulative: the BED of a course of
-- cycles, worked by hand. LQ with protraction factor G (Dale 1985):
-- BED = D (1 + G D / (alpha/beta)); cycles far apart add; EQD2 = BED /
-- (1 + 2 / (alpha/beta)).
local rk = require "radiokin"
local t = require "radiokin.tap"

-- alpha/beta 2.6 Gy: cycle 1 10 Gy, G 0.1: 10 + 0.1 x 100 / 2.6;
-- cycle 2 5 Gy, G 0.2: 5 + 0.2 x 25 / 2.6.
local b1, b2 = 10 + 10 / 2.6, 5 + 5 / 2.6
local c = rk.radiobio.cumulative { dose_gy = { 10, 5 }, g = { 0.1, 0.2 },
  ab_gy = 2.6 }
t.is(c.cycles[1], b1, 1e-14, "cycle 1 BED 13.846 Gy (hand)")
t.is(c.cycles[2], b2, 1e-14, "cycle 2 BED 6.923 Gy (hand)")
t.is(c.bed_gy, b1 + b2, 1e-14, "course BED = sum of cycle BEDs")
t.is(c.eqd2_gy, (b1 + b2) / (1 + 2 / 2.6), 1e-14, "EQD2 of the course")
-- One G for every cycle; the organ table's alpha/beta.
local k = rk.radiobio.organ "kidney"
local one = rk.radiobio.cumulative { dose_gy = { 4, 4, 4 }, g = 0.05,
  organ = "kidney" }
t.is(one.bed_gy, 3 * (4 + 0.05 * 16 / k.ab_gy), 1e-14,
  "g as one number; organ = \"kidney\" gives its alpha/beta")
-- Each cycle agrees with rk.radiobio.bed.
t.is(one.cycles[2], (rk.radiobio.bed { dose_gy = 4, g = 0.05,
  organ = "kidney" }), 1e-15, "a cycle's BED is rk.radiobio.bed's")
t.raises(function() rk.radiobio.cumulative { dose_gy = { 1, 2 },
  g = { 0.1 }, ab_gy = 3 } end, "field 'g' has 1 values for 2 doses",
  "g not one per dose")
t.raises(function() rk.radiobio.cumulative { dose_gy = { 1, -2 }, g = 0.1,
  ab_gy = 3 } end, "cycle 2", "a negative dose names its cycle")
t.raises(function() rk.radiobio.cumulative { dose_gy = {}, g = 0.1,
  ab_gy = 3 } end, "field 'dose_gy' is empty", "no cycles")
t.raises(function() rk.radiobio.cumulative { dose_gy = { 1 }, g = 1.5,
  ab_gy = 3 } end, "rk.radiobio.cumulative", "G outside [0, 1]")
t.done()
