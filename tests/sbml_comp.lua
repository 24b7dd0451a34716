-- tests/sbml_comp.lua - hierarchical SBML models (Level 3 "comp" package):
-- flattened by libSBML, then imported like any model. Reference values are
-- closed forms: a species eliminated at rate k from X0 holds X0 exp(-k t).
local rk = require "radiokin"
local t = require "radiokin.tap"

local dir = t.scratch()
local function write(name, text)
  local f = assert(io.open(dir .. "/" .. name, "w"))
  f:write(text)
  f:close()
  return dir .. "/" .. name
end

local HEAD = [[<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core"
      xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1"
      level="3" version="2" comp:required="true">
]]

-- One compartment, X eliminated at rate k (first order), X0 = 10.
local ELIM_BODY = [[
      <listOfCompartments>
        <compartment id="C" size="1" constant="true" spatialDimensions="3"/>
      </listOfCompartments>
      <listOfSpecies>
        <species id="X" compartment="C" initialAmount="10"
          hasOnlySubstanceUnits="true" boundaryCondition="false"
          constant="false"/>
      </listOfSpecies>
      <listOfParameters>
        <parameter id="k" value="0.3" constant="true"/>
      </listOfParameters>
      <listOfReactions>
        <reaction id="R" reversible="false">
          <listOfReactants>
            <speciesReference species="X" stoichiometry="1" constant="true"/>
          </listOfReactants>
          <kineticLaw>
            <math xmlns="http://www.w3.org/1998/Math/MathML">
              <apply><times/><ci> k </ci><ci> X </ci></apply>
            </math>
          </kineticLaw>
        </reaction>
      </listOfReactions>
]]

-- A parameter of the main model replacing `idref` of submodel `sub`.
local function replacing(id, value, idref, sub)
  return ([[
    <listOfParameters>
      <parameter id="%s" value="%s" constant="true">
        <comp:listOfReplacedElements>
          <comp:replacedElement comp:idRef="%s" comp:submodelRef="%s"/>
        </comp:listOfReplacedElements>
      </parameter>
    </listOfParameters>
]]):format(id, value, idref, sub)
end

-- A document: main model `id` with `params` (XML, may be ""), submodels
-- {{id, definition}, ...} and `defs`: internal definitions (XML) or an
-- external one {id =, source =, ref =}.
local function doc(id, params, subs, defs)
  local sl = {}
  for _, sm in ipairs(subs) do
    sl[#sl + 1] = ('      <comp:submodel comp:id="%s" comp:modelRef="%s"/>')
      :format(sm[1], sm[2])
  end
  local d
  if type(defs) == "table" then
    d = ([[
  <comp:listOfExternalModelDefinitions>
    <comp:externalModelDefinition comp:id="%s" comp:source="%s"
      comp:modelRef="%s"/>
  </comp:listOfExternalModelDefinitions>
]]):format(defs.id, defs.source, defs.ref)
  else
    d = "  <comp:listOfModelDefinitions>\n" .. defs
      .. "\n  </comp:listOfModelDefinitions>\n"
  end
  return HEAD .. ('  <model id="%s">\n'):format(id) .. params
    .. "    <comp:listOfSubmodels>\n" .. table.concat(sl, "\n")
    .. "\n    </comp:listOfSubmodels>\n  </model>\n" .. d .. "</sbml>\n"
end

local ELIM_DEF = '    <comp:modelDefinition id="elim">\n' .. ELIM_BODY
  .. "    </comp:modelDefinition>"

-- Two instances of one definition; the main model's kA replaces A's k,
-- B keeps the definition's k = 0.3.
local two = write("two.xml", doc("two", replacing("kA", 0.1, "k", "A"),
  { { "A", "elim" }, { "B", "elim" } }, ELIM_DEF))

local m, info = rk.sbml.load(two, { time_unit = "h", quiet = true })
t.ok(info.flattened, "a comp model is flattened (info.flattened)")
local times = { 0, 1, 2, 5, 10 }
local r = m:simulate{ times = times, rtol = 1e-10, atol = 1e-12 }
local a, b = info.names.A__X, info.names.B__X
t.ok(a and b, "the instances' species are A__X and B__X (libSBML's ids)")
local worst = 0
for k, tt in ipairs(times) do
  worst = math.max(worst,
    math.abs(r.outputs[a][k] - 10 * math.exp(-0.1 * tt)) / 10,
    math.abs(r.outputs[b][k] - 10 * math.exp(-0.3 * tt)) / 10)
end
t.ok(worst < 1e-8, ("A__X = 10 exp(-0.1 t) (kA replaces A's k), B__X = "
  .. "10 exp(-0.3 t) (its own k): worst rel. diff %.2g"):format(worst))
t.is(m.params[info.names.kA], 0.1, "the replacing parameter is a parameter")

local plain = rk.sbml.info(write("plain.xml", [[<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3"
      version="2">
  <model id="plain">
]] .. ELIM_BODY .. [[
  </model>
</sbml>
]]), { time_unit = "h", quiet = true })
t.ok(not plain.flattened, "a plain model is not flattened")

-- An external model definition: the definition in its own file, found
-- next to the model that names it.
write("elim_ext.xml", [[<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3"
      version="2">
  <model id="elim_ext">
]] .. ELIM_BODY .. [[
  </model>
</sbml>
]])
local ext = write("ext.xml", doc("ext", replacing("kE", 0.2, "k", "E"),
  { { "E", "EM" } }, { id = "EM", source = "elim_ext.xml", ref = "elim_ext" }))
local me, ie = rk.sbml.load(ext, { time_unit = "h", quiet = true })
local re = me:simulate{ times = { 0, 4 }, rtol = 1e-10, atol = 1e-12 }
t.is(re.outputs[ie.names.E__X][2], 10 * math.exp(-0.8), 1e-8,
  "external definition: E__X(4 h) = 10 exp(-0.2 x 4)")

-- A definition that contains itself: refused before flattening, named.
local selfref = write("self.xml", HEAD .. [[
  <model id="main">
    <comp:listOfSubmodels>
      <comp:submodel comp:id="S" comp:modelRef="loop"/>
    </comp:listOfSubmodels>
  </model>
  <comp:listOfModelDefinitions>
    <comp:modelDefinition id="loop">
      <comp:listOfSubmodels>
        <comp:submodel comp:id="again" comp:modelRef="loop"/>
      </comp:listOfSubmodels>
    </comp:modelDefinition>
  </comp:listOfModelDefinitions>
</sbml>
]])
t.raises(function() rk.sbml.load(selfref, { quiet = true }) end,
  "model definition 'loop' (line ", "a definition containing itself")
t.raises(function() rk.sbml.load(selfref, { quiet = true }) end,
  "contains itself through its submodels", "... says why")

-- Six nested definitions of ten submodels each: 1 + 10 + ... + 10^6
-- instances from a 3 kB file: refused before libSBML builds them.
local defs = {}
for d = 1, 6 do
  local subs = {}
  for j = 1, 10 do
    subs[j] = ('        <comp:submodel comp:id="s%d" comp:modelRef="d%d"/>')
      :format(j, d + 1)
  end
  defs[#defs + 1] = ([[
    <comp:modelDefinition id="d%d">
      <comp:listOfSubmodels>
%s
      </comp:listOfSubmodels>
    </comp:modelDefinition>]]):format(d, table.concat(subs, "\n"))
end
defs[#defs + 1] = '    <comp:modelDefinition id="d7"/>'
local bomb = write("bomb.xml", doc("main", "", { { "top", "d1" } },
  table.concat(defs, "\n")))
t.raises(function() rk.sbml.load(bomb, { quiet = true }) end,
  "instantiates 1.11e+06 models through its submodels (at most 10000 "
  .. "supported)", "1,111,112 instances refused before flattening")
-- ... while 1 + 10 + 100 + 1000 = 1111 (three levels) are fine
local ok_defs = {}
for d = 1, 3 do ok_defs[d] = defs[d] end
ok_defs[4] = '    <comp:modelDefinition id="d4"/>'
local fine = write("fine.xml", doc("main", "", { { "top", "d1" } },
  table.concat(ok_defs, "\n")))
local okf, inf2 = pcall(rk.sbml.info, fine, { quiet = true, time_unit = "h" })
t.ok(okf and inf2.flattened, "1,112 instances (below the limit) flatten: "
  .. tostring(okf and "" or inf2))

-- A replaced element naming nothing: libSBML's reason, with the line.
local dangling = write("dangling.xml", doc("main",
  replacing("p", 1, "nothing", "A"), { { "A", "elim" } }, ELIM_DEF))
t.raises(function() rk.sbml.load(dangling, { quiet = true }) end,
  "dangling.xml: line 9: The 'comp:idRef' attribute must be the 'id' of "
  .. "a model element",
  "a dangling replaced element: libSBML's reason, file and line")

-- An external definition whose file is missing.
local missing = write("missing.xml", doc("main", "", { { "E", "EM" } },
  { id = "EM", source = "nowhere.xml", ref = "x" }))
t.raises(function() rk.sbml.load(missing, { quiet = true }) end,
  "missing.xml:12: external model definition 'EM': source 'nowhere.xml' "
  .. "not found (looked for " .. dir .. "/nowhere.xml)",
  "an external definition whose file is missing: named, with the path")
local url = write("url.xml", doc("main", "", { { "E", "EM" } },
  { id = "EM", source = "http://example.org/m.xml", ref = "x" }))
t.raises(function() rk.sbml.load(url, { quiet = true }) end,
  "external model definition 'EM': source 'http://example.org/m.xml' is "
  .. "a URI (give a file path, relative to the model's folder or absolute)",
  "a URL source is refused")
-- an external file gets the main file's nesting check before libSBML
-- reads it (libSBML's recursive reader would overflow the stack)
local deep = {}
for _ = 1, 300 do deep[#deep + 1] = "<apply><minus/>" end
deep[#deep + 1] = "<cn>1</cn>"
for _ = 1, 300 do deep[#deep + 1] = "</apply>" end
write("deep_ext.xml", [[<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3"
      version="2">
  <model id="deep_ext">
    <listOfParameters>
      <parameter id="p" value="1" constant="true"/>
    </listOfParameters>
    <listOfInitialAssignments>
      <initialAssignment symbol="p">
        <math xmlns="http://www.w3.org/1998/Math/MathML">]]
  .. table.concat(deep) .. [[</math>
      </initialAssignment>
    </listOfInitialAssignments>
  </model>
</sbml>
]])
local deepm = write("deepmain.xml", doc("main", "", { { "E", "EM" } },
  { id = "EM", source = "deep_ext.xml", ref = "deep_ext" }))
t.raises(function() rk.sbml.load(deepm, { quiet = true }) end,
  "deepmain.xml:12: external model definition 'EM': " .. dir
  .. "/deep_ext.xml: line 10: elements nested 201 deep (at most 200 "
  .. "supported", "a too deeply nested external file: refused, both named")

-- an absolute path is a file
local absf = write("abs.xml", doc("abs", "", { { "E", "EM" } },
  { id = "EM", source = dir .. "/elim_ext.xml", ref = "elim_ext" }))
local ma, ia = rk.sbml.load(absf, { time_unit = "h", quiet = true })
t.is(ma:simulate{ times = { 0, 2 }, rtol = 1e-10, atol = 1e-12 }
  .outputs[ia.names.E__X][2], 10 * math.exp(-0.6), 1e-8,
  "an absolute source path: E__X(2 h) = 10 exp(-0.3 x 2)")

t.remove_tree(dir)
t.done()
