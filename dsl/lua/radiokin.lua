-- radiokin.lua - the `radiokin` Lua module: friendly names over the C
-- bindings (radiokin.model, radiokin.nuclide, radiokin.core), plus rk.seq
-- and the CSV reader/writer that scripts and models share.
--
-- Any C binding listed in dsl/modules.c is reachable as rk.<name> (loaded
-- on first use); reading any other unknown rk.<name> raises, so a typo
-- does not become a silent nil.

local model = require "radiokin.model"
local nuclide = require "radiokin.nuclide"
local core = require "radiokin.core"
local mpi = require "radiokin.mpi"

local rk = {}

rk.version = core.version

-- Models: rk.model{name=, nuclide=, states=, params=, positive=, ode=,
-- outputs=}. The ode and outputs functions are called once with symbolic
-- s, p, t; use rk.exp/log/sqrt/abs/min/max inside them (math.* needs
-- numbers). rk.positive(v) marks a parameter that must stay > 0.
rk.model = model.new
rk.positive = model.positive
rk.exp, rk.log, rk.sqrt = model.exp, model.log, model.sqrt
rk.abs, rk.min, rk.max = model.abs, model.min, model.max
-- the MathML functions of SBML models (rk.sbml.to_lua writes them)
rk.sin, rk.cos, rk.tan = model.sin, model.cos, model.tan
rk.asin, rk.acos, rk.atan = model.asin, model.acos, model.atan
rk.floor, rk.ceil, rk.factorial = model.floor, model.ceil, model.factorial
-- Conditions (Lua's < and `if` cannot be traced): rk.lt/le/gt/ge make
-- one, rk.all/any/negate combine them, rk.ifelse(cond, a, b) selects.
rk.lt, rk.le, rk.gt, rk.ge = model.lt, model.le, model.gt, model.ge
rk.all, rk.any, rk.negate = model.all, model.any, model.negate
rk.ifelse = model.ifelse
-- rk.eq / rk.ne (NONMEM's .EQ. / .NE., e.g. on a covariate SEX):
-- a <= b and a >= b; a < b or a > b.
function rk.eq(a, b) return rk.all(rk.le(a, b), rk.ge(a, b)) end
function rk.ne(a, b) return rk.any(rk.lt(a, b), rk.gt(a, b)) end

-- rk.piecewise(c1, v1, c2, v2, ..., default): v of the first condition
-- that holds, else default (nested rk.ifelse).
function rk.piecewise(...)
  local n = select("#", ...)
  local a = { ... }
  if n < 3 or n % 2 == 0 then
    error(("rk.piecewise: expected (cond1, value1, ..., default): pairs of "
           .. "a condition and a value, then a default value (got %d "
           .. "arguments)"):format(n), 2)
  end
  local r = a[n]
  for i = n - 2, 1, -2 do r = rk.ifelse(a[i], a[i + 1], r) end
  return r
end

-- rk.nuclide("Lu-177") -> {name, half_life_h, lambda, e_np_mev, e_p_mev,
-- j_per_mbqh, source}; rk.nuclides() -> list of names.
rk.nuclide = nuclide.find
rk.nuclides = nuclide.list

-- rk.write_atomic(path, text): the file appears whole or not at all; only
-- a regular file is replaced (a link, FIFO or device is refused); "-" is
-- standard output.
rk.write_atomic = core.write_atomic
-- rk.mkdir(path): mkdir -p by mkdir(2) calls (no shell).
rk.mkdir = core.mkdir
-- rk.run(argv [, input]) -> status, stdout, stderr (nil, message when the
-- program cannot start): a program run without a shell.
rk.run = core.run
-- rk.gnuplot(commands [, blocks]) -> true | nil, message: gnuplot without
-- a shell, data blocks {name = {{x, y}, ...}} of numbers as $name.
-- rk.gnuplot_quote(s [, path]): s as a literal gnuplot does not interpret
-- (path true: a file name, raises on a control character).
rk.gnuplot = core.gnuplot
-- Under mpirun only rank 0 draws (its files are written once).
if mpi.rank ~= 0 then rk.gnuplot = function() return true end end
rk.gnuplot_quote = core.gnuplot_quote

-- rk.plot_files(paths) -> f: where a program (gnuplot) writes files that
-- must land at `paths` as radiokin's writers do. f.tmp[i] is paths[i]'s
-- file name in a new private folder f.dir (mode 0700, beside paths[1]):
-- the program opens only those, so no link planted at an output name is
-- followed (the paths must then have different file names). f:commit() moves them all to their paths, refusing (and
-- raising) before any move when a path holds a link, folder, FIFO, device
-- or socket; f:abort() removes them. Either removes the private folder.
function rk.plot_files(paths)
  local dir = paths[1]:match("^(.*)/[^/]*$") or "."
  if dir == "" then dir = "/" end
  local priv = core.private_dir(dir)
  local f = { tmp = {}, paths = paths, dir = priv }
  for i, p in ipairs(paths) do
    f.tmp[i] = priv .. "/" .. (p:match("[^/]*$"))
  end
  local function clean()
    for _, t in ipairs(f.tmp) do os.remove(t) end
    os.remove(priv)
  end
  function f:abort() clean() end
  function f:commit()
    if mpi.rank ~= 0 then clean() return paths end   -- rank 0 writes
    for i, p in ipairs(paths) do
      local kind = core.file_kind(p)
      if kind and kind ~= "file" then
        clean()
        error(("cannot write '%s': it is %s, not a regular file; refusing "
          .. "to replace it"):format(p, kind), 2)
      end
      if not core.file_kind(f.tmp[i]) then
        clean()
        error(("'%s' was not written"):format(p), 2)
      end
    end
    for i, p in ipairs(paths) do core.replace(f.tmp[i], p) end
    clean()
    return paths
  end
  return f
end

-- ---------------------------------------------- dose slices over a CT
-- The slice plots of the voxel scripts (voxel_dose.lua, tare_voxel.lua).
-- rk.CT_LEVEL, rk.CT_WIDTH: the CT window (HU), soft tissue L40 W400;
-- rk.DOSE_FLOOR: dose under this share of the maximum is left undrawn
-- over the CT.
rk.CT_LEVEL, rk.CT_WIDTH, rk.DOSE_FLOOR = 40, 400, 0.05

-- rk.ct_grey(hu) -> grey level 0..255 of a HU value in the CT window.
function rk.ct_grey(hu)
  local x = (hu - (rk.CT_LEVEL - rk.CT_WIDTH / 2)) / rk.CT_WIDTH
  return 255 * math.max(0, math.min(1, x))
end

-- rk.slice_data(dose [, ct]) -> {blocks, panels, max, at}, or nil, why:
-- the three orthogonal slices through the dose's hottest voxel (at =
-- {i, j, k}): blocks ax, co, sa (dose matrices) and, with ct (HU, on the
-- dose's grid, else it raises), ct_ax, ct_co, ct_sa (rows x mm, y mm, r,
-- g, b of the CT's grey); with a CT, dose under DOSE_FLOOR of the maximum
-- is NaN (gnuplot leaves it undrawn: the CT shows through).
function rk.slice_data(dose, ct)
  local g = dose:geometry()
  local nx, ny, nz = g.dims[1], g.dims[2], g.dims[3]
  if ct then
    local gc = ct:geometry()
    if gc.dims[1] ~= nx or gc.dims[2] ~= ny or gc.dims[3] ~= nz then
      error(("slice plot: the CT (%dx%dx%d) is not on the dose grid "
        .. "(%dx%dx%d): resample it first"):format(gc.dims[1], gc.dims[2],
        gc.dims[3], nx, ny, nz), 0)
    end
  end
  local best, bi, bj, bk = -1, 1, 1, 1
  for k = 1, nz do for j = 1, ny do for i = 1, nx do
    local v = dose:get(i, j, k)
    if v > best then best, bi, bj, bk = v, i, j, k end
  end end end
  if best <= 0 then return nil, "the dose map is zero" end
  local floor = ct and rk.DOSE_FLOOR * best or -math.huge
  local function matrix(w, h, f)
    local rows = {}
    for b = 1, h do
      local row = {}
      for a = 1, w do
        local v = f(a, b)
        row[a] = v >= floor and v or 0 / 0
      end
      rows[b] = row
    end
    return rows
  end
  local function grey(w, h, sx, sy, f)
    local rows = {}
    for b = 1, h do
      for a = 1, w do
        local c = rk.ct_grey(f(a, b))
        rows[#rows + 1] = { (a - 1) * sx, (b - 1) * sy, c, c, c }
      end
    end
    return rows
  end
  local sp = g.spacing
  local blocks = {
    ax = matrix(nx, ny, function(a, b) return dose:get(a, b, bk) end),
    co = matrix(nx, nz, function(a, b) return dose:get(a, bj, b) end),
    sa = matrix(ny, nz, function(a, b) return dose:get(bi, a, b) end),
  }
  if ct then
    blocks.ct_ax = grey(nx, ny, sp[1], sp[2], function(a, b)
      return ct:get(a, b, bk) end)
    blocks.ct_co = grey(nx, nz, sp[1], sp[3], function(a, b)
      return ct:get(a, bj, b) end)
    blocks.ct_sa = grey(ny, nz, sp[2], sp[3], function(a, b)
      return ct:get(bi, a, b) end)
  end
  local panels = {
    { "ax", ("axial k=%d"):format(bk), sp[1], sp[2] },
    { "co", ("coronal j=%d"):format(bj), sp[1], sp[3] },
    { "sa", ("sagittal i=%d"):format(bi), sp[2], sp[3] },
  }
  return { blocks = blocks, panels = panels, max = best,
    at = { bi, bj, bk } }
end

-- rk.plot_slices(path, dose [, ct]) -> path, or nil, why: a PNG of the
-- three orthogonal slices of the dose through its hottest voxel, with
-- isodose lines at 25, 50, 75 and 90 % of the maximum (gnuplot contours
-- of the same matrix, tabulated into a data block first); with ct (HU,
-- on the dose's grid) the CT in grey underneath, the dose drawn where it
-- is at least DOSE_FLOOR of the maximum. Written through rk.plot_files.
function rk.plot_slices(path, dose, ct)
  local sd, why = rk.slice_data(dose, ct)
  if not sd then return nil, why end
  local best, blocks, panels = sd.max, sd.blocks, sd.panels
  local f = rk.plot_files { path }
  local levels = ("%g,%g,%g,%g"):format(0.25 * best, 0.5 * best,
    0.75 * best, 0.9 * best)
  local cmds = { ([[
set terminal pngcairo size 1500,520
set output %s
set termoption noenhanced
set contour base
set cntrparam levels discrete %s
unset surface
set view map
]]):format(rk.gnuplot_quote(f.tmp[1], true), levels) }
  for _, p in ipairs(panels) do
    cmds[#cmds + 1] = ("set table $iso_%s\nsplot $%s matrix using "
      .. "(($1)*%g):(($2)*%g):3 notitle\nunset table\n")
      :format(p[1], p[1], p[3], p[4])
  end
  cmds[#cmds + 1] = ([[
unset contour
set multiplot layout 1,3 title %s
set size ratio -1
set palette rgbformulae 22,13,-31
set cblabel 'Gy'
set cbrange [0:%.17g]
set xlabel 'mm from the grid corner'
set ylabel 'mm'
set autoscale xfix
set autoscale yfix
]]):format(rk.gnuplot_quote(("dose, maximum %.4g Gy; isodose 25/50/75/90 %%%s")
    :format(best, ct and (("; CT W%g L%g, dose under %g %% not drawn")
      :format(rk.CT_WIDTH, rk.CT_LEVEL, 100 * rk.DOSE_FLOOR)) or "")), best)
  for _, p in ipairs(panels) do
    local under = ct and ("$ct_%s using 1:2:3:4:5 with rgbimage notitle, ")
      :format(p[1]) or ""
    cmds[#cmds + 1] = ("set title %s\nplot %s$%s matrix using (($1)*%g):"
      .. "(($2)*%g):3 with image notitle, $iso_%s with lines lc 'black' "
      .. "notitle\n"):format(rk.gnuplot_quote(p[2]), under, p[1], p[3], p[4],
      p[1])
  end
  cmds[#cmds + 1] = "unset multiplot\nset output\n"
  local ok, err = rk.gnuplot(table.concat(cmds), blocks)
  if not ok then
    f:abort()
    return nil, err or "gnuplot failed"
  end
  local done, cerr = pcall(f.commit, f)
  if not done then return nil, tostring(cerr) end
  return path
end

-- rk.plot_dvh(path, curves, bin [, title]) -> path, or nil, why: the
-- cumulative DVHs curves[i] = {name, cumulative [, dashed]} (cumulative[b]
-- the volume fraction with at least (b - 1) bin Gy) as a PNG, through
-- rk.plot_files.
function rk.plot_dvh(path, curves, bin, title)
  local blocks, plots = {}, {}
  for k, c in ipairs(curves) do
    local rows = {}
    for b, v in ipairs(c.cumulative) do rows[b] = { (b - 1) * bin, 100 * v } end
    rows[#rows + 1] = { #c.cumulative * bin, 0 } -- above the maximum
    blocks["r" .. k] = rows
    plots[#plots + 1] = ("$r%d using 1:2 with lines lw 2 dt %d title %s")
      :format(k, c.dashed and 2 or 1, rk.gnuplot_quote(tostring(c.name)))
  end
  local f = rk.plot_files { path }
  local cmds = ([[
set terminal pngcairo size 1000,650
set output %s
set termoption noenhanced
set title %s
set xlabel 'absorbed dose (Gy)'
set ylabel 'volume (%%)'
set yrange [0:105]
set key outside right top
set grid
plot %s
set output
]]):format(rk.gnuplot_quote(f.tmp[1], true),
    rk.gnuplot_quote(title or "Cumulative dose-volume histograms"),
    table.concat(plots, ", "))
  local ok, why = rk.gnuplot(cmds, blocks)
  if not ok then
    f:abort()
    return nil, why or "gnuplot failed"
  end
  local done, err = pcall(f.commit, f)
  if not done then return nil, tostring(err) end
  return path
end

-- rk.recovery_table(path) -> curve: the user's recovery table (CSV,
-- columns v_ml, rc [, sd]: their sphere-phantom measurement) fitted by
-- rk.uncert.recovery_fit; errors name the file and row.
function rk.recovery_table(path)
  local ok, t = pcall(rk.csv.read, path)
  if not ok then error(path .. ": " .. tostring(t), 0) end
  local v, rc, sd = {}, {}, {}
  for i, r in ipairs(t) do
    if type(r.v_ml) ~= "number" or type(r.rc) ~= "number" then
      error(("%s: row %d: columns v_ml and rc must be numbers")
        :format(path, i), 0)
    end
    v[i], rc[i], sd[i] = r.v_ml, r.rc, r.sd
  end
  local ok2, c = pcall(rk.uncert.recovery_fit, { v_ml = v, rc = rc,
    sd = #sd == #v and #v > 0 and sd or nil })
  if not ok2 then error(path .. ": " .. tostring(c), 0) end
  return c
end

-- rk.volume_u_rel(v_ml, voxel_mm) -> the relative standard uncertainty of
-- a region's volume from a one-voxel change of its boundary
-- (rk.uncert.volume_voxel); 1 (its volume unknown to 100 %) when the
-- region is smaller than a sphere one voxel edge in radius.
function rk.volume_u_rel(v_ml, voxel_mm)
  local ok, uv = pcall(rk.uncert.volume_voxel, v_ml, voxel_mm)
  return ok and uv / v_ml or 1
end

-- rk.boundary_u(labels, label, dose [, bed]) -> u_dose [, u_bed]: the
-- segmentation's standard uncertainty of a region's mean dose (and mean
-- BED) in Gy: half the difference of the means over the region grown and
-- shrunk by one voxel (labels:grow); a region that vanishes when shrunk
-- takes the difference of the grown region and the region itself.
function rk.boundary_u(labels, label, dose, bed)
  local gr = labels:grow(label, 1)
  local sh, ns = labels:grow(label, -1)
  local base = labels:grow(label, 0)
  local function half(img)
    if not img then return nil end
    local hi = img:stats(gr, 1).mean
    if ns > 0 then return math.abs(hi - img:stats(sh, 1).mean) / 2 end
    return math.abs(hi - img:stats(base, 1).mean)
  end
  return half(dose), half(bed)
end

-- rk.script_help() -> the header comment of the calling script (its
-- leading "--" lines, without the dashes): what a script prints for
-- --help.
function rk.script_help()
  local src = debug.getinfo(2, "S").source
  local text = {}
  if src:sub(1, 1) == "@" then
    local f = io.open(src:sub(2), "r")
    if f then
      for l in f:lines() do
        if l:sub(1, 2) ~= "--" then break end
        text[#text + 1] = (l:gsub("^%-%- ?", ""))
      end
      f:close()
    end
  end
  return table.concat(text, "\n")
end

-- rk.option_integer(name, v, lo, hi, fail) -> v as an integer in lo..hi;
-- otherwise calls fail("NAME needs an integer in LO..HI (got 'V')"),
-- which is a script's usage error and must raise. One check and one
-- message for every script's count options (--n, --seed, --threads, ...).
function rk.option_integer(name, v, lo, hi, fail)
  local x = math.tointeger(tonumber(v))
  if not x or x < lo or x > hi then
    fail(("%s needs an integer in %d..%d (got '%s')"):format(name, lo, hi,
      tostring(v)))
  end
  return x
end

-- rk.options(args, spec, usage, o) -> o, positional: the one option loop
-- of every script. spec["--name"] = {key, kind, ...} with kind
--   "flag"             o[key] = spec.value (true when not given); with
--                      optional = "k", a next argument not starting
--                      with "--" is taken as o.k (e.g. --rtdose [UID])
--   "value"            o[key] = the next argument
--   "integer", lo, hi  rk.option_integer's check and message
--   "number", lo, hi   a finite number in lo..hi, else
--                      "NAME needs a number in LO..HI (got 'V')"
--   "finite"           a finite number, else
--                      "NAME needs a finite number (got V)"
--   "level", e.g.      a level in (0, 1), else
--                      "NAME needs a level in (0, 1), e.g. E.G"
--   "choice", {a,b,c}  one of the words, else
--                      "NAME must be a, b or c (got 'V')"
--   function(v, name, usage) returns the value; raises through usage
--                      if bad (e.g. rk.option_stem)
-- and optional `into = "t"` (store in o.t[key], made on first use) and
-- `after = function(o, x)` (run after storing). "--help" / "-h" set
-- o.help and stop. An argument starting with "-" (not a number) and not
-- in spec: usage("unknown option 'ARG'") ("-" alone is an argument: standard
-- input or output); an option at the end without
-- its value: usage("NAME needs a value"). Other arguments are returned
-- in order. `o` holds the defaults (a new table when nil).
function rk.options(args, spec, usage, o)
  o = o or {}
  local pos, i = {}, 1
  local function fail(msg) usage(msg); error(msg, 0) end
  while i <= #args do
    local a = args[i]
    local s = spec[a]
    if a == "--help" or a == "-h" then
      o.help = true
      return o, pos
    elseif s then
      local key, kind, x = s[1], s[2], nil
      if kind == "flag" then
        x = s.value == nil or s.value
        local v = args[i + 1]
        if s.optional and v and v:sub(1, 2) ~= "--" then
          o[s.optional] = v
          i = i + 1
        end
      else
        i = i + 1
        local v = args[i]
        if v == nil then fail(a .. " needs a value") end
        if kind == "value" then x = v
        elseif kind == "integer" then
          x = rk.option_integer(a, v, s[3], s[4], fail)
        elseif kind == "number" then
          x = tonumber(v)
          if not x or x ~= x or x < s[3] or x > s[4] or x == math.huge
              or x == -math.huge then
            fail(("%s needs a number in %g..%g (got '%s')"):format(a, s[3],
              s[4], v))
          end
        elseif kind == "finite" then
          x = tonumber(v)
          if not x or x ~= x or x == math.huge or x == -math.huge then
            fail(("%s needs a finite number (got %s)"):format(a, v))
          end
        elseif kind == "level" then
          x = tonumber(v)
          if not x or not (x > 0 and x < 1) then
            fail(("%s needs a level in (0, 1), e.g. %s"):format(a, s[3]))
          end
        elseif kind == "choice" then
          for _, w in ipairs(s[3]) do if w == v then x = v end end
          if not x then
            local words = s[3]
            fail(("%s must be %s or %s (got '%s')"):format(a,
              table.concat(words, ", ", 1, #words - 1), words[#words], v))
          end
        elseif type(kind) == "function" then x = kind(v, a, fail)
        else error("rk.options: " .. a .. ": unknown kind", 2) end
      end
      local t = o
      if s.into then
        o[s.into] = o[s.into] or {}
        t = o[s.into]
      end
      t[key] = x
      if s.after then s.after(o, x) end
    elseif a:sub(1, 1) == "-" and a ~= "-" and not tonumber(a) then
      fail("unknown option '" .. a .. "'")
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return o, pos
end

-- rk.option_stem(v, name, usage) -> v when it can name output files
-- (letters, digits, '_', '-', '.', no leading dot: no folder, no hidden
-- file), else usage("NAME needs letters, ... (got 'V')"); an rk.options
-- kind.
function rk.option_stem(v, name, usage)
  if not v:match("^[%w_.-]+$") or v:match("^%.") then
    usage(("%s needs letters, digits, '_', '-', '.' and no leading dot "
      .. "(got '%s')"):format(name, v))
  end
  return v
end

-- rk.option_finite_if(ok, msg) -> an rk.options kind: a finite number x
-- for which ok(x) holds; not a number: "NAME needs a finite number (got
-- V)", ok(x) false: usage(msg) (the option's own range message).
function rk.option_finite_if(ok, msg)
  return function(v, name, usage)
    local x = tonumber(v)
    if not x or x ~= x or x == math.huge or x == -math.huge then
      usage(name .. " needs a finite number (got " .. v .. ")")
    end
    if not ok(x) then usage(msg) end
    return x
  end
end

-- rk.option_u_vol(v, name, usage) -> the --u-vol of the voxel scripts: a
-- relative SD >= 0 (a number), "boundary" or "voxel"; an rk.options kind.
function rk.option_u_vol(v, name, usage)
  local x = (v == "voxel" or v == "boundary") and v or tonumber(v)
  if not x or (type(x) == "number" and not (x >= 0 and x < math.huge)) then
    usage(name .. " needs a relative SD >= 0, 'boundary' or 'voxel' (got "
      .. v .. ")")
  end
  return x
end

-- rk.option_phantom(v, name, usage) -> the --phantom N of the voxel
-- scripts (an integer cube side 8..256); an rk.options kind.
function rk.option_phantom(v, name, usage)
  local x = math.tointeger(tonumber(v))
  if not x or x < 8 or x > 256 then
    usage(name .. " needs an integer in [8, 256]")
  end
  return x
end

-- rk.image_reader() -> read(path): reads a NIfTI (.nii, .nii.gz) or DICOM
-- image; every DICOM image one reader returns must share one frame of
-- reference (radiokin does not register images), else it raises naming
-- both files.
function rk.image_reader()
  local frame, frame_file
  return function(path)
    local img, uid
    if path:match("%.nii$") or path:match("%.nii%.gz$") then
      img = rk.image.read(path)
    else
      img, uid = rk.image.read_dicom(path)
      if uid == "" then uid = nil end
    end
    if uid then
      if frame and uid ~= frame then
        error(("%s: frame of reference %s, but %s has %s: the images are "
          .. "not registered (register them first; radiokin does not)")
          :format(path, uid, frame_file, frame), 0)
      end
      frame, frame_file = frame or uid, frame_file or path
    end
    return img
  end
end

-- rk.memory_limit([bytes]) -> bytes, source: counts given to rk.cohort,
-- pop:sample, ... are refused, with the figure, when their estimated
-- memory exceeds this (default: the smallest of RAM, ulimit -v and the
-- cgroup limit). Setting it can only lower that; 0 restores it.
rk.memory_limit = core.memory_limit

local function is_finite(x)
  return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge
end

-- rk.seq(a, b [, step = 1]): a, a+step, ..., b inclusive. b is included
-- when it lies within 1e-9 steps of the grid (so rk.seq(0, 1, 0.1) ends at
-- exactly 1 despite rounding), and the last value is then b itself.
function rk.seq(a, b, step)
  step = step == nil and 1 or step
  for i, v in ipairs { a, b, step } do
    if not is_finite(v) then
      error(("rk.seq: argument %d must be a finite number (got %s)")
        :format(i, tostring(v)), 2)
    end
  end
  if step == 0 then error("rk.seq: step must not be 0", 2) end
  local span = (b - a) / step
  if span < -1e-9 then
    error(("rk.seq: step %s goes away from %s to %s"):format(step, a, b), 2)
  end
  local n = math.floor(span + 1e-9)
  if n > 1e7 then
    error(("rk.seq: %d points is too many (step %s)"):format(n + 1, step), 2)
  end
  local out = {}
  for i = 0, n do out[i + 1] = a + i * step end
  if math.abs(out[n + 1] - b) <= 1e-9 * math.abs(step) then out[n + 1] = b end
  return out
end

-- ------------------------------------------------------------------ CSV

local csv = {}
rk.csv = csv

-- A decimal number, as data files write them (no hex, no "inf"/"nan").
local function parse_number(s)
  if s:find("^[+-]?%d+%.?%d*$") or s:find("^[+-]?%.%d+$")
    or s:find("^[+-]?%d+%.?%d*[eE][+-]?%d+$")
    or s:find("^[+-]?%.%d+[eE][+-]?%d+$") then
    return tonumber(s)
  end
  return nil
end
csv.parse_number = parse_number

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function set_of(list, what)
  local set = {}
  if list == nil then return set end
  if type(list) ~= "table" then
    error(("rk.csv.read: option '%s' must be a list of strings"):format(what),
      3)
  end
  for _, v in ipairs(list) do set[v] = true end
  return set
end

local function is_blank(fields)
  return #fields == 1 and trim(fields[1]) == ""
end

-- rk.csv.read(path [, opts]) -> rows, columns, lines
--   rows: array of tables keyed by the header names; columns: the header;
--   lines[i]: the file line row i starts on (for messages).
--   opts.sep      field separator (default ",")
--   opts.numeric  true (every column) or a list of columns that must hold
--                 numbers; other columns are numeric when their first
--                 non-missing value is a number, and must then stay so
--   opts.strings  columns never converted to numbers (ids such as "007")
--   opts.missing  list of texts meaning "no value" (e.g. {".", "", "NA"}):
--                 such a field is absent (nil) in its row
--   opts.comment  lines starting with this text are skipped (e.g. "#")
-- Blank lines are skipped. Errors name path:line:column.
function csv.read(path, opts)
  opts = opts or {}
  if type(path) ~= "string" then
    error("rk.csv.read: expected a file name (got " .. type(path) .. ")", 2)
  end
  for k in pairs(opts) do
    if k ~= "sep" and k ~= "numeric" and k ~= "strings" and k ~= "missing"
      and k ~= "comment" then
      error(("rk.csv.read: unknown option '%s' (known: sep, numeric, "
        .. "strings, missing, comment)"):format(tostring(k)), 2)
    end
  end
  local sep = opts.sep or ","
  if type(sep) ~= "string" or #sep ~= 1 or sep == '"' or sep == "\n" then
    error("rk.csv.read: option 'sep' must be one character", 2)
  end
  local f, why = io.open(path, "rb")
  if not f then error("rk.csv.read: cannot open " .. why, 2) end
  local text = f:read("a")
  f:close()

  local missing = set_of(opts.missing, "missing")
  local strings = set_of(opts.strings, "strings")
  local all_numeric = opts.numeric == true
  local numeric = all_numeric and {} or set_of(opts.numeric, "numeric")
  local comment = opts.comment

  local header, rows, kind, lines = nil, {}, {}, {}
  -- One tokenizer for the whole project (engine/core/csv.c): it drops the
  -- BOM, blank and comment lines, and raises path:line:column.
  for _, rec in ipairs(core.csv_records(text, path, sep, comment)) do
    local fields, line, cols = rec, rec.line, rec.cols
    if is_blank(fields) then
      -- nothing
    elseif not header then
      header = {}
      local seen = {}
      for i, name in ipairs(fields) do
        name = trim(name)
        if name == "" then
          error(("%s:%d:%d: column %d has an empty name"):format(path, line,
            cols[i], i), 0)
        end
        if seen[name] then
          error(("%s:%d:%d: column '%s' appears twice"):format(path, line,
            cols[i], name), 0)
        end
        seen[name] = true
        header[i] = name
        if all_numeric or numeric[name] then kind[i] = "number"
        elseif strings[name] then kind[i] = "string" end
      end
      for name in pairs(numeric) do
        if not seen[name] then
          error(("rk.csv.read: %s has no column '%s'"):format(path, name), 2)
        end
      end
    else
      if #fields ~= #header then
        error(("%s:%d: expected %d fields as in the header, got %d")
          :format(path, line, #header, #fields), 0)
      end
      local row = {}
      for i, raw in ipairs(fields) do
        local v = trim(raw)
        if missing[v] or missing[raw] then
          -- absent
        else
          local k = kind[i]
          if k == nil then
            k = parse_number(v) and "number" or "string"
            kind[i] = k
          end
          if k == "number" then
            local x = parse_number(v)
            if x == nil then
              error(("%s:%d:%d: column '%s': %s is not a number%s")
                :format(path, line, cols[i], header[i],
                  v == "" and "an empty field" or ("'" .. v .. "'"),
                  v == "" and " (pass missing = {\"\"} to allow it)" or ""),
                0)
            end
            row[header[i]] = x
          else
            row[header[i]] = raw
          end
        end
      end
      rows[#rows + 1] = row
      lines[#rows] = line
    end
  end
  if not header then error(("%s: no header line"):format(path), 0) end
  return rows, header, lines
end

-- Shortest text that reads back as the same number.
local function format_value(v)
  if math.type(v) == "integer" then return tostring(v) end
  if v ~= v or v == math.huge or v == -math.huge then
    error(("rk.csv.write: a value is not finite (%s)"):format(v), 3)
  end
  local s = ("%.15g"):format(v)
  if tonumber(s) ~= v then s = ("%.17g"):format(v) end
  return s
end

-- A field in quotes when it holds a separator, quote or line break, or
-- when reading it back unquoted would change it: blanks at either end are
-- trimmed and a leading '#' marks a comment line for radiokin's readers.
local function quote(s)
  if s:find('[,"\r\n]') or s:find("^%s") or s:find("%s$")
      or s:find("^#") then
    return '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

-- rk.csv.write(path, rows, columns): one line per row (a table keyed by
-- column name; a nil value writes an empty field), written atomically.
function csv.write(path, rows, columns)
  if type(path) ~= "string" then
    error("rk.csv.write: expected a file name", 2)
  end
  if type(rows) ~= "table" or type(columns) ~= "table" or #columns == 0 then
    error("rk.csv.write: expected (path, rows, columns) with a non-empty "
      .. "list of column names", 2)
  end
  local out, line = {}, {}
  for i, c in ipairs(columns) do line[i] = quote(tostring(c)) end
  out[1] = table.concat(line, ",")
  for r, row in ipairs(rows) do
    line = {}
    for i, c in ipairs(columns) do
      local v = row[c]
      if v == nil then line[i] = ""
      elseif type(v) == "number" then line[i] = format_value(v)
      elseif type(v) == "string" then line[i] = quote(v)
      elseif type(v) == "boolean" then line[i] = tostring(v)
      else
        error(("rk.csv.write: row %d column '%s' holds a %s"):format(r,
          tostring(c), type(v)), 2)
      end
    end
    out[#out + 1] = table.concat(line, ",")
  end
  out[#out + 1] = ""
  core.write_atomic(path, table.concat(out, "\n"))
end

-- rk.<binding>: C modules of dsl/modules.c, required on first use.
setmetatable(rk, {
  __index = function(t, k)
    local name = "radiokin." .. tostring(k)
    if type(k) == "string" and package.preload[name] then
      local m = require(name)
      rawset(t, k, m)
      return m
    end
    error(("rk has no field '%s'"):format(tostring(k)), 2)
  end,
})

return rk
