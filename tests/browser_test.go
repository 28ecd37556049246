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

// otherBrowser opens a tab in a browser context of its own (its own
// cookies), as another person's browser would be; it closes with the test.
func (tb *chatTab) otherBrowser(name string) *chatTab {
	ctx, cancel := chromedp.NewContext(tb.ctx, chromedp.WithNewBrowserContext())
	tb.t.Cleanup(cancel)
	return newTab(tb.t, ctx, name, tb.all)
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
	jsOnline   = `document.getElementById("status").dataset.state === "online"`
	jsLobby    = `!!document.querySelector('#rooms li.active[data-room="lobby"]:not(.not-joined)')`
	jsAuthForm = `!document.getElementById("auth").hidden`
)

func jsMember(nick string) string {
	return `!!document.querySelector('#members li.online[data-nick=` + strconv.Quote(nick) + `]')`
}

func jsOffline(nick string) string {
	return `!!document.querySelector('#members li.offline[data-nick=` + strconv.Quote(nick) + `]')`
}

func jsMessage(from, text string) string {
	return `[...document.querySelectorAll('#messages .msg[data-from=` + strconv.Quote(from) + `] .text')]` +
		`.some((e) => e.textContent === ` + strconv.Quote(text) + `)`
}

// jsOnce: text is on the page exactly once (no message shown twice).
func jsOnce(text string) string {
	return `[...document.querySelectorAll("#messages .msg .text")].filter((e) => e.textContent === ` + strconv.Quote(text) + `).length === 1`
}

func jsNotice(text string) string {
	return `[...document.querySelectorAll("#messages .notice")].some((e) => e.textContent.includes(` + strconv.Quote(text) + `))`
}

// jsBadge: the unread badge of a room ("#name") or conversation ("@name") shows n.
func jsBadge(key string, n int) string {
	sel := `#rooms li[data-room=` + strconv.Quote(key[1:]) + `] .badge`
	if key[0] == '@' {
		sel = `#dms li[data-dm=` + strconv.Quote(key[1:]) + `] .badge`
	}
	return `(document.querySelector('` + sel + `') || {}).textContent === "` + strconv.Itoa(n) + `"`
}

func jsNoBadge(key string) string {
	sel := `#rooms li[data-room=` + strconv.Quote(key[1:]) + `] .badge`
	if key[0] == '@' {
		sel = `#dms li[data-dm=` + strconv.Quote(key[1:]) + `] .badge`
	}
	return `!document.querySelector('` + sel + `')`
}

const (
	jsNavOpen     = `document.getElementById("sidebar").getBoundingClientRect().left === 0`
	jsNavClosed   = `document.getElementById("sidebar").getBoundingClientRect().right <= 0`
	jsMembersOpen = `(() => { const r = document.getElementById("members-panel").getBoundingClientRect(); return r.right === window.innerWidth && r.width > 200; })()`
)

// openNav opens the rooms drawer (phone layout) and waits until it has
// slid in.
func (tb *chatTab) openNav() {
	tb.t.Helper()
	tb.click("open the rooms drawer", "#open-nav")
	tb.until("the rooms drawer open", jsNavOpen)
}

// eval runs a JavaScript expression in the page.
func (tb *chatTab) eval(what, expr string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[any](expr)); err != nil {
		tb.fail("%s: %s: %v", tb.name, what, err)
	}
}

// open opens the chat page at the given viewport and waits until it shows
// the log-in form or is online.
func (tb *chatTab) open(url string, w, h int64) {
	tb.t.Helper()
	tb.do("open "+url,
		chromedp.EmulateViewport(w, h),
		chromedp.Navigate(url),
	)
	tb.until("the log-in form or the chat", jsAuthForm+` || `+jsOnline)
}

// auth fills the log-in form (register: the "Create account" tab) and
// presses Enter; it waits until the tab is online in #lobby.
func (tb *chatTab) auth(register bool, user, pw string) {
	tb.t.Helper()
	tb.until("the log-in form", jsAuthForm)
	tab := "#tab-login"
	if register {
		tab = "#tab-register"
	}
	tb.eval("clear the form", `(document.getElementById("auth-user").value = "", document.getElementById("auth-pass").value = "", true)`)
	tb.do("log in as "+user,
		chromedp.Click(chromedp.CSS(tab)),
		chromedp.SendKeys(chromedp.CSS("#auth-user"), user),
		chromedp.SendKeys(chromedp.CSS("#auth-pass"), pw+"\r"),
	)
	tb.until(user+" logged in", `document.getElementById("auth").hidden`)
	tb.until(user+" online", jsOnline)
	tb.until(user+" in #lobby", jsLobby)
}

// say types text into the message box and presses Enter.
func (tb *chatTab) say(text string) {
	tb.t.Helper()
	tb.do("type "+strconv.Quote(text),
		chromedp.WaitEnabled(chromedp.CSS("#input")),
		chromedp.SendKeys(chromedp.CSS("#input"), text+"\r"))
}

// click clicks the element sel once it is visible (in the page, in one
// step: a list that is re-rendered meanwhile cannot make it miss).
func (tb *chatTab) click(what, sel string) {
	tb.t.Helper()
	tb.do(what, chromedp.WaitVisible(chromedp.CSS(sel)))
	tb.until(what, `(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); if (!e) return false; e.click(); return true; })()`)
}

// screenshot saves the viewport as dir/name.png and, for a look after the
// run, a copy in /tmp/chat-shots.
func (tb *chatTab) screenshot(dir, name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.fail("screenshot: %v", err)
	}
	for _, d := range []string{dir, "/tmp/chat-shots"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
	tb.t.Logf("screenshot: %s", filepath.Join(dir, name+".png"))
}

// TestChatBrowser: the chat page in a headless Chromium, two users in two
// browser contexts (their own cookies): both register through the form,
// talk in #lobby, see an unread badge for a room they are not looking at;
// a reload shows the history; bob logs out, alice sends him a private
// message, bob logs in again and finds it with its badge, opens it and
// alice sees "Seen" (and the typing notice); a flood gets the rate-limit
// error on the page; a fresh page shows the last 50 and "load older" the
// rest; after a server restart (same --data) both reconnect
// and recover; after one that lost the history the page says it reloaded. Screenshots at
// 1280x800 and 390x844 (with the drawers open) go to tests/artifacts/ and
// /tmp/chat-shots/.
func TestChatBrowser(t *testing.T) {
	t.Parallel()
	chrome := needChromium(t)
	artifacts := filepath.Join(repoRoot, "tests", "artifacts")
	eachLang(t, func(t *testing.T, lang string) {
		data := t.TempDir()
		// A burst of 60: the flood below fills more than a page, and still
		// gets refused at the end.
		env := func(kv ...string) map[string]string {
			m := map[string]string{"CHAT_MSG_BURST": "60"}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		}
		s := startChat(t, lang, env(), "--data", data)
		url := "http://" + s.addr() + "/"
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
		defer cancel()
		shot := func(tb *chatTab, name string) { tb.screenshot(artifacts, "chat-"+lang+"-"+name) }

		var tabs []*chatTab
		alice := newTab(t, startBrowser(t, ctx, chrome), "alice", &tabs)
		alice.open(url, 1280, 800)
		shot(alice, "login-1280")
		alice.auth(true, "alice", "alice-password")
		bob := alice.otherBrowser("bob")
		bob.open(url, 1280, 800)
		bob.auth(true, "bob", "bob-password")
		alice.until("bob in alice's member list", jsMember("bob"))
		bob.until("alice in bob's member list", jsMember("alice"))

		hello := "Hi bob! This message went through imscript (" + lang + ")."
		alice.say(hello)
		bob.until("alice's message", jsMessage("alice", hello))
		alice.until("alice's own message", jsMessage("alice", hello))
		reply := "Hello alice, got it. History, receipts and typing all work."
		bob.say(reply)
		alice.until("bob's reply", jsMessage("bob", reply))

		// alice looks at #dev: new messages in #lobby show as a badge.
		alice.say("/join dev")
		alice.until("alice in #dev", `!!document.querySelector('#rooms li.active[data-room="dev"]')`)
		bob.say("Are you still around?")
		bob.say("I will be in #lobby.")
		alice.until("the unread badge of #lobby", jsBadge("#lobby", 2))
		alice.until("the tab title", `document.title.startsWith("(2)")`)
		alice.click("back to #lobby", `#rooms li[data-room="lobby"]`)
		alice.until("the badge gone", jsNoBadge("#lobby"))
		alice.until("bob's messages", jsMessage("bob", "I will be in #lobby."))

		// A reload shows the history.
		bob.do("reload", chromedp.Reload())
		bob.until("bob online after the reload", jsOnline)
		bob.until("the history after the reload", jsMessage("alice", hello)+` && `+jsMessage("bob", "I will be in #lobby."))
		bob.until("no unread after the reload", jsNoBadge("#lobby"))
		shot(bob, "lobby-1280")

		// bob logs out; alice writes to him; he finds it at his next login.
		bob.click("log out", "#logout")
		bob.until("the log-in form after logging out", jsAuthForm)
		alice.until("bob offline in the member list", jsOffline("bob"))
		alice.click("open a conversation with bob", `#members li[data-nick="bob"]`)
		alice.until("the conversation with bob", `document.getElementById("conv-title").textContent === "@bob"`)
		pm := "Psst, bob: this waited for you while you were away."
		alice.say(pm)
		alice.until("alice's private message", jsMessage("alice", pm))
		alice.click("back to #lobby", `#rooms li[data-room="lobby"]`)
		bob.auth(false, "bob", "bob-password")
		bob.until("alice's conversation with an unread badge", jsBadge("@alice", 1))
		bob.until("the total on the title", `document.title.startsWith("(1)")`)
		alice.click("the conversation with bob", `#dms li[data-dm="bob"]`)
		bob.click("open the conversation", `#dms li[data-dm="alice"]`)
		bob.until("the private message", jsMessage("alice", pm))
		bob.until("the badge gone", jsNoBadge("@alice"))
		alice.until(`"Seen" under alice's message`, `!!document.querySelector("#messages .seen")`)
		bob.do("type without sending", chromedp.SendKeys(chromedp.CSS("#input"), "Thanks, I am b"))
		alice.until("bob is typing", `document.getElementById("typing").textContent.includes("bob is typing")`)
		shot(alice, "seen-1280")
		bob.do("finish the message", chromedp.SendKeys(chromedp.CSS("#input"), "ack!\r"))
		alice.until("bob's answer", jsMessage("bob", "Thanks, I am back!"))
		shot(bob, "dm-1280")

		// Too fast: the page shows the rate-limit error.
		alice.click("back to #lobby", `#rooms li[data-room="lobby"]`)
		alice.eval("send 80 messages at once", `(() => {
			const f = document.getElementById("send-form"), i = document.getElementById("input");
			for (let k = 0; k < 80; k++) { i.value = "flood " + k; f.requestSubmit(); }
			return true;
		})()`)
		alice.until("the rate-limit error", jsNotice("Slow down"))

		// A fresh page shows the last 50 messages; "load older" the rest.
		bob.do("reload", chromedp.Reload())
		bob.until("bob online after the reload", jsOnline)
		bob.click("#lobby", `#rooms li[data-room="lobby"]`)
		bob.until("the last messages", jsMessage("alice", "flood 59"))
		bob.until("50 messages", `document.querySelectorAll("#messages .msg").length === 50`)
		bob.until("older ones not loaded", `!(`+jsMessage("alice", hello)+`)`)
		bob.click("load older", "#load-older")
		bob.until("the older messages", jsMessage("alice", hello)+` && document.querySelectorAll("#messages .msg").length > 60`)
		bob.until("the beginning of the room", `!document.getElementById("load-older") && !!document.querySelector("#messages .start")`)

		// The phone layout: no horizontal scrolling, the drawers reach the
		// rooms, the conversations and the members.
		bob.do("phone size", chromedp.EmulateViewport(390, 844))
		bob.until("the sidebar hidden", jsNavClosed)
		bob.openNav()
		bob.click("#lobby in the drawer", `#rooms li[data-room="lobby"]`)
		bob.until("the drawer closed on choosing", jsNavClosed)
		bob.until("#lobby on the phone", jsMessage("alice", hello))
		bob.until("no horizontal scrolling", `document.documentElement.scrollWidth <= 390 && document.body.scrollWidth <= 390`)
		shot(bob, "lobby-390")
		bob.openNav()
		shot(bob, "drawer-390")
		bob.click("a conversation in the drawer", `#dms li[data-dm="alice"]`)
		bob.until("the drawer closed", jsNavClosed)
		bob.until("the conversation on the phone", jsMessage("alice", pm))
		bob.until("no horizontal scrolling", `document.documentElement.scrollWidth <= 390`)
		shot(bob, "dm-390")
		bob.click("open the members drawer", "#open-members")
		bob.until("the members drawer open", jsMembersOpen)
		shot(bob, "members-390")
		bob.click("close the drawer", "#backdrop")
		bob.openNav()
		bob.click("log out", "#logout")
		bob.until("the log-in form", jsAuthForm)
		shot(bob, "login-390")
		bob.auth(false, "bob", "bob-password")

		// Restart the server on the same port with the same --data: both
		// tabs reconnect on their own and recover (no reload, no duplicate).
		port := s.port
		s.kill()
		alice.until("the lost connection", `!(`+jsOnline+`)`)
		s = startChat(t, lang, env("PORT", strconv.Itoa(port)), "--data", data)
		alice.until("alice back online", jsOnline)
		bob.until("bob back online", jsOnline)
		alice.click("back to #lobby", `#rooms li[data-room="lobby"]`)
		alice.until("bob back in the member list", jsMember("bob"))
		back := "Still here after the restart."
		bob.click("back to #lobby", `#rooms li[data-room="lobby"]`)
		bob.say(back)
		alice.until("bob's message after the restart", jsMessage("bob", back))
		alice.until("the history kept, once", jsOnce(hello))
		alice.until("no reload notice", `!(`+jsNotice("reloaded")+`)`)
		alice.until("no unread conversation after the restart", jsNoBadge("@bob"))
		shot(alice, "recovered-1280")

		// Once more without --data (history in memory, accounts in the same
		// database): the rooms' history is gone, and the page says so.
		s.kill()
		alice.until("the lost connection", `!(`+jsOnline+`)`)
		startChat(t, lang, env("PORT", strconv.Itoa(port), "CHAT_DATA", data))
		alice.until("alice back online", jsOnline)
		alice.until("the reload notice", jsNotice("history no longer reaches back — reloaded"))
		bob.until("bob back online", jsOnline)
		bob.say("And after a restart that lost the history.")
		alice.until("bob's message after the second restart", jsMessage("bob", "And after a restart that lost the history."))
		shot(alice, "reloaded-1280")
	})
}
