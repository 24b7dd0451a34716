-- organdose.lua - "radiokin.organdose": the dose-rate outputs shared by the
-- 177Lu population models (models/lu177_psma.lua, lu177_dotatate.lua):
-- local energy deposition in each organ, and red marrow dosed from the
-- blood plus a whole-body photon cross-dose.
--
--   local od = require "radiokin.organdose"
--   rk.model { ...,
--     outputs = od.outputs {
--       states = { "B", "K", "T", "R" },  -- all of them: the whole body
--       organs = { K = "m_K", T = "m_T" }, -- state -> mass parameter (kg)
--       E = E, E_p = E_p,                  -- J/(MBq h): electrons, photons
--       whole_body = "A_WB",               -- optional: whole-body output
--       marrow_image = "M",                -- optional: marrow uptake state
--     },
--   }
--
-- The outputs function it returns gives, for each organ X with mass
-- parameter m, D_X = s.X E / p.m (Gy/h: its TIA over a cycle is the dose
-- in Gy); A_RM = s.B / V1 RMBLR m_RM, the red-marrow activity (MBq) from
-- the blood concentration; and D_RM = A_RM E / m_RM + body E_p phi_WB /
-- m_WB, body being the sum of all states. The model must have the state B
-- and the parameters V1, RMBLR, m_RM, m_WB and phi_WB. With whole_body =
-- NAME, the output NAME is body, the whole-body activity (MBq; its
-- decay-corrected retention is NAME e^(lambda t) / administered activity).
--
-- Two red-marrow regions, as the two ways clinics measure it:
--   blood-based  A_RM, D_RM above: the marrow's activity concentration is
--                RMBLR times the blood's (EANM bone-marrow dosimetry
--                guidance, Hindorf et al. 2010; the RMBLR of Sgouros 1993;
--                Forrer 2009: 1 for 177Lu-DOTATATE)
--   image-based  with marrow_image = STATE (a state holding the marrow's
--                own uptake, whole red marrow: what L2-L4 SPECT scaled to
--                the total marrow sees on top of the blood): A_RMI =
--                s.STATE + A_RM, D_RMI = A_RMI E / m_RM + body E_p phi_WB
--                / m_WB (the same photon cross-dose from the whole body)
-- STATE must be one of `states` (it is part of the whole body).

local M = {}

local CTX = "radiokin.organdose.outputs"

local function check(o)
  if type(o) ~= "table" then
    error(CTX .. ": expects a table {states=, organs=, E=, E_p=} (got "
          .. type(o) .. ")", 3)
  end
  if type(o.states) ~= "table" or #o.states == 0 then
    error(CTX .. ": field 'states' must be a non-empty array of state "
          .. "names", 3)
  end
  if o.whole_body ~= nil and (type(o.whole_body) ~= "string"
      or not o.whole_body:match("^[%a_][%w_]*$")) then
    error(CTX .. ": field 'whole_body' must be an output name (letters, "
          .. "digits, _), got " .. tostring(o.whole_body), 3)
  end
  if o.marrow_image ~= nil then
    local found = false
    for _, x in ipairs(o.states) do
      if x == o.marrow_image then found = true end
    end
    if not found then
      error(CTX .. ": field 'marrow_image' must name one of 'states' (got "
            .. tostring(o.marrow_image) .. ")", 3)
    end
  end
  if type(o.organs) ~= "table" then
    error(CTX .. ": field 'organs' must be a table STATE = mass parameter",
          3)
  end
  for _, k in ipairs { "E", "E_p" } do
    if type(o[k]) ~= "number" then
      error(CTX .. ": field '" .. k .. "' must be a number (J/(MBq h)), "
            .. "got " .. type(o[k]), 3)
    end
  end
end

function M.outputs(o)
  check(o)
  local states, E, E_p = o.states, o.E, o.E_p
  local organs, mass = {}, {}
  for x, m in pairs(o.organs) do
    organs[#organs + 1] = x
    mass[x] = m
  end
  table.sort(organs)        -- a fixed order of the traced expressions
  return function(s, p)
    local body = s[states[1]]
    for i = 2, #states do body = body + s[states[i]] end
    local marrow = s.B / p.V1 * p.RMBLR * p.m_RM   -- MBq in red marrow
    local cross = body * E_p * p.phi_WB / p.m_WB   -- photons, whole body
    local out = {
      A_RM = marrow,
      D_RM = marrow * E / p.m_RM + cross,
    }
    if o.marrow_image then
      local img = s[o.marrow_image] + marrow
      out.A_RMI = img
      out.D_RMI = img * E / p.m_RM + cross
    end
    for _, x in ipairs(organs) do
      out["D_" .. x] = s[x] * E / p[mass[x]]
    end
    if o.whole_body then out[o.whole_body] = body end
    return out
  end
end

return M
