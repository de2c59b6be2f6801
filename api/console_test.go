package api

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/console"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
)

// The console mounted on a TLS API server (as the api role mounts it):
// it answers at /console without the API key, its cookies are Secure with
// the __Secure- prefix, and stopping the server ends its event streams at
// once instead of holding the graceful stop for its whole grace.
func TestConsoleMountedUnderTLS(t *testing.T) {
	l := dbtest.Ledger(t, "sqlite", db.Options{})
	o := testOptions(l, map[chains.Chain]Chain{chains.BTC: newFake(chains.BTC, l)}, harnessOpts{})
	cert, key, pool := selfSigned(t, t.TempDir())
	o.Server.TLSCert, o.Server.TLSKey = cert, key
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c, err := console.New(console.Options{Store: db.ConsoleStore{Ledger: l, Chains: []chains.Chain{chains.BTC}},
		Auth: console.Keys(testKey), Secure: s.TLS()})
	if err != nil {
		t.Fatal(err)
	}
	s.MountConsole(c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	base := "https://" + ln.Addr().String()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := hc.Get(base + "/console/signin")
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age") {
		t.Fatalf("sign-in page over TLS: %d %v", resp.StatusCode, resp.Header)
	}
	for _, ck := range resp.Cookies() {
		if !strings.HasPrefix(ck.Name, "__Secure-") || !ck.Secure || !ck.HttpOnly {
			t.Errorf("cookie %s: Secure %v, HttpOnly %v", ck.Name, ck.Secure, ck.HttpOnly)
		}
	}
	tok := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if tok == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/console/signin", strings.NewReader(url.Values{"key": {testKey}, "csrf": {tok[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 || !resp.Cookies()[0].Secure {
		t.Fatalf("sign-in: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}

	resp, err = hc.Get(base + "/console/events/overview")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("event stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() && lines.Text() != "event: update" {
	}
	ended := make(chan struct{})
	go func() {
		for lines.Scan() {
		}
		close(ended)
	}()
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(ShutdownGrace + 5*time.Second):
		t.Fatal("Serve did not return")
	}
	<-ended
	if d := time.Since(stopped); d > ShutdownGrace/2 {
		t.Errorf("the stop took %v with a live stream open: the console's streams held it", d)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}
