-- POST /api/v1/customers/{id}/loyalty/redemptions of REWARD by a random customer.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local key = os.getenv("KEY")
local body = '{"reward_id":"' .. os.getenv("REWARD") .. '"}'
request = function()
  return wrk.format("POST", "/api/v1/customers/" .. ids[math.random(#ids)] .. "/loyalty/redemptions", { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
