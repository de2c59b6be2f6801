package config

import "strings"

// Suggest returns the candidate closest to word when it is close enough to
// be a likely typo of it, else "". Closeness is the edit distance
// (insertions, deletions, substitutions and swaps of two neighbouring
// characters, case-insensitive), at most 1 for words of up to 4
// characters, 2 up to 8 and 3 beyond. On a tie the earlier candidate wins,
// so the answer is deterministic. The API uses it for unknown request
// fields as config does for unknown keys.
func Suggest(word string, candidates []string) string {
	w := strings.ToLower(word)
	limit := 3
	switch n := len([]rune(w)); {
	case n <= 4:
		limit = 1
	case n <= 8:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		d := editDistance(w, strings.ToLower(c))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// DidYouMean formats Suggest's answer as " (did you mean X?)", or "" when
// no candidate is close.
func DidYouMean(word string, candidates []string) string {
	if s := Suggest(word, candidates); s != "" {
		return " (did you mean " + s + "?)"
	}
	return ""
}

// editDistance is the optimal string alignment distance between a and b:
// the Levenshtein distance where swapping two adjacent characters costs 1.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	// three rows: i-2, i-1, i
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}
