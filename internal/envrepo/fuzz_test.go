package envrepo

import (
	"bytes"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/storage/memory"
)

// FuzzEditTree feeds arbitrary bytes as a tree object fetched from the env repo's server: the
// raw-tree editor must refuse or edit it, never panic, and an edit of a well-formed tree must
// keep every other entry.
func FuzzEditTree(f *testing.F) {
	valid := append(encodeEntry(filemode.Regular, "a", plumbing.NewHash("0123456789012345678901234567890123456789")),
		encodeEntry(filemode.Dir, "b", plumbing.NewHash("89abcdef0123456789abcdef0123456789abcdef"))...)
	f.Add(valid, "c")
	f.Add([]byte("100644 x\x00short"), "x")
	f.Add([]byte("notoctal a\x00aaaaaaaaaaaaaaaaaaaa"), "a")
	f.Fuzz(func(t *testing.T, raw []byte, name string) {
		st := memory.NewStorage()
		o := st.NewEncodedObject()
		o.SetType(plumbing.TreeObject)
		w, _ := o.Writer()
		_, _ = w.Write(raw)
		_ = w.Close()
		h, err := st.SetEncodedObject(o)
		if err != nil {
			t.Skip()
		}
		if _, err := cleanPath("file", name); err != nil || bytes.ContainsAny([]byte(name), "/") {
			name = "new"
		}
		b := newBuilder(st)
		blob, _ := b.blob([]byte("content"))
		edit := &node{children: map[string]*node{name: {blob: &blob}}}
		got, _, err := b.editTree(edit, h)
		if err != nil {
			return
		}
		out, err := b.out.EncodedObject(plumbing.TreeObject, got)
		if err != nil {
			return // unchanged: the entry was already there
		}
		rd, _ := out.Reader()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(rd)
		kept := 0
		_ = scanTree(raw, func(e rawEntry) {
			if string(e.name) != name && bytes.Contains(buf.Bytes(), raw[e.start:e.end]) {
				kept++
			}
		})
		total := 0
		_ = scanTree(raw, func(e rawEntry) {
			if string(e.name) != name {
				total++
			}
		})
		if kept != total {
			t.Fatalf("edit lost entries: kept %d of %d", kept, total)
		}
	})
}
