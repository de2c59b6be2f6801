package api

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// The fields each endpoint takes are the ones its OpenAPI description
// documents: its query parameters and the properties of its request body
// (any of its content types). A request with another field is refused, so
// the description can not fall behind what the server accepts.

type specParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

type specSchema struct {
	Ref        string                     `json:"$ref"`
	Properties map[string]json.RawMessage `json:"properties"`
}

type specOperation struct {
	Parameters  []specParam `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema specSchema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

type specDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas    map[string]specSchema `json:"schemas"`
		Parameters map[string]specParam  `json:"parameters"`
	} `json:"components"`
}

// documentedFields maps "METHOD /path" to the sorted fields the operation
// takes (path parameters excluded).
var documentedFields = sync.OnceValues(func() (map[string][]string, error) {
	return fieldsOf(openAPISpec)
})

func fieldsOf(spec []byte) (map[string][]string, error) {
	var doc specDoc
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	out := map[string][]string{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" || strings.HasPrefix(method, "x-") || method == "summary" || method == "description" {
				continue
			}
			var op specOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("openapi.json: %s %s: %w", method, path, err)
			}
			set := map[string]bool{}
			for _, p := range op.Parameters {
				if p.Ref != "" {
					name := strings.TrimPrefix(p.Ref, "#/components/parameters/")
					q, ok := doc.Components.Parameters[name]
					if !ok {
						return nil, fmt.Errorf("openapi.json: %s %s: unknown parameter %s", method, path, p.Ref)
					}
					p = q
				}
				if p.In == "query" {
					set[p.Name] = true
				}
			}
			if op.RequestBody != nil {
				for ctype, c := range op.RequestBody.Content {
					sch := c.Schema
					if sch.Ref != "" {
						name := strings.TrimPrefix(sch.Ref, "#/components/schemas/")
						s, ok := doc.Components.Schemas[name]
						if !ok {
							return nil, fmt.Errorf("openapi.json: %s %s %s: unknown schema %s", method, path, ctype, sch.Ref)
						}
						sch = s
					}
					for name := range sch.Properties {
						set[name] = true
					}
				}
			}
			fields := []string{}
			for f := range set {
				fields = append(fields, f)
			}
			sort.Strings(fields)
			out[strings.ToUpper(method)+" "+path] = fields
		}
	}
	return out, nil
}

// knownFields are the fields of route (nil when the description lacks it:
// TestOpenAPIMatchesRoutes fails then).
func knownFields(rt Route) []string {
	m, err := documentedFields()
	if err != nil {
		return nil
	}
	return m[rt.Method+" "+rt.Path]
}
