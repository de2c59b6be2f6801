package db_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/db"
	"github.com/ipnd/ipnd/ledger"
)

// changeLog records the changes of every notification the ledger builds.
type changeLog struct {
	mu  sync.Mutex
	got []string // one line per notification: "txid:from>to:reason ..."
}

func (c *changeLog) payload(d ledger.NotificationData) ([]byte, string, error) {
	var parts []string
	for _, ch := range d.Changes {
		parts = append(parts, fmt.Sprintf("%s:%d:%s>%s:%s", ch.TxID, ch.Amount, ch.From, ch.To, ch.Reason))
	}
	c.mu.Lock()
	c.got = append(c.got, strings.Join(parts, " "))
	c.mu.Unlock()
	return db.DefaultPayload(d)
}

// take returns the lines recorded since the last call.
func (c *changeLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	return out
}

func expectChanges(t *testing.T, c *changeLog, step string, want ...string) {
	t.Helper()
	if got := c.take(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: notifications with changes %q, want %q", step, got, want)
	}
}

// TestChangesCarryTheChainsReasons: every notification lists the deposits
// whose standing changed, with the reason the chain write gave for the
// downward moves (reorg, double_spend, replaced, dropped_from_mempool) and
// seen / confirmed for the upward ones.
func TestChangesCarryTheChainsReasons(t *testing.T) {
	log := &changeLog{}
	contractWith(t, db.Options{Payload: log.payload}, func(t *testing.T, l *db.Ledger) {
		log.take()
		mustAddr(t, l, chains.BTC, "addrA", 0)
		if err := l.SetStart(ctx, chains.BTC, blk(10)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Subscribe(ctx, chains.BTC, "addrA", "http://r.example/", 2, "", "k"); err != nil {
			t.Fatal(err)
		}
		pay := func(txid string, amount uint64) chains.Payment {
			return chains.Payment{TxID: txid, Address: "addrA", Amount: amount}
		}
		mempool := func(added []chains.Payment, gone ...chains.Gone) {
			t.Helper()
			if _, err := applyMempoolGone(l, chains.BTC, added, gone); err != nil {
				t.Fatal(err)
			}
		}
		mempool([]chains.Payment{pay("t1", 500)})
		expectChanges(t, log, "first sight", "t1:500:none>unconfirmed:seen")
		if _, err := applyBlock(l, chains.BTC, blk(11), []chains.Payment{pay("t1", 500)}); err != nil {
			t.Fatal(err)
		}
		expectChanges(t, log, "one confirmation of two")
		mineTo(t, l, chains.BTC, 12)
		expectChanges(t, log, "second confirmation", "t1:500:unconfirmed>confirmed:confirmed")
		if _, err := revertBlock(l, chains.BTC, blk(12), blk(11), nil); err != nil {
			t.Fatal(err)
		}
		expectChanges(t, log, "the tip goes down", "t1:500:confirmed>unconfirmed:reorg")

		mempool([]chains.Payment{pay("t2", 7), pay("t3", 8), pay("t4", 9)})
		expectChanges(t, log, "three in the pool", "t2:7:none>unconfirmed:seen t3:8:none>unconfirmed:seen t4:9:none>unconfirmed:seen")
		mempool(nil, chains.Gone{TxID: "t2", Reason: chains.ReasonReplaced})
		expectChanges(t, log, "replaced", "t2:7:unconfirmed>none:replaced")
		mempool(nil, chains.Gone{TxID: "t3", Reason: chains.ReasonDoubleSpend}, chains.Gone{TxID: "t4", Reason: "bogus"})
		expectChanges(t, log, "double spend and an unknown reason", "t3:8:unconfirmed>none:double_spend t4:9:unconfirmed>none:dropped_from_mempool")
		// A transaction dropped from the mempool; a replacement with the same
		// amount leaves the totals alone but is still told.
		mempool([]chains.Payment{pay("t5", 3)})
		log.take()
		if _, err := applyMempool(l, chains.BTC, []chains.Payment{pay("t6", 3)}, []string{"t5"}); err != nil {
			t.Fatal(err)
		}
		expectChanges(t, log, "same-amount swap", "t5:3:unconfirmed>none:dropped_from_mempool t6:3:none>unconfirmed:seen")
		// Block 11 leaves and t1 with it: a reorg.
		if _, err := revertBlock(l, chains.BTC, blk(11), blk(10), nil); err != nil {
			t.Fatal(err)
		}
		expectChanges(t, log, "its block disconnected", "t1:500:unconfirmed>none:reorg")
		_, ds, err := l.Balance(ctx, chains.BTC, "addrA", 2)
		if err != nil {
			t.Fatal(err)
		}
		reasons := map[string]string{}
		for _, d := range ds {
			reasons[d.TxID] = d.Reason
		}
		want := map[string]string{"t1": "reorg", "t2": "replaced", "t3": "double_spend", "t4": "dropped_from_mempool",
			"t5": "dropped_from_mempool", "t6": "seen"}
		if fmt.Sprint(reasons) != fmt.Sprint(want) {
			t.Fatalf("deposit reasons %v, want %v", reasons, want)
		}

		// A new subscription's first IPN lists what counts already.
		if _, _, err := l.Subscribe(ctx, chains.BTC, "addrA", "http://other.example/", 0, "", "k"); err != nil {
			t.Fatal(err)
		}
		expectChanges(t, log, "new subscription", "t6:3:none>confirmed:seen")
	})
}

// TestWindowedChangesCarryReasons: a Monero-style reconcile names a
// transfer missing from a block a reorg, one missing from the pool
// dropped, a flagged one a double spend, and takes the chain side's reason
// when given.
func TestWindowedChangesCarryReasons(t *testing.T) {
	log := &changeLog{}
	contractWith(t, db.Options{Payload: log.payload}, func(t *testing.T, l *db.Ledger) {
		log.take()
		if _, err := l.EnsureAddress(ctx, chains.Address{Chain: chains.XMR, Address: "8sub", AccountIndex: u32(0), SubaddressIndex: u32(1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(50), 40, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Subscribe(ctx, chains.XMR, "8sub", "http://r.example/", 1, "", "k"); err != nil {
			t.Fatal(err)
		}
		x := func(txid string, height int64, ds bool) chains.Payment {
			return chains.Payment{TxID: txid, Address: "8sub", Amount: 1, Height: height, DoubleSpend: ds}
		}
		all := []chains.Payment{x("mined", 50, false), x("pool", 0, false), x("flag", 0, false), x("rbf", 0, false)}
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(51), 41, all); err != nil {
			t.Fatal(err)
		}
		expectChanges(t, log, "seen", "mined:1:none>confirmed:seen pool:1:none>unconfirmed:seen flag:1:none>unconfirmed:seen rbf:1:none>unconfirmed:seen")
		if _, err := l.ReconcileWindow(ctx, chains.XMR, blk(52), 42, []chains.Payment{x("flag", 0, true)}); err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(strings.Join(log.take(), " "))
		want := []string{"mined:1:confirmed>none:reorg", "pool:1:unconfirmed>none:dropped_from_mempool",
			"flag:1:unconfirmed>none:double_spend", "rbf:1:unconfirmed>none:dropped_from_mempool"}
		if fmt.Sprint(sortedCopy(got)) != fmt.Sprint(sortedCopy(want)) {
			t.Fatalf("changes %v, want %v", got, want)
		}
	})
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
