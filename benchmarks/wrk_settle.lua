-- wrk script for benchmarks/load.py --client wrk: POST /v1/settlements with a fresh claim each time.
-- Environment: MEDRELIEF_KEY (a hospital key), MEDRELIEF_PERSONS (persons LP000000 … registered).
local threads = {}
local key = os.getenv("MEDRELIEF_KEY")
local persons = tonumber(os.getenv("MEDRELIEF_PERSONS") or "1000")

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local counter = 0

function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919)
end

function request()
  counter = counter + 1
  local id = string.format("W%d-%d-%d", tid or 0, counter, math.random(1, 1000000000))
  local person = string.format("LP%06d", math.random(0, persons - 1))
  local med = ({ "11", "14", "21", "21" })[math.random(1, 4)]
  local body = string.format(
    '{"claim_id":"%s","person_id":"%s","med_type":"%s","hospital_level":%d,"settle_date":"2024-06-01",'
      .. '"diagnosis":"%s","medfee_sumamt":"%d.%02d","fulamt_ownpay_amt":"10.00"}',
    id, person, med, math.random(1, 3), ({ "C50.1", "J18.9", "I63.9" })[math.random(1, 3)],
    math.random(200, 60000), math.random(0, 99)
  )
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = id,
  }
  return wrk.format("POST", "/v1/settlements", headers, body)
end
