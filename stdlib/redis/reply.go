package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	goredis "github.com/redis/go-redis/v9"

	"github.com/imscript/imscript/script"
)

// command is one Redis command read from a script: its name upper-cased
// (for messages and checks) and its arguments as go-redis takes them.
type command struct {
	name string
	args []any
}

// readCommand reads a command from neutral values: a non-empty name, then
// strings, bytes or numbers. what names the call in usage errors.
func readCommand(what string, vals []script.Value, first int) command {
	if len(vals) == 0 {
		script.Usagef("%s: the command name is missing", what)
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		a, ok := arg(v)
		if !ok {
			script.Usagef("%s: argument %d: want a string, bytes or a number, got %s", what, first+i+1, script.TypeName(v))
		}
		args[i] = a
	}
	name, ok := args[0].(string)
	if !ok || name == "" {
		script.Usagef("%s: argument %d: the command name must be a non-empty string", what, first+1)
	}
	return command{name: strings.ToUpper(name), args: args}
}

// arg converts one argument: integers (also integral floats, as JS and Lua
// numbers are) go out in decimal, other floats in their shortest form.
func arg(v script.Value) (any, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		switch {
		case math.IsNaN(x):
			return nil, false
		case math.IsInf(x, 1):
			return "+inf", true
		case math.IsInf(x, -1):
			return "-inf", true
		case x == math.Trunc(x) && math.Abs(x) < 1<<63:
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true
	}
	return nil, false
}

// refused are the commands that would change the state of one pooled
// connection (shared by every worker and version) or take it over; call
// and pipeline refuse them with the reason.
var refused = map[string]string{
	"SUBSCRIBE":    "use r:subscribe(channel, fn)",
	"SSUBSCRIBE":   "use r:subscribe(channel, fn)",
	"UNSUBSCRIBE":  "use sub:close()",
	"SUNSUBSCRIBE": "use sub:close()",
	"PSUBSCRIBE":   "use r:psubscribe(pattern, fn)",
	"PUNSUBSCRIBE": "use sub:close()",
	"MONITOR":      "it takes the connection over",
	"SELECT":       "put the database in the URL (redis://host:6379/2)",
	"HELLO":        "the protocol is the handle's",
	"RESET":        "the connection is shared",
	"QUIT":         "the connection is shared",
}

// stateful are refused by call but allowed in a pipeline, whose commands
// run in order on one connection.
var stateful = map[string]bool{"MULTI": true, "EXEC": true, "DISCARD": true, "WATCH": true, "UNWATCH": true}

func checkCommand(what string, cmd command, inPipeline bool) {
	if why, ok := refused[cmd.name]; ok {
		script.Usagef("%s: %s is not available on a shared connection: %s", what, cmd.name, why)
	}
	if cmd.name == "CLIENT" && len(cmd.args) > 1 {
		if sub, _ := cmd.args[1].(string); strings.EqualFold(sub, "REPLY") {
			script.Usagef("%s: CLIENT REPLY is not available on a shared connection", what)
		}
	}
	if stateful[cmd.name] && !inPipeline {
		script.Usagef("%s: %s needs the commands around it on one connection: send them together with r:pipeline({ {\"MULTI\"}, ..., {\"EXEC\"} })", what, cmd.name)
	}
}

// blockFor is how long a blocking command may wait by its own arguments:
// ok is false for commands that do not block, d is 0 for "forever".
func blockFor(cmd command) (d time.Duration, ok bool) {
	str := func(i int) string {
		if i < 0 || i >= len(cmd.args) {
			return ""
		}
		switch x := cmd.args[i].(type) {
		case string:
			return x
		case []byte:
			return string(x)
		}
		return ""
	}
	seconds := func(s string, unit time.Duration) (time.Duration, bool) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false // Redis will answer with an error
		}
		return time.Duration(f * float64(unit)), true
	}
	last := len(cmd.args) - 1
	switch cmd.name {
	case "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BZPOPMIN", "BZPOPMAX":
		return seconds(str(last), time.Second)
	case "BLMPOP", "BZMPOP":
		return seconds(str(1), time.Second)
	case "WAIT":
		return seconds(str(last), time.Millisecond)
	case "WAITAOF":
		return seconds(str(last), time.Millisecond)
	case "XREAD", "XREADGROUP":
		for i := 1; i < last; i++ {
			s := str(i)
			if strings.EqualFold(s, "STREAMS") {
				break
			}
			if strings.EqualFold(s, "BLOCK") {
				return seconds(str(i+1), time.Millisecond)
			}
		}
	}
	return 0, false
}

// reply converts a go-redis reply into a neutral value: bulk and status
// strings as strings when they are UTF-8 and as bytes otherwise (so JS
// gets every byte back: a string, or a Buffer; Lua gets a string either
// way), integers as int64, arrays as lists whose nil elements are
// script.Null, error elements as {err =, code =}, RESP3 maps as maps.
func reply(v any) script.Value {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if utf8.ValidString(x) {
			return x
		}
		return []byte(x)
	case int64:
		return x
	case float64, bool:
		return x
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		return x.String()
	case []any:
		out := make(script.List, len(x))
		for i, e := range x {
			if e == nil {
				out[i] = script.Null
			} else {
				out[i] = reply(e)
			}
		}
		return out
	case map[any]any:
		out := make(script.Map, len(x))
		for k, e := range x {
			ks := fmt.Sprint(reply(k))
			if e == nil {
				out[ks] = script.Null
			} else {
				out[ks] = reply(e)
			}
		}
		return out
	case error:
		return errorSlot(x)
	}
	return fmt.Sprint(v)
}

// errorSlot is an error reply inside a list or a pipeline.
func errorSlot(err error) script.Map {
	return script.Map{"err": err.Error(), "code": replyCode(err.Error())}
}

// replyCode is the kind of an error reply: its first word (WRONGTYPE,
// ERR, NOSCRIPT, ...).
func replyCode(msg string) string {
	code, _, _ := strings.Cut(msg, " ")
	return code
}

// isReplyError says whether err is an error reply from the server (as
// opposed to a connection that failed).
func isReplyError(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && err != goredis.Nil
}

// failure words an error of what (e.g. "redis.call GET") with a code: the
// reply's kind for an error reply, TIMEOUT, CLOSED, CANCELLED, or the
// errno's name (ECONNREFUSED, ECONNRESET) for a connection that failed.
func failure(ctx context.Context, what string, err error, timeout time.Duration) error {
	switch {
	case isReplyError(err):
		return &script.CodedError{Msg: what + ": " + err.Error(), Code: replyCode(err.Error()), Err: err}
	case errors.Is(err, errClosed):
		return &script.CodedError{Msg: what + ": " + err.Error(), Code: "CLOSED", Err: err}
	case errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled):
		return &script.CodedError{Msg: what + ": cancelled: the script version has ended", Code: "CANCELLED", Err: err}
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return &script.CodedError{Msg: fmt.Sprintf("%s: timed out after %v", what, timeout), Code: "TIMEOUT", Err: err}
	}
	var code script.Value
	var errno syscall.Errno
	if errors.As(err, &errno) {
		code = errnoName(errno)
	}
	return &script.CodedError{Msg: what + ": " + err.Error(), Code: code, Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errnoName names the errors a connection meets.
func errnoName(e syscall.Errno) script.Value {
	switch e {
	case syscall.ECONNREFUSED:
		return "ECONNREFUSED"
	case syscall.ECONNRESET:
		return "ECONNRESET"
	case syscall.EPIPE:
		return "EPIPE"
	case syscall.ETIMEDOUT:
		return "TIMEOUT"
	case syscall.EHOSTUNREACH:
		return "EHOSTUNREACH"
	case syscall.ENETUNREACH:
		return "ENETUNREACH"
	case syscall.ECONNABORTED:
		return "ECONNABORTED"
	}
	return nil
}
