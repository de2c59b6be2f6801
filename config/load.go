package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Secret holds a password, key or DSN. Every printed form (fmt verbs, slog,
// JSON, TOML) is masked; Reveal returns the value for the one place that
// needs it.
type Secret string

const masked = "********"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string { return s.mask() }

// GoString keeps %#v masked too.
func (s Secret) GoString() string { return strconv.Quote(s.mask()) }

// LogValue masks the secret in log/slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// MarshalText masks the secret in JSON and TOML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return masked
}

// Duration is a time.Duration written as a Go duration string ("1s", "2m").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Problem is one configuration error tied to its key.
type Problem struct {
	Key string // "section.key"
	Msg string
}

func (p Problem) Error() string { return p.Key + ": " + p.Msg }

// Problems is every configuration error found; its message has one line
// per problem.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Add records a problem for key.
func (ps *Problems) Add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Err returns ps as an error, or nil when empty.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// EnvPrefix starts every environment override: IPND_<SECTION>_<KEY>.
const EnvPrefix = "IPND_"

// Load reads the TOML file at path (a missing file is allowed only when
// mustExist is false), applies the environment overrides found in environ
// (os.Environ() form) over the defaults and validates the result. The error,
// if any, is a Problems listing everything wrong.
func Load(path string, mustExist bool, environ []string) (Config, error) {
	cfg := Default()
	var probs Problems
	raw := map[string]any{}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if _, err := toml.Decode(string(data), &raw); err != nil {
			var pe toml.ParseError
			if errors.As(err, &pe) {
				probs.Add(path, "line %d: %s", pe.Position.Line, pe.Message)
			} else {
				probs.Add(path, "%v", err)
			}
			return cfg, probs
		}
	case errors.Is(err, os.ErrNotExist) && !mustExist:
	default:
		probs.Add(path, "cannot read configuration: %v", unwrapPath(err))
		return cfg, probs
	}
	env := envMap(environ)
	probs = append(probs, apply(&cfg, raw, env)...)
	cfg.normalise()
	typed := map[string]bool{}
	for _, p := range probs {
		typed[p.Key] = true
	}
	for _, p := range cfg.Validate() {
		if !typed[p.Key] { // a key with a type error keeps its default: say it once
			probs = append(probs, p)
		}
	}
	return cfg, probs.Err()
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			m[k] = v
		}
	}
	return m
}

// apply walks the sections and keys of cfg, taking each value from the
// environment first, then the file; unknown sections, keys and IPND_*
// variables are problems, with the near miss when there is one.
func apply(cfg *Config, raw map[string]any, env map[string]string) Problems {
	var probs Problems
	root := reflect.ValueOf(cfg).Elem()
	for i := 0; i < root.NumField(); i++ {
		secName := root.Type().Field(i).Tag.Get("toml")
		sec := root.Field(i)
		var rawSec map[string]any
		if v, ok := raw[secName]; ok {
			m, isTable := v.(map[string]any)
			if !isTable {
				probs.Add(secName, "must be a table ([%s]), not %s", secName, tomlTypeName(v))
			}
			rawSec = m
		}
		keys := map[string]bool{}
		for j := 0; j < sec.NumField(); j++ {
			keyName := sec.Type().Field(j).Tag.Get("toml")
			keys[keyName] = true
			full := secName + "." + keyName
			envName := EnvName(secName, keyName)
			if s, ok := env[envName]; ok {
				if err := setFromString(sec.Field(j), s); err != nil {
					probs.Add(full, "from %s: %v", envName, err)
				}
				continue
			}
			if v, ok := rawSec[keyName]; ok {
				if err := setFromTOML(sec.Field(j), v); err != nil {
					probs.Add(full, "%v", err)
				}
			}
		}
		for _, k := range sortedKeys(rawSec) {
			if !keys[k] {
				probs.Add(secName+"."+k, "%s", unknownKey(secName, k))
			}
		}
	}
	sections := Sections()
	for _, k := range sortedKeys(raw) {
		if !contains(sections, k) {
			_, isTable := raw[k].(map[string]any)
			probs.Add(k, "%s", unknownTopLevel(k, isTable))
		}
	}
	probs = append(probs, unknownVariables(env)...)
	return probs
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var (
	durationType = reflect.TypeOf(Duration(0))
	secretType   = reflect.TypeOf(Secret(""))
)

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration string such as \"1s\""
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "a boolean"
	case t.Kind() == reflect.Slice:
		return "a list of " + strings.TrimPrefix(typeName(t.Elem()), "a ")
	default:
		return "an integer"
	}
}

func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

func setFromTOML(f reflect.Value, v any) error {
	mismatch := func() error {
		if f.Type() == secretType {
			return fmt.Errorf("must be %s, not %s", typeName(f.Type()), tomlTypeName(v))
		}
		return fmt.Errorf("must be %s, not %s (%v)", typeName(f.Type()), tomlTypeName(v), v)
	}
	if f.Kind() == reflect.Slice {
		arr, ok := v.([]any)
		if !ok {
			return mismatch()
		}
		out := reflect.MakeSlice(f.Type(), len(arr), len(arr))
		for i, e := range arr {
			if err := setFromTOML(out.Index(i), e); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		f.Set(out)
		return nil
	}
	if f.Type() == durationType {
		s, ok := v.(string)
		if !ok {
			return mismatch()
		}
		return setFromString(f, s)
	}
	switch f.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return mismatch()
		}
		f.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch()
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			return mismatch()
		}
		f.SetInt(n)
	case reflect.Uint32:
		n, ok := v.(int64)
		if !ok {
			return mismatch()
		}
		if n < 0 || n > 1<<32-1 {
			return fmt.Errorf("must be between 0 and %d, not %d", uint32(1<<32-1), n)
		}
		f.SetUint(uint64(n))
	default:
		return fmt.Errorf("unsupported field kind %s", f.Kind())
	}
	return nil
}

func setFromString(f reflect.Value, s string) error {
	if f.Kind() == reflect.Slice {
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		out := reflect.MakeSlice(f.Type(), len(parts), len(parts))
		for i, p := range parts {
			if err := setFromString(out.Index(i), p); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		f.Set(out)
		return nil
	}
	if f.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("must be %s, not %q", typeName(f.Type()), s)
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("must be true or false, not %q", s)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("must be an integer, not %q", s)
		}
		f.SetInt(n)
	case reflect.Uint32:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return fmt.Errorf("must be an integer between 0 and %d, not %q", uint32(1<<32-1), s)
		}
		f.SetUint(n)
	default:
		return fmt.Errorf("unsupported field kind %s", f.Kind())
	}
	return nil
}
