-- GET /api/v1/customers/{id} over ids read from bench/out/ids.txt.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE") or "bench/out/ids.txt") do ids[#ids + 1] = line end
local key = os.getenv("KEY")
request = function()
  return wrk.format("GET", "/api/v1/customers/" .. ids[math.random(#ids)], { ["Authorization"] = "Bearer " .. key })
end
