-- wrk script for bench/load.py: every connection cycles through a list of paths (one per line in
-- the file named after `--`; the number of wrk threads follows it), each thread starting at a different place in it, and the requests
-- carry the header the TLS-terminating proxy would add. done() prints one machine-readable line per
-- figure ("MIX key value") for load.py to read: requests, duration, latency percentiles (µs), socket
-- errors, and the responses by status code.
--
--   wrk -t2 -c32 -d60s --timeout 30s -s bench/wrk_mix.lua http://127.0.0.1:PORT -- paths.txt 2

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("thread_number", counter)
   table.insert(threads, thread)
end

function init(args)
   paths = {}
   for line in io.lines(args[1]) do
      if line ~= "" then
         table.insert(paths, line)
      end
   end
   if #paths == 0 then
      error("no paths in " .. tostring(args[1]))
   end
   -- Threads start far apart in the list, so they do not all ask for the same page at once.
   local thread_count = tonumber(args[2]) or 1
   position = math.floor((thread_number - 1) * #paths / thread_count) % #paths
   statuses = {}
   wrk.headers["X-Forwarded-Proto"] = "https"
   wrk.headers["Accept"] = "text/html"
end

function request()
   position = position % #paths + 1
   return wrk.format("GET", paths[position])
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
   local out = io.stdout
   out:write(string.format("MIX requests %d\n", summary.requests))
   out:write(string.format("MIX duration_us %d\n", summary.duration))
   out:write(string.format("MIX bytes %d\n", summary.bytes))
   for _, p in ipairs({50, 90, 99, 99.9}) do
      out:write(string.format("MIX latency_p%s_us %d\n", tostring(p), latency:percentile(p)))
   end
   out:write(string.format("MIX latency_mean_us %d\n", latency.mean))
   out:write(string.format("MIX latency_max_us %d\n", latency.max))
   out:write(string.format("MIX errors_connect %d\n", summary.errors.connect))
   out:write(string.format("MIX errors_read %d\n", summary.errors.read))
   out:write(string.format("MIX errors_write %d\n", summary.errors.write))
   out:write(string.format("MIX errors_timeout %d\n", summary.errors.timeout))
   out:write(string.format("MIX errors_status %d\n", summary.errors.status))
   local total = {}
   for _, thread in ipairs(threads) do
      local counts = thread:get("statuses")
      for code, n in pairs(counts) do
         total[code] = (total[code] or 0) + n
      end
   end
   for code, n in pairs(total) do
      out:write(string.format("MIX status_%s %d\n", code, n))
   end
end
