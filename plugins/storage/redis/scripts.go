package redis

import goredis "github.com/redis/go-redis/v9"

// The scripts do no arithmetic on revisions and epochs: Go computes the new revision and every
// number crosses as canonical decimal text, compared by ucmp, so values above 2^53 (where Lua's
// doubles lose precision) compare correctly.
const luaUcmp = `
local function ucmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
`

// appendScript appends ops to one document if its head matches.
//
// KEYS: head, ops, tenant index. ARGV: expected revision, epoch, type, new revision, id, then
// the encoded ops. Returns {"ok", rev}, {"fenced", rev, epoch} or {"conflict", rev}.
var appendScript = goredis.NewScript(luaUcmp + `
local h = redis.call('HMGET', KEYS[1], 'rev', 'epoch')
local rev, epoch = h[1], h[2]
if rev then
  if ucmp(ARGV[2], epoch) < 0 then return {'fenced', rev, epoch} end
  if rev ~= ARGV[1] then return {'conflict', rev} end
  if ucmp(ARGV[2], epoch) > 0 then epoch = ARGV[2] end
else
  if ARGV[1] ~= '0' then return {'conflict', '0'} end
  epoch = ARGV[2]
  redis.call('DEL', KEYS[2])
  redis.call('ZADD', KEYS[3], 0, ARGV[5])
end
local n = #ARGV
for i = 6, n, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, n)))
end
if rev then
  redis.call('HSET', KEYS[1], 'rev', ARGV[4], 'epoch', epoch)
else
  redis.call('HSET', KEYS[1], 'type', ARGV[3], 'rev', ARGV[4], 'epoch', epoch, 'snap', '0')
end
return {'ok', ARGV[4]}
`)

// readScript returns up to limit op log entries from a 0-based start index, stopping before
// the entry that would take the page past maxBytes (the first entry is always returned). It
// reads in chunks sized from the entries seen so far, so a page of large ops never
// materialises far more than maxBytes inside the server.
//
// KEYS: ops. ARGV: start, limit, maxBytes. Returns the entries.
var readScript = goredis.NewScript(`
local i, limit, maxb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out, size, chunk = {}, 0, 16
while #out < limit do
  local want = math.min(chunk, limit - #out)
  local got = redis.call('LRANGE', KEYS[1], i, i + want - 1)
  for _, v in ipairs(got) do
    if #out > 0 and size + #v > maxb then return out end
    size = size + #v
    out[#out + 1] = v
  end
  if #got < want then break end
  i = i + #got
  local avg = size / #out
  chunk = math.max(1, math.min(1024, math.floor((maxb - size) / math.max(avg, 1)) + 1))
end
return out
`)

// snapshotScript stores a snapshot unless it is older than the stored one.
//
// KEYS: head, snapshot. ARGV: revision, type, data, meta, unix millis. Returns {"ok"},
// {"older", stored}, {"ahead", head revision} or {"notfound"}.
var snapshotScript = goredis.NewScript(luaUcmp + `
local h = redis.call('HMGET', KEYS[1], 'rev', 'snap')
if not h[1] then return {'notfound'} end
if ucmp(ARGV[1], h[1]) > 0 then return {'ahead', h[1]} end
if ucmp(ARGV[1], h[2]) < 0 then return {'older', h[2]} end
redis.call('HSET', KEYS[2], 'rev', ARGV[1], 'type', ARGV[2], 'data', ARGV[3], 'meta', ARGV[4], 'ms', ARGV[5])
redis.call('HSET', KEYS[1], 'snap', ARGV[1])
return {'ok'}
`)
