-- cachesync: the write-through writes of one or more keys, run by cachesync's
-- sink for rules with action: set. Each key is written only when its stored
-- version is not newer than the change's, so a replay, a redelivery or a
-- consumer behind another never puts an older row back.
--
-- KEYS     pairs: a cache key, then its version key in the same slot
--          (sink.VersionKey); in a Redis Cluster, one pair per call
-- ARGV     per pair, in the same order: the change's version (22 hex digits,
--          string order = binlog order); 'json', 'hash' or 'del'; expiry in
--          milliseconds for the key and its version ('0' for none); n, the
--          number of value arguments that follow; then those n: the JSON
--          value ('json', n = 1), field, value… pairs ('hash'; n = 0 when
--          every column is NULL) or nothing ('del': a DELETE, or the old key
--          of an UPDATE that moved the row — the key is unlinked and the
--          version kept as a tombstone)
--
-- Equal versions write again: a redelivered change rewrites its own value.
-- Returns the number of pairs not written because a newer version was there.
local refused = 0
local a = 1
for i = 1, #KEYS, 2 do
  local key, vkey = KEYS[i], KEYS[i + 1]
  local ver, mode, ttl, n = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local v = a + 4
  a = v + n
  local cur = redis.call('GET', vkey)
  if cur and cur > ver then
    refused = refused + 1
  else
    if mode == 'json' then
      -- SET replaces a value of any type and its expiry.
      if ttl > 0 then
        redis.call('SET', key, ARGV[v], 'PX', ttl)
      else
        redis.call('SET', key, ARGV[v])
      end
    else
      redis.call('UNLINK', key)
      if mode == 'hash' and n >= 2 then
        redis.call('HSET', key, unpack(ARGV, v, v + n - 1))
        if ttl > 0 then
          redis.call('PEXPIRE', key, ttl)
        end
      end
    end
    if ttl > 0 then
      redis.call('SET', vkey, ver, 'PX', ttl)
    else
      redis.call('SET', vkey, ver)
    end
  end
end
return refused
