package config

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/go-sql-driver/mysql"

	"github.com/ipnd/ipnd/chains/zmqsub"
	"github.com/ipnd/ipnd/internal/clientip"
)

// Validate checks values that are well-typed but wrong, naming each key.
// Chain-specific checks that need the chain code (is the xpub valid for the
// network?) are made by the chain packages at start and by check-config.
func (c Config) Validate() Problems {
	var p Problems
	s := c.Server
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		p.Add("server.listen", "must be host:port, not %q", s.Listen)
	}
	oneOf(&p, "server.log_format", s.LogFormat, "text", "json")
	oneOf(&p, "server.log_level", s.LogLevel, "debug", "info", "warn", "error")
	for i, k := range s.APIKeys {
		if len(k.Reveal()) < 16 {
			p.Add("server.api_keys", "key %d is shorter than 16 characters", i)
		}
	}
	if s.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(s.MetricsListen); err != nil {
			p.Add("server.metrics_listen", "must be host:port (or empty for none), not %q", s.MetricsListen)
		} else if s.MetricsListen == s.Listen {
			p.Add("server.metrics_listen", "is server.listen; the API listener serves /metrics already: leave it empty or pick another port")
		}
	}
	if _, err := clientip.New(s.TrustedProxies); err != nil {
		p.Add("server.trusted_proxies", "%v: list the reverse proxies in front of ipnd, e.g. [\"127.0.0.1\", \"10.0.0.0/8\"]", err)
	}
	if s.AllowUnauthenticated && !IsLoopbackListen(s.Listen) {
		p.Add("server.allow_unauthenticated", "only allowed when server.listen is a loopback address, not %q", s.Listen)
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		p.Add("server.tls_cert", "set together with server.tls_key (both for HTTPS, neither for plain HTTP)")
	}

	d := c.Database
	switch d.Driver {
	case "sqlite":
		if d.DSN == "" {
			p.Add("database.dsn", "must name the SQLite file")
		}
	case "mysql":
		// The parse error is not shown: it may quote the password.
		if c, err := mysql.ParseDSN(d.DSN.Reveal()); err != nil {
			p.Add("database.dsn", "not a MySQL DSN: write user:password@tcp(host:port)/dbname "+
				"or user:password@unix(/run/mysqld/mysqld.sock)/dbname")
		} else if c.DBName == "" {
			p.Add("database.dsn", "names no database: end it with /dbname, e.g. %s/ipnd", strings.TrimSuffix(Database{Driver: "mysql", DSN: d.DSN}.MaskedDSN(), "/"))
		}
	default:
		p.Add("database.driver", "must be sqlite or mysql, not %q", d.Driver)
	}

	n := c.IPN
	rangeInt(&p, "ipn.max_confirms", n.MaxConfirms, 0, 1000)
	rangeInt(&p, "ipn.workers", n.Workers, 1, 1024)
	rangeInt(&p, "ipn.per_host", n.PerHost, 1, 1024)
	positive(&p, "ipn.timeout", n.Timeout)
	positive(&p, "ipn.lease", n.Lease)
	positive(&p, "ipn.poll_interval", n.PollInterval)
	if n.Lease.D() > 0 && n.Timeout.D() > 0 && n.Lease.D() < 2*n.Timeout.D() {
		p.Add("ipn.lease", "must be at least twice ipn.timeout (%s)", n.Timeout)
	}
	if len(n.RetrySchedule) == 0 {
		p.Add("ipn.retry_schedule", "must list at least one wait, e.g. [\"5s\", \"1m\", \"1h\"]")
	}
	for i, w := range n.RetrySchedule {
		if w <= 0 {
			p.Add("ipn.retry_schedule", "element %d must be positive, not %s", i, w)
		}
	}
	if n.MaxAge < 0 {
		p.Add("ipn.max_age", "must not be negative")
	}
	if n.Retention != 0 && n.Retention.D() < time.Hour {
		p.Add("ipn.retention", "must be at least 1h (or 0s to keep everything), not %s", n.Retention)
	}
	if n.SecretGrace < 0 || n.SecretGrace.D() > 30*24*time.Hour {
		p.Add("ipn.secret_grace", "must be between 0s and 720h, not %s", n.SecretGrace)
	}

	inv := c.Invoices
	positive(&p, "invoices.min_expiry", inv.MinExpiry)
	if inv.MaxExpiry < inv.MinExpiry {
		p.Add("invoices.max_expiry", "must be at least invoices.min_expiry (%s), not %s", inv.MinExpiry, inv.MaxExpiry)
	}
	if inv.Expiry < inv.MinExpiry || inv.Expiry > inv.MaxExpiry || inv.Expiry.D()%time.Second != 0 {
		p.Add("invoices.expiry", "must be whole seconds between invoices.min_expiry (%s) and invoices.max_expiry (%s), not %s",
			inv.MinExpiry, inv.MaxExpiry, inv.Expiry)
	}
	if inv.PublicURL != "" {
		if u, err := url.Parse(inv.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			p.Add("invoices.public_url", "must be an http(s) base URL such as https://pay.shop.example (a path is kept, "+
				"no query or credentials), or empty")
		}
	}
	rangeInt(&p, "invoices.checkout_rate", inv.CheckoutRate, 0, 100000)

	bitcoinFamily(&p, "bitcoin", c.Bitcoin, "mainnet", "testnet", "signet", "regtest")
	bitcoinFamily(&p, "litecoin", c.Litecoin, "mainnet", "testnet", "regtest")

	if m := c.Monero; m.Enabled {
		httpURL(&p, "monero.wallet_rpc_url", m.WalletRPCURL, "set monero.wallet_rpc_user and monero.wallet_rpc_password instead")
		httpURL(&p, "monero.daemon_rpc_url", m.DaemonRPCURL, "set monero.daemon_rpc_user and monero.daemon_rpc_password instead")
		if (m.WalletRPCUser == "") != (m.WalletRPCPassword == "") {
			p.Add("monero.wallet_rpc_user", "set together with monero.wallet_rpc_password (both, as in wallet-rpc's --rpc-login user:password, or neither)")
		}
		if (m.DaemonRPCUser == "") != (m.DaemonRPCPassword == "") {
			p.Add("monero.daemon_rpc_user", "set together with monero.daemon_rpc_password (both, as in monerod's --rpc-login user:password, or neither)")
		}
		if m.DaemonZMQPub != "" {
			zmqEndpoint(&p, "monero.daemon_zmq_pub", m.DaemonZMQPub, "monerod's --zmq-pub tcp://127.0.0.1:18084")
		}
		positive(&p, "monero.poll_interval", m.PollInterval)
		if m.ReorgWindow < 1 || m.ReorgWindow > 10000 {
			p.Add("monero.reorg_window", "must be between 1 and 10000, not %d", m.ReorgWindow)
		}
	}
	return p
}

// maxFirstIndex is the highest BIP32 unhardened index (ledger.MaxDerivationIndex).
const maxFirstIndex = 1<<31 - 1

// bitcoinFamily checks the section of a Bitcoin-family chain.
func bitcoinFamily(p *Problems, section string, b Bitcoin, networks ...string) {
	if !b.Enabled {
		return
	}
	oneOf(p, section+".network", b.Network, networks...)
	if _, _, err := net.SplitHostPort(b.RPCHost); err != nil {
		p.Add(section+".rpc_host", "must be host:port, not %q", b.RPCHost)
	}
	if b.RPCCookie == "" && (b.RPCUser == "" || b.RPCPassword == "") {
		p.Add(section+".rpc_user", "set rpc_user and rpc_password, or rpc_cookie")
	}
	switch {
	case b.XPub == "" && b.Descriptor == "":
		keys := "xpub, ypub, zpub; tpub, upub, vpub on test networks"
		if section == "litecoin" {
			keys = "xpub, ypub, zpub, Ltub, Mtub; tpub, upub, vpub, ttub on test networks"
		}
		p.Add(section+".xpub", "required when %s.enabled is true: set the wallet's account-level extended public key (%s), "+
			"or %s.descriptor to its output descriptor", section, keys, section)
	case b.XPub != "" && b.Descriptor != "":
		p.Add(section+".descriptor", "set either %s.xpub or %s.descriptor, not both", section, section)
	}
	if b.AddressType != "" {
		oneOf(p, section+".address_type", b.AddressType, "p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2tr")
	}
	rangeInt(p, section+".gap_limit", b.GapLimit, 0, 10000)
	if b.FirstIndex < 0 || b.FirstIndex > maxFirstIndex {
		p.Add(section+".first_index", "must be between 0 and %d, not %d", maxFirstIndex, b.FirstIndex)
	}
	if b.StartHeight < 0 {
		p.Add(section+".start_height", "must not be negative")
	}
	positive(p, section+".poll_interval", b.PollInterval)
	positive(p, section+".rpc_timeout", b.RPCTimeout)
	oneOf(p, section+".push", b.Push, "auto", "websocket", "zmq", "off")
}

// IsLoopbackListen reports whether a listen address binds loopback only.
func IsLoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func oneOf(p *Problems, key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	p.Add(key, "must be one of %s, not %q", strings.Join(allowed, ", "), v)
}

func rangeInt(p *Problems, key string, v, lo, hi int) {
	if v < lo || v > hi {
		p.Add(key, "must be between %d and %d, not %d", lo, hi, v)
	}
}

func positive(p *Problems, key string, d Duration) {
	if d <= 0 {
		p.Add(key, "must be a positive duration, not %s", d)
	}
}

// httpURL checks an http(s) base URL; credHint says what to do with
// credentials written into it (never shown).
func httpURL(p *Problems, key, s, credHint string) {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		if err == nil {
			s = u.Redacted()
		} else if strings.Contains(s, "@") {
			s = masked
		}
		p.Add(key, "must be an http(s) URL such as http://127.0.0.1:18083, not %q", s)
	case u.User != nil:
		p.Add(key, "must not carry credentials (%s): %s", u.Redacted(), credHint)
	case u.RawQuery != "" || u.Fragment != "":
		p.Add(key, "must not have a query or fragment, not %q", u.Redacted())
	}
}

// zmqEndpoint checks a ZeroMQ publisher address a subscriber connects to:
// tcp://host:port (not a wildcard bind address) or ipc:///path.
func zmqEndpoint(p *Problems, key, s, example string) {
	scheme, rest, ok := strings.Cut(s, "://")
	switch {
	case ok && scheme == "ipc" && strings.HasPrefix(rest, "/"):
		return
	case ok && scheme == "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil || host == "" || port == "" {
			break
		}
		if zmqsub.IsWildcard(host) {
			p.Add(key, "%q is a bind address: name the host the publisher listens on, such as %s", s, example)
			return
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			break
		}
		return
	}
	p.Add(key, "must be a ZeroMQ endpoint tcp://host:port or ipc:///path, such as %s, not %q", example, s)
}

// MoneroBaseURL normalises a monerod or monero-wallet-rpc URL to the base
// URL ipnd appends its paths to: the form many Monero tools and guides use,
// ending in /json_rpc, is accepted and cut back to the base, as are
// trailing slashes ("http://127.0.0.1:18083/json_rpc/" becomes
// "http://127.0.0.1:18083").
func MoneroBaseURL(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if base, ok := strings.CutSuffix(s, "/json_rpc"); ok {
		s = strings.TrimRight(base, "/")
	}
	return s
}

// normalise rewrites values that have several accepted spellings into the
// one the rest of ipnd uses.
func (c *Config) normalise() {
	c.Monero.WalletRPCURL = MoneroBaseURL(c.Monero.WalletRPCURL)
	c.Monero.DaemonRPCURL = MoneroBaseURL(c.Monero.DaemonRPCURL)
}

// MaskedDSN shows the DSN with its password replaced, for display.
func (d Database) MaskedDSN() string {
	if d.Driver != "mysql" {
		return d.DSN.Reveal()
	}
	c, err := mysql.ParseDSN(d.DSN.Reveal())
	if err != nil {
		return masked
	}
	if c.Passwd != "" {
		c.Passwd = masked
	}
	return c.FormatDSN()
}

// Render prints the effective configuration as TOML with every secret
// masked (the DSN keeps everything but its password).
func (c Config) Render() string {
	var b bytes.Buffer
	root := reflect.ValueOf(c)
	for i := 0; i < root.NumField(); i++ {
		sec := root.Field(i)
		fmt.Fprintf(&b, "[%s]\n", root.Type().Field(i).Tag.Get("toml"))
		for j := 0; j < sec.NumField(); j++ {
			name := sec.Type().Field(j).Tag.Get("toml")
			var v any = sec.Field(j).Interface()
			if db, ok := sec.Interface().(Database); ok && name == "dsn" {
				v = db.MaskedDSN()
			}
			if f := sec.Field(j); f.Kind() == reflect.Slice && f.Len() == 0 {
				fmt.Fprintf(&b, "%s = []\n", name)
				continue
			}
			line, err := encodeValue(name, v)
			if err != nil {
				line = fmt.Sprintf("%s = %q # %v\n", name, "?", err)
			}
			b.WriteString(line)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func encodeValue(name string, v any) (string, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(map[string]any{name: v}); err != nil {
		return "", err
	}
	return b.String(), nil
}
