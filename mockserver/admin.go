package mockserver

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 1 << 20

// adminHandler serves the control plane. Every endpoint calls the same
// methods as the Go API, so the two cannot disagree.
//
//	GET    /__admin/health          liveness and counters
//	POST   /__admin/tokens          TokenSpec in, {"token", "expires_at"} out
//	GET    /__admin/clock           {"now", "offset"}
//	POST   /__admin/clock           {"advance": "3m"}
//	GET    /__admin/requests        the journal, a page at a time (?since=SEQ: only newer
//	                                entries; ?limit=N: at most N, default 1000)
//	DELETE /__admin/requests        clear the journal
//	GET    /__admin/rules           active rules
//	POST   /__admin/rules           add a rule
//	DELETE /__admin/rules           delete all rules
//	DELETE /__admin/rules/{id}      delete one rule
//	GET    /__admin/sites           registered sites (with secrets)
//	POST   /__admin/sites           register a site
//	POST   /__admin/reset           back to the starting state
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__admin/health", s.adminHealth)
	mux.HandleFunc("POST /__admin/tokens", s.adminIssue)
	mux.HandleFunc("GET /__admin/clock", s.adminClock)
	mux.HandleFunc("POST /__admin/clock", s.adminAdvance)
	mux.HandleFunc("GET /__admin/requests", s.adminRequests)
	mux.HandleFunc("DELETE /__admin/requests", func(w http.ResponseWriter, r *http.Request) {
		s.journal.clear()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /__admin/rules", func(w http.ResponseWriter, r *http.Request) {
		rules := s.Rules() // Match.Secret already a fingerprint
		for i := range rules {
			rules[i].Match = s.echoMatch(rules[i].Match, true)
		}
		writeJSON(w, http.StatusOK, map[string]any{"rules": rules})
	})
	mux.HandleFunc("POST /__admin/rules", s.adminAddRule)
	mux.HandleFunc("DELETE /__admin/rules", func(w http.ResponseWriter, r *http.Request) {
		s.rules.clear()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /__admin/rules/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.RemoveRule(r.Context(), r.PathValue("id")); err != nil {
			adminError(w, http.StatusNotFound, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /__admin/sites", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"default": s.Site(), "sites": s.Sites()})
	})
	mux.HandleFunc("POST /__admin/sites", s.adminAddSite)
	mux.HandleFunc("POST /__admin/reset", func(w http.ResponseWriter, r *http.Request) {
		s.reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/__admin/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "no admin endpoint %s %s; see GET /__admin/health", r.Method, r.URL.Path)
	})
	return s.requireAdminToken(mux)
}

// requireAdminToken checks the bearer token in constant time when one is
// configured.
func (s *Server) requireAdminToken(next http.Handler) http.Handler {
	if s.adminToken == "" {
		return next
	}
	want := []byte(s.adminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="siteverify admin"`)
			adminError(w, http.StatusUnauthorized, "admin API needs Authorization: Bearer <admin token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) adminHealth(w http.ResponseWriter, r *http.Request) {
	j := s.journal
	j.mu.Lock()
	seq := j.seq
	j.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"status":        "ok",
		"url":           s.URL(),
		"verify_url":    s.VerifyURL(),
		"now":           s.Now(),
		"requests_seen": seq,
		"spent_tokens":  s.spent.len(),
		"rules":         s.rules.count.Load(),
		"goroutines":    runtime.NumGoroutine(), // for soak runs: hung or leaked handlers show here
	})
}

// adminRequests answers a page of the journal: the oldest entries after
// ?since=, at most ?limit= of them, and no more once the answer passes
// JournalPageBytes. Entries are encoded one at a time, so the answer's size
// is known before it is sent.
func (s *Server) adminRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since uint64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			adminError(w, http.StatusBadRequest, "since=%q: want a sequence number such as 42", v)
			return
		}
		since = n
	}
	limit := DefaultJournalPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxJournalPage {
			adminError(w, http.StatusBadRequest, "limit=%q: want a number of entries from 1 to %d (default %d)", v, MaxJournalPage, DefaultJournalPage)
			return
		}
		limit = n
	}
	j := s.journal.page(since, limit)
	var b []byte
	b = append(b, "{\n  \"entries\": ["...)
	for i, e := range j.Entries {
		if i > 0 && len(b) >= JournalPageBytes {
			j.Entries, j.More = j.Entries[:i], true
			break
		}
		eb, err := json.MarshalIndent(e, "    ", "  ")
		if err != nil {
			adminError(w, http.StatusInternalServerError, "encode journal entry %d: %v", e.Seq, err)
			return
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = append(b, eb...)
	}
	if len(j.Entries) > 0 {
		b = append(b, "\n  "...)
	}
	b = fmt.Appendf(b, "],\n  \"dropped\": %d,\n  \"capacity\": %d,\n  \"received\": %d", j.Dropped, j.Capacity, j.Received)
	if j.More {
		b = append(b, ",\n  \"more\": true"...)
	}
	b = append(b, "\n}\n"...)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Server) adminIssue(w http.ResponseWriter, r *http.Request) {
	var spec TokenSpec
	if !readJSON(w, r, &spec) {
		return
	}
	iss, err := s.issue(spec)
	if err != nil {
		if fp, secret := s.registeredFingerprint(spec.SiteKey); secret {
			// The message would abbreviate the sitekey: not a secret's.
			adminError(w, http.StatusBadRequest, "token spec: sitekey: that is a secret key (%s); tokens name the public sitekey", fp)
			return
		}
		adminError(w, http.StatusBadRequest, "token spec: %v", err)
		return
	}
	writeJSON(w, http.StatusCreated, iss)
}

type clockJSON struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
}

func (s *Server) clockState() clockJSON {
	return clockJSON{Now: s.Now(), Offset: time.Duration(s.clock.offset.Load()).String()}
}

func (s *Server) adminClock(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.clockState())
}

func (s *Server) adminAdvance(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Advance string `json:"advance"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	d, err := parseDuration("advance", req.Advance)
	if err == nil && d <= 0 {
		err = fmt.Errorf("advance %q: want a positive duration such as \"3m\" (the clock never runs backwards; POST /__admin/reset restores it)", req.Advance)
	}
	if err == nil {
		err = s.clock.advance(d)
	}
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, s.clockState())
}

func (s *Server) adminAddRule(w http.ResponseWriter, r *http.Request) {
	var rule Rule
	if !readJSON(w, r, &rule) {
		return
	}
	added, err := s.rules.add(rule)
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	added.Match = s.echoMatch(added.Match, false) // as the list shows it
	writeJSON(w, http.StatusCreated, added)
}

func (s *Server) adminAddSite(w http.ResponseWriter, r *http.Request) {
	var site Site
	if !readJSON(w, r, &site) {
		return
	}
	added, err := s.addSite(site)
	if err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, added)
}

// readJSON decodes a bounded, strict JSON body, answering 400 on failure.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		adminError(w, http.StatusBadRequest, "read body: %v", err)
		return false
	}
	if len(body) > maxAdminBody {
		adminError(w, http.StatusRequestEntityTooLarge, "body larger than %d bytes", maxAdminBody)
		return false
	}
	if err := strictUnmarshal(body, v); err != nil {
		adminError(w, http.StatusBadRequest, "%v", err)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		adminError(w, http.StatusInternalServerError, "encode: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// adminError answers {"error": "..."}.
func adminError(w http.ResponseWriter, status int, format string, args ...any) {
	b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf(format, args...)})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
