// Package chainsync is the seam between a chain's node and the ledger, in
// the spirit of lnd's chainntnfs: a source per chain backend produces chain
// events, and this package turns them into ledger transactions.
//
// What it holds, written once for every chain:
//
//   - Loop: a watcher's rounds (every poll interval, at once when poked by
//     a push notification, with a capped exponential back-off after node
//     trouble), throttled trouble logging and the chains.Status
//     bookkeeping (last poll, state, ledger and node heights, blocks behind)
//     that /readyz and the metrics read.
//   - CommonAncestor: the walk that compares the ledger's remembered blocks
//     with the node's hash at each height, newest first, to find where a
//     reorganisation forked.
//   - BlockFollower: for Bitcoin-family chains, the one place where block
//     connected, block disconnected and mempool transactions added or gone
//     become ledger transactions (ApplyBlock, RevertBlock, ApplyMempool),
//     with the reorg handling and catch-up progress. It reads the node
//     through a BlockSource (hash at a height, the payments of a block, the
//     mempool): JSON-RPC polling in package bitcoin today; btcd websockets
//     or bitcoind ZMQ are further sources of the same interface.
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
