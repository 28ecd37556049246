// A chat: the page in public/ and a WebSocket that every browser tab
// joins. A client sends {"nick": "ada", "text": "hi"}; everyone in the
// room, the sender too, gets {"nick": "ada", "text": "hi"}. A client that
// connects first gets {"joined": "lobby"}.
//   imscript run server.js        then open http://127.0.0.1:8080/ in two tabs
const port = Number(imscript.env.PORT || 8080);
const ROOM = "lobby";

const srv = imscript.server({
  host: "127.0.0.1", // "0.0.0.0" to accept other machines
  port: port,
  type: "websocket",
  document_root: "public", // GET / serves public/index.html
});

srv.on("start", (srv) => {
  console.log("chat on http://127.0.0.1:" + srv.port + "/");
});

srv.on("open", (srv, req) => {
  srv.join(req.fd, ROOM);
  // Said once the connection is in the room: from now on it gets every
  // message published there.
  srv.push(req.fd, JSON.stringify({ joined: ROOM }));
});

srv.on("message", (srv, frame) => {
  let msg;
  try {
    msg = JSON.parse(frame.data.toString());
  } catch {
    msg = null;
  }
  if (!msg || typeof msg.text !== "string" || msg.text === "") {
    srv.push(frame.fd, JSON.stringify({ error: 'send {"nick": "...", "text": "..."}' }));
    return;
  }
  let nick = msg.nick;
  if (typeof nick !== "string" || nick === "") {
    nick = "guest" + frame.fd;
  }
  srv.publish(ROOM, JSON.stringify({ nick: nick.slice(0, 32), text: msg.text.slice(0, 2000) }));
});
