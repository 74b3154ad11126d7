-- wrk script for the server benchmark's scenario (b): every request asks the
-- pool thread to sleep a random 1000-5000 µs (a disk or database call).
-- Each wrk thread has its own Lua state; seeding from the thread's address
-- would differ between runs, so every thread draws the same sequence.
math.randomseed(12345)
request = function()
  return wrk.format("GET", "/hash?bytes=64&sleep_us=" .. math.random(1000, 5000))
end
