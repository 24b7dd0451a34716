-- dicom_nm.lua - rk.image.dicom_nm_info and voxel_dose.lua's FILE@tags:
-- NM volumes written here as minimal DICOM datasets (explicit VR little
-- endian; DCMTK reads a dataset without a file meta header). Four images
-- of c(t) = 30000 e^(-(lp + lb) t) Bq/mL, lp = ln 2 / T(Lu-177), lb =
-- 0.01/h, stored decay-corrected to administration (DecayCorrection
-- ADMIN: 30000 e^(-lb t)); with the correction undone a mono-exponential
-- fit gives the voxel TIA 30000 / (lp + lb) Bq h/mL (uint16 rounding:
-- 1e-4). test_dicom_nm checks the tag parsing in depth.
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local tmp = t.scratch()

local function el(g, e, vr, v)
  if #v % 2 == 1 then v = v .. (vr == "UI" and "\0" or " ") end
  if vr == "OW" or vr == "SQ" then
    return string.pack("<I2I2c2I2I4", g, e, vr, 0, #v) .. v
  end
  return string.pack("<I2I2c2I2", g, e, vr, #v) .. v
end
local function us(v) return string.pack("<I2", v) end

-- o: value, date, time, injection (DT or nil), decay, units
local function nm_file(path, o)
  local nx, ny, nz = 3, 2, 2
  local pix = {}
  for i = 1, nx * ny * nz do pix[i] = string.pack("<I2", o.value) end
  local item = o.injection and el(0x0018, 0x1078, "DT", o.injection) or ""
  local sq = string.pack("<I2I2I4", 0xFFFE, 0xE000, #item) .. item
  local parts = {
    el(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.20"),
    el(0x0008, 0x0018, "UI", "1.2.3.4.5"),
    el(0x0008, 0x0022, "DA", o.date),
    el(0x0008, 0x0032, "TM", o.time),
    el(0x0008, 0x0060, "CS", "NM"),
    o.frame_ms and el(0x0018, 0x1242, "IS", tostring(o.frame_ms)) or "",
    el(0x0018, 0x0088, "DS", "4"),
    el(0x0020, 0x0032, "DS", "0\\0\\0"),
    el(0x0020, 0x0037, "DS", "1\\0\\0\\0\\1\\0"),
    el(0x0020, 0x0052, "UI", "1.2.3.4.6"),
    el(0x0028, 0x0002, "US", us(1)),
    el(0x0028, 0x0004, "CS", "MONOCHROME2"),
    el(0x0028, 0x0008, "IS", tostring(nz)),
    el(0x0028, 0x0010, "US", us(ny)),
    el(0x0028, 0x0011, "US", us(nx)),
    el(0x0028, 0x0030, "DS", "4\\4"),
    el(0x0028, 0x0100, "US", us(16)),
    el(0x0028, 0x0101, "US", us(16)),
    el(0x0028, 0x0102, "US", us(15)),
    el(0x0028, 0x0103, "US", us(0)),
    el(0x0054, 0x0016, "SQ", sq),
    el(0x0054, 0x1001, "CS", o.units or "BQML"),
    el(0x0054, 0x1102, "CS", o.decay or "NONE"),
    el(0x7FE0, 0x0010, "OW", table.concat(pix)),
  }
  t.write_file(path, table.concat(parts))
  return path
end

local lp = rk.nuclide("Lu-177").lambda
local lb = 0.01
local acq = { { "20260301", "120000", 4 }, { "20260302", "080000", 24 },
  { "20260304", "080000", 72 }, { "20260308", "080000", 168 } }
local args = { src .. "/scripts/voxel_dose.lua" }
for k, a in ipairs(acq) do
  local f = nm_file(("%s/nm%d.dcm"):format(tmp, k), { value = math.floor(
    30000 * math.exp(-lb * a[3]) + 0.5), date = a[1], time = a[2],
    injection = "20260301080000", decay = "ADMIN" })
  args[#args + 1] = "--spect"
  args[#args + 1] = f .. "@tags"
end

do
  local nm = rk.image.dicom_nm_info(tmp .. "/nm2.dcm")
  t.is(nm.hours_after_injection, 24, 1e-12, "24 h after injection")
  t.ok(nm.unit == "Bq/mL" and nm.decay_correction == "ADMIN",
    "Bq/mL, decay-corrected to administration")
  t.ok(nm.total_dose_bq == nil, "absent numbers are nil")
  local img = rk.image.read_dicom(tmp .. "/nm2.dcm")
  t.ok(img:geometry().unit == "Bq/mL", "read_dicom sets the unit")
  t.raises(function()
    rk.image.dicom_nm_info(nm_file(tmp .. "/late.dcm", { value = 1,
      date = "20260301", time = "", injection = "20260301080000" }))
  end, "missing acquisition time", "no acquisition time")
end

do
  local lab = rk.image.new{ dims = { 3, 2, 2 }, spacing = { 4, 4, 4 },
    direction = { -1, 0, 0, 0, -1, 0, 0, 0, 1 }, value = 1, label = true }
  lab:write(tmp .. "/labels.nii.gz")
  local out = tmp .. "/run"
  local a = { build .. "/radiokin", table.unpack(args) }
  for _, x in ipairs { "--labels", tmp .. "/labels.nii.gz", "--nuclide",
    "Lu-177", "--dose", "led", "--out", out, "--no-plot", "--quiet" } do
    a[#a + 1] = x
  end
  local st, so, se = rk.run(a)
  t.ok(st == 0, "voxel_dose.lua with FILE@tags" .. (st == 0 and "" or
    ": " .. tostring(so) .. tostring(se)))
  if st == 0 then
    local tia = rk.image.read(out .. "/tia.nii.gz")
    t.is(tia:get(2, 1, 1), 30000 / (lp + lb), 2e-3,
      "TIA = c0 / (lp + lb): hours from the tags, ADMIN undone")
  else
    t.skip(1, "no run")
  end
  -- counts and a missing injection time are refused
  local c = nm_file(tmp .. "/cnts.dcm", { value = 5, date = "20260302",
    time = "080000", injection = "20260301080000", units = "CNTS" })
  st, so, se = rk.run { build .. "/radiokin", src .. "/scripts/voxel_dose.lua",
    "--spect", c .. "@tags", "--labels", tmp .. "/labels.nii.gz",
    "--tia", "haenscheid", "--dose", "led", "--out", tmp .. "/bad" }
  t.ok(st ~= 0 and (se or ""):find("Units CNTS", 1, true),
    "a counts image is refused")
  local ni = nm_file(tmp .. "/noinj.dcm", { value = 5, date = "20260302",
    time = "080000" })
  st, so, se = rk.run { build .. "/radiokin", src .. "/scripts/voxel_dose.lua",
    "--spect", ni .. "@tags", "--labels", tmp .. "/labels.nii.gz",
    "--tia", "haenscheid", "--dose", "led", "--out", tmp .. "/bad" }
  t.ok(st ~= 0 and (se or ""):find("no injection time", 1, true),
    "no injection time: give FILE@HOURS")
end

-- Counts to Bq/mL (--cal): C / (t Q) x 1e6 / V_voxel. Q = 250 cps/MBq,
-- ActualFrameDuration 31250 ms, voxels 4 x 4 x 4 mm = 0.064 mL: factor
-- 1e6 / (31.25 x 250 x 0.064) = 2000 Bq/mL per count. Counts 15000 e^(-(lp
-- + lb) t), not decay-corrected: TIA = 3e7 / (lp + lb) Bq h/mL (uint16
-- rounding at 168 h, ~1350 counts: 2e-3). --acq-s 62.5 overrides the tag:
-- factor 1000, half the TIA.
do
  local lab = tmp .. "/labels.nii.gz"
  local cargs = {}
  for k, a in ipairs(acq) do
    local f = nm_file(("%s/cn%d.dcm"):format(tmp, k), { value = math.floor(
      15000 * math.exp(-(lp + lb) * a[3]) + 0.5), date = a[1], time = a[2],
      injection = "20260301080000", units = "CNTS", frame_ms = 31250 })
    cargs[#cargs + 1] = "--spect"
    cargs[#cargs + 1] = f .. "@tags"
  end
  local function vd(out, ...)
    local a = { build .. "/radiokin", src .. "/scripts/voxel_dose.lua" }
    for _, x in ipairs(cargs) do a[#a + 1] = x end
    for _, x in ipairs { "--labels", lab, "--dose", "led", "--out", out,
      "--no-plot", ... } do a[#a + 1] = x end
    local st, so, se = rk.run(a)
    return st, (so or "") .. (se or "")
  end
  local st, msg = vd(tmp .. "/cal", "--cal", "250")
  local so, se
  t.ok(st == 0, "voxel_dose.lua --cal 250 with counts images: " .. msg)
  t.ok(msg:find("counts to Bq/mL with 250 cps/MBq, 31.25 s " ..
    "(ActualFrameDuration), 0.064 mL voxels (x 2000)", 1, true),
    "the conversion is reported with its factor")
  if st == 0 then
    local tia = rk.image.read(tmp .. "/cal/tia.nii.gz")
    t.is(tia:get(2, 1, 1), 2000 * 15000 / (lp + lb), 2e-3,
      "counts: TIA = 2000 x 15000 / (lp + lb) Bq h/mL (factor from the tags)")
    -- counting statistics of each region (--cal: counts known): n voxels
    -- of c_i counts each at 4, 24, 72, 168 h, Poisson through the
    -- trapezoid-and-tail weights (scripts/voxel_dose.lua counting_u_rel)
    local r1 = rk.csv.read(tmp .. "/cal/dvh.csv")[1]
    local c, a = {}, {}
    for k, q in ipairs(acq) do
      a[k] = r1.n * math.floor(15000 * math.exp(-(lp + lb) * q[3]) + 0.5)
      c[k] = a[k]
    end
    local vd = dofile(src .. "/scripts/voxel_dose.lua")
    t.is(r1.u_counts_rel, vd.counting_u_rel({ 4, 24, 72, 168 }, a, c, lp),
      1e-6, "dvh.csv u_counts_rel: the region's counts by Poisson")
  else
    t.skip(2, "no run")
  end
  st, msg = vd(tmp .. "/cal2", "--cal", "250", "--acq-s", "62.5", "--quiet")
  if st == 0 then
    local tia = rk.image.read(tmp .. "/cal2/tia.nii.gz")
    t.is(tia:get(2, 1, 1), 1000 * 15000 / (lp + lb), 2e-3,
      "--acq-s 62.5 overrides the tag: factor 1000, TIA halved")
  else
    t.ok(false, "--acq-s run: " .. msg)
  end
  -- bad input
  st, msg = vd(tmp .. "/bad", "--quiet")
  t.ok(st ~= 0 and msg:find("cn1.dcm: the image is in counts (Units CNTS, " ..
    "0054,1001): give the camera's calibration factor --cal", 1, true),
    "counts without --cal refused, naming the file: " .. msg)
  local nof = nm_file(tmp .. "/nof.dcm", { value = 5, date = "20260302",
    time = "080000", injection = "20260301080000", units = "CNTS" })
  st, so, se = rk.run { build .. "/radiokin", src .. "/scripts/voxel_dose.lua",
    "--spect", nof .. "@tags", "--labels", lab, "--tia", "haenscheid",
    "--dose", "led", "--cal", "250", "--out", tmp .. "/bad" }
  t.ok(st ~= 0 and (se or ""):find("nof.dcm: no acquisition duration " ..
    "(ActualFrameDuration 0018,1242 absent or 0): give --acq-s", 1, true),
    "no frame duration and no --acq-s refused: " .. tostring(se))
  st, so, se = rk.run { build .. "/radiokin", src .. "/scripts/voxel_dose.lua",
    "--spect", tmp .. "/nm2.dcm@tags", "--labels", lab, "--tia",
    "haenscheid", "--dose", "led", "--cal", "250", "--out", tmp .. "/bad" }
  t.ok(st ~= 0 and (se or ""):find("nm2.dcm: the image is already in Bq/mL",
    1, true), "--cal with a Bq/mL image refused: " .. tostring(se))
  local ni = tmp .. "/cnt.nii.gz"
  rk.image.new{ dims = { 3, 2, 2 }, spacing = { 4, 4, 4 }, value = 100 }
    :write(ni)
  st, so, se = rk.run { build .. "/radiokin", src .. "/scripts/voxel_dose.lua",
    "--spect", ni .. "@24", "--labels", lab, "--tia", "haenscheid",
    "--dose", "led", "--cal", "250", "--out", tmp .. "/bad" }
  t.ok(st ~= 0 and (se or ""):find("cnt.nii.gz: no acquisition duration " ..
    "(ActualFrameDuration 0018,1242, a NIfTI has none): give --acq-s", 1,
    true), "NIfTI counts without --acq-s refused: " .. tostring(se))
  st, so, se = rk.run { build .. "/radiokin", src .. "/scripts/voxel_dose.lua",
    "--spect", ni .. "@24", "--labels", lab, "--acq-s", "10",
    "--out", tmp .. "/bad" }
  t.ok(st ~= 0 and (se or ""):find("--acq-s is the duration for --cal", 1,
    true), "--acq-s without --cal refused")
  t.ok(not io.open(tmp .. "/bad/tia.nii.gz"), "nothing written on bad input")
  -- NIfTI counts with --acq-s: Haenscheid TIA = c 2 t / ln 2 with c = 100
  -- counts x 1e6 / (10 s x 250 x 0.064 mL) = 625000 Bq/mL
  st, so, se = rk.run { build .. "/radiokin", src .. "/scripts/voxel_dose.lua",
    "--spect", ni .. "@24", "--labels", lab, "--tia", "haenscheid",
    "--dose", "led", "--cal", "250", "--acq-s", "10", "--out",
    tmp .. "/nii", "--no-plot", "--quiet" }
  if st == 0 then
    t.is(rk.image.read(tmp .. "/nii/tia.nii.gz"):get(1, 1, 1),
      625000 * 2 * 24 / math.log(2), 1e-6,
      "NIfTI counts, --acq-s 10: Haenscheid TIA of 625000 Bq/mL at 24 h (float32 NIfTI: 1e-6)")
  else
    t.ok(false, "NIfTI --cal run: " .. tostring(se))
  end
end

-- rk.image.read_seg / seg_segments refuse a file that is not a SEG, naming
-- it and its Modality (test_seg reads real SEGs written through dcmseg)
t.raises(function() rk.image.read_seg(tmp .. "/nm2.dcm") end,
  "nm2.dcm: Modality (0008,0060) is 'NM', not SEG", "read_seg of an NM file")
t.raises(function() rk.image.seg_segments(tmp .. "/nm2.dcm") end,
  "not SEG", "seg_segments of an NM file")
t.raises(function() rk.image.read_seg(tmp .. "/nm2.dcm", -1) end,
  "segment -1", "a negative segment number")

t.done()
