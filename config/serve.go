package config

import (
	"crypto/tls"
	"os"
)

// Roles are the parts of `ipnd serve` one process runs. Checks that only
// matter to one part (API keys, TLS files for the api role) apply only when
// it runs.
type Roles struct {
	Sync, IPN, API bool
}

// AllRoles is what `ipnd serve` runs by default and what `ipnd
// check-config` checks for.
var AllRoles = Roles{Sync: true, IPN: true, API: true}

// ServeChecks returns what `ipnd serve` with roles would refuse to start
// with (problems) and what it should log at start (warnings), beyond the
// value checks Load already made: the settings that matter only to one
// role, and the files the configuration names (TLS certificate and key).
// Nodes and the ledger are not contacted. check-config prints both lists;
// serve exits 2 on a problem and logs each warning.
func (c Config) ServeChecks(r Roles) (problems, warnings Problems) {
	s := c.Server
	if r.API {
		if len(s.APIKeys) == 0 && !s.AllowUnauthenticated {
			problems.Add("server.api_keys", "is empty: set at least one key of 16 or more characters "+
				"(IPND_SERVER_API_KEYS=key1,key2), or allow_unauthenticated = true on a loopback listen address")
		}
		if s.TLSCert != "" && s.TLSKey != "" {
			problems = append(problems, tlsProblems(s.TLSCert, s.TLSKey)...)
		}
		if s.TLSCert == "" && !IsLoopbackListen(s.Listen) {
			warnings.Add("server.listen", "%s is reachable beyond this host without TLS: API keys and payment data "+
				"cross the network in clear; set server.tls_cert and server.tls_key, or listen on 127.0.0.1 "+
				"behind a TLS reverse proxy", s.Listen)
		}
	}
	if (r.API || r.IPN) && c.IPN.AllowPrivateTargets {
		warnings.Add("ipn.allow_private_targets", "is true: subscribers may make ipnd POST to loopback and "+
			"private addresses of your network; set it to false outside tests and the demo")
	}
	return problems, warnings
}

// tlsProblems reads the certificate and key files as serve does, naming
// the key whose file is missing, unreadable or does not fit the other.
func tlsProblems(certFile, keyFile string) Problems {
	var p Problems
	readable := true
	for _, f := range []struct{ key, path, what string }{
		{"server.tls_cert", certFile, "PEM certificate (chain)"},
		{"server.tls_key", keyFile, "PEM private key"},
	} {
		if _, err := os.ReadFile(f.path); err != nil {
			readable = false
			p.Add(f.key, "cannot read %s: %v; point it at the %s, readable by the user ipnd runs as",
				f.path, unwrapPath(err), f.what)
		}
	}
	if !readable {
		return p
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		p.Add("server.tls_cert", "%s and server.tls_key %s do not form a certificate and its key: %v",
			certFile, keyFile, err)
	}
	return p
}
