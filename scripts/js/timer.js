// Timers (Swoole's timer chapter): a tick every TICK_MS (default 1000) ms,
// a one-off after 3 ticks' time, and the tick cleared after 5 runs.
// A TCP server on PORT answers "ticks" with the count so far.
//   imscript run scripts/js/timer.js
const port = Number(imscript.env.PORT || 9503);
const every = Number(imscript.env.TICK_MS || 1000);

const srv = imscript.server({ host: "0.0.0.0", port, worker_num: 2 });
let ticks = 0;

srv.on("workerStart", (srv, workerId) => {
  if (workerId !== 0) return; // timers belong to a worker: run them once
  imscript.tick(every, (timerId) => {
    ticks++;
    console.log("tick-" + every + "ms #" + ticks);
    if (ticks === 5) {
      console.log("clear tick: " + imscript.clear(timerId));
    }
  });
  setTimeout(() => {
    console.log("after " + every * 3 + "ms.");
  }, every * 3);
});

srv.on("receive", (srv, fd, data) => {
  // Each worker has its own counter; only worker 0 ticks.
  srv.send(fd, "worker " + imscript.worker_id + " ticks " + ticks + "\n");
});
