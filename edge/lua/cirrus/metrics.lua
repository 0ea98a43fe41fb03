-- Prometheus text for the edge, kept in a shared dict so every worker counts into one place.
-- Label values are bounded: configured domains (else `_unknown`), status classes, cache
-- statuses, configured origins.
local _M = {}

local dict = ngx.shared.cirrus_metrics
local LATENCY_BUCKETS = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }

local HELP = {
    cirrus_edge_requests_total = "Requests by domain, status class and cache status",
    cirrus_edge_origin_seconds = "Origin response time (origin hop, all tries)",
    cirrus_edge_origin_failures_total = "Origin tries that failed (connect error, timeout, 5xx)",
    cirrus_edge_breaker_state = "Circuit breaker per origin: 0 closed, 1 open, 2 half-open",
    cirrus_edge_purges_total = "Purge messages applied, by kind",
    cirrus_edge_purged_files_total = "Cache files deleted by purges",
    cirrus_edge_pubsub_connected = "1 while the Redis subscriber is connected",
    cirrus_edge_config_fetches_total = "Domain configs read from Redis",
    cirrus_edge_redis_errors_total = "Redis failures after which last-known configs were served",
    cirrus_edge_tls_cert_loads_total = "Certificates read from Redis",
    cirrus_edge_tls_cert_errors_total = "Certificate loads that failed",
    cirrus_edge_limited_total = "Requests answered 429, by domain and limit (rate, connections)",
    cirrus_edge_signed_rejected_total = "Requests answered 403 by the signed-URL check, by reason",
    cirrus_edge_shield_requests_total = "Misses sent to a shield parent, or to the origin after it failed",
    cirrus_edge_prewarm_urls_total = "Prewarm fetches finished, by result",
    cirrus_edge_prewarm_pending = "Prewarm URLs not fetched yet",
    cirrus_edge_prewarm_jobs_total = "Prewarm messages started and done",
}

local function esc(v)
    return (tostring(v):gsub('[\\"\n]', { ['\\'] = '\\\\', ['"'] = '\\"', ['\n'] = '\\n' }))
end

local function series(name, labels)
    if not labels then return name end
    local parts = {}
    for _, kv in ipairs(labels) do parts[#parts + 1] = kv[1] .. '="' .. esc(kv[2]) .. '"' end
    return name .. "{" .. table.concat(parts, ",") .. "}"
end

function _M.incr(name, labels, by)
    local _, err = dict:incr(series(name, labels), by or 1, 0)
    if err then ngx.log(ngx.WARN, "metric ", name, ": ", err) end
end

function _M.set(name, labels, value)
    dict:set(series(name, labels), value)
end

function _M.observe(name, labels, seconds)
    local base = labels or {}
    for _, le in ipairs(LATENCY_BUCKETS) do
        if seconds <= le then
            local l = { unpack(base) }
            l[#l + 1] = { "le", tostring(le) }
            dict:incr(series(name .. "_bucket", l), 1, 0)
        end
    end
    local inf = { unpack(base) }
    inf[#inf + 1] = { "le", "+Inf" }
    dict:incr(series(name .. "_bucket", inf), 1, 0)
    dict:incr(series(name .. "_count", base[1] and base or nil), 1, 0)
    dict:incr(series(name .. "_sum", base[1] and base or nil), seconds, 0)
end

local function family(key)
    local name = key:match("^([%w_:]+)")
    local base = name:gsub("_bucket$", ""):gsub("_count$", ""):gsub("_sum$", "")
    if HELP[base] and base ~= name and base:match("_seconds$") then return base, "histogram" end
    if name:match("_total$") then return name, "counter" end
    return name, "gauge"
end

function _M.render()
    local keys = dict:get_keys(0)
    table.sort(keys)
    local out, seen = {}, {}
    for _, k in ipairs(keys) do
        local fam, kind = family(k)
        if not seen[fam] then
            seen[fam] = true
            if HELP[fam] then out[#out + 1] = "# HELP " .. fam .. " " .. HELP[fam] end
            out[#out + 1] = "# TYPE " .. fam .. " " .. kind
        end
        out[#out + 1] = k .. " " .. tostring(dict:get(k))
    end
    ngx.header["Content-Type"] = "text/plain; version=0.0.4"
    ngx.print(table.concat(out, "\n"), "\n")
end

return _M
