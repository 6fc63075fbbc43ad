-- wrk script: workers that claim messages and delete them by ids.
-- Arguments (after `--`): QUEUE [LIMIT]
--
-- Each claim (POST .../claims?limit=LIMIT, 201) queues one
-- DELETE .../messages?ids=<the ids it got>; request() sends a queued delete
-- if there is one, else a new claim. wrk's Lua is per thread, not per
-- connection (see get.lua), so a delete may leave on another connection of
-- the same thread than its claim: over a thread, claims and deletes
-- alternate one for one, which is what a worker loop does.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	local queue = args[1] or "bench"
	local limit = tonumber(args[2] or "10")
	claim_path = "/v2/queues/" .. queue .. "/claims?limit=" .. limit
	delete_base = "/v2/queues/" .. queue .. "/messages?ids="
	claim_body = '{"ttl": 60, "grace": 60}'
	wrk.headers["Client-ID"] = "9d3f4c2a-6b1e-4f7a-8c5d-2e9b0a1f3c71"
	wrk.headers["X-Project-Id"] = "bench"
	wrk.headers["Content-Type"] = "application/json"
	todo, head, tail = {}, 1, 0
	claims_sent, deletes_sent, claimed, deleted_sent_ids = 0, 0, 0, 0
	got201, got204, bad = 0, 0, 0
end

function request()
	if head <= tail then
		local d = todo[head]
		todo[head] = nil
		head = head + 1
		deletes_sent = deletes_sent + 1
		deleted_sent_ids = deleted_sent_ids + d.n
		return wrk.format("DELETE", delete_base .. d.ids, nil, nil)
	end
	claims_sent = claims_sent + 1
	return wrk.format("POST", claim_path, nil, claim_body)
end

function response(status, headers, body)
	if status == 201 then
		got201 = got201 + 1
		local ids, n = {}, 0
		for id in string.gmatch(body, '"id": *"([^"]+)"') do
			n = n + 1
			ids[n] = id
		end
		claimed = claimed + n
		if n > 0 then
			tail = tail + 1
			todo[tail] = {ids = table.concat(ids, ","), n = n}
		end
	elseif status == 204 then
		got204 = got204 + 1 -- a delete, or a claim that found nothing
	else
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local t = {claims_sent = 0, deletes_sent = 0, claimed = 0,
		deleted_sent_ids = 0, got201 = 0, got204 = 0, bad = 0}
	for _, th in ipairs(threads) do
		for k, _ in pairs(t) do t[k] = t[k] + th:get(k) end
	end
	local s = summary.duration / 1e6
	local e = summary.errors
	-- 204s beyond the deletes sent are claims that found the queue empty.
	local empty_claims = t.got204 - t.deletes_sent
	if empty_claims < 0 then empty_claims = 0 end
	io.write(string.format(
		"RESULT test=claim+delete requests=%d seconds=%.2f req_s=%.1f msgs=%d msgs_s=%.1f " ..
		"p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
		"err_connect=%d err_read=%d err_write=%d err_timeout=%d non2xx=%d " ..
		"claims=%d deletes=%d deleted_ids=%d empty_claims~%d other_status=%d\n",
		summary.requests, s, summary.requests / s, t.claimed, t.claimed / s,
		latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
		latency:percentile(99) / 1e3, latency.max / 1e3,
		e.connect, e.read, e.write, e.timeout, e.status,
		t.claims_sent, t.deletes_sent, t.deleted_sent_ids, empty_claims, t.bad))
end
