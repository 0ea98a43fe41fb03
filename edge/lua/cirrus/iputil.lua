-- IPv4/IPv6 addresses and CIDR prefixes as byte arrays, for client-prefix checks (signed URLs)
-- and allow-lists (limits.trustedSources). Parsing is strict: anything malformed is nil.
local _M = {}

local function v4(s)
    local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if not a then return nil end
    local t = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
    for _, x in ipairs(t) do
        if x > 255 then return nil end
    end
    return t
end

local function groups(part)
    local out = {}
    if part == "" then return out end
    for g in (part .. ":"):gmatch("([^:]*):") do out[#out + 1] = g end
    return out
end

local function v6(s)
    if not s:find(":", 1, true) then return nil end
    local head, tail = s:match("^(.-)::(.*)$")
    local hg, tg
    if head then hg, tg = groups(head), groups(tail) else hg, tg = groups(s), {} end
    local n = #hg + #tg
    if (head and n > 7) or (not head and n ~= 8) then return nil end
    local all = {}
    for _, g in ipairs(hg) do all[#all + 1] = g end
    if head then
        for _ = 1, 8 - n do all[#all + 1] = "0" end
    end
    for _, g in ipairs(tg) do all[#all + 1] = g end
    local bytes = {}
    for _, g in ipairs(all) do
        if not g:match("^%x%x?%x?%x?$") then return nil end
        local v = tonumber(g, 16)
        bytes[#bytes + 1] = math.floor(v / 256)
        bytes[#bytes + 1] = v % 256
    end
    return bytes
end

--- The address as 4 or 16 bytes, or nil.
function _M.parse(s)
    if type(s) ~= "string" then return nil end
    return v4(s) or v6(s)
end

--- {bytes, bits} for "addr/bits" (or a bare address: all bits), or nil.
function _M.parse_cidr(c)
    if type(c) ~= "string" then return nil end
    local addr, bits = c:match("^([^/]+)/?(%d*)$")
    local b = addr and _M.parse(addr)
    if not b then return nil end
    bits = tonumber(bits) or #b * 8
    if bits > #b * 8 then return nil end
    return { bytes = b, bits = bits }
end

--- True when the parsed address lies inside the parsed prefix (same family only).
function _M.contains(cidr, addr)
    if not cidr or not addr or #addr ~= #cidr.bytes then return false end
    local bits = cidr.bits
    for i = 1, #addr do
        if bits <= 0 then return true end
        if bits >= 8 then
            if addr[i] ~= cidr.bytes[i] then return false end
        else
            local m = 2 ^ (8 - bits)
            if math.floor(addr[i] / m) ~= math.floor(cidr.bytes[i] / m) then return false end
        end
        bits = bits - 8
    end
    return true
end

return _M
