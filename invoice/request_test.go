package invoice

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
)

func intp(n int) *int { return &n }

func TestValidate(t *testing.T) {
	p := defaultPolicy()
	ok := CreateRequest{Chain: "btc", Amount: "0.001"}
	got, err := p.Validate(ok)
	if err != nil {
		t.Fatal(err)
	}
	want := Params{Chain: chains.BTC, AmountAtomic: 100_000, ExpiresIn: 15 * time.Minute, MaxConfirms: 3}
	if got.Chain != want.Chain || got.AmountAtomic != want.AmountAtomic || got.ExpiresIn != want.ExpiresIn ||
		got.MaxConfirms != want.MaxConfirms || got.Metadata != nil {
		t.Fatalf("defaults: %+v, want %+v", got, want)
	}

	full := CreateRequest{Chain: "monero", AmountAtomic: "1500000000000", ExpiresIn: "3600", OrderID: "WC-1001/a#2",
		Description: "Order 1001 — 2 × tea", Metadata: []byte(" {\"cart\": [1, 2],\n \"vip\": true} "), MaxConfirms: intp(0)}
	got, err = p.Validate(full)
	if err != nil {
		t.Fatal(err)
	}
	if got.Chain != chains.XMR || got.AmountAtomic != 1_500_000_000_000 || got.ExpiresIn != time.Hour ||
		got.MaxConfirms != 0 || got.OrderID != full.OrderID || got.Description != full.Description ||
		string(got.Metadata) != `{"cart":[1,2],"vip":true}` {
		t.Fatalf("full request: %+v", got)
	}

	long := strings.Repeat("x", MaxMetadataBytes)
	cases := []struct {
		name  string
		req   CreateRequest
		field string
	}{
		{"no chain", CreateRequest{Amount: "1"}, "chain"},
		{"unknown chain", CreateRequest{Chain: "doge", Amount: "1"}, "chain"},
		{"no amount", CreateRequest{Chain: "btc"}, "amount"},
		{"both amounts", CreateRequest{Chain: "btc", Amount: "1", AmountAtomic: "100000000"}, "amount"},
		{"negative amount", CreateRequest{Chain: "btc", Amount: "-0.1"}, "amount"},
		{"zero amount", CreateRequest{Chain: "btc", Amount: "0.00000000"}, "amount"},
		{"too many decimals", CreateRequest{Chain: "btc", Amount: "0.000000001"}, "amount"},
		{"too many decimals for monero", CreateRequest{Chain: "xmr", Amount: "0.0000000000001"}, "amount"},
		{"overflowing amount", CreateRequest{Chain: "btc", Amount: "184467440737.09551616"}, "amount"},
		{"amount beyond the ledger", CreateRequest{Chain: "btc", Amount: "92233720368.54775808"}, "amount"},
		{"exponent", CreateRequest{Chain: "btc", Amount: "1e-3"}, "amount"},
		{"negative amount_atomic", CreateRequest{Chain: "btc", AmountAtomic: "-5"}, "amount_atomic"},
		{"zero amount_atomic", CreateRequest{Chain: "btc", AmountAtomic: "0"}, "amount_atomic"},
		{"fractional amount_atomic", CreateRequest{Chain: "btc", AmountAtomic: "1.5"}, "amount_atomic"},
		{"overflowing amount_atomic", CreateRequest{Chain: "btc", AmountAtomic: "18446744073709551616"}, "amount_atomic"},
		{"amount_atomic beyond the ledger", CreateRequest{Chain: "btc", AmountAtomic: "9223372036854775808"}, "amount_atomic"},
		{"expires_in too short", CreateRequest{Chain: "btc", Amount: "1", ExpiresIn: "59"}, "expires_in"},
		{"expires_in zero", CreateRequest{Chain: "btc", Amount: "1", ExpiresIn: "0"}, "expires_in"},
		{"expires_in negative", CreateRequest{Chain: "btc", Amount: "1", ExpiresIn: "-60"}, "expires_in"},
		{"expires_in negative duration", CreateRequest{Chain: "btc", Amount: "1", ExpiresIn: "-5m"}, "expires_in"},
		{"expires_in too long", CreateRequest{Chain: "btc", Amount: "1", ExpiresIn: "604801"}, "expires_in"},
		{"expires_in huge", CreateRequest{Chain: "btc", Amount: "1", ExpiresIn: "99999999999999999999"}, "expires_in"},
		{"expires_in fractional seconds", CreateRequest{Chain: "btc", Amount: "1", ExpiresIn: "90.5s"}, "expires_in"},
		{"expires_in junk", CreateRequest{Chain: "btc", Amount: "1", ExpiresIn: "soon"}, "expires_in"},
		{"max_confirms negative", CreateRequest{Chain: "btc", Amount: "1", MaxConfirms: intp(-1)}, "max_confirms"},
		{"max_confirms too deep", CreateRequest{Chain: "btc", Amount: "1", MaxConfirms: intp(1001)}, "max_confirms"},
		{"order_id too long", CreateRequest{Chain: "btc", Amount: "1", OrderID: strings.Repeat("a", MaxOrderIDLen+1)}, "order_id"},
		{"order_id with a space", CreateRequest{Chain: "btc", Amount: "1", OrderID: "order 1"}, "order_id"},
		{"order_id not ASCII", CreateRequest{Chain: "btc", Amount: "1", OrderID: "bestellung-ä"}, "order_id"},
		{"description too long", CreateRequest{Chain: "btc", Amount: "1", Description: strings.Repeat("é", MaxDescriptionBytes/2) + "x"}, "description"},
		{"description with a newline", CreateRequest{Chain: "btc", Amount: "1", Description: "a\nb"}, "description"},
		{"description not UTF-8", CreateRequest{Chain: "btc", Amount: "1", Description: "a\xffb"}, "description"},
		{"metadata an array", CreateRequest{Chain: "btc", Amount: "1", Metadata: []byte(`[1]`)}, "metadata"},
		{"metadata a string", CreateRequest{Chain: "btc", Amount: "1", Metadata: []byte(`"x"`)}, "metadata"},
		{"metadata malformed", CreateRequest{Chain: "btc", Amount: "1", Metadata: []byte(`{"a":}`)}, "metadata"},
		{"metadata two values", CreateRequest{Chain: "btc", Amount: "1", Metadata: []byte(`{} {}`)}, "metadata"},
		{"metadata too large", CreateRequest{Chain: "btc", Amount: "1", Metadata: []byte(`{"a":"` + long + `"}`)}, "metadata"},
		{"metadata not UTF-8", CreateRequest{Chain: "btc", Amount: "1", Metadata: []byte("{\"a\":\"\xff\"}")}, "metadata"},
	}
	for _, c := range cases {
		_, err := p.Validate(c.req)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v, want a FieldError naming %s", c.name, err, c.field)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.field+": ") || fe.Msg == "" {
			t.Errorf("%s: message %q does not name the field", c.name, err)
		}
	}

	// Bounds are inclusive; the largest storable amount and a pretty-printed
	// metadata object that fits once compacted are accepted.
	for name, req := range map[string]CreateRequest{
		"shortest expiry":     {Chain: "btc", Amount: "1", ExpiresIn: "60"},
		"longest expiry":      {Chain: "btc", Amount: "1", ExpiresIn: "168h"},
		"largest amount":      {Chain: "btc", AmountAtomic: "9223372036854775807"},
		"smallest amount":     {Chain: "xmr", Amount: "0.000000000001"},
		"trailing zeros":      {Chain: "btc", Amount: "1.000000000000"},
		"longest order_id":    {Chain: "btc", Amount: "1", OrderID: strings.Repeat("A", MaxOrderIDLen)},
		"longest description": {Chain: "btc", Amount: "1", Description: strings.Repeat("é", MaxDescriptionBytes/2)},
		"metadata null":       {Chain: "btc", Amount: "1", Metadata: []byte("null")},
		"metadata that fits compacted": {Chain: "btc", Amount: "1",
			Metadata: []byte("{\n  \"a\": \"" + long[:MaxMetadataBytes-8] + "\"\n}")},
	} {
		if _, err := p.Validate(req); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateAmountErrorWrapsChains(t *testing.T) {
	_, err := defaultPolicy().Validate(CreateRequest{Chain: "btc", Amount: "0.123456789"})
	if !errors.Is(err, chains.ErrAmount) {
		t.Fatalf("err = %v, want it to wrap chains.ErrAmount", err)
	}
}

func TestValidateDisabledChain(t *testing.T) {
	p := defaultPolicy()
	p.ChainEnabled = func(c chains.Chain) bool { return c == chains.BTC }
	var fe *FieldError
	if _, err := p.Validate(CreateRequest{Chain: "xmr", Amount: "1"}); !errors.As(err, &fe) || fe.Field != "chain" {
		t.Fatalf("disabled chain: %v", err)
	}
	if _, err := p.Validate(CreateRequest{Chain: "BTC", Amount: "1"}); err != nil {
		t.Fatalf("enabled chain: %v", err)
	}
}

func TestPolicyCheck(t *testing.T) {
	if err := defaultPolicy().Check(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Policy){
		"default below the minimum": func(p *Policy) { p.DefaultExpiry = 30 * time.Second },
		"default above the maximum": func(p *Policy) { p.DefaultExpiry = 8 * 24 * time.Hour },
		"default not whole seconds": func(p *Policy) { p.DefaultExpiry = 90*time.Second + time.Millisecond },
		"no minimum":                func(p *Policy) { p.MinExpiry = 0 },
		"max_confirms too deep":     func(p *Policy) { p.DefaultMaxConfirms = 1001 },
	} {
		p := defaultPolicy()
		mutate(&p)
		if p.Check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNew(t *testing.T) {
	p, err := defaultPolicy().Validate(CreateRequest{Chain: "btc", Amount: "0.5", OrderID: "A-1", Metadata: []byte(`{"k":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	local := time.FixedZone("CET", 3600)
	now := time.Date(2026, 3, 1, 13, 0, 0, 123456789, local)
	id := NewID()
	inv := New(p, id, "bcrt1qaddr", now)
	wantCreated := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	if !inv.CreatedAt.Equal(wantCreated) || inv.CreatedAt.Location() != time.UTC {
		t.Fatalf("created_at %s, want %s (UTC, microseconds)", inv.CreatedAt, wantCreated)
	}
	if !inv.ExpiresAt.Equal(wantCreated.Add(15 * time.Minute)) {
		t.Fatalf("expires_at %s", inv.ExpiresAt)
	}
	if inv.Status != StatusNew || inv.DueAtomic != 50_000_000 || inv.PaidAtomic+inv.PendingAtomic+inv.ExcessAtomic != 0 ||
		inv.ID != id || inv.Address != "bcrt1qaddr" || inv.OrderID != "A-1" || string(inv.Metadata) != `{"k":1}` {
		t.Fatalf("new invoice: %+v", inv)
	}
	ev, err := Evaluate(inv, nil, now)
	if err != nil || ev.Changed {
		t.Fatalf("a new invoice is not at rest: %+v %v", ev, err)
	}
	n := inv.Notice()
	if n.ID != id || n.OrderID != "A-1" || n.Status != StatusNew || n.AmountAtomic != "50000000" || n.DueAtomic != "50000000" ||
		n.PaidAtomic != "0" || n.ExpiresAt != "2026-03-01T12:15:00.123456Z" {
		t.Fatalf("notice: %+v", n)
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !ValidID(id) || len(id) != len(IDPrefix)+idTextLen {
			t.Fatalf("NewID made %q", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "inv_", "inv_abc", "INV_" + strings.Repeat("a", 26), "inv_" + strings.Repeat("A", 26),
		"inv_" + strings.Repeat("a", 25) + "1", "inv_" + strings.Repeat("a", 27), "inv_" + strings.Repeat("a", 25) + "/"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range Statuses {
		if got, err := ParseStatus(string(s)); err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	var fe *FieldError
	if _, err := ParseStatus("settled"); !errors.As(err, &fe) || fe.Field != "status" {
		t.Fatalf("ParseStatus(settled): %v", err)
	}
}

// defaultPolicy is the policy with the documented defaults: 15 minutes,
// 1 minute .. 7 days, max_confirms 3.
func defaultPolicy() Policy {
	return Policy{DefaultExpiry: DefaultExpiry, MinExpiry: MinExpiry, MaxExpiry: MaxExpiry, DefaultMaxConfirms: 3}
}
