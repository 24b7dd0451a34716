-- tests/errmsg_misc.lua - error messages of rk.run / rk.gnuplot
-- (dsl/l_spawn.c), rk.mkdir and the core helpers (l_fs.c, l_core.c), the
-- S-table and dose-rate bindings (l_dosimetry.c), rk.radiobio
-- (l_radiobio.c) and images and the phantom (l_image.c), provoked one by
-- one and their text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

-- ------------------------------------------------------- rk.run, gnuplot
t.raises(function() rk.run({ "true" }, nil, -1) end,
  "rk.run: timeout_s must be a number of seconds >= 0 (0: none) (got -1.0)",
  "a negative timeout")
t.raises(function() rk.run("true") end,
  "rk.run: expected an array of strings (the program and its arguments) "
  .. "(got string)", "argv as a string")
t.raises(function() rk.run({ "cat" }, 5) end,
  "rk.run: input must be a string (got 5.0)", "input not a string")
t.raises(function() rk.run({}) end, "rk.run: argv must name a program",
  "an empty argv")
t.raises(function() rk.run({ "echo", "a\0b" }) end,
  "rk.run: argv[2] holds a NUL byte (it would be cut there)",
  "an argument with a NUL byte")
t.raises(function() rk.gnuplot_quote({}) end,
  "rk.gnuplot_quote: expected a string (got table)", "quote of a table")
t.raises(function() rk.gnuplot(5) end,
  "rk.gnuplot: expected the commands as a string (got 5.0)",
  "gnuplot commands not a string")
t.raises(function() rk.gnuplot("plot $d", 5) end,
  "rk.gnuplot: data blocks must be a table name = rows (got 5.0)",
  "data blocks not a table")
t.raises(function() rk.gnuplot("plot $d", { d = 5 }) end,
  "rk.gnuplot: data block 'd' must be an array of rows (got 5.0)",
  "a data block that is a number")
t.raises(function() rk.gnuplot("plot $d", { d = { 5 } }) end,
  "rk.gnuplot: data block 'd' row 1 must be an array of numbers (got 5.0)",
  "a row that is a number")
t.raises(function() rk.gnuplot("plot $d", { d = { {} } }) end,
  "rk.gnuplot: data block 'd' row 1 is empty (a row needs at least one "
  .. "number)", "an empty row")
t.raises(function() rk.gnuplot("plot $d", { d = { { 1, "x" } } }) end,
  "rk.gnuplot: data block 'd' row 1 column 2 must be a number (got string); "
  .. "put text in the commands with rk.gnuplot_quote", "text in a data row")

-- ---------------------------------------------------- folders and files
t.raises(function() rk.mkdir(5) end,
  "rk.mkdir: expected a folder name (got 5.0)", "mkdir of a number")
do
  local dir = t.scratch()
  t.write_file(dir .. "/plain", "x")
  t.raises(function() rk.mkdir(dir .. "/plain/sub") end,
    "cannot create folder '" .. dir .. "/plain", "a file in the way of a "
    .. "folder is named")
end
t.raises(function() rk.write_atomic("a\0b", "x") end,
  "rk.write_atomic: the file name holds a NUL byte (it would be cut there)",
  "a file name with a NUL byte")
t.raises(function() rk.memory_limit(-1) end,
  "rk.memory_limit: bytes must be a finite number >= 0 (got -1.0)",
  "a negative memory limit")

-- ----------------------------------------------------------- dosimetry
t.raises(function() rk.dosimetry.stable { rows = "K", cols = { "K" },
                                          s = { { 1 } } } end,
  "field 'rows' must be an array of region names", "rows not a list")
t.raises(function() rk.dosimetry.stable { rows = { 5 }, cols = { "K" },
                                          s = { { 1 } } } end,
  "rows[1] must be a region name (a string)", "a row that is a number")
t.raises(function() rk.dosimetry.stable { rows = { "K" }, cols = { "K" },
                                          s = 1 } end,
  "field 's' must be an array of rows (one per source region)",
  "s not a table")
t.raises(function() rk.dosimetry.stable { rows = { "K", "L" }, cols = { "K" },
                                          s = { { 1 } } } end,
  "field 's' has 1 rows but 'rows' names 2 source regions",
  "s with too few rows")
t.raises(function() rk.dosimetry.stable { rows = { "K" }, cols = { "K", "L" },
                                          s = { { 1 } } } end,
  "s[1] (source 'K') has 1 values, expected 2 (one per target column)",
  "a short row of S")
do
  local S = rk.dosimetry.stable { rows = { "K" }, cols = { "K" },
                                  s = { { 1e-3 } } }
  t.raises(function() S:dose({ K = "x" }, "K") end,
    "S table:dose: TIAs must be {region = tia_MBqh}", "a TIA that is text")
end
t.raises(function()
  rk.dosimetry.doserate { nuclide = "Lu-177", a_MBq = { 1, 2 },
                          b_per_h = { 0.1 }, mass_kg = 0.3 }
end, "a_MBq has 2 terms, b_per_h 1", "a dose-rate curve of mismatched terms")

-- ----------------------------------------------------------- radiobio
t.raises(function() rk.radiobio.bed { dose_gy = 10, g = 0.5, organ = 5 } end,
  "organ must be a name or a table {name=, ab_gy=, trep_h=, ...}",
  "an organ that is a number")
t.raises(function() rk.radiobio.curve { c = { 1, 2 }, b = { 0.1 },
                                        organ = "kidney" } end,
  "c has 2 terms, b 1", "a curve of mismatched terms")

-- --------------------------------------------------- images and phantom
do
  local img = rk.image.new { dims = { 2, 2, 2 }, spacing = { 1, 1, 1 } }
  local other = rk.image.new { dims = { 3, 2, 2 }, spacing = { 1, 1, 1 } }
  t.raises(function() img:set(1, 1, 1, 0 / 0) end,
    "img:set: value must be finite", "set NaN")
  t.raises(function() img:scale(1 / 0) end,
    "img:scale: factor must be finite", "scale by inf")
  t.raises(function() img:add(other) end,
    "img:add: the images are on different grids (resample first)",
    "add on another grid")
  t.raises(function() img:mul(other) end,
    "img:mul: the images are on different grids (resample first)",
    "mul on another grid")
  t.raises(function() img:get(3, 1, 1) end, "index 1 is 3 (expected 1..2)",
    "an index past the grid")
  t.raises(function() rk.image.new { dims = { 2, 2 } } end,
    "field 'dims' must hold 3 numbers (got 2)", "dims of 2 numbers")
  t.raises(function() img.add({}, img) end,
    "expected an image (rk.image) (got table)", "add on a table")
end
do
  local many = {}
  for i = 1, 40 do many[i] = { centre = { 0, 0, 0 }, radius_mm = 5, c0 = 1 } end
  t.raises(function() rk.phantom.new { spheres = many } end,
    "rk.phantom.new: 40 spheres (at most 8)", "too many spheres")
  t.raises(function() rk.phantom.new { spheres = { 5 } } end,
    "spheres[1] must be a table", "a sphere that is a number")
  local ph = rk.phantom.new { n = 16 }
  t.raises(function() ph:tac(99, { 1, 2 }) end,
    "ph:tac: no region has label 99", "tac of an unknown label")
end

-- ------------------------------------------ the interpreter (radiokin.c)
t.raises(function() load(string.dump(function() return 1 end), "x", "b") end,
  "load: binary chunks are not allowed (mode 'b')", "load of bytecode")
do
  local dir = t.scratch()
  local f = io.open(dir .. "/bin.luac", "wb")
  f:write(string.dump(function() return 1 end))
  f:close()
  t.raises(function() loadfile(dir .. "/bin.luac", "bt") end,
    "loadfile: binary chunks are not allowed (mode 'bt')",
    "loadfile of bytecode")
  t.write_file(dir .. "/broken_mod.lua", "return {\n")
  package.path = dir .. "/?.lua;" .. package.path
  t.raises(function() require "broken_mod" end,
    "error loading module 'broken_mod' from file '" .. dir
    .. "/broken_mod.lua':", "a module with a syntax error is named")
end
t.raises(function() return undefined_thing_x end,
  "undeclared global 'undefined_thing_x' (a typo? declare it with local)",
  "reading an undeclared global")

t.raises(function() rk.image.read_seg("x.dcm", 70000) end,
  "rk.image.read_seg: segment 70000 (expected 1..65535, or 0 / nil: every "
  .. "segment)", "a segment number past DICOM's range")

t.done()
