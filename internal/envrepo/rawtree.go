package envrepo

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// The edit of an existing tree works on its raw encoding ("<mode> <name>\0<20-byte hash>" per
// entry, in git order): one scan finds the edited entries, a second copies the untouched bytes
// and splices the new entries in place. An env directory with 10,000 apps is then a copy and a
// hash, not 10,000 decoded and re-encoded entries.

// rawEntry is one entry of a raw tree: raw[start:end], with name and mode inside it.
type rawEntry struct {
	start, end int
	name       []byte
	dir        bool
	mode       filemode.FileMode
	hash       plumbing.Hash
}

// scanTree calls f for each entry of raw, in order.
func scanTree(raw []byte, f func(e rawEntry)) error {
	for off := 0; off < len(raw); {
		sp := bytes.IndexByte(raw[off:], ' ')
		if sp < 0 {
			return fmt.Errorf("corrupt tree entry at %d", off)
		}
		nul := bytes.IndexByte(raw[off+sp+1:], 0)
		if nul < 0 {
			return fmt.Errorf("corrupt tree entry at %d", off)
		}
		nameStart := off + sp + 1
		nameEnd := nameStart + nul
		end := nameEnd + 1 + 20
		if end > len(raw) {
			return fmt.Errorf("truncated tree entry at %d", off)
		}
		mode, err := strconv.ParseUint(string(raw[off:off+sp]), 8, 32)
		if err != nil {
			return fmt.Errorf("tree entry mode at %d: %w", off, err)
		}
		var h plumbing.Hash
		copy(h[:], raw[nameEnd+1:end])
		fm := filemode.FileMode(mode)
		f(rawEntry{start: off, end: end, name: raw[nameStart:nameEnd], dir: fm == filemode.Dir, mode: fm, hash: h})
		off = end
	}
	return nil
}

// cmpKey compares tree entries in git order: a directory's name sorts as if it ended in '/'.
func cmpKey(a []byte, aDir bool, b []byte, bDir bool) int {
	n := min(len(a), len(b))
	if c := bytes.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	next := func(s []byte, dir bool) int {
		switch {
		case n < len(s):
			return int(s[n])
		case dir:
			return '/'
		}
		return -1
	}
	ca, cb := next(a, aDir), next(b, bDir)
	switch {
	case ca < cb:
		return -1
	case ca > cb:
		return 1
	}
	return 0
}

func encodeEntry(mode filemode.FileMode, name string, h plumbing.Hash) []byte {
	out := strconv.AppendUint(nil, uint64(mode), 8)
	out = append(out, ' ')
	out = append(out, name...)
	out = append(out, 0)
	return append(out, h[:]...)
}

func (b *builder) rawTree(h plumbing.Hash) ([]byte, error) {
	o, err := b.base.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	r, err := o.Reader()
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	defer r.Close()
	raw := make([]byte, 0, o.Size())
	buf := bytes.NewBuffer(raw)
	if _, err := io.Copy(buf, r); err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	return buf.Bytes(), nil
}

// editTree applies edit n to the existing tree, splicing its raw encoding.
func (b *builder) editTree(n *node, existing plumbing.Hash) (plumbing.Hash, bool, error) {
	raw, err := b.rawTree(existing)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	have := make(map[string]rawEntry, len(n.children))
	err = scanTree(raw, func(e rawEntry) {
		if _, ok := n.children[string(e.name)]; ok {
			have[string(e.name)] = e
		}
	})
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("tree %s: %w", existing, err)
	}

	type insert struct {
		name  []byte
		dir   bool
		bytes []byte
	}
	var inserts []insert
	dropped := map[int]bool{}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := n.children[name]
		old, had := have[name]
		var mode filemode.FileMode
		var h plumbing.Hash
		if c.blob != nil {
			mode, h = filemode.Regular, *c.blob
			if had && old.hash == h && old.mode.IsFile() {
				continue // unchanged (an executable bit is kept)
			}
		} else {
			var sub plumbing.Hash
			if had && old.dir {
				sub = old.hash
			}
			nh, empty, err := b.tree(c, sub)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			if empty {
				if had {
					dropped[old.start] = true
				}
				continue
			}
			if had && old.dir && old.hash == nh {
				continue
			}
			mode, h = filemode.Dir, nh
		}
		if had {
			dropped[old.start] = true
		}
		inserts = append(inserts, insert{name: []byte(name), dir: mode == filemode.Dir, bytes: encodeEntry(mode, name, h)})
	}
	if len(inserts) == 0 && len(dropped) == 0 {
		return existing, false, nil
	}
	sort.Slice(inserts, func(i, j int) bool {
		return cmpKey(inserts[i].name, inserts[i].dir, inserts[j].name, inserts[j].dir) < 0
	})
	out := make([]byte, 0, len(raw)+64*len(inserts))
	_ = scanTree(raw, func(e rawEntry) {
		for len(inserts) > 0 && cmpKey(inserts[0].name, inserts[0].dir, e.name, e.dir) < 0 {
			out = append(out, inserts[0].bytes...)
			inserts = inserts[1:]
		}
		if !dropped[e.start] {
			out = append(out, raw[e.start:e.end]...)
		}
	})
	for _, in := range inserts {
		out = append(out, in.bytes...)
	}
	if len(out) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	o := &plumbing.MemoryObject{}
	o.SetType(plumbing.TreeObject)
	o.SetSize(int64(len(out)))
	if _, err := o.Write(out); err != nil {
		return plumbing.ZeroHash, false, err
	}
	h, err := b.put(o)
	return h, false, err
}
