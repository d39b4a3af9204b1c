--- Tags: which configured destinations a message without targets reaches,
-- by Apprise's rules.
--
-- An instance (a platform section's instance or a URL of `urls`) carries
-- `tags = { "ops", "db" }` (or the string "ops, db"). A message's `tags` is
-- a list of entries; an entry is a string "a,b" or a list { "a", "b" } and
-- means a AND b; several entries mean OR. "all" reaches every destination;
-- a destination tagged "always" is reached by every message. A message with
-- no tags reaches the untagged destinations (and the "always" ones).
-- @module notifyhub.tags

local M = {}

local function words(s, out)
  for w in s:gmatch("[^,%s]+") do out[#out + 1] = w end
  return out
end

--- Checker of an instance's `tags` (config.lua's rules: nil when fine,
-- else what was expected and what was given).
function M.check(v)
  local what = "tag name or array of tag names (letters, digits, _ - . : @ /)"
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" then return what end
  for k, tag in pairs(v) do
    if type(k) ~= "number" or type(tag) ~= "string" then return what end
    for _, w in ipairs(words(tag, {})) do
      if not w:match("^[%w_%-%.:@/]+$") then return what, "a tag with other characters" end
    end
  end
end

--- An instance's tags as a set (nil or empty: untagged).
function M.set(v)
  local set = {}
  if type(v) == "string" then v = { v } end
  for _, tag in ipairs(v or {}) do
    for _, w in ipairs(words(tag, {})) do set[w] = true end
  end
  return set
end

--- A message's tags as a list of AND-sets, or nil and why.
function M.expression(v)
  if type(v) == "string" then v = { v } end
  local out = {}
  for i, entry in ipairs(v) do
    local set, n = {}, 0
    local parts = type(entry) == "table" and entry or { entry }
    for _, p in ipairs(parts) do
      if type(p) ~= "string" then return nil, ("tags[%d]: a string or an array of strings expected"):format(i) end
      for _, w in ipairs(words(p, {})) do
        if not w:match("^[%w_%-%.:@/]+$") then
          return nil, ("tags[%d]: a tag of letters, digits and _ - . : @ / expected"):format(i)
        end
        set[w], n = true, n + 1
      end
    end
    if n == 0 then return nil, ("tags[%d]: no tag in it"):format(i) end
    out[#out + 1] = set
  end
  if #out == 0 then return nil, "tags is empty" end
  for k in pairs(v) do
    if type(k) ~= "number" then return nil, "tags: an array expected" end
  end
  return out
end

local function matches(expr, set)
  if set.always then return true end
  if not expr then return next(set) == nil end
  for _, wanted in ipairs(expr) do
    if wanted.all then return true end
    local ok = true
    for tag in pairs(wanted) do
      if not set[tag] then ok = false; break end
    end
    if ok then return true end
  end
  return false
end

--- How an expression reads in an error: "ops or (db and prod)".
function M.text(expr)
  local parts = {}
  for i, set in ipairs(expr) do
    local names = {}
    for tag in pairs(set) do names[#names + 1] = tag end
    table.sort(names)
    local s = table.concat(names, " and ")
    parts[i] = (#names > 1 and #expr > 1) and "(" .. s .. ")" or s
  end
  return table.concat(parts, " or ")
end

--- The instances a message reaches: { { platform, instance }, ... } in
-- platform then instance order, or nil and why.
-- @tparam table platforms the checked config's platforms
-- @tparam[opt] table expr from M.expression; nil: the message gave no tags
function M.select(platforms, expr)
  local out, seen = {}, 0
  for platform, section in pairs(platforms) do
    for name, cfg in pairs(section.instances) do
      seen = seen + 1
      if matches(expr, M.set(cfg.tags)) then out[#out + 1] = { platform, name } end
    end
  end
  if seen == 0 then return nil, "the client has no destinations configured (urls or platform sections)" end
  table.sort(out, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  if #out > 0 then return out end
  if expr then return nil, ("no destination has the tags %s"):format(M.text(expr)) end
  return nil, "the message names no targets and no tags, and every destination has tags:"
    .. " give tags (\"all\" reaches every destination)"
end

return M
