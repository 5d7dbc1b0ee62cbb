package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/scorebot/scorebot/internal/render/secretref"
)

// WorkloadType is the definition type that adjusts a workload's own objects.
const WorkloadType = "workload"

// FuncMap is the function map of every rules template: sprig's text functions plus
// encodeSecretRef(name, key), as in score-k8s. It returns a new map on each call.
func FuncMap() template.FuncMap {
	m := sprig.TxtFuncMap()
	m["encodeSecretRef"] = secretref.Encode
	// sprig's keys and values follow Go's random map order; these are sorted by key.
	m["keys"] = sortedDictKeys
	m["values"] = dictValuesByKey
	for name, why := range impureFuncs {
		m[name] = refuse(name, why)
	}
	return m
}

// sortedDictKeys is sprig's keys (the keys of one or more dicts), sorted: sprig returns
// them in Go's random map order, which would make a template's output differ between runs.
func sortedDictKeys(dicts ...map[string]any) []string {
	var keys []string
	for _, d := range dicts {
		for k := range d {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// dictValuesByKey is sprig's values, in the order of the sorted keys.
func dictValuesByKey(dict map[string]any) []any {
	keys := sortedDictKeys(dict)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = dict[k]
	}
	return out
}

// impureFuncs are sprig functions a rules template may not call: rendering must be pure
// (same inputs, same bytes) and must not read the bot's environment, clock or network.
// Random functions are not here: package provision replaces them with ones seeded from
// stable inputs.
var impureFuncs = map[string]string{
	"env":                      "it reads the bot's process environment, which may hold credentials",
	"expandenv":                "it reads the bot's process environment, which may hold credentials",
	"getHostByName":            "it queries DNS at render time",
	"now":                      "it reads the clock, so every render would differ",
	"date":                     "it formats the clock or a given time; format a fixed value with toDate instead",
	"dateInZone":               "it reads the clock or time zone data",
	"date_in_zone":             "it reads the clock or time zone data",
	"ago":                      "it reads the clock",
	"unixEpoch":                "it reads the clock",
	"htmlDate":                 "it reads the clock",
	"htmlDateInZone":           "it reads the clock",
	"genPrivateKey":            "it generates a key at random, and a key must never be written to Git",
	"genCA":                    "it generates a key at random, and a key must never be written to Git",
	"genCAWithKey":             "it generates a certificate at random",
	"genSelfSignedCert":        "it generates a key at random, and a key must never be written to Git",
	"genSelfSignedCertWithKey": "it generates a certificate at random",
	"genSignedCert":            "it generates a key at random, and a key must never be written to Git",
	"genSignedCertWithKey":     "it generates a certificate at random",
	"bcrypt":                   "it salts at random",
	"htpasswd":                 "it salts at random",
}

// refuse returns a template function that fails with a message saying why name is not
// allowed and what to do instead.
func refuse(name, why string) func(...any) (string, error) {
	return func(...any) (string, error) {
		return "", fmt.Errorf("function %q is not allowed in rules templates: %s; "+
			"provide the value through an ExternalSecret, a cert-manager Certificate or an echo definition instead", name, why)
	}
}

var templateFields = []string{"init", "state", "shared", "outputs", "manifests"}

var (
	resourceFields = []string{"id", "type", "class", "description", "criteria", "driver",
		"init", "state", "shared", "outputs", "manifests", "values",
		"secretOutputs", "expectedOutputs", "supportedParams", "requires"}
	workloadFields = []string{"id", "type", "description", "criteria", "labels", "annotations",
		"serviceAccountName", "replicas", "podSecurityContext", "securityContext"}
	criterionFields    = []string{"app_id", "env_type", "env_id", "res_id", "class"}
	requirementFields  = []string{"type", "class", "id"}
	templateProvFields = []string{"uri", "type", "class", "id", "description",
		"init", "state", "shared", "outputs", "manifests", "expected_outputs", "supported_params"}
	cmdProvFields = []string{"uri", "type", "class", "id", "description", "args",
		"expected_outputs", "supported_params"}
)

// definitionFile reads one file under definitions/: one definition per document, or a list.
func (l *loader) definitionFile(file string) ([]*Definition, []*WorkloadDefinition) {
	docs, d := l.read(file)
	defer l.done(d)
	var defs []*Definition
	var wls []*WorkloadDefinition
	add := func(n *yaml.Node, path string) {
		n = d.resolve(n)
		if n == nil || n.Kind != yaml.MappingNode {
			d.fail(n, path, "write each definition as a mapping with id, type, criteria and a driver", "expected a definition, found %s", kindName(n))
			return
		}
		if t := childNode(d, n, "type"); t != n && d.resolve(t) != nil && d.resolve(t).Value == WorkloadType {
			if w := l.workload(d, n, path); w != nil {
				wls = append(wls, w)
			}
			return
		}
		if def := l.definition(d, n, path); def != nil {
			defs = append(defs, def)
		}
	}
	for _, doc := range docs {
		doc = d.resolve(doc)
		if doc != nil && doc.Kind == yaml.SequenceNode {
			for i, c := range doc.Content {
				add(c, index("", i))
			}
			continue
		}
		add(doc, "")
	}
	return defs, wls
}

// claimID records a definition id, reporting a duplicate with both places.
func (l *loader) claimID(d *decoder, n *yaml.Node, path, id string) {
	here := d.file + ":" + strconv.Itoa(n.Line)
	if prev, dup := l.ids[id]; dup {
		d.fail(n, path, "give each definition a unique id", "duplicate id %q, also defined at %s", id, prev)
		return
	}
	l.ids[id] = here
}

func (l *loader) idField(d *decoder, f map[string]*yaml.Node, n *yaml.Node, path string) (string, bool) {
	v := f["id"]
	id := d.str(v, join(path, "id"))
	switch {
	case v == nil || id == "":
		d.fail(n, join(path, "id"), "add `id: <unique-name>`, e.g. postgres-production", "missing definition id")
		return "", false
	case !dnsLabel.MatchString(id) || len(id) > 63:
		d.fail(v, join(path, "id"), "use lowercase letters, digits and '-' (a DNS label)", "invalid definition id %q", id)
		return "", false
	}
	l.claimID(d, v, join(path, "id"), id)
	return id, true
}

func (l *loader) definition(d *decoder, n *yaml.Node, path string) *Definition {
	n = d.resolve(n)
	f, _ := d.fields(n, path, resourceFields)
	if f == nil {
		return nil
	}
	def := &Definition{File: d.file, Line: n.Line}
	def.ID, _ = l.idField(d, f, n, path)
	def.Type = d.str(f["type"], join(path, "type"))
	if def.Type == "" {
		d.fail(n, join(path, "type"), "add the Score resource type it provides, e.g. `type: postgres` (or `type: workload`)", "missing type")
	} else if !typeName.MatchString(def.Type) {
		d.fail(f["type"], join(path, "type"), "use letters, digits, '-', '_' and '.'", "invalid type %q", def.Type)
	}
	if v := f["class"]; v != nil {
		def.Class = d.str(v, join(path, "class"))
		if !typeName.MatchString(def.Class) {
			d.fail(v, join(path, "class"), "use letters, digits, '-', '_' and '.', or omit it for "+DefaultClass, "invalid class %q", def.Class)
		}
	}
	def.Description = d.str(f["description"], join(path, "description"))
	def.Criteria = l.criteria(d, f["criteria"], join(path, "criteria"), def.Class, true)

	hasTemplate := false
	for _, k := range templateFields {
		if f[k] != nil {
			hasTemplate = true
		}
	}
	driver := d.str(f["driver"], join(path, "driver"))
	switch {
	case driver == "" && f["values"] != nil && !hasTemplate:
		driver = DriverEcho
	case driver == "" && hasTemplate && f["values"] == nil:
		driver = DriverTemplate
	case driver == "":
		d.fail(n, join(path, "driver"), "set `driver: template` with init/state/shared/outputs/manifests, or `driver: echo` with values", "cannot tell the driver")
	case driver != DriverTemplate && driver != DriverEcho:
		d.fail(f["driver"], join(path, "driver"), "use template or echo", "unknown driver %q", driver)
	}
	def.Driver = driver
	switch driver {
	case DriverTemplate:
		if f["values"] != nil {
			d.fail(f["values"], join(path, "values"), "move the values into the outputs template, or use driver: echo", "values are for the echo driver")
		}
		if !hasTemplate {
			d.fail(n, path, "add at least one of init, state, shared, outputs, manifests", "template definition without templates")
		}
		l.templates(d, f, path, def)
		def.SecretOutputs = d.strList(f["secretOutputs"], join(path, "secretOutputs"))
	case DriverEcho:
		for _, k := range templateFields {
			if f[k] != nil {
				d.fail(f[k], join(path, k), "remove it, or use driver: template", "%s is a template field; the echo driver only takes values", k)
			}
		}
		def.Values, def.SecretOutputs = l.echoValues(d, f["values"], join(path, "values"), f["secretOutputs"], join(path, "secretOutputs"))
	}
	def.ExpectedOutputs = d.strList(f["expectedOutputs"], join(path, "expectedOutputs"))
	def.SupportedParams = d.strList(f["supportedParams"], join(path, "supportedParams"))
	def.Requires = l.requires(d, f["requires"], join(path, "requires"))
	return def
}

// criteria reads a criteria list. resource says whether class is allowed.
func (l *loader) criteria(d *decoder, n *yaml.Node, path, defClass string, resource bool) []Criterion {
	n = d.resolve(n)
	if d.isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "write a list, e.g. [{env_type: production}]", "expected a list of criteria, found %s", kindName(n))
		return nil
	}
	allowed := criterionFields
	if !resource {
		allowed = criterionFields[:4]
	}
	out := make([]Criterion, 0, len(n.Content))
	for i, c := range n.Content {
		p := index(path, i)
		f, ok := d.fields(c, p, allowed)
		if !ok {
			continue
		}
		cr := Criterion{
			AppID:   d.str(f["app_id"], join(p, "app_id")),
			EnvType: d.str(f["env_type"], join(p, "env_type")),
			EnvID:   d.str(f["env_id"], join(p, "env_id")),
			ResID:   d.str(f["res_id"], join(p, "res_id")),
			Class:   d.str(f["class"], join(p, "class")),
		}
		if v := f["env_id"]; v != nil && cr.EnvID != "" && l.validEnvs() && !slices.ContainsFunc(l.envs, func(e Environment) bool { return e.Name == cr.EnvID }) {
			d.fail(v, join(p, "env_id"), "use one of: "+strings.Join(l.envNames(), ", "), "unknown environment %q", cr.EnvID)
		}
		if v := f["env_type"]; v != nil && cr.EnvType != "" && l.validEnvs() && !slices.ContainsFunc(l.envs, func(e Environment) bool { return e.Type == cr.EnvType }) {
			d.fail(v, join(p, "env_type"), "use one of: "+strings.Join(l.envTypes(), ", "), "no environment has type %q", cr.EnvType)
		}
		if v := f["app_id"]; v != nil && cr.AppID != "" && !dnsLabel.MatchString(cr.AppID) {
			d.fail(v, join(p, "app_id"), "app ids are DNS labels (lowercase letters, digits, '-')", "invalid app id %q", cr.AppID)
		}
		if v := f["class"]; v != nil && defClass != "" && cr.Class != "" && cr.Class != defClass {
			d.fail(v, join(p, "class"), "remove the criterion's class, or make it equal to the definition's class", "class %q contradicts the definition's class %q, so this criterion can never match", cr.Class, defClass)
		}
		out = append(out, cr)
	}
	return out
}

// validEnvs is false when the platform file had no usable environments; criteria are then
// not checked against them, to avoid a follow-on error per criterion.
func (l *loader) validEnvs() bool { return len(l.envs) > 0 }

func (l *loader) envNames() []string {
	var out []string
	for _, e := range l.envs {
		out = append(out, e.Name)
	}
	return out
}

func (l *loader) envTypes() []string {
	var out []string
	for _, e := range l.envs {
		if !slices.Contains(out, e.Type) {
			out = append(out, e.Type)
		}
	}
	return out
}

var templateLine = regexp.MustCompile(`^(\d+):(?:\d+:)? ?(.*)$`)

// templates parses the template fields of a definition or provisioner, once.
func (l *loader) templates(d *decoder, f map[string]*yaml.Node, path string, def *Definition) {
	for _, k := range templateFields {
		v := d.resolve(f[k])
		if v == nil || d.isNull(v) {
			continue
		}
		p := join(path, k)
		if v.Kind != yaml.ScalarNode {
			d.fail(v, p, "write the template as a string, e.g. with `"+k+": |` and the YAML indented below", "expected a template string, found %s", kindName(v))
			continue
		}
		raw := v.Value
		// score-k8s trims templates before parsing; do the same, keeping track of lines.
		trimmed := strings.TrimLeft(raw, " \t\r\n")
		skipped := strings.Count(raw[:len(raw)-len(trimmed)], "\n")
		trimmed = strings.TrimSpace(trimmed)
		if trimmed == "" {
			continue
		}
		first := v.Line + skipped
		if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			first++
		}
		name := def.ID + "." + k
		t, err := template.New(name).Funcs(l.funcs).Parse(trimmed)
		if err != nil {
			msg, line := err.Error(), first
			if m := templateLine.FindStringSubmatch(strings.TrimPrefix(msg, "template: "+name+":")); m != nil {
				n, _ := strconv.Atoi(m[1])
				line, msg = first+n-1, m[2]
			}
			d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Field: p, Msg: "template does not parse: " + msg,
				Fix: "fix the Go template syntax (text/template with sprig functions and encodeSecretRef)"})
			continue
		}
		if def.TemplateLines == nil {
			def.TemplateLines = map[string]int{}
		}
		def.TemplateLines[k] = first
		switch k {
		case "init":
			def.Init = t
		case "state":
			def.State = t
		case "shared":
			def.Shared = t
		case "outputs":
			def.Outputs = t
		case "manifests":
			def.Manifests = t
		}
	}
}

// echoValues reads an echo definition's values, turning {secretKeyRef: {name, key}} into a
// secret reference string and listing every output that holds one (dotted path for nested
// ones). Declared secretOutputs must be references; credential-looking plaintext is refused.
func (l *loader) echoValues(d *decoder, n *yaml.Node, path string, declared *yaml.Node, declaredPath string) (map[string]any, []string) {
	if n == nil {
		d.fail(nil, path, "add `values:` with the outputs, e.g. host: db.example.com", "echo definition without values")
		return nil, nil
	}
	v, ok := d.value(n, path, 0)
	if !ok {
		return nil, nil
	}
	if v == nil {
		return map[string]any{}, nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		d.fail(n, path, "write the outputs as a mapping of name: value", "expected a mapping, found %s", kindName(d.resolve(n)))
		return nil, nil
	}
	var secrets []string
	var walk func(x any, p string, node *yaml.Node) any
	walk = func(x any, p string, node *yaml.Node) any {
		field := join(path, p)
		switch t := x.(type) {
		case map[string]any:
			if ref, isRef := t["secretKeyRef"]; isRef {
				r, rok := ref.(map[string]any)
				name, _ := r["name"].(string)
				key, _ := r["key"].(string)
				if len(t) != 1 || !rok || len(r) != 2 || len(validation.IsDNS1123Subdomain(name)) > 0 || strings.Contains(name, "_") || len(validation.IsConfigMapKey(key)) > 0 {
					d.fail(node, field, "write {secretKeyRef: {name: <secret name>, key: <key>}} with a valid Secret name and key", "invalid secret reference")
					return ""
				}
				secrets = append(secrets, p)
				return secretref.Encode(name, key)
			}
			keys := sortedKeys(t)
			for _, k := range keys {
				t[k] = walk(t[k], p+"."+k, childNode(d, node, k))
			}
			return t
		case []any:
			for i := range t {
				t[i] = walk(t[i], index(p, i), node)
			}
			return t
		case string:
			if secretref.Contains(t) {
				if _, err := secretref.Split(t); err != nil {
					d.fail(node, field, "write {secretKeyRef: {name, key}} instead", "malformed secret reference: %v", err)
				}
				secrets = append(secrets, p)
			} else if t != "" && looksSecret(p) {
				d.fail(node, field, "never put credentials in the rules repo: write {secretKeyRef: {name: <secret>, key: <key>}} and let an ExternalSecret create that Secret", "looks like a plaintext credential")
			}
		}
		return x
	}
	for _, k := range sortedKeys(m) {
		m[k] = walk(m[k], k, childNode(d, n, k))
	}
	for i, s := range d.strList(declared, declaredPath) {
		if !slices.Contains(secrets, s) {
			d.fail(declared, index(declaredPath, i), "write values."+s+" as {secretKeyRef: {name, key}}, or remove it from secretOutputs", "output %q is listed as secret but is not a secret reference", s)
		}
	}
	slices.Sort(secrets)
	return m, secrets
}

// childNode finds the value node of key in mapping n (for error lines); n itself otherwise.
func childNode(d *decoder, n *yaml.Node, key string) *yaml.Node {
	r := d.resolve(n)
	if r != nil && r.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(r.Content); i += 2 {
			if r.Content[i].Value == key {
				return r.Content[i+1]
			}
		}
	}
	return n
}

// looksSecret reports whether an output name (last path element) names a credential.
func looksSecret(p string) bool {
	if i := strings.LastIndexAny(p, ".]"); i >= 0 {
		p = p[i+1:]
	}
	k := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(p))
	for _, s := range []string{"password", "passwd", "token", "secret", "apikey", "privatekey", "secretkey", "secretaccesskey"} {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (l *loader) requires(d *decoder, n *yaml.Node, path string) map[string]Requirement {
	n = d.resolve(n)
	if d.isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "write requires as a mapping: <key>: {type: <type>, class: <class>, id: <id>}", "expected a mapping, found %s", kindName(n))
		return nil
	}
	out := map[string]Requirement{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			d.fail(n.Content[i], path, "use plain names as keys", "keys must be strings")
			continue
		}
		p := join(path, k.Value)
		if !identifier.MatchString(k.Value) {
			d.fail(k, p, "use letters, digits and '_' so templates can write .Resources."+strings.ReplaceAll(k.Value, "-", "_"), "invalid requirement key %q", k.Value)
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.fail(k, p, "remove one of them", "requirement is listed twice")
			continue
		}
		f, ok := d.fields(n.Content[i+1], p, requirementFields)
		if !ok {
			continue
		}
		r := Requirement{Type: d.str(f["type"], join(p, "type")), Class: d.str(f["class"], join(p, "class")), ID: d.str(f["id"], join(p, "id"))}
		if r.Type == "" || !typeName.MatchString(r.Type) {
			d.fail(n.Content[i+1], join(p, "type"), "name the resource type to provision first, e.g. type: postgres-instance", "missing or invalid type %q", r.Type)
		}
		if r.Class != "" && !typeName.MatchString(r.Class) {
			d.fail(f["class"], join(p, "class"), "use letters, digits, '-', '_' and '.'", "invalid class %q", r.Class)
		}
		if r.ID != "" && !typeName.MatchString(r.ID) {
			d.fail(f["id"], join(p, "id"), "use letters, digits, '-', '_' and '.'", "invalid id %q", r.ID)
		}
		out[k.Value] = r
	}
	return out
}

func (l *loader) workload(d *decoder, n *yaml.Node, path string) *WorkloadDefinition {
	n = d.resolve(n)
	f, _ := d.fields(n, path, workloadFields)
	if f == nil {
		return nil
	}
	w := &WorkloadDefinition{File: d.file, Line: n.Line}
	w.ID, _ = l.idField(d, f, n, path)
	w.Description = d.str(f["description"], join(path, "description"))
	w.Criteria = l.criteria(d, f["criteria"], join(path, "criteria"), "", false)
	w.Labels = d.strMap(f["labels"], join(path, "labels"))
	for _, k := range sortedKeys(w.Labels) {
		p := join(path, "labels."+k)
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			d.fail(childNode(d, f["labels"], k), p, "use a valid label key such as team or example.com/team", "invalid label key: %s", strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(w.Labels[k]); len(errs) > 0 {
			d.fail(childNode(d, f["labels"], k), p, "use at most 63 letters, digits, '-', '_' or '.'", "invalid label value: %s", strings.Join(errs, "; "))
		}
	}
	w.Annotations = d.strMap(f["annotations"], join(path, "annotations"))
	for _, k := range sortedKeys(w.Annotations) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			d.fail(childNode(d, f["annotations"], k), join(path, "annotations."+k), "use a valid annotation key such as example.com/owner", "invalid annotation key: %s", strings.Join(errs, "; "))
		}
	}
	if v := f["serviceAccountName"]; v != nil {
		w.ServiceAccountName = d.str(v, join(path, "serviceAccountName"))
		if errs := validation.IsDNS1123Subdomain(w.ServiceAccountName); len(errs) > 0 {
			d.fail(v, join(path, "serviceAccountName"), "use a valid Kubernetes name", "invalid service account name %q", w.ServiceAccountName)
		}
	}
	if v := f["replicas"]; v != nil {
		if r, ok := d.int32Value(v, join(path, "replicas")); ok {
			w.Replicas = &r
		}
	}
	w.PodSecurityContext = kubeObject[corev1.PodSecurityContext](d, f["podSecurityContext"], join(path, "podSecurityContext"))
	w.SecurityContext = kubeObject[corev1.SecurityContext](d, f["securityContext"], join(path, "securityContext"))
	if len(w.Labels)+len(w.Annotations) == 0 && w.ServiceAccountName == "" && w.Replicas == nil && w.PodSecurityContext == nil && w.SecurityContext == nil {
		d.fail(n, path, "set labels, annotations, serviceAccountName, replicas, podSecurityContext or securityContext", "workload definition changes nothing")
	}
	return w
}

// kubeObject reads a mapping and checks it decodes strictly into the Kubernetes type T.
func kubeObject[T any](d *decoder, n *yaml.Node, path string) map[string]any {
	if n == nil || d.isNull(n) {
		return nil
	}
	v, ok := d.value(n, path, 0)
	if !ok {
		return nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		d.fail(n, path, "write it as a mapping", "expected a mapping, found %s", kindName(d.resolve(n)))
		return nil
	}
	raw, err := json.Marshal(m)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var t T
		err = dec.Decode(&t)
	}
	if err != nil {
		d.fail(n, path, fmt.Sprintf("write a valid Kubernetes %T (see kubectl explain pod.spec)", *new(T)), "%v", err)
		return nil
	}
	return m
}

// provisionerFile reads a score-k8s provisioner file: a YAML list of provisioners.
func (l *loader) provisionerFile(file string) []*Definition {
	docs, d := l.read(file)
	defer l.done(d)
	var out []*Definition
	for _, doc := range docs {
		doc = d.resolve(doc)
		if doc == nil || doc.Kind != yaml.SequenceNode {
			d.fail(doc, "", "a provisioners file is a YAML list of entries starting with `- uri: template://...`", "expected a list of provisioners, found %s", kindName(doc))
			continue
		}
		for i, c := range doc.Content {
			if p := l.provisioner(d, c, index("", i)); p != nil {
				out = append(out, p)
			}
		}
	}
	return out
}

func (l *loader) provisioner(d *decoder, n *yaml.Node, path string) *Definition {
	n = d.resolve(n)
	all := append(slices.Clone(templateProvFields), "args")
	f, ok := d.fields(n, path, all)
	if !ok {
		return nil
	}
	def := &Definition{File: d.file, Line: n.Line, Provisioner: true}
	def.ID = d.str(f["uri"], join(path, "uri"))
	u, err := url.Parse(def.ID)
	switch {
	case def.ID == "":
		d.fail(n, join(path, "uri"), "add a unique uri such as template://my-provisioners/postgres", "missing uri")
		return nil
	case err != nil || (u.Scheme != "template" && u.Scheme != "cmd"):
		d.fail(f["uri"], join(path, "uri"), "use a template:// uri (cmd:// provisioners are recognised but never run)", "unsupported provisioner uri %q", def.ID)
		return nil
	}
	allowed := templateProvFields
	def.Driver = DriverTemplate
	if u.Scheme == "cmd" {
		allowed = cmdProvFields
		def.Driver = DriverCommand
	}
	for _, k := range sortedKeys(f) {
		if !slices.Contains(allowed, k) {
			d.fail(f[k], join(path, k), "remove it", "field %q is not valid for a %s:// provisioner", k, u.Scheme)
		}
	}
	l.claimID(d, f["uri"], join(path, "uri"), def.ID)
	def.Type = d.str(f["type"], join(path, "type"))
	if def.Type == "" {
		d.fail(n, join(path, "type"), "add the resource type it provisions, e.g. type: postgres", "missing type")
	}
	def.Class = d.str(f["class"], join(path, "class"))
	def.ResID = d.str(f["id"], join(path, "id"))
	def.Description = d.str(f["description"], join(path, "description"))
	def.ExpectedOutputs = d.strList(f["expected_outputs"], join(path, "expected_outputs"))
	def.SupportedParams = d.strList(f["supported_params"], join(path, "supported_params"))
	if def.Driver == DriverTemplate {
		l.templates(d, f, path, def)
	} else {
		d.strList(f["args"], join(path, "args"))
	}
	return def
}
