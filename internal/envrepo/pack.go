package envrepo

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
)

// Objects leave this package in two forms, both written here with zlib's fastest level (a
// commit's objects are mostly tree bytes — hashes that do not compress anyway — and the time
// spent deflating a 10,000-entry directory would otherwise grow with the repo, not the change):
// a pack for the push, and loose objects for the local clone.

func packType(t plumbing.ObjectType) (byte, error) {
	switch t {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		return byte(t), nil
	}
	return 0, fmt.Errorf("cannot pack object type %s", t)
}

// deflater compresses objects one after another with one reused zlib writer (a new flate
// writer costs about a megabyte of allocations).
type deflater struct{ zw *zlib.Writer }

func (d *deflater) deflate(w io.Writer, o plumbing.EncodedObject, header []byte) error {
	if d.zw == nil {
		zw, err := zlib.NewWriterLevel(w, zlib.BestSpeed)
		if err != nil {
			return err
		}
		d.zw = zw
	} else {
		d.zw.Reset(w)
	}
	if len(header) > 0 {
		if _, err := d.zw.Write(header); err != nil {
			return err
		}
	}
	r, err := o.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.Copy(d.zw, r); err != nil {
		return err
	}
	return d.zw.Close()
}

// encodePack writes a version 2 pack of the builder's new objects, undeltified.
func (b *builder) encodePack() ([]byte, error) {
	var buf bytes.Buffer
	var d deflater
	buf.WriteString("PACK")
	_ = binary.Write(&buf, binary.BigEndian, uint32(2))
	_ = binary.Write(&buf, binary.BigEndian, uint32(len(b.new)))
	for _, h := range b.new {
		o, err := b.out.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, err
		}
		t, err := packType(o.Type())
		if err != nil {
			return nil, err
		}
		size := uint64(o.Size())
		c := t<<4 | byte(size&0x0f)
		size >>= 4
		for size != 0 {
			buf.WriteByte(c | 0x80)
			c = byte(size & 0x7f)
			size >>= 7
		}
		buf.WriteByte(c)
		if err := d.deflate(&buf, o, nil); err != nil {
			return nil, err
		}
	}
	sum := sha1.Sum(buf.Bytes())
	buf.Write(sum[:])
	return buf.Bytes(), nil
}

// writeLoose stores the builder's new objects as loose objects under dir (a bare repo).
func (b *builder) writeLoose(dir string) error {
	var d deflater
	for _, h := range b.new {
		hex := h.String()
		path := filepath.Join(dir, "objects", hex[:2], hex[2:])
		if _, err := os.Stat(path); err == nil {
			continue
		}
		o, err := b.out.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), "tmp_obj_")
		if err != nil {
			return err
		}
		header := fmt.Appendf(nil, "%s %d\x00", o.Type(), o.Size())
		err = d.deflate(tmp, o, header)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
			return err
		}
	}
	return nil
}
