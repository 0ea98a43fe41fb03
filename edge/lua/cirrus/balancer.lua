-- The origin hop: orders the domain's origins (weighted among primaries, backups last, open
-- breakers skipped), lets balancer_by_lua walk that order on connect errors and 5xx, and
-- stamps the response with the cache lifetime the front hop asked for (X-Accel-Expires).
local balancer = require "ngx.balancer"
local config   = require "cirrus.config"
local breaker  = require "cirrus.breaker"
local metrics  = require "cirrus.metrics"
local shield   = require "cirrus.shield"
local signing  = require "cirrus.signing"

local _M = {}

local NEGATIVE = { [403] = true, [404] = true, [410] = true }
-- 304: a revalidation (proxy_cache_revalidate) renews the cached object for the same TTL.
local CACHEABLE = { [200] = true, [203] = true, [204] = true, [206] = true, [301] = true,
                    [304] = true, [308] = true }

local function origin_id(o)
    return (o.protocol or "http") .. "://" .. o.address .. ":" .. (o.port or
        ((o.protocol == "https") and 443 or 80))
end
_M.origin_id = origin_id

local function is_ip(a)
    return a:find("^%d+%.%d+%.%d+%.%d+$") ~= nil or a:find(":", 1, true) ~= nil
end

--- Weighted random order without replacement (each pick proportional to weight).
local function weighted_order(list)
    local pool, out = { unpack(list) }, {}
    while #pool > 0 do
        local total = 0
        for _, o in ipairs(pool) do total = total + (o.weight or 1) end
        local r = math.random() * total
        local idx = #pool
        for i, o in ipairs(pool) do
            r = r - (o.weight or 1)
            if r <= 0 then idx = i; break end
        end
        out[#out + 1] = table.remove(pool, idx)
    end
    return out
end

--- `fallback`: called from @cirrus_origin after the shield parent failed (no shield again).
function _M.origin_access(fallback)
    local domain = ngx.var.http_x_cirrus_domain
    local cfg = domain and domain ~= "" and config.get(domain)
    if not cfg then return ngx.exit(ngx.HTTP_NOT_FOUND) end
    if fallback then
        metrics.incr("cirrus_edge_shield_requests_total",
            { { "domain", cfg.domain }, { "result", "fallback" } })
    elseif cfg.shield and (tonumber(ngx.var.http_x_cirrus_ttl or "") or 0) > 0 then
        -- Cacheable misses only: what the front hop does not cache goes to the origin.
        local parent = shield.parent(cfg.shield, ngx.var.http_x_cirrus_key or ngx.var.uri)
        if parent then
            ngx.var.cirrus_shield_peer = parent.address .. " " .. parent.port
            ngx.var.cirrus_shield_from = config.node
            if cfg.signing then
                ngx.var.cirrus_shield_token = signing.sign(cfg.signing, ngx.var.uri, 60)
            end
            return ngx.exec("@cirrus_shield")
        end
    end
    local primaries, backups = {}, {}
    for _, o in ipairs(cfg.origins) do
        if breaker.allow(origin_id(o), cfg.breaker) then
            if o.backup then backups[#backups + 1] = o else primaries[#primaries + 1] = o end
        end
    end
    local order = weighted_order(primaries)
    for _, o in ipairs(weighted_order(backups)) do order[#order + 1] = o end
    if #order == 0 then
        -- Every origin's breaker is open: fail fast so the front hop serves stale content.
        return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
    end
    local first = order[1]
    local scheme = first.protocol or "http"
    ngx.ctx.cfg = cfg
    ngx.ctx.domain = cfg.domain
    ngx.var.cirrus_origin_scheme = scheme
    ngx.var.cirrus_origin_sni = cfg.domain
    if not is_ip(first.address) then
        -- balancer_by_lua connects to addresses only: a host name goes to proxy_pass, which
        -- resolves it with nginx's resolver (http.d/resolver.conf) and tries its addresses.
        ngx.ctx.direct = first
        ngx.var.cirrus_origin_upstream = first.address .. ":" ..
            (first.port or ((scheme == "https") and 443 or 80))
        return
    end
    -- One request speaks one scheme; the balancer walks the address origins that share it.
    local same = {}
    for _, o in ipairs(order) do
        if (o.protocol or "http") == scheme and is_ip(o.address) then same[#same + 1] = o end
    end
    ngx.ctx.order = same
    ngx.var.cirrus_origin_upstream = "cirrus_origin_" .. scheme
end

function _M.balance()
    local ctx = ngx.ctx
    local order = ctx.order
    local i = (ctx.try or 0) + 1
    if i == 1 then
        if #order > 1 then balancer.set_more_tries(#order - 1) end
    else
        local prev = order[i - 1]
        breaker.failure(origin_id(prev), ctx.cfg.breaker)
        metrics.incr("cirrus_edge_origin_failures_total", { { "domain", ctx.domain } })
    end
    ctx.try = i
    local o = order[i]
    if not o then return ngx.exit(ngx.ERROR) end
    local ok, err = balancer.set_current_peer(o.address,
        o.port or ((o.protocol == "https") and 443 or 80))
    if not ok then
        ngx.log(ngx.ERR, "set_current_peer ", o.address, ": ", err)
        return ngx.exit(ngx.ERROR)
    end
end

function _M.balance_shield()
    local addr, port = (ngx.var.cirrus_shield_peer or ""):match("^(%S+) (%d+)$")
    local ok, err = balancer.set_current_peer(addr, tonumber(port))
    if not ok then
        ngx.log(ngx.ERR, "shield peer ", tostring(addr), ": ", err)
        return ngx.exit(ngx.ERROR)
    end
end

--- A parent's answer: cached here for this node's TTL; the parent's cache status is kept
--- as X-Cirrus-Parent ("node status") instead of its own X-Cache-Status / X-CDN-Node.
function _M.shield_header_filter()
    _M.origin_header_filter()
    local node = ngx.var.upstream_http_x_cdn_node or "?"
    local st = ngx.var.upstream_http_x_cache_status or "-"
    ngx.header["X-Cache-Status"] = nil
    ngx.header["X-CDN-Node"] = nil
    ngx.header["X-Cirrus-Parent"] = node .. " " .. st
    metrics.incr("cirrus_edge_shield_requests_total",
        { { "domain", ngx.var.http_x_cirrus_domain or "_unknown" }, { "result", "parent" } })
end

function _M.origin_header_filter()
    local status = ngx.status
    local ttl
    if CACHEABLE[status] then
        ttl = tonumber(ngx.var.http_x_cirrus_ttl or "")
    elseif NEGATIVE[status] then
        ttl = tonumber(ngx.var.http_x_cirrus_neg_ttl or "")
    end
    ngx.header["X-Accel-Expires"] = tostring(ttl or 0)
end

function _M.origin_log()
    local ctx = ngx.ctx
    local last
    if ctx.direct then
        last = ctx.direct
    elseif ctx.order and ctx.try then
        last = ctx.order[ctx.try]
    else
        return
    end
    local statuses = ngx.var.upstream_status or ""
    local final = tonumber(statuses:match("(%d+)%s*$") or "")
    if last then
        if final and final < 500 then
            breaker.success(origin_id(last), ctx.cfg.breaker)
        else
            breaker.failure(origin_id(last), ctx.cfg.breaker)
            metrics.incr("cirrus_edge_origin_failures_total", { { "domain", ctx.domain } })
        end
    end
    local total = 0
    for t in (ngx.var.upstream_response_time or ""):gmatch("[%d%.]+") do
        total = total + tonumber(t)
    end
    metrics.observe("cirrus_edge_origin_seconds", { { "domain", ctx.domain } }, total)
end

return _M
