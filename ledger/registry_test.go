package ledger

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestRegistry checks the transaction registry against itself and against
// the package's source: every entry's message names its own type, names are
// unique, TxTypes is the registry's names in order, and every TxType constant
// and every message type (a *T with a Type() TxType method) has an entry.
func TestRegistry(t *testing.T) {
	seen := map[TxType]bool{}
	for i, d := range registry {
		if seen[d.typ] {
			t.Errorf("registry[%d]: %q registered twice", i, d.typ)
		}
		seen[d.typ] = true
		m := d.new()
		if m == nil || reflect.ValueOf(m).IsNil() {
			t.Errorf("registry[%d] (%s): new returns nil", i, d.typ)
			continue
		}
		if got := m.Type(); got != d.typ {
			t.Errorf("registry[%d]: %T.Type() is %q, registered as %q", i, m, got, d.typ)
		}
		if got := newMsg(d.typ); reflect.TypeOf(got) != reflect.TypeOf(m) {
			t.Errorf("newMsg(%q) is %T, want %T", d.typ, got, m)
		}
		if m2 := d.new(); m2 == m {
			t.Errorf("registry[%d] (%s): new returns the same message twice", i, d.typ)
		}
	}
	var names []TxType
	for _, d := range registry {
		names = append(names, d.typ)
	}
	if !slices.Equal(TxTypes, names) {
		t.Errorf("TxTypes %v, registry %v", TxTypes, names)
	}
	if newMsg("no_such_type") != nil {
		t.Error("newMsg of an unknown type is not nil")
	}

	consts, msgs := txDeclarations(t)
	for _, name := range consts {
		if !seen[TxType(name)] {
			t.Errorf("transaction type %q is declared but has no registry entry (registry.go)", name)
		}
	}
	registered := map[string]TxType{}
	for _, d := range registry {
		registered[reflect.TypeOf(d.new()).Elem().Name()] = d.typ
	}
	for _, name := range msgs {
		if _, ok := registered[name]; !ok {
			t.Errorf("message %s has a Type method but no registry entry (registry.go)", name)
		}
	}
	if len(consts) != len(registry) || len(msgs) != len(registry) {
		t.Errorf("%d TxType constants, %d message types, %d registry entries", len(consts), len(msgs), len(registry))
	}
}

// txDeclarations parses the package's non-test source and returns the
// values of its TxType constants and the names of the types T whose *T has
// a Type() TxType method, both sorted.
func txDeclarations(t *testing.T) (consts, msgs []string) {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				if d.Tok != token.CONST {
					continue
				}
				for _, spec := range d.Specs {
					vs := spec.(*ast.ValueSpec)
					if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "TxType" {
						continue
					}
					for _, v := range vs.Values {
						lit, ok := v.(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							t.Errorf("%s: a TxType constant must be a string literal", fset.Position(v.Pos()))
							continue
						}
						s, _ := strconv.Unquote(lit.Value)
						consts = append(consts, s)
					}
				}
			case *ast.FuncDecl:
				if d.Name.Name != "Type" || d.Recv == nil || len(d.Recv.List) != 1 || d.Type.Results == nil || len(d.Type.Results.List) != 1 {
					continue
				}
				if id, ok := d.Type.Results.List[0].Type.(*ast.Ident); !ok || id.Name != "TxType" {
					continue
				}
				star, ok := d.Recv.List[0].Type.(*ast.StarExpr)
				if !ok {
					t.Errorf("%s: a message's Type method must have a pointer receiver", fset.Position(d.Pos()))
					continue
				}
				if id, ok := star.X.(*ast.Ident); ok {
					msgs = append(msgs, id.Name)
				}
			}
		}
	}
	sort.Strings(consts)
	sort.Strings(msgs)
	return consts, msgs
}

// TestHandleUnknown checks dispatch refuses a message with no entry, as the
// type switch it replaced did.
func TestHandleUnknown(t *testing.T) {
	for _, m := range []Msg{nil, strayMsg{}} {
		c := &txCtx{tx: &Tx{Payload: Payload{Type: "stray"}, Msg: m}}
		if _, err := handle(c); CodeOf(err) != CodeUnknownType {
			t.Errorf("handle(%T): %v, want %v", m, err, CodeUnknownType)
		}
	}
}

// strayMsg claims a registered name but is not that type's message.
type strayMsg struct{}

func (strayMsg) Type() TxType { return TxTransfer }
