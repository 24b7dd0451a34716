-- tests/errcov/errcov.lua - which error messages a user can reach are
-- asserted by some test (run by tests/errcov/errcov.sh, `make errcov`).
--
-- Messages: the format string of every rkin_err_set(...) call in engine/
-- (and of the engine's printf-like wrappers listed in WRAPPERS), every
-- lrk_error / luaL_error string in dsl/ and every error(...) string of the
-- Lua prelude. A format is cut at its conversions (%s, %zu, "%" PRIu64,
-- Lua's .. x) into fixed pieces.
--
-- Checked: some string literal of a test (tests/**/*.c, *.cc, *.h, *.lua)
-- contains a distinctive fragment of the message: a run of GRAM characters
-- of one fixed piece that occurs in no other message, or a whole piece of
-- MIN..GRAM-1 characters (without the spaces and : ; , . at its ends) that
-- is part of no other message. A fragment
-- shared by several messages ("must be positive") checks none of them.
-- A message with only short pieces, or only shared ones, is checked by a
-- literal holding its pieces in order (see chain_of below).
-- Messages with the same fixed text (after the conversions) are one
-- message for this purpose: a test of the text counts for every call site.
--
-- Not counted in the share:
--   unreachable  RKIN_ENOMEM, or listed in the allowlist with a reason;
--   pass-through the format has no fixed piece of MIN characters ("%s: %s")
--                or is not a literal: the text comes from elsewhere.
--
-- usage: lua5.4 errcov.lua [--allow FILE] [--verbose] [--strict]
--                          --src FILE... --tests FILE...
-- Exit status: 0; with --strict 1 when a reachable message is unchecked;
-- 2 on a usage error or a malformed allowlist.

local GRAM, MIN = 16, 8
-- A chain that fits more messages than this is too vague to check any;
-- below it a literal checks the message only when it fits no rival whose
-- fixed text is as long (19 for "%s: field '%s' must be %s (got \"%s\")")
local MAX_RIVALS = 24

-- printf-like functions whose format argument (1-based) is an error
-- message, by file ("*" for every file of that language).
local WRAPPERS = {
  { file = "*.c", name = "rkin_err_set", arg = 3 },
  { file = "*.cc", name = "rkin_err_set", arg = 3 },
  { file = "engine/core/csv.c", name = "stop", arg = 6 },
  { file = "engine/core/expr.c", name = "fail", arg = 3 },
  { file = "engine/sbml/sbml_import.c", name = "fail", arg = 3 },
  { file = "engine/tare/tare_csv_in.c", name = "fail", arg = 4 },
  { file = "engine/regimen/regimen_run.c", name = "fail_patient", arg = 4 },
  { file = "dsl/*.c", name = "lrk_error", arg = 2 },
  { file = "dsl/*.c", name = "luaL_error", arg = 2 },
  { file = "dsl/*.lua", name = "error", arg = 1 },
}

local function die(fmt, ...)
  io.stderr:write("errcov: ", string.format(fmt, ...), "\n")
  os.exit(2)
end

local function slurp(path)
  local f, e = io.open(path, "rb")
  if not f then die("%s", e) end
  local s = f:read("a")
  f:close()
  return s
end

local function glob_match(pat, path)
  local p = "^" .. pat:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0")
                      :gsub("%*", ".*") .. "$"
  return path:match(p) ~= nil
end

-- ------------------------------------------------------------ tokenizer
-- Tokens {t = "str"|"id"|"p", v = text, line = n}; comments dropped;
-- string values unescaped.
local c_esc = { n = "\n", t = "\t", r = "\r", a = "\a", b = "\b", f = "\f",
                v = "\v", ["\\"] = "\\", ['"'] = '"', ["'"] = "'",
                ["?"] = "?", ["0"] = "\0" }

local function unescape(s, lua)
  return (s:gsub("\\(x%x%x?)", function(h)
      return string.char(tonumber(h:sub(2), 16))
    end):gsub("\\z%s*", lua and "" or "\\z"):gsub("\\(%d%d?%d?)", function(d)
      local v = lua and tonumber(d) or tonumber(d, 8)
      return v and v < 256 and string.char(v) or ""
    end):gsub("\\(.)", function(c) return c_esc[c] or c end))
end

local function tokenize(src, lua)
  local toks, i, n, line = {}, 1, #src, 1
  local function push(t, v) toks[#toks + 1] = { t = t, v = v, line = line } end
  local function count_lines(a, b)
    local _, k = src:sub(a, b):gsub("\n", "")
    line = line + k
  end
  while i <= n do
    local c = src:sub(i, i)
    if c == "\n" then line = line + 1; i = i + 1
    elseif c:match("%s") then i = i + 1
    elseif not lua and c == "\\" and src:sub(i + 1, i + 1) == "\n" then
      line = line + 1; i = i + 2          -- a macro's continued line
    elseif not lua and src:sub(i, i + 1) == "/*" then
      local j = src:find("*/", i + 2, true) or n
      count_lines(i, j); i = j + 2
    elseif not lua and src:sub(i, i + 1) == "//" then
      i = (src:find("\n", i, true) or n + 1)
    elseif lua and src:sub(i, i + 1) == "--" then
      local eq = src:match("^%[(=*)%[", i + 2)
      if eq then
        local _, j = src:find("]" .. eq .. "]", i + 4 + #eq, true)
        j = j or n
        count_lines(i, j); i = j + 1
      else
        i = (src:find("\n", i, true) or n + 1)
      end
    elseif lua and src:match("^%[=*%[", i) then
      local eq = src:match("^%[(=*)%[", i)
      local a = i + 2 + #eq
      local s, e = src:find("]" .. eq .. "]", a, true)
      s, e = s or n + 1, e or n
      local v = src:sub(a, s - 1):gsub("^\n", "")
      push("str", v); count_lines(i, e); i = e + 1
    elseif c == '"' or c == "'" then
      local j, buf = i + 1, {}
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then buf[#buf + 1] = src:sub(j, j + 1); j = j + 2
        elseif d == c or d == "\n" then break
        else buf[#buf + 1] = d; j = j + 1 end
      end
      local raw = table.concat(buf)
      if c == '"' or lua then push("str", unescape(raw, lua))
      else push("p", "'") end        -- a C character constant
      count_lines(i, j); i = j + 1
    elseif c:match("[%a_]") then
      local w = src:match("^[%w_]+", i)
      push("id", w); i = i + #w
    elseif c:match("%d") then
      local w = src:match("^[%w_.]+", i)
      push("p", w); i = i + #w
    elseif lua and src:sub(i, i + 1) == ".." then
      push("p", ".."); i = i + 2
    else
      push("p", c); i = i + 1
    end
  end
  return toks
end

-- ------------------------------------------------------ the messages
-- A format cut into fixed pieces at its conversions.
local function cut_format(parts)
  -- parts: list of literal strings, false between them for a non-literal
  local pieces, cur = {}, {}
  local function flush()
    local s = table.concat(cur)
    if s ~= "" then pieces[#pieces + 1] = s end
    cur = {}
  end
  for _, p in ipairs(parts) do
    if p == false then flush()
    else
      local i, n = 1, #p
      while i <= n do
        local c = p:sub(i, i)
        if c == "%" then
          if p:sub(i + 1, i + 1) == "%" then cur[#cur + 1] = "%"; i = i + 2
          else
            local spec = p:match("^%%[-+ #0']*[%d*]*%.?[%d*]*[hlLzjtq]*[%a]", i)
            if spec then flush(); i = i + #spec
            else flush(); i = i + 1 end       -- a dangling % (end of part)
          end
        else cur[#cur + 1] = c; i = i + 1 end
      end
    end
  end
  flush()
  return pieces
end

local function display(parts)
  local out = {}
  for _, p in ipairs(parts) do
    out[#out + 1] = p == false and "<...>" or p:gsub("\n", "\\n")
  end
  return table.concat(out)
end

local messages = {}

local function scan_source(path)
  local lua = path:match("%.lua$") ~= nil
  local wr = {}
  for _, w in ipairs(WRAPPERS) do
    if glob_match(w.file, path) then wr[w.name] = w.arg end
  end
  if not next(wr) then return end
  local toks = tokenize(slurp(path), lua)
  local k = 1
  while k <= #toks do
    local t = toks[k]
    local want = t.t == "id" and wr[t.v]
    local prev = toks[k - 1]
    -- a call, not a definition of the wrapper or a method (obj:error)
    if want and toks[k + 1] and toks[k + 1].v == "("
       and not (prev and (prev.v == "." or prev.v == ":" or prev.v == "function")) then
      local depth, arg, j = 0, 1, k + 1
      local args = { {} }
      repeat
        local u = toks[j]
        if u.v == "(" or u.v == "[" or u.v == "{" then
          depth = depth + 1
          if depth > 1 then table.insert(args[arg], u) end
        elseif u.v == ")" or u.v == "]" or u.v == "}" then
          depth = depth - 1
          if depth > 0 then table.insert(args[arg], u) end
        elseif u.v == "," and depth == 1 then
          arg = arg + 1; args[arg] = {}
        else table.insert(args[arg], u) end
        j = j + 1
      until depth == 0 or j > #toks
      local fa = args[want]
      local is_def = false
      if fa then
        -- a declaration: the argument is a typed parameter ("const char *fmt")
        for _, u in ipairs(fa) do
          if u.t == "id" and (u.v == "const" or u.v == "char") then
            is_def = true
          end
        end
      end
      if fa and not is_def then
        local parts, any, last = {}, false, nil
        for _, u in ipairs(fa) do
          if u.t == "str" then
            if last == "str" then parts[#parts] = parts[#parts] .. u.v
            else parts[#parts + 1] = u.v end
            any, last = true, "str"
          elseif last ~= "other" and u.v ~= ".." then
            parts[#parts + 1] = false; last = "other"
          end
        end
        local code = args[2] and args[2][1] and args[2][1].v
        messages[#messages + 1] = {
          file = path, line = t.line, parts = parts, literal = any,
          pieces = any and cut_format(parts) or {},
          text = any and display(parts) or "<not a literal>",
          enomem = (t.v == "rkin_err_set" and code == "RKIN_ENOMEM"),
        }
      end
      k = j
    else
      k = k + 1
    end
  end
end

-- ------------------------------------------------------ test literals
local literal_cache = {}
local function test_literals(path)
  if literal_cache[path] then return literal_cache[path] end
  local lua = path:match("%.lua$") ~= nil
  local out = {}
  local toks = tokenize(slurp(path), lua)
  local k = 1
  while k <= #toks do
    if toks[k].t == "str" then
      -- adjacent literals ("a" "b" in C, "a" .. "b" in Lua) are one string
      local buf = { toks[k].v }
      local j = k + 1
      while toks[j] and (toks[j].t == "str" or (lua and toks[j].v == ".."
                         and toks[j + 1] and toks[j + 1].t == "str")) do
        if toks[j].t == "str" then buf[#buf + 1] = toks[j].v end
        j = j + 1
      end
      local s = table.concat(buf)
      if #s >= MIN then
        out[#out + 1] = s
        if lua then
          -- a Lua pattern: %x escapes a character, classes and
          -- repetitions stand for something unknown
          local p = s:gsub("%%(%p)", "%1"):gsub("%%%a", "\0")
                     :gsub("%.[-*+]", "\0")
          if p ~= s then out[#out + 1] = p end
        end
      end
      k = j
    else k = k + 1 end
  end
  literal_cache[path] = out
  return out
end

-- ------------------------------------------------------------ options
local srcs, tests, allow_path, verbose, strict = {}, {}, nil, false, false
do
  local mode, i = nil, 1
  while i <= #arg do
    local a = arg[i]
    if a == "--src" then mode = srcs
    elseif a == "--tests" then mode = tests
    elseif a == "--allow" then i = i + 1; allow_path = arg[i]
    elseif a == "--verbose" then verbose = true
    elseif a == "--strict" then strict = true
    elseif a:sub(1, 2) == "--" then die("unknown option '%s'", a)
    elseif mode then mode[#mode + 1] = a
    else die("'%s': give --src or --tests first", a) end
    i = i + 1
  end
  if #srcs == 0 or #tests == 0 then
    die("usage: errcov.lua [--allow FILE] [--verbose] [--strict] "
        .. "--src FILE... --tests FILE...")
  end
end

for _, p in ipairs(srcs) do scan_source(p) end

-- allowlist: "file-glob | fragment of the message | reason"
local allow = {}
if allow_path then
  local ln = 0
  for line in io.lines(allow_path) do
    ln = ln + 1
    if not line:match("^%s*#") and line:match("%S") then
      local f, frag, why = line:match("^%s*(.-)%s*|%s*(.-)%s*|%s*(.-)%s*$")
      if not f or f == "" or frag == "" or why == "" then
        die("%s:%d: expected 'file | fragment | reason'", allow_path, ln)
      end
      allow[#allow + 1] = { file = f, frag = frag, why = why, line = ln,
                            used = 0 }
    end
  end
end

-- groups: messages with the same fixed text
local groups, gkey = {}, {}
for _, m in ipairs(messages) do
  local long = false
  for _, p in ipairs(m.pieces) do if #p >= MIN then long = true end end
  if m.enomem then m.state, m.why = "unreachable", "allocation failure"
  end
  for _, a in ipairs(allow) do
    -- a fragment ending in $ must end the message
    local hit_frag = a.frag:sub(-1) == "$"
      and m.text:sub(-(#a.frag - 1)) == a.frag:sub(1, -2)
      or a.frag:sub(-1) ~= "$" and m.text:find(a.frag, 1, true)
    if not m.state and not m.kept and glob_match(a.file, m.file)
       and hit_frag then
      -- reason "-": reachable after all (an exception to a later entry)
      if a.why == "-" then m.kept = true
      else m.state, m.why = "unreachable", a.why end
      a.used = a.used + 1
    end
  end
  if not m.state and not long then
    m.state = "passthrough"
  end
  if long then
    local key = table.concat(m.pieces, "\1")
    if not gkey[key] then
      groups[#groups + 1] = { pieces = m.pieces, key = key }
      gkey[key] = #groups
    end
    m.group = gkey[key]
  end
end

-- distinctive fragments: GRAM-grams owned by one group, short pieces
-- contained in no other group's text
local gram_owner, gram_shared = {}, {}
local short_by_head = {}
for gi, g in ipairs(groups) do
  for _, p in ipairs(g.pieces) do
    if #p >= GRAM then
      for i = 1, #p - GRAM + 1 do
        local s = p:sub(i, i + GRAM - 1)
        local o = gram_owner[s]
        if o == nil then gram_owner[s] = gi
        elseif o ~= gi then
          gram_owner[s] = false
          -- the groups sharing it, for the disambiguation below
          local l = gram_shared[s]
          if not l then l = { o }; gram_shared[s] = l end
          if l[#l] ~= gi then l[#l + 1] = gi end
        end
      end
    end
  end
end
for gi, g in ipairs(groups) do
  for _, p in ipairs(g.pieces) do
    -- "': optimiser \"" is asserted as "optimiser \"newton\"": the
    -- separators around a conversion are not part of the fragment
    p = p:gsub("^[%s:;,.]+", ""):gsub("[%s:;,.]+$", "")
    if #p >= MIN and #p < GRAM then
      local unique = true
      for gj, h in ipairs(groups) do
        if gj ~= gi and h.key:find(p, 1, true) then unique = false; break end
      end
      if unique then
        local head = p:sub(1, MIN)
        short_by_head[head] = short_by_head[head] or {}
        table.insert(short_by_head[head], { p = p, g = gi })
      end
    end
  end
end

local hit = {}       -- group -> first test file that asserts it

-- A literal holding a gram several messages share ("d:simulate: field
-- 'path' must be ..." and "%s: field 'path' must be ...") checks the one
-- whose fixed pieces it holds all of, in order; when several do, the
-- longest (the most specific: the other's pieces are part of it).
local esc_ = function(x) return (x:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end
local full_pat, full_len = {}, {}
local function full_chain(gi)
  if full_pat[gi] == nil then
    -- separators are cut at the message's two ends only: inside, a
    -- literal holds them ("rk.phantom.new: 40 spheres" must not fit
    -- "phantom: %zu spheres")
    local ps = {}
    for i, p in ipairs(groups[gi].pieces) do ps[i] = p end
    while ps[1] do
      ps[1] = ps[1]:gsub("^[%s:;,.]+", "")
      if ps[1] ~= "" then break end
      table.remove(ps, 1)
    end
    while ps[#ps] do
      ps[#ps] = ps[#ps]:gsub("[%s:;,.]+$", "")
      if ps[#ps] ~= "" then break end
      table.remove(ps)
    end
    local pat, len = {}, 0
    for _, p in ipairs(ps) do pat[#pat + 1] = esc_(p); len = len + #p end
    full_pat[gi] = #pat > 0 and table.concat(pat, ".-") or false
    full_len[gi] = len
  end
  return full_pat[gi], full_len[gi]
end
local function disambiguate(s, cands, path)
  local best, best_len, tie = nil, -1, false
  for gi in pairs(cands) do
    local pat, len = full_chain(gi)
    if pat and s:find(pat) then
      if len > best_len then best, best_len, tie = gi, len, false
      elseif len == best_len then tie = true end
    end
  end
  if best and not tie and not hit[best] then hit[best] = path end
end

for _, path in ipairs(tests) do
  for _, s in ipairs(test_literals(path)) do
    local cands = nil
    for i = 1, #s - MIN + 1 do
      if i <= #s - GRAM + 1 then
        local g = s:sub(i, i + GRAM - 1)
        local o = gram_owner[g]
        if o and not hit[o] then hit[o] = path end
        if o == false and #gram_shared[g] <= 8 then
          cands = cands or {}
          for _, gi in ipairs(gram_shared[g]) do cands[gi] = true end
        end
      end
      local c = short_by_head[s:sub(i, i + MIN - 1)]
      if c then
        for _, e in ipairs(c) do
          if not hit[e.g] and s:sub(i, i + #e.p - 1) == e.p then
            hit[e.g] = path
          end
        end
      end
    end
    if cands then disambiguate(s, cands, path) end
  end
end

-- A message whose fixed pieces are all short ("rk.model '%s': %s reads
-- unknown %s '%s.%s'"), or all shared, has no distinctive fragment; it is
-- checked when a test literal holds all its pieces in order, or (short
-- pieces only) its inner ones (the
-- first and last cut off: the context before, the tail after), at least
-- MIN + 4 characters of them, and that chain fits no other message. One
-- too short even for that ("%s: params: %s") is checked by a literal
-- holding its whole fixed text, separators included.
local function esc(x) return (x:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end
local function chain_of(g, inner)
  local ps = g.pieces
  local a, b = 1, #ps
  if inner then
    if #ps < 3 then return nil end
    a, b = 2, #ps - 1
  end
  if #ps < 2 then return nil end
  local pat, len = {}, 0
  for i = a, b do
    local p = ps[i]:gsub("^[%s:;,.]+", ""):gsub("[%s:;,.]+$", "")
    if #p > 0 then pat[#pat + 1] = esc(p); len = len + #p end
  end
  if #pat < 2 or len < MIN + 4 then return nil end
  local first = ps[a]:gsub("^[%s:;,.]+", ""):gsub("[%s:;,.]+$", "")
  return table.concat(pat, ".-"), first
end
-- The whole fixed text, separators kept ("%s: params: %s" is asserted as
-- "m:simulate: params: ..."): for a message too short for chain_of.
local function raw_chain(g)
  local pat, len = {}, 0
  for _, p in ipairs(g.pieces) do pat[#pat + 1] = esc(p); len = len + #p end
  if len < MIN then return nil end
  return table.concat(pat, ".-"), ""
end
do
  local chains = {}
  for gi, g in ipairs(groups) do
    local short = true
    for _, p in ipairs(g.pieces) do if #p >= GRAM then short = false end end
    -- a message with long pieces, all shared ("%s: %s: lesion %d must be
    -- a table"), has no distinctive fragment either: it is checked by a
    -- literal holding all its pieces in order (never its inner ones alone)
    if not hit[gi] then
      -- all pieces in order, else the inner ones (the ends cut off)
      for _, inner in ipairs(short and { false, true } or { false }) do
        local pat, first = chain_of(g, inner)
        if not pat and not inner then pat, first = raw_chain(g) end
        if pat then
          -- messages whose text the chain also fits: a literal then checks
          -- this one only when it holds this one's whole fixed text and
          -- that is longer than any rival's it also holds
          local rivals = {}
          for gj, h in ipairs(groups) do
            if gj ~= gi and h.key:find(pat) then rivals[#rivals + 1] = gj end
          end
          if #rivals <= MAX_RIVALS then
            chains[#chains + 1] = { g = gi, pat = pat, first = first,
                                    rivals = rivals }
          end
        end
      end
    end
  end
  if #chains > 0 then
    for _, path in ipairs(tests) do
      for _, s in ipairs(test_literals(path)) do
        for _, c in ipairs(chains) do
          if not hit[c.g] and (c.first == "" or s:find(c.first, 1, true))
             and s:find(c.pat) then
            if #c.rivals == 0 then
              hit[c.g] = path
            else
              local pat, len = full_chain(c.g)
              local best = pat and s:find(pat) ~= nil
              for _, gj in ipairs(c.rivals) do
                local rp, rl = full_chain(gj)
                if rp and rl >= len and s:find(rp) then best = false end
              end
              if best then hit[c.g] = path end
            end
          end
        end
      end
    end
  end
end

-- ------------------------------------------------------------- report
local per_file, order = {}, {}
local tot = { all = 0, checked = 0, unreachable = 0, passthrough = 0 }
for _, m in ipairs(messages) do
  if not m.state then
    m.state = hit[m.group] and "checked" or "unchecked"
    m.by = hit[m.group]
  end
  local f = per_file[m.file]
  if not f then
    f = { all = 0, checked = 0, unreachable = 0, passthrough = 0, list = {} }
    per_file[m.file] = f; order[#order + 1] = m.file
  end
  f.all = f.all + 1; tot.all = tot.all + 1
  if f[m.state] then
    f[m.state] = f[m.state] + 1; tot[m.state] = tot[m.state] + 1
  end
  table.insert(f.list, m)
end
table.sort(order)

local function share(c, n)
  return n > 0 and string.format("%d of %d (%.0f %%)", c, n, 100 * c / n)
         or "none"
end

local unchecked = 0
for _, path in ipairs(order) do
  local f = per_file[path]
  local reach = f.all - f.unreachable - f.passthrough
  local miss = reach - f.checked
  unchecked = unchecked + miss
  if miss > 0 or verbose then
    print(string.format("%s: %s checked%s", path, share(f.checked, reach),
          (f.unreachable + f.passthrough > 0) and string.format(
            " (%d unreachable, %d pass-through)", f.unreachable,
            f.passthrough) or ""))
    for _, m in ipairs(f.list) do
      if m.state == "unchecked" then
        print(string.format("  %d: %s", m.line, m.text))
      elseif verbose then
        print(string.format("  %d: [%s%s] %s", m.line, m.state,
              m.why and (": " .. m.why) or (m.by and (" by " .. m.by) or ""),
              m.text))
      end
    end
  end
end
for _, a in ipairs(allow) do
  if a.used == 0 then
    io.stderr:write(string.format("errcov: %s:%d: allowlist entry matches "
      .. "no message: %s | %s\n", allow_path, a.line, a.file, a.frag))
  end
end
local reach = tot.all - tot.unreachable - tot.passthrough
print(string.format("errcov: %d messages at %d call sites; %d unreachable, "
  .. "%d pass-through; reachable messages checked by a test: %s",
  #groups, tot.all, tot.unreachable, tot.passthrough,
  share(tot.checked, reach)))
os.exit((strict and unchecked > 0) and 1 or 0)
