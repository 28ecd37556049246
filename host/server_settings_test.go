package host

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
)

func TestSettingsDefaults(t *testing.T) {
	s, err := parseSettings(script.Map{})
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		Type:              "tcp",
		Host:              "0.0.0.0",
		PackageLengthType: "N",
		PackageBodyOffset: 4,
		PackageEOF:        "\r\n",
		PackageMaxLength:  2 << 20,
		BufferOutputSize:  2 << 20,
		MaxExecMs:         5000,
		MaxWaitTime:       3,
		MaxConnection:     s.MaxConnection,

		HTTPMaxHeaderSize:    16 << 10,
		WebsocketCompression: true,
		TaskMaxQueue:         4096,
		Ordered:              true,
		Chan:                 chanSettings{RecoveryMax: 300},
		given:                map[string]bool{},
	}
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", *s, want)
	}
	if s.MaxConnection <= 0 {
		t.Errorf("default max_connection %d, want > 0", s.MaxConnection)
	}
}

func TestSettingsEveryName(t *testing.T) {
	s, err := parseSettings(script.Map{
		"host": "127.0.0.1", "port": int64(9501), "type": "tcp",
		"worker_num": 3.0, "max_connection": int64(100),
		"open_length_check": true, "package_length_type": "n",
		"package_length_offset": int64(2), "package_body_offset": int64(6),
		"package_max_length": int64(4096), "buffer_output_size": 8192.0,
		"heartbeat_check_interval": 0.5, "heartbeat_idle_time": int64(3),
		"max_exec_ms": int64(0), "max_wait_time": 0.25, "ordered": false,
		"history_size": int64(100), "history_ttl": 60.5, "recovery_max": int64(50), "presence_events": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		Type: "tcp", Host: "127.0.0.1", Port: 9501, WorkerNum: 3, MaxConnection: 100,
		OpenLengthCheck: true, PackageLengthType: "n", PackageLengthOffset: 2, PackageBodyOffset: 6,
		PackageEOF: "\r\n", PackageMaxLength: 4096, BufferOutputSize: 8192,
		HeartbeatCheckInterval: 0.5, HeartbeatIdleTime: 3, MaxExecMs: 0, MaxWaitTime: 0.25,
		HTTPMaxHeaderSize: 16 << 10, WebsocketCompression: true, TaskMaxQueue: 4096,
		Chan: chanSettings{HistorySize: 100, HistoryTTL: 60500 * time.Millisecond, RecoveryMax: 50, PresenceEvents: true},
	}
	s.given = nil
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("\n got %+v\nwant %+v", *s, want)
	}

	s, err = parseSettings(script.Map{"type": "udp", "open_eof_check": false, "open_eof_split": false, "package_eof": []byte("\n")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != "udp" || s.PackageEOF != "\n" {
		t.Errorf("udp: %+v", *s)
	}
}

func TestSettingsUnknownNames(t *testing.T) {
	for name, want := range map[string]string{
		"bogus":         `unknown setting "bogus"`,
		"workers":       `unknown setting "workers"`,
		"Port":          `unknown setting "Port"`,
		"ssl_cert_file": `settings ssl_cert_file and ssl_key_file go together`,
		"document_root": `setting document_root applies to http and websocket servers`,
	} {
		_, err := parseSettings(script.Map{"port": int64(0), name: "x"})
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
}

func TestSettingsErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		val  script.Value
		want string
	}{
		{"port", "80", "setting port: want a number, got string"},
		{"port", 1.5, "setting port: want a whole number, got 1.5"},
		{"port", int64(70000), "setting port: 70000 is out of range 0..65535"},
		{"port", -1.0, "setting port: -1 is out of range 0..65535"},
		{"host", int64(1), "setting host: want a string, got number"},
		{"type", "smtp", `setting type: "smtp" is not a server type (tcp, udp, http, websocket)`},
		{"type", true, "setting type: want a string, got boolean"},
		{"worker_num", int64(0), "setting worker_num: 0 is out of range 1..1024"},
		{"max_connection", int64(0), "setting max_connection: 0 is out of range"},
		{"open_length_check", int64(1), "setting open_length_check: want a boolean, got number"},
		{"open_eof_check", "yes", "setting open_eof_check: want a boolean, got string"},
		{"open_eof_split", nil, "setting open_eof_split: want a boolean, got nil"},
		{"package_length_type", "q", `setting package_length_type: "q" is not one of c C s S n v l L N V`},
		{"package_length_type", "NN", `setting package_length_type: "NN" is not one of`},
		{"package_length_offset", int64(-1), "setting package_length_offset: -1 is out of range"},
		{"package_body_offset", script.Map{}, "setting package_body_offset: want a number, got table"},
		{"package_eof", "", "setting package_eof: must be 1 to 8 bytes"},
		{"package_eof", "123456789", "setting package_eof: must be 1 to 8 bytes"},
		{"package_max_length", int64(0), "setting package_max_length: 0 is out of range"},
		{"buffer_output_size", script.List{}, "setting buffer_output_size: want a number, got list"},
		{"heartbeat_idle_time", -1.0, "setting heartbeat_idle_time: must not be negative"},
		{"heartbeat_check_interval", int64(-2), "setting heartbeat_check_interval: must not be negative"},
		{"heartbeat_check_interval", math.NaN(), "setting heartbeat_check_interval: must not be negative"},
		{"heartbeat_idle_time", "1", "setting heartbeat_idle_time: want a number, got string"},
		{"max_exec_ms", int64(-1), "setting max_exec_ms: -1 is out of range"},
	} {
		_, err := parseSettings(script.Map{tc.name: tc.val})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %#v: err = %v, want %q", tc.name, tc.val, err, tc.want)
		}
	}
}

func TestSettingsCombinations(t *testing.T) {
	// open_eof_split turns on open_eof_check.
	s, err := parseSettings(script.Map{"open_eof_split": true})
	if err != nil || !s.OpenEOFCheck {
		t.Errorf("open_eof_split: %+v, %v", s, err)
	}
	for _, m := range []script.Map{
		{"open_length_check": true, "open_eof_check": true},
		{"open_length_check": true, "open_eof_split": true},
	} {
		if _, err := parseSettings(m); err == nil || !strings.Contains(err.Error(), "exclude each other") {
			t.Errorf("%v: err = %v", m, err)
		}
	}
	for _, m := range []script.Map{
		{"type": "udp", "open_length_check": true},
		{"type": "udp", "open_eof_check": true},
	} {
		if _, err := parseSettings(m); err == nil || !strings.Contains(err.Error(), "framing settings apply to tcp servers") {
			t.Errorf("%v: err = %v", m, err)
		}
	}
	// The default body offset follows the length field.
	for code, want := range map[string]int{"C": 3, "n": 4, "N": 6} {
		s, err := parseSettings(script.Map{"open_length_check": true, "package_length_type": code, "package_length_offset": int64(2)})
		if err != nil || s.PackageBodyOffset != want {
			t.Errorf("%s at offset 2: body offset %d (%v), want %d", code, s.PackageBodyOffset, err, want)
		}
	}
}

func TestSettingsHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		m                  script.Map
		interval, idleTime float64
	}{
		{script.Map{}, 0, 0},
		{script.Map{"heartbeat_idle_time": 10.0}, 5, 10},
		{script.Map{"heartbeat_idle_time": 0.1}, 0.1, 0.1},
		{script.Map{"heartbeat_check_interval": int64(2)}, 2, 4},
		{script.Map{"heartbeat_check_interval": 1.0, "heartbeat_idle_time": 7.0}, 1, 7},
	} {
		s, err := parseSettings(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if s.HeartbeatCheckInterval != tc.interval || s.HeartbeatIdleTime != tc.idleTime {
			t.Errorf("%v: interval %v idle %v, want %v and %v", tc.m, s.HeartbeatCheckInterval, s.HeartbeatIdleTime, tc.interval, tc.idleTime)
		}
	}
}
