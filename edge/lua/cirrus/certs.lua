-- TLS certificates per SNI from `cdn:cert:{domain}` (HASH: cert = full chain PEM, key = PEM,
-- issued_at, expires_at), cached as DER until `cdn:cert:updated` names the domain or the TTL
-- ends, so a renewed certificate is served without a reload.
local ssl     = require "ngx.ssl"
local rds     = require "cirrus.redis"
local metrics = require "cirrus.metrics"

local _M = {}

local dict = ngx.shared.cirrus_certs
local CERT_TTL = tonumber(os.getenv("EDGE_CERT_TTL") or "") or 300
local MISSING_TTL = 10

local function load(name)
    local red, err = rds.connect()
    if not red then return nil, nil, err end
    local res, herr = red:hmget("cdn:cert:" .. name, "cert", "key")
    if not res then red:close(); return nil, nil, herr end
    rds.release(red)
    if res[1] == ngx.null or res[2] == ngx.null then return false end
    local cert, cerr = ssl.cert_pem_to_der(res[1])
    if not cert then return nil, nil, "cert_pem_to_der: " .. tostring(cerr) end
    local key, kerr = ssl.priv_key_pem_to_der(res[2])
    if not key then return nil, nil, "priv_key_pem_to_der: " .. tostring(kerr) end
    return cert, key
end

function _M.serve()
    local name = ssl.server_name()
    if not name then return end                       -- no SNI: the fallback certificate
    name = name:lower()
    local cert, key = dict:get("c:" .. name), dict:get("k:" .. name)
    if cert == nil then
        local err
        cert, key, err = load(name)
        if cert == nil then
            ngx.log(ngx.ERR, "certificate for ", name, ": ", err)
            metrics.incr("cirrus_edge_tls_cert_errors_total")
            -- Redis unreachable: the last certificate read still serves.
            cert, key = dict:get("lc:" .. name), dict:get("lk:" .. name)
            if not cert then return end
        elseif cert == false then
            dict:set("c:" .. name, "", MISSING_TTL)
        else
            dict:set("c:" .. name, cert, CERT_TTL)
            dict:set("k:" .. name, key, CERT_TTL)
            dict:set("lc:" .. name, cert)
            dict:set("lk:" .. name, key)
            metrics.incr("cirrus_edge_tls_cert_loads_total")
        end
    end
    if cert == "" or cert == false then
        -- No certificate for this name: the request is refused with 421 once the handshake
        -- (on the fallback certificate) is done, in the access phase.
        return
    end
    local ok, err = ssl.clear_certs()
    if ok then ok, err = ssl.set_der_cert(cert) end
    if ok then ok, err = ssl.set_der_priv_key(key) end
    if not ok then
        ngx.log(ngx.ERR, "set certificate for ", name, ": ", err)
        return ngx.exit(ngx.ERROR)
    end
end

--- True when Redis holds no certificate for `name` (known from the handshake just made).
function _M.missing(name)
    return dict:get("c:" .. name) == ""
end

function _M.invalidate(name)
    name = name:lower()
    dict:delete("c:" .. name)
    dict:delete("k:" .. name)
end

--- Drops every cached certificate but keeps the last-read copies (the Redis-down fallback).
function _M.invalidate_all()
    for _, k in ipairs(dict:get_keys(0)) do
        if k:sub(1, 2) == "c:" or k:sub(1, 2) == "k:" then dict:delete(k) end
    end
end

return _M
