package invoice

import (
	"errors"
	"fmt"
	"strings"

	qr "github.com/piglig/go-qr"
)

// QR code rendering: error correction level M (15% of the symbol may be
// damaged, the usual choice for payment URIs on screens and paper) and the
// quiet zone of 4 modules the standard asks for.
const (
	qrECC    = qr.Medium
	qrBorder = 4
	// QRModulePixels is the size of one module in the PNG: an 87-character
	// BIP21 URI (version 6, 41 modules) makes a 392-pixel square.
	QRModulePixels = 8
	// MaxURIBytes is the longest payment URI rendered; longer input is
	// refused rather than rendered as a dense, hard to scan symbol.
	MaxURIBytes = 1024
)

// ErrQR is wrapped by QR rendering failures.
var ErrQR = errors.New("cannot render QR code")

func encodeQR(uri string) (*qr.QrCode, error) {
	switch {
	case uri == "":
		return nil, fmt.Errorf("%w: empty payment URI", ErrQR)
	case len(uri) > MaxURIBytes:
		return nil, fmt.Errorf("%w: payment URI of %d bytes is longer than %d", ErrQR, len(uri), MaxURIBytes)
	case strings.ContainsFunc(uri, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return nil, fmt.Errorf("%w: payment URI contains control characters", ErrQR)
	}
	code, err := qr.EncodeText(uri, qrECC)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrQR, err)
	}
	return code, nil
}

// QRPNG renders a payment URI (as the chain's spec builds it) as a black
// on white PNG, QRModulePixels per module.
func QRPNG(uri string) ([]byte, error) {
	code, err := encodeQR(uri)
	if err != nil {
		return nil, err
	}
	b, err := code.ToPNGBytes(qr.NewQrCodeImgConfig(QRModulePixels, qrBorder))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrQR, err)
	}
	return b, nil
}

// QRSVG renders a payment URI as SVG: one path (even-odd fill), one unit
// per module and a viewBox, without width or height, so the page sizes it
// with CSS. It holds no text, script or external reference.
func QRSVG(uri string) ([]byte, error) {
	code, err := encodeQR(uri)
	if err != nil {
		return nil, err
	}
	// Scale 1: the library adds the border in output units, so only at
	// scale 1 is the quiet zone 4 modules wide.
	b, err := code.ToSVGBytes(qr.NewQrCodeImgConfig(1, qrBorder, qr.WithOptimalSVG()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrQR, err)
	}
	return b, nil
}
