package ipn_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/ipnd/ipnd/ipn"
)

// A receiver verifies the signature with its subscription's secret, checks
// the timestamp window, treats IPN-Id as an idempotency key and echoes
// address, confirmed and unconfirmed to acknowledge.
func ExampleVerify() {
	const secret = "ipnsec_shown-once-at-subscribe"
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		if err := ipn.Verify(secret, r.Header.Get("IPN-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n struct {
			Address     string `json:"address"`
			Confirmed   string `json:"confirmed"`
			Unconfirmed string `json:"unconfirmed"`
		}
		if err := json.Unmarshal(body, &n); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		// ... record n for r.Header.Get("IPN-Id") unless already seen ...
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n)
	})

	// What ipnd sends (normally built by the worker from the ledger).
	srv := httptest.NewServer(receiver)
	defer srv.Close()
	body := []byte(`{"id":1,"address":"bc1qexample","confirmed":"0.01000000","unconfirmed":"0.00000000"}`)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(body)))
	req.Header.Set("IPN-Signature", ipn.Sign(secret, time.Now(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	echo, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(echo)))
	// Output: 200 {"address":"bc1qexample","confirmed":"0.01000000","unconfirmed":"0.00000000"}
}
