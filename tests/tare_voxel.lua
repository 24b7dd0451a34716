-- tare_voxel.lua - rk.voxel.tare and scripts/tare_voxel.lua against the
-- partition model: a box liver of uniform counts 1 holding a cube tumour
-- of counts r has, at uniform density, D_N = CF A (1 - L) / (M_N + r M_T)
-- and D_T = r D_N (rk.tare.plan with the same masses and T/N = r), lungs
-- CF A L / M_lung. test_tare_voxel checks the engine in depth.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local tmp = t.scratch()
local have_gnuplot = rk.run { "gnuplot", "--version" } == 0
local function exists(p)
  local f = io.open(p, "r")
  if f then f:close() end
  return f ~= nil
end
local function run(...)
  local st, so, se = rk.run { exe, src .. "/scripts/tare_voxel.lua", ... }
  return st == 0, (so or "") .. (se or "")
end

-- 12^3 voxels of 5 mm; liver i, j, k in 2..11 (1000 voxels), tumour
-- 4..6 (27 voxels, label 2), territory label map: i <= 6 -> 1, else 2
local n, r, rho = 12, 5.0, 1.03
local function grid(label)
  return rk.image.new{ dims = { n, n, n }, spacing = { 5, 5, 5 },
    label = label }
end
local scout, lab, terr = grid(false), grid(true), grid(true)
for k = 1, n do for j = 1, n do for i = 1, n do
  local liver = i >= 2 and i <= 11 and j >= 2 and j <= 11 and k >= 2
    and k <= 11
  local tu = i >= 4 and i <= 6 and j >= 4 and j <= 6 and k >= 4 and k <= 6
  lab:set(i, j, k, tu and 2 or liver and 1 or 0)
  scout:set(i, j, k, tu and r or liver and 1 or 0.2)
  terr:set(i, j, k, i <= 6 and 1 or 2)
end end end
local m = rho * 0.125 / 1000  -- kg per voxel (0.125 mL)
local mn, mt = 973 * m, 27 * m

do
  local res, act, led, ker, voi = rk.voxel.tare{ scout = scout, liver = lab,
    tumour = lab, tumour_label = 2, product = "SIR-Spheres", lsf = 0.1,
    activity_mbq = 1500, lung_mass_kg = 0.9 }
  local cf = 49.67
  local dn = cf * 1.5 * 0.9 / (mn + r * mt)
  local tr = res.territories[1]
  t.is(tr.normal_mean_gy, dn, 1e-6, "normal liver = D_N")
  t.is(tr.tumour_mean_gy, r * dn, 1e-6, "tumour = r D_N")
  t.is(res.lung_gy, cf * 1.5 * 0.1 / 0.9, 1e-12, "lung = CF A L / M_lung")
  t.is(tr.tn, r, 1e-9, "T/N from the scout")
  t.is(act:sum(), 1500 * 0.9, 1e-6, "activity map sums to A (1 - L)")
  t.ok(ker == nil, "no kernel: no kernel dose")
  t.is(led:stats(voi, 1).mean, r * dn, 1e-6, "voi label 1 = the tumour")
  -- the same volumes through rk.tare.plan
  local p = rk.tare.plan{ product = "SIR-Spheres", cf = cf, mass_kg = mn + mt,
    lsf = 0.1, lesions = { { mass_kg = mt, tn = r } }, activity_mbq = 1500,
    lung_mass_kg = 0.9 }
  t.is(tr.partition.normal_gy, p.territories[1].normal_gy, 1e-9,
    "partition normal dose = rk.tare.plan's")
  t.is(tr.partition.tumour_gy, p.territories[1].lesions[1].dose_gy, 1e-9,
    "partition tumour dose = rk.tare.plan's")
end

do
  -- two territories: tumour mean in 1 (holds the tumour), normal D70 in 2
  local res = rk.voxel.tare{ scout = scout, liver = lab, tumour = lab,
    tumour_label = 2, product = "SIR-Spheres", cf = "clinical",
    territories = {
      { name = "a", mask = terr, label = 1, lsf = 0.05, mode = "tumour_mean",
        target_gy = 150 },
      { name = "b", mask = terr, label = 2, lsf = 0.05, mode = "normal_d70",
        target_gy = 35 } } }
  local a, b = res.territories[1], res.territories[2]
  -- territory a: i 2..6 (500 voxels, 27 tumour): counts 473 + 27 r
  local want = 150 * (473 + 27 * r) * m / (r * 49.67 * 0.95 * 1e-3)
  t.is(a.activity_mbq, want, 1e-6, "a: activity for a 150 Gy tumour mean")
  t.is(a.partition.activity_mbq, want, 1e-9, "a: partition activity equal")
  want = 35 * 500 * m / (49.67 * 0.95 * 1e-3)
  t.is(b.activity_mbq, want, 1e-6, "b: activity for D70 = 35 Gy")
  t.is(b.normal_d70_gy, 35, 1e-6, "b: D70 reached")
  t.ok(res.all_pass and #res.checks == 3, "limit checks: 2 normal + lung")
  t.raises(function()
    rk.voxel.tare{ scout = scout, liver = lab, tumour = lab, tumour_label = 2,
      product = "SIR-Spheres", territories = {
        { mask = terr, label = 2, lsf = 0.05, mode = "tumour_mean",
          target_gy = 100 } } }
  end, "territory 1: mode tumour_mean needs tumour voxels",
    "a tumour target where there is no tumour")
  t.raises(function()
    rk.voxel.tare{ scout = scout, liver = lab, product = "SIR-Spheres",
      lsf = 5, activity_mbq = 100 }
  end, "field 'lsf' must be", "lsf 5 (percent) refused")
  t.raises(function()
    rk.voxel.tare{ scout = scout, liver = lab, product = "SIR-Spheres",
      lsf = 0.05 }
  end, "give mode", "no plan: said what to give")
end

-- ------------------------------------------------------------ script
do
  local ok, out = run("--help")
  t.ok(ok and out:find("usage: radiokin scripts/tare_voxel.lua", 1, true),
    "--help")
  local o = tmp .. "/run"
  local args = { "--phantom", "20", "--spacing", "6", "--split", "--lsf",
    "0.06", "--tumour-mean", "120", "--out", o, "--quiet" }
  if not have_gnuplot then args[#args + 1] = "--no-plot" end
  ok, out = run(table.unpack(args))
  t.ok(ok, "phantom plan" .. (ok and "" or ": " .. out))
  for _, f in ipairs { "activity.nii.gz", "dose_led.nii.gz",
    "dose_kernel.nii.gz", "voi.nii.gz", "plan.csv", "checks.csv", "dvh.csv",
    "dvh_curves.csv" } do
    t.ok(exists(o .. "/" .. f), "wrote " .. f)
  end
  if have_gnuplot then
    t.ok(exists(o .. "/dvh.png") and exists(o .. "/dose_slices.png"),
      "plots drawn")
  else
    t.skip(1, "no gnuplot")
  end
  local rows = rk.csv.read(o .. "/plan.csv", { strings = { "territory",
    "mode", "note" }, missing = { "" } })
  t.ok(#rows == 2, "two territories in plan.csv")
  for _, row in ipairs(rows) do
    t.is(row.tumour_mean_gy, 120, 1e-6, row.territory .. ": 120 Gy reached")
    t.is(row.partition_activity_mbq, row.activity_mbq, 1e-6,
      row.territory .. ": partition model agrees (uniform phantom)")
  end
  local led = rk.image.read(o .. "/dose_led.nii.gz")
  local voi = rk.image.read(o .. "/voi.nii.gz")
  t.is(led:stats(voi, 1).mean, 120, 1e-6, "dose_led.nii.gz: tumour 1 mean")
  t.ok(rows[1] and rows[1].lung_u_gy == nil, "no uncertainty input: no "
    .. "uncertainty columns")
  -- uncertainty (rk.uncert.voi): activity 5 %, LSF 0.06 +- 0.01, volume
  -- 10 %: a liver volume's u = D sqrt(0.05^2 + (0.01/0.94)^2 + 0.1^2),
  -- the lung's u = D_lung sqrt(0.05^2 + (0.01/0.06)^2)
  local ou = tmp .. "/unc"
  ok, out = run("--phantom", "20", "--split", "--lsf", "0.06",
    "--tumour-mean", "120", "--out", ou, "--no-plot", "--quiet",
    "--kernel", "none", "--u-activity", "0.05", "--u-lsf", "0.01",
    "--u-vol", "0.1")
  t.ok(ok, "run with uncertainty" .. (ok and "" or ": " .. out))
  if ok then
    local dv = rk.csv.read(ou .. "/dvh.csv", { strings = { "volume",
      "method" } })
    local ur = math.sqrt(0.05 ^ 2 + (0.01 / 0.94) ^ 2 + 0.1 ^ 2)
    t.is(dv[1].mean_u_gy, dv[1].mean_gy * ur, 1e-9, dv[1].volume
      .. ": mean_u_gy = D sqrt(0.05^2 + (0.01/0.94)^2 + 0.1^2)")
    t.is(dv[1].mean_lo_gy, dv[1].mean_gy * (1 - 1.959963984540054 * ur),
      1e-9, dv[1].volume .. ": 95 % lower bound")
    local pl = rk.csv.read(ou .. "/plan.csv", { strings = { "territory",
      "mode", "note" }, missing = { "" } })
    t.is(pl[1].lung_u_gy, pl[1].lung_gy * math.sqrt(0.05 ^ 2
      + (0.01 / 0.06) ^ 2), 1e-9, "lung: u = D sqrt(0.05^2 + (0.01/0.06)^2)")
    local md = t.read_file(ou .. "/report.md") or ""
    t.like(md, "## Uncertainty budget", "report.md has the budget")
  else
    t.skip(4, "no run")
  end
  -- the default volume term: the tumour's mean over the tumour grown and
  -- shrunk by one voxel (rk.boundary_u on the written maps)
  local ob = tmp .. "/uncb"
  ok, out = run("--phantom", "20", "--lsf", "0.06", "--tumour-mean", "120",
    "--out", ob, "--no-plot", "--quiet", "--kernel", "none",
    "--u-activity", "0.05")
  if ok then
    local dv = rk.csv.read(ob .. "/dvh.csv", { strings = { "volume",
      "method" } })
    local led2 = rk.image.read(ob .. "/dose_led.nii.gz")
    local voi2 = rk.image.read(ob .. "/voi.nii.gz")
    t.is(dv[1].u_vol_rel, rk.boundary_u(voi2, 1, led2) / dv[1].mean_gy,
      1e-6, dv[1].volume .. ": u_vol_rel = boundary term / mean")
  else
    t.ok(false, "run with the default volume term: " .. out)
  end
  ok, out = run("--phantom", "20", "--lsf", "0.06", "--tumour-mean", "120",
    "--u-lsf", "1.5")
  t.ok(not ok and out:find("--u-lsf needs", 1, true), "--u-lsf out of range")
  -- bad input
  ok, out = run("--phantom", "20", "--tumour-mean", "120")
  t.ok(not ok and out:find("give --lsf", 1, true), "missing --lsf")
  ok, out = run("--phantom", "20", "--territory", "lsf=0.1,mask=x.nii",
    "--out", tmp .. "/bad")
  t.ok(not ok and out:find("--territory needs", 1, true),
    "a territory without a plan")
  ok, out = run("--scout", tmp .. "/missing.nii", "--liver",
    tmp .. "/missing_liver.nii", "--lsf", "0.1", "--activity", "1000",
    "--out", tmp .. "/bad")
  t.ok(not ok and out:find("missing.nii", 1, true), "missing scout named")
  t.ok(not exists(tmp .. "/bad/dose_led.nii.gz"), "no output after failure")
end

-- ------------------------------------------ RTSTRUCT binding (errors; the
-- rasterisation itself: tests/unit/test_rtstruct against analytic areas)
do
  local dose = rk.image.new{ dims = { 4, 4, 2 }, spacing = { 2, 2, 2 },
    value = 1 }
  local f = tmp .. "/dose.dcm"
  dose:write_rtdose(f)
  t.raises(function() rk.image.read_rtstruct(f, "liver", dose) end,
    "Modality %(0008,0060%) is RTDOSE %(expected RTSTRUCT%)",
    "an RT Dose is not a structure set")
  t.raises(function() rk.image.rtstruct_rois(tmp .. "/none.dcm") end,
    "none.dcm: not a readable DICOM", "missing RTSTRUCT named")
  t.raises(function() rk.image.read_rtstruct(f, "liver", 3) end,
    "argument 3 %(the target grid%)", "target must be an image")
end

-- ---------------------------------------- masks from a DICOM RTSTRUCT
-- A structure set written here as a minimal DICOM dataset (explicit VR
-- little endian): ROI "liver" and ROI "tumour", squares with edges half a
-- voxel outside the label maps' boxes above, on their slices; the plan
-- from them equals the plan from the label maps.
do
  local function el(g, e, vr, v)
    if #v % 2 == 1 then v = v .. " " end
    if vr == "SQ" then
      return string.pack("<I2I2c2I2I4", g, e, vr, 0, #v) .. v
    end
    return string.pack("<I2I2c2I2", g, e, vr, #v) .. v
  end
  local function item(v) return string.pack("<I2I2I4", 0xFFFE, 0xE000, #v) .. v end
  -- a square [lo, hi] mm (RAS x and y) on slices k0..k1 (0-based, 5 mm)
  local function contours(lo, hi, k0, k1)
    local items = {}
    for k = k0, k1 do
      local z = 5 * k
      local pts = { { lo, lo }, { hi, lo }, { hi, hi }, { lo, hi } }
      local d = {}
      for _, p in ipairs(pts) do
        d[#d + 1] = ("%g\\%g\\%g"):format(-p[1], -p[2], z) -- RAS -> LPS
      end
      items[#items + 1] = item(el(0x3006, 0x0042, "CS", "CLOSED_PLANAR")
        .. el(0x3006, 0x0046, "IS", "4")
        .. el(0x3006, 0x0050, "DS", table.concat(d, "\\")))
    end
    return table.concat(items)
  end
  local ss = item(el(0x3006, 0x0022, "IS", "1") .. el(0x3006, 0x0026, "LO",
    "liver")) .. item(el(0x3006, 0x0022, "IS", "2")
    .. el(0x3006, 0x0026, "LO", "tumour"))
  local rc = item(el(0x3006, 0x0040, "SQ", contours(2.5, 52.5, 1, 10))
    .. el(0x3006, 0x0084, "IS", "1"))
    .. item(el(0x3006, 0x0040, "SQ", contours(12.5, 27.5, 3, 5))
    .. el(0x3006, 0x0084, "IS", "2"))
  local rs = tmp .. "/rs.dcm"
  t.write_file(rs, el(0x0008, 0x0060, "CS", "RTSTRUCT")
    .. el(0x3006, 0x0020, "SQ", ss) .. el(0x3006, 0x0039, "SQ", rc))
  local m = rk.image.read_rtstruct(rs, "liver", scout)
  t.is(m:stats(m, 1).n, 1000, 0, "RTSTRUCT liver: the 1000 voxels of the box")
  local same = true
  for k = 1, n do for j = 1, n do for i = 1, n do
    if (m:get(i, j, k) == 1) ~= (lab:get(i, j, k) >= 1) then same = false end
  end end end
  t.ok(same, "RTSTRUCT liver = the label map's liver")
  scout:write(tmp .. "/scout.nii.gz")
  local out = tmp .. "/rs_run"
  local ok, text = run("--scout", tmp .. "/scout.nii.gz", "--liver",
    rs .. "#liver", "--tumour", rs .. "#tumour", "--lsf", "0.1",
    "--activity", "1500", "--lung-mass", "0.9", "--kernel", "none",
    "--out", out, "--no-plot", "--quiet")
  t.ok(ok, "tare_voxel.lua with RTSTRUCT masks" .. (ok and "" or ": " .. text))
  if ok then
    local row = rk.csv.read(out .. "/plan.csv", { strings = { "territory",
      "mode", "note" }, missing = { "" } })[1]
    local dn = 49.67 * 1.5 * 0.9 / (mn + r * mt)
    t.is(row.tumour_mean_gy, r * dn, 1e-6, "plan.csv tumour = r D_N")
    t.is(row.normal_mean_gy, dn, 1e-6, "plan.csv normal = D_N")
  else
    t.skip(2, "no run")
  end
  ok, text = run("--scout", tmp .. "/scout.nii.gz", "--liver",
    rs .. "#spleen", "--lsf", "0.1", "--activity", "1500", "--out",
    tmp .. "/bad2", "--kernel", "none")
  t.ok(not ok and text:find("no ROI 'spleen'", 1, true)
    and text:find("'liver', 'tumour'", 1, true), "unknown ROI: names listed")
end

t.done()
