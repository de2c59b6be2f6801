package checkout_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/internal/browsertest"
)

// phone opens a tab the size of a phone (390 x 844, touch, mobile layout).
func phone(t *testing.T) *browsertest.Page {
	p := browsertest.NewPage(t)
	p.Viewport(390, 844, true)
	return p
}

// documents counts the page loads of url among the tab's requests.
func documents(p *browsertest.Page, url string) int {
	n := 0
	for _, r := range p.Requests() {
		if r.Type == "Document" && r.URL == url {
			n++
		}
	}
	return n
}

// decodeScreenshot reads the QR code in a PNG screenshot.
func decodeScreenshot(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the QR code the page shows does not decode: %v", err)
	}
	return res.GetText()
}

// The hosted checkout page in headless Chromium, on a phone: it shows the
// amount and the QR code (which decodes to the invoice's uri), the test
// pays and mines on regtest, and the page goes from waiting to seen to
// confirmed without a reload; an unpaid invoice's page turns expired and a
// partly paid one underpaid with the amount due, live. A screenshot of each
// state is written; nothing leaves the origin, breaks the CSP or logs an
// error.
func TestCheckoutInBrowser(t *testing.T) {
	s := newStack(t, stackOptions{})
	node := s.btc
	shots := map[string]string{}

	t.Run("waiting, seen, confirmed", func(t *testing.T) {
		s.t = t
		inv := s.create(chains.BTC, 150_000, "", 1, map[string]any{"description": "2 × green tea, order 1001"})
		p := phone(t)
		p.Navigate(inv.CheckoutURL)
		p.WaitText("#status", "waiting")
		p.WaitText("#amount", "0.0015 BTC")
		p.WaitText("#address", inv.Address)
		p.WaitVisible("#copy") // the script shows the copy button
		if ok, _ := browsertest.Eval[bool](p, `document.getElementById("qr").complete && document.getElementById("qr").naturalWidth > 0`); !ok {
			t.Fatal("the QR code image did not load")
		}
		if got := decodeScreenshot(t, p.ScreenshotElement("#qr", "qr")); got != inv.URI {
			t.Fatalf("the page's QR code says %q, the invoice's uri is %q", got, inv.URI)
		}
		shots["waiting"] = p.Screenshot("waiting")
		node.Pay(btcdtest.Output{Address: inv.Address, Amount: 150_000})
		p.WaitText("#status", "seen")
		shots["seen"] = p.Screenshot("seen")
		node.Generate(1)
		p.WaitText("#status", "confirmed")
		shots["confirmed"] = p.Screenshot("confirmed")
		if n := documents(p, inv.CheckoutURL); n != 1 {
			t.Errorf("the page was loaded %d times; the status must change without a reload", n)
		}
		p.RequireClean()
		t.Logf("page weight %v; %v", p.Weight(), p.Timing())
	})

	t.Run("expired", func(t *testing.T) {
		s.t = t
		inv := s.create(chains.BTC, 50_000, "3", 1, nil)
		p := phone(t)
		p.Navigate(inv.CheckoutURL)
		p.WaitText("#status", "waiting")
		p.WaitText("#status", "expired")
		if hidden, _ := browsertest.Eval[bool](p, `document.getElementById("pay").hidden && document.getElementById("due").hidden`); !hidden {
			t.Error("an expired invoice still shows how to pay or an amount due")
		}
		shots["expired"] = p.Screenshot("expired")
		p.RequireClean()
	})

	t.Run("underpaid", func(t *testing.T) {
		s.t = t
		inv := s.create(chains.BTC, 80_000, "4", 1, nil)
		p := phone(t)
		p.Navigate(inv.CheckoutURL)
		p.WaitText("#status", "waiting")
		node.Pay(btcdtest.Output{Address: inv.Address, Amount: 30_000})
		p.WaitText("#due-amount", "0.0005 BTC")
		p.WaitText("#status", "underpaid")
		p.WaitText("#due-amount", "0.0005 BTC")
		shots["underpaid"] = p.Screenshot("underpaid")
		p.RequireClean()
	})

	// Without JavaScript the page is complete as served and reloads itself
	// until the status is final.
	t.Run("without JavaScript", func(t *testing.T) {
		s.t = t
		inv := s.create(chains.BTC, 20_000, "", 0, nil)
		p := phone(t)
		err := chromedp.Do(p.Context(), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
		if err != nil {
			t.Fatal(err)
		}
		p.Navigate(inv.CheckoutURL)
		p.WaitText("#status", "waiting")
		node.Pay(btcdtest.Output{Address: inv.Address, Amount: 20_000}) // max_confirms 0: paid at once
		p.WaitText("#status", "confirmed")
		if n := documents(p, inv.CheckoutURL); n < 2 {
			t.Errorf("the page loaded %d times; without JavaScript it must reload itself", n)
		}
		for _, r := range p.Requests() {
			if r.Type == "EventSource" {
				t.Errorf("with JavaScript off the page opened an event stream: %s", r.URL)
			}
		}
		shots["no-javascript"] = p.Screenshot("confirmed-without-javascript")
		p.RequireClean()
	})

	for _, state := range []string{"waiting", "seen", "confirmed", "expired", "underpaid", "no-javascript"} {
		t.Logf("screenshot %s: %s", state, shots[state])
	}
}
