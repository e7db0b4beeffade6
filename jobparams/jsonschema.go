package jobparams

import (
	"reflect"
)

// JSONSchema is the params of a built-in analysis as a JSON Schema
// object (OpenAPI 3.0 dialect), from the same Go type and descriptions as
// Describe. The API's OpenAPI document holds these (a test of package api
// checks they are equal), so the document cannot drift from the worker.
func JSONSchema(name string) (map[string]any, bool) {
	s, ok := Describe(name)
	if !ok {
		return nil, false
	}
	out := schemaOf(s.Name, "", s.typ)
	out["description"] = "params of " + s.Name + ": " + s.Summary
	return out, true
}

func schemaOf(name, path string, t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]any{}
	if d := docFor(name, path); d != "" {
		out["description"] = d
	}
	switch t.Kind() {
	case reflect.Struct:
		out["type"] = "object"
		out["additionalProperties"] = false
		props := map[string]any{}
		var required []any
		for _, f := range fieldsOf(t) {
			props[f.name] = schemaOf(name, join(path, f.name), f.typ)
			if f.required {
				required = append(required, f.name)
			}
		}
		out["properties"] = props
		if len(required) > 0 {
			out["required"] = required
		}
	case reflect.Slice:
		out["type"] = "array"
		out["items"] = schemaOf(name, path+"[]", t.Elem())
		delete(out["items"].(map[string]any), "description")
	case reflect.String:
		out["type"] = "string"
	case reflect.Bool:
		out["type"] = "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		out["type"] = "integer"
	case reflect.Float32, reflect.Float64:
		out["type"] = "number"
	}
	return out
}
