package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// pool is BENCH_POOL: the most connections to the database.
func pool() int {
	n, err := strconv.Atoi(os.Getenv("BENCH_POOL"))
	if err != nil || n < 1 {
		log.Fatalf("goref: BENCH_POOL %q: want the pool size, at least 1", os.Getenv("BENCH_POOL"))
	}
	return n
}

type user struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	Created int64  `json:"created"`
}

// sqliteHandler answers GET /user?id=N with row N of BENCH_SQLITE's users
// as JSON: database/sql with at most n connections, opened as imscript.sql
// opens a SQLite file (WAL, synchronous=NORMAL, 5 s busy timeout, foreign
// keys, immediate transactions).
func sqliteHandler(n int) http.HandlerFunc {
	path := os.Getenv("BENCH_SQLITE")
	if path == "" {
		log.Fatal("goref: BENCH_SQLITE is not set")
	}
	db, err := sql.Open("sqlite", path+"?_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_txlock=immediate")
	if err != nil {
		log.Fatalf("goref: %v", err)
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad id"})
			return
		}
		var u user
		err = db.QueryRowContext(r.Context(), "SELECT id, name, email, created FROM users WHERE id = ?", id).Scan(&u.ID, &u.Name, &u.Email, &u.Created)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, &u)
		}
	})
	return mux.ServeHTTP
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// redisHandler answers GET /get?k=KEY with the value of KEY in BENCH_REDIS
// as text: go-redis with at most n connections, configured as
// imscript.redis configures it (RESP2, no CLIENT SETINFO, no maintenance
// notifications).
func redisHandler(n int) http.HandlerFunc {
	opt, err := redis.ParseURL(os.Getenv("BENCH_REDIS"))
	if err != nil {
		log.Fatalf("goref: BENCH_REDIS: %v", err)
	}
	opt.PoolSize = n
	opt.Protocol = 2
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	rdb := redis.NewClient(opt)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, err := rdb.Get(r.Context(), r.URL.Query().Get("k")).Result()
		switch {
		case errors.Is(err, redis.Nil):
			http.Error(w, "not found", http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(v))
		}
	})
	return mux.ServeHTTP
}
