// Package ipn delivers instant payment notifications: it renders the signed
// payload of a notification, posts it to the subscriber's URL, checks the
// receiver's echo acknowledgement and retries failed deliveries on a
// persisted schedule. The ledger (package db) decides when a notification is
// made and leases due notifications to the delivery Worker.
package ipn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ipnd/ipnd/invoice"
	"github.com/ipnd/ipnd/ledger"
)

// Content types of a notification body.
const (
	ContentTypeJSON = "application/json"
	ContentTypeForm = "application/x-www-form-urlencoded"
)

// Header names sent with every delivery attempt.
const (
	HeaderID        = "IPN-Id"
	HeaderAttempt   = "IPN-Attempt"
	HeaderTimestamp = "IPN-Timestamp"
	HeaderSignature = "IPN-Signature"
	// HeaderTest marks a synthetic IPN of the receiver test kit; its value
	// is "1".
	HeaderTest = "IPN-Test"
)

// DefaultSignatureWindow is how far a signature's timestamp may be from the
// receiver's clock (README receivers use it).
const DefaultSignatureWindow = 5 * time.Minute

// SecretPrefix starts every endpoint secret made by NewSecret.
const SecretPrefix = "ipnsec_"

// body is the JSON notification; the field order is the order on the wire.
type body struct {
	ID                int64        `json:"id"`
	SubscriptionID    int64        `json:"subscription_id"`
	Chain             string       `json:"chain"`
	Address           string       `json:"address"`
	Confirmed         string       `json:"confirmed"`
	Unconfirmed       string       `json:"unconfirmed"`
	ConfirmedAtomic   string       `json:"confirmed_atomic"`
	UnconfirmedAtomic string       `json:"unconfirmed_atomic"`
	MaxConfirms       int          `json:"max_confirms"`
	Height            int64        `json:"height"`
	CreatedAt         string       `json:"created_at"`
	Changes           []changeJSON `json:"changes"`
	// Invoice is the state of the invoice the subscription was made for;
	// absent for a subscription without one.
	Invoice *invoice.Notice `json:"invoice,omitempty"`
	// Test marks a synthetic IPN (SyntheticPayload); absent otherwise.
	Test bool `json:"test,omitempty"`
}

// changeJSON is one entry of changes: a deposit whose standing for the
// subscription changed since its previous IPN, and why.
type changeJSON struct {
	TxID         string `json:"txid"`
	Amount       string `json:"amount"`
	AmountAtomic string `json:"amount_atomic"`
	From         string `json:"from"`
	To           string `json:"to"`
	Reason       string `json:"reason"`
}

// Payload renders a notification body once, when the ledger creates the
// notification (it is a ledger.PayloadBuilder). Amounts are exact decimal
// strings in coin units plus integer strings in atomic units. changes
// lists the deposits whose standing changed since the previous IPN (from
// and to are none, unconfirmed or confirmed; reason one of seen,
// confirmed, reorg, double_spend, dropped_from_mempool, replaced), oldest
// first, [] when none did. A subscription whose Format is "form" gets the
// same fields form-encoded, changes (and invoice) as its JSON text;
// anything else JSON. A subscription made with an invoice gets the
// invoice's block (invoice.Notice) in every body: its id, order_id,
// status and amounts; the acknowledgement stays the echo of address,
// confirmed and unconfirmed.
func Payload(d ledger.NotificationData) ([]byte, string, error) {
	return render(d, false)
}

// SyntheticPayload is Payload for the receiver test kit's IPNs: the same
// fields plus "test": true (in a form body test=true), so that a receiver
// can tell them from real ones.
func SyntheticPayload(d ledger.NotificationData) ([]byte, string, error) {
	return render(d, true)
}

func render(d ledger.NotificationData, test bool) ([]byte, string, error) {
	c := d.Subscription.Chain
	if !c.Valid() {
		return nil, "", fmt.Errorf("ipn payload: notification %d: unknown chain %q", d.ID, c)
	}
	b := body{
		ID:                d.ID,
		SubscriptionID:    d.Subscription.ID,
		Chain:             string(c),
		Address:           d.Subscription.Address,
		Confirmed:         c.FormatAmount(d.Totals.Confirmed),
		Unconfirmed:       c.FormatAmount(d.Totals.Unconfirmed),
		ConfirmedAtomic:   strconv.FormatUint(d.Totals.Confirmed, 10),
		UnconfirmedAtomic: strconv.FormatUint(d.Totals.Unconfirmed, 10),
		MaxConfirms:       d.Subscription.MaxConfirms,
		Height:            d.Totals.Height,
		CreatedAt:         d.CreatedAt.UTC().Format(time.RFC3339),
		Changes:           make([]changeJSON, 0, len(d.Changes)),
		Invoice:           d.Invoice,
		Test:              test,
	}
	for _, ch := range d.Changes {
		b.Changes = append(b.Changes, changeJSON{TxID: ch.TxID, Amount: c.FormatAmount(ch.Amount),
			AmountAtomic: strconv.FormatUint(ch.Amount, 10), From: ch.From, To: ch.To, Reason: ch.Reason})
	}
	switch strings.ToLower(d.Subscription.Format) {
	case "form":
		v := url.Values{}
		v.Set("id", strconv.FormatInt(b.ID, 10))
		v.Set("subscription_id", strconv.FormatInt(b.SubscriptionID, 10))
		v.Set("chain", b.Chain)
		v.Set("address", b.Address)
		v.Set("confirmed", b.Confirmed)
		v.Set("unconfirmed", b.Unconfirmed)
		v.Set("confirmed_atomic", b.ConfirmedAtomic)
		v.Set("unconfirmed_atomic", b.UnconfirmedAtomic)
		v.Set("max_confirms", strconv.Itoa(b.MaxConfirms))
		v.Set("height", strconv.FormatInt(b.Height, 10))
		v.Set("created_at", b.CreatedAt)
		changes, err := json.Marshal(b.Changes)
		if err != nil {
			return nil, "", fmt.Errorf("ipn payload: notification %d: %w", d.ID, err)
		}
		v.Set("changes", string(changes))
		if b.Invoice != nil {
			inv, err := json.Marshal(b.Invoice)
			if err != nil {
				return nil, "", fmt.Errorf("ipn payload: notification %d: %w", d.ID, err)
			}
			v.Set("invoice", string(inv))
		}
		if test {
			v.Set("test", "true")
		}
		return []byte(v.Encode()), ContentTypeForm, nil
	default:
		out, err := json.Marshal(b)
		if err != nil {
			return nil, "", fmt.Errorf("ipn payload: notification %d: %w", d.ID, err)
		}
		return out, ContentTypeJSON, nil
	}
}

// NewSecret makes an endpoint secret: SecretPrefix followed by 32 random
// bytes, base64url without padding.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("ipn secret: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func mac(secret string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(strconv.FormatInt(ts, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the IPN-Signature header value for body sent at ts:
// "t=UNIX,v1=HEX(HMAC-SHA256(secret, UNIX + "." + body))".
func Sign(secret string, ts time.Time, body []byte) string {
	return SignAll([]string{secret}, ts, body)
}

// SignAll signs body with each secret, in order: "t=UNIX,v1=…,v1=…". An
// endpoint whose secret was rotated is signed with the new secret and,
// during the grace period, the old one; a receiver accepts the IPN when
// any v1 matches the secret it has.
func SignAll(secrets []string, ts time.Time, body []byte) string {
	t := ts.Unix()
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(strconv.FormatInt(t, 10))
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, t, body)))
	}
	return b.String()
}

// Errors returned by Verify, for errors.Is.
var (
	ErrSignatureFormat   = errors.New("malformed IPN-Signature header")
	ErrSignatureTooOld   = errors.New("IPN-Signature timestamp outside the allowed window")
	ErrSignatureMismatch = errors.New("IPN-Signature does not match")
)

// Verify checks an IPN-Signature header against the raw request body as a
// receiver does: the timestamp must be within window of now (window <= 0
// means DefaultSignatureWindow) and one v1 value must equal the HMAC of the
// body under secret (constant-time comparison).
func Verify(secret, header string, body []byte, now time.Time, window time.Duration) error {
	if window <= 0 {
		window = DefaultSignatureWindow
	}
	var (
		ts    int64
		haveT bool
		sigs  [][]byte
	)
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrSignatureFormat
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || haveT {
				return ErrSignatureFormat
			}
			ts, haveT = n, true
		case "v1":
			s, err := hex.DecodeString(v)
			if err != nil {
				return ErrSignatureFormat
			}
			sigs = append(sigs, s)
		}
	}
	if !haveT || len(sigs) == 0 {
		return ErrSignatureFormat
	}
	age := now.Sub(time.Unix(ts, 0))
	if age > window || age < -window {
		return ErrSignatureTooOld
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}

// Headers returns the headers of one delivery attempt of n: User-Agent
// "ipnd/VERSION", IPN-Id (the notification id: stable across retries, and
// increasing from one notification of a subscription to the next),
// IPN-Attempt (1 for the first), IPN-Timestamp and IPN-Signature signed at
// now with the endpoint's secret and n's ExtraSecrets.
func Headers(version string, n ledger.Notification, attempt int, now time.Time) http.Header {
	return SignedHeaders(version, n.ID, n.ContentType, n.Body, append([]string{n.Secret}, n.ExtraSecrets...), attempt, now)
}

// SignedHeaders are the headers of one attempt to post body as IPN id,
// signed at now with each of secrets in order (SignAll); contentType ""
// is JSON. Headers is it for a ledger notification; the receiver test kit
// calls it directly.
func SignedHeaders(version string, id int64, contentType string, body []byte, secrets []string, attempt int, now time.Time) http.Header {
	h := http.Header{}
	if version == "" {
		version = "dev"
	}
	if contentType == "" {
		contentType = ContentTypeJSON
	}
	h.Set("Content-Type", contentType)
	h.Set("User-Agent", "ipnd/"+version)
	h.Set(HeaderID, strconv.FormatInt(id, 10))
	h.Set(HeaderAttempt, strconv.Itoa(attempt))
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, SignAll(secrets, now, body))
	return h
}
