package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Keys is an Authenticator for a fixed list of API keys (server.api_keys).
// It keeps only their SHA-256 digests and compares a candidate's digest
// with every one of them, so neither how much of a key matched nor which
// key did shows in the time it takes.
func Keys(keys ...string) Authenticator {
	k := keyList{}
	for _, key := range keys {
		if key != "" {
			k = append(k, sha256.Sum256([]byte(key)))
		}
	}
	return k
}

type keyList [][32]byte

func (k keyList) Authenticate(key string) bool {
	got := sha256.Sum256([]byte(key))
	match := 0
	for _, want := range k {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1 && key != ""
}

// Sign-in attempts per client: a burst of signInBurst, then one every
// signInEvery. Plenty for a person who mistyped, hopeless for guessing.
const (
	signInBurst = 5
	signInEvery = 10 * time.Second
	// maxClients bounds the limiter's memory; when every slot is taken by
	// a client still being slowed down, sign-in waits for all.
	maxClients = 10000
)

// limiter is a token bucket per client.
type limiter struct {
	burst float64
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst int, every time.Duration, now func() time.Time) *limiter {
	return &limiter{burst: float64(burst), every: every, now: now, clients: map[string]*bucket{}}
}

// allow takes a token for client; when there is none it says how long
// until there will be.
func (l *limiter) allow(client string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[client]
	if b == nil {
		if len(l.clients) >= maxClients {
			l.sweepLocked(now)
		}
		if len(l.clients) >= maxClients {
			return false, l.every
		}
		b = &bucket{tokens: l.burst, at: now}
		l.clients[client] = b
	}
	b.tokens = l.refill(b, now)
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	return true, 0
}

func (l *limiter) refill(b *bucket, now time.Time) float64 {
	return math.Min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
}

// sweepLocked forgets clients whose bucket is full again.
func (l *limiter) sweepLocked(now time.Time) {
	for k, b := range l.clients {
		if l.refill(b, now) >= l.burst {
			delete(l.clients, k)
		}
	}
}

// maxKeyBytes: no API key is longer; a longer field is refused unhashed.
const maxKeyBytes = 1024

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request) {
	if c.session(r) != nil {
		http.Redirect(w, r, c.path("/"), http.StatusSeeOther)
		return
	}
	c.renderSignIn(w, r, http.StatusOK, "")
}

// renderSignIn shows the sign-in form with a fresh form token (in a cookie
// and a hidden field: the form is state-changing too, and there is no
// session to hold a token yet).
func (c *Console) renderSignIn(w http.ResponseWriter, r *http.Request, status int, message string) {
	token := newToken()
	c.setCookie(w, signInCookie, token, signInTTL)
	c.render(w, r, status, "signin", view{Title: "Sign in", CSRF: token, Flash: errorFlash(message), Data: c.o.IdleTimeout})
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := c.cop.Check(r); err != nil {
		c.log.Warn("sign-in refused: cross-origin request")
		c.renderSignIn(w, r, http.StatusForbidden, "This form was not sent from the console. Try again.")
		return
	}
	client := c.o.ClientAddr(r)
	if ok, wait := c.limiter.allow(client); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.log.Debug("sign-in refused: too many attempts", "client", client)
		c.renderSignIn(w, r, http.StatusTooManyRequests, "Too many attempts. Wait "+strconv.Itoa(secs)+" s and try again.")
		return
	}
	if err := r.ParseForm(); err != nil {
		c.renderSignIn(w, r, http.StatusBadRequest, "The form could not be read. Try again.")
		return
	}
	cookieToken := c.cookie(r, signInCookie)
	formToken := r.PostForm.Get("csrf")
	if cookieToken == "" || subtle.ConstantTimeCompare([]byte(cookieToken), []byte(formToken)) != 1 {
		c.log.Warn("sign-in refused: missing or wrong form token", "client", client)
		c.renderSignIn(w, r, http.StatusForbidden, "The form has expired (or cookies are off). Try again.")
		return
	}
	key := r.PostForm.Get("key")
	if len(key) > maxKeyBytes || !c.o.Auth.Authenticate(key) {
		c.log.Warn("sign-in refused: wrong key", "client", client)
		c.renderSignIn(w, r, http.StatusUnauthorized, "Sign-in failed. Check the API key and try again.")
		return
	}
	// A fresh session every time: an id set before sign-in is never
	// promoted.
	if old := c.session(r); old != nil {
		c.sessions.remove(old)
	}
	id, _ := c.sessions.create()
	c.setCookie(w, signInCookie, "", 0)
	c.setCookie(w, sessionCookie, id, c.o.SessionTTL)
	c.log.Info("operator signed in", "client", client)
	http.Redirect(w, r, c.path("/"), http.StatusSeeOther)
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	c.sessions.remove(s)
	c.setCookie(w, sessionCookie, "", 0)
	c.log.Info("operator signed out")
	http.Redirect(w, r, c.path("/signin"), http.StatusSeeOther)
}
