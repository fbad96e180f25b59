-- cachesync write-behind: add to a cached integer, never below a floor, and
-- queue the new value as the row's column, in one atomic step.
--
-- In a Redis Cluster all three keys must hash to one slot: put the stream's
-- hash tag in the cache key (stream wb:{stock}, key {stock}:item:42).
--
-- KEYS[1]  the cache key (must hold an integer)   KEYS[2]  the rule's write_behind.stream
-- KEYS[3]  the key's stamp: KEYS[1] .. '#cachesync-stamp' (see set.lua)
-- ARGV[1]  delta (may be negative)                 ARGV[2]  floor: the value never goes below it
-- ARGV[3]  the table, db.table                     ARGV[4]  primary key, JSON object {"id": 42}
-- ARGV[5]  the column that stores the counter
--
-- Returns {1, new value, entry ID} when applied, {0, current value} when the
-- floor refused it (nothing is written or queued). The entry carries the new
-- absolute value, not the delta, so applying it twice cannot count twice.
-- Errors: NOKEY when the key is not cached (load it from MySQL first: the
-- script cannot know the base value), NOTINT when it does not hold an integer.
if KEYS[3] ~= KEYS[1] .. '#cachesync-stamp' then
  return redis.error_reply('ERR cachesync incrby: KEYS[3] must be the stamp key, KEYS[1] .. "#cachesync-stamp"')
end
local cur = redis.call('GET', KEYS[1])
if not cur then
  return redis.error_reply('NOKEY cachesync incrby: ' .. KEYS[1] .. ' is not cached; load it from MySQL first')
end
local n, d, floor = tonumber(cur), tonumber(ARGV[1]), tonumber(ARGV[2])
if n == nil or not string.match(cur, '^-?%d+$') then
  return redis.error_reply('NOTINT cachesync incrby: ' .. KEYS[1] .. ' does not hold an integer')
end
if d == nil or floor == nil then
  return redis.error_reply('ERR cachesync incrby: delta and floor must be integers')
end
if n + d < floor then
  return {0, cur}
end
redis.call('INCRBY', KEYS[1], ARGV[1])
-- Read the value back as text: Lua numbers are doubles and would print big
-- integers in exponent form.
local v = redis.call('GET', KEYS[1])
-- The stamp lives as long as the key: INCRBY keeps the key's TTL.
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then
  redis.call('SET', KEYS[3], redis.sha1hex(v), 'PX', pttl)
else
  redis.call('SET', KEYS[3], redis.sha1hex(v))
end
local id = redis.call('XADD', KEYS[2], '*', 'v', '1', 'op', 'incr', 'table', ARGV[3], 'pk', ARGV[4], 'col', ARGV[5], 'num', v)
return {1, v, id}
