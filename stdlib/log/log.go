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
