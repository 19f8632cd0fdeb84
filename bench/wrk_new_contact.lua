-- wrk script: the two requests a new contact costs the worker, alternating on each
-- connection: a contacts/filter lookup that finds nothing (identifier OR e-mail OR
-- both phone forms), then the create. Every pair uses a fresh identity, so the
-- simulator does the same work for wrk as for the worker.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local n = 0
local run = tostring(os.time())
-- Phone numbers are unique in Chatwoot: each run draws from its own block
-- (WRK_PHONE_BASE, a multiple of 10,000,000 below 100,000,000), or the creates of a
-- second run would be cheap 422s and inflate the baseline.
local phone_base = tonumber(os.getenv("WRK_PHONE_BASE") or "10000000")
local headers = { ["api_access_token"] = "sim-admin-token", ["Content-Type"] = "application/json" }

function request()
  n = n + 1
  local k = math.floor((n + 1) / 2)
  local ident = string.format("wrk_%s_%d_%d", run, tid, k)
  local email = ident .. "@example.com"
  local phone = string.format("+55119%08d", (phone_base + tid * 1000000 + k) % 100000000)
  local short = "+5511" .. string.sub(phone, 7)
  if n % 2 == 1 then
    local body = '{"payload":[' ..
      '{"attribute_key":"identifier","filter_operator":"equal_to","values":["' .. ident .. '"],"query_operator":"OR"},' ..
      '{"attribute_key":"email","filter_operator":"equal_to","values":["' .. email .. '"],"query_operator":"OR"},' ..
      '{"attribute_key":"phone_number","filter_operator":"equal_to","values":["' .. phone .. '"],"query_operator":"OR"},' ..
      '{"attribute_key":"phone_number","filter_operator":"equal_to","values":["' .. short .. '"],"query_operator":null}]}'
    return wrk.format("POST", "/api/v1/accounts/1/contacts/filter?include_contact_inboxes=false", headers, body)
  end
  local body = '{"name":"Wrk ' .. k .. '","identifier":"' .. ident .. '","email":"' .. email ..
    '","phone_number":"' .. phone .. '","inbox_id":1,"custom_attributes":{"tipo_entidade":"wrk","entidade_id":' .. k ..
    ',"sistema_origem":"zattar","ativo":true}}'
  return wrk.format("POST", "/api/v1/accounts/1/contacts", headers, body)
end
