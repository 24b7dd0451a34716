-- tests/errmsg_popdata.lua - error messages of the dataset reader
-- (engine/pop/data.c) a user reaches through rk.data, each CSV broken one
-- way, provoked one by one and their text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"

local tmp = t.scratch()
local m = rk.model {
  name = "pk1", states = { "A" }, params = { cl = 0.5, v = 5 },
  ode = function(s, p) return { A = -p.cl / p.v * s.A } end,
  outputs = function(s, p) return { C = s.A / p.v } end,
}
local n = 0
local function data(text)
  n = n + 1
  local path = t.write_file(string.format("%s/d%d.csv", tmp, n), text)
  return function() return rk.data(path, m) end
end
t.ok(pcall(data "ID,TIME,AMT,DV\n1,0,100,.\n1,2,.,12\n"),
  "the base dataset reads")
t.raises(data "ID,TIME,AMT,DV\n1,0,100,.\n1,2,.,twelve\n",
  "d2.csv:3: column DV: 'twelve' is not a number (expected a finite number, "
  .. "'.' or an empty cell for missing)", "a word for DV")
t.raises(data "ID,TIME,AMT,DV,CMT\n1,0,100,.,-1\n1,2,.,12,1\n",
  "d3.csv:2: column CMT: -1 is not supported (expected a compartment number "
  .. ">= 1; compartment on/off records are not supported)",
  "a compartment-off record")
t.raises(data "ID,TIME,AMT,DV,CMT\n1,0,100,.,gut\n1,2,.,12,1\n",
  "d4.csv:2: column CMT: 'gut' is neither a compartment number nor a state "
  .. "or output name of the model", "an unknown compartment name")
t.raises(data "ID,TIME,,AMT,DV\n1,0,0,100,.\n",
  "d5.csv:1: column 3 has an empty name in the header",
  "an empty column name")
t.raises(data "ID,TIME,AMT,DV,time\n1,0,100,.,0\n",
  "d6.csv:1: column 'time' appears twice in the header (columns 2 and 5)",
  "a column twice")
t.raises(data "ID,TIME,AMT,DV\n1,0,100,.\n1,.,.,12\n",
  "d7.csv:3: column TIME: missing (every record needs a time, h)",
  "a record without a time")
t.raises(data "ID,TIME,AMT,DV,LLOQ\n1,0,100,.,.\n1,2,.,12,0\n",
  "d8.csv:3: column LLOQ: 0 is not a quantification limit (expected > 0, "
  .. "or '.' for none)", "a zero LLOQ")
t.raises(data "ID,TIME,AMT,DV,RATE\n1,0,100,.,-3\n1,2,.,12,.\n",
  "d9.csv:2: column RATE: -3 is not supported (expected 0 bolus, > 0 "
  .. "infusion rate, -1 rate or -2 duration from the model)", "a rate of -3")
t.raises(data "# only a comment\n",
  "d10.csv: no header line (expected column names such as ID,TIME,DV,AMT)",
  "no header")
t.raises(data "ID,TIME,AMT,DV\n",
  "d11.csv: no data records after the header", "a header only")
t.done()
