package actors

import (
	"errors"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// metaSpace records which of the metadata's files is refusing writes for lack of space:
// the Raft log (RaftStorage) or the metadata store (the applier). Either one holds its
// unwritten work and tries it again every metaSpaceRetry, instead of panicking into a
// restart that rebuilds Raft: a rebuilt Raft node campaigns again, and every rebuild cost
// the node its leadership, and with it every consumer group it coordinates. While either
// file is full the proposer refuses new metadata changes at once (ErrMetadataDiskFull)
// rather than queueing them behind writes that cannot happen.
type metaSpace struct {
	raftLog, store atomic.Bool
}

func (m *metaSpace) full() bool { return m.raftLog.Load() || m.store.Load() }

// metaSpaceRetry is how often a write refused for space is tried again.
const metaSpaceRetry = 500 * time.Millisecond

// ErrMetadataDiskFull answers a metadata change while the metadata's disk is full. Kafka
// names a broker's failing disk KAFKA_STORAGE_ERROR; the group coordinator turns that
// into NOT_COORDINATOR for group requests (proposeErrorCode), as Kafka's does.
var ErrMetadataDiskFull = &ProposeError{Code: kerr.KafkaStorageError.Code,
	msg: "the metadata's disk is full: metadata changes are refused until there is space again"}

// isDiskFull reports whether err is the file system refusing a write for lack of space.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// retryAppends and retryApplies wake RaftStorage and the applier to try a write that was
// refused for space again.
type retryAppends struct{}
type retryApplies struct{}
