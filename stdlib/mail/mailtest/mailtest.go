// Package mailtest is a real SMTP server for tests (emersion/go-smtp) that
// keeps the messages it receives, and a MIME reader to check them: their
// headers, text and HTML parts and attachments.
package mailtest

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a Server.
type Options struct {
	// TLS, when set, offers STARTTLS (or, with Implicit, serves TLS from
	// the first byte).
	TLS      *tls.Config
	Implicit bool
	// Users, when set, require AUTH PLAIN with one of these
	// username/password pairs before MAIL FROM.
	Users map[string]string
}

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string // envelope recipients (to, cc and bcc)
	Data []byte   // the message as sent (headers and body)
	User string   // the authenticated user, if any
	TLS  bool     // the session was encrypted
}

// Server is a running SMTP server.
type Server struct {
	Addr string // 127.0.0.1:port
	Port int

	srv  *smtp.Server
	mu   sync.Mutex
	msgs []Message
}

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, o: o, tls: isTLS}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 32 << 20
	srv.AllowInsecureAuth = o.TLS == nil
	srv.ErrorLog = nopLogger{}
	if !o.Implicit {
		srv.TLSConfig = o.TLS
	}
	s.srv = srv
	var ln net.Listener
	var err error
	if o.Implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", o.TLS)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.Port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits until n messages have arrived (or fails the test after
// timeout) and returns them.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SMTP server got %d messages within %v, want %d", len(s.Messages()), timeout, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

type session struct {
	s    *Server
	o    Options
	tls  bool
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.o.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if want, ok := ss.o.Users[user]; !ok || want != pass {
			return errors.New("invalid username or password")
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.o.Users != nil && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, Message{From: ss.from, To: ss.to, Data: b, User: ss.user, TLS: ss.tls})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// Parsed is a message read back: its headers (decoded), its text and HTML
// bodies (line breaks as "\n", without the final one) and its attachments.
type Parsed struct {
	Header      mail.Header
	Subject     string
	Text, HTML  string
	Attachments []Attachment
}

// Attachment is one attached file.
type Attachment struct {
	Name, Type string
	Content    []byte
}

// Parse reads a message: a single part or multipart/mixed and
// multipart/alternative trees, with base64 and quoted-printable bodies.
func Parse(data []byte) (*Parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	p := &Parsed{Header: m.Header}
	dec := new(mime.WordDecoder)
	p.Subject, err = dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if err := p.part(textproto(m.Header), m.Body); err != nil {
		return nil, err
	}
	return p, nil
}

type header interface{ Get(string) string }

type textproto mail.Header

func (h textproto) Get(k string) string { return mail.Header(h).Get(k) }

func (p *Parsed) part(h header, body io.Reader) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content-type %q: %w", ct, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := p.part(part.Header, part); err != nil {
				return err
			}
		}
	}
	content, err := decode(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return err
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	switch {
	case disp == "attachment" || dparams["filename"] != "":
		p.Attachments = append(p.Attachments, Attachment{Name: dparams["filename"], Type: mt, Content: content})
	case mt == "text/html":
		p.HTML = textOf(content)
	default:
		p.Text = textOf(content)
	}
	return nil
}

func decode(enc string, r io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64": // the decoder skips line breaks
		return io.ReadAll(base64.NewDecoder(base64.StdEncoding, r))
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(r))
	default:
		return io.ReadAll(r)
	}
}

// textOf is a text body with "\n" line breaks and no final line break.
func textOf(b []byte) string {
	return strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
}
