-- POST /api/v1/interactions: a purchase by a random customer (ids from IDS_FILE), which earns
-- loyalty points under the program.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local key = os.getenv("KEY")
request = function()
  local body = '{"customer_id":"' .. ids[math.random(#ids)] .. '","channel":"in_person","kind":"purchase","amount_minor":' .. math.random(100, 20000) .. ',"currency":"USD"}'
  return wrk.format("POST", "/api/v1/interactions", { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
