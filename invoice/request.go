package invoice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ipnd/ipnd/chains"
)

// Limits of creation input.
const (
	// MaxOrderIDLen is the longest order_id, in bytes (ASCII).
	MaxOrderIDLen = 128
	// MaxDescriptionBytes is the longest description, in bytes of UTF-8:
	// percent-encoded into the payment URI's label it keeps the URI within
	// MaxURIBytes, so every valid invoice has a QR code.
	MaxDescriptionBytes = 256
	// MaxMetadataBytes is the largest metadata object, compacted.
	MaxMetadataBytes = 4096
	// MaxAmountAtomic is the largest amount an invoice may ask for: what
	// every ledger backend can store (SQLite holds integers up to 2^63-1).
	MaxAmountAtomic = math.MaxInt64
	// MaxConfirmsLimit is the highest max_confirms (the ledger's limit).
	MaxConfirmsLimit = 1000
)

// Defaults and bounds of expires_in.
const (
	DefaultExpiry = 15 * time.Minute
	MinExpiry     = time.Minute
	MaxExpiry     = 7 * 24 * time.Hour
)

// FieldError is bad creation input: the API answers 400 with Field and the
// message. Err, when set, is the underlying cause (chains.ErrAmount, say).
type FieldError struct {
	Field string
	Msg   string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Policy is the configured frame of creation input.
type Policy struct {
	// DefaultExpiry is [invoices] expiry: expires_in when none is given.
	DefaultExpiry time.Duration
	// MinExpiry and MaxExpiry bound expires_in.
	MinExpiry, MaxExpiry time.Duration
	// DefaultMaxConfirms is [ipn] max_confirms: the confirmation rule when
	// the request names none.
	DefaultMaxConfirms int
	// ChainEnabled reports whether a chain is enabled; nil: every supported
	// chain is.
	ChainEnabled func(chains.Chain) bool
}

// Check validates the policy itself (for config validation); errors name
// the configuration key.
func (p Policy) Check() error {
	var errs []error
	if p.MinExpiry <= 0 || p.MaxExpiry < p.MinExpiry {
		errs = append(errs, fmt.Errorf("invoices: expiry bounds %s .. %s are not a range of positive durations", p.MinExpiry, p.MaxExpiry))
	}
	if p.DefaultExpiry < p.MinExpiry || p.DefaultExpiry > p.MaxExpiry || p.DefaultExpiry%time.Second != 0 {
		errs = append(errs, fmt.Errorf("invoices.expiry: %s must be whole seconds between %s and %s", p.DefaultExpiry, p.MinExpiry, p.MaxExpiry))
	}
	if p.DefaultMaxConfirms < 0 || p.DefaultMaxConfirms > MaxConfirmsLimit {
		errs = append(errs, fmt.Errorf("ipn.max_confirms: %d must be between 0 and %d", p.DefaultMaxConfirms, MaxConfirmsLimit))
	}
	return errors.Join(errs...)
}

// CreateRequest is the input of POST /invoices as the client sent it: each
// field the raw text of its value (a JSON number's or string's contents, a
// form value), "" or nil when absent.
type CreateRequest struct {
	Chain string
	// Amount in coin units ("0.01"); or AmountAtomic in atomic units
	// ("1000000"): exactly one of the two.
	Amount       string
	AmountAtomic string
	// ExpiresIn is whole seconds ("900") or a Go duration ("15m", "2h").
	ExpiresIn   string
	OrderID     string
	Description string
	// Metadata is the raw JSON value; JSON null counts as absent.
	Metadata []byte
	// MaxConfirms is the invoice's confirmation rule (the IPN
	// subscription's max_confirms); nil: the policy's default.
	MaxConfirms *int
}

// Params are validated creation input, ready for New.
type Params struct {
	Chain        chains.Chain
	AmountAtomic uint64
	ExpiresIn    time.Duration
	MaxConfirms  int
	OrderID      string
	Description  string
	Metadata     json.RawMessage // compact JSON object, or nil
}

// Validate checks creation input against the policy. The error, if any, is
// a *FieldError naming the first bad field in the order chain, amount
// (amount_atomic), expires_in, max_confirms, order_id, description,
// metadata.
func (p Policy) Validate(r CreateRequest) (Params, error) {
	var out Params
	var err error
	if out.Chain, err = p.chain(r.Chain); err != nil {
		return Params{}, err
	}
	if out.AmountAtomic, err = amount(out.Chain, r.Amount, r.AmountAtomic); err != nil {
		return Params{}, err
	}
	if out.ExpiresIn, err = p.expiresIn(r.ExpiresIn); err != nil {
		return Params{}, err
	}
	out.MaxConfirms = p.DefaultMaxConfirms
	if r.MaxConfirms != nil {
		if *r.MaxConfirms < 0 || *r.MaxConfirms > MaxConfirmsLimit {
			return Params{}, fieldErr("max_confirms", "must be between 0 and %d", MaxConfirmsLimit)
		}
		out.MaxConfirms = *r.MaxConfirms
	}
	if err = orderID(r.OrderID); err != nil {
		return Params{}, err
	}
	out.OrderID = r.OrderID
	if err = description(r.Description); err != nil {
		return Params{}, err
	}
	out.Description = r.Description
	if out.Metadata, err = metadata(r.Metadata); err != nil {
		return Params{}, err
	}
	return out, nil
}

func (p Policy) chain(s string) (chains.Chain, error) {
	if s == "" {
		return "", fieldErr("chain", "is required")
	}
	c, err := chains.ParseChain(s)
	if err != nil {
		return "", &FieldError{Field: "chain", Msg: err.Error(), Err: err}
	}
	if p.ChainEnabled != nil && !p.ChainEnabled(c) {
		return "", fieldErr("chain", "%s is not enabled on this server", c)
	}
	return c, nil
}

// amount parses exactly one of amount (coin units, with the chain's
// decimals, by chains.Chain.ParseAmount) and amount_atomic.
func amount(c chains.Chain, coins, atomic string) (uint64, error) {
	field, text := "amount", coins
	switch {
	case coins != "" && atomic != "":
		return 0, fieldErr("amount", "give amount or amount_atomic, not both")
	case coins == "" && atomic == "":
		return 0, fieldErr("amount", "is required (or amount_atomic)")
	case atomic != "":
		field, text = "amount_atomic", atomic
	}
	if strings.HasPrefix(text, "-") {
		return 0, fieldErr(field, "must not be negative")
	}
	var v uint64
	if field == "amount" {
		var err error
		if v, err = c.ParseAmount(text); err != nil {
			return 0, &FieldError{Field: field, Msg: err.Error(), Err: err}
		}
	} else {
		if !allDigits(text) {
			return 0, fieldErr(field, "%q is not a whole number of atomic units", text)
		}
		var err error
		if v, err = strconv.ParseUint(text, 10, 64); err != nil {
			return 0, fieldErr(field, "%q is too large", text)
		}
	}
	switch {
	case v == 0:
		return 0, fieldErr(field, "must be greater than zero")
	case v > MaxAmountAtomic:
		return 0, fieldErr(field, "%s is more than the ledger can hold (%s)", text, c.FormatAmount(MaxAmountAtomic))
	}
	return v, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// expiresIn parses whole seconds or a Go duration, within the policy's
// bounds; "" is the policy's default.
func (p Policy) expiresIn(s string) (time.Duration, error) {
	if s == "" {
		return p.DefaultExpiry, nil
	}
	var d time.Duration
	if allDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > int64(p.MaxExpiry/time.Second) {
			return 0, fieldErr("expires_in", "must be at most %s (%d seconds)", p.MaxExpiry, int64(p.MaxExpiry/time.Second))
		}
		d = time.Duration(n) * time.Second
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fieldErr("expires_in", "%q is neither whole seconds nor a duration such as 15m", s)
		}
		if d%time.Second != 0 {
			return 0, fieldErr("expires_in", "%s is not a whole number of seconds", s)
		}
	}
	if d < p.MinExpiry || d > p.MaxExpiry {
		return 0, fieldErr("expires_in", "must be between %s and %s (%d and %d seconds)",
			p.MinExpiry, p.MaxExpiry, int64(p.MinExpiry/time.Second), int64(p.MaxExpiry/time.Second))
	}
	return d, nil
}

// orderIDChars are the characters of an order_id besides ASCII letters and
// digits.
const orderIDChars = "-_.:/#+@="

// orderID: "" (none) or 1..MaxOrderIDLen of ASCII letters, digits and
// orderIDChars. The ledger compares order ids byte for byte.
func orderID(s string) error {
	if len(s) > MaxOrderIDLen {
		return fieldErr("order_id", "is longer than %d characters", MaxOrderIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte(orderIDChars, c) >= 0 {
			continue
		}
		return fieldErr("order_id", "may hold only ASCII letters, digits and %s", orderIDChars)
	}
	return nil
}

// description: UTF-8 text without control characters, at most
// MaxDescriptionBytes long.
func description(s string) error {
	if !utf8.ValidString(s) {
		return fieldErr("description", "is not valid UTF-8")
	}
	if len(s) > MaxDescriptionBytes {
		return fieldErr("description", "is %d bytes of UTF-8, more than %d", len(s), MaxDescriptionBytes)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fieldErr("description", "must not contain control characters")
	}
	return nil
}

// metadata: absent, JSON null, or a JSON object of UTF-8 text at most
// MaxMetadataBytes long once compacted; it is kept compacted.
func metadata(raw []byte) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, fieldErr("metadata", "must be a JSON object")
	}
	if !utf8.Valid(raw) || !json.Valid(raw) {
		return nil, fieldErr("metadata", "is not valid JSON")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, &FieldError{Field: "metadata", Msg: "is not valid JSON", Err: err}
	}
	if buf.Len() > MaxMetadataBytes {
		return nil, fieldErr("metadata", "is %d bytes, more than %d", buf.Len(), MaxMetadataBytes)
	}
	return json.RawMessage(buf.Bytes()), nil
}
