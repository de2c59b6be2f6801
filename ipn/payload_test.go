package ipn

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

func sampleData(c chains.Chain, format string) ledger.NotificationData {
	return ledger.NotificationData{
		ID: 42,
		Subscription: ledger.Subscription{
			ID: 7, Chain: c, Address: "bcrt1qexampleaddress", URL: "http://127.0.0.1/ipn",
			MaxConfirms: 3, Secret: "ipnsec_test", Format: format,
		},
		Totals: ledger.Totals{Confirmed: 1000000, Unconfirmed: 5, Height: 812},
		Changes: []ledger.DepositChange{
			{TxID: "aa11", Amount: 1000000, From: ledger.CountsUnconfirmed, To: ledger.CountsConfirmed, Reason: ledger.ReasonConfirmed},
			{TxID: "bb22", OutIndex: 1, Amount: 5, From: ledger.CountsNone, To: ledger.CountsUnconfirmed, Reason: ledger.ReasonSeen},
		},
		CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("x", 3600)),
	}
}

// sampleChanges is sampleData's changes as the body carries them.
const sampleChanges = `[{"txid":"aa11","amount":"0.01000000","amount_atomic":"1000000","from":"unconfirmed","to":"confirmed","reason":"confirmed"},` +
	`{"txid":"bb22","amount":"0.00000005","amount_atomic":"5","from":"none","to":"unconfirmed","reason":"seen"}]`

func TestPayloadJSON(t *testing.T) {
	b, ct, err := Payload(sampleData(chains.BTC, "json"))
	if err != nil {
		t.Fatal(err)
	}
	if ct != ContentTypeJSON {
		t.Fatalf("content type %q", ct)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), `,"changes":`+sampleChanges+`}`) {
		t.Errorf("body %s does not end with changes %s", b, sampleChanges)
	}
	delete(m, "changes")
	want := map[string]any{
		"id": json.Number("42"), "subscription_id": json.Number("7"), "chain": "btc",
		"address": "bcrt1qexampleaddress", "confirmed": "0.01000000", "unconfirmed": "0.00000005",
		"confirmed_atomic": "1000000", "unconfirmed_atomic": "5", "max_confirms": json.Number("3"),
		"height": json.Number("812"), "created_at": "2024-05-06T06:08:09Z",
	}
	if len(m) != len(want) {
		t.Fatalf("fields %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
}

func TestPayloadXMRDecimals(t *testing.T) {
	d := sampleData(chains.XMR, "")
	d.Totals = ledger.Totals{Confirmed: 1, Unconfirmed: 18446744073709551615}
	b, _, err := Payload(d)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, w := range []string{`"confirmed":"0.000000000001"`, `"unconfirmed":"18446744.073709551615"`,
		`"unconfirmed_atomic":"18446744073709551615"`, `"chain":"xmr"`} {
		if !strings.Contains(s, w) {
			t.Errorf("body %s lacks %s", s, w)
		}
	}
}

func TestPayloadForm(t *testing.T) {
	b, ct, err := Payload(sampleData(chains.BTC, "form"))
	if err != nil {
		t.Fatal(err)
	}
	if ct != ContentTypeForm {
		t.Fatalf("content type %q", ct)
	}
	v, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"id": "42", "subscription_id": "7", "chain": "btc", "address": "bcrt1qexampleaddress",
		"confirmed": "0.01000000", "unconfirmed": "0.00000005", "confirmed_atomic": "1000000",
		"unconfirmed_atomic": "5", "max_confirms": "3", "height": "812", "created_at": "2024-05-06T06:08:09Z",
		"changes": sampleChanges,
	}
	if len(v) != len(want) {
		t.Fatalf("fields %v", v)
	}
	for k, w := range want {
		if v.Get(k) != w {
			t.Errorf("%s = %q, want %q", k, v.Get(k), w)
		}
	}
}

func TestPayloadUnknownChain(t *testing.T) {
	if _, _, err := Payload(sampleData("doge", "json")); err == nil {
		t.Fatal("unknown chain accepted")
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"a":1}`)
	now := time.Unix(1700000000, 0)
	h := Sign("s1", now, body)
	if !strings.HasPrefix(h, "t=1700000000,v1=") || len(h) != len("t=1700000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify("s1", h, body, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("verify: %v", err)
	}
	cases := []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
		want                 error
	}{
		{"other secret", "s2", h, body, now, ErrSignatureMismatch},
		{"other body", "s1", h, []byte(`{"a":2}`), now, ErrSignatureMismatch},
		{"too old", "s1", h, body, now.Add(6 * time.Minute), ErrSignatureTooOld},
		{"future", "s1", h, body, now.Add(-6 * time.Minute), ErrSignatureTooOld},
		{"no v1", "s1", "t=1700000000", body, now, ErrSignatureFormat},
		{"no t", "s1", strings.SplitN(h, ",", 2)[1], body, now, ErrSignatureFormat},
		{"garbage", "s1", "hello", body, now, ErrSignatureFormat},
		{"bad hex", "s1", "t=1700000000,v1=zz", body, now, ErrSignatureFormat},
		{"other timestamp", "s1", strings.Replace(h, "t=1700000000", "t=1700000001", 1), body, now, ErrSignatureMismatch},
	}
	for _, c := range cases {
		if err := Verify(c.secret, c.header, c.body, c.now, 5*time.Minute); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// A header with a rotated extra signature still verifies.
	two := h + ",v1=" + strings.Repeat("00", 32)
	if err := Verify("s1", two, body, now, 0); err != nil {
		t.Errorf("two signatures: %v", err)
	}
}

func TestHeaders(t *testing.T) {
	d := sampleData(chains.BTC, "json")
	b, ct, _ := Payload(d)
	n := ledger.Notification{ID: 42, Secret: "sec", Body: b, ContentType: ct}
	now := time.Unix(1700000000, 0)
	h := Headers("1.2.3", n, 3, now)
	if h.Get("User-Agent") != "ipnd/1.2.3" || h.Get(HeaderID) != "42" || h.Get(HeaderAttempt) != "3" ||
		h.Get(HeaderTimestamp) != "1700000000" || h.Get("Content-Type") != ContentTypeJSON {
		t.Fatalf("headers %v", h)
	}
	if err := Verify("sec", h.Get(HeaderSignature), b, now, 0); err != nil {
		t.Fatal(err)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b || !strings.HasPrefix(a, SecretPrefix) || len(a) != len(SecretPrefix)+43 {
		t.Fatalf("secrets %q %q", a, b)
	}
}
