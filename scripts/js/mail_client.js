// Mail client (the seed's MailClient): connects to the mailer server over
// TCP, sends one JSON line {address, subject, body} and prints the
// server's replies (queued, then sent or failed); then it stops.
//   imscript run scripts/js/mail_client.js -- alice@example.com "Hello" "How are you?"
// MAILER_HOST / MAILER_PORT say where the mailer runs (127.0.0.1:9507).

// A script loads on every worker; one client is enough.
if (imscript.worker_id === 0) main();

function main() {
  const args = imscript.args;
  const env = imscript.env;
  const request = {
    address: args[0] || env.MAIL_TO || "someone@example.com",
    subject: args[1] || env.MAIL_SUBJECT || "Hello from imscript",
    body: args[2] || env.MAIL_BODY || "This mail was queued by the imscript mailer.",
  };

  const cli = imscript.client({
    type: "tcp",
    host: env.MAILER_HOST || "127.0.0.1",
    port: Number(env.MAILER_PORT || 9507),
    timeout: 5,
    open_eof_split: true, // one receive event per reply line
    package_eof: "\n",
  });

  cli.on("connect", (cli) => {
    console.log("connected, sending mail to " + request.address);
    cli.send(JSON.stringify(request) + "\n");
  });

  // The mailer answers "queued" at once and "sent" / "failed" when the SMTP
  // server has answered (from a task worker, so on a busy machine the two
  // may cross); "error" is a final answer on its own.
  let queued = false;
  let final = false;
  cli.on("receive", (cli, data) => {
    const line = data.toString().slice(0, -1);
    console.log("server: " + line);
    let reply = { status: "error" };
    try {
      reply = JSON.parse(line);
    } catch (e) {}
    if (reply.status === "queued") queued = true;
    else final = true;
    if (final && (queued || reply.status === "error")) cli.close();
  });

  cli.on("error", (cli, err) => {
    console.log("error: " + err);
    imscript.shutdown();
  });

  cli.on("close", () => {
    console.log("connection closed");
    imscript.shutdown();
  });

  cli.connect();
}
