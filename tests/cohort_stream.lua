-- tests/cohort_stream.lua - rk.cohort{csv = path}: the rows streamed to
-- the CSV in chunks are the bytes c:write_csv writes for the same cohort
-- in memory (uneven chunks, failed patients as empty fields); the
-- summaries are the ones c:summary computes (exactly: the same GSL calls
-- on the same sorted values), counts over limits equal counting the
-- in-memory TIAs; bad input and failures leave no file behind.
local rk = require "radiokin"
local t = require "radiokin.tap"

local srcdir = os.getenv("RADIOKIN_SRCDIR") or "."
local m = dofile(srcdir .. "/models/lu177_6c.lua")
local tmp = t.scratch()
local read = t.read_file

local function spec(extra)
  local s = { model = m, n = 1000, cv = 0.3, seed = 5, cycles = 4,
              interval_h = 1344, doses = { { time = 0, amount = 7400,
              to = "P" } }, tia = { "K", "T" }, path = "exact",
              progress = false }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

-- the same cohort in memory and streamed
local c = rk.cohort(spec())
c:write_csv(tmp .. "/mem.csv")
local want = read(tmp .. "/mem.csv")
local limits = { K = 30000, T = 20000 }
local qs = { 0.025, 0.5, 0.975 }
for _, chunk in ipairs { 97, 1000, 8192 } do
  local path = tmp .. "/s" .. chunk .. ".csv"
  local s = rk.cohort(spec { csv = path, chunk = chunk })
  t.ok(read(path) == want, ("chunk %d: streamed CSV byte-identical to "
    .. "c:write_csv"):format(chunk))
  t.ok(s.streamed and s.csv == path and s.n == 1000 and s.steps == c.steps,
    "chunk " .. chunk .. ": n, csv, steps")
end

-- on CVODES with batches of 8 patients: chunks of 13 are rounded up to
-- whole batches (16), so the groups, the TIAs and the steps are those of
-- the cohort in memory
do
  local cv = rk.cohort(spec { n = 60, cycles = 2, path = "cvodes",
                              batch = 8 })
  cv:write_csv(tmp .. "/cvmem.csv")
  local s = rk.cohort(spec { n = 60, cycles = 2, path = "cvodes", batch = 8,
                             csv = tmp .. "/cv13.csv", chunk = 13 })
  t.ok(read(tmp .. "/cv13.csv") == read(tmp .. "/cvmem.csv")
       and s.steps == cv.steps, "cvodes, batch 8, chunk 13: streamed CSV "
       .. "byte-identical to the in-memory cohort's, the same steps")
end

do
  local s = rk.cohort(spec { csv = tmp .. "/q.csv", chunk = 97,
                             quantiles = qs, limits = limits })
  local same, keys = true, { "n", "mean", "sd", "min", "max", "median",
                             "p2.5", "p50", "p97.5" }
  local worst = ""
  for _, name in ipairs { "K", "T" } do
    for _, cum in ipairs { false, true } do
      local a = c:summary(name, { quantiles = qs, cumulative = cum })
      local b = s:summary(name, { cumulative = cum })
      for cy = 1, 4 do
        for _, k in ipairs(keys) do
          if a[cy][k] ~= b[cy][k] then
            same = false
            worst = ("%s cycle %d %s: %s vs %s"):format(name, cy, k,
              tostring(a[cy][k]), tostring(b[cy][k]))
          end
        end
        if a[cy].q[2] ~= b[cy].q[2] then same = false end
      end
    end
  end
  t.ok(same, "summaries (per cycle and cumulative, both names, quantiles "
    .. "2.5/50/97.5) equal c:summary's exactly " .. worst)
  -- counts over the limits, counted by hand from the in-memory TIAs
  local ok = true
  for name, lim in pairs(limits) do
    local acc = {}
    for cy = 1, 4 do
      local over, over_cum = 0, 0
      for i = 1, c.n do
        local v = c.tia[name][cy][i]
        acc[i] = (acc[i] or 0) + v
        if v > lim then over = over + 1 end
        if acc[i] > lim then over_cum = over_cum + 1 end
      end
      if s:summary(name)[cy].over ~= over
         or s:summary(name, { cumulative = true })[cy].over ~= over_cum then
        ok = false
      end
    end
  end
  t.ok(ok, "counts over the limits (K 30000, T 20000 MBq h; per cycle and "
    .. "cumulative) equal counting the in-memory TIAs")
  t.ok(s:summary("K")[2].over > 0 and s:summary("K")[2].over < 1000,
    "... and the K limit splits the cohort (the count is not trivially 0 "
    .. "or n)")
  t.is(c:summary("K")[1].over, nil, 0, "no limit, no count (in memory)")
  -- a limit equal to a patient's TIA: "over" is strictly above it
  local at = c.tia.K[2][10]
  local tie = rk.cohort(spec { csv = tmp .. "/tie.csv", limits = { K = at } })
  local above = 0
  for i = 1, c.n do if c.tia.K[2][i] > at then above = above + 1 end end
  t.is(tie:summary("K")[2].over, above, 0, "a limit equal to patient 10's "
    .. "cycle-2 TIA: counted strictly above (" .. above .. ")")
  local nolim = rk.cohort(spec { csv = tmp .. "/nolim.csv" })
  t.is(nolim:summary("K")[1].over, nil, 0, "no limit, no count (streamed)")
end

-- failed patients: an output sqrt(a - 1) with a log-normal around 1.2
-- fails for the patients drawn below 1
do
  local f = rk.model { name = "f", states = { "A" },
    params = { k = 0.1, a = 1.2 },
    ode = function(s, p) return { A = -p.k * s.A } end,
    outputs = function(s, p) return { Y = rk.sqrt(p.a - 1) * s.A } end }
  local base = { model = f, n = 300, cv = { a = 0.3 }, seed = 1, cycles = 2,
    interval_h = 10, doses = { { time = 0, amount = 1, to = "A" } },
    tia = { "Y" }, progress = false }
  local mem = rk.cohort(base)
  mem:write_csv(tmp .. "/fmem.csv")
  base.csv, base.chunk = tmp .. "/fstr.csv", 17
  local s = rk.cohort(base)
  -- one patient a chunk: the first failure is numbered in the whole
  -- cohort, not in its chunk
  base.csv, base.chunk = tmp .. "/fstr1.csv", 1
  local s1 = rk.cohort(base)
  t.ok(mem.failed[1].id > 1 and s1.failed.first_message
       == mem.failed.first_message, "chunks of one patient: the first "
       .. "failure (patient " .. mem.failed[1].id .. ") named as in memory")
  t.ok(#mem.failed > 0 and #mem.failed < 300, ("some patients fail (%d)")
    :format(#mem.failed))
  local ids_ok = s.failed.count == #mem.failed and #s.failed == #mem.failed
  for i, e in ipairs(mem.failed) do
    if not s.failed[i] or s.failed[i].id ~= e.id
       or s.failed[i].code ~= e.code then ids_ok = false end
  end
  t.ok(ids_ok, "the same failed ids and codes")
  t.is(s.failed.first_message, mem.failed.first_message, 0,
    "the same first message (patient numbered in the whole cohort)")
  t.ok(read(tmp .. "/fstr.csv") == read(tmp .. "/fmem.csv"),
    "failed patients: empty fields, CSV byte-identical")
  t.is(s:summary("Y")[1].n, 300 - #mem.failed, 0, "summaries leave them out")
end

-- bad input
do
  t.raises(function() rk.cohort(spec { csv = tmp .. "/x.csv",
    patients = { {} }, n = nil }) end, "field 'csv' streams sampled "
    .. "patients", "csv with patients given as a table")
  t.raises(function() rk.cohort(spec { csv = "-" }) end,
    "field 'csv' must be a file name", "csv = \"-\"")
  t.raises(function() rk.cohort(spec { csv = tmp .. "/x.csv",
    limits = { Q = 1 } }) end, "limits: 'Q' is not one of the field 'tia' "
    .. "names", "a limit on an unknown name")
  t.raises(function() rk.cohort(spec { csv = tmp .. "/x.csv",
    limits = { K = "lots" } }) end, "limits.K must be a finite number",
    "a limit that is not a number")
  t.raises(function() rk.cohort(spec { csv = tmp .. "/x.csv",
    quantiles = { 1.5 } }) end, "quantiles%[1%] must be a probability",
    "a quantile above 1")
  t.raises(function() rk.cohort(spec { csv = tmp .. "/x.csv", chunk = 0 })
  end, "field 'chunk' must be an integer in %[1, ", "chunk 0")
  t.raises(function() rk.cohort(spec { limits = { K = 1 } }) end,
    "belong to a streamed cohort", "limits without csv")
  t.is(read(tmp .. "/x.csv"), nil, 0, "no file from the refused calls")
  local s = rk.cohort(spec { n = 10, csv = tmp .. "/y.csv" })
  t.raises(function() s:write_csv(tmp .. "/z.csv") end,
    "streamed: its rows are in '" .. tmp .. "/y.csv' already",
    "c:write_csv of a streamed cohort")
  t.raises(function() s:summary("K", { quantiles = { 0.1 } }) end,
    "its quantiles are the ones asked for", "other quantiles afterwards")
  rk.mkdir(tmp .. "/dir.csv")
  t.raises(function() rk.cohort(spec { n = 10, csv = tmp .. "/dir.csv" })
  end, "it is a directory", "a folder at the path is refused")
  t.raises(function() rk.cohort(spec { n = 10,
    csv = tmp .. "/no/such/dir/a.csv" }) end, "no/such/dir",
    "a missing folder is named")
  -- a call that fails in the solver, after the file was begun, leaves
  -- neither the CSV nor a temporary
  rk.mkdir(tmp .. "/fail")
  t.raises(function() rk.cohort(spec { n = 10, chunk = 3, path = "cvodes",
    rtol = -1, csv = tmp .. "/fail/a.csv" }) end,
    "rk.cohort: solver option rtol = %-1 is invalid",
    "a solver failure is raised with the solver's message")
  local st, out = rk.run { "ls", "-A", tmp .. "/fail" }
  t.ok(st == 0 and out == "", "nothing left in the folder of a failed "
    .. "streamed cohort")
end

t.done()
