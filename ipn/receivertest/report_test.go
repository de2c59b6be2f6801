package receivertest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/ipn/receivertest"
)

// TestReportRendering: the text report has a header, one line per step (and
// the answer under a failed one) and the verdict; the JSON report reads back
// into the same Report. Neither shows the secret or the URL's query.
func TestReportRendering(t *testing.T) {
	shop := newShop(testSecret)
	shop.skipVerify = true
	srv := httptest.NewServer(shop)
	defer srv.Close()
	rep := run(t, srv.URL+"/ipn?key=querysecret", receivertest.Options{})

	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	want := []string{
		fmt.Sprintf("receiver test of %s/ipn (btc, json, synthetic address %s)", srv.URL, receivertest.SyntheticBTCMainnet),
		" 1 pass  an unconfirmed payment: acknowledged (HTTP 200)",
		" 2 pass  the same IPN again (same IPN-Id): acknowledged (HTTP 200)",
		" 3 pass  the payment confirmed: acknowledged (HTTP 200)",
		" 4 pass  a reorg takes the confirmation back: acknowledged (HTTP 200)",
		" 5 pass  the payment confirmed again: acknowledged (HTTP 200)",
		" 6 FAIL  an IPN signed with another secret: accepted (HTTP 200) an IPN signed with another secret: verify IPN-Signature with the endpoint's secret and answer 401",
		fmt.Sprintf(`        want refused with a 4xx status; got HTTP 200 {"address":"%s","confirmed":"0.01234567","unconfirmed":"0.00000000"}`, receivertest.SyntheticBTCMainnet),
		" 7 FAIL  an IPN signed 10m0s ago: accepted (HTTP 200) a signature timestamped 10m0s ago: refuse timestamps more than 5 minutes from your clock with 401",
		fmt.Sprintf(`        want refused with a 4xx status; got HTTP 200 {"address":"%s","confirmed":"0.01234567","unconfirmed":"0.00000000"}`, receivertest.SyntheticBTCMainnet),
		" 8 pass  an older IPN-Id after a newer one: kept the newer totals (HTTP 200 echoing them)",
		" 9 pass  two signatures, yours first (secret rotation): acknowledged (HTTP 200)",
		"10 pass  two signatures, yours last (secret rotation): acknowledged (HTTP 200)",
		"FAIL: 8 of 10 required steps passed",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("text report:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	js, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back receivertest.Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !back.StartedAt.Equal(rep.StartedAt) {
		t.Fatalf("started_at %v, want %v", back.StartedAt, rep.StartedAt)
	}
	back.StartedAt = rep.StartedAt
	if !reflect.DeepEqual(back, rep) {
		t.Fatalf("JSON report does not read back:\n%s", js)
	}
	var raw map[string]any
	json.Unmarshal(js, &raw)
	step := raw["steps"].([]any)[5].(map[string]any)
	if raw["pass"] != false || raw["passed"] != 8.0 || raw["required"] != 10.0 || step["name"] != "bad_signature" ||
		step["status"] != 200.0 || step["pass"] != false || step["required"] != true {
		t.Fatalf("JSON report fields: %s", js)
	}
	for _, out := range []string{text.String(), string(js)} {
		if strings.Contains(out, testSecret) || strings.Contains(out, "querysecret") {
			t.Fatalf("report shows the secret or the URL's query:\n%s", out)
		}
	}
}

// TestReportOptionalFailureWarns: a failed optional step is a warning and
// does not fail the run.
func TestReportOptionalFailureWarns(t *testing.T) {
	rep := receivertest.Report{Pass: true, Passed: 8, Required: 8, Steps: []receivertest.Result{
		{Step: 9, Title: "x", Reason: "HTTP 401", Expect: "2xx", Status: 401, Body: "no"},
	}}
	var b bytes.Buffer
	rep.WriteText(&b)
	if !strings.Contains(b.String(), " 9 warn  (optional) x: HTTP 401\n        want 2xx; got HTTP 401 no\nPASS: 8 of 8 required steps passed, 0 of 1 optional\n") {
		t.Fatalf("text:\n%s", b.String())
	}
}
