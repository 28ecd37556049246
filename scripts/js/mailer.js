// Mailer (the seed's MailServer): a TCP server that takes one JSON line per
// mail, {"address": ..., "subject": ..., "body": ...}, queues it as a task
// and answers at once with {"status": "queued", "id": <task id>}. A task
// worker sends the mail over SMTP (a text and an HTML part, with the
// request attached as request.json) and, when the server has answered,
// tells the client {"status": "sent", "id": ...} or
// {"status": "failed", "id": ..., "error": ...}. Bad input gets
// {"status": "error", "error": ...}.
//   imscript run scripts/js/mailer.js        then: scripts/js/mail_client.js
// SMTP settings come from the environment: SMTP_HOST (127.0.0.1),
// SMTP_PORT (587), SMTP_TLS (starttls | tls | none), SMTP_USER, SMTP_PASS,
// SMTP_CA (a CA certificate file to trust), MAIL_FROM.
const env = imscript.env;
const port = Number(env.PORT || 9507);

const srv = imscript.server({
  host: "0.0.0.0",
  port,
  worker_num: 2,
  task_worker_num: 2,
  open_eof_split: true, // one receive event per line
  package_eof: "\n",
  package_max_length: 64 * 1024,
});

const smtp = {
  host: env.SMTP_HOST || "127.0.0.1",
  port: Number(env.SMTP_PORT || 587),
  tls: env.SMTP_TLS || "starttls",
  username: env.SMTP_USER,
  password: env.SMTP_PASS,
  ca_file: env.SMTP_CA,
  from: env.MAIL_FROM || "imscript mailer <mailer@localhost>",
};

const reply = (fd, obj) => srv.send(fd, JSON.stringify(obj) + "\n");

const escapeHTML = (s) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

srv.on("start", (srv) => {
  console.log("mailer listening on port " + srv.port + ", sending through " + smtp.host + ":" + smtp.port);
});

srv.on("receive", (srv, fd, line) => {
  let req;
  try {
    req = JSON.parse(line.toString());
  } catch (e) {}
  if (!req || typeof req.address !== "string" || req.address === "") {
    return reply(fd, { status: "error", error: "want a JSON line {address, subject, body}" });
  }
  const job = { fd, address: req.address, subject: String(req.subject ?? ""), body: String(req.body ?? "") };
  const id = srv.task(job);
  if (id === false) return reply(fd, { status: "error", error: "not queued: task queue full" });
  reply(fd, { status: "queued", id });
});

// On a task worker: hand the mail to SMTP; the answer goes straight to the
// client's connection when the server has replied.
srv.on("task", (srv, id, fromWorker, job) => {
  imscript.mail
    .send({
      host: smtp.host,
      port: smtp.port,
      tls: smtp.tls,
      username: smtp.username,
      password: smtp.password,
      ca_file: smtp.ca_file,
      from: smtp.from,
      to: job.address,
      subject: job.subject,
      text: job.body,
      html: "<p>" + escapeHTML(job.body).replace(/\n/g, "<br>") + "</p>",
      attachments: [
        {
          name: "request.json",
          type: "application/json",
          content: JSON.stringify({ address: job.address, subject: job.subject, body: job.body }),
        },
      ],
    })
    .then(() => {
      imscript.log.info("mail sent", { id, to: job.address });
      reply(job.fd, { status: "sent", id });
    })
    .catch((err) => {
      imscript.log.warn("mail failed", { id, to: job.address, err: err.message });
      reply(job.fd, { status: "failed", id, error: err.message });
    });
  return "handed to SMTP";
});
