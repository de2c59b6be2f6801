package api

// POST /addresses: hand out a receiving address (and subscribe to it).

import (
	"net/http"
	"strconv"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

type addressJSON struct {
	Chain           chains.Chain    `json:"chain"`
	Address         string          `json:"address"`
	Index           *uint32         `json:"index,omitempty"`
	AccountIndex    *uint32         `json:"account_index,omitempty"`
	SubaddressIndex *uint32         `json:"subaddress_index,omitempty"`
	Label           string          `json:"label"`
	URI             string          `json:"uri"`
	Amount          string          `json:"amount,omitempty"`
	AmountAtomic    string          `json:"amount_atomic,omitempty"`
	Subscription    *subscribedJSON `json:"subscription,omitempty"`
}

func (s *Server) addresses(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	name, ok, err := p.str("chain", 16)
	if err != nil {
		return err
	}
	if !ok {
		return badField("chain", "required (%s)", chains.Choices())
	}
	c, err := s.enabled("chain", name)
	if err != nil {
		return err
	}
	idx, hasIdx, err := p.uint("index", 0, ledger.MaxDerivationIndex)
	if err != nil {
		return err
	}
	if spec, _ := c.Spec(); hasIdx && !spec.DerivationIndexes {
		return badField("index", "fixed indexes are for Bitcoin only; %s addresses are allocated in order", c)
	}
	label, _, err := p.str("label", maxLabelLen)
	if err != nil {
		return err
	}
	amount, hasAmount, err := p.amount("amount", c)
	if err != nil {
		return err
	}
	rawURL, err := s.subscriberURL(ctx, p, false)
	if err != nil {
		return err
	}
	mc, err := s.maxConfirms(p)
	if err != nil {
		return err
	}
	f, err := format(p)
	if err != nil {
		return err
	}
	var a chains.Address
	if hasIdx {
		a, err = s.o.Chains[c].AddressAt(ctx, uint32(idx), label)
		err = adapterError("index", err)
	} else {
		a, err = s.o.Chains[c].Allocate(ctx, label)
		err = adapterError("chain", err)
	}
	if err != nil {
		return err
	}
	// Each chain fills in the indexes it has (Bitcoin the derivation index,
	// Monero account and subaddress); the others stay nil and are omitted.
	out := addressJSON{Chain: c, Address: a.Address, Label: a.Label, URI: PaymentURI(c, a.Address, amount),
		Index: a.DerivationIndex, AccountIndex: a.AccountIndex, SubaddressIndex: a.SubaddressIndex}
	if hasAmount && amount > 0 {
		out.Amount, out.AmountAtomic = shortAmount(c, amount), strconv.FormatUint(amount, 10)
	}
	s.log.Info("address handed out", "chain", c, "index", idxLog(a))
	if rawURL != "" {
		sub, created, err := s.subscribeTo(ctx, c, a.Address, rawURL, mc, f)
		if err != nil {
			return err
		}
		sub.Chain = c
		out.Subscription = &subscribedJSON{Secret: sub.Secret, Created: created, SubscriptionFields: subscriptionFields(sub)}
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func idxLog(a chains.Address) int64 {
	switch {
	case a.DerivationIndex != nil:
		return int64(*a.DerivationIndex)
	case a.SubaddressIndex != nil:
		return int64(*a.SubaddressIndex)
	}
	return -1
}
