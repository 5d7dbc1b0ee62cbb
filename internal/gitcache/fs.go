package gitcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Snapshot is the tree of one fetched commit, read-only, as an fs.FS (with ReadFile, ReadDir
// and Stat), so fs.Glob and fs.WalkDir work on it. Reads go to the cache on disk; a read that
// finds the cache corrupted fetches the commit again and retries once. Submodules are not
// listed; a symlink reads as its target path.
type Snapshot struct {
	Commit string

	cache *Cache
	entry *entry
	src   Source
	root  plumbing.Hash
}

var (
	_ fs.ReadFileFS = (*Snapshot)(nil)
	_ fs.ReadDirFS  = (*Snapshot)(nil)
	_ fs.StatFS     = (*Snapshot)(nil)
)

// refetchTimeout bounds the re-fetch after a corrupted read (fs.FS calls carry no context).
const refetchTimeout = 2 * time.Minute

// read runs f on the commit's root tree under the repo lock, healing a corrupted cache once.
func (s *Snapshot) read(op, name string, f func(root *object.Tree, st storer.EncodedObjectStorer) error) error {
	e := s.entry
	e.mu.Lock()
	defer e.mu.Unlock()
	run := func() error {
		if err := e.open(); err != nil {
			return err
		}
		root, err := object.GetTree(e.repo.Storer, s.root)
		if err != nil {
			return err
		}
		return f(root, e.repo.Storer)
	}
	err := run()
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return pathErr(op, name, err)
	}
	s.cache.log.Warn("gitcache: cache unreadable, fetching afresh", "repo", redact(s.src.URL), "commit", s.Commit, "err", err)
	if rerr := e.reset(); rerr != nil {
		return pathErr(op, name, rerr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), refetchTimeout)
	defer cancel()
	src := s.src
	src.Commit = s.Commit
	if _, ferr := s.cache.fetchLocked(ctx, e, src); ferr != nil {
		return pathErr(op, name, fmt.Errorf("%w (re-fetch after %v)", ferr, err))
	}
	return pathErr(op, name, run())
}

func pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// lookup finds name in root: the root itself for ".".
func lookup(root *object.Tree, name string) (*object.TreeEntry, error) {
	if name == "." {
		return &object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: root.Hash}, nil
	}
	e, err := root.FindEntry(name)
	switch {
	case errors.Is(err, object.ErrEntryNotFound), errors.Is(err, object.ErrDirectoryNotFound), errors.Is(err, object.ErrFileNotFound):
		return nil, fs.ErrNotExist
	case err != nil:
		return nil, err
	case e.Mode == filemode.Submodule:
		return nil, fs.ErrNotExist
	}
	return e, nil
}

func readBlob(st storer.EncodedObjectStorer, h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(st, h)
	if err != nil {
		return nil, err
	}
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != b.Size {
		return nil, fmt.Errorf("blob %s: read %d bytes, want %d", h, len(data), b.Size)
	}
	return data, nil
}

func readDir(st storer.EncodedObjectStorer, h plumbing.Hash) ([]fs.DirEntry, error) {
	t, err := object.GetTree(st, h)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(t.Entries))
	for _, e := range t.Entries {
		if e.Mode == filemode.Submodule {
			continue
		}
		size := int64(0)
		if e.Mode != filemode.Dir {
			if size, err = st.EncodedObjectSize(e.Hash); err != nil {
				return nil, err
			}
		}
		out = append(out, fs.FileInfoToDirEntry(info{name: e.Name, mode: e.Mode, size: size}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// ReadFile returns the content of the file name.
func (s *Snapshot) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, pathErr("readfile", name, fs.ErrInvalid)
	}
	var data []byte
	err := s.read("readfile", name, func(root *object.Tree, st storer.EncodedObjectStorer) error {
		e, err := lookup(root, name)
		if err != nil {
			return err
		}
		if e.Mode == filemode.Dir {
			return fmt.Errorf("%s is a directory: %w", name, fs.ErrInvalid)
		}
		data, err = readBlob(st, e.Hash)
		return err
	})
	return data, err
}

// ReadDir lists the directory name, sorted by file name.
func (s *Snapshot) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, pathErr("readdir", name, fs.ErrInvalid)
	}
	var out []fs.DirEntry
	err := s.read("readdir", name, func(root *object.Tree, st storer.EncodedObjectStorer) error {
		e, err := lookup(root, name)
		if err != nil {
			return err
		}
		if e.Mode != filemode.Dir {
			return fmt.Errorf("%s is not a directory: %w", name, fs.ErrInvalid)
		}
		out, err = readDir(st, e.Hash)
		return err
	})
	return out, err
}

// Stat describes name.
func (s *Snapshot) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, pathErr("stat", name, fs.ErrInvalid)
	}
	var fi fs.FileInfo
	err := s.read("stat", name, func(root *object.Tree, st storer.EncodedObjectStorer) error {
		e, err := lookup(root, name)
		if err != nil {
			return err
		}
		size := int64(0)
		if e.Mode != filemode.Dir {
			if size, err = st.EncodedObjectSize(e.Hash); err != nil {
				return err
			}
		}
		fi = info{name: pathBase(name), mode: e.Mode, size: size}
		return nil
	})
	return fi, err
}

// Open opens name for reading; a directory supports ReadDir.
func (s *Snapshot) Open(name string) (fs.File, error) {
	fi, err := s.Stat(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if fi.IsDir() {
		entries, err := s.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &dirFile{info: fi, entries: entries}, nil
	}
	data, err := s.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &file{info: fi, Reader: bytes.NewReader(data)}, nil
}

func pathBase(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}

type info struct {
	name string
	mode filemode.FileMode
	size int64
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return i.size }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.mode == filemode.Dir }
func (i info) Sys() any           { return nil }
func (i info) Mode() fs.FileMode {
	switch i.mode {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Executable:
		return 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o444
	}
	return 0o444
}

type file struct {
	info fs.FileInfo
	*bytes.Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

type dirFile struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	pos     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: fs.ErrInvalid}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.pos:]
	if n <= 0 {
		d.pos = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.pos += n
	return rest[:n], nil
}
