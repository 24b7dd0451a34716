-- tests/prelude.lua - the Lua prelude (dsl/lua/radiokin.lua): rk.seq,
-- rk.nuclide, rk.csv.read/write, lazy rk.<module>, strictness.
local rk = require "radiokin"
local t = require "radiokin.tap"

-- rk.seq: inclusive, with a tolerance against rounding
local s = rk.seq(0, 1, 0.1)
t.is(#s, 11, "rk.seq(0, 1, 0.1) has 11 values despite 0.1 rounding")
t.is(s[11], 1, "... and ends at exactly 1")
t.is(s[4], 0.3, 1e-15, "... s[4] = 0.3 (a + i*step, no accumulation)")
t.is(#rk.seq(0, 1344, 24), 57, "rk.seq(0, 1344, 24): 57 values")
t.is(#rk.seq(0, 10, 3), 4, "rk.seq(0, 10, 3) stops at 9")
t.is(rk.seq(5, 1, -2)[3], 1, "descending with a negative step")
t.is(#rk.seq(1, 3), 3, "step defaults to 1")
t.raises(function() rk.seq(0, 1, 0) end, "step must not be 0", "step 0")
t.raises(function() rk.seq(0, 10, -1) end, "goes away from", "wrong sign")
t.raises(function() rk.seq(0, 0 / 0, 1) end, "argument 2 must be a finite",
  "NaN bound")

-- rk.nuclide: the engine's table
local lu = rk.nuclide("177Lu")
t.is(lu.name, "Lu-177", "rk.nuclide accepts 177Lu")
t.is(lu.half_life_h, 6.647 * 24, 1e-12, "Lu-177 T1/2 6.647 d (Alcocer-Avila 2020)")
t.is(lu.lambda, math.log(2) / (6.647 * 24), 1e-12, "lambda = ln 2 / T1/2")
t.ok(lu.e_np_mev > 0 and lu.source ~= "", "energies and source present")
t.raises(function() rk.nuclide("Xx-1") end, "unknown nuclide 'Xx-1'",
  "unknown nuclide")
t.ok(#rk.nuclides() >= 8, "at least the 8 nuclides of issue 3")

-- lazy C modules and strict rk
t.is(rk.core, require "radiokin.core", "rk.core is the lazily required module")
t.raises(function() return rk.no_such_thing end,
  "rk has no field 'no_such_thing'", "a typo on rk raises")
t.like(rk.version, "^%d+%.%d+%.%d+$", "rk.version is x.y.z")

-- CSV
local tmp = os.tmpname()
local function write(text)
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
end

write('\239\187\191id,name,t_h,dv\r\n'
  .. '007,"Smith, J",1.5,2e3\r\n'
  .. '\r\n'
  .. '8,"say ""hi""\nthere",2,.\n'
  .. '9,plain, 3 ,4\n')
local rows, cols, lines = rk.csv.read(tmp, { strings = { "id" },
  missing = { "." } })
t.is(table.concat(lines, ","), "2,4,6", "the line each row starts on "
  .. "(through a blank line and a quoted line break)")
t.is(table.concat(cols, "|"), "id|name|t_h|dv", "header names (BOM removed)")
t.is(#rows, 3, "blank line skipped, quoted newline kept in one record")
t.is(rows[1].id, "007", "strings = {'id'} keeps leading zeros")
t.is(rows[1].name, "Smith, J", "quoted field with the separator")
t.is(rows[1].dv, 2000, "2e3 read as a number")
t.is(rows[2].name, 'say "hi"\nthere', "doubled quotes and a line break")
t.is(rows[2].dv, nil, "'.' is missing when asked")
t.is(rows[3].t_h, 3, "spaces around a number are trimmed")

write("t_h,dv\n1,2\n2,abc\n")
t.raises(function() rk.csv.read(tmp) end,
  tmp .. ":3:3: column 'dv': 'abc' is not a number",
  "a malformed number is named with file:line:column")
write("t_h,dv\n1,2\n2,\n")
t.raises(function() rk.csv.read(tmp) end, ":3:3: column 'dv': an empty field",
  "an empty field in a numeric column without missing = {''}")
t.is(rk.csv.read(tmp, { missing = { "" } })[2].dv, nil,
  "missing = {''} makes an empty field absent")
write("t_h,dv\n1,2,3\n")
t.raises(function() rk.csv.read(tmp) end, ":2: expected 2 fields",
  "a row with too many fields")
write("a,a\n1,2\n")
t.raises(function() rk.csv.read(tmp) end, "column 'a' appears twice",
  "duplicate header")
write('a\n"open\n')
t.raises(function() rk.csv.read(tmp) end, ":2:1: unterminated quoted field",
  "unterminated quote")
write("a;b\n# comment\n1;0x10\n")
t.raises(function() rk.csv.read(tmp, { sep = ";", comment = "#",
  numeric = true }) end, ":3:3: column 'b': '0x10' is not a number",
  "numeric = true: hex is not a data number")
t.raises(function() rk.csv.read(tmp .. ".none") end, "cannot open",
  "a missing file")
t.raises(function() rk.csv.read(tmp, { sepp = ";" }) end,
  "unknown option 'sepp'", "a misspelt option")

-- The engine's tokenizer under rk.csv.read (issue 12: one for all).
write('a,b\n1,2"x\n')
t.raises(function() rk.csv.read(tmp) end,
  ":2:4: quote inside an unquoted field", "a stray quote: file:line:column")
write('a,b\n"1"x,2\n')
t.raises(function() rk.csv.read(tmp) end,
  ":2:4: 'x' after the closing quote", "text after a closing quote")
local core = require "radiokin.core"
local recs = core.csv_records('\239\187\191h1, h2\r\n"a\nb",  c\r\n',
  "x.csv")
t.ok(#recs == 2 and recs[1][1] == "h1" and recs[1][2] == "h2"
  and recs[2][1] == "a\nb" and recs[2][2] == "c" and recs[2].line == 2
  and recs[2].cols[2] == 4 and recs[1].cols[2] == 4,
  "csv_records: fields, start line, byte columns on their own lines "
  .. "(BOM dropped)")
t.raises(function() core.csv_records('"x', "y.csv") end,
  "y.csv:1:1: unterminated quoted field", "csv_records raises")

rk.csv.write(tmp, { { a = 1, b = "x,y" }, { a = 0.1, b = nil } },
  { "a", "b" })
local f = assert(io.open(tmp))
t.is(f:read("a"), 'a,b\n1,"x,y"\n0.1,\n', "rk.csv.write quotes, nil empty")
f:close()
rows = rk.csv.read(tmp, { missing = { "" } })
t.is(rows[2].a, 0.1, "write/read round trip")
os.remove(tmp)

-- rk.options: the scripts' one option loop. Each kind stores what it
-- parsed; each bad value raises the kind's message through usage.
do
  local function usage(msg) error("U:" .. msg, 0) end
  local spec = {
    ["--n"] = { "n", "integer", 1, 10 },
    ["--x"] = { "x", "number", 0, 1 },
    ["--m"] = { "m", "choice", { "a", "b", "c" } },
    ["--v"] = { "v", "value" },
    ["--q"] = { "q", "flag" },
    ["--no-p"] = { "p", "flag", value = false },
    ["--s"] = { "s", "integer", 0, 5, into = "sub" },
    ["--d"] = { "d", function(v, name) return name .. "=" .. v end,
      after = function(o, x) o.after_seen = x end },
    ["--stem"] = { "stem", rk.option_stem },
    ["--pi"] = { "pi", "level", "0.9" },
    ["--rt"] = { "rt", "flag", optional = "uid" },
    ["--f"] = { "f", "finite" },
    ["--big"] = { "big", "number", 0, math.huge },
    ["--pos"] = { "pos", rk.option_finite_if(function(x) return x > 0 end,
      "--pos needs a level > 0") },
    ["--ph"] = { "ph", rk.option_phantom },
    ["--uv"] = { "uv", rk.option_u_vol },
  }
  local o, pos = rk.options({ "f1", "--n", "7", "--x", "0.25", "--m", "b",
    "--v", "-3", "--q", "--no-p", "--s", "2", "--d", "k", "-1.5", "-",
    "--stem", "run_1.a", "--pi", "0.5" }, spec, usage, { p = true, n = 1 })
  t.ok(o.n == 7 and math.type(o.n) == "integer" and o.x == 0.25
    and o.m == "b" and o.v == "-3" and o.q == true and o.p == false
    and o.sub.s == 2 and o.s == nil and o.d == "--d=k"
    and o.after_seen == "--d=k" and o.stem == "run_1.a" and o.pi == 0.5,
    "rk.options: integer, number, choice, value (even '-3'), flags, into, "
    .. "a function kind and after")
  t.ok(#pos == 3 and pos[1] == "f1" and pos[2] == "-1.5" and pos[3] == "-",
    "rk.options: positionals in order, a negative number and '-' are ones")
  local r1 = rk.options({ "--rt", "1.2.3", "f" }, spec, usage)
  local r2, p2 = rk.options({ "--rt", "--q", "f" }, spec, usage)
  local r3 = rk.options({ "--rt" }, spec, usage)
  t.ok(r1.rt and r1.uid == "1.2.3" and r2.rt and r2.uid == nil and r2.q
    and p2[1] == "f" and r3.rt and r3.uid == nil,
    "rk.options: a flag's optional value (taken unless the next is --x)")
  local k = rk.options({ "--pos", "2.5", "--ph", "16", "--uv", "boundary" },
    spec, usage)
  local k2 = rk.options({ "--uv", "0.1", "--ph", "256" }, spec, usage)
  t.ok(k.pos == 2.5 and k.ph == 16 and k.uv == "boundary" and k2.uv == 0.1
    and k2.ph == 256, "rk.option_finite_if, rk.option_phantom, "
    .. "rk.option_u_vol accept good values")
  local h = rk.options({ "--n", "3", "-h", "--bogus" }, spec, usage)
  t.ok(h.help and h.n == 3, "rk.options: -h stops the loop (no error for "
    .. "what follows)")
  local d = rk.options({}, spec, usage, { n = 4 })
  t.is(d.n, 4, "rk.options: defaults kept")
  local bad = {
    { { "--n", "11" }, "U:--n needs an integer in 1..10 (got '11')" },
    { { "--n", "2.5" }, "U:--n needs an integer in 1..10 (got '2.5')" },
    { { "--x", "1.5" }, "U:--x needs a number in 0..1 (got '1.5')" },
    { { "--x", "nan" }, "U:--x needs a number in 0..1 (got 'nan')" },
    { { "--m", "d" }, "U:--m must be a, b or c (got 'd')" },
    { { "--f", "inf" }, "U:--f needs a finite number (got inf)" },
    { { "--f", "x" }, "U:--f needs a finite number (got x)" },
    { { "--big", "1e999" }, "U:--big needs a number in 0..inf (got '1e999')" },
    { { "--pos", "0" }, "U:--pos needs a level > 0" },
    { { "--pos", "-inf" }, "U:--pos needs a finite number (got -inf)" },
    { { "--ph", "7" }, "U:--ph needs an integer in [8, 256]" },
    { { "--ph", "8.5" }, "U:--ph needs an integer in [8, 256]" },
    { { "--ph", "257" }, "U:--ph needs an integer in [8, 256]" },
    { { "--uv", "-0.1" }, "U:--uv needs a relative SD >= 0, 'boundary' or "
      .. "'voxel' (got -0.1)" },
    { { "--uv", "inf" }, "(got inf)" },
    { { "--pi", "1" }, "U:--pi needs a level in (0, 1), e.g. 0.9" },
    { { "--pi", "0" }, "U:--pi needs a level in (0, 1), e.g. 0.9" },
    { { "--v" }, "U:--v needs a value" },
    { { "--bogus" }, "U:unknown option '--bogus'" },
    { { "-z" }, "U:unknown option '-z'" },
    { { "--stem", ".hidden" }, "U:--stem needs letters, digits, '_', '-', "
      .. "'.' and no leading dot (got '.hidden')" },
    { { "--stem", "a/b" }, "(got 'a/b')" },
  }
  for _, c in ipairs(bad) do
    t.raises(function() rk.options(c[1], spec, usage) end, c[2],
      "rk.options refuses " .. table.concat(c[1], " "))
  end
end

t.done()
