package main

import (
	"context"
	"fmt"

	"github.com/ipnd/ipnd/chains"
)

// invoice asks ipnd for an invoice of amount (atomic units) on chain c
// with a subscription for the receiver (POST /invoices), gives the
// receiver its secret and prints the invoice's checkout page.
func (d *demo) invoice(ctx context.Context, c chains.Chain, amount uint64) (*payment, error) {
	var out struct {
		ID           string `json:"id"`
		Address      string `json:"address"`
		URI          string `json:"uri"`
		CheckoutURL  string `json:"checkout_url"`
		ExpiresAt    string `json:"expires_at"`
		Status       string `json:"status"`
		Subscription *struct {
			ID     int64  `json:"id"`
			Secret string `json:"secret"`
		} `json:"subscription"`
	}
	err := d.call(ctx, "POST", "/invoices", map[string]any{
		"chain": string(c), "amount_atomic": fmt.Sprint(amount), "url": d.recv.URL, "max_confirms": d.o.Confirms,
		"description": "demo order " + randomHex(3), "expires_in": "1h",
	}, &out)
	if err != nil {
		return nil, err
	}
	if out.Subscription == nil || out.Address == "" || out.CheckoutURL == "" {
		return nil, fmt.Errorf("POST /invoices %s: no address, subscription or checkout_url in the answer", c)
	}
	d.recv.expect(out.Subscription.ID, out.Subscription.Secret)
	d.con.say("invoice  %s %s for %s %s at %s (%s), IPNs to the receiver, paid after %d blocks",
		unit(c), out.ID, c.FormatAmount(amount), unit(c), out.Address, out.Status, d.o.Confirms)
	d.con.say("checkout %s %s", unit(c), out.CheckoutURL)
	return &payment{Chain: c, Address: out.Address, Sub: out.Subscription.ID, Invoice: out.ID, CheckoutURL: out.CheckoutURL}, nil
}

// invoiceStatus reads an invoice's status (GET /invoices/{id}).
func (d *demo) invoiceStatus(ctx context.Context, id string) (string, error) {
	var out struct {
		Status string `json:"status"`
	}
	if err := d.call(ctx, "GET", "/invoices/"+id, nil, &out); err != nil {
		return "", err
	}
	return out.Status, nil
}
