package config

import (
	"reflect"
	"strings"
)

// Setting describes one configuration key. The list of settings comes from
// the Config struct and its toml/doc tags (the one source of truth): a
// field added to a section is a known key, an IPND_* variable and a "did
// you mean" candidate at once.
type Setting struct {
	Section string // "bitcoin"
	Key     string // "rpc_password"
	Doc     string // the field's doc tag
}

// Name is the setting's name in messages: "section.key".
func (s Setting) Name() string { return s.Section + "." + s.Key }

// Env is the environment variable that overrides the setting:
// IPND_<SECTION>_<KEY>, upper case.
func (s Setting) Env() string { return EnvName(s.Section, s.Key) }

// EnvName is the environment variable of section.key.
func EnvName(section, key string) string {
	return EnvPrefix + strings.ToUpper(section) + "_" + strings.ToUpper(key)
}

// Settings lists every key of every section, in the order of the Config
// struct (the order of settings.example.toml).
func Settings() []Setting {
	var out []Setting
	root := reflect.TypeOf(Config{})
	for i := 0; i < root.NumField(); i++ {
		sec := root.Field(i)
		section := sec.Tag.Get("toml")
		for j := 0; j < sec.Type.NumField(); j++ {
			f := sec.Type.Field(j)
			out = append(out, Setting{Section: section, Key: f.Tag.Get("toml"), Doc: f.Tag.Get("doc")})
		}
	}
	return out
}

// Sections lists the section names in the order of the Config struct.
func Sections() []string {
	root := reflect.TypeOf(Config{})
	out := make([]string, root.NumField())
	for i := range out {
		out[i] = root.Field(i).Tag.Get("toml")
	}
	return out
}

// keysOf lists the keys of one section.
func keysOf(section string) []string {
	var out []string
	for _, s := range Settings() {
		if s.Section == section {
			out = append(out, s.Key)
		}
	}
	return out
}

// ToolVariables are IPND_* variables that are not settings: the test
// harness, the demo and the benchmarks read them. Load ignores them (and
// any IPND_TEST_* or IPND_BENCH_* variable); every other IPND_* variable
// must name a setting.
var ToolVariables = []string{
	"IPND_REQUIRE_INTEGRATION", // make test: a missing component fails
	"IPND_BTCD",                // btcd binary for tests and the demo
	"IPND_MONEROD",             // monerod binary for tests and the demo
	"IPND_MONERO_WALLET_RPC",   // monero-wallet-rpc binary for tests and the demo
	"IPND_BIN",                 // ipnd binary the demo runs
	"IPND_CHROMIUM",            // Chromium for the browser tests
	"IPND_BTC_BLOCKS",          // mainnet block files for the scan tests
	"IPND_WRK_ARGS",            // wrk arguments of the API benchmark
	"IPND_API_KEY",             // API key of the CLI's -api mode (ipnd subscriptions, deliveries, redeliver)
}

// toolPrefixes start variables reserved for tests and benchmarks.
var toolPrefixes = []string{"IPND_TEST_", "IPND_BENCH_"}

func isToolVariable(name string) bool {
	for _, v := range ToolVariables {
		if name == v {
			return true
		}
	}
	for _, p := range toolPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
