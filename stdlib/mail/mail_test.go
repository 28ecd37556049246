package mail_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/script/scripttest"
	"github.com/imscript/imscript/stdlib/mail/mailtest"
)

// The scripts send one message with every part to a plain server, one over
// STARTTLS with AUTH PLAIN, and three that fail (wrong password, refused
// connection, a bad address); each outcome is printed.
const luaScript = `
local env = imscript.env
local bin = ""
for i = 0, 255 do bin = bin .. string.char(i) end
local function outcome(name)
  return function(ok, err) print(name .. " " .. tostring(ok) .. " " .. tostring(err)) end
end
imscript.mail.send({
  host = "127.0.0.1", port = tonumber(env.PLAIN), tls = "none",
  from = "Imscript Test <sender@example.com>", to = { "alice@example.com", "bob@example.com" },
  cc = "carol@example.com", bcc = { "dave@example.com" }, reply_to = "replies@example.com",
  subject = "Grüße from imscript", text = "Hello in text\nsecond line", html = "<p>Hello in <b>HTML</b></p>",
  headers = { ["X-Campaign"] = "test-1" },
  attachments = { { name = "report.bin", content = bin, type = "application/octet-stream" },
                  { name = "notes.txt", content = "just notes" } },
}, function(ok, err)
  outcome("plain")(ok, err)
  imscript.mail.send({
    host = "127.0.0.1", port = tonumber(env.TLS), tls = "starttls", ca_file = env.CA,
    username = "mailer", password = "s3cret",
    from = "sender@example.com", to = "alice@example.com", subject = "over TLS", text = "secure",
  }, function(ok, err)
    outcome("starttls")(ok, err)
    imscript.mail.send({
      host = "127.0.0.1", port = tonumber(env.TLS), ca_file = env.CA, username = "mailer", password = "wrong",
      from = "sender@example.com", to = "alice@example.com", text = "x",
    }, function(ok, err)
      print("badpass " .. tostring(ok) .. " " .. tostring(err:find("SMTP AUTH failed", 1, true) ~= nil))
      imscript.mail.send({ host = "127.0.0.1", port = 1, tls = "none", from = "a@example.com", to = "b@example.com", timeout = 5 },
        function(ok, err)
          print("refused " .. tostring(ok) .. " " .. tostring(err:find("connection refused", 1, true) ~= nil))
          imscript.mail.send({ host = "127.0.0.1", port = tonumber(env.PLAIN), tls = "none", from = "a@example.com", to = "not an address" },
            function(ok, err) print("badaddr " .. tostring(ok) .. " " .. tostring(err)); print("done") end)
        end)
    end)
  end)
end)
`

const jsScript = `
const env = imscript.env;
const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const outcome = async (p) => { try { return (await p) + " undefined"; } catch (e) { return "null " + e.message; } };
(async () => {
  console.log("plain " + await outcome(imscript.mail.send({
    host: "127.0.0.1", port: Number(env.PLAIN), tls: "none",
    from: "Imscript Test <sender@example.com>", to: ["alice@example.com", "bob@example.com"],
    cc: "carol@example.com", bcc: ["dave@example.com"], reply_to: "replies@example.com",
    subject: "Grüße from imscript", text: "Hello in text\nsecond line", html: "<p>Hello in <b>HTML</b></p>",
    headers: { "X-Campaign": "test-1" },
    attachments: [{ name: "report.bin", content: bin, type: "application/octet-stream" },
                  { name: "notes.txt", content: "just notes" }],
  })));
  console.log("starttls " + await outcome(imscript.mail.send({
    host: "127.0.0.1", port: Number(env.TLS), tls: "starttls", ca_file: env.CA,
    username: "mailer", password: "s3cret",
    from: "sender@example.com", to: "alice@example.com", subject: "over TLS", text: "secure",
  })));
  let r = await outcome(imscript.mail.send({ host: "127.0.0.1", port: Number(env.TLS), ca_file: env.CA,
    username: "mailer", password: "wrong", from: "sender@example.com", to: "alice@example.com", text: "x" }));
  console.log("badpass null " + r.includes("SMTP AUTH failed"));
  r = await outcome(imscript.mail.send({ host: "127.0.0.1", port: 1, tls: "none", from: "a@example.com", to: "b@example.com", timeout: 5 }));
  console.log("refused null " + r.includes("connection refused"));
  console.log("badaddr " + await outcome(imscript.mail.send({ host: "127.0.0.1", port: Number(env.PLAIN), tls: "none",
    from: "a@example.com", to: "not an address" })));
  console.log("done");
})();
`

func TestSend(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			ca := testutil.NewCA(t)
			plain := mailtest.Start(t, mailtest.Options{})
			secure := mailtest.Start(t, mailtest.Options{TLS: ca.Server, Users: map[string]string{"mailer": "s3cret"}})
			src := luaScript
			if lang == "js" {
				src = jsScript
			}
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: src, Env: map[string]string{
				"PLAIN": strconv.Itoa(plain.Port), "TLS": strconv.Itoa(secure.Port), "CA": ca.CAFile,
			}})
			want := `plain true nil
starttls true nil
badpass nil true
refused nil true
badaddr nil mail.send: failed to parse mail address "not an address": mail: no angle-addr
done
`
			if lang == "js" {
				want = strings.ReplaceAll(strings.ReplaceAll(want, " nil\n", " undefined\n"), " nil ", " null ")
			}
			h.Expect("done", want)

			msgs := plain.Wait(t, 1, scripttest.WaitLimit)
			if len(msgs) != 1 {
				t.Fatalf("plain server got %d messages", len(msgs))
			}
			m := msgs[0]
			if m.From != "sender@example.com" || strings.Join(m.To, ",") != "alice@example.com,bob@example.com,carol@example.com,dave@example.com" {
				t.Errorf("envelope: from %q to %q", m.From, m.To)
			}
			p, err := mailtest.Parse(m.Data)
			if err != nil {
				t.Fatalf("parse: %v\n%s", err, m.Data)
			}
			for k, want := range map[string]string{
				"From": `"Imscript Test" <sender@example.com>`, "To": "<alice@example.com>, <bob@example.com>",
				"Cc": "<carol@example.com>", "Reply-To": "<replies@example.com>", "X-Campaign": "test-1",
				"Bcc": "",
			} {
				if got := p.Header.Get(k); got != want {
					t.Errorf("header %s: %q, want %q", k, got, want)
				}
			}
			if p.Subject != "Grüße from imscript" {
				t.Errorf("subject %q", p.Subject)
			}
			if p.Header.Get("Message-Id") == "" || p.Header.Get("Date") == "" {
				t.Errorf("no Message-ID or Date: %v", p.Header)
			}
			if p.Text != "Hello in text\nsecond line" {
				t.Errorf("text part %q", p.Text)
			}
			if p.HTML != "<p>Hello in <b>HTML</b></p>" {
				t.Errorf("html part %q", p.HTML)
			}
			if len(p.Attachments) != 2 {
				t.Fatalf("%d attachments, want 2", len(p.Attachments))
			}
			all := make([]byte, 256)
			for i := range all {
				all[i] = byte(i)
			}
			if a := p.Attachments[0]; a.Name != "report.bin" || a.Type != "application/octet-stream" || !bytes.Equal(a.Content, all) {
				t.Errorf("attachment 1: %s %s %x", a.Name, a.Type, a.Content)
			}
			if a := p.Attachments[1]; a.Name != "notes.txt" || a.Type != "text/plain" || string(a.Content) != "just notes" {
				t.Errorf("attachment 2: %s %s %q", a.Name, a.Type, a.Content)
			}

			sec := secure.Wait(t, 1, scripttest.WaitLimit)
			if len(sec) != 1 || !sec[0].TLS || sec[0].User != "mailer" {
				t.Fatalf("secure server: %+v", sec)
			}
			ps, err := mailtest.Parse(sec[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			if ps.Subject != "over TLS" || ps.Text != "secure" {
				t.Errorf("secure message: %q %q", ps.Subject, ps.Text)
			}
		})
	}
}

// Misuse is an error at the call, naming the option.
func TestSendUsage(t *testing.T) {
	srcs := map[string]string{"lua": `
local function try(name, opts)
  local ok, err = pcall(imscript.mail.send, opts, function() end)
  print(name .. ": " .. tostring(err):gsub("^.-:%d+: ", ""))
end
try("no host", { from = "a@b.c", to = "d@e.f" })
try("no to", { host = "x", from = "a@b.c" })
try("tls", { host = "x", from = "a@b.c", to = "d@e.f", tls = "ssl" })
try("attachment", { host = "x", from = "a@b.c", to = "d@e.f", attachments = { { content = "x" } } })
try("no content", { host = "x", from = "a@b.c", to = "d@e.f", attachments = { { name = "a.txt", content = "" }, { name = "b.pdf", content = nil } } })
try("unknown", { host = "x", from = "a@b.c", to = "d@e.f", priority = 1 })
print("done")
`, "js": `
function tryIt(name, opts) {
  try { imscript.mail.send(opts); console.log(name + ": no error?!"); } catch (e) { console.log(name + ": " + e.message); }
}
tryIt("no host", { from: "a@b.c", to: "d@e.f" });
tryIt("no to", { host: "x", from: "a@b.c" });
tryIt("tls", { host: "x", from: "a@b.c", to: "d@e.f", tls: "ssl" });
tryIt("attachment", { host: "x", from: "a@b.c", to: "d@e.f", attachments: [{ content: "x" }] });
tryIt("no content", { host: "x", from: "a@b.c", to: "d@e.f", attachments: [{ name: "a.txt", content: "" }, { name: "b.pdf", content: undefined }] });
tryIt("unknown", { host: "x", from: "a@b.c", to: "d@e.f", priority: 1 });
console.log("done");
`}
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			h := scripttest.Start(t, scripttest.Options{Lang: lang, Src: srcs[lang]})
			out := h.WaitStdout("done")
			testutil.WantAll(t, "out", out,
				`no host: mail.send: option host is required`,
				`no to: mail.send: no recipient (set to, cc or bcc)`,
				`tls: mail.send: option tls: "ssl" is not one of "starttls", "tls", "none"`,
				`attachment: mail.send: attachment 1: option name is required`,
				`no content: mail.send: attachment 2 (b.pdf): option content is required: a string or bytes ("" for an empty file)`,
				`unknown: mail.send: unknown option "priority" (options: attachments, auth, bcc, ca_file, cc, from, headers, helo, host, html, insecure, password, port, reply_to, subject, text, timeout, tls, to, username)`,
			)
		})
	}
}
