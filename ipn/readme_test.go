package ipn_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ipn"
	"github.com/ipnd/ipnd/ledger"
)

// readmePython returns the README's Python receiver.
func readmePython(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```python\n# receiver.py")
	code, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no ```python block starting with # receiver.py")
	}
	return "# receiver.py" + code
}

// TestReadmePythonReceiver runs the README's Python receiver and delivers
// an IPN to it with ipnd's sender: signed with the right secret it is
// acknowledged, with another secret it is not.
func TestReadmePythonReceiver(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		testenv.Unavailable(t, "python3 not found")
	}
	script := filepath.Join(t.TempDir(), "receiver.py")
	if err := os.WriteFile(script, []byte(readmePython(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	const secret = "ipnsec_readme-test-secret"
	cmd := exec.Command(py, script)
	cmd.Env = append(os.Environ(), "IPN_SECRET="+secret, "PORT="+strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/ipn"
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	send := func(secret string) ipn.Outcome {
		d := ledger.NotificationData{ID: 9, Subscription: ledger.Subscription{ID: 3, Chain: chains.XMR, Address: "8ReadmeAddress",
			URL: url, MaxConfirms: 10, Secret: secret, Format: "json"},
			Totals: ledger.Totals{Confirmed: 1_250_000_000_000, Unconfirmed: 7, Height: 99}, CreatedAt: time.Now()}
		body, ctype, err := ipn.Payload(d)
		if err != nil {
			t.Fatal(err)
		}
		n := ledger.Notification{ID: 9, SubscriptionID: 3, Chain: chains.XMR, Address: "8ReadmeAddress", URL: url,
			Secret: secret, Confirmed: d.Totals.Confirmed, Unconfirmed: 7, Body: body, ContentType: ctype}
		s := ipn.NewSender(ipn.SenderOptions{AllowPrivate: true, Timeout: 5 * time.Second, QuickRetries: -1})
		defer s.Close()
		return s.Send(context.Background(), n, 1)
	}
	if out := send(secret); !out.Delivered {
		t.Fatalf("the README receiver did not acknowledge a correctly signed IPN: %+v", out)
	}
	if out := send("ipnsec_another-secret"); out.Delivered || out.Status != 401 {
		t.Fatalf("the README receiver accepted an IPN signed with another secret: %+v", out)
	}
}
