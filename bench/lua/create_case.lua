-- POST /api/v1/cases/ as the telephony line does: token auth, a fresh Idempotency-Key and
-- call id per request, a known subscriber's number two times in three, a new one otherwise.
--   env: TOKEN, LUA_DIR (shared report.lua), BENCH_RUN (unique per run), KNOWN_SUBSCRIBERS
dofile((os.getenv("LUA_DIR") or "lua") .. "/report.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Token " .. (os.getenv("TOKEN") or "")

local run = os.getenv("BENCH_RUN") or tostring(os.time())
local known = tonumber(os.getenv("KNOWN_SUBSCRIBERS") or "1000")
local categories = {"gosuslugi-takeover", "operator-account-code", "bank-safe-account",
                    "sim-swap", "messenger-hijack", "fake-delivery-link", "spam-calls"}
local n = 0

function request()
  n = n + 1
  local tid = id or 0
  local phone
  if n % 3 == 0 then
    phone = string.format("+7959%07d", (tid * 1000003 + n + tonumber(run) % 100000) % 10000000)
  else
    -- seed_demo --cases numbers its bulk subscribers +7958<id>.
    phone = string.format("+7958%07d", 1 + (n * 7919 + tid * 104729) % known)
  end
  local key = string.format("%s-%d-%d", run, tid, n)
  wrk.headers["Idempotency-Key"] = key
  local code = (n % 5 == 0) and "true" or "false"
  local body = string.format(
    '{"channel": "hotline", "phone": "%s", "category": "%s", ' ..
    '"summary": "Звонок от «службы безопасности банка», просили код из SMS", ' ..
    '"description": "Абонент сообщил, что звонили с незнакомого номера и просили продиктовать код.", ' ..
    '"external_id": "call-%s", "code_disclosed": %s}',
    phone, categories[1 + n % #categories], key, code)
  return wrk.format(nil, nil, nil, body)
end
