-- simulate.lua - simulate a NONMEM-style dataset with a model: PRED (the
-- model's typical parameters) at every observation record, IPRED with one
-- sampled patient per subject (--population), a simulated DV with
-- residual error (--prop / --add, seeded), written as a NONMEM-style
-- table atomically.
--
--   radiokin scripts/simulate.lua dataset.csv model.lua [--out table.csv]
--            [--seed S] [--population] [--prop SIGMA] [--add SIGMA]
--            [--covariates NAME,NAME] [--all-records]
local rk = require "radiokin"

local M = {}

local USAGE = "usage: radiokin scripts/simulate.lua dataset.csv model.lua " ..
  "[--out table.csv] [--seed S] [--population] [--prop SIGMA] " ..
  "[--add SIGMA] [--covariates NAME,...] [--all-records]"

M.HELP = USAGE .. [[


Predictions of a model at every observation record of a NONMEM-style
dataset (rk.data, d:simulate).

Inputs
  dataset.csv   ID, TIME and optional AMT, RATE, EVID, MDV, CMT, II, ADDL,
                SS, DVID, DV and covariate columns, as NONMEM reads them.
                DV may be absent or blank: an observation record (EVID 0,
                MDV 0) is then a prediction time. Dose records need CMT
                unless the model has one state.
  model.lua     a Lua file returning an rk.model, or a table with field
                model (an rk.model) and optionally population (an
                rk.population over it), like models/lu177_psma.lua.

Options
  --out FILE         output table (default simulated.csv; "-" for stdout)
  --seed S           seed of the sampled patients and the residual error
                     (integer, default 1)
  --population       IPRED with one patient per subject sampled from the
                     model file's population (in dataset order)
  --prop SIGMA       proportional residual error SD (DV = IPRED (1 + e1))
  --add SIGMA        additive residual error SD (+ e2), same unit as the
                     predictions
  --covariates LIST  model parameters taken per subject from the dataset
                     columns of the same name (comma separated)
  --all-records      a row for every record (doses, EVID 2 / 3, MDV 1:
                     MDV 1 and DV '.'), as NONMEM's tables; default: the
                     observation records only

Output: one row per observation record (or every record with
--all-records): ID, TIME, EVID, MDV, DV, PRED,
IPRED (DV as in the dataset, '.' when blank, or simulated with --prop /
--add). Written atomically; a failure writes nothing and exits 1.

Example
  radiokin scripts/simulate.lua tests/data/sim_onecomp.csv tests/data/sim_onecomp_model.lua --out table.csv --prop 0.1 --seed 7]]

local function usage(msg)
  error((msg and msg .. "\n" or "") .. USAGE, 0)
end

local function number_arg(name, v, lo)
  local x = tonumber(v)
  if not x or x ~= x or x < lo or x == math.huge then
    usage(("%s needs a number >= %g (got '%s')"):format(name, lo, v))
  end
  return x
end

local function nonneg(v, name) return number_arg(name, v, 0) end

local OPTIONS = {
  ["--out"] = { "out", "value" },
  ["--seed"] = { "seed", function(v, name)
    local n = math.tointeger(tonumber(v))
    if not n or n < 0 or n > 2^53 then
      usage(("%s needs an integer in 0..2^53 (got '%s')"):format(name, v))
    end
    return n
  end },
  ["--population"] = { "population", "flag" },
  ["--all-records"] = { "all", "flag" },
  ["--prop"] = { "prop", nonneg },
  ["--add"] = { "add", nonneg },
  ["--covariates"] = { "covariates", function(v)
    local names = {}
    for name in v:gmatch("[^,]+") do names[#names + 1] = name end
    return names
  end },
}

function M.parse_args(args)
  local o, files = rk.options(args, OPTIONS, usage,
    { out = "simulated.csv", seed = 1 })
  if o.help then return o end
  if #files ~= 2 then usage("give a dataset file and a model file") end
  o.data, o.model = files[1], files[2]
  return o
end

-- The model file returns an rk.model or { model =, population = }.
function M.load_model(path)
  local f = io.open(path, "rb")
  if not f then error(("%s: cannot open the model file"):format(path), 0) end
  f:close()
  local v = dofile(path)
  local function is_model(x) return tostring(x):find("^rk%.model") ~= nil end
  if is_model(v) then return v, nil end
  if type(v) == "table" and is_model(v.model) then return v.model, v.population end
  error(("%s: must return an rk.model or a table with field model (an " ..
    "rk.model) (it returned %s)"):format(path, type(v)), 0)
end

function M.main(args)
  local o = M.parse_args(args)
  if o.help then
    print(M.HELP)
    return
  end
  local m, pop = M.load_model(o.model)
  local d = rk.data(o.data, m, { rows = o.all and "all" or "observations" })
  local opts = { covariates = o.covariates }
  if o.population then
    if not pop then
      error(o.model .. ": --population, but the model file returns no " ..
        "population (a table with field population)", 0)
    end
    opts.population = pop:sample { n = d.n_subjects, seed = o.seed }
  end
  if o.prop or o.add then
    opts.residual = { proportional = o.prop, additive = o.add }
    opts.seed = o.seed
  end
  local r = d:simulate(m, opts)
  r:write_csv(o.out)
  if o.out ~= "-" then
    print(("%d records of %d subjects simulated, written: %s"):format(r.n,
      d.n_subjects, o.out))
  end
  return r
end

if arg and arg[0] and arg[0]:match("simulate%.lua$") then
  M.main(arg)
end
return M
