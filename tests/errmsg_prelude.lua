-- tests/errmsg_prelude.lua - error messages of the prelude (rk.seq,
-- rk.piecewise, rk.csv.read / write, atomic writes) and of the field
-- readers every binding shares (dsl/lrk.c), provoked one by one and their
-- text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local dir = t.scratch()

-- ----------------------------------------------------------- prelude
t.raises(function() rk.seq(0, 0 / 0) end,
  "rk.seq: argument 2 must be a finite number %(got %-?nan%)", "rk.seq to NaN")
t.raises(function() rk.seq(0, 1e9, 1) end,
  "rk.seq: 1000000001 points is too many (step 1)", "rk.seq of 1e9 points")
t.raises(function() rk.piecewise(1, 2) end,
  "rk.piecewise: expected (cond1, value1, ..., default): pairs of a "
  .. "condition and a value, then a default value (got 2 arguments)",
  "rk.piecewise without a default")

local good = dir .. "/good.csv"
t.write_file(good, "a,b\n1,2\n3,4\n")
t.raises(function() rk.csv.read(5) end,
  "rk.csv.read: expected a file name (got number)", "csv.read of a number")
t.raises(function() rk.csv.read(good, { sep = ";;" }) end,
  "rk.csv.read: option 'sep' must be one character", "a two-character sep")
t.raises(function() rk.csv.read(dir .. "/none.csv") end,
  "rk.csv.read: cannot open " .. dir .. "/none.csv", "a missing file")
t.raises(function() rk.csv.read(good, { missing = "NA" }) end,
  "rk.csv.read: option 'missing' must be a list of strings",
  "missing not a list")
t.raises(function() rk.csv.read(good, { numeric = { "c" } }) end,
  "rk.csv.read: " .. good .. " has no column 'c'", "a numeric column not there")
do
  local f = dir .. "/bad.csv"
  t.write_file(f, "a,,c\n1,2,3\n")
  t.raises(function() rk.csv.read(f) end,
    f .. ":1:3: column 2 has an empty name", "an empty column name")
  t.write_file(f, "a,b,a\n1,2,3\n")
  t.raises(function() rk.csv.read(f) end,
    f .. ":1:5: column 'a' appears twice", "a column twice")
  t.write_file(f, "a,b\n1,2,3\n")
  t.raises(function() rk.csv.read(f) end,
    f .. ":2: expected 2 fields as in the header, got 3", "a long row")
  t.write_file(f, "# only a comment\n")
  t.raises(function() rk.csv.read(f, { comment = "#" }) end,
    f .. ": no header line", "no header")
end
t.raises(function() rk.csv.write(5, {}, { "a" }) end,
  "rk.csv.write: expected a file name", "csv.write to a number")
t.raises(function() rk.csv.write(dir .. "/o.csv", {}, {}) end,
  "rk.csv.write: expected (path, rows, columns) with a non-empty list of "
  .. "column names", "csv.write without columns")
t.raises(function() rk.csv.write(dir .. "/o.csv", { { a = 0 / 0 } }, { "a" }) end,
  "rk.csv.write: a value is not finite %(%-?nan%)", "csv.write of NaN")
t.raises(function() rk.csv.write(dir .. "/o.csv", { { a = {} } }, { "a" }) end,
  "rk.csv.write: row 1 column 'a' holds a table", "csv.write of a table")

-- ------------------------------------------------------ atomic writes
t.raises(function() rk.write_atomic("", "x") end,
  "cannot write: empty file name", "an empty file name")
t.raises(function() rk.write_atomic(dir .. "/sub/", "x") end,
  "cannot write '" .. dir .. "/sub/': not a file name", "a folder path")
rk.mkdir(dir .. "/adir")
t.raises(function() rk.write_atomic(dir .. "/adir", "x") end,
  "cannot write '" .. dir .. "/adir': it is a directory, not a regular "
  .. "file; refusing to replace it", "a directory in the way")
t.raises(function() rk.write_atomic(dir .. "/nodir/x.txt", "x") end,
  "cannot write '" .. dir .. "/nodir/x.txt'", "a missing folder")

-- ------------------------------------------ field readers (dsl/lrk.c)
local function plan(o)
  local a = { product = "SIR-Spheres", cf = 49.67, mass_kg = 1.5, lsf = 0.1,
              activity_mbq = 1000 }
  for k, v in pairs(o) do a[k] = v end
  for k, v in pairs(o) do if v == "nil" then a[k] = nil end end
  return rk.tare.plan(a)
end
t.ok(pcall(plan, {}), "the base TARE plan works")
t.raises(function() plan { lsf = "x" } end,
  "field 'lsf' must be a number (got string)", "a number field holding text")
t.raises(function() plan { lsf = 0 / 0 } end,
  "field 'lsf' must be a finite number (got nan)", "a number field NaN")
t.raises(function() rk.phantom.new { spacing_mm = 100 } end,
  "rk.phantom.new: field 'spacing_mm' must be a number in [0.1,50] (got "
  .. "100)", "a number outside its range")
t.raises(function() plan { product = "nil" } end,
  "field 'product' is required (a string)", "a required string missing")
t.raises(function() plan { product = 5 } end,
  "field 'product' must be a string (got 5.0)", "a string field holding a number")
t.raises(function() plan { compromised = 5 } end,
  "field 'compromised' must be true or false (got 5.0)",
  "a boolean field holding a number")
t.raises(function() plan { bogus = 1 } end, "unknown field 'bogus' (known: ",
  "an unknown field, with the known ones")

t.raises(function() rk.radiobio.bed { g = 0.5, organ = "kidney" } end,
  "rk.radiobio.bed: field 'dose_gy' is required (a number)",
  "a required number missing")
t.raises(function() rk.radiobio.bed { dose_gy = 1, g = 0.5,
                                      organ = "kidney", bogus = 1 } end,
  "rk.radiobio.bed: unknown field 'bogus' (known: dose_gy, g, organ, "
  .. "ab_gy, where)", "an unknown field named with the known ones")
t.raises(function() rk.radiobio.g { c = 5, b = { 0.1 }, trep_h = 2 } end,
  "rk.radiobio.g: field 'c' (Gy/h) must be an array of numbers (got 5.0)",
  "numbers given as one number")
do
  local m = rk.model { name = "a", states = { "A" }, params = { k = 1 },
    ode = function(s, p) return { A = -p.k * s.A } end }
  local pop = rk.population { model = m, cv = { k = 0.1 } }
  t.raises(function() pop:sample {} end,
    "pop:sample: field 'n' is required (an integer in [1, 100000000])",
    "a required count missing, with its range")
end

t.done()
