-- wrk script of the REST scenarios (bench/rest.py runs it).
--
-- Configured from the environment, so the same file serves every scenario:
--   BENCH_MODE    list | retrieve | create | patch
--   BENCH_TOKEN   the token key ("Authorization: Token <key>")
--   BENCH_IDS     comma-separated patient ids to pick from (uniformly at random)
--   BENCH_TIME    ISO 8601 "time" of created reports
-- At the end it prints one line "BENCH_JSON {...}" with exact figures
-- (wrk's own summary, printed above it with --latency, shows the same).

local mode = os.getenv("BENCH_MODE") or "list"
local token = os.getenv("BENCH_TOKEN") or ""
local time_iso = os.getenv("BENCH_TIME") or "2024-05-03T12:00:00Z"  -- at most 24 h ahead, or a 400
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "1", "%d+") do
   ids[#ids + 1] = id
end

wrk.headers["Authorization"] = "Token " .. token
wrk.headers["Accept"] = "application/json"

local counter = 0
local json_headers = {
   ["Authorization"] = "Token " .. token,
   ["Accept"] = "application/json",
   ["Content-Type"] = "application/json",
}

function init(args)
   math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1000000) % 1000)
   if mode == "list" then
      wrk.method = "GET"
      wrk.path = "/api/patients/"
      wrk.body = nil
   end
end

local function pick()
   return ids[math.random(#ids)]
end

-- A realistic observation round that raises no rule (no notification),
-- due again in 24 h (so no reminder fires during the benchmark).
local report_tail = ',"time":"' .. time_iso .. '","day_of_fever":3,"fever":"38.50","pulse":92,' ..
   '"respirations":20,"bp_systolic":120,"bp_diastolic":80,"diet":"soft","oral_fluids":500,' ..
   '"parenteral_fluids":250,"other_fluids":0,"urine_output":400,"o2_saturation":98,' ..
   '"hematocrit":40,"platelet_count":150,"wbc_count":"5.20","status":"febrile",' ..
   '"monitoring_interval":24,"additional_info":"bench"}'

if mode ~= "list" then
   request = function()
      if mode == "retrieve" then
         return wrk.format("GET", "/api/patients/" .. pick() .. "/", wrk.headers, nil)
      elseif mode == "create" then
         return wrk.format("POST", "/api/reports/", json_headers, '{"patient":' .. pick() .. report_tail)
      else -- patch
         counter = counter + 1
         return wrk.format("PATCH", "/api/patients/" .. pick() .. "/", json_headers,
                           '{"last_name":"wrk-' .. counter .. '"}')
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
