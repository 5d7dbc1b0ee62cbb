package envrepo

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Change replaces everything under each Owned path prefix (a folder, with or without a trailing
// slash, or a file) with the Files under it. Files
// outside every Owned prefix are written one by one, leaving their siblings alone. Paths are
// slash-separated and relative to the repo root. It matches render.Output{Files, Owned}.
type Change struct {
	Owned []string
	Files map[string][]byte
}

// node is one path of the edit: a file to write, or a directory whose children are edited.
// replace drops what the base tree holds at this path (an owned prefix).
type node struct {
	children map[string]*node
	blob     *plumbing.Hash
	replace  bool
}

func (n *node) child(name string) *node {
	if n.children == nil {
		n.children = map[string]*node{}
	}
	c, ok := n.children[name]
	if !ok {
		c = &node{}
		n.children[name] = c
	}
	return c
}

// cleanPath checks that p is a plain relative slash path and returns its segments.
func cleanPath(field, p string) ([]string, error) {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || path.Clean(p) != p {
		return nil, fmt.Errorf("%w: %s %q: use a relative path like apps/dev/shop without leading, trailing or doubled slashes", ErrInvalidPath, field, p)
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == "." || s == ".." || s == ".git" || strings.ContainsRune(s, 0) {
			return nil, fmt.Errorf("%w: %s %q: %q is not allowed in a path", ErrInvalidPath, field, p, s)
		}
	}
	return segs, nil
}

// builder writes new objects into out (an in-memory overlay); existing trees are read from base.
type builder struct {
	base storer.EncodedObjectStorer
	out  *memory.Storage
	new  []plumbing.Hash // objects written to out, in write order, deduplicated
	seen map[plumbing.Hash]bool
}

func newBuilder(base storer.EncodedObjectStorer) *builder {
	return &builder{base: base, out: memory.NewStorage(), seen: map[plumbing.Hash]bool{}}
}

func (b *builder) put(o plumbing.EncodedObject) (plumbing.Hash, error) {
	h := o.Hash()
	if b.seen[h] {
		return h, nil
	}
	if _, err := b.out.SetEncodedObject(o); err != nil {
		return h, err
	}
	b.seen[h] = true
	b.new = append(b.new, h)
	return h, nil
}

func (b *builder) blob(content []byte) (plumbing.Hash, error) {
	o := &plumbing.MemoryObject{}
	o.SetType(plumbing.BlobObject)
	o.SetSize(int64(len(content)))
	if _, err := o.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	return b.put(o)
}

// plan turns the changes into an edit tree, writing every file's blob.
func (b *builder) plan(changes []Change) (*node, error) {
	root := &node{}
	for _, ch := range changes {
		owned := append([]string(nil), ch.Owned...)
		sort.Strings(owned)
		for _, p := range owned {
			// A folder may be written with a trailing slash, as render.Output.Owned does.
			segs, err := cleanPath("owned prefix", strings.TrimSuffix(p, "/"))
			if err != nil {
				return nil, err
			}
			n := root
			for _, s := range segs {
				n = n.child(s)
			}
			n.replace = true
		}
		paths := make([]string, 0, len(ch.Files))
		for p := range ch.Files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			segs, err := cleanPath("file", p)
			if err != nil {
				return nil, err
			}
			n := root
			for i, s := range segs {
				if n.blob != nil {
					return nil, fmt.Errorf("%w: file %q is under %q, which is also a file", ErrInvalidPath, p, strings.Join(segs[:i], "/"))
				}
				n = n.child(s)
			}
			if len(n.children) > 0 && !(n.replace && onlyReplaceMarks(n)) {
				return nil, fmt.Errorf("%w: file %q is also a directory of other files", ErrInvalidPath, p)
			}
			h, err := b.blob(ch.Files[p])
			if err != nil {
				return nil, err
			}
			n.blob = &h
		}
	}
	return root, nil
}

// onlyReplaceMarks reports whether n's children are owned prefixes without files.
func onlyReplaceMarks(n *node) bool {
	for _, c := range n.children {
		if c.blob != nil || !onlyReplaceMarks(c) {
			return false
		}
	}
	return true
}

// entryKey orders tree entries the way git does: a directory sorts as if its name ended in '/'.
func entryKey(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// tree applies edit n to the tree existing (ZeroHash: none) and returns the new tree's hash, or
// empty when nothing is left. An existing tree is edited in place (editTree): only the trees on
// edited paths are read and written, every other subtree is kept by its hash. A new or owned
// (replaced) directory is built from the edit alone.
func (b *builder) tree(n *node, existing plumbing.Hash) (plumbing.Hash, bool, error) {
	if !existing.IsZero() && !n.replace {
		return b.editTree(n, existing)
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	entries := make([]object.TreeEntry, 0, len(names))
	for _, name := range names {
		c := n.children[name]
		if c.blob != nil {
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: *c.blob})
			continue
		}
		h, empty, err := b.tree(c, plumbing.ZeroHash)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		if !empty {
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	sort.Slice(entries, func(i, j int) bool { return entryKey(entries[i]) < entryKey(entries[j]) })
	h, err := b.writeTree(entries)
	return h, false, err
}

func (b *builder) writeTree(entries []object.TreeEntry) (plumbing.Hash, error) {
	o := &plumbing.MemoryObject{}
	t := &object.Tree{Entries: entries}
	if err := t.Encode(o); err != nil {
		return plumbing.ZeroHash, err
	}
	return b.put(o)
}

// rootTree applies changes to base (ZeroHash: an empty repo) and returns the new root tree.
func (b *builder) rootTree(base plumbing.Hash, changes []Change) (plumbing.Hash, error) {
	edit, err := b.plan(changes)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	h, empty, err := b.tree(edit, base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if empty {
		return b.writeTree(nil)
	}
	return h, nil
}
