package bitcoin

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/config"
)

// bitcoin.network = "regtest" pointed at litecoind -regtest (which also
// says "regtest"): refused before anything is written, naming the setting
// and the genesis block seen; the refused round keeps no connection open,
// so the node's shutdown is not held (Core waits for open connections).
func TestWatcherRefusesLitecoinNode(t *testing.T) {
	ltc := sharedLTC(t)
	ctx := context.Background()
	user, pass := ltc.Credentials()
	d, err := NewDeriver("regtest", testTPub(t), "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	l := openLedger(t, ctx, filepath.Join(t.TempDir(), "l.db"))
	w := NewWatcher(NewClient(RPCConfig{Host: ltc.RPCHost, User: user, Password: config.Secret(pass)}), l, d,
		WatcherConfig{Push: PushConfig{Mode: PushOff}})
	err = w.Poll(ctx)
	if !errors.Is(err, ErrNodeNetwork) {
		t.Fatalf("poll: %v, want ErrNodeNetwork", err)
	}
	for _, want := range []string{`bitcoin.network = "regtest"`, coretest.GenesisRegtest, d.Params().GenesisHash.String(),
		"follows Litecoin regtest", "a Litecoin node belongs in [litecoin]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if st := w.Status(); st.State != chains.Unreachable || st.Error != err.Error() {
		t.Errorf("status %+v", st)
	}
	if _, ok, _ := l.Tip(ctx, chains.BTC); ok {
		t.Error("the refused node's tip was recorded")
	}
	// No connection is left open: Core's shutdown would wait for it.
	waitNoConns(t, ltc.RPCHost)
}

// litecoin.network = "regtest" pointed at btcd -regtest (a Bitcoin node,
// which also says "regtest"): refused, naming the setting, the network
// found and where a Bitcoin node belongs.
func TestLitecoinWatcherRefusesBitcoinNode(t *testing.T) {
	btc := btcdtest.Shared(t)
	ctx := context.Background()
	d, err := LitecoinFamily.NewDeriver("regtest", testTPub(t), "p2wpkh")
	if err != nil {
		t.Fatal(err)
	}
	l := openLedger(t, ctx, filepath.Join(t.TempDir(), "l.db"))
	c := NewClient(RPCConfig{Host: btc.RPCHost, User: btc.User, Password: config.Secret(btc.Pass), Section: "litecoin"})
	err = NewWatcher(c, l, d, WatcherConfig{Push: PushConfig{Mode: PushOff}}).Poll(ctx)
	if !errors.Is(err, ErrNodeNetwork) {
		t.Fatalf("poll: %v, want ErrNodeNetwork", err)
	}
	for _, want := range []string{`litecoin.network = "regtest"`, chaincfg.RegressionNetParams.GenesisHash.String(), coretest.GenesisRegtest,
		"follows Bitcoin regtest", "a Bitcoin node belongs in [bitcoin]", "point litecoin.rpc_host at a Litecoin regtest node"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, ok, _ := l.Tip(ctx, chains.LTC); ok {
		t.Error("the refused node's tip was recorded")
	}
}

// check-config -connect: each family's checks accept its own node and
// refuse the other coin's, saying which it is.
func TestConnectChecksAcrossCoins(t *testing.T) {
	btc, ltc := btcdtest.Shared(t), sharedLTC(t)
	tpub := testTPub(t)
	onBTC := config.Bitcoin{Enabled: true, Network: "regtest", RPCHost: btc.RPCHost, RPCUser: btc.User, RPCPassword: config.Secret(btc.Pass), XPub: tpub}
	onLTC := config.Bitcoin{Enabled: true, Network: "regtest", RPCHost: ltc.RPCHost, RPCCookie: ltc.CookiePath, XPub: tpub}
	run := func(checks []chains.Check) []string {
		var out []string
		for _, c := range checks {
			found, err := c.Run(context.Background())
			if err != nil {
				found = "FAIL " + err.Error()
			}
			out = append(out, c.Name+": "+found)
		}
		return out
	}
	got := run(LitecoinFamily.ConnectChecks(onLTC))
	if len(got) != 2 || !strings.HasPrefix(got[0], "litecoin node "+ltc.RPCHost+`: answers (chain "regtest"`) ||
		!strings.HasSuffix(got[0], ", pruned)") || got[1] != "litecoin network: regtest (genesis block "+coretest.GenesisRegtest+")" {
		t.Errorf("litecoind under [litecoin]:\n%s", strings.Join(got, "\n"))
	}
	got = run(LitecoinFamily.ConnectChecks(onBTC))
	want := "litecoin network: FAIL the node at litecoin.rpc_host follows Bitcoin regtest, not Litecoin: its block 0 is " +
		chaincfg.RegressionNetParams.GenesisHash.String() + `, not the genesis block of litecoin.network = "regtest" (` + coretest.GenesisRegtest +
		"); fix: point litecoin.rpc_host " +
		"at a Litecoin regtest node (litecoind); a Bitcoin node belongs in [bitcoin]"
	if len(got) != 2 || got[1] != want {
		t.Errorf("btcd under [litecoin]:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	got = run(BitcoinFamily.ConnectChecks(onLTC))
	want = "bitcoin network: FAIL the node at bitcoin.rpc_host follows Litecoin regtest, not Bitcoin: its block 0 is " +
		coretest.GenesisRegtest + `, not the genesis block of bitcoin.network = "regtest" (` + chaincfg.RegressionNetParams.GenesisHash.String() +
		"); fix: point bitcoin.rpc_host " +
		"at a Bitcoin regtest node (bitcoind or btcd); a Litecoin node belongs in [litecoin]"
	if len(got) != 2 || got[1] != want {
		t.Errorf("litecoind under [bitcoin]:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}
