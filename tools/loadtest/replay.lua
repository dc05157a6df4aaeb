-- wrk script: each thread replays its own share of the pushes in the file
-- given after "--", so no request is sent twice.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  local nthreads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == id then
      local path, body = line:match("^([^\t]+)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body)
    end
    i = i + 1
  end
  next_request = 0
end

function request()
  next_request = next_request + 1
  if next_request > #requests then
    next_request = 1 -- exhausted: later requests are duplicates (reported)
    wrapped = true
  end
  return requests[next_request]
end

function response(status, headers, body)
  if status ~= 200 then
    bad = (bad or 0) + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("requests=%d rps=%.0f p50=%.2fms p99=%.2fms errors_status=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
