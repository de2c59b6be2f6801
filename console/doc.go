// Package console is ipnd's operator console: server-rendered pages under
// /console to watch the chains and the deliveries and to steer them
// (redeliver a subscription or everything failing for an endpoint, rotate
// an endpoint's signing secret, end a subscription).
//
// Everything it needs from the rest of ipnd comes through interfaces
// defined here: Store (the ledger's read queries and actions, keyset
// pagination), InvoiceStore (optional), Authenticator (the API keys; Keys
// builds one) and Notifier (optional early wake-ups for live views;
// Broadcaster is one). Mounting it is a few lines:
//
//	c, err := console.New(console.Options{Store: store, Auth: console.Keys(keys...), Logger: log, Secure: tls})
//	mux.Handle("/console", c)
//	mux.Handle("/console/", c)
//	srv.RegisterOnShutdown(c.Close)
//
// Pages: html/template with embedded assets (one stylesheet, one script,
// one icon), no build step, nothing from another origin. Every answer
// carries a strict Content-Security-Policy (default-src 'none'; only the
// console's own styles, script, images and event streams; no inline code;
// forms post only to the console; no framing) and no-store caching for
// pages. Tables turn into labelled cards on a phone; there is a skip link,
// visible focus and a label for every field.
//
// The script only makes live regions live: it follows a server-sent event
// stream per region and replaces the region's HTML with what the server
// rendered (the same templates as the page). Without JavaScript every page
// and action works through links and forms, and live pages refresh
// themselves (<noscript> meta refresh).
//
// Sign-in: an API key, checked by the Authenticator in constant time,
// starts a session held in this process's memory (a random 256-bit id in
// an HttpOnly, SameSite=Strict cookie, Secure and __Secure- prefixed under
// TLS, scoped to the prefix). A session ends on sign-out, after
// Options.IdleTimeout without a page load, after Options.SessionTTL in any
// case, and when the process stops; signing in always starts a new one.
// Sessions are not shared between processes: behind a load balancer, pin
// the console to one. A wrong key gets the same answer whatever was wrong;
// sign-in attempts are limited per client (a burst of 5, then one per
// 10 s).
//
// Forms: every state-changing form carries the session's CSRF token
// (compared in constant time) and is also refused when the browser says it
// came from another origin (Sec-Fetch-Site, Origin; net/http's
// CrossOriginProtection). The sign-in form, which has no session yet,
// carries a token that must match a cookie set with the form. Actions
// answer with a redirect and a one-time message (a rotated secret is shown
// in it once and is then gone from the server's memory).
//
// Live updates: GET /console/events/overview and
// /console/events/subscriptions/{id} are text/event-stream. A stream looks
// at the store every Options.Refresh (and at each Notifier wake-up), sends
// the region's HTML only when it changed, sends a comment every 15 s,
// extends the server's write deadline write by write, and ends when the
// client goes away, the session ends (with an "end" event) or Close is
// called. A session may hold Options.MaxStreamsPerSession streams at once,
// the console Options.MaxStreams.
package console
