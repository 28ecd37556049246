package tests

import (
	"bufio"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/internal/testutil"
	"github.com/imscript/imscript/stdlib/mail/mailtest"
)

// The mailer example end to end: a real SMTP server (STARTTLS with a test
// certificate, AUTH PLAIN) receives what the mailer's task workers send,
// the mail_client example talks to the mailer, and a raw TCP client checks
// the protocol's answers.
func TestMailer(t *testing.T) {
	eachLang(t, func(t *testing.T, lang string) {
		ca := testutil.NewCA(t)
		smtpSrv := mailtest.Start(t, mailtest.Options{TLS: ca.Server, Users: map[string]string{"mailer": "pw-" + lang}})
		mailer := start(t, example(lang, "mailer"), runOpts{env: map[string]string{
			"SMTP_HOST": "127.0.0.1", "SMTP_PORT": strconv.Itoa(smtpSrv.Port), "SMTP_TLS": "starttls",
			"SMTP_USER": "mailer", "SMTP_PASS": "pw-" + lang, "SMTP_CA": ca.CAFile,
			"MAIL_FROM": "Mailer <mailer@example.com>",
		}})

		// The client example: one mail, two replies, then it stops.
		out, _ := runToEnd(t, example(lang, "mail_client"), map[string]string{"MAILER_PORT": strconv.Itoa(mailer.port)},
			"alice@example.com", "Hello <Alice>", "Line one\nline & two")
		var replies []map[string]any
		for _, l := range strings.Split(out, "\n") {
			if j, ok := strings.CutPrefix(l, "server: "); ok {
				var m map[string]any
				if err := json.Unmarshal([]byte(j), &m); err != nil {
					t.Fatalf("reply %q: %v", j, err)
				}
				replies = append(replies, m)
			}
		}
		// "queued" comes from the event worker, "sent" from a task worker:
		// their order is not promised.
		if len(replies) != 2 || replies[0]["id"] != replies[1]["id"] ||
			replies[0]["status"].(string)+replies[1]["status"].(string) != "queuedsent" &&
				replies[0]["status"].(string)+replies[1]["status"].(string) != "sentqueued" {
			t.Fatalf("mail_client output:\n%s", out)
		}
		wantLines(t, out, "connected, sending mail to alice@example.com", "connection closed")

		msgs := smtpSrv.Wait(t, 1, waitTimeout)
		m := msgs[0]
		if !m.TLS || m.User != "mailer" || m.From != "mailer@example.com" || strings.Join(m.To, ",") != "alice@example.com" {
			t.Errorf("session: tls %v user %q from %q to %q", m.TLS, m.User, m.From, m.To)
		}
		p, err := mailtest.Parse(m.Data)
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, m.Data)
		}
		if got := p.Header.Get("From"); got != `"Mailer" <mailer@example.com>` {
			t.Errorf("From: %q", got)
		}
		if got := p.Header.Get("To"); got != "<alice@example.com>" {
			t.Errorf("To: %q", got)
		}
		if p.Subject != "Hello <Alice>" {
			t.Errorf("Subject: %q", p.Subject)
		}
		if p.Text != "Line one\nline & two" {
			t.Errorf("text part: %q", p.Text)
		}
		if p.HTML != "<p>Line one<br>line &amp; two</p>" {
			t.Errorf("html part: %q", p.HTML)
		}
		if len(p.Attachments) != 1 || p.Attachments[0].Name != "request.json" || p.Attachments[0].Type != "application/json" {
			t.Fatalf("attachments: %+v", p.Attachments)
		}
		var req map[string]string
		if err := json.Unmarshal(p.Attachments[0].Content, &req); err != nil {
			t.Fatalf("request.json %q: %v", p.Attachments[0].Content, err)
		}
		if req["address"] != "alice@example.com" || req["subject"] != "Hello <Alice>" || req["body"] != "Line one\nline & two" {
			t.Errorf("request.json: %v", req)
		}

		// The protocol by hand: bad input, then two mails on one
		// connection, one of which the SMTP server refuses.
		c := dial(t, mailer.addr())
		rd := bufio.NewReader(c)
		next := func() map[string]any {
			t.Helper()
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a reply: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("reply %q: %v", l, err)
			}
			return m
		}
		write(t, c, []byte("not json\n"))
		if r := next(); r["status"] != "error" {
			t.Errorf("bad input: %v", r)
		}
		write(t, c, []byte(`{"address":"bob@example.com","subject":"s1","body":"b1"}`+"\n"+`{"address":"bad address","subject":"s2","body":"b2"}`+"\n"))
		got := map[string]string{} // final status by id
		var queued []float64
		for len(got) < 2 {
			r := next()
			id, _ := r["id"].(float64)
			switch r["status"] {
			case "queued":
				queued = append(queued, id)
			case "sent":
				got[strconv.Itoa(int(id))] = "sent"
			case "failed":
				got[strconv.Itoa(int(id))] = "failed: " + r["error"].(string)
			default:
				t.Fatalf("reply %v", r)
			}
		}
		if len(queued) != 2 {
			t.Fatalf("queued replies: %v", queued)
		}
		if got[strconv.Itoa(int(queued[0]))] != "sent" || !strings.Contains(got[strconv.Itoa(int(queued[1]))], `failed: mail.send: failed to parse mail address "bad address"`) {
			t.Errorf("outcomes: %v (queued %v)", got, queued)
		}
		smtpSrv.Wait(t, 2, waitTimeout)
		mailer.waitStderr("mail failed", "bad address")
	})
}

// mail.send from a script through the binary, over implicit TLS.
func TestMailSendImplicitTLS(t *testing.T) {
	const lua = `
if imscript.worker_id ~= 0 then return end
imscript.mail.send({ host = "127.0.0.1", port = tonumber(imscript.env.SMTP_PORT), tls = "tls", ca_file = imscript.env.CA,
  username = "u", password = "p", from = "a@example.com", to = "b@example.com", subject = "implicit", html = "<i>hi</i>" },
  function(ok, err) print("sent " .. tostring(ok) .. " " .. tostring(err)); imscript.shutdown() end)
`
	const js = `
if (imscript.worker_id === 0) {
  imscript.mail.send({ host: "127.0.0.1", port: Number(imscript.env.SMTP_PORT), tls: "tls", ca_file: imscript.env.CA,
    username: "u", password: "p", from: "a@example.com", to: "b@example.com", subject: "implicit", html: "<i>hi</i>" })
    .then((ok) => console.log("sent " + ok + " nil"), (err) => console.log("sent null " + err.message))
    .finally(() => imscript.shutdown());
}
`
	eachLang(t, func(t *testing.T, lang string) {
		ca := testutil.NewCA(t)
		smtpSrv := mailtest.Start(t, mailtest.Options{TLS: ca.Server, Implicit: true, Users: map[string]string{"u": "p"}})
		out, _ := runToEnd(t, writeScript(t, "send."+lang, pick(lang, lua, js)),
			map[string]string{"SMTP_PORT": strconv.Itoa(smtpSrv.Port), "CA": ca.CAFile})
		wantLines(t, out, "sent true nil")
		m := smtpSrv.Wait(t, 1, waitTimeout)[0]
		p, err := mailtest.Parse(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if !m.TLS || m.User != "u" || p.Subject != "implicit" || p.HTML != "<i>hi</i>" || p.Text != "" {
			t.Errorf("message: tls %v user %q subject %q html %q text %q", m.TLS, m.User, p.Subject, p.HTML, p.Text)
		}
	})
}
