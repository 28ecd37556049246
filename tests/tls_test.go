package tests

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/imscript/imscript/internal/testutil"
)

// testCert is a server certificate for 127.0.0.1 and localhost and the
// CA that signed it.
type testCert struct{ *testutil.CA }

func makeCert(t *testing.T) *testCert { return &testCert{testutil.NewCA(t)} }

func (tc *testCert) env() map[string]string {
	return map[string]string{"CERT": tc.CertFile, "KEY": tc.KeyFile}
}

func (tc *testCert) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: tc.Pool, ServerName: "127.0.0.1"}
}

// TestTLS: https (net/http with the test certificate as root), wss
// (gorilla) and a TLS TCP echo (tls.Dial), with ssl_cert_file and
// ssl_key_file.
func TestTLS(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		cert := makeCert(t)

		t.Run("https", func(t *testing.T) {
			s, d := startHTTP(t, lang, cert.env())
			tr := &http.Transport{TLSClientConfig: cert.clientConfig(), ResponseHeaderTimeout: ioTimeout}
			t.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr, Timeout: ioTimeout}
			base := "https://" + s.addr()
			var ports []int
			for i := range 3 {
				req := hcRequest(t, "GET", base+"/info?q=tls", nil)
				req.Header.Set("Cookie", "k=v")
				info := infoOf(t, c, req)
				wantField(t, "query.q", info.Query["q"], "tls")
				wantField(t, "cookie.k", info.Cookie["k"], "v")
				wantField(t, "protocol", info.Protocol, "HTTP/1.1")
				ports = append(ports, info.RemotePort)
				if i > 0 && ports[i] != ports[0] {
					t.Errorf("remote ports %v: keep-alive over TLS not kept", ports)
				}
			}
			payload := randomBytes(200 << 10)
			resp, body := hcDo(t, c, hcRequest(t, "POST", base+"/body", bytes.NewReader(payload)))
			wantStatus(t, resp, body, 200)
			if !bytes.Equal(body, payload) {
				t.Errorf("https body echo: %d bytes, want %d byte-exact", len(body), len(payload))
			}
			if resp.TLS == nil {
				t.Errorf("response without TLS state")
			}
			resp, body = hcGet(t, c, base+"/img.png")
			wantStatus(t, resp, body, 200)
			if !bytes.Equal(body, d.files["img.png"]) {
				t.Errorf("static file over https: %d bytes", len(body))
			}
			resp, body = hcGet(t, c, base+"/chunked")
			wantStatus(t, resp, body, 200)
			wantField(t, "chunked over https", string(body), "hello chunked world!")

			// An untrusted client fails the handshake; plain HTTP on the TLS
			// port is not served; the server goes on.
			bad := &http.Client{Transport: &http.Transport{}, Timeout: ioTimeout}
			if _, err := bad.Get(base + "/fast"); err == nil {
				t.Errorf("a client without the root accepted the certificate")
			}
			rc := dialRaw(t, s.addr())
			rc.send(t, "GET /fast?id=plain HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, body, err := rc.readResponseErr("GET"); err == nil && string(body) == "fast plain" {
				t.Errorf("plain HTTP was served on the https port")
			}
			resp, body = hcGet(t, c, base+"/fast?id=end")
			wantStatus(t, resp, body, 200)
			wantField(t, "after bad clients", string(body), "fast end")
		})

		t.Run("wss", func(t *testing.T) {
			s := start(t, testScript(lang, "ws"), runOpts{env: cert.env()})
			d := wsDialer(cert.clientConfig())
			url := "wss://" + s.addr() + "/secure"
			c, _ := wsDial(t, d, url, nil)
			wsEcho(t, c, websocket.TextMessage, []byte("hello over tls"))
			wsEcho(t, c, websocket.BinaryMessage, randomBytes(64<<10))
			fd, _ := wsFd(t, c)
			waitOutput(t, s, "open "+fd+" /secure\n")
			d.EnableCompression = true
			c2, resp := wsDial(t, d, url, nil)
			t.Logf("wss extensions %q", resp.Header.Get("Sec-WebSocket-Extensions"))
			wsEcho(t, c2, websocket.TextMessage, bytes.Repeat([]byte("deflate over tls "), 500))
			// The server's close over TLS.
			wsWrite(t, c, websocket.TextMessage, []byte("/bye"))
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			_, _, err := c.ReadMessage()
			if !websocket.IsCloseError(err, 4000) {
				t.Errorf("after /bye over wss: %v, want close 4000", err)
			}
			waitOutput(t, s, "close "+fd+"\n")
			// Plain HTTP requests on the wss port, over TLS.
			tr := &http.Transport{TLSClientConfig: cert.clientConfig()}
			t.Cleanup(tr.CloseIdleConnections)
			r, body := hcGet(t, &http.Client{Transport: tr, Timeout: ioTimeout}, "https://"+s.addr()+"/plain")
			wantStatus(t, r, body, 200)
			if !strings.HasPrefix(string(body), "plain http fd=") {
				t.Errorf("https on the wss port: %q", body)
			}
			wsEcho(t, c2, websocket.TextMessage, []byte("still here"))
		})

		t.Run("tcp", func(t *testing.T) {
			s := start(t, testScript(lang, "raw_echo"), runOpts{env: cert.env()})
			conf := cert.clientConfig()
			dialTLS := func() *tls.Conn {
				t.Helper()
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", s.addr(), conf)
				if err != nil {
					t.Fatalf("tls.Dial: %v", err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			c := dialTLS()
			roundTrip(t, c, []byte("hello tls"), []byte("hello tls"))
			roundTrip(t, c, allBytes(), allBytes())
			roundTrip(t, c, invalidUTF8, invalidUTF8)
			big := randomBytes(1 << 20)
			roundTripLarge(t, c, big, big)
			state := c.ConnectionState()
			t.Logf("TLS version %x, cipher %s", state.Version, tls.CipherSuiteName(state.CipherSuite))
			c2 := dialTLS()
			roundTrip(t, c2, []byte("second"), []byte("second"))
			c2.Close()
			waitFor(t, waitTimeout, "a close event", func() bool { return s.stdoutLines("close ") == 1 })
			// A plain TCP client gets no echo; the server goes on.
			raw := dial(t, s.addr())
			write(t, raw, []byte("not tls at all\r\n\r\n"))
			_ = raw.SetReadDeadline(time.Now().Add(ioTimeout))
			var buf [64]byte
			if n, _ := raw.Read(buf[:]); bytes.Contains(buf[:n], []byte("not tls")) {
				t.Errorf("plain TCP was echoed on the TLS port")
			}
			roundTrip(t, c, []byte("after plain"), []byte("after plain"))
		})
	})
}
