--- Config files: `notifyhub.config.load(path)` reads a YAML file
-- (Apprise's format: `urls:` with tags, plus notifyhub's own sections),
-- Apprise's TEXT format (a URL a line, or tags=URL) or a Lua file
-- returning a config table, checks it, and returns the config table for
-- `notifyhub.new`. Errors name the file, the line and the key, never a
-- value (URLs and passwords live there).
-- @module notifyhub.config_file

local config = require("notifyhub.config")

local M = {}

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

local function failure(path, line, text)
  return nil, ("%s:%s%s"):format(path, line and (tostring(line) .. ": ") or " ", text), "INVALID_CONFIG"
end

-- ---------------------------------------------------------------------------
-- Lua files
-- ---------------------------------------------------------------------------

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

--- What a Lua config file sees: the functions that compute values, no I/O,
-- no loading of code, no globals of the program (copies of the libraries,
-- so the file cannot change the program's own).
function M.lua_env()
  return {
    string = copy(string), table = copy(table), math = copy(math), utf8 = utf8 and copy(utf8),
    os = { getenv = os.getenv, time = os.time, date = os.date, clock = os.clock },
    tostring = tostring, tonumber = tonumber, pairs = pairs, ipairs = ipairs, next = next,
    select = select, type = type, error = error, assert = assert, pcall = pcall,
    unpack = table.unpack or unpack, rawget = rawget, rawequal = rawequal, rawlen = rawlen,
  }
end

-- A config file computes a table: it gets M.MAX_STEPS VM instructions (a
-- loop that never ends is an error, not a hang). LuaJIT's compiled code
-- skips hooks, so the chunk runs interpreted.
M.MAX_STEPS = 100000000
-- and at most M.MAX_MEMORY bytes more than it found (one `s = s .. s` a
-- turn of a short loop would ask for a terabyte within a few instructions).
M.MAX_MEMORY = 128 * 1024 * 1024

local function run_bounded(fn, path)
  if jit then jit.off(fn, true) end
  local co = coroutine.create(fn)
  local steps, per = 0, 100000
  debug.sethook(co, function()
    steps = steps + per
    if steps >= M.MAX_STEPS then error(("runs more than %d instructions"):format(M.MAX_STEPS), 2) end
  end, "", per)
  collectgarbage()
  local pok, ok, cfg = require("notifyhub.core").with_memory_limit(M.MAX_MEMORY, coroutine.resume, co)
  if not pok then ok, cfg = false, ok end
  if not ok and cfg == "not enough memory" then
    cfg = ("%s: uses more than %d MB of memory"):format(path, math.floor(M.MAX_MEMORY / 1048576))
  end
  if ok and coroutine.status(co) ~= "dead" then return false, "the file yielded" end
  return ok, cfg
end

local function load_lua(path, text)
  if text:byte(1) == 27 then return failure(path, nil, "a precompiled chunk, not Lua source") end
  local env = M.lua_env()
  local fn, err
  if setfenv then                                    -- LuaJIT / 5.1
    fn, err = loadstring(text, "@" .. path)
    if fn then setfenv(fn, env) end
  else
    fn, err = load(text, "@" .. path, "t", env)
  end
  if not fn then return nil, err, "INVALID_CONFIG" end
  local ok, cfg = run_bounded(fn, path)
  if not ok then return nil, tostring(cfg), "INVALID_CONFIG" end
  if type(cfg) ~= "table" then
    return failure(path, nil, ("the file must return a config table, it returned %s"):format(type(cfg)))
  end
  return cfg
end

-- The line of a key path in Lua source: the first `name =` of its last
-- named component (then the others'), or nil.
local function lua_line(text, keypath)
  local names = {}
  for name in keypath:gmatch("[%a_][%w_]*") do table.insert(names, 1, name) end
  for _, name in ipairs(names) do
    local n = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      if line:find("%f[%w_]" .. name .. "%s*=") or line:find("%[%s*[\"']" .. name .. "[\"']%s*%]%s*=") then
        return n
      end
    end
  end
end

-- ---------------------------------------------------------------------------
-- YAML files (lyaml, Debian's lua-yaml)
-- ---------------------------------------------------------------------------

-- path -> line (1-based) of every mapping key and sequence item, from the
-- parser's events (lyaml.load keeps no marks).
local function yaml_lines(text)
  local yaml = require("yaml")
  local lines, stack = {}, {}
  local function child(top)
    if top.kind == "seq" then
      top.n = top.n + 1
      return ("%s[%d]"):format(top.path, top.n)
    end
    return top.key and (top.path == "" and top.key or top.path .. "." .. top.key) or top.path
  end
  -- a value event: where it lives, and the mapping's next event is a key again
  local function place(e)
    local top = stack[#stack]
    if not top then return "" end
    if top.kind == "map" and top.expect == "key" then
      top.key = e.type == "SCALAR" and e.value or "?"
      top.expect = "value"
      local p = child(top)
      lines[p] = lines[p] or e.start_mark.line + 1
      return nil
    end
    local p = child(top)
    if top.kind == "map" then top.expect = "key" end
    lines[p] = lines[p] or e.start_mark.line + 1
    return p
  end
  local next_event = yaml.parser(text)
  while true do
    local e = next_event()
    if not e or e.type == "STREAM_END" then break end
    if e.type == "MAPPING_START" or e.type == "SEQUENCE_START" then
      local top = stack[#stack]
      local p = place(e)
      if p == nil and top then p = child(top) end      -- a mapping as a key: ignored
      stack[#stack + 1] = { kind = e.type == "MAPPING_START" and "map" or "seq", path = p or "", n = 0,
        expect = "key" }
    elseif e.type == "MAPPING_END" or e.type == "SEQUENCE_END" then
      stack[#stack] = nil
    elseif e.type == "SCALAR" or e.type == "ALIAS" then
      place(e)
    end
  end
  return lines
end

local null

-- lyaml's null as nil inside mappings; in sequences it stays (an error
-- later). Each table once: YAML aliases share tables (a "billion laughs"
-- file is a small graph, which a plain walk would take exponential time on).
local function denull(v, seen)
  if type(v) ~= "table" or v == null or seen[v] then return v end
  seen[v] = true
  for k, x in pairs(v) do
    if x == null and type(k) ~= "number" then v[k] = nil else v[k] = denull(x, seen) end
  end
  return v
end

-- `- json://host:` with nothing under it (a tag line commented out) is
-- the URL without options, as Apprise reads it (denull would drop it).
local function empty_options(doc)
  if type(doc) ~= "table" or doc == null or type(doc.urls) ~= "table" or doc.urls == null then return end
  for _, item in ipairs(doc.urls) do
    if type(item) == "table" and item ~= null then
      local k, v = next(item)
      if type(k) == "string" and v == null and next(item, k) == nil then item[k] = {} end
    end
  end
end

local function query_value(v)
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = tostring(x) end
    return table.concat(parts, ",")
  end
  if type(v) == "boolean" then return v and "yes" or "no" end
  return tostring(v)
end

local function encode(s)
  return (s:gsub("[^%w%-%._~@,:/]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- Apprise's entry options: tag (and tags, name) stay keys; every other
-- key is a URL argument, appended to the query (where it wins).
local function with_args(url, opts)
  local keys = {}
  for k in pairs(opts) do
    if k ~= "tag" and k ~= "tags" and k ~= "name" then keys[#keys + 1] = tostring(k) end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    url = url .. (url:find("?", 1, true) and "&" or "?") .. encode(k) .. "=" .. encode(query_value(opts[k]))
  end
  return url
end

local function union(a, b)
  if a == nil then return b end
  if b == nil then return a end
  local out = {}
  for _, t in ipairs({ a, b }) do
    if type(t) == "string" then out[#out + 1] = t else for _, x in ipairs(t) do out[#out + 1] = x end end
  end
  return out
end

-- Apprise's `urls:` entries into notifyhub's `urls`, and where each came
-- from: origin[i] = { path = its YAML path (for the line; it may hold the
-- URL), shown = how errors name it (never the URL) }.
local function apprise_urls(list, global_tag)
  local out, origin = {}, {}
  local function add(entry, from, shown)
    out[#out + 1], origin[#out + 1] = entry, { path = from, shown = shown or from }
  end
  if type(list) ~= "table" or (next(list) ~= nil and list[1] == nil) then   -- a mapping too
    return nil, "urls", "a list of URLs expected"
  end
  for i, item in ipairs(list) do
    local at = ("urls[%d]"):format(i)
    if type(item) == "string" then
      add(global_tag and { url = item, tags = global_tag } or item, at)
    elseif type(item) == "table" and type(item.url) == "string" then
      -- notifyhub's own form: { url = ..., tags = ..., name = ... }
      local e = copy(item)
      e.tags = union(global_tag, union(e.tags, e.tag))
      e.tag = nil
      add(e, at)
    elseif type(item) == "table" and next(item) ~= nil and next(item, next(item)) == nil then
      -- Apprise's form: { [url] = options or a list of options }
      local url, opts = next(item)
      if type(url) ~= "string" then return nil, at, "a URL expected" end
      local listed = type(opts) == "table" and opts[1] ~= nil
      for j, o in ipairs(listed and opts or { opts or {} }) do
        local from = at .. "." .. url .. (listed and ("[%d]"):format(j) or "")
        local shown = at .. (listed and ("[%d]"):format(j) or "")
        if type(o) ~= "table" then return nil, { path = from, shown = shown }, "a mapping of URL options expected" end
        add({ url = with_args(url, o), tags = union(global_tag, union(o.tag, o.tags)), name = o.name }, from, shown)
      end
    else
      return nil, at, "a URL, or a URL with its options (- url: {tag: ...}) expected"
    end
  end
  return out, origin
end

local APPRISE_KEYS = { version = true, tag = true, urls = true, asset = true }

-- Apprise's top level (version, tag, urls; asset is ignored) and
-- notifyhub's sections, as notifyhub.new's config.
local function from_yaml(doc)
  if type(doc) ~= "table" or doc[1] ~= nil then
    return nil, "", "a mapping (urls:, and notifyhub's sections) expected"
  end
  if doc.version ~= nil and doc.version ~= 1 then return nil, "version", "1 expected (Apprise's format)" end
  for _, k in ipairs({ "include", "groups" }) do
    if doc[k] ~= nil then return nil, k, "not supported by notifyhub (list the URLs here)" end
  end
  local cfg, origin = {}, {}
  for k, v in pairs(doc) do
    if not APPRISE_KEYS[k] then cfg[k] = v end
  end
  if doc.tag ~= nil then                              -- else its mistake shows as urls[1]'s
    local what, got = require("notifyhub.tags").check(doc.tag)
    if what then return nil, "tag", what .. (got and ", got " .. got or "") end
  end
  if doc.urls ~= nil then
    local urls, where, why = apprise_urls(doc.urls, doc.tag)
    if not urls then return nil, where, why end
    cfg.urls, origin = urls, where
  end
  return cfg, origin
end

local function load_yaml(path, text)
  local ok, lyaml = pcall(require, "lyaml")
  if not ok then return failure(path, nil, "YAML needs the lyaml module (Debian: lua-yaml)") end
  null = lyaml.null
  local okl, lines = pcall(yaml_lines, text)
  if not okl then
    local msg = tostring(lines)
    local line = msg:match("line: (%d+)")
    return failure(path, line, "YAML: " .. (msg:match("^([^\n]-) at document") or msg:match("^[^\n]*")))
  end
  local okd, doc = pcall(lyaml.load, text)
  if not okd then return failure(path, nil, "YAML: " .. tostring(doc)) end
  empty_options(doc)
  local cfg, origin, why = from_yaml(denull(doc, {}))
  if not cfg then
    local where = type(origin) == "table" and origin or { path = origin, shown = origin }
    return failure(path, lines[where.path], (where.shown ~= "" and where.shown .. ": " or "") .. why)
  end
  return cfg, nil, nil, lines, origin
end

-- ---------------------------------------------------------------------------
-- Apprise's TEXT format: one URL a line, or "tag1, tag2=URL"; # and ;
-- start comments.
-- ---------------------------------------------------------------------------

local URL_LINE = "^([%w_%-%.:@/,%s]-)%s*=%s*(%a[%w+.-]*://.*)$"

local function meaningful(line)
  return line:match("^%s*$") == nil and line:match("^%s*[#;]") == nil
end

--- True when the file's first meaningful line is a URL or tags=URL.
local function is_text(text)
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if meaningful(line) then
      local l = line:gsub("^%s+", ""):gsub("%s+$", "")
      return l:match("^%a[%w+.-]*://") ~= nil or l:match(URL_LINE) ~= nil
    end
  end
  return false
end

local function load_text(path, text)
  local urls, origin, lines, n = {}, {}, {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    line = line:gsub("\r$", ""):gsub("^%s+", ""):gsub("%s+$", "")
    if meaningful(line) then
      local tags, url = line:match(URL_LINE)
      if line:match("^%a[%w+.-]*://") then tags, url = nil, line end
      if not url then return failure(path, n, "a URL or tags=URL expected (Apprise's text format)") end
      urls[#urls + 1] = tags and tags ~= "" and { url = url, tags = tags } or url
      origin[#urls] = { path = "line" .. n, shown = ("urls[%d]"):format(#urls) }
      lines["line" .. n] = n
    end
  end
  return { urls = urls }, nil, nil, lines, origin
end

-- ---------------------------------------------------------------------------

--- The file's line of a config.check error's key path, and the path as the
-- file spells it.
local function locate(keypath, lines, origin, text, lua)
  if lua then return lua_line(text, keypath), keypath end
  local shown = keypath
  local i, rest = keypath:match("^urls%[(%d+)%](.*)$")
  local o = i and origin and origin[tonumber(i)]
  if o then keypath, shown = o.path .. rest, o.shown .. rest end
  local p = keypath
  while p ~= "" do
    if lines[p] then return lines[p], shown end
    local tag = p:gsub("%.tags$", ".tag")
    if lines[tag] then return lines[tag], shown end
    local shorter = p:match("^(.*)[%.%[][^%.%[]*$")
    if not shorter or shorter == p then break end
    p = shorter
  end
  return nil, shown
end

--- Reads a config file: Lua (`.lua`), Apprise's TEXT format (a file whose
-- first line that is not blank or a comment is a URL or tags=URL), else
-- YAML.
-- @tparam string path the file
-- @return the config table for `notifyhub.new`, or nil, err, "INVALID_CONFIG"
--   (err: "path:line: key: what is wrong")
function M.load(path)
  if type(path) ~= "string" then
    error(("bad argument #1 to 'load' (string expected, got %s)"):format(type(path)), 2)
  end
  -- fopen would stop at a NUL byte and open another file than the one named
  if path:find("\0", 1, true) then return nil, "config file: a path with a NUL byte", "INVALID_CONFIG" end
  local text, err = read(path)
  if not text then return nil, err, "INVALID_CONFIG" end
  local lua = path:match("%.lua$") ~= nil
  local cfg, lerr, code, lines, origin
  if lua then
    cfg, lerr, code = load_lua(path, text)
  elseif is_text(text) then
    cfg, lerr, code, lines, origin = load_text(path, text)
  else
    cfg, lerr, code, lines, origin = load_yaml(path, text)
  end
  if not cfg then return nil, lerr, code end
  local ok, cerr = pcall(config.check, cfg)
  if not ok then
    local msg = tostring(cerr):gsub("^notifyhub config: ", "")
    local keypath, why = msg:match("^([^:]+): (.*)$")
    if not keypath then return failure(path, nil, msg) end
    local line, shown = locate(keypath, lines or {}, origin, text, lua)
    return failure(path, line, shown .. ": " .. why)
  end
  return cfg
end

return M
