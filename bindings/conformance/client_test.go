package conformance

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// binaryEchoClient sends one length-prefixed package holding all 256 byte
// values, split in two writes, and expects it back unchanged; then "bye",
// answered with "Server: bye".
func binaryEchoClient(t *testing.T, port int) {
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	pkg := binary.BigEndian.AppendUint32(nil, 256)
	pkg = append(pkg, all256()...)
	for _, part := range [][]byte{pkg[:100], pkg[100:]} {
		if _, err := conn.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, len(pkg))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if !bytes.Equal(got, pkg) {
		t.Fatalf("echo changed the bytes:\n got %x\nwant %x", got, pkg)
	}
	bye := binary.BigEndian.AppendUint32(nil, 3)
	bye = append(bye, "bye"...)
	if _, err := conn.Write(bye); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, len("Server: bye"))
	if _, err := io.ReadFull(conn, reply); err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	if string(reply) != "Server: bye" {
		t.Fatalf("reply %q, want %q", reply, "Server: bye")
	}
}
