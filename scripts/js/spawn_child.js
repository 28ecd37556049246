// The spawned half of process.js: a script in its own VM on its own
// goroutine (imscript.process.spawn("spawn_child.js", arg)). It counts the
// words and bytes of each text its parent sends and sends the counts back.
// It runs until its parent kills it (a reload or stop) or it calls
// imscript.process.exit().
const parent = imscript.process.parent;
const arg = imscript.process.arg;
let count = 0;

imscript.log.info("spawn_child started", { for_worker: arg.worker });

parent.on("message", (msg) => {
  if (msg.stop) {
    imscript.process.exit(0);
    return;
  }
  count++;
  const words = msg.text.split(/\s+/).filter((w) => w !== "").length;
  parent.send({ fd: msg.fd, words, bytes: Buffer.byteLength(msg.text), n: count });
});
