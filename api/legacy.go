package api

// The original service's endpoints, kept for its clients: /btc and
// /btc_ipn are Bitcoin by definition.

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// btc is the original service's balance endpoint: {"confirmed": 0.1,
// "unconfirmed": 0.2} with the amounts as exact JSON numbers in BTC.
func (s *Server) btc(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	addr, ok, err := p.str("address", maxAddressLen)
	if err != nil {
		return err
	}
	if !ok {
		return badField("address", "required")
	}
	if addr, err = s.canonical(chains.BTC, addr); err != nil {
		return err
	}
	mc, err := s.maxConfirms(p)
	if err != nil {
		return err
	}
	t, _, err := s.o.Ledger.Balance(r.Context(), chains.BTC, addr, mc)
	if errors.Is(err, ledger.ErrNotFound) {
		return notWatched(chains.BTC)
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, struct {
		Confirmed   json.RawMessage `json:"confirmed"`
		Unconfirmed json.RawMessage `json:"unconfirmed"`
	}{jsonAmount(chains.BTC, t.Confirmed), jsonAmount(chains.BTC, t.Unconfirmed)})
	return nil
}

// btcIPN is the original service's subscription endpoint: plain "success"
// or "fail". Its receivers expect form-encoded IPNs.
func (s *Server) btcIPN(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(w, r)
	if err != nil {
		return err
	}
	c, addr, rawURL, mc, err := s.subscribeParams(r, p, chains.BTC)
	if err != nil {
		return err
	}
	if _, _, err := s.subscribeTo(r.Context(), c, addr, rawURL, mc, "form"); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("success"))
	return nil
}
