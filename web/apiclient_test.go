package web_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The web app's API client (app/src/api.ts) is checked against the
// OpenAPI document (api/openapi.json), so the client cannot drift from the
// API it calls:
//   - every route in its `routes` table is a documented method and path;
//   - every interface tagged `@schema NAME` names only properties of that
//     schema, and a property it declares always present (no `?:`) is one
//     the schema requires (else the app would read undefined where its
//     types promise a value);
//   - no other source file of the app spells a /v1/ path: every call goes
//     through the table.

type openAPI struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openAPI {
	t.Helper()
	b, err := os.ReadFile("../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var d openAPI
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// tsField is a property of a TypeScript interface.
type tsField struct {
	Name     string
	Optional bool
}

var (
	routeRE  = regexp.MustCompile(`(?m)^\s*(\w+): "(GET|POST|PUT|DELETE) (/v1/[^"]*)",`)
	schemaRE = regexp.MustCompile(`/\*\* @schema (\w+) \*/\s*export interface (\w+) \{`)
)

// interfaceFields reads the top-level properties of the interface body
// that starts at src[open] ('{').
func interfaceFields(src string, open int) []tsField {
	var out []tsField
	depth := 0
	prop := regexp.MustCompile(`^\s*(\w+)(\??):`)
	start := open + 1
	for i := open; i < len(src); i++ {
		switch src[i] {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
			if depth == 0 {
				if m := prop.FindStringSubmatch(src[start:i]); m != nil {
					out = append(out, tsField{m[1], m[2] == "?"})
				}
				return out
			}
		case ';', '\n':
			if depth == 1 {
				if m := prop.FindStringSubmatch(src[start:i]); m != nil {
					out = append(out, tsField{m[1], m[2] == "?"})
				}
				start = i + 1
			}
		}
	}
	return out
}

func TestAPIClientMatchesOpenAPI(t *testing.T) {
	d := loadOpenAPI(t)
	b, err := os.ReadFile("app/src/api.ts")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)

	routes := routeRE.FindAllStringSubmatch(src, -1)
	if len(routes) < 10 {
		t.Fatalf("found %d routes in api.ts: the routes table is not where this test looks", len(routes))
	}
	for _, r := range routes {
		name, method, path := r[1], strings.ToLower(r[2]), r[3]
		if _, ok := d.Paths[path][method]; !ok {
			t.Errorf("api.ts route %s: %s %s is not in openapi.json", name, r[2], path)
		}
	}

	tagged := schemaRE.FindAllStringSubmatchIndex(src, -1)
	if len(tagged) < 20 {
		t.Fatalf("found %d @schema interfaces in api.ts", len(tagged))
	}
	for _, m := range tagged {
		schema, iface := src[m[2]:m[3]], src[m[4]:m[5]]
		s, ok := d.Components.Schemas[schema]
		if !ok {
			t.Errorf("interface %s: no schema %s in openapi.json", iface, schema)
			continue
		}
		fields := interfaceFields(src, m[1]-1)
		if len(fields) == 0 {
			t.Errorf("interface %s: no properties read", iface)
		}
		for _, f := range fields {
			if _, ok := s.Properties[f.Name]; !ok {
				t.Errorf("interface %s (schema %s): property %s is not in the schema", iface, schema, f.Name)
				continue
			}
			if !f.Optional && !slices.Contains(s.Required, f.Name) {
				t.Errorf("interface %s (schema %s): %s is declared present, but the schema does not require it (write %s?:)", iface, schema, f.Name, f.Name)
			}
		}
	}

	// Every other module calls the API through the table.
	files, err := filepath.Glob("app/src/*.ts")
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob("app/src/pages/*.ts")
	for _, f := range append(files, pages...) {
		if filepath.Base(f) == "api.ts" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(string(b), "/v1/"); i >= 0 {
			t.Errorf("%s spells an API path (%q…): call it through api.ts's routes", f, string(b[i:min(len(b), i+30)]))
		}
	}
}

// TestInterfaceFields checks the little TypeScript reader on a sample.
func TestInterfaceFields(t *testing.T) {
	src := `export interface X { a: number; b?: { c: string; d: number }; e: string[];
  f?: (x: number) => void; g: Map<string, { h: 1 }> }`
	got := interfaceFields(src, strings.Index(src, "{"))
	want := []tsField{{"a", false}, {"b", true}, {"e", false}, {"f", true}, {"g", false}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
