-- wrk script: POSTs one fixed, validly signed webhook body with a UNIQUE X-GitHub-Delivery per
-- request (a redelivery would take another path). The signature covers only the body, so it
-- is computed once, outside, and passed in: nothing dynamic is computed per request.
-- env: ACK_BODY_FILE, ACK_SIGNATURE (sha256=<hex>), ACK_EVENT, ACK_RUN (makes ids unique per run)
local body_file = assert(os.getenv("ACK_BODY_FILE"), "ACK_BODY_FILE is not set")
local f = assert(io.open(body_file, "rb"))
local body = f:read("*a")
f:close()

local threads = {}
local next_id = 0

function setup(thread)
	next_id = next_id + 1
	thread:set("tid", next_id)
	table.insert(threads, thread)
end

local counter = 0
local prefix

function init(args)
	prefix = string.format("wrk-%s-%d-", os.getenv("ACK_RUN") or "0", tid)
	wrk.method = "POST"
	wrk.body = body
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["X-GitHub-Event"] = os.getenv("ACK_EVENT") or "pull_request"
	wrk.headers["X-GitHub-Hook-ID"] = "1"
	wrk.headers["X-Hub-Signature-256"] = assert(os.getenv("ACK_SIGNATURE"), "ACK_SIGNATURE is not set")
	wrk.headers["User-Agent"] = "GitHub-Hookshot/bench"
end

function request()
	counter = counter + 1
	wrk.headers["X-GitHub-Delivery"] = prefix .. counter
	return wrk.format()
end

-- One machine-readable line: requests/s, p50 and p99 latency in ms, requests, non-2xx, errors.
function done(summary, latency, requests)
	local secs = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format("ACK rps=%.1f p50=%.3f p99=%.3f requests=%d non2xx=%d errors=%d\n",
		summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
		summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
