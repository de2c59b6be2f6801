// Command ipnd is the payment notification daemon: it watches Bitcoin and
// Monero for payments to the merchant's addresses, keeps the ledger and
// delivers IPNs. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitUsage is the exit status for bad usage or bad configuration.
const exitUsage = 2

// usageError is bad usage or configuration: exit 2, one line per problem.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the daemon: serve [-roles sync,ipn,api]", runServe},
		{"migrate", "bring the ledger schema up to date", runMigrate},
		{"check-config", "make serve's checks, print the effective configuration (secrets masked); -connect: reach the ledger, nodes and wallets", runCheckConfig},
		{"derive", "print addresses derived from the configured key: derive -chain btc -index N [-count N]", runDerive},
		{"subscriptions", "list subscriptions and their deliveries: subscriptions [-state failing] [-url-prefix P] [-api URL]", runSubscriptions},
		{"deliveries", "list notifications, failing first: deliveries [-failing] [-subscription N] [-api URL]", runDeliveries},
		{"redeliver", "make deliveries due now: redeliver (-subscription N | -url PREFIX | -failing) [-api URL]", runRedeliver},
		{"test-receiver", "grade a shop's IPN endpoint with signed test IPNs: test-receiver -url URL (-secret S | -subscription N) [-format json|form] [-json]", runTestReceiver},
		{"version", "print the version", runVersion},
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		if err == nil {
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, strings.TrimRight(err.Error(), "\n"))
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return 1
	}
	fmt.Fprintf(stderr, "ipnd: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ipnd <command> [-config settings.toml] [flags]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "Every configuration key can be set with IPND_<SECTION>_<KEY>, e.g. IPND_DATABASE_DSN.")
}

// flags makes a command's flag set with the common -config flag.
func flags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("ipnd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "settings.toml", "configuration file (TOML)")
	return fs, cfg
}

// parse parses args and turns flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ipnd version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ipnd %s\n", version)
	return nil
}
