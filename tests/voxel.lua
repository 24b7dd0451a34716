-- voxel.lua - rk.image, rk.phantom, rk.voxel and scripts/voxel_dose.lua.
-- Expected numbers are written out from the formulas in the comments
-- (engine/voxel/*.h); the C unit tests (test_image, test_phantom,
-- test_kernel, test_dvh, test_vtia) check the engine in depth.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local tmp = t.scratch()
local function path(name) return tmp .. "/" .. name end
local function exists(p)
  local f = io.open(p, "r")
  if f then f:close() end
  return f ~= nil
end
local function run(...)
  local st, so, se = rk.run { exe, src .. "/scripts/voxel_dose.lua", ... }
  return st == 0, (so or "") .. (se or "")
end

-- ------------------------------------------------------------ rk.image
do
  local im = rk.image.new{ dims = { 4, 3, 2 }, spacing = { 2, 2.5, 3 },
    origin = { -10, 5, 1 }, value = 1.5, unit = "Bq/mL" }
  im:set(2, 3, 1, 7)
  t.is(im:get(2, 3, 1), 7, 0, "set/get 1-based")
  t.is(im:sum(), 23 * 1.5 + 7, 1e-12, "sum = 23 x 1.5 + 7")
  -- voxel volume 2 x 2.5 x 3 mm^3 = 0.015 mL
  t.is(im:integral(), (23 * 1.5 + 7) * 0.015, 1e-12, "integral = sum x mL")
  local f = path("a.nii.gz")
  im:write(f)
  local back = rk.image.read(f)
  local g = back:geometry()
  t.ok(g.dims[1] == 4 and g.dims[2] == 3 and g.dims[3] == 2, "dims back")
  t.is(g.spacing[2], 2.5, 1e-6, "spacing back")
  t.is(g.origin[1], -10, 1e-6, "origin back")
  t.is(back:get(2, 3, 1), 7, 0, "voxel back")
  t.raises(function() im:get(5, 1, 1) end, "index 1 is 5 %(expected 1..4%)",
    "index out of range")
  t.raises(function() rk.image.read(path("none.nii")) end, "none.nii",
    "missing file named")
  t.raises(function() rk.image.new{ dims = { 2, 2 } } end,
    "'dims' must hold 3 numbers", "two dims")
  -- resampling to a coarser grid keeps the total activity
  local coarse = rk.image.new{ dims = { 2, 2, 2 }, spacing = { 4, 5, 6 },
    origin = { -9, 6.25, 2.5 } }
  local r, info = im:resample(coarse)
  t.is(r:integral(), info.total_in, 1e-6, "resampled total = source total "
    .. "inside the target")
  t.ok(im:copy():scale(2):sum() == 2 * im:sum(), "scale")
  t.is(im:stats().mean, im:sum() / 24, 1e-12, "stats mean")
end

-- ------------------------------------------------------------ rk.phantom
local ph = rk.phantom.new{ n = 20, spacing_mm = 8 }
local labels = ph:labels()
do
  t.ok(labels:geometry().label, "phantom labels are a label map")
  local c = ph:tac(rk.phantom.LIVER)
  -- liver c(t) = c0 (e^-lw t - e^-lu t); TIA = c0 (1/lw - 1/lu)
  t.is(c.tia, c.c0 * (1 / c.lambda - 1 / c.uptake), 1e-12, "liver TIA formula")
  local a = ph:activity(24)
  local s = a:stats(labels, rk.phantom.LIVER)
  t.is(s.mean, c.c0 * (math.exp(-c.lambda * 24) - math.exp(-c.uptake * 24)),
    1e-6, "liver concentration at 24 h")
  t.raises(function() rk.phantom.new{ n = 20, spacing_mm = 8,
    spheres = { { centre = { 0, 0, 0 }, radius_mm = 200 } } } end,
    "outside the field of view", "sphere too large")
end

-- ------------------------------------------------------------ rk.voxel
local times = { 4, 24, 72, 168 }
local acts = {}
for i, h in ipairs(times) do acts[i] = ph:activity(h) end
do
  local k = rk.voxel.kernel{ nuclide = "Y-90", spacing = { 3, 3, 3 } }
  -- Lanconelli 2012: sum S x voxel mass = 0.934 MeV per 90Y decay
  t.is(k:info().energy_mev, 0.934, 0.005, "Y-90 3 mm kernel: 0.934 MeV")
  t.raises(function()
    rk.voxel.kernel{ nuclide = "Ho-166", spacing = { 4.42, 4.42, 4.42 } }
  end, "local energy deposition", "Ho-166: what exists and the alternatives")
  t.raises(function()
    rk.voxel.kernel{ nuclide = "Y-90", spacing = { 8, 8, 8 } }
  end, "sizes 2.21", "8 mm: the tabulated sizes listed")
  local d = rk.voxel.kernel{ nuclide = "Y-90", spacing = { 8, 8, 8 },
    half = 2, dpk = src
      .. "/data/kernels/dpk/Y90_beta_graves2019_water_r0-1.2cm.csv" }
  t.is(d:info().energy_mev, 0.9299, 0.01, "DPK route at 8 mm: 0.93 MeV")

  -- six time points and a known 5 % error: the liver's uptake-washout
  -- curve is identifiable and fitted exactly
  local t6, a6 = { 1, 4, 24, 48, 96, 168 }, {}
  for i, h in ipairs(t6) do a6[i] = ph:activity(h) end
  local fit = rk.voxel.tia{ images = a6, times = t6, nuclide = "Lu-177",
    method = "voi_shape", labels = labels, label = rk.phantom.LIVER,
    cv = 0.05 }
  local info = fit:info()
  local tia = fit:map()
  -- VOI sum of the map (Bq h) = the VOI-level TIA (MBq h) x 1e6
  t.is(tia:integral(), info.voi_tia_MBqh * 1e6, 1e-6,
    "VOI shape: map total = the VOI's TIA")
  t.is(tia:stats(labels, rk.phantom.LIVER).mean,
    ph:tac(rk.phantom.LIVER).tia, 1e-6, "uniform liver: TIA per voxel = "
    .. "analytic")
  -- LED by hand: D = TIA[Bq h/mL] 3600 E_np[J] / (rho[g/mL] 1e-3 kg/g)
  local nuc = rk.nuclide("Lu-177")
  local led = rk.voxel.dose{ tia = tia, nuclide = "Lu-177", method = "led",
    rho = 1.04 }
  local want = tia:stats(labels, rk.phantom.LIVER).mean * 3600
    * nuc.e_np_mev * 1.602176634e-13 / 1.04e-3
  t.is(led:stats(labels, rk.phantom.LIVER).mean, want, 1e-6, "LED by hand")
  t.raises(function()
    rk.voxel.dose{ tia = tia, nuclide = "Lu-177", method = "kernel" }
  end, "needs field 'kernel'", "kernel method without a kernel")
  t.raises(function()
    rk.voxel.tia{ images = acts, times = { 4, 24 }, nuclide = "Lu-177" }
  end, "4 images and 2 times", "images and times differ in number")
  local bed, eqd2 = rk.voxel.bed{ dose = led, fit = fit, labels = labels,
    nuclide = "Lu-177", classes = { { label = 0, ab = 2.5, trep = 2.5 } } }
  t.ok(bed:stats(labels, rk.phantom.LIVER).mean
    > led:stats(labels, rk.phantom.LIVER).mean, "BED > dose")
  t.is(eqd2:stats(labels, rk.phantom.LIVER).mean,
    bed:stats(labels, rk.phantom.LIVER).mean / (1 + 2 / 2.5), 1e-5,
    "EQD2 = BED / (1 + 2/(a/b))")
end

-- DVH of a ramp: doses (m - 0.5) 10 / 1000, m = 1..1000, uniform on
-- [0, 10] Gy: D_x = (1 - x/100) 10, V(2.5 Gy) = 0.75
do
  local ramp = rk.image.new{ dims = { 10, 10, 10 } }
  local m = 0
  for k = 1, 10 do for j = 1, 10 do for i = 1, 10 do
    m = m + 1
    ramp:set(i, j, k, (m - 0.5) * 10 / 1000)
  end end end
  local d = rk.voxel.dvh{ dose = ramp, vx = { 2.5 }, bin = 1, nbins = 10 }
  t.is(d.d90, 1, 1e-5, "ramp D90 = 1 Gy")
  t.is(d.d2, 9.8, 1e-5, "ramp D2 = 9.8 Gy")
  t.is(d.median, 5, 1e-5, "ramp median = 5 Gy")
  t.is(d.vx[1], 0.75, 1e-12, "ramp V2.5Gy = 0.75")
  t.is(d.differential[4], 0.1, 1e-12, "differential: 10 % per Gy")
  -- a list of labels: one pass over the map, each as its own call; the
  -- ramp's slabs k = 1..5 (label 1, doses 0..5 Gy) and 6..10 (label 2)
  local lab = rk.image.new{ dims = { 10, 10, 10 }, label = true }
  for k = 1, 10 do for j = 1, 10 do for i = 1, 10 do
    lab:set(i, j, k, k <= 5 and 1 or 2)
  end end end
  local two = rk.voxel.dvh{ dose = ramp, labels = lab, label = { 2, 1 },
    vx = { 2.5 }, bin = 1, nbins = 10 }
  local same = #two == 2 and two[1].label == 2 and two[2].label == 1
  for k, l in ipairs { 2, 1 } do
    local one = rk.voxel.dvh{ dose = ramp, labels = lab, label = l,
      vx = { 2.5 }, bin = 1, nbins = 10 }
    for _, f in ipairs { "n", "mean", "sd", "d2", "d50", "d90", "d98",
        "min", "max" } do
      same = same and two[k][f] == one[f]
    end
    for b = 1, 10 do
      same = same and two[k].cumulative[b] == one.cumulative[b]
    end
    same = same and two[k].vx[1] == one.vx[1]
  end
  t.ok(same, "dvh{label = {2, 1}} = two single-label calls, in that order")
  t.is(two[2].d50, 2.5, 1e-5, "label 1 (0..5 Gy): D50 = 2.5 Gy")
  t.raises(function()
    rk.voxel.dvh{ dose = ramp, labels = lab, label = { 1, 3 } }
  end, "label 3 marks no voxel of the label map", "a listed label absent from the map")
  t.raises(function() rk.voxel.dvh{ dose = ramp, label = { 1 } } end,
    "needs field 'labels'", "a list of labels without the label map")
  t.raises(function()
    rk.voxel.dvh{ dose = ramp, labels = lab, label = { 1, "x" } }
  end, "field 'label'[2] must be an integer", "a label that is no integer")
  t.raises(function()
    rk.voxel.dvh{ dose = ramp, labels = lab, label = { 1 }, bin = -1 }
  end, "field 'bin' must be > 0 Gy (got -1", "a negative bin width")
end

-- Slice plots over the CT (the prelude's rk.slice_data): the hottest
-- voxel's slices, the CT's grey in the W400 L40 window (HU -160 -> 0, 40
-- -> 127.5, >= 240 -> 255), dose under 5 % of the maximum undrawn (NaN)
-- with a CT and drawn without one.
do
  local dose = rk.image.new{ dims = { 4, 3, 2 }, spacing = { 2, 3, 5 },
    value = 0.01 }
  dose:set(3, 2, 2, 10)
  dose:set(1, 1, 2, 1)
  local ct = rk.image.new{ dims = { 4, 3, 2 }, spacing = { 2, 3, 5 },
    value = 40 }
  ct:set(1, 1, 2, -160)
  ct:set(2, 1, 2, 1000)
  local sd = rk.slice_data(dose, ct)
  t.ok(sd.at[1] == 3 and sd.at[2] == 2 and sd.at[3] == 2 and sd.max == 10,
    "slices through the hottest voxel (3, 2, 2)")
  local ax = sd.blocks.ct_ax
  t.ok(#ax == 12 and ax[1][1] == 0 and ax[1][2] == 0 and ax[1][3] == 0
    and ax[2][1] == 2 and ax[2][3] == 255 and ax[3][3] == 127.5
    and ax[5][2] == 3, "axial CT rows: x, y in mm, grey of -160, 1000, 40 HU")
  local d = sd.blocks.ax
  t.ok(d[2][3] == 10 and d[1][1] == 1 and d[1][2] ~= d[1][2],
    "dose matrix: 10 Gy, 1 Gy kept (>= 5 %), 0.01 Gy NaN over the CT")
  t.ok(#sd.blocks.co == 2 and #sd.blocks.co[1] == 4 and #sd.blocks.sa == 2
    and #sd.blocks.sa[1] == 3, "coronal 4 x 2, sagittal 3 x 2")
  local nc = rk.slice_data(dose)
  t.ok(math.abs(nc.blocks.ax[1][2] - 0.01) < 1e-8 and not nc.blocks.ct_ax,
    "without a CT every dose is drawn and no CT block")
  t.raises(function()
    rk.slice_data(dose, rk.image.new{ dims = { 4, 3, 3 } })
  end, "not on the dose grid", "a CT on another grid")
  t.is(rk.ct_grey(-1000), 0, 0, "air is black")
  -- the prelude's plots, written through rk.plot_files: a PNG, a zero map
  -- refused, a link at the output name left alone
  if rk.run { "gnuplot", "--version" } == 0 then
    local png = path("slices.png")
    t.ok(rk.plot_slices(png, dose, ct) == png, "rk.plot_slices wrote " .. png)
    local f = io.open(png, "rb")
    local head = f and f:read(4)
    if f then f:close() end
    t.ok(head and head:sub(2, 4) == "PNG", "dose slices: a PNG")
    local dv = path("dvh.png")
    t.ok(rk.plot_dvh(dv, { { name = "a", cumulative = { 1, 0.5, 0 } },
      { name = "b", cumulative = { 1, 1, 0.2 }, dashed = true } }, 2) == dv,
      "rk.plot_dvh wrote " .. dv)
    local link = path("link.png")
    rk.run { "ln", "-s", path("elsewhere.png"), link }
    local ok, why = rk.plot_slices(link, dose, ct)
    t.ok(not ok and tostring(why):find("not a regular file", 1, true)
      and not exists(path("elsewhere.png")),
      "a link at the output name: refused, nothing written through it ("
      .. tostring(why) .. ")")
  else
    t.skip("gnuplot not installed: slice and DVH PNGs", 4)
  end
  local zero = rk.image.new{ dims = { 2, 2, 2 } }
  local ok, why = rk.plot_slices(path("zero.png"), zero)
  t.ok(not ok and why:find("zero", 1, true) and not exists(path("zero.png")),
    "a zero dose map: no plot (" .. tostring(why) .. ")")
end

-- FRACTIONAL SEG from Lua (the SEGs themselves are written by DCMTK in
-- test_seg): the threshold argument checked, a missing file named
do
  t.raises(function() rk.image.read_seg(path("none.dcm"), 0, 1.5) end,
    "fraction threshold 1.5 %(expected in %(0, 1%]%)", "threshold 1.5")
  t.raises(function() rk.image.read_seg_fraction(path("none.dcm"), 1) end,
    "none.dcm", "a missing SEG named")
  t.raises(function() rk.image.read_seg_fraction(path("none.dcm"), -1) end,
    "segment %-1", "a negative segment")
end

-- ------------------------------------------------------------ script
do
  local ok, out = run("--help")
  t.ok(ok and out:find("usage: radiokin scripts/voxel_dose.lua", 1, true),
    "--help")
  local o = path("run")
  ok, out = run("--phantom", "16", "--spacing", "6", "--out", o,
    "--class", "0=3:1.5", "--vx", "0.01", "--no-plot", "--quiet",
    "--rtdose", "1.2.3.4.5")
  t.ok(ok, "phantom run" .. (ok and "" or ": " .. out))
  for _, f in ipairs { "tia.nii.gz", "dose.nii.gz", "bed.nii.gz",
    "eqd2.nii.gz", "dvh.csv", "dvh_curves.csv" } do
    t.ok(exists(o .. "/" .. f), "wrote " .. f)
  end
  -- the same computation through the API gives dvh.csv's numbers
  local p2 = rk.phantom.new{ n = 16, spacing_mm = 6 }
  local lab2 = p2:labels()
  local a2 = {}
  for i, h in ipairs(times) do a2[i] = p2:activity(h) end
  local f2 = rk.voxel.tia{ images = a2, times = times, nuclide = "Lu-177",
    method = "voi_shape", labels = lab2, cv = 0.05 }
  local tia2 = f2:map()
  local k2 = rk.voxel.kernel{ nuclide = "Lu-177", image = tia2 }
  local rows = rk.csv.read(o .. "/dvh.csv")
  local dose2 = rk.voxel.dose{ tia = tia2, nuclide = "Lu-177", kernel = k2,
    density = rk.voxel.density{ ct = p2:ct() }, labels = lab2 }
  local liver
  for _, r in ipairs(rows) do if r.label == rk.phantom.LIVER then liver = r end end
  t.ok(liver ~= nil, "dvh.csv has the liver")
  -- the RT Dose carries the same dose (stored precision: max / (2^32-1))
  local rt, uid = rk.image.read_dicom(o .. "/dose.dcm")
  t.ok(uid == "1.2.3.4.5", "RT Dose in the given frame of reference")
  t.is(rt:stats(lab2, rk.phantom.LIVER).mean,
    dose2:stats(lab2, rk.phantom.LIVER).mean, 1e-6, "RT Dose liver mean")
  t.raises(function() rk.image.read_dicom(tmp) end, "not a readable DICOM",
    "a folder of non-DICOM files as a series")
  if liver then
    t.is(liver.mean_gy, dose2:stats(lab2, rk.phantom.LIVER).mean, 1e-9,
      "dvh.csv liver mean = the API's")
  end
  t.ok(liver and liver.mean_u_gy == nil, "no uncertainty input: no "
    .. "uncertainty columns")
  -- uncertainty columns (rk.uncert.voi): calibration 5 %, volume 10 %,
  -- no recovery, no counts (Bq/mL phantom): u = D sqrt(0.05^2 + 0.1^2),
  -- the mean BED's (2 BED - D) sqrt(...); report.md with the budget
  local ou = path("unc")
  ok, out = run("--phantom", "16", "--spacing", "6", "--out", ou,
    "--class", "0=3:1.5", "--no-plot", "--quiet", "--u-cal", "0.05",
    "--u-vol", "0.1")
  t.ok(ok, "run with --u-cal and --u-vol" .. (ok and "" or ": " .. out))
  local lu
  for _, r in ipairs(ok and rk.csv.read(ou .. "/dvh.csv") or {}) do
    if r.label == rk.phantom.LIVER then lu = r end
  end
  local ur = math.sqrt(0.05 ^ 2 + 0.1 ^ 2)
  if lu then
    t.is(lu.mean_u_gy, lu.mean_gy * ur, 1e-9, "liver: mean_u_gy = D "
      .. "sqrt(0.05^2 + 0.1^2)")
    t.is(lu.mean_hi_gy, lu.mean_gy + 1.959963984540054 * lu.mean_gy * ur,
      1e-9, "liver: 95 % upper bound")
    t.is(lu.bed_mean_u_gy, (2 * lu.bed_mean_gy - lu.mean_gy) * ur, 1e-9,
      "liver: bed_mean_u_gy = (2 BED - D) sqrt(...)")
    t.ok(lu.u_cal_rel == 0.05 and lu.u_vol_rel == 0.1 and lu.u_rc_rel == 0
      and lu.u_counts_rel == 0, "the sources in their columns")
  else
    t.ok(false, "liver row with uncertainty")
  end
  local md = t.read_file(ou .. "/report.md") or ""
  t.like(md, "## Uncertainty budget", "report.md has the budget")
  t.like(md, "| 2 | 0.05 | 0.1 | 0 | 0 | 20 / 80 / 0 / 0 % |",
    "liver budget: 0.05^2 / 0.0125 = 20 %, volume 80 %")
  -- the one-voxel volume term (default) and a recovery table
  local rcf = path("rc.csv")
  rk.write_atomic(rcf, "v_ml,rc,sd\n0.5,0.3,0.02\n1.15,0.45,0.02\n"
    .. "2.57,0.6,0.02\n5.58,0.72,0.02\n11.49,0.8,0.02\n26.52,0.86,0.02\n")
  ok, out = run("--phantom", "16", "--spacing", "6", "--out", path("unc2"),
    "--no-plot", "--quiet", "--u-cal", "0.05", "--recovery", rcf,
    "--u-vol", "voxel")
  t.ok(ok, "run with --recovery" .. (ok and "" or ": " .. out))
  local l2
  for _, r in ipairs(ok and rk.csv.read(path("unc2") .. "/dvh.csv") or {}) do
    if r.label == rk.phantom.LIVER then l2 = r end
  end
  if l2 then
    local uv = rk.uncert.volume_voxel(l2.volume_ml, 6)
    t.is(l2.u_vol_rel, uv / l2.volume_ml, 1e-9, "volume: one voxel (6 mm) "
      .. "boundary change of a sphere of the liver's volume")
    local c = rk.uncert.recovery_fit { v_ml = { 0.5, 1.15, 2.57, 5.58, 11.49,
      26.52 }, rc = { 0.3, 0.45, 0.6, 0.72, 0.8, 0.86 }, sd = { 0.02, 0.02,
      0.02, 0.02, 0.02, 0.02 } }
    local r0, u0 = rk.uncert.recovery(c, l2.volume_ml)
    t.is(l2.u_rc_rel, u0 / r0, 1e-9, "recovery: u(RC)/RC of the fitted "
      .. "curve at the liver's volume")
  else
    t.ok(false, "liver row with --recovery")
  end
  -- --tia hybrid: per voxel where every time point reaches --min-bqml
  ok, out = run("--phantom", "16", "--spacing", "6", "--out", path("hy"),
    "--no-plot", "--tia", "hybrid", "--min-bqml", "1e30")
  t.ok(ok and out:find("0 voxels fitted on their own", 1, true),
    "--tia hybrid above every voxel: all by the VOI shape" .. (ok and ""
    or ": " .. out))
  if ok then
    local hy = rk.csv.read(path("hy") .. "/dvh.csv")
    t.is(hy[2].mean_gy, rows[2].mean_gy, 1e-12, "... the VOI-shape run's "
      .. "numbers")
  end
  ok, out = run("--phantom", "16", "--tia", "hybrid")
  t.ok(not ok and out:find("--tia hybrid and --min-bqml", 1, true),
    "--tia hybrid without --min-bqml")
  ok, out = run("--phantom", "16", "--u-cal", "-1")
  t.ok(not ok and out:find("--u-cal needs a relative SD >= 0", 1, true),
    "a negative --u-cal")
  ok, out = run("--phantom", "16", "--u-vol", "big")
  t.ok(not ok and out:find("--u-vol needs a relative SD >= 0, 'boundary' "
    .. "or 'voxel'", 1, true), "a bad --u-vol")
  local vd = dofile(src .. "/scripts/voxel_dose.lua")
  -- the default volume term: the region grown and shrunk by one voxel.
  -- A 3^3 cube (i, j, k = 3..5) in a 7^3 grid, dose i^2: the cube's mean
  -- 50/3; grown (81 voxels: the cube, 9 + 9 face voxels at i = 2 and 6,
  -- 36 at i = 3..5) (450 + 36 + 324 + 600) / 81; shrunk: the centre, 16
  local lab = rk.image.new{ dims = { 7, 7, 7 }, label = true }
  local dq = rk.image.new{ dims = { 7, 7, 7 } }
  for k = 1, 7 do for j = 1, 7 do for i = 1, 7 do
    dq:set(i, j, k, (i - 1) ^ 2)
    if i >= 4 and i <= 6 and j >= 4 and j <= 6 and k >= 4 and k <= 6 then
      lab:set(i, j, k, 3)
    end
  end end end
  local _, ng = lab:grow(3, 1)
  local _, ns = lab:grow(3, -1)
  t.ok(ng == 81 and ns == 1, "grow: 27 + 54 face voxels; shrink: the "
    .. "centre (" .. ng .. ", " .. ns .. ")")
  local _, n2 = lab:grow(3, 2)
  -- by 2 (an L1 ball): 27 + 54 + 54 faces at distance 2 + 36 edge voxels
  -- = 171, less the 3 x 9 distance-2 face voxels beyond the grid's high
  -- side (index 8 of 7) = 144
  t.ok(n2 == 144, "grown by 2: 171 - 27 cut by the grid = 144 (" .. n2
    .. ")")
  local ud = rk.boundary_u(lab, 3, dq)
  t.is(ud, math.abs(1410 / 81 - 16) / 2, 1e-12, "boundary term: |mean "
    .. "grown - mean shrunk| / 2 by hand")
  t.raises(function() lab:grow(3, 5000) end, "steps", "a huge step count")
  -- counting statistics through the trapezoid-and-tail weights: times 1, 2
  -- h, activities 1, 1, counts 100, 400, lambda 0.5: weights 1 and 0.5 +
  -- 2, sqrt(1/100 + 2.5^2/400) / 3.5
  t.is(vd.counting_u_rel({ 1, 2 }, { 1, 1 }, { 100, 400 }, 0.5),
    math.sqrt(0.01 + 6.25 / 400) / 3.5, 1e-12, "counting term, by hand")
  -- bad input
  ok, out = run("--spect", path("missing.nii") .. "@24", "--labels",
    path("missing_labels.nii"), "--out", path("bad"))
  t.ok(not ok and out:find("missing.nii", 1, true), "missing SPECT named")
  t.ok(not exists(path("bad/dose.nii.gz")), "no output after a failure")
  ok, out = run("--phantom", "16", "--tia", "median")
  t.ok(not ok and out:find("--tia must be", 1, true), "bad --tia")
  ok, out = run("--phantom", "16", "--spacing", "6", "--nuclide", "Ho-166",
    "--out", path("ho"))
  t.ok(not ok and out:find("local energy deposition", 1, true),
    "Ho-166 by kernel: offers LED")
  t.ok(not exists(path("ho/dose.nii.gz")), "... and writes no dose")
  ok, out = run("--phantom", "16", "--spacing", "6", "--nuclide", "Ho-166",
    "--dose", "led", "--out", path("ho"), "--quiet")
  t.ok(ok, "Ho-166 by LED" .. (ok and "" or ": " .. out))
  -- the plots (gnuplot-nox is a build dependency in ./quickstart)
  t.ok(exists(path("ho/dvh.png")) and exists(path("ho/dose_slices.png")),
    "dvh.png and dose_slices.png drawn" .. (ok and "" or ": " .. out))
  -- DICOM inputs of two frames of reference
  local sp = ph:activity(24)
  sp:write_rtdose(path("spect.dcm"), "1.2.3.1")
  ph:ct():add(rk.image.new{ dims = { 20, 20, 20 }, spacing = { 8, 8, 8 },
    origin = labels:geometry().origin, value = 1000 })
    :write_rtdose(path("ct.dcm"), "1.2.3.2")
  labels:write(path("labels.nii"))
  ok, out = run("--spect", path("spect.dcm") .. "@24", "--labels",
    path("labels.nii"), "--ct", path("ct.dcm"), "--tia", "haenscheid",
    "--out", path("frames"))
  t.ok(not ok and out:find("not registered", 1, true)
    and out:find("1.2.3.2", 1, true), "two frames of reference refused: "
    .. out:sub(1, 160))
  -- the same frame of reference: DICOM inputs go through
  ph:ct():add(rk.image.new{ dims = { 20, 20, 20 }, spacing = { 8, 8, 8 },
    origin = labels:geometry().origin, value = 1000 })
    :write_rtdose(path("ct1.dcm"), "1.2.3.1")
  ok, out = run("--spect", path("spect.dcm") .. "@24", "--labels",
    path("labels.nii"), "--ct", path("ct1.dcm"), "--tia", "haenscheid",
    "--dose", "led", "--out", path("frames1"), "--no-plot", "--quiet")
  t.ok(ok and exists(path("frames1/dose.nii.gz")), "DICOM SPECT and CT of "
    .. "one frame of reference" .. (ok and "" or ": " .. out))
  -- labels that do not overlap the SPECT
  local spect = ph:activity(24)
  spect:write(path("s24.nii"))
  rk.image.new{ dims = { 4, 4, 4 }, origin = { 5000, 5000, 5000 },
    label = true, value = 1 }:write(path("far.nii"))
  ok, out = run("--spect", path("s24.nii") .. "@24", "--labels",
    path("far.nii"), "--tia", "haenscheid", "--out", path("far"))
  t.ok(not ok and out:find("do the label map and the SPECT overlap", 1, true),
    "labels outside the SPECT: " .. out:sub(1, 120))
end

t.done()
