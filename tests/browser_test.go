package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The chat example's web client (scripts/web/chat/) in a real headless
// Chromium, driven over the DevTools protocol with chromedp.

// chromiumPath finds a Chromium or Chrome binary, or returns "".
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// needChromium skips the test when no browser is installed, except in CI
// (CI=true), where a missing browser is a failure: CI must never skip it.
func needChromium(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed but CI=true: the browser test must run in CI (.ci/run installs it with apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium); skipping the browser test (with CI=true this is a failure)")
	}
	return p
}

// startBrowser starts a headless Chromium with a fresh profile and returns the
// context of its first tab; the browser is closed when the test ends.
func startBrowser(t *testing.T, ctx context.Context, execPath string) context.Context {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		// Both tabs keep running timers and sockets at full speed although
		// only one is in front.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.WindowSize(1280, 800),
		// No UserDataDir: chromedp makes a fresh temporary profile and
		// removes it when the browser exits.
	)
	tab, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	return tab
}

// chatTab is one browser tab showing the chat page; a failed wait dumps the
// text of every tab of the test.
type chatTab struct {
	t    *testing.T
	ctx  context.Context
	name string
	all  *[]*chatTab
}

func newTab(t *testing.T, ctx context.Context, name string, all *[]*chatTab) *chatTab {
	tb := &chatTab{t: t, ctx: ctx, name: name, all: all}
	*all = append(*all, tb)
	return tb
}

// do runs browser actions, failing the test with what on error.
func (tb *chatTab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.fail("%s: %s: %v", tb.name, what, err)
	}
}

// until polls a JavaScript predicate in the page until it is true.
func (tb *chatTab) until(what, expr string) {
	tb.t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(waitTimeout)))
	if err != nil {
		tb.fail("%s: waiting for %s (%s): %v", tb.name, what, expr, err)
	}
}

func (tb *chatTab) fail(format string, args ...any) {
	tb.t.Helper()
	msg := fmt.Sprintf(format, args...)
	for _, o := range *tb.all {
		text, err := chromedp.Run(o.ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			text = err.Error()
		}
		msg += "\n---- " + o.name + "'s page ----\n" + text
	}
	tb.t.Fatal(msg)
}

// Predicates on the chat page's DOM (scripts/web/chat/index.html).
const (
	jsOnline = `document.getElementById("status").dataset.state === "online"`
	jsLobby  = `!!document.querySelector('#rooms li.active[data-room="lobby"]:not(.not-joined)')`
)

func jsMember(nick string) string {
	return `!!document.querySelector('#members li[data-nick=` + strconv.Quote(nick) + `]')`
}

func jsMessage(from, text string) string {
	return `[...document.querySelectorAll('#messages .msg[data-from=` + strconv.Quote(from) + `] .text')]` +
		`.some((e) => e.textContent === ` + strconv.Quote(text) + `)`
}

// login opens the chat page, logs in as nick by typing it and pressing
// Enter, and waits until the tab is online in #lobby.
func (tb *chatTab) login(url, nick string) {
	tb.t.Helper()
	tb.do("open "+url,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#login-nick")),
	)
	// Another tab may have prefilled the field (chromedp's SetValue refuses
	// an empty value, so clear it in the page).
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`(document.getElementById("login-nick").value = "", true)`)); err != nil {
		tb.fail("clear the nickname field: %v", err)
	}
	tb.do("log in as "+nick,
		chromedp.SendKeys(chromedp.CSS("#login-nick"), nick+"\r"),
		chromedp.WaitNotVisible(chromedp.CSS("#login")),
	)
	tb.until(nick+" online", jsOnline)
	tb.until(nick+" in #lobby", jsLobby)
}

// say types text into the message box and presses Enter.
func (tb *chatTab) say(text string) {
	tb.t.Helper()
	tb.do("type "+strconv.Quote(text),
		chromedp.WaitEnabled(chromedp.CSS("#input")),
		chromedp.SendKeys(chromedp.CSS("#input"), text+"\r"))
}

func (tb *chatTab) screenshot(path string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.fail("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
}

// TestChatBrowser: the chat page in two tabs of a headless Chromium, logged
// in as alice and bob, exchanges room messages both ways and a private
// message, survives a server restart (both tabs reconnect, log in again and
// re-join), and leaves a screenshot of each tab in tests/artifacts/.
func TestChatBrowser(t *testing.T) {
	t.Parallel()
	chrome := needChromium(t)
	artifacts := filepath.Join(repoRoot, "tests", "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	eachLang(t, func(t *testing.T, lang string) {
		s := start(t, example(lang, "chat"), runOpts{workers: 2})
		url := "http://" + s.addr() + "/"
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
		defer cancel()

		var tabs []*chatTab
		alice := newTab(t, startBrowser(t, ctx, chrome), "alice", &tabs)
		alice.login(url, "alice")
		bobCtx, cancelBob := chromedp.NewContext(alice.ctx) // a second tab, same browser
		defer cancelBob()
		bob := newTab(t, bobCtx, "bob", &tabs)
		bob.login(url, "bob")
		alice.until("bob in alice's member list", jsMember("bob"))
		bob.until("alice in bob's member list", jsMember("alice"))
		alice.until("the notice that bob joined",
			`[...document.querySelectorAll("#messages .notice")].some((e) => e.textContent.startsWith("bob joined"))`)

		hello := "Hi bob! This message went through imscript (" + lang + ")."
		alice.say(hello)
		bob.until("alice's message", jsMessage("alice", hello))
		alice.until("alice's own message", jsMessage("alice", hello))
		reply := "Hello alice, got it. Rooms, presence and heartbeats all work."
		bob.say(reply)
		alice.until("bob's reply", jsMessage("bob", reply))
		bob.say("/msg alice psst, this one is private")
		alice.until("the private conversation with bob in the sidebar",
			`!!document.querySelector('#dms li[data-dm="bob"] .badge')`)
		bob.do("back to #lobby", chromedp.Click(chromedp.CSS(`#rooms li[data-room="lobby"]`)))
		alice.say("See you in #dev later.")
		bob.until("alice's last message", jsMessage("alice", "See you in #dev later."))

		alice.screenshot(filepath.Join(artifacts, "chat-"+lang+"-alice.png"))
		bob.screenshot(filepath.Join(artifacts, "chat-"+lang+"-bob.png"))

		// Restart the server on the same port: both tabs go offline,
		// reconnect with backoff, log in again and re-join #lobby.
		port := s.port
		s.kill()
		alice.until("the lost connection", `!(`+jsOnline+`)`)
		start(t, example(lang, "chat"), runOpts{workers: 2, env: map[string]string{"PORT": strconv.Itoa(port)}})
		alice.until("alice back online", jsOnline)
		bob.until("bob back online", jsOnline)
		alice.until("bob back in the member list", jsMember("bob"))
		bob.until("alice back in the member list", jsMember("alice"))
		back := "Still here after the restart."
		bob.say(back)
		alice.until("bob's message after the restart", jsMessage("bob", back))
		alice.screenshot(filepath.Join(artifacts, "chat-"+lang+"-alice-reconnected.png"))
	})
}
