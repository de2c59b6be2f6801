package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
)

// The operator commands against a real ipnd on MariaDB: a shop whose
// receiver answers 500 has two failing orders, another shop acknowledged
// its one. subscriptions, deliveries and redeliver give the same answers
// from the ledger and through the API; a redelivery reaches the running
// IPN worker either way.
func TestOperatorCommands(t *testing.T) {
	s := newOpsStack(t)
	good, bad := newShopReceiver(t, false), newShopReceiver(t, true)
	a, subA := s.order(good, "order 1")
	b, subB := s.order(bad, "order 2")
	c, subC := s.order(bad, "commande n°3")
	s.btc.Pay(btcdtest.Output{Address: a, Amount: 10_000}, btcdtest.Output{Address: b, Amount: 20_000},
		btcdtest.Output{Address: c, Amount: 30_000})
	s.waitDelivery(subA, "acknowledged", acknowledged)
	s.waitDelivery(subB, "failing", failing)
	s.waitDelivery(subC, "failing", failing)

	// subscriptions: the ledger and the API agree, row for row.
	direct, errOut, code := s.cli(nil, "subscriptions", "-state", "failing")
	if code != 0 {
		t.Fatalf("subscriptions -state failing: exit %d\n%s", code, errOut)
	}
	wantLines(t, "failing subscriptions", direct, "ID", "CHAIN", "ADDRESS", "LABEL", "URL", "DELIVERY", "ATTEMPTS", "LAST ATTEMPT",
		"\n"+subC+" ", "btc", c, "commande n°3", bad.url(), "failing", "1", "500 at ",
		"\n"+subB+" ", "btc", b, "order 2", bad.url(), "failing", "1", "500 at ")
	if n := countLines(direct); n != 3 {
		t.Errorf("failing subscriptions: %d lines, want a header and 2 rows:\n%s", n, direct)
	}
	viaAPI, errOut, code := s.cli(s.keyEnv(), s.viaAPI("subscriptions", "-state", "failing")...)
	if code != 0 || viaAPI != direct {
		t.Errorf("through the API (exit %d, %s):\n%s\nfrom the ledger:\n%s", code, errOut, viaAPI, direct)
	}
	all, _, _ := s.cli(nil, "subscriptions", "-json")
	var labels []string
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		var item struct {
			ID       json.Number
			Label    string
			Delivery struct{ State string }
		}
		if err := json.Unmarshal([]byte(line), &item); err != nil {
			t.Fatalf("subscriptions -json: %v: %s", err, line)
		}
		labels = append(labels, item.Label+"="+item.Delivery.State)
	}
	if strings.Join(labels, ",") != "commande n°3=pending,order 2=pending,order 1=delivered" {
		t.Errorf("subscriptions -json: %v", labels)
	}
	if out, errOut, _ := s.cli(nil, "subscriptions", "-limit", "1"); countLines(out) != 2 || !strings.Contains(errOut, "-limit 0 shows all") {
		t.Errorf("subscriptions -limit 1:\n%s\n%s", out, errOut)
	}

	// deliveries: failing first, then the others.
	notes, errOut, code := s.cli(nil, "deliveries")
	if code != 0 {
		t.Fatalf("deliveries: exit %d\n%s", code, errOut)
	}
	wantLines(t, "deliveries", notes, "IPN-ID", "SUBSCRIPTION", "NEXT ATTEMPT",
		" "+subC+" ", "0.00030000", "pending (failing)", "500 at ",
		" "+subB+" ", "0.00020000", "pending (failing)",
		" "+subA+" ", "0.00010000", "delivered", "200")
	failingNotes, _, _ := s.cli(nil, "deliveries", "-failing")
	viaAPI, _, _ = s.cli(s.keyEnv(), s.viaAPI("deliveries", "-failing")...)
	if countLines(failingNotes) != 3 || viaAPI != failingNotes {
		t.Errorf("deliveries -failing from the ledger:\n%s\nthrough the API:\n%s", failingNotes, viaAPI)
	}

	// redeliver -failing on the ledger: the running worker finds both due
	// and tries again (the receiver still fails).
	out, errOut, code := s.cli(nil, "redeliver", "-failing")
	if code != 0 || strings.TrimSpace(out) != "redelivering 2 subscriptions: "+subC+" "+subB {
		t.Fatalf("redeliver -failing: exit %d\n%s%s", code, out, errOut)
	}
	for _, sub := range []string{subB, subC} {
		s.waitDelivery(sub, "a second attempt", func(d map[string]any) bool { return attempts(d) >= 2 })
	}
	// The shop fixes its receiver; one command through the API catches
	// it up.
	bad.set("", false)
	out, errOut, code = s.cli(s.keyEnv(), s.viaAPI("redeliver", "-url", bad.srv.URL+"/")...)
	if code != 0 || !strings.HasPrefix(out, "redelivering 2 subscriptions: ") {
		t.Fatalf("redeliver -url through the API: exit %d\n%s%s", code, out, errOut)
	}
	s.waitDelivery(subB, "acknowledged", acknowledged)
	s.waitDelivery(subC, "acknowledged", acknowledged)
	if out, _, _ := s.cli(nil, "subscriptions", "-state", "failing"); countLines(out) != 1 {
		t.Errorf("failing after the fix:\n%s", out)
	}
	before := s.delivery(subA)["notification_id"]
	if out, errOut, code := s.cli(s.keyEnv(), s.viaAPI("redeliver", "-subscription", subA)...); code != 0 ||
		!strings.Contains(out, "redelivering subscription "+subA) {
		t.Fatalf("redeliver -subscription: exit %d %s%s", code, out, errOut)
	}
	s.waitDelivery(subA, "a new notification acknowledged", func(d map[string]any) bool {
		return acknowledged(d) && d["notification_id"] != before
	})

	// The receiver test with a subscription's endpoint secret, URL and
	// format, read from the ledger.
	out, errOut, code = s.cli(nil, "test-receiver", "-subscription", subA)
	if code != 0 || !strings.HasPrefix(out, "receiver test of "+good.url()+" (btc, json, synthetic address bcrt1q") {
		t.Errorf("test-receiver -subscription %s: exit %d\n%s%s", subA, code, out, errOut)
	}

	// Errors: one line, the exit status that says what went wrong.
	for _, tc := range []struct {
		env  []string
		args []string
		code int
		want string
	}{
		{nil, []string{"redeliver"}, 2, "redeliver: say what: -subscription N, -url PREFIX or -failing\n"},
		{nil, []string{"redeliver", "-subscription", "1", "-failing"}, 2, "redeliver: -subscription redelivers one subscription; -url and -failing select many: give one or the other\n"},
		{nil, []string{"redeliver", "-subscription", "999999"}, 1, "redeliver: no active subscription 999999\n"},
		{nil, []string{"subscriptions", "-state", "broken"}, 2, `subscriptions: -state "broken": use active, failing or ended` + "\n"},
		{nil, []string{"deliveries", "-state", "late"}, 2, `deliveries: -state "late": use pending, delivered, superseded or failed (or -failing)` + "\n"},
		{nil, s.viaAPI("subscriptions"), 1, "-api " + s.apiURL + ": the API refused the key: set IPND_API_KEY to one of its server.api_keys\n"},
		{[]string{apiKeyVariable + "=wrong-key-0123456789"}, s.viaAPI("deliveries"), 1,
			"-api " + s.apiURL + ": the API refused the key: set IPND_API_KEY to one of its server.api_keys\n"},
		{s.keyEnv(), s.viaAPI("redeliver", "-subscription", "999999"), 1,
			"redeliver: -api " + s.apiURL + ": POST /subscriptions/999999/redeliver: id: no active subscription 999999\n"},
		{nil, []string{"test-receiver", "-subscription", "999999"}, 2, "test-receiver: -subscription 999999: no such subscription\n"},
		{s.keyEnv(), []string{"subscriptions", "-api", "localhost:8080"}, 2, `-api "localhost:8080": give the API's base URL, e.g. http://127.0.0.1:8080` + "\n"},
		// A key in the -api URL is used and never printed: the messages
		// name the URL without it.
		{nil, []string{"redeliver", "-subscription", "999999", "-api", strings.Replace(s.apiURL, "://", "://"+s.apiKey+"@", 1)}, 1,
			"redeliver: -api " + s.apiURL + ": POST /subscriptions/999999/redeliver: id: no active subscription 999999\n"},
		{nil, []string{"deliveries", "-api", strings.Replace(s.apiURL, "://", "://ops:hunter2-in-url@", 1)}, 1,
			"-api " + s.apiURL + ": the API refused the key: set IPND_API_KEY to one of its server.api_keys\n"},
		{nil, []string{"subscriptions", "-api", "http://127.0.0.1:1", "-api", "http://hunter2-in-url@127.0.0.1:1"}, 1,
			`-api http://127.0.0.1:1: Get "http://127.0.0.1:1/subscriptions?limit=100": dial tcp 127.0.0.1:1: connect: connection refused` + "\n"},
		{nil, []string{"subscriptions", "-api", "ftp://hunter2-in-url@h/"}, 2, `-api "ftp://xxxxx@h/": give the API's base URL, e.g. http://127.0.0.1:8080` + "\n"},
		{nil, []string{"subscriptions", "-api", "http://hunter2-in-url@[h"}, 2, `-api "?": give the API's base URL, e.g. http://127.0.0.1:8080` + "\n"},
	} {
		out, errOut, code := s.cli(tc.env, tc.args...)
		if code != tc.code || errOut != tc.want {
			t.Errorf("ipnd %s: exit %d, stderr %q; want %d, %q (stdout %q)", strings.Join(tc.args, " "), code, errOut, tc.code, tc.want, out)
		}
		assertNoSecret(t, "ipnd "+strings.Join(tc.args, " "), out+errOut)
	}
}

// The ledger's commands refuse a ledger this ipnd would have to migrate.
func TestOperatorCommandsNeedAMigratedLedger(t *testing.T) {
	dsn := "IPND_DATABASE_DSN=" + t.TempDir() + "/empty.db"
	_, errOut, code := ipnd(t, []string{"IPND_DATABASE_DRIVER=sqlite", dsn}, "subscriptions")
	if code != 1 || !strings.Contains(errOut, "the ledger's schema is version 0, this ipnd's") || !strings.Contains(errOut, "run ipnd migrate") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
