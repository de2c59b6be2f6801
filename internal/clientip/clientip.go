// Package clientip names the client of an HTTP request for per-client rate
// limits (the console's sign-in, the checkout pages), also behind a reverse
// proxy: X-Forwarded-For is believed only from [server] trusted_proxies.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver names clients; its zero value trusts no proxy (the connection's
// peer is the client).
type Resolver struct {
	trusted []netip.Prefix
}

// New trusts the proxies at cidrs: CIDR prefixes (10.0.0.0/8, fd00::/8) or
// single addresses (127.0.0.1). The error names the bad entry.
func New(cidrs []string) (Resolver, error) {
	var r Resolver
	for _, s := range cidrs {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return Resolver{}, fmt.Errorf("%q is neither a CIDR prefix (10.0.0.0/8) nor an IP address", s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

func (r Resolver) trusts(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client names the client of req: the connection's peer or, when the peer
// is a trusted proxy, the rightmost address of X-Forwarded-For that is not
// a trusted proxy (each proxy appends the address it was reached from; the
// addresses left of the first untrusted one are the client's to write and
// are ignored). IPv4 addresses are returned as they are, IPv6 ones as their
// /64 (one host usually holds a whole /64 and could take a fresh address
// per request); what does not parse is returned as it is.
func (r Resolver) Client(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	client := peer.Unmap()
	if len(r.trusted) > 0 && r.trusts(client) {
		hops := forwardedFor(req.Header)
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(hops[i])
			if err != nil {
				break // garbage: the client wrote it; the last good hop stands
			}
			client = a.Unmap()
			if !r.trusts(client) {
				break
			}
		}
	}
	return name(client)
}

// forwardedFor lists every X-Forwarded-For hop, in order, over all the
// header's lines.
func forwardedFor(h http.Header) []string {
	var out []string
	for _, line := range h.Values("X-Forwarded-For") {
		for _, hop := range strings.Split(line, ",") {
			hop = strings.TrimSpace(hop)
			if h, _, err := net.SplitHostPort(hop); err == nil { // "[::1]:80", "1.2.3.4:80"
				hop = h
			}
			out = append(out, strings.Trim(hop, "[]"))
		}
	}
	return out
}

func name(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}
