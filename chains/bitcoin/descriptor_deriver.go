package bitcoin

import (
	"encoding/binary"
	"fmt"

	"github.com/ipnd/ipnd/chains/bitcoin/descriptor"
)

// NewDescriptorDeriver parses an output descriptor (BIP380-386: pkh,
// sh(wpkh), wpkh, tr, wsh(multi|sortedmulti), sh(wsh(…)), sh(multi|…) over
// ranged extended public keys) for network. Its checksum is required and
// verified, private keys are refused, and every extended key must be one
// of the chain's public versions for that network class (xpub/tpub,
// SLIP-132 forms, Litecoin's Ltub/Mtub/ttub). A multipath descriptor
// (…/<0;1>/*) hands out its receive branch. The text is never echoed in
// errors (the library's messages give positions, not keys).
func (f *Family) NewDescriptorDeriver(network, text string) (*Deriver, error) {
	n, err := f.Network(network)
	if err != nil {
		return nil, err
	}
	desc, err := descriptor.Parse(text, descriptor.RequireChecksum())
	if err != nil {
		return nil, err
	}
	for i, k := range desc.Keys() {
		if !k.Extended {
			continue
		}
		v := binary.BigEndian.Uint32(k.Version[:])
		kv, known := f.keys[v]
		switch {
		case !known:
			return nil, fmt.Errorf("%w: key %d of the descriptor has version bytes %08x, not a %s extended public key (%s; %s on test networks)",
				ErrBadKey, i+1, v, f.Name, f.keyNames(false), f.keyNames(true))
		case kv.private:
			return nil, f.errPrivateKey()
		}
		if err := f.checkKeyNetwork(kv, n, network); err != nil {
			return nil, fmt.Errorf("key %d of the descriptor: %w", i+1, err)
		}
	}
	d := &Deriver{fam: f, network: n, net: n.Params, typ: AddressType(desc.Type()), desc: desc}
	if _, err := d.Derive(0); err != nil {
		return nil, err
	}
	return d, nil
}

// Descriptor is the parsed descriptor (nil for an extended key).
func (d *Deriver) Descriptor() *descriptor.Descriptor { return d.desc }

// deriveDescriptor is index of the descriptor's ranged path.
func (d *Deriver) deriveDescriptor(index uint32) (Derived, error) {
	script, err := d.desc.Script(index)
	if err != nil {
		return Derived{}, fmt.Errorf("derive index %d: %w", index, err)
	}
	if len(script) > MaxWatchScript {
		return Derived{}, fmt.Errorf("derive index %d: a %d-byte script cannot be watched", index, len(script))
	}
	addr := ScriptAddress(d.net, script)
	if addr == "" {
		return Derived{}, fmt.Errorf("derive index %d: the descriptor's script %x has no address form", index, script)
	}
	return Derived{Index: index, Address: addr, Script: script}, nil
}
