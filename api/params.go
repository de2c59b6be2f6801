package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/config"
)

// Error is an answer to bad input: HTTP status, the field at fault and a
// message for the client.
type Error struct {
	Status  int
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func badField(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

// params are a request's fields: a JSON object body, or form values (body
// first, then query string).
type params struct {
	json map[string]json.RawMessage
	form url.Values
	// query holds the query string when the body is JSON.
	query url.Values
}

// paramsKey holds a request's params in its context: the router reads them
// (and refuses unknown fields) before the handler runs.
type paramsKey struct{}

// readParams returns the request's fields: the ones the router read, or
// (for a handler called without the router) the body and query string.
func readParams(w http.ResponseWriter, r *http.Request) (*params, error) {
	if p, ok := r.Context().Value(paramsKey{}).(*params); ok {
		return p, nil
	}
	return parseRequest(w, r)
}

// parseRequest reads a request's fields from its body (JSON, form-encoded
// or multipart, at most MaxBodyBytes) and its query string.
func parseRequest(w http.ResponseWriter, r *http.Request) (*params, error) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badField("query", "malformed query string")
	}
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge, Field: "body",
		Message: fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes)}
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge
	}
	var body []byte
	if r.Body != nil {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge
			}
			return nil, badField("body", "could not read the request body")
		}
	}
	return parseParams(r.Header.Get("Content-Type"), body, query)
}

// parseParams decodes a body of content type ctype plus the query string.
func parseParams(ctype string, body []byte, query url.Values) (*params, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return &params{form: query}, nil
	}
	mt, mp, err := mime.ParseMediaType(ctype)
	if ctype == "" {
		// No content type: sniff JSON, else form-encoded.
		mt, err = "application/x-www-form-urlencoded", nil
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' {
			mt = "application/json"
		}
	}
	if err != nil {
		return nil, &Error{Status: http.StatusUnsupportedMediaType, Field: "body", Message: "malformed Content-Type"}
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		m, err := decodeObject(body)
		if err != nil {
			return nil, err
		}
		return &params{json: m, query: query}, nil
	case mt == "application/x-www-form-urlencoded":
		if looksLikeJSON(body) {
			// A JSON object sent as a form (curl -d without a
			// Content-Type) means what it says.
			m, err := decodeObject(body)
			if err != nil {
				return nil, err
			}
			return &params{json: m, query: query}, nil
		}
		if !utf8.Valid(body) {
			return nil, badField("body", "form body is not UTF-8")
		}
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badField("body", "malformed form-encoded body")
		}
		return &params{form: merge(v, query)}, nil
	case mt == "multipart/form-data":
		if mp["boundary"] == "" {
			return nil, badField("body", "multipart body without boundary")
		}
		f, err := multipart.NewReader(bytes.NewReader(body), mp["boundary"]).ReadForm(MaxBodyBytes)
		if err != nil {
			return nil, badField("body", "malformed multipart body")
		}
		defer f.RemoveAll()
		if len(f.File) > 0 {
			return nil, badField("body", "file uploads are not accepted")
		}
		return &params{form: merge(url.Values(f.Value), query)}, nil
	}
	msg := "send application/json, application/x-www-form-urlencoded or multipart/form-data"
	if looksLikeJSON(body) {
		msg = "the body is JSON: send it with the header Content-Type: application/json"
	}
	return nil, &Error{Status: http.StatusUnsupportedMediaType, Field: "body", Message: msg}
}

// looksLikeJSON: the body is one JSON object.
func looksLikeJSON(body []byte) bool {
	t := bytes.TrimSpace(body)
	return len(t) > 1 && t[0] == '{' && t[len(t)-1] == '}' && json.Valid(t)
}

// names are the fields the request carries: a JSON body's keys and the
// query string's, or the form's.
func (p *params) names() []string {
	var out []string
	for k := range p.json {
		out = append(out, k)
	}
	vals := p.form
	if p.json != nil {
		vals = p.query
	}
	for k := range vals {
		if _, dup := p.json[k]; !dup {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// maxFieldNameShown bounds an unknown field's name in an answer.
const maxFieldNameShown = 64

// onlyKnown refuses a request carrying a field the endpoint does not take
// (a typo would otherwise be ignored: amout=1 allocated an address without
// an amount), naming it and the likely one.
func (p *params) onlyKnown(known []string) error {
	for _, name := range p.names() {
		if slices.Contains(known, name) {
			continue
		}
		shown := name
		if len(shown) > maxFieldNameShown {
			shown = strings.ToValidUTF8(shown[:maxFieldNameShown], "") + "…"
		}
		takes := "no fields"
		if len(known) > 0 {
			takes = strings.Join(known, ", ")
		}
		return badField(shown, "unknown field%s; this endpoint takes %s", config.DidYouMean(name, known), takes)
	}
	return nil
}

// merge returns body's values, then the query's for keys the body lacks.
func merge(body, query url.Values) url.Values {
	for k, v := range query {
		if _, ok := body[k]; !ok {
			body[k] = v
		}
	}
	return body
}

// decodeObject decodes a JSON object, keeping each value's raw text so
// numbers are never turned into floats.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, badField("body", "the body must be a JSON object")
		}
		return nil, badField("body", "malformed JSON")
	}
	if m == nil {
		return nil, badField("body", "the body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badField("body", "unexpected data after the JSON object")
	}
	return m, nil
}

// raw returns a field's value: its JSON text (isJSON) or its one form value.
// A JSON null counts as absent.
func (p *params) raw(field string) (v string, isJSON, ok bool, e error) {
	if p.json != nil {
		if m, found := p.json[field]; found {
			t := bytes.TrimSpace(m)
			if string(t) == "null" {
				return "", false, false, nil
			}
			return string(t), true, true, nil
		}
		if vs, found := p.query[field]; found {
			return oneValue(field, vs)
		}
		return "", false, false, nil
	}
	vs, found := p.form[field]
	if !found {
		return "", false, false, nil
	}
	return oneValue(field, vs)
}

func oneValue(field string, vs []string) (string, bool, bool, error) {
	if len(vs) != 1 {
		return "", false, false, badField(field, "given more than once")
	}
	return vs[0], false, true, nil
}

// str reads a string field of at most max bytes: a JSON string, or a
// form value. Leading and trailing white space is removed; control
// characters and invalid UTF-8 are refused.
func (p *params) str(field string, max int) (string, bool, error) {
	v, isJSON, ok, err := p.raw(field)
	if err != nil || !ok {
		return "", false, err
	}
	if isJSON {
		if !strings.HasPrefix(v, `"`) {
			return "", false, badField(field, "must be a string")
		}
		var s string
		if err := json.Unmarshal([]byte(v), &s); err != nil {
			return "", false, badField(field, "must be a string")
		}
		v = s
	}
	if !utf8.ValidString(v) {
		return "", false, badField(field, "is not valid UTF-8")
	}
	v = strings.TrimSpace(v)
	if len(v) > max {
		return "", false, badField(field, "is longer than %d bytes", max)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "", false, badField(field, "contains control characters")
		}
	}
	return v, v != "", nil
}

// uint reads an integer field in lo..hi: a JSON integer, or a string of
// decimal digits (JSON or form). Fractions, exponents and signs are refused.
func (p *params) uint(field string, lo, hi uint64) (uint64, bool, error) {
	v, isJSON, ok, err := p.raw(field)
	if err != nil || !ok {
		return 0, false, err
	}
	outOfRange := badField(field, "must be an integer from %d to %d", lo, hi)
	if isJSON {
		switch {
		case strings.HasPrefix(v, `"`):
			var s string
			if json.Unmarshal([]byte(v), &s) != nil {
				return 0, false, outOfRange
			}
			v = s
		case v == "" || (v[0] != '-' && (v[0] < '0' || v[0] > '9')):
			return 0, false, badField(field, "must be an integer, not %s", jsonKind(v))
		}
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false, nil
	}
	if !allDigits(v) {
		return 0, false, outOfRange
	}
	n, perr := strconv.ParseUint(v, 10, 64)
	if perr != nil || n < lo || n > hi {
		return 0, false, outOfRange
	}
	return n, true, nil
}

// amount reads a decimal coin amount of chain c: a JSON string or number,
// or a form value, parsed exactly (no float).
func (p *params) amount(field string, c chains.Chain) (uint64, bool, error) {
	v, isJSON, ok, err := p.raw(field)
	if err != nil || !ok {
		return 0, false, err
	}
	if isJSON {
		switch {
		case strings.HasPrefix(v, `"`):
			var s string
			if json.Unmarshal([]byte(v), &s) != nil {
				return 0, false, badField(field, "must be a decimal amount")
			}
			v = s
		case v == "" || (v[0] != '-' && (v[0] < '0' || v[0] > '9')):
			return 0, false, badField(field, "must be a decimal amount, not %s", jsonKind(v))
		}
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false, nil
	}
	a, perr := c.ParseAmount(v)
	if perr != nil {
		return 0, false, badField(field, "must be a plain decimal amount in %s with at most %d decimal places", c, c.Decimals())
	}
	return a, true, nil
}

func jsonKind(v string) string {
	switch {
	case v == "true" || v == "false":
		return "a boolean"
	case strings.HasPrefix(v, "{"):
		return "an object"
	case strings.HasPrefix(v, "["):
		return "an array"
	}
	return "that value"
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
