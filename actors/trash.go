package actors

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// trashSuffix ends the name of a directory moved aside to be deleted.
const trashSuffix = "-delete"

// maxFileName is the longest file name most file systems take (NAME_MAX on Linux).
const maxFileName = 255

// trash deletes partition directories in the background. Deleting a partition's data
// frees every block of its segments (0.3 s per GiB on this project's test machine);
// the partition manager, which every topic creation and metadata change goes through,
// must not wait for that. A directory is first renamed out of the way, which is atomic
// and instant, so its name is free at once for a topic created again under it, and a
// crash leaves at worst a "-delete" directory that the next start removes.
type trash struct {
	log     zerolog.Logger
	pending sync.WaitGroup
}

// discard moves dir aside and deletes it in the background. A dir that does not exist
// is already gone.
func (t *trash) discard(dir, why string) error {
	doomed := doomedName(dir, time.Now())
	if err := os.Rename(dir, doomed); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("move %s aside for deletion: %w", dir, err)
	}
	t.removeInBackground(doomed, dir, why)
	return nil
}

// doomedName is where discard moves dir: its name, a unique stamp and trashSuffix. The
// name loses its first characters where the whole would exceed maxFileName: the
// directory of a topic with the longest name Kafka allows (249 characters) has 251 of
// its own, and a rename to a longer name fails (ENAMETOOLONG), which left a deleted
// topic's data in place and the name's partitions unable to open. Kafka shortens its
// "-delete" names too. The end stays, partition number included, so that the partitions
// of one topic, discarded together, never share a name even if the clock's stamp does.
func doomedName(dir string, now time.Time) string { return asideName(dir, now, trashSuffix) }

// strayName is where a partition directory whose topic the node does not know is kept
// (see partitionManager.strayCheck): out of the way of a topic created again under the
// same name, and, ending in neither a partition number nor trashSuffix, neither opened
// nor deleted by later starts. Kafka renames such a log to "<dir>.<id>-stray".
func strayName(dir string, now time.Time) string { return asideName(dir, now, straySuffix) }

// straySuffix ends the name of a partition directory kept aside as a stray.
const straySuffix = "-stray"

// asideName is dir's name with a unique stamp and suffix, cut short from its start to fit
// maxFileName.
func asideName(dir string, now time.Time, end string) string {
	name := filepath.Base(dir)
	suffix := fmt.Sprintf(".%x%s", now.UnixNano(), end)
	if over := len(name) + len(suffix) - maxFileName; over > 0 {
		name = name[over:]
	}
	return filepath.Join(filepath.Dir(dir), name+suffix)
}

// sweep deletes, in the background, the directories under dataDir that an earlier run
// moved aside and did not finish deleting.
func (t *trash) sweep(dataDir string) {
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		if !os.IsNotExist(err) {
			t.log.Warn().Err(err).Str("dir", dataDir).Msg("list data directory for leftover deletions")
		}
		return
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasSuffix(e.Name(), trashSuffix) {
			path := filepath.Join(dataDir, e.Name())
			t.removeInBackground(path, path, "left over from an earlier run")
		}
	}
}

func (t *trash) removeInBackground(path, was, why string) {
	t.pending.Add(1)
	go func() {
		defer t.pending.Done()
		start := time.Now()
		if err := os.RemoveAll(path); err != nil {
			t.log.Error().Err(err).Str("dir", path).Msg("delete partition data")
			return
		}
		t.log.Info().Str("dir", was).Str("why", why).Dur("took", time.Since(start)).Msg("partition data deleted")
	}()
}

// wait returns once every deletion started so far has finished.
func (t *trash) wait() { t.pending.Wait() }
