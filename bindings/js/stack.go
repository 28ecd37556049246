package js

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Error stacks as logs show them: the script's frames only (goja's native
// frames, Go functions among them, are left out), paths relative to the
// working folder, no bytecode offsets, the handler's frame named after the
// event it handles, and (an exception's) first line led by the top frame's
// file:line:col as a Lua error's is:
//
//	echo.js:4:20: TypeError: Cannot read property 'field' of undefined
//		at helper (echo.js:4:20)
//		at receive handler (echo.js:8:9)

var (
	// frameRe is a stack line of a script frame: "at [name (]file:l:c[(pc)][)]".
	frameRe = regexp.MustCompile(`^\s*at (?:(.*) \()?(.+?):(\d+):(\d+)(?:\(\d+\))?\)?$`)
	// nativeRe is a native frame's: "at native" or "at name (native)".
	nativeRe = regexp.MustCompile(`^\s*at (?:.* \()?native\)?$`)
)

// cleanStack rewrites a goja error text (an Exception's String(), an
// Error's stack property). handler, when not "", names the bottom frame
// when that frame is an anonymous function (the handler the host called);
// lead puts the top frame's place before the message.
func cleanStack(text, handler string, lead bool) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var msg, frames []string
	var top string
	for _, l := range lines {
		if nativeRe.MatchString(l) {
			continue
		}
		m := frameRe.FindStringSubmatch(l)
		if m == nil {
			if len(frames) == 0 {
				msg = append(msg, l)
			}
			continue
		}
		loc := displayPath(m[2]) + ":" + m[3] + ":" + m[4]
		if top == "" {
			top = loc
		}
		if m[1] != "" {
			frames = append(frames, "\tat "+m[1]+" ("+loc+")")
		} else {
			frames = append(frames, "\tat "+loc)
		}
	}
	if n := len(frames); n > 0 && handler != "" && !strings.Contains(frames[n-1], " (") {
		frames[n-1] = "\tat " + handler + " (" + strings.TrimPrefix(frames[n-1], "\tat ") + ")"
	}
	first := strings.Join(msg, "\n")
	if lead && top != "" && !strings.HasPrefix(first, top) {
		first = top + ": " + first
	}
	return strings.Join(append([]string{first}, frames...), "\n")
}

// displayPath is path relative to the working folder when it lies under
// it.
func displayPath(path string) string {
	if !filepath.IsAbs(path) {
		return path
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return path
}

// frameName is a handler's stack frame name: "receive handler" for what
// the host calls "receive" (instance.HandlerName, an optional method).
func frameName(handler string) string {
	if !strings.Contains(handler, "callback") && !strings.Contains(handler, "handler") {
		return handler + " handler"
	}
	return handler
}

// handlerFrame names the handler the host is calling ("receive
// handler"), "" outside one. The names are kept: the host calls few
// handlers ("message", "receive", ...), so a call makes no string.
func (v *vm) handlerFrame() string {
	hn, _ := v.inst.(interface{ HandlerName() string })
	if hn == nil || hn.HandlerName() == "" {
		return ""
	}
	h := hn.HandlerName()
	if n, ok := v.frameNames[h]; ok {
		return n
	}
	n := frameName(h)
	if v.frameNames == nil {
		v.frameNames = map[string]string{}
	}
	v.frameNames[h] = n
	return n
}
