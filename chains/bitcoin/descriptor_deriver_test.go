package bitcoin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"

	"github.com/ipnd/ipnd/chains/bitcoin/btcdtest"
	"github.com/ipnd/ipnd/chains/bitcoin/coretest"
	"github.com/ipnd/ipnd/chains/bitcoin/descriptor"
	"github.com/ipnd/ipnd/config"
	"github.com/ipnd/ipnd/ledger"
)

// cosigner is a test wallet: its account key m/48'/coin'/0'/2' (private,
// to derive independently) and its key expression [fp/48h/…]tpub.
type cosigner struct {
	account *hdkeychain.ExtendedKey
	expr    string
}

func newCosigner(t testing.TB, name string, net *chaincfg.Params) cosigner {
	t.Helper()
	seed := sha256.Sum256([]byte(name))
	master, err := hdkeychain.NewMaster(seed[:], net)
	if err != nil {
		t.Fatal(err)
	}
	mpub, _ := master.ECPubKey()
	fp := btcutil.Hash160(mpub.SerializeCompressed())[:4]
	k := master
	coin := net.HDCoinType
	for _, i := range []uint32{48, coin, 0, 2} {
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	return cosigner{account: k, expr: fmt.Sprintf("[%x/48h/%dh/0h/2h]%s", fp, coin, pub.String())}
}

// pubAt is m/…/0/index derived from the private account key.
func (c cosigner) pubAt(t testing.TB, index uint32) *btcec.PublicKey {
	t.Helper()
	k, err := c.account.Derive(0)
	if err == nil {
		k, err = k.Derive(index)
	}
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// withChecksum appends the descriptor's checksum.
func withChecksum(t testing.TB, desc string) string {
	t.Helper()
	sum, err := descriptor.Checksum(desc)
	if err != nil {
		t.Fatal(err)
	}
	return desc + "#" + sum
}

// descriptorsOf makes the descriptor of each supported type over three
// cosigners (the first alone for the single-key types).
func descriptorsOf(c [3]cosigner) map[string]string {
	k := func(i int) string { return c[i].expr + "/0/*" }
	all := k(0) + "," + k(1) + "," + k(2)
	return map[string]string{
		"pkh":                  "pkh(" + k(0) + ")",
		"sh(wpkh)":             "sh(wpkh(" + k(0) + "))",
		"wpkh":                 "wpkh(" + k(0) + ")",
		"tr":                   "tr(" + k(0) + ")",
		"wsh(multi)":           "wsh(multi(2," + all + "))",
		"wsh(sortedmulti)":     "wsh(sortedmulti(2," + all + "))",
		"sh(wsh(sortedmulti))": "sh(wsh(sortedmulti(2," + all + ")))",
		"sh(wsh(multi))":       "sh(wsh(multi(2," + all + ")))",
		"sh(sortedmulti)":      "sh(sortedmulti(2," + all + "))",
	}
}

// Every descriptor type gives, index for index, the addresses litecoind's
// deriveaddresses gives for it (Litecoin regtest encodings; Litecoin Core
// 0.21 has no tr(), which is checked against btcd's libraries below), and
// so does the same key written in SLIP-132 or Electrum-LTC form. The
// checksum is the node's.
func TestDescriptorsMatchLitecoind(t *testing.T) {
	n := sharedLTC(t)
	net := &chaincfg.RegressionNetParams
	cs := [3]cosigner{newCosigner(t, "ltc a", net), newCosigner(t, "ltc b", net), newCosigner(t, "ltc c", net)}
	checked := 0
	for typ, desc := range descriptorsOf(cs) {
		var info coretest.DescriptorInfo
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := n.RPC.Call(ctx, "getdescriptorinfo", &info, desc)
		cancel()
		if typ == "tr" && err != nil {
			t.Logf("litecoind has no tr(): %v", err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: getdescriptorinfo: %v", typ, err)
		}
		full := withChecksum(t, desc)
		if want := desc + "#" + info.Checksum; full != want {
			t.Errorf("%s: checksum %s, litecoind %s", typ, full, want)
		}
		d, err := LitecoinFamily.NewDescriptorDeriver("regtest", full)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if string(d.Type()) != typ {
			t.Errorf("type %s, want %s", d.Type(), typ)
		}
		want := n.DeriveAddresses(full, 0, 9)
		for i, w := range want {
			if got, err := d.Address(uint32(i)); err != nil || got != w {
				t.Errorf("%s index %d: %s (%v), litecoind %s", typ, i, got, err, w)
			}
		}
		checked++
		// The same keys as vpub/ttub (SLIP-132, Electrum-LTC) derive the same.
		for _, ver := range [][]byte{verVpub, verTtub} {
			slip := desc
			for _, c := range cs {
				tpub := c.expr[strings.Index(c.expr, "]")+1:]
				slip = strings.ReplaceAll(slip, tpub, reversion(t, tpub, ver))
			}
			ds, err := LitecoinFamily.NewDescriptorDeriver("regtest", withChecksum(t, slip))
			if err != nil {
				t.Fatalf("%s with %x keys: %v", typ, ver, err)
			}
			if got, _ := ds.Address(3); got != want[3] {
				t.Errorf("%s with %x keys: index 3 %s, want %s", typ, ver, got, want[3])
			}
		}
	}
	if checked < 8 {
		t.Fatalf("only %d descriptor types checked", checked)
	}
	// The xpub settings' types are the single-key descriptors.
	tpub := cs[0].expr[strings.Index(cs[0].expr, "]")+1:]
	for typ, desc := range map[AddressType]string{P2PKH: "pkh", P2SHP2WPKH: "sh(wpkh)", P2WPKH: "wpkh"} {
		d, err := LitecoinFamily.NewDeriver("regtest", tpub, string(typ))
		if err != nil {
			t.Fatal(err)
		}
		want := n.DeriveAddresses(descriptorsOf(cs)[desc], 0, 4)
		for i, w := range want {
			if got, _ := d.Address(uint32(i)); got != w {
				t.Errorf("xpub %s index %d: %s, litecoind %s", typ, i, got, w)
			}
		}
	}
}

func reversion(t testing.TB, key string, version []byte) string {
	t.Helper()
	k, err := hdkeychain.NewKeyFromString(key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := k.CloneWithVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	return v.String()
}

// For Bitcoin (mainnet) every descriptor type gives the addresses btcd's
// libraries give for keys derived independently (from the private keys).
func TestDescriptorsMatchBtcdLibraries(t *testing.T) {
	net := &chaincfg.MainNetParams
	cs := [3]cosigner{newCosigner(t, "btc a", net), newCosigner(t, "btc b", net), newCosigner(t, "btc c", net)}
	for typ, desc := range descriptorsOf(cs) {
		d, err := BitcoinFamily.NewDescriptorDeriver("mainnet", withChecksum(t, desc))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		for i := uint32(0); i < 10; i++ {
			pubs := []*btcec.PublicKey{cs[0].pubAt(t, i), cs[1].pubAt(t, i), cs[2].pubAt(t, i)}
			want := libraryAddress(t, typ, pubs, net)
			if got, err := d.Address(i); err != nil || got != want {
				t.Errorf("%s index %d: %s (%v), btcd %s", typ, i, got, err, want)
			}
		}
	}
}

// libraryAddress builds the address of a descriptor type with btcutil and
// txscript alone.
func libraryAddress(t testing.TB, typ string, pubs []*btcec.PublicKey, net *chaincfg.Params) string {
	t.Helper()
	hash := btcutil.Hash160(pubs[0].SerializeCompressed())
	multisig := func(sorted bool) []byte {
		keys := make([]*btcutil.AddressPubKey, len(pubs))
		ser := make([][]byte, len(pubs))
		for i, p := range pubs {
			ser[i] = p.SerializeCompressed()
		}
		if sorted {
			slices.SortFunc(ser, bytes.Compare)
		}
		for i, s := range ser {
			k, err := btcutil.NewAddressPubKey(s, net)
			if err != nil {
				t.Fatal(err)
			}
			keys[i] = k
		}
		script, err := txscript.MultiSigScript(keys, 2)
		if err != nil {
			t.Fatal(err)
		}
		return script
	}
	wsh := func(witness []byte) *btcutil.AddressWitnessScriptHash {
		h := sha256.Sum256(witness)
		a, err := btcutil.NewAddressWitnessScriptHash(h[:], net)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	script := func(a btcutil.Address) []byte {
		s, err := txscript.PayToAddrScript(a)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var a btcutil.Address
	var err error
	switch typ {
	case "pkh":
		a, err = btcutil.NewAddressPubKeyHash(hash, net)
	case "wpkh":
		a, err = btcutil.NewAddressWitnessPubKeyHash(hash, net)
	case "sh(wpkh)":
		w, _ := btcutil.NewAddressWitnessPubKeyHash(hash, net)
		a, err = btcutil.NewAddressScriptHash(script(w), net)
	case "tr":
		a, err = btcutil.NewAddressTaproot(schnorr.SerializePubKey(txscript.ComputeTaprootKeyNoScript(pubs[0])), net)
	case "wsh(multi)":
		a = wsh(multisig(false))
	case "wsh(sortedmulti)":
		a = wsh(multisig(true))
	case "sh(wsh(multi))":
		a, err = btcutil.NewAddressScriptHash(script(wsh(multisig(false))), net)
	case "sh(wsh(sortedmulti))":
		a, err = btcutil.NewAddressScriptHash(script(wsh(multisig(true))), net)
	case "sh(sortedmulti)":
		a, err = btcutil.NewAddressScriptHash(multisig(true), net)
	default:
		t.Fatalf("type %s", typ)
	}
	if err != nil {
		t.Fatal(err)
	}
	return a.EncodeAddress()
}

// A descriptor's checksum is required and verified, its keys must be
// public keys of the configured network class, and the errors name the
// setting without echoing the descriptor.
func TestDescriptorConfigRefusals(t *testing.T) {
	net := &chaincfg.RegressionNetParams
	c := newCosigner(t, "refusals", net)
	desc := "wpkh(" + c.expr + "/0/*)"
	full := withChecksum(t, desc)
	base := config.Bitcoin{Enabled: true, Network: "regtest", Push: "auto"}
	check := func(c config.Bitcoin) config.Problems { return LitecoinFamily.CheckConfig(c) }

	ok := base
	ok.Descriptor = full
	if p := check(ok); len(p) != 0 {
		t.Fatalf("valid descriptor: %v", p)
	}
	for name, tc := range map[string]struct {
		mutate func(*config.Bitcoin)
		key    string
		text   string
	}{
		"no checksum":    {func(c *config.Bitcoin) { c.Descriptor = desc }, "litecoin.descriptor", "checksum"},
		"wrong checksum": {func(c *config.Bitcoin) { c.Descriptor = desc + "#" + strings.Repeat("q", 8) }, "litecoin.descriptor", "checksum"},
		"mainnet key on regtest": {func(c *config.Bitcoin) {
			c.Descriptor = withChecksum(t, strings.ReplaceAll(desc, c2tpub(desc), reversion(t, c2tpub(desc), verXpub)))
		}, "litecoin.descriptor", "another network"},
		"xpub and descriptor": {func(c *config.Bitcoin) { c.Descriptor, c.XPub = full, c2tpub(desc) }, "litecoin.descriptor", "not both"},
		"address_type":        {func(c *config.Bitcoin) { c.Descriptor, c.AddressType = full, "p2wpkh" }, "litecoin.address_type", "must be empty"},
		"not ranged":          {func(c *config.Bitcoin) { c.Descriptor = withChecksum(t, "wpkh("+c2tpub(desc)+"/0/1)") }, "litecoin.descriptor", "no final /*"},
	} {
		cfg := base
		tc.mutate(&cfg)
		p := check(cfg)
		if len(p) != 1 || p[0].Key != tc.key || !strings.Contains(p[0].Msg, tc.text) {
			t.Errorf("%s: %v, want one problem of %s saying %q", name, p, tc.key, tc.text)
		}
		if len(p) > 0 && strings.Contains(p[0].Msg, c2tpub(desc)) {
			t.Errorf("%s: the problem echoes the key: %v", name, p)
		}
	}
	priv := "wpkh(" + privateKey(t, []byte{0x04, 0x35, 0x83, 0x94}) + "/0/*)"
	if _, err := LitecoinFamily.NewDescriptorDeriver("regtest", withChecksum(t, priv)); !errors.Is(err, descriptor.ErrPrivateKey) {
		t.Errorf("a tprv in a descriptor: %v", err)
	}
}

// c2tpub is the extended key of a one-key descriptor.
func c2tpub(desc string) string {
	s := desc[strings.Index(desc, "]")+1:]
	return s[:strings.Index(s, "/")]
}

// A 2-of-3 wsh(sortedmulti) cold-storage wallet watched through its
// descriptor receives a payment on each chain: Bitcoin (btcd; the payment
// built and signed by the test wallet) and Litecoin (litecoind's wallet).
func TestMultisigDescriptorReceives(t *testing.T) {
	net := &chaincfg.RegressionNetParams
	cs := [3]cosigner{newCosigner(t, "cold a", net), newCosigner(t, "cold b", net), newCosigner(t, "cold c", net)}
	desc := withChecksum(t, descriptorsOf(cs)["wsh(sortedmulti)"])

	t.Run("bitcoin", func(t *testing.T) {
		d, err := BitcoinFamily.NewDescriptorDeriver("regtest", desc)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, nil, P2WPKH, 3)
		e.d = d
		e.w = e.newWatcher(3)
		e.alloc = NewAllocator(d, e.ledger, e.w)
		e.poll()
		addr := e.allocate()
		if !strings.HasPrefix(addr, "bcrt1q") || len(addr) != 64 {
			t.Fatalf("a p2wsh address: %s", addr)
		}
		tx := e.node.Pay(btcdtest.Output{Address: addr, Amount: 250_000})
		e.poll()
		e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusMempool, 250_000, 0)
		e.node.Generate(1)
		e.poll()
		e.wantDeposit(addr, btcdtest.TxID(tx), ledger.StatusConfirmed, 250_000, 1)
	})
	t.Run("litecoin", func(t *testing.T) {
		n := sharedLTC(t)
		if n.Height() < 101 {
			n.Fund()
		}
		d, err := LitecoinFamily.NewDescriptorDeriver("regtest", desc)
		if err != nil {
			t.Fatal(err)
		}
		e := newLTCEnv(t, n, d, 3)
		e.poll()
		addr := e.allocate()
		if want := n.DeriveAddresses(desc, 0, 0)[0]; addr != want || !strings.HasPrefix(addr, "rltc1q") {
			t.Fatalf("address %s, litecoind %s", addr, want)
		}
		tx := n.SendToAddress(addr, 250_000)
		e.poll()
		e.wantDeposit(addr, tx, ledger.StatusMempool, 250_000, 0)
		n.Generate(1)
		e.poll()
		e.wantDeposit(addr, tx, ledger.StatusConfirmed, 250_000, 1)
	})
}
