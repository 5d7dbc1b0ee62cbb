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
