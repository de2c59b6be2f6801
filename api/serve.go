package api

// Serving: the listener, TLS, the graceful stop and the API key check.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// ListenAndServe listens on server.listen and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.o.Server.Listen)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", s.o.Server.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (with TLS when configured) until ctx ends, then stops
// accepting and gives requests in flight up to ShutdownGrace to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.console != nil {
		srv.RegisterOnShutdown(s.console.Close)
	}
	if s.tls != nil {
		srv.TLSConfig = s.tls.Clone()
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	if s.checkout != nil {
		srv.RegisterOnShutdown(s.checkout.Close) // end the checkout pages' live streams
	}
	s.log.Info("API listening", "addr", ln.Addr().String(), "tls", s.tls != nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("api: graceful stop: %w", err)
	}
	<-errc
	s.log.Info("API stopped")
	return err
}

// authorized checks the bearer key against every configured key in
// constant time (the keys are compared as SHA-256 digests, so their
// lengths do not leak either).
func (s *Server) authorized(r *http.Request) bool {
	if s.o.Server.AllowUnauthenticated {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(key)))
	match := 0
	for _, k := range s.keys {
		match |= subtle.ConstantTimeCompare(got[:], k[:])
	}
	return match == 1
}
