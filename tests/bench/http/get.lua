-- wrk script: readers paging through a backlog by marker.
-- Arguments (after `--`): QUEUE [LIMIT]
--
-- wrk's Lua runs per thread, not per connection, and a response is not
-- tied to the next request() call of the same connection. So each thread
-- keeps a FIFO of cursors: every response pushes the next marker its page
-- carried (or "start over" on an empty page), every request pops one. With
-- one request in flight per connection this keeps one cursor per
-- connection, each following the next links of its own pages. All readers
-- start at the head of the queue.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	queue = args[1] or "bench"
	limit = tonumber(args[2] or "20")
	base = "/v2/queues/" .. queue .. "/messages?limit=" .. limit .. "&echo=true"
	wrk.method = "GET"
	wrk.headers["Client-ID"] = "9d3f4c2a-6b1e-4f7a-8c5d-2e9b0a1f3c71"
	wrk.headers["X-Project-Id"] = "bench"
	wrk.headers["Content-Type"] = "application/json"
	cursors, head, tail = {}, 1, 0
	msgs, pages, empty, bad, nomarker = 0, 0, 0, 0, 0
end

function request()
	local path = base
	if head <= tail then
		local m = cursors[head]
		cursors[head] = nil
		head = head + 1
		if m ~= "" then path = base .. "&marker=" .. m end
	end
	return wrk.format(nil, path)
end

function response(status, headers, body)
	local marker = ""
	if status == 200 then
		local n = 0
		for _ in string.gmatch(body, '"id":') do n = n + 1 end
		msgs = msgs + n
		pages = pages + 1
		if n == 0 then
			empty = empty + 1
		else
			marker = string.match(body, '"href": *"[^"]*[?&]marker=([^"&]+)') or ""
			if marker == "" then nomarker = nomarker + 1 end
		end
	else
		bad = bad + 1
	end
	tail = tail + 1
	cursors[tail] = marker
end

function done(summary, latency, requests)
	local t = {msgs = 0, pages = 0, empty = 0, bad = 0, nomarker = 0}
	for _, th in ipairs(threads) do
		for k, _ in pairs(t) do t[k] = t[k] + th:get(k) end
	end
	local s = summary.duration / 1e6
	local e = summary.errors
	io.write(string.format(
		"RESULT test=get requests=%d seconds=%.2f req_s=%.1f msgs=%d msgs_s=%.1f " ..
		"p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
		"err_connect=%d err_read=%d err_write=%d err_timeout=%d non2xx=%d " ..
		"pages=%d empty_pages=%d pages_without_marker=%d\n",
		summary.requests, s, summary.requests / s, t.msgs, t.msgs / s,
		latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
		latency:percentile(99) / 1e3, latency.max / 1e3,
		e.connect, e.read, e.write, e.timeout, e.status,
		t.pages, t.empty, t.nomarker))
end
