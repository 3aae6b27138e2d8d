-- wrk's script for every benchmarked read (bench/load.py): POST JSON bodies read from a file, one
-- per line, in turn, so each request asks for other variables (another market id) as real clients do.
--   wrk -t1 -c16 -d10s -s bench/wrk_bodies.lua URL -- BODIES_FILE [AUTHORIZATION] [check]
-- The requests are formatted once, in init(): building them per request would load the generator,
-- which shares the machine's cores with the servers it measures. With "check", every response body
-- is searched for "errors" (wrk must then parse each one, so warm-up runs check and measured runs do
-- not; wrk counts non-2xx answers itself either way). done() prints one line for bench/load.py.

local prepared = {}
local turn = 0
body_errors = 0 -- global: read from the thread by done() through thread:get

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

local function check(status, headers, body)
  if body and string.find(body, '"errors"', 1, true) then
    body_errors = body_errors + 1
  end
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  if args[2] and args[2] ~= "" then
    headers["Authorization"] = args[2]
  end
  for line in io.lines(args[1]) do
    if line ~= "" then
      prepared[#prepared + 1] = wrk.format("POST", nil, headers, line)
    end
  end
  if #prepared == 0 then
    error("no request bodies in " .. args[1])
  end
  if args[3] == "check" then
    response = check
  end
end

function request()
  turn = turn % #prepared + 1
  return prepared[turn]
end

function done(summary, latency, requests)
  local in_bodies = 0
  for _, thread in ipairs(threads) do
    in_bodies = in_bodies + (thread:get("body_errors") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "timeouts": %d, "non_2xx": %d, "body_errors": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write,
    errors.timeout, errors.status, in_bodies, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
