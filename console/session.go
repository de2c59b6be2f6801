package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"sync"
	"time"

	"github.com/ipnd/ipnd/ipn/receivertest"
)

// Sessions live in this process's memory only: signing out ends one at
// once (and its live streams), a restart ends them all, and nothing a
// client holds is worth anything without the server's map. A cookie holds
// a random 256-bit id; the map is keyed by its SHA-256, so the ids in
// memory are not the ones on the wire.

// maxSessions bounds the map; signing in beyond it evicts the session
// used least recently (only a holder of an API key can sign in).
const maxSessions = 1000

type session struct {
	key       [32]byte // SHA-256 of the cookie's id
	csrf      string   // the forms' token
	createdAt time.Time

	mu       sync.Mutex
	lastSeen time.Time
	flash    *flash
	streams  int
	done     chan struct{} // closed when the session ends
	ended    bool
}

// flash is a one-time message shown by the next page the session loads.
type flash struct {
	Error   bool
	Message string
	// Secret is a new endpoint secret, shown this once.
	Secret string
	// Report is a receiver test's outcome.
	Report *receivertest.Report
}

// setFlash replaces the pending message.
func (s *session) setFlash(f *flash) {
	s.mu.Lock()
	s.flash = f
	s.mu.Unlock()
}

// takeFlash returns the pending message and forgets it.
func (s *session) takeFlash() *flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = nil
	return f
}

// checkCSRF compares a form's token with the session's in constant time.
func (s *session) checkCSRF(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}

// acquireStream counts a live stream of the session; false when it has max.
func (s *session) acquireStream(max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.streams >= max {
		return false
	}
	s.streams++
	return true
}

func (s *session) releaseStream() {
	s.mu.Lock()
	s.streams--
	s.mu.Unlock()
}

func (s *session) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		close(s.done)
	}
}

type sessions struct {
	ttl  time.Duration // absolute lifetime
	idle time.Duration // ends after this long without a request
	now  func() time.Time

	mu   sync.Mutex
	byID map[[32]byte]*session
}

func newSessions(ttl, idle time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, idle: idle, now: now, byID: map[[32]byte]*session{}}
}

// newToken is 32 random bytes as base32 text.
func newToken() string { return rand.Text() + rand.Text() }

// create starts a session and returns the cookie's id for it.
func (ss *sessions) create() (id string, s *session) {
	id = newToken()
	now := ss.now()
	s = &session{key: sha256.Sum256([]byte(id)), csrf: newToken(), createdAt: now, lastSeen: now, done: make(chan struct{})}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.byID) >= maxSessions {
		ss.sweepLocked(now)
	}
	if len(ss.byID) >= maxSessions {
		var oldest *session
		for _, o := range ss.byID {
			if oldest == nil || o.seen().Before(oldest.seen()) {
				oldest = o
			}
		}
		ss.removeLocked(oldest)
	}
	ss.byID[s.key] = s
	return id, s
}

func (s *session) seen() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSeen
}

// get returns the live session of id, marking it used; nil when there is
// none or it expired (an expired one is removed).
func (ss *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	key := sha256.Sum256([]byte(id))
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[key]
	if s == nil {
		return nil
	}
	if ss.expired(s, now) {
		ss.removeLocked(s)
		return nil
	}
	s.mu.Lock()
	s.lastSeen = now
	s.mu.Unlock()
	return s
}

// alive reports whether s is still signed in (for long-lived streams,
// which do not extend the session).
func (ss *sessions) alive(s *session) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byID[s.key] != s {
		return false
	}
	if ss.expired(s, ss.now()) {
		ss.removeLocked(s)
		return false
	}
	return true
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.createdAt) >= ss.ttl || now.Sub(s.seen()) >= ss.idle
}

// remove ends s (sign-out).
func (ss *sessions) remove(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.removeLocked(s)
}

func (ss *sessions) removeLocked(s *session) {
	if ss.byID[s.key] == s {
		delete(ss.byID, s.key)
	}
	s.end()
}

func (ss *sessions) sweepLocked(now time.Time) {
	for _, s := range ss.byID {
		if ss.expired(s, now) {
			ss.removeLocked(s)
		}
	}
}

// closeAll ends every session (the server is stopping).
func (ss *sessions) closeAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, s := range ss.byID {
		ss.removeLocked(s)
	}
}

// count is the number of sessions in the map, for tests.
func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.byID)
}

// Cookies. Under Secure the names carry the __Secure- prefix, which
// browsers accept only from an HTTPS origin with the Secure attribute.
const (
	sessionCookie = "ipnd_console"
	signInCookie  = "ipnd_console_signin" // the sign-in form's token (no session yet)
	signInTTL     = time.Hour
)

func (c *Console) cookieName(base string) string {
	if c.o.Secure {
		return "__Secure-" + base
	}
	return base
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{
		Name:     c.cookieName(name),
		Value:    value,
		Path:     c.o.Prefix,
		HttpOnly: true,
		Secure:   c.o.Secure,
		SameSite: http.SameSiteStrictMode,
	}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
		ck.Expires = c.o.Now().Add(maxAge).UTC()
	} else {
		ck.MaxAge = -1 // delete
	}
	http.SetCookie(w, ck)
}

func (c *Console) cookie(r *http.Request, name string) string {
	ck, err := r.Cookie(c.cookieName(name))
	if err != nil {
		return ""
	}
	return ck.Value
}

// session returns the request's live session, or nil.
func (c *Console) session(r *http.Request) *session {
	return c.sessions.get(c.cookie(r, sessionCookie))
}
