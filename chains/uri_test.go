package chains

import "testing"

func TestPaymentURI(t *testing.T) {
	for _, tc := range []struct {
		c      Chain
		addr   string
		atomic uint64
		label  string
		want   string
	}{
		{BTC, "bc1qx", 0, "", "bitcoin:bc1qx"},
		{BTC, "bc1qx", 1_000_000, "", "bitcoin:bc1qx?amount=0.01"},
		{BTC, "bc1qx", 150_000_000, "Order 42 & co/€", "bitcoin:bc1qx?amount=1.5&label=Order%2042%20%26%20co%2F%E2%82%AC"},
		{BTC, "bc1qx", 0, "a+b", "bitcoin:bc1qx?label=a%2Bb"},
		{XMR, "4x", 1_250_000_000_000, "Order 42", "monero:4x?tx_amount=1.25&tx_description=Order%2042"},
		{Chain("doge"), "D", 1, "x", ""},
	} {
		if got := tc.c.PaymentURI(tc.addr, tc.atomic, tc.label); got != tc.want {
			t.Errorf("%s PaymentURI(%q, %d, %q) = %q, want %q", tc.c, tc.addr, tc.atomic, tc.label, got, tc.want)
		}
	}
	for c := range All {
		if s, _ := All[c].Spec(); s.URILabelKey == "" || s.URIAmountKey == "" || s.URIScheme == "" {
			t.Errorf("%s: the spec lacks a payment URI key: %+v", All[c], s)
		}
	}
}

func TestShortAmount(t *testing.T) {
	for atomic, want := range map[uint64]string{0: "0", 1: "0.00000001", 100_000_000: "1", 150_000: "0.0015"} {
		if got := BTC.ShortAmount(atomic); got != want {
			t.Errorf("ShortAmount(%d) = %q, want %q", atomic, got, want)
		}
	}
}
