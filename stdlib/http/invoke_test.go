package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/script/scripttest"
	imhttp "github.com/imscript/imscript/stdlib/http"
)

// http.request on a fake instance: no host, no VM.

func requestFn(inst script.Instance) script.Function {
	return imhttp.Module(inst).(script.Map)["request"].(script.Function)
}

// blocker is a server whose handler holds every request until the
// request's context is done (the client went away), and says so.
type blocker struct {
	*httptest.Server
	arrived   chan string   // the request's path, when it arrives
	cancelled chan struct{} // closed when a handler saw its context done
	once      sync.Once
}

func newBlocker(t *testing.T) *blocker {
	b := &blocker{arrived: make(chan string, 16), cancelled: make(chan struct{})}
	release := make(chan struct{}) // so that Close does not wait on a failed test
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.arrived <- r.URL.Path
		select {
		case <-r.Context().Done():
			b.once.Do(func() { close(b.cancelled) })
		case <-release:
		}
	}))
	t.Cleanup(b.Close)
	t.Cleanup(func() { close(release) }) // runs before Close
	return b
}

// waitArrived waits for the request to reach the server.
func (b *blocker) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-b.arrived:
	case <-time.After(scripttest.WaitLimit):
		t.Fatal("the request did not reach the server")
	}
}

// waitCancelled waits (a few seconds: far below the request's 30 s
// timeout) for the server to see the request cancelled.
func (b *blocker) waitCancelled(t *testing.T) {
	t.Helper()
	select {
	case <-b.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the request cancelled within 5s")
	}
}

func TestRequestThroughInvoke(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Reply", "yes")
		w.WriteHeader(202)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	}))
	defer srv.Close()
	inst := scripttest.NewInstance(t)
	request := requestFn(inst)
	var got []script.Value
	cb := inst.Func(func(args ...script.Value) script.Value { got = args; return nil })
	r := inst.Invoke(request, nil, script.Map{"method": "put", "url": srv.URL + "/x?y=1", "body": "hi"}, cb)
	if r.Usage != "" {
		t.Fatal(r.Usage)
	}
	v, err := r.Await(scripttest.WaitLimit)
	if err != nil {
		t.Fatal(err)
	}
	res := v.(script.Map)
	if res["status"] != int64(202) || string(res["body"].([]byte)) != "PUT /x?y=1 hi" || res["headers"].(script.Map)["x-reply"] != "yes" || res["url"] != srv.URL+"/x?y=1" {
		t.Errorf("result %v", res)
	}
	// The callback gets the result on the instance's worker.
	if !inst.Next(scripttest.WaitLimit) || len(got) != 1 || got[0].(script.Map)["status"] != int64(202) {
		t.Errorf("the callback got %v", got)
	}
	// Misuse raises; it sends nothing.
	if r := inst.Invoke(request, nil, script.Map{"url": "ftp://x/"}); !strings.Contains(r.Usage, `"ftp://x/" is not an http:// or https:// URL`) {
		t.Errorf("ftp url: usage %q", r.Usage)
	}
}

// TestRequestEndsWithItsInstance: closing the instance (a reload, the host
// stopping) cancels its requests in flight: the server sees the client
// go, and the call settles with an error.
func TestRequestEndsWithItsInstance(t *testing.T) {
	b := newBlocker(t)
	inst := scripttest.NewInstance(t)
	r := inst.Invoke(requestFn(inst), nil, script.Map{"url": b.URL + "/block"})
	if r.Usage != "" {
		t.Fatal(r.Usage)
	}
	b.waitArrived(t)
	if _, err := r.Await(100 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not settle") {
		t.Fatalf("before the close, Await = %v; want the request still in flight", err)
	}
	inst.Close()
	b.waitCancelled(t)
	v, err := r.Await(5 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "GET "+b.URL+"/block: context canceled") {
		t.Fatalf("after the close, Await = %v, %v; want the request's cancellation", v, err)
	}
}
