package bitcoin

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/config"
)

// bitcoin.network = "regtest" pointed at litecoind -regtest (which also
// says "regtest"): refused before anything is written, naming the setting
// and the genesis block seen; the refused round keeps no connection open,
// so the node's shutdown is not held (Core waits for open connections).
func TestWatcherRefusesLitecoinNode(t *testing.T) {
	ltc := coretest.Shared(t, coretest.Options{})
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
	for _, want := range []string{"bitcoin.network", `"regtest"`, coretest.GenesisRegtest, d.Params().GenesisHash.String()} {
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
	if took := ltc.Restart(); took > 5*time.Second {
		t.Errorf("the node took %v to stop: a connection was left open", took)
	}
}
