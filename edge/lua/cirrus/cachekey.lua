-- What is cached and under which key: the domain's rules decide cacheability and TTL by path;
-- the key keeps only the query parameters that select content. Shared by requests and purge,
-- so a purged URL maps to exactly the key its requests used.
local _M = {}

--- TTL in seconds for `path` (0: not cached), from the compiled policy (cirrus.config).
function _M.ttl(policy, path)
    if not policy.enabled then return 0 end
    for _, r in ipairs(policy.rules) do
        if path:find(r.pattern) then return r.ttl end
    end
    for _, p in ipairs(policy.paths) do
        if path:find(p) then return policy.ttl end
    end
    local ext = path:match("%.([%w]+)$")
    if ext and policy.exts[ext:lower()] then return policy.ttl end
    return 0
end

local function kept(policy, name)
    if policy.ignore and policy.ignore[name] then return false end
    if policy.keep then return policy.keep[name] == true end
    for _, d in ipairs(policy.drop) do
        if name:find(d) then return false end
    end
    return true
end

--- The cache key: domain, path, then the kept query parameters sorted by name and value.
function _M.key(policy, domain, path, args)
    local parts = {}
    for name, val in pairs(args or {}) do
        if kept(policy, name) then
            local vals = type(val) == "table" and val or { val }
            for _, v in ipairs(vals) do
                if v == true then
                    parts[#parts + 1] = ngx.escape_uri(name)
                else
                    parts[#parts + 1] = ngx.escape_uri(name) .. "=" .. ngx.escape_uri(v)
                end
            end
        end
    end
    table.sort(parts)
    local q = #parts > 0 and ("?" .. table.concat(parts, "&")) or ""
    return domain .. path .. q
end

return _M
