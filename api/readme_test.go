package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/db/dbtest"
	"github.com/ipnd/ipnd/internal/readme"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ipn"
)

func readmeExample(t *testing.T, name string) readme.Block {
	t.Helper()
	md, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readme.Parse("README.md", md)
	if err != nil {
		t.Fatal(err)
	}
	b, err := readme.Find(blocks, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeJSON(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s is not a JSON object: %v\n%s", what, err, b)
	}
	return m
}

// TestReadmeEndpointRotation runs the README's rotation curl line as
// printed (sh, with KEY and API set as the README says) against a real API
// on a real ledger, for a shop URL with two subscriptions, and checks the
// answer against the README's.
func TestReadmeEndpointRotation(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		testenv.Unavailable(t, "curl not found")
	}
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	const url = "https://shop.example/ipn"
	var first string
	for _, a := range []string{h.allocBTC(), h.allocBTC()} {
		s, _, err := h.l.Subscribe(ctx, chains.BTC, a, url, 1, "json", "ipnsec_old-shop-secret")
		if err != nil {
			t.Fatal(err)
		}
		first = s.Secret
	}
	cmds := readmeExample(t, "endpoint-rotate").Commands()
	if len(cmds) != 1 || !strings.HasPrefix(cmds[0], "curl ") {
		t.Fatalf("the rotation example is not one curl line: %q", cmds)
	}
	line := cmds[0]
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = append(os.Environ(), "KEY="+testKey, "API="+strings.TrimPrefix(h.srv.URL, "http://"),
		"PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	got := decodeJSON(t, "the answer", out)
	want := decodeJSON(t, "the README's answer", []byte(readmeExample(t, "endpoint-rotate-answer").Text))
	keys := func(m map[string]any) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		return k
	}
	if len(got) != len(want) {
		t.Fatalf("answer fields %v, README shows %v", keys(got), keys(want))
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Fatalf("the answer lacks %q: %s", k, out)
		}
	}
	secret, _ := got["secret"].(string)
	until, err := time.Parse(time.RFC3339Nano, got["previous_valid_until"].(string))
	if got["status"] != want["status"] || got["url"] != want["url"] || got["subscriptions"] != want["subscriptions"] ||
		!strings.HasPrefix(secret, ipn.SecretPrefix) || secret == first || err != nil ||
		until.Sub(time.Now()) < 23*time.Hour || until.Sub(time.Now()) > 25*time.Hour {
		t.Fatalf("answer %s", out)
	}
	e, err := h.l.Endpoint(ctx, url)
	if err != nil || e.Secret != secret || e.PreviousSecret != first {
		t.Fatalf("Endpoint after the rotation = %+v, %v", e, err)
	}
	// Unknown URL: 404 naming url.
	wantError(t, h.postJSON("/endpoints/rotate", map[string]any{"url": "https://other.example/ipn"}), 404, "url")
	wantError(t, h.postJSON("/endpoints/rotate", map[string]any{}), 400, "url")
}

// TestReadmeReadyzStale: the README's /readyz answer of an api process
// while no sync process runs is the one a metrics listener (or the API)
// of such a process gives; the same process is ready once a sync role's
// heartbeat is fresh, and stale again when it is older than 30 s.
func TestReadmeReadyzStale(t *testing.T) {
	l := dbtest.Ledger(t, "sqlite", db.Options{})
	ops, err := NewOps(OpsOptions{Ledger: l, Chains: []chains.Chain{chains.BTC}, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ops.Handler())
	defer srv.Close()
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	code, body := get("/readyz")
	want := decodeJSON(t, "the README's /readyz", []byte(readmeExample(t, "readyz-stale").Text))
	if got := decodeJSON(t, "/readyz", body); code != 503 || !reflect.DeepEqual(got, want) {
		t.Fatalf("/readyz without a sync role: %d %s\nREADME: %v", code, body, want)
	}
	ctx := context.Background()
	if err := l.Beat(ctx, "sync-1", chains.Status{Chain: chains.BTC, State: chains.Synced, Height: 812, NodeHeight: 812}); err != nil {
		t.Fatal(err)
	}
	ops.ready.expire() // read after the answer's cache period
	if code, body := get("/readyz"); code != 200 || !strings.Contains(string(body), `"height":812`) {
		t.Fatalf("/readyz with a fresh heartbeat: %d %s", code, body)
	}
	if _, err := l.DB().Exec(`UPDATE sync_heartbeats SET beat_at = beat_at - 31000000`); err != nil {
		t.Fatal(err)
	}
	ops.ready.expire()
	if code, body := get("/readyz"); code != 503 || !strings.Contains(string(body), `"state":"stale"`) {
		t.Fatalf("/readyz with a heartbeat 31 s old: %d %s", code, body)
	}
	// The metrics listener serves /metrics and /healthz without a key, and
	// nothing else.
	if code, body := get("/metrics"); code != 200 || !strings.Contains(string(body), `ipnd_chain_state{chain="btc",state="stale"} 1`) {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	if code, _ := get("/balance?address=x"); code != 404 {
		t.Fatalf("the metrics listener serves /balance: %d", code)
	}
}
