-- Signed URLs: a token `exp=<unix>~kid=<key id>[~ip=<client prefix>][~path=<path prefix>]~hmac=<hex>`
-- where hmac = HMAC-SHA256(secret of kid, everything before "~hmac=", followed by
-- "~url=<request path>" when the token names no path prefix). The token travels in the
-- domain's query parameter (default `token`), its cookie (default `cirrus_token`) or the
-- X-Cirrus-Token header (shield hops use it). The same format is produced by
-- src/edge/signing.ts; the two must agree byte for byte.
local ffi    = require "ffi"
local iputil = require "cirrus.iputil"

local _M = {}

-- HMAC from the OpenSSL libcrypto nginx itself links (Debian packages no resty.hmac).
pcall(ffi.cdef, [[
typedef struct cirrus_evp_md_st cirrus_EVP_MD;
const cirrus_EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const cirrus_EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
]])
local C = ffi.C
local md = ffi.new("unsigned char[32]")
local md_len = ffi.new("unsigned int[1]")

local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function _M.hmac_sha256_hex(key, msg)
    local r = C.HMAC(C.EVP_sha256(), key, #key, msg, #msg, md, md_len)
    if r == nil then return nil end
    return hex(ffi.string(md, md_len[0]))
end

--- Equal-length comparison that looks at every byte (no early exit on the first mismatch).
local function same(a, b)
    if #a ~= #b then return false end
    local diff = 0
    for i = 1, #a do
        if a:byte(i) ~= b:byte(i) then diff = diff + 1 end
    end
    return diff == 0
end

--- Compiles a domain's `signing` object (nil when absent or without keys).
function _M.compile(s, glob_pattern)
    if type(s) ~= "table" or type(s.keys) ~= "table" or not s.keys[1] or s.enabled == false then
        return nil
    end
    local out = { keys = {}, param = s.param or "token", cookie = s.cookie or "cirrus_token" }
    for _, k in ipairs(s.keys) do
        if type(k.id) == "string" and type(k.secret) == "string" then out.keys[k.id] = k.secret end
    end
    out.sign_kid = s.keys[1].id
    if type(s.paths) == "table" then
        out.paths = {}
        for _, g in ipairs(s.paths) do out.paths[#out.paths + 1] = glob_pattern(g) end
    end
    return out
end

local function applies(p, uri)
    if not p.paths then return true end
    for _, pat in ipairs(p.paths) do
        if uri:find(pat) then return true end
    end
    return false
end

local function token_of(p)
    local args = ngx.req.get_uri_args(100)
    local t = args[p.param]
    if type(t) == "table" then t = t[1] end
    if type(t) == "string" and t ~= "" then return t end
    t = ngx.var["cookie_" .. p.cookie]
    if t and t ~= "" then return ngx.unescape_uri(t) end
    t = ngx.var.http_x_cirrus_token
    if t and t ~= "" then return t end
    return nil
end

--- nil when the request may pass, else the reason it may not (sent as X-Cirrus-Auth-Error).
function _M.check(p, uri, client)
    if not applies(p, uri) then return nil end
    local token = token_of(p)
    if not token then return "missing" end
    local body, mac = token:match("^(.*)~hmac=(%x+)$")
    if not body then return "malformed" end
    local f = {}
    for k, v in body:gmatch("([%w]+)=([^~]*)") do f[k] = v end
    local exp = tonumber(f.exp or "")
    if not exp or not f.kid then return "malformed" end
    local secret = p.keys[f.kid]
    if not secret then return "unknown-key" end
    local msg = body
    if not f.path then msg = body .. "~url=" .. uri end
    local want = _M.hmac_sha256_hex(secret, msg)
    if not want or not same(want, mac:lower()) then return "bad-signature" end
    if exp < ngx.time() then return "expired" end
    if f.path then
        local prefix = ngx.unescape_uri(f.path)
        if uri:sub(1, #prefix) ~= prefix then return "path" end
    end
    if f.ip then
        local cidr = iputil.parse_cidr(ngx.unescape_uri(f.ip))
        if not cidr or not iputil.contains(cidr, iputil.parse(client)) then return "client" end
    end
    return nil
end

--- A token for `uri` valid `ttl` seconds, signed with the first key (used on shield hops).
function _M.sign(p, uri, ttl)
    local body = "exp=" .. (ngx.time() + ttl) .. "~kid=" .. p.sign_kid
    return body .. "~hmac=" .. _M.hmac_sha256_hex(p.keys[p.sign_kid], body .. "~url=" .. uri)
end

return _M
