-- lu177_dotatate_spect.lua - the SPECT/CT variant of the 177Lu-DOTATATE
-- population model: models/lu177_dotatate.lua with measurement = "spect"
-- (kidney, spleen and liver uptake calibrated to SPECT/CT series: Santoro
-- 2018, the Lutate study 2018). Everything else, and the documentation of
-- every parameter, is in that file.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local chunk = assert(loadfile(here .. "/lu177_dotatate.lua"))
return chunk { measurement = "spect" }
