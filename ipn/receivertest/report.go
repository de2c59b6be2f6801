package receivertest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ipnd/ipnd/chains"
)

// maxExcerpt is how much of a receiver's answer a Result keeps.
const maxExcerpt = 200

// Result is the grade of one step.
type Result struct {
	Step       int    `json:"step"`
	Name       string `json:"name"`     // stable identifier, e.g. "older_ipn_id"
	Title      string `json:"title"`    // what was sent, in words
	Required   bool   `json:"required"` // counts toward Report.Pass
	Pass       bool   `json:"pass"`
	IPNID      int64  `json:"ipn_id"`
	Expect     string `json:"expect"`         // what passes, in words
	Status     int    `json:"status"`         // HTTP status, 0 when no answer came
	Body       string `json:"body,omitempty"` // the answer's first 200 bytes, printable
	Reason     string `json:"reason"`         // why it passed or failed
	DurationMS int64  `json:"duration_ms"`
}

// Report is the outcome of Run.
type Report struct {
	Pass      bool         `json:"pass"` // every required step passed
	URL       string       `json:"url"`  // without credentials, query or fragment
	Chain     chains.Chain `json:"chain"`
	Format    string       `json:"format"`
	Address   string       `json:"address"`
	StartedAt time.Time    `json:"started_at"`
	Passed    int          `json:"passed"`   // required steps passed
	Required  int          `json:"required"` // required steps in the sequence
	Steps     []Result     `json:"steps"`
}

// finish counts the required steps; Pass needs all of them, so a run cut
// short does not pass.
func (r *Report) finish() {
	r.Passed, r.Required = 0, 0
	for _, s := range sequence(chains.BTC, "", "", 1, 0, time.Time{}).steps {
		if s.required {
			r.Required++
		}
	}
	for _, s := range r.Steps {
		if s.Required && s.Pass {
			r.Passed++
		}
	}
	r.Pass = r.Passed == r.Required
}

// JSON is the report for machines (ipnd test-receiver -json).
func (r Report) JSON() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// WriteText writes the report for people: one line per step, the answer
// under a failed one, and a last line with the verdict.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "receiver test of %s (%s, %s, synthetic address %s)\n", r.URL, r.Chain, r.Format, r.Address)
	optional, optionalPassed := 0, 0
	for _, s := range r.Steps {
		verdict, tag := "pass", ""
		if !s.Pass {
			verdict = "FAIL"
		}
		if !s.Required {
			tag = "(optional) "
			optional++
			if s.Pass {
				optionalPassed++
			} else {
				verdict = "warn"
			}
		}
		fmt.Fprintf(&b, "%2d %s  %s%s: %s\n", s.Step, verdict, tag, s.Title, printable(s.Reason))
		if !s.Pass {
			fmt.Fprintf(&b, "        want %s; got ", s.Expect)
			if s.Status == 0 {
				b.WriteString("no answer\n")
			} else {
				fmt.Fprintf(&b, "HTTP %d %s\n", s.Status, strings.TrimSpace(s.Body))
			}
		}
	}
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s: %d of %d required steps passed", verdict, r.Passed, r.Required)
	if optional > 0 {
		fmt.Fprintf(&b, ", %d of %d optional", optionalPassed, optional)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// excerpt keeps the first maxExcerpt bytes of an answer, printable.
func excerpt(b []byte) string {
	cut := len(b) > maxExcerpt
	if cut {
		b = b[:maxExcerpt]
		for len(b) > 0 && !utf8.Valid(b) && len(b) > maxExcerpt-utf8.UTFMax {
			b = b[:len(b)-1]
		}
	}
	s := printable(string(b))
	if cut {
		s += "…"
	}
	return s
}

// printable replaces invalid UTF-8 and control characters (terminal escapes
// included) so that an answer can be shown safely.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
