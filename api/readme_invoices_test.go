package api

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ipn"
)

// orderedKeys lists a JSON object's keys in their order, recursively as
// "a.b" for nested objects.
func orderedKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	var out []string
	var walk func(prefix string)
	walk = func(prefix string) {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("not an object at %q: %v %v", prefix, tok, err)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			k := prefix + tok.(string)
			out = append(out, k)
			var raw json.RawMessage
			if k == "subscription" {
				walk(k + ".")
				continue
			}
			if err := dec.Decode(&raw); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
	}
	walk("")
	return out
}

// runREADMECommand runs one line of a README shell example through sh with
// KEY, API and extra variables set, and returns its output.
func runREADMECommand(t *testing.T, line, base string, env ...string) []byte {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		testenv.Unavailable(t, "curl not found")
	}
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = append(os.Environ(), "KEY="+testKey, "API="+strings.TrimPrefix(base, "http://"),
		"PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return out
}

// TestReadmeInvoices runs the README's invoice examples as printed (sh and
// curl, with KEY and API as the README says, against a real ledger and
// the [invoices] settings of its TOML example): the creation's answer has
// the README's fields in the README's order, its values where they do not
// vary between invoices, and the shapes of the others; reading, listing and
// cancelling answer 200.
func TestReadmeInvoices(t *testing.T) {
	h := newHarness(t, harnessOpts{allowPrivate: true})
	path := filepath.Join(t.TempDir(), "settings.toml")
	if err := os.WriteFile(path, []byte(readmeExample(t, "invoices-config").Text), 0o600); err != nil {
		t.Fatal(err)
	}
	settings, err := config.Load(path, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(h.l, map[chains.Chain]Chain{chains.BTC: h.btc}, harnessOpts{allowPrivate: true})
	opts.Invoices = settings.Invoices
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Config.Handler = srv.Handler()

	// The whole block as sh reads it: its JSON spans lines inside quotes.
	create := readmeExample(t, "invoice-create").Text
	if !strings.HasPrefix(create, "curl ") || strings.Count(create, "curl ") != 1 {
		t.Fatalf("the creation example is not one curl command: %q", create)
	}
	out := runREADMECommand(t, create, h.srv.URL)
	printed := []byte(readmeExample(t, "invoice-create-answer").Text)
	if got, want := strings.Join(orderedKeys(t, out), " "), strings.Join(orderedKeys(t, printed), " "); got != want {
		t.Fatalf("answer fields\n%s\nREADME shows\n%s", got, want)
	}
	got, want := decodeJSON(t, "the answer", out), decodeJSON(t, "the README's answer", printed)
	for _, k := range []string{"chain", "status", "amount", "amount_atomic", "paid", "paid_atomic", "pending", "pending_atomic",
		"due", "due_atomic", "excess", "excess_atomic", "max_confirms", "order_id", "description", "created"} {
		if got[k] != want[k] {
			t.Errorf("%s = %v, README shows %v", k, got[k], want[k])
		}
	}
	if g, w := mustJSON(t, got["metadata"]), mustJSON(t, want["metadata"]); g != w {
		t.Errorf("metadata %s, README shows %s", g, w)
	}
	gs, ws := got["subscription"].(map[string]any), want["subscription"].(map[string]any)
	for _, k := range []string{"created", "url", "max_confirms", "format"} {
		if gs[k] != ws[k] {
			t.Errorf("subscription.%s = %v, README shows %v", k, gs[k], ws[k])
		}
	}
	id := got["id"].(string)
	created, err1 := time.Parse(time.RFC3339Nano, got["created_at"].(string))
	expires, err2 := time.Parse(time.RFC3339Nano, got["expires_at"].(string))
	wantURI := "bitcoin:" + got["address"].(string) + "?amount=0.0015&label=Order%201001%3A%20green%20tea"
	if !regexp.MustCompile(`^inv_[a-z2-7]{26}$`).MatchString(id) || got["uri"] != wantURI ||
		got["checkout_url"] != "https://pay.shop.example/pay/"+id || got["qr_png"] != "https://pay.shop.example/pay/"+id+"/qr.png" ||
		got["qr_svg"] != "https://pay.shop.example/pay/"+id+"/qr.svg" || err1 != nil || err2 != nil ||
		expires.Sub(created) != 15*time.Minute || gs["id"] != got["subscription_id"] ||
		!strings.HasPrefix(gs["secret"].(string), ipn.SecretPrefix) {
		t.Fatalf("answer %s", out)
	}
	if !strings.HasPrefix(want["uri"].(string), "bitcoin:"+want["address"].(string)+"?amount=0.0015&label=Order%201001%3A%20green%20tea") ||
		want["checkout_url"] != "https://pay.shop.example/pay/"+want["id"].(string) {
		t.Errorf("the README's answer is not consistent: %v", want)
	}

	for i, line := range readmeExample(t, "invoice-read").Commands() {
		out := runREADMECommand(t, line, h.srv.URL, "ID="+id)
		m := decodeJSON(t, line, out)
		switch i {
		case 0:
			if m["id"] != id || m["status"] != "new" {
				t.Errorf("%s: %s", line, out)
			}
		case 1:
			if items, _ := m["invoices"].([]any); len(items) != 1 {
				t.Errorf("%s: %s", line, out)
			}
		case 2:
			if m["status"] != "cancelled" {
				t.Errorf("%s: %s", line, out)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
