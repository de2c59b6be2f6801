package db

// This file lists the Ledger's methods by purpose. Each chain write (ApplyBlock,
// RevertBlock, ApplyMempool, ReconcileWindow) is one transaction that records the
// payments, moves the chain tip and creates a notification for every active
// subscription whose (confirmed, unconfirmed) pair changed, so a crash can never
// separate a change from its notification.
//
// Chain state:            Tip, RecentBlocks, SetStart, MempoolTxIDs
// Chain writes:           ApplyBlock, RevertBlock, ApplyMempool, ReconcileWindow
// Addresses:              AllocateAddress, EnsureAddress, AddressByString,
//                         AddressByIndex, Addresses, HighestDerivationIndex,
//                         HighestSubaddressIndex
// Balances:               Balance
// Subscriptions:          Subscribe, Unsubscribe, Subscription, Redeliver, Attempts
// Notification delivery:  ClaimDue, RecordAttempt, NextDue, NotificationCounts
