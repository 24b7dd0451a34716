-- popcheck.lua (radiokin.popcheck) - checks of a population fit:
-- simulation from the fit over the dataset's design (pm:simulate), visual
-- predictive checks with prediction-corrected and BLQ panels (pm:vpc) and
-- the nonparametric bootstrap with percentile and BCa intervals
-- (pm:bootstrap). The simulation, resampling and interval arithmetic are
-- in C (engine/pop/popsim.c, popboot.c); this file drives them.
--
-- VPC: Holford N, "The Visual Predictive Check - superiority to standard
-- diagnostic (Rorschach) plots", PAGE 14 (2005) Abstr 738; prediction
-- correction: Bergstrand M, Hooker AC, Wallin JE, Karlsson MO, AAPS J
-- 2011;13:143-151. Bootstrap intervals: Efron B, J Am Stat Assoc
-- 1987;82:171-185 (BCa).
local rk = require "radiokin"
local popest = require "radiokin.popest"

local M = {}

local NAN = 0 / 0

local function fail(ctx, msg, ...)
  error(ctx .. ": " .. msg:format(...), 3)
end

local function check_keys(ctx, t, known)
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for k in pairs(t) do
    if not set[k] then
      fail(ctx, "unknown option '%s' (known: %s)", tostring(k),
        table.concat(known, ", "))
    end
  end
end

local function count(ctx, o, key, def, lo, hi)
  local v = o[key]
  if v == nil then return def end
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) then
    fail(ctx, "option '%s' must be an integer in [%d, %d] (got %s)", key,
      lo, hi, tostring(v))
  end
  v = math.tointeger(v)
  if not v or v < lo or v > hi then
    fail(ctx, "option '%s' must be an integer in [%d, %d] (got %s)", key,
      lo, hi, tostring(o[key]))
  end
  return v
end

local function level_opt(ctx, o, key, def)
  local v = o[key]
  if v == nil then return def end
  if type(v) ~= "number" or not (v > 0 and v < 1) then
    fail(ctx, "option '%s' must be a level in (0, 1), e.g. 0.9 (got %s)",
      key, tostring(v))
  end
  return v
end

-- The parameters of a fit result (or any table with theta, omega, sigma).
local function values_of(ctx, fit)
  if type(fit) ~= "table" or type(fit.theta) ~= "table"
    or type(fit.omega) ~= "table" or type(fit.sigma) ~= "table" then
    fail(ctx, "expected a fit result (pm:fit) or a table {theta =, omega "
      .. "=, sigma =} (got %s)", type(fit))
  end
  return { theta = fit.theta, omega = fit.omega, sigma = fit.sigma }
end

-- Type 7 quantile (R's default) of a sorted list; -inf entries (censored
-- values) take part in the ranking, so a quantile among them is -inf.
local function quantile(sorted, p)
  local n = #sorted
  if n == 0 then return NAN end
  local h = (n - 1) * p + 1
  local lo = math.floor(h)
  if lo >= n then return sorted[n] end
  local a, b = sorted[lo], sorted[lo + 1]
  if a == b then return a end
  if a == -math.huge then return -math.huge end
  return a + (h - lo) * (b - a)
end
M.quantile = quantile

local function sorted_copy(v)
  local c = {}
  for i, x in ipairs(v) do c[i] = x end
  table.sort(c)
  return c
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do
    c[k] = type(v) == "table" and copy(v) or v
  end
  return c
end

-- --------------------------------------------- parameter uncertainty

-- Cholesky factor (lower, rows) of a symmetric positive definite matrix;
-- nil when it is not.
local function cholesky(a)
  local n, l = #a, {}
  for i = 1, n do
    l[i] = {}
    for j = 1, n do l[i][j] = 0 end
  end
  for i = 1, n do
    for j = 1, i do
      local s = a[i][j]
      for k = 1, j - 1 do s = s - l[i][k] * l[j][k] end
      if i == j then
        if not (s > 0) then return nil end
        l[i][i] = math.sqrt(s)
      else
        l[i][j] = s / l[j][j]
      end
    end
  end
  return l
end
M.cholesky = cholesky

local function normal()
  -- Box-Muller on Lua's generator (xoshiro256**), seeded by the caller
  local u1, u2 = math.random(), math.random()
  if u1 < 1e-300 then u1 = 1e-300 end
  return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
end

-- Places a drawn value named as in fit.covariance_names into v.
local function put_value(v, name, x, eta_index)
  if v.theta[name] ~= nil then
    v.theta[name] = x
    return true
  end
  local a, b = name:match("^OMEGA%(([^,]+),([^,]+)%)$")
  if not a then a = name:match("^OMEGA%(([^,]+)%)$"); b = a end
  if a then
    local i, j = eta_index[a], eta_index[b]
    v.omega[i][j], v.omega[j][i] = x, x
    return true
  end
  local kind, ep = name:match("^SIGMA_([%u_]+)%((.+)%)$")
  if not kind then kind = name:match("^SIGMA_([%u_]+)$") end
  if kind then
    kind = kind:gsub("_LOG$", "")
    local key = kind == "ADD" and "additive" or kind == "PROP"
      and "proportional" or "power"
    local t = ep and v.sigma[ep] or v.sigma
    t[key] = x
    return true
  end
  return false
end

-- n parameter sets drawn from N(estimates, covariance) of the fit's
-- covariance step; a draw with Omega not positive definite or an SD not
-- > 0 is drawn again (at most 100 times per replicate).
function M.draw_parameters(ctx, fit, n, seed)
  if not fit.covariance or not fit.covariance_names then
    fail(ctx, "parameter uncertainty needs the fit's covariance step "
      .. "(fit.covariance): run the fit with covariance = true")
  end
  local names, cov = fit.covariance_names, fit.covariance
  local l = cholesky(cov)
  if not l then fail(ctx, "the fit's covariance matrix is not positive "
    .. "definite") end
  local est = {}
  for _, p in ipairs(fit.params) do est[p.name] = p.estimate end
  local eta_index = {}
  for i, e in ipairs(fit.eta_names) do eta_index[e] = i end
  math.randomseed(seed)
  local out = {}
  for r = 1, n do
    local v
    for _ = 1, 100 do
      v = values_of(ctx, fit)
      v = copy(v)
      local z = {}
      for i = 1, #names do z[i] = normal() end
      local ok = true
      for i, nm in ipairs(names) do
        local x = est[nm]
        for k = 1, i do x = x + l[i][k] * z[k] end
        if nm:match("^SIGMA_") and not nm:match("POW_EXP") and x <= 0 then
          ok = false
        end
        if not put_value(v, nm, x, eta_index) then
          fail(ctx, "cannot place parameter '%s' of the covariance", nm)
        end
      end
      if ok and cholesky(v.omega) then break end
      v = nil
    end
    if not v then
      fail(ctx, "replicate %d: 100 draws from the covariance gave no "
        .. "positive definite Omega with positive SDs", r)
    end
    out[r] = v
  end
  return out
end

-- ------------------------------------------------------ simulation

-- pm:simulate(data, fit, {n =, seed =, threads =, residual =,
-- uncertainty =}) -> sim (see dsl/README.md)
function M.simulate(pm, data, fit, opts)
  local ctx = ("%s:simulate"):format(pm.name)
  opts = opts or {}
  if type(opts) ~= "table" then fail(ctx, "options must be a table") end
  check_keys(ctx, opts, { "n", "seed", "threads", "residual",
                          "uncertainty" })
  local v = values_of(ctx, fit)
  local n = count(ctx, opts, "n", 1, 1, 100000000)
  local seed = count(ctx, opts, "seed", 1, 0, 2 ^ 53)
  local so = { n = n, seed = seed, threads = opts.threads,
               residual = opts.residual }
  if opts.uncertainty then
    so.replicates = M.draw_parameters(ctx, fit, n, seed)
  end
  return popest.simulate_fit(pm, data, v, so)
end

-- ------------------------------------------------------------- VPC

-- Equal-count bins of the sorted times: cuts between distinct times only.
local function equal_bins(times, nb)
  local t = sorted_copy(times)
  local distinct = {}
  for _, x in ipairs(t) do
    if distinct[#distinct] ~= x then distinct[#distinct + 1] = x end
  end
  if nb > #distinct then nb = #distinct end
  local edges, cum, k, i = { t[1] }, 0, 1, 1
  local cnt = {}
  for _, x in ipairs(t) do cnt[x] = (cnt[x] or 0) + 1 end
  for j, x in ipairs(distinct) do
    cum = cum + cnt[x]
    if k < nb and cum >= k * #t / nb and j < #distinct then
      edges[#edges + 1] = (x + distinct[j + 1]) / 2
      k = k + 1
    end
    i = i + 1
  end
  edges[#edges + 1] = t[#t]
  return edges
end
M.equal_bins = equal_bins

-- Bin of time x for edges e (first bins half-open, the last closed).
local function bin_of(e, x)
  if x < e[1] or x > e[#e] then return nil end
  for b = 1, #e - 1 do
    if x < e[b + 1] or b == #e - 1 then return b end
  end
end

-- The prediction correction of Bergstrand et al. (2011): y PRED_bin /
-- PRED (lower bound lb: lb + (y - lb)(PRED_bin - lb)/(PRED - lb)), or y +
-- PRED_bin - PRED for log-transformed data.
local function pc_value(y, pred, pbin, lb, logdata)
  if y == -math.huge then return y end
  if logdata then return y + (pbin - pred) end
  return lb + (y - lb) * (pbin - lb) / (pred - lb)
end
M.pc_value = pc_value

-- The VPC panels of the observations g with keep[g] (all when keep is
-- nil): per endpoint, bins and the observed and simulated percentiles.
-- where: "" or "stratum X: " for messages.
local function vpc_endpoints(ctx, sim, names, opts, res, lb, keep, where)
  local pctl, pi = res.pctl, res.pi
  local eps = {}
  for e, ename in ipairs(names) do
    local idx = {}
    for g = 1, #sim.time do
      if sim.endpoint[g] == e and (not keep or keep[g]) then
        idx[#idx + 1] = g
      end
    end
    if #idx > 0 then
      local times = {}
      for k, g in ipairs(idx) do times[k] = sim.time[g] end
      local edges
      local bins = opts.bins
      if type(bins) == "table" and bins[1] ~= nil then
        edges = bins
        for k = 2, #edges do
          if type(edges[k]) ~= "number" or not (edges[k] > edges[k - 1]) then
            fail(ctx, "option 'bins' must be increasing bin edges (got %s "
              .. "after %s)", tostring(edges[k]), tostring(edges[k - 1]))
          end
        end
        if #edges < 2 then fail(ctx, "option 'bins' needs at least two "
          .. "edges") end
      else
        local nb = bins or 8
        if math.type(nb) ~= "integer" or nb < 1 then
          fail(ctx, "option 'bins' must be a bin count >= 1 or a list of "
            .. "edges (got %s)", tostring(bins))
        end
        edges = equal_bins(times, nb)
      end
      -- observations per bin
      local members, outside = {}, 0
      for b = 1, #edges - 1 do members[b] = {} end
      for _, g in ipairs(idx) do
        local b = bin_of(edges, sim.time[g])
        if b then table.insert(members[b], g) else outside = outside + 1 end
      end
      if outside > 0 then
        fail(ctx, "%sendpoint %s: %d observations lie outside the bin "
          .. "edges [%g, %g]", where, ename, outside, edges[1],
          edges[#edges])
      end
      -- the LLOQ of each record: its own, else (CENS-only datasets give
      -- it on censored records alone) the endpoint's when all known ones
      -- agree; records still without one are never censored
      local has_blq, one = false, nil
      for _, g in ipairs(idx) do
        local l = sim.lloq[g]
        if l == l then
          has_blq = true
          if one == nil then one = l elseif one ~= l then one = false end
        end
      end
      local lloq = {}
      for _, g in ipairs(idx) do
        local l = sim.lloq[g]
        lloq[g] = (l == l) and l or (one or NAN)
      end
      local ep = { name = ename, edges = edges, bins = {}, blq = has_blq }
      for b = 1, #edges - 1 do
        local mem = members[b]
        if #mem > 0 then
          local bt, bp = {}, {}
          for k, g in ipairs(mem) do
            bt[k] = sim.time[g]
            bp[k] = sim.pred[g]
          end
          local pbin = quantile(sorted_copy(bp), 0.5)
          local function value(y, g, censored)
            if censored then return -math.huge end
            if res.pc then
              return pc_value(y, sim.pred[g], pbin, lb, opts.log_data)
            end
            return y
          end
          -- observed: censored records (CENS 1) rank below every value
          local ov, nblq = {}, 0
          for k, g in ipairs(mem) do
            local c = sim.cens[g] == 1
            if c then nblq = nblq + 1 end
            ov[k] = value(sim.dvobs[g], g, c)
          end
          table.sort(ov)
          local bin = { lo = edges[b], hi = edges[b + 1], n = #mem,
                        time = quantile(sorted_copy(bt), 0.5),
                        pred = pbin, obs = {}, sim = {} }
          for k, p in ipairs(pctl) do bin.obs[k] = quantile(ov, p) end
          -- simulated: each replicate's percentiles, then their PI
          local per = {}
          for k = 1, #pctl do per[k] = {} end
          local fr = {}
          for r = 1, sim.n do
            local dv, sv, nb = sim.dv[r], {}, 0
            for k, g in ipairs(mem) do
              local c = dv[g] < lloq[g]          -- false for NaN LLOQ
              if c then nb = nb + 1 end
              sv[k] = value(dv[g], g, c)
            end
            table.sort(sv)
            for k, p in ipairs(pctl) do per[k][r] = quantile(sv, p) end
            fr[r] = nb / #mem
          end
          local a = (1 - pi) / 2
          for k = 1, #pctl do
            local s = sorted_copy(per[k])
            bin.sim[k] = { lo = quantile(s, a), median = quantile(s, 0.5),
                           hi = quantile(s, 1 - a) }
          end
          if has_blq then
            local s = sorted_copy(fr)
            bin.blq = { obs = nblq / #mem, lo = quantile(s, a),
                        median = quantile(s, 0.5), hi = quantile(s, 1 - a) }
          end
          ep.bins[#ep.bins + 1] = bin
        end
      end
      eps[#eps + 1] = ep
    end
  end
  return eps
end

-- The stratum of every observation from the subject's value of column
-- strat (rk.popest.subject_values: its first non-missing value): each
-- distinct value a stratum, or with cuts c1 < ... < ck the k + 1 ranges
-- x < c1, c1 <= x < c2, ..., x >= ck. -> strata {label =, value = | lo =,
-- hi =, n_subjects =}, and the stratum index of each observation.
local MAX_STRATA = 50
local function strata_of(ctx, data, sim, col, cuts)
  local ok, vals = pcall(popest.subject_values, data, col)
  if not ok then fail(ctx, "option 'strat': %s", tostring(vals)) end
  local sub = {}
  for i, id in ipairs(data.ids) do sub[id] = i end
  for i, v in ipairs(vals) do
    if v ~= v then
      fail(ctx, "option 'strat': subject %d (ID %g) has no value in column "
        .. "'%s'", i, data.ids[i], col)
    end
  end
  local strata, of_subj = {}, {}
  if cuts then
    if type(cuts) ~= "table" or #cuts == 0 then
      fail(ctx, "option 'strat_cuts' must be a list of increasing cut "
        .. "points (got %s)", type(cuts))
    end
    for k, c in ipairs(cuts) do
      if type(c) ~= "number" or c ~= c or (k > 1 and not (c > cuts[k - 1]))
      then
        fail(ctx, "option 'strat_cuts' must be increasing numbers (entry "
          .. "%d: %s)", k, tostring(c))
      end
    end
    if #cuts + 1 > MAX_STRATA then
      fail(ctx, "option 'strat_cuts': %d cut points (at most %d)", #cuts,
        MAX_STRATA - 1)
    end
    for k = 1, #cuts + 1 do
      local lo, hi = cuts[k - 1], cuts[k]
      local label = lo == nil and ("%s<%g"):format(col, hi)
        or hi == nil and ("%s>=%g"):format(col, lo)
        or ("%g<=%s<%g"):format(lo, col, hi)
      strata[k] = { label = label, lo = lo or -math.huge,
                    hi = hi or math.huge, n_subjects = 0 }
    end
    for i, v in ipairs(vals) do
      local k = 1
      while cuts[k] and v >= cuts[k] do k = k + 1 end
      of_subj[i] = k
    end
  else
    local distinct, seen = {}, {}
    for _, v in ipairs(vals) do
      if not seen[v] then
        seen[v] = true
        distinct[#distinct + 1] = v
      end
    end
    table.sort(distinct)
    if #distinct > MAX_STRATA then
      fail(ctx, "option 'strat': column '%s' has %d distinct values (at "
        .. "most %d strata): give cut points with 'strat_cuts'", col,
        #distinct, MAX_STRATA)
    end
    local at = {}
    for k, v in ipairs(distinct) do
      strata[k] = { label = ("%s=%g"):format(col, v), value = v,
                    n_subjects = 0 }
      at[v] = k
    end
    for i, v in ipairs(vals) do of_subj[i] = at[v] end
  end
  for i = 1, #vals do
    local st = strata[of_subj[i]]
    st.n_subjects = st.n_subjects + 1
  end
  for _, st in ipairs(strata) do
    if st.n_subjects == 0 then
      fail(ctx, "option 'strat_cuts': stratum %s has no subjects", st.label)
    end
  end
  local of_obs = {}
  for g, id in ipairs(sim.id) do
    local i = sub[id]
    if not i then
      fail(ctx, "option 'strat': observation %d has subject ID %g, not in "
        .. "the dataset", g, id)
    end
    of_obs[g] = of_subj[i]
  end
  return strata, of_obs
end
M.strata_of = strata_of

-- pm:vpc(data, fit, {n =, seed =, threads =, bins =, pctl =, pi =, pc =,
-- lower_bound =, log_data =, uncertainty =, sim =, strat =, strat_cuts =})
-- -> result (see dsl/README.md)
function M.vpc(pm, data, fit, opts)
  local ctx = ("%s:vpc"):format(pm.name)
  opts = opts or {}
  if type(opts) ~= "table" then fail(ctx, "options must be a table") end
  check_keys(ctx, opts, { "n", "seed", "threads", "bins", "pctl", "pi",
                          "pc", "lower_bound", "log_data", "uncertainty",
                          "sim", "strat", "strat_cuts" })
  local pctl = opts.pctl or { 0.05, 0.5, 0.95 }
  if type(pctl) ~= "table" or #pctl == 0 then
    fail(ctx, "option 'pctl' must be a list of levels in (0, 1)")
  end
  for _, p in ipairs(pctl) do
    if type(p) ~= "number" or not (p > 0 and p < 1) then
      fail(ctx, "option 'pctl' must be a list of levels in (0, 1) (got %s)",
        tostring(p))
    end
  end
  local pi = level_opt(ctx, opts, "pi", 0.9)
  local lb = opts.lower_bound or 0
  if type(lb) ~= "number" then fail(ctx, "option 'lower_bound' must be "
    .. "a number") end
  local sim = opts.sim or M.simulate(pm, data, fit, {
    n = opts.n or 500, seed = opts.seed, threads = opts.threads,
    uncertainty = opts.uncertainty })
  local names = type(pm.observe) == "table" and pm.observe or { pm.observe }
  local res = { n = sim.n, pi = pi, pctl = pctl, pc = opts.pc and true
                or false }
  if opts.strat ~= nil then
    if type(opts.strat) ~= "string" then
      fail(ctx, "option 'strat' must be a covariate column name (got %s)",
        type(opts.strat))
    end
    if type(data) == "string" then
      local dv = type(pm.observe) == "table" and { dvid = pm.observe } or nil
      data = popest.read(data, pm, dv)
    end
    local strata, of_obs = strata_of(ctx, data, sim, opts.strat,
                                     opts.strat_cuts)
    for k, st in ipairs(strata) do
      local keep = {}
      for g, sk in ipairs(of_obs) do keep[g] = sk == k end
      st.endpoints = vpc_endpoints(ctx, sim, names, opts, res, lb, keep,
                                   "stratum " .. st.label .. ": ")
    end
    res.strat, res.strata = opts.strat, strata
  elseif opts.strat_cuts ~= nil then
    fail(ctx, "option 'strat_cuts' goes with 'strat' (the column)")
  else
    res.endpoints = vpc_endpoints(ctx, sim, names, opts, res, lb, nil, "")
  end
  res.write_csv = M.vpc_write_csv
  res.plot = M.vpc_plot
  return res
end

local function num(x)
  if x ~= x or x == math.huge or x == -math.huge then return "NA" end
  return x
end

-- The panels of a VPC result: {stratum =, label =, ep =} for every
-- endpoint (of every stratum when stratified).
local function panels(r)
  local out = {}
  for _, st in ipairs(r.strata or { { endpoints = r.endpoints } }) do
    for _, ep in ipairs(st.endpoints) do
      out[#out + 1] = { stratum = st.label, ep = ep }
    end
  end
  return out
end
M.vpc_panels = panels

-- r:write_csv(dir [, prefix]) -> paths: <prefix>.csv with one row per
-- endpoint, bin and percentile; <prefix>_blq.csv when censored data exist.
-- Stratified (r.strata): a first column stratum, rows of every stratum.
function M.vpc_write_csv(r, dir, prefix)
  prefix = prefix or (r.pc and "pcvpc" or "vpc")
  local rows, brows = {}, {}
  for _, pn in ipairs(panels(r)) do
    local ep = pn.ep
    for b, bin in ipairs(ep.bins) do
      for k, p in ipairs(r.pctl) do
        rows[#rows + 1] = {
          stratum = pn.stratum, endpoint = ep.name, bin = b, time_lo = bin.lo, time_hi = bin.hi,
          time_median = bin.time, n_obs = bin.n, percentile = p * 100,
          observed = num(bin.obs[k]), sim_lo = num(bin.sim[k].lo),
          sim_median = num(bin.sim[k].median), sim_hi = num(bin.sim[k].hi),
          pred_bin = bin.pred }
      end
      if bin.blq then
        brows[#brows + 1] = {
          stratum = pn.stratum, endpoint = ep.name, bin = b, time_lo = bin.lo, time_hi = bin.hi,
          time_median = bin.time, n_obs = bin.n, observed = bin.blq.obs,
          sim_lo = bin.blq.lo, sim_median = bin.blq.median,
          sim_hi = bin.blq.hi }
      end
    end
  end
  local paths = { dir .. "/" .. prefix .. ".csv" }
  local write = rk.mpi.rank == 0 and rk.csv.write or function() end
  local function cols(c)
    if r.strata then table.insert(c, 1, "stratum") end
    return c
  end
  write(paths[1], rows, cols { "endpoint", "bin", "time_lo", "time_hi",
    "time_median", "n_obs", "percentile", "observed", "sim_lo",
    "sim_median", "sim_hi", "pred_bin" })
  if #brows > 0 then
    paths[2] = dir .. "/" .. prefix .. "_blq.csv"
    write(paths[2], brows, cols { "endpoint", "bin", "time_lo",
      "time_hi", "time_median", "n_obs", "observed", "sim_lo",
      "sim_median", "sim_hi" })
  end
  return paths
end

-- r:plot(dir [, prefix]) -> paths | nil, warning: one PNG per endpoint
-- (and one of the BLQ fraction when censored data exist), gnuplot.
function M.vpc_plot(r, dir, prefix)
  prefix = prefix or (r.pc and "pcvpc" or "vpc")
  local Q = rk.gnuplot_quote
  local paths, cmds, blocks = {}, {}, {}
  local function add(fmt, ...) cmds[#cmds + 1] = fmt:format(...) end
  local jobs = {}
  local multi = false
  for _, st in ipairs(r.strata or { { endpoints = r.endpoints } }) do
    if #st.endpoints > 1 then multi = true end
  end
  for _, pn in ipairs(panels(r)) do
    local ep = pn.ep
    -- one file per stratum (its label, made a file-name part) and endpoint
    local tag = (pn.stratum and ("_" .. pn.stratum:gsub("[^%w_%-%.]", "_"))
      or "") .. (multi and ("_" .. ep.name:gsub("[^%w_%-]", "_")) or "")
    jobs[#jobs + 1] = { ep = ep, kind = "vpc", stratum = pn.stratum,
                        path = ("%s/%s%s.png"):format(dir, prefix, tag) }
    if ep.blq then
      jobs[#jobs + 1] = { ep = ep, kind = "blq", stratum = pn.stratum,
                          path = ("%s/%s%s_blq.png"):format(dir, prefix, tag) }
    end
  end
  for _, j in ipairs(jobs) do paths[#paths + 1] = j.path end
  local f = rk.plot_files(paths)
  for n, j in ipairs(jobs) do
    local rows = {}
    for _, bin in ipairs(j.ep.bins) do
      local row = { bin.time }
      if j.kind == "vpc" then
        for k = 1, #r.pctl do
          local function v(x)
            return (x == x and x > -math.huge and x < math.huge) and x or NAN
          end
          row[#row + 1] = v(bin.obs[k])
          row[#row + 1] = v(bin.sim[k].lo)
          row[#row + 1] = v(bin.sim[k].median)
          row[#row + 1] = v(bin.sim[k].hi)
        end
      else
        row[2], row[3], row[4], row[5] = bin.blq.obs, bin.blq.lo,
          bin.blq.median, bin.blq.hi
      end
      rows[#rows + 1] = row
    end
    blocks["d" .. n] = rows
    add("reset")
    add("set terminal pngcairo size 900,640")
    add("set output %s", Q(f.tmp[n], true))
    add("set datafile missing NaN")
    add("set key outside bottom center horizontal")
    add("set xlabel 'TIME (h)'")
    local what = (multi and (" " .. j.ep.name) or "")
      .. (j.stratum and (" [" .. j.stratum .. "]") or "")
    if j.kind == "vpc" then
      add("set title %s noenhanced", Q(("%s%s: observed percentiles " ..
        "(lines)\nand %g %% PI of the simulated ones (bands), N = %d")
        :format(r.pc and "pcVPC" or "VPC", what, r.pi * 100, r.n)))
      add("set ylabel %s noenhanced", Q((r.pc and "prediction-corrected "
        or "") .. j.ep.name))
      local parts = {}
      for k, p in ipairs(r.pctl) do
        local c = 2 + (k - 1) * 4
        local colr = (p == 0.5) and "'#cc3333'" or "'#3366cc'"
        parts[#parts + 1] = ("$d%d using 1:%d:%d with filledcurves fs "
          .. "transparent solid 0.25 noborder lc rgb %s title %s"):format(n,
          c + 1, c + 3, colr, Q(("sim. P%g PI"):format(p * 100)))
        parts[#parts + 1] = ("$d%d using 1:%d with linespoints pt 7 lw 2 "
          .. "lc rgb 'black' title %s"):format(n, c,
          Q(("obs. P%g"):format(p * 100)))
      end
      add("plot " .. table.concat(parts, ", "))
    else
      add("set title %s noenhanced", Q(("fraction below LLOQ%s: observed "
        .. "and %g %% PI of the simulated"):format(what, r.pi * 100)))
      add("set ylabel 'fraction BLQ'; set yrange [0:1]")
      add(("plot $d%d using 1:3:5 with filledcurves fs transparent solid "
        .. "0.25 noborder lc rgb '#3366cc' title 'simulated PI', $d%d "
        .. "using 1:4 with lines lc rgb '#3366cc' title 'simulated median',"
        .. " $d%d using 1:2 with linespoints pt 7 lw 2 lc rgb 'black' "
        .. "title 'observed'"):format(n, n, n))
    end
    add("set output")
  end
  local ok, why = rk.gnuplot(table.concat(cmds, "\n") .. "\n", blocks)
  if not ok then
    f:abort()
    return nil, "VPC plots skipped: " .. tostring(why)
  end
  f:commit()
  return paths
end

-- ------------------------------------------------------- bootstrap

-- Estimates of a fit by parameter name (all parameters, fixed included).
local function estimates(r)
  local e = {}
  for _, p in ipairs(r.params) do e[p.name] = p.estimate end
  return e
end

-- pm:bootstrap(data, fit, {n =, seed =, strata =, method =, level =,
-- threads =, bca =, fit = {...}}) -> result (see dsl/README.md)
function M.bootstrap(pm, data, fit, opts)
  local ctx = ("%s:bootstrap"):format(pm.name)
  opts = opts or {}
  if type(opts) ~= "table" then fail(ctx, "options must be a table") end
  check_keys(ctx, opts, { "n", "seed", "strata", "method", "level",
                          "threads", "bca", "fit", "keep_estimates" })
  if type(fit) ~= "table" or type(fit.params) ~= "table" then
    fail(ctx, "expected the original fit's result (pm:fit) (got %s)",
      type(fit))
  end
  if fit.converged == false then
    fail(ctx, "the original fit did not converge: no bootstrap around it")
  end
  local n = count(ctx, opts, "n", 200, 1, 1000000)
  local seed = count(ctx, opts, "seed", 1, 0, 2 ^ 53)
  local level = level_opt(ctx, opts, "level", 0.95)
  if type(data) == "string" then
    local dv = type(pm.observe) == "table" and { dvid = pm.observe } or nil
    data = popest.read(data, pm, dv)
  end
  local nsub = data.n_subjects
  local strata
  if opts.strata ~= nil then
    if type(opts.strata) ~= "string" then
      fail(ctx, "option 'strata' must be a covariate column name (got %s)",
        type(opts.strata))
    end
    local ok, col = pcall(popest.subject_values, data, opts.strata)
    if not ok then fail(ctx, "option 'strata': %s", tostring(col)) end
    for i, v in ipairs(col) do
      if v ~= v then
        fail(ctx, "option 'strata': subject %d (ID %g) has no value in "
          .. "column '%s'", i, data.ids[i], opts.strata)
      end
    end
    strata = col
  end
  -- the original fit's options, warm-started at its estimates
  local fo = {}
  for k, v in pairs(opts.fit or {}) do fo[k] = v end
  fo.method = opts.method or fo.method or M.method_key(fit.method)
  if fo.covariance == nil then fo.covariance = false end
  if opts.threads ~= nil then fo.threads = opts.threads end
  fo.init = values_of(ctx, fit)
  local est0 = estimates(fit)
  local names = {}
  for _, p in ipairs(fit.params) do
    if not p.fixed then names[#names + 1] = p.name end
  end
  local function run_fit(d)
    local ok, r = pcall(pm.fit, pm, d, fo)
    if not ok then return { converged = false, message = tostring(r) } end
    if not r.converged then
      return { converged = false, message = r.message or "not converged" }
    end
    return { converged = true, ofv = r.ofv, boundary = r.boundary ~= nil,
             est = estimates(r) }
  end
  local reps = rk.replicates { n = n, keep_going = true, run = function(i)
    local pick = popest.boot_pick(nsub, seed, i, strata)
    local out = run_fit(popest.resample(data, pick))
    out.index = i
    return out
  end }
  local jack
  if opts.bca ~= false then
    jack = rk.replicates { n = nsub, keep_going = true, run = function(i)
      local pick = {}
      for s = 1, nsub do if s ~= i then pick[#pick + 1] = s end end
      return run_fit(popest.resample(data, pick))
    end }
  end
  local res = { n = n, seed = seed, level = level, method = fo.method,
                strata = opts.strata, replicates = {}, params = {} }
  local n_fail, n_bound = 0, 0
  for i = 1, n do
    local r = reps[i] or { converged = false, message = "replicate raised" }
    for _, f in ipairs(reps.failed or {}) do
      if f.index == i then r.message = f.message end
    end
    r.index = i
    if not r.converged then n_fail = n_fail + 1
    elseif r.boundary then n_bound = n_bound + 1 end
    res.replicates[i] = r
  end
  res.n_failed, res.n_boundary = n_fail, n_bound
  res.failed_share, res.boundary_share = n_fail / n, n_bound / n
  local jack_ok = jack ~= nil
  if jack then
    for i = 1, nsub do
      if not (jack[i] and jack[i].converged) then jack_ok = false end
    end
    res.jackknife_failed = not jack_ok
  end
  for _, nm in ipairs(names) do
    local v = {}
    for i = 1, n do
      local r = res.replicates[i]
      if r.converged and r.est[nm] == r.est[nm] then v[#v + 1] = r.est[nm] end
    end
    local jv
    if jack_ok then
      jv = {}
      for i = 1, nsub do jv[i] = jack[i].est[nm] end
    end
    local p = { name = nm, estimate = est0[nm], n = #v }
    if #v >= 2 then
      local ci = popest.boot_interval(v, est0[nm], { jack = jv,
                                                     level = level })
      local s, s2 = 0, 0
      for _, x in ipairs(v) do s = s + x; s2 = s2 + x * x end
      local mean = s / #v
      p.mean, p.bias = mean, mean - est0[nm]
      p.se = math.sqrt(math.max(0, (s2 - #v * mean * mean) / (#v - 1)))
      p.median = quantile(sorted_copy(v), 0.5)
      p.lo, p.hi = ci.lo, ci.hi
      if jv then
        p.bca_lo, p.bca_hi, p.z0, p.a = ci.bca_lo, ci.bca_hi, ci.z0, ci.a
      end
    end
    res.params[#res.params + 1] = p
  end
  res.write_csv = M.bootstrap_write_csv
  return res
end

-- The method key pm:fit takes for a result's method name ("FOCE-I").
function M.method_key(name)
  if type(name) ~= "string" then return nil end
  return (name:lower():gsub("[^%w]", ""))
end

-- r:write_csv(dir) -> paths: bootstrap.csv (one row per replicate: index,
-- status, OFV, boundary, every estimate) and bootstrap_summary.csv (one
-- row per estimated parameter).
function M.bootstrap_write_csv(r, dir)
  local cols = { "replicate", "status", "ofv", "boundary" }
  for _, p in ipairs(r.params) do cols[#cols + 1] = p.name end
  cols[#cols + 1] = "message"
  local rows = {}
  for i, rep in ipairs(r.replicates) do
    local row = { replicate = i, status = rep.converged and "ok" or "failed",
                  ofv = rep.converged and rep.ofv or "NA",
                  boundary = rep.converged and (rep.boundary and 1 or 0)
                    or "NA",
                  message = rep.message }
    for _, p in ipairs(r.params) do
      row[p.name] = rep.converged and num(rep.est[p.name]) or "NA"
    end
    rows[i] = row
  end
  local paths = { dir .. "/bootstrap.csv", dir .. "/bootstrap_summary.csv" }
  -- under mpirun every rank holds every result: rank 0 writes
  local write = rk.mpi.rank == 0 and rk.csv.write or function() end
  write(paths[1], rows, cols)
  local srows = {}
  local pct = r.level * 100
  for _, p in ipairs(r.params) do
    srows[#srows + 1] = {
      parameter = p.name, estimate = p.estimate, n_ok = p.n,
      boot_mean = num(p.mean or NAN), boot_median = num(p.median or NAN),
      boot_se = num(p.se or NAN), bias = num(p.bias or NAN),
      level_pct = pct, pct_lo = num(p.lo or NAN), pct_hi = num(p.hi or NAN),
      bca_lo = num(p.bca_lo or NAN), bca_hi = num(p.bca_hi or NAN),
      z0 = num(p.z0 or NAN), acceleration = num(p.a or NAN),
      failed_share = r.failed_share, boundary_share = r.boundary_share }
  end
  write(paths[2], srows, { "parameter", "estimate", "n_ok",
    "boot_mean", "boot_median", "boot_se", "bias", "level_pct", "pct_lo",
    "pct_hi", "bca_lo", "bca_hi", "z0", "acceleration", "failed_share",
    "boundary_share" })
  return paths
end

-- ------------------------------------------- the fit folder's record

local SPEC = "fit.csv"
M.SPEC = SPEC

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local cwd = os.getenv("PWD")
  return cwd and (cwd .. "/" .. path) or path
end

local function g17(x) return ("%.17g"):format(x) end

-- Writes <dir>/fit.csv: what a later check of the fit needs, machine-
-- readable (kind, name, row, col, value): the model and data files
-- (absolute paths), the method and BLQ handling, theta, Omega, sigma, the
-- estimates and the covariance step's matrix when it ran.
function M.write_fit_spec(dir, info, fit)
  local rows = {}
  local function add(kind, name, r, c, v)
    rows[#rows + 1] = { kind = kind, name = name or "", row = r or "",
                        col = c or "", value = v }
  end
  add("model", nil, nil, nil, absolute(info.model))
  add("data", nil, nil, nil, absolute(info.data))
  add("method", nil, nil, nil, M.method_key(fit.method) or "focei")
  add("blq", nil, nil, nil, info.blq or "m3")
  add("ofv", nil, nil, nil, g17(fit.ofv))
  local tn = {}
  for k in pairs(fit.theta) do tn[#tn + 1] = k end
  table.sort(tn)
  for _, k in ipairs(tn) do add("theta", k, nil, nil, g17(fit.theta[k])) end
  for i, e in ipairs(fit.eta_names) do add("eta", e, i, nil, "") end
  for i, row in ipairs(fit.omega) do
    for j, v in ipairs(row) do add("omega", nil, i, j, g17(v)) end
  end
  local function sig(t, ep)
    for _, key in ipairs { "additive", "proportional", "power" } do
      if t[key] then add("sigma", key, nil, ep, g17(t[key])) end
    end
  end
  if fit.sigma.additive or fit.sigma.proportional or fit.sigma.power then
    sig(fit.sigma)
  else
    local en = {}
    for k in pairs(fit.sigma) do en[#en + 1] = k end
    table.sort(en)
    for _, k in ipairs(en) do sig(fit.sigma[k], k) end
  end
  for _, p in ipairs(fit.params) do
    add("estimate", p.name, nil, nil, g17(p.estimate))
  end
  if fit.covariance and fit.covariance_names then
    for i, nm in ipairs(fit.covariance_names) do
      add("cov_name", nm, i, nil, "")
      for j, v in ipairs(fit.covariance[i]) do
        add("covariance", nil, i, j, g17(v))
      end
    end
  end
  local path = dir .. "/" .. SPEC
  rk.csv.write(path, rows, { "kind", "name", "row", "col", "value" })
  return path
end

-- Reads <dir>/fit.csv back: {model =, data =, method =, blq =, fit = {
-- theta =, omega =, sigma =, eta_names =, params =, covariance =,
-- covariance_names =, ofv =}}. A folder without it (a fit.lua output of
-- an older version, or no fit) raises naming the file.
function M.read_fit_spec(dir)
  local path = dir .. "/" .. SPEC
  local f = io.open(path, "rb")
  if not f then
    error(("%s: no fit record (%s) in the folder: run scripts/fit.lua "
      .. "with --out %s first (it writes the estimates there)"):format(dir,
      SPEC, dir), 0)
  end
  f:close()
  local rows, _, lines = rk.csv.read(path, { strings = { "kind", "name",
    "value" }, missing = { "" } })
  local s = { fit = { theta = {}, omega = {}, sigma = {}, eta_names = {},
                      params = {} } }
  local ft = s.fit
  local cov, names = {}, {}
  local function number(r, i)
    local v = tonumber(r.value)
    if not v then
      error(("%s:%d: column value: '%s' is not a number"):format(path,
        lines[i], tostring(r.value)), 0)
    end
    return v
  end
  for i, r in ipairs(rows) do
    local k = r.kind
    if k == "model" or k == "data" or k == "method" or k == "blq" then
      s[k] = r.value
    elseif k == "ofv" then ft.ofv = number(r, i)
    elseif k == "theta" then ft.theta[r.name] = number(r, i)
    elseif k == "eta" then ft.eta_names[r.row] = r.name
    elseif k == "omega" then
      ft.omega[r.row] = ft.omega[r.row] or {}
      ft.omega[r.row][r.col] = number(r, i)
    elseif k == "sigma" then
      local t = ft.sigma
      if r.col then
        t[r.col] = t[r.col] or {}
        t = t[r.col]
      end
      t[r.name] = number(r, i)
    elseif k == "estimate" then
      ft.params[#ft.params + 1] = { name = r.name, estimate = number(r, i) }
    elseif k == "cov_name" then names[r.row] = r.name
    elseif k == "covariance" then
      cov[r.row] = cov[r.row] or {}
      cov[r.row][r.col] = number(r, i)
    else
      error(("%s:%d: column kind: unknown '%s'"):format(path, lines[i],
        tostring(k)), 0)
    end
  end
  for _, k in ipairs { "model", "data" } do
    if not s[k] then
      error(("%s: no '%s' row (the fit record is incomplete)"):format(path,
        k), 0)
    end
  end
  if not next(ft.theta) or #ft.omega == 0 or not next(ft.sigma) then
    error(("%s: no estimates (theta, omega and sigma rows are needed)")
      :format(path), 0)
  end
  if #names > 0 then
    ft.covariance, ft.covariance_names = cov, names
  end
  return s
end

-- The fit of a fit.lua output folder as the checking scripts need it:
-- its record (read_fit_spec), the population model file it names, run,
-- and its data set read through that model (DVID endpoints when the model
-- observes several outputs).
function M.load_fit(dir)
  local spec = M.read_fit_spec(dir)
  local pm = dofile(spec.model)
  local data = rk.popest.read(spec.data, pm, type(pm.observe) == "table"
    and { dvid = pm.observe } or nil)
  return spec, pm, data
end

return M
