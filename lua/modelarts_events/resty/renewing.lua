--- Renewing credentials for the OpenResty driver: the same rule as the C
-- module's `iam_token_source` and `metadata_credentials` (fetch at the
-- first call, again `renew_before` seconds before expiry but at most half
-- the credential's life before, keep a still-valid set when a renewal
-- fails), in Lua, so that the fetch may go over cosockets and yield: a C
-- function cannot call one that yields.
-- @module modelarts_events.resty.renewing

local me = require "modelarts_events"

local M = {}

local RENEW_BEFORE = 300 -- seconds, as in C

local function now_ms()
  ngx.update_time()
  return ngx.now() * 1000
end

--- The options without `renew_before`, and `renew_before` checked.
-- @return options copy, renew_before (seconds)
function M.split(options)
  local copy = {}
  for k, v in pairs(options or {}) do copy[k] = v end
  local renew_before = copy.renew_before
  copy.renew_before = nil
  if renew_before == nil then return copy, RENEW_BEFORE end
  if type(renew_before) ~= "number" or not (renew_before >= 0 and renew_before <= 86400) then
    error(me.error("invalid_argument", "renew_before must be a number of seconds from 0 to 86400",
      { field = "renew_before" }), 3)
  end
  return copy, renew_before
end

--- A renewing state around `fetch()` (returns a table with `expires_at`
-- in epoch ms, or nil and an error object): `renew(when_due)` fetches
-- when nothing was fetched yet or, with `when_due`, when the set is near
-- its expiry, and returns the current set; it raises the fetch's error
-- only when no valid set is left.
function M.state(fetch, renew_before)
  local current, fetched_at
  return function(when_due)
    local now = now_ms()
    local expires = current and tonumber(current.expires_at)
    if current and expires then
      local margin = math.min(renew_before * 1000, (expires - fetched_at) / 2)
      if not when_due or now < expires - margin then return current end
    elseif current and not when_due then
      return current
    end
    local fresh, err = fetch()
    if type(fresh) == "table" then
      current, fetched_at = fresh, now
      return current
    end
    if current and expires and now < expires then return current end
    error(err, 0)
  end
end

return M
