package bitcoin

import "maps"

// keyVersion describes one registered extended-key version (BIP32, BIP49,
// BIP84/SLIP-132 and the forms Litecoin wallets export).
type keyVersion struct {
	prefix  string
	private bool
	testnet bool        // tpub family (test networks) vs mainnet
	typ     AddressType // default type this prefix stands for; "" = multisig, unsupported as xpub
}

// bitcoinKeys are the versions Bitcoin wallets export.
var bitcoinKeys = map[uint32]keyVersion{
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

// litecoinKeys are Bitcoin's versions (Litecoin Core exports xpub/tpub;
// other wallets ypub/zpub, upub/vpub) and Electrum-LTC's Ltub (p2pkh),
// Mtub (p2sh-p2wpkh) and ttub (test networks, p2pkh).
var litecoinKeys = func() map[uint32]keyVersion {
	m := maps.Clone(bitcoinKeys)
	m[0x019da462] = keyVersion{"Ltub", false, false, P2PKH}
	m[0x019d9cfe] = keyVersion{"Ltpv", true, false, P2PKH}
	m[0x01b26ef6] = keyVersion{"Mtub", false, false, P2SHP2WPKH}
	m[0x01b26792] = keyVersion{"Mtpv", true, false, P2SHP2WPKH}
	m[0x0436f6e1] = keyVersion{"ttub", false, true, P2PKH}
	m[0x0436ef7d] = keyVersion{"ttpv", true, true, P2PKH}
	return m
}()

// keyNames lists a family's single-signature public key prefixes of one
// network class for messages: "xpub, ypub, zpub, Ltub or Mtub".
func (f *Family) keyNames(testnet bool) string {
	var names []string
	for _, v := range f.sortedKeys() {
		if !v.private && v.typ != "" && v.testnet == testnet {
			names = append(names, v.prefix)
		}
	}
	if len(names) < 2 {
		return names[0]
	}
	out := names[0]
	for i, n := range names[1:] {
		if i == len(names)-2 {
			out += " or " + n
		} else {
			out += ", " + n
		}
	}
	return out
}

// sortedKeys returns the key versions in a fixed order: Bitcoin's first
// (x, y, z), then the chain's own.
func (f *Family) sortedKeys() []keyVersion {
	order := []uint32{0x0488b21e, 0x049d7cb2, 0x04b24746, 0x043587cf, 0x044a5262, 0x045f1cf6,
		0x019da462, 0x01b26ef6, 0x0436f6e1}
	var out []keyVersion
	for _, v := range order {
		if k, ok := f.keys[v]; ok {
			out = append(out, k)
		}
	}
	return out
}
