package main

// ipnd subscriptions, ipnd deliveries and ipnd redeliver: see and steer
// deliveries in bulk, against the ledger or a running API.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/ipnd/ipnd/api"
	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ledger"
)

// defaultRows is how many rows a list command prints unless -limit says.
const defaultRows = 100

// opsFlags are the flags every operator command has besides -config.
type opsFlags struct {
	api   *string
	jsonl *bool
	limit *int
}

func addOpsFlags(fs *flag.FlagSet, lists bool) opsFlags {
	f := opsFlags{api: fs.String("api", "", "a running ipnd's API base URL (key in "+apiKeyVariable+") instead of the configuration's ledger")}
	if lists {
		f.jsonl = fs.Bool("json", false, "one JSON object per line, as the API's list items")
		f.limit = fs.Int("limit", defaultRows, "print at most this many rows (0: all)")
	}
	return f
}

// chainFlag checks a -chain value ("" is every chain).
func chainFlag(name string) (chains.Chain, error) {
	if name == "" {
		return "", nil
	}
	c, err := chains.ParseChain(name)
	if err != nil {
		return "", usagef("-chain %q: use %s", name, chains.Choices())
	}
	return c, nil
}

// listAll pages through a list until limit rows (0: all) or its end and
// says on stderr when it stopped before the end.
func listAll[T any](ctx context.Context, limit int, stderr io.Writer, page func(c ledger.Cursor) ([]T, string, error)) ([]T, error) {
	var out []T
	c := ledger.Cursor{}
	for {
		c.Limit = ledger.MaxListLimit
		if limit > 0 {
			c.Limit = min(limit-len(out), ledger.MaxListLimit)
		}
		items, next, err := page(c)
		if err != nil {
			return out, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		if limit > 0 && len(out) >= limit {
			fmt.Fprintf(stderr, "(the first %d shown; -limit 0 shows all)\n", limit)
			return out, nil
		}
		c.After = next
		if err := ctx.Err(); err != nil {
			return out, err
		}
	}
}

// cell is a value for the table: control characters and tabs (from a
// label, an error text or a URL) become "?", empty is "-".
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// deliveryWord says where a delivery stands, as the console does.
func deliveryWord(active bool, d api.Delivery) string {
	switch {
	case !active:
		return "ended"
	case d.State == "none":
		return "nothing-sent"
	case d.State == ledger.NoteDelivered:
		return "acknowledged"
	case d.State == ledger.NoteFailed:
		return "gave-up"
	case d.Failing:
		return "failing"
	}
	return d.State
}

func lastAttempt(status int, errText, at string) string {
	if at == "" && status == 0 && errText == "" {
		return "-"
	}
	var s string
	switch {
	case status == 0:
		s = errText
	case errText == "" || errText == fmt.Sprintf("HTTP status %d", status):
		s = fmt.Sprint(status)
	default:
		s = fmt.Sprintf("%d %s", status, errText)
	}
	if at != "" {
		s += " at " + at
	}
	return cell(s)
}

func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

func runSubscriptions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("subscriptions", stderr)
	of := addOpsFlags(fs, true)
	state := fs.String("state", "", "active, failing (active; the newest notification given up or pending after a failed attempt) or ended")
	chain := fs.String("chain", "", "only this chain")
	address := fs.String("address", "", "only this address")
	label := fs.String("label", "", "only addresses whose label starts with this")
	urlExact := fs.String("url", "", "only this receiver URL")
	urlPrefix := fs.String("url-prefix", "", "only receiver URLs starting with this")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, ok := ledger.ParseSubscriptionState(*state)
	if !ok {
		return usagef("subscriptions: -state %q: use active, failing or ended", *state)
	}
	c, err := chainFlag(*chain)
	if err != nil {
		return err
	}
	src, err := openSource(ctx, args, *path, *of.api)
	if err != nil {
		return err
	}
	defer src.close()
	q := ledger.SubscriptionQuery{Chain: c, Address: *address, Label: *label, URL: *urlExact, URLPrefix: *urlPrefix, State: st}
	subs, err := listAll(ctx, *of.limit, stderr, func(cur ledger.Cursor) ([]api.SubscriptionItem, string, error) {
		q.Cursor = cur
		p, err := src.subscriptions(ctx, q)
		return p.Subscriptions, p.Next, err
	})
	if err != nil {
		return err
	}
	if *of.jsonl {
		return writeJSONLines(stdout, subs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCHAIN\tADDRESS\tLABEL\tURL\tDELIVERY\tATTEMPTS\tLAST ATTEMPT")
	for _, s := range subs {
		d := s.Delivery
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Chain, cell(s.Address), cell(s.Label), cell(s.URL),
			deliveryWord(s.Active, d), d.Attempts, lastAttempt(d.LastStatus, d.LastError, d.LastAttemptAt))
	}
	return tw.Flush()
}

func runDeliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("deliveries", stderr)
	of := addOpsFlags(fs, true)
	failing := fs.Bool("failing", false, "only failing notifications (given up, or pending after a failed attempt)")
	state := fs.String("state", "", "only this state: pending, delivered, superseded or failed")
	sub := fs.Int64("subscription", 0, "only this subscription's notifications")
	chain := fs.String("chain", "", "only this chain")
	address := fs.String("address", "", "only this address")
	label := fs.String("label", "", "only addresses whose label starts with this")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *state != "" {
		st, ok := ledger.ParseNotificationState(*state)
		if !ok {
			return usagef("deliveries: -state %q: use pending, delivered, superseded or failed (or -failing)", *state)
		}
		*state = st
	}
	if *sub < 0 {
		return usagef("deliveries: -subscription %d: give a subscription id", *sub)
	}
	c, err := chainFlag(*chain)
	if err != nil {
		return err
	}
	src, err := openSource(ctx, args, *path, *of.api)
	if err != nil {
		return err
	}
	defer src.close()
	q := ledger.NotificationQuery{Chain: c, SubscriptionID: *sub, Address: *address, Label: *label, State: *state, Failing: *failing}
	notes, err := listAll(ctx, *of.limit, stderr, func(cur ledger.Cursor) ([]api.NotificationItem, string, error) {
		q.Cursor = cur
		p, err := src.notifications(ctx, q)
		return p.Notifications, p.Next, err
	})
	if err != nil {
		return err
	}
	if *of.jsonl {
		return writeJSONLines(stdout, notes)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IPN-ID\tSUBSCRIPTION\tCHAIN\tADDRESS\tLABEL\tCONFIRMED\tUNCONFIRMED\tSTATE\tATTEMPTS\tLAST ATTEMPT\tNEXT ATTEMPT")
	for _, n := range notes {
		st := n.State
		if n.Failing {
			st += " (failing)"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.ID, n.SubscriptionID, n.Chain, cell(n.Address),
			cell(n.Label), n.Confirmed, n.Unconfirmed, st, n.Attempts, lastAttempt(n.LastStatus, n.LastError, n.LastAttemptAt),
			cell(n.NextAttemptAt))
	}
	return tw.Flush()
}

func runRedeliver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := flags("redeliver", stderr)
	of := addOpsFlags(fs, false)
	sub := fs.Int64("subscription", 0, "redeliver this subscription")
	prefix := fs.String("url", "", "redeliver every active subscription whose receiver URL starts with this")
	failing := fs.Bool("failing", false, "redeliver every failing subscription (with -url: those under the prefix)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *sub < 0:
		return usagef("redeliver: -subscription %d: give a subscription id", *sub)
	case *sub > 0 && (*prefix != "" || *failing):
		return usagef("redeliver: -subscription redelivers one subscription; -url and -failing select many: give one or the other")
	case *sub == 0 && *prefix == "" && !*failing:
		return usagef("redeliver: say what: -subscription N, -url PREFIX or -failing")
	}
	src, err := openSource(ctx, args, *path, *of.api)
	if err != nil {
		return err
	}
	defer src.close()
	if *sub > 0 {
		if err := src.redeliver(ctx, *sub); err != nil {
			return fmt.Errorf("redeliver: %w", err)
		}
		fmt.Fprintf(stdout, "redelivering subscription %d: its current totals are due now\n", *sub)
		return nil
	}
	q := ledger.SubscriptionQuery{URLPrefix: *prefix, State: ledger.ActiveSubscriptions}
	if *failing {
		q.State = ledger.FailingSubscriptions
	}
	ids, err := src.redeliverAll(ctx, q)
	if len(ids) > 0 {
		var s []string
		for _, id := range ids {
			s = append(s, fmt.Sprint(id))
		}
		noun := "subscriptions"
		if len(ids) == 1 {
			noun = "subscription"
		}
		fmt.Fprintf(stdout, "redelivering %d %s: %s\n", len(ids), noun, strings.Join(s, " "))
	} else if err == nil {
		fmt.Fprintln(stdout, "nothing to redeliver: no subscription matches")
	}
	if err != nil {
		return fmt.Errorf("redeliver: %w", err)
	}
	return nil
}
