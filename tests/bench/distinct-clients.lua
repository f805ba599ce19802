-- Sends every request from a new client address, so that ipgate sees `limit` distinct
-- clients: odd numbers as IPv4 addresses from 11.0.0.0 up, even numbers as IPv6 /64s
-- under 2001:db8::/32. Each thread stops by itself once it has had `limit` answers.
-- Arguments (after --): limit, then the thread count so that threads never overlap.
-- wrk only stops when its duration ends, so the benchmark interrupts it once done.

local counter = 0
local answered = 0
local limit = 1000000
local stride = 1
local threads = {}

function setup(thread)
  thread:set("first", #threads)
  table.insert(threads, thread)
end

function init(args)
  limit = tonumber(args[1] or "1000000")
  stride = tonumber(args[2] or "1")
  counter = tonumber(first or 0)
end

function request()
  local n = counter
  counter = counter + stride
  local client
  if n % 2 == 1 then
    local v = 11 * 16777216 + (n - 1) / 2
    client = string.format("%d.%d.%d.%d", math.floor(v / 16777216) % 256,
      math.floor(v / 65536) % 256, math.floor(v / 256) % 256, v % 256)
  else
    local v = n / 2
    client = string.format("2001:db8:%x:%x::1", math.floor(v / 65536) % 65536, v % 65536)
  end
  return wrk.format(nil, nil, { ["X-Forwarded-For"] = client })
end

function response(status, headers, body)
  answered = answered + 1
  if answered * stride == limit then
    -- The benchmark interrupts wrk (SIGINT) once every thread has printed this.
    io.write("distinct clients sent\n")
    io.flush()
    wrk.thread:stop()
  end
end
