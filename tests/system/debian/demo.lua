-- Lua 5.4: string ops, tables, closures, coroutines, metatables, integers
local words = {}
for w in ("the quick brown fox jumps over the lazy dog the end"):gmatch("%a+") do
  words[#words + 1] = w
end
local counts = {}
for _, w in ipairs(words) do counts[w] = (counts[w] or 0) + 1 end
local keys = {}
for k in pairs(counts) do keys[#keys + 1] = k end
table.sort(keys, function(a, b)
  if counts[a] ~= counts[b] then return counts[a] > counts[b] end
  return a < b
end)
for i = 1, 4 do print(string.format("%-6s %d", keys[i], counts[keys[i]])) end
print(("hello world"):upper():rep(2, "|"), ("abc"):byte(1, -1))
print((string.gsub("riscv64 linux user", "(%w+)", "<%1>")))

local function counter(step)
  local n = 0
  return function() n = n + step; return n end
end
local c2, c5 = counter(2), counter(5)
c2(); c5()
print("closures", c2(), c5(), c2())

local gen = coroutine.wrap(function(n)
  local a, b = 0, 1
  for _ = 1, n do coroutine.yield(a); a, b = b, a + b end
end)
local fib = {}
local v = gen(15)
while v do fib[#fib + 1] = v; v = gen() end
print("fib", table.concat(fib, " "))

local producer = coroutine.create(function()
  for i = 1, 3 do coroutine.yield("item" .. i) end
  return "done"
end)
while true do
  local ok, item = coroutine.resume(producer)
  io.write(tostring(ok), ":", item, " ")
  if coroutine.status(producer) == "dead" then break end
end
print()

local Vec = {}
Vec.__index = Vec
Vec.__add = function(a, b) return setmetatable({x = a.x + b.x, y = a.y + b.y}, Vec) end
Vec.__tostring = function(v) return "(" .. v.x .. "," .. v.y .. ")" end
local p = setmetatable({x = 1, y = 2}, Vec) + setmetatable({x = 10, y = 20}, Vec)
print("vec", tostring(p))
print("int", math.maxinteger, math.mininteger, 7 // 2, 7 % -3, 2^10, 1 << 62, math.type(1), math.type(1.0))
print("float", string.format("%.6f %.3e %g", math.pi, 1 / 3, 2 ^ 0.5))
local ok, err = pcall(function() error({code = 42}) end)
print("pcall", ok, err.code)
print(select("#", 1, nil, 3), string.rep("ab", 3, ","), utf8.char(72, 228, 8364))
