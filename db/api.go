package db

// This file lists the Ledger's methods by purpose. Each chain write
// (ApplyChainUpdate, ReconcileWindow[With], SkipTo) is one transaction that
// records the payments, moves the chain tip and creates a notification for every
// active subscription whose (confirmed, unconfirmed) pair, or the standing of one
// of its deposits, changed, with the changes and their reasons (the contract is
// in package ledger's documentation), so a crash can never separate a change from
// its notification.
//
// Chain state:            Tip, RecentBlocks, SetStart, MempoolTxIDs
// Chain writes:           ApplyChainUpdate (Bitcoin family), ReconcileWindow
//                         (Monero), SkipTo; each checks
//                         the sync lock's fencing token (LockChain)
// Sync role:              LockChain, Beat, Heartbeats
// Addresses:              AllocateAddress, EnsureAddress, AddressByString,
//                         AddressByIndex, Addresses, HighestDerivationIndex,
//                         HighestSubaddressIndex
// Balances:               Balance
// Subscriptions:          Subscribe, Unsubscribe, Subscription, Redeliver, Attempts
// Endpoints (secrets):    Endpoint, RotateEndpointSecret
// Notification delivery:  ClaimDue, ClaimDueAt, RecordAttempt(s), Defer,
//                         NotificationCounts
// Retention:              Prune, PruneOlderThan
// Clock:                  Now (the database's), ClockOffset
