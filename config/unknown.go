package config

import (
	"sort"
	"strings"
)

// unknownKey explains a key that section does not have: the near miss in
// the section, else the section where that exact key lives, else the
// section's keys.
func unknownKey(section, key string) string {
	keys := keysOf(section)
	if s := Suggest(key, keys); s != "" {
		return "unknown key (did you mean " + s + "?)"
	}
	if elsewhere := sectionsWithKey(key); len(elsewhere) > 0 {
		return "unknown key in [" + section + "] (did you mean " + orList(elsewhere) + "?)"
	}
	return "unknown key (the keys of [" + section + "] are " + strings.Join(keys, ", ") + ")"
}

// unknownTopLevel explains a top-level name that is not a section: a
// misspelt section, or a key written before any [section] header.
func unknownTopLevel(name string, isTable bool) string {
	sections := Sections()
	list := "[" + strings.Join(sections, "], [") + "]"
	if isTable {
		if s := Suggest(name, sections); s != "" {
			return "unknown section (did you mean [" + s + "]?)"
		}
		return "unknown section (the sections are " + list + ")"
	}
	if elsewhere := sectionsWithKey(name); len(elsewhere) > 0 {
		return "key outside any section (did you mean " + orList(elsewhere) +
			"? put it under its [section] header)"
	}
	if s := Suggest(name, sections); s != "" {
		return "unknown key outside any section (did you mean the [" + s + "] section?)"
	}
	return "unknown key outside any section (the sections are " + list + ")"
}

// orList joins choices as "a, b or c".
func orList(choices []string) string {
	if len(choices) < 2 {
		return strings.Join(choices, "")
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

// sectionsWithKey lists "section.key" for every section that has key.
func sectionsWithKey(key string) []string {
	var out []string
	for _, s := range Settings() {
		if s.Key == key {
			out = append(out, s.Name())
		}
	}
	return out
}

// unknownVariables reports each IPND_* variable that names no setting and
// is not one of the tool variables, with the near miss.
func unknownVariables(env map[string]string) Problems {
	var probs Problems
	var known []string
	knownSet := map[string]bool{}
	for _, s := range Settings() {
		known = append(known, s.Env())
		knownSet[s.Env()] = true
	}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if knownSet[name] || isToolVariable(name) {
			continue
		}
		if s := Suggest(name, known); s != "" {
			probs.Add(name, "unknown setting (did you mean %s?)", s)
			continue
		}
		probs.Add(name, "unknown setting: variables are IPND_<SECTION>_<KEY> for a key of settings.example.toml "+
			"(e.g. IPND_DATABASE_DSN); rename or unset it")
	}
	return probs
}
