package receivertest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ipn/receivertest"
)

const testSecret = "ipnsec_receiver-test-kit-secret"

// run runs the kit against url with test defaults.
func run(t *testing.T, url string, o receivertest.Options) receivertest.Report {
	t.Helper()
	o.URL, o.AllowPrivate = url, true
	if o.Secret == "" {
		o.Secret = testSecret
	}
	if o.StepTimeout == 0 {
		o.StepTimeout = 5 * time.Second
	}
	rep, err := receivertest.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// passedSteps lists the numbers of the steps that passed.
func passedSteps(rep receivertest.Report) []int {
	var out []int
	for _, s := range rep.Steps {
		if s.Pass {
			out = append(out, s.Step)
		}
	}
	return out
}

// wantOutcome checks exactly which of the 10 steps passed and the verdict.
func wantOutcome(t *testing.T, rep receivertest.Report, pass []int) {
	t.Helper()
	if len(rep.Steps) != 10 {
		t.Fatalf("%d steps graded, want 10", len(rep.Steps))
	}
	if got := passedSteps(rep); !slices.Equal(got, pass) {
		var b bytes.Buffer
		rep.WriteText(&b)
		t.Fatalf("steps passed %v, want %v\n%s", got, pass, b.String())
	}
	wantPass := true
	for n := 1; n <= 10; n++ {
		wantPass = wantPass && slices.Contains(pass, n)
	}
	if rep.Pass != wantPass {
		t.Fatalf("Report.Pass = %v with steps %v passed", rep.Pass, pass)
	}
	for _, s := range rep.Steps {
		if s.Reason == "" || s.Expect == "" || s.Title == "" || s.Name == "" {
			t.Fatalf("step %d has an empty reason, expect, title or name: %+v", s.Step, s)
		}
		if !s.Required {
			t.Fatalf("step %d required = %v", s.Step, s.Required)
		}
	}
}

func reasonOf(rep receivertest.Report, step int) string { return rep.Steps[step-1].Reason }

var all = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// TestCorrectReceiverPasses: a receiver that verifies, keeps totals, dedups
// and ignores older IPN-Ids passes every step, in both formats; what it
// received is marked as a test, uses the synthetic address and has the
// sequence's shape.
func TestCorrectReceiverPasses(t *testing.T) {
	for _, format := range []string{"json", "form"} {
		t.Run(format, func(t *testing.T) {
			shop := newShop(testSecret)
			srv := httptest.NewServer(shop)
			defer srv.Close()
			rep := run(t, srv.URL+"/ipn?token=hidden", receivertest.Options{Format: format, Network: "regtest", Version: "9.9.9"})
			wantOutcome(t, rep, all)
			if rep.URL != srv.URL+"/ipn" || rep.Address != receivertest.SyntheticBTCRegtest || rep.Format != format || rep.Passed != 10 || rep.Required != 10 {
				t.Fatalf("report header: %+v", rep)
			}
			got := shop.received()
			if len(got) != 10 {
				t.Fatalf("receiver got %d IPNs, want 10", len(got))
			}
			wantCT := ipn.ContentTypeJSON
			if format == "form" {
				wantCT = ipn.ContentTypeForm
			}
			for i, r := range got {
				if r.headerTest != "1" || !r.bodyTest || r.address != receivertest.SyntheticBTCRegtest ||
					r.contentType != wantCT || r.userAgent != "ipnd/9.9.9" || r.changes == nil {
					t.Fatalf("IPN %d not marked as a synthetic test IPN: %+v", i+1, r)
				}
				if want := i != 5 && i != 6; r.verified != want {
					t.Fatalf("IPN %d verified = %v, want %v", i+1, r.verified, want)
				}
				if rep.Steps[i].IPNID != r.ipnID {
					t.Fatalf("step %d reports IPN-Id %d, sent %d", i+1, rep.Steps[i].IPNID, r.ipnID)
				}
			}
			// 2 repeats 1; 8 is older than 5 but newer than 4; 3 < 4 < 5.
			id := func(step int) int64 { return got[step-1].ipnID }
			if got[1].body != got[0].body {
				t.Fatalf("the repeated IPN's body differs:\n%s\n%s", got[0].body, got[1].body)
			}
			if id(2) != id(1) || !(id(1) < id(3) && id(3) < id(4) && id(4) < id(8) && id(8) < id(5)) {
				t.Fatalf("IPN-Ids out of the planned order: %+v", got)
			}
			// 4 lowers the confirmed total with a reorg change.
			if got[2].confirmed != "0.01234567" || got[3].confirmed != "0.00000000" || got[3].unconfirmed != "0.01234567" ||
				len(got[3].changes) != 1 || got[3].changes[0].Reason != "reorg" || got[3].changes[0].AmountAtomic != "1234567" {
				t.Fatalf("step 4 is not a reorg reversal: %+v then %+v", got[2], got[3])
			}
			// Booked once: totals changed at steps 1, 3, 4 and 5 only.
			if shop.moves != 4 {
				t.Fatalf("the receiver's totals moved %d times, want 4", shop.moves)
			}
		})
	}
}

// TestLaterRunStillPasses: a second run against the same receiver uses
// higher IPN-Ids, so a receiver that keeps the highest id passes again.
func TestLaterRunStillPasses(t *testing.T) {
	srv := httptest.NewServer(newShop(testSecret))
	defer srv.Close()
	first := run(t, srv.URL, receivertest.Options{})
	second := run(t, srv.URL, receivertest.Options{})
	wantOutcome(t, first, all)
	wantOutcome(t, second, all)
	if second.Steps[0].IPNID <= first.Steps[9].IPNID {
		t.Fatalf("second run starts at IPN-Id %d, not above the first run's last %d", second.Steps[0].IPNID, first.Steps[9].IPNID)
	}
}

// TestReceiverWithoutSignatureCheck fails exactly the refusal steps.
func TestReceiverWithoutSignatureCheck(t *testing.T) {
	for _, format := range []string{"json", "form"} {
		t.Run(format, func(t *testing.T) {
			shop := newShop(testSecret)
			shop.skipVerify = true
			srv := httptest.NewServer(shop)
			defer srv.Close()
			rep := run(t, srv.URL, receivertest.Options{Format: format, Chain: chains.XMR})
			wantOutcome(t, rep, []int{1, 2, 3, 4, 5, 8, 9, 10})
			if r := reasonOf(rep, 6); !strings.Contains(r, "signed with another secret") {
				t.Fatalf("step 6 reason: %s", r)
			}
			if r := reasonOf(rep, 7); !strings.Contains(r, "timestamped 10m0s ago") {
				t.Fatalf("step 7 reason: %s", r)
			}
			if rep.Address != receivertest.SyntheticXMRMainnet {
				t.Fatalf("address %s", rep.Address)
			}
		})
	}
}

// TestReceiverEchoingWrongTotals fails every acknowledgement step; it
// refuses the bad IPNs and answers 409 to the older IPN-Id, which passes.
func TestReceiverEchoingWrongTotals(t *testing.T) {
	shop := newShop(testSecret)
	shop.atomicEcho, shop.refuseOld = true, true
	srv := httptest.NewServer(shop)
	defer srv.Close()
	rep := run(t, srv.URL, receivertest.Options{})
	wantOutcome(t, rep, []int{6, 7, 8})
	for _, n := range []int{1, 2, 3, 4, 5, 9, 10} {
		if r := reasonOf(rep, n); !strings.Contains(r, "atomic units") {
			t.Fatalf("step %d reason has no atomic-units hint: %s", n, r)
		}
	}
	if r := reasonOf(rep, 8); !strings.Contains(r, "409") {
		t.Fatalf("step 8 reason: %s", r)
	}
}

// TestProposedGoReceiver: the Go receiver proposed for the README passes.
func TestProposedGoReceiver(t *testing.T) {
	srv := httptest.NewServer(readmeGoReceiver(testSecret))
	defer srv.Close()
	wantOutcome(t, run(t, srv.URL, receivertest.Options{}), all)
}

// TestGradingOfEachAnswer grades scripted answers: which answers pass which
// kind of step, with the reason shown.
func TestGradingOfEachAnswer(t *testing.T) {
	type answer struct {
		status int
		body   string
	}
	// script answers each step from the IPN it got; echo is the IPN's
	// address with the given totals.
	echo := func(r *http.Request, c, u string) string {
		var b struct{ Address string }
		json.NewDecoder(r.Body).Decode(&b)
		return fmt.Sprintf(`{"address":%q,"confirmed":%q,"unconfirmed":%q}`, b.Address, c, u)
	}
	cases := []struct {
		name   string
		answer func(step int, r *http.Request) answer
		pass   []int
		reason map[int]string
	}{
		{"400 to an older IPN-Id is not 409", func(step int, r *http.Request) answer {
			switch step {
			case 6, 7:
				return answer{401, "no"}
			case 8:
				return answer{400, "old"}
			case 1, 2, 4:
				return answer{200, echo(r, "0", "0.01234567")}
			}
			return answer{200, echo(r, "0.01234567", "0")}
		}, []int{1, 2, 3, 4, 5, 6, 7, 9, 10}, map[int]string{8: "HTTP 400: answer 2xx echoing the totals you hold, or 409"}},
		{"doubled totals at the repeat, 5xx on bad signatures", func(step int, r *http.Request) answer {
			switch step {
			case 2:
				return answer{200, echo(r, "0", "0.02469134")}
			case 6, 7:
				return answer{500, "oops"}
			case 8:
				return answer{200, echo(r, "0.01234567", "0")}
			case 1, 4:
				return answer{200, echo(r, "0", "0.01234567")}
			}
			return answer{200, echo(r, "0.01234567", "0")}
		}, []int{1, 3, 4, 5, 8, 9, 10}, map[int]string{2: "booked twice", 6: "HTTP 500: refuse with a 4xx", 7: "HTTP 500"}},
		{"swapped totals, echo of the older IPN", func(step int, r *http.Request) answer {
			switch step {
			case 6, 7:
				return answer{403, ""}
			case 8:
				return answer{200, echo(r, "0", "0.01234567")}
			case 1, 2, 4:
				return answer{200, echo(r, "0.01234567", "0")}
			}
			return answer{200, echo(r, "0.01234567", "0.0")}
		}, []int{3, 5, 6, 7, 9, 10}, map[int]string{1: "swapped", 4: "swapped", 8: "moved the totals back"}},
		{"numbers and 204", func(step int, r *http.Request) answer {
			switch step {
			case 6, 7:
				return answer{422, ""}
			case 8:
				return answer{204, ""}
			case 1, 2, 4:
				return answer{201, strings.NewReplacer(`"0"`, "0", `"0.01234567"`, "0.01234567000").Replace(echo(r, "0", "0.01234567"))}
			}
			return answer{202, echo(r, "0.0123456", "0")}
		}, []int{1, 2, 4, 6, 7}, map[int]string{3: "echoed confirmed", 8: "neither the newer nor the older totals: response is not a JSON object"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			step := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				step++
				a := c.answer(step, r)
				w.WriteHeader(a.status)
				w.Write([]byte(a.body))
			}))
			defer srv.Close()
			rep := run(t, srv.URL, receivertest.Options{})
			wantOutcome(t, rep, c.pass)
			for n, want := range c.reason {
				if r := reasonOf(rep, n); !strings.Contains(r, want) {
					t.Fatalf("step %d reason %q, want it to contain %q", n, r, want)
				}
			}
		})
	}
}

// TestHostileReceivers: slow, huge, redirecting, garbage and hanging-up
// receivers fail with a reason and never stall or crash the kit.
func TestHostileReceivers(t *testing.T) {
	target := newShop(testSecret)
	targetSrv := httptest.NewServer(target)
	defer targetSrv.Close()
	cases := []struct {
		name    string
		handler http.HandlerFunc
		pass    []int
		reason  string // in every failed step
	}{
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // the server notices a closed connection once the body is read
			<-r.Context().Done()
		}, nil, "no answer: timeout"},
		{"huge", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"address":"`))
			w.Write(bytes.Repeat([]byte("x"), 1<<20))
		}, nil, "larger than the size limit"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, targetSrv.URL, http.StatusTemporaryRedirect)
		}, nil, "redirect (HTTP 307) not followed"},
		{"garbage", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("\x1b[2J\x00\xff\xfe{\"address\":[1,{}]}\u202e"))
		}, nil, ""},
		{"json of odd types", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"address":null,"confirmed":[],"unconfirmed":{}} trailing`))
		}, nil, ""},
		{"hang up", func(w http.ResponseWriter, r *http.Request) {
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
		}, nil, "no answer: "},
		{"refuses everything", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "go away", http.StatusUnauthorized)
		}, []int{6, 7}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			start := time.Now()
			rep := run(t, srv.URL, receivertest.Options{StepTimeout: 300 * time.Millisecond})
			if d := time.Since(start); d > 30*time.Second {
				t.Fatalf("run took %s", d)
			}
			wantOutcome(t, rep, c.pass)
			for _, s := range rep.Steps {
				if !s.Pass && !strings.Contains(s.Reason, c.reason) {
					t.Fatalf("step %d reason %q, want %q", s.Step, s.Reason, c.reason)
				}
				if len(s.Body) > 200+len("…") || strings.ContainsAny(s.Body, "\x1b\x00\u202e") {
					t.Fatalf("step %d body excerpt not cut or not printable: %q", s.Step, s.Body)
				}
			}
		})
	}
	if n := len(target.received()); n != 0 {
		t.Fatalf("a redirect was followed: the target got %d requests", n)
	}
}

// TestRunRefusesBadOptions: options that cannot make a test are errors,
// before anything is sent.
func TestRunRefusesBadOptions(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer srv.Close()
	ok := receivertest.Options{URL: srv.URL, Secret: testSecret, AllowPrivate: true}
	cases := []struct {
		name string
		edit func(*receivertest.Options)
		want error
	}{
		{"no url", func(o *receivertest.Options) { o.URL = "" }, receivertest.ErrInvalidOptions},
		{"no secret", func(o *receivertest.Options) { o.Secret = "" }, receivertest.ErrInvalidOptions},
		{"format", func(o *receivertest.Options) { o.Format = "xml" }, receivertest.ErrInvalidOptions},
		{"chain", func(o *receivertest.Options) { o.Chain = "doge" }, receivertest.ErrInvalidOptions},
		{"network", func(o *receivertest.Options) { o.Chain, o.Network = chains.XMR, "signet" }, receivertest.ErrInvalidOptions},
		{"scheme", func(o *receivertest.Options) { o.URL = "ftp://shop.example/ipn" }, ipn.ErrForbiddenTarget},
		{"loopback", func(o *receivertest.Options) { o.AllowPrivate = false }, ipn.ErrForbiddenTarget},
	}
	for _, c := range cases {
		o := ok
		c.edit(&o)
		rep, err := receivertest.Run(context.Background(), o)
		if !errors.Is(err, c.want) || len(rep.Steps) != 0 || rep.Pass {
			t.Fatalf("%s: Run = %+v, %v; want %v", c.name, rep, err, c.want)
		}
		if strings.Contains(err.Error(), testSecret) {
			t.Fatalf("%s: error shows the secret: %v", c.name, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the receiver got %d requests from refused options", hits)
	}
}

// TestCustomClientNeverFollowsRedirects: a caller's client that would
// follow redirects does not, inside the kit.
func TestCustomClientNeverFollowsRedirects(t *testing.T) {
	target := newShop(testSecret)
	targetSrv := httptest.NewServer(target)
	defer targetSrv.Close()
	srv := httptest.NewServer(http.RedirectHandler(targetSrv.URL, http.StatusFound))
	defer srv.Close()
	rep := run(t, srv.URL, receivertest.Options{HTTPClient: &http.Client{}})
	wantOutcome(t, rep, nil)
	if n := len(target.received()); n != 0 {
		t.Fatalf("the caller's client followed a redirect: target got %d requests", n)
	}
}

// TestRunStopsWithContext: a run cancelled during step 4 returns the
// steps done so far and the context's error.
func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shop := newShop(testSecret)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(shop.received()) == 3 {
			io.Copy(io.Discard, r.Body)
			cancel()
			<-r.Context().Done()
			return
		}
		shop.ServeHTTP(w, r)
	}))
	defer srv.Close()
	rep, err := receivertest.Run(ctx, receivertest.Options{URL: srv.URL, Secret: testSecret, AllowPrivate: true})
	if !errors.Is(err, context.Canceled) || rep.Pass || len(rep.Steps) != 4 || passedSteps(rep) == nil ||
		!slices.Equal(passedSteps(rep), []int{1, 2, 3}) || rep.Passed != 3 {
		t.Fatalf("Run = %+v, %v; want steps 1-3 passed, 4 failed and context.Canceled", rep, err)
	}
}
