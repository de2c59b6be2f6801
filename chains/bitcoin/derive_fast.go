package bitcoin

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"math/big"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// errTweakOutOfRange: BIP341's taproot_tweak_pubkey fails when the tweak
// hash is not below the group order (probability about 2^-128).
var errTweakOutOfRange = errors.New("taproot tweak is not below the group order")

// fieldPrime is secp256k1's field prime p = 2^256 - 2^32 - 977.
var fieldPrime, _ = new(big.Int).SetString("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f", 16)

// fieldInverse returns 1/z mod p, false for z = 0. The inversion goes
// through math/big's extended GCD, several times faster than btcec's
// exponentiation (FieldVal.Inverse); the value is the same.
func fieldInverse(z *btcec.FieldVal) (btcec.FieldVal, bool) {
	var inv btcec.FieldVal
	var n btcec.FieldVal
	n.Set(z).Normalize()
	if n.IsZero() {
		return inv, false
	}
	var buf [32]byte
	n.PutBytes(&buf)
	b := new(big.Int).SetBytes(buf[:])
	if b.ModInverse(b, fieldPrime) == nil {
		return inv, false
	}
	inv.SetByteSlice(b.FillBytes(buf[:]))
	return inv, true
}

// toAffine rescales p to Z = 1 with normalized X and Y (the same point as
// JacobianPoint.ToAffine gives) and reports false for the point at
// infinity.
func toAffine(p *btcec.JacobianPoint) bool {
	if p.X.IsZero() && p.Y.IsZero() {
		return false
	}
	zInv, ok := fieldInverse(&p.Z)
	if !ok {
		return false
	}
	var zInv2, zInv3 btcec.FieldVal
	zInv2.SquareVal(&zInv)
	zInv3.Mul2(&zInv2, &zInv)
	p.X.Mul(&zInv2).Normalize()
	p.Y.Mul(&zInv3).Normalize()
	p.Z.SetInt(1)
	return true
}

// Fixed-base multiplication k*G with signed windows of gWindow bits: k is
// written as sum d_j * 2^(gWindow*j) with digits d_j in
// [-2^(gWindow-1), 2^(gWindow-1)], and the table holds |d|*2^(gWindow*j)*G
// in affine form, so k*G is at most gWindows mixed additions (btcec's
// ScalarBaseMultNonConst does 32 with 8-bit windows). The table (about
// 3.6 MB) is built on first use.
const (
	gWindow  = 12
	gWindows = (256 + gWindow) / gWindow // covers 257 bits: the top carry
	gHalf    = 1 << (gWindow - 1)
)

var (
	gTableOnce sync.Once
	gTable     [][gHalf][2]btcec.FieldVal // [window][|digit|-1]{x, y}
)

func buildGTable() {
	tbl := make([][gHalf][2]btcec.FieldVal, gWindows)
	jac := make([]btcec.JacobianPoint, gHalf)
	prefix := make([]btcec.FieldVal, gHalf)
	for j := range tbl {
		// base = 2^(gWindow*j) * G; gWindow*j < 256, so the scalar is < n.
		var sb [32]byte
		bit := gWindow * j
		sb[31-bit/8] = 1 << (bit % 8)
		var s btcec.ModNScalar
		s.SetBytes(&sb)
		var base btcec.JacobianPoint
		btcec.ScalarBaseMultNonConst(&s, &base)
		base.ToAffine()
		jac[0] = base
		for k := 1; k < gHalf; k++ {
			btcec.AddNonConst(&jac[k-1], &base, &jac[k])
		}
		// Montgomery's trick: one inversion for the whole window.
		prefix[0].Set(&jac[0].Z)
		for k := 1; k < gHalf; k++ {
			prefix[k].Mul2(&prefix[k-1], &jac[k].Z)
		}
		inv, ok := fieldInverse(&prefix[gHalf-1])
		if !ok {
			panic("secp256k1 table: a multiple of G below the group order is infinity")
		}
		for k := gHalf - 1; k >= 0; k-- {
			var zInv btcec.FieldVal
			if k > 0 {
				zInv.Mul2(&inv, &prefix[k-1])
				inv.Mul(&jac[k].Z)
			} else {
				zInv.Set(&inv)
			}
			var zInv2, zInv3 btcec.FieldVal
			zInv2.SquareVal(&zInv)
			zInv3.Mul2(&zInv2, &zInv)
			tbl[j][k][0].Mul2(&jac[k].X, &zInv2).Normalize()
			tbl[j][k][1].Mul2(&jac[k].Y, &zInv3).Normalize()
		}
	}
	gTable = tbl
}

// scalarBaseMult sets r = k*G (Jacobian, normalized; the point at infinity
// for k = 0), the same point as btcec.ScalarBaseMultNonConst.
func scalarBaseMult(k *btcec.ModNScalar, r *btcec.JacobianPoint) {
	gTableOnce.Do(buildGTable)
	b := k.Bytes()
	var limbs [5]uint64 // little-endian; limbs[4] = 0 for the last window
	for i := 0; i < 4; i++ {
		limbs[i] = binary.BigEndian.Uint64(b[24-8*i : 32-8*i])
	}
	r.X.SetInt(0)
	r.Y.SetInt(0)
	r.Z.SetInt(0)
	var pt btcec.JacobianPoint
	pt.Z.SetInt(1)
	carry := 0
	for j := 0; j < gWindows; j++ {
		bit := gWindow * j
		v := limbs[bit/64] >> (bit % 64)
		if bit%64+gWindow > 64 {
			v |= limbs[bit/64+1] << (64 - bit%64)
		}
		d := int(v&(1<<gWindow-1)) + carry
		carry = 0
		if d > gHalf {
			d -= 1 << gWindow
			carry = 1
		}
		switch {
		case d == 0:
			continue
		case d > 0:
			e := &gTable[j][d-1]
			pt.X.Set(&e[0])
			pt.Y.Set(&e[1])
		default:
			e := &gTable[j][-d-1]
			pt.X.Set(&e[0])
			pt.Y.NegateVal(&e[1], 1).Normalize()
		}
		btcec.AddNonConst(r, &pt, r)
	}
}

// childPoint is BIP32's CKDpub below the external chain key: with
// I = HMAC-SHA512(chain code, serP(K) || ser32(i)), the child key is
// parse256(I_L)*G + K, returned in affine coordinates. Like hdkeychain it
// returns hdkeychain.ErrInvalidChild when I_L >= n or the child is the
// point at infinity (BIP32: skip to the next index). The parent point stays
// decoded in the Deriver (hdkeychain decompresses the parent and the child
// on every call).
func (d *Deriver) childPoint(index uint32) (btcec.JacobianPoint, error) {
	var p btcec.JacobianPoint
	var data [37]byte
	copy(data[:33], d.extPubBytes)
	binary.BigEndian.PutUint32(data[33:], index)
	mac := hmac.New(sha512.New, d.extChainCode)
	mac.Write(data[:])
	var sum [sha512.Size]byte
	mac.Sum(sum[:0])
	var il btcec.ModNScalar
	// hdkeychain also refuses I_L = 0 (then the child equals the parent,
	// which BIP32 does not forbid); keep its behaviour.
	if overflow := il.SetByteSlice(sum[:32]); overflow || il.IsZero() {
		return p, hdkeychain.ErrInvalidChild
	}
	scalarBaseMult(&il, &p)
	btcec.AddNonConst(&p, &d.extPoint, &p)
	if !toAffine(&p) {
		return p, hdkeychain.ErrInvalidChild
	}
	return p, nil
}

// compressed is serP (SEC1 compressed form) of an affine point.
func compressed(p *btcec.JacobianPoint) [33]byte {
	var out [33]byte
	out[0] = 0x02
	if p.Y.IsOdd() {
		out[0] = 0x03
	}
	p.X.PutBytesUnchecked(out[1:])
	return out
}

// taprootOutputKey is BIP86/BIP341's key-path output key without a script
// tree: P is the internal key with its Y made even, t = hash_TapTweak(x(P))
// and Q = P + t*G; it returns x(Q). p must be affine and normalized.
func taprootOutputKey(p btcec.JacobianPoint) ([32]byte, error) {
	var xq [32]byte
	if p.Y.IsOdd() {
		p.Y.Negate(1).Normalize()
	}
	var xp [32]byte
	p.X.PutBytes(&xp)
	h := chainhash.TaggedHash(chainhash.TagTapTweak, xp[:])
	var t btcec.ModNScalar
	if overflow := t.SetBytes((*[32]byte)(h)); overflow != 0 {
		return xq, errTweakOutOfRange
	}
	var q btcec.JacobianPoint
	scalarBaseMult(&t, &q)
	btcec.AddNonConst(&q, &p, &q)
	if !toAffine(&q) {
		return xq, errTweakOutOfRange
	}
	q.X.PutBytes(&xq)
	return xq, nil
}
