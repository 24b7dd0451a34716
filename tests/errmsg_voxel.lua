-- tests/errmsg_voxel.lua - error messages of the rk.voxel bindings
-- (dsl/l_voxel.c: kernel, dose, tia, bed, dvh, tare), provoked one by one
-- and their text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local function img(v) return rk.image.new { dims = { 3, 3, 3 },
  spacing = { 4, 4, 4 }, value = v or 1 } end
local tia, lab = img(1), img(1)
local dose = rk.voxel.dose { tia = tia, nuclide = "Lu-177", method = "led" }
t.ok(dose ~= nil, "the base LED dose works")

-- kernel
t.raises(function() rk.voxel.kernel { nuclide = "Y-90" } end,
  "rk.voxel.kernel: give the voxel size as spacing={x,y,z} (mm) or image=",
  "a kernel without a voxel size")
-- dose
t.raises(function() rk.voxel.dose { nuclide = "Lu-177", method = "led" } end,
  "rk.voxel.dose: field 'tia' is required (an image)", "dose without a TIA")
t.raises(function() rk.voxel.dose { tia = tia, nuclide = "Lu-177",
                                    method = "mc" } end,
  "rk.voxel.dose: field 'method' must be 'led' or 'kernel' (got 'mc')",
  "an unknown dose method")
t.raises(function() rk.voxel.dose { tia = tia, nuclide = "Lu-177",
                                    method = "kernel", kernel = tia } end,
  "rk.voxel.dose: field 'kernel': expected a kernel (rk.voxel.kernel) (got ",
  "an image for a kernel")
t.raises(function() rk.voxel.dose { tia = tia, nuclide = "Lu-177",
    method = "led", labels = lab, label = 1.5 } end,
  "rk.voxel.dose: field 'label' must be an integer (got 1.5",
  "a label that is no integer")
-- tia
local function tia_of(o)
  local a = { images = { img(10), img(5) }, times = { 4, 24 },
              nuclide = "Lu-177", method = "per_voxel" }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return function() return rk.voxel.tia(a) end
end
local fit = tia_of {}()
t.ok(fit ~= nil, "the base voxel TIA fit works")
t.raises(tia_of { method = "fit" }, "rk.voxel.tia: field 'method' must be "
  .. "per_voxel, voi_shape, hybrid, haenscheid or population (got 'fit')",
  "an unknown TIA method")
t.raises(tia_of { models = { "mono", "quad" } }, "rk.voxel.tia: field "
  .. "'models', entry 2: unknown TAC model 'quad' (expected mono, bi, "
  .. "upwash, tri or trapezoid)", "an unknown TAC model")
t.raises(tia_of { times = "nil" }, "rk.voxel.tia: field 'times' is required "
  .. "(an array of hours)", "no times")
t.raises(tia_of { images = "nil" }, "rk.voxel.tia: field 'images' is "
  .. "required (an array of images)", "no images")
-- bed
t.raises(function() rk.voxel.bed { dose = dose, labels = lab, fit = tia,
                                   classes = { { label = 1, ab = 3,
                                                 trep = 1.5 } } } end,
  "rk.voxel.bed: field 'fit': expected a voxel TIA fit (rk.voxel.tia) (got ",
  "an image for the fit")
t.raises(function() rk.voxel.bed { dose = dose, labels = lab, fit = fit } end,
  "rk.voxel.bed: field 'classes' is required: {{label=, ab=, trep=}, ...}",
  "no classes")
t.raises(function() rk.voxel.bed { dose = dose, labels = lab, fit = fit,
                                   classes = { 3 } } end,
  "rk.voxel.bed: classes[1] must be a table", "a class that is no table")
-- dvh
t.raises(function() rk.voxel.dvh { dose = dose, labels = lab, label = {} } end,
  "rk.voxel.dvh: field 'label' lists 0 labels (expected 1..65535)",
  "an empty list of labels")
-- tare
local function tare(o)
  local a = { scout = img(1), liver = lab, liver_label = 1,
              product = "SIR-Spheres", lsf = 0.05, activity_mbq = 1000 }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return function() return rk.voxel.tare(a) end
end
t.ok(pcall(tare {}), "the base TARE plan works")
t.raises(tare { liver = "nil" }, "rk.voxel.tare: field 'liver' is required "
  .. "(a label map)", "no liver")
t.raises(tare { liver_label = "x" }, "rk.voxel.tare: field 'liver_label' "
  .. "must be an integer (got string)", "a liver label that is no integer")
t.raises(tare { activity_mbq = "nil" }, "rk.voxel.tare: give mode = "
  .. "'tumour_mean' | 'normal_d70' | 'normal_mean' with target_gy =, or "
  .. "activity_mbq =", "no mode and no activity")
t.raises(tare { territories = {} }, "rk.voxel.tare: 0 territories "
  .. "(expected 1..16)", "no territory")
t.raises(tare { territories = { 5 } }, "rk.voxel.tare: territories[1] must "
  .. "be a table", "a territory that is no table")
t.raises(tare { territories = "left" }, "rk.voxel.tare: field 'territories' "
  .. "must be a table (got ", "territories not a table")
t.done()
