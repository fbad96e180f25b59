-- cachesync: the guarded delete of a write-behind key, run by cachesync's
-- deleter for the keys a flush of the rule's stream wrote (write_behind.keys
-- of an inserted or updated row of the flusher's own transaction).
--
-- KEYS[1]  the cache key            KEYS[2]  its stamp, KEYS[1] .. '#cachesync-stamp'
--
-- The key is kept only when its stamp exists and is the SHA-1 of its value:
-- it then holds exactly the value of the latest write-behind write to it,
-- which the flusher writes (or has written) to MySQL. Anything else — a key
-- refilled after it expired or was deleted, a value written without the
-- scripts, a stamp missing — deletes the key and the stamp.
--
-- Returns 0 when the key was kept, 1 when it was deleted.
local stamp = redis.pcall('GET', KEYS[2])
if type(stamp) == 'string' then
  local v = redis.pcall('GET', KEYS[1])
  if type(v) == 'string' and redis.sha1hex(v) == stamp then
    return 0
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
