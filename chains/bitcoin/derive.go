// Package bitcoin is ipnd's adapter for the Bitcoin family of chains
// (Bitcoin, Litecoin: one Family each, family.go, litecoin.go): receive
// addresses derived from an account-level extended public key or an output
// descriptor (derive.go, descriptor.go), address encodings (address.go),
// wire decoders (decode.go, decode_litecoin.go), an in-memory watch set
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

	"github.com/ipnd/ipnd/chains/bitcoin/descriptor"
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

// NetParams maps bitcoin.network to btcd's chain parameters (Bitcoin's
// networks; Family.Network for any family).
func NetParams(network string) (*chaincfg.Params, error) {
	n, err := BitcoinFamily.Network(network)
	if err != nil {
		return nil, err
	}
	return n.Params, nil
}

// Deriver derives the receive addresses of a configured key: m/0/i below an
// account-level extended public key, with hdkeychain (child keys) and
// txscript (the taproot output key), or index i of an output descriptor's
// ranged path (DescriptorDeriver). It is safe for concurrent use.
type Deriver struct {
	fam      *Family
	network  *Network
	net      *chaincfg.Params
	typ      AddressType
	external *hdkeychain.ExtendedKey // m/0, derived once (extended key)
	desc     *descriptor.Descriptor  // or the descriptor
}

// Derived is one receive address.
type Derived struct {
	Index   uint32
	Address string
	Script  []byte // scriptPubKey
}

// NewDeriver parses a Bitcoin key for network (see Family.NewDeriver).
func NewDeriver(network, key, addressType string) (*Deriver, error) {
	return BitcoinFamily.NewDeriver(network, key, addressType)
}

// NewDeriver parses key (never echoed in errors) for network; addressType ""
// takes the type from the key's prefix (xpub/tpub/Ltub/ttub p2pkh,
// ypub/upub/Mtub p2sh-p2wpkh, zpub/vpub p2wpkh); "p2tr" derives BIP86
// key-path taproot addresses.
func (f *Family) NewDeriver(network, key, addressType string) (*Deriver, error) {
	n, err := f.Network(network)
	if err != nil {
		return nil, err
	}
	net := n.Params
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
	kv, known := f.keys[version]
	if (known && kv.private) || payload[45] == 0x00 {
		return nil, f.errPrivateKey()
	}
	if !known {
		return nil, fmt.Errorf("%w: unknown version bytes %08x: use the account's %s (%s on test networks)", ErrBadKey, version, f.keyNames(false), f.keyNames(true))
	}
	if kv.typ == "" {
		return nil, fmt.Errorf("%w: %s… is a multisig key; use a single-signature account key, or %s.descriptor for a multisig wallet", ErrBadKey, kv.prefix, f.Section)
	}
	if err := f.checkKeyNetwork(kv, n, network); err != nil {
		return nil, err
	}
	typ := kv.typ
	if addressType != "" {
		typ = AddressType(addressType)
		switch typ {
		case P2PKH, P2SHP2WPKH, P2WPKH, P2TR:
		default:
			return nil, fmt.Errorf("unknown %s address type %q (want p2pkh, p2sh-p2wpkh, p2wpkh or p2tr)", strings.ToLower(f.Name), addressType)
		}
	}
	// hdkeychain knows only the xpub/tpub versions; the version bytes do
	// not enter derivation, so reserialise with the plain public version.
	std := make([]byte, len(payload))
	copy(std, payload)
	copy(std[:4], net.HDPublicKeyID[:])
	ek, err := hdkeychain.NewKeyFromString(base58.CheckEncode(std[1:], std[0]))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	ext, err := ek.Derive(0)
	if err != nil {
		return nil, fmt.Errorf("%w: deriving the external chain: %w", ErrBadKey, err)
	}
	return &Deriver{fam: f, network: n, net: net, typ: typ, external: ext}, nil
}

// errPrivateKey: the configured key is a private one.
func (f *Family) errPrivateKey() error {
	if f.Chain == BitcoinFamily.Chain {
		return ErrPrivateKey
	}
	return fmt.Errorf("%w (%s: %s; %s on test networks)", ErrPrivateKey, f.Name, f.keyNames(false), f.keyNames(true))
}

// checkKeyNetwork refuses a key of the other network class.
func (f *Family) checkKeyNetwork(kv keyVersion, n *Network, network string) error {
	if kv.testnet == n.Test {
		return nil
	}
	want := "the wallet's mainnet key (" + f.keyNames(false) + ")"
	if n.Test {
		want = "the wallet's test-network key (" + f.keyNames(true) + ")"
	}
	return fmt.Errorf("a %s… key %w than %s.network = %q: set %s.network to the key's network, or use %s",
		kv.prefix, ErrWrongNetwork, f.Section, network, f.Section, want)
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

// Type is the address type derived: p2pkh, p2sh-p2wpkh, p2wpkh, p2tr for
// an extended key, the descriptor's type ("wsh(sortedmulti)") for a
// descriptor.
func (d *Deriver) Type() AddressType { return d.typ }

// Family is the chain the addresses are of.
func (d *Deriver) Family() *Family { return d.fam }

// Network is the configured network.
func (d *Deriver) Network() *Network { return d.network }

// Params are the network's parameters.
func (d *Deriver) Params() *chaincfg.Params { return d.net }

// Derive returns the receive address at m/0/index (at index of the
// descriptor's ranged path).
func (d *Deriver) Derive(index uint32) (Derived, error) {
	if index >= hdkeychain.HardenedKeyStart {
		return Derived{}, fmt.Errorf("derivation index %d is out of range (max %d)", index, hdkeychain.HardenedKeyStart-1)
	}
	if d.desc != nil {
		return d.deriveDescriptor(index)
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
