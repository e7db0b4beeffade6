package jobparams

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// The shape check walks the decoded JSON beside the Go type the worker
// decodes the params into, so that it can say which key is unknown or
// which value has the wrong type, with its path — encoding/json's own
// errors name neither reliably.

// field is one JSON key of a struct type, embedded structs flattened.
type field struct {
	name     string
	typ      reflect.Type
	required bool // no omitempty: the worker needs it
}

func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, fieldsOf(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, field{name: name, typ: f.Type, required: !slices.Contains(strings.Split(opts, ","), "omitempty")})
	}
	return out
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

// typeName says in words what JSON a Go type takes.
func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessage {
		return "any JSON value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list of " + plural(typeName(t.Elem()))
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

func plural(s string) string {
	switch {
	case strings.HasPrefix(s, "a list"):
		return "lists" + strings.TrimPrefix(s, "a list")
	case s == "true or false":
		return "booleans"
	case s == "any JSON value":
		return "JSON values"
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "an "), "a ")
	return s + "s"
}

// jsonName is what a decoded JSON value is, in the words of typeName.
func jsonName(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "an integer"
		}
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// decodeAny decodes JSON keeping numbers exact.
func decodeAny(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// shape checks a decoded JSON value against t.
func shape(path string, v any, t reflect.Type) *Error {
	if t == rawMessage {
		return nil
	}
	if t.Kind() == reflect.Pointer {
		if v == nil {
			return nil
		}
		return shape(path, v, t.Elem())
	}
	wrong := func() *Error {
		return errorf(WrongType, path, "", "want %s, got %s", typeName(t), jsonName(v))
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrong()
		}
		fields := fieldsOf(t)
		known := make([]string, len(fields))
		for i, f := range fields {
			known[i] = f.name
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !slices.Contains(known, k) {
				return errorf(UnknownParameter, join(path, k), "", "unknown parameter %q; %s takes %s", k, where(path), quoteList(known))
			}
		}
		for _, f := range fields {
			fv, ok := obj[f.name]
			if !ok {
				if f.required {
					return errorf(MissingParameter, join(path, f.name), "", "%s is required (%s)", f.name, typeName(f.typ))
				}
				continue
			}
			if err := shape(join(path, f.name), fv, f.typ); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return wrong()
		}
		for i, e := range list {
			if err := shape(fmt.Sprintf("%s[%d]", path, i), e, t.Elem()); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if _, ok := v.(string); !ok {
			return wrong()
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return wrong()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return wrong()
		}
		if _, err := n.Int64(); err != nil {
			return errorf(WrongType, path, "", "want an integer, got a number with a fraction or out of range")
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return wrong()
		}
		if _, err := n.Float64(); err != nil {
			return errorf(WrongType, path, "", "want a number, got one out of range")
		}
	}
	return nil
}

func where(path string) string {
	if path == "" {
		return "the analysis"
	}
	return path
}

// params lists a type's parameters for a description: each key's path
// ("filter[].column"), JSON type and whether it is required.
func params(path string, t reflect.Type, required bool, out *[]Param) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		*out = append(*out, Param{Path: path, Type: typeName(t), Required: required})
	}
	switch t.Kind() {
	case reflect.Struct:
		for _, f := range fieldsOf(t) {
			params(join(path, f.name), f.typ, f.required, out)
		}
	case reflect.Slice:
		e := t.Elem()
		for e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		if e.Kind() == reflect.Struct {
			for _, f := range fieldsOf(e) {
				params(join(path+"[]", f.name), f.typ, f.required, out)
			}
		}
	}
}
