package bitcoin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
)

// ErrConfidential: the address is a confidential one (Litecoin MWEB) whose
// payments a watch-only key cannot see.
var ErrConfidential = errors.New("is a confidential (MWEB) address")

// ValidateAddress checks that s is a standard address (p2pkh, p2sh, segwit
// v0, taproot) of the network whose parameters are net (a Bitcoin or
// Litecoin network of this package) and returns its scriptPubKey.
func ValidateAddress(net *chaincfg.Params, s string) ([]byte, error) {
	a, err := decodeAddress(net, s)
	if err != nil {
		return nil, err
	}
	script, err := txscript.PayToAddrScript(a)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadAddress, describe(net, s), err)
	}
	return script, nil
}

// CanonicalAddress returns the canonical string of a valid address: bech32
// in lower case, a legacy P2SH version byte in the network's current one.
func CanonicalAddress(net *chaincfg.Params, s string) (string, error) {
	a, err := decodeAddress(net, s)
	if err != nil {
		return "", err
	}
	return a.EncodeAddress(), nil
}

// describe names an address in messages: `bitcoin address "…"`.
func describe(net *chaincfg.Params, s string) string {
	name := "bitcoin"
	if f, _ := networkOf(net); f != nil {
		name = strings.ToLower(f.Name)
	}
	return fmt.Sprintf("%s address %q", name, s)
}

// decodeAddress decodes s for net: bech32 (segwit v0, taproot) with net's
// HRP, base58 with its P2PKH and P2SH version bytes (and a legacy P2SH
// byte the network still accepts). Another network's address, or a
// confidential one, is named as such.
func decodeAddress(net *chaincfg.Params, s string) (btcutil.Address, error) {
	s = strings.TrimSpace(s)
	_, network := networkOf(net)
	a, err := decodeFor(net, network, s)
	if err != nil {
		if network != nil && network.ConfidentialHRP != "" && strings.HasPrefix(strings.ToLower(s), network.ConfidentialHRP+"1") {
			return nil, fmt.Errorf("%s %w: its payments are hidden from watch-only keys; ask for a canonical address (ltc1…, L…, M…)", describe(net, s), ErrConfidential)
		}
		if other := identify(s, net); other != "" {
			return nil, fmt.Errorf("%s %w than %s (it is a %s address)", describe(net, s), ErrWrongNetwork, net.Name, other)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrBadAddress, describe(net, s), err)
	}
	switch a.(type) {
	case *btcutil.AddressPubKeyHash, *btcutil.AddressScriptHash, *btcutil.AddressWitnessPubKeyHash,
		*btcutil.AddressWitnessScriptHash, *btcutil.AddressTaproot:
	default:
		return nil, fmt.Errorf("%w: %s is not a p2pkh, p2sh, segwit or taproot address", ErrBadAddress, describe(net, s))
	}
	return a, nil
}

func decodeFor(net *chaincfg.Params, network *Network, s string) (btcutil.Address, error) {
	if i := strings.LastIndexByte(s, '1'); i > 0 && strings.EqualFold(s[:i], net.Bech32HRPSegwit) {
		return decodeSegwit(net, s)
	}
	raw, version, err := base58.CheckDecode(s)
	if err != nil {
		return nil, errors.New("not a bech32 or base58check address of this network")
	}
	if len(raw) != 20 {
		return nil, fmt.Errorf("base58 payload of %d bytes, want 20", len(raw))
	}
	switch {
	case version == net.PubKeyHashAddrID:
		return btcutil.NewAddressPubKeyHash(raw, net)
	case version == net.ScriptHashAddrID:
		return btcutil.NewAddressScriptHashFromHash(raw, net)
	case network != nil && containsByte(network.LegacyScriptHashAddrIDs, version):
		return btcutil.NewAddressScriptHashFromHash(raw, net)
	}
	return nil, fmt.Errorf("version byte %#02x is not this network's", version)
}

func containsByte(bs []byte, b byte) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}

// decodeSegwit decodes a segwit address (BIP173 bech32 for version 0,
// BIP350 bech32m for version 1) whose HRP is net's.
func decodeSegwit(net *chaincfg.Params, s string) (btcutil.Address, error) {
	_, data, enc, err := bech32.DecodeGeneric(s)
	if err != nil {
		return nil, err
	}
	if len(data) < 1 {
		return nil, errors.New("no witness version")
	}
	version := data[0]
	prog, err := bech32.ConvertBits(data[1:], 5, 8, false)
	if err != nil {
		return nil, err
	}
	switch {
	case version == 0 && enc == bech32.Version0 && len(prog) == 20:
		return btcutil.NewAddressWitnessPubKeyHash(prog, net)
	case version == 0 && enc == bech32.Version0 && len(prog) == 32:
		return btcutil.NewAddressWitnessScriptHash(prog, net)
	case version == 1 && enc == bech32.VersionM && len(prog) == 32:
		return btcutil.NewAddressTaproot(prog, net)
	}
	return nil, fmt.Errorf("witness version %d with a %d-byte program (%s) is not a p2wpkh, p2wsh or taproot address", version, len(prog), encName(enc))
}

func encName(v bech32.Version) string {
	if v == bech32.VersionM {
		return "bech32m"
	}
	return "bech32"
}

// identify names the other network s is an address of ("Bitcoin
// testnet"), or "" when it is none's.
func identify(s string, not *chaincfg.Params) string {
	for _, f := range Families {
		for _, n := range f.Networks {
			if n.Params == not {
				continue
			}
			if _, err := decodeFor(n.Params, n, s); err == nil {
				// Litecoin testnet and regtest (and Bitcoin's test networks)
				// share base58 versions: such an address is also this
				// network's and decodes here first.
				return f.Name + " " + n.Name
			}
		}
	}
	return ""
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
