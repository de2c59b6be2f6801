package ledger

import (
	"time"

	"github.com/ipnd/ipnd/chains"
)

// Reasons a deposit changed, as IPN bodies list them in changes[].reason
// and Deposit.Reason keeps them. The chain side gives the downward ones
// (chains.Reason, see the package documentation's write contract); the
// ledger derives the upward ones.
const (
	ReasonSeen        = "seen"                           // first sight (mempool or block), or back after leaving
	ReasonConfirmed   = "confirmed"                      // reached max_confirms (and unlocked)
	ReasonReorg       = string(chains.ReasonReorg)       // its block left the best chain
	ReasonDoubleSpend = string(chains.ReasonDoubleSpend) // a conflicting transaction was mined (or the node flags it)
	ReasonDropped     = string(chains.ReasonDropped)     // left the mempool without a known conflict (expiry, eviction)
	ReasonReplaced    = string(chains.ReasonReplaced)    // replaced in the mempool by a conflicting transaction (RBF)
)

// GoneReasons are the reasons a chain write may give for a transaction
// that left (chains.Gone.Reason).
var GoneReasons = []chains.Reason{chains.ReasonReorg, chains.ReasonDoubleSpend, chains.ReasonDropped, chains.ReasonReplaced}

// GoneReason is r as a deposit's reason: r when it is one of GoneReasons,
// else def (a chain write that gave none, or one this ledger does not know).
func GoneReason(r chains.Reason, def string) string {
	for _, g := range GoneReasons {
		if r == g {
			return string(r)
		}
	}
	return def
}

// How a deposit counts for one subscription: DepositChange.From and To.
const (
	CountsNone        = "none"
	CountsUnconfirmed = "unconfirmed"
	CountsConfirmed   = "confirmed"
)

// CountsAs classifies d for a subscription with maxConfirms at tip:
// CountsConfirmed, CountsUnconfirmed or CountsNone (SumTotals' rule).
func (d Deposit) CountsAs(tip int64, maxConfirms int, now time.Time) string {
	switch {
	case !d.Counts():
		return CountsNone
	case d.IsConfirmed(tip, maxConfirms, now):
		return CountsConfirmed
	}
	return CountsUnconfirmed
}

// countsRank orders the CountsAs values.
func countsRank(c string) int {
	switch c {
	case CountsConfirmed:
		return 2
	case CountsUnconfirmed:
		return 1
	}
	return 0
}

// Up reports whether moving from one CountsAs value to another raises the
// totals it counts toward (none → unconfirmed → confirmed).
func Up(from, to string) bool { return countsRank(to) > countsRank(from) }

// DepositChange is one deposit whose CountsAs changed for a subscription
// since its previous notification: an entry of an IPN body's changes[].
type DepositChange struct {
	TxID     string
	OutIndex uint32
	Amount   uint64
	From, To string // CountsNone, CountsUnconfirmed or CountsConfirmed
	Reason   string // one of the Reason constants
}

// Endpoint is a receiver URL: every subscription to it shares its signing
// secret.
type Endpoint struct {
	ID  int64
	URL string
	// Secret signs every IPN; PreviousSecret (after a rotation) signs too
	// until PreviousUntil.
	Secret         string
	PreviousSecret string
	PreviousUntil  time.Time
	// LegacyUntil ends the subscriptions' own secrets (made before
	// endpoint secrets existed): zero while the endpoint was never rotated
	// (they sign), else the end of the first rotation's grace period.
	LegacyUntil   time.Time
	Subscriptions int // active subscriptions to the URL
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Heartbeat is the sync role's last report of one chain, written to the
// ledger every few seconds by the process that follows the chain.
type Heartbeat struct {
	Chain      string
	Owner      string // the process that wrote it
	State      string // its watcher's chains.SyncState
	Height     int64
	NodeHeight int64
	Feed       string // how its watcher hears of blocks (chains.Status.Feed)
	Error      string
	BeatAt     time.Time
	// Age is how old the heartbeat was when read, on the ledger's clock.
	Age time.Duration
}
