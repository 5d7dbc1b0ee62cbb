package fastyaml

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// cases: documents Decode must decode itself (fast true) or leave to yaml.v3.
var cases = []struct {
	doc  string
	fast bool
}{
	{"name: pg-0123456789\n", true},
	{"host: \"pg\"\nport: 5432\nname: \"app\"\npassword: \"🔐💬pg_password💬🔐\"\n", true},
	{"a: 1\nb: -2\nc: 0\nd: true\ne: False\nf: null\ng: ~\nh:\ni: yes\nj: on\nk: 128Mi\nl: 100m\nm: postgres:17-alpine\n", true},
	{"- apiVersion: v1\n  kind: Service\n  metadata:\n    name: x  # a comment\n    labels: {}\n  spec:\n    ports:\n      - name: http\n        port: 80\n", true},
	{"args: [\"--save\", \"\", \"--appendonly\", \"no\"]\npolicyTypes: [Ingress]\nempty: []\n", true},
	{"list:\n- a\n- b\nnext: c\n", true},
	{"- \n- x\n-\n  - y\n", true},
	{"# leading comment\nk: v\n\n# trailing\n", true},
	{"'quoted key': 'it''s'\n\"esc\": \"a\\\"b\\\\c\\nd\\u00e9\"\n", true},
	{"url: https://x.example.com/a?b=c#frag\npath: /var/lib/data\nv: $(VAR)\nu: _x\n", true},
	{"- a: 1\n  b:\n    - c: 2\n      d: [x, y]\n- e\n", true},
	{"key: a[0]\n", true},

	{"", false},
	{"# only a comment\n", false},
	{"plain scalar\n", false},
	{"k: |\n  block\n", false},
	{"k: >\n  folded\n", false},
	{"k: &a x\nl: *a\n", false},
	{"k: !!str 1\n", false},
	{"k: 1.5\n", false},
	{"k: 0x1F\n", false},
	{"k: 1e3\n", false},
	{"k: 2001-12-14\n", false},
	{"k: 1_000\n", false},
	{"k: 012\n", false},
	{"k: 99999999999999999999\n", false},
	{"k: .inf\n", false},
	{"k: a\nk: b\n", false},
	{"k: multi\n  line\n", false},
	{"k: \"open\n  quote\"\n", false},
	{"k: {a: b}\n", false},
	{"k: [a, [b]]\n", false},
	{"1: a\n", false},
	{"true: a\n", false},
	{"---\nk: v\n", false},
	{"k: v\n---\nl: w\n", false},
	{"k:\tv\n", false},
	{"  indented: top\n", false},
	{"k: \"x\"y\n", false},
	{"k: \"x\"#y\n", false},
	{"k: a: b\n", false},
	{"- - x\n", false},
	{"k: \"\\x41\"\n", false},
	{"- a\nb: c\n", false},
	{"? complex\n: key\n", false},
	{"<<: {a: b}\n", false},
	{"k:v\n", false},
}

func TestDecode(t *testing.T) {
	for _, tt := range cases {
		got, fast := Decode([]byte(tt.doc))
		if fast != tt.fast {
			t.Errorf("Decode(%q): fast = %v, want %v", tt.doc, fast, tt.fast)
			continue
		}
		if fast {
			checkSameAsYAMLv3(t, []byte(tt.doc), got)
		}
	}
}

// TestDecodeExampleTemplates: the literal YAML in the example rules' templates (template
// actions replaced by a name) is decoded on the fast path, as yaml.v3 decodes it.
func TestDecodeExampleTemplates(t *testing.T) {
	files, err := filepath.Glob("../../../examples/rules/definitions/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example definitions (%v)", err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range templateBlocks(string(b)) {
			if _, ok := Decode([]byte(block)); !ok {
				continue // conditionals and the like; the render goldens cover them
			}
			n++
			got, _ := Decode([]byte(block))
			checkSameAsYAMLv3(t, []byte(block), got)
		}
	}
	if n < 10 {
		t.Errorf("only %d example template blocks took the fast path", n)
	}
}

// templateBlocks returns the bodies of the "field: |" blocks of a definitions file, with
// every {{ ... }} action replaced by a plain word and lines holding only an action dropped.
func templateBlocks(s string) []string {
	var out []string
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasSuffix(lines[i], ": |") {
			continue
		}
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " ")) + 2
		var body []string
		for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || strings.HasPrefix(lines[i+1], strings.Repeat(" ", indent))) {
			i++
			l := lines[i]
			if len(l) >= indent {
				l = l[indent:]
			}
			for {
				a := strings.Index(l, "{{")
				b := strings.Index(l, "}}")
				if a < 0 || b < a {
					break
				}
				l = l[:a] + "word" + l[b+2:]
			}
			if strings.TrimSpace(l) == "word" {
				continue
			}
			body = append(body, l)
		}
		out = append(out, strings.Join(body, "\n")+"\n")
	}
	return out
}

func checkSameAsYAMLv3(t *testing.T, doc []byte, fast any) {
	t.Helper()
	want, err := yamlV3(doc)
	if err != nil {
		t.Fatalf("Decode accepted %q, yaml.v3 refuses it: %v", doc, err)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("Decode(%q) = %#v, yaml.v3 gives %#v", doc, fast, want)
	}
}

// FuzzDecode: whatever Decode accepts, yaml.v3 decodes to the same document.
func FuzzDecode(f *testing.F) {
	for _, tt := range cases {
		f.Add(tt.doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		if v, ok := Decode([]byte(doc)); ok {
			checkSameAsYAMLv3(t, []byte(doc), v)
		}
	})
}

// yamlV3 is the reference: yaml.v3, with int as int64 and the first document only.
func yamlV3(doc []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	return int64s(v)
}

func int64s(v any) (any, error) {
	switch v := v.(type) {
	case int:
		return int64(v), nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, c := range v {
			n, err := int64s(c)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, c := range v {
			n, err := int64s(c)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case nil, string, bool, float64:
		return v, nil
	}
	return nil, fmt.Errorf("yaml.v3 gives a %T", v)
}
