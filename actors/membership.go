package actors

import (
	"fmt"
	"slices"

	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/storage"
)

// checkMembership refuses to start a node whose id is not a member of the Raft group its
// data dir records, as Kafka refuses a node.id other than its meta.properties'. Such a
// node (a typo in node.id, a config copied from another node) could never be elected and
// would wait forever, while its partition manager took every partition assigned to the
// recorded id for a stray and deleted it.
func checkMembership(id uint64, img *metastore.Image, st storage.Storage) error {
	voters, learners := img.ConfState.Voters, img.ConfState.Learners
	if _, cs, err := st.InitialState(); err == nil {
		voters = append(slices.Clone(voters), cs.GetVoters()...)
		learners = append(slices.Clone(learners), cs.GetLearners()...)
	}
	if len(voters)+len(learners) == 0 || slices.Contains(voters, id) || slices.Contains(learners, id) {
		return nil
	}
	slices.Sort(voters)
	return fmt.Errorf("node.id %d is not a member of the cluster this data dir belongs to (voters %v): "+
		"start it with that node's node.id, or give this node a data.dir of its own", id, slices.Compact(voters))
}
