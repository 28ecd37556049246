// Package mail is imscript.mail: sending mail over SMTP from scripts, on
// github.com/wneessen/go-mail (STARTTLS, implicit TLS or plain, SMTP AUTH,
// text and HTML parts, attachments). Sending is asynchronous: the message
// is built on the worker, then sent on its own goroutine, and the outcome
// comes back on the worker (Lua callback fn(ok, err), JS Promise).
package mail

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/internal/opts"
)

const (
	defaultTimeout = 30 * time.Second
	// maxParallel bounds the SMTP sessions one host runs at once; more
	// sends wait their turn.
	maxParallel = 16
)

// Module builds imscript.mail for one instance.
func Module(script.Instance) script.Value { return script.Funcs(API.Funcs) }

// API describes imscript.mail for editors.
var API = &script.API{
	Doc: "Sending mail over SMTP.",
	Funcs: map[string]script.Method{
		"send": {Fn: send, Args: "message: MailMessage", Returns: "async boolean", Doc: "Sends a message."},
	},
	Records: []script.Record{
		{Name: "MailMessage", Doc: "imscript.mail.send's message and server.", Fields: map[string]script.Field{
			"host":         {Type: "string", Doc: "The SMTP server."},
			"port?":        {Type: "integer", Doc: "Its port."},
			"tls?":         {Type: "string", Doc: `How to secure the connection: "starttls" (default), "tls" or "none".`},
			"username?":    {Type: "string", Doc: "Login."},
			"password?":    {Type: "string", Doc: "Password."},
			"auth?":        {Type: "string", Doc: "The SASL mechanism."},
			"helo?":        {Type: "string", Doc: "The name to greet with."},
			"timeout?":     {Type: "number", Doc: "Seconds."},
			"ca_file?":     {Type: "string", Doc: "CA certificates (PEM) to trust."},
			"insecure?":    {Type: "boolean", Doc: "Skip certificate checks."},
			"from":         {Type: "string", Doc: "The sender."},
			"to?":          {Type: "string|string[]", Doc: "Recipients."},
			"cc?":          {Type: "string|string[]", Doc: "Copies."},
			"bcc?":         {Type: "string|string[]", Doc: "Blind copies."},
			"reply_to?":    {Type: "string", Doc: "Reply-To."},
			"subject?":     {Type: "string", Doc: "The subject."},
			"text?":        {Type: "string", Doc: "The plain-text body."},
			"html?":        {Type: "string", Doc: "The HTML body."},
			"attachments?": {Type: "{name: string, content: string|bytes, type?: string}[]", Doc: "Attached files."},
			"headers?":     {Type: "{[string]: string}", Doc: "More headers."},
		}},
	},
}

var sendOptions = []string{
	"host", "port", "tls", "username", "password", "auth", "helo", "timeout", "ca_file", "insecure",
	"from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "attachments", "headers",
}

// send is imscript.mail.send{...} [, fn(ok, err)].
func send(c script.Call) {
	inst := c.Instance()
	o := opts.New("mail.send", c.Table(0, "message"), sendOptions...)
	server := o.Need("host")
	mode := o.Str("tls", "starttls")
	var defPort int64
	switch mode {
	case "starttls":
		defPort = 587
	case "tls":
		defPort = 465
	case "none":
		defPort = 25
	default:
		script.Usagef("mail.send: option tls: %q is not one of \"starttls\", \"tls\", \"none\"", mode)
	}
	port := o.Int("port", defPort, 1, 65535)
	user := o.Str("username", "")
	pass := o.Str("password", "")
	authName := strings.ToLower(o.Str("auth", "plain"))
	var auth gomail.SMTPAuthType
	switch authName {
	case "plain":
		auth = gomail.SMTPAuthPlain
	case "login":
		auth = gomail.SMTPAuthLogin
	case "cram-md5":
		auth = gomail.SMTPAuthCramMD5
	case "scram-sha-256":
		auth = gomail.SMTPAuthSCRAMSHA256
	case "auto":
		auth = gomail.SMTPAuthAutoDiscover
	default:
		script.Usagef("mail.send: option auth: %q is not one of plain, login, cram-md5, scram-sha-256, auto", authName)
	}
	timeout := o.Seconds("timeout", defaultTimeout)
	helo := o.Str("helo", "")
	tlsCfg, tlsErr := o.TLS(inst.ScriptDir(), server)

	from := o.Need("from")
	to, cc, bcc := o.Strings("to"), o.Strings("cc"), o.Strings("bcc")
	if len(to)+len(cc)+len(bcc) == 0 {
		script.Usagef("mail.send: no recipient (set to, cc or bcc)")
	}
	replyTo := o.Str("reply_to", "")
	subject := o.Str("subject", "")
	text, hasText := o.Str("text", ""), o.Has("text")
	html, hasHTML := o.Str("html", ""), o.Has("html")
	atts := attachments(o)
	headers := o.Headers("headers")

	settle := c.Async(1)
	fail := func(err error) { settle(nil, fmt.Errorf("mail.send: %w", err)) }
	if tlsErr != nil {
		fail(tlsErr)
		return
	}

	// Build the message here (cheap); addresses from the network may be
	// bad, which is a failed send, not a script error.
	m := gomail.NewMsg()
	m.SetUserAgent("imscript/" + script.Version)
	if err := m.From(from); err != nil {
		fail(err)
		return
	}
	for _, set := range []struct {
		list []string
		fn   func(...string) error
	}{{to, m.To}, {cc, m.Cc}, {bcc, m.Bcc}} {
		if len(set.list) == 0 {
			continue
		}
		if err := set.fn(set.list...); err != nil {
			fail(err)
			return
		}
	}
	if replyTo != "" {
		if err := m.ReplyTo(replyTo); err != nil {
			fail(err)
			return
		}
	}
	m.Subject(subject)
	for k, vs := range headers {
		m.SetGenHeader(gomail.Header(k), vs...)
	}
	switch {
	case hasText && hasHTML:
		m.SetBodyString(gomail.TypeTextPlain, text)
		m.AddAlternativeString(gomail.TypeTextHTML, html)
	case hasHTML:
		m.SetBodyString(gomail.TypeTextHTML, html)
	default:
		m.SetBodyString(gomail.TypeTextPlain, text)
	}
	for _, a := range atts {
		fo := []gomail.FileOption{}
		if a.typ != "" {
			fo = append(fo, gomail.WithFileContentType(gomail.ContentType(a.typ)))
		}
		if err := m.AttachReader(a.name, bytes.NewReader(a.content), fo...); err != nil {
			fail(fmt.Errorf("attachment %s: %w", a.name, err))
			return
		}
	}

	copts := []gomail.Option{gomail.WithPort(int(port)), gomail.WithTimeout(timeout)}
	switch mode {
	case "starttls":
		copts = append(copts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		copts = append(copts, gomail.WithSSL())
	case "none":
		copts = append(copts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if tlsCfg != nil {
		copts = append(copts, gomail.WithTLSConfig(tlsCfg))
	}
	if user != "" {
		copts = append(copts, gomail.WithSMTPAuth(auth), gomail.WithUsername(user), gomail.WithPassword(pass))
	}
	if helo != "" {
		copts = append(copts, gomail.WithHELO(helo))
	}
	client, err := gomail.NewClient(server, copts...)
	if err != nil {
		fail(err)
		return
	}
	sem := inst.Shared("stdlib/mail.sessions", func() any { return make(chan struct{}, maxParallel) }).(chan struct{})
	go func() {
		sem <- struct{}{}
		defer func() { <-sem }()
		ctx := context.Background()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if err := client.DialAndSendWithContext(ctx, m); err != nil {
			fail(err)
			return
		}
		settle(true, nil)
	}()
}

type attachment struct {
	name    string
	typ     string
	content []byte
}

// attachments reads the attachments option: a list of {name, content,
// type}.
func attachments(o *opts.Reader) []attachment {
	var out []attachment
	for i, v := range o.List("attachments") {
		m, ok := v.(script.Map)
		if !ok {
			script.Usagef("mail.send: option attachments: item %d: want a table {name=, content=, type=}, got %s", i+1, script.TypeName(v))
		}
		a := opts.New(fmt.Sprintf("mail.send: attachment %d", i+1), m, "name", "content", "type")
		name := a.Need("name")
		if !a.Has("content") {
			// A nil content (a read that failed, a misspelt variable) would
			// otherwise go out as an empty file.
			script.Usagef("mail.send: attachment %d (%s): option content is required: a string or bytes (\"\" for an empty file)", i+1, name)
		}
		out = append(out, attachment{name: name, typ: a.Str("type", ""), content: a.Bytes("content")})
	}
	return out
}
