// Package config loads ipnd's TOML settings, applies IPND_<SECTION>_<KEY>
// environment overrides, validates every key and reports all problems at
// once, each naming its key ("database.dsn: ...").
//
// Secrets are held in the Secret type, whose every printed form is masked,
// so that a configuration value can never leak into a log line by accident.
package config

import (
	"time"
)

// Config is the whole effective configuration.
type Config struct {
	Server   Server   `toml:"server"`
	Database Database `toml:"database"`
	IPN      IPN      `toml:"ipn"`
	Invoices Invoices `toml:"invoices"`
	Bitcoin  Bitcoin  `toml:"bitcoin"`
	Litecoin Bitcoin  `toml:"litecoin"`
	Monero   Monero   `toml:"monero"`
}

// Server is the [server] section: the HTTP API and logging.
type Server struct {
	Listen               string   `toml:"listen" doc:"address the HTTP API listens on"`
	APIKeys              []Secret `toml:"api_keys" doc:"bearer keys accepted by the API"`
	AllowUnauthenticated bool     `toml:"allow_unauthenticated" doc:"serve without api_keys; only on a loopback listen address"`
	TLSCert              string   `toml:"tls_cert" doc:"PEM certificate file; TLS is on when tls_cert and tls_key are set"`
	TLSKey               string   `toml:"tls_key" doc:"PEM private key file"`
	LogFormat            string   `toml:"log_format" doc:"text or json"`
	LogLevel             string   `toml:"log_level" doc:"debug, info, warn or error"`
	MetricsListen        string   `toml:"metrics_listen" doc:"address of a listener serving /metrics, /healthz and /readyz without a key; empty = none"`
	TrustedProxies       []string `toml:"trusted_proxies" doc:"reverse proxies (CIDR prefixes or addresses) whose X-Forwarded-For names the client for rate limits; empty = none"`
}

// Database is the [database] section: the ledger store.
type Database struct {
	Driver string `toml:"driver" doc:"sqlite or mysql"`
	DSN    Secret `toml:"dsn" doc:"sqlite: a file path; mysql: user:pass@tcp(host:port)/db"`
}

// IPN is the [ipn] section: notification delivery.
type IPN struct {
	MaxConfirms         int        `toml:"max_confirms" doc:"default confirmations for /balance and subscriptions"`
	Workers             int        `toml:"workers" doc:"concurrent deliveries of this process"`
	PerHost             int        `toml:"per_host" doc:"concurrent deliveries to one receiver host"`
	Timeout             Duration   `toml:"timeout" doc:"one delivery attempt, connect to last byte"`
	RetrySchedule       []Duration `toml:"retry_schedule" doc:"waits after failed attempts; the last repeats for ever"`
	MaxAge              Duration   `toml:"max_age" doc:"give up and mark failed after this age; 0 = never"`
	Lease               Duration   `toml:"lease" doc:"how long a claimed notification is held by one process"`
	PollInterval        Duration   `toml:"poll_interval" doc:"how often the ipn role looks for due notifications"`
	AllowPrivateTargets bool       `toml:"allow_private_targets" doc:"allow receivers on loopback/private addresses (tests, demo)"`
	Retention           Duration   `toml:"retention" doc:"delete delivered and superseded notifications and attempts older than this; 0 = keep"`
	SecretGrace         Duration   `toml:"secret_grace" doc:"how long a rotated endpoint secret keeps signing beside the new one"`
}

// Invoices is the [invoices] section: POST /invoices and the hosted
// checkout page.
type Invoices struct {
	Expiry       Duration `toml:"expiry" doc:"expires_in of an invoice that names none"`
	MinExpiry    Duration `toml:"min_expiry" doc:"shortest expires_in accepted"`
	MaxExpiry    Duration `toml:"max_expiry" doc:"longest expires_in accepted"`
	PublicURL    string   `toml:"public_url" doc:"base URL customers reach ipnd at (checkout_url, QR links); empty = the API request's own scheme and host"`
	CheckoutRate int      `toml:"checkout_rate" doc:"requests per minute one client (IP address) may make to the checkout pages; 0 = no limit"`
}

// Bitcoin is the [bitcoin] section, and the [litecoin] section: the
// Bitcoin-family chains share their keys.
type Bitcoin struct {
	Enabled      bool     `toml:"enabled" doc:"watch the chain"`
	Network      string   `toml:"network" doc:"mainnet, testnet or regtest (Bitcoin also signet)"`
	RPCHost      string   `toml:"rpc_host" doc:"host:port of the node's RPC (bitcoind or btcd; litecoind)"`
	RPCUser      string   `toml:"rpc_user" doc:"RPC user (or use rpc_cookie)"`
	RPCPassword  Secret   `toml:"rpc_password" doc:"RPC password"`
	RPCCookie    string   `toml:"rpc_cookie" doc:"path of the node's .cookie file, instead of user/password"`
	XPub         string   `toml:"xpub" doc:"account-level extended PUBLIC key (xpub/ypub/zpub/tpub/upub/vpub; Litecoin also Ltub/Mtub/ttub)"`
	Descriptor   string   `toml:"descriptor" doc:"output descriptor with its #checksum, instead of xpub (pkh, sh(wpkh), wpkh, tr, wsh(sortedmulti), ...)"`
	AddressType  string   `toml:"address_type" doc:"with xpub: empty = from the key prefix; p2pkh, p2sh-p2wpkh, p2wpkh or p2tr"`
	GapLimit     int      `toml:"gap_limit" doc:"unallocated indexes watched beyond the highest allocated"`
	FirstIndex   int64    `toml:"first_index" doc:"first derivation index an empty ledger hands out"`
	StartHeight  int64    `toml:"start_height" doc:"first block to scan at first start; 0 = the tip"`
	PollInterval Duration `toml:"poll_interval" doc:"safety poll while push works; without push the node is polled every second"`
	RPCTimeout   Duration `toml:"rpc_timeout" doc:"bound on one RPC call to the node"`
	Push         string   `toml:"push" doc:"auto, websocket (btcd), zmq (bitcoind, litecoind) or off"`
	ZMQRawTx     string   `toml:"zmq_rawtx" doc:"the node's zmqpubrawtx endpoint, tcp://host:port"`
	ZMQHashBlock string   `toml:"zmq_hashblock" doc:"the node's zmqpubhashblock endpoint"`
	ZMQSequence  string   `toml:"zmq_sequence" doc:"the node's zmqpubsequence endpoint (instead of zmq_hashblock)"`
}

// Monero is the [monero] section.
type Monero struct {
	Enabled           bool     `toml:"enabled" doc:"watch Monero"`
	WalletRPCURL      string   `toml:"wallet_rpc_url" doc:"monero-wallet-rpc base URL (or the same ending in /json_rpc)"`
	WalletRPCUser     string   `toml:"wallet_rpc_user" doc:"wallet-rpc --rpc-login user"`
	WalletRPCPassword Secret   `toml:"wallet_rpc_password" doc:"wallet-rpc --rpc-login password"`
	DaemonRPCURL      string   `toml:"daemon_rpc_url" doc:"monerod RPC base URL (or the same ending in /json_rpc): sync state and change checks"`
	DaemonRPCUser     string   `toml:"daemon_rpc_user" doc:"monerod --rpc-login user"`
	DaemonRPCPassword Secret   `toml:"daemon_rpc_password" doc:"monerod --rpc-login password"`
	DaemonZMQPub      string   `toml:"daemon_zmq_pub" doc:"monerod's --zmq-pub endpoint (tcp://host:port); empty = poll only"`
	AccountIndex      uint32   `toml:"account_index" doc:"wallet account whose subaddresses this server hands out"`
	PollInterval      Duration `toml:"poll_interval" doc:"how often the wallet is polled"`
	RequireViewOnly   bool     `toml:"require_view_only" doc:"refuse a wallet that can spend"`
	ReorgWindow       int64    `toml:"reorg_window" doc:"blocks re-read each poll to notice reorgs"`
}

// Default returns the configuration used for every key a file leaves out.
func Default() Config {
	return Config{
		Server: Server{
			Listen:         "127.0.0.1:8080",
			APIKeys:        []Secret{},
			TrustedProxies: []string{},
			LogFormat:      "text",
			LogLevel:       "info",
		},
		Database: Database{Driver: "sqlite", DSN: "ipnd.db"},
		IPN: IPN{
			MaxConfirms: 3,
			Workers:     32,
			PerHost:     4,
			Timeout:     Duration(10 * time.Second),
			RetrySchedule: []Duration{
				Duration(5 * time.Second), Duration(30 * time.Second), Duration(2 * time.Minute),
				Duration(10 * time.Minute), Duration(30 * time.Minute), Duration(time.Hour),
			},
			Lease:        Duration(time.Minute),
			PollInterval: Duration(200 * time.Millisecond),
			Retention:    Duration(30 * 24 * time.Hour),
			SecretGrace:  Duration(24 * time.Hour),
		},
		Invoices: Invoices{
			Expiry:       Duration(15 * time.Minute),
			MinExpiry:    Duration(time.Minute),
			MaxExpiry:    Duration(7 * 24 * time.Hour),
			CheckoutRate: 120,
		},
		Bitcoin: Bitcoin{
			Network:      "mainnet",
			RPCHost:      "127.0.0.1:8332",
			GapLimit:     20,
			PollInterval: Duration(30 * time.Second),
			RPCTimeout:   Duration(10 * time.Second),
			Push:         "auto",
		},
		Litecoin: Bitcoin{
			Network:      "mainnet",
			RPCHost:      "127.0.0.1:9332",
			GapLimit:     20,
			PollInterval: Duration(30 * time.Second),
			RPCTimeout:   Duration(10 * time.Second),
			Push:         "auto",
		},
		Monero: Monero{
			WalletRPCURL:    "http://127.0.0.1:18083",
			DaemonRPCURL:    "http://127.0.0.1:18081",
			PollInterval:    Duration(time.Second),
			RequireViewOnly: true,
			ReorgWindow:     10,
		},
	}
}
