package rules

import (
	"strings"
	"testing"
)

// FuzzLoad: any platform, definitions and provisioner files either load or fail with a
// FieldError; never a panic. What loads must also match and explain without panicking.
func FuzzLoad(f *testing.F) {
	f.Add(platformOK, "id: pg\ntype: postgres\nvalues: {host: h}\n", "")
	f.Fuzz(func(t *testing.T, platform, definitions, provisioners string) {
		files := map[string]string{}
		if platform != "" {
			files["platform.yaml"] = platform
		}
		if definitions != "" {
			files["definitions/d.yaml"] = definitions
		}
		if provisioners != "" {
			files["p.provisioners.yaml"] = provisioners
		}
		r, err := Load(mapFS(files))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		types := map[string]bool{"postgres": true}
		for _, d := range r.Definitions {
			types[d.Type] = true
		}
		for typ := range types {
			for _, e := range r.Platform.Environments {
				c := Context{Type: typ, ResID: "w.r", AppID: "app", EnvID: e.Name, EnvType: e.Type}
				m, _ := r.Match(c)
				if !strings.Contains(m.Explain(), typ) {
					t.Fatalf("explain does not name the type %q", typ)
				}
				r.WorkloadAdjustments(c)
				r.Platform.NamespaceFor("app", e.Name)
			}
		}
	})
}
