package weburl

import (
	"strings"
	"testing"
)

func TestHost(t *testing.T) {
	for raw, want := range map[string]string{
		"https://Shop.Example:8443/ipn?token=s3cret": "shop.example:8443",
		"http://user:pass@shop.example/ipn":          "shop.example",
		"http://[::1]:9/x":                           "[::1]:9",
		"not a url":                                  "?",
		"http://%zz":                                 "?",
		"":                                           "?",
	} {
		if got := Host(raw); got != want {
			t.Errorf("Host(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestCredentialsAndRedact(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://key@127.0.0.1:8080":     true,
		"http://user:pass@h/ipn":        true,
		"http://:pass@h/":               true,
		"https://h/ipn?user=a@b":        false,
		"https://shop.example/ipn#frag": false,
	} {
		if got := HasCredentials(raw); got != want {
			t.Errorf("HasCredentials(%q) = %v", raw, got)
		}
		red := Redact(raw)
		for _, secret := range []string{"key@", "pass", "user:"} {
			if want && strings.Contains(red, secret) {
				t.Errorf("Redact(%q) = %q still holds %q", raw, red, secret)
			}
		}
		if !want && red != raw {
			t.Errorf("Redact(%q) = %q, want it unchanged", raw, red)
		}
	}
	if got := Redact("http://key@%zz"); got != "?" {
		t.Errorf("Redact of an unparsable URL with @: %q", got)
	}
	if got := Redact("KEY@127.0.0.1:8080"); got != "?" {
		t.Errorf("Redact of a URL without scheme with @: %q", got)
	}
	if got := Redact("127.0.0.1:8080/x"); got != "127.0.0.1:8080/x" {
		t.Errorf("Redact of a URL without scheme nor @: %q", got)
	}
}
