// Package checkout is ipnd's hosted checkout page: GET /pay/{id} shows a
// customer what to pay for one invoice (package invoice) and follows its
// status live. The invoice id in the path is the capability: the pages
// need no API key, and the id is never sent elsewhere (Referrer-Policy
// no-referrer).
//
// The page shows the amount, the address with a copy button, the payment
// URI as a QR code (/pay/{id}/qr.svg; /pay/{id}/qr.png for shops) and a
// link, and the time left. Its status word (#status) is one of waiting
// (new: nothing or a part received, with the amount still due), seen
// (processing), confirmed (paid or overpaid), expired, underpaid (with
// the amount that was due), late, reversed or cancelled.
//
// Live updates: GET /pay/{id}/events is a text/event-stream whose "state"
// events carry the page's view of the invoice (JSON) at once and whenever
// it changes; the stream reads the invoice every Options.Refresh, sends a
// comment every Options.Heartbeat, and ends after Options.StreamLife (the
// browser reconnects), when the client goes away or on Close. A script of
// the page's own origin applies the events and counts the time down.
// Without JavaScript the page reloads itself every 10 seconds (a
// <noscript> meta refresh) until the status is final.
//
// Every answer carries a strict Content-Security-Policy (default-src
// 'none'; the page's own stylesheet, script, images and event stream
// only; no inline code, no framing, no form posts): nothing is loaded from
// another origin. The layout is one column, readable on a phone.
//
// Every request counts against its client's budget, Options.Rate requests
// per minute with a burst of as many (429 with Retry-After beyond), and a
// client may hold Options.MaxStreamsPerClient live streams at once. The
// client is the connection's IP address (its /64 for IPv6), kept in memory
// only: no address is stored with payment data.
package checkout
