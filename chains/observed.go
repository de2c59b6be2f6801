package chains

import (
	"errors"
	"time"
)

// Block identifies a block of a chain's best chain.
type Block struct {
	Height int64
	Hash   string
}

// Address is a watched address. Index fields are nil when they do not apply:
// Bitcoin uses DerivationIndex (nil for an arbitrary subscribed address),
// Monero uses AccountIndex and SubaddressIndex.
type Address struct {
	ID              int64
	Chain           Chain
	Address         string
	DerivationIndex *uint32
	AccountIndex    *uint32
	SubaddressIndex *uint32
	Label           string
	CreatedAt       time.Time
}

// Payment is one incoming output (Bitcoin) or one incoming transfer to one
// subaddress (Monero) as a watcher saw it. The unique key is
// (chain, TxID, Address, OutIndex): Bitcoin uses the output index, Monero 0
// (wallet-rpc reports one amount per transaction and subaddress).
type Payment struct {
	TxID        string
	OutIndex    uint32
	Address     string
	Amount      uint64
	UnlockTime  uint64 // Monero unlock_time; 0 = none
	DoubleSpend bool   // Monero double_spend_seen
	// Height is the block height for a mined payment, 0 for a pool payment.
	// Only a windowed reconcile reads it: a block write takes the block's
	// height.
	Height    int64
	BlockHash string
	// Watch is used when Address is not in the ledger yet (a Bitcoin gap
	// address): it is recorded with these indexes.
	Watch *Address
}

// Change summarises what one ledger write did, for logs and metrics.
type Change struct {
	DepositsAdded   int
	DepositsUpdated int
	DepositsRemoved int // orphaned or flagged
	Notifications   int
}

// ErrRejected marks an adapter error caused by the caller's input (an
// address of another network, an index the chain does not have): the API
// answers it 400 with its message.
var ErrRejected = errors.New("rejected")

// SyncedElsewhere is the status of a chain another ipnd process follows
// (this one does not run the chain's sync role).
func SyncedElsewhere(c Chain) Status {
	return Status{Chain: c, State: Synced, Error: "followed by another ipnd process (sync role)"}
}
