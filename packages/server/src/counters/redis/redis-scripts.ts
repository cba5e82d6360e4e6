/**
 * The Redis counters' Lua scripts. Each runs atomically on the server, which is what makes a
 * reservation over several budgets all-or-nothing across replicas.
 *
 * Layout under the prefix P, for a counter key K and a reservation id I:
 *   P s:K   hash   bucket start (ms) → nano-dollars spent
 *   P rt:K  string nano-dollars reserved by calls in flight
 *   P l:I   hash   K → nano-dollars the reservation holds in K
 *   P e     zset   I → when the reservation expires (ms)
 *   P seeded:B     set by the process that seeds budget key prefix B from its ledger
 *
 * Sums are Lua numbers (doubles): exact for whole nano-dollars up to 2^53, about $9 million
 * per counter. Scripts reach keys named in their arguments, so the counters need one Redis
 * (with replicas if wanted), not a Redis Cluster.
 */
const COMMON = `
local P = ARGV[1]
local now = tonumber(ARGV[2])
local function drop(id)
  local lk = P .. 'l:' .. id
  local lines = redis.call('HGETALL', lk)
  for i = 1, #lines, 2 do
    local rt = P .. 'rt:' .. lines[i]
    -- A retired key stays gone.
    if redis.call('EXISTS', rt) == 1 then redis.call('DECRBY', rt, lines[i + 1]) end
  end
  redis.call('DEL', lk)
  redis.call('ZREM', P .. 'e', id)
end
local function sweep()
  local ids = redis.call('ZRANGEBYSCORE', P .. 'e', '-inf', now, 'LIMIT', 0, 500)
  for _, id in ipairs(ids) do drop(id) end
end
local function level(k, from, to)
  local f = redis.call('HGETALL', P .. 's:' .. k)
  local spent = 0
  for i = 1, #f, 2 do
    local b = tonumber(f[i])
    if b >= from and b < to then spent = spent + tonumber(f[i + 1]) end
  end
  return spent, tonumber(redis.call('GET', P .. 'rt:' .. k) or '0')
end
`;

/** ARGV: P, now, n, then n × (K, from, to). Returns n × (spent, reserved). */
export const LEVELS = `${COMMON}
sweep()
local out = {}
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local s, r = level(ARGV[4 + i * 3], tonumber(ARGV[5 + i * 3]), tonumber(ARGV[6 + i * 3]))
  out[#out + 1] = s
  out[#out + 1] = r
end
return out
`;

/**
 * ARGV: P, now, id, expiresAt, n, then n × (K, from, to, amount, cap or '').
 * Returns ok (1 or 0), the refusing line (or -1), then n × (spent, reserved) before reserving.
 */
export const RESERVE = `${COMMON}
sweep()
local id = ARGV[3]
local n = tonumber(ARGV[5])
local out = {1, -1}
local refused = -1
for i = 0, n - 1 do
  local base = 6 + i * 5
  local s, r = level(ARGV[base], tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]))
  out[#out + 1] = s
  out[#out + 1] = r
  local cap = ARGV[base + 4]
  if refused < 0 and cap ~= '' and s + r + tonumber(ARGV[base + 3]) > tonumber(cap) then refused = i end
end
if redis.call('EXISTS', P .. 'l:' .. id) == 1 then return out end
if refused >= 0 then
  out[1] = 0
  out[2] = refused
  return out
end
for i = 0, n - 1 do
  local base = 6 + i * 5
  local k = ARGV[base]
  redis.call('INCRBY', P .. 'rt:' .. k, ARGV[base + 3])
  redis.call('HINCRBY', P .. 'l:' .. id, k, ARGV[base + 3])
end
redis.call('ZADD', P .. 'e', ARGV[4], id)
return out
`;

/** ARGV: P, now, n, then n × (K, bucket, amount), then the ids to settle. */
export const RECORD = `${COMMON}
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local base = 4 + i * 3
  redis.call('HINCRBY', P .. 's:' .. ARGV[base], ARGV[base + 1], ARGV[base + 2])
end
for i = 4 + n * 3, #ARGV do
  if redis.call('ZSCORE', P .. 'e', ARGV[i]) then drop(ARGV[i]) end
end
return 1
`;

/** ARGV: P, now, then the ids to release. */
export const RELEASE = `${COMMON}
for i = 3, #ARGV do drop(ARGV[i]) end
return 1
`;

/** ARGV: P, now, K, then pairs of (bucket, amount). */
export const SEED = `${COMMON}
local k = ARGV[3]
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', P .. 's:' .. k, ARGV[i], ARGV[i + 1])
end
return 1
`;
