-- sbml_suite.lua - the SBML Test Suite's semantic cases (sbmlteam/
-- sbml-test-suite, cases/semantic/; the conformance suite of libRoadRunner,
-- COPASI and AMICI) through rk.sbml.load and m:simulate.
--
--   radiokin tests/sbml_suite.lua [SUITE_DIR [fast|all [CASE...]]]
--
-- SUITE_DIR defaults to $RADIOKIN_SRCDIR/../shared/sbml-test-suite (the
-- suite is not part of radiokin); without it the run is skipped with that
-- reason. "fast" (the default, for make check) takes every 18th case
-- (00001, 00019, ...: about 100 of 1821); "all" every case (make
-- sbml-suite). Each case: its tags (componentTags and testTags of
-- NNNNN-model.m) decide whether radiokin supports it (else "unsupported"
-- with the excluding tag); the Level 3 Version 2 file (else Level 2
-- Version 4) is loaded with the model's own time unit, simulated at the
-- settings file's times, and every variable compared with the case's
-- tolerances: |computed - expected| <= absolute + relative |expected|.
-- One TAP line per supported case; counts by tag at the end. A passing
-- case with events is also written (m:write_sbml) and read back, and
-- written as Lua (rk.sbml.to_lua) and run: both must give the first
-- simulation to 1e-12 relative (one more TAP line).
local rk = require "radiokin"
local t = require "radiokin.tap"

local src = os.getenv("RADIOKIN_SRCDIR") or "."
local suite = arg and arg[1] or (src .. "/../shared/sbml-test-suite")
local mode = arg and arg[2] or "fast"
local only = {}
for k = 3, arg and #arg or 0 do only[#only + 1] = arg[k] end

-- Tags radiokin does not support, and why.
local UNSUPPORTED = {
  RandomEventExecution = "random order of simultaneous events",
  DelayInTrigger = "delay",
  AlgebraicRule = "algebraic rules", FastReaction = "fast reactions",
  CSymbolDelay = "delay",
}

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function list(s)
  local out = {}
  for w in (s or ""):gmatch("[^,%s]+") do out[#out + 1] = w end
  return out
end

local function settings(text)
  local s = {}
  for line in text:gmatch("[^\r\n]+") do
    local k, v = line:match("^(%w+):%s*(.-)%s*$")
    if k then s[k] = v end
  end
  return {
    start = tonumber(s.start), duration = tonumber(s.duration),
    steps = tonumber(s.steps), variables = list(s.variables),
    absolute = tonumber(s.absolute), relative = tonumber(s.relative),
    amount = list(s.amount), concentration = list(s.concentration),
  }
end

local function tags(model_m)
  local out = {}
  for _, key in ipairs({"componentTags", "testTags"}) do
    local line = model_m:match(key .. ":%s*([^\r\n]*)")
    for _, w in ipairs(list(line)) do out[#out + 1] = w end
  end
  return out, model_m:match("testType:%s*(%S+)")
end

local function results(text)
  local rows, header = {}, nil
  for line in text:gmatch("[^\r\n]+") do
    local cells = {}
    for c in (line .. ","):gmatch("%s*([^,]-)%s*,") do cells[#cells + 1] = c end
    if not header then
      header = cells
    else
      local row = {}
      for k, c in ipairs(cells) do row[header[k]] = tonumber(c) end
      rows[#rows + 1] = row
    end
  end
  return rows
end

-- The value of SBML id `id` over the run: role state/output/param, as
-- amount or concentration.
local function series(m, info, r, id, n)
  local name = info.names[id]
  if not name then return nil, "unknown variable " .. id end
  local sym
  for _, s in ipairs(info.symbols) do
    if s.name == name then sym = s end
  end
  local v = {}
  if sym.kind == "reaction" then
    -- the reaction's rate in the model's units (fluxes are per hour)
    local f = r.outputs["flux:" .. name]
    if not f then return nil, id .. ": no flux output" end
    for k = 1, n do v[k] = f[k] * info.hours_per_unit end
  elseif sym.role == "state" then
    for k = 1, n do v[k] = r.states[name][k] end
  elseif sym.role == "output" then
    for k = 1, n do v[k] = r.outputs[name][k] end
  elseif sym.role == "param" then
    for k = 1, n do v[k] = m.params[name] end
  else
    return nil, id .. " is neither state, output nor parameter"
  end
  return v, nil, sym
end

local function run_case(dir, id, st)
  local file = dir .. "/" .. id .. "-sbml-l3v2.xml"
  if not read(file) then file = dir .. "/" .. id .. "-sbml-l2v4.xml" end
  local ok, m, info = pcall(rk.sbml.load, file, {quiet = true,
                                                 fluxes = true})
  if not ok then return false, "load: " .. tostring(m) end
  local h = info.hours_per_unit
  local times = {}
  for k = 0, st.steps do
    times[#times + 1] = (st.start + st.duration * k / st.steps) * h
  end
  local ok2, r = pcall(m.simulate, m, {times = times, rtol = 1e-10,
                                        atol = 1e-16, max_steps = 500000})
  if not ok2 then return false, "simulate: " .. tostring(r) end
  local expected = results(read(dir .. "/" .. id .. "-results.csv"))
  local conc = {}
  for _, c in ipairs(st.concentration) do conc[c] = true end
  local worst, where = 0, nil
  for _, var in ipairs(st.variables) do
    local v, err, sym = series(m, info, r, var, #times)
    if not v then return false, err end
    local size
    if sym.kind == "species" and ((conc[var] or false) ~= (sym.holds == "concentration")) then
      local cid
      for _, s in ipairs(info.symbols) do
        if s.name == sym.compartment then cid = s.id end
      end
      size = series(m, info, r, cid, #times)
    end
    for k = 1, #times do
      local got = v[k]
      if size then
        if conc[var] then got = got / size[k] else got = got * size[k] end
      end
      local want = expected[k] and expected[k][var]
      if want == nil then return false, "no expected value of " .. var end
      local tol = st.absolute + st.relative * math.abs(want)
      local d = math.abs(got - want)
      if want ~= want then d = (got ~= got) and 0 or math.huge end
      if not (d <= tol) and (d / tol > worst or worst == 0) then
        worst, where = d / tol, ("%s at t = %g: %.10g, expected %.10g"):format(
          var, times[k] / h, got, want)
      end
    end
  end
  if where then return false, where end
  return true, nil, m, r, times, file
end

-- Worst relative difference of run r2 of m2 from run r of m, over m's
-- states and outputs (nil and a message when m2 lacks one; the reaction
-- rates, flux:NAME outputs of the first load only, are not compared).
local function worst_diff(m, r, m2, r2)
  local w = 0
  for _, kind in ipairs({"states", "outputs"}) do
    for _, n in ipairs(m[kind]) do
      if n:match("^flux:") then goto next end
      local a, b = r[kind][n], r2[kind][n]
      if not b then return nil, ("%s '%s' missing"):format(kind, n) end
      for k = 1, #a do
        if a[k] ~= b[k] then
          w = math.max(w, math.abs(a[k] - b[k]) / math.max(math.abs(a[k]), math.abs(b[k])))
        end
      end
      ::next::
    end
  end
  return w
end

local scratch = t.scratch()

-- m (loaded from file, run r at times) -> write_sbml -> load, and
-- file -> to_lua -> dofile: the same runs to 1e-12.
local function round_trip(id, m, r, times, file)
  local q = {times = times, rtol = 1e-10, atol = 1e-16, max_steps = 500000}
  local xf, lf = scratch .. "/" .. id .. ".xml", scratch .. "/" .. id .. ".lua"
  local ok, err = pcall(function()
    m:write_sbml(xf)
    local m2 = rk.sbml.load(xf, {quiet = true})
    local w1, e1 = worst_diff(m, r, m2, m2:simulate(q))
    if not w1 then error("write_sbml: " .. e1) end
    rk.sbml.to_lua(file, lf, {quiet = true})
    local m3 = dofile(lf)
    local w2, e2 = worst_diff(m, r, m3, m3:simulate(q))
    if not w2 then error("to_lua: " .. e2) end
    if w1 > 1e-12 or w2 > 1e-12 then
      error(("worst rel. diff %.3g (write_sbml), %.3g (to_lua)"):format(w1, w2))
    end
  end)
  os.remove(xf)
  os.remove(lf)
  return ok, err
end

local dir = suite .. "/cases"
if not read(dir .. "/00001/00001-settings.txt") then
  t.skip("SBML Test Suite not found at " .. suite, 1)
  t.done()
  return
end

local cases = {}
if #only > 0 then
  cases = only
else
  for k = 1, 1821 do
    if mode == "all" or (k - 1) % 18 == 0 then
      cases[#cases + 1] = ("%05d"):format(k)
    end
  end
end

local by_tag, totals, failures = {}, {pass = 0, fail = 0, unsupported = 0}, {}
local n_round = 0
local function count(tagl, what)
  totals[what] = totals[what] + 1
  for _, tg in ipairs(tagl) do
    by_tag[tg] = by_tag[tg] or {pass = 0, fail = 0, unsupported = 0}
    by_tag[tg][what] = by_tag[tg][what] + 1
  end
end

for _, id in ipairs(cases) do
  local cdir = dir .. "/" .. id
  local mm = read(cdir .. "/" .. id .. "-model.m")
  local st = read(cdir .. "/" .. id .. "-settings.txt")
  if mm and st then
    local tagl, ttype = tags(mm)
    local why
    if ttype ~= "TimeCourse" then why = "testType " .. tostring(ttype) end
    for _, tg in ipairs(tagl) do
      if not why and (UNSUPPORTED[tg] or tg:match("^fbc:")) then
        why = tg
      end
    end
    if not why and not read(cdir .. "/" .. id .. "-sbml-l3v2.xml")
       and not read(cdir .. "/" .. id .. "-sbml-l2v4.xml") then
      why = "no L3V2 or L2V4 file"
    end
    -- comp:ExternalModelDefinition: the files it names are not in the copy
    -- of the suite radiokin reads (only NNNNN-* files are kept)
    for src in (read(cdir .. "/" .. id .. "-sbml-l3v2.xml") or "")
        :gmatch('comp:source="([^"]+)"') do
      if not why and not read(cdir .. "/" .. src) then
        why = "external model file " .. src .. " not in this copy"
      end
    end
    if why then
      count(tagl, "unsupported")
      t.diag(("%s unsupported: %s"):format(id, why))
    else
      local pass, msg, m, r, times, file = run_case(cdir, id, settings(st))
      count(tagl, pass and "pass" or "fail")
      t.ok(pass, ("case %s (%s)"):format(id, table.concat(tagl, ", ")))
      if not pass then
        t.diag("  " .. msg)
        failures[#failures + 1] = id
      elseif table.concat(tagl, ","):match("Event") then
        local rt, rmsg = round_trip(id, m, r, times, file)
        n_round = n_round + 1
        t.ok(rt, ("case %s: write_sbml -> load and to_lua give the same "
                  .. "simulation to 1e-12"):format(id))
        if not rt then
          t.diag("  " .. tostring(rmsg))
          failures[#failures + 1] = id .. "(round trip)"
        end
      end
    end
  end
end

local names = {}
for tg in pairs(by_tag) do names[#names + 1] = tg end
table.sort(names)
t.diag(("SBML Test Suite (%s): %d cases: %d passed, %d failed, %d unsupported")
  :format(mode, #cases, totals.pass, totals.fail, totals.unsupported))
t.diag(("%-32s %6s %6s %12s"):format("tag", "pass", "fail", "unsupported"))
for _, tg in ipairs(names) do
  local c = by_tag[tg]
  t.diag(("%-32s %6d %6d %12d"):format(tg, c.pass, c.fail, c.unsupported))
end
t.diag(("round trips of passing event cases: %d"):format(n_round))
if #failures > 0 then t.diag("failed: " .. table.concat(failures, " ")) end
t.done()
