--- JSON for the `notifyhub` command: one object per line in (`send --each`),
-- receipts out (`--json`). Plain Lua, so the command needs nothing beyond
-- the library (the C core's cJSON is not bound to Lua).
-- @module notifyhub.cli_json

local M = {}

-- ---------------------------------------------------------------------------
-- Encoding: keys sorted (the same table gives the same line), a table with
-- keys exactly 1..n an array, NaN and infinities as null.
-- ---------------------------------------------------------------------------

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

-- The length of the valid UTF-8 sequence at i (RFC 3629), or nil.
local function utf8_at(s, i)
  local b = s:byte(i)
  if b < 0x80 then return 1 end
  local n = (b >= 0xF0 and b <= 0xF4) and 4 or (b >= 0xE0 and b < 0xF0 and 3) or (b >= 0xC2 and b < 0xE0 and 2)
  if not n then return nil end
  local cp = b % (n == 2 and 32 or n == 3 and 16 or 8)
  for k = 1, n - 1 do
    local c = s:byte(i + k)
    if not c or c < 0x80 or c > 0xBF then return nil end
    cp = cp * 64 + c % 64
  end
  local min = n == 3 and 0x800 or n == 4 and 0x10000 or 0x80
  if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil end
  return n
end

-- Text that is valid UTF-8: each bad byte becomes U+FFFD (a response cut
-- at 512 bytes may end inside a character; JSON must be UTF-8).
local function valid_utf8(s)
  if not s:find("[\128-\255]") then return s end
  local out, i = {}, 1
  while i <= #s do
    local n = utf8_at(s, i)
    out[#out + 1] = n and s:sub(i, i + n - 1) or "\239\191\189"
    i = i + (n or 1)
  end
  return table.concat(out)
end

local function encode_string(s)
  return '"' .. valid_utf8(s):gsub('[%c"\\]', function(c)
    return ESCAPES[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

-- Marks a table that is an array even when empty ("results": []).
local ARRAY = {}

--- t, marked to be encoded as an array even when it is empty.
function M.array(t) return setmetatable(t or {}, ARRAY) end

local function is_array(t)
  if getmetatable(t) == ARRAY then return true end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do if t[i] == nil then return false end end
  return n > 0
end

local encode_value

local function encode_table(t, depth)
  if depth > 32 then error("cli_json: nesting deeper than 32 levels", 0) end
  local out = {}
  if is_array(t) then
    for i = 1, #t do out[i] = encode_value(t[i], depth + 1) end   -- #t: 0 for an empty marked one
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for i, k in ipairs(keys) do
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    out[i] = encode_string(k) .. ":" .. encode_value(v, depth + 1)
  end
  return "{" .. table.concat(out, ",") .. "}"
end

function encode_value(v, depth)
  local kind = type(v)
  if kind == "string" then return encode_string(v) end
  if kind == "boolean" then return tostring(v) end
  if kind == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if math.type and math.type(v) == "integer" then return tostring(v) end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
    for digits = 15, 17 do   -- the shortest text that reads back the same
      local text = ("%." .. digits .. "g"):format(v)
      if tonumber(text) == v or digits == 17 then return text end
    end
  end
  if kind == "table" then return encode_table(v, depth) end
  return "null"
end

--- One line of JSON text for a value (nil, functions and userdata as null).
function M.encode(v) return encode_value(v, 0) end

-- ---------------------------------------------------------------------------
-- Decoding (RFC 8259): nil and why ("at byte 7: ..."); null is absent.
-- ---------------------------------------------------------------------------

local decode_value

local function fail(pos, what) error({ pos = pos, what = what }, 0) end

local function skip(s, pos) return s:find("[^ \t\r\n]", pos) or #s + 1 end

local function utf8_char(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64,
    0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
end

local function decode_escape(s, pos)
  local c = s:sub(pos, pos)
  local simple = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
  if simple[c] then return simple[c], pos + 1 end
  if c ~= "u" then fail(pos, "a bad escape") end
  local hex = s:match("^%x%x%x%x", pos + 1)
  if not hex then fail(pos, "a bad \\u escape") end
  local cp = tonumber(hex, 16)
  pos = pos + 5
  if cp >= 0xD800 and cp <= 0xDBFF then
    local low = s:match("^\\u(%x%x%x%x)", pos)
    local lo = low and tonumber(low, 16)
    if not lo or lo < 0xDC00 or lo > 0xDFFF then fail(pos, "a lone surrogate") end
    return utf8_char(0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)), pos + 6
  end
  if cp >= 0xDC00 and cp <= 0xDFFF then fail(pos, "a lone surrogate") end
  return utf8_char(cp), pos
end

local function decode_string(s, pos)
  local out, i = {}, pos + 1
  while true do
    local j = s:find('["\\%c]', i)
    if not j then fail(pos, "an unterminated string") end
    out[#out + 1] = s:sub(i, j - 1)
    local c = s:sub(j, j)
    if c == '"' then return table.concat(out), j + 1 end
    if c ~= "\\" then fail(j, "a control character in a string") end
    local text
    text, i = decode_escape(s, j + 1)
    out[#out + 1] = text
  end
end

local function decode_number(s, pos)
  local text = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if not text or not text:match("^-?0$") and not text:match("^-?[1-9]")
      and not text:match("^-?0[.eE]") then
    fail(pos, "a bad number")
  end
  local n = tonumber(text)
  if not n or text:match("%.$") or text:match("[eE][-+]?$") then fail(pos, "a bad number") end
  if math.tointeger and not text:find("[.eE]") then n = math.tointeger(n) or n end
  return n, pos + #text
end

local function decode_list(s, pos, close, item)
  pos = skip(s, pos + 1)
  if s:sub(pos, pos) == close then return pos + 1 end
  while true do
    pos = skip(s, item(pos))
    local c = s:sub(pos, pos)
    if c == close then return pos + 1 end
    if c ~= "," then fail(pos, ("',' or '%s' expected"):format(close)) end
    pos = skip(s, pos + 1)
  end
end

local function decode_object(s, pos, depth)
  local t = {}
  local after = decode_list(s, pos, "}", function(p)
    if s:sub(p, p) ~= '"' then fail(p, "a string key expected") end
    local key, q = decode_string(s, p)
    q = skip(s, q)
    if s:sub(q, q) ~= ":" then fail(q, "':' expected") end
    local v
    v, q = decode_value(s, skip(s, q + 1), depth + 1)
    t[key] = v
    return q
  end)
  return t, after
end

local function decode_array(s, pos, depth)
  local t, n = {}, 0
  local after = decode_list(s, pos, "]", function(p)
    local v
    v, p = decode_value(s, p, depth + 1)
    n = n + 1
    t[n] = v
    return p
  end)
  return t, after
end

local LITERALS = { ["true"] = true, ["false"] = false, null = M }

function decode_value(s, pos, depth)
  if depth > 32 then fail(pos, "nesting deeper than 32 levels") end
  local c = s:sub(pos, pos)
  if c == "{" then return decode_object(s, pos, depth) end
  if c == "[" then return decode_array(s, pos, depth) end
  if c == '"' then return decode_string(s, pos) end
  if c:match("[-%d]") then return decode_number(s, pos) end
  local word = s:match("^%a+", pos)
  if word and LITERALS[word] ~= nil then
    local v = LITERALS[word]
    if v == M then v = nil end   -- null: the key is absent
    return v, pos + #word
  end
  fail(pos, c == "" and "the text ended" or "a value expected")
end

--- Decodes one JSON text. Returns the value, or nil and why
-- ("at byte 7: ',' or '}' expected").
function M.decode(s)
  local ok, v, pos = pcall(function()
    local value, after = decode_value(s, skip(s, 1), 0)
    return value, skip(s, after)
  end)
  if not ok then
    if type(v) == "table" then return nil, ("at byte %d: %s"):format(v.pos, v.what) end
    error(v, 0)
  end
  if pos <= #s then return nil, ("at byte %d: text after the value"):format(pos) end
  return v
end

return M
