package monero

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// digestChallenge is one parsed "WWW-Authenticate: Digest ..." header
// (RFC 7616). Only MD5 and MD5-sess with qop=auth are answered, which is what
// monero-wallet-rpc offers.
type digestChallenge struct {
	realm     string
	nonce     string
	opaque    string
	algorithm string // "MD5" or "MD5-SESS" (upper case)
	qop       string // "auth" or "" (RFC 2069 style)
	stale     bool
}

// parseDigestChallenges picks the best digest challenge of a 401 answer:
// MD5 before MD5-sess. ok is false when none can be answered.
func parseDigestChallenges(h http.Header) (digestChallenge, bool) {
	var best digestChallenge
	found := false
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Digest") {
			continue
		}
		p := parseAuthParams(rest)
		c := digestChallenge{
			realm:     p["realm"],
			nonce:     p["nonce"],
			opaque:    p["opaque"],
			algorithm: strings.ToUpper(p["algorithm"]),
			stale:     strings.EqualFold(p["stale"], "true"),
		}
		if c.algorithm == "" {
			c.algorithm = "MD5"
		}
		if c.algorithm != "MD5" && c.algorithm != "MD5-SESS" {
			continue
		}
		if q, ok := p["qop"]; ok {
			auth := false
			for _, o := range strings.Split(q, ",") {
				if strings.EqualFold(strings.TrimSpace(o), "auth") {
					auth = true
				}
			}
			if !auth {
				continue // only auth-int offered
			}
			c.qop = "auth"
		}
		if c.nonce == "" {
			continue
		}
		if !found || (best.algorithm != "MD5" && c.algorithm == "MD5") {
			best, found = c, true
		}
	}
	return best, found
}

// parseAuthParams reads comma-separated name=value pairs whose values may be
// quoted strings containing commas and backslash escapes.
func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return out
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val strings.Builder
		if strings.HasPrefix(s, `"`) {
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
			}
			s = s[min(i+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val.WriteString(strings.TrimSpace(s[:end]))
			s = s[end:]
		}
		out[name] = val.String()
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// digestAuth holds the current challenge and the nonce count used with it.
type digestAuth struct {
	user, pass string
	ch         digestChallenge
	nc         uint32
	have       bool
}

// authorization returns the Authorization header value for a request with
// method and uri, advancing the nonce count.
func (d *digestAuth) authorization(method, uri string) string {
	d.nc++
	cb := make([]byte, 8)
	_, _ = rand.Read(cb)
	cnonce := hex.EncodeToString(cb)
	nc := fmt.Sprintf("%08x", d.nc)
	ha1 := md5hex(d.user + ":" + d.ch.realm + ":" + d.pass)
	if d.ch.algorithm == "MD5-SESS" {
		ha1 = md5hex(ha1 + ":" + d.ch.nonce + ":" + cnonce)
	}
	ha2 := md5hex(method + ":" + uri)
	var resp string
	if d.ch.qop == "auth" {
		resp = md5hex(ha1 + ":" + d.ch.nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
	} else {
		resp = md5hex(ha1 + ":" + d.ch.nonce + ":" + ha2)
	}
	alg := "MD5"
	if d.ch.algorithm == "MD5-SESS" {
		alg = "MD5-sess"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username=%s, realm=%s, nonce=%s, uri=%s, algorithm=%s, response="%s"`,
		quote(d.user), quote(d.ch.realm), quote(d.ch.nonce), quote(uri), alg, resp)
	if d.ch.qop == "auth" {
		fmt.Fprintf(&b, `, qop=auth, nc=%s, cnonce="%s"`, nc, cnonce)
	}
	if d.ch.opaque != "" {
		fmt.Fprintf(&b, `, opaque=%s`, quote(d.ch.opaque))
	}
	return b.String()
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
