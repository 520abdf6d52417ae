-- Mixed API traffic for wrk (bench/api-load-mixed.sh writes the variables at the top of a copy of this file).
--
-- Each request is drawn in turn from a weighted list: vulnerability and index reports of the known manifests,
-- POST index_report of already-indexed manifests, the notification set, the matcher's update operations, the
-- index state, health and readiness, and reports of unknown manifests (404). Every answer must be 2xx, except
-- the unknown-manifest requests, which must be 404; anything else is counted as unexpected. wrk does not tell
-- which request an answer belongs to, so 404s are checked by count: answered 404s must equal 404 requests sent,
-- give or take the requests still in flight when the run stops (at most one per connection).
--
-- Variables set by the script:
--   TOKEN      a bearer token ("" when auth is off)
--   KNOWN      { {manifest=..., body=...}, ... }   indexed manifests and their POST bodies
--   NOTIFICATION  a notification set id
--   DELAY_MS   pause between two requests on one connection (0: as fast as possible)

-- Shares in percent, shaped on a Clair client (POST the manifest, then read its vulnerability report) plus
-- monitoring and the notifier's reader. GET/POST of an index report are the expensive kinds (the stored
-- JSONB report is read and re-serialized each time: ~0.5 MB for the 1,000-package image).
local weights = {
  { "vulnerability_report", 30 },
  { "post_index_report", 10 },
  { "index_report", 5 },
  { "notification", 10 },
  { "update_operation", 10 },
  { "index_state", 10 },
  { "healthz", 5 },
  { "readyz", 5 },
  { "unknown_vulnerability_report", 8 },
  { "unknown_index_report", 7 },
}

local plan = {}
for _, w in ipairs(weights) do
  for _ = 1, w[2] do plan[#plan + 1] = w[1] end
end

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

-- Globals, so done() can read them from each thread (thread:get reads globals).
counter, sent_404, got_2xx, got_404, unexpected, statuses = 0, 0, 0, 0, 0, {}
local requests = {}

local function hex(n)
  local digits, out = "0123456789abcdef", {}
  for i = 1, 64 do
    local d = (n * 7919 + i * 104729) % 16
    out[i] = digits:sub(d + 1, d + 1)
    n = n + d + i
  end
  return table.concat(out)
end

function init(args)
  counter = (id or 1) * 7 -- threads start at different points of the plan
  sent_404, got_2xx, got_404, unexpected = 0, 0, 0, 0
  statuses = {}
  local headers = { ["Accept"] = "application/json" }
  if TOKEN ~= "" then headers["Authorization"] = "Bearer " .. TOKEN end
  local post_headers = { ["Content-Type"] = "application/json" }
  for k, v in pairs(headers) do post_headers[k] = v end
  local function get(path) return wrk.format("GET", path, headers) end
  for i, m in ipairs(KNOWN) do
    requests["vulnerability_report" .. i] = get("/matcher/api/v1/vulnerability_report/" .. m.manifest)
    requests["index_report" .. i] = get("/indexer/api/v1/index_report/" .. m.manifest)
    requests["post_index_report" .. i] = wrk.format("POST", "/indexer/api/v1/index_report", post_headers, m.body)
  end
  requests.notification = get("/notifier/api/v1/notification/" .. NOTIFICATION .. "?page_size=100")
  requests.update_operation = get("/matcher/api/v1/internal/update_operation")
  requests.index_state = get("/indexer/api/v1/index_state")
  requests.healthz = get("/healthz")
  requests.readyz = get("/readyz")
  -- A few fixed unknown digests (a different one per request would only vary the log lines).
  for i = 1, 16 do
    requests["unknown_vulnerability_report" .. i] = get("/matcher/api/v1/vulnerability_report/sha256:" .. hex(i))
    requests["unknown_index_report" .. i] = get("/indexer/api/v1/index_report/sha256:" .. hex(i + 100))
  end
end

function request()
  counter = counter + 1
  local kind = plan[counter % #plan + 1]
  if kind == "vulnerability_report" or kind == "index_report" or kind == "post_index_report" then
    return requests[kind .. (counter % #KNOWN + 1)]
  elseif kind == "unknown_vulnerability_report" or kind == "unknown_index_report" then
    sent_404 = sent_404 + 1
    return requests[kind .. (counter % 16 + 1)]
  end
  return requests[kind]
end

function delay()
  return DELAY_MS
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    got_2xx = got_2xx + 1
  elseif status == 404 then
    got_404 = got_404 + 1
  else
    unexpected = unexpected + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests_done)
  local sent, twos, fours, bad = 0, 0, 0, 0
  local by_status = {}
  for _, t in ipairs(threads) do
    sent = sent + t:get("sent_404")
    twos = twos + t:get("got_2xx")
    fours = fours + t:get("got_404")
    bad = bad + t:get("unexpected")
    for s, n in pairs(t:get("statuses")) do by_status[s] = (by_status[s] or 0) + n end
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("mixed: requests %d in %.1f s = %.0f req/s\n", summary.requests, seconds,
    summary.requests / seconds))
  io.write(string.format("mixed: 2xx %d, 404 %d (404 requests sent %d), unexpected %d, socket errors %d\n",
    twos, fours, sent, bad, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
  for s, n in pairs(by_status) do io.write(string.format("mixed: unexpected status %d: %d\n", s, n)) end
  io.write(string.format("mixed: latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
end
