-- tests/reference.lua - every name radiokin exports to Lua is documented in
-- dsl/README.md. The names are enumerated at run time, not listed here:
--  * every field of rk (functions and values) and of every module rk can
--    reach (package.preload "radiokin.<name>", loaded lazily as rk.<name>):
--    documented as rk.<module>.<name> (or under the alias the reference
--    uses for that module: t. for radiokin.tap, od. for radiokin.organdose);
--  * the methods of every radiokin userdata or result type (metatables
--    "radiokin.*" with an __index table, and the model's methods):
--    documented as :<name> or .<name>;
--  * the fields of objects whose __index is a function (model, simulate
--    result, population, population model, dataset), read from the
--    "(fields: ...)" list of their own error message: as .<name> / :<name>;
--  * the fields of the tables results are returned in (rk.tac.fit, stp,
--    map, rk.radiobio.*, rk.dosimetry.*, rk.tare.plan, rk.regimen, rk.cohort,
--    patients) and of the table a Lua rule function of rk.regimen receives:
--    each named in the reference (as a word).
-- One test per name, so a failure names what is missing.
local rk = require "radiokin"
local t = require "radiokin.tap"

local srcdir = os.getenv("RADIOKIN_SRCDIR") or "."
local readme = assert(t.read_file(srcdir .. "/dsl/README.md"),
  "cannot read dsl/README.md")

local seen = {}
-- The text occurs in the reference, not followed by a name character.
local function has(text)
  local from = 1
  while true do
    local a, b = readme:find(text, from, true)
    if not a then return false end
    if not readme:sub(b + 1, b + 1):find("[%w_]") then return true end
    from = a + 1
  end
end
local function check(what, ok)
  if seen[what] then return end
  seen[what] = true
  t.ok(ok, what .. " is documented in dsl/README.md")
end
-- A word, with no name character on either side.
local function has_word(w)
  return readme:find("%f[%w_]" .. w:gsub("%p", "%%%0") .. "%f[^%w_]") ~= nil
end
local function sorted_keys(tbl)
  local k = {}
  for name in pairs(tbl) do
    if type(name) == "string" then k[#k + 1] = name end
  end
  table.sort(k)
  return k
end

-- ------------------------------------------------------ rk and modules
local alias = { tap = "t.", organdose = "od." }
local exported = {}                      -- function -> "rk.name"
for _, k in ipairs(sorted_keys(rk)) do
  check("rk." .. k, has("rk." .. k))
  if type(rawget(rk, k)) == "function" then exported[rawget(rk, k)] = k end
end
for _, k in ipairs(sorted_keys(rk.csv)) do
  check("rk.csv." .. k, has("rk.csv." .. k))
end
local modules = {}
for name in pairs(package.preload) do
  local sub = name:match("^radiokin%.([%w_]+)$")
  if sub then modules[#modules + 1] = sub end
end
table.sort(modules)
for _, sub in ipairs(modules) do
  local shadowed = rawget(rk, sub) ~= nil   -- rk.model is model.new, ...
  local m = require("radiokin." .. sub)
  if not shadowed then check("rk." .. sub, has("rk." .. sub)) end
  if type(m) == "table" then
    for _, k in ipairs(sorted_keys(m)) do
      local v = m[k]
      if shadowed and exported[v] then
        -- re-exported as rk.<name>: checked above
      else
        local path = (alias[sub] or ("rk." .. sub .. ".")) .. k
        check(path, has(path))
      end
    end
  end
end

-- ------------------------------------------- methods of userdata types
local function check_method(type_name, k)
  check(("%s method %s"):format(type_name, k),
    has(":" .. k) or has("." .. k))
end
for name, mt in pairs(debug.getregistry()) do
  if type(name) == "string" and name:find("^radiokin%.")
      and type(mt) == "table" then
    if type(mt.__index) == "table" then
      for _, k in ipairs(sorted_keys(mt.__index)) do check_method(name, k) end
    end
    if type(mt.methods) == "table" then
      for _, k in ipairs(sorted_keys(mt.methods)) do check_method(name, k) end
    end
  end
end

-- --------------------------- fields of objects with an __index function
local function fields_of(label, obj)
  local ok, msg = pcall(function() return obj.no_such_field_zz end)
  local list = not ok and tostring(msg):match("%(fields: ([^)]*)%)")
  -- "..., write_csv, and each state/output by name": the names only
  if list then list = list:gsub(",? and .*$", "") end
  t.ok(list, label .. ": its error message lists its fields")
  for f in (list or ""):gmatch("[%w_]+") do
    check(("%s field %s"):format(label, f), has("." .. f) or has(":" .. f))
  end
end

local m = rk.model {
  name = "one", nuclide = "Lu-177", states = { "A", "B" },
  params = { k = 0.1, ke = 0.05 },
  ode = function(s, p) return { A = -p.k * s.A, B = p.k * s.A - p.ke * s.B } end,
}
fields_of("model", m)
local r = m:simulate { doses = { { time = 0, amount = 100, to = "A" } },
  times = { 0, 10 }, tia = { "A" }, path = "exact" }
fields_of("simulate result", r)
local pop = rk.population { model = m, cv = { k = 0.2 },
  covariates = { W = { unit = "kg", dist = "normal", mean = 70, sd = 10 } } }
fields_of("population", pop)
local pm = rk.popest { name = "pm", model = m, observe = "B",
  theta = { lk = -2.3 }, omega = { lk = 0.1 },
  individual = function(th, eta) return { k = rk.exp(th.lk + eta.lk) } end,
  error = { proportional = 0.1 } }
fields_of("population model", pm)
local csv = os.tmpname()
rk.write_atomic(csv, "ID,TIME,AMT,DV,EVID,MDV,CMT\n1,0,100,.,1,1,A\n"
  .. "1,1,.,5,0,0,B\n1,4,.,8,0,0,B\n")
local ok_data, data = pcall(rk.popest.read, csv, pm)
os.remove(csv)
if ok_data then fields_of("dataset", data)
else t.ok(false, "a tiny dataset reads: " .. tostring(data)) end

-- ----------------------------------------------- fields of result tables
local function check_fields(label, tbl)
  for _, k in ipairs(sorted_keys(tbl)) do
    check(("%s field %s"):format(label, k), has_word(k))
  end
end

local fit = rk.tac.fit { t = { 4, 24, 72, 168 }, a = { 40, 60, 35, 10 },
  nuclide = "Lu-177", cv = 0.1 }
check_fields("rk.tac.fit result", fit)
for _, name in ipairs(fit.order) do
  check_fields("rk.tac.fit candidate", fit.candidates[name])
end
check_fields("rk.tac.stp result", rk.tac.stp { t = 48, a = 100 })
check_fields("rk.radiobio.organ result", rk.radiobio.organ "kidney")
check_fields("rk.radiobio.curve result", rk.radiobio.curve {
  c = { 1 }, b = { 0.01 }, organ = "kidney" })
check_fields("rk.dosimetry.sphere result", rk.dosimetry.sphere {
  nuclide = "Lu-177", mass_kg = 0.01 })
check_fields("rk.dosimetry.doserate result", rk.dosimetry.doserate {
  nuclide = "Lu-177", a_MBq = { 100 }, b_per_h = { 0.01 }, mass_kg = 0.3 })
local plan = rk.tare.plan { product = "SIR-Spheres", cf = 49.67,
  mass_kg = 1.5, lsf = 0.1, lesions = { { mass_kg = 0.3, tn = 4 } },
  mode = "tumour", target_gy = 120 }
check_fields("rk.tare.plan result", plan)
check_fields("rk.tare.plan territory", plan.territories[1])
check_fields("rk.tare.plan lesion", plan.territories[1].lesions[1])
check_fields("rk.tare.plan check", plan.checks[1])
check_fields("rk.tare.products entry", rk.tare.products()[1])

local c = rk.cohort { model = m, n = 3, cv = 0.2, cycles = 2,
  interval_h = 100, doses = { { time = 0, amount = 100, to = "A" } },
  tia = { "A" }, progress = false }
check_fields("rk.cohort result", c)
check_fields("c:summary row", c:summary()[1])
local pts = pop:sample { n = 2, seed = 1 }
local patient = {}
for k, v in pairs(pts[1]) do
  if m.params[k] == nil then patient[k] = v end   -- not a parameter name
end
check_fields("patient", patient)

local given
local reg = rk.regimen { model = m, patients = { { cov = { W = 70 } } },
  inject = "A",
  regions = { kidney = { activity = "B", mass_kg = 0.3, alpha_beta_Gy = 2.6,
                         t_rep_h = 2.8 } },
  interval_h = 1000, progress = false,
  rule = function(k)
    given = given or k
    if k.given < 2 then return 1 end
  end }
check_fields("rk.regimen result", reg)
t.ok(given, "the rule function was called")
check_fields("the table a rk.regimen rule function receives", given or {})

t.done()
