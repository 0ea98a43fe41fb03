-- The front hop's request phases (Host/SNI -> domain, node modifiers, cache decision,
-- metrics) and the Redis subscriber that keeps every worker's view current.
local cjson    = require "cjson.safe"
local config   = require "cirrus.config"
local certs    = require "cirrus.certs"
local cachekey = require "cirrus.cachekey"
local metrics  = require "cirrus.metrics"
local purge    = require "cirrus.purge"
local rds      = require "cirrus.redis"
local client   = require "cirrus.client"
local limits   = require "cirrus.limits"
local signing  = require "cirrus.signing"
local prewarm  = require "cirrus.prewarm"

local _M = {}

local NODE = config.node
-- Channels: content writes (Cirrus API), this node's override, certificates, purges, prewarms.
local CH_DIRTY, CH_EDGE, CH_CERT, CH_PURGE, CH_PREWARM =
    "cdn:cname:dirty", "cdn:edge:updated", "cdn:cert:updated", "cdn:purge", "cdn:prewarm"
local CONFIG_KINDS = { domains = true, all = true }
local events = ngx.shared.cirrus_events

local function normal_host(h)
    return (h or ""):lower():gsub("%.$", "")
end

local function path_matches(patterns, uri)
    if not patterns then return true end
    for _, p in ipairs(patterns) do
        if uri:find(p) then return true end
    end
    return false
end

function _M.front_access()
    local ctx = ngx.ctx
    ngx.var.cirrus_node = NODE
    ctx.domain = "_unknown"
    local host = normal_host(ngx.var.host)
    local sni = ngx.var.ssl_server_name
    if sni and sni ~= "" and normal_host(sni) ~= host then
        -- RFC 9110 15.5.20: the connection's name does not cover this Host.
        ngx.status = 421
        ngx.say("misdirected request: TLS name ", sni, " does not serve host ", host)
        return ngx.exit(421)
    end
    local cfg, err = config.get(host)
    if not cfg then
        if err then
            ngx.log(ngx.ERR, "config of ", host, ": ", err)
            return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
        end
        if ngx.var.uri == "/healthz" then return _M.healthz() end
        ngx.status = ngx.HTTP_NOT_FOUND
        ngx.say("unknown host: ", host, " is not served by this CDN")
        return ngx.exit(ngx.HTTP_NOT_FOUND)
    end
    if ngx.var.https == "on" and certs.missing(host) then
        ngx.status = 421
        ngx.say("misdirected request: no certificate for ", host)
        return ngx.exit(421)
    end
    ctx.domain = cfg.domain
    ngx.var.cirrus_domain = cfg.domain
    local uri = ngx.var.uri

    -- Limits, then signed URLs, both before the cache: a HIT is limited and checked too.
    -- This node's own prewarm requests are neither.
    if not prewarm.is_internal() then
        local who = client.address(cfg)
        ngx.var.cirrus_conn_key = limits.enter(cfg, who) or ""
        if cfg.signing then
            local why = signing.check(cfg.signing, uri, who)
            if why then
                metrics.incr("cirrus_edge_signed_rejected_total",
                    { { "domain", cfg.domain }, { "reason", why } })
                ngx.header["X-Cirrus-Auth-Error"] = why
                ngx.header["Content-Type"] = "text/plain"
                ngx.status = ngx.HTTP_FORBIDDEN
                ngx.say("forbidden: signed URL check failed (", why, ")")
                return ngx.exit(ngx.HTTP_FORBIDDEN)
            end
        end
    end

    local r = cfg.redirect
    if r and path_matches(r.paths, uri) then
        if not r.min_bytes then return ngx.redirect(r.to .. ngx.var.request_uri, r.status) end
        -- ngx.exec drops ngx.ctx; variables survive the jump.
        ngx.var.cirrus_size_redirect = r.status .. " " .. r.min_bytes .. " " .. r.to
    end

    local method = ngx.req.get_method()
    local ttl = 0
    if (method == "GET" or method == "HEAD") and not ngx.var.http_authorization then
        ttl = cachekey.ttl(cfg.cache, uri)
    end
    if ttl and ttl > 0 then
        ngx.var.cirrus_nocache = "0"
        ngx.var.cirrus_cache_key = cachekey.key(cfg.cache, cfg.domain, uri, ngx.req.get_uri_args(100))
        ngx.var.cirrus_ttl = tostring(ttl)
        ngx.var.cirrus_neg_ttl = tostring(cfg.cache.negative_ttl or 0)
    else
        ngx.var.cirrus_pass_range = ngx.var.http_range or ""
    end
    if ngx.var.cirrus_size_redirect ~= "" then return ngx.exec("@cirrus_sized") end
end

local function body_size()
    local total = (ngx.header["Content-Range"] or ""):match("/(%d+)$")
    return tonumber(total or ngx.header["Content-Length"] or "")
end

function _M.front_header_filter()
    local status, min_bytes, to = (ngx.var.cirrus_size_redirect or ""):match("^(%d+) (%d+) (.+)$")
    if not status or (ngx.status ~= 200 and ngx.status ~= 206) then return end
    local size = body_size()
    if size and size > tonumber(min_bytes) then
        ngx.status = tonumber(status)
        ngx.header["Location"] = to .. ngx.var.request_uri
        ngx.header["Content-Length"] = 0
        ngx.header["Content-Range"] = nil
        ngx.header["Accept-Ranges"] = nil
        ngx.ctx.drop_body = true
    end
end

function _M.front_body_filter()
    if ngx.ctx.drop_body then
        ngx.arg[1] = ""      -- every chunk; the upstream (and the cache write) still completes
    end
end

function _M.front_log()
    limits.leave(ngx.var.cirrus_conn_key)
    local domain = ngx.ctx.domain or ngx.var.cirrus_domain
    if domain == nil or domain == "" then domain = "_unknown" end
    local status = tonumber(ngx.var.status) or 0
    metrics.incr("cirrus_edge_requests_total", {
        { "domain", domain },
        { "status", math.floor(status / 100) .. "xx" },
        { "cache", ngx.var.upstream_cache_status or "NONE" },
    })
end

function _M.healthz()
    ngx.header["Content-Type"] = "text/plain"
    ngx.say("ok ", NODE)
    return ngx.exit(ngx.HTTP_OK)
end

-- Subscriber ------------------------------------------------------------------------------

local function on_message(channel, payload)
    if channel == CH_DIRTY then
        local ev = cjson.decode(payload)
        if type(ev) ~= "table" or CONFIG_KINDS[ev.kind] or not ev.kind then
            config.invalidate_all()
        end
    elseif channel == CH_EDGE then
        if payload == NODE or payload == "*" then config.invalidate_all() end
    elseif channel == CH_CERT then
        local ev = cjson.decode(payload)
        local name = type(ev) == "table" and ev.domain or payload
        if name == "*" then certs.invalidate_all() else certs.invalidate(name) end
    elseif channel == CH_PURGE then
        local msg = cjson.decode(payload)
        if type(msg) ~= "table" then
            ngx.log(ngx.WARN, "malformed purge message: ", payload)
            return
        end
        -- Two subscribers run during a reload; the second sees the id and skips.
        if msg.id and not events:add("purge:" .. msg.id, true, 600) then return end
        local n = purge.apply(msg)
        ngx.log(ngx.INFO, "purge ", tostring(msg.id), ": ", n, " files")
    elseif channel == CH_PREWARM then
        local msg = cjson.decode(payload)
        if type(msg) ~= "table" or type(msg.urls) ~= "table" then
            ngx.log(ngx.WARN, "malformed prewarm message: ", payload)
            return
        end
        -- Once per node per id (a reload runs two subscribers; the API may publish again).
        if msg.id and not events:add("prewarm:" .. msg.id, true, 3600) then return end
        ngx.log(ngx.INFO, "prewarm ", tostring(msg.id), ": ", prewarm.apply(msg), " URLs")
    end
end

local subscriber
subscriber = function(premature)
    if premature then return end
    local red, err = rds.connect(1000)   -- 1 s reads, so the loop notices a worker exit
    if red then
        local ok, serr = red:subscribe(CH_DIRTY, CH_EDGE, CH_CERT, CH_PURGE, CH_PREWARM)
        if ok then
            -- Messages published while disconnected are lost: start from a clean view.
            config.invalidate_all()
            certs.invalidate_all()
            metrics.set("cirrus_edge_pubsub_connected", nil, 1)
            while not ngx.worker.exiting() do
                local msg, rerr = red:read_reply()
                if msg then
                    if msg[1] == "message" then
                        local okc, perr = pcall(on_message, msg[2], msg[3])
                        if not okc then ngx.log(ngx.ERR, "event on ", msg[2], ": ", perr) end
                    end
                elseif rerr ~= "timeout" then
                    ngx.log(ngx.ERR, "pubsub read: ", rerr)
                    break
                end
            end
        else
            ngx.log(ngx.ERR, "subscribe: ", serr)
        end
        red:close()
    else
        ngx.log(ngx.ERR, "pubsub connect: ", err)
    end
    if not ngx.worker.exiting() then
        metrics.set("cirrus_edge_pubsub_connected", nil, 0)
        ngx.timer.at(1, subscriber)
    end
end

function _M.init_worker()
    math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
    if ngx.worker.id() == 0 then ngx.timer.at(0, subscriber) end
end

return _M
