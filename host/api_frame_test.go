package host_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/imscript/imscript/host"
	"github.com/imscript/imscript/host/internal/wire/wsframe"
	"github.com/imscript/imscript/script/scripttest"
)

// A frame the handler keeps reads its own fields after newer frames came
// (the newest are read from a table of the VM's in Lua), by field and by
// iteration, text and binary.
var keptFrameScripts = map[string]string{
	"lua": `local srv = imscript.server{ host = "127.0.0.1", port = 0, type = "websocket" }
local kept = {}
local function show(f)
    local fields = {}
    for k, v in f:pairs() do fields[#fields + 1] = k .. "=" .. tostring(v) end
    return f.data .. "/" .. f.opcode .. "/" .. tostring(f.finish) .. "/" .. table.concat(fields, ",")
end
srv:on("message", function(s, f)
    if f.data ~= "check" then kept[#kept + 1] = f return end
    local out = {}
    for i, k in ipairs(kept) do out[i] = show(k) .. "/" .. tostring(k.fd == f.fd) end
    out[#out + 1] = show(f)
    s:push(f.fd, table.concat(out, ";"))
end)`,
	"js": `const srv = imscript.server({ host: "127.0.0.1", port: 0, type: "websocket" });
const kept = [];
const show = (f) => {
  const fields = [];
  for (const [k, v] of f) fields.push(k + "=" + String(v));
  return String(f.data) + "/" + f.opcode + "/" + String(f.finish) + "/" + fields.join(",");
};
srv.on("message", (s, f) => {
  if (String(f.data) !== "check") { kept.push(f); return; }
  const out = kept.map((k) => show(k) + "/" + String(k.fd === f.fd));
  out.push(show(f));
  s.push(f.fd, out.join(";"));
});`,
}

func TestWSFrameKept(t *testing.T) {
	for _, lang := range scripttest.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r := startHost(t, "main."+lang, keptFrameScripts[lang], host.Config{Workers: 2})
			c, err := wsDialRaw(r.port(0))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			key := [4]byte{9, 8, 7, 6}
			var out []byte
			out = append(out, wsframe.MaskedFrame(0x81, []byte("one"), key)...)
			out = append(out, wsframe.MaskedFrame(0x82, []byte("two"), key)...)
			out = append(out, wsframe.MaskedFrame(0x81, []byte("three"), key)...)
			if _, err := c.Write(out); err != nil {
				t.Fatal(err)
			}
			// The check in a write of its own: other events came between.
			if _, err := c.Write(wsframe.MaskedFrame(0x81, []byte("check"), key)); err != nil {
				t.Fatal(err)
			}
			got := readServerFrame(t, c)
			want := "one/text/true/data=one,fd=#,finish=true,opcode=text/true;" +
				"two/binary/true/data=two,fd=#,finish=true,opcode=binary/true;" +
				"three/text/true/data=three,fd=#,finish=true,opcode=text/true;" +
				"check/text/true/data=check,fd=#,finish=true,opcode=text"
			if normalizeFd(got) != want {
				t.Errorf("frames kept:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// normalizeFd replaces the digits after "fd=" with "#".
func normalizeFd(s string) string {
	b := []byte(s)
	var out []byte
	for i := 0; i < len(b); i++ {
		out = append(out, b[i])
		if i >= 2 && string(b[i-2:i+1]) == "fd=" {
			out = append(out, '#')
			for i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9' {
				i++
			}
		}
	}
	return string(out)
}

// readServerFrame reads one unmasked frame (payload under 64 KiB).
func readServerFrame(t *testing.T, c net.Conn) string {
	t.Helper()
	var h [4]byte
	if _, err := io.ReadFull(c, h[:2]); err != nil {
		t.Fatalf("read a frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		if _, err := io.ReadFull(c, h[2:4]); err != nil {
			t.Fatalf("read a frame: %v", err)
		}
		n = int(binary.BigEndian.Uint16(h[2:4]))
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read a frame: %v", err)
	}
	return string(b)
}
