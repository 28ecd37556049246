package host

import (
	"fmt"
	"math"
	"sort"
	"syscall"

	"github.com/imscript/imscript/host/internal/wire/framing"
	"github.com/imscript/imscript/script"
)

// settings are one server's options, under Swoole's names.
type settings struct {
	Type string // tcp, udp
	Host string
	Port int

	WorkerNum     int
	MaxConnection int

	OpenLengthCheck     bool
	PackageLengthType   string
	PackageLengthOffset int
	PackageBodyOffset   int

	OpenEOFCheck bool
	OpenEOFSplit bool
	PackageEOF   string

	PackageMaxLength int
	BufferOutputSize int

	HeartbeatCheckInterval float64 // seconds
	HeartbeatIdleTime      float64 // seconds

	MaxExecMs int
	// MaxWaitTime is how long (seconds) a replaced version may go on
	// answering its requests in flight after a reload (reload_drain.go).
	MaxWaitTime float64

	HTTPMaxHeaderSize     int
	DocumentRoot          string
	WebsocketOrigins      []string
	WebsocketSubprotocols []string
	WebsocketCompression  bool

	SSLCertFile string
	SSLKeyFile  string

	TaskWorkerNum int
	TaskMaxQueue  int

	// Ordered (default true) makes a connection's events wait while one
	// of its handlers is suspended or its promise pending (worker_order.go).
	Ordered bool

	// Chan holds history_size, history_ttl, recovery_max and
	// presence_events: host-wide, from the first server that sets each
	// (hub_history.go).
	Chan chanSettings
	// given holds the names the declaration set.
	given map[string]bool
}

const (
	defaultPackageMaxLength = 2 << 20
	defaultBufferOutputSize = 2 << 20
	defaultMaxExecMs        = 5000
	defaultMaxWaitTime      = 3.0
	defaultHTTPMaxHeader    = 16 << 10
	defaultTaskMaxQueue     = 4096
)

// settingNames lists every setting a server table accepts; the value says
// whether this version implements it.
var settingNames = map[string]bool{
	"host": true, "port": true, "type": true,
	"worker_num": true, "max_connection": true,
	"open_length_check": true, "package_length_type": true, "package_length_offset": true, "package_body_offset": true,
	"open_eof_check": true, "open_eof_split": true, "package_eof": true,
	"package_max_length": true, "buffer_output_size": true,
	"heartbeat_check_interval": true, "heartbeat_idle_time": true,
	"max_exec_ms": true, "max_wait_time": true,
	"http_max_header_size": true, "document_root": true,
	"websocket_origins": true, "websocket_subprotocols": true, "websocket_compression": true,
	"ssl_cert_file": true, "ssl_key_file": true,
	"task_worker_num": true, "task_max_queue": true,
	"ordered":      true,
	"history_size": true, "history_ttl": true, "recovery_max": true, "presence_events": true,
}

func defaultMaxConnection() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > 0 && rl.Cur < math.MaxInt32 {
		return int(rl.Cur)
	}
	return 10000
}

// parseSettings reads a server declaration table. Unknown names and wrong
// types are errors that name the setting.
func parseSettings(m script.Map) (*settings, error) {
	s := &settings{
		Type:              "tcp",
		Host:              "0.0.0.0",
		MaxConnection:     defaultMaxConnection(),
		PackageLengthType: "N",
		PackageEOF:        "\r\n",
		PackageMaxLength:  defaultPackageMaxLength,
		BufferOutputSize:  defaultBufferOutputSize,
		MaxExecMs:         defaultMaxExecMs,
		MaxWaitTime:       defaultMaxWaitTime,
		PackageBodyOffset: -1,

		HTTPMaxHeaderSize:    defaultHTTPMaxHeader,
		WebsocketCompression: true,
		TaskMaxQueue:         defaultTaskMaxQueue,
		Ordered:              true,
		Chan:                 defaultChanSettings,
		given:                map[string]bool{},
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		impl, known := settingNames[k]
		if !known {
			return nil, fmt.Errorf("unknown setting %q", k)
		}
		if !impl {
			return nil, fmt.Errorf("setting %q is not supported by this version", k)
		}
		var err error
		switch k {
		case "host":
			s.Host, err = settingString(k, v)
		case "type":
			s.Type, err = settingString(k, v)
			if err == nil {
				_, err = lookupProtocol(s.Type)
			}
		case "port":
			s.Port, err = settingInt(k, v, 0, 65535)
		case "worker_num":
			s.WorkerNum, err = settingInt(k, v, 1, 1024)
		case "max_connection":
			s.MaxConnection, err = settingInt(k, v, 1, math.MaxInt32)
		case "open_length_check":
			s.OpenLengthCheck, err = settingBool(k, v)
		case "package_length_type":
			s.PackageLengthType, err = settingString(k, v)
			if err == nil {
				if _, _, ok := framing.LengthCode(s.PackageLengthType); !ok {
					err = fmt.Errorf("setting package_length_type: %q is not one of c C s S n v l L N V", s.PackageLengthType)
				}
			}
		case "package_length_offset":
			s.PackageLengthOffset, err = settingInt(k, v, 0, 1<<16)
		case "package_body_offset":
			s.PackageBodyOffset, err = settingInt(k, v, 0, 1<<16)
		case "open_eof_check":
			s.OpenEOFCheck, err = settingBool(k, v)
		case "open_eof_split":
			s.OpenEOFSplit, err = settingBool(k, v)
		case "package_eof":
			s.PackageEOF, err = settingString(k, v)
			if err == nil && (len(s.PackageEOF) == 0 || len(s.PackageEOF) > 8) {
				err = fmt.Errorf("setting package_eof: must be 1 to 8 bytes")
			}
		case "package_max_length":
			s.PackageMaxLength, err = settingInt(k, v, 1, 1<<30)
		case "buffer_output_size":
			s.BufferOutputSize, err = settingInt(k, v, 1, 1<<30)
		case "heartbeat_check_interval":
			s.HeartbeatCheckInterval, err = settingFloat(k, v)
		case "heartbeat_idle_time":
			s.HeartbeatIdleTime, err = settingFloat(k, v)
		case "max_exec_ms":
			s.MaxExecMs, err = settingInt(k, v, 0, math.MaxInt32)
		case "max_wait_time":
			s.MaxWaitTime, err = settingFloat(k, v)
			if err == nil && s.MaxWaitTime > 86400 {
				err = fmt.Errorf("setting %s: at most 86400 seconds, got %v", k, s.MaxWaitTime)
			}
		case "http_max_header_size":
			s.HTTPMaxHeaderSize, err = settingInt(k, v, 256, 1<<24)
		case "document_root":
			s.DocumentRoot, err = settingString(k, v)
		case "websocket_origins":
			s.WebsocketOrigins, err = settingStrings(k, v)
		case "websocket_subprotocols":
			s.WebsocketSubprotocols, err = settingStrings(k, v)
		case "websocket_compression":
			s.WebsocketCompression, err = settingBool(k, v)
		case "ssl_cert_file":
			s.SSLCertFile, err = settingString(k, v)
		case "ssl_key_file":
			s.SSLKeyFile, err = settingString(k, v)
		case "task_worker_num":
			s.TaskWorkerNum, err = settingInt(k, v, 0, 1024)
		case "task_max_queue":
			s.TaskMaxQueue, err = settingInt(k, v, 1, 1<<24)
		case "ordered":
			s.Ordered, err = settingBool(k, v)
		case "history_size":
			s.Chan.HistorySize, err = settingInt(k, v, 0, 1<<20)
		case "history_ttl":
			var ttl float64
			ttl, err = settingFloat(k, v)
			s.Chan.HistoryTTL = script.Seconds(ttl)
		case "recovery_max":
			s.Chan.RecoveryMax, err = settingInt(k, v, 1, 1<<20)
		case "presence_events":
			s.Chan.PresenceEvents, err = settingBool(k, v)
		}
		s.given[k] = true
		if err != nil {
			return nil, err
		}
	}
	if s.OpenEOFSplit {
		s.OpenEOFCheck = true
	}
	if s.OpenLengthCheck && s.OpenEOFCheck {
		return nil, fmt.Errorf("settings open_length_check and open_eof_check exclude each other")
	}
	if s.PackageBodyOffset < 0 {
		_, size, _ := framing.LengthCode(s.PackageLengthType)
		s.PackageBodyOffset = s.PackageLengthOffset + size
	}
	if s.HeartbeatIdleTime > 0 && s.HeartbeatCheckInterval <= 0 {
		s.HeartbeatCheckInterval = math.Max(s.HeartbeatIdleTime/2, 0.1)
	}
	if s.HeartbeatCheckInterval > 0 && s.HeartbeatIdleTime <= 0 {
		s.HeartbeatIdleTime = s.HeartbeatCheckInterval * 2
	}
	p := protocols[s.Type]
	if !p.framing && (s.OpenLengthCheck || s.OpenEOFCheck) {
		return nil, fmt.Errorf("framing settings apply to %s servers, not %s", protocolsWith(func(p *protocol) bool { return p.framing }), s.Type)
	}
	if (s.SSLCertFile == "") != (s.SSLKeyFile == "") {
		return nil, fmt.Errorf("settings ssl_cert_file and ssl_key_file go together")
	}
	if s.SSLCertFile != "" && !p.tls {
		return nil, fmt.Errorf("TLS (ssl_cert_file) applies to %s servers, not %s", protocolsWith(func(p *protocol) bool { return p.tls }), s.Type)
	}
	if s.DocumentRoot != "" && !p.http {
		return nil, fmt.Errorf("setting document_root applies to %s servers", protocolsWith(func(p *protocol) bool { return p.http }))
	}
	return s, nil
}

func settingString(k string, v script.Value) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return "", fmt.Errorf("setting %s: want a string, got %s", k, script.TypeName(v))
}

func settingStrings(k string, v script.Value) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case script.List:
		out := make([]string, 0, len(x))
		for _, e := range x {
			str, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("setting %s: want a list of strings, found a %s", k, script.TypeName(e))
			}
			out = append(out, str)
		}
		return out, nil
	case script.Map:
		if len(x) == 0 {
			return nil, nil // an empty Lua table
		}
	}
	return nil, fmt.Errorf("setting %s: want a list of strings, got %s", k, script.TypeName(v))
}

func settingBool(k string, v script.Value) (bool, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return false, fmt.Errorf("setting %s: want a boolean, got %s", k, script.TypeName(v))
}

func settingFloat(k string, v script.Value) (float64, error) {
	switch x := v.(type) {
	case float64:
		if x < 0 || math.IsNaN(x) {
			return 0, fmt.Errorf("setting %s: must not be negative", k)
		}
		return x, nil
	case int64:
		if x < 0 {
			return 0, fmt.Errorf("setting %s: must not be negative", k)
		}
		return float64(x), nil
	}
	return 0, fmt.Errorf("setting %s: want a number, got %s", k, script.TypeName(v))
}

func settingInt(k string, v script.Value, lo, hi int) (int, error) {
	var n int64
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("setting %s: want a whole number, got %v", k, x)
		}
		n = int64(x)
	case int64:
		n = x
	default:
		return 0, fmt.Errorf("setting %s: want a number, got %s", k, script.TypeName(v))
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, fmt.Errorf("setting %s: %d is out of range %d..%d", k, n, lo, hi)
	}
	return int(n), nil
}
