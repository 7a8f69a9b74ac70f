-- benchload's wrk script: POST a different pre-built form body with every
-- request, from a file per thread (<prefix>.<thread id>, one body per line),
-- and print the results on one line that benchload parses.
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  reqs = {}
  local f = assert(io.open(args[1] .. "." .. id, "r"))
  for body in f:lines() do
    -- Requests are formatted once, here, so request() costs a table lookup.
    reqs[#reqs + 1] = wrk.format("POST", wrk.path, headers, body)
  end
  f:close()
  assert(#reqs > 0, "no bodies in " .. args[1] .. "." .. id)
  n = 0
end

function request()
  n = n % #reqs + 1
  return reqs[n]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCHLOAD requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
