package bitcoin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/ledger"
)

// Index safety. A fresh ledger for a key that received payments before (an
// earlier ledger, the wallet itself) must not hand those addresses out
// again. Before its first allocation on an empty ledger the Allocator asks
// the node for coins on the first addresses (scantxoutset: Bitcoin Core,
// Litecoin Core) and starts after the last one holding any; first_index
// sets where it starts at least. A node without scantxoutset (btcd) cannot
// tell: a warning says how to set first_index.

// UTXOScanner finds the unspent outputs paying any of some scripts
// (*Client: scantxoutset).
type UTXOScanner interface {
	ScanUnspent(ctx context.Context, scripts [][]byte) ([]Unspent, error)
}

// Unspent is one unspent output scantxoutset found.
type Unspent struct {
	Script []byte
	Amount uint64 // atomic units
}

// ErrNoUTXOScan: the node cannot scan its UTXO set (btcd).
var ErrNoUTXOScan = errors.New("the node has no scantxoutset")

// scanTimeout bounds one scantxoutset: it reads the whole UTXO set, a few
// minutes on mainnet.
const scanTimeout = 30 * time.Minute

// ScanUnspent calls scantxoutset with one raw() descriptor per script.
func (c *Client) ScanUnspent(ctx context.Context, scripts [][]byte) ([]Unspent, error) {
	objs := make([]string, len(scripts))
	for i, s := range scripts {
		objs[i] = "raw(" + hex.EncodeToString(s) + ")"
	}
	var res struct {
		Success  bool `json:"success"`
		Unspents []struct {
			ScriptPubKey hexBytes    `json:"scriptPubKey"`
			Amount       json.Number `json:"amount"`
		} `json:"unspents"`
	}
	err := c.Call(ctx, "scantxoutset", &res, "start", objs)
	if isMethodNotFound(err) {
		return nil, ErrNoUTXOScan
	}
	if err != nil {
		return nil, err
	}
	if !res.Success {
		return nil, errors.New("scantxoutset: the scan did not complete")
	}
	fam := familyOfSection(c.cfg.Section)
	out := make([]Unspent, 0, len(res.Unspents))
	for _, u := range res.Unspents {
		amount, err := fam.Chain.ParseAmount(u.Amount.String())
		if err == nil && amount > uint64(fam.MaxMoney) {
			err = fmt.Errorf("above %s's money supply", fam.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("scantxoutset: amount %q: %w", u.Amount, err)
		}
		out = append(out, Unspent{Script: u.ScriptPubKey, Amount: amount})
	}
	return out, nil
}

// FirstIndexLedger is what the check needs of the ledger (*db.Ledger).
type FirstIndexLedger interface {
	HighestDerivationIndex(ctx context.Context, c chains.Chain) (int64, error)
	RaiseAddressCounter(ctx context.Context, c chains.Chain, next int64) (int64, error)
	// AddressCounter is the chain's allocation counter and whether it
	// exists: the check's result (or the first allocation) creates it,
	// so a ledger that has one was checked.
	AddressCounter(ctx context.Context, c chains.Chain) (int64, bool, error)
}

// FirstIndexConfig tunes the check.
type FirstIndexConfig struct {
	// FirstIndex is the lowest index handed out ([section] first_index).
	FirstIndex int64
	// GapLimit: scanning goes on while a used address lies within this
	// many indexes of the scanned range's end.
	GapLimit int
	// Window is how many addresses one scan checks (default 1,000: the
	// scan's cost is reading the UTXO set, not the number of scripts).
	Window int
	Logger *slog.Logger
}

// PrepareIndexes makes the ledger's allocation counter safe before any
// address of d's chain is handed out: at least cfg.FirstIndex, and on an
// empty ledger (no derived address recorded) past the last address of the
// key's first ones that holds coins, as the node's UTXO set shows. It
// returns the first index allocation will consider. A node without
// scantxoutset gets a warning (when first_index is 0) and the counter
// first_index (no counter is recorded when first_index is 0: nothing was
// checked). The check runs once per ledger and chain: its result is the
// chain's address counter, and a ledger that has the counter (the check
// ran, first_index was applied, or an address was allocated) is not
// scanned again, only raised to first_index.
func PrepareIndexes(ctx context.Context, d *Deriver, l FirstIndexLedger, node UTXOScanner, cfg FirstIndexConfig) (int64, error) {
	c, s := d.fam.Chain, d.fam.Section
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("subsystem", string(c))
	if cfg.Window <= 0 {
		cfg.Window = 1000
	}
	cfg.Window = max(cfg.Window, cfg.GapLimit+1)
	if closer, ok := node.(interface{ CloseIdle() }); ok {
		defer closer.CloseIdle() // keep no connection: a stopping node would wait for it
	}
	highest, err := l.HighestDerivationIndex(ctx, c)
	if err != nil {
		return 0, err
	}
	next := cfg.FirstIndex
	scan := highest < 0
	if scan {
		counter, checked, err := l.AddressCounter(ctx, c)
		if err != nil {
			return 0, err
		}
		if checked {
			scan = false
			log.Info("empty ledger: the check of the key's used addresses ran at an earlier start (its result is the address counter); not scanning again",
				"next_index", counter, "first_index", cfg.FirstIndex)
		}
	}
	if scan {
		used, found, err := scanUsed(ctx, d, node, cfg)
		switch {
		case errors.Is(err, ErrNoUTXOScan):
			if cfg.FirstIndex == 0 {
				log.Warn("empty ledger and the node cannot tell which addresses of the key were used before (no scantxoutset, e.g. btcd): "+
					"addresses are handed out from index 0. If this key received payments before this ledger (an earlier ledger, "+
					"the wallet, another program), stop ipnd, set "+s+".first_index to one past the highest index used "+
					"(the wallet's address list shows it) and start again", "setting", s+".first_index")
				// Nothing was checked: no counter is recorded, so the
				// warning comes again at the next start and a node with
				// scantxoutset (bitcoind instead of btcd) still checks.
				return 0, nil
			} else {
				log.Info("empty ledger: handing out addresses from first_index (the node has no scantxoutset to check for earlier use)",
					"setting", s+".first_index", "first_index", cfg.FirstIndex)
			}
		case err != nil:
			return 0, err
		case used >= 0 && found.capped:
			next = max(next, used+1)
			log.Warn("empty ledger: addresses of the key hold coins up to the end of what one check scans; handing out addresses "+
				"after the last of them. If the key was used further, set "+s+".first_index past its highest used index",
				"setting", s+".first_index", "addresses_with_coins", found.addresses, "highest_used_index", used,
				"scanned_to", found.scannedTo, "next_index", next)
		case used >= 0:
			next = max(next, used+1)
			log.Info("empty ledger: addresses of the key already hold coins; handing out addresses after the last of them",
				"addresses_with_coins", found.addresses, "coins", found.coins, "amount", c.FormatAmount(found.amount),
				"highest_used_index", used, "scanned_from", cfg.FirstIndex, "scanned_to", found.scannedTo, "next_index", next)
		default:
			log.Info("empty ledger: no coins on the key's first addresses; handing out addresses from first_index",
				"scanned_from", cfg.FirstIndex, "scanned_to", found.scannedTo, "first_index", cfg.FirstIndex)
		}
	}
	return l.RaiseAddressCounter(ctx, c, next)
}

// usedSummary is what the scans found.
type usedSummary struct {
	addresses, coins int
	amount           uint64
	scannedTo        int64 // last index scanned
	capped           bool  // maxScanWindows reached with used addresses near its end
}

// maxScanWindows bounds the scans of one check (100,000 addresses at the
// default window): a node reporting coins everywhere cannot keep it going.
const maxScanWindows = 100

// scanUsed scans windows of indexes from cfg.FirstIndex until no address
// within GapLimit of a window's end holds coins; it returns the highest
// index holding coins (-1 for none).
func scanUsed(ctx context.Context, d *Deriver, node UTXOScanner, cfg FirstIndexConfig) (int64, usedSummary, error) {
	var sum usedSummary
	used := int64(-1)
	from := cfg.FirstIndex
	for window := 0; from <= ledger.MaxDerivationIndex; window++ {
		if window == maxScanWindows {
			sum.capped = true
			return used, sum, nil
		}
		to := min(from+int64(cfg.Window)-1, ledger.MaxDerivationIndex)
		scripts := make([][]byte, 0, to-from+1)
		index := map[string]int64{}
		for i := from; i <= to; i++ {
			a, err := d.Derive(uint32(i))
			if err != nil {
				continue // an invalid child (BIP32: skip it)
			}
			scripts = append(scripts, a.Script)
			index[string(a.Script)] = i
		}
		sctx, cancel := context.WithTimeout(ctx, scanTimeout)
		unspent, err := node.ScanUnspent(sctx, scripts)
		cancel()
		if err != nil {
			return -1, sum, err
		}
		seen := map[int64]bool{}
		for _, u := range unspent {
			i, ok := index[string(u.Script)]
			if !ok {
				continue
			}
			sum.coins++
			sum.amount += u.Amount
			if !seen[i] {
				seen[i] = true
				sum.addresses++
			}
			used = max(used, i)
		}
		sum.scannedTo = to
		if used < 0 || used+int64(cfg.GapLimit) < to {
			return used, sum, nil
		}
		from = to + 1
	}
	return used, sum, nil
}

// indexGate holds allocations until PrepareIndexes succeeded once.
type indexGate struct {
	done chan struct{}
	mu   sync.Mutex
	err  error // the last failure, while not done
}

// errIndexesNotReady: allocations wait for the check of used addresses.
var errIndexesNotReady = errors.New("checking which addresses of the key were used before (scantxoutset) before handing any out; try again shortly")

// gateWait is how long an allocation waits for the check.
const gateWait = 10 * time.Second

func (g *indexGate) wait(ctx context.Context, section string) error {
	if g == nil {
		return nil
	}
	t := time.NewTimer(gateWait)
	defer t.Stop()
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		// The last attempt's error is told, not wrapped: the allocation
		// fails because the check has not finished, not for its cause (a
		// timeout there is not this request's).
		return fmt.Errorf("%s: %w (last attempt: %v)", section, errIndexesNotReady, g.err)
	}
	return fmt.Errorf("%s: %w", section, errIndexesNotReady)
}

// PrepareIndexes runs the index check (PrepareIndexes) in the background
// until it succeeds, retrying after node or ledger failures; Allocate waits
// for it. Without this call allocation does not wait.
func (a *Allocator) PrepareIndexes(ctx context.Context, l FirstIndexLedger, node UTXOScanner, cfg FirstIndexConfig) {
	g := &indexGate{done: make(chan struct{})}
	a.gate = g
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	go func() {
		wait := time.Second
		for {
			_, err := PrepareIndexes(ctx, a.d, l, node, cfg)
			if err == nil {
				close(g.done)
				return
			}
			g.mu.Lock()
			g.err = err
			g.mu.Unlock()
			log.Warn("checking the key's used addresses failed; addresses are handed out once it succeeds", "subsystem", string(a.d.fam.Chain), "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, time.Minute)
		}
	}()
}

// NewScanClient is the client of the index check: like the watcher's, but
// one call may take scanTimeout (scantxoutset reads the whole UTXO set).
func (f *Family) NewScanClient(c config.Bitcoin) *Client {
	rc := f.RPCConfig(c)
	rc.Timeout = scanTimeout
	return NewClient(rc)
}
