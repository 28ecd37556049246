package redis_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imscript/imscript/internal/testserver"
	"github.com/imscript/imscript/script/scripttest"
)

// Worker 1 subscribes; each message prints the worker that ran it. "stop"
// closes the subscription from its own handler.
var subV1 = map[string]string{"lua": `
if imscript.worker_id == 1 then
  local sub
  sub = r:subscribe("news", function(ch, msg)
    print("w" .. imscript.worker_id .. " " .. ch .. " " .. msg)
    if msg == "stop" then
      print("close " .. tostring(sub:close()))
      print("again " .. tostring(sub:close()))
    end
  end)
  local p = r:psubscribe("ev.*", function(ch, msg, pat) print("p w" .. imscript.worker_id .. " " .. ch .. " " .. msg .. " " .. pat) end)
  sub:ready(function(ok, err) print("ready " .. tostring(ok)) end)
  p:ready(function(ok, err) print("pready " .. tostring(ok) .. " " .. show(p.channels)) end)
end
`, "js": `
if (imscript.worker_id === 1) {
  const sub = r.subscribe("news", (ch, msg) => {
    console.log("w" + imscript.worker_id + " " + ch + " " + msg);
    if (msg === "stop") {
      console.log("close " + sub.close());
      console.log("again " + sub.close());
    }
  });
  const p = r.psubscribe("ev.*", (ch, msg, pat) => console.log("p w" + imscript.worker_id + " " + ch + " " + msg + " " + pat));
  sub.ready().then((ok) => console.log("ready " + ok));
  p.ready().then((ok) => console.log("pready " + ok + " " + show(p.channels)));
}
`}

var subV2 = map[string]string{"lua": `
if imscript.worker_id == 1 then
  local sub = r:subscribe("news", function(ch, msg) print("v2 w" .. imscript.worker_id .. " " .. ch .. " " .. msg) end)
  sub:ready(function(ok) print("v2 ready " .. tostring(ok)) end)
end
`, "js": `
if (imscript.worker_id === 1) {
  const sub = r.subscribe("news", (ch, msg) => console.log("v2 w" + imscript.worker_id + " " + ch + " " + msg));
  sub.ready().then((ok) => console.log("v2 ready " + ok));
}
`}

// TestSubscribe: messages run on the subscribing worker, in order; close
// stops them (from inside a handler, too); psubscribe passes the pattern;
// a reload ends the old version's subscriptions and the new version
// subscribes again.
func TestSubscribe(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := run(t, srv, lang, "", subV1, scripttest.Options{Workers: 2})
			h.WaitStdout("ready true\n")
			h.WaitStdout(`pready true ["ev.*"]` + "\n")
			var want strings.Builder
			for i := 1; i <= 50; i++ {
				srv.MustDo("PUBLISH", "news", fmt.Sprint("m", i))
				fmt.Fprintf(&want, "w1 news m%d\n", i)
			}
			srv.MustDo("PUBLISH", "news", "stop")
			srv.MustDo("PUBLISH", "news", "after")
			want.WriteString("w1 news stop\nclose true\nagain false\n")
			h.WaitStdout("again false\n")
			eventually(t, "the closed subscription to leave the server", func() bool {
				return srv.MustDo("PUBSUB", "NUMSUB", "news") == "news\n0"
			})
			if got := srv.MustDo("PUBLISH", "news", "late"); got != "0" {
				t.Errorf("PUBLISH after close reached %s subscribers", got)
			}
			srv.MustDo("PUBLISH", "ev.x", "hi")
			want.WriteString("p w1 ev.x hi ev.*\n")
			h.WaitStdout("p w1 ev.x hi")
			var got []string
			for _, l := range strings.SplitAfter(h.Stdout(), "\n") {
				if !strings.Contains(l, "ready ") {
					got = append(got, l)
				}
			}
			if g := strings.Join(got, ""); g != want.String() {
				t.Fatalf("the script printed:\n%s\nwant:\n%s", g, want.String())
			}

			h.Reload(src(lang, "", subV2))
			h.WaitStdout("v2 ready true\n")
			eventually(t, "the old version's psubscribe to end", func() bool { return srv.MustDo("PUBSUB", "NUMPAT") == "0" })
			if got := srv.MustDo("PUBSUB", "NUMSUB", "news"); got != "news\n1" {
				t.Errorf("after the reload NUMSUB news = %q, want the new version's one", got)
			}
			if got := srv.MustDo("PUBLISH", "ev.y", "gone"); got != "0" {
				t.Errorf("PUBLISH ev.y after the reload reached %s subscribers", got)
			}
			srv.MustDo("PUBLISH", "news", "fresh")
			h.WaitStdout("v2 w1 news fresh\n")
			if out := h.Stdout(); strings.Contains(out, "after") || strings.Contains(out, "late") || strings.Contains(out, "gone") {
				t.Errorf("a message after close or reload ran:\n%s", out)
			}
		})
	}
}

var closeBody = map[string]string{"lua": `
local sub = r:subscribe("c", function() print("message?!") end)
main(function()
  print("ready " .. tostring(await(sub.ready, sub)))
  print("close " .. tostring(r:close()))
  print("close again " .. tostring(r:close()))
  line("after", call("GET", "k"))
  line("pipe after", pipeline({ {"PING"} }))
  print("subscribe after " .. tostring(r:subscribe("d", function() end)))
  local _, err, code = await(sub.ready, sub)
  print("ready after " .. err .. " [" .. code .. "]")
  print("sub close " .. tostring(sub:close()))
  local r2 = imscript.redis.open(imscript.env.URL)
  line("other", await(r2.call, r2, "PING"))
  print("done")
end)
`, "js": `
const sub = r.subscribe("c", () => console.log("message?!"));
main(async () => {
  console.log("ready " + (await sub.ready()));
  console.log("close " + r.close());
  console.log("close again " + r.close());
  await line("after", call("GET", "k"));
  await line("pipe after", pipeline([["PING"]]));
  console.log("subscribe after " + r.subscribe("d", () => {}));
  try { await sub.ready(); } catch (e) { console.log("ready after " + e.message + " [" + e.code + "]"); }
  console.log("sub close " + sub.close());
  const r2 = imscript.redis.open(imscript.env.URL);
  await line("other", r2.call("PING"));
  console.log("done");
});
`}

// TestClose: r:close() ends the handle's subscriptions and its later calls
// fail with CLOSED; another handle on the same URL still works.
func TestClose(t *testing.T) {
	srv := testserver.Redis(t)
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := run(t, srv, lang, "", closeBody, scripttest.Options{})
			h.Expect("done", `ready true
close true
close again false
after ! redis.call GET: the handle is closed [CLOSED]
pipe after ! redis.pipeline: the handle is closed [CLOSED]
subscribe after false
ready after redis.subscribe: the subscription was closed [CLOSED]
sub close false
other "PONG"
done
`)
			eventually(t, "the subscription to leave the server", func() bool { return srv.MustDo("PUBSUB", "NUMSUB", "c") == "c\n0" })
		})
	}
}
