-- wrk script for benches/load.sh and benches/soak.sh: requests the paths listed in the file
-- given after `--` (one per line; the second argument is wrk's thread count), in order, each
-- wrk thread starting at its own offset so
-- threads do not ask for the same path at the same moment. Prints one `RESULT key=value ...`
-- line that the shell scripts parse.
local paths = {}
local next_index = 0
local threads_started = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_number", threads_started)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  -- Spread the threads evenly over the list.
  local threads = tonumber(args[2]) or 1
  next_index = math.floor(((thread_number or 1) - 1) * #paths / threads)
end

function request()
  next_index = next_index % #paths + 1
  return wrk.format("GET", paths[next_index])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d max_us=%d errors=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout))
end
