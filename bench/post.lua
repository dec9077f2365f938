-- POST /api/v1/customers with a small valid body.
local key = os.getenv("KEY")
local n = 0
request = function()
  n = n + 1
  local body = '{"given_name":"Bench","family_name":"Load' .. n .. '","email":"load' .. n .. '@example.com","tags":["bench"],"address":{"city":"Madrid","country":"ES"}}'
  return wrk.format("POST", "/api/v1/customers", { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
