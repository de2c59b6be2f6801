package ledger

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/invoice"
)

// Deposit statuses.
const (
	StatusMempool     = "mempool"      // seen unconfirmed
	StatusConfirmed   = "confirmed"    // in a block of the best chain (Height, BlockHash set)
	StatusOrphaned    = "orphaned"     // its transaction left the chain and the mempool
	StatusDoubleSpend = "double_spend" // flagged: counts toward neither total
)

// Notification states.
const (
	NotePending    = "pending"    // waiting for (another) delivery attempt
	NoteDelivered  = "delivered"  // the receiver echoed it
	NoteSuperseded = "superseded" // newer totals replaced it before it was acknowledged
	NoteFailed     = "failed"     // gave up after ipn.max_age
)

// NotificationStates are the notification states, in a notification's
// life's order.
var NotificationStates = []string{NotePending, NoteDelivered, NoteSuperseded, NoteFailed}

// ParseNotificationState reads a notification state's name (any case,
// surrounding space ignored): the state and true, or "" and false.
func ParseNotificationState(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, st := range NotificationStates {
		if s == st {
			return st, true
		}
	}
	return "", false
}

// Errors consumers can test with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrIndexTaken   = errors.New("index already allocated to another address")
	ErrAddressTaken = errors.New("address already recorded with other indexes")
	// ErrNotContiguous: a block does not extend the stored tip.
	ErrNotContiguous = errors.New("block does not extend the stored tip")
	// ErrLeaseLost: the notification's lease ran out (and another owner
	// may have taken it); the attempt was logged but the notification left
	// as is.
	ErrLeaseLost = errors.New("notification lease lost")
	// ErrChainLockLost: this process no longer holds the chain's sync lock
	// (another process took it over); the chain write was not made.
	ErrChainLockLost = errors.New("chain sync lock lost: another process follows the chain")
	// ErrTotalOverflow: an address's totals are beyond what the ledger
	// stores (a ledger written before payments beyond it were skipped).
	ErrTotalOverflow = errors.New("totals beyond what the ledger stores")
)

// MaxDerivationIndex is the highest derivation index the ledger records:
// the highest non-hardened BIP32 index.
const MaxDerivationIndex = math.MaxInt32

// MaxConfirmsLimit is the highest max_confirms a subscription may have.
const MaxConfirmsLimit = 1000

// Deposit is a recorded payment.
type Deposit struct {
	ID        int64
	Chain     chains.Chain
	TxID      string
	OutIndex  uint32
	AddressID int64
	Address   string
	Amount    uint64
	Height    int64 // 0 while in the mempool
	BlockHash string
	Status    string
	// Reason is why the deposit last changed status (a Reason constant),
	// as the chain write said; "" on deposits recorded before reasons.
	Reason      string
	UnlockTime  uint64
	DoubleSpend bool
	FirstSeen   time.Time
	UpdatedAt   time.Time
}

// Totals is what an address received at a tip, for one max_confirms.
type Totals struct {
	Confirmed   uint64
	Unconfirmed uint64
	Height      int64 // the chain tip the totals were computed at
}

// Subscription asks for IPNs about one address at one URL.
type Subscription struct {
	ID          int64
	Chain       chains.Chain
	AddressID   int64
	Address     string
	Label       string // the address's
	EndpointID  int64
	URL         string
	MaxConfirms int
	// Secret is the endpoint's (the URL's) signing secret.
	Secret string
	// LegacySecret is the subscription's own secret from before endpoint
	// secrets ("" for newer ones); it signs too until the endpoint's first
	// rotation has passed its grace period.
	LegacySecret string
	Format       string // "json" or "form"
	Active       bool
	// The totals of the newest notification made for it.
	LastConfirmed   uint64
	LastUnconfirmed uint64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// NotificationData is what a payload is built from.
type NotificationData struct {
	ID           int64
	Subscription Subscription
	Totals       Totals
	// Changes lists the deposits whose CountsAs changed since the
	// subscription's previous notification, oldest deposit first (empty
	// for a redelivery).
	Changes   []DepositChange
	CreatedAt time.Time
	// Invoice is the state of the invoice the subscription was made for
	// (its IPN block), nil for a subscription without one.
	Invoice *invoice.Notice
}

// PayloadBuilder renders a notification's body once, when it is created;
// every delivery attempt sends exactly these bytes.
type PayloadBuilder func(NotificationData) (body []byte, contentType string, err error)

// Notification is one IPN to deliver.
type Notification struct {
	ID             int64
	SubscriptionID int64
	EndpointID     int64
	Chain          chains.Chain
	Address        string
	URL            string
	// Secret is the endpoint's signing secret; ExtraSecrets sign too (a
	// rotated secret in its grace period, a legacy subscription secret),
	// so each attempt carries one signature per secret.
	Secret       string
	ExtraSecrets []string
	// EndpointFailing: an attempt to the endpoint failed since its last
	// acknowledgement (as of the claim).
	EndpointFailing bool
	Confirmed       uint64
	Unconfirmed     uint64
	Height          int64
	Body            []byte
	ContentType     string
	State           string
	Attempts        int
	NextAttemptAt   time.Time
	LeaseOwner      string
	LeaseUntil      time.Time
	LastStatus      int
	LastError       string
	CreatedAt       time.Time
	// ObservedAt is when the chain event it tells of was observed (zero
	// for a notification made by a subscription or a redelivery).
	ObservedAt  time.Time
	UpdatedAt   time.Time
	DeliveredAt time.Time
}

// Attempt is the outcome of one delivery attempt, as recorded.
type Attempt struct {
	NotificationID int64
	SubscriptionID int64
	At             time.Time
	Status         int    // HTTP status, 0 when none
	Error          string // empty when delivered
	Delivered      bool
	Duration       time.Duration
}

// AttemptResult is what the IPN worker reports after one attempt.
type AttemptResult struct {
	Delivered bool
	Status    int
	Error     string
	Duration  time.Duration
	// RetryAfter is how long after the attempt is recorded (on the
	// ledger's clock) to try again after a failure; when zero,
	// NextAttemptAt is used.
	RetryAfter    time.Duration
	NextAttemptAt time.Time
	// GiveUp marks the notification failed (ipn.max_age passed).
	GiveUp bool
	// CatchUp, on an acknowledgement, is how many of the endpoint's other
	// notifications waiting in back-off to make due now when an attempt to
	// it had failed before: a receiver that comes back is caught up at
	// once (the worker gives its per-host limit).
	CatchUp int
	// At is when the attempt ended, on the ledger's clock (metrics).
	At time.Time
}

// Pruned counts what a retention pass deleted.
type Pruned struct {
	Notifications int64
	Attempts      int64
}
