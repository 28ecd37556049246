// Package admin serves the host's read-only status page: one HTML page
// with its chart library (uPlot, committed as the built file under assets/
// and embedded), and the JSON it polls at /api/stats. The host gives it the
// function that makes that JSON; nothing here knows the engine.
package admin

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed index.html assets
var files embed.FS

// Handler serves the page at /, the chart library under /assets/ and
// stats() as JSON at /api/stats. With a token, / and /api/stats answer 401
// unless the request carries it (Authorization: Bearer TOKEN, or
// ?token=TOKEN); the assets are the library's public files and need none.
func Handler(token string, stats func() any) http.Handler {
	assets, _ := fs.Sub(files, "assets")
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(token, r) {
			refuse(w)
			return
		}
		page, _ := files.ReadFile("index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	})
	mux.HandleFunc("GET /api/stats", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(token, r) {
			refuse(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		if err := enc.Encode(stats()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return secure(mux)
}

// authorized says whether r carries token (always, without a token).
func authorized(token string, r *http.Request) bool {
	if token == "" {
		return true
	}
	got := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		if b, ok := strings.CutPrefix(h, "Bearer "); ok {
			got = b
		}
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func refuse(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="imscript admin"`)
	http.Error(w, "401 unauthorized: this page needs the admin token (Authorization: Bearer TOKEN, or ?token=TOKEN)", http.StatusUnauthorized)
}

// secure adds headers that keep the page from being framed or sniffed.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
