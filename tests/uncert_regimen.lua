-- tests/uncert_regimen.lua - a rk.regimen rule holding the kidney BED
-- limit at a confidence level (examples/confidence_rule.lua, through
-- rk.uncert.next_activity): with noisy imaging, a higher level gives
-- fewer patients whose true cumulative BED ends over the limit, for less
-- activity; at 0.95 the share over is near or below the nominal 5 %.
local t = require "radiokin.tap"
local src = os.getenv("RADIOKIN_SRCDIR") or "."
package.path = src .. "/examples/?.lua;" .. package.path
local ex = require "confidence_rule"

local pts = ex.patients(200, 7)
local o50, a50 = ex.trial(0.5, { patients = pts })
local o80, a80 = ex.trial(0.8, { patients = pts })
local o95, a95 = ex.trial(0.95, { patients = pts })
t.diag(("share over / mean GBq: 0.5 %.3f / %.2f, 0.8 %.3f / %.2f, "
  .. "0.95 %.3f / %.2f"):format(o50, a50, o80, a80, o95, a95))
t.ok(o50 > o80 and o80 > o95, "share over the limit falls with the level")
t.ok(a50 > a80 and a80 > a95, "and so does the activity given")
t.ok(o50 > 0.3, "at the point estimate a large share ends over (" .. o50
  .. ")")
t.ok(o95 <= 0.08, "at 0.95 about the nominal 5 % or fewer (" .. o95 .. ")")
t.done()
