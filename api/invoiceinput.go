package api

// The input of POST /invoices: its fields as invoice.Policy.Validate reads
// them, and the per-order_id serialization of this process.

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/ipnd/ipnd/invoice"
)

// text reads a field that is a JSON string or number (its text), or a
// form value: the raw input invoice.Policy.Validate parses.
func (p *params) text(field string) (string, error) {
	v, isJSON, ok, err := p.raw(field)
	if err != nil || !ok {
		return "", err
	}
	if isJSON {
		switch {
		case strings.HasPrefix(v, `"`):
			var s string
			if json.Unmarshal([]byte(v), &s) != nil {
				return "", badField(field, "must be a string or a number")
			}
			v = s
		case v == "" || (v[0] != '-' && (v[0] < '0' || v[0] > '9')):
			return "", badField(field, "must be a string or a number, not %s", jsonKind(v))
		}
	}
	return strings.TrimSpace(v), nil
}

// metadata reads the metadata field: a JSON object in a JSON body, its JSON
// text in a form.
func (p *params) metadata() ([]byte, error) {
	if p.json != nil {
		if m, ok := p.json["metadata"]; ok {
			return m, nil
		}
	}
	v, _, ok, err := p.raw("metadata")
	if err != nil || !ok {
		return nil, err
	}
	return []byte(v), nil
}

// createRequest reads POST /invoices' fields.
func createRequest(p *params) (invoice.CreateRequest, error) {
	var req invoice.CreateRequest
	var err error
	fields := []struct {
		name string
		to   *string
	}{{"chain", &req.Chain}, {"amount", &req.Amount}, {"amount_atomic", &req.AmountAtomic}, {"expires_in", &req.ExpiresIn}}
	for _, f := range fields {
		if *f.to, err = p.text(f.name); err != nil {
			return req, err
		}
	}
	if req.OrderID, _, err = p.str("order_id", 4*invoice.MaxOrderIDLen); err != nil {
		return req, err
	}
	if req.Description, _, err = p.str("description", 4*invoice.MaxDescriptionBytes); err != nil {
		return req, err
	}
	if req.Metadata, err = p.metadata(); err != nil {
		return req, err
	}
	mc, ok, err := p.uint("max_confirms", 0, MaxConfirmsLimit)
	if err != nil {
		return req, err
	}
	if ok {
		n := int(mc)
		req.MaxConfirms = &n
	}
	return req, nil
}

// orderLocks serializes this process's creations with one order_id, so
// that concurrent identical requests allocate one address (the ledger
// keeps one invoice per order_id across processes).
type orderLocks struct {
	mu    sync.Mutex
	locks map[string]*orderLock
}

type orderLock struct {
	mu    sync.Mutex
	users int
}

func (o *orderLocks) lock(id string) func() {
	o.mu.Lock()
	if o.locks == nil {
		o.locks = map[string]*orderLock{}
	}
	l := o.locks[id]
	if l == nil {
		l = &orderLock{}
		o.locks[id] = l
	}
	l.users++
	o.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		o.mu.Lock()
		if l.users--; l.users == 0 {
			delete(o.locks, id)
		}
		o.mu.Unlock()
	}
}
