// Timers (Swoole's timer chapter): a tick every TICK_MS (default 1000) ms,
// a one-off after 3 ticks' time, and the tick cleared after 5 runs.
// A TCP server on PORT answers any line with the tick count so far.
//   imscript run scripts/js/timer.js
// Each worker runs its own copy of this script, as in Swoole: a plain
// variable is per worker. The count lives in imscript.atomic, which every
// worker shares, so each connection sees the same number.
const port = Number(imscript.env.PORT || 9503);
const every = Number(imscript.env.TICK_MS || 1000);

const srv = imscript.server({ host: "0.0.0.0", port, worker_num: 2 });
const ticks = imscript.atomic("timer.ticks");

srv.on("workerStart", (srv, workerId) => {
  if (workerId !== 0) return; // timers belong to a worker: run them once
  imscript.tick(every, (timerId) => {
    const n = ticks.add(1);
    console.log("tick-" + every + "ms #" + n);
    if (n === 5) {
      console.log("clear tick: " + imscript.clear(timerId));
    }
  });
  setTimeout(() => {
    console.log("after " + every * 3 + "ms.");
  }, every * 3);
});

srv.on("receive", (srv, fd, data) => {
  srv.send(fd, "ticks " + ticks.get() + " (worker " + imscript.worker_id + ")\n");
});
