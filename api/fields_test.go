package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Every endpoint refuses a field it does not take, in the query string, a
// JSON body and a form body, naming it and the likely one; nothing happens
// (a typo never allocates an address).
func TestUnknownFieldsRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, rt := range allRoutes() {
		path := strings.ReplaceAll(rt.Path, "{id}", "1")
		known := knownFields(rt)
		if known == nil {
			t.Errorf("%s %s: the description lists no fields for it", rt.Method, rt.Path)
			continue
		}
		check := func(how string, a answer) {
			t.Helper()
			if rt.Plain {
				if a.code != http.StatusBadRequest || !strings.HasPrefix(a.header.Get("X-Ipnd-Error"), "zzfield: unknown field") {
					t.Errorf("%s %s (%s): %d %q %s", rt.Method, rt.Path, how, a.code, a.header.Get("X-Ipnd-Error"), a.body)
				}
				return
			}
			wantError(t, a, http.StatusBadRequest, "zzfield")
			if msg := a.json(t)["error"].(string); !strings.HasPrefix(msg, "unknown field; this endpoint takes ") {
				t.Errorf("%s %s (%s): %s", rt.Method, rt.Path, how, msg)
			}
		}
		check("query", h.send(rt.Method, path+"?zzfield=1", "", nil))
		if rt.Method == "POST" {
			check("json", h.send("POST", path, "application/json", []byte(`{"zzfield":1}`)))
			check("form", h.send("POST", path, "application/x-www-form-urlencoded", []byte("zzfield=1")))
		}
	}

	// The likely field is named; the typo allocated nothing.
	a := h.postJSON("/addresses", map[string]any{"chain": "btc", "amout": "0.01"})
	wantError(t, a, http.StatusBadRequest, "amout")
	if msg := a.json(t)["error"].(string); msg != "unknown field (did you mean amount?); this endpoint takes amount, chain, format, index, label, max_confirms, url" {
		t.Errorf("message %q", msg)
	}
	a = h.send("POST", "/addresses", "application/x-www-form-urlencoded", []byte(url.Values{"chain": {"btc"}, "lable": {"x"}}.Encode()))
	if wantError(t, a, 400, "lable"); !strings.Contains(a.json(t)["error"].(string), "did you mean label?") {
		t.Errorf("form typo: %s", a.body)
	}
	if m := wantOK(t, h.postJSON("/addresses", map[string]any{"chain": "btc"})); m["index"].(interface{ String() string }).String() != "0" {
		t.Errorf("after two refused requests the first allocation got index %v", m["index"])
	}
	wantError(t, h.get("/balance?adress=x"), 400, "adress")
	// A long, hostile field name is cut in the answer.
	long := strings.Repeat("é", 100)
	a = h.send("GET", "/healthz?"+url.Values{long: {"1"}}.Encode(), "", nil)
	if f, _ := a.json(t)["field"].(string); a.code != 400 || len(f) > maxFieldNameShown+len("…") {
		t.Errorf("long field: %d %q", a.code, f)
	}
}

// A JSON object sent as a form (curl -d without -H) is read as JSON; a JSON
// body of another content type is refused with the header to send.
func TestJSONSentAsForm(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	body := []byte(`{"chain":"btc","index":1010,"label":"as a form"}`)
	m := wantOK(t, h.send("POST", "/addresses", "application/x-www-form-urlencoded", body))
	if m["address"] != btcAddr(1010) || m["label"] != "as a form" {
		t.Errorf("JSON as a form: %v", m)
	}
	a := h.send("POST", "/addresses", "text/plain", body)
	wantError(t, a, http.StatusUnsupportedMediaType, "body")
	if msg := a.json(t)["error"].(string); !strings.Contains(msg, "Content-Type: application/json") {
		t.Errorf("415 without the header to send: %s", msg)
	}
	// A form value that merely starts with a brace stays a form.
	wantError(t, h.send("POST", "/addresses", "application/x-www-form-urlencoded", []byte("{chain=btc")), 400, "{chain")
}

// The description is public: a client generator needs no key.
func TestOpenAPIIsPublic(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.auth = false
	a := h.get("/openapi.json")
	if a.code != 200 || !strings.Contains(string(a.body), `"/subscriptions/redeliver"`) {
		t.Errorf("GET /openapi.json without a key: %d", a.code)
	}
	wantError(t, h.get("/subscriptions"), 401, "authorization")
}
