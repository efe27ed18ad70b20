-- IAM on the emulator's port, as the SDKs and ma-cli use it:
--   GET  /v3/projects?name=REGION  (AK/SK signed or a token) Keystone's project list
--   POST /v3/auth/tokens           password login: 201, the token in X-Subject-Token
-- Errors come in IAM's own form, {"error": {"code", "message", "title"}}.
local cjson = require "cjson.safe"
local auth = require "emulator.auth"
local credentials = require "emulator.credentials"
local reply = require "emulator.reply"
local jobs = require "emulator.jobs"

local M = {}

local DOMAIN = { id = "emulator-domain-id", name = "emulator-domain" }
local PASSWORD = "emulator-password"
-- users, and how long their tokens live
local USERS = {
  ["emulator-user"] = { id = "emulator-user-id", ttl = 24 * 3600 },
  ["short-user"] = { id = "short-user-id", ttl = 3 },
}
-- projects by name: one, none or (an odd account) several
local PROJECTS = {
  { id = "0a1b2c3d4e5f", name = "cn-north-4" },
  { id = "5f4e3d2c1b0a", name = "multi-1" },
  { id = "6a5b4c3d2e1f", name = "multi-1" },
}
local WRONG = "The username or password is wrong."

local iso_us = jobs.iso_utc -- IAM's time form: 2020-01-04T09:05:22.701000Z

local function project_json(p, base)
  return { id = p.id, name = p.name, domain_id = DOMAIN.id, parent_id = DOMAIN.id, is_domain = false,
           enabled = true, description = "", links = { self = base .. "/v3/projects/" .. p.id } }
end

function M.projects(method, path, raw_args, headers)
  if method ~= "GET" then return reply.iam_error(405, "The method is not allowed for the requested URL.") end
  local ok, _, message = auth.check(method, path, raw_args, headers)
  if not ok then return reply.iam_error(401, message) end
  local name = ngx.unescape_uri((raw_args or ""):match("^name=([^&]*)") or (raw_args or ""):match("&name=([^&]*)") or "")
  local base = ngx.var.scheme .. "://" .. (headers.host or "127.0.0.1")
  local list = {}
  for _, p in ipairs(PROJECTS) do
    if name == "" or p.name == name then list[#list + 1] = project_json(p, base) end
  end
  return reply.json(200, { projects = #list > 0 and list or reply.EMPTY_ARRAY,
                           links = { self = base .. path .. (raw_args ~= "" and "?" .. raw_args or ""),
                                     previous = cjson.null, next = cjson.null } })
end

-- The password identity of a token request, or nil and why it is malformed.
local function identity_of(body)
  local request = type(body) == "table" and body.auth
  local identity = type(request) == "table" and request.identity
  if type(identity) ~= "table" or type(identity.methods) ~= "table" then return nil, "auth.identity.methods" end
  local password = false
  for _, m in ipairs(identity.methods) do password = password or m == "password" end
  local user = password and type(identity.password) == "table" and identity.password.user
  if type(user) ~= "table" or type(user.name) ~= "string" or type(user.password) ~= "string"
    or type(user.domain) ~= "table" then
    return nil, "auth.identity.password.user"
  end
  return user, request.scope
end

local function project_in(scope)
  if scope == nil then return nil end
  local p = type(scope) == "table" and scope.project
  if type(p) ~= "table" then return false end
  for _, known in ipairs(PROJECTS) do
    if (p.id ~= nil and known.id == p.id) or (p.id == nil and known.name == p.name) then return known end
  end
  return false
end

function M.tokens(method, _, raw_args)
  if method ~= "POST" then return reply.iam_error(405, "The method is not allowed for the requested URL.") end
  ngx.req.read_body()
  local body = cjson.decode(ngx.req.get_body_data() or "")
  local user, scope = identity_of(body)
  if not user then return reply.iam_error(400, "The request body is invalid: " .. scope .. " is missing or malformed.") end
  local known = USERS[user.name]
  local domain_ok = user.domain.name == DOMAIN.name or user.domain.id == DOMAIN.id
  -- the password is compared, never repeated in any answer
  if not known or not domain_ok or user.password ~= PASSWORD then return reply.iam_error(401, WRONG) end
  local project = project_in(scope)
  if project == false then return reply.iam_error(400, "The project in auth.scope does not exist.") end
  local now = jobs.now_ms()
  local expires = now + known.ttl * 1000
  local token = "MIIemulator" .. reply.hex(64)
  credentials.issue_token(token, expires, project and project.id)
  local domain = { id = DOMAIN.id, name = DOMAIN.name }
  local answer = { token = {
    expires_at = iso_us(expires), issued_at = iso_us(now), methods = { "password" },
    user = { id = known.id, name = user.name, domain = domain, password_expires_at = "" },
    roles = { { id = "emulator-role-id", name = "te_admin" } },
  } }
  if project then
    answer.token.project = { id = project.id, name = project.name, domain = domain }
  else
    answer.token.domain = domain
  end
  if not (raw_args or ""):find("nocatalog=", 1, true) then answer.token.catalog = reply.EMPTY_ARRAY end
  ngx.header["X-Subject-Token"] = token
  return reply.json(201, answer)
end

return M
