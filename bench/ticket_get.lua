-- GET a ticket path over ids read from IDS_FILE: PATH_PREFIX .. id .. PATH_SUFFIX, e.g.
-- /api/v1/tickets/{id} or /api/v1/customers/{id}/tickets.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local key = os.getenv("KEY")
local prefix = os.getenv("PATH_PREFIX") or "/api/v1/tickets/"
local suffix = os.getenv("PATH_SUFFIX") or ""
request = function()
  return wrk.format("GET", prefix .. ids[math.random(#ids)] .. suffix, { ["Authorization"] = "Bearer " .. key })
end
