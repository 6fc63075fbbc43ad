-- wrk script: publishers. Each request posts one batch of messages whose
-- bodies are JSON strings of exactly BYTES characters (default 10 x 100).
-- Arguments (after `--`): QUEUE [MESSAGES_PER_REQUEST] [BYTES]
-- The request is the same every time, so wrk sends it pre-formatted.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	local queue = args[1] or "bench"
	per_request = tonumber(args[2] or "10")
	local bytes = tonumber(args[3] or "100")
	local one = '{"ttl": 3600, "body": "' .. string.rep("x", bytes) .. '"}'
	local msgs = {}
	for i = 1, per_request do msgs[i] = one end
	wrk.method = "POST"
	wrk.path = "/v2/queues/" .. queue .. "/messages"
	wrk.headers["Client-ID"] = "9d3f4c2a-6b1e-4f7a-8c5d-2e9b0a1f3c71"
	wrk.headers["X-Project-Id"] = "bench"
	wrk.headers["Content-Type"] = "application/json"
	wrk.body = '{"messages": [' .. table.concat(msgs, ", ") .. ']}'
end

function done(summary, latency, requests)
	local per = threads[1]:get("per_request")
	local s = summary.duration / 1e6
	local e = summary.errors
	-- Requests that failed (socket errors or a status other than 2xx/3xx)
	-- carried no stored messages: leave them out of msgs/s.
	local ok = summary.requests - e.status - e.read - e.write - e.timeout
	io.write(string.format(
		"RESULT test=post requests=%d seconds=%.2f req_s=%.1f msgs=%d msgs_s=%.1f " ..
		"p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
		"err_connect=%d err_read=%d err_write=%d err_timeout=%d non2xx=%d\n",
		summary.requests, s, summary.requests / s, ok * per, ok * per / s,
		latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
		latency:percentile(99) / 1e3, latency.max / 1e3,
		e.connect, e.read, e.write, e.timeout, e.status))
end
