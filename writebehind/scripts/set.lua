-- cachesync write-behind: set a cache key and queue the row write, in one atomic step.
--
-- In a Redis Cluster all three keys must hash to one slot: put the stream's
-- hash tag in the cache key (stream wb:{stock}, key {stock}:item:42).
--
-- KEYS[1]  the cache key            KEYS[2]  the rule's write_behind.stream
-- KEYS[3]  the key's stamp: KEYS[1] .. '#cachesync-stamp'
-- ARGV[1]  the value to cache        ARGV[2]  TTL in milliseconds, 0 for none
-- ARGV[3]  the table, db.table       ARGV[4]  primary key, JSON object {"id": 42}
-- ARGV[5]  columns to write, JSON object {"name": "x", "stock": 5}
--
-- The stamp holds the SHA-1 of the value written, with the key's TTL: when
-- the flush of this write reaches the binlog, cachesync keeps the key only
-- if it still holds exactly that value (README, "Write-behind").
--
-- Returns the stream entry ID.
if KEYS[3] ~= KEYS[1] .. '#cachesync-stamp' then
  return redis.error_reply('ERR cachesync set: KEYS[3] must be the stamp key, KEYS[1] .. "#cachesync-stamp"')
end
local ttl = tonumber(ARGV[2])
if ttl == nil or ttl < 0 then
  return redis.error_reply('ERR cachesync set: TTL must be a whole number of milliseconds >= 0')
end
local stamp = redis.sha1hex(ARGV[1])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  redis.call('SET', KEYS[3], stamp, 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[3], stamp)
end
return redis.call('XADD', KEYS[2], '*', 'v', '1', 'op', 'set', 'table', ARGV[3], 'pk', ARGV[4], 'cols', ARGV[5])
