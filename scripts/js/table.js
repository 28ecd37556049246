// Shared tables and atomics (Swoole's Table and Atomic): a TCP server whose
// workers and task workers keep per-client stats and named counters in
// imscript.table rows and an imscript.atomic, shared by all of them and
// kept across reloads.
//   imscript run scripts/js/table.js      then: telnet 127.0.0.1 9510
// One command per line:
//   name <who>          name this connection               -> "hello <who>"
//   hit <counter> [n]   add 1 to a shared counter, n times -> "<counter> <value>"
//   thit <counter> [n]  the same, done by a task worker     -> "<counter> <value>"
//   get <counter>       read a counter                     -> "<counter> <value>"
//   who                 the connected clients              -> "fd=<fd> name=<who> msgs=<n> ..."
//   stats               totals                             -> "clients=<n> messages=<n> counters=<n> reloads=<n>"
const port = Number(imscript.env.PORT || 9510);

const srv = imscript.server({
  host: "0.0.0.0",
  port,
  worker_num: 2,
  task_worker_num: 2,
  open_eof_split: true, // one receive event per line
  package_eof: "\n",
});

// Declaring a table (or an atomic) that exists returns it: every worker,
// and the next version after a reload, gets the same one.
const clients = imscript.table("clients", {
  size: 1024,
  columns: { name: ["string", 32], msgs: "int", bytes: "int" },
});
const counters = imscript.table("counters", { size: 256, max_size: 4096, columns: { value: "int" } });
const messages = imscript.atomic("messages");

srv.on("start", (srv) => {
  console.log("table server listening on port " + srv.port);
});

srv.on("connect", (srv, fd) => {
  clients.set(fd, { name: "fd" + fd });
});

srv.on("close", (srv, fd) => {
  clients.del(fd);
});

// hit adds 1 to counter n times and returns the reply line.
function hit(counter, n) {
  let value;
  for (let i = 0; i < n; i++) {
    value = counters.incr(counter, "value");
    if (value === false) return "error: the counters table is full";
  }
  return counter + " " + value;
}

function hitArgs(counter, n) {
  n = Number(n === undefined ? "1" : n);
  if (counter === undefined || !(n >= 1 && n <= 1000000)) return null;
  return [counter, n];
}

const commands = {
  name(fd, who) {
    if (who === undefined || Buffer.byteLength(who) > 32) return "usage: name <who> (at most 32 bytes)";
    clients.set(fd, { name: who });
    return "hello " + who;
  },
  hit(fd, counter, n) {
    const args = hitArgs(counter, n);
    if (args === null) return "usage: hit <counter> [n]";
    return hit(...args);
  },
  thit(fd, counter, n) {
    const args = hitArgs(counter, n);
    if (args === null) return "usage: thit <counter> [n]";
    const id = srv.task({ counter: args[0], n: args[1] }, (srv, taskId, reply) => {
      srv.send(fd, reply + "\n");
    });
    if (id === false) return "error: the task queue is full";
    return null; // the task's callback answers
  },
  get(fd, counter) {
    if (counter === undefined) return "usage: get <counter>";
    return counter + " " + (counters.get(counter, "value") ?? 0);
  },
  who(fd) {
    const rows = [];
    for (const [key, row] of clients) rows.push({ fd: Number(key), row });
    rows.sort((a, b) => a.fd - b.fd);
    return rows.map((r) => `fd=${r.fd} name=${r.row.name} msgs=${r.row.msgs}`).join(" ");
  },
  stats(fd) {
    return `clients=${clients.count()} messages=${messages.get()} counters=${counters.count()} reloads=${srv.stats().reload_count}`;
  },
};

// A task worker runs the increments of a thit; its return value reaches
// the callback above, on the worker that asked.
srv.on("task", (srv, taskId, fromWorker, job) => hit(job.counter, job.n));

srv.on("receive", (srv, fd, data) => {
  let end = data.length;
  if (end > 0 && data[end - 1] === 10) end--; // "\n"
  if (end > 0 && data[end - 1] === 13) end--; // "\r"
  const line = data.subarray(0, end).toString();
  messages.add(1);
  clients.incr(fd, "msgs");
  clients.incr(fd, "bytes", end);
  const words = line.split(/\s+/).filter((w) => w !== "");
  const cmd = Object.hasOwn(commands, words[0] ?? "") ? commands[words[0]] : undefined;
  if (cmd === undefined) {
    srv.send(fd, "unknown command; try name, hit, thit, get, who, stats\n");
    return;
  }
  const reply = cmd(fd, words[1], words[2]);
  if (reply !== null) srv.send(fd, reply + "\n");
});
