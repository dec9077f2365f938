-- POST /api/v1/tickets: a ticket for a random customer (ids from IDS_FILE); the SLA policy for
-- its priority is looked up and both clocks computed in the same request.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local key = os.getenv("KEY")
local priorities = { "low", "normal", "high", "urgent" }
request = function()
  local body = '{"customer_id":"' .. ids[math.random(#ids)] .. '","subject":"Phone restarts","priority":"'
    .. priorities[math.random(#priorities)] .. '","category":"hardware","product":{"model":"Pixel ' .. math.random(6, 9) .. '"}}'
  return wrk.format("POST", "/api/v1/tickets", { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
