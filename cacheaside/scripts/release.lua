-- cachesync cache-aside: give a lease back without filling (the load failed).
--
-- KEYS[1]  the cache key
-- ARGV[1]  the placeholder lease.lua stored for this caller
--
-- Returns 1 when the placeholder was removed, 0 when the key held anything
-- else (which is left as it is). Waiting readers then take the key at once
-- instead of waiting out the lease.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
