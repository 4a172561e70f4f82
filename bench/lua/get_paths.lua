-- GET a rotating list of paths (one per line in PATHS_FILE), authenticated by TOKEN or
-- SESSIONID, so that every request asks for another case, number or filter.
--   env: PATHS_FILE, TOKEN or SESSIONID, LUA_DIR
dofile((os.getenv("LUA_DIR") or "lua") .. "/report.lua")

wrk.method = "GET"
local token = os.getenv("TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Token " .. token
  wrk.headers["Accept"] = "application/json"
end
local sid = os.getenv("SESSIONID")
if sid and sid ~= "" then wrk.headers["Cookie"] = "sessionid=" .. sid end

local paths = {}
for line in io.lines(os.getenv("PATHS_FILE")) do table.insert(paths, line) end
local i = 0

function request()
  i = i + 1
  return wrk.format(nil, paths[1 + (i * 7 + (id or 0)) % #paths])
end
