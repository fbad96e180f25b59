-- cachesync: the write-through writes of one or more keys, run by cachesync's
-- sink for rules with action: set. Each key is written only when its stored
-- version is not newer than the change's, so a replay, a redelivery or a
-- consumer behind another never puts an older row back.
--
-- KEYS     pairs: a cache key, then its version key in the same slot
--          (sink.VersionKey); in a Redis Cluster, one pair per call
-- ARGV     the general form, per pair in the same order: the change's
--          version (22 hex digits, string order = binlog order); 'json',
--          'hash' or 'del'; expiry in milliseconds for the key and its
--          version ('0' for none); n, the number of value arguments that
--          follow; then those n: the JSON value ('json', n = 1), field,
--          value… pairs ('hash'; n = 0 when every column is NULL) or nothing
--          ('del': a DELETE, or the old key of an UPDATE that moved the row
--          — the key is unlinked and the version kept as a tombstone).
--          Or the short form, when every pair is a JSON value: 'J', then per
--          pair the version, the expiry and the JSON value.
--
-- Equal versions write again: a redelivered change rewrites its own value.
-- Returns the number of pairs not written because a newer version was there.
--
-- Cost (BENCHMARKS.md, "Write-through, step by step"): the stored versions are read with
-- one MGET, and JSON values without expiry go out as one MSET of values and
-- versions, flushed before any other write so that the writes to one key
-- keep their order; a version written earlier in the same call is the
-- stored one for a later pair of the same key.
local refused = 0
local vkeys = {}
for i = 2, #KEYS, 2 do
  vkeys[i / 2] = KEYS[i]
end
local stored = redis.call('MGET', unpack(vkeys))
local written = {}
local mset = {}
local function flush()
  if #mset > 0 then
    redis.call('MSET', unpack(mset))
    mset = {}
  end
end
-- newer reports whether the pair of key i, at version ver, is written.
local function newer(i, vkey, ver)
  local cur = written[vkey] or stored[(i + 1) / 2]
  if cur and cur > ver then
    refused = refused + 1
    return false
  end
  written[vkey] = ver
  return true
end
-- setJSON writes a JSON value and its version: without expiry into the
-- pending MSET (MSET, like SET, replaces a value of any type and clears its
-- expiry), with one after flushing it, by SET … PX.
local function setJSON(key, val, vkey, ver, ttl)
  if ttl == '0' then
    local m = #mset
    mset[m + 1], mset[m + 2], mset[m + 3], mset[m + 4] = key, val, vkey, ver
    return
  end
  flush()
  redis.call('SET', key, val, 'PX', ttl)
  redis.call('SET', vkey, ver, 'PX', ttl)
end
if ARGV[1] == 'J' then
  local a = 2
  for i = 1, #KEYS, 2 do
    if newer(i, KEYS[i + 1], ARGV[a]) then
      setJSON(KEYS[i], ARGV[a + 2], KEYS[i + 1], ARGV[a], ARGV[a + 1])
    end
    a = a + 3
  end
  flush()
  return refused
end
local a = 1
for i = 1, #KEYS, 2 do
  local key, vkey = KEYS[i], KEYS[i + 1]
  local ver, mode, ttl, n = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  local v = a + 4
  a = v + n
  if newer(i, vkey, ver) then
    if mode == 'json' then
      setJSON(key, ARGV[v], vkey, ver, ttl)
    else
      flush()
      redis.call('UNLINK', key)
      if mode == 'hash' and n >= 2 then
        redis.call('HSET', key, unpack(ARGV, v, v + n - 1))
        if ttl ~= '0' then
          redis.call('PEXPIRE', key, ttl)
        end
      end
      if ttl ~= '0' then
        redis.call('SET', vkey, ver, 'PX', ttl)
      else
        redis.call('SET', vkey, ver)
      end
    end
  end
end
flush()
return refused
