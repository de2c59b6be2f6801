package main

// ipnd test-receiver: the receiver test kit from the command line.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ipn/receivertest"
	"github.com/ipnd/ipnd/ledger"
)

// errReceiverFailed: a required step failed (exit 1, the report says
// which).
var errReceiverFailed = errors.New("the receiver failed a required step")

// runTestReceiver sends the kit's synthetic sequence to -url, signed with
// -secret or the endpoint secret of subscription -subscription (read from
// the configuration's ledger), and prints the report. Exit status: 0 when
// every required step passed, 1 when one failed, 2 on bad usage. Loopback
// and private addresses are allowed: it is run by hand, typically against
// a receiver on the developer's machine.
func runTestReceiver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("test-receiver", stderr)
	target := fs.String("url", "", "the receiver's URL (default with -subscription: the subscription's)")
	secret := fs.String("secret", "", "the endpoint's signing secret (ipnsec_…)")
	sub := fs.Int64("subscription", 0, "sign with this subscription's endpoint secret, in its format and chain (reads the ledger of -config)")
	format := fs.String("format", "", "json or form (default json, or the subscription's)")
	chain := fs.String("chain", "", "chain of the synthetic payment (default btc, or the subscription's)")
	network := fs.String("network", "", "network of the synthetic address (default the configuration's bitcoin.network with -subscription, else mainnet)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *secret != "" && *sub != 0:
		return usagef("test-receiver: give -secret or -subscription, not both")
	case *secret == "" && *sub == 0:
		return usagef("test-receiver: give the endpoint's secret: -secret ipnsec_… or -subscription N")
	case *sub < 0:
		return usagef("test-receiver: -subscription %d: give a subscription id", *sub)
	case *target == "" && *sub == 0:
		return usagef("test-receiver: -url is required: the receiver to test")
	}
	o := receivertest.Options{URL: *target, Secret: *secret, Format: *format, Network: *network, AllowPrivate: true, Version: version}
	if *chain != "" {
		c, err := chainFlag(*chain)
		if err != nil {
			return err
		}
		o.Chain = c
	}
	if *sub != 0 {
		if err := fromSubscription(ctx, args, *path, *sub, &o); err != nil {
			return err
		}
	}
	rep, err := receivertest.Run(ctx, o)
	if errors.Is(err, receivertest.ErrInvalidOptions) || errors.Is(err, ipn.ErrForbiddenTarget) {
		return usageError{fmt.Errorf("test-receiver: %s", strings.TrimPrefix(err.Error(), "receiver test: "))}
	}
	if len(rep.Steps) > 0 {
		if *asJSON {
			b, jerr := rep.JSON()
			if jerr != nil {
				return jerr
			}
			fmt.Fprintf(stdout, "%s\n", b)
		} else if werr := rep.WriteText(stdout); werr != nil {
			return werr
		}
	}
	if err != nil {
		return fmt.Errorf("test-receiver: %w", err)
	}
	if !rep.Pass {
		return errReceiverFailed
	}
	return nil
}

// fromSubscription fills in the secret, and unless given the URL, format,
// chain and network, from a subscription in the configuration's ledger.
func fromSubscription(ctx context.Context, args []string, path string, id int64, o *receivertest.Options) error {
	cfg, _, err := loadConfig(args, path, config.Roles{})
	if err != nil {
		return err
	}
	l, err := openLedger(ctx, cfg, newLogger(cfg.Server, io.Discard), nil)
	if err != nil {
		return err
	}
	defer l.Close()
	s, err := l.Subscription(ctx, id)
	if errors.Is(err, ledger.ErrNotFound) {
		return usagef("test-receiver: -subscription %d: no such subscription", id)
	}
	if err != nil {
		return fmt.Errorf("test-receiver: -subscription %d: %w", id, err)
	}
	o.Secret = s.Secret
	if o.URL == "" {
		o.URL = s.URL
	}
	if o.Format == "" {
		o.Format = s.Format
	}
	if o.Chain == "" {
		o.Chain = s.Chain
	}
	for _, f := range bitcoinSections(cfg) {
		if o.Network == "" && o.Chain == f.fam.Chain {
			o.Network = f.cfg.Network
		}
	}
	return nil
}
