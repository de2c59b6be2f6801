package receivertest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/ipnd/ipnd/ipn"
)

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// answer is what the receiver did with one request.
type answer struct {
	status   int    // 0 when no HTTP answer came
	body     []byte // at most maxBody bytes
	tooLarge bool   // the body was longer than maxBody
	err      string // transport failure, empty when an answer came
	duration time.Duration
}

// post sends one request and reads at most maxBody bytes of the answer
// within timeout (headers and body).
func post(ctx context.Context, hc *http.Client, rawURL string, h http.Header, body []byte, timeout time.Duration, maxBody int64) answer {
	start := time.Now()
	a := postTimed(ctx, hc, rawURL, h, body, timeout, maxBody)
	a.duration = time.Since(start)
	return a
}

func postTimed(ctx context.Context, hc *http.Client, rawURL string, h http.Header, body []byte, timeout time.Duration, maxBody int64) answer {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return answer{err: "bad request: " + describe(ctx, err)}
	}
	req.Header = h
	resp, err := hc.Do(req)
	if err != nil {
		return answer{err: describe(ctx, err)}
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if int64(len(b)) > maxBody {
		a.body, a.tooLarge = b[:maxBody], true
		return a
	}
	a.body = b
	if err != nil {
		a.err = "reading the answer: " + describe(ctx, err)
	}
	return a
}

// describe turns a transport error into a short reason without the URL,
// which may carry a receiver's token.
func describe(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, ipn.ErrForbiddenTarget):
		return "forbidden target: loopback, private or reserved address"
	case errors.Is(ctx.Err(), context.DeadlineExceeded), isTimeout(err):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without a complete answer"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// isTimeout: the transport's own deadlines (connect, TLS handshake, answer
// headers) are the step's timeout too.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
