-- GET a 50-ticket page of /api/v1/tickets; QUERY sets the filters.
local key = os.getenv("KEY")
local query = os.getenv("QUERY") or "limit=50"
request = function()
  return wrk.format("GET", "/api/v1/tickets?" .. query, { ["Authorization"] = "Bearer " .. key })
end
