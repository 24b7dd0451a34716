-- voxel_dose.lua - voxel dosimetry from a SPECT/CT time series: every
-- image resampled to the first SPECT's grid, voxel TIA, dose by kernel
-- convolution (with CT density correction) or local energy deposition,
-- BED per tissue class, DVHs per region as CSV and a DVH plot.
local M = {}

M.HELP = [==[
usage: radiokin scripts/voxel_dose.lua --spect FILE@HOURS ... --labels LABELS.nii
         [--ct CT.nii] [--nuclide Lu-177]
         [--tia voi_shape|per_voxel|haenscheid|hybrid --min-bqml BQML]
         [--dose kernel|led] [--dpk FILE] [--class LABEL=AB:TREP ...]
         [--vx GY ...] [--threads N] [--rtdose [FRAME_UID]] [--out DIR]
         [--u-cal REL] [--u-vol REL|voxel] [--recovery CSV] [--u-ab GY]
         [--cal CPS_PER_MBQ [--acq-s SECONDS]] [--no-plot] [--quiet]
       radiokin scripts/voxel_dose.lua --phantom N [--spacing MM] [...]

Inputs (NIfTI-1/2 .nii/.nii.gz, or DICOM: a file holding a volume or a
folder holding one series; registered: one frame of reference, no
registration is done here, and DICOM inputs of different frames of
reference are refused):
  --spect FILE@HOURS  activity concentration (Bq/mL, not decay-corrected)
                      at HOURS after administration; repeat per time point
                      (one for --tia haenscheid). FILE@tags (DICOM): the
                      hours from the acquisition and injection times in
                      the file; a file decay-corrected to the
                      administration (DecayCorrection ADMIN) has the
                      correction undone with the nuclide's half-life; a
                      counts image (Units CNTS) needs --cal
  --cal Q             the SPECT images hold counts per voxel: Q is the
                      camera's calibration factor in cps/MBq (counts per
                      second per MBq, i.e. counts/(s MBq)), and each voxel
                      becomes C / (t Q) x 1e6 / V_voxel Bq/mL. A DICOM
                      image in Bq/mL (Units BQML) is refused with it.
                      t (s) is the acquisition duration the factor was
                      measured with: --acq-s, else each DICOM file's
                      ActualFrameDuration (0018,1242), the duration of one
                      view for a SPECT (so Q must be per second of view, as
                      measured with the same protocol)
  --acq-s T           the acquisition duration t in seconds for every
                      image (overrides the DICOM tag; needed for NIfTI)
  --labels FILE       label map (0 outside the body; each region its
                      number); resampled by nearest neighbour
  --ct FILE           CT in HU: mass density by the Schneider 2000 table
                      (data/ct); without it soft tissue, 1.04 g/cm3
  --phantom N         use the synthetic N^3 phantom (rk.phantom) instead,
                      imaged at 4, 24, 72 and 168 h, voxels of --spacing mm
                      (default 4.42)
Method:
  --tia M        voi_shape (default: the body's curve, scaled per voxel),
                 per_voxel (tac candidates per voxel), hybrid (per voxel
                 where every time point reaches --min-bqml BQML, the VOI
                 shape elsewhere), haenscheid (one image)
  --dose D       kernel (default; Lanconelli 2012 kernels, or --dpk FILE
                 to build one from a dose point kernel) or led (local
                 energy deposition)
  --class L=AB:TREP  tissue class of label L (0: every other label) for
                 BED/EQD2: alpha/beta (Gy) and repair half-time (h); BED
                 maps are written only when classes are given
  --vx GY        add V(GY) (volume fraction with at least GY) to dvh.csv
Uncertainty (first order, after the EANM guidance on uncertainty analysis,
Gear et al. EJNMMI 2018;45:2456; any of these adds the columns below and
the budget of report.md):
  --u-cal REL    relative SD of the calibration (the camera factor, or the
                 image's Bq/mL scale): shared by every voxel and time point
  --u-vol V      the segmentation: 'boundary' (default when any
                 uncertainty is asked): half the difference of the
                 region's mean dose (and mean BED) over the region grown
                 and shrunk by one voxel; 'voxel': the region's mass
                 uncertain by the one-voxel boundary change of a sphere of
                 its volume (the activity taken as captured, D = A~/m); or
                 a relative SD of the mass
  --recovery CSV the user's recovery table (columns v_ml, rc [, sd]: their
                 sphere-phantom measurement): RC(v) fitted, each region's
                 u(RC)/RC at its volume (the maps are not corrected by RC)
  --u-ab GY      SD of every class's alpha/beta (BED)
                 Counting statistics: with --cal, each region's counts per
                 time point (Poisson) through the trapezoid-and-tail
                 weights of its curve.
  --rtdose [UID] also write dose.dcm, a DICOM RT Dose in the frame of
                 reference UID (the CT's; a new one without it)
Outputs in --out DIR (default .): tia.nii.gz (Bq h/mL), dose.nii.gz (Gy),
bed.nii.gz and eqd2.nii.gz (with --class), dvh.csv (one row per region:
n, volume_ml, mean, median, min, max, sd, D2, D50, D70, D90, D98, V(x);
with uncertainty inputs u_cal_rel, u_vol_rel, u_rc_rel, u_counts_rel,
mean_u_gy, mean_lo_gy, mean_hi_gy (95 %) and with classes bed_mean_u_gy,
bed_mean_lo_gy, bed_mean_hi_gy), report.md (what was measured, how it
was quantified, the results with their uncertainty and budget),
dvh_curves.csv (cumulative and differential DVH per region), dvh.png and
dose_slices.png (orthogonal slices through the hottest voxel with isodose
lines, over the CT in grey (window W400 L40) when there is one; gnuplot). Negative voxels are clipped to 0 and counted. Any failure exits
non-zero and leaves no partial output file.

Example
  radiokin scripts/voxel_dose.lua --phantom 32 --out vox --class 0=3:1.5]==]

local rk = require "radiokin"

local function usage(msg)
  error((msg and msg .. "\n" or "") .. M.HELP, 0)
end

local checked = rk.option_finite_if

local OPTIONS = {
  ["--spect"] = { "spect1", function(v, name)
    local file, h = v:match("^(.+)@([^@]+)$")
    local t = tonumber(h)
    if file and h == "tags" then
      t = "tags"
    elseif not file or not t or t ~= t or t < 0 then
      usage(name .. " needs FILE@HOURS with HOURS >= 0, or FILE@tags (got "
        .. v .. ")")
    end
    return { file = file, t = t }
  end, after = function(o, x) o.spect[#o.spect + 1] = x; o.spect1 = nil end },
  ["--labels"] = { "labels", "value" },
  ["--ct"] = { "ct", "value" },
  ["--phantom"] = { "phantom", rk.option_phantom },
  ["--spacing"] = { "spacing", "finite" },
  ["--nuclide"] = { "nuclide", "value" },
  ["--tia"] = { "tia", "value" },
  ["--min-bqml"] = { "min_bqml", checked(function(x) return x > 0 end,
    "--min-bqml needs a level > 0 Bq/mL") },
  ["--dose"] = { "dose", "value" },
  ["--dpk"] = { "dpk", "value" },
  ["--class"] = { "class1", function(v, name)
    local l, ab, tr = v:match("^(%d+)=([^:]+):(.+)$")
    ab, tr = tonumber(ab), tonumber(tr)
    if not l or not ab or not tr or ab <= 0 or tr <= 0 then
      usage(name .. " needs LABEL=AB:TREP with AB > 0 and TREP > 0 (got "
        .. v .. ")")
    end
    return { label = tonumber(l), ab = ab, trep = tr }
  end, after = function(o, x)
    o.classes[#o.classes + 1] = x
    o.class1 = nil
  end },
  ["--vx"] = { "vx1", "finite", after = function(o, x)
    o.vx[#o.vx + 1] = x
    o.vx1 = nil
  end },
  ["--rtdose"] = { "rtdose", "flag", optional = "frame_uid" },
  ["--cal"] = { "cal", checked(function(x) return x > 0 end,
    "--cal needs a calibration factor > 0 cps/MBq") },
  ["--acq-s"] = { "acq_s", checked(function(x) return x > 0 end,
    "--acq-s needs a duration > 0 s") },
  ["--u-cal"] = { "u_cal", checked(function(x) return x >= 0 end,
    "--u-cal needs a relative SD >= 0") },
  ["--u-vol"] = { "u_vol", rk.option_u_vol },
  ["--recovery"] = { "recovery", "value" },
  ["--u-ab"] = { "u_ab", checked(function(x) return x >= 0 end,
    "--u-ab needs an SD >= 0 Gy") },
  ["--threads"] = { "threads", "finite" },
  ["--out"] = { "out", "value" },
  ["--no-plot"] = { "no_plot", "flag" },
  ["--quiet"] = { "quiet", "flag" },
}

function M.parse_args(args)
  local o, rest = rk.options(args, OPTIONS, usage, { out = ".",
    nuclide = "Lu-177", tia = "voi_shape", dose = "kernel", spect = {},
    classes = {}, vx = {}, threads = 1, spacing = 4.42 })
  if #rest > 0 then usage("unknown argument " .. rest[1]) end
  if o.help then return o end
  if o.tia ~= "voi_shape" and o.tia ~= "per_voxel" and o.tia ~= "haenscheid"
    and o.tia ~= "hybrid" then
    usage("--tia must be voi_shape, per_voxel, hybrid or haenscheid (got "
      .. o.tia .. ")")
  end
  if (o.tia == "hybrid") ~= (o.min_bqml ~= nil) then
    usage("--tia hybrid and --min-bqml BQML go together (the level every "
      .. "time point must reach for a voxel's own fit)")
  end
  if o.dose ~= "kernel" and o.dose ~= "led" then
    usage("--dose must be kernel or led (got " .. o.dose .. ")")
  end
  if o.cal and o.phantom then
    usage("--cal calibrates SPECT counts: not with --phantom")
  end
  if o.acq_s and not o.cal then
    usage("--acq-s is the duration for --cal: give the calibration factor")
  end
  if not o.phantom then
    if #o.spect == 0 then usage("give --spect FILE@HOURS (or --phantom N)") end
    if not o.labels then usage("give --labels FILE (the body and regions)") end
  end
  return o
end

-- An image from NIfTI (.nii, .nii.gz) or DICOM (a file, or a folder
-- holding one series); the frame of reference UID of DICOM inputs.

-- Counts to Bq/mL in place (--cal): C / (t Q) MBq per voxel, x 1e6 /
-- V_voxel(mL). A DICOM file says its unit (Units 0054,1001); a NIfTI does
-- not, so with --cal its voxels are taken as counts. Errors name the file
-- and the tag or option missing.
function M.calibrate(img, file, o, log)
  local g = img:geometry()
  local dicom = not (file:match("%.nii$") or file:match("%.nii%.gz$"))
  if not o.cal then
    if g.unit == "counts" then
      error(("%s: the image is in counts (Units CNTS, 0054,1001): give the "
        .. "camera's calibration factor --cal CPS_PER_MBQ (and --acq-s "
        .. "SECONDS unless the file has ActualFrameDuration)"):format(file), 0)
    end
    return
  end
  if g.unit == "Bq/mL" then
    error(("%s: the image is already in Bq/mL (Units BQML, 0054,1001): "
      .. "drop --cal"):format(file), 0)
  end
  if dicom and g.unit ~= "counts" then
    error(("%s: --cal needs a counts image, but Units (0054,1001) is '%s'")
      :format(file, g.unit), 0)
  end
  local t, from = o.acq_s, "--acq-s"
  if not t then
    local ok, nm = false, nil
    if dicom then ok, nm = pcall(rk.image.dicom_nm_info, file) end
    if not (ok and nm.frame_duration_s and nm.frame_duration_s > 0) then
      error(("%s: no acquisition duration (ActualFrameDuration 0018,1242%s):"
        .. " give --acq-s SECONDS"):format(file, dicom and
        (ok and " absent or 0" or ": " .. tostring(nm)) or ", a NIfTI has "
        .. "none"), 0)
    end
    t, from = nm.frame_duration_s, "ActualFrameDuration"
  end
  local f = 1e6 / (t * o.cal * g.voxel_ml)
  img:scale(f)
  -- Bq/mL per count: the counts of a VOI are its sum / f (counting term)
  o.count_factor = o.count_factor or {}
  o.count_factor[file] = f
  log(("%s: counts to Bq/mL with %g cps/MBq, %g s (%s), %g mL voxels "
    .. "(x %.6g)"):format(file, o.cal, t, from, g.voxel_ml, f))
  return f
end

-- The inputs on one grid (the first SPECT's): activities, labels, density.
function M.load(o, log)
  local read = rk.image_reader()
  local acts, times, labels, rho = {}, {}, nil, nil
  if o.phantom then
    local ph = rk.phantom.new{ n = o.phantom, spacing_mm = o.spacing }
    for k, t in ipairs(o.tia == "haenscheid" and { 72 } or { 4, 24, 72, 168 })
    do
      acts[k], times[k] = ph:activity(t), t
    end
    labels = ph:labels()
    local ct = ph:ct()
    rho = rk.voxel.density{ ct = ct }
    return acts, times, labels, rho, ct
  end
  -- hours from the DICOM tags; the decay correction to administration
  -- undone (the fits model physical decay themselves)
  local undo = {}
  for _, sp in ipairs(o.spect) do
    if sp.t == "tags" then
      local nm = rk.image.dicom_nm_info(sp.file)
      if not nm.hours_after_injection then
        error(("%s: no injection time in the file "
          .. "(RadiopharmaceuticalStartDateTime, 0018,1078): give "
          .. "FILE@HOURS"):format(sp.file), 0)
      end
      sp.t = nm.hours_after_injection
      if nm.decay_correction == "ADMIN" then
        undo[sp.file] = math.exp(-rk.nuclide(o.nuclide).lambda * sp.t)
      end
      log(("%s: %.4g h after injection (%s)%s"):format(sp.file, sp.t,
        nm.acquisition_from, nm.injection_date_assumed
          and ", injection date assumed to be the acquisition's" or ""))
    end
  end
  table.sort(o.spect, function(a, b) return a.t < b.t end)
  for k, s in ipairs(o.spect) do
    if k > 1 and s.t == o.spect[k - 1].t then
      error(("two images at %g h (%s, %s)"):format(s.t, o.spect[k - 1].file,
        s.file), 0)
    end
    local img = read(s.file)
    M.calibrate(img, s.file, o, log)
    if undo[s.file] then
      img:scale(undo[s.file])
      log(("%s: decay correction to administration undone (x %.4g)")
        :format(s.file, undo[s.file]))
    end
    if k > 1 then
      local info
      img, info = img:resample(acts[1])
      if info.n_outside > 0 then
        log(("%s: %d voxels of the grid lie outside it (set to 0)")
          :format(s.file, info.n_outside))
      end
    end
    local clipped = img:clip_negative()
    if clipped > 0 then
      log(("%s: %d negative voxels clipped to 0"):format(s.file, clipped))
    end
    acts[k], times[k] = img, s.t
  end
  labels = read(o.labels)
  local g = labels:geometry()
  if not g.label then
    labels = rk.image.new{ dims = g.dims, spacing = g.spacing,
      origin = g.origin, direction = g.direction, label = true }:add(labels)
  end
  labels = labels:resample(acts[1])
  local body = labels:stats()
  if body.max < 1 then
    error(o.labels .. ": no labelled voxel inside the SPECT field of view "
      .. "(do the label map and the SPECT overlap?)", 0)
  end
  local ct
  if o.ct then
    ct = read(o.ct):resample(acts[1], { conserve = false })
    rho = rk.voxel.density{ ct = ct }
  end
  return acts, times, labels, rho, ct
end

-- The labels present (> 0), ascending.
local function label_list(labels)
  local g = labels:geometry()
  local seen, list = {}, {}
  for k = 1, g.dims[3] do
    for j = 1, g.dims[2] do
      for i = 1, g.dims[1] do
        local l = math.floor(labels:get(i, j, k) + 0.5)
        if l > 0 and not seen[l] then seen[l] = true; list[#list + 1] = l end
      end
    end
  end
  table.sort(list)
  return list
end

-- Whether any uncertainty input was given.
function M.wants_uncertainty(o)
  return o.u_cal ~= nil or o.u_vol ~= nil or o.recovery ~= nil
    or o.u_ab ~= nil or o.cal ~= nil
end

-- Relative SD of a region's TIA from counting statistics: TIA ~ sum c_i
-- A_i with the trapezoid-and-tail weights c_i (from 0 at t = 0; the last
-- point's physical-decay tail 1 / lambda), A_i the region's activity and
-- C_i its counts at time i, var(A_i) = A_i^2 / C_i (Poisson).
function M.counting_u_rel(times, a, counts, lphys)
  local n, num, den = #times, 0, 0
  for i = 1, n do
    local lo = i > 1 and times[i - 1] or 0
    local hi = i < n and times[i + 1] or times[i]
    local c = 0.5 * (hi - lo) + (i == n and 1 / lphys or 0)
    den = den + c * a[i]
    if counts[i] > 0 then num = num + (c * a[i]) ^ 2 / counts[i] end
  end
  return den > 0 and math.sqrt(num) / den or 0
end

-- The uncertainty columns of each dvh.csv row (rk.uncert.voi): the
-- sources shared by every voxel of a region (calibration, volume,
-- recovery, counting), the mean dose's and mean BED's standard
-- uncertainty and 95 % interval, and each row's budget (r.budget,
-- r.bed_budget). ctx: acts, times, labels, voxel_mm, lphys, files.
function M.uncertainty(o, rows, ctx)
  local curve = o.recovery and rk.recovery_table(o.recovery)
  local u_vol = o.u_vol or "boundary"
  for _, r in ipairs(rows) do
    local u, bu = { calibration = o.u_cal or 0 }, {}
    if u_vol == "boundary" then
      u.volume, bu.volume = rk.boundary_u(ctx.labels, r.label, ctx.dose,
        ctx.bed)
      u.volume = u.volume / r.mean_gy
    elseif u_vol == "voxel" then
      u.volume = rk.volume_u_rel(r.volume_ml, ctx.voxel_mm)
    else
      u.volume = u_vol
    end
    if curve then
      local rc, urc = rk.uncert.recovery(curve, r.volume_ml)
      u.recovery = urc / rc
      r.rc = rc
    else
      u.recovery = 0
    end
    u.counts = 0
    if o.cal and ctx.files then
      local a, counts = {}, {}
      for k, img in ipairs(ctx.acts) do
        local st = img:stats(ctx.labels, r.label)
        local sum = st.mean * st.n
        a[k] = sum
        counts[k] = sum / o.count_factor[ctx.files[k]]
      end
      u.counts = M.counting_u_rel(ctx.times, a, counts, ctx.lphys)
    end
    r.u_cal_rel, r.u_vol_rel, r.u_rc_rel, r.u_counts_rel = u.calibration,
      u.volume, u.recovery, u.counts
    local q = rk.uncert.voi{ dose_gy = r.mean_gy, bed_gy = r.bed_mean_gy,
      u_rel = u, bed_u = bu, ab_gy = r.ab_gy, u_ab_gy = o.u_ab }
    r.mean_u_gy, r.mean_lo_gy, r.mean_hi_gy = q.dose.u, q.dose.lo, q.dose.hi
    r.budget = q.dose.budget
    if q.bed then
      r.bed_mean_u_gy, r.bed_mean_lo_gy, r.bed_mean_hi_gy = q.bed.u,
        q.bed.lo, q.bed.hi
      r.bed_budget = q.bed.budget
    end
  end
  return curve
end

-- report.md: in the spirit of the EANM dosimetry reporting guidance
-- (Lassmann et al., EJNMMI 2011;38:192): what was measured and when, how
-- it was quantified, the models and parameters, the results with their
-- uncertainties and budget.
function M.report_markdown(o, rows, ctx)
  local L = {}
  local function add(x) L[#L + 1] = x end
  add("# Voxel dosimetry report")
  add("")
  add("## What was measured")
  add("")
  if o.phantom then
    add(("Synthetic phantom (rk.phantom) of %d^3 voxels of %g mm, imaged "
      .. "at %s h."):format(o.phantom, o.spacing,
      table.concat(ctx.times, ", ")))
  else
    add("| time (h) | image |")
    add("|---|---|")
    for k, sp in ipairs(o.spect) do
      add(("| %g | %s |"):format(ctx.times[k], sp.file))
    end
    add("")
    add(("Regions: %s. CT: %s."):format(o.labels, o.ct or
      "none (soft tissue, 1.04 g/cm3)"))
  end
  add("")
  add("## How it was quantified")
  add("")
  add(("Nuclide %s. %s. Activity: %s. Voxel TIA: %s. Absorbed dose: %s."
    .. " BED: %s.")
    :format(o.nuclide, "Images resampled to the first SPECT's grid",
      o.cal and ("counts / (t Q), Q = %g cps/MBq"):format(o.cal)
        or "the images' Bq/mL",
      o.tia, o.dose == "led" and "local energy deposition"
        or "voxel S-value kernel convolution with density correction",
      #o.classes > 0 and "per voxel with its own curve's G" or "not asked"))
  if #o.classes > 0 then
    add("")
    add("| label | alpha/beta (Gy) | repair half-time (h) |")
    add("|---|---|---|")
    for _, c in ipairs(o.classes) do
      add(("| %d | %g | %g |"):format(c.label, c.ab, c.trep))
    end
  end
  add("")
  add("## Results")
  add("")
  local unc = rows[1] and rows[1].mean_u_gy ~= nil
  local pm = function(v, u, lo, hi)
    if v == nil then return "-" end
    if u == nil then return ("%.4g"):format(v) end
    return ("%.4g +- %.2g (95 %%: %.4g to %.4g)"):format(v, u, lo, hi)
  end
  add("| label | volume (mL) | mean dose (Gy) | D50 (Gy) | D90 (Gy) | "
    .. "mean BED (Gy) |")
  add("|---|---|---|---|---|---|")
  for _, r in ipairs(rows) do
    add(("| %d | %.4g | %s | %.4g | %.4g | %s |"):format(r.label,
      r.volume_ml, pm(r.mean_gy, r.mean_u_gy, r.mean_lo_gy, r.mean_hi_gy),
      r.d50_gy, r.d90_gy, pm(r.bed_mean_gy, r.bed_mean_u_gy,
      r.bed_mean_lo_gy, r.bed_mean_hi_gy)))
  end
  add("")
  if unc then
    add("## Uncertainty budget")
    add("")
    add("First-order propagation (EANM guidance on uncertainty analysis, "
      .. "Gear et al. 2018): relative standard uncertainties shared by "
      .. "every voxel of a region, and the share of the mean dose's "
      .. "variance from each.")
    add("")
    add(("Volume: %s."):format((o.u_vol or "boundary") == "boundary"
      and "the region's mean over the region grown and shrunk by one "
        .. "voxel (half the difference)"
      or o.u_vol == "voxel" and "the mass, from a one-voxel boundary "
        .. "change of a sphere of the region's volume"
      or ("a relative SD of %g of the mass"):format(o.u_vol)))
    add("")
    add("| label | calibration | volume | recovery | counts | share "
      .. "calibration / volume / recovery / counts |")
    add("|---|---|---|---|---|---|")
    for _, r in ipairs(rows) do
      local b = r.budget or {}
      add(("| %d | %.3g | %.3g | %.3g | %.3g | %.0f / %.0f / %.0f / %.0f "
        .. "%% |"):format(r.label, r.u_cal_rel, r.u_vol_rel, r.u_rc_rel,
        r.u_counts_rel, 100 * (b.calibration or 0), 100 * (b.volume or 0),
        100 * (b.recovery or 0), 100 * (b.counts or 0)))
    end
  else
    add("No uncertainty input was given (--u-cal, --u-vol, --recovery, "
      .. "--cal): results without uncertainty.")
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
    if not o.quiet then io.stderr:write("voxel_dose: " .. msg .. "\n") end
  end
  local acts, times, labels, rho, ct = M.load(o, log)
  local fit = rk.voxel.tia{ images = acts, times = times, nuclide = o.nuclide,
    method = o.tia, labels = labels, threads = o.threads, cv = 0.05,
    min_bqml = o.min_bqml }
  local info = fit:info()
  if o.tia == "hybrid" then
    log(("%d voxels fitted on their own (>= %g Bq/mL at every time point), "
      .. "the rest by the VOI shape"):format(info.own, o.min_bqml))
  end
  if info.fallback > 0 then
    log(("%d voxels without a fitted curve took the trapezoid (%s)")
      :format(info.fallback, info.note))
  end
  local tia = fit:map()
  local dose
  if o.dose == "led" then
    dose = rk.voxel.dose{ tia = tia, nuclide = o.nuclide, method = "led",
      density = rho, labels = labels }
  else
    local k
    if o.dpk then
      k = rk.voxel.kernel{ nuclide = o.nuclide, image = tia, dpk = o.dpk,
        density = 1.04 }
    else
      k = rk.voxel.kernel{ nuclide = o.nuclide, image = tia }
    end
    dose = rk.voxel.dose{ tia = tia, nuclide = o.nuclide, kernel = k,
      density = rho, labels = labels }
  end
  local bed, eqd2
  if #o.classes > 0 then
    bed, eqd2 = rk.voxel.bed{ dose = dose, fit = fit, labels = labels,
      classes = o.classes, nuclide = o.nuclide }
  end
  -- DVHs per region
  local rows, curves, crow = {}, {}, {}
  local dmax = dose:stats(labels).max
  local nbins = 200
  local bin = dmax > 0 and dmax / nbins * 1.0001 or 1
  local columns = { "label", "n", "volume_ml", "mean_gy", "median_gy",
    "min_gy", "max_gy", "sd_gy", "d2_gy", "d50_gy", "d70_gy", "d90_gy",
    "d98_gy" }
  for _, x in ipairs(o.vx) do columns[#columns + 1] = ("v%g_gy"):format(x) end
  if bed then columns[#columns + 1] = "bed_mean_gy" end
  local unc = M.wants_uncertainty(o)
  if unc then
    for _, c in ipairs { "u_cal_rel", "u_vol_rel", "u_rc_rel",
      "u_counts_rel", "mean_u_gy", "mean_lo_gy", "mean_hi_gy" } do
      columns[#columns + 1] = c
    end
    if bed then
      for _, c in ipairs { "bed_mean_u_gy", "bed_mean_lo_gy",
        "bed_mean_hi_gy" } do columns[#columns + 1] = c end
    end
  end
  -- alpha/beta of a label's class (label 0: every other label)
  local function class_ab(l)
    local any
    for _, c in ipairs(o.classes) do
      if c.label == l then return c.ab end
      if c.label == 0 then any = c.ab end
    end
    return any
  end
  -- every region's DVH in one pass over the map
  local list = label_list(labels)
  local dvhs = rk.voxel.dvh{ dose = dose, labels = labels, label = list,
    bin = bin, nbins = nbins, vx = #o.vx > 0 and o.vx or nil }
  for k, l in ipairs(list) do
    local d = dvhs[k]
    local r = { label = l, n = d.n, volume_ml = d.volume_ml, mean_gy = d.mean,
      median_gy = d.median, min_gy = d.min, max_gy = d.max, sd_gy = d.sd,
      d2_gy = d.d2, d50_gy = d.d50, d70_gy = d.d70, d90_gy = d.d90,
      d98_gy = d.d98 }
    for k, x in ipairs(o.vx) do r[("v%g_gy"):format(x)] = d.vx[k] end
    if bed then
      r.bed_mean_gy = bed:stats(labels, l).mean
      r.ab_gy = class_ab(l)
    end
    rows[#rows + 1] = r
    curves[#curves + 1] = { name = "label " .. l, cumulative = d.cumulative }
    for b = 1, nbins do
      crow[#crow + 1] = { label = l, dose_gy = (b - 1) * bin,
        cumulative = d.cumulative[b], differential = d.differential[b] }
    end
  end
  if unc then
    local g = acts[1]:geometry()
    local files
    if not o.phantom then
      files = {}
      for k, sp in ipairs(o.spect) do files[k] = sp.file end
    end
    M.uncertainty(o, rows, { acts = acts, times = times, labels = labels,
      dose = dose, bed = bed,
      voxel_mm = (g.spacing[1] * g.spacing[2] * g.spacing[3]) ^ (1 / 3),
      lphys = rk.nuclide(o.nuclide).lambda, files = files })
  end
  rk.mkdir(o.out)
  tia:write(o.out .. "/tia.nii.gz")
  dose:write(o.out .. "/dose.nii.gz")
  if bed then
    bed:write(o.out .. "/bed.nii.gz")
    eqd2:write(o.out .. "/eqd2.nii.gz")
  end
  if o.rtdose then dose:write_rtdose(o.out .. "/dose.dcm", o.frame_uid) end
  rk.csv.write(o.out .. "/dvh.csv", rows, columns)
  rk.csv.write(o.out .. "/dvh_curves.csv", crow,
    { "label", "dose_gy", "cumulative", "differential" })
  if not o.no_plot then
    local ok, why = rk.plot_dvh(o.out .. "/dvh.png", curves, bin)
    if not ok then log("no plot: " .. tostring(why)) end
    ok, why = rk.plot_slices(o.out .. "/dose_slices.png", dose, ct)
    if not ok then log("no slice plot: " .. tostring(why)) end
  end
  rk.write_atomic(o.out .. "/report.md", M.report_markdown(o, rows,
    { times = times }))
  if not o.quiet then
    print(("%-6s %8s %10s %10s %10s %10s"):format("label", "voxels",
      "mean Gy", "D50 Gy", "D90 Gy", "max Gy"))
    for _, r in ipairs(rows) do
      print(("%-6d %8d %10.4g %10.4g %10.4g %10.4g"):format(r.label, r.n,
        r.mean_gy, r.d50_gy, r.d90_gy, r.max_gy))
    end
    print("written: " .. o.out)
  end
  return rows
end

if arg and arg[0] and arg[0]:match("voxel_dose%.lua$") then
  M.main(arg)
end
return M
