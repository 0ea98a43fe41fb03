-- Prewarm: a `cdn:prewarm` message lists URLs; this node fetches each through its own front
-- hop (so through its cache, its shield and its cache lock) with bounded concurrency. The
-- requests carry X-Cirrus-Internal, a per-start random token, which lets them past signed-URL
-- checks and client limits; the bodies are read and dropped. Fetching a cached URL again is
-- a HIT, so applying a message twice costs little; the message id makes it once per node.
local metrics = require "cirrus.metrics"
local has_site, site = pcall(require, "cirrus.site")   -- written by setup-prefix.sh

local _M = {}

local MAX_CONCURRENCY = 32
local BODY_TIMEOUT_MS = 30000

local host_port = has_site and site.self_http or "127.0.0.1:80"
local SELF_HOST, SELF_PORT = host_port:match("^%[?([^%]]-)%]?:(%d+)$")
SELF_PORT = tonumber(SELF_PORT)

--- Read once in init_by_lua (the master), so every worker of one start shares it.
local function random_token()
    local fh = io.open("/dev/urandom", "rb")
    local raw = fh and fh:read(16) or tostring(os.time()) .. tostring(math.random())
    if fh then fh:close() end
    return (raw:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
_M.token = random_token()

function _M.is_internal()
    local t = ngx.var.http_x_cirrus_internal
    return t ~= nil and t == _M.token
end

local function fetch(domain, path, id)
    local sock = ngx.socket.tcp()
    sock:settimeout(BODY_TIMEOUT_MS)
    local ok, err = sock:connect(SELF_HOST, SELF_PORT)
    if not ok then return nil, "connect: " .. tostring(err) end
    local req = "GET " .. path .. " HTTP/1.0\r\nHost: " .. domain ..
        "\r\nUser-Agent: cirrus-prewarm\r\nX-Cirrus-Internal: " .. _M.token ..
        "\r\nX-Cirrus-Prewarm: " .. id .. "\r\n\r\n"
    local _, serr = sock:send(req)
    if serr then sock:close(); return nil, "send: " .. serr end
    local line, rerr = sock:receive("*l")
    if not line then sock:close(); return nil, "status: " .. tostring(rerr) end
    local status = tonumber(line:match("^HTTP/%d%.%d (%d+)") or "")
    while true do                          -- HTTP/1.0: the body ends when the peer closes
        local chunk, cerr = sock:receiveany(65536)
        if not chunk then
            if cerr ~= "closed" then sock:close(); return nil, "body: " .. tostring(cerr) end
            break
        end
    end
    sock:close()
    return status
end

local function run(premature, msg)
    if premature then return end
    local urls = msg.urls or {}
    local n = math.max(1, math.min(tonumber(msg.concurrency) or 4, MAX_CONCURRENCY))
    local next_i = 0
    local function worker()
        while true do
            next_i = next_i + 1
            local u = urls[next_i]
            if not u then return end
            local status, err = fetch(u.domain, u.path, msg.id or "-")
            local result = (status and status < 400) and "ok" or "error"
            if not status then
                ngx.log(ngx.WARN, "prewarm ", u.domain, u.path, ": ", err)
            end
            metrics.incr("cirrus_edge_prewarm_urls_total", { { "result", result } })
            metrics.incr("cirrus_edge_prewarm_pending", nil, -1)
        end
    end
    local threads = {}
    for i = 1, math.min(n, #urls) do threads[i] = ngx.thread.spawn(worker) end
    for _, t in ipairs(threads) do ngx.thread.wait(t) end
    metrics.incr("cirrus_edge_prewarm_jobs_total", { { "state", "done" } })
end

--- Starts fetching the URLs of one message in the background.
function _M.apply(msg)
    local urls = msg.urls or {}
    metrics.incr("cirrus_edge_prewarm_jobs_total", { { "state", "started" } })
    metrics.incr("cirrus_edge_prewarm_pending", nil, #urls)
    local ok, err = ngx.timer.at(0, run, msg)
    if not ok then
        ngx.log(ngx.ERR, "prewarm timer: ", err)
        metrics.incr("cirrus_edge_prewarm_pending", nil, -#urls)
    end
    return #urls
end

return _M
