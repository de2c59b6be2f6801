package bitcoin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/ipnd/ipnd/chains"
)

// wireTx is a decoded mempool transaction.
type wireTx struct {
	id  chainhash.Hash
	msg *wire.MsgTx
}

// handle scans decoded mempool transactions: payments to watched
// addresses join u (their coins are watched from then on), and a
// transaction spending a watched coin drops the watched transaction as
// replaced.
func (m *mempoolFollower) handle(u *chains.ChainUpdate, txs []*wireTx) error {
	if len(txs) == 0 {
		return nil
	}
	msgs := make([]*wire.MsgTx, len(txs))
	var fs []finding
	for i, t := range txs {
		msgs[i] = t.msg
		fs = m.spends.check(t.msg, func() chainhash.Hash { return t.id }, false, fs[:0])
		replaced, _ := m.spends.apply(fs, 0)
		for _, id := range replaced {
			u.Gone = append(u.Gone, chains.Gone{TxID: id.String(), Reason: chains.ReasonReplaced})
		}
	}
	ms, err := m.scan(msgs, func(i int) chainhash.Hash { return txs[i].id })
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return nil
	}
	for _, mt := range ms {
		t := txs[mt.tx]
		m.spends.add(t.id, t.msg, 0)
	}
	u.Mempool = append(u.Mempool, payments(m.fam.Chain, ms)...)
	return nil
}

// fetch gets, decodes and scans the given transactions, in batches; those
// the node no longer has are skipped.
func (m *mempoolFollower) fetch(ctx context.Context, u *chains.ChainUpdate, ids []chainhash.Hash) error {
	for start := 0; start < len(ids); start += m.cfg.Batch {
		chunk := ids[start:min(start+m.cfg.Batch, len(ids))]
		txs, err := m.fetchBatch(ctx, chunk)
		if err != nil {
			return err
		}
		if err := m.handle(u, txs); err != nil {
			return err
		}
	}
	return nil
}

func (m *mempoolFollower) fetchBatch(ctx context.Context, ids []chainhash.Hash) ([]*wireTx, error) {
	raws, errs, err := m.node.RawTransactions(ctx, ids)
	if err != nil {
		return nil, err
	}
	txs := make([]*wireTx, 0, len(ids))
	for i, raw := range raws {
		if isNotFound(errs[i]) {
			continue // left the mempool meanwhile
		}
		if errs[i] != nil {
			// Asked again later; a transaction the node keeps refusing is
			// skipped like one that does not decode.
			if m.retries[ids[i]]++; m.retries[ids[i]] < maxFetchTries {
				m.backlog = append(m.backlog, ids[i])
			} else {
				delete(m.retries, ids[i])
				m.undecodable(ids[i], errs[i])
			}
			continue
		}
		delete(m.retries, ids[i])
		tx, err := m.fam.Decoder.DecodeTx(raw)
		if errors.Is(err, ErrNoCanonicalPart) {
			continue // Litecoin MWEB-only: nothing to watch, nothing it spends is watched
		}
		if err == nil && tx.ID != ids[i] {
			err = fmt.Errorf("the node sent transaction %s for %s", tx.ID, ids[i])
		}
		if err != nil {
			m.undecodable(ids[i], err)
			continue
		}
		txs = append(txs, &wireTx{id: tx.ID, msg: tx.Msg})
	}
	m.stats.fetched.Add(uint64(len(ids)))
	return txs, nil
}

// maxFetchTries is how often a transaction the node answers with an error
// is asked for.
const maxFetchTries = 3

// undecodable logs a transaction the decoder refused once, counts it and
// skips it: other transactions and their IPNs go on.
func (m *mempoolFollower) undecodable(id chainhash.Hash, err error) {
	if m.bad[id] {
		return
	}
	if len(m.bad) >= 10_000 {
		clear(m.bad)
	}
	m.bad[id] = true
	m.stats.undecodable.Add(1)
	m.log.Warn("mempool transaction does not decode; skipped", "txid", id, "err", err)
}

// importChunk fetches from the backlog for at most the round's budget and
// asks for another round at once when some is left.
func (m *mempoolFollower) importChunk(ctx context.Context, u *chains.ChainUpdate) error {
	deadline := time.Now().Add(m.cfg.Budget)
	for first := true; len(m.backlog) > 0 && (first || time.Now().Before(deadline)); first = false {
		n := min(m.cfg.Batch, len(m.backlog))
		chunk := m.backlog[:n]
		txs, err := m.fetchBatch(ctx, chunk)
		if err != nil {
			return err
		}
		m.backlog = m.backlog[n:]
		before := len(u.Mempool)
		if err := m.handle(u, txs); err != nil {
			return err
		}
		m.imp.done(m, n, len(u.Mempool)-before)
		if len(u.Mempool) > before {
			if err := m.record(ctx, u); err != nil {
				return err
			}
		}
	}
	if len(m.backlog) == 0 {
		m.backlog = nil // let a large one's array go
	} else {
		m.poke()
	}
	m.stats.backlog.Store(int64(len(m.backlog)))
	return nil
}

// loadSpends watches the coins of the ledger's unconfirmed transactions
// still in the node's mempool (at start: the watcher forgets them when it
// stops).
func (m *mempoolFollower) loadSpends(ctx context.Context) error {
	ours, err := m.ledger.MempoolTxIDs(ctx, m.fam.Chain)
	if err != nil || len(ours) == 0 {
		return err
	}
	var ids []chainhash.Hash
	for _, s := range ours {
		if h, err := chainhash.NewHashFromStr(s); err == nil {
			ids = append(ids, *h)
		}
	}
	for start := 0; start < len(ids); start += m.cfg.Batch {
		txs, err := m.fetchBatch(ctx, ids[start:min(start+m.cfg.Batch, len(ids))])
		if err != nil {
			return err
		}
		for _, t := range txs {
			m.spends.add(t.id, t.msg, 0)
		}
	}
	return nil
}

// importProgress logs a large backlog's import.
type importProgress struct {
	total, fetched, payments int
	start, logged            time.Time
}

// large is the backlog size from which the import is logged.
const large = 1000

func (p *importProgress) queued(m *mempoolFollower, n int) {
	if p.total == 0 && n >= large {
		*p = importProgress{total: n, start: time.Now(), logged: time.Now()}
		m.log.Info("importing the node's mempool in the background", "transactions", n, "batch", m.cfg.Batch)
	} else if p.total > 0 {
		p.total += n
	}
}

func (p *importProgress) done(m *mempoolFollower, n, payments int) {
	if p.total == 0 {
		return
	}
	p.fetched += n
	p.payments += payments
	el := time.Since(p.start)
	rate := fmt.Sprintf("%.0f", float64(p.fetched)/max(el.Seconds(), 1e-9))
	if len(m.backlog) == 0 {
		m.log.Info("mempool imported", "transactions", p.fetched, "seconds", fmt.Sprintf("%.2f", el.Seconds()),
			"tx_per_s", rate, "payments", p.payments)
		m.stats.setImport(p.fetched, el)
		*p = importProgress{}
		return
	}
	if time.Since(p.logged) >= m.cfg.ProgressInterval {
		p.logged = time.Now()
		m.log.Info("importing the node's mempool", "done", p.fetched, "remaining", len(m.backlog), "tx_per_s", rate)
	}
}
