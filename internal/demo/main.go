// Command demo is `make demo`: ipnd end to end on one machine, in about a
// minute. It starts btcd and monerod in regtest mode on free loopback ports
// in a temporary directory, a miner wallet and the merchant's view-only
// wallet, ipnd (bin/ipnd serve) with an embedded SQLite ledger, and a small
// IPN receiver that verifies each notification's signature with its
// subscription's secret, echoes it and prints it. It then creates an
// invoice on Bitcoin and on Monero through ipnd's API (POST /invoices, with
// a subscription) and prints each one's checkout page, pays both exactly,
// mines, and shows the balance (GET /balance) and each IPN as they change:
// unconfirmed (invoice processing) first, then confirmed (paid).
//
// At the end, or on Ctrl-C at any moment, it stops everything it started
// and removes the temporary directory. With -wait it keeps everything
// running after the confirmed IPNs until Ctrl-C, to try the API by hand.
//
// Usage (scripts/demo.sh builds and runs it):
//
//	ipnd-demo [-ipnd bin/ipnd] [-confirms 2] [-pause 1s] [-wait] [-v]
//
// btcd is found through $IPND_BTCD or <repo>/bin/btcd; monerod and
// monero-wallet-rpc through $PATH (Debian's monero package).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.IPND, "ipnd", envOr("IPND_BIN", "bin/ipnd"), "the ipnd binary to run")
	flag.IntVar(&o.Confirms, "confirms", 2, "confirmations after which a payment counts as confirmed (max_confirms)")
	flag.BoolVar(&o.Wait, "wait", false, "after the confirmed IPNs keep everything running until Ctrl-C")
	flag.DurationVar(&o.Pause, "pause", time.Second, "pause between the steps after the payments")
	flag.BoolVar(&o.Verbose, "v", false, "copy ipnd's log lines to standard error")
	flag.Parse()
	if flag.NArg() > 0 || o.Confirms < 1 || o.Confirms > 10 {
		flag.Usage()
		os.Exit(2)
	}
	o.Out = os.Stdout

	// Ctrl-C (SIGINT) or SIGTERM cancels ctx: run stops what it started and
	// returns. Signals that arrive while it cleans up are caught and ignored,
	// so a second Ctrl-C can not leave a node running.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			if ctx.Err() == nil {
				fmt.Fprintf(os.Stdout, "\n%s: stopping everything the demo started (this takes a few seconds)\n", s)
			}
			cancel()
		}
	}()

	_, err := run(ctx, o)
	switch {
	case err == nil: // finished (with -wait: then stopped by Ctrl-C)
	case ctx.Err() != nil:
		fmt.Println("demo interrupted; everything it started is stopped and its directory removed")
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
		if errors.Is(err, errMissing) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
