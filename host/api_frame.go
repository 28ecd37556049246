package host

import (
	"unsafe"

	"github.com/imscript/imscript/host/internal/wire/wsframe"
	"github.com/imscript/imscript/script"
)

// messageFrame is the frame a WebSocket message handler gets. Its fields
// are computed when the script reads them: no table is built per message.
// It is its own script object (obj), so a message costs one allocation
// beside its payload.
type messageFrame struct {
	obj  script.Object
	fd   script.Value // the connection's id (conn.idv)
	data []byte       // the message's own copy, never written after the read
	op   wsframe.Op   // text or binary
	text script.Value // data as a string, made on the first read
}

// newMessageFrame is the frame of one message: data is the payload the
// frame reader made for it (it is the script's from here on).
func newMessageFrame(c *conn, op wsframe.Op, data []byte) *messageFrame {
	f := &messageFrame{fd: c.idv(), data: data, op: op}
	f.obj = script.Object{Type: frameType, Data: f}
	return f
}

// frameType is the frame's script type: read-only fields fd, data,
// opcode ("text" or "binary") and finish (true: messages arrive whole),
// iterable like a table.
var frameType = &script.Type{Name: "websocket_frame", Transient: true,
	Doc: "A WebSocket message.",
	Fields: map[string]script.Field{
		"data":   {Type: "string|bytes", Doc: "The payload: a string for text, bytes for binary."},
		"fd":     {Type: "integer", Doc: "The connection."},
		"finish": {Type: "boolean", Doc: "Always true: messages arrive whole."},
		"opcode": {Type: `"text"|"binary"`, Doc: "The message type."},
	}}

var frameFields = []string{"data", "fd", "finish", "opcode"}

func (f *messageFrame) field(name string) script.Value {
	switch name {
	case "fd":
		return f.fd
	case "finish":
		return true
	case "opcode":
		if f.op == wsframe.OpText {
			return "text"
		}
		return "binary"
	}
	if f.op != wsframe.OpText {
		return f.data
	}
	if f.text == nil {
		// No copy: data is this message's alone and nothing writes it
		// (the reader made it for this message; the script gets only
		// this string, or bytes a binding hands out read-only).
		f.text = unsafe.String(unsafe.SliceData(f.data), len(f.data))
	}
	return f.text
}

func init() {
	frameType.Props = make(map[string]func(o *script.Object) script.Value, len(frameFields))
	for _, name := range frameFields {
		frameType.Props[name] = func(o *script.Object) script.Value { return o.Data.(*messageFrame).field(name) }
	}
	frameType.Iter = func(o *script.Object) func() (script.Value, script.Value, bool) {
		f, i := o.Data.(*messageFrame), 0
		return func() (script.Value, script.Value, bool) {
			if i == len(frameFields) {
				return nil, nil, false
			}
			name := frameFields[i]
			i++
			return name, f.field(name), true
		}
	}
}
