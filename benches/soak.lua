-- wrk script for benches/soak.sh: an endless cold + hot mix over the photos whose hashes are
-- listed in the file given after `--` (one per line; the second argument is wrk's thread
-- count). One request in four is a new thumbnail size (300..499 x 200..399 of a photo: 200,000
-- distinct URLs per 5 photos before any repeats), the others are eight hot URLs per photo.
-- setup() (thread numbers) and done() (the RESULT line) are load.lua's; init() and request()
-- below replace its own.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "load.lua")

local hashes = {}
local sent = 0
local cold_index = 0
local threads = 1

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then hashes[#hashes + 1] = line end
  end
  threads = tonumber(args[2]) or 1
  -- Threads take interleaved cold sizes, so no two ask for the same new URL.
  cold_index = (thread_number or 1) - 1
end

function request()
  sent = sent + 1
  local path
  if sent % 4 == 0 then
    local photo = cold_index % #hashes
    local rest = math.floor(cold_index / #hashes)
    cold_index = cold_index + threads
    path = string.format("/thumb/%d/%d/%s.jpg", 300 + rest % 200, 200 + math.floor(rest / 200) % 200,
      hashes[photo + 1])
  else
    local hot = sent % (8 * #hashes)
    local photo = hot % #hashes
    local variant = math.floor(hot / #hashes)
    local sizes = { "400/300", "200/150", "800/600", "0/128" }
    path = string.format("/thumb/%s/%s.%s", sizes[variant % 4 + 1], hashes[photo + 1],
      variant < 4 and "jpg" or "webp")
  end
  return wrk.format("GET", path)
end
