package log_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/imscript/imscript"
	"github.com/imscript/imscript/script/scripttest"
)

// runLogging runs a script on one worker with a JSON logger at level info
// and returns the records the script logged.
func runLogging(t *testing.T, name, src string) (records []map[string]any, stdout string) {
	t.Helper()
	var logs scripttest.Buffer
	stdout, _ = scripttest.Run(t, scripttest.Options{Name: name, Src: src, Config: func(c *imscript.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}}, "")
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["script"] == true {
			records = append(records, rec)
		}
	}
	return records, stdout
}

func TestLogFromBothLanguages(t *testing.T) {
	for name, src := range map[string]string{
		"log.lua": `
local log = require("log")
assert(log == imscript.log)
log.debug("hidden", { script = true })
log.info("hello", { script = true, n = 3, s = "x", data = "a\0b", list = {1, 2}, map = { k = "v" }, srv = imscript.server{ host = "127.0.0.1", port = 0 } })
log.warn("careful", { script = true })
log.error("bad", { script = true })
log.info("no fields")
print(pcall(log.info, {}))
`,
		"log.js": `
const log = require("log");
if (log !== imscript.log) throw new Error("two log modules");
log.debug("hidden", { script: true });
log.info("hello", { script: true, n: 3, s: "x", data: Buffer.from("a\0b"), list: [1, 2], map: { k: "v" }, srv: imscript.server({ host: "127.0.0.1", port: 0 }) });
log.warn("careful", { script: true });
log.error("bad", { script: true });
log.info("no fields");
try { log.info({}); } catch (e) { console.log(e.name + ": " + e.message); }
`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			recs, out := runLogging(t, name, src)
			if len(recs) != 3 {
				t.Fatalf("%d records, want 3 (debug is below the level): %v", len(recs), recs)
			}
			want := []struct{ level, msg string }{{"INFO", "hello"}, {"WARN", "careful"}, {"ERROR", "bad"}}
			for i, w := range want {
				if recs[i]["level"] != w.level || recs[i]["msg"] != w.msg || recs[i]["worker"] != 0.0 {
					t.Errorf("record %d: %v, want level %s msg %s worker 0", i, recs[i], w.level, w.msg)
				}
			}
			hello := recs[0]
			for k, v := range map[string]any{"n": 3.0, "s": "x", "data": "a\x00b", "list": "[1 2]", "map": "map[k:v]", "srv": "server"} {
				if hello[k] != v {
					t.Errorf("field %s = %#v, want %#v", k, hello[k], v)
				}
			}
			if !strings.Contains(out, "(msg)") {
				t.Errorf("a table as the message: %q, want an error naming msg", out)
			}
		})
	}
}
