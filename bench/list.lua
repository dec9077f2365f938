-- GET a 50-row page of /api/v1/customers; PAGE_QUERY picks the page (cursor) and sort.
local key = os.getenv("KEY")
local query = os.getenv("PAGE_QUERY") or "limit=50"
request = function()
  return wrk.format("GET", "/api/v1/customers?" .. query, { ["Authorization"] = "Bearer " .. key })
end
