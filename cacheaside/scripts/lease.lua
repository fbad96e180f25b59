-- cachesync cache-aside: read a key, or take a lease on it when it is absent.
--
-- KEYS[1]  the cache key (the only key: works on Redis Cluster as is)
-- ARGV[1]  this reader's placeholder: "\0cachesync\0" .. "L" .. a random token
--          (unique per call: 128 random bits, hex)
-- ARGV[2]  the lease's lifetime in milliseconds (> 0)
--
-- Returns what the key holds after the call:
--   ARGV[1] itself          the key was absent; the lease is the caller's:
--                           load the row, then call fill.lua with ARGV[1]
--   another placeholder     ("\0cachesync\0L..."): another reader is loading;
--                           wait a little and call again
--   "\0cachesync\0N"        a cached "not found"
--   anything else           the cached value; a value that starts with
--                           "\0cachesync\0E" is escaped: drop those 12 bytes
local prefix = '\0cachesync\0'
if string.sub(ARGV[1], 1, #prefix + 1) ~= prefix .. 'L' or #ARGV[1] <= #prefix + 1 then
  return redis.error_reply('ERR cachesync lease: ARGV[1] must be a placeholder, "\\0cachesync\\0L" followed by a token')
end
local ttl = tonumber(ARGV[2])
if ttl == nil or ttl <= 0 or ttl % 1 ~= 0 then
  return redis.error_reply('ERR cachesync lease: ARGV[2] must be the lease lifetime, a whole number of milliseconds > 0')
end
local v = redis.call('GET', KEYS[1])
if v then
  return v
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return ARGV[1]
