-- cachesync write-behind: delete a cache key and queue the row's deletion, in one atomic step.
--
-- In a Redis Cluster both keys must hash to one slot: put the stream's hash
-- tag in the cache key (stream wb:{stock}, key {stock}:item:42).
--
-- KEYS[1]  the cache key            KEYS[2]  the rule's write_behind.stream
-- ARGV[1]  the table, db.table       ARGV[2]  primary key, JSON object {"id": 42}
--
-- Returns the stream entry ID.
redis.call('DEL', KEYS[1])
return redis.call('XADD', KEYS[2], '*', 'v', '1', 'op', 'del', 'table', ARGV[1], 'pk', ARGV[2])
