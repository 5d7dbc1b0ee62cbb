// Package gitstore owns what the bot's two on-disk git stores — the app repo caches
// (internal/gitcache) and the env repo clone (internal/envrepo) — need to tell and to mend
// about themselves: whether a failed git operation says anything about the store's content,
// and removing what a write cut short left behind. It touches only the directories it is
// given, and never the network.
package gitstore

import (
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Elsewhere reports whether err comes from outside the store's content: the network, the
// git server, or the machine (an errno such as a full disk or a denied permission). Such an
// error is worth another attempt later, and removing the store and fetching it afresh would
// not mend it (on a full disk it would make things worse). Everything else a git operation
// on the store returns (an object that does not parse, a missing pack, a file of the store
// that is not there) is the store's.
func Elsewhere(err error) bool {
	var urlErr *url.Error
	var opErr *net.OpError
	var httpErr *githttp.Err
	if errors.As(err, &urlErr) || errors.As(err, &opErr) || errors.As(err, &httpErr) {
		return true // a request or a connection, whatever errno it carries
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		// before net.Error: an Errno is a net.Error too, whatever it says
		return errno != syscall.ENOENT && errno != syscall.ENOTDIR
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		// go-git's smart-HTTP client for a 4xx it has no sentinel for
		strings.Contains(err.Error(), "unexpected client error")
}

// DropUnfinishedPacks removes what a pack write cut short (a full disk) leaves in the pack
// folder of the store at gitDir (a bare repo or a .git folder): the temporary pack, and an
// index whose pack was never moved in (go-git writes the index first, possibly only in part,
// and keeps an index that exists when the same pack arrives again). Callers hold the store's
// lock; a data dir has one process.
func DropUnfinishedPacks(gitDir string) {
	dir := filepath.Join(gitDir, "objects", "pack")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	have := make(map[string]bool, len(ents))
	for _, d := range ents {
		have[d.Name()] = true
	}
	for _, d := range ents {
		name := d.Name()
		base, idx := strings.CutSuffix(name, ".idx")
		if strings.HasPrefix(name, "tmp_pack_") || idx && !have[base+".pack"] {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
}
