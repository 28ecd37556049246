package host_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/script/scripttest"
)

// A handler's answers (srv:send, written by its worker) and what reaches
// the connection another way (srv:publish, written by the event loop)
// arrive in the order the script made them, also when one answer is more
// than the socket takes at once (1 MiB: the rest is written later) and
// with two requests in one read (one batch of the worker).
var orderScripts = map[string]string{
	"lua": `local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "tcp",
    open_eof_split = true, package_eof = "\n", buffer_output_size = 64 * 1024 * 1024 }
local big = string.rep("b", 256 * 1024) .. "\n"
srv:on("connect", function(s, fd) s:join(fd, "r") end)
srv:on("receive", function(s, fd, data)
    local tag, n = data:match("^(%a+) (%d+)")
    for i = 1, tonumber(n) do
        if i % 50 == 0 then s:send(fd, big)
        elseif i % 3 == 0 then s:publish("r", "p" .. tag .. i .. "\n")
        else s:send(fd, "s" .. tag .. i .. "\n") end
    end
end)`,
	"js": `const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "tcp",
  open_eof_split: true, package_eof: "\n", buffer_output_size: 64 * 1024 * 1024 });
const big = "b".repeat(256 * 1024) + "\n";
srv.on("connect", (s, fd) => { s.join(fd, "r"); });
srv.on("receive", (s, fd, data) => {
  const [, tag, n] = /^([a-z]+) (\d+)/.exec(data.toString());
  for (let i = 1; i <= Number(n); i++) {
    if (i % 50 === 0) s.send(fd, big);
    else if (i % 3 === 0) s.publish("r", "p" + tag + i + "\n");
    else s.send(fd, "s" + tag + i + "\n");
  }
});`,
}

func TestSendOrder(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := startHost(t, "main."+lang, orderScripts[lang], host.Config{Workers: 2})
			for round := range 3 {
				c := dialSmall(t, r.port(0))
				const n = 200
				tags := []string{"a", "b"}
				// Both requests in one write: one read, one batch.
				var req strings.Builder
				for _, tag := range tags {
					fmt.Fprintf(&req, "%s %d\n", tag, n)
				}
				c.send(req.String())
				rd := c.rd
				for _, tag := range tags {
					for i := 1; i <= n; i++ {
						want := "s" + tag + strconv.Itoa(i)
						switch {
						case i%50 == 0:
							want = strings.Repeat("b", 256<<10)
						case i%3 == 0:
							want = "p" + tag + strconv.Itoa(i)
						}
						got, err := rd.ReadString('\n')
						if err != nil && err != io.EOF {
							t.Fatalf("round %d: reading %q: %v", round, abbrev(want), err)
						}
						if got = strings.TrimSuffix(got, "\n"); got != want {
							t.Fatalf("round %d: got %q, want %q", round, abbrev(got), abbrev(want))
						}
					}
				}
				c.Close()
			}
		})
	}
}

// dialSmall connects with a small receive buffer (set before the
// handshake, so the window is small from the start): the server's socket
// is often full, and has room again while the loop still holds the rest
// of a big answer.
func dialSmall(t *testing.T, port int) *client {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	nc, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(waitLimit))
	return &client{t: t, Conn: nc, rd: bufio.NewReader(nc)}
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:20] + "..." + s[len(s)-10:] + " (" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}
