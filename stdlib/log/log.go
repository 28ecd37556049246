// Package log is imscript.log: structured logging from scripts through the
// host's log/slog logger, tagged with the worker.
package log

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/imscript/imscript/script"
)

// Module builds imscript.log for one instance.
func Module(inst script.Instance) script.Value {
	l := inst.Logger().With("worker", inst.WorkerID())
	mk := func(level slog.Level) script.Function {
		return func(c script.Call) {
			msg := c.Str(0, "msg")
			fields := c.OptTable(1, "fields")
			keys := make([]string, 0, len(fields))
			for k := range fields {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			attrs := make([]any, 0, 2*len(keys))
			for _, k := range keys {
				attrs = append(attrs, k, plain(fields[k]))
			}
			l.Log(context.Background(), level, msg, attrs...)
		}
	}
	return script.Map{
		"debug": mk(slog.LevelDebug),
		"info":  mk(slog.LevelInfo),
		"warn":  mk(slog.LevelWarn),
		"error": mk(slog.LevelError),
	}
}

// API describes imscript.log for editors. Its functions are made per
// instance (Module), with the instance's logger.
var API = &script.API{
	Doc: "Structured logs through the host's logger.",
	Funcs: map[string]script.Method{
		"debug": {Args: "msg: string, fields?: table", Doc: "Logs at debug level, with fields as attributes."},
		"info":  {Args: "msg: string, fields?: table", Doc: "Logs at info level, with fields as attributes."},
		"warn":  {Args: "msg: string, fields?: table", Doc: "Logs at warn level, with fields as attributes."},
		"error": {Args: "msg: string, fields?: table", Doc: "Logs at error level, with fields as attributes."},
	},
}

func plain(v script.Value) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case script.Map, script.List:
		return fmt.Sprint(x)
	case *script.Object:
		return x.Type.Name
	}
	return v
}
