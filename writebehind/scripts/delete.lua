-- cachesync write-behind: delete a cache key and queue the row's deletion, in one atomic step.
--
-- In a Redis Cluster all three keys must hash to one slot: put the stream's
-- hash tag in the cache key (stream wb:{stock}, key {stock}:item:42).
--
-- KEYS[1]  the cache key            KEYS[2]  the rule's write_behind.stream
-- KEYS[3]  the key's stamp: KEYS[1] .. '#cachesync-stamp' (deleted too)
-- ARGV[1]  the table, db.table       ARGV[2]  primary key, JSON object {"id": 42}
--
-- Returns the stream entry ID.
if KEYS[3] ~= KEYS[1] .. '#cachesync-stamp' then
  return redis.error_reply('ERR cachesync delete: KEYS[3] must be the stamp key, KEYS[1] .. "#cachesync-stamp"')
end
redis.call('DEL', KEYS[1], KEYS[3])
return redis.call('XADD', KEYS[2], '*', 'v', '1', 'op', 'del', 'table', ARGV[1], 'pk', ARGV[2])
