package clientip

import (
	"net/http"
	"testing"
)

func TestClientDirect(t *testing.T) {
	var r Resolver // no proxy trusted: X-Forwarded-For is the client's own words
	for addr, want := range map[string]string{
		"192.0.2.7:5555":             "192.0.2.7",
		"[::ffff:192.0.2.7]:5555":    "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:443":      "2001:db8:1:3::/64",
		"[fe80::1%eth0]:80":          "fe80::/64",
		"not an address":             "not an address",
	} {
		req := &http.Request{RemoteAddr: addr, Header: http.Header{"X-Forwarded-For": {"203.0.113.9"}}}
		if got := r.Client(req); got != want {
			t.Errorf("Client(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestClientBehindProxies(t *testing.T) {
	r, err := New([]string{"127.0.0.1", "10.0.0.0/8", " fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"127.0.0.1:40000", []string{"203.0.113.9"}, "203.0.113.9"},
		// The client may write anything left of what the proxies appended.
		{"127.0.0.1:40000", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"127.0.0.1:40000", []string{"1.1.1.1, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"127.0.0.1:40000", []string{"1.1.1.1", "203.0.113.9", "10.1.2.3"}, "203.0.113.9"},
		{"127.0.0.1:40000", []string{"2001:db8:5:6::7"}, "2001:db8:5:6::/64"},
		{"127.0.0.1:40000", []string{"[2001:db8:5:6::7]:443"}, "2001:db8:5:6::/64"},
		{"127.0.0.1:40000", nil, "127.0.0.1"},
		{"127.0.0.1:40000", []string{"junk, 203.0.113.9"}, "203.0.113.9"},
		{"127.0.0.1:40000", []string{"203.0.113.9, junk"}, "127.0.0.1"},
		{"10.9.9.9:1", []string{"10.1.1.1"}, "10.1.1.1"}, // every hop trusted: the leftmost
		// An untrusted peer's header is not believed.
		{"198.51.100.4:5", []string{"203.0.113.9"}, "198.51.100.4"},
	} {
		req := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
		for _, v := range tc.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		if got := r.Client(req); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %q, want %q", tc.peer, tc.xff, got, tc.want)
		}
	}
	if _, err := New([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad prefix was accepted")
	}
}
