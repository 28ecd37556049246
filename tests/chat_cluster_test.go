package tests

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The chat on two nodes of a cluster (embedded NATS), one browser on each:
// the accounts are in one SQLite file both nodes open (CHAT_DB), rooms,
// presence, private messages and history go through the cluster. alice
// is on n1, bob on n2: each sees the other online, their messages reach
// each other once, a private message reaches bob's node with its badge, a
// reload on n2 shows what was said on n1, and logging out on n2 shows bob
// offline on n1. Screenshots go to tests/artifacts/.
func TestChatTwoNodes(t *testing.T) {
	t.Parallel()
	chrome := needChromium(t)
	artifacts := filepath.Join(repoRoot, "tests", "artifacts")
	eachLang(t, func(t *testing.T, lang string) {
		db := "sqlite:" + filepath.Join(t.TempDir(), "chat.db")
		nodes := startNodes(t, lang, 2, example(lang, "chat"), func(n *clusterNode) {
			n.env = map[string]string{"CHAT_DB": db}
		})
		url1 := "http://" + nodes[0].s.addr() + "/"
		url2 := "http://" + nodes[1].s.addr() + "/"

		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
		defer cancel()
		shot := func(tb *chatTab, name string) { tb.screenshot(artifacts, "chat-two-nodes-"+lang+"-"+name) }
		var tabs []*chatTab
		alice := newTab(t, startBrowser(t, ctx, chrome), "alice (n1)", &tabs)
		alice.open(url1, 1280, 800)
		alice.auth(true, "alice", "alice-password")
		bob := alice.otherBrowser("bob (n2)")
		bob.open(url2, 1280, 800)
		// bob's account is made on n2, in the database n1 uses too.
		bob.auth(true, "bob", "bob-password")
		alice.until("bob (on n2) online in alice's member list", jsMember("bob"))
		bob.until("alice (on n1) online in bob's member list", jsMember("alice"))

		hello := "Hi bob, this is n1 (" + lang + ")."
		alice.say(hello)
		bob.until("alice's message on n2", jsMessage("alice", hello))
		reply := "Hello alice, n2 here."
		bob.say(reply)
		alice.until("bob's reply on n1", jsMessage("bob", reply))
		alice.until("each message once on n1", jsOnce(hello)+" && "+jsOnce(reply))
		bob.until("each message once on n2", jsOnce(hello)+" && "+jsOnce(reply))

		// A private message from n2 to the user on n1 (sendToUid across nodes).
		bob.click("open a conversation with alice", `#members li[data-nick="alice"]`)
		bob.until("the conversation with alice", `document.getElementById("conv-title").textContent === "@alice"`)
		pm := "A private word from n2."
		bob.say(pm)
		bob.until("bob's private message", jsMessage("bob", pm))
		alice.until("bob's conversation with an unread badge on n1", jsBadge("@bob", 1))
		alice.click("open the conversation", `#dms li[data-dm="bob"]`)
		alice.until("the private message on n1", jsMessage("bob", pm))
		alice.until("bob (on n2) online in the conversation on n1", jsMember("bob"))
		shot(alice, "alice-n1")
		// A fresh page on n1: its list of conversations says bob is online
		// (a user's presence is cluster-wide, its connections are not).
		alice.do("reload", chromedp.Reload())
		alice.until("alice online after the reload", jsOnline)
		alice.until("bob online in alice's conversations", `!!document.querySelector('#dms li[data-dm="bob"] .avatar.on')`)

		// A reload on n2 reads the room's history through the cluster.
		bob.click("back to #lobby", `#rooms li[data-room="lobby"]`)
		bob.do("reload", chromedp.Reload())
		bob.until("bob online after the reload", jsOnline)
		bob.until("the history after the reload, each once", jsMessage("alice", hello)+" && "+jsOnce(hello)+" && "+jsOnce(reply))
		shot(bob, "bob-n2")

		// bob leaves on n2: n1 shows him offline at once (not after the TTL).
		bob.click("log out", "#logout")
		bob.until("the log-in form after logging out", jsAuthForm)
		alice.click("back to #lobby", `#rooms li[data-room="lobby"]`)
		alice.until("bob offline in alice's member list", jsOffline("bob"))
	})
}
