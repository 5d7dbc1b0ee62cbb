package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"text/template"

	yaml "go.yaml.in/yaml/v3"
)

// File names and places Load looks for.
const (
	// PlatformFile is the platform file at the root of the rules repo.
	PlatformFile = "platform.yaml"
	// DefinitionsDir holds resource and workload definitions (*.yaml, *.yml, any depth).
	DefinitionsDir = "definitions"
	// ProvisionerSuffix marks score-k8s provisioner files, anywhere in the repo.
	ProvisionerSuffix = ".provisioners.yaml"
	// DefaultNamespace is the namespace pattern of an environment that sets none.
	DefaultNamespace = "{app}-{env}"
	// DefaultClass is the class of a resource or definition that sets none.
	DefaultClass = "default"
)

// maxFileSize bounds one rules file; rules are small, and this keeps a hostile repo cheap.
const maxFileSize = 4 << 20

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	typeName   = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$`)
	identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	repoName   = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
)

// Load reads and validates the rules repo rooted at fsys: platform.yaml (optional),
// definitions/**/*.yaml and every *.provisioners.yaml. Every template is parsed once here.
// All problems found are reported together; each is a *FieldError wrapping ErrInvalid that
// names the file, the field (with its line) and the fix.
func Load(fsys fs.FS) (*Rules, error) {
	var platformFound bool
	var defFiles, provFiles []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case strings.HasSuffix(d.Name(), ProvisionerSuffix):
			provFiles = append(provFiles, p)
		case p == PlatformFile:
			platformFound = true
		case strings.HasPrefix(p, DefinitionsDir+"/") && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")):
			defFiles = append(defFiles, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rules repo: %w", err)
	}
	if !platformFound && len(defFiles) == 0 && len(provFiles) == 0 {
		return nil, &FieldError{File: ".", Msg: "no rules found",
			Fix: "add " + PlatformFile + ", definitions/*.yaml or *" + ProvisionerSuffix + " files"}
	}
	// WalkDir visits in lexical order, but make the order an explicit promise.
	slices.Sort(defFiles)
	slices.Sort(provFiles)

	l := &loader{fsys: fsys, funcs: FuncMap(), ids: map[string]string{}}
	r := &Rules{}
	if platformFound {
		r.Platform = l.platform(PlatformFile)
	} else {
		r.Platform = defaultPlatform()
	}
	l.envs = r.Platform.Environments
	for _, f := range defFiles {
		defs, wls := l.definitionFile(f)
		r.Definitions = append(r.Definitions, defs...)
		r.Workloads = append(r.Workloads, wls...)
	}
	for _, f := range provFiles {
		r.Definitions = append(r.Definitions, l.provisionerFile(f)...)
	}
	if len(l.errs) > 0 {
		errs := make([]error, len(l.errs))
		for i, e := range l.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// loader holds what one Load call has seen so far.
type loader struct {
	fsys  fs.FS
	funcs template.FuncMap
	envs  []Environment
	ids   map[string]string // definition id → "file:line" where first seen
	errs  []*FieldError
}

// read returns the file's top-level YAML documents (nil when the file had errors).
func (l *loader) read(file string) ([]*yaml.Node, *decoder) {
	d := &decoder{file: file}
	f, err := l.fsys.Open(file)
	if err != nil {
		l.errs = append(l.errs, &FieldError{File: file, Msg: "cannot read: " + err.Error(), Fix: "check the file permissions"})
		return nil, d
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	f.Close()
	if err != nil {
		l.errs = append(l.errs, &FieldError{File: file, Msg: "cannot read: " + err.Error(), Fix: "check the file"})
		return nil, d
	}
	if len(data) > maxFileSize {
		l.errs = append(l.errs, &FieldError{File: file, Msg: fmt.Sprintf("file larger than %d bytes", maxFileSize), Fix: "split it into several files"})
		return nil, d
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			l.errs = append(l.errs, yamlSyntaxError(file, err))
			return nil, d
		}
		if len(n.Content) == 0 || d.isNull(n.Content[0]) {
			continue // an empty document, e.g. after a trailing "---"
		}
		docs = append(docs, n.Content[0])
	}
	return docs, d
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlSyntaxError(file string, err error) *FieldError {
	e := &FieldError{File: file, Msg: "invalid YAML: " + err.Error(), Fix: "fix the YAML syntax"}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscan(m[1], &e.Line)
		e.Msg = "invalid YAML: " + m[2]
	}
	return e
}

// done adds a file's errors, in line order.
func (l *loader) done(d *decoder) {
	slices.SortStableFunc(d.errs, func(a, b *FieldError) int { return a.Line - b.Line })
	l.errs = append(l.errs, d.errs...)
}

// defaultPlatform is the platform of a rules repo without a platform file.
func defaultPlatform() Platform {
	return Platform{
		Environments: []Environment{
			{Name: "development", Type: "development", Namespace: DefaultNamespace, Reach: ReachAuto},
			{Name: "staging", Type: "staging", Namespace: DefaultNamespace, Reach: ReachPromotion},
			{Name: "production", Type: "production", Namespace: DefaultNamespace, Reach: ReachPromotion},
		},
		EnvRepo: EnvRepo{Branch: "main"},
	}
}

func (l *loader) platform(file string) Platform {
	p := Platform{File: file, EnvRepo: EnvRepo{Branch: "main"}}
	docs, d := l.read(file)
	defer l.done(d)
	if len(docs) == 0 {
		if len(l.errs) == 0 {
			d.fail(nil, "", "declare at least `environments:`", "platform file is empty")
		}
		return p
	}
	if len(docs) > 1 {
		d.fail(docs[1], "", "keep one YAML document in "+file, "more than one document")
	}
	f, ok := d.fields(docs[0], "", []string{"environments", "envRepo", "apps"})
	if !ok {
		return p
	}
	p.Environments = l.environments(d, f["environments"])
	if n := f["envRepo"]; n != nil {
		p.EnvRepo = l.envRepo(d, n)
	}
	if n := f["apps"]; n != nil {
		p.Apps = l.apps(d, n)
	}
	return p
}

func (l *loader) environments(d *decoder, n *yaml.Node) []Environment {
	const path = "environments"
	n = d.resolve(n)
	if d.isNull(n) || n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.fail(n, path, "list the environments in promotion order, e.g. [{name: development}, {name: production}]", "expected a non-empty list of environments, found %s", kindName(n))
		return nil
	}
	var envs []Environment
	seen := map[string]bool{}
	for i, c := range n.Content {
		p := index(path, i)
		f, ok := d.fields(c, p, []string{"name", "type", "namespace", "reach", "autoMerge"})
		if !ok {
			continue
		}
		e := Environment{Name: d.str(f["name"], join(p, "name"))}
		switch {
		case e.Name == "":
			d.fail(c, join(p, "name"), "give the environment a name such as development", "missing environment name")
		case !dnsLabel.MatchString(e.Name) || len(e.Name) > 63:
			d.fail(f["name"], join(p, "name"), "use lowercase letters, digits and '-' (a DNS label)", "invalid environment name %q", e.Name)
		case seen[e.Name]:
			d.fail(f["name"], join(p, "name"), "give each environment a different name", "environment %q is listed twice", e.Name)
		}
		seen[e.Name] = true
		e.Type = e.Name
		if v := f["type"]; v != nil {
			e.Type = d.str(v, join(p, "type"))
			if !dnsLabel.MatchString(e.Type) || len(e.Type) > 63 {
				d.fail(v, join(p, "type"), "use a DNS label such as development, staging, production or preview", "invalid environment type %q", e.Type)
			}
		}
		e.Namespace = DefaultNamespace
		if v := f["namespace"]; v != nil {
			e.Namespace = d.str(v, join(p, "namespace"))
			if err := checkNamespacePattern(e.Namespace); err != "" {
				d.fail(v, join(p, "namespace"), `use a DNS label with {app} and {env}, e.g. "{app}-{env}"`, "invalid namespace pattern %q: %s", e.Namespace, err)
			}
		}
		e.Reach = ReachPromotion
		if i == 0 {
			e.Reach = ReachAuto
		}
		if v := f["reach"]; v != nil {
			e.Reach = d.str(v, join(p, "reach"))
			if e.Reach != ReachAuto && e.Reach != ReachPromotion {
				d.fail(v, join(p, "reach"), "use auto (deploy from the default branch) or promotion (by PR from the previous environment)", "invalid reach %q", e.Reach)
			}
			if i == 0 && e.Reach == ReachPromotion {
				d.fail(v, join(p, "reach"), "use reach: auto for the first environment, or move it down the list", "the first environment has no previous environment to be promoted from")
			}
		}
		if v := f["autoMerge"]; v != nil {
			e.AutoMerge = d.boolean(v, join(p, "autoMerge"))
			if e.AutoMerge && e.Reach != ReachPromotion {
				d.fail(v, join(p, "autoMerge"), "remove autoMerge or set reach: promotion", "autoMerge applies only to environments reached by promotion")
			}
		}
		envs = append(envs, e)
	}
	return envs
}

// checkNamespacePattern returns "" when the pattern expands to a DNS label for simple names.
func checkNamespacePattern(p string) string {
	rest := strings.NewReplacer("{app}", "", "{env}", "").Replace(p)
	if strings.ContainsAny(rest, "{}") {
		return "only {app} and {env} may be used"
	}
	x := strings.NewReplacer("{app}", "a", "{env}", "e").Replace(p)
	if !dnsLabel.MatchString(x) {
		return "it does not expand to a DNS label"
	}
	return ""
}

func (l *loader) envRepo(d *decoder, n *yaml.Node) EnvRepo {
	r := EnvRepo{Branch: "main"}
	f, ok := d.fields(n, "envRepo", []string{"url", "branch", "path"})
	if !ok {
		return r
	}
	if v := f["url"]; v != nil {
		r.URL = d.str(v, "envRepo.url")
		if !validRepoURL(r.URL) {
			d.fail(v, "envRepo.url", "use an http(s):// or ssh:// URL, e.g. https://github.com/acme/env.git", "invalid repository URL %q", r.URL)
		}
	}
	if v := f["branch"]; v != nil {
		r.Branch = d.str(v, "envRepo.branch")
		if r.Branch == "" || strings.ContainsAny(r.Branch, " ~^:?*[\\") || strings.HasPrefix(r.Branch, "-") || strings.Contains(r.Branch, "..") {
			d.fail(v, "envRepo.branch", "use a plain branch name such as main", "invalid branch %q", r.Branch)
		}
	}
	if v := f["path"]; v != nil {
		r.Path = d.str(v, "envRepo.path")
		clean := path.Clean(r.Path)
		if r.Path != "" && (path.IsAbs(r.Path) || clean != strings.TrimSuffix(r.Path, "/") || clean == ".." || strings.HasPrefix(clean, "../")) {
			d.fail(v, "envRepo.path", "use a relative path inside the repo such as clusters/ or leave it empty", "invalid path %q", r.Path)
		}
		if clean == "." {
			r.Path = ""
		} else if r.Path != "" {
			r.Path = clean
		}
	}
	return r
}

func validRepoURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "http", "https", "ssh":
		return true
	}
	return false
}

func (l *loader) apps(d *decoder, n *yaml.Node) []AppMapping {
	n = d.resolve(n)
	if d.isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, "apps", "write a list of {repo, appId, scoreFiles}", "expected a list, found %s", kindName(n))
		return nil
	}
	var out []AppMapping
	seen := map[string]bool{}
	for i, c := range n.Content {
		p := index("apps", i)
		f, ok := d.fields(c, p, []string{"repo", "appId", "scoreFiles"})
		if !ok {
			continue
		}
		a := AppMapping{Repo: d.str(f["repo"], join(p, "repo"))}
		if !repoName.MatchString(a.Repo) {
			d.fail(c, join(p, "repo"), "write the repo as owner/name", "invalid repo %q", a.Repo)
		}
		if seen[strings.ToLower(a.Repo)] {
			d.fail(f["repo"], join(p, "repo"), "merge the two entries", "repo %q is mapped twice", a.Repo)
		}
		seen[strings.ToLower(a.Repo)] = true
		a.AppID = defaultAppID(a.Repo)
		if v := f["appId"]; v != nil {
			a.AppID = d.str(v, join(p, "appId"))
			if !dnsLabel.MatchString(a.AppID) || len(a.AppID) > 63 {
				d.fail(v, join(p, "appId"), "use lowercase letters, digits and '-' (a DNS label)", "invalid app id %q", a.AppID)
			}
		}
		a.ScoreFiles = []string{"score.yaml"}
		if v := f["scoreFiles"]; v != nil {
			a.ScoreFiles = d.strList(v, join(p, "scoreFiles"))
			if len(a.ScoreFiles) == 0 {
				d.fail(v, join(p, "scoreFiles"), "list at least one glob such as score.yaml", "empty list")
			}
			for j, g := range a.ScoreFiles {
				if _, err := path.Match(g, ""); err != nil || g == "" || path.IsAbs(g) {
					d.fail(v, index(join(p, "scoreFiles"), j), "use a relative glob such as services/*/score.yaml", "invalid glob %q", g)
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// defaultAppID derives an app id from "owner/name": the name, lowercased, with anything not
// allowed in a DNS label replaced by '-'.
func defaultAppID(repo string) string {
	_, name, ok := strings.Cut(repo, "/")
	if !ok {
		name = repo
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".git")
	b := []byte(name)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	id := strings.Trim(string(b), "-")
	if len(id) > 63 {
		id = strings.TrimRight(id[:63], "-")
	}
	if id == "" {
		id = "app"
	}
	return id
}
