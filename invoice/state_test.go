package invoice

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
)

// t0 is the creation time of the test invoices; they expire 15 minutes
// later.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const amt = 100_000 // satoshi

func testInvoice(status Status) Invoice {
	inv := New(Params{Chain: chains.BTC, AmountAtomic: amt, ExpiresIn: 15 * time.Minute, MaxConfirms: 1},
		"inv_test", "bcrt1qtest", t0)
	inv.Status = status
	return inv
}

// at is a time relative to t0.
func at(d time.Duration) time.Time { return t0.Add(d) }

const exp = 15 * time.Minute // the test invoices' expires_in

// Deposit shorthands: seen at t0+d.
func pending(a uint64, d time.Duration) Deposit {
	return Deposit{Amount: a, FirstSeen: at(d), Live: true}
}
func confirmed(a uint64, d time.Duration) Deposit {
	return Deposit{Amount: a, FirstSeen: at(d), Live: true, Confirmed: true}
}
func lost(a uint64, d time.Duration, why LossReason) Deposit {
	return Deposit{Amount: a, FirstSeen: at(d), Lost: why}
}

// documented is every transition the package doc lists; Evaluate and
// Cancel must make no other (FuzzEvaluate checks it too).
var documented = func() map[[2]Status]bool {
	m := map[[2]Status]bool{}
	add := func(from Status, to ...Status) {
		for _, s := range to {
			m[[2]Status{from, s}] = true
		}
	}
	covered := []Status{StatusProcessing, StatusPaid, StatusOverpaid}
	add(StatusNew, append(covered, StatusExpired, StatusUnderpaid, StatusLate, StatusCancelled)...)
	add(StatusProcessing, StatusPaid, StatusOverpaid, StatusReversed)
	add(StatusPaid, StatusOverpaid, StatusProcessing, StatusReversed)
	add(StatusOverpaid, StatusPaid, StatusProcessing, StatusReversed)
	add(StatusReversed, covered...)
	add(StatusExpired, append(covered, StatusLate, StatusUnderpaid)...)
	add(StatusUnderpaid, append(covered, StatusLate, StatusExpired)...)
	add(StatusLate, append(covered, StatusUnderpaid, StatusExpired)...)
	return m
}()

type amounts struct{ paid, pending, due, excess uint64 }

func amountsOf(inv Invoice) amounts {
	return amounts{inv.PaidAtomic, inv.PendingAtomic, inv.DueAtomic, inv.ExcessAtomic}
}

// TestTransitions covers every documented transition, and the evaluations
// that must not move.
func TestTransitions(t *testing.T) {
	cases := []struct {
		name   string
		from   Status
		deps   []Deposit
		now    time.Duration
		want   Status
		amts   amounts
		reason LossReason
	}{
		{"new stays new with nothing", StatusNew, nil, time.Minute, StatusNew, amounts{due: amt}, ""},
		{"new stays new with a partial payment", StatusNew, []Deposit{pending(40_000, time.Minute)}, 2 * time.Minute,
			StatusNew, amounts{pending: 40_000, due: 60_000}, ""},
		{"new -> processing", StatusNew, []Deposit{pending(amt, time.Minute)}, time.Minute,
			StatusProcessing, amounts{pending: amt}, ""},
		{"new -> processing by two payments", StatusNew, []Deposit{confirmed(60_000, time.Minute), pending(40_000, 2*time.Minute)},
			2 * time.Minute, StatusProcessing, amounts{paid: 60_000, pending: 40_000}, ""},
		{"new -> paid (first seen in a block)", StatusNew, []Deposit{confirmed(amt, time.Minute)}, time.Minute,
			StatusPaid, amounts{paid: amt}, ""},
		{"new -> overpaid", StatusNew, []Deposit{confirmed(amt+5, time.Minute)}, time.Minute,
			StatusOverpaid, amounts{paid: amt + 5, excess: 5}, ""},
		{"new -> expired at expires_at", StatusNew, nil, exp, StatusExpired, amounts{due: amt}, ""},
		{"new -> expired, a lost payment does not count", StatusNew, []Deposit{lost(amt, time.Minute, LossDropped)}, exp,
			StatusExpired, amounts{due: amt}, ""},
		{"new stays new one nanosecond before expires_at", StatusNew, nil, exp - time.Nanosecond, StatusNew, amounts{due: amt}, ""},
		{"new -> underpaid", StatusNew, []Deposit{confirmed(30_000, time.Minute)}, exp,
			StatusUnderpaid, amounts{paid: 30_000, due: 70_000}, ""},
		{"new -> underpaid, unconfirmed partial", StatusNew, []Deposit{pending(30_000, time.Minute)}, exp + time.Hour,
			StatusUnderpaid, amounts{pending: 30_000, due: 70_000}, ""},
		{"new -> late, payment seen at expires_at", StatusNew, []Deposit{pending(amt, exp)}, exp,
			StatusLate, amounts{pending: amt}, ""},
		{"new -> late before the expiry ran (the late deposit proves the time)", StatusNew, []Deposit{pending(amt, exp+time.Second)},
			exp - time.Minute, StatusLate, amounts{pending: amt}, ""},
		{"new -> late with a partial on-time payment", StatusNew, []Deposit{confirmed(50_000, time.Minute), pending(50_000, exp+time.Minute)},
			exp + time.Minute, StatusLate, amounts{paid: 50_000, pending: 50_000}, ""},
		{"processing stays processing past expiry", StatusProcessing, []Deposit{pending(amt, time.Minute)}, exp + time.Hour,
			StatusProcessing, amounts{pending: amt}, ""},
		{"processing stays processing with a late payment", StatusProcessing, []Deposit{pending(amt, time.Minute), pending(7, exp+time.Minute)},
			exp + time.Hour, StatusProcessing, amounts{pending: amt + 7}, ""},
		{"processing -> paid, confirmed after expiry", StatusProcessing, []Deposit{confirmed(amt, exp-time.Second)}, exp + time.Hour,
			StatusPaid, amounts{paid: amt}, ""},
		{"processing -> paid, a late confirmed payment completes it", StatusProcessing,
			[]Deposit{pending(amt, time.Minute), confirmed(amt, exp+time.Minute)}, exp + time.Hour,
			StatusPaid, amounts{paid: amt, pending: amt}, ""},
		{"processing -> overpaid", StatusProcessing, []Deposit{confirmed(amt, time.Minute), confirmed(1, 2*time.Minute)}, time.Hour,
			StatusOverpaid, amounts{paid: amt + 1, excess: 1}, ""},
		{"processing -> reversed by a double spend", StatusProcessing, []Deposit{lost(amt, time.Minute, LossDoubleSpend)}, 2 * time.Minute,
			StatusReversed, amounts{due: amt}, LossDoubleSpend},
		{"processing -> reversed by a drop, the strongest reason named", StatusProcessing,
			[]Deposit{lost(50_000, time.Minute, LossReplaced), lost(50_000, time.Minute, LossDropped), pending(1, 2*time.Minute)},
			2 * time.Minute, StatusReversed, amounts{pending: 1, due: amt - 1}, LossReplaced},
		{"paid stays paid", StatusPaid, []Deposit{confirmed(amt, time.Minute)}, time.Hour, StatusPaid, amounts{paid: amt}, ""},
		{"paid -> overpaid by a late payment", StatusPaid, []Deposit{confirmed(amt, time.Minute), confirmed(9, exp+time.Minute)},
			exp + time.Hour, StatusOverpaid, amounts{paid: amt + 9, excess: 9}, ""},
		{"paid stays paid while an extra payment is unconfirmed", StatusPaid, []Deposit{confirmed(amt, time.Minute), pending(9, 2*time.Minute)},
			time.Hour, StatusPaid, amounts{paid: amt, pending: 9}, ""},
		{"overpaid -> paid, the extra payment reorged out", StatusOverpaid, []Deposit{confirmed(amt, time.Minute), lost(9, 2*time.Minute, LossReorg)},
			time.Hour, StatusPaid, amounts{paid: amt}, ""},
		{"paid -> processing, a reorg took the confirmation", StatusPaid, []Deposit{pending(amt, time.Minute)}, time.Hour,
			StatusProcessing, amounts{pending: amt}, ""},
		{"overpaid -> processing", StatusOverpaid, []Deposit{pending(amt+9, time.Minute)}, time.Hour,
			StatusProcessing, amounts{pending: amt + 9}, ""},
		{"paid -> reversed by a reorg", StatusPaid, []Deposit{lost(amt, time.Minute, LossReorg)}, time.Hour,
			StatusReversed, amounts{due: amt}, LossReorg},
		{"overpaid -> reversed, the late payment does not cover", StatusOverpaid,
			[]Deposit{lost(amt, time.Minute, LossDoubleSpend), confirmed(amt+9, exp+time.Minute)}, time.Hour,
			StatusReversed, amounts{paid: amt + 9, excess: 9}, LossDoubleSpend},
		{"reversed stays reversed past expiry", StatusReversed, []Deposit{lost(amt, time.Minute, LossReorg), confirmed(10, 2*time.Minute)},
			exp + time.Hour, StatusReversed, amounts{paid: 10, due: amt - 10}, ""},
		{"reversed stays reversed with a late payment", StatusReversed, []Deposit{lost(amt, time.Minute, LossReorg), pending(amt, exp+time.Minute)},
			exp + time.Hour, StatusReversed, amounts{pending: amt}, ""},
		{"reversed -> processing, back in the mempool", StatusReversed, []Deposit{pending(amt, time.Minute)}, exp + time.Hour,
			StatusProcessing, amounts{pending: amt}, ""},
		{"reversed -> processing by a top-up before expiry", StatusReversed,
			[]Deposit{lost(amt, time.Minute, LossDoubleSpend), pending(amt, 3*time.Minute)}, 3 * time.Minute,
			StatusProcessing, amounts{pending: amt}, ""},
		{"reversed -> paid, re-mined", StatusReversed, []Deposit{confirmed(amt, time.Minute)}, exp + time.Hour,
			StatusPaid, amounts{paid: amt}, ""},
		{"reversed -> overpaid", StatusReversed, []Deposit{confirmed(amt+3, time.Minute)}, exp + time.Hour,
			StatusOverpaid, amounts{paid: amt + 3, excess: 3}, ""},
		{"expired stays expired", StatusExpired, nil, exp + time.Hour, StatusExpired, amounts{due: amt}, ""},
		{"expired stays expired if the clock went back", StatusExpired, nil, exp - time.Minute, StatusExpired, amounts{due: amt}, ""},
		{"expired -> late", StatusExpired, []Deposit{pending(20, exp+time.Hour)}, exp + time.Hour,
			StatusLate, amounts{pending: 20, due: amt - 20}, ""},
		{"expired -> underpaid, an on-time deposit re-mined", StatusExpired, []Deposit{confirmed(20, time.Minute)}, exp + time.Hour,
			StatusUnderpaid, amounts{paid: 20, due: amt - 20}, ""},
		{"expired -> processing, an on-time payment back in the mempool", StatusExpired, []Deposit{pending(amt, time.Minute)}, exp + time.Hour,
			StatusProcessing, amounts{pending: amt}, ""},
		{"expired -> paid", StatusExpired, []Deposit{confirmed(amt, time.Minute)}, exp + time.Hour, StatusPaid, amounts{paid: amt}, ""},
		{"expired -> overpaid", StatusExpired, []Deposit{confirmed(amt+1, time.Minute)}, exp + time.Hour,
			StatusOverpaid, amounts{paid: amt + 1, excess: 1}, ""},
		{"underpaid -> late by a top-up after expiry", StatusUnderpaid, []Deposit{confirmed(30_000, time.Minute), pending(70_000, exp+time.Minute)},
			exp + time.Minute, StatusLate, amounts{paid: 30_000, pending: 70_000}, ""},
		{"underpaid -> expired, the partial payment double-spent", StatusUnderpaid, []Deposit{lost(30_000, time.Minute, LossDoubleSpend)},
			exp + time.Hour, StatusExpired, amounts{due: amt}, ""},
		{"underpaid -> processing, a dropped on-time top-up is back", StatusUnderpaid,
			[]Deposit{confirmed(30_000, time.Minute), pending(70_000, 2*time.Minute)}, exp + time.Hour,
			StatusProcessing, amounts{paid: 30_000, pending: 70_000}, ""},
		{"underpaid -> paid, the on-time top-up confirms", StatusUnderpaid,
			[]Deposit{confirmed(30_000, time.Minute), confirmed(70_000, 2*time.Minute)}, exp + time.Hour,
			StatusPaid, amounts{paid: amt}, ""},
		{"underpaid -> overpaid", StatusUnderpaid, []Deposit{confirmed(30_000, time.Minute), confirmed(80_000, 2*time.Minute)},
			exp + time.Hour, StatusOverpaid, amounts{paid: 110_000, excess: 10_000}, ""},
		{"late stays late when its payment confirms", StatusLate, []Deposit{confirmed(amt, exp+time.Minute)}, exp + time.Hour,
			StatusLate, amounts{paid: amt}, ""},
		{"late -> underpaid, the late payment double-spent", StatusLate,
			[]Deposit{confirmed(30_000, time.Minute), lost(70_000, exp+time.Minute, LossDoubleSpend)}, exp + time.Hour,
			StatusUnderpaid, amounts{paid: 30_000, due: 70_000}, ""},
		{"late -> expired, every payment lost", StatusLate, []Deposit{lost(amt, exp+time.Minute, LossReplaced)}, exp + time.Hour,
			StatusExpired, amounts{due: amt}, ""},
		{"late -> processing, an on-time payment back", StatusLate, []Deposit{pending(amt, time.Minute), pending(5, exp+time.Minute)},
			exp + time.Hour, StatusProcessing, amounts{pending: amt + 5}, ""},
		{"late -> paid", StatusLate, []Deposit{confirmed(amt, time.Minute), pending(5, exp+time.Minute)}, exp + time.Hour,
			StatusPaid, amounts{paid: amt, pending: 5}, ""},
		{"late -> overpaid", StatusLate, []Deposit{confirmed(amt, time.Minute), confirmed(5, exp+time.Minute)}, exp + time.Hour,
			StatusOverpaid, amounts{paid: amt + 5, excess: 5}, ""},
		{"cancelled stays cancelled when paid", StatusCancelled, []Deposit{confirmed(amt, time.Minute)}, time.Hour,
			StatusCancelled, amounts{paid: amt}, ""},
		{"cancelled stays cancelled past expiry", StatusCancelled, nil, exp + time.Hour, StatusCancelled, amounts{due: amt}, ""},
		{"a deposit first seen before the invoice is not its", StatusNew, []Deposit{confirmed(amt, -time.Second)}, time.Minute,
			StatusNew, amounts{due: amt}, ""},
	}
	seen := map[[2]Status]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv := testInvoice(c.from)
			ev, err := Evaluate(inv, c.deps, at(c.now))
			if err != nil {
				t.Fatal(err)
			}
			got := ev.Invoice
			if got.Status != c.want || amountsOf(got) != c.amts {
				t.Fatalf("%s -> %s %+v, want %s %+v", c.from, got.Status, amountsOf(got), c.want, c.amts)
			}
			if ev.From != c.from || ev.Transition != (c.from != c.want) || ev.Reason != c.reason {
				t.Fatalf("from %s transition %v reason %q, want from %s transition %v reason %q",
					ev.From, ev.Transition, ev.Reason, c.from, c.from != c.want, c.reason)
			}
			if ev.Transition && !documented[[2]Status{c.from, c.want}] {
				t.Fatalf("%s -> %s is not a documented transition", c.from, c.want)
			}
			again, err := Evaluate(got, c.deps, at(c.now))
			if err != nil || again.Transition || again.Changed {
				t.Fatalf("re-evaluation moved: %+v, %v", again, err)
			}
			seen[[2]Status{c.from, c.want}] = true
		})
	}
	seen[[2]Status{StatusNew, StatusCancelled}] = true // TestCancel
	for tr := range documented {
		if !seen[tr] {
			t.Errorf("documented transition %s -> %s has no case", tr[0], tr[1])
		}
	}
}

// step is one evaluation of a scenario: the deposits as the ledger sees
// them at t0+now and the status that must follow.
type step struct {
	now  time.Duration
	deps []Deposit
	want Status
	amts amounts
}

// run evaluates the steps in order, carrying the invoice from one to the
// next, and checks that exactly the status changes are transitions.
func run(t *testing.T, steps []step) {
	t.Helper()
	inv := testInvoice(StatusNew)
	for i, s := range steps {
		ev, err := Evaluate(inv, s.deps, at(s.now))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if ev.Invoice.Status != s.want || amountsOf(ev.Invoice) != s.amts {
			t.Fatalf("step %d: %s %+v, want %s %+v", i, ev.Invoice.Status, amountsOf(ev.Invoice), s.want, s.amts)
		}
		if ev.Transition != (inv.Status != s.want) {
			t.Fatalf("step %d: %s -> %s reported transition %v", i, inv.Status, s.want, ev.Transition)
		}
		inv = ev.Invoice
	}
}

func TestScenarios(t *testing.T) {
	min := time.Minute
	t.Run("exact payment: processing, then paid", func(t *testing.T) {
		run(t, []step{
			{min, []Deposit{pending(amt, min)}, StatusProcessing, amounts{pending: amt}},
			{2 * min, []Deposit{pending(amt, min)}, StatusProcessing, amounts{pending: amt}},
			{20 * min, []Deposit{confirmed(amt, min)}, StatusPaid, amounts{paid: amt}},
		})
	})
	t.Run("underpayment then a top-up: paid", func(t *testing.T) {
		run(t, []step{
			{min, []Deposit{pending(60_000, min)}, StatusNew, amounts{pending: 60_000, due: 40_000}},
			{3 * min, []Deposit{confirmed(60_000, min)}, StatusNew, amounts{paid: 60_000, due: 40_000}},
			{5 * min, []Deposit{confirmed(60_000, min), pending(40_000, 5*min)}, StatusProcessing, amounts{paid: 60_000, pending: 40_000}},
			{25 * min, []Deposit{confirmed(60_000, min), confirmed(40_000, 5*min)}, StatusPaid, amounts{paid: amt}},
		})
	})
	t.Run("one payment too much: overpaid with the excess", func(t *testing.T) {
		run(t, []step{
			{min, []Deposit{pending(amt+1234, min)}, StatusProcessing, amounts{pending: amt + 1234}},
			{9 * min, []Deposit{confirmed(amt+1234, min)}, StatusOverpaid, amounts{paid: amt + 1234, excess: 1234}},
		})
	})
	t.Run("nothing: expired exactly at expires_at", func(t *testing.T) {
		run(t, []step{
			{exp - time.Nanosecond, nil, StatusNew, amounts{due: amt}},
			{exp, nil, StatusExpired, amounts{due: amt}},
			{exp + time.Hour, nil, StatusExpired, amounts{due: amt}},
		})
	})
	t.Run("a payment after expiry: late", func(t *testing.T) {
		run(t, []step{
			{exp, nil, StatusExpired, amounts{due: amt}},
			{exp + min, []Deposit{pending(amt, exp+min)}, StatusLate, amounts{pending: amt}},
			{exp + 20*min, []Deposit{confirmed(amt, exp+min)}, StatusLate, amounts{paid: amt}},
		})
	})
	t.Run("a reorg removes the paying transaction: reversed, re-mined: paid", func(t *testing.T) {
		run(t, []step{
			{min, []Deposit{confirmed(amt, min)}, StatusPaid, amounts{paid: amt}},
			{2 * min, []Deposit{lost(amt, min, LossReorg)}, StatusReversed, amounts{due: amt}},
			{exp + min, []Deposit{lost(amt, min, LossReorg)}, StatusReversed, amounts{due: amt}},
			{exp + 2*min, []Deposit{pending(amt, min)}, StatusProcessing, amounts{pending: amt}},
			{exp + 3*min, []Deposit{confirmed(amt, min)}, StatusPaid, amounts{paid: amt}},
		})
	})
	t.Run("partial on time, rest late: underpaid, then late", func(t *testing.T) {
		run(t, []step{
			{min, []Deposit{confirmed(50_000, min)}, StatusNew, amounts{paid: 50_000, due: 50_000}},
			{exp, []Deposit{confirmed(50_000, min)}, StatusUnderpaid, amounts{paid: 50_000, due: 50_000}},
			{exp + min, []Deposit{confirmed(50_000, min), pending(50_000, exp+min)}, StatusLate, amounts{paid: 50_000, pending: 50_000}},
		})
	})
}

func TestEvaluateOverflow(t *testing.T) {
	inv := testInvoice(StatusNew)
	for name, deps := range map[string][]Deposit{
		"confirmed":           {confirmed(math.MaxUint64, time.Minute), confirmed(1, time.Minute)},
		"pending":             {pending(math.MaxUint64, time.Minute), pending(1, exp+time.Minute)},
		"confirmed + pending": {confirmed(math.MaxUint64-1, time.Minute), pending(2, time.Minute)},
	} {
		if _, err := Evaluate(inv, deps, at(time.Minute)); err == nil {
			t.Errorf("%s: sums beyond uint64 evaluated without an error", name)
		}
	}
	// At the edge: exactly MaxUint64 is fine.
	ev, err := Evaluate(inv, []Deposit{confirmed(math.MaxUint64-1, time.Minute), pending(1, time.Minute)}, at(time.Minute))
	if err != nil || ev.Invoice.Status != StatusOverpaid || ev.Invoice.ExcessAtomic != math.MaxUint64-1-amt {
		t.Fatalf("MaxUint64 in total: %+v %v", ev.Invoice, err)
	}
	// A lost deposit's amount is not added.
	if _, err := Evaluate(inv, []Deposit{confirmed(math.MaxUint64, time.Minute), lost(5, time.Minute, LossReorg)}, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

func TestEvaluateRefusesCorruptRecords(t *testing.T) {
	for name, mutate := range map[string]func(*Invoice){
		"amount 0":           func(i *Invoice) { i.AmountAtomic = 0 },
		"expiry at creation": func(i *Invoice) { i.ExpiresAt = i.CreatedAt },
		"unknown status":     func(i *Invoice) { i.Status = "settled" },
	} {
		inv := testInvoice(StatusNew)
		mutate(&inv)
		if _, err := Evaluate(inv, nil, at(time.Minute)); !errors.Is(err, ErrInvoice) {
			t.Errorf("%s: err = %v, want ErrInvoice", name, err)
		}
	}
}

func TestChangedWithoutTransition(t *testing.T) {
	inv := testInvoice(StatusNew)
	ev, err := Evaluate(inv, []Deposit{pending(10, time.Minute)}, at(time.Minute))
	if err != nil || ev.Transition || !ev.Changed {
		t.Fatalf("partial payment: transition %v changed %v (%v), want a change without a transition", ev.Transition, ev.Changed, err)
	}
	ev, err = Evaluate(inv, nil, at(time.Minute))
	if err != nil || ev.Transition || ev.Changed {
		t.Fatalf("nothing: transition %v changed %v (%v), want neither", ev.Transition, ev.Changed, err)
	}
}

func TestCancel(t *testing.T) {
	inv := testInvoice(StatusNew)
	ev, err := Cancel(inv, nil, at(time.Minute))
	if err != nil || ev.Invoice.Status != StatusCancelled || !ev.Transition || !ev.Changed || ev.From != StatusNew {
		t.Fatalf("cancel new: %+v %v", ev, err)
	}
	again, err := Cancel(ev.Invoice, nil, at(2*time.Minute))
	if err != nil || again.Transition || again.Invoice.Status != StatusCancelled {
		t.Fatalf("cancel again: %+v %v, want success without transition", again, err)
	}
	if later, err := Evaluate(ev.Invoice, nil, at(exp+time.Hour)); err != nil || later.Invoice.Status != StatusCancelled || later.Changed {
		t.Fatalf("a cancelled invoice after its expiry: %+v %v, want it left cancelled", later, err)
	}

	for name, c := range map[string]struct {
		status Status
		deps   []Deposit
		now    time.Duration
		want   Status // the re-evaluation returned with the error
	}{
		"a partial payment seen": {StatusNew, []Deposit{pending(1, time.Minute)}, time.Minute, StatusNew},
		"processing":             {StatusProcessing, []Deposit{pending(amt, time.Minute)}, time.Minute, StatusProcessing},
		"paid":                   {StatusPaid, []Deposit{confirmed(amt, time.Minute)}, time.Minute, StatusPaid},
		"expiry due":             {StatusNew, nil, exp, StatusExpired},
		"expired":                {StatusExpired, nil, exp + time.Hour, StatusExpired},
		"reversed":               {StatusReversed, []Deposit{lost(amt, time.Minute, LossReorg)}, time.Hour, StatusReversed},
	} {
		ev, err := Cancel(testInvoice(c.status), c.deps, at(c.now))
		if !errors.Is(err, ErrNotCancellable) || ev.Invoice.Status != c.want {
			t.Errorf("%s: %s, %v; want %s and ErrNotCancellable", name, ev.Invoice.Status, err, c.want)
		}
	}
}
