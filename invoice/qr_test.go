package invoice

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Payment URIs shaped as the chain specs build them: addresses of each
// chain's form and length (the QR code does not check them), labels
// percent-encoded.
var testURIs = map[string]string{
	"bitcoin":  "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=0.01000000&label=Order%201001",
	"litecoin": "litecoin:ltc1qg82nt5xd6vrkgpyuhyp0ynfw2ge5ww2ls7vgq4?amount=1.25000000&label=Order%20%23A-7",
	"monero": "monero:4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge" +
		"?tx_amount=0.250000000000&tx_description=Order%201002%3A%202%20%C3%97%20tea",
	// The longest URI a valid invoice can have: an address of Monero's
	// longest form (integrated, 106 characters), the largest amount and the longest description with every
	// byte percent-encoded.
	"longest": "monero:4LL9oSLmtpccfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2bYXZKKQePHES9khPK" +
		"?tx_amount=9223372.036854775807&tx_description=" + strings.Repeat("%F0%9F%8D%B5", MaxDescriptionBytes/4),
}

// decodeQR reads a QR code from an image with gozxing, a decoder
// independent of the encoder.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_CHARACTER_SET: "UTF-8"})
	if err != nil {
		t.Fatalf("gozxing could not decode the code: %v", err)
	}
	return res.GetText()
}

func TestLongestURIFits(t *testing.T) {
	if n := len(testURIs["longest"]); n > MaxURIBytes {
		t.Fatalf("the longest payment URI of a valid invoice is %d bytes, more than MaxURIBytes %d", n, MaxURIBytes)
	}
}

func TestQRPNGDecodes(t *testing.T) {
	for name, uri := range testURIs {
		t.Run(name, func(t *testing.T) {
			b, err := QRPNG(uri)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeQR(t, img); got != uri {
				t.Fatalf("decoded %q, want %q", got, uri)
			}
			r := img.Bounds()
			if r.Dx() != r.Dy() || r.Dx()%QRModulePixels != 0 {
				t.Fatalf("%dx%d pixels, want a square of whole modules", r.Dx(), r.Dy())
			}
			t.Logf("%d-character URI: PNG %d bytes, %d pixels square", len(uri), len(b), r.Dx())
		})
	}
}

func TestQRSVG(t *testing.T) {
	for name, uri := range testURIs {
		t.Run(name, func(t *testing.T) {
			b, err := QRSVG(uri)
			if err != nil {
				t.Fatal(err)
			}
			side, path := checkSVG(t, b)
			img := rasterize(t, side, path)
			if got := decodeQR(t, img); got != uri {
				t.Fatalf("decoded %q, want %q", got, uri)
			}
			t.Logf("%d-character URI: SVG %d bytes, %d modules square with the quiet zone", len(uri), len(b), side)
		})
	}
}

// checkSVG asserts that b is well-formed XML: one svg root in the SVG
// namespace with a square viewBox "0 0 N N", no script, event handler,
// link or foreign content. It returns N and the path data.
func checkSVG(t *testing.T, b []byte) (side int, pathData string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				if el.Name.Local != "svg" || el.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root element %v, want svg in the SVG namespace", el.Name)
				}
				for _, a := range el.Attr {
					if a.Name.Local == "viewBox" {
						var x, y, w, h int
						if _, err := fmt.Sscanf(a.Value, "%d %d %d %d", &x, &y, &w, &h); err != nil || x != 0 || y != 0 || w != h || w <= 0 {
							t.Fatalf("viewBox %q", a.Value)
						}
						side = w
					}
				}
			}
			switch strings.ToLower(el.Name.Local) {
			case "svg", "rect", "path":
			default:
				t.Fatalf("unexpected element <%s>", el.Name.Local)
			}
			for _, a := range el.Attr {
				n := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(n, "on") || n == "href" || n == "style" || strings.Contains(strings.ToLower(a.Value), "script") {
					t.Fatalf("attribute %s=%q on <%s>", a.Name.Local, a.Value, el.Name.Local)
				}
				if el.Name.Local == "path" && n == "d" {
					pathData = a.Value
				}
			}
		case xml.EndElement:
			depth--
		case xml.ProcInst, xml.Directive:
			t.Fatalf("unexpected %T in the SVG", tok)
		}
	}
	if side == 0 || pathData == "" {
		t.Fatalf("no viewBox (%d) or no path", side)
	}
	return side, pathData
}

// rasterize draws an even-odd filled path of M/H/V/L commands (what the
// renderer emits) with one pixel per unit scaled up, deciding each module
// by its centre with the crossing number rule: independent of the
// renderer's own raster code.
func rasterize(t *testing.T, side int, d string) image.Image {
	t.Helper()
	type pt struct{ x, y float64 }
	var edges [][2]pt
	var cur, start pt
	for i := 0; i < len(d); {
		cmd := d[i]
		i++
		j := i
		for j < len(d) && strings.IndexByte("MHVLZz", d[j]) < 0 {
			j++
		}
		args := strings.FieldsFunc(d[i:j], func(r rune) bool { return r == ',' || r == ' ' })
		i = j
		nums := make([]float64, len(args))
		for k, a := range args {
			v, err := strconv.ParseFloat(a, 64)
			if err != nil {
				t.Fatalf("path number %q: %v", a, err)
			}
			nums[k] = v
		}
		next := cur
		switch {
		case cmd == 'M' && len(nums) == 2:
			if cur != start {
				edges = append(edges, [2]pt{cur, start}) // implicit close
			}
			cur, start = pt{nums[0], nums[1]}, pt{nums[0], nums[1]}
			continue
		case cmd == 'H' && len(nums) == 1:
			next.x = nums[0]
		case cmd == 'V' && len(nums) == 1:
			next.y = nums[0]
		case cmd == 'L' && len(nums) == 2:
			next = pt{nums[0], nums[1]}
		case (cmd == 'Z' || cmd == 'z') && len(nums) == 0:
			next = start
		default:
			t.Fatalf("unexpected path command %c %v", cmd, nums)
		}
		edges = append(edges, [2]pt{cur, next})
		cur = next
	}
	if cur != start {
		edges = append(edges, [2]pt{cur, start})
	}
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, side*scale, side*scale))
	for my := 0; my < side; my++ {
		for mx := 0; mx < side; mx++ {
			px, py := float64(mx)+0.5, float64(my)+0.5
			inside := false
			for _, e := range edges {
				a, b := e[0], e[1]
				if (a.y > py) != (b.y > py) && px < a.x+(py-a.y)*(b.x-a.x)/(b.y-a.y) {
					inside = !inside
				}
			}
			c := color.Gray{Y: 255}
			if inside {
				c.Y = 0
			}
			for y := 0; y < scale; y++ {
				for x := 0; x < scale; x++ {
					img.SetGray(mx*scale+x, my*scale+y, c)
				}
			}
		}
	}
	return img
}

func TestQRRefuses(t *testing.T) {
	for name, uri := range map[string]string{
		"empty":    "",
		"too long": "bitcoin:x?label=" + strings.Repeat("a", MaxURIBytes),
		"control":  "bitcoin:x?label=a\nb",
	} {
		if _, err := QRPNG(uri); !errors.Is(err, ErrQR) {
			t.Errorf("PNG %s: %v, want ErrQR", name, err)
		}
		if _, err := QRSVG(uri); !errors.Is(err, ErrQR) {
			t.Errorf("SVG %s: %v, want ErrQR", name, err)
		}
	}
	// The longest accepted URI renders.
	if _, err := QRPNG("bitcoin:x?label=" + strings.Repeat("a", MaxURIBytes-16)); err != nil {
		t.Fatalf("a URI of MaxURIBytes: %v", err)
	}
}
