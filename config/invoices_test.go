package config

import (
	"strings"
	"testing"
)

func TestInvoicesSettings(t *testing.T) {
	path := write(t, `
[invoices]
expiry = "90s"
min_expiry = "30s"
max_expiry = "2h"
public_url = "https://pay.shop.example/ipnd"
checkout_rate = 0
`)
	cfg, err := Load(path, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if inv := cfg.Invoices; inv.Expiry.D().Seconds() != 90 || inv.PublicURL != "https://pay.shop.example/ipnd" || inv.CheckoutRate != 0 {
		t.Fatalf("loaded %+v", inv)
	}
	for body, key := range map[string]string{
		"expiry = \"10s\"":                         "invoices.expiry",
		"expiry = \"1500ms\"\nmin_expiry = \"1s\"": "invoices.expiry",
		"max_expiry = \"30s\"":                     "invoices.max_expiry",
		"min_expiry = \"0s\"":                      "invoices.min_expiry",
		"public_url = \"ftp://x\"":                 "invoices.public_url",
		"public_url = \"https://u:p@x\"":           "invoices.public_url",
		"checkout_rate = -1":                       "invoices.checkout_rate",
	} {
		_, err := Load(write(t, "[invoices]\n"+body+"\n"), true, nil)
		if msg, ok := problems(t, err)[key]; !ok || strings.Contains(msg, "u:p") {
			t.Errorf("%s: problems %v, want one for %s (without credentials)", body, err, key)
		}
	}
}
