package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// The http section's nginx row: Debian's nginx with lua-nginx-module
// (libnginx-mod-http-lua, the module OpenResty is built around), answering
// from content_by_lua_block. The bench writes its nginx.conf into a folder
// of its temp dir per server and runs it in the foreground as the current
// user; the server's CPU is its master's and workers' (sampleProc sums a
// process tree).

// nginxPackages are the Debian packages of the row.
var nginxPackages = []string{"nginx", "libnginx-mod-http-lua"}

// nginxSetup is what the nginx row runs, found by prepareNginx.
type nginxSetup struct {
	bin     string   // nginx
	modules []string // load_module paths: the NDK, then the Lua module
	err     error    // why the row cannot run
}

var nginxKind = serverKind{key: "nginx", label: "nginx + lua-nginx-module (content_by_lua_block)",
	needs: func(b *builds) error {
		if b.nginx.bin == "" && b.nginx.err == nil {
			return errors.New("skipped: nginx was not prepared")
		}
		return b.nginx.err
	},
	cmd: func(b *builds, port int, _ string) *exec.Cmd {
		dir := filepath.Join(b.dir, "nginx-"+strconv.Itoa(port))
		conf := filepath.Join(dir, "nginx.conf")
		// A failure here shows as nginx's own error about the file.
		if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err == nil {
			_ = os.WriteFile(conf, []byte(nginxConf(b.nginx.modules, b.workers, port, dir)), 0o644)
		}
		return exec.Command(b.nginx.bin, "-p", dir, "-c", conf, "-g", "daemon off;")
	},
	line: func(workers int) string {
		return "nginx -p $T/nginx-$P -c $T/nginx-$P/nginx.conf -g 'daemon off;'"
	}}

// nginxConf is the row's configuration: workers worker processes,
// keep-alive connections that stay open (as every other row's), no access
// log, every temp path and the pid file in dir.
func nginxConf(modules []string, workers, port int, dir string) string {
	var b strings.Builder
	for _, m := range modules {
		fmt.Fprintf(&b, "load_module %s;\n", m)
	}
	if os.Geteuid() == 0 {
		// As root, nginx would run its workers as nobody.
		if u, err := user.Current(); err == nil {
			fmt.Fprintf(&b, "user %s;\n", u.Username)
		}
	}
	fmt.Fprintf(&b, `worker_processes %d;
pid %s;
error_log %s warn;
events {
    worker_connections 16384;
}
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
    client_body_temp_path %s;
    proxy_temp_path %s;
    fastcgi_temp_path %s;
    uwsgi_temp_path %s;
    scgi_temp_path %s;
    server {
        listen 127.0.0.1:%d;
        location / {
            default_type text/plain;
            content_by_lua_block {
                ngx.header.content_length = 11
                ngx.print("hello world")
            }
        }
    }
}
`, workers, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"),
		filepath.Join(dir, "tmp", "body"), filepath.Join(dir, "tmp", "proxy"), filepath.Join(dir, "tmp", "fastcgi"),
		filepath.Join(dir, "tmp", "uwsgi"), filepath.Join(dir, "tmp", "scgi"), port)
	return b.String()
}

// nginxConfShown is the configuration as the report shows it, $P for
// the port.
func nginxConfShown(modules []string, workers int) string {
	if len(modules) == 0 {
		modules = []string{"/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so"}
	}
	return strings.Replace(nginxConf(modules, workers, 1, "$T/nginx-$P"), "127.0.0.1:1;", "127.0.0.1:$P;", 1)
}

// prepareNginx finds nginx and its Lua module when the nginx row is
// selected, installing the packages with apt-get when they are missing;
// when that cannot be done the row is skipped (b.nginx.err says why). It
// returns the versions, for the report.
func prepareNginx(o *options, b *builds) (string, error) {
	if !o.has(secHTTP) {
		return "", nil
	}
	if _, ok := findKind(o.selected(secHTTP), nginxKind.key); !ok {
		return "", nil
	}
	b.nginx = findNginx()
	if b.nginx.err != nil {
		apt, err := exec.LookPath("apt-get")
		if err != nil {
			b.nginx.err = fmt.Errorf("skipped: %v, and apt-get is not here to install %s", b.nginx.err, strings.Join(nginxPackages, " "))
			return "", b.nginx.err
		}
		args := append([]string{apt, "install", "-y"}, nginxPackages...)
		if os.Geteuid() != 0 {
			if sudo, err := exec.LookPath("sudo"); err == nil {
				args = append([]string{sudo, "-n"}, args...)
			}
		}
		logf("%v: installing it: %s", b.nginx.err, strings.Join(args, " "))
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.nginx.err = fmt.Errorf("skipped: %s failed (%v): %s", strings.Join(args, " "), err, lastLines(string(out), 3))
			return "", b.nginx.err
		}
		if b.nginx = findNginx(); b.nginx.err != nil {
			b.nginx.err = fmt.Errorf("skipped: after apt-get install %s: %w", strings.Join(nginxPackages, " "), b.nginx.err)
			return "", b.nginx.err
		}
	}
	v := "nginx " + nginxVersion(b.nginx.bin)
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "libnginx-mod-http-lua").Output(); err == nil && len(out) > 0 {
		v += " with libnginx-mod-http-lua " + string(out)
	}
	return v, nil
}

// findNginx looks for nginx (on PATH or in /usr/sbin) and the Lua module
// (and the NDK it needs) in its modules path.
func findNginx() nginxSetup {
	var s nginxSetup
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			s.err = errors.New("nginx is not installed")
			return s
		}
		bin = "/usr/sbin/nginx"
	}
	dir := "/usr/lib/nginx/modules"
	out, _ := exec.Command(bin, "-V").CombinedOutput()
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "--modules-path="); ok {
			dir = v
		}
	}
	lua := filepath.Join(dir, "ngx_http_lua_module.so")
	if _, err := os.Stat(lua); err != nil {
		s.err = fmt.Errorf("nginx's Lua module is not installed (no %s)", lua)
		return s
	}
	if ndk := filepath.Join(dir, "ndk_http_module.so"); fileExists(ndk) {
		s.modules = append(s.modules, ndk)
	}
	s.bin, s.modules = bin, append(s.modules, lua)
	return s
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// nginxVersion reads `nginx -v` ("nginx version: nginx/1.22.1"): 1.22.1.
func nginxVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	if _, v, ok := strings.Cut(strings.TrimSpace(string(out)), "nginx/"); ok {
		return v
	}
	return "(version unknown)"
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
