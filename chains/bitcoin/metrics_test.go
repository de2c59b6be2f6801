package bitcoin

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The Bitcoin and Litecoin watchers of one process register their
// collectors side by side; each series carries its chain.
func TestCollectorsPerChain(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := openLedger(t, context.Background(), filepath.Join(t.TempDir(), "l.db"))
	for _, fam := range Families {
		d, err := fam.NewDeriver("regtest", testTPub(t), "p2wpkh")
		if err != nil {
			t.Fatal(err)
		}
		w := NewWatcher(NewClient(RPCConfig{Host: "127.0.0.1:1"}), l, d, WatcherConfig{})
		w.stats.undecodable.Add(uint64(len(fam.Section)))
		if err := reg.Register(w.Collector()); err != nil {
			t.Fatalf("%s: %v", fam.Name, err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			got[mf.GetName()] = append(got[mf.GetName()], fmt.Sprintf("%s %g", strings.Join(labels, ","), v))
		}
	}
	want := map[string][]string{
		"ipnd_chain_transfers_skipped_total": {"chain=btc,reason=undecodable 7", "chain=ltc,reason=undecodable 8"},
		"ipnd_chain_push":                    {"chain=btc,source=none 0", "chain=ltc,source=none 0"},
	}
	for name, w := range want {
		if strings.Join(got[name], "; ") != strings.Join(w, "; ") {
			t.Errorf("%s: %q, want %q", name, got[name], w)
		}
	}
}
