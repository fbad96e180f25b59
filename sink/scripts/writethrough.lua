-- cachesync: the write-through write of one key, run by cachesync's sink
-- for rules with action: set. It writes only when the key's stored version
-- is not newer than this change's, so a replay, a redelivery or a consumer
-- behind another never puts an older row back.
--
-- KEYS[1]  the cache key
-- KEYS[2]  its version key, in KEYS[1]'s slot (sink.VersionKey)
-- ARGV[1]  the change's version: 22 hex digits, string order = binlog order
-- ARGV[2]  'json' (ARGV[4] is the value), 'hash' (ARGV[4..] are field,
--          value… pairs; none when every column is NULL) or 'del' (a
--          DELETE, or the old key of an UPDATE that moved the row: the key
--          is unlinked and the version kept as a tombstone)
-- ARGV[3]  expiry in milliseconds for the key and its version; '0' for none
--
-- Equal versions write again: a redelivered change rewrites its own value.
-- Returns 1 when written, 0 when a newer version was there.
local cur = redis.call('GET', KEYS[2])
if cur and cur > ARGV[1] then
  return 0
end
local ttl = tonumber(ARGV[3])
redis.call('UNLINK', KEYS[1])
if ARGV[2] == 'json' then
  redis.call('SET', KEYS[1], ARGV[4])
elseif ARGV[2] == 'hash' and #ARGV >= 5 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 4))
end
if ttl > 0 then
  if ARGV[2] ~= 'del' then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
else
  redis.call('SET', KEYS[2], ARGV[1])
end
return 1
