-- cachesync cache-aside: store a loaded value, only if the caller's lease still stands.
--
-- KEYS[1]  the cache key
-- ARGV[1]  the placeholder lease.lua stored for this caller
-- ARGV[2]  the value to store, encoded: a value that starts with
--          "\0cachesync\0" must be escaped as "\0cachesync\0E" .. value;
--          "\0cachesync\0N" stores a "not found";
--          "\0cachesync\0V" .. version .. ":" .. value stores value with
--          the row's version (decimal) it was read at, for the observer
-- ARGV[3]  the value's TTL in milliseconds (> 0)
--
-- Returns 1 when the value was stored; 0 when the key no longer holds
-- ARGV[1] (it was deleted — an invalidation — or the lease expired and
-- another reader took the key): the value may be older than the row, so it
-- is not stored; the caller still uses it for this one read.
local prefix = '\0cachesync\0'
if string.sub(ARGV[1], 1, #prefix + 1) ~= prefix .. 'L' or #ARGV[1] <= #prefix + 1 then
  return redis.error_reply('ERR cachesync fill: ARGV[1] must be a placeholder, "\\0cachesync\\0L" followed by a token')
end
if string.sub(ARGV[2], 1, #prefix) == prefix then
  local kind = string.sub(ARGV[2], #prefix + 1, #prefix + 1)
  local versioned = kind == 'V' and string.find(ARGV[2], '^%-?%d+:', #prefix + 2) ~= nil
  if not (kind == 'E' or versioned or ARGV[2] == prefix .. 'N') then
    return redis.error_reply('ERR cachesync fill: ARGV[2] starts with "\\0cachesync\\0" but is neither escaped ("\\0cachesync\\0E" .. value), versioned ("\\0cachesync\\0V" .. version .. ":" .. value) nor "not found" ("\\0cachesync\\0N")')
  end
end
local ttl = tonumber(ARGV[3])
if ttl == nil or ttl <= 0 or ttl % 1 ~= 0 then
  return redis.error_reply('ERR cachesync fill: ARGV[3] must be the TTL, a whole number of milliseconds > 0')
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
return 1
