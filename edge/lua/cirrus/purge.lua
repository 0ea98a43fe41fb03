-- Purge of cached objects, as `cdn:purge` messages ask: a URL deletes the one file its cache
-- key hashes to; a prefix or a whole domain scans the cache files' KEY lines. nginx treats
-- a deleted file as a miss. Deleting twice is harmless, so a purge applied by two
-- subscribers (old and new workers during a reload) is still one purge.
local lfs      = require "lfs"
local config   = require "cirrus.config"
local cachekey = require "cirrus.cachekey"
local metrics  = require "cirrus.metrics"

local _M = {}

local CACHE_DIR = ngx.config.prefix() .. "cache"      -- proxy_cache_path, levels=1:2

local function file_of(key)
    local h = ngx.md5(key)
    return CACHE_DIR .. "/" .. h:sub(-1) .. "/" .. h:sub(-3, -2) .. "/" .. h
end

local function purge_url(domain, uri)
    local cfg = config.get(domain)
    local policy = cfg and cfg.cache or config.compile_cache({})
    local path, query = uri:match("^([^?]*)%??(.*)$")
    -- Request keys use $uri, which is percent-decoded; the API sends URLs as written.
    local key = cachekey.key(policy, domain, ngx.unescape_uri(path),
        ngx.decode_args(query or "", 0))
    local ok = os.remove(file_of(key))
    return ok and 1 or 0
end

local function each_file(fn)
    for l1 in lfs.dir(CACHE_DIR) do
        local d1 = CACHE_DIR .. "/" .. l1
        if l1 ~= "." and l1 ~= ".." and lfs.attributes(d1, "mode") == "directory" then
            for l2 in lfs.dir(d1) do
                local d2 = d1 .. "/" .. l2
                if l2 ~= "." and l2 ~= ".." and lfs.attributes(d2, "mode") == "directory" then
                    for f in lfs.dir(d2) do
                        if f ~= "." and f ~= ".." then fn(d2 .. "/" .. f) end
                    end
                end
            end
        end
    end
end

--- Deletes every cached file whose key starts with one of `prefixes`.
local function purge_prefixes(prefixes)
    local deleted = 0
    if not lfs.attributes(CACHE_DIR, "mode") then return 0 end
    each_file(function(path)
        local fh = io.open(path, "rb")
        if not fh then return end
        local head = fh:read(4096) or ""
        fh:close()
        local key = head:match("\nKEY: ([^\n]*)\n")
        if not key then return end
        for _, p in ipairs(prefixes) do
            if key:sub(1, #p) == p then
                if os.remove(path) then deleted = deleted + 1 end
                return
            end
        end
    end)
    return deleted
end

--- Applies one purge message: {id, urls = [{domain, path}], prefixes = [...], domains = [...]}.
function _M.apply(msg)
    local deleted = 0
    for _, u in ipairs(msg.urls or {}) do
        deleted = deleted + purge_url(u.domain, u.path)
        metrics.incr("cirrus_edge_purges_total", { { "kind", "url" } })
    end
    local prefixes = {}
    for _, p in ipairs(msg.prefixes or {}) do
        prefixes[#prefixes + 1] = p.domain .. ngx.unescape_uri(p.path)
        metrics.incr("cirrus_edge_purges_total", { { "kind", "prefix" } })
    end
    for _, d in ipairs(msg.domains or {}) do
        prefixes[#prefixes + 1] = d .. "/"
        metrics.incr("cirrus_edge_purges_total", { { "kind", "domain" } })
    end
    if #prefixes > 0 then deleted = deleted + purge_prefixes(prefixes) end
    metrics.incr("cirrus_edge_purged_files_total", nil, deleted)
    return deleted
end

return _M
