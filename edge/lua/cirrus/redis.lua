-- Redis connections for the edge: parses REDIS_URL once, authenticates with the node's own
-- ACL user (cirrus edge enroll), and pools connections. The edge only reads and subscribes.
-- With REDIS_SENTINELS (host:port,...) and REDIS_SENTINEL_NAME, the address comes from the
-- sentinels (SENTINEL get-master-addr-by-name) and is asked again after a connection to it
-- fails, so an edge follows a failover; REDIS_URL then gives the credentials, db and the
-- address used while no sentinel answers. A rediss:// URL means TLS, verified against
-- lua_ssl_trusted_certificate (setup-prefix.sh: EDGE_REDIS_CA) for REDIS_TLS_SERVERNAME,
-- else the host.
local redis = require "resty.redis"

local _M = {}

local function parse_url(url)
    local user, pass, host, port, db
    local tls = url:match("^rediss://") ~= nil
    local rest = url:match("^rediss?://(.*)$") or url
    local creds, hostpart = rest:match("^(.*)@([^@]*)$")
    if not creds then hostpart = rest end
    if creds then
        user, pass = creds:match("^([^:]*):(.*)$")
        if not user then pass = creds end
        if user == "" then user = nil end
        user = user and ngx.unescape_uri(user)
        pass = pass and ngx.unescape_uri(pass)
    end
    host, port, db = hostpart:match("^([^:/]+):?(%d*)/?(%d*)$")
    return {
        host = host or "127.0.0.1",
        port = tonumber(port) or 6379,
        db = tonumber(db),
        user = user,
        password = pass,
        tls = tls,
    }
end
_M.parse_url = parse_url

local target = parse_url(os.getenv("REDIS_URL") or "redis://127.0.0.1:6379")
local tls_name = os.getenv("REDIS_TLS_SERVERNAME")

local sentinels = {}
for addr in (os.getenv("REDIS_SENTINELS") or ""):gmatch("[^,%s]+") do
    local h, p = addr:match("^%[?([^%]]*)%]?:(%d+)$")
    if h then sentinels[#sentinels + 1] = { host = h, port = tonumber(p) } end
end
local sentinel_name = os.getenv("REDIS_SENTINEL_NAME") or "mymaster"
-- The master as the sentinels last named it (per worker); nil = ask them on the next connect.
local master

local function ask_sentinels(timeout_ms)
    for _, s in ipairs(sentinels) do
        local red = redis:new()
        red:set_timeout(timeout_ms)
        if red:connect(s.host, s.port) then
            local res = red:sentinel("get-master-addr-by-name", sentinel_name)
            red:close()
            if type(res) == "table" and res[1] and res[2] then
                return { host = res[1], port = tonumber(res[2]) }
            end
        end
    end
    return nil
end
_M.sentinels = sentinels
function _M.master() return master end

--- A connected, authenticated client; release it with _M.release (or close it on errors).
function _M.connect(timeout_ms)
    local red = redis:new()
    -- lua-resty-redis 0.27 (Debian) has set_timeout only; set_timeouts arrived in 0.28.
    red:set_timeout(timeout_ms or 1000)
    local host, port = target.host, target.port
    if #sentinels > 0 then
        master = master or ask_sentinels(timeout_ms or 1000)
        if master then host, port = master.host, master.port end
    end
    local ok, err = red:connect(host, port)
    if not ok then
        master = nil
        return nil, "connect " .. host .. ":" .. port .. ": " .. tostring(err)
    end
    if red:get_reused_times() == 0 then
        if target.tls then
            -- lua-resty-redis 0.27 has no TLS option: hand-shake on its cosocket.
            local sock = rawget(red, "_sock")
            local sok, terr = sock:sslhandshake(nil, tls_name or host, true)
            if not sok then red:close(); return nil, "tls " .. host .. ":" .. port .. ": " .. tostring(terr) end
        end
        if target.password then
            local res, aerr
            if target.user then
                res, aerr = red:auth(target.user, target.password)
            else
                res, aerr = red:auth(target.password)
            end
            if not res then red:close(); return nil, "auth: " .. tostring(aerr) end
        end
        if target.db and target.db ~= 0 then
            local res, serr = red:select(target.db)
            if not res then red:close(); return nil, "select: " .. tostring(serr) end
        end
    end
    return red
end

function _M.release(red)
    red:set_keepalive(30000, 32)
end

return _M
