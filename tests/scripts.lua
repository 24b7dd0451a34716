-- scripts.lua - the scripts and the primitives they stand on, against
-- the hardening issue: folders made by mkdir(2) and programs run without a
-- shell (rk.mkdir, rk.run, rk.gnuplot, rk.gnuplot_quote), atomic writes
-- that never replace a link, FIFO or device ('-' is stdout), names from
-- data that cannot run commands through gnuplot, honest failures in
-- fit.lua, tia.lua, tare_plan.lua and regimen_compare.lua, and --help in
-- every script. Scripts are run with rk.run (no shell).
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local build = os.getenv("RADIOKIN_BUILDDIR") or "."
local exe = build .. "/radiokin"
local tmp = t.scratch()
local read, write = t.read_file, t.write_file
local have_gnuplot = rk.run { "gnuplot", "--version" } == 0

-- the kind of file at path as stat(1) names it ("symbolic link", "fifo",
-- "regular file", "directory", ...), or nil when there is none
local function kind(path)
  local st, out = rk.run { "stat", "-c", "%F", path }
  return st == 0 and out:gsub("%s+$", "") or nil
end

-- runs `radiokin scripts/<name> args...`: exit status, stdout, stderr
local function script(name, ...)
  return rk.run { exe, src .. "/scripts/" .. name, ... }
end

-- ------------------------------------------------------------ rk.mkdir
do
  local d = tmp .. "/a/b/c"
  t.is(rk.mkdir(d), d, "rk.mkdir returns the path")
  t.is(kind(d), "directory", "rk.mkdir makes every missing level (-p)")
  t.ok(pcall(rk.mkdir, d), "an existing folder is fine")
  write(tmp .. "/file", "x")
  t.raises(function() rk.mkdir(tmp .. "/file/sub") end,
    "rk.mkdir: cannot create folder '" .. tmp .. "/file/sub'",
    "a file in the way: the folder is named")
  t.raises(function() rk.mkdir(tmp .. "/file") end,
    "'" .. tmp .. "/file' exists and is not a folder",
    "an existing file of that name: said so")
  -- a quote and a command substitution are characters of the name
  local odd = tmp .. "/it's $(touch " .. tmp .. "/MARK_mkdir)"
  rk.mkdir(odd)
  t.is(kind(odd), "directory", "a name with ' and $(...) is made as is")
  t.is(kind(tmp .. "/MARK_mkdir"), nil, "... and runs no command")
  t.raises(function() rk.mkdir("") end, "expected a folder name",
    "empty name")
end

-- -------------------------------------------------------------- rk.run
do
  local st, out, err = rk.run { "printf", "%s|", "a b", "'; touch x" }
  t.ok(st == 0 and out == "a b|'; touch x|" and err == "",
    "rk.run passes arguments as they are (no shell, no splitting)")
  st, out = rk.run({ "cat" }, "line 1\nline 2\n")
  t.is(out, "line 1\nline 2\n", "rk.run feeds input on stdin")
  local big = ("0123456789abcdef"):rep(1 << 16)    -- 1 MiB: both pipes full
  st, out = rk.run({ "cat" }, big)
  t.ok(st == 0 and out == big, "1 MiB through cat: no deadlock, all back")
  st, out = rk.run({ "head", "-c", "3" }, big)
  t.ok(st == 0 and out == "012",
    "a child that stops reading its input early: no SIGPIPE for radiokin")
  st = rk.run { "sh", "-c", "exit 3" }
  t.is(st, 3, "rk.run returns the exit status")
  local none, msg = rk.run { "radiokin-no-such-program" }
  t.ok(none == nil and msg:find("cannot run 'radiokin%-no%-such%-program'"),
    "a missing program: nil and a message naming it")
  t.raises(function() rk.run { "echo", 5 } end, "argv[2] must be a string",
    "argv entries must be strings")
end

-- ------------------------------------------------------ atomic writes
do
  local real = write(tmp .. "/real.csv", "precious\n")
  local link = tmp .. "/link.csv"
  assert(rk.run { "ln", "-s", real, link } == 0)
  t.raises(function() rk.write_atomic(link, "x") end,
    "cannot write '" .. link .. "': it is a symbolic link, not a regular "
    .. "file; refusing", "a symbolic link is refused")
  t.ok(kind(link) == "symbolic link" and read(real) == "precious\n",
    "... the link and its target are left intact")
  local fifo = tmp .. "/fifo"
  assert(rk.run { "mkfifo", fifo } == 0)
  t.raises(function() rk.csv.write(fifo, { { a = 1 } }, { "a" }) end,
    "it is a FIFO (named pipe), not a regular file",
    "a FIFO is refused (rk.csv.write)")
  t.is(kind(fifo), "fifo", "... and is still a FIFO")
  -- a device: a copy of /dev/null made in the scratch folder (never the
  -- real one: if the refusal regressed, a root run would destroy it)
  local dev = tmp .. "/null"
  if rk.run { "mknod", "-m", "666", dev, "c", "1", "3" } == 0 then
    t.raises(function() rk.write_atomic(dev, "x") end,
      "'" .. dev .. "': it is a character device",
      "a device node (like /dev/null) is refused")
    t.is(kind(dev), "character special file", "... and is still a device")
  else
    t.skip("mknod needs root", 2)
  end
  t.raises(function() rk.write_atomic(tmp .. "/a", "x") end,
    "it is a directory", "a directory is refused")
  rk.write_atomic(real, "new\n")
  t.is(read(real), "new\n", "a regular file is replaced")
  local prog = write(tmp .. "/stdout.lua", [[
local rk = require "radiokin"
io.write("before\n")
rk.write_atomic("-", "to stdout\n")
rk.csv.write("-", { { a = 1, b = "x" } }, { "a", "b" })
print("after")
]])
  local st, out = rk.run { exe, prog }
  t.ok(st == 0 and out == "before\nto stdout\na,b\n1,x\nafter\n",
    "path '-' writes to stdout, in order with print")
  local listing = select(2, rk.run { "ls", "-A", tmp })
  t.ok(not listing:find("%.real%.csv%.") and not listing:find("%.fifo%."),
    "no temporary left behind by the refusals")
end

-- ----------------------------------------------------------- rk.gnuplot
t.is(rk.gnuplot_quote("it's\na\tb"), "'it''s a b'",
  "gnuplot_quote: '' for a quote, control characters become spaces")
t.is(rk.gnuplot_quote("`x` \"y\" @z \\n"), "'`x` \"y\" @z \\n'",
  "gnuplot_quote: backquotes, macros, backslashes kept literal (single "
  .. "quotes: gnuplot expands none of them)")
t.raises(function() rk.gnuplot_quote("out\nsystem 'x'.png", true) end,
  "file name 'out", "a file name with a newline is refused, not altered")
t.is(rk.gnuplot_quote("o'ut.png", true), "'./o''ut.png'",
  "a file name with a quote is quoted (a relative name gets ./)")
t.is(rk.gnuplot_quote("|touch x", true), "'./|touch x'",
  "a relative file name starting with | (gnuplot's pipe) becomes ./|...")
t.is(rk.gnuplot_quote("/abs/p.png", true), "'/abs/p.png'",
  "an absolute file name is kept")
if have_gnuplot then
  local mark = tmp .. "/MARK_gp"
  local evil = "P'1\nsystem 'touch " .. mark .. "'\n`touch " .. mark
    .. "` \"x\" @y"
  local printed = tmp .. "/printed.txt"
  local ok, why = rk.gnuplot(("set print %s\nprint %s\nprint $b[2]\n"):format(
    rk.gnuplot_quote(printed), rk.gnuplot_quote(evil)),
    { b = { { 1, 2.5 }, { 3, 0 / 0 } } })
  t.ok(ok, "rk.gnuplot runs (" .. tostring(why) .. ")")
  t.is(kind(mark), nil, "a label with a newline, system '...' and "
    .. "backquotes runs no command")
  t.is(read(printed), "P'1 system 'touch " .. mark .. "' `touch " .. mark
    .. "` \"x\" @y\n3 NaN\n", "the label arrives as text; the data block "
    .. "as numbers (NaN for a non-finite one)")
  ok, why = rk.gnuplot("plot no_such_function(x)")
  t.ok(not ok and why:find("gnuplot failed %(exit status %d+%)"),
    "a gnuplot error: nil and gnuplot's message")
  t.raises(function() rk.gnuplot("", { b = { { "1\nEOD\nsystem 'x'" } } }) end,
    "data block 'b' row 1 column 1 must be a number",
    "text cannot enter a data block")
  t.raises(function() rk.gnuplot("", { b = { { 1 }, {} } }) end,
    "row 2 is empty", "an empty data-block row is refused (gnuplot would "
    .. "start a new data set)")
  t.raises(function() rk.gnuplot("", { ["b c"] = {} }) end,
    "data block name must be", "a block name must be an identifier")
else
  t.skip("gnuplot not installed", 6)
end

-- ------------------------------------------------ plots: rk.plot_files
do
  local d = rk.mkdir(tmp .. "/pf")
  local f = rk.plot_files { d .. "/a.png", d .. "/b.svg" }
  t.ok(f.tmp[1] == f.dir .. "/a.png" and kind(f.dir) == "directory",
    "rk.plot_files: the program writes in a private folder by file name")
  write(f.tmp[1], "A")
  write(f.tmp[2], "B")
  f:commit()
  t.ok(read(d .. "/a.png") == "A" and read(d .. "/b.svg") == "B"
    and kind(f.dir) == nil, "commit moves every file and removes the "
    .. "private folder")
  rk.run { "ln", "-s", tmp .. "/victim_pf", d .. "/c.png" }
  rk.run { "mkfifo", d .. "/f.svg" }
  for _, target in ipairs { d .. "/c.png", d .. "/f.svg" } do
    local g = rk.plot_files { d .. "/x.png", target }
    write(g.tmp[1], "X")
    write(g.tmp[2], "Y")
    t.raises(function() g:commit() end, "not a regular file",
      "commit refuses " .. target:match("[^/]*$"))
    t.ok(kind(g.dir) == nil and read(d .. "/x.png") == nil,
      "... before moving any file (all or none), private folder removed")
  end
  t.ok(kind(d .. "/c.png") == "symbolic link" and kind(d .. "/f.svg")
    == "fifo" and kind(tmp .. "/victim_pf") == nil,
    "the link and the FIFO are left as they were; the link's target "
    .. "is not created")
  if have_gnuplot then
    -- a plot path that is gnuplot's pipe syntax runs no command
    local mark = tmp .. "/MARK_pipe"
    local csv = write(tmp .. "/pipe.csv", "patient,region,tia_MBqh,"
      .. "mass_kg,activity_MBq,teff_h\nP1,kidneys,90000,0.3,7400,50\n")
    local st = script("dose.lua", csv, "--out", tmp .. "/pipe_dose.csv",
      "--plot", "|touch " .. mark .. ";x.png")
    t.is(kind(mark), nil, "dose.lua --plot '|touch ...' runs no command "
      .. "(status " .. tostring(st) .. ")")
    -- two patients whose names give the same file name: both plotted
    local two = write(tmp .. "/two.csv", "patient,region,t_h,activity_MBq\n"
      .. "P/1,k,4,100\nP/1,k,24,80\nP/1,k,72,40\nP/1,k,168,10\n"
      .. "P 1,k,4,90\nP 1,k,24,70\nP 1,k,72,35\nP 1,k,168,9\n")
    st = script("tia.lua", two, "--out", tmp .. "/two", "--plot",
      "--quiet")
    t.ok(st == 0 and kind(tmp .. "/two/tia_P_1.png") == "regular file"
      and kind(tmp .. "/two/tia_P_1_2.png") == "regular file",
      "tia.lua: patients 'P/1' and 'P 1' get tia_P_1 and tia_P_1_2")
  else
    t.skip("gnuplot not installed", 2)
  end
end

-- ------------------------------------------------------------ tia.lua
do
  -- a quoted patient name with a newline, a quote and a gnuplot system
  -- command; an --out folder with a quote and a command substitution
  local mark = tmp .. "/MARK_tia"
  local data = write(tmp .. "/tac.csv", table.concat({
    "patient,region,t_h,activity_MBq",
    ('"P\'1\nsystem \'touch %s\'","kid`touch %s`ney",4,196'):format(mark,
      mark),
    ('"P\'1\nsystem \'touch %s\'","kid`touch %s`ney",24,203'):format(mark,
      mark),
    ('"P\'1\nsystem \'touch %s\'","kid`touch %s`ney",72,105'):format(mark,
      mark),
    ('"P\'1\nsystem \'touch %s\'","kid`touch %s`ney",168,24'):format(mark,
      mark),
  }, "\n") .. "\n")
  local out = tmp .. "/o'ut $(touch " .. mark .. ")"
  local st, so, se = script("tia.lua", data, "--out", out, "--plot",
    "--quiet")
  t.is(st, 0, "tia.lua --plot with hostile names runs (" .. se .. ")")
  t.is(kind(mark), nil, "no command ran (neither gnuplot system nor shell)")
  t.ok(read(out .. "/tia.csv") and (not have_gnuplot or
    (read(out .. "/tia_P_1_system__touch_" ..
      mark:gsub("[^%w%-_.]", "_") .. "_.svg") or ""):find("</svg>")),
    "tia.csv and the plot written in the folder named as given")
  t.is(so, "", "--quiet prints nothing")

  -- a region whose fit fails (activities of 1e308 overflow the integral)
  local bad = write(tmp .. "/overflow.csv",
    "patient,region,t_h,activity_MBq\n" ..
    "P1,kidney,4,1e308\nP1,kidney,24,1e308\nP1,kidney,72,1e308\n" ..
    "P1,kidney,168,1e308\n" ..
    "P2,liver,4,100\nP2,liver,24,80\nP2,liver,72,40\nP2,liver,168,10\n")
  st, so, se = script("tia.lua", bad, "--out", tmp .. "/ov", "--quiet")
  t.is(st, 1, "a failed region: exit status 1")
  t.like(se, "overflow.csv:2%-5: patient P1 region kidney: no finite TIA",
    "... said on stderr with file, lines and region")
  t.like(se, "1 of 2 regions failed", "... and counted")
  local rows = rk.csv.read(tmp .. "/ov/tia.csv", { missing = { "" } })
  t.ok(rows[1].status == "failed" and rows[1].tia_MBqh == nil
    and rows[1].failure:find("no finite TIA"),
    "tia.csv marks the row failed, with no TIA and the reason")
  t.ok(rows[2].status == "ok" and rows[2].tia_MBqh > 0,
    "the other region is fitted and marked ok")
  st = script("tia.lua", bad, "--out", tmp .. "/ov", "--quiet",
    "--keep-going")
  t.is(st, 0, "--keep-going: exit 0, failures still marked")
end

-- ------------------------------------------------------------ fit.lua
do
  local model = src .. "/models/theophylline.lua"
  local theoph = src .. "/tests/data/theoph_nm.csv"
  local out = tmp .. "/fitfail"
  local st, so, se = script("fit.lua", model, theoph, "--out", out,
    "--max-eval", "3", "--no-plot", "--threads", "2")
  t.is(st, 1, "a fit that stops before converging: exit status 1")
  t.like(so, "FIT FAILED", "the summary says the fit failed")
  t.like(so, "NOT estimates", "... and that the values are not estimates")
  t.like(se, "fit failed: population fit did not converge in 3 "
    .. "evaluations", "the reason on stderr")
  t.is(kind(out), nil, "no output folder or file written")
  rk.mkdir(out)
  write(out .. "/parameters.csv", "from an earlier run\n")
  st, so, se = script("fit.lua", model, theoph, "--out", out, "--max-eval",
    "3", "--quiet", "--threads", "2")
  t.ok(st == 1 and se:find("parameters.csv in " .. out .. " are from an "
    .. "earlier run, NOT from this fit", 1, true) and so == "",
    "a failed fit names the earlier run's files left in the folder")
  t.is(read(out .. "/parameters.csv"), "from an earlier run\n",
    "... and leaves them as they were")
  st, so, se = script("fit.lua", model, theoph, "--max-eval", "1.5")
  t.like(se, "--max-eval needs an integer in 0..10000000 (got '1.5')",
    "--max-eval 1.5: the value typed is named")

  -- all or none: table.csv cannot be written (a folder of that name)
  local pm = dofile(model)
  local r = pm:fit(theoph, { covariance = false, threads = 2 })
  local dir = tmp .. "/fitnone"
  rk.mkdir(dir .. "/table.csv")
  t.raises(function() r:write_csv(dir) end,
    "table.csv': it is a directory", "r:write_csv names the file it "
    .. "cannot write")
  t.ok(not read(dir .. "/parameters.csv") and not read(dir .. "/ebe.csv"),
    "... and leaves no parameters.csv or ebe.csv (all or none)")
  local listing = select(2, rk.run { "ls", "-A", dir })
  t.is(listing, "table.csv\n", "... nor any temporary")
  local paths = r:write_csv(tmp .. "/fitall")
  t.ok(#paths == 3 and read(paths[1]) and read(paths[2]) and read(paths[3]),
    "a writable folder: the three tables")
  -- r.curves: the EBE prediction on a fine grid. Subject 1 (one oral dose
  -- of 319.992 mg at t = 0) against the one-compartment solution
  -- C = D ka / (V (ka - k)) (e^-kt - e^-ka t), k = CL / V, at its EBE
  local c, e = r.curves[1], r.ebe[1].params
  local k = e.cl / e.v
  local worst = 0
  for i = 1, #c.time do
    local tt = c.time[i]
    local want = 319.992 * e.ka / (e.v * (e.ka - k))
      * (math.exp(-k * tt) - math.exp(-e.ka * tt))
    worst = math.max(worst, math.abs(c.ipred[i] - want) / 10)
  end
  t.ok(#c.time == 120 and c.id == 1 and c.time[1] == 0
    and c.time[120] == 24.37 and worst < 1e-5,
    ("r.curves[1]: 120 points over 0-24.37 h, the analytic curve at the "
    .. "EBE within 1e-5 of Cmax ~10 mg/L (worst %.2g)"):format(worst))
  t.is(c.ipred[120], r.table.IPRED[11], 1e-6,
    "... and IPRED at the last observation (24.37 h)")
  local fit = dofile(src .. "/scripts/fit.lua")
  local text, blocks = fit.plot_script(r, "conc", tmp .. "/gof")
  t.ok(#blocks.c1 == 120 and text:find("$c1 using 1:2 with lines", 1, true),
    "fit.lua draws IPRED as the fine-grid curve when the fit has one")
  r.curves = nil
  text, blocks = fit.plot_script(r, "conc", tmp .. "/gof")
  t.ok(not blocks.c1 and text:find("$s1 using 1:4 with linespoints", 1,
    true), "... else IPRED at the observation times, marked")
  local ticks_ok = true
  for _, span in ipairs { 0.7, 24.37, 100, 168, 1344, 12345 } do
    local step = fit.tick_step(span)
    ticks_ok = ticks_ok and span / step <= 5 and span / step > 1
  end
  t.ok(ticks_ok and fit.tick_step(24.37) == 5 and fit.tick_step(1344) == 500,
    "x tick step 1/2/5 x 10^k: 2-5 labelled ticks per panel (24.37 h: "
    .. "5 h; 1344 h: 500 h)")

  local rf = pm:fit(theoph, { covariance = false, max_eval = 3 })
  t.raises(function() rf:write_csv(tmp .. "/fitf") end,
    "the fit failed .*nothing written", "r:write_csv refuses a failed fit")
  t.like(rf:summary(), "stopped at", "its summary heads the column "
    .. "'stopped at', not 'estimate'")
  t.is(rf.curves, nil, "a failed fit has no curves")
end

-- ------------------------------------------------------ tare_plan.lua
do
  local csv = write(tmp .. "/cohort0.csv", "id,product,cf,territory,"
    .. "volume_mL,lsf,tumour_volume_mL,tn,mode,target_gy\n")
  local out = tmp .. "/cohort0_plan.csv"
  local st, _, se = script("tare_plan.lua", "--cohort", csv, "--out", out)
  t.is(st, 1, "a cohort CSV with a header only: exit status 1")
  t.like(se, "cohort0.csv: no patients", "... says there are no patients")
  t.is(read(out), nil, "... and writes no plan table")
end

-- ------------------------------------------------ regimen_compare.lua
do
  local st, _, se = script("regimen_compare.lua", "--model",
    src .. "/models/lu177_6c.lua", "--out", tmp .. "/rc")
  t.is(st, 1, "a plain model file: exit status 1")
  t.like(se, "must return a table {model = rk.model{...}, population = "
    .. "rk.population{...}, activity_MBq", "... says what the file must "
    .. "return")
  t.like(se, "it returned a plain model (rk.model)", "... and what it got")
  for _, c in ipairs { { "--n", "1.5", "--n needs an integer in "
                         .. "1..1000000 (got '1.5')" },
                       { "--n", "0", "(got '0')" },
                       { "--n", "1e12", "(got '1e12')" },
                       { "--threads", "-1", "--threads needs an integer" },
                       { "--seed", "x", "--seed needs an integer" },
                       { "--imaging-cv", "2", "--imaging-cv needs a number "
                         .. "in 0..1 (got '2')" } } do
    st, _, se = script("regimen_compare.lua", c[1], c[2])
    t.ok(st == 1 and se:find(c[3], 1, true), ("%s %s refused: %s")
      :format(c[1], c[2], se:match("^[^\n]*")))
  end
end

-- ------------------------------------------------------- every --help
do
  local _, names = rk.run { "ls", src .. "/scripts" }
  local n = 0
  for name in names:gmatch("[^\n]+%.lua") do
    n = n + 1
    local st, so, se = script(name, "--help")
    local good = st == 0 and so:find("usage: radiokin scripts/" .. name, 1,
      true) and so:find("Example") and so:find("Output") and se == ""
    t.ok(good, name .. " --help: exit 0, usage, inputs, outputs, example")
  end
  t.ok(n >= 5, ("--help tried on the %d scripts in scripts/"):format(n))
  -- no script hands a command line to a shell
  for name in names:gmatch("[^\n]+%.lua") do
    local text = read(src .. "/scripts/" .. name) or ""
    local clean = not text:find("os%.execute") and not text:find("io%.popen")
    t.ok(clean, name .. ": no os.execute or io.popen: rk.mkdir, rk.run, "
      .. "rk.gnuplot instead")
  end
end

-- Nor does any test, example, model or binding: paths never reach a shell
-- there either (t.run, t.list_dir, t.remove_tree, rk.run and the C
-- tests' spawn.h run programs without one).
do
  local bad = {}
  for _, folder in ipairs { "tests", "examples", "models", "dsl/lua" } do
    local _, names = rk.run { "ls", src .. "/" .. folder }
    for name in (names or ""):gmatch("[^\n]+%.lua") do
      local text = read(src .. "/" .. folder .. "/" .. name) or ""
      -- the calls themselves, not this check's own patterns
      if text:find("os%.execute%s*%(") or text:find("io%.popen%s*%(") then
        bad[#bad + 1] = folder .. "/" .. name
      end
    end
  end
  for _, folder in ipairs { "tests/unit", "tests/bench", "dsl" } do
    local _, names = rk.run { "ls", src .. "/" .. folder }
    for name in (names or ""):gmatch("[^\n]+%.cc?") do
      local text = read(src .. "/" .. folder .. "/" .. name) or ""
      if text:find("[^_%w]system%(") or text:find("[^_%w]popen%(") then
        bad[#bad + 1] = folder .. "/" .. name
      end
    end
  end
  t.ok(#bad == 0, "no os.execute or io.popen calls in tests, examples, "
       .. "models or the prelude" .. (#bad > 0 and ": " .. table.concat(bad, ", ")
       or ""))
end

rk.run { "rm", "-rf", tmp }
-- ------------------------------------------------ review fixes
do
  local tmp = t.scratch()
  -- a CSV field that reads back differently unquoted is quoted
  local p = tmp .. "/rt.csv"
  rk.csv.write(p, { { id = "#3", name = " x ", v = 1 } }, { "id", "name", "v" })
  local rows = rk.csv.read(p, { strings = { "id", "name" }, comment = "#" })
  t.ok(#rows == 1 and rows[1].id == "#3" and rows[1].name == " x ",
    "rk.csv.write quotes '#3' and ' x ': read back as written (not a "
    .. "comment, blanks kept)")
  -- rewriting a file keeps its mode (a restricted result stays so)
  local m = tmp .. "/mode.csv"
  rk.write_atomic(m, "a\n")
  rk.run { "chmod", "600", m }
  rk.write_atomic(m, "b\n")
  local _, mode = rk.run { "stat", "-c", "%a", m }
  t.is(mode:gsub("%s+$", ""), "600", "rk.write_atomic keeps an existing "
    .. "file's mode (600)")
  -- rk.run: a program that does not finish is stopped; NUL in argv
  local st, why = rk.run({ "sleep", "30" }, nil, 0.3)
  t.ok(st == nil and why:find("did not finish within 0.3"),
    "rk.run with timeout_s stops a program that runs on (" .. tostring(why)
    .. ")")
  t.raises(function() rk.run { "echo", "a\0b" } end, "NUL byte",
    "an argument with a NUL byte is refused, not cut")
  t.raises(function() rk.write_atomic(tmp .. "/n\0x", "x") end, "NUL byte",
    "a file name with a NUL byte is refused")
end

t.done()
