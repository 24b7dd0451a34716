-- tare_voxel.lua - TARE voxel planning from a 99mTc-MAA or 166Ho-scout
-- SPECT: per infusion territory, the activity for a given tumour mean
-- dose, normal-liver D70 or mean dose (or a given activity), dose maps by
-- local deposition and by kernel, DVHs, and the partition model from the
-- same volumes beside the voxel numbers (rk.voxel.tare).
local M = {}

M.HELP = [==[
usage: radiokin scripts/tare_voxel.lua --scout FILE --liver FILE[:LABEL]
         [--tumour FILE[:LABEL]] [--ct FILE]
         (--lsf F (--activity MBQ | --tumour-mean GY | --normal-d70 GY |
          --normal-mean GY) | --territory SPEC ...)
         [--product SIR-Spheres] [--cf clinical|derived|rounded|NUMBER]
         [--lung-mass KG] [--kernel lanconelli|none|dpk:FILE]
         [--rtdose [FRAME_UID]] [--out DIR] [--no-plot] [--quiet]
         [--u-activity REL] [--u-lsf SD] [--u-vol REL|voxel]
         [--recovery CSV]
       radiokin scripts/tare_voxel.lua --phantom N [--spacing MM] [--split]
         [--blur MM] [...]

Inputs (NIfTI-1/2 .nii/.nii.gz, or DICOM: a file holding a volume or a
folder holding one series; all in the scout's frame of reference, no
registration is done here):
  --scout FILE        MAA / 166Ho-scout SPECT, any unit proportional to
                      activity (negative voxels count as 0 and are
                      reported)
  --liver FILE[:L]    liver mask including the tumours (label L of a label
                      map; without :L every labelled voxel), or FILE#ROI:
                      ROI (name or number) of a DICOM RTSTRUCT, its
                      contours rasterised on the scout's grid
  --tumour FILE[:L]   tumour mask (or FILE#ROI)
  --ct FILE           CT in HU: voxel mass from the Schneider 2000 table;
                      without it liver tissue, 1.03 g/cm3
  --phantom N         a synthetic N^3 phantom (rk.phantom) instead: its
                      liver, its sphere as the tumour, its activity at 1 h
                      as the scout; --split makes two territories (the
                      liver's halves along i, each with part of the
                      sphere), --blur MM a SPECT-like blur
Plan (one territory, the whole liver):
  --lsf F             lung shunt fraction (0.05, not 5)
  --activity MBQ | --tumour-mean GY | --normal-d70 GY | --normal-mean GY
Plan (several infusion positions; repeat, masks disjoint):
  --territory SPEC    comma-separated key=value: mask=FILE[:L] (or
                      FILE#ROI), lsf=F,
                      name=TEXT and one of activity=, tumour_mean=,
                      normal_d70=, normal_mean=
Model:
  --product P    SIR-Spheres (default), TheraSphere, QuiremSpheres: the
                 nuclide and the limits checked
  --cf C         dose conversion factor, Gy kg/GBq: clinical (default;
                 49.67 for 90Y, 15.87 for 166Ho), derived, rounded or a number
  --lung-mass KG lung mass (default 1)
  --kernel K     lanconelli (default: the Lanconelli 2012 kernel of the
                 nuclide at the scout's voxel size), dpk:FILE (built from a
                 dose point kernel), none (local deposition only)
Uncertainty (first order, after the EANM guidance on uncertainty analysis,
Gear et al. EJNMMI 2018;45:2456; any of these adds the columns below and
the budget of report.md; the scout's counts are normalised to the
administered activity, so no camera calibration enters):
  --u-activity REL  relative SD of the administered activity (dose
                 calibrator)
  --u-lsf SD     standard uncertainty of the lung shunt fraction (absolute:
                 0.01 for 6 +- 1 %): the liver's share 1 - LSF
                 (u / (1 - LSF)), the lung's LSF (u / LSF)
  --u-vol V      the segmentation: 'boundary' (default when any
                 uncertainty is asked): half the difference of the volume's
                 mean dose over the volume grown and shrunk by one voxel;
                 'voxel': its mass uncertain by the one-voxel boundary
                 change of a sphere of its volume; or a relative SD
  --recovery CSV the user's recovery table (v_ml, rc [, sd]): each
                 volume's u(RC)/RC at its volume
Outputs in --out DIR (default .): activity.nii.gz (MBq per voxel),
dose_led.nii.gz (Gy, local deposition: the standard for microspheres),
dose_kernel.nii.gz (Gy, with a kernel), voi.nii.gz (label map: 2k-1 the
tumour and 2k the normal liver of territory k), plan.csv (per territory:
activity, lung dose, voxel doses beside the partition model's), checks.csv
(limits of the product at the planned activities), dvh.csv (per volume and
method: n, volume_ml, mean, median, min, max, D2, D50, D70, D90, D98;
with uncertainty inputs u_activity_rel, u_lsf_rel, u_vol_rel, u_rc_rel,
mean_u_gy, mean_lo_gy, mean_hi_gy (95 %); plan.csv then also lung_u_gy,
lung_lo_gy, lung_hi_gy), report.md (the plan, the results with their
uncertainty and budget),
dvh_curves.csv, dvh.png and dose_slices.png (gnuplot); dose.dcm (RT Dose
of the LED map) with --rtdose. Any failure exits non-zero and leaves no
partial output file.

Example
  radiokin scripts/tare_voxel.lua --phantom 32 --split --lsf 0.06 \
    --tumour-mean 120 --out tare]==]

local rk = require "radiokin"

local function usage(msg)
  error((msg and msg .. "\n" or "") .. M.HELP, 0)
end

local MODES = { activity = "activity_mbq", tumour_mean = "target_gy",
  normal_d70 = "target_gy", normal_mean = "target_gy" }

local function finite(v)
  return v and v == v and v ~= math.huge and v ~= -math.huge
end

-- "mask=FILE[:L],lsf=F,name=N,tumour_mean=GY" -> a territory table
local function parse_territory(spec)
  local t = {}
  for item in (spec .. ","):gmatch("([^,]*),") do
    local k, v = item:match("^%s*([%w_]+)%s*=%s*(.-)%s*$")
    if not k then
      usage(("--territory: '%s' is not key=value (in '%s')"):format(item,
        spec))
    end
    if k == "mask" or k == "name" then
      t[k] = v
    elseif k == "lsf" or MODES[k] then
      local x = tonumber(v)
      if not finite(x) then
        usage(("--territory: %s needs a number (got '%s')"):format(k, v))
      end
      if MODES[k] then
        if t.mode then
          usage("--territory: give one of activity, tumour_mean, "
            .. "normal_d70, normal_mean (in '" .. spec .. "')")
        end
        t.mode, t.value = k, x
      else
        t.lsf = x
      end
    else
      usage(("--territory: unknown key '%s' (mask, lsf, name, activity, "
        .. "tumour_mean, normal_d70, normal_mean)"):format(k))
    end
  end
  if not t.mask or not t.lsf or not t.mode then
    usage("--territory needs mask=, lsf= and one of activity=, "
      .. "tumour_mean=, normal_d70=, normal_mean= (got '" .. spec .. "')")
  end
  return t
end

local checked = rk.option_finite_if

-- the plan options: one of them, its value in o.value
local function plan_mode(mode)
  return { "value", "finite", after = function(o)
    if o.mode then usage("give one of --activity, --tumour-mean, "
      .. "--normal-d70, --normal-mean") end
    o.mode = mode
  end }
end

local OPTIONS = {
  ["--scout"] = { "scout", "value" },
  ["--liver"] = { "liver", "value" },
  ["--tumour"] = { "tumour", "value" },
  ["--ct"] = { "ct", "value" },
  ["--phantom"] = { "phantom", rk.option_phantom },
  ["--spacing"] = { "spacing", "finite" },
  ["--split"] = { "split", "flag" },
  ["--blur"] = { "blur", "finite" },
  ["--lsf"] = { "lsf", "finite" },
  ["--activity"] = plan_mode("activity"),
  ["--tumour-mean"] = plan_mode("tumour_mean"),
  ["--normal-d70"] = plan_mode("normal_d70"),
  ["--normal-mean"] = plan_mode("normal_mean"),
  ["--territory"] = { "territory", function(v) return parse_territory(v) end,
    after = function(o, t)
      o.territories[#o.territories + 1] = t
      o.territory = nil
    end },
  ["--product"] = { "product", "value" },
  ["--cf"] = { "cf", function(v) return tonumber(v) or v end },
  ["--lung-mass"] = { "lung_mass", "finite" },
  ["--kernel"] = { "kernel", "value" },
  ["--rtdose"] = { "rtdose", "flag", optional = "frame_uid" },
  ["--u-activity"] = { "u_activity", checked(function(x) return x >= 0 end,
    "--u-activity needs a relative SD >= 0") },
  ["--u-lsf"] = { "u_lsf", checked(function(x) return x >= 0 and x < 1 end,
    "--u-lsf needs an SD of the lung shunt fraction in [0, 1)") },
  ["--u-vol"] = { "u_vol", rk.option_u_vol },
  ["--recovery"] = { "recovery", "value" },
  ["--out"] = { "out", "value" },
  ["--no-plot"] = { "no_plot", "flag" },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, rest = rk.options(args, OPTIONS, usage, { out = ".",
    product = "SIR-Spheres", cf = "clinical", kernel = "lanconelli",
    territories = {}, spacing = 4.42 })
  if #rest > 0 then usage("unknown argument " .. rest[1]) end
  if o.help then return o end
  if o.kernel ~= "lanconelli" and o.kernel ~= "none"
    and not o.kernel:match("^dpk:.") then
    usage("--kernel must be lanconelli, none or dpk:FILE (got " .. o.kernel
      .. ")")
  end
  if #o.territories > 0 then
    if o.mode or o.lsf then
      usage("give either --territory ... or --lsf with one plan option, "
        .. "not both")
    end
    if o.split then usage("--split makes its own territories") end
  else
    if not o.lsf then usage("give --lsf F (the lung shunt fraction)") end
    if not o.mode then
      usage("give --activity, --tumour-mean, --normal-d70 or "
        .. "--normal-mean (or --territory SPEC)")
    end
  end
  if not o.phantom then
    if not o.scout then usage("give --scout FILE (or --phantom N)") end
    if not o.liver then usage("give --liver FILE[:LABEL]") end
    if o.split then usage("--split is for --phantom") end
  end
  return o
end

-- An image from NIfTI (.nii, .nii.gz) or DICOM; the frame of reference
-- UID of DICOM inputs.

-- "FILE:LABEL" or "FILE" -> file, label (nil: every labelled voxel)
local function split_label(spec)
  local f, l = spec:match("^(.+):(%d+)$")
  if f then return f, tonumber(l) end
  return spec, nil
end

-- The inputs on the scout's grid: scout, masks {img, label}, density.
function M.load(o, log)
  local read = rk.image_reader()
  if o.phantom then
    local ph = rk.phantom.new{ n = o.phantom, spacing_mm = o.spacing }
    local scout = ph:activity(1)
    if o.blur then scout:blur(o.blur) end
    local lab = ph:labels()
    local terr
    if o.split then
      local g = lab:geometry()
      terr = rk.image.new{ dims = g.dims, spacing = g.spacing,
        origin = g.origin, direction = g.direction, label = true }
      -- the liver's halves along i, split at the middle of its extent
      local lo, hi = math.huge, -math.huge
      for k = 1, g.dims[3] do for j = 1, g.dims[2] do for i = 1, g.dims[1] do
        if lab:get(i, j, k) == rk.phantom.LIVER then
          lo, hi = math.min(lo, i), math.max(hi, i)
        end
      end end end
      local half = (lo + hi) // 2
      for k = 1, g.dims[3] do for j = 1, g.dims[2] do for i = 1, g.dims[1] do
        terr:set(i, j, k, i <= half and 1 or 2)
      end end end
    end
    local ct = ph:ct()
    return scout, { img = lab, label = rk.phantom.LIVER },
      { img = lab, label = rk.phantom.SPHERE1 },
      rk.voxel.density{ ct = ct }, terr, ct
  end
  local scout = read(o.scout)
  local function mask(spec, what)
    -- FILE#ROI: a ROI of a DICOM RTSTRUCT, rasterised on the scout's grid
    local rs, roi = spec:match("^(.+)#([^#]+)$")
    if rs then
      local _, uid = rk.image.rtstruct_rois(rs)
      if uid ~= "" and frame and uid ~= frame then
        error(("%s: frame of reference %s, but %s has %s: not registered")
          :format(rs, uid, frame_file, frame), 0)
      end
      return { img = (rk.image.read_rtstruct(rs, roi, scout)), label = 1 }
    end
    local file, label = split_label(spec)
    local img = read(file)
    local g = img:geometry()
    if not g.label then
      img = rk.image.new{ dims = g.dims, spacing = g.spacing,
        origin = g.origin, direction = g.direction, label = true }:add(img)
    end
    img = img:resample(scout)
    local s = img:stats()
    if s.max < 1 then
      error(("%s: no labelled voxel inside the scout's field of view (%s; "
        .. "do the mask and the SPECT overlap?)"):format(file, what), 0)
    end
    return { img = img, label = label }
  end
  local liver = mask(o.liver, "liver")
  local tumour = o.tumour and mask(o.tumour, "tumour") or nil
  for k, t in ipairs(o.territories) do
    t.m = mask(t.mask, "territory " .. k)
  end
  local rho, ct
  if o.ct then
    ct = read(o.ct):resample(scout, { conserve = false })
    rho = rk.voxel.density{ ct = ct }
  end
  return scout, liver, tumour, rho, nil, ct
end

local function territory_args(o, terr_img)
  local list = {}
  local function one(name, mask, label, lsf, mode, value)
    local t = { name = name, mask = mask, label = label, lsf = lsf,
      mode = mode }
    t[MODES[mode]] = value
    list[#list + 1] = t
  end
  if #o.territories > 0 then
    for k, t in ipairs(o.territories) do
      one(t.name or ("territory " .. k), t.m.img, t.m.label, t.lsf, t.mode,
        t.value)
    end
  elseif terr_img then
    one("left", terr_img, 1, o.lsf, o.mode, o.value)
    one("right", terr_img, 2, o.lsf, o.mode, o.value)
  else
    one("liver", nil, nil, o.lsf, o.mode, o.value)
  end
  return list
end

-- Whether any uncertainty input was given.
function M.wants_uncertainty(o)
  return o.u_activity ~= nil or o.u_lsf ~= nil or o.u_vol ~= nil
    or o.recovery ~= nil
end

-- The uncertainty columns of dvh.csv rows (row.lsf: its territory's lung
-- shunt fraction) and of plan.csv's lung dose (rk.uncert.voi): the
-- administered activity, the liver's share 1 - LSF, the volume (mass),
-- the recovery of the volume; the lung: activity and LSF.
function M.uncertainty(o, rows, plan, voxel_mm, voi, maps)
  local curve = o.recovery and rk.recovery_table(o.recovery)
  local ua, ul = o.u_activity or 0, o.u_lsf or 0
  for _, r in ipairs(rows) do
    local u = { activity = ua, lung_shunt = ul / (1 - r.lsf) }
    local uv = o.u_vol or "boundary"
    if uv == "boundary" then
      u.volume = rk.boundary_u(voi, r.voi_label, maps[r.method]) / r.mean_gy
    elseif uv == "voxel" then
      u.volume = rk.volume_u_rel(r.volume_ml, voxel_mm)
    else
      u.volume = uv
    end
    u.recovery = 0
    if curve then
      local rc, urc = rk.uncert.recovery(curve, r.volume_ml)
      u.recovery = urc / rc
    end
    r.u_activity_rel, r.u_lsf_rel, r.u_vol_rel, r.u_rc_rel = u.activity,
      u.lung_shunt, u.volume, u.recovery
    if r.mean_gy > 0 then
      local q = rk.uncert.voi{ dose_gy = r.mean_gy, u_rel = u }
      r.mean_u_gy, r.mean_lo_gy, r.mean_hi_gy = q.dose.u, q.dose.lo,
        q.dose.hi
      r.budget = q.dose.budget
    end
  end
  for _, p in ipairs(plan) do
    if p.lung_gy > 0 and p.lsf > 0 then
      local q = rk.uncert.voi{ dose_gy = p.lung_gy, u_rel = {
        activity = ua, lung_shunt = ul / p.lsf } }
      p.lung_u_gy, p.lung_lo_gy, p.lung_hi_gy = q.dose.u, q.dose.lo,
        q.dose.hi
    end
  end
end

-- report.md: the plan and the voxel numbers with their uncertainty and
-- budget, in the spirit of the EANM dosimetry reporting guidance
-- (Lassmann et al., EJNMMI 2011;38:192).
function M.report_markdown(o, res, plan, rows)
  local L = {}
  local function add(x) L[#L + 1] = x end
  add("# TARE voxel planning report")
  add("")
  add("## What was measured")
  add("")
  add(o.phantom and ("Synthetic phantom (rk.phantom) of %d^3 voxels of "
    .. "%g mm as the scout."):format(o.phantom, o.spacing)
    or ("Scout SPECT %s; liver %s; tumour %s; CT %s."):format(o.scout,
      o.liver, o.tumour or "none", o.ct or "none (1.03 g/cm3)"))
  add("")
  add("## How it was quantified")
  add("")
  add(("%s (%s), dose conversion factor %.4g Gy kg/GBq: the scout's "
    .. "distribution normalised to the activity of each territory, dose "
    .. "by local deposition%s; the partition model from the same "
    .. "volumes beside it."):format(res.product, res.nuclide, res.cf,
      o.kernel ~= "none" and " and by kernel" or ""))
  add("")
  add("## Plan")
  add("")
  add("| territory | activity (MBq) | lung shunt | lung dose (Gy) |")
  add("|---|---|---|---|")
  for _, p in ipairs(plan) do
    add(("| %s | %.4g | %.3g | %s |"):format(p.territory, p.activity_mbq,
      p.lsf, p.lung_u_gy and ("%.4g +- %.2g (95 %%: %.4g to %.4g)")
        :format(p.lung_gy, p.lung_u_gy, p.lung_lo_gy, p.lung_hi_gy)
        or ("%.4g"):format(p.lung_gy)))
  end
  add("")
  add("## Results")
  add("")
  add("| volume | method | volume (mL) | mean dose (Gy) | D70 (Gy) |")
  add("|---|---|---|---|---|")
  for _, r in ipairs(rows) do
    add(("| %s | %s | %.4g | %s | %.4g |"):format(r.volume, r.method,
      r.volume_ml, r.mean_u_gy and ("%.4g +- %.2g (95 %%: %.4g to %.4g)")
        :format(r.mean_gy, r.mean_u_gy, r.mean_lo_gy, r.mean_hi_gy)
        or ("%.4g"):format(r.mean_gy), r.d70_gy))
  end
  add("")
  if rows[1] and rows[1].u_vol_rel then
    add("## Uncertainty budget")
    add("")
    add("First-order propagation (EANM guidance on uncertainty analysis, "
      .. "Gear et al. 2018): relative standard uncertainties shared by "
      .. "every voxel of a volume, and the share of the mean dose's "
      .. "variance from each.")
    add("")
    add("| volume | method | activity | lung shunt | volume | recovery | "
      .. "share activity / lung shunt / volume / recovery |")
    add("|---|---|---|---|---|---|---|")
    for _, r in ipairs(rows) do
      local b = r.budget or {}
      add(("| %s | %s | %.3g | %.3g | %.3g | %.3g | %.0f / %.0f / %.0f / "
        .. "%.0f %% |"):format(r.volume, r.method, r.u_activity_rel,
        r.u_lsf_rel, r.u_vol_rel, r.u_rc_rel, 100 * (b.activity or 0),
        100 * (b.lung_shunt or 0), 100 * (b.volume or 0),
        100 * (b.recovery or 0)))
    end
  else
    add("No uncertainty input was given (--u-activity, --u-lsf, --u-vol, "
      .. "--recovery): results without uncertainty.")
  end
  if not o.no_plot then
    add("")
    add("![DVH](dvh.png)")
    add("")
    add("![dose slices](dose_slices.png)")
  end
  add("")
  return table.concat(L, "\n")
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  local function log(msg)
    if not o.quiet then io.stderr:write("tare_voxel: " .. msg .. "\n") end
  end
  local scout, liver, tumour, rho, terr_img, ct = M.load(o, log)
  local kernel
  if o.kernel ~= "none" then
    -- the kernel's nuclide is the product's (a name or its start: "sir")
    local want, nuc = (o.product:lower():gsub("%W", "")), nil
    for _, p in ipairs(rk.tare.products()) do
      local name = (p.name:lower():gsub("%W", ""))
      if want ~= "" and name:sub(1, #want) == want then nuc = p.nuclide end
    end
    if not nuc then
      local names = {}
      for _, p in ipairs(rk.tare.products()) do names[#names + 1] = p.name end
      error(("--product %s unknown (expected %s)"):format(o.product,
        table.concat(names, ", ")), 0)
    end
    local dpk = o.kernel:match("^dpk:(.+)$")
    if dpk then
      kernel = rk.voxel.kernel{ nuclide = nuc, image = scout, dpk = dpk,
        density = 1.04 }
    else
      kernel = rk.voxel.kernel{ nuclide = nuc, image = scout }
    end
  end
  local terrs = territory_args(o, terr_img)
  local res, act, led, ker, voi = rk.voxel.tare{ scout = scout,
    liver = liver.img, liver_label = liver.label,
    tumour = tumour and tumour.img, tumour_label = tumour and tumour.label,
    density = rho, product = o.product, cf = o.cf,
    lung_mass_kg = o.lung_mass, kernel = kernel, territories = terrs }
  if res.n_negative > 0 then
    log(("%d negative scout voxels in the liver counted as 0")
      :format(res.n_negative))
  end
  if res.outside_fraction > 0 then
    log(("%.3g %% of the liver's counts lie in no territory (no dose "
      .. "there)"):format(100 * res.outside_fraction))
  end
  -- plan.csv: voxel numbers beside the partition model's
  local plan, checks = {}, {}
  for k, t in ipairs(res.territories) do
    local p = t.partition or {}
    local r = { territory = t.name, mode = t.mode, target_gy = t.target_gy
      or "", lsf = t.lsf, activity_mbq = t.activity_mbq,
      partition_activity_mbq = p.activity_mbq or "", lung_gy = t.lung_gy,
      tumour_kg = t.tumour_kg, normal_kg = t.normal_kg, tn = t.tn,
      tumour_mean_gy = t.tumour_mean_gy, tumour_d70_gy = t.tumour_d70_gy,
      partition_tumour_gy = p.tumour_gy or "",
      normal_mean_gy = t.normal_mean_gy, normal_d70_gy = t.normal_d70_gy,
      partition_normal_gy = p.normal_gy or "",
      tumour_mean_kernel_gy = "", normal_mean_kernel_gy = "", note = t.note }
    if ker then
      if t.n_tumour > 0 then
        r.tumour_mean_kernel_gy = ker:stats(voi, 2 * k - 1).mean
      end
      if t.n_normal > 0 then
        r.normal_mean_kernel_gy = ker:stats(voi, 2 * k).mean
      end
    end
    plan[k] = r
  end
  for k, c in ipairs(res.checks or {}) do
    checks[k] = { check = c.what, dose_gy = c.dose_gy, limit_gy = c.limit_gy,
      status = c.status }
  end
  -- DVHs per volume and method
  local maps = { { "led", led } }
  if ker then maps[2] = { "kernel", ker } end
  local dmax = 0
  for _, m in ipairs(maps) do dmax = math.max(dmax, m[2]:stats(voi).max) end
  local nbins = 200
  local bin = dmax > 0 and dmax / nbins * 1.0001 or 1
  local rows, curves, crow = {}, {}, {}
  for k, t in ipairs(res.territories) do
    for _, part in ipairs { { "tumour", 2 * k - 1, t.n_tumour },
      { "normal liver", 2 * k, t.n_normal } } do
      if part[3] > 0 then
        for _, m in ipairs(maps) do
          local name = t.name .. " " .. part[1]
          local d = rk.voxel.dvh{ dose = m[2], labels = voi, label = part[2],
            bin = bin, nbins = nbins }
          rows[#rows + 1] = { volume = name, method = m[1], lsf = t.lsf,
            voi_label = part[2], n = d.n,
            volume_ml = d.volume_ml, mean_gy = d.mean, median_gy = d.median,
            min_gy = d.min, max_gy = d.max, d2_gy = d.d2, d50_gy = d.d50,
            d70_gy = d.d70, d90_gy = d.d90, d98_gy = d.d98 }
          curves[#curves + 1] = { name = name .. " (" .. m[1] .. ")",
            dashed = m[1] == "kernel", cumulative = d.cumulative }
          for b = 1, nbins do
            crow[#crow + 1] = { volume = name, method = m[1],
              dose_gy = (b - 1) * bin, cumulative = d.cumulative[b],
              differential = d.differential[b] }
          end
        end
      end
    end
  end
  local unc = M.wants_uncertainty(o)
  if unc then
    local g = scout:geometry()
    M.uncertainty(o, rows, plan,
      (g.spacing[1] * g.spacing[2] * g.spacing[3]) ^ (1 / 3), voi,
      { led = led, kernel = ker })
  end
  local dvh_cols = { "volume", "method", "n", "volume_ml", "mean_gy",
    "median_gy", "min_gy", "max_gy", "d2_gy", "d50_gy", "d70_gy", "d90_gy",
    "d98_gy" }
  local plan_cols = { "territory", "mode", "target_gy", "lsf",
    "activity_mbq", "partition_activity_mbq", "lung_gy", "tumour_kg",
    "normal_kg", "tn", "tumour_mean_gy", "tumour_d70_gy",
    "partition_tumour_gy", "tumour_mean_kernel_gy", "normal_mean_gy",
    "normal_d70_gy", "partition_normal_gy", "normal_mean_kernel_gy",
    "note" }
  if unc then
    for _, c in ipairs { "u_activity_rel", "u_lsf_rel", "u_vol_rel",
      "u_rc_rel", "mean_u_gy", "mean_lo_gy", "mean_hi_gy" } do
      dvh_cols[#dvh_cols + 1] = c
    end
    for _, c in ipairs { "lung_u_gy", "lung_lo_gy", "lung_hi_gy" } do
      plan_cols[#plan_cols + 1] = c
    end
  end
  rk.mkdir(o.out)
  act:write(o.out .. "/activity.nii.gz")
  led:write(o.out .. "/dose_led.nii.gz")
  if ker then ker:write(o.out .. "/dose_kernel.nii.gz") end
  voi:write(o.out .. "/voi.nii.gz")
  if o.rtdose then led:write_rtdose(o.out .. "/dose.dcm", o.frame_uid) end
  rk.csv.write(o.out .. "/plan.csv", plan, plan_cols)
  rk.csv.write(o.out .. "/checks.csv", checks, { "check", "dose_gy",
    "limit_gy", "status" })
  rk.csv.write(o.out .. "/dvh.csv", rows, dvh_cols)
  rk.csv.write(o.out .. "/dvh_curves.csv", crow,
    { "volume", "method", "dose_gy", "cumulative", "differential" })
  if not o.no_plot then
    local ok, why = rk.plot_dvh(o.out .. "/dvh.png", curves, bin,
      "TARE: cumulative DVHs (solid: local deposition, dashed: kernel)")
    if not ok then log("no plot: " .. tostring(why)) end
    ok, why = rk.plot_slices(o.out .. "/dose_slices.png", led, ct)
    if not ok then log("no slice plot: " .. tostring(why)) end
  end
  rk.write_atomic(o.out .. "/report.md", M.report_markdown(o, res, plan,
    rows))
  if not o.quiet then
    print(("%s, %s, CF %.4g Gy kg/GBq"):format(res.product, res.nuclide,
      res.cf))
    print(("%-12s %10s %10s %10s %10s %10s %10s"):format("territory",
      "A MBq", "A part.", "tumour Gy", "part. Gy", "normal D70",
      "normal Gy"))
    for _, r in ipairs(plan) do
      print(("%-12s %10.4g %10s %10.4g %10s %10.4g %10.4g"):format(
        r.territory, r.activity_mbq,
        type(r.partition_activity_mbq) == "number"
          and ("%.4g"):format(r.partition_activity_mbq) or "-",
        r.tumour_mean_gy,
        type(r.partition_tumour_gy) == "number"
          and ("%.4g"):format(r.partition_tumour_gy) or "-",
        r.normal_d70_gy, r.normal_mean_gy))
    end
    print(("total %.4g MBq, lung %.4g Gy"):format(res.activity_mbq,
      res.lung_gy))
    for _, c in ipairs(checks) do
      print(("  %-40s %8.4g Gy (limit %.4g) %s"):format(c.check, c.dose_gy,
        c.limit_gy, c.status))
    end
    print("written: " .. o.out)
  end
  return res, plan, rows
end

if arg and arg[0] and arg[0]:match("tare_voxel%.lua$") then
  M.main(arg)
end
return M
