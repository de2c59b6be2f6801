// Package bitcoin is ipnd's Bitcoin adapter: receive addresses derived from
// an account-level extended public key (derive.go), an in-memory watch set
// of scriptPubKeys and a block scanner over btcd's wire decoder (scan.go),
// the JSON-RPC client (rpc.go) and the block source polling it (source.go)
// that a chainsync.BlockFollower turns into ledger writes, the watcher's
// round and gap window (watcher.go, window.go), address allocation
// (allocator.go) and the API's view of the chain (apiadapter.go).
package bitcoin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
)

// AddressType is the kind of receive address derived from the key.
type AddressType string

// Supported address types (config bitcoin.address_type).
const (
	P2PKH      AddressType = "p2pkh"       // BIP44, legacy 1…/m…
	P2SHP2WPKH AddressType = "p2sh-p2wpkh" // BIP49, nested segwit 3…/2…
	P2WPKH     AddressType = "p2wpkh"      // BIP84, native segwit bc1q…
	P2TR       AddressType = "p2tr"        // BIP86, key-path taproot bc1p…
)

// Errors callers can test with errors.Is.
var (
	// ErrPrivateKey: the configured key is an extended PRIVATE key.
	ErrPrivateKey = errors.New("an extended private key was configured: only extended PUBLIC keys " +
		"(xpub/ypub/zpub/tpub/upub/vpub) belong on this server; keep the private key offline")
	// ErrWrongNetwork: the key or address belongs to another network.
	ErrWrongNetwork = errors.New("belongs to another network")
	// ErrBadKey: the key is not a usable account-level extended public key.
	ErrBadKey = errors.New("not a valid extended public key")
	// ErrBadAddress: an address does not parse for the configured network.
	ErrBadAddress = errors.New("not a valid address")
)

// keyVersion describes one registered extended-key version (BIP32, BIP49,
// BIP84/SLIP-132).
type keyVersion struct {
	prefix  string
	private bool
	testnet bool        // tpub family (testnet, signet, regtest) vs mainnet
	typ     AddressType // default type this prefix stands for; "" = multisig, unsupported
}

var keyVersions = map[uint32]keyVersion{
	0x0488b21e: {"xpub", false, false, P2PKH},
	0x0488ade4: {"xprv", true, false, P2PKH},
	0x049d7cb2: {"ypub", false, false, P2SHP2WPKH},
	0x049d7878: {"yprv", true, false, P2SHP2WPKH},
	0x04b24746: {"zpub", false, false, P2WPKH},
	0x04b2430c: {"zprv", true, false, P2WPKH},
	0x0295b43f: {"Ypub", false, false, ""},
	0x0295b005: {"Yprv", true, false, ""},
	0x02aa7ed3: {"Zpub", false, false, ""},
	0x02aa7a99: {"Zprv", true, false, ""},
	0x043587cf: {"tpub", false, true, P2PKH},
	0x04358394: {"tprv", true, true, P2PKH},
	0x044a5262: {"upub", false, true, P2SHP2WPKH},
	0x044a4e28: {"uprv", true, true, P2SHP2WPKH},
	0x045f1cf6: {"vpub", false, true, P2WPKH},
	0x045f18bc: {"vprv", true, true, P2WPKH},
	0x024289ef: {"Upub", false, true, ""},
	0x024285b5: {"Uprv", true, true, ""},
	0x02575483: {"Vpub", false, true, ""},
	0x02575048: {"Vprv", true, true, ""},
}

// NetParams maps bitcoin.network to btcd's chain parameters.
func NetParams(network string) (*chaincfg.Params, error) {
	switch network {
	case "mainnet", "main", "":
		return &chaincfg.MainNetParams, nil
	case "testnet", "testnet3":
		return &chaincfg.TestNet3Params, nil
	case "signet":
		return &chaincfg.SigNetParams, nil
	case "regtest":
		return &chaincfg.RegressionNetParams, nil
	}
	return nil, fmt.Errorf("unknown bitcoin network %q (want mainnet, testnet, signet or regtest)", network)
}

// Deriver derives the receive addresses m/0/i below an account-level
// extended public key, with hdkeychain (child keys) and txscript (the
// taproot output key). It is safe for concurrent use.
type Deriver struct {
	net      *chaincfg.Params
	typ      AddressType
	external *hdkeychain.ExtendedKey // m/0, derived once
}

// Derived is one receive address.
type Derived struct {
	Index   uint32
	Address string
	Script  []byte // scriptPubKey
}

// NewDeriver parses key (never echoed in errors) for network; addressType ""
// takes the type from the key's prefix (xpub/tpub p2pkh, ypub/upub
// p2sh-p2wpkh, zpub/vpub p2wpkh); "p2tr" derives BIP86 key-path taproot
// addresses.
func NewDeriver(network, key, addressType string) (*Deriver, error) {
	net, err := NetParams(network)
	if err != nil {
		return nil, err
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, fmt.Errorf("%w: no key configured", ErrBadKey)
	}
	raw, ver, err := base58.CheckDecode(key)
	if err != nil || len(raw) != 77 {
		// CheckDecode returns the first byte as "version"; a BIP32 key is
		// 4 version bytes + 74 bytes of payload.
		return nil, fmt.Errorf("%w: it does not decode as a BIP32 extended key: copy the whole account-level key from the wallet (docs/operators.md says where each wallet shows it)", ErrBadKey)
	}
	payload := append([]byte{ver}, raw...)
	version := binary.BigEndian.Uint32(payload[:4])
	kv, known := keyVersions[version]
	if (known && kv.private) || payload[45] == 0x00 {
		return nil, ErrPrivateKey
	}
	if !known {
		return nil, fmt.Errorf("%w: unknown version bytes %08x: use the account's xpub, ypub or zpub (tpub, upub or vpub on test networks)", ErrBadKey, version)
	}
	if kv.typ == "" {
		return nil, fmt.Errorf("%w: %s… is a multisig key; use a single-signature account key", ErrBadKey, kv.prefix)
	}
	isTest := net.Name != chaincfg.MainNetParams.Name
	if kv.testnet != isTest {
		want := "the wallet's mainnet key (xpub, ypub or zpub)"
		if isTest {
			want = "the wallet's test-network key (tpub, upub or vpub)"
		}
		return nil, fmt.Errorf("a %s… key %w than bitcoin.network = %q: set bitcoin.network to the key's network, or use %s",
			kv.prefix, ErrWrongNetwork, network, want)
	}
	typ := kv.typ
	if addressType != "" {
		typ = AddressType(addressType)
		switch typ {
		case P2PKH, P2SHP2WPKH, P2WPKH, P2TR:
		default:
			return nil, fmt.Errorf("unknown bitcoin address type %q (want p2pkh, p2sh-p2wpkh, p2wpkh or p2tr)", addressType)
		}
	}
	// hdkeychain knows only the xpub/tpub versions; the version bytes do
	// not enter derivation, so reserialise with the plain public version.
	std := make([]byte, len(payload))
	copy(std, payload)
	copy(std[:4], net.HDPublicKeyID[:])
	ek, err := hdkeychain.NewKeyFromString(base58.CheckEncode(std[1:], std[0]))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	ext, err := ek.Derive(0)
	if err != nil {
		return nil, fmt.Errorf("%w: deriving the external chain: %v", ErrBadKey, err)
	}
	return &Deriver{net: net, typ: typ, external: ext}, nil
}

// childPubKey is the public key at m/0/index (BIP32 CKDpub). An index
// whose child is invalid (probability below 2^-127) is an error wrapping
// hdkeychain.ErrInvalidChild: BIP32 says to skip it.
func (d *Deriver) childPubKey(index uint32) (*btcec.PublicKey, error) {
	k, err := d.external.Derive(index)
	if err != nil {
		return nil, err
	}
	return k.ECPubKey()
}

// Type is the address type derived.
func (d *Deriver) Type() AddressType { return d.typ }

// Params are the network's parameters.
func (d *Deriver) Params() *chaincfg.Params { return d.net }

// Derive returns the receive address at m/0/index.
func (d *Deriver) Derive(index uint32) (Derived, error) {
	if index >= hdkeychain.HardenedKeyStart {
		return Derived{}, fmt.Errorf("derivation index %d is out of range (max %d)", index, hdkeychain.HardenedKeyStart-1)
	}
	pub, err := d.childPubKey(index)
	if err != nil {
		return Derived{}, fmt.Errorf("derive index %d: %w", index, err)
	}
	var addr btcutil.Address
	keyHash := btcutil.Hash160(pub.SerializeCompressed())
	switch d.typ {
	case P2PKH:
		addr, err = btcutil.NewAddressPubKeyHash(keyHash, d.net)
	case P2WPKH:
		addr, err = btcutil.NewAddressWitnessPubKeyHash(keyHash, d.net)
	case P2SHP2WPKH:
		// BIP49: the redeem script is the key's p2wpkh program.
		var redeem []byte
		redeem, err = txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(keyHash).Script()
		if err == nil {
			addr, err = btcutil.NewAddressScriptHash(redeem, d.net)
		}
	case P2TR:
		// BIP86: key-path spending only, the output key commits to no
		// script tree.
		addr, err = btcutil.NewAddressTaproot(schnorr.SerializePubKey(txscript.ComputeTaprootKeyNoScript(pub)), d.net)
	default:
		err = fmt.Errorf("unknown address type %q", d.typ)
	}
	if err != nil {
		return Derived{}, fmt.Errorf("derive index %d: %w", index, err)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		return Derived{}, fmt.Errorf("derive index %d: %w", index, err)
	}
	return Derived{Index: index, Address: addr.EncodeAddress(), Script: script}, nil
}

// Address returns the address string at m/0/index (the shape
// db.Ledger.AllocateAddress takes).
func (d *Deriver) Address(index uint32) (string, error) {
	x, err := d.Derive(index)
	return x.Address, err
}

// ValidateAddress checks that s is an address of the configured network and
// returns its scriptPubKey.
func (d *Deriver) ValidateAddress(s string) ([]byte, error) { return ValidateAddress(d.net, s) }

// ValidateAddress checks that s is a standard address (p2pkh, p2sh, segwit
// v0, taproot) of net and returns its scriptPubKey.
func ValidateAddress(net *chaincfg.Params, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	a, err := btcutil.DecodeAddress(s, net)
	if err != nil {
		if otherNet(s, net) {
			return nil, fmt.Errorf("bitcoin address %q %w than %s", s, ErrWrongNetwork, net.Name)
		}
		return nil, fmt.Errorf("%w: bitcoin address %q: %v", ErrBadAddress, s, err)
	}
	if !a.IsForNet(net) {
		return nil, fmt.Errorf("bitcoin address %q %w than %s", s, ErrWrongNetwork, net.Name)
	}
	switch a.(type) {
	case *btcutil.AddressPubKeyHash, *btcutil.AddressScriptHash, *btcutil.AddressWitnessPubKeyHash,
		*btcutil.AddressWitnessScriptHash, *btcutil.AddressTaproot:
	default:
		return nil, fmt.Errorf("%w: bitcoin address %q is not a p2pkh, p2sh, segwit or taproot address", ErrBadAddress, s)
	}
	// Bech32 is case-insensitive; the canonical form is lower case.
	if a.EncodeAddress() != s && a.EncodeAddress() != strings.ToLower(s) {
		return nil, fmt.Errorf("%w: bitcoin address %q", ErrBadAddress, s)
	}
	script, err := txscript.PayToAddrScript(a)
	if err != nil {
		return nil, fmt.Errorf("%w: bitcoin address %q: %v", ErrBadAddress, s, err)
	}
	return script, nil
}

// CanonicalAddress returns the canonical string of a valid address (bech32
// in lower case).
func CanonicalAddress(net *chaincfg.Params, s string) (string, error) {
	if _, err := ValidateAddress(net, s); err != nil {
		return "", err
	}
	a, _ := btcutil.DecodeAddress(strings.TrimSpace(s), net)
	return a.EncodeAddress(), nil
}

func otherNet(s string, net *chaincfg.Params) bool {
	for _, p := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.RegressionNetParams, &chaincfg.SigNetParams} {
		if p.Name == net.Name {
			continue
		}
		if a, err := btcutil.DecodeAddress(s, p); err == nil && a.IsForNet(p) && !a.IsForNet(net) {
			return true
		}
	}
	return false
}

// ScriptAddress renders a standard scriptPubKey as an address of net, or ""
// when it has none.
func ScriptAddress(net *chaincfg.Params, script []byte) string {
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(script, net)
	if err != nil || len(addrs) != 1 {
		return ""
	}
	switch addrs[0].(type) {
	case *btcutil.AddressPubKey:
		return "" // bare pubkey outputs have no address form of their own
	}
	return addrs[0].EncodeAddress()
}
