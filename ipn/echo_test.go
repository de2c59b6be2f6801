package ipn

import (
	"errors"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

func TestCheckEcho(t *testing.T) {
	n := ledger.Notification{Chain: chains.BTC, Address: "addr1", Confirmed: 1000000, Unconfirmed: 0}
	ok := []string{
		`{"address":"addr1","confirmed":"0.01","unconfirmed":"0.0"}`,
		`{"address":"addr1","confirmed":"0.0100","unconfirmed":"0"}`,
		`{"address":"addr1","confirmed":0.01,"unconfirmed":0}`,
		`{"address":"addr1","confirmed":"0.01000000","unconfirmed":"0.00000000","extra":[1,2]}`,
		` {"unconfirmed":0.0,"confirmed":1e-2,"address":"addr1"} ` + "\n",
	}
	for _, b := range ok {
		if err := CheckEcho(n, 200, []byte(b)); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	if err := CheckEcho(n, 204, []byte(ok[0])); err != nil {
		t.Errorf("204: %v", err)
	}
	bad := []string{
		``,
		`not json`,
		`null`,
		`[]`,
		`"addr1"`,
		`{"address":"addr1","confirmed":"0.01"}`,
		`{"address":"addr2","confirmed":"0.01","unconfirmed":"0"}`,
		`{"address":"ADDR1","confirmed":"0.01","unconfirmed":"0"}`,
		`{"confirmed":"0.01","unconfirmed":"0"}`,
		`{"address":"addr1","confirmed":"0.011","unconfirmed":"0"}`,
		`{"address":"addr1","confirmed":"0.00999999","unconfirmed":"0"}`,
		`{"address":"addr1","confirmed":"0.01","unconfirmed":"0.00000001"}`,
		`{"address":"addr1","confirmed":true,"unconfirmed":"0"}`,
		`{"address":"addr1","confirmed":null,"unconfirmed":"0"}`,
		`{"address":"addr1","confirmed":"1/100","unconfirmed":"0"}`,
		`{"address":"addr1","confirmed":"abc","unconfirmed":"0"}`,
		`{"address":1,"confirmed":"0.01","unconfirmed":"0"}`,
		`{"address":"addr1","confirmed":"0.01","unconfirmed":"0"} {"x":1}`,
	}
	for _, b := range bad {
		if err := CheckEcho(n, 200, []byte(b)); !errors.Is(err, ErrNotAcknowledged) {
			t.Errorf("%q accepted (err %v)", b, err)
		}
	}
	for _, st := range []int{0, 199, 301, 404, 500} {
		if err := CheckEcho(n, st, []byte(ok[0])); !errors.Is(err, ErrNotAcknowledged) {
			t.Errorf("status %d accepted", st)
		}
	}
	// XMR: 12 decimals.
	x := ledger.Notification{Chain: chains.XMR, Address: "4x", Confirmed: 1, Unconfirmed: 1500000000000}
	if err := CheckEcho(x, 200, []byte(`{"address":"4x","confirmed":"0.000000000001","unconfirmed":1.5}`)); err != nil {
		t.Error(err)
	}
	if err := CheckEcho(x, 200, []byte(`{"address":"4x","confirmed":"0","unconfirmed":1.5}`)); err == nil {
		t.Error("wrong XMR confirmed accepted")
	}
}
