package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/internal/readme"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ipn"
)

const kitSecret = "ipnsec_receiver-kit-test-secret-0123456789"

// startReadmePython runs the README's Python receiver as printed, with
// IPN_SECRET and PORT as its first line says, and returns its URL once it
// accepts connections.
func startReadmePython(t *testing.T, secret string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readme.All(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := readme.Find(blocks, "python-receiver")
	if err != nil {
		t.Fatal(err)
	}
	return readme.StartPythonReceiver(t, b.Text, secret, io.Discard) // it logs a line per request
}

// flawedReceiver keeps the newest totals per subscription as a shop should,
// with one flaw: noVerify books IPNs whatever their signature; atomicEcho
// echoes the atomic amounts where the decimal ones belong.
func flawedReceiver(t *testing.T, noVerify, atomicEcho bool) string {
	held := map[string]map[string]string{}
	ids := map[string]int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !noVerify && ipn.Verify(kitSecret, r.Header.Get(ipn.HeaderSignature), body, time.Now(), 0) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n map[string]any
		if json.Unmarshal(body, &n) != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		sub := strings.TrimSpace(strings.Trim(string(mustJSON(n["subscription_id"])), `"`))
		id, _ := strconv.ParseInt(r.Header.Get(ipn.HeaderID), 10, 64)
		if _, seen := ids[sub]; !seen || id >= ids[sub] {
			ids[sub] = id
			c, u := n["confirmed"], n["unconfirmed"]
			if atomicEcho {
				c, u = n["confirmed_atomic"], n["unconfirmed_atomic"]
			}
			held[sub] = map[string]string{"address": n["address"].(string), "confirmed": c.(string), "unconfirmed": u.(string)}
		}
		json.NewEncoder(w).Encode(held[sub])
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/ipn"
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// stepResults is "n:pass" or "n:FAIL" per step of a -json report.
func stepResults(t *testing.T, out string) (bool, string) {
	t.Helper()
	var rep struct {
		Pass  bool
		Steps []struct {
			Step int
			Pass bool
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("test-receiver -json: %v\n%s", err, out)
	}
	var s []string
	for _, st := range rep.Steps {
		v := "pass"
		if !st.Pass {
			v = "FAIL"
		}
		s = append(s, strconv.Itoa(st.Step)+":"+v)
	}
	return rep.Pass, strings.Join(s, " ")
}

// ipnd test-receiver against the three receivers of issue 17: the README's
// Python receiver (run as printed) passes every step; one that books IPNs
// without verifying signatures fails 6 and 7; one that echoes the wrong
// totals fails 1 to 5. Exit 0 only when every required step passes, 1
// when one fails, 2 on bad usage.
func TestTestReceiverCommand(t *testing.T) {
	python := startReadmePython(t, kitSecret)
	for _, tc := range []struct {
		name, url string
		code      int
		steps     string
	}{
		{"README's Python receiver", python, 0, "1:pass 2:pass 3:pass 4:pass 5:pass 6:pass 7:pass 8:pass 9:pass 10:pass"},
		{"no signature check", flawedReceiver(t, true, false), 1, "1:pass 2:pass 3:pass 4:pass 5:pass 6:FAIL 7:FAIL 8:pass 9:pass 10:pass"},
		{"wrong totals", flawedReceiver(t, false, true), 1, "1:FAIL 2:FAIL 3:FAIL 4:FAIL 5:FAIL 6:pass 7:pass 8:FAIL 9:FAIL 10:FAIL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := ipnd(t, nil, "test-receiver", "-url", tc.url, "-secret", kitSecret, "-json")
			pass, steps := stepResults(t, out)
			if code != tc.code || steps != tc.steps || pass != (tc.code == 0) {
				t.Errorf("exit %d, pass %v, steps %s; want exit %d, steps %s\n%s", code, pass, steps, tc.code, tc.steps, errOut)
			}
			text, _, textCode := ipnd(t, nil, "test-receiver", "-url", tc.url, "-secret", kitSecret)
			if textCode != tc.code || !strings.HasPrefix(text, "receiver test of "+tc.url+" (btc, json, synthetic address ") ||
				countLines(text) < 12 {
				t.Errorf("text report (exit %d):\n%s", textCode, text)
			}
			if tc.code == 0 && strings.Contains(text, "FAIL") {
				t.Errorf("a passing report says FAIL:\n%s", text)
			}
		})
	}
	// The Python receiver reads JSON only: a form test fails.
	if _, _, code := ipnd(t, nil, "test-receiver", "-url", python, "-secret", kitSecret, "-format", "form"); code != 1 {
		t.Errorf("-format form against a JSON receiver: exit %d, want 1", code)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"test-receiver", "-url", python}, "test-receiver: give the endpoint's secret: -secret ipnsec_… or -subscription N\n"},
		{[]string{"test-receiver", "-secret", "s"}, "test-receiver: -url is required: the receiver to test\n"},
		{[]string{"test-receiver", "-url", python, "-secret", "s", "-subscription", "1"}, "test-receiver: give -secret or -subscription, not both\n"},
		{[]string{"test-receiver", "-url", "ftp://example.com/", "-secret", "s"}, "test-receiver: -url: forbidden IPN target: scheme must be http or https\n"},
		{[]string{"test-receiver", "-url", python, "-secret", "s", "-format", "xml"}, `test-receiver: invalid options: format "xml": want json or form` + "\n"},
		{[]string{"test-receiver", "-url", strings.Replace(python, "http://", "http://shop:hunter2@", 1), "-secret", "s"},
			"test-receiver: invalid options: the receiver URL carries a user name or password (user:password@host): ipnd never " +
				"sends credentials in a URL; authenticate IPNs by their signature, or put a token in the path\n"},
	} {
		if _, errOut, code := ipnd(t, nil, tc.args...); code != 2 || errOut != tc.want {
			t.Errorf("ipnd %s: exit %d, %q; want 2, %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}
