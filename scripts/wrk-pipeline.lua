-- wrk script: each request() sends 16 pipelined GETs of the same path (wrk counts every
-- response). Usage: wrk -s scripts/wrk-pipeline.lua URL  (path taken from the URL)
local depth = 16

init = function(args)
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, nil)
  end
  batch = table.concat(r)
end

request = function()
  return batch
end
