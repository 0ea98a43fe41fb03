-- Domain configuration on the edge: `cdn:dom:{domain}` (written by the Cirrus API) merged
-- with this node's override `cdn:edge:{node}`, cached in a shared dict until an event or the
-- TTL drops it, and compiled once per worker into the cache policy the request phases use.
local cjson = require "cjson.safe"
local rds   = require "cirrus.redis"
local metrics = require "cirrus.metrics"
local iputil  = require "cirrus.iputil"
local signing = require "cirrus.signing"
local shield  = require "cirrus.shield"

local _M = {}

local dict = ngx.shared.cirrus_config
local NODE = os.getenv("CDN_NODE") or "edge"
local CONFIG_TTL = tonumber(os.getenv("EDGE_CONFIG_TTL") or "") or 30
local UNKNOWN_TTL = 5             -- an unknown host is asked again after this many seconds
local NODE_KEY = "node:" .. NODE
_M.node = NODE

-- Documented defaults of a domain's `cache` object (README, "Edge fleet").
local DEFAULT_CACHE = {
    enabled = true,
    paths = { "/static/*", "/assets/*" },
    extensions = { "css", "js", "mjs", "png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico",
                   "woff", "woff2", "ttf", "otf", "eot" },
    ttl = 3600,
    rules = { { match = "*.m3u8", ttl = 2 }, { match = "*.ts", ttl = 86400 },
              { match = "*.m4s", ttl = 86400 } },
    negativeTtl = 10,
    dropParams = { "utm_*", "_t", "_", "rnd", "fbclid", "gclid" },
}

--- Anchored Lua pattern for a glob where `*` matches any run of characters.
local function glob_pattern(glob)
    local out = { "^" }
    for i = 1, #glob do
        local c = glob:sub(i, i)
        if c == "*" then out[#out + 1] = ".*"
        elseif c:match("[%^%$%(%)%%%.%[%]%+%-%?]") then out[#out + 1] = "%" .. c
        else out[#out + 1] = c end
    end
    out[#out + 1] = "$"
    return table.concat(out)
end
_M.glob_pattern = glob_pattern

local function merge(base, over)
    if type(over) ~= "table" then return base end
    local out = {}
    for k, v in pairs(base or {}) do out[k] = v end
    for k, v in pairs(over) do
        -- Arrays replace; objects merge key by key.
        if type(v) == "table" and v[1] == nil and next(v) ~= nil and type(out[k]) == "table" then
            out[k] = merge(out[k], v)
        else
            out[k] = v
        end
    end
    return out
end

local function compile_cache(c)
    c = merge(DEFAULT_CACHE, c)
    local p = { enabled = c.enabled ~= false, ttl = c.ttl, negative_ttl = c.negativeTtl,
                paths = {}, exts = {}, rules = {}, drop = {} }
    for _, g in ipairs(c.paths or {}) do p.paths[#p.paths + 1] = glob_pattern(g) end
    for _, e in ipairs(c.extensions or {}) do p.exts[e:lower()] = true end
    for _, r in ipairs(c.rules or {}) do
        p.rules[#p.rules + 1] = { pattern = glob_pattern(r.match), ttl = r.ttl }
    end
    if type(c.keyParams) == "table" then
        p.keep = {}
        for _, k in ipairs(c.keyParams) do p.keep[k] = true end
    end
    for _, d in ipairs(c.dropParams or {}) do p.drop[#p.drop + 1] = glob_pattern(d) end
    return p
end

local function compile_redirect(r)
    if type(r) ~= "table" or type(r.to) ~= "string" then return nil end
    local out = { to = r.to:gsub("/+$", ""), status = r.status or 302,
                  min_bytes = r.minBytes, paths = nil }
    if type(r.paths) == "table" then
        out.paths = {}
        for _, g in ipairs(r.paths) do out.paths[#out.paths + 1] = glob_pattern(g) end
    end
    return out
end

--- Limits and the trusted client header: nil when the domain sets neither.
local function compile_limits(l)
    if type(l) ~= "table" then return nil end
    local out = { rps = tonumber(l.rps), burst = tonumber(l.burst) or 0,
                  connections = tonumber(l.connections) }
    if out.rps and out.rps <= 0 then out.rps = nil end
    if out.connections and out.connections <= 0 then out.connections = nil end
    if type(l.clientHeader) == "string" and type(l.trustedSources) == "table" then
        out.client_header = l.clientHeader:lower()
        out.trusted = {}
        for _, c in ipairs(l.trustedSources) do
            local cidr = iputil.parse_cidr(c)
            if cidr then out.trusted[#out.trusted + 1] = cidr end
        end
    end
    if not out.rps and not out.connections and not out.client_header then return nil end
    return out
end

-- Per-worker compiled configs, reused while the shared dict holds the same JSON text.
local compiled = {}

-- The last text read for each key, kept past invalidations and TTLs: while Redis is
-- unreachable the edge keeps serving what it last knew instead of failing every request.
local last = ngx.shared.cirrus_config_last
local REDIS_BACKOFF = 2           -- seconds Redis is left alone after a failure

local function fallback(key, err)
    if not dict:get("redis:down") then
        ngx.log(ngx.ERR, "redis: ", err, "; serving the last configs read for ", REDIS_BACKOFF, " s")
        metrics.incr("cirrus_edge_redis_errors_total")
    end
    dict:set("redis:down", true, REDIS_BACKOFF)
    local raw = last:get(key)
    if raw ~= nil then return raw end
    return nil, err
end

local function fetch(key, redis_key, ttl_when_missing)
    local raw = dict:get(key)
    if raw ~= nil then return raw end
    if dict:get("redis:down") then
        raw = last:get(key)
        if raw ~= nil then return raw end
        return nil, "redis unreachable (retried after a back-off)"
    end
    local red, err = rds.connect()
    if not red then return fallback(key, err) end
    local res, gerr = red:get(redis_key)
    if gerr then red:close(); return fallback(key, gerr) end
    rds.release(red)
    raw = (res == ngx.null or res == nil) and "" or res
    dict:set(key, raw, raw == "" and ttl_when_missing or CONFIG_TTL)
    last:set(key, raw)
    metrics.incr("cirrus_edge_config_fetches_total")
    return raw
end

--- The effective config of `host`, or nil (unknown host) and an error text when Redis failed.
function _M.get(host)
    local raw, err = fetch("dom:" .. host, "cdn:dom:" .. host, UNKNOWN_TTL)
    if not raw then return nil, err end
    if raw == "" then return nil end
    -- A missing override is cached as "" too, so both texts identify what was compiled.
    local node_raw, nerr = fetch(NODE_KEY, "cdn:edge:" .. NODE, CONFIG_TTL)
    if not node_raw then return nil, nerr end
    local hit = compiled[host]
    if hit and hit.raw == raw and hit.node_raw == node_raw then return hit.cfg end

    local dom = cjson.decode(raw)
    if type(dom) ~= "table" or type(dom.origins) ~= "table" then
        ngx.log(ngx.ERR, "cdn:dom:", host, " is not a domain document")
        return nil
    end
    local over = node_raw ~= "" and cjson.decode(node_raw) or {}
    if type(over) ~= "table" then over = {} end
    local per_domain = type(over.domains) == "table" and over.domains[host] or {}
    local cache = merge(merge(dom.cache or {}, over.cache), per_domain.cache)
    local redirect = per_domain.redirect or over.redirect
    local cfg = {
        domain = dom.domain or host,
        origins = dom.origins,
        cache = compile_cache(cache),
        redirect = compile_redirect(redirect),
        breaker = merge(merge(dom.breaker or {}, over.breaker), per_domain.breaker),
        signing = signing.compile(dom.signing, glob_pattern),
        limits = compile_limits(dom.limits),
        -- A node override's shield (per domain, then node-wide) wins over the domain's.
        shield = shield.compile(per_domain.shield or over.shield or dom.shield),
    }
    if cfg.signing then
        -- The token is never part of the cache key, whatever keyParams says.
        cfg.cache.ignore = { [cfg.signing.param] = true }
    end
    compiled[host] = { raw = raw, node_raw = node_raw, cfg = cfg }
    return cfg
end

--- Drops every cached domain config (a `cdn:cname:dirty` or `cdn:edge:updated` event).
_M.compile_cache = compile_cache

function _M.invalidate_all()
    dict:flush_all()
end

return _M
