// Package chainsync is the seam between a chain's node and the ledger, in
// the spirit of lnd's chainntnfs: a source per chain backend produces chain
// events, and this package turns them into ledger transactions.
//
// What it holds, written once for every chain:
//
//   - Loop: a watcher's rounds (every poll interval, which a watcher with
//     push notifications may change as push comes and goes, at once when
//     poked by a push notification, with a capped exponential back-off
//     after node trouble), throttled trouble logging and the chains.Status
//     bookkeeping (last poll, state, ledger and node heights, blocks
//     behind, and "unreachable" when neither a round nor a push event
//     succeeded for too long) that /readyz and the metrics read.
//   - CommonAncestor: the walk that compares the ledger's remembered blocks
//     with the node's hash at each height, newest first, to find where a
//     reorganisation forked.
//   - BlockFollower: for Bitcoin-family chains, the one place where chain
//     events become ledger transactions (chains.ChainUpdate): a connected
//     block is one, a reorganisation (every disconnect and the new branch's
//     connects) is one, so a payment in both branches never shows as
//     unconfirmed or gone, and a transaction that double spends a watched
//     unconfirmed payment drops it in the block's own transaction. It reads
//     the node through a BlockSource (hash at a height, a block's payments
//     and conflicts, which transactions are in the mempool). The mempool
//     itself, followed by push and polling, is the adapter's (package
//     bitcoin), which records what it finds through BlockFollower.Record.
//   - Hooks: every chain write is counted (Observer, the metrics) and wakes
//     the IPN worker of this process when it made notifications.
//
// Monero does not fit the connect/disconnect events: monero-wallet-rpc, the
// only component that can see payments to a view-only wallet, reports
// incoming transfers by height window (get_transfers above a height, plus
// the pool), not per block, and does not say which transfers a
// reorganisation removed. Its watcher therefore reconciles a window of
// recent heights in one ledger transaction (Window.Reconcile, on
// ReconcileWindow) and uses the shared parts: Loop, CommonAncestor to find
// the fork point that widens the window, and the same Hooks.
package chainsync
