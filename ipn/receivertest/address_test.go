package receivertest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/ipnd/ipnd/chains"
	"github.com/ipnd/ipnd/chains/bitcoin"
	"github.com/ipnd/ipnd/chains/monero/monerotest"
	"github.com/ipnd/ipnd/internal/testenv"
	"github.com/ipnd/ipnd/ipn/receivertest"
)

// TestSyntheticBitcoinAddresses: each is a valid P2WPKH address of its
// network only, and SyntheticAddress maps ipnd's network names to it.
func TestSyntheticBitcoinAddresses(t *testing.T) {
	for _, network := range []string{"mainnet", "testnet", "signet", "regtest"} {
		params, err := bitcoin.NetParams(network)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := receivertest.SyntheticAddress(chains.BTC, network)
		if err != nil {
			t.Fatal(err)
		}
		a, err := btcutil.DecodeAddress(addr, params)
		if err != nil {
			t.Fatalf("%s: %s does not decode: %v", network, addr, err)
		}
		if _, ok := a.(*btcutil.AddressWitnessPubKeyHash); !ok || !a.IsForNet(params) || a.EncodeAddress() != addr {
			t.Fatalf("%s: %s is a %T, not a P2WPKH address of the network", network, addr, a)
		}
		if !strings.Contains(addr, "1q"+"qqqqqqqqqqqqqtestaddressneverpay") {
			t.Fatalf("%s: %s does not read as synthetic", network, addr)
		}
		if params != &chaincfg.MainNetParams {
			if a.IsForNet(&chaincfg.MainNetParams) {
				t.Fatalf("%s: %s is also a mainnet address", network, addr)
			}
		}
	}
	if _, err := receivertest.SyntheticAddress("doge", ""); err == nil {
		t.Fatal("a synthetic address for an unknown chain")
	}
}

// TestSyntheticLitecoinAddresses: each is a valid P2WPKH address of its
// Litecoin network only, with the Bitcoin addresses' program, and
// SyntheticAddress maps ipnd's network names to it.
func TestSyntheticLitecoinAddresses(t *testing.T) {
	program, _ := btcutil.DecodeAddress(receivertest.SyntheticBTCMainnet, &chaincfg.MainNetParams)
	for _, network := range []string{"mainnet", "testnet", "regtest"} {
		n, err := bitcoin.LitecoinFamily.Network(network)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := receivertest.SyntheticAddress(chains.LTC, network)
		if err != nil {
			t.Fatal(err)
		}
		if canon, err := bitcoin.CanonicalAddress(n.Params, addr); err != nil || canon != addr {
			t.Fatalf("%s: %s: %s, %v", network, addr, canon, err)
		}
		script, _ := bitcoin.ValidateAddress(n.Params, addr)
		if len(script) != 22 || script[0] != 0 || script[1] != 20 || string(script[2:]) != string(program.ScriptAddress()) {
			t.Fatalf("%s: %s is not a P2WPKH of the synthetic program: %x", network, addr, script)
		}
		if !strings.Contains(addr, "1q"+"qqqqqqqqqqqqqtestaddressneverpay") {
			t.Fatalf("%s: %s does not read as synthetic", network, addr)
		}
		for _, other := range bitcoin.LitecoinFamily.Networks {
			if other.Name != network {
				if _, err := bitcoin.ValidateAddress(other.Params, addr); err == nil {
					t.Fatalf("%s's %s is valid on %s too", network, addr, other.Name)
				}
			}
		}
	}
	if a, _ := receivertest.SyntheticAddress(chains.LTC, "testnet4"); a != receivertest.SyntheticLTCTestnet {
		t.Errorf("testnet4: %s", a)
	}
	if _, err := receivertest.SyntheticAddress(chains.LTC, "signet"); err == nil {
		t.Error("Litecoin has no signet")
	}
}

// TestSyntheticMoneroAddresses: Monero's own wallet-rpc (offline, no
// daemon) validates each synthetic address for its network, and refuses one
// with a changed character.
func TestSyntheticMoneroAddresses(t *testing.T) {
	t.Parallel() // wallet-rpc takes seconds to start: let the other tests run meanwhile
	_, walletRPC, err := monerotest.Binaries()
	if err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	port, err := monerotest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(walletRPC, "--offline", "--wallet-dir", dir, "--rpc-bind-ip", "127.0.0.1",
		"--rpc-bind-port", strconv.Itoa(port), "--disable-rpc-login", "--non-interactive",
		"--log-file", filepath.Join(dir, "wallet-rpc.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	validate := func(addr string) (valid bool, nettype string, err error) {
		req := fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"validate_address","params":{"address":%q,"any_net_type":true}}`, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:"+strconv.Itoa(port)+"/json_rpc", bytes.NewReader([]byte(req)))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return false, "", err
		}
		defer resp.Body.Close()
		var out struct {
			Result struct {
				Valid   bool   `json:"valid"`
				Nettype string `json:"nettype"`
			} `json:"result"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return false, "", err
		}
		return out.Result.Valid, out.Result.Nettype, nil
	}
	// wallet-rpc loads for a few seconds before it answers.
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if _, _, err := validate(receivertest.SyntheticXMRMainnet); err == nil {
			break
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "wallet-rpc.log"))
			t.Fatalf("monero-wallet-rpc did not answer: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range []struct{ network, nettype string }{
		{"mainnet", "mainnet"}, {"regtest", "mainnet"}, {"testnet", "testnet"}, {"stagenet", "stagenet"},
	} {
		addr, err := receivertest.SyntheticAddress(chains.XMR, c.network)
		if err != nil {
			t.Fatal(err)
		}
		valid, nettype, err := validate(addr)
		if err != nil || !valid || nettype != c.nettype {
			t.Fatalf("%s: %s: valid %v nettype %q (%v), want a valid %s address", c.network, addr, valid, nettype, err, c.nettype)
		}
		if !strings.Contains(addr, "ipndTestKitSyntheticAddressDoNotPayAnyCoinsHereJustForTestingShopReceivers") {
			t.Fatalf("%s does not read as synthetic", addr)
		}
		altered := addr[:len(addr)-1] + "x"
		if valid, _, err := validate(altered); err != nil || valid {
			t.Fatalf("%s: altered %s accepted (%v)", c.network, altered, err)
		}
	}
}
