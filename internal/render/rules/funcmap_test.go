package rules

import (
	"io"
	"strings"
	"testing"
	"text/template"
)

func TestFuncMapRefusesImpureFunctions(t *testing.T) {
	for _, name := range []string{"env", "expandenv", "now", "getHostByName", "genPrivateKey", "htpasswd"} {
		t.Run(name, func(t *testing.T) {
			tmpl := template.Must(template.New("t").Funcs(FuncMap()).Parse(`{{ ` + name + ` "x" "y" }}`))
			err := tmpl.Execute(io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), "not allowed in rules templates") {
				t.Fatalf("%s: got error %v, want a refusal", name, err)
			}
		})
	}
	// Pure helpers stay available.
	var b strings.Builder
	tmpl := template.Must(template.New("t").Funcs(FuncMap()).Parse(`{{ "a" | upper }}{{ encodeSecretRef "s" "k" }}`))
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatal(err)
	}
	if want := "A🔐💬s_k💬🔐"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// TestFuncMapKeysAndValuesAreSorted: sprig's keys and values follow Go's map order; ours do
// not, so a template that lists them renders the same bytes every time.
func TestFuncMapKeysAndValuesAreSorted(t *testing.T) {
	tmpl := template.Must(template.New("t").Funcs(FuncMap()).Parse(
		`{{ keys .a | join "," }}|{{ values .a | join "," }}|{{ keys .a .b | join "," }}`))
	for range 50 {
		a := map[string]any{}
		for _, k := range []string{"m", "a10", "z", "a9", "b", "a1b", "c", "y", "x"} {
			a[k] = strings.ToUpper(k)
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, map[string]any{"a": a, "b": map[string]any{"d": 1}}); err != nil {
			t.Fatal(err)
		}
		want := "a10,a1b,a9,b,c,m,x,y,z|A10,A1B,A9,B,C,M,X,Y,Z|a10,a1b,a9,b,c,d,m,x,y,z"
		if b.String() != want {
			t.Fatalf("got %q, want %q", b.String(), want)
		}
	}
}
