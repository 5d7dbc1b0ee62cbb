package provision

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"

	yaml "go.yaml.in/yaml/v3"

	"github.com/scorebot/scorebot/internal/render/fastyaml"
	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// Data is what a template driver's templates see. The fields up to Namespace are exactly
// score-k8s's, so its provisioner files run unchanged; App, Env and Resources are ours.
type Data struct {
	// Guid is a UUID derived from environment, app and Uid (see guid), stable across renders.
	Guid  string
	Uid   string // type.class#id
	Type  string
	Class string
	Id    string // "<workload>.<name>" or the Score id

	Params   map[string]any
	Metadata map[string]any

	Init   map[string]any
	State  map[string]any // always starts empty: rendering keeps no state
	Shared map[string]any

	SourceWorkload   string
	WorkloadMetadata map[string]any // workload name → its metadata
	WorkloadServices map[string]NetworkService
	// Namespace is where the resource's objects go: the app's namespace, or for a shared
	// resource the environment's shared namespace.
	Namespace string

	App string
	Env Env
	// Resources holds, per Requires key of the definition, the outputs of that resource.
	Resources map[string]map[string]any
}

// Env is the environment a template renders for.
type Env struct {
	Name string // env_id
	Type string // env_type
}

// NetworkService says how to reach a workload's service ports, as in score-k8s.
type NetworkService struct {
	ServiceName string
	// Ports by name, and also by port number as a string when that does not clash with a name
	// (score-k8s does the same so that `port: 8080` works where a name is expected).
	Ports map[string]ServicePort
}

// ServicePort is one port of a workload's service.
type ServicePort struct {
	Name       string
	Port       int
	TargetPort int
	Protocol   string // TCP (default) or UDP
}

// Template fields in the order they run.
const (
	fieldInit      = "init"
	fieldState     = "state"
	fieldShared    = "shared"
	fieldOutputs   = "outputs"
	fieldManifests = "manifests"
)

// templateRun is one execution of a definition's templates for one resource.
type templateRun struct {
	def  *rules.Definition
	data *Data
	x    *executor
}

// executor runs templates for one Provision call, one at a time.
type executor struct {
	buf   bytes.Buffer
	rand  seededRand
	regex regexCache
	// variants maps a parsed template to what to execute: itself, or, when it calls a
	// function that isOverridden names, a clone with the executor's (made once per call).
	variants  map[*template.Template]*template.Template
	manifests *manifestDecoder
}

func (x *executor) variant(t *template.Template) (*template.Template, bool, error) {
	v, ok := x.variants[t]
	if !ok {
		v = t
		if callsOverridden(t) {
			c, err := t.Clone()
			if err != nil {
				return nil, false, err
			}
			// Funcs on the clone leaves the parsed original, shared by every render, untouched.
			v = c.Funcs(x.rand.funcs()).Funcs(x.regex.funcs())
		}
		x.variants[t] = v
	}
	return v, v != t, nil
}

// run executes init → state → shared → outputs → manifests and fills res. shared is updated
// in place.
func (tr *templateRun) run(res *Resource, shared map[string]any) error {
	d := tr.data
	var err error
	if d.Init, err = tr.execMap(fieldInit, tr.def.Init); err != nil {
		return err
	}
	if d.State, err = tr.execMap(fieldState, tr.def.State); err != nil {
		return err
	}
	patch, err := tr.execMap(fieldShared, tr.def.Shared)
	if err != nil {
		return err
	}
	mergeInto(shared, patch)
	if res.Outputs, err = tr.execMap(fieldOutputs, tr.def.Outputs); err != nil {
		return err
	}
	raw, err := tr.exec(fieldManifests, tr.def.Manifests)
	if err != nil {
		return err
	}
	res.Init, res.State = d.Init, d.State
	if len(raw) > 0 {
		// Nothing later reads a resource's manifests, so they are decoded off this loop.
		tr.x.manifests.add(&manifestJob{tr: tr, res: res, raw: bytes.Clone(raw)})
	}
	return nil
}

// manifestJob is one resource's manifests template output, waiting to be decoded.
type manifestJob struct {
	tr  *templateRun
	res *Resource
	raw []byte
	err error
}

func (j *manifestJob) decode() { j.res.Manifests, j.err = j.tr.manifests(j.raw) }

// manifestDecoder decodes manifests on other cores while templates keep running. Decoding
// YAML is most of a render's work, and each resource's manifests are independent.
type manifestDecoder struct {
	jobs chan *manifestJob // nil: decode inline
	all  []*manifestJob
	wg   sync.WaitGroup
}

func newManifestDecoder(workers int) *manifestDecoder {
	d := &manifestDecoder{}
	if workers < 1 {
		return d
	}
	d.jobs = make(chan *manifestJob, 64)
	for range workers {
		d.wg.Go(func() {
			for j := range d.jobs {
				j.decode()
			}
		})
	}
	return d
}

func (d *manifestDecoder) add(j *manifestJob) {
	d.all = append(d.all, j)
	if d.jobs == nil {
		j.decode()
		return
	}
	d.jobs <- j
}

// wait stops the workers and returns the first error in provisioning order. It must be
// called once, on every path.
func (d *manifestDecoder) wait() error {
	if d.jobs != nil {
		close(d.jobs)
		d.wg.Wait()
	}
	for _, j := range d.all {
		if j.err != nil {
			return j.err
		}
	}
	return nil
}

func (tr *templateRun) fail(field string, err error) error {
	return &TemplateError{Uid: tr.data.Uid, Definition: tr.def.ID, File: tr.def.File, Field: field, Err: err}
}

// TemplateError is a failure of one template of a definition for one resource.
type TemplateError struct {
	Uid        string
	Definition string
	File       string
	Field      string // init, state, shared, outputs or manifests
	Err        error
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("resource %s: definition %s (%s): %s template: %v", e.Uid, e.Definition, e.File, e.Field, e.Err)
}

func (e *TemplateError) Unwrap() error { return e.Err }

// exec runs one template and returns its trimmed output ("" when the template is absent).
func (tr *templateRun) exec(field string, t *template.Template) ([]byte, error) {
	if t == nil {
		return nil, nil
	}
	v, seeded, err := tr.x.variant(t)
	if err != nil {
		return nil, tr.fail(field, err)
	}
	if seeded {
		tr.x.rand.reseed(tr.data.Guid, tr.data.Uid, field)
	}
	buf := &tr.x.buf
	buf.Reset()
	if err := v.Execute(buf, tr.data); err != nil {
		return nil, tr.fail(field, tr.execError(field, t, err))
	}
	if bytes.Contains(buf.Bytes(), noValue) {
		return nil, tr.fail(field, tr.noValueError(field, t))
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// noValue is what text/template prints for a map key that is not there, or set to null.
var noValue = []byte("<no value>")

// noValueError says which field a template printed as "<no value>" (a misspelt or unset key
// would otherwise reach the manifests as that text). Only fields an action prints as they are
// ({{ .Init.x }}, {{ $.Params.y }}) can print it; a field read by if, with, range or a
// function such as default cannot, so those are not blamed.
func (tr *templateRun) noValueError(field string, t *template.Template) error {
	what, line := printedNoValue(t, tr.data)
	where := tr.def.File
	if first, known := tr.def.TemplateLines[field]; known && first > 0 && line > 0 {
		where = fmt.Sprintf("%s:%d", tr.def.File, first+line-1)
	}
	if what == "" {
		return fmt.Errorf("%s: the output holds the text <no value>: a value the template prints is null, or a Score value holds that text; give the value a default (| default \"...\") or change the Score value", where)
	}
	fix := "fix the name, or give it a default"
	if strings.HasSuffix(what, " is null") {
		fix = "give it a value, or a default"
	}
	return fmt.Errorf("%s: the template printed <no value>: %s: %s (| default \"...\")", where, what, fix)
}

// printedNoValue finds the first field an action prints as it is that is missing from its
// map or null in data, and the template line it is on: "<.a.b> is not set (a has: x, y)" or
// "<.a.b> is null".
func printedNoValue(t *template.Template, data *Data) (string, int) {
	if t.Tree == nil || t.Tree.Root == nil {
		return "", 0
	}
	var found string
	var line int
	fieldRefs(t.Tree.Root, func(n parse.Node, shown string, path []string, printed bool) bool {
		if !printed {
			return false
		}
		if found = missingIn(reflect.ValueOf(data), shown, path); found == "" && isNull(reflect.ValueOf(data), path) {
			found = shown + " is null"
		}
		line = nodeLine(t.Tree, n)
		return found != ""
	})
	return found, line
}

// isNull reports whether path resolves in v, through struct fields and string-keyed maps, to
// a nil value.
func isNull(v reflect.Value, path []string) bool {
	for _, name := range path {
		for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
			if v.IsNil() {
				return true
			}
			v = v.Elem()
		}
		switch {
		case !v.IsValid():
			return false
		case v.Kind() == reflect.Struct:
			v = v.FieldByName(name)
		case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
			v = v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key()))
		default:
			return false
		}
	}
	return v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer || v.Kind() == reflect.Map || v.Kind() == reflect.Slice) && v.IsNil()
}

// execError turns text/template's `template: <name>:<line>:<col>: executing "<name>" at
// <node>: <message>` into `<file>:<line>: at <node>: <message>`, with the line counted in
// the rules file when the rules package recorded where the template starts.
//
// When a field the template reads on that line is a key missing from its map (text/template
// gives the zero value, which fails later, as `at <upper>: invalid value; expected string`),
// the message starts with that key and what the map has instead.
func (tr *templateRun) execError(field string, t *template.Template, err error) error {
	name := t.Name()
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "template: "+name+":")
	if !ok {
		return err
	}
	lineStr, rest, ok := strings.Cut(rest, ":")
	if !ok {
		return err
	}
	line, convErr := strconv.Atoi(lineStr)
	if convErr != nil {
		return err
	}
	if _, after, found := strings.Cut(rest, ": "); found {
		rest = after // drop the column
	}
	rest = strings.TrimPrefix(rest, "executing \""+name+"\" ")
	where := fmt.Sprintf("template line %d", line)
	if first, known := tr.def.TemplateLines[field]; known && first > 0 {
		where = fmt.Sprintf("%s:%d", tr.def.File, first+line-1)
	}
	if strings.Contains(rest, "error calling fail:") {
		return fmt.Errorf("%s: %s", where, rest) // the template's own message
	}
	if missing := missingKey(t, line, tr.data); missing != "" {
		return fmt.Errorf("%s: %s: fix the name, or set it (for an optional value, use default) (text/template: %s)", where, missing, rest)
	}
	return fmt.Errorf("%s: %s", where, rest)
}

// missingKey returns "<.a.b> is not set (a has: x, y)" for the first field the template
// reads on line whose last key is missing from a map of data, or "".
func missingKey(t *template.Template, line int, data *Data) string {
	if t.Tree == nil || t.Tree.Root == nil {
		return ""
	}
	var found string
	fieldRefs(t.Tree.Root, func(n parse.Node, shown string, path []string, _ bool) bool {
		if nodeLine(t.Tree, n) == line {
			found = missingIn(reflect.ValueOf(data), shown, path)
		}
		return found != ""
	})
	return found
}

// fieldRefs calls visit, in template order, for each field the template reads from its data
// (.a.b where dot is the data, $.a.b anywhere), with how it is shown and its path; printed is
// set when an action prints the field as it is ({{ .a.b }}, not piped to a function, not in
// if, with or range). It stops when visit returns true.
func fieldRefs(root parse.Node, visit func(n parse.Node, shown string, path []string, printed bool) bool) {
	stop := false
	var walk func(n parse.Node, rooted, printed bool)
	walk = func(n parse.Node, rooted, printed bool) {
		if n == nil || stop {
			return
		}
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c, rooted, false)
			}
		case *parse.ActionNode:
			p := n.Pipe
			walk(p, rooted, p != nil && len(p.Decl) == 0 && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c, rooted, printed)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a, rooted, printed)
			}
		case *parse.IfNode:
			walk(n.Pipe, rooted, false)
			walk(n.List, rooted, false)
			walk(n.ElseList, rooted, false)
		case *parse.RangeNode:
			walk(n.Pipe, rooted, false)
			walk(n.List, false, false) // dot is the element
			walk(n.ElseList, rooted, false)
		case *parse.WithNode:
			walk(n.Pipe, rooted, false)
			walk(n.List, false, false) // dot is the value
			walk(n.ElseList, rooted, false)
		case *parse.FieldNode:
			if rooted {
				stop = visit(n, "."+strings.Join(n.Ident, "."), n.Ident, printed)
			}
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				stop = visit(n, strings.Join(n.Ident, "."), n.Ident[1:], printed)
			}
		}
	}
	walk(root, true, false)
}

// nodeLine is the template line of n.
func nodeLine(tree *parse.Tree, n parse.Node) int {
	loc, _ := tree.ErrorContext(n) // "name:line:col"
	parts := strings.Split(loc, ":")
	if len(parts) < 3 {
		return 0
	}
	line, _ := strconv.Atoi(parts[len(parts)-2])
	return line
}

// missingIn follows path from v through struct fields and string-keyed maps and describes
// the first map key that is missing; "" when the path resolves or leaves maps and structs.
func missingIn(v reflect.Value, shown string, path []string) string {
	for i, name := range path {
		for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
			v = v.Elem()
		}
		switch {
		case !v.IsValid():
			return ""
		case v.Kind() == reflect.Struct:
			v = v.FieldByName(name)
		case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
			next := v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key()))
			if !next.IsValid() {
				parent := strings.Join(path[:i], ".")
				if parent == "" {
					parent = "the map"
				}
				var keys []string
				for _, k := range v.MapKeys() {
					keys = append(keys, k.String())
				}
				if len(keys) == 0 {
					return fmt.Sprintf("%s is not set (%s is empty)", shown, parent)
				}
				slices.Sort(keys)
				return fmt.Sprintf("%s is not set (%s has: %s)", shown, parent, strings.Join(keys, ", "))
			}
			v = next
		default:
			return ""
		}
	}
	return ""
}

// yamlLine finds the line yaml.v3 blames in its syntax errors ("yaml: line 2: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError words a template output that is not YAML: where the template is, the output
// line yaml blames, quoted, and the usual fix. Output is shown only from templates, whose
// secret values are references, never plaintext (see checkSecretOutputs).
func (tr *templateRun) yamlError(field string, raw []byte, err error) error {
	where := "its output"
	if first, known := tr.def.TemplateLines[field]; known && first > 0 {
		where = fmt.Sprintf("the output of the template at %s:%d", tr.def.File, first)
	}
	var ye *yamlSyntaxError
	if !errors.As(err, &ye) {
		return fmt.Errorf("%s: %w", where, err)
	}
	m := yamlLine.FindStringSubmatch(ye.err.Error())
	lines := strings.Split(string(raw), "\n")
	if m == nil {
		return fmt.Errorf("%s is not valid YAML: %v: %s", where, ye.err, yamlFix)
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 || n > len(lines) {
		return fmt.Errorf("%s is not valid YAML: output line %s: %s: %s", where, m[1], m[2], yamlFix)
	}
	return fmt.Errorf("%s is not valid YAML: output line %d %q: %s: %s", where, n, quotable(lines[n-1]), m[2], yamlFix)
}

// secretishKey matches keys whose values an error message must not show.
var secretishKey = regexp.MustCompile(`(?i)pass|secret|token|key|cred|auth|cert|private`)

// quotable is an output line as an error may show it: cut at 160 bytes, and with the value
// hidden when the key sounds like it holds a secret (a template with broken YAML has not had
// its secret outputs checked yet).
func quotable(line string) string {
	if k, _, found := strings.Cut(line, ":"); found && secretishKey.MatchString(k) {
		return k + ": <value hidden>"
	}
	if len(line) > 160 {
		line = line[:160] + "…"
	}
	return line
}

// yamlFix is the usual fix for template output that is not YAML.
const yamlFix = `quote values that contain ": " or " #" or start with one of [ { * & ! | > ' " % @, ` +
	`e.g. url: {{ .Init.url | quote }}, or emit a whole value with toJson`

// yamlSyntaxError is yaml.v3's error for output that does not parse.
type yamlSyntaxError struct{ err error }

func (e *yamlSyntaxError) Error() string { return "output is not valid YAML: " + e.err.Error() }
func (e *yamlSyntaxError) Unwrap() error { return e.err }

// execMap runs a template that must produce a YAML mapping; no output is an empty map.
func (tr *templateRun) execMap(field string, t *template.Template) (map[string]any, error) {
	raw, err := tr.exec(field, t)
	if err != nil {
		return nil, err
	}
	v, err := decodeYAML(raw)
	if err != nil {
		return nil, tr.fail(field, tr.yamlError(field, raw, err))
	}
	switch v := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return v, nil
	}
	return nil, tr.fail(field, fmt.Errorf("want a YAML mapping (key: value), got %s", kindOf(v)))
}

// manifests decodes the manifests template output: a YAML list of Kubernetes objects.
func (tr *templateRun) manifests(raw []byte) ([]manifest.Object, error) {
	v, err := decodeYAML(raw)
	if err != nil {
		return nil, tr.fail(fieldManifests, tr.yamlError(fieldManifests, raw, err))
	}
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, tr.fail(fieldManifests, fmt.Errorf("want a YAML list of Kubernetes objects, got %s", kindOf(v)))
	}
	source := fmt.Sprintf("definition %s (%s)", tr.def.ID, tr.def.File)
	out := make([]manifest.Object, 0, len(list))
	for i, item := range list {
		if item == nil {
			continue // an empty list entry, typically left by a conditional
		}
		doc, ok := item.(map[string]any)
		if !ok {
			return nil, tr.fail(fieldManifests, fmt.Errorf("item %d: want a Kubernetes object (a mapping), got %s", i, kindOf(item)))
		}
		o := manifest.Object{Doc: doc, Source: source}
		if o.APIVersion() == "" || o.Kind() == "" || o.Name() == "" {
			return nil, tr.fail(fieldManifests, fmt.Errorf("item %d (kind %q, name %q): %w", i, o.Kind(), o.Name(), manifest.ErrIncomplete))
		}
		out = append(out, o)
	}
	return out, nil
}

// decodeYAML decodes YAML into a JSON-compatible document with whole numbers as int64 and
// others as float64, the same types on every run. It uses yaml.v3 (YAML 1.2, as score-k8s
// does: `yes` and `on` are strings, not booleans) and takes the first document only, as
// score-k8s does. The common shapes of template output are decoded by package fastyaml, which
// gives the same documents (its FuzzDecode).
func decodeYAML(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if v, ok := fastyaml.Decode(raw); ok {
		return v, nil
	}
	return decodeYAMLv3(raw)
}

// decodeYAMLv3 is decodeYAML with yaml.v3 only.
func decodeYAMLv3(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, &yamlSyntaxError{err: err}
	}
	n, err := normalize(v)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return n, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("a %T", v)
}
