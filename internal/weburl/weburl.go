// Package weburl holds the few questions ipnd asks of an http(s) URL given
// by a user (a receiver's URL, the -api URL of the CLI, a node's RPC URL) in
// one place: which host it names, whether it carries credentials, and how
// to show it without them.
package weburl

import (
	"net/url"
	"strings"
)

// Host is what ipnd says or keys on of a URL: its host and port in lower
// case, never its user information, path or query (which may carry a
// token). It is "?" for a string that is not a URL with a host.
func Host(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "?"
	}
	return strings.ToLower(u.Host)
}

// HasCredentials reports whether raw carries a user name or password
// (http://user:pass@host/): ipnd refuses those as receiver URLs (they would
// be stored, logged and sent along with every IPN).
func HasCredentials(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	return err == nil && u.User != nil
}

// Redact is raw with its user information replaced by "xxxxx" (user name
// and password alike: the CLI's -api URL carries the API key as its user
// name), for logs and error messages. A string that does not parse as a
// URL, or parses without a host (no scheme: "KEY@host"), is returned as "?"
// when it contains an '@' (it may hold a secret).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "?"
		}
		return raw
	}
	if u.User == nil {
		if u.Host == "" && strings.Contains(raw, "@") {
			return "?" // no scheme ("KEY@host"): a path that may hold a secret
		}
		return raw
	}
	u.User = url.User("xxxxx")
	return u.String()
}
