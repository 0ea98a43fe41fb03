-- Origin shield: a domain (`shield` in cdn:dom:{domain}) or a node override names a parent
-- node or pool; on a miss the origin hop asks the parent's front hop (and so its cache)
-- instead of the origin. One hop only: a request that already carries X-Cirrus-Shield is
-- never sent to a parent again, and a node never shields through itself. Within a pool, each
-- object goes to one parent (highest-random-weight hashing on its cache key), so the pool's
-- caches do not duplicate one another. Parent addresses come from `cdn:node:{id}` and the
-- pool's members from `cdn:nodes`, cached like domain configs.
local cjson   = require "cjson.safe"
local rds     = require "cirrus.redis"

local _M = {}

local dict = ngx.shared.cirrus_config
local NODE = os.getenv("CDN_NODE") or "edge"
local TTL = tonumber(os.getenv("EDGE_CONFIG_TTL") or "") or 30

function _M.compile(s)
    if type(s) ~= "table" or (type(s.node) ~= "string" and type(s.pool) ~= "string") then
        return nil
    end
    return { node = s.node, pool = s.pool, port = tonumber(s.port) or 80 }
end

local function node_record(red, id)
    local res = red:hmget("cdn:node:" .. id, "ipv4", "ipv6", "pool", "active", "state", "mode")
    if type(res) ~= "table" then return nil end
    local v = function(i) return res[i] ~= ngx.null and res[i] or nil end
    return { id = id, ipv4 = v(1), ipv6 = v(2), pool = v(3),
             up = v(4) ~= "0" and v(5) ~= "down" and v(6) ~= "drain" }
end

--- Candidate parents {id, address} for the compiled shield, from the dict or Redis.
local function candidates(s)
    local key = s.node and ("shield-node:" .. s.node) or ("shield-pool:" .. s.pool)
    local raw = dict:get(key)
    if raw then return cjson.decode(raw) or {} end
    local red, err = rds.connect()
    if not red then
        ngx.log(ngx.ERR, "shield: ", err)
        return {}
    end
    local ids
    if s.node then
        ids = { s.node }
    else
        ids = red:smembers("cdn:nodes")
        if type(ids) ~= "table" then ids = {} end
    end
    local out = {}
    for _, id in ipairs(ids) do
        local n = node_record(red, id)
        if n and n.up and (s.node or n.pool == s.pool) and (n.ipv4 or n.ipv6) then
            out[#out + 1] = { id = id, address = n.ipv4 or n.ipv6 }
        end
    end
    rds.release(red)
    dict:set(key, cjson.encode(out), TTL)
    return out
end

--- The parent {id, address, port} for this request, or nil (no shield, one hop done, self).
function _M.parent(s, key)
    if not s then return nil end
    local via = ngx.var.http_x_cirrus_shield
    if via and via ~= "" then return nil end
    local best, best_w
    for _, c in ipairs(candidates(s)) do
        if c.id ~= NODE then
            local w = ngx.crc32_long(c.id .. "\0" .. key)
            if not best_w or w > best_w then best, best_w = c, w end
        end
    end
    if not best then return nil end
    return { id = best.id, address = best.address, port = s.port }
end

return _M
