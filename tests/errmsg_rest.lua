-- tests/errmsg_rest.lua - error messages of the cohort, data, simulate,
-- regimen, TARE, voxel, image and S-table bindings that no other errmsg
-- test provokes (issue 22 item 3): each call fails with its text asserted,
-- and a failed write leaves no file behind.
local rk = require "radiokin"
local t = require "radiokin.tap"

local dir = t.scratch()

-- ------------------------------------------------------------ rk.cohort
local pk = rk.model { name = "pk", nuclide = "Lu-177", states = { "P", "K" },
  params = { kPK = 0.03, kKP = 0.01, kU = 0.5 },
  ode = function(s, p)
    return { P = -(p.kPK + p.kU) * s.P + p.kKP * s.K,
             K = p.kPK * s.P - p.kKP * s.K }
  end }
do
  -- patients[1] has covariates, patients[2] none: its row cannot be written
  local c = rk.cohort { model = pk,
    patients = { { cov = { WT = 70 } }, { kPK = 0.04 } },
    doses = { { time = 0, amount = 7400, to = "P" } }, cycles = 1,
    interval_h = 1344, tia = { "K" }, progress = false }
  t.raises(function()
    c:write_csv(dir .. "/cov.csv", { covariates = true })
  end, "c:write_csv: patients[2] has no table 'cov'",
    "write_csv of covariates a patient lacks")
  t.ok(not t.read_file(dir .. "/cov.csv"), "... no file written")
end

-- ---------------------------------------------- rk.data and d:simulate
local sim = t.write_file(dir .. "/sim.csv", "ID,TIME,AMT,EVID,MDV,DV,WT\n"
  .. "1,0,100,1,1,.,70\n1,1,.,0,0,.,70\n1,4,.,0,0,.,\n")
local one = rk.model { name = "one", states = { "A" },
  params = { k = 0.2, WT = 70 },
  ode = function(s, p) return { A = -p.k * s.A } end,
  outputs = function(s, p) return { C = s.A / p.WT } end }
do
  local d = rk.data(sim, one)
  t.raises(function() d:simulate(one, { covariates = { "Q" } }) end,
    "d:simulate: covariates[1]: model 'one': unknown parameter 'Q'; known "
    .. "parameters: WT, k", "a covariate that is no parameter")
  t.raises(function() d:simulate(one, { covariates = { "WT" } }) end,
    "d:simulate: .-/sim%.csv:4: column 7 %(WT%): covariate missing on a "
    .. "record of subject ID 1 %(a covariate the model uses needs a value on "
    .. "every record: it applies over the interval each record ends%)",
    "a covariate missing on one record")
  local r = d:simulate(one, {})
  r.ipred = nil
  t.raises(function() r:write_csv(dir .. "/r.csv") end,
    "r:write_csv: the result has no column 'ipred'",
    "write_csv of a result with a column removed")
  t.ok(not t.read_file(dir .. "/r.csv"), "... no file written")
  -- a finaliser that ran (an object brought back by another's __gc)
  getmetatable(d).__gc(d)
  t.raises(function() d:simulate(one, {}) end, "dataset was freed",
    "simulate of a freed dataset")
end

-- ---------------------------------------------------------- m:simulate
do
  local r = pk:simulate { doses = { { time = 0, amount = 1, to = "P" } },
                          times = { 1, 2 } }
  r.states.P = nil
  t.raises(function() r:write_csv(dir .. "/s.csv") end,
    "r:write_csv: column 1 ('P') has no values in the result's states or "
    .. "outputs (was the result changed?)", "write_csv of a removed state")
  t.ok(not t.read_file(dir .. "/s.csv"), "... no file written")
  t.raises(function()
    pk:simulate { params = { nosuch = 1 }, times = { 1 } }
  end, "pk:simulate: params: model 'pk': unknown parameter 'nosuch'; known "
    .. "parameters: kKP, kPK, kU", "an unknown parameter")
end

-- ------------------------------------------------------ freed objects
do
  local st = rk.dosimetry.stable { rows = { "K" }, cols = { "K" },
                                   s = { { 1 } } }
  getmetatable(st).__gc(st)
  t.raises(function() st:get("K", "K") end, "S table: already freed",
    "get of a freed S table")
  local tc = rk.tare.cohort()
  getmetatable(tc).__gc(tc)
  t.raises(function() tc:plan(1) end, "rk.tare cohort: already freed",
    "plan of a freed TARE cohort")
end

-- ------------------------------------------------------------- images
t.raises(function()
  rk.image.new { dims = { 2, 2, 2 }, direction = { 1, 0 } }
end, "rk.image.new: field 'direction' must hold 9 numbers (got 2)",
  "a direction of 2 numbers")


-- --------------------------------------------------- conditions traced
t.raises(function()
  rk.model { name = "tr", states = { "A" }, params = { k = 0.1 },
    ode = function(s) return { A = rk.ifelse(s.A, 1, 2) } end }
end, "rk.model 'tr': ode: rk.ifelse: argument 1 (A) is a number, not a "
  .. "condition; expected a comparison such as rk.gt(x, y), rk.all/rk.any "
  .. "of comparisons, or true/false", "rk.ifelse of a number")
t.raises(function()
  rk.model { name = "ev", states = { "A" }, params = { k = 0.1 },
    ode = function(s, p) return { A = -p.k * s.A } end,
    events = { { name = "e", trigger = function(s) return s.A end,
                 assign = function() return { A = 1 } end } } }
end, "rk.model 'ev': event 'e' trigger: the trigger (A) is a number, not a "
  .. "condition; expected a comparison such as rk.gt(x, y), rk.all/rk.any "
  .. "of comparisons, or true/false", "an event triggered by a number")

-- ------------------------------------------------ rk.regimen's carrier
do
  local uw = rk.model { name = "uw", nuclide = "Lu-177", states = { "B", "K" },
    params = { kK = 0.02, kout = 0.3, kKo = 0.01 },
    ode = function(s, p)
      return { B = -(p.kK + p.kout) * s.B, K = p.kK * s.B - p.kKo * s.K }
    end }
  local function run(o)
    local a = { model = uw, patients = { {} }, inject = "B",
                regions = { kidney = { activity = "K", mass_kg = 0.3,
                                       alpha_beta_Gy = 2.6, t_rep_h = 2.8 } },
                interval_h = 2000, rule = "empiric", activity_gbq = 7.4,
                n_cycles = 2, progress = false }
    for k, v in pairs(o) do a[k] = v end
    return function() return rk.regimen(a) end
  end
  t.ok(pcall(run {}), "the base regimen runs")
  t.raises(run { carrier = 5 }, "rk.regimen: carrier must be a table "
    .. "{state =, per_mbq =} or false (got number)", "a carrier number")
  t.raises(run { model = { model = uw, carrier = 5 } }, "rk.regimen: the "
    .. "model file's carrier must be a table {state =, per_mbq =} or false "
    .. "(got number)", "a model file's carrier that is a number")
  t.raises(run { carrier = { state = "Q", per_mbq = 1 } }, "rk.regimen: "
    .. "carrier: state 'Q' is not a state of model 'uw'",
    "a carrier state the model lacks")
  -- PP-PRRT plans from the kidney's dose per GBq: a kidney state that
  -- never receives activity gives 0, and the rule says it cannot plan
  local z = rk.model { name = "z", nuclide = "Lu-177",
    states = { "B", "K", "Z" }, params = { kK = 0.02, kout = 0.3 },
    ode = function(s, p)
      return { B = -(p.kK + p.kout) * s.B, K = p.kK * s.B, Z = 0 * s.B }
    end }
  t.raises(run { model = z, rule = "pp-prrt", activity_gbq = 3, n_cycles = 4,
                 target_gy = 23,
                 regions = { kidney = { activity = "Z", mass_kg = 0.3,
                                        alpha_beta_Gy = 2.6,
                                        t_rep_h = 2.8 } } },
    "rk.regimen: patient 1 (patients[1]) failed: patient 1, before cycle 2: "
    .. "rule failed: kidney dose per GBq of cycle 1 is 0 Gy/GBq (dose 0 Gy, "
    .. "3 GBq): the rule cannot plan from it", "PP-PRRT from a kidney dose "
    .. "of 0")
end

-- ------------------------------------------------ prelude and helpers
t.raises(function() rk.mpi.range(10, 0, 0) end,
  "rk.mpi.range: size must be >= 1 (got 0)", "a block of 0 ranks")
t.raises(function() rk.sbml.load(dir .. "/none.xml", 5) end,
  "rk.sbml.load: options must be a table (got 5.0)", "SBML options a number")
do
  local csv = t.write_file(dir .. "/a.csv", "x,y\n1,2\n")
  t.raises(function() rk.csv.read(csv, { numeric = { "z" } }) end,
    "rk.csv.read: .-/a%.csv has no column 'z'", "a numeric column the file "
    .. "lacks")
  -- plot files: nothing written, or a folder where a plot should go
  local pf = rk.plot_files { dir .. "/p.png" }
  t.raises(function() pf:commit() end, "'" .. dir .. "/p.png' was not "
    .. "written", "a plot that wrote no file")
  rk.mkdir(dir .. "/q.png")
  local pq = rk.plot_files { dir .. "/q.png" }
  t.write_file(pq.tmp[1], "x")
  -- (patterns: the scratch folder's name is not part of the literal)
  t.raises(function() pq:commit() end, "cannot write '.-/q%.png': it is a "
    .. "directory, not a regular file; refusing to replace it$",
    "a plot onto a folder")
  t.ok(not t.read_file(pq.tmp[1]), "... its temporary removed")
end

-- ---------------------------------------------------------------- SBML
do
  local L3 = '<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns='
    .. '"http://www.sbml.org/sbml/level3/version2/core" level="3" '
    .. 'version="2"'
  local COMP = ' xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/'
    .. 'version1" comp:required="true"'
  -- a submodel of a definition the document lacks: libSBML's flattening
  -- fails and says so
  local sub = t.write_file(dir .. "/sub.xml", L3 .. COMP .. [[>
  <model id="m">
    <comp:listOfSubmodels>
      <comp:submodel comp:id="A" comp:modelRef="nosuch"/>
    </comp:listOfSubmodels>
  </model>
  <comp:listOfModelDefinitions>
    <comp:modelDefinition id="elim">
      <listOfCompartments>
        <compartment id="C" size="1" constant="true" spatialDimensions="3"/>
      </listOfCompartments>
    </comp:modelDefinition>
  </comp:listOfModelDefinitions>
</sbml>
]])
  t.raises(function() rk.sbml.load(sub, { time_unit = "h", quiet = true })
  end, "sub%.xml:1: the hierarchical %(comp%) model cannot be flattened: "
    .. "Model failed to flatten%. %(libSBML 1090104%)",
    "a submodel of a missing definition")
  -- decay of a nuclide asked for a parameter set by a rate rule
  local rr = t.write_file(dir .. "/rr.xml", L3 .. [[>
  <model id="m">
    <listOfCompartments>
      <compartment id="C" size="1" constant="true" spatialDimensions="3"/>
    </listOfCompartments>
    <listOfParameters>
      <parameter id="q" value="1" constant="false"/>
    </listOfParameters>
    <listOfRules>
      <rateRule variable="q">
        <math xmlns="http://www.w3.org/1998/Math/MathML"><cn>-0.1</cn></math>
      </rateRule>
    </listOfRules>
  </model>
</sbml>
]])
  t.raises(function()
    rk.sbml.load(rr, { time_unit = "h", quiet = true, nuclide = "Lu-177" })
  end, "rr.xml: nuclide: parameter 'q' is a state set by a rate rule or an "
    .. "event; decay is added only to species", "a nuclide's decay on a "
    .. "parameter with a rate rule")
end

-- a derivative whose 30 nested sums share their operand: 2^30 nodes as
-- the MathML trees SBML writes
do
  local deep = rk.model { name = "deep", states = { "A" },
    params = { k = 0.1 },
    ode = function(s, p)
      local x = s.A
      for _ = 1, 30 do x = x * p.k + x end
      return { A = -x }
    end }
  t.raises(function() deep:write_sbml(dir .. "/deep.xml") end,
    "m:write_sbml: model 'deep': its equations written as MathML trees "
    .. "would exceed 5000000 nodes (shared subexpressions nest too deeply)",
    "SBML of an expression nesting 2^30 nodes")
  t.ok(not t.read_file(dir .. "/deep.xml"), "... no file written")
end

-- a population fit's record (fit.csv) read back by radiokin.popcheck
do
  local check = require "radiokin.popcheck"
  local fd = dir .. "/fit"
  rk.mkdir(fd)
  t.write_file(fd .. "/fit.csv", "kind,name,row,col,value\n"
    .. "model,,,,/m.lua\nbogus,,,,1\n")
  t.raises(function() check.read_fit_spec(fd) end,
    "fit.csv:3: column kind: unknown 'bogus'", "a fit record row of an "
    .. "unknown kind")
  t.write_file(fd .. "/fit.csv", "kind,name,row,col,value\ntheta,a,,,1\n")
  t.raises(function() check.read_fit_spec(fd) end,
    "fit.csv: no 'model' row (the fit record is incomplete)",
    "a fit record without its model row")
end

-- the TAP module's own guard: a second plan (its "1..n" lines go to a
-- scratch file, not to this test's output)
do
  package.loaded["radiokin.tap"] = nil
  local t2 = require "radiokin.tap"
  package.loaded["radiokin.tap"] = t
  local out, saved = assert(io.open(dir .. "/tap.out", "w")), io.stdout
  io.stdout = out
  t2.plan(1)
  local ok, e = pcall(t2.plan, 1)
  io.stdout = saved
  out:close()
  t.ok(not ok and tostring(e):find("tap: plan() called twice", 1, true),
    "a second plan is refused: " .. tostring(e))
end

t.done()
