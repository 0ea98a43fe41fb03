-- Circuit breaker per origin, shared by all workers: a fixed window counts tries and
-- failures; when failures reach `errorRatio` of at least `minRequests` tries the origin is
-- open for `openSec`, then half-open: one probe at a time, whose success closes it and whose
-- failure opens it again.
local metrics = require "cirrus.metrics"

local _M = {}

local dict = ngx.shared.cirrus_breaker

_M.DEFAULTS = { errorRatio = 0.5, minRequests = 5, windowSec = 10, openSec = 10 }

local function opts(o)
    local out = {}
    for k, v in pairs(_M.DEFAULTS) do out[k] = (o and o[k]) or v end
    return out
end

local function report(id, state)
    metrics.set("cirrus_edge_breaker_state", { { "origin", id } }, state)
end

--- Whether `id` may take a request now; a half-open origin lets one probe through.
function _M.allow(id, o)
    if dict:get("open:" .. id) then return false end
    if dict:get("half:" .. id) then
        local p = opts(o)
        report(id, 2)
        return (dict:add("probe:" .. id, true, p.openSec)) == true
    end
    return true
end

function _M.state(id)
    if dict:get("open:" .. id) then return "open" end
    if dict:get("half:" .. id) then return "half-open" end
    return "closed"
end

local function window(id, p)
    return math.floor(ngx.now() / p.windowSec), p
end

local function trip(id, p)
    dict:set("open:" .. id, true, p.openSec)
    dict:set("half:" .. id, true)
    dict:delete("probe:" .. id)
    report(id, 1)
    ngx.log(ngx.WARN, "origin ", id, " circuit open for ", p.openSec, " s")
end

function _M.failure(id, o)
    local w, p = window(id, opts(o))
    if dict:get("half:" .. id) then return trip(id, p) end
    local tries = dict:incr("t:" .. id .. ":" .. w, 1, 0, p.windowSec * 2)
    local fails = dict:incr("f:" .. id .. ":" .. w, 1, 0, p.windowSec * 2)
    if tries and fails and tries >= p.minRequests and fails / tries >= p.errorRatio then
        trip(id, p)
    end
end

function _M.success(id, o)
    local w, p = window(id, opts(o))
    if dict:get("half:" .. id) and not dict:get("open:" .. id) then
        dict:delete("half:" .. id)
        dict:delete("probe:" .. id)
        dict:delete("t:" .. id .. ":" .. w)
        dict:delete("f:" .. id .. ":" .. w)
        report(id, 0)
        ngx.log(ngx.NOTICE, "origin ", id, " circuit closed")
        return
    end
    dict:incr("t:" .. id .. ":" .. w, 1, 0, p.windowSec * 2)
end

return _M
