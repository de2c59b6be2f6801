package readme

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/internal/testenv"
)

// The operator tools' examples, run as printed against the ipnd the quick
// start left running (its ledger in the sandbox's ipnd.db). The api-curl
// example subscribed https://shop.example/ipn, which does not resolve here:
// its IPNs fail, so there is always something failing to list and steer.

// apiGet sends GET path with the session's key and decodes the JSON answer.
func apiGet(t *testing.T, s *session, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.api+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
}

type failingList struct {
	Subscriptions []struct {
		ID       int64  `json:"id"`
		URL      string `json:"url"`
		Delivery struct {
			Failing   bool   `json:"failing"`
			LastError string `json:"last_error"`
		} `json:"delivery"`
	} `json:"subscriptions"`
}

// waitFailing waits until the worker's first attempt to the shop failed.
func waitFailing(t *testing.T, s *session) failingList {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var l failingList
		apiGet(t, s, "/subscriptions?state=failing", &l)
		if len(l.Subscriptions) > 0 {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatal("no subscription is failing 30 s after the API example (its shop does not resolve)")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func needSession(t *testing.T, s *session) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Unavailable(t, "curl is not installed (apt-get install curl)")
	}
	if s.ipnd == nil || !s.ipnd.running() {
		t.Fatal("the quick start left no ipnd running")
	}
}

// runUnknownField: the typo is refused with the answer the README prints,
// and allocates nothing.
func runUnknownField(t *testing.T, s *session, b Block) {
	needSession(t, s)
	lines := b.Commands()
	if len(lines) != 1 || !strings.Contains(lines[0], "$API/addresses") || !strings.Contains(lines[0], "Content-Type: application/json") {
		t.Fatalf("the unknown-field example changed: %q; update runUnknownField", lines)
	}
	var before struct{ Addresses []any }
	apiGet(t, s, "/addresses?limit=500", &before)
	status, body := curl(t, s, lines[0])
	want := strings.TrimSpace(example(t, repoBlocks(t), "api-unknown-field-answer").Text)
	if status != http.StatusBadRequest || strings.TrimSpace(body) != want {
		t.Errorf("%s\nanswered %d %s\nthe README says 400 %s", lines[0], status, body, want)
	}
	var after struct{ Addresses []any }
	apiGet(t, s, "/addresses?limit=500", &after)
	if len(after.Addresses) != len(before.Addresses) {
		t.Errorf("the refused request allocated an address: %d addresses, %d before", len(after.Addresses), len(before.Addresses))
	}
}

// runOpsAPI: the failing subscription, its failing IPNs, and their
// redelivery through the API.
func runOpsAPI(t *testing.T, s *session, b Block) {
	needSession(t, s)
	failing := waitFailing(t, s)
	lines := b.Commands()
	if len(lines) != 3 || !strings.Contains(lines[0], "/subscriptions?state=failing") || !strings.Contains(lines[1], "/notifications?state=failing") ||
		!strings.Contains(lines[2], "/subscriptions/redeliver") {
		t.Fatalf("the list example changed: %q; update runOpsAPI", lines)
	}
	status, body := curl(t, s, lines[0])
	var subs failingList
	decode(t, body, &subs)
	if status != http.StatusOK || len(subs.Subscriptions) != len(failing.Subscriptions) || subs.Subscriptions[0].URL != "https://shop.example/ipn" ||
		!subs.Subscriptions[0].Delivery.Failing || !strings.Contains(subs.Subscriptions[0].Delivery.LastError, "shop.example") {
		t.Errorf("%s\n%d %s", lines[0], status, body)
	}
	status, body = curl(t, s, lines[1])
	var notes struct {
		Notifications []struct {
			SubscriptionID int64 `json:"subscription_id"`
			Failing        bool  `json:"failing"`
		} `json:"notifications"`
	}
	decode(t, body, &notes)
	if status != http.StatusOK || len(notes.Notifications) == 0 || !notes.Notifications[0].Failing {
		t.Errorf("%s\n%d %s", lines[1], status, body)
	}
	status, body = curl(t, s, lines[2])
	var redelivered struct {
		Status      string  `json:"status"`
		Redelivered int     `json:"redelivered"`
		IDs         []int64 `json:"ids"`
	}
	decode(t, body, &redelivered)
	if status != http.StatusOK || redelivered.Status != "success" || redelivered.Redelivered != len(subs.Subscriptions) ||
		len(redelivered.IDs) == 0 || redelivered.IDs[0] != subs.Subscriptions[0].ID {
		t.Errorf("%s\n%d %s", lines[2], status, body)
	}
}

// runOpsCLI: the same from the command line, on the ledger and through
// the API.
func runOpsCLI(t *testing.T, s *session, b Block) {
	needSession(t, s)
	failing := waitFailing(t, s)
	id := failing.Subscriptions[0].ID
	lines := b.Commands()
	want := []string{"bin/ipnd subscriptions -state failing", "IPND_API_KEY=$KEY bin/ipnd deliveries -failing -api http://$API",
		"bin/ipnd redeliver -url https://shop.example/"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the command-line example changed: %q; update runOpsCLI", lines)
	}
	for i, line := range lines {
		r := sh(t, s.dir, s.env, time.Minute, line)
		t.Logf("%s", r)
		if r.code != 0 || strings.Contains(r.stdout+r.stderr, s.key) {
			t.Errorf("%s\nwant exit 0 and no key shown", r)
			continue
		}
		rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
		switch i {
		case 0:
			if len(rows) != 1+len(failing.Subscriptions) || !strings.HasPrefix(rows[0], "ID  CHAIN  ADDRESS") ||
				!strings.Contains(rows[1], "https://shop.example/ipn") || !strings.Contains(rows[1], "failing") {
				t.Errorf("%s\nwant the header and the failing subscriptions", r)
			}
		case 1:
			if len(rows) < 2 || !strings.HasPrefix(rows[0], "IPN-ID  SUBSCRIPTION") || !strings.Contains(rows[1], "(failing)") {
				t.Errorf("%s\nwant the header and the failing IPNs", r)
			}
		case 2:
			if !strings.HasPrefix(r.stdout, "redelivering ") || !strings.Contains(r.stdout, " "+itoa64(id)) {
				t.Errorf("%s\nwant subscription %d redelivered", r, id)
			}
		}
	}
}

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// runTestReceiverExample runs the README's Python receiver as printed and
// then the test-receiver line as printed against it; the report is the
// README's sample (with the receiver's real port).
func runTestReceiverExample(t *testing.T, s *session, b Block) {
	needSession(t, s)
	lines := b.Commands()
	if len(lines) != 1 || lines[0] != `bin/ipnd test-receiver -url "$RECEIVER" -secret "$IPN_SECRET"` {
		t.Fatalf("the test-receiver example changed: %q; update runTestReceiverExample", lines)
	}
	blocks := repoBlocks(t)
	secret := "ipnsec_" + rand.Text()
	receiver := StartPythonReceiver(t, example(t, blocks, "python-receiver").Text, secret, io.Discard)
	r := sh(t, s.dir, append(append([]string{}, s.env...), "RECEIVER="+receiver, "IPN_SECRET="+secret), time.Minute, lines[0])
	got := strings.ReplaceAll(r.stdout, receiver, "http://127.0.0.1:8000/ipn")
	want := example(t, blocks, "test-receiver-report").Text
	if r.code != 0 || got != want || strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("%s\nwant exit 0 and the README's report:\n%s", r, want)
	}
}
