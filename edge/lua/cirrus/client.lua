-- Who the client is, for limits and signed-URL client prefixes: the connection's address,
-- or the first address of the domain's `limits.clientHeader` when the connection comes from
-- one of `limits.trustedSources` (an upstream CDN). A header from anyone else is ignored.
local iputil = require "cirrus.iputil"

local _M = {}

--- The client address (text) the domain's rules apply to.
function _M.address(cfg)
    local remote = ngx.var.remote_addr or ""
    local l = cfg.limits
    if l and l.client_header and l.trusted then
        local from = iputil.parse(remote)
        for _, c in ipairs(l.trusted) do
            if iputil.contains(c, from) then
                local v = ngx.req.get_headers(50)[l.client_header]
                if type(v) == "table" then v = v[1] end
                local first = type(v) == "string" and v:match("^%s*([^,%s]+)")
                if first and iputil.parse(first) then return first end
                break
            end
        end
    end
    return remote
end

return _M
