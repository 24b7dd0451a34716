-- tests/errmsg_core.lua - error messages of the file helpers
-- (dsl/l_core.c, l_fs.c, lrk.c's atomic writes) provoked one by one and
-- their text asserted (issue 22 item 3).
local rk = require "radiokin"
local t = require "radiokin.tap"
local core = require "radiokin.core"

local tmp = t.scratch()
local dir = tmp .. "/sub"
rk.mkdir(dir)
t.raises(function() return rk.write_atomic(dir, "x") end,
  "cannot write '" .. dir .. "': it is a directory, not a regular file; "
  .. "refusing to replace it (write to a file name, or '-' for standard "
  .. "output)", "write_atomic onto a folder")
t.ok(not t.read_file(dir .. "/x"), "... nothing written")
t.raises(function() return core.csv_records("a;b\n", "x", ";;") end,
  "csv_records: the separator must be one character", "a two-character "
  .. "separator")
t.raises(function() return core.private_dir("") end,
  "rk.core.private_dir: expected a folder name (got an empty string)",
  "private_dir of an empty name")
t.raises(function() return core.replace("", "x") end,
  "rk.core.replace: expected two file names", "replace with an empty name")
t.raises(function() return core.replace(tmp .. "/none", tmp .. "/dst") end,
  "cannot write '" .. tmp .. "/dst': renaming '" .. tmp .. "/none' onto "
  .. "it: No such file or directory",
  "replace from a file that is not there")
-- a folder that cannot be made on the way (/proc takes no new folders)
t.raises(function() return rk.mkdir("/proc/self/rk-none/b") end,
  "cannot create folder '/proc/self/rk-none' (for '/proc/self/rk-none/b'): ",
  "a folder where none can be made")
t.done()
