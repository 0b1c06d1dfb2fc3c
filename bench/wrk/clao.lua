-- wrk script of bench/web.py: one target per run, chosen by BENCH_TARGET.
--   BENCH_DATA     a file of "session key<TAB>IN to close" lines; each thread takes its share
--   BENCH_CSRF     the CSRF secret sent as cookie and as form field
--   BENCH_RUN      8 hex digits: every client_token of the run starts with them
--   BENCH_THREADS  wrk's -t;  BENCH_OUT  where done() writes its JSON
--   BENCH_PATH     where floor_noop and floor_store post the check-in's request
--   BENCH_SERIES   4 hex digits of every client_token of this run (default 4000)
-- Check-ins get a fresh client_token per request (run, thread, counter: unique by design).
local target = os.getenv("BENCH_TARGET")
local csrf = os.getenv("BENCH_CSRF") or ""
local run = os.getenv("BENCH_RUN") or "00000000"
-- bench/floor.py's POSTs (BENCH_PATH): the check-in's request, to another view.
local floor = string.sub(target, 1, 6) == "floor_"
-- A wrk run's tokens restart at 1: each run that stores sends its own series.
local series = os.getenv("BENCH_SERIES") or "4000"
local post_path = os.getenv("BENCH_PATH") or "/registrations/new/"

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  table.insert(threads, thread)
end

local rows = {}
local next_row = 1
local counter = 0
acks = {}
bad = 0

function init(args)
  local share = tonumber(os.getenv("BENCH_THREADS") or "1")
  local index = 0
  for line in io.lines(os.getenv("BENCH_DATA")) do
    if index % share == id - 1 then
      local session, closes = string.match(line, "^([^\t]*)\t?(.*)$")
      table.insert(rows, { session = session, closes = closes })
    end
    index = index + 1
  end
  if #rows == 0 then
    -- Fewer lines than threads (a short check-in run left few open INs): share them all.
    for line in io.lines(os.getenv("BENCH_DATA")) do
      local session, closes = string.match(line, "^([^\t]*)\t?(.*)$")
      table.insert(rows, { session = session, closes = closes })
    end
  end
end

local function token()
  counter = counter + 1
  return string.format("%s-%04x-%s-8000-%012x", run, id, series, counter)
end

local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local position = "&latitude=50.846557&longitude=4.351697&accuracy=12"

function request()
  if target == "bare" then
    return wrk.format("GET", "/")
  end
  local row = rows[next_row]
  next_row = next_row % #rows + 1
  local headers = { Cookie = "sessionid=" .. row.session .. "; csrftoken=" .. csrf }
  if target == "checkin" or floor then
    headers["Content-Type"] = form["Content-Type"]
    local body = "csrfmiddlewaretoken=" .. csrf .. "&client_token=" .. token()
      .. "&kind=IN&enterprise_number=0450905686&ddt_choice=unknown" .. position
    return wrk.format("POST", post_path, headers, body)
  elseif target == "quickout" then
    headers["Content-Type"] = form["Content-Type"]
    local body = "csrfmiddlewaretoken=" .. csrf .. "&client_token=" .. token()
      .. "&closes=" .. row.closes .. position
    return wrk.format("POST", "/registrations/quick-out/", headers, body)
  elseif target == "daylist" then
    return wrk.format("GET", "/" .. (os.getenv("BENCH_DAY_QUERY") or ""), headers)
  elseif target == "form" then
    return wrk.format("GET", "/registrations/new/", headers)
  elseif target == "streets" then
    headers["HX-Request"] = "true"
    return wrk.format("GET", "/geo/streets/?street=rue&postal_code=1000", headers)
  end
end

function response(status, headers, body)
  if target == "floor_noop" then
    if status ~= 302 then
      bad = bad + 1
    end
  elseif target == "checkin" or target == "quickout" or floor then
    local location = headers["Location"]
    local pk = status == 302 and location and string.match(location, "^/registrations/(%d+)/$")
    if pk then
      acks[#acks + 1] = pk
    else
      bad = bad + 1
    end
  elseif status ~= 200 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local all, unexpected = {}, 0
  for _, thread in ipairs(threads) do
    for _, pk in ipairs(thread:get("acks") or {}) do
      all[#all + 1] = pk
    end
    unexpected = unexpected + (thread:get("bad") or 0)
  end
  local e = summary.errors
  local file = io.open(os.getenv("BENCH_OUT"), "w")
  file:write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, '
      .. '"timeout": %d, "unexpected": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "acks": [%s]}',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    unexpected, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, table.concat(all, ",")))
  file:close()
end
