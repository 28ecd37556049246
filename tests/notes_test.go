package tests

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestNotesAPI: the notes_api example (SQLite, suspending Lua handlers,
// async JS ones) as a REST client uses it, on two workers: create with
// 201 and Location, validation errors (400 for bad JSON, 422 for bad
// fields), get, list in order, 404s, delete with 204, 50 concurrent
// creates all stored once, and the data kept across a restart.
func TestNotesAPI(t *testing.T) {
	t.Parallel()
	eachLang(t, func(t *testing.T, lang string) {
		dbPath := filepath.Join(t.TempDir(), "notes.db")
		s := start(t, example(lang, "notes_api"), runOpts{env: map[string]string{"NOTES_DB": dbPath}})
		c := &http.Client{}
		do := func(method, path, body string) (*http.Response, []byte) {
			t.Helper()
			var rd *strings.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			var req *http.Request
			if rd != nil {
				req = hcRequest(t, method, s.url(path), rd)
				req.Header.Set("Content-Type", "application/json")
			} else {
				req = hcRequest(t, method, s.url(path), nil)
			}
			return hcDo(t, c, req)
		}
		resp, body := do("POST", "/notes", `{"title":"milk","body":"2 l"}`)
		wantStatus(t, resp, body, 201)
		created := jsonBody(t, resp, body)
		if created["id"] != 1.0 || created["title"] != "milk" || created["body"] != "2 l" || resp.Header.Get("Location") != "/notes/1" {
			t.Fatalf("created %v, Location %q", created, resp.Header.Get("Location"))
		}
		resp, body = do("POST", "/notes", `{"title":"bread"}`)
		wantStatus(t, resp, body, 201)

		for _, tc := range []struct {
			body   string
			status int
			err    string
		}{
			{`{"title":`, 400, "bad JSON body"},
			{`[1,2]`, 422, "the body must be a JSON object"},
			{`{"body":"no title"}`, 422, "title: a string of 1 to 200 bytes is required"},
			{`{"title":""}`, 422, "title:"},
			{`{"title":"` + strings.Repeat("x", 201) + `"}`, 422, "title:"},
			{`{"title":"t","body":5}`, 422, "body: a string of at most 10000 bytes"},
		} {
			resp, body := do("POST", "/notes", tc.body)
			wantStatus(t, resp, body, tc.status)
			if e, _ := jsonBody(t, resp, body)["error"].(string); !strings.HasPrefix(e, tc.err) {
				t.Errorf("POST %.40s: error %q, want %q...", tc.body, e, tc.err)
			}
		}

		resp, body = do("GET", "/notes/1", "")
		wantStatus(t, resp, body, 200)
		wantJSON(t, resp, body, `{"id":1,"title":"milk","body":"2 l","created":`+jsonNumber(created["created"])+`}`)
		for path, status := range map[string]int{"/notes/99": 404, "/notes/abc": 400, "/notes/0": 400, "/notes?limit=0": 400} {
			resp, body := do("GET", path, "")
			wantStatus(t, resp, body, status)
		}
		resp, body = do("PUT", "/notes/1", `{}`)
		wantStatus(t, resp, body, 405)

		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, body := do("POST", "/notes", `{"title":"many"}`)
				if resp.StatusCode != 201 {
					t.Errorf("concurrent create: %s %q", resp.Status, body)
				}
			}()
		}
		wg.Wait()
		list := func() []map[string]any {
			resp, body := do("GET", "/notes?limit=1000", "")
			wantStatus(t, resp, body, 200)
			var l []map[string]any
			if err := json.Unmarshal(body, &l); err != nil {
				t.Fatalf("list: %v: %q", err, body)
			}
			return l
		}
		l := list()
		if len(l) != 52 || l[0]["title"] != "milk" || l[1]["title"] != "bread" {
			t.Fatalf("list: %d notes, first %v", len(l), l[:min(2, len(l))])
		}
		for i := 1; i < len(l); i++ {
			if l[i]["id"].(float64) <= l[i-1]["id"].(float64) {
				t.Fatalf("list out of order at %d", i)
			}
		}

		resp, body = do("DELETE", "/notes/2", "")
		wantStatus(t, resp, body, 204)
		resp, body = do("DELETE", "/notes/2", "")
		wantStatus(t, resp, body, 404)

		// The same database after a restart.
		s.kill()
		s = start(t, example(lang, "notes_api"), runOpts{env: map[string]string{"NOTES_DB": dbPath}})
		if l := list(); len(l) != 51 || l[0]["title"] != "milk" {
			t.Fatalf("after a restart: %d notes", len(l))
		}
	})
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
