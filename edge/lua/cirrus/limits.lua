-- Per-domain, per-client request limits in a shared dict (Debian packages no
-- resty.limit.*): a rate with a burst (the leaky bucket of limit_req, counted in requests)
-- and requests in flight per client. Reads and writes of one bucket are not atomic across
-- workers, so under a race a client may get a request or two above its burst.
local metrics = require "cirrus.metrics"

local _M = {}

local dict = ngx.shared.cirrus_limits

local function reject(domain, which, retry_after)
    metrics.incr("cirrus_edge_limited_total", { { "domain", domain }, { "limit", which } })
    ngx.header["Retry-After"] = tostring(retry_after)
    ngx.header["Content-Type"] = "text/plain"
    ngx.status = 429
    ngx.say("too many requests (", which, "): retry after ", retry_after, " s")
    return ngx.exit(429)
end

--- Applies `cfg.limits` to `client`; answers 429 itself, else returns (the in-flight key
--- to release in the log phase, or nil).
function _M.enter(cfg, client)
    local l = cfg.limits
    if not l then return nil end
    local key = cfg.domain .. "|" .. client
    if l.rps then
        local k = "r|" .. key
        local now = ngx.now()
        local excess = 0
        local prev = dict:get(k)
        if prev then
            local pe, pt = prev:match("^(%S+) (%S+)$")
            excess = math.max(tonumber(pe) - l.rps * (now - tonumber(pt)), 0) + 1
        end
        if excess > l.burst then
            return reject(cfg.domain, "rate", math.max(1, math.ceil((excess - l.burst) / l.rps)))
        end
        dict:set(k, excess .. " " .. now, math.ceil((l.burst + 1) / l.rps) + 1)
    end
    if l.connections then
        local k = "c|" .. key
        local n = dict:incr(k, 1, 0)
        if n and n > l.connections then
            dict:incr(k, -1, 0)
            return reject(cfg.domain, "connections", 1)
        end
        return k
    end
    return nil
end

function _M.leave(k)
    if k and k ~= "" then dict:incr(k, -1, 0) end
end

return _M
