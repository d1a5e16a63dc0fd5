-- wrk script for launch/serve-load.sh: a mix of valid and malformed
-- prediction requests; checks that every answer has the status its body
-- says (200 with predictions, 400 with an error) and counts the rest.
local valid = '{"inputs": [[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1.0, -1.1, 1.2]]}'
local bodies = {
  valid, valid, valid,
  '{oops',
  '{"inputs": [[1, 2]]}',
  '{"input": [[1]]}',
  '{"inputs": [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], "top_k": 99}',
}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, bad, wrong = 0, 0, 0
end

function request()
  local body = bodies[math.random(#bodies)]
  return wrk.format("POST", "/v1/predict", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status == 200 and body:find('"predictions"', 1, true) then
    ok = ok + 1
  elseif status == 400 and body:find('"error"', 1, true) then
    bad = bad + 1
  else
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  local ok_total, bad_total, wrong_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    bad_total = bad_total + thread:get("bad")
    wrong_total = wrong_total + thread:get("wrong")
  end
  io.write(string.format("answers: 200 %d, 400 %d, wrong %d; socket errors: connect %d read %d write %d timeout %d\n",
    ok_total, bad_total, wrong_total, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
